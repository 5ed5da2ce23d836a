//! Tests of `pki-core`'s public API, as a server or another tool uses it: no binary, no
//! prompt; the clock, actor and passphrase source passed in. Each test names the behaviour it
//! pins down and asserts the exact error (variant and facts) where there is one.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Barrier;
use std::time::Duration;

use anyhow::Result;
use pki_core::audit::{self, Severity};
use pki_core::crl;
use pki_core::inspect::{self, Object};
use pki_core::issuance::{BatchLine, BatchSink, BatchTally, Files, Issued, Issuing, Out, Renewal, Spec};
use pki_core::keys::KeyType;
use pki_core::revocation::{self, RevokeRequest};
use pki_core::serial::Serial;
use pki_core::setup::{self, IntermediateRequest, RootRequest};
use pki_core::store::{CaDir, Locked, Status};
use pki_core::{Actor, Context, FixedPassphrase, NoPassphrase, OsRandom, PassphraseSource, PkiError, Random, Secret};
use time::OffsetDateTime;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-12-01 00:00:00 UTC);
const DAY: Duration = Duration::from_secs(86400);
const WAIT: Duration = Duration::from_secs(10);
/// Ledger records of [`new_ca`]: settings-written, ca-created (root), ca-created,
/// settings-written, crl-published (the intermediate's first CRL).
const SETUP_RECORDS: u64 = 5;

fn actor() -> Actor {
    Actor::named("api-test")
}

fn ctx<'a>(now: OffsetDateTime, actor: &'a Actor, pass: &'a dyn PassphraseSource) -> Context<'a> {
    Context { now, actor, pass, rng: &OsRandom }
}

fn pki_error(e: &anyhow::Error) -> &PkiError {
    e.downcast_ref::<PkiError>().unwrap_or_else(|| panic!("not a PkiError: {e:#}"))
}

/// A CA directory with a root and an issuing intermediate, keys encrypted with `pass` if any.
fn new_ca(path: &Path, pass: Option<&str>) -> CaDir {
    let a = actor();
    let secret = pass.map(|p| Secret::new(p.to_string()));
    let source = FixedPassphrase(secret.clone().unwrap_or_default());
    let c = ctx(T0, &a, &source);
    let dir = CaDir::open_or_create(path).unwrap();
    let root = setup::create_root(
        &dir,
        &RootRequest {
            name: "root",
            cn: "Test Root CA",
            org: Some("Test"),
            trust_domain: Some("test.internal"),
            key_type: KeyType::P256,
            ttl: 3650 * DAY,
        },
        secret.as_ref(),
        WAIT,
        &c,
    )
    .unwrap();
    let req = intermediate("issuing", 365 * DAY);
    setup::create_intermediate(&dir, &root, &req, || Ok(secret.clone()), WAIT, &c).unwrap();
    dir
}

fn intermediate(name: &str, ttl: Duration) -> IntermediateRequest {
    IntermediateRequest {
        name: name.into(),
        cn: format!("Test {name} CA"),
        org: Some("Test".into()),
        key_type: KeyType::P256,
        ttl,
        path_len: 0,
        constraints: Default::default(),
        spire: None,
    }
}

fn spec(dns: &str) -> Spec {
    Spec { dns: vec![dns.into()], ttl: Some("24h".into()), out: Some("-".into()), ..Default::default() }
}

fn issue_at(dir: &CaDir, s: &Spec, now: OffsetDateTime) -> Result<Issued> {
    let a = actor();
    Ok(Issuing::open(dir)?.issue(s, &Out::Stdout, None, WAIT, &ctx(now, &a, &NoPassphrase))?.issued)
}

fn issue(dir: &CaDir, dns: &str) -> Issued {
    issue_at(dir, &spec(dns), T0).unwrap()
}

fn head(dir: &CaDir) -> u64 {
    dir.ledger_head().unwrap().map_or(0, |h| h.seq)
}

fn inventory_serials(dir: &CaDir) -> Vec<String> {
    let mut v = vec![];
    dir.for_each_inventory(|r| {
        v.push(r.serial);
        Ok(())
    })
    .unwrap();
    v
}

