//! SPIRE's upstream CA. A CA made with `create-intermediate --for-spire` is handed to SPIRE's
//! `disk` UpstreamAuthority plugin, which signs SPIRE's own CA with it and so needs its key in
//! clear (SPIRE v1.13.3 `pkg/server/plugin/upstreamauthority/disk`: PKCS#1, SEC1 or PKCS#8,
//! unencrypted, matching the first certificate of `cert_file_path`, which must verify to
//! `bundle_file_path` with Go's default options). The export is recorded in the ledger before
//! the key leaves the directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use crate::ca::Ca;
use crate::context::Context;
use crate::error::PkiError;
use crate::keys;
use crate::settings::Settings;
use crate::store::{CaDir, sha256_hex, write_atomic};

/// The ledger event of a CA key exported in clear.
pub const KEY_EXPORTED: &str = "ca-key-exported";

/// What `export` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpireFiles {
    /// The CA's certificate, then the intermediates above it (not the root).
    pub upstream: PathBuf,
    /// The CA's key, PKCS#8 PEM, unencrypted, 0600.
    pub key: PathBuf,
    /// The root.
    pub bundle: PathBuf,
    /// The SPIFFE trust domain SPIRE must serve (`trust_domain` in server.conf).
    pub trust_domain: String,
    /// The `UpstreamAuthority "disk"` block for SPIRE's server.conf.
    pub config: String,
}

/// Writes CA `name`'s files for SPIRE into `out` (created 0700 if missing).
pub fn export(
    dir: &CaDir,
    name: &str,
    out: &Path,
    force: bool,
    timeout: Duration,
    ctx: &Context<'_>,
) -> Result<SpireFiles> {
    let file = dir.path(crate::store::SETTINGS).display().to_string();
    let settings = Settings::parse(&dir.read_settings_text()?, &file)?;
    let Some(td) = settings.ca.get(name).and_then(|c| c.spire_trust_domain.clone()) else {
        if !dir.ca_exists(name) {
            return Err(PkiError::UnknownCa { name: name.to_string(), known: dir.ca_names()? }.into());
        }
        bail!(
            "CA '{name}' was not made for SPIRE: its key stays in the directory; make one with `pki create-intermediate NAME --for-spire --trust-domain TD`"
        );
    };
    let chain = Ca::chain(dir, name)?;
    let (ca, root) = (&chain[0], &chain[chain.len() - 1]);
    let abs = if out.is_absolute() { out.to_path_buf() } else { std::env::current_dir()?.join(out) };
    let files = SpireFiles {
        upstream: abs.join("upstream.pem"),
        key: abs.join("upstream.key"),
        bundle: abs.join("bundle.pem"),
        config: format!(
            "UpstreamAuthority \"disk\" {{\n    plugin_data {{\n        cert_file_path = \"{}\"\n        key_file_path = \"{}\"\n        bundle_file_path = \"{}\"\n    }}\n}}\n",
            abs.join("upstream.pem").display(),
            abs.join("upstream.key").display(),
            abs.join("bundle.pem").display()
        ),
        trust_domain: td,
    };
    for p in [&files.upstream, &files.key, &files.bundle] {
        if p.exists() && !force {
            return Err(PkiError::OutputExists { path: p.clone() }.into());
        }
    }
    let (der, _) = ca.open_key(dir, ctx, settings.passphrase_file(name), "exported")?;
    let key_pem = keys::to_pem(&der, None)?;
    let upstream: String = chain[..chain.len() - 1].iter().map(|c| c.pem.as_str()).collect();
    let lock = dir.lock(timeout)?;
    let rec = lock.append_ledger(
        KEY_EXPORTED,
        ctx.actor,
        &crate::certs::rfc3339(ctx.now),
        serde_json::json!({
            "ca": name,
            "purpose": "spire",
            "trust_domain": files.trust_domain,
            "to": abs.display().to_string(),
            "cert_sha256": sha256_hex(&ca.der),
        }),
    )?;
    if !abs.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&abs)
            .map_err(|e| anyhow!("cannot create {}: {e}", abs.display()))?;
    }
    write_atomic(&files.upstream, upstream.as_bytes(), 0o644)?;
    write_atomic(&files.key, key_pem.as_bytes(), 0o600)?;
    write_atomic(&files.bundle, root.pem.as_bytes(), 0o644)?;
    lock.mark_applied(rec.seq)?;
    Ok(files)
}
