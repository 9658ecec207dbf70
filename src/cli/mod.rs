//! The command-line interface: the clap tree, global flags, and one dispatcher.
//!
//! One folder per command group (`profile/`, `endpoint/`, `priority/`, `route/`, …), one file per leaf
//! subcommand holding its clap `Args` (doc comment = help text) and
//! `fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError>`. Each group's `mod.rs` holds the
//! `Subcommand` enum and a one-arm-per-verb dispatcher.

pub mod complete;
pub mod completions;
pub mod config;
pub mod ctx;
pub mod demo;
pub mod doctor;
pub mod endpoint;
pub mod env;
pub mod error;
pub mod generate;
pub mod health;
pub mod import;
pub mod price;
pub mod priority;
pub mod profile;
pub mod proxy;
pub mod queue;
pub mod route;
pub mod usage;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use ctx::Ctx;
pub use error::CliError;

use crate::ui::style::ColorChoice;

const ABOUT: &str = "Keep Claude Code running when a provider fails: profiles of endpoints, \
priority tiers, and a local failover proxy.";

const AFTER_HELP: &str = "\
Examples:
  qcc profile add work --description 'Company keys'
  qcc endpoint add work --url https://api.anthropic.com --key-env ANTHROPIC_API_KEY
  qcc priority set work primary
  qcc priority switch backup
  eval \"$(qcc env work)\"

Exit codes: 0 ok, 1 error, 2 usage error, 3 daemon not running.
State lives in $QCC_CONFIG_DIR, else ~/.config/qcc (XDG).";

/// The `qcc` command line.
#[derive(Debug, Parser)]
#[command(
    name = "qcc",
    bin_name = "qcc",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print machine-readable JSON (keys masked)
    #[arg(long, global = true)]
    pub json: bool,
    /// Answer yes to confirmations (required for destructive commands without a terminal)
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// Use this config dir instead of $QCC_CONFIG_DIR or ~/.config/qcc
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// More detail (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colours (NO_COLOR is honoured by `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// Command groups.
// Parsed once per process: the size of the largest variant (`endpoint`'s many flags) costs
// nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage profiles: named groups of endpoints
    #[command(subcommand)]
    Profile(profile::Cmd),
    /// Manage the endpoints of a profile (base URL + key + auth style + weight)
    #[command(subcommand)]
    Endpoint(endpoint::Cmd),
    /// Priority tiers, the active profile, switches and the failover policy
    #[command(subcommand)]
    Priority(priority::Cmd),
    /// Model routes: requests for some models go to a profile of their own first
    #[command(subcommand)]
    Route(route::Cmd),
    /// The local failover proxy: start, stop, status, logs
    #[command(subcommand)]
    Proxy(proxy::Cmd),
    /// Endpoint health: conversational tests, metrics, probe history, settings
    #[command(subcommand)]
    Health(health::Cmd),
    /// Requests that failed everywhere, kept for replay: status, list, retry, clear
    #[command(subcommand)]
    Queue(queue::Cmd),
    /// Create profiles from other tools: Claude Code settings.json, cc-switch
    #[command(subcommand)]
    Import(import::Cmd),
    /// The config file as a whole: path, export, import, edit
    #[command(subcommand)]
    Config(config::Cmd),
    /// Requests, tokens and cost over a period (by day, hour, endpoint, profile, model)
    Usage(usage::Args),
    /// What requests cost: the built-in list prices and your own
    #[command(subcommand)]
    Price(price::Cmd),
    /// Print `export` lines that point a shell at a profile directly
    Env(env::Args),
    /// Print the shell completion script (bash, zsh, fish)
    Completions(completions::Args),
    /// A keyless, offline tour: fake upstreams, the real proxy, streamed requests
    Demo(demo::Args),
    /// Check the setup: config, keys, daemon, port, where Claude Code sends requests
    Doctor(doctor::Args),
}

/// Handle `COMPLETE=<shell> qcc ...` (the shell asking for completions) and exit, or return.
pub fn complete_from_env() {
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command)
        .completer("qcc")
        .complete();
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    crate::ui::style::init(cli.global.color);
    let ctx = Ctx::new(&cli.global)?;
    match &cli.command {
        Command::Profile(cmd) => profile::run(&ctx, cmd),
        Command::Endpoint(cmd) => endpoint::run(&ctx, cmd),
        Command::Priority(cmd) => priority::run(&ctx, cmd),
        Command::Route(cmd) => route::run(&ctx, cmd),
        Command::Proxy(cmd) => proxy::run(&ctx, cmd),
        Command::Health(cmd) => health::run(&ctx, cmd),
        Command::Queue(cmd) => queue::run(&ctx, cmd),
        Command::Import(cmd) => import::run(&ctx, cmd),
        Command::Config(cmd) => config::run(&ctx, cmd),
        Command::Usage(args) => usage::run(&ctx, args),
        Command::Price(cmd) => price::run(&ctx, cmd),
        Command::Env(args) => env::run(&ctx, args),
        Command::Completions(args) => completions::run(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Doctor(args) => doctor::run(&ctx, args),
    }
}
