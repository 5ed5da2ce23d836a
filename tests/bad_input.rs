//! What bad input gets: a table of bad inputs, each run against a real directory. Every one must
//! exit 2 with exactly one line on stderr naming the problem, no panic or backtrace, and leave
//! the CA directory byte for byte as it was. The table with the actual messages is kept in
//! docs/bad-input.md; this test fails when it is out of date (`PKI_UPDATE_DOCS=1` rewrites it).

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use common::*;

struct Case {
    what: &'static str,
    args: Vec<OsString>,
    env: Vec<(&'static str, String)>,
    /// Run on a copy of the directory changed by this first (settings errors).
    prepare: Option<fn(&Path)>,
}

fn case(what: &'static str, args: &[&str]) -> Case {
    Case { what, args: args.iter().map(OsString::from).collect(), env: vec![], prepare: None }
}

fn with_env(mut c: Case, k: &'static str, v: &str) -> Case {
    c.env.push((k, v.to_string()));
    c
}

fn prepared(mut c: Case, f: fn(&Path)) -> Case {
    c.prepare = Some(f);
    c
}

fn append(dir: &Path, text: &str) {
    let p = dir.join("pki.toml");
    let mut s = std::fs::read_to_string(&p).unwrap();
    s.push_str(text);
    std::fs::write(p, s).unwrap();
}

fn files(env: &Env) {
    let w = |name: &str, bytes: &[u8]| std::fs::write(env.path(name), bytes).unwrap();
    let cert_der = pem_ders(&env.path("api/cert.pem")).remove(0);
    w("truncated.der", &cert_der[..cert_der.len() / 2]);
    w("bad-base64.pem", b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
    w("mismatched.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n");
    w("empty", b"");
    w("empty.pass", b"");
    w("text.txt", b"just some text\n");
    w("garbage.bin", &[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]);
    w("bad.jsonl", b"{\"dns\": [\"x.acme.internal\"]\n");
    openssl_p256_csr(env.tmp.path(), "csr.key", "c.acme.internal", "good.csr", &["-outform", "DER"]);
    let mut csr = std::fs::read(env.path("good.csr")).unwrap();
    let n = csr.len();
    csr[n - 5] ^= 0x55;
    w("flipped.csr", &csr);
    std::fs::create_dir_all(env.path("not-a-ca")).unwrap();
}

fn cases() -> Vec<Case> {
    vec![
        // Usage errors: what is missing or allowed, and the help of the command meant.
        case("revoke without a serial", &["revoke"]),
        case("an unknown --status value", &["list", "--status", "bogus"]),
        case("a mistyped flag", &["issue", "--dsn", "a.acme.internal"]),
        // Files that are not what they should be.
        case("malformed PEM (bad base64)", &["inspect", "bad-base64.pem"]),
        case("PEM whose BEGIN and END differ", &["inspect", "mismatched.pem"]),
        case("truncated DER", &["inspect", "truncated.der"]),
        case("an empty file", &["inspect", "empty"]),
        case("a text file", &["inspect", "text.txt"]),
        case("binary garbage", &["inspect", "garbage.bin"]),
        case("a missing file", &["inspect", "missing.pem"]),
        case(
            "a certificate where a CSR is expected",
            &["issue", "--csr", "api/cert.pem", "--out", "o1", "--passphrase-file", "int.pass"],
        ),
        case("a truncated CSR", &["issue", "--csr", "truncated.der", "--out", "o2", "--passphrase-file", "int.pass"]),
        case(
            "a CSR whose signature does not verify",
            &["issue", "--csr", "flipped.csr", "--out", "o3", "--passphrase-file", "int.pass"],
        ),
        case("verify: a file that is not a certificate", &["verify", "text.txt"]),
        case(
            "export: a key that is not a key",
            &[
                "export",
                "--cert",
                "api/cert.pem",
                "--key",
                "text.txt",
                "--p12",
                "o.p12",
                "--p12-passphrase-file",
                "int.pass",
            ],
        ),
        case(
            "batch: a file that does not exist",
            &["issue", "--batch", "missing.jsonl", "--passphrase-file", "int.pass"],
        ),
        Case {
            what: "a non-UTF-8 path that does not exist",
            args: vec!["inspect".into(), OsString::from_vec(b"caf\xe9.pem".to_vec())],
            env: vec![],
            prepare: None,
        },
        // Passphrases.
        case(
            "wrong passphrase",
            &["issue", "--dns", "a.acme.internal", "--out", "o4", "--passphrase-file", "wrong.pass"],
        ),
        case(
            "empty passphrase file",
            &["issue", "--dns", "a.acme.internal", "--out", "o5", "--passphrase-file", "empty.pass"],
        ),
        case(
            "passphrase file that does not exist",
            &["issue", "--dns", "a.acme.internal", "--out", "o6", "--passphrase-file", "nope.pass"],
        ),
        case("no passphrase and no terminal", &["issue", "--dns", "a.acme.internal", "--out", "o7"]),
        // Directories and names.
        with_env(case("missing CA directory", &["list"]), "PKI_DIR", "does-not-exist"),
        with_env(case("a directory that is not a CA", &["list"]), "PKI_DIR", "not-a-ca"),
        case(
            "unknown CA",
            &["issue", "--ca", "nope", "--dns", "a.acme.internal", "--out", "o8", "--passphrase-file", "int.pass"],
        ),
        case(
            "unknown profile",
            &["issue", "--profile", "nope", "--dns", "a.acme.internal", "--out", "o9", "--passphrase-file", "int.pass"],
        ),
        case(
            "duplicate intermediate name",
            &["create-intermediate", "issuing", "--passphrase-file", "root.pass", "--new-passphrase-file", "int.pass"],
        ),
        case("a second root", &["init-root", "--cn", "Another Root", "--passphrase-file", "root.pass"]),
        case(
            "init over an existing directory",
            &["init", "--non-interactive", "--passphrase-file", "root.pass", "--new-passphrase-file", "int.pass"],
        ),
        case(
            "an invalid CA name",
            &["create-intermediate", "../evil", "--passphrase-file", "root.pass", "--new-passphrase-file", "int.pass"],
        ),
        // Lifetimes.
        case(
            "negative TTL",
            &["issue", "--dns", "a.acme.internal", "--ttl=-1h", "--out", "o10", "--passphrase-file", "int.pass"],
        ),
        case(
            "absurd TTL",
            &["issue", "--dns", "a.acme.internal", "--ttl", "5000y", "--out", "o11", "--passphrase-file", "int.pass"],
        ),
        case(
            "zero TTL",
            &["issue", "--dns", "a.acme.internal", "--ttl", "0s", "--out", "o12", "--passphrase-file", "int.pass"],
        ),
        case(
            "TTL that is not a duration",
            &["issue", "--dns", "a.acme.internal", "--ttl", "soon", "--out", "o13", "--passphrase-file", "int.pass"],
        ),
        case(
            "TTL over the profile's max_ttl",
            &["issue", "--dns", "a.acme.internal", "--ttl", "365d", "--out", "o14", "--passphrase-file", "int.pass"],
        ),
        case(
            "lock timeout that is not a duration",
            &[
                "issue",
                "--dns",
                "a.acme.internal",
                "--lock-timeout",
                "forever",
                "--out",
                "o15",
                "--passphrase-file",
                "int.pass",
            ],
        ),
        with_env(case("PKI_NOW that is not a time", &["list"]), "PKI_NOW", "yesterday"),
        case("audit window that is not a duration", &["audit", "--expiring", "48"]),
        case(
            "CRL lifetime that is not a duration",
            &["gen-crl", "--next-update", "weekly", "--passphrase-file", "int.pass"],
        ),
        // Names and policy.
        case("a request with no name", &["issue", "--out", "o16", "--passphrase-file", "int.pass"]),
        case(
            "SAN outside the profile",
            &["issue", "--dns", "evil.example.com", "--out", "o17", "--passphrase-file", "int.pass"],
        ),
        case(
            "IP address in a DNS field",
            &["issue", "--dns", "10.0.0.1", "--out", "o18", "--passphrase-file", "int.pass"],
        ),
        case("an invalid IP address", &["issue", "--ip", "999.1.1.1", "--out", "o19", "--passphrase-file", "int.pass"]),
        case(
            "a URI that is not a URI",
            &["issue", "--uri", "not a uri", "--out", "o20", "--passphrase-file", "int.pass"],
        ),
        case(
            "an invalid SPIFFE ID",
            &[
                "issue",
                "--profile",
                "agent",
                "--spiffe-id",
                "spiffe://ACME/agent/1",
                "--out",
                "o21",
                "--passphrase-file",
                "int.pass",
            ],
        ),
        case(
            "a common name over 64 characters",
            &[
                "issue",
                "--cn",
                &"a".repeat(65),
                "--dns",
                "a.acme.internal",
                "--out",
                "o22",
                "--passphrase-file",
                "int.pass",
            ],
        ),
        case(
            "an unknown key type",
            &[
                "issue",
                "--dns",
                "a.acme.internal",
                "--key-type",
                "dsa",
                "--out",
                "o23",
                "--passphrase-file",
                "int.pass",
            ],
        ),
        case(
            "an invalid CIDR for a name constraint",
            &[
                "create-intermediate",
                "k8s",
                "--permit-ip",
                "10.0.0.0/33",
                "--passphrase-file",
                "root.pass",
                "--new-passphrase-file",
                "int.pass",
            ],
        ),
        // Outputs.
        case(
            "an output path that exists",
            &["issue", "--dns", "b.acme.internal", "--out", "api", "--passphrase-file", "int.pass"],
        ),
        case("an export target that exists", &["export", "--root", "--out", "api/root.pem"]),
        // Revocation.
        case("a serial that is not hex", &["revoke", "not-a-serial", "--passphrase-file", "int.pass"]),
        case(
            "an unknown revocation reason",
            &["revoke", "--cert", "api/cert.pem", "--reason", "stolen", "--passphrase-file", "int.pass"],
        ),
        case("gen-crl for an unknown CA", &["gen-crl", "--ca", "nope", "--passphrase-file", "int.pass"]),
        // Command line.
        case("an unknown command", &["frobnicate"]),
        case("an unknown flag", &["list", "--colour"]),
        case("a bad value for an enum flag", &["list", "--status", "alive"]),
        // Settings (each on a copy of the directory with pki.toml changed).
        prepared(
            case(
                "pki.toml with a syntax error",
                &["issue", "--dns", "a.acme.internal", "--out", "o24", "--passphrase-file", "int.pass"],
            ),
            |d| append(d, "\n[profiles.broken\n"),
        ),
        prepared(
            case(
                "pki.toml with an unknown key",
                &["issue", "--dns", "a.acme.internal", "--out", "o25", "--passphrase-file", "int.pass"],
            ),
            |d| append(d, "\n[defaults2]\nca = \"x\"\n"),
        ),
        prepared(case("a profile with an unknown usage", &["profiles"]), |d| {
            append(d, "\n[profiles.bad]\next_key_usage = [\"clientauthh\"]\n")
        }),
        prepared(case("a profile with an invalid pattern", &["profiles"]), |d| {
            append(d, "\n[profiles.bad]\nallowed_dns = [\"a?.acme.internal\"]\n")
        }),
    ]
}

fn shown(args: &[OsString]) -> String {
    args.iter()
        .map(|a| {
            let s = a.to_string_lossy().into_owned();
            let s = if s.len() > 40 { format!("{}…", &s[..20]) } else { s };
            if s.contains(' ') || s.is_empty() { format!("'{s}'") } else { s }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_bad_input_gets_one_clear_line_and_changes_nothing() {
    let env = Env::new();
    env.init();
    env.issue(&["--dns", "api.acme.internal", "--out", "api"]);
    files(&env);
    let cases = cases();
    assert!(cases.len() >= 40, "the table has {} cases", cases.len());
    let tmp = env.tmp.path().display().to_string();
    let mut table = String::from(
        "# What bad input gets\n\n\
         Generated by `tests/bad_input.rs` (`PKI_UPDATE_DOCS=1 cargo test --test bad_input` rewrites it;\n\
         the test fails when it is out of date). Each input below exits with status 2, prints exactly\n\
         this one line on stderr, and leaves the CA directory byte for byte as it was. `<tmp>` is the\n\
         test's working directory. Other statuses: 1 for findings (`audit`, `verify`,\n\
         `ledger-verify`, refused `--batch` lines), 3-5 for `revoke` (unknown serial, already\n\
         revoked, expired).\n\n\
         | # | bad input | command | message |\n|---|---|---|---|\n",
    );
    for (i, c) in cases.iter().enumerate() {
        let dir = match c.prepare {
            Some(f) => {
                let copy = env.path(&format!("ca-copy-{i}"));
                let st = std::process::Command::new("cp").arg("-a").arg(env.ca()).arg(&copy).status().unwrap();
                assert!(st.success());
                f(&copy);
                copy
            }
            None => env.ca(),
        };
        let before = snapshot(&dir);
        let mut cmd = env.pki();
        cmd.env("PKI_DIR", &dir).args(&c.args);
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        let line = assert_one_line_error(&o);
        assert!(!line.contains("backtrace") && !line.contains("RUST_BACKTRACE"), "{}: {line}", c.what);
        assert!(o.stdout.is_empty(), "{}: printed on stdout: {}", c.what, String::from_utf8_lossy(&o.stdout));
        assert_eq!(snapshot(&dir), before, "{} changed the CA directory", c.what);
        if c.prepare.is_none() {
            // Nothing was written next to it either (no output files).
            for k in 1..=25 {
                assert!(!env.path(&format!("o{k}")).exists(), "{}: left o{k} behind", c.what);
            }
        }
        let msg = line.trim_end().replace(&tmp, "<tmp>").replace('|', "\\|");
        table.push_str(&format!(
            "| {} | {} | `pki {}` | {} |\n",
            i + 1,
            c.what,
            shown(&c.args).replace('|', "\\|"),
            msg
        ));
    }
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/bad-input.md");
    if std::env::var_os("PKI_UPDATE_DOCS").is_some() {
        std::fs::write(&doc, &table).unwrap();
    }
    let committed = std::fs::read_to_string(&doc).unwrap_or_default();
    assert!(
        committed == table,
        "docs/bad-input.md is out of date: run `PKI_UPDATE_DOCS=1 cargo test --test bad_input`\n{table}"
    );
}

#[test]
fn a_passphrase_file_with_a_trailing_newline_works() {
    let env = Env::new();
    env.init();
    // int.pass is "issuing passphrase 2\n"; CRLF works too.
    std::fs::write(env.path("crlf.pass"), format!("{INT_PASS}\r\n")).unwrap();
    env.ok(&["issue", "--dns", "n.acme.internal", "--out", "n", "--passphrase-file", "int.pass"]);
    env.ok(&["issue", "--dns", "m.acme.internal", "--out", "m", "--passphrase-file", "crlf.pass"]);
}

/// Usage errors name what is missing (issue 20, point 1): the required arguments, the allowed
/// values, the nearest flag by spelling (a transposition is one edit), and the help of the
/// subcommand that was meant, on one line, exit 2.
#[test]
fn usage_errors_name_what_is_missing_and_point_to_the_right_help() {
    let env = Env::new();
    let rows: &[(&[&str], &[&str])] = &[
        (&["revoke"], &["required arguments were not provided: <SERIAL>", "see `pki revoke --help`"]),
        (&["export"], &["--p12 <FILE>|--root", "see `pki export --help`"]),
        (&["renew"], &["<SERIAL>", "see `pki renew --help`"]),
        (&["verify"], &["<CERT>", "see `pki verify --help`"]),
        (&["inspect"], &["<FILE>", "see `pki inspect --help`"]),
        (
            &["list", "--status", "bogus"],
            &["[possible values: valid, expired, revoked, superseded]", "see `pki list --help`"],
        ),
        (&["issue", "--dsn", "a.acme.internal"], &["did you mean '--dns'?", "see `pki issue --help`"]),
        (&["ledger", "head", "--outt", "x"], &["did you mean '--out'?", "see `pki ledger head --help`"]),
    ];
    for (args, want) in rows {
        let o = env.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = assert_one_line_error(&o);
        for w in *want {
            assert!(e.contains(w), "{args:?}: expected {w:?} in: {e}");
        }
        assert!(!e.contains("'--json'"), "{args:?}: suggests --json: {e}");
    }
}
