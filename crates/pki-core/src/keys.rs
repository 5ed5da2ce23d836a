//! Private keys: generation (P-256, P-384, Ed25519, RSA-3072), PKCS#8 encryption at rest, loading keys that we
//! or OpenSSL wrote, and describing keys without ever showing their material.

use anyhow::{Result, anyhow, bail};
use pkcs8::LineEnding;
use pkcs8::der::{Decode, Encode};
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde::Serialize;
use std::path::Path;
use zeroize::Zeroizing;

use crate::context::Secret;
use crate::error::PkiError;

/// The key types pki generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    /// ECDSA on NIST P-256 (the default: every TLS stack accepts it).
    #[default]
    P256,
    /// ECDSA on NIST P-384 (CNSA and clients that require it).
    P384,
    /// Ed25519 (small and fast; not every verifier accepts it in certificates).
    Ed25519,
    /// RSA with a 3072-bit modulus, signing with SHA-256 (clients without ECDSA; slow to make:
    /// about half a second a key).
    Rsa3072,
}

impl KeyType {
    /// The name used in `pki.toml`'s key_types and in the inventory (`rsa` for any RSA key, as
    /// CSRs bring them).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::P256 => "p256",
            KeyType::P384 => "p384",
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa3072 => "rsa",
        }
    }

    /// What `--key-type` and `key_type =` accept, in words for messages.
    pub const CHOICES: &'static str = "p256, p384, ed25519 or rsa3072";

    /// Parses a key type as people write it (`p256`, `P-384`, `ed25519`, `rsa3072`, `rsa`).
    pub fn parse(s: &str) -> Option<KeyType> {
        match s.to_ascii_lowercase().as_str() {
            "p256" | "p-256" | "ecdsa-p256" => Some(KeyType::P256),
            "p384" | "p-384" | "ecdsa-p384" => Some(KeyType::P384),
            "ed25519" => Some(KeyType::Ed25519),
            "rsa" | "rsa3072" | "rsa-3072" => Some(KeyType::Rsa3072),
            _ => None,
        }
    }
}

/// id-ecPublicKey.
pub const OID_EC: &str = "1.2.840.10045.2.1";
/// The P-256 curve.
pub const OID_P256: &str = "1.2.840.10045.3.1.7";
/// The P-384 curve.
pub const OID_P384: &str = "1.3.132.0.34";
/// The P-521 curve.
pub const OID_P521: &str = "1.3.132.0.35";
/// Ed25519.
pub const OID_ED25519: &str = "1.3.101.112";
/// rsaEncryption.
pub const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// A new private key as unencrypted PKCS#8 DER (wiped from memory when dropped), and as a
/// key pair ready to sign or to be certified (parsing the DER again would repeat the public
/// key's computation: a scalar multiplication per certificate).
pub struct NewKey {
    /// The key, unencrypted PKCS#8 DER.
    pub der: Zeroizing<Vec<u8>>,
    /// The key, ready to sign or to be certified.
    pub pair: rcgen::KeyPair,
}

/// Generates a key of the given type.
pub fn generate(kt: KeyType) -> Result<NewKey> {
    match kt {
        KeyType::P256 => {
            // ring (through rcgen) generates P-256 keys several times faster than the p256
            // crate, whose first use builds a precomputed table (measured: ~5% of an issue).
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| anyhow!("cannot generate a P-256 key: {e}"))?;
            Ok(NewKey { der: Zeroizing::new(pair.serialize_der()), pair })
        }
        KeyType::P384 => {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
                .map_err(|e| anyhow!("cannot generate a P-384 key: {e}"))?;
            Ok(NewKey { der: Zeroizing::new(pair.serialize_der()), pair })
        }
        KeyType::Rsa3072 => {
            // ring signs RSA but does not generate it; the rsa crate does (its private-key
            // operations are not used: signing goes through ring).
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 3072)
                .map_err(|e| anyhow!("cannot generate an RSA-3072 key: {e}"))?;
            let doc = key.to_pkcs8_der().map_err(|e| anyhow!("cannot encode an RSA key: {e}"))?;
            let der = Zeroizing::new(doc.as_bytes().to_vec());
            let pair = key_pair(&der, Path::new("new key"))?;
            Ok(NewKey { der, pair })
        }
        KeyType::Ed25519 => {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).map_err(|e| anyhow!("no randomness from the OS: {e}"))?;
            // PKCS#8 v1 (RFC 8410) without the optional public key: ed25519-dalek writes v2,
            // which OpenSSL 3.0 refuses. The prefix is the fixed DER header of that structure.
            let mut der = Zeroizing::new(Vec::with_capacity(48));
            der.extend_from_slice(&[
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
            ]);
            der.extend_from_slice(seed.as_ref());
            let pair = key_pair(&der, Path::new("new key"))?;
            Ok(NewKey { der, pair })
        }
    }
}

