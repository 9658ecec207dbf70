//! `qcc endpoint enable <profile> <id>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;

/// Put a disabled endpoint back into rotation. On a running proxy this also ends a billing
/// hold (after a 402 or a spend-limit answer) and forgets a hold its provider announced in
/// rate-limit headers; local limits (rpm, budgets, …) still count.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc endpoint enable work e7c1")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// Endpoint id, name or unique id prefix
    #[arg(value_name = "ENDPOINT", add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub id: String,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    super::set_enabled(ctx, &args.profile, &args.id, true)?;
    let config = ctx.config()?;
    let id = config
        .endpoint(config.find_endpoint(Some(&args.profile), &args.id)?)
        .id
        .clone();
    if !ctx.paths.socket().exists() {
        return Ok(());
    }
    use crate::ipc::client::IpcError;
    match ctx.daemon().and_then(|mut c| Ok(c.release(&id)?)) {
        Ok(true) if !ctx.json => {
            crate::ui::style::success(&format!("billing hold of {id} ended"));
        }
        Ok(_) | Err(CliError::Ipc(IpcError::NotRunning)) => {}
        Err(e) => crate::ui::style::warn(&format!(
            "the running proxy did not end the endpoint's holds: {e}"
        )),
    }
    Ok(())
}