#[test]
fn opening_a_missing_directory_is_no_ca_dir() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("nope");
    let e = CaDir::open(&p).err().unwrap();
    assert_eq!(pki_error(&e), &PkiError::NoCaDir { dir: p });
}

#[test]
fn opening_a_directory_without_settings_is_not_a_ca_dir() {
    let t = tempfile::tempdir().unwrap();
    let e = CaDir::open(t.path()).err().unwrap();
    assert_eq!(pki_error(&e), &PkiError::NotACaDir { dir: t.path().to_path_buf() });
}

#[test]
fn a_new_root_and_intermediate_load_back_with_their_facts() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    assert_eq!(dir.ca_names().unwrap(), vec!["issuing".to_string(), "root".to_string()]);
    let root = pki_core::ca::Ca::load(&dir, "root").unwrap();
    let int = pki_core::ca::Ca::load(&dir, "issuing").unwrap();
    assert!(root.self_signed && !int.self_signed);
    assert_eq!(int.issuer_raw, root.subject_raw);
    assert_eq!(int.not_before, T0);
    assert_eq!(int.not_after, T0 + time::Duration::days(365));
    // The settings pki wrote, two ca-created records, the settings naming the intermediate:
    // chained from the genesis hash, the last one carrying the hash of pki.toml.
    let check = dir.verify_ledger().unwrap();
    assert!(check.intact);
    assert_eq!(check.records, SETUP_RECORDS);
    assert_eq!(dir.settings_on_record().unwrap(), Some(true));
}

#[test]
fn an_intermediate_may_not_outlive_its_parent() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let root = pki_core::ca::Ca::load(&dir, "root").unwrap();
    let a = actor();
    let e = setup::create_intermediate(
        &dir,
        &root,
        &intermediate("long", 4000 * DAY),
        || Ok(None),
        WAIT,
        &ctx(T0, &a, &NoPassphrase),
    )
    .err()
    .unwrap();
    assert_eq!(
        pki_error(&e),
        &PkiError::OutlivesIssuer {
            what: "intermediate CA 'long'".into(),
            not_after: "2037-11-13T00:00:00Z".into(),
            issuer: "root".into(),
            issuer_not_after: "2036-11-28T00:00:00Z".into(),
        }
    );
    assert!(!dir.ca_exists("long"));
}

#[test]
fn an_existing_ca_name_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let root = pki_core::ca::Ca::load(&dir, "root").unwrap();
    let a = actor();
    let before = head(&dir);
    let e = setup::create_intermediate(
        &dir,
        &root,
        &intermediate("issuing", DAY),
        || Ok(None),
        WAIT,
        &ctx(T0, &a, &NoPassphrase),
    )
    .err()
    .unwrap();
    assert_eq!(pki_error(&e), &PkiError::CaExists { name: "issuing".into(), dir: dir.root.clone() });
    assert_eq!(head(&dir), before);
}

#[test]
fn issuing_commits_the_certificate_the_inventory_line_and_one_ledger_record() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let before = head(&dir);
    let i = issue(&dir, "api.test.internal");
    assert_eq!(head(&dir), before + 1);
    let rec = dir.find_inventory(&i.serial).unwrap().expect("in the inventory");
    assert_eq!(rec.status, Status::Valid);
    assert_eq!(rec.sans, vec!["DNS:api.test.internal".to_string()]);
    assert_eq!(rec.not_after, "2026-12-02T00:00:00Z");
    let serial = Serial::parse(&i.serial).unwrap();
    let stored = dir.read_cert_der(&serial).unwrap().expect("stored certificate");
    assert_eq!(pki_core::store::sha256_hex(&stored), i.sha256);
    assert!(i.key_pem.is_some(), "a generated key is handed out");
    assert!(dir.verify_ledger().unwrap().intact);
}

#[test]
fn a_request_without_names_is_no_san_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let before = (head(&dir), inventory_serials(&dir));
    let s = Spec { out: Some("-".into()), ..Default::default() };
    let e = issue_at(&dir, &s, T0).err().unwrap();
    assert_eq!(pki_error(&e), &PkiError::NoSan);
    assert_eq!((head(&dir), inventory_serials(&dir)), before);
}

