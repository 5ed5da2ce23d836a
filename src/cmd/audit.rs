//! `pki audit`: the checks of `audit.rs` shown as a table, lines, JSON or Prometheus gauges, with
//! an exit status cron can act on.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, Result};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{AuditArgs, GlobalArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::audit::{Options, Report, Severity};
use pki_core::store::CaDir;

pub fn run(args: AuditArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let window = pki_core::duration::parse("--expiring", &args.expiring)?;
    let dir = CaDir::open(&g.dir)?;
    let ledger_head = args.ledger_head.as_deref().map(pki_core::store::SignedHead::read).transpose()?;
    let opts = Options {
        window,
        ca: args.ca.clone(),
        deep: args.deep,
        include_short_lived: args.include_short_lived,
        ledger_head,
    };

    // A progress bar only on a terminal, and only once a pass has run for a moment: small
    // directories finish before it would be drawn.
    let started = std::time::Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let interactive = ctx.interactive;
    let mut progress = |what: &'static str, done: u64, total: u64| {
        if bar.is_none() && interactive && started.elapsed() > std::time::Duration::from_millis(200) {
            let b = ProgressBar::new(total);
            b.set_style(ProgressStyle::with_template("{msg}: {percent}% {wide_bar} {eta}").expect("valid template"));
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_message(what);
            b.set_length(total);
            b.set_position(done);
        }
    };
    let report = pki_core::audit::run(&dir, ctx.now, &opts, &mut progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    let failing = report.findings.iter().any(|f| f.severity >= args.fail_on.into());
    let status = if failing { Exit::Findings } else { Exit::Success };
    if let Some(path) = &args.prometheus {
        let text = prometheus_text(&report, ctx.now.unix_timestamp());
        pki_core::store::write_atomic(path, text.as_bytes(), 0o644)
            .with_context(|| format!("cannot write the Prometheus file {}", path.display()))?;
    }
    if args.quiet && !failing {
        return Ok(status);
    }
    if args.json {
        let mut doc = serde_json::to_value(&report)?;
        doc["fail_on"] = pki_core::audit::Severity::from(args.fail_on).as_str().into();
        doc["exit"] = (status as u8).into();
        serde_json::to_writer_pretty(&mut ctx.out, &doc)?;
        writeln!(ctx.out)?;
    } else if ctx.out_tty {
        if !report.findings.is_empty() {
            writeln!(ctx.out, "{}", table(&report, ctx.color))?;
        }
        writeln!(ctx.out, "{}", summary_line(&report))?;
    } else {
        // Not a terminal (cron mail, a pipe): one finding per line, tab-separated.
        for f in &report.findings {
            let left = f.seconds_left.map(pki_core::duration::human_left).unwrap_or_else(|| "-".into());
            writeln!(ctx.out, "{}\t{}\t{}\t{}\t{}", f.severity.as_str(), f.code, f.id, left, f.message)?;
        }
        writeln!(ctx.out, "{}", summary_line(&report))?;
    }
    Ok(status)
}

fn table(report: &Report, color: bool) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec!["Severity", "Code", "Concerning", "Time left", "What to do"]);
    for f in &report.findings {
        let mut sev = Cell::new(f.severity.as_str());
        if color {
            sev = sev.fg(match f.severity {
                Severity::Critical => Color::Red,
                Severity::Warning => Color::Yellow,
                Severity::Info => Color::Blue,
            });
        }
        let left = f.seconds_left.map(pki_core::duration::human_left).unwrap_or_default();
        t.add_row(vec![sev, Cell::new(f.code), Cell::new(&f.id), Cell::new(left), Cell::new(&f.message)]);
    }
    t
}

