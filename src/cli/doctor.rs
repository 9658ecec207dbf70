//! `qcc doctor`: is everything in place for Claude Code to go through qcc? One line per
//! check, each `ok`, `warn` (works, but probably not as meant) or `fail` (broken), with a
//! hint. Read only: it changes nothing.

use std::os::unix::fs::PermissionsExt;

use serde::Serialize;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::liveness::{self, Liveness};
use crate::state::claude;
use crate::state::{Config, History, Store};
use crate::ui;
use crate::upstream::keys::read_credential;

/// Check the setup: the config (readable, valid, private), every endpoint's key, the
/// daemon (running and answering), the listen port, where Claude Code and this shell send
/// their requests, stale `ANTHROPIC_*` variables that would bypass the proxy, and the clock.
/// Exits 1 when a check fails; warnings alone exit 0.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc doctor
  qcc doctor --json | jq '.checks[] | select(.status != \"ok\")'")]
pub struct Args {}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check's result.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
        hint: None,
    }
}

impl Check {
    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    checks: &'a [Check],
}

pub fn run(ctx: &Ctx, _args: &Args) -> Result<(), CliError> {
    let mut checks = Vec::new();
    let config = config_check(ctx, &mut checks);
    checks.push(permissions(ctx));
    if let Some(config) = &config {
        checks.push(keys(config));
    }
    let qcc_url = daemon_checks(ctx, config.as_ref(), &mut checks);
    checks.extend(clients(qcc_url.as_deref()));
    checks.push(clock(ctx));
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if ctx.json {
        ui::print_json(&Report {
            ok: failed == 0,
            checks: &checks,
        });
    } else {
        for c in &checks {
            let mark = match c.status {
                Status::Ok => console::style("✓").green(),
                Status::Warn => console::style("!").yellow(),
                Status::Fail => console::style("✗").red(),
            };
            println!("{mark} {:<10} {}", c.name, c.detail);
            if let Some(h) = &c.hint {
                println!(
                    "  {:<10} {}",
                    "",
                    console::style(format!("hint: {h}")).dim()
                );
            }
        }
    }
    if failed == 0 {
        return Ok(());
    }
    Err(CliError::failed(
        format!("{failed} check(s) failed"),
        Some("see the hints above (`qcc doctor --json` for the details)".into()),
    ))
}

/// The config: readable and valid.
fn config_check(ctx: &Ctx, checks: &mut Vec<Check>) -> Option<Config> {
    match ctx.config() {
        Ok(c) => {
            let endpoints = c.endpoints().count();
            let detail = format!(
                "{} valid: {} profile(s), {endpoints} endpoint(s)",
                ctx.paths.document("config.json").display(),
                c.profiles.len()
            );
            if c.profiles.is_empty() {
                checks.push(
                    check("config", Status::Warn, detail)
                        .hint("add a profile: `qcc profile add <name>`"),
                );
            } else {
                checks.push(check("config", Status::Ok, detail));
            }
            Some(c)
        }
        Err(e) => {
            let hint = e.hint().unwrap_or_else(|| "see `qcc --help`".into());
            checks.push(check("config", Status::Fail, e.to_string()).hint(hint));
            None
        }
    }
}

/// The config dir and its documents are private (they hold keys).
fn permissions(ctx: &Ctx) -> Check {
    let dir = ctx.paths.config_dir();
    let mode = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| m.permissions().mode());
    let mut loose = Vec::new();
    match mode(dir) {
        None => return check("private", Status::Ok, "no config dir yet"),
        Some(m) if m & 0o077 != 0 => loose.push(format!("{} is {:o}", dir.display(), m & 0o777)),
        Some(_) => {}
    }
    for doc in ["config.json", "history.json", "health.json"] {
        let path = ctx.paths.document(doc);
        if let Some(m) = mode(&path)
            && m & 0o077 != 0
        {
            loose.push(format!("{doc} is {:o}", m & 0o777));
        }
    }
    if loose.is_empty() {
        check(
            "private",
            Status::Ok,
            format!("{} is 0700, its files 0600", dir.display()),
        )
    } else {
        check("private", Status::Fail, loose.join("; ")).hint(format!(
            "others can read the keys: chmod 700 {} && chmod 600 {}/*.json",
            dir.display(),
            dir.display()
        ))
    }
}

/// Every endpoint's key can be sent: stored ones are valid header values, references
/// are read (commands run, within `proxy.key_timeout_secs`).
fn keys(config: &Config) -> Check {
    let timeout = std::time::Duration::from_secs(config.proxy.key_timeout_secs.max(1));
    let all: Vec<_> = config.endpoints().map(|(_, e)| e).collect();
    let bad: Vec<String> = std::thread::scope(|scope| {
        let reads: Vec<_> = all
            .iter()
            .map(|e| {
                scope.spawn(move || {
                    read_credential(e, timeout)
                        .err()
                        .map(|why| format!("endpoint {}: {why}", e.id))
                })
            })
            .collect();
        reads
            .into_iter()
            .filter_map(|r| r.join().unwrap_or(None))
            .collect()
    });
    let n = all.len();
    let refs = all.iter().filter(|e| e.key_ref.is_some()).count();
    if bad.is_empty() {
        let detail = if refs == 0 {
            format!("{n} endpoint key(s) usable")
        } else {
            format!("{n} endpoint key(s) usable ({refs} read through a reference)")
        };
        check("keys", Status::Ok, detail)
    } else {
        check("keys", Status::Fail, bad.join("; ")).hint(
            "fix the reference, or set the key again: `qcc endpoint edit <profile> <endpoint> --key-ref …|--key-stdin`",
        )
    }
}

