//! The raw in-process rate of what `pki issue` does per certificate, without pki: generate a
//! P-256 key and sign a leaf with a P-256 CA, using the same crates (rcgen over ring). The
//! benchmark (bench/run.sh, P5) compares `pki issue --batch` with this rate.
//!
//!   cargo run --release --example raw_issue [N]

use std::time::Instant;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let t = Instant::now();
    let mut bytes = 0usize;
    for i in 0..n {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec![format!("h{i}.acme.internal")]).unwrap();
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&(i as u128 + 1).to_be_bytes()));
        let cert = p.signed_by(&key, &issuer).unwrap();
        bytes += cert.der().len() + key.serialize_der().len();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{n} keys generated and certificates signed in {secs:.3} s = {:.0} per second ({bytes} bytes)",
        n as f64 / secs
    );
}
