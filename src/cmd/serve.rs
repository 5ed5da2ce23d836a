//! `pki serve`: runs the HTTP server of `pki-serve` over the directory until SIGTERM.

use std::net::SocketAddr;

use anyhow::{Result, anyhow};

use crate::cli::{GlobalArgs, ServeArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

pub fn run(args: ServeArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let dir = pki_core::store::CaDir::open(&g.dir)?;
    let file = dir.path("pki.toml").display().to_string();
    let settings = pki_core::settings::Settings::parse(&dir.read_settings_text()?, &file)?;
    let (http, http_from) = match (&args.http, &settings.serve.http) {
        (Some(v), _) => (v.clone(), "--http".to_string()),
        (None, Some(v)) => (v.clone(), format!("{file}: [serve] http")),
        (None, None) => ("127.0.0.1:8080".to_string(), "the default".to_string()),
    };
    let addr: SocketAddr = http
        .parse()
        .map_err(|_| anyhow!("invalid listen address '{http}' ({http_from}): give IP:PORT, e.g. 127.0.0.1:8080"))?;
    let poll = match (&args.poll, &settings.serve.poll) {
        (Some(v), _) => pki_core::duration::parse("--poll", v)?,
        (None, Some(v)) => pki_core::duration::parse("[serve] poll", v)?,
        (None, None) => std::time::Duration::from_secs(1),
    };
    if poll.is_zero() || poll > std::time::Duration::from_secs(3600) {
        anyhow::bail!("invalid poll interval: from 1ms to 1h");
    }
    let mut cfg = pki_serve::Config::new(g.dir.clone(), addr);
    cfg.poll = poll;
    let names = if args.ca.is_empty() { settings.serve.cas.clone() } else { args.ca.clone() };
    // Unlocked before listening: a wrong passphrase is one line at start, not a stale CRL later.
    let signers: Vec<pki_serve::Signer> =
        names.iter().map(|n| pki_serve::Signer::unlock(&dir, &settings, n, &ctx.core())).collect::<Result<_>>()?;
    if args.check {
        let p = pki_serve::check(&cfg)?;
        for path in p.objects.keys() {
            writeln_out(ctx, path)?;
        }
        ctx.say(format!(
            "ok: {} object(s) to serve on http://{addr} ({} CRL(s){})",
            p.objects.len(),
            p.crls.len(),
            if p.missing_crls.is_empty() {
                String::new()
            } else {
                format!("; no CRL yet for {}", p.missing_crls.join(", "))
            }
        ));
        return Ok(Exit::Success);
    }
    let keeps: Vec<String> = signers.iter().map(|s| s.ca.name.clone()).collect();
    pki_serve::run(cfg, signers, |bound| {
        pki_serve::log(
            "info",
            "listening",
            serde_json::json!({"http": format!("http://{bound}"), "keeps_crls_fresh_for": keeps}),
        );
    })?;
    Ok(Exit::Success)
}

fn writeln_out(ctx: &mut Ctx, line: &str) -> Result<()> {
    use std::io::Write;
    writeln!(ctx.out, "{line}")?;
    Ok(())
}
