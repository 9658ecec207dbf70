//! Failing over within one request, before the commit point: every retryable outcome on
//! the first endpoint gives the client one clean success from the second; a 400 passes
//! through; a stream that dies after it started is never retried; an outage does not
//! multiply the load beyond the retry budget.

use std::time::Duration;

use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;
use crate::harness::client::{PLAIN, STREAM, send};
use crate::harness::daemon::{client, runtime};
use crate::harness::scenarios::pair;

/// A URL whose port refuses connections and stays ours: a socket bound but never listening
/// (a port merely closed again could be taken by another test running at the same time).
pub(crate) fn closed_port_url() -> String {
    // SAFETY: plain socket(2)/bind(2)/getsockname(2) on a local struct; the fd is leaked on
    // purpose so that the port stays taken for the test binary's life.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&raw const addr).cast(), len), 0);
        let mut len = len;
        assert_eq!(libc::getsockname(fd, (&raw mut addr).cast(), &mut len), 0);
        format!("http://127.0.0.1:{}", u16::from_be(addr.sin_port))
    }
}

#[test]
fn every_retryable_outcome_fails_over_to_the_next_endpoint() {
    let cases: Vec<(&str, Option<Fault>)> = vec![
        ("connection refused", None),
        (
            "timeout before headers",
            Some(Fault::DelayHeaders(Duration::from_secs(3))),
        ),
        ("reset before headers", Some(Fault::ResetBeforeHeaders)),
        ("first SSE event is an error", Some(Fault::ErrorEvent)),
        ("408", Some(Fault::status(408))),
        ("429", Some(Fault::rate_limited(1))),
        ("500", Some(Fault::status(500))),
        ("502", Some(Fault::status(502))),
        ("503", Some(Fault::status(503))),
        ("504", Some(Fault::status(504))),
        ("529", Some(Fault::status(529))),
        ("402", Some(Fault::status(402))),
        ("401", Some(Fault::status(401))),
        ("403", Some(Fault::status(403))),
    ];
    let rt = runtime();
    let http = client();
    for (name, fault) in cases {
        let p = pair(fault.is_none().then(closed_port_url));
        if let Some(f) = fault {
            p.a.push_fault(f);
        }
        let proxy = p.env.start_proxy();
        let reply = rt
            .block_on(send(&http, &proxy.base_url, STREAM, None))
            .unwrap();
        assert!(reply.is_clean_stream(), "{name}: {reply:?}");
        assert_eq!(reply.endpoint.as_deref(), Some(p.b_id.as_str()), "{name}");
        assert_eq!(reply.attempts, Some(2), "{name}");
        assert_eq!(
            reply.body.matches("event: message_start").count(),
            1,
            "{name}"
        );
        assert_eq!(p.b.request_count(), 1, "{name}: exactly one success from B");
        let expected_a = usize::from(name != "connection refused");
        assert_eq!(p.a.request_count(), expected_a, "{name}");
        let a = p.env.endpoint_status(&p.a_id);
        assert_eq!(a["errors"], 1, "{name}: A's counters show it: {a}");
        assert!(a["last_error"].is_string(), "{name}: {a}");
        drop(proxy);
    }
}

#[test]
fn credential_and_billing_failures_take_the_endpoint_out() {
    let rt = runtime();
    let http = client();
    for (fault, expect) in [
        (Fault::status(401), "key rejected"),
        (Fault::status(402), "breaker open"),
        (
            Fault::Status {
                status: 429,
                retry_after: Some(5),
                message: Some("You have reached your specified API usage limits".into()),
            },
            "spend limit",
        ),
    ] {
        let p = pair(None);
        p.a.set_default_fault(fault.clone());
        let proxy = p.env.start_proxy();
        for _ in 0..3 {
            let r = rt
                .block_on(send(&http, &proxy.base_url, STREAM, None))
                .unwrap();
            assert!(r.is_clean_stream(), "{fault:?}: {r:?}");
        }
        assert_eq!(
            p.a.request_count(),
            1,
            "{fault:?}: A is skipped after one failure"
        );
        let a = p.env.endpoint_status(&p.a_id);
        assert!(
            a["unavailable"].as_str().unwrap().contains(expect),
            "{fault:?}: {a}"
        );
        if expect != "key rejected" {
            assert!(
                a["cooldown_left_secs"].as_u64().unwrap() > 3000,
                "long cooldown: {a}"
            );
        }
    }
}

#[test]
fn a_changed_key_is_tried_again() {
    let rt = runtime();
    let http = client();
    let p = pair(None);
    p.a.push_fault(Fault::status(401));
    let proxy = p.env.start_proxy();
    rt.block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    rt.block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(p.a.request_count(), 1);
    p.env.ok(&[
        "endpoint",
        "edit",
        "work",
        &p.a_id,
        "--key",
        "sk-a-fixed-000000000",
    ]);
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(
        r.endpoint.as_deref(),
        Some(p.a_id.as_str()),
        "the new key is used: {r:?}"
    );
}

#[test]
fn a_400_passes_through_untouched_and_is_not_retried() {
    let rt = runtime();
    let p = pair(None);
    p.a.push_fault(Fault::Status {
        status: 400,
        retry_after: None,
        message: Some("messages: field required".into()),
    });
    let proxy = p.env.start_proxy();
    let r = rt
        .block_on(send(&client(), &proxy.base_url, STREAM, None))
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.attempts, Some(1));
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["message"], "messages: field required");
    assert_eq!(p.b.request_count(), 0);
    assert_eq!(
        p.env.endpoint_status(&p.a_id)["errors"],
        0,
        "not the endpoint's fault"
    );
}

