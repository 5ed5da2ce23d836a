//! ACME (RFC 8555) on `pki serve`'s HTTPS listener: one ACME directory per profile with
//! `acme = true`, at `/acme/PROFILE/directory`. One handler per endpoint below, with its
//! section of the RFC beside it; every POST goes through the same chain first (after
//! step-ca's): body size and media type, JWS parse, nonce, `url`, `jwk` or `kid` and the
//! account, signature.
//!
//! Certificates are issued by the issuance core as `pki issue --csr` issues them (the
//! profile's checks, the inventory, the ledger with the ACME account as the actor), so `pki
//! list`, `pki revoke`, `pki audit` and OCSP see them like any other; revocations go through
//! the core's `revoke` the same way. Accounts, orders and authorizations are written to
//! `acme/` in the CA directory before they are answered ([`state`]).

pub mod jws;
pub mod nonce;
pub mod problem;
pub mod state;
pub mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use self::jws::{Jwk, Parsed, Signer};
use self::problem::Problem;
use self::state::{Account, Authz, Challenge, Identifier, Order, State, key_index};
use crate::http::Resp;
use pki_core::store::{AcmeKind, CaDir};

/// How long a new order and its pending authorizations can be completed.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(3600);
/// How long a validated authorization is reused for new orders of the same account.
pub const VALID_AUTHZ_REUSE: Duration = Duration::from_secs(24 * 3600);
/// Identifiers in one order at most.
pub const MAX_IDENTIFIERS: usize = 100;
/// Contact URLs of one account at most.
pub const MAX_CONTACTS: usize = 10;
/// New orders one account may place in an hour (`rateLimited` beyond).
pub const ORDERS_PER_HOUR: usize = 300;
/// Pending authorizations one account may hold at once (`rateLimited` beyond).
pub const PENDING_AUTHZS: usize = 1000;
/// How long expired orders and authorizations (and orders whose certificate expired) are
/// kept before they are deleted.
pub const KEEP_EXPIRED: Duration = Duration::from_secs(24 * 3600);
/// Orders listed by an account's `orders` URL at most.
pub const MAX_ORDERS_LISTED: usize = 1000;
/// How long issuance and revocation wait for the directory lock (a busy CLI).
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// `[serve.acme]` and the `--acme-*` flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The external base URL clients use (`https://ca.example.com`), when serve is behind a
    /// proxy; else `https://` + the request's Host.
    pub base_url: Option<String>,
    /// The port http-01 validation connects to (default 80).
    pub http01_port: u16,
    /// The port tls-alpn-01 validation connects to (default 443).
    pub tlsalpn01_port: u16,
    /// The DNS server names are resolved through (default: the system's resolver).
    pub dns_resolver: Option<SocketAddr>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { base_url: None, http01_port: 80, tlsalpn01_port: 443, dns_resolver: None }
    }
}

/// One ACME directory: a profile with `acme = true`.
#[derive(Debug, Clone)]
pub struct Directory {
    /// The CA the profile issues from.
    pub ca: String,
    /// Whether accounts must register with an External Account Binding.
    pub eab_required: bool,
}

/// The ACME server.
pub struct Acme {
    dir: PathBuf,
    settings: Settings,
    /// Profile -> its directory.
    directories: BTreeMap<String, Directory>,
    issuers: BTreeMap<String, Arc<rcgen::Issuer<'static, rcgen::KeyPair>>>,
    nonces: nonce::Nonces,
    state: Mutex<State>,
    resolver: validate::Resolver,
}

fn now() -> OffsetDateTime {
    let n = OffsetDateTime::now_utc();
    n.replace_nanosecond(0).unwrap_or(n)
}

fn random_id(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut b = vec![0u8; bytes];
    // The OS's randomness does not fail on Linux once the pool is seeded; an all-zero id would
    // then merely collide and be refused by the map.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    B64.encode(b)
}

fn rfc3339_at(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).map(pki_core::certs::rfc3339).unwrap_or_default()
}

/// An authorization's status now (`expired` is derived).
fn authz_status(a: &Authz, now: i64) -> &str {
    match a.status.as_str() {
        "pending" | "valid" if now >= a.expires => "expired",
        s => s,
    }
}

/// An order's status now, from its authorizations (RFC 8555 section 7.1.6).
fn order_status(o: &Order, s: &State, now: i64) -> String {
    match o.status.as_str() {
        "valid" | "invalid" | "processing" => return o.status.clone(),
        _ => {}
    }
    if now >= o.expires {
        return "invalid".into();
    }
    let mut all_valid = true;
    for id in &o.authzs {
        match s.authzs.get(id).map(|a| authz_status(a, now)) {
            Some("valid") => {}
            Some("pending") => all_valid = false,
            _ => return "invalid".into(),
        }
    }
    if all_valid { "ready".into() } else { "pending".into() }
}

impl State {
    /// An order of `account` (another account's is not found, as if it did not exist).
    fn own_order(&self, id: &str, account: &str, what: &str) -> Result<&Order, Problem> {
        self.orders.get(id).filter(|o| o.account == account).ok_or_else(|| Problem::not_found(what))
    }
    /// An authorization of `account`, likewise.
    fn own_authz(&self, id: &str, account: &str) -> Result<&Authz, Problem> {
        self.authzs.get(id).filter(|a| a.account == account).ok_or_else(|| Problem::not_found("authorization"))
    }
}

/// What a POST carries once the chain has checked it.
struct Post {
    profile: String,
    base: String,
    account: Option<Account>,
    jwk: Jwk,
    jws: Parsed,
}

impl Post {
    fn url(&self, rest: &str) -> String {
        format!("{}/acme/{}/{rest}", self.base, self.profile)
    }
    fn account(&self) -> &Account {
        self.account.as_ref().expect("kid requests carry their account")
    }
}

/// A response under construction: status, JSON or PEM body, Location and Link headers.
struct Reply {
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
    location: Option<String>,
    links: Vec<String>,
    retry_after: Option<u64>,
}

impl Reply {
    fn json(status: StatusCode, v: Value) -> Reply {
        Reply {
            status,
            body: Bytes::from(v.to_string()),
            content_type: "application/json",
            location: None,
            links: vec![],
            retry_after: None,
        }
    }
    /// A reply without a body (newNonce, revokeCert).
    fn empty(status: StatusCode) -> Reply {
        Reply { body: Bytes::new(), ..Reply::json(status, Value::Null) }
    }
    fn location(mut self, l: String) -> Reply {
        self.location = Some(l);
        self
    }
    fn link(mut self, url: String, rel: &str) -> Reply {
        self.links.push(format!("<{url}>;rel=\"{rel}\""));
        self
    }
}

/// What a challenge POST leaves to do after answering.
type Job = Option<(String, String)>;

impl Acme {
    /// Reads the ACME state and sets up the directories: `profiles` maps each ACME profile to
    /// its CA, whose key `signers` must hold.
    pub fn start(
        dir: &std::path::Path,
        settings: Settings,
        profiles: BTreeMap<String, Directory>,
        signers: &[crate::Signer],
    ) -> Result<Acme> {
        let cadir = CaDir::open(dir)?;
        let mut state = State::load(&cadir)?;
        // An order a killed server was issuing: the client may finalize it again.
        for o in state.orders.values_mut() {
            if o.status == "processing" {
                o.status = "ready".into();
            }
        }
        let mut issuers = BTreeMap::new();
        for ca in profiles.values().map(|d| &d.ca) {
            let s = signers
                .iter()
                .find(|s| &s.ca.name == ca)
                .ok_or_else(|| anyhow::anyhow!("ACME needs CA '{ca}' unlocked: add --ca {ca}"))?;
            issuers.insert(ca.clone(), s.issuer.clone());
        }
        Ok(Acme {
            dir: dir.to_path_buf(),
            resolver: validate::Resolver::new(settings.dns_resolver)?,
            settings,
            directories: profiles,
            issuers,
            nonces: nonce::Nonces::new()?,
            state: Mutex::new(state),
        })
    }

