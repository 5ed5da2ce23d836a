//! JSON Web Signatures as ACME uses them (RFC 8555 section 6.2; RFC 7515 flattened JSON
//! serialization only): the protected header's checks, signature verification for ES256,
//! ES384, EdDSA (Ed25519) and RS256 account keys, and RFC 7638 key thumbprints.
//!
//! Verification is ring's (already in the binary for TLS), which covers the four algorithms
//! with one audited implementation; no JOSE crate verifies POST-as-GET's empty payload.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature;
use serde_json::Value;

use super::problem::Problem;

/// The most bytes of a JWS body read (a CSR with many names fits many times over).
pub const MAX_BODY: usize = 64 * 1024;

/// The signature algorithms accepted, as `alg` spells them (directory `meta` lists them too).
pub const ALGORITHMS: &[&str] = &["ES256", "ES384", "EdDSA", "RS256"];

/// An account public key as a JWK, reduced to the members its thumbprint covers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kty")]
pub enum Jwk {
    /// An elliptic-curve key (P-256 or P-384).
    #[serde(rename = "EC")]
    Ec {
        /// `P-256` or `P-384`.
        crv: String,
        /// The x coordinate, base64url.
        x: String,
        /// The y coordinate, base64url.
        y: String,
    },
    /// An Edwards-curve key (Ed25519 only).
    #[serde(rename = "OKP")]
    Okp {
        /// `Ed25519`.
        crv: String,
        /// The public key, base64url.
        x: String,
    },
    /// An RSA key.
    #[serde(rename = "RSA")]
    Rsa {
        /// The modulus, base64url.
        n: String,
        /// The exponent, base64url.
        e: String,
    },
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, Problem> {
    B64.decode(s).map_err(|_| Problem::malformed(format!("{what} is not base64url without padding")))
}

impl Jwk {
    /// Reads a JWK from the protected header; refuses other key types and curves.
    pub fn from_value(v: &Value) -> Result<Jwk, Problem> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let bad = |m: String| Problem::new("badPublicKey", m);
        let jwk = match v.get("kty").and_then(Value::as_str) {
            Some("EC") => match (s("crv"), s("x"), s("y")) {
                (Some(crv), Some(x), Some(y)) if crv == "P-256" || crv == "P-384" => Jwk::Ec { crv, x, y },
                (Some(crv), _, _) if crv != "P-256" && crv != "P-384" => {
                    return Err(bad(format!("EC curve '{crv}' is not accepted: P-256 or P-384")));
                }
                _ => return Err(bad("an EC JWK needs crv, x and y".into())),
            },
            Some("OKP") => match (s("crv"), s("x")) {
                (Some(crv), Some(x)) if crv == "Ed25519" => Jwk::Okp { crv, x },
                _ => return Err(bad("an OKP JWK must be Ed25519 with x".into())),
            },
            Some("RSA") => match (s("n"), s("e")) {
                (Some(n), Some(e)) => Jwk::Rsa { n, e },
                _ => return Err(bad("an RSA JWK needs n and e".into())),
            },
            Some(k) => return Err(bad(format!("key type '{k}' is not accepted: EC, OKP (Ed25519) or RSA"))),
            None => return Err(Problem::malformed("the jwk has no kty".into())),
        };
        // Decoded once here so a key that cannot verify anything is refused at the door.
        jwk.public_bytes()?;
        Ok(jwk)
    }

