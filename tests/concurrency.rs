//! Many CI jobs at once on one directory: no lost records, no duplicate serials, an intact ledger.

mod common;

use std::collections::HashSet;

use common::*;

#[test]
fn eight_processes_issuing_fifty_each() {
    let env = Env::new();
    env.init();
    const PROCS: usize = 8;
    const EACH: usize = 50;
    // Each "job" is a shell loop calling the real binary, as a CI script would.
    let bin = env!("CARGO_BIN_EXE_pki");
    let children: Vec<_> = (0..PROCS)
        .map(|p| {
            let script = format!(
                "for i in $(seq 1 {EACH}); do \"{bin}\" issue --passphrase-file int.pass --dns job{p}-$i.acme.internal --out out/{p}-$i >> serials.{p} 2>> errors.{p} || exit 1; done"
            );
            let mut c = std::process::Command::new("sh");
            c.arg("-c").arg(script).current_dir(env.tmp.path());
            c.env("PKI_DIR", env.ca()).env("PKI_ACTOR", format!("job{p}"));
            c.spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut printed = HashSet::new();
    for p in 0..PROCS {
        for s in std::fs::read_to_string(env.path(&format!("serials.{p}"))).unwrap().lines() {
            assert!(printed.insert(s.to_string()), "serial {s} printed twice");
        }
    }
    assert_eq!(printed.len(), PROCS * EACH);

    let ca = env.ca();
    let inv = inventory(&ca);
    assert_eq!(inv.len(), PROCS * EACH);
    let inv_serials: HashSet<String> = inv.iter().map(|r| r[0].clone()).collect();
    assert_eq!(inv_serials, printed);

    let (intact, records) = ledger_chain_intact(&ca);
    assert!(intact, "ledger hash chain broken");
    let issued: HashSet<String> = records
        .iter()
        .filter(|r| r["event"] == "cert-issued")
        .map(|r| r["data"]["serial"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(records.iter().filter(|r| r["event"] == "cert-issued").count(), PROCS * EACH);
    assert_eq!(issued, printed);
    for s in &printed {
        assert!(cert_file(&ca, s).is_file(), "certificate file for {s} missing");
    }
    // The ledger-verify command agrees with the independent check.
    assert_eq!(env.run(&["ledger-verify"]).status.code(), Some(0));
}
