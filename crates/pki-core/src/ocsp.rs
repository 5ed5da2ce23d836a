//! OCSP (RFC 6960, with the lightweight profile of RFC 5019): requests parsed strictly and
//! within limits, the status of a serial as the directory knows it (the revoked list the CRLs
//! are made from, and the inventory for "was it ever issued"), and responses written straight
//! into DER and signed by a responder key: a delegated responder certificate (id-kp-OCSPSigning
//! with id-pkix-ocsp-nocheck, issued by the CA it answers for) or the CA itself.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::{Result, anyhow};
use sha2::Digest;
use time::OffsetDateTime;

use crate::ca::Ca;
use crate::store::CaDir;

/// Largest request accepted, in bytes (a request for one certificate with a nonce is ~100).
pub const MAX_REQUEST: usize = 8 * 1024;
/// Most CertIDs in one request (RFC 5019 clients send one).
pub const MAX_CERT_IDS: usize = 8;
/// Longest nonce accepted (RFC 9654 section 2.1: 1 to 32 octets).
pub const MAX_NONCE: usize = 32;

/// OCSPResponseStatus (RFC 6960 section 4.2.1) values other than successful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Failure {
    /// The request is not a well-formed OCSPRequest, or breaks a documented limit.
    MalformedRequest = 1,
    /// The responder cannot answer now.
    InternalError = 2,
    /// A CertID this responder cannot answer for (another issuer, a hash it does not know).
    Unauthorized = 6,
}

/// Why a request got no status, with the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The response status sent.
    pub status: Failure,
    /// What was wrong, in words (logged; never in the response, which has no room for it).
    pub why: String,
}

fn malformed(why: impl Into<String>) -> Refused {
    Refused { status: Failure::MalformedRequest, why: why.into() }
}

/// The DER of an OCSPResponse without a body: `responseStatus` only (RFC 6960 section 4.2.1).
pub fn failure_response(f: Failure) -> Vec<u8> {
    vec![0x30, 0x03, 0x0a, 0x01, f as u8]
}

/// The hash algorithms of a CertID this responder answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-1 (what OpenSSL's client sends by default; RFC 5019 requires it).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    const ALL: [HashAlg; 4] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    fn of_oid(oid: &[u8]) -> Option<HashAlg> {
        const NIST: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
        match oid {
            [0x2b, 0x0e, 0x03, 0x02, 0x1a] => Some(HashAlg::Sha1),
            [p @ .., 1] if p == NIST => Some(HashAlg::Sha256),
            [p @ .., 2] if p == NIST => Some(HashAlg::Sha384),
            [p @ .., 3] if p == NIST => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha1 => sha1::Sha1::digest(data).to_vec(),
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// Its name, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }
}

/// One CertID of a request, borrowed from it.
#[derive(Debug, Clone)]
pub struct CertId<'a> {
    /// The whole CertID TLV, echoed in the response exactly as sent.
    pub raw: &'a [u8],
    /// Its hash algorithm.
    pub alg: HashAlg,
    /// Hash of the issuer's subject (DER).
    pub name_hash: &'a [u8],
    /// Hash of the issuer's public key (the subjectPublicKey BIT STRING's value).
    pub key_hash: &'a [u8],
    /// The serial's big-endian bytes, leading zeros removed.
    pub serial: &'a [u8],
}

/// A parsed OCSPRequest.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The CertIDs, in order (1 to [`MAX_CERT_IDS`]).
    pub ids: Vec<CertId<'a>>,
    /// The nonce extension's extnValue content, echoed as sent (RFC 9654), if any.
    pub nonce: Option<&'a [u8]>,
}

/// (tag, content, the whole TLV, what follows).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);
/// (content, the whole TLV, what follows).
type Parts<'a> = (&'a [u8], &'a [u8], &'a [u8]);
/// Signs a TBS with the responder's key.
type SignFn = Arc<dyn Fn(&[u8]) -> Result<Vec<u8>> + Send + Sync>;

/// One DER TLV at the start of `b`: (tag, content, the whole TLV, rest). Definite lengths of
/// at most 3 length bytes, minimally encoded (DER), within `b`.
fn tlv(b: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, r) = b.split_first()?;
    let (&l0, mut r) = r.split_first()?;
    let len = if l0 < 0x80 {
        l0 as usize
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 3 || r.len() < n || r[0] == 0 {
            return None;
        }
        let v = r[..n].iter().fold(0usize, |a, &x| (a << 8) | x as usize);
        if v < 0x80 {
            return None;
        }
        r = &r[n..];
        v
    };
    if r.len() < len {
        return None;
    }
    let head = b.len() - r.len();
    Some((tag, &r[..len], &b[..head + len], &r[len..]))
}

