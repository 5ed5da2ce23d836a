//! Certificate revocation lists: reason names, the entries a CA's CRL must list, and signing
//! and publishing it under the directory lock.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, anyhow};
use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevocationReason, RevokedCertParams, SerialNumber,
};
use serde::Serialize;
use time::OffsetDateTime;

use crate::ca::Ca;
use crate::certs::rfc3339;
use crate::ctx::Ctx;
use crate::duration;
use crate::serial::Serial;
use crate::settings::Settings;
use crate::store::{CaDir, Locked, Revocation};

/// RFC 5280 reason names as OpenSSL and step spell them, with their codes.
pub const REASONS: [(&str, RevocationReason); 10] = [
    ("unspecified", RevocationReason::Unspecified),
    ("keyCompromise", RevocationReason::KeyCompromise),
    ("cACompromise", RevocationReason::CaCompromise),
    ("affiliationChanged", RevocationReason::AffiliationChanged),
    ("superseded", RevocationReason::Superseded),
    ("cessationOfOperation", RevocationReason::CessationOfOperation),
    ("certificateHold", RevocationReason::CertificateHold),
    ("removeFromCRL", RevocationReason::RemoveFromCrl),
    ("privilegeWithdrawn", RevocationReason::PrivilegeWithdrawn),
    ("aACompromise", RevocationReason::AaCompromise),
];

/// The canonical name of a reason given in any case, with or without '-' or '_'.
pub fn parse_reason(s: &str) -> Result<&'static str> {
    let norm = |x: &str| x.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_lowercase();
    let want = norm(s);
    REASONS.iter().find(|(n, _)| norm(n) == want).map(|(n, _)| *n).ok_or_else(|| {
        anyhow!(
            "unknown revocation reason '{s}': use one of {}",
            REASONS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        )
    })
}

fn reason_code(name: &str) -> Option<RevocationReason> {
    REASONS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

fn parse_time(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| anyhow!("bad time '{s}': {e}"))
}

/// The revocations a CA's CRL lists now: the latest state of each serial, without those whose
/// certificates have expired (RFC 5280 allows dropping them).
pub fn current_entries(dir: &CaDir, ca: &str, now: OffsetDateTime) -> Result<Vec<Revocation>> {
    let mut order: Vec<String> = vec![];
    let mut by_serial: HashMap<String, Revocation> = HashMap::new();
    let now_s = rfc3339(now);
    dir.for_each_revoked(ca, |r| {
        if !by_serial.contains_key(&r.serial) {
            order.push(r.serial.clone());
        }
        by_serial.insert(r.serial.clone(), r);
        Ok(())
    })?;
    Ok(order
        .into_iter()
        .filter_map(|s| by_serial.remove(&s))
        .filter(|r| r.not_after.as_str() > now_s.as_str())
        .collect())
}

/// The lifetime of a CA's CRLs: its `next_update` setting, else 7 days (30 for a root).
pub fn lifetime(settings: &Settings, ca: &Ca) -> Result<Duration> {
    match settings.ca.get(&ca.name).and_then(|c| c.next_update.as_deref()) {
        Some(v) => Ok(duration::parse(&format!("[ca.{}] next_update", ca.name), v)?),
        None => Ok(Duration::from_secs(if ca.self_signed { 30 } else { 7 } * 86400)),
    }
}

#[derive(Debug, Serialize)]
pub struct CrlSummary {
    pub ca: String,
    pub number: u64,
    pub this_update: String,
    pub next_update: String,
    pub entries: usize,
    pub der: std::path::PathBuf,
    pub pem: std::path::PathBuf,
}

