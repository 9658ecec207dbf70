//! `qcc import claude-settings`, `qcc import cc-switch` and `qcc import ccr` on the fixtures
//! in tests/fixtures/import: dry runs write nothing and mask keys, real imports create the
//! profiles (and ccr's route), existing profiles need --force, bad input is one line and a
//! hint; and a ccr config imported and served end to end by the daemon.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::TestEnv;

fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// Every key the fixtures hold has this in it.
const RAW: &str = "FIXTURE";

/// Run, require success, and require that no raw key reached stdout or stderr.
fn ok_masked(env: &TestEnv, args: &[&str]) -> String {
    let out = env.run(args);
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "qcc {args:?} failed:\n{stderr}");
    assert!(
        !stdout.contains(RAW) && !stderr.contains(RAW),
        "a key leaked:\n{stdout}\n{stderr}"
    );
    stdout
}

fn json_masked(env: &TestEnv, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&ok_masked(env, &a)).unwrap()
}

fn endpoint_of<'a>(config: &'a Value, profile: &str) -> &'a Value {
    let p = config["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == profile)
        .unwrap_or_else(|| panic!("no profile {profile} in {config}"));
    assert_eq!(p["endpoints"].as_array().unwrap().len(), 1);
    &p["endpoints"][0]
}

/// An error is one `error:` line and one `hint:` line.
fn one_line_error(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[1].contains("hint:"), "{stderr}");
}

#[test]
fn claude_settings_dry_run_writes_nothing_and_masks_keys() {
    let env = TestEnv::new();
    env.profile_with("work", 1);
    let before = env.snapshot();
    let path = fixture("claude-settings/relay.json");
    let text = ok_masked(&env, &["import", "claude-settings", &path, "--dry-run"]);
    assert!(
        text.contains("would create profile 'relay.example.com'"),
        "{text}"
    );
    assert!(text.contains("key rk-relay-…0001"), "{text}");
    assert!(text.contains("nothing was written"), "{text}");
    let v = json_masked(&env, &["import", "claude-settings", &path, "--dry-run"]);
    assert_eq!(v["dry_run"], true);
    let p = &v["profiles"][0];
    assert_eq!(p["name"], "relay.example.com");
    assert_eq!(p["action"], "create");
    assert_eq!(p["endpoint"]["url"], "https://relay.example.com/api");
    assert_eq!(p["endpoint"]["auth"], "bearer");
    assert_eq!(p["endpoint"]["id"], Value::Null);
    assert_eq!(
        p["endpoint"]["models"],
        serde_json::json!([
            "claude-sonnet-*=relay-sonnet",
            "claude-opus-*=relay-opus",
            "claude-haiku-*=relay-small",
            "*=relay-large"
        ])
    );
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap()
            .contains("ANTHROPIC_API_KEY ignored")
    );
    assert_eq!(env.snapshot(), before, "a dry run changed the config dir");

    // Without any config yet, a dry run creates none.
    let fresh = TestEnv::new();
    ok_masked(&fresh, &["import", "claude-settings", &path, "--dry-run"]);
    assert!(!fresh.config_file().exists());
}

#[test]
fn claude_settings_import_from_the_default_path() {
    let env = TestEnv::new();
    let dir = env.home().join(".claude");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        fixture("claude-settings/relay.json"),
        dir.join("settings.json"),
    )
    .unwrap();
    let v = json_masked(&env, &["import", "claude-settings"]);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["activated"], "relay.example.com");
    let id = v["profiles"][0]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let list = env.json(&["endpoint", "list", "relay.example.com"]);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["url"], "https://relay.example.com/api");
    assert_eq!(list[0]["auth"], "bearer");
    let config = env.config();
    let e = endpoint_of(&config, "relay.example.com");
    assert_eq!(e["key"], "rk-relay-token-FIXTURE-0001", "the key is copied");
    assert_eq!(e["models"].as_array().unwrap().len(), 4);
    assert_eq!(e["models"][3], "*=relay-large");
    assert_eq!(config["active"], "relay.example.com");

    // --profile names it.
    let v = json_masked(&env, &["import", "claude-settings", "--profile", "relay"]);
    assert_eq!(v["profiles"][0]["name"], "relay");
    assert_eq!(v["activated"], Value::Null, "the active profile stays");
}

