//! One attempt at an `openai` endpoint, up to the commit point: the Anthropic request is
//! rebuilt as a Chat Completions request for this endpoint (its model map applied, long
//! tool names shortened), sent with `Authorization: Bearer` and none of the client's
//! `anthropic-*` headers, and the answer read back in Anthropic's shape. Error answers are
//! translated keeping their status (so failover classifies them as Anthropic's); a stream
//! commits at its first translated event, and an error chunk before it is a failure like an
//! Anthropic stream's first `error` event. `count_tokens` is answered locally
//! ([`crate::proxy::local`]): an estimate, never a billed call. Also here: fitting a
//! conversation with translated turns for an Anthropic attempt.
//!
//! The request pipeline around it (candidates, breakers, retries) is `forward`'s.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

use super::{
    Attempt, Buffered, RequestMeta, commit_point, failed, is_sse, mark, next_chunk, read_bounded,
    send,
};
use crate::openai::ToolNames;
use crate::openai::stream::Translator;
use crate::proxy::Proxy;
use crate::proxy::body::{ProxyBody, describe};
use crate::proxy::client::UpstreamClient;
use crate::proxy::error::{error_response, full};
use crate::proxy::request_body::RequestBody;
use crate::proxy::retry::{Verdict, classify_status, failure_for};
use crate::proxy::routing::{Candidate, RouteTable};
use crate::proxy::translated::Translated;
use crate::upstream::breaker::Failure;

/// Largest whole answer (or error answer) read from an `openai` endpoint.
const MAX_ANSWER: usize = 32 * 1024 * 1024;
/// Headers of an `openai` endpoint's answer that go on to the client (with the status).
const KEPT: [&str; 3] = ["retry-after", "x-request-id", "request-id"];

/// What a translated attempt sends.
struct Chat {
    body: Bytes,
    names: ToolNames,
    /// The model the answer names (the one asked for, or the one sent).
    reported: String,
    /// The model sent.
    sent: String,
}

/// The request paths an `openai` endpoint serves.
pub fn serves(method: &Method, path: &str) -> bool {
    *method == Method::POST && (path == "/v1/messages" || path == "/v1/messages/count_tokens")
}

