//! A CRL (RFC 5280 §5) written straight into one buffer of the exact size. rcgen's general
//! encoder first builds a value per entry and grows its output as it goes; for a CRL of 100,000
//! entries that allocation work cost more than the signature (bench/run.sh, P3). The output is
//! the same bytes rcgen writes (a test compares them), signed with the CA's key.

use anyhow::{Result, anyhow};
use time::OffsetDateTime;

/// One revoked certificate as the CRL lists it.
pub struct Revoked<'a> {
    /// The serial's big-endian bytes (leading zero bytes allowed; they are dropped).
    pub serial: &'a [u8],
    pub revoked_at: OffsetDateTime,
    /// The reasonCode value (RFC 5280 §5.3.1); None for unspecified, which is left out.
    pub reason: Option<u8>,
    pub invalidity_date: Option<OffsetDateTime>,
}

/// Everything of the CRL but the entries.
pub struct Header<'a> {
    /// DER of the signature AlgorithmIdentifier (the same goes in the TBS and the outer list).
    pub algorithm: &'a [u8],
    /// The CA certificate's subject, as its DER bytes: the CRL's issuer must match it exactly.
    pub issuer: &'a [u8],
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub number: u64,
    /// The CA's subject key identifier (the CRL's authority key identifier).
    pub aki: &'a [u8],
}

/// The signature AlgorithmIdentifier of a CA key, for the keys pki makes CAs with; None for
/// others (the caller then uses rcgen's general encoder).
pub fn algorithm(key: &rcgen::KeyPair) -> Option<&'static [u8]> {
    let alg = key.algorithm();
    if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        Some(&[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        Some(&[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03])
    } else if alg == &rcgen::PKCS_ED25519 {
        Some(&[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70])
    } else {
        None
    }
}

const OID_AKI: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x23];
const OID_CRL_NUMBER: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x14];
const OID_REASON: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x15];
const OID_INVALIDITY: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x18];

/// Bytes a DER length field takes.
fn len_len(n: usize) -> usize {
    match n {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xff_ffff => 4,
        _ => 5,
    }
}

/// A whole TLV's size for `n` content bytes.
fn tlv(n: usize) -> usize {
    1 + len_len(n) + n
}

fn put_header(out: &mut Vec<u8>, tag: u8, n: usize) {
    out.push(tag);
    match len_len(n) {
        1 => out.push(n as u8),
        k => {
            out.push(0x80 | (k as u8 - 1));
            for i in (0..k - 1).rev() {
                out.push((n >> (8 * i)) as u8);
            }
        }
    }
}

/// A non-negative INTEGER's content: minimal, with a 0x00 when the top bit is set.
fn integer_content(bytes: &[u8]) -> (bool, &[u8]) {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    let b = if bytes.is_empty() { &[0u8][..] } else { &bytes[start..] };
    (b[0] & 0x80 != 0, b)
}

fn integer_len(bytes: &[u8]) -> usize {
    let (pad, b) = integer_content(bytes);
    tlv(b.len() + usize::from(pad))
}

