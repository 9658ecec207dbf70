//! Circuit breakers and priority tiers through the real daemon: a breaker opens at the
//! threshold and keeps traffic away, admits one trial when half-open, closes on success and
//! re-opens longer on failure; `retry-after` sets the cooldown; a failed primary tier fails
//! over with a record, comes back after the recovery hold, and a manual switch stays.

use std::time::Duration;

use futures_util::future::join_all;
use qcc::fake::Fault;

use crate::harness::TestEnv;
use crate::harness::client::{STREAM, send};
use crate::harness::daemon::{client, runtime};
use crate::harness::scenarios::{Pair, pair, two_tiers};

fn breaker_of(env: &TestEnv, id: &str) -> (String, Option<u64>) {
    let e = env.endpoint_status(id);
    (
        e["breaker"].as_str().unwrap().to_owned(),
        e["cooldown_left_secs"].as_u64(),
    )
}

#[test]
fn breaker_opens_skips_trials_once_and_closes() {
    let Pair {
        env,
        a,
        b: _b,
        a_id,
        ..
    } = pair(None);
    env.ok(&[
        "priority",
        "policy",
        "--failure-threshold",
        "3",
        "--cooldown",
        "1",
    ]);
    // The breaker's own mechanics; the slow start after it closes has its own test.
    env.edit_config(|c| c.proxy.slow_start_secs = 0);
    a.set_default_fault(Fault::status(500));
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let one = || {
        rt.block_on(send(&http, &proxy.base_url, STREAM, None))
            .unwrap()
    };

    // Three consecutive failures open it (each request still succeeds on B).
    for i in 1..=3 {
        assert!(one().is_clean_stream());
        let expect = if i < 3 { "closed" } else { "open" };
        assert_eq!(breaker_of(&env, &a_id).0, expect, "after {i} failures");
    }
    // Open: A gets no traffic at all.
    for _ in 0..5 {
        let r = one();
        assert_eq!(r.attempts, Some(1), "straight to B: {r:?}");
    }
    assert_eq!(a.request_count(), 3);

    // Half-open after the cooldown: exactly one trial, even with 6 requests at once. The
    // trial hangs until the 1 s header timeout, so the others arrive while it is in flight.
    a.set_default_fault(Fault::Hang);
    env.wait_status(Duration::from_secs(5), "half-open", |s| {
        s["endpoints"][0]["breaker"] == "half-open"
    });
    let replies = rt.block_on(join_all(
        (0..6).map(|_| send(&http, &proxy.base_url, STREAM, None)),
    ));
    assert!(
        replies
            .iter()
            .all(|r| r.as_ref().unwrap().is_clean_stream())
    );
    assert_eq!(a.request_count(), 4, "one trial only");
    // The trial failed: open again, for twice as long.
    let (state, left) = breaker_of(&env, &a_id);
    assert_eq!(state, "open");
    assert_eq!(left, Some(2), "cooldown doubled");

    // Healthy again: the next trial closes it and A serves again.
    a.set_default_fault(Fault::None);
    env.wait_status(Duration::from_secs(5), "half-open again", |s| {
        s["endpoints"][0]["breaker"] == "half-open"
    });
    let r = one();
    assert_eq!(
        r.endpoint.as_deref(),
        Some(a_id.as_str()),
        "the trial: {r:?}"
    );
    assert_eq!(breaker_of(&env, &a_id).0, "closed");
    assert_eq!(one().endpoint.as_deref(), Some(a_id.as_str()));
}

#[test]
fn retry_after_sets_the_cooldown() {
    let Pair {
        env,
        a,
        b: _b,
        a_id,
        ..
    } = pair(None);
    a.push_fault(Fault::rate_limited(7));
    let proxy = env.start_proxy();
    let rt = runtime();
    let r = rt
        .block_on(send(&client(), &proxy.base_url, STREAM, None))
        .unwrap();
    assert!(r.is_clean_stream());
    let e = env.endpoint_status(&a_id);
    assert_eq!(
        e["breaker"], "open",
        "one 429 with retry-after opens it: {e}"
    );
    let left = e["cooldown_left_secs"].as_u64().unwrap();
    assert!(
        (6..=7).contains(&left),
        "cooldown from retry-after (7 s): {left}"
    );
    assert!(
        e["unavailable"].as_str().unwrap().contains("retry-after 7"),
        "{e}"
    );
    for _ in 0..3 {
        rt.block_on(send(&client(), &proxy.base_url, STREAM, None))
            .unwrap();
    }
    assert_eq!(a.request_count(), 1, "no traffic while cooling down");
}

