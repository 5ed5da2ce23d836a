//! Reading whatever a user hands `pki inspect`: certificates, chains, CSRs, CRLs and keys, in
//! PEM or DER, detected automatically, described as data (never showing key material).

use ::time::OffsetDateTime;
use anyhow::{Result, anyhow};
use serde::Serialize;
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::certs::{pem_problem, rfc3339};
use crate::duration::human_left;
use crate::error::PkiError;
use crate::keys::{self, KeyInfo};
use crate::serial::Serial;

/// One object found in the input.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Object {
    /// An X.509 certificate.
    Certificate(Box<CertInfo>),
    /// A certificate signing request (PKCS#10).
    Csr(CsrInfo),
    /// A certificate revocation list.
    Crl(CrlInfo),
    /// A private key (never its material).
    PrivateKey(KeyInfo),
    /// A public key.
    PublicKey(KeyDesc),
}

/// A public key's algorithm and size.
#[derive(Debug, Serialize)]
pub struct KeyDesc {
    /// E.g. "ECDSA P-256", "Ed25519", "RSA".
    pub algorithm: String,
    /// The key size in bits, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<usize>,
}

/// What a certificate says, as `pki inspect --json` prints it.
#[derive(Debug, Serialize)]
pub struct CertInfo {
    /// The subject.
    pub subject: String,
    /// The issuer.
    pub issuer: String,
    /// The serial, upper-case hex.
    pub serial: String,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// Seconds until it expires (negative when expired).
    pub seconds_left: i64,
    /// The same, in words.
    pub time_left: String,
    /// Whether it has expired.
    pub expired: bool,
    /// Whether it is self-signed.
    pub self_signed: bool,
    /// The SANs, each with its type.
    pub sans: Vec<String>,
    /// The public key.
    pub public_key: KeyDesc,
    /// The signature algorithm.
    pub signature_algorithm: String,
    /// Whether it is a CA certificate.
    pub is_ca: bool,
    /// The path length constraint, for a CA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_len: Option<u32>,
    /// Key usages.
    pub key_usage: Vec<String>,
    /// Extended key usages.
    pub ext_key_usage: Vec<String>,
    /// Name constraints, for a CA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_constraints: Option<NameConstraintsInfo>,
    /// Subject key identifier, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_key_id: Option<String>,
    /// Authority key identifier, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_key_id: Option<String>,
    /// SHA-256 of the DER, hex with colons.
    pub sha256_fingerprint: String,
    /// For a chain: whether the next certificate in the input signed this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by_next: Option<bool>,
    /// Whether this is a valid SPIFFE X.509-SVID, and which rules it breaks if not.
    pub svid: SvidInfo,
}

/// Whether a certificate is a valid X.509-SVID (SPIFFE).
#[derive(Debug, Serialize)]
pub struct SvidInfo {
    /// Whether it meets every X.509-SVID rule.
    pub valid: bool,
    /// The SPIFFE ID, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spiffe_id: Option<String>,
    /// The rules it breaks.
    pub problems: Vec<String>,
}

/// The X.509-SVID rules (SPIFFE X509-SVID specification, sections 2-4) for a certificate.
fn svid_check(x: &X509Certificate<'_>, sans: &[String], is_ca: bool) -> SvidInfo {
    let uris: Vec<&str> = sans.iter().filter_map(|s| s.strip_prefix("URI:")).collect();
    let ids: Vec<&str> = uris.iter().copied().filter(|u| u.starts_with("spiffe://")).collect();
    let mut problems = vec![];
    if ids.is_empty() {
        return SvidInfo {
            valid: false,
            spiffe_id: None,
            problems: vec!["no spiffe:// URI SAN: not an X.509-SVID".into()],
        };
    }
    if uris.len() != 1 {
        problems.push(format!("an SVID has exactly one URI SAN; this one has {}", uris.len()));
    }
    if let Err(e) = crate::policy::check_spiffe_id(ids[0], is_ca) {
        problems.push(format!("invalid SPIFFE ID: {e}"));
    }
    match x.key_usage() {
        Ok(Some(ku)) => {
            if !ku.critical {
                problems.push("the key usage extension must be critical".into());
            }
            if is_ca {
                if !ku.value.key_cert_sign() {
                    problems.push("a signing certificate must have keyCertSign".into());
                }
            } else {
                if !ku.value.digital_signature() {
                    problems.push("a leaf SVID must have digitalSignature key usage".into());
                }
                if ku.value.key_cert_sign() || ku.value.crl_sign() {
                    problems.push("a leaf SVID must not have keyCertSign or cRLSign".into());
                }
            }
        }
        _ => problems.push("the key usage extension is missing".into()),
    }
    if !is_ca && matches!(x.basic_constraints(), Ok(Some(bc)) if bc.value.ca) {
        problems.push("a leaf SVID must have CA:FALSE".into());
    }
    SvidInfo { valid: problems.is_empty(), spiffe_id: Some(ids[0].to_string()), problems }
}

