//! An OpenAI Chat Completions answer (whole, not streamed) as an Anthropic message: content
//! in order (reasoning as `thinking`, text, tool calls as `tool_use` with parsed input), the
//! stop reason, and usage with cached tokens counted apart (OpenAI counts them inside
//! `prompt_tokens`, Anthropic outside).

use serde_json::{Map, Value, json};

use crate::openai::ToolNames;

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`. A `tool_calls` finish without
/// a call is `end_turn` (else the client waits for a tool that never comes).
pub fn stop_reason(finish: Option<&str>, has_tool_calls: bool) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls") | Some("function_call") if has_tool_calls => "tool_use",
        Some("content_filter") => "refusal",
        _ if has_tool_calls => "tool_use",
        _ => "end_turn",
    }
}

/// Anthropic's usage for OpenAI's `usage` object.
pub fn usage(u: Option<&Value>) -> Value {
    let n = |p: &str| u.and_then(|u| u.pointer(p)).and_then(Value::as_u64);
    let prompt = n("/prompt_tokens").unwrap_or(0);
    let cached = n("/prompt_tokens_details/cached_tokens")
        .unwrap_or(0)
        .min(prompt);
    json!({
        "input_tokens": prompt - cached,
        "output_tokens": n("/completion_tokens").unwrap_or(0),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    })
}

/// A tool call's arguments as `input`: the parsed object; arguments that do not parse are
/// kept as a string field rather than losing the answer.
pub fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => json!({ "value": other }),
        Err(_) => {
            tracing::warn!("a tool call's arguments are not JSON; passed on as a string");
            json!({ "arguments": arguments })
        }
    }
}

/// The Anthropic message for Chat Completions answer `answer`, naming `model`.
pub fn from_chat(answer: &Value, model: &str, names: &ToolNames) -> Value {
    let choice = answer.pointer("/choices/0");
    let message = choice.and_then(|c| c.get("message"));
    let mut content = Vec::new();
    if let Some(r) = message
        .and_then(|m| m.get("reasoning_content").or_else(|| m.get("reasoning")))
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        content.push(json!({"type": "thinking", "thinking": r, "signature": ""}));
    }
    if let Some(t) = message
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "text", "text": t}));
    }
    let calls = message
        .and_then(|m| m.get("tool_calls"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, call) in calls.iter().enumerate() {
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let message_id = answer.get("id").and_then(Value::as_str).unwrap_or("chat");
        let id = crate::openai::tool_id(
            call.get("id")
                .and_then(Value::as_str)
                .filter(|i| !i.is_empty()),
            &format!("{message_id}_{i}"),
        );
        content.push(json!({
            "type": "tool_use",
            "id": id,
            "name": names.original(name),
            "input": tool_input(args),
        }));
    }
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str);
    let id = answer.get("id").and_then(Value::as_str).unwrap_or("chat");
    let mut m = Map::new();
    m.insert("id".into(), format!("msg_{id}").into());
    m.insert("type".into(), "message".into());
    m.insert("role".into(), "assistant".into());
    m.insert("model".into(), model.into());
    m.insert("content".into(), Value::Array(content));
    m.insert(
        "stop_reason".into(),
        stop_reason(finish, !calls.is_empty()).into(),
    );
    m.insert("stop_sequence".into(), Value::Null);
    m.insert("usage".into(), usage(answer.get("usage")));
    Value::Object(m)
}
