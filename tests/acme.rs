//! ACME on `pki serve` (RFC 8555), driven by real clients. The same lego and certbot command
//! lines run against Pebble (the reference server, resolving through `pebble-challtestsrv`)
//! and against `pki serve` in one test; instant-acme drives the policy checks, a failed
//! http-01 and a restart between newOrder and finalize. Every certificate is checked with
//! OpenSSL against our root and found in `pki list` and the ledger with its ACME account.

#[path = "common/acme_load.rs"]
mod acme_load;
mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::server::*;
use common::*;

/// The ACME profile the tests serve: names under example.test and loopback addresses.
const PROFILE: &str = r#"
[profiles.acme]
ca = "issuing"
allowed_dns = ["*.example.test"]
allowed_ips = ["127.0.0.0/8"]
max_ttl = "24h"
acme = true
"#;

fn need(tool: &str) {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().unwrap().status.success();
    assert!(found, "{tool} is not installed: .ci/run installs it (apt-get install pebble lego certbot)");
}

fn wait_port(port: u16, what: &str) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A CA directory with the ACME profile, `pki serve` with ACME on HTTPS, and the DNS every
/// test name resolves through (pebble-challtestsrv: every A query is 127.0.0.1).
struct Lab {
    env: Env,
    dns: u16,
    mgmt: u16,
    http01: u16,
    tlsalpn01: u16,
    http: u16,
    https: u16,
    serve: Option<Server>,
    /// More `pki serve` flags.
    extra: Vec<String>,
    _dns: Killed,
}

impl Lab {
    fn new() -> Lab {
        Lab::with("")
    }

    /// With more settings (profiles) after the ACME profile.
    fn with(extra: &str) -> Lab {
        need("pebble-challtestsrv");
        let env = Env::new();
        env.init_plain();
        env.append_settings(&format!("{PROFILE}{extra}"));
        std::fs::copy(env.ca().join("cas/root/cert.pem"), env.path("root.pem")).unwrap();
        let (dns, mgmt) = (free_port(), free_port());
        let child = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns}"), "-management", &format!("127.0.0.1:{mgmt}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let dns_child = Killed(child);
        wait_port(mgmt, "pebble-challtestsrv");
        let mut lab = Lab {
            env,
            dns,
            mgmt,
            http01: free_port(),
            tlsalpn01: free_port(),
            http: free_port(),
            https: free_port(),
            serve: None,
            extra: vec![],
            _dns: dns_child,
        };
        lab.start();
        lab
    }

    fn start(&mut self) {
        let (https, http01, dns) =
            (format!("127.0.0.1:{}", self.https), self.http01.to_string(), format!("127.0.0.1:{}", self.dns));
        let tlsalpn01 = self.tlsalpn01.to_string();
        let mut args: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        args.extend([
            "--https",
            &https,
            "--tls-ca",
            "issuing",
            "--tls-profile",
            "acme",
            "--ca",
            "issuing",
            "--acme-http01-port",
            &http01,
            "--acme-tlsalpn01-port",
            &tlsalpn01,
            "--acme-dns-resolver",
            &dns,
        ]);
        self.serve = Some(Server::start_with(&self.env, self.http, &args));
    }

    fn restart(&mut self) {
        let (code, _) = self.serve.take().unwrap().stop();
        assert_eq!(code, Some(0));
        self.start();
    }

    fn directory(&self) -> String {
        self.directory_of("acme")
    }

    fn directory_of(&self, profile: &str) -> String {
        format!("https://127.0.0.1:{}/acme/{profile}/directory", self.https)
    }

    /// Pebble on a free port, validating on the lab's challenge ports and resolving through
    /// its DNS, with a certificate from the lab's CA; EAB required when keys are given.
    fn pebble(&self, name: &str, eab: &[(&str, &str)]) -> (Killed, String) {
        need("pebble");
        let env = &self.env;
        if !env.path("pebble-tls/fullchain.pem").exists() {
            env.ok(&["issue", "--profile", "acme", "--ip", "127.0.0.1", "--out", "pebble-tls"]);
        }
        let port = free_port();
        let keys: serde_json::Map<String, serde_json::Value> =
            eab.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
        std::fs::write(
            env.path(&format!("{name}.json")),
            serde_json::json!({"pebble": {
                "listenAddress": format!("127.0.0.1:{port}"),
                "managementListenAddress": format!("127.0.0.1:{}", free_port()),
                "certificate": "pebble-tls/fullchain.pem",
                "privateKey": "pebble-tls/key.pem",
                "httpPort": self.http01,
                "tlsPort": self.tlsalpn01,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": !eab.is_empty(),
                "externalAccountMACKeys": keys,
            }})
            .to_string(),
        )
        .unwrap();
        let child = Command::new("pebble")
            .args(["-config", &format!("{name}.json"), "-dnsserver", &format!("127.0.0.1:{}", self.dns)])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .current_dir(env.tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = Killed(child);
        wait_port(port, "pebble");
        (child, format!("https://127.0.0.1:{port}/dir"))
    }

    fn list(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.env.ok(&["list", "--json"])).unwrap()
    }

    fn ledger(&self) -> Vec<serde_json::Value> {
        ledger_chain_intact(&self.env.ca()).1
    }

    fn log(&self) -> String {
        self.serve.as_ref().unwrap().log.lock().unwrap().join("\n")
    }
}

