//! Server-sent events as Anthropic's Messages API streams them, in one place: telling an
//! event's end, splitting a stream into events, an event's data, whether it is an
//! `error` event, building one, and reading token usage passively off a stream. Used by the
//! proxy (the commit point, pass-through, the in-band error), the health probe, the queue's
//! replays and the demo. Works on bytes; nothing here does IO. Depends on nothing else in
//! the crate.

use std::sync::LazyLock;

use bytes::{Bytes, BytesMut};
use memchr::memmem::Finder;

/// Where the first event in `buf` ends (just past its blank line), if it is complete. Both
/// `\n\n` and `\r\n\r\n` end an event.
pub fn event_end(buf: &[u8]) -> Option<usize> {
    // Searchers built once (building one per call was a visible share of a request).
    static LF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n\n"));
    static CRLF: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\r\n\r\n"));
    // The first `\n\n`; a `\r\n\r\n` can only end an event before it, so the second
    // search covers that prefix alone (no second pass over a long chunk).
    match LF.find(buf) {
        Some(lf) => Some(CRLF.find(&buf[..lf]).map_or(lf + 2, |i| i + 4)),
        None => CRLF.find(buf).map(|i| i + 4),
    }
}

/// Splits a stream, fed chunk by chunk, into whole events.
#[derive(Default)]
pub struct Events {
    buf: BytesMut,
}

impl Events {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole event (with its blank line), if one has arrived.
    pub fn next_event(&mut self) -> Option<Bytes> {
        let end = event_end(&self.buf)?;
        Some(self.buf.split_to(end).freeze())
    }
}

/// Every whole event of a complete body.
pub fn events(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = body;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = event_end(rest).unwrap_or(rest.len());
        let (event, tail) = rest.split_at(end);
        rest = tail;
        Some(event)
    })
}