#[test]
fn a_stream_that_dies_after_it_started_is_not_retried() {
    let rt = runtime();
    let p = pair(None);
    p.a.push_fault(Fault::DieAfterEvents(3));
    let proxy = p.env.start_proxy();
    let r = rt
        .block_on(send(&client(), &proxy.base_url, STREAM, None))
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.endpoint.as_deref(), Some(p.a_id.as_str()));
    assert_eq!(
        r.body.matches("event: message_start").count(),
        1,
        "no duplicated text"
    );
    assert!(
        r.body.contains("event: error") && !r.body.contains("message_stop"),
        "{}",
        r.body
    );
    assert_eq!(
        p.b.request_count(),
        0,
        "never retried after the commit point"
    );
}

#[test]
fn when_everything_fails_the_last_error_or_a_503_comes_back() {
    let rt = runtime();
    let http = client();
    // Both answer 529: the last upstream error response goes back unchanged.
    let p = pair(None);
    p.a.set_default_fault(Fault::status(529));
    p.b.set_default_fault(Fault::Status {
        status: 529,
        retry_after: None,
        message: Some("b is overloaded".into()),
    });
    let proxy = p.env.start_proxy();
    let r = rt
        .block_on(send(&http, &proxy.base_url, STREAM, None))
        .unwrap();
    assert_eq!(r.status, 529);
    assert_eq!(r.attempts, Some(2));
    assert!(r.body.contains("b is overloaded"), "{}", r.body);
    drop(proxy);

    // Neither answers at all: 503, integer retry-after, the endpoints named.
    let env = TestEnv::new();
    let a = env.endpoint_for("work", &closed_port_url(), "sk-a-00000000000003", "api-key");
    let b = env.endpoint_for("work", &closed_port_url(), "sk-b-00000000000004", "api-key");
    let proxy = env.start_proxy();
    let r = rt
        .block_on(send(&http, &proxy.base_url, STREAM, None))
        .unwrap();
    assert_eq!(r.status, 503);
    assert!(
        r.retry_after.as_deref().unwrap().parse::<u64>().is_ok(),
        "{r:?}"
    );
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["type"], "error");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&a) && msg.contains(&b), "{msg}");
}

#[test]
fn retries_stay_within_the_budget_in_an_outage() {
    let env = TestEnv::new();
    let ups: Vec<FakeUpstream> = (0..3).map(|_| FakeUpstream::spawn().unwrap()).collect();
    for (i, up) in ups.iter().enumerate() {
        up.set_default_fault(Fault::status(500));
        env.endpoint_for(
            "work",
            &up.url(),
            &format!("sk-budget-0000000{i}"),
            "api-key",
        );
    }
    // Breakers that never open, so that only the budget limits the attempts.
    env.edit_config(|c| c.policy.failure_threshold = 100);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let n = 60;
    for _ in 0..n {
        let r = rt
            .block_on(send(&http, &proxy.base_url, PLAIN, None))
            .unwrap();
        assert_eq!(r.status, 500, "{r:?}");
    }
    let attempts: usize = ups.iter().map(|u| u.request_count()).sum();
    // 60 first attempts + at most max(10, 20% of 60) retries; without a budget: 180.
    assert!(attempts >= n, "{attempts}");
    assert!(
        attempts <= n + 12,
        "{attempts} upstream attempts for {n} requests"
    );
}

#[test]
fn past_the_retry_buffer_budget_a_request_gets_one_attempt() {
    let p = pair(None);
    // 300 bytes of bodies may be held for retries: one of these requests, not two.
    p.env.edit_config(|c| {
        c.proxy.retry_buffer_bytes = 300;
        c.queue.mode = qcc::state::model::QueueMode::All;
    });
    let body: &'static str = Box::leak(
        format!(
            r#"{{"model":"m","stream":true,"messages":[{{"role":"user","content":"{}"}}]}}"#,
            "x".repeat(150)
        )
        .into_boxed_str(),
    );
    p.a.push_fault(Fault::DelayHeaders(Duration::from_millis(800)));
    p.a.push_fault(Fault::status(529));
    let proxy = p.env.start_proxy();
    let rt = runtime();
    let http = client();
    // The first request holds its body (for a retry) while A delays its answer.
    let first = rt.spawn({
        let (http, base) = (http.clone(), proxy.base_url.clone());
        async move { send(&http, &base, body, None).await.unwrap() }
    });
    assert!(p.a.wait_until(Duration::from_secs(10), |s| s.requests == 1));
    // The second finds the budget used: one attempt, A's 529 back, no failover, not queued.
    let (second, queued) = rt.block_on(async {
        let r = http
            .post(format!("{}/v1/messages", proxy.base_url))
            .body(body)
            .send()
            .await
            .unwrap();
        let queued = r.headers().get("x-qcc-queue-id").is_some();
        (r.status().as_u16(), queued)
    });
    assert_eq!(second, 529);
    assert!(!queued, "a request past the budget is not queued");
    assert_eq!(p.b.request_count(), 0, "no failover past the budget");
    let first = rt.block_on(first).unwrap();
    assert!(first.is_clean_stream(), "{first:?}");
    // With the budget free again, failover works as before.
    p.a.push_fault(Fault::status(529));
    let r = rt
        .block_on(send(&http, &proxy.base_url, body, None))
        .unwrap();
    assert_eq!(
        (r.attempts, r.endpoint.as_deref()),
        (Some(2), Some(p.b_id.as_str()))
    );
}
