//! The read-only page (`/ui/` of `pki serve`, `pki report --html`) on a fixture directory made
//! here at fixed dates: checked in headless Chromium through WebDriver (tests/interop/ui_check.py,
//! Debian's chromium and chromedriver: what a person sees, read from the DOM), and its access
//! rules and headers checked with curl (token, Basic password, client certificates by profile).

mod common;

use std::path::Path;
use std::process::Command;

use common::server::{Server, free_port};
use common::{Env, stderr};
use serde_json::Value;

/// The page's clock and the fixture's "today".
const NOW: &str = "2026-06-01T00:00:00Z";
/// The CA was made two months earlier (a certificate that expired since is in the inventory).
const BEFORE: &str = "2026-04-01T00:00:00Z";

const WEB: &str = r#"
[profiles.web]
ca = "issuing"
default_ttl = "24h"
max_ttl = "90d"
allowed_dns = ["**.acme.internal"]
ext_key_usage = ["serverAuth"]

[profiles.ops]
ca = "issuing"
default_ttl = "24h"
max_ttl = "7d"
allowed_dns = ["**.acme.internal"]
ext_key_usage = ["clientAuth"]
"#;

struct Fixture {
    env: Env,
    revoked: String,
    xss: String,
    svc_b: String,
    total: usize,
}

fn serial(out: &str) -> String {
    let v: Value = serde_json::from_str(out).unwrap();
    v["serial"].as_str().unwrap().to_string()
}

