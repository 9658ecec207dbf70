//! qcc: keeps Claude Code (and any Anthropic-API client) running when a provider fails.
//!
//! The library holds everything; `main.rs` only parses, runs and maps errors to exit codes.
//! Modules that do no terminal IO (`state`) never import `cli` or `ui`.

/// Choosing among a profile's endpoints: strategies and sticky conversations.
pub mod balance;
/// Command-line interface: one folder per command group, one file per leaf subcommand.
pub mod cli;
/// The proxy daemon's lifecycle: start (detached re-exec), run, control, reload, stop.
pub mod daemon;
/// A fake Anthropic upstream that fails on command, for tests, benchmarks and `qcc demo`.
pub mod fake;
/// Endpoint health: circuit breakers, the conversational probe, metrics, `health.json`.
pub mod health;
/// The CLI ↔ daemon control protocol over a Unix socket.
pub mod ipc;
/// The data plane: the forwarding HTTP server.
pub mod proxy;
/// The failure queue: requests that failed everywhere, kept and replayed.
pub mod queue;
/// On-disk state: paths, the pure model, locked atomic storage.
pub mod state;
/// Terminal output: tables, prompts, colours, JSON views with masked keys.
pub mod ui;
