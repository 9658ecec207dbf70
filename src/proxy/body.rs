//! Response bodies passed through frame by frame: every upstream chunk becomes a client
//! frame at once (no buffering, no compression). Chunks that have *already arrived*
//! together are written together: on getting a chunk, the body lets the upstream
//! connection's task run once (a yield, not a wait) and takes whatever else that task had
//! read, so an upstream that sent five events in one TCP segment costs one client write, not
//! five. A chunk is never held waiting for data that has not arrived. Between chunks an idle timeout applies,
//! never a total timeout. Token usage is read passively from SSE `message_start` /
//! `message_delta` lines without delaying the chunk. When the body ends (cleanly, with an
//! upstream failure, or because the client went away) the endpoint's stats are updated once.
//!
//! An upstream failure after the stream started (the commit point) is never disguised as a
//! clean end: an SSE stream gets an in-band `event: error` in Anthropic's shape and ends;
//! any other body ends with an error, so the client sees a truncated response.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::proxy::error::sse_error_event;
use crate::sse;
use crate::upstream::Upstream;
use crate::upstream::breaker::{BreakerPolicy, Failure};
use crate::upstream::stats::InFlight;
use crate::usage::Reported;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every proxy response.
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// At most this much is taken from the upstream before it is handed over, yield or not.
const MAX_TAKEN_CHUNKS: usize = 16;
const MAX_TAKEN_BYTES: usize = 64 * 1024;
/// Turns given to the upstream connection's task after a chunk before handing over.
const YIELDS: u32 = 2;

/// What happens when the body is finished.
struct Completion {
    upstream: Arc<Upstream>,
    policy: BreakerPolicy,
    _in_flight: InFlight,
    /// The usage accounting hears of the answer, with its tokens.
    tally: Option<crate::usage::Tally>,
    /// Tokens admitted at an estimate against the endpoint's limits, settled at the end.
    reservation: Option<crate::upstream::limits::Reservation>,
}

/// An upstream response body (`B`: hyper's `Incoming`; tests use their own) on its way to
/// the client.
pub struct Passthrough<B> {
    source: B,
    /// Bytes already read from the stream (its first event), sent first.
    prefix: Option<Bytes>,
    /// Chunks taken from the stream, not yet handed to the client connection.
    taken: std::collections::VecDeque<Bytes>,
    taken_bytes: usize,
    /// Yields since the last chunk was taken.
    yields: u32,
    /// `taken` is being handed over (the stream had nothing more after a yield).
    releasing: bool,
    /// The stream ended (`None`: cleanly; else with this failure) after `taken` was taken.
    ended: Option<Option<String>>,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    sse: Option<sse::UsageSniffer>,
    /// A whole (JSON) answer's `usage`, read when the answer is counted.
    whole: Option<sse::WholeUsage>,
    /// The body has ended (cleanly, or after its final error frame).
    done: bool,
    completion: Option<Completion>,
}

impl<B> Passthrough<B> {
    pub fn new(
        source: B,
        prefix: Option<Bytes>,
        idle: Duration,
        sse: bool,
        upstream: Arc<Upstream>,
        policy: BreakerPolicy,
        in_flight: InFlight,
    ) -> Self {
        // The prefix is read for usage now, before anything `then` adds: the sniffer must
        // see the stream in order (a `message_start` after a `message_delta` would undo
        // its output count).
        let mut sniffer = sse.then(sse::UsageSniffer::default);
        if let (Some(s), Some(first)) = (&mut sniffer, &prefix) {
            s.feed(first);
        }
        Self {
            source,
            prefix,
            taken: std::collections::VecDeque::new(),
            taken_bytes: 0,
            yields: 0,
            releasing: false,
            ended: None,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            sse: sniffer,
            whole: None,
            done: false,
            completion: Some(Completion {
                upstream,
                policy,
                _in_flight: in_flight,
                tally: None,
                reservation: None,
            }),
        }
    }

    /// Report the answer to the usage accounting when it ends (a whole answer's `usage` is
    /// read from its last bytes as they pass). Called before [`then`](Self::then).
    pub fn tally(mut self, tally: crate::usage::Tally) -> Self {
        if self.sse.is_none() {
            let mut whole = sse::WholeUsage::default();
            if let Some(first) = &self.prefix {
                whole.feed(first);
            }
            self.whole = Some(whole);
        }
        if let Some(c) = &mut self.completion {
            c.tally = Some(tally);
        }
        self
    }

    /// Settle `reservation` with the answer's real tokens when it ends (a whole answer's
    /// `usage` is then read as it passes). Called before [`then`](Self::then).
    pub fn reserve(mut self, reservation: Option<crate::upstream::limits::Reservation>) -> Self {
        let Some(r) = reservation else {
            return self;
        };
        if self.sse.is_none() && self.whole.is_none() {
            let mut whole = sse::WholeUsage::default();
            if let Some(first) = &self.prefix {
                whole.feed(first);
            }
            self.whole = Some(whole);
        }
        if let Some(c) = &mut self.completion {
            c.reservation = Some(r);
        }
        self
    }

