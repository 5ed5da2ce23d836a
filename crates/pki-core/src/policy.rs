//! Issuance policy: profiles from `pki.toml`, the checks every request passes before anything
//! is written (names, lifetime, key type, usages), SPIFFE X.509-SVID rules, and the issuing
//! CA's name constraints.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::certs::{check_dns_name, parse_cidr};
use crate::duration;

/// A profile as written in `[profiles.NAME]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// The CA this profile issues from.
    pub ca: Option<String>,
    /// The lifetime when none is asked for.
    pub default_ttl: Option<String>,
    /// The longest lifetime allowed.
    pub max_ttl: Option<String>,
    /// Allowed key types (empty: any).
    #[serde(default)]
    pub key_types: Vec<String>,
    /// Extended key usages: serverAuth, clientAuth.
    #[serde(default)]
    pub ext_key_usage: Vec<String>,
    /// Whether issued certificates are X.509-SVIDs (a SPIFFE ID is required).
    #[serde(default)]
    pub spiffe: bool,
    /// URI patterns a request's URIs must match.
    #[serde(default)]
    pub allowed_uris: Vec<String>,
    /// DNS patterns a request's names must match.
    #[serde(default)]
    pub allowed_dns: Vec<String>,
    /// IP ranges a request's addresses must be in.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// Whether wildcard DNS names are allowed.
    #[serde(default)]
    pub allow_wildcards: bool,
    /// A subject template.
    pub subject: Option<String>,
    /// Whether a certificate of this profile is expected to be renewed before it expires
    /// (default: yes, except for SPIFFE profiles, whose SVIDs are usually one-shot). The audit
    /// reports an expiring or expired short-lived certificate with no successor only then.
    pub expect_renewal: Option<bool>,
    /// Whether `pki serve` offers this profile as an ACME directory (`/acme/NAME/directory`).
    #[serde(default)]
    pub acme: bool,
    /// Whether that directory registers only accounts with an External Account Binding (keys
    /// from `pki acme eab add`).
    #[serde(default)]
    pub acme_eab: bool,
}

/// Key algorithms a profile can allow; pki generates p256, p384, ed25519 and rsa (3072-bit) keys; CSRs may bring any.
pub const KEY_TYPES: &[&str] = &["p256", "p384", "ed25519", "rsa"];
/// Extended key usages a profile can grant, in the names OpenSSL and RFC 5280 use.
pub const EKUS: &[&str] =
    &["serverAuth", "clientAuth", "codeSigning", "emailProtection", "timeStamping", "OCSPSigning"];

/// A profile checked and ready to apply.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// The CA it issues from.
    pub ca: Option<String>,
    /// The lifetime when none is asked for.
    pub default_ttl: Duration,
    /// The longest lifetime allowed.
    pub max_ttl: Duration,
    /// Allowed key types (empty: any).
    pub key_types: Vec<String>,
    /// Extended key usages.
    pub ext_key_usage: Vec<String>,
    /// Whether issued certificates are X.509-SVIDs.
    pub spiffe: bool,
    /// Whether its certificates are expected to be renewed before they expire.
    pub expect_renewal: bool,
    /// Whether `pki serve` offers it over ACME.
    pub acme: bool,
    /// Whether its ACME directory requires External Account Binding.
    pub acme_eab: bool,
    /// URI patterns a request's URIs must match.
    pub allowed_uris: Vec<String>,
    /// DNS patterns a request's names must match.
    pub allowed_dns: Vec<String>,
    /// IP ranges as written.
    pub allowed_ips: Vec<String>,
    /// IP ranges parsed (address, prefix length).
    #[serde(skip)]
    pub ip_nets: Vec<(IpAddr, u8)>,
    /// Whether wildcard DNS names are allowed.
    pub allow_wildcards: bool,
    /// The subject template.
    pub subject: Subject,
}

/// How the subject DN is formed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Subject {
    /// CN = the first SAN (a DNS name, else the URI when it fits in 64 characters, else empty).
    FromSan,
    /// A fixed DN, in order, with `{san}` replaced by the first SAN.
    Template(Vec<(String, String)>),
}

