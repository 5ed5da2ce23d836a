//! `pki issue`: one certificate from flags (or a CSR), or many from `--batch` JSON lines.
//!
//! The core plans every request (checked against the profile, the CA and its constraints)
//! before the directory is locked, so a refused request writes nothing; this verb turns flags
//! and batch lines into requests and renders the results.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{GlobalArgs, IssueArgs};
use crate::ctx::{Ctx, read_passphrase_file};
use crate::exit_codes::Exit;
pub use pki_core::issuance::Out;
use pki_core::issuance::{BatchSink, Files, Issued, Issuing, Spec};
use pki_core::limits;
use pki_core::store::CaDir;

#[derive(Debug, Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    issued: &'a Issued,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<&'a Files>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_pem: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_pem: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_pem: Option<&'a str>,
}

impl<'a> Report<'a> {
    /// The JSON a script gets; with `--out -` the PEM texts are in it, as nothing is on disk.
    fn new(issued: &'a Issued, files: Option<&'a Files>, out: &Out) -> Report<'a> {
        let to_stdout = matches!(out, Out::Stdout);
        Report {
            issued,
            files,
            cert_pem: to_stdout.then_some(issued.cert_pem.as_str()),
            chain_pem: to_stdout.then_some(issued.chain_pem.as_str()),
            key_pem: if to_stdout { issued.key_pem.as_ref().map(|k| k.as_str()) } else { None },
        }
    }
}

fn spec_of(args: &IssueArgs) -> Spec {
    Spec {
        profile: args.profile.clone(),
        ca: args.ca.clone(),
        cn: args.cn.clone(),
        dns: args.dns.clone(),
        ip: args.ip.clone(),
        uri: args.uri.clone(),
        spiffe_id: args.spiffe_id.clone(),
        ttl: args.ttl.clone(),
        not_after: args.not_after.clone(),
        key_type: args.key_type.clone(),
        out: args.out.clone(),
        csr: args.csr.clone(),
        csr_bytes: None,
        force: args.force,
        clip_ttl: args.clip_ttl,
    }
}

/// `--csr -`: the CSR is read here, at most 1 MiB, and handed to the core as bytes.
pub fn stdin_csr(csr: Option<&str>) -> Result<Option<Vec<u8>>> {
    match csr {
        Some("-") => Ok(Some(limits::read_bounded(std::io::stdin(), limits::MAX_OBJECT, "the CSR on standard input")?)),
        _ => Ok(None),
    }
}

pub fn run(args: IssueArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let timeout = super::lock_timeout(g)?;
    let key_pass = args.key_passphrase_file.as_deref().map(read_passphrase_file).transpose()?;
    if let Some(batch) = &args.batch {
        return run_batch(batch, &args, g, ctx, key_pass.as_ref(), timeout);
    }
    let mut spec = spec_of(&args);
    let out = Out::of(&spec);
    out.check(spec.force)?;
    let dir = CaDir::open(&g.dir)?;
    let mut issuing = Issuing::open(&dir)?;
    spec.csr_bytes = stdin_csr(spec.csr.as_deref())?;
    let r = issuing.issue(&spec, &out, key_pass.as_ref(), timeout, &ctx.core())?;
    report(ctx, &r.issued, r.files.as_ref(), &out, args.json)?;
    Ok(Exit::Success)
}

pub fn report(ctx: &mut Ctx, issued: &Issued, files: Option<&Files>, out: &Out, json: bool) -> Result<()> {
    let to_stdout = matches!(out, Out::Stdout);
    for n in &issued.notes {
        ctx.say(format!("note: {n}"));
    }
    if json {
        serde_json::to_writer_pretty(&mut ctx.out, &Report::new(issued, files, out))?;
        writeln!(ctx.out)?;
        return Ok(());
    }
    if to_stdout {
        // The bundle a process needs, and nothing on disk: certificate, chain, key.
        write!(ctx.out, "{}{}", issued.cert_pem, issued.chain_pem)?;
        if let Some(k) = &issued.key_pem {
            write!(ctx.out, "{}", k.as_str())?;
        }
        ctx.say(format!("issued {} serial {} until {}", describe(issued), issued.serial, issued.not_after));
    } else {
        writeln!(ctx.out, "{}", issued.serial)?;
        let where_ = match out {
            Out::Dir(d) => d.display().to_string(),
            Out::Stdout => "-".into(),
        };
        ctx.say(format!("issued {} until {} into {where_}/", describe(issued), issued.not_after));
    }
    Ok(())
}

fn describe(i: &Issued) -> String {
    let subject = if i.subject.is_empty() { "(empty subject)".to_string() } else { i.subject.clone() };
    format!("{subject} [{}]", i.sans.join(", "))
}

#[derive(Serialize)]
struct BatchOk<'a> {
    line: usize,
    ok: bool,
    #[serde(flatten)]
    report: Report<'a>,
}

