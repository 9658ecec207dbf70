//! Tests of the fake's OpenAI mode over real HTTP with reqwest: the whole and streamed
//! chat completion shapes, routes, scripted reasoning and tool calls, every fault in
//! OpenAI's shapes, `EndWithoutDone`, nonce echo and the renamed model.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::tests::{WAIT, body_json, client, error_chain, header, post, post_result, read_all};
use super::{FakeUpstream, Fault, OpenAiReply, Protocol, ToolCall};

const CHAT: &str = "/v1/chat/completions";

/// A Chat Completions body; streamed ones ask for usage, as qcc's translation does.
fn chat_body(stream: bool, text: &str) -> String {
    let mut body = json!({
        "model": "gpt-test-4",
        "max_tokens": 64,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": text},
        ],
    });
    if stream {
        body["stream"] = true.into();
        body["stream_options"] = json!({"include_usage": true});
    }
    body.to_string()
}

/// The payload of each `data:` line; every event is one `data:` line and nothing else.
fn data_lines(text: &str) -> Vec<&str> {
    assert!(text.is_empty() || text.ends_with("\n\n"), "{text:?}");
    let blocks = text.split("\n\n").filter(|block| !block.is_empty());
    blocks
        .map(|block| {
            assert!(!block.contains('\n'), "one line per event: {block:?}");
            block.strip_prefix("data: ").expect("a data: line")
        })
        .collect()
}

/// The chunks of a stream that must end in `[DONE]` (which is left out).
fn done_chunks(text: &str) -> Vec<Value> {
    let lines = data_lines(text);
    assert_eq!(lines.last(), Some(&"[DONE]"), "{text}");
    assert_eq!(lines.iter().filter(|l| **l == "[DONE]").count(), 1);
    parse_all(&lines[..lines.len() - 1])
}

fn parse_all(lines: &[&str]) -> Vec<Value> {
    let parse = |line: &&str| serde_json::from_str(line).expect("chunk JSON");
    lines.iter().map(parse).collect()
}

fn delta_text(chunks: &[Value], field: &str) -> String {
    let pieces = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"][field].as_str());
    pieces.collect()
}

