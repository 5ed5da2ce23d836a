//! The CA directory core, end to end: the real binary, real directories, and certificates
//! checked by OpenSSL and rustls-webpki.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn init_issue_verifies_with_openssl_and_webpki() {
    let env = Env::new();
    env.init();
    let serial = env.issue(&["--dns", "api.acme.internal", "--ip", "10.0.0.7", "--out", "api"]);
    assert_eq!(serial.len(), 32, "{serial}");

    for purpose in ["sslclient", "sslserver"] {
        let o = openssl_verify(env.tmp.path(), "api", purpose);
        assert!(o.status.success(), "openssl verify {purpose}: {}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "api/cert.pem: OK");
    }
    webpki_verify(&env.path("api"), webpki::KeyUsage::client_auth()).unwrap();
    webpki_verify(&env.path("api"), webpki::KeyUsage::server_auth()).unwrap();

    // OpenSSL prints the same serial we did.
    let o = openssl(&["x509", "-noout", "-serial", "-in", "api/cert.pem"], env.tmp.path());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), format!("serial={serial}"));

    // The leaf's key matches its certificate, and is P-256.
    let k = openssl(&["pkey", "-in", "api/key.pem", "-pubout"], env.tmp.path());
    let c = openssl(&["x509", "-in", "api/cert.pem", "-noout", "-pubkey"], env.tmp.path());
    assert!(k.status.success());
    assert_eq!(k.stdout, c.stdout);

    // fullchain = leaf + chain; chain excludes the leaf and the root.
    let full = pem_ders(&env.path("api/fullchain.pem"));
    let chain = pem_ders(&env.path("api/chain.pem"));
    assert_eq!(full.len(), 2);
    assert_eq!(full[1..], chain[..]);
    assert_eq!(full[0], pem_ders(&env.path("api/cert.pem"))[0]);

    // The certificate text as OpenSSL reads it: CA:FALSE, KU, EKU, SKI/AKI, SANs.
    let t = openssl(&["x509", "-in", "api/cert.pem", "-noout", "-text"], env.tmp.path());
    let text = String::from_utf8_lossy(&t.stdout);
    for want in [
        "CA:FALSE",
        "Digital Signature",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        "DNS:api.acme.internal, IP Address:10.0.0.7",
    ] {
        assert!(text.contains(want), "missing {want} in\n{text}");
    }
}

#[test]
fn ed25519_leaf_under_p256_ca_and_ed25519_cas() {
    let env = Env::new();
    env.init();
    env.issue(&[
        "--profile",
        "agent",
        "--spiffe-id",
        "spiffe://acme.internal/agent/1",
        "--key-type",
        "ed25519",
        "--out",
        "agent",
    ]);
    let o = openssl_verify(env.tmp.path(), "agent", "sslclient");
    assert!(o.status.success(), "{}", stderr(&o));
    webpki_verify(&env.path("agent"), webpki::KeyUsage::client_auth()).unwrap();
    let k = openssl(&["pkey", "-in", "agent/key.pem", "-noout", "-text"], env.tmp.path());
    assert!(String::from_utf8_lossy(&k.stdout).contains("ED25519 Private-Key"), "{}", stderr(&k));

    // An all-Ed25519 hierarchy.
    let env2 = Env::new();
    env2.ok(&[
        "init",
        "--non-interactive",
        "--key-type",
        "ed25519",
        "--passphrase-file",
        "root.pass",
        "--new-passphrase-file",
        "int.pass",
    ]);
    env2.issue(&["--dns", "db.acme.internal", "--out", "db"]);
    let o = openssl_verify(env2.tmp.path(), "db", "sslserver");
    assert!(o.status.success(), "{}", stderr(&o));
    webpki_verify(&env2.path("db"), webpki::KeyUsage::server_auth()).unwrap();
}

