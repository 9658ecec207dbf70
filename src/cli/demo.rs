//! `qcc demo`: a keyless, offline tour. Starts two fake Anthropic upstreams and a fake
//! OpenAI-compatible one on loopback, a throwaway config (two tiered profiles, and a routed
//! profile with an `openai` endpoint), and the real proxy daemon; streams real requests
//! through it (one of them routed and translated), shows the status table, then stops the
//! daemon and removes everything.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::cli::ctx::Ctx;
use crate::cli::error::CliError;
use crate::daemon::spawn::{self, StartOptions, Started};
use crate::fake::{FakeUpstream, Fault};
use crate::ipc::client::Client;

use crate::state::History;
use crate::state::model::{AuthStyle, EndpointKind, NewEndpoint, Strategy, Tier};
use crate::state::models::ModelRule;
use crate::state::secret::Secret;
use crate::state::{Config, Paths, Store};
use crate::ui::views::SwitchView;
use crate::ui::{style, table};

/// A keyless, offline tour of qcc: fake upstreams, a throwaway profile, the real proxy
/// daemon, real streamed requests, the status table. Touches nothing of yours: everything
/// lives in a temp dir that is removed at the end.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  qcc demo
  cargo run --release -- demo")]
pub struct Args {
    /// How many streamed requests to send
    #[arg(short = 'n', long, default_value_t = 4, value_name = "N")]
    pub requests: usize,
}

/// Stops the demo daemon however the demo ends.
struct DaemonGuard {
    paths: Paths,
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(&self.paths.socket(), Duration::from_secs(5))
            && c.stop(5).is_ok()
        {
            let _ = c.wait_closed(Duration::from_secs(10));
        }
    }
}

fn step(n: u32, text: &str) {
    println!("\n{} {text}", console::style(format!("{n}.")).bold());
}

pub fn run(_ctx: &Ctx, args: &Args) -> Result<(), CliError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        CliError::failed(format!("demo: {what}: {e}"), None)
    };
    println!(
        "{}",
        console::style("qcc demo — a keyless, offline tour (everything runs on 127.0.0.1)").bold()
    );

    step(
        1,
        "Fake upstreams (real SSE, no key, no network): two Anthropic, one OpenAI-compatible:",
    );
    let relay_a = FakeUpstream::spawn_named("relay-a").map_err(|e| failed("fake upstream", &e))?;
    let relay_b = FakeUpstream::spawn_named("relay-b").map_err(|e| failed("fake upstream", &e))?;
    relay_a.set_default_fault(Fault::Status {
        status: 529,
        retry_after: None,
        message: Some("Overloaded".into()),
    });
    relay_b.set_default_fault(Fault::SlowStream(Duration::from_millis(35)));
    relay_b.set_reply_text("Hi! relay-a is overloaded, so this answer streamed from relay-b.");
    println!("   relay-a  {}  (overloaded: answers 529)", relay_a.url());
    println!("   relay-b  {}  (healthy)", relay_b.url());
    let chat = FakeUpstream::spawn_openai("chat-c").map_err(|e| failed("fake upstream", &e))?;
    chat.set_default_fault(Fault::SlowStream(Duration::from_millis(35)));
    chat.set_reply_text("Hi! I speak Chat Completions; qcc translated me into Anthropic events.");
    println!("   chat-c   {}  (OpenAI Chat Completions)", chat.url());

    let dir = tempfile::Builder::new()
        .prefix("qcc-demo-")
        .tempdir()
        .map_err(|e| failed("temp dir", &e))?;
    let paths = Paths::with_runtime(dir.path().join("config"), dir.path().join("run"));
    step(
        2,
        "Profiles: 'main' (primary tier) → relay-a, 'backup' (secondary) → relay-b, 'chat' (routed):",
    );
    let ids = seed(&paths, &relay_a.url(), &relay_b.url(), &chat.url())?;
    println!(
        "   {}  main    relay-a\n   {}  backup  relay-b\n   {}  chat    chat-c (openai, model map '*=demo-chat-model')",
        ids[0], ids[1], ids[2]
    );
    println!("   route: claude-haiku-* → chat");
    println!("   policy: a breaker opens after 2 consecutive failures");
    println!("   (config in {})", paths.config_dir().display());

    step(3, "The proxy daemon, started like `qcc proxy start`:");
    let started = spawn::start(
        &paths,
        &StartOptions {
            listen: Some("127.0.0.1:0".into()),
            ..StartOptions::default()
        },
    )?;
    let guard = DaemonGuard {
        paths: paths.clone(),
    };
    let Started::New { pid, listen } = started else {
        return Err(failed("daemon", &"a demo daemon was already running"));
    };
    let base = format!("http://{listen}");
    println!("   pid {pid}, listening on {base}");
    println!("   export ANTHROPIC_BASE_URL={base}");

    step(
        4,
        "Streaming requests through it, printed as the events arrive:",
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed("runtime", &e))?;
    runtime.block_on(stream_requests(&base, args.requests, "claude-demo"))?;
    println!(
        "   relay-a saw {} request(s); then its breaker opened and traffic moved to 'backup'.",
        relay_a.request_count()
    );
    println!("   A claude-haiku request follows the route to 'chat', translated both ways:");
    runtime.block_on(stream_requests(&base, 1, "claude-haiku-4-5"))?;
    if let Some(sent) = chat.requests().first() {
        let model = serde_json::from_slice::<serde_json::Value>(&sent.body)
            .ok()
            .and_then(|v| v["model"].as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "   chat-c received POST {} asking for '{model}'.",
            sent.path
        );
    }

    step(5, "What `qcc proxy status` shows:");
    let mut client = Client::connect(&paths.socket(), Duration::from_secs(5))?;
    {
        let report = client.status()?;
        println!(
            "   serving: {}{}",
            report.active_profile.as_deref().unwrap_or("-"),
            report
                .failed_over_from
                .as_deref()
                .map(|f| format!(" (failed over from '{f}')"))
                .unwrap_or_default()
        );
        println!("{}", table::proxy_endpoints(&report.endpoints));
    }
    drop(client);

    step(6, "What `qcc priority history` shows:");
    let history = wait_for_switch(&paths);
    let rows: Vec<SwitchView> = history.latest(5).map(SwitchView::from).collect();
    if rows.is_empty() {
        println!("   (no switch recorded)");
    } else {
        println!("{}", table::history(&rows));
    }
    drop(guard);
    step(7, "Stopped the daemon; the temp config goes away now.");
    style::note("next: qcc profile add <name> && qcc endpoint add <name>  — then qcc proxy start");
    Ok(())
}

