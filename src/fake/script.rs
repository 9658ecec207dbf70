//! `OpenAiReply` and `ToolCall`: what a test scripts an OpenAI-mode fake to answer besides
//! its text — reasoning, tool calls (streamed whole or in pieces), where the finish goes,
//! cached tokens.

use serde_json::Value;

/// The extras of an OpenAI-mode reply. The text itself is the fake's reply text (with the
/// nonce echo, see [`super::FakeUpstream::set_reply_text`]); an empty reply text sends no
/// text (`content: null` when whole). The default is a text-only answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpenAiReply {
    /// Reasoning sent before the text: `reasoning_content` deltas when streamed, the
    /// message's `reasoning_content` when whole.
    pub reasoning: Option<String>,
    /// Tool calls after the text, in order (their `index` is their position).
    pub tool_calls: Vec<ToolCall>,
    /// The `finish_reason` (`None`: `tool_calls` when there are calls, else `stop`).
    pub finish_reason: Option<String>,
    /// Streamed: put the `finish_reason` on the last chunk that carries content instead of
    /// an empty chunk of its own.
    pub finish_with_last_delta: bool,
    /// `usage.prompt_tokens_details.cached_tokens`; counted inside `prompt_tokens` too, as
    /// OpenAI does (`prompt_tokens` = the body-size estimate + this).
    pub cached_tokens: u64,
}

/// One tool call of a scripted reply.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as sent: a JSON text (not necessarily valid, to test that case).
    pub arguments: String,
    /// Streamed: the first chunk carries the id, the name and `arguments: ""`, and the
    /// arguments follow in pieces of their own (only `index` and `function.arguments`).
    /// Otherwise the call comes in one chunk.
    pub split: bool,
}

/// How many pieces split arguments are cut into (fewer when they are shorter).
pub(crate) const ARGUMENT_PIECES: usize = 3;

impl ToolCall {
    /// A call whose arguments (`arguments` as JSON text) stream in one chunk.
    pub fn whole(id: &str, name: &str, arguments: &Value) -> ToolCall {
        ToolCall {
            id: id.to_owned(),
            name: name.to_owned(),
            arguments: arguments.to_string(),
            split: false,
        }
    }

    /// A call whose arguments stream in pieces after a chunk with its id and name.
    pub fn split(id: &str, name: &str, arguments: &Value) -> ToolCall {
        ToolCall {
            split: true,
            ..ToolCall::whole(id, name, arguments)
        }
    }

    /// The argument pieces as streamed after the call's first chunk (none when whole).
    pub(crate) fn pieces(&self) -> Vec<&str> {
        if !self.split {
            return Vec::new();
        }
        let chars = self.arguments.chars().count();
        let per = chars.div_ceil(ARGUMENT_PIECES).max(1);
        let mut bounds: Vec<usize> = (self.arguments.char_indices())
            .map(|(at, _)| at)
            .step_by(per)
            .collect();
        bounds.push(self.arguments.len());
        bounds
            .windows(2)
            .map(|w| &self.arguments[w[0]..w[1]])
            .filter(|piece| !piece.is_empty())
            .collect()
    }
}
