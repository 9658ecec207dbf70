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

fn ccr_fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/import/ccr/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ccr_plan(json: &str) -> Plan {
    ccr::plan(json.as_bytes(), "config.json").unwrap_or_else(|e| panic!("{e}"))
}

/// The URL an endpoint of the plan sends chat requests to, as the proxy builds it.
fn chat_url(p: &Planned) -> String {
    let mut c = Config::default();
    c.add_profile("x", None, Strategy::default(), now())
        .unwrap();
    let e = c.add_endpoint("x", p.endpoint.clone(), ids()).unwrap();
    match e.kind {
        EndpointKind::Openai => format!("{}{}", e.url, e.chat_path()),
        EndpointKind::Anthropic => format!("{}/v1/messages", e.url),
    }
}

fn rules(p: &Planned) -> Vec<String> {
    p.endpoint.models.iter().map(ToString::to_string).collect()
}

#[test]
fn ccr_typical_config_plans_providers_models_the_route_and_what_is_skipped() {
    let plan = ccr::plan(&ccr_fixture("config.json"), "config.json").unwrap();
    let names: Vec<&str> = plan.profiles.iter().map(|p| p.profile.as_str()).collect();
    assert_eq!(
        names,
        [
            "openrouter",
            "deepseek",
            "ollama",
            "siliconflow",
            "GLM-Anthropic"
        ]
    );
    let by = |n: &str| plan.profiles.iter().find(|p| p.profile == n).unwrap();

    let deepseek = by("deepseek");
    assert!(deepseek.current, "Router.default's provider");
    assert_eq!(deepseek.endpoint.kind, EndpointKind::Openai);
    assert_eq!(deepseek.endpoint.auth, AuthStyle::Bearer);
    assert_eq!(deepseek.endpoint.url, "https://api.deepseek.com");
    assert_eq!(
        deepseek.endpoint.chat_path.as_deref(),
        Some("/chat/completions")
    );
    assert_eq!(
        chat_url(deepseek),
        "https://api.deepseek.com/chat/completions"
    );
    assert_eq!(
        deepseek.endpoint.key,
        Credential::Ref(KeyRef::Env("DEEPSEEK_API_KEY".into()))
    );
    assert_eq!(rules(deepseek), ["*=deepseek-chat"]);

    let ollama = by("ollama");
    assert!(!ollama.current);
    assert_eq!(ollama.endpoint.url, "http://localhost:11434/v1");
    assert_eq!(ollama.endpoint.chat_path, None, "the default path fits");
    assert_eq!(
        chat_url(ollama),
        "http://localhost:11434/v1/chat/completions"
    );
    assert_eq!(rules(ollama), ["*=qwen2.5-coder:latest"]);

    let openrouter = by("openrouter");
    assert_eq!(
        chat_url(openrouter),
        "https://openrouter.ai/api/v1/chat/completions"
    );
    assert_eq!(
        openrouter.endpoint.key,
        Credential::Value(Secret::new("sk-or-v1-FIXTURE-0002"))
    );
    assert_eq!(rules(openrouter), ["*=google/gemini-2.5-pro-preview"]);
    assert_eq!(
        by("siliconflow").endpoint.key,
        Credential::Ref(KeyRef::Env("SILICONFLOW_API_KEY".into()))
    );

    let glm = by("GLM-Anthropic");
    assert_eq!(glm.endpoint.kind, EndpointKind::Anthropic);
    assert_eq!(glm.endpoint.url, "https://open.bigmodel.cn/api/anthropic");
    assert_eq!(glm.endpoint.auth, AuthStyle::Bearer, "UseBearer");
    assert_eq!(
        glm.description,
        "claude-code-router provider 'GLM Anthropic'"
    );

    assert_eq!(
        plan.routes,
        [PlannedRoute {
            pattern: "claude-*haiku*".into(),
            profile: "ollama".into(),
            origin: "Router.background".into(),
        }]
    );
    let skipped: Vec<(&str, &str)> = plan
        .skipped
        .iter()
        .map(|s| (s.origin.as_str(), s.reason.as_str()))
        .collect();
    let origins: Vec<&str> = skipped.iter().map(|s| s.0).collect();
    assert_eq!(
        origins,
        [
            "ccr provider 'siliconflow'",
            "ccr provider 'gemini'",
            "Router.think",
            "Router.longContext",
            "Router.webSearch"
        ]
    );
    assert!(
        skipped[0].1.contains("maxtoken (max_tokens)"),
        "{skipped:?}"
    );
    assert!(
        !skipped[0].1.contains("16384"),
        "option values are not shown"
    );
    assert!(skipped[1].1.contains("neither a Chat Completions URL"));
    assert!(skipped[3].1.contains("60000 tokens"));
    let notes = plan.notes.join("\n");
    assert!(notes.contains("tooluse (for deepseek-chat)"), "{notes}");
    assert!(notes.contains("APIKEY"), "{notes}");
    assert!(!notes.contains("FIXTURE"), "{notes}");
}

