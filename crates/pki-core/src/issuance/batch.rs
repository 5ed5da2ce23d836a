//! Many certificates (`pki issue --batch`), under the lock while requests keep coming (the input
//! is read on its own thread, without the lock): a three-stage pipeline. The caller's
//! thread plans group k+1 while group k is signed on every core and group k-1 is committed
//! (one ledger write, one inventory write, one sync per group). Results reach the caller's
//! [`BatchSink`] in input order, each only once its group is committed.

use std::thread::ScopedJoinHandle;
use std::time::Duration;

use anyhow::Result;

use super::output::{StagedFiles, stage_for_batch};
use super::{Files, Issued, Issuing, Out, Plan, Spec};
use crate::context::{Context, Secret};
use crate::serial::Serial;
use crate::store::{BATCH_GROUP, BatchGroup, InventoryRecord, Locked, SyncSet};

/// How long a batch waits for its next request before it commits what it has and releases the
/// directory's lock (the input is then read without holding it).
const IDLE: Duration = Duration::from_millis(200);

/// One request of a batch: its line number and the request, or why it could not be read.
pub type BatchLine = (usize, Result<Spec>);

/// Where a batch's results go, in input order.
pub trait BatchSink {
    /// A request was issued and committed (`files` with [`Out::Dir`]).
    fn issued(&mut self, line: usize, issued: &Issued, files: Option<&Files>, out: &Out) -> Result<()>;
    /// A request was refused, for `error` (see [`crate::error::error_object`]). Nothing of it
    /// was written.
    fn refused(&mut self, line: usize, error: &anyhow::Error) -> Result<()>;
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
    Refused(usize, anyhow::Error),
    /// A batch line and its index into the planned group.
    Planned(usize, usize),
}

/// One signed certificate of a group, with its caller's files staged when it goes to a
/// directory.
type Signed = Result<(Issued, Option<StagedFiles>)>;

/// A signed certificate's staged files, to move into place after the commit.
type ToPlace = (super::outfiles::Staged, Files);

/// A committed certificate of a group: its files in place, or why they could not be.
type Done = Result<(Issued, Option<Files>)>;

/// A group being signed on worker threads: its list is on disk, its files are being written.
struct Signing<'s> {
    workers: Vec<ScopedJoinHandle<'s, Vec<Signed>>>,
    outs: Vec<Out>,
    group: BatchGroup,
    queue: Vec<Queued>,
}

/// A signed group whose commit runs on its own thread: the commit mostly waits for the disk.
struct Committing<'s> {
    handle: ScopedJoinHandle<'s, (Vec<Done>, Result<()>)>,
    queue: Vec<Queued>,
    outs: Vec<Out>,
}

