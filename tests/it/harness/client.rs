//! A small async client for routing tests: send one request through the proxy and report
//! what came back (status, which endpoint answered, after how many attempts, the body).

use std::time::Duration;

/// What one request got.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub endpoint: Option<String>,
    pub attempts: Option<u32>,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Reply {
    /// A complete, clean stream.
    pub fn is_clean_stream(&self) -> bool {
        self.status == 200
            && self.body.contains("event: message_stop")
            && !self.body.contains("event: error")
    }

    /// Success, or an error a client can understand: an Anthropic-shaped error response,
    /// or a stream that ends with an in-band error event.
    pub fn is_well_formed(&self) -> bool {
        if self.status == 200 {
            return self.body.contains("event: message_stop")
                || self.body.trim_end().ends_with('}') && self.body.contains("event: error");
        }
        serde_json::from_str::<serde_json::Value>(&self.body)
            .is_ok_and(|v| v["type"] == "error" && v["error"]["type"].is_string())
    }
}

pub const STREAM: &str = r#"{"model":"claude-test","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#;
pub const PLAIN: &str =
    r#"{"model":"claude-test","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#;

/// POST `/v1/messages` with `body` (a `&'static str` or a `String`) and an optional
/// conversation id.
pub async fn send(
    client: &reqwest::Client,
    base: &str,
    body: impl Into<reqwest::Body>,
    session: Option<&str>,
) -> Result<Reply, reqwest::Error> {
    let mut req = client
        .post(format!("{base}/v1/messages?beta=true"))
        .header("x-api-key", "sk-client")
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(60))
        .body(body);
    if let Some(s) = session {
        req = req.header("x-claude-code-session-id", s);
    }
    let resp = req.send().await?;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = resp.status().as_u16();
    let endpoint = header("x-qcc-endpoint");
    let attempts = header("x-qcc-attempts").and_then(|v| v.parse().ok());
    let retry_after = header("retry-after");
    let body = String::from_utf8_lossy(&resp.bytes().await?).into_owned();
    Ok(Reply {
        status,
        endpoint,
        attempts,
        retry_after,
        body,
    })
}