fn put_integer(out: &mut Vec<u8>, bytes: &[u8]) {
    let (pad, b) = integer_content(bytes);
    put_header(out, 0x02, b.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(b);
}

/// UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5), as rcgen writes them.
fn time_len(t: OffsetDateTime) -> usize {
    if (1950..2050).contains(&t.year()) { 15 } else { 17 }
}

fn put_digits(out: &mut Vec<u8>, v: u32, n: usize) {
    for i in (0..n).rev() {
        out.push(b'0' + (v / 10u32.pow(i as u32) % 10) as u8);
    }
}

fn put_time(out: &mut Vec<u8>, t: OffsetDateTime, generalized: bool) {
    if generalized {
        out.extend_from_slice(&[0x18, 15]);
        put_digits(out, t.year() as u32, 4);
    } else {
        out.extend_from_slice(&[0x17, 13]);
        put_digits(out, t.year() as u32 % 100, 2);
    }
    for v in [u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second()] {
        put_digits(out, u32::from(v), 2);
    }
    out.push(b'Z');
}

fn put_choice_time(out: &mut Vec<u8>, t: OffsetDateTime) {
    put_time(out, t, !(1950..2050).contains(&t.year()));
}

/// The entry's extensions' content length (0: none).
fn entry_exts(r: &Revoked<'_>) -> usize {
    let reason = r.reason.map_or(0, |_| tlv(OID_REASON.len() + tlv(3)));
    let inv = r.invalidity_date.map_or(0, |_| tlv(OID_INVALIDITY.len() + tlv(17)));
    reason + inv
}

fn entry_content(r: &Revoked<'_>) -> usize {
    let exts = entry_exts(r);
    integer_len(r.serial) + time_len(r.revoked_at) + if exts > 0 { tlv(exts) } else { 0 }
}

fn put_entry(out: &mut Vec<u8>, r: &Revoked<'_>) {
    put_header(out, 0x30, entry_content(r));
    put_integer(out, r.serial);
    put_choice_time(out, r.revoked_at);
    let exts = entry_exts(r);
    if exts == 0 {
        return;
    }
    put_header(out, 0x30, exts);
    if let Some(code) = r.reason {
        put_header(out, 0x30, OID_REASON.len() + tlv(3));
        out.extend_from_slice(OID_REASON);
        out.extend_from_slice(&[0x04, 3, 0x0a, 1, code]);
    }
    if let Some(t) = r.invalidity_date {
        put_header(out, 0x30, OID_INVALIDITY.len() + tlv(17));
        out.extend_from_slice(OID_INVALIDITY);
        out.extend_from_slice(&[0x04, 17]);
        // InvalidityDate is a GeneralizedTime whatever the year (RFC 5280 §5.3.2).
        put_time(out, t, true);
    }
}

/// The TBSCertList, then `sign` over it, then the CertificateList around both.
pub fn encode(h: &Header<'_>, entries: &[Revoked<'_>], sign: impl FnOnce(&[u8]) -> Result<Vec<u8>>) -> Result<Vec<u8>> {
    let number = h.number.to_be_bytes();
    let aki_value = tlv(tlv(h.aki.len()));
    let aki_ext = tlv(OID_AKI.len() + tlv(aki_value));
    let num_ext = tlv(OID_CRL_NUMBER.len() + tlv(integer_len(&number)));
    let exts = tlv(tlv(aki_ext + num_ext));
    let list: usize = entries.iter().map(|r| tlv(entry_content(r))).sum();
    let tbs_content = 3
        + h.algorithm.len()
        + h.issuer.len()
        + time_len(h.this_update)
        + time_len(h.next_update)
        + if entries.is_empty() { 0 } else { tlv(list) }
        + exts;
    let tbs_len = tlv(tbs_content);
    // The CRL is written in place: the TBS goes after room for the outer header, whose size
    // depends on the signature's length only at a length-field boundary (handled below).
    let outer_guess = tbs_len + h.algorithm.len() + tlv(105);
    let head = 1 + len_len(outer_guess);
    let mut out = Vec::with_capacity(head + outer_guess);
    out.resize(head, 0);
    let tbs = &mut out;
    put_header(tbs, 0x30, tbs_content);
    tbs.extend_from_slice(&[0x02, 1, 1]); // v2
    tbs.extend_from_slice(h.algorithm);
    tbs.extend_from_slice(h.issuer);
    put_choice_time(tbs, h.this_update);
    put_choice_time(tbs, h.next_update);
    if !entries.is_empty() {
        put_header(tbs, 0x30, list);
        for r in entries {
            put_entry(tbs, r);
        }
    }
    put_header(tbs, 0xa0, tlv(aki_ext + num_ext));
    put_header(tbs, 0x30, aki_ext + num_ext);
    put_header(tbs, 0x30, OID_AKI.len() + tlv(aki_value));
    tbs.extend_from_slice(OID_AKI);
    put_header(tbs, 0x04, aki_value);
    put_header(tbs, 0x30, tlv(h.aki.len()));
    put_header(tbs, 0x80, h.aki.len());
    tbs.extend_from_slice(h.aki);
    put_header(tbs, 0x30, OID_CRL_NUMBER.len() + tlv(integer_len(&number)));
    tbs.extend_from_slice(OID_CRL_NUMBER);
    put_header(tbs, 0x04, integer_len(&number));
    put_integer(tbs, &number);
    if out.len() - head != tbs_len {
        return Err(anyhow!("internal error: CRL length computed as {tbs_len}, written {}", out.len() - head));
    }
    let sig = sign(&out[head..])?;
    out.extend_from_slice(h.algorithm);
    put_header(&mut out, 0x03, sig.len() + 1);
    out.push(0);
    out.extend_from_slice(&sig);
    let content = out.len() - head;
    let mut header = Vec::with_capacity(6);
    put_header(&mut header, 0x30, content);
    if header.len() == head {
        out[..head].copy_from_slice(&header);
    } else {
        out.splice(..head, header);
    }
    Ok(out)
}

