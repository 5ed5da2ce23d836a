//! Certificate serial numbers: 16 random bytes, positive and DER-minimal, printed as
//! OpenSSL prints them (upper-case hex) and accepted in any case, with or without colons.

use crate::error::PkiError;

/// A serial as its big-endian bytes, without leading zero bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// A fresh serial: 16 bytes from the OS random source. The first byte is kept in 0x01..=0x7f so
    /// the INTEGER is positive and needs no leading 0x00, which makes every serial exactly
    /// 16 bytes / 32 hex digits (fixed width in the inventory) with 127 bits of randomness.
    pub fn random() -> anyhow::Result<Serial> {
        Serial::random_from(&crate::context::OsRandom)
    }

    /// A fresh serial from `rng` (a [`Context`](crate::Context)'s randomness), with the same
    /// shape as [`Serial::random`].
    pub fn random_from(rng: &dyn crate::context::Random) -> anyhow::Result<Serial> {
        let mut b = [0u8; 16];
        loop {
            rng.fill(&mut b)?;
            b[0] &= 0x7f;
            if b[0] != 0 {
                return Ok(Serial(b.to_vec()));
            }
        }
    }

    /// From the bytes of a DER INTEGER (as x509-parser's `raw_serial` gives them).
    pub fn from_bytes(bytes: &[u8]) -> Serial {
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
        Serial(bytes[start..].to_vec())
    }

    /// Parses hex as `openssl x509 -noout -serial` prints it (colons allowed).
    pub fn parse(s: &str) -> Result<Serial, PkiError> {
        let bad = || PkiError::BadSerial { value: s.to_string() };
        let mut t = s.trim();
        if let Some(rest) = t.strip_prefix("serial=") {
            t = rest;
        }
        if let Some(rest) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            t = rest;
        }
        // The form pki stores (even-length plain hex) decodes directly: CRLs parse 100,000s.
        let mut canonical = Vec::with_capacity(t.len() / 2);
        if Self::decode_canonical_into(t, &mut canonical) {
            return Ok(Serial(canonical));
        }
        // Decoded right to left, so an odd number of digits gets its leading zero for free.
        let digits = t.bytes().filter(|&b| b != b':');
        let n = digits.clone().count();
        if n == 0 || n > 80 {
            return Err(bad());
        }
        let mut bytes = vec![0u8; n.div_ceil(2)];
        for (i, c) in digits.rev().enumerate() {
            let v = (c as char).to_digit(16).ok_or_else(bad)? as u8;
            let idx = bytes.len() - 1 - i / 2;
            bytes[idx] |= if i % 2 == 0 { v } else { v << 4 };
        }
        Ok(Serial::from_bytes(&bytes))
    }

    /// Appends the bytes of a serial in the canonical form pki stores (even-length hex, no
    /// separators) to `out`, without an allocation; false (nothing appended) for any other form.
    pub fn decode_canonical_into(hex: &str, out: &mut Vec<u8>) -> bool {
        const NIBBLE: [u8; 256] = hex_digit_values(true);
        let b = hex.as_bytes();
        if b.is_empty() || !b.len().is_multiple_of(2) || b.len() > 80 {
            return false;
        }
        // Decoded on the stack, then appended at once (gen-crl decodes 100,000 of them).
        let mut buf = [0u8; 40];
        let n = b.len() / 2;
        for (i, p) in b.chunks_exact(2).enumerate() {
            let (h, l) = (NIBBLE[usize::from(p[0])], NIBBLE[usize::from(p[1])]);
            if h > 15 || l > 15 {
                return false;
            }
            buf[i] = (h << 4) | l;
        }
        // DER-minimal: no leading zero bytes (but keep one byte for zero itself).
        let zeros = buf[..n].iter().take_while(|&&x| x == 0).count().min(n - 1);
        out.extend_from_slice(&buf[zeros..n]);
        true
    }

    /// The serial as a fixed 16-byte key (big-endian, zero-padded), for sets of a million
    /// serials; None for serials longer than pki issues.
    pub fn key16(&self) -> Option<[u8; 16]> {
        let b = &self.0;
        let mut k = [0u8; 16];
        k.get_mut(16usize.checked_sub(b.len())?..)?.copy_from_slice(b);
        Some(k)
    }

    /// The serial's bytes, big-endian, without a sign byte.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Upper-case hex without separators, as `openssl x509 -noout -serial` prints it.
    pub fn hex(&self) -> String {
        hex(&self.0, b"0123456789ABCDEF")
    }
}

