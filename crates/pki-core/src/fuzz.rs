//! Property-based fuzzing of every parser that user input reaches: never a panic, and every
//! refusal is one line. Inputs are random bytes and text, and valid samples (a certificate, a
//! CSR, a CRL, keys, settings, inventory and revoked-list lines) with random byte edits and
//! truncations, which reach far deeper into the parsers than noise does.
//!
//! cargo-fuzz needs a nightly compiler, which this project's machines do not have; proptest runs
//! on stable, in `cargo test`. Cases per property: `PROPTEST_CASES` (256 by default; `.ci/run`
//! sets 20000). Longer runs: `PROPTEST_CASES=200000 cargo test --release fuzz`.

use proptest::prelude::*;
use std::sync::OnceLock;
use time::OffsetDateTime;

use crate::certs::{check_dns_name, check_uri, parse_cidr};
use crate::policy::check_spiffe_id;
use crate::serial::Serial;
use crate::settings::Settings;
use crate::store::{InventoryRecord, InventoryView, Revocation};

struct Samples {
    cert_der: Vec<u8>,
    csr_der: Vec<u8>,
    crl_der: Vec<u8>,
    key_der: Vec<u8>,
    pem: String,
    settings: String,
    inventory_line: String,
    revoked_line: String,
}

fn samples() -> &'static Samples {
    static S: OnceLock<Samples> = OnceLock::new();
    S.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["api.acme.internal".to_string()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        let issuer = rcgen::Issuer::new(params, &key);
        let csr_params = rcgen::CertificateParams::new(vec!["csr.acme.internal".to_string()]).unwrap();
        let csr = csr_params.serialize_request(&key).unwrap();
        let crl = rcgen::CertificateRevocationListParams {
            this_update: OffsetDateTime::UNIX_EPOCH,
            next_update: OffsetDateTime::UNIX_EPOCH + time::Duration::days(7),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from(42u64),
                revocation_time: OffsetDateTime::UNIX_EPOCH,
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&issuer)
        .unwrap();
        let rec = InventoryRecord {
            serial: "4A0BFF00112233445566778899AABBCC".into(),
            status: crate::store::Status::Valid,
            not_before: "2026-01-01T00:00:00Z".into(),
            not_after: "2026-01-02T00:00:00Z".into(),
            revoked_at: None,
            reason: None,
            replaced_by: None,
            ca: "issuing".into(),
            profile: Some("server".into()),
            key_type: "p256".into(),
            subject: "CN=a".into(),
            sans: vec!["DNS:a.acme.internal".into(), "IP:10.0.0.1".into()],
        };
        Samples {
            cert_der: cert.der().to_vec(),
            csr_der: csr.der().to_vec(),
            crl_der: crl.der().to_vec(),
            key_der: key.serialize_der(),
            pem: format!("{}{}{}", cert.pem(), csr.pem().unwrap(), crl.pem().unwrap()),
            settings: format!(
                "{}{}",
                crate::settings::initial_text("root", Some("Acme"), Some("acme.internal")),
                crate::settings::default_profiles("acme.internal", "issuing")
            ),
            inventory_line: rec.to_line(),
            revoked_line: "4A0BFF00112233445566778899AABBCC\tissuing\t2026-01-01T00:00:00Z\tkeyCompromise\t-\t2027-01-01T00:00:00Z\tleaf".into(),
        }
    })
}

/// A valid sample with up to 8 bytes overwritten, and perhaps cut short.
fn mutated(base: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8), any::<Option<prop::sample::Index>>())
        .prop_map(move |(edits, cut)| {
            let mut b = base.to_vec();
            for (i, v) in edits {
                let i = i.index(b.len());
                b[i] = v;
            }
            if let Some(c) = cut {
                b.truncate(c.index(b.len() + 1));
            }
            b
        })
}

fn mutated_text(base: &'static str) -> impl Strategy<Value = String> {
    mutated(base.as_bytes()).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn one_line<T>(r: anyhow::Result<T>) {
    if let Err(e) = r {
        let msg = format!("{e:#}");
        assert!(!msg.contains('\n'), "a message over several lines: {msg}");
    }
}

fn inspect_all(bytes: &[u8]) {
    let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20000);
    if let Ok(objects) = crate::inspect::inspect(bytes, "fuzz", now) {
        // The text rendering is the binary's (src/cmd/inspect.rs), fuzzed there.
        serde_json::to_string(&objects).unwrap();
    } else {
        one_line(crate::inspect::inspect(bytes, "fuzz", now));
    }
}

