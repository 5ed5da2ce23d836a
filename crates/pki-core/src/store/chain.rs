//! The ledger's hash chain checked on every core: the file is cut into one range per core at
//! line boundaries, each range hashed and chained on its own thread (raw bytes, `seq` and
//! `prev` picked out without a JSON parse), and the ranges' ends joined. Every `pki audit` runs
//! it, so it is what a 1,000,000-record ledger costs cron (README, P4). Any break found sends
//! the caller to the one-thread check, which says exactly what kind of tampering it is.

use std::fs::File;
use std::os::unix::fs::FileExt;

use anyhow::{Context, Result, bail};
use memchr::memmem;

use super::head;

/// What one range of the ledger holds.
#[derive(Default)]
pub(super) struct Range {
    /// (seq, prev) of its first record.
    first: Option<(u64, [u8; 32])>,
    /// (seq, hash) of its last record.
    last: Option<(u64, [u8; 32])>,
    /// Records read.
    pub(super) records: u64,
    /// A malformed line or a break inside the range.
    broken: bool,
    pub(super) signed: u64,
    pub(super) last_signed: Option<(u64, String)>,
    /// Key-using records after the range's last signed one (all of them if it has none).
    pub(super) unsigned_after: Vec<(u64, String)>,
    pub(super) hash_at: Option<[u8; 32]>,
    /// (seq, event, line) of the records whose event the caller asked for.
    pub(super) events: Vec<(u64, String, String)>,
}

impl Range {
    /// The hash of its last record.
    pub(super) fn last_hash(&self) -> Option<[u8; 32]> {
        self.last.map(|(_, h)| h)
    }
}

/// Lower-case hex digit values (pki writes hashes in lower case); 0xff for anything else.
const HEX: [u8; 256] = crate::serial::hex_digit_values(false);

fn unhex(b: &[u8]) -> Option<[u8; 32]> {
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (i, o) in out.iter_mut().enumerate() {
        let (h, l) = (HEX[b[2 * i] as usize], HEX[b[2 * i + 1] as usize]);
        bad |= (h | l) & 0xf0;
        *o = (h << 4) | (l & 0x0f);
    }
    (bad == 0).then_some(out)
}

/// The searches of [`fields`], built once.
struct Finders {
    event: memmem::Finder<'static>,
    prev: memmem::FinderRev<'static>,
}

static FINDERS: std::sync::LazyLock<Finders> = std::sync::LazyLock::new(|| Finders {
    event: memmem::Finder::new(b",\"event\":\""),
    prev: memmem::FinderRev::new(b",\"prev\":\""),
});

/// `seq`, `event` and `prev` of a ledger line, picked out without parsing the JSON: the line
/// starts `{"seq":N,"time":"..","event":"..",` and `"prev":"HEX"` is the last field but the
/// signature (a key inside `data` would be escaped, so the last match is the record's).
pub(super) fn fields(line: &[u8]) -> Option<(u64, &[u8], &[u8])> {
    let f = &*FINDERS;
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let seq = rest[..digits].iter().fold(0u64, |a, d| a * 10 + u64::from(d - b'0'));
    // pki writes `,"time":"<20 characters>","event":"` right after seq, and ends an unsigned
    // record with `,"prev":"<64 hex>"}`: looked at where they are first, searched otherwise.
    const TIME: &[u8] = b",\"time\":\"";
    const EVENT: &[u8] = b"\",\"event\":\"";
    let after = &rest[digits..];
    let ev = if after.starts_with(TIME) && after.get(TIME.len() + 20..TIME.len() + 20 + EVENT.len()) == Some(EVENT) {
        7 + digits + TIME.len() + 20 + EVENT.len()
    } else {
        f.event.find(line)? + 10
    };
    let ev_end = ev + memchr::memchr(b'"', &line[ev..])?;
    let tail = line.len().checked_sub(2 + 64 + 9);
    let pv = match tail {
        Some(t) if line.ends_with(b"\"}") && &line[t..t + 9] == b",\"prev\":\"" => t + 9,
        _ => f.prev.rfind(line)? + 9,
    };
    let prev = line.get(pv..pv + 64)?;
    (line.get(pv + 64) == Some(&b'"')).then_some((seq, &line[ev..ev_end], prev))
}

