//! Attestation policies (`[attest.NAME]` in pki.toml): which OIDC issuer's tokens `pki serve`
//! trades for an X.509-SVID, under which conditions, with which SPIFFE ID.
//!
//! This module holds the rules that need no network: the policy's validation, the claim
//! conditions, and the SPIFFE-ID template. A claim value is put into the ID only if it already
//! is a run of valid SPIFFE path segments: values are never rewritten (percent-encoded,
//! lower-cased, trimmed), so two different claims can never yield one identity. The token's
//! signature, times and replay are checked by the server (`pki_serve::attest`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::duration;
use crate::policy::check_spiffe_id;

/// Algorithms a policy may allow: public-key signatures only (never `none`, never HMAC: an
/// HMAC "key" of a public-key issuer is public).
pub const ALGORITHMS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];
/// The algorithms allowed when a policy does not say (what GitHub and GitLab sign with, and the
/// usual EC choice).
pub const DEFAULT_ALGORITHMS: &[&str] = &["RS256", "ES256"];
/// The token age limit when a policy does not say (`iat` at most this long ago).
pub const DEFAULT_MAX_TOKEN_AGE: Duration = Duration::from_secs(15 * 60);
/// Clock skew allowed on `exp`, `nbf` and `iat` (documented in docs/attest.md).
pub const SKEW: Duration = Duration::from_secs(60);
/// The longest claim value put into a SPIFFE ID or recorded in the ledger.
pub const MAX_CLAIM_VALUE: usize = 255;

/// `[attest.NAME]` as written in pki.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestSpec {
    /// The profile the SVID is issued under (it must have `spiffe = true`): its CA, key types
    /// and lifetime ceiling apply.
    pub profile: String,
    /// The token issuer (`iss`), exactly: `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The audience (`aud`) a token must name, and only it.
    pub audience: String,
    /// The signature algorithms accepted (default RS256 and ES256).
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// A JWKS file to use instead of OIDC discovery (pinned keys; re-read when it changes).
    pub jwks_file: Option<PathBuf>,
    /// PEM roots for the issuer's HTTPS (a self-managed GitLab behind a private CA); default:
    /// the system's roots.
    pub issuer_ca_file: Option<PathBuf>,
    /// The SPIFFE ID, with `{claim}` placeholders: `spiffe://acme.internal/ci/{repository}`.
    pub spiffe_id: String,
    /// Conditions: `claim = "value"`, or `claim = ["a", "b"]` (any of them). Compare stable ids
    /// (`repository_owner_id`, `project_id`), not names that can be re-registered.
    #[serde(default)]
    pub claims: BTreeMap<String, Condition>,
    /// Claims recorded in the ledger besides `iss`, `sub` and `jti` (`repository`, `run_id`).
    #[serde(default)]
    pub record: Vec<String>,
    /// The SVID's lifetime (default: the profile's default_ttl; at most its max_ttl).
    pub ttl: Option<String>,
    /// How old a token may be (`iat`), default 15m.
    pub max_token_age: Option<String>,
    /// The least time between two fetches of the issuer's keys caused by tokens naming an
    /// unknown key (default 1m; from 1s to 1h).
    pub jwks_min_refetch: Option<String>,
    /// Allow an `http://` issuer on loopback (127.0.0.1, ::1, localhost): for tests only.
    #[serde(default)]
    pub insecure_loopback_issuer: bool,
}

/// One claim condition: a value, or several accepted values.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Condition {
    /// Exactly this value.
    One(String),
    /// Any of these.
    Any(Vec<String>),
}

impl Condition {
    fn values(&self) -> Vec<String> {
        match self {
            Condition::One(v) => vec![v.clone()],
            Condition::Any(v) => v.clone(),
        }
    }
}

/// A checked attestation policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Its name (`[attest.NAME]`, the URL's `/attest/NAME`).
    pub name: String,
    /// The profile SVIDs are issued under.
    pub profile: String,
    /// The issuer, exactly as tokens carry it.
    pub issuer: String,
    /// The one audience.
    pub audience: String,
    /// Accepted algorithms.
    pub algorithms: Vec<String>,
    /// Pinned JWKS file, if any.
    pub jwks_file: Option<PathBuf>,
    /// Roots for the issuer's HTTPS, if not the system's.
    pub issuer_ca_file: Option<PathBuf>,
    /// The SPIFFE-ID template.
    pub template: Template,
    /// Claim conditions: claim -> accepted values.
    pub claims: BTreeMap<String, Vec<String>>,
    /// Claims recorded besides iss, sub, jti.
    pub record: Vec<String>,
    /// The SVID lifetime.
    pub ttl: Duration,
    /// The token age limit.
    pub max_token_age: Duration,
    /// Whether the issuer is a plain-HTTP loopback one (tests).
    pub insecure_loopback_issuer: bool,
    /// The least time between two key fetches for unknown `kid`s.
    pub jwks_min_refetch: Duration,
}

