//! The tokens attestation has used (`attest/seen/KEY.json`, KEY = SHA-256 of issuer and `jti`):
//! one small file each, written durably (synced temp file renamed in) before the SVID is
//! issued, so a token is refused a second time even across restarts of `pki serve`. Each file
//! holds the token's `exp`; expired ones are removed by the server's cleanup.
//!
//! Like the ACME state these are the server's working state, not evidence (the ledger records
//! every attested SVID with its `jti`), and only `pki serve` writes them.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::CaDir;
use super::acme::valid_acme_id;

/// The directory of used tokens.
pub const SEEN_DIR: &str = "attest/seen";

/// The file name (without `.json`) for a token: hex SHA-256 over issuer, NUL, jti. Fixed length
/// whatever the jti holds, and the jti itself never becomes a path.
pub fn seen_key(issuer: &str, jti: &str) -> String {
    super::sha256_hex(format!("{issuer}\0{jti}").as_bytes())
}

impl CaDir {
    fn seen_path(&self, key: &str) -> Result<PathBuf> {
        if !valid_acme_id(key) {
            bail!("invalid token key '{}'", key.escape_default());
        }
        Ok(self.root.join(SEEN_DIR).join(format!("{key}.json")))
    }

    /// Records a used token (its `exp`, Unix seconds), durably.
    pub fn attest_seen_add(&self, key: &str, exp: i64) -> Result<()> {
        let p = self.seen_path(key)?;
        self.fs.mkdir_0700(&self.root.join("attest"))?;
        self.fs.mkdir_0700(p.parent().expect("has a parent"))?;
        self.fs.write_atomic(&p, format!("{{\"exp\":{exp}}}\n").as_bytes(), 0o600)
    }

    /// Forgets a used token (its `exp` has passed); a missing one is not an error.
    pub fn attest_seen_remove(&self, key: &str) -> Result<()> {
        let p = self.seen_path(key)?;
        match self.fs.remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot remove {}", p.display()))),
        }
    }

    /// Every used token: (key, exp). A file that cannot be read as one counts as used until
    /// a day from now (refusing a token wrongly is the safe side).
    pub fn attest_seen_load(&self, now: i64) -> Result<Vec<(String, i64)>> {
        let d = self.root.join(SEEN_DIR);
        if self.fs.lstat(&d)?.is_none() {
            return Ok(vec![]);
        }
        self.fs.remove_stale_temps(&d)?;
        let mut out = vec![];
        for (name, is_dir) in self.fs.read_dir(&d)? {
            let Some(key) = name.strip_suffix(".json") else { continue };
            if is_dir || !valid_acme_id(key) {
                continue;
            }
            let exp = self
                .fs
                .read_if_exists(&d.join(&name), 1024)?
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.get("exp").and_then(serde_json::Value::as_i64))
                .unwrap_or(now + 86_400);
            out.push((key.to_string(), exp));
        }
        Ok(out)
    }
}