    /// The source has already ended (`None`: cleanly; else with this failure): after the
    /// prefix (and what [`then`](Self::then) added), the body ends so.
    pub fn ended(mut self, end: Option<String>) -> Self {
        self.ended = Some(end);
        self
    }

    /// A chunk already read from the source, handed over right after the prefix.
    pub fn then(mut self, chunk: Bytes) -> Self {
        if let Some(s) = &mut self.sse {
            s.feed(&chunk);
        }
        if let Some(w) = &mut self.whole {
            w.feed(&chunk);
        }
        self.taken_bytes += chunk.len();
        self.taken.push_back(chunk);
        self.releasing = true;
        self
    }

    fn finish(&mut self, failure: Option<String>) {
        if let Some(c) = self.completion.take() {
            let u = &c.upstream;
            // A stream's tokens are counted already; a whole answer's are read here only
            // when a tpm reservation needs them now, else by the recorder.
            let mut usage = match (&self.sse, self.whole.take()) {
                (Some(s), _) => Reported::Tokens(s.usage().into()),
                (None, Some(w)) => Reported::Whole(w),
                (None, None) => Reported::Tokens(Default::default()),
            };
            if let Some(r) = c.reservation {
                usage = Reported::Tokens(usage.tokens());
                r.settle(usage.tokens().total());
            }
            if let Some(t) = c.tally {
                t.close(&u.shared_id, &u.shared_profile, usage, failure.is_some());
            }
            if let Some(s) = &self.sse {
                u.stats.add_usage(s.input(), s.output());
            }
            if failure.is_none() {
                // Ended cleanly (or the client left: not the endpoint's fault).
                u.stats.record_success();
            }
            if let Some(msg) = failure {
                tracing::warn!(endpoint = %u.id, "response failed after it started: {msg}");
                let reason = format!("failed mid-stream: {msg}");
                u.stats.record_error(&reason);
                u.breaker.failure(
                    &Failure::Transient(reason),
                    c.policy,
                    u.key_fp(),
                    std::time::Instant::now(),
                );
            }
        }
    }

    /// Start handing `taken` (not empty) over, one frame per poll: hyper queues frames that
    /// come ready one after another and writes them together.
    fn release(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.releasing = true;
        let chunk = self.taken.pop_front().unwrap_or_default();
        self.taken_bytes -= chunk.len();
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    /// The stream is over: cleanly (`None`) or with a failure.
    fn end(&mut self, failure: Option<String>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match failure {
            None => {
                self.finish(None);
                self.done = true;
                Poll::Ready(None)
            }
            Some(message) => self.fail(message),
        }
    }

    /// The upstream failed after the commit point.
    fn fail(&mut self, message: String) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.finish(Some(message.clone()));
        self.done = true;
        if self.sse.is_some() {
            Poll::Ready(Some(Ok(Frame::data(sse_error_event(
                "api_error",
                &format!("upstream stream failed: {message}"),
            )))))
        } else {
            Poll::Ready(Some(Err(message.into())))
        }
    }
}

/// The next data chunk of an upstream body (trailers and other frames are skipped): `None`
/// at its end.
pub fn poll_chunk<B>(body: &mut B, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, B::Error>>>
where
    B: Body<Data = Bytes> + Unpin,
{
    loop {
        match ready!(Pin::new(&mut *body).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Poll::Ready(Some(Ok(data)));
                }
            }
            Some(Err(e)) => return Poll::Ready(Some(Err(e))),
            None => return Poll::Ready(None),
        }
    }
}

