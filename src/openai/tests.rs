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

mod stream {
    use serde_json::{Value, json};

    use crate::openai::ToolNames;
    use crate::openai::stream::Translator;

    fn sse(chunks: &[Value]) -> Vec<u8> {
        let mut s = String::new();
        for c in chunks {
            s.push_str(&format!("data: {c}\n\n"));
        }
        s.push_str("data: [DONE]\n\n");
        s.into_bytes()
    }

    /// Feed `bytes` in pieces of `step` and parse the events that come out.
    fn run(bytes: &[u8], step: usize) -> (Vec<Value>, bool) {
        let mut t = Translator::new("claude-sonnet-4-5", ToolNames::default());
        let mut out = Vec::new();
        for piece in bytes.chunks(step) {
            out.extend(t.feed(piece));
        }
        let clean = match t.end() {
            Ok(rest) => {
                out.extend(rest);
                true
            }
            Err(rest) => {
                out.extend(rest);
                false
            }
        };
        let text = String::from_utf8(out).expect("whole UTF-8");
        let parsed = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                serde_json::from_str::<Value>(data).unwrap()
            })
            .collect();
        (parsed, clean)
    }

    /// The event grammar a client relies on: start first, sequential block indices, deltas
    /// only to the open block, a stop before the next start, delta and stop last.
    fn check_grammar(events: &[Value]) {
        assert_eq!(events[0]["type"], "message_start");
        assert_eq!(events[0]["message"]["content"], json!([]));
        let mut open: Option<u64> = None;
        let mut next = 0;
        for e in &events[1..events.len() - 2] {
            match e["type"].as_str().unwrap() {
                "content_block_start" => {
                    assert!(open.is_none(), "a block opened inside another: {e}");
                    assert_eq!(e["index"], next);
                    open = Some(next);
                    next += 1;
                }
                "content_block_delta" => assert_eq!(e["index"].as_u64(), open, "{e}"),
                "content_block_stop" => {
                    assert_eq!(e["index"].as_u64(), open, "{e}");
                    open = None;
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert!(open.is_none());
        assert_eq!(events[events.len() - 2]["type"], "message_delta");
        assert_eq!(events[events.len() - 1]["type"], "message_stop");
    }

    fn text_of(events: &[Value], kind: &str, field: &str) -> String {
        events
            .iter()
            .filter(|e| e["delta"]["type"] == kind)
            .filter_map(|e| e["delta"][field].as_str())
            .collect()
    }

    #[test]
    fn reasoning_text_and_usage_in_any_chunking() {
        let bytes = sse(&[
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Let me "}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"reasoning_content": "think."}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "Grüße, "}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"reasoning_content": "late"}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "世界"}, "finish_reason": "stop"}]}),
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 20}}}),
        ]);
        for step in [1, 3, 7, bytes.len()] {
            let (events, clean) = run(&bytes, step);
            assert!(clean);
            check_grammar(&events);
            assert_eq!(
                text_of(&events, "thinking_delta", "thinking"),
                "Let me think."
            );
            assert_eq!(
                text_of(&events, "text_delta", "text"),
                "Grüße, 世界",
                "step {step}"
            );
            let delta = &events[events.len() - 2];
            assert_eq!(delta["delta"]["stop_reason"], "end_turn");
            assert_eq!(delta["usage"]["input_tokens"], 30);
            assert_eq!(delta["usage"]["cache_read_input_tokens"], 20);
            assert_eq!(delta["usage"]["output_tokens"], 9);
            assert_eq!(events[0]["message"]["model"], "claude-sonnet-4-5");
        }
    }

    #[test]
    fn tool_calls_in_pieces_open_once_known_and_none_is_lost() {
        let bytes = sse(&[
            json!({"choices": [{"delta": {"content": "Running it."}}]}),
            // Arguments before the id and name: held until the block can open.
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"comm"}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "Bash", "arguments": "and\":"}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]}}]}),
            // A second call in one piece (as OpenRouter sends them).
            json!({"choices": [{"delta": {"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "Read", "arguments": "{\"path\":\"a\"}"}}]}}]}),
            // A third whose name never came before the finish: opened at the end.
            json!({"choices": [{"delta": {"tool_calls": [{"index": 2, "id": "call_c", "function": {"arguments": "{}"}}]}, "finish_reason": "tool_calls"}]}),
        ]);
        let (events, clean) = run(&bytes, 5);
        assert!(clean);
        check_grammar(&events);
        let starts: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "content_block_start")
            .map(|e| &e["content_block"])
            .collect();
        assert_eq!(starts[0]["type"], "text");
        assert_eq!(
            starts[1],
            &json!({"type": "tool_use", "id": "toolu_qcc_call_a", "name": "Bash", "input": {}})
        );
        assert_eq!(starts[2]["id"], "toolu_qcc_call_b");
        assert_eq!(starts[3]["id"], "toolu_qcc_call_c");
        let args: Vec<String> = (1..=3)
            .map(|i| {
                events
                    .iter()
                    .filter(|e| e["index"] == i && e["delta"]["type"] == "input_json_delta")
                    .filter_map(|e| e["delta"]["partial_json"].as_str())
                    .collect()
            })
            .collect();
        assert_eq!(args, ["{\"command\":\"ls\"}", "{\"path\":\"a\"}", "{}"]);
        assert_eq!(events[events.len() - 2]["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn a_stream_cut_short_is_an_error_and_a_finish_without_done_is_not() {
        let full = sse(&[json!({"choices": [{"delta": {"content": "partial"}}]})]);
        let cut = &full[..full.len() - "data: [DONE]\n\n".len()];
        let (events, clean) = run(cut, 4);
        assert!(!clean);
        assert_eq!(events.last().unwrap()["type"], "error");

        let finished =
            sse(&[json!({"choices": [{"delta": {"content": "ok"}, "finish_reason": "length"}]})]);
        let no_done = &finished[..finished.len() - "data: [DONE]\n\n".len()];
        let (events, clean) = run(no_done, 64);
        assert!(clean);
        check_grammar(&events);
        assert_eq!(
            events[events.len() - 2]["delta"]["stop_reason"],
            "max_tokens"
        );

        let failed = b"data: {\"error\":{\"message\":\"quota exceeded\"}}\n\n";
        let (events, _) = run(failed, 8);
        assert_eq!(events.last().unwrap()["error"]["message"], "quota exceeded");
    }
}

