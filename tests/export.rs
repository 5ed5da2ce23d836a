//! `pki export` and `pki trust`: files that other programs open (OpenSSL 3, Java keytool, the
//! system trust store, SPIFFE bundle consumers).

mod common;

use base64::Engine;
use common::*;

#[test]
fn pkcs12_opens_in_openssl_and_keytool() {
    let env = Env::new();
    env.init();
    env.issue(&["--profile", "server", "--dns", "api.acme.internal", "--out", "api"]);
    std::fs::write(env.path("p12.pass"), "p12 secret\n").unwrap();
    let o = env.run(&[
        "export",
        "--cert",
        "api/cert.pem",
        "--key",
        "api/key.pem",
        "--p12",
        "api.p12",
        "--p12-passphrase-file",
        "p12.pass",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p12 = env.path("api.p12");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p12).unwrap().permissions()) & 0o777, 0o600);
    // OpenSSL 3, without -legacy.
    let o = openssl(&["pkcs12", "-info", "-noout", "-in", "api.p12", "-passin", "file:p12.pass"], env.tmp.path());
    assert!(o.status.success(), "openssl pkcs12: {}", stderr(&o));
    let info = stderr(&o);
    assert!(info.contains("PBES2") && info.contains("AES-256-CBC") && info.contains("sha256"), "{info}");
    let o =
        openssl(&["pkcs12", "-in", "api.p12", "-passin", "file:p12.pass", "-nodes", "-out", "all.pem"], env.tmp.path());
    assert!(o.status.success());
    let all = std::fs::read_to_string(env.path("all.pem")).unwrap();
    assert_eq!(all.matches("BEGIN CERTIFICATE").count(), 3, "leaf, issuing CA and root");
    assert_eq!(all.matches("BEGIN PRIVATE KEY").count(), 1);
    let o = openssl(&["pkcs12", "-info", "-noout", "-in", "api.p12", "-passin", "pass:wrong"], env.tmp.path());
    assert!(!o.status.success());
    // Java's keytool.
    if std::process::Command::new("keytool").arg("-help").output().is_ok() {
        let o = std::process::Command::new("keytool")
            .args(["-list", "-v", "-storetype", "PKCS12", "-keystore", "api.p12", "-storepass:file", "p12.pass"])
            .current_dir(env.tmp.path())
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "keytool: {out} {}", stderr(&o));
        assert!(out.contains("PrivateKeyEntry") && out.contains("Certificate chain length: 3"), "{out}");
    } else {
        eprintln!("keytool not installed: Java check skipped (.ci/run installs it)");
    }
    // By serial, with --key; a key that does not match is refused; an existing file is not overwritten.
    let serial = env.issue(&["--profile", "server", "--dns", "b.acme.internal", "--out", "b"]);
    let e = assert_one_line_error(&env.run(&[
        "export",
        &serial,
        "--key",
        "api/key.pem",
        "--p12",
        "b.p12",
        "--p12-passphrase-file",
        "p12.pass",
    ]));
    assert!(e.contains("is not the private key of this certificate"), "{e}");
    let o = env.run(&["export", &serial, "--key", "b/key.pem", "--p12", "b.p12", "--p12-passphrase-file", "p12.pass"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = assert_one_line_error(&env.run(&[
        "export",
        &serial,
        "--key",
        "b/key.pem",
        "--p12",
        "b.p12",
        "--p12-passphrase-file",
        "p12.pass",
    ]));
    assert!(e.contains("already exists"), "{e}");
}

/// The PKCS#12 password has its own source: the CA passphrase, however given, is never taken
/// for it (a CA secret in every holder's .p12), and without one the export is refused.
#[test]
fn pkcs12_never_takes_the_ca_passphrase() {
    let env = Env::new();
    env.init();
    env.issue(&["--profile", "server", "--dns", "api.acme.internal", "--out", "api"]);
    let base = ["export", "--cert", "api/cert.pem", "--key", "api/key.pem", "--p12", "api.p12"];
    type Source<'a> = (&'a str, Vec<&'a str>, Option<(&'a str, String)>);
    let ca_sources: [Source<'_>; 3] = [
        ("--passphrase-file", vec!["--passphrase-file", "int.pass"], None),
        ("PKI_PASSPHRASE_FILE", vec![], Some(("PKI_PASSPHRASE_FILE", env.path("int.pass").display().to_string()))),
        ("PKI_PASSPHRASE", vec![], Some(("PKI_PASSPHRASE", INT_PASS.to_string()))),
    ];
    for (what, extra, var) in ca_sources {
        let mut c = env.pki();
        c.args(base).args(&extra);
        if let Some((k, v)) = var {
            c.env(k, v);
        }
        let e = assert_one_line_error(&c.output().unwrap());
        assert!(e.contains("--p12-passphrase-file") && e.contains("never used for it"), "{what}: {e}");
        assert!(!env.path("api.p12").exists(), "{what}: a file was written");
    }
    // An explicitly empty password, which OpenSSL opens with an empty -passin.
    env.ok(&[&base[..], &["--no-p12-passphrase"]].concat());
    let o = openssl(&["pkcs12", "-info", "-noout", "-in", "api.p12", "-passin", "pass:"], env.tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn root_chain_and_trust_bundles() {
    let env = Env::new();
    env.init();
    let root = std::fs::read_to_string(env.ca().join("cas/root/cert.pem")).unwrap();
    let issuing = std::fs::read_to_string(env.ca().join("cas/issuing/cert.pem")).unwrap();
    assert_eq!(env.ok(&["export", "--root"]), root);
    assert_eq!(env.ok(&["export", "--chain", "issuing"]), format!("{issuing}{root}"));
    assert_eq!(env.ok(&["export", "--trust-bundle"]), root);
    env.ok(&["export", "--trust-bundle", "--format", "spiffe", "--out", "bundle.json"]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("bundle.json")).unwrap()).unwrap();
    let k = &v["keys"][0];
    assert_eq!(k["use"], "x509-svid");
    assert_eq!(k["kty"], "EC");
    assert_eq!(k["crv"], "P-256");
    let der = base64::engine::general_purpose::STANDARD.decode(k["x5c"][0].as_str().unwrap()).unwrap();
    assert_eq!(der, pem_ders(&env.ca().join("cas/root/cert.pem"))[0]);
    // x and y are the key's coordinates: 32 bytes each, base64url without padding.
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    assert_eq!(url.decode(k["x"].as_str().unwrap()).unwrap().len(), 32);
    assert_eq!(url.decode(k["y"].as_str().unwrap()).unwrap().len(), 32);
    assert!(v["spiffe_sequence"].as_u64().unwrap() >= 2);
    // An Ed25519 root becomes an OKP key.
    let env2 = Env::new();
    env2.ok(&["init-root", "--cn", "Ed Root", "--key-type", "ed25519", "--no-passphrase"]);
    let v: serde_json::Value =
        serde_json::from_str(&env2.ok(&["export", "--trust-bundle", "--format", "spiffe"])).unwrap();
    assert_eq!(v["keys"][0]["kty"], "OKP");
    assert_eq!(v["keys"][0]["crv"], "Ed25519");
    let e = assert_one_line_error(&env.run(&["export", "--chain", "nope"]));
    assert!(e.contains("no CA named 'nope'"), "{e}");
    let o = env.run(&["export"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn trust_install_and_uninstall_on_this_machine() {
    let env = Env::new();
    env.init();
    env.issue(&["--profile", "server", "--dns", "api.acme.internal", "--out", "api"]);
    let o = env.run(&["trust", "install", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(said.contains("would write") && said.contains("would run"), "{said}");
    let is_root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    if !is_root || !std::path::Path::new("/usr/sbin/update-ca-certificates").exists() {
        eprintln!("not root or no update-ca-certificates: real install skipped");
        return;
    }
    // Verified against the system store only (no -CAfile): fails before, passes after, fails again after uninstall.
    let verify =
        || openssl(&["verify", "-untrusted", "api/chain.pem", "api/cert.pem"], env.tmp.path()).status.success();
    assert!(!verify(), "the root was already trusted");
    let o = env.run(&["trust", "install"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let installed = verify();
    let o = env.run(&["trust", "uninstall"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(installed, "after trust install, openssl verify with the system store failed");
    assert!(!verify(), "after trust uninstall, the root is still trusted");
}
