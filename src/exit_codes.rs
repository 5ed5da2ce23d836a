//! Exit statuses: the documented, closed set a script can rely on.
//!
//! Every command ends in one of three statuses, documented in `--help` and the man page:
//! 0 success, 1 a check found something (audit, verify), 2 usage or operational error.

pub use pki_core::PkiError;

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
    /// `verify`: valid, but no CRL of its issuer was at hand (`--crl FILE`, or
    /// `--no-revocation-check` to accept that).
    Unchecked = 6,
    /// `attest`: the server refused the token or the CSR (its problem document is named).
    Refused = 7,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// Maps any error that reached `main` to the status the process exits with.
pub fn status_of(err: &anyhow::Error) -> Exit {
    // Checks that find problems return `Exit::Findings` as a value, not as an error; a few
    // refusals have statuses of their own so scripts can tell them apart.
    if err.downcast_ref::<pki_core::attest::AttestRefused>().is_some() {
        return Exit::Refused;
    }
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
        assert_eq!(Exit::Unchecked as u8, 6);
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
