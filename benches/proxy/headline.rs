//! The headline cells (issue 13): what a proxy costs when the upstream costs almost nothing.
//!
//! The 75 KB cells of `main.rs` run against `qcc::fake`, whose single thread saturates
//! before either proxy does. Here every part but the proxy is made cheap:
//!
//! - The upstream is a `Responder` in this process that reads a request (headers, then a
//!   `content-length` or chunked body) and answers with a canned response: for a body with
//!   `"stream":true` a 3.3 KB Anthropic message stream (message_start, content_block_start,
//!   ping, 20 content_block_delta, content_block_stop, message_delta with usage,
//!   message_stop) as one chunk of `transfer-encoding: chunked`, otherwise a 0.48 KB JSON
//!   message with a `content-length`; keep-alive. `Flavor::Fast` (the unpaced cells)
//!   writes each answer in one write from one thread (a current-thread tokio runtime, a
//!   task per connection: 3–5 µs of CPU per answer in smoke runs); `Flavor::Paced` (time
//!   to first token) has a thread per connection and writes each SSE event as its own
//!   write (and chunk), `PACE` = 5 ms after the previous one, timed with `thread::sleep`
//!   from the moment it has read the request (the first event goes out with the headers).
//! - The request body is 125 bytes (`request_body`).
//! - The load generator is raw HTTP/1.1 over tokio `TcpStream`s: closed-loop keep-alive
//!   clients that write the canned request and read until the response is complete
//!   (`content-length`, or chunked up to the last chunk). Per request: latency (request
//!   written → response complete), time to the first body byte and, for paced streams,
//!   time to the first token (the read that brings the first `content_block_delta`).
//!
//! Cells: non-streaming and streaming × 16 and 128 clients, and paced streaming at 16
//! clients, each against `direct` (the responder alone), `qcc` (the release daemon, one
//! endpoint pointing at the responder) and `nginx` (one worker, `bench/nginx-fast.conf`).
//! Each cell runs `Plan::repeats` times (targets in rotated order, a fresh daemon and nginx
//! per repeat, the same responders throughout); the tables give the median over repeats
//! and the spread (min–max). CPU per request is the proxy processes' utime + stime over the
//! recorded window ÷ responses; the shares of a core used by the responder, the proxy, the
//! load generator and everything else say which process saturated, and the last table
//! checks that it was not the responder.

use std::borrow::Cow;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use memchr::memmem;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::runtime::Runtime;

use crate::{
    Cpu, DISTURBED_PCT, Home, Nginx, Options, TARGETS, Window, cores, machine_busy, percentile_ms,
    stat_cpu,
};

/// The nginx reference for these cells; `@DIR@`, `@LISTEN@` and `@UPSTREAM@` are filled in.
const NGINX_TEMPLATE: &str = include_str!("../../bench/nginx-fast.conf");
/// Gap between two SSE events of a paced stream.
const PACE: Duration = Duration::from_millis(5);
/// Clients of the unpaced cells.
const CLIENTS: [usize; 2] = [16, 128];
const PACED_CLIENTS: usize = 16;
/// One exchange that takes longer than this counts as an error (and its connection is
/// dropped).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// The upstream is not the bottleneck when `direct` serves at least this many times the
/// fastest proxied target's req/s…
const HEADROOM: f64 = 1.5;
/// …and the responder uses at most this share of one core while a proxy is in the path.
const RESPONDER_MAX_PCT: f64 = 50.0;
/// What marks the first token of a stream.
const TOKEN_EVENT: &[u8] = b"content_block_delta";

const MODEL: &str = "claude-sonnet-4-5-20250929";
const MESSAGE_ID: &str = "msg_01XFDUDYJgAACzvnptvVoYEL";
const REQUEST_ID: &str = "req_011CVbenchFastUpstream0001";
/// The reply's text, one SSE delta per `|`-separated piece (20).
const TOKENS: &str = "Hi|!| I|'m| Claude|,| an| AI| assistant| made| by| Anthropic|.| How| can| I| help| you| today|?";

// ---------------------------------------------------------------------------------------
// Cells and options

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Shape {
    Whole,
    Stream,
    /// Streaming, the responder writing one event every `PACE`.
    Paced,
}

