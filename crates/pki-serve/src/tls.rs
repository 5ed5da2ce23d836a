//! The HTTPS listener's certificate. Either `serve` issues it itself from a named CA, through
//! the same issuance code as `pki issue` (profile checks, inventory, ledger), with SANs for the
//! configured names and the listen address, and issues a successor when a third of its
//! lifetime is left (as certbot renews a 90-day certificate 30 days ahead); or it is given as
//! two files (`--tls-cert/--tls-key`), read again when either changes, so a certificate renewed
//! by another tool is picked up without a restart. The key is held in memory only.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, anyhow, bail};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use crate::Signer;

/// Where the HTTPS certificate comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Files another tool keeps current (PEM: the certificate then its chain; an unencrypted
    /// PKCS#8, SEC1 or PKCS#1 key).
    Files {
        /// The certificate chain, leaf first.
        cert: PathBuf,
        /// Its private key.
        key: PathBuf,
    },
    /// Issued by `serve` from one of the directory's CAs.
    Issue(OwnCert),
}

/// What `serve` asks its CA for, like `pki issue --ca CA --profile P --dns .. --ip .. --ttl T`.
#[derive(Debug, Clone)]
pub struct OwnCert {
    /// The issuing CA (an intermediate; its key is unlocked at start).
    pub ca: String,
    /// The profile the request is checked against (None: the directory's default profile).
    pub profile: Option<String>,
    /// DNS names.
    pub dns: Vec<String>,
    /// IP addresses (the listen address, unless it is a wildcard one).
    pub ips: Vec<IpAddr>,
    /// The lifetime, e.g. "24h".
    pub ttl: String,
}

impl OwnCert {
    fn spec(&self) -> pki_core::issuance::Spec {
        pki_core::issuance::Spec {
            profile: self.profile.clone(),
            ca: Some(self.ca.clone()),
            dns: self.dns.clone(),
            ip: self.ips.iter().map(|i| i.to_string()).collect(),
            ttl: Some(self.ttl.clone()),
            key_type: Some("p256".into()),
            ..Default::default()
        }
    }

    /// Checks the request against the profile and the CA without signing or writing anything
    /// (`serve --check`, and before listening).
    pub fn check(&self, dir: &pki_core::store::CaDir) -> Result<()> {
        let mut issuing = pki_core::issuance::Issuing::open(dir)?;
        issuing
            .plan(&self.spec(), OffsetDateTime::now_utc())
            .with_context(|| format!("the HTTPS certificate cannot be issued from CA '{}'", self.ca))?;
        Ok(())
    }
}

/// The certificate being served now.
pub struct Current {
    /// The chain and key rustls presents.
    pub key: Arc<CertifiedKey>,
    /// The leaf's serial, upper-case hex.
    pub serial: String,
    /// Start of the leaf's validity.
    pub not_before: OffsetDateTime,
    /// End of the leaf's validity.
    pub not_after: OffsetDateTime,
    /// For files: their modification times when read.
    files_stamp: Option<(SystemTime, SystemTime)>,
}

/// The HTTPS certificate and where it comes from; the resolver rustls asks on each handshake.
pub struct Tls {
    source: Source,
    issuer: Option<Arc<rcgen::Issuer<'static, rcgen::KeyPair>>>,
    current: RwLock<Arc<Current>>,
    last_failure: std::sync::Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("source", &self.source).finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Tls {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current().key.clone())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A chain and key from PEM bytes, the key checked against the leaf.
fn certified(chain_pem: &[u8], key_pem: &[u8], what: &str) -> Result<(CertifiedKey, pki_core::inspect::CertInfo)> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| anyhow!("{what}: not a PEM certificate chain: {e}"))?;
    let leaf = chain.first().ok_or_else(|| anyhow!("{what}: no certificate in it"))?;
    let info = pki_core::inspect::describe_cert(leaf, OffsetDateTime::now_utc()).with_context(|| what.to_string())?;
    if key_pem.windows(9).any(|w| w == b"ENCRYPTED") {
        bail!(
            "{what}: the key is encrypted; serve reads an unencrypted key (keep it 0600, or let serve issue its own with --tls-ca)"
        );
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| anyhow!("{what}: no usable private key: {e}"))?;
    let ck = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| anyhow!("{what}: the key does not fit the certificate or is not supported: {e}"))?;
    Ok((ck, info))
}

fn current_of(
    ck: CertifiedKey,
    info: &pki_core::inspect::CertInfo,
    files_stamp: Option<(SystemTime, SystemTime)>,
) -> Result<Current> {
    Ok(Current {
        key: Arc::new(ck),
        serial: info.serial.clone(),
        not_before: pki_core::certs::parse_rfc3339(&info.not_before)?,
        not_after: pki_core::certs::parse_rfc3339(&info.not_after)?,
        files_stamp,
    })
}

fn mtime(p: &Path) -> Result<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).with_context(|| format!("cannot read {}", p.display()))
}

fn read_files(cert: &Path, key: &Path) -> Result<Current> {
    let stamp = (mtime(cert)?, mtime(key)?);
    let chain = std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?;
    let key_pem =
        zeroize::Zeroizing::new(std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?);
    let (ck, info) =
        certified(&chain, &key_pem, &format!("--tls-cert {} / --tls-key {}", cert.display(), key.display()))?;
    if info.expired {
        bail!("--tls-cert {}: the certificate expired at {}", cert.display(), info.not_after);
    }
    current_of(ck, &info, Some(stamp))
}

