//! The body of a stream answered by an `openai` endpoint: the upstream's Chat Completions
//! chunks go through a [`Translator`] and leave as Anthropic stream events, as they come
//! (no buffering beyond the line being decoded). While the upstream is silent a `ping`
//! event goes out every `proxy.ping_interval_secs`, and past `proxy.idle_timeout_secs` of
//! silence the stream fails. A stream that ends without `[DONE]` (and without a finish), a
//! transport error, or an error chunk ends with an `event: error` and counts against the
//! endpoint, as a pass-through stream's failure does. Usage is read from the translated
//! events. Not here: reaching the commit point (the first translated event), which is
//! `forward::openai`'s.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::openai::stream::{PING, Translator};
use crate::proxy::body::{BoxError, describe, poll_chunk};
use crate::proxy::error::sse_error_event;
use crate::sse;
use crate::upstream::Upstream;
use crate::upstream::breaker::{BreakerPolicy, Failure};
use crate::upstream::stats::InFlight;
use crate::usage::Reported;

/// A translated stream on its way to the client.
pub struct Translated<B> {
    source: B,
    translator: Translator,
    /// Events translated, not yet handed over.
    out: VecDeque<Bytes>,
    sniffer: sse::UsageSniffer,
    idle: Duration,
    ping: Duration,
    idle_timer: Pin<Box<Sleep>>,
    ping_timer: Pin<Box<Sleep>>,
    /// Nothing more is read from the source (the end, or a failure, is known).
    finished: bool,
    upstream: Arc<Upstream>,
    policy: BreakerPolicy,
    in_flight: Option<InFlight>,
    tally: Option<crate::usage::Tally>,
    reservation: Option<crate::upstream::limits::Reservation>,
}

impl<B> Translated<B> {
    /// `first`: the events translated before the commit point (sent first).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        source: B,
        translator: Translator,
        first: Vec<u8>,
        idle: Duration,
        ping: Duration,
        upstream: Arc<Upstream>,
        policy: BreakerPolicy,
        in_flight: InFlight,
    ) -> Self {
        let mut body = Self {
            source,
            translator,
            out: VecDeque::new(),
            sniffer: sse::UsageSniffer::default(),
            idle,
            ping,
            idle_timer: Box::pin(tokio::time::sleep(idle)),
            ping_timer: Box::pin(tokio::time::sleep(ping)),
            finished: false,
            upstream,
            policy,
            in_flight: Some(in_flight),
            tally: None,
            reservation: None,
        };
        body.push(first);
        if body.translator.is_ended() {
            // The first chunks held the whole answer.
            body.finish(None);
        }
        body
    }

    /// Report the answer to the usage accounting when it ends.
    pub fn tally(mut self, tally: Option<crate::usage::Tally>) -> Self {
        if self.in_flight.is_some() {
            self.tally = tally;
        } else if let Some(t) = tally {
            // The first chunks held the whole answer: it ended already.
            let u = &self.upstream;
            let tokens = Reported::Tokens(self.sniffer.usage().into());
            t.close(&u.shared_id, &u.shared_profile, tokens, false);
        }
        self
    }

    /// Settle `reservation` (tokens admitted at an estimate) with the real count at the end.
    pub fn reserve(mut self, reservation: Option<crate::upstream::limits::Reservation>) -> Self {
        match reservation {
            Some(r) if self.in_flight.is_none() => r.settle(self.total_tokens()),
            r => self.reservation = r,
        }
        self
    }

    fn total_tokens(&self) -> u64 {
        crate::state::usage::Tokens::from(self.sniffer.usage()).total()
    }

    fn push(&mut self, events: Vec<u8>) {
        if !events.is_empty() {
            self.sniffer.feed(&events);
            self.out.push_back(Bytes::from(events));
        }
    }

    /// The stream is over: the endpoint's figures, and its breaker on a failure.
    fn finish(&mut self, failure: Option<String>) {
        self.finished = true;
        let Some(in_flight) = self.in_flight.take() else {
            return;
        };
        if let Some(r) = self.reservation.take() {
            r.settle(self.total_tokens());
        }
        let u = &self.upstream;
        u.stats
            .add_usage(self.sniffer.input(), self.sniffer.output());
        if let Some(t) = self.tally.take() {
            let tokens = Reported::Tokens(self.sniffer.usage().into());
            t.close(&u.shared_id, &u.shared_profile, tokens, failure.is_some());
        }
        match failure {
            None => u.stats.record_success(),
            Some(msg) => {
                tracing::warn!(endpoint = %u.id, "translated stream failed after it started: {msg}");
                let reason = format!("failed mid-stream: {msg}");
                u.stats.record_error(&reason);
                u.breaker.failure(
                    &Failure::Transient(reason),
                    self.policy,
                    u.key_fp(),
                    std::time::Instant::now(),
                );
            }
        }
        drop(in_flight);
    }

    /// The upstream went away (or silent) before the end. An answer that had its finish
    /// is complete but for its closing and ends cleanly; any other fails.
    fn cut(&mut self, message: String) {
        if self.translator.has_finish() {
            match self.translator.end() {
                Ok(events) => {
                    tracing::debug!(endpoint = %self.upstream.id, "stream cut after its finish ({message}); closed cleanly");
                    self.push(events);
                    self.finish(None);
                }
                Err(event) => self.fail(message, Some(event)),
            }
        } else {
            self.fail(message, None);
        }
    }

    /// End with an error event (the translator's own, or one for `message`).
    fn fail(&mut self, message: String, event: Option<Vec<u8>>) {
        let event = event.map_or_else(
            || sse_error_event("api_error", &format!("upstream stream failed: {message}")),
            Bytes::from,
        );
        self.out.push_back(event);
        self.finish(Some(message));
    }
}

