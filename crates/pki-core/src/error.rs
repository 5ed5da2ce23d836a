//! The error values that carry the facts of a failure.
//!
//! Operations return `anyhow::Result`; a failure a user or script is expected to act on has a
//! [`PkiError`] at its root (`err.downcast_ref::<PkiError>()`), whose fields are the facts and
//! whose message says, on one line, what was wrong and what to do next. The `pki` binary maps
//! some variants to exit statuses of their own.

use std::fmt;
use std::path::PathBuf;

/// Failures a user or script is expected to act on. Each variant carries the facts, and its
/// message says what was wrong and what to do next, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkiError {
    NoCaDir { dir: PathBuf },
    NotACaDir { dir: PathBuf },
    CaExists { name: String, dir: PathBuf },
    UnknownCa { name: String, known: Vec<String> },
    AmbiguousCa { known: Vec<String> },
    NoRoot { dir: PathBuf },
    WrongPassphrase { key: PathBuf },
    NoPassphrase { what: String },
    LockTimeout { dir: PathBuf, waited_secs: u64 },
    BadDuration { flag: String, value: String },
    OutlivesIssuer { what: String, not_after: String, issuer: String, issuer_not_after: String },
    OutputExists { path: PathBuf },
    NoSan,
    BadName { kind: &'static str, value: String, why: String },
    BadSerial { value: String },
    Unrecognized { what: String },
    UnknownSerial { serial: String },
    AlreadyRevoked { serial: String, reason: String, at: String },
    CertExpired { serial: String, not_after: String },
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PkiError::*;
        match self {
            NoCaDir { dir } => write!(
                f,
                "no CA directory at {}: run `pki init` to create one, or point --dir / PKI_DIR at an existing one",
                dir.display()
            ),
            NotACaDir { dir } => write!(
                f,
                "{} is not a pki CA directory (no pki.toml): point --dir / PKI_DIR at the directory `pki init` created",
                dir.display()
            ),
            CaExists { name, dir } => write!(
                f,
                "CA '{name}' already exists in {}: refusing to overwrite it (use another name or another --dir)",
                dir.display()
            ),
            UnknownCa { name, known } => {
                write!(f, "no CA named '{name}' in this directory")?;
                if known.is_empty() {
                    write!(f, ": create one with `pki init-root` / `pki create-intermediate`")
                } else {
                    write!(f, " (known: {})", known.join(", "))
                }
            }
            AmbiguousCa { known } => write!(
                f,
                "several issuing CAs ({}): pick one with --ca, or set `ca` under [defaults] in pki.toml",
                known.join(", ")
            ),
            NoRoot { dir } => {
                write!(f, "no root CA in {}: create one first with `pki init-root --cn NAME`", dir.display())
            }
            WrongPassphrase { key } => write!(
                f,
                "wrong passphrase for {}: check --passphrase-file / PKI_PASSPHRASE_FILE / PKI_PASSPHRASE",
                key.display()
            ),
            NoPassphrase { what } => write!(
                f,
                "a passphrase is needed for {what} and there is no terminal to ask: use --passphrase-file FILE, or set PKI_PASSPHRASE_FILE or PKI_PASSPHRASE"
            ),
            LockTimeout { dir, waited_secs } => write!(
                f,
                "the CA directory {} stayed locked by another pki process for {waited_secs}s: try again, or raise --lock-timeout",
                dir.display()
            ),
            BadDuration { flag, value } => {
                write!(f, "invalid {flag} '{value}': expected a duration such as 90m, 1h, 30d or 10y")
            }
            OutlivesIssuer { what, not_after, issuer, issuer_not_after } => write!(
                f,
                "{what} would end {not_after}, after its issuer '{issuer}' ({issuer_not_after}): choose a shorter --ttl"
            ),
            OutputExists { path } => write!(
                f,
                "{} already exists: refusing to overwrite it (pass --force to replace it, or choose another --out)",
                path.display()
            ),
            NoSan => write!(
                f,
                "a certificate needs at least one name: give --dns, --ip or --uri (or a --cn that is a DNS name or IP address)"
            ),
            BadName { kind, value, why } => write!(f, "invalid {kind} '{value}': {why}"),
            BadSerial { value } => write!(
                f,
                "invalid serial '{value}': expected hexadecimal as `openssl x509 -noout -serial` prints it (colons allowed)"
            ),
            Unrecognized { what } => write!(f, "{what}: not a certificate, chain, CSR, CRL or key in PEM or DER form"),
            UnknownSerial { serial } => write!(
                f,
                "no certificate with serial {serial} in this directory: check it with `pki list` (serials are hex, as `openssl x509 -noout -serial` prints them)"
            ),
            AlreadyRevoked { serial, reason, at } => write!(
                f,
                "certificate {serial} was already revoked ({reason}) at {at}: nothing to do (only --reason keyCompromise updates a revocation)"
            ),
            CertExpired { serial, not_after } => {
                write!(f, "certificate {serial} expired at {not_after}: an expired certificate needs no revocation")
            }
        }
    }
}

impl std::error::Error for PkiError {}
