//! The CA directory: its layout, the lock, atomic writes, the inventory and the ledger.
//!
//! Nothing else in `pki` touches the directory's files. Every change follows one protocol, so a
//! process killed at any instant leaves the directory consistent:
//!
//! 1. take the exclusive lock on `.lock` (waiting, with a timeout), then finish or undo whatever
//!    a killed process left behind (`recover`);
//! 2. stage new files (`pending/`, `cas/.new-NAME/`), written and fsynced;
//! 3. append one record to `ledger.jsonl` and fsync it: this is the commit point;
//! 4. move the staged files into place and append to `inventory.tsv`.
//!
//! A change whose ledger record is missing or torn was never committed and its staged files are
//! deleted; a change whose record is the ledger's last one is rolled forward. Issuing touches a
//! constant number of files whatever the inventory's size: the inventory is appended to, never
//! read or rewritten, and serial uniqueness is checked against the certificate's own file name.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use crate::error::PkiError;
use crate::limits;
use crate::serial::{self, Serial};

/// The settings file, at the directory's top.
pub const SETTINGS: &str = "pki.toml";
/// The hash-chained ledger: one JSON record per committed change.
pub const LEDGER: &str = "ledger.jsonl";
/// The inventory: one line per issued certificate.
pub const INVENTORY: &str = "inventory.tsv";
/// The ledger event of a settings file pki wrote.
pub const SETTINGS_WRITTEN: &str = "settings-written";
/// The ledger event of a settings file edited by hand and accepted (`pki settings accept`).
pub const SETTINGS_ACCEPTED: &str = "settings-accepted";
/// Public keys revoked for keyCompromise: `SHA256-OF-SPKI<TAB>SERIAL<TAB>CA<TAB>TIME` lines, a
/// cache of the ledger's keyCompromise revocations (audit compares the two).
pub const BLOCKED_KEYS: &str = "blocked-keys.tsv";
/// The ledger event of a released certificateHold (`pki release-hold`).
pub const HOLD_RELEASED: &str = "hold-released";
/// Recovery state: `applied SEQ`, the last change known complete (losing it costs a replay).
const STATE: &str = ".state";
const PENDING: &str = "pending";
const CAS: &str = "cas";
const CERTS: &str = "certs";
/// CRLs and revoked lists: `crl/NAME.crl`, `crl/NAME.crl.pem`, `crl/NAME.revoked.tsv`.
pub const CRL_DIR: &str = "crl";
const STAGE_PREFIX: &str = ".new-";
/// The inventory's first line.
pub const INVENTORY_HEADER: &str =
    "#serial\tstatus\tnot_before\tnot_after\trevoked_at\treason\treplaced_by\tca\tprofile\tkey_type\tsubject\tsans";
/// Bytes of the fixed-width fields at the start of an inventory line (serial to replaced_by,
/// with their tabs), which in-place updates rewrite.
const FIXED_PREFIX_LEN: usize = 32 + 1 + 10 + 1 + 20 + 1 + 20 + 1 + 20 + 1 + 20 + 1 + 32 + 1;
/// The most ledger records one change commits at once (`issue --batch` commits in groups of
/// `BATCH_GROUP`); recovery looks back at most this far.
const MAX_GROUP: usize = 1024;
/// How many certificates a batch commits at once (one ledger write, one sync).
pub const BATCH_GROUP: usize = 256;
/// In `pending/`: `batch-FIRSTSERIAL.list` lists the serials of a batch group being written
/// (groups overlap: one is committed while the next is signed).
const BATCH_LIST_PREFIX: &str = "batch-";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A batch group begun with [`Locked::begin_batch`]: its list of serials is on disk.
#[must_use = "a batch group is finished by Locked::commit_batch"]
pub struct BatchGroup {
    manifest: PathBuf,
}

/// The last committed record of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerHead {
    /// Its sequence number.
    pub seq: u64,
    /// SHA-256 of its line, hex: the next record's `prev`.
    pub hash: String,
}

/// A CA directory on disk. Reading needs no lock; changing needs a [`Locked`] guard.
pub struct CaDir {
    /// The directory's path.
    pub root: PathBuf,
    /// The directory's descriptor, through which every file inside is reached.
    fs: Root,
}

impl CaDir {
    /// Opens an existing CA directory.
    pub fn open(root: &Path) -> Result<CaDir> {
        if !root.is_dir() {
            return Err(PkiError::NoCaDir { dir: root.to_path_buf() }.into());
        }
        if !root.join(SETTINGS).is_file() {
            return Err(PkiError::NotACaDir { dir: root.to_path_buf() }.into());
        }
        CaDir::at(root)
    }

    /// The directory at `root`, opened once: every access goes through its descriptor.
    fn at(root: &Path) -> Result<CaDir> {
        let fs = Root::new(root).with_context(|| format!("cannot open CA directory {}", root.display()))?;
        Ok(CaDir { root: root.to_path_buf(), fs })
    }

