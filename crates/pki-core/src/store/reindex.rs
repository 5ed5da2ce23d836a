//! `pki reindex`: the inventory rebuilt from the ledger and the stored certificates.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use serde::Serialize;

use super::fsio::*;
use super::records::*;
use super::*;
use crate::serial::Serial;

impl Locked<'_> {
    /// Rebuilds `inventory.tsv` from the ledger and the stored certificate files.
    /// Streams the ledger twice; memory is one small entry per revoked certificate plus
    /// 16 bytes per certificate for the orphan check.
    pub fn reindex(&self, mut progress: impl FnMut(u64), mut warn: impl FnMut(String)) -> Result<ReindexReport> {
        // Pass 1: later state changes (revocation, renewal) by serial.
        let mut updates: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
        self.dir.for_each_ledger_line(|_, line| {
            let rec: LedgerRecord = serde_json::from_str(line)?;
            if rec.event == "cert-issued"
                && let (Some(old), Some(new)) = (rec.data["renews"].as_str(), rec.data["serial"].as_str())
            {
                let d = serde_json::json!({"event": "cert-superseded", "replaced_by": new});
                updates.entry(old.to_string()).or_default().push(d);
            }
            if (rec.event == "cert-revoked" || rec.event == HOLD_RELEASED || rec.event == "cert-superseded")
                && let Some(s) = rec.data["serial"].as_str()
            {
                let mut d = rec.data.clone();
                d["event"] = rec.event.clone().into();
                updates.entry(s.to_string()).or_default().push(d);
            }
            Ok(())
        })?;

        // The revoked lists are derived from the ledger too.
        let mut lists: HashMap<String, String> = HashMap::new();
        let mut blocked = String::new();
        self.dir.for_each_ledger_line(|_, line| {
            let rec: LedgerRecord = serde_json::from_str(line)?;
            if rec.event == "cert-revoked" || rec.event == HOLD_RELEASED {
                let rev = Revocation::from_ledger_data(&rec.data)?;
                if let (Some(k), "keyCompromise") = (&rev.key, rev.reason.as_str())
                    && !blocked.contains(k.as_str())
                {
                    blocked.push_str(&format!("{k}\t{}\t{}\t{}\n", rev.serial, rev.ca, rec.time));
                }
                let l = lists.entry(rev.ca.clone()).or_default();
                l.push_str(&rev.to_line());
                l.push('\n');
            }
            Ok(())
        })?;
        if !lists.is_empty() {
            self.dir.fs.mkdir_0700(&self.dir.root.join(CRL_DIR))?;
        }
        for (ca, text) in &lists {
            self.dir.fs.write_atomic(&self.dir.revoked_list_path(ca), text.as_bytes(), 0o600)?;
        }
        if !blocked.is_empty() {
            self.dir.fs.write_atomic(&self.dir.path(BLOCKED_KEYS), blocked.as_bytes(), 0o600)?;
        }

        // Pass 2: one inventory line per issuance whose certificate file is present.
        let tmp = temp_path(&self.dir.path(INVENTORY));
        let mut out = std::io::BufWriter::new(self.dir.fs.create_new_file(&tmp, 0o600)?);
        // A refusal or failure below leaves no temp file behind.
        let mut guard = TempFile { fs: &self.dir.fs, path: Some(tmp.clone()) };
        writeln!(out, "{INVENTORY_HEADER}")?;
        let mut seen: HashSet<[u8; 16]> = HashSet::new();
        let mut report = ReindexReport::default();
        self.dir.for_each_ledger_line(|n, line| {
            let rec: LedgerRecord = serde_json::from_str(line)?;
            if rec.event != "cert-issued" {
                return Ok(());
            }
            let mut inv = InventoryRecord::from_ledger_data(&rec.data)
                .with_context(|| format!("ledger line {n}: malformed cert-issued record"))?;
            let serial = Serial::parse(&inv.serial)?;
            let path = self.dir.cert_path(&serial);
            if let Some(key) = serial.key16() {
                seen.insert(key);
            }
            if self.dir.fs.lstat(&path)?.is_none() {
                warn(format!(
                    "certificate {} is in the ledger but {} is missing: left out",
                    inv.serial,
                    path.display()
                ));
                report.missing += 1;
                return Ok(());
            }
            // The stored certificate must be the one the ledger recorded.
            let pem_text = String::from_utf8_lossy(
                &self.dir.fs.read_if_exists(&path, crate::limits::MAX_OBJECT)?.unwrap_or_default(),
            )
            .into_owned();
            let actual = ::pem::parse(&pem_text).ok().map(|p| sha256_hex(p.contents()));
            if let Some(want) = rec.data["sha256"].as_str()
                && actual.as_deref() != Some(want)
            {
                warn(format!(
                    "{} does not match the certificate the ledger recorded (SHA-256): left out",
                    path.display()
                ));
                report.mismatched += 1;
                return Ok(());
            }
            for u in updates.get(&inv.serial).into_iter().flatten() {
                inv.apply_update(u);
            }
            writeln!(out, "{}", inv.to_line())?;
            report.records += 1;
            progress(report.records);
            Ok(())
        })?;
        let file = out.into_inner().map_err(|e| anyhow!("cannot write {}: {}", tmp.display(), e.error()))?;
        file.sync_all()?;
        drop(file);

        // Certificate files that no ledger record vouches for.
        let certs = self.dir.root.join(CERTS);
        for (shard, is_dir) in self.dir.fs.read_dir(&certs)? {
            if !is_dir {
                continue;
            }
            for (name, _) in self.dir.fs.read_dir(&certs.join(&shard))? {
                let known = name
                    .strip_suffix(".pem")
                    .and_then(|s| Serial::parse(s).ok()?.key16())
                    .is_some_and(|k| seen.contains(&k));
                if !known {
                    warn(format!(
                        "{} has no ledger record: left out of the inventory",
                        certs.join(&shard).join(&name).display()
                    ));
                    report.orphans += 1;
                }
            }
        }
        let dest = self.dir.path(INVENTORY);
        self.dir.fs.rename(&tmp, &dest)?;
        guard.path = None;
        self.dir.fs.fsync_dir(&self.dir.root)?;
        Ok(report)
    }
}

/// What `reindex` found and did.
#[derive(Debug, Default, Serialize)]
pub struct ReindexReport {
    /// Inventory records written.
    pub records: u64,
    /// Certificates in the ledger whose file is missing.
    pub missing: u64,
    /// Certificate files that do not match the ledger.
    pub mismatched: u64,
    /// Certificate files with no ledger record.
    pub orphans: u64,
}

/// Removes a temp file when dropped, unless it was moved into place (`path` taken).
struct TempFile<'a> {
    fs: &'a super::root::Root,
    path: Option<std::path::PathBuf>,
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = self.fs.remove_file(p);
        }
    }
}