fn expect<'a>(b: &'a [u8], tag: u8, what: &str) -> Result<Parts<'a>, Refused> {
    match tlv(b) {
        Some((t, content, whole, rest)) if t == tag => Ok((content, whole, rest)),
        Some((t, ..)) => Err(malformed(format!("{what}: tag 0x{t:02x} where 0x{tag:02x} was expected"))),
        None => Err(malformed(format!("{what}: truncated or not DER"))),
    }
}

const OID_NONCE: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02];

/// Parses an OCSPRequest (RFC 6960 section 4.1.1). A signed request's signature is not
/// checked (this responder requires none); unknown non-critical extensions are ignored.
pub fn parse_request(der: &[u8]) -> Result<Request<'_>, Refused> {
    if der.len() > MAX_REQUEST {
        return Err(malformed(format!("request of {} bytes (at most {MAX_REQUEST})", der.len())));
    }
    let (req, _, rest) = expect(der, 0x30, "OCSPRequest")?;
    if !rest.is_empty() {
        return Err(malformed("bytes after the OCSPRequest"));
    }
    let (mut tbs, _, after) = expect(req, 0x30, "tbsRequest")?;
    // optionalSignature [0] EXPLICIT: allowed, not checked.
    if !after.is_empty() {
        let (_, _, r) = expect(after, 0xa0, "optionalSignature")?;
        if !r.is_empty() {
            return Err(malformed("bytes after optionalSignature"));
        }
    }
    if let Some((0xa0, v, _, r)) = tlv(tbs) {
        // version [0] EXPLICIT INTEGER: only v1 (0), and DER leaves the default out, but
        // OpenSSL-compatible clients may write it.
        if v != [0x02, 0x01, 0x00] {
            return Err(malformed("version: only v1 (0) exists"));
        }
        tbs = r;
    }
    if let Some((0xa1, _, _, r)) = tlv(tbs) {
        tbs = r; // requestorName: not used.
    }
    let (mut list, _, mut tbs_rest) = expect(tbs, 0x30, "requestList")?;
    let mut ids = vec![];
    while !list.is_empty() {
        if ids.len() == MAX_CERT_IDS {
            return Err(malformed(format!("more than {MAX_CERT_IDS} certificates in one request")));
        }
        let (one, _, r) = expect(list, 0x30, "Request")?;
        list = r;
        let (cid, raw, single_ext) = expect(one, 0x30, "CertID")?;
        if !single_ext.is_empty() {
            let (_, _, r) = expect(single_ext, 0xa0, "singleRequestExtensions")?;
            if !r.is_empty() {
                return Err(malformed("bytes after singleRequestExtensions"));
            }
        }
        let (alg, _, r) = expect(cid, 0x30, "hashAlgorithm")?;
        let (oid, _, params) = expect(alg, 0x06, "hashAlgorithm OID")?;
        if !(params.is_empty() || params == [0x05, 0x00]) {
            return Err(malformed("hashAlgorithm parameters must be absent or NULL"));
        }
        let (name_hash, _, r) = expect(r, 0x04, "issuerNameHash")?;
        let (key_hash, _, r) = expect(r, 0x04, "issuerKeyHash")?;
        let (serial, _, r) = expect(r, 0x02, "serialNumber")?;
        if !r.is_empty() {
            return Err(malformed("bytes after serialNumber"));
        }
        if serial.is_empty() || serial.len() > 21 || serial[0] & 0x80 != 0 {
            return Err(malformed("serialNumber: empty, negative or longer than 20 octets"));
        }
        let alg = HashAlg::of_oid(oid).ok_or_else(|| Refused {
            status: Failure::Unauthorized,
            why: format!("CertID hash algorithm {} is not one this responder answers in", oid_text(oid)),
        })?;
        let start = serial.iter().position(|&b| b != 0).unwrap_or(serial.len() - 1);
        ids.push(CertId { raw, alg, name_hash, key_hash, serial: &serial[start..] });
    }
    if ids.is_empty() {
        return Err(malformed("requestList is empty"));
    }
    let mut nonce = None;
    if !tbs_rest.is_empty() {
        let (exts, _, r) = expect(tbs_rest, 0xa2, "requestExtensions")?;
        tbs_rest = r;
        let (mut exts, _, r) = expect(exts, 0x30, "Extensions")?;
        if !r.is_empty() {
            return Err(malformed("bytes after Extensions"));
        }
        while !exts.is_empty() {
            let (ext, _, r) = expect(exts, 0x30, "Extension")?;
            exts = r;
            let (oid, _, mut r) = expect(ext, 0x06, "extnID")?;
            let mut critical = false;
            if let Some((0x01, v, _, rr)) = tlv(r) {
                critical = v == [0xff];
                r = rr;
            }
            let (value, _, r) = expect(r, 0x04, "extnValue")?;
            if !r.is_empty() {
                return Err(malformed("bytes after extnValue"));
            }
            if oid == OID_NONCE {
                if nonce.is_some() {
                    return Err(malformed("two nonce extensions"));
                }
                // RFC 9654: the value is an OCTET STRING of 1 to 32 octets.
                let inner = match tlv(value) {
                    Some((0x04, n, _, [])) => n,
                    _ => value,
                };
                if inner.is_empty() || inner.len() > MAX_NONCE {
                    return Err(malformed(format!("nonce of {} octets (1 to {MAX_NONCE})", inner.len())));
                }
                nonce = Some(value);
            } else if critical {
                return Err(malformed(format!("unknown critical extension {}", oid_text(oid))));
            }
        }
    }
    if !tbs_rest.is_empty() {
        return Err(malformed("bytes after requestExtensions"));
    }
    Ok(Request { ids, nonce })
}

