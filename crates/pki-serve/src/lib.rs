//! `pki serve`: the CA directory online. Serves each CA's CRL and certificate, the roots as a
//! PEM and a SPIFFE bundle, `/healthz`, `/readyz` and Prometheus `/metrics` over HTTP, read from
//! the same directory the CLI writes.
//!
//! The server never takes the directory lock to read: it polls the directory's publication
//! stamp ([`pki_core::store::CaDir::publication_stamp`], a few `stat` calls) every
//! [`Config::poll`] and, when it changed, reads everything again and swaps it in whole. A CLI
//! `pki revoke` is therefore served within one poll interval plus the time to read the
//! directory. It holds the keys only of the intermediates it is asked to keep CRLs fresh for
//! ([`Signer`]), never the root's: a CRL of those that is due (none yet, behind a revocation,
//! or past half its life: [`pki_core::crl::is_due`]) is published under the directory lock,
//! taken only for that.

pub mod acme;
pub mod attest;
pub mod client;
pub mod http;
pub mod metrics;
pub mod ocsp;
pub mod published;
pub mod tls;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::published::Published;

/// What `pki serve` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    /// The CA directory.
    pub dir: PathBuf,
    /// The plain-HTTP listener (CRLs and CA certificates are fetched over plain HTTP: RFC 5280
    /// section 4.2.1.13; the objects are signed).
    pub http: SocketAddr,
    /// The HTTPS listener, if any (ACME and attestation need it).
    pub https: Option<SocketAddr>,
    /// Where the HTTPS listener's certificate comes from.
    pub tls: Option<tls::Source>,
    /// How often the directory is checked for changes.
    pub poll: Duration,
    /// Connections open at once; more are closed at once (and counted). Lowered at start to
    /// what the open-file limit allows ([`raise_file_limit`]).
    pub max_connections: usize,
    /// A client must send a request's headers within this (slow-drip clients are cut off).
    pub header_timeout: Duration,
    /// The longest a connection stays open, whatever it does.
    pub connection_lifetime: Duration,
    /// In-flight requests get this long to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// ACME: the profiles served as ACME directories (profile -> its CA; empty: no ACME) and
    /// the validation settings.
    pub acme_profiles: std::collections::BTreeMap<String, acme::Directory>,
    /// `[serve.acme]` and the `--acme-*` flags.
    pub acme: acme::Settings,
    /// The attestation policies served at `/attest/NAME` (`[attest.NAME]`).
    pub attest: Vec<attest::PolicyConfig>,
    /// `/ui/` (`[serve.ui]`).
    pub ui: ui::Settings,
}

impl Config {
    /// The defaults for a directory and an address.
    pub fn new(dir: PathBuf, http: SocketAddr) -> Config {
        Config {
            dir,
            http,
            https: None,
            tls: None,
            poll: Duration::from_secs(1),
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
            acme_profiles: Default::default(),
            acme: Default::default(),
            attest: vec![],
            ui: ui::Settings::default(),
        }
    }
}

/// Largest request head accepted (request line and headers); larger gets 431 from hyper.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 64;

/// An intermediate whose CRL `serve` keeps fresh, with its key unlocked (in memory only).
pub struct Signer {
    /// The CA.
    pub ca: pki_core::ca::Ca,
    /// Its key, ready to sign.
    pub issuer: Arc<rcgen::Issuer<'static, rcgen::KeyPair>>,
    /// Whether serve keeps this CA's CRL fresh (`--ca`); a CA unlocked only for the HTTPS
    /// certificate (`--tls-ca`) is not.
    pub keeps_crl: bool,
}

