//! `qcc endpoint …` against the real binary.

use std::io::Write;
use std::process::Stdio;

use crate::harness::TestEnv;

#[test]
fn add_from_every_key_source() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    let a = env.json(&[
        "endpoint",
        "add",
        "work",
        "--url",
        "https://a.example.com/",
        "--key",
        "sk-a-0000000000001111",
        "--name",
        "main",
        "-w",
        "300",
    ]);
    assert_eq!(
        a["url"], "https://a.example.com",
        "trailing slash normalised"
    );
    assert_eq!(a["weight"], 300);
    assert_eq!(a["auth"], "api-key");
    assert_eq!(a["key"], "sk-a-…1111");

    let out = env
        .cmd()
        .args([
            "endpoint",
            "add",
            "work",
            "--url",
            "https://b.example.com",
            "--key-env",
            "MY_KEY",
            "--auth",
            "bearer",
        ])
        .env("MY_KEY", "sk-b-0000000000002222")
        .output()
        .unwrap();
    assert!(out.status.success());

    let mut child = env
        .cmd()
        .args([
            "endpoint",
            "add",
            "work",
            "--url",
            "https://c.example.com",
            "--key-stdin",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sk-c-0000000000003333\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());

    let cfg = env.config();
    let eps = cfg["profiles"][0]["endpoints"].as_array().unwrap();
    let keys: Vec<&str> = eps.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "sk-a-0000000000001111",
            "sk-b-0000000000002222",
            "sk-c-0000000000003333"
        ]
    );
    assert_eq!(eps[1]["auth"], "bearer");
    let ids: Vec<&str> = eps.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(
        ids.iter()
            .all(|id| id.len() == 6 && id.chars().all(|c| c.is_ascii_hexdigit()))
    );
}

#[test]
fn list_masks_keys_unless_asked() {
    let env = TestEnv::new();
    env.profile_with("work", 1);
    env.profile_with("home", 1);
    for args in [
        &["endpoint", "list"][..],
        &["endpoint", "list", "--json"][..],
    ] {
        let out = env.ok(args);
        assert!(
            !out.contains("0123456789abcdef"),
            "key leaked by {args:?}:\n{out}"
        );
        assert!(out.contains("…cdef"));
    }
    let all = env.json(&["endpoint", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let only = env.json(&["endpoint", "list", "home"]);
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["profile"], "home");
    let shown = env.ok(&["endpoint", "list", "--show-keys"]);
    assert!(shown.contains("sk-ant-api03-work-0-0123456789abcdef"));
}

#[test]
fn ids_are_stable_and_prefixes_resolve() {
    let env = TestEnv::new();
    let ids = env.profile_with("work", 3);
    let id = &ids[1];
    // A unique prefix: the shortest prefix of ids[1] that no other id shares.
    let prefix = (1..=6)
        .map(|n| &id[..n])
        .find(|p| ids.iter().filter(|i| i.starts_with(p)).count() == 1)
        .unwrap();
    env.ok(&["endpoint", "disable", "work", prefix]);
    env.ok(&[
        "endpoint", "edit", "work", id, "--weight", "7", "--name", "second",
    ]);
    let v = env.json(&["endpoint", "list", "work"]);
    let e = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap();
    assert_eq!(
        (e["enabled"].as_bool(), e["weight"].as_u64()),
        (Some(false), Some(7))
    );
    assert_eq!(e["name"], "second");
    env.ok(&["endpoint", "enable", "work", id]);
    env.ok(&[
        "endpoint",
        "edit",
        "work",
        id,
        "--url",
        "https://moved.example.com",
    ]);
    let v = env.json(&["endpoint", "list", "work"]);
    let e = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap();
    assert_eq!(e["enabled"], true);
    assert_eq!(
        e["url"], "https://moved.example.com",
        "id kept across edits"
    );
    env.ok(&["endpoint", "remove", "work", id, "--yes"]);
    assert_eq!(env.json(&["endpoint", "list"]).as_array().unwrap().len(), 2);
}

#[test]
fn from_reuses_endpoints_of_another_profile() {
    let env = TestEnv::new();
    let ids = env.profile_with("work", 3);
    env.ok(&["profile", "add", "backup"]);
    env.ok(&[
        "endpoint", "add", "backup", "--from", "work", "--only", &ids[2], "-w", "5",
    ]);
    let v = env.json(&["endpoint", "list", "backup", "--show-keys"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["url"], "https://work-2.example.com");
    assert_eq!(v[0]["key"], "sk-ant-api03-work-2-0123456789abcdef");
    assert_eq!(v[0]["weight"], 5);
    assert_ne!(
        v[0]["id"],
        ids[2].as_str(),
        "a reused endpoint gets its own id"
    );

    env.ok(&["profile", "add", "all"]);
    env.ok(&["endpoint", "add", "all", "--from", "work"]);
    assert_eq!(
        env.json(&["endpoint", "list", "all"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