/// One attempt at `openai` endpoint `candidate`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn attempt(
    proxy: &Proxy,
    client: &UpstreamClient,
    table: &RouteTable,
    parts: &http::request::Parts,
    body: RequestBody,
    meta: &RequestMeta,
    candidate: &Candidate,
    number: usize,
    credential: &(HeaderName, HeaderValue),
    header_timeout: Duration,
    reservation: Option<crate::upstream::limits::Reservation>,
) -> Attempt {
    let u = &candidate.upstream;
    let request: Value = match serde_json::from_slice(&body.contiguous()) {
        Ok(v) => v,
        Err(e) => return refuse(u, number, &format!("the request body is not JSON: {e}")),
    };
    drop(body);
    let chat = chat_request(u, &request);
    // The parsed tree is several times the body: not kept while the answer is awaited.
    drop(request);
    let chat = match chat {
        Ok(c) => c,
        Err(e) => return refuse(u, number, &e),
    };
    let Some(uri) = u.chat.clone() else {
        return failed("the endpoint has no chat URL".into());
    };
    let in_flight = u.stats.begin();
    let started = Instant::now();
    let _ = meta.first_sent.set(started);
    let build = || -> Result<Request<crate::proxy::request_body::Outgoing>, String> {
        let mut request = Request::new(RequestBody::from(chat.body.clone()).outgoing());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri.clone();
        *request.headers_mut() = chat_headers(&parts.headers, credential, meta.stream);
        Ok(request)
    };
    let response = match send(client, u, header_timeout, started, build).await {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let (head, mut upstream_body) = response.into_parts();
    let status = head.status;
    u.limiter.hear(&head.headers);
    if !status.is_success() {
        let raw = read_bounded(
            upstream_body,
            MAX_ANSWER.min(1 << 20),
            Duration::from_secs(10),
        )
        .await;
        let body = Bytes::from(crate::openai::error::to_anthropic(status.as_u16(), &raw));
        let headers = answer_headers(&head.headers, "application/json");
        if classify_status(status) == Verdict::Retry {
            return Attempt::Failed {
                failure: failure_for(status, &headers, &body),
                response: Some(Buffered {
                    endpoint: u.id.clone(),
                    status,
                    headers,
                    body,
                }),
            };
        }
        commit_point(
            proxy,
            candidate,
            meta,
            started.elapsed(),
            started.elapsed(),
            number,
            status,
        );
        // Answered (the request was wrong for it, not the endpoint): as a pass-through
        // error answer, a success for its figures.
        u.stats.record_success();
        drop(in_flight);
        if let Some(t) = meta.tally(number, Some(&chat.sent), status) {
            let none = crate::usage::Reported::Tokens(Default::default());
            t.close(&u.shared_id, &u.shared_profile, none, false);
        }
        return Attempt::Commit(respond(status, headers, full(body), &u.id, number));
    }
    let latency = started.elapsed();
    if meta.stream {
        if !is_sse(&head.headers) {
            // Usually an error object in a 200: kept (translated) in case it is the last word.
            let raw = read_bounded(upstream_body, 1 << 20, Duration::from_secs(10)).await;
            return Attempt::Failed {
                failure: Failure::Transient(
                    "asked for a stream, the endpoint answered whole".into(),
                ),
                response: Some(Buffered {
                    endpoint: u.id.clone(),
                    status: StatusCode::BAD_GATEWAY,
                    headers: answer_headers(&head.headers, "application/json"),
                    body: Bytes::from(crate::openai::error::to_anthropic(502, &raw)),
                }),
            };
        }
        let mut translator = Translator::new(&chat.reported, chat.names);
        let left = header_timeout.saturating_sub(started.elapsed());
        let first = match first_events(&mut upstream_body, &mut translator, left).await {
            Ok(first) => first,
            Err(reason) => return failed(reason),
        };
        if translator.is_failed() {
            let headers = answer_headers(&head.headers, "text/event-stream");
            // An error chunk says what it is (a rate limit, a quota, a key): the breaker
            // hears that, as it would hear the same status.
            let said = translator
                .error_status()
                .and_then(|s| StatusCode::from_u16(s).ok());
            let failure = match said {
                Some(s) if s.as_u16() != 500 => failure_for(s, &head.headers, &first),
                _ => Failure::Transient("the stream's first event was an error".into()),
            };
            return Attempt::Failed {
                failure,
                response: Some(Buffered {
                    endpoint: u.id.clone(),
                    status,
                    headers,
                    body: Bytes::from(first),
                }),
            };
        }
        commit_point(
            proxy,
            candidate,
            meta,
            latency,
            started.elapsed(),
            number,
            status,
        );
        let settings = &table.settings;
        let tally = meta.tally(number, Some(&chat.sent), status);
        let body = Translated::new(
            upstream_body,
            translator,
            first,
            Duration::from_secs(settings.idle_timeout_secs),
            Duration::from_secs(settings.ping_interval_secs.max(1)),
            u.clone(),
            table.breaker_policy(),
            in_flight,
        )
        .tally(tally)
        .reserve(reservation);
        let mut headers = answer_headers(&head.headers, "text/event-stream");
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        );
        return Attempt::Commit(respond(status, headers, body.boxed_unsync(), &u.id, number));
    }
    // A whole answer: read it all, then translate it.
    let idle = Duration::from_secs(table.settings.idle_timeout_secs);
    let raw = match read_whole(&mut upstream_body, idle).await {
        Ok(raw) => raw,
        Err(reason) => return failed(reason),
    };
    let answer: Value = match serde_json::from_slice(&raw) {
        Ok(v) => v,
        Err(_) => return failed("the answer is not JSON".into()),
    };
    if answer.get("choices").is_none() && answer.get("error").is_some() {
        // An error in a 200 (some servers do): the endpoint failed this request.
        let body = Bytes::from(crate::openai::error::to_anthropic(502, &raw));
        return Attempt::Failed {
            failure: Failure::Transient("the answer was an error".into()),
            response: Some(Buffered {
                endpoint: u.id.clone(),
                status: StatusCode::BAD_GATEWAY,
                headers: answer_headers(&head.headers, "application/json"),
                body,
            }),
        };
    }
    let message = crate::openai::response::from_chat(&answer, &chat.reported, &chat.names);
    commit_point(proxy, candidate, meta, latency, latency, number, status);
    let usage = &message["usage"];
    let count = |k: &str| usage[k].as_u64().unwrap_or(0);
    let tokens = crate::state::usage::Tokens {
        input: count("input_tokens"),
        output: count("output_tokens"),
        cache_write_5m: count("cache_creation_input_tokens"),
        cache_write_1h: 0,
        cache_read: count("cache_read_input_tokens"),
    };
    u.stats.add_usage(tokens.all_input(), tokens.output);
    if let Some(r) = reservation {
        r.settle(tokens.total());
    }
    u.stats.record_success();
    drop(in_flight);
    if let Some(t) = meta.tally(number, Some(&chat.sent), status) {
        let tokens = crate::usage::Reported::Tokens(tokens);
        t.close(&u.shared_id, &u.shared_profile, tokens, false);
    }
    let bytes = Bytes::from(serde_json::to_vec(&message).expect("json"));
    let headers = answer_headers(&head.headers, "application/json");
    Attempt::Commit(respond(status, headers, full(bytes), &u.id, number))
}

/// `count_tokens` for an `openai` endpoint, answered by qcc (an estimate; nothing sent).
pub(super) fn count_tokens(
    body: Option<&RequestBody>,
    endpoint: &str,
    number: usize,
) -> Response<ProxyBody> {
    let parsed = body.and_then(|b| serde_json::from_slice::<Value>(&b.contiguous()).ok());
    let mut out = match parsed {
        Some(request) => crate::proxy::local::count_tokens(&request),
        None => error_response(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "the request body is not JSON",
        ),
    };
    mark(out.headers_mut(), endpoint, number);
    out
}

