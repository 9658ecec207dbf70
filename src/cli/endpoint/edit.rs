//! `qcc endpoint edit <profile> <id>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::endpoint::{KeySource, LimitArgs};
use crate::cli::error::CliError;
use crate::state::model::{AuthStyle, EndpointKind, check_kind, validate_weight};

/// Change an endpoint's URL, key, auth style, weight, name or limits. Its id stays the same.
///
/// Limits: each flag sets one (the others stay); --clear-limits removes them all first.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc endpoint edit work e7c1 --weight 300
  qcc endpoint edit work relay-a --key-env NEW_KEY --auth bearer   # by name
  qcc endpoint edit work e7c1 --name ''        # clear the name
  qcc endpoint edit work e7c1 --key-ref file:~/.config/relay.key
  qcc endpoint edit work e7c1 --model 'claude-opus-*=big' --remove-model '*'
  qcc endpoint edit work e7c1 --clear-models
  qcc endpoint edit work e7c1 --kind openai --chat-path /chat/completions
  qcc endpoint edit work e7c1 --rpm 50 --budget-day 12.50
  qcc endpoint edit work e7c1 --clear-limits              # no limits
  qcc endpoint edit work e7c1 --clear-limits --tpm 80000  # only this one")]
pub struct Args {
    /// The profile
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// Endpoint id, name or unique id prefix
    #[arg(value_name = "ENDPOINT", add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub id: String,
    /// New base URL
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    #[command(flatten)]
    pub key: KeySource,
    /// New auth style
    #[arg(long, value_enum)]
    pub auth: Option<AuthStyle>,
    /// What the endpoint speaks (openai: sent as Bearer; anthropic: the chat path goes)
    #[arg(long, value_enum)]
    pub kind: Option<EndpointKind>,
    /// An openai endpoint's request path after the base URL (empty for the default)
    #[arg(long, value_name = "PATH")]
    pub chat_path: Option<String>,
    /// New weight, 1–1000
    #[arg(short, long, value_name = "N")]
    pub weight: Option<u32>,
    /// New name (empty to clear)
    #[arg(long)]
    pub name: Option<String>,
    /// Add a model map rule PATTERN=MODEL (after the existing ones; replaces a rule with the
    /// same pattern in place; repeatable)
    #[arg(long = "model", value_name = "PATTERN=MODEL")]
    pub models: Vec<String>,
    /// Remove the model map rule with this pattern (repeatable)
    #[arg(long = "remove-model", value_name = "PATTERN")]
    pub remove_models: Vec<String>,
    /// Remove every model map rule (before --model adds any)
    #[arg(long)]
    pub clear_models: bool,
    /// Whether answers name the model the endpoint served (on) or the one asked for (off)
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    pub report_upstream_model: Option<bool>,
    #[command(flatten)]
    pub limits: Box<LimitArgs>,
    /// Remove every limit (before the limit flags set any)
    #[arg(long)]
    pub clear_limits: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    if args.url.is_none()
        && !args.key.is_given()
        && args.auth.is_none()
        && args.kind.is_none()
        && args.chat_path.is_none()
        && args.weight.is_none()
        && args.name.is_none()
        && args.models.is_empty()
        && args.remove_models.is_empty()
        && !args.clear_models
        && args.report_upstream_model.is_none()
        && !args.limits.is_given()
        && !args.clear_limits
    {
        return Err(CliError::usage(
            "nothing to change",
            "pass at least one of --url, --key/--key-ref/--key-env/--key-stdin, --auth, --kind, --chat-path, --weight, --name, --model, --remove-model, --clear-models, --report-upstream-model, --rpm, --tpm, --tokens-per-day, --budget-day, --budget-month, --clear-limits",
        ));
    }
    let weight = args.weight.map(validate_weight).transpose()?;
    let key = args.key.resolve()?;
    let models = super::parse_models(&args.models)?;
    // Checked before anything changes.
    args.limits
        .apply(&mut crate::state::limits::Limits::default())?;
    super::change(ctx, &args.profile, &args.id, "updated", |c, r| {
        if args.url.is_some() || key.is_some() {
            c.set_endpoint_target(r, args.url.as_deref(), key)?;
        }
        if let Some(n) = &args.name {
            c.set_endpoint_name(r, Some(n))?;
        }
        let e = c.endpoint_mut(r);
        if let Some(a) = args.auth {
            e.auth = a;
        }
        if let Some(k) = args.kind {
            e.kind = k;
            match k {
                EndpointKind::Openai if args.auth.is_none() => e.auth = AuthStyle::Bearer,
                EndpointKind::Anthropic if args.chat_path.is_none() => e.chat_path = None,
                _ => {}
            }
        }
        if let Some(p) = &args.chat_path {
            let p = p.trim();
            e.chat_path = (!p.is_empty()).then(|| p.to_owned());
        }
        check_kind(e.kind, e.auth, e.chat_path.as_deref())?;
        if let Some(w) = weight {
            e.weight = w;
        }
        if let Some(on) = args.report_upstream_model {
            e.report_upstream_model = on;
        }
        if args.clear_limits {
            e.limits = Default::default();
        }
        args.limits.apply(&mut e.limits)?;
        if args.clear_models {
            e.models.clear();
        }
        for pattern in &args.remove_models {
            let before = e.models.len();
            e.models.retain(|m| m.pattern != pattern.trim());
            if e.models.len() == before {
                return Err(CliError::usage(
                    format!("endpoint {} has no model rule for '{pattern}'", e.id),
                    "see its rules with `qcc endpoint list`",
                ));
            }
        }
        for m in models.iter().cloned() {
            match e.models.iter_mut().find(|x| x.pattern == m.pattern) {
                Some(x) => *x = m,
                None => e.models.push(m),
            }
        }
        Ok(())
    })
}