impl Signer {
    /// Unlocks CA `name`'s key for serve (`[ca.NAME] passphrase_file` first, then the usual
    /// sources); the root's is refused (it stays offline).
    pub fn unlock(
        dir: &pki_core::store::CaDir,
        settings: &pki_core::settings::Settings,
        name: &str,
        ctx: &pki_core::Context<'_>,
    ) -> Result<Signer> {
        let ca = pki_core::ca::Ca::load(dir, name)?;
        if ca.self_signed {
            anyhow::bail!(
                "serve never loads a root's key ('{name}'): make its CRL with `pki gen-crl --ca {name}` (serve serves it as a file)"
            );
        }
        let issuer = Arc::new(ca.unlock(dir, ctx, settings.passphrase_file(name))?);
        Ok(Signer { ca, issuer, keeps_crl: true })
    }
}

/// Issues serve's own certificates (HTTPS, OCSP responder) with a CA key it already holds:
/// opens the directory for issuing, adopts the key, and hands `f` the issuing state and a
/// context (now, an actor noted `note`, no passphrase source, the OS's randomness).
pub(crate) fn with_issuing<T>(
    dir: &std::path::Path,
    ca: &str,
    issuer: &Arc<rcgen::Issuer<'static, rcgen::KeyPair>>,
    note: &str,
    f: impl FnOnce(&mut pki_core::issuance::Issuing<'_>, &pki_core::Context<'_>) -> Result<T>,
) -> Result<T> {
    with_issuing_as(dir, ca, issuer, pki_core::Actor::from_env(Some(note.into())), f)
}

/// As [`with_issuing`], on behalf of `actor` (an ACME account).
pub(crate) fn with_issuing_as<T>(
    dir: &std::path::Path,
    ca: &str,
    issuer: &Arc<rcgen::Issuer<'static, rcgen::KeyPair>>,
    actor: pki_core::Actor,
    f: impl FnOnce(&mut pki_core::issuance::Issuing<'_>, &pki_core::Context<'_>) -> Result<T>,
) -> Result<T> {
    let dir = pki_core::store::CaDir::open(dir)?;
    let mut issuing = pki_core::issuance::Issuing::open(&dir)?;
    issuing.adopt(ca, issuer.clone());
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or(OffsetDateTime::now_utc());
    let ctx = pki_core::Context { now, actor: &actor, pass: &pki_core::NoPassphrase, rng: &pki_core::OsRandom };
    f(&mut issuing, &ctx)
}

/// Publishes the CRL of each signer that is due, under the directory lock (5 s at most: a
/// busy CLI is simply waited for on the next tick). Returns what was published or failed.
fn publish_due(root: &std::path::Path, signers: &[Signer]) -> Vec<(String, Result<u64>)> {
    let mut out = vec![];
    let Ok(dir) = pki_core::store::CaDir::open(root) else { return out };
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or(OffsetDateTime::now_utc());
    for s in signers.iter().filter(|s| s.keeps_crl) {
        let name = s.ca.name.clone();
        match pki_core::crl::is_due(&dir, &name, now) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                out.push((name, Err(e)));
                continue;
            }
        }
        let r = (|| -> Result<u64> {
            let settings = pki_core::settings::Settings::parse(&dir.read_settings_text()?, "pki.toml")?;
            let lock = dir.lock(Duration::from_secs(5))?;
            let actor = pki_core::Actor::from_env(Some("pki serve: CRL due".into()));
            let ctx = pki_core::Context { now, actor: &actor, pass: &pki_core::NoPassphrase, rng: &pki_core::OsRandom };
            let lifetime = pki_core::crl::lifetime(&settings, &s.ca)?;
            let (summary, _, _) = pki_core::crl::generate(&dir, &lock, &s.ca, &s.issuer, lifetime, &ctx)?;
            Ok(summary.number)
        })();
        out.push((name, r));
    }
    out
}

