//! A CA directory that refuses to be misused by a writer who knows no passphrase or a careless
//! user: planted symbolic links, loose modes, a deleted lock or recovery note, endless inputs,
//! test hooks, and hand edits of pki.toml. Each refusal is one line and changes nothing.

mod common;

use std::collections::HashSet;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

fn plain_env() -> Env {
    let env = Env::new();
    env.init_plain();
    env
}

fn issue_plain(env: &Env, name: &str) -> std::process::Output {
    env.run(&["issue", "--dns", &format!("{name}.acme.internal"), "--out", "-"])
}

/// A link planted for each of the directory's files and directories is refused by name, the
/// directory and the link's target stay byte-for-byte as they were.
#[test]
fn a_planted_symlink_is_refused_by_name_and_nothing_outside_is_touched() {
    let env = plain_env();
    let first = env.ok(&["issue", "--dns", "first.acme.internal", "--out", "first"]);
    env.ok(&["revoke", first.trim()]);
    let ca = env.ca();
    let outside = env.path("outside");
    std::fs::create_dir(&outside).unwrap();
    let shard = std::fs::read_dir(ca.join("certs")).unwrap().next().unwrap().unwrap().file_name();
    let shard = format!("certs/{}", shard.to_string_lossy());
    // (name in the directory, what a command does through it)
    let cases: &[(&str, &[&str])] = &[
        ("inventory.tsv", &["issue", "--dns", "x.acme.internal", "--out", "-"]),
        ("ledger.jsonl", &["issue", "--dns", "x.acme.internal", "--out", "-"]),
        ("pki.toml", &["issue", "--dns", "x.acme.internal", "--out", "-"]),
        ("crl/issuing.crl", &["gen-crl"]),
        ("crl/issuing.revoked.tsv", &["gen-crl"]),
        ("pending", &["issue", "--dns", "x.acme.internal", "--out", "-"]),
        ("cas/issuing", &["issue", "--dns", "x.acme.internal", "--out", "-"]),
        (&shard, &["reindex"]),
    ];
    for (name, cmd) in cases {
        let real = ca.join(name);
        let target = outside.join(name.replace('/', "_"));
        // Move the real thing out and put a link to it in its place: an attacker's copy.
        std::fs::rename(&real, &target).unwrap_or_else(|e| panic!("{name}: {e}"));
        symlink(&target, &real).unwrap();
        let before = (snapshot(&ca), snapshot(&outside));
        let o = env.run(cmd);
        let e = assert_one_line_error(&o);
        assert!(
            e.contains("refusing to follow the symbolic link") && e.contains(&ca.join(name).display().to_string()),
            "{name}: {e}"
        );
        assert_eq!((snapshot(&ca), snapshot(&outside)), before, "{name}: something changed");
        std::fs::remove_file(&real).unwrap();
        std::fs::rename(&target, &real).unwrap();
    }
    // Put back, everything works again.
    assert!(issue_plain(&env, "after").status.success());
    let audit = env.run(&["audit", "--deep", "--fail-on", "critical"]);
    assert_eq!(audit.status.code(), Some(0), "{}{}", stderr(&audit), String::from_utf8_lossy(&audit.stdout));
}

/// A world-writable directory, a readable key, or a file of another user: every change is
/// refused with the command that fixes it; reading commands still work.
#[test]
fn loose_modes_refuse_every_change_with_the_fix_and_reads_still_work() {
    let env = plain_env();
    let ca = env.ca();
    let set = |p: &Path, mode: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    let cases: Vec<(std::path::PathBuf, u32, String)> = vec![
        (ca.clone(), 0o777, format!("run `chmod go-w {}`", ca.display())),
        (ca.join("cas/issuing"), 0o775, format!("run `chmod go-w {}`", ca.join("cas/issuing").display())),
        (
            ca.join("cas/issuing/key.pem"),
            0o644,
            format!("run `chmod 600 {}`", ca.join("cas/issuing/key.pem").display()),
        ),
        (ca.join("pki.toml"), 0o666, format!("run `chmod go-w {}`", ca.join("pki.toml").display())),
    ];
    for (p, mode, fix) in cases {
        let old = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        set(&p, mode);
        let before = snapshot(&ca);
        for cmd in [&["issue", "--dns", "x.acme.internal", "--out", "-"][..], &["gen-crl"], &["reindex"]] {
            let e = assert_one_line_error(&env.run(cmd));
            assert!(e.contains("refusing to change the CA directory") && e.contains(&fix), "{cmd:?}: {e}");
        }
        assert_eq!(snapshot(&ca), before);
        let list = env.run(&["list"]);
        assert!(list.status.success(), "list works on a loose directory");
        assert!(stderr(&list).contains("warning: refusing to change the CA directory"), "and says why changes fail");
        let audit = env.run(&["audit", "--json"]);
        assert_eq!(audit.status.code(), Some(1), "audit reports it");
        set(&p, old);
    }
    // Another user's file.
    let key = ca.join("cas/issuing/key.pem");
    std::os::unix::fs::chown(&key, Some(65534), None).unwrap();
    let e = assert_one_line_error(&env.run(&["issue", "--dns", "x.acme.internal", "--out", "-"]));
    assert!(e.contains("belongs to uid 65534") && e.contains(&format!("chown 0 {}", key.display())), "{e}");
    std::os::unix::fs::chown(&key, Some(0), None).unwrap();
    assert!(issue_plain(&env, "ok").status.success());
}

