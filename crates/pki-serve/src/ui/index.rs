//! The inventory in memory, for the page's table: a million rows searched, filtered, sorted
//! and cut into pages in milliseconds. Built from one pass over `inventory.tsv` (the core's
//! reader) when the directory changed (its publication stamp): per row its expiry, status, CA,
//! profile, the offset of its line, and its serial and names in lower case for the search
//! (about 130 bytes a row). A page's 50 rows are read back from their lines.

use std::time::Duration;

use anyhow::Result;
use pki_core::store::{CaDir, Status};
use time::OffsetDateTime;

/// Rows per page.
pub const PAGE: usize = 50;

#[derive(Debug, Clone, Copy)]
struct Row {
    not_after: i64,
    /// Where its line starts in inventory.tsv (the page's rows are read from there).
    file_off: u64,
    /// Into the search text: "serial\tnames", lower case.
    off: u32,
    len: u32,
    status: Status,
    ca: u16,
    profile: u16,
}

/// The inventory as the table reads it.
pub struct Index {
    /// The directory's publication stamp it was built at.
    pub stamp: u64,
    rows: Vec<Row>,
    by_expiry: Vec<u32>,
    /// Every row's serial and names, lower case, one after another: searched in one pass.
    text: Vec<u8>,
    /// CA names, by index.
    pub cas: Vec<String>,
    /// Profile names, by index ("-" for none).
    pub profiles: Vec<String>,
}

/// What the table is asked for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Text the serial or a name contains (ASCII case ignored).
    pub q: String,
    /// valid, expired, revoked or superseded (as of now).
    pub status: Option<String>,
    /// Issuing CA.
    pub ca: Option<String>,
    /// Profile.
    pub profile: Option<String>,
    /// Valid and expiring within this.
    pub expiring: Option<Duration>,
    /// "expiry" (soonest first, the default), "expiry-desc", or "issued".
    pub sort: String,
    /// Page number, from 1.
    pub page: usize,
}

/// One row of a page.
#[derive(Debug, Clone)]
pub struct Line {
    /// Serial.
    pub serial: String,
    /// Status as of now.
    pub status: &'static str,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// CA.
    pub ca: String,
    /// Profile.
    pub profile: String,
    /// Names (SANs, subject).
    pub names: String,
}

/// A page of the table.
pub struct Page {
    /// Its rows.
    pub lines: Vec<Line>,
    /// Rows matching the query.
    pub matching: usize,
    /// The page shown (from 1) and the number of pages.
    pub page: usize,
    /// Pages.
    pub pages: usize,
}

/// The status as of `now`: a stored `valid` past its notAfter is `expired`, as `pki list` says.
pub fn status_now(s: Status, not_after: i64, now: i64) -> &'static str {
    match s {
        Status::Revoked => "revoked",
        Status::Superseded => "superseded",
        Status::Valid if not_after <= now => "expired",
        Status::Valid => "valid",
    }
}

fn intern(names: &mut Vec<String>, s: &str) -> u16 {
    match names.iter().position(|n| n == s) {
        Some(i) => i as u16,
        None if names.len() < u16::MAX as usize => {
            names.push(s.to_string());
            (names.len() - 1) as u16
        }
        None => (names.len() - 1) as u16,
    }
}

impl Index {
    /// Reads the inventory.
    pub fn build(dir: &CaDir, stamp: u64) -> Result<Index> {
        let (mut rows, mut text, mut cas, mut profiles) = (vec![], Vec::new(), vec![], vec!["-".to_string()]);
        dir.scan_inventory_at(
            |_, file_off, v| {
                let Ok(v) = v else { return Ok(()) };
                let not_after =
                    pki_core::certs::parse_rfc3339(v.not_after).map(|t| t.unix_timestamp()).unwrap_or(i64::MIN);
                let off = text.len() as u32;
                text.extend(v.serial.bytes().map(|b| b.to_ascii_lowercase()));
                text.push(b'\t');
                text.extend(super::data::names_line(v.subject, v.sans()).bytes().map(|b| b.to_ascii_lowercase()));
                text.push(b'\n');
                rows.push(Row {
                    not_after,
                    file_off,
                    status: v.status,
                    ca: intern(&mut cas, v.ca),
                    profile: intern(&mut profiles, v.profile.unwrap_or("-")),
                    off,
                    len: text.len() as u32 - off,
                });
                Ok(())
            },
            |_, _| {},
        )?;
        let mut by_expiry: Vec<u32> = (0..rows.len() as u32).collect();
        by_expiry.sort_by_key(|&i| rows[i as usize].not_after);
        Ok(Index { stamp, rows, by_expiry, text, cas, profiles })
    }

