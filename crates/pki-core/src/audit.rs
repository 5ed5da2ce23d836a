//! `pki audit`'s checks: everything in a CA directory that will cause an outage, or already is
//! one, as findings with a severity, a stable code and what to do about it.
//!
//! The default pass reads the inventory once as borrowed lines (no allocation per record), plus
//! every CA certificate and CRL and the directory's modes: it stays fast at a million records.
//! `--deep` also checks the ledger's chain and reads every stored certificate.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ::time::OffsetDateTime;
use anyhow::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

use crate::ca::Ca;
use crate::certs::{BACKDATE, parse_rfc3339, rfc3339, rfc3339_unix};
use crate::duration::{human_left, show};
use crate::error::PkiError;
use crate::policy::Profile;
use crate::serial::Serial;
use crate::settings::Settings;
use crate::store::{CaDir, InventoryView, LedgerProblem, LedgerRecord, Status};

/// Expired certificates still marked valid are reported for this long after they expire; older
/// ones are counted only (a service that still presents one has been failing for a month).
pub const EXPIRED_LOOKBACK: Duration = Duration::from_secs(30 * 86400);
/// Leaf certificates with less than this left are critical, not warnings.
pub const CRITICAL_LEFT: i64 = 86400;
/// At most this many findings of one code are listed; the rest are counted (`summary.not_listed`,
/// `counts`), so memory stays bounded when, say, a lowered max_ttl makes a million certificates drift.
pub const MAX_LISTED_PER_CODE: usize = 1000;

/// How much a finding matters; `--fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to do yet.
    Info,
    /// Needs attention soon.
    Warning,
    /// Needs attention now (something has failed or is about to).
    Critical,
}

impl Severity {
    /// The lower-case name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One thing the audit found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// Stable, documented in docs/audit.md: scripts may match on it.
    pub code: &'static str,
    /// certificate | ca | crl | ledger | inventory | file | settings
    pub object: &'static str,
    /// The serial, CA name or path concerned.
    pub id: String,
    /// The CA concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// The profile concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The subject concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When the thing ends: a certificate's notAfter, a CRL's nextUpdate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Seconds until the event (expiry, CRL nextUpdate); negative when past.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_left: Option<i64>,
    /// What was found and what to do, on one line.
    pub message: String,
}

impl Finding {
    fn new(
        severity: Severity,
        code: &'static str,
        object: &'static str,
        id: impl Into<String>,
        message: String,
    ) -> Self {
        Finding {
            severity,
            code,
            object,
            id: id.into(),
            ca: None,
            profile: None,
            subject: None,
            not_after: None,
            seconds_left: None,
            message,
        }
    }

    fn ending(mut self, not_after: &str, left: i64) -> Self {
        self.not_after = Some(not_after.to_string());
        self.seconds_left = Some(left);
        self
    }

    fn with_ca(mut self, ca: &str) -> Self {
        self.ca = Some(ca.to_string());
        self
    }

    fn of_cert(mut self, v: &InventoryView<'_>) -> Self {
        self.ca = Some(v.ca.to_string());
        self.profile = v.profile.map(str::to_string);
        self.subject = Some(v.subject.to_string());
        self
    }
}

/// What an audit looks at.
pub struct Options {
    /// Certificates expiring within this window are reported.
    pub window: Duration,
    /// Only this CA's certificates and CRL.
    pub ca: Option<String>,
    /// Also check every stored file against the ledger (reads the whole directory).
    pub deep: bool,
    /// Also report certificates whose whole lifetime is shorter than the window.
    pub include_short_lived: bool,
    /// A signed ledger head kept elsewhere (`pki ledger head`): the ledger must still hold it.
    pub ledger_head: Option<crate::store::SignedHead>,
}

/// Totals over the directory.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Findings in all.
    #[serde(rename = "findings_count")]
    pub findings: usize,
    /// Critical findings.
    pub critical: usize,
    /// Warnings.
    pub warning: usize,
    /// Informational findings.
    pub info: usize,
    /// Certificates in the inventory.
    pub certificates: u64,
    /// Valid (not expired, revoked or renewed).
    #[serde(rename = "certificates_valid")]
    pub valid: u64,
    /// Expired.
    #[serde(rename = "certificates_expired")]
    pub expired: u64,
    /// Revoked.
    #[serde(rename = "certificates_revoked")]
    pub revoked: u64,
    /// Renewed by a successor.
    #[serde(rename = "certificates_superseded")]
    pub superseded: u64,
    /// Valid certificates whose whole lifetime is no longer than the window, expiring within it,
    /// that were renewed (a later certificate for the same names is valid) or whose profile
    /// expects no renewal: expected to expire, so counted and not listed. One without a
    /// successor where renewal is expected is a finding (an outage in the making).
    pub short_lived_expiring: u64,
    /// The same, already expired (in the last 30 days).
    pub short_lived_expired: u64,
    /// CAs in the directory.
    #[serde(rename = "ca_count")]
    pub cas: usize,
    /// CRLs published.
    #[serde(rename = "crl_count")]
    pub crls: usize,
    /// Findings counted but not listed (beyond MAX_LISTED_PER_CODE of one code).
    pub not_listed: usize,
}

/// How many findings of one code there were, listed or not.
#[derive(Debug, Serialize)]
pub struct CodeCount {
    /// The finding's code, e.g. `expiring`.
    pub code: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// How many findings had it.
    pub count: usize,
}

/// Certificates of one CA and profile: counts and the earliest expiry among the valid ones.
#[derive(Debug, Serialize)]
pub struct Group {
    /// The issuing CA.
    pub ca: String,
    /// The profile ("-" for none).
    pub profile: String,
    /// Valid certificates.
    #[serde(rename = "certificates_valid")]
    pub valid: u64,
    /// Expired certificates.
    #[serde(rename = "certificates_expired")]
    pub expired: u64,
    /// Revoked certificates.
    #[serde(rename = "certificates_revoked")]
    pub revoked: u64,
    /// Renewed certificates.
    #[serde(rename = "certificates_superseded")]
    pub superseded: u64,
    /// The earliest expiry of a valid certificate (RFC 3339).
    pub earliest_expiry: Option<String>,
    /// Seconds until that expiry.
    pub earliest_expiry_seconds: Option<i64>,
}

