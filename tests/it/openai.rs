//! `openai` endpoints end to end: the real daemon in front of OpenAI-mode fakes. What the
//! fake receives (path, Bearer, no `anthropic-*` headers, the translated body with the mapped
//! model), what the client gets back (Anthropic streams and messages naming the model asked
//! for, tool calls, errors with their statuses), failover between kinds inside one request
//! (unsigned thinking removed before an Anthropic attempt), `count_tokens` answered locally,
//! `/v1/models` from the model maps, health tests through the translator, and bad input.

use std::time::Duration;

use qcc::fake::{FakeUpstream, Fault, OpenAiReply, ToolCall};
use serde_json::{Value, json};

use crate::harness::TestEnv;
use crate::harness::daemon::{client, runtime};

/// An `openai` endpoint for `up` in `profile` with `extra` flags; its id.
fn openai_endpoint(env: &TestEnv, profile: &str, url: &str, extra: &[&str]) -> String {
    if !env
        .json(&["profile", "list"])
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == profile)
    {
        env.ok(&["profile", "add", profile]);
    }
    let mut args = vec![
        "endpoint",
        "add",
        profile,
        "--kind",
        "openai",
        "--url",
        url,
        "--key",
        "sk-or-000000000000001",
    ];
    args.extend_from_slice(extra);
    env.json(&args)["id"].as_str().unwrap().to_owned()
}

/// POST `path` with `body` (and `headers`) through the proxy: status, headers, body.
fn post(
    base: &str,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let rt = runtime();
    rt.block_on(async {
        let mut req = client()
            .post(format!("{base}{path}"))
            .header("x-api-key", "sk-client")
            .header("anthropic-version", "2023-06-01")
            .header("anthropic-beta", "interleaved-thinking-2025-05-14")
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(30))
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    })
}

/// The `data` of every event of an Anthropic stream, with its event name.
fn events(stream: &str) -> Vec<(String, Value)> {
    stream
        .split("\n\n")
        .filter_map(|e| {
            let name = e.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = e.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name.to_owned(), serde_json::from_str(data).unwrap()))
        })
        .collect()
}

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream,
           "system": [{"type": "text", "text": "Be brief."}],
           "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn a_stream_is_translated_both_ways_with_the_model_mapped() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_openai("or").unwrap();
    up.set_reply_text("Hello from a chat model.");
    up.set_openai_reply(OpenAiReply {
        reasoning: Some("Thinking it over.".into()),
        cached_tokens: 5,
        ..OpenAiReply::default()
    });
    let id = openai_endpoint(
        &env,
        "cheap",
        &up.url(),
        &[
            "--model",
            "claude-haiku-*=deepseek-chat",
            "--model",
            "*=deepseek-reasoner",
        ],
    );
    let proxy = env.start_proxy();
    let (status, headers, body) = post(
        &proxy.base_url,
        "/v1/messages",
        &ask("claude-haiku-4-5", true),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["x-qcc-endpoint"], id.as_str());
    let ev = events(&body);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert_eq!(
        ev[0].1["message"]["model"], "claude-haiku-4-5",
        "the model asked for"
    );
    assert_eq!(ev[0].1["message"]["content"], json!([]));
    let starts: Vec<&Value> = ev
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(starts[0]["content_block"]["type"], "thinking");
    assert_eq!(starts[1]["content_block"]["type"], "text");
    assert_eq!(starts[1]["index"], 1, "sequential block indices");
    let text: String = ev
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from a chat model.");
    let delta = &ev.iter().find(|(n, _)| n == "message_delta").unwrap().1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["cache_read_input_tokens"], 5);

    // What the fake received: Chat Completions with the mapped model, Bearer, and nothing
    // Anthropic-specific.
    let r = &up.requests()[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some("Bearer sk-or-000000000000001")
    );
    assert!(r.header("x-api-key").is_none());
    assert!(
        r.headers.iter().all(|(n, _)| !n.starts_with("anthropic-")),
        "{:?}",
        r.headers
    );
    let sent: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(sent["model"], "deepseek-chat");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(sent["stream_options"]["include_usage"], true);

    // Status shows both names and the tokens.
    let st = env.endpoint_status(&id);
    assert_eq!(st["kind"], "openai");
    assert_eq!(st["model_asked"], "claude-haiku-4-5");
    assert_eq!(st["model_sent"], "deepseek-chat");
    assert!(st["output_tokens"].as_u64().unwrap() > 0, "{st}");
    let table = env.ok(&["proxy", "status"]);
    assert!(
        table.contains("claude-haiku-4-5 → deepseek-chat (openai)"),
        "{table}"
    );
}

