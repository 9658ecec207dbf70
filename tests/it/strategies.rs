//! Balancing strategies and sticky conversations, counted at the fake upstreams.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;
use crate::harness::client::{PLAIN, STREAM, send};
use crate::harness::daemon::{client, runtime};

/// A profile `work` with one endpoint per upstream, the given strategy and weights.
fn setup(n: usize, strategy: &str, weights: &[u32]) -> (TestEnv, Vec<FakeUpstream>, Vec<String>) {
    let env = TestEnv::new();
    let ups: Vec<FakeUpstream> = (0..n).map(|_| FakeUpstream::spawn().unwrap()).collect();
    let ids = ups
        .iter()
        .enumerate()
        .map(|(i, up)| {
            let id = env.endpoint_for("work", &up.url(), &format!("sk-strategy-000{i}"), "api-key");
            if let Some(w) = weights.get(i) {
                env.ok(&["endpoint", "edit", "work", &id, "--weight", &w.to_string()]);
            }
            id
        })
        .collect();
    env.ok(&["profile", "edit", "work", "--strategy", strategy]);
    (env, ups, ids)
}

/// Send `n` plain requests, `concurrency` at a time.
fn burst(base: &str, n: usize, concurrency: usize) {
    let rt = runtime();
    let http = client();
    rt.block_on(async {
        for chunk in (0..n).collect::<Vec<_>>().chunks(concurrency) {
            let replies = join_all(chunk.iter().map(|_| send(&http, base, PLAIN, None))).await;
            for r in replies {
                assert_eq!(r.unwrap().status, 200);
            }
        }
    });
}

#[test]
fn weighted_three_to_one_over_2000_requests() {
    let (env, ups, _) = setup(2, "weighted", &[300, 100]);
    let proxy = env.start_proxy();
    burst(&proxy.base_url, 2000, 16);
    let (a, b) = (ups[0].request_count(), ups[1].request_count());
    assert_eq!(a + b, 2000);
    let share = a as f64 / 2000.0;
    assert!(
        (share - 0.75).abs() <= 0.05,
        "heavy endpoint got {a} of 2000 ({share:.3})"
    );
}

#[test]
fn round_robin_is_exact() {
    let (env, ups, _) = setup(3, "round-robin", &[500, 1, 1]);
    let proxy = env.start_proxy();
    burst(&proxy.base_url, 300, 8);
    let counts: Vec<usize> = ups.iter().map(|u| u.request_count()).collect();
    assert_eq!(
        counts,
        [100, 100, 100],
        "weights do not matter for round-robin"
    );
}

#[test]
fn least_connections_prefers_the_idle_endpoint_under_slow_streams() {
    let (env, ups, ids) = setup(2, "least-connections", &[]);
    ups[0].set_default_fault(Fault::SlowStream(Duration::from_millis(400)));
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    rt.block_on(async {
        let mut open = Vec::new();
        for _ in 0..20 {
            let resp = http
                .post(format!("{}/v1/messages", proxy.base_url))
                .body(STREAM)
                .send()
                .await
                .unwrap();
            if resp.headers()["x-qcc-endpoint"] == ids[0].as_str() {
                open.push(resp); // a slow stream, left in flight
            } else {
                resp.bytes().await.unwrap();
            }
        }
        drop(open);
    });
    assert_eq!(
        ups[0].request_count(),
        1,
        "only one stream went to the busy endpoint"
    );
    assert_eq!(ups[1].request_count(), 19);
}

#[test]
fn fastest_prefers_the_faster_endpoint() {
    let (env, ups, _) = setup(2, "fastest", &[]);
    ups[0].set_default_fault(Fault::DelayHeaders(Duration::from_millis(40)));
    let proxy = env.start_proxy();
    burst(&proxy.base_url, 60, 1);
    let (slow, fast) = (ups[0].request_count(), ups[1].request_count());
    assert!(fast >= 50, "fast endpoint got {fast} of 60 (slow: {slow})");
}

#[test]
fn ordered_and_random_use_every_available_endpoint_as_they_should() {
    let (env, ups, _) = setup(3, "ordered", &[]);
    let proxy = env.start_proxy();
    burst(&proxy.base_url, 20, 4);
    assert_eq!(
        ups.iter().map(|u| u.request_count()).collect::<Vec<_>>(),
        [20, 0, 0]
    );
    env.ok(&["profile", "edit", "work", "--strategy", "random"]);
    burst(&proxy.base_url, 300, 8);
    for u in &ups[1..] {
        assert!(
            u.request_count() > 50,
            "random spreads: {}",
            u.request_count()
        );
    }
}

