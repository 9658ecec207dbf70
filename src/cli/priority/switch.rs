//! `qcc priority switch <profile>`

use chrono::Utc;

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::History;
use crate::state::model::{Config, SwitchKind};
use crate::ui::views::SwitchView;
use crate::ui::{self, style};

/// Make a profile the active one, and record the switch.
///
/// Never prompts; prints `from → to` and exits 0, so it is safe in scripts, aliases and
/// cron jobs. Auto-recovery never undoes a manual switch.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc priority switch backup
  qcc priority switch work --reason 'quota reset'
  0 9 * * 1-5  qcc priority switch work     # crontab: back to work keys each morning")]
pub struct Args {
    /// The profile to switch to
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// Why (kept in the history)
    #[arg(long, default_value = "manual switch")]
    pub reason: String,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let (record, changed, enabled) = ctx.transaction(|tx| {
        let mut config: Config = tx.load()?;
        let enabled = config
            .profile(&args.profile)?
            .endpoints
            .iter()
            .filter(|e| e.enabled)
            .count();
        let record = config.switch_to(
            &args.profile,
            args.reason.clone(),
            SwitchKind::Manual,
            Utc::now(),
        )?;
        let changed = record.from.as_deref() != Some(args.profile.as_str());
        if changed {
            let mut history: History = tx.load()?;
            history.push(record.clone());
            tx.save(&history)?;
        }
        tx.save(&config)?;
        Ok((record, changed, enabled))
    })?;
    if ctx.json {
        let mut v = serde_json::to_value(SwitchView::from(&record)).expect("serializable");
        v["changed"] = changed.into();
        ui::print_json(&v);
    } else {
        let from = record.from.as_deref().unwrap_or("-");
        if changed {
            println!("{from} → {}", record.to);
        } else {
            println!("{from} → {} (already active)", record.to);
        }
    }
    if enabled == 0 {
        style::warn(&format!(
            "'{}' has no enabled endpoint: requests will fail over or fail",
            args.profile
        ));
    }
    Ok(())
}