#[test]
fn a_whole_answer_with_tool_calls_then_the_tool_result_round_trip() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_openai("tools").unwrap();
    up.set_reply_text("");
    up.set_openai_reply(OpenAiReply {
        tool_calls: vec![ToolCall::whole(
            "functions.read_file:0",
            "read_file",
            &json!({"path": "src/main.rs"}),
        )],
        ..OpenAiReply::default()
    });
    // The base ends in /v1: the chat path is /chat/completions after it.
    let url = format!("{}/v1", up.url());
    openai_endpoint(&env, "cheap", &url, &["--model", "*=gpt-4.1"]);
    let proxy = env.start_proxy();
    let tools = json!([{"name": "read_file", "description": "Read a file",
                        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]);
    let mut req = ask("claude-sonnet-4-5", false);
    req["tools"] = tools.clone();
    let (status, _, body) = post(&proxy.base_url, "/v1/messages", &req, &[]);
    assert_eq!(status, 200, "{body}");
    let m: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(m["type"], "message");
    assert_eq!(m["model"], "claude-sonnet-4-5");
    assert_eq!(m["stop_reason"], "tool_use");
    let call = &m["content"][0];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["name"], "read_file");
    assert_eq!(call["input"], json!({"path": "src/main.rs"}));
    let call_id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call_id, "toolu_qcc_functions_read_file_0",
        "an id Anthropic accepts, marked as translated"
    );
    assert_eq!(up.requests()[0].path, "/v1/chat/completions");

    // The client runs the tool and sends its result: a `tool` message upstream, after the
    // assistant's call, before the user's text.
    up.set_openai_reply(OpenAiReply::default());
    up.set_reply_text("The file has a main function.");
    let follow = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "tools": tools,
    "messages": [
        {"role": "user", "content": "What is in src/main.rs?"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call_id, "content": "fn main() {}"},
            {"type": "text", "text": "Summarise it."}
        ]}
    ]});
    let (status, _, body) = post(&proxy.base_url, "/v1/messages", &follow, &[]);
    assert_eq!(status, 200, "{body}");
    let m: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(m["content"][0]["text"], "The file has a main function.");
    let sent: Value = serde_json::from_slice(&up.requests()[1].body).unwrap();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool", "user"]);
    let assistant = &sent["messages"][1];
    assert_eq!(assistant["tool_calls"][0]["id"], call_id.as_str());
    assert!(assistant["tool_calls"][0]["function"]["arguments"].is_string());
    assert_eq!(sent["messages"][2]["tool_call_id"], call_id.as_str());
    assert_eq!(sent["tools"][0]["function"]["name"], "read_file");
}

#[test]
fn streamed_tool_call_pieces_arrive_as_one_tool_use_block() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_openai("pieces").unwrap();
    up.set_reply_text("Let me look.");
    let args = json!({"command": "ls -la", "description": "List files"});
    up.set_openai_reply(OpenAiReply {
        tool_calls: vec![
            ToolCall::split("call_1", "Bash", &args),
            ToolCall::whole("call_2", "Read", &json!({"file_path": "/tmp/x"})),
        ],
        finish_with_last_delta: true,
        ..OpenAiReply::default()
    });
    openai_endpoint(&env, "cheap", &up.url(), &[]);
    let proxy = env.start_proxy();
    let (status, _, body) = post(&proxy.base_url, "/v1/messages", &ask("m", true), &[]);
    assert_eq!(status, 200);
    let ev = events(&body);
    // Every delta and stop names an open block; blocks open in order.
    let mut open: Option<u64> = None;
    let mut next = 0;
    let mut json_of: std::collections::BTreeMap<u64, String> = Default::default();
    for (name, d) in &ev {
        match name.as_str() {
            "content_block_start" => {
                assert!(open.is_none(), "a block opened while another was open");
                assert_eq!(d["index"], next);
                open = d["index"].as_u64();
                next += 1;
            }
            "content_block_delta" => {
                assert_eq!(d["index"].as_u64(), open, "{d}");
                if let Some(p) = d["delta"]["partial_json"].as_str() {
                    json_of.entry(open.unwrap()).or_default().push_str(p);
                }
            }
            "content_block_stop" => {
                assert_eq!(d["index"].as_u64(), open);
                open = None;
            }
            _ => {}
        }
    }
    assert_eq!(next, 3, "text, then two tool_use blocks");
    let first: Value = serde_json::from_str(&json_of[&1]).unwrap();
    assert_eq!(first, args);
    let stop = &ev.iter().find(|(n, _)| n == "message_delta").unwrap().1;
    assert_eq!(stop["delta"]["stop_reason"], "tool_use");
}

