//! `qcc profile use`: merging into Claude Code's settings.json.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::harness::TestEnv;

#[test]
fn use_merges_env_keeps_everything_else_and_backs_up() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "relay"]);
    env.ok(&[
        "endpoint",
        "add",
        "relay",
        "--url",
        "https://relay.example/api",
        "--key",
        "rk-relay-0000000000009999",
        "--auth",
        "bearer",
    ]);
    let dir = env.home().join(".claude");
    std::fs::create_dir_all(&dir).unwrap();
    let original = serde_json::to_string_pretty(&json!({
        "model": "opus",
        "env": { "FOO": "1", "ANTHROPIC_API_KEY": "sk-old" },
        "permissions": { "allow": ["Bash(ls:*)"] }
    }))
    .unwrap();
    std::fs::write(dir.join("settings.json"), &original).unwrap();

    let out = env.ok(&["profile", "use", "relay"]);
    assert!(!out.contains("0000000000009999"), "key leaked: {out}");

    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("settings.json")).unwrap()).unwrap();
    assert_eq!(
        settings,
        json!({
            "model": "opus",
            "env": {
                "FOO": "1",
                "ANTHROPIC_BASE_URL": "https://relay.example/api",
                "ANTHROPIC_AUTH_TOKEN": "rk-relay-0000000000009999"
            },
            "permissions": { "allow": ["Bash(ls:*)"] }
        })
    );
    let mode = std::fs::metadata(dir.join("settings.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let backups: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("settings.json.qcc-backup-")
        })
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(
        std::fs::read_to_string(backups[0].path()).unwrap(),
        original
    );
}

#[test]
fn use_creates_settings_when_absent_and_refuses_a_broken_one() {
    let env = TestEnv::new();
    env.profile_with("work", 1);
    env.ok(&["profile", "use", "work"]);
    let path = env.home().join(".claude/settings.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "https://work-0.example.com");
    assert_eq!(
        v["env"]["ANTHROPIC_API_KEY"],
        "sk-ant-api03-work-0-0123456789abcdef"
    );

    std::fs::write(&path, "{ \"env\": [ }").unwrap();
    let stderr = env.fail_with_hint(1, &["profile", "use", "work"]);
    assert!(
        stderr.contains("settings.json") && stderr.contains("line 1"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ \"env\": [ }");
}
