//! `pki settings accept`: records a reviewed hand edit of `pki.toml` in the ledger, so the
//! audit's `settings-unrecorded` finding is resolved on the record, with who accepted it.

use std::io::Write;

use anyhow::Result;

use crate::cli::{GlobalArgs, SettingsAction, SettingsArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::setup;
use pki_core::store::CaDir;

pub fn run(args: SettingsArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let SettingsAction::Accept(a) = args.action;
    let timeout = super::lock_timeout(g)?;
    let dir = CaDir::open(&g.dir)?;
    let before = dir.settings_on_record()?;
    let hash = setup::accept_settings(&dir, timeout, &ctx.core())?;
    if a.json {
        let v =
            serde_json::json!({"file": dir.path(pki_core::store::SETTINGS), "sha256": hash, "was_on_record": before});
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
    } else {
        writeln!(ctx.out, "{hash}")?;
        ctx.say(match before {
            Some(true) => "pki.toml was already on record; recorded again",
            _ => "recorded pki.toml as it is now in the ledger",
        });
    }
    Ok(Exit::Success)
}
