//! The settings file `pki.toml`: human-edited TOML with defaults, per-CA settings and profiles.
//!
//! Read with serde (unknown keys are errors, so a typo is reported with its line), and changed
//! with toml_edit so that a person's comments and ordering survive `pki create-intermediate`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::duration;
use crate::keys::KeyType;
use crate::policy::{Profile, ProfileSpec};

// Every key is parsed (and unknown keys refused) on each run so that a typo is reported at once.
/// `pki.toml`: defaults, the CAs' settings and the profiles.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[defaults]`.
    #[serde(default)]
    pub defaults: Defaults,
    /// `[ca.NAME]`, by name.
    #[serde(default)]
    pub ca: BTreeMap<String, CaSettings>,
    /// Issuance profiles, enforced by `pki issue --profile NAME`.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileSpec>,
    /// `[serve]`: what `pki serve` does when its flags do not say.
    #[serde(default)]
    pub serve: ServeSettings,
    /// `[attest.NAME]`: OIDC tokens `pki serve` trades for SVIDs ([`crate::attest`]).
    #[serde(default)]
    pub attest: BTreeMap<String, crate::attest::AttestSpec>,
}

/// `[serve]`: the defaults of `pki serve`'s flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// The plain-HTTP listener (`--http`), e.g. "127.0.0.1:8080".
    pub http: Option<String>,
    /// How often the directory is checked for changes (`--poll`), e.g. "1s".
    pub poll: Option<String>,
    /// Intermediates whose CRLs serve keeps fresh (`--ca`), their keys unlocked at start.
    #[serde(default)]
    pub cas: Vec<String>,
    /// The HTTPS listener (`--https`), e.g. "127.0.0.1:8443".
    pub https: Option<String>,
    /// The CA serve issues its own HTTPS certificate from (`--tls-ca`).
    pub tls_ca: Option<String>,
    /// The profile that certificate is checked against (`--tls-profile`; default: the default
    /// profile).
    pub tls_profile: Option<String>,
    /// DNS names the HTTPS certificate carries besides the listen address (`--tls-name`).
    #[serde(default)]
    pub tls_names: Vec<String>,
    /// The HTTPS certificate's lifetime (`--tls-ttl`, default 24h); renewed with a third left.
    pub tls_ttl: Option<String>,
    /// A certificate chain file to present instead (`--tls-cert`), re-read when it changes.
    pub tls_cert: Option<PathBuf>,
    /// Its key (`--tls-key`), unencrypted.
    pub tls_key: Option<PathBuf>,
    /// `[serve.acme]`: how ACME validates (profiles opt in with `acme = true`).
    #[serde(default)]
    pub acme: AcmeSettings,
    /// `[serve.ui]`: the read-only page at `/ui/`.
    #[serde(default)]
    pub ui: UiSettings,
}

/// `[serve.ui]`: who may see the read-only page `/ui/`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiSettings {
    /// Serve `/ui/` at all (default true).
    pub enabled: Option<bool>,
    /// A listener bound to a loopback address serves it without credentials (default true; set
    /// false when a proxy on this host forwards others' requests to serve).
    pub open_on_loopback: Option<bool>,
    /// A file holding the token that opens the page elsewhere (`Authorization: Bearer`, or as a
    /// browser's Basic-auth password); at least 20 characters.
    pub token_file: Option<PathBuf>,
    /// Profiles whose client certificates open the page over HTTPS (mutual TLS).
    #[serde(default)]
    pub client_profiles: Vec<String>,
    /// The expiry window of the page's findings and expiring list (default 30d).
    pub window: Option<String>,
}

/// `[serve.acme]`: the defaults of `pki serve`'s `--acme-*` flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeSettings {
    /// The port http-01 validation connects to (`--acme-http01-port`, default 80).
    pub http01_port: Option<u16>,
    /// The port tls-alpn-01 validation connects to (`--acme-tlsalpn01-port`, default 443).
    pub tlsalpn01_port: Option<u16>,
    /// The DNS server names are resolved through (`--acme-dns-resolver`, IP:PORT; default:
    /// the system's resolver).
    pub dns_resolver: Option<String>,
    /// The base URL clients reach serve at, when behind a proxy (`--acme-base-url`; default:
    /// `https://` and the request's Host).
    pub base_url: Option<String>,
}

