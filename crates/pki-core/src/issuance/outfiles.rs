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
}

/// Refuses existing targets unless `force`, before anything is generated or written.
pub(super) fn check_targets(dir: &Path, names: &[&str], force: bool) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("--out {} exists and is not a directory", dir.display());
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
    /// Writes a temp file beside `dir/name`; `durable` gets it, to be synced before the commit.
    pub fn stage(&mut self, dir: &Path, name: &str, bytes: &[u8], mode: u32, durable: &mut SyncSet) -> Result<PathBuf> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .with_context(|| format!("cannot create --out directory {}", dir.display()))?;
        }
        let dest = dir.join(name);
        let tmp = temp_path(&dest);
        durable.add(write_new_file_outside(&tmp, bytes, mode)?);
        self.files.push((tmp, dest.clone()));
        Ok(dest)
    }

    /// Moves every staged file into place; `durable` gets their directories, to be synced.
    pub fn publish(&mut self, durable: &mut SyncSet) -> Result<()> {
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
        for (tmp, _) in &self.files {
            let _ = fs::remove_file(tmp);
        }
    }
}
