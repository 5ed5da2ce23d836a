//! Revocation end to end: OpenSSL and rustls-webpki refuse a revoked certificate, a mutual-TLS
//! server with the CRL stops accepting the client, CRL numbers only grow, and bad input
//! changes nothing.

mod common;

use common::*;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

fn crl_args(dir: &str) -> Vec<String> {
    vec!["-CRLfile".into(), format!("{dir}/crl/root.crl.pem"), "-CRLfile".into(), format!("{dir}/crl/issuing.crl.pem")]
}

fn openssl_verify_crl(env: &Env, out: &str) -> std::process::Output {
    let mut args: Vec<String> = vec![
        "verify".into(),
        "-x509_strict".into(),
        "-crl_check_all".into(),
        "-CAfile".into(),
        format!("{out}/root.pem"),
    ];
    args.extend(["-untrusted".into(), format!("{out}/chain.pem")]);
    args.extend(crl_args("ca"));
    args.push(format!("{out}/cert.pem"));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl(&a, env.tmp.path())
}

#[test]
fn revoked_certificates_are_refused_by_openssl_webpki_and_pki_verify() {
    let env = Env::new();
    env.init();
    let bad = env.issue(&["--profile", "server", "--dns", "bad.acme.internal", "--out", "bad"]);
    env.issue(&["--profile", "server", "--dns", "good.acme.internal", "--out", "good"]);
    env.ok(&["gen-crl", "--ca", "root", "--passphrase-file", "root.pass"]);
    let o = env.run(&[
        "revoke",
        &bad,
        "--reason",
        "keyCompromise",
        "--at",
        "2026-01-01T00:00:00Z",
        "--passphrase-file",
        "int.pass",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = openssl_verify_crl(&env, "bad");
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("certificate revoked")
            || stderr(&o).contains("certificate revoked"),
        "{}",
        stderr(&o)
    );
    let o = openssl_verify_crl(&env, "good");
    assert!(o.status.success(), "{}", stderr(&o));

    let t = openssl(&["crl", "-in", "ca/crl/issuing.crl.pem", "-noout", "-text"], env.tmp.path());
    let text = String::from_utf8_lossy(&t.stdout);
    assert!(text.contains("Key Compromise") && text.contains("X509v3 CRL Number") && text.contains(&bad), "{text}");
    assert!(text.contains("Invalidity Date"), "{text}");
    // The CRL's AKI is the CA's SKI.
    let ca = json(&env.ok(&["inspect", "--json", "ca/cas/issuing/cert.pem"]));
    let ski = ca["subject_key_id"].as_str().unwrap();
    assert!(text.contains(ski), "AKI {ski} not in {text}");

    // pki verify (rustls-webpki) tells why.
    let o = env.run(&["verify", "bad/cert.pem", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "revoked");
    assert_eq!(v["reason"], "keyCompromise");
    let o = env.run(&["verify", "good/cert.pem", "--dns", "good.acme.internal"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    // rustls-webpki directly, with the CRLs.
    let crls: Vec<Vec<u8>> =
        ["root", "issuing"].iter().map(|n| std::fs::read(env.ca().join(format!("crl/{n}.crl"))).unwrap()).collect();
    assert!(matches!(webpki_verify_crl(&env.path("bad"), &crls), Err(webpki::Error::CertRevoked)));
    webpki_verify_crl(&env.path("good"), &crls).unwrap();
    // The inventory and ledger say so.
    let inv = inventory(&env.ca());
    let row = inv.iter().find(|r| r[0] == bad).unwrap();
    assert_eq!(row[1], "revoked");
    assert_eq!(row[5], "keyCompromise");
    let (intact, records) = ledger_chain_intact(&env.ca());
    assert!(intact);
    assert!(records.iter().any(|r| r["event"] == "cert-revoked" && r["data"]["serial"] == bad.as_str()));
    assert!(records.iter().any(|r| r["event"] == "crl-generated"));
    // Human inspect of a CRL.
    let h = env.ok(&["inspect", "ca/crl/issuing.crl"]);
    assert!(h.contains("CRL number:  2") || h.contains("CRL number:  1"), "{h}");
    assert!(h.contains(&bad) && h.contains("keyCompromise"), "{h}");
}

fn webpki_verify_crl(out: &std::path::Path, crls: &[Vec<u8>]) -> Result<(), webpki::Error> {
    let root = rustls_pki_types::CertificateDer::from(pem_ders(&out.join("root.pem")).remove(0));
    let chain: Vec<rustls_pki_types::CertificateDer<'static>> =
        pem_ders(&out.join("chain.pem")).into_iter().map(rustls_pki_types::CertificateDer::from).collect();
    let leaf = rustls_pki_types::CertificateDer::from(pem_ders(&out.join("cert.pem")).remove(0));
    let anchor = webpki::anchor_from_trusted_cert(&root)?.to_owned();
    let owned: Vec<webpki::CertRevocationList<'_>> =
        crls.iter().map(|c| webpki::OwnedCertRevocationList::from_der(c).unwrap().into()).collect();
    let refs: Vec<&webpki::CertRevocationList<'_>> = owned.iter().collect();
    let rev = webpki::RevocationOptionsBuilder::new(&refs)
        .unwrap()
        .with_status_policy(webpki::UnknownStatusPolicy::Deny)
        .build();
    let ee = webpki::EndEntityCert::try_from(&leaf)?;
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &chain,
        rustls_pki_types::UnixTime::now(),
        webpki::KeyUsage::client_auth(),
        Some(rev),
        None,
    )?;
    Ok(())
}

#[test]
fn mutual_tls_accepts_the_client_before_revocation_and_refuses_it_after() {
    let env = Env::new();
    env.init();
    env.issue(&["--profile", "server", "--dns", "api.acme.internal", "--out", "server"]);
    let agent = env.issue(&["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/1", "--out", "agent"]);
    env.ok(&["gen-crl", "--ca", "issuing", "--passphrase-file", "int.pass"]);
    let handshake = |env: &Env| -> Result<(), String> {
        let crls: Vec<rustls::pki_types::CertificateRevocationListDer<'static>> = ["root", "issuing"]
            .iter()
            .filter_map(|n| std::fs::read(env.ca().join(format!("crl/{n}.crl"))).ok())
            .map(Into::into)
            .collect();
        mtls(env, "server", "agent", crls).map(|_| ())
    };
    env.ok(&["gen-crl", "--ca", "root", "--passphrase-file", "root.pass"]);
    handshake(&env).expect("accepted before revocation");
    env.ok(&["revoke", &agent, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);
    let e = handshake(&env).expect_err("refused after revocation");
    assert!(e.contains("Revoked") || e.contains("revoked"), "{e}");
}

#[test]
fn crl_numbers_strictly_increase_even_when_concurrent() {
    let env = Env::new();
    env.init_plain();
    let numbers = |env: &Env| -> Vec<u64> {
        ledger_chain_intact(&env.ca())
            .1
            .iter()
            .filter(|r| r["event"] == "crl-generated" && r["data"]["ca"] == "issuing")
            .map(|r| r["data"]["number"].as_u64().unwrap())
            .collect()
    };
    for _ in 0..40 {
        env.ok(&["gen-crl"]);
    }
    let bin = env!("CARGO_BIN_EXE_pki");
    let kids: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("for i in $(seq 15); do \"{bin}\" gen-crl 2>/dev/null || exit 1; done"))
                .env("PKI_DIR", env.ca())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut k in kids {
        assert!(k.wait().unwrap().success());
    }
    let n = numbers(&env);
    assert_eq!(n.len(), 101, "one CRL from init, then 100");
    assert!(n.windows(2).all(|w| w[1] > w[0]), "CRL numbers not strictly increasing: {n:?}");
    // The published CRL carries the last number.
    let v = json(&env.ok(&["inspect", "--json", "ca/crl/issuing.crl"]));
    assert_eq!(v["crl_number"], *n.last().unwrap());
}

#[test]
fn bad_revocations_change_nothing_and_have_their_own_status() {
    let env = Env::new();
    env.init();
    let s = env.issue(&["--profile", "server", "--dns", "a.acme.internal", "--out", "a"]);
    env.ok(&["create-intermediate", "k8s", "--passphrase-file", "root.pass", "--new-passphrase-file", "int.pass"]);
    let before = snapshot(&env.ca());
    for (args, code, want) in [
        (vec!["revoke", "0ABCDEF0", "--passphrase-file", "int.pass"], 3, "no certificate with serial 0ABCDEF0"),
        (vec!["revoke", "xyz!", "--passphrase-file", "int.pass"], 2, "invalid serial 'xyz!'"),
        (
            vec!["revoke", s.as_str(), "--reason", "stolen", "--passphrase-file", "int.pass"],
            2,
            "unknown revocation reason 'stolen'",
        ),
        (
            vec!["revoke", s.as_str(), "--ca", "k8s", "--passphrase-file", "int.pass"],
            2,
            "was issued by CA 'issuing', not 'k8s'",
        ),
        (vec!["revoke", s.as_str(), "--passphrase-file", "wrong.pass"], 2, "wrong passphrase"),
        (
            vec!["revoke", s.as_str(), "--at", "2999-01-01T00:00:00Z", "--passphrase-file", "int.pass"],
            2,
            "in the future",
        ),
    ] {
        let o = env.run(&args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains(want), "{args:?}: {e}");
        assert_eq!(before, snapshot(&env.ca()), "{args:?} changed the directory");
    }
    // Already revoked: 4, unless the new reason is keyCompromise (then updated).
    env.ok(&["revoke", &s, "--reason", "superseded", "--passphrase-file", "int.pass"]);
    let o = env.run(&["revoke", &s, "--reason", "affiliationChanged", "--passphrase-file", "int.pass"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    env.ok(&["revoke", &s, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);
    let v = json(&env.ok(&["inspect", "--json", "ca/crl/issuing.crl"]));
    assert_eq!(v["revoked_count"], 1);
    assert_eq!(v["revoked"][0]["reason"], "keyCompromise");
    // Expired: 5 (seen from a day after it ends).
    let t = env.issue(&["--profile", "server", "--dns", "t.acme.internal", "--ttl", "1h", "--out", "t"]);
    let later = (time::OffsetDateTime::now_utc() + time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let o = env.pki().args(["revoke", &t, "--passphrase-file", "int.pass"]).env("PKI_NOW", &later).output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
}

#[test]
fn revoking_an_intermediate_puts_it_on_the_roots_crl() {
    let env = Env::new();
    env.init();
    env.ok(&["create-intermediate", "old", "--passphrase-file", "root.pass", "--new-passphrase-file", "int.pass"]);
    env.append_settings("\n[profiles.old]\nca = \"old\"\nallowed_dns = [\"**.acme.internal\"]\n");
    env.issue(&["--profile", "old", "--dns", "x.acme.internal", "--out", "x"]);
    let ca = json(&env.ok(&["inspect", "--json", "ca/cas/old/cert.pem"]));
    let serial = ca["serial"].as_str().unwrap().to_string();
    let v = json(&env.ok(&["revoke", &serial, "--reason", "cACompromise", "--passphrase-file", "root.pass", "--json"]));
    assert_eq!(v["ca"], "root");
    assert_eq!(v["kind"], "ca");
    let crl = json(&env.ok(&["inspect", "--json", "ca/crl/root.crl"]));
    assert_eq!(crl["revoked"][0]["serial"], serial.as_str());
    // Leaves under it no longer verify, and it issues no more.
    env.ok(&["gen-crl", "--ca", "old", "--passphrase-file", "int.pass"]);
    let mut args: Vec<String> = vec![
        "verify".into(),
        "-crl_check_all".into(),
        "-CAfile".into(),
        "x/root.pem".into(),
        "-untrusted".into(),
        "x/chain.pem".into(),
    ];
    args.extend([
        "-CRLfile".into(),
        "ca/crl/root.crl.pem".into(),
        "-CRLfile".into(),
        "ca/crl/old.crl.pem".into(),
        "x/cert.pem".into(),
    ]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(!openssl(&a, env.tmp.path()).status.success());
    let e = assert_one_line_error(&env.run(&[
        "issue",
        "--profile",
        "old",
        "--dns",
        "y.acme.internal",
        "--passphrase-file",
        "int.pass",
        "--out",
        "y",
    ]));
    assert!(e.contains("CA 'old' has been revoked"), "{e}");
    let e =
        env.run(&["revoke", json(&env.ok(&["inspect", "--json", "ca/cas/root/cert.pem"]))["serial"].as_str().unwrap()]);
    assert!(stderr(&e).contains("a root cannot be revoked"), "{}", stderr(&e));
}

#[test]
fn crl_freshness_cron_mode_and_distribution_points() {
    let env = Env::new();
    env.init();
    // URLs and a per-CA passphrase file in the settings; they go into what the CA issues.
    let p = env.ca().join("pki.toml");
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "[ca.issuing]\n",
        &format!(
            "[ca.issuing]\ncrl_url = \"http://pki.acme.internal/crl/issuing.crl\"\nca_issuers_url = \"http://pki.acme.internal/issuing.crt\"\nnext_update = \"2d\"\npassphrase_file = \"{}\"\n",
            env.path("int.pass").display()
        ),
    );
    std::fs::write(&p, text).unwrap();
    env.ok(&["issue", "--dns", "a.acme.internal", "--ttl", "30d", "--out", "a"]);
    let t = openssl(&["x509", "-in", "a/cert.pem", "-noout", "-text"], env.tmp.path());
    let text = String::from_utf8_lossy(&t.stdout);
    assert!(
        text.contains("X509v3 CRL Distribution Points")
            && text.contains("URI:http://pki.acme.internal/crl/issuing.crl"),
        "{text}"
    );
    assert!(text.contains("CA Issuers - URI:http://pki.acme.internal/issuing.crt"), "{text}");
    // Cron mode: the first run makes the CRL; the next skips it; a revocation with --no-crl makes it due.
    let o = env.run(&["gen-crl", "--ca", "issuing", "--if-older-than", "12h"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.run(&["gen-crl", "--ca", "issuing", "--if-older-than", "12h"]);
    assert!(stderr(&o).contains("fresh"), "{}", stderr(&o));
    let s = env.issue(&["--dns", "b.acme.internal", "--out", "b"]);
    env.ok(&["revoke", &s, "--no-crl"]);
    let o = env.run(&["gen-crl", "--ca", "issuing", "--if-older-than", "12h"]);
    assert!(!stderr(&o).contains("fresh"), "a CRL behind a revocation must be regenerated: {}", stderr(&o));
    let v = json(&env.ok(&["inspect", "--json", "ca/crl/issuing.crl"]));
    assert_eq!(v["revoked_count"], 1);
    // A stale CRL: verify three days later reports it.
    let later = (time::OffsetDateTime::now_utc() + time::Duration::days(3))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let o = env.run(&["verify", "a/cert.pem", "--at", &later, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "stale_crl", "{v}");
    // Short CRL lifetimes get a warning.
    let o = env.run(&["gen-crl", "--ca", "issuing", "--next-update", "6h"]);
    assert!(stderr(&o).contains("warning"), "{}", stderr(&o));
}

#[test]
fn verify_reports_each_kind_of_failure() {
    let env = Env::new();
    env.init();
    env.issue(&["--profile", "server", "--dns", "a.acme.internal", "--ttl", "1h", "--out", "a"]);
    let verdict = |args: &[&str]| -> (i32, serde_json::Value) {
        let mut a = vec!["verify"];
        a.extend_from_slice(args);
        a.push("--json");
        let o = env.run(&a);
        (o.status.code().unwrap(), serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null))
    };
    assert_eq!(verdict(&["a/cert.pem"]).1["verdict"], "valid");
    let later = (time::OffsetDateTime::now_utc() + time::Duration::hours(3))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (c, v) = verdict(&["a/cert.pem", "--at", &later]);
    assert_eq!((c, v["verdict"].as_str().unwrap()), (1, "expired"));
    let (c, v) = verdict(&["a/cert.pem", "--at", "2020-01-01T00:00:00Z"]);
    assert_eq!((c, v["verdict"].as_str().unwrap()), (1, "not_yet_valid"));
    let (c, v) = verdict(&["a/cert.pem", "--dns", "b.acme.internal"]);
    assert_eq!((c, v["verdict"].as_str().unwrap()), (1, "wrong_name"));
    let other = Env::new();
    other.init();
    let (c, v) = verdict(&["a/cert.pem", "--root", other.ca().join("cas/root/cert.pem").to_str().unwrap()]);
    assert_eq!((c, v["verdict"].as_str().unwrap()), (1, "untrusted"));
    let o = env.run(&["verify", "nope.pem"]);
    assert_eq!(o.status.code(), Some(2));
}