#[test]
fn a_malformed_dns_name_is_bad_name_with_the_flag_and_value() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let e = issue_at(&dir, &spec("bad_name..internal"), T0).err().unwrap();
    match pki_error(&e) {
        PkiError::BadName { kind, value, .. } => {
            assert_eq!((*kind, value.as_str()), ("--dns name", "bad_name..internal"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(head(&dir), SETUP_RECORDS);
}

#[test]
fn a_lifetime_past_the_issuer_is_outlives_issuer_unless_clipped() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let mut s = spec("long.test.internal");
    s.ttl = Some("400d".into());
    let e = issue_at(&dir, &s, T0).err().unwrap();
    assert!(matches!(pki_error(&e), PkiError::OutlivesIssuer { issuer, .. } if issuer == "issuing"), "{e:#}");
    s.clip_ttl = true;
    let i = issue_at(&dir, &s, T0).unwrap();
    assert_eq!(i.not_after, "2027-12-01T00:00:00Z");
}

#[test]
fn issuing_into_a_directory_writes_five_files_and_the_key_0600() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let out = Out::Dir(t.path().join("out"));
    let a = actor();
    let r = Issuing::open(&dir)
        .unwrap()
        .issue(&spec("files.test.internal"), &out, None, WAIT, &ctx(T0, &a, &NoPassphrase))
        .unwrap();
    let files: &Files = r.files.as_ref().unwrap();
    let key = files.key.as_ref().unwrap();
    assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600);
    let fullchain = std::fs::read_to_string(&files.fullchain).unwrap();
    assert_eq!(fullchain, format!("{}{}", r.issued.cert_pem, r.issued.chain_pem));
    assert_eq!(std::fs::read_to_string(&files.root).unwrap(), r.issued.root_pem);
}

#[test]
fn existing_output_files_are_refused_before_anything_is_signed() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let outdir = t.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    std::fs::write(outdir.join("cert.pem"), "mine").unwrap();
    let a = actor();
    let e = Issuing::open(&dir)
        .unwrap()
        .issue(&spec("x.test.internal"), &Out::Dir(outdir.clone()), None, WAIT, &ctx(T0, &a, &NoPassphrase))
        .err()
        .unwrap();
    assert_eq!(pki_error(&e), &PkiError::OutputExists { path: outdir.join("cert.pem") });
    assert_eq!(std::fs::read_to_string(outdir.join("cert.pem")).unwrap(), "mine");
    assert_eq!(head(&dir), SETUP_RECORDS);
}

#[test]
fn an_encrypted_ca_key_needs_the_right_passphrase() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), Some("correct horse"));
    let a = actor();
    let key_path = dir.ca_key_path("issuing");
    let none = Issuing::open(&dir).unwrap().issue(
        &spec("e.test.internal"),
        &Out::Stdout,
        None,
        WAIT,
        &ctx(T0, &a, &NoPassphrase),
    );
    assert_eq!(
        pki_error(&none.err().unwrap()),
        &PkiError::NoPassphrase { what: format!("CA 'issuing' ({})", key_path.display()) }
    );
    let wrong = FixedPassphrase(Secret::new("battery staple".into()));
    let e =
        Issuing::open(&dir).unwrap().issue(&spec("e.test.internal"), &Out::Stdout, None, WAIT, &ctx(T0, &a, &wrong));
    assert_eq!(pki_error(&e.err().unwrap()), &PkiError::WrongPassphrase { key: key_path });
    assert_eq!(head(&dir), SETUP_RECORDS, "refused issues commit nothing");
    let right = FixedPassphrase(Secret::new("correct horse".into()));
    Issuing::open(&dir)
        .unwrap()
        .issue(&spec("e.test.internal"), &Out::Stdout, None, WAIT, &ctx(T0, &a, &right))
        .unwrap();
    assert_eq!(head(&dir), SETUP_RECORDS + 1);
}

fn revoke(dir: &CaDir, serial: &str, reason: &'static str, now: OffsetDateTime) -> Result<revocation::Revoked> {
    let a = actor();
    let req =
        RevokeRequest { serial: Serial::parse(serial)?, reason, invalidity_date: None, ca: None, publish_crl: true };
    revocation::revoke(dir, &req, WAIT, &ctx(now, &a, &NoPassphrase))
}

