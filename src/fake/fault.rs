//! `Fault`: what the fake upstream does wrong on command, and the error vocabularies that
//! go with an HTTP status: Anthropic's (error type, default message, retry hint) and
//! OpenAI's (error type, code, default message).

use std::time::Duration;

/// One way for the fake upstream to misbehave; `Fault::None` means healthy.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// Answer with this status, an Anthropic-shaped error body for it (400
    /// invalid_request_error, 401 authentication_error, 402 billing_error, 403
    /// permission_error, 404 not_found_error, 408 timeout_error, 413 request_too_large, 429
    /// rate_limit_error, 500/502/503/504 api_error, 529 overloaded_error), `retry-after: N`
    /// when given, `x-should-retry: true` for 408/429/5xx/529. A status outside 100..=999
    /// is answered as 500. In OpenAI mode the body is `{"error":{"message","type","param",
    /// "code"}}` with the type and code of [`openai_error`], and no `x-should-retry`.
    Status {
        status: u16,
        retry_after: Option<u64>,
        message: Option<String>,
    },
    /// Wait this long before sending response headers, then answer normally.
    DelayHeaders(Duration),
    /// Never answer (hold the connection open until the client goes away or shutdown).
    Hang,
    /// Close the TCP connection with a RST (SO_LINGER 0) before any response byte.
    ResetBeforeHeaders,
    /// Streaming request: send 200 + the first K SSE events (OpenAI: `data:` chunks), then
    /// drop the connection abruptly (no terminating chunk, no message_stop or `[DONE]`).
    /// Anything else: reset like `ResetBeforeHeaders`.
    DieAfterEvents(usize),
    /// Stream normally but wait this long before each SSE event (headers go out at once).
    /// A non-streaming response is answered normally.
    SlowStream(Duration),
    /// 200 text/event-stream whose first event is `event: error` with overloaded_error, then
    /// end. OpenAI mode: the first chunk is `data: {"error":{…}}` (a 503-like server_error).
    ErrorEvent,
    /// Meant for OpenAI mode: a streamed answer whose body ends cleanly at the HTTP level
    /// after its content chunks, with no finish chunk, no usage chunk and no `[DONE]`. In
    /// Anthropic mode the stream ends cleanly before `content_block_stop`, `message_delta`
    /// and `message_stop`. A non-streaming request is answered normally.
    EndWithoutDone,
}

impl Fault {
    /// `Fault::Status` with no `retry-after` and the default message.
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
            message: None,
        }
    }

    /// A 429 with `retry-after: secs`.
    pub fn rate_limited(retry_after_secs: u64) -> Fault {
        Fault::Status {
            status: 429,
            retry_after: Some(retry_after_secs),
            message: None,
        }
    }
}

/// The Anthropic `error.type` for an HTTP status.
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 => "timeout_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// The `error.message` used when a fault gives none.
pub(crate) fn default_message(status: u16) -> &'static str {
    match status {
        400 => "Invalid request",
        401 => "invalid x-api-key",
        402 => "Your credit balance is too low",
        403 => "Permission denied",
        404 => "Not found",
        408 => "Request timed out",
        413 => "Request too large",
        429 => "Rate limited",
        502 => "Bad gateway",
        503 => "Service unavailable",
        504 => "Gateway timeout",
        529 => "Overloaded",
        500..=599 => "Internal server error",
        _ => "Error",
    }
}

/// Whether the real API would send `x-should-retry: true` with this status.
pub(crate) fn should_retry(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// OpenAI's `(error.type, error.code, default message)` for an HTTP status, as OpenAI (or
/// the compatible services that copy it) sends them.
pub(crate) fn openai_error(status: u16) -> (&'static str, Option<&'static str>, &'static str) {
    const INVALID: &str = "invalid_request_error";
    const SERVER: &str = "server_error";
    match status {
        400 => (INVALID, None, "Invalid request"),
        401 => (
            INVALID,
            Some("invalid_api_key"),
            "Incorrect API key provided",
        ),
        402 => (
            "insufficient_quota",
            Some("insufficient_quota"),
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        403 => (
            "request_forbidden",
            Some("unsupported_country_region_territory"),
            "Country, region, or territory not supported",
        ),
        404 => (
            INVALID,
            Some("model_not_found"),
            "The model does not exist or you do not have access to it.",
        ),
        408 => (SERVER, Some("timeout"), "Request timed out"),
        413 => (INVALID, Some("request_too_large"), "Request too large"),
        422 => (INVALID, None, "Unprocessable entity"),
        429 => (
            "requests",
            Some("rate_limit_exceeded"),
            "Rate limit reached for requests",
        ),
        502 => (SERVER, None, "Bad gateway"),
        503 => (
            SERVER,
            None,
            "The engine is currently overloaded, please try again later",
        ),
        504 => (SERVER, Some("timeout"), "Gateway timeout"),
        529 => (SERVER, Some("overloaded"), "Overloaded"),
        500..=599 => (
            SERVER,
            None,
            "The server had an error while processing your request. Sorry about that!",
        ),
        _ => (INVALID, None, "Error"),
    }
}
