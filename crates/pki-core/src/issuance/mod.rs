//! From a request (command-line flags, a batch line, a CSR, a renewal) to a committed
//! certificate. `plan` checks everything (profile, names, lifetime, key, CA constraints) and
//! writes nothing; `sign` and `Locked::commit_issue` then issue it under the directory lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ::time::OffsetDateTime;
use anyhow::{Result, anyhow, bail};
use rcgen::{Issuer, KeyPair};
use serde::{Deserialize, Serialize};

use crate::ca::{self, Ca};
use crate::certs::{self, LeafSpec};
use crate::context::{Context, Random, Secret};
use crate::duration;
use crate::error::PkiError;
use crate::keys;
use crate::keys::KeyType;
use crate::policy::{Profile, Request, check_spiffe_id};
use crate::serial::Serial;
use crate::settings::Settings;
use crate::store::{CaDir, InventoryRecord, Locked, Status, sha256_hex};

mod batch;
mod names;
mod outfiles;
pub use outfiles::{check_targets, write_out_dir};
mod output;
mod renew;

pub use batch::{BatchLine, BatchSink, BatchTally};
#[cfg(test)]
pub(crate) use names::parse_csr;
pub use names::{Names, csr_names, key_type_of_spki};
pub use output::{Files, OUT_FILES, Out, Requested};
pub use renew::Renewal;

/// A batch line's `dns`, `ip` or `uri`: a list. A lone string (`"dns": "a.example"`) is refused
/// with a message that says so, rather than serde's "expected a sequence".
fn list_of_names<'de, D: serde::Deserializer<'de>>(field: &str, d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        List(Vec<String>),
        One(String),
        Other(serde::de::IgnoredAny),
    }
    use serde::de::Error;
    match Names::deserialize(d)? {
        Names::List(v) => Ok(v),
        Names::One(s) => Err(D::Error::custom(format!(
            "\"{field}\" is a list of strings: write [{}], not the string {}",
            serde_json::Value::from(s.clone()),
            serde_json::Value::from(s)
        ))),
        Names::Other(_) => {
            Err(D::Error::custom(format!("\"{field}\" is a list of strings, e.g. [\"a.acme.internal\"]")))
        }
    }
}
fn dns_list<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    list_of_names("dns", d)
}
fn ip_list<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    list_of_names("ip", d)
}
fn uri_list<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    list_of_names("uri", d)
}

/// A request as flags or a batch line give it (batch lines use these field names).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The profile to issue under (`[profiles.NAME]`).
    pub profile: Option<String>,
    /// The issuing CA.
    pub ca: Option<String>,
    /// The subject's common name.
    pub cn: Option<String>,
    /// DNS names.
    #[serde(default, deserialize_with = "dns_list")]
    pub dns: Vec<String>,
    /// IP addresses.
    #[serde(default, deserialize_with = "ip_list")]
    pub ip: Vec<String>,
    /// URIs.
    #[serde(default, deserialize_with = "uri_list")]
    pub uri: Vec<String>,
    /// A SPIFFE ID (added as the first URI SAN).
    pub spiffe_id: Option<String>,
    /// The lifetime, e.g. "24h".
    pub ttl: Option<String>,
    /// The end instead of a lifetime: RFC 3339 or a date ([`duration::parse_not_after`]).
    pub not_after: Option<String>,
    /// The key type to generate: p256, p384, ed25519 or rsa3072 ([`KeyType::parse`]).
    pub key_type: Option<String>,
    /// Where the result goes: a directory, or "-" for the caller's stream.
    pub out: Option<PathBuf>,
    /// A CSR file (or "-" for standard input on the command line).
    pub csr: Option<String>,
    /// The CSR's bytes when the caller has already read them (standard input, a request body);
    /// never taken from a batch line.
    #[serde(skip)]
    pub csr_bytes: Option<Vec<u8>>,
    /// Replace existing files in `out`.
    #[serde(default)]
    pub force: bool,
    /// Shorten the lifetime to what the issuer and profile allow instead of refusing.
    #[serde(default)]
    pub clip_ttl: bool,
}

/// Where the subject key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// pki generates the key and hands it out.
    Generate(KeyType),
    /// The holder keeps the key: a CSR's, or the certificate being renewed's.
    Public {
        /// The public key, DER (SubjectPublicKeyInfo).
        spki_der: Vec<u8>,
    },
}