/// A rule a request broke: the profile, the setting (`allowed_dns`, `max_ttl`, ...) and why.
/// Scripts read `rule` from the JSON error object; people read the message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The profile's name.
    pub profile: String,
    /// The profile setting that refused it, as spelt in pki.toml (`spiffe` for the SVID shape).
    pub rule: &'static str,
    /// Why, in words.
    #[serde(skip)]
    pub why: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "profile '{}' refuses the request: {}", self.profile, self.why)
    }
}
impl std::error::Error for Refusal {}

/// Glob match where `*` matches one or more characters other than `sep`, and `**` matches
/// one or more of any character. Everything else matches itself (ASCII, case-sensitive).
pub fn glob_match(pattern: &str, text: &str, sep: u8) -> bool {
    fn go(p: &[u8], t: &[u8], sep: u8) -> bool {
        if p.is_empty() {
            return t.is_empty();
        }
        if p.starts_with(b"**") {
            return (1..=t.len()).any(|i| go(&p[2..], &t[i..], sep));
        }
        if p[0] == b'*' {
            let mut i = 0;
            while i < t.len() && t[i] != sep {
                i += 1;
                if go(&p[1..], &t[i..], sep) {
                    return true;
                }
            }
            return false;
        }
        !t.is_empty() && p[0] == t[0] && go(&p[1..], &t[1..], sep)
    }
    go(pattern.as_bytes(), text.as_bytes(), sep)
}

fn check_glob(pattern: &str, kind: &str) -> Result<(), String> {
    if pattern.is_empty()
        || !pattern.is_ascii()
        || pattern.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!("'{pattern}' is not a valid {kind} pattern (empty, non-ASCII or with spaces)"));
    }
    if pattern.contains("***") || pattern.contains('[') || pattern.contains('?') {
        return Err(format!(
            "'{pattern}' is not a valid {kind} pattern: only * (one {kind} part) and ** (anything) are wildcards"
        ));
    }
    Ok(())
}

