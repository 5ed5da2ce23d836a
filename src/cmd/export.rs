//! `pki export`: PKCS#12 bundles that open in OpenSSL 3 and Java, and the PEM and SPIFFE files
//! people put in trust stores.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use base64::Engine;
use x509_parser::prelude::*;

use crate::cli::{BundleFormat, ExportArgs, GlobalArgs};
use crate::ctx::{Ctx, read_passphrase_file};
use crate::exit_codes::{Exit, PkiError};
use pki_core::ca::Ca;
use pki_core::limits;
use pki_core::serial::Serial;
use pki_core::store::{CaDir, sha256_hex, write_atomic};

pub fn run(args: ExportArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let dir = super::open_for_reading(g, ctx)?;
    if let Some(p12) = &args.p12 {
        return export_p12(&args, p12, &dir, ctx);
    }
    let text = if args.root {
        roots(&dir)?.iter().map(|c| c.pem.clone()).collect::<String>()
    } else if let Some(ca) = &args.chain {
        Ca::chain(&dir, ca)?.iter().map(|c| c.pem.clone()).collect::<String>()
    } else {
        let roots = roots(&dir)?;
        match args.format {
            BundleFormat::Pem => roots.iter().map(|c| c.pem.clone()).collect::<String>(),
            BundleFormat::Spiffe => {
                let seq = dir.last_ledger_record()?.map(|(r, _)| r.seq).unwrap_or(0);
                let keys: Vec<serde_json::Value> = roots.iter().map(|c| jwk(&c.der)).collect::<Result<_>>()?;
                let v = serde_json::json!({ "keys": keys, "spiffe_sequence": seq, "spiffe_refresh_hint": 3600 });
                serde_json::to_string_pretty(&v)? + "\n"
            }
        }
    };
    write_out(args.out.as_deref(), text.as_bytes(), 0o644, args.force, ctx)
}

fn roots(dir: &CaDir) -> Result<Vec<Ca>> {
    let roots: Vec<Ca> = dir
        .ca_names()?
        .iter()
        .map(|n| Ca::load(dir, n))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|c| c.self_signed)
        .collect();
    if roots.is_empty() {
        return Err(PkiError::NoRoot { dir: dir.root.clone() }.into());
    }
    Ok(roots)
}

fn write_out(out: Option<&Path>, bytes: &[u8], mode: u32, force: bool, ctx: &mut Ctx) -> Result<Exit> {
    match out {
        None => ctx.out.write_all(bytes)?,
        Some(p) if p.as_os_str() == "-" => ctx.out.write_all(bytes)?,
        Some(p) => {
            if p.exists() && !force {
                return Err(PkiError::OutputExists { path: p.to_path_buf() }.into());
            }
            write_atomic(p, bytes, mode)?;
            ctx.say(format!("wrote {}", p.display()));
        }
    }
    Ok(Exit::Success)
}

/// A SPIFFE bundle key (SPIFFE Trust Domain and Bundle, section 4): the public key as a JWK,
/// with the CA certificate in x5c and use "x509-svid".
fn jwk(der: &[u8]) -> Result<serde_json::Value> {
    let (_, x) = X509Certificate::from_der(der).map_err(|e| anyhow!("malformed CA certificate ({e})"))?;
    let spki = x.public_key();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let std = base64::engine::general_purpose::STANDARD;
    let point = spki.subject_public_key.data.as_ref();
    let alg = spki.algorithm.algorithm.to_id_string();
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
    let mut k = match (alg.as_str(), curve.as_deref()) {
        (pki_core::keys::OID_EC, Some(c)) => {
            let (crv, n) = match c {
                pki_core::keys::OID_P256 => ("P-256", 32),
                pki_core::keys::OID_P384 => ("P-384", 48),
                _ => bail!("unsupported curve {c} in a CA certificate"),
            };
            if point.len() != 1 + 2 * n || point[0] != 4 {
                bail!("CA public key is not an uncompressed EC point");
            }
            serde_json::json!({"kty": "EC", "crv": crv, "x": url.encode(&point[1..1 + n]), "y": url.encode(&point[1 + n..])})
        }
        (pki_core::keys::OID_ED25519, _) => serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": url.encode(point)}),
        (pki_core::keys::OID_RSA, _) => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(r)) => {
                let trim = |b: &[u8]| b.iter().skip_while(|&&x| x == 0).copied().collect::<Vec<u8>>();
                serde_json::json!({"kty": "RSA", "n": url.encode(trim(r.modulus)), "e": url.encode(trim(r.exponent))})
            }
            _ => bail!("malformed RSA key in a CA certificate"),
        },
        _ => bail!("unsupported key algorithm {alg} in a CA certificate"),
    };
    k["use"] = "x509-svid".into();
    k["x5c"] = serde_json::json!([std.encode(der)]);
    Ok(k)
}

