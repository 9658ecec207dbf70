//! `qcc proxy install | uninstall`: the systemd user unit (checked by `systemd-analyze
//! verify` where it exists), installed into the hermetic XDG config dir and enabled through
//! `systemctl --user` — here a stand-in on PATH that records its arguments (no user systemd
//! runs in tests) — shown by `proxy status`, and removed again.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use crate::harness::TestEnv;

/// A `systemctl` stand-in that appends its arguments to `calls` and exits `code`.
fn fake_systemctl(env: &TestEnv, code: i32) -> (PathBuf, PathBuf) {
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = env.root().join("systemctl.calls");
    let script = bin.join("systemctl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\n[ {code} -eq 0 ] || echo 'Failed to connect to bus: No medium found' >&2\nexit {code}\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, calls)
}

fn unit_file(env: &TestEnv) -> PathBuf {
    env.root().join("xdg-config/systemd/user/qcc.service")
}

#[test]
fn the_printed_unit_runs_this_config_and_passes_systemd_analyze() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    let unit = env.ok(&["proxy", "install", "--print", "--listen", "127.0.0.1:7999"]);
    let dir = env.config_dir();
    assert!(
        unit.contains(&format!(
            "ExecStart={} --config-dir {} proxy run --listen 127.0.0.1:7999 --log-file {}",
            crate::harness::qcc_bin().display(),
            dir.display(),
            dir.join("logs/daemon.log").display()
        )),
        "{unit}"
    );
    assert!(unit.contains("Restart=on-failure") && unit.contains("WantedBy=default.target"));
    assert!(!unit_file(&env).exists(), "--print installs nothing");
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_err() {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let file = env.root().join("qcc.service");
    std::fs::write(&file, &unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("qcc.service"),
        "systemd-analyze has remarks about the unit:\n{stderr}"
    );
}

#[test]
fn install_enables_the_unit_status_shows_it_and_uninstall_removes_it() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    let (bin, calls) = fake_systemctl(&env, 0);
    let out = env
        .cmd_with_path(&bin)
        .args(["proxy", "install", "--listen", "127.0.0.1:7999"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = unit_file(&env);
    assert!(
        std::fs::read_to_string(&unit)
            .unwrap()
            .contains("--listen 127.0.0.1:7999")
    );
    assert_eq!(
        std::fs::metadata(&unit).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "--user daemon-reload\n--user enable --now qcc.service\n"
    );
    // `proxy status` says so (the stand-in started nothing: not running, exit 3).
    let out = env.run(&["proxy", "status", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["installed"], unit.to_str().unwrap(), "{v}");
    // Uninstall: disabled, removed; a second time there is nothing to do.
    let out = env
        .cmd_with_path(&bin)
        .args(["proxy", "uninstall"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!unit.exists());
    assert!(
        std::fs::read_to_string(&calls)
            .unwrap()
            .contains("--user disable --now qcc.service\n")
    );
    let again = env
        .cmd_with_path(&bin)
        .args(["proxy", "uninstall"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("not installed"));
}

#[test]
fn without_a_user_systemd_install_says_how_to_enable_it_and_bad_input_is_refused() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    let (bin, _) = fake_systemctl(&env, 1);
    let out = env
        .cmd_with_path(&bin)
        .args(["proxy", "install"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error:") && stderr.contains("Failed to connect to bus"),
        "{stderr}"
    );
    assert!(
        stderr.contains("systemctl --user enable --now qcc.service"),
        "{stderr}"
    );
    assert!(unit_file(&env).exists(), "the unit is written for later");
    env.fail_with_hint(2, &["proxy", "install", "--print", "--listen", "nowhere"]);
}
