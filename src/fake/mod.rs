//! A fake Anthropic (or OpenAI-compatible) upstream for tests, benchmarks and `qcc demo`.
//!
//! `FakeUpstream` serves the real wire protocol (`POST /v1/messages` streamed or whole,
//! `count_tokens`, `models`, `HEAD /`; or, spawned with [`FakeUpstream::spawn_openai`],
//! Chat Completions and OpenAI's `models`) on 127.0.0.1 from its own thread and tokio
//! runtime, records every request, and fails on command (`Fault`). This file holds the
//! handle, the shared state with its counters (`Stats`) and the recorded requests
//! (`Recorded`).

mod body;
mod fault;
mod handle;
mod openai;
mod reply;
mod respond;
mod script;
mod server;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_openai;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

pub use fault::Fault;
pub use script::{OpenAiReply, ToolCall};

/// The wire protocol a fake serves, fixed when it is spawned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// Anthropic Messages ([`FakeUpstream::spawn_named`]).
    #[default]
    Anthropic,
    /// OpenAI Chat Completions ([`FakeUpstream::spawn_openai`]).
    OpenAi,
}

/// Cache tokens an Anthropic-mode answer reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUsage {
    pub write_5m: u64,
    pub write_1h: u64,
    pub read: u64,
}

/// Counters over everything the fake has served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests received (each one recorded).
    pub requests: usize,
    /// SSE events handed to the connection, over all streams.
    pub events_sent: usize,
    /// Responses whose client went away before the body ended (or before a hung answer).
    pub disconnects: usize,
    /// Responses sent whole.
    pub completed: usize,
    /// Requests that found their keep-alive connection idle past the idle close
    /// ([`FakeUpstream::set_idle_close`]): the connection was closed instead.
    pub idle_closed: usize,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// All headers in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The fault applied to this request (`Fault::None` when healthy).
    pub fault: Fault,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, value)| value.as_str())
    }
}

/// A running fake upstream. Dropping it (or `shutdown`) stops it.
pub struct FakeUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeUpstream {
    /// Start a fake named "fake" on 127.0.0.1:0; returns once it is listening.
    pub fn spawn() -> std::io::Result<FakeUpstream> {
        FakeUpstream::spawn_named("fake")
    }

    /// Start a fake whose name appears in its default reply text and its `request-id`s.
    pub fn spawn_named(name: &str) -> std::io::Result<FakeUpstream> {
        FakeUpstream::spawn_as(name, Protocol::Anthropic)
    }

    /// Start a fake OpenAI-compatible service named `name`: `POST` to any path ending in
    /// `/chat/completions` (streamed or whole), `GET /v1/models` (or `/models`), everything
    /// else a 404; errors, headers (`x-request-id`) and faults in OpenAI's shapes. What it
    /// says is set as for the Anthropic fake, plus [`FakeUpstream::set_openai_reply`].
    pub fn spawn_openai(name: &str) -> std::io::Result<FakeUpstream> {
        FakeUpstream::spawn_as(name, Protocol::OpenAi)
    }

