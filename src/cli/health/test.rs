//! `qcc health test [endpoint|--profile P]`

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::Semaphore;

use crate::cli::complete;
use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::health::probe::{self, ProbeTarget};
use crate::report::health::ProbeReport;
use crate::state::model::{Config, Endpoint, Profile};
use crate::ui::progress::Progress;
use crate::upstream::keys::read_credential;

/// Have a tiny real conversation with endpoints now: each is asked (max_tokens 16) to echo
/// a random nonce, and passes only if the answer contains it. Runs from the CLI, with no
/// daemon, against every endpoint at once; prints pass/fail and why, latency, first-byte
/// time and the model that answered. Exits 1 if any endpoint failed.
///
/// Without arguments: every enabled endpoint of every profile. The model asked is the
/// endpoint's own probe model, else `health.probe_model` (see `qcc health config`).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc health test                      # every enabled endpoint
  qcc health test e7c1 -v              # one endpoint, and show its answer
  qcc health test --profile backup --timeout 10
  qcc health test --model claude-sonnet-4-5 --json")]
pub struct Args {
    /// Endpoint id, name or unique id prefix; default: every enabled endpoint
    #[arg(add = clap_complete::ArgValueCompleter::new(complete::endpoint_ids), conflicts_with = "profile")]
    pub endpoint: Option<String>,
    /// Test the enabled endpoints of this profile
    #[arg(short, long, value_name = "PROFILE", add = clap_complete::ArgValueCandidates::new(complete::profiles))]
    pub profile: Option<String>,
    /// Seconds each conversation may take (default: health.probe_timeout_secs)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: Option<u64>,
    /// Ask this model instead of the configured probe model
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Conversations at once
    #[arg(short, long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
}

/// The endpoints to test, with their profile.
fn select<'a>(
    config: &'a Config,
    args: &Args,
) -> Result<Vec<(&'a Profile, &'a Endpoint)>, CliError> {
    if let Some(q) = &args.endpoint {
        let r = config.find_endpoint(None, q)?;
        return Ok(vec![(&config.profiles[r.profile], config.endpoint(r))]);
    }
    if let Some(p) = &args.profile {
        let profile = config.profile(p)?;
        let list: Vec<_> = profile
            .endpoints
            .iter()
            .filter(|e| e.enabled)
            .map(|e| (profile, e))
            .collect();
        if list.is_empty() {
            return Err(crate::state::ModelError::NoEnabledEndpoint(p.clone()).into());
        }
        return Ok(list);
    }
    let list: Vec<_> = config.endpoints().filter(|(_, e)| e.enabled).collect();
    if list.is_empty() {
        return Err(CliError::failed(
            "there is no enabled endpoint to test",
            Some("add one with `qcc endpoint add <profile>`".into()),
        ));
    }
    Ok(list)
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let config = ctx.config()?;
    let chosen = select(&config, args)?;
    let timeout = Duration::from_secs(
        args.timeout
            .unwrap_or(config.health.probe_timeout_secs)
            .max(1),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}"), None))?;
    let client =
        crate::proxy::client::build(Duration::from_secs(config.proxy.connect_timeout_secs))
            .map_err(|e| CliError::failed(e.to_string(), None))?;
    // Keys read through references first (commands may prompt a password manager).
    let key_timeout = Duration::from_secs(config.proxy.key_timeout_secs.max(1));
    let credentials: Vec<_> = std::thread::scope(|scope| {
        let reads: Vec<_> = chosen
            .iter()
            .map(|(_, e)| scope.spawn(move || read_credential(e, key_timeout)))
            .collect();
        reads
            .into_iter()
            .map(|r| {
                r.join()
                    .unwrap_or_else(|_| Err("reading the key failed".into()))
            })
            .collect()
    });
    let progress = Progress::new(ctx.json, "testing");
    let total = chosen.len();
    let slots = Arc::new(Semaphore::new(args.jobs as usize));
    let runs = chosen.iter().zip(credentials).map(|((p, e), credential)| {
        let (client, slots, progress) = (&client, slots.clone(), &progress);
        let model = args
            .model
            .clone()
            .or_else(|| e.probe_model.clone())
            .unwrap_or_else(|| config.health.probe_model.clone());
        let model = crate::state::models::map(&e.models, &model)
            .map(str::to_owned)
            .unwrap_or(model);
        async move {
            let report = match credential {
                Ok(credential) => {
                    let _slot = slots.acquire().await.expect("never closed");
                    let target = ProbeTarget {
                        base_url: e.url.trim_end_matches('/').to_owned(),
                        credential,
                        model,
                        chat_path: (e.kind == crate::state::model::EndpointKind::Openai)
                            .then(|| e.chat_path().to_owned()),
                    };
                    probe::run(client, &target, timeout).await.report(
                        &e.id,
                        &p.name,
                        &e.label(),
                        &e.url,
                    )
                }
                Err(why) => ProbeReport {
                    id: e.id.clone(),
                    profile: p.name.clone(),
                    name: e.label(),
                    url: e.url.clone(),
                    passed: false,
                    reason: format!("key not available: {why}"),
                    status: None,
                    latency_ms: 0.0,
                    first_byte_ms: None,
                    model_asked: model,
                    model: None,
                    answer: String::new(),
                    nonce: String::new(),
                    breaker: None,
                },
            };
            progress.step(total);
            report
        }
    });
    let results = runtime.block_on(join_all(runs));
    progress.finish();
    super::print_results(ctx, &results)
}
