//! JSON5, as claude-code-router reads its `config.json` (`JSON5.parse`): on top of what
//! [`super::jsonc`] accepts (comments, trailing commas), unquoted keys, single-quoted
//! strings, the escapes JSON lacks (`\'`, `\v`, `\0`, `\xHH`, line continuations),
//! hexadecimal numbers, a leading `+` and a leading or trailing decimal point. The text is
//! rewritten into strict JSON (comments blanked, so line numbers of errors stay right
//! outside continued strings) and serde_json parses that. `Infinity` and `NaN` are refused:
//! no setting qcc imports can be one, and JSON has no way to hold them.

use serde_json::Value;

use super::ImportError;

/// Parse `bytes` (from `file`, for messages) as JSON5.
pub fn parse(bytes: &[u8], file: &str) -> Result<Value, ImportError> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let error = |line, column, message| ImportError::Json {
        file: file.to_owned(),
        line,
        column,
        message,
        json5: true,
    };
    let json = to_json(text).map_err(|(line, column, message)| error(line, column, message))?;
    serde_json::from_str(&json).map_err(|e| error(e.line(), e.column(), e.to_string()))
}

/// Where a rewrite error is: line and column (1-based) of `chars[i]`, and the message.
type Failure = (usize, usize, String);

fn at(chars: &[char], i: usize, message: impl Into<String>) -> Failure {
    let before = &chars[..i.min(chars.len())];
    let line = before.iter().filter(|&&c| c == '\n').count() + 1;
    let column = before.iter().rev().take_while(|&&c| c != '\n').count() + 1;
    (line, column, message.into())
}

/// Rewrite JSON5 text into JSON text.
fn to_json(text: &str) -> Result<String, Failure> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\n' | '\r' => {
                out.push(c);
                i += 1;
            }
            c if c.is_whitespace() || c == '\u{feff}' => {
                out.push(' ');
                i += 1;
            }
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(' ');
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let start = i;
                out.push_str("  ");
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    out.push(if chars[i] == '\n' { '\n' } else { ' ' });
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(at(&chars, start, "a /* comment is never closed"));
                }
                out.push_str("  ");
                i += 2;
            }
            '"' | '\'' => i = string(&chars, i, &mut out)?,
            ']' | '}' => {
                // A comma followed only by blanks before this closer is a trailing one.
                if let Some(j) = out.rfind(|ch: char| !ch.is_whitespace())
                    && out[j..].starts_with(',')
                {
                    out.replace_range(j..=j, " ");
                }
                out.push(c);
                i += 1;
            }
            c if c.is_ascii_digit()
                || (matches!(c, '+' | '-' | '.')
                    && next
                        .is_some_and(|n| n.is_ascii_digit() || matches!(n, '.' | 'I' | 'N'))) =>
            {
                i = number(&chars, i, &mut out)?;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '$'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match word.as_str() {
                    "true" | "false" | "null" => out.push_str(&word),
                    "Infinity" | "NaN" => {
                        return Err(at(
                            &chars,
                            start,
                            format!("{word} is not a number qcc reads"),
                        ));
                    }
                    _ => {
                        let colon = chars[i..]
                            .iter()
                            .find(|ch| !ch.is_whitespace())
                            .is_some_and(|&ch| ch == ':');
                        if !colon {
                            return Err(at(
                                &chars,
                                start,
                                format!("unquoted text '{word}' (only keys may go without quotes)"),
                            ));
                        }
                        out.push_str(&serde_json::to_string(&word).expect("a string serialises"));
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Copy the string starting at `chars[start]` (either quote) as a JSON string; the index
/// after it.
fn string(chars: &[char], start: usize, out: &mut String) -> Result<usize, Failure> {
    let quote = chars[start];
    out.push('"');
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(at(chars, start, "a string is never closed"));
        };
        i += 1;
        match c {
            c if c == quote => {
                out.push('"');
                return Ok(i);
            }
            '\n' | '\r' => return Err(at(chars, start, "a string is never closed on its line")),
            '"' => out.push_str("\\\""),
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return Err(at(chars, start, "a string is never closed"));
                };
                i += 1;
                match e {
                    // A line continuation: nothing.
                    '\n' | '\u{2028}' | '\u{2029}' => {}
                    '\r' => {
                        if chars.get(i) == Some(&'\n') {
                            i += 1;
                        }
                    }
                    '"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' | 'u' => {
                        out.push('\\');
                        out.push(e);
                    }
                    'v' => out.push_str("\\u000b"),
                    '0' if !chars.get(i).is_some_and(char::is_ascii_digit) => {
                        out.push_str("\\u0000");
                    }
                    'x' => {
                        let hex: String = chars.iter().skip(i).take(2).collect();
                        if hex.len() != 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            return Err(at(chars, i - 2, "\\x needs two hexadecimal digits"));
                        }
                        out.push_str("\\u00");
                        out.push_str(&hex);
                        i += 2;
                    }
                    d if d.is_ascii_digit() => {
                        return Err(at(chars, i - 2, "octal escapes are not JSON5"));
                    }
                    other => push_char(out, other),
                }
            }
            other => push_char(out, other),
        }
    }
}

