//! Attested issuance, end to end: a test OIDC issuer on loopback (tests/interop/oidc_issuer.py:
//! discovery, JWKS with RS256 and ES256 keys, GitHub's token service, tokens shaped like
//! GitHub's and GitLab's) and `pki serve` with `[attest.*]` policies, driven by the real
//! `pki attest` client and by raw requests. Every refusal is asserted by its rule, with the
//! directory unchanged.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::server::{Server, free_port};
use common::{Env, openssl, openssl_p256_csr, openssl_verify, snapshot, stderr, webpki_verify};
use serde_json::{Value, json};

/// The test issuer, killed when dropped.
struct Issuer {
    child: Child,
    url: String,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn no_roots() -> Arc<rustls::RootCertStore> {
    Arc::new(rustls::RootCertStore::empty())
}

impl Issuer {
    fn start() -> Issuer {
        Issuer::start_with(&[])
    }

    fn start_with(args: &[&str]) -> Issuer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/oidc_issuer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the test issuer (.ci/run installs python3-cryptography)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("issuer said {line:?}: {e}"));
        Issuer { child, url: v["issuer"].as_str().unwrap().to_string() }
    }

    fn post(&self, path: &str, body: Value) -> Vec<u8> {
        let a = pki_serve::client::request_blocking(
            "POST",
            &format!("{}{path}", self.url),
            &[("content-type", "application/json".into())],
            body.to_string().into_bytes(),
            &no_roots(),
            1 << 20,
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(a.status, 200, "{path}: {}", String::from_utf8_lossy(&a.body));
        a.body
    }

    /// A token: GitHub-shaped claims for aud https://pki.test, changed by `req`.
    fn mint(&self, req: Value) -> String {
        let mut r = req;
        if r.get("aud").is_none() {
            r["aud"] = "https://pki.test".into();
        }
        String::from_utf8(self.post("/mint", r)).unwrap()
    }

    fn control(&self, v: Value) {
        self.post("/control", v);
    }

    fn fetches(&self) -> u64 {
        let a = pki_serve::client::request_blocking(
            "GET",
            &format!("{}/stats", self.url),
            &[],
            vec![],
            &no_roots(),
            1 << 16,
            Duration::from_secs(10),
        )
        .unwrap();
        serde_json::from_slice::<Value>(&a.body).unwrap()["jwks_fetches"].as_u64().unwrap()
    }
}

/// A CA directory with a `ci` SVID profile and two policies (GitHub-shaped RS256, GitLab-shaped
/// ES256) for the issuer, and serve on HTTPS.
struct Lab {
    env: Env,
    issuer: Issuer,
    http: u16,
    https: u16,
    serve: Option<Server>,
}

fn settings(issuer: &str) -> String {
    format!(
        r#"
[profiles.ci]
ca = "issuing"
default_ttl = "1h"
max_ttl = "2h"
key_types = ["p256", "ed25519"]
ext_key_usage = ["clientAuth"]
spiffe = true
allowed_uris = ["spiffe://acme.internal/ci/**"]

[profiles.serve]
ca = "issuing"
default_ttl = "24h"
max_ttl = "48h"
ext_key_usage = ["serverAuth"]
allowed_ips = ["127.0.0.1/32"]

[attest.github]
profile = "ci"
issuer = "{issuer}"
audience = "https://pki.test"
spiffe_id = "spiffe://acme.internal/ci/github/{{repository}}/{{ref}}"
claims = {{ repository_owner_id = "7890", ref = ["refs/heads/main", "refs/heads/release"] }}
record = ["repository", "workflow", "run_id", "sha"]
ttl = "30m"
jwks_min_refetch = "2s"
insecure_loopback_issuer = true

[attest.gitlab]
profile = "ci"
issuer = "{issuer}"
audience = "https://pki.test"
algorithms = ["ES256"]
spiffe_id = "spiffe://acme.internal/ci/gitlab/{{namespace_id}}/{{project_id}}"
claims = {{ project_id = "42" }}
record = ["project_path", "pipeline_id", "ci_config_ref_uri"]
jwks_min_refetch = "2s"
insecure_loopback_issuer = true
"#
    )
}

