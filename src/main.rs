//! `pki`: a private certificate authority in one file-backed directory.
//!
//! `main` is thin: parse the command line, build the context, run the command, print an
//! error once (one line, with its context chain) and exit with a documented status.

mod cli;
mod cmd;
mod ctx;
mod exit_codes;
mod mem;

use std::process::ExitCode;

/// Large blocks get huge pages (src/mem.rs): scrypt's work area, big CRLs.
#[global_allocator]
static ALLOC: mem::Alloc = mem::Alloc;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap does, exit 0.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Usage errors get the same one-line shape as every other error, with what clap
            // lists under its first line (the missing arguments, the allowed values) and the
            // help of the command that was meant.
            let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
            let msg = usage_error(&e.render().to_string(), &args);
            eprintln!("pki: error: {msg}");
            if wants_json() {
                print_json_error(serde_json::json!({ "code": "usage", "message": msg }), exit_codes::Exit::Error);
            }
            return exit_codes::Exit::Error.into();
        }
    };
    match run(cli) {
        Ok(status) => status.into(),
        Err(err) => {
            // `head` or `jq -e` closing the pipe early is not a failure worth a message.
            if err
                .chain()
                .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
            {
                return exit_codes::Exit::Success.into();
            }
            // `{:#}` joins the context chain on one line: "what failed: why".
            // One line whatever a message quotes (a file's content, a damaged record).
            let msg = without_os_error_numbers(&format!("{err:#}{}", hint(&err))).replace(['\n', '\r'], " ");
            eprintln!("pki: error: {msg}");
            let status = exit_codes::status_of(&err);
            if wants_json() {
                print_json_error(pki_core::error::error_object(&err, &msg), status);
            }
            status.into()
        }
    }
}

/// Whether the command line asked for JSON (before any `--`): then a failure is a JSON object
/// on stdout too, so a script reading stdout gets `{"error": ...}` rather than nothing.
fn wants_json() -> bool {
    std::env::args_os().skip(1).take_while(|a| a != "--").any(|a| a == "--json")
}

/// `{"error": {"code", "message", "exit", ...facts}}` on stdout, one line.
fn print_json_error(mut obj: serde_json::Value, status: exit_codes::Exit) {
    use std::io::Write;
    obj["exit"] = (status as u8).into();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::json!({ "error": obj }));
    let _ = out.flush();
}

/// A clap error on one line: its first line, the indented lines under it (missing arguments,
/// possible values), the nearest flag by spelling for an unknown one, and `see \`pki CMD --help\``
/// for the subcommand the arguments name.
fn usage_error(text: &str, args: &[String]) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("invalid arguments").trim_start_matches("error: ").trim_end_matches(':');
    let details: Vec<&str> =
        lines.by_ref().take_while(|l| !l.trim().is_empty()).map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut msg = first.to_string();
    if !details.is_empty() {
        msg.push_str(if first.ends_with(']') || details[0].starts_with('[') { " " } else { ": " });
        msg.push_str(&details.join(", "));
    }
    // The subcommand path the arguments name (pki ledger head), for its flags and its help.
    let mut cmd = <cli::Cli as clap::CommandFactory>::command();
    let mut path = vec!["pki".to_string()];
    let mut args = args.iter();
    while let Some(a) = args.next() {
        if let Some(long) = a.strip_prefix("--") {
            // A global option's value (`--dir ca`) is not a subcommand: skip it.
            let takes_value =
                cmd.get_arguments().find(|o| o.get_long() == Some(long)).is_some_and(|o| o.get_action().takes_values());
            if takes_value {
                args.next();
            }
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(a) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cmd = sub.clone();
            }
            None => break,
        }
    }
    let unknown = first.strip_prefix("unexpected argument '").and_then(|r| r.split('\'').next());
    let nearest = unknown.filter(|u| u.starts_with("--")).and_then(|u| {
        let globals = <cli::Cli as clap::CommandFactory>::command();
        let flags: Vec<String> = cmd
            .get_arguments()
            .chain(globals.get_arguments())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        flags.into_iter().map(|f| (distance(u, &f), f)).filter(|(d, f)| *d <= 2.max(f.len() / 4)).min()
    });
    match (nearest, text.lines().find_map(|l| l.trim().strip_prefix("tip: "))) {
        (Some((_, f)), _) => msg.push_str(&format!(" (did you mean '{f}'?)")),
        (None, Some(tip)) if unknown.is_none() => msg.push_str(&format!("; {tip}")),
        _ => {}
    }
    format!("{msg}; see `{} --help`", path.join(" "))
}

/// Edit distance with transpositions (optimal string alignment): `--dsn` is 1 from `--dns`.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, v) in d[0].iter_mut().enumerate() {
        *v = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// What to do about the file-system failures a user can fix; every change is rolled back
/// before the error reaches here, so "nothing was changed" holds.
fn hint(err: &anyhow::Error) -> &'static str {
    let kind = err.chain().find_map(|e| e.downcast_ref::<std::io::Error>()).map(std::io::Error::kind);
    match kind {
        Some(std::io::ErrorKind::StorageFull) => ": free some space on that file system and retry",
        Some(std::io::ErrorKind::ReadOnlyFilesystem) => {
            ": the file system is read-only; commands that only read (list, audit, inspect, verify, export) still work"
        }
        _ => "",
    }
}

/// "No such file or directory (os error 2)" reads better without the errno, which says
/// nothing to a user that the words do not.
fn without_os_error_numbers(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" (os error ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " (os error ".len()..];
        match tail.find(')') {
            Some(j) if tail[..j].bytes().all(|b| b.is_ascii_digit()) => rest = &tail[j + 1..],
            _ => {
                out.push_str(" (os error ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn run(cli: cli::Cli) -> anyhow::Result<exit_codes::Exit> {
    let mut ctx = ctx::Ctx::from_env(
        cli.global.passphrase_file.clone(),
        cli.global.passphrase_dir.clone(),
        cli.global.note.clone(),
    )?;
    cmd::dispatch(cli, &mut ctx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_error_numbers_are_dropped_and_nothing_else() {
        assert_eq!(
            super::without_os_error_numbers("cannot read x.pem: No such file or directory (os error 2)"),
            "cannot read x.pem: No such file or directory"
        );
        assert_eq!(super::without_os_error_numbers("a (os error x) b"), "a (os error x) b");
        assert_eq!(super::without_os_error_numbers("plain"), "plain");
    }
}