#[test]
fn tool_ids_become_ones_anthropic_accepts_marked_and_unique() {
    use crate::openai::tool_id;
    assert_eq!(
        tool_id(Some("functions.get_weather:0"), "x"),
        "toolu_qcc_functions_get_weather_0"
    );
    assert_eq!(tool_id(Some("call_Ab-9"), "x"), "toolu_qcc_call_Ab-9");
    assert_eq!(
        tool_id(Some("toolu_qcc_call_1"), "x"),
        "toolu_qcc_call_1",
        "not marked twice"
    );
    assert_eq!(tool_id(None, "chat7_0"), "toolu_qcc_chat7_0");
    let answer = serde_json::json!({"id": "c9", "choices": [{"message": {"tool_calls": [
        {"id": "functions.ls:1", "type": "function", "function": {"name": "ls", "arguments": "{}"}},
        {"id": "", "type": "function", "function": {"name": "ls", "arguments": "{}"}},
        {"type": "function", "function": {"name": "ls", "arguments": "{}"}}
    ]}, "finish_reason": "tool_calls"}]});
    let m = crate::openai::response::from_chat(&answer, "m", &Default::default());
    let ids: Vec<&str> = m["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "toolu_qcc_functions_ls_1",
            "toolu_qcc_c9_1",
            "toolu_qcc_c9_2"
        ]
    );
}

#[test]
fn translated_conversations_are_recognised_by_their_marks_only() {
    use crate::openai::request::may_hold_translated;
    assert!(may_hold_translated(
        br#"{"type":"thinking","thinking":"x","signature":""}"#
    ));
    assert!(may_hold_translated(
        br#"{"type": "thinking", "signature": ""}"#
    ));
    assert!(may_hold_translated(
        br#"{"type":"tool_use","id":"toolu_qcc_call_1"}"#
    ));
    // Thinking switched on, signed blocks, Anthropic's own ids: not translated.
    assert!(!may_hold_translated(
        br#"{"thinking":{"type":"enabled","budget_tokens":8000},"messages":[{"content":[{"type":"thinking","signature":"EqQB"},{"type":"tool_use","id":"toolu_01AbC"}]}]}"#
    ));
}

#[test]
fn a_tool_loop_without_a_signed_first_block_loses_the_thinking_parameter() {
    let turn = |first: serde_json::Value| {
        serde_json::json!({"model": "m", "thinking": {"type": "enabled", "budget_tokens": 4000},
        "messages": [
            {"role": "user", "content": "ls"},
            {"role": "assistant", "content": [first,
                {"type": "tool_use", "id": "toolu_qcc_call_1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_qcc_call_1", "content": "a"}]}
        ]})
    };
    let strip = |v: serde_json::Value| {
        crate::openai::request::strip_unsigned_thinking(v.to_string().as_bytes())
            .map(|b| serde_json::from_slice::<serde_json::Value>(&b).unwrap())
    };
    // The translated turn's unsigned thinking goes, and so does `thinking` for this request.
    let out = strip(turn(
        serde_json::json!({"type": "thinking", "thinking": "t", "signature": ""}),
    ))
    .unwrap();
    assert!(out.get("thinking").is_none());
    assert_eq!(out["messages"][1]["content"][0]["type"], "tool_use");
    // A translated turn with no reasoning at all: the same.
    let out = strip(turn(
        serde_json::json!({"type": "text", "text": "Let me look."}),
    ))
    .unwrap();
    assert!(out.get("thinking").is_none());
    // A signed first block: nothing changes.
    assert!(
        strip(turn(
            serde_json::json!({"type": "thinking", "thinking": "t", "signature": "EqQB"})
        ))
        .is_none()
    );
}

