//! `qcc profile …` against the real binary.

use crate::harness::TestEnv;

#[test]
fn add_list_show_edit_rename_remove() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work", "-d", "Company keys"]);
    env.ok(&["profile", "add", "home", "--strategy", "ordered"]);

    let list = env.json(&["profile", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["work", "home"]);
    assert_eq!(list[0]["active"], true, "the first profile is active");
    assert_eq!(list[1]["strategy"], "ordered");

    let table = env.ok(&["profile", "list"]);
    assert!(table.contains("Company keys") && table.contains("ordered"));

    env.ok(&[
        "profile",
        "edit",
        "work",
        "--strategy",
        "least-connections",
        "-d",
        "",
    ]);
    let shown = env.json(&["profile", "show", "work"]);
    assert_eq!(shown["strategy"], "least-connections");
    assert_eq!(shown["description"], serde_json::Value::Null);

    env.ok(&["priority", "set", "work", "primary"]);
    env.ok(&["profile", "rename", "work", "acme"]);
    let cfg = env.config();
    assert_eq!(cfg["tiers"]["primary"][0], "acme");
    assert_eq!(cfg["active"], "acme");

    env.ok(&["profile", "remove", "home", "--yes"]);
    env.ok(&["profile", "remove", "acme", "--force"]);
    assert_eq!(env.json(&["profile", "list"]), serde_json::json!([]));
    assert_eq!(env.config()["tiers"]["primary"], serde_json::json!([]));
}

#[test]
fn show_lists_endpoints_with_masked_keys() {
    let env = TestEnv::new();
    env.profile_with("work", 2);
    let out = env.ok(&["profile", "show", "work"]);
    assert!(out.contains("work-0.example.com") && out.contains("work-1.example.com"));
    assert!(out.contains("sk-ant-api03-…cdef"), "{out}");
    assert!(!out.contains("0123456789abcdef"), "key leaked:\n{out}");
    let v = env.json(&["profile", "show", "work", "--show-keys"]);
    assert_eq!(
        v["endpoint_list"][0]["key"],
        "sk-ant-api03-work-0-0123456789abcdef"
    );
}

#[test]
fn env_prints_exports_that_eval_in_a_shell() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "relay"]);
    env.ok(&[
        "endpoint",
        "add",
        "relay",
        "--url",
        "https://relay.example/api",
        "--key",
        "rk-it's-a-key-123456",
        "--auth",
        "bearer",
    ]);
    let out = env
        .shell_cmd("bash")
        .args([
            "-c",
            r#"export ANTHROPIC_API_KEY=stale; eval "$(qcc env relay)"; echo "$ANTHROPIC_BASE_URL|$ANTHROPIC_AUTH_TOKEN|${ANTHROPIC_API_KEY-unset}""#,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "https://relay.example/api|rk-it's-a-key-123456|unset"
    );
}
