//! Many CI jobs at once on one directory: no lost records, no duplicate serials, an intact ledger,
//! revocations and CRL generations interleaved with the issues.

mod common;

use std::collections::HashSet;

use common::*;

#[test]
fn eight_processes_issuing_a_hundred_each_with_revocations_and_crls() {
    let env = Env::new();
    env.init();
    const PROCS: usize = 8;
    const EACH: usize = 100;
    // Each "job" is a shell loop calling the real binary, as a CI script would: every 10th
    // certificate it issues is revoked at once (which republishes the CRL), and every 25th
    // issue is followed by a gen-crl.
    let bin = env!("CARGO_BIN_EXE_pki");
    let children: Vec<_> = (0..PROCS)
        .map(|p| {
            let script = format!(
                "for i in $(seq 1 {EACH}); do \
                   s=$(\"{bin}\" issue --passphrase-file int.pass --dns job{p}-$i.acme.internal --out out/{p}-$i 2>> errors.{p}) || exit 1; \
                   echo $s >> serials.{p}; \
                   if [ $((i % 10)) = 0 ]; then \"{bin}\" revoke $s --reason keyCompromise --passphrase-file int.pass 2>> errors.{p} || exit 2; echo $s >> revoked.{p}; fi; \
                   if [ $((i % 25)) = 0 ]; then \"{bin}\" gen-crl --passphrase-file int.pass 2>> errors.{p} || exit 3; fi; \
                 done"
            );
            let mut c = std::process::Command::new("sh");
            c.arg("-c").arg(script).current_dir(env.tmp.path());
            c.env("PKI_DIR", env.ca()).env("PKI_ACTOR", format!("job{p}"));
            c.spawn().unwrap()
        })
        .collect();
    for (p, mut c) in children.into_iter().enumerate() {
        let st = c.wait().unwrap();
        assert!(
            st.success(),
            "job {p}: {st}: {}",
            std::fs::read_to_string(env.path(&format!("errors.{p}"))).unwrap_or_default()
        );
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
    let issued: HashSet<String> = issued_serials(&records).into_iter().collect();
    assert_eq!(records.iter().filter(|r| r["event"] == "cert-issued").count(), PROCS * EACH);
    assert_eq!(issued, printed);
    for s in &printed {
        assert!(cert_file(&ca, s).is_file(), "certificate file for {s} missing");
    }
    // The ledger-verify command agrees with the independent check.
    assert_eq!(env.run(&["ledger-verify"]).status.code(), Some(0));

    // Revocations: each one in the ledger and the inventory, and on the final CRL.
    let mut revoked = HashSet::new();
    for p in 0..PROCS {
        for s in std::fs::read_to_string(env.path(&format!("revoked.{p}"))).unwrap().lines() {
            revoked.insert(s.to_string());
        }
    }
    assert_eq!(revoked.len(), PROCS * EACH / 10);
    let in_ledger: HashSet<String> = records
        .iter()
        .filter(|r| r["event"] == "cert-revoked")
        .map(|r| r["data"]["serial"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(in_ledger, revoked);
    let inv_revoked: HashSet<String> = inv.iter().filter(|r| r[1] == "revoked").map(|r| r[0].clone()).collect();
    assert_eq!(inv_revoked, revoked);
    let crl = std::fs::read(ca.join("crl/issuing.crl")).unwrap();
    use x509_parser::prelude::FromDer;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&crl).unwrap();
    let listed: HashSet<String> = crl.iter_revoked_certificates().map(|r| hex(r.raw_serial()).to_uppercase()).collect();
    let listed: HashSet<String> = listed.into_iter().map(|s| s.trim_start_matches("00").to_string()).collect();
    assert_eq!(listed, revoked, "the last CRL lists exactly the revoked certificates");

    // CRL numbers strictly increase in the order the CRLs were made, and the CRL carries the last.
    let numbers: Vec<u64> = records
        .iter()
        .filter(|r| r["event"] == "crl-generated" && r["data"]["ca"] == "issuing")
        .map(|r| r["data"]["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.len(), 1 + PROCS * EACH / 10 + PROCS * EACH / 25, "init + one per revoke + one per gen-crl");
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "CRL numbers not strictly increasing: {numbers:?}");
    assert_eq!(u64::try_from(crl.crl_number().unwrap()).unwrap(), *numbers.last().unwrap());

    // And the audit finds nothing to say.
    let o = env.run(&["audit", "--deep", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
}
