//! The names of a request (flags, batch lines, CSRs) checked and normalised, and what a CSR or
//! a public key brings with it.

use std::net::IpAddr;

use anyhow::{Context as _, Result, anyhow, bail};
use x509_parser::prelude::*;

use super::Spec;
use crate::error::PkiError;
use crate::{certs, inspect};

/// Names from a request, checked and normalised.
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// The common name asked for, if any.
    pub cn: Option<String>,
    /// DNS names, lower-case, without a trailing dot.
    pub dns: Vec<String>,
    /// IP addresses.
    pub ips: Vec<IpAddr>,
    /// URIs (SPIFFE IDs among them).
    pub uris: Vec<String>,
}

pub(super) fn parse_names(spec: &Spec) -> Result<Names> {
    let mut n = Names { cn: spec.cn.clone(), ..Default::default() };
    for d in &spec.dns {
        add_dns(&mut n, d)?;
    }
    for i in &spec.ip {
        let ip: IpAddr = i.trim().parse().map_err(|_| PkiError::BadName {
            kind: "--ip address",
            value: i.clone(),
            why: "expected an IPv4 or IPv6 address such as 10.0.0.7".into(),
        })?;
        // ::ffff:10.0.0.7 is 10.0.0.7 to every stack: decided and written as the IPv4 address,
        // so no allowed or excluded IPv4 range can be stepped around by spelling it in IPv6.
        let ip = ip.to_canonical();
        if !n.ips.contains(&ip) {
            n.ips.push(ip);
        }
    }
    for u in &spec.uri {
        add_uri(&mut n, u)?;
    }
    if let Some(cn) = &n.cn
        && (cn.trim().is_empty() || cn.chars().count() > 64 || cn.chars().any(char::is_control))
    {
        return Err(PkiError::BadName {
            kind: "common name",
            value: cn.clone(),
            why: "--cn takes 1-64 printable characters".into(),
        }
        .into());
    }
    Ok(n)
}

fn add_dns(n: &mut Names, d: &str) -> Result<()> {
    let name = d.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<IpAddr>().is_ok() {
        return Err(PkiError::BadName {
            kind: "--dns name",
            value: d.to_string(),
            why: "that is an IP address: give it with --ip".into(),
        }
        .into());
    }
    certs::check_dns_name(&name, true).map_err(|why| PkiError::BadName {
        kind: "--dns name",
        value: d.to_string(),
        why,
    })?;
    if !n.dns.contains(&name) {
        n.dns.push(name);
    }
    Ok(())
}

fn add_uri(n: &mut Names, u: &str) -> Result<()> {
    let bad = |why: String| PkiError::BadName { kind: "--uri", value: u.to_string(), why };
    certs::check_uri(u).map_err(bad)?;
    let u = certs::canonical_uri(u).map_err(bad)?;
    if !n.uris.contains(&u) {
        n.uris.push(u);
    }
    Ok(())
}

/// A CN alone becomes a SAN when it is a name a client can check (what step does); at least
/// one SAN is required.
pub(super) fn complete_names(n: &mut Names) -> Result<()> {
    if n.dns.is_empty()
        && n.ips.is_empty()
        && n.uris.is_empty()
        && let Some(cn) = &n.cn
    {
        {
            if let Ok(ip) = cn.parse::<IpAddr>() {
                n.ips.push(ip);
            } else if cn.contains('.') && certs::check_dns_name(&cn.to_ascii_lowercase(), true).is_ok() {
                n.dns.push(cn.to_ascii_lowercase());
            }
        }
    }
    if n.dns.is_empty() && n.ips.is_empty() && n.uris.is_empty() {
        return Err(PkiError::NoSan.into());
    }
    Ok(())
}

/// The profile key type of a public key: p256, p384, ed25519 or rsa (2048 bits or more).
pub fn key_type_of_spki(spki_der: &[u8]) -> Result<String> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).map_err(|e| anyhow!("malformed public key ({e})"))?;
    let desc = inspect::spki_desc(&spki);
    Ok(match (desc.algorithm.as_str(), desc.bits) {
        ("ECDSA P-256", _) => "p256".into(),
        ("ECDSA P-384", _) => "p384".into(),
        ("Ed25519", _) => "ed25519".into(),
        ("RSA", Some(b)) if b >= 2048 => "rsa".into(),
        ("RSA", b) => bail!("RSA key of {} bits: at least 2048 bits are required", b.unwrap_or(0)),
        (other, _) => bail!("unsupported key algorithm {other}: use P-256, P-384, Ed25519 or RSA 2048+"),
    })
}

pub(crate) struct CsrContent {
    pub(super) names: Names,
    pub(super) spki_der: Vec<u8>,
    pub(super) key_type: String,
    pub(super) ekus: Option<Vec<String>>,
}

/// Reads and checks a CSR: its signature must verify; CA:TRUE, signing key usages and unknown
/// extensions are refused rather than copied; only its names, key and usages are taken.
/// The CSR's bytes come from `spec.csr_bytes` when the caller has them (standard input, a
/// request body), else from the file `spec.csr` names (at most 1 MiB is read).
pub(super) fn read_csr(path: &str, given: Option<&[u8]>) -> Result<CsrContent> {
    if let Some(b) = given {
        return parse_csr(b, path);
    }
    if path == "-" {
        bail!("cannot read the CSR from standard input: the caller passes its bytes");
    }
    let bytes = crate::limits::read_file(path.as_ref(), crate::limits::MAX_OBJECT, &format!("CSR {path}"))?;
    parse_csr(&bytes, path)
}

