//! `pki inspect FILE|-`: describe certificates, chains, CSRs, CRLs and keys.

use std::io::{Read, Write};

use anyhow::{Context, Result};

use crate::cli::{GlobalArgs, InspectArgs};
use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::inspect;

/// Inputs larger than this are not certificates; refuse rather than read a disk image.
const MAX_INPUT: u64 = 64 << 20;

pub fn run(args: InspectArgs, _g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let mut buf = Vec::new();
    let source = if args.file == "-" { "standard input".to_string() } else { args.file.clone() };
    if args.file == "-" {
        std::io::stdin().take(MAX_INPUT + 1).read_to_end(&mut buf).context("cannot read standard input")?;
    } else {
        let f = std::fs::File::open(&args.file).with_context(|| format!("cannot read {}", args.file))?;
        f.take(MAX_INPUT + 1).read_to_end(&mut buf).with_context(|| format!("cannot read {}", args.file))?;
    }
    if buf.len() as u64 > MAX_INPUT {
        anyhow::bail!("{source} is larger than 64 MiB: not a certificate, CSR, CRL or key");
    }
    let objects = inspect::inspect(&buf, &source, ctx.now)?;
    if args.json {
        let v = if objects.len() == 1 {
            serde_json::to_value(&objects[0])?
        } else {
            serde_json::json!({ "objects": objects })
        };
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
    } else {
        inspect::render(&objects, &mut ctx.out)?;
    }
    Ok(Exit::Success)
}
