//! `qcc doctor`: a good setup passes; each broken part is named with a hint and fails the
//! command (or warns, when it works but probably not as meant); nothing is changed.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::harness::TestEnv;

/// `qcc doctor --json` with extra environment: (exit code, the report).
fn doctor(env: &TestEnv, vars: &[(&str, &str)]) -> (i32, Value) {
    let mut cmd = env.cmd();
    cmd.args(["doctor", "--json"]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap();
    (out.status.code().unwrap(), report)
}

fn status<'a>(report: &'a Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {report}"))["status"]
        .as_str()
        .unwrap()
}

/// A profile with one endpoint, listening on a free port when started.
fn setup() -> TestEnv {
    let env = TestEnv::new();
    env.endpoint_for(
        "work",
        "http://127.0.0.1:9",
        "sk-ant-api03-doctor-00001",
        "api-key",
    );
    env.edit_config(|c| c.proxy.listen = "127.0.0.1:0".into());
    // The harness made the dir with the umask's mode; qcc makes it 0700 when it creates it.
    std::fs::set_permissions(env.config_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    env
}

fn write_settings(env: &TestEnv, base_url: &str) {
    let dir = env.home().join(".claude");
    std::fs::create_dir_all(&dir).unwrap();
    let settings = serde_json::json!({ "env": { "ANTHROPIC_BASE_URL": base_url } });
    std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
}

#[test]
fn a_good_setup_passes_every_check() {
    let env = setup();
    let proxy = env.start_proxy();
    write_settings(&env, &proxy.base_url);
    let (code, r) = doctor(&env, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["ok"], true);
    for name in [
        "config", "private", "keys", "daemon", "claude", "shell", "clock",
    ] {
        assert_eq!(status(&r, name), "ok", "{name}: {r}");
    }
    // The shell pointing at the proxy too is fine.
    let (code, r) = doctor(&env, &[("ANTHROPIC_BASE_URL", &proxy.base_url)]);
    assert_eq!((code, status(&r, "shell")), (0, "ok"), "{r}");
    // The table form: one line per check.
    let text = env.ok(&["doctor"]);
    assert!(
        text.contains("✓ daemon") && text.contains("running (pid"),
        "{text}"
    );
}

#[test]
fn loose_permissions_and_a_taken_port_fail_with_hints() {
    let env = setup();
    let before = env.snapshot();
    std::fs::set_permissions(env.config_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, r) = doctor(&env, &[]);
    assert_eq!(code, 1);
    assert_eq!(r["ok"], false);
    assert_eq!(status(&r, "private"), "fail");
    std::fs::set_permissions(env.config_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // Without a daemon, the configured port must be free.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().to_string();
    env.edit_config(|c| c.proxy.listen = taken.clone());
    let (code, r) = doctor(&env, &[]);
    assert_eq!(
        (code, status(&r, "port"), status(&r, "daemon")),
        (1, "fail", "warn"),
        "{r}"
    );
    let port = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "port")
        .unwrap();
    assert!(
        port["hint"].as_str().unwrap().contains("proxy.listen"),
        "{port}"
    );
    // The one-line error on stderr.
    let stderr = env.fail_with_hint(1, &["doctor"]);
    assert!(stderr.contains("check(s) failed"), "{stderr}");
    drop(holder);
    env.edit_config(|c| c.proxy.listen = "127.0.0.1:0".into());
    assert_eq!(env.snapshot().len(), before.len(), "doctor writes nothing");
}

#[test]
fn requests_that_would_bypass_qcc_are_warned_about() {
    let env = setup();
    let proxy = env.start_proxy();
    // A key without a base URL: Claude Code would go straight to Anthropic.
    let (code, r) = doctor(&env, &[("ANTHROPIC_API_KEY", "sk-ant-api03-stale")]);
    assert_eq!((code, status(&r, "shell")), (0, "warn"), "{r}");
    // settings.json sending Claude Code somewhere else, and a shell that disagrees.
    write_settings(&env, "https://relay.example.com");
    let (code, r) = doctor(&env, &[("ANTHROPIC_BASE_URL", &proxy.base_url)]);
    assert_eq!(code, 0);
    assert_eq!(status(&r, "claude"), "warn", "{r}");
    assert_eq!(status(&r, "shell"), "warn", "{r}");
    assert!(r.to_string().contains("relay.example.com"));
}

#[test]
fn a_corrupt_config_fails_and_is_left_alone() {
    let env = setup();
    std::fs::write(env.config_file(), b"{ not json").unwrap();
    let (code, r) = doctor(&env, &[]);
    assert_eq!((code, status(&r, "config")), (1, "fail"), "{r}");
    assert_eq!(std::fs::read(env.config_file()).unwrap(), b"{ not json");
}