/// The lines of an event, without their line ends.
fn lines(event: &[u8]) -> impl Iterator<Item = &[u8]> {
    event
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// The event's data: its `data:` lines, joined by line feeds.
pub fn data(event: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in lines(event).filter_map(|l| l.strip_prefix(b"data:")) {
        if !out.is_empty() {
            out.push(b'\n');
        }
        out.extend_from_slice(d.strip_prefix(b" ").unwrap_or(d));
    }
    out
}

/// Whether an event is an `error` event: its `event:` line says so, or, for a relay that
/// sends no `event:` lines, its data's `type` does. Looks at the first `event:` or `data:`
/// line only, so a long event costs no text conversion.
pub fn is_error(event: &[u8]) -> bool {
    for line in lines(event) {
        let line = line.trim_ascii();
        if let Some(name) = line.strip_prefix(b"event:") {
            return name.trim_ascii() == b"error";
        }
        if let Some(data) = line.strip_prefix(b"data:") {
            #[derive(serde::Deserialize)]
            struct Typed {
                #[serde(rename = "type")]
                kind: String,
            }
            return serde_json::from_slice::<Typed>(data.trim_ascii())
                .is_ok_and(|t| t.kind == "error");
        }
    }
    false
}

/// Whether any event of a complete stream is an `error` event.
pub fn contains_error(body: &[u8]) -> bool {
    events(body).any(is_error)
}

/// One event: `event: NAME`, `data: DATA`, a blank line.
pub fn event(name: &str, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(name.len() + data.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// Reads `usage` from the data lines of `message_start` and `message_delta` events; ignores
/// everything else, without walking a stream line by line. A data line belongs to one of
/// those events exactly when it holds `"message_start"` or `"message_delta"` with its own
/// quotes — inside any string value (a text delta, a tool's partial JSON) the quotes would
/// be escaped — so each chunk is searched once for those markers, and only the line of a
/// hit is read: its `usage` object alone is parsed. A line cut between two chunks is kept
/// (up to [`MAX_CARRY`]) and read once whole.
#[derive(Default)]
pub struct UsageSniffer {
    /// The start of a line the last chunk cut.
    carry: Vec<u8>,
    usage: Usage,
}

/// Token counts of one answer by kind, as Anthropic's `usage` names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens neither read from nor written to the cache.
    pub input: u64,
    pub output: u64,
    /// Written to the cache, with the 5-minute lifetime (`cache_creation_input_tokens`
    /// without a breakdown counts as 5-minute).
    pub cache_write_5m: u64,
    /// Written to the cache with the 1-hour lifetime.
    pub cache_write_1h: u64,
    pub cache_read: u64,
}

impl Usage {
    /// Every input token, whatever the cache did.
    pub fn all_input(&self) -> u64 {
        self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read
    }

    /// A `usage` object (the bytes from its `{`), merged into `self`: input kinds replaced
    /// when it names any input, the output count replaced when it names one.
    fn merge(&mut self, object: &[u8]) {
        // Only the fields read here are deserialized; everything else is skipped.
        #[derive(serde::Deserialize)]
        struct Creation {
            #[serde(default)]
            ephemeral_5m_input_tokens: u64,
            #[serde(default)]
            ephemeral_1h_input_tokens: u64,
        }
        #[derive(serde::Deserialize)]
        struct Raw {
            #[serde(default)]
            input_tokens: u64,
            #[serde(default)]
            cache_creation_input_tokens: u64,
            #[serde(default)]
            cache_read_input_tokens: u64,
            #[serde(default)]
            cache_creation: Option<Creation>,
            output_tokens: Option<u64>,
        }
        let Some(Ok(u)) = serde_json::Deserializer::from_slice(object)
            .into_iter::<Raw>()
            .next()
        else {
            return;
        };
        let (w5, w1) = match u.cache_creation {
            Some(c) if c.ephemeral_5m_input_tokens + c.ephemeral_1h_input_tokens > 0 => {
                (c.ephemeral_5m_input_tokens, c.ephemeral_1h_input_tokens)
            }
            _ => (u.cache_creation_input_tokens, 0),
        };
        if u.input_tokens + w5 + w1 + u.cache_read_input_tokens > 0 {
            self.input = u.input_tokens;
            self.cache_write_5m = w5;
            self.cache_write_1h = w1;
            self.cache_read = u.cache_read_input_tokens;
        }
        if let Some(out) = u.output_tokens {
            self.output = out;
        }
    }
}

/// Longest partial line kept between chunks; longer lines cannot be usage lines.
const MAX_CARRY: usize = 64 * 1024;

static USAGE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\":"));

impl UsageSniffer {
    /// Input tokens, cache writes and reads included (the last `message_start` /
    /// `message_delta` that named them).
    pub fn input(&self) -> u64 {
        self.usage.all_input()
    }

    /// Output tokens (the last count seen).
    pub fn output(&self) -> u64 {
        self.usage.output
    }

    /// Every count, by kind.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Read the next chunk (cut anywhere).
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        if !self.carry.is_empty() {
            // Finish the line the previous chunk cut, and read it whole.
            match memchr::memchr(b'\n', rest) {
                Some(nl) => {
                    self.carry.extend_from_slice(&rest[..nl]);
                    let line = std::mem::take(&mut self.carry);
                    self.line(&line);
                    rest = &rest[nl + 1..];
                }
                None => {
                    if self.carry.len() + rest.len() <= MAX_CARRY {
                        self.carry.extend_from_slice(rest);
                    } else {
                        self.carry.clear();
                    }
                    return;
                }
            }
        }
        // Whole lines here; the tail after the last line feed may be cut.
        let whole = memchr::memrchr(b'\n', rest).map_or(0, |nl| nl + 1);
        let (lines, tail) = rest.split_at(whole);
        static MARK: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"message_"));
        let mut from = 0;
        while let Some(at) = MARK.find(&lines[from..]).map(|i| i + from) {
            let start = memchr::memrchr(b'\n', &lines[..at]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &lines[at..]).map_or(lines.len(), |i| at + i);
            self.line(&lines[start..end]);
            from = end;
        }
        if tail.len() <= MAX_CARRY {
            self.carry.extend_from_slice(tail);
        }
    }

    /// One whole line (without its line feed): a usage line, or nothing of interest.
    fn line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        static START: LazyLock<Finder<'static>> =
            LazyLock::new(|| Finder::new(b"\"message_start\""));
        static DELTA: LazyLock<Finder<'static>> =
            LazyLock::new(|| Finder::new(b"\"message_delta\""));
        if START.find(data).is_none() && DELTA.find(data).is_none() {
            return;
        }
        let Some(at) = USAGE_KEY.find(data) else {
            return;
        };
        self.usage.merge(&data[at + b"\"usage\":".len()..]);
    }
}

