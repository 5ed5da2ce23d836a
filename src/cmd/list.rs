//! `pki list`: the inventory as a table for people or JSON for scripts, streamed.

use std::io::Write;

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::cli::{GlobalArgs, ListArgs, StatusFilter};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::store::{InventoryRecord, Status};

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    rec: &'a InventoryRecord,
    /// valid | expired | revoked | superseded, as of now.
    state: &'static str,
}

fn state(rec: &InventoryRecord, now: &str) -> &'static str {
    match rec.status {
        Status::Revoked => "revoked",
        Status::Superseded => "superseded",
        // RFC 3339 UTC strings of one fixed format compare like the times they name.
        Status::Valid if rec.not_after.as_str() <= now => "expired",
        Status::Valid => "valid",
    }
}

pub fn run(args: ListArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let dir = super::open_for_reading(g, ctx)?;
    let now = pki_core::certs::rfc3339(ctx.now);
    let want = args.status.map(|s| match s {
        StatusFilter::Valid => "valid",
        StatusFilter::Expired => "expired",
        StatusFilter::Revoked => "revoked",
        StatusFilter::Superseded => "superseded",
    });
    let keep = |r: &InventoryRecord| -> bool {
        args.ca.as_deref().is_none_or(|c| r.ca == c) && want.is_none_or(|w| state(r, &now) == w)
    };
    if args.json {
        // Streamed as a JSON array so a million records never sit in memory at once.
        let out = &mut ctx.out;
        write!(out, "[")?;
        let mut first = true;
        dir.for_each_inventory(|r| {
            if keep(&r) {
                if !first {
                    write!(out, ",")?;
                }
                first = false;
                write!(out, "\n  ")?;
                serde_json::to_writer(&mut *out, &Row { state: state(&r, &now), rec: &r })?;
            }
            Ok(())
        })?;
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
        return Ok(Exit::Success);
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(vec!["Serial", "State", "Not after", "CA", "Subject", "SANs"]);
    let mut n = 0usize;
    dir.for_each_inventory(|r| {
        if keep(&r) {
            n += 1;
            table.add_row(vec![
                r.serial.clone(),
                state(&r, &now).to_string(),
                r.not_after.clone(),
                r.ca.clone(),
                r.subject.clone(),
                r.sans.join(", "),
            ]);
        }
        Ok(())
    })?;
    if n == 0 {
        ctx.say("no certificates match");
    } else {
        writeln!(ctx.out, "{table}")?;
        ctx.say(format!("{n} certificate(s)"));
    }
    Ok(Exit::Success)
}
