//! `/ui/`: a read-only page over the CA directory for people (the team's weekly review, an
//! auditor): the CAs and their health, the audit's findings, an expiry timeline, the inventory
//! searched and paged, a page per certificate with its ledger history. Everything comes from
//! the core (the same audit and inventory as the CLI); nothing here writes.
//!
//! Safe by default: a listener on a loopback address serves it to anyone who can connect there
//! (`[serve.ui] open_on_loopback`, default true); elsewhere, and on loopback when that is
//! false, a request needs the configured token (`Authorization: Bearer`, or a browser's Basic
//! password) or, on the HTTPS listener, a client certificate from this CA's inventory, valid,
//! under one of `[serve.ui] client_profiles`. No key or passphrase is ever read for a page; every
//! value is escaped by the templates; the Content-Security-Policy allows no script at all.

pub mod data;
pub mod index;
pub mod pages;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use time::OffsetDateTime;

use crate::http::Resp;
use pki_core::store::InventoryRecord;

/// The Content-Security-Policy of every page: nothing but this server's stylesheet.
pub const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// How long an overview is reused while the directory does not change (the audit's "now"
/// moves on).
const OVERVIEW_TTL: Duration = Duration::from_secs(30);

/// `[serve.ui]` as serve runs it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether `/ui/` is served at all.
    pub enabled: bool,
    /// Whether a listener bound to a loopback address serves it without credentials.
    pub open_on_loopback: bool,
    /// SHA-256 of the token that opens it (read from `token_file`).
    pub token_sha256: Option<[u8; 32]>,
    /// Profiles whose client certificates (HTTPS, mutual TLS) open it.
    pub client_profiles: Vec<String>,
    /// The expiry window of the findings and the expiring list.
    pub window: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            enabled: true,
            open_on_loopback: true,
            token_sha256: None,
            client_profiles: vec![],
            window: Duration::from_secs(30 * 86_400),
        }
    }
}

/// What serve knows of the connection a request came on.
#[derive(Debug, Clone, Default)]
pub struct Conn {
    /// The HTTPS listener.
    pub secure: bool,
    /// The listener is bound to a loopback address.
    pub loopback_listener: bool,
    /// The client's certificate (DER), when it sent one that chains to a root of this directory.
    pub client_cert: Option<Arc<Vec<u8>>>,
}

struct Cached<T> {
    stamp: u64,
    key: String,
    at: Instant,
    value: Arc<T>,
}

/// The page's state: the caches.
pub struct Ui {
    dir: std::path::PathBuf,
    settings: Settings,
    overview: tokio::sync::Mutex<Option<Cached<data::Overview>>>,
    index: tokio::sync::Mutex<Option<Arc<index::Index>>>,
}