    fn spawn_as(name: &str, protocol: Protocol) -> std::io::Result<FakeUpstream> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let shared = Arc::new(Shared::new(name, protocol));
        let (stop, stopped) = oneshot::channel();
        let serve = server::accept_loop(listener, Arc::clone(&shared), stopped);
        let thread = std::thread::Builder::new()
            .name(format!("fake-upstream-{name}"))
            .spawn(move || runtime.block_on(serve))?;
        Ok(FakeUpstream {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The protocol it serves.
    pub fn protocol(&self) -> Protocol {
        self.shared.protocol
    }

    /// Queue a fault for the next request that arrives (FIFO, one request each).
    pub fn push_fault(&self, fault: Fault) {
        self.shared.update(|state| state.pending.push_back(fault));
    }

    /// The fault used when the queue is empty; `Fault::None` means healthy.
    pub fn set_default_fault(&self, fault: Fault) {
        self.shared.update(|state| state.default_fault = fault);
    }

    /// The assistant text of every reply (default: "Hello from <name>.").
    pub fn set_reply_text(&self, text: &str) {
        self.shared
            .update(|state| state.reply_text = text.to_owned());
    }

    /// Whether replies echo a `nonce: <token>` found in the request (default: yes). Off, the
    /// fake acts like a relay that answers 200 with something else.
    pub fn set_echo_nonce(&self, echo: bool) {
        self.shared.update(|state| state.echo_nonce = echo);
    }

    /// Name this model in replies instead of the one requested (`None`: echo the request's).
    pub fn set_reply_model(&self, model: Option<&str>) {
        self.shared
            .update(|state| state.reply_model = model.map(str::to_owned));
    }

    /// Cache tokens Anthropic-mode answers report besides their input (`usage`'s
    /// `cache_creation_input_tokens` with its 5-minute / 1-hour breakdown, and
    /// `cache_read_input_tokens`); none by default.
    pub fn set_cache_usage(&self, cache: CacheUsage) {
        self.shared.update(|state| state.cache = cache);
    }

    /// Headers every answer (success or error) carries from now on, e.g. a provider's
    /// rate-limit headers; a name the fake sends itself is replaced. Empty: none.
    pub fn set_extra_headers(&self, headers: Vec<(String, String)>) {
        self.shared.update(|state| state.extra_headers = headers);
    }

    /// Input tokens answers report (`None`, the default: the request body's length / 4).
    pub fn set_input_tokens(&self, tokens: Option<u64>) {
        self.shared.update(|state| state.input_tokens = tokens);
    }

    /// What OpenAI-mode replies carry besides the text (reasoning, tool calls, where the
    /// finish goes, cached tokens); the default is text only. Ignored in Anthropic mode.
    pub fn set_openai_reply(&self, reply: OpenAiReply) {
        self.shared.update(|state| state.openai_reply = reply);
    }

    /// Close keep-alive connections idle for `after` (`None`: keep them, the default), the
    /// way servers drop idle connections — deterministically: a request that arrives on a
    /// connection whose previous request came `after` or longer ago gets no answer, and the
    /// connection is closed, as if the server had closed it just as the request crossed
    /// the wire. Such requests are counted in [`Stats::idle_closed`], not recorded.
    pub fn set_idle_close(&self, after: Option<Duration>) {
        self.shared.update(|state| state.idle_close = after);
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.stats().requests
    }

    /// SSE events written so far, over all streams.
    pub fn events_sent(&self) -> usize {
        self.stats().events_sent
    }

    /// Responses whose client went away before the body ended.
    pub fn disconnects(&self) -> usize {
        self.stats().disconnects
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats
    }

    /// Block until `pred` holds for the counters (true) or `timeout` passes (false).
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&Stats) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if pred(&state.stats) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = (self.shared.changed.wait_timeout(state, left))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Stop serving and wait for the server thread; outstanding requests are dropped.
    pub fn shutdown(self) {
        drop(self);
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for FakeUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeUpstream")
            .field("name", &self.shared.name)
            .field("protocol", &self.shared.protocol)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What a request drew when it was recorded.
pub(crate) struct Ticket {
    /// 1-based arrival number.
    pub seq: usize,
    pub fault: Fault,
    pub reply_text: String,
    pub echo_nonce: bool,
    pub reply_model: Option<String>,
    pub openai_reply: OpenAiReply,
    pub protocol: Protocol,
    pub request_id: String,
    pub cache: CacheUsage,
    /// Headers every answer carries besides its own ([`FakeUpstream::set_extra_headers`]).
    pub extra_headers: Vec<(String, String)>,
    /// Input tokens answers report instead of the body's length / 4.
    pub input_tokens: Option<u64>,
}

/// State shared by the handle and the server thread; every change wakes `wait_until`.
pub(crate) struct Shared {
    name: String,
    protocol: Protocol,
    /// `name` reduced to characters safe in a header value.
    id_name: String,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    pending: VecDeque<Fault>,
    default_fault: Fault,
    reply_text: String,
    echo_nonce: bool,
    reply_model: Option<String>,
    openai_reply: OpenAiReply,
    cache: CacheUsage,
    extra_headers: Vec<(String, String)>,
    input_tokens: Option<u64>,
    requests: Vec<Recorded>,
    stats: Stats,
    idle_close: Option<Duration>,
}

impl Shared {
    fn new(name: &str, protocol: Protocol) -> Shared {
        let id_name = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let state = State {
            pending: VecDeque::new(),
            default_fault: Fault::None,
            reply_text: format!("Hello from {name}."),
            echo_nonce: true,
            reply_model: None,
            openai_reply: OpenAiReply::default(),
            cache: CacheUsage::default(),
            extra_headers: Vec::new(),
            input_tokens: None,
            requests: Vec::new(),
            stats: Stats::default(),
            idle_close: None,
        };
        Shared {
            name: name.to_owned(),
            protocol,
            id_name,
            state: Mutex::new(state),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let result = change(&mut self.lock());
        self.changed.notify_all();
        result
    }

    /// Store `request` with the fault it draws (queue first, then the default).
    pub(crate) fn record(&self, mut request: Recorded) -> Ticket {
        self.update(|state| {
            let fault = (state.pending.pop_front()).unwrap_or_else(|| state.default_fault.clone());
            request.fault = fault.clone();
            state.requests.push(request);
            state.stats.requests += 1;
            let seq = state.requests.len();
            Ticket {
                seq,
                fault,
                reply_text: state.reply_text.clone(),
                echo_nonce: state.echo_nonce,
                reply_model: state.reply_model.clone(),
                openai_reply: state.openai_reply.clone(),
                protocol: self.protocol,
                request_id: format!("req_{}_{seq}", self.id_name),
                cache: state.cache,
                extra_headers: state.extra_headers.clone(),
                input_tokens: state.input_tokens,
            }
        })
    }

    pub(crate) fn count_event(&self) {
        self.update(|state| state.stats.events_sent += 1);
    }

    pub(crate) fn count_completed(&self) {
        self.update(|state| state.stats.completed += 1);
    }

    /// Whether a request arriving now on a connection last used at `previous` finds it
    /// closed for idleness (counted when it does).
    pub(crate) fn closes_idle(&self, previous: Option<Instant>) -> bool {
        self.update(|state| {
            let closed = state
                .idle_close
                .zip(previous)
                .is_some_and(|(after, prev)| prev.elapsed() >= after);
            if closed {
                state.stats.idle_closed += 1;
            }
            closed
        })
    }

    pub(crate) fn count_disconnect(&self) {
        self.update(|state| state.stats.disconnects += 1);
    }
}
