//! `qcc proxy logs`

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::logfile;

/// Print the daemon's log (keys are never written to it, nor request bodies). With -f, keep
/// printing as it grows (Ctrl-C to stop), across rotations.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc proxy logs
  qcc proxy logs -n 200
  qcc proxy logs -f")]
pub struct Args {
    /// How many lines from the end
    #[arg(short = 'n', long, default_value_t = 50, value_name = "N")]
    pub lines: usize,
    /// Follow the log as it grows
    #[arg(short, long)]
    pub follow: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    // Logs left in the old place (before they moved to the state dir) move now.
    let _ = crate::daemon::logfile::migrate(&ctx.paths);
    let path = ctx.paths.log_file();
    let lines = match logfile::tail(&path, args.lines) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !args.follow => {
            println!("No log yet ({}): the daemon has not run.", path.display());
            return Ok(());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(CliError::failed(
                format!("cannot read {}: {e}", path.display()),
                None,
            ));
        }
    };
    let mut out = std::io::stdout().lock();
    for l in &lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = out.flush();
    drop(out);
    if args.follow {
        follow(&path);
    }
    Ok(())
}

/// Print what is appended, reopening the file when it is rotated (shrinks or is replaced).
fn follow(path: &std::path::Path) {
    let mut pos = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut buf = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len < pos {
            pos = 0;
        }
        if len == pos {
            continue;
        }
        let Ok(mut f) = std::fs::File::open(path) else {
            continue;
        };
        if f.seek(SeekFrom::Start(pos)).is_err() {
            continue;
        }
        buf.clear();
        if let Ok(n) = f.read_to_end(&mut buf) {
            pos += n as u64;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&buf);
            let _ = out.flush();
        }
    }
}
