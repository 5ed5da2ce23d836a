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

/// With the default 24h server certificates, a plain `audit --expiring 48h` 26 hours later
/// reports each one that expired without a successor; one renewed, and SPIFFE SVIDs (whose
/// profile expects no renewal), are counted, not reported.
#[test]
fn audit_is_never_quiet_about_an_outage() {
    let env = Env::new();
    let t0 = "2026-06-01T00:00:00Z";
    let o = env
        .at(t0, &["init", "--non-interactive", "--org", "Acme", "--trust-domain", "acme.internal", "--no-passphrase"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut serials = vec![];
    for i in 0..8 {
        let o = env.at(t0, &["issue", "--dns", &format!("s{i}.acme.internal"), "--out", &format!("s{i}")]);
        assert!(o.status.success(), "{}", stderr(&o));
        serials.push(String::from_utf8(o.stdout).unwrap().trim().to_string());
    }
    let o =
        env.at(t0, &["issue", "--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/ci-1", "--out", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // One server certificate is replaced by a new one for the same name, 20 hours in.
    let o = env.at("2026-06-01T20:00:00Z", &["issue", "--dns", "s0.acme.internal", "--out", "s0b"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 12 hours in nothing is due yet.
    let o = env.at("2026-06-01T12:00:00Z", &["audit", "--expiring", "48h", "--fail-on", "critical"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let o = env.at("2026-06-02T02:00:00Z", &["audit", "--expiring", "48h", "--json", "--fail-on", "critical"]);
    assert_eq!(o.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut expired: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "cert-expired" && f["severity"] == "critical")
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    expired.sort();
    let mut want = serials[1..].to_vec();
    want.sort();
    assert_eq!(expired, want, "{r:#}");
    assert_eq!(r["summary"]["short_lived_expired"], 2, "the renewed one and the SVID: {r:#}");
    // The human summary says so too.
    let o = env.at("2026-06-02T02:00:00Z", &["audit", "--expiring", "48h"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("cert-expired") && text.contains("2 expired"), "{text}");
}

/// `gen-crl --all` with only the issuing CA's passphrase at hand (`PKI_PASSPHRASE_FILE`, as
/// the CI guide exports it): the root's CRL is skipped while it is not due, and is an error
/// naming the root once it is; a per-CA passphrase directory unlocks each CA with its own.
#[test]
fn gen_crl_all_with_per_ca_passphrases() {
    let env = Env::new();
    let t0 = "2026-06-01T00:00:00Z";
    assert!(env.at(t0, INIT_ARGS).status.success());
    let run = |now: &str, extra: &[(&str, &str)]| {
        let mut c = env.pki();
        c.env("PKI_NOW", now).env("PKI_PASSPHRASE_FILE", env.path("int.pass"));
        for (k, v) in extra {
            c.env(k, v);
        }
        c.args(["gen-crl", "--all", "--if-older-than", "12h"]).output().unwrap()
    };
    let o = run("2026-06-01T13:00:00Z", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("CRL of 'root' is not due: skipped"), "{}", stderr(&o));
    let o = run("2026-06-20T00:00:00Z", &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("CRL of 'issuing': number") && e.contains("the due CRL of 'root' could not be published"),
        "{e}"
    );
    // One file per CA.
    std::fs::create_dir(env.path("pp")).unwrap();
    std::fs::copy(env.path("root.pass"), env.path("pp/root.pass")).unwrap();
    std::fs::copy(env.path("int.pass"), env.path("pp/issuing.pass")).unwrap();
    let o = run("2026-06-20T00:00:00Z", &[("PKI_PASSPHRASE_DIR", env.path("pp").to_str().unwrap())]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("CRL of 'root': number 2"), "{}", stderr(&o));
}

/// A batch whose lines each write into a directory commits them in groups like a batch to
/// stdout: every line's five files in place, and a handful of ledger commits for 300 lines
/// (fdatasync, counted with strace) instead of one or more per line. A second line for the same directory is
/// refused as existing, as it was one by one.
#[test]
fn batches_into_directories_are_committed_in_groups() {
    let env = Env::new();
    env.init_plain();
    const N: usize = 300;
    let mut lines: String =
        (0..N).map(|i| format!("{{\"dns\":[\"d{i}.acme.internal\"],\"out\":\"out/d{i}\"}}\n")).collect();
    lines.push_str("{\"dns\":[\"again.acme.internal\"],\"out\":\"out/d7\"}\n");
    std::fs::write(env.path("b.jsonl"), lines).unwrap();
    let strace = std::process::Command::new("sh").arg("-c").arg("command -v strace").output().unwrap().status.success();
    let mut c = if strace {
        let mut c = std::process::Command::new("strace");
        c.args(["-f", "-c", "-o"]).arg(env.path("strace.txt")).arg(env!("CARGO_BIN_EXE_pki"));
        c
    } else {
        assert!(std::env::var_os("CI").is_none(), "strace is required in CI (.ci/run installs it)");
        std::process::Command::new(env!("CARGO_BIN_EXE_pki"))
    };
    let o = c
        .args(["issue", "--batch", "b.jsonl"])
        .current_dir(env.tmp.path())
        .env("PKI_DIR", env.ca())
        .env("PKI_ACTOR", "batch@test")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "one line refused: {}", stderr(&o));
    let results: Vec<serde_json::Value> =
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(results.len(), N + 1);
    for (i, r) in results.iter().take(N).enumerate() {
        assert_eq!((r["line"].as_u64(), r["ok"].as_bool()), (Some(i as u64 + 1), Some(true)), "{r}");
        let dir = env.path(&format!("out/d{i}"));
        let cert = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
        let full = std::fs::read_to_string(dir.join("fullchain.pem")).unwrap();
        assert!(full.starts_with(&cert) && dir.join("key.pem").exists() && dir.join("root.pem").exists());
        assert_eq!(r["files"]["cert"].as_str(), Some(format!("out/d{i}/cert.pem").as_str()));
    }
    let last = &results[N];
    assert!(last["ok"] == false && last["error"]["message"].as_str().unwrap().contains("already exists"), "{last}");
    assert_eq!(last["error"]["code"], "output-exists", "{last}");
    assert_eq!(inventory(&env.ca()).len(), N);
    let (intact, records) = ledger_chain_intact(&env.ca());
    assert!(intact);
    assert_eq!(issued_serials(&records).len(), N);
    if strace {
        let table = std::fs::read_to_string(env.path("strace.txt")).unwrap();
        let calls = |name: &str| -> u64 {
            table
                .lines()
                .find(|l| l.split_whitespace().last() == Some(name))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
                .unwrap_or(0)
        };
        // Ledger and inventory appends are fdatasynced once per group (one by one, a line took
        // at least one each); the staged files are flushed with one syncfs per group, or an
        // fsync each while the system holds much unwritten data (store::SyncSet), so those
        // are not counted here.
        let commits = calls("fdatasync");
        assert!(commits < 20, "{commits} fdatasync calls for {N} lines:\n{table}");
    }
}

/// `issue --batch -` reads its input without holding the directory's lock (issue 18, point 6):
/// while a slow producer thinks, what it sent is committed and printed, and another job can
/// change the directory; the batch then carries on.
#[test]
fn a_slow_batch_producer_does_not_hold_the_lock() {
    use std::io::{BufRead, Write};
    let env = Env::new();
    env.init_plain();
    let mut batch = env
        .pki()
        .args(["issue", "--batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = batch.stdin.take().unwrap();
    // Result lines arrive on a channel, so that a batch that never prints fails the test
    // instead of hanging it.
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = batch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout).lines() {
            if tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || lines.recv_timeout(std::time::Duration::from_secs(20)).expect("no result line within 20 s");
    writeln!(input, "{{\"dns\": [\"one.acme.internal\"]}}").unwrap();
    input.flush().unwrap();
    // Its result comes while the producer still holds its input open.
    let line = next();
    assert!(line.contains("one.acme.internal"), "{line}");
    // Meanwhile another job changes the directory, without waiting for the batch to end.
    let t = std::time::Instant::now();
    let o = env.run(&["--lock-timeout", "5s", "issue", "--dns", "other.acme.internal", "--out", "-"]);
    assert!(o.status.success(), "the batch held the lock while waiting for input: {}", stderr(&o));
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    writeln!(input, "{{\"dns\": [\"two.acme.internal\"]}}").unwrap();
    drop(input);
    let line = next();
    assert!(line.contains("two.acme.internal"), "{line}");
    assert!(batch.wait().unwrap().success());
    assert_eq!(inventory(&env.ca()).len(), 3);
    assert!(ledger_chain_intact(&env.ca()).0);
}
