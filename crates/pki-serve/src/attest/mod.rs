//! Attested issuance: `POST /attest/POLICY` on the HTTPS listener trades an OIDC ID token
//! (`Authorization: Bearer`) and a CSR (the body, PEM or DER: proof of possession of the key)
//! for an X.509-SVID and its chain, under `[attest.POLICY]` in pki.toml.
//!
//! The checks, in order, each refusal a problem document (RFC 9457) whose `type` ends in the
//! rule's name (`urn:pki:attest:expired`), nothing written: the token's size and shape; its
//! `alg` in the policy's list (never `none` or HMAC); its key (`kid`) in the issuer's JWKS
//! (refetched at most once per minute for an unknown one); the key's type matching `alg`; the
//! signature; `iss` exactly the policy's issuer; `aud` exactly the one audience; `exp`, `nbf`,
//! `iat` within [`pki_core::attest::SKEW`]; the token's age; `jti` present and not used before
//! (kept across restarts: [`pki_core::store::CaDir::attest_seen_add`]); the claim conditions;
//! the SPIFFE ID from the template; then the CSR through the issuance core's `plan` (the same
//! checks as `pki issue --csr` under the profile). The token is never logged or echoed.

pub mod keys;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::http::{Note, Resp};
use pki_core::attest::{Policy, SKEW, shown};

/// The largest token accepted (GitHub's and GitLab's are 1-2 KiB).
pub const MAX_TOKEN: usize = 8 << 10;
/// The largest request body (a CSR) accepted.
pub const MAX_BODY: usize = 16 << 10;
/// The longest `jti` accepted.
pub const MAX_JTI: usize = 256;
/// Keys older than this are fetched again by the once-a-minute task.
pub const REFRESH: Duration = Duration::from_secs(15 * 60);
/// How long the directory lock is waited for when committing an SVID.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A refusal: HTTP status, rule name, facts.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// The rule, as in the problem type `urn:pki:attest:RULE`.
    pub rule: &'static str,
    /// What was wrong (never the token).
    pub detail: String,
}

impl Refusal {
    fn new(status: StatusCode, rule: &'static str, detail: impl Into<String>) -> Refusal {
        Refusal { status, rule, detail: detail.into() }
    }
    fn token(rule: &'static str, detail: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::UNAUTHORIZED, rule, detail)
    }
}

/// One policy, with its issuer's keys and the CA key it issues with.
pub struct Served {
    /// The checked policy.
    pub policy: Policy,
    /// The CA its profile issues from.
    pub ca: String,
    /// The issuer's keys.
    pub keys: keys::Keys,
}

/// The attestation endpoint's state.
pub struct Attest {
    dir: PathBuf,
    policies: BTreeMap<String, Served>,
    issuers: HashMap<String, Arc<rcgen::Issuer<'static, rcgen::KeyPair>>>,
    /// Used tokens: key -> exp (Unix seconds), mirrored on disk.
    seen: Mutex<HashMap<String, i64>>,
}

/// What a policy needs from `pki serve`'s command line: the policy and the CA its profile
/// issues from.
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// The policy.
    pub policy: Policy,
    /// The CA its profile issues from.
    pub ca: String,
}

impl Attest {
    /// Loads the used-token store and sets up each policy's keys (fetched by [`Attest::refresh`]).
    pub fn start(
        dir: &std::path::Path,
        policies: Vec<PolicyConfig>,
        signers: &[crate::Signer],
    ) -> anyhow::Result<Attest> {
        let d = pki_core::store::CaDir::open(dir)?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let seen: HashMap<String, i64> = d.attest_seen_load(now)?.into_iter().collect();
        let mut issuers = HashMap::new();
        let mut served = BTreeMap::new();
        for p in policies {
            let s = signers.iter().find(|s| s.ca.name == p.ca).ok_or_else(|| {
                anyhow::anyhow!("CA '{}' is not unlocked for attestation policy '{}'", p.ca, p.policy.name)
            })?;
            issuers.insert(p.ca.clone(), s.issuer.clone());
            let roots = crate::client::roots(p.policy.issuer_ca_file.as_deref())?;
            let source = match &p.policy.jwks_file {
                Some(f) => keys::Source::File(f.clone()),
                None => keys::Source::Discovery {
                    issuer: p.policy.issuer.clone(),
                    insecure_loopback: p.policy.insecure_loopback_issuer,
                },
            };
            let k = keys::Keys::new(source, roots, p.policy.jwks_min_refetch);
            served.insert(p.policy.name.clone(), Served { policy: p.policy, ca: p.ca, keys: k });
        }
        Ok(Attest { dir: dir.to_path_buf(), policies: served, issuers, seen: Mutex::new(seen) })
    }

