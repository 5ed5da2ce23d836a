//! `pki issue`: one certificate from flags (or a CSR), or many from `--batch` JSON lines.
//!
//! Every request is planned (checked against the profile, the CA and its constraints) before
//! the directory is locked, so a refused request writes nothing.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::thread::ScopedJoinHandle;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{GlobalArgs, IssueArgs};
use crate::ctx::{Ctx, Secret, read_passphrase_file};
use crate::exit_codes::Exit;
use pki_core::issuance::{Issued, Issuing, Plan, Spec};
use pki_core::outfiles::{self, Staged};
use pki_core::serial::Serial;
use pki_core::store::{BATCH_GROUP, BatchGroup, CaDir, InventoryRecord, Locked, SyncSet};

pub const OUT_FILES: [&str; 5] = ["cert.pem", "key.pem", "chain.pem", "fullchain.pem", "root.pem"];

/// Where the result goes.
#[derive(Debug, Clone)]
pub enum Out {
    Dir(PathBuf),
    Stdout,
}

#[derive(Debug, Serialize)]
pub struct Files {
    cert: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<PathBuf>,
    chain: PathBuf,
    fullchain: PathBuf,
    root: PathBuf,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    issued: &'a Issued,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<Files>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_pem: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_pem: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_pem: Option<&'a str>,
}

