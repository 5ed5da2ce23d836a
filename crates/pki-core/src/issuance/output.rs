//! Where an issued certificate goes (`--out DIR` files or the caller's stream) and the commit
//! of one certificate: sign, stage the caller's files, commit to the directory, publish.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::outfiles::{self, Staged};
use super::{Issued, Issuing, Plan, Spec};
use crate::context::{Context, Secret};
use crate::store::{Locked, SyncSet};

/// The files `--out DIR` receives.
pub const OUT_FILES: [&str; 5] = ["cert.pem", "key.pem", "chain.pem", "fullchain.pem", "root.pem"];

/// Where the result goes.
#[derive(Debug, Clone)]
pub enum Out {
    /// Files in a directory (created if missing): [`OUT_FILES`].
    Dir(PathBuf),
    /// Nothing on disk outside the CA directory: the caller takes the PEM texts from [`Issued`].
    Stdout,
}

/// The files written for one certificate.
#[derive(Debug, Serialize)]
pub struct Files {
    /// The certificate.
    pub cert: PathBuf,
    /// The new private key (absent when the holder kept its key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// The intermediates, leaf's issuer first.
    pub chain: PathBuf,
    /// The certificate followed by the chain.
    pub fullchain: PathBuf,
    /// The root.
    pub root: PathBuf,
}

/// A committed certificate and the files it was written to.
#[derive(Debug)]
pub struct Requested {
    /// What was issued.
    pub issued: Issued,
    /// The files written, with [`Out::Dir`].
    pub files: Option<Files>,
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

impl Out {
    /// The request's destination: `out = "-"` is the stream, no `out` a directory named after
    /// the first name.
    pub fn of(spec: &Spec) -> Out {
        match &spec.out {
            Some(p) if p.as_os_str() == "-" => Out::Stdout,
            Some(p) => Out::Dir(p.clone()),
            None => Out::Dir(default_out(spec)),
        }
    }

    /// Refuses existing files unless `force`, before anything is generated or written.
    pub fn check(&self, force: bool) -> Result<()> {
        match self {
            Out::Dir(d) => outfiles::check_targets(d, &OUT_FILES, force),
            Out::Stdout => Ok(()),
        }
    }
}

impl Issuing<'_> {
    /// Issues one certificate from a request: plan (writes nothing if refused), unlock the CA,
    /// take the lock (waiting up to `timeout`), sign, commit, write the files.
    pub fn issue(
        &mut self,
        spec: &Spec,
        out: &Out,
        key_pass: Option<&Secret>,
        timeout: Duration,
        ctx: &Context<'_>,
    ) -> Result<Requested> {
        out.check(spec.force)?;
        let plan = self.plan(spec, ctx.now)?;
        self.unlock(&plan.ca, ctx)?;
        let lock = self.dir.lock(timeout)?;
        self.commit_plan(&plan, &lock, out, key_pass, ctx)
    }

    /// Signs a plan, stages the caller's files, commits, then moves the files into place. The
    /// plan's CA must be unlocked; call with the lock held.
    pub fn commit_plan(
        &self,
        plan: &Plan,
        lock: &Locked<'_>,
        out: &Out,
        key_pass: Option<&Secret>,
        ctx: &Context<'_>,
    ) -> Result<Requested> {
        let mut issued = self.sign(plan, lock, key_pass, ctx.rng)?;
        lock.sign_with(crate::store::LedgerSigner::new(&plan.ca, &plan.chain[0].der, self.signer(&plan.ca)?));
        let record = issued.record.take().expect("sign returns the inventory record");
        // Stage the caller's files first, so a full disk or a read-only --out fails before the
        // commit; they are made durable together with the CA's staged copy of the certificate.
        let mut staged = Staged::default();
        let mut durable = SyncSet::default();
        let files = match out {
            Out::Dir(d) => Some(stage_files(&mut staged, &mut durable, d, &issued)?),
            Out::Stdout => None,
        };
        let mut data_extra = serde_json::Map::new();
        data_extra.insert("key_origin".into(), issued.key_origin.into());
        if let Some(r) = &plan.renews {
            data_extra.insert("renews".into(), r.clone().into());
        }
        lock.commit_issue(
            &record,
            &issued.cert_pem,
            &issued.sha256,
            ctx.actor,
            &crate::certs::rfc3339(ctx.now),
            data_extra,
            &mut durable,
            |durable| {
                staged.publish(durable).with_context(|| {
                    format!("certificate {} was issued and recorded, but its files could not be written", issued.serial)
                })
            },
        )?;
        Ok(Requested { issued, files })
    }
}

/// A certificate's files staged beside their places for a batch group: made durable with the
/// group, moved into place after its commit (removed if dropped before).
pub(super) struct StagedFiles {
    pub(super) staged: Staged,
    pub(super) durable: SyncSet,
    pub(super) files: Files,
    /// The parent of a directory staged whole: made durable once per group, before the
    /// commit and again after the renames.
    pub(super) parent: Option<PathBuf>,
}

/// Stages the files of one certificate of a batch group.
pub(super) fn stage_for_batch(d: &Path, issued: &Issued) -> Result<StagedFiles> {
    let mut staged = Staged::default();
    let mut durable = SyncSet::default();
    let fullchain = fullchain(issued);
    let list = contents(issued, &fullchain);
    let (files, parent) = if staged.stage_new_dir(d, &list)? {
        let parent = d.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (Files::at(d, issued.key_pem.is_some()), Some(parent.to_path_buf()))
    } else {
        (stage_files(&mut staged, &mut durable, d, issued)?, None)
    };
    Ok(StagedFiles { staged, durable, files, parent })
}

fn fullchain(issued: &Issued) -> String {
    format!("{}{}", issued.cert_pem, issued.chain_pem)
}

/// The files `--out DIR` receives for a certificate: (name, content, mode), the key only when
/// pki generated it.
fn contents<'a>(issued: &'a Issued, fullchain: &'a str) -> Vec<(&'static str, &'a [u8], u32)> {
    let mut list = vec![("cert.pem", issued.cert_pem.as_bytes(), 0o644)];
    if let Some(k) = &issued.key_pem {
        list.push(("key.pem", k.as_bytes(), 0o600));
    }
    list.extend([
        ("chain.pem", issued.chain_pem.as_bytes(), 0o644),
        ("fullchain.pem", fullchain.as_bytes(), 0o644),
        ("root.pem", issued.root_pem.as_bytes(), 0o644),
    ]);
    list
}

impl Files {
    /// The paths of the files in directory `d`.
    fn at(d: &Path, key: bool) -> Files {
        Files {
            cert: d.join("cert.pem"),
            key: key.then(|| d.join("key.pem")),
            chain: d.join("chain.pem"),
            fullchain: d.join("fullchain.pem"),
            root: d.join("root.pem"),
        }
    }
}

fn stage_files(staged: &mut Staged, durable: &mut SyncSet, d: &Path, issued: &Issued) -> Result<Files> {
    let fullchain = fullchain(issued);
    for (name, bytes, mode) in contents(issued, &fullchain) {
        staged.stage(d, name, bytes, mode, durable)?;
    }
    Ok(Files::at(d, issued.key_pem.is_some()))
}
