//! `qcc endpoint add <profile>`

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::endpoint::{KeySource, LimitArgs, new_id};
use crate::cli::error::CliError;
use crate::state::model::{
    AuthStyle, Config, Credential, Endpoint, EndpointKind, NewEndpoint, WEIGHT_DEFAULT, check_kind,
    normalize_url, validate_weight,
};
use crate::ui::views::EndpointView;
use crate::ui::{self, style};

/// Add an endpoint (base URL + key + auth style + weight) to a profile.
///
/// On a terminal, whatever is missing is asked for (the key typed hidden). Without a
/// terminal, missing values are an error naming the flags to pass. With --from, the
/// endpoints (URL, key, auth, weight, name) of another profile are reused: all of them, the
/// ones named with --only, or the ones picked from a list on a terminal.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc endpoint add work                        # asks for URL, key and auth style
  qcc endpoint add work --url https://api.anthropic.com --key-env ANTHROPIC_API_KEY
  qcc endpoint add work --url https://relay.example/api --key-ref 'cmd:pass show relay' --auth bearer
  qcc endpoint add work --url https://relay.example --key-ref env:RELAY_KEY \
      --model 'claude-sonnet-*=relay-sonnet' --model '*=relay-default'
  pass show relay | qcc endpoint add work --url https://relay.example/api --key-stdin --auth bearer -w 50
  qcc endpoint add cheap --kind openai --url https://openrouter.ai/api --key-ref env:OPENROUTER_API_KEY \
      --model 'claude-haiku-*=deepseek/deepseek-chat' --model '*=deepseek/deepseek-r1'
  qcc endpoint add local --kind openai --url http://127.0.0.1:11434/v1 --key ollama --model '*=qwen3:8b'
  qcc endpoint add work --url https://api.anthropic.com --key-env ANTHROPIC_API_KEY \
      --rpm 50 --tpm 40000 --budget-day 20 --budget-month 300
  qcc endpoint add backup --from work          # reuse work's endpoints in backup")]
pub struct Args {
    /// The profile to add to
    #[arg(add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: String,
    /// Base URL (http or https; may carry a path prefix)
    #[arg(long, value_name = "URL", conflicts_with = "from")]
    pub url: Option<String>,
    #[command(flatten)]
    pub key: KeySource,
    /// How the key is sent: x-api-key or Authorization: Bearer (openai endpoints: bearer)
    #[arg(long, value_enum, conflicts_with = "from")]
    pub auth: Option<AuthStyle>,
    /// What the endpoint speaks: anthropic (passed through) or openai (Chat Completions,
    /// translated)
    #[arg(long, value_enum, conflicts_with = "from")]
    pub kind: Option<EndpointKind>,
    /// An openai endpoint's request path after the base URL (default /v1/chat/completions,
    /// or /chat/completions when the URL ends in /v1)
    #[arg(long, value_name = "PATH", conflicts_with = "from")]
    pub chat_path: Option<String>,
    /// Share of new conversations, 1–1000
    #[arg(short, long, value_name = "N")]
    pub weight: Option<u32>,
    /// A label for tables and logs (defaults to the URL's host)
    #[arg(long)]
    pub name: Option<String>,
    /// Model map rule PATTERN=MODEL (glob; first match wins; '*' as the default; repeatable)
    #[arg(long = "model", value_name = "PATTERN=MODEL", conflicts_with = "from")]
    pub models: Vec<String>,
    /// Answers name the model the endpoint served, not the one asked for (with --model)
    #[arg(long, requires = "models")]
    pub report_upstream_model: bool,
    /// Reuse the endpoints of this profile
    #[arg(short, long, value_name = "PROFILE", conflicts_with_all = ["key", "key_env", "key_stdin", "key_ref"],
          add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub from: Option<String>,
    /// With --from: reuse only these endpoints (id, name or unique id prefix; repeatable)
    #[arg(long, value_name = "ENDPOINT", requires = "from",
          add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids))]
    pub only: Vec<String>,
    #[command(flatten)]
    pub limits: Box<LimitArgs>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let weight = args.weight.map(validate_weight).transpose()?;
    let mut limits = crate::state::limits::Limits::default();
    args.limits.apply(&mut limits)?;
    // Check the profile before asking anything.
    let config = ctx.config()?;
    config.profile(&args.profile)?;
    let new = match &args.from {
        Some(from) => reuse(ctx, &config, args, from, weight)?,
        None => vec![ask_missing(ctx, args, weight)?],
    };
    let views = ctx.update(|c| {
        let mut ids = Vec::new();
        for n in new {
            let id = c.add_endpoint(&args.profile, n, new_id)?.id.clone();
            let r = c.find_endpoint(Some(&args.profile), &id)?;
            let e = c.endpoint_mut(r);
            if args.report_upstream_model {
                e.report_upstream_model = true;
            }
            if args.limits.is_given() {
                e.limits = limits;
            }
            ids.push(id);
        }
        let p = c.profile(&args.profile)?;
        Ok(p.endpoints
            .iter()
            .filter(|e| ids.contains(&e.id))
            .map(|e| EndpointView::new(p, e, false))
            .collect::<Vec<_>>())
    })?;
    if ctx.json {
        match views.as_slice() {
            [one] if args.from.is_none() => ui::print_json(one),
            _ => ui::print_json(&views),
        }
    } else {
        for v in &views {
            style::success(&format!(
                "added endpoint {} ({}, key {}) to '{}'",
                v.id, v.url, v.key, v.profile
            ));
        }
    }
    Ok(())
}