/// What every connection shares.
pub struct Shared {
    published: RwLock<Arc<Published>>,
    reload_error: Mutex<Option<String>>,
    /// One permit per open connection, [`Config::max_connections`] in all.
    connections: Arc<Semaphore>,
    max_connections: usize,
    /// The HTTPS certificate, when there is an HTTPS listener.
    pub tls: Option<Arc<tls::Tls>>,
    /// The OCSP responders and their response cache.
    pub ocsp: Arc<ocsp::Ocsp>,
    /// The ACME server, when profiles are offered over ACME and there is an HTTPS listener.
    pub acme: Option<Arc<acme::Acme>>,
    /// Attested issuance, when policies are configured and there is an HTTPS listener.
    pub attest: Option<Arc<attest::Attest>>,
    /// The read-only page.
    pub ui: Arc<ui::Ui>,
    /// The counters behind `/metrics`.
    pub metrics: metrics::Metrics,
}

impl Shared {
    /// What is served now.
    pub fn published(&self) -> Arc<Published> {
        self.published.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Why the last read of the directory failed, if it did.
    pub fn reload_error(&self) -> Option<String> {
        self.reload_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.max_connections - self.connections.available_permits()
    }
}

/// Reads the directory once, as the server would: the configuration check (`serve --check`).
pub fn check(cfg: &Config) -> Result<Published> {
    published::build(&cfg.dir)
}

/// One JSON log line on stderr that is not about a request.
pub fn log(level: &str, msg: &str, fields: serde_json::Value) {
    let mut v =
        serde_json::json!({ "time": pki_core::certs::rfc3339(OffsetDateTime::now_utc()), "level": level, "msg": msg });
    if let (Some(o), serde_json::Value::Object(f)) = (v.as_object_mut(), fields) {
        o.extend(f);
    }
    log_line(&v);
}

/// Writes one JSON value as a line on stderr in a single `write` (stderr is unbuffered:
/// `eprintln!` made a system call per piece of the line, a fifth of a busy server's time).
pub fn log_line(v: &serde_json::Value) {
    use std::io::Write;
    let mut line = v.to_string();
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Runs the server until SIGTERM or SIGINT; `ready` is called with the bound address once it
/// accepts connections. Builds its own tokio runtime.
pub fn run(mut cfg: Config, signers: Vec<Signer>, ready: impl FnOnce(Listening)) -> Result<()> {
    let first = published::build(&cfg.dir)?;
    let files = raise_file_limit();
    // Each connection is a descriptor; keep some for the directory, the listeners and logs.
    cfg.max_connections = cfg.max_connections.min(files.saturating_sub(64).max(16) as usize);
    // The HTTPS certificate is issued (or read) before anything listens: a refused request is
    // one error at start, not a listener without a certificate.
    let tls = match &cfg.tls {
        Some(source) if cfg.https.is_some() => Some(Arc::new(tls::Tls::start(&cfg.dir, source.clone(), &signers)?)),
        _ => None,
    };
    let ocsp = Arc::new(ocsp::Ocsp::start(&cfg.dir, &signers)?);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    rt.block_on(serve(cfg, Arc::new(signers), tls, ocsp, first, ready))
}

/// Raises the soft open-file limit to the hard one (as Go's runtime does: the soft 1,024 of a
/// login shell would otherwise cap connections) and returns it.
pub fn raise_file_limit() -> u64 {
    let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
            return 1024;
        }
        if l.rlim_cur < l.rlim_max {
            let want = libc::rlimit { rlim_cur: l.rlim_max, rlim_max: l.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                l.rlim_cur = l.rlim_max;
            }
        }
    }
    l.rlim_cur
}

/// The addresses `serve` listens on, once it accepts connections.
#[derive(Debug, Clone)]
pub struct Listening {
    /// The plain-HTTP listener.
    pub http: SocketAddr,
    /// The HTTPS listener, with the serial of the certificate it presents.
    pub https: Option<(SocketAddr, String)>,
    /// Connections served at once.
    pub max_connections: usize,
}

