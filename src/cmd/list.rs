//! `pki list`: the inventory as a table for people or JSON for scripts. The table keeps a
//! serial whole on one line (people copy it into `revoke`), soonest expiry first; JSON in
//! issue order streams, so a million records never sit in memory at once.

use std::io::Write;

use anyhow::Result;
use comfy_table::{Cell, ColumnConstraint, ContentArrangement, Row as TableRow, Table, presets::NOTHING};
use serde::Serialize;

use crate::cli::{GlobalArgs, ListArgs, SortKey, StatusFilter};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::store::{InventoryRecord, Status};

/// One JSON row: the inventory record with one `status`, as of now (a stored `valid` past its
/// notAfter is `expired`).
#[derive(Serialize)]
struct Row<'a> {
    serial: &'a str,
    /// valid | expired | revoked | superseded, as of now.
    status: &'static str,
    not_before: &'a str,
    not_after: &'a str,
    revoked_at: &'a Option<String>,
    reason: &'a Option<String>,
    replaced_by: &'a Option<String>,
    ca: &'a str,
    profile: &'a Option<String>,
    key_type: &'a str,
    subject: &'a str,
    sans: &'a [String],
}

impl<'a> Row<'a> {
    fn new(r: &'a InventoryRecord, now: &str) -> Row<'a> {
        Row {
            serial: &r.serial,
            status: status(r, now),
            not_before: &r.not_before,
            not_after: &r.not_after,
            revoked_at: &r.revoked_at,
            reason: &r.reason,
            replaced_by: &r.replaced_by,
            ca: &r.ca,
            profile: &r.profile,
            key_type: &r.key_type,
            subject: &r.subject,
            sans: &r.sans,
        }
    }
}

fn status(rec: &InventoryRecord, now: &str) -> &'static str {
    match rec.status {
        Status::Revoked => "revoked",
        Status::Superseded => "superseded",
        // RFC 3339 UTC strings of one fixed format compare like the times they name.
        Status::Valid if rec.not_after.as_str() <= now => "expired",
        Status::Valid => "valid",
    }
}

