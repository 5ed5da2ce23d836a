//! The EXAMPLES of every `--help` work when pasted. Each example line is taken from the real
//! `--help` output and run with `sh -c` in a sandbox a user could have: a CA directory made by
//! `pki init`, the passphrase files the examples name, and the files they read. Only what no
//! test may do is changed: system paths are pointed into the sandbox, the placeholder serial
//! becomes a real one, and examples that need `sudo` or a person at a terminal are listed below
//! with the test that covers them instead.

mod common;

use std::process::Command;

use common::*;

/// Examples not run here, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("pki init", "asks questions on a terminal: tests/interactive.rs drives it through tmux"),
    ("sudo pki trust install", "changes the system trust store: tests/export.rs does, as root"),
    ("sudo pki trust uninstall", "changes the system trust store: tests/export.rs does, as root"),
];

/// Example lines per command, continuation lines (wrapped by clap) joined, comments dropped.
fn examples(cmd: &str) -> Vec<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_pki")).args([cmd, "--help"]).env("COLUMNS", "300").output().unwrap();
    let help = String::from_utf8(o.stdout).unwrap();
    let mut out: Vec<String> = vec![];
    for l in help.lines().skip_while(|l| *l != "EXAMPLES:").skip(1).take_while(|l| l.starts_with("  ")) {
        let l = l.trim();
        let starts_command = ["pki ", "sudo ", "openssl "].iter().any(|p| l.starts_with(p)) || l == "pki";
        match out.last_mut() {
            Some(prev) if !starts_command => {
                prev.push(' ');
                prev.push_str(l);
            }
            _ => out.push(l.to_string()),
        }
    }
    out.into_iter()
        .map(|e| match e.find("  #") {
            Some(i) => e[..i].trim_end().to_string(),
            None => e,
        })
        .collect()
}