impl<'a> Report<'a> {
    /// The JSON a script gets; with `--out -` the PEM texts are in it, as nothing is on disk.
    fn new(issued: &'a Issued, files: Option<Files>, out: &Out) -> Report<'a> {
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

/// A directory name derived from the first name, for when `--out` is not given.
fn default_out(spec: &Spec) -> PathBuf {
    let first = spec
        .cn
        .clone()
        .or_else(|| spec.dns.first().cloned())
        .or_else(|| spec.spiffe_id.clone())
        .or_else(|| spec.uri.first().cloned())
        .or_else(|| spec.ip.first().cloned())
        .unwrap_or_else(|| "cert".into());
    let first = first.rsplit('/').next().unwrap_or(&first).to_string();
    let s: String = first
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '_' })
        .collect();
    PathBuf::from(s.trim_start_matches('.'))
}

pub fn out_of(spec: &Spec) -> Out {
    match &spec.out {
        Some(p) if p.as_os_str() == "-" => Out::Stdout,
        Some(p) => Out::Dir(p.clone()),
        None => Out::Dir(default_out(spec)),
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
        key_type: args.key_type.clone(),
        out: args.out.clone(),
        csr: args.csr.clone(),
        force: args.force,
        clip_ttl: args.clip_ttl,
    }
}

pub fn run(args: IssueArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let timeout = super::lock_timeout(g)?;
    let key_pass = args.key_passphrase_file.as_deref().map(read_passphrase_file).transpose()?;
    if let Some(batch) = &args.batch {
        return run_batch(batch, &args, g, ctx, key_pass.as_ref(), timeout);
    }
    let spec = spec_of(&args);
    let out = out_of(&spec);
    if let Out::Dir(d) = &out {
        outfiles::check_targets(d, &OUT_FILES, spec.force)?;
    }
    let dir = CaDir::open(&g.dir)?;
    let mut issuing = Issuing::open(&dir)?;
    let plan = issuing.plan(&spec, ctx.now)?;
    issuing.unlock(&plan.ca, &ctx.core())?;
    let lock = dir.lock(timeout)?;
    let (issued, files) = issue_one(&mut issuing, &plan, &lock, &out, key_pass.as_ref(), ctx)?;
    drop(lock);
    report(ctx, &issued, files, &out, args.json)?;
    Ok(Exit::Success)
}

/// Signs, stages the user's files, commits, then moves the files into place.
pub fn issue_one(
    issuing: &mut Issuing<'_>,
    plan: &Plan,
    lock: &Locked<'_>,
    out: &Out,
    key_pass: Option<&Secret>,
    ctx: &Ctx,
) -> Result<(Issued, Option<Files>)> {
    let mut issued = issuing.sign(plan, lock, key_pass)?;
    let record = issued.record.take().expect("sign returns the inventory record");
    // Stage the user's files first, so a full disk or a read-only --out fails before the commit;
    // they are made durable together with the CA's staged copy of the certificate.
    let mut staged = Staged::default();
    let mut durable = SyncSet::default();
    let files = match out {
        Out::Dir(d) => Some(stage_files(&mut staged, &mut durable, d, &issued)?),
        Out::Stdout => None,
    };
    let mut data_extra = serde_json::Map::new();
    if let Some(r) = &plan.renews {
        data_extra.insert("renews".into(), r.clone().into());
    }
    lock.commit_issue(
        &record,
        &issued.cert_pem,
        &issued.sha256,
        &ctx.actor,
        &pki_core::certs::rfc3339(ctx.now),
        data_extra,
        &mut durable,
        |durable| {
            staged.publish(durable).with_context(|| {
                format!("certificate {} was issued and recorded, but its files could not be written", issued.serial)
            })
        },
    )?;
    Ok((issued, files))
}

fn stage_files(staged: &mut Staged, durable: &mut SyncSet, d: &Path, issued: &Issued) -> Result<Files> {
    let cert = &issued.cert_pem;
    let chain = &issued.chain_pem;
    Ok(Files {
        cert: staged.stage(d, "cert.pem", cert.as_bytes(), 0o644, durable)?,
        key: match &issued.key_pem {
            Some(k) => Some(staged.stage(d, "key.pem", k.as_bytes(), 0o600, durable)?),
            None => None,
        },
        chain: staged.stage(d, "chain.pem", chain.as_bytes(), 0o644, durable)?,
        fullchain: staged.stage(d, "fullchain.pem", format!("{cert}{chain}").as_bytes(), 0o644, durable)?,
        root: staged.stage(d, "root.pem", issued.root_pem.as_bytes(), 0o644, durable)?,
    })
}

pub fn report(ctx: &mut Ctx, issued: &Issued, files: Option<Files>, out: &Out, json: bool) -> Result<()> {
    let to_stdout = matches!(out, Out::Stdout);
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

/// A batch line's result: the line number and `ok` ahead of the report.
#[derive(Serialize)]
struct BatchOk<'a> {
    line: usize,
    ok: bool,
    #[serde(flatten)]
    report: Report<'a>,
}

fn print_ok(ctx: &mut Ctx, line: usize, issued: &Issued, files: Option<Files>, out: &Out) -> Result<()> {
    serde_json::to_writer(&mut ctx.out, &BatchOk { line, ok: true, report: Report::new(issued, files, out) })?;
    writeln!(ctx.out)?;
    Ok(())
}

fn print_refused(ctx: &mut Ctx, line: usize, error: &str) -> Result<()> {
    serde_json::to_writer(&mut ctx.out, &BatchError { line, ok: false, error })?;
    writeln!(ctx.out)?;
    Ok(())
}

/// A batch result waiting for its group's commit, in input order.
enum Queued {
    Refused(usize, String),
    /// A batch line and its index into the planned group.
    Planned(usize, usize),
}

/// A group being signed on worker threads: its list is on disk, its files are being written.
struct Signing<'s> {
    workers: Vec<ScopedJoinHandle<'s, Vec<Result<Issued>>>>,
    group: BatchGroup,
    queue: Vec<Queued>,
}

/// A signed group whose commit runs on its own thread: the commit mostly waits for the disk.
struct Committing<'s> {
    handle: ScopedJoinHandle<'s, (Vec<Result<Issued>>, Result<()>)>,
    queue: Vec<Queued>,
}

/// The batch pipeline, three stages at once: the main thread reads and plans group k+1 while
/// group k is signed on every core and group k-1 is committed. Results are printed in input
/// order, each only once its group is committed.
struct Pipeline<'s, 'l> {
    scope: &'s std::thread::Scope<'s, 'l>,
    lock: &'l Locked<'l>,
    key_pass: Option<&'l Secret>,
    plans: Vec<Plan>,
    queue: Vec<Queued>,
    signing: Option<Signing<'s>>,
    committing: Option<Committing<'s>>,
    ok: usize,
    refused: usize,
}

