//! Certificate revocation lists: reason names, the entries a CA's CRL must list, and signing
//! and publishing it under the directory lock.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevocationReason, RevokedCertParams, SerialNumber,
};
use serde::Serialize;
use time::OffsetDateTime;

use crate::ca::Ca;
use crate::certs::{parse_rfc3339, rfc3339};
use crate::context::Context;
use crate::duration;
use crate::error::PkiError;
use crate::serial::Serial;
use crate::settings::Settings;
use crate::store::{CaDir, Locked};

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

/// One line of a revoked list, borrowed from the file's text (no allocation per entry: a CA
/// may have a hundred thousand of them).
pub(crate) struct Entry<'a> {
    serial: &'a str,
    revoked_at: &'a str,
    reason: &'a str,
    invalidity_date: Option<&'a str>,
}

/// The reason field of a revoked-list line that releases a certificateHold (`pki release-hold`):
/// the serial's latest state is then "not revoked", and the next CRL leaves it out.
pub const RELEASED: &str = "released";

/// The hash of the serial indexes: every byte counts (serials from other tools or written into
/// the list by hand need not be random: a hash of the first 16 characters made a list of
/// serials sharing a prefix quadratic, 20,000 entries taking 11 s in a debug build), a
/// multiply-rotate over 8-byte words (SipHash was a fifth of gen-crl's time at 100,000
/// entries), seeded per process so a list cannot be crafted to collide.
#[derive(Clone, Copy)]
struct SerialHashes(u64);

impl Default for SerialHashes {
    fn default() -> SerialHashes {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        SerialHashes(*SEED.get_or_init(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64) | 1
        }))
    }
}

impl std::hash::BuildHasher for SerialHashes {
    type Hasher = SerialHash;
    fn build_hasher(&self) -> SerialHash {
        SerialHash(self.0)
    }
}

struct SerialHash(u64);

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

impl std::hash::Hasher for SerialHash {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            h = (h ^ u64::from_le_bytes(w.try_into().expect("8 bytes"))).wrapping_mul(MUL).rotate_left(29);
        }
        let mut tail = [0u8; 8];
        let rest = words.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(tail) ^ ((bytes.len() as u64) << 56)).wrapping_mul(MUL).rotate_left(29);
        self.0 = h;
    }
    fn finish(&self) -> u64 {
        // Mix the high bits down: hashbrown takes its bucket from the low ones.
        (self.0 ^ (self.0 >> 32)).wrapping_mul(MUL) ^ (self.0 >> 29)
    }
}

/// What a CA's next CRL would list, as (serial, revocation time, reasonCode; None for
/// unspecified): the latest state of each serial in its revoked list, released holds left out,
/// expired certificates kept. OCSP answers from this, so it agrees with the CRLs.
pub fn current_revocations(dir: &crate::store::CaDir, ca: &str) -> Result<Vec<(Serial, OffsetDateTime, Option<u8>)>> {
    let text = dir.revoked_list_text(ca)?;
    let mut out = vec![];
    for e in entries(&text, "")? {
        out.push((
            Serial::parse(e.serial)?,
            parse_rfc3339(e.revoked_at)?,
            reason_code(e.reason).filter(|r| *r != RevocationReason::Unspecified).map(|r| r as u8),
        ));
    }
    Ok(out)
}

/// The entries of a revoked list that a CRL lists now: the latest state of each serial, without
/// released holds and without those whose certificates expired at or before `keep_after`
/// (RFC 5280 §3.3 allows dropping them once a CRL issued after their expiry listed them). In
/// list order.
pub(crate) fn entries<'a>(text: &'a str, keep_after: &str) -> Result<Vec<Entry<'a>>> {
    let now = keep_after;
    // Sized for the list's lines (about 100 bytes each); large, so backed by huge pages (mem.rs).
    let mut out: Vec<Entry<'a>> = Vec::with_capacity(text.len() / 90);
    let mut index: HashMap<&'a str, usize, SerialHashes> =
        HashMap::with_capacity_and_hasher(text.len() / 100, Default::default());
    let mut start = 0;
    while start < text.len() {
        let end = memchr::memchr(b'\n', &text.as_bytes()[start..]).map_or(text.len(), |i| start + i);
        let line = &text[start..end];
        start = end + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = [""; 7];
        let mut rest = line;
        for (k, slot) in f.iter_mut().enumerate() {
            match memchr::memchr(b'\t', rest.as_bytes()) {
                Some(i) if k < 6 => {
                    *slot = &rest[..i];
                    rest = &rest[i + 1..];
                }
                None if k == 6 => {
                    *slot = rest;
                    rest = "";
                }
                _ => return Err(anyhow!("malformed revoked-list line: {}", line.escape_debug())),
            }
        }
        let [serial, _ca, revoked_at, reason, inv, not_after, _kind] = f;
        let e = Entry { serial, revoked_at, reason, invalidity_date: (inv != "-").then_some(inv) };
        let keep = not_after > now;
        match index.get(serial) {
            Some(&i) => out[i] = e,
            None if keep => {
                index.insert(serial, out.len());
                out.push(e);
            }
            None => {}
        }
    }
    if out.iter().any(|e| e.reason == RELEASED) {
        out.retain(|e| e.reason != RELEASED);
    }
    Ok(out)
}