/// One character inside a JSON string (control characters escaped).
fn push_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push(c),
    }
}

/// Copy the number starting at `chars[start]` as a JSON number; the index after it.
fn number(chars: &[char], start: usize, out: &mut String) -> Result<usize, Failure> {
    let mut i = start;
    match chars[i] {
        '-' => {
            out.push('-');
            i += 1;
        }
        '+' => i += 1,
        _ => {}
    }
    if matches!(chars.get(i), Some('I' | 'N')) {
        return Err(at(
            chars,
            start,
            "Infinity and NaN are not numbers qcc reads",
        ));
    }
    if chars.get(i) == Some(&'0') && matches!(chars.get(i + 1), Some('x' | 'X')) {
        let digits: String = chars[i + 2..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        let value = u64::from_str_radix(&digits, 16)
            .map_err(|_| at(chars, start, "not a hexadecimal number qcc reads"))?;
        out.push_str(&value.to_string());
        return Ok(i + 2 + digits.len());
    }
    let digits = |i: &mut usize, out: &mut String| {
        let from = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            out.push(chars[*i]);
            *i += 1;
        }
        *i > from
    };
    if !digits(&mut i, out) {
        out.push('0');
    }
    if chars.get(i) == Some(&'.') {
        out.push('.');
        i += 1;
        if !digits(&mut i, out) {
            out.push('0');
        }
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        out.push('e');
        i += 1;
        if let Some(&s @ ('+' | '-')) = chars.get(i) {
            out.push(s);
            i += 1;
        }
        digits(&mut i, out);
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Value {
        parse(text.as_bytes(), "f").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn json5_is_rewritten_into_json() {
        let v = ok(
            "{\n  // a comment\n  unquoted: 'single \"quoted\" \\'s',\n  $k_2: [0x1F, +3, .5, 5., -2e3,],\n  \"url\": \"http://x//y\", /* block\n */ esc: 'a\\x41\\v\\0\\\n b\\u00e9',\n  tab: '\t',\n}\n",
        );
        assert_eq!(v["unquoted"], "single \"quoted\" 's");
        assert_eq!(v["$k_2"], serde_json::json!([31, 3, 0.5, 5.0, -2000.0]));
        assert_eq!(v["url"], "http://x//y");
        assert_eq!(v["esc"], "aA\u{b}\u{0} bé");
        assert_eq!(v["tab"], "\t");
        // Plain JSON is JSON5.
        assert_eq!(ok(r#"{"a": [1, "b\n", null, true]}"#)["a"][1], "b\n");
    }

    #[test]
    fn what_json_cannot_hold_is_refused_with_its_place() {
        for (text, line, says) in [
            ("{\n a: Infinity\n}", 2, "Infinity"),
            ("{\n a: -NaN\n}", 2, "NaN"),
            ("{\n a: bare\n}", 2, "unquoted text 'bare'"),
            ("{\n a: 'open\n}", 2, "never closed"),
            ("{ /* open", 1, "never closed"),
            ("{\n a: [1 2]\n}", 2, "expected"),
        ] {
            match parse(text.as_bytes(), "f") {
                Err(ImportError::Json {
                    line: l, message, ..
                }) => {
                    assert_eq!(l, line, "{text}: {message}");
                    assert!(message.contains(says), "{text}: {message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
