//! `pki man`: man pages generated from the clap definition, one per command.

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, EXIT_STATUS_TEXT, ManArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

/// The CA directory's layout (docs/ca-directory.md has the details).
const FILES: &str = "\
DIR/pki.toml              settings: defaults, per-CA settings, profiles (human-edited)
DIR/cas/NAME/cert.pem     a CA's certificate
DIR/cas/NAME/key.pem      a CA's private key (0600, encrypted PKCS#8)
DIR/certs/XX/SERIAL.pem   every issued certificate (XX: first two hex digits)
DIR/inventory.tsv         one line per issued certificate (tab-separated)
DIR/ledger.jsonl          append-only, hash-chained record of every change
DIR/.lock                 lock file taken by every change";

fn render(cmd: &clap::Command, name: &str) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone()).title(name.to_uppercase());
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    if cmd.get_subcommands().next().is_some() {
        man.render_subcommands_section(&mut buf)?;
    }
    // EXAMPLES / EXIT STATUS / ENVIRONMENT come from the same text `--help` shows.
    let mut extra = cmd.get_after_help().map(|s| s.to_string()).unwrap_or_default();
    if !extra.contains("EXIT STATUS") {
        extra.push_str("\n\n");
        extra.push_str(EXIT_STATUS_TEXT);
    }
    for section in extra.split("\n\n") {
        let mut lines = section.lines();
        let Some(head) = lines.next() else { continue };
        let (title, body): (String, Vec<&str>) = match head.strip_suffix(':') {
            Some(h) if h.chars().all(|c| c.is_ascii_uppercase() || c == ' ') => (h.to_string(), lines.collect()),
            _ => ("NOTES".to_string(), section.lines().collect()),
        };
        buf.extend_from_slice(format!(".SH \"{title}\"\n.nf\n").as_bytes());
        for l in body {
            let l = l.replace('\\', "\\\\").replace('-', "\\-");
            let l = if l.starts_with('.') || l.starts_with('\'') { format!("\\&{l}") } else { l };
            buf.extend_from_slice(format!("{l}\n").as_bytes());
        }
        buf.extend_from_slice(b".fi\n");
    }
    // Every command works on the same directory: each page says where its files are.
    buf.extend_from_slice(format!(".SH FILES\n.nf\n{}\n.fi\n", FILES.replace('-', "\\-")).as_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut buf)?;
    }
    Ok(buf)
}

pub fn run(args: ManArgs, ctx: &mut Ctx) -> Result<Exit> {
    let root = Cli::command();
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let mut written = vec![];
    let page = render(&root, "pki")?;
    let p = args.out_dir.join("pki.1");
    std::fs::write(&p, page).with_context(|| format!("cannot write {}", p.display()))?;
    written.push(p);
    for sub in root.get_subcommands() {
        let name = format!("pki-{}", sub.get_name());
        let cmd = sub.clone().name(name.clone());
        let p = args.out_dir.join(format!("{name}.1"));
        std::fs::write(&p, render(&cmd, &name)?).with_context(|| format!("cannot write {}", p.display()))?;
        written.push(p);
    }
    ctx.say(format!("wrote {} man page(s) to {}", written.len(), args.out_dir.display()));
    Ok(Exit::Success)
}
