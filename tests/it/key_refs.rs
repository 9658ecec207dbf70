//! Keys by reference (`--key-ref env:|file:|cmd:`) and model maps (`--model`): stored as
//! references, shown as references, read by the daemon when used, read again after a 401,
//! an unreadable one leaves its endpoint `rejected` (the daemon serves on); and the
//! request's `model` renamed for one endpoint, the rest of the body byte for byte.

use std::time::Duration;

use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;
use crate::harness::client::{PLAIN, STREAM, send};
use crate::harness::daemon::{client, runtime};

fn send_plain(base: &str) -> crate::harness::client::Reply {
    runtime()
        .block_on(send(&client(), base, PLAIN, None))
        .unwrap()
}

/// Header `name` of the last request `up` received.
fn last_header(up: &FakeUpstream, name: &str) -> Option<String> {
    up.requests().last()?.header(name).map(str::to_owned)
}

/// Profile `work`, tried in order: A with the given key flags, then B with a stored key.
fn ref_then_stored(env: &TestEnv, a: &FakeUpstream, b: &FakeUpstream, a_key: &[&str]) -> String {
    env.ok(&["profile", "add", "work", "--strategy", "ordered"]);
    let mut args = vec!["endpoint", "add", "work", "--url"];
    let a_url = a.url();
    args.push(&a_url);
    args.extend_from_slice(a_key);
    let a_id = env.json(&args)["id"].as_str().unwrap().to_owned();
    env.endpoint_for("work", &b.url(), "sk-b-00000000000002", "api-key");
    a_id
}

#[test]
fn a_reference_is_stored_and_shown_never_a_value() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    let v = env.json(&[
        "endpoint",
        "add",
        "work",
        "--url",
        "https://relay.example",
        "--key-ref",
        "env:RELAY_KEY",
        "--model",
        "claude-sonnet-*=relay-sonnet",
        "--model",
        "*=relay-default",
    ]);
    assert_eq!(v["key"], "env:RELAY_KEY");
    assert_eq!(v["key_ref"], "env:RELAY_KEY");
    assert_eq!(
        v["models"],
        serde_json::json!(["claude-sonnet-*=relay-sonnet", "*=relay-default"])
    );
    let e = &env.config()["profiles"][0]["endpoints"][0];
    assert_eq!(e["key_ref"], "env:RELAY_KEY");
    assert!(e.get("key").is_none(), "no key value is stored: {e}");
    let listed = env.ok(&["endpoint", "list", "--show-keys"]);
    assert!(
        listed.contains("env:RELAY_KEY") && listed.contains("relay-sonnet"),
        "{listed}"
    );

    // Edits: a stored key replaces the reference, and the other way round; model rules.
    let id = v["id"].as_str().unwrap();
    env.ok(&[
        "endpoint",
        "edit",
        "work",
        id,
        "--key",
        "sk-ant-api03-aaaaaaaaaaaa1234",
    ]);
    let e = &env.config()["profiles"][0]["endpoints"][0];
    assert!(
        e.get("key_ref").is_none() && e["key"] == "sk-ant-api03-aaaaaaaaaaaa1234",
        "{e}"
    );
    env.ok(&[
        "endpoint",
        "edit",
        "work",
        id,
        "--key-ref",
        "cmd:pass show relay",
        "--remove-model",
        "*",
        "--model",
        "claude-sonnet-*=other",
    ]);
    let e = &env.config()["profiles"][0]["endpoints"][0];
    assert_eq!(e["key_ref"], "cmd:pass show relay");
    assert!(e.get("key").is_none(), "{e}");
    assert_eq!(e["models"], serde_json::json!(["claude-sonnet-*=other"]));
    env.ok(&["endpoint", "edit", "work", id, "--clear-models"]);
    assert!(
        env.config()["profiles"][0]["endpoints"][0]
            .get("models")
            .is_none()
    );
}

#[test]
fn bad_references_and_rules_are_refused_with_the_form_to_use() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    let before = env.snapshot();
    let url = ["endpoint", "add", "work", "--url", "https://relay.example"];
    for (extra, hint) in [
        (
            ["--key-ref", "vault:relay"],
            "env:VAR, file:PATH or 'cmd:COMMAND'",
        ),
        (["--key-ref", "env:1BAD"], "letters, digits and '_'"),
        (["--key-ref", "cmd:"], "env:VAR, file:PATH"),
    ] {
        let err = env.fail_with_hint(2, &[&url[..], &extra[..]].concat());
        assert!(err.contains(hint), "{extra:?}: {err}");
    }
    for (model, says) in [
        (vec!["--model", "claude"], "PATTERN=MODEL"),
        (vec!["--model", "claude-*="], "empty side"),
        (vec!["--model", "=x"], "empty side"),
        (
            vec!["--model", "a*=b", "--model", "a*=c"],
            "'a*' appears twice",
        ),
    ] {
        let args = [&url[..], &["--key", "k"], &model[..]].concat();
        let err = env.fail_with_hint(2, &args);
        assert!(err.contains(says), "{model:?}: {err}");
    }
    env.fail(
        2,
        &[
            "endpoint",
            "add",
            "work",
            "--url",
            "https://r.example",
            "--key",
            "k",
            "--key-ref",
            "env:K",
        ],
    );
    assert_eq!(env.snapshot(), before, "nothing written");
}

