//! An Anthropic Messages request as an OpenAI Chat Completions request: system, text,
//! images, tool calls and results (results first in their turn), tools and tool choice,
//! stop sequences, sampling, the user id, and usage asked for in streams.
//!
//! Dropped, on purpose: `cache_control` markers, thinking blocks and the `thinking` budget
//! (no common OpenAI field takes them), server tools (web search: the upstream has none, and
//! a `tool_choice` naming one goes too), `top_k`, and Claude Code's attribution line at the
//! start of `system` (`x-anthropic-billing-header: …`).

use serde_json::{Map, Value, json};

use crate::openai::ToolNames;

/// Why a body cannot be translated (it is not an Anthropic Messages request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the request body is not a JSON object")]
    NotAnObject,
    #[error("the request has no `messages` array")]
    NoMessages,
}

/// Most `stop` sequences OpenAI accepts.
pub const MAX_STOP: usize = 4;

/// The Chat Completions body for Anthropic request `body`, asking for `model`; and the tool
/// names as sent (to map the answer's calls back).
pub fn to_chat(body: &Value, model: &str) -> Result<(Value, ToolNames), RequestError> {
    let req = body.as_object().ok_or(RequestError::NotAnObject)?;
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or(RequestError::NoMessages)?;
    let mut names = ToolNames::default();
    let mut out = Map::new();
    out.insert("model".into(), model.into());

    let mut chat = Vec::new();
    if let Some(system) = req.get("system").and_then(system_text) {
        chat.push(json!({"role": "system", "content": system}));
    }
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        match role {
            "assistant" => chat.extend(assistant(m.get("content"), &mut names)),
            _ => chat.extend(user(m.get("content"))),
        }
    }
    out.insert("messages".into(), Value::Array(chat));

    for (from, to) in [
        ("max_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
    ] {
        if let Some(v) = req.get(from) {
            out.insert(to.into(), v.clone());
        }
    }
    if let Some(stops) = req.get("stop_sequences").and_then(Value::as_array) {
        let stops: Vec<Value> = stops.iter().take(MAX_STOP).cloned().collect();
        if !stops.is_empty() {
            out.insert("stop".into(), Value::Array(stops));
        }
    }
    if let Some(user) = body.pointer("/metadata/user_id").and_then(Value::as_str) {
        out.insert("user".into(), user.into());
    }
    let tools = tools(req.get("tools"), &mut names);
    if let Some(choice) = req.get("tool_choice") {
        tool_choice(choice, &tools, &mut names, &mut out);
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), true.into());
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok((Value::Object(out), names))
}