impl ProfileSpec {
    /// Checks the profile's own rules; `at` names the file and key for the message, which is
    /// one line whatever the values it quotes hold (control characters are escaped).
    pub fn validate(&self, name: &str, at: &str) -> Result<Profile, String> {
        self.validate_inner(name, at).map_err(|m| {
            m.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] }).collect()
        })
    }

    fn validate_inner(&self, name: &str, at: &str) -> Result<Profile, String> {
        let key = |k: &str| format!("{at}: [profiles.{name}] {k}");
        let ttl = |k: &str, v: &Option<String>, dflt: &str| -> Result<Duration, String> {
            duration::parse_lifetime(k, v.as_deref().unwrap_or(dflt)).map_err(|e| format!("{}: {e}", key(k)))
        };
        let default_ttl = ttl("default_ttl", &self.default_ttl, "24h")?;
        let max_ttl = ttl("max_ttl", &self.max_ttl, self.default_ttl.as_deref().unwrap_or("24h"))?;
        if default_ttl > max_ttl {
            return Err(format!("{}: default_ttl is longer than max_ttl", key("default_ttl")));
        }
        for k in &self.key_types {
            if !KEY_TYPES.contains(&k.as_str()) {
                return Err(format!("{}: unknown key type '{k}' (known: {})", key("key_types"), KEY_TYPES.join(", ")));
            }
        }
        let mut ekus = vec![];
        for e in &self.ext_key_usage {
            match EKUS.iter().find(|k| k.eq_ignore_ascii_case(e)) {
                Some(k) => ekus.push(k.to_string()),
                None => {
                    return Err(format!("{}: unknown usage '{e}' (known: {})", key("ext_key_usage"), EKUS.join(", ")));
                }
            }
        }
        for p in &self.allowed_dns {
            check_glob(p, "DNS").map_err(|e| format!("{}: {e}", key("allowed_dns")))?;
            let literal = p.replace("**", "x").replace('*', "x");
            check_dns_name(&literal, false).map_err(|e| format!("{}: '{p}': {e}", key("allowed_dns")))?;
        }
        for p in &self.allowed_uris {
            check_glob(p, "URI").map_err(|e| format!("{}: {e}", key("allowed_uris")))?;
            if !p.contains("://") {
                return Err(format!(
                    "{}: '{p}' needs a scheme, e.g. spiffe://acme.internal/agent/*",
                    key("allowed_uris")
                ));
            }
            if self.spiffe && !p.starts_with("spiffe://") {
                return Err(format!(
                    "{}: '{p}' is not a SPIFFE ID pattern but the profile has spiffe = true",
                    key("allowed_uris")
                ));
            }
        }
        if self.acme && self.spiffe {
            // RFC 8555 identifiers are DNS names and IP addresses (RFC 8738); a SPIFFE ID has no
            // identifier type and no ACME challenge proves control of one.
            return Err(format!(
                "{}: a SPIFFE profile is not offered over ACME (ACME has no identifier type for SPIFFE IDs): issue SVIDs with `pki issue` or attestation",
                key("acme")
            ));
        }
        if self.acme_eab && !self.acme {
            return Err(format!("{}: acme_eab needs acme = true", key("acme_eab")));
        }
        let mut ip_nets = vec![];
        for c in &self.allowed_ips {
            ip_nets.push(parse_cidr("allowed_ips", c).map_err(|e| format!("{}: {e}", key("allowed_ips")))?);
        }
        let subject = match self.subject.as_deref() {
            None | Some("from-san") => Subject::FromSan,
            Some(t) => Subject::Template(parse_dn_template(t).map_err(|e| format!("{}: {e}", key("subject")))?),
        };
        Ok(Profile {
            name: name.to_string(),
            ca: self.ca.clone(),
            default_ttl,
            max_ttl,
            key_types: if self.key_types.is_empty() {
                vec!["p256".into(), "ed25519".into()]
            } else {
                self.key_types.clone()
            },
            ext_key_usage: if ekus.is_empty() { vec!["serverAuth".into(), "clientAuth".into()] } else { ekus },
            spiffe: self.spiffe,
            expect_renewal: self.expect_renewal.unwrap_or(!self.spiffe),
            acme: self.acme,
            acme_eab: self.acme_eab,
            // Patterns in the form names are compared in (certs::canonical_uri, add_dns): scheme
            // and host lower case, no trailing dot.
            allowed_uris: self.allowed_uris.iter().map(|u| canonical_pattern(u)).collect(),
            allowed_dns: self.allowed_dns.iter().map(|d| d.trim_end_matches('.').to_ascii_lowercase()).collect(),
            allowed_ips: self.allowed_ips.clone(),
            ip_nets,
            allow_wildcards: self.allow_wildcards,
            subject,
        })
    }
}

const DN_ATTRS: &[&str] = &["CN", "O", "OU", "C", "L", "ST"];

fn parse_dn_template(t: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = vec![];
    for part in t.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("'{t}' is neither \"from-san\" nor a DN template such as \"CN={{san}},O=Acme\""))?;
        let k = k.trim().to_ascii_uppercase();
        if !DN_ATTRS.contains(&k.as_str()) {
            return Err(format!("unknown attribute '{k}' in '{t}' (known: {})", DN_ATTRS.join(", ")));
        }
        let v = v.trim();
        if v.is_empty() || v.chars().count() > 64 {
            return Err(format!("attribute {k} in '{}' must have 1-64 characters", t.escape_debug()));
        }
        crate::certs::check_subject_text(v).map_err(|e| format!("attribute {k} in '{}': {e}", t.escape_debug()))?;
        out.push((k, v.to_string()));
    }
    Ok(out)
}

