//! `pki report --html FILE`: the overview `pki serve` shows at `/ui/`, as one self-contained
//! HTML file (the work is `pki_serve::ui`'s, from the core's audit and inventory).

use std::io::Write;

use anyhow::Result;

use crate::cli::{GlobalArgs, ReportArgs, ReportBy};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

pub fn run(args: ReportArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let window = pki_core::duration::parse("--window", &args.window)?;
    let dir = super::open_for_reading(g, ctx)?;
    let html = pki_serve::ui::report_html(&dir, ctx.now, window, args.by == ReportBy::Ca)?;
    if args.html.as_os_str() == "-" {
        ctx.out.write_all(html.as_bytes())?;
    } else {
        pki_core::store::write_atomic(&args.html, html.as_bytes(), 0o644)?;
        ctx.say(format!("wrote {} ({} bytes)", args.html.display(), html.len()));
    }
    Ok(Exit::Success)
}
