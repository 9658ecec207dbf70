//! A real client: the official `anthropic` Python SDK, streaming and not, through the
//! daemon. CI installs the SDK (`pip install anthropic` in .ci/run); elsewhere the test is
//! skipped with a message when the SDK is missing.

use std::path::Path;

use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;

fn sdk_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import anthropic"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the SDK is there; without it the test is skipped (with a message), except on CI.
fn sdk_or_skip() -> bool {
    if sdk_available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have the anthropic SDK: pip install anthropic"
    );
    eprintln!("skipped: the anthropic Python SDK is not installed (pip install anthropic)");
    false
}

/// The line of `stdout` starting with `tag`.
fn tagged(stdout: &str, tag: &str) -> String {
    stdout
        .lines()
        .find(|l| l.starts_with(tag))
        .unwrap_or_else(|| panic!("no {tag} line in:\n{stdout}"))
        .to_owned()
}

/// Run `script` (under tests/it/python/) against the proxy at `base_url`: its stdout.
fn run_script(env: &TestEnv, script: &str, base_url: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/python")
        .join(script);
    let out = env
        .shell_cmd("python3")
        .arg(script)
        .env("ANTHROPIC_BASE_URL", base_url)
        .env("ANTHROPIC_API_KEY", "sk-client-sdk-key")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_official_python_sdk_works_through_the_proxy() {
    if !sdk_or_skip() {
        return;
    }
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_named("sdk").unwrap();
    up.set_reply_text("Hello from the SDK test.");
    env.endpoint_for("work", &up.url(), "sk-upstream-sdk-000000000001", "bearer");
    let proxy = env.start_proxy();
    // The fourth call (after create, stream, count_tokens) is rate-limited upstream with a
    // single endpoint: the SDK must see the 429 and its retry-after unchanged.
    up.push_fault(Fault::None);
    up.push_fault(Fault::None);
    up.push_fault(Fault::None);
    up.push_fault(Fault::rate_limited(7));
    let stdout = run_script(&env, "sdk_roundtrip.py", &proxy.base_url);
    let line = |tag: &str| tagged(&stdout, tag);
    assert!(
        line("NONSTREAM").contains("Hello from the SDK test. end_turn"),
        "{stdout}"
    );
    assert!(
        line("STREAM").contains("Hello from the SDK test. end_turn"),
        "{stdout}"
    );
    assert!(
        line("COUNT ")
            .split(' ')
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(line("RATELIMIT"), "RATELIMIT 429 7");
    let reqs = up.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[2].path, "/v1/messages/count_tokens");
    for r in &reqs {
        assert_eq!(
            r.header("authorization"),
            Some("Bearer sk-upstream-sdk-000000000001")
        );
        assert!(
            r.header("anthropic-version").is_some(),
            "SDK headers pass through"
        );
        assert!(r.header("x-stainless-lang").is_some());
    }
}

#[test]
fn the_python_sdk_uses_an_openai_endpoint_with_a_tool_round_trip() {
    if !sdk_or_skip() {
        return;
    }
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_openai("sdk-oa").unwrap();
    up.set_reply_text("Reading it.");
    up.set_openai_reply(qcc::fake::OpenAiReply {
        reasoning: Some("The user wants the file.".into()),
        tool_calls: vec![qcc::fake::ToolCall::split(
            "call_7",
            "read_file",
            &serde_json::json!({"path": "src/main.rs"}),
        )],
        cached_tokens: 3,
        ..Default::default()
    });
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
        "sk-or-sdk-0000000001",
        "--model",
        "*=deepseek-chat",
    ]);
    let proxy = env.start_proxy();
    let stdout = run_script(&env, "sdk_openai.py", &proxy.base_url);
    let line = |tag: &str| tagged(&stdout, tag);
    assert_eq!(
        line("WHOLE"),
        r#"WHOLE claude-sonnet-4-5 tool_use thinking,text,tool_use read_file {"path": "src/main.rs"}"#
    );
    assert_eq!(
        line("STREAM"),
        r#"STREAM claude-sonnet-4-5 tool_use thinking,text,tool_use read_file {"path": "src/main.rs"} | Reading it."#
    );
    let usage: Vec<u64> = line("USAGE")
        .split(' ')
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(usage[1], 3, "cached tokens apart: {usage:?}");
    assert!(usage[0] > 0 && usage[2] > 0, "{usage:?}");
    assert!(
        line("COUNT ")
            .split(' ')
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    // Two chat requests (count_tokens stayed local); the second carried the tool result.
    let reqs = up.requests();
    assert_eq!(reqs.len(), 2);
    let second: serde_json::Value = serde_json::from_slice(&reqs[1].body).unwrap();
    let msgs = second["messages"].as_array().unwrap();
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["tool_calls"][0]["id"], "toolu_qcc_call_7");
    assert_eq!(msgs[2]["role"], "tool");
    assert_eq!(msgs[2]["tool_call_id"], "toolu_qcc_call_7");
    assert_eq!(msgs[2]["content"], "fn main() {}");
    for r in &reqs {
        assert_eq!(
            r.header("authorization"),
            Some("Bearer sk-or-sdk-0000000001")
        );
        assert!(
            r.header("x-stainless-lang").is_none(),
            "SDK headers stay with qcc"
        );
    }
}
