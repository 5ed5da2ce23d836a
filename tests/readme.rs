//! The README's guides work when pasted: every fenced block marked `sh test` is run, in README
//! order, as one bash script (`set -eu`) in an empty directory with the real `pki` on PATH.
//! What a person would type at the prompts comes from standard input and `PKI_PASSPHRASE`.
//! Guide 3 needs nginx and curl (`.ci/run` installs them); elsewhere the test is skipped
//! without them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `sh test` blocks of a Markdown text, with the line each starts on.
fn tested_blocks(md: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    let mut current: Option<(usize, String)> = None;
    for (i, line) in md.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match current.take() {
            None if line.trim_start().starts_with("```sh test") => current = Some((i + 1, String::new())),
            None => {}
            Some(block) if fence => out.push(block),
            Some((n, mut body)) => {
                body.push_str(line);
                body.push('\n');
                current = Some((n, body));
            }
        }
    }
    assert!(current.is_none(), "README.md: a `sh test` block is not closed");
    out
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

#[test]
fn readme_guides_run_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks = tested_blocks(&readme);
    assert!(blocks.len() >= 7, "expected the six guides' blocks, found {}", blocks.len());
    for tool in ["nginx", "curl", "openssl", "python3", "lego", "certbot", "caddy"] {
        if !have(tool) {
            assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI (.ci/run installs it)");
            eprintln!("SKIPPED: {tool} is not installed");
            return;
        }
    }
    let mut script = String::from("set -eu\n");
    for (line, body) in &blocks {
        script.push_str(&format!("echo '== README.md line {line}' >&2\n{body}"));
    }
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_pki")).parent().unwrap().to_path_buf();
    // SPIRE's binaries (guide 7), where .ci/run builds them.
    let spire = std::env::var_os("PKI_SPIRE_BIN").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache/pki-spire/bin")
    });
    assert!(spire.join("spire-server").is_file(), "SPIRE is not built in {}: .ci/run builds it", spire.display());
    let path = format!(
        "{}:{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        bin_dir.display(),
        spire.display()
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(tmp.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", tmp.path())
        .env("PKI_ACTOR", "readme@test")
        // The repository, for the attestation guide's stand-in issuer (tests/interop).
        .env("PKI_REPO", env!("CARGO_MANIFEST_DIR"))
        // What a person types at `pki init` and `pki issue` prompts.
        .env("PKI_PASSPHRASE", "guide passphrase")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // ... and at guide 2's `read` of the issuing CA's passphrase.
    child.stdin.take().unwrap().write_all(b"guide passphrase\n").unwrap();
    let o = child.wait_with_output().unwrap();
    // nginx must not outlive a failed run.
    let _ = Command::new("nginx").arg("-c").arg(tmp.path().join("nginx.conf")).args(["-s", "stop"]).output();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "a README guide failed ({}):\n--- stdout\n{out}\n--- stderr\n{err}", o.status);
    // What the guides promise is visible in their output.
    assert!(out.contains("spiffe://acme.internal/agent/build-7"), "{out}");
    assert!(out.contains("hello ") && out.contains("CN=billing.acme.internal"), "mTLS greeting missing:\n{out}");
    assert!(out.contains("certificate revoked"), "{out}");
    assert!(out.contains("hello from caddy"), "Caddy's certificate from pki serve is missing:\n{out}");
    assert!(out.contains("URI:spiffe://acme.internal/billing"), "guide 7's SVID from SPIRE is missing:\n{out}");
    assert!(
        out.contains("valid X.509-SVID for spiffe://acme.internal/ci/github/octo-org/octo-app/refs/heads/main"),
        "the attested GitHub SVID is missing:\n{out}"
    );
    assert!(out.contains("by attest:github [iss="), "the attested SVID's history is missing:\n{out}");
    assert!(out.contains("spiffe://acme.internal/ci/gitlab/1234/42"), "the attested GitLab SVID is missing:\n{out}");
}

