//! File-system primitives of the CA directory: durable and atomic writes, appends, torn-tail
//! repair, the sync set that batches flushes.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use sha2::{Digest, Sha256};

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

/// Test hook: `PKI_CRASH_AT=NAME` aborts the process at that step of a change, so tests can
/// check recovery from each intermediate state deterministically (random SIGKILLs cover the rest).
pub(super) fn crash_point(name: &str) {
    if std::env::var_os("PKI_CRASH_AT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::serial::hex(&Sha256::digest(bytes), b"0123456789abcdef")
}

pub(super) fn mkdir_0700(p: &Path) -> Result<()> {
    if p.is_dir() {
        return Ok(());
    }
    match fs::DirBuilder::new().recursive(true).mode(0o700).create(p) {
        Ok(()) => {
            if let Some(parent) = p.parent() {
                fsync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create directory {}", p.display())),
    }
}

/// Flushes everything written to the file system holding `p` (one call for a whole batch of
/// files, where an fsync each would cost a disk flush per certificate).
pub(super) fn syncfs(p: &Path) -> Result<()> {
    let dir = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
    syncfs_fd(&dir).with_context(|| format!("cannot sync {}", p.display()))
}

pub(crate) fn fsync_dir(p: &Path) -> Result<()> {
    File::open(p).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync directory {}", p.display()))
}

pub(super) fn create_new_file(p: &Path, mode: u32) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(p)
        .with_context(|| format!("cannot create {}", p.display()))
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

    /// A directory whose entries (renames, new files) are to be made durable.
    pub fn add_dir(&mut self, p: &Path) -> Result<()> {
        let p = if p.as_os_str().is_empty() { Path::new(".") } else { p };
        let d = File::open(p).with_context(|| format!("cannot open directory {}", p.display()))?;
        self.items.push((d, p.to_path_buf()));
        Ok(())
    }

    /// Flushes everything added, then forgets it.
    pub fn sync(&mut self) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let items = std::mem::take(&mut self.items);
        if items.len() > 1 && little_unwritten_data() {
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
    let Ok(text) = fs::read_to_string("/proc/meminfo") else { return false };
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

/// Writes a file that must not exist yet, without an fsync (the caller syncs it, usually in a
/// [`SyncSet`]). On failure the partial file is removed.
pub(crate) fn write_new_file_unsynced(p: &Path, bytes: &[u8], mode: u32) -> Result<(File, PathBuf)> {
    let mut f = create_new_file(p, mode)?;
    if let Err(e) = f.write_all(bytes) {
        drop(f);
        let _ = fs::remove_file(p);
        return Err(e).with_context(|| format!("cannot write {}", p.display()));
    }
    Ok((f, p.to_path_buf()))
}

/// Writes a file that must not exist yet, and fsyncs it.
/// On failure (a full disk) the partial file is removed: nothing half-written is left behind.
pub(crate) fn write_new_file(p: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let (f, _) = write_new_file_unsynced(p, bytes, mode)?;
    if let Err(e) = f.sync_all() {
        drop(f);
        let _ = fs::remove_file(p);
        return Err(e).with_context(|| format!("cannot write {}", p.display()));
    }
    Ok(())
}

pub(crate) fn temp_path(dest: &Path) -> PathBuf {
    let mut r = [0u8; 6];
    let _ = getrandom::fill(&mut r);
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tag = crate::serial::hex(&r, b"0123456789abcdef");
    dest.with_file_name(format!(".{name}.tmp.{}.{tag}", std::process::id()))
}

/// Temp file in the same directory, fsync, rename, fsync the directory. `mode` applies to
/// the new file from its creation, so a key is never readable by others, not even briefly.
pub fn write_atomic(dest: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let tmp = temp_path(dest);
    let res = (|| -> Result<()> {
        write_new_file(&tmp, bytes, mode)?;
        fs::rename(&tmp, dest).with_context(|| format!("cannot write {}", dest.display()))?;
        fsync_dir(dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))?;
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Removes temp files that a killed process left in the directory's root.
pub(super) fn remove_stale_temps(root: &Path) -> Result<()> {
    for e in fs::read_dir(root)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp.") {
            fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

/// Appends one line with a single write, without a sync (the caller syncs the file returned).
pub(super) fn append_line_unsynced(p: &Path, line: &str) -> Result<(File, PathBuf)> {
    let f = append_line_to(p, line)?;
    Ok((f, p.to_path_buf()))
}

/// Appends one line with a single write, then fsyncs.
pub(super) fn append_line(p: &Path, line: &str, sync: bool) -> Result<()> {
    let f = append_line_to(p, line)?;
    if sync {
        f.sync_data().with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

pub(super) fn append_line_to(p: &Path, line: &str) -> Result<File> {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(p)
        .with_context(|| format!("cannot open {}", p.display()))?;
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

/// Opens a file for reading; None when it does not exist (yet).
pub(super) fn open_if_exists(p: &Path) -> Result<Option<File>> {
    match File::open(p) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
    }
}

/// A whole file; None when it does not exist (yet).
pub(super) fn read_if_exists(p: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
    }
}

/// Cuts a line that a killed process left half-written at the end of an append-only file.
pub(super) fn truncate_partial_tail(p: &Path) -> Result<()> {
    let mut f = match OpenOptions::new().read(true).write(true).open(p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", p.display())),
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

/// The last complete line of a file, without reading the rest of it.
pub(super) fn last_line(p: &Path) -> Result<Option<String>> {
    Ok(last_lines(p, 1)?.pop())
}

/// The last `n` complete lines of a file (fewer if it has fewer), oldest first, reading only
/// the file's end; comment lines are left out.
pub(super) fn last_lines(p: &Path, n: usize) -> Result<Vec<String>> {
    let Some(mut f) = open_if_exists(p)? else { return Ok(vec![]) };
    let len = f.metadata()?.len();
    if len == 0 || n == 0 {
        return Ok(vec![]);
    }
    // The file ends with a newline (recovery guarantees it under the lock; readers skip a torn tail).
    let Some(mut end) = last_newline_before(&mut f, len)? else {
        return Ok(vec![]);
    };
    let mut out = vec![];
    while out.len() < n {
        let start = last_newline_before(&mut f, end)?.map(|p| p + 1).unwrap_or(0);
        let mut buf = vec![0u8; (end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut buf)?;
        let s = String::from_utf8(buf).map_err(|_| anyhow!("{} is not UTF-8", p.display()))?;
        if !s.starts_with('#') {
            out.push(s);
        }
        if start == 0 {
            break;
        }
        end = start - 1;
    }
    out.reverse();
    Ok(out)
}
