//! `qcc usage`: requests, tokens and cost from the usage files (the daemon need not run).

use chrono::{Duration, Utc};

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::usage::Chart;
use crate::usage::query::{self, By};

/// Requests, errors, tokens by kind, cache hit rate and cost over a period, grouped by day,
/// hour, endpoint, profile or model, with a bar chart of cost (or tokens) per day.
///
/// Read from the usage files the daemon writes every 2 s (one per UTC day, kept
/// usage.keep_days); works with the daemon stopped. Costs come from the built-in list prices
/// and your `qcc price` rules; a model with no price is counted as "no price", not $0.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc usage                          # the last 24 hours, by endpoint
  qcc usage --since 7d --by day
  qcc usage --since 30d --by model --chart tokens
  qcc usage --from 2026-11-01 --to 2026-12-01 --by profile --json")]
pub struct Args {
    /// The period ending now: 90m, 24h, 7d, 30d, 2w
    #[arg(long, value_name = "AGE", conflicts_with_all = ["from", "to"])]
    pub since: Option<String>,
    /// Start of the period: 2026-11-01 (UTC midnight) or an RFC 3339 time
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the period (excluded; default now)
    #[arg(long, value_name = "TIME", requires = "from")]
    pub to: Option<String>,
    /// How rows are grouped
    #[arg(long, value_enum, default_value = "endpoint")]
    pub by: By,
    /// What the per-day chart shows
    #[arg(long, value_enum, default_value = "cost")]
    pub chart: Chart,
}

fn bad_time(flag: &str, text: &str) -> CliError {
    CliError::usage(
        format!("{flag} '{text}' is not a time"),
        "give a date (2026-11-01) or an RFC 3339 time (2026-11-01T09:00:00Z)",
    )
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let now = Utc::now();
    let (from, to) = match (&args.since, &args.from) {
        (Some(s), _) => {
            let age = query::parse_since(s).ok_or_else(|| {
                CliError::usage(
                    format!("--since '{s}' is not an age"),
                    "give a number and a unit: 90m, 24h, 7d, 2w",
                )
            })?;
            (now - age, now)
        }
        (None, Some(f)) => {
            let from = query::parse_time(f).ok_or_else(|| bad_time("--from", f))?;
            let to = match &args.to {
                Some(t) => query::parse_time(t).ok_or_else(|| bad_time("--to", t))?,
                None => now,
            };
            if to <= from {
                return Err(CliError::usage(
                    "--to is not after --from",
                    "the period runs from --from (included) to --to (excluded)",
                ));
            }
            (from, to)
        }
        (None, None) => (now - Duration::hours(24), now),
    };
    let buckets = query::read(ctx.paths.usage_dir(), query::hour_floor(from), to).map_err(|e| {
        CliError::failed(
            e.to_string(),
            Some("the usage files are in the state dir; see `qcc config path`".into()),
        )
    })?;
    let mut report = query::report(&buckets, args.by, from, to);
    if args.by == By::Endpoint
        && let Ok(config) = ctx.config()
    {
        for row in &mut report.rows {
            row.name = config
                .endpoints()
                .find(|(_, e)| e.id == row.key)
                .map(|(_, e)| e.label());
        }
    }
    if ctx.json {
        crate::ui::print_json(&report);
        return Ok(());
    }
    println!(
        "{} → {} (UTC), by {}",
        from.format("%Y-%m-%d %H:%M"),
        to.format("%Y-%m-%d %H:%M"),
        report.by
    );
    if report.total.requests == 0 {
        println!("no requests were counted in this period");
        return Ok(());
    }
    println!("{}", crate::ui::usage::rows(&report));
    if report.days.len() > 1 {
        let what = match args.chart {
            Chart::Cost => "cost",
            Chart::Tokens => "tokens",
        };
        println!("\n{what} per day:");
        print!("{}", crate::ui::usage::chart(&report.days, args.chart, 40));
    }
    Ok(())
}