/// Reads the top-level `usage` of a whole JSON message: the chunks that hold its last
/// [`WHOLE_TAIL`] bytes are kept as they pass (by reference, no copy), and the last
/// `"usage":` in them is read when asked — later, off the request path (Anthropic writes
/// `usage` last; a tool input that has a `usage` key comes before it).
#[derive(Clone, Debug, Default)]
pub struct WholeUsage {
    /// The last chunk, and the one before when the last is shorter than [`WHOLE_TAIL`]
    /// (no allocation: two reference-counted slices).
    last: Option<Bytes>,
    before: Option<Bytes>,
}

/// Bytes of a whole answer's end kept to find its `usage` in.
const WHOLE_TAIL: usize = 2048;

impl WholeUsage {
    pub fn feed(&mut self, chunk: &Bytes) {
        if chunk.is_empty() {
            return;
        }
        let before = self.last.replace(chunk.clone());
        self.before = if chunk.len() >= WHOLE_TAIL {
            None
        } else {
            // A short last chunk: what came before it, its end only.
            match (before, self.before.take()) {
                (Some(b), _) if b.len() >= WHOLE_TAIL => Some(b.slice(b.len() - WHOLE_TAIL..)),
                (Some(b), Some(older)) => {
                    let mut joined = Vec::with_capacity(WHOLE_TAIL);
                    let keep = WHOLE_TAIL.saturating_sub(b.len()).min(older.len());
                    joined.extend_from_slice(&older[older.len() - keep..]);
                    joined.extend_from_slice(&b);
                    Some(Bytes::from(joined))
                }
                (b, _) => b,
            }
        };
    }

