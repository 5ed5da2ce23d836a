//! `pki ledger verify` (also `ledger-verify`): check the ledger's hash chain and its last
//! signature; exit 1 if it was tampered with. `pki ledger head`: print the signed head.

use std::io::Write;

use anyhow::Result;

use crate::cli::{GlobalArgs, LedgerHeadArgs, LedgerVerifyArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

pub fn run(args: LedgerVerifyArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let dir = super::open_for_reading(g, ctx)?;
    let mut check = dir.verify_ledger()?;
    if let Some(why) = dir.head_signature_problem(&check)? {
        check.intact = false;
        check.problem.get_or_insert(why);
    }
    if args.json {
        serde_json::to_writer_pretty(&mut ctx.out, &check)?;
        writeln!(ctx.out)?;
    } else if let Some(p) = &check.problem {
        writeln!(ctx.out, "ledger BROKEN: {p}")?;
    } else {
        writeln!(ctx.out, "ledger intact: {} record(s), head {}", check.records, check.head)?;
    }
    Ok(if check.intact { Exit::Success } else { Exit::Findings })
}

pub fn head(args: LedgerHeadArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let dir = super::open_for_reading(g, ctx)?;
    let check = dir.verify_ledger()?;
    if let Some(p) = &check.problem {
        anyhow::bail!("the ledger is broken ({p}): no head is printed; run `pki audit`");
    }
    if let Some(why) = dir.head_signature_problem(&check)? {
        anyhow::bail!("{why}: no head is printed; run `pki audit`");
    }
    let head = dir.signed_head(&check)?;
    let mut line = serde_json::to_string(&head)?;
    line.push('\n');
    match &args.out {
        Some(p) if p.as_os_str() != "-" => pki_core::store::write_atomic(p, line.as_bytes(), 0o644)?,
        _ => ctx.out.write_all(line.as_bytes())?,
    }
    ctx.say(format!(
        "ledger head: record {} of {}, signed by CA '{}' at {}",
        head.seq, check.records, head.ca, head.time
    ));
    if check.records > head.seq {
        ctx.say(format!(
            "records {}..{} are not signed yet (no CA key was unlocked for them): the next issue, renew or gen-crl signs them",
            head.seq + 1,
            check.records
        ));
    }
    Ok(Exit::Success)
}
