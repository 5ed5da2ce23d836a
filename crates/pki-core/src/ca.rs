//! The CAs of a directory as the commands need them: certificate facts, the chain up to the
//! root, the default issuing CA, and unlocking a CA key into an rcgen issuer.

use ::time::OffsetDateTime;
use anyhow::{Context as _, Result, anyhow};
use rcgen::{Issuer, KeyPair};
use x509_parser::prelude::*;

use crate::context::Context;
use crate::error::PkiError;
use crate::keys;
use crate::settings::Settings;
use crate::store::CaDir;

/// A CA certificate in the directory, with the facts commands check.
#[derive(Debug, Clone)]
pub struct Ca {
    /// Its name in the directory.
    pub name: String,
    /// Its certificate, PEM.
    pub pem: String,
    /// Its certificate, DER.
    pub der: Vec<u8>,
    /// Its subject as x509-parser prints it.
    pub subject: String,
    /// Its subject, DER.
    pub subject_raw: Vec<u8>,
    /// Its issuer, DER.
    pub issuer_raw: Vec<u8>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Whether it is a root.
    pub self_signed: bool,
    /// The name constraints in its certificate.
    pub constraints: NameRules,
    /// Its serial.
    pub serial: crate::serial::Serial,
    /// Subject key identifier (CRLs carry it as their AKI).
    pub ski: Option<Vec<u8>>,
}

/// A CA certificate's name constraints, in a form requests can be checked against.
#[derive(Debug, Clone, Default)]
pub struct NameRules {
    /// Permitted DNS subtrees.
    pub permit_dns: Vec<String>,
    /// Excluded DNS subtrees.
    pub exclude_dns: Vec<String>,
    /// Permitted IP ranges (address, prefix length).
    pub permit_ip: Vec<(std::net::IpAddr, u8)>,
    /// Excluded IP ranges.
    pub exclude_ip: Vec<(std::net::IpAddr, u8)>,
    /// Permitted URI hosts.
    pub permit_uri: Vec<String>,
    /// Excluded URI hosts.
    pub exclude_uri: Vec<String>,
}

fn dns_within(name: &str, c: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let c = c.to_ascii_lowercase();
    match c.strip_prefix('.') {
        Some(sub) => name.ends_with(&format!(".{sub}")),
        None => c.is_empty() || name == c || name.ends_with(&format!(".{c}")),
    }
}

fn uri_host(uri: &str) -> &str {
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or("");
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    host.split(':').next().unwrap_or(host)
}

impl NameRules {
    /// Checks names the way a verifier will (RFC 5280 4.2.1.10): a name of a type with
    /// permitted subtrees must be inside one; no name may be inside an excluded one.
    pub fn check(&self, dns: &[String], ips: &[std::net::IpAddr], uris: &[String]) -> Result<(), String> {
        use crate::policy::ip_in;
        for d in dns {
            if !self.permit_dns.is_empty() && !self.permit_dns.iter().any(|c| dns_within(d, c)) {
                return Err(format!("DNS name '{d}' is outside the permitted names [{}]", self.permit_dns.join(", ")));
            }
            if let Some(c) = self.exclude_dns.iter().find(|c| dns_within(d, c)) {
                return Err(format!("DNS name '{d}' is inside the excluded name '{c}'"));
            }
        }
        for ip in ips {
            let show =
                |v: &[(std::net::IpAddr, u8)]| v.iter().map(|(a, l)| format!("{a}/{l}")).collect::<Vec<_>>().join(", ");
            if !self.permit_ip.is_empty() && !self.permit_ip.iter().any(|(n, l)| ip_in(ip, n, *l)) {
                return Err(format!("IP address {ip} is outside the permitted ranges [{}]", show(&self.permit_ip)));
            }
            if self.exclude_ip.iter().any(|(n, l)| ip_in(ip, n, *l)) {
                return Err(format!("IP address {ip} is inside an excluded range [{}]", show(&self.exclude_ip)));
            }
        }
        for u in uris {
            let host = uri_host(u);
            if !self.permit_uri.is_empty() && !self.permit_uri.iter().any(|c| host_within(host, c)) {
                return Err(format!("URI '{u}' is outside the permitted hosts [{}]", self.permit_uri.join(", ")));
            }
            if let Some(c) = self.exclude_uri.iter().find(|c| host_within(host, c)) {
                return Err(format!("URI '{u}' is inside the excluded host '{c}'"));
            }
        }
        Ok(())
    }
}

/// URI constraints name a host exactly, or with a leading '.' any host below it.
fn host_within(host: &str, c: &str) -> bool {
    match c.strip_prefix('.') {
        Some(sub) => host.to_ascii_lowercase().ends_with(&format!(".{}", sub.to_ascii_lowercase())),
        None => host.eq_ignore_ascii_case(c),
    }
}

