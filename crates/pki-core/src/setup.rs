//! Creating CAs: a self-signed root and intermediates signed by a CA of the directory, each
//! committed to the directory under its lock (key, certificate, ledger record, settings).

use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use crate::ca::Ca;
use crate::certs::{self, Constraints, IntermediateSpec};
use crate::context::{Context, Secret};
use crate::error::PkiError;
use crate::keys::{self, KeyType};
use crate::serial::Serial;
use crate::settings::{self, Settings};
use crate::store::{CaDir, NewCa};

/// What a new root CA is.
pub struct RootRequest<'a> {
    /// The CA's name in the directory (`cas/NAME`).
    pub name: &'a str,
    /// The subject's common name.
    pub cn: &'a str,
    /// The subject's organisation, if any.
    pub org: Option<&'a str>,
    /// The SPIFFE trust domain written to a new `pki.toml`.
    pub trust_domain: Option<&'a str>,
    /// The key type of the root's key.
    pub key_type: KeyType,
    /// How long the root is valid.
    pub ttl: Duration,
}

/// What a new intermediate CA is.
pub struct IntermediateRequest {
    /// The CA's name in the directory (`cas/NAME`).
    pub name: String,
    /// The subject's common name.
    pub cn: String,
    /// The subject's organisation, if any.
    pub org: Option<String>,
    /// The key type of the new key.
    pub key_type: KeyType,
    /// How long the CA is valid; it may not outlive its parent.
    pub ttl: Duration,
    /// The basic constraints' path length.
    pub path_len: u8,
    /// For SPIRE's disk UpstreamAuthority: its trust domain and SPIRE's ca_ttl.
    pub spire: Option<(String, String)>,
    /// The name constraints written into the certificate.
    pub constraints: Constraints,
}

/// Creates the root CA (and the settings file if the directory has none) under the lock. The
/// key is encrypted with `pass` unless it is `None`.
pub fn create_root(
    dir: &CaDir,
    req: &RootRequest<'_>,
    pass: Option<&Secret>,
    timeout: Duration,
    ctx: &Context<'_>,
) -> Result<Ca> {
    let not_after = certs::not_after(ctx.now, req.ttl)?;
    let key = keys::generate(req.key_type)?;
    let key_pem = keys::to_pem(&key.der, pass)?;
    let signer = key.pair;
    let serial = Serial::random_from(ctx.rng)?;
    let cert = certs::build_root(req.cn, req.org, &signer, &serial, ctx.now, not_after)?;
    let lock = dir.lock(timeout)?;
    if !dir.has_settings() {
        lock.write_settings(
            &settings::initial_text(req.name, req.org, req.trust_domain),
            ctx.actor,
            &certs::rfc3339(ctx.now),
        )?;
    }
    lock.create_ca(
        NewCa {
            name: req.name,
            cert_pem: &cert.pem(),
            key_pem: &key_pem,
            data: json!({
                "name": req.name,
                "kind": "root",
                "subject": format!("CN={}", req.cn),
                "key_type": req.key_type.name(),
                "not_after": certs::rfc3339(not_after),
                "encrypted": pass.is_some(),
            }),
        },
        ctx.actor,
        &certs::rfc3339(ctx.now),
    )?;
    drop(lock);
    Ca::load(dir, req.name)
}

