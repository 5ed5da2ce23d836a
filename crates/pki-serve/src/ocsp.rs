//! The OCSP responder (RFC 6960; RFC 5019's lightweight profile): `POST /ocsp/<ca>` with an
//! `application/ocsp-request` body, and `GET /ocsp/<ca>/<base64 request>` (the whole rest of the
//! path, percent-decoding applied). Answers for the CAs whose keys serve holds (`--ca`,
//! `--tls-ca`), signed by a delegated responder certificate serve issues from that CA and
//! rotates (or by the CA itself, `[ca.NAME] ocsp_signer = "ca"`). Statuses come from the
//! snapshot of the directory ([`crate::published::OcspCa`]), so a CLI revocation is answered
//! within one poll. Responses to nonce-less requests are signed once and cached until the
//! directory changes or they pass half their validity; a nonce is echoed in a response signed
//! for that request.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Result, anyhow};
use bytes::Bytes;
use time::OffsetDateTime;

use pki_core::ocsp::{CertStatus, Failure, Responder};

use crate::Signer;
use crate::published::{Object, Published};

/// Lifetime of a delegated responder certificate; a successor is issued with a third left.
pub const RESPONDER_TTL: Duration = Duration::from_secs(24 * 3600);
/// Default validity of a response (nextUpdate - thisUpdate), `[ca.NAME] ocsp_next_update`.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(3600);
/// How long an HTTP cache may keep a response at most (RFC 5019 section 6.2: never past its
/// nextUpdate): a revocation reaches clients behind a cache within this plus the poll interval.
pub const MAX_AGE: i64 = 60;
/// Cached responses at most (each about 1 KiB); the cache is emptied when full.
pub const CACHE_ENTRIES: usize = 100_000;

/// One CA's live responder.
struct Live {
    responder: Arc<Responder>,
    validity: Duration,
    delegated: bool,
    issuer: Arc<rcgen::Issuer<'static, rcgen::KeyPair>>,
}

/// A signed response kept for nonce-less requests: the HTTP object (body, ETag computed once,
/// Last-Modified = thisUpdate, expiry = nextUpdate) and what it was made from.
#[derive(Clone)]
pub struct Cached {
    /// The response as an HTTP object.
    pub object: Object,
    /// The directory stamp it was made from.
    stamp: u64,
    /// The responder generation it was signed by.
    generation: u64,
}

/// The responders and the response cache.
pub struct Ocsp {
    live: RwLock<HashMap<String, Live>>,
    generation: std::sync::atomic::AtomicU64,
    /// By CA, then by the request's CertID bytes: a hit allocates nothing.
    cache: RwLock<HashMap<String, HashMap<Vec<u8>, Cached>>>,
    signed: std::sync::atomic::AtomicU64,
    last_failure: Mutex<Option<std::time::Instant>>,
}

fn validity_of(settings: &pki_core::settings::Settings, ca: &str) -> Result<Duration> {
    match settings.ca.get(ca).and_then(|c| c.ocsp_next_update.as_deref()) {
        Some(v) => Ok(pki_core::duration::parse("ocsp_next_update", v)?),
        None => Ok(DEFAULT_VALIDITY),
    }
}

/// Issues a delegated responder certificate for `ca` under the lock (inventory, ledger).
fn issue_responder(dir: &Path, ca: &str, issuer: &Arc<rcgen::Issuer<'static, rcgen::KeyPair>>) -> Result<Responder> {
    let done = crate::with_issuing(dir, ca, issuer, "pki serve: OCSP responder certificate", |issuing, ctx| {
        let plan = pki_core::ocsp::responder_plan(issuing, ca, RESPONDER_TTL, ctx.now)?;
        let lock = issuing.dir.lock(Duration::from_secs(5))?;
        issuing.commit_plan(&plan, &lock, &pki_core::issuance::Out::Stdout, None, ctx)
    })?;
    let issued = done.issued;
    let key = issued.key_pem.as_ref().ok_or_else(|| anyhow!("no responder key"))?;
    let der = pem::parse(&issued.cert_pem).map_err(|e| anyhow!("responder certificate: {e}"))?.into_contents();
    Responder::delegated(der, key)
}

fn live_for(dir: &Path, settings: &pki_core::settings::Settings, s: &Signer) -> Result<Live> {
    let name = &s.ca.name;
    let delegated = settings.ca.get(name).and_then(|c| c.ocsp_signer.as_deref()) != Some("ca");
    let responder =
        if delegated { issue_responder(dir, name, &s.issuer)? } else { Responder::by_ca(&s.ca, s.issuer.clone())? };
    Ok(Live {
        responder: Arc::new(responder),
        validity: validity_of(settings, name)?,
        delegated,
        issuer: s.issuer.clone(),
    })
}

