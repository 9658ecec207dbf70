//! Bad input: every case exits non-zero with one `error:` line plus a hint, and leaves the
//! state exactly as it was.

use crate::harness::TestEnv;

/// A state with two profiles, one tiered, and endpoints whose ids share a first digit.
fn seeded() -> TestEnv {
    let env = TestEnv::new();
    env.profile_with("work", 1);
    env.profile_with("home", 0);
    env.ok(&["priority", "set", "work", "primary"]);
    env
}

#[test]
fn bad_values_change_nothing() {
    let env = seeded();
    let before = env.snapshot();
    let cases: &[(i32, &[&str], &str)] = &[
        (
            2,
            &[
                "endpoint",
                "add",
                "work",
                "--url",
                "ftp://x.example.com",
                "--key",
                "k",
            ],
            "scheme 'ftp'",
        ),
        (
            2,
            &[
                "endpoint",
                "add",
                "work",
                "--url",
                "not a url",
                "--key",
                "k",
            ],
            "invalid URL",
        ),
        (
            2,
            &[
                "endpoint",
                "add",
                "work",
                "--url",
                "https://x.example.com",
                "--key",
                "k",
                "-w",
                "0",
            ],
            "weight 0",
        ),
        (
            2,
            &[
                "endpoint",
                "add",
                "work",
                "--url",
                "https://x.example.com",
                "--key",
                "k",
                "-w",
                "5000",
            ],
            "weight 5000",
        ),
        (
            2,
            &[
                "endpoint",
                "add",
                "work",
                "--url",
                "https://x.example.com",
                "--key",
                "  ",
            ],
            "key is empty",
        ),
        (
            2,
            &[
                "endpoint",
                "add",
                "work",
                "--url",
                "https://x.example.com",
                "--key-env",
                "QCC_IT_UNSET_VAR",
            ],
            "QCC_IT_UNSET_VAR",
        ),
        (
            1,
            &[
                "endpoint",
                "add",
                "nope",
                "--url",
                "https://x.example.com",
                "--key",
                "k",
            ],
            "no profile named 'nope'",
        ),
        (
            1,
            &[
                "endpoint",
                "add",
                "work",
                "--url",
                "https://work-0.example.com/",
                "--key",
                "sk-ant-api03-work-0-0123456789abcdef",
            ],
            "already has an endpoint",
        ),
        (
            1,
            &["endpoint", "remove", "work", "zzzzzz", "--yes"],
            "no endpoint matches",
        ),
        (
            1,
            &["endpoint", "edit", "home", "0", "--weight", "3"],
            "no endpoint matches",
        ),
        (1, &["profile", "remove", "work"], "primary tier"),
        (2, &["profile", "remove", "home"], "needs confirmation"),
        (2, &["profile", "add", "-bad"], ""),
        (2, &["profile", "add", "has space"], "invalid profile name"),
        (1, &["profile", "add", "work"], "already exists"),
        (1, &["profile", "rename", "home", "work"], "already exists"),
        (
            1,
            &["priority", "switch", "ghost"],
            "no profile named 'ghost'",
        ),
        (
            1,
            &["priority", "set", "ghost", "primary"],
            "no profile named",
        ),
        (2, &["priority", "policy", "--failure-threshold", "0"], ""),
        (2, &["profile", "edit", "work"], "nothing to change"),
        (2, &["endpoint", "edit", "work", "0"], "nothing to change"),
        (2, &["endpoint", "add", "work"], "missing --url, --key"),
    ];
    for (code, args, needle) in cases {
        let stderr = env.fail(*code, args);
        assert!(
            stderr.contains(needle),
            "qcc {args:?}: {needle:?} not in:\n{stderr}"
        );
        if *code == 1 || needle.is_empty() {
            // Our own errors carry a hint; clap's usage errors point at --help.
            assert!(
                stderr.contains("hint:") || stderr.contains("--help"),
                "qcc {args:?} gave no hint:\n{stderr}"
            );
        }
        assert!(!stderr.contains("0123456789abcdef"), "key leaked: {stderr}");
        assert_eq!(env.snapshot(), before, "qcc {args:?} changed the state");
    }
    let id = env.config()["profiles"][0]["endpoints"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stderr = env.fail_with_hint(2, &["endpoint", "remove", "work", &id]);
    assert!(
        stderr.contains("needs confirmation") && stderr.contains("--yes"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn ambiguous_ids_list_the_matches() {
    let env = TestEnv::new();
    // Enough endpoints that two ids share a first hex digit (pigeonhole: 17 > 16).
    let ids = env.profile_with("work", 17);
    let c = ids
        .iter()
        .map(|i| &i[..1])
        .find(|p| ids.iter().filter(|i| i.starts_with(*p)).count() > 1)
        .unwrap();
    let before = env.snapshot();
    let stderr = env.fail_with_hint(1, &["endpoint", "disable", "work", c]);
    assert!(stderr.contains("ambiguous"), "{stderr}");
    for id in ids.iter().filter(|i| i.starts_with(c)) {
        assert!(stderr.contains(id.as_str()), "{id} not listed in {stderr}");
    }
    assert_eq!(env.snapshot(), before);
}

#[test]
fn missing_flags_without_a_terminal_are_named() {
    let env = seeded();
    let stderr = env.fail_with_hint(
        2,
        &["endpoint", "add", "work", "--url", "https://x.example.com"],
    );
    assert!(stderr.contains("missing --key"), "{stderr}");
    assert!(
        !stderr.contains("--url"),
        "only the missing flags are named: {stderr}"
    );
}

#[test]
fn corrupt_state_fails_every_command_and_is_left_alone() {
    let env = seeded();
    let broken = "{\n  \"version\": 1,\n  \"profiles\": [\n    {oops}\n  ]\n}\n";
    std::fs::write(env.config_file(), broken).unwrap();
    let commands: &[&[&str]] = &[
        &["profile", "list"],
        &["profile", "add", "x"],
        &["profile", "show", "work"],
        &["endpoint", "list"],
        &[
            "endpoint",
            "add",
            "work",
            "--url",
            "https://x.example.com",
            "--key",
            "k",
        ],
        &["priority", "list"],
        &["priority", "switch", "home"],
        &["priority", "policy"],
        &["priority", "policy", "--cooldown", "9"],
        &["env", "work"],
    ];
    for args in commands {
        let stderr = env.fail_with_hint(1, args);
        assert!(stderr.contains("config.json"), "{args:?}: {stderr}");
        assert!(stderr.contains("line 4, column 6"), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 2, "one line plus a hint: {stderr}");
        assert_eq!(std::fs::read_to_string(env.config_file()).unwrap(), broken);
    }
}

#[test]
fn future_versions_are_refused_clearly() {
    let env = seeded();
    let future = r#"{"version": 99, "profiles": "a shape from the future"}"#;
    std::fs::write(env.config_file(), future).unwrap();
    let stderr = env.fail_with_hint(1, &["profile", "list"]);
    assert!(
        stderr.contains("newer qcc") && stderr.contains("99"),
        "{stderr}"
    );
    env.fail_with_hint(1, &["profile", "add", "x"]);
    assert_eq!(std::fs::read_to_string(env.config_file()).unwrap(), future);
}

#[test]
fn unusable_config_dir_is_reported() {
    let env = TestEnv::new();
    let file = env.root().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let out = env
        .cmd()
        .env("QCC_CONFIG_DIR", &file)
        .args(["profile", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("not a directory") && stderr.contains("hint:"),
        "{stderr}"
    );

    // A config file that cannot be read (a directory in its place).
    let env = TestEnv::new();
    std::fs::create_dir_all(env.config_file()).unwrap();
    let stderr = env.fail_with_hint(1, &["profile", "list"]);
    assert!(
        stderr.contains("cannot read") && stderr.contains("config.json"),
        "{stderr}"
    );

    // Permissions (only meaningful when not root: root reads everything).
    if unsafe { libc::geteuid() } != 0 {
        let env = TestEnv::new();
        env.ok(&["profile", "add", "x"]);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.config_dir(), std::fs::Permissions::from_mode(0o000)).unwrap();
        let stderr = env.fail_with_hint(1, &["profile", "list"]);
        std::fs::set_permissions(env.config_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(stderr.contains("ermission denied"), "{stderr}");
    }
}

#[test]
fn clap_usage_errors_exit_2() {
    let env = TestEnv::new();
    let out = env.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&[
        "endpoint",
        "add",
        "work",
        "--key",
        "a",
        "--key-env",
        "B",
        "--url",
        "https://x.com",
    ]);
    assert_eq!(out.status.code(), Some(2), "two key sources conflict");
}
