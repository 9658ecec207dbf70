//! Model routes (`qcc route …`): the commands and their refusals, what they do to profile
//! rename and remove, and the proxy serving a routed model from its profile first, falling
//! back to the tiers within the request, taking a new route at the next request, keeping
//! the conversations' pins apart and letting the first matching route win.

use qcc::fake::{FakeUpstream, Fault};
use serde_json::json;

use crate::harness::TestEnv;
use crate::harness::client::{Reply, send};
use crate::harness::daemon::{client, runtime};

const HAIKU: &str = "claude-haiku-4-5";
const SONNET: &str = "claude-sonnet-4-5";

/// A streamed request body asking for `model`.
fn body(model: &str) -> String {
    format!(
        r#"{{"model":"{model}","stream":true,"max_tokens":64,"messages":[{{"role":"user","content":"hi"}}]}}"#
    )
}

/// The routes as `route list --json` shows them: (model, profile).
fn listed(env: &TestEnv) -> Vec<(String, String)> {
    env.json(&["route", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["model"].as_str().unwrap().to_owned(),
                r["profile"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn routes_are_added_listed_and_removed() {
    let env = TestEnv::new();
    env.profile_with("main", 1);
    env.profile_with("cheap", 2);
    assert!(env.ok(&["route", "list"]).contains("No model routes"));
    assert_eq!(env.json(&["route", "list"]), json!([]));

    let added = env.json(&["route", "add", "claude-haiku-*", "cheap"]);
    assert_eq!(
        added,
        json!({"position": 1, "model": "claude-haiku-*", "profile": "cheap", "enabled_endpoints": 2})
    );
    assert!(
        env.ok(&["route", "add", "claude-opus-*", "main"])
            .contains("route 'claude-opus-*' → main added (2 of 2)")
    );
    // --position inserts; the others move down.
    let first = env.json(&[
        "route",
        "add",
        "claude-haiku-4-5",
        "main",
        "--position",
        "1",
    ]);
    assert_eq!(first["position"], 1);
    assert_eq!(
        listed(&env),
        pairs(&[
            ("claude-haiku-4-5", "main"),
            ("claude-haiku-*", "cheap"),
            ("claude-opus-*", "main")
        ])
    );
    // Stored top-level, in order, as {model, profile}.
    assert_eq!(
        env.config()["routes"],
        json!([
            {"model": "claude-haiku-4-5", "profile": "main"},
            {"model": "claude-haiku-*", "profile": "cheap"},
            {"model": "claude-opus-*", "profile": "main"}
        ])
    );
    let table = env.ok(&["route", "list"]);
    assert!(
        table.contains("MODEL") && table.contains("claude-haiku-*"),
        "{table}"
    );

    // Shown by `priority list` under the tiers, and in its JSON.
    let text = env.ok(&["priority", "list"]);
    let (tiers, routes) = text.split_once("Model routes").expect(&text);
    assert!(
        tiers.contains("PROFILE") && routes.contains("claude-opus-*"),
        "{text}"
    );
    let v = env.json(&["priority", "list"]);
    assert_eq!(v["routes"][1]["model"], "claude-haiku-*");
    assert_eq!(v["routes"][1]["position"], 2);

    let removed = env.json(&["route", "remove", "claude-haiku-4-5"]);
    assert_eq!(removed["model"], "claude-haiku-4-5");
    assert_eq!(removed["position"], 1);
    assert!(
        env.ok(&["route", "rm", "claude-opus-*"])
            .contains("removed route 'claude-opus-*' → main")
    );
    assert_eq!(listed(&env), pairs(&[("claude-haiku-*", "cheap")]));
    env.ok(&["route", "remove", "claude-haiku-*"]);
    assert!(
        env.config().get("routes").is_none(),
        "no routes, no field: {}",
        env.config()
    );
}

#[test]
fn bad_route_input_is_refused_in_one_line_and_changes_nothing() {
    let env = TestEnv::new();
    env.profile_with("main", 1);
    env.ok(&["route", "add", "claude-haiku-*", "main"]);
    let before = env.snapshot();
    let cases: [(&[&str], i32, &str, &str); 8] = [
        (
            &["route", "add", "claude-opus-*", "nope"],
            1,
            "no profile named 'nope'",
            "qcc profile list",
        ),
        (
            &["route", "add", "claude-haiku-*", "main"],
            1,
            "already exists",
            "qcc route remove 'claude-haiku-*'",
        ),
        (
            &["route", "add", " claude-haiku-* ", "main"],
            1,
            "already exists",
            "qcc route list",
        ),
        (
            &["route", "add", "", "main"],
            2,
            "is empty",
            "claude-haiku-*",
        ),
        (
            &["route", "add", "claude haiku", "main"],
            2,
            "white space",
            "glob",
        ),
        (
            &["route", "add", "claude-*=cheap", "main"],
            2,
            "contains '='",
            "qcc route add",
        ),
        (
            &["route", "add", "claude-*", "main", "--position", "3"],
            2,
            "out of range",
            "1 (tried first) to 2",
        ),
        (
            &["route", "remove", "claude-*"],
            1,
            "no route for the model pattern 'claude-*'",
            "qcc route list",
        ),
    ];
    for (args, code, error, hint) in cases {
        let stderr = env.fail_with_hint(code, args);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "qcc {args:?}: one error line, one hint:\n{stderr}"
        );
        assert!(lines[0].contains(error), "qcc {args:?}: {stderr}");
        assert!(lines[1].contains(hint), "qcc {args:?}: {stderr}");
        assert_eq!(env.snapshot(), before, "qcc {args:?} changed the state");
    }
}

#[test]
fn profile_rename_carries_routes_and_remove_needs_force() {
    let env = TestEnv::new();
    env.profile_with("main", 1);
    env.profile_with("cheap", 1);
    env.ok(&["route", "add", "claude-haiku-*", "cheap"]);
    env.ok(&["route", "add", "claude-opus-*", "main"]);
    env.ok(&["profile", "rename", "cheap", "budget"]);
    assert_eq!(
        listed(&env),
        pairs(&[("claude-haiku-*", "budget"), ("claude-opus-*", "main")])
    );

    // Routed to: refused without --force (even with --yes), naming the way out.
    let before = env.snapshot();
    let stderr = env.fail_with_hint(1, &["profile", "remove", "budget", "--yes"]);
    assert!(
        stderr.contains("target of the route(s) claude-haiku-*"),
        "{stderr}"
    );
    assert!(
        stderr.contains("qcc route remove 'claude-haiku-*'"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), before);

    // --force removes the profile and its routes, and says so.
    let v = env.json(&["profile", "remove", "budget", "--force"]);
    assert_eq!(v["removed"], "budget");
    assert_eq!(v["routes_removed"], json!(["claude-haiku-*"]));
    assert_eq!(listed(&env), pairs(&[("claude-opus-*", "main")]));
    let out = env.ok(&["profile", "remove", "main", "--force"]);
    assert!(out.contains("removed its route(s): claude-opus-*"), "{out}");
    assert!(listed(&env).is_empty());
}

#[test]
fn config_import_checks_the_routes() {
    let env = TestEnv::new();
    env.profile_with("main", 1);
    let mut exported = env.json(&["config", "export", "--with-keys"]);
    exported["routes"] = json!([{"model": "claude-haiku-*", "profile": "gone"}]);
    let file = env.root().join("routes.json");
    std::fs::write(&file, exported.to_string()).unwrap();
    let before = env.snapshot();
    let stderr = env.fail(1, &["config", "import", file.to_str().unwrap()]);
    assert!(stderr.contains("routes[0].profile"), "{stderr}");
    assert_eq!(env.snapshot(), before);
    exported["routes"] = json!([
        {"model": "claude-haiku-*", "profile": "main"},
        {"model": "claude-haiku-*", "profile": "main"}
    ]);
    std::fs::write(&file, exported.to_string()).unwrap();
    let stderr = env.fail(1, &["config", "import", file.to_str().unwrap()]);
    assert!(stderr.contains("routes[1].model"), "{stderr}");
    assert_eq!(env.snapshot(), before);
}

/// Profile `main` (the active one, primary tier) served by fake M, and profile `cheap`
/// (in no tier) served by fake C.
struct Two {
    env: TestEnv,
    m: FakeUpstream,
    c: FakeUpstream,
    m_id: String,
    c_id: String,
}

fn two() -> Two {
    let env = TestEnv::new();
    let m = FakeUpstream::spawn_named("main").unwrap();
    let c = FakeUpstream::spawn_named("cheap").unwrap();
    let m_id = env.endpoint_for("main", &m.url(), "sk-main-000000000001", "api-key");
    let c_id = env.endpoint_for("cheap", &c.url(), "sk-cheap-00000000002", "api-key");
    env.ok(&["priority", "set", "main", "primary"]);
    Two {
        env,
        m,
        c,
        m_id,
        c_id,
    }
}

/// The model the upstream that got the last request was asked for.
fn last_model(up: &FakeUpstream) -> String {
    let r = up.requests().pop().expect("a request");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["model"].as_str().unwrap().to_owned()
}

#[test]
fn a_routed_model_is_served_by_its_profile_then_by_the_tiers() {
    let Two {
        env,
        m,
        c,
        m_id,
        c_id,
    } = two();
    env.ok(&["route", "add", "claude-haiku-*", "cheap"]);
    env.ok(&[
        "priority",
        "policy",
        "--failure-threshold",
        "1",
        "--cooldown",
        "60",
    ]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let one = |model: &str| -> Reply {
        rt.block_on(send(&http, &proxy.base_url, body(model), None))
            .unwrap()
    };

    let r = one(HAIKU);
    assert!(r.is_clean_stream(), "{r:?}");
    assert_eq!(r.endpoint.as_deref(), Some(c_id.as_str()));
    assert_eq!(last_model(&c), HAIKU, "the body goes as it was sent");
    let r = one(SONNET);
    assert_eq!(r.endpoint.as_deref(), Some(m_id.as_str()));
    assert_eq!(last_model(&m), SONNET);
    assert_eq!((c.request_count(), m.request_count()), (1, 1));

    // Shown by `proxy status`, with whether the routed profile can serve.
    let s = env.proxy_status();
    assert_eq!(
        s["routes"],
        json!([{"model": "claude-haiku-*", "profile": "cheap", "available": true}])
    );
    let text = env.ok(&["proxy", "status"]);
    assert!(text.contains("routes:    claude-haiku-* → cheap"), "{text}");

    // The routed profile fails: the same request is served by the tiers.
    c.set_default_fault(Fault::status(529));
    let r = one(HAIKU);
    assert!(r.is_clean_stream(), "{r:?}");
    assert_eq!(r.endpoint.as_deref(), Some(m_id.as_str()));
    assert_eq!(r.attempts, Some(2));
    assert_eq!((c.request_count(), m.request_count()), (2, 2));
    // Its breaker is open now: routed requests go to the tiers at once.
    let s = env.proxy_status();
    assert_eq!(s["routes"][0]["available"], false, "{s}");
    assert!(
        env.ok(&["proxy", "status"])
            .contains("claude-haiku-* → cheap (no endpoint available: the tiers serve)")
    );
    let r = one(HAIKU);
    assert_eq!(r.endpoint.as_deref(), Some(m_id.as_str()));
    assert_eq!(r.attempts, Some(1));
    assert_eq!(c.request_count(), 2, "an open routed endpoint is skipped");
    assert_eq!(
        s["active_profile"], "main",
        "a routed profile never fails over the tiers"
    );
}

#[test]
fn a_route_added_while_the_daemon_runs_applies_to_the_next_request() {
    let Two {
        env,
        m: _m,
        c,
        m_id,
        c_id,
    } = two();
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let one = |model: &str| -> Reply {
        rt.block_on(send(&http, &proxy.base_url, body(model), None))
            .unwrap()
    };
    assert_eq!(one(HAIKU).endpoint.as_deref(), Some(m_id.as_str()));
    assert_eq!(env.proxy_status()["routes"], json!([]));

    // A CLI write returns once the daemon has reloaded (or refused): no waiting needed.
    env.ok(&["route", "add", "claude-haiku-*", "cheap"]);
    assert_eq!(one(HAIKU).endpoint.as_deref(), Some(c_id.as_str()));
    assert_eq!(one(SONNET).endpoint.as_deref(), Some(m_id.as_str()));
    assert_eq!(env.proxy_status()["routes"][0]["profile"], "cheap");

    // Its only endpoint disabled: the tiers serve the routed model.
    env.ok(&["endpoint", "disable", "cheap", &c_id]);
    assert_eq!(one(HAIKU).endpoint.as_deref(), Some(m_id.as_str()));
    env.ok(&["endpoint", "enable", "cheap", &c_id]);
    assert_eq!(one(HAIKU).endpoint.as_deref(), Some(c_id.as_str()));

    env.ok(&["route", "remove", "claude-haiku-*"]);
    assert_eq!(one(HAIKU).endpoint.as_deref(), Some(m_id.as_str()));
    assert_eq!(c.request_count(), 2);

    // A hand edit whose route names no profile is refused; the config in force stays.
    env.edit_config(|cfg| {
        cfg.routes.push(
            serde_json::from_value(json!({"model": "claude-haiku-*", "profile": "gone"})).unwrap(),
        );
    });
    let s = env.wait_status(
        std::time::Duration::from_secs(10),
        "a refused reload",
        |s| s["config_error"].is_string(),
    );
    assert!(
        s["config_error"]
            .as_str()
            .unwrap()
            .contains("names no profile 'gone'"),
        "{s}"
    );
    assert_eq!(s["routes"], json!([]));
    assert_eq!(one(HAIKU).endpoint.as_deref(), Some(m_id.as_str()));
}

#[test]
fn the_first_matching_route_wins() {
    let Two {
        env,
        m: _m,
        c: _c,
        m_id,
        c_id,
    } = two();
    let fast = FakeUpstream::spawn_named("fast").unwrap();
    let fast_id = env.endpoint_for("fast", &fast.url(), "sk-fast-00000000003", "api-key");
    env.ok(&["route", "add", "claude-haiku-*", "cheap"]);
    env.ok(&["route", "add", "claude-haiku-4-5*", "fast"]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let one = |model: &str| -> Option<String> {
        rt.block_on(send(&http, &proxy.base_url, body(model), None))
            .unwrap()
            .endpoint
    };
    // The broader route comes first, so it wins for both.
    assert_eq!(one(HAIKU), Some(c_id.clone()));
    assert_eq!(one("claude-haiku-3-5"), Some(c_id.clone()));
    // Moved to the top, the narrower one wins for the models it matches.
    env.ok(&["route", "remove", "claude-haiku-4-5*"]);
    env.ok(&[
        "route",
        "add",
        "claude-haiku-4-5*",
        "fast",
        "--position",
        "1",
    ]);
    assert_eq!(one(HAIKU), Some(fast_id.clone()));
    assert_eq!(one("claude-haiku-4-5-20251001"), Some(fast_id));
    assert_eq!(one("claude-haiku-3-5"), Some(c_id));
    assert_eq!(one(SONNET), Some(m_id));
}

#[test]
fn routed_requests_keep_their_own_pin() {
    let env = TestEnv::new();
    let ups: Vec<FakeUpstream> = ["m0", "m1", "c0", "c1"]
        .iter()
        .map(|n| FakeUpstream::spawn_named(n).unwrap())
        .collect();
    let mut ids = Vec::new();
    for (i, up) in ups.iter().enumerate() {
        let profile = if i < 2 { "main" } else { "cheap" };
        let key = format!("sk-{profile}-00000000{i}");
        ids.push(env.endpoint_for(profile, &up.url(), &key, "api-key"));
    }
    for p in ["main", "cheap"] {
        env.ok(&["profile", "edit", p, "--strategy", "round-robin"]);
    }
    env.ok(&["route", "add", "claude-haiku-*", "cheap"]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let one = |model: &str, session: Option<&str>| -> String {
        let r = rt
            .block_on(send(&http, &proxy.base_url, body(model), session))
            .unwrap();
        assert!(r.is_clean_stream(), "{r:?}");
        r.endpoint.unwrap()
    };
    let main = &ids[..2];
    let cheap = &ids[2..];
    let conv = Some("conv-1");
    let first_main = one(SONNET, conv);
    let first_cheap = one(HAIKU, conv);
    assert!(main.contains(&first_main) && cheap.contains(&first_cheap));
    // New conversations take turns over the routed profile's endpoints…
    let others = [one(HAIKU, None), one(HAIKU, None)];
    assert!(
        others.contains(&cheap[0]) && others.contains(&cheap[1]),
        "{others:?}"
    );
    // …while the conversation's routed requests stay on their endpoint, and its main
    // requests on theirs: the routed pin never moved the main one.
    assert_eq!(one(HAIKU, conv), first_cheap);
    assert_eq!(one(SONNET, conv), first_main);
    assert_eq!(one(HAIKU, conv), first_cheap);
}