/// Shell-style wildcard, case-insensitive: `*` any run of characters (dots too), `?` one.
fn wildcard(p: &[u8], t: &[u8]) -> bool {
    let (mut pi, mut ti, mut star) = (0, 0, None);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The names a `--name` glob is tried against: each SAN without its type, and the CN.
fn names(r: &InventoryRecord) -> impl Iterator<Item = &str> {
    let sans = r.sans.iter().map(|s| s.split_once(':').map_or(s.as_str(), |(_, v)| v));
    let cn = r.subject.split(',').filter_map(|rdn| rdn.trim().strip_prefix("CN="));
    sans.chain(cn)
}

/// Time left in a table cell: "23h 59m", "89d 23h", or "2h 0m ago".
fn expires(not_after: &str, now: i64) -> String {
    let Ok(t) = pki_core::certs::parse_rfc3339(not_after) else { return not_after.to_string() };
    let left = t.unix_timestamp() - now;
    if left < 0 {
        format!("{} ago", pki_core::duration::human_span(-left))
    } else {
        pki_core::duration::human_span(left)
    }
}

pub fn run(args: ListArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let window = match &args.expiring {
        Some(v) => Some(pki_core::duration::parse("--expiring", v)?),
        None => None,
    };
    let dir = super::open_for_reading(g, ctx)?;
    let now = pki_core::certs::rfc3339(ctx.now);
    let until = window.map(|w| pki_core::certs::rfc3339(ctx.now + w));
    let want = args.status.map(|s| match s {
        StatusFilter::Valid => "valid",
        StatusFilter::Expired => "expired",
        StatusFilter::Revoked => "revoked",
        StatusFilter::Superseded => "superseded",
    });
    let keep = |r: &InventoryRecord| -> bool {
        let st = status(r, &now);
        args.ca.as_deref().is_none_or(|c| r.ca == c)
            && want.is_none_or(|w| st == w)
            && until.as_deref().is_none_or(|u| st == "valid" && r.not_after.as_str() <= u)
            && args.profile.as_deref().is_none_or(|p| r.profile.as_deref() == Some(p))
            && args.name.as_deref().is_none_or(|p| names(r).any(|n| wildcard(p.as_bytes(), n.as_bytes())))
    };
    let sort = args.sort.unwrap_or(if args.json { SortKey::Issued } else { SortKey::Expiry });
    if args.json && sort == SortKey::Issued {
        let out = &mut ctx.out;
        write!(out, "[")?;
        let mut first = true;
        dir.for_each_inventory(|r| {
            if keep(&r) {
                write!(out, "{}\n  ", if first { "" } else { "," })?;
                first = false;
                serde_json::to_writer(&mut *out, &Row::new(&r, &now))?;
            }
            Ok(())
        })?;
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
        return Ok(Exit::Success);
    }
    let mut rows = Vec::new();
    dir.for_each_inventory(|r| {
        if keep(&r) {
            rows.push(r);
        }
        Ok(())
    })?;
    match sort {
        // Stable: equal expiries stay in issue order.
        SortKey::Expiry => rows.sort_by(|a, b| a.not_after.cmp(&b.not_after)),
        // Serials are fixed-width upper-case hex in the inventory, but imported ones may not be.
        SortKey::Serial => rows.sort_by(|a, b| (a.serial.len(), &a.serial).cmp(&(b.serial.len(), &b.serial))),
        SortKey::Issued => {}
    }
    if args.json {
        let v: Vec<Row> = rows.iter().map(|r| Row::new(r, &now)).collect();
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        ctx.say("no certificates match");
        return Ok(Exit::Success);
    }
    let mut table = Table::new();
    table.load_style(NOTHING).set_content_arrangement(ContentArrangement::Dynamic).set_truncation_indicator("…");
    // $COLUMNS, as ls and ps read it, when stdout is not a terminal that says its width.
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|v| v.parse::<u16>().ok()).filter(|w| *w >= 40) {
        table.set_width(w);
    }
    table.set_header(vec!["SERIAL", "STATUS", "EXPIRES", "CA", "NAMES"]);
    let unix_now = ctx.now.unix_timestamp();
    for r in &rows {
        let mut row = TableRow::from(vec![
            Cell::new(&r.serial),
            Cell::new(status(r, &now)),
            Cell::new(expires(&r.not_after, unix_now)),
            Cell::new(&r.ca),
            Cell::new(names(r).take(r.sans.len().max(1)).collect::<Vec<_>>().join(", ")),
        ]);
        row.max_height(1);
        table.add_row(row);
    }
    // The serial, status and time never wrap or shrink; CA and names are cut to fit.
    // Two spaces between columns and none at the edges, as ls and kubectl print.
    for (i, c) in table.column_iter_mut().enumerate() {
        c.set_padding((0, if i < 4 { 2 } else { 0 }));
        if i < 3 {
            c.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    for line in table.lines() {
        writeln!(ctx.out, "{}", line.trim_end())?;
    }
    ctx.say(format!("{} certificate(s)", rows.len()));
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards_match_like_a_shell() {
        for (p, t, want) in [
            ("*.acme.internal", "api.acme.internal", true),
            ("*.acme.internal", "a.b.acme.internal", true),
            ("*.ACME.internal", "api.acme.internal", true),
            ("api*", "api", true),
            ("a?i", "api", true),
            ("a?i", "ai", false),
            ("*.acme.internal", "acme.internal", false),
            ("10.0.*", "10.0.0.7", true),
            ("", "x", false),
            ("*", "", true),
        ] {
            assert_eq!(wildcard(p.as_bytes(), t.as_bytes()), want, "{p} {t}");
        }
    }
}