/// `system` as one text (blocks joined by newlines), without Claude Code's attribution line.
fn system_text(system: &Value) -> Option<String> {
    let text = match system {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .filter(|t| !t.starts_with("x-anthropic-billing-header:"))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// Content as blocks (a plain string is one text block).
fn blocks(content: Option<&Value>) -> Vec<Value> {
    match content {
        Some(Value::String(s)) => vec![json!({"type": "text", "text": s})],
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    }
}

/// An image block as an OpenAI `image_url` part.
fn image_part(block: &Value) -> Option<Value> {
    let source = block.get("source")?;
    let url = match source.get("type").and_then(Value::as_str)? {
        "base64" => format!(
            "data:{};base64,{}",
            source.get("media_type")?.as_str()?,
            source.get("data")?.as_str()?
        ),
        "url" => source.get("url")?.as_str()?.to_owned(),
        _ => return None,
    };
    Some(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// Parts as OpenAI `content`: a plain string when it is text only.
fn content_value(parts: Vec<Value>) -> Value {
    if parts.iter().all(|p| p["type"] == "text") {
        let text: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        Value::String(text.join("\n"))
    } else {
        Value::Array(parts)
    }
}

/// A user turn: one `tool` message per tool result first (images in results follow in a
/// user message), then the turn's own text and images.
fn user(content: Option<&Value>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut result_images = Vec::new();
    let mut parts = Vec::new();
    for b in blocks(content) {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(json!({"type": "text", "text": b["text"]})),
            Some("image") => parts.extend(image_part(&b)),
            Some("tool_result") => {
                let mut text = Vec::new();
                for inner in blocks(b.get("content")) {
                    match inner.get("type").and_then(Value::as_str) {
                        Some("text") => text.extend(inner["text"].as_str().map(str::to_owned)),
                        Some("image") => result_images.extend(image_part(&inner)),
                        _ => {}
                    }
                }
                let mut text = text.join("\n");
                if b.get("is_error").and_then(Value::as_bool) == Some(true) {
                    text = format!("Error: {text}");
                }
                out.push(json!({
                    "role": "tool",
                    "tool_call_id": b.get("tool_use_id").cloned().unwrap_or(Value::Null),
                    "content": text,
                }));
            }
            _ => {}
        }
    }
    if !result_images.is_empty() {
        out.push(json!({"role": "user", "content": result_images}));
    }
    if !parts.is_empty() {
        out.push(json!({"role": "user", "content": content_value(parts)}));
    }
    out
}

/// An assistant turn: its text, and its tool calls with their arguments as JSON strings.
fn assistant(content: Option<&Value>, names: &mut ToolNames) -> Option<Value> {
    let mut text = Vec::new();
    let mut calls = Vec::new();
    for b in blocks(content) {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.extend(b["text"].as_str().map(str::to_owned)),
            Some("tool_use") => {
                let name = names.shorten(b["name"].as_str().unwrap_or_default());
                let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
                calls.push(json!({
                    "id": b["id"],
                    "type": "function",
                    "function": {"name": name, "arguments": input.to_string()},
                }));
            }
            _ => {}
        }
    }
    if text.is_empty() && calls.is_empty() {
        return None;
    }
    let mut m = Map::new();
    m.insert("role".into(), "assistant".into());
    m.insert(
        "content".into(),
        if text.is_empty() {
            Value::Null
        } else {
            Value::String(text.join("\n"))
        },
    );
    if !calls.is_empty() {
        m.insert("tool_calls".into(), Value::Array(calls));
    }
    Some(Value::Object(m))
}

/// Client tools as functions (a schema always has a `type`); server tools are dropped.
fn tools(tools: Option<&Value>, names: &mut ToolNames) -> Vec<Value> {
    let Some(tools) = tools.and_then(Value::as_array) else {
        return Vec::new();
    };
    tools
        .iter()
        .filter(|t| t.get("input_schema").is_some())
        .map(|t| {
            let mut schema = t["input_schema"].clone();
            if let Some(o) = schema.as_object_mut() {
                o.entry("type").or_insert_with(|| "object".into());
            }
            let mut f = Map::new();
            f.insert(
                "name".into(),
                names.shorten(t["name"].as_str().unwrap_or_default()).into(),
            );
            if let Some(d) = t.get("description") {
                f.insert("description".into(), d.clone());
            }
            f.insert("parameters".into(), schema);
            json!({"type": "function", "function": f})
        })
        .collect()
}

/// `tool_choice`, and `disable_parallel_tool_use` as `parallel_tool_calls: false`. A choice
/// naming a tool that was not sent (a server tool) is left out.
fn tool_choice(
    choice: &Value,
    tools: &[Value],
    names: &mut ToolNames,
    out: &mut Map<String, Value>,
) {
    let picked = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => Some(json!("auto")),
        Some("any") => Some(json!("required")),
        Some("none") => Some(json!("none")),
        Some("tool") => {
            let name = names.shorten(choice["name"].as_str().unwrap_or_default());
            tools
                .iter()
                .any(|t| t["function"]["name"] == name.as_str())
                .then(|| json!({"type": "function", "function": {"name": name}}))
        }
        _ => None,
    };
    if tools.is_empty() {
        return;
    }
    if let Some(p) = picked {
        out.insert("tool_choice".into(), p);
    }
    if choice
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
        == Some(true)
    {
        out.insert("parallel_tool_calls".into(), false.into());
    }
}

/// The prefix of every tool call id an `openai` endpoint's answer is given
/// ([`crate::openai::tool_id`]): a conversation holding it went through translation.
pub const TRANSLATED_ID: &str = "toolu_qcc_";

/// Whether an Anthropic request may carry what only a translated answer leaves behind:
/// a thinking block with an empty signature, or a tool call id qcc made. Cheap: three
/// substring searches, no parse.
pub fn may_hold_translated(body: &[u8]) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static MARKS: LazyLock<[Finder<'static>; 3]> = LazyLock::new(|| {
        [
            Finder::new(b"\"signature\":\"\""),
            Finder::new(b"\"signature\": \"\""),
            Finder::new(TRANSLATED_ID.as_bytes()),
        ]
    });
    MARKS.iter().any(|m| m.find(body).is_some())
}

/// An Anthropic request made fit for an Anthropic endpoint after translated turns:
/// thinking blocks no Anthropic endpoint signed (empty or missing `signature`) removed, and
/// — when `thinking` is on but the last assistant turn no longer starts with a signed
/// thinking block, which Anthropic requires in a tool loop — the `thinking` parameter
/// removed for this request. `None` when nothing had to change (the body goes as it is).
pub fn strip_unsigned_thinking(body: &[u8]) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let unsigned = |b: &Value| {
        b.get("type").and_then(Value::as_str) == Some("thinking")
            && b.get("signature")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
    };
    let mut changed = false;
    let messages = v.get_mut("messages")?.as_array_mut()?;
    for m in messages.iter_mut() {
        let Some(content) = m.get_mut("content").and_then(Value::as_array_mut) else {
            continue;
        };
        let before = content.len();
        content.retain(|b| !unsigned(b));
        if content.len() != before {
            changed = true;
            if content.is_empty() {
                // A turn of nothing but thinking: an empty content would be refused.
                content.push(json!({"type": "text", "text": "(thinking omitted)"}));
            }
        }
    }
    let last_signed = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .is_none_or(|m| {
            m.get("content")
                .and_then(Value::as_array)
                .and_then(|c| c.first())
                .and_then(|b| b.get("type"))
                .and_then(Value::as_str)
                .is_some_and(|t| t == "thinking" || t == "redacted_thinking")
        });
    let thinking_on = v
        .pointer("/thinking/type")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "disabled");
    if thinking_on && !last_signed {
        v.as_object_mut()?.remove("thinking");
        changed = true;
    }
    changed.then(|| serde_json::to_vec(&v).expect("json"))
}
