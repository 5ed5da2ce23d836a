//! Revoking a certificate (a leaf, or an intermediate CA in its parent's list): the checks
//! (known, not expired, not already revoked unless the reason becomes keyCompromise), the
//! committed change, and the new CRL of the issuing CA.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use time::OffsetDateTime;

use crate::ca::Ca;
use crate::certs::rfc3339;
use crate::context::Context;
use crate::crl::{self, CrlSummary};
use crate::error::PkiError;
use crate::serial::Serial;
use crate::settings::Settings;
use crate::store::{CaDir, Revocation, SETTINGS, Status};

/// What to revoke and why.
#[derive(Debug, Clone)]
pub struct RevokeRequest {
    /// The certificate's serial.
    pub serial: Serial,
    /// The reason's RFC 5280 name, as [`crl::parse_reason`] returns it.
    pub reason: &'static str,
    /// When the key is known or suspected to have been compromised (RFC 3339), if earlier.
    pub invalidity_date: Option<String>,
    /// The CA the caller expects the certificate to be from; refused if it is another.
    pub ca: Option<String>,
    /// Sign and publish the issuing CA's CRL in the same run (unlocks its key).
    pub publish_crl: bool,
}

/// A committed revocation.
#[derive(Debug)]
pub struct Revoked {
    /// The revocation as recorded.
    pub revocation: Revocation,
    /// The CRL published with it, unless `publish_crl` was false.
    pub crl: Option<CrlSummary>,
}

/// Parses `--at`: an RFC 3339 time, not in the future.
pub fn invalidity_date(t: &str, now: OffsetDateTime) -> Result<String> {
    let at = OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map_err(|_| anyhow!("invalid --at '{t}': expected RFC 3339 such as 2026-11-28T09:00:00Z"))?;
    if at > now {
        bail!("invalid --at '{t}': it is in the future");
    }
    Ok(rfc3339(at))
}

/// Finds the certificate with this serial: a leaf in the inventory, or an intermediate CA.
fn find(dir: &CaDir, serial: &Serial) -> Result<Revocation> {
    let hex = serial.hex();
    if let Some(rec) = dir.find_inventory(&hex)? {
        return Ok(Revocation {
            serial: hex,
            ca: rec.ca,
            revoked_at: String::new(),
            reason: String::new(),
            invalidity_date: None,
            not_after: rec.not_after,
            kind: "leaf".into(),
        });
    }
    for name in dir.ca_names()? {
        let ca = Ca::load(dir, &name)?;
        if ca.serial == *serial {
            if ca.self_signed {
                bail!(
                    "'{name}' is a root CA: a root cannot be revoked; stop trusting it instead (remove it from trust stores)"
                );
            }
            let chain = Ca::chain(dir, &name)?;
            return Ok(Revocation {
                serial: hex,
                ca: chain[1].name.clone(),
                revoked_at: String::new(),
                reason: String::new(),
                invalidity_date: None,
                not_after: rfc3339(ca.not_after),
                kind: "ca".into(),
            });
        }
    }
    Err(PkiError::UnknownSerial { serial: hex }.into())
}

fn previous(dir: &CaDir, ca: &str, serial: &str) -> Result<Option<Revocation>> {
    let text = dir.revoked_list_text(ca)?;
    let prefix = format!("{serial}\t");
    text.lines().rev().find(|l| l.starts_with(&prefix)).map(Revocation::parse).transpose()
}

/// Refuses an expired certificate, and one already revoked unless the reason becomes
/// keyCompromise (which keeps the first revocation time).
fn check(dir: &CaDir, rev: &mut Revocation, reason: &str, now: OffsetDateTime) -> Result<()> {
    if rev.not_after.as_str() <= rfc3339(now).as_str() {
        return Err(PkiError::CertExpired { serial: rev.serial.clone(), not_after: rev.not_after.clone() }.into());
    }
    rev.revoked_at = rfc3339(now);
    if let Some(prev) = previous(dir, &rev.ca, &rev.serial)? {
        if reason == "keyCompromise" && prev.reason != "keyCompromise" {
            rev.revoked_at = prev.revoked_at.clone();
            rev.invalidity_date = rev.invalidity_date.clone().or(prev.invalidity_date.clone());
        } else {
            return Err(PkiError::AlreadyRevoked {
                serial: rev.serial.clone(),
                reason: prev.reason,
                at: prev.revoked_at,
            }
            .into());
        }
    }
    Ok(())
}

/// Revokes a certificate: checks it, unlocks the issuing CA (with `publish_crl`), takes the
/// lock (waiting up to `timeout`), checks again, commits the revocation and publishes the CRL.
pub fn revoke(dir: &CaDir, req: &RevokeRequest, timeout: Duration, ctx: &Context<'_>) -> Result<Revoked> {
    let mut rev = find(dir, &req.serial)?;
    if let Some(want) = &req.ca
        && *want != rev.ca
    {
        bail!("certificate {} was issued by CA '{}', not '{want}'", rev.serial, rev.ca);
    }
    rev.reason = req.reason.to_string();
    rev.invalidity_date = req.invalidity_date.clone();
    check(dir, &mut rev, req.reason, ctx.now)?;

    let file = dir.path(SETTINGS).display().to_string();
    let settings = Settings::parse(&dir.read_settings_text()?, &file)?;
    let ca = Ca::load(dir, &rev.ca)?;
    let issuer = if req.publish_crl {
        let pf = settings.ca.get(&ca.name).and_then(|c| c.passphrase_file.clone());
        Some(ca.unlock(dir, ctx, pf.as_deref())?)
    } else {
        None
    };
    let lock = dir.lock(timeout)?;
    if rev.kind == "leaf" {
        match dir.find_inventory(&rev.serial)?.map(|r| r.status) {
            Some(Status::Revoked) | Some(Status::Valid) | Some(Status::Superseded) => {}
            None => return Err(PkiError::UnknownSerial { serial: rev.serial.clone() }.into()),
        }
    }
    check(dir, &mut rev, req.reason, ctx.now)?;
    lock.commit_revoke(&rev, ctx.actor, &rfc3339(ctx.now))?;
    let crl = match &issuer {
        Some(iss) => Some(crl::generate(dir, &lock, &ca, iss, crl::lifetime(&settings, &ca)?, ctx)?.0),
        None => None,
    };
    Ok(Revoked { revocation: rev, crl })
}
