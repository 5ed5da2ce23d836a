//! Hooks for tests and fixture scripts, compiled in only with the `test-hooks` feature (which
//! `cargo test` turns on through the workspace's dev-dependency; `cargo build --release` never
//! does). Without it `PKI_NOW` and `PKI_CRASH_AT` are ignored, so whoever sets a CI job's
//! environment cannot date certificates or stop pki at a chosen step.

/// Whether this build honours the hooks.
pub const ENABLED: bool = cfg!(feature = "test-hooks");

/// `PKI_NOW`: a fixed clock (RFC 3339), or `None` for the system clock.
pub fn fixed_now() -> Option<String> {
    if !ENABLED {
        return None;
    }
    std::env::var("PKI_NOW").ok()
}

/// `PKI_CRASH_AT=NAME`: abort at the named step of the write protocol (crash tests);
/// `PKI_PAUSE_AT=NAME`: sleep there for `PKI_PAUSE_MS` milliseconds (tests that act on the
/// directory while a change holds the lock).
pub(crate) fn crash_point(name: &str) {
    if !ENABLED {
        return;
    }
    if std::env::var_os("PKI_CRASH_AT").is_some_and(|v| v == name) {
        std::process::abort();
    }
    if std::env::var_os("PKI_PAUSE_AT").is_some_and(|v| v == name) {
        let ms = std::env::var("PKI_PAUSE_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
