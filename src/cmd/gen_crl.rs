//! `pki gen-crl`: sign and publish CRLs, for one CA or all, optionally only when due (cron).

use std::io::Write;

use anyhow::Result;

use crate::cli::{GenCrlArgs, GlobalArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::ca::{self, Ca};
use pki_core::settings::Settings;
use pki_core::store::{CaDir, SETTINGS, write_atomic};
use pki_core::{crl, duration};

/// Less than this between CRL updates is shorter than a daily cron's gap.
const CRON_GAP: std::time::Duration = std::time::Duration::from_secs(86400);

pub fn run(args: GenCrlArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let timeout = super::lock_timeout(g)?;
    let next_flag = args.next_update.as_deref().map(|v| duration::parse_lifetime("--next-update", v)).transpose()?;
    let if_older = args.if_older_than.as_deref().map(|v| duration::parse("--if-older-than", v)).transpose()?;
    let dir = CaDir::open(&g.dir)?;
    if let Some(p) = &args.ledger_head {
        crl::check_kept_head(&dir, &pki_core::store::SignedHead::read(p)?)?;
    }
    let file = dir.path(SETTINGS).display().to_string();
    let settings = Settings::parse(&dir.read_settings_text()?, &file)?;
    let names = if args.all {
        dir.ca_names()?
    } else {
        vec![match &args.ca {
            Some(n) => n.clone(),
            None => ca::issuing_ca(&dir, &settings, None)?,
        }]
    };
    let mut done = vec![];
    let mut failed: Vec<String> = vec![];
    for name in names {
        let ca = Ca::load(&dir, &name)?;
        let lifetime = match next_flag {
            Some(d) => d,
            None => crl::lifetime(&settings, &ca)?,
        };
        if lifetime < CRON_GAP {
            ctx.say(format!(
                "warning: CRLs of '{name}' are valid for only {}: regenerate them more often than a daily cron would",
                duration::show(lifetime)
            ));
        }
        if let Some(min_age) = if_older
            && let Some(age) = crl::fresh_age(&dir, &name, ctx.now, min_age)?
        {
            ctx.say(format!("CRL of '{name}' is fresh (updated {} ago): skipped", duration::human_span(age)));
            continue;
        }
        if args.all && dir.ca_key_encrypted(&name)?.is_none() {
            // A root kept offline (SECURITY.md): its CRL is signed where its key is; `pki audit`
            // warns before that CRL goes stale.
            ctx.say(format!(
                "CRL of '{name}' skipped: its key is not in this directory (kept offline?); sign it where the key is"
            ));
            continue;
        }
        let issuer = match ca.unlock(&dir, &ctx.core(), settings.passphrase_file(&name)) {
            Ok(i) => std::sync::Arc::new(i),
            // With --all, a CA whose key cannot be unlocked here (its passphrase is kept
            // elsewhere, e.g. an offline root) does not stop the others; it is an error only
            // when its CRL is due.
            Err(e) if args.all => {
                if crl::is_due(&dir, &name, ctx.now)? {
                    ctx.say(format!("CRL of '{name}' is due and was not published: {e:#}"));
                    failed.push(name.clone());
                } else {
                    ctx.say(format!("CRL of '{name}' is not due: skipped (its key could not be unlocked here: {e:#})"));
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let lock = dir.lock(timeout)?;
        let first_presign = args.ocsp && !dir.has_presigned_ocsp(&name)?;
        let (summary, der, pem_text) = crl::generate(&dir, &lock, &ca, &issuer, lifetime, &ctx.core())?;
        if first_presign {
            let next = pki_core::certs::parse_rfc3339(&summary.next_update)?;
            pki_core::ocsp::presign(&dir, &lock, &ca, &issuer, next, &ctx.core())?;
        }
        drop(lock);
        if args.ocsp || dir.has_presigned_ocsp(&name)? {
            ctx.say(format!(
                "OCSP responses of '{name}' signed in advance until {} ({})",
                summary.next_update,
                dir.presigned_ocsp_path(&name).display()
            ));
        }
        match &args.out {
            Some(p) if p.as_os_str() == "-" => {
                if args.der {
                    ctx.out.write_all(&der)?;
                } else {
                    ctx.out.write_all(pem_text.as_bytes())?;
                }
            }
            Some(p) => write_atomic(p, if args.der { &der } else { pem_text.as_bytes() }, 0o644)?,
            None => {}
        }
        ctx.say(format!(
            "CRL of '{}': number {}, {} entr{}, valid until {} ({})",
            summary.ca,
            summary.number,
            summary.entries,
            if summary.entries == 1 { "y" } else { "ies" },
            summary.next_update,
            summary.der.display()
        ));
        done.push(summary);
    }
    if args.json {
        serde_json::to_writer_pretty(&mut ctx.out, &done)?;
        writeln!(ctx.out)?;
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "the due CRL of {} could not be published (see above): give its passphrase (--passphrase-dir DIR with {}.pass, or passphrase_file in [ca.{}] of pki.toml)",
            failed.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "),
            failed[0],
            failed[0]
        );
    }
    Ok(Exit::Success)
}