/// What a request asks for, before it becomes a certificate.
#[derive(Debug, Clone)]
pub struct Request {
    /// The common name asked for.
    pub cn: Option<String>,
    /// DNS names.
    pub dns: Vec<String>,
    /// IP addresses.
    pub ips: Vec<IpAddr>,
    /// URIs.
    pub uris: Vec<String>,
    /// The subject key's type.
    pub key_type: String,
    /// The lifetime asked for.
    pub ttl: Option<Duration>,
    /// Usages a CSR asked for (None: it asked for none, the profile decides).
    pub csr_ekus: Option<Vec<String>>,
}

impl Profile {
    /// Checks a request against the profile. Returns the lifetime to use.
    pub fn check(&self, req: &Request, clip_ttl: bool) -> Result<Duration, Refusal> {
        let refusal = |(rule, why): (&'static str, String)| Refusal { profile: self.name.clone(), rule, why };
        let r = |rule: &'static str, why: String| refusal((rule, why));
        if let Some(m) = self.key_type_refusal(&req.key_type) {
            return Err(refusal(m));
        }
        let names = req.dns.iter().map(|d| self.dns_refusal(d));
        let names = names.chain(req.ips.iter().map(|ip| self.ip_refusal(ip)));
        if let Some(m) = names.chain(req.uris.iter().map(|u| self.uri_refusal(u))).flatten().next() {
            return Err(refusal(m));
        }
        if self.spiffe {
            if req.uris.len() != 1 {
                return Err(r(
                    "spiffe",
                    format!(
                        "an X.509-SVID has exactly one URI SAN (the SPIFFE ID); the request has {}",
                        req.uris.len()
                    ),
                ));
            }
            check_spiffe_id(&req.uris[0], false)
                .map_err(|e| r("spiffe", format!("'{}' is not a valid SPIFFE ID: {e}", req.uris[0])))?;
        }
        if let Some(ekus) = &req.csr_ekus {
            for e in ekus {
                if !self.ext_key_usage.contains(e) {
                    return Err(r(
                        "ext_key_usage",
                        format!("the CSR asks for usage {e}, not in ext_key_usage [{}]", self.ext_key_usage.join(", ")),
                    ));
                }
            }
        }
        if let (Subject::Template(t), Some(cn)) = (&self.subject, &req.cn)
            && !t.iter().any(|(k, v)| k == "CN" && (v == cn || v == "{san}"))
        {
            return Err(r("subject", format!("the subject is fixed by the profile; --cn '{cn}' is not allowed")));
        }
        if let (Subject::FromSan, Some(cn)) = (&self.subject, &req.cn) {
            let names: Vec<String> = req
                .dns
                .iter()
                .cloned()
                .chain(req.uris.iter().cloned())
                .chain(req.ips.iter().map(|i| i.to_string()))
                .collect();
            if !names.iter().any(|n| n.eq_ignore_ascii_case(cn)) {
                return Err(r(
                    "subject",
                    format!("CN '{cn}' must be one of the certificate's names (subject = \"from-san\")"),
                ));
            }
        }
        let ttl = req.ttl.unwrap_or(self.default_ttl);
        if ttl > self.max_ttl {
            if clip_ttl {
                return Ok(self.max_ttl);
            }
            return Err(r(
                "max_ttl",
                format!(
                    "lifetime {} is longer than max_ttl {} (ask for less, or pass --clip-ttl)",
                    crate::duration::show_for_people(ttl),
                    crate::duration::show(self.max_ttl)
                ),
            ));
        }
        Ok(ttl)
    }

    fn key_type_refusal(&self, key_type: &str) -> Option<(&'static str, String)> {
        (!self.key_types.iter().any(|k| k == key_type))
            .then(|| ("key_types", format!("key type {key_type} is not in key_types [{}]", self.key_types.join(", "))))
    }

    fn dns_refusal(&self, d: &str) -> Option<(&'static str, String)> {
        if d.starts_with("*.") && !self.allow_wildcards {
            return Some(("allow_wildcards", format!("wildcard DNS name '{d}' needs allow_wildcards = true")));
        }
        (!self.allowed_dns.iter().any(|p| glob_match(p, d, b'.'))).then(|| {
            ("allowed_dns", format!("DNS name '{d}' matches none of allowed_dns [{}]", self.allowed_dns.join(", ")))
        })
    }

    fn ip_refusal(&self, ip: &IpAddr) -> Option<(&'static str, String)> {
        (!self.ip_nets.iter().any(|(net, len)| ip_in(ip, net, *len))).then(|| {
            ("allowed_ips", format!("IP address {ip} is in none of allowed_ips [{}]", self.allowed_ips.join(", ")))
        })
    }

    fn uri_refusal(&self, u: &str) -> Option<(&'static str, String)> {
        (!self.allowed_uris.iter().any(|p| glob_match(p, u, b'/'))).then(|| {
            ("allowed_uris", format!("URI '{u}' matches none of allowed_uris [{}]", self.allowed_uris.join(", ")))
        })
    }

    /// Whether a lifetime from `issued_at` (Unix time) is longer than max_ttl as issuance counts
    /// it: a whole number of years ends on the same calendar date (`certs::not_after`), so a
    /// year across 29 February is 366 days and still within `max_ttl = "1y"`. The calendar is
    /// consulted only for a lifetime above max_ttl in seconds (the audit's common case is not).
    fn outlasts_max(&self, issued_at: i64, lifetime: Duration) -> bool {
        if lifetime <= self.max_ttl {
            return false;
        }
        let end = time::OffsetDateTime::from_unix_timestamp(issued_at)
            .ok()
            .and_then(|start| crate::certs::not_after(start, self.max_ttl).ok());
        end.is_none_or(|end| issued_at.saturating_add(lifetime.as_secs() as i64) > end.unix_timestamp())
    }

    /// Why this profile, as it stands today, would refuse a certificate it issued earlier
    /// (names as the inventory keeps them, `DNS:x` / `IP:x` / `URI:x`); None if it would not.
    /// Works on borrowed text: an audit runs it over every valid certificate. `issued_at` is the
    /// Unix time the certificate was issued (notBefore plus the backdating).
    pub fn refuses_issued<'a>(
        &self,
        key_type: &str,
        sans: impl Iterator<Item = &'a str>,
        issued_at: i64,
        lifetime: Duration,
    ) -> Option<String> {
        if let Some((_, m)) = self.key_type_refusal(key_type) {
            return Some(m);
        }
        let mut uris = 0;
        for san in sans {
            let m = if let Some(d) = san.strip_prefix("DNS:") {
                self.dns_refusal(d).map(|(_, m)| m)
            } else if let Some(ip) = san.strip_prefix("IP:") {
                match ip.parse::<IpAddr>() {
                    Ok(ip) => self.ip_refusal(&ip).map(|(_, m)| m),
                    Err(_) => Some(format!("'{ip}' is not an IP address")),
                }
            } else if let Some(u) = san.strip_prefix("URI:") {
                uris += 1;
                self.uri_refusal(u).map(|(_, m)| m)
            } else {
                None
            };
            if m.is_some() {
                return m;
            }
        }
        if self.spiffe && uris != 1 {
            return Some(format!("an X.509-SVID has exactly one URI SAN; this certificate has {uris}"));
        }
        self.outlasts_max(issued_at, lifetime).then(|| {
            format!(
                "its lifetime {} is longer than max_ttl {}",
                crate::duration::show(lifetime),
                crate::duration::show(self.max_ttl)
            )
        })
    }

