//! Chaos: 200 concurrent streams while endpoints fail and recover at random. Every request
//! must end in a success or a well-formed error, none may hang, and the daemon's memory
//! must stay flat.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use qcc::fake::{FakeUpstream, Fault};
use rand::RngExt;

use crate::harness::TestEnv;
use crate::harness::client::{STREAM, send};
use crate::harness::daemon::{client, rss_kib, runtime};

fn random_fault(rng: &mut impl rand::Rng) -> Fault {
    match rng.random_range(0..8) {
        0 => Fault::status(500),
        1 => Fault::status(529),
        2 => Fault::rate_limited(1),
        3 => Fault::ResetBeforeHeaders,
        4 => Fault::DieAfterEvents(2),
        5 => Fault::ErrorEvent,
        6 => Fault::SlowStream(Duration::from_millis(5)),
        _ => Fault::None,
    }
}

#[test]
fn two_hundred_streams_through_random_failures() {
    let env = TestEnv::new();
    let ups: Arc<Vec<FakeUpstream>> =
        Arc::new((0..4).map(|_| FakeUpstream::spawn().unwrap()).collect());
    for (i, up) in ups.iter().enumerate() {
        let profile = if i < 3 { "main" } else { "spare" };
        env.endpoint_for(
            profile,
            &up.url(),
            &format!("sk-chaos-000000{i}"),
            "api-key",
        );
    }
    env.ok(&["priority", "set", "main", "primary"]);
    env.ok(&["priority", "set", "spare", "secondary"]);
    env.ok(&[
        "priority",
        "policy",
        "--failure-threshold",
        "2",
        "--cooldown",
        "1",
        "--recovery-hold",
        "1",
    ]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    let round = |n: usize| {
        rt.block_on(join_all((0..n).map(|i| {
            let http = http.clone();
            let base = proxy.base_url.clone();
            async move {
                let session = format!("chaos-{}", i % 50);
                tokio::time::timeout(
                    Duration::from_secs(60),
                    send(&http, &base, STREAM, Some(&session)),
                )
                .await
            }
        })))
    };
    // Warm up, then note the memory.
    for r in round(200) {
        assert!(r.unwrap().unwrap().is_clean_stream());
    }
    let before = rss_kib(proxy.pid);

    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let ups = ups.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut rng = rand::rng();
            while !stop.load(Ordering::Relaxed) {
                let up = &ups[rng.random_range(0..ups.len())];
                up.set_default_fault(random_fault(&mut rng));
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let mut outcomes = (0, 0);
    for _ in 0..3 {
        for r in round(200) {
            let reply = r
                .expect("a request hung")
                .expect("a transport error reached the client");
            assert!(reply.is_well_formed(), "malformed outcome: {reply:?}");
            if reply.status == 200 && reply.is_clean_stream() {
                outcomes.0 += 1;
            } else {
                outcomes.1 += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    chaos.join().unwrap();
    assert!(outcomes.0 > 0, "some requests succeeded: {outcomes:?}");

    // Everything healthy again: all requests succeed, nothing is left in flight.
    for up in ups.iter() {
        up.set_default_fault(Fault::None);
    }
    env.wait_status(Duration::from_secs(10), "drained", |s| s["in_flight"] == 0);
    let after = rss_kib(proxy.pid);
    eprintln!(
        "chaos: {} clean, {} well-formed errors; RSS {before} → {after} KiB",
        outcomes.0, outcomes.1
    );
    assert!(
        after < before + 30 * 1024,
        "daemon RSS grew from {before} KiB to {after} KiB"
    );
}
