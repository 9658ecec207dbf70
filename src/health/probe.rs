//! The conversational test: a tiny real conversation with one endpoint. It asks the model
//! to echo a random nonce (`max_tokens` 16, streamed so that the first byte can be timed
//! and the model read from `message_start`) and passes only when the answer contains the
//! nonce — so a relay that answers 200 with nonsense, or as another model, is caught.
//!
//! An `openai` endpoint is asked the same, as Chat Completions, and its answer read through
//! the proxy's translator, so the nonce is checked on the translated answer.
//!
//! Used by `qcc health test` (the CLI, on its own runtime, no daemon) and by the daemon's
//! probe scheduler ([`crate::health::monitor`]). It goes out through the same HTTP client
//! as user traffic ([`crate::proxy::client`]), so a probe tests the stack users use. No IO
//! besides the one HTTP request; the caller decides what the outcome means for breakers
//! and history.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use http::uri::PathAndQuery;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use serde_json::{Map, Value};

use crate::openai::stream::Translator;
use crate::proxy::body::{describe, poll_chunk};
use crate::proxy::client::UpstreamClient;
use crate::proxy::request_body::RequestBody;
use crate::proxy::retry::{Verdict, classify_status, failure_for};
use crate::report::health::ProbeReport;
use crate::sse;
use crate::state::health::{ProbeRecord, ProbeSource};
use crate::upstream::breaker::Failure;
use crate::upstream::target::BaseUrl;

/// `max_tokens` of a probe: enough for an 8-character nonce.
pub const MAX_TOKENS: u32 = 16;
/// The API version probes declare.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Most bytes of an answer read.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Longest answer text kept for display.
const MAX_SHOWN: usize = 200;

/// Where and how to probe.
#[derive(Clone, Debug)]
pub struct ProbeTarget {
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// The credential header in the endpoint's style (marked sensitive).
    pub credential: (HeaderName, HeaderValue),
    pub model: String,
    /// For an `openai` endpoint, its chat path: the probe goes there as Chat Completions
    /// and its answer is read translated.
    pub chat_path: Option<String>,
}

/// What one probe found.
#[derive(Clone, Debug)]
pub struct ProbeOutcome {
    pub passed: bool,
    /// Why it passed or failed, in a few words.
    pub reason: String,
    /// What the breaker should hear: `Some` when the endpoint failed as the proxy would
    /// count it; `None` when it passed, or failed for a reason that is not an outage (a
    /// 4xx, the wrong model: configuration, not health).
    pub failure: Option<Failure>,
    pub status: Option<u16>,
    /// Until the answer was complete, or the probe gave up.
    pub latency: Duration,
    /// Until the first body byte.
    pub first_byte: Option<Duration>,
    pub model_asked: String,
    /// The model the answer named.
    pub model: Option<String>,
    /// The answer's text (cut short).
    pub answer: String,
    pub nonce: String,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

impl ProbeOutcome {
    /// A probe that was not sent (the endpoint has no key to send): failed, and nothing
    /// for the breaker to hear.
    pub fn not_sent(reason: String) -> Self {
        Self {
            passed: false,
            reason,
            failure: None,
            status: None,
            latency: Duration::ZERO,
            first_byte: None,
            model_asked: String::new(),
            model: None,
            answer: String::new(),
            nonce: String::new(),
        }
    }

    /// The outcome as `qcc health test` / `check` report it, for the named endpoint.
    pub fn report(&self, id: &str, profile: &str, name: &str, url: &str) -> ProbeReport {
        ProbeReport {
            id: id.to_owned(),
            profile: profile.to_owned(),
            name: name.to_owned(),
            url: url.to_owned(),
            passed: self.passed,
            reason: self.reason.clone(),
            status: self.status,
            latency_ms: ms(self.latency),
            first_byte_ms: self.first_byte.map(ms),
            model_asked: self.model_asked.clone(),
            model: self.model.clone(),
            answer: self.answer.clone(),
            nonce: self.nonce.clone(),
            breaker: None,
        }
    }

    /// The history entry for this outcome.
    pub fn record(&self, source: ProbeSource) -> ProbeRecord {
        ProbeRecord {
            at: Utc::now(),
            source,
            passed: self.passed,
            reason: self.reason.clone(),
            model_asked: self.model_asked.clone(),
            model: self.model.clone(),
            status: self.status,
            latency_ms: ms(self.latency),
            first_byte_ms: self.first_byte.map(ms),
            extra: Map::new(),
        }
    }
}

/// A fresh random nonce (8 hex digits).
pub fn new_nonce() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// The one user message a probe sends.
pub fn prompt(nonce: &str) -> String {
    format!("Reply with exactly this token and nothing else. nonce: {nonce}")
}

/// The request body of a probe.
pub fn request_body(model: &str, nonce: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": model,
        "max_tokens": MAX_TOKENS,
        "stream": true,
        "messages": [{"role": "user", "content": prompt(nonce)}],
    }))
    .expect("json")
}

