//! `pki revoke`: record a revocation (inventory, ledger, the CA's revoked list) and, unless
//! `--no-crl`, publish the CA's new CRL in the same locked change, so the CRL is never behind.

use std::io::Write;

use anyhow::{Result, bail};

use crate::cli::{GlobalArgs, ReleaseHoldArgs, RevokeArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::crl;
use pki_core::revocation::{self, RevokeRequest};
use pki_core::serial::Serial;
use pki_core::store::CaDir;

pub fn run(args: RevokeArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let timeout = super::lock_timeout(g)?;
    let reason = crl::parse_reason(&args.reason)?;
    let invalidity_date = args.at.as_deref().map(|t| revocation::invalidity_date(t, ctx.now)).transpose()?;
    let dir = CaDir::open(&g.dir)?;
    let serial = match (&args.serial, &args.cert) {
        (Some(s), _) => Serial::parse(s)?,
        (None, Some(f)) => pki_core::inspect::cert_file(f)?.0,
        (None, None) => bail!("give the SERIAL of the certificate to revoke, or --cert FILE"),
    };
    let req = RevokeRequest { serial, reason, invalidity_date, ca: args.ca.clone(), publish_crl: !args.no_crl };
    let done = revocation::revoke(&dir, &req, timeout, &ctx.core())?;
    let (rev, summary) = (done.revocation, done.crl);
    let same: Vec<&str> = done.same_key.iter().map(|r| r.serial.as_str()).collect();
    if args.json {
        let v = serde_json::json!({"serial": rev.serial, "ca": rev.ca, "kind": rev.kind, "reason": rev.reason,
            "revoked_at": rev.revoked_at, "invalidity_date": rev.invalidity_date, "key_sha256": rev.key,
            "same_key_revoked": same, "crl": summary});
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
    } else {
        writeln!(ctx.out, "{}", rev.serial)?;
        for s in &same {
            writeln!(ctx.out, "{s}")?;
        }
        ctx.say(format!("revoked {} ({}) of CA '{}'", rev.serial, rev.reason, rev.ca));
        if !same.is_empty() {
            ctx.say(format!(
                "also revoked (keyCompromise, same key): {}; the key is blocked from any new certificate",
                same.join(", ")
            ));
        } else if rev.key.is_some() {
            ctx.say("the key is blocked from any new certificate");
        }
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

pub fn release(args: ReleaseHoldArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let timeout = super::lock_timeout(g)?;
    let serial = Serial::parse(&args.serial)?;
    let dir = CaDir::open(&g.dir)?;
    let done = revocation::release_hold(&dir, &serial, !args.no_crl, timeout, &ctx.core())?;
    let rel = &done.release;
    if args.json {
        let v = serde_json::json!({"serial": rel.serial, "ca": rel.ca, "released_at": rel.revoked_at, "crl": done.crl});
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
    } else {
        writeln!(ctx.out, "{}", rel.serial)?;
        ctx.say(format!("released the hold on {} of CA '{}': it is valid again", rel.serial, rel.ca));
        match &done.crl {
            Some(s) => ctx.say(format!("CRL of '{}' is now number {} without it", s.ca, s.number)),
            None => ctx.say(format!(
                "--no-crl: the published CRL of '{}' still lists it; run `pki gen-crl --ca {}`",
                rel.ca, rel.ca
            )),
        }
    }
    Ok(Exit::Success)
}
