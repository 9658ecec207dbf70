//! `qcc queue config`

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::model::{QueueMode, QueueSettings, RetryStrategy};
use crate::ui::{self, style};

/// Show the queue's policy, or change it with flags: which failed requests are kept, the
/// limits (oldest dropped first), how and how often they are retried, and whether the
/// daemon retries them by itself.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc queue config
  qcc queue config --mode all --max-items 5000
  qcc queue config --strategy fixed --interval 120 --max-retries 10
  qcc queue config --no-auto-retry")]
pub struct Args {
    /// Which requests are kept when they failed everywhere
    #[arg(long, value_enum)]
    pub mode: Option<QueueMode>,
    /// Most items kept
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_items: Option<u32>,
    /// Oldest age kept, in seconds
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_age: Option<u64>,
    /// Most bytes kept (bodies and responses)
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_bytes: Option<u64>,
    /// How retries are spaced
    #[arg(long, value_enum)]
    pub strategy: Option<RetryStrategy>,
    /// Seconds between retries for the fixed strategy
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: Option<u64>,
    /// Replays before an item is dead
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_retries: Option<u32>,
    /// The daemon replays due items by itself
    #[arg(long, overrides_with = "no_auto_retry")]
    pub auto_retry: bool,
    /// Only replay when asked (`qcc queue retry-all`)
    #[arg(long)]
    pub no_auto_retry: bool,
}

impl Args {
    fn apply(&self, q: &mut QueueSettings) -> bool {
        let before = q.clone();
        if let Some(v) = self.mode {
            q.mode = v;
        }
        if let Some(v) = self.max_items {
            q.max_items = v;
        }
        if let Some(v) = self.max_age {
            q.max_age_secs = v;
        }
        if let Some(v) = self.max_bytes {
            q.max_total_bytes = v;
        }
        if let Some(v) = self.strategy {
            q.strategy = v;
        }
        if let Some(v) = self.interval {
            q.interval_secs = v;
        }
        if let Some(v) = self.max_retries {
            q.max_retries = v;
        }
        if self.auto_retry {
            q.auto_retry = true;
        }
        if self.no_auto_retry {
            q.auto_retry = false;
        }
        *q != before
    }

    fn any(&self) -> bool {
        self.mode.is_some()
            || self.max_items.is_some()
            || self.max_age.is_some()
            || self.max_bytes.is_some()
            || self.strategy.is_some()
            || self.interval.is_some()
            || self.max_retries.is_some()
            || self.auto_retry
            || self.no_auto_retry
    }
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let settings = if args.any() {
        ctx.update(|c| {
            args.apply(&mut c.queue);
            Ok(c.queue.clone())
        })?
    } else {
        ctx.config()?.queue
    };
    if ctx.json {
        ui::print_json(&settings);
        return Ok(());
    }
    if args.any() {
        style::success("queue policy updated");
    }
    println!("mode:        {:?}", settings.mode);
    println!(
        "limits:      {} items, {} bytes, {} s old",
        settings.max_items, settings.max_total_bytes, settings.max_age_secs
    );
    println!(
        "retries:     {:?} (fixed interval {} s), at most {}, then dead",
        settings.strategy, settings.interval_secs, settings.max_retries
    );
    println!(
        "auto-retry:  {}",
        if settings.auto_retry { "on" } else { "off" }
    );
    Ok(())
}
