//! The state protocol under stress: concurrent writers all land; a writer killed at any
//! instant leaves a parseable document.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use qcc::state::model::{AuthStyle, Config, NewEndpoint, Strategy};
use qcc::state::secret::Secret;
use qcc::state::{Paths, Store, StoreError};
use rand::RngExt;

use crate::harness::TestEnv;

#[test]
fn fifty_concurrent_endpoint_adds_all_land() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "p"]);
    let children: Vec<Child> = (0..50)
        .map(|i| {
            env.cmd()
                .args([
                    "endpoint",
                    "add",
                    "p",
                    "--url",
                    &format!("https://h{i}.example.com"),
                    "--key",
                    &format!("sk-concurrent-{i:04}-abcdefgh"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cfg = env.config();
    let eps = cfg["profiles"][0]["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 50);
    let mut urls: Vec<&str> = eps.iter().map(|e| e["url"].as_str().unwrap()).collect();
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), 50);
    let mut ids: Vec<&str> = eps.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "ids are unique");
}

/// Write a large state directly through the library (fast), so that each CLI write takes
/// long enough to be killed in the middle of it.
fn big_state(env: &TestEnv, endpoints: usize) {
    let store = Store::open(Paths::at(env.config_dir())).unwrap();
    store
        .update(|c: &mut Config| {
            c.add_profile("big", None, Strategy::Weighted, chrono::Utc::now())
                .unwrap();
            for i in 0..endpoints {
                let new = NewEndpoint {
                    name: Some(format!("endpoint number {i}")),
                    url: format!("https://relay-{i}.example.com/anthropic"),
                    key: qcc::state::model::Credential::Value(Secret::new(format!(
                        "sk-ant-api03-{i:08}-{}",
                        "x".repeat(80)
                    ))),
                    auth: AuthStyle::Bearer,
                    weight: 100,
                    models: Vec::new(),
                    kind: Default::default(),
                    chat_path: None,
                };
                c.add_endpoint("big", new, || format!("{i:06x}")).unwrap();
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

#[test]
fn sigkill_at_random_instants_never_tears_the_document() {
    let env = TestEnv::new();
    big_state(&env, 2000);
    let before = env.config()["profiles"][0]["endpoints"]
        .as_array()
        .unwrap()
        .len();

    // How long one write takes here, to spread the kills over it.
    let t = Instant::now();
    env.ok(&[
        "endpoint",
        "add",
        "big",
        "--url",
        "https://timing.example.com",
        "--key",
        "k-timing",
    ]);
    let write_time = t.elapsed();

    let mut rng = rand::rng();
    let mut landed = 1;
    for round in 0..30 {
        let mut child = env
            .cmd()
            .args([
                "endpoint",
                "add",
                "big",
                "--url",
                &format!("https://kill-{round}.example.com"),
                "--key",
                "k-kill",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // A random kill instant within (and a little past) one write: this is the point of
        // the test, not a wait for readiness.
        let max = write_time.as_micros() as u64 * 3 / 2 + 1;
        std::thread::sleep(Duration::from_micros(rng.random_range(0..max)));
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        let status = child.wait().unwrap();
        if status.success() {
            landed += 1;
        }
        // The document must always parse, hold every earlier endpoint, and hold this one
        // exactly when the process finished.
        let bytes = std::fs::read(env.config_file()).unwrap();
        let cfg: Config = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("round {round}: torn document: {e}"));
        let n = cfg.profiles[0].endpoints.len();
        assert!(
            n == before + landed || (!status.success() && n == before + landed + 1),
            "round {round}: {n} endpoints, expected {} (+1 if killed after the rename)",
            before + landed
        );
        landed = n - before;
    }
    // And qcc itself still reads and writes it (stale temp files are swept).
    env.ok(&[
        "endpoint",
        "add",
        "big",
        "--url",
        "https://after.example.com",
        "--key",
        "k-after",
    ]);
    let leftovers: Vec<_> = std::fs::read_dir(env.config_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    std::fs::remove_dir(env.config_dir()).unwrap();
    env.profile_with("a", 1);
    env.ok(&["priority", "switch", "a"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.config_dir()), 0o700);
    for f in ["config.json", ".lock"] {
        assert_eq!(mode(&env.config_dir().join(f)), 0o600, "{f}");
    }
}
