//! OpenAI Chat Completions answers: the whole `chat.completion`, the `data:` chunks of a
//! streamed one (role, reasoning, text, tool calls, finish, usage, `[DONE]`), the in-band
//! error chunk, `GET /v1/models`, and the `{"error":{…}}` bodies.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::fault::openai_error;
use super::reply::{Reply, chunks};
use super::script::{OpenAiReply, ToolCall};

/// Model named in replies when the request names none, and listed by `GET /v1/models`.
pub(crate) const OPENAI_MODEL: &str = "gpt-fake-1";

/// One answer: the reply (model, text, prompt estimate) with the scripted extras.
pub(crate) struct Completion {
    id: String,
    created: u64,
    reply: Reply,
    script: OpenAiReply,
}

impl Completion {
    /// The answer to request number `seq`.
    pub fn new(reply: Reply, script: OpenAiReply, seq: usize) -> Completion {
        let created = SystemTime::now().duration_since(UNIX_EPOCH);
        Completion {
            id: format!("chatcmpl-fake-{seq}"),
            created: created.map_or(0, |since| since.as_secs()),
            reply,
            script,
        }
    }

    fn finish_reason(&self) -> &str {
        match &self.script.finish_reason {
            Some(reason) => reason,
            None if self.script.tool_calls.is_empty() => "stop",
            None => "tool_calls",
        }
    }

    /// Completion tokens: one per streamed content delta.
    fn completion_tokens(&self) -> u64 {
        let reasoning = self
            .script
            .reasoning
            .as_deref()
            .map_or(0, |r| chunks(r).len());
        let calls = self.script.tool_calls.iter();
        let call_chunks: usize = calls.map(|call| 1 + call.pieces().len()).sum();
        (reasoning + chunks(&self.reply.text).len() + call_chunks) as u64
    }

    fn usage(&self) -> Value {
        let cached = self.script.cached_tokens;
        let prompt = self.reply.input_tokens + cached;
        let completion = self.completion_tokens();
        json!({
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        })
    }

    /// A `chat.completion.chunk` with `delta`; `usage: null` on it when usage was asked for.
    fn chunk(&self, delta: Value, include_usage: bool) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.reply.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": null}],
        });
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }
}

/// The non-streaming `chat.completion` object.
pub(crate) fn completion(c: &Completion) -> Value {
    let text = &c.reply.text;
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    let content = (!text.is_empty()).then(|| Value::from(text.as_str()));
    message.insert("content".into(), content.unwrap_or(Value::Null));
    if let Some(reasoning) = &c.script.reasoning {
        message.insert("reasoning_content".into(), reasoning.as_str().into());
    }
    if !c.script.tool_calls.is_empty() {
        let calls = c.script.tool_calls.iter().map(whole_call);
        message.insert("tool_calls".into(), calls.collect());
    }
    json!({
        "id": c.id,
        "object": "chat.completion",
        "created": c.created,
        "model": c.reply.model,
        "choices": [{"index": 0, "message": message, "finish_reason": c.finish_reason()}],
        "usage": c.usage(),
    })
}

fn whole_call(call: &ToolCall) -> Value {
    json!({
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    })
}

/// The `delta`s of a streamed answer that carry content, in order: reasoning, text, then
/// each tool call (a split one as its head and its argument pieces).
fn content_deltas(c: &Completion) -> Vec<Value> {
    let reasoning = c
        .script
        .reasoning
        .as_deref()
        .map(chunks)
        .unwrap_or_default();
    let mut deltas: Vec<Value> = (reasoning.into_iter())
        .map(|piece| json!({"reasoning_content": piece}))
        .collect();
    let text = chunks(&c.reply.text).into_iter();
    deltas.extend(text.map(|piece| json!({"content": piece})));
    for (index, call) in c.script.tool_calls.iter().enumerate() {
        let arguments = if call.split { "" } else { &call.arguments };
        deltas.push(json!({"tool_calls": [{
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": arguments},
        }]}));
        deltas.extend(call.pieces().into_iter().map(
            |piece| json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
        ));
    }
    deltas
}

/// The chunks of a streamed answer, each encoded: the role chunk, the content, and — when
/// `finished` — the finish, the usage chunk (when `include_usage`) and `[DONE]`.
pub(crate) fn stream(c: &Completion, include_usage: bool, finished: bool) -> Vec<Bytes> {
    let role = json!({"role": "assistant", "content": ""});
    let deltas = std::iter::once(role).chain(content_deltas(c));
    let mut chunks: Vec<Value> = deltas.map(|d| c.chunk(d, include_usage)).collect();
    if !finished {
        return chunks.iter().map(data).collect();
    }
    let finish = c.finish_reason();
    // The role chunk alone carries no content to ride on.
    let rides = c.script.finish_with_last_delta && chunks.len() > 1;
    match chunks.last_mut() {
        Some(last) if rides => {
            last["choices"][0]["finish_reason"] = finish.into();
        }
        _ => {
            let mut end = c.chunk(json!({}), include_usage);
            end["choices"][0]["finish_reason"] = finish.into();
            chunks.push(end);
        }
    }
    if include_usage {
        let mut usage = c.chunk(json!({}), true);
        usage["choices"] = json!([]);
        usage["usage"] = c.usage();
        chunks.push(usage);
    }
    let mut encoded: Vec<Bytes> = chunks.iter().map(data).collect();
    encoded.push(Bytes::from_static(b"data: [DONE]\n\n"));
    encoded
}

/// `data: <json>\n\n`.
fn data(chunk: &Value) -> Bytes {
    Bytes::from(format!("data: {chunk}\n\n"))
}

/// The in-band error a service sends as its stream's first chunk (then it ends).
pub(crate) fn error_chunk() -> Bytes {
    data(&error_body(503, None))
}

/// `{"error":{"message","type","param","code"}}` for `status`.
pub(crate) fn error_body(status: u16, message: Option<&str>) -> Value {
    let (kind, code, default) = openai_error(status);
    error_value(message.unwrap_or(default), kind, code)
}

/// OpenAI's 404 for a path it does not serve; `target` is `METHOD /path`.
pub(crate) fn invalid_url(target: &str) -> Value {
    let message = format!("Invalid URL ({target})");
    error_value(&message, "invalid_request_error", None)
}

fn error_value(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// `GET /v1/models`.
pub(crate) fn models() -> Value {
    json!({
        "object": "list",
        "data": [{"id": OPENAI_MODEL, "object": "model", "created": 1_700_000_000,
                  "owned_by": "qcc-fake"}],
    })
}
