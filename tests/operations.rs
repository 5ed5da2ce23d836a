//! Cron and CI that keep working: verify never calls an unchecked certificate "valid", audit
//! is never quiet about an outage, per-CA passphrases, batches into directories.

mod common;

use common::*;

fn verify_outside(env: &Env, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["verify", "out/cert.pem", "--root", "out/root.pem", "--chain", "out/chain.pem"];
    args.extend_from_slice(extra);
    env.pki().env("PKI_DIR", env.path("no-such-dir")).args(&args).output().unwrap()
}

/// Outside the CA directory, a revoked certificate is never "valid": without a CRL of every
/// issuer in its chain the verdict is "revocation not checked" (exit 6); with them, revoked.
#[test]
fn verify_never_calls_an_unchecked_certificate_valid() {
    let env = Env::new();
    env.init_plain();
    let serial = env.ok(&["issue", "--dns", "api.acme.internal", "--out", "api"]).trim().to_string();
    env.ok(&["revoke", &serial]);
    std::fs::create_dir(env.path("out")).unwrap();
    for f in ["cert.pem", "chain.pem", "root.pem"] {
        std::fs::copy(env.path(&format!("api/{f}")), env.path(&format!("out/{f}"))).unwrap();
    }
    for f in ["issuing.crl.pem", "root.crl"] {
        std::fs::copy(env.ca().join("crl").join(f), env.path(&format!("out/{f}"))).unwrap();
    }
    let o = verify_outside(&env, &[]);
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("revocation not checked"));
    // The leaf issuer's CRL alone already finds the revocation.
    let o = verify_outside(&env, &["--crl", "out/issuing.crl.pem", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((o.status.code(), v["verdict"].as_str()), (Some(1), Some("revoked")), "{v}");
    let o = verify_outside(&env, &["--crl", "out/issuing.crl.pem", "--crl", "out/root.crl", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (o.status.code(), v["verdict"].as_str(), v["revocation_checked"].as_bool()),
        (Some(1), Some("revoked"), Some(true))
    );
    // An unrevoked certificate: exit 6 without CRLs, 0 with them or with --no-revocation-check.
    env.ok(&["issue", "--dns", "ok.acme.internal", "--out", "ok"]);
    std::fs::copy(env.path("ok/cert.pem"), env.path("out/cert.pem")).unwrap();
    assert_eq!(verify_outside(&env, &[]).status.code(), Some(6));
    env.ok(&["gen-crl", "--all"]);
    std::fs::copy(env.ca().join("crl/issuing.crl.pem"), env.path("out/issuing.crl.pem")).unwrap();
    assert_eq!(verify_outside(&env, &["--crl", "out/issuing.crl.pem", "--crl", "out/root.crl"]).status.code(), Some(0));
    let o = verify_outside(&env, &["--no-revocation-check"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("revocation not checked (--no-revocation-check)"));
    // Inside the directory its own CRLs cover the chain: a plain "valid".
    let o = env.run(&["verify", "ok/cert.pem"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
}