    /// The policies served.
    pub fn policies(&self) -> Vec<String> {
        self.policies.keys().cloned().collect()
    }

    /// Fetches the issuers' keys: every policy's (`all`, at start), or those older than
    /// [`REFRESH`], missing, or whose last fetch failed (the once-a-minute task, so `/readyz`
    /// recovers with the issuer). Returns (policy, error) for the fetches that failed.
    pub async fn refresh(&self, all: bool) -> Vec<(String, String)> {
        let mut failed = vec![];
        for (name, s) in &self.policies {
            let due = all || s.keys.age().is_none_or(|a| a >= REFRESH) || s.keys.problem().is_some();
            if due && let Err(e) = s.keys.refresh().await {
                failed.push((name.clone(), e));
            }
        }
        failed
    }

    /// For `/readyz`: a line per policy whose keys are not current.
    pub fn problems(&self) -> Vec<String> {
        self.policies
            .iter()
            .filter_map(|(n, s)| {
                s.keys.problem().map(|p| format!("attestation policy '{n}' (issuer {}): {p}", s.policy.issuer))
            })
            .collect()
    }

    /// Forgets used tokens whose `exp` (plus skew) has passed; returns how many.
    pub fn clean(&self, now: i64) -> anyhow::Result<usize> {
        let d = pki_core::store::CaDir::open(&self.dir)?;
        let expired: Vec<String> = {
            let s = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            s.iter().filter(|(_, exp)| **exp < now).map(|(k, _)| k.clone()).collect()
        };
        for k in &expired {
            d.attest_seen_remove(k)?;
            self.seen.lock().unwrap_or_else(|e| e.into_inner()).remove(k);
        }
        Ok(expired.len())
    }

    /// Fetches of each policy's keys so far (for `/metrics`).
    pub fn key_fetches(&self) -> Vec<(String, u64)> {
        self.policies.iter().map(|(n, s)| (n.clone(), s.keys.fetches())).collect()
    }

    /// `POST /attest/POLICY`.
    pub async fn handle(self: Arc<Self>, req: Request<hyper::body::Incoming>, secure: bool) -> Resp {
        let path = req.uri().path().to_string();
        let name = path.trim_start_matches("/attest/").to_string();
        let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let r = self.clone().attest(req, &name, secure).await;
        match r {
            Ok((issued, svid)) => ok(issued, &svid, &accept, &name),
            Err(refusal) => problem(&refusal, &name),
        }
    }

