//! The CAs of a directory as the commands need them: certificate facts, the chain up to the
//! root, the default issuing CA, and unlocking a CA key into an rcgen issuer.

use ::time::OffsetDateTime;
use anyhow::{Context, Result, anyhow};
use rcgen::{Issuer, KeyPair};
use x509_parser::prelude::*;

use crate::ctx::Ctx;
use crate::exit::PkiError;
use crate::keys;
use crate::settings::Settings;
use crate::store::CaDir;

/// A CA certificate in the directory, with the facts commands check.
#[derive(Debug, Clone)]
pub struct Ca {
    pub name: String,
    pub pem: String,
    pub der: Vec<u8>,
    pub subject: String,
    pub subject_raw: Vec<u8>,
    pub issuer_raw: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub self_signed: bool,
}

impl Ca {
    pub fn load(dir: &CaDir, name: &str) -> Result<Ca> {
        if !dir.ca_exists(name) {
            return Err(PkiError::UnknownCa {
                name: name.to_string(),
                known: dir.ca_names()?,
            }
            .into());
        }
        let pem_text = dir.read_ca_cert_pem(name)?;
        let block = ::pem::parse(&pem_text)
            .with_context(|| format!("{}: not PEM", dir.ca_cert_path(name).display()))?;
        let der = block.contents().to_vec();
        let (_, x) = X509Certificate::from_der(&der).map_err(|e| {
            anyhow!(
                "{}: not a certificate ({e})",
                dir.ca_cert_path(name).display()
            )
        })?;
        let to_time = |t: ASN1Time| {
            OffsetDateTime::from_unix_timestamp(t.timestamp()).expect("valid X.509 time")
        };
        Ok(Ca {
            name: name.to_string(),
            subject: x.subject().to_string(),
            subject_raw: x.subject().as_raw().to_vec(),
            issuer_raw: x.issuer().as_raw().to_vec(),
            not_before: to_time(x.validity().not_before),
            not_after: to_time(x.validity().not_after),
            self_signed: x.subject().as_raw() == x.issuer().as_raw(),
            pem: pem_text,
            der,
        })
    }

    /// The chain from this CA up to and including its root.
    pub fn chain(dir: &CaDir, name: &str) -> Result<Vec<Ca>> {
        let all: Vec<Ca> = dir
            .ca_names()?
            .iter()
            .map(|n| Ca::load(dir, n))
            .collect::<Result<_>>()?;
        let mut cur = all
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .ok_or_else(|| PkiError::UnknownCa {
                name: name.to_string(),
                known: all.iter().map(|c| c.name.clone()).collect(),
            })?;
        let mut chain = vec![];
        while !cur.self_signed {
            let parent = all
                .iter()
                .find(|c| c.subject_raw == cur.issuer_raw && c.name != cur.name)
                .cloned()
                .ok_or_else(|| anyhow!("CA '{}' has no issuer in this directory (its issuer's certificate is missing)", cur.name))?;
            chain.push(cur);
            if chain.len() > 8 {
                anyhow::bail!(
                    "CA chain of '{name}' is longer than 8: the directory's CA certificates form a loop"
                );
            }
            cur = parent;
        }
        chain.push(cur);
        Ok(chain)
    }

    /// Unlocks the CA key (asking for the passphrase only if it is encrypted).
    pub fn unlock(&self, dir: &CaDir, ctx: &Ctx) -> Result<Issuer<'static, KeyPair>> {
        let key_path = dir.ca_key_path(&self.name);
        let pem_text = dir.read_ca_key_pem(&self.name)?;
        let what = format!("CA '{}' ({})", self.name, key_path.display());
        let key = keys::load_signing_key(&pem_text, &key_path, || ctx.pass.unlock(&what))?;
        let der = rustls_pki_types::CertificateDer::from(self.der.clone());
        Issuer::from_ca_cert_der(&der, key)
            .map_err(|e| anyhow!("CA '{}': unusable certificate ({e})", self.name))
    }
}

/// Names a CA inside the directory: short, safe as a file name.
pub fn check_ca_name(name: &str) -> Result<(), PkiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
            return Err(PkiError::UnknownCa {
                name: n.to_string(),
                known: dir.ca_names()?,
            }
            .into());
        }
        return Ok(n.to_string());
    }
    let names = dir.ca_names()?;
    if names.is_empty() {
        return Err(PkiError::NoRoot {
            dir: dir.root.clone(),
        }
        .into());
    }
    let intermediates: Vec<String> = names
        .iter()
        .filter(|n| Ca::load(dir, n).map(|c| !c.self_signed).unwrap_or(false))
        .cloned()
        .collect();
    match intermediates.len() {
        1 => Ok(intermediates[0].clone()),
        0 => Err(anyhow!(
            "no intermediate CA to issue from: create one with `pki create-intermediate issuing` (leaves are not issued from the root)"
        )),
        _ => Err(PkiError::AmbiguousCa {
            known: intermediates,
        }
        .into()),
    }
}
