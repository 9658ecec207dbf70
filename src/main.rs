//! The `qcc` binary: parse, run, turn errors into one line plus a hint and an exit code.
//! Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`qcc endpoint list | head`), like other Unix tools. The
    // daemon sets it back to "ignore" first thing (`daemon::run`): a client that leaves
    // mid-answer must never end it.
    // SAFETY: called before any other thread exists; restores the default disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    qcc::cli::complete_from_env();
    let cli = qcc::cli::Cli::parse();
    match qcc::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            qcc::ui::style::report_error(&e.to_string(), e.hint().as_deref());
            ExitCode::from(e.exit_code())
        }
    }
}
