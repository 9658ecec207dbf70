//! qcc: keeps Claude Code (and any Anthropic-API client) running when a provider fails.
//!
//! The library holds everything; `main.rs` only parses, runs and maps errors to exit codes.
//! The modules form layers (docs/architecture.md), checked by `tests/it/architecture.rs`:
//! an import never points up, so there is no cycle between top-level modules.

/// Choosing among a profile's endpoints: strategies and sticky conversations.
pub mod balance;
/// Command-line interface: one folder per command group, one file per leaf subcommand.
pub mod cli;
/// The proxy daemon's lifecycle: start (detached re-exec), run, control, reload, stop.
pub mod daemon;
/// A fake Anthropic upstream that fails on command, for tests, benchmarks and `qcc demo`.
pub mod fake;
/// Endpoint health: the probe scheduler, the conversational test, `health.json`.
pub mod health;
/// Importing other tools' configurations (Claude Code settings, cc-switch) as a plan.
pub mod import;
/// The CLI ↔ daemon control protocol over a Unix socket.
pub mod ipc;
/// Prometheus metrics (`/_qcc/metrics`): the registry, per-endpoint handles, the encoding.
pub mod metrics;
/// Anthropic Messages ⇄ OpenAI Chat Completions, as pure functions on JSON (issue 14).
pub mod openai;
/// The data plane: the forwarding server, routing, tiers, queue replays.
pub mod proxy;
/// The failure queue: requests that failed everywhere, kept (replayed by `proxy::replay`).
pub mod queue;
/// The typed views (status, health, replay summaries) every output serialises; data only.
pub mod report;
/// State shared by several daemons through Redis: limits' counters, breaker trips.
pub mod shared;
/// Server-sent events: framing, error events, usage read off a stream (a leaf module).
pub mod sse;
/// On-disk state: paths, the pure model, locked atomic storage.
pub mod state;
/// Terminal output: tables, prompts, colours, JSON views with masked keys.
pub mod ui;
/// One endpoint at run time: target, credential, figures, breaker, state (under the proxy).
pub mod upstream;
/// Usage and cost accounting: the recorder, prices, the running account, `qcc usage`.
pub mod usage;
