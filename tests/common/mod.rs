//! Helpers shared by the integration tests: the real `pki` binary run against real temporary
//! CA directories, snapshots for "nothing changed" checks, and independent verifiers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub mod server;

pub const ROOT_PASS: &str = "root passphrase 1";
pub const INT_PASS: &str = "issuing passphrase 2";
/// `pki init` of the tests' directories: Acme, acme.internal, encrypted keys.
pub const INIT_ARGS: &[&str] = &[
    "init",
    "--non-interactive",
    "--org",
    "Acme",
    "--trust-domain",
    "acme.internal",
    "--passphrase-file",
    "root.pass",
    "--new-passphrase-file",
    "int.pass",
];

pub struct Env {
    pub tmp: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("root.pass"), format!("{ROOT_PASS}\n")).unwrap();
        std::fs::write(tmp.path().join("int.pass"), format!("{INT_PASS}\n")).unwrap();
        std::fs::write(tmp.path().join("wrong.pass"), "not it\n").unwrap();
        Env { tmp }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub fn ca(&self) -> PathBuf {
        self.path("ca")
    }

    /// `pki` with a clean environment (no PKI_* from the developer's shell), in the temp dir.
    pub fn pki(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pki"));
        c.current_dir(self.tmp.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("PKI_") || k.starts_with("CI_") || k.starts_with("GITHUB_") {
                c.env_remove(k);
            }
        }
        c.env("PKI_ACTOR", "test@suite");
        c.env("PKI_DIR", self.ca());
        c.stdin(std::process::Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.pki().args(args).output().unwrap()
    }

    /// Runs and insists on success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "pki {args:?} failed: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    /// A root and an issuing intermediate with encrypted keys.
    pub fn init(&self) {
        self.ok(INIT_ARGS);
    }

    /// The same with unencrypted keys: for tests that issue many certificates quickly.
    pub fn init_plain(&self) {
        self.ok(&["init", "--non-interactive", "--org", "Acme", "--trust-domain", "acme.internal", "--no-passphrase"]);
    }

    /// Appends text (e.g. a profile) to the directory's pki.toml, as a person would, and
    /// records the reviewed edit with `pki settings accept` (else audit reports it).
    pub fn append_settings(&self, text: &str) {
        let p = self.ca().join("pki.toml");
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str(text);
        std::fs::write(&p, s).unwrap();
        self.ok(&["settings", "accept"]);
    }

    /// Runs with the clock set to `now` (RFC 3339; test builds honour PKI_NOW).
    pub fn at(&self, now: &str, args: &[&str]) -> Output {
        self.pki().env("PKI_NOW", now).args(args).output().unwrap()
    }

    /// The same, insisting on success; stdout, trimmed.
    pub fn ok_at(&self, now: &str, args: &[&str]) -> String {
        let o = self.at(now, args);
        assert!(o.status.success(), "pki {args:?} at {now}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    }

    pub fn issue(&self, extra: &[&str]) -> String {
        let mut args = vec!["issue", "--passphrase-file", "int.pass"];
        args.extend_from_slice(extra);
        self.ok(&args).trim().to_string()
    }
}

/// (severity, code, id) of each finding of an `audit --json` report, in its order.
pub fn finding_triples(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let s = |f: &serde_json::Value, k: &str| f[k].as_str().unwrap().to_string();
    report["findings"].as_array().unwrap().iter().map(|f| (s(f, "severity"), s(f, "code"), s(f, "id"))).collect()
}

/// Every file under `dir` (relative path -> (mode, SHA-256)), plus directories and modes.
pub fn snapshot(dir: &Path) -> BTreeMap<String, (u32, String)> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, p: &Path, out: &mut BTreeMap<String, (u32, String)>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let md = std::fs::metadata(&path).unwrap();
            let mode = md.permissions().mode() & 0o777;
            if md.is_dir() {
                out.insert(rel + "/", (mode, String::new()));
                walk(root, &path, out);
            } else {
                let h = hex(&Sha256::digest(std::fs::read(&path).unwrap()));
                out.insert(rel, (mode, h));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit status 2 with exactly one line on stderr, and returns that line.
pub fn assert_one_line_error(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(2), "expected exit 2, got {:?}: {}", o.status, stderr(o));
    let e = stderr(o);
    assert_eq!(e.lines().count(), 1, "expected one line on stderr, got: {e}");
    assert!(e.starts_with("pki: error: "), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

pub fn openssl(args: &[&str], cwd: &Path) -> Output {
    Command::new("openssl").args(args).current_dir(cwd).output().expect("openssl is installed")
}

/// A CSR from `openssl req` in `cwd` for a new P-256 key written to `key`, CN `cn`, with more
/// arguments (`-addext ...`, `-outform DER`); panics if OpenSSL fails.
pub fn openssl_p256_csr(cwd: &Path, key: &str, cn: &str, out: &str, extra: &[&str]) {
    let subj = format!("/CN={cn}");
    let mut args =
        vec!["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key];
    args.extend_from_slice(&["-subj", &subj, "-out", out]);
    args.extend_from_slice(extra);
    let o = openssl(&args, cwd);
    assert!(o.status.success(), "openssl req: {}", String::from_utf8_lossy(&o.stderr));
}

/// `openssl verify -x509_strict -purpose PURPOSE` of DIR/cert.pem with DIR/root.pem as the trust
/// anchor and DIR/chain.pem as intermediates, run in `cwd`.
pub fn openssl_verify(cwd: &Path, dir: &str, purpose: &str) -> Output {
    let (root, chain, cert) = (format!("{dir}/root.pem"), format!("{dir}/chain.pem"), format!("{dir}/cert.pem"));
    openssl(&["verify", "-x509_strict", "-purpose", purpose, "-CAfile", &root, "-untrusted", &chain, &cert], cwd)
}

pub fn pem_ders(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read(path).unwrap();
    pem::parse_many(text).unwrap().into_iter().map(|p| p.contents().to_vec()).collect()
}

/// Verifies a leaf with rustls-webpki for the given usage, against root.pem and chain.pem.
pub fn webpki_verify(out_dir: &Path, usage: webpki::KeyUsage) -> Result<(), webpki::Error> {
    let root = pem_ders(&out_dir.join("root.pem")).remove(0);
    let chain: Vec<rustls_pki_types::CertificateDer<'static>> =
        pem_ders(&out_dir.join("chain.pem")).into_iter().map(rustls_pki_types::CertificateDer::from).collect();
    let leaf = rustls_pki_types::CertificateDer::from(pem_ders(&out_dir.join("cert.pem")).remove(0));
    let root_der = rustls_pki_types::CertificateDer::from(root);
    let anchor = webpki::anchor_from_trusted_cert(&root_der)?.to_owned();
    let ee = webpki::EndEntityCert::try_from(&leaf)?;
    let now = rustls_pki_types::UnixTime::now();
    ee.verify_for_usage(webpki::ALL_VERIFICATION_ALGS, &[anchor], &chain, now, usage, None, None)?;
    Ok(())
}

/// Reads the ledger and checks its hash chain independently of `pki`. A last line without its
/// newline is a torn append (a SIGKILL can cut a write short at a page boundary): not a record,
/// and the next `pki` run cuts it, so it is left out here too.
pub fn ledger_chain_intact(ca: &Path) -> (bool, Vec<serde_json::Value>) {
    let mut text = String::from_utf8_lossy(&std::fs::read(ca.join("ledger.jsonl")).unwrap_or_default()).into_owned();
    text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
    let mut prev = "0".repeat(64);
    let mut records = vec![];
    let mut ok = true;
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("ledger line {} is not JSON ({e}): {line}", i + 1));
        if v["prev"] != prev.as_str() || v["seq"] != (i as u64 + 1) {
            ok = false;
        }
        prev = hex(&Sha256::digest(line.as_bytes()));
        records.push(v);
    }
    (ok, records)
}

/// The serials of the ledger's cert-issued records, in ledger order.
pub fn issued_serials(records: &[serde_json::Value]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r["event"] == "cert-issued")
        .map(|r| r["data"]["serial"].as_str().unwrap().to_string())
        .collect()
}

/// Inventory records (non-comment lines) as field vectors.
pub fn inventory(ca: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(ca.join("inventory.tsv"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(|f| f.trim_end().to_string()).collect())
        .collect()
}

pub fn cert_file(ca: &Path, serial: &str) -> PathBuf {
    ca.join("certs").join(&serial[..2]).join(format!("{serial}.pem"))
}

/// An in-memory TLS 1.3 handshake; returns the client certificate the server authenticated.
pub fn mtls(
    env: &Env,
    server_dir: &str,
    client_dir: &str,
    crls: Vec<rustls::pki_types::CertificateRevocationListDer<'static>>,
) -> Result<Vec<u8>, String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pem_ders(&env.path(&format!("{server_dir}/root.pem"))).remove(0))).unwrap();
    let roots = Arc::new(roots);
    let chain = |d: &str| -> Vec<CertificateDer<'static>> {
        pem_ders(&env.path(&format!("{d}/cert.pem")))
            .into_iter()
            .chain(pem_ders(&env.path(&format!("{d}/chain.pem"))))
            .map(CertificateDer::from)
            .collect()
    };
    let key = |d: &str| -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(pem_ders(&env.path(&format!("{d}/key.pem"))).remove(0)).into()
    };
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .with_crls(crls)
        .build()
        .map_err(|e| e.to_string())?;
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain(server_dir), key(server_dir))
        .map_err(|e| e.to_string())?;
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain(client_dir), key(client_dir))
        .map_err(|e| e.to_string())?;
    let mut client =
        rustls::ClientConnection::new(Arc::new(client_config), ServerName::try_from("api.acme.internal").unwrap())
            .unwrap();
    let mut server = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
    for _ in 0..10 {
        let mut buf = vec![];
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            server.read_tls(&mut &buf[..]).unwrap();
            server.process_new_packets().map_err(|e| format!("server: {e}"))?;
        }
        let mut buf = vec![];
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            client.read_tls(&mut &buf[..]).unwrap();
            client.process_new_packets().map_err(|e| format!("client: {e}"))?;
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            let peer = server.peer_certificates().ok_or("no client certificate")?;
            return Ok(peer[0].to_vec());
        }
    }
    Err("handshake did not finish".into())
}

/// Runs tests/interop/verify.go (Go's crypto/x509) on a manifest of CAs and leaves; returns its
/// results, each `{"check", "target", "ok", "detail"}`, or None (with a message) when Go is not
/// installed outside CI.
#[allow(dead_code)]
pub fn go_verify(env: &Env, manifest: &serde_json::Value) -> Option<Vec<serde_json::Value>> {
    let Some(go) = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join("go")).find(|p| p.is_file()))
    else {
        assert!(std::env::var_os("CI").is_none(), "go is required in CI");
        eprintln!("SKIPPED: go is not installed");
        return None;
    };
    let path = env.path("manifest.json");
    std::fs::write(&path, serde_json::to_vec_pretty(manifest).unwrap()).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify.go");
    let o = Command::new(go).args(["run"]).arg(src).arg(&path).env("GO111MODULE", "off").output().unwrap();
    assert!(o.status.success(), "go: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    Some(v["results"].as_array().unwrap().clone())
}
