//! Endpoint names are accepted wherever an endpoint id or id prefix is: every command that
//! takes an endpoint, by name, by id and by unique id prefix; a name two endpoints share is
//! an error listing both ids, unless the command's profile decides; the daemon resolves
//! names too (for older CLIs, which send what was typed).

use std::time::Duration;

use qcc::fake::FakeUpstream;
use qcc::ipc::client::Client;
use qcc::ipc::protocol::{Request, Response};
use serde_json::Value;

use crate::harness::TestEnv;

/// The endpoints of [`seeded`], by id.
struct Seeded {
    env: TestEnv,
    /// work, named "relay-a", http://127.0.0.1:9/a (nobody listens on port 9).
    relay_a: String,
    /// work, named "shared".
    work_shared: String,
    /// home, named "shared".
    home_shared: String,
    /// home, no name.
    home_plain: String,
}

fn add(env: &TestEnv, profile: &str, url: &str, key: &str, name: Option<&str>) -> String {
    let mut args = vec!["endpoint", "add", profile, "--url", url, "--key", key];
    if let Some(n) = name {
        args.extend(["--name", n]);
    }
    env.json(&args)["id"].as_str().unwrap().to_owned()
}

fn seeded() -> Seeded {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    env.ok(&["profile", "add", "home"]);
    let relay_a = add(
        &env,
        "work",
        "http://127.0.0.1:9/a",
        "sk-names-0000000000000001",
        Some("relay-a"),
    );
    let work_shared = add(
        &env,
        "work",
        "http://127.0.0.1:9/s",
        "sk-names-0000000000000002",
        Some("shared"),
    );
    let home_shared = add(
        &env,
        "home",
        "http://127.0.0.1:9/h",
        "sk-names-0000000000000003",
        Some("shared"),
    );
    let home_plain = add(
        &env,
        "home",
        "http://127.0.0.1:9/p",
        "sk-names-0000000000000004",
        None,
    );
    Seeded {
        env,
        relay_a,
        work_shared,
        home_shared,
        home_plain,
    }
}