/// An OID's dotted form, for messages.
fn oid_text(oid: &[u8]) -> String {
    let Some((&first, rest)) = oid.split_first() else { return "(empty)".into() };
    let mut parts = vec![(first / 40).min(2).to_string(), (first as u32 - 40 * (first / 40).min(2) as u32).to_string()];
    let mut v: u64 = 0;
    for &b in rest {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            parts.push(v.to_string());
            v = 0;
        }
        if parts.len() > 20 {
            break;
        }
    }
    parts.join(".")
}

/// A CA as the responder matches CertIDs against it: its name and key hashed in each
/// algorithm.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// The CA's name in the directory.
    pub ca: String,
    hashes: Vec<(HashAlg, Vec<u8>, Vec<u8>)>,
}

impl Issuer {
    /// From the CA's certificate.
    pub fn of(ca: &Ca) -> Result<Issuer> {
        let (_, x) = x509_parser::parse_x509_certificate(&ca.der).map_err(|e| anyhow!("CA '{}': {e}", ca.name))?;
        let key = &x.public_key().subject_public_key.data;
        let hashes = HashAlg::ALL.iter().map(|a| (*a, a.hash(&ca.subject_raw), a.hash(key))).collect();
        Ok(Issuer { ca: ca.name.clone(), hashes })
    }

    /// Whether a CertID names this CA as the issuer.
    pub fn matches(&self, id: &CertId<'_>) -> bool {
        self.hashes.iter().any(|(a, n, k)| *a == id.alg && n == id.name_hash && k == id.key_hash)
    }
}

/// The status of one certificate (RFC 6960 section 4.2.1, CertStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    /// Issued by this CA and not revoked.
    Good,
    /// Revoked: when, and the reasonCode (None for unspecified).
    Revoked {
        /// The revocation time.
        at: OffsetDateTime,
        /// The reasonCode.
        reason: Option<u8>,
    },
    /// This CA never issued that serial (as `openssl ocsp -index` answers).
    Unknown,
}

/// Serials as keys: pki's are 16 bytes, held as a u128 (a million take 16 MB, not 64);
/// others (imported, longer) as bytes.
#[derive(Debug, Default)]
struct SerialSet {
    short: HashSet<u128>,
    long: HashSet<Vec<u8>>,
}

fn short(serial: &[u8]) -> Option<u128> {
    (serial.len() <= 16).then(|| serial.iter().fold(0u128, |a, &b| (a << 8) | u128::from(b)))
}

fn trimmed(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len().saturating_sub(1));
    &b[start..]
}

