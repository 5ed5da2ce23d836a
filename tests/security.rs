//! Secrets stay secret: no passphrase or key material in the ledger, the inventory, the settings
//! or any output of `inspect`; issued leaf keys and CA keys are 0600 and CA keys encrypted.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

fn b64(bytes: &[u8]) -> String {
    // Standard base64 of a 24-byte window: what a leak of the DER into a PEM would contain.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bytes
        .chunks(3)
        .flat_map(|c| {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            (0..4).rev().map(move |i| T[((n >> (6 * i)) & 63) as usize] as char)
        })
        .collect()
}

#[test]
fn no_secret_leaves_the_key_files() {
    let env = Env::new();
    env.init();
    env.issue(&["--dns", "api.acme.internal", "--out", "api"]);
    env.issue(&[
        "--profile",
        "agent",
        "--spiffe-id",
        "spiffe://acme.internal/agent/1",
        "--out",
        "agent",
        "--key-type",
        "ed25519",
    ]);
    let ca = env.ca();
    // The private keys, decrypted by OpenSSL, as the bytes a leak would show.
    let mut secrets: Vec<String> = vec![ROOT_PASS.into(), INT_PASS.into()];
    for (key, pass) in [("cas/root/key.pem", "root.pass"), ("cas/issuing/key.pem", "int.pass")] {
        let o = openssl(
            &[
                "pkey",
                "-in",
                &ca.join(key).display().to_string(),
                "-passin",
                &format!("file:{pass}"),
                "-outform",
                "DER",
            ],
            env.tmp.path(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let der = &o.stdout;
        secrets.push(hex(&der[der.len() - 24..]));
        // Aligned to the 3-byte groups of a PEM body of this DER.
        let start = (der.len() - 24) / 3 * 3;
        secrets.push(b64(&der[start..start + 24]));
    }
    for leaf in ["api/key.pem", "agent/key.pem"] {
        let der = pem_ders(&env.path(leaf)).remove(0);
        secrets.push(hex(&der[der.len() - 24..]));
        let mode = std::fs::metadata(env.path(leaf)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{leaf}");
    }
    for f in ["ledger.jsonl", "inventory.tsv", "pki.toml"] {
        let text = std::fs::read_to_string(ca.join(f)).unwrap();
        assert!(!text.contains("PRIVATE KEY"), "{f} holds a key");
        for s in &secrets {
            assert!(!text.to_lowercase().contains(&s.to_lowercase()), "{f} contains a secret");
        }
    }
    // inspect describes keys (type, size, encryption) without printing them.
    for key in ["api/key.pem", "agent/key.pem", "ca/cas/issuing/key.pem"] {
        for json in [false, true] {
            let mut args = vec!["inspect", key];
            if json {
                args.push("--json");
            }
            let out = env.ok(&args);
            assert!(!out.contains("PRIVATE KEY-----") && !out.contains("BEGIN"), "{key}: {out}");
            for s in &secrets {
                assert!(!out.to_lowercase().contains(&s.to_lowercase()), "inspect {key} printed a secret: {out}");
            }
        }
    }
    // CA keys are encrypted at rest and readable by their owner only.
    for key in ["cas/root/key.pem", "cas/issuing/key.pem"] {
        let text = std::fs::read_to_string(ca.join(key)).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{key}");
        assert_eq!(std::fs::metadata(ca.join(key)).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

/// SECURITY.md's offline root: without `cas/root/key.pem`, issuing, revoking leaves, the issuing
/// CA's CRL and the audit keep working; only what needs the root says so.
#[test]
fn the_root_key_can_live_offline() {
    let env = Env::new();
    env.init();
    std::fs::rename(env.ca().join("cas/root/key.pem"), env.path("root-key-offline.pem")).unwrap();
    let s = env.issue(&["--dns", "api.acme.internal", "--out", "api"]);
    env.ok(&["revoke", &s, "--passphrase-file", "int.pass"]);
    env.ok(&["gen-crl", "--ca", "issuing", "--passphrase-file", "int.pass"]);
    let o = env.run(&["audit", "--deep", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let o = env.run(&["gen-crl", "--ca", "root", "--passphrase-file", "root.pass"]);
    let line = assert_one_line_error(&o);
    assert!(line.contains("the key of CA 'root' is not in this directory") && line.contains("SECURITY.md"), "{line}");
    // The cron line of the README signs what it can and says what it skipped.
    let o = env.run(&["gen-crl", "--all", "--passphrase-file", "int.pass"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("CRL of 'root' skipped: its key is not in this directory"), "{}", stderr(&o));
}

/// `pki change-passphrase`: the same key under a new passphrase, the old file replaced (no copy
/// left under the old passphrase), recorded and signed in the ledger; a wrong old passphrase, a
/// weak new one or a crash before the rename leave the key as it was.
#[test]
fn change_passphrase_replaces_the_key_file_atomically() {
    let env = Env::new();
    env.init();
    std::fs::write(env.path("new.pass"), "a brand new passphrase\n").unwrap();
    std::fs::write(env.path("weak.pass"), "short\n").unwrap();
    let key = env.ca().join("cas/issuing/key.pem");
    let spki = |pass: &str| {
        let o = openssl(&["pkey", "-in", &key.display().to_string(), "-passin", pass, "-pubout"], env.tmp.path());
        assert!(o.status.success(), "{}", stderr(&o));
        o.stdout
    };
    let public_before = spki(&format!("pass:{INT_PASS}"));
    // Refusals change nothing: a wrong old passphrase, a weak new one, a crash before the rename.
    let before = snapshot(&env.ca());
    for (args, crash, want) in [
        (vec!["--passphrase-file", "wrong.pass", "--new-passphrase-file", "new.pass"], None, "wrong passphrase"),
        (vec!["--passphrase-file", "int.pass", "--new-passphrase-file", "weak.pass"], None, "too weak"),
        (vec!["--passphrase-file", "int.pass", "--new-passphrase-file", "new.pass"], Some("ca-key-replaced"), ""),
    ] {
        let mut c = env.pki();
        c.args(["change-passphrase", "issuing"]).args(&args);
        if let Some(p) = crash {
            c.env("PKI_CRASH_AT", p);
        }
        let o = c.output().unwrap();
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        if crash.is_none() {
            assert_eq!(before, snapshot(&env.ca()), "{args:?} changed the directory");
        }
    }
    // The crash after the new file was renamed in but before the ledger record: one whole key
    // file under one of the two passphrases, and nothing else beside it.
    let names: Vec<String> = std::fs::read_dir(env.ca().join("cas/issuing"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(spki("file:new.pass"), public_before, "the key renamed in before the crash is whole");
    // Recorded this time (the crash came before the ledger record).
    let v: serde_json::Value = serde_json::from_str(&env.ok(&[
        "change-passphrase",
        "issuing",
        "--passphrase-file",
        "new.pass",
        "--new-passphrase-file",
        "new.pass",
        "--json",
    ]))
    .unwrap();
    assert_eq!(v, serde_json::json!({"ca": "issuing", "encrypted": true, "was_encrypted": true}));
    // Now under the new passphrase: the same key, 0600, OpenSSL opens it; the old one no longer.
    assert_eq!(spki("file:new.pass"), public_before, "the same key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let o = openssl(
        &["pkey", "-in", &key.display().to_string(), "-passin", &format!("pass:{INT_PASS}"), "-noout"],
        env.tmp.path(),
    );
    assert!(!o.status.success(), "the old passphrase still opens the key");
    let o = env.run(&["issue", "--passphrase-file", "int.pass", "--dns", "a.acme.internal", "--out", "a"]);
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
    env.ok(&["issue", "--passphrase-file", "new.pass", "--dns", "a.acme.internal", "--out", "a"]);
    // Recorded and signed; nothing for the audit to report.
    let ledger = std::fs::read_to_string(env.ca().join("ledger.jsonl")).unwrap();
    let rec = ledger.lines().rfind(|l| l.contains("\"ca-passphrase-changed\"")).unwrap();
    assert!(rec.contains("\"sig\"") && !rec.contains("brand new"), "{rec}");
    env.ok(&["ledger", "verify"]);
    let o = env.run(&["audit", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    // Unencrypted on request (the audit then says how to undo it), and back.
    env.ok(&["change-passphrase", "issuing", "--passphrase-file", "new.pass", "--no-passphrase"]);
    assert!(std::fs::read_to_string(&key).unwrap().contains("BEGIN PRIVATE KEY"));
    let o = env.run(&["audit"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("encrypt it: `pki change-passphrase issuing`"));
    env.ok(&["change-passphrase", "issuing", "--new-passphrase-file", "int.pass"]);
    assert_eq!(spki(&format!("pass:{INT_PASS}")), public_before);
}