/// A request checked against every rule, ready to sign. Nothing has been written.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The issuing CA.
    pub ca: String,
    /// Shared by every plan for the same CA (a batch plans thousands).
    pub chain: Arc<Vec<Ca>>,
    /// The profile.
    pub profile: Option<String>,
    /// The subject's attributes (type, value).
    pub subject: Vec<(String, String)>,
    /// DNS SANs.
    pub dns: Vec<String>,
    /// IP SANs.
    pub ips: Vec<IpAddr>,
    /// URI SANs.
    pub uris: Vec<String>,
    /// Extended key usages.
    pub ekus: Vec<String>,
    /// Where the subject key comes from.
    pub key: KeySource,
    /// The subject key's type.
    pub key_type: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The serial of the certificate this one renews.
    pub renews: Option<String>,
    /// Where relying parties find the issuer's CRL and certificate.
    pub urls: certs::IssuerUrls,
    /// Who made the subject key, recorded in the ledger (`key_origin`): "generated" (pki, which
    /// handed it out) or "csr" (the holder). A renewal keeping the key inherits the old one's.
    pub key_origin: &'static str,
    /// What the request asked for that the certificate does not carry, in words (e.g. a CSR's
    /// subject left out of an SVID).
    pub notes: Vec<String>,
    /// Set when `--clip-ttl` shortened the lifetime asked for.
    pub clipped: Option<Clipped>,
}

/// A lifetime `--clip-ttl` shortened: what was asked, and the limit that cut it.
#[derive(Debug, Clone, Serialize)]
pub struct Clipped {
    /// The lifetime asked for (`--ttl`, or the profile's default_ttl), e.g. `200d`.
    pub requested_ttl: String,
    /// `max_ttl` (the profile's) or `issuer` (the CA's own notAfter).
    pub limit: &'static str,
}

/// What a script learns about an issued certificate.
#[derive(Debug, Serialize)]
pub struct Issued {
    /// Serial, upper-case hex.
    pub serial: String,
    /// The subject.
    pub subject: String,
    /// The SANs, each with its type.
    pub sans: Vec<String>,
    /// The SPIFFE ID, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spiffe_id: Option<String>,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// The issuing CA's subject.
    pub issuer: String,
    /// The issuing CA's name.
    pub ca: String,
    /// The profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The subject key's type.
    pub key_type: String,
    /// SHA-256 of the certificate's DER, hex.
    pub sha256: String,
    /// The serial of the certificate this one renews.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renews: Option<String>,
    /// The certificate, PEM.
    #[serde(skip)]
    pub cert_pem: String,
    /// The new private key, PEM (encrypted with the key passphrase if one was given).
    #[serde(skip)]
    pub key_pem: Option<Secret>,
    /// The intermediates, issuer first, PEM.
    #[serde(skip)]
    pub chain_pem: String,
    /// The root, PEM.
    #[serde(skip)]
    pub root_pem: String,
    /// The inventory line to commit (taken by the commit).
    #[serde(skip)]
    pub record: Option<InventoryRecord>,
    /// Who made the subject key ([`Plan::key_origin`]).
    #[serde(skip)]
    pub key_origin: &'static str,
    /// [`Plan::notes`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// [`Plan::clipped`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clipped: Option<Clipped>,
}

/// The directory as issuance sees it: settings, CA chains and unlocked CA keys, loaded once.
pub struct Issuing<'a> {
    /// The directory.
    pub dir: &'a CaDir,
    /// Its settings, read once.
    pub settings: Settings,
    /// The settings file's path, for messages.
    pub settings_file: String,
    chains: HashMap<String, Arc<Vec<Ca>>>,
    issuers: HashMap<String, Arc<Issuer<'static, KeyPair>>>,
    /// Keys revoked for keyCompromise (SHA-256 of the SPKI -> the revoked serial), read once.
    blocked: Option<HashMap<String, String>>,
}