/// The serial's latest line in a revoked list, if any (reason, not_after).
fn latest_in_list<'a>(text: &'a str, serial: &str) -> Option<(&'a str, &'a str)> {
    text.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        (f.len() == 7 && crate::serial::canonical_hex(f[0]) == serial).then(|| (f[3], f[5]))
    })
}

/// The CA's previous CRL as evidence: its DER (`None`: no file), decoded once, checked to be
/// signed by the CA and to be the CRL the ledger last recorded (or a newer one: a change killed
/// before its record). `None` when the CA never had a CRL; `Err` when the ledger records one
/// that is missing or damaged.
fn previous_crl<'a>(dir: &CaDir, ca: &Ca, der: Option<&'a [u8]>) -> Result<Option<crate::crl_der::Decoded<'a>>> {
    let recorded = dir.last_crl_number(&ca.name)?;
    let file = format!("crl/{}.crl", ca.name);
    let unusable = |why: String| -> anyhow::Error { PkiError::CrlEvidenceUnusable { ca: ca.name.clone(), why }.into() };
    let Some(der) = der else {
        return match recorded {
            Some(n) => Err(unusable(format!(
                "{file} is missing but the ledger records CRL number {n}: put back the published copy of that CRL (its revocations are the evidence a new CRL must keep)"
            ))),
            None => Ok(None),
        };
    };
    let Some(d) = crate::crl_der::decode(der) else {
        return Err(unusable(format!("{file} is not a CRL: put back the published copy of the last CRL")));
    };
    if crate::store::verify_by_cert(&ca.der, d.tbs, d.signature).is_err() {
        return Err(unusable(format!(
            "{file} is not signed by CA '{}': put back the published copy of the last CRL",
            ca.name
        )));
    }
    // Signed by the CA with a number pki never reuses: at the recorded number, it is that CRL.
    if let Some(n) = recorded {
        let have = d.number.unwrap_or(0);
        if have < n {
            return Err(unusable(format!(
                "{file} is CRL number {have}, not number {n} that the ledger last recorded: an older CRL was put back; put back number {n} (the published copy)"
            )));
        }
    }
    Ok(Some(d))
}

