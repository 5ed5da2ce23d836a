//! `pki create-intermediate`: an issuing CA signed by the root, with optional name constraints.

use anyhow::Result;

use crate::cli::{CreateIntermediateArgs, GlobalArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::ca::{Ca, check_ca_name};
use pki_core::certs::{self, Constraints};
use pki_core::duration;
use pki_core::setup::{self, IntermediateRequest};
use pki_core::store::CaDir;

pub fn run(args: CreateIntermediateArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    check_ca_name(&args.name)?;
    check_ca_name(&args.parent)?;
    let ttl = duration::parse_lifetime("--ttl", &args.ttl)?;
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
    let org = args.org.clone().or_else(|| setup::org_of(&parent.subject));
    let cn = args.cn.clone().unwrap_or_else(|| match &org {
        Some(o) => format!("{o} {} CA", args.name),
        None => format!("{} CA", args.name),
    });
    super::check_cn("--cn", &cn)?;
    let req = IntermediateRequest {
        name: args.name.clone(),
        cn,
        org,
        key_type: args.key_type.into(),
        ttl,
        path_len: args.path_len,
        constraints: c,
    };
    let new_pass = || match (args.no_passphrase, args.new_passphrase_file.as_deref()) {
        (true, _) => Ok(None),
        (false, file) => ctx.pass.new_secondary(file, &format!("CA '{}'", args.name)).map(Some),
    };
    let ca = setup::create_intermediate(&dir, &parent, &req, new_pass, timeout, &ctx.core())?;
    ctx.say(format!(
        "created intermediate CA '{}' ({}, signed by '{}', valid until {})",
        ca.name,
        ca.subject,
        parent.name,
        certs::rfc3339(ca.not_after)
    ));
    Ok(Exit::Success)
}
