//! Unit tests of planning and applying imports.

use chrono::TimeZone;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("{n:06x}")
    }
}

fn settings(json: serde_json::Value) -> Map<String, Value> {
    json.as_object().unwrap().clone()
}

#[test]
fn env_becomes_an_endpoint_with_model_rules_in_order() {
    let f = from_settings(&settings(serde_json::json!({
        "env": {
            "ANTHROPIC_BASE_URL": "https://relay.example/api/",
            "ANTHROPIC_AUTH_TOKEN": "tok-0123456789abcdef",
            "ANTHROPIC_API_KEY": "sk-ignored-0123456789",
            "ANTHROPIC_MODEL": "glm-4.6",
            "ANTHROPIC_SMALL_FAST_MODEL": "glm-4.5-air",
            "ANTHROPIC_DEFAULT_OPUS_MODEL": "glm-4.6-plus",
        }
    })))
    .unwrap();
    let e = f.endpoint;
    assert_eq!(e.url, "https://relay.example/api");
    assert_eq!(e.auth, AuthStyle::Bearer);
    assert_eq!(
        e.key,
        Credential::Value(Secret::new("tok-0123456789abcdef"))
    );
    let rules: Vec<String> = e.models.iter().map(ToString::to_string).collect();
    assert_eq!(
        rules,
        [
            "claude-opus-*=glm-4.6-plus",
            "claude-haiku-*=glm-4.5-air",
            "*=glm-4.6"
        ]
    );
    assert_eq!(f.notes.len(), 1, "{:?}", f.notes);
}

#[test]
fn key_alone_goes_to_anthropic_and_a_helper_is_a_cmd_reference() {
    let f = from_settings(&settings(serde_json::json!({
        "env": { "ANTHROPIC_API_KEY": "sk-ant-api03-0123456789abcdef" }
    })))
    .unwrap();
    assert_eq!(f.endpoint.url, DEFAULT_BASE_URL);
    assert_eq!(f.endpoint.auth, AuthStyle::ApiKey);
    assert!(f.endpoint.models.is_empty());

    let f = from_settings(&settings(serde_json::json!({
        "apiKeyHelper": "~/bin/get-key.sh",
        "env": { "ANTHROPIC_BASE_URL": "https://relay.example", "ANTHROPIC_AUTH_TOKEN": "" }
    })))
    .unwrap();
    assert_eq!(
        f.endpoint.key,
        Credential::Ref(KeyRef::Cmd("~/bin/get-key.sh".into()))
    );
}

#[test]
fn no_key_or_a_bad_url_is_a_reason() {
    let no_key = from_settings(&settings(
        serde_json::json!({"env": {"ANTHROPIC_BASE_URL": "https://x.example"}}),
    ));
    assert!(no_key.err().unwrap().starts_with("no key"));
    let bad = from_settings(&settings(
        serde_json::json!({"env": {"ANTHROPIC_BASE_URL": "ftp://x", "ANTHROPIC_API_KEY": "k"}}),
    ));
    assert!(bad.err().unwrap().starts_with("ANTHROPIC_BASE_URL"));
    let env = from_settings(&settings(serde_json::json!({"env": "x"})));
    assert!(env.is_err());
}

#[test]
fn names_are_sanitised_and_made_unique() {
    assert_eq!(profile_name("Kimi（月之暗面）").as_deref(), Some("Kimi"));
    assert_eq!(
        profile_name("智谱 GLM Coding").as_deref(),
        Some("GLM-Coding")
    );
    assert_eq!(profile_name("智谱"), None);
    assert_eq!(
        profile_name(".hidden name!").as_deref(),
        Some("hidden-name")
    );
    assert_eq!(profile_name(&"a".repeat(80)).unwrap().len(), 64);
    let taken = vec!["relay".to_owned(), "relay-2".to_owned()];
    assert_eq!(unique_name("relay", &taken), "relay-3");
    assert_eq!(unique_name("other", &taken), "other");
}

#[test]
fn own_proxy_addresses_are_recognised() {
    let listen = "127.0.0.1:7860";
    assert!(is_own_proxy("http://127.0.0.1:7860", listen));
    assert!(is_own_proxy("http://localhost:7860/", listen));
    assert!(is_own_proxy("http://[::1]:7860", listen));
    assert!(is_own_proxy("http://127.0.0.2:7860", listen));
    assert!(!is_own_proxy("http://127.0.0.1:7861", listen));
    assert!(!is_own_proxy("https://127.0.0.1:7860", listen));
    assert!(!is_own_proxy("http://relay.example:7860", listen));
    assert!(is_own_proxy("http://localhost:8080", "0.0.0.0:8080"));
    assert!(is_own_proxy("http://192.168.1.5:80", "192.168.1.5:80"));
}

fn cc(json: &str) -> Plan {
    cc_switch::plan(json.as_bytes(), "cc.json").unwrap()
}

const V2: &str = r#"{
  "version": 2,
  "claude": {
    "current": "p2",
    "providers": {
      "p1": {"id": "p1", "name": "Claude Official", "settingsConfig": {"env": {}}, "category": "official"},
      "p2": {"id": "p2", "name": "智谱 GLM", "sortIndex": 0, "settingsConfig": {"env": {
        "ANTHROPIC_BASE_URL": "https://open.bigmodel.cn/api/anthropic",
        "ANTHROPIC_AUTH_TOKEN": "glm-0123456789abcdef", "ANTHROPIC_MODEL": "glm-4.6"}}},
      "p3": {"id": "p3", "name": "GLM", "settingsConfig": {"env": {
        "ANTHROPIC_BASE_URL": "https://relay.example", "ANTHROPIC_API_KEY": "sk-relay-0123456789"}}}
    }
  },
  "codex": {"providers": {}, "current": ""}
}"#;

