//! The error values that carry the facts of a failure.
//!
//! Operations return `anyhow::Result`; a failure a user or script is expected to act on has a
//! [`PkiError`] at its root (`err.downcast_ref::<PkiError>()`), whose fields are the facts and
//! whose message says, on one line, what was wrong and what to do next. The `pki` binary maps
//! some variants to exit statuses of their own.

use std::fmt;
use std::path::PathBuf;

/// Failures a user or script is expected to act on. Each variant carries the facts, and its
/// message says what was wrong and what to do next, on one line. Serialised (in `--json`
/// error objects) as `{"code": "kebab-case-variant", ...facts}`: the codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum PkiError {
    /// There is no directory at `dir`.
    NoCaDir {
        /// The directory asked for.
        dir: PathBuf,
    },
    /// `dir` exists but has no `pki.toml`.
    NotACaDir {
        /// The directory asked for.
        dir: PathBuf,
    },
    /// `pki init` in a directory that has a CA already.
    AlreadyInitialised {
        /// The directory, absolute.
        dir: PathBuf,
    },
    /// A CA of that name exists already.
    CaExists {
        /// The CA's name.
        name: String,
        /// The CA directory.
        dir: PathBuf,
    },
    /// No CA of that name.
    UnknownCa {
        /// The name asked for.
        name: String,
        /// The CAs the directory has.
        known: Vec<String>,
    },
    /// No CA named and several could issue.
    AmbiguousCa {
        /// The intermediates that could issue.
        known: Vec<String>,
    },
    /// The directory has no CA yet.
    NoRoot {
        /// The CA directory.
        dir: PathBuf,
    },
    /// The passphrase does not decrypt the key.
    WrongPassphrase {
        /// The key file.
        key: PathBuf,
    },
    /// A passphrase is needed and no source has one.
    NoPassphrase {
        /// What needs it, e.g. "CA 'issuing' (cas/issuing/key.pem)".
        what: String,
    },
    /// Another process held the lock for the whole timeout.
    LockTimeout {
        /// The CA directory.
        dir: PathBuf,
        /// How long this process waited.
        waited_secs: u64,
    },
    /// A duration that does not parse.
    BadDuration {
        /// The flag or setting it came from.
        flag: String,
        /// The value given.
        value: String,
    },
    /// A certificate would end after its issuer.
    OutlivesIssuer {
        /// What would be issued.
        what: String,
        /// When it would end (RFC 3339).
        not_after: String,
        /// The issuer's name.
        issuer: String,
        /// When the issuer ends (RFC 3339).
        issuer_not_after: String,
    },
    /// An output file exists and overwriting was not asked for.
    OutputExists {
        /// The file.
        path: PathBuf,
    },
    /// A certificate request without any name.
    NoSan,
    /// A name (DNS, IP, URI, CA name, common name, ...) that is not acceptable.
    BadName {
        /// What kind of name, e.g. "--dns".
        kind: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        why: String,
    },
    /// A serial that is not hexadecimal (or too long).
    BadSerial {
        /// The value given.
        value: String,
    },
    /// Input that is none of the objects pki reads.
    Unrecognized {
        /// Where it came from.
        what: String,
    },
    /// No certificate with that serial in the directory.
    UnknownSerial {
        /// The serial, hex.
        serial: String,
    },
    /// The certificate is revoked already (and the new reason does not escalate it).
    AlreadyRevoked {
        /// The serial, hex.
        serial: String,
        /// The recorded reason.
        reason: String,
        /// When it was revoked (RFC 3339).
        at: String,
    },
    /// The certificate has expired; revoking it would change nothing.
    CertExpired {
        /// The serial, hex.
        serial: String,
        /// When it expired (RFC 3339).
        not_after: String,
    },
    /// A lifetime that is a duration but not one a certificate can have.
    BadLifetime {
        /// The flag or setting.
        flag: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A revocation the evidence shows (the previous CRL, signed; or the ledger) is missing
    /// from the revoked list, or listed with a weaker reason: publishing would erase it.
    RevocationErased {
        /// The CA whose CRL it is.
        ca: String,
        /// The serial, hex.
        serial: String,
        /// The reason the evidence records.
        reason: String,
        /// What shows the revocation ("the previous CRL crl/issuing.crl, number 3").
        evidence: String,
        /// What the revoked list says instead ("has no line for it", "says superseded").
        found: String,
    },
    /// The CA's previous CRL, which the ledger records, cannot serve as evidence.
    CrlEvidenceUnusable {
        /// The CA.
        ca: String,
        /// What is wrong with it.
        why: String,
    },
    /// A passphrase for a new CA key that is too short or too repetitive.
    WeakPassphrase {
        /// The key it would protect.
        what: String,
        /// Where it came from (a file, PKI_PASSPHRASE).
        source: String,
        /// What is wrong with it (never the passphrase itself).
        why: String,
    },
    /// A batch line that is not a request (not JSON, an unknown field, a wrong type).
    BadRequest {
        /// What is wrong with it, as the JSON parser says.
        why: String,
    },
    /// A name outside a CA's name constraints: clients would reject the certificate.
    NameConstraints {
        /// The CA whose constraints it breaks.
        ca: String,
        /// Which name and which constraint.
        why: String,
    },
    /// A key revoked for keyCompromise: no certificate is issued for it again.
    KeyCompromised {
        /// SHA-256 (hex) of the key's SubjectPublicKeyInfo.
        key: String,
        /// The revoked certificate that put it on the blocklist.
        serial: String,
    },
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
            AlreadyInitialised { dir } => write!(
                f,
                "{} is already a CA directory (`pki init` ran there before): use it as it is (`pki list`, `pki issue`), or give another --dir / PKI_DIR for a new one",
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
            BadLifetime { flag, value, why } => write!(f, "invalid {flag} '{value}': {why}"),
            RevocationErased { ca, serial, reason, evidence, found } => write!(
                f,
                "refusing to publish a CRL of CA '{ca}' without {serial}: {evidence} lists it as revoked ({reason}) but crl/{ca}.revoked.tsv {found}; the revoked list was edited: restore its line (from a backup) and run gen-crl again; nothing was published"
            ),
            CrlEvidenceUnusable { ca, why } => {
                write!(f, "refusing to publish a CRL of CA '{ca}': {why}; nothing was published")
            }
            BadRequest { why } => write!(f, "not a valid request: {why}"),
            WeakPassphrase { what, source, why } => {
                write!(f, "the passphrase from {source} for {what} is too weak: {why} (a few words make a good one)")
            }
            NameConstraints { ca, why } => {
                write!(f, "{why} of CA '{ca}': clients would reject this certificate")
            }
            KeyCompromised { key, serial } => write!(
                f,
                "this public key (SHA-256 of its SubjectPublicKeyInfo {key}) was revoked for keyCompromise with certificate {serial}: pki never certifies it again; generate a new key"
            ),
            CertExpired { serial, not_after } => {
                write!(f, "certificate {serial} expired at {not_after}: an expired certificate needs no revocation")
            }
        }
    }
}

impl std::error::Error for PkiError {}

/// The JSON error object `--json` commands print on failure, and batch lines carry:
/// `{"code", "message", ...facts}`. `code` is stable: a [`PkiError`] variant in kebab case
/// (`unknown-serial`), `profile-refused` (with `profile` and `rule`), `io` for a file or
/// stream the system refused, `usage` for a command line clap refused, else `error`.
pub fn error_object(err: &anyhow::Error, message: &str) -> serde_json::Value {
    let mut v = if let Some(e) = err.downcast_ref::<PkiError>() {
        serde_json::to_value(e).unwrap_or_default()
    } else if let Some(r) = err.downcast_ref::<crate::policy::Refusal>() {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["code"] = "profile-refused".into();
        v
    } else if let Some(r) = err.downcast_ref::<crate::attest::AttestRefused>() {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["code"] = "attest-refused".into();
        v
    } else if err.chain().any(|c| c.is::<std::io::Error>()) {
        serde_json::json!({ "code": "io" })
    } else {
        serde_json::json!({ "code": "error" })
    };
    v["message"] = message.into();
    v
}