#[test]
fn api_key_helper_becomes_a_cmd_reference() {
    let env = TestEnv::new();
    let path = fixture("claude-settings/helper.json");
    let v = json_masked(&env, &["import", "claude-settings", &path]);
    assert_eq!(
        v["profiles"][0]["endpoint"]["key"],
        "cmd:~/.claude/get-key.sh --profile work"
    );
    assert_eq!(v["profiles"][0]["endpoint"]["key_kind"], "ref");
    let config = env.config();
    let e = endpoint_of(&config, "gateway.corp.example");
    assert_eq!(e["key_ref"], "cmd:~/.claude/get-key.sh --profile work");
    assert!(e.get("key").is_none());
    assert_eq!(e["auth"], "api-key");
}

#[test]
fn existing_profile_needs_force_and_is_replaced_in_place() {
    let env = TestEnv::new();
    let path = fixture("claude-settings/relay.json");
    env.profile_with("first", 1);
    env.profile_with("relay", 2);
    env.ok(&["priority", "set", "relay", "secondary"]);
    let before = env.snapshot();
    let err = env.fail_with_hint(
        1,
        &["import", "claude-settings", &path, "--profile", "relay"],
    );
    one_line_error(&err);
    assert!(err.contains("profile 'relay' already exists"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(!err.contains(RAW));
    assert_eq!(
        env.snapshot(),
        before,
        "a refused import changed the config"
    );

    // A dry run with --force says it would replace.
    let v = json_masked(
        &env,
        &[
            "import",
            "claude-settings",
            &path,
            "--profile",
            "relay",
            "--force",
            "--dry-run",
        ],
    );
    assert_eq!(v["profiles"][0]["action"], "replace");
    assert_eq!(env.snapshot(), before);

    let v = json_masked(
        &env,
        &[
            "import",
            "claude-settings",
            &path,
            "--profile",
            "relay",
            "--force",
        ],
    );
    assert_eq!(v["profiles"][0]["action"], "replace");
    let config = env.config();
    let names: Vec<&str> = config["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first", "relay"]);
    assert_eq!(config["tiers"]["secondary"], serde_json::json!(["relay"]));
    assert_eq!(config["active"], "first");
    assert_eq!(
        endpoint_of(&config, "relay")["url"],
        "https://relay.example.com/api"
    );
}

#[test]
fn bad_input_is_one_line_and_a_hint() {
    let env = TestEnv::new();
    env.profile_with("work", 1);
    let before = env.snapshot();

    let missing = env.root().join("nope.json");
    let err = env.fail_with_hint(1, &["import", "claude-settings", missing.to_str().unwrap()]);
    one_line_error(&err);
    assert!(err.contains("no file at"), "{err}");

    // Files that cannot be imported: one line, a hint, never the key.
    for (importer, file, says) in [
        (
            "claude-settings",
            "claude-settings/broken.json",
            &["not valid JSON (line 4"][..],
        ),
        (
            "claude-settings",
            "claude-settings/no-key.json",
            &["nothing to import", "no key"],
        ),
        (
            "cc-switch",
            "claude-settings/relay.json",
            &["not a cc-switch config"],
        ),
    ] {
        let err = env.fail_with_hint(1, &["import", importer, &fixture(file)]);
        one_line_error(&err);
        for s in says {
            assert!(err.contains(s), "{file}: {err}");
        }
        assert!(!err.contains(RAW), "{err}");
    }

    // No settings file at the default place.
    let err = env.fail_with_hint(1, &["import", "claude-settings"]);
    assert!(err.contains(".claude/settings.json"), "{err}");

    let err = env.fail_with_hint(
        2,
        &[
            "import",
            "claude-settings",
            &fixture("claude-settings/relay.json"),
            "--profile",
            "bad name",
        ],
    );
    assert!(err.contains("invalid profile name"), "{err}");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn qcc_own_proxy_is_never_imported() {
    let env = TestEnv::new();
    let err = env.fail_with_hint(
        1,
        &[
            "import",
            "claude-settings",
            &fixture("claude-settings/loop.json"),
        ],
    );
    one_line_error(&err);
    assert!(
        err.contains("qcc's own proxy") && err.contains("loop"),
        "{err}"
    );
    assert!(!env.config_file().exists());

    // In a provider list it is skipped with the reason, the rest imported.
    let v = json_masked(
        &env,
        &["import", "cc-switch", &fixture("cc-switch/config-v2.json")],
    );
    let skipped = v["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["origin"] == "cc-switch provider 'qcc proxy'"
                && s["reason"].as_str().unwrap().contains("loop")),
        "{skipped:?}"
    );
}

#[test]
fn cc_switch_v2_imports_each_provider_and_activates_the_current_one() {
    let env = TestEnv::new();
    let path = fixture("cc-switch/config-v2.json");
    let before = env.snapshot();
    let text = ok_masked(&env, &["import", "cc-switch", &path, "--dry-run"]);
    assert!(text.contains("would create profile 'Kimi'"), "{text}");
    assert!(
        text.contains("skipped cc-switch provider 'Claude Official': no key"),
        "{text}"
    );
    assert_eq!(env.snapshot(), before);

    let v = json_masked(&env, &["import", "cc-switch", &path]);
    let names: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Kimi", "GLM", "Relay", "Relay-2"],
        "sortIndex order, unique names"
    );
    assert_eq!(v["activated"], "GLM", "cc-switch's current provider");
    let skipped: Vec<&str> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["origin"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        [
            "cc-switch provider 'PackyCode'",
            "cc-switch provider 'Claude Official'",
            "cc-switch provider 'qcc proxy'"
        ]
    );
    let config = env.config();
    assert_eq!(config["active"], "GLM");
    let glm = endpoint_of(&config, "GLM");
    assert_eq!(glm["url"], "https://open.bigmodel.cn/api/anthropic");
    assert_eq!(glm["auth"], "bearer");
    assert_eq!(
        glm["models"],
        serde_json::json!(["claude-haiku-*=glm-4.5-air", "*=glm-4.6"])
    );
    assert_eq!(endpoint_of(&config, "Relay-2")["auth"], "api-key");
    let glm_profile = config["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "GLM")
        .unwrap();
    assert_eq!(glm_profile["description"], "cc-switch provider '智谱 GLM'");

    // Again: every one of them exists.
    let err = env.fail_with_hint(1, &["import", "cc-switch", &path]);
    assert!(
        err.contains("profiles 'Kimi', 'GLM', 'Relay', 'Relay-2' already exist"),
        "{err}"
    );
}

#[test]
fn cc_switch_only_and_profile() {
    let env = TestEnv::new();
    env.profile_with("mine", 1);
    let path = fixture("cc-switch/config-v2.json");
    let v = json_masked(
        &env,
        &[
            "import",
            "cc-switch",
            &path,
            "--only",
            "b7d3-kimi",
            "--only",
            "relay-b",
        ],
    );
    let names: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Kimi", "Relay-2"], "names do not depend on --only");
    assert_eq!(v["activated"], Value::Null, "qcc had an active profile");
    assert_eq!(env.config()["active"], "mine");

    let v = json_masked(
        &env,
        &[
            "import",
            "cc-switch",
            &path,
            "--only",
            "智谱 GLM",
            "--profile",
            "glm",
        ],
    );
    assert_eq!(v["profiles"][0]["name"], "glm");

    let err = env.fail_with_hint(2, &["import", "cc-switch", &path, "--profile", "one"]);
    assert!(err.contains("--profile names one profile"), "{err}");
    let err = env.fail_with_hint(2, &["import", "cc-switch", &path, "--only", "nope"]);
    assert!(
        err.contains("no provider named 'nope'") && err.contains("Kimi"),
        "{err}"
    );
}

#[test]
fn cc_switch_v1_rows_on_stdin_and_the_database() {
    let env = TestEnv::new();
    let v = json_masked(
        &env,
        &["import", "cc-switch", &fixture("cc-switch/config-v1.json")],
    );
    assert_eq!(v["profiles"][0]["name"], "AnyRouter");

    let out = env
        .cmd()
        .args(["import", "cc-switch", "-", "--json"])
        .stdin(std::fs::File::open(fixture("cc-switch/providers-rows.json")).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["profiles"][0]["name"], "DeepSeek");
    assert_eq!(v["profiles"][0]["endpoint"]["models"][0], "*=deepseek-chat");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(RAW));

    let before = env.snapshot();
    let err = env.fail_with_hint(
        1,
        &["import", "cc-switch", &fixture("cc-switch/cc-switch.db")],
    );
    one_line_error(&err);
    assert!(
        err.contains("SQLite database") && err.contains("sqlite3 -json"),
        "{err}"
    );

    // The default path finds the database when there is no config.json.
    let dir = env.home().join(".cc-switch");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("cc-switch/cc-switch.db"), dir.join("cc-switch.db")).unwrap();
    let err = env.fail_with_hint(1, &["import", "cc-switch"]);
    assert!(
        err.contains("cc-switch.db is cc-switch's SQLite database"),
        "{err}"
    );
    std::fs::remove_file(dir.join("cc-switch.db")).unwrap();
    let err = env.fail_with_hint(1, &["import", "cc-switch"]);
    assert!(
        err.contains("no file at") && err.contains("sqlite3"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before);
}