    /// RFC 7638: SHA-256 of the required members in lexicographic order, no spaces, base64url.
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            Jwk::Ec { crv, x, y } => format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#),
            Jwk::Okp { crv, x } => format!(r#"{{"crv":"{crv}","kty":"OKP","x":"{x}"}}"#),
            Jwk::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        };
        B64.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()))
    }

    /// The key as ring takes it: an uncompressed point, the raw Ed25519 key, or (n, e).
    fn public_bytes(&self) -> Result<(Vec<u8>, Vec<u8>), Problem> {
        let bad = |m: &str| Problem::new("badPublicKey", m.to_string());
        match self {
            Jwk::Ec { crv, x, y } => {
                let len = if crv == "P-256" { 32 } else { 48 };
                let (x, y) = (b64(x, "jwk x")?, b64(y, "jwk y")?);
                if x.len() != len || y.len() != len {
                    return Err(bad("EC coordinates have the wrong length for the curve"));
                }
                let mut point = vec![4u8];
                point.extend(x);
                point.extend(y);
                Ok((point, vec![]))
            }
            Jwk::Okp { x, .. } => {
                let x = b64(x, "jwk x")?;
                if x.len() != 32 {
                    return Err(bad("an Ed25519 key is 32 bytes"));
                }
                Ok((x, vec![]))
            }
            Jwk::Rsa { n, e } => {
                let (n, e) = (b64(n, "jwk n")?, b64(e, "jwk e")?);
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if !(2048..=8192).contains(&bits) {
                    return Err(bad("an RSA account key is 2048 to 8192 bits"));
                }
                Ok((n, e))
            }
        }
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Jwk::Ec { crv, .. } if crv == "P-256" => "ES256",
            Jwk::Ec { .. } => "ES384",
            Jwk::Okp { .. } => "EdDSA",
            Jwk::Rsa { .. } => "RS256",
        }
    }

    /// Verifies `sig` over `msg` with this key under `alg` (which must be this key's).
    pub fn verify(&self, alg: &str, msg: &[u8], sig: &[u8]) -> Result<(), Problem> {
        if alg != self.algorithm() {
            return Err(Problem::new(
                "badSignatureAlgorithm",
                format!("alg {alg} does not go with this key (it signs with {})", self.algorithm()),
            ));
        }
        let (a, b) = self.public_bytes()?;
        let ok = match self {
            Jwk::Ec { crv, .. } => {
                let algo = if crv == "P-256" {
                    &signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED
                };
                signature::UnparsedPublicKey::new(algo, &a).verify(msg, sig).is_ok()
            }
            Jwk::Okp { .. } => signature::UnparsedPublicKey::new(&signature::ED25519, &a).verify(msg, sig).is_ok(),
            Jwk::Rsa { .. } => signature::RsaPublicKeyComponents { n: &a, e: &b }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok(),
        };
        if ok { Ok(()) } else { Err(Problem::malformed("the JWS signature does not verify".into())) }
    }

    /// The JWK of a certificate's or CSR's SubjectPublicKeyInfo, if it is a kind ACME accounts
    /// use (to compare with an account key: finalize and revokeCert).
    pub fn from_spki(spki_der: &[u8]) -> Option<Jwk> {
        use x509_parser::prelude::FromDer;
        use x509_parser::public_key::PublicKey;
        let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der).ok()?;
        match spki.parsed().ok()? {
            PublicKey::EC(p) => {
                let d = p.data();
                let len = (d.len().checked_sub(1)?) / 2;
                let crv = match len {
                    32 => "P-256",
                    48 => "P-384",
                    _ => return None,
                };
                (d.first() == Some(&4)).then(|| Jwk::Ec {
                    crv: crv.into(),
                    x: B64.encode(&d[1..1 + len]),
                    y: B64.encode(&d[1 + len..]),
                })
            }
            PublicKey::RSA(r) => {
                let trim = |b: &[u8]| b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>();
                Some(Jwk::Rsa { n: B64.encode(trim(r.modulus)), e: B64.encode(trim(r.exponent)) })
            }
            _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => {
                Some(Jwk::Okp { crv: "Ed25519".into(), x: B64.encode(spki.subject_public_key.data.as_ref()) })
            }
            _ => None,
        }
    }
}

/// Who signed: a new key (`jwk`: newAccount, revokeCert by certificate key) or an account
/// (`kid`: its URL).
#[derive(Debug, Clone)]
pub enum Signer {
    /// The key itself.
    Jwk(Jwk),
    /// An account URL.
    Kid(String),
}

