//! A finished outage ends at once: sequences of faults (breakers carry state from one
//! failure to the next), the last resort instead of the proxy's own 503, the short wait
//! for a `retry-after`, the fail-fast bound while everything is really down, the slow start
//! of a recovered endpoint, the state words and their history, and `queue retry-all` right
//! after an outage.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use qcc::fake::{FakeUpstream, Fault};

use crate::harness::client::{PLAIN, STREAM, send};
use crate::harness::daemon::{client, runtime};
use crate::harness::scenarios::{Pair, pair};
use crate::harness::{TestEnv, daemon::RunningProxy};

fn send_one(proxy: &RunningProxy<'_>, body: &'static str) -> crate::harness::client::Reply {
    runtime()
        .block_on(send(&client(), &proxy.base_url, body, None))
        .unwrap()
}

#[test]
fn after_every_endpoint_failed_and_recovered_the_next_requests_succeed_at_once() {
    let Pair {
        env,
        a,
        b,
        a_id,
        b_id,
    } = pair(None);
    env.breakers_open_at_once();
    a.set_default_fault(Fault::status(529));
    b.set_default_fault(Fault::status(529));
    let proxy = env.start_proxy();
    let r = send_one(&proxy, STREAM);
    assert_eq!(r.status, 529, "the upstream's own error goes back: {r:?}");
    assert_eq!(env.endpoint_states(), ["open", "open"]);

    a.set_default_fault(Fault::None);
    b.set_default_fault(Fault::None);
    let started = Instant::now();
    let r = send_one(&proxy, STREAM);
    assert!(r.is_clean_stream(), "{r:?}");
    let r = send_one(&proxy, PLAIN);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no waiting for a cooldown: {:?}",
        started.elapsed()
    );
    // The endpoint that answered closed its breaker (its success was the trial).
    let answered = r.endpoint.unwrap();
    assert!(answered == a_id || answered == b_id);
    let s = env.endpoint_status(&answered);
    assert_eq!(s["breaker"], "closed", "{s}");
    assert_eq!(s["state"], "recovering", "{s}");
}

#[test]
fn a_retry_after_on_b_then_a_reset_on_a_still_gets_b() {
    let Pair {
        env, a, b, b_id, ..
    } = pair(None);
    let proxy = env.start_proxy();
    // 1: A fails (500, below the threshold), B says 429 retry-after 1: B cools down.
    a.push_fault(Fault::status(500));
    b.push_fault(Fault::rate_limited(1));
    let r = send_one(&proxy, PLAIN);
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(env.endpoint_status(&b_id)["state"], "open");
    // 2: A resets before its headers — on its pooled connection, then again on the fresh
    // one the proxy resends on (a reset of a reused connection may be a stale close); B's
    // retry-after ends within the wait cap (3 s): it is waited for, and the client gets
    // B's success.
    a.push_fault(Fault::ResetBeforeHeaders);
    a.push_fault(Fault::ResetBeforeHeaders);
    let started = Instant::now();
    let r = send_one(&proxy, PLAIN);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.endpoint.as_deref(), Some(b_id.as_str()));
    assert_eq!(r.attempts, Some(2));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(a.request_count(), 3);
    assert_eq!(b.request_count(), 2);
}

#[test]
fn a_long_retry_after_is_tried_last_not_skipped() {
    let Pair {
        env, a, b, b_id, ..
    } = pair(None);
    env.breakers_open_at_once();
    let proxy = env.start_proxy();
    // A: open after a 529 (60 s); B: 429 with retry-after 120 (past the 3 s wait cap).
    a.push_fault(Fault::status(529));
    b.push_fault(Fault::rate_limited(120));
    assert_eq!(send_one(&proxy, PLAIN).status, 429);
    assert_eq!(env.endpoint_states(), ["open", "open"]);
    // Both open: A (a failure cooldown) first, B (the long retry-after) last.
    a.push_fault(Fault::status(503));
    let started = Instant::now();
    let r = send_one(&proxy, PLAIN);
    assert_eq!(r.status, 200, "B was still tried: {r:?}");
    assert_eq!(r.endpoint.as_deref(), Some(b_id.as_str()));
    assert_eq!(r.attempts, Some(2));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no wait for 120 s"
    );
    assert_eq!(a.request_count(), 2);
}