/// Why a token's claims were refused: the rule's name (used in the problem document's type)
/// and the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRefusal {
    /// `claim-condition`, `claim-missing` or `claim-not-spiffe-path`.
    pub rule: &'static str,
    /// What was wrong, naming the claim (never the token).
    pub detail: String,
}

/// `pki attest`: the server refused (its problem document): exit status 7, JSON code
/// `attest-refused` with the rule, the HTTP status and the server's words.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttestRefused {
    /// The rule (`jti-replayed`), from the problem type `urn:pki:attest:RULE`.
    pub rule: String,
    /// The HTTP status.
    pub status: u16,
    /// The server's detail.
    pub detail: String,
    /// The URL asked.
    pub url: String,
}

impl std::fmt::Display for AttestRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} refused (HTTP {}): urn:pki:attest:{}: {}", self.url, self.status, self.rule, self.detail)
    }
}

impl std::error::Error for AttestRefused {}

/// A SPIFFE-ID template: literal text and `{claim}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Claim(String),
}

impl Template {
    /// Parses `spiffe://TD/path/{claim}/...`: the trust domain is literal; a placeholder is
    /// `{name}` with name of letters, digits and `_`, and fills whole path segments or parts.
    pub fn parse(t: &str) -> Result<Template, String> {
        let mut parts = vec![];
        let mut rest = t;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').ok_or("a '{' is not closed by '}'")? + open;
            let name = &rest[open + 1..close];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("'{{{name}}}' is not a claim placeholder (letters, digits and _)"));
            }
            parts.push(Part::Claim(name.to_string()));
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err("a '}' has no '{'".into());
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        let first = match parts.first() {
            Some(Part::Text(s)) => s.clone(),
            _ => String::new(),
        };
        let after_scheme = first.strip_prefix("spiffe://").ok_or("it must start with spiffe://")?;
        let td_end = after_scheme.find('/').ok_or("the trust domain must be written out, followed by a path")?;
        if td_end == 0 {
            return Err("the trust domain is empty".into());
        }
        let tmpl = Template { parts, text: t.to_string() };
        // With every placeholder filled by a plain segment, the result must be a SPIFFE ID.
        let sample = tmpl.fill_with(|_| Ok("x".to_string()))?;
        check_spiffe_id(&sample, false)?;
        Ok(tmpl)
    }

    /// The claims the template reads.
    pub fn claims(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Claim(c) => Some(c.as_str()),
                _ => None,
            })
            .collect()
    }

    /// As written in pki.toml.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn fill_with(&self, mut value: impl FnMut(&str) -> Result<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(s) => out.push_str(s),
                Part::Claim(c) => out.push_str(&value(c)?),
            }
        }
        Ok(out)
    }

    /// The SPIFFE ID for a token's claims. Each value must be a string (or integer) made of
    /// valid SPIFFE path segments already: letters, digits, `.`, `-`, `_`, segments separated
    /// by `/`, none empty, `.` or `..`.
    pub fn fill(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Result<String, ClaimRefusal> {
        let mut refusal = None;
        let id = self.fill_with(|c| {
            let v = claim_text(claims, c).ok_or_else(|| {
                refusal = Some(ClaimRefusal {
                    rule: "claim-missing",
                    detail: format!(
                        "the SPIFFE ID template needs claim '{c}', which the token lacks (or is not a string)"
                    ),
                });
                String::new()
            })?;
            if let Err(why) = spiffe_path_value(&v) {
                refusal = Some(ClaimRefusal {
                    rule: "claim-not-spiffe-path",
                    detail: format!("claim '{c}' = \"{}\" cannot go into a SPIFFE ID unchanged: {why}", shown(&v)),
                });
                return Err(String::new());
            }
            Ok(v)
        });
        match (id, refusal) {
            (_, Some(r)) => Err(r),
            (Ok(id), None) => check_spiffe_id(&id, false).map(|_| id.clone()).map_err(|why| ClaimRefusal {
                rule: "claim-not-spiffe-path",
                detail: format!("the SPIFFE ID made from the token is not valid: {why}"),
            }),
            (Err(e), None) => Err(ClaimRefusal { rule: "claim-not-spiffe-path", detail: e }),
        }
    }
}

