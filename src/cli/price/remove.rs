//! `qcc price remove [MODEL_GLOB] …`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::ui::{self, style};

/// Remove a price rule (the pattern exactly as `qcc price list` shows it), for every
/// endpoint or for one (--endpoint); or, with --multiplier, an endpoint's multiplier.
/// The built-in list prices cannot be removed, only set over.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc price remove 'deepseek-*'
  qcc price remove 'claude-sonnet-4*' --endpoint relay-a
  qcc price remove --endpoint relay-a --multiplier")]
pub struct Args {
    /// The rule's pattern
    #[arg(value_name = "MODEL_GLOB", required_unless_present = "multiplier")]
    pub model: Option<String>,
    /// The endpoint's rule (id, name or unique id prefix)
    #[arg(long, value_name = "ENDPOINT", add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub endpoint: Option<String>,
    /// Remove the endpoint's multiplier
    #[arg(long, requires = "endpoint", conflicts_with = "model")]
    pub multiplier: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let said = ctx.update(|c| {
        let endpoint = args
            .endpoint
            .as_deref()
            .map(|q| super::endpoint_id(c, q))
            .transpose()?;
        let not_found = |what: String| {
            CliError::failed(what, Some("see the rules with `qcc price list`".into()))
        };
        let said = match (&args.model, &endpoint) {
            (None, Some(e)) => {
                let ep = c.prices.endpoints.get_mut(e);
                if ep.as_ref().is_none_or(|p| p.multiplier.is_none()) {
                    return Err(not_found(format!("endpoint {e} has no multiplier")));
                }
                ep.expect("checked").multiplier = None;
                format!("removed the multiplier of endpoint {e}")
            }
            (Some(model), e) => {
                let rules = match e {
                    Some(e) => c.prices.endpoints.get_mut(e).map(|p| &mut p.models),
                    None => Some(&mut c.prices.models),
                };
                let before = rules.as_ref().map_or(0, |r| r.len());
                if let Some(r) = rules {
                    r.retain(|r| r.model != model.trim());
                }
                let after = match e {
                    Some(e) => c.prices.endpoints.get(e).map_or(0, |p| p.models.len()),
                    None => c.prices.models.len(),
                };
                if after == before {
                    let scope = e
                        .as_ref()
                        .map_or_else(String::new, |e| format!(" at endpoint {e}"));
                    return Err(not_found(format!("no price rule for '{model}'{scope}")));
                }
                format!("removed the price of '{model}'")
            }
            (None, None) => unreachable!("clap requires a model or --endpoint --multiplier"),
        };
        c.prices.endpoints.retain(|_, p| !p.is_empty());
        Ok(said)
    })?;
    if ctx.json {
        ui::print_json(&super::list::view(&ctx.config()?));
    } else {
        style::success(&said);
    }
    Ok(())
}
