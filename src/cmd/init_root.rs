//! `pki init-root`: a self-signed root CA, its key encrypted at rest.

use anyhow::Result;
use serde_json::json;

use crate::ca::{Ca, check_ca_name};
use crate::certs;
use crate::cli::{GlobalArgs, InitRootArgs, KeyType};
use crate::ctx::{Ctx, Secret};
use crate::exit::{Exit, PkiError};
use crate::store::{CaDir, NewCa};
use crate::{duration, keys, settings};

pub struct RootRequest<'a> {
    pub name: &'a str,
    pub cn: &'a str,
    pub org: Option<&'a str>,
    pub trust_domain: Option<&'a str>,
    pub key_type: KeyType,
    pub ttl: std::time::Duration,
}

pub fn run(args: InitRootArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    check_ca_name(&args.name)?;
    super::check_cn("--cn", &args.cn)?;
    let ttl = duration::parse("--ttl", &args.ttl)?;
    let timeout = super::lock_timeout(g)?;
    if g.dir.join("cas").join(&args.name).exists() {
        return Err(PkiError::CaExists { name: args.name.clone(), dir: g.dir.clone() }.into());
    }
    let pass = if args.no_passphrase { None } else { Some(ctx.pass.new_primary("the root CA key")?) };
    let req = RootRequest {
        name: &args.name,
        cn: &args.cn,
        org: args.org.as_deref(),
        trust_domain: None,
        key_type: args.key_type,
        ttl,
    };
    let dir = CaDir::open_or_create(&g.dir)?;
    let ca = create_root(&dir, &req, pass.as_ref(), timeout, ctx)?;
    ctx.say(format!(
        "created root CA '{}' ({}, {}, valid until {}) in {}",
        ca.name,
        ca.subject,
        args.key_type.name(),
        certs::rfc3339(ca.not_after),
        dir.root.display()
    ));
    if pass.is_none() {
        ctx.say("warning: the root key is stored unencrypted (--no-passphrase)");
    }
    Ok(Exit::Success)
}

/// Creates the root CA (and the settings file if the directory has none) under the lock.
pub fn create_root(
    dir: &CaDir,
    req: &RootRequest<'_>,
    pass: Option<&Secret>,
    timeout: std::time::Duration,
    ctx: &Ctx,
) -> Result<Ca> {
    let not_after = certs::not_after(ctx.now, req.ttl)?;
    let key = keys::generate(req.key_type)?;
    let key_pem = keys::to_pem(&key.der, pass)?;
    let signer = key.pair;
    let cert = certs::build_root(req.cn, req.org, &signer, ctx.now, not_after)?;
    let lock = dir.lock(timeout)?;
    if !dir.has_settings() {
        lock.write_settings(&settings::initial_text(req.name, req.org, req.trust_domain))?;
    }
    lock.create_ca(
        NewCa {
            name: req.name,
            cert_pem: &cert.pem(),
            key_pem: &key_pem,
            data: json!({
                "name": req.name,
                "kind": "root",
                "subject": format!("CN={}", req.cn),
                "key_type": req.key_type.name(),
                "not_after": certs::rfc3339(not_after),
                "encrypted": pass.is_some(),
            }),
        },
        &ctx.actor,
        &certs::rfc3339(ctx.now),
    )?;
    drop(lock);
    Ca::load(dir, req.name)
}
