//! `qcc priority …` against the real binary.

use crate::harness::TestEnv;

#[test]
fn tiers_switch_and_history() {
    let env = TestEnv::new();
    for p in ["work", "relay", "backup"] {
        env.profile_with(p, 1);
    }
    env.ok(&["priority", "set", "work", "primary"]);
    env.ok(&["priority", "set", "relay", "secondary"]);
    env.ok(&["priority", "set", "backup", "secondary"]);
    let v = env.json(&["priority", "list"]);
    let order: Vec<(&str, &str)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["tier"].as_str().unwrap(), e["profile"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("primary", "work"),
            ("secondary", "relay"),
            ("secondary", "backup")
        ]
    );
    assert_eq!(v["active"], "work");

    // switch: prints from → to, exit 0, no prompt (stdin is /dev/null).
    assert_eq!(
        env.ok(&["priority", "switch", "backup"]).trim(),
        "work → backup"
    );
    assert_eq!(
        env.ok(&["priority", "switch", "backup"]).trim(),
        "backup → backup (already active)"
    );
    env.ok(&["priority", "switch", "work", "--reason", "quota reset"]);
    let h = env.json(&["priority", "history"]);
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 2, "a no-op switch is not recorded");
    assert_eq!(h[0]["to"], "work");
    assert_eq!(h[0]["reason"], "quota reset");
    assert_eq!(h[0]["kind"], "manual");
    assert_eq!(h[1]["from"], "work");
    assert_eq!(
        env.json(&["priority", "history", "-n", "1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let table = env.ok(&["priority", "history"]);
    assert!(table.contains("manual") && table.contains("quota reset"));

    env.ok(&["priority", "set", "relay", "none"]);
    assert!(env.config()["tiers"]["secondary"] == serde_json::json!(["backup"]));
}

#[test]
fn policy_shows_and_changes() {
    let env = TestEnv::new();
    let v = env.json(&["priority", "policy"]);
    assert_eq!(v["auto_failover"], true);
    assert_eq!(v["failure_threshold"], 3);
    assert_eq!(v["cooldown_secs"], 30);
    assert_eq!(v["recovery_hold_secs"], 300);
    env.ok(&[
        "priority",
        "policy",
        "--no-auto-recovery",
        "--failure-threshold",
        "5",
        "--cooldown",
        "60",
        "--recovery-hold",
        "0",
    ]);
    let v = env.json(&["priority", "policy"]);
    assert_eq!(
        (v["auto_failover"].as_bool(), v["auto_recovery"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(v["failure_threshold"], 5);
    assert_eq!(v["cooldown_secs"], 60);
    assert_eq!(v["recovery_hold_secs"], 0);
    env.ok(&[
        "priority",
        "policy",
        "--auto-recovery",
        "--no-auto-failover",
    ]);
    let v = env.json(&["priority", "policy"]);
    assert_eq!(
        (v["auto_failover"].as_bool(), v["auto_recovery"].as_bool()),
        (Some(false), Some(true))
    );
}

#[test]
fn switch_is_scriptable_in_a_loop() {
    let env = TestEnv::new();
    env.profile_with("a", 1);
    env.profile_with("b", 1);
    let out = env
        .shell_cmd("bash")
        .args([
            "-c",
            "for i in 1 2 3; do qcc priority switch b && qcc priority switch a || exit 9; done",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.json(&["priority", "history"]).as_array().unwrap().len(),
        6
    );
}
