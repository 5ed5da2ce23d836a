//! Signed ledger records: whenever a change is made with a CA key unlocked (issue, renew,
//! revoke with its CRL, gen-crl, create-intermediate), its ledger record carries a signature by
//! that key over the record's own bytes, which include `prev`. The hash chain then ties every
//! earlier record to a signature no writer without the passphrase can make: recomputing the
//! chain after an edit leaves the last signed record unverifiable.
//!
//! The signature is the record's last field, `"sig":{"ca":..,"cert":..,"value":..}`; the signed
//! bytes are a fixed context string followed by the line without that field. The context makes
//! the message start with a byte that no DER structure (certificate, CRL, OCSP response: all a
//! SEQUENCE, 0x30) starts with, so a ledger signature can never be taken for one of those.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::*;

use super::sha256_hex;

/// What a ledger signature signs before the record's bytes.
const CONTEXT: &[u8] = b"pki-ledger-record-v1\n";
/// How the signature field starts in a record's line (it is always the last field).
const SIG_FIELD: &str = ",\"sig\":{";

/// A ledger record's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerSig {
    /// The CA whose key signed.
    pub ca: String,
    /// SHA-256 (hex) of that CA's certificate (DER): which key, even if `cas/NAME` is replaced.
    pub cert: String,
    /// The signature (base64): ECDSA (DER) or Ed25519 over the context and the unsigned line.
    pub value: String,
}

/// A CA key that signs the ledger records of a change ([`super::Locked::sign_with`]).
#[derive(Clone)]
pub struct LedgerSigner {
    ca: String,
    cert_sha256: String,
    issuer: Arc<rcgen::Issuer<'static, rcgen::KeyPair>>,
}

impl LedgerSigner {
    /// The signer for CA `ca` with certificate `cert_der` and its unlocked key.
    pub fn new(ca: &str, cert_der: &[u8], issuer: Arc<rcgen::Issuer<'static, rcgen::KeyPair>>) -> LedgerSigner {
        LedgerSigner { ca: ca.to_string(), cert_sha256: sha256_hex(cert_der), issuer }
    }

    /// Signs the line of a record serialized without its signature.
    pub(super) fn sign(&self, unsigned_line: &str) -> Result<LedgerSig> {
        let mut msg = Vec::with_capacity(CONTEXT.len() + unsigned_line.len());
        msg.extend_from_slice(CONTEXT);
        msg.extend_from_slice(unsigned_line.as_bytes());
        let sig = rcgen::SigningKey::sign(self.issuer.key(), &msg)
            .map_err(|e| anyhow!("cannot sign the ledger record with the key of CA '{}': {e}", self.ca))?;
        Ok(LedgerSig {
            ca: self.ca.to_string(),
            cert: self.cert_sha256.clone(),
            value: base64::engine::general_purpose::STANDARD.encode(sig),
        })
    }
}

/// Whether a ledger line carries a signature (cheap: no JSON parse).
pub fn is_signed(line: &str) -> bool {
    line.ends_with("}}") && line.rfind(SIG_FIELD).is_some()
}

/// The line as it was signed: without its signature field.
fn unsigned_part(line: &str) -> Option<String> {
    let at = line.rfind(SIG_FIELD)?;
    Some(format!("{}}}", &line[..at]))
}

/// Why a signed ledger line does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigProblem {
    /// The line has no readable signature field.
    Malformed,
    /// The CA named in the signature is not the certificate given (another certificate).
    OtherCertificate,
    /// The CA's key type is one this check cannot verify.
    Unsupported,
    /// The signature does not match the line.
    Invalid,
}

/// The signature of a ledger line, parsed.
pub fn signature_of(line: &str) -> Option<LedgerSig> {
    #[derive(Deserialize)]
    struct Only {
        sig: Option<LedgerSig>,
    }
    serde_json::from_str::<Only>(line).ok()?.sig
}

