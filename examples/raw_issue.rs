//! The raw in-process rate of what `pki issue` does per certificate, without pki: generate a
//! P-256 key and sign a leaf with a P-256 CA, using the same crates (rcgen over ring). The
//! benchmark (bench/run.sh, P5) compares `pki issue --batch` with this rate.
//!
//!   cargo run --release --example raw_issue [N]
//!   cargo run --release --example raw_issue kdf    # the unlock of an encrypted CA key alone

use std::time::Instant;

// pki's allocator (huge pages for large blocks), so the KDF's 16 MiB work area costs the same
// as in pki.
#[path = "../src/mem.rs"]
mod mem;
#[global_allocator]
static ALLOC: mem::Alloc = mem::Alloc;

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("kdf") => return kdf(),
        Some("kdf-once") => return kdf_once(&std::env::args().nth(2).expect("kdf-once FILE")),
        _ => {}
    }
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

/// What unlocking an encrypted CA key costs, with pki's parameters (PBES2: scrypt N=2^14 r=8
/// p=1, AES-256-CBC; src/keys.rs): the "KDF time" of the encrypted P1 target. pki unlocks once
/// per process, so each unlock is timed in a new process of its own (this program run again
/// with `kdf-once FILE`), where the work area is fresh memory, as in pki.
fn kdf() {
    use pkcs8::pkcs5::{pbes2, scrypt};
    let der = rcgen::KeyPair::generate().unwrap().serialize_der();
    let params =
        pbes2::Parameters::generate_scrypt_aes256cbc(scrypt::Params::new(14, 8, 1).unwrap(), &[7u8; 16], [9u8; 16])
            .unwrap();
    let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()).unwrap();
    let enc = info.encrypt_with_params(params, b"secret-bench-pass").unwrap();
    let path = std::env::temp_dir().join(format!("raw-issue-kdf-{}.der", std::process::id()));
    std::fs::write(&path, enc.as_bytes()).unwrap();
    let mut ms: Vec<f64> = (0..7)
        .map(|_| {
            let o = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["kdf-once", path.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(o.status.success());
            String::from_utf8(o.stdout).unwrap().trim().parse::<f64>().unwrap()
        })
        .collect();
    std::fs::remove_file(&path).unwrap();
    ms.sort_by(f64::total_cmp);
    println!("unlock of an encrypted key (scrypt N=2^14 r=8 p=1), once per process: median of 7 = {:.3} ms", ms[3]);
}

fn kdf_once(path: &str) {
    let bytes = std::fs::read(path).unwrap();
    let t = Instant::now();
    let e = pkcs8::EncryptedPrivateKeyInfoRef::try_from(bytes.as_slice()).unwrap();
    let key = e.decrypt(b"secret-bench-pass").unwrap();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    assert!(!key.as_bytes().is_empty());
    println!("{ms:.3}");
}
