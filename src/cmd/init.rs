//! `pki init`: the guided set-up. Asks a few questions on a terminal (every one has a flag, so
//! `--non-interactive` does the same from a script), then creates the directory, a root, an
//! issuing intermediate and the default profiles, and says what to run next.

use std::io::{BufRead, Write};

use anyhow::{Context, Result};

use crate::cli::{GlobalArgs, InitArgs};
use crate::ctx::{Ctx, Secret, read_passphrase_file};
use crate::exit_codes::{Exit, PkiError};
use pki_core::ca::check_ca_name;
use pki_core::certs::{self, Constraints};
use pki_core::keys::KeyType;
use pki_core::setup::{self, IntermediateRequest, RootRequest};
use pki_core::store::CaDir;
use pki_core::{duration, settings};

fn ask(ctx: &mut Ctx, question: &str, default: &str) -> Result<String> {
    write!(ctx.err, "{question} [{default}]: ")?;
    ctx.err.flush()?;
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line).context("cannot read the answer")?;
    if n == 0 {
        anyhow::bail!("no answer (end of input): run `pki init --non-interactive` with flags instead");
    }
    let t = line.trim();
    Ok(if t.is_empty() { default.to_string() } else { t.to_string() })
}

/// Commented suggestions of publication URLs under each CA's table, for a directory made
/// without a base URL (uncomment once a web server serves them; README).
fn suggest_urls(text: &str, td: &str, int: &str) -> String {
    let text = text.replace(
        "[ca.root]\n",
        &format!(
            "[ca.root]\n# next_update = \"30d\"\n# crl_url = \"http://pki.{td}/crl/root.crl\"\n# ca_issuers_url = \"http://pki.{td}/ca/root.crt\"\n"
        ),
    );
    text.replace(
        &format!("[ca.{int}]\n"),
        &format!(
            "[ca.{int}]\n# next_update = \"7d\"\n# crl_url = \"http://pki.{td}/crl/{int}.crl\"\n# ca_issuers_url = \"http://pki.{td}/ca/{int}.crt\"\n# ocsp_url = \"http://pki.{td}/ocsp/{int}\"\n"
        ),
    )
}

