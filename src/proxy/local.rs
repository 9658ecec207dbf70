//! Answers the proxy gives itself instead of an upstream: `count_tokens` for an `openai`
//! endpoint (an estimate: such services have no free counting call, and a billed
//! completion to count would cost money), and `GET /v1/models` when the serving profile's
//! endpoints rename models or speak `openai` (their upstream's list would name models the
//! client cannot ask for). Pure functions of the request and the snapshot; no IO.

use http::{HeaderName, HeaderValue, Response};
use serde_json::{Value, json};

use crate::proxy::body::ProxyBody;
use crate::proxy::error::full;
use crate::proxy::routing::ProfileRoute;
use crate::state::model::EndpointKind;

/// The header marking a `count_tokens` answer as qcc's estimate.
pub static X_QCC_ESTIMATE: HeaderName = HeaderName::from_static("x-qcc-estimate");
/// Tokens counted for an image or document block (Anthropic's own ceiling for an image).
const TOKENS_PER_MEDIA: u64 = 1600;
/// Tokens counted per message for its role and framing.
const TOKENS_PER_MESSAGE: u64 = 4;

fn json_response(v: &Value) -> Response<ProxyBody> {
    let mut r = Response::new(full(serde_json::to_vec(v).expect("json")));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An estimate of a Messages request's input tokens: a token per 4 characters of its
/// text (system, messages, tool definitions), [`TOKENS_PER_MEDIA`] per image or document,
/// [`TOKENS_PER_MESSAGE`] per message.
pub fn estimate_tokens(request: &Value) -> u64 {
    fn walk(v: &Value, chars: &mut u64, media: &mut u64) {
        match v {
            Value::String(s) => *chars += s.chars().count() as u64,
            Value::Array(a) => a.iter().for_each(|x| walk(x, chars, media)),
            Value::Object(o) => {
                if matches!(
                    o.get("type").and_then(Value::as_str),
                    Some("image" | "document")
                ) {
                    *media += 1;
                    return;
                }
                for (k, x) in o {
                    if k != "cache_control" && k != "type" {
                        walk(x, chars, media);
                    }
                }
            }
            _ => {}
        }
    }
    let (mut chars, mut media) = (0, 0);
    for part in ["system", "messages", "tools"] {
        if let Some(v) = request.get(part) {
            walk(v, &mut chars, &mut media);
        }
    }
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, Vec::len) as u64;
    chars.div_ceil(4) + media * TOKENS_PER_MEDIA + messages * TOKENS_PER_MESSAGE
}

/// `count_tokens` answered locally, marked `x-qcc-estimate: chars/4`.
pub fn count_tokens(request: &Value) -> Response<ProxyBody> {
    let mut r = json_response(&json!({"input_tokens": estimate_tokens(request)}));
    r.headers_mut()
        .insert(&X_QCC_ESTIMATE, HeaderValue::from_static("chars/4"));
    r
}

/// The models `profile`'s endpoints serve, from their model maps: each rule's target, and
/// each pattern without a wildcard (a name the client may ask for). `None` when no endpoint
/// renames models or speaks `openai`: the upstream's own list is then the truth.
pub fn models(profile: &ProfileRoute) -> Option<Response<ProxyBody>> {
    let local = profile
        .endpoints
        .iter()
        .any(|u| u.kind == EndpointKind::Openai || !u.models.is_empty());
    if !local {
        return None;
    }
    let mut ids: Vec<(String, String)> = Vec::new();
    for u in &profile.endpoints {
        for rule in &u.models {
            let (pattern, target) = (rule.pattern.as_str(), rule.target.as_str());
            for id in [pattern, target] {
                if !id.contains(['*', '?']) && !ids.iter().any(|(i, _)| i == id) {
                    ids.push((id.to_owned(), u.name.clone()));
                }
            }
        }
    }
    let data: Vec<Value> = ids
        .iter()
        .map(|(id, via)| {
            json!({"type": "model", "id": id, "display_name": format!("{id} (via {via})"),
                   "created_at": "1970-01-01T00:00:00Z"})
        })
        .collect();
    Some(json_response(&json!({
        "data": data,
        "has_more": false,
        "first_id": ids.first().map(|(i, _)| i),
        "last_id": ids.last().map(|(i, _)| i),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_count_text_media_and_messages() {
        let req = json!({
            "model": "m",
            "system": "abcd",
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "12345678", "cache_control": {"type": "ephemeral"}},
                    {"type": "image", "source": {"type": "base64", "data": "x".repeat(10_000)}}
                ]},
                {"role": "assistant", "content": "ok"}
            ],
            "tools": [{"name": "t", "input_schema": {"type": "object"}}]
        });
        // Text: abcd, 12345678, user, assistant, ok, t = 4+8+4+9+2+1 = 28 chars (`type`
        // values and cache markers are not text).
        assert_eq!(
            estimate_tokens(&req),
            7 + TOKENS_PER_MEDIA + 2 * TOKENS_PER_MESSAGE
        );
        assert_eq!(estimate_tokens(&json!({})), 0);
    }
}
