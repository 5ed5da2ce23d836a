//! `pki renew`: same names and profile, re-checked; the old certificate superseded atomically.

mod common;

use common::*;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn renew_keeps_the_key_and_supersedes_the_old_certificate() {
    let env = Env::new();
    env.init();
    let old = env.issue(&["--profile", "server", "--dns", "api.acme.internal", "--ip", "10.0.0.7", "--out", "v1"]);
    let inv_before = std::fs::read(env.ca().join("inventory.tsv")).unwrap();
    let v = json(&env.ok(&[
        "renew",
        &old.to_lowercase(),
        "--reuse-key",
        "--passphrase-file",
        "int.pass",
        "--out",
        "v2",
        "--json",
    ]));
    let new = v["serial"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(v["renews"], old.as_str());
    assert_eq!(v["sans"], serde_json::json!(["DNS:api.acme.internal", "IP:10.0.0.7"]));
    assert_eq!(v["profile"], "server");
    // Same public key; no new key file.
    let a = openssl(&["x509", "-in", "v1/cert.pem", "-noout", "-pubkey"], env.tmp.path());
    let b = openssl(&["x509", "-in", "v2/cert.pem", "-noout", "-pubkey"], env.tmp.path());
    assert_eq!(a.stdout, b.stdout);
    assert!(!env.path("v2/key.pem").exists());
    let o = openssl_verify(env.tmp.path(), "v2", "sslserver");
    assert!(o.status.success());

    // The old line was rewritten in place: same length, now superseded by the new serial.
    let inv = inventory(&env.ca());
    assert_eq!(inv.len(), 2);
    assert_eq!(inv[0][0], old);
    assert_eq!(inv[0][1], "superseded");
    assert_eq!(inv[0][6], new);
    assert_eq!(inv[1][0], new);
    let inv_after = std::fs::read(env.ca().join("inventory.tsv")).unwrap();
    assert_eq!(inv_after[..inv_before.len()].len(), inv_before.len());
    let v = json(&env.ok(&["list", "--json", "--status", "superseded"]));
    assert_eq!(v[0]["serial"], old.as_str());
    // Renewing the old one again is refused; the new one can be renewed, from its file, with a
    // new key (the default, as pki generated the key).
    let e = assert_one_line_error(&env.run(&["renew", &old, "--passphrase-file", "int.pass", "--out", "v3"]));
    assert!(e.contains(&format!("already renewed by {new}")), "{e}");
    let v =
        json(&env.ok(&["renew", "--cert", "v2/cert.pem", "--passphrase-file", "int.pass", "--out", "v3", "--json"]));
    assert!(env.path("v3/key.pem").is_file());
    let c = openssl(&["x509", "-in", "v3/cert.pem", "-noout", "-pubkey"], env.tmp.path());
    assert_ne!(c.stdout, b.stdout);
    assert_eq!(v["renews"], new.as_str());
    // reindex reproduces the same states from the ledger.
    let before = std::fs::read(env.ca().join("inventory.tsv")).unwrap();
    env.ok(&["reindex"]);
    assert_eq!(before, std::fs::read(env.ca().join("inventory.tsv")).unwrap());
    assert!(ledger_chain_intact(&env.ca()).0);
}

#[test]
fn renew_rechecks_todays_profile_and_bad_input_changes_nothing() {
    let env = Env::new();
    env.init();
    let old = env.issue(&["--profile", "server", "--dns", "api.acme.internal", "--ttl", "60d", "--out", "v1"]);
    // The team lowers max_ttl; a renewal with the old 60-day lifetime is refused, or clipped.
    let p = env.ca().join("pki.toml");
    let text = std::fs::read_to_string(&p).unwrap().replacen("max_ttl = \"90d\"", "max_ttl = \"30d\"", 1);
    std::fs::write(&p, text).unwrap();
    let before = snapshot(&env.ca());
    for (args, want) in [
        (vec!["renew", old.as_str(), "--out", "v2"], "longer than max_ttl 30d"),
        (vec!["renew", "00112233", "--out", "v2"], "no certificate with serial 112233"),
        (vec!["renew", "xyz", "--out", "v2"], "invalid serial 'xyz'"),
        (vec!["renew", "--cert", "ca/pki.toml", "--out", "v2"], "not a certificate"),
        (vec!["renew", "--cert", "v1/root.pem", "--out", "v2"], "no certificate with serial"),
        (vec!["renew", old.as_str(), "--out", "v1"], "already exists"),
    ] {
        let mut a = args.clone();
        a.extend(["--passphrase-file", "int.pass"]);
        let e = assert_one_line_error(&env.run(&a));
        assert!(e.contains(want), "{args:?}: {e}");
        assert_eq!(before, snapshot(&env.ca()), "{args:?}");
    }
    let v = json(&env.ok(&["renew", &old, "--clip-ttl", "--passphrase-file", "int.pass", "--out", "v2", "--json"]));
    assert_eq!(v["renews"], old.as_str());
}

#[test]
fn a_crash_between_append_and_supersede_is_finished_by_the_next_run() {
    let env = Env::new();
    env.init_plain();
    let old = env.ok(&["issue", "--dns", "a.acme.internal", "--out", "a"]).trim().to_string();
    let o = env.pki().args(["renew", &old, "--out", "b"]).env("PKI_CRASH_AT", "renew-appended").output().unwrap();
    assert!(!o.status.success());
    assert_eq!(inventory(&env.ca())[0][1], "valid", "the crash hook fired before the supersede");
    // Any locked command repairs it.
    env.ok(&["issue", "--dns", "c.acme.internal", "--out", "c"]);
    let inv = inventory(&env.ca());
    assert_eq!(inv[0][1], "superseded");
    assert_eq!(inv[0][6], inv[1][0]);
}

#[test]
fn a_revoked_certificate_cannot_be_renewed() {
    let env = Env::new();
    env.init();
    let s = env.issue(&["--profile", "server", "--dns", "api.acme.internal", "--out", "v1"]);
    env.ok(&["revoke", &s, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);
    let before = snapshot(&env.ca());
    let e = assert_one_line_error(&env.run(&["renew", &s, "--passphrase-file", "int.pass", "--out", "v2"]));
    assert!(e.contains("is revoked"), "{e}");
    assert_eq!(before, snapshot(&env.ca()));
}
