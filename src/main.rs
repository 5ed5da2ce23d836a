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
            // Usage errors get the same one-line shape as every other error.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
            let tip =
                text.lines().find_map(|l| l.trim().strip_prefix("tip: ")).map(|t| format!("; {t}")).unwrap_or_default();
            eprintln!("pki: error: {first}{tip}; see `pki --help`");
            return exit_codes::Exit::Error.into();
        }
    };
    match run(cli) {
        Ok(status) => status.into(),
        Err(err) => {
            // `{:#}` joins the context chain on one line: "what failed: why".
            // One line whatever a message quotes (a file's content, a damaged record).
            let msg = without_os_error_numbers(&format!("{err:#}{}", hint(&err))).replace(['\n', '\r'], " ");
            eprintln!("pki: error: {msg}");
            exit_codes::status_of(&err).into()
        }
    }
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
