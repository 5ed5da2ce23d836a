//! `pki audit` against real directories made by the real binary, with a fixed clock
//! (`PKI_NOW`): the findings expected of each situation, exit statuses, `--quiet`, the JSON
//! shape, tampering found by `--deep`, and the Prometheus textfile checked by a parser of the
//! format's rules (and by `promtool` where it is installed).

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::Value;

const T0: &str = "2026-01-01T00:00:00Z";
/// The audit's "now": 20 days after the directory was made.
const T1: &str = "2026-01-21T00:00:00Z";

fn issue_at(env: &Env, now: &str, extra: &[&str]) -> String {
    let mut args = vec!["issue", "--passphrase-file", "int.pass"];
    args.extend_from_slice(extra);
    env.ok_at(now, &args)
}

/// A directory made at T0 with encrypted keys.
fn init_at(env: &Env) {
    env.ok_at(T0, INIT_ARGS);
}

/// An intermediate `short` that ends 30 days after T0.
fn short_intermediate(env: &Env) {
    env.ok_at(
        T0,
        &[
            "create-intermediate",
            "short",
            "--ttl",
            "30d",
            "--passphrase-file",
            "root.pass",
            "--new-passphrase-file",
            "int.pass",
        ],
    );
}

fn audit_json(env: &Env, now: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["audit", "--json"];
    args.extend_from_slice(extra);
    let o = env.at(now, &args);
    let code = o.status.code().unwrap();
    assert!(code == 0 || code == 1, "audit failed: {}", stderr(&o));
    (code, serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(&o))))
}

