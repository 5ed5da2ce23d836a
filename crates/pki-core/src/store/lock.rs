//! The directory's lock and every change made under it: recovery of what a killed process
//! left, and the commit protocol (stage, append to the ledger, move into place).

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;

use anyhow::{Result, anyhow, bail};

use super::fsio::*;
use super::records::*;
use super::root::{Access, is_not_found};
use super::*;
use crate::context::Actor;
use crate::hooks::crash_point;
use crate::serial::Serial;

/// Proof that this process holds the directory's lock; every change goes through it.
pub struct Locked<'a> {
    /// The directory locked.
    pub dir: &'a CaDir,
    /// The locked descriptor of the directory: the lock lasts as long as this guard.
    pub(super) _lock: File,
    /// The CA key that signs the ledger records written under this lock, if one is unlocked.
    pub(super) signer: std::sync::Mutex<Option<super::head::LedgerSigner>>,
}

/// What a new CA consists of on disk.
pub struct NewCa<'b> {
    /// The CA's name.
    pub name: &'b str,
    /// Its certificate, PEM.
    pub cert_pem: &'b str,
    /// Its private key, PEM (encrypted unless the user opted out).
    pub key_pem: &'b str,
    /// The facts recorded in the ledger's `ca-created` record.
    pub data: serde_json::Value,
}

