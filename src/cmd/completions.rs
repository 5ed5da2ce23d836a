//! `pki completions SHELL`: shell completions generated from the clap definition.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::ctx::Ctx;
use crate::exit_codes::Exit;

pub fn run(args: CompletionsArgs, ctx: &mut Ctx) -> Result<Exit> {
    clap_complete::generate(args.shell, &mut Cli::command(), "pki", &mut ctx.out);
    Ok(Exit::Success)
}