    /// Opens the directory, creating it (0700, with parents) when missing. Used by `init-root`.
    pub fn open_or_create(root: &Path) -> Result<CaDir> {
        if !root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .with_context(|| format!("cannot create CA directory {}", root.display()))?;
        } else if !root.is_dir() {
            bail!("{} exists and is not a directory: choose another --dir", root.display());
        } else if !root.join(SETTINGS).is_file()
            && fs::read_dir(root).with_context(|| format!("cannot read {}", root.display()))?.next().is_some()
        {
            bail!("{} is not empty and is not a pki CA directory: choose a new or empty --dir", root.display());
        }
        CaDir::at(root)
    }

    /// A directory to build a new CA directory in, beside `target` (hidden), so that `target`
    /// appears whole or not at all: `pki init` builds there and then [`CaDir::publish`]es.
    /// `target` must not exist, or be an empty directory.
    pub fn create_staged(target: &Path) -> Result<CaDir> {
        if target.exists() {
            let empty = target.is_dir()
                && fs::read_dir(target).with_context(|| format!("cannot read {}", target.display()))?.next().is_none();
            if !empty {
                // An existing, non-empty directory is used in place (open_or_create says why not).
                return CaDir::open_or_create(target);
            }
        }
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "pki".into());
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .create(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let staging = parent.join(format!(".{name}.init-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        CaDir::open_or_create(&staging)
    }

    /// Moves a directory made by [`CaDir::create_staged`] to `target` (atomically).
    pub fn publish(self, target: &Path) -> Result<CaDir> {
        if self.root == target {
            return Ok(self);
        }
        fs::rename(&self.root, target)
            .with_context(|| format!("cannot move the new CA directory to {}", target.display()))?;
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(parent).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync {}", parent.display()))?;
        CaDir::at(target)
    }

    /// The path of a file inside the directory (`rel` is a fixed name such as [`LEDGER`]).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Whether `pki.toml` exists.
    pub fn has_settings(&self) -> bool {
        matches!(self.fs.lstat(&self.path(SETTINGS)), Ok(Some(_)))
    }

    /// The text of `pki.toml`.
    pub fn read_settings_text(&self) -> Result<String> {
        let p = self.path(SETTINGS);
        let bytes = self
            .fs
            .open(&p, Access::Read)
            .and_then(|f| limits::read_bounded(f, limits::MAX_SETTINGS, &p.display().to_string()))?;
        String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", p.display()))
    }

    /// `cas/NAME`.
    pub fn ca_dir(&self, name: &str) -> PathBuf {
        self.root.join(CAS).join(name)
    }

    /// `cas/NAME/cert.pem`.
    pub fn ca_cert_path(&self, name: &str) -> PathBuf {
        self.ca_dir(name).join("cert.pem")
    }

    /// `cas/NAME/key.pem`.
    pub fn ca_key_path(&self, name: &str) -> PathBuf {
        self.ca_dir(name).join("key.pem")
    }

    /// Whether a CA of that name exists.
    pub fn ca_exists(&self, name: &str) -> bool {
        matches!(self.fs.lstat(&self.ca_cert_path(name)), Ok(Some(_)))
    }

    /// The CAs in the directory, sorted by name.
    pub fn ca_names(&self) -> Result<Vec<String>> {
        let dir = self.root.join(CAS);
        let mut names = Vec::new();
        for (name, is_dir) in self.fs.read_dir(&dir)? {
            if !is_dir
                && let Some(st) = self.fs.lstat(&dir.join(&name))?
                && rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink
            {
                return Err(root::link_refused(&dir.join(&name)));
            }
            if !name.starts_with('.') && self.ca_exists(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The CA's certificate, PEM.
    pub fn read_ca_cert_pem(&self, name: &str) -> Result<String> {
        let p = self.ca_cert_path(name);
        let bytes = self
            .fs
            .open(&p, Access::Read)
            .and_then(|f| limits::read_bounded(f, limits::MAX_OBJECT, &p.display().to_string()))
            .with_context(|| format!("cannot read CA certificate {}", p.display()))?;
        String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", p.display()))
    }

    /// The CA's private key, PEM (possibly encrypted); wiped from memory when dropped.
    pub fn read_ca_key_pem(&self, name: &str) -> Result<zeroize::Zeroizing<String>> {
        let p = self.ca_key_path(name);
        match self.fs.read_if_exists(&p, limits::MAX_OBJECT) {
            Ok(Some(t)) => String::from_utf8(t)
                .map(zeroize::Zeroizing::new)
                .map_err(|_| anyhow!("{} is not UTF-8 text", p.display())),
            Ok(None) => Err(anyhow!(
                "the key of CA '{name}' is not in this directory ({} is missing): run this where the key is kept (e.g. an offline root, see SECURITY.md)",
                p.display()
            )),
            Err(e) => Err(e.context(format!("cannot read CA key {}", p.display()))),
        }
    }

    /// Where an issued certificate is kept: sharded by its first byte so no directory grows past
    /// a few thousand entries at a million certificates.
    pub fn cert_path(&self, serial: &Serial) -> PathBuf {
        let hex = serial.hex();
        self.root.join(CERTS).join(&hex[..2]).join(format!("{hex}.pem"))
    }

    /// Takes the exclusive lock, waiting up to `timeout`, then repairs what a killed process left.
    ///
    /// The lock is an `flock` on the directory itself, through a descriptor of its own (a new
    /// open file description, so other threads of this process are excluded too): no file can
    /// be deleted to take it away. Changes are refused while the directory or anything in it
    /// is writable by others or owned by another user ([`CaDir::refuse_loose`]).
    pub fn lock(&self, timeout: Duration) -> Result<Locked<'_>> {
        self.refuse_loose()?;
        let fd = rustix::fs::openat(
            self.fs.fd(),
            ".",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot open {}", self.root.display()))?;
        let file = File::from(fd);
        let start = Instant::now();
        let mut nap = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        return Err(
                            PkiError::LockTimeout { dir: self.root.clone(), waited_secs: timeout.as_secs() }.into()
                        );
                    }
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(Duration::from_millis(25));
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", self.root.display()));
                }
            }
        }
        crate::hooks::crash_point("locked");
        let locked = Locked { dir: self, _lock: file, signer: std::sync::Mutex::new(None) };
        locked.recover().context("cannot repair the CA directory after an interrupted change")?;
        Ok(locked)
    }

    /// Refuses changes while anything in the directory is a symbolic link, or the directory,
    /// a directory in it, a key, or a file pki keeps its state in is writable by group or
    /// others, a key is readable by them, or any of them belongs to another user; the error gives the `chmod`/`chown` that fixes it. Reading
    /// commands do not call this (`pki audit` reports the same modes).
    pub fn refuse_loose(&self) -> Result<()> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        let check = |p: &Path, st: &rustix::fs::Stat| -> Result<()> {
            let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
            if kind == rustix::fs::FileType::Symlink {
                return Err(root::link_refused(p));
            }
            let mode = st.st_mode & 0o7777;
            if st.st_uid != me {
                bail!(
                    "refusing to change the CA directory: {} belongs to uid {}, not to this user (uid {me}): run `chown {me} {}` or run pki as its owner",
                    p.display(),
                    st.st_uid,
                    p.display()
                );
            }
            let is_key = p.file_name().is_some_and(|n| n == "key.pem");
            if is_key && mode & 0o077 != 0 {
                bail!(
                    "refusing to change the CA directory: the key {} has mode {mode:04o} (group/others may read it): run `chmod 600 {}`",
                    p.display(),
                    p.display()
                );
            }
            if mode & 0o022 != 0 {
                let what = if kind == rustix::fs::FileType::Directory { "directory" } else { "file" };
                bail!(
                    "refusing to change the CA directory: the {what} {} has mode {mode:04o} (group/others may write it): run `chmod go-w {}`",
                    p.display(),
                    p.display()
                );
            }
            Ok(())
        };
        // Every directory and file, except inside `certs/`: its shards hold public certificates
        // that pki creates 0700/0600 and `audit --deep` checks against the ledger, and listing
        // up to a million of them would make every change slow.
        let certs = self.root.join(CERTS);
        let mut dirs = vec![self.root.clone()];
        while let Some(d) = dirs.pop() {
            if let Some(st) = self.fs.lstat(&d)? {
                check(&d, &st)?;
            }
            if d == certs {
                // Its entries are shard directories; anything else (a link) is checked.
                for (name, is_dir) in self.fs.read_dir(&d)? {
                    if !is_dir && let Some(st) = self.fs.lstat(&d.join(&name))? {
                        check(&d.join(&name), &st)?;
                    }
                }
                continue;
            }
            for (name, is_dir) in self.fs.read_dir(&d)? {
                let p = d.join(&name);
                if is_dir {
                    dirs.push(p);
                } else if let Some(st) = self.fs.lstat(&p)? {
                    check(&p, &st)?;
                }
            }
        }
        Ok(())
    }

    /// The last ledger record, read from the file's end (constant time).
    pub fn last_ledger_record(&self) -> Result<Option<(LedgerRecord, String)>> {
        let p = self.path(LEDGER);
        let Some(line) = self.fs.last_line(&p)? else {
            return Ok(None);
        };
        let rec: LedgerRecord = serde_json::from_str(&line)
            .with_context(|| format!("{}: the last record is not valid JSON", p.display()))?;
        let hash = sha256_hex(line.as_bytes());
        Ok(Some((rec, hash)))
    }

    /// The ledger's head: the last committed change, read from the file's end without the lock
    /// (a record being appended is not seen until its line is complete). A reader such as a
    /// server follows what other processes commit by comparing heads; the change's files are
    /// in place once the writer has released the lock.
    pub fn ledger_head(&self) -> Result<Option<LedgerHead>> {
        Ok(self.last_ledger_record()?.map(|(rec, hash)| LedgerHead { seq: rec.seq, hash }))
    }

    /// Whether `pki.toml` is the one the ledger last recorded: `Some(true)` yes, `Some(false)`
    /// it was changed by something other than pki, `None` when the ledger has no record of
    /// the settings yet (a directory made before settings were recorded).
    pub fn settings_on_record(&self) -> Result<Option<bool>> {
        self.settings_text_on_record(&self.read_settings_text()?)
    }

    /// As [`CaDir::settings_on_record`], for the text of `pki.toml` the caller already read.
    pub fn settings_text_on_record(&self, text: &str) -> Result<Option<bool>> {
        let recorded = self.last_ledger_record()?.and_then(|(rec, _)| rec.settings);
        Ok(recorded.map(|r| sha256_hex(text.as_bytes()) == r))
    }

    /// Whether a change was committed after ledger record `seq` (0: whether any was). Cheap:
    /// it reads the ledger's last line only.
    pub fn changed_since(&self, seq: u64) -> Result<bool> {
        Ok(self.ledger_head()?.is_some_and(|h| h.seq > seq))
    }

    /// Streams the inventory, calling `f` for each complete record.
    pub fn for_each_inventory(&self, mut f: impl FnMut(InventoryRecord) -> Result<()>) -> Result<()> {
        let p = self.path(INVENTORY);
        self.scan_inventory(
            |n, v| match v {
                Ok(v) => f(v.to_record()),
                Err(why) => Err(anyhow!("{} line {n} is malformed ({why}): run `pki reindex`", p.display())),
            },
            |_, _| {},
        )
    }

    /// The file of CA `ca`'s OCSP responses signed in advance: `crl/NAME.ocsp.tsv`.
    pub fn presigned_ocsp_path(&self, ca: &str) -> PathBuf {
        self.root.join(CRL_DIR).join(format!("{ca}.ocsp.tsv"))
    }

    /// Whether CA `ca` has OCSP responses signed in advance (`gen-crl --ocsp`).
    pub fn has_presigned_ocsp(&self, ca: &str) -> Result<bool> {
        Ok(self.fs.lstat(&self.presigned_ocsp_path(ca))?.is_some())
    }

    /// CA `ca`'s OCSP responses signed in advance (`gen-crl --ocsp`), if it has them.
    pub fn read_presigned_ocsp(&self, ca: &str) -> Result<Option<String>> {
        match self.fs.open_if_exists(&self.presigned_ocsp_path(ca))? {
            Some(mut f) => {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut f, &mut s)
                    .with_context(|| format!("cannot read {}", self.presigned_ocsp_path(ca).display()))?;
                Ok(Some(s))
            }
            None => Ok(None),
        }
    }

    /// `crl/NAME.revoked.tsv`: every revocation of certificates NAME issued, appended in order.
    pub fn revoked_list_path(&self, ca: &str) -> PathBuf {
        self.root.join(CRL_DIR).join(format!("{ca}.revoked.tsv"))
    }

    /// A cheap stamp of what a reader of published objects depends on: the size and change time
    /// of the ledger (every committed change appends to it), of pki.toml and of every file in
    /// `crl/` and each CA's certificate. Equal stamps mean nothing published changed; `pki serve`
    /// polls it (a few stat calls) instead of re-reading the objects.
    pub fn publication_stamp(&self) -> Result<u64> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let mut stat = |p: &Path| -> Result<()> {
            if let Some(st) = self.fs.lstat(p)? {
                (p, st.st_size, st.st_mtime, st.st_mtime_nsec, st.st_ino).hash(&mut h);
            }
            Ok(())
        };
        stat(&self.path(LEDGER))?;
        stat(&self.path(SETTINGS))?;
        let crl_dir = self.root.join(CRL_DIR);
        let mut names = self.fs.read_dir(&crl_dir).unwrap_or_default();
        names.sort();
        for (n, _) in &names {
            stat(&crl_dir.join(n))?;
        }
        for ca in self.ca_names()? {
            stat(&self.ca_cert_path(&ca))?;
        }
        Ok(h.finish())
    }

    /// The current CRL of a CA: (DER path, PEM path).
    pub fn crl_paths(&self, ca: &str) -> (PathBuf, PathBuf) {
        let d = self.root.join(CRL_DIR);
        (d.join(format!("{ca}.crl")), d.join(format!("{ca}.crl.pem")))
    }

    /// Streams the revocations of a CA's certificates (a later line for the same serial wins).
    pub fn for_each_revoked(&self, ca: &str, mut f: impl FnMut(Revocation) -> Result<()>) -> Result<()> {
        let p = self.revoked_list_path(ca);
        let Some(file) = self.fs.open_if_exists(&p)? else { return Ok(()) };
        let mut r = BufReader::with_capacity(1 << 16, file);
        let mut line = Vec::new();
        loop {
            if limits::next_line(&mut r, &mut line, &|| p.display().to_string())? == 0 {
                break;
            }
            let line = std::str::from_utf8(&line).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")
            })?;
            if !line.ends_with('\n') || line.starts_with('#') {
                continue;
            }
            f(Revocation::parse(line.trim_end_matches('\n'))
                .with_context(|| format!("{} is malformed", p.display()))?)?;
        }
        Ok(())
    }

    /// The CRL number last used for a CA (0 if none).
    pub fn crl_number(&self, ca: &str) -> Result<u64> {
        let p = self.root.join(CRL_DIR).join(format!("{ca}.number"));
        match self.fs.read_if_exists(&p, limits::MAX_OBJECT)? {
            Some(t) => {
                String::from_utf8_lossy(&t).trim().parse().with_context(|| format!("{} is not a number", p.display()))
            }
            None => Ok(0),
        }
    }

    /// The text of a CA's revoked list ("" when nothing was revoked).
    pub fn revoked_list_text(&self, ca: &str) -> Result<String> {
        let p = self.revoked_list_path(ca);
        let Some(mut f) = self.fs.open_if_exists(&p)? else { return Ok(String::new()) };
        let mut bytes = Vec::with_capacity(f.metadata()?.len() as usize + 1);
        f.read_to_end(&mut bytes).with_context(|| format!("cannot read {}", p.display()))?;
        String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8", p.display()))
    }

    /// The DER of a CA's current CRL, if it has one.
    pub fn current_crl_der(&self, ca: &str) -> Result<Option<Vec<u8>>> {
        self.fs.read_if_exists(&self.crl_paths(ca).0, limits::MAX_CRL)
    }

    /// The keyCompromise blocklist: SHA-256 (hex) of a SubjectPublicKeyInfo -> the serial
    /// whose revocation put it there.
    pub fn blocked_keys(&self) -> Result<HashMap<String, String>> {
        let p = self.path(BLOCKED_KEYS);
        let Some(bytes) = self.fs.read_if_exists(&p, limits::MAX_CRL)? else { return Ok(HashMap::new()) };
        let text = String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8", p.display()))?;
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((f.next()?.to_string(), f.next()?.to_string()))
            })
            .collect())
    }

    /// The PEM copy of a CA's current CRL, if there is one.
    pub fn current_crl_pem(&self, ca: &str) -> Result<Option<Vec<u8>>> {
        self.fs.read_if_exists(&self.crl_paths(ca).1, limits::MAX_CRL.saturating_mul(2))
    }

    /// The inventory record of a serial, by scanning the inventory.
    pub fn find_inventory(&self, serial: &str) -> Result<Option<InventoryRecord>> {
        let p = self.path(INVENTORY);
        let Some(file) = self.fs.open_if_exists(&p)? else { return Ok(None) };
        // Compare the fixed-width serial field as bytes; parse only the line that matches.
        let prefix = format!("{serial:<32}\t");
        let mut r = BufReader::with_capacity(1 << 16, file);
        let mut line = Vec::with_capacity(256);
        loop {
            if limits::next_line(&mut r, &mut line, &|| p.display().to_string())? == 0 {
                return Ok(None);
            }
            if line.starts_with(prefix.as_bytes()) && line.ends_with(b"\n") {
                let text = std::str::from_utf8(&line[..line.len() - 1])
                    .map_err(|_| anyhow!("{} is not UTF-8", p.display()))?;
                return Ok(Some(InventoryRecord::parse(text)?));
            }
        }
    }

    /// The number of the last CRL of a CA that the ledger records, searched from its end.
    pub fn last_crl_number(&self, ca: &str) -> Result<Option<u64>> {
        self.find_record_back("\"event\":\"crl-generated\"", |r| {
            (r.data["ca"].as_str() == Some(ca)).then(|| r.data["number"].as_u64().unwrap_or(0))
        })
    }

    /// The `cert-issued` record of a serial, searched from the ledger's end.
    pub fn issue_record(&self, serial: &str) -> Result<Option<LedgerRecord>> {
        self.find_record_back(serial, |r| {
            (r.event == "cert-issued" && r.data["serial"].as_str() == Some(serial)).then_some(r)
        })
    }

    /// Whether the ledger records the release of a certificateHold of this serial (after its
    /// last hold).
    pub fn hold_released(&self, serial: &str) -> Result<bool> {
        let last = self.find_record_back(serial, |r| {
            let change = r.event == HOLD_RELEASED || r.event == "cert-revoked";
            (change && r.data["serial"].as_str() == Some(serial)).then(|| r.event == HOLD_RELEASED)
        })?;
        Ok(last == Some(true))
    }

    /// Reads the ledger from its end and returns the first answer `f` gives for a record whose
    /// line contains `needle` (lines without it are not parsed).
    fn find_record_back<T>(&self, needle: &str, mut f: impl FnMut(LedgerRecord) -> Option<T>) -> Result<Option<T>> {
        let mut found = None;
        self.fs.for_each_line_rev(&self.path(LEDGER), |line| {
            if line.contains(needle)
                && let Ok(r) = serde_json::from_str::<LedgerRecord>(&line)
            {
                found = f(r);
            }
            Ok(found.is_none())
        })?;
        Ok(found)
    }

    /// Every ledger record about certificate `serial` (its issue, renewals, revocation, hold),
    /// oldest first: the records whose `data.serial` is it, and the issue of its renewal
    /// (`data.renews`). Lines without the serial's text are not parsed.
    pub fn ledger_records_about(&self, serial: &str) -> Result<Vec<LedgerRecord>> {
        let mut out = vec![];
        self.for_each_ledger_line(|_, line| {
            if line.contains(serial)
                && let Ok(r) = serde_json::from_str::<LedgerRecord>(line)
                && ["serial", "renews"].iter().any(|k| r.data.get(k).and_then(|v| v.as_str()) == Some(serial))
            {
                out.push(r);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams the ledger's lines (raw, for verification).
    pub fn for_each_ledger_line(&self, mut f: impl FnMut(usize, &str) -> Result<()>) -> Result<()> {
        let p = self.path(LEDGER);
        let Some(file) = self.fs.open_if_exists(&p)? else { return Ok(()) };
        let mut r = BufReader::with_capacity(1 << 16, file);
        let mut line = Vec::new();
        let mut n = 0;
        loop {
            if limits::next_line(&mut r, &mut line, &|| format!("{} line {}", p.display(), n + 1))? == 0 {
                break;
            }
            let line = std::str::from_utf8(&line).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")
            })?;
            n += 1;
            if !line.ends_with('\n') {
                break;
            }
            f(n, line.trim_end_matches('\n'))?;
        }
        Ok(())
    }

    /// Checks the ledger's hash chain from the first record to the last, and says what kind
    /// of tampering the first break looks like. The last record's own content is anchored only
    /// by its signature, if it has one (see [`CaDir::verify_ledger_with`]).
    pub fn verify_ledger(&self) -> Result<LedgerCheck> {
        self.verify_ledger_with(None, &[], |_, _, _| Ok(()))
    }

    /// As [`CaDir::verify_ledger`], fast enough for every `pki audit`: each line is hashed as
    /// raw bytes and only its `seq`, `event` and `prev` are picked out (no JSON parse), in
    /// large blocks. Also finds the last signed record (its line, to verify against the CA's
    /// certificate), the key-using records written after it (which should have been signed),
    /// and the hash of record `want` (a kept head). `f(seq, event, line)` sees, in order, every
    /// record whose event is one of `events`. A ledger of more than 8 MiB is hashed on every
    /// core (`chain.rs`); a break sends it through the one-thread pass, which names it.
    pub fn verify_ledger_with(
        &self,
        want: Option<u64>,
        events: &[&str],
        mut f: impl FnMut(u64, &str, &str) -> Result<()>,
    ) -> Result<LedgerCheck> {
        let p = self.path(LEDGER);
        if let Some(file) = self.fs.open_if_exists(&p)?
            && let len = file.metadata()?.len()
            && len >= 8 << 20
            && let Some(ranges) = chain::check(&file, len, want, events, &p.display().to_string())?
        {
            let mut check = LedgerCheck {
                records: 0,
                intact: true,
                problem: None,
                kind: None,
                line: None,
                seq: None,
                head: GENESIS.to_string(),
                signed_records: 0,
                last_signed: None,
                unsigned_after: vec![],
                hash_at: None,
            };
            for r in ranges {
                if let Some(h) = r.last_hash() {
                    check.head = serial::hex(&h, b"0123456789abcdef");
                }
                check.records += r.records;
                check.signed_records += r.signed;
                if r.last_signed.is_some() {
                    check.last_signed = r.last_signed;
                    check.unsigned_after = r.unsigned_after;
                } else {
                    check.unsigned_after.extend(r.unsigned_after);
                    check.unsigned_after.truncate(16);
                }
                if let Some(h) = r.hash_at {
                    check.hash_at = Some(serial::hex(&h, b"0123456789abcdef"));
                }
                for (seq, event, line) in r.events {
                    f(seq, &event, &line)?;
                }
            }
            return Ok(check);
        }
        self.verify_ledger_one_thread(want, events, f)
    }

    fn verify_ledger_one_thread(
        &self,
        want: Option<u64>,
        events: &[&str],
        mut f: impl FnMut(u64, &str, &str) -> Result<()>,
    ) -> Result<LedgerCheck> {
        let mut prev = GENESIS.to_string();
        let mut expect_seq = 1u64;
        let mut first: Option<(LedgerProblem, usize, u64)> = None;
        let mut later_seqs: HashSet<u64> = HashSet::new();
        let mut records = 0u64;
        let mut last_signed: Option<(u64, String)> = None;
        let mut unsigned_after: Vec<(u64, String)> = vec![];
        let mut signed_records = 0u64;
        let mut hash_at = None;
        let p = self.path(LEDGER);
        if let Some(mut file) = self.fs.open_if_exists(&p)? {
            let mut buf = vec![0u8; 4 << 20];
            let mut filled = 0usize;
            let mut n = 0usize;
            loop {
                if filled == buf.len() {
                    bail!(
                        "{}: a line is longer than {}: refusing to read it",
                        p.display(),
                        limits::show(buf.len() as u64)
                    );
                }
                let got = file.read(&mut buf[filled..]).with_context(|| format!("cannot read {}", p.display()))?;
                if got == 0 {
                    break; // what is left has no newline: a record being written right now
                }
                filled += got;
                let mut start = 0;
                for end in memchr::memchr_iter(b'\n', &buf[..filled]) {
                    let bytes = &buf[start..end];
                    start = end + 1;
                    n += 1;
                    records += 1;
                    let line = std::str::from_utf8(bytes).ok();
                    // A record rewritten with its fields in another order is parsed the slow way
                    // (it then shows as edited, not as garbage).
                    let parsed;
                    let fields = match line.map(|l| (l, raw_fields(l))) {
                        Some((_, Some(f))) => Some(f),
                        Some((l, None)) => {
                            parsed = serde_json::from_str::<LedgerRecord>(l).ok();
                            parsed.as_ref().map(|r| (r.seq, r.event.as_str(), r.prev.as_str()))
                        }
                        None => None,
                    };
                    let hash = sha256_hex(bytes);
                    if let (Some(line), Some((seq, event, _))) = (line, fields) {
                        if first.is_some() && later_seqs.len() < 1 << 20 {
                            later_seqs.insert(seq);
                        }
                        if Some(seq) == want {
                            hash_at = Some(hash.clone());
                        }
                        if head::is_signed(line) {
                            signed_records += 1;
                            last_signed = Some((seq, line.to_string()));
                            unsigned_after.clear();
                        } else if matches!(event, "cert-issued" | "crl-generated") && unsigned_after.len() < 16 {
                            unsigned_after.push((seq, event.to_string()));
                        }
                        if events.contains(&event) {
                            f(seq, event, line)?;
                        }
                    }
                    if first.is_none() {
                        match fields {
                            None => first = Some((LedgerProblem::Malformed, n, expect_seq)),
                            Some((seq, _, _)) if seq > expect_seq => {
                                first = Some((LedgerProblem::Missing, n, expect_seq))
                            }
                            Some((seq, _, _)) if seq < expect_seq => first = Some((LedgerProblem::Reordered, n, seq)),
                            Some((_, _, rec_prev)) if rec_prev != prev => {
                                first = Some((LedgerProblem::Edited, (n - 1).max(1), (expect_seq - 1).max(1)))
                            }
                            Some(_) => {}
                        }
                    }
                    prev = hash;
                    expect_seq += 1;
                }
                buf.copy_within(start..filled, 0);
                filled -= start;
            }
        }
        let problem = first.map(|(kind, line, seq)| {
            // A record that seemed missing but turns up further down was moved, not removed.
            let kind = if kind == LedgerProblem::Missing && later_seqs.contains(&seq) {
                LedgerProblem::Reordered
            } else {
                kind
            };
            let message = match kind {
                LedgerProblem::Malformed => format!("line {line}: not a ledger record (the file was edited or damaged)"),
                LedgerProblem::Missing => {
                    format!("line {line}: record {seq} is missing (a record was removed)")
                }
                LedgerProblem::Reordered => format!("line {line}: record {seq} is out of order (records were reordered)"),
                LedgerProblem::Edited => format!(
                    "line {line}: record {seq} was changed after it was written (its hash no longer matches the next record's prev)"
                ),
            };
            LedgerBreak { kind, line, seq, message }
        });
        Ok(LedgerCheck {
            records,
            intact: problem.is_none(),
            problem: problem.as_ref().map(|p| p.message.clone()),
            kind: problem.as_ref().map(|p| p.kind),
            line: problem.as_ref().map(|p| p.line),
            seq: problem.as_ref().map(|p| p.seq),
            head: prev,
            signed_records,
            last_signed,
            unsigned_after,
            hash_at,
        })
    }

    /// Streams the inventory as borrowed views, reading it in large blocks without an allocation
    /// per record: the path `pki audit` takes over millions of records. `f` gets the line number
    /// and the record, or why the line is malformed; `progress` gets (bytes done, file size).
    pub fn scan_inventory(
        &self,
        mut f: impl FnMut(u64, Result<InventoryView<'_>, String>) -> Result<()>,
        progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        self.scan_inventory_at(|n, _, v| f(n, v), progress)
    }

    /// As [`CaDir::scan_inventory`], with each line's byte offset in the file (for
    /// [`CaDir::inventory_line_at`]): `f` gets (line number, offset, record).
    pub fn scan_inventory_at(
        &self,
        mut f: impl FnMut(u64, u64, Result<InventoryView<'_>, String>) -> Result<()>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<()> {
        let p = self.path(INVENTORY);
        let Some(mut file) = self.fs.open_if_exists(&p)? else { return Ok(()) };
        let total = file.metadata()?.len();
        let mut buf = vec![0u8; 1 << 20];
        let (mut filled, mut done, mut n) = (0usize, 0u64, 0u64);
        loop {
            if filled == buf.len() {
                // A line longer than the 1 MiB buffer is no inventory line: refuse, do not grow.
                bail!(
                    "{}: a line is longer than {}: refusing to read it (run `pki reindex`)",
                    p.display(),
                    limits::show(buf.len() as u64)
                );
            }
            let got = file.read(&mut buf[filled..]).with_context(|| format!("cannot read {}", p.display()))?;
            if got == 0 {
                // What is left has no newline: a line being written right now.
                break;
            }
            filled += got;
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', &buf[..filled]) {
                let line = &buf[start..end];
                start = end + 1;
                n += 1;
                if line.first() == Some(&b'#') {
                    continue;
                }
                let view =
                    std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string()).and_then(InventoryView::parse);
                f(n, done + (line.as_ptr() as usize - buf.as_ptr() as usize) as u64, view)?;
            }
            buf.copy_within(start..filled, 0);
            filled -= start;
            done += start as u64;
            progress(done, total);
        }
        Ok(())
    }

    /// The inventory record on the line starting at byte `offset` (from
    /// [`CaDir::scan_inventory_at`]), if that line still holds a record with serial `serial`
    /// (lines are rewritten in place, never moved, except by `pki reindex`).
    pub fn inventory_line_at(&self, offset: u64, serial: &str) -> Result<Option<InventoryRecord>> {
        use std::os::unix::fs::FileExt;
        let p = self.path(INVENTORY);
        let Some(file) = self.fs.open_if_exists(&p)? else { return Ok(None) };
        let mut buf = vec![0u8; 8192];
        let got = file.read_at(&mut buf, offset).with_context(|| format!("cannot read {}", p.display()))?;
        let Some(end) = memchr::memchr(b'\n', &buf[..got]) else { return Ok(None) };
        let Ok(line) = std::str::from_utf8(&buf[..end]) else { return Ok(None) };
        Ok(InventoryView::parse(line).ok().filter(|v| v.serial == serial).map(|v| v.to_record()))
    }

    /// Files and directories of the CA directory whose mode lets group or others in, except
    /// the issued certificates (see [`CaDir::for_each_cert_file`]).
    pub fn loose_permissions(&self) -> Result<Vec<LooseMode>> {
        let mut out = vec![];
        let mut visit = |p: &Path, st: &rustix::fs::Stat| {
            let mode = st.st_mode & 0o777;
            if mode & 0o077 != 0 {
                let is_key = p.file_name().is_some_and(|n| n == "key.pem");
                let is_dir = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
                out.push(LooseMode { path: p.to_path_buf(), mode, is_dir, is_key });
            }
        };
        if let Some(st) = self.fs.lstat(&self.root)? {
            visit(&self.root, &st);
        }
        let mut stack = vec![self.root.clone()];
        while let Some(d) = stack.pop() {
            for (name, is_dir) in self.fs.read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
                let path = d.join(&name);
                let Some(st) = self.fs.lstat(&path)? else { continue };
                if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink {
                    continue;
                }
                visit(&path, &st);
                if is_dir && !(d == self.root && name == CERTS) {
                    stack.push(path);
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Every file under `certs/` with its mode: (path, serial if the name is one, mode).
    pub fn for_each_cert_file(&self, mut f: impl FnMut(&Path, Option<Serial>, u32) -> Result<()>) -> Result<()> {
        let certs = self.root.join(CERTS);
        for (shard, is_dir) in self.fs.read_dir(&certs)? {
            let shard = certs.join(shard);
            let Some(st) = self.fs.lstat(&shard)? else { continue };
            f(&shard, None, st.st_mode & 0o777)?;
            if !is_dir {
                continue;
            }
            for (name, _) in self.fs.read_dir(&shard)? {
                let path = shard.join(&name);
                let Some(st) = self.fs.lstat(&path)? else { continue };
                let serial = name.strip_suffix(".pem").and_then(|s| Serial::parse(s).ok());
                f(&path, serial, st.st_mode & 0o777)?;
            }
        }
        Ok(())
    }

    /// The DER of a stored certificate; None when its file is missing.
    pub fn read_cert_der(&self, serial: &Serial) -> Result<Option<Vec<u8>>> {
        let p = self.cert_path(serial);
        let Some(bytes) = self.fs.read_if_exists(&p, limits::MAX_OBJECT)? else { return Ok(None) };
        let block = ::pem::parse(&bytes).with_context(|| format!("{} is not PEM", p.display()))?;
        Ok(Some(block.into_contents()))
    }

    /// Whether a CA's key file is encrypted (None when the key is not in the directory, e.g. a
    /// root kept offline).
    pub fn ca_key_encrypted(&self, name: &str) -> Result<Option<bool>> {
        let Some(bytes) = self.fs.read_if_exists(&self.ca_key_path(name), limits::MAX_OBJECT)? else { return Ok(None) };
        let bytes = zeroize::Zeroizing::new(bytes);
        Ok(Some(bytes.windows(28).any(|w| w == b"BEGIN ENCRYPTED PRIVATE KEY-")))
    }

    /// The ledger number of the last change that ran to completion (recorded in `.state`;
    /// `None` when that note is missing, and recovery then replays the last changes).
    pub fn applied_seq(&self) -> Option<u64> {
        let bytes = self.fs.read_if_exists(&self.path(STATE), 4096).ok()??;
        String::from_utf8_lossy(&bytes).trim().strip_prefix("applied ")?.trim().parse().ok()
    }

    /// The serials of a batch group whose writing was interrupted (the next lock completes or
    /// removes them); empty when none.
    pub fn batch_in_progress(&self) -> Vec<String> {
        let lists = self
            .batch_lists()
            .into_iter()
            .filter_map(|p| self.fs.read_if_exists(&p, limits::MAX_OBJECT).ok()?)
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        lists
            .flat_map(|t| t.lines().map(|l| l.trim().to_string()).collect::<Vec<_>>())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The lists of batch groups in `pending/` (normally none between changes).
    fn batch_lists(&self) -> Vec<PathBuf> {
        let pending = self.root.join(PENDING);
        let Ok(names) = self.fs.read_dir(&pending) else { return vec![] };
        names
            .into_iter()
            .filter(|(n, _)| n.starts_with(BATCH_LIST_PREFIX) && n.ends_with(".list"))
            .map(|(n, _)| pending.join(n))
            .collect()
    }
}

/// A file or directory whose mode is looser than 0600 / 0700.
#[derive(Debug, Clone)]
pub struct LooseMode {
    /// The file or directory.
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Whether it holds a private key.
    pub is_key: bool,
}

/// What the first break in the ledger's chain looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerProblem {
    /// A line that is not a ledger record.
    Malformed,
    /// A record's content no longer matches the hash its successor recorded.
    Edited,
    /// A sequence number is skipped.
    Missing,
    /// Records appear out of sequence.
    Reordered,
}

struct LedgerBreak {
    kind: LedgerProblem,
    line: usize,
    seq: u64,
    message: String,
}

/// The result of checking the ledger's hash chain (`pki ledger-verify`).
#[derive(Debug, Serialize)]
pub struct LedgerCheck {
    /// How many records were read.
    pub records: u64,
    /// Whether the chain is unbroken.
    pub intact: bool,
    /// What is wrong, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The kind of break.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<LedgerProblem>,
    /// The line of the first break.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The sequence number of the record concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// SHA-256 of the last record: the value to compare with a copy kept elsewhere.
    pub head: String,
    /// How many records carry a CA signature.
    pub signed_records: u64,
    /// The last signed record: (seq, line).
    #[serde(skip)]
    pub last_signed: Option<(u64, String)>,
    /// Records after the last signed one whose change used a CA key (so should be signed):
    /// (seq, event), the first 16.
    #[serde(skip)]
    pub unsigned_after: Vec<(u64, String)>,
    /// SHA-256 of the record asked for (a kept head's), if the ledger has it.
    #[serde(skip)]
    pub hash_at: Option<String>,
}

/// [`chain::fields`] as text, for the one-thread pass (the slices are ASCII, cut at ASCII
/// delimiters of a `str`).
fn raw_fields(line: &str) -> Option<(u64, &str, &str)> {
    let (seq, event, prev) = chain::fields(line.as_bytes())?;
    Some((seq, std::str::from_utf8(event).ok()?, std::str::from_utf8(prev).ok()?))
}

mod acme;
mod attest;
mod chain;
mod fsio;
mod head;
mod lock;
mod records;
mod reindex;
mod root;

pub use acme::{ACME_DIR, AcmeKind, valid_acme_id};
pub use attest::{SEEN_DIR, seen_key};
pub use fsio::{SyncSet, sha256_hex, write_atomic};
pub(crate) use fsio::{temp_path, write_new_file_outside};
pub use head::{LedgerSig, LedgerSigner, SigProblem, SignedHead, is_signed, signature_of, verify_by_cert, verify_line};
pub use lock::{Locked, NewCa};
pub use records::{InventoryRecord, InventoryView, LedgerRecord, Revocation, Status};
pub use reindex::ReindexReport;
use root::{Access, Root};

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> InventoryRecord {
        InventoryRecord {
            serial: "4A0BFF00112233445566778899AABBCC".into(),
            status: Status::Valid,
            not_before: "2026-11-28T22:00:00Z".into(),
            not_after: "2026-11-29T22:00:00Z".into(),
            revoked_at: None,
            reason: None,
            replaced_by: None,
            ca: "issuing".into(),
            profile: None,
            key_type: "p256".into(),
            subject: "CN=api.acme.internal".into(),
            sans: vec!["DNS:api.acme.internal".into(), "IP:10.0.0.1".into()],
        }
    }

    #[test]
    fn inventory_lines_round_trip_with_fixed_width_state_fields() {
        let r = sample();
        let line = r.to_line();
        assert_eq!(InventoryRecord::parse(&line).unwrap(), r);
        let mut revoked = r.clone();
        revoked.status = Status::Revoked;
        revoked.revoked_at = Some("2026-11-28T23:00:00Z".into());
        revoked.reason = Some("cessationOfOperation".into());
        revoked.replaced_by = Some("7F0BFF00112233445566778899AABBCC".into());
        let line2 = revoked.to_line();
        assert_eq!(line.len(), line2.len(), "state changes must not change the line length");
        assert_eq!(InventoryRecord::parse(&line2).unwrap(), revoked);
    }

    #[test]
    fn torn_tail_is_cut_and_last_line_found() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, "one\ntwo\nthr").unwrap();
        let root = Root::new(d.path()).unwrap();
        root.truncate_partial_tail(&d.path().join("f")).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "one\ntwo\n");
        assert_eq!(root.last_line(&d.path().join("f")).unwrap().as_deref(), Some("two"));
        let long = "x".repeat(20000);
        fs::write(&p, format!("a\n{long}\n")).unwrap();
        assert_eq!(root.last_line(&d.path().join("f")).unwrap(), Some(long));
    }
}