fn name_rules(x: &X509Certificate<'_>) -> NameRules {
    let mut r = NameRules::default();
    let Ok(Some(nc)) = x.name_constraints() else { return r };
    let mut add = |subtrees: &Option<Vec<GeneralSubtree<'_>>>, permit: bool| {
        for g in subtrees.iter().flatten() {
            match &g.base {
                GeneralName::DNSName(d) => {
                    (if permit { &mut r.permit_dns } else { &mut r.exclude_dns }).push(d.to_string())
                }
                GeneralName::URI(u) => {
                    (if permit { &mut r.permit_uri } else { &mut r.exclude_uri }).push(u.to_string())
                }
                GeneralName::IPAddress(b) if b.len() == 8 || b.len() == 32 => {
                    let half = b.len() / 2;
                    let addr = if half == 4 {
                        std::net::IpAddr::from(<[u8; 4]>::try_from(&b[..4]).expect("4 bytes"))
                    } else {
                        std::net::IpAddr::from(<[u8; 16]>::try_from(&b[..16]).expect("16 bytes"))
                    };
                    let len = b[half..].iter().map(|m| m.count_ones()).sum::<u32>() as u8;
                    (if permit { &mut r.permit_ip } else { &mut r.exclude_ip }).push((addr, len));
                }
                _ => {}
            }
        }
    };
    add(&nc.value.permitted_subtrees, true);
    add(&nc.value.excluded_subtrees, false);
    r
}

impl Ca {
    /// Loads a CA of the directory by name.
    pub fn load(dir: &CaDir, name: &str) -> Result<Ca> {
        if !dir.ca_exists(name) {
            return Err(PkiError::UnknownCa { name: name.to_string(), known: dir.ca_names()? }.into());
        }
        let pem_text = dir.read_ca_cert_pem(name)?;
        let block =
            ::pem::parse(&pem_text).with_context(|| format!("{}: not PEM", dir.ca_cert_path(name).display()))?;
        let der = block.contents().to_vec();
        let (_, x) = X509Certificate::from_der(&der)
            .map_err(|e| anyhow!("{}: not a certificate ({e})", dir.ca_cert_path(name).display()))?;
        let to_time = |t: ASN1Time| OffsetDateTime::from_unix_timestamp(t.timestamp()).expect("valid X.509 time");
        Ok(Ca {
            name: name.to_string(),
            subject: x.subject().to_string(),
            subject_raw: x.subject().as_raw().to_vec(),
            issuer_raw: x.issuer().as_raw().to_vec(),
            not_before: to_time(x.validity().not_before),
            not_after: to_time(x.validity().not_after),
            self_signed: x.subject().as_raw() == x.issuer().as_raw(),
            constraints: name_rules(&x),
            serial: crate::serial::Serial::from_bytes(x.raw_serial()),
            ski: x.extensions().iter().find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            }),
            pem: pem_text,
            der,
        })
    }

    /// The chain from this CA up to and including its root.
    pub fn chain(dir: &CaDir, name: &str) -> Result<Vec<Ca>> {
        let all: Vec<Ca> = dir.ca_names()?.iter().map(|n| Ca::load(dir, n)).collect::<Result<_>>()?;
        let mut cur = all.iter().find(|c| c.name == name).cloned().ok_or_else(|| PkiError::UnknownCa {
            name: name.to_string(),
            known: all.iter().map(|c| c.name.clone()).collect(),
        })?;
        let mut chain = vec![];
        while !cur.self_signed {
            let parent = all
                .iter()
                .find(|c| c.subject_raw == cur.issuer_raw && c.name != cur.name)
                .cloned()
                .ok_or_else(|| {
                    anyhow!("CA '{}' has no issuer in this directory (its issuer's certificate is missing)", cur.name)
                })?;
            chain.push(cur);
            if chain.len() > 8 {
                anyhow::bail!("CA chain of '{name}' is longer than 8: the directory's CA certificates form a loop");
            }
            cur = parent;
        }
        chain.push(cur);
        Ok(chain)
    }

    /// Unlocks the CA key (asking for the passphrase only if it is encrypted). A
    /// `passphrase_file` from the CA's settings comes before the usual sources.
    pub fn unlock(
        &self,
        dir: &CaDir,
        ctx: &Context<'_>,
        passphrase_file: Option<&std::path::Path>,
    ) -> Result<Issuer<'static, KeyPair>> {
        let key_path = dir.ca_key_path(&self.name);
        let pem_text = dir.read_ca_key_pem(&self.name)?;
        let what = format!("CA '{}' ({})", self.name, key_path.display());
        let key =
            keys::load_signing_key(&pem_text, &key_path, || ctx.pass.passphrase(&self.name, &what, passphrase_file))?;
        let der = rustls_pki_types::CertificateDer::from(self.der.clone());
        Issuer::from_ca_cert_der(&der, key).map_err(|e| anyhow!("CA '{}': unusable certificate ({e})", self.name))
    }
}