/// Whether the model an answer names is the one asked for: equal, or the same up to a
/// date suffix (`claude-haiku-4-5` ↔ `claude-haiku-4-5-20251001`), a `-latest` alias, or a
/// provider prefix (`anthropic/claude-haiku-4-5`).
pub fn model_matches(asked: &str, answered: &str) -> bool {
    fn base(m: &str) -> String {
        let m = m.trim().to_ascii_lowercase();
        let m = m.strip_suffix("-latest").unwrap_or(&m).to_owned();
        match m.rsplit_once('-') {
            Some((head, date)) if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => {
                head.to_owned()
            }
            _ => m,
        }
    }
    let (a, b) = (base(asked), base(answered));
    !a.is_empty() && !b.is_empty() && (a.ends_with(&b) || b.ends_with(&a))
}

/// What was seen so far (kept when the probe times out).
#[derive(Default)]
struct Seen {
    status: Option<u16>,
    first_byte: Option<Duration>,
    model: Option<String>,
    text: String,
    /// The answer was complete (`message_stop`, or a whole JSON message).
    complete: bool,
}

/// Run one probe, within `timeout` for the whole conversation.
pub async fn run(client: &UpstreamClient, target: &ProbeTarget, timeout: Duration) -> ProbeOutcome {
    let nonce = new_nonce();
    let started = Instant::now();
    let mut seen = Seen::default();
    let result = tokio::time::timeout(
        timeout,
        converse(client, target, &nonce, started, &mut seen),
    )
    .await;
    let latency = started.elapsed();
    let failed = |reason: String, failure: Option<Failure>| (false, reason, failure);
    let (passed, reason, failure) = match result {
        Err(_) => {
            let what = if seen.status.is_none() {
                "no response"
            } else {
                "no complete answer"
            };
            let reason = format!("{what} within {} s (timeout)", timeout.as_secs());
            failed(reason.clone(), Some(Failure::Transient(reason)))
        }
        Ok(Err((reason, failure))) => failed(reason, failure),
        Ok(Ok(())) => judge(&seen, &nonce, &target.model),
    };
    let failure = failure.map(probe_failure);
    let mut answer: String = seen.text.trim().chars().take(MAX_SHOWN).collect();
    if seen.text.trim().chars().count() > MAX_SHOWN {
        answer.push('…');
    }
    ProbeOutcome {
        passed,
        reason,
        failure,
        status: seen.status,
        latency,
        first_byte: seen.first_byte,
        model_asked: target.model.clone(),
        model: seen.model,
        answer,
        nonce,
    }
}

/// Mark a breaker reason as coming from a probe.
fn probe_failure(f: Failure) -> Failure {
    let tag = |r: String| format!("probe: {r}");
    match f {
        Failure::Transient(r) => Failure::Transient(tag(r)),
        Failure::RetryAfter(d, r) => Failure::RetryAfter(d, tag(r)),
        Failure::Billing(r, until) => Failure::Billing(tag(r), until),
        Failure::Credential(r) => Failure::Credential(tag(r)),
    }
}

/// A complete answer arrived: does it pass?
fn judge(seen: &Seen, nonce: &str, asked: &str) -> (bool, String, Option<Failure>) {
    if !seen.text.contains(nonce) {
        let shown: String = seen.text.trim().chars().take(60).collect();
        let reason = if shown.is_empty() {
            "answered without any text (no nonce)".to_owned()
        } else {
            format!("answer did not contain the nonce (said: {shown:?})")
        };
        return (false, reason.clone(), Some(Failure::Transient(reason)));
    }
    match &seen.model {
        Some(m) if !model_matches(asked, m) => (
            false,
            format!("answered as model '{m}', asked for '{asked}'"),
            None,
        ),
        Some(_) => (true, "echoed the nonce".into(), None),
        None => (true, "echoed the nonce (no model named)".into(), None),
    }
}

type Fail = (String, Option<Failure>);

fn transient(reason: String) -> Fail {
    (reason.clone(), Some(Failure::Transient(reason)))
}

