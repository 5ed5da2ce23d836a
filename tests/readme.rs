//! The README's guides work when pasted: every fenced block marked `sh test` is run, in README
//! order, as one bash script (`set -eu`) in an empty directory with the real `pki` on PATH.
//! What a person would type at the prompts comes from standard input and `PKI_PASSPHRASE`.
//! Guide 3 needs nginx and curl (`.ci/run` installs them); elsewhere the test is skipped
//! without them.

use std::io::Write;
use std::path::Path;
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
    for tool in ["nginx", "curl", "openssl", "python3"] {
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
    let path = format!("{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", bin_dir.display());
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(tmp.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", tmp.path())
        .env("PKI_ACTOR", "readme@test")
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
}
