//! Tests of the fake upstream over real HTTP with reqwest: the wire shapes, the recording,
//! every fault, fault ordering, nonce echo and shutdown (Anthropic mode; the helpers are
//! shared with `tests_openai`).

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};

use super::{FakeUpstream, Fault};

pub(super) const WAIT: Duration = Duration::from_secs(3);
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/claude_code_like_request.json"
);
const FIXTURE_HEADERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/claude_code_like_request.headers.json"
);

pub(super) fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

fn request_body(stream: bool, text: &str) -> String {
    json!({
        "model": "claude-test-9",
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    })
    .to_string()
}

pub(super) async fn post(
    fake: &FakeUpstream,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    client()
        .post(format!("{}{path}", fake.url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("response")
}

pub(super) async fn body_json(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.expect("body");
    serde_json::from_slice(&bytes).expect("JSON body")
}

pub(super) fn header<'r>(response: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `(event name, data)` for each complete event in an SSE text.
fn parse_sse(text: &str) -> Vec<(String, Value)> {
    let complete = &text[..text.rfind("\n\n").map_or(0, |end| end + 2)];
    complete
        .split("\n\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let field = |prefix: &str| {
                let line = block.lines().find_map(|l| l.strip_prefix(prefix));
                line.expect("event field").to_owned()
            };
            let data = serde_json::from_str(&field("data: ")).expect("event data JSON");
            (field("event: "), data)
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

fn reassembled_text(events: &[(String, Value)]) -> String {
    let deltas = events
        .iter()
        .filter(|(name, _)| name == "content_block_delta");
    deltas
        .map(|(_, data)| data["delta"]["text"].as_str().expect("delta text"))
        .collect()
}

/// Read a body chunk by chunk until it ends (`Ok`) or fails (`Err`), keeping what arrived.
pub(super) async fn read_all(
    mut response: reqwest::Response,
) -> (String, Result<(), reqwest::Error>) {
    let mut text = String::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => text.push_str(std::str::from_utf8(&chunk).expect("UTF-8")),
            Ok(None) => return (text, Ok(())),
            Err(error) => return (text, Err(error)),
        }
    }
}

pub(super) fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(" / ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn streams_the_full_event_sequence() {
    let fake = FakeUpstream::spawn_named("alpha").unwrap();
    let body = request_body(true, "hi");
    let response = post(&fake, "/v1/messages", body.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&response, "cache-control"), Some("no-cache"));
    assert_eq!(header(&response, "request-id"), Some("req_alpha_1"));
    assert_eq!(
        header(&response, "anthropic-ratelimit-requests-remaining"),
        Some("999")
    );
    let (text, end) = read_all(response).await;
    end.expect("clean end of stream");
    let events = parse_sse(&text);
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 3]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names(&events), expected);
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str());
    }
    assert_eq!(reassembled_text(&events), "Hello from alpha.");
    let message = &events[0].1["message"];
    assert_eq!(message["model"], "claude-test-9");
    assert_eq!(message["id"], "msg_fake_1");
    assert_eq!(message["usage"]["input_tokens"], body.len() as u64 / 4);
    assert_eq!(events[7].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(events[7].1["usage"]["output_tokens"], 3);
    assert!(fake.wait_until(WAIT, |s| s.completed == 1 && s.events_sent == 9));
    assert_eq!(fake.disconnects(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn answers_non_streaming_with_a_message_object() {
    let fake = FakeUpstream::spawn_named("beta").unwrap();
    fake.set_reply_text("Custom words here.");
    let body = request_body(false, "hi");
    let response = post(&fake, "/v1/messages", body.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert_eq!(header(&response, "request-id"), Some("req_beta_1"));
    let message = body_json(response).await;
    assert_eq!(message["id"], "msg_fake_1");
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], "claude-test-9");
    assert_eq!(
        message["content"],
        json!([{"type": "text", "text": "Custom words here."}])
    );
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["usage"]["input_tokens"], body.len() as u64 / 4);
    assert_eq!(message["usage"]["output_tokens"], 3);
    assert_eq!(fake.events_sent(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn records_query_headers_and_the_exact_body() {
    let fake = FakeUpstream::spawn().unwrap();
    let body = Bytes::from(std::fs::read(FIXTURE).expect("fixture"));
    let headers: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(FIXTURE_HEADERS).expect("fixture headers")).unwrap();
    let mut request = client().post(format!("{}/v1/messages?beta=true", fake.url()));
    for (name, value) in &headers {
        request = request.header(name, value.as_str().unwrap());
    }
    let response = request.body(body.clone()).send().await.expect("response");
    assert_eq!(response.status(), 200);
    let (text, end) = read_all(response).await;
    end.expect("clean end of stream");
    assert_eq!(
        parse_sse(&text).last().map(|(name, _)| name.as_str()),
        Some("message_stop")
    );

    let recorded = fake.requests();
    assert_eq!(recorded.len(), 1);
    let seen = &recorded[0];
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(seen.query.as_deref(), Some("beta=true"));
    assert_eq!(
        seen.header("anthropic-beta"),
        headers["anthropic-beta"].as_str()
    );
    assert_eq!(seen.header("X-Api-Key"), Some("sk-ant-client-placeholder"));
    assert!(
        seen.headers
            .iter()
            .all(|(name, _)| *name == name.to_lowercase())
    );
    assert_eq!(seen.body, body);
    assert_eq!(seen.fault, Fault::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn answers_junk_with_invalid_request_error() {
    let fake = FakeUpstream::spawn().unwrap();
    let response = post(&fake, "/v1/messages", "{not json").await;
    assert_eq!(response.status(), 400);
    assert_eq!(header(&response, "x-should-retry"), None);
    let error = body_json(response).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["request_id"], "req_fake_1");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn serves_count_tokens_models_root_and_404() {
    let fake = FakeUpstream::spawn().unwrap();
    let body = request_body(false, "count me");
    let counted = body_json(post(&fake, "/v1/messages/count_tokens?beta=true", body.clone()).await);
    assert_eq!(counted.await, json!({"input_tokens": body.len() / 4}));

    let models = client()
        .get(format!("{}/v1/models?limit=1000", fake.url()))
        .send()
        .await;
    let models = body_json(models.unwrap()).await;
    assert_eq!(models["data"][0]["id"], "claude-fake-1");
    assert_eq!(models["has_more"], false);

    let head = client().head(fake.url()).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let root = client().get(fake.url()).send().await.unwrap();
    assert_eq!(root.status(), 200);
    assert!(root.bytes().await.unwrap().is_empty());

    let missing = client()
        .get(format!("{}/v2/nothing", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "request-id"), Some("req_fake_5"));
    assert_eq!(body_json(missing).await["error"]["type"], "not_found_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn status_429_carries_retry_after_and_rate_limit_error() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::rate_limited(7));
    let response = post(&fake, "/v1/messages", request_body(true, "hi")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "retry-after"), Some("7"));
    assert_eq!(header(&response, "x-should-retry"), Some("true"));
    assert_eq!(header(&response, "request-id"), Some("req_fake_1"));
    let error = body_json(response).await;
    assert_eq!(error["error"]["type"], "rate_limit_error");
    assert_eq!(error["request_id"], "req_fake_1");
    assert_eq!(fake.requests()[0].fault, Fault::rate_limited(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn status_529_is_overloaded_with_the_given_message() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::Status {
        status: 529,
        retry_after: None,
        message: Some("busy busy".into()),
    });
    let response = post(&fake, "/v1/messages", request_body(false, "hi")).await;
    assert_eq!(response.status().as_u16(), 529);
    assert_eq!(header(&response, "retry-after"), None);
    assert_eq!(header(&response, "x-should-retry"), Some("true"));
    let error = body_json(response).await;
    assert_eq!(
        error["error"],
        json!({"type": "overloaded_error", "message": "busy busy"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn delay_headers_delays_then_answers() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::DelayHeaders(Duration::from_millis(300)));
    let started = Instant::now();
    let response = post(&fake, "/v1/messages", request_body(false, "hi")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(response).await["type"], "message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn hang_times_out_and_counts_a_disconnect() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::Hang);
    let sent = client()
        .post(format!("{}/v1/messages", fake.url()))
        .body(request_body(true, "hi"))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(sent.expect_err("no answer").is_timeout());
    assert!(fake.wait_until(WAIT, |s| s.disconnects == 1));
    assert_eq!((fake.request_count(), fake.stats().completed), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn reset_before_headers_fails_without_a_response() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::ResetBeforeHeaders);
    let sent = client()
        .post(format!("{}/v1/messages", fake.url()))
        .body(request_body(true, "hi"))
        .send()
        .await;
    let error = sent.expect_err("reset, not a response");
    assert!(error.status().is_none() && !error.is_timeout());
    let chain = error_chain(&error);
    assert!(
        chain.contains("reset") || chain.contains("closed before message completed"),
        "{chain}"
    );
    assert_eq!(fake.request_count(), 1);
    assert_eq!(fake.disconnects(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn die_after_events_delivers_exactly_that_many() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::DieAfterEvents(2));
    let response = post(&fake, "/v1/messages", request_body(true, "hi")).await;
    assert_eq!(response.status(), 200);
    let (text, end) = read_all(response).await;
    assert!(end.is_err(), "the body must fail, not end cleanly");
    let events = parse_sse(&text);
    assert_eq!(names(&events), ["message_start", "content_block_start"]);
    assert!(text.ends_with("\n\n"), "nothing after the second event");
    assert_eq!(fake.events_sent(), 2);
    assert_eq!(fake.disconnects(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn die_after_events_resets_a_non_streaming_request() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::DieAfterEvents(2));
    let sent = post_result(&fake, "/v1/messages", request_body(false, "hi")).await;
    assert!(sent.expect_err("reset").status().is_none());
}

pub(super) async fn post_result(
    fake: &FakeUpstream,
    path: &str,
    body: String,
) -> reqwest::Result<reqwest::Response> {
    client()
        .post(format!("{}{path}", fake.url()))
        .body(body)
        .send()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn slow_stream_flushes_each_event_as_it_goes() {
    let fake = FakeUpstream::spawn().unwrap();
    let delay = Duration::from_millis(40);
    fake.push_fault(Fault::SlowStream(delay));
    let started = Instant::now();
    let mut response = post(&fake, "/v1/messages", request_body(true, "hi")).await;
    let first = response.chunk().await.unwrap().expect("first chunk");
    assert!(
        fake.events_sent() < 9,
        "first event arrived before the last was sent"
    );
    assert_eq!(
        names(&parse_sse(std::str::from_utf8(&first).unwrap())),
        ["message_start"]
    );
    let (rest, end) = read_all(response).await;
    end.expect("clean end of stream");
    assert_eq!(parse_sse(&rest).len(), 8);
    assert!(started.elapsed() >= delay * 9);
    assert!(fake.wait_until(WAIT, |s| s.completed == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn client_leaving_mid_stream_counts_a_disconnect() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::SlowStream(Duration::from_millis(100)));
    let mut response = post(&fake, "/v1/messages", request_body(true, "hi")).await;
    response.chunk().await.unwrap().expect("first chunk");
    drop(response);
    assert!(fake.wait_until(WAIT, |s| s.disconnects == 1));
    assert_eq!(fake.stats().completed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn error_event_comes_first() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::ErrorEvent);
    let response = post(&fake, "/v1/messages", request_body(true, "hi")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    let (text, end) = read_all(response).await;
    end.expect("clean end of stream");
    assert!(text.starts_with("event: error\n"), "{text}");
    let events = parse_sse(&text);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1["error"]["type"], "overloaded_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn end_without_done_ends_cleanly_before_the_closing_events() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::EndWithoutDone);
    let response = post(&fake, "/v1/messages", request_body(true, "hi")).await;
    assert_eq!(response.status(), 200);
    let (text, end) = read_all(response).await;
    end.expect("a clean end at the HTTP level");
    let events = parse_sse(&text);
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 3]);
    assert_eq!(names(&events), expected);
    assert_eq!(reassembled_text(&events), "Hello from fake.");
    assert!(fake.wait_until(WAIT, |s| s.completed == 1 && s.events_sent == 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn queued_faults_come_first_then_the_default() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.push_fault(Fault::status(500));
    fake.push_fault(Fault::status(401));
    fake.set_default_fault(Fault::status(503));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = post(&fake, "/v1/messages/count_tokens", request_body(false, "x")).await;
        statuses.push(response.status().as_u16());
    }
    fake.set_default_fault(Fault::None);
    let healthy = post(&fake, "/v1/messages/count_tokens", request_body(false, "x")).await;
    statuses.push(healthy.status().as_u16());
    assert_eq!(statuses, [500, 401, 503, 503, 200]);
    let faults: Vec<Fault> = fake.requests().into_iter().map(|r| r.fault).collect();
    let expected = [500, 401, 503, 503].map(Fault::status);
    assert_eq!(faults[..4], expected);
    assert_eq!(faults[4], Fault::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn echoes_a_nonce_whole_and_streamed() {
    let fake = FakeUpstream::spawn().unwrap();
    let probe = "health probe, reply with the token. nonce: 7f3a9c";
    let message = body_json(post(&fake, "/v1/messages", request_body(false, probe)).await).await;
    assert!(
        message["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("7f3a9c")
    );
    let response = post(&fake, "/v1/messages", request_body(true, probe)).await;
    let (text, _) = read_all(response).await;
    assert!(reassembled_text(&parse_sse(&text)).contains("7f3a9c"));
    let plain = body_json(post(&fake, "/v1/messages", request_body(false, "hi")).await).await;
    assert_eq!(plain["content"][0]["text"], "Hello from fake.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn can_play_a_relay_that_ignores_the_nonce_or_renames_the_model() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.set_echo_nonce(false);
    fake.set_reply_model(Some("gpt-4o-mini"));
    let probe = "reply with the token. nonce: 7f3a9c";
    let message = body_json(post(&fake, "/v1/messages", request_body(false, probe)).await).await;
    assert_eq!(message["content"][0]["text"], "Hello from fake.");
    assert_eq!(message["model"], "gpt-4o-mini");
    fake.set_echo_nonce(true);
    fake.set_reply_model(None);
    let message = body_json(post(&fake, "/v1/messages", request_body(false, probe)).await).await;
    assert!(
        message["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("7f3a9c")
    );
    assert_eq!(message["model"], "claude-test-9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn shutdown_returns_promptly_with_a_hung_request() {
    let fake = FakeUpstream::spawn().unwrap();
    fake.set_default_fault(Fault::Hang);
    let url = format!("{}/v1/messages", fake.url());
    let pending = tokio::spawn(client().post(url).body(request_body(true, "hi")).send());
    assert!(fake.wait_until(WAIT, |s| s.requests == 1));
    let started = Instant::now();
    fake.shutdown();
    assert!(started.elapsed() < Duration::from_secs(1));
    let outcome = tokio::time::timeout(WAIT, pending)
        .await
        .expect("client released");
    assert!(outcome.unwrap().is_err(), "a hung request gets no response");
}

#[test]
fn words_are_cut_before_whitespace() {
    use super::reply::{chunks, find_nonce};
    assert_eq!(chunks("Hello from a."), ["Hello", " from", " a."]);
    assert_eq!(chunks("a  b\nc"), ["a", "  b", "\nc"]);
    assert!(chunks("").is_empty());
    let nested = json!([{"content": [{"type": "text", "text": "x nonce:  ab-9_z! y"}]}]);
    assert_eq!(find_nonce(&nested).as_deref(), Some("ab-9_z"));
    assert_eq!(find_nonce(&json!(["nonce: ", "no token"])), None);
}
