//! `pki issue`: generate a key and issue a leaf certificate from an intermediate CA.
//!
//! The request is validated completely (names, lifetime, output files, passphrases) before
//! the CA directory is locked, so a refused request writes nothing.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::ca::{self, Ca};
use crate::certs::{self, LeafSpec};
use crate::cli::{GlobalArgs, IssueArgs, KeyType};
use crate::ctx::{Ctx, read_passphrase_file};
use crate::exit::{Exit, PkiError};
use crate::outfiles::{self, Staged};
use crate::serial::Serial;
use crate::settings::Settings;
use crate::store::{CaDir, InventoryRecord, Status, sha256_hex};
use crate::{duration, keys};

const OUT_FILES: [&str; 5] = [
    "cert.pem",
    "key.pem",
    "chain.pem",
    "fullchain.pem",
    "root.pem",
];

#[derive(Debug, Serialize)]
struct Issued {
    serial: String,
    subject: String,
    sans: Vec<String>,
    not_before: String,
    not_after: String,
    issuer: String,
    ca: String,
    key_type: String,
    sha256: String,
    files: Files,
}

#[derive(Debug, Serialize)]
struct Files {
    cert: PathBuf,
    key: PathBuf,
    chain: PathBuf,
    fullchain: PathBuf,
    root: PathBuf,
}

/// Names from the command line, checked and normalised.
struct Names {
    cn: String,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    uris: Vec<String>,
}

