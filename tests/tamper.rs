//! Tamper-proof revocation (issue 17): what a writer who can edit the CA directory but knows no
//! passphrase can do to revocations and the ledger, and what finds it. The signed CRL and the
//! signed ledger records are the evidence; the inventory, the revoked lists and the blocklist
//! are caches that `gen-crl`, `renew` and `audit` check against it.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const T0: &str = "2026-12-02T10:00:00Z";

/// `pki init` at T0: every date of these tests is then fixed, whatever the real clock says
/// (a CA made at the real clock would start after T0 on a later run).
fn init_t0(env: &Env) {
    env.ok_at(T0, INIT_ARGS);
}

fn issue_at(env: &Env, now: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["issue", "--passphrase-file", "int.pass", "--dns", name, "--out", "-"];
    args.extend_from_slice(extra);
    let o = env.at(now, &[&args[..], &["--json"]].concat());
    assert!(o.status.success(), "issue {name}: {}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let v: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap_or_else(|_| {
        // `--out - --json` prints the PEM bundle then the JSON object.
        let start = text.find("{\n").unwrap();
        serde_json::from_str(&text[start..]).unwrap()
    });
    v["serial"].as_str().unwrap().to_string()
}

/// (severity, code, id) of each finding of a plain `pki audit --expiring 48h`, plus its exit.
fn audit(env: &Env, now: &str, extra: &[&str]) -> (i32, Vec<(String, String, String)>) {
    let o = env.at(now, &[&["audit", "--expiring", "48h", "--json"], extra].concat());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("audit: {}", stderr(&o)));
    let f = finding_triples(&v);
    (o.status.code().unwrap(), f)
}

fn has(f: &[(String, String, String)], code: &str, id: &str) -> bool {
    f.iter().any(|(s, c, i)| s == "critical" && c == code && i == id)
}

fn codes(f: &[(String, String, String)]) -> Vec<String> {
    f.iter().map(|(s, c, i)| format!("{s}:{c}:{i}")).collect()
}

/// The serials a CRL file lists, as OpenSSL reads it.
fn crl_serials(env: &Env, file: &str) -> Vec<String> {
    let o = openssl(&["crl", "-in", file, "-inform", "DER", "-noout", "-text"], env.tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Serial Number: "))
        .map(|s| s.trim().to_uppercase())
        .collect()
}

fn gen_crl(env: &Env, now: &str, extra: &[&str]) -> std::process::Output {
    env.at(now, &[&["gen-crl", "--ca", "issuing", "--passphrase-file", "int.pass"], extra].concat())
}

/// Marks a serial's inventory line valid again, as an editor would (fixed-width fields).
fn unrevoke_in_inventory(ca: &Path, serial: &str) {
    let p = ca.join("inventory.tsv");
    let text = std::fs::read_to_string(&p).unwrap();
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if !l.starts_with(serial) {
                return l.to_string();
            }
            let mut f: Vec<String> = l.split('\t').map(str::to_string).collect();
            f[1] = format!("{:<10}", "valid");
            f[4] = format!("{:<20}", "-");
            f[5] = format!("{:<20}", "-");
            f.join("\t")
        })
        .collect();
    std::fs::write(&p, out.join("\n") + "\n").unwrap();
}

fn drop_list_lines(ca: &Path, serial: &str) {
    let p = ca.join("crl/issuing.revoked.tsv");
    let text = std::fs::read_to_string(&p).unwrap();
    let kept: String = text.lines().filter(|l| !l.starts_with(serial)).map(|l| format!("{l}\n")).collect();
    std::fs::write(&p, kept).unwrap();
}

