//! The records of the directory's text files: inventory lines, revoked-list lines and ledger
//! records, with their parsers.

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::*;

/// A revocation as `crl/NAME.revoked.tsv` keeps it: what the CRL needs, one line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// The certificate's serial, upper-case hex.
    pub serial: String,
    /// The CA that issued the revoked certificate (whose CRL lists it).
    pub ca: String,
    /// When it was revoked (RFC 3339).
    pub revoked_at: String,
    /// The RFC 5280 reason name, e.g. `keyCompromise`.
    pub reason: String,
    /// When the key is known or suspected to have been compromised, if earlier (RFC 3339).
    pub invalidity_date: Option<String>,
    /// When the certificate expires (RFC 3339); the CRL may drop it after that.
    pub not_after: String,
    /// "leaf", or "ca" for an intermediate CA's certificate.
    pub kind: String,
    /// SHA-256 (hex) of the certificate's SubjectPublicKeyInfo, recorded with a keyCompromise
    /// (the key goes on the blocklist). Not in the revoked list's line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Revocation {
    /// The line of `crl/NAME.revoked.tsv`: seven tab-separated fields.
    pub fn to_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.serial,
            self.ca,
            self.revoked_at,
            self.reason,
            self.invalidity_date.as_deref().unwrap_or("-"),
            self.not_after,
            self.kind
        )
    }

    /// Parses a line of `crl/NAME.revoked.tsv`.
    pub fn parse(line: &str) -> Result<Revocation> {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 7 {
            bail!("expected 7 tab-separated fields, found {}", f.len());
        }
        Ok(Revocation {
            serial: f[0].into(),
            ca: f[1].into(),
            revoked_at: f[2].into(),
            reason: f[3].into(),
            invalidity_date: opt(f[4]),
            not_after: f[5].into(),
            kind: f[6].into(),
            key: None,
        })
    }

    pub(super) fn ledger_data(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("revocations serialize")
    }

    pub(super) fn from_ledger_data(d: &serde_json::Value) -> Result<Revocation> {
        let s = |k: &str| -> Result<String> {
            d[k].as_str().map(str::to_string).ok_or_else(|| anyhow!("field '{k}' missing"))
        };
        Ok(Revocation {
            serial: s("serial")?,
            ca: s("ca")?,
            revoked_at: s("revoked_at")?,
            reason: s("reason")?,
            invalidity_date: d["invalidity_date"].as_str().map(str::to_string),
            not_after: s("not_after")?,
            kind: s("kind")?,
            key: d["key"].as_str().map(str::to_string),
        })
    }
}

/// One line of `ledger.jsonl`. `prev` is the SHA-256 (hex) of the previous line's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerRecord {
    /// The record's number: 1, 2, 3, ... without gaps.
    pub seq: u64,
    /// When the change was made (RFC 3339).
    pub time: String,
    /// What happened: `ca-created`, `cert-issued`, `cert-revoked`, `crl-generated`, ...
    pub event: String,
    /// Who made the change.
    pub actor: String,
    /// CI job identifiers recorded with the change.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ci: std::collections::BTreeMap<String, String>,
    /// The actor's free-text note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The event's facts (serial, names, reason, ...).
    pub data: serde_json::Value,
    /// SHA-256 (hex) of `pki.toml` as pki last wrote or accepted it, carried forward by every
    /// record so the ledger's last line says which settings are on the record (absent in
    /// records written before pki recorded settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
    /// SHA-256 (hex) of the previous line's bytes; 64 zeros for the first record.
    pub prev: String,
    /// The signature of a CA key unlocked for this change, over the line without this field
    /// (always the last field; see `head.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<super::head::LedgerSig>,
}

/// The state of an issued certificate that is stored (expiry is computed from `not_after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Issued and neither revoked nor renewed.
    Valid,
    /// Revoked.
    Revoked,
    /// Renewed: `replaced_by` names the successor.
    Superseded,
}

