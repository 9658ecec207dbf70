//! Nobody else's requests: on the loopback listener a foreign `Host` (DNS rebinding) and a
//! browser's cross-site POST are refused and never reach an upstream, while clients that
//! send neither (SDKs, Claude Code, curl) and the proxy's own paths work as before.

use qcc::fake::FakeUpstream;

use crate::harness::TestEnv;
use crate::harness::client::STREAM;
use crate::harness::daemon::{client, runtime};

/// POST `/v1/messages` with extra headers; (status, headers, body).
fn post(base: &str, headers: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, String) {
    runtime().block_on(async {
        let mut req = client().post(format!("{base}/v1/messages")).body(STREAM);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let h = r.headers().clone();
        (status, h, r.text().await.unwrap())
    })
}

fn error_type(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["type"], "error", "{body}");
    v["error"]["type"].as_str().unwrap().to_owned()
}

#[test]
fn rebinding_and_cross_site_requests_are_refused_before_any_upstream() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    env.endpoint_for("work", &up.url(), "sk-ant-api03-access-0001", "api-key");
    let proxy = env.start_proxy();
    let port = proxy.base_url.rsplit(':').next().unwrap().to_owned();

    // DNS rebinding: the page's own name in Host.
    let (status, _, body) = post(
        &proxy.base_url,
        &[("host", &format!("attacker.example:{port}"))],
    );
    assert_eq!(status, 421, "{body}");
    assert_eq!(error_type(&body), "permission_error");
    assert!(
        body.contains("allowed_hosts"),
        "the message says how to allow it: {body}"
    );

    // A cross-site "simple" POST: no API key, text/plain, an Origin.
    let (status, headers, body) = post(
        &proxy.base_url,
        &[
            ("origin", "https://attacker.example.com"),
            ("content-type", "text/plain"),
        ],
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_type(&body), "permission_error");
    assert!(
        !headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "no CORS headers: {headers:?}"
    );
    // Its preflight gets nothing either.
    let preflight = runtime().block_on(async {
        client()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/messages", proxy.base_url),
            )
            .header("origin", "https://attacker.example.com")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap()
    });
    assert_eq!(preflight.status(), 403);
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(up.request_count(), 0, "nothing reached the upstream");

    // Loopback names, with or without a port, and the proxy's own origin are served; so
    // are clients that send no Origin at all.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".to_owned(),
    ] {
        let (status, _, body) = post(&proxy.base_url, &[("host", &host)]);
        assert_eq!(status, 200, "Host {host}: {body}");
    }
    let own = format!("http://127.0.0.1:{port}");
    let (status, headers, _) = post(&proxy.base_url, &[("origin", &own)]);
    assert_eq!(status, 200);
    assert!(headers.get("access-control-allow-origin").is_none());
    assert_eq!(up.request_count(), 4);
    // The proxy's own paths answer, and `proxy status` works over the socket as before.
    let health = runtime().block_on(async {
        client()
            .get(format!("{}/_qcc/status", proxy.base_url))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(health, 200);
    let rebound = runtime().block_on(async {
        client()
            .get(format!("{}/_qcc/status", proxy.base_url))
            .header("host", "attacker.example")
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(rebound, 421, "status is not readable through rebinding");
    assert_eq!(env.proxy_status()["requests"], 4);
}

#[test]
fn configured_hosts_and_origins_are_served_with_cors() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    env.endpoint_for("work", &up.url(), "sk-ant-api03-access-0002", "api-key");
    env.edit_config(|c| {
        c.proxy.allowed_hosts = vec!["qcc.internal".into()];
        c.proxy.allowed_origins = vec!["https://app.example".into()];
    });
    let proxy = env.start_proxy();
    let (status, _, body) = post(&proxy.base_url, &[("host", "qcc.internal:7860")]);
    assert_eq!(status, 200, "{body}");
    let (status, headers, body) = post(&proxy.base_url, &[("origin", "https://app.example")]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    let preflight = runtime().block_on(async {
        client()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/messages", proxy.base_url),
            )
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "x-api-key, content-type")
            .send()
            .await
            .unwrap()
    });
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "x-api-key, content-type"
    );
    assert_eq!(
        up.request_count(),
        2,
        "the preflight is answered by the proxy"
    );
    let (status, _, _) = post(&proxy.base_url, &[("origin", "https://other.example")]);
    assert_eq!(status, 403);
}