/// Verifies a signed ledger line against a CA certificate (DER).
pub fn verify_line(line: &str, ca_cert_der: &[u8]) -> Result<LedgerSig, SigProblem> {
    let sig = signature_of(line).ok_or(SigProblem::Malformed)?;
    if sig.cert != sha256_hex(ca_cert_der) {
        return Err(SigProblem::OtherCertificate);
    }
    let unsigned = unsigned_part(line).ok_or(SigProblem::Malformed)?;
    let value = base64::engine::general_purpose::STANDARD.decode(&sig.value).map_err(|_| SigProblem::Malformed)?;
    let mut msg = Vec::with_capacity(CONTEXT.len() + unsigned.len());
    msg.extend_from_slice(CONTEXT);
    msg.extend_from_slice(unsigned.as_bytes());
    verify_by_cert(ca_cert_der, &msg, &value)?;
    Ok(sig)
}

/// Verifies `signature` over `msg` with the public key of a certificate (DER): ECDSA P-256 or
/// P-384 (DER signature) or Ed25519, the CA key types pki makes.
pub fn verify_by_cert(cert_der: &[u8], msg: &[u8], signature: &[u8]) -> Result<(), SigProblem> {
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|_| SigProblem::Unsupported)?;
    let spki = cert.public_key();
    let alg: &'static dyn ring::signature::VerificationAlgorithm = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::EC(_)) => {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
            match curve.map(|o| o.to_id_string()).as_deref() {
                Some("1.2.840.10045.3.1.7") => &ring::signature::ECDSA_P256_SHA256_ASN1,
                Some("1.3.132.0.34") => &ring::signature::ECDSA_P384_SHA384_ASN1,
                _ => return Err(SigProblem::Unsupported),
            }
        }
        // pki's RSA CA keys sign with PKCS#1 v1.5 and SHA-256 (keys::key_pair).
        Ok(x509_parser::public_key::PublicKey::RSA(_)) => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => &ring::signature::ED25519,
        _ => return Err(SigProblem::Unsupported),
    };
    ring::signature::UnparsedPublicKey::new(alg, &spki.subject_public_key.data)
        .verify(msg, signature)
        .map_err(|_| SigProblem::Invalid)
}

/// A signed ledger head as `pki ledger head` prints it and `pki audit --ledger-head` reads it:
/// the last signed record, whole, with its position and hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedHead {
    /// The record's sequence number.
    pub seq: u64,
    /// SHA-256 (hex) of the record's line: the next record's `prev`.
    pub sha256: String,
    /// The CA whose key signed it.
    pub ca: String,
    /// SHA-256 (hex) of that CA's certificate.
    pub cert_sha256: String,
    /// When the record was written.
    pub time: String,
    /// The record's line, verbatim (its signature inside).
    pub record: String,
}

impl SignedHead {
    /// Reads a head kept by `pki ledger head` (bounded; one JSON object).
    pub fn read(path: &std::path::Path) -> Result<SignedHead> {
        let f = std::fs::File::open(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
        let bytes = crate::limits::read_bounded(f, crate::limits::MAX_OBJECT, &path.display().to_string())?;
        serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("{} is not a signed ledger head as `pki ledger head` prints it ({e})", path.display()))
    }
}

impl super::CaDir {
    /// The last signed record as a head to keep, from a check of the whole ledger.
    pub fn signed_head(&self, check: &super::LedgerCheck) -> Result<SignedHead> {
        let (seq, line) = check.last_signed.clone().ok_or_else(|| {
            anyhow!("no ledger record is signed yet: run `pki gen-crl --all` (it signs the head with each CA key it unlocks)")
        })?;
        let sig = signature_of(&line).ok_or_else(|| anyhow!("ledger record {seq}: its signature is unreadable"))?;
        let rec: super::LedgerRecord = serde_json::from_str(&line)?;
        Ok(SignedHead {
            seq,
            sha256: sha256_hex(line.as_bytes()),
            ca: sig.ca,
            cert_sha256: sig.cert,
            time: rec.time,
            record: line,
        })
    }

    /// Why the last signed record of a checked ledger does not verify against its CA's
    /// certificate in this directory, if it does not.
    pub fn head_signature_problem(&self, check: &super::LedgerCheck) -> Result<Option<String>> {
        match &check.last_signed {
            Some((seq, line)) => self.signature_problem(*seq, line),
            None => Ok(None),
        }
    }