/// Creates an intermediate CA signed by `parent` (unlocked through `ctx`), registers it in
/// `pki.toml` and records it in the ledger. `new_pass` is asked for the new key's passphrase
/// after the parent is unlocked (so a terminal user is asked in that order); `None` leaves the
/// key unencrypted.
pub fn create_intermediate(
    dir: &CaDir,
    parent: &Ca,
    req: &IntermediateRequest,
    new_pass: impl FnOnce() -> Result<Option<Secret>>,
    timeout: Duration,
    ctx: &Context<'_>,
) -> Result<Ca> {
    if dir.ca_dir(&req.name).exists() {
        return Err(PkiError::CaExists { name: req.name.clone(), dir: dir.root.clone() }.into());
    }
    let not_before = ctx.now;
    let not_after = certs::not_after(ctx.now, req.ttl)?;
    if not_after > parent.not_after {
        return Err(PkiError::OutlivesIssuer {
            what: format!("intermediate CA '{}'", req.name),
            not_after: certs::rfc3339(not_after),
            issuer: parent.name.clone(),
            issuer_not_after: certs::rfc3339(parent.not_after),
        }
        .into());
    }
    let settings = Settings::parse(&dir.read_settings_text()?, "pki.toml")?;
    let issuer = std::sync::Arc::new(parent.unlock(dir, ctx, settings.passphrase_file(&parent.name))?);
    let new_pass = new_pass()?;
    let key = keys::generate(req.key_type)?;
    let key_pem = keys::to_pem(&key.der, new_pass.as_ref())?;
    let public = key.pair;
    let spec = IntermediateSpec {
        cn: &req.cn,
        org: req.org.as_deref(),
        path_len: req.path_len,
        constraints: req.constraints.clone(),
        not_before,
        not_after,
        urls: certs::IssuerUrls {
            crl_url: settings.ca.get(&parent.name).and_then(|c| c.crl_url.clone()),
            ca_issuers_url: settings.ca.get(&parent.name).and_then(|c| c.ca_issuers_url.clone()),
            ocsp_url: settings.ca.get(&parent.name).and_then(|c| c.ocsp_url.clone()),
        },
    };
    let cert = certs::build_intermediate(&spec, &public, &issuer, &Serial::random_from(ctx.rng)?)?;
    let lock = dir.lock(timeout)?;
    lock.sign_with(crate::store::LedgerSigner::new(&parent.name, &parent.der, issuer.clone()));
    lock.create_ca(
        NewCa {
            name: &req.name,
            cert_pem: &cert.pem(),
            key_pem: &key_pem,
            data: json!({
                "name": req.name,
                "kind": "intermediate",
                "parent": parent.name,
                "subject": format!("CN={}", req.cn),
                "key_type": req.key_type.name(),
                "not_after": certs::rfc3339(not_after),
                "encrypted": new_pass.is_some(),
                "path_len": req.path_len,
                "permit_dns": req.constraints.permit_dns,
                "exclude_dns": req.constraints.exclude_dns,
                "permit_ip": req.constraints.permit_ip.iter().map(|(ip, l)| format!("{ip}/{l}")).collect::<Vec<_>>(),
                "exclude_ip": req.constraints.exclude_ip.iter().map(|(ip, l)| format!("{ip}/{l}")).collect::<Vec<_>>(),
                "permit_uri": req.constraints.permit_uri,
                "spire_trust_domain": req.spire.as_ref().map(|s| &s.0),
            }),
        },
        ctx.actor,
        &certs::rfc3339(ctx.now),
    )?;
    let text = dir.read_settings_text()?;
    let mut text = settings::add_ca(&text, &req.name, Some(&parent.name), None)?;
    if let Some((td, ttl)) = &req.spire {
        text = settings::set_spire(&text, &req.name, td, ttl)?;
    }
    // A directory with a base URL publishes every CA's CRL and certificate under it.
    if let Some(base) = &settings.defaults.base_url {
        text = settings::set_publication_urls(&text, &req.name, &settings::check_base_url(base)?)?;
    }
    lock.write_settings(&text, ctx.actor, &certs::rfc3339(ctx.now))?;
    // Its first CRL, signed with the new key while it is at hand: relying parties (and
    // `pki serve`'s /readyz) find one for every CA from the start.
    let ca = Ca::load(dir, &req.name)?;
    let der = rustls_pki_types::CertificateDer::from(ca.der.clone());
    let own = std::sync::Arc::new(
        rcgen::Issuer::from_ca_cert_der(&der, public).map_err(|e| anyhow::anyhow!("CA '{}': {e}", req.name))?,
    );
    // The settings read above: the new CA's own table (written just now) sets no next_update.
    crate::crl::generate(dir, &lock, &ca, &own, crate::crl::lifetime(&settings, &ca)?, ctx)?;
    drop(lock);
    Ok(ca)
}

/// The organisation (O=) of a subject as [`Ca::subject`] spells it, if any.
pub fn org_of(subject: &str) -> Option<String> {
    subject.split(", ").find_map(|p| p.strip_prefix("O=")).map(str::to_string)
}

/// Records `pki.toml` as it is now in the ledger (after a reviewed edit by hand), under the
/// lock: `pki settings accept`. Returns its SHA-256.
pub fn accept_settings(dir: &CaDir, timeout: Duration, ctx: &Context<'_>) -> Result<String> {
    let lock = dir.lock(timeout)?;
    lock.accept_settings(ctx.actor, &certs::rfc3339(ctx.now))
}