/// Removes the ledger records that mention `serial` and recomputes every `prev` after them,
/// as a careful attacker would: the hash chain is intact again.
fn rewrite_ledger_without(ca: &Path, serial: &str) {
    let p = ca.join("ledger.jsonl");
    let text = std::fs::read_to_string(&p).unwrap();
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    let mut seq = 0;
    for line in text.lines() {
        let mut rec: Value = serde_json::from_str(line).unwrap();
        if rec["event"] == "cert-revoked" && rec["data"]["serial"] == serial {
            continue;
        }
        seq += 1;
        // Edit in place (keeping the field order pki writes), only seq and prev.
        let old_prev = rec["prev"].as_str().unwrap().to_string();
        let old_seq = rec["seq"].as_u64().unwrap();
        rec["seq"] = seq.into();
        let line = line.replacen(&format!("{{\"seq\":{old_seq},"), &format!("{{\"seq\":{seq},"), 1).replacen(
            &format!("\"prev\":\"{old_prev}\""),
            &format!("\"prev\":\"{prev}\""),
            1,
        );
        prev = hex(&Sha256::digest(line.as_bytes()));
        out.push_str(&line);
        out.push('\n');
    }
    std::fs::write(&p, out).unwrap();
    std::fs::write(ca.join(".state"), format!("applied {seq:<20}\n")).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    let o = std::process::Command::new("cp").arg("-a").arg(from).arg(to).output().unwrap();
    assert!(o.status.success());
}