fn pem_wrap(tag: &str, der: &[u8]) -> Vec<u8> {
    ::pem::encode(&::pem::Pem::new(tag, der.to_vec())).into_bytes()
}

proptest! {
    #[test]
    fn inspect_random_bytes(b in prop::collection::vec(any::<u8>(), 0..512)) {
        inspect_all(&b);
    }

    #[test]
    fn inspect_mutated_certificate(b in mutated(&samples().cert_der)) {
        inspect_all(&b);
        inspect_all(&pem_wrap("CERTIFICATE", &b));
    }

    #[test]
    fn inspect_mutated_csr(b in mutated(&samples().csr_der)) {
        inspect_all(&b);
        inspect_all(&pem_wrap("CERTIFICATE REQUEST", &b));
    }

    #[test]
    fn inspect_mutated_crl(b in mutated(&samples().crl_der)) {
        inspect_all(&b);
        inspect_all(&pem_wrap("X509 CRL", &b));
    }

    #[test]
    fn inspect_mutated_keys(b in mutated(&samples().key_der), tag in prop::sample::select(vec!["PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "PUBLIC KEY"])) {
        inspect_all(&b);
        inspect_all(&pem_wrap(tag, &b));
    }

    #[test]
    fn inspect_mutated_pem_text(b in mutated(samples().pem.as_bytes())) {
        inspect_all(&b);
    }

    #[test]
    fn csr_checks(b in mutated(&samples().csr_der)) {
        one_line(crate::issuance::parse_csr(&b, "fuzz.csr"));
        one_line(crate::issuance::parse_csr(&pem_wrap("CERTIFICATE REQUEST", &b), "fuzz.csr"));
    }

    #[test]
    fn settings_and_profiles(t in mutated_text(&samples().settings)) {
        if let Ok(s) = Settings::parse(&t, "pki.toml") {
            for name in s.profiles.keys() {
                one_line(s.profile(name, "pki.toml"));
            }
        } else {
            one_line(Settings::parse(&t, "pki.toml"));
        }
    }

    #[test]
    fn settings_random_text(t in "[\\[\\]a-z_.=\" \n0-9\\*/:,-]{0,200}") {
        one_line(Settings::parse(&t, "pki.toml"));
    }

    #[test]
    fn inventory_and_revoked_lines(a in mutated_text(&samples().inventory_line), b in mutated_text(&samples().revoked_line)) {
        let _ = InventoryView::parse(&a);
        one_line(InventoryRecord::parse(&a));
        one_line(Revocation::parse(&b));
        let text = format!("{b}\n{}\n", samples().revoked_line);
        one_line(crate::crl::entries(&text, "2026-06-01T00:00:00Z"));
    }

    #[test]
    fn serials_durations_names(s in "\\PC{0,70}") {
        let _ = Serial::parse(&s);
        let _ = crate::duration::parse("--ttl", &s);
        let _ = check_dns_name(&s, true);
        let _ = check_uri(&s);
        let _ = check_spiffe_id(&s, false);
        let _ = parse_cidr("--permit-ip", &s);
        let _ = crate::crl::parse_reason(&s);
        let _ = crate::certs::parse_rfc3339(&s);
    }

    /// URI normalisation is idempotent, and what it accepts is one form: no query, fragment or
    /// percent-encoding, no user info in a hierarchical URI, and a lower-case scheme.
    #[test]
    fn uri_normalisation_is_idempotent(
        s in "(https?|HTTPS|spiffe|urn|SpIfFe)(://|:)[A-Za-z0-9.@:%?#/\\[\\]_-]{0,40}"
    ) {
        if let Ok(c) = crate::certs::canonical_uri(&s) {
            prop_assert_eq!(crate::certs::canonical_uri(&c), Ok(c.clone()));
            prop_assert!(!c.contains(['?', '#', '%']), "{}", c);
            prop_assert!(!c.contains("://") || !c.contains('@'), "user info: {}", c);
            let scheme = c.split(':').next().unwrap_or_default();
            prop_assert_eq!(scheme, scheme.to_ascii_lowercase());
        }
    }

    /// No accepted URI escapes the policy it passed by its spelling: whenever the canonical form
    /// matches `https://*.acme.internal/**`, the host a URI parser reads (RFC 3986: between
    /// `//` and the first of `/ ? #`, after any `@`, before a port) is under acme.internal and
    /// the scheme is https. Checked to fail when the host check and the `?`/`#` refusals of
    /// `canonical_uri` are taken out.
    #[test]
    fn no_accepted_uri_escapes_its_pattern(
        s in "(https|HTTPS|http)://[a-z.]{1,8}[?#@:%/\\\\]?[a-z.]{0,8}\\.(acme\\.internal|ACME\\.internal\\.|evil\\.com)[/?#@:%]?[a-z0-9./]{0,8}"
    ) {
        if let Ok(c) = crate::certs::canonical_uri(&s)
            && crate::policy::glob_match("https://*.acme.internal/**", &c, b'/')
        {
            // An independent reading of the original string, as RFC 3986 does.
            let (scheme, rest) = s.split_once("://").expect("the strategy writes ://");
            let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..auth_end];
            let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let host = host_port.split(':').next().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
            prop_assert_eq!(scheme.to_ascii_lowercase(), "https");
            // (`*` is one path segment in URI patterns: it may span DNS labels.)
            let sub = host.strip_suffix(".acme.internal");
            prop_assert!(sub.is_some_and(|l| !l.is_empty() && !l.split('.').any(str::is_empty)), "{} -> {} (host {})", s, c, host);
        }
    }

    /// The same for DNS names against `*.acme.internal`: what the canonical form matches is,
    /// read case-insensitively without its trailing dot, one label under acme.internal.
    #[test]
    fn no_accepted_dns_name_escapes_its_pattern(s in "[a-zA-Z0-9*.-]{0,10}\\.(acme|ACME|evil)\\.(internal|com)\\.?") {
        let n = s.trim_end_matches('.').to_ascii_lowercase();
        if check_dns_name(&n, false).is_ok() && crate::policy::glob_match("*.acme.internal", &n, b'.') {
            let labels: Vec<&str> = s.trim_end_matches('.').split('.').collect();
            prop_assert_eq!(labels.len(), 3, "{}", s);
            prop_assert!(labels[1].eq_ignore_ascii_case("acme") && labels[2].eq_ignore_ascii_case("internal"), "{}", s);
        }
    }

    /// The integer RFC 3339 reader agrees with the time crate on every string of the one
    /// format pki writes, impossible dates included (30 February, 2023-02-29, hour 24).
    #[test]
    fn fast_time_reader_agrees_with_the_time_crate(d in prop::collection::vec(0u8..10, 14)) {
        let s = format!(
            "{}{}{}{}-{}{}-{}{}T{}{}:{}{}:{}{}Z",
            d[0], d[1], d[2], d[3], d[4] % 2, d[5], d[6] % 4, d[7], d[8] % 3, d[9], d[10] % 7, d[11], d[12] % 7, d[13]
        );
        let slow = time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).ok();
        let fast = crate::certs::rfc3339_unix(&s);
        if s.ends_with(":60Z") {
            // A leap second: the time crate may take it, pki never writes one.
            prop_assert_eq!(fast, None, "{}", s);
        } else {
            prop_assert_eq!(fast, slow.map(|t| t.unix_timestamp()), "{}", s);
        }
    }

    #[test]
    fn batch_lines(s in "\\PC{0,200}", keys in prop::collection::vec(prop::sample::select(vec!["profile", "dns", "ip", "uri", "ttl", "csr", "spiffe_id", "force", "zzz"]), 0..4)) {
        let _ = serde_json::from_str::<crate::issuance::Spec>(&s);
        let obj: String = keys.iter().map(|k| format!("\"{k}\": {}", serde_json::to_string(&s).unwrap())).collect::<Vec<_>>().join(",");
        let _ = serde_json::from_str::<crate::issuance::Spec>(&format!("{{{obj}}}"));
    }

    #[test]
    fn profile_globs(p in "[a-z*.]{0,24}", t in "[a-z.]{0,40}") {
        let _ = crate::policy::glob_match(&p, &t, b'.');
    }
}

// Defects the fuzzing found, kept as regression tests.

#[test]
fn mismatched_pem_tags_are_reported_on_one_line() {
    // The pem crate's message quoted the whole block, newlines and all.
    let text = samples().pem.replacen("-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE----", 1);
    let e = crate::inspect::inspect(text.as_bytes(), "x.pem", OffsetDateTime::UNIX_EPOCH).unwrap_err();
    assert_eq!(format!("{e:#}"), "x.pem: malformed PEM (its BEGIN and END lines do not match)");
}

#[test]
fn a_damaged_status_is_quoted_on_one_line() {
    let line = samples().inventory_line.replacen("valid", "va\nid", 1);
    let e = InventoryRecord::parse(&line).unwrap_err().to_string();
    assert_eq!(e, "unknown status 'va\\nid'");
}
