//! The translation against the mapping's pitfalls (docs/openai.md), one test per concern.

use serde_json::{Value, json};

use crate::openai::request::to_chat;
use crate::openai::response::{from_chat, stop_reason, usage};
use crate::openai::{MAX_TOOL_NAME, ToolNames, error};

fn chat(body: Value) -> Value {
    to_chat(&body, "deepseek-chat").unwrap().0
}

#[test]
fn system_blocks_become_one_system_message_without_the_attribution_line() {
    let c = chat(json!({
        "model": "claude-sonnet-4-5", "max_tokens": 10,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Be brief."}
        ],
        "messages": [{"role": "user", "content": "hi"}]
    }));
    assert_eq!(c["model"], "deepseek-chat");
    assert_eq!(c["max_tokens"], 10);
    assert_eq!(
        c["messages"],
        json!([
            {"role": "system", "content": "You are Claude Code.\nBe brief."},
            {"role": "user", "content": "hi"}
        ])
    );
}

#[test]
fn tool_calls_carry_string_arguments_and_results_come_first_in_their_turn() {
    let c = chat(json!({
        "model": "m", "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
            ]},
            {"role": "user", "content": [
                {"type": "text", "text": "here you are"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": true,
                 "content": [{"type": "text", "text": "denied"},
                             {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}]}
            ]}
        ]
    }));
    let m = c["messages"].as_array().unwrap();
    assert_eq!(m[1]["content"], Value::Null, "only calls: content null");
    assert_eq!(
        m[1]["tool_calls"][0]["function"]["arguments"],
        "{\"command\":\"ls\"}"
    );
    assert!(m[1]["tool_calls"][0]["function"]["arguments"].is_string());
    assert_eq!(
        m[2],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "Error: denied"})
    );
    assert_eq!(
        m[3]["content"][0]["image_url"]["url"],
        "data:image/png;base64,AAA"
    );
    assert_eq!(m[4], json!({"role": "user", "content": "here you are"}));
    assert_eq!(m.len(), 5, "thinking dropped: {m:?}");
}

#[test]
fn tools_always_have_a_schema_type_and_server_tools_and_their_choice_go() {
    let c = chat(json!({
        "model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
        "tools": [
            {"name": "Read", "description": "read a file", "input_schema": {"properties": {"path": {"type": "string"}}}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
        ],
        "tool_choice": {"type": "tool", "name": "web_search"}
    }));
    assert_eq!(c["tools"].as_array().unwrap().len(), 1);
    assert_eq!(c["tools"][0]["function"]["parameters"]["type"], "object");
    assert_eq!(c["tools"][0]["function"]["description"], "read a file");
    assert!(c.get("tool_choice").is_none(), "{c}");

    for (choice, want) in [
        (json!({"type": "auto"}), json!("auto")),
        (json!({"type": "any"}), json!("required")),
        (json!({"type": "none"}), json!("none")),
        (
            json!({"type": "tool", "name": "Read"}),
            json!({"type": "function", "function": {"name": "Read"}}),
        ),
    ] {
        let c = chat(json!({
            "model": "m", "max_tokens": 1, "messages": [],
            "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
            "tool_choice": choice
        }));
        assert_eq!(c["tool_choice"], want);
    }
    let c = chat(json!({
        "model": "m", "max_tokens": 1, "messages": [],
        "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}
    }));
    assert_eq!(c["parallel_tool_calls"], false);
}

#[test]
fn long_tool_names_are_shortened_stably_and_mapped_back() {
    let long = "mcp__some_server_with_a_long_name__and_a_tool_whose_name_is_long_too_x";
    let (c, names) = to_chat(
        &json!({"model": "m", "max_tokens": 1, "messages": [],
                "tools": [{"name": long, "input_schema": {"type": "object"}}]}),
        "m",
    )
    .unwrap();
    let short = c["tools"][0]["function"]["name"].as_str().unwrap();
    assert!(short.chars().count() <= MAX_TOOL_NAME, "{short}");
    assert_eq!(ToolNames::default().shorten(long), short, "stable");
    assert_eq!(names.original(short), long);
    let answer = json!({"id": "c1", "choices": [{"finish_reason": "tool_calls", "message": {
        "content": null,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": short, "arguments": "{\"a\":1}"}}]}}]});
    let m = from_chat(&answer, "claude-x", &names);
    assert_eq!(m["content"][0]["name"], long);
    assert_eq!(m["content"][0]["input"], json!({"a": 1}));
    assert_eq!(m["stop_reason"], "tool_use");
}