async fn serve(
    cfg: Config,
    signers: Arc<Vec<Signer>>,
    tls: Option<Arc<tls::Tls>>,
    ocsp: Arc<ocsp::Ocsp>,
    first: Published,
    ready: impl FnOnce(Listening),
) -> Result<()> {
    let acme = match (&cfg.https, cfg.acme_profiles.is_empty()) {
        (Some(_), false) => {
            let a = Arc::new(acme::Acme::start(&cfg.dir, cfg.acme.clone(), cfg.acme_profiles.clone(), &signers)?);
            a.resume();
            Some(a)
        }
        (None, false) => {
            log(
                "warn",
                "profiles with acme = true are not served: ACME needs the HTTPS listener (--https)",
                serde_json::json!({"profiles": cfg.acme_profiles.keys().collect::<Vec<_>>()}),
            );
            None
        }
        _ => None,
    };
    let attest = match (&cfg.https, cfg.attest.is_empty()) {
        (Some(_), false) => {
            let a = Arc::new(attest::Attest::start(&cfg.dir, cfg.attest.clone(), &signers)?);
            // Keys are fetched before serve listens; an issuer down at start is not fatal (its
            // policy refuses tokens until a fetch works, and /readyz says so).
            for (policy, error) in a.refresh(true).await {
                log(
                    "error",
                    "cannot fetch an attestation issuer's keys",
                    serde_json::json!({"policy": policy, "error": error}),
                );
            }
            Some(a)
        }
        (None, false) => {
            log(
                "warn",
                "attestation policies are not served: attestation needs the HTTPS listener (--https)",
                serde_json::json!({"policies": cfg.attest.iter().map(|p| p.policy.name.clone()).collect::<Vec<_>>()}),
            );
            None
        }
        _ => None,
    };
    let shared = Arc::new(Shared {
        published: RwLock::new(Arc::new(first)),
        reload_error: Mutex::new(None),
        connections: Arc::new(Semaphore::new(cfg.max_connections)),
        max_connections: cfg.max_connections,
        tls: tls.clone(),
        ocsp: ocsp.clone(),
        acme,
        attest,
        ui: Arc::new(ui::Ui::new(&cfg.dir, cfg.ui.clone())),
        metrics: metrics::Metrics::default(),
    });
    let listener = TcpListener::bind(cfg.http).await.with_context(|| format!("cannot listen on {}", cfg.http))?;
    let (https, acceptor) = match (cfg.https, &tls) {
        (Some(a), Some(t)) => {
            let l = TcpListener::bind(a).await.with_context(|| format!("cannot listen on {a}"))?;
            // A client certificate is asked for (not required) when it can open the page.
            let roots = if cfg.ui.client_profiles.is_empty() { None } else { Some(ui_client_roots(&cfg.dir)?) };
            (Some(l), Some(tokio_rustls::TlsAcceptor::from(t.server_config(roots)?)))
        }
        _ => (None, None),
    };
    let listening = Listening {
        http: listener.local_addr()?,
        https: match (&https, &tls) {
            (Some(l), Some(t)) => Some((l.local_addr()?, t.current().serial.clone())),
            _ => None,
        },
        max_connections: cfg.max_connections,
    };
    // Every signal serve handles is taken over before it says it is listening: a SIGTERM or
    // SIGHUP sent the moment the "listening" line appears must not find the default action
    // (which ends the process at once).
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let reloader = tokio::spawn(reload_loop(cfg.clone(), shared.clone(), signers, hup));
    if let Some(a) = shared.acme.clone() {
        // Expired ACME orders and authorizations are deleted once a minute.
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let a = a.clone();
                let now = OffsetDateTime::now_utc().unix_timestamp();
                match tokio::task::spawn_blocking(move || a.clean(now)).await {
                    Ok(Ok(n)) if n > 0 => log("info", "deleted expired ACME objects", serde_json::json!({"count": n})),
                    Ok(Err(e)) => log(
                        "error",
                        "cannot delete expired ACME objects",
                        serde_json::json!({"error": format!("{e:#}")}),
                    ),
                    _ => {}
                }
            }
        });
    }
    if let Some(a) = shared.attest.clone() {
        // Once a minute: used tokens past their exp are forgotten, and keys older than
        // [`attest::REFRESH`] fetched again (an issuer's rotation is picked up even before a
        // token names the new key).
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let a2 = a.clone();
                let now = OffsetDateTime::now_utc().unix_timestamp();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || a2.clean(now)).await {
                    log(
                        "error",
                        "cannot forget used attestation tokens",
                        serde_json::json!({"error": format!("{e:#}")}),
                    );
                }
                for (policy, error) in a.refresh(false).await {
                    log(
                        "error",
                        "cannot fetch an attestation issuer's keys",
                        serde_json::json!({"policy": policy, "error": error}),
                    );
                }
            }
        });
    }
    ready(listening);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (accepted, secure) = tokio::select! {
            r = listener.accept() => (r, false),
            r = accept_or_wait(https.as_ref()) => (r, true),
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(e) => {
                log("warn", "accept failed", serde_json::json!({"error": e.to_string()}));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
            shared.metrics.refused_connection();
            drop(stream);
            continue;
        };
        let (shared, cfg, watcher) = (shared.clone(), cfg.clone(), graceful.watcher());
        match (secure, &acceptor) {
            (true, Some(acceptor)) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // The handshake is bounded like the request head: a client that stalls in it
                    // is cut off with the same timeout.
                    match tokio::time::timeout(cfg.header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            let conn = ui::Conn {
                                secure: true,
                                loopback_listener: cfg.https.is_some_and(|a| a.ip().is_loopback()),
                                client_cert: tls_stream
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|c| c.first())
                                    .map(|c| Arc::new(c.to_vec())),
                            };
                            serve_connection(tls_stream, peer, shared, cfg, watcher, conn).await
                        }
                        Ok(Err(_)) | Err(_) => shared.metrics.failed_handshake(),
                    }
                    drop(permit);
                });
            }
            _ => {
                tokio::spawn(async move {
                    let conn =
                        ui::Conn { secure: false, loopback_listener: cfg.http.ip().is_loopback(), client_cert: None };
                    serve_connection(stream, peer, shared, cfg, watcher, conn).await;
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    drop(https);
    log("info", "shutting down", serde_json::json!({"open_connections": shared.open_connections()}));
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(cfg.shutdown_grace) => {
            log("warn", "connections still open after the grace period", serde_json::json!({}));
        }
    }
    reloader.abort();
    log("info", "stopped", serde_json::json!({}));
    Ok(())
}

async fn accept_or_wait(l: Option<&TcpListener>) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Serves HTTP/1.1 on one connection (plain or TLS) until it closes, its lifetime ends, or a
/// graceful shutdown has let its request in flight finish.
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    cfg: Config,
    watcher: hyper_util::server::graceful::Watcher,
    conn: ui::Conn,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let peer_s = peer.to_string();
    let secure = conn.secure;
    let svc = service_fn(move |req: hyper::Request<Incoming>| {
        let shared = shared.clone();
        let peer = peer_s.clone();
        let conn = conn.clone();
        async move {
            let started = Instant::now();
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            let resp = if path == "/ui" || path.starts_with("/ui/") {
                let stamp = shared.published().stamp;
                shared.ui.clone().handle(&req, &conn, stamp).await
            } else if path.starts_with("/attest/")
                && let Some(attest) = shared.attest.clone()
            {
                attest.handle(req, secure).await
            } else if path.starts_with("/acme/")
                && let Some(acme) = shared.acme.clone()
            {
                acme.handle(req, secure).await
            } else if method == hyper::Method::POST && path.starts_with("/ocsp/") {
                http::ocsp_post(req, &shared).await
            } else {
                http::handle(&req, &shared, OffsetDateTime::now_utc())
            };
            let status = resp.status().as_u16();
            let bytes = hyper::body::Body::size_hint(resp.body()).exact().unwrap_or(0) as usize;
            shared.metrics.request(http::route(&path), status, started.elapsed());
            let note = resp.extensions().get::<http::Note>();
            http::log_request(&method, &path, status, bytes, started, &peer, note);
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_timeout)
        .max_buf_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .serve_connection(TokioIo::new(stream), svc);
    let _ = tokio::time::timeout(cfg.connection_lifetime, watcher.watch(conn)).await;
}

/// The roots a client certificate for the page must chain to: the directory's self-signed CAs.
fn ui_client_roots(dir: &std::path::Path) -> Result<Arc<rustls::RootCertStore>> {
    let d = pki_core::store::CaDir::open(dir)?;
    let mut roots = rustls::RootCertStore::empty();
    for name in d.ca_names()? {
        let ca = pki_core::ca::Ca::load(&d, &name)?;
        if ca.self_signed {
            roots
                .add(rustls_pki_types::CertificateDer::from(ca.der.clone()))
                .context("a root is not usable for TLS")?;
        }
    }
    Ok(Arc::new(roots))
}

/// Polls the directory's stamp; reads it again when it changed (or on SIGHUP). A failed read
/// keeps the last good objects served and makes `/readyz` fail until a read works again.
async fn reload_loop(
    cfg: Config,
    shared: Arc<Shared>,
    signers: Arc<Vec<Signer>>,
    mut hup: tokio::signal::unix::Signal,
) {
    let mut tick = tokio::time::interval(cfg.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forced = tokio::select! {
            _ = tick.tick() => false,
            _ = hup.recv() => true,
        };
        let dir = cfg.dir.clone();
        let known = shared.published().stamp;
        let signers2 = signers.clone();
        let published_crls =
            tokio::task::spawn_blocking(move || publish_due(&dir, &signers2)).await.unwrap_or_default();
        for (ca, r) in published_crls {
            match r {
                Ok(number) => {
                    log("info", "published a CRL that was due", serde_json::json!({"ca": ca, "number": number}))
                }
                Err(e) => log(
                    "error",
                    "cannot publish a CRL that is due",
                    serde_json::json!({"ca": ca, "error": format!("{e:#}")}),
                ),
            }
        }
        {
            let (o, dir) = (shared.ocsp.clone(), cfg.dir.clone());
            match tokio::task::spawn_blocking(move || o.maintain(&dir, OffsetDateTime::now_utc())).await {
                Ok(Ok(cas)) if !cas.is_empty() => {
                    log("info", "new OCSP responder certificate", serde_json::json!({"cas": cas}));
                }
                Ok(Err(e)) => log(
                    "error",
                    "cannot renew an OCSP responder certificate; answering with the current one",
                    serde_json::json!({"error": format!("{e:#}")}),
                ),
                _ => {}
            }
        }
        if let Some(t) = shared.tls.clone() {
            let dir = cfg.dir.clone();
            match tokio::task::spawn_blocking(move || t.maintain(&dir, OffsetDateTime::now_utc())).await {
                Ok(Ok(Some(serial))) => {
                    log("info", "new HTTPS certificate", serde_json::json!({"serial": serial}));
                }
                Ok(Err(e)) => log(
                    "error",
                    "cannot renew the HTTPS certificate; serving the current one",
                    serde_json::json!({"error": format!("{e:#}")}),
                ),
                _ => {}
            }
        }
        let dir = cfg.dir.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<Option<Published>> {
            let stamp = pki_core::store::CaDir::open(&dir)?.publication_stamp()?;
            if stamp == known && !forced {
                return Ok(None);
            }
            published::build(&dir).map(Some)
        })
        .await;
        match result {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(p))) => {
                let crls = p.crls.len();
                *shared.published.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(p);
                *shared.reload_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                shared.metrics.reload(true);
                log("info", "reloaded", serde_json::json!({"crls": crls, "forced": forced}));
            }
            Ok(Err(e)) => {
                let msg = format!("{e:#}");
                shared.metrics.reload(false);
                log(
                    "error",
                    "cannot read the directory; serving the last good copy",
                    serde_json::json!({"error": msg}),
                );
                *shared.reload_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg);
            }
            Err(_) => {}
        }
    }
}
