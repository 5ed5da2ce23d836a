//! `pki verify`: is this certificate valid right now (or at `--at`) for this purpose and name,
//! judged by rustls-webpki against the directory's roots and current CRLs.

use std::io::Write;

use anyhow::{Result, anyhow};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use x509_parser::prelude::*;

use crate::cli::{GlobalArgs, Purpose, VerifyArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::ca::Ca;
use pki_core::certs::rfc3339;
use pki_core::limits;
use pki_core::serial::Serial;
use pki_core::store::CaDir;

#[derive(Debug, Serialize)]
struct Verdict {
    valid: bool,
    /// valid | revocation_not_checked | revoked | expired | not_yet_valid | untrusted |
    /// name_constraint_violation | wrong_purpose | wrong_name | stale_crl | invalid
    verdict: &'static str,
    message: String,
    serial: String,
    subject: String,
    checked_at: String,
    purpose: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    crls_checked: usize,
    /// Whether a CRL of every issuer in the chain was at hand.
    revocation_checked: bool,
}

fn read_certs(arg: &str) -> Result<Vec<Vec<u8>>> {
    let bytes = if arg == "-" {
        limits::read_bounded(std::io::stdin(), limits::MAX_OBJECT, "standard input")?
    } else {
        limits::read_file(arg.as_ref(), limits::MAX_OBJECT, arg)?
    };
    pem_or_der(bytes, arg, "CERTIFICATE", "a certificate", |d| X509Certificate::from_der(d).is_ok())
}

/// CRLs from a file: PEM (one or more "X509 CRL" blocks) or DER.
fn read_crls(path: &std::path::Path) -> Result<Vec<Vec<u8>>> {
    let name = path.display().to_string();
    let bytes = limits::read_file(path, limits::MAX_INSPECT, &name)?;
    pem_or_der(bytes, &name, "X509 CRL", "a CRL", |d| {
        x509_parser::revocation_list::CertificateRevocationList::from_der(d).is_ok()
    })
}

/// The `tag` blocks of PEM input, or the input itself when it is DER that `is_der` accepts.
fn pem_or_der(
    bytes: Vec<u8>,
    source: &str,
    tag: &str,
    what: &str,
    is_der: impl Fn(&[u8]) -> bool,
) -> Result<Vec<Vec<u8>>> {
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let blocks = ::pem::parse_many(&bytes)
            .map_err(|e| anyhow!("{source}: malformed PEM ({})", pki_core::certs::pem_problem(&e)))?;
        let found: Vec<Vec<u8>> =
            blocks.into_iter().filter(|b| b.tag() == tag).map(|b| b.contents().to_vec()).collect();
        if found.is_empty() {
            anyhow::bail!("{source}: no {tag} in it");
        }
        Ok(found)
    } else if is_der(&bytes) {
        Ok(vec![bytes])
    } else {
        anyhow::bail!("{source}: not {what} in PEM or DER form")
    }
}