impl std::fmt::Display for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_matches_the_formatter() {
        let bytes: Vec<u8> = (0..=255).collect();
        let want: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex(&bytes, b"0123456789ABCDEF"), want);
        assert_eq!(hex(&bytes, b"0123456789abcdef"), want.to_lowercase());
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            crate::store::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn random_serials_are_positive_minimal_and_fixed_width() {
        for _ in 0..1000 {
            let s = Serial::random().unwrap();
            assert_eq!(s.bytes().len(), 16);
            assert!(s.bytes()[0] >= 1 && s.bytes()[0] <= 0x7f);
            assert_eq!(s.hex().len(), 32);
        }
    }

    #[test]
    fn accepts_openssl_and_colon_forms_in_any_case() {
        let a = Serial::parse("4A:0b:FF").unwrap();
        assert_eq!(a.hex(), "4A0BFF");
        assert_eq!(Serial::parse("serial=4a0bff").unwrap(), a);
        assert_eq!(Serial::parse("0x004A0BFF").unwrap(), a);
        assert_eq!(Serial::from_bytes(&[0, 0x4a, 0x0b, 0xff]), a);
    }

    #[test]
    fn rejects_non_hex() {
        for bad in ["", "xyz", "12 34", ":::"] {
            assert_eq!(Serial::parse(bad).unwrap_err(), PkiError::BadSerial { value: bad.into() });
        }
    }
}

#[cfg(test)]
mod canonical_tests {
    use super::Serial;

    #[test]
    fn canonical_hex_decodes_like_parse_and_refuses_the_rest() {
        for hex in ["4A0BFF00112233445566778899AABBCC", "0080", "00", "7f", "000000AB"] {
            let mut out = vec![9];
            assert!(Serial::decode_canonical_into(hex, &mut out), "{hex}");
            assert_eq!(&out[1..], Serial::parse(hex).unwrap().bytes(), "{hex}");
        }
        for bad in ["", "ABC", "4A:0B", "zz", "0x10"] {
            let mut out = vec![9];
            assert!(!Serial::decode_canonical_into(bad, &mut out), "{bad}");
            assert_eq!(out, [9], "{bad} left bytes behind");
        }
    }
}

#[cfg(test)]
mod key_tests {
    use super::Serial;

    #[test]
    fn key16_pads_and_round_trips() {
        let s = Serial::parse("00AB").unwrap();
        let k = s.key16().unwrap();
        assert_eq!(k[15], 0xAB);
        assert!(k[..15].iter().all(|&b| b == 0));
        assert_eq!(Serial::from_bytes(&k), s);
        assert!(Serial::parse(&"7F".repeat(17)).unwrap().key16().is_none());
    }
}

/// The value of each byte as a hex digit, 0xFF for a byte that is not one: 0-9 and a-f, and
/// A-F with `upper` (hashes are written in lower case, serials in upper).
pub(crate) const fn hex_digit_values(upper: bool) -> [u8; 256] {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        if upper {
            t[b'A' as usize + i] = 10 + i as u8;
        }
        i += 1;
    }
    t
}

/// A serial's hex as lists and inventories may write it, without leading "00" pairs: the form
/// [`Serial::hex`] gives, so that a list written by another tool compares equal.
pub fn canonical_hex(s: &str) -> &str {
    let mut s = s;
    while s.len() > 2 && s.starts_with("00") {
        s = &s[2..];
    }
    s
}

/// Upper-case hex of a DER INTEGER's bytes without leading zero bytes, into `buf` (no
/// allocation: for comparing a CRL's hundred thousand serials).
pub fn hex_into<'b>(bytes: &[u8], buf: &'b mut [u8; 2 * 64]) -> Option<&'b str> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    let bytes = &bytes[start..];
    if bytes.len() > 64 {
        return None;
    }
    const D: &[u8; 16] = b"0123456789ABCDEF";
    for (i, b) in bytes.iter().enumerate() {
        buf[2 * i] = D[usize::from(b >> 4)];
        buf[2 * i + 1] = D[usize::from(b & 15)];
    }
    std::str::from_utf8(&buf[..2 * bytes.len()]).ok()
}

/// Hex text of `bytes` with the given 16 digits (serials are upper case, hashes lower case).
/// A table, not `format!` per byte: issuing computes several per certificate.
pub fn hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(digits[usize::from(b >> 4)] as char);
        out.push(digits[usize::from(b & 15)] as char);
    }
    out
}
