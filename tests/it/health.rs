//! Health through the real binary and daemon against fake upstreams: the conversational
//! test (`health test`) catches a relay that answers without the nonce or as another model,
//! times out a hung endpoint within its limit and runs endpoints concurrently; the daemon
//! closes an open breaker with a probe (and recovers the tier) without any user request,
//! sends no probe at all while everything is healthy, keeps probes out of user figures,
//! adjusts weights when asked, and carries its figures across a restart.

use std::time::{Duration, Instant};

use qcc::fake::{FakeUpstream, Fault};
use serde_json::Value;

use crate::harness::TestEnv;
use crate::harness::client::{STREAM, send};
use crate::harness::daemon::{client, runtime};
use crate::harness::scenarios::{Pair, two_tiers};

/// `qcc health test …` (with `--json` added): exit code and parsed stdout.
fn health_test(env: &TestEnv, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut a = vec!["health", "test", "--json"];
    a.extend_from_slice(args);
    let out = env.run(&a);
    let stdout: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (
        out.status.code(),
        stdout,
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn result_for<'a>(results: &'a Value, id: &str) -> &'a Value {
    results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {results}"))
}

#[test]
fn health_test_passes_on_the_nonce_and_catches_relays_that_do_not_echo_it() {
    let env = TestEnv::new();
    let good = FakeUpstream::spawn_named("good").unwrap();
    let mute = FakeUpstream::spawn_named("mute").unwrap();
    let renamed = FakeUpstream::spawn_named("renamed").unwrap();
    mute.set_echo_nonce(false);
    renamed.set_reply_model(Some("gpt-4o-mini"));
    let key = "sk-ant-api03-health-test-key-0001";
    let good_id = env.endpoint_for("work", &good.url(), key, "api-key");
    let mute_id = env.endpoint_for("work", &mute.url(), "sk-relay-0000000000000002", "bearer");
    let renamed_id = env.endpoint_for("backup", &renamed.url(), "sk-r-000000000003", "api-key");

    let (code, results, stderr) = health_test(&env, &[]);
    assert_eq!(code, Some(1), "one failure fails the command: {stderr}");
    assert!(stderr.contains("2 of 3 endpoints failed"), "{stderr}");
    assert!(
        !stderr.contains(key) && !results.to_string().contains(key),
        "keys never shown"
    );

    let g = result_for(&results, &good_id);
    assert_eq!(g["passed"], true, "{g}");
    assert_eq!(
        g["model"], "claude-haiku-4-5",
        "the default probe model: {g}"
    );
    assert!(g["first_byte_ms"].as_f64().unwrap() <= g["latency_ms"].as_f64().unwrap());
    let m = result_for(&results, &mute_id);
    assert_eq!(m["passed"], false);
    assert!(m["reason"].as_str().unwrap().contains("nonce"), "{m}");
    assert_eq!(m["status"], 200, "a 200 without the nonce still fails: {m}");
    let r = result_for(&results, &renamed_id);
    assert_eq!(r["passed"], false);
    assert!(r["reason"].as_str().unwrap().contains("gpt-4o-mini"), "{r}");

    // The probe is a tiny real conversation, sent in each endpoint's auth style.
    let sent = &good.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(sent.header("x-api-key"), Some(key));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["max_tokens"], 16);
    assert_eq!(body["stream"], true);
    let prompt = body["messages"][0]["content"].as_str().unwrap();
    let nonce = g["nonce"].as_str().unwrap();
    assert!(prompt.ends_with(&format!("nonce: {nonce}")), "{prompt}");
    assert_eq!(
        mute.requests()[0].header("authorization"),
        Some("Bearer sk-relay-0000000000000002")
    );

    // One endpoint by id prefix, a profile, a per-endpoint probe model, the table and -v.
    let out = env.ok(&["health", "test", &good_id[..4], "-v"]);
    assert!(out.contains("pass") && out.contains(&good_id), "{out}");
    assert!(out.contains("answered"), "-v shows the answer: {out}");
    let (code, results, _) = health_test(&env, &["--profile", "backup"]);
    assert_eq!((code, results.as_array().unwrap().len()), (Some(1), 1));
    env.ok(&[
        "health",
        "config",
        "--endpoint",
        &renamed_id,
        "--probe-model",
        "gpt-4o-mini",
    ]);
    let (code, results, _) = health_test(&env, &[&renamed_id]);
    assert_eq!(code, Some(0), "{results}");
    let last: Value = serde_json::from_slice(&renamed.requests().last().unwrap().body).unwrap();
    assert_eq!(
        last["model"], "gpt-4o-mini",
        "the endpoint's own probe model"
    );
}