    /// The subject DN for a request (attribute, value) in order; may be empty.
    pub fn subject_for(&self, first_san: &str, dns_first: Option<&str>) -> Vec<(String, String)> {
        match &self.subject {
            // Only a DNS name goes into the CN: verifiers that still read the CN take it for a
            // host name (OpenSSL checks it against DNS name constraints), so an IP address or a
            // URI there fails chains they would otherwise accept. Without one, the subject is
            // empty and the SAN extension critical (RFC 5280 §4.2.1.6).
            Subject::FromSan => match dns_first {
                Some(cn) if cn.chars().count() <= 64 => vec![("CN".into(), cn.to_string())],
                _ => vec![],
            },
            Subject::Template(t) => t.iter().map(|(k, v)| (k.clone(), v.replace("{san}", first_san))).collect(),
        }
    }
}

/// A URI pattern with its scheme and host lower-cased, as [`crate::certs::canonical_uri`]
/// writes names (the path keeps its case).
fn canonical_pattern(p: &str) -> String {
    let Some((scheme, rest)) = p.split_once(':') else { return p.to_string() };
    match rest.strip_prefix("//") {
        Some(after) => {
            let (auth, path) = after.find('/').map_or((after, ""), |i| (&after[..i], &after[i..]));
            format!("{}://{}{path}", scheme.to_ascii_lowercase(), auth.trim_end_matches('.').to_ascii_lowercase())
        }
        None => format!("{}:{rest}", scheme.to_ascii_lowercase()),
    }
}

