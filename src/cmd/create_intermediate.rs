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
    // SPIRE signs its own CA (CA:TRUE, URI SAN spiffe://TD) under this one: the checks SPIRE
    // and Go's verifier would fail at SPIRE's start are made here, in one line each.
    let spire = match (&args.for_spire, &args.trust_domain) {
        (true, Some(td)) => {
            let td = td.trim().trim_start_matches("spiffe://").trim_end_matches('/').to_ascii_lowercase();
            pki_core::policy::check_spiffe_id(&format!("spiffe://{td}/x"), false)
                .map_err(|e| anyhow::anyhow!("invalid --trust-domain '{td}': {e}"))?;
            if args.path_len == Some(0) {
                anyhow::bail!(
                    "--for-spire with --path-len 0: SPIRE signs its own CA under this one, which a path length of 0 forbids; omit --path-len (1) or give 1 or more"
                );
            }
            if c.permit_uri.iter().any(|h| *h != td) {
                anyhow::bail!(
                    "--for-spire: a URI name constraint other than the trust domain {td} would reject SPIRE's own CA (its URI is spiffe://{td})"
                );
            }
            let ca_ttl = duration::parse_lifetime("--spire-ca-ttl", &args.spire_ca_ttl)?;
            if ca_ttl >= ttl {
                anyhow::bail!(
                    "--for-spire: --ttl {} is not longer than SPIRE's ca_ttl {}: SPIRE's CA would be cut short from the start",
                    args.ttl,
                    args.spire_ca_ttl
                );
            }
            Some((td, args.spire_ca_ttl.clone()))
        }
        _ => None,
    };
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
        path_len: args.path_len.unwrap_or(if spire.is_some() { 1 } else { 0 }),
        constraints: c,
        spire: spire.clone(),
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
    if let Some((td, ca_ttl)) = &spire {
        ctx.say(format!(
            "for SPIRE (trust domain {td}): SPIRE's ca_ttl ({ca_ttl}) fits while this CA has that long left, until {}; pki issues nothing from it; give SPIRE its files with `pki export {} --spire DIR`",
            certs::rfc3339(ca.not_after - time::Duration::seconds(duration::parse_lifetime("--spire-ca-ttl", ca_ttl)?.as_secs() as i64)),
            ca.name
        ));
    }
    Ok(Exit::Success)
}