#[test]
fn a_hung_endpoint_times_out_within_the_configured_limit() {
    let env = TestEnv::new();
    let hung = FakeUpstream::spawn_named("hung").unwrap();
    hung.set_default_fault(Fault::Hang);
    let id = env.endpoint_for("work", &hung.url(), "sk-h-0000000000000001", "api-key");
    env.ok(&["health", "config", "--timeout", "1"]);
    let started = Instant::now();
    let (code, results, _) = health_test(&env, &[]);
    let took = started.elapsed();
    assert_eq!(code, Some(1));
    let r = result_for(&results, &id);
    assert_eq!(r["passed"], false);
    assert!(r["reason"].as_str().unwrap().contains("within 1 s"), "{r}");
    assert!(
        took < Duration::from_secs(4),
        "took {took:?} for a 1 s limit"
    );
    assert!(
        hung.wait_until(Duration::from_secs(5), |s| s.disconnects == 1),
        "the probe hung up"
    );
}

#[test]
fn health_test_runs_twenty_endpoints_concurrently() {
    let env = TestEnv::new();
    let fakes: Vec<FakeUpstream> = (0..20)
        .map(|i| {
            let f = FakeUpstream::spawn_named(&format!("f{i}")).unwrap();
            // 0.3 s … 1.25 s before headers: 15.5 s in sequence.
            f.set_default_fault(Fault::DelayHeaders(Duration::from_millis(300 + 50 * i)));
            f
        })
        .collect();
    for (i, f) in fakes.iter().enumerate() {
        env.endpoint_for(
            "many",
            &f.url(),
            &format!("sk-many-{i:04}-abcdefgh"),
            "api-key",
        );
    }
    let started = Instant::now();
    let (code, results, stderr) = health_test(&env, &["--profile", "many"]);
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(results.as_array().unwrap().len(), 20);
    let slowest = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["latency_ms"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(slowest >= 1250.0, "{slowest}");
    assert!(
        took < Duration::from_millis(slowest as u64 + 4000),
        "took {took:?}; the slowest alone took {slowest} ms (in sequence: 15.5 s)"
    );
}

#[test]
fn a_probe_closes_an_open_breaker_and_recovers_the_tier_without_user_traffic() {
    // A long cooldown: only a probe can close the breaker within this test.
    let Pair {
        env,
        a,
        b: _b,
        a_id,
        ..
    } = two_tiers(&[
        "--failure-threshold",
        "1",
        "--cooldown",
        "600",
        "--recovery-hold",
        "0",
    ]);
    env.ok(&["health", "config", "--interval", "1"]);
    a.set_default_fault(Fault::status(529));
    let proxy = env.start_proxy();
    let rt = runtime();
    let r = rt
        .block_on(send(&client(), &proxy.base_url, STREAM, None))
        .unwrap();
    assert!(r.is_clean_stream(), "served by the backup: {r:?}");
    let s = env.proxy_status();
    assert_eq!(s["active_profile"], "spare", "failed over: {s}");
    assert_eq!(env.endpoint_status(&a_id)["breaker"], "open");

    // The primary is fixed; nobody sends a request. A probe finds out.
    a.set_default_fault(Fault::None);
    let s = env.wait_status(Duration::from_secs(15), "probe recovery", |s| {
        s["active_profile"] == "main"
    });
    let e = s["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == a_id)
        .unwrap();
    assert_eq!(e["breaker"], "closed", "{e}");
    assert_eq!(e["requests"], 1, "probes are not user traffic: {e}");
    assert_eq!(e["errors"], 1, "{e}");
    assert!(a.request_count() >= 2, "the probe reached the primary");
    let history = env.json(&["health", "history", &a_id]);
    let newest = &history[0];
    assert_eq!(newest["passed"], true, "{history}");
    assert_eq!(newest["source"], "recovery", "{history}");
    let switches = env.json(&["priority", "history"]);
    assert_eq!(switches[0]["kind"], "recovery", "{switches}");
    drop(proxy);
}

#[test]
fn a_healthy_setup_gets_no_probe_traffic_until_asked() {
    let env = TestEnv::new();
    let a = FakeUpstream::spawn_named("a").unwrap();
    let b = FakeUpstream::spawn_named("b").unwrap();
    let a_id = env.endpoint_for("work", &a.url(), "sk-a-0000000000000051", "api-key");
    env.endpoint_for("work", &b.url(), "sk-b-0000000000000052", "api-key");
    env.ok(&["health", "config", "--interval", "1"]);
    let proxy = env.start_proxy();
    let rt = runtime();
    for _ in 0..2 {
        let r = rt
            .block_on(send(&client(), &proxy.base_url, STREAM, None))
            .unwrap();
        assert!(r.is_clean_stream());
    }
    // Three probe intervals and more: nothing but the two user requests arrives.
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(a.request_count() + b.request_count(), 2, "no probe traffic");
    assert_eq!(
        env.json(&["health", "history", &a_id]),
        Value::Array(vec![])
    );

    // `health check` probes now, through the daemon, and the result is kept.
    let results = env.json(&["health", "check"]);
    assert_eq!(results.as_array().unwrap().len(), 2, "{results}");
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["passed"] == true)
    );
    assert_eq!(result_for(&results, &a_id)["breaker"], "closed");
    assert_eq!(a.request_count() + b.request_count(), 4);
    let history = env.json(&["health", "history", &a_id]);
    assert_eq!(history[0]["source"], "manual", "{history}");
    // … and never counts as user traffic.
    let m = env.json(&["health", "metrics"]);
    assert_eq!(m["live"], true);
    let user: u64 = m["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(user, 2, "{m}");
    let table = env.ok(&["health", "status"]);
    assert!(
        table.contains(&a_id) && table.contains("healthy"),
        "{table}"
    );

    // With `probe_all_interval_secs`, healthy endpoints are probed too (still not as
    // user traffic).
    let before = b.request_count();
    env.ok(&["health", "config", "--probe-all-interval", "1"]);
    assert!(
        b.wait_until(Duration::from_secs(5), |s| s.requests > before),
        "an interval probe"
    );
    env.ok(&["health", "config", "--probe-all-interval", "0"]);
    let b_id = env.proxy_status()["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] != a_id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let history = env.json(&["health", "history", &b_id]);
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["source"] == "interval"),
        "{history}"
    );
    assert_eq!(
        env.endpoint_status(&b_id)["requests"],
        1,
        "user traffic only"
    );

    a.set_default_fault(Fault::status(503));
    let out = env.run(&["health", "check", &a_id, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        results[0]["reason"].as_str().unwrap().contains("503"),
        "{results}"
    );
    assert_eq!(env.endpoint_status(&a_id)["consecutive_failures"], 1);
    drop(proxy);
    let stderr = env.fail_with_hint(3, &["health", "check"]);
    assert!(stderr.contains("not running"), "{stderr}");
}

#[test]
fn metrics_survive_a_daemon_restart() {
    let env = TestEnv::new();
    let a = FakeUpstream::spawn_named("a").unwrap();
    let id = env.endpoint_for("work", &a.url(), "sk-a-0000000000000061", "api-key");
    let proxy = env.start_proxy();
    let rt = runtime();
    for _ in 0..3 {
        assert!(
            rt.block_on(send(&client(), &proxy.base_url, STREAM, None))
                .unwrap()
                .is_clean_stream()
        );
    }
    env.ok(&["health", "check"]);
    let live = env.json(&["health", "metrics", &id]);
    let e = &live["endpoints"][0];
    assert_eq!(
        (e["requests"].as_u64(), e["successes"].as_u64()),
        (Some(3), Some(3)),
        "{live}"
    );
    assert_eq!(e["success_rate"], 1.0);
    assert!(
        e["latency_p50_ms"].is_number() && e["first_byte_p95_ms"].is_number(),
        "{e}"
    );
    drop(proxy);

    // Down: the last known values, from health.json, said to be so.
    let path = env.config_dir().join("health.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved = env.json(&["health", "metrics", &id]);
    assert_eq!(saved["live"], false);
    assert!(saved["as_of"].is_string());
    let s = &saved["endpoints"][0];
    assert_eq!(
        (s["requests"].as_u64(), s["success_rate"].as_f64()),
        (Some(3), Some(1.0))
    );
    assert_eq!(s["latency_p50_ms"], e["latency_p50_ms"]);
    let out = env.run(&["health", "status"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not running") && stderr.contains("last known"),
        "{stderr}"
    );
    assert_eq!(
        env.json(&["health", "history", &id])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Up again: the figures carry on.
    let proxy = env.start_proxy();
    let back = env.json(&["health", "metrics", &id]);
    assert_eq!(back["live"], true);
    assert_eq!(back["endpoints"][0]["requests"], 3, "{back}");
    assert_eq!(back["endpoints"][0]["last_probe"]["source"], "manual");
    rt.block_on(send(&client(), &proxy.base_url, STREAM, None))
        .unwrap();
    assert_eq!(
        env.json(&["health", "metrics", &id])["endpoints"][0]["requests"],
        4
    );
    drop(proxy);
}

#[test]
fn weight_adjustment_is_off_by_default_and_shows_in_status() {
    let env = TestEnv::new();
    let fast = FakeUpstream::spawn_named("fast").unwrap();
    let slow = FakeUpstream::spawn_named("slow").unwrap();
    slow.set_default_fault(Fault::DelayHeaders(Duration::from_millis(150)));
    let fast_id = env.endpoint_for("work", &fast.url(), "sk-f-0000000000000071", "api-key");
    let slow_id = env.endpoint_for("work", &slow.url(), "sk-s-0000000000000072", "api-key");
    let proxy = env.start_proxy();
    let rt = runtime();
    for _ in 0..12 {
        rt.block_on(send(&client(), &proxy.base_url, STREAM, None))
            .unwrap();
    }
    let e = env.endpoint_status(&slow_id);
    assert_eq!(
        (e["weight"].as_u64(), e["effective_weight"].as_u64()),
        (Some(100), Some(100))
    );

    env.ok(&["health", "config", "--weight-adjust", "--min-checks", "5"]);
    let s = env.wait_status(Duration::from_secs(5), "an adjusted weight", |s| {
        s["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == slow_id && e["effective_weight"].as_u64() < Some(100))
    });
    let weight_of = |id: &str| {
        s["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()["effective_weight"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(weight_of(&fast_id), 100, "the fastest keeps its weight");
    assert!(
        (1..100).contains(&weight_of(&slow_id)),
        "slower, never zero"
    );
    let table = env.ok(&["proxy", "status"]);
    assert!(table.contains("100→"), "{table}");
    // The slow endpoint now gets the smaller share of new conversations.
    let before = slow.request_count();
    for _ in 0..10 {
        rt.block_on(send(&client(), &proxy.base_url, STREAM, None))
            .unwrap();
    }
    assert!(
        slow.request_count() - before <= 3,
        "{}",
        slow.request_count() - before
    );
    drop(proxy);
}

#[test]
fn health_config_shows_and_changes_the_settings() {
    let env = TestEnv::new();
    let ids = env.profile_with("work", 1);
    let v = env.json(&["health", "config"]);
    assert_eq!(v["interval_secs"], 15);
    assert_eq!(v["probe_all_interval_secs"], 0);
    assert_eq!(v["probe_timeout_secs"], 20);
    assert_eq!(v["probe_model"], "claude-haiku-4-5");
    assert_eq!(v["weight_adjust"], false);
    assert_eq!(v["max_concurrency"], 4);
    let v = env.json(&[
        "health",
        "config",
        "--interval",
        "30",
        "--probe-model",
        "claude-sonnet-4-5",
        "--weight-adjust",
        "--min-checks",
        "20",
        "--probe-all-interval",
        "600",
    ]);
    assert_eq!(
        (
            &v["interval_secs"],
            &v["probe_model"],
            &v["weight_adjust"],
            &v["min_checks"],
            &v["probe_all_interval_secs"]
        ),
        (
            &Value::from(30),
            &Value::from("claude-sonnet-4-5"),
            &Value::from(true),
            &Value::from(20),
            &Value::from(600)
        )
    );
    assert_eq!(env.config()["health"]["interval_secs"], 30);
    env.ok(&[
        "health",
        "config",
        "--endpoint",
        &ids[0],
        "--probe-model",
        "m-1",
    ]);
    assert_eq!(
        env.config()["profiles"][0]["endpoints"][0]["probe_model"],
        "m-1"
    );
    let table = env.ok(&["health", "config", "--no-weight-adjust"]);
    assert!(
        table.contains("m-1") && table.contains("weight-adjust"),
        "{table}"
    );
    env.ok(&[
        "health",
        "config",
        "--endpoint",
        &ids[0],
        "--probe-model",
        "",
    ]);
    assert!(
        env.config()["profiles"][0]["endpoints"][0]
            .get("probe_model")
            .is_none()
    );
    env.fail_with_hint(2, &["health", "config", "--probe-model", " "]);
    env.fail(2, &["health", "config", "--interval", "0"]);

    // No daemon and nothing saved yet: every endpoint, no figures, and a note.
    let out = env.run(&["health", "status"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no health figures"));
    let s = env.json(&["health", "status"]);
    assert_eq!(s["live"], false);
    assert_eq!(s["endpoints"][0]["id"], ids[0].as_str());
    assert!(s["endpoints"][0]["success_rate"].is_null());
    env.fail_with_hint(1, &["health", "history", "zzzzzz"]);
}
