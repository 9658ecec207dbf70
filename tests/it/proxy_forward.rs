//! Forwarding through the real daemon to fake upstreams: credentials rewritten, headers and
//! body byte for byte, streams not buffered, limits, disconnects, access tokens, reloads
//! under load.

use std::time::{Duration, Instant};

use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;
use crate::harness::daemon::{claude_code_request, client, runtime};

const STREAM_BODY: &str = r#"{"model":"claude-test","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#;

/// POST a streaming request; return (status, headers, full body).
async fn stream_once(base: &str, body: &'static str) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = client()
        .post(format!("{base}/v1/messages?beta=true"))
        .header("x-api-key", "sk-client-key-must-not-leak")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (status, headers, text)
}

#[test]
fn credentials_are_rewritten_in_both_styles() {
    let env = TestEnv::new();
    let a = FakeUpstream::spawn_named("a").unwrap();
    let b = FakeUpstream::spawn_named("b").unwrap();
    env.endpoint_for("keyed", &a.url(), "sk-upstream-apikey-0001", "api-key");
    env.endpoint_for("bearer", &b.url(), "sk-upstream-bearer-0002", "bearer");
    let proxy = env.start_proxy();
    let rt = runtime();
    let send = || {
        rt.block_on(async {
            client()
                .post(format!("{}/v1/messages", proxy.base_url))
                .header("x-api-key", "sk-client-key-must-not-leak")
                .header("authorization", "Bearer client-token-must-not-leak")
                .body(r#"{"model":"m","messages":[]}"#)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    assert_eq!(send(), 200);
    env.ok(&["priority", "switch", "bearer"]);
    assert_eq!(send(), 200);

    let ra = &a.requests()[0];
    assert_eq!(ra.header("x-api-key"), Some("sk-upstream-apikey-0001"));
    assert_eq!(ra.header("authorization"), None);
    let rb = &b.requests()[0];
    assert_eq!(
        rb.header("authorization"),
        Some("Bearer sk-upstream-bearer-0002")
    );
    assert_eq!(rb.header("x-api-key"), None);
    for r in a.requests().iter().chain(b.requests().iter()) {
        for (name, value) in &r.headers {
            assert!(
                !value.contains("must-not-leak"),
                "client credential leaked in {name}"
            );
        }
    }
}

#[test]
fn a_claude_code_turn_arrives_byte_for_byte() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    let id = env.endpoint_for("work", &up.url(), "sk-upstream-0000000000000003", "api-key");
    let proxy = env.start_proxy();
    let (body, headers) = claude_code_request();
    let rt = runtime();
    let (status, resp_headers, text) = rt.block_on(async {
        let mut req = client().post(format!("{}/v1/messages?beta=true", proxy.base_url));
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let resp = req.body(body.clone()).send().await.unwrap();
        (
            resp.status(),
            resp.headers().clone(),
            resp.text().await.unwrap(),
        )
    });
    assert_eq!(status, 200);
    assert_eq!(resp_headers["x-qcc-endpoint"], id.as_str());
    assert_eq!(resp_headers["x-qcc-attempts"], "1");
    assert!(
        resp_headers["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_"),
        "upstream headers pass"
    );
    assert!(
        resp_headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert!(text.contains("event: message_stop"));

    let got = &up.requests()[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/v1/messages");
    assert_eq!(got.query.as_deref(), Some("beta=true"));
    assert_eq!(got.body.as_ref(), body.as_slice(), "body byte-identical");
    // The body reaches the proxy in several reads and leaves as those chunks: still with
    // its length declared, never re-framed as chunked.
    assert_eq!(
        got.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(got.header("transfer-encoding"), None);
    for (k, v) in &headers {
        match k.as_str() {
            "x-api-key" => assert_eq!(got.header(k), Some("sk-upstream-0000000000000003")),
            _ => assert_eq!(
                got.header(k),
                Some(v.as_str()),
                "header {k} forwarded verbatim"
            ),
        }
    }
}

#[test]
fn streams_reach_the_client_event_by_event() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    up.set_default_fault(Fault::SlowStream(Duration::from_millis(120)));
    env.endpoint_for("work", &up.url(), "sk-upstream-0000000000000004", "api-key");
    let proxy = env.start_proxy();
    let rt = runtime();
    let (sent_at_first, first_after, body) = rt.block_on(async {
        let start = Instant::now();
        let mut resp = client()
            .post(format!("{}/v1/messages", proxy.base_url))
            .body(STREAM_BODY)
            .send()
            .await
            .unwrap();
        let first = resp.chunk().await.unwrap().unwrap();
        let sent_at_first = up.events_sent();
        let first_after = start.elapsed();
        let mut body = first.to_vec();
        while let Some(c) = resp.chunk().await.unwrap() {
            body.extend_from_slice(&c);
        }
        (sent_at_first, first_after, String::from_utf8(body).unwrap())
    });
    let total = up.events_sent();
    assert!(total >= 8, "a full stream has many events ({total})");
    assert!(
        sent_at_first < total,
        "the first event reached the client when the upstream had sent {sent_at_first} of {total}"
    );
    assert!(
        first_after < Duration::from_millis(120 * 3),
        "first event after {first_after:?}"
    );
    assert!(body.starts_with("event: message_start"));
    assert!(body.contains("event: message_stop"));
    let s = env.proxy_status();
    let ep = &s["endpoints"][0];
    assert!(
        ep["input_tokens"].as_u64().unwrap() > 0,
        "usage read from the stream: {ep}"
    );
    assert!(ep["output_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn body_limits_five_megabytes_pass_and_oversize_is_413() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    env.endpoint_for("work", &up.url(), "sk-upstream-0000000000000005", "api-key");
    env.edit_config(|c| c.proxy.max_body_bytes = 6 * 1024 * 1024);
    let proxy = env.start_proxy();
    let big = {
        let filler = "x".repeat(5 * 1024 * 1024);
        format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{filler}"}}]}}"#)
    };
    let too_big = "y".repeat(7 * 1024 * 1024);
    let rt = runtime();
    let (ok, rejected, rejected_body) = rt.block_on(async {
        let ok = client()
            .post(format!("{}/v1/messages", proxy.base_url))
            .body(big.clone())
            .send()
            .await
            .unwrap()
            .status();
        let r = client()
            .post(format!("{}/v1/messages", proxy.base_url))
            .body(too_big)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (
            ok,
            status,
            serde_json::from_slice::<serde_json::Value>(&r.bytes().await.unwrap()).unwrap(),
        )
    });
    assert_eq!(ok, 200);
    assert_eq!(up.requests()[0].body.len(), big.len());
    assert_eq!(up.requests()[0].body.as_ref(), big.as_bytes());
    assert_eq!(rejected, 413);
    assert_eq!(rejected_body["type"], "error");
    assert_eq!(rejected_body["error"]["type"], "request_too_large");
    assert_eq!(
        up.request_count(),
        1,
        "the oversized request never went upstream"
    );
}

#[test]
fn a_client_that_goes_away_cancels_the_upstream_request() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    up.set_default_fault(Fault::SlowStream(Duration::from_millis(200)));
    env.endpoint_for("work", &up.url(), "sk-upstream-0000000000000006", "api-key");
    let proxy = env.start_proxy();
    let rt = runtime();
    rt.block_on(async {
        let mut resp = client()
            .post(format!("{}/v1/messages", proxy.base_url))
            .body(STREAM_BODY)
            .send()
            .await
            .unwrap();
        resp.chunk().await.unwrap().unwrap();
        drop(resp);
    });
    assert!(
        up.wait_until(Duration::from_secs(10), |s| s.disconnects == 1),
        "the upstream saw its client (the proxy) go away"
    );
    let s = env.proxy_status();
    assert_eq!(s["in_flight"], 0);
    assert_eq!(
        s["endpoints"][0]["errors"], 0,
        "a client leaving is not the endpoint's fault"
    );
}

#[test]
fn off_loopback_the_access_token_is_required() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    env.endpoint_for("work", &up.url(), "sk-upstream-0000000000000007", "api-key");
    let out = env
        .cmd()
        .env("QCC_ACCESS_TOKEN", "proxy-token-123")
        .args(["proxy", "start", "--listen", "0.0.0.0:0", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let port = v["listen"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let base = format!("http://127.0.0.1:{port}");
    let rt = runtime();
    let status = |header: Option<(&str, &str)>| {
        rt.block_on(async {
            let mut req = client().post(format!("{base}/v1/messages")).body("{}");
            if let Some((k, v)) = header {
                req = req.header(k, v);
            }
            req.send().await.unwrap().status().as_u16()
        })
    };
    assert_eq!(status(None), 401);
    assert_eq!(status(Some(("x-api-key", "wrong"))), 401);
    assert_eq!(up.request_count(), 0);
    assert_eq!(status(Some(("x-api-key", "proxy-token-123"))), 200);
    assert_eq!(
        status(Some(("authorization", "Bearer proxy-token-123"))),
        200
    );
    for r in up.requests() {
        assert_eq!(r.header("x-api-key"), Some("sk-upstream-0000000000000007"));
        assert!(r.headers.iter().all(|(_, v)| !v.contains("proxy-token")));
    }
    env.ok(&["proxy", "stop"]);
}

#[test]
fn switching_profiles_under_100_streams_fails_none() {
    let env = TestEnv::new();
    let a = FakeUpstream::spawn_named("a").unwrap();
    let b = FakeUpstream::spawn_named("b").unwrap();
    a.set_default_fault(Fault::SlowStream(Duration::from_millis(30)));
    env.endpoint_for("a", &a.url(), "sk-upstream-a-000000000008", "api-key");
    let b_id = env.endpoint_for("b", &b.url(), "sk-upstream-b-000000000009", "api-key");
    let proxy = env.start_proxy();
    let rt = runtime();
    let base = proxy.base_url.clone();
    let streams: Vec<_> = (0..100)
        .map(|_| {
            let base = base.clone();
            rt.spawn(async move { stream_once(&base, STREAM_BODY).await })
        })
        .collect();
    assert!(
        a.wait_until(Duration::from_secs(20), |s| s.requests == 100),
        "all 100 streams reached a"
    );
    assert_eq!(env.ok(&["priority", "switch", "b"]).trim(), "a → b");
    let (status, headers, _) = rt.block_on(stream_once(&base, STREAM_BODY));
    assert_eq!(status, 200);
    assert_eq!(
        headers["x-qcc-endpoint"],
        b_id.as_str(),
        "new requests go to the new profile"
    );
    for s in streams {
        let (status, _, body) = rt.block_on(s).unwrap();
        assert_eq!(status, 200);
        assert!(
            body.contains("event: message_stop") && !body.contains("event: error"),
            "{body}"
        );
    }
    assert_eq!(a.stats().completed, 100);
}

#[test]
fn hand_edits_are_picked_up_and_bad_ones_refused() {
    let env = TestEnv::new();
    let a = FakeUpstream::spawn_named("a").unwrap();
    let b = FakeUpstream::spawn_named("b").unwrap();
    env.endpoint_for("a", &a.url(), "sk-upstream-a-000000000010", "api-key");
    env.endpoint_for("b", &b.url(), "sk-upstream-b-000000000011", "api-key");
    let _proxy = env.start_proxy();
    // A hand edit (no CLI, no reload request): the daemon notices the file changed.
    env.edit_config(|c| c.active = Some("b".into()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.proxy_status()["active_profile"] != "b" {
        assert!(Instant::now() < deadline, "hand edit not picked up");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A broken hand edit: refused, reported, the previous config stays in force.
    std::fs::write(env.config_file(), "{ \"version\": 1, broken").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let out = env.run(&["proxy", "status", "--json"]);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if !s["config_error"].is_null() {
            break s;
        }
        assert!(Instant::now() < deadline, "broken edit not reported");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status["config_error"].as_str().unwrap().contains("line 1"),
        "{status}"
    );
    assert_eq!(status["active_profile"], "b");
    let stderr = String::from_utf8(env.run(&["proxy", "status"]).stderr).unwrap();
    assert!(stderr.contains("reload refused"), "{stderr}");
}

#[test]
fn upstream_errors_and_mid_stream_deaths_reach_the_client_as_failures() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    env.endpoint_for("work", &up.url(), "sk-upstream-0000000000000012", "api-key");
    let proxy = env.start_proxy();
    let rt = runtime();
    // A client error passes through untouched.
    up.push_fault(Fault::Status {
        status: 400,
        retry_after: None,
        message: Some("prompt is too long".into()),
    });
    let (status, _, body) = rt.block_on(stream_once(&proxy.base_url, STREAM_BODY));
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["message"], "prompt is too long");
    // A stream that dies after 3 events ends with an in-band error event, never cleanly.
    up.push_fault(Fault::DieAfterEvents(3));
    let (status, _, body) = rt.block_on(stream_once(&proxy.base_url, STREAM_BODY));
    assert_eq!(status, 200);
    assert_eq!(
        body.matches("event: ").count(),
        4,
        "3 events + the error:\n{body}"
    );
    assert!(
        body.trim_end().ends_with('}') && body.contains("event: error"),
        "{body}"
    );
    assert!(!body.contains("message_stop"));
    let s = env.proxy_status();
    assert_eq!(
        s["endpoints"][0]["errors"], 1,
        "the 400 does not count, the death does"
    );
    assert!(
        s["endpoints"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("mid-stream"),
        "{s}"
    );
}

#[test]
fn the_proxys_own_endpoints() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    env.endpoint_for("work", &up.url(), "sk-upstream-0000000000000013", "api-key");
    let proxy = env.start_proxy();
    let rt = runtime();
    let (health, status) = rt.block_on(async {
        let get = |path: &'static str| {
            let url = format!("{}{path}", proxy.base_url);
            async move {
                let bytes = client()
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
            }
        };
        (get("/_qcc/health").await, get("/_qcc/status").await)
    });
    assert_eq!(health["status"], "ok");
    assert_eq!(status["active_profile"], "work");
    assert_eq!(up.request_count(), 0, "never forwarded");
    let s = serde_json::to_string(&status).unwrap();
    assert!(!s.contains("0000000000000013"), "no keys in status");
}

#[test]
fn idle_timeout_applies_between_chunks_never_in_total() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    env.endpoint_for("work", &up.url(), "sk-upstream-0000000000000014", "api-key");
    env.edit_config(|c| c.proxy.idle_timeout_secs = 1);
    let proxy = env.start_proxy();
    let rt = runtime();
    // 250 ms between events, ~10 events: well over the 1 s idle timeout in total, but never
    // 1 s of silence, so the stream completes.
    up.push_fault(Fault::SlowStream(Duration::from_millis(250)));
    let started = Instant::now();
    let (status, _, body) = rt.block_on(stream_once(&proxy.base_url, STREAM_BODY));
    assert_eq!(status, 200);
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "the stream outlived the idle timeout"
    );
    assert!(
        body.contains("event: message_stop") && !body.contains("event: error"),
        "{body}"
    );
    // 2 s between events: the first one arrives (waiting for it is the header timeout's
    // business, before the commit point), then 2 s of silence trip the 1 s idle timeout,
    // which ends the stream with an in-band error.
    up.push_fault(Fault::SlowStream(Duration::from_secs(2)));
    let (status, _, body) = rt.block_on(stream_once(&proxy.base_url, STREAM_BODY));
    assert_eq!(status, 200);
    assert!(body.starts_with("event: message_start"), "{body}");
    assert_eq!(body.matches("event: ").count(), 2, "{body}");
    assert!(
        body.contains("event: error") && body.contains("idle timeout"),
        "{body}"
    );
}