pub fn run(args: VerifyArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let at = match &args.at {
        Some(t) => ::time::OffsetDateTime::parse(t, &::time::format_description::well_known::Rfc3339)
            .map_err(|_| anyhow!("invalid --at '{t}': expected RFC 3339 such as 2027-01-01T00:00:00Z"))?
            .replace_nanosecond(0)
            .expect("0 is a valid nanosecond"),
        None => ctx.now,
    };
    let mut certs = read_certs(&args.cert)?;
    let leaf = certs.remove(0);
    let mut intermediates = certs;
    if let Some(c) = &args.chain {
        intermediates.extend(read_certs(&c.display().to_string())?);
    }
    let dir = CaDir::open(&g.dir);
    let roots: Vec<Vec<u8>> = match (&args.root, &dir) {
        (Some(r), _) => read_certs(&r.display().to_string())?,
        (None, Ok(d)) => {
            let mut v = vec![];
            for n in d.ca_names()? {
                let ca = Ca::load(d, &n)?;
                if ca.self_signed {
                    v.push(ca.der);
                } else if args.chain.is_none() {
                    intermediates.push(ca.der);
                }
            }
            v
        }
        (None, Err(_)) => {
            return Err(dir.err().expect("checked").context("verify needs the CA directory or --root FILE"));
        }
    };
    // Every current CRL of the directory, and those given with --crl.
    let mut crl_ders = vec![];
    if let Ok(d) = &dir {
        for n in d.ca_names()? {
            if let Ok(Some(der)) = d.current_crl_der(&n) {
                crl_ders.push(der);
            }
        }
    }
    for f in &args.crl {
        crl_ders.extend(read_crls(f)?);
    }
    let crls: Vec<webpki::CertRevocationList<'_>> = crl_ders
        .iter()
        .map(|d| webpki::OwnedCertRevocationList::from_der(d).map(Into::into))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("a CRL in the directory is unreadable: {e:?}"))?;
    let crl_refs: Vec<&webpki::CertRevocationList<'_>> = crls.iter().collect();

    let (_, x) = X509Certificate::from_der(&leaf).map_err(|_| anyhow!("{}: not a certificate", args.cert))?;
    let has_server = x.extended_key_usage().ok().flatten().is_some_and(|e| e.value.server_auth || e.value.any);
    let purpose = args.purpose.unwrap_or(if has_server { Purpose::Server } else { Purpose::Client });
    let serial = Serial::from_bytes(x.raw_serial()).hex();
    let mut v = Verdict {
        valid: false,
        verdict: "invalid",
        message: String::new(),
        serial: serial.clone(),
        subject: x.subject().to_string(),
        checked_at: rfc3339(at),
        purpose: match purpose {
            Purpose::Client => "client",
            Purpose::Server => "server",
        },
        reason: None,
        revoked_at: None,
        crls_checked: crl_refs.len(),
        revocation_checked: false,
    };
    // Revocation is checked only where a CRL of the right issuer is at hand: the leaf's issuer,
    // and the issuer of every intermediate below a root.
    let crl_issuers: Vec<Vec<u8>> = crl_ders
        .iter()
        .filter_map(|d| x509_parser::revocation_list::CertificateRevocationList::from_der(d).ok())
        .map(|(_, c)| c.issuer().as_raw().to_vec())
        .collect();
    let root_subjects: Vec<Vec<u8>> = roots
        .iter()
        .filter_map(|r| X509Certificate::from_der(r).ok().map(|(_, c)| c.subject().as_raw().to_vec()))
        .collect();
    let mut to_cover = vec![x.issuer().as_raw().to_vec()];
    for i in &intermediates {
        if let Ok((_, c)) = X509Certificate::from_der(i)
            && c.issuer().as_raw() != c.subject().as_raw()
            && !root_subjects.contains(&c.subject().as_raw().to_vec())
        {
            to_cover.push(c.issuer().as_raw().to_vec());
        }
    }
    v.revocation_checked = to_cover.iter().all(|i| crl_issuers.contains(i));

    let leaf_der = CertificateDer::from(leaf.as_slice());
    let inter: Vec<CertificateDer<'_>> = intermediates.iter().map(|d| CertificateDer::from(d.as_slice())).collect();
    let root_ders: Vec<CertificateDer<'_>> = roots.iter().map(|d| CertificateDer::from(d.as_slice())).collect();
    let anchors: Vec<_> = root_ders
        .iter()
        .map(|r| webpki::anchor_from_trusted_cert(r).map(|a| a.to_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("a root certificate is unusable: {e:?}"))?;
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| anyhow!("{}: unusable certificate ({e:?})", args.cert))?;
    let revocation = if crl_refs.is_empty() {
        None
    } else {
        Some(
            webpki::RevocationOptionsBuilder::new(&crl_refs)
                .map_err(|_| anyhow!("no CRLs"))?
                .with_depth(webpki::RevocationCheckDepth::Chain)
                .with_status_policy(webpki::UnknownStatusPolicy::Allow)
                .with_expiration_policy(webpki::ExpirationPolicy::Enforce)
                .build(),
        )
    };
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(at.unix_timestamp().max(0) as u64));
    let usage = match purpose {
        Purpose::Client => webpki::KeyUsage::client_auth(),
        Purpose::Server => webpki::KeyUsage::server_auth(),
    };
    let mut result =
        ee.verify_for_usage(webpki::ALL_VERIFICATION_ALGS, &anchors, &inter, time, usage, revocation, None).map(|_| ());
    if result.is_ok()
        && let Some(name) = &args.dns
    {
        let sn = ServerName::try_from(name.as_str()).map_err(|_| anyhow!("invalid --dns '{name}'"))?;
        result = ee.verify_is_valid_for_subject_name(&sn);
    }
    let valid_for =
        format!("valid for {} use{}", v.purpose, args.dns.as_ref().map(|d| format!(" as {d}")).unwrap_or_default());
    let (verdict, message) = match &result {
        Ok(()) if v.revocation_checked => ("valid", valid_for),
        Ok(()) if args.no_revocation_check => {
            ("valid", format!("{valid_for}; revocation not checked (--no-revocation-check)"))
        }
        Ok(()) => (
            "revocation_not_checked",
            format!(
                "{valid_for} if not revoked: revocation not checked (no CRL of its issuer here): give --crl FILE, or --no-revocation-check"
            ),
        ),
        Err(webpki::Error::CertRevoked) => {
            // Reason and date from the directory's revoked lists.
            if let Ok(d) = &dir {
                for n in d.ca_names()? {
                    d.for_each_revoked(&n, |r| {
                        if r.serial == serial {
                            v.reason = Some(r.reason.clone());
                            v.revoked_at = Some(r.revoked_at.clone());
                        }
                        Ok(())
                    })?;
                }
            }
            (
                "revoked",
                match (&v.reason, &v.revoked_at) {
                    (Some(r), Some(t)) => format!("revoked ({r}) at {t}"),
                    _ => "revoked (a certificate in the chain is on a CRL)".into(),
                },
            )
        }
        Err(webpki::Error::CertExpired { .. }) => {
            ("expired", format!("expired at {}", rfc3339(time_of(x.validity().not_after))))
        }
        Err(webpki::Error::CertNotValidYet { .. }) => {
            ("not_yet_valid", format!("not valid before {}", rfc3339(time_of(x.validity().not_before))))
        }
        Err(webpki::Error::UnknownIssuer) => ("untrusted", "untrusted: no chain to a trusted root".into()),
        Err(webpki::Error::NameConstraintViolation) => {
            ("name_constraint_violation", "a name is outside a CA's name constraints".into())
        }
        Err(webpki::Error::CrlExpired { .. }) => {
            ("stale_crl", "a CRL is stale (its nextUpdate passed): run `pki gen-crl --all`".into())
        }
        Err(webpki::Error::CertNotValidForName(_)) => {
            ("wrong_name", format!("not valid for {}", args.dns.as_deref().unwrap_or("that name")))
        }
        Err(webpki::Error::RequiredEkuNotFoundContext(_)) => {
            ("wrong_purpose", format!("not valid for {} use (extended key usage)", v.purpose))
        }
        Err(e) => ("invalid", format!("invalid: {e:?}")),
    };
    v.valid = result.is_ok();
    v.verdict = verdict;
    v.message = message;
    if args.json {
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
    } else {
        writeln!(ctx.out, "{}: {}", args.cert, v.message)?;
    }
    Ok(match (v.valid, v.verdict) {
        (true, "revocation_not_checked") => Exit::Unchecked,
        (true, _) => Exit::Success,
        (false, _) => Exit::Findings,
    })
}

fn time_of(t: ASN1Time) -> ::time::OffsetDateTime {
    ::time::OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(::time::OffsetDateTime::UNIX_EPOCH)
}
