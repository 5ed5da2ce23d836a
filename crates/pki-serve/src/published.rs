//! What `pki serve` publishes, read from the CA directory into memory: each CA's CRL and
//! certificate (DER and PEM), the roots as a PEM and a SPIFFE bundle, with the HTTP facts a
//! cache needs (ETag, Last-Modified, how long it may be kept). Rebuilt whole when the
//! directory's publication stamp changes, and swapped in at once, so a request never sees half
//! of a change.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use pki_core::ca::Ca;
use pki_core::store::CaDir;

/// One object at one path.
#[derive(Debug, Clone)]
pub struct Object {
    /// The body.
    pub body: Bytes,
    /// Its media type (RFC 5280 section 4.2.1.13 / RFC 2585: `application/pkix-crl`,
    /// `application/pkix-cert`).
    pub content_type: &'static str,
    /// A strong validator: a quoted prefix of the body's SHA-256.
    pub etag: String,
    /// When the object was made: a CRL's thisUpdate, a certificate's notBefore.
    pub last_modified: OffsetDateTime,
    /// Until when a cache may keep it: a CRL's nextUpdate (None: no deadline).
    pub expires: Option<OffsetDateTime>,
}

/// A CA's CRL as `/readyz` and `/metrics` report it.
#[derive(Debug, Clone)]
pub struct CrlState {
    /// The CA.
    pub ca: String,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate, if the CRL has one.
    pub next_update: Option<OffsetDateTime>,
}

/// Everything served from the directory, at one moment.
#[derive(Debug, Default)]
pub struct Published {
    /// By request path (`/crl/issuing.crl`).
    pub objects: BTreeMap<String, Object>,
    /// Each CA's current CRL (a CA without one is missing here and in `missing_crls`).
    pub crls: Vec<CrlState>,
    /// CAs that have no CRL yet.
    pub missing_crls: Vec<String>,
    /// The stamp of the directory this was read from.
    pub stamp: u64,
    /// Each CA as OCSP answers for it: CertID matching and every serial's status.
    pub ocsp: BTreeMap<String, OcspCa>,
}

/// A CA as the OCSP responder sees it at one moment.
#[derive(Debug)]
pub struct OcspCa {
    /// Its name and key hashed for CertID matching.
    pub issuer: pki_core::ocsp::Issuer,
    /// Issued and revoked serials.
    pub statuses: pki_core::ocsp::Statuses,
    /// Its CRL's nextUpdate: no OCSP response says more than the CRL does.
    pub crl_next_update: Option<OffsetDateTime>,
    /// Responses signed in advance by the CLI (`gen-crl --ocsp`), for a CA serve has no key for.
    pub presigned: Option<pki_core::ocsp::Presigned>,
}

fn object(
    body: Vec<u8>,
    content_type: &'static str,
    last_modified: OffsetDateTime,
    expires: Option<OffsetDateTime>,
) -> Object {
    let etag = etag_of(&body);
    Object { body: Bytes::from(body), content_type, etag, last_modified, expires }
}

/// A strong HTTP validator for a body: a quoted prefix of its SHA-256.
pub fn etag_of(body: &[u8]) -> String {
    let h = Sha256::digest(body);
    format!("\"{}\"", h[..12].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Reads the directory's published objects. Takes no lock: CRLs and certificates are replaced
/// by rename, so each read sees a whole file; the stamp taken first means a change made while
/// reading is picked up by the next poll.
pub fn build(root: &Path) -> Result<Published> {
    let dir = CaDir::open(root)?;
    let stamp = dir.publication_stamp()?;
    let mut p = Published { stamp, ..Default::default() };
    let cas = dir
        .ca_names()?
        .iter()
        .map(|name| Ca::load(&dir, name).with_context(|| format!("CA '{name}'")))
        .collect::<Result<Vec<_>>>()?;
    // One pass over the inventory for every CA's OCSP statuses.
    let mut statuses = pki_core::ocsp::Statuses::load_all(&dir, &cas)?;
    for ca in &cas {
        let name = ca.name.clone();
        p.objects
            .insert(format!("/ca/{name}.crt"), object(ca.der.clone(), "application/pkix-cert", ca.not_before, None));
        p.objects.insert(
            format!("/ca/{name}.pem"),
            object(ca.pem.clone().into_bytes(), "application/x-pem-file", ca.not_before, None),
        );
        match dir.current_crl_der(&name)? {
            Some(der) => {
                let (this_update, next_update) = pki_core::crl::times_of(&dir, &name, &der)?;
                p.objects
                    .insert(format!("/crl/{name}.crl"), object(der, "application/pkix-crl", this_update, next_update));
                if let Some(pem) = dir.current_crl_pem(&name)? {
                    let o = object(pem, "application/x-pem-file", this_update, next_update);
                    p.objects.insert(format!("/crl/{name}.crl.pem"), o);
                }
                p.crls.push(CrlState { ca: name.clone(), this_update, next_update });
            }
            None => p.missing_crls.push(name.clone()),
        }
        let crl_next_update = p.crls.iter().find(|c| c.ca == name).and_then(|c| c.next_update);
        let ocsp = OcspCa {
            issuer: pki_core::ocsp::Issuer::of(ca)?,
            statuses: statuses.remove(&name).unwrap_or_default(),
            crl_next_update,
            presigned: pki_core::ocsp::Presigned::load(&dir, &name)?,
        };
        p.ocsp.insert(name, ocsp);
    }
    let roots = pki_core::bundle::roots_among(&dir, cas)?;
    let newest = roots.iter().map(|c| c.not_before).max().unwrap_or(OffsetDateTime::UNIX_EPOCH);
    p.objects.insert(
        "/bundle.pem".into(),
        object(pki_core::bundle::pem(&roots).into_bytes(), "application/x-pem-file", newest, None),
    );
    let spiffe = serde_json::to_vec_pretty(&pki_core::bundle::spiffe(&dir, &roots)?)?;
    p.objects.insert("/bundle.spiffe.json".into(), object(spiffe, "application/json", newest, None));
    Ok(p)
}

impl Published {
    /// CRLs that are past their nextUpdate at `now` (a relying party would refuse them).
    pub fn stale(&self, now: OffsetDateTime) -> Vec<&CrlState> {
        self.crls.iter().filter(|c| c.next_update.is_some_and(|n| n <= now)).collect()
    }
}