/// The README's cron lines, as written, on a directory `pki init` made with two passphrases,
/// only the issuing CA's present on the host (the root's kept offline): 13 hours later they
/// publish the issuing CRL, skip the root's (not due), run the audit and exit 0; 20 days later
/// the root's CRL is due and unpublishable, gen-crl says so and fails (exit 2), and the audit
/// still runs.
#[test]
fn readme_cron_lines_run_under_faketime_with_the_root_passphrase_absent() {
    if !have("faketime") {
        assert!(std::env::var_os("CI").is_none(), "faketime is required in CI (.ci/run installs it)");
        eprintln!("SKIPPED: faketime is not installed");
        return;
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme.split("```cron\n").nth(1).expect("the cron block").split("```").next().unwrap();
    // The commands of the schedule lines (the five time fields dropped), with the textfile path
    // and the passphrase directory moved into the sandbox.
    let commands: Vec<String> = block
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit() || c == '*'))
        .map(|l| {
            l.split_whitespace()
                .skip(5)
                .collect::<Vec<_>>()
                .join(" ")
                .replace("/var/lib/node_exporter/textfile", "textfile")
        })
        .collect();
    assert_eq!(commands.len(), 2, "{block}");
    assert!(commands[0].contains("gen-crl") && commands[0].contains("; pki audit"), "{}", commands[0]);
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    std::fs::write(w.join("root.pass"), "cron root passphrase\n").unwrap();
    std::fs::create_dir(w.join("passphrases")).unwrap();
    std::fs::write(w.join("passphrases/issuing.pass"), "cron issuing passphrase\n").unwrap();
    std::fs::create_dir(w.join("textfile")).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_pki")).parent().unwrap().display().to_string();
    let sh = |cmd: &str, offset: &str| {
        Command::new("faketime")
            .args(["-f", offset, "sh", "-c", cmd])
            .current_dir(w)
            .env_clear()
            .env("PATH", format!("{bin_dir}:/usr/bin:/bin"))
            .env("PKI_DIR", w.join("srv-pki"))
            .env("PKI_PASSPHRASE_DIR", w.join("passphrases"))
            .env("PKI_ACTOR", "cron@test")
            .output()
            .unwrap()
    };
    let init = sh(
        "pki init --non-interactive --org Acme --trust-domain acme.internal --passphrase-file root.pass --new-passphrase-file passphrases/issuing.pass",
        "+0",
    );
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let first = sh(&commands[0], "+13h");
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "+13h: {err}\n{}", String::from_utf8_lossy(&first.stdout));
    assert!(err.contains("CRL of 'issuing'") && err.contains("CRL of 'root' is not due: skipped"), "{err}");
    let prom = std::fs::read_to_string(w.join("textfile/pki.prom")).unwrap();
    assert!(prom.contains("pki_audit_timestamp_seconds"), "the audit ran");
    assert!(sh(&commands[1], "+13h").status.success());
    // 20 days on: the 30-day root CRL is past half its life, and its key cannot be unlocked.
    std::fs::remove_file(w.join("textfile/pki.prom")).unwrap();
    let later = sh(&commands[0], "+20d");
    let err = String::from_utf8_lossy(&later.stderr);
    // The line's status is the audit's; gen-crl's failure is on stderr, which cron mails.
    assert!(err.contains("CRL of 'root' is due and was not published"), "{err}");
    assert!(err.contains("pki: error: the due CRL of 'root' could not be published"), "{err}");
    assert!(err.contains("CRL of 'issuing': number"), "the issuing CRL was still published: {err}");
    assert!(w.join("textfile/pki.prom").exists(), "the audit ran although gen-crl failed");
    let alone = sh("pki gen-crl --all --if-older-than 12h", "+20d");
    assert_eq!(alone.status.code(), Some(2), "{}", String::from_utf8_lossy(&alone.stderr));
    // With the root's passphrase where the cron line looks for it, everything is published.
    std::fs::copy(w.join("root.pass"), w.join("passphrases/root.pass")).unwrap();
    let o = sh("pki gen-crl --all --if-older-than 12h", "+20d");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
