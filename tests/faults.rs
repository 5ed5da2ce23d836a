//! A full disk and a read-only file system: a change fails with one clear line and leaves the
//! directory as it was; reading still works; with space again, everything works. Needs root to
//! mount a small tmpfs (CI runs as root); elsewhere it is skipped with a message.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A tmpfs mounted for the test's lifetime, unmounted even when the test fails.
struct Mount(PathBuf);

impl Mount {
    fn new(at: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            if std::env::var_os("CI").is_some() {
                panic!("cannot mount a tmpfs at {}: CI runs as root and must be able to", at.display());
            }
            eprintln!("SKIPPED: cannot mount a tmpfs (not root?)");
            return None;
        }
        Some(Mount(at.to_path_buf()))
    }

    fn remount(&self, opts: &str) {
        let st = Command::new("mount").args(["-o", &format!("remount,{opts}")]).arg(&self.0).status().unwrap();
        assert!(st.success(), "remount {opts}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn on_tmpfs(env: &Env, size: &str) -> Option<(Mount, Env)> {
    let m = Mount::new(&env.path("fs"), size)?;
    // A second Env whose CA directory lives on the small file system.
    let inner = Env::new();
    let dir = m.0.join("ca");
    let o = inner
        .pki()
        .env("PKI_DIR", &dir)
        .args(["init", "--non-interactive", "--org", "Acme", "--trust-domain", "acme.internal", "--no-passphrase"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    Some((m, inner))
}

fn pki_in(env: &Env, dir: &Path, args: &[&str]) -> std::process::Output {
    env.pki().env("PKI_DIR", dir).args(args).output().unwrap()
}

#[test]
fn a_full_disk_fails_cleanly_and_loses_nothing() {
    let env = Env::new();
    let Some((m, inner)) = on_tmpfs(&env, "512k") else { return };
    let dir = m.0.join("ca");
    let s =
        pki_in(&inner, &dir, &["issue", "--dns", "before.acme.internal", "--out", inner.path("b").to_str().unwrap()]);
    assert!(s.status.success(), "{}", stderr(&s));
    // Fill the file system to the last byte.
    let filler = m.0.join("filler");
    let _ = Command::new("dd").args(["if=/dev/zero", "bs=4k"]).arg(format!("of={}", filler.display())).output();
    let serial = String::from_utf8_lossy(&s.stdout).trim().to_string();
    let mut recorded = vec![];
    for args in [
        &["issue", "--dns", "full.acme.internal", "--out", "-"][..],
        &["gen-crl", "--all"],
        &["revoke", &serial],
        &["create-intermediate", "second", "--no-passphrase"],
    ] {
        let before = snapshot(&dir);
        let o = pki_in(&inner, &dir, args);
        let line = assert_one_line_error(&o);
        assert!(line.contains("No space left on device") && line.contains("free some space"), "{args:?}: {line}");
        // Either nothing changed, or the change was committed before the disk filled up and the
        // message says so (a ledger record fits in a block's slack where a new file does not).
        if line.contains("is recorded in the ledger but not yet complete") {
            recorded.push(args[0]);
        } else {
            assert_eq!(snapshot(&dir), before, "{args:?} changed the directory on a full disk");
        }
    }
    eprintln!("committed before the disk filled: {recorded:?}");
    // Reading needs no space.
    let o = pki_in(&inner, &dir, &["list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // With space again, everything works and the directory is whole.
    std::fs::remove_file(&filler).unwrap();
    let o = pki_in(&inner, &dir, &["issue", "--dns", "after.acme.internal", "--out", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A recorded revocation was completed by that run.
    let list = String::from_utf8(pki_in(&inner, &dir, &["list", "--json"]).stdout).unwrap();
    let revoked = list.contains("\"revoked\"");
    assert_eq!(revoked, recorded.contains(&"revoke"), "{list}");
    let o = pki_in(&inner, &dir, &["gen-crl", "--all"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = pki_in(&inner, &dir, &["audit", "--deep", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(codes.iter().all(|c| *c == "ca-key-unencrypted"), "{r:#}");
    assert_eq!(r["summary"]["certificates"], 2);
}

#[test]
fn a_read_only_file_system_fails_cleanly_and_still_reads() {
    let env = Env::new();
    let Some((m, inner)) = on_tmpfs(&env, "4m") else { return };
    let dir = m.0.join("ca");
    let s = pki_in(&inner, &dir, &["issue", "--dns", "before.acme.internal", "--out", "-"]);
    assert!(s.status.success());
    m.remount("ro");
    let before = snapshot(&dir);
    for args in [&["issue", "--dns", "ro.acme.internal", "--out", "-"][..], &["gen-crl", "--all"], &["reindex"]] {
        let o = pki_in(&inner, &dir, args);
        let line = assert_one_line_error(&o);
        assert!(line.contains("read-only"), "{args:?}: {line}");
    }
    assert_eq!(snapshot(&dir), before);
    for args in [&["list"][..], &["audit", "--fail-on", "critical"], &["ledger-verify"], &["profiles"]] {
        let o = pki_in(&inner, &dir, args);
        assert!(o.status.success(), "{args:?} on a read-only directory: {}", stderr(&o));
    }
    m.remount("rw");
}