    async fn attest(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
        name: &str,
        secure: bool,
    ) -> Result<(pki_core::issuance::Issued, String), Refusal> {
        let Some(served) = self.policies.get(name) else {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "unknown-policy",
                format!("no attestation policy '{}' (served: {})", shown(name), self.policies().join(", ")),
            ));
        };
        if !secure {
            return Err(Refusal::new(StatusCode::FORBIDDEN, "https-required", "attestation is served over HTTPS only"));
        }
        if req.method() != Method::POST {
            return Err(Refusal::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method",
                "POST a CSR with the token as a bearer",
            ));
        }
        let token = bearer(&req)?;
        let claims = verify_token(served, &token, OffsetDateTime::now_utc().unix_timestamp()).await?;
        let policy = &served.policy;
        policy.check_conditions(&claims).map_err(|r| Refusal::new(StatusCode::FORBIDDEN, r.rule, r.detail))?;
        let spiffe_id =
            policy.template.fill(&claims).map_err(|r| Refusal::new(StatusCode::FORBIDDEN, r.rule, r.detail))?;
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default().to_string();
        let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default().to_string();
        // Remembered while the token could still be accepted: until its exp, or until it is too
        // old (iat + max_token_age) if that comes first, plus the skew.
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or_default();
        let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or_default();
        let exp = exp.min(iat.saturating_add(policy.max_token_age.as_secs() as i64)) + SKEW.as_secs() as i64;
        let key = pki_core::store::seen_key(&iss, &jti);
        if self.seen.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&key) {
            return Err(replayed());
        }
        let body = read_body(req).await?;
        let recorded = policy.recorded(&claims);
        let me = self.clone();
        let (name, sid) = (name.to_string(), spiffe_id.clone());
        let issued =
            tokio::task::spawn_blocking(move || me.issue(&name, &body, &sid, recorded, &key, exp)).await.map_err(
                |e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("handler failed: {e}")),
            )??;
        Ok((issued, spiffe_id))
    }

    /// Plans the SVID (the CSR through the profile), records the token as used, commits.
    fn issue(
        &self,
        name: &str,
        csr: &[u8],
        spiffe_id: &str,
        recorded: Vec<(String, String)>,
        key: &str,
        exp: i64,
    ) -> Result<pki_core::issuance::Issued, Refusal> {
        let served = &self.policies[name];
        let bad_csr = |d: String| Refusal::new(StatusCode::BAD_REQUEST, "csr", d);
        let (names, _) = pki_core::issuance::csr_names(csr, "the CSR").map_err(|e| bad_csr(format!("{e:#}")))?;
        if !names.dns.is_empty() || !names.ips.is_empty() || names.uris.iter().any(|u| u != spiffe_id) {
            return Err(bad_csr(format!(
                "the CSR asks for names; the SVID's only name is {spiffe_id} (send a CSR without names, or with that URI)"
            )));
        }
        let spec = pki_core::issuance::Spec {
            profile: Some(served.policy.profile.clone()),
            spiffe_id: Some(spiffe_id.to_string()),
            ttl: Some(pki_core::duration::show(served.policy.ttl)),
            csr: Some("the CSR".into()),
            csr_bytes: Some(csr.to_vec()),
            ..Default::default()
        };
        let actor = pki_core::Actor {
            who: format!("attest:{name}"),
            note: Some(format!("attested by policy {name}")),
            ci: recorded,
        };
        let issuer = self.issuers.get(&served.ca).ok_or_else(|| {
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("CA '{}' is not unlocked", served.ca))
        })?;
        let internal = |e: anyhow::Error| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{e:#}"));
        crate::with_issuing_as(&self.dir, &served.ca, issuer, actor, |issuing, ctx| {
            let plan = match issuing.plan(&spec, ctx.now) {
                Ok(p) => p,
                Err(e) => return Ok(Err(bad_csr(format!("{e:#}")))),
            };
            // The token is spent before the certificate exists: a crash in between loses one
            // token (the job asks again with a new one), never lets one be used twice.
            {
                let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                if seen.contains_key(key) {
                    return Ok(Err(replayed()));
                }
                issuing.dir.attest_seen_add(key, exp)?;
                seen.insert(key.to_string(), exp);
            }
            let lock = issuing.dir.lock(LOCK_WAIT)?;
            Ok(Ok(issuing.commit_plan(&plan, &lock, &pki_core::issuance::Out::Stdout, None, ctx)?.issued))
        })
        .map_err(internal)?
    }
}

fn replayed() -> Refusal {
    Refusal::token("jti-replayed", "this token (its jti) was already used: each token buys one SVID")
}

/// The bearer token, bounded.
fn bearer<B>(req: &Request<B>) -> Result<String, Refusal> {
    let h = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Refusal::token("token-missing", "send the OIDC token as Authorization: Bearer TOKEN"))?;
    if h.len() > MAX_TOKEN + 7 {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "token-too-large",
            format!("the token is over {MAX_TOKEN} bytes"),
        ));
    }
    let v = h.to_str().map_err(|_| Refusal::token("token-malformed", "the Authorization header is not ASCII"))?;
    let (scheme, t) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || t.trim().is_empty() {
        return Err(Refusal::token("token-missing", "send the OIDC token as Authorization: Bearer TOKEN"));
    }
    Ok(t.trim().to_string())
}

async fn read_body(req: Request<hyper::body::Incoming>) -> Result<Vec<u8>, Refusal> {
    let too_large =
        || Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", format!("the CSR is over {MAX_BODY} bytes"));
    if req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY)
    {
        return Err(too_large());
    }
    let b = http_body_util::Limited::new(req.into_body(), MAX_BODY).collect().await.map_err(|_| too_large())?;
    let b = b.to_bytes().to_vec();
    if b.is_empty() {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "csr", "the body is empty: send a CSR (PEM or DER)"));
    }
    Ok(b)
}