fn sh(cwd: &Path, envs: &[(&str, &str)], cmd: &str) -> (bool, String) {
    let o = Command::new("sh").arg("-c").arg(cmd).current_dir(cwd).envs(envs.iter().copied()).output().unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn serial_of(cert: &Path) -> String {
    let o = openssl(&["x509", "-noout", "-serial", "-in", cert.to_str().unwrap()], cert.parent().unwrap());
    String::from_utf8_lossy(&o.stdout).trim().trim_start_matches("serial=").to_string()
}

/// OpenSSL verifies a leaf under our root with its chain, for serverAuth.
fn openssl_verifies(env: &Env, dir: &Path, leaf: &str, chain: &str) {
    let root = env.path("root.pem");
    let args = [
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-CAfile",
        root.to_str().unwrap(),
        "-untrusted",
        chain,
        leaf,
    ];
    let o = openssl(&args, dir);
    assert!(o.status.success(), "openssl verify {leaf}: {}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
}

fn status_of(lab: &Lab, serial: &str) -> String {
    let l = lab.list();
    let c = l.iter().find(|c| c["serial"] == serial).unwrap_or_else(|| panic!("{serial} not in pki list: {l:?}"));
    c["status"].as_str().unwrap().to_string()
}

/// The ledger's cert-issued record of a serial: its actor is the ACME account.
fn issued_by(lab: &Lab, serial: &str) -> String {
    let rec = lab
        .ledger()
        .into_iter()
        .find(|r| r["event"] == "cert-issued" && r["data"]["serial"] == serial)
        .unwrap_or_else(|| panic!("no cert-issued record for {serial}"));
    rec["actor"].as_str().unwrap().to_string()
}

/// Acceptance 1: lego (run, renew, revoke) and certbot (certonly --standalone, revoke), with
/// the same command lines against Pebble and against `pki serve`.
#[test]
fn lego_and_certbot_same_command_lines_as_against_pebble() {
    for t in ["pebble", "lego", "certbot"] {
        need(t);
    }
    let lab = Lab::new();
    let env = &lab.env;
    // Pebble's HTTPS certificate is from our CA, so one root.pem serves both servers.
    let (_pebble, pebble_url) = lab.pebble("pebble", &[]);
    let servers = [("pebble", pebble_url), ("pki", lab.directory())];
    let h = lab.http01;
    let lego_env = [("LEGO_CA_CERTIFICATES", "root.pem")];
    let certbot_env = [("REQUESTS_CA_BUNDLE", "root.pem")];
    for (name, url) in &servers {
        let lego = format!(
            "lego --server {url} --accept-tos --email ci@example.test -d lego.example.test --http --http.port 127.0.0.1:{h} --path ./lego-{name}"
        );
        let certbot_dirs = format!("--config-dir cb-{name}/config --work-dir cb-{name}/work --logs-dir cb-{name}/logs");
        let steps = [
            ("lego run", format!("{lego} run"), &lego_env),
            ("lego renew", format!("{lego} renew --days 9999 --no-random-sleep"), &lego_env),
            ("lego revoke", format!("{lego} revoke"), &lego_env),
            (
                "certbot certonly",
                format!(
                    "certbot certonly --non-interactive --standalone --server {url} --preferred-challenges http --http-01-port {h} --http-01-address 127.0.0.1 -d certbot.example.test --agree-tos --register-unsafely-without-email {certbot_dirs}"
                ),
                &certbot_env,
            ),
            (
                "certbot revoke",
                format!(
                    "certbot revoke --non-interactive --server {url} --cert-path cb-{name}/config/live/certbot.example.test/cert.pem --no-delete-after-revoke {certbot_dirs}"
                ),
                &certbot_env,
            ),
        ];
        for (what, cmd, envs) in steps {
            let (ok, out) = sh(env.tmp.path(), &envs[..], &cmd);
            assert!(
                ok,
                "{what} against {name} failed:\n{out}\n{}",
                if *name == "pki" { lab.log() } else { String::new() }
            );
            if what == "lego renew" {
                // `lego revoke` archives the files: keep the renewed certificate it revokes.
                let kept = env.path(&format!("lego-{name}-renewed"));
                std::fs::create_dir_all(&kept).unwrap();
                for f in ["lego.example.test.crt", "lego.example.test.issuer.crt"] {
                    std::fs::copy(env.path(&format!("lego-{name}/certificates/{f}")), kept.join(f)).unwrap();
                }
            }
        }
    }
    // What pki issued: verified by OpenSSL, in the inventory with the account in the ledger,
    // revoked by the clients.
    let lego_dir = env.path("lego-pki-renewed");
    openssl_verifies(env, &lego_dir, "lego.example.test.crt", "lego.example.test.issuer.crt");
    let live = env.path("cb-pki/config/live/certbot.example.test");
    openssl_verifies(env, &live, "cert.pem", "chain.pem");
    let lego_serial = serial_of(&lego_dir.join("lego.example.test.crt"));
    let certbot_serial = serial_of(&live.join("cert.pem"));
    let prefix = format!("acme:https://127.0.0.1:{}/acme/acme/acct/", lab.https);
    for s in [&lego_serial, &certbot_serial] {
        assert_eq!(status_of(&lab, s), "revoked", "{s}");
        assert!(issued_by(&lab, s).starts_with(&prefix), "{s}: {}", issued_by(&lab, s));
    }
    let revoked_by: Vec<String> = lab
        .ledger()
        .iter()
        .filter(|r| r["event"] == "cert-revoked")
        .map(|r| r["actor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(revoked_by.len(), 2, "{revoked_by:?}");
    assert!(revoked_by.iter().all(|a| a.starts_with(&prefix)), "{revoked_by:?}");
    // The renewal is another certificate of the same account, also issued through ACME.
    let acme_issued: Vec<serde_json::Value> = lab
        .ledger()
        .into_iter()
        .filter(|r| r["event"] == "cert-issued" && r["actor"].as_str().unwrap().starts_with(&prefix))
        .collect();
    assert_eq!(acme_issued.len(), 3, "lego run, lego renew, certbot: {acme_issued:?}");
    // The next CRL (serve keeps the issuing CA's fresh) lists both revocations.
    let t = Instant::now();
    loop {
        let crl = lab.serve.as_ref().unwrap().get("/crl/issuing.crl", &[]);
        std::fs::write(env.path("issuing.crl"), &crl.body).unwrap();
        let o = openssl(&["crl", "-inform", "DER", "-in", "issuing.crl", "-noout", "-text"], env.tmp.path());
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        if [&lego_serial, &certbot_serial].iter().all(|s| text.contains(s.as_str())) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "the CRL does not list the revocations:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Audit finds nothing wrong beyond the test directory's plain keys.
    let audit = env.run(&["audit", "--deep", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let findings = finding_triples(&report);
    assert!(findings.iter().all(|(_, code, _)| code == "ca-key-unencrypted"), "{findings:?}");
}

/// An http-01 responder on `port` serving what `tokens` holds (404 for anything else).
fn http01_responder(port: u16, tokens: Arc<Mutex<HashMap<String, String>>>) {
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let token = path.strip_prefix("/.well-known/acme-challenge/").unwrap_or("");
            let reply = match tokens.lock().unwrap().get(token) {
                Some(k) => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{k}", k.len()),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
            };
            let _ = s.write_all(reply.as_bytes());
        }
    });
}

/// A CSR (DER) made by OpenSSL for `key` with these SANs and extra `-addext` arguments.
fn csr(dir: &Path, key: &str, sans: &str, extra: &[&str]) -> Vec<u8> {
    if !dir.join(key).exists() {
        let o = openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key], dir);
        assert!(o.status.success());
    }
    let mut args = vec!["req", "-new", "-key", key, "-subj", "/O=Acme", "-outform", "DER", "-out", "csr.der"];
    let san = format!("subjectAltName={sans}");
    args.extend(["-addext", &san]);
    for e in extra {
        args.extend(["-addext", e]);
    }
    let o = openssl(&args, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read(dir.join("csr.der")).unwrap()
}

fn problem_type(e: &instant_acme::Error) -> String {
    match e {
        instant_acme::Error::Api(p) => p.r#type.clone().unwrap_or_default().replace("urn:ietf:params:acme:error:", ""),
        other => format!("not a problem document: {other}"),
    }
}

/// Completes every pending authorization of `order` by http-01 through `tokens`.
async fn authorize(order: &mut instant_acme::Order, tokens: &Arc<Mutex<HashMap<String, String>>>) {
    let mut authzs = order.authorizations();
    while let Some(a) = authzs.next().await {
        let mut a = a.unwrap();
        if a.status != instant_acme::AuthorizationStatus::Pending {
            continue;
        }
        let mut ch = a.challenge(instant_acme::ChallengeType::Http01).unwrap();
        tokens.lock().unwrap().insert(ch.token.clone(), ch.key_authorization().as_str().to_string());
        ch.set_ready().await.unwrap();
    }
}

fn retry() -> instant_acme::RetryPolicy {
    instant_acme::RetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .backoff(1.5)
        .timeout(Duration::from_secs(20))
}

/// Acceptances 2 and 3 with instant-acme (ES256): names outside the profile, CSRs that differ
/// from the order, ask for CA:TRUE, use the account key or a key type the profile refuses, a
/// failed http-01, a restart between newOrder and finalize, revocation by the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_acme_policy_and_restart() {
    use instant_acme::{Account, Identifier, NewAccount, NewOrder, OrderStatus};
    let mut lab = Lab::new();
    let tokens = Arc::new(Mutex::new(HashMap::new()));
    http01_responder(lab.http01, tokens.clone());
    let root = lab.env.path("root.pem");
    let (account, credentials) = Account::builder_with_root(&root)
        .unwrap()
        .create(
            &NewAccount {
                contact: &["mailto:ops@example.test"],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            lab.directory(),
            None,
        )
        .await
        .unwrap();
    let dns = |n: &str| Identifier::Dns(n.to_string());
    // A name outside the profile: refused at newOrder, nothing written.
    let before = lab.list().len();
    let Err(e) = account.new_order(&NewOrder::new(&[dns("svc.other.test")])).await else {
        panic!("an order for a name outside the profile was accepted")
    };
    assert_eq!(problem_type(&e), "rejectedIdentifier", "{e}");
    // A good order, authorized.
    let mut order = account
        .new_order(&NewOrder::new(&[dns("a.example.test"), Identifier::Ip("127.0.0.1".parse().unwrap())]))
        .await
        .unwrap();
    authorize(&mut order, &tokens).await;
    assert_eq!(order.poll_ready(&retry()).await.unwrap(), OrderStatus::Ready);
    let dir = lab.env.tmp.path().to_path_buf();
    // CSRs finalize refuses, each with its problem type and nothing in the inventory.
    let cred: serde_json::Value = serde_json::to_value(&credentials).unwrap();
    let pkcs8 = base64_decode_any(cred["key_pkcs8"].as_str().unwrap());
    std::fs::write(dir.join("account.der"), pkcs8).unwrap();
    assert!(openssl(&["pkey", "-inform", "DER", "-in", "account.der", "-out", "account.pem"], &dir).status.success());
    let p384 = {
        assert!(
            openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384.pem"], &dir)
                .status
                .success()
        );
        csr(&dir, "p384.pem", "DNS:a.example.test,IP:127.0.0.1", &[])
    };
    let refused = [
        ("other names", csr(&dir, "k.pem", "DNS:b.example.test,IP:127.0.0.1", &[]), "badCSR"),
        ("a name fewer", csr(&dir, "k.pem", "DNS:a.example.test", &[]), "badCSR"),
        (
            "CA:TRUE",
            csr(&dir, "k.pem", "DNS:a.example.test,IP:127.0.0.1", &["basicConstraints=critical,CA:TRUE"]),
            "badCSR",
        ),
        ("the account key", csr(&dir, "account.pem", "DNS:a.example.test,IP:127.0.0.1", &[]), "badCSR"),
        ("a P-384 key", p384, "badPublicKey"),
    ];
    for (what, der, want) in refused {
        let e = order.finalize_csr(&der).await.unwrap_err();
        assert_eq!(problem_type(&e), want, "{what}: {e}");
    }
    assert_eq!(lab.list().len(), before, "nothing issued for refused requests");
    // The good CSR.
    order.finalize_csr(&csr(&dir, "k.pem", "DNS:a.example.test,IP:127.0.0.1", &[])).await.unwrap();
    let chain = order.poll_certificate(&retry()).await.unwrap();
    std::fs::create_dir_all(dir.join("a")).unwrap();
    let pems = pem_blocks(&chain);
    assert_eq!(pems.len(), 2, "leaf and issuing CA");
    std::fs::write(dir.join("a/leaf.pem"), &pems[0]).unwrap();
    std::fs::write(dir.join("a/chain.pem"), &pems[1]).unwrap();
    openssl_verifies(&lab.env, &dir.join("a"), "leaf.pem", "chain.pem");
    let serial = serial_of(&dir.join("a/leaf.pem"));
    assert_eq!(status_of(&lab, &serial), "valid");
    assert!(issued_by(&lab, &serial).contains("/acme/acme/acct/"));

    // A failed http-01 (nothing served): the authorization and the order become invalid.
    let mut bad = account.new_order(&NewOrder::new(&[dns("unserved.example.test")])).await.unwrap();
    {
        let mut authzs = bad.authorizations();
        let mut a = authzs.next().await.unwrap().unwrap();
        a.challenge(instant_acme::ChallengeType::Http01).unwrap().set_ready().await.unwrap();
    }
    assert_eq!(bad.poll_ready(&retry()).await.unwrap(), OrderStatus::Invalid);
    {
        let mut authzs = bad.authorizations();
        let a = authzs.next().await.unwrap().unwrap();
        assert_eq!(a.status, instant_acme::AuthorizationStatus::Invalid);
    }

    // Acceptance 3: serve restarts between newOrder and finalize; the client completes.
    let order = account.new_order(&NewOrder::new(&[dns("restart.example.test")])).await.unwrap();
    let url = order.url().to_string();
    lab.restart();
    let mut order = account.order(url).await.unwrap();
    authorize(&mut order, &tokens).await;
    assert_eq!(order.poll_ready(&retry()).await.unwrap(), OrderStatus::Ready);
    order.finalize_csr(&csr(&dir, "k2.pem", "DNS:restart.example.test", &[])).await.unwrap();
    let chain = order.poll_certificate(&retry()).await.unwrap();
    assert!(chain.contains("BEGIN CERTIFICATE"));

    // Revocation by the ordering account shows in pki list.
    let der = pem_ders_of(&pems[0]);
    account
        .revoke(&instant_acme::RevocationRequest {
            certificate: &rustls_pki_types::CertificateDer::from(der.clone()),
            reason: Some(instant_acme::RevocationReason::Superseded),
        })
        .await
        .unwrap();
    assert_eq!(status_of(&lab, &serial), "revoked");
    let e = account
        .revoke(&instant_acme::RevocationRequest {
            certificate: &rustls_pki_types::CertificateDer::from(der),
            reason: None,
        })
        .await
        .unwrap_err();
    assert_eq!(problem_type(&e), "alreadyRevoked");
    // The state survived the restart on disk, 0600.
    let accounts: Vec<PathBuf> =
        std::fs::read_dir(lab.env.ca().join("acme/accounts")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(accounts.len(), 1);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&accounts[0]).unwrap().permissions().mode() & 0o777, 0o600);
}

fn pem_blocks(text: &str) -> Vec<String> {
    text.split_inclusive("-----END CERTIFICATE-----\n").filter(|b| b.contains("BEGIN")).map(str::to_string).collect()
}

fn pem_ders_of(pem_text: &str) -> Vec<u8> {
    pem::parse(pem_text).unwrap().contents().to_vec()
}

/// instant-acme stores the account key as base64 (standard or URL-safe, with or without
/// padding depending on the version).
fn base64_decode_any(s: &str) -> Vec<u8> {
    use base64::Engine;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    e.decode(s.trim_end_matches('=')).or_else(|_| base64::engine::general_purpose::STANDARD.decode(s)).unwrap()
}

/// A JOSE client written here from RFC 8555 and RFC 7515 alone (ring signs, curl carries): it
/// covers the account keys instant-acme and lego do not make (EdDSA, ES384) and sends what no
/// client library would (replayed nonces, wrong URLs, forged signatures).
mod jose {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use ring::signature::{self, KeyPair};
    use serde_json::{Value, json};
    use std::path::PathBuf;
    use std::process::Command;

    pub enum Key {
        Ed25519(signature::Ed25519KeyPair),
        P384(signature::EcdsaKeyPair),
        P256(signature::EcdsaKeyPair),
    }

    pub struct Client {
        pub key: Key,
        pub kid: Option<String>,
        pub nonce: String,
        pub root: PathBuf,
        pub new_nonce: String,
    }

    pub struct Resp {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Resp {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
        }
        pub fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap_or(Value::Null)
        }
        /// The RFC 8555 error type of a problem document.
        pub fn problem(&self) -> String {
            assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text());
            assert!(self.header("replay-nonce").is_some(), "a problem document carries a fresh nonce");
            self.json()["type"].as_str().unwrap_or("").replace("urn:ietf:params:acme:error:", "")
        }
        pub fn text(&self) -> String {
            format!("{} {:?} {}", self.status, self.headers, String::from_utf8_lossy(&self.body))
        }
    }

    /// curl, with the response's status, headers and body.
    pub fn curl(root: &std::path::Path, args: &[&str]) -> Resp {
        let o = Command::new("curl")
            .args(["-sS", "-i", "--http1.1", "--cacert", root.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        super::Reply::parse(&o.stdout).into()
    }

    impl From<super::Reply> for Resp {
        fn from(r: super::Reply) -> Resp {
            Resp { status: r.status, headers: r.headers, body: r.body }
        }
    }

    impl Client {
        pub fn new(key: Key, root: PathBuf, new_nonce: String) -> Client {
            let mut c = Client { key, kid: None, nonce: String::new(), root, new_nonce };
            c.refresh_nonce();
            c
        }

        pub fn refresh_nonce(&mut self) {
            let r = curl(&self.root, &["-I", &self.new_nonce]);
            assert_eq!(r.status, 200, "{}", r.text());
            self.nonce = r.header("replay-nonce").unwrap().to_string();
        }

        pub fn alg(&self) -> &'static str {
            match self.key {
                Key::Ed25519(_) => "EdDSA",
                Key::P384(_) => "ES384",
                Key::P256(_) => "ES256",
            }
        }

        pub fn jwk(&self) -> Value {
            match &self.key {
                Key::Ed25519(k) => json!({"kty": "OKP", "crv": "Ed25519", "x": B64.encode(k.public_key().as_ref())}),
                Key::P384(k) | Key::P256(k) => {
                    let p = k.public_key().as_ref();
                    let (crv, n) = if p.len() == 97 { ("P-384", 48) } else { ("P-256", 32) };
                    json!({"kty": "EC", "crv": crv, "x": B64.encode(&p[1..1 + n]), "y": B64.encode(&p[1 + n..])})
                }
            }
        }

        /// RFC 7638, computed here independently of the server.
        pub fn thumbprint(&self) -> String {
            let j = self.jwk();
            let canonical = match &self.key {
                Key::Ed25519(_) => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, j["x"].as_str().unwrap()),
                Key::P384(_) | Key::P256(_) => format!(
                    r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                    j["crv"].as_str().unwrap(),
                    j["x"].as_str().unwrap(),
                    j["y"].as_str().unwrap()
                ),
            };
            B64.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()))
        }

        fn sign(&self, input: &[u8]) -> Vec<u8> {
            match &self.key {
                Key::Ed25519(k) => k.sign(input).as_ref().to_vec(),
                Key::P384(k) | Key::P256(k) => {
                    k.sign(&ring::rand::SystemRandom::new(), input).unwrap().as_ref().to_vec()
                }
            }
        }

        /// The flattened JWS of `payload` (None: POST-as-GET) for `url`, with `header`
        /// members overriding the usual ones.
        pub fn jws(&self, url: &str, payload: Option<&Value>, header: Value) -> Value {
            let mut h = json!({"alg": self.alg(), "nonce": self.nonce, "url": url});
            match &self.kid {
                Some(k) => h["kid"] = k.clone().into(),
                None => h["jwk"] = self.jwk(),
            }
            for (k, v) in header.as_object().unwrap() {
                if v.is_null() {
                    h.as_object_mut().unwrap().remove(k);
                } else {
                    h[k] = v.clone();
                }
            }
            let protected = B64.encode(h.to_string());
            let payload = payload.map(|p| B64.encode(p.to_string())).unwrap_or_default();
            let sig = self.sign(format!("{protected}.{payload}").as_bytes());
            json!({"protected": protected, "payload": payload, "signature": B64.encode(sig)})
        }

        /// POSTs a body as is, keeping the nonce the answer brings.
        pub fn post_raw(&mut self, url: &str, body: &str, content_type: &str) -> Resp {
            let ct = format!("Content-Type: {content_type}");
            // From a file: a body can be larger than one argument may be.
            let file = self.root.with_file_name("jws-body");
            std::fs::write(&file, body).unwrap();
            let at = format!("@{}", file.display());
            let r = curl(&self.root, &["-X", "POST", "-H", &ct, "--data-binary", &at, url]);
            if let Some(n) = r.header("replay-nonce") {
                self.nonce = n.to_string();
            }
            r
        }

        pub fn post(&mut self, url: &str, payload: Option<&Value>) -> Resp {
            let body = self.jws(url, payload, json!({})).to_string();
            self.post_raw(url, &body, "application/jose+json")
        }
    }
}