impl SerialSet {
    fn insert(&mut self, serial: &[u8]) {
        match short(serial) {
            Some(k) => self.short.insert(k),
            None => self.long.insert(serial.to_vec()),
        };
    }
    fn contains(&self, serial: &[u8]) -> bool {
        match short(serial) {
            Some(k) => self.short.contains(&k),
            None => self.long.contains(serial),
        }
    }
}

/// What the directory says about each serial of one CA, read once per change.
#[derive(Debug, Default)]
pub struct Statuses {
    issued: SerialSet,
    revoked: HashMap<Vec<u8>, (OffsetDateTime, Option<u8>)>,
}

impl Statuses {
    /// Reads the issued serials (inventory, one pass for every CA) and revocations (each CA's
    /// revoked list, as its next CRL will list them) of all of `cas`, the directory's CAs as
    /// the caller already loaded them.
    pub fn load_all(dir: &CaDir, cas: &[Ca]) -> Result<HashMap<String, Statuses>> {
        let mut all: HashMap<String, Statuses> = cas.iter().map(|c| (c.name.clone(), Statuses::default())).collect();
        let mut buf = Vec::with_capacity(20);
        dir.scan_inventory(
            |_, v| {
                if let Ok(v) = v
                    && let Some(s) = all.get_mut(v.ca)
                {
                    buf.clear();
                    if crate::serial::Serial::decode_canonical_into(v.serial, &mut buf) {
                        s.issued.insert(trimmed(&buf));
                    } else if let Ok(serial) = crate::serial::Serial::parse(v.serial) {
                        s.issued.insert(trimmed(serial.bytes()));
                    }
                }
                Ok(())
            },
            |_, _| {},
        )?;
        for ca in cas {
            let s = all.get_mut(&ca.name).expect("one per CA");
            // The CAs it signed are not in the inventory: their certificates are in cas/.
            for other in cas {
                if other.name != ca.name && !other.self_signed && other.issuer_raw == ca.subject_raw {
                    s.issued.insert(trimmed(other.serial.bytes()));
                }
            }
            for (serial, at, reason) in crate::crl::current_revocations(dir, &ca.name)? {
                s.revoked.insert(trimmed(serial.bytes()).to_vec(), (at, reason));
            }
        }
        Ok(all)
    }

    /// The status of a serial (big-endian bytes, leading zeros removed).
    pub fn status(&self, serial: &[u8]) -> CertStatus {
        if let Some((at, reason)) = self.revoked.get(serial) {
            return CertStatus::Revoked { at: *at, reason: *reason };
        }
        if self.issued.contains(serial) { CertStatus::Good } else { CertStatus::Unknown }
    }

    /// Every serial the CA issued (big-endian, leading zeros removed).
    pub fn issued(&self) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = self.issued.long.iter().cloned().collect();
        v.extend(self.issued.short.iter().map(|k| trimmed(&k.to_be_bytes()).to_vec()));
        v.sort();
        v
    }

    /// Serials issued by the CA.
    pub fn issued_count(&self) -> usize {
        self.issued.short.len() + self.issued.long.len()
    }
}

/// Who signs responses: the key, its AlgorithmIdentifier, the SHA-1 of its public key (the
/// ResponderID byKey), and the delegated certificate sent along (None when the CA signs).
pub struct Responder {
    key: SignFn,
    algorithm: Vec<u8>,
    key_hash: Vec<u8>,
    cert: Option<Vec<u8>>,
    /// The responder certificate's serial and end, when delegated.
    pub delegated: Option<(String, OffsetDateTime, OffsetDateTime)>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").field("delegated", &self.delegated).finish_non_exhaustive()
    }
}

/// The signature AlgorithmIdentifier of a key pki signs with.
fn algorithm_of(key: &rcgen::KeyPair) -> Result<Vec<u8>> {
    if let Some(a) = crate::crl_der::algorithm(key) {
        return Ok(a.to_vec());
    }
    if key.algorithm() == &rcgen::PKCS_RSA_SHA256 {
        return Ok(vec![0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00]);
    }
    Err(anyhow!("this key type cannot sign OCSP responses here"))
}

fn spki_key_hash(cert_der: &[u8]) -> Result<Vec<u8>> {
    let (_, x) = x509_parser::parse_x509_certificate(cert_der).map_err(|e| anyhow!("responder certificate: {e}"))?;
    Ok(HashAlg::Sha1.hash(&x.public_key().subject_public_key.data))
}