/// Builds, signs and publishes the CA's CRL. Call with the lock held.
pub fn generate(
    dir: &CaDir,
    lock: &Locked<'_>,
    ca: &Ca,
    issuer: &Issuer<'_, KeyPair>,
    next_update: Duration,
    ctx: &Ctx,
) -> Result<(CrlSummary, Vec<u8>, String)> {
    let entries = current_entries(dir, &ca.name, ctx.now)?;
    let mut revoked = Vec::with_capacity(entries.len());
    for e in &entries {
        revoked.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(Serial::parse(&e.serial)?.bytes()),
            revocation_time: parse_time(&e.revoked_at)?,
            reason_code: reason_code(&e.reason).filter(|r| *r != RevocationReason::Unspecified),
            invalidity_date: e.invalidity_date.as_deref().map(parse_time).transpose()?,
        });
    }
    let number = lock.next_crl_number(&ca.name)?;
    let this_update = ctx.now;
    let next = crate::certs::not_after(ctx.now, next_update)?;
    let bytes = number.to_be_bytes();
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(7);
    let mut num = bytes[start..].to_vec();
    if num[0] & 0x80 != 0 {
        num.insert(0, 0);
    }
    let params = CertificateRevocationListParams {
        this_update,
        next_update: next,
        crl_number: SerialNumber::from_slice(&num),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        // The CRL's AKI must equal the CA's SKI, whichever way that SKI was made.
        key_identifier_method: match &ca.ski {
            Some(ski) => KeyIdMethod::PreSpecified(ski.clone()),
            None => KeyIdMethod::Sha256,
        },
    };
    let crl = params.signed_by(issuer).map_err(|e| anyhow!("cannot sign the CRL of CA '{}': {e}", ca.name))?;
    let der = crl.der().to_vec();
    let pem_text = crl.pem().map_err(|e| anyhow!("cannot encode the CRL: {e}"))?;
    let (der_path, pem_path) = dir.crl_paths(&ca.name);
    let summary = CrlSummary {
        ca: ca.name.clone(),
        number,
        this_update: rfc3339(this_update),
        next_update: rfc3339(next),
        entries: entries.len(),
        der: der_path,
        pem: pem_path,
    };
    let data = serde_json::json!({
        "ca": ca.name, "number": number, "this_update": summary.this_update,
        "next_update": summary.next_update, "entries": summary.entries,
        "sha256": crate::store::sha256_hex(&der),
    });
    lock.commit_crl(&ca.name, &der, &pem_text, data, &ctx.actor, &rfc3339(ctx.now))?;
    Ok((summary, der, pem_text))
}

/// thisUpdate and nextUpdate of a CA's current CRL, if it has one.
pub fn current_times(dir: &CaDir, ca: &str) -> Result<Option<(OffsetDateTime, Option<OffsetDateTime>)>> {
    use x509_parser::prelude::*;
    let (der_path, _) = dir.crl_paths(ca);
    let der = match std::fs::read(&der_path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("cannot read {}: {e}", der_path.display())),
    };
    let (_, crl) =
        CertificateRevocationList::from_der(&der).map_err(|e| anyhow!("{} is not a CRL: {e}", der_path.display()))?;
    let t = |a: ASN1Time| OffsetDateTime::from_unix_timestamp(a.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Ok(Some((t(crl.last_update()), crl.next_update().map(t))))
}

/// Whether the published CRL misses a revocation (or a reason change) that the directory has:
/// a CRL "behind the inventory". None when the CA has no CRL yet.
pub fn is_behind(dir: &CaDir, ca: &str, now: OffsetDateTime) -> Result<Option<bool>> {
    use x509_parser::prelude::*;
    let (der_path, _) = dir.crl_paths(ca);
    let der = match std::fs::read(&der_path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("cannot read {}: {e}", der_path.display())),
    };
    let (_, crl) =
        CertificateRevocationList::from_der(&der).map_err(|e| anyhow!("{} is not a CRL: {e}", der_path.display()))?;
    let listed: HashMap<String, Option<u8>> = crl
        .iter_revoked_certificates()
        .map(|r| (Serial::from_bytes(r.raw_serial()).hex(), r.reason_code().map(|(_, c)| c.0)))
        .collect();
    for e in current_entries(dir, ca, now)? {
        let want = reason_code(&e.reason).filter(|r| *r != RevocationReason::Unspecified).map(|r| r as u8);
        match listed.get(&e.serial) {
            Some(have) if *have == want => {}
            _ => return Ok(Some(true)),
        }
    }
    Ok(Some(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_in_any_spelling() {
        assert_eq!(parse_reason("keycompromise").unwrap(), "keyCompromise");
        assert_eq!(parse_reason("KEY_COMPROMISE").unwrap(), "keyCompromise");
        assert_eq!(parse_reason("CACompromise").unwrap(), "cACompromise");
        assert_eq!(parse_reason("cessation-of-operation").unwrap(), "cessationOfOperation");
        assert_eq!(parse_reason("removeFromCRL").unwrap(), "removeFromCRL");
        let e = parse_reason("stolen").unwrap_err().to_string();
        assert!(e.contains("unknown revocation reason 'stolen'") && e.contains("keyCompromise"), "{e}");
    }
}
