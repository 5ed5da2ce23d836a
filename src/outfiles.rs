//! Files `pki` writes for the user outside the CA directory (`issue --out DIR`): staged as temp
//! files before the issuance commits, renamed into place after, removed if anything fails.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::exit::PkiError;
use crate::store::{fsync_dir, temp_path, write_new_file};

#[derive(Default)]
pub struct Staged {
    files: Vec<(PathBuf, PathBuf)>,
}

/// Refuses existing targets unless `force`, before anything is generated or written.
pub fn check_targets(dir: &Path, names: &[&str], force: bool) -> Result<()> {
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
    pub fn stage(&mut self, dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<PathBuf> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .with_context(|| format!("cannot create --out directory {}", dir.display()))?;
        }
        let dest = dir.join(name);
        let tmp = temp_path(&dest);
        write_new_file(&tmp, bytes, mode)?;
        self.files.push((tmp, dest.clone()));
        Ok(dest)
    }

    /// Moves every staged file into place.
    pub fn commit(mut self) -> Result<()> {
        let files = std::mem::take(&mut self.files);
        let mut dirs = vec![];
        for (tmp, dest) in &files {
            fs::rename(tmp, dest).with_context(|| format!("cannot write {}", dest.display()))?;
            if let Some(d) = dest.parent()
                && !dirs.contains(&d.to_path_buf())
            {
                dirs.push(d.to_path_buf());
            }
        }
        for d in dirs {
            fsync_dir(if d.as_os_str().is_empty() { Path::new(".") } else { &d })?;
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