#[test]
fn unsigned_thinking_is_stripped_signed_kept() {
    let body = serde_json::json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "translated", "signature": ""},
            {"type": "thinking", "thinking": "no signature at all"},
            {"type": "thinking", "thinking": "signed", "signature": "EqQBCkYIBx"},
            {"type": "text", "text": "answer"}
        ]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "alone"}]}
    ]});
    let out = crate::openai::request::strip_unsigned_thinking(body.to_string().as_bytes()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let kept = &v["messages"][1]["content"];
    assert_eq!(kept.as_array().unwrap().len(), 2);
    assert_eq!(kept[0]["signature"], "EqQBCkYIBx");
    assert_eq!(
        v["messages"][2]["content"][0]["type"], "text",
        "never an empty turn"
    );
    // Nothing to strip: the body goes as it is.
    let signed = serde_json::json!({"messages": [{"role": "assistant", "content": [
        {"type": "thinking", "thinking": "x", "signature": "s"}]}]});
    assert!(
        crate::openai::request::strip_unsigned_thinking(signed.to_string().as_bytes()).is_none()
    );
    assert!(crate::openai::request::strip_unsigned_thinking(b"{\"messages\":[]}").is_none());
}

/// Golden files in tests/fixtures/openai/: an Anthropic request with every pitfall of
/// docs/openai.md → the Chat Completions request; a chunk sequence → the Anthropic events
/// (the same whatever the chunking); a whole answer → the Anthropic message. After a
/// reviewed change: `QCC_REGENERATE=1 cargo test --lib golden` rewrites the expected files.
mod golden {
    use std::path::PathBuf;

    use serde_json::Value;

    use crate::openai::stream::Translator;

    fn path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/openai")
            .join(name)
    }

    fn read(name: &str) -> String {
        std::fs::read_to_string(path(name)).unwrap()
    }

    fn check(name: &str, actual: &str) {
        if std::env::var_os("QCC_REGENERATE").is_some() {
            std::fs::write(path(name), actual).unwrap();
            return;
        }
        let expected = read(name);
        assert!(
            expected == actual,
            "{name} differs; after review: QCC_REGENERATE=1 cargo test --lib golden\n\
             --- expected\n{expected}\n--- actual\n{actual}"
        );
    }

    #[test]
    fn request_translation() {
        let anthropic: Value = serde_json::from_str(&read("request.anthropic.json")).unwrap();
        let (chat, names) = crate::openai::request::to_chat(&anthropic, "deepseek-chat").unwrap();
        check(
            "request.chat.json",
            &(serde_json::to_string_pretty(&chat).unwrap() + "\n"),
        );
        // The shortened name maps back.
        let long = "mcp__a_very_long_server_name_for_testing__and_an_even_longer_tool_name_here";
        let sent = chat["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap())
            .find(|n| n.starts_with("mcp__"))
            .unwrap();
        assert!(sent.len() <= crate::openai::MAX_TOOL_NAME);
        assert_eq!(names.original(sent), long);
    }

    #[test]
    fn stream_translation_in_any_chunking() {
        let input = read("stream.chunks.sse");
        let bytes = input.as_bytes();
        let mut outputs = Vec::new();
        for step in [1, 7, 64, bytes.len()] {
            let mut t = Translator::new("claude-sonnet-4-5", Default::default());
            let mut out = Vec::new();
            for piece in bytes.chunks(step) {
                out.extend(t.feed(piece));
            }
            out.extend(t.end().unwrap());
            assert!(t.is_ended() && !t.is_failed());
            outputs.push(String::from_utf8(out).unwrap());
        }
        assert!(
            outputs.windows(2).all(|w| w[0] == w[1]),
            "chunking changed the events"
        );
        check("stream.events.sse", &outputs[0]);
    }

    #[test]
    fn whole_answer_translation() {
        let answer: Value = serde_json::from_str(&read("answer.chat.json")).unwrap();
        let m =
            crate::openai::response::from_chat(&answer, "claude-sonnet-4-5", &Default::default());
        check(
            "answer.anthropic.json",
            &(serde_json::to_string_pretty(&m).unwrap() + "\n"),
        );
    }
}
