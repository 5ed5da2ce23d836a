//! `pki ledger-verify`: check the ledger's hash chain; exit 1 if it was tampered with.

use std::io::Write;

use anyhow::Result;

use crate::cli::{GlobalArgs, LedgerVerifyArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

pub fn run(args: LedgerVerifyArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let dir = super::open_for_reading(g, ctx)?;
    let check = dir.verify_ledger()?;
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
