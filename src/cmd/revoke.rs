//! `pki revoke`: record a revocation (inventory, ledger, the CA's revoked list) and, unless
//! `--no-crl`, publish the CA's new CRL in the same locked change, so the CRL is never behind.

use std::io::Write;

use ::time::OffsetDateTime;
use anyhow::{Result, anyhow, bail};

use crate::cli::{GlobalArgs, RevokeArgs};
use crate::ctx::Ctx;
use crate::exit_codes::{Exit, PkiError};
use pki_core::ca::Ca;
use pki_core::certs::rfc3339;
use pki_core::crl;
use pki_core::serial::Serial;
use pki_core::settings::Settings;
use pki_core::store::{CaDir, Revocation, SETTINGS, Status};

/// What is being revoked, found before the lock.
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
    // An intermediate CA: it goes on its parent's CRL.
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

/// The latest revocation of a serial on its CA's list, if any.
fn previous(dir: &CaDir, ca: &str, serial: &str) -> Result<Option<Revocation>> {
    let text = dir.revoked_list_text(ca)?;
    let prefix = format!("{serial}\t");
    // Parse only the matching lines; the last one is the current state.
    text.lines().rev().find(|l| l.starts_with(&prefix)).map(Revocation::parse).transpose()
}

pub fn run(args: RevokeArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let timeout = super::lock_timeout(g)?;
    let reason = crl::parse_reason(&args.reason)?;
    let invalidity = match &args.at {
        Some(t) => {
            let at = OffsetDateTime::parse(t, &::time::format_description::well_known::Rfc3339)
                .map_err(|_| anyhow!("invalid --at '{t}': expected RFC 3339 such as 2026-11-28T09:00:00Z"))?;
            if at > ctx.now {
                bail!("invalid --at '{t}': it is in the future");
            }
            Some(rfc3339(at))
        }
        None => None,
    };
    let dir = CaDir::open(&g.dir)?;
    let serial = match (&args.serial, &args.cert) {
        (Some(s), _) => Serial::parse(s)?,
        (None, Some(f)) => pki_core::inspect::cert_file(f)?.0,
        (None, None) => bail!("give the SERIAL of the certificate to revoke, or --cert FILE"),
    };
    let mut rev = find(&dir, &serial)?;
    if let Some(want) = &args.ca
        && *want != rev.ca
    {
        bail!("certificate {} was issued by CA '{}', not '{want}'", rev.serial, rev.ca);
    }
    let check = |dir: &CaDir, rev: &mut Revocation| -> Result<()> {
        if rev.not_after.as_str() <= rfc3339(ctx.now).as_str() {
            return Err(PkiError::CertExpired { serial: rev.serial.clone(), not_after: rev.not_after.clone() }.into());
        }
        rev.revoked_at = rfc3339(ctx.now);
        if let Some(prev) = previous(dir, &rev.ca, &rev.serial)? {
            if reason == "keyCompromise" && prev.reason != "keyCompromise" {
                // A known compromise updates the reason; the revocation date stays.
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
    };
    rev.reason = reason.to_string();
    rev.invalidity_date = invalidity;
    check(&dir, &mut rev)?;

    // Unlock the CA key before the lock, so a wrong passphrase changes nothing.
    let file = dir.path(SETTINGS).display().to_string();
    let settings = Settings::parse(&dir.read_settings_text()?, &file)?;
    let ca = Ca::load(&dir, &rev.ca)?;
    let issuer = if args.no_crl {
        None
    } else {
        let pf = settings.ca.get(&ca.name).and_then(|c| c.passphrase_file.clone());
        Some(ca.unlock(&dir, &ctx.core(), pf.as_deref())?)
    };
    let lock = dir.lock(timeout)?;
    // Re-check under the lock: another process may have revoked it meanwhile.
    if rev.kind == "leaf" {
        match dir.find_inventory(&rev.serial)?.map(|r| r.status) {
            Some(Status::Revoked) | Some(Status::Valid) | Some(Status::Superseded) => {}
            None => return Err(PkiError::UnknownSerial { serial: rev.serial.clone() }.into()),
        }
    }
    check(&dir, &mut rev)?;
    lock.commit_revoke(&rev, &ctx.actor, &rfc3339(ctx.now))?;
    let summary = match &issuer {
        Some(iss) => Some(crl::generate(&dir, &lock, &ca, iss, crl::lifetime(&settings, &ca)?, &ctx.core())?.0),
        None => None,
    };
    drop(lock);
    if args.json {
        let v = serde_json::json!({"serial": rev.serial, "ca": rev.ca, "kind": rev.kind, "reason": rev.reason,
            "revoked_at": rev.revoked_at, "invalidity_date": rev.invalidity_date, "crl": summary});
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
    } else {
        writeln!(ctx.out, "{}", rev.serial)?;
        ctx.say(format!("revoked {} ({}) of CA '{}'", rev.serial, rev.reason, rev.ca));
        match summary {
            Some(s) => ctx.say(format!(
                "CRL of '{}' is now number {} with {} entr{}, valid until {}",
                s.ca,
                s.number,
                s.entries,
                if s.entries == 1 { "y" } else { "ies" },
                s.next_update
            )),
            None => ctx.say(format!(
                "--no-crl: the published CRL of '{}' does not list it yet; run `pki gen-crl --ca {}`",
                rev.ca, rev.ca
            )),
        }
    }
    Ok(Exit::Success)
}
