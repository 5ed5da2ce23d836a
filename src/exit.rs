//! Exit statuses and the error values that carry the facts of a failure.
//!
//! Every command ends in one of three statuses, documented in `--help` and the man page:
//! 0 success, 1 a check found something (audit, verify), 2 usage or operational error.

use std::fmt;
use std::path::PathBuf;

/// The process exit status, as a small closed set so scripts can rely on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Findings = 1,
    Error = 2,
    /// `revoke`: no certificate with that serial.
    NotFound = 3,
    /// `revoke`: already revoked (and the new reason is not keyCompromise).
    AlreadyRevoked = 4,
    /// `revoke`: the certificate has expired; it needs no revocation.
    Expired = 5,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

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

/// Maps any error that reached `main` to the status the process exits with.
pub fn status_of(err: &anyhow::Error) -> Exit {
    // Checks that find problems return `Exit::Findings` as a value, not as an error; a few
    // refusals have statuses of their own so scripts can tell them apart.
    match err.downcast_ref::<PkiError>() {
        Some(PkiError::UnknownSerial { .. }) => Exit::NotFound,
        Some(PkiError::AlreadyRevoked { .. }) => Exit::AlreadyRevoked,
        Some(PkiError::CertExpired { .. }) => Exit::Expired,
        _ => Exit::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_stable() {
        assert_eq!(Exit::Success as u8, 0);
        assert_eq!(Exit::Findings as u8, 1);
        assert_eq!(Exit::Error as u8, 2);
        assert_eq!(Exit::NotFound as u8, 3);
        assert_eq!(Exit::AlreadyRevoked as u8, 4);
        assert_eq!(Exit::Expired as u8, 5);
        let e: anyhow::Error = PkiError::UnknownSerial { serial: "AB".into() }.into();
        assert_eq!(status_of(&e.context("revoking")), Exit::NotFound);
    }

    #[test]
    fn messages_are_one_line_and_say_what_to_do() {
        let errs = [
            PkiError::NoCaDir { dir: "x".into() },
            PkiError::WrongPassphrase { key: "k".into() },
            PkiError::BadDuration { flag: "--ttl".into(), value: "5x".into() },
            PkiError::NoSan,
        ];
        for e in errs {
            let s = e.to_string();
            assert!(!s.contains('\n'), "{s}");
            assert!(s.contains(':'), "{s}");
        }
    }
}