/// Build the new endpoint from flags, asking for what is missing on a terminal.
fn ask_missing(ctx: &Ctx, args: &Args, weight: Option<u16>) -> Result<NewEndpoint, CliError> {
    let key = args.key.resolve()?;
    let models = super::parse_models(&args.models)?;
    let mut missing = Vec::new();
    if args.url.is_none() {
        missing.push("--url".to_owned());
    }
    if key.is_none() {
        missing.push("--key (or --key-ref REF, --key-env VAR, --key-stdin)".to_owned());
    }
    if !missing.is_empty() && !ctx.prompt.is_interactive() {
        return Err(CliError::MissingInput(missing));
    }
    let asking = !missing.is_empty();
    let kind = match args.kind {
        Some(k) => k,
        None if asking => {
            let items = [
                "anthropic  (the Anthropic Messages API: official or a relay)".to_owned(),
                "openai     (OpenAI Chat Completions: OpenRouter, DeepSeek, Ollama, …)".to_owned(),
            ];
            match ctx
                .prompt
                .select("What does the endpoint speak?", &items, 0)?
            {
                0 => EndpointKind::Anthropic,
                _ => EndpointKind::Openai,
            }
        }
        None => EndpointKind::Anthropic,
    };
    // Checked before anything is asked: a bad pairing fails at once.
    if let Some(a) = args.auth {
        check_kind(kind, a, args.chat_path.as_deref())?;
    }
    let url = match &args.url {
        Some(u) => normalize_url(u)?,
        None => {
            let default = match kind {
                EndpointKind::Anthropic => "https://api.anthropic.com",
                EndpointKind::Openai => "https://openrouter.ai/api",
            };
            let u = ctx.prompt.text("Base URL", Some(default), |s: &String| {
                normalize_url(s).map(|_| ()).map_err(|e| e.to_string())
            })?;
            normalize_url(&u)?
        }
    };
    let key = match key {
        Some(k) => k,
        None => Credential::Value(crate::state::secret::Secret::new(
            ctx.prompt.password("API key")?.trim(),
        )),
    };
    let auth = match args.auth {
        Some(a) => a,
        None if kind == EndpointKind::Openai => AuthStyle::Bearer,
        None if asking => {
            let items = [
                "api-key  (x-api-key: the Anthropic API)".to_owned(),
                "bearer   (Authorization: Bearer: most relays)".to_owned(),
            ];
            match ctx.prompt.select("How is the key sent?", &items, 0)? {
                0 => AuthStyle::ApiKey,
                _ => AuthStyle::Bearer,
            }
        }
        None => AuthStyle::ApiKey,
    };
    let name = match &args.name {
        Some(n) => Some(n.clone()),
        None if asking => ctx.prompt.optional_text("Name (optional)")?,
        None => None,
    };
    Ok(NewEndpoint {
        name,
        url,
        key,
        auth,
        weight: weight.unwrap_or(WEIGHT_DEFAULT),
        models,
        kind,
        chat_path: args.chat_path.clone(),
    })
}

/// The endpoints of `from` to copy: --only, else a pick on a terminal, else all.
fn reuse(
    ctx: &Ctx,
    config: &Config,
    args: &Args,
    from: &str,
    weight: Option<u16>,
) -> Result<Vec<NewEndpoint>, CliError> {
    let source = config.profile(from)?;
    if source.endpoints.is_empty() {
        return Err(CliError::failed(
            format!("profile '{from}' has no endpoints to reuse"),
            Some(format!("add one with `qcc endpoint add {from}`")),
        ));
    }
    let picked: Vec<&Endpoint> = if !args.only.is_empty() {
        args.only
            .iter()
            .map(|q| {
                config
                    .find_endpoint(Some(from), q)
                    .map(|r| config.endpoint(r))
            })
            .collect::<Result<_, _>>()?
    } else if source.endpoints.len() > 1 && ctx.prompt.is_interactive() {
        let items: Vec<String> = source
            .endpoints
            .iter()
            .map(|e| format!("{}  {}  {}", e.id, e.url, e.key_shown()))
            .collect();
        let chosen = ctx
            .prompt
            .multi_select(&format!("Endpoints of '{from}' to reuse"), &items)?;
        if chosen.is_empty() {
            return Err(CliError::Cancelled);
        }
        chosen.into_iter().map(|i| &source.endpoints[i]).collect()
    } else {
        source.endpoints.iter().collect()
    };
    if args.name.is_some() && picked.len() > 1 {
        return Err(CliError::usage(
            "--name applies to one endpoint, but several are being reused",
            "pick one with --only <ENDPOINT>, or drop --name",
        ));
    }
    Ok(picked
        .into_iter()
        .map(|e| NewEndpoint {
            name: args.name.clone().or_else(|| e.name.clone()),
            url: e.url.clone(),
            key: e.credential(),
            auth: e.auth,
            weight: weight.unwrap_or(e.weight),
            models: e.models.clone(),
            kind: e.kind,
            chat_path: e.chat_path.clone(),
        })
        .collect())
}