    /// Deletes what no client can use any more: orders expired (or whose certificate expired)
    /// and authorizations expired for [`KEEP_EXPIRED`], the latter only once no order refers to
    /// them. Returns how many objects were deleted.
    pub fn clean(&self, now: i64) -> Result<usize> {
        let cadir = CaDir::open(&self.dir)?;
        let mut s = self.lock();
        let keep = KEEP_EXPIRED.as_secs() as i64;
        let old_orders: Vec<String> = s
            .orders
            .values()
            .filter(|o| match o.status.as_str() {
                "valid" => o.cert_not_after.is_some_and(|t| t + keep < now),
                _ => o.expires + keep < now,
            })
            .map(|o| o.id.clone())
            .collect();
        for id in &old_orders {
            cadir.acme_remove(AcmeKind::Order, id)?;
            if let Some(o) = s.orders.remove(id)
                && let Some(serial) = o.serial
            {
                s.by_serial.remove(&serial);
            }
        }
        let referenced: std::collections::HashSet<&String> = s.orders.values().flat_map(|o| o.authzs.iter()).collect();
        let old_authzs: Vec<String> = s
            .authzs
            .values()
            .filter(|a| a.expires + keep < now && !referenced.contains(&a.id))
            .map(|a| a.id.clone())
            .collect();
        for id in &old_authzs {
            cadir.acme_remove(AcmeKind::Authz, id)?;
            s.authzs.remove(id);
        }
        Ok(old_orders.len() + old_authzs.len())
    }

    /// The profiles served as ACME directories.
    pub fn profiles(&self) -> Vec<String> {
        self.directories.keys().cloned().collect()
    }

    /// Validations a stopped server left running are started again (call inside the runtime).
    pub fn resume(self: &Arc<Self>) {
        let jobs: Vec<(String, String)> = {
            let s = self.lock();
            s.authzs
                .values()
                .filter(|a| a.status == "pending")
                .flat_map(|a| {
                    a.challenges.iter().filter(|c| c.status == "processing").map(|c| (a.id.clone(), c.kind.clone()))
                })
                .collect()
        };
        for j in jobs {
            self.spawn_validation(j);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save<T: serde::Serialize>(&self, kind: AcmeKind, id: &str, v: &T) -> Result<(), Problem> {
        let bytes = serde_json::to_vec(v).map_err(|e| Problem::internal(&e.into()))?;
        CaDir::open(&self.dir).and_then(|d| d.acme_save(kind, id, &bytes)).map_err(|e| Problem::internal(&e))
    }

    /// Answers one request under `/acme/`.
    pub async fn handle(self: Arc<Self>, req: Request<hyper::body::Incoming>, secure: bool) -> Resp {
        let path = req.uri().path().to_string();
        let rest = path.trim_start_matches("/acme/");
        let (profile, endpoint) = rest.split_once('/').unwrap_or((rest, ""));
        let (profile, endpoint) = (profile.to_string(), endpoint.to_string());
        let base = match self.base_url(&req) {
            Ok(b) => b,
            Err(p) => return self.problem(p, None),
        };
        let index = format!("{base}/acme/{profile}/directory");
        if !self.directories.contains_key(&profile) {
            let known = self.profiles().join(", ");
            return self.problem(
                Problem::not_found(&format!("ACME directory '{profile}' (profiles with acme = true: {known})")),
                None,
            );
        }
        if !secure {
            // RFC 8555 section 6.1: ACME is served over HTTPS only.
            return self.problem(
                Problem::malformed(format!("ACME is served over HTTPS only: use {index}")).with_status(403),
                None,
            );
        }
        let reply = match (req.method(), endpoint.as_str()) {
            (&Method::GET, "directory") => Ok(self.directory(&base, &profile)),
            (&Method::HEAD, "new-nonce") => Ok(Reply::empty(StatusCode::OK)),
            (&Method::GET, "new-nonce") => Ok(Reply::empty(StatusCode::NO_CONTENT)),
            (&Method::GET, e) if e.starts_with("renewal-info/") => {
                let (me, id) = (self.clone(), e["renewal-info/".len()..].to_string());
                tokio::task::spawn_blocking(move || me.renewal_info(&id))
                    .await
                    .unwrap_or_else(|e| Err(Problem::internal(&anyhow::anyhow!("handler failed: {e}"))))
            }
            (&Method::POST, _) => self.clone().post(req, base.clone(), profile.clone(), endpoint.clone(), path).await,
            _ => Err(Problem::malformed(format!("{} is not served on {path}", req.method())).with_status(405)),
        };
        match reply {
            Ok(r) => self.reply(r, &index),
            Err(p) => self.problem(p, Some(&index)),
        }
    }

    fn base_url<B>(&self, req: &Request<B>) -> Result<String, Problem> {
        if let Some(b) = &self.settings.base_url {
            return Ok(b.trim_end_matches('/').to_string());
        }
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .ok_or_else(|| Problem::malformed("the request has no Host".into()))?;
        // The Host goes into every URL the server hands out: only what a host and port hold.
        if host.is_empty()
            || host.len() > 255
            || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        {
            return Err(Problem::malformed("the Host header is not a host name or address".into()));
        }
        Ok(format!("https://{host}"))
    }

    fn reply(&self, r: Reply, index: &str) -> Resp {
        let empty = r.body.is_empty();
        let mut resp = Response::new(Full::new(r.body));
        *resp.status_mut() = r.status;
        let h = resp.headers_mut();
        if !empty {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(r.content_type));
        }
        if let Some(l) = r.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            h.insert(header::LOCATION, l);
        }
        if let Some(secs) = r.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        for l in r.links.iter().map(String::as_str).chain(std::iter::once(&*format!("<{index}>;rel=\"index\""))) {
            if let Ok(v) = HeaderValue::from_str(l) {
                h.append(header::LINK, v);
            }
        }
        self.common_headers(&mut resp);
        resp
    }

    fn common_headers(&self, resp: &mut Resp) {
        let nonce = self.nonces.issue(now().unix_timestamp() as u64);
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&nonce) {
            h.insert("replay-nonce", v);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }

    fn problem(&self, p: Problem, index: Option<&str>) -> Resp {
        let mut resp = Response::new(Full::new(Bytes::from(p.to_json().to_string())));
        *resp.status_mut() = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(l) = p.location.as_deref().and_then(|l| HeaderValue::from_str(l).ok()) {
            resp.headers_mut().insert(header::LOCATION, l);
        }
        if let Some(secs) = p.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(v) = index.and_then(|i| HeaderValue::from_str(&format!("<{i}>;rel=\"index\"")).ok()) {
            resp.headers_mut().insert(header::LINK, v);
        }
        self.common_headers(&mut resp);
        resp.extensions_mut().insert(crate::http::Note("acme", format!("{}: {}", p.kind, p.detail)));
        resp
    }

    /// Section 7.1.1: the directory.
    fn directory(&self, base: &str, profile: &str) -> Reply {
        let u = |e: &str| format!("{base}/acme/{profile}/{e}");
        Reply::json(
            StatusCode::OK,
            json!({
                "newNonce": u("new-nonce"),
                "newAccount": u("new-account"),
                "newOrder": u("new-order"),
                "revokeCert": u("revoke-cert"),
                "keyChange": u("key-change"),
                "renewalInfo": u("renewal-info"),
                "meta": {
                    "externalAccountRequired": self.directories[profile].eab_required,
                    "website": "https://github.com/pki/pki",
                    "profiles": { profile: format!("pki profile '{profile}' (CA '{}')", self.directories[profile].ca) },
                },
            }),
        )
    }

