//! `pki init-root`: a self-signed root CA, its key encrypted at rest.

use anyhow::Result;

use crate::cli::{GlobalArgs, InitRootArgs};
use crate::ctx::Ctx;
use crate::exit_codes::{Exit, PkiError};
use pki_core::ca::check_ca_name;
use pki_core::certs;
use pki_core::duration;
use pki_core::setup::{self, RootRequest};
use pki_core::store::CaDir;

pub fn run(args: InitRootArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    check_ca_name(&args.name)?;
    super::check_cn("--cn", &args.cn)?;
    let ttl = duration::parse_lifetime("--ttl", &args.ttl)?;
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
        key_type: args.key_type.into(),
        ttl,
    };
    let dir = CaDir::open_or_create(&g.dir)?;
    let ca = setup::create_root(&dir, &req, pass.as_ref(), timeout, &ctx.core())?;
    ctx.say(format!(
        "created root CA '{}' ({}, {}, valid until {}) in {}",
        ca.name,
        ca.subject,
        pki_core::keys::KeyType::from(args.key_type).name(),
        certs::rfc3339(ca.not_after),
        dir.root.display()
    ));
    if pass.is_none() {
        ctx.say("warning: the root key is stored unencrypted (--no-passphrase)");
    }
    Ok(Exit::Success)
}