/// A CA and how long it has left.
#[derive(Debug, Serialize)]
pub struct CaState {
    /// The CA's name.
    pub name: String,
    /// When it expires (RFC 3339).
    pub not_after: String,
    /// Seconds until then.
    pub seconds_left: i64,
}

/// A CA's published CRL.
#[derive(Debug, Serialize)]
pub struct CrlState {
    /// The CA's name.
    pub ca: String,
    /// The CRL number.
    pub number: u64,
    /// nextUpdate (RFC 3339), if any.
    pub next_update: Option<String>,
    /// Seconds until nextUpdate.
    pub seconds_left: Option<i64>,
}

/// Everything an audit found, as `pki audit --json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The time the audit judged by (RFC 3339).
    pub now: String,
    /// The expiry window, in words.
    pub window: String,
    /// The expiry window in seconds.
    pub window_seconds: u64,
    /// Whether the deep checks ran.
    pub deep: bool,
    /// The findings, most severe first (at most [`MAX_LISTED_PER_CODE`] per code).
    pub findings: Vec<Finding>,
    /// Totals.
    pub summary: Summary,
    /// Findings per code, including those not listed.
    pub counts: Vec<CodeCount>,
    /// Certificates per CA and profile.
    pub groups: Vec<Group>,
    /// Every CA and its expiry.
    pub cas: Vec<CaState>,
    /// Every published CRL.
    pub crls: Vec<CrlState>,
}

