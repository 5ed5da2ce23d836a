//! What the page shows, computed from the directory by the core (the same audit `pki audit`
//! runs, the same inventory `pki list` reads): the CAs and their health, the findings, the
//! expiry timeline, the certificates expiring soon. Shared by `/ui/` and `pki report --html`.

use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use anyhow::Result;
use pki_core::audit::{self, Finding, Report};
use pki_core::store::{CaDir, Status};
use time::OffsetDateTime;

/// Days the timeline covers.
pub const TIMELINE_DAYS: usize = 90;
/// The most certificates listed as expiring (the rest are counted): a summary, not the
/// inventory.
pub const MAX_EXPIRING: usize = 500;
/// The most groups drawn in the timeline; the rest are one "other" group.
pub const MAX_GROUPS: usize = 7;

/// One CA as the page shows it.
#[derive(Debug, Clone)]
pub struct CaInfo {
    /// Its name in the directory.
    pub name: String,
    /// Its subject.
    pub subject: String,
    /// The CA that signed it (None for a root).
    pub parent: Option<String>,
    /// Validity.
    pub not_before: OffsetDateTime,
    /// Validity.
    pub not_after: OffsetDateTime,
    /// Whether its key is encrypted at rest (None: no key here, e.g. a root kept offline).
    pub key_encrypted: Option<bool>,
    /// Its current CRL: (thisUpdate, nextUpdate), if it has one.
    pub crl: Option<(OffsetDateTime, Option<OffsetDateTime>)>,
    /// The audit's findings about this CA and its CRL.
    pub findings: Vec<Finding>,
}

/// Certificates by expiry day over the next [`TIMELINE_DAYS`], per group (profile or CA).
#[derive(Debug, Clone)]
pub struct Timeline {
    /// "profile" or "ca".
    pub by: &'static str,
    /// The first day's start (UTC midnight).
    pub start: OffsetDateTime,
    /// Group names with a count per day, largest groups first ("other" last).
    pub groups: Vec<(String, Vec<u64>)>,
}

impl Timeline {
    /// Total per day, all groups.
    pub fn totals(&self) -> Vec<u64> {
        (0..TIMELINE_DAYS).map(|d| self.groups.iter().map(|g| g.1[d]).sum()).collect()
    }
}

/// A certificate expiring soon.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expiring {
    /// notAfter (RFC 3339; sorts as time).
    pub not_after: String,
    /// Serial.
    pub serial: String,
    /// Issuing CA.
    pub ca: String,
    /// Profile ("-" for none).
    pub profile: String,
    /// Subject and SANs, for people.
    pub names: String,
}

/// Everything the overview shows.
pub struct Overview {
    /// The time judged by.
    pub now: OffsetDateTime,
    /// The expiry window of the findings and the expiring list.
    pub window: Duration,
    /// The audit.
    pub report: Report,
    /// The CAs, roots first.
    pub cas: Vec<CaInfo>,
    /// The expiry timeline.
    pub timeline: Timeline,
    /// Expiring within the window, soonest first, at most [`MAX_EXPIRING`].
    pub expiring: Vec<Expiring>,
    /// How many expire within the window.
    pub expiring_total: u64,
}

/// The names of an inventory row as one line: SANs without their type, and the subject.
pub fn names_line(subject: &str, sans: impl Iterator<Item = impl AsRef<str>>) -> String {
    let mut v: Vec<String> = sans.map(|s| s.as_ref().to_string()).filter(|s| s != "-" && !s.is_empty()).collect();
    if !subject.is_empty() && subject != "-" {
        v.push(subject.to_string());
    }
    v.join(", ")
}