/// `[defaults]`: what applies when a flag is not given.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The CA `pki issue` uses when `--ca` is not given.
    pub ca: Option<String>,
    /// The profile `pki issue` applies when `--profile` is not given.
    pub profile: Option<String>,
    // Written by `pki init` for people (and the subjects it made); read by no command yet.
    /// The organisation written into new subjects.
    #[allow(dead_code)]
    pub organization: Option<String>,
    /// The SPIFFE trust domain.
    #[allow(dead_code)]
    pub trust_domain: Option<String>,
    /// The key type of new keys.
    pub key_type: Option<KeyType>,
    /// The lifetime of leaves when neither flag nor profile gives one.
    pub leaf_ttl: Option<String>,
    /// Where this directory's CRLs and CA certificates are published (`http://pki.acme.internal`):
    /// a new CA's `crl_url` and `ca_issuers_url` are made from it ([`publication_urls`]), and
    /// `pki serve` serves under it.
    pub base_url: Option<String>,
}

/// `[ca.NAME]`: one CA's settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaSettings {
    /// The CA that signed this one (absent for a root). Informational: chains are built from
    /// the certificates themselves.
    #[allow(dead_code)]
    pub parent: Option<String>,
    /// The lifetime of leaves from this CA when nothing else gives one.
    pub default_ttl: Option<String>,
    /// The CRL distribution point written into certificates it issues.
    pub crl_url: Option<String>,
    /// The CA issuers URL written into certificates it issues.
    pub ca_issuers_url: Option<String>,
    /// The OCSP responder URL written into certificates it issues (AIA id-ad-ocsp).
    pub ocsp_url: Option<String>,
    /// How long an OCSP response of this CA is good for (nextUpdate - thisUpdate; default 1h,
    /// never past the CA's current CRL's nextUpdate).
    pub ocsp_next_update: Option<String>,
    /// Who signs this CA's OCSP responses in `pki serve`: "delegated" (default: a short-lived
    /// responder certificate serve issues from the CA) or "ca" (the CA's key itself).
    pub ocsp_signer: Option<String>,
    /// Lifetime of this CA's CRLs (default 7d; 30d for a root).
    pub next_update: Option<String>,
    /// File with this CA key's passphrase, for cron (`gen-crl --all`); else the usual sources.
    pub passphrase_file: Option<std::path::PathBuf>,
    /// The SPIFFE trust domain of a CA made for SPIRE (`create-intermediate --for-spire`): SPIRE
    /// signs with its key (exported in clear by `pki export NAME --spire DIR`), pki never does.
    pub spire_trust_domain: Option<String>,
    /// SPIRE's `ca_ttl` under this CA (default 24h): audit warns when the CA has less left.
    pub spire_ca_ttl: Option<String>,
}

impl<'de> Deserialize<'de> for KeyType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KeyType::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown key type '{s}' (expected {})", KeyType::CHOICES)))
    }
}

impl Settings {
    /// Parses `pki.toml`; `file` names it in messages.
    pub fn parse(text: &str, file: &str) -> Result<Settings> {
        let s: Settings = toml::from_str(text).map_err(|e| {
            // toml's message spans several lines; keep the one-line summary with its position.
            let msg = e.message().to_string();
            let line = e.span().map(|sp| text[..sp.start.min(text.len())].matches('\n').count() + 1);
            match line {
                Some(l) => anyhow::anyhow!("{file} line {l}: {msg}"),
                None => anyhow::anyhow!("{file}: {msg}"),
            }
        })?;
        if let Some(o) = &s.defaults.organization {
            crate::certs::check_subject_text(o).map_err(|e| anyhow::anyhow!("{file}: [defaults] organization: {e}"))?;
        }
        if let Some(t) = &s.defaults.leaf_ttl {
            duration::parse_lifetime("leaf_ttl", t).with_context(|| format!("{file}: [defaults] leaf_ttl"))?;
        }
        for (name, p) in &s.profiles {
            p.validate(name, file).map_err(|e| anyhow::anyhow!(e))?;
        }
        if let Some(p) = &s.defaults.profile
            && !s.profiles.contains_key(p)
        {
            anyhow::bail!("{file}: [defaults] profile = \"{p}\" names no [profiles.{p}] section");
        }
        for (name, ca) in &s.ca {
            if let Some(t) = &ca.next_update {
                duration::parse_lifetime("next_update", t)
                    .with_context(|| format!("{file}: [ca.{name}] next_update"))?;
            }
            if let Some(t) = &ca.ocsp_next_update {
                duration::parse_lifetime("ocsp_next_update", t)
                    .with_context(|| format!("{file}: [ca.{name}] ocsp_next_update"))?;
            }
            if let Some(m) = &ca.ocsp_signer
                && m != "delegated"
                && m != "ca"
            {
                anyhow::bail!("{file}: [ca.{name}] ocsp_signer = \"{m}\": expected \"delegated\" or \"ca\"");
            }
            for (k, u) in [("crl_url", &ca.crl_url), ("ca_issuers_url", &ca.ca_issuers_url), ("ocsp_url", &ca.ocsp_url)]
            {
                if let Some(u) = u
                    && crate::certs::check_uri(u).is_err()
                {
                    anyhow::bail!("{file}: [ca.{name}] {k} = \"{u}\" is not a URL");
                }
            }
            if let Some(t) = &ca.default_ttl {
                duration::parse_lifetime("default_ttl", t)
                    .with_context(|| format!("{file}: [ca.{name}] default_ttl"))?;
            }
        }
        for name in s.attest.keys() {
            s.attest_policy(name, file)?;
        }
        Ok(s)
    }
}