impl Ocsp {
    /// Sets up a responder for each CA whose key serve holds (issuing the delegated responder
    /// certificates now: a refusal is an error at start).
    pub fn start(dir: &Path, signers: &[Signer]) -> Result<Ocsp> {
        let cadir = pki_core::store::CaDir::open(dir)?;
        let settings = pki_core::settings::Settings::parse(&cadir.read_settings_text()?, "pki.toml")?;
        let mut live = HashMap::new();
        for s in signers {
            live.insert(s.ca.name.clone(), live_for(dir, &settings, s)?);
        }
        Ok(Ocsp {
            live: RwLock::new(live),
            generation: Default::default(),
            cache: Default::default(),
            signed: Default::default(),
            last_failure: Default::default(),
        })
    }

    /// The CAs answered for, with their delegated responder's serial and end.
    pub fn responders(&self) -> Vec<(String, Option<(String, OffsetDateTime)>)> {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = live
            .iter()
            .map(|(ca, l)| (ca.clone(), l.responder.delegated.as_ref().map(|(s, _, na)| (s.clone(), *na))))
            .collect();
        v.sort();
        v
    }

    /// Responses signed so far (metrics: how little a busy responder signs).
    pub fn signed(&self) -> u64 {
        self.signed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Issues successors for delegated responder certificates with a third of their life left
    /// (the CA itself signing needs nothing). Returns the CAs whose responder changed.
    pub fn maintain(&self, dir: &Path, now: OffsetDateTime) -> Result<Vec<String>> {
        let due: Vec<(String, Arc<rcgen::Issuer<'static, rcgen::KeyPair>>)> = {
            let live = self.live.read().unwrap_or_else(|e| e.into_inner());
            live.iter()
                .filter(|(_, l)| l.delegated)
                .filter(|(_, l)| l.responder.delegated.as_ref().is_some_and(|(_, nb, na)| now >= *na - (*na - *nb) / 3))
                .map(|(ca, l)| (ca.clone(), l.issuer.clone()))
                .collect()
        };
        if due.is_empty() {
            return Ok(vec![]);
        }
        let mut last = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(30)) {
            return Ok(vec![]);
        }
        let mut changed = vec![];
        for (ca, issuer) in due {
            match issue_responder(dir, &ca, &issuer) {
                Ok(r) => {
                    if let Some(l) = self.live.write().unwrap_or_else(|e| e.into_inner()).get_mut(&ca) {
                        l.responder = Arc::new(r);
                    }
                    changed.push(ca);
                }
                Err(e) => {
                    *last = Some(std::time::Instant::now());
                    return Err(e.context(format!("cannot renew the OCSP responder certificate of CA '{ca}'")));
                }
            }
        }
        self.generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(changed)
    }

    /// Answers one DER request for CA `ca` at `now`: the response DER, and whether it may be
    /// cached by HTTP caches (a nonce-less success) with its times.
    pub fn answer(&self, p: &Published, ca: &str, der: &[u8], now: OffsetDateTime) -> Answer {
        let req = match pki_core::ocsp::parse_request(der) {
            Ok(r) => r,
            Err(e) => return Answer::failure(e.status, e.why),
        };
        let Some(target) = p.ocsp.get(ca) else {
            return Answer::failure(Failure::Unauthorized, format!("no CA '{ca}' in this directory"));
        };
        let live =
            self.live.read().unwrap_or_else(|e| e.into_inner()).get(ca).map(|l| (l.responder.clone(), l.validity));
        let Some(live) = live else {
            return presigned(target, ca, &req, now);
        };
        let (responder, validity) = live;
        if let Some(bad) = req.ids.iter().find(|id| !target.issuer.matches(id)) {
            return Answer::failure(
                Failure::Unauthorized,
                format!("a CertID ({}) names another issuer than CA '{ca}'", bad.alg.name()),
            );
        }
        let this_update = now.replace_nanosecond(0).unwrap_or(now);
        let mut next_update = this_update + validity;
        if let Some(n) = target.crl_next_update {
            next_update = next_update.min(n);
        }
        if let Some((_, _, na)) = &responder.delegated {
            next_update = next_update.min(*na);
        }
        if next_update <= this_update {
            return Answer::failure(Failure::InternalError, format!("CA '{ca}' has no current CRL to answer from"));
        }
        let generation = self.generation.load(std::sync::atomic::Ordering::Relaxed);
        let cacheable = req.nonce.is_none() && req.ids.len() == 1;
        if cacheable
            && let Some(c) =
                self.cache.read().unwrap_or_else(|e| e.into_inner()).get(ca).and_then(|m| m.get(req.ids[0].raw))
            && c.stamp == p.stamp
            && c.generation == generation
            && let Some(next) = c.object.expires
            && now < c.object.last_modified + (next - c.object.last_modified) / 2
        {
            let status = status_name(target.statuses.status(req.ids[0].serial));
            return Answer { der: c.object.body.clone(), cacheable: Some(c.object.clone()), status, why: None };
        }
        let singles: Vec<pki_core::ocsp::Single<'_>> = req
            .ids
            .iter()
            .map(|id| pki_core::ocsp::Single {
                id: id.raw,
                status: target.statuses.status(id.serial),
                this_update,
                next_update,
            })
            .collect();
        let status = singles.iter().map(|s| status_name(s.status)).collect::<Vec<_>>().join(",");
        let der = match pki_core::ocsp::response(&responder, this_update, &singles, req.nonce) {
            Ok(d) => Bytes::from(d),
            Err(e) => return Answer::failure(Failure::InternalError, format!("{e:#}")),
        };
        self.signed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if cacheable {
            let object = response_object(der.clone(), this_update, next_update);
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            if cache.values().map(HashMap::len).sum::<usize>() >= CACHE_ENTRIES {
                cache.clear();
            }
            let c = Cached { object: object.clone(), stamp: p.stamp, generation };
            cache.entry(ca.to_string()).or_default().insert(req.ids[0].raw.to_vec(), c);
            return Answer { der, cacheable: Some(object), status, why: None };
        }
        Answer { der, cacheable: None, status, why: None }
    }
}

