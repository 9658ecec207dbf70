//! Building responses: common headers (Anthropic's or OpenAI's, by the ticket's protocol),
//! JSON bodies (Message, count_tokens, models, errors) and the SSE events of a streamed
//! Message.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::body::{FakeBody, full};
use super::fault::{default_message, error_type, should_retry};
use super::reply::{FAKE_MODEL, Reply, chunks};
use super::{Protocol, Ticket, openai};

const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const REQUESTS_REMAINING: HeaderName =
    HeaderName::from_static("anthropic-ratelimit-requests-remaining");
const SHOULD_RETRY: HeaderName = HeaderName::from_static("x-should-retry");
const OPENAI_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const OPENAI_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining-requests");

/// A response with the headers every answer of the ticket's protocol carries.
fn base(status: StatusCode, ticket: &Ticket, body: FakeBody) -> Response<FakeBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let (id_header, remaining) = match ticket.protocol {
        Protocol::Anthropic => (REQUEST_ID, REQUESTS_REMAINING),
        Protocol::OpenAi => (OPENAI_REQUEST_ID, OPENAI_REMAINING),
    };
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&ticket.request_id) {
        headers.insert(id_header, id);
    }
    headers.insert(remaining, HeaderValue::from_static("999"));
    for (name, _) in &ticket.extra_headers {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            headers.remove(name);
        }
    }
    for (name, value) in &ticket.extra_headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    response
}

/// `status` with a JSON body.
pub(crate) fn json(status: StatusCode, ticket: &Ticket, value: &Value) -> Response<FakeBody> {
    let mut response = base(status, ticket, full(value.to_string()));
    let content_type = HeaderValue::from_static("application/json");
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// 200 with no body.
pub(crate) fn empty(ticket: &Ticket) -> Response<FakeBody> {
    base(StatusCode::OK, ticket, full(Bytes::new()))
}

/// 200 `text/event-stream` around an event body.
pub(crate) fn event_stream(ticket: &Ticket, body: FakeBody) -> Response<FakeBody> {
    let mut response = base(StatusCode::OK, ticket, body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// An error response for `status` in the ticket's protocol (500 when `status` is not a
/// valid code); `x-should-retry` is Anthropic's alone.
pub(crate) fn error(
    status: u16,
    ticket: &Ticket,
    message: Option<&str>,
    retry_after: Option<u64>,
) -> Response<FakeBody> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let status = code.as_u16();
    let anthropic = ticket.protocol == Protocol::Anthropic;
    let body = if anthropic {
        let message = message.unwrap_or(default_message(status));
        error_body(status, message, &ticket.request_id)
    } else {
        openai::error_body(status, message)
    };
    let mut response = json(code, ticket, &body);
    let headers = response.headers_mut();
    if let Some(secs) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if anthropic && should_retry(status) {
        headers.insert(SHOULD_RETRY, HeaderValue::from_static("true"));
    }
    response
}

/// The 404 for a route the protocol does not have; `target` is `METHOD /path`.
pub(crate) fn not_found(ticket: &Ticket, target: &str) -> Response<FakeBody> {
    match ticket.protocol {
        Protocol::Anthropic => error(404, ticket, None, None),
        Protocol::OpenAi => json(StatusCode::NOT_FOUND, ticket, &openai::invalid_url(target)),
    }
}

fn error_body(status: u16, message: &str, request_id: &str) -> Value {
    json!({
        "type": "error",
        "error": {"type": error_type(status), "message": message},
        "request_id": request_id,
    })
}

/// The non-streaming Message object.
pub(crate) fn message(reply: &Reply) -> Value {
    json!({
        "id": reply.id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": reply.usage(reply.output_tokens()),
    })
}

/// `POST /v1/messages/count_tokens`.
pub(crate) fn count_tokens(input_tokens: u64) -> Value {
    json!({ "input_tokens": input_tokens })
}

/// `GET /v1/models`.
pub(crate) fn models() -> Value {
    json!({
        "data": [{"type": "model", "id": FAKE_MODEL, "display_name": "Claude Fake"}],
        "has_more": false,
        "first_id": FAKE_MODEL,
        "last_id": FAKE_MODEL,
    })
}

/// The full event sequence of a streamed Message, each event encoded.
pub(crate) fn message_events(reply: &Reply) -> Vec<Bytes> {
    let mut events = vec![
        message_start(reply),
        json!({"type": "content_block_start", "index": 0,
               "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
    ];
    events.extend(chunks(&reply.text).into_iter().map(|piece| {
        json!({"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": piece}})
    }));
    events.extend([
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta",
               "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": reply.output_tokens()}}),
        json!({"type": "message_stop"}),
    ]);
    events.iter().map(sse_event).collect()
}

fn message_start(reply: &Reply) -> Value {
    json!({
        "type": "message_start",
        "message": {
            "id": reply.id,
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": reply.usage(1),
        },
    })
}

/// The in-band `event: error` a relay sends instead of the stream.
pub(crate) fn overloaded_event() -> Bytes {
    sse_event(&json!({
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }))
}

/// `event: <type>\ndata: <json>\n\n`.
fn sse_event(data: &Value) -> Bytes {
    let name = data
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}