#[test]
fn revoking_records_the_revocation_and_publishes_a_crl_listing_it() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let i = issue(&dir, "r.test.internal");
    let done = revoke(&dir, &i.serial, "keyCompromise", T0 + time::Duration::hours(1)).unwrap();
    assert_eq!(done.revocation.revoked_at, "2026-12-01T01:00:00Z");
    let summary = done.crl.expect("a CRL was published");
    // Number 2: create_intermediate published number 1.
    assert_eq!((summary.ca.as_str(), summary.number, summary.entries), ("issuing", 2, 1));
    assert_eq!(dir.find_inventory(&i.serial).unwrap().unwrap().status, Status::Revoked);
    let crl_der = dir.current_crl_der("issuing").unwrap().unwrap();
    match &inspect::inspect(&crl_der, "crl", T0).unwrap()[0] {
        Object::Crl(c) => {
            assert_eq!(c.revoked.iter().map(|r| r.serial.as_str()).collect::<Vec<_>>(), [i.serial.as_str()])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn revoking_twice_is_already_revoked_unless_the_reason_becomes_key_compromise() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let i = issue(&dir, "r2.test.internal");
    revoke(&dir, &i.serial, "superseded", T0 + time::Duration::hours(1)).unwrap();
    let e = revoke(&dir, &i.serial, "cessationOfOperation", T0 + time::Duration::hours(2)).err().unwrap();
    assert_eq!(
        pki_error(&e),
        &PkiError::AlreadyRevoked {
            serial: i.serial.clone(),
            reason: "superseded".into(),
            at: "2026-12-01T01:00:00Z".into()
        }
    );
    // Escalation keeps the first revocation time.
    let up = revoke(&dir, &i.serial, "keyCompromise", T0 + time::Duration::hours(3)).unwrap();
    assert_eq!(up.revocation.revoked_at, "2026-12-01T01:00:00Z");
    assert_eq!(up.revocation.reason, "keyCompromise");
}

#[test]
fn revoking_an_unknown_serial_is_unknown_serial() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let e = revoke(&dir, "0ABC", "unspecified", T0).err().unwrap();
    assert_eq!(pki_error(&e), &PkiError::UnknownSerial { serial: "0ABC".into() });
}

#[test]
fn revoking_an_expired_certificate_is_cert_expired() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let i = issue(&dir, "old.test.internal");
    let e = revoke(&dir, &i.serial, "unspecified", T0 + time::Duration::days(2)).err().unwrap();
    assert_eq!(
        pki_error(&e),
        &PkiError::CertExpired { serial: i.serial.clone(), not_after: "2026-12-02T00:00:00Z".into() }
    );
}

#[test]
fn renewing_supersedes_the_old_certificate_and_keeps_its_key_and_names() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let old = issue(&dir, "renew.test.internal");
    let a = actor();
    let r = Renewal {
        serial: Some(Serial::parse(&old.serial).unwrap()),
        out: Some("-".into()),
        reuse_key: true,
        ..Default::default()
    };
    let (done, _) = Issuing::open(&dir)
        .unwrap()
        .renew(&r, None, WAIT, &ctx(T0 + time::Duration::hours(12), &a, &NoPassphrase))
        .unwrap();
    let new = done.issued;
    assert_eq!(new.renews.as_deref(), Some(old.serial.as_str()));
    assert_eq!(new.sans, old.sans);
    assert!(new.key_pem.is_none(), "the holder keeps its key");
    let old_rec = dir.find_inventory(&old.serial).unwrap().unwrap();
    assert_eq!((old_rec.status, old_rec.replaced_by.as_deref()), (Status::Superseded, Some(new.serial.as_str())));
    let spki = |pem: &str| {
        use x509_parser::prelude::*;
        let der = ::pem::parse(pem).unwrap().into_contents();
        X509Certificate::from_der(&der).unwrap().1.public_key().raw.to_vec()
    };
    assert_eq!(spki(&old.cert_pem), spki(&new.cert_pem), "same public key");
    assert_ne!(old.sha256, new.sha256);
    // Renewing it again is refused: it has a successor.
    let again = Issuing::open(&dir).unwrap().renew(&r, None, WAIT, &ctx(T0, &a, &NoPassphrase)).err().unwrap();
    assert!(format!("{again:#}").contains(&format!("already renewed by {}", new.serial)), "{again:#}");
}