#[test]
fn ca_keys_are_encrypted_0600_and_open_only_with_the_right_passphrase() {
    let env = Env::new();
    env.init();
    env.issue(&["--dns", "api.acme.internal", "--out", "api"]);
    let ca = env.ca();
    assert_eq!(std::fs::metadata(&ca).unwrap().permissions().mode() & 0o777, 0o700);
    for (name, pass) in [("root", "root.pass"), ("issuing", "int.pass")] {
        let key = ca.join(format!("cas/{name}/key.pem"));
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(std::fs::read_to_string(&key).unwrap().starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let k = key.display().to_string();
        let right = openssl(&["pkey", "-in", &k, "-passin", &format!("file:{pass}"), "-noout"], env.tmp.path());
        assert!(right.status.success(), "{}", stderr(&right));
        let wrong = openssl(&["pkey", "-in", &k, "-passin", "file:wrong.pass", "-noout"], env.tmp.path());
        assert!(!wrong.status.success());
        let none = openssl(&["pkey", "-in", &k, "-passin", "pass:", "-noout"], env.tmp.path());
        assert!(!none.status.success());
    }
    assert_eq!(std::fs::metadata(env.path("api/key.pem")).unwrap().permissions().mode() & 0o777, 0o600);
    // Nothing in the CA directory is readable by others.
    for (path, (mode, _)) in snapshot(&ca) {
        assert_eq!(mode & 0o077, 0, "{path} has mode {mode:o}");
    }
}

#[test]
fn keys_written_by_openssl_are_read() {
    let env = Env::new();
    env.init();
    // Re-encrypt the issuing CA key the way OpenSSL does by default (PBES2, PBKDF2, AES-256-CBC).
    let key = env.ca().join("cas/issuing/key.pem").display().to_string();
    let o = openssl(
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            &key,
            "-passin",
            "file:int.pass",
            "-passout",
            "pass:openssl-pass",
            "-out",
            "ossl.pem",
        ],
        env.tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::copy(env.path("ossl.pem"), &key).unwrap();
    let o = env
        .pki()
        .args(["issue", "--dns", "x.acme.internal", "--out", "x"])
        .env("PKI_PASSPHRASE", "openssl-pass")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // A key from `openssl genpkey -aes256` describes as encrypted with PBKDF2.
    let o = openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-aes256",
            "-pass",
            "pass:x",
            "-out",
            "g.pem",
        ],
        env.tmp.path(),
    );
    assert!(o.status.success());
    let out = env.ok(&["inspect", "g.pem", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "private_key");
    assert_eq!(v["encrypted"], true);
    assert_eq!(v["encryption"], "PBES2 pbkdf2 aes-256-cbc");
}

#[test]
fn passphrase_sources_and_their_errors() {
    let env = Env::new();
    env.init();
    // From the environment.
    let o = env
        .pki()
        .args(["issue", "--dns", "a.acme.internal", "--out", "a"])
        .env("PKI_PASSPHRASE", INT_PASS)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // From PKI_PASSPHRASE_FILE.
    let o = env
        .pki()
        .args(["issue", "--dns", "b.acme.internal", "--out", "b"])
        .env("PKI_PASSPHRASE_FILE", "int.pass")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // None, and no terminal: a clear error naming the options, and nothing written.
    let before = snapshot(&env.ca());
    let o = env.run(&["issue", "--dns", "c.acme.internal", "--out", "c"]);
    let e = assert_one_line_error(&o);
    assert!(
        e.contains("--passphrase-file") && e.contains("PKI_PASSPHRASE_FILE") && e.contains("PKI_PASSPHRASE"),
        "{e}"
    );
    assert_eq!(before, snapshot(&env.ca()));
    assert!(!env.path("c").exists());
    // The passphrase never appears in any output or in the CA directory.
    for f in snapshot(&env.ca()).keys() {
        let p = env.ca().join(f);
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            assert!(!String::from_utf8_lossy(&bytes).contains(INT_PASS), "{f} contains the passphrase");
        }
    }
}

