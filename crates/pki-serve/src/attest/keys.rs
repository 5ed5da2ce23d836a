//! An issuer's signing keys (JWKS) as attestation sees them: found by OIDC discovery
//! (`ISSUER/.well-known/openid-configuration` → `jwks_uri`; the document's `issuer` must be the
//! configured one exactly) or read from a pinned file, kept in memory, and fetched again when a
//! token names a key not in the set, at most once per `jwks_min_refetch` (default one minute: a
//! stream of made-up `kid`s cannot turn serve into a load generator against the issuer). When a
//! fetch fails the keys already held stay in use, and `/readyz` says what failed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use jsonwebtoken::jwk::{Jwk, JwkSet};

use crate::client;

/// The largest discovery document or JWKS read.
pub const MAX_JWKS: usize = 64 << 10;
/// How long one fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the keys come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// OIDC discovery from the issuer URL.
    Discovery {
        /// The issuer, exactly as configured.
        issuer: String,
        /// Whether plain-HTTP loopback URLs are allowed (tests).
        insecure_loopback: bool,
    },
    /// A pinned JWKS file.
    File(PathBuf),
}

#[derive(Default)]
struct State {
    set: Option<Arc<JwkSet>>,
    last_try: Option<Instant>,
    last_ok: Option<Instant>,
    error: Option<String>,
    fetches: u64,
}

/// One policy's view of its issuer's keys.
pub struct Keys {
    source: Source,
    roots: Arc<rustls::RootCertStore>,
    min_refetch: Duration,
    state: Mutex<State>,
    /// One fetch at a time: concurrent requests with an unknown kid wait for the same fetch.
    fetching: tokio::sync::Mutex<()>,
}

/// What a key lookup found.
pub enum Lookup {
    /// The key.
    Found(Box<Jwk>),
    /// Not in the set, even after the refetch allowed now.
    Unknown {
        /// Whether a fetch was made for this request.
        refetched: bool,
        /// Why the last fetch failed, if it did.
        error: Option<String>,
    },
}

impl Keys {
    /// Keys from `source`, none fetched yet.
    pub fn new(source: Source, roots: Arc<rustls::RootCertStore>, min_refetch: Duration) -> Keys {
        Keys { source, roots, min_refetch, state: Mutex::new(State::default()), fetching: tokio::sync::Mutex::new(()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches the set now (at start, and by the periodic refresh); keeps the old one on failure.
    pub async fn refresh(&self) -> Result<(), String> {
        let _one = self.fetching.lock().await;
        self.fetch_now().await
    }

    async fn fetch_now(&self) -> Result<(), String> {
        self.state().last_try = Some(Instant::now());
        let r = fetch(&self.source, &self.roots).await;
        let mut s = self.state();
        s.fetches += 1;
        match r {
            Ok(set) => {
                s.set = Some(Arc::new(set));
                s.last_ok = Some(Instant::now());
                s.error = None;
                Ok(())
            }
            Err(e) => {
                let msg = format!("{e:#}");
                s.error = Some(msg.clone());
                Err(msg)
            }
        }
    }

    /// The key `kid` (None: the token names no key, which works only with a one-key set).
    pub async fn find(&self, kid: Option<&str>) -> Lookup {
        if let Some(k) = self.lookup(kid) {
            return Lookup::Found(Box::new(k));
        }
        let _one = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(k) = self.lookup(kid) {
            return Lookup::Found(Box::new(k));
        }
        let due = self.state().last_try.is_none_or(|t| t.elapsed() >= self.min_refetch);
        if !due {
            return Lookup::Unknown { refetched: false, error: self.state().error.clone() };
        }
        let r = self.fetch_now().await;
        match self.lookup(kid) {
            Some(k) => Lookup::Found(Box::new(k)),
            None => Lookup::Unknown { refetched: true, error: r.err() },
        }
    }

    fn lookup(&self, kid: Option<&str>) -> Option<Jwk> {
        let set = self.state().set.clone()?;
        let usable = |k: &&Jwk| !matches!(k.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption));
        match kid {
            Some(kid) => set.keys.iter().filter(usable).find(|k| k.common.key_id.as_deref() == Some(kid)).cloned(),
            None => {
                let mut it = set.keys.iter().filter(usable);
                match (it.next(), it.next()) {
                    (Some(k), None) => Some(k.clone()),
                    _ => None,
                }
            }
        }
    }

    /// For `/readyz`: why this issuer's keys are not current, if they are not.
    pub fn problem(&self) -> Option<String> {
        let s = self.state();
        match (&s.set, &s.error) {
            (None, Some(e)) => Some(format!("no keys yet: {e}")),
            (None, None) => Some("no keys fetched yet".into()),
            (Some(_), Some(e)) => {
                Some(format!("the last fetch failed ({e}); tokens signed by the keys held are still accepted"))
            }
            (Some(_), None) => None,
        }
    }

    /// Fetches made so far (metrics, tests).
    pub fn fetches(&self) -> u64 {
        self.state().fetches
    }

    /// How long ago the keys were last fetched successfully.
    pub fn age(&self) -> Option<Duration> {
        self.state().last_ok.map(|t| t.elapsed())
    }
}

async fn fetch(source: &Source, roots: &Arc<rustls::RootCertStore>) -> Result<JwkSet> {
    match source {
        Source::File(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            parse_set(&bytes).with_context(|| p.display().to_string())
        }
        Source::Discovery { issuer, insecure_loopback } => {
            let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
            let doc = get(&url, roots).await?;
            let doc: serde_json::Value =
                serde_json::from_slice(&doc).with_context(|| format!("{url}: not a JSON document"))?;
            let said = doc.get("issuer").and_then(|v| v.as_str()).unwrap_or("");
            if said != issuer {
                bail!("{url}: the document's issuer is '{}', not '{issuer}'", pki_core::attest::shown(said));
            }
            let jwks_uri = doc
                .get("jwks_uri")
                .and_then(|v| v.as_str())
                .ok_or_else(|| anyhow!("{url}: the document has no jwks_uri"))?;
            pki_core::attest::check_issuer(jwks_uri, *insecure_loopback).map_err(|e| anyhow!("{url}: jwks_uri {e}"))?;
            let set = get(jwks_uri, roots).await?;
            parse_set(&set).with_context(|| jwks_uri.to_string())
        }
    }
}

async fn get(url: &str, roots: &Arc<rustls::RootCertStore>) -> Result<Vec<u8>> {
    let a =
        client::request("GET", url, &[("accept", "application/json".into())], vec![], roots, MAX_JWKS, FETCH_TIMEOUT)
            .await?;
    if a.status != 200 {
        bail!("{url}: HTTP {}", a.status);
    }
    Ok(a.body)
}

/// A JWKS document; keys of kinds jsonwebtoken does not know are skipped, not fatal (an issuer
/// may publish more kinds than we verify).
fn parse_set(bytes: &[u8]) -> Result<JwkSet> {
    let v: serde_json::Value = serde_json::from_slice(bytes).context("not JSON")?;
    let keys = v.get("keys").and_then(|k| k.as_array()).ok_or_else(|| anyhow!("not a JWKS (no \"keys\" array)"))?;
    let keys: Vec<Jwk> = keys.iter().filter_map(|k| serde_json::from_value(k.clone()).ok()).collect();
    if keys.is_empty() {
        bail!("the JWKS holds no key pki can use");
    }
    Ok(JwkSet { keys })
}