/// Every endpoint id in the config.
fn all_ids(env: &TestEnv) -> Vec<String> {
    env.json(&["endpoint", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The shortest prefix of `id` no other endpoint's id starts with.
fn unique_prefix(env: &TestEnv, id: &str) -> String {
    let ids = all_ids(env);
    (1..=id.len())
        .map(|n| &id[..n])
        .find(|p| ids.iter().filter(|i| i.starts_with(p)).count() == 1)
        .unwrap()
        .to_owned()
}

/// The three ways to name the endpoint `id` called `name`: name, id, unique id prefix.
fn forms(env: &TestEnv, name: &str, id: &str) -> [String; 3] {
    [name.to_owned(), id.to_owned(), unique_prefix(env, id)]
}

/// An endpoint's entry in `endpoint list --json`.
fn listed(env: &TestEnv, id: &str) -> Value {
    env.json(&["endpoint", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed"))
        .clone()
}

fn enabled(env: &TestEnv) -> Vec<(String, bool)> {
    env.json(&["endpoint", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["enabled"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn endpoint_disable_and_enable_take_a_name_an_id_or_a_prefix() {
    let s = seeded();
    let env = &s.env;
    for q in forms(env, "relay-a", &s.relay_a) {
        let v = env.json(&["endpoint", "disable", "work", &q]);
        assert_eq!(v["id"], s.relay_a.as_str(), "{q}");
        for (id, on) in enabled(env) {
            assert_eq!(on, id != s.relay_a, "after `disable work {q}`: {id}");
        }
        env.ok(&["endpoint", "enable", "work", &q]);
        assert!(enabled(env).iter().all(|(_, on)| *on), "`enable work {q}`");
    }
    // Names ignore ASCII case, like ids.
    let out = env.ok(&["endpoint", "disable", "work", "RELAY-A"]);
    assert!(out.contains(&s.relay_a), "{out}");
    assert_eq!(listed(env, &s.relay_a)["enabled"], false);
}

#[test]
fn a_profile_scoped_command_resolves_a_shared_name_within_its_profile() {
    let s = seeded();
    let env = &s.env;
    env.ok(&["endpoint", "disable", "work", "shared"]);
    assert_eq!(listed(env, &s.work_shared)["enabled"], false);
    assert_eq!(listed(env, &s.home_shared)["enabled"], true);
    env.ok(&["endpoint", "disable", "home", "shared"]);
    assert_eq!(listed(env, &s.home_shared)["enabled"], false);
    env.ok(&["endpoint", "edit", "home", "shared", "--weight", "7"]);
    assert_eq!(listed(env, &s.home_shared)["weight"], 7);
    assert_eq!(listed(env, &s.work_shared)["weight"], 100);
    // A name of another profile is not found in this one.
    let stderr = env.fail_with_hint(1, &["endpoint", "enable", "home", "relay-a"]);
    assert!(
        stderr.contains("no endpoint matches id or name 'relay-a' in profile 'home'"),
        "{stderr}"
    );
}

#[test]
fn endpoint_edit_takes_a_name_an_id_or_a_prefix() {
    let s = seeded();
    let env = &s.env;
    for (i, q) in forms(env, "relay-a", &s.relay_a).iter().enumerate() {
        let w = (10 + i).to_string();
        let v = env.json(&["endpoint", "edit", "work", q, "--weight", &w]);
        assert_eq!(v["id"], s.relay_a.as_str(), "{q}");
        assert_eq!(listed(env, &s.relay_a)["weight"], 10 + i, "{q}");
    }
    // Renamed, it answers to the new name only.
    env.ok(&["endpoint", "edit", "work", "relay-a", "--name", "relay-b"]);
    assert_eq!(listed(env, &s.relay_a)["name"], "relay-b");
    env.ok(&["endpoint", "edit", "work", "relay-b", "--weight", "3"]);
    assert_eq!(listed(env, &s.relay_a)["weight"], 3);
    env.fail_with_hint(1, &["endpoint", "edit", "work", "relay-a", "--weight", "4"]);
}

#[test]
fn endpoint_remove_takes_a_name_an_id_or_a_prefix() {
    let s = seeded();
    let env = &s.env;
    let r1 = add(
        env,
        "work",
        "https://r1.example.com",
        "sk-r-000000000001",
        Some("r1"),
    );
    let r2 = add(
        env,
        "work",
        "https://r2.example.com",
        "sk-r-000000000002",
        Some("r2"),
    );
    let r3 = add(
        env,
        "work",
        "https://r3.example.com",
        "sk-r-000000000003",
        Some("r3"),
    );
    let p3 = unique_prefix(env, &r3);
    for (q, id) in [("r1", &r1), (r2.as_str(), &r2), (p3.as_str(), &r3)] {
        let v = env.json(&["endpoint", "remove", "work", q, "--yes"]);
        assert_eq!(v["id"], id.as_str(), "{q}");
        assert!(!all_ids(env).contains(id), "`remove work {q}` left {id}");
    }
    assert_eq!(all_ids(env).len(), 4, "only those three went");
}

#[test]
fn endpoint_add_from_only_takes_names_ids_and_prefixes() {
    let s = seeded();
    let env = &s.env;
    for (i, q) in forms(env, "relay-a", &s.relay_a).iter().enumerate() {
        let to = format!("copy{i}");
        env.ok(&["profile", "add", &to]);
        let v = env.json(&["endpoint", "add", &to, "--from", "work", "--only", q]);
        let copied = v.as_array().unwrap();
        assert_eq!(copied.len(), 1, "{v}");
        assert_eq!(copied[0]["url"], "http://127.0.0.1:9/a", "{q}: {v}");
        assert_eq!(copied[0]["name"], "relay-a", "{q}: {v}");
    }
    // "shared" is looked up in --from's profile, so it is not ambiguous there.
    env.ok(&["profile", "add", "copy-shared"]);
    let v = env.json(&[
        "endpoint",
        "add",
        "copy-shared",
        "--from",
        "home",
        "--only",
        "shared",
    ]);
    assert_eq!(v[0]["url"], "http://127.0.0.1:9/h", "{v}");
}

#[test]
fn health_test_takes_a_name_an_id_or_a_prefix() {
    let s = seeded();
    let env = &s.env;
    for q in forms(env, "relay-a", &s.relay_a) {
        let out = env.run(&["health", "test", &q, "--json", "--timeout", "5"]);
        assert_eq!(out.status.code(), Some(1), "port 9 refuses: {q}");
        let results: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(results.as_array().unwrap().len(), 1, "{results}");
        assert_eq!(results[0]["id"], s.relay_a.as_str(), "{q}: {results}");
        assert_eq!(results[0]["name"], "relay-a");
        assert_eq!(results[0]["passed"], false);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(&s.relay_a), "{stderr}");
    }
}

#[test]
fn health_history_and_metrics_take_a_name_an_id_or_a_prefix() {
    let s = seeded();
    let env = &s.env;
    for q in forms(env, "relay-a", &s.relay_a) {
        let out = env.ok(&["health", "history", &q]);
        assert!(
            out.contains(&format!("No probes or state changes of {} yet", s.relay_a)),
            "{q}: {out}"
        );
        let m = env.json(&["health", "metrics", &q]);
        let endpoints = m["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 1, "{m}");
        assert_eq!(endpoints[0]["id"], s.relay_a.as_str(), "{q}: {m}");
    }
    // An unnamed endpoint's host is no name.
    let stderr = env.fail_with_hint(1, &["health", "history", "127.0.0.1"]);
    assert!(stderr.contains("no endpoint matches"), "{stderr}");
    assert!(!stderr.contains(&s.home_plain), "{stderr}");
}

#[test]
fn health_config_endpoint_takes_a_name_an_id_or_a_prefix() {
    let s = seeded();
    let env = &s.env;
    let probe_model = |id: &str| -> Value {
        env.config()["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["endpoints"].as_array().unwrap().iter())
            .find(|e| e["id"] == id)
            .unwrap()["probe_model"]
            .clone()
    };
    for (i, q) in forms(env, "relay-a", &s.relay_a).iter().enumerate() {
        let model = format!("model-{i}");
        env.ok(&["health", "config", "--endpoint", q, "--probe-model", &model]);
        assert_eq!(probe_model(&s.relay_a), model.as_str(), "{q}");
    }
    for other in [&s.work_shared, &s.home_shared, &s.home_plain] {
        assert_eq!(probe_model(other), Value::Null);
    }
}

#[test]
fn env_and_profile_use_take_a_name_an_id_or_a_prefix() {
    let s = seeded();
    let env = &s.env;
    for q in forms(env, "shared", &s.home_shared) {
        let v = env.json(&["env", "home", "--endpoint", &q]);
        assert_eq!(v["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9/h", "{q}: {v}");
        let v = env.json(&["profile", "use", "home", "--endpoint", &q]);
        assert_eq!(v["endpoint"], s.home_shared.as_str(), "{q}: {v}");
    }
    let v = env.json(&["env", "work", "-e", "shared"]);
    assert_eq!(v["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9/s", "{v}");
}

#[test]
fn a_name_two_endpoints_share_is_an_error_listing_both_ids() {
    let s = seeded();
    let env = &s.env;
    let before = env.snapshot();
    for args in [
        &["health", "history", "shared"][..],
        &["health", "metrics", "shared"][..],
        &["health", "test", "shared"][..],
        &["health", "check", "shared"][..],
        &[
            "health",
            "config",
            "--endpoint",
            "shared",
            "--probe-model",
            "m",
        ][..],
    ] {
        let stderr = env.fail_with_hint(1, args);
        let first = stderr.lines().next().unwrap();
        assert_eq!(
            first,
            format!(
                "error: endpoint name 'shared' is ambiguous: it names {} (work), {} (home)",
                s.work_shared, s.home_shared
            ),
            "qcc {args:?}:\n{stderr}"
        );
        assert!(
            stderr.contains("hint:") && stderr.contains("id"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 2, "one line and a hint: {stderr}");
        assert_eq!(env.snapshot(), before, "qcc {args:?} changed the state");
    }
    // Two endpoints of one profile with one name: ambiguous there too.
    let third = add(
        env,
        "home",
        "https://third.example.com",
        "sk-third-0000000001",
        Some("Shared"),
    );
    let stderr = env.fail_with_hint(1, &["endpoint", "disable", "home", "shared"]);
    assert!(
        stderr.contains(&s.home_shared) && stderr.contains(&third),
        "{stderr}"
    );
    assert!(!stderr.contains(&s.work_shared), "{stderr}");
}

#[test]
fn a_name_may_not_be_another_endpoints_id() {
    let s = seeded();
    let env = &s.env;
    let before = env.snapshot();
    let stderr = env.fail_with_hint(
        1,
        &[
            "endpoint",
            "add",
            "work",
            "--url",
            "https://x.example.com",
            "--key",
            "sk-x-00000000000001",
            "--name",
            &s.home_plain,
        ],
    );
    assert!(
        stderr.contains(&format!("is the id of endpoint {} (home)", s.home_plain)),
        "{stderr}"
    );
    let stderr = env.fail_with_hint(
        1,
        &[
            "endpoint",
            "edit",
            "work",
            "relay-a",
            "--name",
            &s.home_shared,
        ],
    );
    assert!(stderr.contains("is the id of endpoint"), "{stderr}");
    assert_eq!(env.snapshot(), before);
}

/// The daemon's control socket in `env`.
fn daemon(env: &TestEnv) -> Client {
    let paths = qcc::state::Paths::with_runtime(env.config_dir(), env.root().join("run/qcc"));
    Client::connect(&paths.socket(), Duration::from_secs(30)).unwrap()
}

#[test]
fn health_check_takes_a_name_an_id_or_a_prefix_and_the_daemon_resolves_names() {
    let env = TestEnv::new();
    let fast = FakeUpstream::spawn_named("fast").unwrap();
    let other = FakeUpstream::spawn_named("other").unwrap();
    env.ok(&["profile", "add", "work"]);
    env.ok(&["profile", "add", "home"]);
    let fast_id = add(
        &env,
        "work",
        &fast.url(),
        "sk-fast-000000000001",
        Some("fast"),
    );
    let work_shared = add(
        &env,
        "work",
        &other.url(),
        "sk-o-000000000001",
        Some("shared"),
    );
    let home_shared = add(
        &env,
        "home",
        &other.url(),
        "sk-o-000000000002",
        Some("shared"),
    );
    let _proxy = env.start_proxy();
    for (n, q) in forms(&env, "fast", &fast_id).iter().enumerate() {
        let results = env.json(&["health", "check", q]);
        let all = results.as_array().unwrap();
        assert_eq!(all.len(), 1, "{q}: {results}");
        assert_eq!(all[0]["id"], fast_id.as_str(), "{q}: {results}");
        assert_eq!(all[0]["passed"], true, "{results}");
        assert_eq!(fast.request_count(), n + 1, "only that endpoint was probed");
        let history = env.json(&["health", "history", q]);
        assert_eq!(history.as_array().unwrap().len(), n + 1, "{history}");
        assert_eq!(history[0]["source"], "manual");
    }
    assert_eq!(other.request_count(), 0);

    // The daemon resolves what an older CLI sent as typed: a name, case aside …
    match daemon(&env)
        .call(&Request::ProbeNow {
            endpoint: Some("FAST".into()),
        })
        .unwrap()
    {
        Response::Probed { results } => {
            assert_eq!(results.len(), 1);
            assert_eq!(results[0].id, fast_id);
        }
        other => panic!("{other:?}"),
    }
    // … a shared name is an error naming both, and a host is no name.
    match daemon(&env)
        .call(&Request::ProbeNow {
            endpoint: Some("shared".into()),
        })
        .unwrap()
    {
        Response::Error { message } => assert_eq!(
            message,
            format!(
                "endpoint name 'shared' is ambiguous: it names {work_shared} (work), \
                 {home_shared} (home)"
            )
        ),
        other => panic!("{other:?}"),
    }
    match daemon(&env)
        .call(&Request::ProbeNow {
            endpoint: Some("127.0.0.1".into()),
        })
        .unwrap()
    {
        Response::Error { message } => {
            assert!(message.contains("no endpoint matches"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(other.request_count(), 0, "nothing else was probed");
}
