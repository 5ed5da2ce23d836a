//! `pki renew`: a successor with the same names and profile (re-checked against today's
//! profile), a new serial, the same public key unless `--rekey`/`--csr`; the old certificate is
//! marked superseded in the same committed change (`pki_core::issuance::Renewal`).

use anyhow::Result;

use super::issue::{report, stdin_csr};
use crate::cli::{GlobalArgs, RenewArgs};
use crate::ctx::{Ctx, read_passphrase_file};
use crate::exit_codes::Exit;
use pki_core::issuance::{Issuing, Renewal};
use pki_core::serial::Serial;
use pki_core::store::CaDir;

pub fn run(args: RenewArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let timeout = super::lock_timeout(g)?;
    let key_pass = args.key_passphrase_file.as_deref().map(read_passphrase_file).transpose()?;
    let dir = CaDir::open(&g.dir)?;
    let (serial, cert_der) = match (&args.serial, &args.cert) {
        (Some(s), _) => (Some(Serial::parse(s)?), None),
        (None, Some(f)) => {
            let (serial, der) = pki_core::inspect::cert_file(f)?;
            (Some(serial), Some(der))
        }
        (None, None) => (None, None),
    };
    let renewal = Renewal {
        serial,
        cert_der,
        rekey: args.rekey,
        reuse_key: args.reuse_key,
        key_type: args.key_type.clone(),
        csr: args.csr.clone(),
        csr_bytes: stdin_csr(args.csr.as_deref())?,
        ttl: args.ttl.clone(),
        clip_ttl: args.clip_ttl,
        out: args.out.clone(),
        force: args.force,
    };
    let mut issuing = Issuing::open(&dir)?;
    let (r, out) = issuing.renew(&renewal, key_pass.as_ref(), timeout, &ctx.core())?;
    report(ctx, &r.issued, r.files.as_ref(), &out, args.json)?;
    Ok(Exit::Success)
}