#[test]
fn a_held_lock_excludes_another_thread_of_the_same_process() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let held: Locked<'_> = dir.lock(WAIT).unwrap();
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let other = s.spawn(|| {
            barrier.wait();
            dir.lock(Duration::from_millis(300)).map(drop)
        });
        barrier.wait();
        let e = other.join().unwrap().err().unwrap();
        assert_eq!(pki_error(&e), &PkiError::LockTimeout { dir: dir.root.clone(), waited_secs: 0 });
    });
    drop(held);
    dir.lock(Duration::from_millis(300)).expect("free again once released");
}

#[test]
fn two_threads_issuing_at_once_get_distinct_serials_and_an_intact_ledger() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    const EACH: usize = 20;
    let serials: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let dir = &dir;
                s.spawn(move || {
                    (0..EACH).map(|k| issue(dir, &format!("t{w}-{k}.test.internal")).serial).collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(serials.iter().collect::<HashSet<_>>().len(), 2 * EACH);
    let check = dir.verify_ledger().unwrap();
    assert!(check.intact, "{:?}", check.problem);
    assert_eq!(check.records, SETUP_RECORDS + 2 * EACH as u64);
    let mut inv = inventory_serials(&dir);
    let mut want = serials.clone();
    inv.sort();
    want.sort();
    assert_eq!(inv, want);
}

#[test]
fn a_reader_follows_commits_through_the_ledger_head_without_the_lock() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let seen = dir.ledger_head().unwrap().unwrap();
    assert!(!dir.changed_since(seen.seq).unwrap());
    // Another handle (as another process would) commits; the reader's handle sees it.
    let writer = CaDir::open(&dir.root).unwrap();
    let i = issue(&writer, "follow.test.internal");
    assert!(dir.changed_since(seen.seq).unwrap());
    let now = dir.ledger_head().unwrap().unwrap();
    assert_eq!(now.seq, seen.seq + 1);
    let (rec, hash) = dir.last_ledger_record().unwrap().unwrap();
    assert_eq!(
        (rec.event.as_str(), rec.data["serial"].as_str(), hash),
        ("cert-issued", Some(i.serial.as_str()), now.hash)
    );
    assert_eq!(rec.prev, seen.hash, "the chain links the new record to the head the reader saw");
    assert_eq!((seen.seq, now.seq), (SETUP_RECORDS, rec.seq), "the set-up records, then the issue");
}

#[derive(Default)]
struct Collect {
    events: Vec<(usize, Result<String, String>)>,
    flushes: usize,
}

impl BatchSink for Collect {
    fn issued(&mut self, line: usize, issued: &Issued, _: Option<&Files>, _: &Out) -> Result<()> {
        self.events.push((line, Ok(issued.serial.clone())));
        Ok(())
    }
    fn refused(&mut self, line: usize, error: &anyhow::Error) -> Result<()> {
        self.events.push((line, Err(format!("{error:#}"))));
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

#[test]
fn a_batch_reports_in_input_order_and_a_refusal_does_not_stop_it() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let lines: Vec<Result<BatchLine>> = vec![
        Ok((1, Ok(spec("b1.test.internal")))),
        Ok((2, Ok(Spec { out: Some("-".into()), ..Default::default() }))),
        Ok((4, Err(anyhow::anyhow!("not a valid request: oops")))),
        Ok((5, Ok(spec("b5.test.internal")))),
    ];
    let a = actor();
    let mut sink = Collect::default();
    let tally = Issuing::open(&dir)
        .unwrap()
        .issue_batch(lines.into_iter(), None, WAIT, &ctx(T0, &a, &NoPassphrase), &mut sink)
        .unwrap();
    assert_eq!(tally, BatchTally { issued: 2, refused: 2 });
    assert_eq!(sink.events.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 4, 5]);
    assert!(matches!(&sink.events[1].1, Err(m) if m.starts_with("a certificate needs at least one name")));
    assert_eq!(sink.events[2].1, Err("not a valid request: oops".to_string()));
    let issued: Vec<String> = sink.events.iter().filter_map(|e| e.1.clone().ok()).collect();
    assert_eq!(inventory_serials(&dir), issued, "inventory order is input order");
    assert!(sink.flushes >= 1);
    assert!(dir.verify_ledger().unwrap().intact);
}

