//! `pki reindex`: rebuild the inventory from the ledger and the stored certificates.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::GlobalArgs;
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::store::CaDir;

pub fn run(g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let dir = CaDir::open(&g.dir)?;
    let lock = dir.lock(super::lock_timeout(g)?)?;
    // A progress bar only on a terminal: scripts and cron get a clean stderr.
    let bar = if ctx.interactive {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} reindexing: {pos} certificates ({per_sec})")
                .expect("valid template"),
        );
        Some(b)
    } else {
        None
    };
    let mut warnings = vec![];
    let report = lock.reindex(
        |n| {
            if let Some(b) = &bar
                && n % 1024 == 0
            {
                b.set_position(n);
            }
        },
        |w| warnings.push(w),
    )?;
    drop(lock);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for w in warnings {
        ctx.say(format!("warning: {w}"));
    }
    ctx.say(format!(
        "inventory rebuilt: {} record(s); {} missing certificate file(s); {} not matching the ledger; {} without a ledger record",
        report.records, report.missing, report.mismatched, report.orphans
    ));
    Ok(Exit::Success)
}