    /// The chain every POST passes (section 6.2-6.5), then the endpoint.
    async fn post(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
        base: String,
        profile: String,
        endpoint: String,
        path: String,
    ) -> Result<Reply, Problem> {
        use http_body_util::BodyExt;
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if ct.split(';').next().map(str::trim) != Some("application/jose+json") {
            return Err(
                Problem::malformed(format!("Content-Type is '{ct}', not application/jose+json")).with_status(415)
            );
        }
        let too_big = || Problem::malformed(format!("the body is over {} KiB", jws::MAX_BODY / 1024)).with_status(413);
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > jws::MAX_BODY as u64) {
            return Err(too_big());
        }
        let body = http_body_util::Limited::new(req.into_body(), jws::MAX_BODY)
            .collect()
            .await
            .map_err(|_| too_big())?
            .to_bytes();
        let jws = Parsed::parse(&body)?;
        if !self.nonces.redeem(&jws.nonce, now().unix_timestamp() as u64) {
            return Err(Problem::new("badNonce", "the nonce is unknown, used or expired: get a new one".into()));
        }
        let url = format!("{base}{path}");
        if jws.url != url {
            return Err(Problem::unauthorized(format!("the JWS url '{}' is not the request URL {url}", jws.url)));
        }
        let by_key = matches!(endpoint.as_str(), "new-account" | "revoke-cert");
        let (account, jwk) = match &jws.signer {
            Signer::Jwk(k) if by_key => (None, k.clone()),
            Signer::Jwk(_) => {
                return Err(Problem::malformed("this request is signed with kid (the account URL), not jwk".into()));
            }
            Signer::Kid(_) if endpoint == "new-account" => {
                return Err(Problem::malformed("newAccount is signed with jwk, not kid".into()));
            }
            Signer::Kid(kid) => {
                let prefix = format!("{base}/acme/{profile}/acct/");
                let a = kid
                    .strip_prefix(&prefix)
                    .and_then(|id| self.lock().accounts.get(id).cloned())
                    .filter(|a| a.profile == profile)
                    .ok_or_else(|| Problem::new("accountDoesNotExist", format!("no account {kid}")))?;
                if a.status != "valid" {
                    return Err(Problem::unauthorized(format!("account {kid} is {}", a.status)));
                }
                let k = a.key.clone();
                (Some(a), k)
            }
        };
        jws.verify(&jwk)?;
        let post = Post { profile, base, account, jwk, jws };
        let me = self.clone();
        let (reply, job) = tokio::task::spawn_blocking(move || me.dispatch(&endpoint, &post))
            .await
            .map_err(|e| Problem::internal(&anyhow::anyhow!("handler failed: {e}")))??;
        if let Some(j) = job {
            self.spawn_validation(j);
        }
        Ok(reply)
    }

    fn dispatch(&self, endpoint: &str, p: &Post) -> Result<(Reply, Job), Problem> {
        let parts: Vec<&str> = endpoint.split('/').collect();
        let id_ok = |i: usize| parts.get(i).is_some_and(|s| pki_core::store::valid_acme_id(s));
        let r = match parts.as_slice() {
            ["new-account"] => self.new_account(p)?,
            ["new-order"] => self.new_order(p)?,
            ["revoke-cert"] => self.revoke_cert(p)?,
            ["key-change"] => self.key_change(p)?,
            ["acct", id] if id_ok(1) => self.account(p, id)?,
            ["acct", id, "orders"] if id_ok(1) => self.orders(p, id)?,
            ["order", id] if id_ok(1) => self.order(p, id)?,
            ["order", id, "finalize"] if id_ok(1) => self.finalize(p, id)?,
            ["authz", id] if id_ok(1) => self.authz(p, id)?,
            ["chall", id, kind] if id_ok(1) => return self.challenge(p, id, kind),
            ["cert", id] if id_ok(1) => self.certificate(p, id)?,
            _ => return Err(Problem::not_found(&format!("ACME resource '{endpoint}'"))),
        };
        Ok((r, None))
    }

    fn account_json(&self, p: &Post, a: &Account) -> Value {
        json!({
            "status": a.status,
            "contact": a.contact,
            "termsOfServiceAgreed": a.terms_agreed,
            "orders": p.url(&format!("acct/{}/orders", a.id)),
        })
    }

    /// Section 7.3: newAccount (onlyReturnExisting, contact, termsOfServiceAgreed).
    fn new_account(&self, p: &Post) -> Result<Reply, Problem> {
        let body = p.jws.json()?;
        let existing = self.lock().by_key.get(&key_index(&p.profile, &p.jwk)).cloned();
        if let Some(id) = existing {
            let a = self.lock().accounts.get(&id).cloned().ok_or_else(|| Problem::not_found("account"))?;
            if a.status != "valid" {
                return Err(Problem::unauthorized(format!("the account of this key is {}", a.status)));
            }
            let url = p.url(&format!("acct/{id}"));
            return Ok(Reply::json(StatusCode::OK, self.account_json(p, &a)).location(url));
        }
        if body.get("onlyReturnExisting").and_then(Value::as_bool) == Some(true) {
            return Err(Problem::new("accountDoesNotExist", "no account has this key".into()));
        }
        let contact = contacts(&body)?.unwrap_or_default();
        // Section 7.3.4: the binding is checked before anything is created; a directory that
        // does not require one ignores it.
        let eab = match (body.get("externalAccountBinding"), self.directories[&p.profile].eab_required) {
            (None, true) => {
                return Err(Problem::new(
                    "externalAccountRequired",
                    format!(
                        "ACME directory '{}' registers accounts with an External Account Binding only: ask its operators for a key id and HMAC key",
                        p.profile
                    ),
                ));
            }
            (Some(e), true) => Some(self.check_eab(e, p)?),
            _ => None,
        };
        let a = Account {
            id: random_id(16),
            profile: p.profile.clone(),
            key: p.jwk.clone(),
            status: "valid".into(),
            contact,
            terms_agreed: body.get("termsOfServiceAgreed").and_then(Value::as_bool).unwrap_or(false),
            created: pki_core::certs::rfc3339(now()),
            eab_kid: eab.clone(),
        };
        let mut s = self.lock();
        // Checked again under the lock: two newAccount requests with one key make one account.
        if let Some(id) = s.by_key.get(&key_index(&p.profile, &p.jwk)).cloned() {
            drop(s);
            let url = p.url(&format!("acct/{id}"));
            let a = self.lock().accounts.get(&id).cloned().ok_or_else(|| Problem::not_found("account"))?;
            return Ok(Reply::json(StatusCode::OK, self.account_json(p, &a)).location(url));
        }
        if let Some(kid) = &eab {
            // One account per key: recorded in the ledger, refused if it was used meanwhile.
            let actor =
                pki_core::Actor { who: "pki serve: ACME".into(), ci: vec![], note: Some(format!("account {}", a.id)) };
            let ctx = pki_core::Context {
                now: now(),
                actor: &actor,
                pass: &pki_core::NoPassphrase,
                rng: &pki_core::OsRandom,
            };
            let url = p.url(&format!("acct/{}", a.id));
            CaDir::open(&self.dir)
                .and_then(|d| pki_core::acme_eab::bind(&d, kid, &url, LOCK_WAIT, &ctx))
                .map_err(|e| Problem::unauthorized(format!("{e:#}")))?;
        }
        self.save(AcmeKind::Account, &a.id, &a)?;
        s.by_key.insert(key_index(&p.profile, &p.jwk), a.id.clone());
        s.accounts.insert(a.id.clone(), a.clone());
        drop(s);
        crate::log(
            "info",
            "ACME account created",
            json!({"profile": p.profile, "account": a.id, "contact": a.contact, "key": p.jwk.thumbprint(), "eab_kid": a.eab_kid}),
        );
        Ok(Reply::json(StatusCode::CREATED, self.account_json(p, &a)).location(p.url(&format!("acct/{}", a.id))))
    }

    /// Section 7.3.4: the binding's JWS (HS256, HS384 or HS512 under an unused key of this
    /// directory, `url` the newAccount URL, no nonce) over the account's own key. Returns the
    /// key id.
    fn check_eab(&self, e: &Value, p: &Post) -> Result<String, Problem> {
        let bad = |m: &str| Problem::unauthorized(format!("externalAccountBinding: {m}"));
        let field = |k: &str| e.get(k).and_then(Value::as_str).ok_or_else(|| bad(&format!("no \"{k}\"")));
        let (protected_b64, payload_b64, sig_b64) = (field("protected")?, field("payload")?, field("signature")?);
        let header: Value = B64
            .decode(protected_b64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| bad("the protected header is not base64url JSON"))?;
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("HS256") => ring::hmac::HMAC_SHA256,
            Some("HS384") => ring::hmac::HMAC_SHA384,
            Some("HS512") => ring::hmac::HMAC_SHA512,
            other => return Err(bad(&format!("alg {other:?} is not HS256, HS384 or HS512"))),
        };
        if header.get("nonce").is_some() {
            return Err(bad("the binding has a nonce"));
        }
        if header.get("url").and_then(Value::as_str) != Some(p.jws.url.as_str()) {
            return Err(bad("its url is not the newAccount URL"));
        }
        let kid = header.get("kid").and_then(Value::as_str).ok_or_else(|| bad("no kid"))?;
        let inner: Value = B64
            .decode(payload_b64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| bad("the payload is not base64url JSON"))?;
        if Jwk::from_value(&inner).ok().as_ref() != Some(&p.jwk) {
            return Err(bad("the payload is not the account's key"));
        }
        let dir = CaDir::open(&self.dir).map_err(|e| Problem::internal(&e))?;
        let key = pki_core::acme_eab::find(&dir, kid)
            .map_err(|e| Problem::internal(&e))?
            .filter(|k| k.directory == p.profile)
            .ok_or_else(|| bad(&format!("unknown key id '{kid}' for this directory")))?;
        if key.account.is_some() {
            return Err(bad(&format!("key id '{kid}' has already registered an account")));
        }
        let secret =
            B64.decode(&key.key).map_err(|_| Problem::internal(&anyhow::anyhow!("EAB key {kid} is not base64url")))?;
        let sig = B64.decode(sig_b64).map_err(|_| bad("the signature is not base64url"))?;
        ring::hmac::verify(
            &ring::hmac::Key::new(alg, &secret),
            format!("{protected_b64}.{payload_b64}").as_bytes(),
            &sig,
        )
        .map_err(|_| bad("the MAC does not verify with that key"))?;
        Ok(kid.to_string())
    }

    /// Section 7.3.2 and 7.3.6: account update (contact) and deactivation; POST-as-GET reads it.
    fn account(&self, p: &Post, id: &str) -> Result<Reply, Problem> {
        let me = p.account();
        if me.id != id {
            return Err(Problem::unauthorized("the account URL is not the signer's".into()));
        }
        let mut a = me.clone();
        if !p.jws.is_post_as_get() {
            let body = p.jws.json()?;
            if let Some(c) = contacts(&body)? {
                a.contact = c;
            }
            match body.get("status").and_then(Value::as_str) {
                None => {}
                Some("deactivated") => a.status = "deactivated".into(),
                Some(s) => {
                    return Err(Problem::malformed(format!(
                        "an account's status can only become deactivated, not {s}"
                    )));
                }
            }
            let mut s = self.lock();
            self.save(AcmeKind::Account, &a.id, &a)?;
            s.accounts.insert(a.id.clone(), a.clone());
        }
        Ok(Reply::json(StatusCode::OK, self.account_json(p, &a)))
    }

    /// Section 7.3.5: account key rollover. The outer JWS (old key, kid) carries an inner one
    /// signed by the new key over `{account, oldKey}`; a new key another account holds is 409
    /// with that account's URL.
    fn key_change(&self, p: &Post) -> Result<Reply, Problem> {
        let inner_v: Value = serde_json::from_slice(&p.jws.payload)
            .map_err(|_| Problem::malformed("the keyChange payload is not a JWS".into()))?;
        let inner = Parsed::parse_inner(&inner_v)?;
        let Signer::Jwk(new_key) = &inner.signer else { unreachable!("parse_inner requires jwk") };
        inner.verify(new_key)?;
        if inner.url != p.jws.url {
            return Err(Problem::malformed("the inner JWS's url is not the keyChange URL".into()));
        }
        let body = inner.json()?;
        let me = p.account();
        let my_url = p.url(&format!("acct/{}", me.id));
        if body.get("account").and_then(Value::as_str) != Some(my_url.as_str()) {
            return Err(Problem::malformed("keyChange names another account than the signer's".into()));
        }
        let old = body.get("oldKey").map(Jwk::from_value).transpose()?;
        if old.as_ref() != Some(&me.key) {
            return Err(Problem::malformed("oldKey is not the account's current key".into()));
        }
        let mut s = self.lock();
        if let Some(other) = s.by_key.get(&key_index(&p.profile, new_key)).cloned() {
            let url = p.url(&format!("acct/{other}"));
            let mut r = Problem::malformed(format!("the new key is already the key of account {url}")).with_status(409);
            r.location = Some(url);
            return Err(r);
        }
        let mut a = me.clone();
        a.key = new_key.clone();
        self.save(AcmeKind::Account, &a.id, &a)?;
        s.by_key.remove(&key_index(&p.profile, &me.key));
        s.by_key.insert(key_index(&p.profile, &a.key), a.id.clone());
        s.accounts.insert(a.id.clone(), a.clone());
        drop(s);
        crate::log("info", "ACME account key changed", json!({"account": a.id, "key": a.key.thumbprint()}));
        Ok(Reply::json(StatusCode::OK, self.account_json(p, &a)))
    }

    /// RFC 9773 section 4: the renewal window of a certificate this CA issued, named by its
    /// CertID (`base64url(AKI keyIdentifier) "." base64url(serial)`). The window is the last
    /// third of the lifetime but its last sixth (for a 24-hour certificate: from 8 to 4 hours
    /// before it expires); a revoked certificate's window is now. Retry-After: a twenty-fourth of
    /// the lifetime, between 1 minute and 6 hours.
    fn renewal_info(&self, cert_id: &str) -> Result<Reply, Problem> {
        let serial = self.find_cert_id(cert_id)?;
        let dir = CaDir::open(&self.dir).map_err(|e| Problem::internal(&e))?;
        let rec = dir
            .find_inventory(&serial)
            .map_err(|e| Problem::internal(&e))?
            .ok_or_else(|| Problem::not_found("certificate issued by this CA with that serial"))?;
        let parse = |t: &str| {
            OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|_| Problem::internal(&anyhow::anyhow!("inventory time '{t}' does not parse")))
        };
        let (nb, na) = (parse(&rec.not_before)?, parse(&rec.not_after)?);
        let life = na - nb;
        let (start, end) = if rec.status == pki_core::store::Status::Revoked {
            let n = now();
            (n - time::Duration::hours(1), n)
        } else {
            (nb + life * 2 / 3, nb + life * 5 / 6)
        };
        let retry = (life.whole_seconds() / 24).clamp(60, 6 * 3600) as u64;
        let mut r = Reply::json(
            StatusCode::OK,
            json!({"suggestedWindow": {"start": pki_core::certs::rfc3339(start), "end": pki_core::certs::rfc3339(end)}}),
        );
        r.retry_after = Some(retry);
        Ok(r)
    }

    /// The serial (hex) of the certificate a CertID (RFC 9773 section 4.1) names: one this
    /// CA directory stored, whose authority key identifier is the CertID's.
    fn find_cert_id(&self, cert_id: &str) -> Result<String, Problem> {
        let (aki, serial) = cert_id
            .split_once('.')
            .and_then(|(a, s)| Some((B64.decode(a).ok()?, B64.decode(s).ok()?)))
            .filter(|(a, s)| !a.is_empty() && !s.is_empty() && s.len() <= 21)
            .ok_or_else(|| {
                Problem::malformed(format!("'{cert_id}' is not a CertID: base64url(AKI).base64url(serial)"))
            })?;
        let serial = pki_core::serial::Serial::from_bytes(&serial);
        let dir = CaDir::open(&self.dir).map_err(|e| Problem::internal(&e))?;
        let der = dir
            .read_cert_der(&serial)
            .map_err(|e| Problem::internal(&e))?
            .ok_or_else(|| Problem::not_found("certificate issued by this CA with that serial"))?;
        use x509_parser::prelude::FromDer;
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der)
            .map_err(|_| Problem::internal(&anyhow::anyhow!("stored certificate {} does not parse", serial.hex())))?;
        let ours = cert.extensions().iter().find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(k) => {
                k.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
        if ours.as_deref() != Some(&aki[..]) {
            return Err(Problem::not_found("certificate with that authority key identifier and serial"));
        }
        Ok(serial.hex())
    }

    /// Section 7.1.2.1: the account's orders.
    fn orders(&self, p: &Post, id: &str) -> Result<Reply, Problem> {
        if p.account().id != id {
            return Err(Problem::unauthorized("the account URL is not the signer's".into()));
        }
        let s = self.lock();
        let mut list: Vec<&Order> = s.orders.values().filter(|o| o.account == id).collect();
        list.sort_by_key(|o| std::cmp::Reverse(o.expires));
        let urls: Vec<String> =
            list.iter().take(MAX_ORDERS_LISTED).map(|o| p.url(&format!("order/{}", o.id))).collect();
        Ok(Reply::json(StatusCode::OK, json!({ "orders": urls })))
    }

    fn order_json(&self, p: &Post, o: &Order, s: &State) -> Value {
        let now = now().unix_timestamp();
        let mut v = json!({
            "status": order_status(o, s, now),
            "expires": rfc3339_at(o.expires),
            "identifiers": o.identifiers,
            "authorizations": o.authzs.iter().map(|a| p.url(&format!("authz/{a}"))).collect::<Vec<_>>(),
            "finalize": p.url(&format!("order/{}/finalize", o.id)),
        });
        if o.chain_pem.is_some() {
            v["certificate"] = p.url(&format!("cert/{}", o.id)).into();
        }
        if let Some(e) = &o.error {
            v["error"] = e.clone();
        }
        if let Some(r) = &o.replaces {
            v["replaces"] = r.clone().into();
        }
        v
    }

    /// A renewal order (`replaces`) must be of a certificate this account may act on (as for
    /// revocation) that no other finalized order replaced (`alreadyReplaced`, 409).
    fn check_replaces(&self, p: &Post, serial: &str) -> Result<(), Problem> {
        let dir = CaDir::open(&self.dir).map_err(|e| Problem::internal(&e))?;
        let rec = dir
            .find_inventory(serial)
            .map_err(|e| Problem::internal(&e))?
            .ok_or_else(|| Problem::not_found("certificate in the inventory"))?;
        if !self.may_act_on(&p.account().id, serial, &rec) {
            return Err(Problem::unauthorized(
                "replaces names a certificate this account neither ordered nor holds authorizations for".into(),
            ));
        }
        let s = self.lock();
        let taken = s.orders.values().any(|o| o.replaces_serial.as_deref() == Some(serial) && o.status == "valid");
        if taken || rec.status == pki_core::store::Status::Superseded {
            return Err(Problem::new("alreadyReplaced", format!("certificate {serial} has already been renewed"))
                .with_status(409));
        }
        Ok(())
    }

    /// Whether an account ordered certificate `serial` or holds valid authorizations for all
    /// its names (RFC 8555 section 7.6).
    fn may_act_on(&self, account: &str, serial: &str, rec: &pki_core::store::InventoryRecord) -> bool {
        let s = self.lock();
        let ordered = s.by_serial.get(serial).and_then(|o| s.orders.get(o)).is_some_and(|o| o.account == account);
        let now = now().unix_timestamp();
        let names: Vec<Identifier> = rec
            .sans
            .iter()
            .filter_map(|n| {
                let (k, v) = n.split_once(':')?;
                let kind = match k {
                    "DNS" => "dns",
                    "IP" => "ip",
                    _ => "other",
                };
                Some(Identifier { kind: kind.into(), value: v.to_string() })
            })
            .collect();
        let authorized = !names.is_empty()
            && names.iter().all(|n| {
                s.authzs.values().any(|z| z.account == account && &z.identifier == n && authz_status(z, now) == "valid")
            });
        ordered || authorized
    }

    /// Section 7.4: newOrder. Each identifier is checked against the profile here, with the
    /// issuance core's own checks, so a name it would refuse is refused before any challenge.
    fn new_order(&self, p: &Post) -> Result<Reply, Problem> {
        let body = p.jws.json()?;
        if body.get("notBefore").is_some() || body.get("notAfter").is_some() {
            return Err(Problem::malformed(format!(
                "notBefore and notAfter are not accepted: profile '{}' sets the lifetime",
                p.profile
            )));
        }
        let list = body
            .get("identifiers")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| Problem::malformed("newOrder needs a non-empty identifiers list".into()))?;
        if list.len() > MAX_IDENTIFIERS {
            return Err(Problem::new(
                "rejectedIdentifier",
                format!("an order has at most {MAX_IDENTIFIERS} identifiers, not {}", list.len()),
            ));
        }
        let mut ids: Vec<Identifier> = vec![];
        for i in list {
            let id = identifier(i)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        self.check_policy(&p.profile, &ids)?;
        // RFC 9773 section 5: the certificate this order renews.
        let replaces = match body.get("replaces") {
            None => None,
            Some(v) => {
                let cert_id = v.as_str().ok_or_else(|| Problem::malformed("replaces is a CertID string".into()))?;
                let serial = self.find_cert_id(cert_id)?;
                self.check_replaces(p, &serial)?;
                Some((cert_id.to_string(), serial))
            }
        };
        let now = now().unix_timestamp();
        let acct = p.account().id.clone();
        let mut s = self.lock();
        // Limits per account: orders in the last hour, authorizations pending now.
        let recent = s
            .orders
            .values()
            .filter(|o| {
                o.account == acct && o.created.unwrap_or(o.expires - PENDING_LIFETIME.as_secs() as i64) > now - 3600
            })
            .count();
        if recent >= ORDERS_PER_HOUR {
            let mut p =
                Problem::new("rateLimited", format!("at most {ORDERS_PER_HOUR} new orders per account per hour"));
            p.retry_after = Some(60);
            return Err(p);
        }
        let pending = s.authzs.values().filter(|a| a.account == acct && authz_status(a, now) == "pending").count();
        if pending + ids.len() > PENDING_AUTHZS {
            let mut p = Problem::new(
                "rateLimited",
                format!("at most {PENDING_AUTHZS} pending authorizations per account: complete or deactivate some"),
            );
            p.retry_after = Some(60);
            return Err(p);
        }
        let mut authzs = vec![];
        let mut new = vec![];
        for id in &ids {
            let reuse = s.authzs.values().find(|a| {
                a.account == acct && a.profile == p.profile && &a.identifier == id && authz_status(a, now) == "valid"
            });
            match reuse {
                Some(a) => authzs.push(a.id.clone()),
                None => {
                    let a = Authz {
                        id: random_id(16),
                        account: acct.clone(),
                        profile: p.profile.clone(),
                        identifier: id.clone(),
                        status: "pending".into(),
                        expires: now + PENDING_LIFETIME.as_secs() as i64,
                        challenges: challenge_types(id)
                            .iter()
                            .map(|k| Challenge {
                                kind: k.to_string(),
                                token: random_id(32),
                                status: "pending".into(),
                                validated: None,
                                error: None,
                            })
                            .collect(),
                    };
                    authzs.push(a.id.clone());
                    new.push(a);
                }
            }
        }
        let o = Order {
            id: random_id(16),
            account: acct,
            profile: p.profile.clone(),
            status: "pending".into(),
            expires: now + PENDING_LIFETIME.as_secs() as i64,
            identifiers: ids,
            authzs,
            error: None,
            serial: None,
            chain_pem: None,
            created: Some(now),
            cert_not_after: None,
            replaces: replaces.as_ref().map(|r| r.0.clone()),
            replaces_serial: replaces.map(|r| r.1),
        };
        for a in &new {
            self.save(AcmeKind::Authz, &a.id, a)?;
        }
        self.save(AcmeKind::Order, &o.id, &o)?;
        for a in new {
            s.authzs.insert(a.id.clone(), a);
        }
        s.orders.insert(o.id.clone(), o.clone());
        let v = self.order_json(p, &o, &s);
        Ok(Reply::json(StatusCode::CREATED, v).location(p.url(&format!("order/{}", o.id))))
    }

    /// The profile's checks on names alone (a key of a type the profile allows stands in for
    /// the CSR's, which comes at finalize).
    fn check_policy(&self, profile: &str, ids: &[Identifier]) -> Result<(), Problem> {
        let dir = CaDir::open(&self.dir).map_err(|e| Problem::internal(&e))?;
        let mut issuing = pki_core::issuance::Issuing::open(&dir).map_err(|e| Problem::internal(&e))?;
        let key_type = issuing
            .settings
            .profile(profile, "pki.toml")
            .map_err(|e| Problem::internal(&e))?
            .key_types
            .first()
            .cloned();
        let spec = pki_core::issuance::Spec {
            profile: Some(profile.to_string()),
            dns: ids.iter().filter(|i| i.kind == "dns").map(|i| i.value.clone()).collect(),
            ip: ids.iter().filter(|i| i.kind == "ip").map(|i| i.value.clone()).collect(),
            key_type,
            ..Default::default()
        };
        issuing.plan(&spec, now()).map(|_| ()).map_err(|e| Problem::new("rejectedIdentifier", format!("{e:#}")))
    }

    /// Section 7.1.3: an order, POST-as-GET.
    fn order(&self, p: &Post, id: &str) -> Result<Reply, Problem> {
        let s = self.lock();
        let o = s.own_order(id, &p.account().id, "order")?;
        Ok(Reply::json(StatusCode::OK, self.order_json(p, o, &s)))
    }

    /// Section 7.5: an authorization, POST-as-GET; `{"status":"deactivated"}` deactivates it
    /// (section 7.5.2).
    fn authz(&self, p: &Post, id: &str) -> Result<Reply, Problem> {
        let mut s = self.lock();
        let mut a = s.own_authz(id, &p.account().id)?.clone();
        if !p.jws.is_post_as_get() {
            match p.jws.json()?.get("status").and_then(Value::as_str) {
                Some("deactivated") if matches!(a.status.as_str(), "pending" | "valid") => {
                    a.status = "deactivated".into();
                    self.save(AcmeKind::Authz, &a.id, &a)?;
                    s.authzs.insert(a.id.clone(), a.clone());
                }
                Some("deactivated") => {
                    return Err(Problem::malformed(format!(
                        "an authorization that is {} cannot be deactivated",
                        a.status
                    )));
                }
                _ => {}
            }
        }
        Ok(Reply::json(StatusCode::OK, self.authz_json(p, &a)))
    }

    fn authz_json(&self, p: &Post, a: &Authz) -> Value {
        let now = now().unix_timestamp();
        let mut v = json!({
            "identifier": a.identifier,
            "status": authz_status(a, now),
            "expires": rfc3339_at(a.expires),
            "challenges": a.challenges.iter().map(|c| self.challenge_json(p, a, c)).collect::<Vec<_>>(),
        });
        // Section 7.1.4: a wildcard's authorization names the base domain, marked wildcard.
        if let Some(base) = a.identifier.value.strip_prefix("*.") {
            v["identifier"]["value"] = base.into();
            v["wildcard"] = true.into();
        }
        v
    }

    fn challenge_json(&self, p: &Post, a: &Authz, c: &Challenge) -> Value {
        let mut v = json!({
            "type": c.kind,
            "url": p.url(&format!("chall/{}/{}", a.id, c.kind)),
            "token": c.token,
            "status": c.status,
        });
        if let Some(t) = &c.validated {
            v["validated"] = t.clone().into();
        }
        if let Some(e) = &c.error {
            v["error"] = e.clone();
        }
        v
    }

    /// Section 7.5.1: the client says a challenge is ready; validation runs in the background
    /// and the client polls the authorization.
    fn challenge(&self, p: &Post, id: &str, kind: &str) -> Result<(Reply, Job), Problem> {
        let mut s = self.lock();
        let mut a = s.own_authz(id, &p.account().id)?.clone();
        let i = a.challenges.iter().position(|c| c.kind == kind).ok_or_else(|| Problem::not_found("challenge"))?;
        let mut job = None;
        if !p.jws.is_post_as_get() {
            p.jws.json()?;
            let now = now().unix_timestamp();
            if authz_status(&a, now) == "pending" && a.challenges[i].status == "pending" {
                a.challenges[i].status = "processing".into();
                self.save(AcmeKind::Authz, &a.id, &a)?;
                s.authzs.insert(a.id.clone(), a.clone());
                job = Some((a.id.clone(), kind.to_string()));
            }
        }
        let v = self.challenge_json(p, &a, &a.challenges[i]);
        Ok((Reply::json(StatusCode::OK, v).link(p.url(&format!("authz/{}", a.id)), "up"), job))
    }

    fn spawn_validation(self: &Arc<Self>, (authz, kind): (String, String)) {
        let me = self.clone();
        tokio::spawn(async move {
            let Some((a, thumb)) = ({
                let s = me.lock();
                s.authzs.get(&authz).cloned().and_then(|a| {
                    let t = s.accounts.get(&a.account)?.key.thumbprint();
                    Some((a, t))
                })
            }) else {
                return;
            };
            let Some(c) = a.challenges.iter().find(|c| c.kind == kind) else { return };
            let key_authorization = format!("{}.{thumb}", c.token);
            let id = &a.identifier;
            let result = match kind.as_str() {
                "http-01" => {
                    validate::http01(&me.resolver, me.settings.http01_port, id, &c.token, &key_authorization).await
                }
                "dns-01" => {
                    let name = id.value.strip_prefix("*.").unwrap_or(&id.value);
                    validate::dns01(&me.resolver, name, &key_authorization).await
                }
                "tls-alpn-01" => {
                    validate::tlsalpn01(&me.resolver, me.settings.tlsalpn01_port, id, &key_authorization).await
                }
                other => Err(Problem::malformed(format!("challenge type {other} is not offered"))),
            };
            let me2 = me.clone();
            let _ = tokio::task::spawn_blocking(move || me2.validated(&authz, &kind, result)).await;
        });
    }

    fn validated(&self, authz: &str, kind: &str, result: Result<(), Problem>) {
        let mut s = self.lock();
        let Some(mut a) = s.authzs.get(authz).cloned() else { return };
        if a.status != "pending" {
            return; // another challenge of it decided first
        }
        let Some(c) = a.challenges.iter_mut().find(|c| c.kind == kind) else { return };
        if c.status != "processing" {
            return;
        }
        let now = now();
        let outcome = match &result {
            Ok(()) => "valid".to_string(),
            Err(p) => format!("invalid ({p})"),
        };
        match result {
            Ok(()) => {
                c.status = "valid".into();
                c.validated = Some(pki_core::certs::rfc3339(now));
                a.status = "valid".into();
                a.expires = now.unix_timestamp() + VALID_AUTHZ_REUSE.as_secs() as i64;
            }
            Err(p) => {
                c.status = "invalid".into();
                c.error = Some(p.to_json());
                a.status = "invalid".into();
            }
        }
        if let Err(e) = self.save(AcmeKind::Authz, &a.id, &a) {
            crate::log("error", "cannot record an ACME validation", json!({"authz": a.id, "error": e.detail}));
            return;
        }
        crate::log(
            "info",
            "ACME challenge validated",
            json!({"authz": a.id, "account": a.account, "identifier": a.identifier.value, "type": kind, "outcome": outcome}),
        );
        s.authzs.insert(a.id.clone(), a);
    }

    /// Section 7.4: finalize. The CSR must name exactly the order's identifiers and not use
    /// the account key; the issuance core then applies the profile (key type, blocklisted
    /// keys, usages, CA:FALSE) and commits the certificate with the account as the actor.
    fn finalize(&self, p: &Post, id: &str) -> Result<Reply, Problem> {
        let body = p.jws.json()?;
        let csr_b64 =
            body.get("csr").and_then(Value::as_str).ok_or_else(|| Problem::malformed("finalize needs csr".into()))?;
        let csr =
            B64.decode(csr_b64).map_err(|_| Problem::new("badCSR", "csr is not base64url without padding".into()))?;
        let mut o = {
            let mut s = self.lock();
            let o = s.own_order(id, &p.account().id, "order")?.clone();
            let status = order_status(&o, &s, now().unix_timestamp());
            if status != "ready" {
                return Err(Problem::new("orderNotReady", format!("the order is {status}, not ready")));
            }
            let mut o = o;
            o.status = "processing".into();
            s.orders.insert(o.id.clone(), o.clone());
            o
        };
        let result = self.issue_for(p, &o, &csr);
        let mut s = self.lock();
        match result {
            Ok((serial, chain, not_after)) => {
                o.status = "valid".into();
                o.serial = Some(serial.clone());
                o.chain_pem = Some(chain);
                o.cert_not_after = Some(not_after);
                // The certificate is committed; if this write fails, the order is reported as
                // it was and the certificate stays in the inventory (the ledger names the order).
                if let Err(e) = self.save(AcmeKind::Order, &o.id, &o) {
                    o.status = "ready".into();
                    s.orders.insert(o.id.clone(), o);
                    return Err(e);
                }
                s.by_serial.insert(serial, o.id.clone());
                s.orders.insert(o.id.clone(), o.clone());
                let v = self.order_json(p, &o, &s);
                Ok(Reply::json(StatusCode::OK, v).location(p.url(&format!("order/{}", o.id))))
            }
            Err(e) => {
                o.status = "pending".into();
                s.orders.insert(o.id.clone(), o);
                Err(e)
            }
        }
    }

    fn issue_for(&self, p: &Post, o: &Order, csr: &[u8]) -> Result<(String, String, i64), Problem> {
        let (names, spki) =
            pki_core::issuance::csr_names(csr, "the CSR").map_err(|e| Problem::new("badCSR", format!("{e:#}")))?;
        if Jwk::from_spki(&spki).is_some_and(|k| k == p.account().key) {
            return Err(Problem::new("badCSR", "the CSR's key is the account key: use a key of its own".into()));
        }
        if !names.uris.is_empty() {
            return Err(Problem::new("badCSR", "the CSR asks for URI names, which ACME does not authorize".into()));
        }
        let mut want: Vec<String> = o.identifiers.iter().map(|i| format!("{}:{}", i.kind, i.value)).collect();
        let mut got: Vec<String> =
            names.dns.iter().map(|d| format!("dns:{d}")).chain(names.ips.iter().map(|i| format!("ip:{i}"))).collect();
        if let Some(cn) = &names.cn {
            let cn = cn.trim_end_matches('.').to_ascii_lowercase();
            if !got.contains(&format!("dns:{cn}")) && !got.contains(&format!("ip:{cn}")) {
                got.push(format!("dns:{cn}"));
            }
        }
        want.sort();
        got.sort();
        got.dedup();
        if want != got {
            return Err(Problem::new(
                "badCSR",
                format!("the CSR names [{}], the order [{}]: they must be the same", got.join(", "), want.join(", ")),
            ));
        }
        let ca = &self.directories[&p.profile].ca;
        let issuer =
            self.issuers.get(ca).ok_or_else(|| Problem::internal(&anyhow::anyhow!("CA '{ca}' is not unlocked")))?;
        let spec = pki_core::issuance::Spec {
            profile: Some(p.profile.clone()),
            csr: Some("the CSR".into()),
            csr_bytes: Some(csr.to_vec()),
            ..Default::default()
        };
        let a = p.account();
        let actor = pki_core::Actor {
            who: format!("acme:{}", p.url(&format!("acct/{}", a.id))),
            ci: vec![],
            note: Some(format!(
                "ACME order {} by account {}{}",
                o.id,
                a.id,
                if a.contact.is_empty() { String::new() } else { format!(" ({})", a.contact.join(", ")) }
            )),
        };
        let r = crate::with_issuing_as(&self.dir, ca, issuer, actor, |issuing, ctx| {
            // Planned first, so a refusal of the CSR is told apart from a failure to commit.
            let mut plan = match issuing.plan(&spec, ctx.now) {
                Ok(plan) => plan,
                Err(e) => return Ok(Err(csr_problem(&e))),
            };
            let lock = issuing.dir.lock(LOCK_WAIT)?;
            // A renewal (RFC 9773 `replaces`) links the new certificate to the old one in the
            // inventory and the ledger, as `pki renew` does, while the old one is still current.
            if let Some(old) = &o.replaces_serial
                && issuing.dir.find_inventory(old)?.is_some_and(|r| r.status == pki_core::store::Status::Valid)
            {
                plan.renews = Some(old.clone());
            }
            Ok(Ok(issuing.commit_plan(&plan, &lock, &pki_core::issuance::Out::Stdout, None, ctx)?))
        })
        .map_err(|e| Problem::internal(&e))??;
        let issued = r.issued;
        crate::log(
            "info",
            "ACME certificate issued",
            json!({"profile": p.profile, "account": a.id, "order": o.id, "serial": issued.serial, "sans": issued.sans}),
        );
        let not_after = OffsetDateTime::parse(&issued.not_after, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .unwrap_or(0);
        Ok((issued.serial.clone(), format!("{}{}", issued.cert_pem, issued.chain_pem), not_after))
    }

    /// Section 7.4.2: the certificate chain, POST-as-GET.
    fn certificate(&self, p: &Post, id: &str) -> Result<Reply, Problem> {
        let s = self.lock();
        let o = s.own_order(id, &p.account().id, "certificate")?;
        let chain = o.chain_pem.clone().ok_or_else(|| Problem::not_found("certificate"))?;
        Ok(Reply {
            status: StatusCode::OK,
            body: Bytes::from(chain),
            content_type: "application/pem-certificate-chain",
            location: None,
            links: vec![],
            retry_after: None,
        })
    }

    /// Section 7.6: revokeCert, by the account that ordered the certificate, by an account
    /// holding valid authorizations for all its names, or signed by the certificate's key.
    fn revoke_cert(&self, p: &Post) -> Result<Reply, Problem> {
        use x509_parser::prelude::FromDer;
        let body = p.jws.json()?;
        let der = body
            .get("certificate")
            .and_then(Value::as_str)
            .and_then(|c| B64.decode(c).ok())
            .ok_or_else(|| Problem::malformed("revokeCert needs certificate (base64url DER)".into()))?;
        let reason = match body.get("reason") {
            None => "unspecified",
            Some(r) => match r.as_u64() {
                Some(0) => "unspecified",
                Some(1) => "keyCompromise",
                Some(3) => "affiliationChanged",
                Some(4) => "superseded",
                Some(5) => "cessationOfOperation",
                _ => {
                    return Err(Problem::new(
                        "badRevocationReason",
                        format!("reason {r} is not accepted: 0, 1, 3, 4 or 5 (RFC 5280 section 5.3.1)"),
                    ));
                }
            },
        };
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der)
            .map_err(|_| Problem::malformed("certificate is not a DER X.509 certificate".into()))?;
        let serial = pki_core::serial::Serial::from_bytes(cert.raw_serial());
        let dir = CaDir::open(&self.dir).map_err(|e| Problem::internal(&e))?;
        // Ours only if it is byte for byte the certificate we issued under that serial.
        let ours = dir.read_cert_der(&serial).map_err(|e| Problem::internal(&e))?;
        if ours.as_deref() != Some(&der[..]) {
            return Err(Problem::not_found("certificate issued by this CA with that serial").with_status(404));
        }
        let rec = dir
            .find_inventory(&serial.hex())
            .map_err(|e| Problem::internal(&e))?
            .ok_or_else(|| Problem::not_found("certificate in the inventory"))?;
        if rec.status == pki_core::store::Status::Revoked {
            return Err(Problem::new("alreadyRevoked", format!("certificate {} is already revoked", serial.hex())));
        }
        let who = match &p.account {
            None => {
                if Jwk::from_spki(cert.public_key().raw).as_ref() != Some(&p.jwk) {
                    return Err(Problem::unauthorized("the JWS is not signed by the certificate's key".into()));
                }
                format!("acme: the key of certificate {}", serial.hex())
            }
            Some(a) => {
                if !self.may_act_on(&a.id, &serial.hex(), &rec) {
                    return Err(Problem::unauthorized(
                        "this account neither ordered the certificate nor holds valid authorizations for all its names"
                            .into(),
                    ));
                }
                format!("acme:{}", p.url(&format!("acct/{}", a.id)))
            }
        };
        let actor = pki_core::Actor { who, ci: vec![], note: Some("ACME revokeCert".into()) };
        let ctx =
            pki_core::Context { now: now(), actor: &actor, pass: &pki_core::NoPassphrase, rng: &pki_core::OsRandom };
        let req = pki_core::revocation::RevokeRequest {
            serial: serial.clone(),
            reason,
            invalidity_date: None,
            ca: None,
            publish_crl: false,
        };
        pki_core::revocation::revoke(&dir, &req, LOCK_WAIT, &ctx).map_err(|e| Problem::internal(&e))?;
        crate::log(
            "info",
            "ACME certificate revoked",
            json!({"serial": serial.hex(), "reason": reason, "by": actor.who}),
        );
        Ok(Reply::empty(StatusCode::OK))
    }
}