/// The daemon records switches in the background: give it a moment to land.
fn wait_for_switch(paths: &Paths) -> History {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let h: History = Store::open(paths.clone())
            .and_then(|s| s.read())
            .unwrap_or_default();
        if !h.records.is_empty() || Instant::now() > deadline {
            return h;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Write the demo profiles straight into the temp config.
fn seed(paths: &Paths, a: &str, b: &str, chat: &str) -> Result<Vec<String>, CliError> {
    let store = Store::open(paths.clone())?;
    store.update(|c: &mut Config| {
        let mut ids = Vec::new();
        for (profile, name, url, tier) in [
            ("main", "relay-a", a, Some(Tier::Primary)),
            ("backup", "relay-b", b, Some(Tier::Secondary)),
            ("chat", "chat-c", chat, None),
        ] {
            c.add_profile(
                profile,
                Some("qcc demo".into()),
                Strategy::Weighted,
                Utc::now(),
            )?;
            if tier.is_some() {
                c.set_tier(profile, tier)?;
            }
            let openai = tier.is_none();
            let e = c.add_endpoint(
                profile,
                NewEndpoint {
                    name: Some(name.into()),
                    url: url.into(),
                    key: crate::state::model::Credential::Value(Secret::new(format!(
                        "sk-demo-{name}-0000000000"
                    ))),
                    auth: if openai {
                        AuthStyle::Bearer
                    } else {
                        AuthStyle::ApiKey
                    },
                    weight: 100,
                    models: if openai {
                        vec![ModelRule::parse("*=demo-chat-model").expect("a rule")]
                    } else {
                        Vec::new()
                    },
                    kind: if openai {
                        EndpointKind::Openai
                    } else {
                        EndpointKind::Anthropic
                    },
                    chat_path: None,
                },
                crate::cli::endpoint::new_id,
            )?;
            ids.push(e.id.clone());
        }
        c.add_route("claude-haiku-*", "chat", None)?;
        c.policy.failure_threshold = 2;
        Ok::<_, CliError>(ids)
    })
}

/// Send `n` streamed requests for `model` one after another, echoing the text as it streams.
async fn stream_requests(base: &str, n: usize, model: &str) -> Result<(), CliError> {
    let client = crate::proxy::upstream::client(Duration::from_secs(5))
        .map_err(|e| CliError::failed(format!("demo: client: {e}"), None))?;
    for i in 1..=n {
        let started = Instant::now();
        let body = format!(
            r#"{{"model":"{model}","stream":true,"max_tokens":64,"messages":[{{"role":"user","content":"demo request {i}"}}]}}"#
        );
        let mut resp = client
            .post(format!("{base}/v1/messages?beta=true"))
            .header("x-api-key", "no-key-needed")
            .header("anthropic-version", "2023-06-01")
            .body(body)
            .send()
            .await
            .map_err(|e| CliError::failed(format!("demo: request {i}: {e}"), None))?;
        let via = resp
            .headers()
            .get("x-qcc-endpoint")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_owned();
        let attempts = resp
            .headers()
            .get("x-qcc-attempts")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_owned();
        print!(
            "   request {i} → {} via {via} (attempts: {attempts}): ",
            resp.status().as_u16()
        );
        let _ = std::io::stdout().flush();
        let mut first_byte = None;
        let mut events = 0;
        let mut pending = crate::sse::Events::default();
        while let Ok(Some(chunk)) = resp.chunk().await {
            first_byte.get_or_insert_with(|| started.elapsed());
            pending.push(&chunk);
            while let Some(event) = pending.next_event() {
                events += 1;
                if let Some(text) = delta_text(&event) {
                    print!("{text}");
                    let _ = std::io::stdout().flush();
                }
            }
        }
        println!(
            "  ({events} events, first byte after {} ms)",
            first_byte.unwrap_or_default().as_millis()
        );
    }
    Ok(())
}

/// The text of a `content_block_delta` event, if it is one.
fn delta_text(event: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&crate::sse::data(event)).ok()?;
    (v["type"] == "content_block_delta")
        .then(|| v["delta"]["text"].as_str().map(str::to_owned))
        .flatten()
}
