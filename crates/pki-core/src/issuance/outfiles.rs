//! Files `pki` writes for the user outside the CA directory (`issue --out DIR`): staged as temp
//! files before the issuance commits, renamed into place after, removed if anything fails.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::PkiError;
use crate::store::{SyncSet, temp_path, write_new_file_outside};

#[derive(Default)]
pub(super) struct Staged {
    files: Vec<(PathBuf, PathBuf)>,
    /// A whole new directory staged beside its place: (temp directory, destination).
    dir: Option<(PathBuf, PathBuf)>,
}

/// Refuses existing targets unless `force`, before anything is generated or written.
pub fn check_targets(dir: &Path, names: &[&str], force: bool) -> Result<()> {
    match std::fs::metadata(dir) {
        // No directory, no files in it (one stat, not six: a batch checks every line).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Ok(m) if !m.is_dir() => anyhow::bail!("--out {} exists and is not a directory", dir.display()),
        _ => {}
    }
    if !force {
        for n in names {
            let p = dir.join(n);
            if p.exists() {
                return Err(PkiError::OutputExists { path: p }.into());
            }
        }
    }
    Ok(())
}

impl Staged {
    /// Stages files for a directory that does not exist yet as one temp directory beside it,
    /// moved into place with one rename (a batch writes thousands). The caller makes the
    /// parent directory durable (once for all the directories staged in it: a sync by file
    /// system covers their contents). Returns false, staging nothing, when `dir` exists (then
    /// stage file by file).
    pub fn stage_new_dir(&mut self, dir: &Path, files: &[(&str, &[u8], u32)]) -> Result<bool> {
        if std::fs::symlink_metadata(dir).is_ok() {
            return Ok(false);
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .with_context(|| format!("cannot create --out directory {}", parent.display()))?;
        }
        let tmp = temp_path(dir);
        fs::DirBuilder::new().mode(0o755).create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        self.dir = Some((tmp.clone(), dir.to_path_buf()));
        for (name, bytes, mode) in files {
            write_new_file_outside(&tmp.join(name), bytes, *mode)?;
        }
        Ok(true)
    }

    /// Writes a temp file beside `dir/name`; `durable` gets it, to be synced before the commit.
    pub fn stage(&mut self, dir: &Path, name: &str, bytes: &[u8], mode: u32, durable: &mut SyncSet) -> Result<()> {
        if !dir.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .with_context(|| format!("cannot create --out directory {}", dir.display()))?;
        }
        let dest = dir.join(name);
        let tmp = temp_path(&dest);
        durable.add(write_new_file_outside(&tmp, bytes, mode)?);
        self.files.push((tmp, dest));
        Ok(())
    }

    /// Moves every staged file into place; `durable` gets their directories, to be synced.
    pub fn publish(&mut self, durable: &mut SyncSet) -> Result<()> {
        if let Some((tmp, dest)) = self.dir.take()
            && let Err(e) = fs::rename(&tmp, &dest)
        {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e).with_context(|| format!("cannot write {}", dest.display()));
        }
        let files = std::mem::take(&mut self.files);
        let mut dirs: Vec<&Path> = vec![];
        for (tmp, dest) in &files {
            if let Err(e) = fs::rename(tmp, dest) {
                for (t, _) in &files {
                    let _ = fs::remove_file(t);
                }
                return Err(e).with_context(|| format!("cannot write {}", dest.display()));
            }
            if let Some(d) = dest.parent()
                && !dirs.contains(&d)
            {
                dirs.push(d);
            }
        }
        for d in dirs {
            durable.add_dir_outside(d)?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some((tmp, _)) = &self.dir {
            let _ = fs::remove_dir_all(tmp);
        }
        for (tmp, _) in &self.files {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Writes files into an `--out` directory outside any CA directory, all or none as far as the
/// file system allows: existing targets refused unless `force`, each file staged beside its
/// place, synced, then renamed in (`pki attest` writes what the server sent this way).
pub fn write_out_dir(dir: &Path, files: &[(&str, &[u8], u32)], force: bool) -> Result<()> {
    let names: Vec<&str> = files.iter().map(|f| f.0).collect();
    check_targets(dir, &names, force)?;
    let mut staged = Staged::default();
    let mut durable = SyncSet::default();
    for (name, bytes, mode) in files {
        if let Err(e) = staged.stage(dir, name, bytes, *mode, &mut durable) {
            for (t, _) in &staged.files {
                let _ = fs::remove_file(t);
            }
            return Err(e);
        }
    }
    durable.sync()?;
    let mut dirs = SyncSet::default();
    staged.publish(&mut dirs)?;
    dirs.sync()
}