/// What the caller shows while a long pass runs: (what, done, total).
pub type Progress<'p> = &'p mut dyn FnMut(&'static str, u64, u64);

fn secs_between(a: OffsetDateTime, b: OffsetDateTime) -> i64 {
    (b - a).whole_seconds()
}

fn cmd_dir(dir: &CaDir) -> String {
    if dir.root == std::path::Path::new("pki") { String::new() } else { format!(" --dir {}", dir.root.display()) }
}

/// Audits the directory at `now`; `progress` is told how far the inventory scan has got.
pub fn run(dir: &CaDir, now: OffsetDateTime, opts: &Options, progress: Progress<'_>) -> Result<Report> {
    let mut a = Audit {
        dir,
        now,
        opts,
        findings: vec![],
        counts: Default::default(),
        summary: Summary::default(),
        groups: vec![],
        d: cmd_dir(dir),
        revoked_serials: HashSet::new(),
    };

    let names = dir.ca_names()?;
    if let Some(c) = &opts.ca
        && !names.contains(c)
    {
        return Err(PkiError::UnknownCa { name: c.clone(), known: names }.into());
    }
    let mut cas = vec![];
    for n in &names {
        match Ca::load(dir, n) {
            Ok(c) => cas.push(c),
            Err(e) => a.push(Finding::new(
                Severity::Critical,
                "ca-unreadable",
                "ca",
                n,
                format!("{e:#}: restore cas/{n}/cert.pem from a backup"),
            )),
        }
    }

    let settings_text = dir.read_settings_text();
    let settings =
        match settings_text.as_ref().map_err(|e| anyhow::anyhow!("{e:#}")).and_then(|t| Settings::parse(t, "pki.toml"))
        {
            Ok(s) => Some(s),
            Err(e) => {
                a.push(Finding::new(
                    Severity::Critical,
                    "settings-invalid",
                    "settings",
                    "pki.toml",
                    format!("{e:#}: every issuance fails until pki.toml is fixed; profiles were not checked"),
                ));
                None
            }
        };
    // An edit of pki.toml that no pki command made (a widened allowed_dns, say).
    if let (Some(_), Ok(text)) = (&settings, &settings_text)
        && dir.settings_text_on_record(text).unwrap_or(None) == Some(false)
    {
        a.push(Finding::new(
            Severity::Warning,
            "settings-unrecorded",
            "settings",
            "pki.toml",
            "pki.toml was changed by something other than pki (its SHA-256 is not the one the ledger recorded): review the change, then record it with `pki settings accept`".into(),
        ));
    }
    let profiles: Vec<Profile> = settings
        .as_ref()
        .map(|s| s.profiles.keys().filter_map(|n| s.profile(n, "pki.toml").ok()).collect())
        .unwrap_or_default();
    let default_ca = settings.as_ref().and_then(|s| crate::ca::issuing_ca(dir, s, None).ok());

    // The ledger is hashed on another core while this one scans the inventory.
    let kept = opts.ledger_head.as_ref().map(|h| h.seq);
    let facts = std::thread::scope(|s| -> Result<LedgerFacts> {
        let ledger = s.spawn(|| Audit::check_ledger(dir, kept));
        let scanned = a.scan_inventory(&profiles, settings.is_some(), progress);
        let facts = ledger.join().map_err(|_| anyhow::anyhow!("the ledger check failed"))?;
        scanned?;
        facts
    })?;
    a.ledger_findings(&facts)?;
    let in_scope: Vec<&Ca> = cas.iter().filter(|c| opts.ca.as_ref().is_none_or(|n| *n == c.name)).collect();
    let ca_states = a.check_cas(&in_scope, &cas, &profiles, default_ca.as_deref());
    let crl_states = a.check_crls(&in_scope, &cas, settings.as_ref(), &facts)?;
    a.check_revoked_cas(&in_scope, &cas, settings.as_ref())?;
    a.check_files(&in_scope)?;
    a.check_interrupted();
    if opts.deep {
        a.deep(&cas, progress)?;
    }

    let Audit { mut findings, mut summary, groups, counts, .. } = a;
    findings.sort_by(|x, y| {
        y.severity
            .cmp(&x.severity)
            .then(x.seconds_left.unwrap_or(i64::MAX).cmp(&y.seconds_left.unwrap_or(i64::MAX)))
            .then(x.code.cmp(y.code))
            .then(x.id.cmp(&y.id))
    });
    for ((_, severity), n) in &counts {
        summary.findings += n;
        match severity {
            Severity::Critical => summary.critical += n,
            Severity::Warning => summary.warning += n,
            Severity::Info => summary.info += n,
        }
    }
    summary.not_listed = summary.findings - findings.len();
    let counts = counts.into_iter().map(|((code, severity), count)| CodeCount { code, severity, count }).collect();
    summary.cas = in_scope.len();
    summary.crls = crl_states.len();
    Ok(Report {
        now: rfc3339(now),
        window: show(opts.window),
        window_seconds: opts.window.as_secs(),
        deep: opts.deep,
        findings,
        summary,
        counts,
        groups: groups
            .into_iter()
            .map(|g| Group {
                earliest_expiry_seconds: g
                    .earliest
                    .as_deref()
                    .and_then(|t| parse_rfc3339(t).ok())
                    .map(|t| secs_between(now, t)),
                earliest_expiry: g.earliest,
                ca: g.ca,
                profile: g.profile,
                valid: g.valid,
                expired: g.expired,
                revoked: g.revoked,
                superseded: g.superseded,
            })
            .collect(),
        cas: ca_states,
        crls: crl_states,
    })
}

/// What the audit's pass over the ledger found.
struct LedgerFacts {
    check: crate::store::LedgerCheck,
    /// CA -> its `crl-generated` records: (seq, CRL number, SHA-256 of the DER).
    crls: HashMap<String, Vec<(u64, u64, String)>>,
    /// Keys revoked for keyCompromise: (SHA-256 of the SPKI, serial).
    compromised: Vec<(String, String)>,
}

struct GroupAcc {
    ca: String,
    profile: String,
    valid: u64,
    expired: u64,
    revoked: u64,
    superseded: u64,
    earliest: Option<String>,
}

struct Audit<'a> {
    dir: &'a CaDir,
    now: OffsetDateTime,
    opts: &'a Options,
    findings: Vec<Finding>,
    counts: std::collections::BTreeMap<(&'static str, Severity), usize>,
    summary: Summary,
    groups: Vec<GroupAcc>,
    /// ` --dir X` for the commands the messages suggest ("" for the default directory).
    d: String,
    /// Serials the inventory shows revoked (to compare with what the CRLs list).
    revoked_serials: HashSet<String>,
}

impl Audit<'_> {
    fn push(&mut self, f: Finding) {
        let n = self.counts.entry((f.code, f.severity)).or_default();
        *n += 1;
        if *n <= MAX_LISTED_PER_CODE {
            self.findings.push(f);
        }
    }

    fn group(&mut self, ca: &str, profile: Option<&str>) -> usize {
        let profile = profile.unwrap_or("-");
        // Few groups, and consecutive records mostly share one: a linear search beats hashing.
        match self.groups.iter().rposition(|g| g.ca == ca && g.profile == profile) {
            Some(i) => i,
            None => {
                self.groups.push(GroupAcc {
                    ca: ca.to_string(),
                    profile: profile.to_string(),
                    valid: 0,
                    expired: 0,
                    revoked: 0,
                    superseded: 0,
                    earliest: None,
                });
                self.groups.len() - 1
            }
        }
    }

    fn scan_inventory(&mut self, profiles: &[Profile], have_settings: bool, progress: Progress<'_>) -> Result<()> {
        // Short-lived certificates near or past their end wait here for a successor: a later
        // line (the inventory is appended in issue order) with the same names, not revoked and
        // still valid. Names are hashed only while something waits.
        let mut waiting: HashMap<u64, Vec<(Finding, bool)>> = HashMap::new();
        let hash = |sans: &str| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            sans.hash(&mut h);
            h.finish()
        };
        let now_s = rfc3339(self.now);
        let horizon = self.now + self.opts.window;
        let horizon_s = rfc3339(horizon);
        let recent_s = rfc3339(self.now - EXPIRED_LOOKBACK);
        let window = self.opts.window;
        let now_unix = self.now.unix_timestamp();
        let dir = self.dir;
        dir.scan_inventory(
            |n, v| {
                let v = match v {
                    Ok(v) => v,
                    Err(why) => {
                        self.push(Finding::new(
                            Severity::Critical,
                            "inventory-malformed",
                            "inventory",
                            format!("inventory.tsv:{n}"),
                            format!("inventory.tsv line {n}: {why}: run `pki{} reindex` to rebuild it from the ledger", self.d),
                        ));
                        return Ok(());
                    }
                };
                if self.opts.ca.as_deref().is_some_and(|c| c != v.ca) {
                    return Ok(());
                }
                if !waiting.is_empty() && v.status != Status::Revoked && v.not_after > now_s.as_str() {
                    for (f, expired) in waiting.remove(&hash(v.sans)).unwrap_or_default() {
                        drop(f);
                        if expired {
                            self.summary.short_lived_expired += 1;
                        } else {
                            self.summary.short_lived_expiring += 1;
                        }
                    }
                }
                self.summary.certificates += 1;
                let gi = self.group(v.ca, v.profile);
                let g = &mut self.groups[gi];
                match v.status {
                    Status::Revoked => {
                        g.revoked += 1;
                        self.summary.revoked += 1;
                        self.revoked_serials.insert(v.serial.to_string());
                        return Ok(());
                    }
                    Status::Superseded => {
                        g.superseded += 1;
                        self.summary.superseded += 1;
                        return Ok(());
                    }
                    Status::Valid => {}
                }
                // pki writes one time format, whose strings order like the times they name.
                let expired = v.not_after <= now_s.as_str();
                if expired {
                    g.expired += 1;
                    self.summary.expired += 1;
                    if v.not_after <= recent_s.as_str() {
                        return Ok(());
                    }
                } else {
                    g.valid += 1;
                    self.summary.valid += 1;
                    if g.earliest.as_deref().is_none_or(|e| v.not_after < e) {
                        g.earliest = Some(v.not_after.to_string());
                    }
                }
                let (Some(nb), Some(na)) = (rfc3339_unix(v.not_before), rfc3339_unix(v.not_after)) else {
                    self.push(Finding::new(
                        Severity::Critical,
                        "inventory-malformed",
                        "inventory",
                        format!("inventory.tsv:{n}"),
                        format!("inventory.tsv line {n}: bad validity times: run `pki{} reindex`", self.d),
                    ));
                    return Ok(());
                };
                let lifetime = Duration::from_secs(u64::try_from(na - nb - BACKDATE.whole_seconds()).unwrap_or(0));
                let short = lifetime <= window;
                let listed = !short || self.opts.include_short_lived;
                let left = na - now_unix;
                if expired || v.not_after <= horizon_s.as_str() {
                    let renewal_expected = match v.profile {
                        Some(p) => profiles.iter().find(|x| x.name == p).is_none_or(|x| x.expect_renewal),
                        None => true,
                    };
                    // A short-lived certificate is due for renewal in the last third of its life
                    // (as ACME clients renew); before that its end is no news.
                    let due = expired || left <= lifetime.as_secs() as i64 / 3;
                    if listed {
                        self.push(self.expiry_finding(&v, left));
                    } else if renewal_expected && due {
                        let mut f = self.expiry_finding(&v, left);
                        f.message = format!(
                            "{} (short-lived, and no certificate for the same names was issued after it)",
                            f.message
                        );
                        waiting.entry(hash(v.sans)).or_default().push((f, expired));
                    } else if expired {
                        self.summary.short_lived_expired += 1;
                    } else {
                        self.summary.short_lived_expiring += 1;
                    }
                }
                if expired || !listed || !have_settings {
                    return Ok(());
                }
                let Some(pname) = v.profile else { return Ok(()) };
                let why = match profiles.iter().find(|p| p.name == pname) {
                    None => Some(format!("profile '{pname}' no longer exists in pki.toml")),
                    Some(p) => p.refuses_issued(v.key_type, v.sans(), nb + BACKDATE.whole_seconds(), lifetime),
                };
                if let Some(why) = why {
                    let msg = format!(
                        "certificate {} ({}) would be refused by profile '{pname}' today: {why}; renew it (`pki{} renew {} --clip-ttl`) or revoke it",
                        v.serial, v.subject, self.d, v.serial
                    );
                    self.push(
                        Finding::new(Severity::Warning, "policy-drift", "certificate", v.serial, msg)
                            .of_cert(&v)
                            .ending(v.not_after, left),
                    );
                }
                Ok(())
            },
            |done, total| progress("scanning the inventory", done, total),
        )?;
        for (f, _) in waiting.into_values().flatten() {
            self.push(f);
        }
        Ok(())
    }

    fn expiry_finding(&self, v: &InventoryView<'_>, left: i64) -> Finding {
        let what = format!("certificate {} ({})", v.serial, v.subject);
        let renew = format!("`pki{} renew {}`", self.d, v.serial);
        let (sev, code, msg) = if left <= 0 {
            (
                Severity::Critical,
                "cert-expired",
                format!(
                    "{what} expired at {} and was not renewed: renew it ({renew}) if it is still in use",
                    v.not_after
                ),
            )
        } else {
            let sev = if left <= CRITICAL_LEFT { Severity::Critical } else { Severity::Warning };
            (
                sev,
                "cert-expiring",
                format!("{what} expires at {} ({}): renew it with {renew}", v.not_after, human_left(left)),
            )
        };
        Finding::new(sev, code, "certificate", v.serial, msg).of_cert(v).ending(v.not_after, left)
    }

    fn check_cas(
        &mut self,
        in_scope: &[&Ca],
        all: &[Ca],
        profiles: &[Profile],
        default_ca: Option<&str>,
    ) -> Vec<CaState> {
        let mut states = vec![];
        for ca in in_scope {
            let left = secs_between(self.now, ca.not_after);
            let not_after = rfc3339(ca.not_after);
            states.push(CaState { name: ca.name.clone(), not_after: not_after.clone(), seconds_left: left });
            let kind = if ca.self_signed { "root CA" } else { "CA" };
            let todo = if ca.self_signed {
                "plan the root's successor now: create a new root, distribute it (`pki trust install`, `pki export --trust-bundle`), then re-issue the intermediates under it".to_string()
            } else {
                format!(
                    "create its successor (`pki{} create-intermediate NEW-NAME`) and point [defaults] ca and the profiles' ca at it",
                    self.d
                )
            };
            let base = |sev, code, msg| Finding::new(sev, code, "ca", ca.name.clone(), msg).ending(&not_after, left);
            if left <= 0 {
                let msg = format!(
                    "{kind} '{}' expired at {not_after}: every certificate under it is now rejected; {todo}",
                    ca.name
                );
                self.push(base(Severity::Critical, "ca-expired", msg));
                continue;
            }
            if left as u64 <= self.opts.window.as_secs() {
                let msg = format!(
                    "{kind} '{}' expires at {not_after} ({}): every certificate under it stops working then; {todo}",
                    ca.name,
                    human_left(left)
                );
                self.push(base(Severity::Critical, "ca-expiring", msg));
                continue;
            }
            // The longest lifetime this CA still gives: its profiles' max_ttl, and for a parent
            // the lifetime of the CAs below it (their successors will need as much).
            let mut longest: Option<(Duration, String)> = None;
            for p in profiles {
                if p.ca.as_deref().or(default_ca) == Some(ca.name.as_str())
                    && longest.as_ref().is_none_or(|(d, _)| p.max_ttl > *d)
                {
                    longest = Some((p.max_ttl, format!("max_ttl {} of profile '{}'", show(p.max_ttl), p.name)));
                }
            }
            for child in all.iter().filter(|c| !c.self_signed && c.issuer_raw == ca.subject_raw && c.name != ca.name) {
                let life =
                    Duration::from_secs(u64::try_from(secs_between(child.not_before, child.not_after)).unwrap_or(0));
                if longest.as_ref().is_none_or(|(d, _)| life > *d) {
                    longest = Some((life, format!("the {} lifetime of CA '{}' below it", show(life), child.name)));
                }
            }
            if let Some((d, why)) = longest
                && (left as u64) < d.as_secs()
            {
                let msg = format!(
                    "{kind} '{}' has {} left, less than {why}: new certificates cannot get their full lifetime (issuance is refused, or shortened with --clip-ttl); {todo}",
                    ca.name,
                    crate::duration::human_span(left)
                );
                self.push(base(Severity::Warning, "ca-cannot-cover", msg));
            }
        }
        states
    }

    fn check_crls(
        &mut self,
        in_scope: &[&Ca],
        all: &[Ca],
        settings: Option<&Settings>,
        facts: &LedgerFacts,
    ) -> Result<Vec<CrlState>> {
        let mut states = vec![];
        for ca in in_scope {
            let name = ca.name.as_str();
            let regen = format!("`pki{} gen-crl --ca {name}`", self.d);
            let crl_file = format!("crl/{name}.crl");
            let Some(der) = self.dir.current_crl_der(name)? else {
                let issued = self.groups.iter().any(|g| g.ca == name)
                    || in_scope.iter().any(|c| !c.self_signed && c.issuer_raw == ca.subject_raw && c.name != ca.name);
                let has_url = settings.and_then(|s| s.ca.get(name)).is_some_and(|c| c.crl_url.is_some());
                let revoked = !self.dir.revoked_list_text(name)?.is_empty();
                let sev = if issued || has_url || revoked { Severity::Warning } else { Severity::Info };
                let msg = format!(
                    "CA '{name}' has no CRL: clients that check revocation reject its certificates; run {regen} and publish it"
                );
                self.push(Finding::new(sev, "crl-missing", "crl", name, msg).with_ca(name));
                continue;
            };
            let parsed = x509_parser::revocation_list::CertificateRevocationList::from_der(&der);
            let crl = match parsed {
                Ok((_, crl)) => crl,
                Err(e) => {
                    let msg = format!("{crl_file} is not a CRL ({e}): run {regen} to replace it");
                    self.push(Finding::new(Severity::Critical, "crl-invalid", "crl", name, msg).with_ca(name));
                    continue;
                }
            };
            let ca_cert = X509Certificate::from_der(&ca.der).map(|(_, c)| c);
            if ca_cert.as_ref().map(|c| crl.verify_signature(c.public_key())).map_or(true, |r| r.is_err()) {
                let msg = format!("{crl_file} is not signed by CA '{name}': run {regen} to replace it");
                self.push(Finding::new(Severity::Critical, "crl-invalid", "crl", name, msg).with_ca(name));
                continue;
            }
            let to_time =
                |t: ASN1Time| OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let this_update = to_time(crl.last_update());
            let next = crl.next_update().map(to_time);
            let number = crl.crl_number().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
            self.check_crl_state(ca, all, &der, &crl, number, this_update, facts)?;
            let left = next.map(|n| secs_between(self.now, n));
            states.push(CrlState { ca: name.to_string(), number, next_update: next.map(rfc3339), seconds_left: left });
            match (next, left) {
                (Some(next), Some(left)) if left <= 0 => {
                    let msg = format!(
                        "the CRL of CA '{name}' went stale at {} (nextUpdate): clients that check CRLs now reject every certificate of '{name}'; run {regen} and publish it (in cron: `pki gen-crl --all --if-older-than 12h`)",
                        rfc3339(next)
                    );
                    self.push(
                        Finding::new(Severity::Critical, "crl-stale", "crl", name, msg)
                            .with_ca(name)
                            .ending(&rfc3339(next), left),
                    );
                    continue;
                }
                // Due: inside the window and past half its lifetime, so a CRL that cron renews
                // daily never shows up however wide the window.
                (Some(next), Some(left))
                    if left as u64 <= self.opts.window.as_secs() && left <= secs_between(this_update, next) / 2 =>
                {
                    let msg = format!(
                        "the CRL of CA '{name}' goes stale at {} ({}): run {regen} and publish it",
                        rfc3339(next),
                        human_left(left)
                    );
                    self.push(
                        Finding::new(Severity::Warning, "crl-due", "crl", name, msg)
                            .with_ca(name)
                            .ending(&rfc3339(next), left),
                    );
                }
                (None, _) | (_, None) => {
                    let msg = format!("{crl_file} has no nextUpdate: run {regen} to replace it");
                    self.push(Finding::new(Severity::Warning, "crl-invalid", "crl", name, msg).with_ca(name));
                }
                _ => {}
            }
            if crate::crl::misses_revocations(self.dir, name, &crl, self.now)? {
                let msg = format!(
                    "the CRL of CA '{name}' misses a revocation recorded since it was made: revoked certificates are still accepted; run {regen} and publish it"
                );
                self.push(Finding::new(Severity::Critical, "crl-behind", "crl", name, msg).with_ca(name));
            }
        }
        Ok(states)
    }

    /// What an editor can do to a CA's CRL files and revocation state without its key: a CRL
    /// dated in the future, a PEM copy missing or different, an older CRL put back, numbers
    /// that do not grow, and revocations the CRL (signed) shows that the revoked list or the
    /// inventory no longer do.
    #[allow(clippy::too_many_arguments)]
    fn check_crl_state(
        &mut self,
        ca: &Ca,
        all: &[Ca],
        der: &[u8],
        crl: &x509_parser::revocation_list::CertificateRevocationList<'_>,
        number: u64,
        this_update: OffsetDateTime,
        facts: &LedgerFacts,
    ) -> Result<()> {
        let name = ca.name.as_str();
        let crl_file = format!("crl/{name}.crl");
        let regen = format!("`pki{} gen-crl --ca {name}`", self.d);
        let add =
            |a: &mut Self, sev, code, msg: String| a.push(Finding::new(sev, code, "crl", name, msg).with_ca(name));
        if this_update > self.now + ::time::Duration::minutes(5) {
            let msg = format!(
                "{crl_file} starts at {} (thisUpdate), in the future: clients reject it as not yet valid; check the clock of the machine that signed it, then run {regen}",
                rfc3339(this_update)
            );
            add(self, Severity::Critical, "crl-not-yet-valid", msg);
        }
        match self.dir.current_crl_pem(name)? {
            None => {
                let msg = format!("{crl_file}.pem is missing: clients that fetch the PEM copy find none; run {regen}");
                add(self, Severity::Warning, "crl-pem-mismatch", msg);
            }
            Some(bytes) => {
                let same = ::pem::parse(&bytes).is_ok_and(|p| p.contents() == der);
                if !same {
                    let msg = format!(
                        "{crl_file}.pem is not the same CRL as {crl_file}: clients that fetch the PEM copy get other revocations; run {regen}"
                    );
                    add(self, Severity::Critical, "crl-pem-mismatch", msg);
                }
            }
        }
        if let Some(recs) = facts.crls.get(name) {
            if let Some(w) = recs.windows(2).find(|w| w[1].1 <= w[0].1) {
                let msg = format!(
                    "ledger records {} and {} give CRL numbers {} then {}: CRL numbers of CA '{name}' must grow (RFC 5280 §5.2.3); restore crl/{name}.number from a backup and run {regen}",
                    w[0].0, w[1].0, w[0].1, w[1].1
                );
                add(self, Severity::Critical, "crl-number-not-increasing", msg);
            }
            if let Some((seq, n, sha)) = recs.last() {
                let sha_here = crate::store::sha256_hex(der);
                if number < *n || (number == *n && sha_here != *sha) {
                    let msg = format!(
                        "{crl_file} is CRL number {number}, but the ledger's last record of a CRL of '{name}' (record {seq}) is number {n} with another hash: an older CRL was put back; put back the published copy of number {n}, then run {regen}"
                    );
                    add(self, Severity::Critical, "crl-rolled-back", msg);
                } else if number > *n {
                    let msg = format!(
                        "{crl_file} is CRL number {number}, newer than any the ledger records (last: number {n}): it was written by a change that did not complete; run {regen}"
                    );
                    add(self, Severity::Warning, "crl-unrecorded", msg);
                }
            }
        }
        // Revocations the signed CRL shows that the editable files no longer do.
        let list = self.dir.revoked_list_text(name)?;
        let mut latest: HashMap<&str, &str> = HashMap::new();
        for line in list.lines().filter(|l| !l.starts_with('#')) {
            let mut f = line.split('\t');
            if let (Some(serial), Some(_), Some(_), Some(reason)) = (f.next(), f.next(), f.next(), f.next()) {
                latest.insert(crate::serial::canonical_hex(serial), reason);
            }
        }
        let ca_serials: HashSet<String> = all.iter().map(|c| c.serial.hex()).collect();
        let mut erased = vec![];
        for r in crl.iter_revoked_certificates() {
            let serial = Serial::from_bytes(r.raw_serial()).hex();
            let in_list = match latest.get(serial.as_str()) {
                Some(&crate::crl::RELEASED) => self.dir.hold_released(&serial)?,
                Some(_) => true,
                None => false,
            };
            let in_inventory = self.revoked_serials.contains(&serial) || ca_serials.contains(&serial);
            if !in_list || !in_inventory {
                erased.push((serial, in_list, in_inventory));
            }
        }
        for (serial, in_list, in_inventory) in erased {
            let files = match (in_list, in_inventory) {
                (false, false) => format!("neither crl/{name}.revoked.tsv nor inventory.tsv shows it"),
                (false, true) => format!("crl/{name}.revoked.tsv has no line for it"),
                _ => "inventory.tsv does not show it revoked".into(),
            };
            let msg = format!(
                "{crl_file} (signed by CA '{name}') lists {serial} as revoked but {files}: a revocation was erased by hand; restore the files from a backup (gen-crl refuses to drop it meanwhile) and find out who changed them"
            );
            self.push(Finding::new(Severity::Critical, "revocation-erased", "certificate", serial, msg).with_ca(name));
        }
        Ok(())
    }

    fn check_files(&mut self, in_scope: &[&Ca]) -> Result<()> {
        for l in self.dir.loose_permissions()? {
            self.push(loose_finding(&l.path, l.mode, l.is_dir, l.is_key));
        }
        for ca in in_scope {
            if self.dir.ca_key_encrypted(&ca.name)? == Some(false) {
                let p = self.dir.ca_key_path(&ca.name);
                let msg = format!(
                    "the key of CA '{}' is stored unencrypted: anyone who can read {} can sign as this CA; encrypt it: `pki change-passphrase {}`",
                    ca.name,
                    p.display(),
                    ca.name
                );
                self.push(
                    Finding::new(Severity::Warning, "ca-key-unencrypted", "ca", ca.name.clone(), msg).with_ca(&ca.name),
                );
            }
        }
        Ok(())
    }

    /// A CA its parent revoked (it issues nothing more), and SPIRE's upstream CA measured
    /// against SPIRE's `ca_ttl` (`[ca.NAME] spire_ca_ttl`): SPIRE caps its own CA at the
    /// upstream's notAfter, so with less than ca_ttl left SPIRE's CA is cut short.
    fn check_revoked_cas(&mut self, in_scope: &[&Ca], all: &[Ca], settings: Option<&Settings>) -> Result<()> {
        for ca in in_scope {
            let spire = settings.and_then(|s| s.ca.get(&ca.name)).and_then(|c| {
                c.spire_trust_domain.clone().map(|td| (td, c.spire_ca_ttl.clone().unwrap_or_else(|| "24h".into())))
            });
            let what = match &spire {
                Some((td, _)) => format!("CA '{}' (SPIRE's upstream for {td})", ca.name),
                None => format!("CA '{}'", ca.name),
            };
            if let Some(parent) = all.iter().find(|p| p.subject_raw == ca.issuer_raw && p.name != ca.name) {
                let serial = ca.serial.hex();
                let mut revoked = None;
                self.dir.for_each_revoked(&parent.name, |r| {
                    if r.serial == serial {
                        revoked = Some((r.revoked_at.clone(), r.reason.clone()));
                    }
                    Ok(())
                })?;
                if let Some((at, reason)) = revoked.filter(|(_, reason)| reason != crate::crl::RELEASED) {
                    let msg = format!(
                        "{what} was revoked by '{}' at {at} ({reason}): relying parties that check CRLs reject every certificate under it; replace it (`pki{} create-intermediate NEW-NAME{}`)",
                        parent.name,
                        self.d,
                        if spire.is_some() { " --for-spire" } else { "" }
                    );
                    self.push(
                        Finding::new(Severity::Critical, "ca-revoked", "ca", ca.name.clone(), msg).with_ca(&ca.name),
                    );
                    continue;
                }
            }
            let Some((td, ttl_text)) = spire else { continue };
            let Ok(ttl) = crate::duration::parse_lifetime("spire_ca_ttl", &ttl_text) else { continue };
            let left = secs_between(self.now, ca.not_after);
            if left > 0 && (left as u64) < ttl.as_secs() {
                let msg = format!(
                    "{what} expires at {} ({}), sooner than SPIRE's ca_ttl {ttl_text}: SPIRE's own CA ends with it and SPIRE issues no SVID after; create a successor (`pki{} create-intermediate NEW-NAME --for-spire --trust-domain {td}`), export it (`pki{} export NEW-NAME --spire DIR`) and point SPIRE at it",
                    rfc3339(ca.not_after),
                    human_left(left),
                    self.d,
                    self.d
                );
                self.push(
                    Finding::new(Severity::Warning, "spire-upstream-cannot-cover", "ca", ca.name.clone(), msg)
                        .with_ca(&ca.name)
                        .ending(&rfc3339(ca.not_after), left),
                );
            }
        }
        Ok(())
    }

    fn check_interrupted(&mut self) {
        match self.dir.last_ledger_record() {
            Ok(Some((last, _))) if self.dir.applied_seq().is_none_or(|a| a < last.seq) => {
                let msg = format!(
                    "the last change (ledger record {}, {}) was interrupted or is running now: the next pki command that changes the directory completes it",
                    last.seq, last.event
                );
                self.push(Finding::new(Severity::Info, "change-interrupted", "ledger", "ledger.jsonl", msg));
            }
            Ok(_) => {
                let listed = self.dir.batch_in_progress();
                if !listed.is_empty() {
                    let msg = format!(
                        "a batch group of {} certificates was interrupted before its commit or is being written now: the next pki command that changes the directory removes them",
                        listed.len()
                    );
                    self.push(Finding::new(Severity::Info, "change-interrupted", "ledger", "pending/", msg));
                }
            }
            Err(e) => {
                let msg = format!("{e:#}: restore ledger.jsonl from a backup");
                self.push(Finding::new(Severity::Critical, "ledger-malformed", "ledger", "ledger.jsonl", msg));
            }
        }
    }

    /// The ledger's chain (every line hashed), the signature of its last signed record, the
    /// key-using records after it, and a kept head. Runs on its own thread beside the
    /// inventory scan; the findings are added by [`Audit::ledger_findings`].
    fn check_ledger(dir: &CaDir, kept: Option<u64>) -> Result<LedgerFacts> {
        let mut crls: HashMap<String, Vec<(u64, u64, String)>> = HashMap::new();
        let mut compromised: Vec<(String, String)> = vec![];
        let check = dir.verify_ledger_with(kept, &["cert-revoked", "crl-generated"], |seq, event, line| {
            if event == "cert-revoked"
                && line.contains("\"reason\":\"keyCompromise\"")
                && let Ok(r) = serde_json::from_str::<crate::store::LedgerRecord>(line)
                && let (Some(k), Some(s)) = (r.data["key"].as_str(), r.data["serial"].as_str())
            {
                compromised.push((k.to_string(), s.to_string()));
            }
            if event == "crl-generated"
                && let Ok(r) = serde_json::from_str::<crate::store::LedgerRecord>(line)
                && let (Some(ca), Some(n), Some(sha)) =
                    (r.data["ca"].as_str(), r.data["number"].as_u64(), r.data["sha256"].as_str())
            {
                crls.entry(ca.to_string()).or_default().push((seq, n, sha.to_string()));
            }
            Ok(())
        })?;
        Ok(LedgerFacts { check, crls, compromised })
    }

    fn ledger_findings(&mut self, facts: &LedgerFacts) -> Result<()> {
        let check = &facts.check;
        if let (Some(kind), Some(problem)) = (check.kind, &check.problem) {
            let code = match kind {
                LedgerProblem::Malformed => "ledger-malformed",
                LedgerProblem::Edited => "ledger-record-edited",
                LedgerProblem::Missing => "ledger-record-missing",
                LedgerProblem::Reordered => "ledger-out-of-order",
            };
            let msg = format!(
                "ledger.jsonl {problem}: the history was tampered with; restore ledger.jsonl from a backup and find out who changed it"
            );
            // Not already reported by the check of the last record.
            self.findings.retain(|f| f.code != "ledger-malformed");
            self.counts.retain(|(c, _), _| *c != "ledger-malformed");
            self.push(Finding::new(Severity::Critical, code, "ledger", "ledger.jsonl", msg));
        }
        match &check.last_signed {
            Some((seq, line)) => {
                if let Some(why) = self.dir.signature_problem(*seq, line)? {
                    let msg = format!(
                        "ledger.jsonl {why}; it is the last signed record: the ledger was rewritten after it was signed (or a CA certificate was replaced); restore ledger.jsonl and cas/ from a backup and find out who changed them"
                    );
                    self.push(Finding::new(
                        Severity::Critical,
                        "ledger-signature-invalid",
                        "ledger",
                        "ledger.jsonl",
                        msg,
                    ));
                }
                if let Some((useq, event)) = check.unsigned_after.first() {
                    let msg = format!(
                        "ledger.jsonl record {useq} ({event}) is not signed though pki signs every record made with a CA key, and record {seq} before it is: it was added or rewritten by hand; restore ledger.jsonl from a backup"
                    );
                    self.push(Finding::new(
                        Severity::Critical,
                        "ledger-unsigned-record",
                        "ledger",
                        "ledger.jsonl",
                        msg,
                    ));
                }
            }
            None if !check.unsigned_after.is_empty() => {
                let msg = format!(
                    "no ledger record is signed (a directory from before pki signed its ledger, or signatures stripped): run `pki{} gen-crl --all`, which signs the head, then keep `pki{} ledger head` elsewhere",
                    self.d, self.d
                );
                self.push(Finding::new(Severity::Warning, "ledger-unsigned", "ledger", "ledger.jsonl", msg));
            }
            None => {}
        }
        if !facts.compromised.is_empty() {
            let blocked = self.dir.blocked_keys()?;
            if let Some((key, serial)) = facts.compromised.iter().find(|(k, _)| !blocked.contains_key(k)) {
                let msg = format!(
                    "blocked-keys.tsv lacks the key of {serial} (SHA-256 {key}), which the ledger records as revoked for keyCompromise: the blocklist was edited and the key could be certified again; restore blocked-keys.tsv from a backup (or `pki reindex` rebuilds it from the ledger)"
                );
                self.push(Finding::new(Severity::Critical, "key-blocklist-edited", "file", "blocked-keys.tsv", msg));
            }
        }
        if let Some(h) = &self.opts.ledger_head {
            let problem = self.dir.kept_head_problem(h, check)?;
            if let Some((code, msg)) = problem {
                self.push(Finding::new(Severity::Critical, code, "ledger", "ledger.jsonl", msg));
            }
        }
        Ok(())
    }

    /// The integrity checks: the ledger's chain, ledger against inventory, and every stored
    /// certificate read, hashed and its signature checked against its CA.
    fn deep(&mut self, cas: &[Ca], progress: Progress<'_>) -> Result<()> {
        // serial -> (SHA-256 the ledger recorded, seen in the inventory)
        let mut issued: HashMap<[u8; 16], ([u8; 32], bool)> = HashMap::new();
        // Committed issues that the interrupted change has not applied yet: recovery's work.
        let applied = self.dir.applied_seq();
        let mut unapplied: HashSet<[u8; 16]> = HashSet::new();
        let mut ledger_lines = 0usize;
        self.dir.for_each_ledger_line(|_, line| {
            ledger_lines += 1;
            if let Some((key, sha, ca, seq)) = issued_entry(line)
                && self.opts.ca.as_deref().is_none_or(|c| c == ca)
            {
                issued.insert(key, (sha, false));
                if applied.is_some_and(|a| seq > a) {
                    unapplied.insert(key);
                }
            }
            Ok(())
        })?;

        let parsed: HashMap<&str, X509Certificate<'_>> = cas
            .iter()
            .filter_map(|c| X509Certificate::from_der(&c.der).ok().map(|(_, x)| (c.name.as_str(), x)))
            .collect();
        let total = self.summary.certificates;
        let mut done = 0u64;
        let dir = self.dir;
        dir.scan_inventory(
            |_, v| {
                let Ok(v) = v else { return Ok(()) };
                if self.opts.ca.as_deref().is_some_and(|c| c != v.ca) {
                    return Ok(());
                }
                done += 1;
                if done.is_multiple_of(256) {
                    progress("reading certificates", done, total);
                }
                let Ok(serial) = Serial::parse(v.serial) else { return Ok(()) };
                let key = serial.key16();
                let path = dir.cert_path(&serial);
                let shown = path.strip_prefix(&dir.root).unwrap_or(&path).display().to_string();
                let cert = |code, msg: String| {
                    Finding::new(Severity::Critical, code, "certificate", v.serial, msg).of_cert(&v)
                };
                let want = match key.and_then(|k| issued.get_mut(&k)) {
                    Some((sha, seen)) => {
                        *seen = true;
                        Some(*sha)
                    }
                    None => {
                        self.push(cert(
                            "inventory-record-unknown",
                            format!("inventory.tsv lists {} but the ledger never recorded its issue: run `pki{} reindex` (and find out who edited inventory.tsv)", v.serial, self.d),
                        ));
                        None
                    }
                };
                let der = match dir.read_cert_der(&serial) {
                    Ok(Some(d)) => d,
                    Ok(None) => {
                        self.push(cert("cert-file-missing", format!("{shown} is missing: restore it from a backup (`pki reindex` would drop the record)")));
                        return Ok(());
                    }
                    Err(e) => {
                        self.push(cert("cert-file-mismatch", format!("{e:#}: restore {shown} from a backup")));
                        return Ok(());
                    }
                };
                let sha: [u8; 32] = Sha256::digest(&der).into();
                if want.is_some_and(|w| w != sha) {
                    self.push(cert("cert-file-mismatch", format!("{shown} is not the certificate the ledger recorded (SHA-256 differs): restore it from a backup")));
                    return Ok(());
                }
                let ok = X509Certificate::from_der(&der)
                    .ok()
                    .zip(parsed.get(v.ca))
                    .is_some_and(|((_, c), ca)| c.verify_signature(Some(ca.public_key())).is_ok());
                if !ok {
                    self.push(cert("cert-signature-invalid", format!("the signature of {shown} does not verify with the key of CA '{}': the file was altered or replaced; restore it from a backup", v.ca)));
                }
                Ok(())
            },
            |_, _| {},
        )?;

        // Issues waiting for recovery are reported above as change-interrupted, not here.
        let mut unseen: Vec<[u8; 16]> =
            issued.iter().filter(|(k, (_, seen))| !seen && !unapplied.contains(*k)).map(|(k, _)| *k).collect();
        unseen.sort();
        for k in unseen {
            let serial = Serial::from_bytes(&k).hex();
            let msg = format!(
                "the ledger records the issue of {serial} but inventory.tsv has no record of it: run `pki{} reindex`",
                self.d
            );
            self.push(Finding::new(Severity::Critical, "inventory-record-missing", "certificate", serial, msg));
        }

        // Stored files nobody issued; a file committed while we read is in the ledger's new tail.
        let mut orphans = vec![];
        self.dir.for_each_cert_file(|path, serial, mode| {
            if mode & 0o077 != 0 {
                orphans.push((path.to_path_buf(), None, mode));
            }
            if path.is_dir() {
                return Ok(());
            }
            let known = serial.as_ref().and_then(Serial::key16).is_some_and(|k| issued.contains_key(&k));
            if !known && self.opts.ca.is_none() {
                orphans.push((path.to_path_buf(), serial.as_ref().and_then(Serial::key16), 0));
            }
            Ok(())
        })?;
        let mut late: HashSet<[u8; 16]> = HashSet::new();
        if orphans.iter().any(|(_, _, m)| *m == 0) {
            // A batch group lists its serials before writing their files (reported above).
            late.extend(self.dir.batch_in_progress().iter().filter_map(|s| Serial::parse(s).ok()?.key16()));
            self.dir.for_each_ledger_line(|n, line| {
                if n > ledger_lines
                    && let Some((k, ..)) = issued_entry(line)
                {
                    late.insert(k);
                }
                Ok(())
            })?;
        }
        for (path, key, mode) in orphans {
            let shown = path.strip_prefix(&self.dir.root).unwrap_or(&path).display().to_string();
            if mode != 0 {
                self.push(loose_finding(&path, mode, path.is_dir(), false));
            } else if !key.is_some_and(|k| late.contains(&k)) {
                let msg = format!(
                    "{shown} has no ledger record: pki did not issue it here; find out where it came from and remove it"
                );
                self.push(Finding::new(Severity::Warning, "cert-file-orphan", "file", shown, msg));
            }
        }
        Ok(())
    }
}

fn loose_finding(path: &std::path::Path, mode: u32, is_dir: bool, is_key: bool) -> Finding {
    let p = path.display();
    let (sev, code, want) = if is_key {
        (Severity::Critical, "key-permissions", "600")
    } else if is_dir {
        (Severity::Warning, "dir-permissions", "700")
    } else {
        (Severity::Warning, "file-permissions", "600")
    };
    let extra = if is_key { " and treat the key as exposed if others could log in here" } else { "" };
    let msg = format!("{p} has mode {mode:04o}, readable by others: `chmod {want} {p}`{extra}");
    Finding::new(sev, code, "file", p.to_string(), msg)
}

/// (serial key, SHA-256, CA, sequence number) of a cert-issued ledger line.
fn issued_entry(line: &str) -> Option<([u8; 16], [u8; 32], String, u64)> {
    let rec: LedgerRecord = serde_json::from_str(line).ok()?;
    if rec.event != "cert-issued" {
        return None;
    }
    let key = Serial::parse(rec.data["serial"].as_str()?).ok()?.key16()?;
    let hex = rec.data["sha256"].as_str()?;
    let mut sha = [0u8; 32];
    for (i, b) in sha.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((key, sha, rec.data["ca"].as_str()?.to_string(), rec.seq))
}
