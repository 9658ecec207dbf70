//! `qcc priority policy`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::PolicyView;
use crate::ui::{self, style, table};

/// Show the failover policy, or change it with flags.
///
/// auto-failover: move traffic to the next profile when the active one has no available
/// endpoint. auto-recovery: move it back once the original profile has stayed healthy for
/// the recovery hold. An endpoint's breaker opens after failure-threshold consecutive
/// failures, for the cooldown (doubling on repeated trips, at most 600 s). A billing answer
/// (402, a spend-limit 429) that names no day or month boundary holds it for the billing
/// hold (`qcc endpoint enable` ends one at once).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc priority policy
  qcc priority policy --no-auto-recovery
  qcc priority policy --failure-threshold 5 --cooldown 60 --recovery-hold 600
  qcc priority policy --billing-hold 86400")]
pub struct Args {
    /// Fail over to the next profile when the active one has no available endpoint
    #[arg(long, overrides_with = "no_auto_failover")]
    pub auto_failover: bool,
    /// Never fail over automatically
    #[arg(long)]
    pub no_auto_failover: bool,
    /// Move back to the original profile once it is healthy again
    #[arg(long, overrides_with = "no_auto_recovery")]
    pub auto_recovery: bool,
    /// Never move back automatically
    #[arg(long)]
    pub no_auto_recovery: bool,
    /// Consecutive failures that open an endpoint's breaker (1–100)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub failure_threshold: Option<u32>,
    /// First breaker cooldown in seconds (1–600)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub cooldown: Option<u64>,
    /// Seconds a recovered profile must stay healthy before traffic moves back (0–86400)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=86400))]
    pub recovery_hold: Option<u64>,
    /// Seconds a billing answer holds an endpoint when it names no boundary (60–2592000)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(60..=2_592_000))]
    pub billing_hold: Option<u64>,
}

fn flag(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let failover = flag(args.auto_failover, args.no_auto_failover);
    let recovery = flag(args.auto_recovery, args.no_auto_recovery);
    let changes = failover.is_some()
        || recovery.is_some()
        || args.failure_threshold.is_some()
        || args.cooldown.is_some()
        || args.recovery_hold.is_some()
        || args.billing_hold.is_some();
    let view = if changes {
        ctx.update(|c| {
            let p = &mut c.policy;
            if let Some(v) = failover {
                p.auto_failover = v;
            }
            if let Some(v) = recovery {
                p.auto_recovery = v;
            }
            if let Some(v) = args.failure_threshold {
                p.failure_threshold = v;
            }
            if let Some(v) = args.cooldown {
                p.cooldown_secs = v;
            }
            if let Some(v) = args.recovery_hold {
                p.recovery_hold_secs = v;
            }
            if let Some(v) = args.billing_hold {
                p.billing_hold_secs = v;
            }
            Ok(PolicyView::from(&c.policy))
        })?
    } else {
        PolicyView::from(&ctx.config()?.policy)
    };
    if ctx.json {
        ui::print_json(&view);
    } else {
        if changes {
            style::success("policy updated");
        }
        println!("{}", table::policy(&view));
    }
    Ok(())
}