#[test]
fn ccr_minimal_config_is_one_profile_without_routes() {
    let plan = ccr::plan(&ccr_fixture("minimal.json"), "minimal.json").unwrap();
    assert_eq!(plan.profiles.len(), 1);
    let p = &plan.profiles[0];
    assert_eq!(p.profile, "moonshot");
    assert!(p.current);
    assert_eq!(p.endpoint.url, "https://api.moonshot.cn/v1");
    assert_eq!(rules(p), ["*=kimi-k2-0711-preview"]);
    assert!(plan.routes.is_empty() && plan.skipped.is_empty() && plan.notes.is_empty());
}

#[test]
fn ccr_urls_are_split_so_the_request_goes_exactly_where_ccr_sent_it() {
    for (url, transformer, kind, base, path) in [
        (
            "https://api.example.com/v1/chat/completions",
            "[]",
            EndpointKind::Openai,
            "https://api.example.com/v1",
            None,
        ),
        (
            "https://open.bigmodel.cn/api/paas/v4/chat/completions",
            "[]",
            EndpointKind::Openai,
            "https://open.bigmodel.cn/api/paas/v4",
            Some("/chat/completions"),
        ),
        (
            "https://ark.cn-beijing.volces.com/api/v3/chat/completions/",
            "['deepseek']",
            EndpointKind::Openai,
            "https://ark.cn-beijing.volces.com/api/v3",
            Some("/chat/completions"),
        ),
        (
            "https://relay.example/chat/completions",
            "[]",
            EndpointKind::Openai,
            "https://relay.example",
            Some("/chat/completions"),
        ),
        (
            "https://api.anthropic.com/v1/messages",
            "[]",
            EndpointKind::Anthropic,
            "https://api.anthropic.com",
            None,
        ),
        (
            "https://relay.example/claude/v1/messages",
            "['anthropic']",
            EndpointKind::Anthropic,
            "https://relay.example/claude",
            None,
        ),
    ] {
        let plan = ccr_plan(&format!(
            "{{Providers: [{{name: 'p', api_base_url: '{url}', api_key: 'k-0123456789abcdef', \
             models: ['m'], transformer: {{use: {transformer}}}}}]}}"
        ));
        let p = &plan.profiles[0];
        assert_eq!(p.endpoint.kind, kind, "{url}");
        assert_eq!(p.endpoint.url, base, "{url}");
        assert_eq!(p.endpoint.chat_path.as_deref(), path, "{url}");
        assert_eq!(chat_url(p), url.trim_end_matches('/'), "{url}");
        let auth = match kind {
            EndpointKind::Openai => AuthStyle::Bearer,
            EndpointKind::Anthropic => AuthStyle::ApiKey,
        };
        assert_eq!(p.endpoint.auth, auth, "{url}");
        assert_eq!(rules(p), ["*=m"], "no Router: the first model");
    }
    let plan = ccr_plan(
        "{Providers: [{name: 'a', api_base_url: 'https://relay.example/messages', api_key: 'k', \
         transformer: {use: ['Anthropic']}}]}",
    );
    assert!(plan.profiles.is_empty());
    assert!(
        plan.skipped[0]
            .reason
            .contains("does not end in /v1/messages")
    );
}

