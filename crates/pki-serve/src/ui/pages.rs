//! The pages, written with maud: every value is HTML-escaped by the template engine (a CN of
//! `<script>` is text), no inline script or style (the Content-Security-Policy forbids both),
//! the expiry chart an inline SVG drawn here (no JavaScript, no external asset). Times are UTC
//! with the CLI's relative wording ("in 3d 2h", "2h 0m ago").

use maud::{DOCTYPE, Markup, PreEscaped, html};
use pki_core::audit::Severity;
use time::OffsetDateTime;

use super::data::{Overview, TIMELINE_DAYS};
use super::index::{Page, Query};

/// The stylesheet, served at `/ui/style.css` and inlined in `pki report --html`.
pub const STYLE: &str = include_str!("style.css");

/// RFC 3339, seconds, UTC.
pub fn utc(t: OffsetDateTime) -> String {
    pki_core::certs::rfc3339(t)
}

/// "in 3d 2h" or "2h 0m ago", as `pki list` words a time left.
pub fn relative(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = (t - now).whole_seconds();
    if d >= 0 {
        format!("in {}", pki_core::duration::human_span(d))
    } else {
        format!("{} ago", pki_core::duration::human_span(-d))
    }
}

fn when(t: OffsetDateTime, now: OffsetDateTime) -> Markup {
    html! { time datetime=(utc(t)) title=(utc(t)) { (utc(t).replace('T', " ")) } " " span.rel { "(" (relative(t, now)) ")" } }
}

fn sev(s: Severity) -> Markup {
    let name = s.as_str();
    // The word is always written: colour is never the only signal.
    html! { span class={ "sev sev-" (name) } { (match s { Severity::Critical => "▲ ", Severity::Warning => "◆ ", Severity::Info => "● " }) (name) } }
}

/// Where the page is: a served page links its stylesheet; the report inlines it.
pub enum Shell {
    /// `/ui/`: `<link rel=stylesheet href=/ui/style.css>`.
    Served,
    /// `pki report --html`: one self-contained file.
    Report,
}

/// The frame around a page's body.
pub fn layout(title: &str, now: OffsetDateTime, shell: &Shell, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @match shell {
                    Shell::Served => { link rel="stylesheet" href="/ui/style.css"; }
                    Shell::Report => {
                        meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
                        style { (PreEscaped(STYLE)) }
                    }
                }
                title { (title) " · pki" }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    @if let Shell::Served = shell {
                        nav aria-label="Main" {
                            a href="/ui/" { "Overview" }
                            a href="/ui/certs" { "Certificates" }
                        }
                    }
                    p.asof { "As of " (utc(now).replace('T', " ")) " UTC · read-only" }
                }
                main id="main" { (body) }
                footer { "pki " (env!("CARGO_PKG_VERSION")) " · every value here comes from the CA directory; nothing on this page changes it" }
            }
        }
    }
}