/// The acceptance's attack: a writer without passphrases edits the inventory and the revoked
/// list, then also recomputes the ledger chain, then rolls the directory back to yesterday's
/// copy. The plain cron audit finds each (the rollback with --ledger-head), and no gen-crl
/// publishes a CRL without the serial; each refusal changes nothing.
#[test]
fn a_writer_without_passphrases_cannot_erase_a_revocation() {
    let env = Env::new();
    init_t0(&env);
    let ca = env.ca();
    let victim = issue_at(&env, T0, "victim.acme.internal", &[]);
    let _other = issue_at(&env, T0, "other.acme.internal", &[]);
    copy_dir(&ca, &env.path("yesterday"));
    env.ok_at(T0, &["revoke", &victim, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);
    env.ok_at(T0, &["ledger", "head", "--out", "head.json"]);
    assert_eq!(crl_serials(&env, "ca/crl/issuing.crl"), vec![victim.clone()]);
    let (code, f) = audit(&env, T0, &["--ledger-head", "head.json"]);
    assert_eq!((code, codes(&f)), (0, Vec::<String>::new()));

    // 1. The two tab-separated files edited.
    unrevoke_in_inventory(&ca, &victim);
    drop_list_lines(&ca, &victim);
    let (code, f) = audit(&env, T0, &[]);
    assert_eq!(code, 1);
    assert!(has(&f, "revocation-erased", &victim), "{:?}", codes(&f));
    let before = snapshot(&ca);
    let o = gen_crl(&env, T0, &[]);
    let e = assert_one_line_error(&o);
    assert!(e.contains(&victim) && e.contains("crl/issuing.revoked.tsv") && e.contains("previous CRL"), "{e}");
    assert_eq!(snapshot(&ca), before, "a refused gen-crl changed the directory");
    let o = env.at(T0, &["gen-crl", "--all", "--passphrase-file", "int.pass"]);
    assert!(!o.status.success());
    assert_eq!(crl_serials(&env, "ca/crl/issuing.crl"), vec![victim.clone()]);

    // 2. ... and the ledger chain recomputed without the revocation.
    rewrite_ledger_without(&ca, &victim);
    let o = env.at(T0, &["ledger", "verify"]);
    assert_eq!(o.status.code(), Some(1), "the recomputed chain passed: {}", String::from_utf8_lossy(&o.stdout));
    let (_, f) = audit(&env, T0, &[]);
    assert!(has(&f, "ledger-signature-invalid", "ledger.jsonl"), "{:?}", codes(&f));
    assert!(has(&f, "revocation-erased", &victim), "{:?}", codes(&f));
    let before = snapshot(&ca);
    assert!(assert_one_line_error(&gen_crl(&env, T0, &[])).contains(&victim));
    assert_eq!(snapshot(&ca), before);

    // 3. ... and the whole directory rolled back to yesterday's copy: consistent, signed, old.
    std::fs::remove_dir_all(&ca).unwrap();
    std::fs::rename(env.path("yesterday"), &ca).unwrap();
    let (code, f) = audit(&env, T0, &["--ledger-head", "head.json"]);
    assert_eq!(code, 1);
    assert!(has(&f, "ledger-rolled-back", "ledger.jsonl"), "{:?}", codes(&f));
    let before = snapshot(&ca);
    let e = assert_one_line_error(&gen_crl(&env, T0, &["--ledger-head", "head.json"]));
    assert!(e.contains("rolled back"), "{e}");
    assert_eq!(snapshot(&ca), before);
}

/// The previous CRL is the evidence only if it is the one the ledger recorded: deleted, or
/// replaced by an older CRL (signed, but without the newer revocations), gen-crl refuses.
#[test]
fn a_deleted_or_older_crl_is_no_way_around_the_evidence() {
    let env = Env::new();
    init_t0(&env);
    let ca = env.ca();
    let a = issue_at(&env, T0, "a.acme.internal", &[]);
    let old_crl = std::fs::read(ca.join("crl/issuing.crl")).unwrap();
    env.ok_at(T0, &["revoke", &a, "--passphrase-file", "int.pass"]);
    drop_list_lines(&ca, &a);

    std::fs::remove_file(ca.join("crl/issuing.crl")).unwrap();
    let before = snapshot(&ca);
    let e = assert_one_line_error(&gen_crl(&env, T0, &[]));
    assert!(e.contains("crl/issuing.crl is missing") && e.contains("number 2"), "{e}");
    assert_eq!(snapshot(&ca), before);

    std::fs::write(ca.join("crl/issuing.crl"), &old_crl).unwrap();
    let (_, f) = audit(&env, T0, &[]);
    assert!(has(&f, "crl-rolled-back", "issuing"), "{:?}", codes(&f));
    let before = snapshot(&ca);
    let e = assert_one_line_error(&gen_crl(&env, T0, &[]));
    assert!(e.contains("an older CRL was put back"), "{e}");
    assert_eq!(snapshot(&ca), before);
}

/// RFC 5280 §3.3: an expired certificate's entry stays until a CRL issued after its expiry has
/// listed it, then goes; editing the list's notAfter to drop it earlier is refused.
#[test]
fn an_expired_entry_leaves_only_after_one_crl_past_its_expiry() {
    let env = Env::new();
    init_t0(&env);
    let ca = env.ca();
    let short = issue_at(&env, T0, "short.acme.internal", &["--ttl", "1h"]);
    let long = issue_at(&env, T0, "long.acme.internal", &["--ttl", "30d"]);
    env.ok_at(T0, &["revoke", &short, "--passphrase-file", "int.pass"]);
    env.ok_at(T0, &["revoke", &long, "--passphrase-file", "int.pass"]);
    // Expired since, but no CRL was issued after its expiry yet: still listed.
    assert!(gen_crl(&env, "2026-12-02T12:00:00Z", &[]).status.success());
    assert_eq!(crl_serials(&env, "ca/crl/issuing.crl"), vec![short.clone(), long.clone()]);
    // That CRL was issued after its expiry: now it may go.
    assert!(gen_crl(&env, "2026-12-02T13:00:00Z", &[]).status.success());
    assert_eq!(crl_serials(&env, "ca/crl/issuing.crl"), vec![long.clone()]);

    // An editor backdates the long one's notAfter in the list: refused, the certificate says otherwise.
    let p = ca.join("crl/issuing.revoked.tsv");
    let text = std::fs::read_to_string(&p).unwrap();
    let edited: String = text
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split('\t').collect();
            if f[0] == long {
                f[5] = "2026-12-01T00:00:00Z";
            }
            f.join("\t") + "\n"
        })
        .collect();
    std::fs::write(&p, edited).unwrap();
    let before = snapshot(&ca);
    let e = assert_one_line_error(&gen_crl(&env, "2026-12-02T14:00:00Z", &[]));
    assert!(e.contains(&long) && e.contains("which its certificate does not"), "{e}");
    assert_eq!(snapshot(&ca), before);
}

