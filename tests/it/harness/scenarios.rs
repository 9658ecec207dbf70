//! Two small setups many routing tests share: two endpoints tried in order in one profile,
//! and two profiles in two tiers.

use qcc::fake::FakeUpstream;

use crate::harness::TestEnv;

/// Two endpoints of profile `work`, tried in order (`ordered` strategy): A then B. A
/// streaming request waits at most 1 s for headers.
pub struct Pair {
    pub env: TestEnv,
    pub a: FakeUpstream,
    pub b: FakeUpstream,
    pub a_id: String,
    pub b_id: String,
}

/// A `Pair`; `a_url` replaces A's URL (e.g. a port nobody listens on).
pub fn pair(a_url: Option<String>) -> Pair {
    let env = TestEnv::new();
    let a = FakeUpstream::spawn_named("a").unwrap();
    let b = FakeUpstream::spawn_named("b").unwrap();
    let a_id = env.endpoint_for(
        "work",
        &a_url.unwrap_or(a.url()),
        "sk-a-00000000000001",
        "api-key",
    );
    let b_id = env.endpoint_for("work", &b.url(), "sk-b-00000000000002", "api-key");
    env.ok(&["profile", "edit", "work", "--strategy", "ordered"]);
    env.edit_config(|c| c.proxy.stream_header_timeout_secs = 1);
    Pair {
        env,
        a,
        b,
        a_id,
        b_id,
    }
}

/// Profile `main` (primary tier) with endpoint A, profile `spare` (secondary) with B, and
/// the given `qcc priority policy` flags.
pub fn two_tiers(policy: &[&str]) -> Pair {
    let env = TestEnv::new();
    let a = FakeUpstream::spawn_named("primary").unwrap();
    let b = FakeUpstream::spawn_named("backup").unwrap();
    let a_id = env.endpoint_for("main", &a.url(), "sk-a-00000000000003", "api-key");
    let b_id = env.endpoint_for("spare", &b.url(), "sk-b-00000000000004", "api-key");
    env.ok(&["priority", "set", "main", "primary"]);
    env.ok(&["priority", "set", "spare", "secondary"]);
    let mut args = vec!["priority", "policy"];
    args.extend_from_slice(policy);
    env.ok(&args);
    Pair {
        env,
        a,
        b,
        a_id,
        b_id,
    }
}