/// The daemon and its port. Returns the URL clients should use when it runs.
fn daemon_checks(ctx: &Ctx, config: Option<&Config>, checks: &mut Vec<Check>) -> Option<String> {
    let listen = config.map(|c| c.proxy.listen.clone());
    match liveness::probe(&ctx.paths) {
        Liveness::Running { .. } => match ctx.daemon().and_then(|mut c| Ok(c.status()?)) {
            Ok(s) => {
                let mut detail = format!(
                    "running (pid {}), listening on {}, serving '{}'",
                    s.pid,
                    s.listen,
                    s.active_profile.as_deref().unwrap_or("-")
                );
                let mut status = Status::Ok;
                let mut hint = None;
                if let Some(e) = &s.config_error {
                    detail.push_str(&format!("; it refused the last config: {e}"));
                    status = Status::Fail;
                    hint = Some("fix config.json; `qcc proxy status` shows the reason".to_owned());
                }
                if s.version != env!("CARGO_PKG_VERSION") {
                    status = Status::Warn;
                    hint = Some("it is another qcc version: `qcc proxy restart`".to_owned());
                }
                let mut c = check("daemon", status, detail);
                c.hint = hint;
                checks.push(c);
                Some(format!("http://{}", s.listen))
            }
            Err(e) => {
                let hint = e.hint().unwrap_or_else(|| "`qcc proxy restart`".into());
                checks.push(check("daemon", Status::Fail, format!("running but {e}")).hint(hint));
                None
            }
        },
        Liveness::NotRunning => {
            checks.push(check("daemon", Status::Warn, "not running").hint(
                "start it with `qcc proxy start` (or use a profile directly: `qcc profile use`)",
            ));
            if let Some(listen) = listen {
                checks.push(port(&listen));
            }
            None
        }
    }
}

/// Whether the configured listen address is free for the daemon.
fn port(listen: &str) -> Check {
    match std::net::TcpListener::bind(listen) {
        Ok(_) => check("port", Status::Ok, format!("{listen} is free")),
        Err(e) => check("port", Status::Fail, format!("cannot listen on {listen}: {e}")).hint(
            "another program holds it: stop it, or set `proxy.listen` in config.json (or `qcc proxy start --listen ADDR`)",
        ),
    }
}

/// Where Claude Code (settings.json) and this shell send requests, and stale variables.
fn clients(qcc_url: Option<&str>) -> Vec<Check> {
    let mut out = Vec::new();
    let points_at_qcc = |url: &str| {
        qcc_url.is_some_and(|q| url.trim_end_matches('/') == q)
            || url.starts_with("http://127.0.0.1:")
            || url.starts_with("http://localhost:")
    };
    let settings_url = claude::settings_path().ok().and_then(|p| {
        let text = std::fs::read_to_string(p).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["env"]["ANTHROPIC_BASE_URL"].as_str().map(str::to_owned)
    });
    out.push(match &settings_url {
        Some(u) if points_at_qcc(u) => check("claude", Status::Ok, format!("settings.json sends Claude Code to {u}")),
        Some(u) => check("claude", Status::Warn, format!("settings.json sends Claude Code to {u}, not to qcc"))
            .hint("that is a profile used directly (`qcc profile use`); for the proxy set ANTHROPIC_BASE_URL to qcc's address"),
        None => check("claude", Status::Ok, "settings.json sets no ANTHROPIC_BASE_URL"),
    });
    let shell_url = std::env::var("ANTHROPIC_BASE_URL")
        .ok()
        .filter(|v| !v.is_empty());
    let has_key = ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
    out.push(match (&shell_url, &settings_url) {
        (Some(s), Some(f)) if s.trim_end_matches('/') != f.trim_end_matches('/') => check(
            "shell",
            Status::Warn,
            format!("ANTHROPIC_BASE_URL is {s} here but {f} in settings.json"),
        )
        .hint("make them agree, or unset one of them"),
        (Some(s), _) if points_at_qcc(s) => check("shell", Status::Ok, format!("ANTHROPIC_BASE_URL is {s}")),
        (Some(s), _) => check("shell", Status::Warn, format!("ANTHROPIC_BASE_URL is {s}, not qcc"))
            .hint("`unset ANTHROPIC_BASE_URL`, or point it at qcc (`qcc proxy start` prints the line)"),
        (None, None) if has_key => check(
            "shell",
            Status::Warn,
            "ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN is set without ANTHROPIC_BASE_URL: Claude Code goes straight to Anthropic, bypassing qcc",
        )
        .hint("export ANTHROPIC_BASE_URL as `qcc proxy start` prints it, or unset the key"),
        _ => check("shell", Status::Ok, "no ANTHROPIC_* variable overrides settings.json"),
    });
    out
}

/// The clock is not behind what qcc has already recorded.
fn clock(ctx: &Ctx) -> Check {
    let now = chrono::Utc::now();
    let latest = Store::open(ctx.paths.clone())
        .and_then(|s| s.read::<History>())
        .ok()
        .and_then(|h| h.records.iter().map(|r| r.at).max());
    match latest {
        Some(at) if at > now + chrono::Duration::minutes(5) => check(
            "clock",
            Status::Fail,
            format!("it reads {now}, before the last switch recorded ({at})"),
        )
        .hint("the system clock went back: cooldowns, history and queue times are off"),
        _ => check(
            "clock",
            Status::Ok,
            format!("{}", now.format("%Y-%m-%d %H:%M:%S UTC")),
        ),
    }
}
