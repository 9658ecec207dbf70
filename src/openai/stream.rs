//! A Chat Completions stream (`data:` chunks) as Anthropic's stream events, fed as bytes
//! arrive: `message_start` first (content `[]`), one block at a time with sequential
//! indices (reasoning → `thinking`, text → `text`, each tool call → `tool_use` with
//! `input_json_delta` pieces), `message_delta` with the stop reason and usage once the usage
//! chunk after the finish came (or `[DONE]`), then `message_stop`. Lines are decoded whole,
//! so UTF-8 split across chunks is never cut. A stream that ends without `[DONE]` and
//! without a finish is a failure: an `error` event, not a clean end.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::openai::ToolNames;
use crate::openai::response::{stop_reason, usage};

/// The Anthropic `ping` event (sent by the caller while the upstream is silent).
pub const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Thinking(usize),
    Text(usize),
    /// A tool call, by its OpenAI index.
    Tool(u64),
}

#[derive(Debug, Default)]
struct Call {
    id: Option<String>,
    name: Option<String>,
    /// Argument pieces that came before the block could open.
    pending: String,
    /// Its block index once opened.
    block: Option<usize>,
    closed: bool,
}

/// One stream's translation state.
#[derive(Debug)]
pub struct Translator {
    model: String,
    names: ToolNames,
    line: Vec<u8>,
    started: bool,
    next_block: usize,
    open: Option<Open>,
    text_started: bool,
    calls: BTreeMap<u64, Call>,
    finish: Option<String>,
    usage: Option<Value>,
    /// `[DONE]` came, or the stream failed: nothing more is sent.
    ended: bool,
    /// The stream failed (an error chunk, or the end came too early).
    failed: bool,
    /// The stream's id (from its first chunk), for the message and generated tool ids.
    id: String,
    /// What the upstream's error chunk said, if one came: its HTTP-like status.
    error_status: Option<u16>,
}

/// Longest line read from an upstream stream; past it the stream is broken.
pub const MAX_LINE: usize = 8 * 1024 * 1024;

fn event(kind: &str, data: &Value) -> Vec<u8> {
    format!("event: {kind}\ndata: {data}\n\n").into_bytes()
}