#[test]
fn audit_reports_a_certificate_expiring_within_the_window() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let mut s = spec("soon.test.internal");
    s.ttl = Some("72h".into());
    let i = issue_at(&dir, &s, T0).unwrap();
    let opts = audit::Options { window: 2 * DAY, ca: None, deep: true, include_short_lived: true, ledger_head: None };
    let quiet = audit::run(&dir, T0, &opts, &mut |_, _, _| {}).unwrap();
    assert!(!quiet.findings.iter().any(|f| f.code == "cert-expiring"), "{:?}", quiet.findings);
    let later = audit::run(&dir, T0 + time::Duration::days(2), &opts, &mut |_, _, _| {}).unwrap();
    let f = later.findings.iter().find(|f| f.code == "cert-expiring").expect("an expiring finding");
    assert_eq!(f.id, i.serial);
    assert_eq!(f.seconds_left, Some(86400));
    assert!(f.severity >= Severity::Warning);
}

#[test]
fn crl_freshness_says_when_a_crl_is_behind_a_revocation() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let i = issue(&dir, "f.test.internal");
    let a = actor();
    let req = RevokeRequest {
        serial: Serial::parse(&i.serial).unwrap(),
        reason: "unspecified",
        invalidity_date: None,
        ca: None,
        publish_crl: false,
    };
    let done = revocation::revoke(&dir, &req, WAIT, &ctx(T0, &a, &NoPassphrase)).unwrap();
    assert!(done.crl.is_none());
    // No CRL yet: regenerate.
    assert_eq!(crl::fresh_age(&dir, "issuing", T0, DAY).unwrap(), None);
    revoke(&dir, &issue(&dir, "g.test.internal").serial, "unspecified", T0).unwrap();
    assert_eq!(crl::fresh_age(&dir, "issuing", T0 + time::Duration::hours(1), DAY).unwrap(), Some(3600));
}

#[test]
fn handles_a_server_shares_between_threads_are_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<CaDir>();
    shareable::<Issuing<'static>>();
    shareable::<Locked<'static>>();
    shareable::<Context<'static>>();
    shareable::<pki_core::ca::Ca>();
    shareable::<std::sync::Arc<rcgen::Issuer<'static, rcgen::KeyPair>>>();
}

#[test]
fn bad_serials_and_durations_carry_the_value_given() {
    assert_eq!(Serial::parse("xyz").unwrap_err(), PkiError::BadSerial { value: "xyz".into() });
    assert_eq!(
        pki_core::duration::parse("--ttl", "5 fortnights").unwrap_err(),
        PkiError::BadDuration { flag: "--ttl".into(), value: "5 fortnights".into() }
    );
}

#[test]
fn inspection_is_data_matching_what_was_issued() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let i = issue(&dir, "inspect.test.internal");
    let objects = inspect::inspect(format!("{}{}", i.cert_pem, i.chain_pem).as_bytes(), "chain", T0).unwrap();
    assert_eq!(objects.len(), 2);
    match &objects[0] {
        Object::Certificate(c) => {
            assert_eq!(
                (c.serial.as_str(), c.not_after.as_str(), c.is_ca),
                (i.serial.as_str(), "2026-12-02T00:00:00Z", false)
            );
            assert_eq!(c.seconds_left, 86400);
        }
        other => panic!("{other:?}"),
    }
    let e = inspect::inspect(b"hello", "junk", T0).err().unwrap();
    assert_eq!(pki_error(&e), &PkiError::Unrecognized { what: "junk".into() });
}

/// Serial numbers come from the context's randomness: a counting source gives predictable
/// serials (the first byte kept in 0x01..=0x7f), and a serial already used is drawn again.
struct Counting(std::sync::atomic::AtomicU8);

impl Random for Counting {
    fn fill(&self, buf: &mut [u8]) -> Result<()> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        buf.fill(n);
        Ok(())
    }
}