#[test]
fn cc_switch_v2_plans_one_profile_per_provider() {
    let plan = cc(V2);
    let names: Vec<&str> = plan.profiles.iter().map(|p| p.profile.as_str()).collect();
    assert_eq!(names, ["GLM", "GLM-2"]);
    assert!(plan.profiles[0].current);
    assert_eq!(plan.skipped.len(), 1);
    assert!(plan.skipped[0].reason.starts_with("no key"));
}

#[test]
fn cc_switch_v1_and_sqlite_rows_are_read_and_the_database_refused() {
    let v1 = cc(
        r#"{"current": "a", "providers": {"a": {"id": "a", "name": "A",
        "settingsConfig": {"env": {"ANTHROPIC_AUTH_TOKEN": "t-0123456789abcdef"}}}}}"#,
    );
    assert_eq!(v1.profiles[0].profile, "A");
    assert!(v1.profiles[0].current);
    let rows = cc(
        r#"[{"id": "x", "name": "Row", "app_type": "claude", "is_current": 1,
        "settings_config": "{\"env\":{\"ANTHROPIC_AUTH_TOKEN\":\"t-0123456789abcdef\"}}"},
        {"id": "y", "name": "Codex", "app_type": "codex", "settings_config": "{}"}]"#,
    );
    assert_eq!(rows.profiles.len(), 1);
    assert!(rows.profiles[0].current);
    assert!(matches!(
        cc_switch::plan(b"SQLite format 3\0rest", "db"),
        Err(ImportError::Sqlite { .. })
    ));
    assert!(matches!(
        cc_switch::plan(b"{\"mcp\": {}}", "x"),
        Err(ImportError::UnknownFormat { .. })
    ));
}

#[test]
fn select_and_rename() {
    let mut plan = cc(V2);
    assert!(matches!(
        plan.clone().rename("one"),
        Err(ImportError::ProfileNeedsOne(2))
    ));
    plan.select(&["p3".into()]).unwrap();
    plan.rename("relay").unwrap();
    assert_eq!(plan.profiles[0].profile, "relay");
    let mut plan = cc(V2);
    plan.select(&["智谱 GLM".into()]).unwrap();
    assert_eq!(plan.profiles.len(), 1);
    assert!(plan.skipped.is_empty());
    assert!(matches!(
        cc(V2).select(&["nope".into()]),
        Err(ImportError::UnknownProvider { .. })
    ));
}

#[test]
fn apply_creates_refuses_existing_and_replaces_with_force() {
    let plan = cc(V2);
    let mut c = Config::default();
    let r = apply(&plan, &mut c, false, now(), ids()).unwrap();
    assert_eq!(r.profiles.len(), 2);
    assert_eq!(c.active.as_deref(), Some("GLM"));
    assert_eq!(r.activated.as_deref(), Some("GLM"));
    assert!(
        !serde_json::to_string(&r)
            .unwrap()
            .contains("0123456789abcdef")
    );

    // Again: refused, naming both.
    let before = c.clone();
    let err = apply(&plan, &mut c.clone(), false, now(), ids()).unwrap_err();
    assert_eq!(
        err,
        ImportError::ProfileExists(vec!["GLM".into(), "GLM-2".into()])
    );
    assert_eq!(c, before);

    // With force: replaced in place, tier and active kept.
    c.add_profile("other", None, Strategy::Ordered, now())
        .unwrap();
    c.set_tier("GLM-2", Some(crate::state::model::Tier::Secondary))
        .unwrap();
    c.active = Some("other".into());
    let r = apply(&plan, &mut c, true, now(), ids()).unwrap();
    assert!(r.profiles.iter().all(|p| p.action == Action::Replace));
    assert_eq!(c.profile_names(), ["GLM", "GLM-2", "other"]);
    assert_eq!(c.tiers.secondary, ["GLM-2"]);
    assert_eq!(c.active.as_deref(), Some("other"));
    assert_eq!(c.profile("GLM").unwrap().endpoints.len(), 1);
    assert_eq!(r.activated, None);
}

#[test]
fn own_proxy_is_skipped_and_nothing_left_is_an_error() {
    let plan = claude_settings::plan(
        br#"{"env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:7860", "ANTHROPIC_AUTH_TOKEN": "x"}}"#,
        "settings.json",
    )
    .unwrap();
    let err = apply(&plan, &mut Config::default(), false, now(), ids()).unwrap_err();
    assert!(matches!(err, ImportError::Nothing { .. }));
    assert!(err.to_string().contains("own proxy"), "{err}");
}

#[test]
fn claude_settings_profile_is_named_after_the_host() {
    let plan = claude_settings::plan(
        b"{ // hand-edited\n \"env\": {\"ANTHROPIC_BASE_URL\": \"https://api.moonshot.cn/anthropic\", \"ANTHROPIC_AUTH_TOKEN\": \"sk-0123456789abcdef\",},\n}",
        "settings.json",
    )
    .unwrap();
    assert_eq!(plan.profiles[0].profile, "api.moonshot.cn");
    assert!(matches!(
        claude_settings::plan(b"{\"env\": {}}", "s"),
        Err(ImportError::Nothing { .. })
    ));
    assert!(matches!(
        claude_settings::plan(b"[1]", "s"),
        Err(ImportError::Shape { .. })
    ));
}
