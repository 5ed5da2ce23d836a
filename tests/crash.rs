//! A process killed at any instant leaves the directory consistent: SIGKILL during `issue`
//! at random moments, then check what a user (and the next `pki` run) would find.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;

/// What must hold at any moment, even before the next run repairs anything.
fn check_consistent(env: &Env) {
    let ca = env.ca();
    let (intact, records) = ledger_chain_intact(&ca);
    assert!(intact, "ledger chain broken");
    let ledger: HashSet<String> = issued_serials(&records).into_iter().collect();
    // Every inventory record has its certificate, and the ledger vouches for it.
    for r in inventory(&ca) {
        assert!(cert_file(&ca, &r[0]).is_file(), "inventory record {} has no certificate", r[0]);
        assert!(ledger.contains(&r[0]), "inventory record {} not in the ledger", r[0]);
    }
    // Every stored certificate is complete and committed: no partial file taken for a real one.
    // The one exception: a batch group writes its files after listing their serials in
    // pending/batch-*.list, and until its commit they are in no ledger record (the next run
    // removes them).
    let listed: HashSet<String> = std::fs::read_dir(ca.join("pending"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("batch-"))
        .flat_map(|p| std::fs::read_to_string(p).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    for shard in std::fs::read_dir(ca.join("certs")).into_iter().flatten() {
        for f in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            let serial = p.file_stem().unwrap().to_string_lossy().into_owned();
            if listed.contains(&serial) && !ledger.contains(&serial) {
                continue;
            }
            assert!(ledger.contains(&serial), "{} is not in the ledger", p.display());
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(pem::parse(&text).is_ok(), "{} is not a whole certificate", p.display());
        }
    }
}

/// Random kill moments that differ from run to run (seeded by the process id).
fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed ^ u64::from(std::process::id());
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[test]
fn sigkill_during_issue_never_corrupts_the_directory() {
    let env = Env::new();
    env.init_plain();
    // Calibrate: how long one issue takes here, so kills land across its whole run.
    let t = std::time::Instant::now();
    for i in 0..5 {
        env.ok(&["issue", "--dns", &format!("w{i}.acme.internal"), "--out", &format!("w{i}")]);
    }
    let per = t.elapsed() / 5;
    let mut next = xorshift(0x9e3779b97f4a7c15u64);
    const KILLS: usize = 150;
    let mut killed_mid_run = 0;
    for i in 0..KILLS {
        let mut child = env
            .pki()
            .args(["issue", "--dns", &format!("k{i}.acme.internal"), "--out", &format!("k{i}"), "--force"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_micros(next() % (per.as_micros() as u64 * 12 / 10 + 1));
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().ok();
        child.wait().unwrap();
        check_consistent(&env);
    }
    assert!(killed_mid_run > KILLS / 3, "only {killed_mid_run} of {KILLS} kills landed while pki ran");

    // The next run repairs what was left and works; afterwards ledger and inventory agree exactly.
    let s = env.ok(&["issue", "--dns", "after.acme.internal", "--out", "after"]);
    check_consistent(&env);
    let inv = ledger_matches_inventory(&env);
    assert_eq!(inv.last().unwrap(), s.trim());
    let ca = env.ca();
    // reindex from scratch gives the same inventory.
    let before = std::fs::read(ca.join("inventory.tsv")).unwrap();
    env.ok(&["reindex"]);
    assert_eq!(before, std::fs::read(ca.join("inventory.tsv")).unwrap());
    eprintln!("{killed_mid_run} of {KILLS} kills landed mid-run; {} certificates committed", inv.len());
}

#[test]
fn every_crash_point_of_issue_is_recovered() {
    // (crash point, whether the certificate counts as issued afterwards)
    for (point, committed) in [("issue-staged", false), ("issue-committed", true), ("issue-moved", true)] {
        let env = Env::new();
        env.init_plain();
        let o = env
            .pki()
            .args(["issue", "--dns", "c.acme.internal", "--out", "c"])
            .env("PKI_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{point}: the crash hook did not fire");
        check_consistent(&env);
        let ca = env.ca();
        let (_, records) = ledger_chain_intact(&ca);
        let crashed = issued_serials(&records);
        assert_eq!(crashed.len(), usize::from(committed), "{point}");
        // The next run repairs: a committed certificate gets its file and inventory line.
        let s = env.ok(&["issue", "--dns", "d.acme.internal", "--out", "d"]);
        check_consistent(&env);
        let inv: Vec<String> = inventory(&ca).into_iter().map(|r| r[0].clone()).collect();
        let mut want = crashed.clone();
        want.push(s.trim().to_string());
        assert_eq!(inv, want, "{point}");
        for serial in &want {
            assert!(cert_file(&ca, serial).is_file(), "{point}: {serial}");
        }
        assert!(std::fs::read_dir(ca.join("pending")).unwrap().next().is_none(), "{point}: pending/ not empty");
    }
}

#[test]
fn every_crash_point_of_ca_creation_is_recovered() {
    for (point, committed) in [("ca-staged", false), ("ca-committed", true)] {
        let env = Env::new();
        env.init_plain();
        let o = env
            .pki()
            .args(["create-intermediate", "second", "--no-passphrase"])
            .env("PKI_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{point}: the crash hook did not fire");
        // The next locked run finishes or undoes it.
        env.ok(&["issue", "--dns", "d.acme.internal", "--out", "d"]);
        let ca = env.ca();
        assert_eq!(ca.join("cas/second/cert.pem").is_file(), committed, "{point}");
        let leftovers: Vec<_> = std::fs::read_dir(ca.join("cas"))
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                n.starts_with('.').then_some(n)
            })
            .collect();
        assert!(leftovers.is_empty(), "{point}: staging left behind: {leftovers:?}");
        let o = env.run(&["create-intermediate", "second", "--no-passphrase"]);
        assert_eq!(o.status.success(), !committed, "{point}: {}", stderr(&o));
    }
}

/// SIGKILL at random moments of every kind of change (issue, revoke, gen-crl, reindex), 320
/// times; afterwards `pki audit --deep` finds no integrity problem and every command works.
#[test]
fn sigkill_during_every_kind_of_change_then_audit_is_clean() {
    let env = Env::new();
    env.init_plain();
    let mut serials: Vec<String> = (0..20)
        .map(|i| {
            env.ok(&["issue", "--dns", &format!("s{i}.acme.internal"), "--out", &format!("s{i}")]).trim().to_string()
        })
        .collect();
    let ops: [&[&str]; 4] = [&["issue"], &["revoke"], &["gen-crl", "--all"], &["reindex"]];
    // How long each kind of change takes here, so that kills land across its whole run.
    let mut per = vec![];
    for op in ops {
        let t = std::time::Instant::now();
        let args: Vec<String> = match op[0] {
            "issue" => vec![
                "issue".into(),
                "--dns".into(),
                "cal.acme.internal".into(),
                "--out".into(),
                "cal".into(),
                "--force".into(),
            ],
            "revoke" => vec!["revoke".into(), serials.pop().unwrap()],
            _ => op.iter().map(|s| s.to_string()).collect(),
        };
        let o = env.pki().args(&args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        per.push(t.elapsed());
    }
    let mut next = xorshift(0x2545f4914f6cdd1du64);
    const KILLS: usize = 320;
    let mut landed = [0usize; 4];
    for i in 0..KILLS {
        let k = i % 4;
        let args: Vec<String> = match k {
            0 => vec![
                "issue".into(),
                "--dns".into(),
                format!("k{i}.acme.internal"),
                "--out".into(),
                format!("k{i}"),
                "--force".into(),
            ],
            // A serial that may already be revoked (a kill after the commit): exit 4 then, fine.
            1 => vec![
                "revoke".into(),
                serials[(next() % serials.len() as u64) as usize].clone(),
                "--reason".into(),
                "keyCompromise".into(),
            ],
            _ => ops[k].iter().map(|s| s.to_string()).collect(),
        };
        let mut child = env
            .pki()
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_micros(next() % (per[k].as_micros() as u64 * 12 / 10 + 1));
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            landed[k] += 1;
        }
        child.kill().ok();
        child.wait().unwrap();
        check_consistent(&env);
    }
    let total: usize = landed.iter().sum();
    eprintln!("{total} of {KILLS} kills landed mid-run (issue, revoke, gen-crl, reindex: {landed:?})");
    assert!(landed.iter().all(|&n| n > 0), "some kind of change was never interrupted: {landed:?}");
    assert!(total > KILLS / 3, "only {total} of {KILLS} kills landed while pki ran");

    // The next change repairs what was left; then the audit finds nothing but the plain keys.
    env.ok(&["gen-crl", "--all"]);
    let o = env.run(&["audit", "--deep", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(codes.iter().all(|c| *c == "ca-key-unencrypted"), "{r:#}");
    // And every command still works.
    let s = env.ok(&["issue", "--dns", "after.acme.internal", "--out", "after"]);
    env.ok(&["revoke", s.trim()]);
    env.ok(&["gen-crl", "--all"]);
    env.ok(&["reindex"]);
    env.ok(&["list", "--json"]);
    assert_eq!(env.run(&["ledger-verify"]).status.code(), Some(0));
    check_consistent(&env);
}

fn batch_file(env: &Env, name: &str, n: usize) {
    let lines: String = (0..n)
        .map(|i| format!("{{\"profile\": \"agent\", \"spiffe_id\": \"spiffe://acme.internal/agent/{name}-{i}\"}}\n"))
        .collect();
    std::fs::write(env.path(name), lines).unwrap();
}

/// After repair, the ledger's issues and the inventory agree exactly, in order, every one has
/// its file and pending/ is empty. Returns the inventory's serials.
fn ledger_matches_inventory(env: &Env) -> Vec<String> {
    let ca = env.ca();
    let (intact, records) = ledger_chain_intact(&ca);
    assert!(intact);
    let ledger = issued_serials(&records);
    let inv: Vec<String> = inventory(&ca).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(ledger, inv, "inventory and ledger disagree after repair");
    for s in &inv {
        assert!(cert_file(&ca, s).is_file(), "{s} has no file");
    }
    let pending = ca.join("pending");
    assert!(!pending.exists() || std::fs::read_dir(&pending).unwrap().next().is_none(), "pending/ not cleaned");
    inv
}

#[test]
fn every_crash_point_of_a_batch_group_is_recovered() {
    for (point, committed) in [("batch-staged", false), ("batch-committed", true), ("batch-moved", true)] {
        let env = Env::new();
        env.init_plain();
        batch_file(&env, "b.jsonl", 5);
        let o = env.pki().args(["issue", "--batch", "b.jsonl"]).env("PKI_CRASH_AT", point).output().unwrap();
        assert!(!o.status.success(), "{point}: the crash hook did not fire");
        assert!(o.stdout.is_empty(), "{point}: results printed before the commit");
        check_consistent(&env);
        // Before any repair, the audit sees an interrupted change, not damage.
        let o = env.run(&["audit", "--deep", "--json"]);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let codes: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
        assert!(codes.iter().all(|c| ["ca-key-unencrypted", "change-interrupted"].contains(c)), "{point}: {r:#}");
        // Before the commit the group's list is what is interrupted; after it, the ledger's record.
        assert!(codes.contains(&"change-interrupted"), "{point}: {r:#}");
        let on_ledger = r["findings"].as_array().unwrap().iter().any(|f| f["id"] == "ledger.jsonl");
        assert_eq!(on_ledger, committed, "{point}: {r:#}");
        env.ok(&["issue", "--dns", "d.acme.internal", "--out", "d"]);
        check_consistent(&env);
        let n = ledger_matches_inventory(&env).len();
        assert_eq!(n, if committed { 6 } else { 1 }, "{point}");
    }
}

#[test]
fn sigkill_during_batches_never_corrupts_the_directory() {
    let env = Env::new();
    env.init_plain();
    batch_file(&env, "b.jsonl", 600);
    env.ok(&["issue", "--batch", "b.jsonl"]);
    let t = std::time::Instant::now();
    env.ok(&["issue", "--batch", "b.jsonl"]);
    // Kills spread over the first three quarters of a run, where the groups are committed.
    let per = t.elapsed() * 3 / 4;
    let mut next = xorshift(0x853c49e6748fea9bu64);
    let mut landed = 0;
    for k in 0..30 {
        let mut child = env
            .pki()
            .args(["issue", "--batch", "b.jsonl"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(next() % (per.as_micros() as u64 + 1)));
        if child.try_wait().unwrap().is_none() {
            landed += 1;
        }
        child.kill().ok();
        child.wait().unwrap();
        if k % 6 == 5 {
            check_consistent(&env);
        }
    }
    assert!(landed > 10, "only {landed} of 30 kills landed during a batch");
    env.ok(&["issue", "--dns", "after.acme.internal", "--out", "after"]);
    let n = ledger_matches_inventory(&env).len();
    // Whole groups only: what was committed is a multiple of the group size per interrupted run.
    eprintln!("{landed} of 30 kills landed during a batch; {n} certificates committed");
    let o = env.run(&["audit", "--deep", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(codes.iter().all(|c| *c == "ca-key-unencrypted"), "{r:#}");
}
