//! `pki init` as a person uses it, on a real terminal: tmux runs it in a pseudo-terminal, the
//! test types the answers (send-keys) and reads the screen (capture-pane). Defaults are taken
//! with Enter, a mistyped passphrase confirmation is asked again, passphrases are never echoed,
//! and Ctrl-C leaves neither a half-made directory nor a terminal without echo.
//! `.ci/run` installs tmux; elsewhere, without tmux, the tests are skipped with a message.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A tmux server of its own running bash in `cwd`, or None when tmux is missing outside CI.
    fn start(cwd: &Path) -> Option<Tmux> {
        Tmux::start_sized(cwd, 160)
    }

    /// The same on a terminal `width` columns wide.
    fn start_sized(cwd: &Path, width: u16) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "tmux is required in CI (.ci/run installs it)");
            eprintln!("SKIPPED: tmux is not installed");
            return None;
        }
        let socket = format!("pki-test-{}-{}", std::process::id(), cwd.file_name().unwrap().to_string_lossy());
        let st = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d", "-x", &width.to_string(), "-y", "50", "-c"])
            .arg(cwd)
            .args([
                "env",
                "-i",
                "PATH=/usr/bin:/bin",
                "TERM=xterm",
                "HOME=/tmp",
                "PKI_ACTOR=tester@tty",
                "bash",
                "--norc",
                "--noprofile",
            ])
            .status()
            .unwrap();
        assert!(st.success());
        Some(Tmux { socket })
    }

    fn keys(&self, keys: &[&str]) {
        let st = Command::new("tmux").args(["-L", &self.socket, "send-keys", "-t", "0"]).args(keys).status().unwrap();
        assert!(st.success());
    }

    fn type_line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    /// An empty screen and no scrollback, so waits see only what comes next.
    fn reset(&self) {
        self.type_line("clear");
        std::thread::sleep(Duration::from_millis(200));
        let st = Command::new("tmux").args(["-L", &self.socket, "clear-history", "-t", "0"]).status().unwrap();
        assert!(st.success());
    }

    fn screen(&self) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J", "-S", "-200", "-t", "0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Waits until `text` has appeared `nth` times on the screen.
    fn wait_for(&self, text: &str, nth: usize) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if s.matches(text).count() >= nth {
                return s;
            }
            assert!(t.elapsed() < Duration::from_secs(20), "waited for {text:?} (x{nth}); the screen shows:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

fn init_command(dir: &Path) -> String {
    format!("{} --dir {} init; echo EXIT=$?", env!("CARGO_BIN_EXE_pki"), dir.display())
}

#[test]
fn guided_init_takes_defaults_and_asks_again_after_a_typo() {
    let env = Env::new();
    let Some(t) = Tmux::start(env.tmp.path()) else { return };
    let dir = env.path("myca");
    t.type_line(&init_command(&dir));
    t.wait_for("Organisation name [Acme]:", 1);
    t.keys(&["Enter"]);
    t.wait_for("Trust domain / internal DNS suffix [acme.internal]:", 1);
    t.keys(&["Enter"]);
    t.wait_for("Key type (p256, p384, ed25519 or rsa3072) [p256]:", 1);
    t.type_line("rsa4096"); // not offered: asked again
    t.wait_for("Please answer p256, p384, ed25519 or rsa3072.", 1);
    t.wait_for("Key type (p256, p384, ed25519 or rsa3072) [p256]:", 2);
    t.keys(&["Enter"]);
    let base_prompt = "Base URL where CRLs and CA certificates will be published";
    t.wait_for(base_prompt, 1);
    t.type_line("ftp://pki.acme.internal"); // not http(s): asked again
    t.wait_for("fetch CRLs and CA certificates over http:// (or https://); try again.", 1);
    t.wait_for(base_prompt, 2);
    t.type_line("http://pki.acme.internal");
    t.wait_for("New passphrase for the root CA key:", 1);
    t.type_line("aaaaaaaaaaaaaaaa"); // too repetitive: asked again
    t.wait_for("Too weak: it uses only 1 different characters; a new CA key needs at least 5", 1);
    t.wait_for("New passphrase for the root CA key:", 2);
    t.type_line("correct horse battery");
    t.wait_for("Repeat it:", 1);
    t.type_line("correct horse battery staple"); // a typo: asked again
    t.wait_for("The two passphrases differ; try again.", 1);
    t.wait_for("New passphrase for the root CA key:", 3);
    t.type_line("correct horse battery");
    t.wait_for("Repeat it:", 2);
    t.type_line("correct horse battery");
    t.wait_for("Passphrase for the 'issuing' CA key (Enter = same as the root's):", 1);
    t.type_line("short one"); // under 12 characters: asked again
    t.wait_for("Too weak: it has 9 characters; a new CA key needs at least 12", 1);
    t.wait_for("Passphrase for the 'issuing' CA key (Enter = same as the root's):", 2);
    t.type_line("issuing one x");
    t.wait_for("Repeat it:", 3);
    t.type_line("issuing two x");
    t.wait_for("The two passphrases differ; try again.", 2);
    t.wait_for("Passphrase for the 'issuing' CA key (Enter = same as the root's):", 3);
    t.keys(&["Enter"]); // the same as the root's
    // "\nEXIT=" is the echo's output, not the command line that contains it.
    let screen = t.wait_for("\nEXIT=", 1);
    assert!(screen.contains("\nEXIT=0"), "{screen}");
    assert!(screen.contains("Created a private CA in"), "{screen}");
    assert!(
        !screen.contains("correct horse") && !screen.contains("issuing one") && !screen.contains("short one"),
        "a passphrase was echoed:\n{screen}"
    );

    // What the defaults made, and the passphrases that open the keys.
    let toml = std::fs::read_to_string(dir.join("pki.toml")).unwrap();
    assert!(toml.contains("organization = \"Acme\"") && toml.contains("trust_domain = \"acme.internal\""), "{toml}");
    assert!(
        toml.contains("base_url = \"http://pki.acme.internal\"")
            && toml.contains("crl_url = \"http://pki.acme.internal/crl/issuing.crl\""),
        "{toml}"
    );
    for key in ["cas/root/key.pem", "cas/issuing/key.pem"] {
        let path = dir.join(key).display().to_string();
        let o = openssl(&["pkey", "-in", &path, "-passin", "pass:correct horse battery", "-noout"], env.tmp.path());
        assert!(o.status.success(), "{key}: {}", stderr(&o));
    }
    let leftovers: Vec<String> = std::fs::read_dir(env.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".init-"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

#[test]
fn ctrl_c_leaves_no_directory_and_a_working_terminal() {
    let env = Env::new();
    let Some(t) = Tmux::start(env.tmp.path()) else { return };
    let dir = env.path("myca");
    for at in ["Organisation name [Acme]:", "New passphrase for the root CA key:", "Repeat it:"] {
        t.reset();
        t.type_line(&init_command(&dir));
        for (prompt, answer) in [
            ("Organisation name [Acme]:", ""),
            ("Trust domain", ""),
            ("Key type", ""),
            ("Base URL", ""),
            ("New passphrase", "abc def ghi jkl"),
        ] {
            if at.starts_with(prompt) {
                break;
            }
            t.wait_for(prompt, 1);
            t.type_line(answer);
        }
        t.wait_for(at, 1);
        t.keys(&["C-c"]);
        let screen = t.wait_for("\nEXIT=", 1);
        assert!(screen.contains("\nEXIT=130"), "Ctrl-C at {at:?}:\n{screen}");
        assert!(!dir.exists(), "Ctrl-C at {at:?} left {}", dir.display());
        // The terminal echoes again: what is typed now shows on the screen.
        t.type_line("stty -a | tr ' ' '\\n' | grep -x -- '-\\?echo'");
        let screen = t.wait_for("\necho\n", 1);
        assert!(!screen.contains("\n-echo\n"), "echo left off after Ctrl-C at {at:?}:\n{screen}");
    }
}

#[test]
fn audit_on_a_terminal_is_a_coloured_table_unless_no_color() {
    let env = Env::new();
    env.init_plain(); // unencrypted CA keys: two warnings
    let Some(t) = Tmux::start(env.tmp.path()) else { return };
    let audit = format!("{} --dir {} audit; echo EXIT=$?", env!("CARGO_BIN_EXE_pki"), env.ca().display());
    let with_escapes = |t: &Tmux| -> String {
        let o = Command::new("tmux")
            .args(["-L", &t.socket, "capture-pane", "-p", "-e", "-J", "-S", "-200", "-t", "0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    t.reset();
    t.type_line(&audit);
    let screen = t.wait_for("\nEXIT=", 1);
    assert!(screen.contains("\nEXIT=1"), "{screen}");
    assert!(screen.contains("ca-key-unencrypted") && screen.contains("│"), "a table on a terminal:\n{screen}");
    assert!(with_escapes(&t).contains("\x1b[38;5;11m"), "warnings are yellow on a terminal");
    t.reset();
    t.type_line(&format!("NO_COLOR=1 {audit}"));
    t.wait_for("\nEXIT=", 1);
    let raw = with_escapes(&t);
    assert!(raw.contains("ca-key-unencrypted") && !raw.contains("\x1b[38;5;11m"), "NO_COLOR still coloured:\n{raw}");
}

/// `pki list` on an 80-column terminal: each serial whole on one screen line (the line a
/// person copies into `pki revoke`), no line wider than the terminal, soonest expiry first.
#[test]
fn list_at_80_columns_keeps_each_serial_whole() {
    let env = Env::new();
    env.init_plain();
    let mut serials = vec![];
    for (i, ttl) in ["3h", "1h", "2h"].iter().enumerate() {
        let name = format!("a-rather-long-service-name-{i}.payments.eu-west.acme.internal");
        let other = format!("another-name-{i}.acme.internal");
        serials.push(
            env.ok(&["issue", "--dns", &name, "--dns", &other, "--ttl", ttl, "--out", &format!("o{i}")])
                .trim()
                .to_string(),
        );
    }
    let Some(t) = Tmux::start_sized(env.tmp.path(), 80) else { return };
    t.reset();
    t.type_line(&format!("{} --dir {} list; echo EXIT=$?", env!("CARGO_BIN_EXE_pki"), env.ca().display()));
    t.wait_for("EXIT=0", 1);
    // Without -J: what the terminal shows, wrapped lines as separate lines.
    let o = Command::new("tmux").args(["-L", &t.socket, "capture-pane", "-p", "-t", "0"]).output().unwrap();
    let screen = String::from_utf8_lossy(&o.stdout).into_owned();
    let rows: Vec<&str> = screen.lines().filter(|l| serials.iter().any(|s| l.contains(s.as_str()))).collect();
    assert_eq!(rows.len(), 3, "each serial whole on one line:\n{screen}");
    for l in screen.lines() {
        assert!(l.chars().count() <= 80, "wider than the terminal: {l:?}");
    }
    // Copying the first word of a row gives the serial; rows are soonest expiry first (1h, 2h, 3h).
    let copied: Vec<&str> = rows.iter().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(copied, [serials[1].as_str(), serials[2].as_str(), serials[0].as_str()], "{screen}");
    assert!(rows[0].contains('…'), "names cut to fit, marked: {}", rows[0]);
}