async fn stream_text(fake: &FakeUpstream, path: &str, body: String) -> String {
    let response = post(fake, path, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    let (text, end) = read_all(response).await;
    end.expect("clean end of stream");
    assert!(
        !text.contains("event:"),
        "OpenAI streams have no event lines"
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn answers_whole_with_a_chat_completion() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    assert_eq!(fake.protocol(), Protocol::OpenAi);
    fake.set_reply_text("Custom words here.");
    let body = chat_body(false, "hi");
    let response = client()
        .post(format!("{}{CHAT}", fake.url()))
        .bearer_auth("sk-test-123")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert_eq!(header(&response, "x-request-id"), Some("req_oa_1"));
    assert_eq!(
        header(&response, "x-ratelimit-remaining-requests"),
        Some("999")
    );
    assert_eq!(header(&response, "request-id"), None);
    assert_eq!(
        header(&response, "anthropic-ratelimit-requests-remaining"),
        None
    );
    let answer = body_json(response).await;
    assert_eq!(answer["id"], "chatcmpl-fake-1");
    assert_eq!(answer["object"], "chat.completion");
    assert!(answer["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(answer["model"], "gpt-test-4");
    assert_eq!(
        answer["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": "Custom words here."},
                "finish_reason": "stop"}])
    );
    let prompt = body.len() as u64 / 4;
    assert_eq!(
        answer["usage"],
        json!({"prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3,
               "prompt_tokens_details": {"cached_tokens": 0}})
    );
    let seen = &fake.requests()[0];
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("POST", CHAT));
    assert_eq!(seen.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(seen.body, body.as_bytes());
    assert_eq!(seen.fault, Fault::None);
    assert_eq!(fake.events_sent(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn streams_chunks_then_the_usage_chunk_then_done() {
    let fake = FakeUpstream::spawn_openai("beta").unwrap();
    fake.set_openai_reply(OpenAiReply {
        cached_tokens: 12,
        ..OpenAiReply::default()
    });
    let body = chat_body(true, "hi");
    let text = stream_text(&fake, CHAT, body.clone()).await;
    let chunks = done_chunks(&text);
    // role, "Hello" " from" " beta.", finish, usage
    assert_eq!(chunks.len(), 6, "{text}");
    for chunk in &chunks {
        assert_eq!(chunk["id"], "chatcmpl-fake-1");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "gpt-test-4");
        assert!(chunk["created"].is_u64());
    }
    assert_eq!(
        chunks[0]["choices"],
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""},
                "finish_reason": null}])
    );
    let pieces: Vec<&str> = (chunks[1..4].iter())
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(pieces, ["Hello", " from", " beta."]);
    assert_eq!(
        chunks[4]["choices"],
        json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])
    );
    for chunk in &chunks[..5] {
        assert!(chunk["usage"].is_null() && chunk.get("usage").is_some());
    }
    let prompt = body.len() as u64 / 4 + 12;
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(
        chunks[5]["usage"],
        json!({"prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3,
               "prompt_tokens_details": {"cached_tokens": 12}})
    );
    assert!(fake.wait_until(WAIT, |s| s.completed == 1 && s.events_sent == 7));
    assert_eq!(fake.disconnects(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn without_include_usage_a_stream_has_no_usage() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    let mut body: Value = serde_json::from_str(&chat_body(true, "hi")).unwrap();
    body.as_object_mut().unwrap().remove("stream_options");
    let chunks = done_chunks(&stream_text(&fake, CHAT, body.to_string()).await);
    assert_eq!(chunks.len(), 5);
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(delta_text(&chunks, "content"), "Hello from oa.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn serves_chat_under_any_base_and_models_and_404s_the_rest() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    for path in [CHAT, "/chat/completions", "/api/openai/v1/chat/completions"] {
        let answer = body_json(post(&fake, path, chat_body(false, "hi")).await).await;
        assert_eq!(answer["object"], "chat.completion", "{path}");
    }
    for path in ["/v1/models", "/models"] {
        let models = client().get(format!("{}{path}", fake.url())).send();
        assert_eq!(
            body_json(models.await.unwrap()).await,
            json!({"object": "list", "data": [{"id": "gpt-fake-1", "object": "model",
                   "created": 1_700_000_000, "owned_by": "qcc-fake"}]})
        );
    }
    let anthropic = post(&fake, "/v1/messages", chat_body(false, "hi")).await;
    assert_eq!(anthropic.status(), 404);
    assert_eq!(
        body_json(anthropic).await,
        json!({"error": {"message": "Invalid URL (POST /v1/messages)",
               "type": "invalid_request_error", "param": null, "code": null}})
    );
    let get_chat = client().get(format!("{}{CHAT}", fake.url())).send();
    assert_eq!(get_chat.await.unwrap().status(), 404);
    let head = client().head(fake.url()).send().await.unwrap();
    assert_eq!(head.status(), 404);
    assert_eq!(header(&head, "x-request-id"), Some("req_oa_8"));

    let junk = post(&fake, CHAT, "{not json").await;
    assert_eq!(junk.status(), 400);
    let error = body_json(junk).await;
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["error"]["message"], "request body is not valid JSON");
    let unnamed = json!({"messages": [{"role": "user", "content": "hi"}]}).to_string();
    let answer = body_json(post(&fake, CHAT, unnamed).await).await;
    assert_eq!(answer["model"], "gpt-fake-1");
    assert_eq!(fake.request_count(), 10);
}

