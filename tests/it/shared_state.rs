//! Several daemons sharing one Redis (`proxy.shared_state`, docs/team.md), against a real
//! `redis-server` on a free port: a breaker one daemon opens is skipped by the other; Redis
//! going away leaves both serving on their own (`degraded`) and coming back reconnects them;
//! a bad URL is refused, an unreachable one starts degraded.

use std::time::{Duration, Instant};

use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;
use crate::harness::client::{PLAIN, Reply, send};
use crate::harness::daemon::{client, runtime};
use crate::harness::redis::{self, RedisServer};

/// Two daemons' configs with the same endpoints (as teammates who imported one config):
/// profile `work`, `ordered`, endpoint X then the fallback Y, sharing `url`.
struct Team {
    a: TestEnv,
    b: TestEnv,
    x: FakeUpstream,
    y: FakeUpstream,
    x_id: String,
    y_id: String,
}

fn team(url: &str, setup: impl Fn(&TestEnv, &str)) -> Team {
    let a = TestEnv::new();
    let x = FakeUpstream::spawn_named("x").unwrap();
    let y = FakeUpstream::spawn_named("y").unwrap();
    let x_id = a.endpoint_for("work", &x.url(), "sk-x-000000000000001", "api-key");
    let y_id = a.endpoint_for("work", &y.url(), "sk-y-000000000000002", "api-key");
    a.ok(&["profile", "edit", "work", "--strategy", "ordered"]);
    setup(&a, &x_id);
    let url = url.to_owned();
    a.edit_config(move |c| {
        c.proxy.shared_state = Some(url);
        // Generous for a loaded test machine: the counts below must not fall back.
        c.proxy.shared_timeout_ms = 2000;
    });
    let b = TestEnv::new();
    std::fs::copy(a.config_file(), b.config_file()).unwrap();
    Team {
        a,
        b,
        x,
        y,
        x_id,
        y_id,
    }
}

fn wait_shared(env: &TestEnv, what: &str) {
    env.wait_status(Duration::from_secs(15), what, |s| {
        s["shared_state"]
            .as_str()
            .unwrap_or_default()
            .starts_with(what)
    });
}

fn one(rt: &tokio::runtime::Runtime, base: &str) -> Reply {
    rt.block_on(send(&client(), base, PLAIN, None)).unwrap()
}

/// Every key in the server, with the first line of its value (strings) or members (sets).
fn keys(redis: &RedisServer) -> Vec<String> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    s.write_all(b"KEYS *\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let n: usize = line.trim_start_matches('*').trim().parse().unwrap();
    (0..n)
        .map(|_| {
            line.clear();
            r.read_line(&mut line).unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            line.trim_end().to_owned()
        })
        .collect()
}

#[test]
fn a_breaker_opened_by_one_daemon_is_skipped_by_the_other() {
    let Some(bin) = redis::or_skip() else { return };
    let redis = RedisServer::start(bin);
    let t = team(&redis.url(), |env, _| env.breakers_open_at_once());
    t.x.set_default_fault(Fault::status(500));
    let a = t.a.start_proxy();
    let b = t.b.start_proxy();
    wait_shared(&t.a, "connected");
    wait_shared(&t.b, "connected");
    let rt = runtime();

    // A finds X failing: its breaker opens, Y answers.
    let r = one(&rt, &a.base_url);
    assert_eq!(
        (r.status, r.endpoint.as_deref()),
        (200, Some(t.y_id.as_str()))
    );
    assert_eq!(t.x.request_count(), 1);
    // A tells the others (off the request path).
    let key = format!("qcc:{{{}}}:open-until", t.x_id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis.command(&format!("EXISTS {key}")).as_deref() != Some(":1") {
        assert!(Instant::now() < deadline, "the trip never reached Redis");
        std::thread::sleep(Duration::from_millis(20));
    }
    // B has never seen X fail, yet skips it: one attempt, at Y; X hears nothing more.
    for _ in 0..3 {
        let r = one(&rt, &b.base_url);
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.endpoint.as_deref(), Some(t.y_id.as_str()));
        assert_eq!(r.attempts, Some(1), "X was not an attempt");
    }
    assert_eq!(t.x.request_count(), 1, "B sent nothing to X");
    let x = t.b.endpoint_status(&t.x_id);
    assert_eq!(x["state"], "open", "{x}");
    assert!(
        x["unavailable"]
            .as_str()
            .unwrap()
            .contains("another daemon"),
        "{x}"
    );
    // What Redis holds: endpoint ids only — no key, no key fingerprint.
    let all = keys(&redis);
    assert!(all.contains(&key), "{all:?}");
    for k in &all {
        assert!(
            k.starts_with(&format!("qcc:{{{}}}:", t.x_id))
                || k.starts_with(&format!("qcc:{{{}}}:", t.y_id)),
            "{k}"
        );
    }
    let value = redis.command(&format!("GET {key}")).unwrap();
    assert!(value.starts_with('$'), "{value}");
    let text = format!("{:?}", keys(&redis));
    assert!(!text.contains("sk-"), "{text}");
    drop((a, b));
}