async fn converse(
    client: &UpstreamClient,
    target: &ProbeTarget,
    nonce: &str,
    started: Instant,
    seen: &mut Seen,
) -> Result<(), Fail> {
    let base = BaseUrl::parse(&target.base_url)
        .map_err(|e| (format!("the endpoint's URL is invalid: {e}"), None))?;
    let anthropic = request_body(&target.model, nonce);
    let (uri, body, mut translator) = match &target.chat_path {
        None => (
            base.uri_for(Some(&PathAndQuery::from_static("/v1/messages")))
                .map_err(|e| e.to_string()),
            anthropic,
            None,
        ),
        Some(path) => {
            let v: Value = serde_json::from_slice(&anthropic).expect("json");
            let (chat, names) =
                crate::openai::request::to_chat(&v, &target.model).expect("a messages request");
            (
                base.join(path).map_err(|e| e.to_string()),
                serde_json::to_vec(&chat).expect("json"),
                Some(Translator::new(&target.model, names)),
            )
        }
    };
    let uri = uri.map_err(|e| (format!("cannot build the probe's URL: {e}"), None))?;
    let body = RequestBody::from(Bytes::from(body));
    let mut request = Request::new(body.outgoing());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let h = request.headers_mut();
    let (name, value) = &target.credential;
    h.insert(name.clone(), value.clone());
    if translator.is_none() {
        h.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
    }
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static(concat!(
            "qcc/",
            env!("CARGO_PKG_VERSION"),
            " (health probe)"
        )),
    );
    let response = client
        .request(request)
        .await
        .map_err(|e| transient(describe(&e)))?;
    let status = response.status();
    seen.status = Some(status.as_u16());
    let (head, mut incoming) = response.into_parts();
    let headers = head.headers;
    let sse = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut buf = BytesMut::new();
    while let Some(chunk) = std::future::poll_fn(|cx| poll_chunk(&mut incoming, cx)).await {
        let chunk =
            chunk.map_err(|e| transient(format!("the answer broke off: {}", describe(&e))))?;
        if seen.first_byte.is_none() && !chunk.is_empty() {
            seen.first_byte = Some(started.elapsed());
        }
        if buf.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(transient("the answer is larger than 1 MiB".into()));
        }
        match &mut translator {
            Some(t) if sse && status.is_success() => buf.extend_from_slice(&t.feed(&chunk)),
            _ => buf.extend_from_slice(&chunk),
        }
        if sse && status.is_success() {
            feed_events(&mut buf, seen)?;
            if seen.complete {
                return Ok(());
            }
        }
    }
    if !status.is_success() {
        return Err(http_failure(status, &headers, &buf));
    }
    if sse {
        if let Some(t) = &mut translator {
            match t.end() {
                Ok(tail) => buf.extend_from_slice(&tail),
                Err(_) => return Err(transient("the stream ended without [DONE]".into())),
            }
        }
        feed_events(&mut buf, seen)?;
        if seen.complete {
            return Ok(());
        }
        return Err(transient("the stream ended before message_stop".into()));
    }
    // A relay that ignored `"stream": true` and sent the message whole.
    let mut v: Value = serde_json::from_slice(&buf)
        .map_err(|_| transient("the answer is neither a stream nor a JSON message".into()))?;
    if translator.is_some() {
        v = match v.get("choices") {
            Some(_) => crate::openai::response::from_chat(&v, &target.model, &Default::default()),
            None => {
                serde_json::json!({"type": "error", "error": v.get("error").cloned().unwrap_or_default()})
            }
        };
    }
    if v["type"] == "error" {
        return Err(transient(format!("error answer: {}", error_text(&v))));
    }
    seen.model = v["model"].as_str().map(str::to_owned);
    for block in v["content"].as_array().into_iter().flatten() {
        if let Some(t) = block["text"].as_str() {
            seen.text.push_str(t);
        }
    }
    seen.complete = true;
    Ok(())
}

