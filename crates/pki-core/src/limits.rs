//! The size limits of everything pki reads, so that `/dev/zero` or a 10 GB file given as a CSR,
//! a passphrase file or a batch gives a one-line error at once instead of exhausting memory.
//! The table in docs/limits.md lists them; a test checks each.

use std::io::{BufRead, Read};

use anyhow::{Result, bail};

/// A CSR, a certificate or a chain file, a private key: 1 MiB.
pub const MAX_OBJECT: u64 = 1 << 20;
/// `pki inspect` input: 64 MiB (a large CRL).
pub const MAX_INSPECT: u64 = 64 << 20;
/// A passphrase file's first line: 4 KiB.
pub const MAX_PASSPHRASE: u64 = 4096;
/// `pki.toml`: 1 MiB.
pub const MAX_SETTINGS: u64 = 1 << 20;
/// One line of a batch, the ledger, the inventory or a revocation list: 64 KiB.
pub const MAX_LINE: usize = 64 << 10;
/// A CRL or revocation list of the directory: 1 GiB (tens of millions of entries).
pub const MAX_CRL: u64 = 1 << 30;
/// Largest ACME state file `pki serve` reads back (an order holds its certificate chain).
pub const MAX_ACME_OBJECT: u64 = 256 << 10;

/// Human words for a limit: "1 MiB", "4 KiB".
pub fn show(limit: u64) -> String {
    match limit {
        l if l >= 1 << 30 && l % (1 << 30) == 0 => format!("{} GiB", l >> 30),
        l if l >= 1 << 20 && l % (1 << 20) == 0 => format!("{} MiB", l >> 20),
        l if l >= 1 << 10 && l % (1 << 10) == 0 => format!("{} KiB", l >> 10),
        l => format!("{l} bytes"),
    }
}

/// Reads all of `r`, refusing more than `limit` bytes with an error naming `what`.
pub fn read_bounded(r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>> {
    let mut buf = vec![];
    r.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| anyhow::Error::new(e).context(format!("cannot read {what}")))?;
    if buf.len() as u64 > limit {
        bail!("{what} is larger than {}: refusing to read it", show(limit));
    }
    Ok(buf)
}

/// Reads a file whole, at most `limit` bytes.
pub fn read_file(path: &std::path::Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| anyhow::Error::new(e).context(format!("cannot read {what}")))?;
    read_bounded(f, limit, what)
}

/// Reads the next line, newline included, into `buf` (cleared first): at most [`MAX_LINE`]
/// bytes, else an error naming `what`. Returns the bytes read (0 at the end).
pub fn next_line(r: &mut impl BufRead, buf: &mut Vec<u8>, what: &dyn Fn() -> String) -> Result<usize> {
    let n = take_line(r, buf)?;
    if overlong(buf) {
        bail!("{}: a line is longer than {}: refusing to read it", what(), show(MAX_LINE as u64));
    }
    Ok(n)
}

/// Reads up to [`MAX_LINE`] + 1 bytes of the next line into `buf` (cleared first).
fn take_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.clear();
    r.take(MAX_LINE as u64 + 1).read_until(b'\n', buf)
}

/// Whether what [`take_line`] read is the start of a line longer than [`MAX_LINE`].
fn overlong(buf: &[u8]) -> bool {
    buf.len() > MAX_LINE && buf.last() != Some(&b'\n')
}

/// Reads one line (without its newline) of at most [`MAX_LINE`] bytes; `None` at the end.
/// A longer line is an error naming `what` and the line number `n`.
pub fn read_line(r: &mut impl BufRead, n: usize, what: &str) -> Result<Option<String>> {
    let mut buf = vec![];
    let got =
        take_line(r, &mut buf).map_err(|e| anyhow::Error::new(e).context(format!("cannot read {what} line {n}")))?;
    if got == 0 {
        return Ok(None);
    }
    if overlong(&buf) {
        bail!("{what} line {n} is longer than {}: refusing to read it", show(MAX_LINE as u64));
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map(Some).map_err(|_| anyhow::anyhow!("{what} line {n} is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_for_endless_input() {
        let zero = std::io::repeat(0);
        let e = read_bounded(zero, MAX_OBJECT, "a CSR").unwrap_err();
        assert_eq!(e.to_string(), "a CSR is larger than 1 MiB: refusing to read it");
        let mut endless = std::io::BufReader::new(std::io::repeat(b'x'));
        let e = read_line(&mut endless, 1, "batch").unwrap_err();
        assert_eq!(e.to_string(), "batch line 1 is longer than 64 KiB: refusing to read it");
        let mut two = std::io::Cursor::new(b"a\r\nb".to_vec());
        assert_eq!(read_line(&mut two, 1, "x").unwrap().as_deref(), Some("a"));
        assert_eq!(read_line(&mut two, 2, "x").unwrap().as_deref(), Some("b"));
        assert_eq!(read_line(&mut two, 3, "x").unwrap(), None);
    }
}
