//! `pki change-passphrase NAME`: the same CA key under a new passphrase, replaced atomically.

use std::io::Write;

use anyhow::Result;

use crate::cli::{ChangePassphraseArgs, GlobalArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

pub fn run(args: ChangePassphraseArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let timeout = super::lock_timeout(g)?;
    pki_core::ca::check_ca_name(&args.name)?;
    let dir = pki_core::store::CaDir::open(&g.dir)?;
    let what = format!("CA '{}'", args.name);
    let pass = &ctx.pass;
    let new = || -> Result<Option<pki_core::Secret>> {
        if args.no_passphrase {
            return Ok(None);
        }
        pass.new_secondary(args.new_passphrase_file.as_deref(), &what).map(Some)
    };
    let was = pki_core::ca::change_passphrase(&dir, &args.name, new, timeout, &ctx.core())?;
    let now = !args.no_passphrase;
    if args.json {
        let v = serde_json::json!({"ca": args.name, "encrypted": now, "was_encrypted": was});
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
    }
    ctx.say(match (was, now) {
        (_, true) => format!("the key of CA '{}' is now encrypted with the new passphrase", args.name),
        (true, false) => format!("the key of CA '{}' is now stored UNENCRYPTED (--no-passphrase)", args.name),
        (false, false) => format!("the key of CA '{}' stays unencrypted (--no-passphrase)", args.name),
    });
    Ok(Exit::Success)
}