    /// Why the ledger (as `check` read it, asked for record `h.seq`) no longer holds a head
    /// kept elsewhere: (finding code, message), or `None` when it does.
    pub fn kept_head_problem(
        &self,
        h: &SignedHead,
        check: &super::LedgerCheck,
    ) -> Result<Option<(&'static str, String)>> {
        Ok(if let Some(why) = self.signature_problem(h.seq, &h.record)? {
            Some((
                "ledger-head-mismatch",
                format!(
                    "the kept ledger head does not verify against this directory ({why}): it is not this CA's ledger, or the CA was replaced"
                ),
            ))
        } else if sha256_hex(h.record.as_bytes()) != h.sha256 {
            Some((
                "ledger-head-mismatch",
                format!("the kept ledger head (record {}) is damaged: its hash does not match its record", h.seq),
            ))
        } else if check.records < h.seq {
            Some((
                "ledger-rolled-back",
                format!(
                    "the ledger has {} records but the kept head is record {} (signed by CA '{}' at {}): the directory was rolled back to an older copy or its ledger cut; changes and revocations after that may be lost",
                    check.records, h.seq, h.ca, h.time
                ),
            ))
        } else if check.hash_at.as_deref() != Some(h.sha256.as_str()) {
            Some((
                "ledger-rolled-back",
                format!(
                    "ledger.jsonl record {} is not the one in the kept head (signed by CA '{}' at {}): the ledger was rewritten or replaced by another copy",
                    h.seq, h.ca, h.time
                ),
            ))
        } else {
            None
        })
    }

    /// Why signed ledger record `seq` (its line) does not verify against the certificate of
    /// the CA that signed it, as this directory holds it; `None` when it verifies.
    pub fn signature_problem(&self, seq: u64, line: &str) -> Result<Option<String>> {
        let Some(sig) = signature_of(line) else {
            return Ok(Some(format!("record {seq}: its signature is unreadable")));
        };
        if crate::ca::check_ca_name(&sig.ca).is_err() || !self.ca_exists(&sig.ca) {
            return Ok(Some(format!(
                "record {seq} is signed by CA '{}', which is not in this directory",
                sig.ca.escape_debug()
            )));
        }
        let ca = crate::ca::Ca::load(self, &sig.ca)?;
        Ok(verify_line(line, &ca.der).err().map(|p| {
            let why = match p {
                SigProblem::OtherCertificate => {
                    format!("it was signed by another certificate than cas/{}/cert.pem", ca.name)
                }
                SigProblem::Unsupported => format!("the key type of CA '{}' cannot be checked", ca.name),
                SigProblem::Malformed => "its signature is unreadable".into(),
                SigProblem::Invalid => format!("its signature by CA '{}' does not match it", ca.name),
            };
            format!("record {seq}: {why}")
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_line_verifies_and_any_edit_breaks_it() {
        for alg in [&rcgen::PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_ED25519] {
            let key = rcgen::KeyPair::generate_for(alg).unwrap();
            let mut p = rcgen::CertificateParams::new(vec![]).unwrap();
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let cert = p.self_signed(&key).unwrap();
            let issuer = rcgen::Issuer::from_ca_cert_der(cert.der(), key).unwrap();
            let signer = LedgerSigner::new("issuing", cert.der(), Arc::new(issuer));
            let unsigned = r#"{"seq":2,"event":"cert-issued","data":{"serial":"AB"},"prev":"00"}"#;
            let sig = signer.sign(unsigned).unwrap();
            let line =
                format!("{},\"sig\":{}}}", &unsigned[..unsigned.len() - 1], serde_json::to_string(&sig).unwrap());
            assert!(is_signed(&line));
            assert_eq!(verify_line(&line, cert.der()).unwrap(), sig);
            let edited = line.replace("\"AB\"", "\"AC\"");
            assert_eq!(verify_line(&edited, cert.der()), Err(SigProblem::Invalid));
            let other = rcgen::KeyPair::generate_for(alg).unwrap();
            let other_cert = p.self_signed(&other).unwrap();
            assert_eq!(verify_line(&line, other_cert.der()), Err(SigProblem::OtherCertificate));
            assert!(!is_signed(unsigned));
        }
    }
}
