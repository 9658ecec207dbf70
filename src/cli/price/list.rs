//! `qcc price list`

use serde::Serialize;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::Config;
use crate::state::prices::Price;
use crate::ui;
use crate::usage::prices::{LIST, LIST_AS_OF, LIST_SOURCE};

/// Show the prices in force, in the order they are tried: each endpoint's own rules, your
/// rules per model, then the built-in list (with the endpoints' multipliers). US dollars per
/// million tokens.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc price list
  qcc price list --json")]
pub struct Args {}

/// One price rule as listed.
#[derive(Debug, Serialize)]
pub struct PriceRow {
    /// `endpoint <id>`, `yours` or `list`.
    pub scope: String,
    pub model: String,
    pub input: f64,
    pub output: f64,
    pub cache_write_5m: f64,
    pub cache_write_1h: f64,
    pub cache_read: f64,
}

/// What `qcc price list --json` prints.
#[derive(Debug, Serialize)]
pub struct PricesView {
    pub rules: Vec<PriceRow>,
    /// Endpoint id → multiplier of the list (and your) prices.
    pub multipliers: Vec<(String, f64)>,
    pub list_as_of: &'static str,
    pub list_source: &'static str,
}

fn row(scope: String, model: &str, p: &Price) -> PriceRow {
    PriceRow {
        scope,
        model: model.to_owned(),
        input: p.input,
        output: p.output,
        cache_write_5m: p.cache_write_5m(),
        cache_write_1h: p.cache_write_1h(),
        cache_read: p.cache_read(),
    }
}

pub fn view(config: &Config) -> PricesView {
    let prices = &config.prices;
    let mut rules = Vec::new();
    for (id, e) in &prices.endpoints {
        for r in &e.models {
            rules.push(row(format!("endpoint {id}"), &r.model, &r.price));
        }
    }
    for r in &prices.models {
        rules.push(row("yours".into(), &r.model, &r.price));
    }
    for l in LIST {
        rules.push(row("list".into(), l.pattern, &l.price));
    }
    PricesView {
        rules,
        multipliers: prices
            .endpoints
            .iter()
            .filter_map(|(id, e)| Some((id.clone(), e.multiplier?)))
            .collect(),
        list_as_of: LIST_AS_OF,
        list_source: LIST_SOURCE,
    }
}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let v = view(&ctx.config()?);
    if ctx.json {
        ui::print_json(&v);
        return Ok(());
    }
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header([
            "SCOPE",
            "MODEL",
            "INPUT",
            "OUTPUT",
            "CACHE WRITE 5M",
            "CACHE WRITE 1H",
            "CACHE READ",
        ]);
    let usd = |v: f64| format!("{v:.3}");
    for r in &v.rules {
        t.add_row([
            r.scope.clone(),
            r.model.clone(),
            usd(r.input),
            usd(r.output),
            usd(r.cache_write_5m),
            usd(r.cache_write_1h),
            usd(r.cache_read),
        ]);
    }
    println!("{t}");
    for (id, m) in &v.multipliers {
        println!("endpoint {id}: {m} × the list and your prices");
    }
    println!(
        "US dollars per million tokens; list prices as of {LIST_AS_OF} ({LIST_SOURCE}). A model in no rule has no price."
    );
    Ok(())
}
