//! `pki acme eab add|list|remove`: the External Account Binding keys of `pki serve`'s ACME
//! directories (the work is `pki_core::acme_eab`'s).

use std::io::Write;

use anyhow::Result;

use crate::cli::{AcmeAction, AcmeArgs, EabAction, GlobalArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::acme_eab;
use pki_core::store::CaDir;

pub fn run(args: AcmeArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let AcmeAction::Eab(eab) = args.action;
    let dir = CaDir::open(&g.dir)?;
    match eab.action {
        EabAction::Add(a) => {
            let timeout = super::lock_timeout(g)?;
            let key = acme_eab::add(&dir, &a.directory, &a.kid, timeout, &ctx.core())?;
            if a.json {
                let v = serde_json::json!({"directory": key.directory, "kid": key.kid, "hmac_key": key.key, "created": key.created});
                serde_json::to_writer_pretty(&mut ctx.out, &v)?;
                writeln!(ctx.out)?;
            } else {
                // The only time the HMAC key is shown: data on stdout, the words on stderr.
                writeln!(ctx.out, "{}", key.key)?;
                ctx.say(format!(
                    "EAB key '{}' for ACME directory '{}': give the client --eab-kid {} and the HMAC key above (shown once)",
                    key.kid, key.directory, key.kid
                ));
            }
        }
        EabAction::List(a) => {
            let keys = acme_eab::list(&dir)?;
            let rows: Vec<serde_json::Value> = keys
                .iter()
                .map(|k| {
                    serde_json::json!({"kid": k.kid, "directory": k.directory, "created": k.created, "account": k.account, "bound_at": k.bound_at})
                })
                .collect();
            if a.json {
                serde_json::to_writer_pretty(&mut ctx.out, &rows)?;
                writeln!(ctx.out)?;
            } else {
                for k in &keys {
                    writeln!(
                        ctx.out,
                        "{}\t{}\t{}\t{}",
                        k.kid,
                        k.directory,
                        k.created,
                        k.account.as_deref().unwrap_or("unused")
                    )?;
                }
                ctx.say(format!("{} EAB key(s)", keys.len()));
            }
        }
        EabAction::Remove(a) => {
            let timeout = super::lock_timeout(g)?;
            let key = acme_eab::remove(&dir, &a.kid, timeout, &ctx.core())?;
            if a.json {
                let v = serde_json::json!({"removed": key.kid, "directory": key.directory, "account": key.account});
                serde_json::to_writer_pretty(&mut ctx.out, &v)?;
                writeln!(ctx.out)?;
            } else {
                ctx.say(format!("removed EAB key '{}' of ACME directory '{}'", key.kid, key.directory));
            }
        }
    }
    Ok(Exit::Success)
}