fn profile_names(v: &Value) -> Vec<String> {
    v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn ccr_dry_run_prints_the_plan_and_writes_nothing() {
    let env = TestEnv::new();
    env.profile_with("work", 1);
    let before = env.snapshot();
    let path = fixture("ccr/config.json");
    let text = ok_masked(&env, &["import", "ccr", &path, "--dry-run"]);
    for says in [
        "would create profile 'deepseek' from ccr provider 'deepseek'",
        "https://api.deepseek.com  openai (chat path /chat/completions)  bearer  key env:DEEPSEEK_API_KEY",
        "http://localhost:11434/v1  openai  bearer  key ollama…",
        "models *=deepseek-chat",
        "would add route 'claude-*haiku*' → 'ollama' (from Router.background)",
        "skipped Router.think: 'deepseek,deepseek-reasoner': qcc routes by the model asked for",
        "skipped ccr provider 'gemini': api_base_url",
        "skipped ccr provider 'siliconflow': transformer maxtoken (max_tokens) not imported",
        "nothing was written",
    ] {
        assert!(text.contains(says), "{says}:\n{text}");
    }
    let v = json_masked(&env, &["import", "ccr", &path, "--dry-run"]);
    assert_eq!(v["dry_run"], true);
    assert_eq!(
        profile_names(&v),
        [
            "openrouter",
            "deepseek",
            "ollama",
            "siliconflow",
            "GLM-Anthropic"
        ]
    );
    assert_eq!(
        v["routes"],
        serde_json::json!([{"pattern": "claude-*haiku*", "profile": "ollama",
                            "action": "create", "origin": "Router.background"}])
    );
    assert_eq!(v["profiles"][1]["endpoint"]["kind"], "openai");
    assert_eq!(v["profiles"][1]["endpoint"]["key_kind"], "ref");
    assert_eq!(v["profiles"][4]["endpoint"]["kind"], "anthropic");
    assert_eq!(v["activated"], Value::Null, "qcc has an active profile");
    assert_eq!(env.snapshot(), before, "a dry run changed the config dir");

    let fresh = TestEnv::new();
    ok_masked(&fresh, &["import", "ccr", &path, "--dry-run"]);
    assert!(!fresh.config_file().exists());
}

#[test]
fn ccr_import_creates_openai_endpoints_key_refs_the_route_and_model_maps() {
    let env = TestEnv::new();
    let dir = env.home().join(".claude-code-router");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("ccr/config.json"), dir.join("config.json")).unwrap();
    let v = json_masked(&env, &["import", "ccr"]);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["activated"], "deepseek", "Router.default's provider");
    assert_eq!(v["routes"][0]["action"], "create");

    let config = env.config();
    assert_eq!(config["active"], "deepseek");
    let ds = endpoint_of(&config, "deepseek");
    assert_eq!(ds["kind"], "openai");
    assert_eq!(ds["url"], "https://api.deepseek.com");
    assert_eq!(ds["chat_path"], "/chat/completions");
    assert_eq!(ds["auth"], "bearer");
    assert_eq!(ds["key_ref"], "env:DEEPSEEK_API_KEY");
    assert!(ds.get("key").is_none(), "a reference, not a value");
    assert_eq!(ds["models"], serde_json::json!(["*=deepseek-chat"]));
    let ollama = endpoint_of(&config, "ollama");
    assert_eq!(ollama["url"], "http://localhost:11434/v1");
    assert!(ollama.get("chat_path").is_none());
    assert_eq!(
        ollama["models"],
        serde_json::json!(["*=qwen2.5-coder:latest"])
    );
    let or = endpoint_of(&config, "openrouter");
    assert_eq!(or["key"], "sk-or-v1-FIXTURE-0002", "the key is copied");
    let glm = endpoint_of(&config, "GLM-Anthropic");
    assert_eq!(glm["kind"], "anthropic");
    assert_eq!(glm["auth"], "bearer");
    assert_eq!(
        config["routes"],
        serde_json::json!([{"model": "claude-*haiku*", "profile": "ollama"}])
    );
    assert!(
        config["tiers"].to_string().matches("deepseek").count() == 0,
        "imported profiles are not tiered"
    );

    // What the other commands show of it, keys masked.
    let routes = env.json(&["route", "list"]);
    assert_eq!(
        routes.to_string().matches("claude-*haiku*").count(),
        1,
        "{routes}"
    );
    let list = ok_masked(&env, &["endpoint", "list", "openrouter"]);
    assert!(list.contains("openrouter.ai"), "{list}");
    ok_masked(&env, &["endpoint", "list", "--json"]);
}