/// A JWS whose header passed the checks but whose signature is not yet verified (a `kid`
/// names an account whose key must first be looked up).
#[derive(Debug)]
pub struct Parsed {
    /// `alg`.
    pub alg: String,
    /// `nonce`.
    pub nonce: String,
    /// `url`.
    pub url: String,
    /// `jwk` or `kid`.
    pub signer: Signer,
    /// The decoded payload; empty for POST-as-GET.
    pub payload: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Parsed {
    /// Reads a flattened JWS (RFC 7515 section 7.2.2) and checks its protected header (RFC 8555
    /// section 6.2): an accepted `alg`, a `nonce`, a `url`, exactly one of `jwk` and `kid`, no
    /// unprotected header.
    pub fn parse(body: &[u8]) -> Result<Parsed, Problem> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| Problem::malformed(format!("the body is not JSON: {e}")))?;
        Parsed::parse_value(&v, true)
    }

    /// The inner JWS of a keyChange (section 7.3.5): a `jwk`, no `nonce`.
    pub fn parse_inner(v: &Value) -> Result<Parsed, Problem> {
        let p = Parsed::parse_value(v, false)?;
        if !matches!(p.signer, Signer::Jwk(_)) {
            return Err(Problem::malformed("the inner JWS of keyChange is signed with jwk (the new key)".into()));
        }
        Ok(p)
    }

    fn parse_value(v: &Value, outer: bool) -> Result<Parsed, Problem> {
        let obj = v.as_object().ok_or_else(|| Problem::malformed("the body is not a JSON object".into()))?;
        if obj.contains_key("signatures") {
            return Err(Problem::malformed("use the flattened JWS serialization, not the general one".into()));
        }
        if obj.contains_key("header") {
            return Err(Problem::malformed("a JWS for ACME has no unprotected header".into()));
        }
        let field = |k: &str| {
            obj.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| Problem::malformed(format!("the JWS has no \"{k}\" string")))
        };
        let (protected_b64, payload_b64, sig_b64) = (field("protected")?, field("payload")?, field("signature")?);
        let header: Value = serde_json::from_slice(&b64(protected_b64, "protected")?)
            .map_err(|_| Problem::malformed("the protected header is not JSON".into()))?;
        let h = |k: &str| header.get(k).and_then(Value::as_str);
        let alg = h("alg").ok_or_else(|| Problem::malformed("the protected header has no alg".into()))?;
        if !ALGORITHMS.contains(&alg) {
            return Err(Problem::new(
                "badSignatureAlgorithm",
                format!("alg '{alg}' is not accepted: {}", ALGORITHMS.join(", ")),
            )
            .with_algorithms());
        }
        let nonce = match (h("nonce"), outer) {
            (Some(n), true) => n,
            (None, true) => return Err(Problem::new("badNonce", "the protected header has no nonce".into())),
            (None, false) => "",
            (Some(_), false) => return Err(Problem::malformed("the inner JWS of keyChange has no nonce".into())),
        };
        let url = h("url").ok_or_else(|| Problem::unauthorized("the protected header has no url".into()))?;
        let signer = match (header.get("jwk"), h("kid")) {
            (Some(j), None) => Signer::Jwk(Jwk::from_value(j)?),
            (None, Some(k)) => Signer::Kid(k.to_string()),
            _ => return Err(Problem::malformed("the protected header needs exactly one of jwk and kid".into())),
        };
        let mut signing_input = Vec::with_capacity(protected_b64.len() + 1 + payload_b64.len());
        signing_input.extend_from_slice(protected_b64.as_bytes());
        signing_input.push(b'.');
        signing_input.extend_from_slice(payload_b64.as_bytes());
        Ok(Parsed {
            alg: alg.to_string(),
            nonce: nonce.to_string(),
            url: url.to_string(),
            signer,
            payload: b64(payload_b64, "payload")?,
            signing_input,
            signature: b64(sig_b64, "signature")?,
        })
    }

    /// Verifies the signature with `key`.
    pub fn verify(&self, key: &Jwk) -> Result<(), Problem> {
        key.verify(&self.alg, &self.signing_input, &self.signature)
    }

    /// The payload as a JSON object (`{}` stands for an empty object); POST-as-GET is refused
    /// here: use [`Parsed::is_post_as_get`] first where it is allowed.
    pub fn json(&self) -> Result<Value, Problem> {
        let v: Value = serde_json::from_slice(&self.payload)
            .map_err(|e| Problem::malformed(format!("the payload is not JSON: {e}")))?;
        if !v.is_object() {
            return Err(Problem::malformed("the payload is not a JSON object".into()));
        }
        Ok(v)
    }

    /// POST-as-GET: an empty payload (RFC 8555 section 6.3).
    pub fn is_post_as_get(&self) -> bool {
        self.payload.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 section 3.1.
        let jwk = Jwk::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            e: "AQAB".into(),
        };
        assert_eq!(jwk.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn headers_are_checked() {
        let body = |h: &str| {
            serde_json::json!({"protected": B64.encode(h), "payload": "", "signature": "AA"}).to_string().into_bytes()
        };
        let e = Parsed::parse(&body(r#"{"alg":"none","nonce":"n","url":"u","kid":"k"}"#)).unwrap_err();
        assert_eq!(e.kind, "badSignatureAlgorithm");
        let e = Parsed::parse(&body(r#"{"alg":"HS256","nonce":"n","url":"u","kid":"k"}"#)).unwrap_err();
        assert_eq!(e.kind, "badSignatureAlgorithm");
        let e = Parsed::parse(&body(r#"{"alg":"ES256","url":"u","kid":"k"}"#)).unwrap_err();
        assert_eq!(e.kind, "badNonce");
        let e = Parsed::parse(&body(r#"{"alg":"ES256","nonce":"n","url":"u"}"#)).unwrap_err();
        assert_eq!(e.kind, "malformed");
        let e = Parsed::parse(&body(r#"{"alg":"ES256","nonce":"n","url":"u","kid":"k","jwk":{}}"#)).unwrap_err();
        assert_eq!(e.kind, "malformed");
        let p = Parsed::parse(&body(r#"{"alg":"ES256","nonce":"n","url":"u","kid":"k"}"#)).unwrap();
        assert!(p.is_post_as_get());
        assert!(Parsed::parse(b"[]").is_err());
    }
}
