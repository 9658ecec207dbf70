//! `GET /_qcc/metrics`: the Prometheus text of a real daemon after real traffic — successes,
//! a failover (the first endpoint answers 529), a 4xx passed on, an upstream error passed on
//! after failover was exhausted — with the figures checked one by one, the open breaker's
//! state gauge, the histograms' counts, `promtool check metrics` on the text, and the
//! access token.
//!
//! CI installs promtool (Debian's `prometheus` package, in .ci/run); elsewhere the promtool
//! test is skipped with a message when it is missing.

use std::io::Write;
use std::process::{Command, Stdio};

use qcc::fake::Fault;

use crate::harness::client::{STREAM, send};
use crate::harness::daemon::{client, runtime};
use crate::harness::scenarios::pair;

/// GET `/_qcc/metrics` with an optional header: (status, content type, body).
fn scrape(base: &str, header: Option<(&str, &str)>) -> (u16, String, String) {
    runtime().block_on(async {
        let mut req = client().get(format!("{base}/_qcc/metrics"));
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ct, r.text().await.unwrap())
    })
}

/// The value of the sample `series` (name and labels exactly as written), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

/// The traffic of both tests: A (first, ordered) and B in profile `work`, breakers open
/// after one failure. Returns the scraped text and the two endpoint ids.
fn traffic_then_scrape() -> (String, String, String) {
    let p = pair(None);
    p.env
        .ok(&["priority", "policy", "--failure-threshold", "1"]);
    let proxy = p.env.start_proxy();
    let rt = runtime();
    let http = client();
    let go = || {
        rt.block_on(send(&http, &proxy.base_url, STREAM, None))
            .unwrap()
    };
    // 1. A answers.
    let r = go();
    assert!(r.is_clean_stream(), "{r:?}");
    // 2. A is overloaded: failover to B (A's breaker opens).
    p.a.push_fault(Fault::status(529));
    let r = go();
    assert_eq!(
        (r.endpoint.as_deref(), r.attempts),
        (Some(&*p.b_id), Some(2))
    );
    // 3. B refuses the request: the 400 is passed on, no failover.
    p.b.push_fault(Fault::status(400));
    assert_eq!(go().status, 400);
    // 4. B is overloaded and A (open, the last resort) too: A's 529 is passed on.
    p.a.set_default_fault(Fault::status(529));
    p.b.push_fault(Fault::status(529));
    let r = go();
    assert_eq!(
        (r.status, r.endpoint.as_deref()),
        (529, Some(&*p.a_id)),
        "{r:?}"
    );
    // Answers reach the metrics through the usage recorder, off the request path: scrape
    // until the four are counted (within a deadline).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (status, ct, text) = loop {
        let (status, ct, text) = scrape(&proxy.base_url, None);
        let counted: f64 = text
            .lines()
            .filter(|l| l.starts_with("qcc_requests_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if counted >= 4.0 || std::time::Instant::now() > deadline {
            break (status, ct, text);
        }
    };
    assert_eq!(status, 200, "{text}");
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    drop(proxy);
    (text, p.a_id.clone(), p.b_id.clone())
}