#[test]
fn refusals_exit_2_with_one_line_and_change_nothing() {
    let env = Env::new();
    env.init();
    env.issue(&["--dns", "first.acme.internal", "--out", "first"]);
    let ca = env.ca();
    let before = snapshot(&ca);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["issue", "--passphrase-file", "wrong.pass", "--dns", "x.acme.internal", "--out", "w"],
            "wrong passphrase for",
        ),
        (vec!["init-root", "--cn", "Again", "--passphrase-file", "root.pass"], "already exists"),
        (vec!["init", "--non-interactive", "--passphrase-file", "root.pass"], "is already a CA directory"),
        (
            vec![
                "create-intermediate",
                "issuing",
                "--passphrase-file",
                "root.pass",
                "--new-passphrase-file",
                "int.pass",
            ],
            "already exists",
        ),
        (
            vec!["issue", "--passphrase-file", "int.pass", "--dns", "x.acme.internal", "--ttl", "5x", "--out", "t"],
            "invalid --ttl '5x'",
        ),
        (
            vec!["issue", "--passphrase-file", "int.pass", "--dns", "x.acme.internal", "--ttl=-1h", "--out", "t"],
            "invalid --ttl",
        ),
        (
            vec!["issue", "--passphrase-file", "int.pass", "--dns", "x.acme.internal", "--ttl", "-1h", "--out", "t"],
            "unexpected argument",
        ),
        (vec!["issue", "--no-such-flag"], "unexpected argument '--no-such-flag'"),
        (vec!["frobnicate"], "unrecognized subcommand"),
        (
            vec!["issue", "--passphrase-file", "int.pass", "--dns", "x.acme.internal", "--ttl", "20y", "--out", "t"],
            "lifetime 20y is longer than max_ttl 90d",
        ),
        (
            vec!["issue", "--passphrase-file", "int.pass", "--dns", "bad name", "--out", "t"],
            "invalid --dns name 'bad name'",
        ),
        (vec!["issue", "--passphrase-file", "int.pass", "--ip", "10.0.0.300", "--out", "t"], "invalid --ip address"),
        (vec!["issue", "--passphrase-file", "int.pass", "--cn", "no san here", "--out", "t"], "at least one name"),
        (
            vec!["issue", "--passphrase-file", "int.pass", "--dns", "x.acme.internal", "--ca", "nope", "--out", "t"],
            "no CA named 'nope' in this directory",
        ),
        (
            vec![
                "issue",
                "--passphrase-file",
                "int.pass",
                "--dns",
                "x.acme.internal",
                "--profile",
                "nope",
                "--out",
                "t",
            ],
            "no profile named 'nope'",
        ),
        (
            vec!["issue", "--passphrase-file", "int.pass", "--dns", "first.acme.internal", "--out", "first"],
            "already exists",
        ),
        (
            vec![
                "issue",
                "--passphrase-file",
                "int.pass",
                "--dns",
                "x.acme.internal",
                "--lock-timeout",
                "soon",
                "--out",
                "t",
            ],
            "invalid --lock-timeout",
        ),
        (
            vec!["create-intermediate", "k8s", "--passphrase-file", "wrong.pass", "--new-passphrase-file", "int.pass"],
            "wrong passphrase",
        ),
        (
            vec!["create-intermediate", "k8s", "--permit-ip", "10.0.0.0/40", "--passphrase-file", "root.pass"],
            "bad prefix length",
        ),
        (vec!["create-intermediate", "bad/name", "--passphrase-file", "root.pass"], "invalid CA name"),
    ];
    for (args, want) in cases {
        let o = env.run(&args);
        let e = assert_one_line_error(&o);
        assert!(e.contains(want), "pki {args:?}: expected '{want}' in: {e}");
        assert_eq!(before, snapshot(&ca), "pki {args:?} changed the CA directory");
        assert!(!env.path("t").exists() && !env.path("w").exists(), "pki {args:?} wrote output files");
    }
}