/// The notAfter of the certificate with this serial that CA `ca` signed, from the stored
/// certificate (signed data no editor can change) or an intermediate CA's certificate; `None`
/// when no such certificate is found.
fn signed_not_after(dir: &CaDir, ca: &Ca, serial: &Serial) -> Result<Option<OffsetDateTime>> {
    use x509_parser::prelude::*;
    let (_, issuer) = X509Certificate::from_der(&ca.der).map_err(|e| anyhow!("CA '{}': {e}", ca.name))?;
    let check = |der: &[u8]| -> Option<OffsetDateTime> {
        let (_, x) = X509Certificate::from_der(der).ok()?;
        (Serial::from_bytes(x.raw_serial()) == *serial && x.verify_signature(Some(issuer.public_key())).is_ok())
            .then(|| OffsetDateTime::from_unix_timestamp(x.validity().not_after.timestamp()).ok())
            .flatten()
    };
    if let Some(der) = dir.read_cert_der(serial)?
        && let Some(t) = check(&der)
    {
        return Ok(Some(t));
    }
    for name in dir.ca_names()? {
        if let Ok(c) = Ca::load(dir, &name)
            && c.serial == *serial
            && let Some(t) = check(&c.der)
        {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// Whether a reason may replace another on the same serial: the same, any reason after a
/// certificateHold, and keyCompromise after any.
fn reason_may_follow(prev: Option<u8>, next: Option<u8>) -> bool {
    let code = |r: RevocationReason| Some(r as u8);
    prev == next || prev == code(RevocationReason::CertificateHold) || next == code(RevocationReason::KeyCompromise)
}

fn reason_name(code: Option<u8>) -> &'static str {
    REASONS.iter().find(|(_, r)| Some(*r as u8) == code).map_or("unspecified", |(n, _)| *n)
}

/// The evidence check of a new CRL: every serial the previous CRL (signature verified) lists
/// is listed again with the same or a stronger reason, unless RFC 5280 §3.3 allows dropping
/// it (its certificate, as signed, expired before the previous CRL was issued) or the ledger
/// records the release of its certificateHold. Without a previous CRL the ledger is the
/// evidence (see [`ledger_evidence`]).
fn check_evidence(
    dir: &CaDir,
    ca: &Ca,
    prev: &crate::crl_der::Decoded<'_>,
    text: &str,
    entries: &[Entry<'_>],
) -> Result<()> {
    // The previous CRL's entries are, in the common case, the new ones in the same order with
    // some left out (both follow the revoked list's order): matched walking both, and through
    // an index only from the first one found out of order.
    let mut index: Option<HashMap<&str, usize, SerialHashes>> = None;
    let mut k = 0;
    let code = |e: &Entry<'_>| reason_code(e.reason).filter(|r| *r != RevocationReason::Unspecified).map(|r| r as u8);
    let evidence = || format!("the previous CRL (crl/{}.crl, number {})", ca.name, prev.number.unwrap_or(0));
    let mut buf = [0u8; 128];
    for (raw, reason) in prev.entries() {
        let reason = reason.filter(|r| *r != RevocationReason::Unspecified as u8);
        let Some(hex) = crate::serial::hex_into(raw, &mut buf) else { continue };
        let found = match &index {
            None => {
                let start = k;
                while k < entries.len() && crate::serial::canonical_hex(entries[k].serial) != hex {
                    k += 1;
                }
                if k < entries.len() {
                    k += 1;
                    Some(k - 1)
                } else {
                    let map = index.insert(
                        entries
                            .iter()
                            .enumerate()
                            .map(|(i, e)| (crate::serial::canonical_hex(e.serial), i))
                            .collect::<HashMap<_, _, _>>(),
                    );
                    k = start;
                    map.get(hex).copied()
                }
            }
            Some(map) => map.get(hex).copied(),
        };
        if let Some(i) = found
            && reason_may_follow(reason, code(&entries[i]))
        {
            continue;
        }
        let serial = Serial::from_bytes(raw);
        let hex = serial.hex();
        if let Some(i) = found {
            return Err(PkiError::RevocationErased {
                ca: ca.name.clone(),
                serial: hex,
                reason: reason_name(reason).into(),
                evidence: evidence(),
                found: format!("says {}", entries[i].reason),
            }
            .into());
        }
        let latest = latest_in_list(text, &hex);
        if latest.is_some_and(|(r, _)| r == RELEASED)
            && reason == Some(RevocationReason::CertificateHold as u8)
            && dir.hold_released(&hex)?
        {
            continue;
        }
        if signed_not_after(dir, ca, &serial)?.is_some_and(|t| t < prev.this_update) {
            continue;
        }
        return Err(PkiError::RevocationErased {
            ca: ca.name.clone(),
            serial: hex,
            reason: reason_name(reason).into(),
            evidence: evidence(),
            found: match latest {
                Some((r, _)) if r == RELEASED => "releases it without a release in the ledger".into(),
                Some((_, not_after)) => format!("says it expired at {not_after}, which its certificate does not"),
                None => "has no line for it".into(),
            },
        }
        .into());
    }
    Ok(())
}

/// The evidence check when the CA has no previous CRL on record: the ledger's revocations of
/// the CA's certificates (hash chain intact, last signature verified) that have not expired
/// must all be in the new CRL. Reads the whole ledger; runs only for a CA's first CRL.
fn ledger_evidence(dir: &CaDir, ca: &Ca, entries: &[Entry<'_>], now: OffsetDateTime) -> Result<()> {
    let mut revoked: HashMap<String, (String, String)> = HashMap::new();
    let check = dir.verify_ledger_with(None, &["cert-revoked", crate::store::HOLD_RELEASED], |_, event, line| {
        if (event == "cert-revoked" || event == "hold-released")
            && let Ok(r) = serde_json::from_str::<crate::store::LedgerRecord>(line)
            && r.data["ca"].as_str() == Some(ca.name.as_str())
            && let Some(serial) = r.data["serial"].as_str()
        {
            if event == "hold-released" {
                revoked.remove(serial);
            } else {
                let reason = r.data["reason"].as_str().unwrap_or("unspecified").to_string();
                let not_after = r.data["not_after"].as_str().unwrap_or("").to_string();
                revoked.insert(serial.to_string(), (reason, not_after));
            }
        }
        Ok(())
    })?;
    if let Some(p) = &check.problem {
        return Err(
            PkiError::CrlEvidenceUnusable { ca: ca.name.clone(), why: format!("the ledger is broken ({p})") }.into()
        );
    }
    if let Some(p) = dir.head_signature_problem(&check)? {
        return Err(PkiError::CrlEvidenceUnusable { ca: ca.name.clone(), why: format!("the ledger's {p}") }.into());
    }
    let listed: HashMap<&str, &str> = entries.iter().map(|e| (e.serial, e.reason)).collect();
    let now = rfc3339(now);
    for (serial, (reason, not_after)) in &revoked {
        if not_after.as_str() <= now.as_str() {
            continue;
        }
        let weaker = |have: &str| {
            let code = |n: &str| reason_code(n).filter(|r| *r != RevocationReason::Unspecified).map(|r| r as u8);
            !reason_may_follow(code(reason), code(have))
        };
        let found = match listed.get(serial.as_str()) {
            Some(have) if !weaker(have) => continue,
            Some(have) => format!("says {have}"),
            None => "has no line for it".into(),
        };
        return Err(PkiError::RevocationErased {
            ca: ca.name.clone(),
            serial: serial.clone(),
            reason: reason.clone(),
            evidence: "the ledger".into(),
            found,
        }
        .into());
    }
    Ok(())
}

/// Refuses (before anything is published) a directory whose ledger no longer holds a head
/// kept elsewhere: a copy rolled back to an older state would publish CRLs without the
/// revocations made since.
pub fn check_kept_head(dir: &CaDir, head: &crate::store::SignedHead) -> Result<()> {
    let check = dir.verify_ledger_with(Some(head.seq), &[], |_, _, _| Ok(()))?;
    match dir.kept_head_problem(head, &check)? {
        Some((_, why)) => bail!("refusing to publish CRLs: {why}"),
        None => Ok(()),
    }
}

/// The lifetime of a CA's CRLs: its `next_update` setting, else 7 days (30 for a root).
pub fn lifetime(settings: &Settings, ca: &Ca) -> Result<Duration> {
    match settings.ca.get(&ca.name).and_then(|c| c.next_update.as_deref()) {
        Some(v) => Ok(duration::parse_lifetime(&format!("[ca.{}] next_update", ca.name), v)?),
        None => Ok(Duration::from_secs(if ca.self_signed { 30 } else { 7 } * 86400)),
    }
}

/// What a new CRL is.
#[derive(Debug, Serialize)]
pub struct CrlSummary {
    /// The CA whose CRL it is.
    pub ca: String,
    /// Its CRL number.
    pub number: u64,
    /// thisUpdate (RFC 3339).
    pub this_update: String,
    /// nextUpdate (RFC 3339).
    pub next_update: String,
    /// How many certificates it lists.
    pub entries: usize,
    /// The DER file.
    pub der: std::path::PathBuf,
    /// The PEM file.
    pub pem: std::path::PathBuf,
}

/// Builds, signs and publishes the CA's CRL. Call with the lock held.
pub fn generate(
    dir: &CaDir,
    lock: &Locked<'_>,
    ca: &Ca,
    issuer: &std::sync::Arc<Issuer<'static, KeyPair>>,
    next_update: Duration,
    ctx: &Context<'_>,
) -> Result<(CrlSummary, Vec<u8>, String)> {
    lock.sign_with(crate::store::LedgerSigner::new(&ca.name, &ca.der, issuer.clone()));
    let text = dir.revoked_list_text(&ca.name)?;
    let prev_der = dir.current_crl_der(&ca.name)?;
    let prev = previous_crl(dir, ca, prev_der.as_deref())?;
    // Expired entries stay until a CRL issued after their expiry has listed them (RFC 5280 §3.3).
    let keep_after = prev.as_ref().map_or(ctx.now, |p| p.this_update.min(ctx.now));
    let entries = entries(&text, &rfc3339(keep_after))?;
    match &prev {
        Some(p) => check_evidence(dir, ca, p, &text, &entries)?,
        None => ledger_evidence(dir, ca, &entries, ctx.now)?,
    }
    let number = lock.next_crl_number(&ca.name, prev.as_ref().and_then(|p| p.number).unwrap_or(0))?;
    let this_update = ctx.now;
    let next = crate::certs::not_after(ctx.now, next_update)?;
    let key = issuer.key();
    let (der, pem_text) = match (crate::crl_der::algorithm(key), &ca.ski) {
        // The keys pki makes CAs with: the direct encoder (the same bytes, far less work).
        (Some(algorithm), Some(ski)) => {
            // Every serial's bytes in one buffer: no allocation per entry.
            let mut arena: Vec<u8> = Vec::with_capacity(entries.len() * 16);
            let mut spans = Vec::with_capacity(entries.len());
            for e in &entries {
                let start = arena.len();
                if !Serial::decode_canonical_into(e.serial, &mut arena) {
                    arena.extend_from_slice(Serial::parse(e.serial)?.bytes());
                }
                spans.push(start..arena.len());
            }
            let mut revoked = Vec::with_capacity(entries.len());
            for (e, span) in entries.iter().zip(&spans) {
                revoked.push(crate::crl_der::Revoked {
                    serial: &arena[span.clone()],
                    revoked_at: parse_rfc3339(e.revoked_at)?,
                    reason: reason_code(e.reason).filter(|r| *r != RevocationReason::Unspecified).map(|r| r as u8),
                    invalidity_date: e.invalidity_date.map(parse_rfc3339).transpose()?,
                });
            }
            let header = crate::crl_der::Header {
                algorithm,
                issuer: &ca.subject_raw,
                this_update,
                next_update: next,
                number,
                aki: ski,
            };
            let der = crate::crl_der::encode(&header, &revoked, |tbs| {
                rcgen::SigningKey::sign(key, tbs).map_err(|e| anyhow!("cannot sign the CRL of CA '{}': {e}", ca.name))
            })?;
            let pem_text = crate::crl_der::pem(&der);
            (der, pem_text)
        }
        _ => {
            let mut revoked = Vec::with_capacity(entries.len());
            for e in &entries {
                revoked.push(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(Serial::parse(e.serial)?.bytes()),
                    revocation_time: parse_rfc3339(e.revoked_at)?,
                    reason_code: reason_code(e.reason).filter(|r| *r != RevocationReason::Unspecified),
                    invalidity_date: e.invalidity_date.map(parse_rfc3339).transpose()?,
                });
            }
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
            let crl =
                params.signed_by(&**issuer).map_err(|e| anyhow!("cannot sign the CRL of CA '{}': {e}", ca.name))?;
            (crl.der().to_vec(), crl.pem().map_err(|e| anyhow!("cannot encode the CRL: {e}"))?)
        }
    };
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
    lock.commit_crl(&ca.name, &der, &pem_text, data, ctx.actor, &rfc3339(ctx.now))?;
    // OCSP responses signed in advance (`gen-crl --ocsp`) follow every CRL of their CA: the
    // same statuses, the same nextUpdate.
    if dir.has_presigned_ocsp(&ca.name)? {
        crate::ocsp::presign(dir, lock, ca, issuer, next, ctx)?;
    }
    Ok((summary, der, pem_text))
}

fn parse_crl<'a>(
    dir: &CaDir,
    ca: &str,
    der: &'a [u8],
) -> Result<x509_parser::revocation_list::CertificateRevocationList<'a>> {
    use x509_parser::prelude::FromDer;
    x509_parser::revocation_list::CertificateRevocationList::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| anyhow!("{} is not a CRL: {e}", dir.crl_paths(ca).0.display()))
}