    /// The counts of the answer seen whole (zeros when it named none).
    pub fn usage(&self) -> Usage {
        let mut tail = Vec::with_capacity(WHOLE_TAIL * 2);
        for c in [&self.before, &self.last].into_iter().flatten() {
            tail.extend_from_slice(c);
        }
        let tail = &tail[tail.len().saturating_sub(WHOLE_TAIL * 2)..];
        let mut u = Usage::default();
        if let Some(at) = memchr::memmem::rfind(tail, b"\"usage\":") {
            u.merge(&tail[at + b"\"usage\":".len()..]);
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_answers_have_their_last_usage_read_with_the_cache_breakdown() {
        let body = br#"{"id":"msg_1","content":[{"type":"tool_use","input":{"usage":{"input_tokens":999}}}],"usage":{"input_tokens":7,"cache_creation_input_tokens":30,"cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20},"cache_read_input_tokens":5,"output_tokens":9}}"#;
        for step in [1, 5, 64, body.len()] {
            let mut w = WholeUsage::default();
            for piece in body.chunks(step) {
                w.feed(&Bytes::copy_from_slice(piece));
            }
            assert_eq!(
                w.usage(),
                Usage {
                    input: 7,
                    output: 9,
                    cache_write_5m: 10,
                    cache_write_1h: 20,
                    cache_read: 5
                },
                "step {step}"
            );
        }
        let mut long = WholeUsage::default();
        long.feed(&Bytes::from(vec![b' '; 10_000]));
        long.feed(&Bytes::from_static(
            br#","usage":{"input_tokens":1,"output_tokens":2}}"#,
        ));
        assert_eq!(long.usage().output, 2);
        assert_eq!(WholeUsage::default().usage(), Usage::default());
    }

    #[test]
    fn events_end_at_a_blank_line_of_either_kind() {
        assert_eq!(event_end(b"data: x\n\nrest"), Some(9));
        assert_eq!(event_end(b"data: x\r\n\r\nrest"), Some(11));
        assert_eq!(event_end(b"data: x\n"), None);
        assert_eq!(
            event_end(b"a\r\n\r\nb\n\n"),
            Some(5),
            "the earlier end wins"
        );
        assert_eq!(event_end(b"a\n\nb\r\n\r\n"), Some(3));
        let mut e = Events::default();
        e.push(b"event: a\ndata: 1\n");
        assert_eq!(e.next_event(), None);
        e.push(b"\nevent: b\r\ndata: 2\r\n\r\ndata: 3");
        assert_eq!(e.next_event().unwrap().as_ref(), b"event: a\ndata: 1\n\n");
        let b = e.next_event().unwrap();
        assert_eq!(data(&b), b"2");
        assert_eq!(e.next_event(), None);
        let all: Vec<&[u8]> = events(b"data: 1\n\ndata: 2\n\ntail").collect();
        assert_eq!(all.len(), 3);
        assert_eq!(
            data(b"data: {\ndata:}\n\n"),
            b"{\n}".to_vec(),
            "one space dropped"
        );
    }

    #[test]
    fn error_events_are_recognised_by_name_or_type() {
        assert!(is_error(b"event: error\ndata: {\"type\":\"error\"}\n\n"));
        assert!(is_error(b"data: {\"type\":\"error\",\"error\":{}}\n\n"));
        assert!(!is_error(
            b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
        ));
        assert!(!is_error(b": comment\n"));
        assert!(!is_error(
            b"data: {\"type\":\"message_start\",\"message\":{}}\r\n\r\n"
        ));
        assert!(!is_error(b"data: not json\n\n"));
        assert!(is_error(b"event:error\r\ndata: {}\r\n\r\n"));
        // A whole stream: an error event anywhere, named or not.
        assert!(contains_error(
            b"event: message_start\ndata: {}\n\ndata: {\"type\":\"error\"}\n\n"
        ));
        assert!(!contains_error(b"event: message_stop\ndata: {}\n\n"));
        let built = event("error", b"{\"type\":\"error\"}");
        assert!(is_error(&built) && event_end(&built) == Some(built.len()));
    }

    #[test]
    fn sniffs_usage_across_chunk_boundaries() {
        let mut s = UsageSniffer::default();
        let stream = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"usage\"}}\n\n",
            "event: message_delta\n",
            "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n",
        )
        .as_bytes();
        for piece in stream.chunks(7) {
            s.feed(piece);
        }
        assert_eq!((s.input(), s.output()), (30, 15));
    }

    #[test]
    fn sniffs_usage_without_event_lines_and_with_crlf() {
        let mut s = UsageSniffer::default();
        let stream = concat!(
            "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":7}}}\r\n\r\n",
            "event: content_block_delta\r\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"\\\"message_delta\\\"\"}}\r\n\r\n",
            "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}\r\n\r\n",
        )
        .as_bytes();
        for piece in stream.chunks(5) {
            s.feed(piece);
        }
        assert_eq!((s.input(), s.output()), (7, 3));
    }

    #[test]
    fn named_events_have_only_their_usage_object_read() {
        let mut s = UsageSniffer::default();
        s.feed(concat!(
            "event: message_start\n",
            r#"data: {"type":"message_start","message":{"id":"m","content":[{"type":"text","#,
            r#""text":"a \"usage\": {\"input_tokens\": 999}"}],"usage":{"input_tokens":10,"#,
            r#""cache_creation_input_tokens":2,"cache_read_input_tokens":3,"output_tokens":1}}}"#,
            "\n\n"
        ).as_bytes());
        assert_eq!((s.input(), s.output()), (15, 1));
        s.feed(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":42}}\n\n");
        assert_eq!((s.input(), s.output()), (15, 42));
        assert_eq!(
            s.usage(),
            Usage {
                input: 10,
                output: 42,
                cache_write_5m: 2,
                cache_write_1h: 0,
                cache_read: 3
            },
            "the kinds stay apart"
        );
    }
}
