//! Opens a CA directory and issues a certificate through the `pki-core` API, as `pki serve`
//! will: no command line, no prompt, the passphrase and the actor handed in as values.
//!
//!   cargo run -p pki-core --example issue -- DIR NAME      # a CA directory made by `pki init`
//!   cargo run -p pki-core --example issue                  # a throw-away directory, made here
//!
//! With DIR, an encrypted CA key is unlocked with the passphrase in the file named by
//! `PKI_PASSPHRASE_FILE`. The certificate and its chain go to stdout (the key is not printed),
//! a summary line to stderr.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use pki_core::issuance::{Issuing, Out, Spec};
use pki_core::keys::KeyType;
use pki_core::setup::{self, IntermediateRequest, RootRequest};
use pki_core::store::CaDir;
use pki_core::{Actor, Context, FixedPassphrase, NoPassphrase, OsRandom, PassphraseSource};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (dir_arg, name) = (args.next(), args.next().unwrap_or_else(|| "api.example.internal".into()));
    let actor = Actor::named("examples/issue.rs");
    let pass: Box<dyn PassphraseSource> = match std::env::var_os("PKI_PASSPHRASE_FILE") {
        Some(f) => Box::new(FixedPassphrase(pki_core::context::read_passphrase_file(f.as_ref())?)),
        None => Box::new(NoPassphrase),
    };
    let ctx = Context {
        now: time::OffsetDateTime::now_utc().replace_nanosecond(0)?,
        actor: &actor,
        pass: &*pass,
        rng: &OsRandom,
    };
    let timeout = Duration::from_secs(10);

    let _scratch;
    let dir = match dir_arg {
        Some(d) => CaDir::open(&PathBuf::from(d))?,
        None => {
            // A throw-away CA directory: a root and an issuing CA, keys unencrypted.
            _scratch = tempfile::tempdir()?;
            let dir = CaDir::open_or_create(&_scratch.path().join("ca"))?;
            let day = Duration::from_secs(86400);
            let root = setup::create_root(
                &dir,
                &RootRequest {
                    name: "root",
                    cn: "Example Root CA",
                    org: Some("Example"),
                    trust_domain: Some("example.internal"),
                    key_type: KeyType::P256,
                    ttl: 3650 * day,
                },
                None,
                timeout,
                &ctx,
            )?;
            let int = IntermediateRequest {
                name: "issuing".into(),
                cn: "Example Issuing CA".into(),
                org: Some("Example".into()),
                key_type: KeyType::P256,
                ttl: 365 * day,
                path_len: 0,
                constraints: Default::default(),
                spire: None,
            };
            setup::create_intermediate(&dir, &root, &int, || Ok(None), timeout, &ctx)?;
            dir
        }
    };

    let spec = Spec { dns: vec![name], ttl: Some("24h".into()), out: Some("-".into()), ..Default::default() };
    let done = Issuing::open(&dir)?.issue(&spec, &Out::Stdout, None, timeout, &ctx)?;
    let issued = done.issued;
    print!("{}{}", issued.cert_pem, issued.chain_pem);
    eprintln!(
        "issued {} [{}] serial {} until {}",
        issued.subject,
        issued.sans.join(", "),
        issued.serial,
        issued.not_after
    );
    let head = dir.ledger_head()?.expect("the issue was committed");
    eprintln!("ledger head: record {} ({})", head.seq, &head.hash[..16]);
    Ok(())
}
