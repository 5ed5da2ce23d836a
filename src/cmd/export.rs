//! `pki export`: PKCS#12 bundles that open in OpenSSL 3 and Java, and the PEM and SPIFFE files
//! people put in trust stores.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use x509_parser::prelude::*;

use crate::cli::{BundleFormat, ExportArgs, GlobalArgs};
use crate::ctx::{Ctx, read_passphrase_file};
use crate::exit_codes::{Exit, PkiError};
use pki_core::bundle;
use pki_core::ca::Ca;
use pki_core::limits;
use pki_core::serial::Serial;
use pki_core::store::{CaDir, sha256_hex, write_atomic};

pub fn run(args: ExportArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    if let (Some(out), Some(name)) = (&args.spire, &args.serial) {
        let dir = CaDir::open(&g.dir)?;
        let timeout = super::lock_timeout(g)?;
        let f = pki_core::spire::export(&dir, name, out, args.force, timeout, &ctx.core())?;
        ctx.say(format!(
            "warning: {} holds CA '{name}''s key unencrypted, as SPIRE's disk plugin needs it: keep it readable by SPIRE's user only (the export is in the ledger)",
            f.key.display()
        ));
        ctx.say(format!(
            "wrote {}, {} and {}; the block below goes in SPIRE's server.conf, whose trust_domain must be \"{}\"",
            f.upstream.display(),
            f.key.display(),
            f.bundle.display(),
            f.trust_domain
        ));
        ctx.out.write_all(f.config.as_bytes())?;
        return Ok(Exit::Success);
    }
    let dir = super::open_for_reading(g, ctx)?;
    if let Some(p12) = &args.p12 {
        return export_p12(&args, p12, &dir, ctx);
    }
    let text = if args.root {
        bundle::pem(&bundle::roots(&dir)?)
    } else if let Some(ca) = &args.chain {
        Ca::chain(&dir, ca)?.iter().map(|c| c.pem.clone()).collect::<String>()
    } else {
        let roots = bundle::roots(&dir)?;
        match args.format {
            BundleFormat::Pem => bundle::pem(&roots),
            BundleFormat::Spiffe => serde_json::to_string_pretty(&bundle::spiffe(&dir, &roots)?)? + "\n",
        }
    };
    write_out(args.out.as_deref(), text.as_bytes(), 0o644, args.force, ctx)
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
