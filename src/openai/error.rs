//! OpenAI-style error answers in Anthropic's shape, keeping the HTTP status (so failover
//! classifies them as it classifies Anthropic's): `{"error":{"message","type","code"}}` →
//! `{"type":"error","error":{"type","message"}}`. A body that is already Anthropic-shaped
//! passes unchanged.

use serde_json::{Value, json};

/// Anthropic's error type for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// The Anthropic error body for an upstream error answer with `status` and `body`.
pub fn to_anthropic(status: u16, body: &[u8]) -> Vec<u8> {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    if let Some(v) = &parsed
        && v.get("type").and_then(Value::as_str) == Some("error")
        && v.pointer("/error/type").is_some()
    {
        return body.to_vec();
    }
    let message = parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .or_else(|| v.get("error"))
        })
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("upstream answered HTTP {status}")
            } else {
                text.chars().take(500).collect()
            }
        });
    json!({"type": "error", "error": {"type": error_type(status), "message": message}})
        .to_string()
        .into_bytes()
}