impl<B> Body for Passthrough<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error + 'static,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(first) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if this.releasing {
            if let Some(chunk) = this.taken.pop_front() {
                this.taken_bytes -= chunk.len();
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            this.releasing = false;
        }
        if let Some(end) = this.ended.take() {
            return this.end(end);
        }
        match poll_chunk(&mut this.source, cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let deadline = Instant::now() + this.idle;
                this.timer.as_mut().reset(deadline);
                if let Some(s) = &mut this.sse {
                    s.feed(&chunk);
                }
                if let Some(w) = &mut this.whole {
                    w.feed(&chunk);
                }
                this.taken_bytes += chunk.len();
                this.taken.push_back(chunk);
                this.yields = 1;
                if this.taken.len() >= MAX_TAKEN_CHUNKS || this.taken_bytes >= MAX_TAKEN_BYTES {
                    return this.release();
                }
                // Yield once so the upstream connection's task can pass on what else it
                // has already read; this body is polled again right after it.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            // The end (or a failure) comes after whatever was taken before it.
            Poll::Ready(end) => {
                let end = end.and_then(|r| r.err()).map(|e| describe(&e));
                if this.taken.is_empty() {
                    return this.end(end);
                }
                this.ended = Some(end);
                this.release()
            }
            // Nothing more yet: yield again, up to `YIELDS` times in all (the upstream
            // connection's task needs two turns to pass on a chunk it has already read).
            Poll::Pending if !this.taken.is_empty() && this.yields < YIELDS => {
                this.yields += 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            // Nothing more has arrived: hand over what was taken.
            Poll::Pending if !this.taken.is_empty() => this.release(),
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                let idle = this.idle.as_secs();
                this.fail(format!("no data from upstream for {idle} s (idle timeout)"))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // Also once a clean end is known and nothing is left to hand over: hyper then
        // sends the last chunk and the end together (for a chunked answer, one write less).
        self.done || (self.ended == Some(None) && self.prefix.is_none() && self.taken.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl<B> Drop for Passthrough<B> {
    fn drop(&mut self) {
        // The client went away before the end: the upstream request is cancelled by dropping
        // its stream. Not the endpoint's fault, so no error is recorded.
        self.finish(None);
    }
}

/// A short, key-free description of a transport error (with its causes).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s = s.to_string();
        if !msg.contains(&s) {
            msg.push_str(": ");
            msg.push_str(&s);
        }
        source = std::error::Error::source(source.unwrap());
    }
    msg
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test upstream body: the chunks given, then the end or nothing more for a while.
    /// An upstream body for tests: given chunks, then the end or nothing more for a while.
    pub(crate) type TestBody = http_body_util::StreamBody<
        Pin<Box<dyn futures_util::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send>>,
    >;

    /// `chunks`, then the end (`then_end`) or nothing more for a while.
    pub(crate) fn test_stream(chunks: &[&'static str], then_end: bool) -> TestBody {
        let items: Vec<Result<Frame<Bytes>, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
            .collect();
        let head = futures_util::stream::iter(items);
        let stream: Pin<Box<dyn futures_util::Stream<Item = _> + Send>> = if then_end {
            Box::pin(head)
        } else {
            Box::pin(futures_util::StreamExt::chain(
                head,
                futures_util::stream::pending(),
            ))
        };
        http_body_util::StreamBody::new(stream)
    }

    /// A pass-through body over `chunks` (then the end, or nothing more for a while).
    fn passthrough(chunks: &[&'static str], then_end: bool) -> Passthrough<TestBody> {
        let table = crate::proxy::routing::test_table(&["http://127.0.0.1:9"]);
        let u = table.all[0].clone();
        let stream = test_stream(chunks, then_end);
        let in_flight = u.stats.begin();
        let policy = table.breaker_policy();
        Passthrough::new(
            stream,
            None,
            Duration::from_secs(60),
            true,
            u,
            policy,
            in_flight,
        )
    }

    /// Poll like hyper does, recording frames and the `Pending`s between them ("|").
    fn drive(body: &mut Passthrough<TestBody>, polls: usize) -> Vec<String> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut seen = Vec::new();
        for _ in 0..polls {
            match Pin::new(&mut *body).poll_frame(&mut cx) {
                Poll::Ready(Some(Ok(f))) => {
                    let data = f.into_data().unwrap();
                    seen.push(String::from_utf8(data.to_vec()).unwrap());
                }
                Poll::Ready(Some(Err(e))) => seen.push(format!("error: {e}")),
                Poll::Ready(None) => {
                    seen.push("end".into());
                    break;
                }
                Poll::Pending => {
                    if seen.last().is_none_or(|s| s != "|") {
                        seen.push("|".into());
                    }
                }
            }
        }
        seen
    }

    #[tokio::test]
    async fn chunks_already_read_go_out_together_then_the_end() {
        let mut body = passthrough(&["a", "b", "c"], true);
        assert_eq!(drive(&mut body, 20), ["|", "a", "b", "c", "end"]);
    }

    #[tokio::test]
    async fn a_lone_chunk_is_handed_over_without_waiting_for_more() {
        let mut body = passthrough(&["a"], false);
        // Taken, then at most `YIELDS` more turns, then handed over; then nothing.
        let seen = drive(&mut body, (YIELDS + 1) as usize);
        assert_eq!(seen, ["|", "a"]);
        assert_eq!(drive(&mut body, 3), ["|"]);
    }

    #[tokio::test]
    async fn a_prefix_then_a_taken_chunk_are_read_for_usage_in_order_and_end_at_once() {
        let table = crate::proxy::routing::test_table(&["http://127.0.0.1:9"]);
        let u = table.all[0].clone();
        let in_flight = u.stats.begin();
        let empty: Pin<Box<dyn futures_util::Stream<Item = _> + Send>> =
            Box::pin(futures_util::stream::empty::<
                Result<Frame<Bytes>, std::io::Error>,
            >());
        let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n";
        let delta = "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":12}}\n\nevent: message_stop\ndata: {}\n\n";
        let mut body = Passthrough::new(
            http_body_util::StreamBody::new(empty),
            Some(Bytes::from_static(start.as_bytes())),
            Duration::from_secs(60),
            true,
            u.clone(),
            table.breaker_policy(),
            in_flight,
        )
        .then(Bytes::from_static(delta.as_bytes()))
        .ended(None);
        assert!(!body.is_end_stream());
        let seen = drive(&mut body, 2);
        assert_eq!(seen, [start, delta]);
        assert!(body.is_end_stream(), "the end is known with the last chunk");
        drop(body);
        assert_eq!(u.stats.tokens(), (9, 12), "message_delta's count stands");
    }
}
