//! `qcc queue …`: requests that failed on every endpoint, kept for replay: see them, replay
//! them (through the daemon when it runs, else right here through the same routing),
//! clear them, and set the queue's policy.

pub mod clear;
pub mod config;
pub mod list;
pub mod retry;
pub mod retry_all;
pub mod show;
pub mod status;

use std::time::Duration;

use clap::Subcommand;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::liveness::{self, Liveness};
use crate::ipc::client::Client;

use crate::proxy::Proxy;
use crate::proxy::replay::{self, Selection};
use crate::queue::QueueStore;
use crate::report::queue::{ItemResult, RetrySummary};

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Counts by state, oldest item, bytes, running totals
    Status(status::Args),
    /// List queued requests
    #[command(alias = "ls")]
    List(list::Args),
    /// Show one queued request (and its stored response)
    Show(show::Args),
    /// Replay one queued request now
    Retry(retry::Args),
    /// Replay every pending request now (after an outage)
    RetryAll(retry_all::Args),
    /// Remove queued requests
    Clear(clear::Args),
    /// Show or change the queue's policy
    Config(config::Args),
}

pub fn run(ctx: &Ctx, cmd: &Cmd) -> Result<(), CliError> {
    match cmd {
        Cmd::Status(a) => status::run(ctx, a),
        Cmd::List(a) => list::run(ctx, a),
        Cmd::Show(a) => show::run(ctx, a),
        Cmd::Retry(a) => retry::run(ctx, a),
        Cmd::RetryAll(a) => retry_all::run(ctx, a),
        Cmd::Clear(a) => clear::run(ctx, a),
        Cmd::Config(a) => config::run(ctx, a),
    }
}

pub fn store(ctx: &Ctx) -> Result<QueueStore, CliError> {
    Ok(QueueStore::open(&ctx.paths)?)
}

/// How long the CLI waits for the daemon to finish a replay batch.
const DAEMON_BATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Replay `selection`: by the daemon if it runs, else here, through the same routing code.
/// `progress` hears of each item replayed here.
pub fn replay(
    ctx: &Ctx,
    ids: Option<Vec<String>>,
    progress: impl Fn(&ItemResult, usize) + Send + Sync,
) -> Result<RetrySummary, CliError> {
    if let Liveness::Running { .. } = liveness::probe(&ctx.paths) {
        let mut client = Client::connect(&ctx.paths.socket(), DAEMON_BATCH_TIMEOUT)?;
        return Ok(client.queue_retry(ids)?);
    }
    let config = ctx.config()?;
    let queue = store(ctx)?;
    // Replays the CLI makes itself are not counted: the daemon owns the usage files.
    let usage = std::sync::Arc::new(crate::usage::Usage::new(&config, None));
    let proxy = std::sync::Arc::new(
        Proxy::new(&config, Default::default(), None, usage).map_err(|e| {
            CliError::failed(
                e.to_string(),
                Some("replaying needs a usable profile; see `qcc profile list`".into()),
            )
        })?,
    );
    let selection = match ids {
        Some(ids) => Selection::Ids(ids),
        None => Selection::AllPending,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}"), None))?;
    Ok(runtime.block_on(replay::run(
        proxy,
        queue,
        selection,
        crate::daemon::control::QUEUE_CONCURRENCY,
        progress,
    ))?)
}

/// Print a batch's outcome (shared by `retry` and `retry-all`); error if any still failed.
pub fn report(ctx: &Ctx, summary: &RetrySummary) -> Result<(), CliError> {
    if ctx.json {
        crate::ui::print_json(summary);
    } else if summary.attempted == 0 {
        println!("Nothing to retry.");
    } else {
        for r in &summary.items {
            let how = match (&r.status, &r.error) {
                (Some(s), _) => format!("HTTP {s}"),
                (None, Some(e)) => e.clone(),
                (None, None) => String::new(),
            };
            println!("  {}  {:<9}  {how}", r.id, r.state.to_string());
        }
        println!(
            "Replayed {}: {} succeeded, {} failed again (still pending), {} dead.",
            summary.attempted, summary.succeeded, summary.failed, summary.dead
        );
    }
    if summary.failed + summary.dead > 0 {
        return Err(CliError::failed(
            format!(
                "{} of {} replayed request(s) did not succeed",
                summary.failed + summary.dead,
                summary.attempted
            ),
            Some("see `qcc queue list`; pending ones are retried later".into()),
        ));
    }
    Ok(())
}