#[test]
fn missing_directory_and_garbage_input() {
    let env = Env::new();
    // Missing directory: exit 2, one line, nothing created.
    let o = env.run(&["issue", "--dns", "x.acme.internal", "--passphrase-file", "int.pass"]);
    let e = assert_one_line_error(&o);
    assert!(e.contains("no CA directory at") && e.contains("pki init"), "{e}");
    assert!(!env.ca().exists());
    let o = env.run(&["list"]);
    assert_one_line_error(&o);
    assert!(!env.ca().exists());

    env.init();
    let before = snapshot(&env.ca());
    std::fs::write(env.path("garbage.bin"), b"\x30\x82\x01\x00garbage\xff\xfe").unwrap();
    std::fs::write(env.path("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
        .unwrap();
    std::fs::write(env.path("text.txt"), "hello world\n").unwrap();
    std::fs::write(env.path("empty"), "").unwrap();
    for f in ["garbage.bin", "garbage.pem", "text.txt", "empty", "does-not-exist"] {
        let o = env.run(&["inspect", f]);
        let e = assert_one_line_error(&o);
        assert!(e.contains(f), "{e}");
    }
    let o =
        env.pki().args(["inspect", "-"]).stdin(std::fs::File::open(env.path("text.txt")).unwrap()).output().unwrap();
    let e = assert_one_line_error(&o);
    assert!(e.contains("standard input"), "{e}");
    assert_eq!(before, snapshot(&env.ca()));
}

#[test]
fn inspect_detects_every_kind_in_pem_and_der() {
    let env = Env::new();
    env.init();
    env.issue(&["--dns", "api.acme.internal", "--out", "api"]);
    let dir = env.tmp.path();
    assert!(openssl(&["x509", "-in", "api/cert.pem", "-outform", "DER", "-out", "cert.der"], dir).status.success());
    assert!(
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-nodes",
                "-keyout",
                "csr.key",
                "-subj",
                "/CN=csr",
                "-addext",
                "subjectAltName=DNS:csr.acme.internal",
                "-out",
                "req.pem"
            ],
            dir
        )
        .status
        .success()
    );
    assert!(openssl(&["req", "-in", "req.pem", "-outform", "DER", "-out", "req.der"], dir).status.success());
    assert!(
        openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem"], dir)
            .status
            .success()
    );
    assert!(openssl(&["pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub"], dir).status.success());
    assert!(openssl(&["pkey", "-in", "rsa.pem", "-outform", "DER", "-out", "rsa.der"], dir).status.success());
    // A CRL made by OpenSSL, with the test's own throw-away CA.
    assert!(
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "t.key",
                "-subj",
                "/CN=T",
                "-out",
                "t.pem"
            ],
            dir
        )
        .status
        .success()
    );
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    std::fs::write(
        dir.join("o.cnf"),
        "[ca]\ndefault_ca=c\n[c]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=7\n",
    )
    .unwrap();
    let o =
        openssl(&["ca", "-config", "o.cnf", "-gencrl", "-keyfile", "t.key", "-cert", "t.pem", "-out", "crl.pem"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(openssl(&["crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der"], dir).status.success());

    let j = |f: &str| -> serde_json::Value { serde_json::from_str(&env.ok(&["inspect", "--json", f])).unwrap() };
    let c = j("cert.der");
    assert_eq!(c["type"], "certificate");
    assert_eq!(c["sans"][0], "DNS:api.acme.internal");
    assert_eq!(c["is_ca"], false);
    assert_eq!(c["public_key"]["algorithm"], "ECDSA P-256");
    let chain = j("api/fullchain.pem");
    assert_eq!(chain["objects"].as_array().unwrap().len(), 2);
    assert_eq!(chain["objects"][0]["signed_by_next"], true);
    assert_eq!(chain["objects"][1]["is_ca"], true);
    assert_eq!(chain["objects"][1]["path_len"], 0);
    for f in ["req.pem", "req.der"] {
        let r = j(f);
        assert_eq!(r["type"], "csr", "{f}");
        assert_eq!(r["public_key"]["algorithm"], "ECDSA P-384");
        assert_eq!(r["signature_valid"], true);
        assert_eq!(r["requested_sans"][0], "DNS:csr.acme.internal");
    }
    for f in ["crl.pem", "crl.der"] {
        let r = j(f);
        assert_eq!(r["type"], "crl", "{f}");
        assert_eq!(r["crl_number"], 1, "a number, as gen-crl --json prints it");
        assert_eq!(r["stale"], false);
    }
    for f in ["rsa.pem", "rsa.der"] {
        let r = j(f);
        assert_eq!(r["type"], "private_key", "{f}");
        assert_eq!(r["algorithm"], "RSA");
        assert_eq!(r["bits"], 2048);
    }
    assert_eq!(j("rsa.pub")["type"], "public_key");
    // Key material is never printed.
    let human = env.ok(&["inspect", "api/key.pem"]);
    assert!(human.contains("ECDSA P-256") && human.contains("Encrypted:   no"), "{human}");
    let key_b64: String = std::fs::read_to_string(env.path("api/key.pem")).unwrap().lines().nth(1).unwrap().to_string();
    assert!(!human.contains(&key_b64[..20]));
    // Human output of a certificate: the facts a person looks for.
    let human = env.ok(&["inspect", "api/cert.pem"]);
    for want in [
        "Subject:     CN=api.acme.internal",
        "Serial:",
        "left)",
        "SANs:        DNS:api.acme.internal",
        "Ext. usage:  serverAuth, clientAuth",
        "SHA-256:",
    ] {
        assert!(human.contains(want), "missing {want} in\n{human}");
    }
    // Stdin.
    let o = env
        .pki()
        .args(["inspect", "-", "--json"])
        .stdin(std::fs::File::open(env.path("cert.der")).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success());
}

/// The filters a person reaches for: --expiring, --profile, --name (a shell glob over every
/// name), --ca; rows sorted by expiry by default (--sort to change it).
#[test]
fn list_filters_by_expiry_profile_and_name_and_sorts_by_expiry() {
    let env = Env::new();
    env.init();
    let web = env.issue(&["--dns", "web.acme.internal", "--ttl", "3d", "--out", "w"]);
    let api = env.issue(&["--dns", "api.acme.internal", "--dns", "api.eu.acme.internal", "--ttl", "1h", "--out", "a"]);
    let ip = env.issue(&["--ip", "10.0.0.7", "--ttl", "30h", "--out", "i"]);
    let agent = env.issue(&["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/7", "--out", "g"]);
    let serials = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["list", "--json"];
        a.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&env.ok(&a)).unwrap();
        v.as_array().unwrap().iter().map(|r| r["serial"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(serials(&[]), [web.as_str(), api.as_str(), ip.as_str(), agent.as_str()], "JSON streams in issue order");
    assert_eq!(serials(&["--sort", "expiry"]), [api.as_str(), agent.as_str(), ip.as_str(), web.as_str()]);
    assert_eq!(serials(&["--expiring", "2h"]), [api.as_str(), agent.as_str()]);
    assert_eq!(serials(&["--expiring", "2d"]), [api.as_str(), ip.as_str(), agent.as_str()]);
    assert_eq!(serials(&["--profile", "agent"]), [agent.as_str()]);
    assert_eq!(serials(&["--name", "*.EU.acme.internal"]), [api.as_str()], "any name, case-insensitive");
    assert_eq!(serials(&["--name", "10.0.0.*"]), [ip.as_str()]);
    assert_eq!(serials(&["--name", "spiffe://acme.internal/agent/*"]), [agent.as_str()]);
    assert_eq!(serials(&["--name", "*.acme.internal", "--expiring", "2d"]), [api.as_str()]);
    assert!(serials(&["--ca", "root"]).is_empty());
    // Revoked and expired certificates are not "expiring".
    env.ok(&["revoke", &api, "--passphrase-file", "int.pass"]);
    assert_eq!(serials(&["--expiring", "2d"]), [ip.as_str(), agent.as_str()]);
    // The table: soonest first, one status column, relative expiry, at the width asked for.
    let o = env.pki().args(["list"]).env("COLUMNS", "80").output().unwrap();
    let table = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["SERIAL", "STATUS", "EXPIRES", "CA", "NAMES"]);
    let first: Vec<&str> = lines[1..].iter().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(first, [api.as_str(), agent.as_str(), ip.as_str(), web.as_str()], "{table}");
    assert!(lines[1].contains("revoked"), "{table}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{table}");
    let e = env.run(&["list", "--expiring", "soon"]);
    assert!(stderr(&e).contains("--expiring"), "{}", stderr(&e));
}

#[test]
fn list_table_json_and_filters() {
    let env = Env::new();
    env.init();
    let a = env.issue(&["--dns", "a.acme.internal", "--out", "a"]);
    let b = env.issue(&["--dns", "b.acme.internal", "--ttl", "1h", "--out", "b"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["list", "--json"])).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["serial"], a.as_str());
    assert_eq!(arr[1]["serial"], b.as_str());
    assert_eq!(arr[0]["status"], "valid");
    assert!(arr[0].get("state").is_none(), "one status field: {}", arr[0]);
    assert_eq!(arr[0]["sans"][0], "DNS:a.acme.internal");
    // In two hours the 1h certificate has expired.
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
    let later = later.format(&time::format_description::well_known::Rfc3339).unwrap();
    let o = env.pki().args(["list", "--json", "--status", "expired"]).env("PKI_NOW", &later).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["serial"], b.as_str());
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["list", "--json", "--ca", "root"])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 0);
    let table = env.ok(&["list"]);
    assert!(table.contains(&a) && table.contains("a.acme.internal"), "{table}");
}