#[test]
fn serials_come_from_the_contexts_randomness() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let a = actor();
    let rng = Counting(std::sync::atomic::AtomicU8::new(0x81));
    let c = Context { now: T0, actor: &a, pass: &NoPassphrase, rng: &rng };
    let one = Issuing::open(&dir).unwrap().issue(&spec("r1.test.internal"), &Out::Stdout, None, WAIT, &c).unwrap();
    assert_eq!(one.issued.serial, format!("01{}", "81".repeat(15)));
    // Reset the source: the same serial comes up, is found taken, and the next one is used.
    rng.0.store(0x81, std::sync::atomic::Ordering::Relaxed);
    let two = Issuing::open(&dir).unwrap().issue(&spec("r2.test.internal"), &Out::Stdout, None, WAIT, &c).unwrap();
    assert_eq!(two.issued.serial, format!("02{}", "82".repeat(15)));
}

/// A ledger above 8 MiB is checked on every core (store/chain.rs): the same answers as one
/// thread gives (records, head, the hash of a record asked for, the events in order), and a
/// break anywhere, in either half, is found and named.
#[test]
fn a_large_ledger_is_checked_in_parallel_with_the_same_answers() {
    let t = tempfile::tempdir().unwrap();
    let dir = new_ca(&t.path().join("ca"), None);
    let p = t.path().join("ca/ledger.jsonl");
    let mut text = std::fs::read_to_string(&p).unwrap();
    let hash = |l: &str| pki_core::store::sha256_hex(l.as_bytes());
    let mut prev = hash(text.lines().last().unwrap());
    let mut seq = text.lines().count() as u64;
    let mut lines_at = vec![];
    while text.len() < 9 << 20 {
        seq += 1;
        let event = if seq.is_multiple_of(1000) { "crl-generated" } else { "cert-issued" };
        let line = format!(
            "{{\"seq\":{seq},\"time\":\"2026-12-01T00:00:00Z\",\"event\":\"{event}\",\"actor\":\"t\",\"data\":{{\"serial\":\"{:032X}\",\"pad\":\"{}\"}},\"prev\":\"{prev}\"}}",
            seq,
            "x".repeat(300)
        );
        prev = hash(&line);
        lines_at.push(line.clone());
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&p, &text).unwrap();
    let want = seq / 2;
    let mut seen = vec![];
    let check = dir
        .verify_ledger_with(Some(want), &["crl-generated"], |s, e, _| {
            seen.push((s, e.to_string()));
            Ok(())
        })
        .unwrap();
    assert!(check.intact, "{:?}", check.problem);
    assert_eq!(check.records, seq);
    assert_eq!(check.head, prev);
    let line_of = |s: u64| text.lines().nth(s as usize - 1).unwrap().to_string();
    assert_eq!(check.hash_at.as_deref(), Some(hash(&line_of(want)).as_str()));
    let crls: Vec<u64> = (1..=seq).filter(|s| line_of(*s).contains("\"event\":\"crl-generated\"")).collect();
    assert_eq!(seen.iter().map(|(s, _)| *s).collect::<Vec<_>>(), crls);
    // The unsigned key-using records after the last signed one (setup's) are reported.
    assert!(check.last_signed.is_some() && !check.unsigned_after.is_empty());

    for at in [seq / 4, seq / 2, seq / 2 + 1, 3 * seq / 4, seq - 1] {
        let edited = text.replacen(&line_of(at), &line_of(at).replace("\"actor\":\"t\"", "\"actor\":\"u\""), 1);
        std::fs::write(&p, &edited).unwrap();
        let c = dir.verify_ledger().unwrap();
        assert_eq!((c.intact, c.seq), (false, Some(at)), "edit of record {at}: {:?}", c.problem);
        assert!(c.problem.as_deref().unwrap().contains("was changed after it was written"), "{:?}", c.problem);
        let removed = text.replacen(&format!("{}\n", line_of(at)), "", 1);
        std::fs::write(&p, &removed).unwrap();
        let c = dir.verify_ledger().unwrap();
        assert_eq!((c.intact, c.seq), (false, Some(at)), "removal of record {at}: {:?}", c.problem);
    }
}