fn print_ok(w: &mut dyn Write, line: usize, issued: &Issued, files: Option<&Files>, out: &Out) -> Result<()> {
    serde_json::to_writer(&mut *w, &BatchOk { line, ok: true, report: Report::new(issued, files, out) })?;
    writeln!(w)?;
    Ok(())
}

/// A refused line: `{"line": N, "ok": false, "error": {"code", "message", ...}}`, the error
/// object a failed `--json` command prints, without `exit`.
fn print_refused(w: &mut dyn Write, line: usize, error: &anyhow::Error) -> Result<()> {
    let msg = format!("{error:#}").replace(['\n', '\r'], " ");
    let error = pki_core::error::error_object(error, &msg);
    serde_json::to_writer(&mut *w, &BatchError { line, ok: false, error })?;
    writeln!(w)?;
    Ok(())
}

#[derive(Serialize)]
struct BatchError {
    line: usize,
    ok: bool,
    error: serde_json::Value,
}

/// Batch results as JSON lines on stdout, flushed after each group.
struct JsonLines<'w> {
    out: &'w mut dyn Write,
}

impl BatchSink for JsonLines<'_> {
    fn issued(&mut self, line: usize, issued: &Issued, files: Option<&Files>, out: &Out) -> Result<()> {
        print_ok(self.out, line, issued, files, out)
    }

    fn refused(&mut self, line: usize, error: &anyhow::Error) -> Result<()> {
        print_refused(self.out, line, error)
    }

    fn flush(&mut self) -> Result<()> {
        Ok(self.out.flush()?)
    }
}

/// Issues one certificate per JSON line, under one lock and one unlock per CA. A refused line
/// does not stop the others; the exit status is 1 when any was refused.
fn run_batch(
    source: &str,
    args: &IssueArgs,
    g: &GlobalArgs,
    ctx: &mut Ctx,
    key_pass: Option<&pki_core::Secret>,
    timeout: std::time::Duration,
) -> Result<Exit> {
    if args.csr.is_some()
        || !args.dns.is_empty()
        || !args.ip.is_empty()
        || !args.uri.is_empty()
        || args.cn.is_some()
        || args.spiffe_id.is_some()
    {
        anyhow::bail!(
            "--batch takes every request from its lines: drop --csr, --cn, --dns, --ip, --uri and --spiffe-id"
        );
    }
    let reader: Box<dyn BufRead + Send> = if source == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(source).with_context(|| format!("cannot read batch file {source}"))?,
        ))
    };
    let dir = CaDir::open(&g.dir)?;
    let mut issuing = Issuing::open(&dir)?;
    // Command-line flags are defaults for every line.
    let mut reader = reader;
    let mut n = 0;
    let lines = std::iter::from_fn(move || {
        n += 1;
        limits::read_line(&mut reader, n, "batch").transpose().map(|l| (n, l))
    });
    // Read on a thread of its own (see Issuing::issue_batch): the flags it needs, owned.
    let (profile, ca, ttl, key_type) = (args.profile.clone(), args.ca.clone(), args.ttl.clone(), args.key_type.clone());
    let not_after = args.not_after.clone();
    let (force, clip_ttl) = (args.force, args.clip_ttl);
    let requests = lines.filter_map(move |(n, line)| {
        let line = match line {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            return None;
        }
        let spec = serde_json::from_str::<Spec>(&line)
            .map_err(|e| anyhow::Error::from(pki_core::PkiError::BadRequest { why: e.to_string() }))
            .map(|mut spec| {
                spec.profile = spec.profile.or_else(|| profile.clone());
                spec.ca = spec.ca.or_else(|| ca.clone());
                // The command line's --ttl / --not-after apply to lines that give neither.
                if spec.ttl.is_none() && spec.not_after.is_none() {
                    spec.ttl = ttl.clone();
                    spec.not_after = not_after.clone();
                }
                spec.key_type = spec.key_type.or_else(|| key_type.clone());
                spec.force |= force;
                spec.clip_ttl |= clip_ttl;
                if spec.out.is_none() {
                    spec.out = Some(PathBuf::from("-"));
                }
                spec
            });
        Some(Ok((n, spec)))
    });
    // Results are written in blocks, flushed after each group (a reader sees them per group).
    let raw_out = std::mem::replace(&mut ctx.out, Box::new(std::io::sink()));
    ctx.out = Box::new(std::io::BufWriter::with_capacity(1 << 16, raw_out));
    let core = pki_core::Context { now: ctx.now, actor: &ctx.actor, pass: &ctx.pass, rng: &pki_core::OsRandom };
    let tally = issuing.issue_batch(requests, key_pass, timeout, &core, &mut JsonLines { out: &mut ctx.out })?;
    ctx.say(format!("batch: {} issued, {} refused", tally.issued, tally.refused));
    Ok(if tally.refused > 0 { Exit::Findings } else { Exit::Success })
}