/// thisUpdate and nextUpdate of a CA's current CRL, if it has one.
pub fn current_times(dir: &CaDir, ca: &str) -> Result<Option<(OffsetDateTime, Option<OffsetDateTime>)>> {
    let Some(der) = dir.current_crl_der(ca)? else { return Ok(None) };
    times_of(dir, ca, &der).map(Some)
}

/// thisUpdate and nextUpdate of CA `ca`'s CRL `der` (already read: `dir.current_crl_der`).
pub fn times_of(dir: &CaDir, ca: &str, der: &[u8]) -> Result<(OffsetDateTime, Option<OffsetDateTime>)> {
    let crl = parse_crl(dir, ca, der)?;
    let t = |a: x509_parser::time::ASN1Time| {
        OffsetDateTime::from_unix_timestamp(a.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    };
    Ok((t(crl.last_update()), crl.next_update().map(t)))
}

/// The age in seconds of the CA's current CRL when it needs no refresh yet: younger than
/// `min_age`, not expiring within `min_age`, and not behind the directory's revocations. `None`
/// when it should be regenerated (or there is none).
pub fn fresh_age(dir: &CaDir, ca: &str, now: OffsetDateTime, min_age: Duration) -> Result<Option<i64>> {
    let Some((this, next)) = current_times(dir, ca)? else { return Ok(None) };
    let age = (now - this).whole_seconds();
    let expires_soon = next.is_some_and(|n| n <= now + time::Duration::seconds(min_age.as_secs() as i64));
    let behind = is_behind(dir, ca, now)? == Some(true);
    Ok((age < min_age.as_secs() as i64 && !expires_soon && !behind).then_some(age))
}

/// Whether the CA's CRL is due: there is none, it misses a revocation, or it is past half of
/// its life (its nextUpdate nearer than half the span from thisUpdate), as `audit` judges.
pub fn is_due(dir: &CaDir, ca: &str, now: OffsetDateTime) -> Result<bool> {
    let Some((this, next)) = current_times(dir, ca)? else { return Ok(true) };
    if is_behind(dir, ca, now)? == Some(true) {
        return Ok(true);
    }
    Ok(next.is_some_and(|n| (n - now).whole_seconds() <= (n - this).whole_seconds() / 2))
}

/// Whether the published CRL misses a revocation (or a reason change) that the directory has:
/// a CRL "behind the inventory". None when the CA has no CRL yet.
pub fn is_behind(dir: &CaDir, ca: &str, now: OffsetDateTime) -> Result<Option<bool>> {
    let Some(der) = dir.current_crl_der(ca)? else { return Ok(None) };
    Ok(Some(misses_revocations(dir, ca, &parse_crl(dir, ca, &der)?, now)?))
}

/// Whether `crl` (already parsed) lacks a revocation, or a reason change, of the CA's list.
pub fn misses_revocations(
    dir: &CaDir,
    ca: &str,
    crl: &x509_parser::revocation_list::CertificateRevocationList<'_>,
    now: OffsetDateTime,
) -> Result<bool> {
    let listed: HashMap<String, Option<u8>> = crl
        .iter_revoked_certificates()
        .map(|r| (Serial::from_bytes(r.raw_serial()).hex(), r.reason_code().map(|(_, c)| c.0)))
        .collect();
    let text = dir.revoked_list_text(ca)?;
    for e in entries(&text, &rfc3339(now))? {
        let want = reason_code(e.reason).filter(|r| *r != RevocationReason::Unspecified).map(|r| r as u8);
        match listed.get(e.serial) {
            Some(have) if *have == want => {}
            _ => return Ok(true),
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serials that share their first 16 characters (not random: another tool's, or written by
    /// hand) spread over the buckets like random ones; the old hash put them all in one.
    #[test]
    fn serials_sharing_a_prefix_do_not_collide() {
        use std::hash::BuildHasher;
        let b = SerialHashes::default();
        let buckets: std::collections::HashSet<u64> = (0..10_000u128)
            .map(|i| b.hash_one(format!("{:032X}", (0x4000_u128 << 112) + i * 7919).as_str()) & 0x3fff)
            .collect();
        // 10,000 random keys over 16,384 buckets fill about 7,500.
        assert!(buckets.len() > 6_000, "{} buckets", buckets.len());
    }

    #[test]
    fn entries_keep_the_latest_state_and_drop_expired() {
        let text = "A\tissuing\t2026-01-01T00:00:00Z\tsuperseded\t-\t2099-01-01T00:00:00Z\tleaf\n\
                    B\tissuing\t2026-01-01T00:00:00Z\tunspecified\t-\t2020-01-01T00:00:00Z\tleaf\n\
                    A\tissuing\t2026-01-01T00:00:00Z\tkeyCompromise\t2025-12-31T00:00:00Z\t2099-01-01T00:00:00Z\tleaf\n";
        let e = entries(text, "2026-06-01T00:00:00Z").unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].serial, e[0].reason, e[0].invalidity_date),
            ("A", "keyCompromise", Some("2025-12-31T00:00:00Z"))
        );
    }

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
