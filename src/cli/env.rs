//! `qcc env <profile>`: print `export` lines for a profile's endpoint.

use std::io::IsTerminal;

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::claude;
use crate::state::secret::mask;
use crate::ui::{self, style};

/// Print the `export` lines that point a shell (and Claude Code started from it) at a
/// profile directly, without the proxy.
///
/// For `eval`, the key is printed in full when stdout is not a terminal; on a terminal it
/// is masked unless --show-keys. Uses the profile's first enabled endpoint unless
/// --endpoint says otherwise.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  eval \"$(qcc env work)\"
  qcc env work --endpoint e7c1 --show-keys")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// Which endpoint of the profile (id, name or unique id prefix)
    #[arg(short, long, value_name = "ENDPOINT", add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub endpoint: Option<String>,
    /// Print the key in full even on a terminal
    #[arg(long)]
    pub show_keys: bool,
}

/// Quote a value for POSIX shells.
fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let e = config.direct_endpoint(&args.profile, args.endpoint.as_deref())?;
    let reveal = args.show_keys || !std::io::stdout().is_terminal();
    let key = match &e.key_ref {
        None => e.key.clone(),
        Some(r) => {
            let timeout = std::time::Duration::from_secs(config.proxy.key_timeout_secs.max(1));
            crate::upstream::keys::resolve(r, timeout).map_err(|err| {
                CliError::failed(
                    format!("cannot read the key of endpoint {} ({r}): {err}", e.id),
                    Some(err.hint().into()),
                )
            })?
        }
    };
    let vars = claude::env_for(e, &key);
    let shown = |name: &str, v: &str| {
        if name == "ANTHROPIC_BASE_URL" || reveal {
            v.to_owned()
        } else {
            mask(v)
        }
    };
    if ctx.json {
        let map: serde_json::Map<String, serde_json::Value> = vars
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.map(|v| shown(n, v)).into()))
            .collect();
        ui::print_json(&map);
        return Ok(());
    }
    for (name, value) in &vars {
        match value {
            Some(v) => println!("export {name}={}", shell_quote(&shown(name, v))),
            None => println!("unset {name}"),
        }
    }
    if !reveal {
        style::warn("key masked on a terminal: use eval \"$(qcc env ...)\" or --show-keys");
    }
    Ok(())
}
