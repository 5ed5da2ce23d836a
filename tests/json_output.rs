//! JSON for scripts: every field name has one type across commands, every `--json` command
//! prints an error object on stdout when it fails (with the same exit status), and what
//! `--clip-ttl` and batch lines do is said in the JSON too.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Records, for every object key anywhere in `v`, its JSON type and the command it came from.
fn walk(v: &serde_json::Value, cmd: &str, seen: &mut BTreeMap<String, BTreeMap<&'static str, BTreeSet<String>>>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                // null is "absent" for an optional field of any type.
                if !x.is_null() {
                    seen.entry(k.clone()).or_default().entry(kind(x)).or_default().insert(cmd.to_string());
                }
                walk(x, cmd, seen);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, cmd, seen)),
        _ => {}
    }
}

/// Every JSON document pki prints (successes and failures, every command with --json) on one
/// directory; a field name that is a number in one and a string in another (crl_number was),
/// or a count in one and a yes/no in another (audit's `valid`), fails.
#[test]
fn every_json_field_has_one_type_across_commands() {
    let env = Env::new();
    env.init();
    let a = env.issue(&["--dns", "a.acme.internal", "--out", "a"]);
    let b = env.issue(&["--dns", "b.acme.internal", "--out", "b"]);
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("issue", vec!["issue", "--passphrase-file", "int.pass", "--dns", "c.acme.internal", "--out", "-", "--json"]),
        (
            "issue-clipped",
            vec![
                "issue",
                "--passphrase-file",
                "int.pass",
                "--dns",
                "d.acme.internal",
                "--ttl",
                "400d",
                "--clip-ttl",
                "--out",
                "-",
                "--json",
            ],
        ),
        ("renew", vec!["renew", &b, "--passphrase-file", "int.pass", "--out", "b2", "--json"]),
        ("revoke", vec!["revoke", &a, "--reason", "certificateHold", "--passphrase-file", "int.pass", "--json"]),
        ("release-hold", vec!["release-hold", &a, "--passphrase-file", "int.pass", "--json"]),
        ("gen-crl", vec!["gen-crl", "--passphrase-file", "int.pass", "--json"]),
        ("verify", vec!["verify", "a/cert.pem", "--json"]),
        ("inspect-cert", vec!["inspect", "a/cert.pem", "--json"]),
        ("inspect-crl", vec!["inspect", "ca/crl/issuing.crl", "--json"]),
        ("list", vec!["list", "--json"]),
        ("audit", vec!["audit", "--json", "--deep"]),
        ("profiles", vec!["profiles", "--json"]),
        ("ledger-verify", vec!["ledger", "verify", "--json"]),
        ("settings-accept", vec!["settings", "accept", "--json"]),
        // Failures.
        ("revoke-unknown", vec!["revoke", "ABCD", "--passphrase-file", "int.pass", "--json"]),
        (
            "issue-refused",
            vec!["issue", "--passphrase-file", "int.pass", "--dns", "evil.example", "--out", "-", "--json"],
        ),
        ("issue-usage", vec!["issue", "--dsn", "x", "--json"]),
        ("list-bad", vec!["list", "--expiring", "soon", "--json"]),
    ];
    let mut seen = BTreeMap::new();
    for (name, args) in &runs {
        let o = env.run(args);
        let text = String::from_utf8(o.stdout.clone()).unwrap();
        assert!(!text.trim().is_empty(), "{name}: nothing on stdout ({})", stderr(&o));
        for doc in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            let doc = doc.unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {text}"));
            walk(&doc, name, &mut seen);
        }
    }
    let mixed: Vec<String> =
        seen.iter().filter(|(_, kinds)| kinds.len() > 1).map(|(k, kinds)| format!("{k}: {kinds:?}")).collect();
    assert!(mixed.is_empty(), "fields with more than one type:\n{}", mixed.join("\n"));
    // The ones this test was written for.
    assert_eq!(seen["crl_number"].keys().copied().collect::<Vec<_>>(), ["number"]);
    assert!(seen["status"].contains_key("string"));
    assert!(!seen.contains_key("state"), "list has one status field");
}