/// A CA's name constraints.
#[derive(Debug, Serialize)]
pub struct NameConstraintsInfo {
    /// Whether the extension is critical.
    pub critical: bool,
    /// Permitted subtrees, each with its type.
    pub permitted: Vec<String>,
    /// Excluded subtrees.
    pub excluded: Vec<String>,
}

/// What a CSR asks for.
#[derive(Debug, Serialize)]
pub struct CsrInfo {
    /// The subject.
    pub subject: String,
    /// The public key.
    pub public_key: KeyDesc,
    /// Whether its self-signature verifies.
    pub signature_valid: bool,
    /// The SANs it requests.
    pub requested_sans: Vec<String>,
    /// Whether it asks for CA:TRUE.
    pub requests_ca: bool,
}

/// What a CRL says.
#[derive(Debug, Serialize)]
pub struct CrlInfo {
    /// The issuer.
    pub issuer: String,
    /// thisUpdate (RFC 3339).
    pub this_update: String,
    /// nextUpdate (RFC 3339), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_update: Option<String>,
    /// Whether nextUpdate has passed.
    pub stale: bool,
    /// Time until nextUpdate, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_left: Option<String>,
    /// The CRL number, a JSON number as in `gen-crl --json` (null beyond 128 bits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crl_number: Option<u128>,
    /// How many certificates it lists.
    pub revoked_count: usize,
    /// The listed certificates.
    pub revoked: Vec<RevokedInfo>,
}

/// A listed certificate.
#[derive(Debug, Serialize)]
pub struct RevokedInfo {
    /// Its serial, hex.
    pub serial: String,
    /// When it was revoked (RFC 3339).
    pub revoked_at: String,
    /// Why, if a reason is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn time_of(t: ASN1Time) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn hex_colon(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join(":")
}

pub(crate) fn general_name(g: &GeneralName<'_>) -> String {
    match g {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!("IP:{}", std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3])),
            16 => format!("IP:{}", std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&b[..]).expect("16 bytes"))),
            // Name constraints carry address + mask.
            8 => format!(
                "IP:{}/{}",
                std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]),
                b[4..].iter().map(|m| m.count_ones()).sum::<u32>()
            ),
            32 => format!(
                "IP:{}/{}",
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&b[..16]).expect("16 bytes")),
                b[16..].iter().map(|m| m.count_ones()).sum::<u32>()
            ),
            _ => format!("IP:<{} bytes>", b.len()),
        },
        GeneralName::DirectoryName(n) => format!("DirName:{n}"),
        other => format!("{other:?}"),
    }
}

/// Describes a public key.
pub fn spki_desc(spki: &SubjectPublicKeyInfo<'_>) -> KeyDesc {
    let oid = spki.algorithm.algorithm.to_id_string();
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
    let rsa_bits = || match spki.parsed() {
        Ok(PublicKey::RSA(r)) => Some(r.key_size()),
        _ => None,
    };
    let (algorithm, bits) = keys::algorithm_name(&oid, curve.as_deref(), rsa_bits);
    KeyDesc { algorithm, bits }
}