/// PEM for a key: "ENCRYPTED PRIVATE KEY" (PBES2: scrypt N=2^14 r=8 p=1 + AES-256-CBC, which
/// `openssl pkey -passin` reads; OpenSSL 3.0 refuses N >= 2^15) or plain "PRIVATE KEY".
pub fn to_pem(der: &[u8], passphrase: Option<&Secret>) -> Result<Zeroizing<String>> {
    match passphrase {
        None => Ok(Zeroizing::new(pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec())))),
        Some(pass) => {
            let mut salt = [0u8; 16];
            let mut iv = [0u8; 16];
            getrandom::fill(&mut salt).map_err(|e| anyhow!("no randomness from the OS: {e}"))?;
            getrandom::fill(&mut iv).map_err(|e| anyhow!("no randomness from the OS: {e}"))?;
            let scrypt = pkcs8::pkcs5::scrypt::Params::new(14, 8, 1).map_err(|e| anyhow!("scrypt parameters: {e}"))?;
            let params = pkcs8::pkcs5::pbes2::Parameters::generate_scrypt_aes256cbc(scrypt, &salt, iv)
                .map_err(|e| anyhow!("key encryption parameters: {e}"))?;
            let info = pkcs8::PrivateKeyInfoRef::try_from(der).map_err(|e| anyhow!("malformed key: {e}"))?;
            let doc =
                info.encrypt_with_params(params, pass.as_bytes()).map_err(|e| anyhow!("cannot encrypt key: {e}"))?;
            Ok(Zeroizing::new(
                doc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
                    .map_err(|e| anyhow!("cannot encode key: {e}"))?
                    .to_string(),
            ))
        }
    }
}

/// Loads a signing key from PEM (PKCS#8, encrypted or not), asking for the passphrase only
/// when the key is encrypted. `path` names the file in errors.
pub fn load_signing_key(
    pem_text: &str,
    path: &Path,
    passphrase: impl FnOnce() -> Result<Secret>,
) -> Result<rcgen::KeyPair> {
    key_pair(&private_key_der(pem_text, path, passphrase)?, path)
}

/// The unencrypted PKCS#8 DER of a PEM key, decrypting it (with the passphrase asked only then)
/// when it is encrypted.
pub fn private_key_der(
    pem_text: &str,
    path: &Path,
    passphrase: impl FnOnce() -> Result<Secret>,
) -> Result<Zeroizing<Vec<u8>>> {
    let block = pem::parse(pem_text)
        .map_err(|e| anyhow!("{}: not a PEM key ({})", path.display(), crate::certs::pem_problem(&e)))?;
    match block.tag() {
        "ENCRYPTED PRIVATE KEY" => {
            let pass = passphrase()?;
            decrypt(block.contents(), &pass, path)
        }
        "PRIVATE KEY" => Ok(Zeroizing::new(block.contents().to_vec())),
        other => bail!(
            "{}: unsupported key format '{other}': convert it with `openssl pkcs8 -topk8 -in KEY -out key.pem`",
            path.display()
        ),
    }
}

/// A signing key from unencrypted PKCS#8 DER (P-256, P-384, Ed25519 or RSA).
pub fn key_pair(der: &[u8], path: &Path) -> Result<rcgen::KeyPair> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der)
        .map_err(|e| anyhow!("{}: malformed PKCS#8 key ({e})", path.display()))?;
    let alg_oid = info.algorithm.oid.to_string();
    let curve =
        info.algorithm.parameters.and_then(|p| p.decode_as::<pkcs8::ObjectIdentifier>().ok()).map(|o| o.to_string());
    let alg: &'static rcgen::SignatureAlgorithm = match (alg_oid.as_str(), curve.as_deref()) {
        (OID_EC, Some(OID_P256)) => &rcgen::PKCS_ECDSA_P256_SHA256,
        (OID_EC, Some(OID_P384)) => &rcgen::PKCS_ECDSA_P384_SHA384,
        (OID_ED25519, _) => &rcgen::PKCS_ED25519,
        (OID_RSA, _) => &rcgen::PKCS_RSA_SHA256,
        _ => bail!(
            "{}: unsupported key algorithm {alg_oid} (pki signs with P-256, P-384, Ed25519 or RSA)",
            path.display()
        ),
    };
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), alg)
        .map_err(|e| anyhow!("{}: key rejected ({e})", path.display()))
}

