//! The frozen version-1 state (`tests/fixtures/state-v1/`, see its README): a config dir made
//! by qcc 0.1.0 itself. Today's code must read every document in it, show the values it
//! holds, and keep every field of it when it writes. A future format migration must keep
//! these tests passing without editing the fixture.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use qcc::fake::FakeUpstream;
use qcc::queue::QueueIndex;
use qcc::state::health::HealthDoc;
use qcc::state::store::{Document, parse_document};
use qcc::state::{Config, History};
use serde_json::{Value, json};

use crate::harness::TestEnv;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v1");

/// The fixture's endpoints, as `qcc endpoint list` orders them.
const WORK_OFFICIAL: &str = "c5b9bc";
const WORK_RELAY: &str = "307c10";
const BACKUP_LOCAL: &str = "01a2b9";
const BACKUP_SPARE: &str = "220443";
const PERSONAL_HOME: &str = "46bd5d";
/// The fixture's queue items: one of each settled state.
const Q_SUCCEEDED: &str = "q6343e6cf";
const Q_PENDING: &str = "q4dbb5155";
const Q_DEAD: &str = "q45ce5094";

/// Every file of the fixture, relative to the config dir.
const FILES: [&str; 8] = [
    "config.json",
    "history.json",
    "health.json",
    "queue/index.json",
    "queue/q6343e6cf.request",
    "queue/q6343e6cf.response",
    "queue/q4dbb5155.request",
    "queue/q45ce5094.request",
];

fn fixture(rel: &str) -> PathBuf {
    Path::new(FIXTURE).join(rel)
}

fn fixture_json(rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(rel)).unwrap()).unwrap()
}

fn config_json(env: &TestEnv, rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(env.config_dir().join(rel)).unwrap()).unwrap()
}