fn b64_json(part: &str, what: &str) -> Result<serde_json::Map<String, Value>, Refusal> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Refusal::token("token-malformed", format!("the token's {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Refusal::token("token-malformed", format!("the token's {what} is not a JSON object"))),
    }
}

/// Checks a token against a policy and returns its claims.
pub async fn verify_token(served: &Served, token: &str, now: i64) -> Result<serde_json::Map<String, Value>, Refusal> {
    let policy = &served.policy;
    if token.len() > MAX_TOKEN {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "token-too-large",
            format!("the token is over {MAX_TOKEN} bytes"),
        ));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(Refusal::token(
            "token-malformed",
            format!("a signed JWT has 3 parts separated by '.', this has {}", parts.len()),
        ));
    }
    let header = b64_json(parts[0], "header")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("").to_string();
    if !policy.algorithms.contains(&alg) {
        return Err(Refusal::token(
            "alg-not-allowed",
            format!(
                "the token's alg is '{}'; policy '{}' accepts {}",
                shown(&alg),
                policy.name,
                policy.algorithms.join(", ")
            ),
        ));
    }
    if header.contains_key("crit") {
        return Err(Refusal::token(
            "token-malformed",
            "the token has critical header parameters (crit), which pki does not support",
        ));
    }
    let algorithm: Algorithm =
        alg.parse().map_err(|_| Refusal::token("alg-not-allowed", format!("unknown alg '{}'", shown(&alg))))?;
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_string);
    let jwk = match served.keys.find(kid.as_deref()).await {
        keys::Lookup::Found(k) => k,
        keys::Lookup::Unknown { refetched, error } => {
            return Err(Refusal::token(
                "unknown-kid",
                format!(
                    "the issuer has no key '{}'{}{}",
                    kid.as_deref().map(shown).unwrap_or_else(|| "(no kid, and the JWKS has several keys)".into()),
                    if refetched {
                        " (its keys were fetched again)"
                    } else {
                        " (its keys were fetched less than the refetch interval ago)"
                    },
                    error.map(|e| format!("; the last fetch failed: {e}")).unwrap_or_default()
                ),
            ));
        }
    };
    check_key_fits(&jwk, algorithm, &alg)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| {
        Refusal::token(
            "alg-key-mismatch",
            format!("the issuer's key '{}' is not usable: {e}", kid.as_deref().map(shown).unwrap_or_default()),
        )
    })?;
    let mut v = Validation::new(algorithm);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(token, &key, &v).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => {
            Refusal::token("bad-signature", "the token's signature does not verify with the issuer's key it names")
        }
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
            Refusal::token("alg-key-mismatch", format!("alg '{alg}' does not fit the key it names"))
        }
        other => Refusal::token("token-malformed", format!("the token cannot be read: {other:?}")),
    })?;
    let Value::Object(claims) = data.claims else {
        return Err(Refusal::token("token-malformed", "the token's claims are not a JSON object"));
    };
    check_claims(policy, &claims, now)?;
    Ok(claims)
}

/// The key's type must be the one `alg` names (an RSA key is never used for ES256, a P-256 key
/// never for ES384), and a key that states its own `alg` must state this one.
fn check_key_fits(jwk: &Jwk, algorithm: Algorithm, alg: &str) -> Result<(), Refusal> {
    let mismatch = |what: &str| {
        Refusal::token("alg-key-mismatch", format!("the token says alg {alg} but the key it names is {what}"))
    };
    if let Some(ka) = &jwk.common.key_algorithm
        && format!("{ka}") != alg
    {
        return Err(mismatch(&format!("for {ka}")));
    }
    let fits = match (&jwk.algorithm, algorithm) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA) => true,
        _ => false,
    };
    if !fits {
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => "an RSA key".to_string(),
            AlgorithmParameters::EllipticCurve(p) => format!("an EC key on {:?}", p.curve),
            AlgorithmParameters::OctetKeyPair(_) => "an OKP key".to_string(),
            AlgorithmParameters::OctetKey(_) => "a symmetric key".to_string(),
            _ => "a key of another kind".to_string(),
        };
        return Err(mismatch(&kind));
    }
    Ok(())
}

