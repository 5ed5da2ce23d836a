//! `pki-core`: the library under the `pki` binary and `pki serve`.
//!
//! It owns a file-backed CA directory (storage at the bottom: [`store`]), the objects in it
//! (certificates, keys, profiles and settings: [`certs`], [`keys`], [`policy`], [`settings`],
//! [`ca`]) and the operations over it ([`setup`], [`issuance`], [`revocation`], [`crl`],
//! [`audit`], [`inspect`]). The command line and the server call the same functions, so a
//! policy check or a locked, atomic write exists once.
//!
//! The core prints nothing and never exits the process. It takes the clock, the actor, the
//! passphrase source and the randomness of serial numbers as values ([`Context`]) and returns errors whose root is a
//! [`PkiError`] carrying the facts wherever a caller is expected to act on them.
//!
//! ```no_run
//! use pki_core::{Actor, Context, NoPassphrase, OsRandom, store::CaDir, issuance::{Issuing, Spec, Out}};
//! # fn main() -> anyhow::Result<()> {
//! let dir = CaDir::open("/srv/pki".as_ref())?;
//! let actor = Actor::named("example");
//! let ctx = Context { now: time::OffsetDateTime::now_utc(), actor: &actor, pass: &NoPassphrase, rng: &OsRandom };
//! let spec = Spec { dns: vec!["api.internal".into()], out: Some("-".into()), ..Default::default() };
//! let issued = Issuing::open(&dir)?.issue(&spec, &Out::Stdout, None, std::time::Duration::from_secs(10), &ctx)?;
//! println!("{}", issued.issued.serial);
//! # Ok(()) }
//! ```

#![deny(clippy::print_stdout, clippy::print_stderr, clippy::exit)]
#![deny(missing_docs)]

pub mod acme_eab;
pub mod attest;
pub mod audit;
pub mod bundle;
pub mod ca;
pub mod certs;
pub mod context;
pub mod crl;
mod crl_der;
pub mod duration;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod hooks;
pub mod inspect;
pub mod issuance;
pub mod keys;
pub mod limits;
pub mod ocsp;
pub mod policy;
pub mod revocation;

pub mod serial;
pub mod settings;
pub mod setup;
pub mod spire;
pub mod store;

pub use context::{Actor, Context, FixedPassphrase, NoPassphrase, OsRandom, PassphraseSource, Random, Secret};
pub use error::PkiError;
