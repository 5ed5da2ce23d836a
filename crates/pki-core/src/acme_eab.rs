//! External Account Binding keys of the ACME directories (RFC 8555 section 7.3.4): a team
//! gets a key id and an HMAC key from `pki acme eab add`, and `pki serve` lets an account
//! register with that directory only with a binding signed by an unused key. Each key binds one
//! account, once. Adding, removing and binding are recorded in the ledger (the key id and the
//! account, never the key); the keys themselves are files `acme/eab/KID.json` (0600), which the
//! server reads when an account registers, so keys added while it runs work at once.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::certs;
use crate::context::Context;
use crate::store::{AcmeKind, CaDir, valid_acme_id};

/// One EAB key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EabKey {
    /// The key id clients send (`--eab-kid`).
    pub kid: String,
    /// The ACME directory (profile) it registers with.
    pub directory: String,
    /// The HMAC key, base64url (32 random bytes); never printed except once by `add`.
    #[serde(rename = "hmac_key")]
    pub key: String,
    /// When it was added (RFC 3339).
    pub created: String,
    /// The account URL it bound, once used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// When it was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_at: Option<String>,
}

/// The ledger event of a new EAB key.
pub const EAB_ADDED: &str = "acme-eab-added";
/// The ledger event of a removed EAB key.
pub const EAB_REMOVED: &str = "acme-eab-removed";
/// The ledger event of an account registered with an EAB key.
pub const EAB_BOUND: &str = "acme-eab-bound";

fn read(dir: &CaDir, kid: &str) -> Result<Option<EabKey>> {
    Ok(dir
        .acme_load(AcmeKind::Eab)?
        .into_iter()
        .find(|(id, _)| id == kid)
        .map(|(_, b)| serde_json::from_slice(&b))
        .transpose()?)
}

/// Adds a key for ACME directory `directory` (a profile with `acme = true`).
pub fn add(dir: &CaDir, directory: &str, kid: &str, timeout: Duration, ctx: &Context<'_>) -> Result<EabKey> {
    if !valid_acme_id(kid) {
        bail!("invalid key id '{}': 1 to 64 letters, digits, '-' and '_'", kid.escape_default());
    }
    let file = dir.path(crate::store::SETTINGS).display().to_string();
    let settings = crate::settings::Settings::parse(&dir.read_settings_text()?, &file)?;
    let profile = settings.profile(directory, &file)?;
    if !profile.acme {
        bail!("profile '{directory}' is not an ACME directory: set acme = true in [profiles.{directory}] of {file}");
    }
    let lock = dir.lock(timeout)?;
    if read(dir, kid)?.is_some() {
        bail!("EAB key id '{kid}' exists: remove it first (`pki acme eab remove --kid {kid}`) or choose another");
    }
    let mut raw = [0u8; 32];
    ctx.rng.fill(&mut raw)?;
    use base64::Engine;
    let key = EabKey {
        kid: kid.to_string(),
        directory: directory.to_string(),
        key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
        created: certs::rfc3339(ctx.now),
        account: None,
        bound_at: None,
    };
    let time = certs::rfc3339(ctx.now);
    let rec =
        lock.append_ledger(EAB_ADDED, ctx.actor, &time, serde_json::json!({"directory": directory, "kid": kid}))?;
    dir.acme_save(AcmeKind::Eab, kid, &serde_json::to_vec(&key)?)?;
    lock.mark_applied(rec.seq)?;
    Ok(key)
}

/// Every key, in key id order.
pub fn list(dir: &CaDir) -> Result<Vec<EabKey>> {
    let mut out = vec![];
    for (id, b) in dir.acme_load(AcmeKind::Eab)? {
        out.push(serde_json::from_slice::<EabKey>(&b).map_err(|e| anyhow!("acme/eab/{id}.json is unreadable: {e}"))?);
    }
    out.sort_by(|a, b| a.kid.cmp(&b.kid));
    Ok(out)
}

/// The key of `kid`, if there is one.
pub fn find(dir: &CaDir, kid: &str) -> Result<Option<EabKey>> {
    if !valid_acme_id(kid) {
        return Ok(None);
    }
    read(dir, kid)
}

/// Removes a key: no account can register with it any more (one it bound stays).
pub fn remove(dir: &CaDir, kid: &str, timeout: Duration, ctx: &Context<'_>) -> Result<EabKey> {
    let lock = dir.lock(timeout)?;
    let key =
        find(dir, kid)?.ok_or_else(|| anyhow!("no EAB key '{}' (see `pki acme eab list`)", kid.escape_default()))?;
    let time = certs::rfc3339(ctx.now);
    let rec = lock.append_ledger(
        EAB_REMOVED,
        ctx.actor,
        &time,
        serde_json::json!({"directory": key.directory, "kid": kid, "account": key.account}),
    )?;
    dir.acme_remove(AcmeKind::Eab, kid)?;
    lock.mark_applied(rec.seq)?;
    Ok(key)
}

/// Records that `account` registered with key `kid`; refused if the key is gone or bound.
pub fn bind(dir: &CaDir, kid: &str, account: &str, timeout: Duration, ctx: &Context<'_>) -> Result<()> {
    let lock = dir.lock(timeout)?;
    let mut key = find(dir, kid)?.ok_or_else(|| anyhow!("EAB key '{kid}' was removed"))?;
    if let Some(a) = &key.account {
        bail!("EAB key '{kid}' already bound account {a}");
    }
    let time = certs::rfc3339(ctx.now);
    let rec = lock.append_ledger(
        EAB_BOUND,
        ctx.actor,
        &time,
        serde_json::json!({"directory": key.directory, "kid": kid, "account": account}),
    )?;
    key.account = Some(account.to_string());
    key.bound_at = Some(time);
    dir.acme_save(AcmeKind::Eab, kid, &serde_json::to_vec(&key)?)?;
    lock.mark_applied(rec.seq)?;
    Ok(())
}