#[test]
fn every_help_example_works_when_pasted() {
    let env = Env::new();
    let w = env.tmp.path();
    let run = |line: &str, extra: &[(&str, &str)]| -> std::process::Output {
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_pki")).parent().unwrap().display().to_string();
        // `pki` on PATH, as for a user; the default directory ./pki, as the examples assume.
        let mut c = Command::new("sh");
        c.arg("-c").arg(line).current_dir(w);
        c.env("PATH", format!("{bin}:/usr/local/bin:/usr/bin:/bin")).env("HOME", w).env("PKI_ACTOR", "help@examples");
        for (k, _) in std::env::vars() {
            if k.starts_with("PKI_") {
                c.env_remove(k);
            }
        }
        c.env("PKI_ACTOR", "help@examples").env("PKI_PASSPHRASE_FILE", w.join("issuing.pass"));
        for (k, v) in extra {
            c.env(k, v);
        }
        c.stdin(std::process::Stdio::null()).output().unwrap()
    };
    std::fs::write(w.join("issuing.pass"), format!("{INT_PASS}\n")).unwrap();
    std::fs::write(w.join("p12.pass"), "p12 password\n").unwrap();

    // The sandbox: a directory made the way the init example makes it, and the files examples read.
    let init = examples("init");
    let scripted = init.iter().find(|e| e.contains("--non-interactive --org Acme")).expect("the scripted init example");
    let o = run(scripted, &[]);
    assert!(o.status.success(), "{scripted}: {}", stderr(&o));
    let setup = [
        "pki issue --dns victim.acme.internal --out ./victim",
        "pki issue --dns victim2.acme.internal --out ./victim2",
        "pki issue --profile agent --spiffe-id spiffe://acme.internal/agent/1 --out ./agent",
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -subj /CN=server.acme.internal -addext subjectAltName=DNS:server.acme.internal -out server.csr 2>/dev/null",
        "printf '%s\\n' '{\"dns\": [\"b1.acme.internal\"]}' '{\"profile\": \"agent\", \"spiffe_id\": \"spiffe://acme.internal/agent/2\"}' > requests.jsonl",
        "mkdir -p completions-dir .config/fish/completions man1 textfile",
    ];
    for s in setup {
        let o = run(s, &[]);
        assert!(o.status.success(), "setup {s}: {}", stderr(&o));
    }
    let serial_of = |path: &str| -> String {
        let o = run(&format!("openssl x509 -in {path} -noout -serial"), &[]);
        String::from_utf8(o.stdout).unwrap().trim().trim_start_matches("serial=").to_string()
    };
    let colons =
        |s: &str| s.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(":");

    // In the order a user would meet them; the placeholder serial stands for a certificate
    // the example suits, system paths point into the sandbox.
    let order = [
        "issue",
        "renew",
        "export",
        "trust",
        "verify",
        "inspect",
        "profiles",
        "list",
        "audit",
        "revoke",
        "gen-crl",
        "reindex",
        "ledger-verify",
        "completions",
        "man",
        "init",
        "init-root",
        "create-intermediate",
    ];
    let mut ran = 0;
    let mut skipped = vec![];
    for cmd in order {
        let mut copied = false;
        for (k, example) in examples(cmd).into_iter().enumerate() {
            if let Some((_, why)) = NOT_RUN.iter().find(|(e, _)| *e == example) {
                skipped.push(format!("{example}: {why}"));
                continue;
            }
            if example == *scripted {
                continue; // the sandbox was made by it
            }
            let placeholder = "4A0BFF00112233445566778899AABBCC";
            let serial = match cmd {
                "renew" => serial_of("server/cert.pem"),
                "export" => serial_of("api/cert.pem"),
                _ => serial_of("victim/cert.pem"),
            };
            // The colon form (revoke's bulk example) names a second certificate.
            let line = example
                .replace(placeholder, &serial)
                .replace(&colons(placeholder), &colons(&serial_of("victim2/cert.pem")))
                .replace("/tmp/demo", "./demo")
                .replace("/etc/bash_completion.d", "./completions-dir")
                .replace("/usr/local/share/man/man1", "./man1")
                .replace("/var/lib/node_exporter/textfile", "./textfile");
            let mut extra: Vec<(&str, String)> = vec![];
            match cmd {
                // A root of its own in a fresh directory each, then its intermediates.
                "init-root" => {
                    extra.push(("PKI_DIR", format!("r{k}")));
                    extra.push(("PKI_PASSPHRASE_FILE", w.join("root.pass").display().to_string()));
                }
                "create-intermediate" if line.contains(" issuing ") => extra.push(("PKI_DIR", "r0".into())),
                "create-intermediate" | "gen-crl" if line.contains("k8s") || line.contains("--ca root") => {
                    extra.push(("PKI_PASSPHRASE_FILE", w.join("root.pass").display().to_string()));
                    extra.push(("PKI_NEW_PASSPHRASE_FILE", w.join("issuing.pass").display().to_string()));
                }
                "verify" | "inspect" if !copied => {
                    // The plain names these examples read: a certificate, its chain and root.
                    for (from, to) in [
                        ("api/cert.pem", "cert.pem"),
                        ("api/chain.pem", "chain.pem"),
                        ("api/root.pem", "other-root.pem"),
                        ("api/fullchain.pem", "fullchain.pem"),
                        ("pki/crl/issuing.crl", "issuing.crl"),
                        ("pki/crl/root.crl", "root.crl"),
                    ] {
                        std::fs::copy(w.join(from), w.join(to)).unwrap();
                    }
                    copied = true;
                }
                _ => {}
            }
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let o = run(&line, &extra);
            // Checks report what they find in the status: 1 is a verdict, not a failure.
            let ok = match cmd {
                "verify" => matches!(o.status.code(), Some(0 | 1 | 6)),
                "audit" => matches!(o.status.code(), Some(0 | 1)),
                _ => o.status.success(),
            };
            assert!(ok, "`{line}` (pki {cmd} --help) failed: {}\n{}", o.status, stderr(&o));
            ran += 1;
        }
    }
    eprintln!("{ran} examples ran; not run: {skipped:#?}");
    assert!(ran >= 40, "only {ran} examples ran");
    assert_eq!(skipped.len(), NOT_RUN.len(), "{skipped:?}");
}
