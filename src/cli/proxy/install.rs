//! `qcc proxy install`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::service;
use crate::ui::style;

/// Start the proxy at login: write a systemd user unit that runs `qcc proxy run` with this
/// config dir and listen address, restarts it when it fails and logs where `qcc proxy logs`
/// reads, then enable and start it (`systemctl --user enable --now qcc.service`). A proxy
/// started by hand is stopped first, so the unit can take its address. `--print` shows the
/// unit and changes nothing. Undo with `qcc proxy uninstall`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc proxy install --print
  qcc proxy install
  qcc proxy install --listen 127.0.0.1:8080")]
pub struct Args {
    /// Address to listen on (default: config.json proxy.listen, 127.0.0.1:7860)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Print the unit instead of installing it
    #[arg(long)]
    pub print: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let listen = args.listen.clone().unwrap_or(config.proxy.listen);
    if listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(CliError::usage(
            format!("invalid listen address '{listen}'"),
            "give an IP and a port, e.g. --listen 127.0.0.1:7860",
        ));
    }
    let qcc = std::env::current_exe()
        .map_err(|e| CliError::failed(format!("cannot find the qcc binary: {e}"), None))?;
    let dir = ctx.paths.absolute_config_dir();
    let log = std::path::absolute(ctx.paths.log_file()).unwrap_or_else(|_| ctx.paths.log_file());
    let unit = service::systemd_unit(&qcc, &dir, &listen, &log);
    if args.print {
        print!("{unit}");
        return Ok(());
    }
    // The unit's daemon takes the lifetime lock: a daemon started by hand must go first.
    if let Some(pid) = crate::cli::proxy::stop::stop_daemon(ctx, 30)? {
        style::note(&format!("stopped the daemon started by hand (pid {pid})"));
    }
    // systemd appends to the log but does not make its folder: make it (0700) first.
    let _ = crate::daemon::logfile::migrate(&ctx.paths);
    crate::daemon::logfile::open(&log).map_err(|e| {
        CliError::failed(
            format!("cannot create the log {}: {e}", log.display()),
            None,
        )
    })?;
    let path = service::install(&unit)?;
    if ctx.json {
        crate::ui::print_json(&serde_json::json!({
            "installed": path,
            "listen": listen,
        }));
    } else {
        style::success(&format!("installed {} and started it", path.display()));
        println!("  export ANTHROPIC_BASE_URL=http://{listen}");
    }
    Ok(())
}
