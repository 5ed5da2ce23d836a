//! The ACME state of `pki serve` (accounts, orders, authorizations): one JSON file per object
//! at `acme/KIND/ID.json`, each replaced whole by a synced temp file renamed over it, so a
//! server killed mid-write leaves the old object or the new one, never half of either.
//!
//! These files are not under the directory lock: only `pki serve` writes them (one process per
//! directory, serialised by its own mutex), and the certificates an order yields are committed
//! through the issuance core under the lock like any other. They are the server's working
//! state, not evidence: the ledger records every ACME issuance and revocation with its account.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::CaDir;
use crate::limits;

/// The top directory of the ACME state.
pub const ACME_DIR: &str = "acme";

/// A kind of ACME object, and the subdirectory holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeKind {
    /// `acme/accounts/`.
    Account,
    /// `acme/orders/`.
    Order,
    /// `acme/authzs/` (challenges live inside their authorization).
    Authz,
    /// `acme/eab/`: External Account Binding keys ([`crate::acme_eab`]).
    Eab,
}

impl AcmeKind {
    fn dir(self) -> &'static str {
        match self {
            AcmeKind::Account => "accounts",
            AcmeKind::Order => "orders",
            AcmeKind::Authz => "authzs",
            AcmeKind::Eab => "eab",
        }
    }
}

/// An object id is what the server drew: 1-64 characters of the base64url alphabet. Anything
/// else is refused before a path is built from it.
pub fn valid_acme_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl CaDir {
    fn acme_path(&self, kind: AcmeKind, id: &str) -> Result<PathBuf> {
        if !valid_acme_id(id) {
            bail!("invalid ACME object id '{}'", id.escape_default());
        }
        Ok(self.root.join(ACME_DIR).join(kind.dir()).join(format!("{id}.json")))
    }

    /// Writes (or replaces) one object, durably.
    pub fn acme_save(&self, kind: AcmeKind, id: &str, json: &[u8]) -> Result<()> {
        let p = self.acme_path(kind, id)?;
        self.fs.mkdir_0700(p.parent().expect("has a parent"))?;
        self.fs.write_atomic(&p, json, 0o600)
    }

    /// Removes one object (expired orders and authorizations); a missing one is not an error.
    pub fn acme_remove(&self, kind: AcmeKind, id: &str) -> Result<()> {
        let p = self.acme_path(kind, id)?;
        match self.fs.remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot remove {}", p.display()))),
        }
    }

    /// Every object of a kind: (id, bytes). Temp files a killed server left are removed.
    pub fn acme_load(&self, kind: AcmeKind) -> Result<Vec<(String, Vec<u8>)>> {
        let d = self.root.join(ACME_DIR).join(kind.dir());
        if self.fs.lstat(&d)?.is_none() {
            return Ok(vec![]);
        }
        self.fs.remove_stale_temps(&d)?;
        let mut out = vec![];
        for (name, is_dir) in self.fs.read_dir(&d)? {
            let Some(id) = name.strip_suffix(".json") else { continue };
            if is_dir || !valid_acme_id(id) {
                continue;
            }
            if let Some(bytes) = self.fs.read_if_exists(&d.join(&name), limits::MAX_ACME_OBJECT)? {
                out.push((id.to_string(), bytes));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_a_path_is_built() {
        assert!(valid_acme_id("aZ09-_"));
        for bad in ["", "../x", "a/b", "a.json", &"x".repeat(65)] {
            assert!(!valid_acme_id(bad), "{bad}");
        }
    }
}
