//! Renewal: a successor with the same names and profile (re-checked against today's profile)
//! and a new serial; the old certificate is marked superseded in the same committed change.
//! Names, profile and key come from signed data (the stored certificate, whose hash the ledger
//! holds, and the ledger's record of its issue), never from the editable inventory line; a
//! disagreement is an error. The key: a new one when pki generated the old one (`reuse_key`
//! keeps it, as certbot's --reuse-key); a certificate issued from a CSR is renewed only from a
//! new CSR or with `reuse_key` (pki never generates its holder's key).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use x509_parser::prelude::*;

use super::{Issuing, Out, Requested, Spec};
use crate::context::{Context, Secret};
use crate::serial::Serial;
use crate::store::{Status, sha256_hex};

/// What to renew and how.
#[derive(Debug, Clone, Default)]
pub struct Renewal {
    /// The serial of the certificate to renew.
    pub serial: Option<Serial>,
    /// The certificate itself (DER), which must be the one the directory issued; its serial is
    /// used when `serial` is not given.
    pub cert_der: Option<Vec<u8>>,
    /// A new key even where pki cannot tell who made the old one (certificates issued before
    /// pki recorded it); a new key is the default when pki generated the old one.
    pub rekey: bool,
    /// Certify the same public key again.
    pub reuse_key: bool,
    /// The new key's type (default: the old key's).
    pub key_type: Option<String>,
    /// A CSR (file, or "-" with its bytes in `csr_bytes`) bringing the new key.
    pub csr: Option<String>,
    /// The CSR's bytes, when the caller has read them.
    pub csr_bytes: Option<Vec<u8>>,
    /// The new lifetime; by default the old certificate's.
    pub ttl: Option<String>,
    /// Shorten the lifetime to what the issuer and profile allow instead of refusing.
    pub clip_ttl: bool,
    /// Where the successor goes (`None`: a directory named after its first name).
    pub out: Option<PathBuf>,
    /// Replace existing files in `out`.
    pub force: bool,
}