fn tool_script() -> (OpenAiReply, Value, Value) {
    let weather = json!({"city": "Paris", "unit": "celsius", "days": [1, 2]});
    let time = json!({"tz": "Europe/Paris"});
    let script = OpenAiReply {
        reasoning: Some("Two tools will do.".into()),
        tool_calls: vec![
            ToolCall::split("call_w", "get_weather", &weather),
            ToolCall::whole("call_t", "get_time", &time),
        ],
        ..OpenAiReply::default()
    };
    (script, weather, time)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn streams_reasoning_first_then_tool_calls_whose_pieces_reassemble() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    fake.set_reply_text("");
    let (script, weather, time) = tool_script();
    fake.set_openai_reply(script);
    let chunks = done_chunks(&stream_text(&fake, CHAT, chat_body(true, "weather?")).await);
    let deltas: Vec<&Value> = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| &c["choices"][0]["delta"])
        .collect();
    assert_eq!(
        delta_text(&chunks, "reasoning_content"),
        "Two tools will do."
    );
    assert_eq!(
        delta_text(&chunks, "content"),
        "",
        "no text, only the role chunk's"
    );
    let first_call = deltas.iter().position(|d| d.get("tool_calls").is_some());
    let last_reasoning = deltas
        .iter()
        .rposition(|d| d.get("reasoning_content").is_some());
    assert!(last_reasoning.unwrap() < first_call.unwrap());

    let calls: Vec<&Value> = (deltas.iter())
        .filter_map(|d| d.get("tool_calls"))
        .map(|calls| {
            assert_eq!(calls.as_array().unwrap().len(), 1);
            &calls[0]
        })
        .collect();
    assert_eq!(
        *calls[0],
        json!({"index": 0, "id": "call_w", "type": "function",
               "function": {"name": "get_weather", "arguments": ""}})
    );
    let pieces: Vec<&Value> = calls.iter().copied().filter(|c| c["index"] == 0).collect();
    assert_eq!(pieces.len(), 4, "the head, then 3 argument pieces");
    let mut arguments = String::new();
    for piece in &pieces[1..] {
        let keys: Vec<&String> = piece.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["index", "function"]);
        let function = piece["function"].as_object().unwrap();
        assert_eq!(function.keys().collect::<Vec<_>>(), ["arguments"]);
        arguments.push_str(function["arguments"].as_str().unwrap());
    }
    assert!(serde_json::from_str::<Value>(&arguments[..arguments.len() / 2]).is_err());
    assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), weather);
    let whole: Vec<&Value> = calls.iter().copied().filter(|c| c["index"] == 1).collect();
    assert_eq!(
        whole,
        [&json!({"index": 1, "id": "call_t", "type": "function",
                 "function": {"name": "get_time", "arguments": time.to_string()}})]
    );
    let finish = &chunks[chunks.len() - 2]["choices"][0];
    assert_eq!(finish["finish_reason"], "tool_calls");
    assert_eq!(finish["delta"], json!({}));
    let usage = &chunks[chunks.len() - 1]["usage"];
    assert_eq!(
        usage["total_tokens"],
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn answers_tool_calls_whole_with_string_arguments_and_null_content() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    fake.set_reply_text("");
    let (script, weather, time) = tool_script();
    fake.set_openai_reply(script);
    let answer = body_json(post(&fake, CHAT, chat_body(false, "weather?")).await).await;
    let choice = &answer["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let message = &choice["message"];
    assert_eq!(message["content"], Value::Null);
    assert_eq!(message["reasoning_content"], "Two tools will do.");
    let calls = message["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (
            &calls[0]["id"],
            &calls[0]["type"],
            &calls[0]["function"]["name"]
        ),
        (&json!("call_w"), &json!("function"), &json!("get_weather"))
    );
    let arguments = |i: usize| calls[i]["function"]["arguments"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(arguments(0)).unwrap(),
        weather
    );
    assert_eq!(serde_json::from_str::<Value>(arguments(1)).unwrap(), time);
    assert_eq!(calls[1]["function"]["name"], "get_time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn finish_can_ride_on_the_last_content_chunk() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    fake.set_reply_text("Cut short.");
    fake.set_openai_reply(OpenAiReply {
        finish_reason: Some("length".into()),
        finish_with_last_delta: true,
        cached_tokens: 5,
        ..OpenAiReply::default()
    });
    let chunks = done_chunks(&stream_text(&fake, CHAT, chat_body(true, "hi")).await);
    // role, "Cut" + " short." (with the finish), usage
    assert_eq!(chunks.len(), 4);
    assert_eq!(
        chunks[2]["choices"],
        json!([{"index": 0, "delta": {"content": " short."}, "finish_reason": "length"}])
    );
    let finishes = chunks
        .iter()
        .filter(|c| !c["choices"][0]["finish_reason"].is_null());
    assert_eq!(finishes.count(), 1);
    assert_eq!(
        chunks[3]["usage"]["prompt_tokens_details"]["cached_tokens"],
        5
    );
    let answer = body_json(post(&fake, CHAT, chat_body(false, "hi")).await).await;
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["usage"]["prompt_tokens_details"]["cached_tokens"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn status_faults_answer_with_openai_error_bodies() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    let busy = Fault::Status {
        status: 529,
        retry_after: Some(2),
        message: Some("busy busy".into()),
    };
    let cases = [
        (Fault::status(400), 400, "invalid_request_error", None, None),
        (
            Fault::status(401),
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            None,
        ),
        (
            Fault::rate_limited(7),
            429,
            "requests",
            Some("rate_limit_exceeded"),
            Some("7"),
        ),
        (Fault::status(500), 500, "server_error", None, None),
        (Fault::status(503), 503, "server_error", None, None),
        (busy, 529, "server_error", Some("overloaded"), Some("2")),
    ];
    for (fault, status, kind, code, retry_after) in cases {
        fake.push_fault(fault.clone());
        let response = post(&fake, CHAT, chat_body(true, "hi")).await;
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        assert_eq!(header(&response, "retry-after"), retry_after);
        assert_eq!(header(&response, "x-should-retry"), None);
        let error = body_json(response).await;
        let fields = error["error"].as_object().expect("an error object");
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["message", "type", "param", "code"]
        );
        assert_eq!(error["error"]["type"], kind, "{status}");
        assert_eq!(error["error"]["code"], json!(code), "{status}");
        assert!(!error["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(fake.requests().last().unwrap().fault, fault);
    }
    assert_eq!(fake.requests().len(), 6);
    fake.push_fault(Fault::Status {
        status: 529,
        retry_after: None,
        message: Some("busy busy".into()),
    });
    let error = body_json(post(&fake, CHAT, chat_body(false, "hi")).await).await;
    assert_eq!(error["error"]["message"], "busy busy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn die_after_events_drops_the_stream_without_done() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    fake.push_fault(Fault::DieAfterEvents(2));
    let response = post(&fake, CHAT, chat_body(true, "hi")).await;
    assert_eq!(response.status(), 200);
    let (text, end) = read_all(response).await;
    assert!(end.is_err(), "the body must fail, not end cleanly");
    let lines = data_lines(&text);
    assert_eq!(lines.len(), 2);
    let chunks = parse_all(&lines);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hello");
    assert_eq!(fake.events_sent(), 2);

    fake.push_fault(Fault::DieAfterEvents(2));
    let sent = post_result(&fake, CHAT, chat_body(false, "hi")).await;
    assert!(sent.expect_err("reset").status().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn error_event_is_an_error_chunk_first() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    fake.push_fault(Fault::ErrorEvent);
    let text = stream_text(&fake, CHAT, chat_body(true, "hi")).await;
    assert!(text.starts_with("data: {\"error\":"), "{text}");
    let lines = data_lines(&text);
    assert_eq!(lines.len(), 1, "no [DONE] after the error");
    let error = &parse_all(&lines)[0]["error"];
    assert_eq!(error["type"], "server_error");
    assert!(!error["message"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn end_without_done_ends_cleanly_with_neither_finish_nor_done() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    fake.push_fault(Fault::EndWithoutDone);
    let text = stream_text(&fake, CHAT, chat_body(true, "hi")).await;
    let lines = data_lines(&text);
    assert!(!lines.contains(&"[DONE]"), "{text}");
    let chunks = parse_all(&lines);
    assert_eq!(chunks.len(), 4, "the role chunk and three text pieces");
    assert_eq!(delta_text(&chunks, "content"), "Hello from oa.");
    for chunk in &chunks {
        assert!(chunk["choices"][0]["finish_reason"].is_null());
        assert_eq!(
            chunk["choices"].as_array().unwrap().len(),
            1,
            "no usage chunk"
        );
    }
    assert!(fake.wait_until(WAIT, |s| s.completed == 1 && s.events_sent == 4));
    assert_eq!(fake.requests()[0].fault, Fault::EndWithoutDone);
    fake.push_fault(Fault::EndWithoutDone);
    let whole = body_json(post(&fake, CHAT, chat_body(false, "hi")).await).await;
    assert_eq!(whole["choices"][0]["finish_reason"], "stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn transport_faults_work_as_in_anthropic_mode() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    fake.push_fault(Fault::ResetBeforeHeaders);
    let error = post_result(&fake, CHAT, chat_body(true, "hi")).await;
    let error = error.expect_err("reset, not a response");
    assert!(
        error.status().is_none() && !error.is_timeout(),
        "{}",
        error_chain(&error)
    );

    fake.push_fault(Fault::DelayHeaders(Duration::from_millis(200)));
    let started = Instant::now();
    let answer = body_json(post(&fake, CHAT, chat_body(false, "hi")).await).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(answer["object"], "chat.completion");

    fake.push_fault(Fault::SlowStream(Duration::from_millis(30)));
    let mut response = post(&fake, CHAT, chat_body(true, "hi")).await;
    let first = response.chunk().await.unwrap().expect("first chunk");
    assert!(
        fake.events_sent() < 7,
        "the first chunk came before the last was sent"
    );
    assert!(first.starts_with(b"data: {"));
    let (rest, end) = read_all(response).await;
    end.expect("clean end of stream");
    assert!(rest.ends_with("data: [DONE]\n\n"));

    fake.push_fault(Fault::Hang);
    let url = format!("{}{CHAT}", fake.url());
    let sent = client().post(url).body(chat_body(true, "hi"));
    let sent = sent.timeout(Duration::from_millis(300)).send().await;
    assert!(sent.expect_err("no answer").is_timeout());
    assert!(fake.wait_until(WAIT, |s| s.disconnects == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn echoes_a_nonce_found_in_the_messages_whole_and_streamed() {
    let fake = FakeUpstream::spawn_openai("oa").unwrap();
    let probe = "Reply with exactly this token and nothing else. nonce: 7f3a9c";
    let answer = body_json(post(&fake, CHAT, chat_body(false, probe)).await).await;
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.contains("7f3a9c"), "{content}");
    let parts = json!({"model": "gpt-test-4", "stream": true, "messages": [
        {"role": "user", "content": [{"type": "text", "text": probe}]}]});
    let chunks = done_chunks(&stream_text(&fake, "/chat/completions", parts.to_string()).await);
    assert!(delta_text(&chunks, "content").contains("7f3a9c"));
    let plain = body_json(post(&fake, CHAT, chat_body(false, "hi")).await).await;
    assert_eq!(plain["choices"][0]["message"]["content"], "Hello from oa.");

    fake.set_echo_nonce(false);
    fake.set_reply_model(Some("claude-relabelled"));
    let answer = body_json(post(&fake, CHAT, chat_body(false, probe)).await).await;
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello from oa.");
    assert_eq!(answer["model"], "claude-relabelled");
    let chunks = done_chunks(&stream_text(&fake, CHAT, chat_body(true, probe)).await);
    assert_eq!(delta_text(&chunks, "content"), "Hello from oa.");
    assert!(chunks.iter().all(|c| c["model"] == "claude-relabelled"));
}

#[test]
fn split_arguments_are_cut_at_char_boundaries() {
    let call = ToolCall::split("c", "f", &json!({"q": "héllo wörld ✓"}));
    let pieces = call.pieces();
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces.concat(), call.arguments);
    let short = ToolCall::split("c", "f", &json!({}));
    assert_eq!(short.pieces(), ["{", "}"]);
    let empty = ToolCall {
        arguments: String::new(),
        ..short.clone()
    };
    assert!(empty.pieces().is_empty());
    assert!(
        ToolCall::whole("c", "f", &json!({"a": 1}))
            .pieces()
            .is_empty()
    );
}