/// iss, aud, exp, nbf, iat, age, jti.
fn check_claims(policy: &Policy, c: &serde_json::Map<String, Value>, now: i64) -> Result<(), Refusal> {
    let skew = SKEW.as_secs() as i64;
    let iss = c.get("iss").and_then(Value::as_str).unwrap_or("");
    if iss != policy.issuer {
        return Err(Refusal::token(
            "iss-mismatch",
            format!("the token's iss is '{}', policy '{}' accepts '{}'", shown(iss), policy.name, policy.issuer),
        ));
    }
    match c.get("aud") {
        Some(Value::String(a)) if *a == policy.audience => {}
        Some(Value::Array(a)) if a.len() == 1 && a[0].as_str() == Some(policy.audience.as_str()) => {}
        Some(Value::Array(a)) if a.len() > 1 => {
            return Err(Refusal::token(
                "aud-multiple",
                format!(
                    "the token has {} audiences; policy '{}' accepts a token for '{}' alone",
                    a.len(),
                    policy.name,
                    policy.audience
                ),
            ));
        }
        other => {
            let got = match other {
                Some(Value::String(s)) => format!("'{}'", shown(s)),
                Some(Value::Array(a)) => format!("'{}'", shown(a.first().and_then(Value::as_str).unwrap_or(""))),
                _ => "missing".into(),
            };
            return Err(Refusal::token(
                "aud-mismatch",
                format!("the token's aud is {got}; policy '{}' accepts '{}'", policy.name, policy.audience),
            ));
        }
    }
    let time = |k: &str| c.get(k).and_then(Value::as_i64);
    let at =
        |t: i64| OffsetDateTime::from_unix_timestamp(t).map(pki_core::certs::rfc3339).unwrap_or_else(|_| t.to_string());
    let exp = time("exp").ok_or_else(|| Refusal::token("expired", "the token has no exp (a number)"))?;
    if now > exp + skew {
        return Err(Refusal::token("expired", format!("the token expired at {} (exp)", at(exp))));
    }
    if let Some(nbf) = time("nbf")
        && now + skew < nbf
    {
        return Err(Refusal::token("not-yet-valid", format!("the token is valid from {} (nbf)", at(nbf))));
    }
    let iat =
        time("iat").ok_or_else(|| Refusal::token("too-old", "the token has no iat (a number): its age is unknown"))?;
    if now + skew < iat {
        return Err(Refusal::token(
            "not-yet-valid",
            format!("the token was issued in the future, at {} (iat)", at(iat)),
        ));
    }
    let max = policy.max_token_age.as_secs() as i64;
    if now - iat > max + skew {
        return Err(Refusal::token(
            "too-old",
            format!(
                "the token was issued at {} (iat), more than policy '{}' max_token_age {} ago",
                at(iat),
                policy.name,
                pki_core::duration::show(policy.max_token_age)
            ),
        ));
    }
    match c.get("jti").and_then(Value::as_str) {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI => Ok(()),
        Some(j) if j.len() > MAX_JTI => {
            Err(Refusal::token("jti-missing", format!("the token's jti is over {MAX_JTI} bytes")))
        }
        _ => Err(Refusal::token("jti-missing", "the token has no jti: without it a replay cannot be refused")),
    }
}

fn problem(r: &Refusal, policy: &str) -> Resp {
    let body = json!({
        "type": format!("urn:pki:attest:{}", r.rule),
        "title": r.rule,
        "status": r.status.as_u16(),
        "detail": r.detail,
        "policy": shown(policy),
    });
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string() + "\n")));
    *resp.status_mut() = r.status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if r.status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    }
    resp.extensions_mut().insert(Note("attest", format!("{}: {}", r.rule, r.detail)));
    resp
}

fn ok(issued: pki_core::issuance::Issued, spiffe_id: &str, accept: &str, policy: &str) -> Resp {
    let pem = accept.contains("application/pem-certificate-chain") || accept.contains("application/x-pem-file");
    let (body, ct) = if pem {
        (format!("{}{}", issued.cert_pem, issued.chain_pem), "application/pem-certificate-chain")
    } else {
        (
            json!({
                "spiffe_id": spiffe_id,
                "serial": issued.serial,
                "not_before": issued.not_before,
                "not_after": issued.not_after,
                "ca": issued.ca,
                "profile": issued.profile,
                "policy": policy,
                "cert_pem": issued.cert_pem,
                "chain_pem": issued.chain_pem,
                "root_pem": issued.root_pem,
            })
            .to_string()
                + "\n",
            "application/json",
        )
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::CREATED;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.extensions_mut().insert(Note("attest", format!("issued {} to {spiffe_id}", issued.serial)));
    resp
}
