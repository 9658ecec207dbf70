//! `qcc completions <shell>`: print the completion script for bash, zsh or fish.

use clap::ValueEnum;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::cli::generate;

/// Print the shell completion script.
///
/// The script completes commands and flags and asks qcc for live values (profile names,
/// endpoint ids) as you type, so it never goes stale when you add profiles.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  source <(qcc completions bash)                       # try it in this shell
  qcc completions bash > ~/.local/share/bash-completion/completions/qcc
  qcc completions zsh > ~/.zfunc/_qcc                  # with fpath+=(~/.zfunc)
  qcc completions fish > ~/.config/fish/completions/qcc.fish")]
pub struct Args {
    /// The shell to print the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub fn run(_ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    print!("{}", generate::completion_script(args.shell));
    Ok(())
}