fn page(status: StatusCode, m: maud::Markup) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(m.into_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

fn secure_headers(r: &mut Resp) {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The page's clock: the system's, or in test builds `PKI_NOW` (so a fixture's page is the
/// same every run).
pub fn clock() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    pki_core::hooks::fixed_now()
        .and_then(|v| pki_core::certs::parse_rfc3339(&v).ok())
        .unwrap_or(now.replace_nanosecond(0).unwrap_or(now))
}

/// Percent-encodes a query value.
pub fn query_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn query_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() => {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query string as (name, value) pairs, decoded; at most 32 pairs of 256 bytes each.
fn params(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .take(32)
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            // At most 256 bytes, cut at a character's boundary.
            let v: String = query_decode(v)
                .chars()
                .scan(0, |n, c| {
                    *n += c.len_utf8();
                    (*n <= 256).then_some(c)
                })
                .collect();
            (query_decode(k), v)
        })
        .collect()
}

/// SHA-256 of a token, as `[serve.ui]` keeps it.
pub fn digest(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

impl Ui {
    /// The page over `dir`.
    pub fn new(dir: &std::path::Path, settings: Settings) -> Ui {
        Ui {
            dir: dir.to_path_buf(),
            settings,
            overview: tokio::sync::Mutex::new(None),
            index: tokio::sync::Mutex::new(None),
        }
    }

    /// Who may see the page: None if allowed, else the 401 or 403 answer.
    async fn refuse<B>(&self, req: &Request<B>, conn: &Conn, stamp: u64) -> Option<Resp> {
        if conn.loopback_listener && self.settings.open_on_loopback {
            return None;
        }
        let mut presented = false;
        if let Some(h) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            presented = true;
            let token = if let Some(t) = h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")) {
                Some(t.trim().to_string())
            } else if let Some(b) = h.strip_prefix("Basic ").or_else(|| h.strip_prefix("basic ")) {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok())
                    .and_then(|up| up.split_once(':').map(|(_, p)| p.to_string()))
            } else {
                None
            };
            if let (Some(t), Some(want)) = (token, &self.settings.token_sha256) {
                let got = digest(t.as_bytes());
                // Compared in constant time (digests: the length is fixed).
                if got.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0 {
                    return None;
                }
            }
        }
        if let Some(der) = &conn.client_cert
            && !self.settings.client_profiles.is_empty()
        {
            presented = true;
            if self.client_cert_allowed(der, stamp).await {
                return None;
            }
        }
        let now = clock();
        if presented {
            return Some(page(
                StatusCode::FORBIDDEN,
                pages::message("Not allowed", "The credentials given do not open this page.", now),
            ));
        }
        let mut r = page(
            StatusCode::UNAUTHORIZED,
            pages::message(
                "Sign in",
                "This page needs the configured token (as the password) or a client certificate of an allowed profile.",
                now,
            ),
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"pki\", charset=\"UTF-8\""));
        Some(r)
    }

    /// A client certificate opens the page when this directory issued it, it is valid now
    /// (not revoked, renewed or expired) and its profile is one of `client_profiles`.
    async fn client_cert_allowed(&self, der: &[u8], stamp: u64) -> bool {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { return false };
        let hex = cert.raw_serial().iter().map(|b| format!("{b:02X}")).collect::<String>();
        let Ok(serial) = pki_core::serial::Serial::parse(&hex) else { return false };
        let Ok(Some(r)) = self.record(stamp, &serial).await else { return false };
        let now = pki_core::certs::rfc3339(clock());
        r.status == pki_core::store::Status::Valid
            && r.not_after.as_str() > now.as_str()
            && r.profile.as_ref().is_some_and(|p| self.settings.client_profiles.contains(p))
    }

    /// A certificate's inventory record, looked up through the table's index.
    async fn record(&self, stamp: u64, serial: &pki_core::serial::Serial) -> anyhow::Result<Option<InventoryRecord>> {
        let (idx, dir, hex) = (self.index(stamp).await?, self.dir.clone(), serial.hex());
        tokio::task::spawn_blocking(move || idx.record(&pki_core::store::CaDir::open(&dir)?, &hex))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
    }

    /// Answers a request under `/ui`.
    pub async fn handle<B>(self: Arc<Self>, req: &Request<B>, conn: &Conn, stamp: u64) -> Resp {
        let mut r = self.route(req, conn, stamp).await;
        secure_headers(&mut r);
        r
    }

    async fn route<B>(self: &Arc<Self>, req: &Request<B>, conn: &Conn, stamp: u64) -> Resp {
        let now = clock();
        if !self.settings.enabled {
            return page(StatusCode::NOT_FOUND, pages::message("Not served", "[serve.ui] enabled = false", now));
        }
        if let Some(r) = self.refuse(req, conn, stamp).await {
            return r;
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut r = page(StatusCode::METHOD_NOT_ALLOWED, pages::message("Read-only", "This page only reads.", now));
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let path = req.uri().path();
        let q = params(req.uri().query());
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
        let internal = |e: anyhow::Error| {
            crate::log("error", "the page cannot read the directory", serde_json::json!({"error": format!("{e:#}")}));
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::message("Cannot read the directory", "See serve's log.", now),
            )
        };
        match path {
            "/ui" => {
                let mut r = page(StatusCode::MOVED_PERMANENTLY, maud::html! {});
                r.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/ui/"));
                r
            }
            "/ui/style.css" => {
                let mut r = Response::new(Full::new(Bytes::from_static(pages::STYLE.as_bytes())));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
                r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
                r
            }
            "/ui/" => {
                let by_ca = get("by").as_deref() == Some("ca");
                match self.overview(stamp, by_ca, now).await {
                    Ok(o) => page(StatusCode::OK, pages::overview(&o, &pages::Shell::Served)),
                    Err(e) => internal(e),
                }
            }
            "/ui/certs" => {
                let idx = match self.index(stamp).await {
                    Ok(i) => i,
                    Err(e) => return internal(e),
                };
                let query = index::Query {
                    q: get("q").unwrap_or_default(),
                    status: get("status")
                        .filter(|s| ["valid", "expired", "revoked", "superseded"].contains(&s.as_str())),
                    ca: get("ca"),
                    profile: get("profile"),
                    expiring: get("expiring").and_then(|e| pki_core::duration::parse("expiring", &e).ok()),
                    sort: get("sort")
                        .filter(|s| ["expiry", "expiry-desc", "issued"].contains(&s.as_str()))
                        .unwrap_or_default(),
                    page: get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
                };
                let (i2, q2, dir) = (idx.clone(), query.clone(), self.dir.clone());
                let r = tokio::task::spawn_blocking(move || -> anyhow::Result<index::Page> {
                    Ok(i2.page(&pki_core::store::CaDir::open(&dir)?, &q2, now))
                })
                .await;
                match r {
                    Ok(Ok(p)) => page(StatusCode::OK, pages::certs(&idx, &query, &p, now)),
                    Ok(Err(e)) => internal(e),
                    Err(e) => internal(anyhow::anyhow!("{e}")),
                }
            }
            p if p.starts_with("/ui/cert/") => {
                let s = &p["/ui/cert/".len()..];
                let Ok(serial) = pki_core::serial::Serial::parse(s) else {
                    return page(
                        StatusCode::NOT_FOUND,
                        pages::message("No such certificate", "That is not a serial number.", now),
                    );
                };
                let inv = match self.record(stamp, &serial).await {
                    Ok(i) => i,
                    Err(e) => return internal(e),
                };
                let dir = self.dir.clone();
                let r = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<maud::Markup>> {
                    let Some(inv) = inv else { return Ok(None) };
                    let d = pki_core::store::CaDir::open(&dir)?;
                    let inspect = std::fs::read(d.cert_path(&serial))
                        .ok()
                        .and_then(|b| pki_core::inspect::inspect(&b, "certificate", now).ok())
                        .and_then(|o| o.into_iter().next())
                        .and_then(|o| serde_json::to_value(o).ok());
                    let history = d.ledger_records_about(&inv.serial)?;
                    Ok(Some(pages::cert(&inv, inspect.as_ref(), &history, now)))
                })
                .await;
                match r {
                    Ok(Ok(Some(m))) => page(StatusCode::OK, m),
                    Ok(Ok(None)) => page(
                        StatusCode::NOT_FOUND,
                        pages::message(
                            "No such certificate",
                            "This directory did not issue a certificate with that serial.",
                            now,
                        ),
                    ),
                    Ok(Err(e)) => internal(e),
                    Err(e) => internal(anyhow::anyhow!("{e}")),
                }
            }
            _ => page(StatusCode::NOT_FOUND, pages::message("Not found", "No such page.", now)),
        }
    }

    async fn overview(&self, stamp: u64, by_ca: bool, now: OffsetDateTime) -> anyhow::Result<Arc<data::Overview>> {
        let key = if by_ca { "ca" } else { "profile" }.to_string();
        let mut c = self.overview.lock().await;
        if let Some(x) = c.as_ref()
            && x.stamp == stamp
            && x.key == key
            && x.at.elapsed() < OVERVIEW_TTL
        {
            return Ok(x.value.clone());
        }
        let (dir, window) = (self.dir.clone(), self.settings.window);
        let o = tokio::task::spawn_blocking(move || {
            data::overview(&pki_core::store::CaDir::open(&dir)?, now, window, by_ca)
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))??;
        let value = Arc::new(o);
        *c = Some(Cached { stamp, key, at: Instant::now(), value: value.clone() });
        Ok(value)
    }

    async fn index(&self, stamp: u64) -> anyhow::Result<Arc<index::Index>> {
        let mut c = self.index.lock().await;
        if let Some(i) = c.as_ref()
            && i.stamp == stamp
        {
            return Ok(i.clone());
        }
        let dir = self.dir.clone();
        let i = tokio::task::spawn_blocking(move || index::Index::build(&pki_core::store::CaDir::open(&dir)?, stamp))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))??;
        let i = Arc::new(i);
        *c = Some(i.clone());
        Ok(i)
    }
}

/// `pki report --html`: the overview as one self-contained page (stylesheet inlined, no
/// script, no link out), for cron mail, a wiki, an audit trail.
pub fn report_html(
    dir: &pki_core::store::CaDir,
    now: OffsetDateTime,
    window: Duration,
    by_ca: bool,
) -> anyhow::Result<String> {
    let o = data::overview(dir, now, window, by_ca)?;
    Ok(pages::overview(&o, &pages::Shell::Report).into_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn queries_decode() {
        let p = super::params(Some("q=a%3Cb+c&status=valid&x"));
        assert_eq!(p[0], ("q".into(), "a<b c".into()));
        assert_eq!(p[1], ("status".into(), "valid".into()));
        assert_eq!(p[2], ("x".into(), "".into()));
        assert_eq!(super::query_decode("%"), "%");
        assert_eq!(super::query_decode("%4"), "%4");
        assert_eq!(super::query_decode("%+1%zz"), "% 1%zz");
        // A long value of multi-byte characters is cut at a character, not inside one.
        let long = format!("q={}", "%E2%82%AC".repeat(100));
        assert_eq!(super::params(Some(&long))[0].1, "€".repeat(85));
        assert_eq!(super::query_encode("a b/<"), "a%20b%2F%3C");
    }
}