impl Shape {
    fn label(self) -> &'static str {
        match self {
            Shape::Whole => "non-streaming",
            Shape::Stream => "streaming",
            Shape::Paced => "paced streaming",
        }
    }

    fn streams(self) -> bool {
        self != Shape::Whole
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Cell {
    shape: Shape,
    clients: usize,
}

impl Cell {
    fn label(self) -> String {
        format!("{}, {} clients", self.shape.label(), self.clients)
    }
}

/// `--only headline` (every cell, `None`) or `--only headline:MODE:CLIENTS` (one cell;
/// MODE is `whole`, `stream` or `paced`).
pub(crate) fn parse(spec: &str) -> Option<Option<Cell>> {
    let rest = spec.strip_prefix("headline")?;
    if rest.is_empty() {
        return Some(None);
    }
    let (mode, clients) = rest.strip_prefix(':')?.split_once(':')?;
    let shape = match mode {
        "whole" => Shape::Whole,
        "stream" => Shape::Stream,
        "paced" => Shape::Paced,
        _ => return None,
    };
    let clients = clients.parse().ok().filter(|&n| n > 0)?;
    Some(Some(Cell { shape, clients }))
}

/// Every headline cell, in table order.
pub(crate) fn all_cells() -> Vec<Cell> {
    let mut cells = Vec::new();
    for shape in [Shape::Whole, Shape::Stream] {
        cells.extend(CLIENTS.map(|clients| Cell { shape, clients }));
    }
    cells.push(Cell {
        shape: Shape::Paced,
        clients: PACED_CLIENTS,
    });
    cells
}

/// How long and how often each cell runs.
#[derive(Clone, Copy)]
struct Plan {
    warmup: Duration,
    window: Duration,
    repeats: usize,
}

impl Plan {
    fn of(opts: &Options) -> Plan {
        let (warmup, secs, repeats) = if opts.quick {
            (0.3, 1.0, 1)
        } else {
            (1.0, 5.0, 3)
        };
        Plan {
            warmup: Duration::from_secs_f64(warmup),
            window: Duration::from_secs_f64(opts.secs.unwrap_or(secs)),
            repeats,
        }
    }
}

// ---------------------------------------------------------------------------------------
// What goes over the wire

/// A 125-byte request body (126 with `"stream":false`).
fn request_body(stream: bool) -> String {
    let content = "Say hi in one short line";
    format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":64,"stream":{stream},"messages":[{{"role":"user","content":"{content}"}}]}}"#
    )
}

/// The whole request as the load generator writes it.
fn request_bytes(addr: SocketAddr, stream: bool) -> Arc<[u8]> {
    let body = request_body(stream);
    let text = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         anthropic-version: 2023-06-01\r\nx-api-key: anything\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    Arc::from(text.into_bytes())
}

