//! The HTTP endpoints, one function each, with the specification beside it. Only GET and HEAD
//! exist; a path is served only if it names a published object exactly (no file system path is
//! ever built from a request, so `/crl/../pki.toml` is simply not found).

use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use time::OffsetDateTime;

use crate::Shared;
use crate::published::{Object, Published};

/// The response type of every endpoint.
pub type Resp = Response<Full<Bytes>>;

/// How long a cache may keep a CRL at most: a new CRL (a revocation) reaches relying parties
/// behind a cache within this, even when its nextUpdate is days away.
pub const CRL_MAX_AGE: i64 = 300;
/// How long a cache may keep a CA certificate or a bundle.
pub const CERT_MAX_AGE: i64 = 3600;

fn text(status: StatusCode, body: impl Into<Bytes>, content_type: &'static str) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The route label of a path, for metrics (bounded whatever clients send).
pub fn route(path: &str) -> &'static str {
    match path {
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/bundle.pem" => "/bundle.pem",
        "/bundle.spiffe.json" => "/bundle.spiffe.json",
        p if p.starts_with("/crl/") => "/crl",
        p if p.starts_with("/ca/") => "/ca",
        p if p.starts_with("/ocsp/") => "/ocsp",
        p if p.starts_with("/acme/") => "/acme",
        p if p.starts_with("/attest/") => "/attest",
        p if p == "/ui" || p.starts_with("/ui/") => "/ui",
        _ => "other",
    }
}

/// Answers one request.
pub fn handle<B>(req: &Request<B>, shared: &Shared, now: OffsetDateTime) -> Resp {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/ocsp/")
        && (req.method() == Method::GET || req.method() == Method::HEAD)
    {
        return ocsp_get(req, rest, shared, now);
    }
    if path.starts_with("/ocsp/") && req.method() != Method::POST {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "OCSP: GET or POST\n", "text/plain; charset=utf-8");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
        return r;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        // RFC 9110 section 15.5.6: 405 lists the allowed methods.
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n", "text/plain; charset=utf-8");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let published = shared.published();
    match path {
        "/healthz" => text(StatusCode::OK, "ok\n", "text/plain; charset=utf-8"),
        "/readyz" => readyz(&published, shared, now),
        "/metrics" => text(
            StatusCode::OK,
            shared.metrics.render(
                &published,
                shared.open_connections(),
                shared.tls.as_ref().map(|t| t.current().not_after),
                shared.ocsp.signed(),
                now,
            ),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        _ => match published.objects.get(path) {
            Some(o) => object(req, o, now),
            None => text(StatusCode::NOT_FOUND, "not found\n", "text/plain; charset=utf-8"),
        },
    }
}

/// What a responder said beyond the status, for the request's log line: the field name
/// (`ocsp`, `acme`) and the words.
#[derive(Clone, Debug)]
pub struct Note(pub &'static str, pub String);

/// The media type of OCSP responses (RFC 6960 appendix C.2).
pub const OCSP_RESPONSE: &str = "application/ocsp-response";

fn ocsp_resp(answer: crate::ocsp::Answer) -> Resp {
    let mut r = Response::new(Full::new(answer.der));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(OCSP_RESPONSE));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let note = match answer.why {
        Some(w) => format!("{}: {w}", answer.status),
        None => answer.status,
    };
    r.extensions_mut().insert(Note("ocsp", note));
    r
}

/// `GET /ocsp/<ca>/<base64>` (RFC 6960 appendix A.1, RFC 5019 section 5): a nonce-less
/// response carries the validators and caching headers of RFC 5019 section 6.2.
fn ocsp_get<B>(req: &Request<B>, rest: &str, shared: &Shared, now: OffsetDateTime) -> Resp {
    let (ca, b64) = rest.split_once('/').unwrap_or((rest, ""));
    let p = shared.published();
    let answer = match crate::ocsp::decode_get(b64) {
        Some(der) => shared.ocsp.answer(&p, ca, &der, now),
        None => crate::ocsp::Answer::failure(
            pki_core::ocsp::Failure::MalformedRequest,
            "the GET path is not a base64 request".into(),
        ),
    };
    match &answer.cacheable {
        Some(o) => {
            let mut r = object(req, o, now);
            if let Some(v) = o.expires.and_then(|e| HeaderValue::from_str(&http_date(e)).ok()) {
                r.headers_mut().insert(header::EXPIRES, v);
            }
            if let Some(cc) = r.headers().get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).map(str::to_string) {
                let cc = format!("{cc}, no-transform, must-revalidate");
                if let Ok(v) = HeaderValue::from_str(&cc) {
                    r.headers_mut().insert(header::CACHE_CONTROL, v);
                }
            }
            r.extensions_mut().insert(Note("ocsp", answer.status));
            r
        }
        None => ocsp_resp(answer),
    }
}