/// A profile `work` (strategy `ordered`) with an openai endpoint and an Anthropic one, in
/// the order given: (env, openai fake, Anthropic fake, openai id, Anthropic id).
fn mixed(openai_first: bool) -> (TestEnv, FakeUpstream, FakeUpstream, String, String) {
    let env = TestEnv::new();
    let oa = FakeUpstream::spawn_openai("oa").unwrap();
    let an = FakeUpstream::spawn_named("an").unwrap();
    let (oa_id, an_id) = if openai_first {
        let oa_id = openai_endpoint(&env, "work", &oa.url(), &["--model", "*=deepseek-chat"]);
        let an_id = env.endpoint_for("work", &an.url(), "sk-ant-000000000001", "api-key");
        (oa_id, an_id)
    } else {
        let an_id = env.endpoint_for("work", &an.url(), "sk-ant-000000000001", "api-key");
        let oa_id = openai_endpoint(&env, "work", &oa.url(), &["--model", "*=deepseek-chat"]);
        (oa_id, an_id)
    };
    env.ok(&["profile", "edit", "work", "--strategy", "ordered"]);
    (env, oa, an, oa_id, an_id)
}

#[test]
fn errors_keep_their_status_and_failures_fail_over_to_anthropic() {
    // A 400 goes to the client, Anthropic-shaped, status kept; no failover.
    let (env, oa, an, oa_id, _) = mixed(true);
    oa.push_fault(Fault::status(400));
    let proxy = env.start_proxy();
    let (status, headers, body) = post(
        &proxy.base_url,
        "/v1/messages",
        &ask("claude-x", false),
        &[],
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(headers["x-qcc-endpoint"], oa_id.as_str());
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(an.request_count(), 0);
    drop(proxy);

    // OpenAI → Anthropic within one request: a 429, a first error chunk, a reset before
    // headers, a 503 are each a failover.
    for fault in [
        Fault::rate_limited(30),
        Fault::ErrorEvent,
        Fault::ResetBeforeHeaders,
        Fault::status(503),
    ] {
        let (env, oa, an, _, an_id) = mixed(true);
        oa.push_fault(fault.clone());
        let proxy = env.start_proxy();
        let (status, headers, body) =
            post(&proxy.base_url, "/v1/messages", &ask("claude-x", true), &[]);
        assert_eq!(status, 200, "{fault:?}: {body}");
        assert_eq!(headers["x-qcc-endpoint"], an_id.as_str(), "{fault:?}");
        assert_eq!(headers["x-qcc-attempts"], "2", "{fault:?}");
        assert!(body.contains("event: message_stop"), "{fault:?}: {body}");
        assert_eq!(
            (oa.request_count(), an.request_count()),
            (1, 1),
            "{fault:?}"
        );
    }
}

#[test]
fn paths_an_openai_endpoint_does_not_serve_go_to_an_anthropic_one() {
    let (env, oa, an, _, an_id) = mixed(true);
    // More openai endpoints than attempts, all before the Anthropic one: no slot is theirs.
    let more: Vec<FakeUpstream> = (0..3)
        .map(|i| FakeUpstream::spawn_openai(&format!("more{i}")).unwrap())
        .collect();
    for m in &more {
        openai_endpoint(&env, "work", &m.url(), &[]);
    }
    env.edit_config(|c| {
        let p = c.profiles.iter_mut().find(|p| p.name == "work").unwrap();
        let anthropic = p.endpoints.remove(1);
        p.endpoints.push(anthropic);
    });
    let proxy = env.start_proxy();
    let (status, headers, body) = post(
        &proxy.base_url,
        "/v1/messages/batches",
        &json!({"requests": []}),
        &[],
    );
    // The Anthropic fake has no batches API: its own 404 comes back, from it.
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("req_an_1"), "{body}");
    assert_eq!(headers["x-qcc-endpoint"], an_id.as_str());
    assert_eq!(headers["x-qcc-attempts"], "1", "skips are not attempts");
    assert_eq!(oa.request_count(), 0);
    assert_eq!(an.requests()[0].path, "/v1/messages/batches");
    // count_tokens with an openai endpoint first: answered at once, locally.
    let (status, headers, _) = post(
        &proxy.base_url,
        "/v1/messages/count_tokens",
        &json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]}),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(headers["x-qcc-estimate"], "chars/4");
    assert_eq!(an.request_count(), 1);
}