impl<'s, 'l> Pipeline<'s, 'l> {
    /// Starts signing the planned group and moves the group signed before it on to its commit.
    /// With `wait`, drains the pipeline: everything planned is committed and printed.
    fn flush(&mut self, issuing: &Issuing<'_>, ctx: &mut Ctx, wait: bool) -> Result<()> {
        if !self.plans.is_empty() {
            let next = self.start_signing(issuing)?;
            if let Some(prev) = self.signing.replace(next) {
                self.commit(prev, ctx)?;
            }
        }
        if wait {
            if let Some(prev) = self.signing.take() {
                self.commit(prev, ctx)?;
            }
            self.finish(ctx)?;
            let queue = std::mem::take(&mut self.queue);
            self.print(ctx, queue, &[], &Ok(()))?;
        }
        ctx.out.flush()?;
        Ok(())
    }

    /// Draws the group's serials, lists them on disk, and hands the group to worker threads
    /// (one per core), each signing its share and writing each certificate to its place.
    fn start_signing(&mut self, issuing: &Issuing<'_>) -> Result<Signing<'s>> {
        let plans = std::mem::take(&mut self.plans);
        let serials = plans.iter().map(|_| Serial::random()).collect::<Result<Vec<_>>>()?;
        let signers = plans.iter().map(|p| issuing.signer(&p.ca)).collect::<Result<Vec<_>>>()?;
        let group = self.lock.begin_batch(&serials)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let per = if plans.len() < 2 * threads { plans.len() } else { plans.len().div_ceil(threads) };
        let (lock, key_pass) = (self.lock, self.key_pass);
        let mut work = plans.into_iter().zip(serials).zip(signers);
        let mut workers = vec![];
        loop {
            let share: Vec<_> = work.by_ref().take(per).collect();
            if share.is_empty() {
                break;
            }
            workers.push(self.scope.spawn(move || {
                share
                    .into_iter()
                    .map(|((plan, serial), signer)| {
                        let issued = Issuing::sign_with(&signer, &plan, serial.clone(), key_pass)?;
                        lock.write_batch_cert(&serial, &issued.cert_pem)?;
                        Ok(issued)
                    })
                    .collect()
            }));
        }
        Ok(Signing { workers, group, queue: std::mem::take(&mut self.queue) })
    }

    /// Waits for a group's signing, then for the commit before it (printing its results), and
    /// starts this group's commit.
    fn commit(&mut self, s: Signing<'s>, ctx: &mut Ctx) -> Result<()> {
        let mut signed: Vec<Result<Issued>> = Vec::with_capacity(BATCH_GROUP);
        for w in s.workers {
            signed.extend(w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        self.finish(ctx)?;
        let (lock, actor, time, group) = (self.lock, ctx.actor.clone(), pki_core::certs::rfc3339(ctx.now), s.group);
        let handle = self.scope.spawn(move || {
            let items: Vec<(&InventoryRecord, &str, &str)> = signed
                .iter()
                .filter_map(|s| s.as_ref().ok())
                .filter_map(|i| Some((i.record.as_ref()?, i.cert_pem.as_str(), i.sha256.as_str())))
                .collect();
            let res = lock.commit_batch(group, &items, &actor, &time);
            (signed, res)
        });
        self.committing = Some(Committing { handle, queue: s.queue });
        Ok(())
    }

    /// Waits for the group being committed, if any, and prints its results.
    fn finish(&mut self, ctx: &mut Ctx) -> Result<()> {
        if let Some(c) = self.committing.take() {
            let (signed, res) = c.handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            self.print(ctx, c.queue, &signed, &res)?;
        }
        Ok(())
    }

    fn print(&mut self, ctx: &mut Ctx, queue: Vec<Queued>, signed: &[Result<Issued>], res: &Result<()>) -> Result<()> {
        for q in queue {
            match q {
                Queued::Refused(line, msg) => {
                    self.refused += 1;
                    print_refused(ctx, line, &msg)?;
                }
                Queued::Planned(line, k) => match (&signed[k], res) {
                    (Ok(issued), Ok(())) => {
                        self.ok += 1;
                        print_ok(ctx, line, issued, None, &Out::Stdout)?;
                    }
                    (Err(e), _) | (Ok(_), Err(e)) => {
                        self.refused += 1;
                        print_refused(ctx, line, &format!("{e:#}"))?;
                    }
                },
            }
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct BatchError<'a> {
    line: usize,
    ok: bool,
    error: &'a str,
}

/// Issues one certificate per JSON line, under one lock and one unlock per CA. A refused line
/// does not stop the others; the exit status is 1 when any was refused.
fn run_batch(
    source: &str,
    args: &IssueArgs,
    g: &GlobalArgs,
    ctx: &mut Ctx,
    key_pass: Option<&Secret>,
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
    let reader: Box<dyn BufRead> = if source == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(source).with_context(|| format!("cannot read batch file {source}"))?,
        ))
    };
    let dir = CaDir::open(&g.dir)?;
    let mut issuing = Issuing::open(&dir)?;
    let lock = dir.lock(timeout)?;
    // Results are written in blocks, flushed after each group (a reader sees them per group).
    let raw_out = std::mem::replace(&mut ctx.out, Box::new(std::io::sink()));
    ctx.out = Box::new(std::io::BufWriter::with_capacity(1 << 16, raw_out));
    // Certificates printed to stdout go through the Pipeline, in groups (one ledger write and
    // one syncfs per group instead of several fsyncs per certificate).
    let (ok, refused) = std::thread::scope(|scope| -> Result<(usize, usize)> {
        let mut p = Pipeline {
            scope,
            lock: &lock,
            key_pass,
            plans: Vec::with_capacity(BATCH_GROUP),
            queue: vec![],
            signing: None,
            committing: None,
            ok: 0,
            refused: 0,
        };
        for (i, line) in reader.lines().enumerate() {
            let n = i + 1;
            let line = line.with_context(|| format!("cannot read batch line {n}"))?;
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let planned = (|| -> Result<(Plan, Out)> {
                let mut spec: Spec =
                    serde_json::from_str(&line).map_err(|e| anyhow::anyhow!("not a valid request: {e}"))?;
                // Command-line flags are defaults for every line.
                spec.profile = spec.profile.or_else(|| args.profile.clone());
                spec.ca = spec.ca.or_else(|| args.ca.clone());
                spec.ttl = spec.ttl.or_else(|| args.ttl.clone());
                spec.key_type = spec.key_type.or_else(|| args.key_type.clone());
                spec.force |= args.force;
                spec.clip_ttl |= args.clip_ttl;
                if spec.out.is_none() {
                    spec.out = Some(PathBuf::from("-"));
                }
                let out = out_of(&spec);
                if let Out::Dir(d) = &out {
                    outfiles::check_targets(d, &OUT_FILES, spec.force)?;
                }
                let plan = issuing.plan(&spec, ctx.now)?;
                issuing.unlock(&plan.ca, &ctx.core())?;
                Ok((plan, out))
            })();
            let (plan, out) = match planned {
                Ok(x) => x,
                Err(e) => {
                    p.queue.push(Queued::Refused(n, format!("{e:#}")));
                    continue;
                }
            };
            if matches!(out, Out::Stdout) && plan.renews.is_none() {
                p.queue.push(Queued::Planned(n, p.plans.len()));
                p.plans.push(plan);
                if p.plans.len() >= BATCH_GROUP {
                    p.flush(&issuing, ctx, false)?;
                }
                continue;
            }
            // Files in a directory: committed on their own, after everything before them.
            p.flush(&issuing, ctx, true)?;
            match issue_one(&mut issuing, &plan, &lock, &out, key_pass, ctx) {
                Ok((issued, files)) => {
                    p.ok += 1;
                    print_ok(ctx, n, &issued, files, &out)?;
                }
                Err(e) => {
                    p.refused += 1;
                    print_refused(ctx, n, &format!("{e:#}"))?;
                }
            }
        }
        p.flush(&issuing, ctx, true)?;
        Ok((p.ok, p.refused))
    })?;
    drop(lock);
    ctx.say(format!("batch: {ok} issued, {refused} refused"));
    Ok(if refused > 0 { Exit::Findings } else { Exit::Success })
}
