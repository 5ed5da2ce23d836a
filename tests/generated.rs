//! The committed completions and man pages are what the current clap definition generates.

use std::path::Path;
use std::process::Command;

fn pki(args: &[&str]) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_pki")).args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

const HINT: &str = "out of date: run scripts/regenerate.sh and commit the result";

#[test]
fn completions_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (shell, file) in [("bash", "pki.bash"), ("zsh", "_pki"), ("fish", "pki.fish")] {
        let committed = std::fs::read(root.join("completions").join(file)).unwrap_or_default();
        assert!(committed == pki(&["completions", shell]), "completions/{file} {HINT}");
    }
}

#[test]
fn man_pages_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    pki(&["man", "--out-dir", tmp.path().to_str().unwrap()]);
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".1"))
            .collect();
        v.sort();
        v
    };
    let fresh = names(tmp.path());
    assert_eq!(names(&root.join("man")), fresh, "man/ {HINT}");
    for n in fresh {
        let a = std::fs::read(root.join("man").join(&n)).unwrap();
        let b = std::fs::read(tmp.path().join(&n)).unwrap();
        assert!(a == b, "man/{n} {HINT}");
    }
    // The sections a reader looks for, on every page.
    for n in names(&root.join("man")) {
        let page = String::from_utf8(std::fs::read(root.join("man").join(&n)).unwrap()).unwrap();
        for s in ["EXAMPLES", "EXIT STATUS", "ENVIRONMENT", "FILES"] {
            assert!(page.contains(&format!(".SH \"{s}\"")) || page.contains(&format!(".SH {s}")), "{n} lacks {s}");
        }
    }
}

#[test]
fn every_command_has_examples_in_help() {
    let help = String::from_utf8(pki(&["--help"])).unwrap();
    let cmds: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| l.as_bytes().get(2).is_some_and(|b| b.is_ascii_lowercase()))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(cmds.len() >= 9, "{cmds:?}");
    for c in cmds {
        let h = String::from_utf8(pki(&[&c, "--help"])).unwrap();
        let examples = h.lines().skip_while(|l| *l != "EXAMPLES:").skip(1).take_while(|l| l.starts_with("  ")).count();
        assert!((1..=6).contains(&examples), "pki {c} --help has {examples} EXAMPLES lines");
        // Global flags are grouped apart from the command's own.
        assert!(h.contains("Global options:"), "pki {c} --help does not group the global options");
    }
    assert!(String::from_utf8(pki(&["--help"])).unwrap().contains("EXIT STATUS"));
}