/// Encrypts CA `name`'s key under a new passphrase (`new` is asked once the old one has opened
/// the key; `None`: stored unencrypted), under the
/// directory lock: the key is opened with its current passphrase (the usual sources, the CA's
/// `passphrase_file` first), checked against the CA's certificate, encrypted anew and renamed
/// over the old file; the change is recorded in the ledger, signed with that key. Returns
/// whether the key was encrypted before.
pub fn change_passphrase(
    dir: &CaDir,
    name: &str,
    new: impl FnOnce() -> Result<Option<crate::Secret>>,
    timeout: std::time::Duration,
    ctx: &Context<'_>,
) -> Result<bool> {
    let settings = crate::settings::Settings::parse(
        &dir.read_settings_text()?,
        &dir.path(crate::store::SETTINGS).display().to_string(),
    )?;
    let ca = Ca::load(dir, name)?;
    let lock = dir.lock(timeout)?;
    let was_encrypted = dir.read_ca_key_pem(name)?.contains("BEGIN ENCRYPTED PRIVATE KEY");
    let (der, pair) = ca.open_key(dir, ctx, settings.passphrase_file(name), "changed")?;
    let new = new()?;
    let new_pem = keys::to_pem(&der, new.as_ref())?;
    let cert_der = rustls_pki_types::CertificateDer::from(ca.der.clone());
    let issuer =
        Issuer::from_ca_cert_der(&cert_der, pair).map_err(|e| anyhow!("CA '{name}': unusable certificate ({e})"))?;
    lock.sign_with(crate::store::LedgerSigner::new(name, &ca.der, std::sync::Arc::new(issuer)));
    lock.replace_ca_key(name, &new_pem, ctx.actor, &crate::certs::rfc3339(ctx.now), new.is_some())?;
    Ok(was_encrypted)
}

impl Ca {
    /// The CA's key as unencrypted PKCS#8 DER and as a key pair, opened with its passphrase
    /// (asked only when the key is encrypted) and checked against the CA's certificate; a key
    /// that is not the certificate's is refused, saying nothing was `done`.
    pub fn open_key(
        &self,
        dir: &CaDir,
        ctx: &Context<'_>,
        passphrase_file: Option<&std::path::Path>,
        done: &str,
    ) -> Result<(zeroize::Zeroizing<Vec<u8>>, KeyPair)> {
        let name = &self.name;
        let key_path = dir.ca_key_path(name);
        let what = format!("CA '{name}' ({})", key_path.display());
        let der = keys::private_key_der(&dir.read_ca_key_pem(name)?, &key_path, || {
            ctx.pass.passphrase(name, &what, passphrase_file)
        })?;
        let pair = keys::key_pair(&der, &key_path)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&self.der).map_err(|e| anyhow!("CA '{name}': {e}"))?;
        if rcgen::PublicKeyData::subject_public_key_info(&pair) != cert.public_key().raw {
            anyhow::bail!(
                "{}: this key is not the key of CA '{name}''s certificate; nothing was {done}",
                key_path.display()
            );
        }
        Ok((der, pair))
    }
}

/// Names a CA inside the directory: short, safe as a file name.
pub fn check_ca_name(name: &str) -> Result<(), PkiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(PkiError::BadName {
            kind: "CA name",
            value: name.to_string(),
            why: "use 1-64 letters, digits, '-' or '_' (e.g. issuing)".into(),
        })
    }
}

/// The CA `pki issue` uses: `--ca`, else `[defaults] ca`, else the only intermediate.
pub fn issuing_ca(dir: &CaDir, settings: &Settings, requested: Option<&str>) -> Result<String> {
    if let Some(n) = requested.or(settings.defaults.ca.as_deref()) {
        if !dir.ca_exists(n) {
            return Err(PkiError::UnknownCa { name: n.to_string(), known: dir.ca_names()? }.into());
        }
        return Ok(n.to_string());
    }
    let names = dir.ca_names()?;
    if names.is_empty() {
        return Err(PkiError::NoRoot { dir: dir.root.clone() }.into());
    }
    let intermediates: Vec<String> =
        names.iter().filter(|n| Ca::load(dir, n).map(|c| !c.self_signed).unwrap_or(false)).cloned().collect();
    match intermediates.len() {
        1 => Ok(intermediates[0].clone()),
        0 => Err(anyhow!(
            "no intermediate CA to issue from: create one with `pki create-intermediate issuing` (leaves are not issued from the root)"
        )),
        _ => Err(PkiError::AmbiguousCa { known: intermediates }.into()),
    }
}