impl Status {
    /// The name in the inventory and in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Revoked => "revoked",
            Status::Superseded => "superseded",
        }
    }
    pub(super) fn parse(s: &str) -> Option<Status> {
        match s.trim_ascii_end() {
            "valid" => Some(Status::Valid),
            "revoked" => Some(Status::Revoked),
            "superseded" => Some(Status::Superseded),
            _ => None,
        }
    }
}

/// One line of `inventory.tsv`. The first seven fields have a fixed width so that a later
/// change of state (revocation, renewal) can be written in place without moving other lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryRecord {
    /// Serial, upper-case hex.
    pub serial: String,
    /// Stored state.
    pub status: Status,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// Why it was revoked (RFC 5280 reason name).
    pub reason: Option<String>,
    /// The serial of the certificate that renewed it.
    pub replaced_by: Option<String>,
    /// The issuing CA's name.
    pub ca: String,
    /// The profile it was issued under.
    pub profile: Option<String>,
    /// `p256`, `p384`, `ed25519` or `rsa`.
    pub key_type: String,
    /// The subject, e.g. `CN=api.acme.internal`.
    pub subject: String,
    /// The SANs, each with its type: `DNS:a`, `IP:10.0.0.1`, `URI:spiffe://...`.
    pub sans: Vec<String>,
}

/// An inventory line borrowed from the reader's buffer: the fixed-width fields by offset, the
/// rest split at tabs. No allocation.
#[derive(Debug, Clone, Copy)]
pub struct InventoryView<'a> {
    /// Serial, upper-case hex.
    pub serial: &'a str,
    /// Stored state.
    pub status: Status,
    /// Start of validity (RFC 3339).
    pub not_before: &'a str,
    /// End of validity (RFC 3339).
    pub not_after: &'a str,
    /// When it was revoked.
    pub revoked_at: Option<&'a str>,
    /// Why it was revoked.
    pub reason: Option<&'a str>,
    /// The serial of the certificate that renewed it.
    pub replaced_by: Option<&'a str>,
    /// The issuing CA's name.
    pub ca: &'a str,
    /// The profile it was issued under.
    pub profile: Option<&'a str>,
    /// The key type.
    pub key_type: &'a str,
    /// The subject.
    pub subject: &'a str,
    /// Comma-separated, each with its type: `DNS:a,IP:10.0.0.1,URI:spiffe://...`.
    pub sans: &'a str,
}

impl<'a> InventoryView<'a> {
    /// Parses an inventory line; the error says what is wrong with it.
    pub fn parse(line: &'a str) -> Result<InventoryView<'a>, String> {
        let b = line.as_bytes();
        // Tab positions of the fixed-width part (see FIXED_PREFIX_LEN).
        const TABS: [usize; 7] = [32, 43, 64, 85, 106, 127, 160];
        if b.len() <= FIXED_PREFIX_LEN
            || TABS.iter().any(|&i| b[i] != b'\t')
            || !line.is_char_boundary(FIXED_PREFIX_LEN)
        {
            return Err("the fixed-width fields are damaged".into());
        }
        let status = Status::parse(&line[33..43])
            .ok_or_else(|| format!("unknown status '{}'", line[33..43].trim_end().escape_debug()))?;
        let mut rest = line[FIXED_PREFIX_LEN..].split('\t');
        let (Some(ca), Some(profile), Some(key_type), Some(subject), Some(sans), None) =
            (rest.next(), rest.next(), rest.next(), rest.next(), rest.next(), rest.next())
        else {
            return Err("expected 12 tab-separated fields".into());
        };
        // The padding is ASCII spaces: a byte loop, not the char-by-char `trim_end` (which was
        // a sixth of an audit's time at a million records).
        let field = |r: std::ops::Range<usize>| Some(line[r].trim_ascii_end()).filter(|t| *t != "-" && !t.is_empty());
        Ok(InventoryView {
            serial: line[..32].trim_ascii_end(),
            status,
            not_before: line[44..64].trim_ascii_end(),
            not_after: line[65..85].trim_ascii_end(),
            revoked_at: field(86..106),
            reason: field(107..127),
            replaced_by: field(128..160),
            ca,
            profile: (profile != "-").then_some(profile),
            key_type,
            subject,
            sans: if sans == "-" { "" } else { sans },
        })
    }

    /// The SANs one by one.
    pub fn sans(&self) -> impl Iterator<Item = &'a str> {
        self.sans.split(',').filter(|s| !s.is_empty())
    }

