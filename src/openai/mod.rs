//! Anthropic Messages ⇄ OpenAI Chat Completions, as pure functions on JSON values and
//! bytes: the request an `openai` endpoint is sent ([`request`]), its whole answer, its
//! stream and its errors read back into Anthropic's shapes ([`response`], [`stream`],
//! [`error`]). No IO, no clock; the proxy decides when to translate (and sends pings).
//!
//! This is the translation layer of the OpenAI-compatible endpoints (issue 14); the proxy's
//! use of it comes next. docs/openai.md is the mapping.

pub mod error;
pub mod request;
pub mod response;
pub mod stream;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

/// Tool names as the upstream knows them, and back: OpenAI-compatible services take at most
/// [`MAX_TOOL_NAME`] characters, so longer names are shortened with a stable hash and the
/// answer's calls are given their original names again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolNames {
    /// Upstream name → the client's.
    back: HashMap<String, String>,
}

/// The id an upstream tool call is given: [`request::TRANSLATED_ID`] and the upstream's id
/// made Anthropic-valid (`^[a-zA-Z0-9_-]+$`; some services name calls
/// `functions.get_weather:0`), or `fallback` (unique within the message) when it has none.
/// The prefix marks the conversation as translated, so that a later Anthropic attempt
/// knows to check it (see [`request::strip_unsigned_thinking`]).
pub fn tool_id(id: Option<&str>, fallback: &str) -> String {
    let clean: String = id
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        format!("{}{fallback}", request::TRANSLATED_ID)
    } else if clean.starts_with(request::TRANSLATED_ID) {
        clean
    } else {
        format!("{}{clean}", request::TRANSLATED_ID)
    }
}

/// Longest tool name sent upstream.
pub const MAX_TOOL_NAME: usize = 64;

impl ToolNames {
    /// The name to send for a client's tool name (remembered when it changes).
    pub fn shorten(&mut self, name: &str) -> String {
        if name.chars().count() <= MAX_TOOL_NAME {
            return name.to_owned();
        }
        // FNV-1a: stable across runs and builds (a std hasher is not).
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let head: String = name.chars().take(MAX_TOOL_NAME - 17).collect();
        let short = format!("{head}_{hash:016x}");
        self.back.insert(short.clone(), name.to_owned());
        short
    }

    /// The client's name for an upstream tool name.
    pub fn original<'a>(&'a self, name: &'a str) -> &'a str {
        self.back.get(name).map_or(name, String::as_str)
    }
}