/// A refused CSR: a key the profile or the blocklist refuses is `badPublicKey`, the rest
/// `badCSR`.
fn csr_problem(e: &anyhow::Error) -> Problem {
    let line = format!("{e:#}");
    let bad_key =
        matches!(e.downcast_ref::<pki_core::error::PkiError>(), Some(pki_core::error::PkiError::KeyCompromised { .. }))
            || e.downcast_ref::<pki_core::policy::Refusal>().is_some_and(|r| r.rule == "key_types");
    Problem::new(if bad_key { "badPublicKey" } else { "badCSR" }, line)
}

/// `contact` (section 7.3): `mailto:` URLs with one address and no header fields.
fn contacts(body: &Value) -> Result<Option<Vec<String>>, Problem> {
    let Some(c) = body.get("contact") else { return Ok(None) };
    let list = c.as_array().ok_or_else(|| Problem::malformed("contact is a list of URLs".into()))?;
    if list.len() > MAX_CONTACTS {
        return Err(Problem::new("invalidContact", format!("at most {MAX_CONTACTS} contacts")));
    }
    let mut out = vec![];
    for v in list {
        let s = v.as_str().ok_or_else(|| Problem::malformed("contact is a list of URLs".into()))?;
        let Some(addr) = s.strip_prefix("mailto:") else {
            return Err(Problem::new("unsupportedContact", format!("contact '{s}' is not a mailto: URL")));
        };
        let ok = s.len() <= 255
            && addr.split('@').count() == 2
            && !addr.starts_with('@')
            && !addr.ends_with('@')
            && !addr.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b",?<>".contains(&b));
        if !ok {
            return Err(Problem::new("invalidContact", format!("contact '{s}' is not one e-mail address")));
        }
        out.push(s.to_string());
    }
    Ok(Some(out))
}

