//! Model maps at request time: the request's `model` renamed for one endpoint by its rules
//! (`state::models`), the rest of the body left byte for byte as the client sent it — the
//! new body is the old chunks around one new slice, nothing re-serialised. Endpoints
//! without rules never come here (their bodies pass through untouched).
//!
//! The answer goes back naming the model the client asked for (unless the endpoint says
//! `report_upstream_model`): the first `"model":"<sent>"` of the answer's first piece — the
//! whole message, or a stream's `message_start` event — is renamed. Inside a JSON string
//! every quote is escaped, so that byte pattern can only be a member.
//!
//! Not here: the rules and glob matching (`state::models`), where attempts are made
//! (`forward`).

use bytes::Bytes;

use crate::proxy::peek::model_span;
use crate::proxy::request_body::RequestBody;
use crate::state::models::{ModelRule, map};

/// The body to send an endpoint with `rules`, and the model asked for and sent — `None`
/// when no rule renames the request's model (or the body names none).
pub fn rewrite(body: &RequestBody, rules: &[ModelRule]) -> Option<(RequestBody, String, String)> {
    if rules.is_empty() {
        return None;
    }
    let first = body.chunks().first()?;
    if let Some(span) = model_span(first) {
        return splice(first, span, &body.chunks()[1..], rules);
    }
    if body.is_single() {
        return None;
    }
    // `model` is not in the first chunk: look in the whole body (rare).
    let whole = Bytes::from(body.contiguous().into_owned());
    let span = model_span(&whole)?;
    splice(&whole, span, &[], rules)
}

/// `chunk` with the model string at `span` renamed, followed by `rest`.
fn splice(
    chunk: &Bytes,
    span: std::ops::Range<usize>,
    rest: &[Bytes],
    rules: &[ModelRule],
) -> Option<(RequestBody, String, String)> {
    let (asked, sent) = renamed(&chunk[span.clone()], rules)?;
    let mut chunks = Vec::with_capacity(rest.len() + 3);
    chunks.push(chunk.slice(..span.start));
    chunks.push(Bytes::from(serde_json::to_vec(&sent).ok()?));
    chunks.push(chunk.slice(span.end..));
    chunks.extend(rest.iter().cloned());
    Some((RequestBody::from_chunks(chunks), asked, sent))
}

/// The model asked for (the JSON string `quoted`) and the one to send, if they differ.
fn renamed(quoted: &[u8], rules: &[ModelRule]) -> Option<(String, String)> {
    let asked: String = serde_json::from_slice(quoted).ok()?;
    let sent = map(rules, &asked)?;
    (sent != asked).then(|| (asked.clone(), sent.to_owned()))
}

/// `chunk` with its first `"model": "<sent>"` member naming `asked` instead; `None` when
/// it holds no such member.
pub fn report_asked(chunk: &Bytes, sent: &str, asked: &str) -> Option<Bytes> {
    let sent_json = serde_json::to_vec(sent).ok()?;
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&chunk[from..], b"\"model\"") {
        let key_end = from + at + 7;
        let mut i = key_end;
        let skip_ws = |mut i: usize| {
            while chunk
                .get(i)
                .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            {
                i += 1;
            }
            i
        };
        i = skip_ws(i);
        if chunk.get(i) == Some(&b':') {
            let value = skip_ws(i + 1);
            if chunk[value..].starts_with(&sent_json) {
                let asked_json = serde_json::to_vec(asked).ok()?;
                let mut out = Vec::with_capacity(chunk.len() + asked_json.len());
                out.extend_from_slice(&chunk[..value]);
                out.extend_from_slice(&asked_json);
                out.extend_from_slice(&chunk[value + sent_json.len()..]);
                return Some(Bytes::from(out));
            }
        }
        from = key_end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(texts: &[&str]) -> Vec<ModelRule> {
        texts.iter().map(|t| ModelRule::parse(t).unwrap()).collect()
    }

    fn joined(b: &RequestBody) -> String {
        String::from_utf8(b.contiguous().into_owned()).unwrap()
    }

    #[test]
    fn only_the_model_changes_byte_for_byte() {
        let body = br#"{ "model" : "claude-sonnet-4-5", "messages":[{"role":"user","content":"model: \"x\""}],"stream":true}"#;
        let r = rules(&["claude-sonnet-*=deepseek-chat", "*=deepseek-reasoner"]);
        let (out, asked, sent) = rewrite(&RequestBody::from(Bytes::from_static(body)), &r).unwrap();
        assert_eq!(
            (asked.as_str(), sent.as_str()),
            ("claude-sonnet-4-5", "deepseek-chat")
        );
        let want =
            String::from_utf8_lossy(body).replace("\"claude-sonnet-4-5\"", "\"deepseek-chat\"");
        assert_eq!(joined(&out), want);
        assert_eq!(out.len(), want.len());
    }

    #[test]
    fn a_model_past_the_first_chunk_and_escapes_are_handled() {
        let chunks = vec![
            Bytes::from_static(br#"{"messages":[{"role":"user","content":"hi"}],"#),
            Bytes::from_static(br#""model":"claude-\u0068aiku-4","max_tokens":5}"#),
        ];
        let r = rules(&["claude-haiku-*=small"]);
        let (out, asked, _) = rewrite(&RequestBody::from_chunks(chunks), &r).unwrap();
        assert_eq!(asked, "claude-haiku-4");
        let v: serde_json::Value = serde_json::from_str(&joined(&out)).unwrap();
        assert_eq!(v["model"], "small");
        assert_eq!(v["max_tokens"], 5);
    }

    #[test]
    fn answers_name_the_model_asked_for() {
        let whole = Bytes::from_static(
            br#"{"id":"m1","type":"message","content":[{"type":"text","text":"\"model\":\"deepseek-chat\""}],"model" : "deepseek-chat","usage":{}}"#,
        );
        let out = report_asked(&whole, "deepseek-chat", "claude-sonnet-4-5").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "claude-sonnet-4-5");
        assert_eq!(
            v["content"][0]["text"], "\"model\":\"deepseek-chat\"",
            "text untouched"
        );
        let event = Bytes::from_static(
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"deepseek-chat\",\"id\":\"m\"}}\n\n",
        );
        let out = report_asked(&event, "deepseek-chat", "claude-x").unwrap();
        assert!(String::from_utf8_lossy(&out).contains(r#""model":"claude-x","id""#));
        assert!(report_asked(&event, "other", "claude-x").is_none());
    }

    #[test]
    fn nothing_changes_without_a_matching_rule_or_a_model() {
        let body = RequestBody::from(Bytes::from_static(br#"{"model":"claude-opus-4"}"#));
        assert!(rewrite(&body, &rules(&["claude-sonnet-*=x"])).is_none());
        assert!(rewrite(&body, &rules(&["*=claude-opus-4"])).is_none());
        assert!(rewrite(&body, &[]).is_none());
        let no_model = RequestBody::from(Bytes::from_static(br#"{"max_tokens":1}"#));
        assert!(rewrite(&no_model, &rules(&["*=x"])).is_none());
        let not_json = RequestBody::from(Bytes::from_static(b"model=x"));
        assert!(rewrite(&not_json, &rules(&["*=x"])).is_none());
    }
}