/// The PEM form of a CRL (64-character lines, LF, as rcgen and OpenSSL write it), encoded into
/// one buffer: a large CRL's PEM is megabytes.
pub fn pem(der: &[u8]) -> String {
    use base64::Engine;
    const HEAD: &str = "-----BEGIN X509 CRL-----\n";
    const TAIL: &str = "-----END X509 CRL-----\n";
    let b64_len = der.len().div_ceil(3) * 4;
    let bytes = Vec::with_capacity(HEAD.len() + b64_len + b64_len / 64 + 1 + TAIL.len());
    let mut out = String::from_utf8(bytes).expect("empty");
    out.push_str(HEAD);
    let mut line = [0u8; 64];
    for chunk in der.chunks(48) {
        let n = base64::engine::general_purpose::STANDARD.encode_slice(chunk, &mut line).expect("48 bytes fit in 64");
        out.push_str(std::str::from_utf8(&line[..n]).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(TAIL);
    out
}

/// A CRL read back without a general parser: what the evidence check needs, borrowed from
/// the DER (no allocation per entry; a CRL may list a hundred thousand).
pub struct Decoded<'a> {
    /// The signed part (TBSCertList), whole.
    pub tbs: &'a [u8],
    /// The signature's bytes (the BIT STRING's content without its unused-bits byte).
    pub signature: &'a [u8],
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// The CRL number, if present and at most 64 bits.
    pub number: Option<u64>,
    /// The revokedCertificates list's content (validated; walked by [`Decoded::entries`]).
    list: &'a [u8],
}

impl<'a> Decoded<'a> {
    /// (serial bytes as encoded, reasonCode if present) of each entry, in order, read from the
    /// DER as it is walked (no list of a hundred thousand built first).
    pub fn entries(&self) -> impl Iterator<Item = EntryRef<'a>> + 'a {
        let mut l = self.list;
        std::iter::from_fn(move || {
            if l.is_empty() {
                return None;
            }
            let (e, rest) = read_entry(l)?;
            l = rest;
            Some(e)
        })
    }
}

/// A CRL entry as the evidence check reads it: (serial bytes as encoded, reasonCode).
type EntryRef<'a> = (&'a [u8], Option<u8>);

/// One revokedCertificates entry at the start of `l`, and what follows it.
fn read_entry(l: &[u8]) -> Option<(EntryRef<'_>, &[u8])> {
    let (0x30, entry, rest) = read_tlv(l)? else { return None };
    let (0x02, serial, e) = read_tlv(entry)? else { return None };
    let (_, _, e) = read_tlv(e)?;
    let mut reason = None;
    if let Some((0x30, exts, _)) = read_tlv(e)
        && let Some((0x0a, code, _)) = extension(exts, OID_REASON)?.and_then(read_tlv)
    {
        reason = code.last().copied();
    }
    Some(((serial, reason), rest))
}