/// Scans the records that start in `[start, end)` of the ledger.
fn scan(file: &File, start: u64, end: u64, want: Option<u64>, events: &[&str], what: &str) -> Result<Range> {
    let mut r = Range::default();
    let mut buf = vec![0u8; 4 << 20];
    // Read from one byte before the range: the first newline ends the line that started
    // before it (an empty one if the range starts a line), which belongs to the range before.
    let mut pos = start.saturating_sub(1);
    let mut skip = start > 0;
    let mut filled = 0usize;
    let mut expect: Option<(u64, [u8; 32])> = None;
    'read: loop {
        if filled == buf.len() {
            bail!("{what}: a line is longer than {}: refusing to read it", crate::limits::show(buf.len() as u64));
        }
        let got =
            file.read_at(&mut buf[filled..], pos + filled as u64).with_context(|| format!("cannot read {what}"))?;
        if got == 0 {
            break; // what is left has no newline: a record being written right now
        }
        filled += got;
        let mut s = 0;
        for nl in memchr::memchr_iter(b'\n', &buf[..filled]) {
            let line_start = pos + s as u64;
            let bytes = &buf[s..nl];
            s = nl + 1;
            if skip {
                skip = false;
                continue;
            }
            if line_start >= end {
                break 'read;
            }
            r.records += 1;
            let Some((seq, event, prev)) = fields(bytes) else {
                r.broken = true;
                continue;
            };
            let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(bytes).into();
            match (unhex(prev), expect) {
                (None, _) => r.broken = true,
                (Some(p), None) => r.first = Some((seq, p)),
                (Some(p), Some((es, eh))) if seq != es + 1 || p != eh => r.broken = true,
                _ => {}
            }
            expect = Some((seq, hash));
            if Some(seq) == want {
                r.hash_at = Some(hash);
            }
            // Only the lines kept are checked to be UTF-8; any other edit breaks the chain.
            let text = || std::str::from_utf8(bytes).ok();
            if bytes.ends_with(b"}}")
                && let Some(line) = text().filter(|l| head::is_signed(l))
            {
                r.signed += 1;
                r.last_signed = Some((seq, line.to_string()));
                r.unsigned_after.clear();
            } else if (event == b"cert-issued" || event == b"crl-generated") && r.unsigned_after.len() < 16 {
                r.unsigned_after.push((seq, String::from_utf8_lossy(event).into_owned()));
            }
            if events.iter().any(|e| e.as_bytes() == event) {
                let event = std::str::from_utf8(event).unwrap_or("");
                match text() {
                    Some(line) => r.events.push((seq, event.to_string(), line.to_string())),
                    None => r.broken = true,
                }
            }
        }
        buf.copy_within(s..filled, 0);
        pos += s as u64;
        filled -= s;
    }
    r.last = expect;
    Ok(r)
}

/// The ledger's ranges scanned on every core and joined in order; `None` when the chain is
/// broken anywhere (inside a range or where two meet).
pub(super) fn check(
    file: &File,
    len: u64,
    want: Option<u64>,
    events: &[&str],
    what: &str,
) -> Result<Option<Vec<Range>>> {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8) as u64;
    let ranges: Vec<Result<Range>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..n).map(|i| s.spawn(move || scan(file, len * i / n, len * (i + 1) / n, want, events, what))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| bail!("the ledger check failed"))).collect()
    });
    let ranges = ranges.into_iter().collect::<Result<Vec<_>>>()?;
    let mut expect: (u64, [u8; 32]) = (0, [0u8; 32]);
    for r in &ranges {
        if r.broken {
            return Ok(None);
        }
        if let Some((seq, prev)) = r.first {
            if seq != expect.0 + 1 || prev != expect.1 {
                return Ok(None);
            }
            expect = r.last.expect("a range with a first record has a last");
        }
    }
    Ok(Some(ranges))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decoding_matches_sha256_hex() {
        use sha2::Digest;
        let h: [u8; 32] = sha2::Sha256::digest(b"x").into();
        assert_eq!(unhex(super::super::sha256_hex(b"x").as_bytes()), Some(h));
        assert_eq!(unhex(b"zz"), None);
        assert_eq!(unhex("A".repeat(64).as_bytes()), None, "pki writes lower case");
        let line = format!(
            "{{\"seq\":12,\"time\":\"t\",\"event\":\"cert-issued\",\"data\":{{}},\"prev\":\"{}\"}}",
            "a".repeat(64)
        );
        let (seq, ev, prev) = fields(line.as_bytes()).unwrap();
        assert_eq!((seq, ev, prev), (12, &b"cert-issued"[..], "a".repeat(64).as_bytes()));
        assert_eq!(
            super::super::raw_fields(&line).map(|(s, e, p)| (s, e.as_bytes(), p.as_bytes())),
            Some((seq, ev, prev))
        );
    }
}
