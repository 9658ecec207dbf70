//! `qcc proxy status [--watch]`

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::liveness::{self, Liveness};
use crate::ipc::client::IpcError;
use crate::report::status::StatusReport;
use crate::report::usage::{Tokens, UsageSummary};
use crate::ui::{self, table};

/// Show whether the daemon runs, and if so: pid, version, uptime, address, active profile
/// and tier, the tiers and model routes in force, today's tokens and cost, the failure
/// queue, and per endpoint: state, in-flight, requests, errors, latency and first token,
/// tokens, last error; then the latest switches and state changes.
/// Exits 3 when the daemon is not running.
///
/// With --watch the figures are shown again every --interval seconds (with requests per
/// second between refreshes) until Ctrl-C, or --count refreshes: redrawn in place on a
/// terminal; printed one after the other, each under a time line, when stdout is not a
/// terminal (with --json: one JSON object per line).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc proxy status
  qcc proxy status --watch                 # like top; Ctrl-C to quit
  qcc proxy status --watch --interval 5 --count 3 >> status.log
  qcc proxy status --json | jq '.endpoints[] | {id, errors}'
  qcc proxy status >/dev/null 2>&1 || qcc proxy start")]
pub struct Args {
    /// Refresh the figures until Ctrl-C (or --count refreshes)
    #[arg(short, long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch
    #[arg(short = 'n', long, value_name = "SECS", default_value_t = 2, requires = "watch",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Stop after this many refreshes with --watch
    #[arg(long, value_name = "N", requires = "watch",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let installed = crate::daemon::service::installed();
    if liveness::probe(&ctx.paths) == Liveness::NotRunning {
        if ctx.json {
            ui::print_json(&serde_json::json!({ "running": false, "installed": installed }));
        } else if let Some(unit) = &installed {
            println!(
                "qcc proxy is not running; it starts at login ({})",
                unit.display()
            );
        }
        return Err(IpcError::NotRunning.into());
    }
    if args.watch {
        return watch(ctx, args, installed.as_deref());
    }
    let mut daemon = ctx.daemon()?;
    let report = daemon.status()?;
    if ctx.json {
        ui::print_json(&json(&report, installed.as_deref()));
        return Ok(());
    }
    let usage = daemon.usage().ok();
    print!(
        "{}",
        frame(&report, usage.as_ref(), installed.as_deref(), None)
    );
    if let Some(e) = &report.config_error {
        crate::ui::style::warn(&format!(
            "config reload refused, previous config in force: {e}"
        ));
    }
    if let Some(why) = report.shared_state.strip_prefix("degraded: ") {
        crate::ui::style::warn(&format!(
            "shared state degraded ({why}): limits and breakers are this daemon's own until Redis is back"
        ));
    }
    Ok(())
}

fn json(report: &StatusReport, installed: Option<&std::path::Path>) -> serde_json::Value {
    let mut v = serde_json::to_value(report).expect("serializable");
    v["running"] = true.into();
    v["installed"] = serde_json::to_value(installed).expect("serializable");
    v
}