/// A CA whose key serve does not hold: the responses the CLI signed in advance (one CertID
/// per request; a nonce cannot be echoed in them and is left out, as RFC 9654 allows).
fn presigned(
    target: &crate::published::OcspCa,
    ca: &str,
    req: &pki_core::ocsp::Request<'_>,
    now: OffsetDateTime,
) -> Answer {
    let Some(pre) = &target.presigned else {
        return Answer::failure(
            Failure::Unauthorized,
            format!(
                "serve holds no key for CA '{ca}' and it has no responses signed in advance (`pki gen-crl --ca {ca} --ocsp`)"
            ),
        );
    };
    let [id] = req.ids.as_slice() else {
        return Answer::failure(
            Failure::MalformedRequest,
            format!("CA '{ca}' is answered one certificate per request"),
        );
    };
    if !target.issuer.matches(id) {
        return Answer::failure(
            Failure::Unauthorized,
            format!("a CertID ({}) names another issuer than CA '{ca}'", id.alg.name()),
        );
    }
    if pre.next_update.is_some_and(|n| n <= now) {
        return Answer::failure(
            Failure::InternalError,
            format!("the responses of CA '{ca}' signed in advance have expired: run `pki gen-crl --ca {ca}`"),
        );
    }
    match pre.responses.get(&(id.alg, id.serial.to_vec())) {
        Some(der) => Answer {
            der: Bytes::from(der.clone()),
            cacheable: pre
                .this_update
                .zip(pre.next_update)
                .map(|(t, n)| response_object(Bytes::from(der.clone()), t, n)),
            status: status_name(target.statuses.status(id.serial)),
            why: None,
        },
        None => Answer::failure(
            Failure::Unauthorized,
            format!("no response signed in advance for that serial of CA '{ca}' ({})", id.alg.name()),
        ),
    }
}

/// A response as an HTTP object (RFC 5019 section 6.2: validators from thisUpdate, kept no
/// longer than nextUpdate).
fn response_object(der: Bytes, this_update: OffsetDateTime, next_update: OffsetDateTime) -> Object {
    Object {
        etag: crate::published::etag_of(&der),
        body: der,
        content_type: crate::http::OCSP_RESPONSE,
        last_modified: this_update,
        expires: Some(next_update),
    }
}

fn status_name(s: CertStatus) -> String {
    match s {
        CertStatus::Good => "good".into(),
        CertStatus::Revoked { .. } => "revoked".into(),
        CertStatus::Unknown => "unknown".into(),
    }
}

/// What the responder answered.
pub struct Answer {
    /// The OCSPResponse DER.
    pub der: Bytes,
    /// For a nonce-less success: the response as an HTTP object HTTP caches may keep.
    pub cacheable: Option<Object>,
    /// The statuses given, or the failure, for the log line.
    pub status: String,
    /// Why the request failed, for the log line.
    pub why: Option<String>,
}

impl Answer {
    /// A failure response, with why (for the log).
    pub fn failure(f: Failure, why: String) -> Answer {
        let status = match f {
            Failure::MalformedRequest => "malformedRequest",
            Failure::InternalError => "internalError",
            Failure::Unauthorized => "unauthorized",
        };
        Answer {
            der: Bytes::from(pki_core::ocsp::failure_response(f)),
            cacheable: None,
            status: status.into(),
            why: Some(why),
        }
    }
}

/// The request of a GET: the rest of the path after `/ocsp/<ca>/`, percent-decoded, then
/// base64 (standard alphabet, as RFC 6960 appendix A.1 says; the URL-safe one is accepted too).
pub fn decode_get(rest: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    if rest.len() > pki_core::ocsp::MAX_REQUEST * 2 {
        return None;
    }
    let mut bytes = Vec::with_capacity(rest.len());
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            bytes.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            bytes.push(b[i]);
            i += 1;
        }
    }
    let text = std::str::from_utf8(&bytes).ok()?.trim_end_matches('=');
    let e = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(false),
    );
    e.decode(text).ok().or_else(|| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok())
}
