//! Usage and cost accounting through the real daemon: tokens by kind checked against the
//! fakes' exact `usage` (streamed and whole, cache writes and reads, a translated answer),
//! cost from the list prices and the user's, "no price" for unknown models, figures that
//! survive a restart and a SIGKILL (at most the last flush lost), `qcc usage` by every
//! grouping, and its bad input.

use std::time::{Duration, Instant};

use qcc::fake::{CacheUsage, FakeUpstream, OpenAiReply};
use serde_json::{Value, json};

use crate::harness::TestEnv;
use crate::harness::client::send;
use crate::harness::daemon::{client, kill, runtime, wait_pid_exit};

/// `qcc usage --json ARGS`, re-read until `done` holds (the daemon writes every 2 s).
fn usage_until(env: &TestEnv, args: &[&str], done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut full = vec!["usage"];
        full.extend_from_slice(args);
        let v = env.json(&full);
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "usage never got there: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The row of `key` in a `qcc usage --json` report.
fn row(v: &Value, key: &str) -> Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {v}"))
        .clone()
}

fn requests(v: &Value) -> u64 {
    v["total"]["requests"].as_u64().unwrap()
}

fn body(model: &str, stream: bool, text: &str) -> String {
    json!({"model": model, "max_tokens": 64, "stream": stream,
           "messages": [{"role": "user", "content": text}]})
    .to_string()
}