impl Lab {
    fn new() -> Lab {
        let env = Env::new();
        env.init_plain();
        let issuer = Issuer::start();
        env.append_settings(&settings(&issuer.url));
        env.ok(&["export", "--root", "--out", "root.pem"]);
        let mut lab = Lab { env, issuer, http: free_port(), https: free_port(), serve: None };
        lab.start();
        lab
    }

    fn start(&mut self) {
        let https = format!("127.0.0.1:{}", self.https);
        self.serve = Some(Server::start_with(
            &self.env,
            self.http,
            &["--https", &https, "--tls-ca", "issuing", "--tls-profile", "serve"],
        ));
    }

    fn restart(&mut self) {
        let (code, _) = self.serve.take().unwrap().stop();
        assert_eq!(code, Some(0));
        self.start();
    }

    fn server(&self) -> String {
        format!("https://127.0.0.1:{}", self.https)
    }

    /// POST /attest/POLICY with a token and a body; (status, content type, body).
    fn post(&self, policy: &str, token: &str, body: &[u8], accept: &str) -> (u16, String, Vec<u8>) {
        let roots = pki_serve::client::roots(Some(&self.env.path("root.pem"))).unwrap();
        let a = pki_serve::client::request_blocking(
            "POST",
            &format!("{}/attest/{policy}", self.server()),
            &[("authorization", format!("Bearer {token}")), ("accept", accept.into())],
            body.to_vec(),
            &roots,
            1 << 20,
            Duration::from_secs(20),
        )
        .unwrap();
        (a.status, a.content_type.unwrap_or_default(), a.body)
    }

    fn csr(&self) -> Vec<u8> {
        if !self.env.path("plain.csr").exists() {
            openssl_p256_csr(self.env.tmp.path(), "plain.key", "job", "plain.csr", &[]);
        }
        std::fs::read(self.env.path("plain.csr")).unwrap()
    }

    fn readyz(&self) -> (u16, Value) {
        let r = self.serve.as_ref().unwrap().get("/readyz", &[]);
        (r.status, serde_json::from_slice(&r.body).unwrap())
    }