/// Whether `ip` is inside `net`/`len`.
pub fn ip_in(ip: &IpAddr, net: &IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len as u32) };
            (u32::from(*a) & m) == (u32::from(*n) & m)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = if len == 0 { 0 } else { u128::MAX << (128 - len as u32) };
            (u128::from(*a) & m) == (u128::from(*n) & m)
        }
        _ => false,
    }
}

/// SPIFFE ID syntax (SPIFFE-ID specification, section 2): `spiffe://trust-domain/path`, trust
/// domain of lower-case letters, digits, '.', '-', '_'; path segments of letters, digits,
/// '.', '-', '_', none empty, '.' or '..'; no query, fragment, port or user info. A leaf's ID
/// has a path; a CA's (`for_ca`) has none.
pub fn check_spiffe_id(id: &str, for_ca: bool) -> Result<(), String> {
    let rest = id.strip_prefix("spiffe://").ok_or("the scheme must be spiffe:// (lower case)")?;
    if id.len() > 2048 {
        return Err("longer than 2048 bytes".into());
    }
    let (td, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if td.is_empty() {
        return Err("the trust domain is empty".into());
    }
    if td.len() > 255 || !td.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b)) {
        return Err(
            "the trust domain may contain only lower-case letters, digits, '.', '-' and '_' (no port or user info)"
                .into(),
        );
    }
    if for_ca {
        if !path.is_empty() {
            return Err("a CA's SPIFFE ID has no path".into());
        }
        return Ok(());
    }
    if path.is_empty() || path == "/" {
        return Err("a workload's SPIFFE ID needs a path, e.g. spiffe://acme.internal/agent/42".into());
    }
    for seg in path[1..].split('/') {
        if seg.is_empty() {
            return Err("the path has an empty segment (// or a trailing /)".into());
        }
        if seg == "." || seg == ".." {
            return Err("the path has a '.' or '..' segment".into());
        }
        if !seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
            return Err(format!(
                "path segment '{seg}' may contain only letters, digits, '.', '-' and '_' (no query or fragment)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> Result<Profile, String> {
        let s: ProfileSpec = toml::from_str(toml_text).unwrap();
        s.validate("p", "pki.toml")
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.svc.acme.internal", "api.svc.acme.internal", b'.'));
        assert!(!glob_match("*.svc.acme.internal", "a.b.svc.acme.internal", b'.'));
        assert!(glob_match("**.svc.acme.internal", "a.b.svc.acme.internal", b'.'));
        assert!(!glob_match("*.svc.acme.internal", "svc.acme.internal", b'.'));
        assert!(glob_match("spiffe://acme.internal/agent/*", "spiffe://acme.internal/agent/42", b'/'));
        assert!(!glob_match("spiffe://acme.internal/agent/*", "spiffe://acme.internal/agent/42/x", b'/'));
        assert!(!glob_match("spiffe://acme.internal/agent/*", "spiffe://acme.internal/admin/1", b'/'));
        assert!(glob_match("exact.acme.internal", "exact.acme.internal", b'.'));
    }

    #[test]
    fn spiffe_ids() {
        assert!(check_spiffe_id("spiffe://acme.internal/agent/42", false).is_ok());
        for bad in [
            "spiffe://acme.internal",
            "spiffe://acme.internal/",
            "SPIFFE://acme.internal/a",
            "spiffe://Acme.internal/a",
            "spiffe://acme.internal:80/a",
            "spiffe://acme.internal/a//b",
            "spiffe://acme.internal/a/../b",
            "spiffe://acme.internal/a?x=1",
            "https://acme.internal/a",
        ] {
            assert!(check_spiffe_id(bad, false).is_err(), "{bad}");
        }
        assert!(check_spiffe_id("spiffe://acme.internal", true).is_ok());
    }

    #[test]
    fn invalid_profiles_name_file_and_key() {
        let e = spec("allowed_dns = [\"*.a b\"]").unwrap_err();
        assert!(e.starts_with("pki.toml: [profiles.p] allowed_dns"), "{e}");
        let e = spec("ext_key_usage = [\"serverauthx\"]").unwrap_err();
        assert!(e.contains("ext_key_usage") && e.contains("unknown usage"), "{e}");
        let e = spec("max_ttl = \"1h\"\ndefault_ttl = \"2h\"").unwrap_err();
        assert!(e.contains("default_ttl is longer than max_ttl"), "{e}");
        let e = spec("key_types = [\"dsa\"]").unwrap_err();
        assert!(e.contains("unknown key type 'dsa'"), "{e}");
        let e = spec("spiffe = true\nallowed_uris = [\"https://x/*\"]").unwrap_err();
        assert!(e.contains("not a SPIFFE ID pattern"), "{e}");
        let e = spec("subject = \"XX=1\"").unwrap_err();
        assert!(e.contains("unknown attribute 'XX'"), "{e}");
    }

    #[test]
    fn requests_are_checked_rule_by_rule() {
        let p = spec(
            "max_ttl = \"24h\"\ndefault_ttl = \"1h\"\nspiffe = true\nallowed_uris = [\"spiffe://acme.internal/agent/*\"]\nallowed_ips = [\"10.0.0.0/8\"]",
        )
        .unwrap();
        let ok = Request {
            cn: None,
            dns: vec![],
            ips: vec![],
            uris: vec!["spiffe://acme.internal/agent/1".into()],
            key_type: "p256".into(),
            ttl: None,
            csr_ekus: None,
        };
        assert_eq!(p.check(&ok, false).unwrap(), Duration::from_secs(3600));
        let mut r = ok.clone();
        r.ttl = Some(Duration::from_secs(48 * 3600));
        let e = p.check(&r, false).unwrap_err();
        assert!(e.why.contains("longer than max_ttl") && e.rule == "max_ttl", "{e:?}");
        assert_eq!(p.check(&r, true).unwrap(), Duration::from_secs(24 * 3600));
        let mut r = ok.clone();
        r.uris = vec!["spiffe://acme.internal/admin/1".into()];
        let e = p.check(&r, false).unwrap_err();
        assert!(e.why.contains("allowed_uris") && e.rule == "allowed_uris", "{e:?}");
        let mut r = ok.clone();
        r.dns = vec!["x.acme.internal".into()];
        let e = p.check(&r, false).unwrap_err();
        assert!(e.why.contains("allowed_dns") && e.rule == "allowed_dns", "{e:?}");
        let mut r = ok.clone();
        r.ips = vec!["192.168.1.1".parse().unwrap()];
        let e = p.check(&r, false).unwrap_err();
        assert!(e.why.contains("allowed_ips") && e.rule == "allowed_ips", "{e:?}");
        let mut r = ok.clone();
        r.key_type = "rsa".into();
        let e = p.check(&r, false).unwrap_err();
        assert!(e.why.contains("key_types") && e.rule == "key_types", "{e:?}");
        let mut r = ok;
        r.csr_ekus = Some(vec!["codeSigning".into()]);
        let e = p.check(&r, false).unwrap_err();
        assert!(e.why.contains("codeSigning") && e.rule == "ext_key_usage", "{e:?}");
    }
}