fn sig_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".into(),
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384".into(),
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512".into(),
        "1.3.101.112" => "Ed25519".into(),
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption".into(),
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption".into(),
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption".into(),
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption (weak)".into(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS".into(),
        o => o.to_string(),
    }
}

/// Describes a certificate (DER) as of `now`.
pub fn describe_cert(der: &[u8], now: OffsetDateTime) -> Result<CertInfo> {
    let (rest, x) = X509Certificate::from_der(der).map_err(|e| anyhow!("malformed certificate ({e})"))?;
    if !rest.is_empty() {
        anyhow::bail!("malformed certificate (trailing data)");
    }
    let not_after = time_of(x.validity().not_after);
    let left = (not_after - now).whole_seconds();
    let ext_err = |e: X509Error| anyhow!("malformed certificate extension ({e})");
    let sans: Vec<String> = x
        .subject_alternative_name()
        .map_err(ext_err)?
        .map(|s| s.value.general_names.iter().map(general_name).collect())
        .unwrap_or_default();
    let bc = x.basic_constraints().map_err(ext_err)?;
    let is_ca = bc.as_ref().is_some_and(|b| b.value.ca);
    let sans_for_svid: Vec<String> = sans.clone();
    let key_usage = x
        .key_usage()
        .map_err(ext_err)?
        .map(|k| {
            let v = k.value;
            [
                (v.digital_signature(), "digitalSignature"),
                (v.non_repudiation(), "contentCommitment"),
                (v.key_encipherment(), "keyEncipherment"),
                (v.data_encipherment(), "dataEncipherment"),
                (v.key_agreement(), "keyAgreement"),
                (v.key_cert_sign(), "keyCertSign"),
                (v.crl_sign(), "cRLSign"),
                (v.encipher_only(), "encipherOnly"),
                (v.decipher_only(), "decipherOnly"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n.to_string())
            .collect()
        })
        .unwrap_or_default();
    let ext_key_usage = x
        .extended_key_usage()
        .map_err(ext_err)?
        .map(|e| {
            let v = e.value;
            let mut out: Vec<String> = [
                (v.any, "anyExtendedKeyUsage"),
                (v.server_auth, "serverAuth"),
                (v.client_auth, "clientAuth"),
                (v.code_signing, "codeSigning"),
                (v.email_protection, "emailProtection"),
                (v.time_stamping, "timeStamping"),
                (v.ocsp_signing, "OCSPSigning"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n.to_string())
            .collect();
            out.extend(v.other.iter().map(|o| o.to_id_string()));
            out
        })
        .unwrap_or_default();
    let name_constraints = x.name_constraints().map_err(ext_err)?.map(|nc| {
        let list = |s: &Option<Vec<GeneralSubtree<'_>>>| {
            s.as_ref().map(|v| v.iter().map(|g| general_name(&g.base)).collect()).unwrap_or_default()
        };
        NameConstraintsInfo {
            critical: nc.critical,
            permitted: list(&nc.value.permitted_subtrees),
            excluded: list(&nc.value.excluded_subtrees),
        }
    });
    let mut ski = None;
    let mut aki = None;
    for ext in x.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(hex_colon(k.0)),
            ParsedExtension::AuthorityKeyIdentifier(a) => aki = a.key_identifier.as_ref().map(|k| hex_colon(k.0)),
            _ => {}
        }
    }
    Ok(CertInfo {
        subject: x.subject().to_string(),
        issuer: x.issuer().to_string(),
        serial: Serial::from_bytes(x.raw_serial()).hex(),
        not_before: rfc3339(time_of(x.validity().not_before)),
        not_after: rfc3339(not_after),
        seconds_left: left,
        time_left: human_left(left),
        expired: left <= 0,
        self_signed: x.subject().as_raw() == x.issuer().as_raw(),
        sans,
        public_key: spki_desc(x.public_key()),
        signature_algorithm: sig_name(&x.signature_algorithm.algorithm.to_id_string()),
        is_ca: bc.as_ref().is_some_and(|b| b.value.ca),
        path_len: bc.and_then(|b| b.value.path_len_constraint),
        key_usage,
        ext_key_usage,
        name_constraints,
        subject_key_id: ski,
        authority_key_id: aki,
        sha256_fingerprint: hex_colon(&<sha2::Sha256 as sha2::Digest>::digest(der)),
        signed_by_next: None,
        svid: svid_check(&x, &sans_for_svid, is_ca),
    })
}