/// A reason cannot be weakened by appending a line; removeFromCRL is refused; a hold is
/// released by its own command (recorded), and only that lets the serial leave the CRL.
#[test]
fn holds_are_released_by_command_and_reasons_are_not_weakened() {
    let env = Env::new();
    init_t0(&env);
    let ca = env.ca();
    let held = issue_at(&env, T0, "held.acme.internal", &[]);
    let bad = issue_at(&env, T0, "bad.acme.internal", &[]);
    env.ok_at(T0, &["revoke", &held, "--reason", "certificateHold", "--passphrase-file", "int.pass"]);
    env.ok_at(T0, &["revoke", &bad, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);

    let e = assert_one_line_error(&env.at(T0, &["revoke", &bad, "--reason", "removeFromCRL"]));
    assert!(e.contains("delta CRLs") && e.contains("release-hold"), "{e}");

    // A "release" line written by hand, without the ledger's record, is an erased revocation.
    let p = ca.join("crl/issuing.revoked.tsv");
    let orig = std::fs::read_to_string(&p).unwrap();
    let line = orig.lines().find(|l| l.starts_with(&held)).unwrap().replace("certificateHold", "released");
    std::fs::write(&p, format!("{orig}{line}\n")).unwrap();
    let e = assert_one_line_error(&gen_crl(&env, T0, &[]));
    assert!(e.contains(&held) && e.contains("without a release in the ledger"), "{e}");
    // keyCompromise weakened to superseded by an appended line.
    let line = orig.lines().find(|l| l.starts_with(&bad)).unwrap().replace("keyCompromise", "superseded");
    std::fs::write(&p, format!("{orig}{line}\n")).unwrap();
    let e = assert_one_line_error(&gen_crl(&env, T0, &[]));
    assert!(e.contains(&bad) && e.contains("says superseded"), "{e}");
    std::fs::write(&p, &orig).unwrap();

    // The command: recorded, valid again, gone from the next CRL.
    let e = assert_one_line_error(&env.at(T0, &["release-hold", &bad, "--passphrase-file", "int.pass"]));
    assert!(e.contains("not on hold"), "{e}");
    env.ok_at(T0, &["release-hold", &held, "--passphrase-file", "int.pass"]);
    assert_eq!(crl_serials(&env, "ca/crl/issuing.crl"), vec![bad.clone()]);
    let v: Value = serde_json::from_str(&env.ok_at(T0, &["list", "--json"])).unwrap();
    let rec = v.as_array().unwrap().iter().find(|r| r["serial"] == held.as_str()).unwrap();
    assert_eq!(rec["status"], "valid", "{rec}");
    let ledger = std::fs::read_to_string(ca.join("ledger.jsonl")).unwrap();
    assert!(ledger.contains("\"event\":\"hold-released\""));
    assert!(gen_crl(&env, T0, &[]).status.success());
    let (code, f) = audit(&env, T0, &[]);
    assert_eq!((code, codes(&f)), (0, Vec::<String>::new()));
}

/// The ledger is checked by the plain audit: an edited record (hash chain) and a record edited
/// with the chain recomputed (signature) are found without --deep.
#[test]
fn the_plain_audit_checks_the_ledger_chain_and_its_signature() {
    let env = Env::new();
    init_t0(&env);
    let ca = env.ca();
    let a = issue_at(&env, T0, "a.acme.internal", &[]);
    let _b = issue_at(&env, T0, "b.acme.internal", &[]);
    let p = ca.join("ledger.jsonl");
    let orig = std::fs::read_to_string(&p).unwrap();
    // Edit a middle record (the first issue's names).
    std::fs::write(&p, orig.replacen("a.acme.internal", "z.acme.internal", 1)).unwrap();
    let (code, f) = audit(&env, T0, &[]);
    assert_eq!(code, 1);
    assert!(has(&f, "ledger-record-edited", "ledger.jsonl"), "{:?}", codes(&f));
    // Delete a record.
    let lines: Vec<&str> = orig.lines().collect();
    let cut: String = lines.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, l)| format!("{l}\n")).collect();
    std::fs::write(&p, cut).unwrap();
    let (_, f) = audit(&env, T0, &[]);
    assert!(has(&f, "ledger-record-missing", "ledger.jsonl"), "{:?}", codes(&f));
    // The same edit with every later prev recomputed: the chain holds, the signature does not.
    std::fs::write(&p, &orig).unwrap();
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for (i, line) in orig.lines().enumerate() {
        let rec: Value = serde_json::from_str(line).unwrap();
        let mut line = line.replacen(
            &format!("\"prev\":\"{}\"", rec["prev"].as_str().unwrap()),
            &format!("\"prev\":\"{prev}\""),
            1,
        );
        if i + 1 == orig.lines().count() - 1 {
            line = line.replace(&a, &"0".repeat(32));
        }
        prev = hex(&Sha256::digest(line.as_bytes()));
        out.push_str(&line);
        out.push('\n');
    }
    std::fs::write(&p, out).unwrap();
    let (_, f) = audit(&env, T0, &[]);
    assert!(!f.iter().any(|(_, c, _)| c == "ledger-record-edited"), "{:?}", codes(&f));
    assert!(has(&f, "ledger-signature-invalid", "ledger.jsonl"), "{:?}", codes(&f));
    let o = env.at(T0, &["ledger", "head"]);
    assert!(!o.status.success());
}

