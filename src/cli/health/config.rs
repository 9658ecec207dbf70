//! `qcc health config`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::views::HealthSettingsView;
use crate::ui::{self, style, table};

/// Show the health settings, or change them with flags (a running proxy applies them at
/// once).
///
/// The proxy probes an endpoint only while its breaker is open or half-open (every
/// --interval seconds), so a healthy setup spends no tokens on probes;
/// --probe-all-interval makes it probe every endpoint too. With --weight-adjust, the
/// `weighted` strategy scales each endpoint's weight by its recent success rate and
/// latency once it has --min-checks samples (never to zero). An endpoint whose recent
/// success rate is below --degraded-below (or whose p95 time to first byte is above
/// --degraded-first-byte) over --min-checks samples is `degraded`: it keeps half its share.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc health config
  qcc health config --interval 30 --probe-model claude-haiku-4-5
  qcc health config --endpoint e7c1 --probe-model gpt-4o-mini   # one endpoint's own model
  qcc health config --endpoint e7c1 --probe-model ''            # back to the default
  qcc health config --weight-adjust --min-checks 20
  qcc health config --probe-all-interval 600 --timeout 15
  qcc health config --degraded-below 95 --degraded-first-byte 8000")]
pub struct Args {
    /// Seconds between probes of an endpoint whose breaker is open or half-open (1–86400)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub interval: Option<u64>,
    /// Also probe every endpoint this often, healthy ones too (0 = off)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=604800))]
    pub probe_all_interval: Option<u64>,
    /// Seconds a probe may take (1–600)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: Option<u64>,
    /// The model probes ask (with --endpoint: that endpoint's own; '' clears it)
    #[arg(long, value_name = "MODEL")]
    pub probe_model: Option<String>,
    /// Apply --probe-model to this endpoint only (id, name or unique id prefix)
    #[arg(long, value_name = "ENDPOINT", requires = "probe_model", add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub endpoint: Option<String>,
    /// Scale weights by recent success rate and latency
    #[arg(long, overrides_with = "no_weight_adjust")]
    pub weight_adjust: bool,
    /// Use the configured weights as they are (the default)
    #[arg(long)]
    pub no_weight_adjust: bool,
    /// Samples needed before stability and weight adjustment are computed (1–1000)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub min_checks: Option<u32>,
    /// Probes the proxy runs at once (1–64)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_concurrency: Option<u32>,
    /// Success rate (%) below which an endpoint is degraded (0 = never; default 90)
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub degraded_below: Option<u32>,
    /// p95 time to first byte (ms) above which an endpoint is degraded (0 = never, the
    /// default)
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub degraded_first_byte: Option<u64>,
}

impl Args {
    fn changes(&self) -> bool {
        self.interval.is_some()
            || self.probe_all_interval.is_some()
            || self.timeout.is_some()
            || self.probe_model.is_some()
            || self.weight_adjust
            || self.no_weight_adjust
            || self.min_checks.is_some()
            || self.max_concurrency.is_some()
            || self.degraded_below.is_some()
            || self.degraded_first_byte.is_some()
    }
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let model = args.probe_model.as_deref().map(str::trim);
    if model == Some("") && args.endpoint.is_none() {
        return Err(CliError::usage(
            "the probe model cannot be empty",
            "give a model name, e.g. --probe-model claude-haiku-4-5",
        ));
    }
    let view = if args.changes() {
        ctx.update(|c| {
            match (&args.endpoint, model) {
                (Some(q), Some(m)) => {
                    let r = c.find_endpoint(None, q)?;
                    c.endpoint_mut(r).probe_model = (!m.is_empty()).then(|| m.to_owned());
                }
                (None, Some(m)) => c.health.probe_model = m.to_owned(),
                _ => {}
            }
            let h = &mut c.health;
            if let Some(v) = args.interval {
                h.interval_secs = v;
            }
            if let Some(v) = args.probe_all_interval {
                h.probe_all_interval_secs = v;
            }
            if let Some(v) = args.timeout {
                h.probe_timeout_secs = v;
            }
            if args.weight_adjust {
                h.weight_adjust = true;
            } else if args.no_weight_adjust {
                h.weight_adjust = false;
            }
            if let Some(v) = args.min_checks {
                h.min_checks = v;
            }
            if let Some(v) = args.max_concurrency {
                h.max_concurrency = v;
            }
            if let Some(v) = args.degraded_below {
                h.degraded_success_rate = f64::from(v) / 100.0;
            }
            if let Some(v) = args.degraded_first_byte {
                h.degraded_first_byte_ms = v;
            }
            Ok(HealthSettingsView::from(&*c))
        })?
    } else {
        HealthSettingsView::from(&ctx.config()?)
    };
    if ctx.json {
        ui::print_json(&view);
    } else {
        if args.changes() {
            style::success("health settings updated");
        }
        println!("{}", table::health_settings(&view));
    }
    Ok(())
}