#[test]
fn while_everything_is_really_down_requests_fail_fast_within_the_budget() {
    let env = TestEnv::new();
    let ups = env.failing_endpoints("work", "down", 3, Fault::status(503));
    env.breakers_open_at_once();
    env.ok(&["queue", "config", "--mode", "none"]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    const N: usize = 40;
    let started = Instant::now();
    let replies: Vec<_> = (0..N / 8)
        .flat_map(|_| {
            rt.block_on(join_all(
                (0..8).map(|_| send(&http, &proxy.base_url, STREAM, None)),
            ))
        })
        .map(Result::unwrap)
        .collect();
    for r in &replies {
        assert!(r.is_well_formed(), "{r:?}");
        assert_eq!(r.status, 503, "{r:?}");
        assert!(
            !r.body.contains("qcc:"),
            "an upstream's answer, not ours: {r:?}"
        );
    }
    let sent: usize = ups.iter().map(FakeUpstream::request_count).sum();
    // Every request reached some upstream; retries stayed within the budget's floor
    // (10 per 10 s window; 20% of 40 requests is less).
    assert!(sent >= N, "{sent} upstream attempts for {N} requests");
    assert!(sent <= N + 10, "{sent} upstream attempts for {N} requests");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(env.endpoint_states(), ["open", "open", "open"]);
}

#[test]
fn a_recovered_endpoint_ramps_up_over_the_slow_start() {
    let Pair {
        env,
        a,
        b: _b,
        a_id,
        ..
    } = pair(None);
    env.ok(&["profile", "edit", "work", "--strategy", "weighted"]);
    env.ok(&[
        "priority",
        "policy",
        "--failure-threshold",
        "1",
        "--cooldown",
        "1",
    ]);
    const RAMP: Duration = Duration::from_secs(2);
    env.edit_config(|c| c.proxy.slow_start_secs = RAMP.as_secs());
    a.set_default_fault(Fault::status(503));
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    // Open A (weighted: it is chosen within two requests).
    while env.endpoint_status(&a_id)["state"] != "open" {
        rt.block_on(send(&http, &proxy.base_url, PLAIN, None))
            .unwrap();
    }
    a.set_default_fault(Fault::None);
    // Half-open once the cooldown ends (and the daemon's upkeep has noted it).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !env
        .ok(&["health", "history", &a_id])
        .contains("open → half-open")
    {
        assert!(Instant::now() < deadline, "never half-open");
        std::thread::sleep(Duration::from_millis(25));
    }
    // The next request is A's trial; its success closes the breaker: the ramp starts.
    let r = rt
        .block_on(send(&http, &proxy.base_url, PLAIN, None))
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(a_id.as_str()), "{r:?}");
    let closed = Instant::now();
    assert_eq!(env.endpoint_status(&a_id)["state"], "recovering");
    // Sequential requests over the window and a little after, bucketed by time.
    const BUCKETS: usize = 5;
    let width = RAMP.as_secs_f64() * 1.25 / BUCKETS as f64;
    let mut hits = [(0usize, 0usize); BUCKETS];
    loop {
        let t = closed.elapsed().as_secs_f64();
        let bucket = (t / width) as usize;
        if bucket >= BUCKETS {
            break;
        }
        let r = rt
            .block_on(send(&http, &proxy.base_url, PLAIN, None))
            .unwrap();
        assert_eq!(r.status, 200);
        hits[bucket].1 += 1;
        if r.endpoint.as_deref() == Some(a_id.as_str()) {
            hits[bucket].0 += 1;
        }
    }
    // Equal weights: at full share A gets half; during the ramp half × max(0.1, t / 2 s).
    let expected = |b: usize| {
        let mid = (b as f64 + 0.5) * width;
        0.5 * (mid / RAMP.as_secs_f64()).clamp(0.1, 1.0)
    };
    let shares: Vec<f64> = hits.iter().map(|&(a, n)| a as f64 / n as f64).collect();
    eprintln!("slow start: hits {hits:?}, shares {shares:?}");
    for (b, share) in shares.iter().enumerate() {
        assert!(hits[b].1 >= 20, "too few samples in bucket {b}: {hits:?}");
        // Tolerance: ±0.15 (about three standard deviations at 50 samples).
        assert!(
            (share - expected(b)).abs() <= 0.15,
            "bucket {b}: share {share:.2}, expected {:.2} ({hits:?})",
            expected(b)
        );
    }
    assert!(
        shares[0] + 0.2 < shares[BUCKETS - 1],
        "it ramps: {shares:?}"
    );
    env.wait_status(Duration::from_secs(5), "healthy", |s| {
        s["endpoints"][0]["state"] == "healthy"
    });

    // Every change is in the history, next to the probes.
    let h = env.json(&["health", "history", &a_id]);
    let changes: Vec<(String, String)> = h
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["kind"] == "state")
        .map(|row| {
            (
                row["from"].as_str().unwrap().to_owned(),
                row["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("recovering", "healthy"),
        ("half-open", "recovering"),
        ("open", "half-open"),
        ("healthy", "open"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
        .collect();
    assert_eq!(changes, want, "newest first: {h}");
    let text = env.ok(&["health", "history", &a_id]);
    assert!(text.contains("half-open → recovering"), "{text}");
}

/// Two endpoints down (529), breakers that open at once and stay open for a minute, and
/// three queued jobs.
fn outage_with_queued_jobs(env: &TestEnv) -> Vec<FakeUpstream> {
    let ups = env.failing_endpoints("work", "outage", 2, Fault::status(529));
    env.ok(&["queue", "config", "--no-auto-retry", "--mode", "all"]);
    env.breakers_open_at_once();
    ups
}

fn queue_three(proxy: &RunningProxy<'_>) {
    for _ in 0..3 {
        let r = send_one(proxy, PLAIN);
        assert_eq!(r.status, 529, "{r:?}");
    }
}

/// The providers come back; `queue retry-all` at once replays all three.
fn revive_and_retry_all(env: &TestEnv, ups: &[FakeUpstream]) {
    for up in ups {
        up.set_default_fault(Fault::None);
    }
    let v = env.json(&["queue", "retry-all"]);
    assert_eq!(v["succeeded"], 3, "{v}");
    assert_eq!(v["failed"], 0, "{v}");
}

#[test]
fn retry_all_right_after_an_outage_replays_everything_through_the_daemon() {
    let env = TestEnv::new();
    let ups = outage_with_queued_jobs(&env);
    let proxy = env.start_proxy();
    queue_three(&proxy);
    assert_eq!(env.json(&["queue", "list"]).as_array().unwrap().len(), 3);
    assert_eq!(env.endpoint_states(), ["open", "open"]);
    revive_and_retry_all(&env, &ups);
}

#[test]
fn retry_all_right_after_an_outage_replays_everything_without_the_daemon() {
    let env = TestEnv::new();
    let ups = outage_with_queued_jobs(&env);
    {
        let proxy = env.start_proxy();
        queue_three(&proxy);
    }
    revive_and_retry_all(&env, &ups);
}

#[test]
fn an_endpoint_that_fails_often_is_degraded_and_keeps_half_its_share() {
    let Pair {
        env,
        a,
        b: _b,
        a_id,
        ..
    } = pair(None);
    env.ok(&["priority", "policy", "--failure-threshold", "100"]);
    let v = env.json(&[
        "health",
        "config",
        "--min-checks",
        "4",
        "--degraded-below",
        "90",
    ]);
    assert_eq!(v["degraded_success_rate"], 0.9);
    assert_eq!(v["degraded_first_byte_ms"], 0);
    // Bad values change nothing.
    let before = env.config();
    env.fail(2, &["health", "config", "--degraded-below", "101"]);
    env.fail(2, &["health", "config", "--degraded-first-byte", "-1"]);
    assert_eq!(env.config(), before);
    let proxy = env.start_proxy();
    // A (first in order) answers 4 of 6: 67% < 90%, over more than min-checks attempts.
    for fault in [500, 0, 500, 0, 0, 0] {
        if fault > 0 {
            a.push_fault(Fault::status(fault));
        }
        assert_eq!(send_one(&proxy, PLAIN).status, 200);
    }
    let s = env.wait_status(Duration::from_secs(5), "degraded", |s| {
        s["endpoints"][0]["state"] == "degraded"
    });
    assert_eq!(s["endpoints"][0]["breaker"], "closed", "not removed: {s}");
    let health = env.json(&["health", "status"]);
    assert_eq!(health["endpoints"][0]["state"], "degraded", "{health}");
    // `ordered` would give A everything; degraded, it keeps about half of it.
    let before = a.request_count();
    let rt = runtime();
    let http = client();
    for _ in 0..80 {
        rt.block_on(send(&http, &proxy.base_url, PLAIN, None))
            .unwrap();
    }
    let got = a.request_count() - before;
    assert!((20..=60).contains(&got), "A got {got} of 80");
    assert!(
        env.ok(&["health", "history", &a_id])
            .contains("healthy → degraded"),
        "the change is recorded"
    );
    env.ok(&["health", "config", "--degraded-below", "0"]);
    env.wait_status(Duration::from_secs(5), "healthy again", |s| {
        s["endpoints"][0]["state"] == "healthy"
    });
}
