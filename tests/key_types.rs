//! Key types pki generates besides P-256: P-384 and RSA-3072 for CAs and leaves, Ed25519 for
//! leaves. A P-384 root and issuing CA and an RSA-3072 intermediate issue each kind; OpenSSL,
//! rustls-webpki and Go's crypto/x509 verify every chain and CRL; revocation, the signed ledger
//! and the CRL evidence check work with each CA key type.

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn p384_and_rsa3072_cas_and_leaves_verify_everywhere() {
    let env = Env::new();
    let mut init: Vec<&str> = INIT_ARGS.to_vec();
    init.extend_from_slice(&["--key-type", "p384"]);
    env.ok(&init);
    env.ok(&[
        "create-intermediate",
        "rsaca",
        "--key-type",
        "rsa",
        "--passphrase-file",
        "root.pass",
        "--new-passphrase-file",
        "int.pass",
    ]);
    env.append_settings(
        "\n[profiles.rsa]\nca = \"rsaca\"\ndefault_ttl = \"24h\"\nmax_ttl = \"30d\"\nkey_types = [\"p256\", \"p384\", \"rsa\", \"ed25519\"]\next_key_usage = [\"serverAuth\", \"clientAuth\"]\nallowed_dns = [\"**.acme.internal\"]\n",
    );
    // The CA keys: the curve and size asked for, encrypted, and OpenSSL opens them.
    for (ca, want) in [("root", "384 bit"), ("issuing", "384 bit"), ("rsaca", "3072 bit")] {
        let cert = env.ca().join(format!("cas/{ca}/cert.pem")).display().to_string();
        let text =
            String::from_utf8(openssl(&["x509", "-in", &cert, "-noout", "-text"], env.tmp.path()).stdout).unwrap();
        assert!(text.contains(&format!("Public-Key: ({want})")), "{ca}: {text}");
        let key = env.ca().join(format!("cas/{ca}/key.pem")).display().to_string();
        let pass = format!("file:{}", env.path(if ca == "root" { "root.pass" } else { "int.pass" }).display());
        let o = openssl(&["pkey", "-in", &key, "-passin", &pass, "-noout"], env.tmp.path());
        assert!(o.status.success(), "{ca}: {}", stderr(&o));
    }
    let mut leaves = vec![];
    let mut revoked = vec![];
    for (profile, ca) in [("server", "issuing"), ("rsa", "rsaca")] {
        for (kt, bits) in [("p384", "384 bit"), ("rsa3072", "3072 bit"), ("ed25519", "ED25519"), ("p256", "256 bit")] {
            if profile == "server" && kt == "ed25519" {
                continue; // not in the server profile's key_types
            }
            let out = format!("{ca}-{kt}");
            let dns = format!("{kt}.{ca}.acme.internal");
            let serial = env.issue(&["--profile", profile, "--dns", &dns, "--key-type", kt, "--out", &out]);
            let text = String::from_utf8(
                openssl(&["x509", "-in", &format!("{out}/cert.pem"), "-noout", "-text"], env.tmp.path()).stdout,
            )
            .unwrap();
            assert!(text.contains(bits), "{out}: {text}");
            let o = openssl_verify(env.tmp.path(), &out, "sslserver");
            assert!(o.status.success(), "OpenSSL rejects {out}: {}", stderr(&o));
            webpki_verify(&env.path(&out), webpki::KeyUsage::server_auth())
                .unwrap_or_else(|e| panic!("webpki rejects {out}: {e:?}"));
            // The key file is what the type says, and OpenSSL reads it.
            let o = openssl(&["pkey", "-in", &format!("{out}/key.pem"), "-noout", "-text"], env.tmp.path());
            assert!(o.status.success(), "{out}: {}", stderr(&o));
            let inv = json_list(&env, &serial);
            assert_eq!(inv["key_type"], if kt == "rsa3072" { "rsa" } else { kt }, "{inv}");
            let is_revoked = kt == "p384";
            if is_revoked {
                env.ok(&["revoke", &serial, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);
                revoked.push(out.clone());
            }
            leaves.push(json!({
                "name": out, "cert": env.path(&format!("{out}/cert.pem")), "chain": env.path(&format!("{out}/chain.pem")),
                "ca": ca, "purposes": ["server"], "dns": dns, "revoked": is_revoked,
            }));
        }
    }
    assert_eq!(revoked.len(), 2);
    // A second CRL of each CA is checked against its first (the evidence check reads the CA's
    // signature, RSA included), the ledger's signatures verify, and the audit is clean.
    for ca in ["issuing", "rsaca", "root"] {
        env.ok(&["gen-crl", "--ca", ca, "--passphrase-file", if ca == "root" { "root.pass" } else { "int.pass" }]);
        let crl = env.ca().join(format!("crl/{ca}.crl.pem")).display().to_string();
        let cert = env.ca().join(format!("cas/{ca}/cert.pem")).display().to_string();
        let o = openssl(&["crl", "-in", &crl, "-CAfile", &cert, "-noout", "-verify"], env.tmp.path());
        assert!(o.status.success() && stderr(&o).contains("verify OK"), "{ca}: {}", stderr(&o));
    }
    for out in &revoked {
        let o = env.run(&["verify", &format!("{out}/cert.pem"), "--json"]);
        assert_eq!(o.status.code(), Some(1), "{out} is revoked: {}", String::from_utf8_lossy(&o.stdout));
    }
    env.ok(&["ledger", "verify"]);
    let o = env.run(&["audit", "--deep", "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{:#}", report["findings"]);

    // Go's crypto/x509: every chain, every CRL signature, and which serials each CRL lists.
    let cas: Vec<Value> = ["root", "issuing", "rsaca"]
        .iter()
        .map(|n| json!({"name": n, "cert": env.ca().join(format!("cas/{n}/cert.pem")), "crl": env.ca().join(format!("crl/{n}.crl.pem"))}))
        .collect();
    let manifest = json!({"root": env.ca().join("cas/root/cert.pem"), "cas": cas, "leaves": leaves, "reject": []});
    let Some(results) = go_verify(&env, &manifest) else { return };
    let failed: Vec<&Value> = results.iter().filter(|r| r["ok"] != true).collect();
    // Revoked leaves still verify as chains (Go does not read CRLs when verifying); the CRL
    // check says whether each is listed.
    assert!(failed.is_empty(), "Go rejects: {failed:#?}");
    assert_eq!(results.iter().filter(|r| r["check"] == "go-crl-lists").count(), leaves.len());
}

fn json_list(env: &Env, serial: &str) -> Value {
    let v: Value = serde_json::from_str(&env.ok(&["list", "--json"])).unwrap();
    v.as_array().unwrap().iter().find(|r| r["serial"] == serial).cloned().unwrap()
}