fn export_p12(args: &ExportArgs, p12: &Path, dir: &CaDir, ctx: &mut Ctx) -> Result<Exit> {
    if p12.exists() && !args.force {
        return Err(PkiError::OutputExists { path: p12.to_path_buf() }.into());
    }
    let key_path: PathBuf = match (&args.key, &args.cert) {
        (Some(k), _) => k.clone(),
        (None, Some(c)) => c.with_file_name("key.pem"),
        (None, None) => {
            bail!("--p12 needs the certificate's private key: give --key FILE (pki does not keep leaf keys)")
        }
    };
    // The certificate: from a file, or from the directory by serial.
    let cert_der = match (&args.serial, &args.cert) {
        (Some(s), _) => {
            let serial = Serial::parse(s)?;
            dir.read_cert_der(&serial)?
                .ok_or_else(|| anyhow!("no certificate with serial {} in this directory", serial.hex()))?
        }
        (None, Some(c)) => {
            let text = limits::read_file(c, limits::MAX_OBJECT, &c.display().to_string())?;
            match ::pem::parse(&text) {
                Ok(p) if p.tag() == "CERTIFICATE" => p.contents().to_vec(),
                _ => text,
            }
        }
        (None, None) => bail!("--p12 needs the certificate: give its SERIAL or --cert FILE"),
    };
    let (_, x) = X509Certificate::from_der(&cert_der).map_err(|_| anyhow!("not a certificate"))?;
    // The chain: the directory's CA whose subject issued it, up to the root.
    let issuer_ca = dir
        .ca_names()?
        .iter()
        .map(|n| Ca::load(dir, n))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .find(|c| {
            c.subject_raw == x.issuer().as_raw()
                && x.verify_signature(Some(c_spki(c).as_ref().map_or(x.public_key(), |s| s))).is_ok()
        })
        .ok_or_else(|| anyhow!("this certificate was not issued by a CA of this directory"))?;
    let chain = Ca::chain(dir, &issuer_ca.name)?;
    // The key, which must match the certificate.
    let key_text = zeroize::Zeroizing::new(
        String::from_utf8(limits::read_file(&key_path, limits::MAX_OBJECT, &format!("key {}", key_path.display()))?)
            .map_err(|_| anyhow!("key {} is not PEM text", key_path.display()))?,
    );
    let key_der = pki_core::keys::private_key_der(&key_text, &key_path, || {
        let f = args
            .key_passphrase_file
            .as_deref()
            .ok_or_else(|| anyhow!("{} is encrypted: give --key-passphrase-file", key_path.display()))?;
        read_passphrase_file(f)
    })?;
    let kp = pki_core::keys::key_pair(&key_der, &key_path)?;
    if rcgen::PublicKeyData::subject_public_key_info(&kp) != x.public_key().raw {
        bail!("{} is not the private key of this certificate", key_path.display());
    }
    // The file's own password: never the CA passphrase (--passphrase-file, PKI_PASSPHRASE_FILE,
    // PKI_PASSPHRASE), which would hand every holder of the file the CA's secret.
    let pass = match (&args.p12_passphrase_file, args.no_p12_passphrase) {
        (Some(f), _) => read_passphrase_file(f)?,
        (None, true) => pki_core::Secret::new(String::new()),
        (None, false) if ctx.pass.tty => ctx.pass.new_secondary(None, "the PKCS#12 file")?,
        (None, false) => {
            let ca_given = ctx.pass.file.is_some() || ctx.pass.env_value.is_some();
            bail!(
                "the PKCS#12 file needs a password of its own and there is no terminal to ask: give --p12-passphrase-file FILE, or --no-p12-passphrase{}",
                if ca_given { " (the CA passphrase given is never used for it)" } else { "" }
            )
        }
    };
    let alias = args.name.clone().unwrap_or_else(|| {
        x.subject()
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| Serial::from_bytes(x.raw_serial()).hex())
    });
    let mut certs = vec![p12_keystore::Certificate::from_der(&cert_der).map_err(|e| anyhow!("{e}"))?];
    for c in &chain {
        certs.push(p12_keystore::Certificate::from_der(&c.der).map_err(|e| anyhow!("{e}"))?);
    }
    let key = p12_keystore::PrivateKey::from_der(&key_der).map_err(|e| anyhow!("{e}"))?;
    let local_id = sha256_hex(&cert_der).as_bytes()[..40].to_vec();
    let mut ks = p12_keystore::KeyStore::new();
    ks.add_entry(
        &alias,
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(local_id, key, certs)),
    );
    let bytes = ks
        .writer(pass.as_str())
        .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
        .write()
        .map_err(|e| anyhow!("cannot write PKCS#12: {e}"))?;
    write_atomic(p12, &bytes, 0o600)?;
    ctx.say(format!("wrote {} ({alias}: certificate, {} CA certificate(s), key)", p12.display(), chain.len()));
    Ok(Exit::Success)
}

fn c_spki(c: &Ca) -> Option<SubjectPublicKeyInfo<'_>> {
    X509Certificate::from_der(&c.der).ok().map(|(_, x)| x.tbs_certificate.subject_pki)
}