#[test]
fn conversations_stay_on_their_endpoint_and_move_only_when_it_fails() {
    let (env, ups, ids) = setup(3, "weighted", &[]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let base = proxy.base_url.clone();
    let turns = |n: usize| {
        rt.block_on(join_all((0..50).map(|c| {
            let http = http.clone();
            let base = base.clone();
            async move {
                let session = format!("conversation-{c}");
                let mut seen = Vec::new();
                for _ in 0..n {
                    let r = send(&http, &base, STREAM, Some(&session)).await.unwrap();
                    assert!(r.is_clean_stream(), "{r:?}");
                    seen.push(r.endpoint.unwrap());
                }
                seen
            }
        })))
    };
    // 50 conversations × 10 turns: each stays on its first endpoint.
    let first: Vec<String> = turns(10)
        .into_iter()
        .map(|seen| {
            assert!(
                seen.iter().all(|e| *e == seen[0]),
                "a conversation wandered: {seen:?}"
            );
            seen[0].clone()
        })
        .collect();
    let mut per: HashMap<&str, usize> = HashMap::new();
    for e in &first {
        *per.entry(e.as_str()).or_default() += 1;
    }
    assert_eq!(per.len(), 3, "new conversations are spread: {per:?}");
    let s = env.proxy_status();
    let pinned: u64 = s["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pinned"].as_u64().unwrap())
        .sum();
    assert_eq!(pinned, 50, "status counts pinned conversations");

    // The first endpoint fails: its conversations move (once), the others stay put.
    ups[0].set_default_fault(Fault::status(529));
    let after = turns(5);
    for (c, seen) in after.iter().enumerate() {
        if first[c] == ids[0] {
            assert!(
                seen.iter().all(|e| *e == seen[0] && *e != ids[0]),
                "moved once and stayed: {seen:?}"
            );
        } else {
            assert!(
                seen.iter().all(|e| *e == first[c]),
                "an unaffected conversation moved: {seen:?}"
            );
        }
    }
}