/// keyCompromise revokes every unexpired certificate of the key and blocks the key; renew
/// makes a new key by default and never generates a CSR holder's key.
#[test]
fn key_compromise_means_the_key() {
    let env = Env::new();
    init_t0(&env);
    let ca = env.ca();
    openssl_p256_csr(env.tmp.path(), "k.key", "svc.acme.internal", "one.csr", &[]);
    let o = openssl(
        &[
            "req",
            "-new",
            "-key",
            "k.key",
            "-subj",
            "/CN=svc2.acme.internal",
            "-addext",
            "subjectAltName=DNS:svc2.acme.internal",
            "-out",
            "two.csr",
        ],
        env.tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let c1 = env.issue(&["--csr", "one.csr", "--out", "c1"]);
    let c2 = env.issue(&["--csr", "two.csr", "--out", "c2"]);
    let c1r =
        env.ok(&["renew", &c1, "--reuse-key", "--passphrase-file", "int.pass", "--out", "c1r"]).trim().to_string();
    let other = env.issue(&["--dns", "other.acme.internal", "--out", "o"]);

    // A CSR's certificate is renewed from a new CSR only; a generated key is replaced.
    let e = assert_one_line_error(&env.run(&["renew", &c2, "--passphrase-file", "int.pass", "--out", "x"]));
    assert!(e.contains("issued from a CSR") && e.contains("--csr"), "{e}");
    let e = assert_one_line_error(&env.run(&["renew", &c2, "--rekey", "--passphrase-file", "int.pass", "--out", "x"]));
    assert!(e.contains("issued from a CSR"), "{e}");
    env.ok(&["renew", &other, "--passphrase-file", "int.pass", "--out", "o2"]);
    assert!(env.path("o2/key.pem").is_file());
    let pubkey = |f: &str| openssl(&["x509", "-in", f, "-noout", "-pubkey"], env.tmp.path()).stdout;
    assert_ne!(pubkey("o/cert.pem"), pubkey("o2/cert.pem"));

    let v: Value = serde_json::from_str(&env.ok(&[
        "revoke",
        &c1r,
        "--reason",
        "keyCompromise",
        "--passphrase-file",
        "int.pass",
        "--json",
    ]))
    .unwrap();
    let mut same: Vec<String> =
        v["same_key_revoked"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().into()).collect();
    same.sort();
    let mut want = vec![c1.clone(), c2.clone()];
    want.sort();
    assert_eq!(same, want, "{v}");
    let listed = crl_serials(&env, "ca/crl/issuing.crl");
    for s in [&c1, &c2, &c1r] {
        assert!(listed.contains(s), "{s} not on the CRL {listed:?}");
    }
    assert!(!listed.contains(&other));
    let ledger = std::fs::read_to_string(ca.join("ledger.jsonl")).unwrap();
    assert_eq!(ledger.matches("\"reason\":\"keyCompromise\"").count(), 3);

    // The key is blocked: a new CSR of it, a renewal keeping it.
    openssl(
        &[
            "req",
            "-new",
            "-key",
            "k.key",
            "-subj",
            "/CN=svc3.acme.internal",
            "-addext",
            "subjectAltName=DNS:svc3.acme.internal",
            "-out",
            "three.csr",
        ],
        env.tmp.path(),
    );
    let before = snapshot(&ca);
    let e = assert_one_line_error(&env.run(&[
        "issue",
        "--passphrase-file",
        "int.pass",
        "--csr",
        "three.csr",
        "--out",
        "c3",
    ]));
    assert!(e.contains("keyCompromise") && e.contains("generate a new key"), "{e}");
    assert_eq!(snapshot(&ca), before);
    // The blocklist is a cache of the ledger's keyCompromise records: emptied by hand, the
    // plain audit reports it.
    std::fs::write(ca.join("blocked-keys.tsv"), "").unwrap();
    let (_, f) = audit(&env, T0, &[]);
    assert!(has(&f, "key-blocklist-edited", "blocked-keys.tsv"), "{:?}", codes(&f));
}

/// renew takes names and profile from the stored certificate and the ledger; an inventory line
/// edited to another name is refused, and nothing changes.
#[test]
fn renew_refuses_an_inventory_line_that_disagrees_with_the_certificate() {
    let env = Env::new();
    init_t0(&env);
    let ca = env.ca();
    let s = env.issue(&["--dns", "api.acme.internal", "--out", "api"]);
    let p = ca.join("inventory.tsv");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("DNS:api.acme.internal", "DNS:evil.example.com")).unwrap();
    let before = snapshot(&ca);
    let e = assert_one_line_error(&env.run(&["renew", &s, "--passphrase-file", "int.pass", "--out", "api2"]));
    assert!(e.contains("inventory.tsv says the names") && e.contains("evil.example.com"), "{e}");
    assert_eq!(snapshot(&ca), before);
    assert!(!env.path("api2").exists());
}