    /// `pki attest` with the extra arguments and environment.
    fn attest(&self, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
        let server = self.server();
        let mut c = self.env.pki();
        c.args(["attest", "--server", &server, "--ca-file", "root.pem"]).args(args);
        c.env_remove("PKI_DIR");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

fn problem_rule(body: &[u8]) -> String {
    let v: Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["type"].as_str().unwrap().trim_start_matches("urn:pki:attest:").to_string()
}

fn ledger(env: &Env) -> Vec<Value> {
    std::fs::read_to_string(env.ca().join("ledger.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn good_tokens_give_svids_that_openssl_webpki_and_inspect_accept() {
    let lab = Lab::new();
    // 1. The GitHub path, as a workflow runs it: the runner's token service on loopback.
    let gh = format!("{}/github?api-version=2.0", lab.issuer.url);
    let o = lab.attest(
        &["--policy", "github", "--github", "--audience", "https://pki.test", "--out", "svid"],
        &[("ACTIONS_ID_TOKEN_REQUEST_URL", &gh), ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let id = "spiffe://acme.internal/ci/github/octo-org/octo-app/refs/heads/main";
    assert!(stderr(&o).contains(id), "{}", stderr(&o));
    let d = lab.env.path("svid");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(d.join("key.pem")).unwrap().permissions().mode() & 0o777, 0o600);
    let v = openssl_verify(lab.env.tmp.path(), "svid", "sslclient");
    assert!(v.status.success(), "openssl: {}", String::from_utf8_lossy(&v.stderr));
    webpki_verify(&d, webpki::KeyUsage::client_auth()).expect("rustls-webpki accepts the SVID");
    // The key in key.pem is the certificate's (the CSR was signed by it).
    let a = openssl(&["x509", "-in", "svid/cert.pem", "-noout", "-pubkey"], lab.env.tmp.path());
    let b = openssl(&["pkey", "-in", "svid/key.pem", "-pubout"], lab.env.tmp.path());
    assert_eq!(a.stdout, b.stdout);
    let inspect = lab.env.ok(&["inspect", "svid/cert.pem"]);
    assert!(inspect.contains(&format!("valid X.509-SVID for {id}")), "{inspect}");
    // Lifetime: the policy's 30m, under the profile's 2h.
    let j: Value = serde_json::from_str(&lab.env.ok(&["inspect", "svid/cert.pem", "--json"])).unwrap();
    let serial = j["serial"].as_str().unwrap().to_string();
    let nb =
        time::OffsetDateTime::parse(j["not_before"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let na =
        time::OffsetDateTime::parse(j["not_after"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!((na - nb).whole_minutes() <= 31, "{nb} .. {na}");
    // 2. The ledger answers "which job got this identity".
    let rec = ledger(&lab.env).into_iter().rfind(|r| r["event"] == "cert-issued").unwrap();
    assert_eq!(rec["actor"], "attest:github");
    assert_eq!(rec["data"]["serial"], serial.as_str());
    assert_eq!(rec["ci"]["iss"], lab.issuer.url.as_str());
    assert_eq!(rec["ci"]["sub"], "repo:octo-org/octo-app:ref:refs/heads/main");
    assert_eq!(rec["ci"]["repository"], "octo-org/octo-app");
    assert_eq!(rec["ci"]["run_id"], "4242");
    assert_eq!(rec["ci"]["workflow"], "ci");
    assert!(rec["ci"]["jti"].as_str().is_some_and(|j| j.len() == 36));
    let hist = lab.env.ok(&["inspect", &serial, "--history"]);
    assert!(hist.contains("cert-issued    by attest:github [iss="), "{hist}");
    assert!(hist.contains("repository=octo-org/octo-app") && hist.contains("run_id=4242"), "{hist}");
    let list = lab.env.ok(&["list", "--json"]);
    assert!(list.contains(id), "{list}");
    // 3. GitLab-shaped, ES256, from a variable, printed (--out - --json).
    let gl = lab.issuer.mint(json!({
        "alg": "ES256", "kid": "es1",
        "claims": {"sub": "project_path:grp/app:ref_type:branch:ref:main", "namespace_id": "7", "project_id": "42",
                   "project_path": "grp/app", "pipeline_id": "99", "ci_config_ref_uri": "gitlab.test/grp/app//.gitlab-ci.yml@refs/heads/main"}
    }));
    let o = lab.attest(
        &["--policy", "gitlab", "--gitlab", "--key-type", "ed25519", "--out", "-", "--json"],
        &[("PKI_ID_TOKEN", &gl)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["spiffe_id"], "spiffe://acme.internal/ci/gitlab/7/42");
    for k in ["cert_pem", "chain_pem", "key_pem", "root_pem"] {
        assert!(out[k].as_str().unwrap().starts_with("-----BEGIN "), "{k}");
    }
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains(&gl) && !stderr(&o).contains(&gl),
        "the token is never printed"
    );
    let rec = ledger(&lab.env).into_iter().rfind(|r| r["event"] == "cert-issued").unwrap();
    assert_eq!(rec["ci"]["pipeline_id"], "99");
    assert_eq!(rec["ci"]["project_path"], "grp/app");
    // 4. Plain PEM by Accept, a DER CSR.
    openssl_p256_csr(lab.env.tmp.path(), "der.key", "x", "der.csr", &["-outform", "DER"]);
    let t = lab.issuer.mint(json!({}));
    let (status, ct, body) =
        lab.post("github", &t, &std::fs::read(lab.env.path("der.csr")).unwrap(), "application/pem-certificate-chain");
    assert_eq!((status, ct.as_str()), (201, "application/pem-certificate-chain"), "{}", String::from_utf8_lossy(&body));
    assert_eq!(String::from_utf8(body).unwrap().matches("-----BEGIN CERTIFICATE-----").count(), 2);
    // The serve log names the rule or the serial, never the token.
    let log = lab.serve.as_ref().unwrap().log.lock().unwrap().join("\n");
    assert!(!log.contains(&t) && !log.contains(&gl), "a token reached the log");
    assert!(common::ledger_chain_intact(&lab.env.ca()).0);
}

#[test]
fn every_refusal_names_its_rule_and_writes_nothing() {
    let lab = Lab::new();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let csr = lab.csr();
    // CSRs that must be refused: signature broken (a byte of the signature flipped), CA:TRUE,
    // a DNS name.
    let mut der = pem::parse(&csr).unwrap().contents().to_vec();
    let n = der.len();
    der[n - 5] ^= 0x01;
    openssl_p256_csr(lab.env.tmp.path(), "ca.key", "x", "ca.csr", &["-addext", "basicConstraints=critical,CA:TRUE"]);
    openssl_p256_csr(lab.env.tmp.path(), "dns.key", "x", "dns.csr", &["-addext", "subjectAltName=DNS:evil.test"]);
    let ca_csr = std::fs::read(lab.env.path("ca.csr")).unwrap();
    let dns_csr = std::fs::read(lab.env.path("dns.csr")).unwrap();
    // A replay: the first use succeeds, before the snapshot.
    let used = lab.issuer.mint(json!({}));
    assert_eq!(lab.post("github", &used, &csr, "application/json").0, 201);
    let before = snapshot(&lab.env.ca());
    let fetches = lab.issuer.fetches();
    std::thread::sleep(Duration::from_millis(2100)); // past jwks_min_refetch since the start's fetch
    let m = |r: Value| lab.issuer.mint(r);
    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        (
            "expired",
            m(json!({"claims": {"exp": now - 3600, "iat": now - 3700, "nbf": now - 3700}})),
            csr.clone(),
            401,
            "expired",
        ),
        ("not yet valid", m(json!({"claims": {"nbf": now + 3600}})), csr.clone(), 401, "not-yet-valid"),
        ("too old", m(json!({"claims": {"iat": now - 3600, "nbf": now - 3600}})), csr.clone(), 401, "too-old"),
        ("wrong aud", m(json!({"aud": "https://other.test"})), csr.clone(), 401, "aud-mismatch"),
        (
            "several audiences",
            m(json!({"aud": ["https://pki.test", "https://other.test"]})),
            csr.clone(),
            401,
            "aud-multiple",
        ),
        (
            "wrong iss",
            m(json!({"claims": {"iss": "https://token.actions.githubusercontent.com"}})),
            csr.clone(),
            401,
            "iss-mismatch",
        ),
        ("no jti", m(json!({"drop": ["jti"]})), csr.clone(), 401, "jti-missing"),
        ("unknown kid", m(json!({"kid": "nope", "sign_with": "rs1"})), csr.clone(), 401, "unknown-kid"),
        ("another key", m(json!({"kid": "rs1", "sign_with": "other"})), csr.clone(), 401, "bad-signature"),
        ("alg none", m(json!({"alg": "none", "sign_with": "none"})), csr.clone(), 401, "alg-not-allowed"),
        (
            "HS256 keyed with the public key",
            m(json!({"alg": "HS256", "sign_with": "hs-public"})),
            csr.clone(),
            401,
            "alg-not-allowed",
        ),
        (
            "RS256 key presented as ES256",
            m(json!({"alg": "ES256", "kid": "rs1", "sign_with": "es1"})),
            csr.clone(),
            401,
            "alg-key-mismatch",
        ),
        (
            "claim condition unmet",
            m(json!({"claims": {"ref": "refs/heads/feature"}})),
            csr.clone(),
            403,
            "claim-condition",
        ),
        ("owner id unmet", m(json!({"claims": {"repository_owner_id": "1"}})), csr.clone(), 403, "claim-condition"),
        (
            "../ in a claim",
            m(json!({"claims": {"repository": "octo-org/../admin"}})),
            csr.clone(),
            403,
            "claim-not-spiffe-path",
        ),
        (
            "%2f in a claim",
            m(json!({"claims": {"repository": "octo-org%2fapp"}})),
            csr.clone(),
            403,
            "claim-not-spiffe-path",
        ),
        (
            "control character in a claim",
            m(json!({"claims": {"repository": "octo-org/app\n"}})),
            csr.clone(),
            403,
            "claim-not-spiffe-path",
        ),
        ("replayed jti", used.clone(), csr.clone(), 401, "jti-replayed"),
        ("CSR signature broken", m(json!({})), der, 400, "csr"),
        ("CSR asks CA:TRUE", m(json!({})), ca_csr, 400, "csr"),
        ("CSR asks for a DNS name", m(json!({})), dns_csr, 400, "csr"),
        (
            "oversized token",
            format!("{}.{}.x", "e".repeat(6000), "e".repeat(3000)),
            csr.clone(),
            413,
            "token-too-large",
        ),
        ("oversized body", m(json!({})), vec![b'A'; 20 << 10], 413, "body-too-large"),
        ("not a JWT", "not-a-token".into(), csr.clone(), 401, "token-malformed"),
    ];
    let mut fetched_for_unknown = None;
    for (name, token, body, status, rule) in &cases {
        let before_fetch = lab.issuer.fetches();
        let (s, ct, b) = lab.post("github", token, body, "application/json");
        assert_eq!((s, problem_rule(&b).as_str()), (*status, *rule), "{name}: {}", String::from_utf8_lossy(&b));
        assert_eq!(ct, "application/problem+json", "{name}");
        let text = String::from_utf8_lossy(&b);
        assert!(!text.contains(token.as_str()), "{name}: the token is echoed");
        if *rule == "unknown-kid" {
            fetched_for_unknown = Some(lab.issuer.fetches() - before_fetch);
        }
        assert_eq!(snapshot(&lab.env.ca()), before, "{name}: the directory changed");
    }
    // The unknown kid made exactly one refetch; a second one at once makes none.
    assert_eq!(fetched_for_unknown, Some(1), "fetches before: {fetches}");
    let f = lab.issuer.fetches();
    let (s, _, b) = lab.post("github", &m(json!({"kid": "nope2", "sign_with": "rs1"})), &csr, "application/json");
    assert_eq!((s, problem_rule(&b).as_str()), (401, "unknown-kid"));
    assert_eq!(lab.issuer.fetches(), f, "a refetch within jwks_min_refetch");
    // The GitLab policy allows ES256 only: an RS256 token is refused by its algorithm.
    let (s, _, b) =
        lab.post("gitlab", &m(json!({"claims": {"project_id": "42", "namespace_id": "7"}})), &csr, "application/json");
    assert_eq!((s, problem_rule(&b).as_str()), (401, "alg-not-allowed"));
    // No token, an unknown policy, plain HTTP.
    let roots = pki_serve::client::roots(Some(&lab.env.path("root.pem"))).unwrap();
    let a = pki_serve::client::request_blocking(
        "POST",
        &format!("{}/attest/github", lab.server()),
        &[],
        csr.clone(),
        &roots,
        1 << 16,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!((a.status, problem_rule(&a.body).as_str()), (401, "token-missing"));
    let (s, _, b) = lab.post("nope", "x.y.z", &csr, "application/json");
    assert_eq!((s, problem_rule(&b).as_str()), (404, "unknown-policy"));
    let a = pki_serve::client::request_blocking(
        "POST",
        &format!("http://127.0.0.1:{}/attest/github", lab.http),
        &[("authorization", format!("Bearer {}", m(json!({}))))],
        csr.clone(),
        &roots,
        1 << 16,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!((a.status, problem_rule(&a.body).as_str()), (403, "https-required"));
    assert_eq!(snapshot(&lab.env.ca()), before);
    // The client: a refusal is exit 7 naming the rule; plain http:// is refused before sending.
    std::fs::write(lab.env.path("old.jwt"), &used).unwrap();
    let o = lab.attest(&["--policy", "github", "--token-file", "old.jwt", "--out", "x"], &[]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("urn:pki:attest:jti-replayed"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(&used));
    let o = lab.attest(&["--policy", "github", "--token-file", "old.jwt", "--out", "x", "--json"], &[]);
    assert_eq!(o.status.code(), Some(7));
    let e: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (e["error"]["code"].as_str(), e["error"]["rule"].as_str(), e["error"]["status"].as_u64()),
        (Some("attest-refused"), Some("jti-replayed"), Some(401))
    );
    let o = lab
        .env
        .pki()
        .args([
            "attest",
            "--server",
            "http://127.0.0.1:1",
            "--policy",
            "github",
            "--token-file",
            "old.jwt",
            "--out",
            "x",
        ])
        .output()
        .unwrap();
    assert!(common::assert_one_line_error(&o).contains("is not https://"));
    let o = lab.attest(&["--policy", "github", "--github", "--out", "x"], &[]);
    assert!(common::assert_one_line_error(&o).contains("ACTIONS_ID_TOKEN_REQUEST_URL is not set"));
    assert!(!lab.env.path("x").exists());
}

#[test]
fn used_tokens_stay_used_across_a_restart() {
    let mut lab = Lab::new();
    let csr = lab.csr();
    let t = lab.issuer.mint(json!({}));
    assert_eq!(lab.post("github", &t, &csr, "application/json").0, 201);
    lab.restart();
    let (s, _, b) = lab.post("github", &t, &csr, "application/json");
    assert_eq!((s, problem_rule(&b).as_str()), (401, "jti-replayed"));
    // Another token of the same job is fine.
    assert_eq!(lab.post("github", &lab.issuer.mint(json!({})), &csr, "application/json").0, 201);
}

#[test]
fn key_rotation_and_an_issuer_outage() {
    let lab = Lab::new();
    let csr = lab.csr();
    assert_eq!(lab.readyz().0, 200);
    // Rotation: the issuer publishes rs2; a token signed by it is accepted without a restart.
    lab.issuer.control(json!({"rotate": true}));
    std::thread::sleep(Duration::from_millis(2100));
    let (s, _, b) = lab.post("github", &lab.issuer.mint(json!({"kid": "rs2"})), &csr, "application/json");
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    // Outage: a token naming a key serve does not hold is refused (the refetch fails) and
    // /readyz says so; tokens signed by the keys held still work.
    lab.issuer.control(json!({"down": true}));
    std::thread::sleep(Duration::from_millis(2100));
    let (s, _, b) =
        lab.post("github", &lab.issuer.mint(json!({"kid": "rs9", "sign_with": "rs1"})), &csr, "application/json");
    assert_eq!((s, problem_rule(&b).as_str()), (401, "unknown-kid"));
    assert!(String::from_utf8_lossy(&b).contains("HTTP 503"), "{}", String::from_utf8_lossy(&b));
    let (code, v) = lab.readyz();
    assert_eq!(code, 503, "{v}");
    assert!(v["problems"].to_string().contains("attestation policy 'github'"), "{v}");
    for kid in ["rs1", "rs2"] {
        let (s, _, b) = lab.post("github", &lab.issuer.mint(json!({"kid": kid})), &csr, "application/json");
        assert_eq!(s, 201, "{kid}: {}", String::from_utf8_lossy(&b));
    }
    let (s, _, _) = lab.post(
        "gitlab",
        &lab.issuer.mint(json!({"alg": "ES256", "kid": "es1", "claims": {"project_id": "42", "namespace_id": "7"}})),
        &csr,
        "application/json",
    );
    assert_eq!(s, 201);
}

#[test]
fn bad_policies_are_refused_in_one_line() {
    let env = Env::new();
    env.init_plain();
    let base = settings("http://127.0.0.1:9");
    let cases = [
        ("issuer = \"http://127.0.0.1:9\"", "issuer = \"http://example.com\"", "is not https://"),
        ("insecure_loopback_issuer = true\n\n[attest.gitlab]", "\n[attest.gitlab]", "insecure_loopback_issuer = true"),
        ("algorithms = [\"ES256\"]", "algorithms = [\"HS256\"]", "'HS256' is not allowed"),
        ("algorithms = [\"ES256\"]", "algorithms = [\"none\"]", "'none' is not allowed"),
        ("ttl = \"30m\"", "ttl = \"3h\"", "longer than profile 'ci' max_ttl 2h"),
        (
            "spiffe_id = \"spiffe://acme.internal/ci/gitlab/{namespace_id}/{project_id}\"",
            "spiffe_id = \"spiffe://{td}/x\"",
            "spiffe_id",
        ),
        ("[attest.github]\nprofile = \"ci\"", "[attest.github]\nprofile = \"serve\"", "needs spiffe = true"),
        (
            "jwks_min_refetch = \"2s\"\ninsecure_loopback_issuer = true\n\n[attest.gitlab]",
            "jwks_min_refetch = \"0s\"\ninsecure_loopback_issuer = true\n\n[attest.gitlab]",
            "jwks_min_refetch",
        ),
    ];
    let text = std::fs::read_to_string(env.ca().join("pki.toml")).unwrap();
    for (from, to, want) in cases {
        assert!(base.contains(from), "{from}");
        std::fs::write(env.ca().join("pki.toml"), format!("{text}{}", base.replacen(from, to, 1))).unwrap();
        let o = env.run(&["serve", "--check"]);
        let e = common::assert_one_line_error(&o);
        assert!(e.contains("[attest.") && e.contains(want), "{to}: {e}");
    }
    std::fs::write(env.ca().join("pki.toml"), format!("{text}{base}")).unwrap();
    let o = env.run(&["serve", "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("attestation policies (github, gitlab) are not served without --https"),
        "{}",
        stderr(&o)
    );
}

/// An issuer over HTTPS, as in production: no insecure flag, its certificate trusted through
/// issuer_ca_file (our own root here, as a self-managed GitLab behind a private CA would be);
/// discovery, JWKS and the token all over TLS. Without issuer_ca_file the system roots do not
/// know it, and serve says so in /readyz.
#[test]
fn an_https_issuer_trusted_through_issuer_ca_file() {
    let env = Env::new();
    env.init_plain();
    env.append_settings(settings("http://127.0.0.1:9").split("[attest.github]").next().unwrap());
    env.ok(&["issue", "--profile", "serve", "--ip", "127.0.0.1", "--out", "issuer-tls"]);
    env.ok(&["export", "--root", "--out", "root.pem"]);
    let issuer = Issuer::start_with(&[
        "--tls",
        env.path("issuer-tls/fullchain.pem").to_str().unwrap(),
        env.path("issuer-tls/key.pem").to_str().unwrap(),
    ]);
    assert!(issuer.url.starts_with("https://"));
    let policy = |name: &str, ca: &str| {
        format!(
            "\n[attest.{name}]\nprofile = \"ci\"\nissuer = \"{}\"\naudience = \"https://pki.test\"\nspiffe_id = \"spiffe://acme.internal/ci/github/{{repository}}\"\n{ca}",
            issuer.url
        )
    };
    env.append_settings(
        &(policy("tls", &format!("issuer_ca_file = \"{}\"\n", env.path("root.pem").display()))
            + &policy("untrusted", "")),
    );
    let (http, https) = (free_port(), free_port());
    let addr = format!("127.0.0.1:{https}");
    let serve = Server::start_with(&env, http, &["--https", &addr, "--tls-ca", "issuing", "--tls-profile", "serve"]);
    let tok = {
        let roots = pki_serve::client::roots(Some(&env.path("root.pem"))).unwrap();
        let a = pki_serve::client::request_blocking(
            "POST",
            &format!("{}/mint", issuer.url),
            &[],
            br#"{"aud": "https://pki.test"}"#.to_vec(),
            &roots,
            1 << 16,
            Duration::from_secs(10),
        )
        .unwrap();
        String::from_utf8(a.body).unwrap()
    };
    std::fs::write(env.path("t.jwt"), &tok).unwrap();
    let mut c = env.pki();
    c.env_remove("PKI_DIR").args([
        "attest",
        "--server",
        &format!("https://{addr}"),
        "--policy",
        "tls",
        "--token-file",
        "t.jwt",
        "--ca-file",
        "root.pem",
        "--out",
        "-",
        "--json",
    ]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["spiffe_id"], "spiffe://acme.internal/ci/github/octo-org/octo-app");
    let r = serve.get("/readyz", &[]);
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.status, 503, "{body}");
    assert!(body.contains("attestation policy 'untrusted'") && !body.contains("attestation policy 'tls'"), "{body}");
}
