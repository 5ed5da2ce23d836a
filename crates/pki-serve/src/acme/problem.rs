//! Problem documents (RFC 7807) with the error types of RFC 8555 section 6.7: every ACME
//! failure is one, with the HTTP status the type implies.

use serde_json::Value;

/// One ACME error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The RFC 8555 type without its `urn:ietf:params:acme:error:` prefix (`badNonce`).
    pub kind: &'static str,
    /// What was wrong, in one line.
    pub detail: String,
    /// The HTTP status.
    pub status: u16,
    /// `badSignatureAlgorithm` lists the accepted algorithms (RFC 8555 section 6.2).
    algorithms: bool,
    /// A `Location` to send with it (keyChange's 409 names the account holding the key).
    pub location: Option<String>,
    /// A `Retry-After` in seconds (`rateLimited`).
    pub retry_after: Option<u64>,
}

/// The URN prefix of ACME error types.
pub const PREFIX: &str = "urn:ietf:params:acme:error:";

impl Problem {
    /// A problem of `kind` (an RFC 8555 error type) with its usual status.
    pub fn new(kind: &'static str, detail: String) -> Problem {
        let status = match kind {
            "unauthorized" | "orderNotReady" | "userActionRequired" => 403,
            "serverInternal" => 500,
            "rateLimited" => 429,
            "unsupportedMediaType" => 415,
            _ => 400,
        };
        // One line whatever a client put in the values it quotes.
        let detail = detail.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] });
        Problem { kind, detail: detail.collect(), status, algorithms: false, location: None, retry_after: None }
    }
    /// `malformed`, 400.
    pub fn malformed(detail: String) -> Problem {
        Problem::new("malformed", detail)
    }
    /// `unauthorized`, 403.
    pub fn unauthorized(detail: String) -> Problem {
        Problem::new("unauthorized", detail)
    }
    /// `malformed` with 404: no such resource.
    pub fn not_found(what: &str) -> Problem {
        Problem { status: 404, ..Problem::malformed(format!("no such {what}")) }
    }
    /// `serverInternal`, 500; the detail names what failed, never a secret.
    pub fn internal(e: &anyhow::Error) -> Problem {
        Problem::new("serverInternal", format!("{e:#}"))
    }
    /// With another status.
    pub fn with_status(mut self, status: u16) -> Problem {
        self.status = status;
        self
    }
    /// With the `algorithms` member (for `badSignatureAlgorithm`).
    pub fn with_algorithms(mut self) -> Problem {
        self.algorithms = true;
        self
    }

    /// The JSON document.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::json!({
            "type": format!("{PREFIX}{}", self.kind),
            "detail": self.detail,
            "status": self.status,
        });
        if self.algorithms {
            v["algorithms"] = super::jws::ALGORITHMS.into();
        }
        v
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}