impl Issuing<'_> {
    /// Renews a valid certificate of this directory: checks it, plans the successor, takes the
    /// lock (waiting up to `timeout`), checks again that nothing changed meanwhile, commits.
    pub fn renew(
        &mut self,
        r: &Renewal,
        key_pass: Option<&Secret>,
        timeout: Duration,
        ctx: &Context<'_>,
    ) -> Result<(Requested, Out)> {
        let dir = self.dir;
        let serial = match (&r.serial, &r.cert_der) {
            (Some(s), _) => s.clone(),
            (None, Some(der)) => {
                let (_, x) = X509Certificate::from_der(der).map_err(|_| anyhow!("--cert: not a certificate"))?;
                Serial::from_bytes(x.raw_serial())
            }
            (None, None) => bail!("give the SERIAL of the certificate to renew, or --cert FILE"),
        };
        let hex = serial.hex();
        let rec = dir.find_inventory(&hex)?.ok_or_else(|| {
            anyhow!("no certificate with serial {hex} in this directory's inventory: check the serial (`pki list`)")
        })?;
        match rec.status {
            Status::Revoked => {
                bail!("certificate {hex} is revoked: issue a new one with `pki issue` instead of renewing it")
            }
            Status::Superseded => bail!(
                "certificate {hex} was already renewed by {}: renew that one",
                rec.replaced_by.as_deref().unwrap_or("another certificate")
            ),
            Status::Valid => {}
        }
        let issue = dir
            .issue_record(&hex)?
            .ok_or_else(|| anyhow!("the ledger has no record of the issue of {hex}: run `pki audit --deep`"))?;
        let stored_der = dir.read_cert_der(&serial)?.context("the stored certificate is missing: run `pki reindex`")?;
        if issue.data["sha256"].as_str() != Some(sha256_hex(&stored_der).as_str()) {
            bail!(
                "{} is not the certificate the ledger recorded for {hex} (its SHA-256 differs): restore it from a backup",
                dir.cert_path(&serial).display()
            );
        }
        if let Some(d) = &r.cert_der
            && sha256_hex(d) != sha256_hex(&stored_der)
        {
            bail!("the certificate in --cert has serial {hex} but is not the one this directory issued");
        }
        let (_, x) = X509Certificate::from_der(&stored_der)
            .map_err(|_| anyhow!("the stored certificate of {hex} is malformed"))?;
        // What the signed data says, and what the inventory line says: they must agree.
        let sans: Vec<String> = x
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|e| e.value.general_names.iter().map(crate::inspect::general_name).collect())
            .unwrap_or_default();
        let profile = issue.data["profile"].as_str().map(str::to_string);
        let ca = issue.data["ca"].as_str().unwrap_or_default().to_string();
        let spki = x.public_key().raw.to_vec();
        let key_type = super::names::key_type_of_spki(&spki)?;
        for (what, line, signed) in [
            ("names", rec.sans.join(","), sans.join(",")),
            (
                "profile",
                rec.profile.clone().unwrap_or_else(|| "-".into()),
                profile.clone().unwrap_or_else(|| "-".into()),
            ),
            ("CA", rec.ca.clone(), ca.clone()),
            ("key type", rec.key_type.clone(), key_type.clone()),
        ] {
            if line != signed {
                bail!(
                    "inventory.tsv says the {what} of {hex} are '{line}' but its certificate and ledger record say '{signed}': the inventory was edited; run `pki reindex` (renewal takes them from the certificate)"
                );
            }
        }
        let mut spec = Spec {
            profile: profile.clone(),
            ca: Some(ca),
            ttl: r.ttl.clone(),
            out: r.out.clone(),
            csr: r.csr.clone(),
            csr_bytes: r.csr_bytes.clone(),
            force: r.force,
            clip_ttl: r.clip_ttl,
            ..Default::default()
        };
        if r.csr.is_none() {
            for s in &sans {
                match s.split_once(':') {
                    Some(("DNS", v)) => spec.dns.push(v.to_string()),
                    Some(("IP", v)) => spec.ip.push(v.to_string()),
                    Some(("URI", v)) => spec.uri.push(v.to_string()),
                    _ => {}
                }
            }
            if profile.is_none() {
                spec.cn = x.subject().iter_common_name().next().and_then(|c| c.as_str().ok()).map(str::to_string);
            }
        }
        if spec.ttl.is_none() {
            let secs = x.validity().not_after.timestamp()
                - x.validity().not_before.timestamp()
                - crate::certs::BACKDATE.whole_seconds();
            spec.ttl = Some(format!("{}s", secs.max(60)));
        }
        let origin = issue.data["key_origin"].as_str();
        let existing = if r.csr.is_some() {
            None
        } else if r.reuse_key {
            Some(spki)
        } else {
            match (origin, r.rekey) {
                (Some("generated"), _) | (None, true) => {
                    spec.key_type = r.key_type.clone().or_else(|| Some(key_type.clone()));
                    None
                }
                (Some("csr"), _) => bail!(
                    "certificate {hex} was issued from a CSR: pki never generates its holder's key; renew it with --csr FILE (a new CSR), or --reuse-key to certify the same key again"
                ),
                _ => bail!(
                    "the ledger does not say who made the key of {hex} (issued by an earlier pki): renew it with --csr FILE, --reuse-key, or --rekey for a new key from pki"
                ),
            }
        };
        let out = Out::of(&spec);
        out.check(spec.force)?;
        let kept = existing.is_some();
        let mut plan = self.plan_with_key(&spec, ctx.now, existing)?;
        plan.renews = Some(hex.clone());
        if kept {
            plan.key_origin = if origin == Some("generated") { "generated" } else { "csr" };
        }
        self.unlock(&plan.ca, ctx)?;
        let lock = dir.lock(timeout)?;
        match dir.find_inventory(&hex)?.map(|r| r.status) {
            Some(Status::Valid) => {}
            _ => bail!("certificate {hex} changed state while waiting for the lock: check `pki list`"),
        }
        let done = self.commit_plan(&plan, &lock, &out, key_pass, ctx)?;
        Ok((done, out))
    }
}