/// `POST /ocsp/<ca>` with the DER request as the body (at most [`pki_core::ocsp::MAX_REQUEST`]
/// bytes: more is 413 before it is read).
pub async fn ocsp_post(req: Request<hyper::body::Incoming>, shared: &Shared) -> Resp {
    use http_body_util::BodyExt;
    let ca = req.uri().path().trim_start_matches("/ocsp/").trim_end_matches('/').to_string();
    let too_big =
        || text(StatusCode::PAYLOAD_TOO_LARGE, "an OCSP request is at most 8 KiB\n", "text/plain; charset=utf-8");
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > pki_core::ocsp::MAX_REQUEST as u64) {
        return too_big();
    }
    let body = match http_body_util::Limited::new(req.into_body(), pki_core::ocsp::MAX_REQUEST).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return too_big(),
    };
    let p = shared.published();
    ocsp_resp(shared.ocsp.answer(&p, &ca, &body, OffsetDateTime::now_utc()))
}

/// `/readyz`: 200 while every served CRL is within its nextUpdate, every CA has one and the
/// last read of the directory worked; else 503 with the reasons (JSON).
fn readyz(p: &Published, shared: &Shared, now: OffsetDateTime) -> Resp {
    let mut problems: Vec<String> =
        p.stale(now).iter().map(|c| format!("the CRL of CA '{}' is past its nextUpdate", c.ca)).collect();
    problems.extend(p.missing_crls.iter().map(|c| format!("CA '{c}' has no CRL")));
    if let Some(e) = shared.reload_error() {
        problems.push(format!("the directory could not be read again: {e}"));
    }
    if let Some(t) = &shared.tls {
        let c = t.current();
        if c.not_after <= now {
            problems.push(format!(
                "the HTTPS certificate {} expired at {}",
                c.serial,
                pki_core::certs::rfc3339(c.not_after)
            ));
        }
    }
    if let Some(a) = &shared.attest {
        problems.extend(a.problems());
    }
    let ready = problems.is_empty();
    let body = serde_json::json!({ "ready": ready, "problems": problems }).to_string() + "\n";
    text(if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body, "application/json")
}

/// The HTTP date format (RFC 9110 section 5.6.7, IMF-fixdate): `Wed, 02 Dec 2026 14:00:00 GMT`.
const HTTP_DATE: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

fn http_date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(HTTP_DATE).unwrap_or_default()
}

fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s.trim(), HTTP_DATE).ok().map(|t| t.assume_utc())
}

/// A published object, with validators; conditional requests (RFC 9110 section 13.1.2,
/// 13.1.3) get 304 Not Modified. If-None-Match takes precedence over If-Modified-Since.
fn object<B>(req: &Request<B>, o: &Object, now: OffsetDateTime) -> Resp {
    let max_age = match o.content_type {
        "application/pkix-crl" => CRL_MAX_AGE,
        OCSP_RESPONSE => crate::ocsp::MAX_AGE,
        _ if o.expires.is_some() => CRL_MAX_AGE,
        _ => CERT_MAX_AGE,
    };
    // Never past the CRL's nextUpdate: a cache must not serve a CRL a relying party refuses.
    let max_age = o.expires.map_or(max_age, |e| max_age.min((e - now).whole_seconds().max(0)));
    let not_modified = match req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(inm) => inm.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == o.etag),
        None => req
            .headers()
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date)
            .is_some_and(|since| o.last_modified.replace_nanosecond(0).unwrap_or(o.last_modified) <= since),
    };
    let mut r = if not_modified {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Full::new(o.body.clone()));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(o.content_type));
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&o.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(o.last_modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    r
}

/// One JSON log line per request on stderr (the path cut to 200 characters; never a header).
pub fn log_request(
    method: &Method,
    path: &str,
    status: u16,
    bytes: usize,
    started: Instant,
    peer: &str,
    note: Option<&Note>,
) {
    let path: String = path.chars().take(200).collect();
    let mut line = serde_json::json!({
        "time": pki_core::certs::rfc3339(OffsetDateTime::now_utc()),
        "level": "info",
        "msg": "request",
        "method": method.as_str(),
        "path": path,
        "status": status,
        "bytes": bytes,
        "duration_ms": (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "peer": peer,
    });
    if let Some(Note(field, words)) = note {
        line[*field] = words.chars().take(300).collect::<String>().into();
    }
    crate::log_line(&line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip() {
        let t = time::macros::datetime!(2026-12-02 14:00:05 UTC);
        assert_eq!(http_date(t), "Wed, 02 Dec 2026 14:00:05 GMT");
        assert_eq!(parse_http_date("Wed, 02 Dec 2026 14:00:05 GMT"), Some(t));
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn routes_are_bounded() {
        assert_eq!(route("/crl/../../etc/passwd"), "/crl");
        assert_eq!(route("/x".repeat(100).as_str()), "other");
    }
}
