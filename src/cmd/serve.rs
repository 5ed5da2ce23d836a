//! `pki serve`: runs the HTTP(S) server of `pki-serve` over the directory until SIGTERM.
//! Flags win over `[serve]` in pki.toml, which wins over the defaults.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Result, anyhow, bail};

use crate::cli::{GlobalArgs, ServeArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

fn listen_addr(v: &str, from: &str) -> Result<SocketAddr> {
    v.parse().map_err(|_| anyhow!("invalid listen address '{v}' ({from}): give IP:PORT, e.g. 127.0.0.1:8080"))
}

pub fn run(args: ServeArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let dir = pki_core::store::CaDir::open(&g.dir)?;
    let file = dir.path("pki.toml").display().to_string();
    let settings = pki_core::settings::Settings::parse(&dir.read_settings_text()?, &file)?;
    let serve = &settings.serve;
    let addr = match (&args.http, &serve.http) {
        (Some(v), _) => listen_addr(v, "--http")?,
        (None, Some(v)) => listen_addr(v, &format!("{file}: [serve] http"))?,
        (None, None) => listen_addr("127.0.0.1:8080", "the default")?,
    };
    let poll = match (&args.poll, &serve.poll) {
        (Some(v), _) => pki_core::duration::parse("--poll", v)?,
        (None, Some(v)) => pki_core::duration::parse("[serve] poll", v)?,
        (None, None) => std::time::Duration::from_secs(1),
    };
    if poll.is_zero() || poll > std::time::Duration::from_secs(3600) {
        bail!("invalid poll interval: from 1ms to 1h");
    }
    let mut cfg = pki_serve::Config::new(g.dir.clone(), addr);
    cfg.poll = poll;
    cfg.https = match (&args.https, &serve.https) {
        (Some(v), _) => Some(listen_addr(v, "--https")?),
        (None, Some(v)) => Some(listen_addr(v, &format!("{file}: [serve] https"))?),
        (None, None) => None,
    };
    cfg.tls = tls_source(&args, serve, cfg.https)?;
    let names = if args.ca.is_empty() { serve.cas.clone() } else { args.ca.clone() };
    // Unlocked before listening: a wrong passphrase is one line at start, not a stale CRL later.
    let mut signers: Vec<pki_serve::Signer> =
        names.iter().map(|n| pki_serve::Signer::unlock(&dir, &settings, n, &ctx.core())).collect::<Result<_>>()?;
    if let Some(pki_serve::tls::Source::Issue(own)) = &cfg.tls {
        // Checked against the profile before any key is unlocked for it.
        own.check(&dir)?;
        if !signers.iter().any(|s| s.ca.name == own.ca) {
            let mut s = pki_serve::Signer::unlock(&dir, &settings, &own.ca, &ctx.core())?;
            s.keeps_crl = false;
            signers.push(s);
        }
    }
    // ACME: every profile with acme = true, from the CA it issues from (unlocked like
    // --tls-ca's when not already).
    for (name, spec) in &settings.profiles {
        if !spec.acme {
            continue;
        }
        let profile = settings.profile(name, &file)?;
        let ca = pki_core::ca::issuing_ca(&dir, &settings, profile.ca.as_deref())?;
        if !signers.iter().any(|s| s.ca.name == ca) {
            let mut s = pki_serve::Signer::unlock(&dir, &settings, &ca, &ctx.core())?;
            s.keeps_crl = false;
            signers.push(s);
        }
        cfg.acme_profiles.insert(name.clone(), pki_serve::acme::Directory { ca, eab_required: profile.acme_eab });
    }
    cfg.acme = acme_settings(&args, &serve.acme, &file)?;
    // Attestation: every [attest.NAME], its profile's CA unlocked the same way.
    for name in settings.attest.keys() {
        let policy = settings.attest_policy(name, &file)?;
        let profile = settings.profile(&policy.profile, &file)?;
        let ca = pki_core::ca::issuing_ca(&dir, &settings, profile.ca.as_deref())?;
        if !signers.iter().any(|s| s.ca.name == ca) {
            let mut s = pki_serve::Signer::unlock(&dir, &settings, &ca, &ctx.core())?;
            s.keeps_crl = false;
            signers.push(s);
        }
        cfg.attest.push(pki_serve::attest::PolicyConfig { policy, ca });
    }
    cfg.ui = ui_settings(&settings, &file)?;
    if args.check {
        let p = pki_serve::check(&cfg)?;
        for path in p.objects.keys() {
            writeln_out(ctx, path)?;
        }
        let https = match (&cfg.https, &cfg.tls) {
            (Some(a), Some(pki_serve::tls::Source::Issue(own))) => {
                format!(" and https://{a} (certificate from CA '{}')", own.ca)
            }
            (Some(a), Some(pki_serve::tls::Source::Files { cert, .. })) => {
                // Read now, as serve would at start: a bad file is found by --check.
                pki_serve::tls::Tls::start(&cfg.dir, cfg.tls.clone().expect("set"), &[])?;
                format!(" and https://{a} (certificate {})", cert.display())
            }
            _ => String::new(),
        };
        let acme = match (&cfg.https, cfg.acme_profiles.is_empty()) {
            (_, true) => String::new(),
            (Some(a), false) => format!(
                "; ACME at {}",
                cfg.acme_profiles
                    .keys()
                    .map(|p| format!("https://{a}/acme/{p}/directory"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (None, false) => format!(
                "; profiles with acme = true ({}) are not served without --https",
                cfg.acme_profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        let attest = match (&cfg.https, cfg.attest.is_empty()) {
            (_, true) => String::new(),
            (Some(a), false) => format!(
                "; attestation at {}",
                cfg.attest
                    .iter()
                    .map(|p| format!("https://{a}/attest/{}", p.policy.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (None, false) => format!(
                "; attestation policies ({}) are not served without --https",
                cfg.attest.iter().map(|p| p.policy.name.clone()).collect::<Vec<_>>().join(", ")
            ),
        };
        let ui = if !cfg.ui.enabled {
            String::new()
        } else {
            let open = addr.ip().is_loopback() && cfg.ui.open_on_loopback;
            let mut ways = vec![];
            if cfg.ui.token_sha256.is_some() {
                ways.push("the token".to_string());
            }
            if !cfg.ui.client_profiles.is_empty() {
                ways.push(format!("a client certificate of {}", cfg.ui.client_profiles.join(", ")));
            }
            let how = match (open, ways.is_empty()) {
                (true, _) => "open on loopback".to_string(),
                (false, true) => "closed: no token_file or client_profiles in [serve.ui]".to_string(),
                (false, false) => format!("with {}", ways.join(" or ")),
            };
            format!("; the page at http://{addr}/ui/ ({how})")
        };
        ctx.say(format!(
            "ok: {} object(s) to serve on http://{addr}{https} ({} CRL(s){}){acme}{attest}{ui}",
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
    let keeps: Vec<String> = signers.iter().filter(|s| s.keeps_crl).map(|s| s.ca.name.clone()).collect();
    let acme: Vec<String> = cfg.acme_profiles.keys().cloned().collect();
    let attest: Vec<String> = cfg.attest.iter().map(|p| p.policy.name.clone()).collect();
    pki_serve::run(cfg, signers, |l| {
        let mut fields = serde_json::json!({"http": format!("http://{}", l.http), "keeps_crls_fresh_for": keeps, "max_connections": l.max_connections});
        if let Some((a, serial)) = &l.https {
            fields["https"] = format!("https://{a}").into();
            fields["tls_serial"] = serial.clone().into();
        }
        if let Some(a) = &l.https
            && !acme.is_empty()
        {
            fields["acme"] =
                acme.iter().map(|p| format!("https://{}/acme/{p}/directory", a.0)).collect::<Vec<_>>().into();
        }
        if let Some(a) = &l.https
            && !attest.is_empty()
        {
            fields["attest"] = attest.iter().map(|p| format!("https://{}/attest/{p}", a.0)).collect::<Vec<_>>().into();
        }
        pki_serve::log("info", "listening", fields);
    })?;
    Ok(Exit::Success)
}

/// `[serve.ui]`: the page's access rules, checked (the token file read, the profiles known).
fn ui_settings(settings: &pki_core::settings::Settings, file: &str) -> Result<pki_serve::ui::Settings> {
    let u = &settings.serve.ui;
    let mut out = pki_serve::ui::Settings {
        enabled: u.enabled.unwrap_or(true),
        open_on_loopback: u.open_on_loopback.unwrap_or(true),
        ..Default::default()
    };
    if let Some(f) = &u.token_file {
        let t =
            std::fs::read_to_string(f).map_err(|e| anyhow!("{file}: [serve.ui] token_file {}: {e}", f.display()))?;
        let t = t.trim();
        if t.chars().count() < 20 {
            bail!("{file}: [serve.ui] token_file {}: the token is shorter than 20 characters", f.display());
        }
        out.token_sha256 = Some(pki_serve::ui::digest(t.as_bytes()));
    }
    for p in &u.client_profiles {
        settings.profile(p, file).map_err(|e| anyhow!("[serve.ui] client_profiles: {e:#}"))?;
    }
    out.client_profiles = u.client_profiles.clone();
    if let Some(w) = &u.window {
        out.window = pki_core::duration::parse("[serve.ui] window", w)?;
    }
    Ok(out)
}

/// Where the HTTPS certificate comes from: --tls-cert/--tls-key, else --tls-ca, else the same
/// in [serve]. Either without an HTTPS listener is a mistake worth one line.
fn tls_source(
    args: &ServeArgs,
    serve: &pki_core::settings::ServeSettings,
    https: Option<SocketAddr>,
) -> Result<Option<pki_serve::tls::Source>> {
    let files = match (&args.tls_cert, &args.tls_key, &args.tls_ca) {
        (Some(c), Some(k), _) => Some((c.clone(), k.clone())),
        (None, None, None) => match (&serve.tls_cert, &serve.tls_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (None, None) => None,
            _ => bail!("[serve] tls_cert and tls_key go together"),
        },
        _ => None,
    };
    let ca = args.tls_ca.clone().or_else(|| if files.is_none() { serve.tls_ca.clone() } else { None });
    let Some(https) = https else {
        if files.is_some() || ca.is_some() {
            bail!("a TLS certificate is configured but no HTTPS listener: give --https ADDR (or [serve] https)");
        }
        return Ok(None);
    };
    if let Some((cert, key)) = files {
        return Ok(Some(pki_serve::tls::Source::Files { cert, key }));
    }
    let Some(ca) = ca else {
        bail!(
            "--https needs a certificate: --tls-ca CA (serve issues and renews its own) or --tls-cert FILE --tls-key FILE"
        );
    };
    let ttl = args.tls_ttl.clone().or_else(|| serve.tls_ttl.clone()).unwrap_or_else(|| "24h".into());
    pki_core::duration::parse("--tls-ttl", &ttl)?;
    let dns = if args.tls_name.is_empty() { serve.tls_names.clone() } else { args.tls_name.clone() };
    // The listen address goes in unless it is a wildcard one (0.0.0.0, ::), which no client
    // connects to by that address.
    let ips: Vec<IpAddr> = if https.ip().is_unspecified() { vec![] } else { vec![https.ip()] };
    if dns.is_empty() && ips.is_empty() {
        bail!("--https {https} listens on every address: name the host the certificate is for with --tls-name DNS");
    }
    Ok(Some(pki_serve::tls::Source::Issue(pki_serve::tls::OwnCert {
        ca,
        profile: args.tls_profile.clone().or_else(|| serve.tls_profile.clone()),
        dns,
        ips,
        ttl,
    })))
}

/// The ACME validation settings: flags, else [serve.acme], else the defaults.
fn acme_settings(
    args: &ServeArgs,
    a: &pki_core::settings::AcmeSettings,
    file: &str,
) -> Result<pki_serve::acme::Settings> {
    let resolver = match (&args.acme_dns_resolver, &a.dns_resolver) {
        (Some(v), _) => Some((v.clone(), "--acme-dns-resolver".to_string())),
        (None, Some(v)) => Some((v.clone(), format!("{file}: [serve.acme] dns_resolver"))),
        _ => None,
    };
    let dns_resolver = resolver
        .map(|(v, from)| {
            v.parse::<SocketAddr>()
                .map_err(|_| anyhow!("invalid DNS server '{v}' ({from}): give IP:PORT, e.g. 127.0.0.1:53"))
        })
        .transpose()?;
    let base_url = args.acme_base_url.clone().or_else(|| a.base_url.clone());
    if let Some(u) = &base_url
        && (!u.starts_with("https://")
            || u.len() <= 8
            || u.contains(char::is_whitespace)
            || u[8..].contains('/') && !u.ends_with('/'))
    {
        bail!("invalid ACME base URL '{u}': give https://HOST[:PORT], as clients reach serve");
    }
    Ok(pki_serve::acme::Settings {
        base_url,
        http01_port: args.acme_http01_port.or(a.http01_port).unwrap_or(80),
        tlsalpn01_port: args.acme_tlsalpn01_port.or(a.tlsalpn01_port).unwrap_or(443),
        dns_resolver,
    })
}

fn writeln_out(ctx: &mut Ctx, line: &str) -> Result<()> {
    use std::io::Write;
    writeln!(ctx.out, "{line}")?;
    Ok(())
}