impl Responder {
    /// The CA signs its own responses (RFC 6960 section 4.2.2.2, the first case).
    pub fn by_ca(ca: &Ca, issuer: Arc<rcgen::Issuer<'static, rcgen::KeyPair>>) -> Result<Responder> {
        let algorithm = algorithm_of(issuer.key())?;
        let key_hash = spki_key_hash(&ca.der)?;
        let sign = move |tbs: &[u8]| -> Result<Vec<u8>> {
            rcgen::SigningKey::sign(issuer.key(), tbs).map_err(|e| anyhow!("cannot sign: {e}"))
        };
        Ok(Responder { key: Arc::new(sign), algorithm, key_hash, cert: None, delegated: None })
    }

    /// A delegated responder: its certificate (DER) and key (PKCS#8 PEM).
    pub fn delegated(cert_der: Vec<u8>, key_pem: &str) -> Result<Responder> {
        let key = rcgen::KeyPair::from_pem(key_pem).map_err(|e| anyhow!("responder key: {e}"))?;
        let algorithm = algorithm_of(&key)?;
        let key_hash = spki_key_hash(&cert_der)?;
        let (_, x) =
            x509_parser::parse_x509_certificate(&cert_der).map_err(|e| anyhow!("responder certificate: {e}"))?;
        let serial = crate::serial::Serial::from_bytes(x.raw_serial()).hex();
        let nb = OffsetDateTime::from_unix_timestamp(x.validity().not_before.timestamp())?;
        let na = OffsetDateTime::from_unix_timestamp(x.validity().not_after.timestamp())?;
        let sign = move |tbs: &[u8]| -> Result<Vec<u8>> {
            rcgen::SigningKey::sign(&key, tbs).map_err(|e| anyhow!("cannot sign: {e}"))
        };
        Ok(Responder {
            key: Arc::new(sign),
            algorithm,
            key_hash,
            cert: Some(cert_der),
            delegated: Some((serial, nb, na)),
        })
    }
}

/// One answer of a response.
pub struct Single<'a> {
    /// The request's CertID, echoed.
    pub id: &'a [u8],
    /// The status.
    pub status: CertStatus,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
}

use crate::certs::der_tlv as der;

/// GeneralizedTime, whole seconds (RFC 5280 section 4.1.2.5.2).
fn generalized(t: OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    der(0x18, s.as_bytes())
}

/// A successful response (RFC 6960 section 4.2.1): BasicOCSPResponse with the responder's
/// key hash as ResponderID, the answers, the nonce extension echoed when given, signed, and
/// the delegated certificate attached.
pub fn response(
    r: &Responder,
    produced_at: OffsetDateTime,
    singles: &[Single<'_>],
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>> {
    let mut responses = vec![];
    for s in singles {
        let mut one = s.id.to_vec();
        match s.status {
            CertStatus::Good => one.extend_from_slice(&[0x80, 0x00]),
            CertStatus::Unknown => one.extend_from_slice(&[0x82, 0x00]),
            CertStatus::Revoked { at, reason } => {
                let mut info = generalized(at);
                if let Some(code) = reason {
                    info.extend(der(0xa0, &der(0x0a, &[code])));
                }
                one.extend(der(0xa1, &info));
            }
        }
        one.extend(generalized(s.this_update));
        one.extend(der(0xa0, &generalized(s.next_update)));
        responses.extend(der(0x30, &one));
    }
    let mut data = der(0xa2, &der(0x04, &r.key_hash));
    data.extend(generalized(produced_at));
    data.extend(der(0x30, &responses));
    if let Some(n) = nonce {
        let mut ext = der(0x06, OID_NONCE);
        ext.extend(der(0x04, n));
        data.extend(der(0xa1, &der(0x30, &der(0x30, &ext))));
    }
    let tbs = der(0x30, &data);
    let sig = (r.key)(&tbs)?;
    let mut basic = tbs;
    basic.extend_from_slice(&r.algorithm);
    let mut bits = vec![0u8];
    bits.extend(sig);
    basic.extend(der(0x03, &bits));
    if let Some(c) = &r.cert {
        basic.extend(der(0xa0, &der(0x30, c)));
    }
    let basic = der(0x30, &basic);
    // ResponseBytes { id-pkix-ocsp-basic, OCTET STRING BasicOCSPResponse }
    let mut rb = der(0x06, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]);
    rb.extend(der(0x04, &basic));
    let mut out = der(0x0a, &[0]);
    out.extend(der(0xa0, &der(0x30, &rb)));
    Ok(der(0x30, &out))
}

impl HashAlg {
    /// The DER AlgorithmIdentifier (with NULL parameters, as OpenSSL writes it).
    fn algorithm_identifier(self) -> Vec<u8> {
        let oid: &[u8] = match self {
            HashAlg::Sha1 => &[0x2b, 0x0e, 0x03, 0x02, 0x1a],
            HashAlg::Sha256 => &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
            HashAlg::Sha384 => &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02],
            HashAlg::Sha512 => &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03],
        };
        let mut a = der(0x06, oid);
        a.extend([0x05, 0x00]);
        der(0x30, &a)
    }

    /// Parses a name given by [`HashAlg::name`].
    pub fn of_name(s: &str) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|a| a.name() == s)
    }
}