struct Pipeline<'s, 'l, 'c> {
    scope: &'s std::thread::Scope<'s, 'l>,
    lock: &'l Locked<'l>,
    key_pass: Option<&'l Secret>,
    ctx: &'c Context<'c>,
    plans: Vec<Plan>,
    outs: Vec<Out>,
    /// The `--out` directories of the groups in flight: a second line for one of them waits
    /// for the first to be committed (so it is refused as existing, as one by one).
    dirs: std::collections::HashSet<std::path::PathBuf>,
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
            self.report(sink, queue, &[], &[], &Ok(()))?;
            self.dirs.clear();
        }
        sink.flush()
    }

    /// Draws the group's serials, lists them on disk, and hands the group to worker threads
    /// (one per core), each signing its share and writing each certificate to its place.
    fn start_signing(&mut self, issuing: &Issuing<'_>) -> Result<Signing<'s>> {
        let plans = std::mem::take(&mut self.plans);
        let outs = std::mem::take(&mut self.outs);
        let serials = plans.iter().map(|_| Serial::random_from(self.ctx.rng)).collect::<Result<Vec<_>>>()?;
        let signers = plans.iter().map(|p| issuing.signer(&p.ca)).collect::<Result<Vec<_>>>()?;
        if let (Some(p), Some(s)) = (plans.first(), signers.first()) {
            self.lock.sign_with(crate::store::LedgerSigner::new(&p.ca, &p.chain[0].der, s.clone()));
        }
        let group = self.lock.begin_batch(&serials)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let per = if plans.len() < 2 * threads { plans.len() } else { plans.len().div_ceil(threads) };
        let (lock, key_pass) = (self.lock, self.key_pass);
        let mut work = plans.into_iter().zip(serials).zip(signers).zip(outs.clone());
        let mut workers = vec![];
        loop {
            let share: Vec<_> = work.by_ref().take(per).collect();
            if share.is_empty() {
                break;
            }
            workers.push(self.scope.spawn(move || {
                share
                    .into_iter()
                    .map(|(((plan, serial), signer), out)| {
                        let issued = Issuing::sign_with(&signer, &plan, serial.clone(), key_pass)?;
                        lock.write_batch_cert(&serial, &issued.cert_pem)?;
                        let staged = match &out {
                            Out::Dir(d) => match stage_for_batch(d, &issued) {
                                Ok(s) => Some(s),
                                Err(e) => {
                                    lock.discard_batch_cert(&serial);
                                    return Err(e);
                                }
                            },
                            Out::Stdout => None,
                        };
                        Ok((issued, staged))
                    })
                    .collect()
            }));
        }
        Ok(Signing { workers, outs, group, queue: std::mem::take(&mut self.queue) })
    }

    /// Waits for a group's signing, then for the commit before it (reporting its results), and
    /// starts this group's commit.
    fn commit(&mut self, s: Signing<'s>, sink: &mut dyn BatchSink) -> Result<()> {
        let mut signed: Vec<Signed> = Vec::with_capacity(BATCH_GROUP);
        for w in s.workers {
            signed.extend(w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        self.finish(sink)?;
        let (lock, actor, time, group) =
            (self.lock, self.ctx.actor.clone(), crate::certs::rfc3339(self.ctx.now), s.group);
        let handle = self.scope.spawn(move || {
            // The callers' staged files are made durable with the group (one sync for all).
            let mut durable = SyncSet::default();
            let mut parents: Vec<std::path::PathBuf> = vec![];
            let signed: Vec<Result<(Issued, Option<ToPlace>)>> = signed
                .into_iter()
                .map(|r| {
                    r.map(|(i, st)| {
                        let st = st.map(|s| {
                            durable.extend(s.durable);
                            if let Some(p) = s.parent
                                && !parents.contains(&p)
                            {
                                parents.push(p);
                            }
                            (s.staged, s.files)
                        });
                        (i, st)
                    })
                })
                .collect();
            let staged_dirs = parents.iter().try_for_each(|p| durable.add_dir_outside(p));
            if let Err(e) = staged_dirs.and_then(|()| durable.sync_by_filesystem()) {
                let _ = lock.abandon_batch(group);
                let done = signed.into_iter().map(|r| r.map(|(i, _)| (i, None))).collect();
                return (done, Err(e));
            }
            let res = {
                let items: Vec<(&InventoryRecord, &str, &str, &str)> = signed
                    .iter()
                    .filter_map(|s| s.as_ref().ok())
                    .filter_map(|(i, _)| {
                        Some((i.record.as_ref()?, i.cert_pem.as_str(), i.sha256.as_str(), i.key_origin))
                    })
                    .collect();
                lock.commit_batch(group, &items, &actor, &time)
            };
            // Committed: the callers' files go into place, their directories synced once.
            let mut placed = SyncSet::default();
            let done: Vec<Done> = signed
                .into_iter()
                .map(|r| match r {
                    Err(e) => Err(e),
                    Ok((issued, st)) => match st {
                        None => Ok((issued, None)),
                        Some(_) if res.is_err() => Ok((issued, None)),
                        Some((mut staged, files)) => match staged.publish(&mut placed) {
                            Ok(()) => Ok((issued, Some(files))),
                            Err(e) => Err(e.context(format!(
                                "certificate {} was issued and recorded, but its files could not be written",
                                issued.serial
                            ))),
                        },
                    },
                })
                .collect();
            let res = res
                .and_then(|()| parents.iter().try_for_each(|p| placed.add_dir_outside(p)))
                .and_then(|()| placed.sync_by_filesystem());
            (done, res)
        });
        self.committing = Some(Committing { handle, queue: s.queue, outs: s.outs });
        Ok(())
    }

    /// Waits for the group being committed, if any, and reports its results.
    fn finish(&mut self, sink: &mut dyn BatchSink) -> Result<()> {
        if let Some(c) = self.committing.take() {
            let (done, res) = c.handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            self.report(sink, c.queue, &done, &c.outs, &res)?;
        }
        Ok(())
    }

    fn report(
        &mut self,
        sink: &mut dyn BatchSink,
        queue: Vec<Queued>,
        done: &[Done],
        outs: &[Out],
        res: &Result<()>,
    ) -> Result<()> {
        for q in queue {
            match q {
                Queued::Refused(line, msg) => {
                    self.tally.refused += 1;
                    sink.refused(line, &msg)?;
                }
                Queued::Planned(line, k) => match (&done[k], res) {
                    (Ok((issued, files)), Ok(())) => {
                        self.tally.issued += 1;
                        sink.issued(line, issued, files.as_ref(), &outs[k])?;
                    }
                    (Err(e), _) | (Ok(_), Err(e)) => {
                        self.tally.refused += 1;
                        sink.refused(line, e)?;
                    }
                },
            }
        }
        Ok(())
    }
}

impl Issuing<'_> {
    /// Issues one certificate per request, holding the lock (waiting up to `timeout` for it)
    /// while requests keep coming, with one unlock per CA. A refused request does not stop the others. Requests to the stream
    /// ([`Out::Stdout`]) go through the pipeline in groups of [`BATCH_GROUP`]; a request with
    /// files in a directory, or a renewal, is committed on its own after everything before it.
    /// An `Err` item of `requests` (the input could not be read) stops the batch after what
    /// was planned before it is committed and reported.
    pub fn issue_batch(
        &mut self,
        requests: impl Iterator<Item = Result<BatchLine>> + Send + 'static,
        key_pass: Option<&Secret>,
        timeout: Duration,
        ctx: &Context<'_>,
        sink: &mut dyn BatchSink,
    ) -> Result<BatchTally> {
        // The input is read on a thread of its own, and the lock is held only while requests
        // keep coming: when none has arrived for IDLE, what was read is committed and the lock
        // released until the next one, so a slow or interactive producer (`--batch -` fed by
        // a person or a pipeline) never blocks other jobs. The reader is not joined: a batch
        // that stops on an error must not wait for a producer that never closes its end.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<BatchLine>>(2 * BATCH_GROUP);
        std::thread::Builder::new()
            .name("batch-input".into())
            .spawn(move || {
                for r in requests {
                    if tx.send(r).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| anyhow::anyhow!("cannot start the batch's reader: {e}"))?;
        let mut tally = BatchTally::default();
        // Blocks without the lock until a request (or the end) comes.
        while let Ok(first) = rx.recv() {
            let eof = std::cell::Cell::new(false);
            let more = std::iter::once(first).chain(std::iter::from_fn(|| match rx.recv_timeout(IDLE) {
                Ok(r) => Some(r),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    eof.set(true);
                    None
                }
            }));
            let t = self.batch_session(more, key_pass, timeout, ctx, sink)?;
            tally.issued += t.issued;
            tally.refused += t.refused;
            if eof.get() {
                break;
            }
        }
        Ok(tally)
    }

    /// One stretch of a batch under the lock: the requests `requests` yields, committed and
    /// reported before the lock is released.
    fn batch_session(
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
                outs: Vec::with_capacity(BATCH_GROUP),
                dirs: Default::default(),
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
                    Ok((plan, out, spec.force))
                });
                let (plan, out, force) = match planned {
                    Ok(x) => x,
                    Err(e) => {
                        p.queue.push(Queued::Refused(n, e));
                        continue;
                    }
                };
                if plan.renews.is_none() {
                    // Files in a directory go with the group; a directory already in flight
                    // waits for its group's commit (and is then refused as existing).
                    if let Out::Dir(d) = &out
                        && !p.dirs.insert(d.clone())
                    {
                        p.flush(self, sink, true)?;
                        p.dirs.insert(d.clone());
                        if let Err(e) = out.check(force) {
                            p.queue.push(Queued::Refused(n, e));
                            continue;
                        }
                    }
                    p.queue.push(Queued::Planned(n, p.plans.len()));
                    p.plans.push(plan);
                    p.outs.push(out);
                    if p.plans.len() >= BATCH_GROUP {
                        p.flush(self, sink, false)?;
                    }
                    continue;
                }
                // A renewal: committed on its own, after everything before it.
                p.flush(self, sink, true)?;
                match self.commit_plan(&plan, &lock, &out, key_pass, ctx) {
                    Ok(r) => {
                        p.tally.issued += 1;
                        sink.issued(n, &r.issued, r.files.as_ref(), &out)?;
                    }
                    Err(e) => {
                        p.tally.refused += 1;
                        sink.refused(n, &e)?;
                    }
                }
            }
            p.flush(self, sink, true)?;
            Ok(p.tally)
        })
    }
}