/// A claim as text: strings as they are, integers and booleans in their JSON form (GitLab
/// sends some ids as numbers); anything else is not usable.
pub fn claim_text(claims: &serde_json::Map<String, serde_json::Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A value fit for a log or a problem document: control characters escaped, at most 80
/// characters.
pub fn shown(v: &str) -> String {
    let e: String = v.chars().flat_map(char::escape_default).collect();
    if e.chars().count() > 80 { format!("{}...", e.chars().take(80).collect::<String>()) } else { e }
}

/// Whether `v` is one or more valid SPIFFE path segments, unchanged.
fn spiffe_path_value(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("it is empty".into());
    }
    if v.len() > MAX_CLAIM_VALUE {
        return Err(format!("it is longer than {MAX_CLAIM_VALUE} bytes"));
    }
    for seg in v.split('/') {
        if seg.is_empty() {
            return Err("it has an empty path segment (a leading, trailing or double '/')".into());
        }
        if seg == "." || seg == ".." {
            return Err(format!("it has a '{seg}' path segment"));
        }
        if let Some(c) = seg.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))) {
            return Err(format!(
                "'{}' is not a SPIFFE path character (letters, digits, '.', '-', '_')",
                c.escape_default()
            ));
        }
    }
    Ok(())
}

impl AttestSpec {
    /// Checks the policy against the profiles; `file` names pki.toml in messages.
    pub fn validate(&self, name: &str, file: &str, profile: &crate::policy::Profile) -> Result<Policy, String> {
        let at = format!("{file}: [attest.{name}]");
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(format!("{at}: a policy name is letters, digits, '-' and '_' (it is part of the URL)"));
        }
        if !profile.spiffe {
            return Err(format!(
                "{at} profile = \"{}\": attestation issues SVIDs, so the profile needs spiffe = true",
                self.profile
            ));
        }
        check_issuer(&self.issuer, self.insecure_loopback_issuer).map_err(|e| format!("{at} issuer: {e}"))?;
        if self.audience.is_empty() {
            return Err(format!("{at} audience: must not be empty"));
        }
        let algorithms: Vec<String> = if self.algorithms.is_empty() {
            DEFAULT_ALGORITHMS.iter().map(|s| s.to_string()).collect()
        } else {
            self.algorithms.clone()
        };
        for a in &algorithms {
            if !ALGORITHMS.contains(&a.as_str()) {
                return Err(format!(
                    "{at} algorithms: '{a}' is not allowed (public-key signatures only: {}; never none or HS*)",
                    ALGORITHMS.join(", ")
                ));
            }
        }
        let template = Template::parse(&self.spiffe_id).map_err(|e| format!("{at} spiffe_id: {e}"))?;
        let ttl = match &self.ttl {
            Some(t) => duration::parse_lifetime("ttl", t).map_err(|e| format!("{at} ttl: {e:#}"))?,
            None => profile.default_ttl,
        };
        if ttl > profile.max_ttl {
            return Err(format!(
                "{at} ttl = {}: longer than profile '{}' max_ttl {}",
                duration::show(ttl),
                profile.name,
                duration::show(profile.max_ttl)
            ));
        }
        let max_token_age = match &self.max_token_age {
            Some(t) => duration::parse("max_token_age", t).map_err(|e| format!("{at} max_token_age: {e:#}"))?,
            None => DEFAULT_MAX_TOKEN_AGE,
        };
        if max_token_age.is_zero() || max_token_age > Duration::from_secs(24 * 3600) {
            return Err(format!("{at} max_token_age: from 1s to 24h"));
        }
        let jwks_min_refetch = match &self.jwks_min_refetch {
            Some(t) => duration::parse("jwks_min_refetch", t).map_err(|e| format!("{at} jwks_min_refetch: {e:#}"))?,
            None => Duration::from_secs(60),
        };
        if jwks_min_refetch < Duration::from_secs(1) || jwks_min_refetch > Duration::from_secs(3600) {
            return Err(format!("{at} jwks_min_refetch: from 1s to 1h"));
        }
        let mut claims = BTreeMap::new();
        for (k, v) in &self.claims {
            let vals = v.values();
            if vals.is_empty() {
                return Err(format!("{at} claims.{k}: give at least one accepted value"));
            }
            claims.insert(k.clone(), vals);
        }
        Ok(Policy {
            name: name.to_string(),
            profile: self.profile.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            algorithms,
            jwks_file: self.jwks_file.clone(),
            issuer_ca_file: self.issuer_ca_file.clone(),
            template,
            claims,
            record: self.record.clone(),
            ttl,
            max_token_age,
            insecure_loopback_issuer: self.insecure_loopback_issuer,
            jwks_min_refetch,
        })
    }
}