/// Issues the HTTPS certificate from `issuer` under the directory lock (5 s at most), recorded
/// in the inventory and the ledger like any other. A successor renews the current one (which
/// is then superseded, so audit does not report it as expiring); if that fails (it was
/// revoked, say), a new one is issued.
fn issue(
    dir: &Path,
    own: &OwnCert,
    issuer: &Arc<rcgen::Issuer<'static, rcgen::KeyPair>>,
    renews: Option<&str>,
) -> Result<Current> {
    let req = crate::with_issuing(dir, &own.ca, issuer, "pki serve: HTTPS certificate", |issuing, ctx| {
        let wait = Duration::from_secs(5);
        let renewed = renews.map(|old| -> Result<_> {
            let r = pki_core::issuance::Renewal {
                serial: Some(pki_core::serial::Serial::parse(old)?),
                ttl: Some(own.ttl.clone()),
                out: Some("-".into()),
                ..Default::default()
            };
            Ok(issuing.renew(&r, None, wait, ctx)?.0)
        });
        match renewed {
            Some(Ok(req)) => Ok(req),
            _ => issuing
                .issue(&own.spec(), &pki_core::issuance::Out::Stdout, None, wait, ctx)
                .with_context(|| format!("cannot issue the HTTPS certificate from CA '{}'", own.ca)),
        }
    })?;
    let issued = req.issued;
    let key_pem = issued.key_pem.as_ref().ok_or_else(|| anyhow!("issuance returned no key"))?;
    let chain = format!("{}{}", issued.cert_pem, issued.chain_pem);
    let (ck, info) = certified(chain.as_bytes(), key_pem.as_bytes(), "the issued HTTPS certificate")?;
    current_of(ck, &info, None)
}

/// After a failed renewal, the next attempt waits this long (the current certificate is
/// still good for a third of its lifetime).
const RETRY_AFTER: Duration = Duration::from_secs(30);

impl Tls {
    /// Gets the first certificate: reads the files, or issues one (`signers` must hold the
    /// CA's unlocked key).
    pub fn start(dir: &Path, source: Source, signers: &[Signer]) -> Result<Tls> {
        let (issuer, first) = match &source {
            Source::Files { cert, key } => (None, read_files(cert, key)?),
            Source::Issue(own) => {
                let s = signers
                    .iter()
                    .find(|s| s.ca.name == own.ca)
                    .ok_or_else(|| anyhow!("CA '{}' is not unlocked for the HTTPS certificate", own.ca))?;
                (Some(s.issuer.clone()), issue(dir, own, &s.issuer, None)?)
            }
        };
        Ok(Tls { source, issuer, current: RwLock::new(Arc::new(first)), last_failure: Default::default() })
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<Current> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// When the certificate serve issued itself is renewed: a third of its lifetime before
    /// its end.
    pub fn renew_at(&self) -> Option<OffsetDateTime> {
        match self.source {
            Source::Issue(_) => {
                let c = self.current();
                Some(c.not_after - (c.not_after - c.not_before) / 3)
            }
            Source::Files { .. } => None,
        }
    }

    /// Renews a certificate that is due, or re-reads files that changed. Returns the new serial
    /// when the certificate changed. A failure keeps the current certificate (retried on the
    /// next call).
    pub fn maintain(&self, dir: &Path, now: OffsetDateTime) -> Result<Option<String>> {
        let next = match &self.source {
            Source::Files { cert, key } => {
                let stamp = (mtime(cert)?, mtime(key)?);
                if Some(stamp) == self.current().files_stamp {
                    return Ok(None);
                }
                read_files(cert, key)?
            }
            Source::Issue(own) => {
                if self.renew_at().is_some_and(|t| now < t) {
                    return Ok(None);
                }
                let mut last = self.last_failure.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
                    return Ok(None);
                }
                let issuer = self.issuer.as_ref().ok_or_else(|| anyhow!("no CA key for the HTTPS certificate"))?;
                match issue(dir, own, issuer, Some(&self.current().serial)) {
                    Ok(c) => {
                        *last = None;
                        c
                    }
                    Err(e) => {
                        *last = Some(std::time::Instant::now());
                        return Err(e);
                    }
                }
            }
        };
        let serial = next.serial.clone();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(Some(serial))
    }

    /// The rustls configuration of the HTTPS listener: TLS 1.2 and 1.3 (ring), HTTP/1.1, this
    /// resolver's certificate.
    /// With `client_roots`, a client certificate chaining to them is asked for but not
    /// required (the page's mutual-TLS access; everything else ignores it).
    pub fn server_config(
        self: &Arc<Self>,
        client_roots: Option<Arc<rustls::RootCertStore>>,
    ) -> Result<Arc<rustls::ServerConfig>> {
        let b = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("TLS set-up")?;
        let b = match client_roots {
            Some(roots) => b.with_client_cert_verifier(
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .allow_unauthenticated()
                    .build()
                    .context("client certificate set-up")?,
            ),
            None => b.with_no_client_auth(),
        };
        let mut cfg = b.with_cert_resolver(self.clone());
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}