/// The extnValue content (the DER inside its OCTET STRING) of the extension `oid` in an
/// Extensions SEQUENCE's content; `Some(None)` when absent, `None` when malformed.
fn extension<'a>(mut exts: &'a [u8], oid: &[u8]) -> Option<Option<&'a [u8]>> {
    while !exts.is_empty() {
        let (0x30, ext, rest) = read_tlv(exts)? else { return None };
        exts = rest;
        if ext.starts_with(oid) {
            let (_, _, v) = read_tlv(ext)?;
            // An optional `critical` BOOLEAN, then the OCTET STRING.
            return Some(Some(match read_tlv(v)? {
                (0x01, _, r) => read_tlv(r)?.1,
                (_, v, _) => v,
            }));
        }
    }
    Some(None)
}

/// One DER TLV at the start of `b`: (tag, content, rest).
fn read_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        l0 as usize
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let v = b[..n].iter().fold(0usize, |a, &x| (a << 8) | x as usize);
        b = &b[n..];
        v
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

fn der_time(tag: u8, v: &[u8]) -> Option<OffsetDateTime> {
    let s = std::str::from_utf8(v).ok()?;
    let (year, rest) = match tag {
        0x17 if s.len() == 13 => {
            let y: i32 = s[..2].parse().ok()?;
            (if y < 50 { 2000 + y } else { 1900 + y }, &s[2..])
        }
        0x18 if s.len() == 15 => (s[..4].parse().ok()?, &s[4..]),
        _ => return None,
    };
    let n = |i: usize| rest.get(i..i + 2).and_then(|x| x.parse::<u8>().ok());
    let date = time::Date::from_calendar_date(year, time::Month::try_from(n(0)?).ok()?, n(2)?).ok()?;
    let t = time::Time::from_hms(n(4)?, n(6)?, n(8)?).ok()?;
    (rest.as_bytes().get(10) == Some(&b'Z')).then(|| date.with_time(t).assume_utc())
}