#[test]
fn ccr_keys_from_variables_become_references() {
    let key = |k: &str| {
        let plan = ccr_plan(&format!(
            "{{Providers: [{{name: 'p', api_base_url: 'https://x.example/v1/chat/completions', \
             api_key: {k}, models: ['m']}}]}}"
        ));
        match plan.profiles.first() {
            Some(p) => Ok(p.endpoint.key.clone()),
            None => Err(plan.skipped[0].reason.clone()),
        }
    };
    let env = |v: &str| Ok(Credential::Ref(KeyRef::Env(v.into())));
    assert_eq!(key("'$OPENAI_API_KEY'"), env("OPENAI_API_KEY"));
    assert_eq!(key("' ${gemini_key} '"), env("gemini_key"));
    assert_eq!(
        key("'$lower-is-literal'"),
        Ok(Credential::Value(Secret::new("$lower-is-literal"))),
        "ccr interpolates only upper-case $VAR"
    );
    assert!(key("'${bad-name}'").unwrap_err().starts_with("api_key: "));
    assert!(key("'sk-${PART}'").unwrap_err().contains("mixes text"));
    assert!(key("'$A$B'").unwrap_err().contains("mixes text"));
    assert_eq!(key("''"), Err("api_key is empty".into()));
    assert_eq!(key("null"), Err("no api_key".into()));
}

#[test]
fn ccr_default_and_background_on_one_provider_share_its_model_map() {
    let plan = ccr_plan(
        r#"{"Providers": [
             {"name": "ds", "api_base_url": "https://api.deepseek.com/chat/completions",
              "api_key": "$DS", "models": ["deepseek-chat", "deepseek-reasoner"]},
             {"name": "empty", "api_base_url": "https://e.example/v1/chat/completions",
              "api_key": "e-0123456789abcdef"}],
           "Router": {"default": "DS, deepseek-reasoner", "background": "ds,deepseek-chat",
                      "image": "ds,deepseek-chat", "longContext": ""}}"#,
    );
    let ds = &plan.profiles[0];
    assert!(ds.current, "provider names match ignoring case, as in ccr");
    assert_eq!(
        rules(ds),
        ["claude-*haiku*=deepseek-chat", "*=deepseek-reasoner"]
    );
    assert_eq!(plan.routes[0].profile, "ds");
    assert!(rules(&plan.profiles[1]).is_empty());
    assert!(
        plan.notes[0].contains("no models listed"),
        "{:?}",
        plan.notes
    );
    let origins: Vec<&str> = plan.skipped.iter().map(|s| s.origin.as_str()).collect();
    assert_eq!(origins, ["Router.image"], "an empty scenario is not listed");
}

#[test]
fn ccr_bad_files_and_router_mistakes() {
    match ccr::plan(&ccr_fixture("broken.json"), "broken.json") {
        Err(
            e @ ImportError::Json {
                line: 4,
                json5: true,
                ..
            },
        ) => {
            assert!(e.hint().unwrap().contains("JSON5"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ccr::plan(&ccr_fixture("no-providers.json"), "f"),
        Err(ImportError::NotCcr { .. })
    ));
    assert!(matches!(
        ccr::plan(b"{Providers: []}", "f"),
        Err(ImportError::Nothing { .. })
    ));
    assert!(matches!(
        ccr::plan(b"{Providers: {}}", "f"),
        Err(ImportError::Shape { .. })
    ));
    assert!(matches!(
        ccr::plan(b"[]", "f"),
        Err(ImportError::Shape { .. })
    ));

    // Every provider unusable: planned as skipped, and applying says nothing is left.
    let plan = ccr::plan(&ccr_fixture("unusable.json"), "unusable.json").unwrap();
    assert!(plan.profiles.is_empty());
    let reasons: Vec<String> = plan
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.origin, s.reason))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(reasons[0].contains("no api_base_url"));
    assert!(reasons[1].contains("api_key is empty"));
    assert!(reasons[2].contains("mixes text"));
    assert!(reasons[3].contains("/v1/responses"));
    assert!(
        reasons[4].starts_with("Router.default: 'missing,some-model' names provider 'missing'"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().all(|r| !r.contains("FIXTURE")),
        "{reasons:?}"
    );
    let err = apply(&plan, &mut Config::default(), false, now(), ids()).unwrap_err();
    assert!(matches!(err, ImportError::Nothing { .. }), "{err}");

    // Router naming a skipped provider, or not "provider,model".
    let plan = ccr_plan(
        r#"{"Providers": [
             {"name": "ok", "api_base_url": "https://a.example/v1/chat/completions", "api_key": "a-0123456789abcdef", "models": ["m"]},
             {"name": "bad", "api_base_url": "https://b.example/v1/chat/completions"}],
           "Router": {"default": "ok", "background": "bad,m"}}"#,
    );
    assert_eq!(plan.profiles.len(), 1);
    assert!(plan.routes.is_empty());
    let reasons: Vec<&str> = plan.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "no api_key",
            "'ok' is not \"provider,model\"",
            "'bad,m': provider 'bad' is not imported (see why above)"
        ]
    );
}

