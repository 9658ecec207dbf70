//! Lenient JSON for files people edit by hand: `//` and `/* */` comments and trailing
//! commas are accepted (blanked out, so line and column numbers of errors stay right),
//! then serde_json parses the rest. Only for reading other tools' files; qcc's own files
//! are strict JSON.

use serde_json::Value;

use super::ImportError;

/// Parse `bytes` (from `file`, for messages) as lenient JSON.
pub fn parse(bytes: &[u8], file: &str) -> Result<Value, ImportError> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    serde_json::from_str(&strip(text)).map_err(|e| ImportError::Json {
        file: file.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
        json5: false,
    })
}

/// Blank out comments and trailing commas outside strings (newlines kept).
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 1;
            } else if c == '"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match (c, chars.get(i + 1)) {
            ('"', _) => {
                in_string = true;
                out.push(c);
                i += 1;
            }
            ('/', Some('/')) => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(' ');
                    i += 1;
                }
            }
            ('/', Some('*')) => {
                out.extend([' ', ' ']);
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    out.push(if chars[i] == '\n' { '\n' } else { ' ' });
                    i += 1;
                }
                if i < chars.len() {
                    out.extend([' ', ' ']);
                    i += 2;
                }
            }
            (']' | '}', _) => {
                // A comma followed only by blanks before this closer is a trailing one.
                if let Some(j) = out.iter().rposition(|ch| !ch.is_whitespace())
                    && out[j] == ','
                {
                    out[j] = ' ';
                }
                out.push(c);
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_trailing_commas_are_accepted_strings_untouched() {
        let text = "{\n  // a comment\n  \"url\": \"http://x//y\", /* block\n */ \"a\": [1, 2,],\n  \"s\": \"/* not */ a \\\" comment\",\n}\n";
        let v = parse(text.as_bytes(), "f").unwrap();
        assert_eq!(v["url"], "http://x//y");
        assert_eq!(v["a"], serde_json::json!([1, 2]));
        assert_eq!(v["s"], "/* not */ a \" comment");
    }

    #[test]
    fn errors_keep_their_line() {
        let text = "{\n  // one\n  /* two\n  three */\n  \"a\": nope\n}";
        match parse(text.as_bytes(), "f") {
            Err(ImportError::Json { line, .. }) => assert_eq!(line, 5),
            other => panic!("{other:?}"),
        }
    }
}