#[test]
fn inventory_ledger_and_reindex() {
    let env = Env::new();
    env.init();
    let mut serials = vec![];
    for i in 0..5 {
        serials.push(env.issue(&["--dns", &format!("s{i}.acme.internal"), "--out", &format!("o{i}")]));
    }
    let ca = env.ca();
    let inv = inventory(&ca);
    assert_eq!(inv.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), serials);
    assert!(inv.iter().all(|r| r[1] == "valid" && r[7] == "issuing" && r[9] == "p256"));
    let (intact, records) = ledger_chain_intact(&ca);
    assert!(intact);
    assert_eq!(records.iter().filter(|r| r["event"] == "cert-issued").count(), 5);
    assert_eq!(records.iter().filter(|r| r["event"] == "ca-created").count(), 2);
    assert!(records.iter().all(|r| r["actor"] == "test@suite"));
    // CI identifiers and notes are recorded.
    let o = env
        .pki()
        .args([
            "issue",
            "--passphrase-file",
            "int.pass",
            "--dns",
            "ci.acme.internal",
            "--out",
            "ci",
            "--note",
            "TICKET-1",
        ])
        .env("GITHUB_RUN_ID", "777")
        .output()
        .unwrap();
    assert!(o.status.success());
    let (_, records) = ledger_chain_intact(&ca);
    let last = records.last().unwrap();
    assert_eq!(last["ci"]["GITHUB_RUN_ID"], "777");
    assert_eq!(last["note"], "TICKET-1");

    // reindex rebuilds the same inventory from the ledger and the certificate files.
    let original = std::fs::read(ca.join("inventory.tsv")).unwrap();
    std::fs::remove_file(ca.join("inventory.tsv")).unwrap();
    env.ok(&["reindex"]);
    assert_eq!(std::fs::read(ca.join("inventory.tsv")).unwrap(), original);
    // A certificate file that goes missing is reported and left out.
    std::fs::remove_file(cert_file(&ca, &serials[0])).unwrap();
    let o = env.run(&["reindex"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains(&serials[0]), "{}", stderr(&o));
    assert_eq!(inventory(&ca).len(), 5);
    // A certificate file swapped for another is detected by its SHA-256 in the ledger.
    std::fs::copy(cert_file(&ca, &serials[2]), cert_file(&ca, &serials[1])).unwrap();
    let o = env.run(&["reindex"]);
    assert!(stderr(&o).contains("does not match"), "{}", stderr(&o));
    assert_eq!(inventory(&ca).len(), 4);
}

