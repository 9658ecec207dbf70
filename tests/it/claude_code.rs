//! The real client this tool exists for: Claude Code itself (`claude -p`, its native binary
//! from the npm package), offline, through the daemon to a fake upstream. CI installs it
//! (`npm install` in .ci/run, path in `QCC_CLAUDE_BIN`); elsewhere the test is skipped with
//! a message when no `claude` is found.

use std::path::PathBuf;

use qcc::fake::{FakeUpstream, Fault};

use serde_json::Value;

use crate::harness::TestEnv;

/// The Claude Code binary: `$QCC_CLAUDE_BIN`, else `claude` on PATH.
fn claude_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("QCC_CLAUDE_BIN") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("claude"))
        .find(|p| p.is_file())
}

/// Claude Code, or `None` (with a message) to skip the test — never on CI.
fn claude_or_skip() -> Option<PathBuf> {
    let found = claude_bin();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Claude Code: see .ci/run (QCC_CLAUDE_BIN)"
        );
        eprintln!("skipped: Claude Code is not installed (set QCC_CLAUDE_BIN)");
    }
    found
}

/// `claude -p PROMPT --output-format json` against the proxy; (success, parsed result).
fn ask(env: &TestEnv, claude: &PathBuf, base_url: &str, prompt: &str) -> (bool, Value) {
    let out = env
        .shell_cmd(claude)
        .args(["-p", prompt, "--output-format", "json"])
        .current_dir(env.home())
        .env("ANTHROPIC_BASE_URL", base_url)
        .env("ANTHROPIC_API_KEY", "sk-ant-api03-client-key-0000")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        // Claude Code's own retries would hide what the proxy answered.
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "claude printed no JSON result:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), result)
}

#[test]
fn claude_code_runs_through_the_proxy_across_failures_and_an_outage() {
    let Some(claude) = claude_or_skip() else {
        return;
    };
    let env = TestEnv::new();
    let a = FakeUpstream::spawn_named("a").unwrap();
    let b = FakeUpstream::spawn_named("b").unwrap();
    b.set_reply_text("Hello from the Claude Code test.");
    env.endpoint_for("work", &a.url(), "sk-ant-api03-upstream-a-00001", "api-key");
    env.endpoint_for("work", &b.url(), "sk-ant-api03-upstream-b-00002", "api-key");
    env.ok(&["profile", "edit", "work", "--strategy", "ordered"]);
    env.breakers_open_at_once();
    let proxy = env.start_proxy();

    // 1. A is overloaded: the turn fails over to B inside the request.
    a.set_default_fault(Fault::status(529));
    let (ok, r) = ask(&env, &claude, &proxy.base_url, "Say hello");
    assert!(ok, "{r}");
    assert_eq!(r["is_error"], false, "{r}");
    assert_eq!(r["result"], "Hello from the Claude Code test.", "{r}");
    assert_eq!(a.request_count(), 1);
    let turn = b
        .requests()
        .into_iter()
        .find(|q| q.path == "/v1/messages")
        .unwrap();
    assert_eq!(turn.query.as_deref(), Some("beta=true"));
    assert_eq!(
        turn.header("x-api-key"),
        Some("sk-ant-api03-upstream-b-00002"),
        "the endpoint's key replaces the client's"
    );
    assert!(turn.header("anthropic-version").is_some());
    assert!(turn.header("x-claude-code-session-id").is_some());

    // 2. Everything is down: Claude Code gets the provider's own error, not a hang.
    b.set_default_fault(Fault::status(529));
    let (ok, r) = ask(&env, &claude, &proxy.base_url, "Say hello again");
    assert!(!ok && r["is_error"] == true, "{r}");
    assert_eq!(env.endpoint_states(), ["open", "open"]);

    // 3. The providers are back (breakers still open for a minute): the very next turn works.
    a.set_default_fault(Fault::None);
    b.set_default_fault(Fault::None);
    let (ok, r) = ask(&env, &claude, &proxy.base_url, "Are you back?");
    assert!(ok, "{r}");
    assert_eq!(r["is_error"], false, "{r}");
}

#[test]
fn claude_code_runs_against_an_openai_endpoint() {
    let Some(claude) = claude_or_skip() else {
        return;
    };
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_openai("chat").unwrap();
    up.set_reply_text("Hello from a chat model.");
    env.ok(&["profile", "add", "cheap"]);
    env.ok(&[
        "endpoint",
        "add",
        "cheap",
        "--kind",
        "openai",
        "--url",
        &up.url(),
        "--key",
        "sk-or-claude-0000000001",
        "--model",
        "claude-haiku-*=small-chat",
        "--model",
        "*=big-chat",
    ]);
    let proxy = env.start_proxy();
    let (ok, r) = ask(&env, &claude, &proxy.base_url, "Say hello");
    assert!(ok, "{r}");
    assert_eq!(r["is_error"], false, "{r}");
    assert_eq!(r["result"], "Hello from a chat model.", "{r}");
    // Every request Claude Code made reached the chat endpoint translated: its tools as
    // functions, its system prompt as a system message, each model mapped.
    let reqs = up.requests();
    assert!(!reqs.is_empty());
    for q in &reqs {
        assert!(q.path.ends_with("/chat/completions"), "{}", q.path);
        assert_eq!(
            q.header("authorization"),
            Some("Bearer sk-or-claude-0000000001")
        );
        let body: Value = serde_json::from_slice(&q.body).unwrap();
        let model = body["model"].as_str().unwrap();
        assert!(model == "small-chat" || model == "big-chat", "{model}");
        assert_eq!(body["messages"][0]["role"], "system");
    }
    let main_turn = reqs
        .iter()
        .map(|q| serde_json::from_slice::<Value>(&q.body).unwrap())
        .find(|b| b["tools"].as_array().is_some_and(|t| !t.is_empty()))
        .expect("the main turn carries Claude Code's tools");
    for t in main_turn["tools"].as_array().unwrap() {
        assert_eq!(t["type"], "function");
        assert!(t["function"]["name"].as_str().unwrap().len() <= 64);
        assert!(t["function"]["parameters"]["type"].is_string(), "{t}");
    }
}