fn names(args: &IssueArgs) -> Result<Names> {
    let mut dns = vec![];
    for d in &args.dns {
        let n = d.trim().trim_end_matches('.').to_ascii_lowercase();
        certs::check_dns_name(&n, true).map_err(|why| PkiError::BadName {
            kind: "--dns name",
            value: d.clone(),
            why,
        })?;
        if !dns.contains(&n) {
            dns.push(n);
        }
    }
    let mut ips = vec![];
    for i in &args.ip {
        let ip: IpAddr = i.trim().parse().map_err(|_| PkiError::BadName {
            kind: "--ip address",
            value: i.clone(),
            why: "expected an IPv4 or IPv6 address such as 10.0.0.7".into(),
        })?;
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    let mut uris = vec![];
    for u in &args.uri {
        certs::check_uri(u).map_err(|why| PkiError::BadName {
            kind: "--uri",
            value: u.clone(),
            why,
        })?;
        if !uris.contains(u) {
            uris.push(u.clone());
        }
    }
    if let Some(cn) = &args.cn {
        super::check_cn("--cn", cn)?;
        // A CN alone is also a SAN when it is a name a client can check (what step does).
        if dns.is_empty() && ips.is_empty() && uris.is_empty() {
            if let Ok(ip) = cn.parse::<IpAddr>() {
                ips.push(ip);
            } else if certs::check_dns_name(&cn.to_ascii_lowercase(), true).is_ok()
                && cn.contains('.')
            {
                dns.push(cn.to_ascii_lowercase());
            }
        }
    }
    if dns.is_empty() && ips.is_empty() && uris.is_empty() {
        return Err(PkiError::NoSan.into());
    }
    let cn = match &args.cn {
        Some(c) => c.clone(),
        None => dns
            .first()
            .cloned()
            .or_else(|| uris.first().cloned())
            .unwrap_or_else(|| ips[0].to_string()),
    };
    if cn.chars().count() > 64 {
        anyhow::bail!(
            "the first SAN '{cn}' is longer than 64 characters and cannot be the common name: give a shorter --cn"
        );
    }
    Ok(Names { cn, dns, ips, uris })
}

/// A directory name derived from the CN, for when `--out` is not given.
fn default_out(cn: &str) -> PathBuf {
    let s: String = cn
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(s.trim_start_matches('.'))
}

pub fn run(args: IssueArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let names = names(&args)?;
    let timeout = super::lock_timeout(g)?;
    let ttl_flag = args
        .ttl
        .as_deref()
        .map(|t| duration::parse("--ttl", t))
        .transpose()?;
    let key_pass = args
        .key_passphrase_file
        .as_deref()
        .map(read_passphrase_file)
        .transpose()?;
    let out_dir = args.out.clone().unwrap_or_else(|| default_out(&names.cn));
    outfiles::check_targets(&out_dir, &OUT_FILES, args.force)?;

    let dir = CaDir::open(&g.dir)?;
    let settings = Settings::parse(
        &dir.read_settings_text()?,
        &dir.path("pki.toml").display().to_string(),
    )?;
    let ca_name = ca::issuing_ca(&dir, &settings, args.ca.as_deref())?;
    let chain = Ca::chain(&dir, &ca_name)?;
    let issuer_ca = &chain[0];
    let ttl = match ttl_flag {
        Some(t) => t,
        None => {
            let (flag, v) = match settings
                .ca
                .get(&ca_name)
                .and_then(|c| c.default_ttl.as_deref())
            {
                Some(v) => (format!("[ca.{ca_name}] default_ttl"), v),
                None => (
                    "[defaults] leaf_ttl".to_string(),
                    settings.defaults.leaf_ttl.as_deref().unwrap_or("24h"),
                ),
            };
            duration::parse(&flag, v)?
        }
    };
    let key_type = args
        .key_type
        .or(settings.defaults.key_type)
        .unwrap_or(KeyType::P256);
    if ctx.now >= issuer_ca.not_after {
        anyhow::bail!(
            "CA '{ca_name}' expired at {}: create a new intermediate with `pki create-intermediate`",
            certs::rfc3339(issuer_ca.not_after)
        );
    }
    let not_before = (ctx.now - certs::BACKDATE).max(issuer_ca.not_before);
    let not_after = certs::not_after(ctx.now, ttl)?;
    if not_after > issuer_ca.not_after {
        return Err(PkiError::OutlivesIssuer {
            what: "the certificate".into(),
            not_after: certs::rfc3339(not_after),
            issuer: ca_name.clone(),
            issuer_not_after: certs::rfc3339(issuer_ca.not_after),
        }
        .into());
    }

    // Expensive and failure-prone work happens before the lock: unlocking the CA key (the
    // KDF is deliberately slow) and generating the leaf key.
    let issuer = issuer_ca.unlock(&dir, ctx)?;
    let leaf_key = keys::generate(key_type)?;
    let leaf_pub = keys::load_signing_key(
        &keys::to_pem(&leaf_key.der, None)?,
        &out_dir.join("key.pem"),
        || unreachable!(),
    )?;
    let key_pem = keys::to_pem(&leaf_key.der, key_pass.as_ref())?;

    let lock = dir.lock(timeout)?;
    let serial = loop {
        let s = Serial::random()?;
        if lock.serial_is_free(&s) {
            break s;
        }
    };
    let spec = LeafSpec {
        cn: names.cn.clone(),
        dns: names.dns,
        ips: names.ips,
        uris: names.uris,
        not_before,
        not_after,
        serial,
    };
    let cert = certs::build_leaf(&spec, &leaf_pub, &issuer)?;
    let cert_pem = cert.pem();
    let fingerprint = sha256_hex(cert.der());
    let rec = InventoryRecord {
        serial: spec.serial.hex(),
        status: Status::Valid,
        not_before: certs::rfc3339(not_before),
        not_after: certs::rfc3339(not_after),
        revoked_at: None,
        reason: None,
        replaced_by: None,
        ca: ca_name.clone(),
        profile: None,
        key_type: key_type.name().to_string(),
        subject: format!("CN={}", spec.cn),
        sans: spec.san_strings(),
    };

    // Stage the user's files first, so a full disk or a read-only --out fails before the commit.
    let chain_pem: String = chain[..chain.len() - 1]
        .iter()
        .map(|c| c.pem.as_str())
        .collect();
    let root_pem = &chain[chain.len() - 1].pem;
    let mut staged = Staged::default();
    let files = Files {
        cert: staged.stage(&out_dir, "cert.pem", cert_pem.as_bytes(), 0o644)?,
        key: staged.stage(&out_dir, "key.pem", key_pem.as_bytes(), 0o600)?,
        chain: staged.stage(&out_dir, "chain.pem", chain_pem.as_bytes(), 0o644)?,
        fullchain: staged.stage(
            &out_dir,
            "fullchain.pem",
            format!("{cert_pem}{chain_pem}").as_bytes(),
            0o644,
        )?,
        root: staged.stage(&out_dir, "root.pem", root_pem.as_bytes(), 0o644)?,
    };
    lock.commit_issue(
        &rec,
        &cert_pem,
        &fingerprint,
        &ctx.actor,
        &certs::rfc3339(ctx.now),
    )?;
    drop(lock);
    staged.commit().with_context(|| {
        format!(
            "certificate {} was issued and recorded, but its files could not be written",
            rec.serial
        )
    })?;

    let out = Issued {
        serial: rec.serial.clone(),
        subject: rec.subject.clone(),
        sans: rec.sans.clone(),
        not_before: rec.not_before.clone(),
        not_after: rec.not_after.clone(),
        issuer: issuer_ca.subject.clone(),
        ca: ca_name,
        key_type: key_type.name().into(),
        sha256: fingerprint,
        files,
    };
    if args.json {
        serde_json::to_writer_pretty(&mut ctx.out, &out)?;
        writeln!(ctx.out)?;
    } else {
        writeln!(ctx.out, "{}", out.serial)?;
        ctx.say(format!(
            "issued {} [{}] until {} into {}/",
            out.subject,
            out.sans.join(", "),
            out.not_after,
            out_dir.display()
        ));
    }
    Ok(Exit::Success)
}

use std::io::Write;