/// The challenges offered for an identifier: a wildcard only by dns-01 (section 7.1.3); an
/// address by http-01 and tls-alpn-01 (RFC 8738 section 7: no dns-01 for addresses).
fn challenge_types(id: &Identifier) -> &'static [&'static str] {
    match (id.kind.as_str(), id.value.starts_with("*.")) {
        ("dns", true) => &["dns-01"],
        ("dns", false) => &["http-01", "dns-01", "tls-alpn-01"],
        _ => &["http-01", "tls-alpn-01"],
    }
}

/// One identifier of newOrder, normalised: `dns` (lower case, no trailing dot; a wildcard
/// `*.` first) or `ip` (RFC 8738).
fn identifier(v: &Value) -> Result<Identifier, Problem> {
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
    let value = v.get("value").and_then(Value::as_str).unwrap_or("");
    if value.is_empty() || value.len() > 253 {
        return Err(Problem::malformed("an identifier needs a value of 1 to 253 characters".into()));
    }
    match kind {
        "dns" => {
            let d = value.to_ascii_lowercase();
            if d.trim_start_matches("*.").contains('*') {
                return Err(Problem::new(
                    "rejectedIdentifier",
                    format!("'{value}': a wildcard is one leading '*.' label, validated by dns-01"),
                ));
            }
            if d.parse::<std::net::IpAddr>().is_ok() {
                return Err(Problem::malformed(format!("'{value}' is an IP address: use type ip (RFC 8738)")));
            }
            Ok(Identifier { kind: "dns".into(), value: d })
        }
        "ip" => {
            let ip: std::net::IpAddr =
                value.parse().map_err(|_| Problem::malformed(format!("'{value}' is not an IP address (RFC 8738)")))?;
            Ok(Identifier { kind: "ip".into(), value: ip.to_canonical().to_string() })
        }
        k => Err(Problem::new("unsupportedIdentifier", format!("identifier type '{k}' is not supported: dns or ip"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authz(id: &str, account: &str, status: &str, expires: i64) -> Authz {
        Authz {
            id: id.into(),
            account: account.into(),
            profile: "web".into(),
            identifier: Identifier { kind: "dns".into(), value: format!("{id}.example.test") },
            status: status.into(),
            expires,
            challenges: vec![],
        }
    }

    fn order(id: &str, status: &str, expires: i64, authzs: &[&str], cert_not_after: Option<i64>) -> Order {
        Order {
            id: id.into(),
            account: "a".into(),
            profile: "web".into(),
            status: status.into(),
            expires,
            identifiers: vec![],
            authzs: authzs.iter().map(|s| s.to_string()).collect(),
            error: None,
            serial: cert_not_after.map(|_| format!("{id}serial")),
            chain_pem: None,
            created: Some(expires - 3600),
            cert_not_after,
            replaces: None,
            replaces_serial: None,
        }
    }

    /// Expired orders and authorizations go a day later, valid orders a day after their
    /// certificate expires, and an authorization only once no kept order refers to it.
    #[test]
    fn clean_deletes_what_expired_a_day_ago_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("pki.toml"), "").unwrap();
        let acme = Acme::start(tmp.path(), Settings::default(), BTreeMap::new(), &[]).unwrap();
        let now = 10_000_000;
        let day = KEEP_EXPIRED.as_secs() as i64;
        let orders = [
            order("expired", "pending", now - day - 1, &["z-old"], None),
            order("recent", "pending", now - day + 100, &["z-recent"], None),
            order("issued-expired", "valid", now - 2 * day, &["z-valid"], Some(now - day - 1)),
            order("issued-current", "valid", now - 2 * day, &["z-kept"], Some(now + 3600)),
        ];
        let authzs = [
            authz("z-old", "a", "pending", now - day - 1),
            authz("z-recent", "a", "pending", now - day - 1),
            authz("z-valid", "a", "valid", now - day - 1),
            authz("z-kept", "a", "valid", now - day - 1),
            authz("z-orphan", "a", "invalid", now - day - 1),
            authz("z-fresh", "a", "pending", now),
        ];
        {
            let mut s = acme.lock();
            for o in orders {
                acme.save(AcmeKind::Order, &o.id, &o).unwrap();
                if let Some(serial) = &o.serial {
                    s.by_serial.insert(serial.clone(), o.id.clone());
                }
                s.orders.insert(o.id.clone(), o);
            }
            for a in authzs {
                acme.save(AcmeKind::Authz, &a.id, &a).unwrap();
                s.authzs.insert(a.id.clone(), a);
            }
        }
        assert_eq!(acme.clean(now).unwrap(), 5);
        let s = acme.lock();
        let mut kept: Vec<&str> =
            s.orders.keys().map(String::as_str).chain(s.authzs.keys().map(String::as_str)).collect();
        kept.sort();
        assert_eq!(kept, ["issued-current", "recent", "z-fresh", "z-kept", "z-recent"]);
        assert!(!s.by_serial.contains_key("issued-expiredserial"));
        let files = |kind: &str| std::fs::read_dir(tmp.path().join("acme").join(kind)).unwrap().count();
        assert_eq!((files("orders"), files("authzs")), (2, 3));
        // What is on disk is what a restart reads.
        drop(s);
        let again = Acme::start(tmp.path(), Settings::default(), BTreeMap::new(), &[]).unwrap();
        assert_eq!(again.lock().orders.len(), 2);
    }
}