/// A test env whose config dir is a copy of the fixture, with the modes the store wants
/// (git keeps neither 0700 nor 0600).
fn frozen() -> TestEnv {
    let env = TestEnv::new();
    let dir = env.config_dir();
    std::fs::create_dir_all(dir.join("queue")).unwrap();
    for rel in FILES {
        let to = dir.join(rel);
        std::fs::copy(fixture(rel), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for d in [dir.clone(), dir.join("queue")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    env
}

/// `actual` holds every field of `frozen` with the same value: nothing lost or changed.
/// Fields a later qcc adds (with their defaults) are allowed; arrays keep length and order.
fn assert_keeps(actual: &Value, frozen: &Value, at: &str) {
    match (actual, frozen) {
        (Value::Object(got), Value::Object(want)) => {
            for (k, v) in want {
                let Some(g) = got.get(k) else {
                    panic!("{at}.{k} was lost (frozen value {v})");
                };
                assert_keeps(g, v, &format!("{at}.{k}"));
            }
        }
        (Value::Array(got), Value::Array(want)) => {
            assert_eq!(got.len(), want.len(), "{at}: length changed");
            for (i, (g, v)) in got.iter().zip(want).enumerate() {
                assert_keeps(g, v, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(actual, frozen, "{at} changed"),
    }
}

/// Parse a fixture document with today's model and serialize it again: nothing may be lost
/// or changed on the way.
fn round_trip<D: Document>(rel: &str) -> D {
    let path = fixture(rel);
    let bytes = std::fs::read(&path).unwrap();
    let doc: D = parse_document(&path, &bytes)
        .unwrap_or_else(|e| panic!("today's qcc cannot read the frozen {rel}: {e}"));
    assert_keeps(
        &serde_json::to_value(&doc).unwrap(),
        &fixture_json(rel),
        rel,
    );
    doc
}

#[test]
fn every_document_round_trips_through_todays_model() {
    let config: Config = round_trip("config.json");
    assert_eq!(config.version, 1);
    assert_eq!(config.active.as_deref(), Some("work"));
    assert_eq!(config.profiles.len(), 3);
    let history: History = round_trip("history.json");
    assert_eq!(history.records.len(), 3);
    let health: HealthDoc = round_trip("health.json");
    assert_eq!(health.endpoints.len(), 5);
    let queue: QueueIndex = round_trip("queue/index.json");
    assert_eq!(queue.items.len(), 3);
    // Every endpoint the health document knows is one of the config's.
    for id in health.endpoints.keys() {
        assert!(config.endpoints().any(|(_, e)| &e.id == id), "{id}");
    }
}

#[test]
fn profiles_and_endpoints_are_read_with_keys_masked() {
    let env = frozen();
    let profiles = env.json(&["profile", "list"]);
    let summary: Vec<_> = profiles
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            json!([
                p["name"],
                p["strategy"],
                p["tier"],
                p["active"],
                p["endpoints"],
                p["enabled_endpoints"]
            ])
        })
        .collect();
    assert_eq!(
        summary,
        [
            json!(["work", "weighted", "primary", true, 2, 2]),
            json!(["backup", "ordered", "secondary", false, 2, 1]),
            json!(["personal", "least-connections", "fallback", false, 1, 1]),
        ]
    );
    assert_eq!(profiles[0]["description"], "Company keys");
    assert_eq!(profiles[0]["created_at"], "2026-12-02T05:51:46.043526160Z");
    assert_eq!(profiles[2]["description"], Value::Null);

    let out = env.ok(&["endpoint", "list", "--json"]);
    let endpoints: Value = serde_json::from_str(&out).unwrap();
    let rows: Vec<_> = endpoints
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            json!([
                e["id"],
                e["profile"],
                e["name"],
                e["url"],
                e["key"],
                e["auth"],
                e["weight"],
                e["enabled"],
                e["kind"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        [
            json!([
                WORK_OFFICIAL,
                "work",
                "official",
                "https://api.anthropic.com",
                "sk-ant-api03-…9f2c",
                "api-key",
                300,
                true,
                "anthropic"
            ]),
            json!([
                WORK_RELAY,
                "work",
                "relay",
                "https://relay.example.com/api",
                "sk-relay-…7a3e",
                "bearer",
                100,
                true,
                "anthropic"
            ]),
            json!([
                BACKUP_LOCAL,
                "backup",
                "local-relay",
                "http://127.0.0.1:9",
                "sk-ant-api03-…c0de",
                "api-key",
                100,
                true,
                "anthropic"
            ]),
            json!([
                BACKUP_SPARE,
                "backup",
                null,
                "http://127.0.0.1:9/v2",
                "sk-ant-api03-…4b1d",
                "api-key",
                50,
                false,
                "anthropic"
            ]),
            json!([
                PERSONAL_HOME,
                "personal",
                "home-relay",
                "http://127.0.0.1:47861",
                "sk-ant-api03-…5e6f",
                "api-key",
                100,
                true,
                "anthropic"
            ]),
        ]
    );
    // No stored key leaks unmasked; with --show-keys they are read in full.
    let config = fixture_json("config.json");
    let keys: Vec<String> = config["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["endpoints"].as_array().unwrap().iter())
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 5);
    for key in &keys {
        assert!(!out.contains(key.as_str()), "{key} shown unmasked");
    }
    let shown = env.json(&["endpoint", "list", "backup", "--show-keys"]);
    assert_eq!(
        shown[0]["key"],
        "sk-ant-api03-fixture-backup-2222222222222222c0de"
    );

    let backup = env.json(&["profile", "show", "backup"]);
    assert_eq!(backup["description"], "Spare relay");
    assert_eq!(backup["endpoint_list"][1]["id"], BACKUP_SPARE);
    assert_eq!(backup["endpoint_list"][1]["enabled"], false);
}

#[test]
fn tiers_policy_settings_and_switch_history_are_read() {
    let env = frozen();
    let list = env.json(&["priority", "list"]);
    assert_eq!(list["active"], "work");
    let tiers: Vec<_> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e["tier"], e["position"], e["profile"], e["active"]]))
        .collect();
    assert_eq!(
        tiers,
        [
            json!(["primary", 1, "work", true]),
            json!(["secondary", 1, "backup", false]),
            json!(["fallback", 1, "personal", false]),
        ]
    );
    let policy = json!({
        "auto_failover": true,
        "auto_recovery": true,
        "failure_threshold": 3,
        "cooldown_secs": 45,
        "recovery_hold_secs": 600,
        "billing_hold_secs": 3600
    });
    assert_eq!(list["policy"], policy);
    assert_eq!(env.json(&["priority", "policy"]), policy);

    let history = env.json(&["priority", "history"]);
    let records: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["at"], r["from"], r["to"], r["kind"]]))
        .collect();
    assert_eq!(
        records,
        [
            json!(["2026-12-02T05:51:47.771851903Z", "backup", "work", "manual"]),
            json!([
                "2026-12-02T05:51:46.320336203Z",
                "backup",
                "personal",
                "failover"
            ]),
            json!(["2026-12-02T05:51:46.228984451Z", "work", "backup", "manual"]),
        ]
    );
    assert_eq!(
        history[1]["reason"],
        "no available endpoint in 'backup' (01a2b9: breaker open after client error (Connect): \
         tcp connect error: Connection refused (os error 111))"
    );
    assert_eq!(
        env.json(&["priority", "history", "-n", "1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let queue = env.json(&["queue", "config"]);
    assert_eq!(queue["mode"], "all");
    assert_eq!(queue["max_items"], 500);
    assert_eq!(queue["max_retries"], 5);
    assert_eq!(queue["auto_retry"], true);
    let health = env.json(&["health", "config"]);
    assert_eq!(health["interval_secs"], 20);
    assert_eq!(health["probe_model"], "claude-haiku-4-5");
    assert_eq!(health["weight_adjust"], false);
}

#[test]
fn health_json_is_shown_as_the_last_known_values() {
    let env = frozen();
    let status = env.json(&["health", "status"]);
    assert_eq!(status["live"], false, "no daemon runs: the saved figures");
    assert_eq!(status["as_of"], "2026-12-02T05:51:47.630677489Z");
    let rows: Vec<_> = status["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            json!([
                e["id"],
                e["breaker"],
                e["requests"],
                e["successes"],
                e["failures"],
                e["consecutive_failures"],
                e["effective_weight"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        [
            json!([WORK_OFFICIAL, "closed", 0, 0, 0, 0, 300]),
            json!([WORK_RELAY, "closed", 0, 0, 0, 0, 100]),
            json!([BACKUP_LOCAL, "open", 3, 0, 3, 4, 100]),
            json!([BACKUP_SPARE, "disabled", 0, 0, 0, 0, 50]),
            json!([PERSONAL_HOME, "closed", 9, 6, 3, 0, 100]),
        ]
    );
    let home = &status["endpoints"][4];
    assert_eq!(home["success_rate"], 0.667);
    assert_eq!(home["samples"], 9);
    assert_eq!(home["last_success_at"], "2026-12-02T05:51:47.618663012Z");
    assert_eq!(home["last_probe"]["passed"], true);
    assert_eq!(home["last_probe"]["reason"], "echoed the nonce");
    assert_eq!(home["last_probe"]["model"], "claude-haiku-4-5");
    assert!(home["latency_p50_ms"].as_f64().unwrap() > 0.0);

    let metrics = env.json(&["health", "metrics", PERSONAL_HOME]);
    assert_eq!(metrics["live"], false);
    assert_eq!(metrics["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(metrics["endpoints"][0]["latency_p50_ms"], 0.93);
    assert_eq!(metrics["endpoints"][0]["latency_p95_ms"], 1.37);

    let probes = env.json(&["health", "history", BACKUP_LOCAL]);
    assert_eq!(
        probes,
        json!([{
            "kind": "probe",
            "at": "2026-12-02T05:51:46.335036819Z",
            "source": "manual",
            "passed": false,
            "reason": "client error (Connect): tcp connect error: Connection refused (os error 111)",
            "model_asked": "claude-haiku-4-5",
            "model": null,
            "status": null,
            "latency_ms": 0.6,
            "first_byte_ms": null
        }])
    );
}

#[test]
fn the_queue_index_and_its_body_files_are_read() {
    let env = frozen();
    let status = env.json(&["queue", "status"]);
    assert_eq!(
        status["counts"],
        json!({"pending": 1, "retrying": 0, "succeeded": 1, "dead": 1})
    );
    assert_eq!(status["bytes"], 97 + 252 + 117 + 80);
    assert_eq!(
        status["totals"],
        json!({"enqueued": 3, "retried": 3, "succeeded": 1, "failed": 2, "evicted": 0})
    );
    assert_eq!(status["oldest"], "2026-12-02T05:51:46.299056501Z");

    let list = env.json(&["queue", "list"]);
    let rows: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            json!([
                i["id"],
                i["state"],
                i["path"],
                i["stream"],
                i["attempts"],
                i["body_bytes"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        [
            json!([Q_DEAD, "dead", "/v1/messages/count_tokens", false, 1, 80]),
            json!([Q_PENDING, "pending", "/v1/messages?beta=true", true, 1, 117]),
            json!([Q_SUCCEEDED, "succeeded", "/v1/messages", false, 1, 97]),
        ]
    );
    assert_eq!(
        list[0]["last_error"],
        "HTTP 400: max_tokens: Field required"
    );
    assert_eq!(list[1]["next_attempt_at"], "2026-12-02T05:51:58.084157980Z");
    let pending = env.json(&["queue", "list", "--state", "pending"]);
    assert_eq!(pending.as_array().unwrap().len(), 1);

    // A unique prefix is enough, as for every id.
    let shown = env.json(&["queue", "show", "q6343"]);
    assert_eq!(shown["id"], Q_SUCCEEDED);
    assert_eq!(shown["response_status"], 200);
    assert_eq!(shown["response_bytes"], 252);
    assert_eq!(shown["endpoint"], PERSONAL_HOME);
    assert_eq!(
        shown["headers"],
        json!([
            ["user-agent", "fixture-script/1.0"],
            ["accept", "*/*"],
            ["content-type", "application/json"],
            ["anthropic-version", "2023-06-01"]
        ])
    );
    let response = env
        .cmd()
        .args(["queue", "show", Q_SUCCEEDED, "--response"])
        .output()
        .unwrap();
    assert!(response.status.success());
    assert_eq!(
        response.stdout,
        std::fs::read(fixture("queue/q6343e6cf.response")).unwrap(),
        "the stored response comes back byte for byte"
    );
    let stream = env.json(&["queue", "show", Q_PENDING]);
    assert_eq!(stream["stream"], true);
    assert!(stream["headers"].as_array().unwrap().contains(&json!([
        "x-claude-code-session-id",
        "5b0e7c1a-fixture-session"
    ])));
}

#[test]
fn a_replay_sends_the_stored_body_and_keeps_the_other_items() {
    let env = frozen();
    let up = FakeUpstream::spawn_named("revived").unwrap();
    env.ok(&["priority", "switch", "backup"]);
    env.ok(&[
        "endpoint",
        "edit",
        "backup",
        BACKUP_LOCAL,
        "--url",
        &up.url(),
    ]);
    env.ok(&["queue", "retry", Q_PENDING]);

    let sent = up.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(sent[0].query.as_deref(), Some("beta=true"));
    assert_eq!(
        sent[0].body.as_ref(),
        std::fs::read(fixture("queue/q4dbb5155.request")).unwrap(),
        "the stored body is sent byte for byte"
    );
    assert_eq!(
        sent[0].header("x-claude-code-session-id"),
        Some("5b0e7c1a-fixture-session")
    );
    assert_eq!(
        sent[0].header("x-api-key"),
        Some("sk-ant-api03-fixture-backup-2222222222222222c0de"),
        "the endpoint's stored key is set again on replay"
    );

    let before = fixture_json("queue/index.json");
    let after = config_json(&env, "queue/index.json");
    assert_eq!(after["version"], 1);
    assert_keeps(&after["items"][0], &before["items"][0], Q_SUCCEEDED);
    assert_keeps(&after["items"][2], &before["items"][2], Q_DEAD);
    assert_eq!(after["items"][1]["id"], Q_PENDING);
    assert_eq!(after["items"][1]["state"], "succeeded");
    assert_eq!(after["items"][1]["attempts"], 2);
    assert_eq!(
        after["items"][1]["created_at"],
        before["items"][1]["created_at"]
    );
    assert_eq!(after["items"][1]["headers"], before["items"][1]["headers"]);
    assert_eq!(
        after["totals"],
        json!({"enqueued": 3, "retried": 4, "succeeded": 2, "failed": 2, "evicted": 0})
    );
    assert!(
        env.ok(&["queue", "show", Q_PENDING, "--response"])
            .contains("message_stop")
    );
}

/// Every fixture file but `except` is still byte for byte the frozen one.
fn untouched(env: &TestEnv, except: &[&str]) {
    for rel in FILES.into_iter().filter(|f| !except.contains(f)) {
        assert_eq!(
            std::fs::read(env.config_dir().join(rel)).unwrap(),
            std::fs::read(fixture(rel)).unwrap(),
            "{rel} changed"
        );
    }
}

#[test]
fn writes_keep_every_field_of_the_frozen_documents() {
    let env = frozen();

    // A new profile: config.json is rewritten; with the new profile taken out it still
    // holds every frozen field and value.
    env.ok(&["profile", "add", "extra", "-d", "Added after the freeze"]);
    let mut config = config_json(&env, "config.json");
    let added = config["profiles"].as_array_mut().unwrap().pop().unwrap();
    assert_eq!(added["name"], "extra");
    assert_eq!(added["description"], "Added after the freeze");
    assert_keeps(&config, &fixture_json("config.json"), "config.json");
    untouched(&env, &["config.json"]);
    let mode = std::fs::metadata(env.config_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A policy change touches that one field.
    env.ok(&["priority", "policy", "--failure-threshold", "4"]);
    let mut config = config_json(&env, "config.json");
    assert_eq!(config["policy"]["failure_threshold"], 4);
    config["policy"]["failure_threshold"] = json!(3);
    config["profiles"].as_array_mut().unwrap().pop();
    assert_keeps(&config, &fixture_json("config.json"), "config.json");

    // A switch appends to history.json and keeps the frozen records as they were.
    env.ok(&["priority", "switch", "personal"]);
    let history = config_json(&env, "history.json");
    let frozen_history = fixture_json("history.json");
    let records = history["records"].as_array().unwrap();
    assert_eq!(records.len(), 4);
    assert_keeps(
        &Value::Array(records[..3].to_vec()),
        &frozen_history["records"],
        "history.json records",
    );
    assert_eq!(records[3]["from"], "work");
    assert_eq!(records[3]["to"], "personal");
    assert_eq!(records[3]["kind"], "manual");
    assert_eq!(config_json(&env, "config.json")["active"], "personal");
    untouched(&env, &["config.json", "history.json"]);

    // Clearing the dead item rewrites the queue index: the others stay as frozen and the
    // dead item's body file goes with it.
    env.ok(&["queue", "clear", "--state", "dead", "--yes"]);
    let index = config_json(&env, "queue/index.json");
    let frozen_index = fixture_json("queue/index.json");
    let kept = frozen_index["items"].as_array().unwrap()[..2].to_vec();
    assert_keeps(
        &index["items"],
        &Value::Array(kept),
        "queue/index.json items",
    );
    assert_keeps(&index["totals"], &frozen_index["totals"], "queue totals");
    assert!(!env.config_dir().join("queue/q45ce5094.request").exists());
    untouched(
        &env,
        &[
            "config.json",
            "history.json",
            "queue/index.json",
            "queue/q45ce5094.request",
        ],
    );
}
