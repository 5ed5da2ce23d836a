//! Many certificates under one lock (`pki issue --batch`): a three-stage pipeline. The caller's
//! thread plans group k+1 while group k is signed on every core and group k-1 is committed
//! (one ledger write, one inventory write, one sync per group). Results reach the caller's
//! [`BatchSink`] in input order, each only once its group is committed.

use std::thread::ScopedJoinHandle;
use std::time::Duration;

use anyhow::Result;

use super::{Files, Issued, Issuing, Out, Plan, Spec};
use crate::context::{Context, Secret};
use crate::serial::Serial;
use crate::store::{BATCH_GROUP, BatchGroup, InventoryRecord, Locked};

/// One request of a batch: its line number and the request, or why it could not be read.
pub type BatchLine = (usize, Result<Spec>);

/// Where a batch's results go, in input order.
pub trait BatchSink {
    /// A request was issued and committed (`files` with [`Out::Dir`]).
    fn issued(&mut self, line: usize, issued: &Issued, files: Option<&Files>, out: &Out) -> Result<()>;
    /// A request was refused; `error` is the one-line reason. Nothing of it was written.
    fn refused(&mut self, line: usize, error: &str) -> Result<()>;
    /// A group has been committed and reported: a good moment to flush.
    fn flush(&mut self) -> Result<()>;
}

/// How many requests a batch issued and refused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchTally {
    /// Issued and committed.
    pub issued: usize,
    /// Refused (nothing written for them).
    pub refused: usize,
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

struct Pipeline<'s, 'l, 'c> {
    scope: &'s std::thread::Scope<'s, 'l>,
    lock: &'l Locked<'l>,
    key_pass: Option<&'l Secret>,
    ctx: &'c Context<'c>,
    plans: Vec<Plan>,
    queue: Vec<Queued>,
    signing: Option<Signing<'s>>,
    committing: Option<Committing<'s>>,
    tally: BatchTally,
}

impl<'s, 'l, 'c> Pipeline<'s, 'l, 'c> {
    /// Starts signing the planned group and moves the group signed before it on to its commit.
    /// With `wait`, drains the pipeline: everything planned is committed and reported.
    fn flush(&mut self, issuing: &Issuing<'_>, sink: &mut dyn BatchSink, wait: bool) -> Result<()> {
        if !self.plans.is_empty() {
            let next = self.start_signing(issuing)?;
            if let Some(prev) = self.signing.replace(next) {
                self.commit(prev, sink)?;
            }
        }
        if wait {
            if let Some(prev) = self.signing.take() {
                self.commit(prev, sink)?;
            }
            self.finish(sink)?;
            let queue = std::mem::take(&mut self.queue);
            self.report(sink, queue, &[], &Ok(()))?;
        }
        sink.flush()
    }

    /// Draws the group's serials, lists them on disk, and hands the group to worker threads
    /// (one per core), each signing its share and writing each certificate to its place.
    fn start_signing(&mut self, issuing: &Issuing<'_>) -> Result<Signing<'s>> {
        let plans = std::mem::take(&mut self.plans);
        let serials = plans.iter().map(|_| Serial::random_from(self.ctx.rng)).collect::<Result<Vec<_>>>()?;
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

    /// Waits for a group's signing, then for the commit before it (reporting its results), and
    /// starts this group's commit.
    fn commit(&mut self, s: Signing<'s>, sink: &mut dyn BatchSink) -> Result<()> {
        let mut signed: Vec<Result<Issued>> = Vec::with_capacity(BATCH_GROUP);
        for w in s.workers {
            signed.extend(w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        self.finish(sink)?;
        let (lock, actor, time, group) =
            (self.lock, self.ctx.actor.clone(), crate::certs::rfc3339(self.ctx.now), s.group);
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

    /// Waits for the group being committed, if any, and reports its results.
    fn finish(&mut self, sink: &mut dyn BatchSink) -> Result<()> {
        if let Some(c) = self.committing.take() {
            let (signed, res) = c.handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            self.report(sink, c.queue, &signed, &res)?;
        }
        Ok(())
    }

    fn report(
        &mut self,
        sink: &mut dyn BatchSink,
        queue: Vec<Queued>,
        signed: &[Result<Issued>],
        res: &Result<()>,
    ) -> Result<()> {
        for q in queue {
            match q {
                Queued::Refused(line, msg) => {
                    self.tally.refused += 1;
                    sink.refused(line, &msg)?;
                }
                Queued::Planned(line, k) => match (&signed[k], res) {
                    (Ok(issued), Ok(())) => {
                        self.tally.issued += 1;
                        sink.issued(line, issued, None, &Out::Stdout)?;
                    }
                    (Err(e), _) | (Ok(_), Err(e)) => {
                        self.tally.refused += 1;
                        sink.refused(line, &format!("{e:#}"))?;
                    }
                },
            }
        }
        Ok(())
    }
}

impl Issuing<'_> {
    /// Issues one certificate per request under one lock (waiting up to `timeout`) and one
    /// unlock per CA. A refused request does not stop the others. Requests to the stream
    /// ([`Out::Stdout`]) go through the pipeline in groups of [`BATCH_GROUP`]; a request with
    /// files in a directory, or a renewal, is committed on its own after everything before it.
    /// An `Err` item of `requests` (the input could not be read) stops the batch after what
    /// was planned before it is committed and reported.
    pub fn issue_batch(
        &mut self,
        requests: impl Iterator<Item = Result<BatchLine>>,
        key_pass: Option<&Secret>,
        timeout: Duration,
        ctx: &Context<'_>,
        sink: &mut dyn BatchSink,
    ) -> Result<BatchTally> {
        let lock = self.dir.lock(timeout)?;
        std::thread::scope(|scope| -> Result<BatchTally> {
            let mut p = Pipeline {
                scope,
                lock: &lock,
                key_pass,
                ctx,
                plans: Vec::with_capacity(BATCH_GROUP),
                queue: vec![],
                signing: None,
                committing: None,
                tally: BatchTally::default(),
            };
            for request in requests {
                let (n, spec) = request?;
                let planned = spec.and_then(|spec| {
                    let out = Out::of(&spec);
                    out.check(spec.force)?;
                    let plan = self.plan(&spec, ctx.now)?;
                    self.unlock(&plan.ca, ctx)?;
                    Ok((plan, out))
                });
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
                        p.flush(self, sink, false)?;
                    }
                    continue;
                }
                // Files in a directory: committed on their own, after everything before them.
                p.flush(self, sink, true)?;
                match self.commit_plan(&plan, &lock, &out, key_pass, ctx) {
                    Ok(r) => {
                        p.tally.issued += 1;
                        sink.issued(n, &r.issued, r.files.as_ref(), &out)?;
                    }
                    Err(e) => {
                        p.tally.refused += 1;
                        sink.refused(n, &format!("{e:#}"))?;
                    }
                }
            }
            p.flush(self, sink, true)?;
            Ok(p.tally)
        })
    }
}
