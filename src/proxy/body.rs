//! Response bodies passed through frame by frame: every upstream chunk becomes a client
//! frame at once (no buffering, no compression). Between chunks an idle timeout applies,
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
use futures_util::Stream;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::health::breaker::{BreakerPolicy, Failure};
use crate::proxy::error::sse_error_event;
use crate::proxy::routing::Upstream;
use crate::proxy::stats::InFlight;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every proxy response.
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// An upstream body as a stream of chunks.
pub type ChunkStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Reads `usage` from SSE lines that carry it; ignores everything else.
#[derive(Default)]
struct UsageSniffer {
    carry: Vec<u8>,
    input: u64,
    output: u64,
}

/// Longest partial line kept between chunks; longer lines cannot be usage lines.
const MAX_CARRY: usize = 64 * 1024;

impl UsageSniffer {
    fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            if self.carry.is_empty() {
                self.line(&rest[..nl]);
            } else {
                self.carry.extend_from_slice(&rest[..nl]);
                let line = std::mem::take(&mut self.carry);
                self.line(&line);
            }
            rest = &rest[nl + 1..];
        }
        if self.carry.len() + rest.len() <= MAX_CARRY {
            self.carry.extend_from_slice(rest);
        } else {
            self.carry.clear();
        }
    }

    fn line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let is_usage = |needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
        if !(is_usage(b"\"message_start\"") || is_usage(b"\"message_delta\"")) {
            return;
        }
        // Only the fields read here are deserialized; everything else is skipped.
        #[derive(serde::Deserialize)]
        struct Usage {
            #[serde(default)]
            input_tokens: u64,
            #[serde(default)]
            cache_creation_input_tokens: u64,
            #[serde(default)]
            cache_read_input_tokens: u64,
            output_tokens: Option<u64>,
        }
        #[derive(serde::Deserialize)]
        struct Message {
            usage: Option<Usage>,
        }
        #[derive(serde::Deserialize)]
        struct Event {
            #[serde(rename = "type")]
            kind: String,
            message: Option<Message>,
            usage: Option<Usage>,
        }
        let Ok(event) = serde_json::from_slice::<Event>(data) else {
            return;
        };
        let usage = match event.kind.as_str() {
            "message_start" => event.message.and_then(|m| m.usage),
            "message_delta" => event.usage,
            _ => None,
        };
        let Some(u) = usage else {
            return;
        };
        let input = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
        if input > 0 {
            self.input = input;
        }
        if let Some(out) = u.output_tokens {
            self.output = out;
        }
    }
}

/// What happens when the body is finished.
struct Completion {
    upstream: Arc<Upstream>,
    policy: BreakerPolicy,
    _in_flight: InFlight,
}

/// An upstream response body on its way to the client.
pub struct Passthrough {
    stream: ChunkStream,
    /// Bytes already read from the stream (its first event), sent first.
    prefix: Option<Bytes>,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    sse: Option<UsageSniffer>,
    /// The body has ended (cleanly, or after its final error frame).
    done: bool,
    completion: Option<Completion>,
}

impl Passthrough {
    pub fn new(
        stream: ChunkStream,
        prefix: Option<Bytes>,
        idle: Duration,
        sse: bool,
        upstream: Arc<Upstream>,
        policy: BreakerPolicy,
        in_flight: InFlight,
    ) -> Self {
        Self {
            stream,
            prefix,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            sse: sse.then(UsageSniffer::default),
            done: false,
            completion: Some(Completion {
                upstream,
                policy,
                _in_flight: in_flight,
            }),
        }
    }

    fn finish(&mut self, failure: Option<String>) {
        if let Some(c) = self.completion.take() {
            let u = &c.upstream;
            if let Some(s) = &self.sse {
                u.stats.add_usage(s.input, s.output);
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
                    u.key_fp,
                    std::time::Instant::now(),
                );
            }
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

impl Body for Passthrough {
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
            if let Some(s) = &mut this.sse {
                s.feed(&first);
            }
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        match this.stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let deadline = Instant::now() + this.idle;
                this.timer.as_mut().reset(deadline);
                if let Some(s) = &mut this.sse {
                    s.feed(&chunk);
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => this.fail(describe(&e)),
            Poll::Ready(None) => {
                this.finish(None);
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                let idle = this.idle.as_secs();
                this.fail(format!("no data from upstream for {idle} s (idle timeout)"))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl Drop for Passthrough {
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
mod tests {
    use super::*;

    #[test]
    fn sniffs_usage_across_chunk_boundaries() {
        let mut s = UsageSniffer::default();
        let stream = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"usage\"}}\n\n",
            "event: message_delta\n",
            "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n",
        )
        .as_bytes();
        for piece in stream.chunks(7) {
            s.feed(piece);
        }
        assert_eq!((s.input, s.output), (30, 15));
    }
}