impl<'a> Issuing<'a> {
    /// Opens the directory for issuing: reads its settings.
    pub fn open(dir: &'a CaDir) -> Result<Issuing<'a>> {
        let settings_file = dir.path(crate::store::SETTINGS).display().to_string();
        let settings = Settings::parse(&dir.read_settings_text()?, &settings_file)?;
        Ok(Issuing { dir, settings, settings_file, chains: HashMap::new(), issuers: HashMap::new(), blocked: None })
    }

    /// Refuses a public key on the directory's keyCompromise blocklist.
    pub fn refuse_blocked(&mut self, spki_der: &[u8]) -> Result<()> {
        if self.blocked.is_none() {
            self.blocked = Some(self.dir.blocked_keys()?);
        }
        let key = crate::store::sha256_hex(spki_der);
        match self.blocked.as_ref().and_then(|b| b.get(&key)) {
            Some(serial) => Err(PkiError::KeyCompromised { key, serial: serial.clone() }.into()),
            None => Ok(()),
        }
    }

    fn chain(&mut self, name: &str) -> Result<Arc<Vec<Ca>>> {
        if let Some(c) = self.chains.get(name) {
            return Ok(c.clone());
        }
        let c = Ca::chain(self.dir, name)?;
        // A revoked CA issues nothing more. Checked once per process (a batch plans many requests).
        for w in c.windows(2) {
            let (ca, parent) = (&w[0], &w[1]);
            let serial = ca.serial.hex();
            let mut revoked = false;
            self.dir.for_each_revoked(&parent.name, |r| {
                revoked |= r.serial == serial;
                Ok(())
            })?;
            if revoked {
                bail!("CA '{}' has been revoked: create a new intermediate with `pki create-intermediate`", ca.name);
            }
        }
        let c = Arc::new(c);
        self.chains.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// Uses a CA key the caller has already unlocked (a long-running server unlocks its keys
    /// once, at start) instead of unlocking it again.
    pub fn adopt(&mut self, name: &str, issuer: Arc<Issuer<'static, KeyPair>>) {
        self.issuers.insert(name.to_string(), issuer);
    }

    /// Unlocks a CA key once per process (the KDF is deliberately slow).
    pub fn unlock(&mut self, name: &str, ctx: &Context<'_>) -> Result<()> {
        if !self.issuers.contains_key(name) {
            let chain = self.chain(name)?;
            let issuer = chain[0].unlock(self.dir, ctx, self.settings.passphrase_file(name))?;
            self.issuers.insert(name.to_string(), Arc::new(issuer));
        }
        Ok(())
    }

    /// Checks a request completely. Writes nothing.
    pub fn plan(&mut self, spec: &Spec, now: OffsetDateTime) -> Result<Plan> {
        self.plan_with_key(spec, now, None)
    }

    /// As `plan`, with the subject key already known (a renewal keeping its key).
    pub fn plan_with_key(&mut self, spec: &Spec, now: OffsetDateTime, existing: Option<Vec<u8>>) -> Result<Plan> {
        let mut names = names::parse_names(spec)?;
        let mut csr_ekus = None;
        let mut key_origin = "csr";
        let (key, key_type) = if let Some(spki) = existing {
            let kt = names::key_type_of_spki(&spki)?;
            (KeySource::Public { spki_der: spki }, kt)
        } else if let Some(csr) = &spec.csr {
            if !names.dns.is_empty() || !names.ips.is_empty() || !names.uris.is_empty() || spec.cn.is_some() {
                bail!("give the names either in the CSR or on the command line, not both");
            }
            if spec.key_type.is_some() {
                bail!("--key-type does not apply to --csr: the CSR brings its own key");
            }
            let c = names::read_csr(csr, spec.csr_bytes.as_deref())?;
            names = c.names;
            csr_ekus = c.ekus;
            (KeySource::Public { spki_der: c.spki_der }, c.key_type)
        } else {
            let kt = match spec.key_type.as_deref() {
                Some(s) => KeyType::parse(s).ok_or_else(|| {
                    anyhow!("invalid --key-type '{s}': pki generates {} keys (send a CSR for others)", KeyType::CHOICES)
                })?,
                None => self.settings.defaults.key_type.unwrap_or(KeyType::P256),
            };
            key_origin = "generated";
            (KeySource::Generate(kt), kt.name().to_string())
        };
        // A key someone else holds (a CSR's, a renewal's) may be one revoked for keyCompromise.
        if let KeySource::Public { spki_der } = &key {
            self.refuse_blocked(spki_der)?;
        }
        if let Some(id) = &spec.spiffe_id {
            check_spiffe_id(id, false).map_err(|e| anyhow!("invalid --spiffe-id '{id}': {e}"))?;
            if !names.uris.contains(id) {
                names.uris.insert(0, id.clone());
            }
        }
        names::complete_names(&mut names)?;

        let profile: Option<Profile> = match spec.profile.as_ref().or(self.settings.defaults.profile.as_ref()) {
            Some(p) => Some(self.settings.profile(p, &self.settings_file)?),
            None => None,
        };
        // An SVID's subject carries no identity: a CSR's subject (an ordinary
        // `openssl req -subj /CN=agent`) is left out instead of refused, and the output says so.
        let mut notes = vec![];
        let mut clipped = None;
        if profile.as_ref().is_some_and(|p| p.spiffe)
            && spec.csr.is_some()
            && let Some(cn) = names.cn.take()
        {
            notes.push(format!(
                "the CSR's subject (CN={cn}) is not copied into the SVID: its identity is the SPIFFE ID"
            ));
        }
        if let Some(a) = &spec.ca
            && !self.dir.ca_exists(a)
        {
            return Err(PkiError::UnknownCa { name: a.clone(), known: self.dir.ca_names()? }.into());
        }
        let ca_name = match (&spec.ca, profile.as_ref().and_then(|p| p.ca.as_ref())) {
            (Some(a), Some(b)) if a != b => {
                bail!(
                    "profile '{}' issues from CA '{b}' only, not '{a}'",
                    profile.as_ref().map(|p| p.name.as_str()).unwrap_or("")
                )
            }
            (Some(a), _) => a.clone(),
            (None, Some(b)) => b.clone(),
            (None, None) => ca::issuing_ca(self.dir, &self.settings, None)?,
        };
        if !self.dir.ca_exists(&ca_name) {
            return Err(PkiError::UnknownCa { name: ca_name, known: self.dir.ca_names()? }.into());
        }
        if let Some(td) = self.settings.ca.get(&ca_name).and_then(|c| c.spire_trust_domain.as_ref()) {
            bail!(
                "CA '{ca_name}' is SPIRE's upstream for trust domain {td} (its key is exported in clear for SPIRE's disk plugin): pki does not issue from it; issue from another intermediate"
            );
        }
        let chain = self.chain(&ca_name)?;
        let issuer = &chain[0];
        if issuer.self_signed
            && chain.len() == 1
            && spec.ca.is_none()
            && profile.as_ref().and_then(|p| p.ca.as_ref()).is_none()
        {
            bail!("CA '{ca_name}' is a root: issue from an intermediate (`pki create-intermediate issuing`)");
        }
        if now >= issuer.not_after {
            bail!(
                "CA '{ca_name}' expired at {}: create a new intermediate with `pki create-intermediate`",
                certs::rfc3339(issuer.not_after)
            );
        }
        let end = match (&spec.ttl, &spec.not_after) {
            (Some(_), Some(_)) => bail!("give a lifetime (--ttl) or an end (--not-after), not both"),
            (_, Some(v)) => Some(duration::parse_not_after("--not-after", v, now)?),
            _ => None,
        };
        let requested_ttl = match end {
            Some((_, ttl)) => Some(ttl),
            None => spec.ttl.as_deref().map(|t| duration::parse_lifetime("--ttl", t)).transpose()?,
        };
        let (ttl, ekus) = match &profile {
            Some(p) => {
                let left = (issuer.not_after - now).whole_seconds().max(0) as u64;
                if p.max_ttl.as_secs() > left {
                    bail!(
                        "{}: [profiles.{}] max_ttl = {} is longer than what CA '{ca_name}' has left (until {}): lower max_ttl or renew the CA",
                        self.settings_file,
                        p.name,
                        crate::duration::show(p.max_ttl),
                        certs::rfc3339(issuer.not_after)
                    );
                }
                let req = Request {
                    cn: names.cn.clone(),
                    dns: names.dns.clone(),
                    ips: names.ips.clone(),
                    uris: names.uris.clone(),
                    key_type: key_type.clone(),
                    ttl: requested_ttl,
                    csr_ekus: csr_ekus.clone(),
                };
                let ttl = p.check(&req, spec.clip_ttl)?;
                let asked = requested_ttl.unwrap_or(p.default_ttl);
                if ttl < asked {
                    clipped = Some(Clipped { requested_ttl: duration::show(asked), limit: "max_ttl" });
                    notes.push(format!(
                        "--clip-ttl: the lifetime asked for ({}) is cut to profile '{}' max_ttl {}",
                        duration::show(asked),
                        p.name,
                        duration::show(ttl)
                    ));
                }
                (ttl, p.ext_key_usage.clone())
            }
            None => {
                let ttl = match requested_ttl {
                    Some(t) => t,
                    None => {
                        let (flag, v) = match self.settings.ca.get(&ca_name).and_then(|c| c.default_ttl.as_deref()) {
                            Some(v) => (format!("[ca.{ca_name}] default_ttl"), v.to_string()),
                            None => (
                                "[defaults] leaf_ttl".to_string(),
                                self.settings.defaults.leaf_ttl.clone().unwrap_or_else(|| "24h".into()),
                            ),
                        };
                        duration::parse_lifetime(&flag, &v)?
                    }
                };
                let ekus = csr_ekus.clone().unwrap_or_else(|| vec!["serverAuth".into(), "clientAuth".into()]);
                (ttl, ekus)
            }
        };
        // Refuse what the CA's (or a parent's) name constraints would make clients reject.
        for c in chain.iter() {
            c.constraints
                .check(&names.dns, &names.ips, &names.uris)
                .map_err(|why| PkiError::NameConstraints { ca: c.name.clone(), why })?;
        }
        let not_before = (now - certs::BACKDATE).max(issuer.not_before);
        let mut not_after = match end {
            // Exactly the time asked for (whole years would otherwise be counted in calendar years).
            Some((t, asked)) if asked == ttl => t,
            _ => certs::not_after(now, ttl)?,
        };
        if not_after > issuer.not_after {
            if spec.clip_ttl {
                notes.push(format!(
                    "--clip-ttl: the certificate would end at {}, after CA '{ca_name}'; it ends with the CA at {}",
                    certs::rfc3339(not_after),
                    certs::rfc3339(issuer.not_after)
                ));
                let requested_ttl = clipped.take().map_or(duration::show(ttl), |c: Clipped| c.requested_ttl);
                clipped = Some(Clipped { requested_ttl, limit: "issuer" });
                not_after = issuer.not_after;
            } else {
                return Err(PkiError::OutlivesIssuer {
                    what: "the certificate".into(),
                    not_after: certs::rfc3339(not_after),
                    issuer: ca_name.clone(),
                    issuer_not_after: certs::rfc3339(issuer.not_after),
                }
                .into());
            }
        }
        let first_san = names
            .dns
            .first()
            .cloned()
            .or_else(|| names.uris.first().cloned())
            .or_else(|| names.ips.first().map(|i| i.to_string()))
            .expect("complete_names guarantees a SAN");
        // The CN is a name some verifiers still read as a host: it obeys the rules of a SAN. It
        // is one of the certificate's DNS names (so policy and name constraints have checked it),
        // and an IP address is never put there (see Profile::subject_for).
        let cn = match &names.cn {
            None => None,
            Some(cn) => match cn.trim().parse::<IpAddr>() {
                Ok(ip) if names.ips.contains(&ip.to_canonical()) => None,
                Ok(_) => bail!("CN '{cn}' must be one of the certificate's IP addresses or DNS names"),
                Err(_) => {
                    let d = cn.trim().trim_end_matches('.').to_ascii_lowercase();
                    if !names.dns.contains(&d) {
                        return Err(PkiError::BadName {
                            kind: "common name",
                            value: cn.clone(),
                            why: "a CN is read as a host name by some verifiers, so it must be one of the certificate's DNS names (give it with --dns too, or leave --cn out)".into(),
                        }
                        .into());
                    }
                    Some(d)
                }
            },
        };
        let subject = match (&profile, &cn) {
            (Some(p), _) => p.subject_for(&first_san, names.dns.first().map(String::as_str)),
            (None, Some(cn)) => vec![("CN".to_string(), cn.clone())],
            // A DNS name only (see `Profile::subject_for`): an IP or URI in the CN breaks chains
            // under DNS name constraints in OpenSSL.
            (None, None) => match names.dns.first() {
                Some(d) if d.chars().count() <= 64 => vec![("CN".to_string(), d.clone())],
                _ => vec![],
            },
        };
        Ok(Plan {
            ca: ca_name.clone(),
            chain,
            profile: profile.map(|p| p.name),
            subject,
            dns: names.dns,
            ips: names.ips,
            uris: names.uris,
            ekus,
            key,
            key_type,
            not_before,
            not_after,
            renews: None,
            urls: certs::IssuerUrls {
                crl_url: self.settings.ca.get(&ca_name).and_then(|c| c.crl_url.clone()),
                ca_issuers_url: self.settings.ca.get(&ca_name).and_then(|c| c.ca_issuers_url.clone()),
                ocsp_url: self.settings.ca.get(&ca_name).and_then(|c| c.ocsp_url.clone()),
            },
            key_origin,
            notes,
            clipped,
        })
    }

    /// Generates the key if needed and signs. Call with the lock held; commit with
    /// `Locked::commit_issue(record, ...)` afterwards.
    pub fn sign(&self, plan: &Plan, lock: &Locked<'_>, key_pass: Option<&Secret>, rng: &dyn Random) -> Result<Issued> {
        let serial = loop {
            let s = Serial::random_from(rng)?;
            if lock.serial_is_free(&s)? {
                break s;
            }
        };
        Self::sign_with(&*self.signer(&plan.ca)?, plan, serial, key_pass)
    }

    /// The unlocked signer of a CA, to sign with on other threads.
    pub fn signer(&self, ca: &str) -> Result<Arc<Issuer<'static, KeyPair>>> {
        self.issuers.get(ca).cloned().ok_or_else(|| anyhow!("CA '{ca}' is not unlocked"))
    }

    /// Generates the key if needed and signs with `issuer`, the plan's CA, under a serial drawn
    /// by the caller (a batch lists its serials before signing on other threads).
    pub fn sign_with(
        issuer: &Issuer<'static, KeyPair>,
        plan: &Plan,
        serial: Serial,
        key_pass: Option<&Secret>,
    ) -> Result<Issued> {
        let spec = LeafSpec {
            subject: plan.subject.clone(),
            dns: plan.dns.clone(),
            ips: plan.ips.clone(),
            uris: plan.uris.clone(),
            not_before: plan.not_before,
            not_after: plan.not_after,
            serial,
            ekus: plan.ekus.clone(),
            key_encipherment: plan.key_type == "rsa",
            urls: plan.urls.clone(),
        };
        let (cert, key_pem) = match &plan.key {
            KeySource::Generate(kt) => {
                let k = keys::generate(*kt)?;
                (certs::build_leaf(&spec, &k.pair, issuer)?, Some(keys::to_pem(&k.der, key_pass)?))
            }
            KeySource::Public { spki_der } => {
                let public =
                    rcgen::SubjectPublicKeyInfo::from_der(spki_der).map_err(|e| anyhow!("unusable public key: {e}"))?;
                (certs::build_leaf(&spec, &public, issuer)?, None)
            }
        };
        let cert_pem = cert.pem();
        let record = InventoryRecord {
            serial: spec.serial.hex(),
            status: Status::Valid,
            not_before: certs::rfc3339(plan.not_before),
            not_after: certs::rfc3339(plan.not_after),
            revoked_at: None,
            reason: None,
            replaced_by: None,
            ca: plan.ca.clone(),
            profile: plan.profile.clone(),
            key_type: plan.key_type.clone(),
            subject: spec.subject_string(),
            sans: spec.san_strings(),
        };
        let root = &plan.chain[plan.chain.len() - 1];
        Ok(Issued {
            serial: record.serial.clone(),
            subject: record.subject.clone(),
            sans: record.sans.clone(),
            spiffe_id: plan.uris.iter().find(|u| u.starts_with("spiffe://")).cloned(),
            not_before: record.not_before.clone(),
            not_after: record.not_after.clone(),
            issuer: plan.chain[0].subject.clone(),
            ca: plan.ca.clone(),
            profile: plan.profile.clone(),
            key_type: plan.key_type.clone(),
            sha256: sha256_hex(cert.der()),
            renews: plan.renews.clone(),
            chain_pem: plan.chain[..plan.chain.len() - 1].iter().map(|c| c.pem.as_str()).collect(),
            root_pem: root.pem.clone(),
            cert_pem,
            key_pem,
            record: Some(record),
            key_origin: plan.key_origin,
            notes: plan.notes.clone(),
            clipped: plan.clipped.clone(),
        })
    }
}