/// The overview: totals, CAs, findings, timeline, expiring soon.
pub fn overview(o: &Overview, shell: &Shell) -> Markup {
    let s = &o.report.summary;
    let window = pki_core::duration::show(o.window);
    let cert_link = |serial: &str| -> Markup {
        match shell {
            Shell::Served => html! { a href={ "/ui/cert/" (serial) } { code { (serial) } } },
            Shell::Report => html! { code { (serial) } },
        }
    };
    let body = html! {
        h1 { "Certificate authority overview" }
        section aria-labelledby="totals-h" {
            h2 id="totals-h" { "Totals" }
            dl.cards {
                div { dt { "Certificates" } dd id="total-certificates" { (s.certificates) } }
                div { dt { "Valid" } dd id="total-valid" { (s.valid) } }
                div { dt { "Expiring within " (window) } dd id="total-expiring" { (o.expiring_total) } }
                div { dt { "Expired" } dd id="total-expired" { (s.expired) } }
                div { dt { "Revoked" } dd id="total-revoked" { (s.revoked) } }
                div { dt { "Findings" } dd id="total-findings" { (s.findings) " (" (s.critical) " critical, " (s.warning) " warning)" } }
            }
        }
        section aria-labelledby="cas-h" {
            h2 id="cas-h" { "CAs" }
            div.scroll {
                table.stack id="cas" {
                    thead { tr { th scope="col" { "CA" } th scope="col" { "Signed by" } th scope="col" { "Valid until" } th scope="col" { "CRL" } th scope="col" { "Key" } th scope="col" { "Health" } } }
                    tbody {
                        @for c in &o.cas {
                            tr data-ca=(c.name) {
                                th scope="row" { (c.name) br; small { (c.subject) } }
                                td data-label="Signed by" { (c.parent.as_deref().unwrap_or("(root)")) }
                                td data-label="Valid until" { (when(c.not_after, o.now)) br; small { "from " (utc(c.not_before).replace('T', " ")) } }
                                td data-label="CRL" {
                                    @match &c.crl {
                                        Some((this, next)) => {
                                            "published " (relative(*this, o.now)) br;
                                            small { "next update " @match next { Some(n) => { (relative(*n, o.now)) } None => { "none" } } }
                                        }
                                        None => { "no CRL" }
                                    }
                                }
                                td data-label="Key" { @match c.key_encrypted { Some(true) => { "encrypted" } Some(false) => { strong { "unencrypted" } } None => { "not here (offline)" } } }
                                td data-label="Health" {
                                    @if c.findings.is_empty() { span.ok { "✓ ok" } }
                                    @for f in &c.findings { div { (sev(f.severity)) " " (f.code) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="findings-h" {
            h2 id="findings-h" { "Findings " small { "(as " code { "pki audit --expiring " (window) } " reports them)" } }
            @if o.report.findings.is_empty() {
                p id="no-findings" { "No findings." }
            } @else {
                div.scroll {
                    table.stack id="findings" {
                        thead { tr { th scope="col" { "Severity" } th scope="col" { "Finding" } th scope="col" { "About" } th scope="col" { "What to do" } } }
                        tbody {
                            @for f in &o.report.findings {
                                tr data-code=(f.code) data-severity=(f.severity.as_str()) {
                                    td data-label="Severity" { (sev(f.severity)) }
                                    td data-label="Finding" { code { (f.code) } }
                                    td.names data-label="About" { (f.object) " " (f.id) }
                                    td data-label="What to do" { (f.message) }
                                }
                            }
                        }
                    }
                }
                @if o.report.summary.not_listed > 0 { p { (o.report.summary.not_listed) " more of the same codes are counted, not listed (" code { "pki audit --json" } ")." } }
            }
        }
        section aria-labelledby="timeline-h" {
            h2 id="timeline-h" { "Expiry timeline, next " (TIMELINE_DAYS) " days" }
            @if let Shell::Served = shell {
                p { "By " @if o.timeline.by == "ca" { a href="/ui/?by=profile" { "profile" } " · " strong { "CA" } } @else { strong { "profile" } " · " a href="/ui/?by=ca" { "CA" } } }
            }
            (timeline_svg(o))
            details {
                summary { "The same as a table, by week" }
                (timeline_table(o))
            }
        }
        section aria-labelledby="expiring-h" {
            h2 id="expiring-h" { "Expiring within " (window) " (" (o.expiring_total) ")" }
            @if o.expiring.is_empty() {
                p { "Nothing valid expires within " (window) "." }
            } @else {
                div.scroll {
                    table.stack id="expiring" {
                        thead { tr { th scope="col" { "Serial" } th scope="col" { "Expires" } th scope="col" { "CA" } th scope="col" { "Profile" } th scope="col" { "Names" } } }
                        tbody {
                            @for e in &o.expiring {
                                tr {
                                    td data-label="Serial" { (cert_link(&e.serial)) }
                                    td data-label="Expires" { @match pki_core::certs::parse_rfc3339(&e.not_after) { Ok(t) => { (when(t, o.now)) } Err(_) => { (e.not_after) } } }
                                    td data-label="CA" { (e.ca) } td data-label="Profile" { (e.profile) } td.names data-label="Names" { (e.names) }
                                }
                            }
                        }
                    }
                }
                @if (o.expiring.len() as u64) < o.expiring_total {
                    p { "The first " (o.expiring.len()) " of " (o.expiring_total) " are listed: " code { "pki list --expiring " (window) } " has them all." }
                }
            }
        }
    };
    layout("Overview", o.now, shell, body)
}

/// Stacked bars per day, one colour (and pattern-free legend with counts) per group.
fn timeline_svg(o: &Overview) -> Markup {
    let t = &o.timeline;
    let totals = t.totals();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let (w, h, top, left) = (10u64, 160u64, 10u64, 40u64);
    let width = left + w * TIMELINE_DAYS as u64 + 10;
    let height = top + h + 30;
    html! {
        figure {
            svg id="timeline" role="img" viewBox={ "0 0 " (width) " " (height) } aria-labelledby="timeline-title" data-max=(max) {
                title id="timeline-title" { "Valid certificates by expiry day, " (TIMELINE_DAYS) " days from " (utc(t.start).get(..10).unwrap_or("")) }
                line.axis x1=(left) y1=(top + h) x2=(width - 10) y2=(top + h) {}
                text.lbl x=(left - 4) y=(top + 8) text-anchor="end" { (max) }
                text.lbl x=(left - 4) y=(top + h) text-anchor="end" { "0" }
                @for d in 0..TIMELINE_DAYS {
                    @let x = left + w * d as u64;
                    g data-day=(d) data-total=(totals[d]) {
                        @for (gi, name, c, y0, y1) in stack(t, d, top + h, h, max) {
                            rect class={ "g" (gi) } x=(x + 1) y=(y0) width=(w - 2) height=(y1 - y0) {
                                title { (utc(t.start + time::Duration::days(d as i64)).get(..10).unwrap_or("")) ": " (c) " " (name) }
                            }
                        }
                    }
                    @if d % 14 == 0 {
                        text.lbl x=(x) y=(top + h + 16) { (utc(t.start + time::Duration::days(d as i64)).get(5..10).unwrap_or("")) }
                    }
                }
            }
            figcaption {
                ul.legend {
                    @for (gi, (name, counts)) in t.groups.iter().enumerate() {
                        li { span class={ "sw g" (gi) } aria-hidden="true" {} (t.by) " " strong { (name) } ": " (counts.iter().sum::<u64>()) }
                    }
                    @if t.groups.is_empty() { li { "Nothing valid expires in the next " (TIMELINE_DAYS) " days." } }
                }
            }
        }
    }
}

/// Day `d`'s bar segments, bottom up: (group index, group, count, top y, bottom y).
fn stack(t: &super::data::Timeline, d: usize, base: u64, h: u64, max: u64) -> Vec<(usize, &str, u64, u64, u64)> {
    let mut y = base;
    let mut out = vec![];
    for (gi, (name, counts)) in t.groups.iter().enumerate() {
        let c = counts[d];
        if c > 0 {
            let y0 = y.saturating_sub((c * h).div_ceil(max));
            out.push((gi, name.as_str(), c, y0, y));
            y = y0;
        }
    }
    out
}

fn timeline_table(o: &Overview) -> Markup {
    let t = &o.timeline;
    let weeks = TIMELINE_DAYS.div_ceil(7);
    html! {
        div.scroll {
            table id="timeline-table" {
                thead { tr { th scope="col" { "Week from" } @for (name, _) in &t.groups { th scope="col" { (name) } } th scope="col" { "All" } } }
                tbody {
                    @for wk in 0..weeks {
                        @let days = (wk * 7)..((wk * 7 + 7).min(TIMELINE_DAYS));
                        tr {
                            th scope="row" { (utc(t.start + time::Duration::days(wk as i64 * 7)).get(..10).unwrap_or("")) }
                            @for (_, counts) in &t.groups { td { (counts[days.clone()].iter().sum::<u64>()) } }
                            td { (t.groups.iter().map(|g| g.1[days.clone()].iter().sum::<u64>()).sum::<u64>()) }
                        }
                    }
                }
            }
        }
    }
}

fn option(value: &str, label: &str, current: Option<&str>) -> Markup {
    html! { option value=(value) selected[current == Some(value)] { (label) } }
}

/// The inventory table: a form (GET, works without JavaScript), a page of rows, links to the
/// pages before and after.
pub fn certs(idx: &super::index::Index, q: &Query, p: &Page, now: OffsetDateTime) -> Markup {
    let link = |page: usize| -> String {
        let mut parts = vec![format!("page={page}")];
        let enc = |s: &str| super::query_encode(s);
        if !q.q.is_empty() {
            parts.push(format!("q={}", enc(&q.q)));
        }
        for (k, v) in [("status", &q.status), ("ca", &q.ca), ("profile", &q.profile)] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", enc(v)));
            }
        }
        if let Some(e) = q.expiring {
            parts.push(format!("expiring={}", pki_core::duration::show(e)));
        }
        if !q.sort.is_empty() {
            parts.push(format!("sort={}", enc(&q.sort)));
        }
        format!("/ui/certs?{}", parts.join("&"))
    };
    let expiring = q.expiring.map(pki_core::duration::show);
    let body = html! {
        h1 { "Certificates" }
        form method="get" action="/ui/certs" role="search" {
            div.filters {
                label { "Name or serial " input type="search" name="q" value=(q.q) placeholder="api.acme.internal"; }
                label { "Status " select name="status" {
                    (option("", "any", q.status.as_deref()))
                    @for s in ["valid", "expired", "revoked", "superseded"] { (option(s, s, q.status.as_deref())) }
                } }
                label { "Profile " select name="profile" {
                    (option("", "any", q.profile.as_deref()))
                    @for s in &idx.profiles { (option(s, s, q.profile.as_deref())) }
                } }
                label { "CA " select name="ca" {
                    (option("", "any", q.ca.as_deref()))
                    @for s in &idx.cas { (option(s, s, q.ca.as_deref())) }
                } }
                label { "Expiring within " select name="expiring" {
                    (option("", "any time", expiring.as_deref()))
                    @for s in ["24h", "7d", "30d", "90d"] { (option(s, s, expiring.as_deref())) }
                } }
                label { "Sort " select name="sort" {
                    (option("expiry", "soonest expiry first", Some(if q.sort.is_empty() { "expiry" } else { q.sort.as_str() })))
                    (option("expiry-desc", "latest expiry first", Some(q.sort.as_str())))
                    (option("issued", "in issue order", Some(q.sort.as_str())))
                } }
                button type="submit" { "Filter" }
            }
        }
        p id="matching" { (p.matching) " of " (idx.len()) " certificates match · page " (p.page) " of " (p.pages) }
        div.scroll {
            table.stack id="certs" {
                thead { tr { th scope="col" { "Serial" } th scope="col" { "Status" } th scope="col" { "Expires" } th scope="col" { "CA" } th scope="col" { "Profile" } th scope="col" { "Names" } } }
                tbody {
                    @for l in &p.lines {
                        tr data-serial=(l.serial) {
                            td data-label="Serial" { a href={ "/ui/cert/" (l.serial) } { code { (l.serial) } } }
                            td data-label="Status" { span class={ "st st-" (l.status) } { (l.status) } }
                            td data-label="Expires" { (when(l.not_after, now)) }
                            td data-label="CA" { (l.ca) } td data-label="Profile" { (l.profile) } td.names data-label="Names" { (l.names) }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if p.page > 1 { a rel="prev" href=(link(p.page - 1)) { "← previous" } }
            @if p.page < p.pages { a rel="next" href=(link(p.page + 1)) { "next →" } }
        }
    };
    layout("Certificates", now, &Shell::Served, body)
}

/// A JSON value as text for a cell: strings as they are, lists joined.
fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        serde_json::Value::Object(o) => {
            o.iter().map(|(k, v)| format!("{k}: {}", value_text(v))).collect::<Vec<_>>().join("; ")
        }
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A certificate: what `pki inspect` says, its inventory state, the ledger records about it.
pub fn cert(
    inv: &pki_core::store::InventoryRecord,
    inspect: Option<&serde_json::Value>,
    history: &[pki_core::store::LedgerRecord],
    now: OffsetDateTime,
) -> Markup {
    let not_after = pki_core::certs::parse_rfc3339(&inv.not_after).ok();
    let status =
        super::index::status_now(inv.status, not_after.map(|t| t.unix_timestamp()).unwrap_or(0), now.unix_timestamp());
    let body = html! {
        h1 { "Certificate " code { (inv.serial) } }
        dl.facts id="state" {
            dt { "Status" } dd id="status" { span class={ "st st-" (status) } { (status) } }
            @if let Some(t) = not_after { dt { "Expires" } dd { (when(t, now)) } }
            @if let Some(r) = &inv.revoked_at { dt { "Revoked" } dd id="revoked" { (r) " · reason " (inv.reason.as_deref().unwrap_or("unspecified")) } }
            @if let Some(n) = &inv.replaced_by { dt { "Renewed by" } dd { a href={ "/ui/cert/" (n) } { code { (n) } } } }
            @for old in history.iter().filter(|r| r.data.get("serial").and_then(|v| v.as_str()) == Some(inv.serial.as_str())).filter_map(|r| r.data.get("renews").and_then(|v| v.as_str())) {
                dt { "Renews" } dd { a href={ "/ui/cert/" (old) } { code { (old) } } }
            }
            dt { "CA" } dd { (inv.ca) }
            dt { "Profile" } dd { (inv.profile.as_deref().unwrap_or("-")) }
        }
        h2 { "What pki inspect says" }
        @match inspect {
            Some(serde_json::Value::Object(o)) => {
                div.scroll { table id="inspect" { tbody {
                    @for (k, v) in o { @if k != "type" { tr { th scope="row" { (k) } td.names { (value_text(v)) } } } }
                } } }
            }
            _ => { p { "The certificate file is not in the directory." } }
        }
        h2 { "History (ledger)" }
        @if history.is_empty() { p { "No ledger record names this certificate." } } @else {
            div.scroll { table.stack id="history" {
                thead { tr { th scope="col" { "Time (UTC)" } th scope="col" { "Event" } th scope="col" { "By" } th scope="col" { "Job, account or token" } th scope="col" { "Note" } } }
                tbody {
                    @for r in history {
                        tr data-event=(r.event) {
                            td data-label="Time" { (r.time.replace('T', " ")) }
                            td data-label="Event" { code { (r.event) } @if let Some(why) = r.data.get("reason").and_then(|v| v.as_str()) { " (" (why) ")" } }
                            td.names data-label="By" { (r.actor) }
                            td.names data-label="Job, account or token" { @for (k, v) in &r.ci { div { (k) "=" (v) } } }
                            td.names data-label="Note" { (r.note.as_deref().unwrap_or("")) }
                        }
                    }
                }
            } }
        }
    };
    layout(&format!("Certificate {}", inv.serial), now, &Shell::Served, body)
}

/// A page that says what went wrong (not found, not allowed).
pub fn message(title: &str, text: &str, now: OffsetDateTime) -> Markup {
    layout(title, now, &Shell::Served, html! { h1 { (title) } p { (text) } p { a href="/ui/" { "Overview" } } })
}
