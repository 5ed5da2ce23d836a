//! What a command gets from its surroundings: the clock, the output streams, the passphrase
//! source and the actor. Passed in so that tests and fixture scripts are deterministic.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pki_core::PkiError;
pub use pki_core::context::{Actor, Secret, read_passphrase_file};
use pki_core::context::{PassphraseSource, nonempty, strong_passphrase, weak_passphrase};
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub struct Ctx {
    pub now: OffsetDateTime,
    pub out: Box<dyn Write>,
    pub err: Box<dyn Write>,
    pub pass: Passphrases,
    pub actor: Actor,
    /// Whether stderr is a terminal (progress bars, prompts).
    pub interactive: bool,
    /// Whether stdout is a terminal (tables instead of lines) and colour is allowed there
    /// (`NO_COLOR` unset).
    pub out_tty: bool,
    pub color: bool,
}

impl Ctx {
    /// The context of a real run: system clock (or `PKI_NOW`, for fixture scripts), real
    /// streams, passphrases from flags, environment or terminal.
    pub fn from_env(
        passphrase_file: Option<PathBuf>,
        passphrase_dir: Option<PathBuf>,
        note: Option<String>,
    ) -> Result<Ctx> {
        // PKI_NOW (fixture scripts, tests) exists only in test builds (pki_core::hooks).
        let now = match pki_core::hooks::fixed_now() {
            Some(v) => OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339).map_err(|_| {
                anyhow::anyhow!("invalid PKI_NOW '{v}': expected an RFC 3339 time such as 2026-01-01T00:00:00Z")
            })?,
            None => OffsetDateTime::now_utc(),
        };
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        if interactive {
            restore_terminal_on_interrupt();
        }
        Ok(Ctx {
            now: now.replace_nanosecond(0).expect("0 is a valid nanosecond"),
            out: Box::new(std::io::stdout()),
            err: Box::new(std::io::stderr()),
            pass: Passphrases {
                given: None,
                file: passphrase_file,
                // systemd's LoadCredential= puts NAME.pass files in $CREDENTIALS_DIRECTORY: used
                // as the passphrase directory when none is given.
                dir: passphrase_dir
                    .or_else(|| std::env::var_os("CREDENTIALS_DIRECTORY").filter(|v| !v.is_empty()).map(PathBuf::from)),
                env_value: std::env::var("PKI_PASSPHRASE").ok().map(Zeroizing::new),
                tty: interactive,
            },
            actor: Actor::from_env(note),
            interactive,
            out_tty: std::io::stdout().is_terminal(),
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        })
    }

    /// The values the core's operations take: the clock, the actor, the passphrase source.
    pub fn core(&self) -> pki_core::Context<'_> {
        pki_core::Context { now: self.now, actor: &self.actor, pass: &self.pass, rng: &pki_core::OsRandom }
    }

    /// A status line on stderr. Errors writing it are ignored: stderr closed is not our failure.
    pub fn say(&mut self, msg: impl AsRef<str>) {
        let _ = writeln!(self.err, "{}", msg.as_ref());
    }
}

/// The terminal settings when `pki` started, put back by the SIGINT handler.
static TERMINAL: std::sync::OnceLock<libc::termios> = std::sync::OnceLock::new();

/// Ctrl-C at a passphrase prompt (which turns echo off) must not leave the terminal without
/// echo: the handler restores the settings saved here and exits with 130, as a shell reports
/// an interrupted command.
fn restore_terminal_on_interrupt() {
    extern "C" fn on_interrupt(_: libc::c_int) {
        // Only async-signal-safe calls here: tcsetattr, write, _exit.
        if let Some(t) = TERMINAL.get() {
            // SAFETY: fd 0 is the terminal whose settings were saved; `t` lives for the program.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
        }
        // SAFETY: writing a static byte to stderr and exiting without unwinding.
        unsafe {
            libc::write(2, b"\n".as_ptr().cast(), 1);
            libc::_exit(130);
        }
    }
    // SAFETY: termios is plain data that tcgetattr fills; the handler is an extern "C" fn that
    // only makes async-signal-safe calls.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut t) != 0 {
            return;
        }
        let _ = TERMINAL.set(t);
        libc::signal(libc::SIGINT, on_interrupt as *const () as libc::sighandler_t);
    }
}

