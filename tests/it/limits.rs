//! Limits respected before they bite: local limits per endpoint (rpm, tpm with the estimate
//! settled by the real count, a day budget from the prices) and the limits a provider
//! announces in its headers (Anthropic's and OpenAI's) move an endpoint out as `limited` —
//! skipped, not failed — and every candidate limited is a 429 with `retry-after`. A 402 is
//! a billing hold past the 10-minute cap that `qcc endpoint enable` ends.

use std::time::Duration;

use serde_json::{Value, json};

use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;
use crate::harness::client::{PLAIN, STREAM, send};
use crate::harness::daemon::{client, runtime};
use crate::harness::scenarios::pair;

fn limits(env: &TestEnv, id: &str) -> Value {
    env.json(&["endpoint", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap()
        .get("limits")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn limits_are_set_listed_and_cleared_from_the_cli() {
    let env = TestEnv::new();
    let ids = env.profile_with("work", 2);
    let v = env.json(&[
        "endpoint",
        "add",
        "work",
        "--url",
        "https://limited.example.com",
        "--key",
        "sk-ant-api03-limited-0123456789",
        "--rpm",
        "50",
        "--budget-day",
        "12.50",
    ]);
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["limits"], json!({"rpm": 50, "budget_day_usd": 12.5}));
    let stored = |env: &TestEnv, id: &str| {
        env.config()["profiles"][0]["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        stored(&env, &id)["limits"],
        json!({"rpm": 50, "budget_day_usd": 12.5})
    );
    assert!(
        stored(&env, &ids[0]).get("limits").is_none(),
        "omitted when empty"
    );
    // The LIMITS column, only once some endpoint has one.
    let table = env.ok(&["endpoint", "list"]);
    assert!(table.contains("LIMITS"), "{table}");
    assert!(table.contains("rpm 50, $12.5/day"), "{table}");
    // Edit: one limit added, the others kept.
    env.ok(&[
        "endpoint",
        "edit",
        "work",
        &id,
        "--tpm",
        "40000",
        "--tokens-per-day",
        "1000000",
        "--budget-month",
        "300",
    ]);
    assert_eq!(
        limits(&env, &id),
        json!({"rpm": 50, "tpm": 40000, "tokens_per_day": 1000000,
               "budget_day_usd": 12.5, "budget_month_usd": 300.0})
    );
    // Bad values: one line, a hint, exit 2, nothing changed.
    let before = env.snapshot();
    for (flag, value, says) in [
        ("--rpm", "0", "must be positive"),
        ("--rpm", "-1", "must be positive"),
        ("--tpm", "lots", "whole number"),
        ("--tokens-per-day", "1.5", "whole number"),
        ("--budget-day", "$5", "plain amount"),
        ("--budget-day", "5,00", "plain amount"),
        ("--budget-month", "0", "must be positive"),
        ("--budget-month", "-3", "must be positive"),
        ("--budget-month", "ten", "plain amount"),
    ] {
        let err = env.fail_with_hint(2, &["endpoint", "edit", "work", &id, flag, value]);
        assert!(err.contains(says), "{flag} {value}: {err}");
        assert_eq!(err.lines().next().unwrap().matches("error:").count(), 1);
        let err = env.fail_with_hint(
            2,
            &[
                "endpoint",
                "add",
                "work",
                "--url",
                "https://other.example.com",
                "--key",
                "sk-ant-api03-other-0123456789",
                flag,
                value,
            ],
        );
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
    assert_eq!(env.snapshot(), before, "a refused value changes nothing");
    // Clear them all, or all but the new one.
    env.ok(&[
        "endpoint",
        "edit",
        "work",
        &id,
        "--clear-limits",
        "--rpm",
        "5",
    ]);
    assert_eq!(limits(&env, &id), json!({"rpm": 5}));
    env.ok(&["endpoint", "edit", "work", &id, "--clear-limits"]);
    assert_eq!(limits(&env, &id), Value::Null);
    assert!(stored(&env, &id).get("limits").is_none());
    assert!(!env.ok(&["endpoint", "list"]).contains("LIMITS"));
}

#[test]
fn an_endpoint_at_its_rpm_is_skipped_then_every_endpoint_limited_is_a_429() {
    let p = pair(None);
    p.env
        .ok(&["endpoint", "edit", "work", &p.a_id, "--rpm", "3"]);
    let proxy = p.env.start_proxy();
    let rt = runtime();
    let http = client();
    for i in 0..3 {
        let r = rt
            .block_on(send(&http, &proxy.base_url, PLAIN, None))
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.endpoint.as_deref(), Some(p.a_id.as_str()), "request {i}");
    }
    // The 4th goes to B at once: a skip is not an attempt.
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.endpoint.as_deref(), Some(p.b_id.as_str()));
    assert_eq!(r.attempts, Some(1));
    assert_eq!(p.a.request_count(), 3);
    let a = p.env.endpoint_status(&p.a_id);
    assert_eq!(a["state"], "limited", "{a}");
    assert_eq!(a["breaker"], "closed", "not a failure: {a}");
    assert_eq!(a["errors"], 0);
    assert_eq!(a["consecutive_failures"], 0);
    assert!(
        a["unavailable"].as_str().unwrap().contains("rpm limit"),
        "{a}"
    );
    let until: chrono::DateTime<chrono::Utc> =
        a["limited_until"].as_str().unwrap().parse().unwrap();
    let left = (until - chrono::Utc::now()).num_seconds();
    assert!((1..=60).contains(&left), "resets within the minute: {left}");
    let table = p.env.ok(&["proxy", "status"]);
    assert!(table.contains("limited ("), "{table}");
    // A alone: the client is told to come back when the window has room.
    p.env.ok(&["endpoint", "disable", "work", &p.b_id]);
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.status, 429, "{r:?}");
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    let secs: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    assert_eq!(r.attempts, Some(0));
    assert_eq!(p.a.request_count(), 3, "nothing sent");
    assert_eq!(p.env.endpoint_status(&p.a_id)["errors"], 0);
}

/// A streamed request of about `bytes` bytes (estimated at bytes / 4 tokens).
fn padded_stream(bytes: usize) -> String {
    let pad = "x".repeat(bytes.saturating_sub(120));
    json!({"model": "claude-test", "stream": true, "max_tokens": 64,
           "messages": [{"role": "user", "content": pad}]})
    .to_string()
}

#[test]
fn tpm_admits_at_an_estimate_and_settles_with_the_real_count() {
    let p = pair(None);
    p.env
        .ok(&["endpoint", "edit", "work", &p.a_id, "--tpm", "1000"]);
    // Estimated at ~600 tokens each, answered with 10 input tokens (and 3 output).
    p.a.set_input_tokens(Some(10));
    let proxy = p.env.start_proxy();
    let rt = runtime();
    let http = client();
    let body = padded_stream(2400);
    let settled = |env: &TestEnv| {
        env.wait_status(Duration::from_secs(5), "A's answer settled", |s| {
            s["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["in_flight"] == 0)
        });
    };
    for i in 0..3 {
        let r = rt
            .block_on(send(&http, &proxy.base_url, body.clone(), None))
            .unwrap();
        assert!(r.is_clean_stream(), "{r:?}");
        // Without the real count, 600 + 600 would not fit in 1000.
        assert_eq!(r.endpoint.as_deref(), Some(p.a_id.as_str()), "request {i}");
        settled(&p.env);
    }
    // Answers of 900 input tokens: the next one does not fit.
    p.a.set_input_tokens(Some(900));
    let r = rt
        .block_on(send(&http, &proxy.base_url, body.clone(), None))
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(p.a_id.as_str()));
    settled(&p.env);
    let r = rt
        .block_on(send(&http, &proxy.base_url, body.clone(), None))
        .unwrap();
    assert!(r.is_clean_stream(), "{r:?}");
    assert_eq!(r.endpoint.as_deref(), Some(p.b_id.as_str()));
    assert_eq!(r.attempts, Some(1));
    let a = p.env.endpoint_status(&p.a_id);
    assert!(
        a["unavailable"].is_null() || a["unavailable"].as_str().unwrap().contains("tpm"),
        "{a}"
    );
    assert_eq!(a["errors"], 0);
}

#[test]
fn a_day_budget_stops_traffic_once_the_spend_reaches_it() {
    let p = pair(None);
    // $10,000 per million input tokens, 100 input tokens an answer: $1 each.
    p.env.ok(&[
        "price",
        "set",
        "claude-test",
        "--input",
        "10000",
        "--output",
        "0",
    ]);
    p.a.set_input_tokens(Some(100));
    p.env
        .ok(&["endpoint", "edit", "work", &p.a_id, "--budget-day", "1.5"]);
    let proxy = p.env.start_proxy();
    let rt = runtime();
    let http = client();
    for _ in 0..2 {
        let r = rt
            .block_on(send(&http, &proxy.base_url, PLAIN, None))
            .unwrap();
        assert_eq!(r.endpoint.as_deref(), Some(p.a_id.as_str()), "{r:?}");
    }
    // The recorder prices answers off the request path: $2 spent, past $1.50.
    let s = p
        .env
        .wait_status(Duration::from_secs(10), "A limited by its budget", |s| {
            s["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["state"] == "limited")
        });
    let a = s["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == p.a_id.as_str())
        .unwrap();
    assert!(
        a["unavailable"]
            .as_str()
            .unwrap()
            .contains("day budget reached: $2.00 of $1.50"),
        "{a}"
    );
    let until: chrono::DateTime<chrono::Utc> =
        a["limited_until"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        until.time(),
        chrono::NaiveTime::MIN,
        "the next UTC midnight"
    );
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(p.b_id.as_str()));
    assert_eq!(p.a.request_count(), 2);
}

fn rfc3339_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339()
}

#[test]
fn a_provider_announcing_no_requests_left_is_moved_out_until_its_reset() {
    let p = pair(None);
    let reset = rfc3339_in(120);
    p.a.set_extra_headers(vec![
        ("anthropic-ratelimit-requests-remaining".into(), "0".into()),
        ("anthropic-ratelimit-requests-reset".into(), reset.clone()),
    ]);
    let proxy = p.env.start_proxy();
    let rt = runtime();
    let http = client();
    // The answer that says so still reaches the client, headers unchanged.
    let resp = rt
        .block_on(
            http.post(format!("{}/v1/messages", proxy.base_url))
                .header("x-api-key", "sk-client")
                .header("content-type", "application/json")
                .body(PLAIN)
                .send(),
        )
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["x-qcc-endpoint"], p.a_id.as_str());
    assert_eq!(h["anthropic-ratelimit-requests-remaining"], "0");
    assert_eq!(h["anthropic-ratelimit-requests-reset"], reset.as_str());
    drop(rt.block_on(resp.bytes()));
    let a = p.env.endpoint_status(&p.a_id);
    assert_eq!(a["state"], "limited", "{a}");
    assert!(
        a["unavailable"].as_str().unwrap().contains("provider says"),
        "{a}"
    );
    let until: chrono::DateTime<chrono::Utc> =
        a["limited_until"].as_str().unwrap().parse().unwrap();
    let announced: chrono::DateTime<chrono::Utc> = reset.parse().unwrap();
    assert!(
        (until - announced).num_milliseconds().abs() < 1000,
        "{until} vs {reset}"
    );
    // The next request goes elsewhere before A answers 429.
    for _ in 0..2 {
        let r = rt
            .block_on(send(&http, &proxy.base_url, STREAM, None))
            .unwrap();
        assert!(r.is_clean_stream(), "{r:?}");
        assert_eq!(r.endpoint.as_deref(), Some(p.b_id.as_str()));
        assert_eq!(r.attempts, Some(1));
    }
    assert_eq!(p.a.request_count(), 1);
    assert_eq!(p.env.endpoint_status(&p.a_id)["errors"], 0);
    // `qcc endpoint enable` forgets the announcement.
    p.a.set_extra_headers(Vec::new());
    p.env.ok(&["endpoint", "enable", "work", &p.a_id]);
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(p.a_id.as_str()));
}