fn describe_csr(der: &[u8]) -> Result<CsrInfo> {
    let (_, csr) = X509CertificationRequest::from_der(der).map_err(|e| anyhow!("malformed CSR ({e})"))?;
    let mut sans = vec![];
    let mut requests_ca = false;
    if let Some(exts) = csr.requested_extensions() {
        for e in exts {
            match e {
                ParsedExtension::SubjectAlternativeName(s) => sans.extend(s.general_names.iter().map(general_name)),
                ParsedExtension::BasicConstraints(b) => requests_ca |= b.ca,
                _ => {}
            }
        }
    }
    Ok(CsrInfo {
        subject: csr.certification_request_info.subject.to_string(),
        public_key: spki_desc(&csr.certification_request_info.subject_pki),
        signature_valid: csr.verify_signature().is_ok(),
        requested_sans: sans,
        requests_ca,
    })
}

fn reason_name(r: &x509_parser::x509::ReasonCode) -> String {
    match r.0 {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unknown",
    }
    .to_string()
}

fn describe_crl(der: &[u8], now: OffsetDateTime) -> Result<CrlInfo> {
    let (rest, crl) = CertificateRevocationList::from_der(der).map_err(|e| anyhow!("malformed CRL ({e})"))?;
    if !rest.is_empty() {
        anyhow::bail!("malformed CRL (trailing data)");
    }
    let next = crl.next_update().map(time_of);
    let revoked: Vec<RevokedInfo> = crl
        .iter_revoked_certificates()
        .map(|r| RevokedInfo {
            serial: Serial::from_bytes(r.raw_serial()).hex(),
            revoked_at: rfc3339(time_of(r.revocation_date)),
            reason: r.reason_code().map(|(_, c)| reason_name(&c)),
        })
        .collect();
    Ok(CrlInfo {
        issuer: crl.issuer().to_string(),
        this_update: rfc3339(time_of(crl.last_update())),
        next_update: next.map(rfc3339),
        stale: next.is_some_and(|n| n <= now),
        time_left: next.map(|n| human_left((n - now).whole_seconds())),
        // A JSON number, as in `gen-crl --json`; a (non-conforming) number over 128 bits is null.
        crl_number: crl.crl_number().and_then(|n| u128::try_from(n).ok()),
        revoked_count: revoked.len(),
        revoked,
    })
}

/// Reads one certificate from a PEM or DER file: (its serial, its DER).
pub fn cert_file(path: &std::path::Path) -> Result<(Serial, Vec<u8>)> {
    let text = crate::limits::read_file(path, crate::limits::MAX_OBJECT, &path.display().to_string())?;
    let der = match ::pem::parse(&text) {
        Ok(p) if p.tag() == "CERTIFICATE" => p.contents().to_vec(),
        _ => text,
    };
    let (_, x) = X509Certificate::from_der(&der).map_err(|_| anyhow!("{}: not a certificate", path.display()))?;
    Ok((Serial::from_bytes(x.raw_serial()), der))
}