fn decrypt(der: &[u8], pass: &Secret, path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let enc = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der)
        .map_err(|e| anyhow!("{}: malformed encrypted key ({e})", path.display()))?;
    match enc.decrypt(pass.as_bytes()) {
        Ok(doc) => {
            let bytes = Zeroizing::new(doc.as_bytes().to_vec());
            // A wrong passphrase passes the CBC padding check about once in 256 tries; the
            // plaintext is then not a PKCS#8 structure.
            if pkcs8::PrivateKeyInfoRef::from_der(&bytes).is_err() {
                return Err(PkiError::WrongPassphrase { key: path.to_path_buf() }.into());
            }
            Ok(bytes)
        }
        Err(pkcs8::Error::EncryptedPrivateKey(
            e @ (pkcs8::pkcs5::Error::UnsupportedAlgorithm { .. } | pkcs8::pkcs5::Error::NoPbes1CryptSupport),
        )) => bail!(
            "{}: unsupported key encryption ({e}): re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
            path.display()
        ),
        Err(_) => Err(PkiError::WrongPassphrase { key: path.to_path_buf() }.into()),
    }
}

/// What `inspect` says about a private key: never its material.
#[derive(Debug, Serialize)]
pub struct KeyInfo {
    /// "private key".
    pub kind: &'static str,
    /// The algorithm.
    pub algorithm: String,
    /// The size in bits, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<usize>,
    /// Whether it is encrypted.
    pub encrypted: bool,
    /// The encryption scheme, if encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
}

/// Describes a PEM private key block (`tag`: its PEM label) without showing its material.
pub fn describe_private_key(tag: &str, der: &[u8]) -> Result<KeyInfo> {
    match tag {
        "ENCRYPTED PRIVATE KEY" => {
            let enc = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der)
                .map_err(|e| anyhow!("malformed encrypted key ({e})"))?;
            let scheme = match &enc.encryption_algorithm {
                pkcs8::pkcs5::EncryptionScheme::Pbes2(p) => {
                    let kdf = if p.kdf.is_scrypt() { "scrypt" } else { "pbkdf2" };
                    let cipher = match p.encryption {
                        pkcs8::pkcs5::pbes2::EncryptionScheme::Aes128Cbc { .. } => "aes-128-cbc",
                        pkcs8::pkcs5::pbes2::EncryptionScheme::Aes192Cbc { .. } => "aes-192-cbc",
                        pkcs8::pkcs5::pbes2::EncryptionScheme::Aes256Cbc { .. } => "aes-256-cbc",
                        _ => "other cipher",
                    };
                    format!("PBES2 {kdf} {cipher}")
                }
                _ => "PBES1 (legacy)".to_string(),
            };
            Ok(KeyInfo {
                kind: "private key",
                algorithm: "unknown until decrypted".into(),
                bits: None,
                encrypted: true,
                encryption: Some(scheme),
            })
        }
        "PRIVATE KEY" => {
            let info = pkcs8::PrivateKeyInfoRef::try_from(der).map_err(|e| anyhow!("malformed PKCS#8 key ({e})"))?;
            let oid = info.algorithm.oid.to_string();
            let curve = info
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<pkcs8::ObjectIdentifier>().ok())
                .map(|o| o.to_string());
            let (algorithm, bits) =
                algorithm_name(&oid, curve.as_deref(), || rsa_bits_pkcs1(info.private_key.as_bytes()));
            Ok(KeyInfo { kind: "private key", algorithm, bits, encrypted: false, encryption: None })
        }
        "EC PRIVATE KEY" => {
            // SEC1: the curve is in the [0] parameters; report it by scanning for known OIDs.
            let alg = if contains(der, &oid_der(OID_P256)) {
                "ECDSA P-256"
            } else if contains(der, &oid_der(OID_P384)) {
                "ECDSA P-384"
            } else {
                "ECDSA"
            };
            Ok(KeyInfo {
                kind: "private key (SEC1)",
                algorithm: alg.into(),
                bits: None,
                encrypted: false,
                encryption: None,
            })
        }
        "RSA PRIVATE KEY" => Ok(KeyInfo {
            kind: "private key (PKCS#1)",
            algorithm: "RSA".into(),
            bits: Some(rsa_bits_pkcs1(der).ok_or_else(|| anyhow!("malformed RSA key"))?),
            encrypted: false,
            encryption: None,
        }),
        other => bail!("unsupported key block '{other}'"),
    }
}

