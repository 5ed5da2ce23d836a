//! Issuance policy end to end: every profile rule refuses what it should (and writes nothing),
//! SVIDs pass OpenSSL, rustls-webpki and a real mutual-TLS handshake, CSRs made by OpenSSL are
//! signed with only what the profile allows, and batches keep going past a refusal.

mod common;

use common::*;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn every_profile_rule_refuses_and_changes_nothing() {
    let env = Env::new();
    env.init();
    env.append_settings(
        "\n[profiles.edonly]\nca = \"issuing\"\nkey_types = [\"ed25519\"]\nallowed_dns = [\"*.acme.internal\"]\n",
    );
    let dir = env.tmp.path();
    // CSRs: one asking for CA:TRUE, one whose signature was altered after signing.
    openssl_p256_csr(
        dir,
        "k.pem",
        "ca.acme.internal",
        "ca.csr",
        &["-addext", "subjectAltName=DNS:ca.acme.internal", "-addext", "basicConstraints=critical,CA:TRUE"],
    );
    assert!(
        openssl(
            &[
                "req",
                "-new",
                "-key",
                "k.pem",
                "-subj",
                "/CN=x.acme.internal",
                "-addext",
                "subjectAltName=DNS:x.acme.internal",
                "-outform",
                "DER",
                "-out",
                "good.der"
            ],
            dir
        )
        .status
        .success()
    );
    let mut der = std::fs::read(env.path("good.der")).unwrap();
    let n = der.len();
    der[n - 5] ^= 0x01;
    std::fs::write(env.path("bad.der"), der).unwrap();
    assert!(
        openssl(
            &[
                "req",
                "-new",
                "-key",
                "k.pem",
                "-subj",
                "/CN=x.acme.internal",
                "-addext",
                "subjectAltName=DNS:x.acme.internal",
                "-addext",
                "extendedKeyUsage=codeSigning",
                "-out",
                "code.csr"
            ],
            dir
        )
        .status
        .success()
    );

    let before = snapshot(&env.ca());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--profile", "server", "--dns", "www.example.com"],
            "DNS name 'www.example.com' matches none of allowed_dns",
        ),
        (
            vec!["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/admin/1"],
            "URI 'spiffe://acme.internal/admin/1' matches none of allowed_uris",
        ),
        (vec!["--profile", "agent", "--spiffe-id", "spiffe://other.domain/agent/1"], "matches none of allowed_uris"),
        (
            vec!["--profile", "server", "--dns", "a.acme.internal", "--ip", "8.8.8.8"],
            "IP address 8.8.8.8 is in none of allowed_ips",
        ),
        (
            vec!["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/1", "--ttl", "48h"],
            "lifetime 2d is longer than max_ttl 1d",
        ),
        (
            vec!["--profile", "edonly", "--dns", "a.acme.internal", "--key-type", "p256"],
            "key type p256 is not in key_types [ed25519]",
        ),
        (
            vec![
                "--profile",
                "agent",
                "--spiffe-id",
                "spiffe://acme.internal/agent/1",
                "--uri",
                "spiffe://acme.internal/agent/2",
            ],
            "exactly one URI SAN",
        ),
        (
            vec!["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/1", "--dns", "a.acme.internal"],
            "matches none of allowed_dns",
        ),
        (vec!["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/../x"], "invalid --spiffe-id"),
        (
            vec!["--profile", "server", "--dns", "a.acme.internal", "--cn", "admin"],
            "CN 'admin' must be one of the certificate's names",
        ),
        (
            vec!["--profile", "server", "--dns", "*.acme.internal"],
            "wildcard DNS name '*.acme.internal' needs allow_wildcards",
        ),
        (vec!["--profile", "server", "--csr", "ca.csr"], "the CSR asks for CA:TRUE"),
        (vec!["--profile", "server", "--csr", "bad.der"], "signature does not verify"),
        (vec!["--profile", "server", "--csr", "code.csr"], "the CSR asks for usage codeSigning"),
        (
            vec!["--profile", "server", "--csr", "good.der", "--dns", "y.acme.internal"],
            "either in the CSR or on the command line",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["issue", "--passphrase-file", "int.pass", "--out", "t"];
        args.extend(extra.iter());
        let o = env.run(&args);
        let e = assert_one_line_error(&o);
        assert!(e.contains(want), "{extra:?}: expected '{want}' in: {e}");
        assert_eq!(before, snapshot(&env.ca()), "{extra:?} changed the CA directory");
        assert!(!env.path("t").exists(), "{extra:?} wrote files");
    }
    // --clip-ttl shortens instead of refusing.
    let v = json(&env.issue(&[
        "--profile",
        "agent",
        "--spiffe-id",
        "spiffe://acme.internal/agent/1",
        "--ttl",
        "48h",
        "--clip-ttl",
        "--json",
        "--out",
        "c",
    ]));
    let nb =
        time::OffsetDateTime::parse(v["not_before"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let na =
        time::OffsetDateTime::parse(v["not_after"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!((na - nb).whole_hours() <= 24, "{v}");
}

#[test]
fn an_invalid_profile_is_reported_with_file_and_key() {
    let env = Env::new();
    env.init();
    env.append_settings("\n[profiles.broken]\next_key_usage = [\"serverAuth\", \"clientauthh\"]\n");
    let o = env.run(&["issue", "--passphrase-file", "int.pass", "--dns", "a.acme.internal", "--out", "t"]);
    let e = assert_one_line_error(&o);
    assert!(e.contains("pki.toml: [profiles.broken] ext_key_usage: unknown usage 'clientauthh'"), "{e}");
    let o = env.run(&["profiles"]);
    assert_one_line_error(&o);
}

#[test]
fn svid_verifies_everywhere_and_authenticates_in_mutual_tls() {
    let env = Env::new();
    env.init();
    let server = json(&env.issue(&["--profile", "server", "--dns", "api.acme.internal", "--out", "server", "--json"]));
    let agent = json(&env.issue(&[
        "--profile",
        "agent",
        "--spiffe-id",
        "spiffe://acme.internal/agent/42",
        "--out",
        "agent",
        "--json",
    ]));
    assert_eq!(agent["spiffe_id"], "spiffe://acme.internal/agent/42");
    assert_eq!(agent["profile"], "agent");
    assert!(server["spiffe_id"].is_null());

    let o = openssl_verify(env.tmp.path(), "agent", "sslclient");
    assert!(o.status.success(), "{}", stderr(&o));
    webpki_verify(&env.path("agent"), webpki::KeyUsage::client_auth()).unwrap();

    // What OpenSSL sees: exactly one URI SAN, CA:FALSE, critical KU with digitalSignature only.
    let t = openssl(&["x509", "-in", "agent/cert.pem", "-noout", "-text"], env.tmp.path());
    let text = String::from_utf8_lossy(&t.stdout);
    assert!(text.contains("X509v3 Key Usage: critical\n                Digital Signature\n"), "{text}");
    assert!(text.contains("URI:spiffe://acme.internal/agent/42") && !text.contains("DNS:"), "{text}");
    assert!(text.contains("CA:FALSE"));

    // pki inspect reports the SVID check.
    let v = json(&env.ok(&["inspect", "--json", "agent/cert.pem"]));
    assert_eq!(v["svid"]["valid"], true, "{v}");
    let v = json(&env.ok(&["inspect", "--json", "server/cert.pem"]));
    assert_eq!(v["svid"]["valid"], false);
    assert!(v["svid"]["problems"][0].as_str().unwrap().contains("no spiffe://"));

    // A TLS 1.3 handshake between a rustls server and a rustls client, each with its pki certificate.
    let handshake = |client_dir: &str| -> Result<Vec<u8>, String> { mtls(&env, "server", client_dir, vec![]) };
    let peer = handshake("agent").expect("mTLS handshake with the SVID");
    assert_eq!(peer, pem_ders(&env.path("agent/cert.pem"))[0], "the server saw the agent's certificate");
    // A client certificate from another CA is refused.
    let other = Env::new();
    other.init();
    other.issue(&["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/42", "--out", "agent"]);
    std::fs::create_dir_all(env.path("stranger")).unwrap();
    for f in ["cert.pem", "key.pem", "chain.pem"] {
        std::fs::copy(other.path(&format!("agent/{f}")), env.path(&format!("stranger/{f}"))).unwrap();
    }
    assert!(handshake("stranger").is_err());
}

#[test]
fn csrs_from_openssl_for_every_key_type() {
    let env = Env::new();
    env.init();
    let dir = env.tmp.path();
    let kinds: [(&str, &[&str]); 4] = [
        ("p256", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        ("p384", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]),
        ("ed25519", &["-newkey", "ed25519"]),
        ("rsa", &["-newkey", "rsa:2048"]),
    ];
    for (kind, newkey) in kinds {
        let name = format!("{kind}.acme.internal");
        let mut args = vec!["req", "-new", "-nodes", "-keyout", "csr.key", "-subj"];
        let subj = format!("/CN={name}");
        args.push(&subj);
        args.extend_from_slice(newkey);
        let san = format!("subjectAltName=DNS:{name},IP:10.9.8.7");
        args.extend_from_slice(&["-addext", &san, "-out", "req.csr"]);
        assert!(openssl(&args, dir).status.success(), "{kind}");
        let out = format!("out-{kind}");
        let v = json(&env.issue(&["--profile", "server", "--csr", "req.csr", "--out", &out, "--json"]));
        assert_eq!(v["key_type"], kind);
        assert_eq!(v["sans"], serde_json::json!([format!("DNS:{name}"), "IP:10.9.8.7"]));
        assert!(!env.path(&format!("{out}/key.pem")).exists(), "{kind}: no key is written for a CSR");
        let o = openssl(
            &[
                "verify",
                "-x509_strict",
                "-purpose",
                "sslserver",
                "-CAfile",
                &format!("{out}/root.pem"),
                "-untrusted",
                &format!("{out}/chain.pem"),
                &format!("{out}/cert.pem"),
            ],
            dir,
        );
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        // The certificate carries the CSR's key.
        let a = openssl(&["x509", "-in", &format!("{out}/cert.pem"), "-noout", "-pubkey"], dir);
        let b = openssl(&["req", "-in", "req.csr", "-noout", "-pubkey"], dir);
        assert_eq!(a.stdout, b.stdout, "{kind}");
        let t = openssl(&["x509", "-in", &format!("{out}/cert.pem"), "-noout", "-text"], dir);
        let text = String::from_utf8_lossy(&t.stdout);
        if kind == "rsa" {
            assert!(text.contains("Digital Signature, Key Encipherment"), "{text}");
        }
    }
    // A CSR naming something outside the profile is refused, whole.
    assert!(
        openssl(
            &[
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                "csr.key",
                "-subj",
                "/CN=ok.acme.internal",
                "-addext",
                "subjectAltName=DNS:ok.acme.internal,DNS:evil.example.com",
                "-out",
                "evil.csr"
            ],
            dir
        )
        .status
        .success()
    );
    let e = assert_one_line_error(&env.run(&[
        "issue",
        "--passphrase-file",
        "int.pass",
        "--profile",
        "server",
        "--csr",
        "evil.csr",
        "--out",
        "e",
    ]));
    assert!(e.contains("evil.example.com"), "{e}");
    // From standard input.
    let o = env
        .pki()
        .args(["issue", "--passphrase-file", "int.pass", "--profile", "server", "--csr", "-", "--out", "stdin"])
        .stdin(std::fs::File::open(env.path("req.csr")).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn out_dash_prints_the_bundle_and_writes_no_files() {
    let env = Env::new();
    env.init();
    let listing = |d: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    let before = listing(env.tmp.path());
    let pem_out = env.issue(&["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/7", "--out", "-"]);
    assert_eq!(listing(env.tmp.path()), before, "--out - wrote files");
    let blocks = pem::parse_many(&pem_out).unwrap();
    let tags: Vec<&str> = blocks.iter().map(|b| b.tag()).collect();
    assert_eq!(tags, ["CERTIFICATE", "CERTIFICATE", "PRIVATE KEY"]);
    let v = json(&env.issue(&[
        "--profile",
        "agent",
        "--spiffe-id",
        "spiffe://acme.internal/agent/8",
        "--out",
        "-",
        "--json",
    ]));
    for k in ["serial", "spiffe_id", "not_after", "cert_pem", "chain_pem", "key_pem"] {
        assert!(v[k].is_string(), "{k} missing in {v}");
    }
    assert_eq!(listing(env.tmp.path()), before);
}

#[test]
fn batch_issues_every_line_and_reports_refusals() {
    let env = Env::new();
    env.init();
    let lines = [
        r#"{"profile": "agent", "spiffe_id": "spiffe://acme.internal/agent/1", "ttl": "1h"}"#,
        r#"{"profile": "agent", "spiffe_id": "spiffe://acme.internal/admin/1"}"#,
        r#"{"profile": "server", "dns": ["b.acme.internal"], "out": "b", "key_type": "ed25519"}"#,
        r#"{"profile": "server", "dns": ["c.acme.internal"], "bogus": 1}"#,
        r#"{"profile": "agent", "spiffe_id": "spiffe://acme.internal/agent/2"}"#,
    ];
    std::fs::write(env.path("req.jsonl"), lines.join("\n") + "\n").unwrap();
    let o = env.run(&["issue", "--passphrase-file", "int.pass", "--batch", "req.jsonl"]);
    assert_eq!(o.status.code(), Some(1), "some were refused: {}", stderr(&o));
    let results: Vec<serde_json::Value> = String::from_utf8(o.stdout).unwrap().lines().map(json).collect();
    assert_eq!(results.len(), 5);
    let oks: Vec<bool> = results.iter().map(|r| r["ok"].as_bool().unwrap()).collect();
    assert_eq!(oks, [true, false, true, false, true]);
    assert!(results[1]["error"]["message"].as_str().unwrap().contains("allowed_uris"));
    assert_eq!(
        (&results[1]["error"]["code"], &results[1]["error"]["rule"]),
        (&"profile-refused".into(), &"allowed_uris".into())
    );
    assert!(results[3]["error"]["message"].as_str().unwrap().contains("bogus"));
    assert!(results[0]["key_pem"].is_string() && results[2]["files"]["cert"].is_string());
    assert!(env.path("b/cert.pem").is_file());
    assert_eq!(inventory(&env.ca()).len(), 3);
    let (intact, _) = ledger_chain_intact(&env.ca());
    assert!(intact);
}

#[test]
fn batch_of_ten_thousand() {
    let env = Env::new();
    env.init();
    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str(&format!("{{\"profile\":\"agent\",\"spiffe_id\":\"spiffe://acme.internal/agent/{i}\"}}\n"));
    }
    std::fs::write(env.path("req.jsonl"), text).unwrap();
    let t = std::time::Instant::now();
    let o = env.run(&["issue", "--passphrase-file", "int.pass", "--batch", "req.jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let n = String::from_utf8(o.stdout).unwrap().lines().filter(|l| l.contains("\"ok\":true")).count();
    assert_eq!(n, 10_000);
    assert_eq!(inventory(&env.ca()).len(), 10_000);
    eprintln!("10,000 batch certificates in {:?} (debug build)", t.elapsed());
}

/// Groups are signed on several threads and committed while the next group is signed: results
/// still come out in input order, refusals and a line with its own files included, and the
/// inventory holds the issued certificates in that same order.
#[test]
fn batch_results_keep_input_order_across_overlapping_groups() {
    let env = Env::new();
    env.init();
    let mut text = String::new();
    for i in 1..=700 {
        let line = match i {
            _ if i % 97 == 0 => r#"{"profile": "agent", "spiffe_id": "spiffe://acme.internal/admin/x"}"#.to_string(),
            300 => r#"{"profile": "server", "dns": ["mid.acme.internal"], "out": "mid"}"#.to_string(),
            _ => format!(r#"{{"profile": "agent", "spiffe_id": "spiffe://acme.internal/agent/{i}"}}"#),
        };
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(env.path("req.jsonl"), text).unwrap();
    let o = env.run(&["issue", "--passphrase-file", "int.pass", "--batch", "req.jsonl"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let results: Vec<serde_json::Value> = String::from_utf8(o.stdout).unwrap().lines().map(json).collect();
    let lines: Vec<u64> = results.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, (1..=700).collect::<Vec<u64>>());
    for r in &results {
        let i = r["line"].as_u64().unwrap();
        assert_eq!(r["ok"].as_bool().unwrap(), i % 97 != 0, "line {i}: {r}");
        if i % 97 != 0 && i != 300 {
            assert_eq!(r["spiffe_id"], format!("spiffe://acme.internal/agent/{i}"), "line {i}");
        }
    }
    assert!(env.path("mid/cert.pem").is_file());
    let printed: Vec<String> =
        results.iter().filter(|r| r["ok"] == true).map(|r| r["serial"].as_str().unwrap().to_string()).collect();
    let stored: Vec<String> = inventory(&env.ca()).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(printed, stored, "inventory order differs from the results' order");
    assert_eq!(stored.len(), 700 - 7);
    assert!(std::fs::read_dir(env.ca().join("pending")).unwrap().next().is_none(), "pending/ not empty");
    let (intact, _) = ledger_chain_intact(&env.ca());
    assert!(intact);
}

/// Lifetimes mean what they say (issue 18, point 4): under a minute or with sub-second
/// precision is refused (every lifetime setting and flag), not rounded; notBefore is 60 s in
/// the past and not counted; `--ttl 1y` under `max_ttl = "1y"` is issued and not drift.
#[test]
fn lifetimes_mean_what_they_say() {
    let env = Env::new();
    env.init();
    env.append_settings(
        "\n[profiles.yearly]\nca = \"issuing\"\nmax_ttl = \"1y\"\nallowed_dns = [\"*.acme.internal\"]\n",
    );
    let before = snapshot(&env.ca());
    for (ttl, why) in [("30s", "at least 1 minute"), ("1500ms", "whole seconds"), ("59s", "at least 1 minute")] {
        let o = env.run(&[
            "issue",
            "--passphrase-file",
            "int.pass",
            "--dns",
            "a.acme.internal",
            "--ttl",
            ttl,
            "--out",
            "-",
        ]);
        assert_eq!(o.status.code(), Some(2));
        let e = assert_one_line_error(&o);
        assert!(e.contains(&format!("invalid --ttl '{ttl}'")) && e.contains(why), "{e}");
    }
    let e = assert_one_line_error(&env.run(&["gen-crl", "--passphrase-file", "int.pass", "--next-update", "10s"]));
    assert!(e.contains("invalid --next-update '10s'") && e.contains("at least 1 minute"), "{e}");
    assert_eq!(snapshot(&env.ca()), before, "a refused lifetime changed the directory");
    // A profile whose max_ttl is under a minute is itself invalid.
    let p = env.ca().join("pki.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("{text}\n[profiles.tiny]\nmax_ttl = \"20s\"\n")).unwrap();
    let e = assert_one_line_error(&env.run(&["issue", "--passphrase-file", "int.pass", "--dns", "a.acme.internal"]));
    assert!(e.contains("max_ttl") && e.contains("at least 1 minute"), "{e}");
    std::fs::write(&p, text).unwrap();

    // After the CAs were made (they start at the real clock), inside their lifetime.
    let now = "2027-06-02T10:00:00Z";
    let o = env
        .pki()
        .env("PKI_NOW", now)
        .args(["issue", "--passphrase-file", "int.pass", "--profile", "yearly", "--dns", "y.acme.internal"])
        .args(["--ttl", "1y", "--out", "y", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&String::from_utf8(o.stdout).unwrap());
    assert_eq!(v["not_before"], "2027-06-02T09:59:00Z", "notBefore is backdated 60 s");
    assert_eq!(v["not_after"], "2028-06-02T10:00:00Z", "whole years end on the same calendar date");
    let e = assert_one_line_error(&env.run(&[
        "issue",
        "--passphrase-file",
        "int.pass",
        "--profile",
        "yearly",
        "--dns",
        "z.acme.internal",
        "--ttl",
        "366d",
    ]));
    assert!(e.contains("longer than max_ttl"), "{e}");
    let a = env.pki().env("PKI_NOW", now).args(["audit", "--expiring", "30d", "--json"]).output().unwrap();
    let r = json(&String::from_utf8(a.stdout).unwrap());
    assert!(
        !r["findings"].as_array().unwrap().iter().any(|f| f["code"] == "policy-drift"),
        "a certificate at exactly max_ttl is drift: {r:#}"
    );
}

/// Only a DNS name goes into the subject CN (issue 18, point 1): an IP-only or URI-only leaf
/// under a DNS-constrained intermediate has an empty subject (SAN critical) and OpenSSL
/// (-x509_strict) accepts its chain; before, the IP was the CN and OpenSSL read it as a DNS
/// name outside the permitted subtree.
#[test]
fn an_ip_only_leaf_under_dns_constraints_verifies_in_openssl() {
    let env = Env::new();
    env.init();
    env.ok(&[
        "create-intermediate",
        "k8s",
        "--passphrase-file",
        "root.pass",
        "--new-passphrase-file",
        "int.pass",
        "--permit-dns",
        ".svc.acme.internal",
        "--permit-ip",
        "10.0.0.0/8",
    ]);
    env.append_settings(
        "\n[profiles.k8s]\nca = \"k8s\"\nallowed_dns = [\"*.svc.acme.internal\"]\nallowed_ips = [\"10.0.0.0/8\"]\n",
    );
    env.ok(&["issue", "--passphrase-file", "int.pass", "--profile", "k8s", "--ip", "10.1.2.3", "--out", "ip"]);
    let o = openssl_verify(env.tmp.path(), "ip", "sslserver");
    assert!(o.status.success(), "OpenSSL rejects the IP-only leaf: {}", stderr(&o));
    let text = openssl(&["x509", "-in", "ip/cert.pem", "-noout", "-text"], env.tmp.path());
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("X509v3 Subject Alternative Name: critical"), "{text}");
    assert!(!text.contains("CN=10.1.2.3") && !text.contains("CN = 10.1.2.3"), "{text}");
    // With a DNS name, the CN is that name.
    env.ok(&[
        "issue",
        "--passphrase-file",
        "int.pass",
        "--profile",
        "k8s",
        "--dns",
        "a.svc.acme.internal",
        "--ip",
        "10.1.2.4",
        "--out",
        "both",
    ]);
    assert!(openssl_verify(env.tmp.path(), "both", "sslserver").status.success());
    let subj = openssl(&["x509", "-in", "both/cert.pem", "-noout", "-subject"], env.tmp.path());
    assert!(String::from_utf8_lossy(&subj.stdout).contains("a.svc.acme.internal"));
}

/// One canonical form before any check (issue 18, point 2): a name is normalised before
/// policy and name constraints see it, and the certificate carries that form; a spelling that
/// would move a name outside what it was checked against is refused. Each refusal exits 2 and
/// changes nothing.
#[test]
fn names_are_checked_and_issued_in_one_canonical_form() {
    let env = Env::new();
    env.init();
    env.ok(&[
        "create-intermediate",
        "fenced",
        "--passphrase-file",
        "root.pass",
        "--new-passphrase-file",
        "int.pass",
        "--exclude-ip",
        "10.0.0.0/8",
    ]);
    env.append_settings(
        "\n[profiles.web]\nca = \"fenced\"\nallowed_dns = [\"*.acme.internal\"]\nallowed_ips = [\"0.0.0.0/0\", \"::/0\"]\nallowed_uris = [\"https://*.Example.ORG/**\"]\n",
    );
    let issue = |args: &[&str]| {
        let mut a = vec!["issue", "--passphrase-file", "int.pass", "--profile", "web", "--out", "-", "--json"];
        a.extend_from_slice(args);
        env.run(&a)
    };
    // (request, expected: Ok(SANs as issued) or Err(part of the one-line refusal))
    let rows: Vec<(Vec<&str>, Result<&str, &str>)> = vec![
        (vec!["--dns", "API.Acme.Internal."], Ok("DNS:api.acme.internal")),
        (vec!["--uri", "HTTPS://Api.EXAMPLE.org/team/x"], Ok("URI:https://api.example.org/team/x")),
        (vec!["--ip", "192.0.2.7"], Ok("IP:192.0.2.7")),
        (vec!["--ip", "::ffff:192.0.2.8"], Ok("IP:192.0.2.8")),
        (vec!["--ip", "::ffff:10.0.0.7"], Err("10.0.0.7")),
        (vec!["--ip", "10.0.0.7"], Err("10.0.0.7")),
        (vec!["--uri", "https://evil.com?.example.org/x"], Err("no query")),
        (vec!["--uri", "https://api.example.org@evil.com/x"], Err("user info")),
        (vec!["--uri", "https://evil.com%2F.example.org/x"], Err("percent-encoding")),
        (vec!["--uri", "https://api.example.org/team/../x"], Err("'..'")),
        (vec!["--dns", "bücher.acme.internal"], Err("punycode")),
    ];
    let mut accepted = 0;
    for (args, want) in &rows {
        let o = issue(args);
        match want {
            Ok(san) => {
                assert!(o.status.success(), "{args:?}: {}", stderr(&o));
                let text = String::from_utf8(o.stdout).unwrap();
                let v: serde_json::Value = serde_json::from_str(&text[text.find("{\n").unwrap()..]).unwrap();
                assert_eq!(v["sans"], serde_json::json!([san]), "{args:?}");
                accepted += 1;
            }
            Err(why) => {
                assert_eq!(o.status.code(), Some(2), "{args:?} was not refused");
                let e = assert_one_line_error(&o);
                assert!(e.contains(why), "{args:?}: {e}");
            }
        }
    }
    assert!(accepted * 3 >= rows.len(), "at least a third of the rows are accepted");
    // Only the accepted rows changed the directory: one inventory line each.
    assert_eq!(inventory(&env.ca()).len(), accepted);
}

/// Subjects are names too (issue 18, point 3): a CN is one of the certificate's DNS names
/// (normalised like them, so policy and name constraints have checked it), never an IP
/// address and never free text or control characters, with a profile or without; an SVID
/// signed from an ordinary CSR leaves the CSR's subject out and says so.
#[test]
fn the_cn_obeys_the_rules_of_a_san() {
    // No profile at all: a directory made with init-root and create-intermediate only.
    let env = Env::new();
    env.ok(&["init-root", "--cn", "Bare Root", "--no-passphrase"]);
    env.ok(&[
        "create-intermediate",
        "bare",
        "--no-passphrase",
        "--permit-dns",
        "example.com",
        "--permit-ip",
        "10.0.0.0/8",
    ]);
    let before = snapshot(&env.ca());
    for (cn, extra) in [
        ("outside.org", vec!["--dns", "a.example.com"]),
        ("Free Text", vec!["--dns", "a.example.com"]),
        ("a\u{202e}.example.com", vec!["--dns", "a.example.com"]),
        ("10.0.0.9", vec!["--ip", "10.0.0.1"]),
    ] {
        let mut args = vec!["issue", "--cn", cn, "--out", "-"];
        args.extend(extra);
        let o = env.run(&args);
        assert_eq!(o.status.code(), Some(2), "CN {cn:?} was not refused");
        assert!(assert_one_line_error(&o).contains("CN"), "{cn:?}");
    }
    assert_eq!(snapshot(&env.ca()), before, "a refused CN changed the directory");
    let v = json(&env.ok(&["issue", "--cn", "A.Example.COM.", "--dns", "a.example.com", "--out", "a", "--json"]));
    assert_eq!(v["subject"], "CN=a.example.com");
    let v = json(&env.ok(&["issue", "--cn", "10.0.0.1", "--ip", "10.0.0.1", "--out", "ip", "--json"]));
    assert_eq!(v["subject"], "", "an IP never goes into the CN");
    assert!(openssl_verify(env.tmp.path(), "ip", "sslserver").status.success());

    // An SVID from an ordinary CSR: signed, the CSR's subject left out, and said.
    let env = Env::new();
    env.init();
    openssl_p256_csr(
        env.tmp.path(),
        "agent.key",
        "agent",
        "agent.csr",
        &["-addext", "subjectAltName=URI:spiffe://acme.internal/agent/7"],
    );
    let o = env.run(&[
        "issue",
        "--passphrase-file",
        "int.pass",
        "--profile",
        "agent",
        "--csr",
        "agent.csr",
        "--out",
        "svid",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("not copied into the SVID"), "{}", stderr(&o));
    let v = json(&String::from_utf8(o.stdout).unwrap());
    assert_eq!(v["subject"], "");
    assert!(v["notes"][0].as_str().unwrap().contains("CN=agent"), "{v}");
}

/// Subject text from flags and settings (issue 18, point 3): control and bidirectional
/// formatting characters are refused; other non-ASCII text is kept, as UTF8String.
#[test]
fn subject_text_refuses_control_and_bidi_characters_and_keeps_utf8() {
    let env = Env::new();
    for bad in ["Acme\u{202e}Evil", "Acme\nCorp", "Acme\u{7f}", "Acme\u{85}"] {
        let o = env.run(&["init", "--non-interactive", "--no-passphrase", "--org", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(assert_one_line_error(&o).contains("--org"), "{bad:?}");
        assert!(!env.ca().exists());
    }
    env.ok(&[
        "init",
        "--non-interactive",
        "--no-passphrase",
        "--org",
        "Müller GmbH",
        "--trust-domain",
        "acme.internal",
    ]);
    env.ok(&["issue", "--dns", "a.acme.internal", "--out", "a"]);
    let o = openssl(&["asn1parse", "-in", "a/cert.pem"], env.tmp.path());
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(text.contains("UTF8STRING") && text.contains("M\\xC3\\xBCller") || text.contains("Müller"), "{text}");
    // A profile template with a bidirectional override is refused, naming the file and key.
    let p = env.ca().join("pki.toml");
    let t = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("{t}\n[profiles.bidi]\nsubject = \"CN={{san}},O=Acme\u{202e}Evil\"\n")).unwrap();
    let e = assert_one_line_error(&env.run(&["issue", "--dns", "b.acme.internal", "--out", "-"]));
    assert!(e.contains("subject") && e.contains("bidirectional"), "{e}");
}

/// `--not-after` (and a batch line's `not_after`) sets the end exactly: a date is midnight UTC,
/// an offset is converted to UTC; the profile's max_ttl still applies (or --clip-ttl); a time
/// in the past, a fraction of a second, or beside --ttl is refused.
#[test]
fn not_after_sets_the_exact_end() {
    let env = Env::new();
    env.init();
    let day = (time::OffsetDateTime::now_utc() + time::Duration::days(20)).date();
    let date = format!("{day}");
    let base = ["issue", "--passphrase-file", "int.pass", "--out", "-", "--json"];
    let issue = |extra: &[&str]| -> std::process::Output { env.pki().args(base).args(extra).output().unwrap() };
    let o = issue(&["--dns", "a.acme.internal", "--not-after", &date]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["not_after"], format!("{date}T00:00:00Z"));
    std::fs::write(env.path("a.pem"), v["cert_pem"].as_str().unwrap()).unwrap();
    let end =
        String::from_utf8(openssl(&["x509", "-in", "a.pem", "-noout", "-enddate"], env.tmp.path()).stdout).unwrap();
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let want = format!("notAfter={} {:>2} 00:00:00 {} GMT", months[day.month() as usize - 1], day.day(), day.year());
    assert_eq!(end.trim(), want);
    let o = issue(&["--dns", "b.acme.internal", "--not-after", &format!("{date}T10:30:00+02:00")]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["not_after"], format!("{date}T08:30:00Z"));
    // A batch line.
    std::fs::write(
        env.path("b.jsonl"),
        format!("{{\"dns\": [\"c.acme.internal\"], \"not_after\": \"{date}T12:00:00Z\", \"out\": \"-\"}}\n"),
    )
    .unwrap();
    let out = env.ok(&["issue", "--passphrase-file", "int.pass", "--batch", "b.jsonl"]);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["not_after"], format!("{date}T12:00:00Z"), "{v}");
    // Beyond the server profile's max_ttl of 90 days: refused, or clipped on request.
    let far = format!("{}", (time::OffsetDateTime::now_utc() + time::Duration::days(200)).date());
    let o = issue(&["--dns", "d.acme.internal", "--not-after", &far]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["rule"].as_str()),
        (Some("profile-refused"), Some("max_ttl")),
        "{v}"
    );
    let o = issue(&["--dns", "d.acme.internal", "--not-after", &far, "--clip-ttl"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["clipped"]["limit"], "max_ttl", "{v}");
    // Refused: the past, fractions, both forms at once.
    for (bad, want) in [
        ("2020-01-01", "at least 1 minute from now"),
        (&*format!("{date}T00:00:00.5Z"), "whole seconds"),
        ("next week", "RFC 3339 time"),
    ] {
        let before = snapshot(&env.ca());
        let o = issue(&["--dns", "e.acme.internal", "--not-after", bad]);
        assert_eq!(o.status.code(), Some(2));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["error"]["code"], "bad-lifetime", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(want), "{v}");
        assert_eq!(before, snapshot(&env.ca()));
    }
    let o = issue(&["--dns", "e.acme.internal", "--not-after", &date, "--ttl", "1h"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
}