impl Locked<'_> {
    /// Signs the ledger records of the changes made under this lock with this CA key (the
    /// last record of each change: the hash chain covers the others).
    pub fn sign_with(&self, signer: super::head::LedgerSigner) {
        *self.signer.lock().unwrap_or_else(|e| e.into_inner()) = Some(signer);
    }

    pub(super) fn recover(&self) -> Result<()> {
        let root = &self.dir.root;
        let fs = &self.dir.fs;
        fs.remove_stale_temps(root)?;
        let ledger = self.dir.path(LEDGER);
        fs.truncate_partial_tail(&ledger)?;
        let last = self.dir.last_ledger_record()?.map(|(r, _)| r);
        // The committed changes not known to be applied: with a known applied number every one
        // after it (a batch commits many at once); without one (the note was lost or deleted)
        // the last MAX_GROUP records, whose replay below is idempotent.
        let todo: Vec<LedgerRecord> = match (&last, self.dir.applied_seq()) {
            (None, _) => vec![],
            (Some(l), Some(a)) if a >= l.seq => vec![],
            (Some(l), applied) => fs
                .last_lines(&ledger, MAX_GROUP)?
                .iter()
                .filter_map(|line| serde_json::from_str::<LedgerRecord>(line).ok())
                .filter(|r| applied.is_none_or(|a| r.seq > a) && r.seq <= l.seq)
                .collect(),
        };
        let committed_issue =
            |serial: &str| todo.iter().any(|r| r.event == "cert-issued" && r.data["serial"] == serial);

        // CAs staged under cas/.new-NAME: committed ones are moved in, the rest removed.
        let cas = root.join(CAS);
        for (fname, _) in fs.read_dir(&cas)? {
            let Some(name) = fname.strip_prefix(STAGE_PREFIX) else {
                continue;
            };
            let committed = todo.iter().any(|r| r.event == "ca-created" && r.data["name"] == name);
            if committed && fs.lstat(&self.dir.ca_dir(name))?.is_none() {
                fs.rename(&cas.join(&fname), &self.dir.ca_dir(name))?;
                fs.fsync_dir(&cas)?;
            } else {
                fs.remove_dir_all(&cas.join(&fname))?;
            }
        }

        // A batch group's list: its uncommitted certificates are removed.
        let pending = root.join(PENDING);
        for list in self.dir.batch_lists() {
            self.recover_batch(&list)?;
        }
        // Certificates staged under pending/: the same rule as for CAs.
        let staged = fs.read_dir(&pending)?;
        for (fname, _) in &staged {
            let serial = fname.strip_suffix(".pem").and_then(|s| Serial::parse(s).ok());
            match serial {
                Some(s) if committed_issue(&s.hex()) => {
                    let dest = self.dir.cert_path(&s);
                    fs.mkdir_0700(dest.parent().expect("shard"))?;
                    fs.rename(&pending.join(fname), &dest)?;
                    fs.fsync_dir(dest.parent().expect("shard"))?;
                }
                _ => fs.remove_file(&pending.join(fname))?,
            }
        }
        if !staged.is_empty() {
            fs.fsync_dir(&pending)?;
        }

        // The inventory: drop a torn last line, then append the committed issues it lacks (a
        // batch appends its lines in ledger order, so what is there is a prefix of them).
        let inventory = self.dir.path(INVENTORY);
        fs.truncate_partial_tail(&inventory)?;
        let Some(r) = &last else { return Ok(()) };
        if todo.is_empty() {
            return Ok(());
        }
        let issued: Vec<&LedgerRecord> = todo.iter().filter(|r| r.event == "cert-issued").collect();
        let tail: HashSet<String> = fs
            .last_lines(&inventory, issued.len())?
            .iter()
            .map(|l| l.split('\t').next().unwrap_or("").trim_end().to_string())
            .collect();
        for rec in &issued {
            let inv = InventoryRecord::from_ledger_data(&rec.data)?;
            if !tail.contains(&inv.serial) {
                fs.append_line(&inventory, &inv.to_line(), true)?;
            }
            if let Some(old) = rec.data["renews"].as_str() {
                let new = inv.serial.clone();
                self.update_inventory(old, |o| {
                    o.apply_update(&serde_json::json!({"event": "cert-superseded", "replaced_by": new}))
                })?;
            }
        }
        let revoked: Vec<&LedgerRecord> =
            todo.iter().filter(|r| r.event == "cert-revoked" || r.event == HOLD_RELEASED).collect();
        for rec in &revoked {
            let rev = Revocation::from_ledger_data(&rec.data)?;
            self.block_keys(std::slice::from_ref(&rev), &rec.time)?;
            let list = self.dir.revoked_list_path(&rev.ca);
            fs.truncate_partial_tail(&list)?;
            // The list's tail holds this change's lines if it was applied (replays are idempotent).
            if !fs.last_lines(&list, revoked.len())?.contains(&rev.to_line()) {
                fs.append_line(&list, &rev.to_line(), true)?;
            }
            let mut u = rec.data.clone();
            u["event"] = rec.event.clone().into();
            self.update_inventory(&rev.serial, |o| o.apply_update(&u))?;
        }
        self.mark_applied(r.seq)
    }

    /// Records that the change with ledger number `seq` is complete (in `.state`). Not fsynced:
    /// if the note is lost or the file deleted, the next locked run replays the last changes,
    /// which is idempotent.
    pub fn mark_applied(&self, seq: u64) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let text = format!("applied {seq:<20}\n");
        let state = self.dir.path(STATE);
        // Fixed width: one in-place write, never a partly written number.
        let file = self.dir.fs.open(&state, Access::Write(0o600))?;
        file.write_all_at(text.as_bytes(), 0).context("cannot write .state")?;
        Ok(())
    }

    /// Rewrites the fixed-width state fields of one inventory line in place. Scans the file
    /// (revocations and renewals are rare next to issues); other lines are not touched.
    pub fn update_inventory(&self, serial: &str, f: impl FnOnce(&mut InventoryRecord)) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        let p = self.dir.path(INVENTORY);
        let file = match self.dir.fs.open(&p, Access::ReadWrite) {
            Ok(f) => f,
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut r = BufReader::with_capacity(1 << 16, &file);
        let mut raw = Vec::with_capacity(256);
        let mut offset = 0u64;
        let prefix = format!("{serial:<32}\t");
        loop {
            let n = crate::limits::next_line(&mut r, &mut raw, &|| p.display().to_string())?;
            if n == 0 {
                return Ok(false);
            }
            if raw.starts_with(prefix.as_bytes()) && raw.ends_with(b"\n") {
                let line = std::str::from_utf8(&raw).map_err(|_| anyhow!("{} is not UTF-8", p.display()))?;
                let mut rec = InventoryRecord::parse(line.trim_end_matches('\n'))?;
                f(&mut rec);
                let new = rec.to_line();
                let fixed = FIXED_PREFIX_LEN;
                if new.len() + 1 != line.len() || new.as_bytes()[fixed..] != line.as_bytes()[fixed..new.len()] {
                    bail!("inventory line of {serial} would change length: run `pki reindex`");
                }
                file.write_all_at(&new.as_bytes()[..fixed], offset)?;
                file.sync_data()?;
                return Ok(true);
            }
            offset += n as u64;
        }
    }

    /// Appends a ledger record: the commit point of every change.
    pub fn append_ledger(
        &self,
        event: &str,
        actor: &Actor,
        time: &str,
        data: serde_json::Value,
    ) -> Result<LedgerRecord> {
        Ok(self.append_ledger_many(event, actor, time, vec![data])?.pop().expect("one record"))
    }

    /// Appends several records with one write and one fdatasync: a group commit.
    pub(super) fn append_ledger_many(
        &self,
        event: &str,
        actor: &Actor,
        time: &str,
        datas: Vec<serde_json::Value>,
    ) -> Result<Vec<LedgerRecord>> {
        let (mut seq, mut prev, mut settings) = match self.dir.last_ledger_record()? {
            Some((r, hash)) => (r.seq + 1, hash, r.settings),
            None => (1, GENESIS.to_string(), None),
        };
        let mut text = String::new();
        let mut recs = Vec::with_capacity(datas.len());
        let signer = self.signer.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let n = datas.len();
        for (i, data) in datas.into_iter().enumerate() {
            if event == SETTINGS_WRITTEN || event == SETTINGS_ACCEPTED {
                settings = data["sha256"].as_str().map(str::to_string);
            }
            let mut rec = LedgerRecord {
                seq,
                time: time.to_string(),
                event: event.to_string(),
                actor: actor.who.clone(),
                ci: actor.ci.iter().cloned().collect(),
                note: actor.note.clone(),
                data,
                settings: settings.clone(),
                prev,
                sig: None,
            };
            let mut line = serde_json::to_string(&rec)?;
            if let Some(signer) = signer.as_ref().filter(|_| i + 1 == n) {
                rec.sig = Some(signer.sign(&line)?);
                line = serde_json::to_string(&rec)?;
            }
            prev = sha256_hex(line.as_bytes());
            seq += 1;
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&line);
            recs.push(rec);
        }
        self.dir.fs.append_line(&self.dir.path(LEDGER), &text, true)?;
        Ok(recs)
    }

    /// Writes the settings file (atomically) and records its SHA-256 in the ledger, so that
    /// an edit no pki command made shows in `pki audit` (`settings-unrecorded`).
    pub fn write_settings(&self, text: &str, actor: &Actor, time: &str) -> Result<()> {
        self.dir.fs.write_atomic(&self.dir.path(SETTINGS), text.as_bytes(), 0o600)?;
        let rec = self.append_ledger(
            SETTINGS_WRITTEN,
            actor,
            time,
            serde_json::json!({"sha256": sha256_hex(text.as_bytes())}),
        )?;
        self.mark_applied(rec.seq)
    }

    /// Records `pki.toml` as it is now (an edit made by hand, reviewed): `pki settings accept`.
    /// Returns its SHA-256.
    pub fn accept_settings(&self, actor: &Actor, time: &str) -> Result<String> {
        let p = self.dir.path(SETTINGS);
        let text = self.dir.read_settings_text()?;
        let hash = sha256_hex(text.as_bytes());
        let previous = self.dir.last_ledger_record()?.and_then(|(r, _)| r.settings);
        let rec = self.append_ledger(
            SETTINGS_ACCEPTED,
            actor,
            time,
            serde_json::json!({"sha256": hash, "previous": previous, "file": p.file_name().map(|n| n.to_string_lossy().into_owned())}),
        )?;
        self.mark_applied(rec.seq)?;
        Ok(hash)
    }

    /// Creates a CA: staged, committed in the ledger, then moved into `cas/NAME`.
    pub fn create_ca(&self, ca: NewCa<'_>, actor: &Actor, time: &str) -> Result<()> {
        if self.dir.fs.lstat(&self.dir.ca_dir(ca.name))?.is_some() {
            return Err(PkiError::CaExists { name: ca.name.to_string(), dir: self.dir.root.clone() }.into());
        }
        let cas = self.dir.root.join(CAS);
        self.dir.fs.mkdir_0700(&cas)?;
        let stage = cas.join(format!("{STAGE_PREFIX}{}", ca.name));
        if self.dir.fs.lstat(&stage)?.is_some() {
            self.dir.fs.remove_dir_all(&stage)?;
        }
        let staged = (|| -> Result<()> {
            self.dir.fs.mkdir_0700(&stage)?;
            self.dir.fs.write_new_file(&stage.join("key.pem"), ca.key_pem.as_bytes(), 0o600)?;
            self.dir.fs.write_new_file(&stage.join("cert.pem"), ca.cert_pem.as_bytes(), 0o600)?;
            self.dir.fs.fsync_dir(&stage)
        })();
        if let Err(e) = staged {
            let _ = self.dir.fs.remove_dir_all(&stage);
            return Err(e);
        }
        crash_point("ca-staged");
        let rec = self.append_ledger("ca-created", actor, time, ca.data)?;
        crash_point("ca-committed");
        after_commit(&format!("the creation of CA '{}'", ca.name), || {
            self.dir.fs.rename(&stage, &self.dir.ca_dir(ca.name))?;
            self.dir.fs.fsync_dir(&cas)?;
            self.mark_applied(rec.seq)
        })
    }

    /// Replaces CA `name`'s key file with `key_pem` (the same key, encrypted anew) and records
    /// it: a synced temporary file renamed over the old one, so the old file is never left
    /// behind and a crash leaves one whole key file, old or new.
    pub fn replace_ca_key(&self, name: &str, key_pem: &str, actor: &Actor, time: &str, encrypted: bool) -> Result<()> {
        self.dir.fs.write_atomic(&self.dir.ca_key_path(name), key_pem.as_bytes(), 0o600)?;
        crash_point("ca-key-replaced");
        let rec = self.append_ledger(
            "ca-passphrase-changed",
            actor,
            time,
            serde_json::json!({"ca": name, "encrypted": encrypted}),
        )?;
        self.mark_applied(rec.seq)
    }

    /// True when no certificate with this serial was ever stored.
    pub fn serial_is_free(&self, serial: &Serial) -> Result<bool> {
        Ok(self.dir.fs.lstat(&self.dir.cert_path(serial))?.is_none())
    }

    /// Records an issued certificate: staged (with the caller's files already in `durable`)
    /// and made durable, committed in the ledger, moved into `certs/`, appended to the
    /// inventory; then `publish` puts the caller's files in place (its error is returned as is:
    /// it is about the user's files, not the CA's state), one more sync covers all of it, and
    /// the change is marked applied. Three disk flushes in all, whatever the inventory's size.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_issue(
        &self,
        rec: &InventoryRecord,
        cert_pem: &str,
        sha256: &str,
        actor: &Actor,
        time: &str,
        extra: serde_json::Map<String, serde_json::Value>,
        durable: &mut SyncSet,
        publish: impl FnOnce(&mut SyncSet) -> Result<()>,
    ) -> Result<()> {
        let serial = Serial::parse(&rec.serial)?;
        let pending = self.dir.root.join(PENDING);
        self.dir.fs.mkdir_0700(&pending)?;
        let staged = pending.join(format!("{}.pem", rec.serial));
        durable.add(self.dir.fs.write_new_file_unsynced(&staged, cert_pem.as_bytes(), 0o600)?);
        if let Err(e) = durable.sync() {
            let _ = self.dir.fs.remove_file(&staged);
            return Err(e);
        }
        crash_point("issue-staged");
        let mut data = rec.ledger_data();
        data["sha256"] = serde_json::Value::String(sha256.to_string());
        if let Some(obj) = data.as_object_mut() {
            obj.extend(extra);
        }
        let renews = data["renews"].as_str().map(str::to_string);
        let committed = self.append_ledger("cert-issued", actor, time, data)?;
        crash_point("issue-committed");
        let mut published = Ok(());
        after_commit(&format!("the issue of certificate {}", rec.serial), || {
            let dest = self.dir.cert_path(&serial);
            let shard = dest.parent().expect("cert path has a shard");
            self.dir.fs.mkdir_0700(shard)?;
            self.dir
                .fs
                .rename(&staged, &dest)
                .with_context(|| format!("cannot move certificate into {}", dest.display()))?;
            durable.add_dir(&self.dir.fs, shard)?;
            crash_point("issue-moved");
            durable.add(self.dir.fs.append_line_unsynced(&self.dir.path(INVENTORY), &rec.to_line())?);
            if let Some(old) = &renews {
                crash_point("renew-appended");
                let new = rec.serial.clone();
                self.update_inventory(old, |o| {
                    o.apply_update(&serde_json::json!({"event": "cert-superseded", "replaced_by": new}))
                })?;
            }
            published = publish(durable);
            durable.sync()?;
            self.mark_applied(committed.seq)
        })?;
        published
    }

    /// Starts a batch group (`issue --batch`): its serials are listed in
    /// `pending/batch-FIRSTSERIAL.list` (synced) before any of their certificates is written, so that recovery can remove the
    /// files of a group that never reached its commit. Then [`Locked::write_batch_cert`] for
    /// each certificate (any thread) and [`Locked::commit_batch`].
    pub fn begin_batch(&self, serials: &[Serial]) -> Result<BatchGroup> {
        let pending = self.dir.root.join(PENDING);
        self.dir.fs.mkdir_0700(&pending)?;
        let mut list = String::with_capacity(serials.len() * 33);
        for s in serials {
            list.push_str(&s.hex());
            list.push('\n');
        }
        let first = serials.first().ok_or_else(|| anyhow!("an empty batch group"))?;
        let manifest = pending.join(format!("{BATCH_LIST_PREFIX}{}.list", first.hex()));
        self.dir.fs.write_new_file(&manifest, list.as_bytes(), 0o600)?;
        self.dir.fs.fsync_dir(&pending)?;
        Ok(BatchGroup { manifest })
    }

    /// Writes one certificate of a batch group straight to its place in `certs/`, without an
    /// fsync (the group is synced at once). O_EXCL: a serial already stored is refused.
    pub fn write_batch_cert(&self, serial: &Serial, pem_text: &str) -> Result<()> {
        let p = self.dir.cert_path(serial);
        let f = match self.dir.fs.create_new_file(&p, 0o600) {
            Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) => {
                self.dir.fs.mkdir_0700(p.parent().expect("cert path has a shard"))?;
                self.dir.fs.create_new_file(&p, 0o600)
            }
            r => r,
        };
        let res = f.and_then(|mut f| {
            f.write_all(pem_text.as_bytes()).with_context(|| format!("cannot write {}", p.display()))
        });
        if res.is_err() {
            let _ = self.dir.fs.remove_file(&p);
        }
        res
    }

    /// Commits a batch group whose certificates were written: one `syncfs` makes them durable,
    /// one ledger write commits them all, one inventory append follows, then the list goes.
    /// Recovery completes every committed record after the last applied one, so a kill at any
    /// point leaves the same states as `commit_issue`. On failure before the commit, the
    /// group's files are removed.
    pub fn commit_batch(
        &self,
        group: BatchGroup,
        items: &[(&InventoryRecord, &str, &str, &str)],
        actor: &Actor,
        time: &str,
    ) -> Result<()> {
        let pending = self.dir.root.join(PENDING);
        let undo = |e: anyhow::Error| -> Result<()> {
            for (rec, _, _, _) in items {
                if let Ok(s) = Serial::parse(&rec.serial) {
                    let _ = self.dir.fs.remove_file(&self.dir.cert_path(&s));
                }
            }
            let _ = self.dir.fs.remove_file(&group.manifest);
            Err(e)
        };
        if items.is_empty() {
            return self
                .dir
                .fs
                .remove_file(&group.manifest)
                .with_context(|| format!("cannot remove {}", group.manifest.display()));
        }
        if let Err(e) = self.dir.fs.syncfs(&pending) {
            return undo(e);
        }
        crash_point("batch-staged");
        let datas = items
            .iter()
            .map(|(rec, _, sha, origin)| {
                let mut d = rec.ledger_data();
                d["sha256"] = serde_json::Value::String(sha.to_string());
                d["key_origin"] = serde_json::Value::String(origin.to_string());
                d
            })
            .collect();
        // On a failed ledger write the list stays: the next lock removes what was not committed.
        let committed = self.append_ledger_many("cert-issued", actor, time, datas)?;
        crash_point("batch-committed");
        let last = committed.last().expect("at least one").seq;
        after_commit(&format!("the issue of {} certificates", items.len()), || {
            let lines: Vec<String> = items.iter().map(|(rec, _, _, _)| rec.to_line()).collect();
            self.dir.fs.append_line(&self.dir.path(INVENTORY), &lines.join("\n"), true)?;
            crash_point("batch-moved");
            self.mark_applied(last)?;
            self.dir
                .fs
                .remove_file(&group.manifest)
                .with_context(|| format!("cannot remove {}", group.manifest.display()))?;
            self.dir.fs.fsync_dir(&pending)
        })
    }

    /// Gives up a batch group before its commit: its listed certificates and its list go.
    pub fn abandon_batch(&self, group: BatchGroup) -> Result<()> {
        self.recover_batch(&group.manifest)
    }

    /// Removes a certificate written for a batch group that will not be committed (its
    /// caller's files could not be staged).
    pub fn discard_batch_cert(&self, serial: &Serial) {
        let _ = self.dir.fs.remove_file(&self.dir.cert_path(serial));
    }

    /// Completes or undoes a batch group interrupted before its list was removed: every listed
    /// certificate without a `cert-issued` record in the ledger's last lines loses its file
    /// (the lock is held from a group's list to its commit, and every lock recovers first, so a
    /// committed group is among the last [`MAX_GROUP`] records).
    pub(super) fn recover_batch(&self, manifest: &Path) -> Result<()> {
        let text = String::from_utf8(crate::limits::read_bounded(
            self.dir.fs.open(manifest, Access::Read)?,
            crate::limits::MAX_OBJECT,
            &manifest.display().to_string(),
        )?)
        .map_err(|_| anyhow!("{} is not UTF-8", manifest.display()))?;
        let committed: HashSet<String> = self
            .dir
            .fs
            .last_lines(&self.dir.path(LEDGER), MAX_GROUP)?
            .iter()
            .filter_map(|line| serde_json::from_str::<LedgerRecord>(line).ok())
            .filter(|r| r.event == "cert-issued")
            .filter_map(|r| r.data["serial"].as_str().map(str::to_string))
            .collect();
        let mut removed = false;
        for s in text.lines().filter_map(|l| Serial::parse(l.trim()).ok()) {
            if committed.contains(&s.hex()) {
                continue;
            }
            match self.dir.fs.remove_file(&self.dir.cert_path(&s)) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("cannot remove an uncommitted certificate"),
            }
        }
        if removed {
            self.dir.fs.syncfs(&self.dir.root)?;
        }
        self.dir.fs.remove_file(manifest)?;
        self.dir.fs.fsync_dir(manifest.parent().expect("pending/"))
    }

    /// Records a revocation: ledger (the commit), the CA's revoked list, the inventory line.
    pub fn commit_revoke(&self, rev: &Revocation, actor: &Actor, time: &str) -> Result<()> {
        self.commit_revocations(std::slice::from_ref(rev), actor, time)
    }

    /// Records revocations (a keyCompromise revokes every certificate of the key at once) and
    /// releases of a certificateHold (reason [`crate::crl::RELEASED`], event `hold-released`):
    /// one ledger write (the commit), then the revoked lists and the inventory lines.
    pub fn commit_revocations(&self, revs: &[Revocation], actor: &Actor, time: &str) -> Result<()> {
        let Some(first) = revs.first() else { return Ok(()) };
        self.dir.fs.mkdir_0700(&self.dir.root.join(CRL_DIR))?;
        let event = if first.reason == crate::crl::RELEASED { HOLD_RELEASED } else { "cert-revoked" };
        let committed = self.append_ledger_many(event, actor, time, revs.iter().map(|r| r.ledger_data()).collect())?;
        crash_point("revoke-committed");
        after_commit(&format!("the revocation of {}", first.serial), || {
            self.block_keys(revs, time)?;
            for rev in revs {
                self.dir.fs.append_line(&self.dir.revoked_list_path(&rev.ca), &rev.to_line(), true)?;
                if rev.kind == "leaf" {
                    let u = serde_json::json!({"event": event, "revoked_at": rev.revoked_at, "reason": rev.reason});
                    self.update_inventory(&rev.serial, |o| o.apply_update(&u))?;
                }
            }
            self.mark_applied(committed.last().expect("one record").seq)
        })
    }

    /// Adds the keys of keyCompromise revocations to the blocklist (idempotent: a replay
    /// adds no key twice).
    fn block_keys(&self, revs: &[Revocation], time: &str) -> Result<()> {
        let keys: Vec<&Revocation> = revs.iter().filter(|r| r.reason == "keyCompromise" && r.key.is_some()).collect();
        if keys.is_empty() {
            return Ok(());
        }
        let have = self.dir.blocked_keys()?;
        let mut lines = vec![];
        for r in keys {
            let k = r.key.as_deref().expect("filtered");
            if !have.contains_key(k) && !lines.iter().any(|l: &String| l.starts_with(k)) {
                lines.push(format!("{k}\t{}\t{}\t{time}", r.serial, r.ca));
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        self.dir.fs.append_line(&self.dir.path(BLOCKED_KEYS), &lines.join("\n"), true)
    }

    /// Takes the next CRL number of a CA: above the number file's and above `current` (the
    /// number of the CRL in place, so a lowered number file cannot make a number go back).
    /// Written before the CRL, so a crash can leave a gap but never reuse a number.
    pub fn next_crl_number(&self, ca: &str, current: u64) -> Result<u64> {
        self.dir.fs.mkdir_0700(&self.dir.root.join(CRL_DIR))?;
        let n = self.dir.crl_number(ca)?.max(current) + 1;
        self.dir.fs.write_atomic(
            &self.dir.root.join(CRL_DIR).join(format!("{ca}.number")),
            format!("{n}\n").as_bytes(),
            0o600,
        )?;
        Ok(n)
    }

    /// Writes CA `ca`'s OCSP responses signed in advance (atomically) and records it.
    pub fn commit_presigned_ocsp(
        &self,
        ca: &str,
        text: &str,
        data: serde_json::Value,
        actor: &Actor,
        time: &str,
    ) -> Result<()> {
        self.dir.fs.write_atomic(&self.dir.presigned_ocsp_path(ca), text.as_bytes(), 0o600)?;
        let committed = self.append_ledger("ocsp-presigned", actor, time, data)?;
        self.mark_applied(committed.seq)
    }

    /// Publishes a CA's new CRL (DER and PEM, each replaced atomically) and records it.
    pub fn commit_crl(
        &self,
        ca: &str,
        der: &[u8],
        pem_text: &str,
        data: serde_json::Value,
        actor: &Actor,
        time: &str,
    ) -> Result<()> {
        let (d, p) = self.dir.crl_paths(ca);
        self.dir.fs.write_atomic(&d, der, 0o600)?;
        self.dir.fs.write_atomic(&p, pem_text.as_bytes(), 0o600)?;
        let committed = self.append_ledger("crl-generated", actor, time, data)?;
        self.mark_applied(committed.seq)
    }
}
