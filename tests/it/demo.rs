//! `qcc demo` runs end to end with no key and no network, and leaves nothing behind.

use crate::harness::TestEnv;

#[test]
fn demo_streams_through_a_real_daemon_and_cleans_up() {
    let env = TestEnv::new();
    let tmp = env.root().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = env
        .cmd()
        .env("TMPDIR", &tmp)
        .args(["demo", "-n", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first request fails over within itself and still streams cleanly.
    assert!(
        stdout.contains("request 1 → 200 via") && stdout.contains("(attempts: 2)"),
        "{stdout}"
    );
    assert!(stdout.contains("request 2 → 200 via"), "{stdout}");
    assert!(stdout.contains("streamed from relay-b"), "{stdout}");
    // The routed request went to the OpenAI-compatible fake and came back as Anthropic events.
    assert!(
        stdout.contains("qcc translated me into Anthropic events."),
        "{stdout}"
    );
    assert!(
        stdout.contains("chat-c received POST /v1/chat/completions asking for 'demo-chat-model'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("serving: backup (failed over from 'main')"),
        "{stdout}"
    );
    assert!(
        stdout.contains("open (") && stdout.contains("breaker open after HTTP 529"),
        "{stdout}"
    );
    assert!(
        stdout.contains("failover") && stdout.contains("no available endpoint in 'main'"),
        "{stdout}"
    );
    assert!(stdout.contains("Stopped the daemon"));
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "temp files left: {left:?}");
    assert!(
        std::fs::read_dir(env.config_dir())
            .unwrap()
            .next()
            .is_none(),
        "the user's config is untouched"
    );
}
