//! Reading the two fields of a request body the proxy needs — `stream` and
//! `metadata.user_id` — without parsing the body. The top-level object is walked; every
//! other value is skipped by scanning: strings jump from quote to quote with `memchr` (most
//! of a Claude Code turn is string content), containers by counting brackets outside
//! strings. Claude Code puts `stream` at the very end of a ~75 KB body, so this replaces a
//! full parse (tens of µs) with a scan of a few µs. A body that is not a JSON object reads
//! as "not streaming, no session", as a failed parse did.

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

/// Read `stream` and `metadata.user_id` from a request body.
pub fn peek(body: &[u8]) -> Peeked {
    let mut out = Peeked::default();
    let walked = members(body, 0, |key, at| match key {
        b"stream" => {
            out.stream = body[at..].starts_with(b"true");
            None
        }
        b"metadata" => {
            let mut user_id = None;
            members(body, at, |k, v| {
                if k == b"user_id" && body.get(v) == Some(&b'"') {
                    let end = skip_string(body, v)?;
                    user_id = serde_json::from_slice::<String>(&body[v..end]).ok();
                    Some(end)
                } else {
                    None
                }
            })?;
            out.user_id = user_id;
            skip_value(body, at)
        }
        _ => None,
    });
    if walked.is_none() {
        return Peeked::default();
    }
    out
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

    #[test]
    fn agrees_with_a_full_parse() {
        let cases: &[&[u8]] = &[
            br#"{"stream":true}"#,
            br#"{ "stream" : false , "x": [1, {"stream": true}] }"#,
            br#"{"messages":[{"content":"a \"quoted\" {brace] and \\ backslash"}],"stream":true}"#,
            br#"{"metadata":{"user_id":"{\"session_id\":\"s-1\"}"},"stream":true}"#,
            br#"{"metadata":{"other":{"user_id":"nested"},"user_id":"u\u00e9"}}"#,
            br#"{"a":null,"b":-1.5e3,"c":[],"d":{},"stream":true}"#,
            br#"{}"#,
            br#"[{"stream":true}]"#,
            br#"not json"#,
            br#""#,
            br#"{"stream":true"#,
        ];
        for c in cases {
            let want = if c == br#"{"stream":true"# {
                Peeked::default()
            } else {
                parsed(c)
            };
            assert_eq!(peek(c), want, "{}", String::from_utf8_lossy(c));
        }
    }

    #[test]
    fn reads_the_claude_code_fixture() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/claude_code_like_request.json"
        );
        let body = std::fs::read(path).unwrap();
        let got = peek(&body);
        assert_eq!(got, parsed(&body));
        assert!(got.stream);
        assert!(got.user_id.is_some());
    }
}