#[test]
fn a_command_key_is_read_by_the_daemon_and_read_again_after_a_401() {
    let env = TestEnv::new();
    let (a, b) = (
        FakeUpstream::spawn_named("a").unwrap(),
        FakeUpstream::spawn_named("b").unwrap(),
    );
    let key_file = env.root().join("relay.key");
    std::fs::write(&key_file, "sk-relay-first-0001\n").unwrap();
    let reference = format!("cmd:cat '{}'", key_file.display());
    let a_id = ref_then_stored(&env, &a, &b, &["--key-ref", &reference, "--auth", "bearer"]);
    let proxy = env.start_proxy();

    let r = send_plain(&proxy.base_url);
    assert_eq!(
        (r.status, r.endpoint.as_deref()),
        (200, Some(a_id.as_str())),
        "{r:?}"
    );
    assert_eq!(
        last_header(&a, "authorization").as_deref(),
        Some("Bearer sk-relay-first-0001")
    );

    // The key rotates; the upstream refuses the old one once: B answers meanwhile, and the
    // command is run again, so A is back with the new key without any config change.
    std::fs::write(&key_file, "sk-relay-second-0002\n").unwrap();
    a.push_fault(Fault::status(401));
    let r = send_plain(&proxy.base_url);
    assert_eq!(r.status, 200, "{r:?}");
    assert_ne!(r.endpoint.as_deref(), Some(a_id.as_str()));
    env.wait_status(Duration::from_secs(15), "A's key to be read again", |s| {
        s["endpoints"][0]["state"] == "healthy"
    });
    let r = send_plain(&proxy.base_url);
    assert_eq!(r.endpoint.as_deref(), Some(a_id.as_str()), "{r:?}");
    assert_eq!(
        last_header(&a, "authorization").as_deref(),
        Some("Bearer sk-relay-second-0002")
    );

    // Nothing printed the keys.
    let logs = env.ok(&["proxy", "logs", "-n", "500"]);
    let status = env.proxy_status().to_string();
    for text in [&logs, &status] {
        assert!(
            !text.contains("sk-relay-first") && !text.contains("sk-relay-second"),
            "{text}"
        );
    }
}

#[test]
fn an_unreadable_reference_leaves_its_endpoint_rejected_and_the_daemon_serving() {
    let env = TestEnv::new();
    let (a, b) = (
        FakeUpstream::spawn_named("a").unwrap(),
        FakeUpstream::spawn_named("b").unwrap(),
    );
    let a_id = ref_then_stored(&env, &a, &b, &["--key-ref", "env:QCC_IT_RELAY_KEY"]);
    let proxy = env.start_proxy();
    let s = env.endpoint_status(&a_id);
    assert_eq!(s["state"], "rejected", "{s}");
    let why = s["unavailable"].as_str().unwrap_or_default();
    assert!(why.contains("QCC_IT_RELAY_KEY is not set"), "{s}");
    for _ in 0..3 {
        let r = send_plain(&proxy.base_url);
        assert_eq!(r.status, 200, "{r:?}");
        assert_ne!(r.endpoint.as_deref(), Some(a_id.as_str()));
    }
    assert_eq!(a.request_count(), 0, "nothing is sent without a key");
    assert!(crate::harness::daemon::alive(proxy.pid));
    // doctor names it too, and exits non-zero.
    let out = env.run(&["doctor", "--json"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("QCC_IT_RELAY_KEY is not set"), "{text}");
    drop(proxy);

    // The daemon reads the variable from its own environment.
    let proxy = env.start_proxy_env(&[], &[("QCC_IT_RELAY_KEY", "sk-from-env-0003".as_ref())]);
    let r = send_plain(&proxy.base_url);
    assert_eq!(r.endpoint.as_deref(), Some(a_id.as_str()), "{r:?}");
    assert_eq!(
        a.requests().last().unwrap().header("x-api-key"),
        Some("sk-from-env-0003")
    );
}

#[test]
fn a_model_map_renames_the_model_for_its_endpoint_only() {
    let env = TestEnv::new();
    let (a, b) = (
        FakeUpstream::spawn_named("a").unwrap(),
        FakeUpstream::spawn_named("b").unwrap(),
    );
    let a_id = ref_then_stored(
        &env,
        &a,
        &b,
        &[
            "--key",
            "sk-a-00000000000001",
            "--model",
            "claude-*=mapped-model",
        ],
    );
    let proxy = env.start_proxy();
    let r = send_plain(&proxy.base_url);
    assert_eq!(r.endpoint.as_deref(), Some(a_id.as_str()));
    let sent = a.requests().last().unwrap().body.clone();
    assert_eq!(
        String::from_utf8_lossy(&sent),
        PLAIN.replace("\"claude-test\"", "\"mapped-model\""),
        "only the model changed"
    );
    // The answer names the model asked for (its length changed: content-length follows,
    // or the client could not have read it), in a whole answer and in a stream.
    let answer: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["model"], "claude-test", "{answer}");
    let r = runtime()
        .block_on(send(&client(), &proxy.base_url, STREAM, None))
        .unwrap();
    assert!(r.is_clean_stream(), "{r:?}");
    assert!(r.body.contains(r#""model":"claude-test""#), "{}", r.body);
    assert!(!r.body.contains("mapped-model"), "{}", r.body);
    env.ok(&[
        "endpoint",
        "edit",
        "work",
        &a_id,
        "--report-upstream-model",
        "on",
    ]);
    let r = send_plain(&proxy.base_url);
    let answer: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["model"], "mapped-model", "{answer}");

    // Failing over to B (no map), the client's body goes as it was.
    a.push_fault(Fault::status(529));
    let r = send_plain(&proxy.base_url);
    assert_ne!(r.endpoint.as_deref(), Some(a_id.as_str()), "{r:?}");
    assert_eq!(&b.requests().last().unwrap().body[..], PLAIN.as_bytes());
}