/// Set by SIGINT while watching: the loop ends and the command exits 0.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// `--watch`: a frame every `--interval` s. The daemon going away mid-watch is shown (and
/// waited out), not an error.
fn watch(ctx: &Ctx, args: &Args, installed: Option<&std::path::Path>) -> Result<(), CliError> {
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    let tty = std::io::stdout().is_terminal();
    let interval = Duration::from_secs(args.interval);
    let mut last: Option<(Instant, u64)> = None;
    let mut shown = 0u64;
    let mut out = std::io::stdout();
    while !INTERRUPTED.load(Ordering::Relaxed) {
        let started = Instant::now();
        let got = ctx.daemon().and_then(|mut d| {
            let report = d.status()?;
            Ok((report, d.usage().ok()))
        });
        let text = match &got {
            Ok((report, _)) if ctx.json => {
                let mut line = serde_json::to_string(&json(report, installed)).expect("json");
                line.push('\n');
                line
            }
            Ok((report, usage)) => {
                let rate = last.map(|(at, requests)| {
                    report.requests.saturating_sub(requests) as f64
                        / at.elapsed().as_secs_f64().max(0.001)
                });
                last = Some((Instant::now(), report.requests));
                frame(report, usage.as_ref(), installed, Some(rate))
            }
            Err(e) => {
                last = None;
                let why = match e {
                    CliError::Ipc(IpcError::NotRunning) => "qcc proxy is not running".to_owned(),
                    e => format!("qcc proxy does not answer: {e}"),
                };
                if ctx.json {
                    format!(
                        "{}\n",
                        serde_json::json!({ "running": false, "error": why })
                    )
                } else {
                    format!("{why} (waiting for it)\n")
                }
            }
        };
        let stamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
        let written = if ctx.json {
            out.write_all(text.as_bytes())
        } else if tty {
            // Clear the screen, then draw the frame from the top.
            let every = args.interval;
            write!(
                out,
                "\x1b[H\x1b[2J{text}\n{stamp} · every {every}s · Ctrl-C to quit\n"
            )
        } else {
            write!(out, "--- {stamp} ---\n{text}\n")
        };
        // A closed pipe (`| head`) ends the watch quietly.
        if written.and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
        shown += 1;
        if args.count.is_some_and(|n| shown >= n) {
            break;
        }
        let wake = started + interval;
        while !INTERRUPTED.load(Ordering::Relaxed) && Instant::now() < wake {
            std::thread::sleep(
                wake.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(50)),
            );
        }
    }
    Ok(())
}