pub fn run(args: InitArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let interactive = !args.non_interactive && ctx.interactive;
    check_ca_name(&args.intermediate)?;
    let root_ttl = duration::parse_lifetime("--root-ttl", &args.root_ttl)?;
    let int_ttl = duration::parse_lifetime("--intermediate-ttl", &args.intermediate_ttl)?;
    let timeout = super::lock_timeout(g)?;
    if g.dir.join("cas").join("root").exists() {
        let dir = std::path::absolute(&g.dir).unwrap_or_else(|_| g.dir.clone());
        return Err(PkiError::AlreadyInitialised { dir }.into());
    }

    let mut org = args.org.clone().unwrap_or_else(|| "Acme".into());
    let mut td = args.trust_domain.clone().unwrap_or_else(|| "acme.internal".into());
    let mut key_type: KeyType = args.key_type.map_or(KeyType::P256, Into::into);
    if interactive {
        ctx.say(format!("Setting up a private CA in {}\n", g.dir.display()));
        if args.org.is_none() {
            org = ask(ctx, "Organisation name", &org)?;
        }
        if args.trust_domain.is_none() {
            td = ask(ctx, "Trust domain / internal DNS suffix", &td)?;
        }
        if args.key_type.is_none() {
            key_type = loop {
                let answer = ask(ctx, "Key type (p256, p384, ed25519 or rsa3072)", "p256")?;
                match KeyType::parse(&answer) {
                    Some(k) => break k,
                    None => ctx.say(format!("Please answer {}.", KeyType::CHOICES)),
                }
            };
        }
    }
    let mut base_url = args.base_url.as_deref().map(pki_core::settings::check_base_url).transpose()?;
    if interactive && args.base_url.is_none() {
        base_url = loop {
            let a = ask(
                ctx,
                "Base URL where CRLs and CA certificates will be published (e.g. http://pki.acme.internal; none: not yet)",
                "none",
            )?;
            if a == "none" {
                break None;
            }
            match pki_core::settings::check_base_url(&a) {
                Ok(u) => break Some(u),
                Err(e) => ctx.say(format!("{e}; try again.")),
            }
        };
    }
    let td = td.trim().trim_end_matches('.').to_ascii_lowercase();
    certs::check_dns_name(&td, false).map_err(|why| PkiError::BadName {
        kind: "trust domain",
        value: td.clone(),
        why,
    })?;
    super::check_cn("--org", &org)?;
    let root_cn = args.root_cn.clone().unwrap_or_else(|| format!("{org} Root CA"));
    super::check_cn("--root-cn", &root_cn)?;

    // Passphrases: the root's from the usual sources (or asked twice), the issuing CA's from
    // --new-passphrase-file, else asked (Enter = same as the root), else the root's.
    let root_pass: Option<Secret> =
        if args.no_passphrase { None } else { Some(ctx.pass.new_primary("the root CA key")?) };
    let int_pass: Option<Secret> = match (&root_pass, &args.new_passphrase_file) {
        (None, _) => None,
        (Some(_), Some(f)) => Some(pki_core::context::strong_passphrase(
            read_passphrase_file(f)?,
            &f.display().to_string(),
            &format!("the '{}' CA key", args.intermediate),
        )?),
        (Some(rp), None) if interactive => loop {
            let p = zeroize::Zeroizing::new(
                rpassword::prompt_password(format!(
                    "Passphrase for the '{}' CA key (Enter = same as the root's): ",
                    args.intermediate
                ))
                .context("could not read the passphrase from the terminal")?,
            );
            if p.is_empty() {
                break Some(rp.clone());
            }
            if let Some(why) = pki_core::context::weak_passphrase(&p) {
                ctx.say(format!("Too weak: {why} (a few words make a good one); try again."));
                continue;
            }
            let again = zeroize::Zeroizing::new(
                rpassword::prompt_password("Repeat it: ").context("could not read the passphrase")?,
            );
            if again == p {
                break Some(p);
            }
            ctx.say("The two passphrases differ; try again.");
        },
        (Some(rp), None) => Some(rp.clone()),
    };

    // Built beside the target and moved into place at the end: an interrupted init (Ctrl-C, a
    // kill) leaves no half-made CA directory behind.
    let dir = CaDir::create_staged(&g.dir)?;
    let root = setup::create_root(
        &dir,
        &RootRequest { name: "root", cn: &root_cn, org: Some(&org), trust_domain: Some(&td), key_type, ttl: root_ttl },
        root_pass.as_ref(),
        timeout,
        &ctx.core(),
    )?;
    // The root's publication URLs go in before the intermediate is made: its certificate
    // carries them (CRL distribution point, CA issuers).
    if let Some(base) = &base_url {
        let lock = dir.lock(timeout)?;
        let text = settings::set_default(&dir.read_settings_text()?, "base_url", base)?;
        let text = settings::set_publication_urls(&text, "root", base)?;
        lock.write_settings(&text, &ctx.actor, &certs::rfc3339(ctx.now))?;
    }
    ctx.pass.given = root_pass.clone();
    let req = IntermediateRequest {
        name: args.intermediate.clone(),
        cn: format!("{org} {} CA", args.intermediate),
        org: Some(org.clone()),
        key_type,
        ttl: int_ttl.min(root_ttl),
        path_len: 0,
        constraints: Constraints::default(),
        spire: None,
    };
    let int = setup::create_intermediate(&dir, &root, &req, || Ok(int_pass.clone()), timeout, &ctx.core())?;
    ctx.pass.given = None;

    {
        let lock = dir.lock(timeout)?;
        let text = dir.read_settings_text()?;
        let text = settings::set_default(&text, "ca", &int.name)? + &settings::default_profiles(&td, &int.name);
        let text = settings::set_default(&text, "profile", "server")?;
        // Suggested publication URLs: uncomment once a web server serves DIR/crl/ (README).
        let text = if base_url.is_some() { text } else { suggest_urls(&text, &td, &int.name) };
        lock.write_settings(&text, &ctx.actor, &certs::rfc3339(ctx.now))?;
    }

    // The root's first CRL (create_intermediate made the intermediate's), so relying parties
    // (nginx, `openssl -crl_check_all`) have one per CA from the start.
    let settings = pki_core::settings::Settings::parse(&dir.read_settings_text()?, "pki.toml")?;
    ctx.pass.given = root_pass.clone();
    let issuer = std::sync::Arc::new(root.unlock(&dir, &ctx.core(), None)?);
    {
        let lock = dir.lock(timeout)?;
        pki_core::crl::generate(&dir, &lock, &root, &issuer, pki_core::crl::lifetime(&settings, &root)?, &ctx.core())?;
    }
    ctx.pass.given = None;
    dir.publish(&g.dir)?;

    let d = g.dir.display();
    ctx.say(format!(
        "\nCreated a private CA in {d}:\n  root CA     {} (until {})\n  issuing CA  {} (until {})\n  profiles    server, client, agent (in {d}/pki.toml)\n  CRLs        {d}/crl/root.crl, {d}/crl/{}.crl\n  keys        {}\n",
        root.subject,
        certs::rfc3339(root.not_after),
        int.subject,
        certs::rfc3339(int.not_after),
        int.name,
        if root_pass.is_some() { "encrypted with your passphrase(s)" } else { "UNENCRYPTED (--no-passphrase)" },
    ));
    let dir_flag = if g.dir.as_os_str() == "pki" { String::new() } else { format!("--dir {d} ") };
    ctx.say(format!(
        "Next:\n  pki {dir_flag}issue --dns api.{td} --ttl 24h --out ./api     # a server certificate\n  pki {dir_flag}issue --profile agent --spiffe-id spiffe://{td}/agent/1 --out - --json   # an agent identity\n  pki {dir_flag}list                                              # what has been issued"
    ));
    Ok(Exit::Success)
}
