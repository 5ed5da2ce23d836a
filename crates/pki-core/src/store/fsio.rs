//! File-system primitives of the CA directory: durable and atomic writes, appends, torn-tail
//! repair, the sync set that batches flushes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use sha2::{Digest, Sha256};

use super::root::{Access, Root, is_not_found};
use super::{INVENTORY, INVENTORY_HEADER};

/// Runs the steps after a change's commit point. Their failure (a full disk) cannot be undone
/// here, but the change is durable: the next locked run completes it (`recover`), and the
/// message says so instead of suggesting that nothing happened.
pub(super) fn after_commit(what: &str, steps: impl FnOnce() -> Result<()>) -> Result<()> {
    steps().map_err(|e| {
        e.context(format!(
            "{what} is recorded in the ledger but not yet complete (the next pki command that changes this directory completes it)"
        ))
    })
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::serial::hex(&Sha256::digest(bytes), b"0123456789abcdef")
}

/// Files and directories to make durable together. With little unwritten data in the whole
/// system (Dirty + Writeback in /proc/meminfo under `SYNCFS_MAX_DIRTY_KB`), one `syncfs` per
/// file system does it at about the cost of one fsync (measured here: 6 new files 0.28 ms by
/// syncfs, 0.95 ms by an fsync each); otherwise each is fsynced, so that other writers' data
/// on a busy disk never holds a change up.
#[derive(Default)]
pub struct SyncSet {
    items: Vec<(File, PathBuf)>,
}

/// Above this much unwritten data, [`SyncSet`] fsyncs file by file instead of `syncfs`.
pub(super) const SYNCFS_MAX_DIRTY_KB: u64 = 16 * 1024;

impl SyncSet {
    /// A written file to be made durable (the file and its path).
    pub fn add(&mut self, (f, p): (File, PathBuf)) {
        self.items.push((f, p));
    }

    /// Takes over everything `other` was to make durable.
    pub fn extend(&mut self, other: SyncSet) {
        self.items.extend(other.items);
    }

    /// A directory (inside `root`) whose entries (renames, new files) are to be made durable.
    /// A directory outside any CA directory (`--out`), to be made durable.
    pub(crate) fn add_dir_outside(&mut self, p: &Path) -> Result<()> {
        let p = if p.as_os_str().is_empty() { Path::new(".") } else { p };
        let d = File::open(p).with_context(|| format!("cannot open directory {}", p.display()))?;
        self.items.push((d, p.to_path_buf()));
        Ok(())
    }

    pub(crate) fn add_dir(&mut self, root: &Root, p: &Path) -> Result<()> {
        let d = root.open_dir(p)?;
        self.items.push((d, p.to_path_buf()));
        Ok(())
    }

    /// Flushes everything added, then forgets it.
    pub fn sync(&mut self) -> Result<()> {
        let by_fs = self.items.len() > 1 && little_unwritten_data();
        self.sync_with(by_fs)
    }

    /// Syncs with one `syncfs` per file system whatever else is unwritten: for a batch group,
    /// whose own thousands of files are most of what is unwritten.
    pub fn sync_by_filesystem(&mut self) -> Result<()> {
        self.sync_with(true)
    }

    fn sync_with(&mut self, by_fs: bool) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let items = std::mem::take(&mut self.items);
        if by_fs {
            let mut devices: Vec<u64> = vec![];
            for (f, p) in &items {
                let dev = f.metadata().with_context(|| format!("cannot sync {}", p.display()))?.dev();
                if !devices.contains(&dev) {
                    devices.push(dev);
                    syncfs_fd(f).with_context(|| format!("cannot sync {}", p.display()))?;
                }
            }
            return Ok(());
        }
        for (f, p) in &items {
            f.sync_all().with_context(|| format!("cannot sync {}", p.display()))?;
        }
        Ok(())
    }
}

/// True when the system holds little data not yet written to disk (or /proc is unreadable:
/// then false, and files are fsynced one by one).
pub(super) fn little_unwritten_data() -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else { return false };
    let kb = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
    };
    matches!((kb("Dirty:"), kb("Writeback:")), (Some(d), Some(w)) if d + w <= SYNCFS_MAX_DIRTY_KB)
}

pub(super) fn syncfs_fd(f: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs takes a valid open file descriptor, which `f` holds for the call.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Position of the last b'\n' strictly before `end`, scanning backwards in blocks.
pub(super) fn last_newline_before(f: &mut File, end: u64) -> Result<Option<u64>> {
    let mut pos = end;
    let mut buf = vec![0u8; 8192];
    while pos > 0 {
        let n = (buf.len() as u64).min(pos) as usize;
        pos -= n as u64;
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(Some(pos + i as u64));
        }
    }
    Ok(None)
}

/// Writes `bytes` to `dest` (a file outside any CA directory: `--out`, a trust store) through a
/// temp file and a rename, without following a link at `dest` or the temp file's name.
pub fn write_atomic(dest: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    Root::parent_of_path(dest)?.write_atomic(dest, bytes, mode)
}