#[test]
fn a_redis_outage_degrades_to_local_and_its_return_reconnects() {
    let Some(bin) = redis::or_skip() else { return };
    let mut redis = RedisServer::start(bin);
    let t = team(&redis.url(), |_, _| {});
    let a = t.a.start_proxy();
    let b = t.b.start_proxy();
    wait_shared(&t.a, "connected");
    wait_shared(&t.b, "connected");
    let rt = runtime();
    for base in [&a.base_url, &b.base_url] {
        assert_eq!(one(&rt, base).status, 200);
    }

    redis.kill();
    // Both keep serving, at once and throughout: nothing waits on the dead server.
    for i in 0..6 {
        let base = if i % 2 == 0 { &a.base_url } else { &b.base_url };
        let started = Instant::now();
        let r = one(&rt, base);
        assert_eq!(r.status, 200, "request {i} during the outage: {r:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    wait_shared(&t.a, "degraded");
    wait_shared(&t.b, "degraded");
    let text = t.a.ok(&["proxy", "status"]);
    assert!(text.contains("shared:    degraded"), "{text}");
    let log = std::fs::read_to_string(t.a.config_dir().join("logs/daemon.log")).unwrap();
    assert_eq!(
        log.matches("degraded:").count(),
        1,
        "logged once per change, not per request:\n{log}"
    );

    redis.restart();
    wait_shared(&t.a, "connected");
    wait_shared(&t.b, "connected");
    for base in [&a.base_url, &b.base_url] {
        assert_eq!(one(&rt, base).status, 200);
    }
    assert_eq!(t.x.request_count() + t.y.request_count(), 10);
    drop((a, b));
}

#[test]
fn a_bad_url_is_refused_and_an_unreachable_one_starts_degraded() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn_named("up").unwrap();
    env.endpoint_for("work", &up.url(), "sk-up-00000000000001", "api-key");

    // `qcc config import` / `edit` check the URL: refused, nothing written.
    let mut v: serde_json::Value =
        serde_json::from_str(&env.ok(&["config", "export", "--with-keys"])).unwrap();
    let before = env.snapshot();
    for bad in [
        "127.0.0.1:6379",
        "http://127.0.0.1:6379",
        "redis://127.0.0.1:6379/x",
    ] {
        v["proxy"]["shared_state"] = bad.into();
        let file = env.root().join("bad.json");
        std::fs::write(&file, v.to_string()).unwrap();
        let err = env.fail_with_hint(1, &["config", "import", file.to_str().unwrap()]);
        assert!(
            err.contains("proxy.shared_state") && err.contains("not a Redis URL"),
            "{bad}: {err}"
        );
        assert!(err.contains("redis://HOST:PORT/DB"), "{err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
        assert_eq!(env.snapshot(), before, "{bad}: nothing written");
    }
    // In the daemon's environment: the daemon does not start.
    let out = env
        .cmd()
        .args(["proxy", "start", "--listen", "127.0.0.1:0"])
        .env("QCC_REDIS_URL", "redis://:pw@127.0.0.1:6379/zero")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("QCC_REDIS_URL") && err.contains("hint:"),
        "{err}"
    );
    assert!(!err.contains(":pw@"), "the password is masked: {err}");

    // Unreachable at start: the daemon starts, serves on its own and says so.
    let dead = crate::failover::closed_port_url().replace("http://", "redis://");
    env.edit_config(|c| c.proxy.shared_state = Some(format!("{dead}/0")));
    let proxy = env.start_proxy();
    let s = env.wait_status(Duration::from_secs(15), "degraded", |s| {
        s["shared_state"]
            .as_str()
            .unwrap_or_default()
            .starts_with("degraded: ")
            && s["shared_state"] != "degraded: connecting"
    });
    assert_eq!(s["shared_url"], format!("{dead}/0"), "{s}");
    let rt = runtime();
    for _ in 0..3 {
        assert_eq!(one(&rt, &proxy.base_url).status, 200);
    }
    // The environment wins over the config; `none` turns sharing off.
    drop(proxy);
    let proxy = env.start_proxy_env(&[], &[("QCC_REDIS_URL", std::ffi::OsStr::new("none"))]);
    assert_eq!(env.proxy_status()["shared_state"], "off");
    drop(proxy);
}

/// Two links (as two daemons would hold) against one server: every shared count is one
/// count, each limit holds across them, and nothing is counted for a request refused.
#[test]
fn every_shared_limit_counts_across_two_links() {
    use qcc::shared::{Limits, Shared, Verdict};
    let Some(bin) = redis::or_skip() else { return };
    let redis = RedisServer::start(bin);
    let rt = runtime();
    rt.block_on(async {
        let mut settings = qcc::state::model::ProxySettings {
            shared_state: Some(redis.url()),
            ..Default::default()
        };
        settings.shared_timeout_ms = 2000;
        let (a, b) = (Shared::default(), Shared::default());
        a.start(None, &settings);
        b.start(None, &settings);
        let deadline = Instant::now() + Duration::from_secs(10);
        while a.status().state != "connected" || b.status().state != "connected" {
            assert!(Instant::now() < deadline, "{:?}", a.status());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let go = |v: Option<Verdict>| matches!(v, Some(Verdict::Go));
        let limited = |v: Option<Verdict>, what: &str| match v {
            Some(Verdict::Limited { reason, wait }) => {
                assert!(reason.starts_with(what), "{reason}");
                assert!(wait > Duration::ZERO && wait <= Duration::from_secs(86_400 * 31));
            }
            other => panic!("{what}: {other:?}"),
        };

        let rpm = Limits {
            rpm: Some(3),
            ..Default::default()
        };
        assert!(go(a.admit("e1", &rpm, 1).await));
        assert!(go(b.admit("e1", &rpm, 1).await));
        assert!(go(a.admit("e1", &rpm, 1).await));
        limited(b.admit("e1", &rpm, 1).await, "rpm");
        limited(a.admit("e1", &rpm, 1).await, "rpm");
        assert!(go(a.admit("e2", &rpm, 1).await), "per endpoint");

        let tpm = Limits {
            tpm: Some(150),
            ..Default::default()
        };
        assert!(go(a.admit("e3", &tpm, 60).await));
        a.add_usage("e3", 100, 0.0).await;
        limited(b.admit("e3", &tpm, 60).await, "tpm");
        assert!(go(b.admit("e3", &tpm, 50).await), "fits within the minute");

        let tpd = Limits {
            tokens_per_day: Some(1000),
            ..Default::default()
        };
        b.add_usage("e4", 999, 0.0).await;
        assert!(go(a.admit("e4", &tpd, 1).await));
        a.add_usage("e4", 1, 0.0).await;
        limited(b.admit("e4", &tpd, 1).await, "tokens-per-day");

        let budget = Limits {
            budget_day_micros: Some(400_000),
            budget_month_micros: Some(10_000_000),
            ..Default::default()
        };
        assert!(go(a.admit("e5", &budget, 1).await));
        b.add_usage("e5", 10, 0.5).await;
        limited(a.admit("e5", &budget, 1).await, "budget-day");
        let month = Limits {
            budget_month_micros: Some(500_000),
            ..Default::default()
        };
        limited(b.admit("e5", &month, 1).await, "budget-month");

        // A trip: the other link is told to skip, for what is left of it.
        a.publish_trip(
            "e6",
            Duration::from_secs(30),
            qcc::shared::TripCause::Failures,
            "HTTP 500",
        )
        .await;
        match b.admit("e6", &Limits::default(), 1).await {
            Some(Verdict::Open { left, reason, .. }) => {
                assert!(left > Duration::from_secs(25) && left <= Duration::from_secs(30));
                assert_eq!(reason, "HTTP 500");
            }
            other => panic!("{other:?}"),
        }
    });
    // Every key is namespaced and expires on its own.
    for k in keys(&redis) {
        assert!(k.starts_with("qcc:{e"), "{k}");
        let ttl = redis.command(&format!("PTTL {k}")).unwrap();
        let ttl: i64 = ttl.trim_start_matches(':').parse().unwrap();
        assert!(ttl > 0, "{k} has no expiry ({ttl})");
    }
}

/// `--rpm 10` on X, two daemons, 20 requests alternated between them: sharing one Redis,
/// exactly 10 reach X in the minute and the rest go to the fallback Y (a 429 once Y is
/// gone too); each counting alone, X gets all 20 (10 from each).
#[test]
fn an_rpm_limit_holds_across_two_daemons_sharing_redis_and_not_without() {
    let Some(bin) = redis::or_skip() else { return };
    let redis = RedisServer::start(bin);
    let rt = runtime();
    for url in [redis.url(), "none".to_owned()] {
        let shared = url != "none";
        let t = team(&url, |env, x| {
            env.ok(&["endpoint", "edit", "work", x, "--rpm", "10"]);
        });
        let a = t.a.start_proxy();
        let b = t.b.start_proxy();
        if shared {
            wait_shared(&t.a, "connected");
            wait_shared(&t.b, "connected");
        } else {
            assert_eq!(t.a.proxy_status()["shared_state"], "off");
        }
        for i in 0..20 {
            let base = if i % 2 == 0 { &a.base_url } else { &b.base_url };
            let r = one(&rt, base);
            assert_eq!(r.status, 200, "request {i}: {r:?}");
            assert_eq!(
                r.attempts,
                Some(1),
                "a limited endpoint is no attempt: {r:?}"
            );
        }
        let (x, y) = (t.x.request_count(), t.y.request_count());
        if shared {
            assert_eq!((x, y), (10, 10), "one limit for both daemons");
            // Each daemon shows X limited, the limit reached across the daemons.
            for env in [&t.a, &t.b] {
                let s = env.endpoint_status(&t.x_id);
                assert_eq!(s["state"], "limited", "{s}");
            }
            // Without the fallback: a 429 that says when to come back, nothing sent to X.
            for env in [&t.a, &t.b] {
                env.ok(&["endpoint", "disable", "work", &t.y_id]);
            }
            for env in [&t.a, &t.b] {
                env.wait_status(Duration::from_secs(10), "Y disabled", |s| {
                    s["endpoints"][1]["state"] == "disabled"
                });
            }
            for base in [&a.base_url, &b.base_url] {
                let r = one(&rt, base);
                assert_eq!(r.status, 429, "{r:?}");
                let secs: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
                assert!((1..=60).contains(&secs), "{r:?}");
                assert!(r.body.contains("rate_limit_error"), "{}", r.body);
            }
            assert_eq!(t.x.request_count(), 10);
        } else {
            assert_eq!((x, y), (20, 0), "each daemon counts its own 10");
        }
        drop((a, b));
    }
}

/// `rediss://` (TLS) to a port nobody answers on: the link is degraded, nothing panics.
#[test]
fn a_tls_url_to_nowhere_is_degraded() {
    let rt = runtime();
    rt.block_on(async {
        let dead = crate::failover::closed_port_url().replace("http://", "rediss://");
        let settings = qcc::state::model::ProxySettings {
            shared_state: Some(format!("{dead}/0")),
            ..Default::default()
        };
        let s = qcc::shared::Shared::default();
        s.start(None, &settings);
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.status().state == "degraded: connecting" {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            s.status().state.starts_with("degraded: "),
            "{:?}",
            s.status()
        );
        let none = s.admit("e1", &qcc::shared::Limits::default(), 1).await;
        assert_eq!(none, None, "no answer: the local decision holds");
    });
}