#[test]
fn the_session_inside_metadata_user_id_also_sticks() {
    let (env, _ups, _) = setup(3, "round-robin", &[]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let body = r#"{"model":"m","stream":true,"metadata":{"user_id":"{\"device_id\":\"d\",\"account_uuid\":\"\",\"session_id\":\"meta-1\"}"},"messages":[]}"#;
    let seen: Vec<String> = (0..6)
        .map(|_| {
            rt.block_on(send(&http, &proxy.base_url, body, None))
                .unwrap()
                .endpoint
                .unwrap()
        })
        .collect();
    assert!(seen.iter().all(|e| *e == seen[0]), "{seen:?}");
}

/// Endpoint `i`'s own price of `claude-test` (the model the test requests), $ per million
/// tokens for input and output alike.
fn price(env: &TestEnv, id: &str, usd: f64) {
    let usd = usd.to_string();
    env.ok(&[
        "price",
        "set",
        "claude-test",
        "--endpoint",
        id,
        "--input",
        &usd,
        "--output",
        &usd,
    ]);
}

/// Send `n` plain requests one after the other; which endpoint answered each.
fn one_by_one(base: &str, n: usize) -> Vec<String> {
    let rt = runtime();
    let http = client();
    rt.block_on(async {
        let mut seen = Vec::new();
        for _ in 0..n {
            let r = send(&http, base, PLAIN, None).await.unwrap();
            assert_eq!(r.status, 200, "{r:?}");
            seen.push(r.endpoint.unwrap());
        }
        seen
    })
}

/// The `score` of each endpoint in `proxy status --json`, by id.
fn scores(env: &TestEnv) -> HashMap<String, serde_json::Value> {
    env.proxy_status()["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_owned(), e["score"].clone()))
        .collect()
}

#[test]
fn cost_sends_to_the_cheap_endpoint_and_to_the_other_when_it_fails() {
    let (env, ups, ids) = setup(3, "cost", &[]);
    price(&env, &ids[0], 10.0);
    price(&env, &ids[1], 1.0);
    // ids[2] has no price for the model: it comes last.
    let proxy = env.start_proxy();
    let seen = one_by_one(&proxy.base_url, 10);
    assert!(seen.iter().all(|e| *e == ids[1]), "{seen:?}");
    // The cheap one fails: the next cheapest serves, the unpriced one never.
    ups[1].set_default_fault(Fault::status(529));
    let seen = one_by_one(&proxy.base_url, 10);
    assert!(seen.iter().all(|e| *e == ids[0]), "{seen:?}");
    assert_eq!(ups[2].request_count(), 0);
    // A price changed live (a reload) moves the traffic.
    ups[1].set_default_fault(Fault::None);
    price(&env, &ids[0], 20.0);
    price(&env, &ids[2], 0.5);
    let seen = one_by_one(&proxy.base_url, 5);
    assert!(seen.iter().all(|e| *e == ids[2]), "{seen:?}");
    assert!(
        scores(&env).values().all(|s| s.is_null()),
        "scores are for adaptive profiles only"
    );
}

#[test]
fn adaptive_with_latency_weight_prefers_the_fast_endpoint() {
    let (env, ups, ids) = setup(2, "adaptive", &[]);
    env.ok(&["profile", "edit", "work", "--score", "latency=1"]);
    ups[0].set_default_fault(Fault::DelayHeaders(Duration::from_millis(150)));
    let proxy = env.start_proxy();
    let seen = one_by_one(&proxy.base_url, 20);
    let fast = seen.iter().filter(|e| **e == ids[1]).count();
    assert!(fast >= 18, "fast endpoint got {fast} of 20: {seen:?}");
    assert!(seen[2..].iter().all(|e| *e == ids[1]), "{seen:?}");
    let s = scores(&env);
    let (slow, fast) = (&s[&ids[0]], &s[&ids[1]]);
    assert_eq!(fast["latency"], 1.0, "{fast}");
    assert_eq!(fast["score"], 1.0, "{fast}");
    assert!(slow["latency"].as_f64().unwrap() < 0.2, "{slow}");
    assert!(slow["score"].as_f64().unwrap() < 0.2, "{slow}");
    for part in ["success", "cost", "weight", "quota", "state"] {
        assert!(fast[part].is_number(), "{part}: {fast}");
    }
    assert_eq!(fast["model"], "claude-test");
    let text = env.ok(&["proxy", "status"]);
    assert!(text.contains("adaptive scores"), "{text}");
}

#[test]
fn adaptive_with_cost_weight_prefers_the_cheap_endpoint() {
    let (env, _ups, ids) = setup(2, "adaptive", &[]);
    env.ok(&["profile", "edit", "work", "--score", "cost=1"]);
    price(&env, &ids[0], 8.0);
    price(&env, &ids[1], 2.0);
    let proxy = env.start_proxy();
    let seen = one_by_one(&proxy.base_url, 10);
    assert!(seen.iter().all(|e| *e == ids[1]), "{seen:?}");
    let s = scores(&env);
    assert_eq!(s[&ids[1]]["cost"], 1.0);
    assert_eq!(s[&ids[0]]["cost"], 0.25, "2 / 8");
    assert_eq!(s[&ids[0]]["score"], 0.25);
}

#[test]
fn score_weights_are_stored_shown_and_checked() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    env.ok(&[
        "profile",
        "edit",
        "work",
        "--strategy",
        "adaptive",
        "--score",
        "latency=0.5,cost=0.5",
    ]);
    let p = &env.config()["profiles"][0];
    assert_eq!(p["strategy"], "adaptive");
    assert_eq!(p["score"]["latency"], 0.5);
    assert_eq!(p["score"]["success"], 0.0);
    let shown = env.json(&["profile", "show", "work"]);
    assert_eq!(shown["score"]["cost"], 0.5);
    let list = env.ok(&["profile", "list"]);
    assert!(list.contains("adaptive (latency=0.5,cost=0.5)"), "{list}");
    // Bad input: a usage error with a hint, the config as it was.
    let before = env.snapshot();
    for (bad, says) in [
        ("speed=1", "unknown score factor 'speed'"),
        ("latency=-0.5", "not negative"),
        ("latency=0,cost=0", "all zero"),
        ("latency", "not FACTOR=WEIGHT"),
        ("latency=fast", "not FACTOR=WEIGHT"),
        ("cost=1,cost=2", "twice"),
    ] {
        let err = env.fail_with_hint(2, &["profile", "edit", "work", "--score", bad]);
        assert!(err.contains(says), "{bad}: {err}");
        assert_eq!(err.lines().next().unwrap().matches("error:").count(), 1);
        assert_eq!(env.snapshot(), before, "{bad} changed the config");
    }
    // The defaults are not stored; the view shows them for an adaptive profile.
    env.ok(&["profile", "edit", "work", "--score", "default"]);
    assert!(env.config()["profiles"][0].get("score").is_none());
    let shown = env.json(&["profile", "show", "work"]);
    assert_eq!(shown["score"]["latency"], 0.3);
    env.ok(&["profile", "edit", "work", "--strategy", "cost"]);
    assert!(
        env.json(&["profile", "show", "work"])
            .get("score")
            .is_none()
    );
}
