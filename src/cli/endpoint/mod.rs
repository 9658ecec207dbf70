//! `qcc endpoint …`: add, list, edit, enable, disable and remove the endpoints of a profile.
//! Also the pieces the verbs share: where a key comes from, and toggling `enabled`.

pub mod add;
pub mod disable;
pub mod edit;
pub mod enable;
pub mod list;
pub mod remove;

use std::io::Read;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::state::keyref::KeyRef;
use crate::state::limits::Limits;
use crate::state::model::{Config, Credential, EndpointRef};
use crate::state::models::ModelRule;
use crate::state::secret::Secret;
use crate::ui::{self, style, views::EndpointView};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Add an endpoint to a profile (prompts for what is missing on a terminal)
    Add(add::Args),
    /// List endpoints (keys masked)
    #[command(alias = "ls")]
    List(list::Args),
    /// Change an endpoint's URL, key, auth style, weight, name or limits
    Edit(edit::Args),
    /// Put an endpoint back into rotation
    Enable(enable::Args),
    /// Take an endpoint out of rotation without removing it
    Disable(disable::Args),
    /// Remove an endpoint
    #[command(alias = "rm")]
    Remove(remove::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::Add(a) => add::run(ctx, a),
        Cmd::List(a) => list::run(ctx, a),
        Cmd::Edit(a) => edit::run(ctx, a),
        Cmd::Enable(a) => enable::run(ctx, a),
        Cmd::Disable(a) => disable::run(ctx, a),
        Cmd::Remove(a) => remove::run(ctx, a),
    }
}

/// Where a key comes from. At most one of the four.
#[derive(Debug, Default, clap::Args)]
#[group(multiple = false)]
pub struct KeySource {
    /// The API key (visible in shell history: prefer --key-ref, --key-env or --key-stdin)
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Copy the key from this environment variable now (the value is stored; to store only
    /// the variable's name, use --key-ref env:VAR)
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
    /// Read the key from standard input (the value is stored)
    #[arg(long)]
    pub key_stdin: bool,
    /// Store where the key is, not the key: env:VAR, file:PATH or 'cmd:COMMAND' (read when
    /// used; a command's answer is cached for proxy.key_ttl_secs and asked again on a 401)
    #[arg(long, value_name = "REF")]
    pub key_ref: Option<String>,
}

impl KeySource {
    pub fn is_given(&self) -> bool {
        self.key.is_some() || self.key_env.is_some() || self.key_stdin || self.key_ref.is_some()
    }

    /// The credential, if one of the flags was given.
    pub fn resolve(&self) -> Result<Option<Credential>, CliError> {
        if let Some(text) = &self.key_ref {
            let r = KeyRef::parse(text).map_err(|e| CliError::usage(e.to_string(), e.hint()))?;
            return Ok(Some(Credential::Ref(r)));
        }
        let raw = if let Some(k) = &self.key {
            k.clone()
        } else if let Some(var) = &self.key_env {
            match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => v,
                _ => {
                    return Err(CliError::usage(
                        format!("environment variable {var} is not set or empty"),
                        format!("export {var}=<key> first, or pass --key-stdin"),
                    ));
                }
            }
        } else if self.key_stdin {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| {
                CliError::failed(format!("cannot read the key from stdin: {e}"), None)
            })?;
            s
        } else {
            return Ok(None);
        };
        let key = raw.trim();
        if key.is_empty() {
            return Err(crate::state::ModelError::EmptyKey.into());
        }
        Ok(Some(Credential::Value(Secret::new(key))))
    }
}

/// An endpoint's local limits as flags (`add` and `edit`). Read as text so that a bad
/// value (`0`, `-1`, `$5`, `5,00`) gets its own one-line error and hint.
#[derive(Debug, Default, clap::Args)]
pub struct LimitArgs {
    /// Requests per sliding minute before the endpoint is `limited` (skipped until the
    /// window has room)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub rpm: Option<String>,
    /// Tokens (input + output) per sliding minute
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub tpm: Option<String>,
    /// Tokens per UTC day
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub tokens_per_day: Option<String>,
    /// Spend per UTC day in US dollars, from `qcc price` (plain decimals: 12.50)
    #[arg(long, value_name = "USD", allow_hyphen_values = true)]
    pub budget_day: Option<String>,
    /// Spend per UTC month in US dollars
    #[arg(long, value_name = "USD", allow_hyphen_values = true)]
    pub budget_month: Option<String>,
}

impl LimitArgs {
    pub fn is_given(&self) -> bool {
        self.rpm.is_some()
            || self.tpm.is_some()
            || self.tokens_per_day.is_some()
            || self.budget_day.is_some()
            || self.budget_month.is_some()
    }

    /// Set the given limits on `limits` (the others stay as they are).
    pub fn apply(&self, limits: &mut Limits) -> Result<(), CliError> {
        use crate::state::limits::{parse_count, parse_usd};
        let usage = |e: crate::state::limits::LimitError| CliError::usage(e.to_string(), e.hint());
        let count = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|t| parse_count(flag, t).map_err(usage))
                .transpose()
        };
        let amount = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|t| parse_usd(flag, t).map_err(usage))
                .transpose()
        };
        let (rpm, tpm, tpd) = (
            count("--rpm", &self.rpm)?,
            count("--tpm", &self.tpm)?,
            count("--tokens-per-day", &self.tokens_per_day)?,
        );
        let (day, month) = (
            amount("--budget-day", &self.budget_day)?,
            amount("--budget-month", &self.budget_month)?,
        );
        limits.rpm = rpm.or(limits.rpm);
        limits.tpm = tpm.or(limits.tpm);
        limits.tokens_per_day = tpd.or(limits.tokens_per_day);
        limits.budget_day_usd = day.or(limits.budget_day_usd);
        limits.budget_month_usd = month.or(limits.budget_month_usd);
        Ok(())
    }
}

/// Parse `--model PATTERN=MODEL` rules (a bad one is a usage error with the form).
pub fn parse_models(texts: &[String]) -> Result<Vec<ModelRule>, CliError> {
    let usage = |e: crate::state::models::ModelRuleError| CliError::usage(e.to_string(), e.hint());
    let rules = texts
        .iter()
        .map(|t| ModelRule::parse(t).map_err(usage))
        .collect::<Result<Vec<_>, _>>()?;
    crate::state::models::check_unique(&rules).map_err(usage)?;
    Ok(rules)
}

/// A fresh random endpoint id: 6 hex digits.
pub fn new_id() -> String {
    format!("{:06x}", rand::random::<u32>() & 0x00ff_ffff)
}

/// Change one endpoint of a profile with `f`, then print it (`{verb} endpoint …`).
pub fn change(
    ctx: &Ctx,
    profile: &str,
    id: &str,
    verb: &str,
    f: impl FnOnce(&mut Config, EndpointRef) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let view = ctx.update(|c| {
        let r = c.find_endpoint(Some(profile), id)?;
        f(c, r)?;
        Ok(EndpointView::new(
            &c.profiles[r.profile],
            c.endpoint(r),
            false,
        ))
    })?;
    if ctx.json {
        ui::print_json(&view);
    } else {
        style::success(&format!("{verb} endpoint {} ({})", view.id, view.url));
    }
    Ok(())
}

/// `enable` / `disable`: set an endpoint's `enabled` flag.
pub fn set_enabled(ctx: &Ctx, profile: &str, id: &str, enabled: bool) -> Result<(), CliError> {
    let verb = if enabled { "enabled" } else { "disabled" };
    change(ctx, profile, id, verb, |c, r| {
        c.endpoint_mut(r).enabled = enabled;
        Ok(())
    })
}
