//! What an operation takes from its caller as values: the clock, the actor and the source of
//! passphrases. Nothing here prompts or prints; the `pki` binary's prompt and a server's
//! preloaded secrets are both a [`PassphraseSource`].

use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// A passphrase, wiped from memory when dropped.
pub type Secret = Zeroizing<String>;

/// Where the passphrase of an existing key comes from. Implementations never put a passphrase
/// in argv, a log line or an error message.
pub trait PassphraseSource: Send + Sync {
    /// The passphrase for `what` (e.g. "CA 'issuing'"). `configured` is the key's own
    /// passphrase file from `pki.toml`, if the directory names one.
    fn passphrase(&self, what: &str, configured: Option<&Path>) -> Result<Secret>;
}

/// A source with no passphrase: unlocking an encrypted key fails with
/// [`PkiError::NoPassphrase`](crate::PkiError::NoPassphrase) unless `pki.toml` names a file.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPassphrase;

impl PassphraseSource for NoPassphrase {
    fn passphrase(&self, what: &str, configured: Option<&Path>) -> Result<Secret> {
        match configured {
            Some(f) => read_passphrase_file(f),
            None => Err(crate::PkiError::NoPassphrase { what: what.to_string() }.into()),
        }
    }
}

/// One passphrase known in advance, for every key (a server's unlocked secret, a test).
pub struct FixedPassphrase(pub Secret);

impl PassphraseSource for FixedPassphrase {
    fn passphrase(&self, _what: &str, _configured: Option<&Path>) -> Result<Secret> {
        Ok(self.0.clone())
    }
}

/// The values every changing operation needs: when it happens, who does it, and how keys are
/// unlocked. Borrowed, so one caller can hand the same actor and source to many operations.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The time of the operation (whole seconds): validity, ledger and CRL times derive from it.
    pub now: OffsetDateTime,
    /// Who is recorded in the ledger as making the change.
    pub actor: &'a Actor,
    /// How encrypted CA keys are unlocked.
    pub pass: &'a dyn PassphraseSource,
}

/// An empty secret is refused: an empty passphrase is almost always a mistake in a file.
pub fn nonempty(s: Secret, source: &str) -> Result<Secret> {
    if s.is_empty() {
        anyhow::bail!("{source} is empty: a key passphrase must not be empty");
    }
    Ok(s)
}

/// Reads the first line of a passphrase file, like OpenSSL's `-passin file:`.
pub fn read_passphrase_file(path: &Path) -> Result<Secret> {
    // The first line only, as OpenSSL reads it; at most MAX_PASSPHRASE bytes of it.
    let mut raw = Zeroizing::new(vec![]);
    std::fs::File::open(path)
        .and_then(|f| f.take(crate::limits::MAX_PASSPHRASE + 1).read_to_end(&mut raw))
        .with_context(|| format!("cannot read passphrase file {}", path.display()))?;
    let end = raw.iter().position(|&b| b == b'\n' || b == b'\r').unwrap_or(raw.len());
    if end as u64 > crate::limits::MAX_PASSPHRASE {
        anyhow::bail!(
            "passphrase file {}: its first line is longer than {}: not a passphrase file",
            path.display(),
            crate::limits::show(crate::limits::MAX_PASSPHRASE)
        );
    }
    let text = std::str::from_utf8(&raw[..end])
        .map_err(|_| anyhow::anyhow!("passphrase file {} is not UTF-8 text", path.display()))?;
    let line = text.split(['\n', '\r']).next().unwrap_or("");
    nonempty(Zeroizing::new(line.to_string()), &format!("passphrase file {}", path.display()))
}

/// Who made a change, as recorded in the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    /// `user@host`, or `PKI_ACTOR`.
    pub who: String,
    /// CI job identifiers (name, value) present in the environment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ci: Vec<(String, String)>,
    /// A free-text note (`--note`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// CI job identifiers worth recording when present.
const CI_VARS: &[&str] = &[
    "CI_JOB_ID",
    "CI_PIPELINE_ID",
    "CI_PROJECT_PATH",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_REPOSITORY",
    "GITHUB_WORKFLOW",
    "BUILD_ID",
    "BUILD_URL",
    "BUILDKITE_BUILD_ID",
    "CIRCLE_BUILD_NUM",
];

impl Actor {
    /// A named actor with nothing else recorded (a server, a test).
    pub fn named(who: impl Into<String>) -> Actor {
        Actor { who: who.into(), ci: vec![], note: None }
    }

    /// The actor of this process: `PKI_ACTOR`, else `user@host`, with the CI variables present.
    pub fn from_env(note: Option<String>) -> Actor {
        let who = std::env::var("PKI_ACTOR").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| {
            let user = std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(user_from_uid);
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "localhost".into());
            format!("{user}@{host}")
        });
        let ci = CI_VARS
            .iter()
            .filter_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()).map(|v| (k.to_string(), v)))
            .collect();
        Actor { who, ci, note }
    }
}

/// The login name of this process's user, from /etc/passwd (no USER in cron or containers).
fn user_from_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("uid{uid}"))
}
