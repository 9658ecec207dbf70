//! `qcc profile edit <name>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::model::{ScoreWeights, Strategy};
use crate::ui::{self, style, views::ProfileView};

/// Change a profile's description, balancing strategy, or the factor weights of the
/// `adaptive` strategy's score.
///
/// --score takes FACTOR=WEIGHT pairs, comma-separated, over the factors latency, success,
/// cost, weight and quota (a factor left out counts 0; only the ratios matter); `default`
/// restores latency=0.3,success=0.3,cost=0.2,weight=0.1,quota=0.1.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc profile edit work --strategy least-connections
  qcc profile edit work --strategy cost           # the cheapest endpoint for the model
  qcc profile edit work --strategy adaptive --score latency=0.3,cost=0.2,success=0.3,weight=0.1,quota=0.1
  qcc profile edit work --score latency=1         # the fastest, nothing else counts
  qcc profile edit work --description ''          # clear the description")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub name: String,
    /// New description (empty to clear)
    #[arg(short, long)]
    pub description: Option<String>,
    /// New balancing strategy
    #[arg(short, long, value_enum)]
    pub strategy: Option<Strategy>,
    /// The `adaptive` score's factor weights: FACTOR=WEIGHT,… or `default`
    #[arg(long, value_name = "FACTOR=WEIGHT,…")]
    pub score: Option<String>,
}

/// `--score`: the weights to store (`None`: the defaults).
fn parse_score(s: &str) -> Result<Option<ScoreWeights>, CliError> {
    if s.trim() == "default" {
        return Ok(None);
    }
    ScoreWeights::parse(s)
        .map(Some)
        .map_err(|e| CliError::usage(format!("--score: {e}"), e.hint()))
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    if args.description.is_none() && args.strategy.is_none() && args.score.is_none() {
        return Err(CliError::usage(
            "nothing to change",
            "pass --description, --strategy and/or --score",
        ));
    }
    let score = args.score.as_deref().map(parse_score).transpose()?;
    let view = ctx.update(|c| {
        let p = c.profile_mut(&args.name)?;
        if let Some(d) = &args.description {
            p.description = Some(d.trim().to_owned()).filter(|d| !d.is_empty());
        }
        if let Some(s) = args.strategy {
            p.strategy = s;
        }
        if let Some(w) = score {
            p.set_score(w);
        }
        let p = c.profile(&args.name)?;
        Ok(ProfileView::new(c, p))
    })?;
    if ctx.json {
        ui::print_json(&view);
    } else {
        style::success(&format!("updated profile '{}'", view.name));
        if score.is_some() && view.strategy != Strategy::Adaptive {
            style::warn(&format!(
                "the score counts only with --strategy adaptive (the profile uses {})",
                view.strategy
            ));
        }
    }
    Ok(())
}