#[test]
fn openai_rate_limit_headers_move_an_openai_endpoint_out() {
    let env = TestEnv::new();
    let chat = FakeUpstream::spawn_openai("chat").unwrap();
    let b = FakeUpstream::spawn_named("b").unwrap();
    env.ok(&["profile", "add", "work"]);
    env.ok(&["profile", "edit", "work", "--strategy", "ordered"]);
    let a_id = env.json(&[
        "endpoint",
        "add",
        "work",
        "--kind",
        "openai",
        "--url",
        &chat.url(),
        "--key",
        "sk-or-000000000000001",
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_id = env.endpoint_for("work", &b.url(), "sk-b-00000000000002", "api-key");
    chat.set_extra_headers(vec![
        ("x-ratelimit-remaining-requests".into(), "0".into()),
        ("x-ratelimit-reset-requests".into(), "6m0s".into()),
        ("x-ratelimit-remaining-tokens".into(), "90000".into()),
        ("x-ratelimit-reset-tokens".into(), "1s".into()),
    ]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.endpoint.as_deref(), Some(a_id.as_str()));
    let a = env.endpoint_status(&a_id);
    assert_eq!(a["state"], "limited", "{a}");
    let until: chrono::DateTime<chrono::Utc> =
        a["limited_until"].as_str().unwrap().parse().unwrap();
    let left = (until - chrono::Utc::now()).num_seconds();
    assert!((340..=360).contains(&left), "6 minutes: {left}");
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(b_id.as_str()));
    assert_eq!(r.attempts, Some(1));
    assert_eq!(chat.request_count(), 1);
}

#[test]
fn a_402_holds_the_endpoint_past_the_cooldown_cap_until_enable() {
    let p = pair(None);
    p.env.edit_config(|c| c.policy.billing_hold_secs = 5000);
    let proxy = p.env.start_proxy();
    let rt = runtime();
    let http = client();
    p.a.push_fault(Fault::status(402));
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(p.b_id.as_str()), "{r:?}");
    let a = p.env.endpoint_status(&p.a_id);
    assert_eq!(a["state"], "billing", "{a}");
    let left = a["cooldown_left_secs"].as_u64().unwrap();
    assert!(
        (4990..=5000).contains(&left),
        "policy.billing_hold_secs: {left}"
    );
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(p.b_id.as_str()));
    // A spend limit that names its day: held until the next UTC midnight.
    p.env.ok(&["endpoint", "enable", "work", &p.a_id]);
    assert_eq!(p.env.endpoint_status(&p.a_id)["state"], "healthy");
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(p.a_id.as_str()), "released");
    p.a.push_fault(Fault::Status {
        status: 402,
        retry_after: None,
        message: Some("Your daily spend limit is reached".into()),
    });
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(p.b_id.as_str()));
    let a = p.env.endpoint_status(&p.a_id);
    assert_eq!(a["state"], "billing");
    let left = a["cooldown_left_secs"].as_u64().unwrap() as i64;
    let midnight = (chrono::Utc::now().date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let expected = (midnight - chrono::Utc::now()).num_seconds();
    assert!((left - expected).abs() <= 2, "{left} vs {expected}");
    p.env.ok(&["endpoint", "enable", "work", &p.a_id]);
    assert_eq!(p.env.endpoint_status(&p.a_id)["state"], "healthy");
}
