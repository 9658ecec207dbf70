//! `qcc config path|export|import|edit`: keys masked by default, a round trip that changes
//! nothing, every bad file refused whole with config.json byte for byte as it was, and an
//! editor session that is applied, unchanged, or refused and kept aside.

use std::os::unix::fs::PermissionsExt;

use crate::harness::TestEnv;

/// Two profiles, one endpoint with a stored key and one with a reference, in tiers.
fn setup() -> (TestEnv, String) {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    env.ok(&["profile", "add", "spare"]);
    let v = env.json(&[
        "endpoint",
        "add",
        "work",
        "--url",
        "https://api.anthropic.com",
        "--key",
        "sk-ant-api03-secretsecret-9f2c",
    ]);
    env.ok(&[
        "endpoint",
        "add",
        "spare",
        "--url",
        "https://relay.example",
        "--key-ref",
        "env:RELAY",
    ]);
    env.ok(&["priority", "set", "work", "primary"]);
    (env, v["id"].as_str().unwrap().to_owned())
}

fn write(env: &TestEnv, name: &str, text: &str) -> String {
    let p = env.root().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn export_masks_keys_and_a_round_trip_changes_nothing() {
    let (env, _) = setup();
    let masked = env.ok(&["config", "export"]);
    assert!(!masked.contains("secretsecret"), "{masked}");
    assert!(
        masked.contains("sk-ant-api03-…9f2c") && masked.contains("env:RELAY"),
        "{masked}"
    );
    let before = env.snapshot();
    // A masked export imports back: the keys come from the endpoints with the same ids.
    let file = write(&env, "masked.json", &masked);
    let out = env.ok(&["config", "import", &file]);
    assert!(out.contains("nothing to change"), "{out}");
    assert_eq!(env.snapshot(), before);

    let full = env.ok(&["config", "export", "--with-keys"]);
    assert!(full.contains("sk-ant-api03-secretsecret-9f2c"));
    let path = env.root().join("backup.json");
    env.ok(&[
        "config",
        "export",
        "--with-keys",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), full);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(env.ok(&["config", "path"]).trim().ends_with("config.json"));
    assert!(env.json(&["config", "path"])["log_file"].is_string());
}

#[test]
fn an_import_replaces_the_config_and_a_dry_run_only_says_so() {
    let (env, id) = setup();
    let mut v: serde_json::Value = serde_json::from_str(&env.ok(&["config", "export"])).unwrap();
    v["profiles"][0]["endpoints"][0]["weight"] = 300.into();
    v["profiles"].as_array_mut().unwrap().remove(1);
    v["tiers"]["secondary"] = serde_json::json!([]);
    let file = write(&env, "new.json", &v.to_string());
    let before = env.snapshot();
    let plan = env.json(&["config", "import", &file, "--dry-run"]);
    let changes = plan["changes"].to_string();
    assert!(
        changes.contains("~ profile work") && changes.contains("- profile spare"),
        "{plan}"
    );
    assert_eq!(env.snapshot(), before, "a dry run writes nothing");
    env.ok(&["config", "import", &file]);
    let c = env.config();
    assert_eq!(c["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(c["profiles"][0]["endpoints"][0]["weight"], 300);
    assert_eq!(c["profiles"][0]["endpoints"][0]["id"], id.as_str());
    assert_eq!(
        c["profiles"][0]["endpoints"][0]["key"],
        "sk-ant-api03-secretsecret-9f2c"
    );
}

#[test]
fn bad_files_are_refused_whole_with_a_hint() {
    let (env, _) = setup();
    let good: serde_json::Value = serde_json::from_str(&env.ok(&["config", "export"])).unwrap();
    let before = env.snapshot();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string()
    };
    let cases = [
        ("{ not json".to_owned(), "not valid JSON"),
        (
            edit(&|v| v["tiers"]["primary"] = serde_json::json!(["ghost"])),
            "tiers.primary",
        ),
        (
            edit(&|v| {
                v["profiles"][1]["endpoints"][0]["id"] =
                    v["profiles"][0]["endpoints"][0]["id"].clone()
            }),
            "appears twice",
        ),
        (
            edit(&|v| v["profiles"][0]["endpoints"][0]["url"] = "ftp://x".into()),
            "profiles[0].endpoints[0].url",
        ),
        (
            edit(&|v| v["profiles"][0]["endpoints"][0]["id"] = "zzz999".into()),
            "zzz999",
        ),
        (
            edit(&|v| v["profiles"][0]["strategy"] = "fastest-ever".into()),
            "not a qcc config",
        ),
    ];
    for (i, (text, says)) in cases.iter().enumerate() {
        let file = write(&env, &format!("bad{i}.json"), text);
        let err = env.fail_with_hint(1, &["config", "import", &file]);
        assert!(err.contains(says), "case {i}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
        assert_eq!(env.snapshot(), before, "case {i} changed nothing");
    }
    env.fail_with_hint(1, &["config", "import", "/nonexistent/qcc.json"]);
}

/// An `$EDITOR` that runs `script` on the file it is given.
fn editor(env: &TestEnv, script: &str) -> String {
    let p = env.root().join(format!("editor-{}.sh", script.len()));
    std::fs::write(&p, format!("#!/bin/sh\nset -e\n{script}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn an_edit_is_applied_unchanged_or_refused_and_kept_aside() {
    let (env, _) = setup();
    let run_edit = |script: &str| {
        env.cmd()
            .args(["config", "edit"])
            .env("EDITOR", editor(&env, script))
            .output()
            .unwrap()
    };
    let out = run_edit("sed -i 's/\"weight\": 100/\"weight\": 42/' \"$1\"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.config()["profiles"][0]["endpoints"][0]["weight"], 42);

    let before = env.snapshot();
    let out = run_edit("true");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no changes"));
    assert_eq!(env.snapshot(), before);

    let out = run_edit("sed -i 's/\"weight\": 42/\"weight\": 0/' \"$1\"");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("weight") && err.contains("config.json.rejected"),
        "{err}"
    );
    let kept = env.config_dir().join("config.json.rejected");
    assert!(
        std::fs::read_to_string(&kept)
            .unwrap()
            .contains("\"weight\": 0")
    );
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        env.config()["profiles"][0]["endpoints"][0]["weight"],
        42,
        "unchanged"
    );

    let out = run_edit("exit 3");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(env.config()["profiles"][0]["endpoints"][0]["weight"], 42);
}