/// Human name for a key algorithm OID (and curve), with the size where it varies.
pub fn algorithm_name(
    oid: &str,
    curve: Option<&str>,
    rsa_bits: impl FnOnce() -> Option<usize>,
) -> (String, Option<usize>) {
    match (oid, curve) {
        (OID_EC, Some(OID_P256)) => ("ECDSA P-256".into(), Some(256)),
        (OID_EC, Some(OID_P384)) => ("ECDSA P-384".into(), Some(384)),
        (OID_EC, Some(OID_P521)) => ("ECDSA P-521".into(), Some(521)),
        (OID_EC, c) => (format!("ECDSA ({})", c.unwrap_or("unknown curve")), None),
        (OID_ED25519, _) => ("Ed25519".into(), Some(256)),
        (OID_RSA, _) => ("RSA".into(), rsa_bits()),
        (o, _) => (format!("unknown ({o})"), None),
    }
}

fn oid_der(oid: &str) -> Vec<u8> {
    pkcs8::ObjectIdentifier::new_unwrap(oid).to_der().unwrap_or_default()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Modulus size of a PKCS#1 RSAPrivateKey: SEQUENCE { INTEGER version, INTEGER modulus, ... }.
fn rsa_bits_pkcs1(der: &[u8]) -> Option<usize> {
    let (_, body) = der_tlv(der, 0x30)?;
    let (rest, _version) = der_tlv(body, 0x02)?;
    let (_, modulus) = der_tlv(rest, 0x02)?;
    let m = match modulus.iter().position(|&b| b != 0) {
        Some(i) => &modulus[i..],
        None => return Some(0),
    };
    Some(m.len() * 8 - m[0].leading_zeros() as usize)
}

/// Reads one DER TLV with the expected tag; returns (rest after it, its value).
fn der_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if input.len() < 2 || input[0] != tag {
        return None;
    }
    let (len, hdr): (usize, usize) = match input[1] {
        l if l < 0x80 => (l as usize, 2),
        0x81 => (*input.get(2)? as usize, 3),
        0x82 => (((*input.get(2)? as usize) << 8) | *input.get(3)? as usize, 4),
        _ => return None,
    };
    let end = hdr.checked_add(len)?;
    if input.len() < end {
        return None;
    }
    Some((&input[end..], &input[hdr..end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    #[test]
    fn encrypted_keys_round_trip_and_wrong_passphrase_is_named() {
        for kt in [KeyType::P256, KeyType::Ed25519] {
            let k = generate(kt).unwrap();
            let pass = Zeroizing::new("correct horse".to_string());
            let pem = to_pem(&k.der, Some(&pass)).unwrap();
            assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
            let p = Path::new("ca/key.pem");
            load_signing_key(&pem, p, || Ok(pass.clone())).unwrap();
            let err = load_signing_key(&pem, p, || Ok(Zeroizing::new("wrong".to_string()))).unwrap_err();
            assert_eq!(err.downcast_ref::<PkiError>(), Some(&PkiError::WrongPassphrase { key: p.into() }));
            let info =
                describe_private_key("ENCRYPTED PRIVATE KEY", pem::parse(pem.as_str()).unwrap().contents()).unwrap();
            assert!(info.encrypted);
            assert_eq!(info.encryption.as_deref(), Some("PBES2 scrypt aes-256-cbc"));
        }
    }

    #[test]
    fn plain_keys_describe_their_algorithm() {
        let k = generate(KeyType::Ed25519).unwrap();
        assert_eq!(k.der.len(), 48);
        assert_eq!(describe_private_key("PRIVATE KEY", &k.der).unwrap().algorithm, "Ed25519");
        let k = generate(KeyType::P256).unwrap();
        assert_eq!(describe_private_key("PRIVATE KEY", &k.der).unwrap().algorithm, "ECDSA P-256");
    }
}