#[test]
fn anthropic_fails_over_to_openai_inside_one_request() {
    let (env, oa, an, oa_id, _) = mixed(false);
    an.push_fault(Fault::status(529));
    oa.set_reply_text("Translated answer.");
    let proxy = env.start_proxy();
    let (status, headers, body) = post(
        &proxy.base_url,
        "/v1/messages",
        &ask("claude-sonnet-4-5", true),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-qcc-endpoint"], oa_id.as_str());
    assert_eq!(headers["x-qcc-attempts"], "2");
    let text: String = events(&body)
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "Translated answer.");
    assert!(body.contains("event: message_stop"));
    let sent: Value = serde_json::from_slice(&oa.requests()[0].body).unwrap();
    assert_eq!(
        sent["model"], "deepseek-chat",
        "the body rebuilt for this attempt"
    );
}

#[test]
fn openai_fails_over_to_anthropic_without_the_unsigned_thinking() {
    let (env, oa, an, _, an_id) = mixed(true);
    oa.set_default_fault(Fault::status(503));
    let proxy = env.start_proxy();
    // The conversation so far: a signed thinking block from an Anthropic endpoint, and an
    // unsigned one translated from the chat model's reasoning.
    // The last turn is a tool loop with thinking on: once the unsigned block goes, the turn
    // no longer starts with a thinking block, so `thinking` goes for this request too.
    let turn = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "messages": [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "signed", "signature": "EqQBCkYIBxgCKkD"},
            {"type": "text", "text": "first"}]},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "from the chat model", "signature": ""},
            {"type": "text", "text": "second"},
            {"type": "tool_use", "id": "toolu_qcc_call_1", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_qcc_call_1", "content": "a.txt"}]}
    ]});
    let (status, headers, body) = post(&proxy.base_url, "/v1/messages", &turn, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-qcc-endpoint"], an_id.as_str());
    assert_eq!(headers["x-qcc-attempts"], "2");
    let got: Value = serde_json::from_slice(&an.requests()[0].body).unwrap();
    let thinking: Vec<&str> = got["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .filter(|b| b["type"] == "thinking")
        .map(|b| b["thinking"].as_str().unwrap())
        .collect();
    assert_eq!(thinking, ["signed"]);
    assert_eq!(got["messages"][3]["content"][0]["text"], "second");
    assert!(got.get("thinking").is_none(), "{got}");
    // A conversation with no translated turn goes byte for byte.
    let plain = ask("claude-sonnet-4-5", true);
    let (status, _, _) = post(&proxy.base_url, "/v1/messages", &plain, &[]);
    assert_eq!(status, 200);
    assert_eq!(an.requests()[1].body, plain.to_string().as_bytes());
}

#[test]
fn a_stream_cut_after_it_started_ends_with_an_error_event() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_openai("cut").unwrap();
    let id = openai_endpoint(&env, "cheap", &up.url(), &[]);
    let proxy = env.start_proxy();
    for fault in [Fault::EndWithoutDone, Fault::DieAfterEvents(2)] {
        up.push_fault(fault.clone());
        let (status, _, body) = post(&proxy.base_url, "/v1/messages", &ask("m", true), &[]);
        assert_eq!(status, 200, "{fault:?}");
        let ev = events(&body);
        assert_eq!(ev[0].0, "message_start", "{fault:?}: {body}");
        assert_eq!(ev.last().unwrap().0, "error", "{fault:?}: {body}");
        assert!(!body.contains("message_stop"), "{fault:?}: not a clean end");
    }
    let st = env.endpoint_status(&id);
    assert_eq!(st["errors"], 2, "{st}");
    // The daemon serves on.
    let (status, _, body) = post(&proxy.base_url, "/v1/messages", &ask("m", true), &[]);
    assert_eq!(status, 200);
    assert!(body.contains("message_stop"));
}

