//! Parsing and printing of lifetimes such as `1h`, `30d`, `10y` (humantime's grammar).

use std::time::Duration;

use crate::error::PkiError;

/// Parses a positive duration for the flag `flag`. A year is 365.25 days (humantime's rule).
pub fn parse(flag: &str, value: &str) -> Result<Duration, PkiError> {
    let bad = || PkiError::BadDuration { flag: flag.to_string(), value: value.to_string() };
    let v = value.trim();
    if v.is_empty() || v.starts_with('-') {
        return Err(bad());
    }
    let d = humantime::parse_duration(v).map_err(|_| bad())?;
    // Zero is useless for a certificate, and anything past ~1000 years overflows X.509 time.
    if d.is_zero() || d.as_secs() > 1000 * 366 * 86400 {
        return Err(bad());
    }
    Ok(d)
}

/// The shortest certificate or CRL lifetime pki makes: notBefore is set 60 s in the past for
/// clock skew (not counted in the lifetime), and anything shorter could not be fetched,
/// installed and used before it ends.
pub const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// Parses an absolute end (`--not-after`): an RFC 3339 time (`2027-01-31T18:00:00Z`, any
/// offset) or a date (`2027-01-31`, midnight UTC). Returns the time and the lifetime from
/// `now`, which must be at least [`MIN_LIFETIME`]; sub-second parts are refused.
pub fn parse_not_after(
    flag: &str,
    value: &str,
    now: time::OffsetDateTime,
) -> Result<(time::OffsetDateTime, Duration), PkiError> {
    let bad = |why: &'static str| PkiError::BadLifetime { flag: flag.to_string(), value: value.to_string(), why };
    let v = value.trim();
    let t = if v.len() == 10 {
        time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
            .map(|d| d.midnight().assume_utc())
            .map_err(|_| bad("give an RFC 3339 time (2027-01-31T18:00:00Z) or a date (2027-01-31)"))?
    } else {
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
            .map_err(|_| bad("give an RFC 3339 time (2027-01-31T18:00:00Z) or a date (2027-01-31)"))?
    };
    if t.nanosecond() != 0 {
        return Err(bad("give whole seconds: certificate times have one-second precision"));
    }
    let secs = (t - now).whole_seconds();
    if secs < MIN_LIFETIME.as_secs() as i64 {
        return Err(bad("it must be at least 1 minute from now"));
    }
    Ok((t.to_offset(time::UtcOffset::UTC), Duration::from_secs(secs as u64)))
}

/// Parses a lifetime (`--ttl`, `max_ttl`, `default_ttl`, `leaf_ttl`, `next_update`, a CA's
/// `--ttl`): a duration of whole seconds, at least [`MIN_LIFETIME`]. Certificate times have
/// one-second precision, so `1500ms` would be rounded to something not asked for; `30s` would be
/// a certificate that is over before anyone can use it.
pub fn parse_lifetime(flag: &str, value: &str) -> Result<Duration, PkiError> {
    let d = parse(flag, value)?;
    let why = if d.subsec_nanos() != 0 {
        "give whole seconds: certificate times have one-second precision"
    } else if d < MIN_LIFETIME {
        "a lifetime is at least 1 minute (shorter ones end before they can be used)"
    } else {
        return Ok(d);
    };
    Err(PkiError::BadLifetime { flag: flag.to_string(), value: value.to_string(), why })
}

/// A lifetime in the units people write in pki.toml: 10y, 90d, 12h, 30m, 45s.
pub fn show(d: Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(31_557_600) {
        format!("{}y", s / 31_557_600)
    } else if s > 0 && s.is_multiple_of(86400) {
        format!("{}d", s / 86400)
    } else if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// [`show`], with the span in words when it is an odd number of seconds (a `--not-after`):
/// `35288213s (408d 10h)`.
pub fn show_for_people(d: Duration) -> String {
    let s = show(d);
    if s.ends_with('s') && d.as_secs() >= 60 { format!("{s} ({})", human_span(d.as_secs() as i64)) } else { s }
}

/// A short human form: "3d 4h", "59m", "expired 2h ago".
pub fn human_left(secs: i64) -> String {
    if secs < 0 {
        return format!("expired {} ago", human_span(-secs));
    }
    format!("{} left", human_span(secs))
}

/// A span of seconds in words for people: "3 days", "5 hours".
pub fn human_span(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60);
    if d >= 365 {
        format!("{}y {}d", d / 365, d % 365)
    } else if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_lifetimes() {
        assert_eq!(parse("--ttl", "1h").unwrap().as_secs(), 3600);
        assert_eq!(parse("--ttl", "30d").unwrap().as_secs(), 30 * 86400);
        assert_eq!(parse("--ttl", "90m").unwrap().as_secs(), 5400);
        assert_eq!(parse("--ttl", "10y").unwrap().as_secs(), 315_576_000);
    }

    #[test]
    fn rejects_nonsense_with_the_flag_named() {
        for bad in ["", "5x", "-1h", "0s", "h", "1000000y"] {
            let e = parse("--ttl", bad).unwrap_err();
            assert_eq!(e, PkiError::BadDuration { flag: "--ttl".into(), value: bad.into() });
        }
    }

    #[test]
    fn shows_lifetimes_as_written() {
        for t in ["10y", "90d", "12h", "30m", "45s"] {
            assert_eq!(show(parse("--ttl", t).unwrap()), t);
        }
    }

    #[test]
    fn human_forms() {
        assert_eq!(human_left(3600 * 5 + 60 * 3), "5h 3m left");
        assert_eq!(human_left(-90), "expired 1m ago");
        assert_eq!(human_span(86400 * 400), "1y 35d");
    }
}