/// Detects and describes every object in `input`. Garbage gives `PkiError::Unrecognized`.
pub fn inspect(input: &[u8], source: &str, now: OffsetDateTime) -> Result<Vec<Object>> {
    let looks_pem = input.windows(11).any(|w| w == b"-----BEGIN ");
    let mut objects = vec![];
    if looks_pem {
        let blocks = ::pem::parse_many(input).map_err(|e| anyhow!("{source}: malformed PEM ({})", pem_problem(&e)))?;
        for b in blocks {
            let der = b.contents();
            let legacy_encrypted = b.headers().get("Proc-Type").is_some_and(|v| v.contains("ENCRYPTED"));
            let obj = match b.tag() {
                "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                    Object::Certificate(Box::new(describe_cert(der, now)?))
                }
                "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Object::Csr(describe_csr(der)?),
                "X509 CRL" => Object::Crl(describe_crl(der, now)?),
                "PUBLIC KEY" => {
                    let (_, spki) =
                        SubjectPublicKeyInfo::from_der(der).map_err(|e| anyhow!("malformed public key ({e})"))?;
                    Object::PublicKey(spki_desc(&spki))
                }
                "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "EC PRIVATE KEY" | "RSA PRIVATE KEY" if legacy_encrypted => {
                    Object::PrivateKey(KeyInfo {
                        kind: "private key (legacy PEM encryption)",
                        algorithm: b.tag().trim_end_matches(" PRIVATE KEY").to_string(),
                        bits: None,
                        encrypted: true,
                        encryption: b.headers().get("DEK-Info").map(|s| s.to_string()),
                    })
                }
                t @ ("PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "EC PRIVATE KEY" | "RSA PRIVATE KEY") => {
                    Object::PrivateKey(keys::describe_private_key(t, der)?)
                }
                "EC PARAMETERS" => continue,
                other => anyhow::bail!("{source}: unsupported PEM block '{other}'"),
            };
            objects.push(obj);
        }
    } else if let Some(obj) = detect_der(input, now) {
        objects.push(obj);
    }
    if objects.is_empty() {
        return Err(PkiError::Unrecognized { what: source.to_string() }.into());
    }
    // In a chain, say whether each certificate is signed by the one after it.
    let certs: Vec<usize> = (0..objects.len()).filter(|&i| matches!(objects[i], Object::Certificate(_))).collect();
    if certs.len() > 1 && looks_pem {
        let blocks = ::pem::parse_many(input).unwrap_or_default();
        let ders: Vec<&[u8]> = blocks
            .iter()
            .filter(|b| b.tag().contains("CERTIFICATE") && !b.tag().contains("REQUEST"))
            .map(|b| b.contents())
            .collect();
        for w in 0..ders.len().saturating_sub(1) {
            let ok = match (X509Certificate::from_der(ders[w]), X509Certificate::from_der(ders[w + 1])) {
                (Ok((_, a)), Ok((_, b))) => a.verify_signature(Some(b.public_key())).is_ok(),
                _ => false,
            };
            if let Object::Certificate(c) = &mut objects[certs[w]] {
                c.signed_by_next = Some(ok);
            }
        }
    }
    Ok(objects)
}

fn detect_der(input: &[u8], now: OffsetDateTime) -> Option<Object> {
    if input.first() != Some(&0x30) {
        return None;
    }
    if let Ok((rest, _)) = X509Certificate::from_der(input)
        && rest.is_empty()
    {
        return describe_cert(input, now).ok().map(|c| Object::Certificate(Box::new(c)));
    }
    if let Ok((rest, _)) = CertificateRevocationList::from_der(input)
        && rest.is_empty()
    {
        return describe_crl(input, now).ok().map(Object::Crl);
    }
    if let Ok((rest, _)) = X509CertificationRequest::from_der(input)
        && rest.is_empty()
    {
        return describe_csr(input).ok().map(Object::Csr);
    }
    if let Ok(k) = keys::describe_private_key("PRIVATE KEY", input) {
        return Some(Object::PrivateKey(k));
    }
    if let Ok(k) = keys::describe_private_key("ENCRYPTED PRIVATE KEY", input) {
        return Some(Object::PrivateKey(k));
    }
    if let Ok((rest, spki)) = SubjectPublicKeyInfo::from_der(input)
        && rest.is_empty()
    {
        return Some(Object::PublicKey(spki_desc(&spki)));
    }
    // Traditional (PKCS#1) RSA keys, as `openssl pkey -outform DER` writes them.
    keys::describe_private_key("RSA PRIVATE KEY", input).ok().map(Object::PrivateKey)
}