/// Inventory: 60 one-hour agent SVIDs (today), five `web` certificates (1, 10, 10, 45 days, and
/// one of 20 days issued with HTML in the actor, note and CI job name), one revoked, one
/// expired since April.
fn fixture() -> Fixture {
    let env = Env::new();
    env.ok_at(
        BEFORE,
        &["init", "--non-interactive", "--org", "Acme", "--trust-domain", "acme.internal", "--no-passphrase"],
    );
    let p = env.ca().join("pki.toml");
    std::fs::write(&p, std::fs::read_to_string(&p).unwrap() + WEB).unwrap();
    env.ok_at(BEFORE, &["settings", "accept"]);
    env.ok_at(BEFORE, &["issue", "--profile", "web", "--dns", "old.acme.internal", "--ttl", "1d", "--out", "-"]);
    let web = |name: &str, ttl: &str| {
        serial(&env.ok_at(NOW, &["issue", "--profile", "web", "--dns", name, "--ttl", ttl, "--out", "-", "--json"]))
    };
    web("svc-a.acme.internal", "1d");
    let svc_b = web("svc-b.acme.internal", "10d");
    web("svc-c.acme.internal", "10d");
    web("svc-d.acme.internal", "45d");
    let revoked = web("svc-r.acme.internal", "30d");
    env.ok_at(NOW, &["revoke", &revoked, "--reason", "keyCompromise"]);
    let o = env
        .pki()
        .env("PKI_NOW", NOW)
        .env("PKI_ACTOR", "<img src=x onerror=\"window.__pwned=true\">")
        .env("GITHUB_WORKFLOW", "<b>deploy</b>")
        .args(["issue", "--profile", "web", "--dns", "xss.acme.internal", "--ttl", "20d", "--out", "-", "--json"])
        .args(["--note", "<script>window.__pwned=true</script><b>bold</b>"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let xss = serial(&String::from_utf8(o.stdout).unwrap());
    let lines: String = (0..60)
        .map(|i| {
            format!(
                "{{\"profile\": \"agent\", \"spiffe_id\": \"spiffe://acme.internal/agent/job-{i}\", \"ttl\": \"1h\"}}\n"
            )
        })
        .collect();
    std::fs::write(env.path("agents.jsonl"), lines).unwrap();
    env.ok_at(NOW, &["issue", "--batch", "agents.jsonl"]);
    Fixture { env, revoked, xss, svc_b, total: 67 }
}

fn python() -> String {
    std::env::var("PKI_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn have_browser() -> bool {
    let ok = Path::new("/usr/bin/chromium").exists()
        && Path::new("/usr/bin/chromedriver").exists()
        && Command::new(python()).args(["-c", "import selenium"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium, chromedriver and selenium are required in CI (.ci/run installs them)"
        );
        eprintln!("SKIPPED: no chromium, chromedriver or selenium");
    }
    ok
}

#[test]
fn the_page_in_a_browser_shows_the_fixture() {
    if !have_browser() {
        return;
    }
    let f = fixture();
    let port = free_port();
    let serve = Server::start_env(&f.env, port, &[], &[("PKI_NOW", NOW)]);
    let shots = f.env.path("shots");
    std::fs::create_dir(&shots).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ui_check.py");
    let o = Command::new(python())
        .arg(&script)
        .args([&format!("http://127.0.0.1:{port}"), shots.to_str().unwrap(), &f.revoked, &f.xss])
        .output()
        .unwrap();
    assert!(o.status.success(), "ui_check.py failed: {}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&v).unwrap());
    // Counts: 60 agents + 5 web valid; one revoked; one expired; 68 in all.
    assert_eq!(v["totals"]["certificates"], f.total.to_string());
    assert_eq!(v["totals"]["valid"], "65");
    assert_eq!(v["totals"]["expired"], "1");
    assert_eq!(v["totals"]["revoked"], "1");
    assert_eq!(v["totals"]["expiring"], "64", "all valid but svc-d (45 days) expire within the page's 30 days");
    // Timeline buckets: day 0 the 60 one-hour agents (aggregated), day 1 svc-a, day 10 svc-b and
    // svc-c, day 20 the xss one, day 45 svc-d.
    let tl: Value = serde_json::json!({"0": 60, "1": 1, "10": 2, "20": 1, "45": 1});
    assert_eq!(v["timeline"], tl);
    assert_eq!(v["legend"], serde_json::json!(["profile agent: 60", "profile web: 5"]));
    assert_eq!(v["cas"], serde_json::json!(["root", "issuing"]));
    // Findings as audit reports them (the same codes).
    let audit: Value = serde_json::from_str(
        &String::from_utf8(
            f.env.pki().env("PKI_NOW", NOW).args(["audit", "--expiring", "30d", "--json"]).output().unwrap().stdout,
        )
        .unwrap(),
    )
    .unwrap();
    let want: Vec<(String, String)> = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["severity"].as_str().unwrap().to_string(), x["code"].as_str().unwrap().to_string()))
        .collect();
    let got: Vec<(String, String)> = serde_json::from_value(v["findings"].clone()).unwrap();
    assert_eq!(got, want);
    assert!(!got.is_empty());
    assert_eq!(v["scripts"], 0);
    // The table: pages of 50, search, filters (chosen with the keyboard and the mouse).
    assert_eq!(v["certs_first_page"], 50);
    assert_eq!(v["certs_second_page"], (f.total - 50) as u64);
    assert!(
        v["matching"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{} of {} certificates match · page 1 of 2", f.total, f.total))
    );
    assert_eq!(v["search_svc_b"], serde_json::json!([f.svc_b]));
    assert_eq!(v["filter_revoked"], serde_json::json!([f.revoked]));
    assert_eq!(v["filter_valid_web"], 5);
    assert!(v["url_after_filter"].as_str().unwrap().contains("status=valid&profile=web"), "{}", v["url_after_filter"]);
    // A certificate's page: its revocation and its history.
    assert_eq!(v["revoked_status"], "revoked");
    assert!(v["revoked_line"].as_str().unwrap().contains("keyCompromise"), "{}", v["revoked_line"]);
    assert_eq!(v["revoked_history"], serde_json::json!(["cert-issued", "cert-revoked"]));
    assert_eq!(v["revoked_actors"], serde_json::json!(["test@suite", "test@suite"]));
    // User-controlled ledger text is text.
    let h = v["xss_history_text"].as_str().unwrap();
    assert!(h.contains("<img src=x onerror=\"window.__pwned=true\">"), "{h}");
    assert!(h.contains("<script>window.__pwned=true</script><b>bold</b>"), "{h}");
    assert!(h.contains("GITHUB_WORKFLOW=<b>deploy</b>"), "{h}");
    assert_eq!(
        (v["xss_injected"].as_u64(), v["xss_scripts"].as_u64(), v["xss_alerted"].as_bool()),
        (Some(0), Some(0), Some(false))
    );
    assert_eq!(v["xss_query_value"], "<script>window.__pwned=true</script>");
    assert_eq!((v["xss_query_scripts"].as_u64(), v["xss_query_alerted"].as_bool()), (Some(0), Some(false)));
    // Nothing overflows: the document is no wider than the viewport, at 1280 and 390 pixels.
    for k in ["overview_1280", "overview_390", "certs_390", "cert_390"] {
        let w = v[k].as_array().unwrap();
        assert!(w[0].as_u64() <= w[1].as_u64(), "{k}: document {} wider than the viewport {}", w[0], w[1]);
    }
    assert_eq!(v["overview_390"][1], 390);
    for s in ["overview-1280.png", "overview-390.png", "certs-1280.png", "certs-390.png", "cert-1280.png"] {
        assert!(std::fs::metadata(shots.join(s)).unwrap().len() > 10_000, "{s}");
    }
    // PKI_UPDATE_SCREENSHOTS=1 copies them to docs/img for the README.
    if std::env::var_os("PKI_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img");
        std::fs::create_dir_all(&docs).unwrap();
        for s in ["overview-1280.png", "overview-390.png", "certs-1280.png", "cert-1280.png"] {
            std::fs::copy(shots.join(s), docs.join(format!("ui-{s}"))).unwrap();
        }
    }
    drop(serve);
}

fn curl(args: &[&str], cwd: &Path) -> (u16, String, String) {
    let o = Command::new("curl")
        .args(["-s", "-o", "body", "-D", "headers", "-w", "%{http_code}"])
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&o.stdout).parse().unwrap_or(0);
    (
        code,
        std::fs::read_to_string(cwd.join("headers")).unwrap_or_default().to_lowercase(),
        std::fs::read_to_string(cwd.join("body")).unwrap_or_default(),
    )
}

#[test]
fn beyond_open_loopback_the_page_needs_a_token_or_a_client_certificate() {
    let f = fixture();
    let env = &f.env;
    let w = env.tmp.path();
    std::fs::write(env.path("ui.token"), "correct horse battery staple 42\n").unwrap();
    let p = env.ca().join("pki.toml");
    let extra = format!(
        "\n[serve.ui]\nopen_on_loopback = false\ntoken_file = \"{}\"\nclient_profiles = [\"ops\"]\n",
        env.path("ui.token").display()
    );
    std::fs::write(&p, std::fs::read_to_string(&p).unwrap() + &extra).unwrap();
    env.ok_at(NOW, &["settings", "accept"]);
    // Client certificates: one of profile ops, one of web, one of ops revoked.
    env.ok(&["issue", "--profile", "ops", "--dns", "alice.acme.internal", "--out", "alice"]);
    env.ok(&["issue", "--profile", "client", "--dns", "bob.acme.internal", "--out", "bob"]);
    env.ok(&["issue", "--profile", "web", "--dns", "dave.acme.internal", "--out", "dave"]);
    let carol =
        serial(&env.ok(&["issue", "--profile", "ops", "--dns", "carol.acme.internal", "--out", "carol", "--json"]));
    env.ok(&["revoke", &carol]);
    env.ok(&["export", "--root", "--out", "root.pem"]);
    let (http, https) = (free_port(), free_port());
    let tls = format!("127.0.0.1:{https}");
    let p2 = env.ca().join("pki.toml");
    std::fs::write(&p2, std::fs::read_to_string(&p2).unwrap() + "\n[profiles.serve]\nca = \"issuing\"\nmax_ttl = \"24h\"\nallowed_ips = [\"127.0.0.1/32\"]\next_key_usage = [\"serverAuth\"]\n").unwrap();
    env.ok(&["settings", "accept"]);
    let serve = Server::start_with(env, http, &["--https", &tls, "--tls-ca", "issuing", "--tls-profile", "serve"]);
    let plain = format!("http://127.0.0.1:{http}/ui/");
    let secure = format!("https://127.0.0.1:{https}/ui/");
    // No credentials: 401 asking for Basic, and none of the directory's data.
    let (code, headers, body) = curl(&[&plain], w);
    assert_eq!(code, 401);
    assert!(headers.contains("www-authenticate: basic realm=\"pki\""), "{headers}");
    assert!(!body.contains(&f.svc_b) && !body.contains("svc-b") && !body.contains("issuing"), "{body}");
    for path in ["", "certs", &format!("cert/{}", f.svc_b), "style.css"] {
        assert_eq!(curl(&[&format!("{plain}{path}")], w).0, 401, "{path}");
    }
    // A wrong token: 403. The token as a bearer, or as a browser's Basic password: 200.
    assert_eq!(curl(&["-H", "Authorization: Bearer not the token at all!!", &plain], w).0, 403);
    assert_eq!(curl(&["-u", "me:wrong", &plain], w).0, 403);
    let (code, headers, body) = curl(&["-H", "Authorization: Bearer correct horse battery staple 42", &plain], w);
    assert_eq!(code, 200);
    assert!(body.contains("Certificate authority overview") && body.contains("id=\"cas\""), "{body}");
    assert_eq!(curl(&["-u", "anyone:correct horse battery staple 42", &format!("{plain}certs")], w).0, 200);
    // The Content-Security-Policy forbids every script (no script-src: default-src 'none').
    let csp = headers.lines().find(|l| l.starts_with("content-security-policy:")).expect("a CSP header");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(headers.contains("x-content-type-options: nosniff") && headers.contains("x-frame-options: deny"));
    // Read-only: no method but GET and HEAD, even with the token.
    assert_eq!(curl(&["-X", "POST", "-H", "Authorization: Bearer correct horse battery staple 42", &plain], w).0, 405);
    // Client certificates over HTTPS (the chain presented): an ops certificate opens it; one of
    // another profile or a revoked ops one does not (403); none at all is 401.
    let cert = |who: &str| {
        vec![
            "--cacert".to_string(),
            "root.pem".into(),
            "--cert".into(),
            format!("{who}/fullchain.pem"),
            "--key".into(),
            format!("{who}/key.pem"),
            secure.clone(),
        ]
    };
    let run = |a: Vec<String>| curl(&a.iter().map(String::as_str).collect::<Vec<_>>(), w).0;
    assert_eq!(run(cert("alice")), 200);
    assert_eq!(run(cert("bob")), 403, "a client certificate of another profile");
    assert_eq!(run(cert("dave")), 0, "a certificate without clientAuth fails the handshake: nothing is served");
    assert_eq!(run(cert("carol")), 403);
    assert_eq!(curl(&["--cacert", "root.pem", &secure], w).0, 401);
    // A renewal links both ways on the certificates' pages.
    let old = serial(&env.ok(&["inspect", "alice/cert.pem", "--json"]));
    let new = serial(&env.ok(&["renew", &old, "--out", "alice2", "--json"]));
    let bearer = ["-H", "Authorization: Bearer correct horse battery staple 42"];
    let page = |s: &str| {
        std::thread::sleep(std::time::Duration::from_millis(300)); // one poll
        curl(&[bearer[0], bearer[1], &format!("{plain}cert/{s}")], w)
    };
    let (code, _, body) = page(&new);
    assert_eq!(code, 200);
    assert!(body.contains("Renews") && body.contains(&format!("/ui/cert/{old}")), "{body}");
    let (_, _, body) = page(&old);
    assert!(
        body.contains("Renewed by") && body.contains(&format!("/ui/cert/{new}")) && body.contains("superseded"),
        "{body}"
    );
    // What is not the page is unaffected: CRLs and bundles stay public.
    assert_eq!(curl(&[&format!("http://127.0.0.1:{http}/bundle.pem")], w).0, 200);
    drop(serve);
}

#[test]
fn report_html_is_one_self_contained_escaped_file() {
    let f = fixture();
    let o = f.env.at(NOW, &["report", "--html", "report.html"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(f.env.path("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("id=\"total-valid\">65<") && html.contains("id=\"total-revoked\">1<"), "totals");
    assert!(
        !html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained, no script"
    );
    assert!(html.contains("<style>") && html.contains("Content-Security-Policy"));
    assert!(html.contains("data-day=\"0\" data-total=\"60\""), "the timeline");
    // The same to standard output; a bad window is one line, nothing written.
    let out = f.env.at(NOW, &["report", "--html", "-"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), html);
    let bad = f.env.at(NOW, &["report", "--html", "x.html", "--window", "soon"]);
    common::assert_one_line_error(&bad);
    assert!(!f.env.path("x.html").exists());
}