#[test]
fn count_tokens_is_estimated_locally_and_models_come_from_the_maps() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_openai("ct").unwrap();
    openai_endpoint(
        &env,
        "cheap",
        &up.url(),
        &[
            "--model",
            "claude-haiku-4-5=deepseek-chat",
            "--model",
            "*=deepseek-reasoner",
        ],
    );
    let proxy = env.start_proxy();
    let (status, headers, body) = post(
        &proxy.base_url,
        "/v1/messages/count_tokens",
        &json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "x".repeat(400)}]}),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-qcc-estimate"], "chars/4");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["input_tokens"],
        100 + 1 + 4,
        "400 chars, the role, one message"
    );
    assert_eq!(up.request_count(), 0, "never a billed call");

    let rt = runtime();
    let (status, body) = rt.block_on(async {
        let r = client()
            .get(format!("{}/v1/models", proxy.base_url))
            .header("x-api-key", "sk-client")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["claude-haiku-4-5", "deepseek-chat", "deepseek-reasoner"]
    );
    assert_eq!(v["data"][0]["type"], "model");
    assert_eq!(v["has_more"], false);
    // Other paths skip an openai endpoint: nothing else can take it here.
    let (status, _, body) = post(&proxy.base_url, "/v1/messages/batches", &json!({}), &[]);
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("no endpoint serves /v1/messages/batches"),
        "{body}"
    );
    assert_eq!(up.request_count(), 0);
}

#[test]
fn health_test_checks_the_nonce_on_the_translated_answer() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_openai("probe").unwrap();
    up.set_echo_nonce(true);
    let id = openai_endpoint(&env, "cheap", &up.url(), &["--model", "*=deepseek-chat"]);
    let v = env.json(&["health", "test", "--profile", "cheap"]);
    let r = &v.as_array().unwrap()[0];
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["passed"], true, "{r}");
    assert_eq!(r["model_asked"], "deepseek-chat");
    let sent: Value = serde_json::from_slice(&up.requests()[0].body).unwrap();
    assert_eq!(sent["model"], "deepseek-chat");
    assert_eq!(up.requests()[0].path, "/v1/chat/completions");
    // A service that does not echo fails the test (and says why).
    up.set_echo_nonce(false);
    up.set_reply_text("I cannot do that.");
    let out = env.run(&["health", "test", "--profile", "cheap", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["passed"], false);
    assert!(v[0]["reason"].as_str().unwrap().contains("nonce"), "{v}");
}

#[test]
fn kinds_and_chat_paths_are_checked_and_nothing_is_written_on_error() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "cheap"]);
    let before = env.snapshot();
    for (args, says) in [
        (
            vec!["--kind", "openai", "--auth", "api-key"],
            "sends its key as Authorization: Bearer",
        ),
        (
            vec!["--chat-path", "/chat/completions"],
            "only openai endpoints",
        ),
        (
            vec!["--kind", "openai", "--chat-path", "chat"],
            "must start with '/'",
        ),
        (vec!["--kind", "gemini"], "invalid value 'gemini'"),
    ] {
        let mut full = vec![
            "endpoint",
            "add",
            "cheap",
            "--url",
            "https://openrouter.example/api",
            "--key",
            "sk-000000000001",
        ];
        full.extend(args.iter().copied());
        let err = env.fail(2, &full);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(env.snapshot(), before, "{args:?}: nothing written");
    }
    // The default path, and --chat-path, shown in list --json; edit changes the kind.
    let id = openai_endpoint(&env, "cheap", "https://openrouter.example/api", &[]);
    let glm = openai_endpoint(
        &env,
        "cheap",
        "https://glm.example/api/paas/v4",
        &["--chat-path", "/chat/completions"],
    );
    let list = env.json(&["endpoint", "list", "cheap"]);
    let get = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(get(&id)["kind"], "openai");
    assert_eq!(get(&id)["auth"], "bearer");
    assert_eq!(get(&id)["chat_path"], "/v1/chat/completions");
    assert_eq!(get(&glm)["chat_path"], "/chat/completions");
    let table = env.ok(&["endpoint", "list", "cheap"]);
    assert!(
        table.contains("KIND") && table.contains("openai"),
        "{table}"
    );
    env.ok(&["endpoint", "edit", "cheap", &glm, "--kind", "anthropic"]);
    let e = env.json(&["endpoint", "list", "cheap"]);
    let e = e
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == glm.as_str())
        .unwrap();
    assert_eq!(e["kind"], "anthropic");
    assert!(e.get("chat_path").is_none(), "{e}");
    // A config edited by hand into a bad pairing is refused whole.
    let err = env.fail(2, &["endpoint", "edit", "cheap", &id, "--auth", "api-key"]);
    assert!(err.contains("Bearer"), "{err}");
}