#[test]
fn tokens_by_kind_and_cost_match_the_upstreams_usage() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_named("an").unwrap();
    up.set_reply_text("one two three four");
    up.set_cache_usage(CacheUsage {
        write_5m: 1000,
        write_1h: 500,
        read: 20_000,
    });
    let id = env.endpoint_for("work", &up.url(), "sk-ant-000000000001", "api-key");
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let (streamed, whole) = (
        body("claude-sonnet-4-5", true, "hello there"),
        body("claude-sonnet-4-5", false, "hello again"),
    );
    let mut input = 0;
    for b in [&streamed, &whole] {
        let r = rt
            .block_on(send(&http, &proxy.base_url, b.clone(), None))
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        // The fake's input count: its body length / 4.
        input += (b.len() / 4) as u64;
    }
    // An unknown model: counted, said to have no price.
    let r = rt
        .block_on(send(
            &http,
            &proxy.base_url,
            body("mystery-model", false, "x"),
            None,
        ))
        .unwrap();
    assert_eq!(r.status, 200);

    let v = usage_until(&env, &["--by", "model"], |v| requests(v) == 3);
    let sonnet = row(&v, "claude-sonnet-4-5");
    assert_eq!(sonnet["requests"], 2);
    let t = &sonnet["tokens"];
    assert_eq!(t["input"], input, "{t}");
    assert_eq!(t["output"], 8, "4 words, twice");
    assert_eq!(t["cache_write_5m"], 2000);
    assert_eq!(t["cache_write_1h"], 1000);
    assert_eq!(t["cache_read"], 40_000, "never folded into input");
    // Sonnet's list price: $3 in, $15 out, $3.75 / $6 cache writes, $0.30 cache reads.
    let expected =
        (input as f64 * 3.0 + 8.0 * 15.0 + 2000.0 * 3.75 + 1000.0 * 6.0 + 40_000.0 * 0.3)
            / 1_000_000.0;
    let cost = sonnet["cost_usd"].as_f64().unwrap();
    assert!((cost - expected).abs() < 1e-9, "{cost} vs {expected}");
    let hit = sonnet["cache_hit_rate"].as_f64().unwrap();
    assert!((hit - 40_000.0 / (input + 43_000) as f64).abs() < 1e-9);
    let mystery = &row(&v, "mystery-model");
    assert_eq!(mystery["unpriced_requests"], 1);
    assert_eq!(mystery["cost_usd"], 0.0);
    let table = env.ok(&["usage", "--by", "model"]);
    assert!(table.contains("no price (1)"), "{table}");

    // A price of the user's applies to what comes after (live reload).
    env.ok(&[
        "price",
        "set",
        "mystery-*",
        "--input",
        "1000000",
        "--output",
        "0",
    ]);
    let rt2 = runtime();
    let deadline = Instant::now() + Duration::from_secs(10);
    let priced = loop {
        let r = rt2
            .block_on(send(
                &http,
                &proxy.base_url,
                body("mystery-model", false, "x"),
                None,
            ))
            .unwrap();
        assert_eq!(r.status, 200);
        let v = usage_until(&env, &["--by", "model"], |v| requests(v) >= 4);
        let m = row(&v, "mystery-model");
        if m["cost_usd"].as_f64().unwrap() > 0.0 || Instant::now() > deadline {
            break m;
        }
    };
    assert!(priced["cost_usd"].as_f64().unwrap() >= 1.0, "{priced}");

    // /_qcc/usage: today's figures for the status page.
    let text = rt.block_on(async {
        http.get(format!("{}/_qcc/usage", proxy.base_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let summary: Value = serde_json::from_str(&text).unwrap();
    let today = summary["today"].as_array().unwrap();
    assert_eq!(today[0]["endpoint"], id.as_str());
    assert!(today[0]["requests"].as_u64().unwrap() >= 4);
    assert_eq!(summary["last_hour"].as_array().unwrap().len(), 60);
    assert_eq!(summary["last_week"].as_array().unwrap().len(), 7);
}

#[test]
fn a_translated_answer_counts_cached_tokens_apart() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_openai("oa").unwrap();
    up.set_reply_text("a b c");
    up.set_openai_reply(OpenAiReply {
        cached_tokens: 40,
        ..OpenAiReply::default()
    });
    env.ok(&["profile", "add", "cheap"]);
    env.ok(&[
        "endpoint",
        "add",
        "cheap",
        "--kind",
        "openai",
        "--url",
        &up.url(),
        "--key",
        "sk-or-0000000001",
        "--model",
        "*=deepseek-chat",
    ]);
    env.ok(&[
        "price",
        "set",
        "deepseek-*",
        "--input",
        "0.28",
        "--output",
        "0.42",
        "--cache-read",
        "0.028",
    ]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    for stream in [true, false] {
        let r = rt
            .block_on(send(
                &http,
                &proxy.base_url,
                body("claude-haiku-4-5", stream, "hi"),
                None,
            ))
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
    }
    let v = usage_until(&env, &["--by", "model"], |v| requests(v) == 2);
    let row = &v["rows"][0];
    assert_eq!(row["key"], "claude-haiku-4-5 → deepseek-chat", "{v}");
    assert_eq!(row["tokens"]["cache_read"], 80);
    assert!(row["tokens"]["input"].as_u64().unwrap() > 0);
    assert_eq!(
        row["unpriced_requests"], 0,
        "priced by the user's rule for the model sent"
    );
    assert!(row["cost_usd"].as_f64().unwrap() > 0.0);
}

#[test]
fn figures_survive_a_restart_and_a_sigkill() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_named("an").unwrap();
    env.endpoint_for("work", &up.url(), "sk-ant-000000000001", "api-key");
    let rt = runtime();
    let http = client();
    let go = |base: &str, n: usize| {
        for _ in 0..n {
            let r = rt
                .block_on(send(
                    &http,
                    base,
                    body("claude-haiku-4-5", true, "hi"),
                    None,
                ))
                .unwrap();
            assert_eq!(r.status, 200);
        }
    };
    let proxy = env.start_proxy();
    go(&proxy.base_url, 3);
    drop(proxy); // a clean stop writes what is counted
    let v = env.json(&["usage"]);
    assert_eq!(requests(&v), 3, "written at the stop: {v}");

    let proxy = env.start_proxy();
    go(&proxy.base_url, 2);
    // Flushed within 2 s: wait until the file shows it, then kill -9.
    usage_until(&env, &[], |v| requests(v) == 5);
    kill(proxy.pid, libc::SIGKILL);
    assert!(wait_pid_exit(proxy.pid, Duration::from_secs(5)));
    std::mem::forget(proxy);
    let v = env.json(&["usage"]);
    assert_eq!(requests(&v), 5, "nothing flushed is lost: {v}");
    let proxy = env.start_proxy();
    go(&proxy.base_url, 1);
    usage_until(&env, &[], |v| requests(v) == 6);
    drop(proxy);
}

#[test]
fn usage_groups_by_day_hour_endpoint_profile_and_model() {
    let env = TestEnv::new();
    let a = FakeUpstream::spawn_named("a").unwrap();
    let b = FakeUpstream::spawn_named("b").unwrap();
    let ida = env.endpoint_for("work", &a.url(), "sk-a-0000000001", "api-key");
    let idb = env.endpoint_for("cheap", &b.url(), "sk-b-0000000001", "api-key");
    env.ok(&["route", "add", "claude-haiku-*", "cheap"]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    for model in ["claude-sonnet-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"] {
        let r = rt
            .block_on(send(&http, &proxy.base_url, body(model, false, "hi"), None))
            .unwrap();
        assert_eq!(r.status, 200);
    }
    usage_until(&env, &[], |v| requests(v) == 3);
    let keys = |by: &str| -> Vec<String> {
        let v = env.json(&["usage", "--since", "2h", "--by", by]);
        assert_eq!(v["by"], by);
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(keys("day"), std::slice::from_ref(&today));
    assert_eq!(keys("hour").len(), 1, "one hour (or two, at its turn)");
    assert!(keys("hour")[0].starts_with(&today));
    let mut endpoints = keys("endpoint");
    endpoints.sort();
    let mut want = vec![ida.clone(), idb.clone()];
    want.sort();
    assert_eq!(endpoints, want);
    assert_eq!(keys("profile"), ["work", "cheap"], "most costly first");
    assert_eq!(keys("model"), ["claude-sonnet-4-5", "claude-haiku-4-5"]);
    // Endpoint rows carry the endpoint's name; the table shows the chart for several days.
    let v = env.json(&["usage", "--since", "3d"]);
    assert!(v["rows"][0]["name"].is_string(), "{v}");
    assert_eq!(v["days"].as_array().unwrap().len(), 4);
    let out = env.ok(&["usage", "--since", "3d", "--by", "day"]);
    assert!(
        out.contains("cost per day:") && out.contains(&format!("{today} │")),
        "{out}"
    );
    drop(proxy);
    // With the daemon stopped, the files still answer.
    assert_eq!(requests(&env.json(&["usage"])), 3);
}

#[test]
fn bad_usage_input_is_one_line_with_a_hint() {
    let env = TestEnv::new();
    for (args, says) in [
        (vec!["--since", "7x"], "not an age"),
        (vec!["--since", "0d"], "not an age"),
        (vec!["--from", "yesterday"], "not a time"),
        (
            vec!["--from", "2026-12-02", "--to", "2026-12-01"],
            "not after --from",
        ),
        (vec!["--by", "week"], "invalid value 'week'"),
    ] {
        let mut full = vec!["usage"];
        full.extend(args.iter().copied());
        let err = env.fail(2, &full);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = env.ok(&["usage"]);
    assert!(out.contains("no requests were counted"), "{out}");
    // Prices: bad ones refused, nothing written.
    let before = env.snapshot();
    for (args, says) in [
        (
            vec!["price", "set", "x", "--input", "-1", "--output", "2"],
            "not negative",
        ),
        (vec!["price", "set", "x", "--input", "1"], "--output"),
        (
            vec!["price", "set", "a b", "--input", "1", "--output", "1"],
            "has spaces",
        ),
        (vec!["price", "remove", "nothing-*"], "no price rule"),
    ] {
        let out = env.run(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(env.snapshot(), before, "{args:?}: nothing written");
    }
    env.ok(&["profile", "add", "work"]);
    let id = env.json(&[
        "endpoint",
        "add",
        "work",
        "--url",
        "https://r.example",
        "--key",
        "k",
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ok(&["price", "set", "--endpoint", &id, "--multiplier", "1.2"]);
    let v = env.json(&["price", "list"]);
    assert_eq!(v["multipliers"][0], json!([id, 1.2]));
    assert_eq!(v["rules"][0]["scope"], "list");
    env.ok(&["price", "remove", "--endpoint", &id, "--multiplier"]);
    assert!(
        env.json(&["price", "list"])["multipliers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