/// An issuer is `https://host[:port][/path]`, or `http://` on loopback when explicitly
/// allowed; no query, fragment or user info.
pub fn check_issuer(iss: &str, insecure_loopback: bool) -> Result<(), String> {
    let rest = if let Some(r) = iss.strip_prefix("https://") {
        r
    } else if let Some(r) = iss.strip_prefix("http://") {
        let host = r.split('/').next().unwrap_or("");
        let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
        let loopback = matches!(host, "127.0.0.1" | "[::1]" | "localhost");
        if !loopback {
            return Err(format!("'{iss}' is not https:// (plain HTTP only on loopback, for tests)"));
        }
        if !insecure_loopback {
            return Err(format!("'{iss}' is plain HTTP: allowed only with insecure_loopback_issuer = true (tests)"));
        }
        r
    } else {
        return Err(format!("'{iss}' is not an https:// URL"));
    };
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', '@', ' ']) {
        return Err(format!("'{iss}' is not an issuer URL (a host, no query, fragment or user)"));
    }
    Ok(())
}

impl Policy {
    /// The claim conditions: every configured claim present with an accepted value.
    pub fn check_conditions(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Result<(), ClaimRefusal> {
        for (k, accepted) in &self.claims {
            match claim_text(claims, k) {
                None => {
                    return Err(ClaimRefusal {
                        rule: "claim-condition",
                        detail: format!("policy '{}' requires claim '{k}', which the token lacks", self.name),
                    });
                }
                Some(v) if !accepted.contains(&v) => {
                    return Err(ClaimRefusal {
                        rule: "claim-condition",
                        detail: format!(
                            "policy '{}' requires {k} = {}; the token has \"{}\"",
                            self.name,
                            accepted.iter().map(|a| format!("\"{}\"", shown(a))).collect::<Vec<_>>().join(" or "),
                            shown(&v)
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// What the ledger records of a token: iss, sub, jti, then the configured claims present.
    pub fn recorded(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
        let mut out = vec![];
        for k in ["iss", "sub", "jti"].into_iter().chain(self.record.iter().map(String::as_str)) {
            if out.iter().any(|(n, _): &(String, String)| n == k) {
                continue;
            }
            if let Some(v) = claim_text(claims, k) {
                let v: String = v.chars().filter(|c| !c.is_control()).take(MAX_CLAIM_VALUE).collect();
                out.push((k.to_string(), v));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn templates_fill_only_with_unchanged_path_values() {
        let t = Template::parse("spiffe://acme.internal/ci/github/{repository}/{ref}").unwrap();
        assert_eq!(t.claims(), vec!["repository", "ref"]);
        let ok = t.fill(&claims(serde_json::json!({"repository": "octo/app", "ref": "refs/heads/main"}))).unwrap();
        assert_eq!(ok, "spiffe://acme.internal/ci/github/octo/app/refs/heads/main");
        for bad in ["../x", "a/../b", "a%2fb", "a\nb", "a//b", "/a", "a/", ".", "A B", "é", ""] {
            let r = t.fill(&claims(serde_json::json!({"repository": bad, "ref": "main"}))).unwrap_err();
            assert_eq!(r.rule, "claim-not-spiffe-path", "{bad:?}: {r:?}");
            assert!(r.detail.contains("claim 'repository'"), "{r:?}");
        }
        let r = t.fill(&claims(serde_json::json!({"repository": "a"}))).unwrap_err();
        assert_eq!(r.rule, "claim-missing");
        let n = Template::parse("spiffe://acme.internal/gl/{project_id}").unwrap();
        assert_eq!(n.fill(&claims(serde_json::json!({"project_id": 42}))).unwrap(), "spiffe://acme.internal/gl/42");
    }

    #[test]
    fn bad_templates_and_issuers_are_refused() {
        for bad in [
            "https://x/{a}",
            "spiffe://{td}/x",
            "spiffe://acme.internal/{a b}",
            "spiffe://acme.internal/{a",
            "spiffe://acme.internal",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        assert!(check_issuer("https://token.actions.githubusercontent.com", false).is_ok());
        assert!(check_issuer("http://127.0.0.1:9000", false).is_err());
        assert!(check_issuer("http://127.0.0.1:9000", true).is_ok());
        assert!(check_issuer("http://example.com", true).is_err());
        assert!(check_issuer("https://a?b", false).is_err());
    }
}