    /// Rows in the inventory.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the inventory is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows whose serial or names contain `needle` (lower case): one pass of a substring
    /// search over all the text, each hit mapped to its row.
    fn search(&self, needle: &str) -> Vec<bool> {
        let mut hit = vec![false; self.rows.len()];
        let mut row = 0usize;
        for at in memchr::memmem::find_iter(&self.text, needle.as_bytes()) {
            // Hits come in order: move forward to the row holding this offset.
            while row + 1 < self.rows.len() && self.rows[row + 1].off as usize <= at {
                row += 1;
            }
            let r = &self.rows[row];
            // A hit across the end of a row (it holds the newline) belongs to none.
            if at + needle.len() <= (r.off + r.len) as usize {
                hit[row] = true;
            }
        }
        hit
    }

    /// The inventory record of certificate `serial` (canonical hex), read back from its line:
    /// found by one substring search for the serial at the start of a row, not by reading the
    /// inventory through.
    pub fn record(&self, dir: &CaDir, serial: &str) -> Result<Option<pki_core::store::InventoryRecord>> {
        let key = format!("{}\t", serial.to_ascii_lowercase());
        for at in memchr::memmem::find_iter(&self.text, key.as_bytes()) {
            if at == 0 || self.text[at - 1] == b'\n' {
                let row = self.rows.partition_point(|r| (r.off as usize) <= at) - 1;
                return dir.inventory_line_at(self.rows[row].file_off, serial);
            }
        }
        Ok(None)
    }

    /// One page of what matches: what matches is counted in one sequential pass, then the
    /// chosen order is walked only as far as the page; its rows are read from inventory.tsv.
    pub fn page(&self, dir: &CaDir, q: &Query, now: OffsetDateTime) -> Page {
        let now_s = now.unix_timestamp();
        let needle = q.q.trim().to_ascii_lowercase().replace(['\n', '\t'], " ");
        let hits = if needle.is_empty() { None } else { Some(self.search(&needle)) };
        let ca = q.ca.as_ref().map(|c| self.cas.iter().position(|x| x == c));
        let profile = q.profile.as_ref().map(|p| self.profiles.iter().position(|x| x == p));
        let until = q.expiring.map(|w| now_s + w.as_secs() as i64);
        let keep = |i: usize| -> bool {
            let r = &self.rows[i];
            if hits.as_ref().is_some_and(|h| !h[i]) {
                return false;
            }
            if let Some(c) = ca
                && c != Some(r.ca as usize)
            {
                return false;
            }
            if let Some(p) = profile
                && p != Some(r.profile as usize)
            {
                return false;
            }
            let st = status_now(r.status, r.not_after, now_s);
            if q.status.as_deref().is_some_and(|s| s != st) {
                return false;
            }
            if let Some(u) = until
                && (st != "valid" || r.not_after > u)
            {
                return false;
            }
            true
        };
        let matching = (0..self.rows.len()).filter(|&i| keep(i)).count();
        let pages = matching.div_ceil(PAGE).max(1);
        let page = q.page.max(1).min(pages);
        let first = (page - 1) * PAGE;
        let order: Box<dyn Iterator<Item = usize>> = match q.sort.as_str() {
            "issued" => Box::new(0..self.rows.len()),
            "expiry-desc" => Box::new(self.by_expiry.iter().rev().map(|&i| i as usize)),
            _ => Box::new(self.by_expiry.iter().map(|&i| i as usize)),
        };
        let chosen: Vec<usize> = order.filter(|&i| keep(i)).skip(first).take(PAGE).collect();
        let lines = chosen
            .into_iter()
            .map(|i| {
                let r = &self.rows[i];
                let t = String::from_utf8_lossy(&self.text[r.off as usize..(r.off + r.len) as usize - 1]).into_owned();
                let serial = t.split('\t').next().unwrap_or("").to_ascii_uppercase();
                // The row as the inventory has it now (original case); the search text if the
                // line moved (a reindex since the index was built).
                let (names, not_after, status) = match dir.inventory_line_at(r.file_off, &serial) {
                    Ok(Some(rec)) => (
                        super::data::names_line(&rec.subject, rec.sans.iter()),
                        pki_core::certs::parse_rfc3339(&rec.not_after)
                            .map(|t| t.unix_timestamp())
                            .unwrap_or(r.not_after),
                        rec.status,
                    ),
                    _ => (t.split_once('\t').map(|x| x.1.to_string()).unwrap_or_default(), r.not_after, r.status),
                };
                Line {
                    serial,
                    status: status_now(status, not_after, now_s),
                    not_after: OffsetDateTime::from_unix_timestamp(not_after).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    ca: self.cas.get(r.ca as usize).cloned().unwrap_or_default(),
                    profile: self.profiles.get(r.profile as usize).cloned().unwrap_or_default(),
                    names,
                }
            })
            .collect();
        Page { lines, matching, page, pages }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn statuses_are_as_of_now() {
        use pki_core::store::Status;
        assert_eq!(super::status_now(Status::Valid, 10, 10), "expired");
        assert_eq!(super::status_now(Status::Valid, 11, 10), "valid");
        assert_eq!(super::status_now(Status::Revoked, 11, 10), "revoked");
    }
}
