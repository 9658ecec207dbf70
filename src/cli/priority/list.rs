//! `qcc priority list`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::PriorityView;
use crate::ui::{self, table};

/// Show the tiers in failover order, the active profile (*), the model routes (tried
/// before the tiers by the requests they match) and the failover policy; with the proxy
/// running, also the profile it serves now (which differs after a failover).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc priority list
  qcc priority list --json | jq -r .active")]
pub struct Args {}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let view = PriorityView::new(&config);
    let serving = ctx
        .daemon_status()
        .and_then(|s| Some((s.active_profile?, s.failed_over_from)));
    if ctx.json {
        let mut v = serde_json::to_value(&view).expect("serializable");
        v["serving"] = serving.as_ref().map(|(s, _)| s.clone()).into();
        v["failed_over_from"] = serving.and_then(|(_, f)| f).into();
        ui::print_json(&v);
        return Ok(());
    }
    if view.entries.is_empty() {
        println!("No profiles yet. Create one with: qcc profile add <name>");
        return Ok(());
    }
    println!("{}", table::tiers(&view.entries));
    if !view.routes.is_empty() {
        println!("Model routes (tried first by the models they match; the first match wins):");
        println!("{}", table::routes(&view.routes));
    }
    if let Some((s, from)) = &serving {
        let why = from
            .as_deref()
            .map(|f| format!(" (failed over from '{f}')"))
            .unwrap_or_default();
        println!("The running proxy serves: {s}{why}");
    }
    println!(
        "Active: {}    auto-failover: {}    auto-recovery: {}",
        view.active.as_deref().unwrap_or("-"),
        if view.policy.auto_failover {
            "on"
        } else {
            "off"
        },
        if view.policy.auto_recovery {
            "on"
        } else {
            "off"
        },
    );
    Ok(())
}