/// A CSR's names and public key (its SubjectPublicKeyInfo, DER), after every check issuance
/// makes of a CSR (signature, CA:TRUE, usages): what a server compares with what it authorized
/// before issuing from it. `what` names the source in messages.
pub fn csr_names(bytes: &[u8], what: &str) -> Result<(Names, Vec<u8>)> {
    let c = parse_csr(bytes, what)?;
    Ok((c.names, c.spki_der))
}

/// The checks of [`read_csr`] on bytes already read; `path` names the source in messages.
pub(crate) fn parse_csr(bytes: &[u8], path: &str) -> Result<CsrContent> {
    let der = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let p =
            ::pem::parse(bytes).map_err(|e| anyhow!("{path}: malformed PEM ({})", crate::certs::pem_problem(&e)))?;
        if !p.tag().contains("CERTIFICATE REQUEST") {
            bail!("{path}: a '{}' PEM block, not a CERTIFICATE REQUEST", p.tag());
        }
        p.contents().to_vec()
    } else {
        bytes.to_vec()
    };
    let (rest, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|_| anyhow!("{path}: not a CSR (PKCS#10) in PEM or DER form"))?;
    if !rest.is_empty() {
        bail!("{path}: trailing data after the CSR");
    }
    csr.verify_signature()
        .map_err(|_| anyhow!("{path}: the CSR's signature does not verify: it was altered or not signed by its key"))?;
    let info = &csr.certification_request_info;
    let spki_der = info.subject_pki.raw.to_vec();
    let key_type = key_type_of_spki(&spki_der).with_context(|| path.to_string())?;
    let mut names = Names {
        cn: info.subject.iter_common_name().next().and_then(|c| c.as_str().ok()).map(str::to_string),
        ..Default::default()
    };
    let mut ekus = None;
    for attr in csr.certification_request_info.iter_attributes() {
        if let ParsedCriAttribute::ExtensionRequest(req) = attr.parsed_attribute() {
            for ext in &req.extensions {
                match ext.parsed_extension() {
                    ParsedExtension::SubjectAlternativeName(san) => {
                        for g in &san.general_names {
                            match g {
                                GeneralName::DNSName(d) => add_dns(&mut names, d)?,
                                GeneralName::URI(u) => add_uri(&mut names, u)?,
                                GeneralName::IPAddress(b) if b.len() == 4 || b.len() == 16 => {
                                    let ip = if b.len() == 4 {
                                        IpAddr::from(<[u8; 4]>::try_from(&b[..]).expect("4 bytes"))
                                    } else {
                                        IpAddr::from(<[u8; 16]>::try_from(&b[..]).expect("16 bytes")).to_canonical()
                                    };
                                    if !names.ips.contains(&ip) {
                                        names.ips.push(ip);
                                    }
                                }
                                other => bail!("{path}: the CSR asks for a {other:?} name, which pki does not issue"),
                            }
                        }
                    }
                    ParsedExtension::BasicConstraints(bc) if bc.ca => {
                        bail!(
                            "{path}: the CSR asks for CA:TRUE; pki issues CA certificates only with `pki create-intermediate`"
                        )
                    }
                    ParsedExtension::BasicConstraints(_) => {}
                    ParsedExtension::KeyUsage(ku) => {
                        if ku.key_cert_sign() || ku.crl_sign() {
                            bail!("{path}: the CSR asks for keyCertSign/cRLSign key usage, which only CAs have");
                        }
                        if ku.non_repudiation() || ku.data_encipherment() || ku.encipher_only() || ku.decipher_only() {
                            bail!(
                                "{path}: the CSR asks for key usages outside a TLS leaf's (digitalSignature, keyEncipherment, keyAgreement)"
                            );
                        }
                    }
                    ParsedExtension::ExtendedKeyUsage(e) => {
                        let mut v = vec![];
                        for (on, n) in [
                            (e.server_auth, "serverAuth"),
                            (e.client_auth, "clientAuth"),
                            (e.code_signing, "codeSigning"),
                            (e.email_protection, "emailProtection"),
                            (e.time_stamping, "timeStamping"),
                            (e.ocsp_signing, "OCSPSigning"),
                        ] {
                            if on {
                                v.push(n.to_string());
                            }
                        }
                        if e.any || !e.other.is_empty() {
                            bail!(
                                "{path}: the CSR asks for an extended key usage pki does not grant (anyExtendedKeyUsage or a private OID)"
                            );
                        }
                        ekus = Some(v);
                    }
                    ParsedExtension::SubjectKeyIdentifier(_) => {}
                    _ => bail!(
                        "{path}: the CSR asks for extension {}, which the profile does not allow",
                        ext.oid.to_id_string()
                    ),
                }
            }
        }
    }
    Ok(CsrContent { names, spki_der, key_type, ekus })
}
