//! Unit tests of the queue rules, with an injected clock and jitter.

use super::*;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn settings() -> QueueSettings {
    QueueSettings::default()
}

fn item(id: &str, bytes: u64) -> NewItem {
    NewItem {
        id: id.into(),
        method: "POST".into(),
        path: "/v1/messages".into(),
        headers: vec![],
        stream: false,
        body_bytes: bytes,
        error: "HTTP 529".into(),
    }
}

#[test]
fn exponential_backoff_doubles_to_the_cap_with_bounded_jitter() {
    let s = settings();
    let secs: Vec<u64> = (1..=9).map(|a| backoff(&s, a, 0.5).as_secs()).collect();
    assert_eq!(secs, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    assert_eq!(backoff(&s, 1, 0.0).as_secs_f64(), 4.0);
    assert_eq!(backoff(&s, 1, 0.999_999).as_secs_f64().round(), 6.0);
    assert_eq!(
        backoff(&s, 12, 0.999).as_secs(),
        300,
        "jitter never passes the cap"
    );
    let fixed = QueueSettings {
        strategy: RetryStrategy::Fixed,
        interval_secs: 42,
        ..settings()
    };
    assert_eq!(backoff(&fixed, 7, 0.3).as_secs(), 42);
    let now = QueueSettings {
        strategy: RetryStrategy::Immediate,
        ..settings()
    };
    assert_eq!(backoff(&now, 3, 0.3).as_secs(), 0);
}

#[test]
fn the_schedule_advances_with_each_failure_until_dead() {
    let s = QueueSettings {
        max_retries: 3,
        ..settings()
    };
    let mut q = QueueIndex::default();
    q.enqueue(item("a", 10), &s, t(0), 0.5);
    assert_eq!(q.items[0].next_attempt_at, Some(t(5)));
    // Not due yet at t=4: an automatic pass claims nothing.
    assert!(q.claim(None, true, "w", t(4), 10).is_empty());
    assert_eq!(q.claim(None, true, "w", t(5), 10), ["a"]);
    q.record("a", Outcome::Failed("HTTP 503".into()), &s, t(5), 0.5);
    assert_eq!(q.items[0].state, ItemState::Pending);
    assert_eq!(
        q.items[0].next_attempt_at,
        Some(t(15)),
        "attempt 2 after 10 s"
    );
    assert_eq!(q.claim(None, true, "w", t(15), 10), ["a"]);
    q.record("a", Outcome::Failed("HTTP 503".into()), &s, t(15), 0.5);
    assert_eq!(
        q.items[0].next_attempt_at,
        Some(t(35)),
        "attempt 3 after 20 s"
    );
    // A manual retry-all does not wait for the schedule.
    assert_eq!(q.claim(None, false, "w", t(16), 10), ["a"]);
    q.record("a", Outcome::Failed("HTTP 503".into()), &s, t(16), 0.5);
    assert_eq!(q.items[0].state, ItemState::Dead);
    assert_eq!(q.items[0].attempts, 3);
    assert_eq!(q.totals.failed, 3);
}

#[test]
fn success_stores_the_response_and_rejection_is_final() {
    let s = settings();
    let mut q = QueueIndex::default();
    q.enqueue(item("a", 10), &s, t(0), 0.5);
    q.enqueue(item("b", 10), &s, t(0), 0.5);
    q.claim(None, false, "w", t(1), 10);
    let r = StoredResponse {
        status: 200,
        headers: vec![],
        bytes: 99,
        endpoint: Some("e1".into()),
        at: t(1),
    };
    q.record("a", Outcome::Succeeded(r.clone()), &s, t(1), 0.5);
    q.record("b", Outcome::Rejected("HTTP 400".into()), &s, t(1), 0.5);
    assert_eq!(q.items[0].state, ItemState::Succeeded);
    assert_eq!(q.items[0].response, Some(r));
    assert_eq!(q.items[1].state, ItemState::Dead);
    assert_eq!(q.totals.succeeded, 1);
}

#[test]
fn claims_are_exclusive_and_stale_ones_are_released() {
    let s = settings();
    let mut q = QueueIndex::default();
    for id in ["a", "b", "c"] {
        q.enqueue(item(id, 1), &s, t(0), 0.5);
    }
    assert_eq!(q.claim(None, false, "one", t(1), 2), ["a", "b"]);
    assert_eq!(
        q.claim(None, false, "two", t(1), 10),
        ["c"],
        "never the same item twice"
    );
    assert!(q.claim(None, false, "three", t(1), 10).is_empty());
    // Replayer "one" died: its items come back as pending, due now.
    assert_eq!(q.release_stale(|c| c == "two", t(2)), 2);
    assert_eq!(q.items[0].state, ItemState::Pending);
    assert_eq!(q.items[0].next_attempt_at, Some(t(2)));
    assert_eq!(q.items[2].state, ItemState::Retrying);
}

#[test]
fn limits_evict_the_oldest_first() {
    let s = QueueSettings {
        max_items: 3,
        max_total_bytes: 1000,
        max_age_secs: 3600,
        ..settings()
    };
    let mut q = QueueIndex::default();
    for (n, id) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        q.enqueue(item(id, 100), &s, t(n as i64), 0.5);
    }
    assert_eq!(q.evict(&s, t(10)), ["a", "b"]);
    q.enqueue(item("big", 900), &s, t(11), 0.5);
    assert_eq!(q.evict(&s, t(11)), ["c", "d"], "bytes over the cap");
    assert_eq!(q.evict(&s, t(5000)), ["e", "big"], "too old");
    assert_eq!(q.totals.evicted, 6);
}

#[test]
fn prefixes_resolve_or_list_matches() {
    let s = settings();
    let mut q = QueueIndex::default();
    for id in ["q1a", "q1b", "q2c"] {
        q.enqueue(item(id, 1), &s, t(0), 0.5);
    }
    assert_eq!(q.find("q2").unwrap().id, "q2c");
    assert_eq!(q.find("q1").unwrap_err(), ["q1a", "q1b"]);
    assert!(q.find("zz").unwrap_err().is_empty());
}
