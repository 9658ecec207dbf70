//! `qcc import …`: create profiles from other tools' configurations (Claude Code's
//! `settings.json`, cc-switch, claude-code-router). One file per source; what they share lives here: the flags
//! every importer takes, reading the file, the one locked update (or the dry run on a copy
//! of the config), and the output. Turning a file into profiles is `crate::import`'s.

pub mod cc_switch;
pub mod ccr;
pub mod claude_settings;

use std::io::Read;
use std::path::Path;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use crate::cli::endpoint::new_id;
use crate::cli::error::CliError;
use crate::import::{Action, Plan, Report, RouteAction};
use crate::state::model::EndpointKind;
use crate::ui::{self, style};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Import the provider of a Claude Code settings.json (env and apiKeyHelper)
    ClaudeSettings(claude_settings::Args),
    /// Import cc-switch's Claude providers, one profile each
    CcSwitch(cc_switch::Args),
    /// Import claude-code-router's providers and its Router's default and background
    #[command(alias = "claude-code-router")]
    Ccr(ccr::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::ClaudeSettings(a) => claude_settings::run(ctx, a),
        Cmd::CcSwitch(a) => cc_switch::run(ctx, a),
        Cmd::Ccr(a) => ccr::run(ctx, a),
    }
}

/// Flags every importer takes.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Show what would be created (keys masked) and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Replace profiles of the same name (their tier and active state are kept) and point
    /// an imported route at its profile
    #[arg(long)]
    pub force: bool,
    /// Name of the profile to create (only when one provider is imported)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// The bytes of `path` (`-`: standard input); a missing file is an error with `hint`.
pub fn read_source(path: &Path, hint: &str) -> Result<Vec<u8>, CliError> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::failed(format!("cannot read standard input: {e}"), None))?;
        return Ok(bytes);
    }
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CliError::failed(
            format!("no file at {}", path.display()),
            Some(hint.to_owned()),
        ),
        _ => CliError::failed(
            format!("cannot read {}: {e}", path.display()),
            Some("check the path and its permissions".into()),
        ),
    })
}

/// Apply `plan` (after `--profile`) in one locked update, or to a copy with `--dry-run`,
/// and print what was (or would be) created.
pub fn import(ctx: &Ctx, mut plan: Plan, common: &Common) -> Result<(), CliError> {
    if let Some(name) = &common.profile {
        plan.rename(name)?;
    }
    let now = chrono::Utc::now();
    let report = if common.dry_run {
        let mut copy = ctx.config()?;
        let mut r = crate::import::apply(&plan, &mut copy, common.force, now, new_id)?;
        r.dry_run = true;
        for p in &mut r.profiles {
            p.endpoint.id = None;
        }
        r
    } else {
        ctx.update(|c| Ok(crate::import::apply(&plan, c, common.force, now, new_id)?))?
    };
    if ctx.json {
        ui::print_json(&report);
    } else {
        print_human(&report);
    }
    Ok(())
}

fn print_human(r: &Report) {
    for p in &r.profiles {
        let verb = match (r.dry_run, p.action) {
            (true, Action::Create) => "would create",
            (true, Action::Replace) => "would replace",
            (false, Action::Create) => "created",
            (false, Action::Replace) => "replaced",
        };
        let line = format!("{verb} profile '{}' from {}", p.name, p.origin);
        if r.dry_run {
            println!("{line}");
        } else {
            style::success(&line);
        }
        let e = &p.endpoint;
        let id =
            e.id.as_deref()
                .map(|i| format!("{i}  "))
                .unwrap_or_default();
        let kind = match (e.kind, &e.chat_path) {
            (EndpointKind::Anthropic, _) => String::new(),
            (EndpointKind::Openai, None) => "openai  ".into(),
            (EndpointKind::Openai, Some(path)) => format!("openai (chat path {path})  "),
        };
        println!("    {id}{}  {kind}{}  key {}", e.url, e.auth, e.key);
        if !e.models.is_empty() {
            println!("    models {}", e.models.join(", "));
        }
    }
    for rt in &r.routes {
        let verb = match (r.dry_run, rt.action) {
            (_, RouteAction::Keep) => "kept",
            (true, RouteAction::Create) => "would add",
            (true, RouteAction::Replace) => "would repoint",
            (false, RouteAction::Create) => "added",
            (false, RouteAction::Replace) => "repointed",
        };
        println!(
            "{verb} route '{}' → '{}' (from {})",
            rt.pattern, rt.profile, rt.origin
        );
    }
    for s in &r.skipped {
        style::note(&format!("skipped {}: {}", s.origin, s.reason));
    }
    for n in &r.notes {
        style::note(&format!("note: {n}"));
    }
    if let Some(a) = &r.activated {
        style::note(&format!("'{a}' is the active profile"));
    }
    if r.dry_run {
        style::note("dry run: nothing was written");
    } else if let Some(first) = r.profiles.first() {
        style::note(&format!(
            "next: put them in tiers, e.g. `qcc priority set {} primary`",
            first.name
        ));
    }
}
