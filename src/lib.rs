//! qcc: keeps Claude Code (and any Anthropic-API client) running when a provider fails.
//!
//! The library holds everything; `main.rs` only parses, runs and maps errors to exit codes.
//! Modules that do no terminal IO (`state`) never import `cli` or `ui`.

/// Command-line interface: one folder per command group, one file per leaf subcommand.
pub mod cli;
/// On-disk state: paths, the pure model, locked atomic storage.
pub mod state;
/// Terminal output: tables, prompts, colours, JSON views with masked keys.
pub mod ui;