fn sse_events() -> Vec<String> {
    let event = |name: &str, data: &str| format!("event: {name}\ndata: {data}\n\n");
    let start = format!(
        r#"{{"type":"message_start","message":{{"id":"{MESSAGE_ID}","type":"message","role":"assistant","model":"{MODEL}","content":[],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":14,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}},"output_tokens":1,"service_tier":"standard"}}}}}}"#
    );
    let mut events = vec![
        event("message_start", &start),
        event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        event("ping", r#"{"type": "ping"}"#),
    ];
    for token in TOKENS.split('|') {
        let data = format!(
            r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{token}"}}}}"#
        );
        events.push(event("content_block_delta", &data));
    }
    events.push(event(
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0}"#,
    ));
    events.push(event(
        "message_delta",
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":14,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":20}}"#,
    ));
    events.push(event("message_stop", r#"{"type":"message_stop"}"#));
    events
}

fn message_json() -> String {
    let text = TOKENS.replace('|', "");
    format!(
        r#"{{"id":"{MESSAGE_ID}","type":"message","role":"assistant","model":"{MODEL}","content":[{{"type":"text","text":"{text}"}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{"input_tokens":14,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}},"output_tokens":20,"service_tier":"standard"}}}}"#
    )
}

/// The responder's answers, built once.
struct Canned {
    /// The JSON message, headers included.
    whole: Vec<u8>,
    /// The SSE stream as one chunk, headers and last chunk included.
    stream: Vec<u8>,
    /// The SSE stream one write per event: the first with the headers, the last with the
    /// last chunk.
    paced: Vec<Vec<u8>>,
    json_len: usize,
    sse_len: usize,
    /// Index of the first `content_block_delta` event (paced: written this many `PACE`s
    /// after the request was read).
    first_token_event: usize,
}

impl Canned {
    fn build() -> Canned {
        let json = message_json();
        let whole = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             request-id: {REQUEST_ID}\r\n\r\n{json}",
            json.len()
        );
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
             request-id: {REQUEST_ID}\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let chunk = |s: &str| format!("{:x}\r\n{s}\r\n", s.len());
        let events = sse_events();
        let sse = events.concat();
        let first_token_event = (events.iter())
            .position(|e| memmem::find(e.as_bytes(), TOKEN_EVENT).is_some())
            .unwrap_or(0);
        let stream = format!("{head}{}0\r\n\r\n", chunk(&sse));
        let mut paced: Vec<Vec<u8>> = events.iter().map(|e| chunk(e).into_bytes()).collect();
        paced[0].splice(0..0, head.bytes());
        if let Some(last) = paced.last_mut() {
            last.extend_from_slice(b"0\r\n\r\n");
        }
        Canned {
            whole: whole.into_bytes(),
            stream: stream.into_bytes(),
            paced,
            json_len: json.len(),
            sse_len: sse.len(),
            first_token_event,
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 framing (both sides)

/// A chunked body scanned so far.
enum Scan {
    /// Complete: this many bytes of the input are the body, last chunk and trailers.
    Done(usize),
    More,
    Invalid,
}

/// Walk a chunked body from `*pos` (the start of a chunk's size line; kept between calls
/// so that a growing buffer is not walked again), copying chunk data into `sink`.
fn scan_chunked(data: &[u8], pos: &mut usize, mut sink: Option<&mut Vec<u8>>) -> Scan {
    loop {
        let Some(eol) = memmem::find(&data[*pos..], b"\r\n") else {
            return Scan::More;
        };
        let line = &data[*pos..*pos + eol];
        let digits = line.split(|&b| b == b';').next().unwrap_or_default();
        let Some(size) = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
        else {
            return Scan::Invalid;
        };
        let data_at = *pos + eol + 2;
        if size == 0 {
            let rest = &data[data_at..];
            if rest.starts_with(b"\r\n") {
                return Scan::Done(data_at + 2);
            }
            return match memmem::find(rest, b"\r\n\r\n") {
                Some(end) => Scan::Done(data_at + end + 4),
                None => Scan::More,
            };
        }
        if data.len() < data_at + size + 2 {
            return Scan::More;
        }
        if &data[data_at + size..data_at + size + 2] != b"\r\n" {
            return Scan::Invalid;
        }
        if let Some(sink) = sink.as_deref_mut() {
            sink.extend_from_slice(&data[data_at..data_at + size]);
        }
        *pos = data_at + size + 2;
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The header fields the two sides care about.
#[derive(Default)]
struct Fields {
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
    keep_alive: bool,
}

/// Header fields of a head (status or request line first, without the blank line).
fn fields(head: &[u8]) -> Result<Fields, String> {
    let mut f = Fields::default();
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            f.content_length = Some(n.ok_or("bad content-length")?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            f.chunked = value.to_ascii_lowercase().ends_with(b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            f.close = value.eq_ignore_ascii_case(b"close");
            f.keep_alive = value.eq_ignore_ascii_case(b"keep-alive");
        }
    }
    Ok(f)
}

/// A complete request at the start of the responder's buffer.
struct Incoming {
    len: usize,
    stream: bool,
    close: bool,
}

enum Parsed {
    Complete(Incoming),
    Partial,
    Invalid,
}

fn parse_request(buf: &[u8]) -> Parsed {
    let Some(end) = memmem::find(buf, b"\r\n\r\n") else {
        return if buf.len() > 64 * 1024 {
            Parsed::Invalid
        } else {
            Parsed::Partial
        };
    };
    let head = &buf[..end];
    let head_len = end + 4;
    let Ok(f) = fields(head) else {
        return Parsed::Invalid;
    };
    let http10 = head
        .split(|&b| b == b'\n')
        .next()
        .is_some_and(|line| memmem::find(line, b"HTTP/1.0").is_some());
    let (body, len) = if f.chunked {
        let mut body = Vec::new();
        match scan_chunked(&buf[head_len..], &mut 0, Some(&mut body)) {
            Scan::Done(n) => (Cow::Owned(body), head_len + n),
            Scan::More => return Parsed::Partial,
            Scan::Invalid => return Parsed::Invalid,
        }
    } else {
        let n = f.content_length.unwrap_or(0);
        if buf.len() < head_len + n {
            return Parsed::Partial;
        }
        (Cow::Borrowed(&buf[head_len..head_len + n]), head_len + n)
    };
    let stream = memmem::find(&body, br#""stream":true"#).is_some()
        || memmem::find(&body, br#""stream": true"#).is_some();
    Parsed::Complete(Incoming {
        len,
        stream,
        close: f.close || (http10 && !f.keep_alive),
    })
}

// ---------------------------------------------------------------------------------------
// The responders

/// How a responder serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// Every answer in one write, from one thread running a current-thread tokio runtime
    /// (a task per connection): under load one wake-up serves many connections. In smoke
    /// runs a thread per connection (as `Paced`) cost ≈ 9 µs of CPU per answer, a 2-worker
    /// runtime 4–8 µs (its workers wake each other), this 3–5 µs.
    Fast,
    /// Streams one event per write, `PACE` apart: a thread per connection, so that
    /// `thread::sleep` keeps the gaps to within tens of µs.
    Paced,
}

impl Flavor {
    /// Name of its threads (≤ 15 bytes: it is their /proc comm).
    fn thread_name(self) -> &'static str {
        match self {
            Flavor::Fast => "fast-upstream",
            Flavor::Paced => "paced-upstream",
        }
    }
}

/// An upstream that costs almost nothing: canned answers, in this process.
pub(crate) struct Responder {
    flavor: Flavor,
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    canned: Canned,
    stop: AtomicBool,
    /// CPU time (ns) of connection threads that have exited (/proc no longer lists them).
    exited_cpu_ns: AtomicU64,
    requests: AtomicU64,
}

impl Responder {
    fn spawn(flavor: Flavor) -> std::io::Result<Responder> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            canned: Canned::build(),
            stop: AtomicBool::new(false),
            exited_cpu_ns: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        });
        let s = shared.clone();
        let builder = std::thread::Builder::new().name(flavor.thread_name().to_owned());
        let thread = match flavor {
            Flavor::Fast => {
                listener.set_nonblocking(true)?;
                builder.spawn(move || serve_fast(listener, s))?
            }
            Flavor::Paced => builder.spawn(move || accept_paced(&listener, &s))?,
        };
        Ok(Responder {
            flavor,
            addr,
            shared,
            thread: Some(thread),
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// CPU time of all the responder's threads so far: live ones from /proc (schedstat, in
    /// ns: utime + stime in clock ticks would round each of 128 threads down to 10 ms),
    /// exited ones as they reported it.
    fn cpu(&self) -> Duration {
        let exited = Duration::from_nanos(self.shared.exited_cpu_ns.load(Ordering::SeqCst));
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return exited;
        };
        let name = self.flavor.thread_name();
        let live = tasks.flatten().map(|t| t.path()).filter(|task| {
            std::fs::read_to_string(task.join("comm")).is_ok_and(|c| c.trim_end() == name)
        });
        exited + live.map(|task| schedstat_cpu(&task)).sum::<Duration>()
    }

    fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Run time of a task from its `schedstat` (ns; zero when unreadable).
fn schedstat_cpu(task: &Path) -> Duration {
    let ns = std::fs::read_to_string(task.join("schedstat"))
        .ok()
        .and_then(|s| {
            let first = s.split_whitespace().next()?;
            first.parse::<u64>().ok()
        });
    Duration::from_nanos(ns.unwrap_or(0))
}

/// CPU time of the calling thread, ns.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a local struct.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The fast responder's thread: a current-thread tokio runtime, a task per connection.
fn serve_fast(listener: TcpListener, shared: Arc<Shared>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start the fast upstream's runtime");
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).expect("cannot register the listener");
        loop {
            let conn = match listener.accept().await {
                Ok((conn, _)) => conn,
                Err(e) => {
                    eprintln!("warning: fast upstream: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let _ = conn.set_nodelay(true);
            tokio::spawn(serve_fast_conn(conn, shared.clone()));
        }
    });
}

async fn serve_fast_conn(mut conn: tokio::net::TcpStream, shared: Arc<Shared>) {
    let mut pending: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let request = loop {
            match parse_request(&pending) {
                Parsed::Complete(request) => break request,
                Parsed::Partial => {}
                Parsed::Invalid => return,
            }
            match conn.read_buf(&mut pending).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        pending.drain(..request.len);
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let canned = &shared.canned;
        let answer = if request.stream {
            &canned.stream
        } else {
            &canned.whole
        };
        if conn.write_all(answer).await.is_err() || request.close {
            return;
        }
    }
}

fn accept_paced(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("warning: paced upstream: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let _ = conn.set_nodelay(true);
        let shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(Flavor::Paced.thread_name().to_owned())
            .stack_size(256 * 1024)
            .spawn(move || {
                serve_paced(conn, &shared);
                let cpu = thread_cpu_ns();
                shared.exited_cpu_ns.fetch_add(cpu, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            eprintln!("warning: paced upstream: cannot start a connection thread: {e}");
        }
    }
}

/// One connection of the paced responder: streams are paced, JSON answers are not.
fn serve_paced(mut conn: TcpStream, shared: &Shared) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
    let mut pending: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut scratch = [0u8; 16 * 1024];
    loop {
        let request = loop {
            match parse_request(&pending) {
                Parsed::Complete(request) => break request,
                Parsed::Partial => {}
                Parsed::Invalid => return,
            }
            match conn.read(&mut scratch) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&scratch[..n]),
            }
        };
        pending.drain(..request.len);
        let read_at = Instant::now();
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let canned = &shared.canned;
        let written = if request.stream {
            write_paced(&mut conn, &canned.paced, PACE, read_at)
        } else {
            conn.write_all(&canned.whole)
        };
        if written.is_err() || request.close {
            return;
        }
    }
}

/// Event `k` goes out `k × pace` after the request was read.
fn write_paced(
    conn: &mut TcpStream,
    events: &[Vec<u8>],
    pace: Duration,
    from: Instant,
) -> std::io::Result<()> {
    for (k, event) in events.iter().enumerate() {
        let due = from + pace * k as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        conn.write_all(event)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The load generator

/// One response, timed from just before its request was written.
#[derive(Clone, Copy)]
struct Sample {
    total: Duration,
    first_byte: Duration,
    /// Zero when not looked for.
    first_token: Duration,
}

#[derive(Default)]
struct ClientRun {
    samples: Vec<Sample>,
    errors: usize,
    first_error: Option<String>,
}

impl ClientRun {
    fn merge(&mut self, other: ClientRun) {
        self.samples.extend(other.samples);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

enum Framing {
    Length(usize),
    Chunked,
}

/// A response's status line and headers.
struct Head {
    len: usize,
    status: u16,
    framing: Framing,
    keep_alive: bool,
}

/// The head at the start of `buf`, once it is all there.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let Some(end) = memmem::find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = &buf[..end];
    let status_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut parts = status_line.split(|&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    let status = (parts.next())
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
        .ok_or_else(|| format!("bad status line {:?}", String::from_utf8_lossy(status_line)))?;
    let f = fields(head)?;
    let framing = match (f.chunked, f.content_length) {
        (true, _) => Framing::Chunked,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => return Err(format!("HTTP {status} with a close-delimited body")),
    };
    let keep_alive = if version == b"HTTP/1.1" {
        !f.close
    } else {
        f.keep_alive
    };
    Ok(Some(Head {
        len: end + 4,
        status,
        framing,
        keep_alive,
    }))
}

/// Write `request`, read its whole response. Returns the sample and whether the
/// connection stays open.
async fn exchange(
    conn: &mut tokio::net::TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
    started: Instant,
    want_token: bool,
) -> Result<(Sample, bool), String> {
    conn.write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut len = 0;
    let mut head: Option<Head> = None;
    let mut first_byte = None;
    let mut first_token = None;
    let mut chunk_pos = 0;
    let mut token_from = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        let n = (conn.read(&mut buf[len..]).await).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(if len == 0 {
                "connection closed before the response".to_owned()
            } else {
                "connection closed mid-response".to_owned()
            });
        }
        len += n;
        let now = Instant::now();
        if head.is_none() {
            head = parse_head(&buf[..len])?;
        }
        let Some(h) = &head else {
            continue;
        };
        if len > h.len && first_byte.is_none() {
            first_byte = Some(now - started);
        }
        if want_token && first_token.is_none() && len > h.len {
            let from = token_from.max(h.len);
            if memmem::find(&buf[from..len], TOKEN_EVENT).is_some() {
                first_token = Some(now - started);
            }
            token_from = len.saturating_sub(TOKEN_EVENT.len() - 1);
        }
        let end = match h.framing {
            Framing::Length(n) => (len >= h.len + n).then_some(h.len + n),
            Framing::Chunked => match scan_chunked(&buf[h.len..len], &mut chunk_pos, None) {
                Scan::Done(n) => Some(h.len + n),
                Scan::More => None,
                Scan::Invalid => return Err("bad chunked framing".to_owned()),
            },
        };
        let Some(end) = end else {
            continue;
        };
        if end != len {
            return Err("bytes after the response".to_owned());
        }
        if h.status != 200 {
            return Err(format!("HTTP {}", h.status));
        }
        let total = now - started;
        let sample = Sample {
            total,
            first_byte: first_byte.unwrap_or(total),
            first_token: first_token.unwrap_or_default(),
        };
        return Ok((sample, h.keep_alive));
    }
}

async fn connect(addr: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let conn = tokio::net::TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    Ok(conn)
}

/// One closed-loop client: send, read the whole response, repeat, until the window closes.
async fn client_loop(
    addr: SocketAddr,
    request: Arc<[u8]>,
    window: Window,
    want_token: bool,
) -> ClientRun {
    let mut run = ClientRun::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut conn = None;
    let recorded = |at: Instant| at >= window.from && at <= window.until;
    while Instant::now() < window.until {
        let stream = match &mut conn {
            Some(stream) => stream,
            None => match connect(addr).await {
                Ok(stream) => conn.insert(stream),
                Err(e) => {
                    if recorded(Instant::now()) {
                        run.error(format!("connect: {e}"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let started = Instant::now();
        let exchanged = exchange(stream, &request, &mut buf, started, want_token);
        let outcome = tokio::time::timeout(EXCHANGE_TIMEOUT, exchanged).await;
        let ended = Instant::now();
        match outcome {
            Ok(Ok((sample, keep_alive))) => {
                if !keep_alive {
                    conn = None;
                }
                if recorded(ended) {
                    run.samples.push(sample);
                }
            }
            Ok(Err(e)) => {
                conn = None;
                if recorded(ended) {
                    run.error(e);
                }
            }
            Err(_) => {
                conn = None;
                if recorded(ended) {
                    run.error(format!("no complete response within {EXCHANGE_TIMEOUT:?}"));
                }
            }
        }
    }
    run
}

// ---------------------------------------------------------------------------------------
// CPU accounting

/// Whose CPU time a run counts.
struct Probe<'a> {
    responder: &'a Responder,
    proxy_pids: Vec<i32>,
}

impl Probe<'_> {
    /// Cumulative CPU times now: `upstream` is the responder, `client` the rest of this
    /// process (the load generator).
    fn read(&self) -> Cpu {
        let upstream = self.responder.cpu();
        let own = stat_cpu(Path::new("/proc/self/stat"));
        let pids = self.proxy_pids.iter();
        let proxy = pids.map(|pid| stat_cpu(Path::new(&format!("/proc/{pid}/stat"))));
        Cpu {
            upstream,
            proxy: proxy.sum(),
            client: own.saturating_sub(upstream),
            machine: machine_busy(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Runs

/// The summary of one run of one target.
#[derive(Clone, Copy)]
struct Figures {
    repeat: usize,
    rps: f64,
    p50: f64,
    p99: f64,
    first_byte_p50: f64,
    first_byte_p99: f64,
    first_token_p50: f64,
    first_token_p99: f64,
    /// Proxy CPU per response, µs (NaN for `direct`).
    proxy_us: f64,
    /// The responder's CPU per response, µs.
    responder_us: f64,
    /// Share of one core over the window: responder, proxy, load generator, other.
    cpu_pct: [f64; 4],
    errors: usize,
}

impl Figures {
    fn of(repeat: usize, run: &ClientRun, cpu: &Cpu, window: Duration, proxied: bool) -> Self {
        let secs = window.as_secs_f64();
        let count = run.samples.len();
        let sorted = |pick: fn(&Sample) -> Duration| {
            let mut v: Vec<Duration> = run.samples.iter().map(pick).collect();
            v.sort_unstable();
            v
        };
        let total = sorted(|s| s.total);
        let first_byte = sorted(|s| s.first_byte);
        let first_token = sorted(|s| s.first_token);
        let pct = |d: Duration| d.as_secs_f64() / secs * 100.0;
        let proxy_us = if proxied {
            cpu.proxy.as_secs_f64() * 1e6 / count.max(1) as f64
        } else {
            f64::NAN
        };
        Figures {
            repeat,
            rps: count as f64 / secs,
            p50: percentile_ms(&total, 50.0),
            p99: percentile_ms(&total, 99.0),
            first_byte_p50: percentile_ms(&first_byte, 50.0),
            first_byte_p99: percentile_ms(&first_byte, 99.0),
            first_token_p50: percentile_ms(&first_token, 50.0),
            first_token_p99: percentile_ms(&first_token, 99.0),
            proxy_us,
            responder_us: cpu.upstream.as_secs_f64() * 1e6 / count.max(1) as f64,
            cpu_pct: [
                pct(cpu.upstream),
                pct(cpu.proxy),
                pct(cpu.client),
                pct(cpu.other()),
            ],
            errors: run.errors,
        }
    }
}

/// `cell.clients` closed-loop clients against `addr`: a warm-up, then the recorded window.
fn closed_loop(
    runtime: &Runtime,
    plan: Plan,
    addr: SocketAddr,
    cell: Cell,
    probe: &Probe<'_>,
) -> (ClientRun, Cpu) {
    let request = request_bytes(addr, cell.shape.streams());
    let want_token = cell.shape == Shape::Paced;
    let from = Instant::now() + plan.warmup;
    let window = Window {
        from,
        until: from + plan.window,
    };
    runtime.block_on(async {
        let clients: Vec<_> = (0..cell.clients)
            .map(|_| tokio::spawn(client_loop(addr, request.clone(), window, want_token)))
            .collect();
        tokio::time::sleep_until(window.from.into()).await;
        let before = probe.read();
        tokio::time::sleep_until(window.until.into()).await;
        let cpu = probe.read().since(before);
        let mut all = ClientRun::default();
        for client in clients {
            all.merge(client.await.expect("a load client panicked"));
        }
        (all, cpu)
    })
}

/// Every repeat of one cell, per target (in `TARGETS` order).
struct CellRuns {
    cell: Cell,
    targets: Vec<(&'static str, Vec<Figures>)>,
}

impl CellRuns {
    fn of(&self, target: &str) -> Option<&[Figures]> {
        let runs = self.targets.iter().find(|(name, _)| *name == target);
        runs.map(|(_, figures)| figures.as_slice())
    }
}

/// The headline part's results, ready to print.
pub(crate) struct Headline {
    plan: Plan,
    cells: Vec<CellRuns>,
    nginx: bool,
    json_len: usize,
    sse_len: usize,
    events: usize,
    first_token_event: usize,
}

fn socket_addr(base_url: &str) -> SocketAddr {
    let hostport = base_url.trim_start_matches("http://").trim_end_matches('/');
    hostport
        .parse()
        .unwrap_or_else(|e| panic!("the daemon's base URL {base_url} is not host:port: {e}"))
}

fn nginx_fast_config(dir: &Path, port: u16, upstream: SocketAddr) -> String {
    NGINX_TEMPLATE
        .replace("@DIR@", &dir.display().to_string())
        .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
        .replace("@UPSTREAM@", &upstream.to_string())
}

/// nginx's master and its workers, once the workers have been forked.
fn nginx_pids(nginx: &Nginx) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut pids = nginx.pids();
    while pids.len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        pids = nginx.pids();
    }
    pids
}

/// Run `cells`, `plan.repeats` times each.
pub(crate) fn measure(
    runtime: &Runtime,
    opts: &Options,
    nginx_binary: Option<&Path>,
    cells: &[Cell],
) -> Headline {
    let plan = Plan::of(opts);
    let fast = Responder::spawn(Flavor::Fast).expect("cannot start the fast upstream");
    let paced = Responder::spawn(Flavor::Paced).expect("cannot start the paced upstream");
    let mut results = Vec::new();
    let mut nginx_ran = false;
    for &cell in cells {
        eprintln!("headline: {}…", cell.label());
        let responder = if cell.shape == Shape::Paced {
            &paced
        } else {
            &fast
        };
        let mut runs = CellRuns {
            cell,
            targets: Vec::new(),
        };
        for repeat in 0..plan.repeats {
            let home = Home::new(&responder.url());
            let daemon = home.start_daemon();
            let nginx = nginx_binary.and_then(|binary| {
                let config = |dir: &Path, port| nginx_fast_config(dir, port, responder.addr);
                (Nginx::start_with(binary, config))
                    .map_err(|e| eprintln!("warning: nginx left out: {e}"))
                    .ok()
            });
            let mut targets = vec![
                ("direct", responder.addr, Vec::new()),
                ("qcc", socket_addr(&daemon.base_url), vec![daemon.pid]),
            ];
            if let Some(nginx) = &nginx {
                targets.push(("nginx", nginx.addr(), nginx_pids(nginx)));
                nginx_ran = true;
            }
            let first = repeat % targets.len();
            targets.rotate_left(first);
            for (name, addr, proxy_pids) in targets {
                let proxied = !proxy_pids.is_empty();
                let probe = Probe {
                    responder,
                    proxy_pids,
                };
                let served_before = responder.requests();
                let (run, cpu) = closed_loop(runtime, plan, addr, cell, &probe);
                report_trouble(name, cell, &run, &cpu, plan.window);
                if responder.requests() == served_before {
                    eprintln!("warning: {name}: the fast upstream saw no request");
                }
                let figures = Figures::of(repeat, &run, &cpu, plan.window, proxied);
                match runs.targets.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, all)) => all.push(figures),
                    None => runs.targets.push((name, vec![figures])),
                }
            }
        }
        runs.targets
            .sort_by_key(|(name, _)| TARGETS.iter().position(|t| t == name));
        results.push(runs);
    }
    let canned = &fast.shared.canned;
    Headline {
        plan,
        nginx: nginx_ran,
        json_len: canned.json_len,
        sse_len: canned.sse_len,
        events: canned.paced.len(),
        first_token_event: canned.first_token_event,
        cells: results,
    }
}

fn report_trouble(name: &str, cell: Cell, run: &ClientRun, cpu: &Cpu, window: Duration) {
    if let Some(e) = &run.first_error {
        let label = cell.label();
        eprintln!(
            "warning: {name}, {label}: {} errors, first: {e}",
            run.errors
        );
    }
    let other = cpu.other().as_secs_f64() / window.as_secs_f64() * 100.0;
    if other > DISTURBED_PCT {
        eprintln!(
            "warning: {name}, {}: other processes used {other:.0} % of a core during the run",
            cell.label()
        );
    }
}

// ---------------------------------------------------------------------------------------
// The report

/// Median, min and max (NaN values left out); `None` when nothing is left.
fn spread(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[0], v[n - 1]))
}

/// "median (min–max)", or the value alone for one repeat; "–" for nothing.
fn show(values: impl IntoIterator<Item = f64>, decimals: usize, signed: bool) -> String {
    let Some((median, min, max)) = spread(values) else {
        return "–".to_owned();
    };
    let one = |x: f64| {
        if signed {
            format!("{x:+.decimals$}")
        } else {
            format!("{x:.decimals$}")
        }
    };
    if min == max {
        one(median)
    } else {
        format!("{} ({}–{})", one(median), one(min), one(max))
    }
}

fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    spread(values).map_or(f64::NAN, |(m, _, _)| m)
}

/// `pick(target) − pick(direct)`, per repeat.
fn added(runs: &[Figures], direct: &[Figures], pick: fn(&Figures) -> f64) -> Vec<f64> {
    let paired = runs.iter().filter_map(|r| {
        let d = direct.iter().find(|d| d.repeat == r.repeat)?;
        Some(pick(r) - pick(d))
    });
    paired.collect()
}

impl Headline {
    pub(crate) fn print(&self) {
        let p = &self.plan;
        println!("### Headline: fast upstream, small requests");
        println!();
        println!(
            "{} cores. Upstream: the bench's own responder, a {} B JSON message or a {} B \
             SSE stream of {} events, each in one write from one thread (a tokio event loop); \
             paced: a thread per connection, one write per event, {} ms apart. Request body: \
             {} B. Load: raw HTTP/1.1 keep-alive closed-loop clients (tokio). Each cell: {} \
             repeat(s) of {} s after {} s of warm-up, targets in rotated order, a fresh qcc \
             daemon and nginx per repeat; figures are the median over repeats, with \
             (min–max) when they differ. nginx: one worker (`bench/nginx-fast.conf`){}.",
            cores(),
            self.json_len,
            self.sse_len,
            self.events,
            PACE.as_millis(),
            request_body(true).len(),
            p.repeats,
            p.window.as_secs_f64(),
            p.warmup.as_secs_f64(),
            if self.nginx {
                ""
            } else {
                "; left out here (not found, or `--no-nginx`)"
            },
        );
        println!();
        for shape in [Shape::Whole, Shape::Stream] {
            self.print_shape(shape);
        }
        self.print_paced();
        self.print_check();
    }

    fn print_shape(&self, shape: Shape) {
        let cells: Vec<&CellRuns> = self
            .cells
            .iter()
            .filter(|c| c.cell.shape == shape)
            .collect();
        if cells.is_empty() {
            return;
        }
        let answer = if shape.streams() {
            format!("{:.1} KB SSE answer", self.sse_len as f64 / 1000.0)
        } else {
            format!("{:.2} KB JSON answer", self.json_len as f64 / 1000.0)
        };
        println!(
            "#### {}, fast upstream ({} B request, {answer})",
            crate::capitalized(shape.label()),
            request_body(shape.streams()).len()
        );
        println!();
        let mut head = "| target | clients | req/s | p50 ms | p99 ms |".to_owned();
        if shape.streams() {
            head.push_str(" 1st byte p50 ms | 1st byte p99 ms |");
        }
        head.push_str(" added p99 ms | proxy CPU µs/req |");
        head.push_str(" CPU % responder / proxy / load gen / other | errors |");
        println!("{head}");
        println!("|{}", "---|".repeat(head.matches('|').count() - 1));
        for runs in cells {
            let direct = runs.of("direct").unwrap_or_default();
            for (name, figures) in &runs.targets {
                let col = |pick: fn(&Figures) -> f64, decimals| {
                    show(figures.iter().map(pick), decimals, false)
                };
                let mut line = format!(
                    "| {name} | {} | {} | {} | {} |",
                    runs.cell.clients,
                    col(|f| f.rps, 0),
                    col(|f| f.p50, 3),
                    col(|f| f.p99, 3)
                );
                if shape.streams() {
                    line.push_str(&format!(
                        " {} | {} |",
                        col(|f| f.first_byte_p50, 3),
                        col(|f| f.first_byte_p99, 3)
                    ));
                }
                let added_p99 = if *name == "direct" {
                    "–".to_owned()
                } else {
                    show(added(figures, direct, |f| f.p99), 3, true)
                };
                line.push_str(&format!(
                    " {added_p99} | {} | {} | {} |",
                    col(|f| f.proxy_us, 0),
                    cpu_shares(figures),
                    figures.iter().map(|f| f.errors).sum::<usize>()
                ));
                println!("{line}");
            }
        }
        println!();
    }

    fn print_paced(&self) {
        let Some(runs) = self.cells.iter().find(|c| c.cell.shape == Shape::Paced) else {
            return;
        };
        println!(
            "#### Time to first token: paced stream ({} clients, {} events {} ms apart)",
            runs.cell.clients,
            self.events,
            PACE.as_millis()
        );
        println!();
        println!(
            "First token: the read that brings the first `content_block_delta` (event {}, \
             written {} ms after the responder has read the request). Added = target − \
             direct, per repeat.",
            self.first_token_event + 1,
            self.first_token_event as u128 * PACE.as_millis()
        );
        println!();
        let head = "| target | clients | req/s | 1st byte p50 ms | 1st token p50 ms | \
                    1st token p99 ms | added 1st token p50 ms | added 1st token p99 ms | \
                    whole stream p50 ms | proxy CPU µs/req | \
                    CPU % responder / proxy / load gen / other | errors |";
        println!("{head}");
        println!("|{}", "---|".repeat(head.matches('|').count() - 1));
        let direct = runs.of("direct").unwrap_or_default();
        for (name, figures) in &runs.targets {
            let col = |pick: fn(&Figures) -> f64, decimals| {
                show(figures.iter().map(pick), decimals, false)
            };
            let add = |pick: fn(&Figures) -> f64| {
                if *name == "direct" {
                    "–".to_owned()
                } else {
                    show(added(figures, direct, pick), 3, true)
                }
            };
            println!(
                "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                runs.cell.clients,
                col(|f| f.rps, 0),
                col(|f| f.first_byte_p50, 3),
                col(|f| f.first_token_p50, 3),
                col(|f| f.first_token_p99, 3),
                add(|f| f.first_token_p50),
                add(|f| f.first_token_p99),
                col(|f| f.p50, 3),
                col(|f| f.proxy_us, 0),
                cpu_shares(figures),
                figures.iter().map(|f| f.errors).sum::<usize>()
            );
        }
        println!();
    }

    /// Whether the upstream was the bottleneck, cell by cell.
    fn print_check(&self) {
        if self.cells.is_empty() {
            return;
        }
        println!("#### Is the upstream the bottleneck?");
        println!();
        println!(
            "The responder is not the bottleneck of a cell when (a) `direct` (the responder \
             and the load generator alone) serves at least {HEADROOM}× the req/s of the \
             fastest proxied target, and (b) while a proxy is in the path the responder uses \
             at most {RESPONDER_MAX_PCT:.0} % of a core, the busiest process being the proxy \
             or the load generator. For the paced cell throughput is set by the pacing, so \
             only (b) applies. The responder's CPU per response is there to compare with the \
             proxies' (the tables above)."
        );
        println!();
        println!(
            "| cell | direct req/s | qcc req/s | nginx req/s | direct ÷ fastest proxy | \
             responder CPU %: direct run / proxied runs (max) | \
             responder µs/req: direct / qcc / nginx | busiest process, proxied runs | verdict |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for runs in &self.cells {
            let rps = |target: &str| runs.of(target).map(|f| median(f.iter().map(|f| f.rps)));
            let (direct, qcc, nginx) = (rps("direct"), rps("qcc"), rps("nginx"));
            let best = qcc.into_iter().chain(nginx).fold(f64::NAN, f64::max);
            let ratio = direct.map_or(f64::NAN, |d| d / best);
            let responder = |target: &str| {
                runs.of(target)
                    .map_or(f64::NAN, |f| median(f.iter().map(|f| f.cpu_pct[0])))
            };
            let proxied_max = responder("qcc").max(responder("nginx"));
            let responder_us = ["direct", "qcc", "nginx"].map(|target| {
                let us = runs
                    .of(target)
                    .map(|f| median(f.iter().map(|f| f.responder_us)));
                us.map_or("–".to_owned(), |us| format!("{us:.1}"))
            });
            let mut busiest = Vec::new();
            for target in ["qcc", "nginx"] {
                let Some(figures) = runs.of(target) else {
                    continue;
                };
                let share = |i: usize| median(figures.iter().map(|f| f.cpu_pct[i]));
                let named = [
                    ("responder", share(0)),
                    ("proxy", share(1)),
                    ("load gen", share(2)),
                ];
                let (who, pct) = named.into_iter().fold(("–", f64::NEG_INFINITY), |a, b| {
                    if b.1 > a.1 { b } else { a }
                });
                busiest.push(format!("{target}: {who} {pct:.0} %"));
            }
            let paced = runs.cell.shape == Shape::Paced;
            let headroom_ok = paced || ratio >= HEADROOM;
            let responder_ok = proxied_max <= RESPONDER_MAX_PCT;
            let verdict = match (headroom_ok, responder_ok) {
                (true, true) => "not the bottleneck".to_owned(),
                (false, true) => format!("**check**: direct < {HEADROOM}× proxies"),
                (true, false) => format!("**check**: responder > {RESPONDER_MAX_PCT:.0} %"),
                (false, false) => "**check**: both".to_owned(),
            };
            let num = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.0}"));
            println!(
                "| {} | {} | {} | {} | {} | {:.0} / {:.0} | {} | {} | {verdict} |",
                runs.cell.label(),
                num(direct),
                num(qcc),
                num(nginx),
                if ratio.is_nan() {
                    "–".to_owned()
                } else {
                    format!("{ratio:.2}×")
                },
                responder("direct"),
                proxied_max,
                responder_us.join(" / "),
                busiest.join("; ")
            );
        }
        println!();
    }
}

/// Median CPU shares over the repeats, "responder / proxy / load gen / other".
fn cpu_shares(figures: &[Figures]) -> String {
    let share = |i: usize| median(figures.iter().map(|f| f.cpu_pct[i]));
    format!(
        "{:.0} / {:.0} / {:.0} / {:.0}",
        share(0),
        share(1),
        share(2),
        share(3)
    )
}