/// A non-2xx answer: its status and the upstream's message; what the breaker hears.
fn http_failure(status: StatusCode, headers: &http::HeaderMap, body: &[u8]) -> Fail {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .map(|v| error_text(&v))
        .filter(|m| !m.is_empty());
    let reason = match message {
        Some(m) => format!("HTTP {}: {m}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    match classify_status(status) {
        Verdict::Retry => (reason, Some(failure_for(status, headers, body))),
        // A status the proxy passes on (400, 404, …): the endpoint is up; the probe's
        // request is wrong for it (often the probe model). Not a breaker matter.
        Verdict::Deliver => (reason, None),
    }
}

fn error_text(v: &Value) -> String {
    let m = v["error"]["message"].as_str().unwrap_or_default();
    m.chars().take(160).collect()
}

/// Consume every complete SSE event in `buf`, reading what a probe needs from each.
fn feed_events(buf: &mut BytesMut, seen: &mut Seen) -> Result<(), Fail> {
    while let Some(end) = sse::event_end(buf) {
        let event = buf.split_to(end);
        read_event(&sse::data(&event), seen)?;
        if seen.complete {
            return Ok(());
        }
    }
    Ok(())
}

/// Read one SSE event's data: the model, text deltas, the end, or an error.
fn read_event(data: &[u8], seen: &mut Seen) -> Result<(), Fail> {
    if data.is_empty() {
        return Ok(());
    }
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return Ok(());
    };
    match v["type"].as_str() {
        Some("message_start") => {
            seen.model = v["message"]["model"].as_str().map(str::to_owned);
        }
        Some("content_block_delta") => {
            if let Some(t) = v["delta"]["text"].as_str() {
                seen.text.push_str(t);
            }
        }
        Some("message_stop") => seen.complete = true,
        Some("error") => {
            return Err(transient(format!("error event: {}", error_text(&v))));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_match_up_to_dates_aliases_and_prefixes() {
        assert!(model_matches("claude-haiku-4-5", "claude-haiku-4-5"));
        assert!(model_matches(
            "claude-haiku-4-5",
            "claude-haiku-4-5-20251001"
        ));
        assert!(model_matches(
            "claude-3-5-haiku-latest",
            "claude-3-5-haiku-20241022"
        ));
        assert!(model_matches(
            "claude-haiku-4-5",
            "anthropic/claude-haiku-4-5"
        ));
        assert!(!model_matches("claude-haiku-4-5", "gpt-4o-mini"));
        assert!(!model_matches("claude-haiku-4-5", "claude-sonnet-4-5"));
        assert!(!model_matches("claude-haiku-4-5", ""));
    }

    #[test]
    fn the_prompt_carries_the_nonce_the_fake_echoes() {
        let n = new_nonce();
        assert_eq!(n.len(), 8);
        let body: Value = serde_json::from_slice(&request_body("m", &n)).unwrap();
        assert_eq!(body["max_tokens"], MAX_TOKENS);
        assert_eq!(body["stream"], true);
        assert!(
            body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .ends_with(&format!("nonce: {n}"))
        );
    }

    #[test]
    fn sse_events_are_read_across_chunks() {
        let stream = concat!(
            "event: message_start\r\n",
            "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\"}}\r\n\r\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"7f3a\"}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"9c2e\"}}\n\n",
            "event: message_stop\n",
            "data: {\"type\":\"message_stop\"}\n\n",
        );
        let mut seen = Seen::default();
        let mut buf = BytesMut::new();
        for piece in stream.as_bytes().chunks(5) {
            buf.extend_from_slice(piece);
            feed_events(&mut buf, &mut seen).unwrap();
        }
        assert!(seen.complete);
        assert_eq!(seen.text, "7f3a9c2e");
        assert_eq!(seen.model.as_deref(), Some("claude-x"));
        assert!(judge(&seen, "7f3a9c2e", "claude-x").0);
        let (passed, reason, failure) = judge(&seen, "00000000", "claude-x");
        assert!(!passed && reason.contains("nonce") && failure.is_some());
        let (passed, _, failure) = judge(&seen, "7f3a9c2e", "claude-haiku-4-5");
        assert!(
            !passed && failure.is_none(),
            "wrong model: not a breaker matter"
        );
    }

    #[test]
    fn error_events_fail() {
        let mut seen = Seen::default();
        let mut buf = BytesMut::from(
            &b"event: error\ndata: {\"type\":\"error\",\"error\":{\"message\":\"Overloaded\"}}\n\n"
                [..],
        );
        let err = feed_events(&mut buf, &mut seen).unwrap_err();
        assert!(err.0.contains("Overloaded") && err.1.is_some());
    }

    #[test]
    fn http_failures_are_classified_for_the_breaker() {
        let h = http::HeaderMap::new();
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let (reason, f) = http_failure(StatusCode::from_u16(529).unwrap(), &h, body);
        assert_eq!(reason, "HTTP 529: Overloaded");
        assert!(matches!(f, Some(Failure::Transient(_))));
        let (_, f) = http_failure(StatusCode::from_u16(401).unwrap(), &h, b"");
        assert!(matches!(f, Some(Failure::Credential(_))));
        let (reason, f) = http_failure(StatusCode::NOT_FOUND, &h, b"nope");
        assert_eq!((reason.as_str(), f), ("HTTP 404", None));
    }
}
