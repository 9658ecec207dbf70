//! Reading the two fields of a request body the proxy needs — `stream` and
//! `metadata.user_id` — without parsing the body.
//!
//! The top-level object is walked **from its end**: Claude Code puts `stream` last and
//! `metadata` just before a few small members, while the ~70 KB of messages, system prompt
//! and tools come first. Walking backwards stops as soon as what is wanted is found, so a
//! Claude Code turn costs a scan of a few hundred bytes. A JSON string can be crossed
//! backwards as safely as forwards: inside a string every `"` is escaped, i.e. preceded by
//! an odd run of backslashes. Other values are skipped by matching brackets outside strings.
//!
//! The forward walk (strings jump from quote to quote with `memchr`) is the reference, kept
//! for bodies the backward walk cannot make sense of. A body that is not a JSON object
//! reads as "not streaming, no session", as a failed parse did. With duplicate keys the last
//! one counts, in both directions.

use crate::proxy::request_body::RequestBody;
use bytes::Bytes;

/// What the proxy wants to know of a body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peeked {
    pub stream: bool,
    pub user_id: Option<String>,
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `i` at an opening quote; returns the index after the closing quote.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[j] == b'\\' {
            j += 2;
        } else {
            return Some(j + 1);
        }
    }
}

/// `i` at the start of a value; returns the index after it.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// Walk an object at `i`, calling `f(key, value_start)` for each member; `f` returns the
/// index after the value (or `None` to skip it the default way).
fn members(b: &[u8], i: usize, mut f: impl FnMut(&[u8], usize) -> Option<usize>) -> Option<()> {
    let mut i = ws(b, i);
    if *b.get(i)? != b'{' {
        return None;
    }
    i = ws(b, i + 1);
    if *b.get(i)? == b'}' {
        return Some(());
    }
    loop {
        if *b.get(i)? != b'"' {
            return None;
        }
        let end = skip_string(b, i)?;
        let key = &b[i + 1..end - 1];
        i = ws(b, end);
        if *b.get(i)? != b':' {
            return None;
        }
        let value = ws(b, i + 1);
        i = match f(key, value) {
            Some(after) => after,
            None => skip_value(b, value)?,
        };
        i = ws(b, i);
        match *b.get(i)? {
            b',' => i = ws(b, i + 1),
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

/// The byte range of the top-level `model` string (quotes included), walking forward from
/// the start (clients put `model` first) and stopping there. `None` when `b` holds no such
/// member before it ends (it may be only the start of a body) or is not a JSON object.
pub fn model_span(b: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut found = None;
    let _ = members(b, 0, |key, at| {
        if key == b"model" && b.get(at) == Some(&b'"') {
            let end = skip_string(b, at)?;
            found = Some(at..end);
            // Stop the walk: `None` from the walker after `found` is set means "done".
            return Some(usize::MAX);
        }
        None
    });
    found
}

/// The request's top-level `model`, decoded, found without parsing ([`model_span`]): in the
/// first chunk when it is there (clients put `model` first), else in the whole body (a
/// copy; rare). `None` when the body names no model as a string. Read only when model
/// routes exist.
pub fn model(body: &RequestBody) -> Option<String> {
    let first = body.chunks().first()?;
    if let Some(span) = model_span(first) {
        return serde_json::from_slice(&first[span]).ok();
    }
    if body.is_single() {
        return None;
    }
    let whole = body.contiguous();
    let span = model_span(&whole)?;
    serde_json::from_slice(&whole[span]).ok()
}

/// The request's top-level `model` as the body spells it, when that is in the first chunk
/// and needs no unescaping: a slice of that chunk (no copy), for the metrics' `model`
/// label. `None` otherwise (the label is then `unknown`).
pub fn model_bytes(body: &RequestBody) -> Option<Bytes> {
    let first = body.chunks().first()?;
    let span = model_span(first)?;
    let raw = first.slice(span.start + 1..span.end - 1);
    (!raw.contains(&b'\\') && std::str::from_utf8(&raw).is_ok()).then_some(raw)
}

/// Read `stream` and, when `want_user_id`, `metadata.user_id` from a request body.
pub fn peek(body: &[u8], want_user_id: bool) -> Peeked {
    peek_backward(body, want_user_id, Whole::Yes).unwrap_or_else(|| peek_forward(body))
}

/// [`peek`] a body held in chunks: from its last chunk alone when that holds what is
/// wanted (it does for a Claude Code turn), else from a contiguous copy.
pub fn peek_body(body: &RequestBody, want_user_id: bool) -> Peeked {
    if body.is_single() {
        return peek(body.last_chunk(), want_user_id);
    }
    peek_backward(body.last_chunk(), want_user_id, Whole::No)
        .unwrap_or_else(|| peek(&body.contiguous(), want_user_id))
}

/// Whether the bytes walked backwards are the whole body or only its end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Whole {
    Yes,
    /// Only the end: a walk that would need a byte before it gives up (`None`).
    No,
}

/// The reference: walk the whole top-level object from its start.
fn peek_forward(body: &[u8]) -> Peeked {
    let mut out = Peeked::default();
    let walked = members(body, 0, |key, at| match key {
        b"stream" => {
            out.stream = body[at..].starts_with(b"true");
            None
        }
        b"metadata" => {
            out.user_id = user_id(body, at);
            skip_value(body, at)
        }
        _ => None,
    });
    if walked.is_none() {
        return Peeked::default();
    }
    out
}

/// `metadata.user_id` from the metadata object at `at` (the last one wins).
fn user_id(body: &[u8], at: usize) -> Option<String> {
    let mut found = None;
    members(body, at, |k, v| {
        if k != b"user_id" {
            return None;
        }
        let end = skip_value(body, v)?;
        found = serde_json::from_slice::<String>(&body[v..end]).ok();
        Some(end)
    })?;
    found
}

fn ws_back(b: &[u8], mut end: usize) -> usize {
    while end > 0 && matches!(b[end - 1], b' ' | b'\t' | b'\n' | b'\r') {
        end -= 1;
    }
    end
}

/// `b[end - 1]` is a closing quote; returns the index of the opening one.
fn string_start_back(b: &[u8], end: usize) -> Option<usize> {
    let mut j = end - 1;
    loop {
        j = memchr::memrchr(b'"', &b[..j])?;
        let backslashes = b[..j].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes == j {
            // The run reaches the start: its parity (and so the quote's role) is unknown.
            return None;
        }
        if backslashes % 2 == 0 {
            return Some(j);
        }
    }
}

/// `b[..end]` ends with a value; returns the index where it starts.
fn value_start_back(b: &[u8], end: usize) -> Option<usize> {
    match *b.get(end.checked_sub(1)?)? {
        b'"' => string_start_back(b, end),
        b'}' | b']' => {
            let mut depth = 0usize;
            let mut j = end;
            loop {
                let c = *b.get(j.checked_sub(1)?)?;
                match c {
                    b'"' => {
                        j = string_start_back(b, j)?;
                        continue;
                    }
                    b'}' | b']' => depth += 1,
                    b'{' | b'[' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j - 1);
                        }
                    }
                    _ => {}
                }
                j -= 1;
            }
        }
        _ => {
            let mut j = end;
            while j > 0
                && !matches!(
                    b[j - 1],
                    b',' | b':' | b'{' | b'[' | b' ' | b'\t' | b'\n' | b'\r'
                )
            {
                j -= 1;
            }
            // A literal reaching the start is no member value (or may go on before it).
            (j > 0 && j < end).then_some(j)
        }
    }
}