impl Issuer {
    /// The CertID of a serial of this CA in algorithm `alg`, as a client builds it.
    pub fn cert_id(&self, alg: HashAlg, serial: &[u8]) -> Vec<u8> {
        let (_, n, k) = self.hashes.iter().find(|(a, ..)| *a == alg).expect("every algorithm is hashed");
        let mut id = alg.algorithm_identifier();
        id.extend(der(0x04, n));
        id.extend(der(0x04, k));
        let serial = trimmed(serial);
        let mut int = vec![];
        if serial.first().is_some_and(|b| b & 0x80 != 0) {
            int.push(0);
        }
        int.extend_from_slice(serial);
        id.extend(der(0x02, &int));
        der(0x30, &id)
    }
}

/// Hash algorithms of the CertIDs pre-signed responses are made for (what clients send:
/// OpenSSL SHA-1 by default, SHA-256 with `-sha256`).
pub const PRESIGNED_ALGS: [HashAlg; 2] = [HashAlg::Sha1, HashAlg::Sha256];

/// Signs, with the CA's own key, a response for every certificate CA `ca` issued in each of
/// [`PRESIGNED_ALGS`], valid until `next_update` (its CRL's), and writes them to
/// `crl/NAME.ocsp.tsv` under the lock, recorded in the ledger: how `pki serve` answers for a
/// CA whose key it never holds (an offline root). Lines: `ALG<TAB>SERIAL<TAB>BASE64 DER`.
/// Returns how many certificates.
pub fn presign(
    dir: &CaDir,
    lock: &crate::store::Locked<'_>,
    ca: &Ca,
    issuer: &Arc<rcgen::Issuer<'static, rcgen::KeyPair>>,
    next_update: OffsetDateTime,
    ctx: &crate::Context<'_>,
) -> Result<usize> {
    use base64::Engine;
    let responder = Responder::by_ca(ca, issuer.clone())?;
    let matcher = Issuer::of(ca)?;
    let cas = dir.ca_names()?.iter().map(|n| Ca::load(dir, n)).collect::<Result<Vec<_>>>()?;
    let statuses = Statuses::load_all(dir, &cas)?.remove(&ca.name).unwrap_or_default();
    let serials = statuses.issued();
    let now = ctx.now.replace_nanosecond(0).unwrap_or(ctx.now);
    let mut text = format!(
        "# OCSP responses of CA '{}' signed in advance by `pki gen-crl --ocsp`: thisUpdate {}, nextUpdate {}\n",
        ca.name,
        crate::certs::rfc3339(now),
        crate::certs::rfc3339(next_update)
    );
    for serial in &serials {
        for alg in PRESIGNED_ALGS {
            let id = matcher.cert_id(alg, serial);
            let single = Single { id: &id, status: statuses.status(serial), this_update: now, next_update };
            let der = response(&responder, now, &[single], None)?;
            let hex: String = serial.iter().map(|b| format!("{b:02X}")).collect();
            text.push_str(&format!(
                "{}\t{hex}\t{}\n",
                alg.name(),
                base64::engine::general_purpose::STANDARD.encode(der)
            ));
        }
    }
    let data = serde_json::json!({
        "ca": ca.name, "certificates": serials.len(), "this_update": crate::certs::rfc3339(now),
        "next_update": crate::certs::rfc3339(next_update),
        "sha256": crate::store::sha256_hex(text.as_bytes()),
    });
    lock.commit_presigned_ocsp(&ca.name, &text, data, ctx.actor, &crate::certs::rfc3339(ctx.now))?;
    Ok(serials.len())
}