/// An Anthropic `error` event.
pub fn error_event(kind: &str, message: &str) -> Vec<u8> {
    event(
        "error",
        &json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

/// The HTTP-like status of an error chunk's `error` object: a numeric `code` (or `status`)
/// when it has one, else its kind read from `code` / `type` (500 when nothing says).
fn error_chunk_status(e: &Value) -> u16 {
    let numeric = ["code", "status"].iter().find_map(|k| match e.get(*k)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    if let Some(n) = numeric.filter(|n| (400..600).contains(n)) {
        return n as u16;
    }
    let words = [e.get("code"), e.get("type")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    match words.as_str() {
        w if w.contains("rate_limit") || w.contains("requests") => 429,
        w if w.contains("quota") || w.contains("billing") => 402,
        w if w.contains("api_key") || w.contains("auth") => 401,
        w if w.contains("overloaded") => 529,
        _ => 500,
    }
}

impl Translator {
    /// A translator naming `model` in its `message_start`, mapping tool names back by `names`.
    pub fn new(model: &str, names: ToolNames) -> Self {
        Self {
            model: model.to_owned(),
            names,
            line: Vec::new(),
            started: false,
            next_block: 0,
            open: None,
            text_started: false,
            calls: BTreeMap::new(),
            finish: None,
            usage: None,
            ended: false,
            failed: false,
            id: String::new(),
            error_status: None,
        }
    }

    /// Whether the stream is over (`[DONE]`, or an error was sent).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Whether it ended in failure (an error chunk came, or [`end`](Self::end) was early).
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Whether the answer is complete but for its closing (a finish came): an end now would
    /// be clean.
    pub fn has_finish(&self) -> bool {
        self.finish.is_some()
    }

    /// The status an upstream error chunk meant (its numeric `code`, or its kind: rate
    /// limit 429, quota 402, key 401, overload 529), if one came.
    pub fn error_status(&self) -> Option<u16> {
        self.error_status
    }

    /// Translate the next bytes of the upstream stream; returns the events to send.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                if self.line.len() >= MAX_LINE && !self.ended {
                    self.line.clear();
                    self.ended = true;
                    self.failed = true;
                    out.extend(error_event(
                        "api_error",
                        "the upstream stream sent a line longer than 8 MiB",
                    ));
                }
                if !self.ended {
                    self.line.push(b);
                }
                continue;
            }
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, &mut out);
        }
        out
    }

    /// The upstream stream ended: the closing events, or `Err` with an error event when it
    /// ended without `[DONE]` and without a finish.
    pub fn end(&mut self) -> Result<Vec<u8>, Vec<u8>> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, &mut out);
        }
        if self.ended {
            return Ok(out);
        }
        if self.finish.is_none() {
            self.ended = true;
            self.failed = true;
            out.extend(error_event(
                "api_error",
                "the upstream stream ended before the answer was complete",
            ));
            return Err(out);
        }
        self.close(&mut out);
        Ok(out)
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return; // comments, `event:` and blank lines carry nothing here
        };
        let data = data.trim_ascii();
        if data == b"[DONE]" {
            self.ensure_started(None, out);
            self.close(out);
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Value>(data) else {
            tracing::warn!("an upstream stream line is not JSON; skipped");
            return;
        };
        self.chunk(&chunk, out);
    }

    fn chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if let Some(e) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the upstream sent an error");
            self.ended = true;
            self.failed = true;
            self.error_status = Some(error_chunk_status(e));
            let kind = crate::openai::error::error_type(self.error_status.unwrap_or(500));
            out.extend(error_event(kind, message));
            return;
        }
        self.ensure_started(chunk.get("id").and_then(Value::as_str), out);
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        if let Some(delta) = choice.get("delta") {
            let reasoning = delta
                .get("reasoning_content")
                .or_else(|| delta.get("reasoning"))
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty());
            // Reasoning after the text started is dropped (one thinking block, first).
            if let Some(r) = reasoning
                && !self.text_started
            {
                let index = match self.open {
                    Some(Open::Thinking(i)) => i,
                    _ => self.open_block(
                        out,
                        Open::Thinking,
                        json!({"type": "thinking", "thinking": "", "signature": ""}),
                    ),
                };
                out.extend(event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "thinking_delta", "thinking": r}}),
                ));
            }
            if let Some(t) = delta
                .get("content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.text_started = true;
                let index = match self.open {
                    Some(Open::Text(i)) => i,
                    _ => self.open_block(out, Open::Text, json!({"type": "text", "text": ""})),
                };
                out.extend(event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "text_delta", "text": t}}),
                ));
            }
            for tc in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.tool_piece(tc, out);
            }
        }
        // Content of the same chunk first, then the finish.
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_owned());
        }
    }

    fn ensure_started(&mut self, id: Option<&str>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = match id.map(|i| crate::openai::tool_id(Some(i), "")) {
            Some(i) => i
                .trim_start_matches(crate::openai::request::TRANSLATED_ID)
                .to_owned(),
            None => format!("{:08x}", rand::random::<u32>()),
        };
        let id = format!("msg_{}", self.id);
        out.extend(event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        ));
    }

    /// Close the open block, open a new one, return its index.
    fn open_block(&mut self, out: &mut Vec<u8>, kind: fn(usize) -> Open, block: Value) -> usize {
        self.close_open(out);
        let index = self.next_block;
        self.next_block += 1;
        out.extend(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        self.open = Some(kind(index));
        index
    }

    fn close_open(&mut self, out: &mut Vec<u8>) {
        let index = match self.open.take() {
            None => return,
            Some(Open::Thinking(i) | Open::Text(i)) => i,
            Some(Open::Tool(k)) => {
                let call = self.calls.get_mut(&k).expect("an open call is known");
                call.closed = true;
                call.block.expect("an open call has a block")
            }
        };
        out.extend(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }

    fn tool_piece(&mut self, tc: &Value, out: &mut Vec<u8>) {
        let key = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
        let call = self.calls.entry(key).or_default();
        if let Some(id) = tc.get("id").and_then(Value::as_str) {
            call.id.get_or_insert_with(|| id.to_owned());
        }
        if let Some(name) = tc.pointer("/function/name").and_then(Value::as_str) {
            call.name.get_or_insert_with(|| name.to_owned());
        }
        let piece = tc
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if call.closed {
            tracing::warn!("arguments for a tool call already closed; dropped");
            return;
        }
        call.pending.push_str(&piece);
        if call.block.is_none() && call.id.is_some() && call.name.is_some() {
            self.open_call(key, out);
        } else if self.open == Some(Open::Tool(key)) {
            self.flush_args(key, out);
        }
    }

    fn open_call(&mut self, key: u64, out: &mut Vec<u8>) {
        self.close_open(out);
        let index = self.next_block;
        self.next_block += 1;
        let call = self.calls.get_mut(&key).expect("known");
        call.block = Some(index);
        let name = self
            .names
            .original(call.name.as_deref().unwrap_or_default())
            .to_owned();
        let id = crate::openai::tool_id(
            call.id.as_deref().filter(|i| !i.is_empty()),
            &format!("{}_{key}", self.id),
        );
        out.extend(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        self.open = Some(Open::Tool(key));
        self.flush_args(key, out);
    }

    fn flush_args(&mut self, key: u64, out: &mut Vec<u8>) {
        let call = self.calls.get_mut(&key).expect("known");
        if call.pending.is_empty() {
            return;
        }
        let piece = std::mem::take(&mut call.pending);
        out.extend(event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": call.block,
                    "delta": {"type": "input_json_delta", "partial_json": piece}}),
        ));
    }

    /// The end: close the open block, open and close the calls never opened, then
    /// `message_delta` and `message_stop`.
    fn close(&mut self, out: &mut Vec<u8>) {
        self.close_open(out);
        let unopened: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, c)| c.block.is_none())
            .map(|(k, _)| *k)
            .collect();
        for key in unopened {
            self.open_call(key, out);
            self.close_open(out);
        }
        let u = usage(self.usage.as_ref());
        let reason = stop_reason(self.finish.as_deref(), !self.calls.is_empty());
        out.extend(event(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": null},
                    "usage": u}),
        ));
        out.extend(event("message_stop", &json!({"type": "message_stop"})));
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chunks_say_what_they_are() {
        let status = |v: Value| error_chunk_status(&v);
        assert_eq!(status(json!({"code": 429, "message": "slow down"})), 429);
        assert_eq!(status(json!({"code": "402"})), 402);
        assert_eq!(
            status(json!({"type": "requests", "code": "rate_limit_exceeded"})),
            429
        );
        assert_eq!(status(json!({"type": "insufficient_quota"})), 402);
        assert_eq!(status(json!({"code": "invalid_api_key"})), 401);
        assert_eq!(status(json!({"message": "?"})), 500);
        // `"error": null` in a chunk is no error.
        let mut t = Translator::new("m", ToolNames::default());
        let out = t.feed(b"data: {\"id\":\"a\",\"error\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n");
        assert!(!t.is_failed());
        assert!(String::from_utf8(out).unwrap().contains("text_delta"));
    }

    #[test]
    fn a_line_without_end_is_cut_at_the_limit() {
        let mut t = Translator::new("m", ToolNames::default());
        let out = t.feed(&vec![b'x'; MAX_LINE + 10]);
        assert!(t.is_failed() && t.is_ended());
        assert!(String::from_utf8(out).unwrap().contains("event: error"));
        assert!(
            t.feed(b"data: [DONE]\n").is_empty(),
            "nothing after the error"
        );
    }
}