/// The body an Anthropic endpoint is sent when the conversation holds what only translated
/// turns leave behind (unsigned thinking, qcc's tool ids): see
/// [`crate::openai::request::strip_unsigned_thinking`]. `None`: the body goes as it is.
/// Cheap for every other body: its chunks are searched, never copied.
pub(super) fn fit_for_anthropic(body: &RequestBody) -> Option<RequestBody> {
    use crate::openai::request::{may_hold_translated, strip_unsigned_thinking};
    let chunks = body.chunks();
    // A marker cut between two chunks is found in the seam (the markers are short).
    let seams = chunks.windows(2).any(|w| {
        let (a, b) = (&w[0], &w[1]);
        let mut seam = a[a.len().saturating_sub(16)..].to_vec();
        seam.extend_from_slice(&b[..b.len().min(16)]);
        may_hold_translated(&seam)
    });
    if !seams && !chunks.iter().any(|c| may_hold_translated(c)) {
        return None;
    }
    let fitted = strip_unsigned_thinking(&body.contiguous())?;
    tracing::debug!("translated turns fitted for an Anthropic endpoint");
    Some(RequestBody::from(Bytes::from(fitted)))
}

/// A request this endpoint cannot take (not JSON, not a Messages request): answered with a
/// 400 at once, as an Anthropic endpoint would; not the endpoint's failure.
fn refuse(u: &crate::upstream::Upstream, number: usize, why: &str) -> Attempt {
    let mut r = error_response(StatusCode::BAD_REQUEST, "invalid_request_error", why);
    mark(r.headers_mut(), &u.id, number);
    Attempt::Commit(r)
}

/// The Chat Completions body for this endpoint (its model map applied to the model).
fn chat_request(u: &crate::upstream::Upstream, request: &Value) -> Result<Chat, String> {
    let asked = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sent = crate::state::models::map(&u.models, asked).unwrap_or(asked);
    if u.stats.note_model(asked, sent) {
        tracing::info!(endpoint = %u.id, "model {asked} sent as {sent} (translated)");
    }
    let (chat, names) =
        crate::openai::request::to_chat(request, sent).map_err(|e| e.to_string())?;
    let reported = if u.report_upstream_model { sent } else { asked };
    Ok(Chat {
        body: Bytes::from(serde_json::to_vec(&chat).expect("json")),
        names,
        reported: reported.to_owned(),
        sent: sent.to_owned(),
    })
}

/// The headers sent to an `openai` endpoint: its credential, JSON, and the client's
/// `user-agent`; nothing Anthropic-specific.
fn chat_headers(
    client: &HeaderMap,
    credential: &(HeaderName, HeaderValue),
    stream: bool,
) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(4);
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        http::header::ACCEPT,
        HeaderValue::from_static(if stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    if let Some(agent) = client.get(http::header::USER_AGENT) {
        h.insert(http::header::USER_AGENT, agent.clone());
    }
    let (name, value) = credential;
    h.insert(name.clone(), value.clone());
    h
}

/// The headers a translated answer carries: its content type, the upstream's `retry-after`
/// and request id, and the provider's rate-limit headers, unchanged.
fn answer_headers(upstream: &HeaderMap, content_type: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    for (name, value) in upstream {
        let n = name.as_str();
        if KEPT.contains(&n) || n.starts_with("x-ratelimit-") {
            h.append(name.clone(), value.clone());
        }
    }
    h
}

fn respond(
    status: StatusCode,
    headers: HeaderMap,
    body: ProxyBody,
    endpoint: &str,
    number: usize,
) -> Response<ProxyBody> {
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    mark(out.headers_mut(), endpoint, number);
    out
}

/// Feed the stream to the translator until it has something to send (the commit point),
/// the stream ends, or `limit`.
async fn first_events(
    body: &mut Incoming,
    translator: &mut Translator,
    limit: Duration,
) -> Result<Vec<u8>, String> {
    let read = async {
        loop {
            match next_chunk(body).await {
                Some(Ok(chunk)) => {
                    let out = translator.feed(&chunk);
                    if !out.is_empty() {
                        return Ok(out);
                    }
                }
                Some(Err(e)) => {
                    return Err(format!(
                        "stream failed before its first event: {}",
                        describe(&e)
                    ));
                }
                None => {
                    return match translator.end() {
                        Ok(out) if !out.is_empty() => Ok(out),
                        _ => Err("the stream ended before its first event".into()),
                    };
                }
            }
        }
    };
    match tokio::time::timeout(limit, read).await {
        Err(_) => Err(format!("no first event within {} s", limit.as_secs())),
        Ok(r) => r,
    }
}

/// A whole answer, with at most `idle` between two chunks and [`MAX_ANSWER`] bytes.
async fn read_whole(body: &mut Incoming, idle: Duration) -> Result<Bytes, String> {
    let mut buf = BytesMut::new();
    loop {
        match tokio::time::timeout(idle, next_chunk(body)).await {
            Err(_) => return Err(format!("no data for {} s (idle timeout)", idle.as_secs())),
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(e))) => return Err(format!("the answer broke off: {}", describe(&e))),
            Ok(Some(Ok(chunk))) => {
                if buf.len() + chunk.len() > MAX_ANSWER {
                    return Err("the answer is larger than 32 MiB".into());
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
}
