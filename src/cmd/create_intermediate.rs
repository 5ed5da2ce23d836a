//! `pki create-intermediate`: an issuing CA signed by the root, with optional name constraints.

use anyhow::Result;
use serde_json::json;

use crate::ca::{Ca, check_ca_name};
use crate::certs::{self, Constraints, IntermediateSpec};
use crate::cli::{CreateIntermediateArgs, GlobalArgs, KeyType};
use crate::ctx::{Ctx, Secret};
use crate::exit::{Exit, PkiError};
use crate::store::{CaDir, NewCa};
use crate::{duration, keys, settings};

pub struct IntermediateRequest {
    pub name: String,
    pub cn: String,
    pub org: Option<String>,
    pub key_type: KeyType,
    pub ttl: std::time::Duration,
    pub path_len: u8,
    pub constraints: Constraints,
}

pub fn run(args: CreateIntermediateArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    check_ca_name(&args.name)?;
    check_ca_name(&args.parent)?;
    let ttl = duration::parse("--ttl", &args.ttl)?;
    let timeout = super::lock_timeout(g)?;
    let mut c = Constraints::default();
    for d in &args.permit_dns {
        c.permit_dns.push(certs::dns_suffix("--permit-dns", d)?);
    }
    for d in &args.exclude_dns {
        c.exclude_dns.push(certs::dns_suffix("--exclude-dns", d)?);
    }
    for i in &args.permit_ip {
        c.permit_ip.push(certs::parse_cidr("--permit-ip", i)?);
    }
    for i in &args.exclude_ip {
        c.exclude_ip.push(certs::parse_cidr("--exclude-ip", i)?);
    }
    for h in &args.permit_uri_host_dangerous {
        // The constraint is a host (RFC 5280 4.2.1.10), not a URI: `acme.internal`.
        let host = h.strip_prefix("spiffe://").unwrap_or(h).trim_end_matches('/');
        c.permit_uri.push(certs::dns_suffix("--permit-uri-host-dangerous", host)?);
    }
    if !c.permit_uri.is_empty() {
        ctx.say(
            "warning: a URI name constraint makes rustls-webpki (every rustls client and server) reject all chains through this CA",
        );
    }
    let dir = CaDir::open(&g.dir)?;
    let parent = Ca::load(&dir, &args.parent)?;
    let org = args.org.clone().or_else(|| org_of(&parent.subject));
    let cn = args.cn.clone().unwrap_or_else(|| match &org {
        Some(o) => format!("{o} {} CA", args.name),
        None => format!("{} CA", args.name),
    });
    super::check_cn("--cn", &cn)?;
    let req = IntermediateRequest {
        name: args.name.clone(),
        cn,
        org,
        key_type: args.key_type,
        ttl,
        path_len: args.path_len,
        constraints: c,
    };
    let ca = create(
        &dir,
        &parent,
        &req,
        NewKeyPass::Source(args.new_passphrase_file.as_deref(), args.no_passphrase),
        timeout,
        ctx,
    )?;
    ctx.say(format!(
        "created intermediate CA '{}' ({}, signed by '{}', valid until {})",
        ca.name,
        ca.subject,
        parent.name,
        certs::rfc3339(ca.not_after)
    ));
    Ok(Exit::Success)
}

/// The organisation (O=) of a subject printed by x509-parser, if any.
pub fn org_of(subject: &str) -> Option<String> {
    subject.split(", ").find_map(|p| p.strip_prefix("O=")).map(str::to_string)
}

/// Where the new key's passphrase comes from.
pub enum NewKeyPass<'a> {
    /// `--new-passphrase-file` (or prompt), or unencrypted when the bool is set.
    Source(Option<&'a std::path::Path>, bool),
    /// Already decided by the caller (`pki init`).
    Given(Option<Secret>),
}

pub fn create(
    dir: &CaDir,
    parent: &Ca,
    req: &IntermediateRequest,
    pass: NewKeyPass<'_>,
    timeout: std::time::Duration,
    ctx: &Ctx,
) -> Result<Ca> {
    if dir.ca_dir(&req.name).exists() {
        return Err(PkiError::CaExists { name: req.name.clone(), dir: dir.root.clone() }.into());
    }
    let not_before = ctx.now;
    let not_after = certs::not_after(ctx.now, req.ttl)?;
    if not_after > parent.not_after {
        return Err(PkiError::OutlivesIssuer {
            what: format!("intermediate CA '{}'", req.name),
            not_after: certs::rfc3339(not_after),
            issuer: parent.name.clone(),
            issuer_not_after: certs::rfc3339(parent.not_after),
        }
        .into());
    }
    let settings = crate::settings::Settings::parse(&dir.read_settings_text()?, "pki.toml")?;
    let pf = settings.ca.get(&parent.name).and_then(|c| c.passphrase_file.clone());
    let issuer = parent.unlock(dir, ctx, pf.as_deref())?;
    let new_pass = match pass {
        NewKeyPass::Given(p) => p,
        NewKeyPass::Source(_, true) => None,
        NewKeyPass::Source(file, false) => Some(ctx.pass.new_secondary(file, &format!("CA '{}'", req.name))?),
    };
    let key = keys::generate(req.key_type)?;
    let key_pem = keys::to_pem(&key.der, new_pass.as_ref())?;
    let public = key.pair;
    let spec = IntermediateSpec {
        cn: &req.cn,
        org: req.org.as_deref(),
        path_len: req.path_len,
        constraints: req.constraints.clone(),
        not_before,
        not_after,
        urls: crate::certs::IssuerUrls {
            crl_url: settings.ca.get(&parent.name).and_then(|c| c.crl_url.clone()),
            ca_issuers_url: settings.ca.get(&parent.name).and_then(|c| c.ca_issuers_url.clone()),
        },
    };
    let cert = certs::build_intermediate(&spec, &public, &issuer)?;
    let lock = dir.lock(timeout)?;
    lock.create_ca(
        NewCa {
            name: &req.name,
            cert_pem: &cert.pem(),
            key_pem: &key_pem,
            data: json!({
                "name": req.name,
                "kind": "intermediate",
                "parent": parent.name,
                "subject": format!("CN={}", req.cn),
                "key_type": req.key_type.name(),
                "not_after": certs::rfc3339(not_after),
                "encrypted": new_pass.is_some(),
                "path_len": req.path_len,
                "permit_dns": req.constraints.permit_dns,
                "exclude_dns": req.constraints.exclude_dns,
                "permit_ip": req.constraints.permit_ip.iter().map(|(ip, l)| format!("{ip}/{l}")).collect::<Vec<_>>(),
                "exclude_ip": req.constraints.exclude_ip.iter().map(|(ip, l)| format!("{ip}/{l}")).collect::<Vec<_>>(),
                "permit_uri": req.constraints.permit_uri,
            }),
        },
        &ctx.actor,
        &certs::rfc3339(ctx.now),
    )?;
    let text = dir.read_settings_text()?;
    lock.write_settings(&settings::add_ca(&text, &req.name, Some(&parent.name), None)?)?;
    drop(lock);
    Ca::load(dir, &req.name)
}