#[test]
fn ccr_routes_are_applied_kept_refused_and_repointed() {
    let plan = ccr::plan(&ccr_fixture("config.json"), "config.json").unwrap();
    let mut c = Config::default();
    let r = apply(&plan, &mut c, false, now(), ids()).unwrap();
    assert_eq!(r.activated.as_deref(), Some("deepseek"));
    assert_eq!(r.routes.len(), 1);
    assert_eq!(r.routes[0].action, RouteAction::Create);
    assert_eq!(c.routes.len(), 1);
    assert_eq!(
        (c.routes[0].model.as_str(), c.routes[0].profile.as_str()),
        ("claude-*haiku*", "ollama")
    );
    let e = &c.profile("deepseek").unwrap().endpoints[0];
    assert_eq!(e.kind, EndpointKind::Openai);
    assert_eq!(e.key_ref, Some(KeyRef::Env("DEEPSEEK_API_KEY".into())));
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("FIXTURE"), "{json}");
    assert!(
        json.contains("\"chat_path\":\"/chat/completions\""),
        "{json}"
    );

    // Again with --force: the profiles replaced, the route kept as it was.
    let r = apply(&plan, &mut c, true, now(), ids()).unwrap();
    assert_eq!(r.routes[0].action, RouteAction::Keep);
    assert_eq!(c.routes.len(), 1);

    // A route of the same pattern elsewhere: refused, or repointed in its place by --force.
    let mut c = Config::default();
    c.add_profile("mine", None, Strategy::default(), now())
        .unwrap();
    c.add_route("claude-opus-*", "mine", None).unwrap();
    c.add_route("claude-*haiku*", "mine", None).unwrap();
    let err = apply(&plan, &mut c.clone(), false, now(), ids()).unwrap_err();
    assert_eq!(
        err,
        ImportError::RouteExists {
            pattern: "claude-*haiku*".into(),
            profile: "mine".into()
        }
    );
    assert!(err.hint().unwrap().contains("--force"));
    let r = apply(&plan, &mut c, true, now(), ids()).unwrap();
    assert_eq!(r.routes[0].action, RouteAction::Replace);
    assert_eq!(c.routes[1].profile, "ollama");
    assert_eq!(c.routes[0].profile, "mine");
    assert_eq!(r.activated, None);
}

#[test]
fn ccr_only_and_profile_carry_the_route() {
    let full = ccr::plan(&ccr_fixture("config.json"), "config.json").unwrap();
    let mut plan = full.clone();
    plan.select(&["Ollama".into()]).unwrap();
    plan.rename("local").unwrap();
    assert_eq!(plan.profiles[0].profile, "local");
    assert_eq!(plan.routes[0].profile, "local");
    assert!(
        plan.skipped.is_empty(),
        "Router skips belong to no provider"
    );

    let mut plan = full.clone();
    plan.select(&["deepseek".into(), "gemini".into()]).unwrap();
    assert!(plan.routes.is_empty(), "its provider is not imported");
    assert_eq!(plan.skipped.len(), 1);
    assert!(matches!(
        full.clone().select(&["nope".into()]),
        Err(ImportError::UnknownProvider { .. })
    ));
}

#[test]
fn ccr_background_at_qccs_own_proxy_is_skipped_with_its_route() {
    let plan = ccr_plan(
        r#"{"Providers": [
             {"name": "up", "api_base_url": "https://a.example/v1/chat/completions", "api_key": "a-0123456789abcdef", "models": ["m"]},
             {"name": "self", "api_base_url": "http://127.0.0.1:7860/v1/messages", "api_key": "s-0123456789abcdef", "models": ["m"]}],
           "Router": {"default": "up,m", "background": "self,m"}}"#,
    );
    let mut c = Config::default();
    let r = apply(&plan, &mut c, false, now(), ids()).unwrap();
    assert!(r.routes.is_empty());
    assert!(c.routes.is_empty());
    let reasons: Vec<&str> = r.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(reasons[0].contains("own proxy"), "{reasons:?}");
    assert!(
        reasons[1].contains("route 'claude-*haiku*': its profile 'self' is not imported"),
        "{reasons:?}"
    );
}
