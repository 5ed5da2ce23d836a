//! Revoking a certificate (a leaf, or an intermediate CA in its parent's list): the checks
//! (known, not expired, not already revoked unless the reason becomes keyCompromise or a
//! certificateHold becomes final), the committed change, and the new CRL of the issuing CA.
//! keyCompromise means the key: every unexpired certificate the CA issued for the same public
//! key is revoked in the same change, and the key goes on the blocklist every issuance checks.
//! Releasing a certificateHold is its own change (`release_hold`).

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
use crate::store::{CaDir, Locked, Revocation, SETTINGS, Status};

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
    /// Other certificates of the same key revoked with it (keyCompromise).
    pub same_key: Vec<Revocation>,
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
            key: None,
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
                key: None,
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
/// keyCompromise or a certificateHold becomes final (both keep the first revocation time).
fn check(dir: &CaDir, rev: &mut Revocation, reason: &str, now: OffsetDateTime) -> Result<()> {
    if rev.not_after.as_str() <= rfc3339(now).as_str() {
        return Err(PkiError::CertExpired { serial: rev.serial.clone(), not_after: rev.not_after.clone() }.into());
    }
    rev.revoked_at = rfc3339(now);
    if let Some(prev) = previous(dir, &rev.ca, &rev.serial)?.filter(|p| p.reason != crl::RELEASED) {
        let escalates = (reason == "keyCompromise" && prev.reason != "keyCompromise")
            || (prev.reason == "certificateHold" && reason != "certificateHold");
        if escalates {
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
    if req.reason == "removeFromCRL" {
        bail!(
            "removeFromCRL is only meaningful in delta CRLs (RFC 5280 §5.3.1), which pki does not make: to release a certificateHold, run `pki release-hold SERIAL`"
        );
    }
    let mut rev = find(dir, &req.serial)?;
    if let Some(want) = &req.ca
        && *want != rev.ca
    {
        bail!("certificate {} was issued by CA '{}', not '{want}'", rev.serial, rev.ca);
    }
    rev.reason = req.reason.to_string();
    rev.invalidity_date = req.invalidity_date.clone();
    check(dir, &mut rev, req.reason, ctx.now)?;

    let publish = Publish::prepare(dir, &rev.ca, req.publish_crl, ctx)?;
    let lock = dir.lock(timeout)?;
    if rev.kind == "leaf" {
        match dir.find_inventory(&rev.serial)?.map(|r| r.status) {
            Some(Status::Revoked) | Some(Status::Valid) | Some(Status::Superseded) => {}
            None => return Err(PkiError::UnknownSerial { serial: rev.serial.clone() }.into()),
        }
    }
    check(dir, &mut rev, req.reason, ctx.now)?;
    let mut same_key = vec![];
    if req.reason == "keyCompromise" {
        let spki = public_key_of(dir, &rev)?;
        rev.key = Some(crate::store::sha256_hex(&spki));
        same_key = same_key_certs(dir, &rev, &spki, ctx.now)?;
    }
    let mut all = vec![rev.clone()];
    all.extend(same_key.iter().cloned());
    let crl = publish.commit(dir, &lock, &all, ctx)?;
    Ok(Revoked { revocation: rev, same_key, crl })
}

/// The issuing CA of a revocation or release, unlocked (before the lock) when its CRL is to
/// be published in the same change.
struct Publish {
    settings: Settings,
    ca: Ca,
    issuer: Option<std::sync::Arc<rcgen::Issuer<'static, rcgen::KeyPair>>>,
}

impl Publish {
    fn prepare(dir: &CaDir, ca: &str, publish: bool, ctx: &Context<'_>) -> Result<Publish> {
        let settings = Settings::parse(&dir.read_settings_text()?, &dir.path(SETTINGS).display().to_string())?;
        let ca = Ca::load(dir, ca)?;
        let issuer = if publish {
            Some(std::sync::Arc::new(ca.unlock(dir, ctx, settings.passphrase_file(&ca.name))?))
        } else {
            None
        };
        Ok(Publish { settings, ca, issuer })
    }

    /// Commits the changes (signed by the CA key when it is unlocked), then publishes the CRL.
    fn commit(
        &self,
        dir: &CaDir,
        lock: &Locked<'_>,
        revs: &[Revocation],
        ctx: &Context<'_>,
    ) -> Result<Option<CrlSummary>> {
        let (ca, settings) = (&self.ca, &self.settings);
        if let Some(iss) = &self.issuer {
            lock.sign_with(crate::store::LedgerSigner::new(&ca.name, &ca.der, iss.clone()));
        }
        lock.commit_revocations(revs, ctx.actor, &rfc3339(ctx.now))?;
        match &self.issuer {
            Some(iss) => Ok(Some(crl::generate(dir, lock, ca, iss, crl::lifetime(settings, ca)?, ctx)?.0)),
            None => Ok(None),
        }
    }
}

/// The SubjectPublicKeyInfo (DER) of the certificate being revoked, from its stored (signed)
/// certificate.
fn public_key_of(dir: &CaDir, rev: &Revocation) -> Result<Vec<u8>> {
    use x509_parser::prelude::*;
    let serial = Serial::parse(&rev.serial)?;
    let der = if rev.kind == "ca" {
        dir.ca_names()?.iter().filter_map(|n| Ca::load(dir, n).ok()).find(|c| c.serial == serial).map(|c| c.der)
    } else {
        dir.read_cert_der(&serial)?
    };
    let der = der.ok_or_else(|| anyhow!("the certificate {} is not stored here: run `pki reindex`", rev.serial))?;
    let (_, x) =
        X509Certificate::from_der(&der).map_err(|_| anyhow!("the stored certificate {} is malformed", rev.serial))?;
    Ok(x.public_key().raw.to_vec())
}

/// Every other unexpired certificate the same CA issued for this public key (renewals that
/// kept it, CSRs that re-used it), not yet revoked for keyCompromise: each is revoked with the
/// same reason and time. Reads the stored certificate of each unexpired candidate of the CA.
fn same_key_certs(dir: &CaDir, rev: &Revocation, spki: &[u8], now: OffsetDateTime) -> Result<Vec<Revocation>> {
    use x509_parser::prelude::*;
    let now_s = rfc3339(now);
    let mut candidates = vec![];
    dir.for_each_inventory(|r| {
        if r.ca == rev.ca
            && r.serial != rev.serial
            && r.not_after.as_str() > now_s.as_str()
            && r.reason.as_deref() != Some("keyCompromise")
        {
            candidates.push(r);
        }
        Ok(())
    })?;
    let mut out = vec![];
    for r in candidates {
        let Some(der) = dir.read_cert_der(&Serial::parse(&r.serial)?)? else { continue };
        let Ok((_, x)) = X509Certificate::from_der(&der) else { continue };
        if x.public_key().raw == spki {
            out.push(Revocation {
                serial: r.serial,
                ca: r.ca,
                revoked_at: rev.revoked_at.clone(),
                reason: "keyCompromise".into(),
                invalidity_date: rev.invalidity_date.clone(),
                not_after: r.not_after,
                kind: "leaf".into(),
                key: rev.key.clone(),
            });
        }
    }
    Ok(out)
}

/// A released certificateHold.
#[derive(Debug)]
pub struct Released {
    /// The release as recorded (reason [`crl::RELEASED`], `revoked_at` the release time).
    pub release: Revocation,
    /// The CRL published with it, unless `publish_crl` was false.
    pub crl: Option<CrlSummary>,
}

/// Releases a certificateHold: the certificate is valid again and the next full CRL no longer
/// lists it (the ledger's `hold-released` record is what lets gen-crl drop it). Only a
/// certificate whose current revocation is certificateHold can be released.
pub fn release_hold(
    dir: &CaDir,
    serial: &Serial,
    publish_crl: bool,
    timeout: Duration,
    ctx: &Context<'_>,
) -> Result<Released> {
    let mut rel = find(dir, serial)?;
    let held = |dir: &CaDir, rel: &Revocation| -> Result<()> {
        match previous(dir, &rel.ca, &rel.serial)? {
            Some(p) if p.reason == "certificateHold" => Ok(()),
            Some(p) if p.reason != crl::RELEASED => bail!(
                "certificate {} is revoked ({}), not on hold: only a certificateHold can be released",
                rel.serial,
                p.reason
            ),
            _ => bail!("certificate {} is not on hold: nothing to release", rel.serial),
        }
    };
    held(dir, &rel)?;
    let publish = Publish::prepare(dir, &rel.ca, publish_crl, ctx)?;
    let lock = dir.lock(timeout)?;
    held(dir, &rel)?;
    rel.revoked_at = rfc3339(ctx.now);
    rel.reason = crl::RELEASED.into();
    let crl = publish.commit(dir, &lock, std::slice::from_ref(&rel), ctx)?;
    Ok(Released { release: rel, crl })
}