/// Walk the top-level object from its last member to its first, calling `f(key, value)`
/// with the value's byte range, until `f` says to stop. `None` when the body does not end
/// like a JSON object or the walk goes astray.
fn members_back(
    b: &[u8],
    whole: Whole,
    mut f: impl FnMut(&[u8], std::ops::Range<usize>) -> std::ops::ControlFlow<()>,
) -> Option<()> {
    // The object's opening brace at `at`: the first non-space byte of a whole body; in an
    // end-only slice, a brace before a top-level key can only be the opening one.
    let first = ws(b, 0);
    let opening = |at: usize| whole == Whole::No || at == first;
    let mut end = ws_back(b, b.len());
    if b.get(end.checked_sub(1)?) != Some(&b'}') {
        return None;
    }
    end = ws_back(b, end - 1);
    if b.get(end.checked_sub(1)?) == Some(&b'{') {
        return opening(end - 1).then_some(());
    }
    loop {
        let value_end = end;
        let value_start = value_start_back(b, value_end)?;
        let colon = ws_back(b, value_start);
        if b.get(colon.checked_sub(1)?) != Some(&b':') {
            return None;
        }
        let key_end = ws_back(b, colon - 1);
        if b.get(key_end.checked_sub(1)?) != Some(&b'"') {
            return None;
        }
        let key_start = string_start_back(b, key_end)?;
        let before = ws_back(b, key_start);
        let last = match b.get(before.checked_sub(1)?)? {
            b',' => false,
            b'{' if opening(before - 1) => true,
            _ => return None,
        };
        if f(&b[key_start + 1..key_end - 1], value_start..value_end).is_break() || last {
            return Some(());
        }
        end = ws_back(b, before - 1);
    }
}