impl<B> Body for Translated<B>
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
        loop {
            if let Some(events) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(events))));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            match poll_chunk(&mut this.source, cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let now = Instant::now();
                    this.idle_timer.as_mut().reset(now + this.idle);
                    let events = this.translator.feed(&chunk);
                    // Only what reaches the client counts as not silent: comments and
                    // empty deltas give it nothing.
                    if !events.is_empty() {
                        this.ping_timer.as_mut().reset(now + this.ping);
                    }
                    this.push(events);
                    if this.translator.is_failed() {
                        this.finish(Some("the upstream sent an error chunk".into()));
                    } else if this.translator.is_ended() {
                        this.finish(None);
                    }
                }
                Poll::Ready(Some(Err(e))) => this.cut(describe(&e)),
                Poll::Ready(None) => match this.translator.end() {
                    Ok(events) => {
                        this.push(events);
                        this.finish(None);
                    }
                    Err(event) => this.fail(
                        "the stream ended without [DONE] or a finish".into(),
                        Some(event),
                    ),
                },
                Poll::Pending => {
                    if this.idle_timer.as_mut().poll(cx).is_ready() {
                        let idle = this.idle.as_secs();
                        this.cut(format!("no data from upstream for {idle} s (idle timeout)"));
                        continue;
                    }
                    if this.ping_timer.as_mut().poll(cx).is_ready() {
                        let next = Instant::now() + this.ping;
                        this.ping_timer.as_mut().reset(next);
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(PING)))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && self.out.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl<B> Drop for Translated<B> {
    fn drop(&mut self) {
        // The client went away before the end: not the endpoint's fault.
        self.finish(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::ToolNames;

    use crate::proxy::body::tests::{TestBody, test_stream};

    fn body(chunks: &[&'static str], then_end: bool, ping: Duration) -> Translated<TestBody> {
        let table = crate::proxy::routing::test_table(&["http://127.0.0.1:9"]);
        let u = table.all[0].clone();
        let stream = test_stream(chunks, then_end);
        let in_flight = u.stats.begin();
        let policy = table.breaker_policy();
        Translated::new(
            stream,
            Translator::new("claude-x", ToolNames::default()),
            Vec::new(),
            Duration::from_secs(300),
            ping,
            u,
            policy,
            in_flight,
        )
    }

    /// Everything the body sends until it ends (or `limit` frames).
    async fn collect(mut b: Translated<TestBody>, limit: usize) -> (String, Arc<Upstream>) {
        let mut text = String::new();
        for _ in 0..limit {
            match std::future::poll_fn(|cx| Pin::new(&mut b).poll_frame(cx)).await {
                Some(Ok(f)) => text.push_str(std::str::from_utf8(&f.into_data().unwrap()).unwrap()),
                Some(Err(e)) => panic!("{e}"),
                None => break,
            }
        }
        let u = b.upstream.clone();
        (text, u)
    }

    const HELLO: &str = "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"}}]}\n\n";
    const FINISH: &str = "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    const USAGE: &str = "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"prompt_tokens_details\":{\"cached_tokens\":2}}}\n\n";

    #[tokio::test]
    async fn a_whole_stream_becomes_events_and_its_usage_is_counted() {
        let b = body(
            &[HELLO, FINISH, USAGE, "data: [DONE]\n\n"],
            false,
            Duration::from_secs(60),
        );
        let (text, u) = collect(b, 50).await;
        let kinds: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(
            kinds,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        // Ends at [DONE] though the upstream connection stays open.
        assert_eq!(
            u.stats.tokens(),
            (12, 3),
            "uncached 10 + cached 2 in, 3 out"
        );
    }

    #[tokio::test]
    async fn a_stream_that_ends_without_done_fails() {
        let b = body(&[HELLO], true, Duration::from_secs(60));
        let (text, u) = collect(b, 50).await;
        assert!(text.contains("event: error"), "{text}");
        assert!(!text.contains("message_stop"));
        assert_eq!(u.stats.errors(), 1);
    }

    #[tokio::test]
    async fn silence_gets_pings() {
        let b = body(&[HELLO], false, Duration::from_millis(20));
        let (text, _) = collect(b, 5).await;
        assert!(
            text.ends_with("event: ping\ndata: {\"type\":\"ping\"}\n\n"),
            "{text}"
        );
        assert_eq!(text.matches("event: ping").count(), 4);
    }
}