/// Writes a new file outside any CA directory (a `--out` temp file), not following a link
/// at its name, not yet synced.
pub(crate) fn write_new_file_outside(p: &Path, bytes: &[u8], mode: u32) -> Result<(File, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(p)
        .with_context(|| format!("cannot create {}", p.display()))?;
    if let Err(e) = f.write_all(bytes) {
        drop(f);
        let _ = std::fs::remove_file(p);
        return Err(e).with_context(|| format!("cannot write {}", p.display()));
    }
    Ok((f, p.to_path_buf()))
}

/// A unique temp name beside `dest`: `.NAME.tmp.PID.RANDOM`.
pub(crate) fn temp_path(dest: &Path) -> PathBuf {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    // A random tag and the process id drawn once, a counter per name: no two writers, and no
    // two temp files of one process, share a name (a batch makes five per certificate).
    static TAG: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tag = TAG.get_or_init(|| {
        let mut r = [0u8; 6];
        let _ = getrandom::fill(&mut r);
        format!("{}.{}", std::process::id(), crate::serial::hex(&r, b"0123456789abcdef"))
    });
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.tmp.{tag}.{}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

impl Root {
    /// Creates directory `p` (0700) and any missing parent inside the CA directory, and makes
    /// their creation durable.
    pub(crate) fn mkdir_0700(&self, p: &Path) -> Result<()> {
        if let Some(parent) = p.parent()
            && parent != self.path()
            && self.lstat(parent)?.is_none()
        {
            self.mkdir_0700(parent)?;
        }
        if self.mkdir(p)? {
            self.fsync_dir(p.parent().unwrap_or(p))?;
        }
        Ok(())
    }

    /// Flushes the whole file system holding `p`.
    pub(crate) fn syncfs(&self, p: &Path) -> Result<()> {
        let dir = self.open_dir(p)?;
        syncfs_fd(&dir).with_context(|| format!("cannot sync {}", p.display()))
    }

    /// Makes the entries of directory `p` durable.
    pub(crate) fn fsync_dir(&self, p: &Path) -> Result<()> {
        self.open_dir(p)?.sync_all().with_context(|| format!("cannot sync directory {}", p.display()))
    }

    /// Creates `p`, which must not exist, with `mode`.
    pub(crate) fn create_new_file(&self, p: &Path, mode: u32) -> Result<File> {
        self.open(p, Access::CreateNew(mode)).with_context(|| format!("cannot create {}", p.display()))
    }

    /// Writes a new file (removed again if the write fails), not yet synced: the caller syncs
    /// it with others (a [`SyncSet`]).
    pub(crate) fn write_new_file_unsynced(&self, p: &Path, bytes: &[u8], mode: u32) -> Result<(File, PathBuf)> {
        let mut f = self.create_new_file(p, mode)?;
        if let Err(e) = f.write_all(bytes) {
            drop(f);
            let _ = self.remove_file(p);
            return Err(e).with_context(|| format!("cannot write {}", p.display()));
        }
        Ok((f, p.to_path_buf()))
    }

    /// Writes a new file and syncs it (removed again if either fails).
    pub(crate) fn write_new_file(&self, p: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        let (f, _) = self.write_new_file_unsynced(p, bytes, mode)?;
        if let Err(e) = f.sync_all() {
            drop(f);
            let _ = self.remove_file(p);
            return Err(e).with_context(|| format!("cannot write {}", p.display()));
        }
        Ok(())
    }

    /// Replaces `dest` atomically: a synced temp file renamed over it, the directory synced.
    pub(crate) fn write_atomic(&self, dest: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        let tmp = temp_path(dest);
        let res = (|| -> Result<()> {
            self.write_new_file(&tmp, bytes, mode)?;
            self.rename(&tmp, dest).with_context(|| format!("cannot write {}", dest.display()))?;
            self.fsync_dir(dest.parent().unwrap_or(dest))?;
            Ok(())
        })();
        if res.is_err() {
            let _ = self.remove_file(&tmp);
        }
        res
    }

    /// Removes temp files a killed process left in directory `dir`.
    pub(crate) fn remove_stale_temps(&self, dir: &Path) -> Result<()> {
        for (name, is_dir) in self.read_dir(dir)? {
            if !is_dir && name.starts_with('.') && name.contains(".tmp.") {
                self.remove_file(&dir.join(&name)).with_context(|| format!("cannot remove {name}"))?;
            }
        }
        Ok(())
    }

    /// Appends a line, not synced (the caller syncs it with others).
    pub(crate) fn append_line_unsynced(&self, p: &Path, line: &str) -> Result<(File, PathBuf)> {
        let f = self.append_line_to(p, line)?;
        Ok((f, p.to_path_buf()))
    }

    /// Appends a line, synced if `sync`.
    pub(crate) fn append_line(&self, p: &Path, line: &str, sync: bool) -> Result<()> {
        let f = self.append_line_to(p, line)?;
        if sync {
            f.sync_data().with_context(|| format!("cannot write {}", p.display()))?;
        }
        Ok(())
    }

    /// Appends one line in one write (with the inventory's header first if the file is new).
    fn append_line_to(&self, p: &Path, line: &str) -> Result<File> {
        let mut f = self.open(p, Access::Append(0o600))?;
        let is_new = f.metadata()?.len() == 0;
        let mut buf = String::with_capacity(line.len() + INVENTORY_HEADER.len() + 2);
        if is_new && p.file_name().is_some_and(|n| n == INVENTORY) {
            buf.push_str(INVENTORY_HEADER);
            buf.push('\n');
        }
        buf.push_str(line);
        buf.push('\n');
        f.write_all(buf.as_bytes()).with_context(|| format!("cannot write {}", p.display()))?;
        Ok(f)
    }

    /// Opens `p` for reading, or `None` if it does not exist.
    pub(crate) fn open_if_exists(&self, p: &Path) -> Result<Option<File>> {
        match self.open(p, Access::Read) {
            Ok(f) => Ok(Some(f)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.context(format!("cannot read {}", p.display()))),
        }
    }

    /// Reads `p` whole (at most `limit` bytes, else an error naming it), or `None` if missing.
    pub(crate) fn read_if_exists(&self, p: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(f) = self.open_if_exists(p)? else { return Ok(None) };
        // Sized from the file's length: one read for a CRL of megabytes, not a doubling series.
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len > limit {
            anyhow::bail!("{} is larger than {}: refusing to read it", p.display(), crate::limits::show(limit));
        }
        let mut buf = Vec::with_capacity(len as usize + 1);
        f.take(limit + 1).read_to_end(&mut buf).with_context(|| format!("cannot read {}", p.display()))?;
        if buf.len() as u64 > limit {
            anyhow::bail!("{} is larger than {}: refusing to read it", p.display(), crate::limits::show(limit));
        }
        Ok(Some(buf))
    }

    /// Cuts a torn last line (no newline) left by a killed writer.
    pub(crate) fn truncate_partial_tail(&self, p: &Path) -> Result<()> {
        let mut f = match self.open(p, Access::ReadWrite) {
            Ok(f) => f,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len == 0 {
            return Ok(());
        }
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] == b'\n' {
            return Ok(());
        }
        let keep = match last_newline_before(&mut f, len)? {
            Some(pos) => pos + 1,
            None => 0,
        };
        f.set_len(keep)?;
        f.sync_all()?;
        Ok(())
    }

    /// The last complete line of a file, without reading the rest of it.
    pub(crate) fn last_line(&self, p: &Path) -> Result<Option<String>> {
        Ok(self.last_lines(p, 1)?.pop())
    }

    /// The last `n` complete lines of a file (fewer if it has fewer), oldest first, reading only
    /// the file's end; comment lines are left out. A line longer than
    /// [`MAX_LINE`](crate::limits::MAX_LINE) is an error.
    pub(crate) fn last_lines(&self, p: &Path, n: usize) -> Result<Vec<String>> {
        let mut out = vec![];
        if n > 0 {
            self.for_each_line_rev(p, |line| {
                out.push(line);
                Ok(out.len() < n)
            })?;
        }
        out.reverse();
        Ok(out)
    }

    /// Calls `f` with the complete lines of a file from the last backwards, until it returns
    /// false; comment lines are left out. A line longer than [`MAX_LINE`](crate::limits::MAX_LINE)
    /// is an error.
    pub(crate) fn for_each_line_rev(&self, p: &Path, mut f: impl FnMut(String) -> Result<bool>) -> Result<()> {
        let Some(mut file) = self.open_if_exists(p)? else { return Ok(()) };
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(());
        }
        // The file ends with a newline (recovery guarantees it under the lock; readers skip a torn tail).
        let Some(mut end) = last_newline_before(&mut file, len)? else {
            return Ok(());
        };
        loop {
            let start = last_newline_before(&mut file, end)?.map(|p| p + 1).unwrap_or(0);
            if end - start > crate::limits::MAX_LINE as u64 {
                anyhow::bail!(
                    "{}: a line of {} bytes is longer than the limit of {}",
                    p.display(),
                    end - start,
                    crate::limits::MAX_LINE
                );
            }
            let mut buf = vec![0u8; (end - start) as usize];
            file.seek(SeekFrom::Start(start))?;
            file.read_exact(&mut buf)?;
            let s = String::from_utf8(buf).map_err(|_| anyhow!("{} is not UTF-8", p.display()))?;
            if !s.starts_with('#') && !f(s)? {
                return Ok(());
            }
            if start == 0 {
                return Ok(());
            }
            end = start - 1;
        }
    }
}