/// The whole text of one status: header lines, the endpoint table, the latest switches and
/// state changes. `rate`: with --watch, requests per second since the previous frame (`None`
/// inside: the first frame).
fn frame(
    report: &StatusReport,
    usage: Option<&UsageSummary>,
    installed: Option<&std::path::Path>,
    rate: Option<Option<f64>>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "qcc proxy {} running (pid {}), up {}",
        report.version,
        report.pid,
        table::duration(report.uptime_secs)
    );
    let _ = writeln!(s, "  listening: http://{}", report.listen);
    if let Some(unit) = installed {
        let _ = writeln!(s, "  at login:  started by {}", unit.display());
    }
    let _ = writeln!(
        s,
        "  serving:   {}{}",
        report.active_profile.as_deref().unwrap_or("-"),
        report
            .active_tier
            .as_deref()
            .map(|t| format!(" ({t} tier)"))
            .unwrap_or_default()
    );
    if let Some(from) = &report.failed_over_from {
        let _ = writeln!(
            s,
            "  failover:  from '{from}' (returns when it is healthy again, if auto-recovery is on)"
        );
    }
    if report.tiers.len() > 1 {
        let tiers: Vec<String> = report
            .tiers
            .iter()
            .map(|t| {
                let down = if t.available { "" } else { ", none available" };
                format!("{} {}{down}", t.tier, t.profile)
            })
            .collect();
        let _ = writeln!(s, "  tiers:     {}", tiers.join(" → "));
    }
    for (i, r) in report.routes.iter().enumerate() {
        let label = if i == 0 { "routes:" } else { "" };
        let down = if r.available {
            ""
        } else {
            " (no endpoint available: the tiers serve)"
        };
        let _ = writeln!(s, "  {label:<10} {} → {}{down}", r.model, r.profile);
    }
    let per_sec = match rate {
        Some(Some(r)) => format!(", {r:.2}/s"),
        Some(None) => ", -/s".to_owned(),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        "  requests:  {} total, {} in flight{per_sec}",
        report.requests, report.in_flight
    );
    let (attempts, errors) = report
        .endpoints
        .iter()
        .fold((0, 0), |(a, e), x| (a + x.requests, e + x.errors));
    if attempts > 0 {
        let _ = writeln!(
            s,
            "  errors:    {errors} of {attempts} attempts ({:.1} %)",
            errors as f64 * 100.0 / attempts as f64
        );
    }
    if let Some(u) = usage {
        let _ = writeln!(s, "  today:     {}", today(u));
    }
    if rate.is_some()
        && let Some(e) = &report.config_error
    {
        let _ = writeln!(
            s,
            "  config:    reload refused, previous config in force: {e}"
        );
    }
    if report.shared_state != "off" {
        let url = report.shared_url.as_deref().unwrap_or_default();
        let _ = writeln!(s, "  shared:    {} ({url})", report.shared_state);
    }
    if let Some(q) = &report.queue {
        let _ = writeln!(
            s,
            "  queue:     {} pending, {} retrying, {} succeeded, {} dead",
            q.pending, q.retrying, q.succeeded, q.dead
        );
    }
    let _ = writeln!(s, "{}", table::proxy_endpoints(&report.endpoints));
    let scored: Vec<_> = report
        .endpoints
        .iter()
        .filter_map(|e| e.score.as_ref().map(|sc| (e, sc)))
        .collect();
    if !scored.is_empty() {
        let _ = writeln!(s, "adaptive scores (best first within a profile):");
        let mut scored = scored;
        scored.sort_by(|a, b| {
            a.0.endpoint
                .profile
                .cmp(&b.0.endpoint.profile)
                .then(b.1.score.total_cmp(&a.1.score))
        });
        for (e, sc) in scored {
            let _ = writeln!(
                s,
                "  {:<12} {:<16} {:.3} = latency {:.2} · success {:.2} · cost {:.2} · weight {:.2} · quota {:.2}, × state {:.2}{}",
                e.endpoint.profile,
                if e.endpoint.name.is_empty() {
                    &e.endpoint.id
                } else {
                    &e.endpoint.name
                },
                sc.score,
                sc.latency,
                sc.success,
                sc.cost,
                sc.weight,
                sc.quota,
                sc.state,
                sc.model
                    .as_deref()
                    .map(|m| format!(" (cost for {m})"))
                    .unwrap_or_default()
            );
        }
    }
    const SHOWN: usize = 5;
    if !report.recent_switches.is_empty() {
        let _ = writeln!(s, "switches (newest first):");
        for r in report.recent_switches.iter().take(SHOWN) {
            let _ = writeln!(
                s,
                "  {}  {:<8} {} → {}: {}",
                r.at.format("%Y-%m-%d %H:%M:%S"),
                r.kind,
                r.from.as_deref().unwrap_or("-"),
                r.to,
                r.reason
            );
        }
    }
    if !report.recent_state_changes.is_empty() {
        let _ = writeln!(s, "state changes (newest first):");
        for c in report.recent_state_changes.iter().take(SHOWN) {
            let who = if c.name.is_empty() {
                c.endpoint.clone()
            } else {
                format!("{} ({})", c.name, c.endpoint)
            };
            let _ = writeln!(
                s,
                "  {}  {who}: {} → {}: {}",
                c.at.format("%Y-%m-%d %H:%M:%S"),
                c.from,
                c.to,
                c.reason
            );
        }
    }
    s
}

/// Today's tokens and cost over every endpoint, in one line.
fn today(u: &UsageSummary) -> String {
    if u.today.is_empty() {
        return "no usage recorded yet".into();
    }
    let mut t = Tokens::default();
    let (mut cost, mut unpriced) = (0.0, 0);
    for e in &u.today {
        t.add(&e.tokens);
        cost += e.cost_usd;
        unpriced += e.unpriced_requests;
    }
    let mut line = format!(
        "tokens in {} (cache read {}), out {}; cost ${cost:.4}",
        t.all_input(),
        t.cache_read,
        t.output
    );
    if unpriced > 0 {
        let _ = write!(line, " ({unpriced} requests without a price)");
    }
    line
}