impl Settings {
    /// Attestation policy `name`, checked against its profile.
    pub fn attest_policy(&self, name: &str, file: &str) -> Result<crate::attest::Policy> {
        let spec = self.attest.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.attest.keys().map(String::as_str).collect();
            anyhow::anyhow!(
                "no attestation policy named '{name}' in {file} (known: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )
        })?;
        let profile =
            self.profile(&spec.profile, file).map_err(|e| anyhow::anyhow!("{file}: [attest.{name}] profile: {e:#}"))?;
        spec.validate(name, file, &profile).map_err(|e| anyhow::anyhow!(e))
    }

    /// The file `[ca.NAME] passphrase_file` names for CA `ca`'s key, if any (tried before the
    /// other passphrase sources).
    pub fn passphrase_file(&self, ca: &str) -> Option<&std::path::Path> {
        self.ca.get(ca).and_then(|c| c.passphrase_file.as_deref())
    }

    /// A profile by name, checked; `file` names the settings file in messages.
    pub fn profile(&self, name: &str, file: &str) -> Result<Profile> {
        let spec = self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            anyhow::anyhow!(
                "no profile named '{name}' in {file} (known: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )
        })?;
        spec.validate(name, file).map_err(|e| anyhow::anyhow!(e))
    }
}

/// The settings file `pki init-root` writes: commented, so a person knows what to edit.
pub fn initial_text(root: &str, org: Option<&str>, trust_domain: Option<&str>) -> String {
    let mut s = String::from(
        "# pki settings: edit freely; `pki` reads this file on every run.\n\
         # Durations: 90m, 1h, 30d, 10y. Key types: p256, p384, ed25519, rsa3072.\n\n[defaults]\n",
    );
    s.push_str("# ca = \"issuing\"        # CA used by `pki issue` without --ca (default: the only intermediate)\n");
    s.push_str("# profile = \"server\"    # profile applied by `pki issue` without --profile (none: no policy)\n");
    if let Some(o) = org {
        s.push_str(&format!("organization = {}\n", toml_str(o)));
    }
    if let Some(t) = trust_domain {
        s.push_str(&format!("trust_domain = {}\n", toml_str(t)));
    }
    s.push_str("leaf_ttl = \"24h\"          # lifetime of a leaf when neither --ttl nor the CA says otherwise\n");
    s.push_str("key_type = \"p256\"\n\n");
    s.push_str(&format!("[ca.{root}]\n"));
    s
}

fn toml_str(s: &str) -> String {
    toml_edit::value(s).to_string().trim().to_string()
}

/// Adds `[ca.NAME]` (with its parent) to the settings text, keeping everything else as it is.
/// Marks CA `name` as SPIRE's upstream in `[ca.NAME]`: its trust domain and SPIRE's ca_ttl.
pub fn set_spire(text: &str, name: &str, trust_domain: &str, ca_ttl: &str) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("pki.toml is not valid TOML")?;
    let t = doc
        .get_mut("ca")
        .and_then(|c| c.get_mut(name))
        .and_then(|t| t.as_table_mut())
        .with_context(|| format!("pki.toml has no [ca.{name}]"))?;
    t["spire_trust_domain"] = toml_edit::value(trust_domain);
    t["spire_ca_ttl"] = toml_edit::value(ca_ttl);
    Ok(doc.to_string())
}

/// Adds `[ca.NAME]` (with its parent and default leaf lifetime) to the settings text.
pub fn add_ca(text: &str, name: &str, parent: Option<&str>, default_ttl: Option<&str>) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("pki.toml is not valid TOML")?;
    let cas = doc
        .entry("ca")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .context("pki.toml: `ca` must be a table")?;
    let mut t = toml_edit::Table::new();
    if let Some(p) = parent {
        t["parent"] = toml_edit::value(p);
    }
    if let Some(ttl) = default_ttl {
        t["default_ttl"] = toml_edit::value(ttl);
    }
    cas.insert(name, toml_edit::Item::Table(t));
    Ok(doc.to_string())
}

