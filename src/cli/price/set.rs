//! `qcc price set [MODEL_GLOB] …`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::prices::{Price, PriceRule};
use crate::ui::{self, style};

/// Set the price of the models a glob matches (US dollars per million tokens), for every
/// endpoint or for one (--endpoint); or, with --multiplier, what an endpoint bills as a
/// multiple of the list price (relays often bill more, or less).
///
/// Globs match the model the endpoint is sent (after its model map): `deepseek-*`,
/// `claude-sonnet-4*`. A rule for the same pattern is replaced in place. Cache prices
/// default to Anthropic's ratios of the input price (5-minute write 1.25×, 1-hour write
/// 2×, read 0.1×).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc price set 'deepseek-*' --input 0.28 --output 0.42 --cache-read 0.028
  qcc price set 'claude-sonnet-4*' --input 2.4 --output 12 --endpoint relay-a
  qcc price set --endpoint relay-a --multiplier 1.2")]
pub struct Args {
    /// The models the price is for (a glob over the model sent upstream)
    #[arg(value_name = "MODEL_GLOB", required_unless_present = "multiplier")]
    pub model: Option<String>,
    /// Input tokens, $ per million
    #[arg(
        long,
        value_name = "USD",
        required_unless_present = "multiplier",
        conflicts_with = "multiplier",
        allow_negative_numbers = true
    )]
    pub input: Option<f64>,
    /// Output tokens, $ per million
    #[arg(
        long,
        value_name = "USD",
        required_unless_present = "multiplier",
        conflicts_with = "multiplier",
        allow_negative_numbers = true
    )]
    pub output: Option<f64>,
    /// Cache writes with the 5-minute lifetime, $ per million (default 1.25 × input)
    #[arg(
        long,
        value_name = "USD",
        allow_negative_numbers = true,
        conflicts_with = "multiplier"
    )]
    pub cache_write_5m: Option<f64>,
    /// Cache writes with the 1-hour lifetime, $ per million (default 2 × input)
    #[arg(
        long,
        value_name = "USD",
        allow_negative_numbers = true,
        conflicts_with = "multiplier"
    )]
    pub cache_write_1h: Option<f64>,
    /// Cache reads, $ per million (default 0.1 × input)
    #[arg(
        long,
        value_name = "USD",
        allow_negative_numbers = true,
        conflicts_with = "multiplier"
    )]
    pub cache_read: Option<f64>,
    /// Only for this endpoint (id, name or unique id prefix)
    #[arg(long, value_name = "ENDPOINT", add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub endpoint: Option<String>,
    /// The endpoint bills this multiple of the list (or your) price
    #[arg(
        long,
        value_name = "FACTOR",
        requires = "endpoint",
        conflicts_with = "model",
        allow_negative_numbers = true
    )]
    pub multiplier: Option<f64>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let said = ctx.update(|c| {
        let endpoint = args
            .endpoint
            .as_deref()
            .map(|q| super::endpoint_id(c, q))
            .transpose()?;
        let mut prices = c.prices.clone();
        let said = match (args.multiplier, &args.model, &endpoint) {
            (Some(m), _, Some(e)) => {
                prices.endpoints.entry(e.clone()).or_default().multiplier = Some(m);
                format!("endpoint {e} bills {m} × the list price")
            }
            (_, Some(model), _) => {
                let rule = PriceRule {
                    model: model.trim().to_owned(),
                    price: Price {
                        input: args.input.unwrap_or_default(),
                        output: args.output.unwrap_or_default(),
                        cache_write_5m: args.cache_write_5m,
                        cache_write_1h: args.cache_write_1h,
                        cache_read: args.cache_read,
                    },
                };
                let rules = match &endpoint {
                    Some(e) => &mut prices.endpoints.entry(e.clone()).or_default().models,
                    None => &mut prices.models,
                };
                match rules.iter_mut().find(|r| r.model == rule.model) {
                    Some(r) => *r = rule,
                    None => rules.push(rule),
                }
                let scope = endpoint.map_or_else(String::new, |e| format!(" at endpoint {e}"));
                format!("price set for '{}'{scope}", model.trim())
            }
            _ => unreachable!("clap requires a model or a multiplier with an endpoint"),
        };
        prices.check()?;
        c.prices = prices;
        Ok(said)
    })?;
    if ctx.json {
        ui::print_json(&super::list::view(&ctx.config()?));
    } else {
        style::success(&said);
    }
    Ok(())
}