/// EdDSA and ES384 accounts through a whole order, and the JWS checks: every refusal a problem
/// document of the RFC 8555 type with a fresh nonce, and nothing changed.
#[test]
fn eddsa_and_es384_accounts_and_refused_requests() {
    use jose::*;
    use serde_json::json;
    need("curl");
    let lab = Lab::new();
    let tokens = Arc::new(Mutex::new(HashMap::new()));
    http01_responder(lab.http01, tokens.clone());
    let root = lab.env.path("root.pem");
    let dir_url = lab.directory();
    let d = curl(&root, &[&dir_url]).json();
    let url = |k: &str| d[k].as_str().unwrap().to_string();
    assert_eq!(url("newNonce"), format!("https://127.0.0.1:{}/acme/acme/new-nonce", lab.https));
    let rng = ring::rand::SystemRandom::new();
    let ed = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let p384 =
        ring::signature::EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
    let keys = [
        ("ed", Key::Ed25519(ring::signature::Ed25519KeyPair::from_pkcs8(ed.as_ref()).unwrap())),
        (
            "p384",
            Key::P384(
                ring::signature::EcdsaKeyPair::from_pkcs8(
                    &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    p384.as_ref(),
                    &rng,
                )
                .unwrap(),
            ),
        ),
    ];
    let dir = lab.env.tmp.path().to_path_buf();
    let mut clients = vec![];
    for (name, key) in keys {
        let mut c = Client::new(key, root.clone(), url("newNonce"));
        let r = c.post(
            &url("newAccount"),
            Some(&json!({"termsOfServiceAgreed": true, "contact": [format!("mailto:{name}@example.test")]})),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        c.kid = Some(r.header("location").unwrap().to_string());
        let host = format!("{name}.example.test");
        let r = c.post(&url("newOrder"), Some(&json!({"identifiers": [{"type": "dns", "value": host}]})));
        assert_eq!(r.status, 201, "{}", r.text());
        let order_url = r.header("location").unwrap().to_string();
        let order = r.json();
        let authz_url = order["authorizations"][0].as_str().unwrap().to_string();
        let authz = c.post(&authz_url, None).json();
        let ch = authz["challenges"].as_array().unwrap().iter().find(|c| c["type"] == "http-01").unwrap().clone();
        let token = ch["token"].as_str().unwrap().to_string();
        tokens.lock().unwrap().insert(token.clone(), format!("{token}.{}", c.thumbprint()));
        let r = c.post(ch["url"].as_str().unwrap(), Some(&json!({})));
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.header("link").unwrap_or("").contains("rel=\"up\""), "{}", r.text());
        let t = Instant::now();
        while c.post(&authz_url, None).json()["status"] != "valid" {
            assert!(t.elapsed() < Duration::from_secs(15), "{name}: never validated: {}", lab.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        let der = csr(&dir, &format!("{name}-leaf.pem"), &format!("DNS:{host}"), &[]);
        let r = c.post(order["finalize"].as_str().unwrap(), Some(&json!({"csr": base64_url(&der)})));
        assert_eq!(r.status, 200, "{}", r.text());
        let order = c.post(&order_url, None).json();
        assert_eq!(order["status"], "valid", "{order}");
        let cert = c.post(order["certificate"].as_str().unwrap(), None);
        assert_eq!(cert.header("content-type"), Some("application/pem-certificate-chain"));
        let pems = pem_blocks(&String::from_utf8_lossy(&cert.body));
        let out = dir.join(name);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("leaf.pem"), &pems[0]).unwrap();
        std::fs::write(out.join("chain.pem"), &pems[1]).unwrap();
        openssl_verifies(&lab.env, &out, "leaf.pem", "chain.pem");
        clients.push(c);
    }
    let (c, other) = {
        let (a, b) = clients.split_at_mut(1);
        (&mut a[0], &mut b[0])
    };
    let new_order = url("newOrder");
    let order_body = json!({"identifiers": [{"type": "dns", "value": "x.example.test"}]});
    // A replayed nonce.
    let body = c.jws(&new_order, Some(&order_body), json!({})).to_string();
    let first = c.post_raw(&new_order, &body, "application/jose+json");
    assert_eq!(first.status, 201, "{}", first.text());
    // The first use created an order; the state is compared from here on.
    let before = common::snapshot(&lab.env.ca());
    let r = c.post_raw(&new_order, &body, "application/jose+json");
    assert_eq!((r.status, r.problem().as_str()), (400, "badNonce"), "{}", r.text());
    // Refusals, each a problem document of its type, each signed with a fresh nonce.
    type Body = Box<dyn Fn(&Client) -> String>;
    let jws = |u: String, p: serde_json::Value, h: serde_json::Value| -> Body {
        Box::new(move |c: &Client| c.jws(&u, Some(&p), h.clone()).to_string())
    };
    let (my_kid, their_kid) = (c.kid.clone().unwrap(), other.kid.clone().unwrap());
    let ids = |v: serde_json::Value| json!({ "identifiers": v });
    let jose_ct = "application/jose+json";
    let cases: Vec<(&str, Body, &str, u16, &str)> = vec![
        (
            "url of another endpoint",
            jws(url("revokeCert"), order_body.clone(), json!({})),
            jose_ct,
            403,
            "unauthorized",
        ),
        (
            "alg none",
            jws(new_order.clone(), order_body.clone(), json!({"alg": "none"})),
            jose_ct,
            400,
            "badSignatureAlgorithm",
        ),
        (
            "HS256",
            jws(new_order.clone(), order_body.clone(), json!({"alg": "HS256"})),
            jose_ct,
            400,
            "badSignatureAlgorithm",
        ),
        (
            "alg of another key",
            jws(new_order.clone(), order_body.clone(), json!({"alg": "ES256"})),
            jose_ct,
            400,
            "badSignatureAlgorithm",
        ),
        ("no nonce", jws(new_order.clone(), order_body.clone(), json!({"nonce": null})), jose_ct, 400, "badNonce"),
        ("jwk and kid", jws(new_order.clone(), order_body.clone(), json!({"jwk": c.jwk()})), jose_ct, 400, "malformed"),
        (
            "unknown account",
            jws(new_order.clone(), order_body.clone(), json!({"kid": format!("{my_kid}x")})),
            jose_ct,
            400,
            "accountDoesNotExist",
        ),
        (
            "another account's kid",
            jws(new_order.clone(), order_body.clone(), json!({"kid": their_kid})),
            jose_ct,
            400,
            "badSignatureAlgorithm",
        ),
        (
            "wrong media type",
            jws(new_order.clone(), order_body.clone(), json!({})),
            "application/json",
            415,
            "malformed",
        ),
        ("not JSON", Box::new(|_: &Client| "{".to_string()), jose_ct, 400, "malformed"),
        (
            "general serialization",
            Box::new(|_: &Client| json!({"payload": "", "signatures": []}).to_string()),
            jose_ct,
            400,
            "malformed",
        ),
        ("a body over 64 KiB", Box::new(|_: &Client| "x".repeat(70_000)), jose_ct, 413, "malformed"),
        (
            "wildcard",
            jws(new_order.clone(), ids(json!([{"type": "dns", "value": "*.example.test"}])), json!({})),
            jose_ct,
            400,
            "rejectedIdentifier",
        ),
        (
            "email identifier",
            jws(new_order.clone(), ids(json!([{"type": "email", "value": "a@example.test"}])), json!({})),
            jose_ct,
            400,
            "unsupportedIdentifier",
        ),
        (
            "name outside allowed_dns",
            jws(new_order.clone(), ids(json!([{"type": "dns", "value": "x.other.test"}])), json!({})),
            jose_ct,
            400,
            "rejectedIdentifier",
        ),
        (
            "IP outside allowed_ips",
            jws(new_order.clone(), ids(json!([{"type": "ip", "value": "10.1.2.3"}])), json!({})),
            jose_ct,
            400,
            "rejectedIdentifier",
        ),
        (
            "notAfter",
            jws(
                new_order.clone(),
                json!({"identifiers": [{"type": "dns", "value": "x.example.test"}], "notAfter": "2030-01-01T00:00:00Z"}),
                json!({}),
            ),
            jose_ct,
            400,
            "malformed",
        ),
    ];
    let many: Vec<serde_json::Value> =
        (0..101).map(|i| json!({"type": "dns", "value": format!("n{i}.example.test")})).collect();
    let mut cases = cases;
    cases.push((
        "101 identifiers",
        jws(new_order.clone(), ids(many.into()), json!({})),
        jose_ct,
        400,
        "rejectedIdentifier",
    ));
    let thousand: Vec<serde_json::Value> =
        (0..1000).map(|i| json!({"type": "dns", "value": format!("n{i}.example.test")})).collect();
    cases.push((
        "1,000 identifiers",
        jws(new_order.clone(), ids(thousand.into()), json!({})),
        jose_ct,
        400,
        "rejectedIdentifier",
    ));
    cases.push((
        "an unknown nonce",
        jws(new_order.clone(), order_body.clone(), json!({"nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})),
        jose_ct,
        400,
        "badNonce",
    ));
    cases.push(("a 1 MB JWS", Box::new(|_: &Client| "x".repeat(1 << 20)), jose_ct, 413, "malformed"));
    cases.push((
        "an empty identifiers list",
        jws(new_order.clone(), ids(json!([])), json!({})),
        jose_ct,
        400,
        "malformed",
    ));
    cases.push((
        "an identifier without a value",
        jws(new_order.clone(), ids(json!([{"type": "dns"}])), json!({})),
        jose_ct,
        400,
        "malformed",
    ));
    cases.push((
        "a payload that is not an object",
        jws(new_order.clone(), json!([1, 2]), json!({})),
        jose_ct,
        400,
        "malformed",
    ));
    for (what, body, ct, status, kind) in cases {
        c.refresh_nonce();
        let r = c.post_raw(&new_order, &body(c), ct);
        assert_eq!((r.status, r.problem()), (status, kind.to_string()), "{what}: {}", r.text());
    }
    // A forged signature.
    c.refresh_nonce();
    let mut forged = c.jws(&new_order, Some(&order_body), json!({}));
    let mut sig = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        forged["signature"].as_str().unwrap(),
    )
    .unwrap();
    sig[0] ^= 1;
    forged["signature"] = base64_url(&sig).into();
    let r = c.post_raw(&new_order, &forged.to_string(), "application/jose+json");
    assert_eq!((r.status, r.problem().as_str()), (400, "malformed"), "{}", r.text());
    // Another account's order is not found for this one.
    c.refresh_nonce();
    let theirs =
        other.post(&url("newOrder"), Some(&json!({"identifiers": [{"type": "dns", "value": "y.example.test"}]})));
    let theirs_url = theirs.header("location").unwrap().to_string();
    let r = c.post(&theirs_url, None);
    assert_eq!((r.status, r.problem().as_str()), (404, "malformed"), "{}", r.text());
    // ACME is not served over plain HTTP, nor for a profile without acme = true.
    let r = lab.serve.as_ref().unwrap().get("/acme/acme/directory", &[]);
    assert_eq!(r.status, 403);
    let r = curl(&root, &[&dir_url.replace("/acme/acme/", "/acme/server/")]);
    assert_eq!((r.status, r.problem().as_str()), (404, "malformed"), "{}", r.text());
    // Nothing the refusals touched changed, except the other account's order.
    let after = common::snapshot(&lab.env.ca());
    let changed: Vec<&String> = after.keys().chain(before.keys()).filter(|k| before.get(*k) != after.get(*k)).collect();
    assert!(changed.iter().all(|k| k.starts_with("acme/orders/") || k.starts_with("acme/authzs/")), "{changed:?}");
    assert_eq!(changed.len(), 2, "the other account's order and its authorization: {changed:?}");
    // Contacts: mailto only, at most 10, one address each.
    let kid = c.kid.clone().unwrap();
    let eleven: Vec<String> = (0..11).map(|i| format!("mailto:a{i}@example.test")).collect();
    for (contact, kind) in [
        (json!(eleven), "invalidContact"),
        (json!(["tel:+15550100"]), "unsupportedContact"),
        (json!(["mailto:a@example.test,b@example.test"]), "invalidContact"),
        (json!(["mailto:a@example.test?subject=x"]), "invalidContact"),
    ] {
        let r = c.post(&kid, Some(&json!({ "contact": contact })));
        assert_eq!((r.status, r.problem()), (400, kind.to_string()), "{contact}: {}", r.text());
    }
    let r = c.post(&kid, Some(&json!({"contact": ["mailto:new@example.test"]})));
    assert_eq!(r.json()["contact"], json!(["mailto:new@example.test"]), "{}", r.text());
    // Finalize before the order is ready.
    let pending =
        other.post(&url("newOrder"), Some(&json!({"identifiers": [{"type": "dns", "value": "early.example.test"}]})));
    let finalize = pending.json()["finalize"].as_str().unwrap().to_string();
    let der = csr(&dir, "early.pem", "DNS:early.example.test", &[]);
    let r = other.post(&finalize, Some(&json!({"csr": base64_url(&der)})));
    assert_eq!((r.status, r.problem().as_str()), (403, "orderNotReady"), "{}", r.text());
    // keyChange to a key another account holds: 409 with that account's URL.
    let key_change = url("keyChange");
    let inner_payload = json!({"account": kid, "oldKey": c.jwk()});
    let inner = other.jws(&key_change, Some(&inner_payload), json!({"nonce": null, "kid": null, "jwk": other.jwk()}));
    let r = c.post(&key_change, Some(&inner));
    assert_eq!((r.status, r.problem().as_str()), (409, "malformed"), "{}", r.text());
    assert_eq!(r.header("location"), other.kid.as_deref(), "{}", r.text());
    // keyChange whose inner JWS is signed by one key and names another.
    let forged_inner =
        c.jws(&key_change, Some(&inner_payload), json!({"nonce": null, "kid": null, "jwk": other.jwk()}));
    let r = c.post(&key_change, Some(&forged_inner));
    assert_eq!((r.status, r.problem().as_str()), (400, "badSignatureAlgorithm"), "{}", r.text());
    // After all of that, a good request is answered.
    let r = c.post(&kid, None);
    assert_eq!(r.status, 200, "{}", r.text());
    // Deactivation: the account is refused afterwards.
    let r = c.post(&kid, Some(&json!({"status": "deactivated"})));
    assert_eq!(r.json()["status"], "deactivated", "{}", r.text());
    let r = c.post(&new_order, Some(&order_body));
    assert_eq!((r.status, r.problem().as_str()), (403, "unauthorized"), "{}", r.text());

    // A challenge answer over 1 KiB is not read past the limit: the authorization is invalid.
    let r = other.post(&url("newOrder"), Some(&json!({"identifiers": [{"type": "dns", "value": "big.example.test"}]})));
    let authz_url = r.json()["authorizations"][0].as_str().unwrap().to_string();
    let authz = other.post(&authz_url, None).json();
    let ch = authz["challenges"][0].clone();
    tokens.lock().unwrap().insert(ch["token"].as_str().unwrap().to_string(), "x".repeat(2000));
    other.post(ch["url"].as_str().unwrap(), Some(&json!({})));
    let t = Instant::now();
    let authz = loop {
        let a = other.post(&authz_url, None).json();
        if a["status"] != "pending" {
            break a;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "never validated");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(authz["status"], "invalid", "{authz}");
    let err = &authz["challenges"][0]["error"];
    assert_eq!(err["type"], "urn:ietf:params:acme:error:connection", "{authz}");
    assert!(err["detail"].as_str().unwrap().contains("over 1024 bytes"), "{authz}");

    // revokeCert signed by the certificate's own key (RFC 8555 section 7.6), after one signed
    // by an unrelated key is refused.
    let leaf_der = pem::parse(std::fs::read(dir.join("ed/leaf.pem")).unwrap()).unwrap().contents().to_vec();
    let serial = serial_of(&dir.join("ed/leaf.pem"));
    let p256 = |file: &str| {
        let der = pem::parse(std::fs::read(dir.join(file)).unwrap()).unwrap().contents().to_vec();
        let k =
            ring::signature::EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng);
        Key::P256(k.unwrap())
    };
    let revoke = json!({"certificate": base64_url(&leaf_der), "reason": 1});
    let mut stranger = Client::new(p256("p384-leaf.pem"), root.clone(), url("newNonce"));
    let r = stranger.post(&url("revokeCert"), Some(&revoke));
    assert_eq!((r.status, r.problem().as_str()), (403, "unauthorized"), "{}", r.text());
    assert_eq!(status_of(&lab, &serial), "valid");
    let mut holder = Client::new(p256("ed-leaf.pem"), root.clone(), url("newNonce"));
    let r = holder.post(&url("revokeCert"), Some(&json!({"certificate": base64_url(&leaf_der), "reason": 7})));
    assert_eq!((r.status, r.problem().as_str()), (400, "badRevocationReason"), "{}", r.text());
    let r = holder.post(&url("revokeCert"), Some(&revoke));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(status_of(&lab, &serial), "revoked");
    let l = lab.list();
    let rec = l.iter().find(|c| c["serial"] == serial.as_str()).unwrap();
    assert_eq!(rec["reason"], "keyCompromise", "{rec}");
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A profile that registers accounts with an External Account Binding only, and allows
/// wildcard names (validated by dns-01 only).
const EAB_PROFILE: &str = r#"
[profiles.wild]
ca = "issuing"
allowed_dns = ["**.example.test"]
allow_wildcards = true
max_ttl = "24h"
acme = true
acme_eab = true
"#;

/// The HMAC keys Pebble is configured with (base64url, as its example configuration has them).
const PEBBLE_EAB: [(&str, &str); 2] = [
    ("kid-1", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"),
    ("kid-2", "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH"),
];

/// Issue 24, acceptance 1: lego --tls (tls-alpn-01), lego --dns exec (dns-01, through a hook
/// that sets the TXT record in pebble-challtestsrv), lego --eab with a wildcard name, certbot
/// --eab-kid --eab-hmac-key, and a registration without the binding refused with
/// externalAccountRequired: the same command lines against Pebble and against pki serve.
#[test]
fn tls_alpn_dns_and_eab_same_command_lines_as_against_pebble() {
    for t in ["lego", "certbot", "curl"] {
        need(t);
    }
    let lab = Lab::with(EAB_PROFILE);
    let env = &lab.env;
    let hook = env.path("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nset -e\ncase \"$1\" in\n  present) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" http://127.0.0.1:{m}/set-txt ;;\n  cleanup) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\"}}\" http://127.0.0.1:{m}/clear-txt ;;\nesac\n",
            m = lab.mgmt
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (_p1, pebble) = lab.pebble("pebble", &[]);
    let (_p2, pebble_eab) = lab.pebble("pebble-eab", &PEBBLE_EAB);
    let pki_keys: Vec<(String, String)> = ["kid-1", "kid-2"]
        .iter()
        .map(|k| (k.to_string(), env.ok(&["acme", "eab", "add", "--directory", "wild", "--kid", k]).trim().to_string()))
        .collect();
    let pebble_keys: Vec<(String, String)> = PEBBLE_EAB.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let servers =
        [("pebble", pebble, pebble_eab, pebble_keys), ("pki", lab.directory(), lab.directory_of("wild"), pki_keys)];
    let (t, h, dns) = (lab.tlsalpn01, lab.http01, lab.dns);
    for (name, url, eab_url, keys) in &servers {
        let lego = |server: &str, path: &str| {
            format!("lego --server {server} --accept-tos --email ci@example.test --path ./{path}-{name}")
        };
        let dns_exec = format!("--dns exec --dns.resolvers 127.0.0.1:{dns} --dns.disable-cp");
        let certbot_dirs = format!("--config-dir cb-{name}/config --work-dir cb-{name}/work --logs-dir cb-{name}/logs");
        let steps: Vec<(&str, String, bool)> = vec![
            (
                "lego --tls",
                format!("{} -d tls.example.test --tls --tls.port 127.0.0.1:{t} run", lego(url, "lego-tls")),
                true,
            ),
            ("lego --dns exec", format!("{} -d dns.example.test {dns_exec} run", lego(url, "lego-dns")), true),
            (
                "lego without EAB",
                format!("{} -d noeab.wild.example.test {dns_exec} run", lego(eab_url, "lego-noeab")),
                false,
            ),
            (
                "lego --eab (wildcard by dns-01)",
                format!(
                    "{} --eab --kid {} --hmac {} -d '*.wild.example.test' {dns_exec} run",
                    lego(eab_url, "lego-eab"),
                    keys[0].0,
                    keys[0].1
                ),
                true,
            ),
            (
                "certbot --eab",
                format!(
                    "certbot certonly --non-interactive --standalone --server {eab_url} --preferred-challenges http --http-01-port {h} --http-01-address 127.0.0.1 -d certbot.wild.example.test --agree-tos --register-unsafely-without-email --eab-kid {} --eab-hmac-key {} {certbot_dirs}",
                    keys[1].0, keys[1].1
                ),
                true,
            ),
        ];
        for (what, cmd, should) in steps {
            let (ok, out) = sh(
                env.tmp.path(),
                &[("LEGO_CA_CERTIFICATES", "root.pem"), ("REQUESTS_CA_BUNDLE", "root.pem"), ("EXEC_PATH", "./hook.sh")],
                &cmd,
            );
            let log = if *name == "pki" { lab.log() } else { String::new() };
            assert_eq!(ok, should, "{what} against {name}:\n{out}\n{log}");
            if !should {
                // lego reads the directory's meta.externalAccountRequired and stops itself.
                assert!(out.contains("requires External Account Binding"), "{what} against {name}:\n{out}");
            }
        }
    }
    // What pki issued: the names asked for, verified by OpenSSL, in the inventory.
    for (dir, file, chain, name) in [
        ("lego-tls-pki/certificates", "tls.example.test.crt", "tls.example.test.issuer.crt", "tls.example.test"),
        ("lego-dns-pki/certificates", "dns.example.test.crt", "dns.example.test.issuer.crt", "dns.example.test"),
        (
            "lego-eab-pki/certificates",
            "_.wild.example.test.crt",
            "_.wild.example.test.issuer.crt",
            "*.wild.example.test",
        ),
        ("cb-pki/config/live/certbot.wild.example.test", "cert.pem", "chain.pem", "certbot.wild.example.test"),
    ] {
        let d = env.path(dir);
        openssl_verifies(env, &d, file, chain);
        let serial = serial_of(&d.join(file));
        let l = lab.list();
        let rec = l.iter().find(|c| c["serial"] == serial.as_str()).unwrap_or_else(|| panic!("{serial} not listed"));
        assert_eq!(rec["sans"], serde_json::json!([format!("DNS:{name}")]), "{rec}");
    }
    // Each key bound one account, recorded in the ledger; used again, it is refused.
    let keys: Vec<serde_json::Value> = serde_json::from_str(&env.ok(&["acme", "eab", "list", "--json"])).unwrap();
    assert!(keys.iter().all(|k| k["account"].as_str().is_some_and(|a| a.contains("/acme/wild/acct/"))), "{keys:?}");
    let bound = lab.ledger().iter().filter(|r| r["event"] == "acme-eab-bound").count();
    assert_eq!(bound, 2);
    assert!(
        !lab.ledger().iter().any(|r| r.to_string().contains(&servers[1].3[0].1)),
        "the HMAC key is never in the ledger"
    );
    let (ok, out) = sh(
        env.tmp.path(),
        &[("LEGO_CA_CERTIFICATES", "root.pem"), ("EXEC_PATH", "./hook.sh")],
        &format!(
            "lego --server {} --accept-tos --email again@example.test --path ./lego-again --eab --kid kid-1 --hmac {} -d again.wild.example.test --dns exec --dns.resolvers 127.0.0.1:{dns} --dns.disable-cp run",
            lab.directory_of("wild"),
            servers[1].3[0].1
        ),
    );
    assert!(!ok && out.contains("already registered an account"), "{out}");
}

/// Issue 24, acceptance 1: key rollover with instant-acme, against Pebble and pki serve: the
/// account keeps working with the new key and is no longer found with the old one. A
/// registration without a binding where one is required is `externalAccountRequired` from both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_acme_key_rollover_against_pebble_and_pki() {
    use instant_acme::{Account, Identifier, Key, NewAccount, NewOrder};
    let lab = Lab::with(EAB_PROFILE);
    let (_p, pebble) = lab.pebble("pebble", &[]);
    let (_pe, pebble_eab) = lab.pebble("pebble-eab", &PEBBLE_EAB);
    let root = lab.env.path("root.pem");
    for url in [pebble_eab, lab.directory_of("wild")] {
        let new = NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
        let Err(e) = Account::builder_with_root(&root).unwrap().create(&new, url.clone(), None).await else {
            panic!("{url}: registered without a binding")
        };
        assert_eq!(problem_type(&e), "externalAccountRequired", "{url}: {e}");
    }
    for url in [pebble, lab.directory()] {
        let new = NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
        let (mut account, old) =
            Account::builder_with_root(&root).unwrap().create(&new, url.clone(), None).await.unwrap();
        let id = account.id().to_string();
        let _new_credentials = account.update_key().await.unwrap();
        assert_eq!(account.id(), id);
        account.new_order(&NewOrder::new(&[Identifier::Dns("rolled.example.test".into())])).await.unwrap();
        // The old key finds no account any more.
        let old: serde_json::Value = serde_json::to_value(&old).unwrap();
        let pkcs8 = base64_decode_any(old["key_pkcs8"].as_str().unwrap());
        let key = Key::from_pkcs8_der(rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.clone())).unwrap();
        let der = rustls_pki_types::PrivateKeyDer::Pkcs8(pkcs8.into());
        let found = Account::builder_with_root(&root).unwrap().from_key((key, der), url.clone()).await;
        match found {
            Err(e) => assert_eq!(problem_type(&e), "accountDoesNotExist", "{url}: {e}"),
            Ok(_) => panic!("{url}: the old key still finds the account"),
        }
    }
}

/// A profile of one-minute certificates, so a renewal window comes within the test.
const SHORT_PROFILE: &str = r#"
[profiles.short]
ca = "issuing"
allowed_dns = ["*.example.test"]
default_ttl = "1m"
max_ttl = "1m"
acme = true
"#;

/// Issue 24, acceptance 2: ACME Renewal Information with instant-acme. The window lies in the
/// certificate's last third; the client waits for it, renews with `replaces`, and the renewal
/// is linked to the certificate it replaces in `pki list --json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ari_renewal_inside_the_window_is_linked_in_the_inventory() {
    use instant_acme::{Account, CertificateIdentifier, Identifier, NewAccount, NewOrder, OrderStatus};
    let lab = Lab::with(SHORT_PROFILE);
    let tokens = Arc::new(Mutex::new(HashMap::new()));
    http01_responder(lab.http01, tokens.clone());
    let root = lab.env.path("root.pem");
    let new = NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
    let (account, _) =
        Account::builder_with_root(&root).unwrap().create(&new, lab.directory_of("short"), None).await.unwrap();
    let dir = lab.env.tmp.path().to_path_buf();
    let ids = [Identifier::Dns("ari.example.test".into())];
    let issue = |order: instant_acme::NewOrder<'static>| {
        let (account, tokens, dir) = (&account, tokens.clone(), dir.clone());
        async move {
            let mut order = account.new_order(&order).await.unwrap();
            authorize(&mut order, &tokens).await;
            assert_eq!(order.poll_ready(&retry()).await.unwrap(), OrderStatus::Ready);
            order.finalize_csr(&csr(&dir, "ari.pem", "DNS:ari.example.test", &[])).await.unwrap();
            order.poll_certificate(&retry()).await.unwrap()
        }
    };
    let ids: &'static [Identifier] = Box::leak(Box::new(ids));
    let first = issue(NewOrder::new(ids)).await;
    let der = pem_ders_of(&pem_blocks(&first)[0]);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(k) => {
                k.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .unwrap();
    let id = CertificateIdentifier::new(aki.as_slice().into(), cert.raw_serial().into()).into_owned();
    let (info, retry_after) = account.renewal_info(&id).await.unwrap();
    let (nb, na) = (cert.validity().not_before.to_datetime(), cert.validity().not_after.to_datetime());
    let w = info.suggested_window;
    assert!(nb < w.start && w.start < w.end && w.end < na, "window {w:?} inside [{nb}, {na}]");
    assert!(retry_after <= Duration::from_secs(60), "{retry_after:?}");
    // Renew inside the window, as a client following ARI does.
    let wait = (w.start - time::OffsetDateTime::now_utc()).whole_milliseconds().max(0) as u64 + 500;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    assert!(time::OffsetDateTime::now_utc() < w.end, "the test slept past the window");
    let second = issue(NewOrder::new(ids).replaces(id.clone())).await;
    let old = serial_of_pem(&dir, &first);
    let new = serial_of_pem(&dir, &second);
    let l = lab.list();
    let rec = |s: &str| l.iter().find(|c| c["serial"] == s).unwrap_or_else(|| panic!("{s} not listed")).clone();
    assert_eq!(rec(&old)["status"], "superseded", "{}", rec(&old));
    assert_eq!(rec(&old)["replaced_by"], new.as_str(), "{}", rec(&old));
    assert!(lab.ledger().iter().any(|r| r["event"] == "cert-issued"
        && r["data"]["serial"] == new.as_str()
        && r["data"]["renews"] == old.as_str()));
    // Replacing it again is refused: it has been renewed.
    let Err(e) = account.new_order(&NewOrder::new(ids).replaces(id)).await else { panic!("replaced twice") };
    assert_eq!(problem_type(&e), "alreadyReplaced", "{e}");
}

fn serial_of_pem(dir: &Path, chain: &str) -> String {
    let f = dir.join("serial-probe.pem");
    std::fs::write(&f, &pem_blocks(chain)[0]).unwrap();
    serial_of(&f)
}

/// Issue 24, acceptance 3: `serve` killed with SIGKILL while eight clients place orders leaves
/// a directory `pki audit --deep` finds clean, and every certificate a client received is in
/// the inventory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_a_load_of_orders_leaves_a_clean_directory() {
    let mut lab = Lab::new();
    let tokens = acme_load::Tokens::default();
    acme_load::responder(lab.http01, tokens.clone()).await.unwrap();
    let (url, root) = (lab.directory(), lab.env.path("root.pem"));
    let load =
        tokio::spawn(
            async move { acme_load::run(&url, &root, 8, 1000, "kill", tokens, Duration::from_secs(60)).await },
        );
    // Let orders complete, then kill serve in the middle of whatever it is doing.
    let t = Instant::now();
    while lab.list().len() < 25 {
        assert!(t.elapsed() < Duration::from_secs(60), "no ACME certificates issued: {}", lab.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut serve = lab.serve.take().unwrap();
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    let out = load.await.unwrap();
    assert!(
        !out.chains.is_empty() && !out.errors.is_empty(),
        "{} certificates, {} errors",
        out.chains.len(),
        out.errors.len()
    );
    let listed: std::collections::HashSet<String> =
        lab.list().iter().map(|c| c["serial"].as_str().unwrap().to_string()).collect();
    let dir = lab.env.tmp.path().to_path_buf();
    for chain in &out.chains {
        let serial = serial_of_pem(&dir, chain);
        assert!(listed.contains(&serial), "certificate {serial} was received but is not in the inventory");
    }
    // A change the kill cut short is at most reported (info) until the next change finishes
    // it, as after any crash; nothing else is wrong.
    let findings = |lab: &Lab| {
        let audit = lab.env.run(&["audit", "--deep", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
        finding_triples(&report)
    };
    let f = findings(&lab);
    assert!(
        f.iter().all(|(_, code, _)| ["ca-key-unencrypted", "change-interrupted"].contains(&code.as_str())),
        "{f:?}"
    );
    // serve starts again on that directory; the next change (a CRL) completes any cut short.
    lab.start();
    lab.env.ok(&["gen-crl", "--ca", "issuing"]);
    let f = findings(&lab);
    assert!(f.iter().all(|(_, code, _)| code == "ca-key-unencrypted"), "{f:?}");
}

/// Issue 24: an account's orders list, deactivating an authorization (its order becomes
/// invalid), and the per-account limits: 1,000 pending authorizations, 300 new orders an hour,
/// each `rateLimited` (429) with a Retry-After, and another account unaffected.
#[test]
fn orders_list_authz_deactivation_and_rate_limits() {
    use jose::*;
    use serde_json::json;
    need("curl");
    let lab = Lab::new();
    let root = lab.env.path("root.pem");
    let d = curl(&root, &[&lab.directory()]).json();
    let url = |k: &str| d[k].as_str().unwrap().to_string();
    let rng = ring::rand::SystemRandom::new();
    let account = |name: &str| {
        let k = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let mut c = Client::new(
            Key::Ed25519(ring::signature::Ed25519KeyPair::from_pkcs8(k.as_ref()).unwrap()),
            root.clone(),
            url("newNonce"),
        );
        let r = c.post(
            &url("newAccount"),
            Some(&json!({"termsOfServiceAgreed": true, "contact": [format!("mailto:{name}@example.test")]})),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        c.kid = Some(r.header("location").unwrap().to_string());
        c
    };
    let mut a = account("a");
    let order = |c: &mut Client, names: &[String]| {
        let ids: Vec<serde_json::Value> = names.iter().map(|n| json!({"type": "dns", "value": n})).collect();
        c.post(&url("newOrder"), Some(&json!({ "identifiers": ids })))
    };
    let r = order(&mut a, &["one.example.test".to_string()]);
    assert_eq!(r.status, 201, "{}", r.text());
    let first = r.header("location").unwrap().to_string();
    let authz_url = r.json()["authorizations"][0].as_str().unwrap().to_string();
    // The orders list has it.
    let kid = a.kid.clone().unwrap();
    let orders_url = a.post(&kid, None).json()["orders"].as_str().unwrap().to_string();
    let list = a.post(&orders_url, None).json();
    assert_eq!(list["orders"], json!([first]), "{list}");
    // Deactivating the authorization invalidates the order.
    let r = a.post(&authz_url, Some(&json!({"status": "deactivated"})));
    assert_eq!(r.json()["status"], "deactivated", "{}", r.text());
    assert_eq!(a.post(&first, None).json()["status"], "invalid");
    let r = a.post(&authz_url, Some(&json!({"status": "deactivated"})));
    assert_eq!((r.status, r.problem().as_str()), (400, "malformed"), "{}", r.text());
    // 1,000 pending authorizations: ten orders of 100 names; the eleventh order is refused.
    for i in 0..10 {
        let names: Vec<String> = (0..100).map(|j| format!("p{i}-{j}.example.test")).collect();
        let r = order(&mut a, &names);
        assert_eq!(r.status, 201, "order {i}: {}", r.text());
    }
    let r = order(&mut a, &["more.example.test".to_string()]);
    assert_eq!((r.status, r.problem().as_str()), (429, "rateLimited"), "{}", r.text());
    assert!(r.header("retry-after").is_some(), "{}", r.text());
    // 300 new orders an hour: another account places 300, the 301st is refused.
    let mut b = account("b");
    for i in 0..300 {
        let r = order(&mut b, &[format!("o{i}.example.test")]);
        assert_eq!(r.status, 201, "order {i}: {}", r.text());
    }
    let r = order(&mut b, &["o300.example.test".to_string()]);
    assert_eq!((r.status, r.problem().as_str()), (429, "rateLimited"), "{}", r.text());
    assert!(r.json()["detail"].as_str().unwrap().contains("300 new orders"), "{}", r.text());
    // A third account is not limited by theirs.
    let mut c = account("c");
    let r = order(&mut c, &["c.example.test".to_string()]);
    assert_eq!(r.status, 201, "{}", r.text());
}

/// Behind a proxy (`--acme-base-url`): the directory hands out the external URLs, and a JWS
/// whose `url` is the address serve was reached at directly is refused.
#[test]
fn behind_a_proxy_urls_are_the_configured_base() {
    use jose::*;
    use serde_json::json;
    need("curl");
    let mut lab = Lab::new();
    let base = format!("https://ca.example.test:{}", lab.https);
    lab.extra = vec!["--acme-base-url".into(), base.clone()];
    lab.restart();
    let root = lab.env.path("root.pem");
    let d = curl(&root, &[&lab.directory()]).json();
    assert_eq!(d["newAccount"], format!("{base}/acme/acme/new-account"), "{d}");
    let direct_nonce = lab.directory().replace("/directory", "/new-nonce");
    let k = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let mut c =
        Client::new(Key::Ed25519(ring::signature::Ed25519KeyPair::from_pkcs8(k.as_ref()).unwrap()), root, direct_nonce);
    let direct = lab.directory().replace("/directory", "/new-account");
    let r = c.post(&direct, Some(&json!({"termsOfServiceAgreed": true})));
    assert_eq!((r.status, r.problem().as_str()), (403, "unauthorized"), "{}", r.text());
    assert!(r.json()["detail"].as_str().unwrap().contains(&base), "{}", r.text());
    // Signed for the external URL (as a client behind the proxy would), it is accepted.
    let body = c
        .jws(&format!("{base}/acme/acme/new-account"), Some(&json!({"termsOfServiceAgreed": true})), json!({}))
        .to_string();
    let r = c.post_raw(&direct, &body, "application/jose+json");
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.header("location").unwrap().starts_with(&base), "{}", r.text());
}

/// A SPIFFE profile cannot be an ACME directory (no ACME identifier type for a SPIFFE ID), nor
/// can a profile require EAB without being one: every command that reads the settings says so
/// in one line naming the setting, and nothing is recorded.
#[test]
fn spiffe_profiles_are_not_offered_over_acme() {
    let env = Env::new();
    env.init_plain();
    let p = env.ca().join("pki.toml");
    let original = std::fs::read_to_string(&p).unwrap();
    for (extra, want) in [
        (
            "\n[profiles.svid]\nca = \"issuing\"\nspiffe = true\nallowed_uris = [\"spiffe://acme.internal/**\"]\nacme = true\n",
            "[profiles.svid] acme: a SPIFFE profile is not offered over ACME",
        ),
        (
            "\n[profiles.eab]\nca = \"issuing\"\nacme_eab = true\n",
            "[profiles.eab] acme_eab: acme_eab needs acme = true",
        ),
    ] {
        std::fs::write(&p, format!("{original}{extra}")).unwrap();
        let before = std::fs::read_to_string(env.ca().join("ledger.jsonl")).unwrap();
        let o = env.run(&["profiles"]);
        assert!(!o.status.success());
        let line = assert_one_line_error(&o);
        assert!(line.contains(want), "{line}");
        assert_eq!(std::fs::read_to_string(env.ca().join("ledger.jsonl")).unwrap(), before);
    }
}

/// `serve --check` names the ACME directories it would serve, or says why it would not.
#[test]
fn serve_check_names_the_acme_directories() {
    let env = Env::new();
    env.init_plain();
    env.append_settings(PROFILE);
    let o = env.run(&["serve", "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("profiles with acme = true (acme) are not served without --https"), "{}", stderr(&o));
    let https = format!("127.0.0.1:{}", free_port());
    let o = env.run(&["serve", "--check", "--https", &https, "--tls-ca", "issuing", "--tls-profile", "acme"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("ACME at https://{https}/acme/acme/directory")), "{}", stderr(&o));
}