#[test]
fn init_refuses_a_non_empty_foreign_directory() {
    let env = Env::new();
    std::fs::create_dir(env.ca()).unwrap();
    std::fs::write(env.ca().join("notes.txt"), "mine").unwrap();
    let before = snapshot(&env.ca());
    let o = env.run(&["init-root", "--cn", "X", "--no-passphrase"]);
    let e = assert_one_line_error(&o);
    assert!(e.contains("not empty"), "{e}");
    assert_eq!(before, snapshot(&env.ca()));
}

#[test]
fn ledger_tampering_is_detected() {
    let env = Env::new();
    env.init();
    env.issue(&["--dns", "a.acme.internal", "--out", "a"]);
    env.issue(&["--dns", "b.acme.internal", "--out", "b"]);
    let o = env.run(&["ledger-verify", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let p = env.ca().join("ledger.jsonl");
    let text = std::fs::read_to_string(&p).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // An edit, a deletion and a reordering each break the chain.
    let edited = text.replacen("a.acme.internal", "z.acme.internal", 1);
    let deleted = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[3]);
    let reordered = format!("{}\n{}\n{}\n{}\n", lines[0], lines[1], lines[3], lines[2]);
    for bad in [edited, deleted, reordered] {
        std::fs::write(&p, &bad).unwrap();
        let o = env.run(&["ledger-verify"]);
        assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
        assert!(String::from_utf8_lossy(&o.stdout).contains("BROKEN"));
    }
}

#[test]
fn a_locked_directory_waits_then_times_out_clearly() {
    let env = Env::new();
    env.init();
    // The lock is the directory's own (deleting a file cannot take it away).
    let f = std::fs::File::open(env.ca()).unwrap();
    f.lock().unwrap();
    let before = snapshot(&env.ca());
    let t = std::time::Instant::now();
    let o = env.run(&[
        "issue",
        "--passphrase-file",
        "int.pass",
        "--dns",
        "a.acme.internal",
        "--out",
        "a",
        "--lock-timeout",
        "1s",
    ]);
    let e = assert_one_line_error(&o);
    assert!(t.elapsed() >= std::time::Duration::from_secs(1));
    assert!(e.contains("stayed locked") && e.contains("--lock-timeout"), "{e}");
    assert_eq!(before, snapshot(&env.ca()));
    // Once released, a waiting process proceeds.
    let child = env
        .pki()
        .args(["issue", "--passphrase-file", "int.pass", "--dns", "a.acme.internal", "--out", "a"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    f.unlock().unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
}

#[test]
fn out_files_force_and_default_dir() {
    let env = Env::new();
    env.init();
    env.issue(&["--dns", "a.acme.internal", "--out", "a"]);
    let first = std::fs::read(env.path("a/cert.pem")).unwrap();
    env.issue(&["--dns", "a.acme.internal", "--out", "a", "--force"]);
    assert_ne!(first, std::fs::read(env.path("a/cert.pem")).unwrap());
    // Without --out, files go to a directory named after the CN.
    env.issue(&["--dns", "web.acme.internal"]);
    assert!(env.path("web.acme.internal/cert.pem").is_file());
    // --json names every file written.
    let out = env.issue(&["--dns", "j.acme.internal", "--out", "j", "--json", "--key-passphrase-file", "root.pass"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for k in ["serial", "subject", "sans", "not_before", "not_after", "issuer"] {
        assert!(!v[k].is_null(), "{k} missing in {v}");
    }
    for k in ["cert", "key", "chain", "fullchain", "root"] {
        assert!(
            std::path::Path::new(v["files"][k].as_str().unwrap()).is_absolute()
                || env.path(v["files"][k].as_str().unwrap()).is_file()
        );
    }
    // --key-passphrase-file encrypted the leaf key.
    let k = openssl(&["pkey", "-in", "j/key.pem", "-passin", "file:root.pass", "-noout"], env.tmp.path());
    assert!(k.status.success());
    assert!(std::fs::read_to_string(env.path("j/key.pem")).unwrap().contains("ENCRYPTED"));
}

#[test]
fn name_constrained_intermediate() {
    let env = Env::new();
    env.init();
    env.ok(&[
        "create-intermediate",
        "k8s",
        "--permit-dns",
        ".svc.acme.internal",
        "--permit-ip",
        "10.0.0.0/8",
        "--exclude-dns",
        "secret.svc.acme.internal",
        "--passphrase-file",
        "root.pass",
        "--new-passphrase-file",
        "int.pass",
    ]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", "--json", "ca/cas/k8s/cert.pem"])).unwrap();
    assert_eq!(v["name_constraints"]["critical"], true);
    assert_eq!(v["name_constraints"]["permitted"][0], "DNS:svc.acme.internal");
    assert_eq!(v["name_constraints"]["permitted"][1], "IP:10.0.0.0/8");
    // A profile for the new CA; it allows more than the CA's constraints do.
    env.append_settings("\n[profiles.k8s]\nca = \"k8s\"\nmax_ttl = \"30d\"\nallowed_dns = [\"**.acme.internal\"]\nallowed_ips = [\"0.0.0.0/0\"]\n");
    let before = snapshot(&env.ca());
    for (name, want) in [
        (vec!["--dns", "api.acme.internal"], "outside the permitted names [svc.acme.internal] of CA 'k8s'"),
        (vec!["--dns", "secret.svc.acme.internal"], "inside the excluded name 'secret.svc.acme.internal'"),
        (vec!["--dns", "a.svc.acme.internal", "--ip", "192.168.1.1"], "outside the permitted ranges [10.0.0.0/8]"),
    ] {
        let mut args = vec!["issue", "--profile", "k8s", "--passphrase-file", "int.pass", "--out", "t"];
        args.extend(name);
        let e = assert_one_line_error(&env.run(&args));
        assert!(e.contains(want), "{e}");
        assert_eq!(before, snapshot(&env.ca()));
    }
    env.issue(&["--profile", "k8s", "--dns", "api.svc.acme.internal", "--ip", "10.1.2.3", "--out", "in"]);
    let o = openssl_verify(env.tmp.path(), "in", "sslserver");
    assert!(o.status.success(), "{}", stderr(&o));
    webpki_verify(&env.path("in"), webpki::KeyUsage::server_auth()).unwrap();
}

#[test]
fn uri_name_constraints_only_behind_the_dangerous_flag() {
    let env = Env::new();
    env.init();
    let o = env.run(&[
        "create-intermediate",
        "spiffe",
        "--permit-uri-host-dangerous",
        "spiffe://acme.internal",
        "--permit-dns",
        "acme.internal",
        "--permit-ip",
        "10.0.0.0/8",
        "--passphrase-file",
        "root.pass",
        "--new-passphrase-file",
        "int.pass",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("rustls-webpki"), "no warning: {}", stderr(&o));
    env.append_settings("\n[profiles.svid]\nca = \"spiffe\"\nallowed_uris = [\"spiffe://acme.internal/**\"]\nallowed_dns = [\"*.acme.internal\"]\n");
    let t = openssl(&["x509", "-in", "ca/cas/spiffe/cert.pem", "-noout", "-text"], env.tmp.path());
    let text = String::from_utf8_lossy(&t.stdout);
    assert!(text.contains("X509v3 Name Constraints: critical"), "{text}");
    assert!(text.contains("URI:acme.internal") && text.contains("DNS:acme.internal"), "{text}");
    assert!(text.contains("IP:10.0.0.0/255.0.0.0"), "{text}");
    // OpenSSL accepts a leaf inside the constraints.
    env.issue(&[
        "--profile",
        "svid",
        "--uri",
        "spiffe://acme.internal/agent/1",
        "--dns",
        "a.acme.internal",
        "--out",
        "s",
    ]);
    let o = openssl_verify(env.tmp.path(), "s", "sslclient");
    assert!(o.status.success(), "{}", stderr(&o));
    // ... and rustls-webpki rejects it, as the flag's help warns.
    assert!(webpki_verify(&env.path("s"), webpki::KeyUsage::client_auth()).is_err());
}

/// `init --base-url`: one setting ([defaults] base_url) from which every CA's crl_url and
/// ca_issuers_url are made, the root's before the intermediate is signed (so it carries them),
/// and a later `create-intermediate`'s too; certificates carry them (checked with OpenSSL).
#[test]
fn init_base_url_fills_every_cas_publication_urls() {
    let env = Env::new();
    let o = env.run(&[INIT_ARGS, &["--base-url", "https://pki.acme.internal?x"]].concat());
    assert!(assert_one_line_error(&o).contains("invalid base URL"), "{}", stderr(&o));
    assert!(!env.ca().exists());
    env.ok(&[INIT_ARGS, &["--base-url", "HTTP://PKI.Acme.internal/"]].concat());
    env.ok(&["create-intermediate", "team", "--passphrase-file", "root.pass", "--new-passphrase-file", "int.pass"]);
    let toml = std::fs::read_to_string(env.ca().join("pki.toml")).unwrap();
    assert!(toml.contains("base_url = \"http://pki.acme.internal\""), "{toml}");
    for ca in ["root", "issuing", "team"] {
        assert!(toml.contains(&format!("crl_url = \"http://pki.acme.internal/crl/{ca}.crl\"")), "{ca}: {toml}");
        assert!(toml.contains(&format!("ca_issuers_url = \"http://pki.acme.internal/ca/{ca}.crt\"")), "{ca}: {toml}");
    }
    env.issue(&["--dns", "a.acme.internal", "--out", "a"]);
    let ext = |file: &str| {
        let o = openssl(
            &["x509", "-in", file, "-noout", "-ext", "crlDistributionPoints,authorityInfoAccess"],
            env.tmp.path(),
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let leaf = ext("a/cert.pem");
    assert!(
        leaf.contains("URI:http://pki.acme.internal/crl/issuing.crl")
            && leaf.contains("CA Issuers - URI:http://pki.acme.internal/ca/issuing.crt"),
        "{leaf}"
    );
    for ca in ["issuing", "team"] {
        let int = ext(&env.ca().join(format!("cas/{ca}/cert.pem")).display().to_string());
        assert!(
            int.contains("URI:http://pki.acme.internal/crl/root.crl")
                && int.contains("URI:http://pki.acme.internal/ca/root.crt"),
            "{ca}: {int}"
        );
    }
    let o = openssl_verify(env.tmp.path(), "a", "sslserver");
    assert!(o.status.success(), "{}", stderr(&o));
}