fn history(env: &TestEnv) -> Vec<serde_json::Value> {
    env.json(&["priority", "history"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn tiers_fail_over_recover_and_respect_a_manual_switch() {
    let Pair {
        env,
        a,
        b: _b,
        a_id,
        b_id,
    } = two_tiers(&[
        "--failure-threshold",
        "1",
        "--cooldown",
        "1",
        "--recovery-hold",
        "1",
    ]);
    a.set_default_fault(Fault::status(503));
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let one = || {
        rt.block_on(send(&http, &proxy.base_url, STREAM, None))
            .unwrap()
    };

    // The primary fails: this request is served by the secondary, and traffic moves there.
    let r = one();
    assert!(r.is_clean_stream());
    assert_eq!(r.endpoint.as_deref(), Some(b_id.as_str()));
    let s = env.proxy_status();
    assert_eq!(s["active_profile"], "spare");
    assert_eq!(s["chosen_profile"], "main");
    assert_eq!(s["failed_over_from"], "main");
    let listed = env.json(&["priority", "list"]);
    assert_eq!(
        (listed["serving"].as_str(), listed["active"].as_str()),
        (Some("spare"), Some("main"))
    );
    assert!(
        env.ok(&["priority", "list"])
            .contains("serves: spare (failed over from 'main')")
    );
    let failover = env_wait_history(&env, 1);
    assert_eq!(failover[0]["kind"], "failover");
    assert_eq!(
        (failover[0]["from"].as_str(), failover[0]["to"].as_str()),
        (Some("main"), Some("spare"))
    );
    assert!(
        failover[0]["reason"].as_str().unwrap().contains(&a_id),
        "{}",
        failover[0]
    );
    assert_eq!(one().endpoint.as_deref(), Some(b_id.as_str()));

    // The primary comes back: after its cooldown one request is its trial; once healthy for
    // the recovery hold, traffic returns with a recovery record.
    a.set_default_fault(Fault::None);
    env.wait_status(Duration::from_secs(10), "recovery", |s| {
        let _ = rt.block_on(send(&http, &proxy.base_url, STREAM, None));
        s["active_profile"] == "main"
    });
    let h = env_wait_history(&env, 2);
    assert_eq!(h[0]["kind"], "recovery");
    assert_eq!(
        (h[0]["from"].as_str(), h[0]["to"].as_str()),
        (Some("spare"), Some("main"))
    );
    assert_eq!(one().endpoint.as_deref(), Some(a_id.as_str()));

    // A manual switch is never undone by recovery, although main is healthy.
    assert_eq!(
        env.ok(&["priority", "switch", "spare"]).trim(),
        "main → spare"
    );
    for _ in 0..3 {
        assert_eq!(one().endpoint.as_deref(), Some(b_id.as_str()));
    }
    std::thread::sleep(Duration::from_millis(1500)); // longer than the recovery hold
    assert_eq!(one().endpoint.as_deref(), Some(b_id.as_str()));
    assert_eq!(env.proxy_status()["active_profile"], "spare");
    let kinds: Vec<String> = history(&env)
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["manual", "recovery", "failover"],
        "priority history shows all three kinds"
    );
}

/// The daemon writes switch records in the background: wait until there are `n`.
fn env_wait_history(env: &TestEnv, n: usize) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let h = history(env);
        if h.len() >= n {
            return h;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "history has {} records, want {n}",
            h.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn without_auto_failover_traffic_stays_on_the_chosen_profile() {
    let Pair { env, a, b, .. } = two_tiers(&["--no-auto-failover", "--failure-threshold", "1"]);
    a.set_default_fault(Fault::status(503));
    let proxy = env.start_proxy();
    let rt = runtime();
    let r = rt
        .block_on(send(&client(), &proxy.base_url, STREAM, None))
        .unwrap();
    assert_eq!(r.status, 503);
    let r = rt
        .block_on(send(&client(), &proxy.base_url, STREAM, None))
        .unwrap();
    // Breaker open, no failover: A is still tried as the last resort, and its own answer
    // (not a 503 of the proxy's) goes back.
    assert_eq!(r.status, 503);
    assert!(!r.body.contains("qcc:"), "the upstream's error: {}", r.body);
    assert_eq!(r.attempts, Some(1));
    assert_eq!(a.request_count(), 2);
    assert_eq!(b.request_count(), 0);
    assert_eq!(env.proxy_status()["active_profile"], "main");
    assert_eq!(env.proxy_status()["endpoints"][0]["state"], "open");
}
