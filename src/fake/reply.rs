//! `Reply`: what the fake model "says" to one request — model, text (with the nonce echo),
//! token counts — and how the text is cut into word-ish stream deltas.

use serde_json::Value;

/// Model named in replies when the request names none, and listed by `GET /v1/models`.
pub(crate) const FAKE_MODEL: &str = "claude-fake-1";

/// The content of one assistant message.
pub(crate) struct Reply {
    pub id: String,
    pub model: String,
    pub text: String,
    pub input_tokens: u64,
    pub cache: super::CacheUsage,
}

impl Reply {
    /// The reply to request number `seq` whose parsed body is `request` (`body_len` bytes),
    /// naming `default_model` when the request names none. The nonce is looked for in the
    /// request's `messages` (Anthropic's and OpenAI's alike).
    pub fn for_request(
        request: &Value,
        body_len: usize,
        seq: usize,
        configured: &str,
        default_model: &str,
    ) -> Reply {
        let model = request
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(default_model);
        let text = match request.get("messages").and_then(find_nonce) {
            Some(nonce) => format!("{configured} nonce: {nonce}"),
            None => configured.to_owned(),
        };
        Reply {
            id: format!("msg_fake_{seq}"),
            model: model.to_owned(),
            text,
            input_tokens: input_tokens(body_len),
            cache: super::CacheUsage::default(),
        }
    }

    /// The `usage` object of `message_start` / the whole message (with `output`).
    pub fn usage(&self, output: u64) -> Value {
        let mut u = serde_json::json!({"input_tokens": self.input_tokens, "output_tokens": output});
        let c = self.cache;
        if c.write_5m + c.write_1h + c.read > 0 {
            u["cache_creation_input_tokens"] = (c.write_5m + c.write_1h).into();
            u["cache_creation"] = serde_json::json!({
                "ephemeral_5m_input_tokens": c.write_5m,
                "ephemeral_1h_input_tokens": c.write_1h,
            });
            u["cache_read_input_tokens"] = c.read.into();
        }
        u
    }

    /// Output tokens: one per streamed delta.
    pub fn output_tokens(&self) -> u64 {
        chunks(&self.text).len() as u64
    }
}

/// A stand-in token count derived from the body size (about 4 bytes a token, at least 1).
pub(crate) fn input_tokens(body_len: usize) -> u64 {
    (body_len / 4).max(1) as u64
}

/// The text split before each run of whitespace: `"Hello from a."` → `["Hello", " from", " a."]`.
/// Concatenating the pieces gives the text back.
pub(crate) fn chunks(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut prev_space = true;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && !prev_space && i > start {
            pieces.push(&text[start..i]);
            start = i;
        }
        prev_space = space;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// The first token after `nonce:` in any string inside `value` (searched depth-first).
pub(crate) fn find_nonce(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => nonce_in(s),
        Value::Array(items) => items.iter().find_map(find_nonce),
        Value::Object(map) => map.values().find_map(find_nonce),
        _ => None,
    }
}

fn nonce_in(text: &str) -> Option<String> {
    text.match_indices("nonce:").find_map(|(at, marker)| {
        let rest = text[at + marker.len()..].trim_start();
        let token: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!token.is_empty()).then_some(token)
    })
}