#[test]
fn the_scrape_counts_requests_attempts_failovers_and_states() {
    let (text, a, b) = traffic_then_scrape();
    let req = |e: &str, outcome: &str| {
        value(
            &text,
            &format!(
                r#"qcc_requests_total{{profile="work",endpoint="{e}",model="claude-test",outcome="{outcome}"}}"#
            ),
        )
    };
    assert_eq!(req(&a, "success"), 1.0);
    assert_eq!(req(&b, "success"), 1.0);
    assert_eq!(req(&b, "client_error"), 1.0);
    assert_eq!(
        req(&a, "upstream_error"),
        1.0,
        "{}",
        text.lines()
            .filter(|l| l.starts_with("qcc_requests_total{"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(req(&a, "unavailable") + req(&b, "failed_stream"), 0.0);
    let att = |e: &str, result: &str| {
        value(
            &text,
            &format!(r#"qcc_upstream_attempts_total{{endpoint="{e}",result="{result}"}}"#),
        )
    };
    assert_eq!(att(&a, "committed"), 1.0);
    assert_eq!(
        att(&a, "error_status"),
        2.0,
        "request 2 and the last resort"
    );
    assert_eq!(
        att(&b, "committed"),
        2.0,
        "the failover's success and the 400"
    );
    assert_eq!(att(&b, "error_status"), 1.0);
    assert_eq!(att(&a, "no_response") + att(&b, "error_event"), 0.0);
    // Request 2 moved once (A → B), request 4 once (B → A as the last resort).
    assert_eq!(value(&text, "qcc_failovers_total"), 2.0);
    assert_eq!(value(&text, "qcc_retry_budget_refusals_total"), 0.0);
    // A's breaker is open: 1 for `open`, 0 for the seven other states.
    let state = |e: &str, s: &str| {
        value(
            &text,
            &format!(r#"qcc_endpoint_state{{endpoint="{e}",profile="work",state="{s}"}}"#),
        )
    };
    assert_eq!(state(&a, "open"), 1.0, "{text}");
    let words = [
        "healthy",
        "degraded",
        "open",
        "half-open",
        "recovering",
        "disabled",
        "rejected",
        "billing",
        "limited",
    ];
    for e in [&a, &b] {
        assert_eq!(words.iter().map(|w| state(e, w)).sum::<f64>(), 1.0, "{e}");
    }
    // Histograms count the attempts that committed, and the requests that did.
    for (e, n) in [(&a, 1.0), (&b, 2.0)] {
        let l = format!(r#"qcc_upstream_latency_seconds_count{{endpoint="{e}"}}"#);
        assert_eq!(value(&text, &l), n);
        let t = format!(r#"qcc_time_to_first_token_seconds_count{{endpoint="{e}"}}"#);
        assert_eq!(value(&text, &t), n);
        let inf = format!(r#"qcc_upstream_latency_seconds_bucket{{endpoint="{e}",le="+Inf"}}"#);
        assert_eq!(value(&text, &inf), n);
    }
    assert_eq!(value(&text, "qcc_proxy_overhead_seconds_count"), 3.0);
    assert!(value(&text, "qcc_proxy_overhead_seconds_sum") > 0.0);
    // Tokens read from the streams; no price known yet.
    let input = format!(r#"qcc_tokens_total{{endpoint="{a}",model="claude-test",kind="input"}}"#);
    assert!(value(&text, &input) > 0.0, "{text}");
    let cost = format!(r#"qcc_cost_dollars_total{{endpoint="{a}",model="claude-test"}}"#);
    assert_eq!(value(&text, &cost), 0.0);
    // Read at scrape time.
    assert_eq!(value(&text, "qcc_in_flight_requests"), 0.0);
    assert_eq!(value(&text, r#"qcc_queue_items{state="pending"}"#), 0.0);
    let build = format!(
        r#"qcc_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&text, &build), 1.0);
    assert!(
        !text.contains("request_id") && !text.contains("sk-"),
        "{text}"
    );
}

fn promtool_available() -> bool {
    Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_scrape_passes_promtool_check_metrics() {
    if !promtool_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have promtool: apt-get install prometheus"
        );
        eprintln!("skipped: promtool is not installed (apt-get install prometheus)");
        return;
    }
    let (text, _, _) = traffic_then_scrape();
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Lint warnings count as failures: promtool must have nothing to say.
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics ({:?}):\n{report}\non:\n{text}",
        out.status.code()
    );
}

#[test]
fn with_an_access_token_the_scrape_needs_it() {
    let p = pair(None);
    let token = std::ffi::OsStr::new("metrics-token-123");
    let proxy = p.env.start_proxy_env(&[], &[("QCC_ACCESS_TOKEN", token)]);
    let (status, _, body) = scrape(&proxy.base_url, None);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("qcc_"), "{body}");
    let (status, _, _) = scrape(&proxy.base_url, Some(("x-api-key", "wrong")));
    assert_eq!(status, 401);
    let (status, _, body) = scrape(&proxy.base_url, Some(("x-api-key", "metrics-token-123")));
    assert_eq!(status, 200);
    assert!(body.contains("qcc_build_info"), "{body}");
    let (status, _, _) = scrape(
        &proxy.base_url,
        Some(("authorization", "Bearer metrics-token-123")),
    );
    assert_eq!(status, 200);
    // `/_qcc/health` stays open (liveness), as before.
    let health = runtime().block_on(async {
        client()
            .get(format!("{}/_qcc/health", proxy.base_url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(health, 200);
}
