//! Prometheus metrics of `pki serve`, in the text exposition format (version 0.0.4): requests by
//! route and status, a latency histogram, and each served CRL's age and time to nextUpdate.
//! Routes, not paths, are labels, so a client inventing paths cannot grow the series.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use crate::published::Published;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
    reloads: u64,
    reload_errors: u64,
    refused_connections: u64,
    failed_handshakes: u64,
}

/// The counters, shared by every connection.
#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// One answered request.
    pub fn request(&self, route: &'static str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        self.with(|m| {
            *m.requests.entry((route, status)).or_default() += 1;
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    m.buckets[i] += 1;
                }
            }
            m.count += 1;
            m.sum += secs;
        });
    }

    /// A reload of the directory, successful or not.
    pub fn reload(&self, ok: bool) {
        self.with(|m| if ok { m.reloads += 1 } else { m.reload_errors += 1 });
    }

    /// A connection refused because the limit was reached.
    pub fn refused_connection(&self) {
        self.with(|m| m.refused_connections += 1);
    }

    /// A TLS handshake that failed or timed out.
    pub fn failed_handshake(&self) {
        self.with(|m| m.failed_handshakes += 1);
    }

    /// The exposition text; `tls_not_after` is the end of the HTTPS certificate, if any.
    pub fn render(
        &self,
        published: &Published,
        open_connections: usize,
        tls_not_after: Option<OffsetDateTime>,
        ocsp_signed: u64,
        now: OffsetDateTime,
    ) -> String {
        let mut s = String::new();
        self.with(|m| {
            let _ = writeln!(s, "# HELP pki_http_requests_total HTTP requests answered, by route and status.");
            let _ = writeln!(s, "# TYPE pki_http_requests_total counter");
            for ((route, status), n) in &m.requests {
                let _ = writeln!(s, "pki_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
            let _ = writeln!(s, "# HELP pki_http_request_duration_seconds Time to answer a request.");
            let _ = writeln!(s, "# TYPE pki_http_request_duration_seconds histogram");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(s, "pki_http_request_duration_seconds_bucket{{le=\"{b}\"}} {}", m.buckets[i]);
            }
            let _ = writeln!(s, "pki_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}", m.count);
            let _ = writeln!(s, "pki_http_request_duration_seconds_sum {}", m.sum);
            let _ = writeln!(s, "pki_http_request_duration_seconds_count {}", m.count);
            let _ = writeln!(s, "# HELP pki_serve_reloads_total Times the directory was read again after a change.");
            let _ = writeln!(s, "# TYPE pki_serve_reloads_total counter");
            let _ = writeln!(s, "pki_serve_reloads_total {}", m.reloads);
            let _ = writeln!(
                s,
                "# HELP pki_serve_reload_errors_total Reads of the directory that failed (the last good one is served)."
            );
            let _ = writeln!(s, "# TYPE pki_serve_reload_errors_total counter");
            let _ = writeln!(s, "pki_serve_reload_errors_total {}", m.reload_errors);
            let _ = writeln!(
                s,
                "# HELP pki_serve_refused_connections_total Connections closed at once because the limit was reached."
            );
            let _ = writeln!(s, "# TYPE pki_serve_refused_connections_total counter");
            let _ = writeln!(s, "pki_serve_refused_connections_total {}", m.refused_connections);
            let _ =
                writeln!(s, "# HELP pki_serve_tls_handshake_failures_total TLS handshakes that failed or timed out.");
            let _ = writeln!(s, "# TYPE pki_serve_tls_handshake_failures_total counter");
            let _ = writeln!(s, "pki_serve_tls_handshake_failures_total {}", m.failed_handshakes);
        });
        let _ =
            writeln!(s, "# HELP pki_ocsp_responses_signed_total OCSP responses signed (the rest came from the cache).");
        let _ = writeln!(s, "# TYPE pki_ocsp_responses_signed_total counter");
        let _ = writeln!(s, "pki_ocsp_responses_signed_total {ocsp_signed}");
        if let Some(t) = tls_not_after {
            let _ =
                writeln!(s, "# HELP pki_serve_tls_cert_expiry_seconds Seconds until the HTTPS certificate expires.");
            let _ = writeln!(s, "# TYPE pki_serve_tls_cert_expiry_seconds gauge");
            let _ = writeln!(s, "pki_serve_tls_cert_expiry_seconds {}", (t - now).whole_seconds());
        }
        let _ = writeln!(s, "# HELP pki_serve_open_connections Connections open now.");
        let _ = writeln!(s, "# TYPE pki_serve_open_connections gauge");
        let _ = writeln!(s, "pki_serve_open_connections {open_connections}");
        let _ = writeln!(s, "# HELP pki_crl_age_seconds Age of each CA's served CRL (now minus thisUpdate).");
        let _ = writeln!(s, "# TYPE pki_crl_age_seconds gauge");
        for c in &published.crls {
            let _ = writeln!(s, "pki_crl_age_seconds{{ca=\"{}\"}} {}", c.ca, (now - c.this_update).whole_seconds());
        }
        let _ = writeln!(
            s,
            "# HELP pki_crl_next_update_seconds Seconds until each served CRL's nextUpdate (negative: stale)."
        );
        let _ = writeln!(s, "# TYPE pki_crl_next_update_seconds gauge");
        for c in &published.crls {
            if let Some(n) = c.next_update {
                let _ = writeln!(s, "pki_crl_next_update_seconds{{ca=\"{}\"}} {}", c.ca, (n - now).whole_seconds());
            }
        }
        s
    }
}
