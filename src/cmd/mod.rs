//! One module per verb, each with a `run(args, global, ctx)`.

use anyhow::Result;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

mod acme;
mod attest;
mod audit;
mod change_passphrase;
mod completions;
mod create_intermediate;
mod export;
mod gen_crl;
mod init;
mod init_root;
mod inspect;
mod issue;
mod ledger_verify;
mod list;
mod man;
mod profiles;
mod reindex;
mod renew;
mod report;
mod revoke;
mod serve;
mod settings;
mod trust;
mod verify;

pub fn dispatch(cli: Cli, ctx: &mut Ctx) -> Result<Exit> {
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => init::run(a, g, ctx),
        Command::InitRoot(a) => init_root::run(a, g, ctx),
        Command::ChangePassphrase(a) => change_passphrase::run(a, g, ctx),
        Command::Serve(a) => serve::run(a, g, ctx),
        Command::CreateIntermediate(a) => create_intermediate::run(a, g, ctx),
        Command::Issue(a) => issue::run(a, g, ctx),
        Command::Renew(a) => renew::run(a, g, ctx),
        Command::Revoke(a) => revoke::run(a, g, ctx),
        Command::GenCrl(a) => gen_crl::run(a, g, ctx),
        Command::Verify(a) => verify::run(a, g, ctx),
        Command::Audit(a) => audit::run(a, g, ctx),
        Command::Export(a) => export::run(a, g, ctx),
        Command::Trust(a) => trust::run(a, g, ctx),
        Command::Inspect(a) => inspect::run(a, g, ctx),
        Command::List(a) => list::run(a, g, ctx),
        Command::Profiles(a) => profiles::run(a, g, ctx),
        Command::Reindex => reindex::run(g, ctx),
        Command::Settings(a) => settings::run(a, g, ctx),
        Command::ReleaseHold(a) => revoke::release(a, g, ctx),
        Command::LedgerVerify(a) => ledger_verify::run(a, g, ctx),
        Command::Ledger(a) => match a.action {
            crate::cli::LedgerAction::Verify(a) => ledger_verify::run(a, g, ctx),
            crate::cli::LedgerAction::Head(a) => ledger_verify::head(a, g, ctx),
        },
        Command::Acme(a) => acme::run(a, g, ctx),
        Command::Attest(a) => attest::run(a, ctx),
        Command::Report(a) => report::run(a, g, ctx),
        Command::Completions(a) => completions::run(a, ctx),
        Command::Man(a) => man::run(a, ctx),
    }
}

/// Opens the directory for a command that only reads it, and says on stderr when changes to it
/// are refused (a link, a loose mode, another user's file), so the reason is seen before cron's
/// next change fails.
pub fn open_for_reading(g: &GlobalArgs, ctx: &mut Ctx) -> Result<pki_core::store::CaDir> {
    let dir = pki_core::store::CaDir::open(&g.dir)?;
    if let Err(e) = dir.refuse_loose() {
        ctx.say(format!("warning: {e:#}"));
    }
    Ok(dir)
}

/// The lock timeout from `--lock-timeout` / `PKI_LOCK_TIMEOUT`.
pub fn lock_timeout(g: &GlobalArgs) -> Result<std::time::Duration> {
    Ok(pki_core::duration::parse("--lock-timeout", &g.lock_timeout)?)
}

/// Subjects and common names: printable, no control characters, at most 64 characters
/// (RFC 5280's upper bound for a common name).
pub fn check_cn(flag: &str, cn: &str) -> Result<()> {
    let why = if cn.trim().is_empty() || cn.chars().count() > 64 {
        format!("{flag} takes 1-64 characters")
    } else if let Err(e) = pki_core::certs::check_subject_text(cn) {
        format!("{flag}: {e}")
    } else {
        return Ok(());
    };
    Err(crate::exit_codes::PkiError::BadName { kind: "common name", value: cn.escape_debug().to_string(), why }.into())
}