/// Checks a base URL for publication: `http://` or `https://`, a host, no query, fragment,
/// user info or percent-encoding ([`crate::certs::canonical_uri`]); returned canonical, without
/// a trailing '/'.
pub fn check_base_url(url: &str) -> Result<String, crate::PkiError> {
    let bad = |why: String| crate::PkiError::BadName { kind: "base URL", value: url.to_string(), why };
    let c = crate::certs::canonical_uri(url.trim()).map_err(bad)?;
    if !(c.starts_with("http://") || c.starts_with("https://")) {
        return Err(bad("relying parties fetch CRLs and CA certificates over http:// (or https://)".into()));
    }
    Ok(c.trim_end_matches('/').to_string())
}

/// The URLs under `base` where CA `name`'s CRL, certificate and OCSP responder are, as `pki
/// serve` serves them: `BASE/crl/NAME.crl` and `BASE/ca/NAME.crt` (both DER), `BASE/ocsp/NAME`.
pub fn publication_urls(base: &str, name: &str) -> (String, String, String) {
    (format!("{base}/crl/{name}.crl"), format!("{base}/ca/{name}.crt"), format!("{base}/ocsp/{name}"))
}

/// Sets `[ca.NAME] crl_url`, `ca_issuers_url` and `ocsp_url` from `base` ([`publication_urls`]).
pub fn set_publication_urls(text: &str, name: &str, base: &str) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("pki.toml is not valid TOML")?;
    let (crl, issuers, ocsp) = publication_urls(base, name);
    doc["ca"][name]["crl_url"] = toml_edit::value(crl);
    doc["ca"][name]["ca_issuers_url"] = toml_edit::value(issuers);
    doc["ca"][name]["ocsp_url"] = toml_edit::value(ocsp);
    Ok(doc.to_string())
}

/// Sets `[defaults] KEY = VALUE` (e.g. `ca`, `profile`).
pub fn set_default(text: &str, key: &str, value: &str) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("pki.toml is not valid TOML")?;
    doc["defaults"][key] = toml_edit::value(value);
    Ok(doc.to_string())
}

/// Appends the default `server`, `client` and `agent` profiles for a trust domain.
pub fn default_profiles(trust_domain: &str, ca: &str) -> String {
    format!(
        r#"
# Issuance profiles: what a certificate issued with `--profile NAME` may contain.
# Patterns: in DNS names `*` is one label and `**` any number of labels; in URIs `*` is one
# path segment and `**` anything. Key types: p256, p384, ed25519, rsa (CSRs may bring p384/rsa).
[profiles.server]
ca = "{ca}"
default_ttl = "24h"
max_ttl = "90d"
key_types = ["p256", "p384", "ed25519", "rsa"]
ext_key_usage = ["serverAuth", "clientAuth"]
allowed_dns = ["{td}", "**.{td}"]
allowed_ips = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

[profiles.client]
ca = "{ca}"
default_ttl = "24h"
max_ttl = "30d"
key_types = ["p256", "p384", "ed25519", "rsa"]
ext_key_usage = ["clientAuth"]
allowed_dns = ["**.{td}"]

[profiles.agent]
ca = "{ca}"
default_ttl = "1h"
max_ttl = "24h"
key_types = ["p256", "ed25519"]
ext_key_usage = ["clientAuth", "serverAuth"]
spiffe = true
allowed_uris = ["spiffe://{td}/agent/*"]
allowed_dns = []
subject = "from-san"
"#,
        td = trust_domain
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_file_parses_and_keeps_comments_when_edited() {
        let t = initial_text("root", Some("Acme \"Q\""), Some("acme.internal"));
        let s = Settings::parse(&t, "pki.toml").unwrap();
        assert_eq!(s.defaults.organization.as_deref(), Some("Acme \"Q\""));
        let t2 = add_ca(&t, "issuing", Some("root"), Some("24h")).unwrap();
        let t3 = set_default(&t2, "ca", "issuing").unwrap();
        assert!(t3.contains("# pki settings"));
        let s3 = Settings::parse(&(t3 + &default_profiles("acme.internal", "issuing")), "pki.toml").unwrap();
        assert_eq!(s3.ca["issuing"].parent.as_deref(), Some("root"));
        assert_eq!(s3.defaults.ca.as_deref(), Some("issuing"));
        assert!(s3.profiles.contains_key("agent"));
    }

    #[test]
    fn typos_are_reported_with_file_and_line() {
        let e = Settings::parse("[defaults]\nleaf_tl = \"1h\"\n", "pki.toml").unwrap_err().to_string();
        assert!(e.starts_with("pki.toml line 2:"), "{e}");
        assert!(e.contains("leaf_tl"), "{e}");
        let e = format!("{:#}", Settings::parse("[defaults]\nleaf_ttl = \"1x\"\n", "pki.toml").unwrap_err());
        assert!(e.contains("leaf_ttl"), "{e}");
    }
}