/// Try to take the directory's lock from outside: whether we got it.
fn try_lock_dir(ca: &Path) -> bool {
    let f = std::fs::File::open(ca).unwrap();
    let got = f.try_lock().is_ok();
    if got {
        f.unlock().unwrap();
    }
    got
}

/// While one pki holds the lock, deleting `.lock` and `.state` lets no second writer in (on
/// the landed main, deleting `.lock` did).
#[test]
fn deleting_the_lock_file_lets_no_second_writer_in() {
    let env = plain_env();
    let ca = env.ca();
    // The first writer pauses right after taking the lock (a test hook) for 3 seconds.
    let mut a = env
        .pki()
        .env("PKI_PAUSE_AT", "locked")
        .env("PKI_PAUSE_MS", "3000")
        .args(["issue", "--dns", "a.acme.internal", "--out", "-"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while try_lock_dir(&ca) {
        assert!(t.elapsed() < Duration::from_secs(20), "the first writer never took the lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    for f in [".lock", ".state"] {
        let _ = std::fs::remove_file(ca.join(f));
    }
    let b = env.run(&["issue", "--dns", "b.acme.internal", "--out", "-", "--lock-timeout", "1s"]);
    let e = assert_one_line_error(&b);
    assert!(e.contains("stayed locked"), "{e}");
    assert!(a.wait().unwrap().success());
    // Then the second one goes through, and everything adds up.
    assert!(issue_plain(&env, "b").status.success());
    let (intact, records) = ledger_chain_intact(&ca);
    assert!(intact);
    assert_eq!(issued_serials(&records).len(), 2);
    assert_eq!(inventory(&ca).len(), 2);
}

/// A change committed but not applied when its process died, with the recovery note deleted:
/// the next command completes it from the ledger (the note is rebuilt, not trusted).
#[test]
fn a_deleted_recovery_note_is_rebuilt_from_the_ledger() {
    let env = plain_env();
    let ca = env.ca();
    for point in ["issue-committed", "batch-committed", "revoke-committed"] {
        let o = match point {
            "revoke-committed" => {
                let s =
                    String::from_utf8(env.ok(&["issue", "--dns", "r.acme.internal", "--out", "-", "--json"]).into())
                        .unwrap();
                let serial =
                    serde_json::from_str::<serde_json::Value>(&s).unwrap()["serial"].as_str().unwrap().to_string();
                env.pki().env("PKI_CRASH_AT", point).args(["revoke", &serial]).output().unwrap()
            }
            "batch-committed" => {
                let lines: String = (0..5).map(|i| format!("{{\"dns\":[\"b{i}.acme.internal\"]}}\n")).collect();
                std::fs::write(env.path("b.jsonl"), lines).unwrap();
                env.pki().env("PKI_CRASH_AT", point).args(["issue", "--batch", "b.jsonl"]).output().unwrap()
            }
            _ => env
                .pki()
                .env("PKI_CRASH_AT", point)
                .args(["issue", "--dns", "c.acme.internal", "--out", "-"])
                .output()
                .unwrap(),
        };
        assert!(!o.status.success(), "{point}: the crash hook fired");
        std::fs::remove_file(ca.join(".state")).ok();
        // Any change completes it; then the deep audit finds nothing wrong.
        assert!(issue_plain(&env, &format!("after-{point}")).status.success());
        // A revocation completed by recovery still needs its CRL (the crashed run signed none).
        env.ok(&["gen-crl"]);
        // (Warnings only: the keys of this directory are unencrypted.)
        let audit = env.run(&["audit", "--deep", "--json", "--fail-on", "critical"]);
        assert_eq!(audit.status.code(), Some(0), "{point}: {}", String::from_utf8_lossy(&audit.stdout));
    }
    let (intact, records) = ledger_chain_intact(&ca);
    assert!(intact);
    let issued: HashSet<String> = issued_serials(&records).into_iter().collect();
    let inv: HashSet<String> = inventory(&ca).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(issued, inv, "every committed issue is in the inventory exactly once");
    assert_eq!(inventory(&ca).len(), inv.len());
}

/// Under sabotage: six jobs issuing 25 each while another loop deletes `.lock` and `.state`
/// every 10 ms.
#[test]
fn six_jobs_with_the_lock_files_deleted_every_10ms_lose_nothing() {
    let env = plain_env();
    let ca = env.ca();
    const JOBS: usize = 6;
    const EACH: usize = 25;
    let bin = env!("CARGO_BIN_EXE_pki");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let saboteur = {
        let (stop, ca) = (stop.clone(), ca.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for f in [".lock", ".state"] {
                    if std::fs::remove_file(ca.join(f)).is_ok() {
                        n += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            n
        })
    };
    let jobs: Vec<_> = (0..JOBS)
        .map(|j| {
            let script = format!(
                "for i in $(seq 1 {EACH}); do \"{bin}\" issue --dns j{j}-$i.acme.internal --out - --json >> out.{j} 2>> err.{j} || exit 1; done"
            );
            std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .current_dir(env.tmp.path())
                .env("PKI_DIR", &ca)
                .env("PKI_ACTOR", format!("job{j}"))
                .spawn()
                .unwrap()
        })
        .collect();
    for (j, mut c) in jobs.into_iter().enumerate() {
        assert!(
            c.wait().unwrap().success(),
            "job {j}: {}",
            std::fs::read_to_string(env.path(&format!("err.{j}"))).unwrap()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let deletions = saboteur.join().unwrap();
    assert!(deletions > 0, "the saboteur deleted something");
    let (intact, records) = ledger_chain_intact(&ca);
    assert!(intact);
    let issued: HashSet<String> = issued_serials(&records).into_iter().collect();
    assert_eq!(issued.len(), JOBS * EACH);
    let inv: HashSet<String> = inventory(&ca).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(inv, issued);
    assert_eq!(inventory(&ca).len(), JOBS * EACH);
    assert!(env.run(&["ledger-verify"]).status.success());
    let audit = env.run(&["audit", "--deep", "--json", "--fail-on", "critical"]);
    assert_eq!(audit.status.code(), Some(0), "{}", String::from_utf8_lossy(&audit.stdout));
}

/// Endless or huge inputs get a one-line error at once, not an allocation abort.
#[test]
fn endless_and_huge_inputs_are_refused_in_one_line() {
    let env = Env::new();
    env.init();
    let huge = env.path("huge");
    std::fs::File::create(&huge).unwrap().set_len(10 << 30).unwrap(); // 10 GB, sparse
    let before = snapshot(&env.ca());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["issue", "--csr", "/dev/zero", "--out", "-"], "larger than 1 MiB"),
        (vec!["issue", "--csr", "huge", "--out", "-"], "larger than 1 MiB"),
        (
            vec!["issue", "--dns", "x.acme.internal", "--out", "-", "--key-passphrase-file", "/dev/zero"],
            "longer than 4 KiB",
        ),
        (vec!["issue", "--dns", "x.acme.internal", "--out", "-", "--passphrase-file", "huge"], "longer than 4 KiB"),
        (vec!["gen-crl", "--passphrase-file", "/dev/zero"], "longer than 4 KiB"),
        (vec!["inspect", "/dev/zero"], "larger than 64 MiB"),
        (vec!["verify", "huge"], "larger than 1 MiB"),
        (vec!["revoke", "--cert", "/dev/zero"], "larger than 1 MiB"),
        (vec!["renew", "--cert", "huge"], "larger than 1 MiB"),
        (vec!["issue", "--batch", "/dev/zero"], "longer than 64 KiB"),
    ];
    for (args, want) in cases {
        let e = assert_one_line_error(&env.run(&args));
        assert!(e.contains(want), "{args:?}: {e}");
    }
    // A huge batch line from standard input, too.
    let mut c = env
        .pki()
        .args(["issue", "--batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let block = vec![b'x'; 1 << 16];
        for _ in 0..64 {
            if stdin.write_all(&block).is_err() {
                break;
            }
        }
    });
    let o = c.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(assert_one_line_error(&o).contains("batch line 1 is longer than 64 KiB"));
    assert_eq!(snapshot(&env.ca()), before, "nothing changed");
}

/// A hand edit of pki.toml (a widened allowed_dns) is found by the plain cron audit until it
/// is accepted on the record, by whom the ledger says.
#[test]
fn a_hand_edit_of_the_settings_is_found_until_accepted() {
    let env = Env::new();
    env.init();
    assert_eq!(env.run(&["audit"]).status.code(), Some(0));
    let p = env.ca().join("pki.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains("allowed_dns = [\"**.acme.internal\"]"), "{text}");
    std::fs::write(&p, text.replacen("allowed_dns = [\"**.acme.internal\"]", "allowed_dns = [\"**\"]", 1)).unwrap();
    let o = env.run(&["audit", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["settings-unrecorded"]);
    let accepted = env.pki().env("PKI_ACTOR", "alice@review").args(["settings", "accept", "--json"]).output().unwrap();
    assert!(accepted.status.success());
    let a: serde_json::Value = serde_json::from_slice(&accepted.stdout).unwrap();
    assert_eq!(a["was_on_record"], false);
    assert_eq!(env.run(&["audit"]).status.code(), Some(0));
    let (_, records) = ledger_chain_intact(&env.ca());
    let last = records.last().unwrap();
    assert_eq!((last["event"].as_str(), last["actor"].as_str()), (Some("settings-accepted"), Some("alice@review")));
    assert_eq!(last["data"]["sha256"], a["sha256"]);
}

/// A new CA key gets a passphrase of at least 12 characters and 5 different ones, from any
/// source: a weak one from a file or PKI_PASSPHRASE is refused (exit 2, one line, nothing made,
/// the passphrase never shown); the prompt asks again (tests/interactive.rs). Existing keys
/// still open with whatever passphrase they have.
#[test]
fn weak_passphrases_for_new_ca_keys_are_refused() {
    let env = Env::new();
    std::fs::write(env.path("short.pass"), "hunter2!\n").unwrap();
    std::fs::write(env.path("same.pass"), "abababababababab\n").unwrap();
    // INIT_ARGS with other passphrase files.
    let init = |root: &str, int: &str| {
        let args: Vec<&str> = INIT_ARGS
            .iter()
            .map(|a| match *a {
                "root.pass" => root,
                "int.pass" => int,
                a => a,
            })
            .collect();
        env.run(&args)
    };
    for (root, int, want) in [
        (
            "short.pass",
            "int.pass",
            "the passphrase from short.pass for the root CA key is too weak: it has 8 characters; a new CA key needs at least 12",
        ),
        (
            "root.pass",
            "same.pass",
            "the passphrase from same.pass for the 'issuing' CA key is too weak: it uses only 2 different characters",
        ),
    ] {
        let o = init(root, int);
        let e = assert_one_line_error(&o);
        assert!(e.contains(want), "{e}");
        assert!(!e.contains("hunter2") && !e.contains("abab"), "the passphrase was shown: {e}");
        assert!(!env.ca().exists(), "a refused init left {}", env.ca().display());
    }
    let o = env
        .pki()
        .args(["init", "--non-interactive", "--trust-domain", "acme.internal"])
        .env("PKI_PASSPHRASE", "123412341234")
        .output()
        .unwrap();
    assert!(assert_one_line_error(&o).contains("from PKI_PASSPHRASE for the root CA key is too weak: it uses only 4"));
    env.init();
    let before = snapshot(&env.ca());
    let o = env.run(&[
        "create-intermediate",
        "team",
        "--passphrase-file",
        "root.pass",
        "--new-passphrase-file",
        "short.pass",
    ]);
    assert!(assert_one_line_error(&o).contains("for CA 'team' is too weak"), "{}", stderr(&o));
    assert_eq!(before, snapshot(&env.ca()));
    // A second init names the directory, absolute, and changes nothing.
    let o = env.run(INIT_ARGS);
    let e = assert_one_line_error(&o);
    assert!(e.contains(&format!("{} is already a CA directory", env.ca().display())), "{e}");
    assert_eq!(before, snapshot(&env.ca()));
}