fn summary_line(r: &Report) -> String {
    let s = &r.summary;
    let mut line = if s.findings == 0 {
        "no findings".to_string()
    } else {
        format!("{} finding(s): {} critical, {} warning, {} info", s.findings, s.critical, s.warning, s.info)
    };
    let _ = write!(
        line,
        " | {} certificate(s): {} valid, {} expired, {} revoked, {} superseded | {} CA(s), {} CRL(s) | window {}{}",
        s.certificates,
        s.valid,
        s.expired,
        s.revoked,
        s.superseded,
        s.cas,
        s.crls,
        r.window,
        if r.deep { ", deep" } else { "" }
    );
    if s.not_listed > 0 {
        let _ = write!(
            line,
            " | {} more finding(s) counted but not listed (at most {} per code; see --json counts)",
            s.not_listed,
            pki_core::audit::MAX_LISTED_PER_CODE
        );
    }
    if s.short_lived_expiring + s.short_lived_expired > 0 {
        let _ = write!(
            line,
            " | short-lived certificates renewed or not expected to be, not listed (--include-short-lived lists them): {} expiring within {}, {} expired",
            s.short_lived_expiring, r.window, s.short_lived_expired
        );
    }
    line
}

/// Label values escaped as the text format requires: backslash, double quote, newline.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The node_exporter textfile: each metric's HELP and TYPE once, then its samples.
pub fn prometheus_text(r: &Report, now: i64) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, help: &str, samples: Vec<(String, i64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    metric("pki_audit_timestamp_seconds", "When the last pki audit ran (Unix time).", vec![(String::new(), now)]);
    metric(
        "pki_audit_window_seconds",
        "The --expiring window of the last pki audit.",
        vec![(String::new(), r.window_seconds as i64)],
    );
    let s = &r.summary;
    metric(
        "pki_audit_findings",
        "Findings of the last pki audit by severity.",
        [("critical", s.critical), ("warning", s.warning), ("info", s.info)]
            .iter()
            .map(|(k, v)| (format!("{{severity=\"{k}\"}}"), *v as i64))
            .collect(),
    );
    metric(
        "pki_audit_findings_by_code",
        "Findings of the last pki audit by code (see docs/audit.md).",
        r.counts
            .iter()
            .map(|c| (format!("{{code=\"{}\",severity=\"{}\"}}", c.code, c.severity.as_str()), c.count as i64))
            .collect(),
    );
    metric(
        "pki_short_lived_expiring",
        "Short-lived certificates expiring within the window, renewed or not expected to be (not findings).",
        vec![(String::new(), s.short_lived_expiring as i64)],
    );
    metric(
        "pki_short_lived_expired",
        "Short-lived certificates expired in the last 30 days, renewed or not expected to be (not findings).",
        vec![(String::new(), s.short_lived_expired as i64)],
    );
    let mut counts = vec![];
    let mut earliest = vec![];
    for g in &r.groups {
        let l = format!("ca=\"{}\",profile=\"{}\"", label(&g.ca), label(&g.profile));
        for (state, n) in
            [("valid", g.valid), ("expired", g.expired), ("revoked", g.revoked), ("superseded", g.superseded)]
        {
            counts.push((format!("{{{l},state=\"{state}\"}}"), n as i64));
        }
        if let Some(secs) = g.earliest_expiry_seconds {
            earliest.push((format!("{{{l}}}"), secs));
        }
    }
    metric("pki_certificates", "Certificates in the inventory by CA, profile and state.", counts);
    metric(
        "pki_certificate_earliest_expiry_seconds",
        "Seconds until the earliest expiry among valid certificates, by CA and profile.",
        earliest,
    );
    metric(
        "pki_ca_expiry_seconds",
        "Seconds until each CA certificate expires (negative: expired).",
        r.cas.iter().map(|c| (format!("{{ca=\"{}\"}}", label(&c.name)), c.seconds_left)).collect(),
    );
    metric(
        "pki_crl_next_update_seconds",
        "Seconds until each CA's CRL goes stale (negative: stale).",
        r.crls.iter().filter_map(|c| Some((format!("{{ca=\"{}\"}}", label(&c.ca)), c.seconds_left?))).collect(),
    );
    metric(
        "pki_crl_number",
        "The number of each CA's current CRL.",
        r.crls.iter().map(|c| (format!("{{ca=\"{}\"}}", label(&c.ca)), c.number as i64)).collect(),
    );
    out
}
