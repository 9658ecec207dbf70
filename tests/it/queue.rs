//! The failure queue: requests that failed everywhere are stored with an id, replayed by
//! `qcc queue retry-all` (through the daemon, or without it), never sent twice by
//! concurrent replays, never lost by a replayer killed mid-retry.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;
use crate::harness::daemon::{client, kill, runtime};

struct Setup {
    env: TestEnv,
    ups: Vec<FakeUpstream>,
}

/// Two endpoints, both failing with 529; auto-retry off so the test drives replays, and
/// breakers that do not open (replays respect breakers; these tests are about the queue).
fn down() -> Setup {
    let env = TestEnv::new();
    let ups = env.failing_endpoints("work", "up", 2, Fault::status(529));
    env.ok(&["queue", "config", "--no-auto-retry"]);
    env.ok(&["priority", "policy", "--failure-threshold", "100"]);
    Setup { env, ups }
}

impl Setup {
    fn revive(&self) {
        for up in &self.ups {
            up.set_default_fault(Fault::None);
        }
    }

    fn upstream_requests(&self) -> usize {
        self.ups.iter().map(|u| u.request_count()).sum()
    }

    fn queued(&self) -> Vec<serde_json::Value> {
        self.env
            .json(&["queue", "list", "-n", "1000"])
            .as_array()
            .unwrap()
            .clone()
    }
}

fn job(i: usize) -> String {
    format!(
        r#"{{"model":"claude-test","max_tokens":32,"messages":[{{"role":"user","content":"batch job {i}"}}]}}"#
    )
}

/// Send `n` non-streaming jobs through the proxy; return the queue ids they got.
fn send_jobs(base: &str, n: usize) -> Vec<String> {
    let rt = runtime();
    let http = client();
    (0..n)
        .map(|i| {
            rt.block_on(async {
                let r = http
                    .post(format!("{base}/v1/messages"))
                    .header("x-api-key", "sk-client-must-never-be-stored")
                    .header("anthropic-version", "2023-06-01")
                    .body(job(i))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 529, "the upstream's error goes back unchanged");
                r.headers()["x-qcc-queue-id"].to_str().unwrap().to_owned()
            })
        })
        .collect()
}

