//! `pki profiles [NAME]`: the issuance profiles, as checked on load.

use std::io::Write;

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::cli::{GlobalArgs, ProfilesArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;
use pki_core::duration::show;
use pki_core::policy::{Profile, Subject};
use pki_core::settings::Settings;
use pki_core::store::SETTINGS;

pub fn run(args: ProfilesArgs, g: &GlobalArgs, ctx: &mut Ctx) -> Result<Exit> {
    let dir = super::open_for_reading(g, ctx)?;
    let file = dir.path(SETTINGS).display().to_string();
    let settings = Settings::parse(&dir.read_settings_text()?, &file)?;
    let names: Vec<String> = match &args.name {
        Some(n) => vec![n.clone()],
        None => settings.profiles.keys().cloned().collect(),
    };
    let profiles: Vec<Profile> = names.iter().map(|n| settings.profile(n, &file)).collect::<Result<_>>()?;
    if args.json {
        let v: Vec<serde_json::Value> = profiles
            .iter()
            .map(|p| {
                let mut v = serde_json::to_value(p).expect("profiles serialize");
                v["default_ttl"] = show(p.default_ttl).into();
                v["max_ttl"] = show(p.max_ttl).into();
                v["default"] = (settings.defaults.profile.as_deref() == Some(p.name.as_str())).into();
                v
            })
            .collect();
        serde_json::to_writer_pretty(&mut ctx.out, &v)?;
        writeln!(ctx.out)?;
        return Ok(Exit::Success);
    }
    if profiles.is_empty() {
        ctx.say(format!("no profiles in {file}: `pki issue` applies no policy (see the README's Profiles section)"));
        return Ok(Exit::Success);
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec!["Profile", "CA", "TTL (default/max)", "Keys", "Usages", "Names allowed", "Subject"]);
    for p in &profiles {
        let mut names = vec![];
        names.extend(p.allowed_dns.iter().map(|d| format!("DNS:{d}")));
        names.extend(p.allowed_ips.iter().map(|d| format!("IP:{d}")));
        names.extend(p.allowed_uris.iter().map(|d| format!("URI:{d}")));
        let name = if settings.defaults.profile.as_deref() == Some(p.name.as_str()) {
            format!("{} (default)", p.name)
        } else {
            p.name.clone()
        };
        t.add_row(vec![
            name,
            p.ca.clone().unwrap_or_else(|| "-".into()),
            format!("{} / {}", show(p.default_ttl), show(p.max_ttl)),
            p.key_types.join(", "),
            format!("{}{}", p.ext_key_usage.join(", "), if p.spiffe { "\n(X.509-SVID)" } else { "" }),
            if names.is_empty() { "none".into() } else { names.join("\n") },
            match &p.subject {
                Subject::FromSan => "from-san".into(),
                Subject::Template(t) => t.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            },
        ]);
    }
    writeln!(ctx.out, "{t}")?;
    Ok(Exit::Success)
}