/// Walk from the end until `stream` (and `metadata` if wanted) are found.
fn peek_backward(body: &[u8], want_user_id: bool, whole: Whole) -> Option<Peeked> {
    let mut out = Peeked::default();
    let (mut seen_stream, mut seen_metadata) = (false, !want_user_id);
    members_back(body, whole, |key, value| {
        if key == b"stream" && !seen_stream {
            seen_stream = true;
            out.stream = &body[value] == b"true";
        } else if key == b"metadata" && !seen_metadata {
            seen_metadata = true;
            out.user_id = user_id(body, value.start);
        }
        if seen_stream && seen_metadata {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a full parse says, for comparison.
    fn parsed(body: &[u8]) -> Peeked {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Peeked::default();
        };
        Peeked {
            stream: v["stream"] == true,
            user_id: v["metadata"]["user_id"].as_str().map(str::to_owned),
        }
    }

    /// Every way of reading must agree with a full parse.
    fn check(body: &[u8]) {
        let want = parsed(body);
        let text = String::from_utf8_lossy(body);
        assert_eq!(peek(body, true), want, "{text}");
        assert_eq!(peek(body, false).stream, want.stream, "{text}");
        if serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object()) {
            assert_eq!(peek_forward(body), want, "forward: {text}");
            assert_eq!(
                peek_backward(body, true, Whole::Yes),
                Some(want.clone()),
                "backward: {text}"
            );
            // From any end-only slice: right, or undecided.
            for start in 0..body.len() {
                if let Some(got) = peek_backward(&body[start..], true, Whole::No) {
                    assert_eq!(got, want, "backward from {start}: {text}");
                }
            }
            // Held in two chunks, split anywhere.
            for split in [1, body.len() / 2, body.len().saturating_sub(3)] {
                let split = split.min(body.len());
                let chunks = RequestBody::from_chunks(vec![
                    bytes::Bytes::copy_from_slice(&body[..split]),
                    bytes::Bytes::copy_from_slice(&body[split..]),
                ]);
                assert_eq!(peek_body(&chunks, true), want, "split at {split}: {text}");
            }
        }
    }

    #[test]
    fn agrees_with_a_full_parse() {
        let cases: &[&[u8]] = &[
            br#"{"stream":true}"#,
            br#"{ "stream" : false , "x": [1, {"stream": true}] }"#,
            br#"{"messages":[{"content":"a \"quoted\" {brace] and \\ backslash"}],"stream":true}"#,
            br#"{"metadata":{"user_id":"{\"session_id\":\"s-1\"}"},"stream":true}"#,
            br#"{"metadata":{"other":{"user_id":"nested"},"user_id":"u\u00e9"}}"#,
            br#"{"a":null,"b":-1.5e3,"c":[],"d":{},"stream":true}"#,
            br#"{"a":"ends in a backslash \\","stream":true}"#,
            br#"{"a":"\\\"","b":"\\\\","stream":true,"c":"\"stream\":false"}"#,
            br#"{"stream":true,"a":"he said \"stream\": false"}"#,
            br#"{"stream":true,"stream":false}"#,
            br#"{"metadata":{"user_id":"a"},"x":1,"metadata":{"user_id":"b"}}"#,
            br#"{"x":{"stream":true},"y":[{"metadata":{"user_id":"no"}}]}"#,
            br#"{"t":["]",{"k":"{"},"}\\"],"stream":true}"#,
            b"\n {\n \"stream\" :\ttrue \n}\n ",
            br#"{"stream":1}"#,
            br#"{}"#,
            br#" { } "#,
            br#"[{"stream":true}]"#,
            br#"not json"#,
            br#""#,
            br#"}"#,
            br#"{"stream":true"#,
            br#""stream":true}"#,
        ];
        for c in cases {
            check(c);
        }
    }

    /// A small deterministic generator of JSON objects full of what trips scanners up:
    /// quotes, backslashes and brackets inside strings, nesting, `stream` and `metadata`
    /// at any depth and position.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn string(&mut self) -> String {
            const PIECES: [&str; 10] = ["a", "\\", "\"", "{", "]", "stream", "\\\"", ":", " ", "é"];
            let n = self.next(6);
            let text: String = (0..n)
                .map(|_| PIECES[self.next(PIECES.len() as u64) as usize])
                .collect();
            serde_json::to_string(&text).unwrap()
        }

        fn key(&mut self) -> String {
            match self.next(6) {
                0 => "\"stream\"".into(),
                1 => "\"metadata\"".into(),
                2 => "\"user_id\"".into(),
                _ => self.string(),
            }
        }

        fn value(&mut self, depth: u32) -> String {
            match self.next(if depth > 3 { 5 } else { 7 }) {
                0 => "true".into(),
                1 => "false".into(),
                2 => "-12.5e3".into(),
                3 => "null".into(),
                4 => self.string(),
                5 => self.object(depth + 1),
                _ => {
                    let n = self.next(4);
                    let items: Vec<String> = (0..n).map(|_| self.value(depth + 1)).collect();
                    format!("[{}]", items.join(", "))
                }
            }
        }

        fn object(&mut self, depth: u32) -> String {
            let n = self.next(6);
            let members: Vec<String> = (0..n)
                .map(|_| format!("{} :{}", self.key(), self.value(depth)))
                .collect();
            format!("{{{}}}", members.join(",\n "))
        }
    }

    #[test]
    fn agrees_with_a_full_parse_on_generated_bodies() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let mut valid = 0;
        for _ in 0..5000 {
            let body = g.object(0);
            if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
                valid += 1;
            }
            check(body.as_bytes());
        }
        assert!(
            valid > 4000,
            "the generator makes mostly valid JSON ({valid})"
        );
    }

    #[test]
    fn reads_the_claude_code_fixture() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/claude_code_like_request.json"
        );
        let body = std::fs::read(path).unwrap();
        check(&body);
        let got = peek(&body, true);
        assert!(got.stream);
        assert!(got.user_id.is_some());
    }

    #[test]
    fn the_model_is_read_from_the_first_chunk_or_the_whole_body() {
        use bytes::Bytes;
        let one = RequestBody::from(Bytes::from_static(
            br#"{"model":"claude-haiku-4-5","stream":true}"#,
        ));
        assert_eq!(model(&one).as_deref(), Some("claude-haiku-4-5"));
        let escaped = RequestBody::from(Bytes::from_static(br#"{"model":"a\u002db"}"#));
        assert_eq!(model(&escaped).as_deref(), Some("a-b"));
        // Split inside the model string: found in the whole body.
        let split = RequestBody::from_chunks(vec![
            Bytes::from_static(br#"{"max_tokens":5,"model":"claude-hai"#),
            Bytes::from_static(br#"ku-4-5","stream":true}"#),
        ]);
        assert_eq!(model(&split).as_deref(), Some("claude-haiku-4-5"));
        for none in [&br#"{"model":5}"#[..], b"{}", b"not json", b""] {
            let b = RequestBody::from(Bytes::copy_from_slice(none));
            assert_eq!(model(&b), None, "{}", String::from_utf8_lossy(none));
        }
    }
}