/// Where passphrases come from, in order: `--passphrase-file` (or `PKI_PASSPHRASE_FILE`),
/// `PKI_PASSPHRASE`, a terminal prompt. Never argv; never printed.
pub struct Passphrases {
    /// Already known to this process (e.g. asked once by `pki init`), used before any source.
    pub given: Option<Secret>,
    pub file: Option<PathBuf>,
    /// `--passphrase-dir` / `PKI_PASSPHRASE_DIR`: `NAME.pass` for CA NAME (systemd's
    /// `$CREDENTIALS_DIRECTORY` works as is).
    pub dir: Option<PathBuf>,
    pub env_value: Option<Zeroizing<String>>,
    pub tty: bool,
}

impl Passphrases {
    /// The passphrase that unlocks an existing key.
    pub fn unlock(&self, what: &str) -> Result<Secret> {
        if let Some(g) = &self.given {
            return Ok(g.clone());
        }
        if let Some(f) = &self.file {
            return read_passphrase_file(f);
        }
        if let Some(v) = &self.env_value {
            return nonempty(v.clone(), "PKI_PASSPHRASE");
        }
        if self.tty {
            let p = rpassword::prompt_password(format!("Passphrase for {what}: "))
                .context("could not read the passphrase from the terminal")?;
            return nonempty(Zeroizing::new(p), "the passphrase");
        }
        Err(PkiError::NoPassphrase { what: what.to_string() }.into())
    }

    /// The passphrase for a key being created by a command that unlocks nothing else. One from
    /// a file or PKI_PASSPHRASE that is too weak is refused; the prompt asks again.
    pub fn new_primary(&self, what: &str) -> Result<Secret> {
        if self.given.is_none() {
            if let Some(f) = &self.file {
                return strong_passphrase(read_passphrase_file(f)?, &f.display().to_string(), what);
            }
            if let Some(v) = &self.env_value {
                return strong_passphrase(nonempty(v.clone(), "PKI_PASSPHRASE")?, "PKI_PASSPHRASE", what);
            }
        }
        if self.given.is_some() {
            return self.unlock(what);
        }
        self.prompt_new(what, None)
    }

    /// The passphrase for a new key created while another one is unlocked: its own file,
    /// else the prompt (twice).
    pub fn new_secondary(&self, file: Option<&Path>, what: &str) -> Result<Secret> {
        if let Some(f) = file {
            return strong_passphrase(read_passphrase_file(f)?, &f.display().to_string(), what);
        }
        self.prompt_new(what, Some("--new-passphrase-file"))
    }

    fn prompt_new(&self, what: &str, flag: Option<&str>) -> Result<Secret> {
        if !self.tty {
            return Err(match flag {
                Some(flag) => anyhow::anyhow!(
                    "a passphrase is needed for the new key of {what} and there is no terminal to ask: use {flag} FILE, or --no-passphrase for a throw-away CA"
                ),
                None => PkiError::NoPassphrase { what: what.to_string() }.into(),
            });
        }
        loop {
            let a = Zeroizing::new(
                rpassword::prompt_password(format!("New passphrase for {what}: "))
                    .context("could not read the passphrase from the terminal")?,
            );
            if let Some(why) = weak_passphrase(&a) {
                eprintln!("Too weak: {why} (a few words make a good one); try again.");
                continue;
            }
            let b = Zeroizing::new(
                rpassword::prompt_password("Repeat it: ").context("could not read the passphrase from the terminal")?,
            );
            if a == b {
                return Ok(a);
            }
            eprintln!("The two passphrases differ; try again.");
        }
    }
}

impl PassphraseSource for Passphrases {
    /// A passphrase given to this process comes first; then the key's own file from `pki.toml`;
    /// then `NAME.pass` in `--passphrase-dir` (one file per CA); then the general sources.
    fn passphrase(&self, ca: &str, what: &str, configured: Option<&Path>) -> Result<Secret> {
        if self.given.is_none() {
            if let Some(f) = configured {
                return read_passphrase_file(f);
            }
            if let Some(d) = &self.dir {
                let f = d.join(format!("{ca}.pass"));
                if f.exists() {
                    return read_passphrase_file(&f);
                }
            }
        }
        self.unlock(what)
    }
}