/// A CRL dated in the future, a PEM copy missing or different: each found by the plain audit.
#[test]
fn crls_in_every_state_are_seen() {
    let env = Env::new();
    init_t0(&env);
    let ca = env.ca();
    let old_pem = std::fs::read(ca.join("crl/issuing.crl.pem")).unwrap();
    assert!(gen_crl(&env, "2026-12-09T10:00:00Z", &[]).status.success());
    let (_, f) = audit(&env, T0, &[]);
    assert!(has(&f, "crl-not-yet-valid", "issuing"), "{:?}", codes(&f));
    assert!(gen_crl(&env, "2026-12-09T10:00:00Z", &[]).status.success());

    std::fs::write(ca.join("crl/issuing.crl.pem"), &old_pem).unwrap();
    let (_, f) = audit(&env, "2026-12-09T10:00:00Z", &[]);
    assert!(has(&f, "crl-pem-mismatch", "issuing"), "{:?}", codes(&f));
    std::fs::remove_file(ca.join("crl/issuing.crl.pem")).unwrap();
    let (_, f) = audit(&env, "2026-12-09T10:00:00Z", &[]);
    assert!(f.iter().any(|(s, c, i)| s == "warning" && c == "crl-pem-mismatch" && i == "issuing"), "{:?}", codes(&f));
    // A lowered number file cannot make the next CRL's number go back.
    std::fs::write(ca.join("crl/issuing.number"), "1\n").unwrap();
    let v: Value = serde_json::from_slice(&gen_crl(&env, "2026-12-09T10:00:00Z", &["--json"]).stdout).unwrap();
    assert_eq!(v[0]["number"].as_u64().or(v["number"].as_u64()), Some(4), "{v}");
    let (code, f) = audit(&env, "2026-12-09T10:00:00Z", &[]);
    assert_eq!((code, codes(&f)), (0, Vec::<String>::new()));
}
