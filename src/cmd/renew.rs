//! `pki renew`: a successor with the same names and profile (re-checked against today's
//! profile), a new serial, the same public key unless `--rekey`/`--csr`; the old certificate is
//! marked superseded in the same committed change.

use anyhow::{Context, Result, anyhow, bail};
use x509_parser::prelude::*;

use super::issue::{OUT_FILES, Out, issue_one, out_of, report};
use crate::cli::{GlobalArgs, RenewArgs};
use crate::ctx::{Ctx, read_passphrase_file};
use crate::exit_codes::Exit;
use pki_core::issuance::{Issuing, Spec};
use pki_core::outfiles;
use pki_core::serial::Serial;
use pki_core::store::{CaDir, Status, sha256_hex};

pub fn run(args: RenewArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let timeout = super::lock_timeout(g)?;
    let key_pass = args.key_passphrase_file.as_deref().map(read_passphrase_file).transpose()?;
    let dir = CaDir::open(&g.dir)?;
    let (serial, given_der) = match (&args.serial, &args.cert) {
        (Some(s), _) => (Serial::parse(s)?, None),
        (None, Some(f)) => {
            let (serial, der) = pki_core::inspect::cert_file(f)?;
            (serial, Some(der))
        }
        (None, None) => bail!("give the SERIAL of the certificate to renew, or --cert FILE"),
    };
    let hex = serial.hex();
    let rec = dir.find_inventory(&hex)?.ok_or_else(|| {
        anyhow!("no certificate with serial {hex} in this directory's inventory: check the serial (`pki list`)")
    })?;
    match rec.status {
        Status::Revoked => {
            bail!("certificate {hex} is revoked: issue a new one with `pki issue` instead of renewing it")
        }
        Status::Superseded => bail!(
            "certificate {hex} was already renewed by {}: renew that one",
            rec.replaced_by.as_deref().unwrap_or("another certificate")
        ),
        Status::Valid => {}
    }
    let stored = std::fs::read_to_string(dir.cert_path(&serial))
        .context("the stored certificate is missing: run `pki reindex`")?;
    let stored_der =
        ::pem::parse(&stored).map_err(|_| anyhow!("the stored certificate of {hex} is not PEM"))?.contents().to_vec();
    if let Some(d) = &given_der
        && sha256_hex(d) != sha256_hex(&stored_der)
    {
        bail!("the certificate in --cert has serial {hex} but is not the one this directory issued");
    }
    let (_, x) =
        X509Certificate::from_der(&stored_der).map_err(|_| anyhow!("the stored certificate of {hex} is malformed"))?;
    let mut spec = Spec {
        profile: rec.profile.clone(),
        ca: Some(rec.ca.clone()),
        ttl: args.ttl.clone(),
        out: args.out.clone(),
        csr: args.csr.clone(),
        force: args.force,
        clip_ttl: args.clip_ttl,
        ..Default::default()
    };
    if args.csr.is_none() {
        for s in &rec.sans {
            match s.split_once(':') {
                Some(("DNS", v)) => spec.dns.push(v.to_string()),
                Some(("IP", v)) => spec.ip.push(v.to_string()),
                Some(("URI", v)) => spec.uri.push(v.to_string()),
                _ => {}
            }
        }
        if rec.profile.is_none() {
            spec.cn = rec.subject.split(',').find_map(|p| p.strip_prefix("CN=")).map(str::to_string);
        }
    }
    if spec.ttl.is_none() {
        // The old lifetime, without the start-up backdate.
        let secs = x.validity().not_after.timestamp()
            - x.validity().not_before.timestamp()
            - pki_core::certs::BACKDATE.whole_seconds();
        spec.ttl = Some(format!("{}s", secs.max(60)));
    }
    let existing = if args.rekey || args.csr.is_some() {
        if args.rekey {
            spec.key_type = args.key_type.clone().or_else(|| Some(rec.key_type.clone()));
        }
        None
    } else {
        Some(x.public_key().raw.to_vec())
    };
    let out = out_of(&spec);
    if let Out::Dir(d) = &out {
        outfiles::check_targets(d, &OUT_FILES, spec.force)?;
    }
    let mut issuing = Issuing::open(&dir)?;
    let mut plan = issuing.plan_with_key(&spec, ctx.now, existing)?;
    plan.renews = Some(hex.clone());
    issuing.unlock(&plan.ca, &ctx.core())?;
    let lock = dir.lock(timeout)?;
    // Someone may have renewed or revoked it while we waited for the lock.
    match dir.find_inventory(&hex)?.map(|r| r.status) {
        Some(Status::Valid) => {}
        _ => bail!("certificate {hex} changed state while waiting for the lock: check `pki list`"),
    }
    let (issued, files) = issue_one(&mut issuing, &plan, &lock, &out, key_pass.as_ref(), ctx)?;
    drop(lock);
    report(ctx, &issued, files, &out, args.json)?;
    Ok(Exit::Success)
}