#[test]
fn sampling_stops_user_and_stream_usage_are_carried() {
    let c = chat(json!({
        "model": "m", "max_tokens": 5, "temperature": 0.2, "top_p": 0.9, "top_k": 3,
        "stop_sequences": ["a", "b", "c", "d", "e"],
        "metadata": {"user_id": "u-1"}, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
            {"type": "text", "text": "what is it?"}]}]
    }));
    assert_eq!(
        (c["temperature"].clone(), c["top_p"].clone()),
        (json!(0.2), json!(0.9))
    );
    assert_eq!(c["stop"], json!(["a", "b", "c", "d"]));
    assert_eq!(c["user"], "u-1");
    assert_eq!(c["stream_options"], json!({"include_usage": true}));
    assert!(c.get("top_k").is_none() && c.get("thinking").is_none());
    assert_eq!(
        c["messages"][0]["content"][0]["image_url"]["url"],
        "https://x/y.png"
    );
    assert_eq!(
        c["messages"][0]["content"][1],
        json!({"type": "text", "text": "what is it?"})
    );
}

#[test]
fn the_claude_code_fixture_translates() {
    let body: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/claude_code_like_request.json"
    )))
    .unwrap();
    let (c, _) = to_chat(&body, "glm-4.6").unwrap();
    assert_eq!(c["messages"][0]["role"], "system");
    assert!(
        !c["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("x-anthropic-billing-header")
    );
    for t in c["tools"].as_array().into_iter().flatten() {
        assert!(t["function"]["parameters"]["type"].is_string(), "{t}");
    }
    assert!(to_chat(&json!([]), "m").is_err());
    assert!(to_chat(&json!({"model": "m"}), "m").is_err());
}

#[test]
fn answers_keep_order_stop_reasons_and_count_cached_tokens_apart() {
    let answer = json!({
        "id": "chatcmpl-1", "model": "deepseek-chat",
        "choices": [{"finish_reason": "stop", "message": {
            "role": "assistant", "reasoning_content": "think", "content": "hello"}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 7,
                  "prompt_tokens_details": {"cached_tokens": 60}}
    });
    let m = from_chat(&answer, "claude-sonnet-4-5", &ToolNames::default());
    assert_eq!(m["id"], "msg_chatcmpl-1");
    assert_eq!(m["model"], "claude-sonnet-4-5");
    assert_eq!(m["content"][0]["type"], "thinking");
    assert_eq!(m["content"][1], json!({"type": "text", "text": "hello"}));
    assert_eq!(m["stop_reason"], "end_turn");
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 40, "output_tokens": 7, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 0})
    );
    assert_eq!(stop_reason(Some("length"), false), "max_tokens");
    assert_eq!(
        stop_reason(Some("tool_calls"), false),
        "end_turn",
        "no call: no wait"
    );
    assert_eq!(stop_reason(Some("content_filter"), false), "refusal");
    assert_eq!(usage(None)["input_tokens"], 0);
    // Arguments that are not JSON keep the answer.
    let bad = json!({"choices": [{"finish_reason": "tool_calls", "message": {"tool_calls": [
        {"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}}]});
    let m = from_chat(&bad, "m", &ToolNames::default());
    assert_eq!(m["content"][0]["input"], json!({"arguments": "{oops"}));
}

#[test]
fn errors_keep_their_status_meaning_and_anthropic_ones_pass() {
    let e: Value = serde_json::from_slice(&error::to_anthropic(
        429,
        br#"{"error":{"message":"slow down","type":"rate_limit","code":"429"}}"#,
    ))
    .unwrap();
    assert_eq!(
        e,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    );
    let native = br#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#;
    assert_eq!(error::to_anthropic(529, native), native.to_vec());
    let e: Value = serde_json::from_slice(&error::to_anthropic(502, b"Bad Gateway")).unwrap();
    assert_eq!(
        e["error"],
        json!({"type": "api_error", "message": "Bad Gateway"})
    );
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (500, "api_error"),
        (503, "overloaded_error"),
    ] {
        assert_eq!(error::error_type(status), kind);
    }
}
