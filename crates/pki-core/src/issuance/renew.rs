//! Renewal: a successor with the same names and profile (re-checked against today's profile),
//! a new serial, the same public key unless re-keyed or given a CSR; the old certificate is
//! marked superseded in the same committed change.

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
    /// A new key of the same type (or of `key_type`), instead of certifying the same key again.
    pub rekey: bool,
    /// The new key's type, with `rekey`.
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
        let stored_der = dir.read_cert_der(&serial)?.context("the stored certificate is missing: run `pki reindex`")?;
        if let Some(d) = &r.cert_der
            && sha256_hex(d) != sha256_hex(&stored_der)
        {
            bail!("the certificate in --cert has serial {hex} but is not the one this directory issued");
        }
        let (_, x) = X509Certificate::from_der(&stored_der)
            .map_err(|_| anyhow!("the stored certificate of {hex} is malformed"))?;
        let mut spec = Spec {
            profile: rec.profile.clone(),
            ca: Some(rec.ca.clone()),
            ttl: r.ttl.clone(),
            out: r.out.clone(),
            csr: r.csr.clone(),
            csr_bytes: r.csr_bytes.clone(),
            force: r.force,
            clip_ttl: r.clip_ttl,
            ..Default::default()
        };
        if r.csr.is_none() {
            for s in &rec.sans {
                match s.split_once(':') {
                    Some(("DNS", v)) => spec.dns.push(v.to_string()),
                    Some(("IP", v)) => spec.ip.push(v.to_string()),
                    Some(("URI", v)) => spec.uri.push(v.to_string()),
                    _ => {}
                }
            }
            if rec.profile.is_none() {
                spec.cn = rec.subject.split(',').find_map(|p| p.strip_prefix("CN=")).map(str::to_string);
            }
        }
        if spec.ttl.is_none() {
            let secs = x.validity().not_after.timestamp()
                - x.validity().not_before.timestamp()
                - crate::certs::BACKDATE.whole_seconds();
            spec.ttl = Some(format!("{}s", secs.max(60)));
        }
        let existing = if r.rekey || r.csr.is_some() {
            if r.rekey {
                spec.key_type = r.key_type.clone().or_else(|| Some(rec.key_type.clone()));
            }
            None
        } else {
            Some(x.public_key().raw.to_vec())
        };
        let out = Out::of(&spec);
        out.check(spec.force)?;
        let mut plan = self.plan_with_key(&spec, ctx.now, existing)?;
        plan.renews = Some(hex.clone());
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
