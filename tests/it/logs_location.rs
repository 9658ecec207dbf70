//! Where the daemon logs: the XDG state dir for the default config dir (old logs moved
//! there once, the folder 0700), `$QCC_STATE_DIR` when set, `<config dir>/logs` for a config
//! dir given explicitly (every other test).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::harness::TestEnv;

/// `qcc` with the default config dir (`$XDG_CONFIG_HOME/qcc`): no `QCC_CONFIG_DIR`.
fn default_dirs(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let mut cmd: Command = env.cmd();
    cmd.env_remove("QCC_CONFIG_DIR")
        .args(args)
        .output()
        .unwrap()
}

fn ok(env: &TestEnv, args: &[&str]) -> String {
    let out = default_dirs(env, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_default_config_logs_to_the_state_dir_and_old_logs_move_once() {
    let env = TestEnv::new();
    let config_dir = env.root().join("xdg-config/qcc");
    let old = config_dir.join("logs");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("daemon.log"), "a line from before the move\n").unwrap();
    std::fs::write(old.join("daemon.log.1"), "an older rotation\n").unwrap();
    ok(&env, &["profile", "add", "work"]);
    ok(
        &env,
        &[
            "endpoint",
            "add",
            "work",
            "--url",
            "http://127.0.0.1:9",
            "--key",
            "sk-x-0000000001",
        ],
    );

    let paths: serde_json::Value =
        serde_json::from_str(&ok(&env, &["config", "path", "--json"])).unwrap();
    let state_logs = env.root().join("xdg-state/qcc/logs");
    assert_eq!(
        paths["log_file"],
        state_logs.join("daemon.log").to_str().unwrap()
    );

    ok(&env, &["proxy", "start", "--listen", "127.0.0.1:0"]);
    let log = std::fs::read_to_string(state_logs.join("daemon.log")).unwrap();
    assert!(log.contains("a line from before the move"), "{log}");
    assert!(
        state_logs.join("daemon.log.1").exists(),
        "rotations move too"
    );
    assert!(!old.exists(), "nothing left behind");
    let mode = std::fs::metadata(&state_logs).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let shown = ok(&env, &["proxy", "logs", "-n", "500"]);
    assert!(shown.contains("a line from before the move"), "{shown}");
    ok(&env, &["proxy", "stop"]);
    // Once: a new old-place folder is not moved over the existing one.
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("daemon.log"), "stray\n").unwrap();
    ok(&env, &["proxy", "logs"]);
    assert!(old.join("daemon.log").exists());
}

#[test]
fn qcc_state_dir_wins_and_an_explicit_config_dir_keeps_its_own_logs() {
    let env = TestEnv::new();
    let state = env.root().join("my-state");
    let v = env.json(&["config", "path"]);
    assert_eq!(
        v["log_file"],
        env.config_dir().join("logs/daemon.log").to_str().unwrap()
    );
    let out = env
        .cmd()
        .env("QCC_STATE_DIR", &state)
        .args(["config", "path", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["log_file"],
        state.join("logs/daemon.log").to_str().unwrap()
    );
}