/// A failing command with --json prints `{"error": {...}}` on stdout, with a stable code, the
/// one-line message and the exit status it exits with; stderr keeps the message for people.
#[test]
fn failures_under_json_are_error_objects_with_the_exit_status() {
    let env = Env::new();
    env.init();
    let cases: Vec<(Vec<&str>, &str, i32)> = vec![
        (vec!["revoke", "ABCD", "--json"], "unknown-serial", 3),
        (
            vec!["issue", "--passphrase-file", "int.pass", "--dns", "evil.example", "--out", "-", "--json"],
            "profile-refused",
            2,
        ),
        (
            vec!["issue", "--passphrase-file", "wrong.pass", "--dns", "x.acme.internal", "--out", "-", "--json"],
            "wrong-passphrase",
            2,
        ),
        (
            vec![
                "issue",
                "--passphrase-file",
                "int.pass",
                "--uri",
                "https://u@x.acme.internal/",
                "--out",
                "-",
                "--json",
            ],
            "bad-name",
            2,
        ),
        (vec!["verify", "missing.pem", "--json"], "io", 2),
        (vec!["inspect", "pki.toml", "--json"], "unrecognized", 2),
        (vec!["list", "--expiring", "soon", "--json"], "bad-duration", 2),
        (vec!["gen-crl", "--ca", "nope", "--json"], "unknown-ca", 2),
        (vec!["audit", "--json", "--bogus"], "usage", 2),
        (vec!["revoke", "--json"], "usage", 2),
    ];
    std::fs::write(env.path("pki.toml"), "not a certificate\n").unwrap();
    for (args, code, status) in cases {
        let before = snapshot(&env.ca());
        let o = env.run(&args);
        assert_eq!(o.status.code(), Some(status), "{args:?}: {}", stderr(&o));
        let msg = stderr(&o);
        assert!(msg.starts_with("pki: error: ") && msg.lines().count() == 1, "{args:?}: {msg}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)));
        let e = &v["error"];
        assert_eq!(e["code"], code, "{args:?}: {v}");
        assert_eq!(e["exit"], status, "{args:?}: {v}");
        assert!(msg.contains(e["message"].as_str().unwrap()), "{args:?}: stderr {msg:?} vs {v}");
        assert_eq!(before, snapshot(&env.ca()), "{args:?} changed the directory");
    }
    // The refusal names the rule a script can act on.
    let o = env.run(&["issue", "--passphrase-file", "int.pass", "--dns", "evil.example", "--out", "-", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["error"]["profile"].as_str(), v["error"]["rule"].as_str()), (Some("server"), Some("allowed_dns")));
    // Without --json, stdout stays empty.
    let o = env.run(&["revoke", "ABCD"]);
    assert!(o.stdout.is_empty());
}

/// --clip-ttl that shortened a lifetime says so: a note on stderr and `clipped` in the JSON;
/// one that did not shorten it says nothing.
#[test]
fn clipped_lifetimes_are_reported() {
    let env = Env::new();
    env.init();
    let args =
        ["issue", "--passphrase-file", "int.pass", "--dns", "a.acme.internal", "--out", "-", "--json", "--clip-ttl"];
    let o = env.pki().args(args).args(["--ttl", "200d"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["clipped"], serde_json::json!({"requested_ttl": "200d", "limit": "max_ttl"}), "{v}");
    assert!(
        stderr(&o).contains("note: --clip-ttl: the lifetime asked for (200d) is cut to profile 'server' max_ttl 90d"),
        "{}",
        stderr(&o)
    );
    let o = env.pki().args(args).args(["--ttl", "1h"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("clipped").is_none() && !stderr(&o).contains("clip"), "{v}");
    // Past the issuing CA's own end: without a profile (none by default), 20 years are asked for.
    let toml = std::fs::read_to_string(env.ca().join("pki.toml")).unwrap();
    std::fs::write(env.ca().join("pki.toml"), toml.replacen("\nprofile = \"server\"\n", "\n", 1)).unwrap();
    env.ok(&["settings", "accept"]);
    let o = env.pki().args(args).args(["--ttl", "20y"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["profile"], serde_json::Value::Null, "{v}");
    assert_eq!(v["clipped"], serde_json::json!({"requested_ttl": "20y", "limit": "issuer"}), "{v}");
    assert!(stderr(&o).contains("it ends with the CA at"), "{}", stderr(&o));
}

/// A batch line with a name as a string, not a list, is refused with a message that says "a
/// list"; refused lines carry the same error object as a failed command.
#[test]
fn batch_lines_say_names_are_a_list() {
    let env = Env::new();
    env.init();
    std::fs::write(
        env.path("req.jsonl"),
        "{\"dns\": \"a.acme.internal\"}\n{\"dns\": [\"b.acme.internal\"], \"ip\": 7}\n",
    )
    .unwrap();
    let o = env.run(&["issue", "--passphrase-file", "int.pass", "--batch", "req.jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["error"]["code"], "bad-request");
    let m = lines[0]["error"]["message"].as_str().unwrap();
    assert!(m.contains("\"dns\" is a list of strings: write [\"a.acme.internal\"]"), "{m}");
    let m = lines[1]["error"]["message"].as_str().unwrap();
    assert!(m.contains("\"ip\" is a list of strings"), "{m}");
    assert_eq!(inventory(&env.ca()).len(), 0);
}