    /// An owned copy.
    pub fn to_record(self) -> InventoryRecord {
        let owned = |o: Option<&str>| o.map(str::to_string);
        InventoryRecord {
            serial: self.serial.to_string(),
            status: self.status,
            not_before: self.not_before.to_string(),
            not_after: self.not_after.to_string(),
            revoked_at: owned(self.revoked_at),
            reason: owned(self.reason),
            replaced_by: owned(self.replaced_by),
            ca: self.ca.to_string(),
            profile: owned(self.profile),
            key_type: self.key_type.to_string(),
            subject: self.subject.to_string(),
            sans: self.sans().map(str::to_string).collect(),
        }
    }
}

pub(super) fn opt(s: &str) -> Option<String> {
    let t = s.trim_end();
    if t == "-" || t.is_empty() { None } else { Some(t.to_string()) }
}

/// Tabs and newlines would break the line format; subjects and SANs never need them.
pub(super) fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

impl InventoryRecord {
    /// The inventory line: fixed-width state fields, then the rest, tab-separated.
    pub fn to_line(&self) -> String {
        format!(
            "{:<32}\t{:<10}\t{:<20}\t{:<20}\t{:<20}\t{:<20}\t{:<32}\t{}\t{}\t{}\t{}\t{}",
            self.serial,
            self.status.as_str(),
            self.not_before,
            self.not_after,
            self.revoked_at.as_deref().unwrap_or("-"),
            self.reason.as_deref().unwrap_or("-"),
            self.replaced_by.as_deref().unwrap_or("-"),
            clean(&self.ca),
            clean(self.profile.as_deref().unwrap_or("-")),
            clean(&self.key_type),
            clean(&self.subject),
            if self.sans.is_empty() { "-".to_string() } else { clean(&self.sans.join(",")) },
        )
    }

    /// Parses an inventory line.
    pub fn parse(line: &str) -> Result<InventoryRecord> {
        InventoryView::parse(line).map(|v| v.to_record()).map_err(|why| anyhow!(why))
    }

    pub(super) fn ledger_data(&self) -> serde_json::Value {
        serde_json::json!({
            "serial": self.serial,
            "ca": self.ca,
            "profile": self.profile,
            "key_type": self.key_type,
            "subject": self.subject,
            "sans": self.sans,
            "not_before": self.not_before,
            "not_after": self.not_after,
        })
    }

    pub(super) fn from_ledger_data(d: &serde_json::Value) -> Result<InventoryRecord> {
        let s = |k: &str| -> Result<String> {
            d[k].as_str().map(str::to_string).ok_or_else(|| anyhow!("field '{k}' missing"))
        };
        Ok(InventoryRecord {
            serial: s("serial")?,
            status: Status::Valid,
            not_before: s("not_before")?,
            not_after: s("not_after")?,
            revoked_at: None,
            reason: None,
            replaced_by: None,
            ca: s("ca")?,
            profile: d["profile"].as_str().map(str::to_string),
            key_type: s("key_type")?,
            subject: s("subject")?,
            sans: d["sans"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        })
    }

    /// Applies a ledger record's state change (`cert-revoked`, `hold-released`,
    /// `cert-superseded`) to this record.
    pub fn apply_update(&mut self, u: &serde_json::Value) {
        match u["event"].as_str() {
            Some("cert-revoked") => {
                self.status = Status::Revoked;
                self.revoked_at = u["revoked_at"].as_str().map(str::to_string);
                self.reason = u["reason"].as_str().map(str::to_string);
            }
            Some(HOLD_RELEASED) => {
                self.status = Status::Valid;
                self.revoked_at = None;
                self.reason = None;
            }
            Some("cert-superseded") => {
                if self.status == Status::Valid {
                    self.status = Status::Superseded;
                }
                self.replaced_by = u["replaced_by"].as_str().map(str::to_string);
            }
            _ => {}
        }
    }
}