#[test]
fn failed_requests_are_queued_then_replayed_by_the_daemon() {
    let s = down();
    let proxy = s.env.start_proxy();
    let ids = send_jobs(&proxy.base_url, 5);
    let queued = s.queued();
    assert_eq!(queued.len(), 5);
    assert!(queued.iter().all(|i| i["state"] == "pending"));
    for id in &ids {
        assert!(queued.iter().any(|i| i["id"] == id.as_str()), "{id} listed");
    }
    // Stored safely: body in its own 0600 file, no credentials in the headers kept.
    let body_file = s
        .env
        .config_dir()
        .join("queue")
        .join(format!("{}.request", ids[0]));
    assert_eq!(std::fs::read_to_string(&body_file).unwrap(), job(0));
    assert_eq!(
        std::fs::metadata(&body_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let shown = s.env.json(&["queue", "show", &ids[0]]);
    let headers = serde_json::to_string(&shown["headers"]).unwrap();
    assert!(
        headers.contains("anthropic-version") && !headers.contains("must-never-be-stored"),
        "{headers}"
    );

    // A streaming request is not queued by default (its client resends it itself).
    let rt = runtime();
    let r = rt
        .block_on(
            client()
                .post(format!("{}/v1/messages", proxy.base_url))
                .body(r#"{"stream":true}"#)
                .send(),
        )
        .unwrap();
    assert!(r.headers().get("x-qcc-queue-id").is_none());

    // Providers are back: retry-all (the daemon does the work) succeeds for every item.
    s.revive();
    let before = s.upstream_requests();
    let summary = s.env.json(&["queue", "retry-all"]);
    assert_eq!(
        (summary["attempted"].as_u64(), summary["succeeded"].as_u64()),
        (Some(5), Some(5)),
        "{summary}"
    );
    assert_eq!(s.upstream_requests() - before, 5);
    for (i, id) in ids.iter().enumerate() {
        let answer: serde_json::Value =
            serde_json::from_str(&s.env.ok(&["queue", "show", id, "--response"])).unwrap();
        assert_eq!(
            answer["type"], "message",
            "the real upstream answer is stored"
        );
        assert!(
            answer["content"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("Hello from up")
        );
        let sent = s
            .ups
            .iter()
            .flat_map(|u| u.requests())
            .filter(|r| r.body == job(i).as_bytes())
            .count();
        assert!(sent >= 2, "job {i} was replayed byte for byte");
    }
    let status = s.env.json(&["queue", "status"]);
    assert_eq!(status["counts"]["succeeded"], 5);
    assert_eq!(status["totals"]["enqueued"], 5);
    assert_eq!(status["totals"]["succeeded"], 5);
    let out = s.env.run(&["queue", "retry-all"]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Nothing to retry")
    );
}

#[test]
fn without_the_daemon_the_cli_replays_through_the_same_routing() {
    let s = down();
    let ids = {
        let proxy = s.env.start_proxy();
        send_jobs(&proxy.base_url, 3)
    };
    assert_eq!(
        s.env.run(&["proxy", "status"]).status.code(),
        Some(3),
        "daemon stopped"
    );
    // Still down: the replay fails again, the item stays pending with its next attempt.
    let out = s.env.run(&["queue", "retry", &ids[0]]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let item = s.env.json(&["queue", "show", &ids[0]]);
    assert_eq!(
        (item["state"].as_str(), item["attempts"].as_u64()),
        (Some("pending"), Some(1))
    );
    assert!(item["next_attempt_at"].is_string());
    assert_eq!(s.queued().len(), 3, "a failed replay is not a new item");

    s.revive();
    let out = s.env.ok(&["queue", "retry-all"]);
    assert!(out.contains("3 succeeded"), "{out}");
    assert!(s.queued().iter().all(|i| i["state"] == "succeeded"));
}

#[test]
fn items_die_after_max_retries() {
    let s = down();
    s.env.ok(&[
        "queue",
        "config",
        "--max-retries",
        "2",
        "--strategy",
        "immediate",
    ]);
    let ids = {
        let proxy = s.env.start_proxy();
        send_jobs(&proxy.base_url, 1)
    };
    for _ in 0..2 {
        assert_eq!(s.env.run(&["queue", "retry-all"]).status.code(), Some(1));
    }
    let item = s.env.json(&["queue", "show", &ids[0]]);
    assert_eq!(
        (item["state"].as_str(), item["attempts"].as_u64()),
        (Some("dead"), Some(2))
    );
    assert!(
        item["last_error"].as_str().unwrap().contains("529"),
        "{item}"
    );
    assert!(
        s.env
            .ok(&["queue", "retry-all"])
            .contains("Nothing to retry"),
        "dead items are left alone"
    );
    // A dead item can still be retried by hand once providers are back.
    s.revive();
    assert!(s.env.ok(&["queue", "retry", &ids[0]]).contains("succeeded"));
}

#[test]
fn limits_evict_the_oldest_and_the_log_says_so() {
    let s = down();
    s.env.ok(&["queue", "config", "--max-items", "3"]);
    let proxy = s.env.start_proxy();
    let ids = send_jobs(&proxy.base_url, 5);
    let kept: Vec<String> = s
        .queued()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kept,
        [ids[4].clone(), ids[3].clone(), ids[2].clone()],
        "newest first, oldest dropped"
    );
    assert!(
        !s.env
            .config_dir()
            .join("queue")
            .join(format!("{}.request", ids[0]))
            .exists()
    );
    let log = s.env.ok(&["proxy", "logs", "-n", "200"]);
    assert!(log.contains("evicted") && log.contains(&ids[0]), "{log}");
    assert_eq!(s.env.json(&["queue", "status"])["totals"]["evicted"], 2);
}

#[test]
fn concurrent_retry_alls_send_each_item_once() {
    let s = down();
    let proxy = s.env.start_proxy();
    send_jobs(&proxy.base_url, 20);
    drop(proxy);
    s.revive();
    for up in &s.ups {
        up.set_default_fault(Fault::DelayHeaders(Duration::from_millis(40)));
    }
    let before = s.upstream_requests();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            s.env
                .cmd()
                .args(["queue", "retry-all", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut succeeded = 0;
    for r in runs {
        let out = r.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        succeeded += v["succeeded"].as_u64().unwrap();
    }
    assert_eq!(succeeded, 20);
    assert_eq!(
        s.upstream_requests() - before,
        20,
        "each item sent exactly once"
    );
}

#[test]
fn a_replayer_killed_mid_retry_loses_nothing() {
    let s = down();
    let proxy = s.env.start_proxy();
    let ids = send_jobs(&proxy.base_url, 10);
    drop(proxy);
    s.revive();
    for up in &s.ups {
        up.set_default_fault(Fault::DelayHeaders(Duration::from_millis(300)));
    }
    let before = s.upstream_requests();
    let child = s
        .env
        .cmd()
        .args(["queue", "retry-all"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once replays are under way (some answered, some in flight).
    let total = || s.ups.iter().map(|u| u.stats().requests).sum::<usize>();
    let started = std::time::Instant::now();
    while total() < before + 6 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "replays never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(child.id(), libc::SIGKILL);
    let mut child = child;
    child.wait().unwrap();
    let items = s.queued();
    assert_eq!(items.len(), 10);
    for i in &items {
        let state = i["state"].as_str().unwrap();
        assert!(state == "pending" || state == "succeeded", "{i}");
        if state == "succeeded" {
            let id = i["id"].as_str().unwrap();
            assert!(
                s.env
                    .ok(&["queue", "show", id, "--response"])
                    .contains("\"message\"")
            );
        }
    }
    // Replaying again finishes the job.
    for up in &s.ups {
        up.set_default_fault(Fault::None);
    }
    s.env.ok(&["queue", "retry-all"]);
    assert!(
        s.queued().iter().all(|i| i["state"] == "succeeded"),
        "{:?}",
        ids
    );
}

#[test]
fn the_daemon_retries_by_itself_and_survives_a_kill() {
    let s = down();
    s.env.ok(&[
        "queue",
        "config",
        "--auto-retry",
        "--strategy",
        "immediate",
        "--max-retries",
        "100",
    ]);
    let proxy = s.env.start_proxy();
    let ids = send_jobs(&proxy.base_url, 4);
    // The daemon keeps retrying in the background; kill it while it does.
    assert!(s.ups[0].wait_until(Duration::from_secs(10), |st| st.requests >= 8));
    kill(proxy.pid, libc::SIGKILL);
    assert!(crate::harness::daemon::wait_pid_exit(
        proxy.pid,
        Duration::from_secs(5)
    ));
    drop(proxy);
    for i in s.queued() {
        assert_eq!(i["state"], "pending", "{i}");
    }
    // Restarted with providers back: the daemon finishes the job on its own.
    s.revive();
    let _proxy = s.env.start_proxy();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !s.queued().iter().all(|i| i["state"] == "succeeded") {
        assert!(
            std::time::Instant::now() < deadline,
            "not replayed: {:?}",
            s.queued()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.queued().len(), ids.len());
}

#[test]
fn streams_can_be_queued_and_their_raw_sse_is_kept() {
    let s = down();
    s.env.ok(&["queue", "config", "--mode", "all"]);
    let proxy = s.env.start_proxy();
    let rt = runtime();
    let id = rt.block_on(async {
        let r = client()
            .post(format!("{}/v1/messages?beta=true", proxy.base_url))
            .body(r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            .send()
            .await
            .unwrap();
        r.headers()["x-qcc-queue-id"].to_str().unwrap().to_owned()
    });
    s.revive();
    s.env.ok(&["queue", "retry", &id]);
    let raw = s.env.ok(&["queue", "show", &id, "--response"]);
    assert!(
        raw.starts_with("event: message_start") && raw.contains("event: message_stop"),
        "{raw}"
    );
    let replayed = s
        .ups
        .iter()
        .flat_map(|u| u.requests())
        .filter(|r| r.query.as_deref() == Some("beta=true"))
        .count();
    assert!(replayed >= 3, "path and query kept on replay");
}

#[test]
fn clear_needs_yes_and_a_corrupt_index_is_reported() {
    let s = down();
    let proxy = s.env.start_proxy();
    let ids = send_jobs(&proxy.base_url, 2);
    drop(proxy);
    let stderr = s.env.fail_with_hint(2, &["queue", "clear"]);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(s.queued().len(), 2);
    s.env.ok(&["queue", "clear", "--yes"]);
    assert!(s.queued().is_empty());
    assert!(
        !s.env
            .config_dir()
            .join("queue")
            .join(format!("{}.request", ids[0]))
            .exists()
    );

    let index = s.env.config_dir().join("queue/index.json");
    std::fs::write(&index, "{\n  \"version\": 1,\n  \"items\": [ oops\n").unwrap();
    for args in [
        &["queue", "list"][..],
        &["queue", "status"][..],
        &["queue", "retry-all"][..],
    ] {
        let stderr = s.env.fail_with_hint(1, args);
        assert!(
            stderr.contains("index.json") && stderr.contains("line 3"),
            "{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&index).unwrap(),
        "{\n  \"version\": 1,\n  \"items\": [ oops\n"
    );
    let stderr = s.env.fail_with_hint(1, &["queue", "show", "qnope"]);
    assert!(stderr.contains("index.json"), "{stderr}");
}
