//! `pki trust install|uninstall`: the root CA in the operating system's trust store, as mkcert
//! does it (Debian/Ubuntu and RHEL/Fedora layouts), with a dry run that only prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cli::{GlobalArgs, TrustAction, TrustArgs};
use crate::ctx::Ctx;
use crate::exit_codes::{Exit, PkiError};
use pki_core::ca::Ca;
use pki_core::store::{sha256_hex, write_atomic};

struct Store {
    dir: &'static str,
    ext: &'static str,
    update: &'static [&'static str],
}

const DEBIAN: Store =
    Store { dir: "/usr/local/share/ca-certificates", ext: "crt", update: &["update-ca-certificates"] };
const RHEL: Store =
    Store { dir: "/etc/pki/ca-trust/source/anchors", ext: "pem", update: &["update-ca-trust", "extract"] };

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file())).unwrap_or(false)
        || Path::new("/usr/sbin").join(cmd).is_file()
}

fn detect() -> Result<Store> {
    if on_path("update-ca-certificates") {
        return Ok(DEBIAN);
    }
    if on_path("update-ca-trust") {
        return Ok(RHEL);
    }
    bail!(
        "no supported system trust store here (Debian's update-ca-certificates or RHEL's update-ca-trust): install the root yourself from `pki export --root`"
    )
}

pub fn run(args: TrustArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let (install, opts) = match &args.action {
        TrustAction::Install(o) => (true, o),
        TrustAction::Uninstall(o) => (false, o),
    };
    let dir = super::open_for_reading(g, ctx)?;
    let roots: Vec<Ca> = dir
        .ca_names()?
        .iter()
        .map(|n| Ca::load(&dir, n))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|c| c.self_signed)
        .collect();
    let root = match &opts.ca {
        Some(n) => roots
            .into_iter()
            .find(|c| &c.name == n)
            .ok_or_else(|| anyhow::anyhow!("no root CA named '{n}' in this directory"))?,
        None if roots.len() == 1 => roots.into_iter().next().expect("one root"),
        None if roots.is_empty() => return Err(PkiError::NoRoot { dir: dir.root.clone() }.into()),
        None => bail!("several root CAs: pick one with --ca"),
    };
    let store = detect()?;
    let cn = root.subject.rsplit("CN=").next().unwrap_or("root");
    let slug: String =
        cn.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let file = PathBuf::from(store.dir).join(format!(
        "pki-{}-{}.{}",
        slug.trim_matches('-'),
        &sha256_hex(&root.der)[..8],
        store.ext
    ));
    let dry = opts.dry_run;
    if install {
        if dry {
            ctx.say(format!("would write {} ({})", file.display(), root.subject));
        } else {
            std::fs::create_dir_all(store.dir).with_context(|| format!("cannot create {}", store.dir))?;
            write_atomic(&file, root.pem.as_bytes(), 0o644)
                .map_err(|e| anyhow::anyhow!("{e:#} (are you root? try sudo)"))?;
            ctx.say(format!("wrote {}", file.display()));
        }
    } else if dry {
        ctx.say(format!("would remove {}", file.display()));
    } else if file.exists() {
        std::fs::remove_file(&file)
            .with_context(|| format!("cannot remove {} (are you root? try sudo)", file.display()))?;
        ctx.say(format!("removed {}", file.display()));
    } else {
        ctx.say(format!("{} is not installed; nothing to remove", file.display()));
    }
    let cmdline = store.update.join(" ");
    if dry {
        ctx.say(format!("would run: {cmdline}"));
        return Ok(Exit::Success);
    }
    let out = Command::new(store.update[0])
        .args(&store.update[1..])
        .output()
        .with_context(|| format!("cannot run {cmdline}"))?;
    if !out.status.success() {
        bail!("{cmdline} failed: {}", String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("no message"));
    }
    ctx.say(format!(
        "ran {cmdline}: the root CA '{}' is {} the system trust store",
        root.name,
        if install { "in" } else { "no longer in" }
    ));
    Ok(Exit::Success)
}