/// (severity, code, id) of every finding.
fn findings(report: &Value) -> BTreeSet<(String, String, String)> {
    finding_triples(report).into_iter().collect()
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

/// The directory of acceptance 1: leaves expiring in 1h, 47h, 49h and 30d after T1, a 1-hour
/// agent certificate, a renewed one, a revoked one (whose CRL went stale), and an intermediate
/// ending 10 days after T1 that a profile still issues 30-day certificates from.
fn mixed_directory(env: &Env) -> [String; 6] {
    init_at(env);
    short_intermediate(env);
    env.append_settings(
        "\n[profiles.edge]\nca = \"short\"\ndefault_ttl = \"24h\"\nmax_ttl = \"30d\"\nkey_types = [\"p256\"]\next_key_usage = [\"serverAuth\"]\nallowed_dns = [\"**.acme.internal\"]\n",
    );
    let one_h = issue_at(env, T0, &["--dns", "a.acme.internal", "--ttl", "481h", "--out", "a"]);
    let h47 = issue_at(env, T0, &["--dns", "b.acme.internal", "--ttl", "527h", "--out", "b"]);
    let h49 = issue_at(env, T0, &["--dns", "c.acme.internal", "--ttl", "529h", "--out", "c"]);
    let d30 = issue_at(env, T0, &["--dns", "d.acme.internal", "--ttl", "50d", "--out", "d"]);
    let renewed = issue_at(env, T0, &["--dns", "e.acme.internal", "--ttl", "481h", "--out", "e"]);
    let revoked = issue_at(env, T0, &["--dns", "f.acme.internal", "--ttl", "481h", "--out", "f"]);
    let day1 = "2026-01-02T00:00:00Z";
    env.ok_at(day1, &["renew", &renewed, "--ttl", "50d", "--out", "e", "--force", "--passphrase-file", "int.pass"]);
    env.ok_at(day1, &["revoke", &revoked, "--reason", "keyCompromise", "--passphrase-file", "int.pass"]);
    issue_at(
        env,
        "2026-01-20T23:30:00Z",
        &["--profile", "agent", "--spiffe-id", "spiffe://acme.internal/agent/7", "--ttl", "1h", "--out", "agent"],
    );
    [one_h, h47, h49, d30, renewed, revoked]
}

#[test]
fn finds_exactly_what_will_break_within_the_window() {
    let env = Env::new();
    let [one_h, h47, _h49, _d30, _renewed, _revoked] = mixed_directory(&env);
    let (code, r) = audit_json(&env, T1, &["--expiring", "48h"]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        findings(&r),
        set(&[
            ("critical", "cert-expiring", &one_h),
            ("warning", "cert-expiring", &h47),
            ("critical", "crl-stale", "issuing"),
            ("warning", "ca-cannot-cover", "short"),
            // create-intermediate published its first CRL; a week later it is stale like the other.
            ("critical", "crl-stale", "short"),
        ]),
        "{r:#}"
    );
    let s = &r["summary"];
    assert_eq!(
        (
            s["certificates"].as_u64(),
            s["certificates_valid"].as_u64(),
            s["certificates_revoked"].as_u64(),
            s["certificates_superseded"].as_u64()
        ),
        (Some(8), Some(6), Some(1), Some(1))
    );
    assert_eq!(s["short_lived_expiring"], 1, "the 1-hour agent certificate is counted, not listed");
    assert_eq!((s["critical"].as_u64(), s["warning"].as_u64(), s["info"].as_u64()), (Some(3), Some(2), Some(0)));
    // Sorted by severity, then by time left.
    let order: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["severity"].as_str().unwrap()).collect();
    assert_eq!(order, ["critical", "critical", "critical", "warning", "warning"]);
    let first = &r["findings"][0];
    assert_eq!(first["code"], "crl-stale", "the stale CRL (negative time left) comes first");
    let a = r["findings"].as_array().unwrap().iter().find(|f| f["id"] == one_h.as_str()).unwrap();
    assert_eq!(a["seconds_left"], 3600);
    assert_eq!(a["not_after"], "2026-01-21T01:00:00Z");
    assert_eq!(a["profile"], "server");
    assert!(a["message"].as_str().unwrap().contains(&format!(" renew {one_h}`")), "{a}");

    // --include-short-lived lists the agent certificate too.
    let (_, r2) = audit_json(&env, T1, &["--expiring", "48h", "--include-short-lived"]);
    assert_eq!(r2["findings"].as_array().unwrap().len(), 6);
    assert_eq!(r2["summary"]["short_lived_expiring"], 0);

    // --fail-on critical still fails (two criticals); --ca short narrows to that CA.
    let (code, r3) = audit_json(&env, T1, &["--expiring", "48h", "--ca", "short"]);
    assert_eq!(code, 1);
    assert_eq!(findings(&r3), set(&[("warning", "ca-cannot-cover", "short"), ("critical", "crl-stale", "short")]));
    let (code, _) = audit_json(&env, T1, &["--expiring", "48h", "--ca", "short", "--fail-on", "critical"]);
    assert_eq!(code, 1, "a stale CRL is critical");
    // With short's CRL made again at T1, only a warning is left: --fail-on critical passes.
    env.ok_at(T1, &["gen-crl", "--ca", "short", "--passphrase-file", "int.pass"]);
    let (code, r4) = audit_json(&env, T1, &["--expiring", "48h", "--ca", "short", "--fail-on", "critical"]);
    assert_eq!(findings(&r4), set(&[("warning", "ca-cannot-cover", "short")]));
    assert_eq!(code, 0, "only warnings: --fail-on critical passes");

    // The plain output (not a terminal) is one line per finding plus a summary line.
    let o = env.at(T1, &["audit", "--expiring", "48h"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.lines().next().unwrap().starts_with("critical\tcrl-stale\tissuing\t"), "{text}");
    assert!(text.lines().last().unwrap().starts_with("4 finding(s): 2 critical, 2 warning, 0 info"), "{text}");

    // After the CRL is regenerated that finding is gone, and nothing was changed by the audits.
    let before = snapshot(&env.ca());
    env.at(T1, &["audit", "--deep", "--expiring", "48h"]);
    assert_eq!(snapshot(&env.ca()), before, "audit changes nothing");
    env.ok_at(T1, &["gen-crl", "--ca", "issuing", "--passphrase-file", "int.pass"]);
    let (_, r4) = audit_json(&env, T1, &["--expiring", "48h"]);
    assert!(!findings(&r4).iter().any(|f| f.1 == "crl-stale"), "{r4:#}");
}

#[test]
fn a_clean_directory_is_silent_with_quiet_and_exits_0() {
    let env = Env::new();
    init_at(&env);
    issue_at(&env, T0, &["--dns", "api.acme.internal", "--ttl", "90d", "--out", "api"]);
    let o = env.at(T0, &["audit", "--quiet", "--deep"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "quiet means nothing at all: {o:?}");
    let (code, r) = audit_json(&env, T0, &[]);
    assert_eq!(code, 0);
    assert_eq!(r["findings"], serde_json::json!([]));
    assert_eq!(r["exit"], 0);
    // The documented shape (docs/audit.md).
    for key in
        ["now", "window", "window_seconds", "deep", "findings", "summary", "groups", "cas", "crls", "fail_on", "exit"]
    {
        assert!(r.get(key).is_some(), "missing {key}: {r:#}");
    }
    assert_eq!(r["window_seconds"], 30 * 86400);
    assert_eq!(r["cas"].as_array().unwrap().len(), 2);
    assert_eq!(r["crls"].as_array().unwrap().len(), 2);
    let g = &r["groups"][0];
    assert_eq!(
        (g["ca"].as_str(), g["profile"].as_str(), g["certificates_valid"].as_u64()),
        (Some("issuing"), Some("server"), Some(1))
    );

    // Six days in, the 7-day CRL of the intermediate is due: inside the window and past half its life.
    let (code, r) = audit_json(&env, "2026-01-06T12:00:00Z", &["--expiring", "48h"]);
    assert_eq!((code, findings(&r)), (1, set(&[("warning", "crl-due", "issuing")])), "{r:#}");

    // Quiet with a finding prints it, and the exit status says so.
    let o = env.at("2026-03-25T00:00:00Z", &["audit", "--quiet"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("cert-expiring") && text.contains("crl-stale"), "{text}");
}

#[test]
fn expired_and_policy_drift_are_reported() {
    let env = Env::new();
    init_at(&env);
    let long = issue_at(&env, T0, &["--dns", "long.acme.internal", "--ttl", "60d", "--out", "long"]);
    let gone = issue_at(&env, T0, &["--dns", "gone.acme.internal", "--ttl", "10d", "--out", "gone"]);
    // Lower max_ttl after the fact: the 60-day certificate no longer fits the profile.
    let p = env.ca().join("pki.toml");
    let text = std::fs::read_to_string(&p).unwrap().replacen("max_ttl = \"90d\"", "max_ttl = \"30d\"", 1);
    std::fs::write(&p, text).unwrap();
    env.ok(&["settings", "accept"]);
    let (code, r) = audit_json(&env, "2026-01-12T00:00:00Z", &["--expiring", "48h"]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&r),
        set(&[
            ("critical", "cert-expired", &gone),
            ("warning", "policy-drift", &long),
            // Made at T0 for 7 days.
            ("critical", "crl-stale", "issuing"),
        ]),
        "{r:#}"
    );
    let drift = r["findings"].as_array().unwrap().iter().find(|f| f["code"] == "policy-drift").unwrap();
    let m = drift["message"].as_str().unwrap();
    assert!(m.contains("profile 'server'") && m.contains("max_ttl 30d") && m.contains("--clip-ttl"), "{m}");
    // Expired more than 30 days ago: counted, no longer listed.
    let (_, r) = audit_json(&env, "2026-02-20T00:00:00Z", &["--expiring", "48h"]);
    assert!(!findings(&r).iter().any(|f| f.2 == gone), "{r:#}");
    assert_eq!(r["summary"]["certificates_expired"], 1);
}

/// Each kind of tampering, on a fresh copy of one directory, found by its own code.
#[test]
fn tampering_is_found_with_its_own_code() {
    let env = Env::new();
    init_at(&env);
    let mut serials = vec![];
    for i in 0..4 {
        serials.push(issue_at(
            &env,
            T0,
            &["--dns", &format!("s{i}.acme.internal"), "--ttl", "90d", "--out", &format!("s{i}")],
        ));
    }
    let (code, r) = audit_json(&env, T0, &["--deep"]);
    assert_eq!((code, findings(&r)), (0, BTreeSet::new()), "untouched: {r:#}");

    let case = |name: &str, tamper: &dyn Fn(&std::path::Path)| -> BTreeSet<(String, String, String)> {
        let copy = env.path(name);
        let st = std::process::Command::new("cp").arg("-a").arg(env.ca()).arg(&copy).status().unwrap();
        assert!(st.success());
        tamper(&copy);
        let o =
            env.pki().env("PKI_NOW", T0).env("PKI_DIR", &copy).args(["audit", "--deep", "--json"]).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        findings(&serde_json::from_slice(&o.stdout).unwrap())
    };
    let ledger_lines = |p: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(p.join("ledger.jsonl")).unwrap().lines().map(str::to_string).collect()
    };
    let write_ledger = |p: &std::path::Path, lines: &[String]| {
        std::fs::write(p.join("ledger.jsonl"), lines.join("\n") + "\n").unwrap();
    };
    // Records: the CAs, the settings pki wrote, the CRLs, then the four certificates; `k` is
    // the line of the second certificate's record.
    let k = ledger_lines(&env.ca()).iter().position(|l| l.contains("s1.acme.internal")).unwrap();
    let edited = case("edited", &|p| {
        let mut l = ledger_lines(p);
        l[k] = l[k].replace("s1.acme.internal", "evil.example.com");
        write_ledger(p, &l);
    });
    assert_eq!(edited, set(&[("critical", "ledger-record-edited", "ledger.jsonl")]));
    let deleted = case("deleted", &|p| {
        let mut l = ledger_lines(p);
        l.remove(k);
        write_ledger(p, &l);
    });
    assert_eq!(
        deleted,
        set(&[
            ("critical", "ledger-record-missing", "ledger.jsonl"),
            // The inventory still lists the certificate whose record went, and its file is
            // now one that no ledger record vouches for.
            ("critical", "inventory-record-unknown", &serials[1]),
            ("warning", "cert-file-orphan", &format!("certs/{}/{}.pem", &serials[1][..2], serials[1])),
        ])
    );
    let reordered = case("reordered", &|p| {
        let mut l = ledger_lines(p);
        l.swap(k, k + 1);
        write_ledger(p, &l);
    });
    assert_eq!(reordered, set(&[("critical", "ledger-out-of-order", "ledger.jsonl")]));
    let no_file = case("nofile", &|p| {
        let s = &serials[2];
        std::fs::remove_file(p.join("certs").join(&s[..2]).join(format!("{s}.pem"))).unwrap();
    });
    assert_eq!(no_file, set(&[("critical", "cert-file-missing", &serials[2])]));
    let swapped = case("swapped", &|p| {
        let (a, b) = (&serials[0], &serials[3]);
        let pa = p.join("certs").join(&a[..2]).join(format!("{a}.pem"));
        let pb = p.join("certs").join(&b[..2]).join(format!("{b}.pem"));
        std::fs::copy(&pb, &pa).unwrap();
    });
    assert_eq!(swapped, set(&[("critical", "cert-file-mismatch", &serials[0])]));
    let orphan = case("orphan", &|p| {
        std::fs::copy(p.join("cas/issuing/cert.pem"), p.join("certs").join("AB").join("AB00.pem"))
            .or_else(|_| {
                std::fs::create_dir(p.join("certs/AB"))?;
                std::fs::copy(p.join("cas/issuing/cert.pem"), p.join("certs/AB/AB00.pem"))
            })
            .unwrap();
        std::fs::set_permissions(p.join("certs/AB"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(p.join("certs/AB/AB00.pem"), std::fs::Permissions::from_mode(0o600)).unwrap();
    });
    assert_eq!(orphan, set(&[("warning", "cert-file-orphan", "certs/AB/AB00.pem")]));
    let key_path = std::sync::Mutex::new(String::new());
    let chmod = case("chmod", &|p| {
        let k = p.join("cas/issuing/key.pem");
        std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o644)).unwrap();
        *key_path.lock().unwrap() = k.display().to_string();
    });
    assert_eq!(chmod, set(&[("critical", "key-permissions", &key_path.lock().unwrap())]));

    // The key's mode is checked without --deep too, and the message says what to run.
    let copy = env.path("chmod");
    let o = env.pki().env("PKI_NOW", T0).env("PKI_DIR", &copy).args(["audit"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("chmod 600"), "{o:?}");
    // An unencrypted CA key is a finding of its own.
    let plain = Env::new();
    plain.init_plain();
    let o = plain.run(&["audit", "--json", "--expiring", "1h"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        findings(&serde_json::from_slice(&o.stdout).unwrap()),
        set(&[("warning", "ca-key-unencrypted", "issuing"), ("warning", "ca-key-unencrypted", "root")])
    );
}

#[test]
fn bad_arguments_are_errors_not_findings() {
    let env = Env::new();
    init_at(&env);
    let before = snapshot(&env.ca());
    for args in [&["audit", "--expiring", "soon"][..], &["audit", "--ca", "nope"], &["audit", "--fail-on", "panic"]] {
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_one_line_error(&o);
    }
    let o = env.pki().env("PKI_DIR", env.path("missing")).args(["audit"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(assert_one_line_error(&o).contains("no CA directory"));
    assert_eq!(snapshot(&env.ca()), before);
}

/// The textfile collector's rules: HELP and TYPE once per metric and before its samples, the
/// samples of a metric together, valid names and label syntax, no duplicate series, a final
/// newline. Returns (metric{labels} -> value).
fn parse_textfile(text: &str) -> std::collections::BTreeMap<String, f64> {
    assert!(text.ends_with('\n'), "a textfile ends with a newline");
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
    };
    let mut samples = std::collections::BTreeMap::new();
    let mut typed: BTreeSet<String> = BTreeSet::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut w = rest.splitn(3, ' ');
            let (kind, name) = (w.next().unwrap(), w.next().unwrap());
            assert!(name_ok(name), "bad metric name in {line}");
            let set = if kind == "HELP" { &mut helped } else { &mut typed };
            assert!(kind == "HELP" || (kind == "TYPE" && w.next() == Some("gauge")), "{line}");
            assert!(set.insert(name.to_string()), "second {kind} for {name}");
            assert!(
                !finished.contains(name) && !samples.keys().any(|k: &String| k.split('{').next() == Some(name)),
                "{kind} after samples of {name}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name_ok(name), "bad metric name: {line}");
        assert!(typed.contains(name) && helped.contains(name), "sample before its HELP/TYPE: {line}");
        if current.as_deref() != Some(name) {
            if let Some(c) = current.take() {
                finished.insert(c);
            }
            assert!(!finished.contains(name), "samples of {name} are not together");
            current = Some(name.to_string());
        }
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}')).expect("labels in braces");
            for pair in inner.split("\",") {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label {pair} in {line}"));
                assert!(name_ok(k) && !k.contains(':'), "bad label name {k}");
                let v = v.strip_suffix('"').unwrap_or(v);
                assert!(!v.contains('\n') && !v.replace("\\\"", "").contains('"'), "unescaped label value {v}");
            }
        }
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
        assert!(samples.insert(series.to_string(), v).is_none(), "duplicate series {series}");
    }
    samples
}

#[test]
fn prometheus_textfile_follows_the_format_and_carries_the_gauges() {
    let env = Env::new();
    let [one_h, ..] = mixed_directory(&env);
    let _ = one_h;
    let prom = env.path("textfile/pki.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    let o = env.at(T1, &["audit", "--expiring", "48h", "--quiet", "--prometheus", prom.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read_to_string(&prom).unwrap();
    let m = parse_textfile(&text);
    assert_eq!(m["pki_audit_findings{severity=\"critical\"}"], 3.0);
    assert_eq!(m["pki_audit_findings{severity=\"warning\"}"], 2.0);
    assert_eq!(m["pki_audit_findings_by_code{code=\"crl-stale\",severity=\"critical\"}"], 2.0);
    assert_eq!(m["pki_certificate_earliest_expiry_seconds{ca=\"issuing\",profile=\"server\"}"], 3600.0);
    assert_eq!(m["pki_certificate_earliest_expiry_seconds{ca=\"issuing\",profile=\"agent\"}"], 1800.0);
    assert_eq!(m["pki_certificates{ca=\"issuing\",profile=\"server\",state=\"superseded\"}"], 1.0);
    assert_eq!(m["pki_ca_expiry_seconds{ca=\"short\"}"], 10.0 * 86400.0);
    assert_eq!(m["pki_crl_next_update_seconds{ca=\"issuing\"}"], -12.0 * 86400.0, "made on day 1 for 7 days");
    assert_eq!(m["pki_audit_timestamp_seconds"], 1_768_953_600.0);
    let mode = std::fs::metadata(&prom).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "node_exporter must be able to read it");
    // No temp file left beside it (written by rename).
    assert_eq!(std::fs::read_dir(prom.parent().unwrap()).unwrap().count(), 1);

    // promtool, where installed (.ci/run installs it), agrees.
    if let Ok(o) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&prom).unwrap())
        .output()
    {
        assert!(o.status.success(), "promtool: {}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    } else {
        eprintln!("promtool not installed: checked with the test's own parser only");
    }
}

/// The remaining codes, each provoked the way it happens in life.
#[test]
fn other_findings_each_with_its_code() {
    let env = Env::new();
    init_at(&env);
    short_intermediate(&env);
    let a = issue_at(&env, T0, &["--dns", "a.acme.internal", "--ttl", "90d", "--out", "a"]);
    // A bulk revocation whose `gen-crl` has not run yet: the published CRL is behind.
    env.ok_at(T0, &["revoke", &a, "--no-crl", "--passphrase-file", "int.pass"]);
    let (_, r) = audit_json(&env, T0, &["--ca", "issuing"]);
    assert_eq!(findings(&r), set(&[("critical", "crl-behind", "issuing")]), "{r:#}");

    // A CA ending within the window, then past its end.
    let (_, r) = audit_json(&env, "2026-01-29T00:00:00Z", &["--ca", "short", "--expiring", "48h"]);
    assert!(findings(&r).contains(&("critical".into(), "ca-expiring".into(), "short".into())), "{r:#}");
    let (_, r) = audit_json(&env, "2026-02-01T00:00:00Z", &["--ca", "short", "--expiring", "48h"]);
    assert!(findings(&r).contains(&("critical".into(), "ca-expired".into(), "short".into())), "{r:#}");

    // An issue killed right after its commit: noted (info), not an integrity failure, and the
    // next change completes it.
    let o = env
        .pki()
        .env("PKI_NOW", T0)
        .env("PKI_CRASH_AT", "issue-committed")
        .args(["issue", "--passphrase-file", "int.pass", "--dns", "k.acme.internal", "--out", "k"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let (code, r) = audit_json(&env, T0, &["--deep", "--ca", "issuing"]);
    assert_eq!(
        (code, findings(&r)),
        (1, set(&[("critical", "crl-behind", "issuing"), ("info", "change-interrupted", "ledger.jsonl")])),
        "{r:#}"
    );
    env.ok_at(T0, &["gen-crl", "--ca", "issuing", "--passphrase-file", "int.pass"]);
    let (code, r) = audit_json(&env, T0, &["--deep", "--ca", "issuing"]);
    assert_eq!((code, findings(&r)), (0, BTreeSet::new()), "{r:#}");

    // A stored certificate replaced by one from another CA, and the last ledger record (which
    // no later record's hash anchors) edited to match: the certificate's signature check
    // catches it, and so does the record's own signature by the CA key.
    let last = issue_at(&env, T0, &["--dns", "last.acme.internal", "--ttl", "90d", "--out", "last"]);
    let other = Env::new();
    init_at(&other);
    let foreign = issue_at(&other, T0, &["--dns", "last.acme.internal", "--ttl", "90d", "--out", "x"]);
    let stored = env.ca().join("certs").join(&last[..2]).join(format!("{last}.pem"));
    let foreign_pem =
        std::fs::read_to_string(other.ca().join("certs").join(&foreign[..2]).join(format!("{foreign}.pem"))).unwrap();
    std::fs::write(&stored, &foreign_pem).unwrap();
    let der = pem_ders(&stored).remove(0);
    let ledger = env.ca().join("ledger.jsonl");
    let text = std::fs::read_to_string(&ledger).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut rec: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    rec["data"]["sha256"] = hex(&<sha2::Sha256 as sha2::Digest>::digest(&der)).into();
    *lines.last_mut().unwrap() = serde_json::to_string(&rec).unwrap();
    std::fs::write(&ledger, lines.join("\n") + "\n").unwrap();
    let (_, r) = audit_json(&env, T0, &["--deep", "--ca", "issuing"]);
    assert_eq!(
        findings(&r),
        set(&[("critical", "cert-signature-invalid", &last), ("critical", "ledger-unsigned-record", "ledger.jsonl")]),
        "{r:#}"
    );

    // A damaged inventory line, a loose directory, a broken pki.toml.
    let inv = env.ca().join("inventory.tsv");
    let mut t = std::fs::read_to_string(&inv).unwrap();
    t.push_str("garbage line\n");
    std::fs::write(&inv, t).unwrap();
    std::fs::set_permissions(env.ca().join("crl"), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.append_settings("\n[profiles.oops\n");
    let (code, r) = audit_json(&env, T0, &["--ca", "issuing"]);
    assert_eq!(code, 1);
    let f = findings(&r);
    for want in [
        ("critical", "settings-invalid", "pki.toml".to_string()),
        (
            "critical",
            "inventory-malformed",
            format!("inventory.tsv:{}", std::fs::read_to_string(&inv).unwrap().lines().count()),
        ),
        ("warning", "dir-permissions", env.ca().join("crl").display().to_string()),
    ] {
        assert!(f.contains(&(want.0.into(), want.1.into(), want.2.clone())), "{want:?} not in {f:?}");
    }
}

/// A million drifting certificates must not take a million findings' memory: at most 1000 of a
/// code are listed, every one is counted.
#[test]
fn findings_of_one_code_are_capped_and_counted() {
    let env = Env::new();
    init_at(&env);
    let lines: String = (0..1100)
        .map(|i| {
            format!(
                "{{\"profile\": \"agent\", \"spiffe_id\": \"spiffe://acme.internal/agent/{i}\", \"ttl\": \"24h\"}}\n"
            )
        })
        .collect();
    std::fs::write(env.path("b.jsonl"), lines).unwrap();
    env.ok_at(T0, &["issue", "--batch", "b.jsonl", "--passphrase-file", "int.pass"]);
    let p = env.ca().join("pki.toml");
    let text = std::fs::read_to_string(&p).unwrap().replacen("max_ttl = \"24h\"", "max_ttl = \"12h\"", 1);
    std::fs::write(&p, text).unwrap();
    env.ok(&["settings", "accept"]);
    let prom = env.path("pki.prom");
    let (code, r) = audit_json(&env, T0, &["--expiring", "1h", "--prometheus", prom.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(r["findings"].as_array().unwrap().len(), 1000);
    assert_eq!((r["summary"]["findings_count"].as_u64(), r["summary"]["not_listed"].as_u64()), (Some(1100), Some(100)));
    assert_eq!(r["counts"], serde_json::json!([{"code": "policy-drift", "severity": "warning", "count": 1100}]));
    let m = parse_textfile(&std::fs::read_to_string(&prom).unwrap());
    assert_eq!(m["pki_audit_findings_by_code{code=\"policy-drift\",severity=\"warning\"}"], 1100.0);
    assert_eq!(m["pki_audit_findings{severity=\"warning\"}"], 1100.0);
}
