//! `pki serve` for real: started on a loopback port over a directory the CLI keeps changing,
//! fetched by OpenSSL (`verify -crl_download` follows the CDP in the certificate) and by a raw
//! HTTP/1.1 client that sends what a careless or hostile client sends.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::server::*;
use common::*;

/// A certificate issued after the base URL is set carries the CDP; OpenSSL downloads the CRL
/// from `serve` and accepts the good certificate; after a CLI revoke (serve not restarted) the
/// served CRL changes within the poll interval and OpenSSL rejects the revoked one.
#[test]
fn serve_publishes_crls_that_openssl_downloads_and_follows_the_cli() {
    let env = Env::new();
    let port = free_port();
    env.ok(&[INIT_ARGS, &["--base-url", &format!("http://127.0.0.1:{port}")]].concat());
    env.issue(&["--dns", "good.acme.internal", "--out", "good"]);
    let bad = env.issue(&["--dns", "bad.acme.internal", "--out", "bad"]);
    let srv = Server::start(&env, port);
    // OpenSSL downloads each CRL from the CDP of the certificate it checks (the leaf's names
    // /crl/issuing.crl, the intermediate's /crl/root.crl); the root itself has no CDP, so its
    // entry for -crl_check_all comes from the same server as a file.
    let root_crl = srv.get("/crl/root.crl.pem", &[]);
    assert_eq!(root_crl.status, 200);
    std::fs::write(env.path("root-crl.pem"), &root_crl.body).unwrap();
    let verify = |dir: &str| {
        openssl(
            &[
                "verify",
                "-crl_check_all",
                "-crl_download",
                "-CRLfile",
                "root-crl.pem",
                "-CAfile",
                &format!("{dir}/root.pem"),
                "-untrusted",
                &format!("{dir}/chain.pem"),
                &format!("{dir}/cert.pem"),
            ],
            env.tmp.path(),
        )
    };
    for dir in ["good", "bad"] {
        let o = verify(dir);
        assert!(o.status.success(), "{dir}: {}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    }
    let before = srv.get("/crl/issuing.crl", &[]);
    assert_eq!(before.status, 200);
    assert_eq!(before.header("content-type"), Some("application/pkix-crl"));
    env.ok(&["revoke", &bad, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);
    let t = Instant::now();
    loop {
        let now = srv.get("/crl/issuing.crl", &[]);
        if now.body != before.body {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "the served CRL did not change within 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("the revocation was served {} ms after revoke returned", t.elapsed().as_millis());
    let o = verify("bad");
    assert!(!o.status.success(), "the revoked certificate still verifies");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("certificate revoked")
            || stderr(&o).contains("certificate revoked")
    );
    assert!(verify("good").status.success());
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0), "{log:?}");
    // One JSON line per request, and the life-cycle lines.
    let requests: Vec<serde_json::Value> = log
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter(|v| v["msg"] == "request")
        .collect();
    assert!(requests.iter().any(|r| r["path"] == "/crl/issuing.crl" && r["status"] == 200), "{log:?}");
    let downloads = requests.iter().filter(|r| r["path"] == "/crl/issuing.crl").count();
    assert!(downloads >= 4, "OpenSSL fetched the leaf's CDP for each verify: {log:?}");
    assert!(log.iter().any(|l| l.contains("\"stopped\"")), "{log:?}");
}

/// Every published path, its content type and cache headers; conditional requests get 304;
/// /readyz and /metrics say what they should.
#[test]
fn serve_answers_as_a_cache_expects() {
    let env = Env::new();
    env.init();
    env.ok(&["create-intermediate", "team", "--passphrase-file", "root.pass", "--new-passphrase-file", "int.pass"]);
    let srv = Server::start(&env, free_port());
    for (path, ct) in [
        ("/crl/issuing.crl", "application/pkix-crl"),
        ("/crl/team.crl", "application/pkix-crl"),
        ("/crl/root.crl.pem", "application/x-pem-file"),
        ("/ca/issuing.crt", "application/pkix-cert"),
        ("/ca/root.pem", "application/x-pem-file"),
        ("/bundle.pem", "application/x-pem-file"),
        ("/bundle.spiffe.json", "application/json"),
    ] {
        let r = srv.get(path, &[]);
        assert_eq!((r.status, r.header("content-type")), (200, Some(ct)), "{path}");
        let etag = r.header("etag").unwrap().to_string();
        let lm = r.header("last-modified").unwrap().to_string();
        let cc = r.header("cache-control").unwrap();
        let max_age: i64 = cc.strip_prefix("public, max-age=").unwrap().parse().unwrap();
        assert!(max_age <= if path.starts_with("/crl/") { 300 } else { 3600 }, "{path}: {cc}");
        assert_eq!(srv.get(path, &[&format!("If-None-Match: {etag}")]).status, 304, "{path}");
        assert_eq!(srv.get(path, &[&format!("If-Modified-Since: {lm}")]).status, 304, "{path}");
        assert_eq!(srv.get(path, &["If-None-Match: \"other\""]).status, 200, "{path}");
    }
    // The bytes are the directory's.
    let crl = srv.get("/crl/issuing.crl", &[]);
    assert_eq!(crl.body, std::fs::read(env.ca().join("crl/issuing.crl")).unwrap());
    let pem = srv.get("/ca/root.crt", &[]);
    assert_eq!(pem.body, pem_ders(&env.ca().join("cas/root/cert.pem")).remove(0));
    let spiffe: serde_json::Value = serde_json::from_slice(&srv.get("/bundle.spiffe.json", &[]).body).unwrap();
    assert_eq!(spiffe["keys"][0]["use"], "x509-svid");
    // Health and readiness; metrics in the text format with the CRL gauges.
    assert_eq!(srv.get("/healthz", &[]).status, 200);
    let ready = srv.get("/readyz", &[]);
    assert_eq!(ready.status, 200, "{}", String::from_utf8_lossy(&ready.body));
    let m = String::from_utf8(srv.get("/metrics", &[]).body).unwrap();
    for want in [
        "pki_crl_age_seconds{ca=\"issuing\"}",
        "pki_crl_next_update_seconds{ca=\"team\"}",
        "pki_http_requests_total{route=\"/crl\",status=\"304\"}",
        "pki_http_request_duration_seconds_bucket{le=\"+Inf\"}",
    ] {
        assert!(m.contains(want), "{want} missing from\n{m}");
    }
    // promtool, Prometheus's own checker, accepts the exposition.
    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    match promtool {
        Ok(mut p) => {
            p.stdin.take().unwrap().write_all(m.as_bytes()).unwrap();
            let o = p.wait_with_output().unwrap();
            assert!(o.status.success(), "promtool: {}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        }
        Err(_) => {
            assert!(std::env::var_os("CI").is_none(), "promtool is required in CI (.ci/run installs it)");
            eprintln!("SKIPPED: promtool is not installed");
        }
    }
    // A CRL past its nextUpdate makes /readyz fail (published here with the clock 8 days back,
    // so its 7-day nextUpdate has passed), within the poll interval.
    let past = (time::OffsetDateTime::now_utc() - time::Duration::days(8))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    env.ok_at(&past, &["gen-crl", "--ca", "team", "--passphrase-file", "int.pass"]);
    let t = Instant::now();
    let not_ready = loop {
        let r = srv.get("/readyz", &[]);
        if r.status == 503 {
            break r;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "/readyz still {} after a stale CRL", r.status);
        std::thread::sleep(Duration::from_millis(50));
    };
    let v: serde_json::Value = serde_json::from_slice(&not_ready.body).unwrap();
    assert_eq!(v["problems"][0], "the CRL of CA 'team' is past its nextUpdate", "{v}");
    let m = String::from_utf8(srv.get("/metrics", &[]).body).unwrap();
    let line = m.lines().find(|l| l.starts_with("pki_crl_next_update_seconds{ca=\"team\"}")).unwrap();
    assert!(line.ends_with(|c: char| c.is_ascii_digit()) && line.contains(" -"), "negative when stale: {line}");
    drop(srv);
}

/// Malformed and abusive requests: each gets its status, nothing panics, and the next good
/// request is answered.
#[test]
fn serve_refuses_bad_requests_and_keeps_serving() {
    let env = Env::new();
    env.init();
    let srv = Server::start(&env, free_port());
    let big_header = format!("GET /crl/issuing.crl HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    let many_headers = format!(
        "GET /crl/issuing.crl HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..100).map(|i| format!("X-{i}: v\r\n")).collect::<String>()
    );
    let body_on_get = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\nConnection: close\r\n\r\n{}",
        "b".repeat(65536)
    );
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("path traversal", b"GET /crl/../pki.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), &[404]),
        (
            "encoded traversal",
            b"GET /crl/%2e%2e/pki.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            &[404],
        ),
        ("a key", b"GET /cas/issuing/key.pem HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), &[404]),
        ("unknown CA", b"GET /crl/nope.crl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), &[404]),
        (
            "POST",
            b"POST /crl/issuing.crl HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            &[405],
        ),
        ("DELETE", b"DELETE /ca/root.crt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), &[405]),
        ("oversized header", big_header.into_bytes(), &[431]),
        ("too many headers", many_headers.into_bytes(), &[431]),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(), &[400]),
        ("no version", b"GET /healthz\r\n\r\n".to_vec(), &[400]),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), &[0, 400, 405, 505]),
        ("bad method", b"G\x01T /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), &[400]),
        ("10 MB body on a GET", body_on_get.into_bytes(), &[200]),
        (
            "long path",
            format!("GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "x".repeat(8000)).into_bytes(),
            &[404, 414, 431],
        ),
        ("query string", b"GET /healthz?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), &[200]),
        (
            "absolute URI",
            b"GET http://evil.example/crl/issuing.crl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            &[200],
        ),
        (
            "bad If-Modified-Since",
            b"GET /crl/issuing.crl HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: yesterday\r\nConnection: close\r\n\r\n"
                .to_vec(),
            &[200],
        ),
        ("HEAD", b"HEAD /crl/issuing.crl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), &[200]),
        ("empty", b"".to_vec(), &[0]),
        ("only CRLF", b"\r\n\r\n\r\n".to_vec(), &[0, 400]),
    ];
    for (what, bytes, want) in cases {
        let r = srv.raw(&bytes);
        assert!(want.contains(&r.status), "{what}: status {} (want {want:?})", r.status);
        let ok = srv.get("/healthz", &[]);
        assert_eq!(ok.status, 200, "after {what}, a good request");
    }
    // HEAD has the headers and no body.
    let h = srv.raw(b"HEAD /crl/issuing.crl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(h.body.is_empty() && h.header("content-length").is_some_and(|l| l != "0"), "{h:?}");
    // 200 idle connections, then a good request is still answered.
    let idle: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(("127.0.0.1", srv.port)).unwrap()).collect();
    assert_eq!(srv.get("/healthz", &[]).status, 200);
    drop(idle);
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0));
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}

/// `serve --check` reads the directory and the settings and exits: a bad listen address is one
/// line naming where it came from.
#[test]
fn serve_check_validates_the_configuration() {
    let env = Env::new();
    env.init();
    let out = env.ok(&["serve", "--check"]);
    assert!(out.lines().any(|l| l == "/crl/issuing.crl") && out.lines().any(|l| l == "/bundle.spiffe.json"), "{out}");
    env.append_settings("\n[serve]\nhttp = \"localhost\"\n");
    let o = env.run(&["serve", "--check"]);
    let e = assert_one_line_error(&o);
    assert!(e.contains("invalid listen address 'localhost'") && e.contains("[serve] http"), "{e}");
    let o = env.run(&["serve", "--check", "--http", "127.0.0.1:99999"]);
    assert!(assert_one_line_error(&o).contains("--http"));
}

/// `serve --ca issuing` keeps that CA's CRL fresh: a stale one is replaced, one behind a CLI
/// `revoke --no-crl` is republished, each within a poll or two, under the lock and recorded
/// in the ledger; a root's key is never loaded, and a wrong passphrase stops it at start.
#[test]
fn serve_keeps_an_intermediates_crl_fresh_and_never_loads_the_root() {
    let env = Env::new();
    env.init();
    let leaf = env.issue(&["--dns", "a.acme.internal", "--out", "a"]);
    let past = (time::OffsetDateTime::now_utc() - time::Duration::days(8))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    env.ok_at(&past, &["gen-crl", "--ca", "issuing", "--passphrase-file", "int.pass"]);
    for (args, want) in [
        (vec!["serve", "--check", "--ca", "root", "--passphrase-file", "root.pass"], "never loads a root's key"),
        (vec!["serve", "--check", "--ca", "issuing", "--passphrase-file", "wrong.pass"], "wrong passphrase"),
    ] {
        let o = env.run(&args);
        assert!(assert_one_line_error(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    // The passphrase from systemd's credentials directory (LoadCredential=issuing.pass:...).
    std::fs::create_dir(env.path("creds")).unwrap();
    std::fs::copy(env.path("int.pass"), env.path("creds/issuing.pass")).unwrap();
    let o = env
        .pki()
        .args(["serve", "--check", "--ca", "issuing"])
        .env("CREDENTIALS_DIRECTORY", env.path("creds"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let srv = Server::start_with(&env, free_port(), &["--ca", "issuing", "--passphrase-file", "int.pass"]);
    let wait_for = |what: &str, ok: &dyn Fn() -> bool| {
        let t = Instant::now();
        while !ok() {
            assert!(t.elapsed() < Duration::from_secs(5), "{what} within 5 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("a fresh CRL and /readyz 200", &|| srv.get("/readyz", &[]).status == 200);
    let listed = |serial: &str| {
        std::fs::write(env.path("served.crl"), srv.get("/crl/issuing.crl", &[]).body).unwrap();
        let o = openssl(&["crl", "-inform", "DER", "-in", "served.crl", "-noout", "-text"], env.tmp.path());
        String::from_utf8_lossy(&o.stdout).contains(&format!("Serial Number: {serial}"))
    };
    assert!(!listed(&leaf));
    env.ok(&["revoke", &leaf, "--no-crl", "--passphrase-file", "int.pass"]);
    wait_for("the revocation in the served CRL", &|| listed(&leaf));
    env.ok(&["ledger", "verify"]);
    let ledger = std::fs::read_to_string(env.ca().join("ledger.jsonl")).unwrap();
    assert!(ledger.contains("pki serve: CRL due"), "serve's CRLs are recorded with who made them");
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0));
    assert_eq!(log.iter().filter(|l| l.contains("published a CRL that was due")).count(), 2, "{log:?}");
    env.ok(&["audit", "--deep"]);
}

/// The shipped systemd unit is one systemd accepts (`systemd-analyze verify`, with this build's
/// binary in place of /usr/local/bin/pki); only the not-installed man page may be reported.
#[test]
fn the_systemd_unit_verifies() {
    if std::process::Command::new("systemd-analyze").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "systemd-analyze is required in CI (.ci/run installs it)");
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    let env = Env::new();
    let unit = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/pki-serve.service"))
        .unwrap();
    assert!(
        unit.contains("NoNewPrivileges=yes")
            && unit.contains("ProtectSystem=strict")
            && unit.contains("ExecStartPre=/usr/local/bin/pki serve --check")
    );
    let path = env.path("pki-serve.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/pki", env!("CARGO_BIN_EXE_pki"))).unwrap();
    let o = std::process::Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    let problems: Vec<&str> =
        text.lines().filter(|l| !l.trim().is_empty() && !l.contains("man:") && !l.contains("man ")).collect();
    assert!(problems.is_empty(), "systemd-analyze verify: {text}");
}

/// A profile for serve's own HTTPS certificate: loopback addresses and `localhost`.
const SERVE_PROFILE: &str = "\n[profiles.serve]\nca = \"issuing\"\ndefault_ttl = \"24h\"\nmax_ttl = \"7d\"\nkey_types = [\"p256\"]\next_key_usage = [\"serverAuth\"]\nallowed_dns = [\"localhost\"]\nallowed_ips = [\"127.0.0.0/8\"]\n";

/// One HTTPS GET through rustls (rustls-webpki checks the chain against `root_pem` and the
/// name `host`; the connection goes to 127.0.0.1). Returns the reply and the leaf's serial.
fn https_get(port: u16, root_pem: &std::path::Path, host: &str, path: &str) -> Result<(Reply, String), String> {
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for der in pem_ders(root_pem) {
        roots.add(CertificateDer::from(der)).unwrap();
    }
    let cfg =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(host.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = vec![];
    match tls.read_to_end(&mut buf) {
        Ok(_) => {}
        // hyper closes without close_notify after `Connection: close`; the body is complete.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    let leaf = tls.conn.peer_certificates().unwrap()[0].to_vec();
    let (_, x) = x509_parser::parse_x509_certificate(&leaf).unwrap();
    Ok((Reply::parse(&buf), x.raw_serial_as_string().replace(':', "").to_uppercase()))
}

fn log_field(log: &[String], msg: &str, field: &str) -> Option<String> {
    log.iter()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["msg"] == msg)
        .and_then(|v| v[field].as_str().map(str::to_string))
}

/// `--https` with `--tls-ca`: serve issues its own certificate (through the profile, into the
/// inventory and ledger) for the listen address and `--tls-name`; OpenSSL (curl) and rustls
/// both accept it by IP and by name; with a third of its lifetime left it is renewed (the old
/// one superseded) and new handshakes get the successor, serve not restarted.
#[test]
fn serve_https_issues_and_renews_its_own_certificate() {
    let env = Env::new();
    env.init();
    env.append_settings(SERVE_PROFILE);
    env.ok(&["export", "--root", "--out", "root.pem"]);
    let https = free_port();
    let srv = Server::start_with(
        &env,
        free_port(),
        &[
            "--https",
            &format!("127.0.0.1:{https}"),
            "--tls-ca",
            "issuing",
            "--tls-profile",
            "serve",
            "--tls-name",
            "localhost",
            "--tls-ttl",
            "1m",
            "--passphrase-file",
            "int.pass",
        ],
    );
    let first = log_field(&srv.log.lock().unwrap(), "listening", "tls_serial").expect("tls_serial logged");
    // OpenSSL, by IP address.
    let o = std::process::Command::new("curl")
        .args(["-sS", "--cacert", "root.pem", &format!("https://127.0.0.1:{https}/healthz")])
        .current_dir(env.tmp.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ok\n", "curl: {}", stderr(&o));
    // rustls, by name: the same objects as over plain HTTP.
    let (r, serial) = https_get(https, &env.path("root.pem"), "localhost", "/crl/issuing.crl").unwrap();
    assert_eq!((r.status, serial.as_str()), (200, first.as_str()));
    assert_eq!(r.body, std::fs::read(env.ca().join("crl/issuing.crl")).unwrap());
    assert!(https_get(https, &env.path("root.pem"), "other.acme.internal", "/healthz").is_err(), "name not in SANs");
    // In the inventory like any certificate, with its names and who asked.
    let listed: serde_json::Value = serde_json::from_str(&env.ok(&["list", "--json"])).unwrap_or_else(|_| {
        serde_json::Value::Array(
            env.ok(&["list", "--json"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
        )
    });
    let rec = listed.as_array().unwrap().iter().find(|r| r["serial"] == first.as_str()).expect("listed").clone();
    assert_eq!(rec["profile"], "serve");
    let ledger = std::fs::read_to_string(env.ca().join("ledger.jsonl")).unwrap();
    assert!(ledger.contains("pki serve: HTTPS certificate"));
    let metrics = srv.get("/metrics", &[]);
    assert!(String::from_utf8_lossy(&metrics.body).contains("pki_serve_tls_cert_expiry_seconds "));
    // 1m + 60 s backdate: renewed 40 s before its end, i.e. about 20 s after start.
    let t = Instant::now();
    let second = loop {
        if let Some(s) = log_field(&srv.log.lock().unwrap(), "new HTTPS certificate", "serial") {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "renewed within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_ne!(second, first);
    let (r, serial) = https_get(https, &env.path("root.pem"), "127.0.0.1", "/healthz").unwrap();
    assert_eq!((r.status, serial), (200, second.clone()));
    let old = env.ok(&["list", "--json", "--name", "localhost"]);
    assert!(
        old.lines().any(|l| l.contains(&first) && l.contains("\"superseded\"")),
        "the old one is superseded: {old}"
    );
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0), "{log:?}");
    env.ok(&["audit", "--deep"]);
}

/// `--tls-cert/--tls-key`: the files are presented, and read again when another tool replaces
/// them (no restart). Bad TLS configurations are one-line errors at start (`--check`).
#[test]
fn serve_https_from_files_and_bad_tls_configurations() {
    let env = Env::new();
    env.init();
    env.append_settings(SERVE_PROFILE);
    env.ok(&["export", "--root", "--out", "root.pem"]);
    let a = env.issue(&["--profile", "serve", "--dns", "localhost", "--ip", "127.0.0.1", "--out", "a"]);
    let b = env.issue(&["--profile", "serve", "--dns", "localhost", "--ip", "127.0.0.1", "--out", "b"]);
    std::fs::create_dir(env.path("live")).unwrap();
    let place = |from: &str| {
        for f in ["fullchain.pem", "key.pem"] {
            std::fs::copy(env.path(&format!("{from}/{f}")), env.path(&format!("live/{f}.new"))).unwrap();
            std::fs::rename(env.path(&format!("live/{f}.new")), env.path(&format!("live/{f}"))).unwrap();
        }
    };
    place("a");
    let https = free_port();
    let addr = format!("127.0.0.1:{https}");
    let srv = Server::start_with(
        &env,
        free_port(),
        &["--https", &addr, "--tls-cert", "live/fullchain.pem", "--tls-key", "live/key.pem"],
    );
    assert_eq!(https_get(https, &env.path("root.pem"), "localhost", "/healthz").unwrap().1, a);
    std::thread::sleep(Duration::from_millis(1100)); // a visibly newer modification time
    place("b");
    let t = Instant::now();
    while https_get(https, &env.path("root.pem"), "localhost", "/healthz").unwrap().1 != b {
        assert!(t.elapsed() < Duration::from_secs(5), "the replaced files are served within 5 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(srv.stop().0, Some(0));

    std::fs::copy(env.path("a/cert.pem"), env.path("mismatch.pem")).unwrap();
    std::fs::write(
        env.path("enc.key"),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--https", &addr], "--https needs a certificate"),
        (vec!["--tls-ca", "issuing"], "no HTTPS listener"),
        (vec!["--https", &addr, "--tls-ca", "issuing", "--passphrase-file", "int.pass"], "allowed_ips"),
        (
            vec![
                "--https",
                "0.0.0.0:8443",
                "--tls-ca",
                "issuing",
                "--tls-profile",
                "serve",
                "--passphrase-file",
                "int.pass",
            ],
            "--tls-name",
        ),
        (
            vec!["--https", &addr, "--tls-ca", "root", "--tls-profile", "serve", "--passphrase-file", "root.pass"],
            "root",
        ),
        (vec!["--https", &addr, "--tls-cert", "mismatch.pem", "--tls-key", "b/key.pem"], "does not fit"),
        (vec!["--https", &addr, "--tls-cert", "a/fullchain.pem", "--tls-key", "enc.key"], "encrypted"),
        (vec!["--https", &addr, "--tls-cert", "a/fullchain.pem"], "--tls-key"),
        (vec!["--https", &addr, "--tls-cert", "nope.pem", "--tls-key", "a/key.pem"], "nope.pem"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["serve", "--check"];
        args.extend(extra.iter().copied());
        let o = env.run(&args);
        let e = assert_one_line_error(&o);
        assert!(e.contains(want), "{extra:?}: {e}");
    }
}

/// SIGTERM while a large CRL (150,000 entries, megabytes) is being read slowly: serve keeps
/// running until that response is complete, then exits 0.
#[test]
fn sigterm_lets_a_slow_download_finish() {
    let env = Env::new();
    env.init();
    {
        use std::fmt::Write as _;
        let mut lines = String::new();
        for i in 0..150_000u64 {
            let _ = writeln!(
                lines,
                "{:032X}\tissuing\t2026-01-01T00:00:00Z\tkeyCompromise\t-\t2099-01-01T00:00:00Z\tleaf",
                0x4000_0000_0000_0000_0000_0000_0000_0000u128 + u128::from(i) * 7919
            );
        }
        let p = env.ca().join("crl/issuing.revoked.tsv");
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(p).unwrap();
        f.write_all(lines.as_bytes()).unwrap();
    }
    env.ok(&["gen-crl", "--ca", "issuing", "--passphrase-file", "int.pass"]);
    let crl = std::fs::read(env.ca().join("crl/issuing.crl")).unwrap();
    assert!(crl.len() > 4_000_000, "a CRL of {} bytes", crl.len());
    let srv = Server::start(&env, free_port());
    let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    s.write_all(b"GET /crl/issuing.crl HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 1024];
    let n = s.read(&mut first).unwrap();
    assert!(n > 0);
    unsafe { libc::kill(srv.child.id() as i32, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(700));
    let mut srv = srv;
    assert!(srv.child.try_wait().unwrap().is_none(), "serve waits for the response in flight");
    let mut rest = vec![];
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.read_to_end(&mut rest).unwrap();
    let mut all = first[..n].to_vec();
    all.extend(rest);
    let r = Reply::parse(&all);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), crl.len(), "the whole CRL arrived");
    assert!(r.body == crl);
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0));
    assert!(log.iter().any(|l| l.contains("\"stopped\"")), "{log:?}");
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap()
}

/// Load, bounded in count and time: 1,000 idle connections held open while good requests are
/// still answered, then 4,000 CRL downloads from 8 threads; serve's resident memory stays under
/// a bound (printed) and it answers everything.
#[test]
fn serve_memory_stays_bounded_under_load() {
    // Room for 1,000 sockets in this process too.
    unsafe {
        let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        l.rlim_cur = l.rlim_max.min(8192);
        libc::setrlimit(libc::RLIMIT_NOFILE, &l);
    }
    let env = Env::new();
    env.init();
    let srv = Server::start(&env, free_port());
    let pid = srv.child.id();
    assert_eq!(srv.get("/healthz", &[]).status, 200);
    let start = rss_kib(pid);
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
            // A request head begun and never finished: the slowloris.
            s.write_all(b"GET /crl/issuing.crl HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(srv.get("/healthz", &[]).status, 200, "answered beside 1,000 idle connections");
    let with_idle = rss_kib(pid);
    let port = srv.port;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut ok = 0;
                for _ in 0..500 {
                    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    s.write_all(b"GET /crl/issuing.crl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
                    let mut buf = vec![];
                    let _ = s.read_to_end(&mut buf);
                    ok += usize::from(Reply::parse(&buf).status == 200);
                }
                ok
            })
        })
        .collect();
    let answered: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let after = rss_kib(pid);
    drop(idle);
    eprintln!(
        "serve RSS: {start} KiB at start, {with_idle} KiB with 1,000 idle connections, {after} KiB after 4,000 downloads"
    );
    assert_eq!(answered, 4000);
    // 1,000 connections at 16 KiB of request buffer each, plus the runtime: well under 64 MiB.
    assert!(after < 64 * 1024 && with_idle < 64 * 1024, "{start} / {with_idle} / {after} KiB");
    let (code, _) = srv.stop();
    assert_eq!(code, Some(0));
}

/// A SIGTERM or SIGHUP sent the moment serve says it is listening is handled (a clean stop,
/// or a reload), never the default action that ends the process at once.
#[test]
fn signals_right_after_listening_are_handled() {
    let env = Env::new();
    env.init_plain();
    for _ in 0..5 {
        let s = Server::start(&env, free_port());
        let (code, log) = s.stop();
        assert_eq!(code, Some(0), "{log:?}");
    }
    let s = Server::start(&env, free_port());
    unsafe { libc::kill(s.child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(s.get("/healthz", &[]).status, 200, "serve ended on SIGHUP");
    let (code, _) = s.stop();
    assert_eq!(code, Some(0));
}