#[test]
fn ccr_existing_profiles_and_routes_need_force() {
    let env = TestEnv::new();
    let path = fixture("ccr/config.json");
    env.profile_with("mine", 1);
    env.ok(&["route", "add", "claude-*haiku*", "mine"]);
    let before = env.snapshot();
    let err = env.fail_with_hint(1, &["import", "ccr", &path]);
    one_line_error(&err);
    assert!(
        err.contains("route 'claude-*haiku*' already goes to profile 'mine'")
            && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        env.snapshot(),
        before,
        "a refused import changed the config"
    );

    let v = json_masked(&env, &["import", "ccr", &path, "--force", "--dry-run"]);
    assert_eq!(v["routes"][0]["action"], "replace");
    assert!(
        ok_masked(&env, &["import", "ccr", &path, "--force", "--dry-run"])
            .contains("would repoint route 'claude-*haiku*' → 'ollama'")
    );
    assert_eq!(env.snapshot(), before);
    let v = json_masked(&env, &["import", "ccr", &path, "--force"]);
    assert_eq!(v["routes"][0]["action"], "replace");
    assert_eq!(env.config()["routes"][0]["profile"], "ollama");
    assert_eq!(env.config()["active"], "mine");

    // Again: the profiles exist; with --force replaced, the route kept.
    let err = env.fail_with_hint(1, &["import", "ccr", &path]);
    assert!(
        err.contains("profiles 'openrouter', 'deepseek', 'ollama', 'siliconflow', 'GLM-Anthropic' already exist"),
        "{err}"
    );
    env.ok(&["priority", "set", "deepseek", "secondary"]);
    let v = json_masked(&env, &["import", "ccr", &path, "--force"]);
    assert!(
        v["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["action"] == "replace")
    );
    assert_eq!(v["routes"][0]["action"], "keep");
    let config = env.config();
    assert_eq!(config["routes"].as_array().unwrap().len(), 1);
    assert_eq!(
        config["tiers"]["secondary"],
        serde_json::json!(["deepseek"])
    );

    // --only and --profile: one provider under another name, its route following it.
    let fresh = TestEnv::new();
    let v = json_masked(
        &fresh,
        &[
            "import",
            "ccr",
            &path,
            "--only",
            "ollama",
            "--profile",
            "local",
        ],
    );
    assert_eq!(profile_names(&v), ["local"]);
    assert_eq!(fresh.config()["routes"][0]["profile"], "local");
    let err = fresh.fail_with_hint(2, &["import", "ccr", &path, "--only", "nope"]);
    assert!(err.contains("no provider named 'nope'"), "{err}");
    let err = fresh.fail_with_hint(2, &["import", "ccr", &path, "--profile", "one"]);
    assert!(err.contains("--profile names one profile"), "{err}");
}

#[test]
fn ccr_bad_files_are_one_line_and_a_hint() {
    let env = TestEnv::new();
    env.profile_with("work", 1);
    let before = env.snapshot();
    let err = env.fail_with_hint(1, &["import", "ccr"]);
    one_line_error(&err);
    assert!(
        err.contains("no file at") && err.contains(".claude-code-router/config.json"),
        "{err}"
    );
    for (file, says) in [
        ("ccr/broken.json", &["not valid JSON (line 4", "JSON5"][..]),
        (
            "ccr/no-providers.json",
            &["not a claude-code-router config", "Providers"],
        ),
        (
            "ccr/unusable.json",
            &[
                "nothing to import",
                "no api_base_url",
                "api_key is empty",
                "mixes text",
                "names provider 'missing'",
            ],
        ),
        (
            "cc-switch/config-v2.json",
            &["not a claude-code-router config"],
        ),
    ] {
        let err = env.fail_with_hint(1, &["import", "ccr", &fixture(file)]);
        one_line_error(&err);
        for s in says {
            assert!(err.contains(s), "{file}: {err}");
        }
        assert!(!err.contains(RAW), "{err}");
    }
    assert_eq!(env.snapshot(), before);
}

/// A ccr config naming two OpenAI-mode fakes, imported into a fresh qcc and served by the
/// daemon: Claude Code's haiku request goes to `Router.background`'s provider, the sonnet
/// request to `Router.default`'s, each with its model and key.
#[test]
fn ccr_import_end_to_end_routes_background_and_default() {
    use qcc::fake::FakeUpstream;
    use std::time::Duration;

    let main = FakeUpstream::spawn_openai("main").unwrap();
    let bg = FakeUpstream::spawn_openai("bg").unwrap();
    main.set_reply_text("from main");
    bg.set_reply_text("from bg");
    let env = TestEnv::new();
    let path = env.root().join("ccr.json");
    std::fs::write(
        &path,
        format!(
            "{{\n  // written by the test\n  Providers: [\n    {{ name: 'main', api_base_url: '{}/v1/chat/completions', api_key: '$CCR_E2E_MAIN_KEY', models: ['main-model'] }},\n    {{ name: 'bg', api_base_url: '{}/api/v3/chat/completions', api_key: 'sk-bg-0000000000001', models: ['bg-model'] }},\n  ],\n  Router: {{ default: 'main,main-model', background: 'bg,bg-model', think: 'main,main-model' }},\n}}\n",
            main.url(),
            bg.url()
        ),
    )
    .unwrap();
    let v = json_masked(&env, &["import", "ccr", path.to_str().unwrap()]);
    assert_eq!(v["activated"], "main");
    assert_eq!(
        v["profiles"][1]["endpoint"]["url"],
        format!("{}/api/v3", bg.url())
    );
    assert_eq!(
        v["profiles"][1]["endpoint"]["chat_path"],
        "/chat/completions"
    );

    let proxy = env.start_proxy_env(
        &[],
        &[(
            "CCR_E2E_MAIN_KEY",
            std::ffi::OsStr::new("sk-main-from-env-01"),
        )],
    );
    let post = |model: &str| {
        let rt = crate::harness::daemon::runtime();
        rt.block_on(async {
            let r = crate::harness::daemon::client()
                .post(format!("{}/v1/messages", proxy.base_url))
                .header("x-api-key", "sk-client")
                .header("anthropic-version", "2023-06-01")
                .header("content-type", "application/json")
                .timeout(Duration::from_secs(30))
                .body(
                    serde_json::json!({"model": model, "max_tokens": 64,
                        "messages": [{"role": "user", "content": "hi"}]})
                    .to_string(),
                )
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            (status, body)
        })
    };
    let (status, body) = post("claude-haiku-4-5");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"][0]["text"], "from bg");
    assert_eq!(body["model"], "claude-haiku-4-5", "the model asked for");
    let (status, body) = post("claude-sonnet-4-5");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"][0]["text"], "from main");

    let (b, m) = (bg.requests(), main.requests());
    assert_eq!((b.len(), m.len()), (1, 1), "one request each");
    assert_eq!(b[0].path, "/api/v3/chat/completions");
    assert_eq!(
        b[0].header("authorization"),
        Some("Bearer sk-bg-0000000000001")
    );
    let sent: Value = serde_json::from_slice(&b[0].body).unwrap();
    assert_eq!(sent["model"], "bg-model");
    assert_eq!(m[0].path, "/v1/chat/completions");
    assert_eq!(
        m[0].header("authorization"),
        Some("Bearer sk-main-from-env-01"),
        "the key read from the daemon's environment"
    );
    let sent: Value = serde_json::from_slice(&m[0].body).unwrap();
    assert_eq!(sent["model"], "main-model");
}