/// OCSP responses signed in advance, as `pki serve` reads them back.
#[derive(Debug, Default)]
pub struct Presigned {
    /// By (algorithm, serial): the response DER.
    pub responses: HashMap<(HashAlg, Vec<u8>), Vec<u8>>,
    /// Their thisUpdate and nextUpdate.
    pub this_update: Option<OffsetDateTime>,
    /// nextUpdate.
    pub next_update: Option<OffsetDateTime>,
}

impl Presigned {
    /// Reads CA `ca`'s file, if any.
    pub fn load(dir: &CaDir, ca: &str) -> Result<Option<Presigned>> {
        use base64::Engine;
        let Some(text) = dir.read_presigned_ocsp(ca)? else { return Ok(None) };
        let mut p = Presigned::default();
        let bad = || anyhow!("{}: not a file of OCSP responses", dir.presigned_ocsp_path(ca).display());
        for line in text.lines() {
            if let Some(h) = line.strip_prefix("# ") {
                let time = |k: &str| {
                    h.split(k)
                        .nth(1)
                        .and_then(|r| r.split([',', ' ']).nth(1))
                        .and_then(|t| crate::certs::parse_rfc3339(t).ok())
                };
                p.this_update = time("thisUpdate");
                p.next_update = time("nextUpdate");
                continue;
            }
            let mut f = line.split('\t');
            let (Some(alg), Some(serial), Some(b64), None) = (f.next(), f.next(), f.next(), f.next()) else {
                return Err(bad());
            };
            let alg = HashAlg::of_name(alg).ok_or_else(bad)?;
            let serial = crate::serial::Serial::parse(serial).map_err(|_| bad())?;
            let der = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| bad())?;
            p.responses.insert((alg, trimmed(serial.bytes()).to_vec()), der);
        }
        Ok(Some(p))
    }
}

/// The plan of a delegated responder certificate for CA `ca`: P-256, CN "`ca` OCSP
/// responder", id-kp-OCSPSigning (with id-pkix-ocsp-nocheck), no names, `ttl` long. Issued
/// with [`crate::issuance::Issuing::commit_plan`], so it is in the inventory and the ledger.
pub fn responder_plan(
    issuing: &mut crate::issuance::Issuing<'_>,
    ca: &str,
    ttl: std::time::Duration,
    now: OffsetDateTime,
) -> Result<crate::issuance::Plan> {
    let chain = Arc::new(Ca::chain(issuing.dir, ca)?);
    let not_before = now - crate::certs::BACKDATE;
    let not_after = crate::certs::not_after(now, ttl)?.min(chain[0].not_after);
    Ok(crate::issuance::Plan {
        ca: ca.to_string(),
        subject: vec![("CN".into(), format!("{ca} OCSP responder"))],
        chain,
        profile: None,
        dns: vec![],
        ips: vec![],
        uris: vec![],
        ekus: vec!["OCSPSigning".into()],
        key: crate::issuance::KeySource::Generate(crate::keys::KeyType::P256),
        key_type: "p256".into(),
        not_before,
        not_after,
        renews: None,
        urls: crate::certs::IssuerUrls::default(),
        key_origin: "generated",
        notes: vec![],
        clipped: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_responses_are_three_bytes_of_status() {
        assert_eq!(failure_response(Failure::MalformedRequest), [0x30, 0x03, 0x0a, 0x01, 0x01]);
        assert_eq!(failure_response(Failure::Unauthorized), [0x30, 0x03, 0x0a, 0x01, 0x06]);
    }

    #[test]
    fn oids_print_dotted() {
        assert_eq!(oid_text(&[0x2b, 0x0e, 0x03, 0x02, 0x1a]), "1.3.14.3.2.26");
        assert_eq!(oid_text(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]), "2.16.840.1.101.3.4.2.1");
    }

    #[test]
    fn garbage_is_malformed_and_never_panics() {
        for b in [&b""[..], b"\x30", b"\x30\x80", b"\x30\x84\xff\xff\xff\xff", b"\x30\x00", b"\x30\x02\x30\x00"] {
            assert_eq!(parse_request(b).unwrap_err().status, Failure::MalformedRequest, "{b:?}");
        }
    }
}
