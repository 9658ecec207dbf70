//! Response bodies: the boxed body type, the `Outcome` guard that counts completed and
//! abandoned responses, and the paced SSE event stream (one body frame per event).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;

use super::Shared;

/// Error type of response bodies (and of the service, through `Abort`).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response body the fake sends.
pub(crate) type FakeBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body sent in one frame.
pub(crate) fn full(bytes: impl Into<Bytes>) -> FakeBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// Tracks one response until its body ends. Dropped unsettled (the connection or the
/// service future went away first), it counts a disconnect.
pub(crate) struct Outcome {
    shared: Arc<Shared>,
    settled: bool,
}

impl Outcome {
    pub fn new(shared: Arc<Shared>) -> Outcome {
        Outcome {
            shared,
            settled: false,
        }
    }

    /// The response went out whole: count it as completed.
    pub fn complete(mut self) {
        self.settled = true;
        self.shared.count_completed();
    }

    /// The fake broke the response on purpose: count nothing.
    pub fn abandon(mut self) {
        self.settled = true;
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.count_disconnect();
        }
    }
}

/// How an event stream misbehaves.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pacing {
    /// Wait before each event.
    pub delay: Option<Duration>,
    /// After this many events, fail the body (hyper then drops the connection).
    pub die_after: Option<usize>,
}

/// A body that yields each encoded event as its own frame, giving hyper a chance to flush
/// between frames; completes `outcome` after the last one.
pub(crate) fn event_stream(events: Vec<Bytes>, pacing: Pacing, outcome: Outcome) -> FakeBody {
    let feed = EventFeed {
        shared: Arc::clone(&outcome.shared),
        events: events.into(),
        sent: 0,
        pacing,
        outcome: Some(outcome),
    };
    StreamBody::new(futures_util::stream::unfold(feed, EventFeed::step)).boxed_unsync()
}

type Step = (Result<Frame<Bytes>, BoxError>, EventFeed);

struct EventFeed {
    shared: Arc<Shared>,
    events: VecDeque<Bytes>,
    sent: usize,
    pacing: Pacing,
    /// `None` once the stream has ended or died.
    outcome: Option<Outcome>,
}

impl EventFeed {
    async fn step(mut self) -> Option<Step> {
        let outcome = self.outcome.take()?;
        self.pause().await;
        if self.dies_now() {
            outcome.abandon();
            return Some((Err("fake upstream: stream cut on purpose".into()), self));
        }
        let Some(event) = self.events.pop_front() else {
            outcome.complete();
            return None;
        };
        self.sent += 1;
        self.shared.count_event();
        self.outcome = Some(outcome);
        Some((Ok(Frame::data(event)), self))
    }

    fn dies_now(&self) -> bool {
        self.pacing.die_after == Some(self.sent)
    }

    /// Sleep before an event when slowed; otherwise just yield, so that hyper flushes the
    /// previous frame before it gets the next one (or the error).
    async fn pause(&self) {
        match self.pacing.delay {
            Some(delay) if !self.dies_now() && !self.events.is_empty() => {
                tokio::time::sleep(delay).await
            }
            _ => tokio::task::yield_now().await,
        }
    }
}