/// Computes the overview: one audit and one pass over the inventory.
pub fn overview(dir: &CaDir, now: OffsetDateTime, window: Duration, by_ca: bool) -> Result<Overview> {
    let opts = audit::Options { window, ca: None, deep: false, include_short_lived: false, ledger_head: None };
    let report = audit::run(dir, now, &opts, &mut |_, _, _| {})?;
    let loaded = dir.ca_names()?.into_iter().map(|n| pki_core::ca::Ca::load(dir, &n)).collect::<Result<Vec<_>>>()?;
    let mut cas = vec![];
    for ca in &loaded {
        let name = ca.name.clone();
        let key_encrypted = dir.read_ca_key_pem(&name).ok().map(|k| k.contains("BEGIN ENCRYPTED PRIVATE KEY"));
        // The CA whose subject is this one's issuer (none for a root).
        let parent = (!ca.self_signed)
            .then(|| loaded.iter().find(|o| o.name != name && o.subject_raw == ca.issuer_raw).map(|o| o.name.clone()))
            .flatten();
        let findings: Vec<Finding> = report
            .findings
            .iter()
            .filter(|f| f.ca.as_deref() == Some(name.as_str()) && (f.object == "ca" || f.object == "crl"))
            .cloned()
            .collect();
        cas.push(CaInfo {
            crl: pki_core::crl::current_times(dir, &name).ok().flatten(),
            name,
            subject: ca.subject.clone(),
            parent,
            not_before: ca.not_before,
            not_after: ca.not_after,
            key_encrypted,
            findings,
        });
    }
    cas.sort_by_key(|c| (c.parent.is_some(), c.name.clone()));

    let day0 = now.replace_time(time::Time::MIDNIGHT);
    let (start, horizon) = (day0.unix_timestamp(), day0.unix_timestamp() + 86_400 * TIMELINE_DAYS as i64);
    let (now_s, until) = (now.unix_timestamp(), now.unix_timestamp() + window.as_secs() as i64);
    let mut groups: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut heap: BinaryHeap<Expiring> = BinaryHeap::new();
    let mut expiring_total = 0u64;
    dir.scan_inventory(
        |_, v| {
            let Ok(v) = v else { return Ok(()) };
            if v.status != Status::Valid {
                return Ok(());
            }
            let Ok(t) = pki_core::certs::parse_rfc3339(v.not_after) else { return Ok(()) };
            let t = t.unix_timestamp();
            if t <= now_s {
                return Ok(());
            }
            if t < horizon {
                let g = if by_ca { v.ca } else { v.profile.unwrap_or("-") };
                let counts = match groups.get_mut(g) {
                    Some(c) => c,
                    None => groups.entry(g.to_string()).or_insert_with(|| vec![0; TIMELINE_DAYS]),
                };
                counts[((t - start) / 86_400) as usize] += 1;
            }
            if t <= until {
                expiring_total += 1;
                let worse = heap.peek().is_none_or(|top| v.not_after < top.not_after.as_str());
                if heap.len() < MAX_EXPIRING || worse {
                    heap.push(Expiring {
                        not_after: v.not_after.to_string(),
                        serial: v.serial.to_string(),
                        ca: v.ca.to_string(),
                        profile: v.profile.unwrap_or("-").to_string(),
                        names: names_line(v.subject, v.sans()),
                    });
                    if heap.len() > MAX_EXPIRING {
                        heap.pop();
                    }
                }
            }
            Ok(())
        },
        |_, _| {},
    )?;
    // Ascending: soonest first (the heap never holds more than MAX_EXPIRING).
    let expiring = heap.into_sorted_vec();
    let mut g: Vec<(String, Vec<u64>)> = groups.into_iter().collect();
    g.sort_by_key(|(n, c)| (std::cmp::Reverse(c.iter().sum::<u64>()), n.clone()));
    if g.len() > MAX_GROUPS {
        let rest = g.split_off(MAX_GROUPS - 1);
        let mut other = vec![0; TIMELINE_DAYS];
        for (_, c) in rest {
            for (o, x) in other.iter_mut().zip(c) {
                *o += x;
            }
        }
        g.push(("other".into(), other));
    }
    let timeline = Timeline {
        by: if by_ca { "ca" } else { "profile" },
        start: OffsetDateTime::from_unix_timestamp(start).unwrap_or(now),
        groups: g,
    };
    Ok(Overview { now, window, report, cas, timeline, expiring, expiring_total })
}
