//! Trust bundles: the directory's roots as PEM and as a SPIFFE bundle, as `pki export` writes
//! them and `pki serve` serves them.

use anyhow::{Result, anyhow, bail};
use base64::Engine;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::PkiError;
use crate::ca::Ca;
use crate::store::CaDir;

/// The directory's root CAs (self-signed), in name order; an error when there is none.
pub fn roots(dir: &CaDir) -> Result<Vec<Ca>> {
    let cas = dir.ca_names()?.iter().map(|n| Ca::load(dir, n)).collect::<Result<Vec<_>>>()?;
    roots_among(dir, cas)
}

/// The roots among CAs already loaded from `dir`; an error when there is none.
pub fn roots_among(dir: &CaDir, cas: impl IntoIterator<Item = Ca>) -> Result<Vec<Ca>> {
    let roots: Vec<Ca> = cas.into_iter().filter(|c| c.self_signed).collect();
    if roots.is_empty() {
        return Err(PkiError::NoRoot { dir: dir.root.clone() }.into());
    }
    Ok(roots)
}

/// The roots' certificates, PEM, one after another.
pub fn pem(roots: &[Ca]) -> String {
    roots.iter().map(|c| c.pem.as_str()).collect()
}

/// A SPIFFE bundle (SPIFFE Trust Domain and Bundle, section 4): a JWKS with one `x509-svid`
/// key per root, `spiffe_sequence` the ledger's last record number (it grows with every change).
pub fn spiffe(dir: &CaDir, roots: &[Ca]) -> Result<serde_json::Value> {
    let seq = dir.last_ledger_record()?.map(|(r, _)| r.seq).unwrap_or(0);
    let keys: Vec<serde_json::Value> = roots.iter().map(|c| jwk(&c.der)).collect::<Result<_>>()?;
    Ok(serde_json::json!({ "keys": keys, "spiffe_sequence": seq, "spiffe_refresh_hint": 3600 }))
}

/// A SPIFFE bundle key (SPIFFE Trust Domain and Bundle, section 4): the public key as a JWK,
/// with the CA certificate in x5c and use "x509-svid".
pub fn jwk(der: &[u8]) -> Result<serde_json::Value> {
    let (_, x) = X509Certificate::from_der(der).map_err(|e| anyhow!("malformed CA certificate ({e})"))?;
    let spki = x.public_key();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let std = base64::engine::general_purpose::STANDARD;
    let point = spki.subject_public_key.data.as_ref();
    let alg = spki.algorithm.algorithm.to_id_string();
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
    let mut k = match (alg.as_str(), curve.as_deref()) {
        (crate::keys::OID_EC, Some(c)) => {
            let (crv, n) = match c {
                crate::keys::OID_P256 => ("P-256", 32),
                crate::keys::OID_P384 => ("P-384", 48),
                _ => bail!("unsupported curve {c} in a CA certificate"),
            };
            if point.len() != 1 + 2 * n || point[0] != 4 {
                bail!("CA public key is not an uncompressed EC point");
            }
            serde_json::json!({"kty": "EC", "crv": crv, "x": url.encode(&point[1..1 + n]), "y": url.encode(&point[1 + n..])})
        }
        (crate::keys::OID_ED25519, _) => serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": url.encode(point)}),
        (crate::keys::OID_RSA, _) => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(r)) => {
                let trim = |b: &[u8]| b.iter().skip_while(|&&x| x == 0).copied().collect::<Vec<u8>>();
                serde_json::json!({"kty": "RSA", "n": url.encode(trim(r.modulus)), "e": url.encode(trim(r.exponent))})
            }
            _ => bail!("malformed RSA key in a CA certificate"),
        },
        _ => bail!("unsupported key algorithm {alg} in a CA certificate"),
    };
    k["use"] = "x509-svid".into();
    k["x5c"] = serde_json::json!([std.encode(der)]);
    Ok(k)
}