/// Reads a CRL's signed part, signature, thisUpdate, number and entries; None if it is not a
/// well-formed v2 CRL.
pub fn decode(der: &[u8]) -> Option<Decoded<'_>> {
    let (0x30, outer, _) = read_tlv(der)? else { return None };
    // The TBS is kept whole (tag and length included): it is what was signed.
    let (0x30, tbs_body, after_tbs) = read_tlv(outer)? else { return None };
    let tbs = &outer[..outer.len() - after_tbs.len()];
    let (0x30, _alg, rest) = read_tlv(after_tbs)? else { return None };
    let (0x03, bits, _) = read_tlv(rest)? else { return None };
    let signature = bits.get(1..)?;
    let (0x02, _version, b) = read_tlv(tbs_body)? else { return None };
    let (0x30, _sig_alg, b) = read_tlv(b)? else { return None };
    let (0x30, _issuer, b) = read_tlv(b)? else { return None };
    let (tag, tu, mut b) = read_tlv(b)?;
    let this_update = der_time(tag, tu)?;
    if let Some((tag @ (0x17 | 0x18), _, rest)) = read_tlv(b) {
        let _ = tag;
        b = rest;
    }
    let mut list: &[u8] = &[];
    if let Some((0x30, l, rest)) = read_tlv(b) {
        b = rest;
        list = l;
        // Validate every entry now, so that walking them later cannot stop short.
        let mut l = l;
        while !l.is_empty() {
            l = read_entry(l)?.1;
        }
    }
    let mut number = None;
    if let Some((0xa0, exts, _)) = read_tlv(b) {
        let (0x30, exts, _) = read_tlv(exts)? else { return None };
        if let Some((0x02, n, _)) = extension(exts, OID_CRL_NUMBER)?.and_then(read_tlv) {
            let n = n.strip_prefix(&[0]).unwrap_or(n);
            number = (n.len() <= 8).then(|| n.iter().fold(0u64, |a, &x| (a << 8) | x as u64));
        }
    }
    Some(Decoded { tbs, signature, this_update, number, list })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        CertificateParams, CertificateRevocationListParams, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData,
        RevocationReason, RevokedCertParams, SerialNumber, SigningKey,
    };
    use x509_parser::prelude::*;

    const REASONS: [RevocationReason; 4] = [
        RevocationReason::KeyCompromise,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::AaCompromise,
    ];

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    /// Our bytes and rcgen's for the same CRL, each parsed; with Ed25519 (deterministic
    /// signatures) the whole DER must be identical.
    fn compare(key: KeyPair, n: usize) {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name.push(rcgen::DnType::CommonName, "Test CA");
        let cert = ca.self_signed(&key).unwrap();
        let (_, x) = X509Certificate::from_der(cert.der()).unwrap();
        let ski = vec![7u8; 20];
        let mut serials: Vec<Vec<u8>> = vec![];
        let mut seed = 0x1234_5678_9abc_def0u64;
        for i in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut s = seed.to_be_bytes().repeat(2);
            s[0] = if i % 3 == 0 { 0x80 | s[0] } else { s[0] & 0x7f }; // both signs of the top bit
            if i % 7 == 0 {
                s[0] = 0;
            }
            serials.push(s);
        }
        let when =
            |i: usize| if i.is_multiple_of(5) { t(2_600_000_000 + i as i64) } else { t(1_780_000_000 + i as i64) };
        let ours: Vec<Revoked<'_>> = serials
            .iter()
            .enumerate()
            .map(|(i, s)| Revoked {
                serial: s,
                revoked_at: when(i),
                reason: (i % 4 != 0).then(|| REASONS[i % 4] as u8),
                invalidity_date: (i % 2 == 0).then(|| t(1_770_000_000)),
            })
            .collect();
        let theirs = CertificateRevocationListParams {
            this_update: t(1_790_000_000),
            next_update: t(2_600_000_000),
            crl_number: SerialNumber::from_slice(&[0x80, 0x01]),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .enumerate()
                .map(|(i, s)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(s),
                    revocation_time: when(i),
                    reason_code: (i % 4 != 0).then(|| REASONS[i % 4]),
                    invalidity_date: (i % 2 == 0).then(|| t(1_770_000_000)),
                })
                .collect(),
            key_identifier_method: KeyIdMethod::PreSpecified(ski.clone()),
        }
        .signed_by(&rcgen::Issuer::new(ca, &key))
        .unwrap();
        let header = Header {
            algorithm: algorithm(&key).unwrap(),
            issuer: x.subject().as_raw(),
            this_update: t(1_790_000_000),
            next_update: t(2_600_000_000),
            number: 0x8001,
            aki: &ski,
        };
        let mine = encode(&header, &ours, |tbs| Ok(key.sign(tbs)?)).unwrap();
        let (_, a) = CertificateRevocationList::from_der(&mine).unwrap();
        let (_, b) = CertificateRevocationList::from_der(theirs.der()).unwrap();
        assert_eq!(a.tbs_cert_list.as_ref(), b.tbs_cert_list.as_ref(), "TBS differs from rcgen's");
        a.verify_signature(x.public_key()).expect("our signature verifies");
        // Our decoder reads back what x509-parser reads (from rcgen's bytes, to be independent).
        let d = decode(theirs.der()).expect("decodes");
        assert_eq!(d.tbs, b.tbs_cert_list.as_ref());
        assert_eq!(d.signature, b.signature_value.data.as_ref());
        assert_eq!(d.number, Some(0x8001));
        assert_eq!(d.this_update, t(1_790_000_000));
        let want: Vec<(Vec<u8>, Option<u8>)> = b
            .iter_revoked_certificates()
            .map(|r| (r.raw_serial().to_vec(), r.reason_code().map(|(_, c)| c.0)))
            .collect();
        let got: Vec<(Vec<u8>, Option<u8>)> = d.entries().map(|(s, r)| (s.to_vec(), r)).collect();
        assert_eq!(got, want);
        assert!(decode(&theirs.der()[..theirs.der().len() - 1]).is_none());
        if key.algorithm() == &rcgen::PKCS_ED25519 {
            assert_eq!(mine, theirs.der().as_ref(), "the whole CRL differs from rcgen's");
            assert_eq!(pem(&mine), theirs.pem().unwrap(), "the PEM differs from rcgen's");
        }
        let _ = key.subject_public_key_info();
    }

    #[test]
    fn same_bytes_as_rcgen() {
        for n in [0, 1, 2, 3, 5, 8, 130, 1000] {
            compare(KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(), n);
            compare(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(), n);
        }
    }
}
