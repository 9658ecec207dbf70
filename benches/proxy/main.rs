//! Proxy benchmark: what the qcc proxy daemon adds over talking to the upstream directly.
//!
//! Everything runs on this one machine (load generator, proxy and upstream share the cores).
//! Targets: `direct` (the upstream itself), `qcc` (the release daemon, started as a user
//! would: a throwaway config dir, `qcc profile add` / `endpoint add`, `qcc proxy start
//! --listen 127.0.0.1:0`) and `nginx` (the reference reverse proxy; only when `nginx` is on
//! PATH or in /usr/sbin: `bench/run.sh` apt-installs it; without it the rest still runs).
//! Proxies' figures are also given as "added" over `direct`.
//!
//! - Headline (`headline.rs`, issue 13): an upstream that costs almost nothing, so that the
//!   proxy is what saturates. The upstream is a compiled responder inside this process (one
//!   thread, a tokio event loop, canned answers in one write: a 0.48 KB JSON message, or a
//!   3.3 KB Anthropic SSE stream as one chunk); requests are 125 B; the load generator is
//!   raw HTTP/1.1 keep-alive closed-loop clients over tokio sockets. Cells: non-streaming
//!   and streaming × 16 and 128 clients, plus time to first token at 16 clients against a
//!   responder that writes one SSE event every 5 ms (a thread per connection, so that the
//!   gaps are kept to tens of µs). nginx here runs one worker (`bench/nginx-fast.conf`,
//!   ports and paths filled in), like qcc's single serving lane on 2 cores. 3 repeats × 5 s
//!   per cell (targets in rotated order), reported as median and min–max; per cell: req/s,
//!   p50/p99 latency, added p99, proxy CPU µs per request, the CPU shares of responder /
//!   proxy / load generator / other, and a table that checks the responder was not the
//!   bottleneck.
//! - Claude-Code-shaped requests: latency (p50/p99 of the whole response, and for streams
//!   of the first chunk) and throughput of reqwest closed-loop clients (each sends, reads
//!   the whole response, repeats) at 1, 16 and 128 concurrent clients, streaming and
//!   non-streaming, in front of the fake upstream `qcc::fake` (one thread: it saturates
//!   first from 16 clients on). nginx here runs 2 workers (`nginx_config`).
//! - How long `qcc proxy start` takes to return with a ready daemon (median of 10 cycles).
//! - The daemon's RSS idle, and while it holds 1,000 open streams (plus variants that show
//!   what that figure is made of).
//! - One endpoint down: what failing over from an endpoint that refuses connections adds
//!   to a request, and what skipping an endpoint whose breaker is open adds (1 client,
//!   against the healthy endpoint alone).
//!
//! Every load run also reports CPU time from /proc (utime + stime over the recorded
//! window): the proxy's per response (the daemon; nginx master + workers), and the share
//! of a core used by the upstream, the proxy, the load generator (the rest of this process)
//! and everything else (a run with "other" load is flagged on stderr). In the 75 KB part
//! each mode × concurrency runs in 3 rounds (targets in rotated order; samples pooled); each
//! round gets a fresh fake upstream (it keeps every request it receives) with a fresh qcc
//! daemon and nginx in front of it. Its request body is
//! `tests/fixtures/claude_code_like_request.json` (75 KB, sent with that fixture's
//! headers), with `"stream"` set to true or false.
//!
//! From the library the bench uses `qcc::fake` only (and runs the `qcc` binary).
//!
//! Run from the repo root: `cargo bench --bench proxy` (about 11 minutes). Options after
//! `--`: `--quick` (smoke run: one round/repeat of 1 s runs), `--no-nginx`, `--secs N`
//! (recorded seconds of each headline run), and `--only headline` (the headline cells
//! alone, about 5 minutes), `--only headline:MODE:CLIENTS` (one headline cell, MODE being
//! `whole`, `stream` or `paced`, e.g. `--only headline:stream:128 --secs 30` to profile),
//! `--only start`, `--only memory`, `--only down` or `--only MODE:CLIENTS` (one 75 KB cell,
//! MODE being `whole` or `stream`: `--only stream:16`). Prints Markdown tables for
//! docs/benchmarks.md on stdout, progress and warnings on stderr.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use qcc::fake::{FakeUpstream, Fault};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::runtime::Runtime;

mod headline;

const QCC: &str = env!("CARGO_BIN_EXE_qcc");
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/claude_code_like_request.json"
);
const FIXTURE_HEADERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/claude_code_like_request.headers.json"
);
const CONCURRENCY: [usize; 3] = [1, 16, 128];
const START_CYCLES: usize = 10;
const HELD_STREAMS: usize = 1000;
/// Streams opened at a time in the memory variant that does not open them all at once.
const WAVE_SIZE: usize = 200;
/// Each held stream waits this long before every SSE event, so all stay open together.
const HELD_STREAM_PACE: Duration = Duration::from_secs(2);
const MB: f64 = 1_000_000.0;
/// CPU use by other processes (% of a core) past which a run is reported as disturbed.
const DISTURBED_PCT: f64 = 15.0;
/// The load runs' fake upstream (its thread is `fake-upstream-<name>`).
const FAKE_NAME: &str = "load";

// Goals (from the issue).
const GOAL_ADDED_P99_MS: f64 = 1.0;
const GOAL_FIRST_BYTE_MS: f64 = 0.3;
const GOAL_START_MS: f64 = 300.0;
const GOAL_RSS_IDLE_MB: f64 = 20.0;
const GOAL_RSS_STREAMS_MB: f64 = 150.0;

fn main() {
    let opts = Options::from_args();
    raise_fd_limit();
    // reqwest is built without a crypto provider: install rustls' (the daemon does the
    // same for itself), before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime");
    let request = Request::load();
    let nginx = opts.nginx.then(find_nginx).flatten();

    let headline_cells = opts.headline_cells();
    if !headline_cells.is_empty() {
        let headline = headline::measure(&runtime, &opts, nginx.as_deref(), &headline_cells);
        headline.print();
    }
    let start_times = opts.runs(Part::Start).then(|| {
        eprintln!("measuring `proxy start` ({START_CYCLES} cycles)…");
        measure_start_times()
    });
    let memory = opts.runs(Part::Memory).then(|| {
        eprintln!("measuring daemon memory (idle, then {HELD_STREAMS} open streams)…");
        measure_memory(&runtime, &request)
    });
    let down = opts.runs(Part::Down).then(|| {
        eprintln!("measuring one endpoint down (failover, open breaker)…");
        measure_endpoint_down(&runtime, &request)
    });
    let mut rows = Vec::new();
    for cell in opts.cells() {
        eprintln!("load: {}, {} clients…", cell.mode.label(), cell.concurrency);
        rows.extend(measure_cell(
            &runtime,
            &opts,
            nginx.as_deref(),
            &request,
            cell,
        ));
    }

    let report = Report {
        rows,
        start_times,
        memory,
        nginx: nginx.is_some(),
    };
    report.print(&opts);
    if let Some(down) = down {
        down.print();
    }
}

// ---------------------------------------------------------------------------------------
// One endpoint down (the routing issue's figures)

/// Requests timed one after another per scenario.
const DOWN_REQUESTS: usize = 400;
/// Failing over from an endpoint that refuses connections may add this much (p50).
const GOAL_FAILOVER_MS: f64 = 2.0;
/// Skipping an open breaker must add no more than this (p50): within the noise.
const GOAL_SKIP_MS: f64 = 0.05;

/// Latencies (sorted) of the requests that went as the scenario intends.
struct Down {
    baseline: Vec<Duration>,
    failover: Vec<Duration>,
    skip: Vec<Duration>,
}

/// A loopback address nothing listens on (connections are refused).
fn refused_url() -> String {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind a probe port");
    format!("http://{}", l.local_addr().expect("a bound port"))
}

/// Time `DOWN_REQUESTS` sequential non-streaming requests; keep those answered 200 after
/// `attempts` attempts. The requests carry no conversation id (header or
/// `metadata.user_id`): a sticky conversation would stay on the healthy endpoint after its
/// first failover, and this measures the failover itself.
fn time_requests(
    runtime: &Runtime,
    daemon: &Daemon<'_>,
    request: &Request,
    attempts: &str,
) -> Vec<Duration> {
    let client = load_client();
    let url = format!("{}/v1/messages", daemon.base_url);
    let mut headers = request.headers.clone();
    headers.remove("x-claude-code-session-id");
    let mut body: serde_json::Value =
        serde_json::from_slice(&request.whole).expect("the request fixture is JSON");
    if let Some(o) = body.as_object_mut() {
        o.remove("metadata");
    }
    let body = Bytes::from(serde_json::to_vec(&body).expect("JSON encodes"));
    let mut kept = runtime.block_on(async {
        let mut kept = Vec::new();
        for _ in 0..DOWN_REQUESTS {
            let started = Instant::now();
            let Ok(resp) = client
                .post(&url)
                .headers(headers.clone())
                .body(body.clone())
                .send()
                .await
            else {
                continue;
            };
            let ok = resp.status() == 200
                && resp
                    .headers()
                    .get("x-qcc-attempts")
                    .and_then(|v| v.to_str().ok())
                    == Some(attempts);
            if resp.bytes().await.is_ok() && ok {
                kept.push(started.elapsed());
            }
        }
        kept
    });
    kept.sort();
    kept
}

fn measure_endpoint_down(runtime: &Runtime, request: &Request) -> Down {
    let fake = FakeUpstream::spawn_named("down").expect("cannot start the fake upstream");
    let healthy = fake.url();
    let baseline = {
        let home = Home::new(&healthy);
        let daemon = home.start_daemon();
        time_requests(runtime, &daemon, request, "1")
    };
    // The refusing endpoint first; the healthy one second.
    let home = Home::new(&refused_url());
    home.run(&[
        "endpoint",
        "add",
        "bench",
        "--url",
        &healthy,
        "--key",
        "sk-bench-0000000000000001",
    ]);
    home.run(&["profile", "edit", "bench", "--strategy", "ordered"]);
    // Breaker never opens: every request fails over (as far as the retry budget allows;
    // requests it refused are not counted).
    home.run(&["priority", "policy", "--failure-threshold", "100"]);
    let failover = {
        let daemon = home.start_daemon();
        time_requests(runtime, &daemon, request, "2")
    };
    // Breaker opens at the first failure and stays open: the endpoint is skipped.
    home.run(&[
        "priority",
        "policy",
        "--failure-threshold",
        "1",
        "--cooldown",
        "600",
    ]);
    let skip = {
        let daemon = home.start_daemon();
        time_requests(runtime, &daemon, request, "1")
    };
    Down {
        baseline,
        failover,
        skip,
    }
}

impl Down {
    fn print(&self) {
        let base50 = percentile_ms(&self.baseline, 50.0);
        let base99 = percentile_ms(&self.baseline, 99.0);
        println!("### One endpoint down (non-streaming, 1 client, {DOWN_REQUESTS} requests each)");
        println!();
        println!("| scenario | samples | p50 ms | p99 ms | added p50 ms | added p99 ms |");
        println!("|---|---|---|---|---|---|");
        let row = |name: &str, v: &[Duration]| {
            let (p50, p99) = (percentile_ms(v, 50.0), percentile_ms(v, 99.0));
            println!(
                "| {name} | {} | {p50:.3} | {p99:.3} | {:+.3} | {:+.3} |",
                v.len(),
                p50 - base50,
                p99 - base99
            );
            p50 - base50
        };
        row("healthy endpoint alone (baseline)", &self.baseline);
        let failover = row(
            "first endpoint refuses connections: every request fails over",
            &self.failover,
        );
        let skip = row("first endpoint's breaker open: it is skipped", &self.skip);
        println!();
        let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
        println!("| goal | target | measured | result |");
        println!("|---|---|---|---|");
        println!(
            "| failing over from a refusing endpoint adds | ≤ {GOAL_FAILOVER_MS} ms | {failover:+.3} ms p50 | {} |",
            verdict(failover <= GOAL_FAILOVER_MS)
        );
        println!(
            "| skipping an open breaker adds | nothing measurable (≤ {GOAL_SKIP_MS} ms) | {skip:+.3} ms p50 | {} |",
            verdict(skip <= GOAL_SKIP_MS)
        );
        println!();
    }
}

// ---------------------------------------------------------------------------------------
// Options and environment

struct Options {
    quick: bool,
    nginx: bool,
    /// `--only start|memory|down|headline[:MODE:CLIENTS]|MODE:CLIENTS`: run that part alone
    /// (for profiling).
    only: Option<Part>,
    /// `--secs N`: recorded seconds of each headline run (default 5, `--quick` 1).
    secs: Option<f64>,
}

/// What `--only` picks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Start,
    Memory,
    /// One endpoint down: failing over from it, and skipping its open breaker.
    Down,
    /// One load cell, e.g. `stream:16` or `whole:1`.
    Load(Cell),
    /// The headline cells (fast upstream, small requests): all, or one.
    Headline(Option<headline::Cell>),
}

impl Part {
    fn parse(spec: &str) -> Option<Part> {
        match spec {
            "start" => Some(Part::Start),
            "memory" => Some(Part::Memory),
            "down" => Some(Part::Down),
            _ if spec.starts_with("headline") => headline::parse(spec).map(Part::Headline),
            _ => Cell::parse(spec).map(Part::Load),
        }
    }
}

impl Options {
    /// `cargo bench` passes `--bench`; unknown arguments are ignored.
    fn from_args() -> Options {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let only = args.iter().position(|a| a == "--only").map(|i| {
            let spec = args.get(i + 1).map_or("", String::as_str);
            Part::parse(spec).expect(
                "--only takes start, memory, down, headline, headline:MODE:CLIENTS \
                 (MODE whole, stream or paced) or MODE:CLIENTS (whole:16, stream:1, …)",
            )
        });
        let secs = args.iter().position(|a| a == "--secs").map(|i| {
            let secs = args.get(i + 1).and_then(|s| s.parse::<f64>().ok());
            secs.filter(|&s| s > 0.0)
                .expect("--secs takes a number of seconds")
        });
        Options {
            quick: has("--quick"),
            nginx: !has("--no-nginx"),
            only,
            secs,
        }
    }

    fn runs(&self, part: Part) -> bool {
        self.only.is_none_or(|only| only == part)
    }

    /// The headline cells to run.
    fn headline_cells(&self) -> Vec<headline::Cell> {
        match self.only {
            None | Some(Part::Headline(None)) => headline::all_cells(),
            Some(Part::Headline(Some(cell))) => vec![cell],
            Some(_) => Vec::new(),
        }
    }

    fn cells(&self) -> Vec<Cell> {
        match self.only {
            Some(Part::Load(cell)) => return vec![cell],
            Some(_) => return Vec::new(),
            None => {}
        }
        let modes = [Mode::Whole, Mode::Stream];
        let each = |mode| CONCURRENCY.map(|concurrency| Cell { mode, concurrency });
        modes.into_iter().flat_map(each).collect()
    }

    /// Unrecorded time at the start of every run (connections, caches, pools).
    fn warmup(&self) -> Duration {
        Duration::from_millis(if self.quick { 300 } else { 1000 })
    }

    /// Recorded time of every run.
    fn window(&self) -> Duration {
        Duration::from_secs(if self.quick { 1 } else { 3 })
    }

    /// Rounds per load cell (each target runs once per round; results are pooled).
    fn rounds(&self) -> usize {
        if self.quick { 1 } else { 3 }
    }
}

/// Raise our own soft RLIMIT_NOFILE to the hard limit (1,000 held streams need ~2,100 fds
/// here: the clients' sockets and the fake upstream's).
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a local struct.
    let ok = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0
        }
    };
    if !ok || lim.rlim_cur < 4096 {
        eprintln!(
            "warning: open-file limit is {} (want ≥ 4096); the 1,000-stream test may fail",
            lim.rlim_cur
        );
    }
}

fn find_nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]);
    let found = dirs.map(|d| d.join("nginx")).find(|p| p.is_file());
    if found.is_none() {
        eprintln!("nginx not found on PATH: the nginx reference is left out");
    }
    found
}

/// A free port on 127.0.0.1 (bound, read, released).
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("bound socket has an address")
        .port()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// ---------------------------------------------------------------------------------------
// The request

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Whole,
    Stream,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Whole => "non-streaming",
            Mode::Stream => "streaming",
        }
    }
}

/// The fixture request: its headers and its body in both modes.
struct Request {
    headers: HeaderMap,
    whole: Bytes,
    stream: Bytes,
}

impl Request {
    fn load() -> Request {
        let text = std::fs::read(FIXTURE)
            .unwrap_or_else(|e| panic!("cannot read the request fixture {FIXTURE}: {e}"));
        let mut body: serde_json::Value =
            serde_json::from_slice(&text).expect("the request fixture is not JSON");
        let mut encode = |stream: bool| {
            body["stream"] = serde_json::Value::Bool(stream);
            Bytes::from(serde_json::to_vec(&body).expect("JSON encodes"))
        };
        Request {
            whole: encode(false),
            stream: encode(true),
            headers: fixture_headers(),
        }
    }

    fn body(&self, mode: Mode) -> Bytes {
        match mode {
            Mode::Whole => self.whole.clone(),
            Mode::Stream => self.stream.clone(),
        }
    }
}

/// The fixture's (Claude Code's) headers, with `x-api-key: anything` and no
/// `accept-encoding` (nobody compresses here; it keeps the comparison plain).
fn fixture_headers() -> HeaderMap {
    let text = std::fs::read(FIXTURE_HEADERS)
        .unwrap_or_else(|e| panic!("cannot read the header fixture {FIXTURE_HEADERS}: {e}"));
    let pairs: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&text).expect("the header fixture is not a JSON object");
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let (Ok(name), Some(value)) = (HeaderName::from_bytes(name.as_bytes()), value.as_str())
        else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    headers.remove(reqwest::header::ACCEPT_ENCODING);
    headers.insert("x-api-key", HeaderValue::from_static("anything"));
    headers
}

/// A client with room for every concurrent connection.
fn load_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(2048)
        .tcp_nodelay(true)
        .build()
        .expect("cannot build the load generator's HTTP client")
}

// ---------------------------------------------------------------------------------------
// The qcc daemon

/// A hermetic qcc home (config, runtime dir, HOME) with one profile and one endpoint.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(upstream_url: &str) -> Home {
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        let home = Home { dir };
        home.run(&["profile", "add", "bench"]);
        let key = "sk-bench-0000000000000000";
        home.run(&[
            "endpoint",
            "add",
            "bench",
            "--url",
            upstream_url,
            "--key",
            key,
        ]);
        home
    }

    fn qcc(&self, args: &[&str]) -> Command {
        let root = self.dir.path();
        let mut cmd = Command::new(QCC);
        cmd.args(args)
            .env("QCC_CONFIG_DIR", root.join("config"))
            .env("QCC_RUNTIME_DIR", root.join("run"))
            .env("HOME", root)
            .env_remove("QCC_ACCESS_TOKEN")
            .env_remove("QCC_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// Run qcc to completion; its stdout (panics with its stderr when it fails).
    fn run(&self, args: &[&str]) -> String {
        let out = (self.qcc(args).output())
            .unwrap_or_else(|e| panic!("cannot run {QCC}: {e} (build it: cargo build --release)"));
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            panic!("`qcc {}` failed: {stderr}", args.join(" "));
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `qcc proxy start` on a free port; stopped again when the guard drops.
    fn start_daemon(&self) -> Daemon<'_> {
        let started = Instant::now();
        let out = self.run(&["proxy", "start", "--listen", "127.0.0.1:0", "--json"]);
        let ready_in = started.elapsed();
        let json: serde_json::Value =
            serde_json::from_str(&out).expect("`proxy start --json` printed no JSON");
        assert_eq!(
            json["already_running"].as_bool(),
            Some(false),
            "a daemon was already running in a fresh home: {out}"
        );
        let pid = json["pid"]
            .as_i64()
            .expect("`proxy start --json` has a pid") as i32;
        let base_url = json["base_url"]
            .as_str()
            .expect("`proxy start --json` has a base_url");
        Daemon {
            home: self,
            pid,
            base_url: base_url.to_owned(),
            ready_in,
        }
    }
}

/// A running daemon; dropping it runs `qcc proxy stop` (SIGTERM if that fails).
struct Daemon<'a> {
    home: &'a Home,
    pid: i32,
    base_url: String,
    /// Wall time of `qcc proxy start`.
    ready_in: Duration,
}

impl Daemon<'_> {
    /// VmRSS in bytes.
    fn rss(&self) -> u64 {
        proc_status_kib(self.pid, "VmRSS").map_or(0, |kib| kib * 1024)
    }
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        let stopped = self.home.qcc(&["proxy", "stop"]).output();
        if !stopped.is_ok_and(|out| out.status.success()) {
            // SAFETY: plain kill(2) on the daemon's pid.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
        }
    }
}

/// A `kB` field of /proc/<pid>/status, in KiB.
fn proc_status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------
// nginx, the reference

/// nginx as a reverse proxy in front of `upstream`, in the foreground, killed on drop.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// With this file's config (the 75 KB cells).
    fn start(binary: &Path, upstream: SocketAddr) -> Result<Nginx, String> {
        Nginx::start_with(binary, |dir, port| nginx_config(dir, upstream, port))
    }

    /// With the config `config(prefix dir, listen port)` returns.
    fn start_with(
        binary: &Path,
        config: impl FnOnce(&Path, u16) -> String,
    ) -> Result<Nginx, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let port = free_port();
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config(dir.path(), port))
            .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
        let error_log = dir.path().join("error.log");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(&error_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let mut nginx = Nginx {
            child,
            port,
            _dir: dir,
        };
        nginx.wait_ready().map_err(|e| {
            let log = std::fs::read_to_string(&error_log).unwrap_or_default();
            format!("{e}; error.log: {}", log.trim())
        })?;
        Ok(nginx)
    }

    /// Readiness: the port accepts connections (nginx has no readiness signal).
    fn wait_ready(&mut self) -> Result<(), String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("nginx exited at startup ({status})"));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("nginx did not accept connections within 5 s".to_owned())
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The master and its workers.
    fn pids(&self) -> Vec<i32> {
        let master = self.child.id() as i32;
        let mut pids = children(master);
        pids.push(master);
        pids
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would orphan them.
        // SAFETY: plain kill(2) on our child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_config(dir: &Path, upstream: SocketAddr, port: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;
worker_processes 2;
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream up {{ server {upstream}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffering off;
            proxy_request_buffering off;
            client_max_body_size 64m;
        }}
    }}
}}
"
    )
}

// ---------------------------------------------------------------------------------------
// Load: closed-loop clients

/// One response as the client saw it, timed from just before the request was sent.
#[derive(Clone, Copy)]
struct Sample {
    total: Duration,
    first_chunk: Duration,
}

/// Send one request and read the whole response.
async fn one_request(
    client: &reqwest::Client,
    url: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Sample, String> {
    let started = Instant::now();
    let request = client.post(url).headers(headers.clone()).body(body);
    let mut response = request.send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut first_chunk = None;
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if first_chunk.is_none() && !chunk.is_empty() {
            first_chunk = Some(started.elapsed());
        }
    }
    let first_chunk = first_chunk.ok_or("empty response body")?;
    Ok(Sample {
        total: started.elapsed(),
        first_chunk,
    })
}

/// What one run of closed-loop clients produced.
#[derive(Default)]
struct RunResult {
    /// Responses that ended inside the measurement window.
    samples: Vec<Sample>,
    errors: usize,
    first_error: Option<String>,
}

impl RunResult {
    fn merge(&mut self, other: RunResult) {
        self.samples.extend(other.samples);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// When a run records: responses that end in `[from, until]` count.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

/// One client: send, read everything, repeat, until the window closes.
async fn client_loop(
    client: reqwest::Client,
    url: Arc<str>,
    headers: Arc<HeaderMap>,
    body: Bytes,
    window: Window,
) -> RunResult {
    let mut result = RunResult::default();
    while Instant::now() < window.until {
        let outcome = one_request(&client, &url, &headers, body.clone()).await;
        let ended = Instant::now();
        if ended < window.from || ended > window.until {
            continue;
        }
        match outcome {
            Ok(sample) => result.samples.push(sample),
            Err(e) => {
                result.errors += 1;
                result.first_error.get_or_insert(e);
            }
        }
    }
    result
}

/// `cell.concurrency` closed-loop clients against `target`: a warm-up, then the recorded
/// window. Also returns the CPU time spent during the recorded window (`target.cpu`).
fn closed_loop(
    runtime: &Runtime,
    opts: &Options,
    target: &Target,
    request: &Request,
    cell: Cell,
) -> (RunResult, Cpu) {
    let client = load_client();
    let url: Arc<str> = Arc::from(format!("{}/v1/messages", target.url));
    let headers = Arc::new(request.headers.clone());
    let from = Instant::now() + opts.warmup();
    let window = Window {
        from,
        until: from + opts.window(),
    };
    runtime.block_on(async {
        let clients: Vec<_> = (0..cell.concurrency)
            .map(|_| {
                let body = request.body(cell.mode);
                let task = client_loop(client.clone(), url.clone(), headers.clone(), body, window);
                tokio::spawn(task)
            })
            .collect();
        tokio::time::sleep_until(window.from.into()).await;
        let before = target.cpu.read();
        tokio::time::sleep_until(window.until.into()).await;
        let cpu = target.cpu.read().since(before);
        let mut all = RunResult::default();
        for client in clients {
            all.merge(client.await.expect("a load client panicked"));
        }
        (all, cpu)
    })
}

/// Percentile `p` (0–100) of sorted durations, nearest rank, in ms.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    ms(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The summary of one run.
#[derive(Clone, Copy)]
struct Figures {
    rps: f64,
    p50: f64,
    p99: f64,
    first_p50: f64,
    first_p99: f64,
    errors: usize,
    /// Proxy CPU time per response, µs (`None` for `direct`).
    proxy_us: Option<f64>,
    /// CPU use over the window, % of one core: fake upstream, proxy, load generator,
    /// everything else on the machine.
    cpu_pct: [f64; 4],
}

impl Figures {
    fn of(run: &RunResult, cpu: &Cpu, window: Duration, proxied: bool) -> Figures {
        let count = run.samples.len();
        let pct = |d: Duration| d.as_secs_f64() / window.as_secs_f64() * 100.0;
        let per_request = cpu.proxy.as_secs_f64() * 1e6 / count.max(1) as f64;
        let mut total: Vec<Duration> = run.samples.iter().map(|s| s.total).collect();
        let mut first: Vec<Duration> = run.samples.iter().map(|s| s.first_chunk).collect();
        total.sort_unstable();
        first.sort_unstable();
        Figures {
            rps: count as f64 / window.as_secs_f64(),
            p50: percentile_ms(&total, 50.0),
            p99: percentile_ms(&total, 99.0),
            first_p50: percentile_ms(&first, 50.0),
            first_p99: percentile_ms(&first, 99.0),
            errors: run.errors,
            proxy_us: proxied.then_some(per_request),
            cpu_pct: [
                pct(cpu.upstream),
                pct(cpu.proxy),
                pct(cpu.client),
                pct(cpu.other()),
            ],
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Cell {
    mode: Mode,
    concurrency: usize,
}

impl Cell {
    /// `stream:16`, `whole:1`.
    fn parse(spec: &str) -> Option<Cell> {
        let (mode, clients) = spec.split_once(':')?;
        let mode = match mode {
            "whole" => Mode::Whole,
            "stream" => Mode::Stream,
            _ => return None,
        };
        let concurrency = clients.parse().ok().filter(|&n| n > 0)?;
        Some(Cell { mode, concurrency })
    }
}

struct Row {
    target: &'static str,
    cell: Cell,
    figures: Figures,
}

/// One mode × concurrency, over `opts.rounds()` rounds; each target's samples and CPU
/// times are pooled over the rounds.
fn measure_cell(
    runtime: &Runtime,
    opts: &Options,
    nginx_binary: Option<&Path>,
    request: &Request,
    cell: Cell,
) -> Vec<Row> {
    let mut pooled: Vec<TargetRun> = Vec::new();
    for round in 0..opts.rounds() {
        for run in run_round(runtime, opts, nginx_binary, request, cell, round) {
            match pooled.iter_mut().find(|p| p.name == run.name) {
                Some(p) => p.absorb(run),
                None => pooled.push(run),
            }
        }
    }
    pooled.sort_by_key(|p| TARGETS.iter().position(|&t| t == p.name));
    let window = opts.window() * opts.rounds() as u32;
    let row = |p: TargetRun| {
        let figures = Figures::of(&p.run, &p.cpu, window, p.proxied);
        Row {
            target: p.name,
            cell,
            figures,
        }
    };
    pooled.into_iter().map(row).collect()
}

/// The targets, in table order.
const TARGETS: [&str; 3] = ["direct", "qcc", "nginx"];

/// One target's results (one run, or pooled over rounds).
struct TargetRun {
    name: &'static str,
    proxied: bool,
    run: RunResult,
    cpu: Cpu,
}

impl TargetRun {
    fn absorb(&mut self, other: TargetRun) {
        self.run.merge(other.run);
        self.cpu = self.cpu.plus(other.cpu);
    }
}

/// One round of a cell: a fresh fake upstream with a fresh qcc daemon and nginx in front of
/// it, then every target in turn against that one fake, starting with target `round` (so
/// that no target always runs first). A fresh fake per round because the fake keeps every
/// request it received, 75 KB bodies included, for the life of the instance.
fn run_round(
    runtime: &Runtime,
    opts: &Options,
    nginx_binary: Option<&Path>,
    request: &Request,
    cell: Cell,
    round: usize,
) -> Vec<TargetRun> {
    let fake = FakeUpstream::spawn_named(FAKE_NAME).expect("cannot start the fake upstream");
    let home = Home::new(&fake.url());
    let daemon = home.start_daemon();
    let nginx = nginx_binary.and_then(|bin| {
        Nginx::start(bin, fake.addr())
            .map_err(|e| eprintln!("warning: nginx left out: {e}"))
            .ok()
    });
    let fake_thread = fake_thread_stat(FAKE_NAME);
    let target = |name, url, proxy_pids| Target {
        name,
        url,
        cpu: CpuProbe {
            fake_thread: fake_thread.clone(),
            proxy_pids,
        },
    };
    let mut targets = vec![
        target("direct", fake.url(), vec![]),
        target("qcc", daemon.base_url.clone(), vec![daemon.pid]),
    ];
    if let Some(nginx) = &nginx {
        targets.push(target("nginx", nginx.base_url(), nginx.pids()));
    }
    let first = round % targets.len();
    targets.rotate_left(first);
    let run_one = |target: Target| {
        let (run, cpu) = closed_loop(runtime, opts, &target, request, cell);
        report_trouble(&target, &run, &cpu, opts.window());
        TargetRun {
            name: target.name,
            proxied: !target.cpu.proxy_pids.is_empty(),
            run,
            cpu,
        }
    };
    targets.into_iter().map(run_one).collect()
}

/// Errors, and load from other processes, go to stderr.
fn report_trouble(target: &Target, run: &RunResult, cpu: &Cpu, window: Duration) {
    if let Some(e) = &run.first_error {
        eprintln!(
            "warning: {}: {} errors, first: {e}",
            target.name, run.errors
        );
    }
    let other = cpu.other().as_secs_f64() / window.as_secs_f64() * 100.0;
    if other > DISTURBED_PCT {
        eprintln!(
            "warning: {}: other processes used {other:.0} % of a core during the run",
            target.name
        );
    }
}

/// Where a run sends its requests, and whose CPU time it counts.
struct Target {
    name: &'static str,
    url: String,
    cpu: CpuProbe,
}

// ---------------------------------------------------------------------------------------
// CPU accounting (from /proc)

/// CPU time (user + system) spent over some interval.
#[derive(Clone, Copy, Default)]
struct Cpu {
    /// The fake upstream's thread.
    upstream: Duration,
    /// The proxy's processes.
    proxy: Duration,
    /// The rest of this process: the load generator.
    client: Duration,
    /// The whole machine (all cores, every process), from /proc/stat.
    machine: Duration,
}

impl Cpu {
    fn plus(self, more: Cpu) -> Cpu {
        Cpu {
            upstream: self.upstream + more.upstream,
            proxy: self.proxy + more.proxy,
            client: self.client + more.client,
            machine: self.machine + more.machine,
        }
    }

    fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            upstream: self.upstream.saturating_sub(earlier.upstream),
            proxy: self.proxy.saturating_sub(earlier.proxy),
            client: self.client.saturating_sub(earlier.client),
            machine: self.machine.saturating_sub(earlier.machine),
        }
    }

    /// Everything else the machine did (other processes, and kernel work nobody was
    /// charged for).
    fn other(&self) -> Duration {
        let ours = self.upstream + self.proxy + self.client;
        self.machine.saturating_sub(ours)
    }
}

struct CpuProbe {
    /// `/proc/self/task/<tid>/stat` of the fake upstream's thread.
    fake_thread: Option<PathBuf>,
    proxy_pids: Vec<i32>,
}

impl CpuProbe {
    /// Cumulative CPU times now.
    fn read(&self) -> Cpu {
        let upstream = (self.fake_thread.as_deref()).map_or(Duration::ZERO, stat_cpu);
        let own = stat_cpu(Path::new("/proc/self/stat"));
        let pids = self.proxy_pids.iter();
        let proxy = pids.map(|pid| stat_cpu(&PathBuf::from(format!("/proc/{pid}/stat"))));
        Cpu {
            upstream,
            proxy: proxy.sum(),
            client: own.saturating_sub(upstream),
            machine: machine_busy(),
        }
    }
}

/// Busy time of all cores together (the `cpu` line of /proc/stat minus idle and iowait).
fn machine_busy() -> Duration {
    let ticks = || -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let busy: u64 = fields.iter().take(8).sum::<u64>();
        Some(busy - fields.get(3)? - fields.get(4)?)
    };
    ticks_to_duration(ticks().unwrap_or(0))
}

fn ticks_to_duration(ticks: u64) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Duration::from_secs_f64(ticks as f64 / per_second)
}

/// utime + stime of a /proc `stat` file (zero when unreadable).
fn stat_cpu(path: &Path) -> Duration {
    let ticks = || -> Option<u64> {
        let stat = std::fs::read_to_string(path).ok()?;
        // Fields after the command name (which may hold spaces): state is field 3, utime 14.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    };
    ticks_to_duration(ticks().unwrap_or(0))
}

/// The stat file of our thread named `fake-upstream-<name>` (comm is cut at 15 bytes).
fn fake_thread_stat(name: &str) -> Option<PathBuf> {
    let full = format!("fake-upstream-{name}");
    let comm = &full[..full.len().min(15)];
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let found = tasks.flatten().map(|t| t.path()).find(|task| {
        std::fs::read_to_string(task.join("comm")).is_ok_and(|c| c.trim_end() == comm)
    });
    if found.is_none() {
        eprintln!("warning: fake upstream thread not found; its CPU shows as 0");
    }
    found.map(|task| task.join("stat"))
}

/// Processes whose parent is `pid`.
fn children(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let pids = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok());
    let parent_of = |child: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    pids.filter(|&child| parent_of(child) == Some(pid))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Start time and memory

fn measure_start_times() -> Vec<Duration> {
    let fake = FakeUpstream::spawn_named("start").expect("cannot start the fake upstream");
    let home = Home::new(&fake.url());
    let mut times: Vec<Duration> = (0..START_CYCLES)
        .map(|_| home.start_daemon().ready_in)
        .collect();
    times.sort_unstable();
    times
}

/// The daemon's RSS (bytes) in the situations the memory goals name, and a few more that
/// explain them.
struct Memory {
    /// Fresh daemon, 1 s after it started.
    idle: u64,
    /// Holding `HELD_STREAMS` streams of the fixture request (the goal).
    held: Held,
    /// The same daemon 1 s after those streams were dropped.
    after: u64,
    /// The same daemon holding `HELD_STREAMS` again (growth here would be a leak).
    held_again: Held,
    /// A fresh daemon holding `HELD_STREAMS` streams of the fixture request opened
    /// `WAVE_SIZE` at a time (each wave past its commit point before the next starts).
    held_waves: Held,
    /// A fresh daemon holding `HELD_STREAMS` streams of a minimal (~100 B) request.
    held_small: Held,
}

/// RSS while holding streams, and how many were open.
#[derive(Clone, Copy)]
struct Held {
    rss: u64,
    open: usize,
}

/// A minimal streaming request, to tell per-stream cost from per-request-body cost.
const SMALL_BODY: &str = concat!(
    r#"{"model":"claude-opus-4-8","max_tokens":64,"stream":true,"#,
    r#""messages":[{"role":"user","content":"hi"}]}"#
);

fn measure_memory(runtime: &Runtime, request: &Request) -> Memory {
    const ALL: usize = HELD_STREAMS;
    let fake = FakeUpstream::spawn_named("slow").expect("cannot start the fake upstream");
    fake.set_default_fault(Fault::SlowStream(HELD_STREAM_PACE));
    let (idle, held, after, held_again) = {
        let home = Home::new(&fake.url());
        let daemon = home.start_daemon();
        std::thread::sleep(Duration::from_secs(1));
        let idle = daemon.rss();
        let body = request.body(Mode::Stream);
        let held = hold_streams(runtime, &fake, &daemon, request, body.clone(), ALL);
        std::thread::sleep(Duration::from_secs(1));
        let after = daemon.rss();
        let held_again = hold_streams(runtime, &fake, &daemon, request, body, ALL);
        (idle, held, after, held_again)
    };
    let fresh = |body: Bytes, wave: usize| {
        let home = Home::new(&fake.url());
        let daemon = home.start_daemon();
        hold_streams(runtime, &fake, &daemon, request, body, wave)
    };
    let held_waves = fresh(request.body(Mode::Stream), WAVE_SIZE);
    let held_small = fresh(Bytes::from_static(SMALL_BODY.as_bytes()), ALL);
    Memory {
        idle,
        held,
        after,
        held_again,
        held_waves,
        held_small,
    }
}

/// Open `HELD_STREAMS` streams of `body` through `daemon`, `wave` at a time (the next wave
/// once every stream of the previous one has its first chunk), wait until the fake has them
/// all and every client has its first chunk, read the daemon's RSS, drop the streams.
fn hold_streams(
    runtime: &Runtime,
    fake: &FakeUpstream,
    daemon: &Daemon,
    request: &Request,
    body: Bytes,
    wave: usize,
) -> Held {
    let client = load_client();
    let url = format!("{}/v1/messages", daemon.base_url);
    let seen_before = fake.request_count();
    let opened = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let open_one = || HeldStream {
        client: client.clone(),
        url: url.clone(),
        headers: request.headers.clone(),
        body: body.clone(),
        opened: opened.clone(),
        failed: failed.clone(),
        released: released.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let failures = || failed.load(Ordering::SeqCst);
    let open = || opened.load(Ordering::SeqCst);
    let settled = |n: usize| open() + failures() >= n;
    let mut tasks = Vec::with_capacity(HELD_STREAMS);
    while tasks.len() < HELD_STREAMS {
        let wave_end = (tasks.len() + wave.max(1)).min(HELD_STREAMS);
        while tasks.len() < wave_end {
            tasks.push(runtime.spawn(open_one().hold()));
        }
        wait_until(deadline, || settled(wave_end));
    }
    wait_until(deadline, || fake.request_count() - seen_before >= open());
    let open = open();
    if open < HELD_STREAMS {
        let failures = failures();
        eprintln!("warning: only {open} of {HELD_STREAMS} streams opened ({failures} failed)");
    }
    let rss = daemon.rss();
    let _ = release.send(true);
    runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    Held { rss, open }
}

/// Poll `done` until it holds or `deadline` passes.
fn wait_until(deadline: Instant, done: impl Fn() -> bool) {
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One streaming request held open after its first chunk until released.
struct HeldStream {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    body: Bytes,
    opened: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    released: tokio::sync::watch::Receiver<bool>,
}

impl HeldStream {
    async fn hold(mut self) {
        let request = self
            .client
            .post(&self.url)
            .headers(self.headers)
            .body(self.body);
        let first = async move {
            let mut response = request.send().await.ok()?;
            let chunk = response.chunk().await.ok()??;
            (response.status().is_success() && !chunk.is_empty()).then_some(response)
        };
        let Some(response) = first.await else {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return;
        };
        self.opened.fetch_add(1, Ordering::SeqCst);
        let _ = self.released.wait_for(|released| *released).await;
        drop(response);
    }
}

// ---------------------------------------------------------------------------------------
// The report

struct Report {
    rows: Vec<Row>,
    /// Sorted; `None` when not measured (`--only`).
    start_times: Option<Vec<Duration>>,
    memory: Option<Memory>,
    nginx: bool,
}

impl Report {
    fn print(&self, opts: &Options) {
        if !self.rows.is_empty() {
            self.print_preface(opts);
        }
        for mode in [Mode::Whole, Mode::Stream] {
            self.print_mode(mode);
        }
        self.print_goals();
        self.print_memory();
    }

    fn print_preface(&self, opts: &Options) {
        println!("### Claude-Code-shaped requests (75 KB), `qcc::fake` upstream");
        println!();
        println!(
            "{} cores. Each load figure pools {} round(s) of {} s recorded after {} s of \
             warm-up; every round has a fresh fake upstream, qcc daemon and nginx.",
            cores(),
            opts.rounds(),
            opts.window().as_secs_f64(),
            opts.warmup().as_secs_f64()
        );
        println!();
    }

    fn row(&self, target: &str, cell: Cell) -> Option<&Figures> {
        let row = self
            .rows
            .iter()
            .find(|r| r.target == target && r.cell == cell);
        row.map(|r| &r.figures)
    }

    fn print_mode(&self, mode: Mode) {
        if !self.rows.iter().any(|r| r.cell.mode == mode) {
            return;
        }
        println!("### {} (75 KB request)", capitalized(mode.label()));
        println!();
        let streams = mode == Mode::Stream;
        let mut head = "| target | clients | req/s | p50 ms | p99 ms |".to_owned();
        if streams {
            head.push_str(" 1st chunk p50 ms | 1st chunk p99 ms |");
        }
        head.push_str(" added p50 ms | added p99 ms | proxy CPU µs/req |");
        head.push_str(" CPU % upstream / proxy / load gen / other | errors |");
        println!("{head}");
        println!("|{}", "---|".repeat(head.matches('|').count() - 1));
        for concurrency in CONCURRENCY {
            let cell = Cell { mode, concurrency };
            let direct = self.row("direct", cell);
            for row in self.rows.iter().filter(|r| r.cell == cell) {
                let f = &row.figures;
                let mut line = format!(
                    "| {} | {concurrency} | {:.0} | {:.3} | {:.3} |",
                    row.target, f.rps, f.p50, f.p99
                );
                if streams {
                    line.push_str(&format!(" {:.3} | {:.3} |", f.first_p50, f.first_p99));
                }
                let added = |pick: fn(&Figures) -> f64| match direct {
                    Some(d) if row.target != "direct" => format!("{:+.3}", pick(f) - pick(d)),
                    _ => "–".to_owned(),
                };
                let proxy_us = f.proxy_us.map_or("–".to_owned(), |us| format!("{us:.0}"));
                let [up, proxy, client, other] = f.cpu_pct;
                let cpu = format!("{up:.0} / {proxy:.0} / {client:.0} / {other:.0}");
                line.push_str(&format!(
                    " {} | {} | {proxy_us} | {cpu} | {} |",
                    added(|f| f.p50),
                    added(|f| f.p99),
                    f.errors
                ));
                println!("{line}");
            }
        }
        println!();
    }

    /// The goals table, with a line for each goal this run measured.
    fn print_goals(&self) {
        let mut lines = Vec::new();
        self.goal_start(&mut lines);
        for mode in [Mode::Whole, Mode::Stream] {
            self.goal_added_p99(&mut lines, mode);
        }
        for mode in [Mode::Whole, Mode::Stream] {
            self.goal_throughput(&mut lines, mode);
        }
        self.goal_first_byte(&mut lines);
        self.goal_memory(&mut lines);
        if lines.is_empty() {
            return;
        }
        println!("### Goals");
        println!();
        println!("| goal | target | measured | result |");
        println!("|---|---|---|---|");
        for line in lines {
            println!("{line}");
        }
        println!();
    }

    fn goal_start(&self, out: &mut Vec<String>) {
        let Some(times) = &self.start_times else {
            return;
        };
        let median = ms(times[times.len() / 2]);
        let max = ms(*times.last().expect("start was measured"));
        let measured = format!(
            "median {median:.1} ms, max {max:.1} ms ({} runs)",
            times.len()
        );
        goal_line(
            out,
            "`qcc proxy start` until ready",
            &format!("≤ {GOAL_START_MS} ms"),
            &measured,
            Some(median <= GOAL_START_MS),
        );
    }

    fn goal_added_p99(&self, out: &mut Vec<String>, mode: Mode) {
        let cell = Cell {
            mode,
            concurrency: 16,
        };
        let (Some(direct), Some(qcc)) = (self.row("direct", cell), self.row("qcc", cell)) else {
            return;
        };
        let added = qcc.p99 - direct.p99;
        let mut measured = format!(
            "{added:+.3} ms (qcc {:.3}, direct {:.3}",
            qcc.p99, direct.p99
        );
        if let Some(nginx) = self.row("nginx", cell) {
            measured.push_str(&format!("; nginx adds {:+.3}", nginx.p99 - direct.p99));
        }
        measured.push(')');
        goal_line(
            out,
            &format!("added p99, 16 clients, {}", mode.label()),
            &format!("≤ {GOAL_ADDED_P99_MS} ms"),
            &measured,
            Some(added <= GOAL_ADDED_P99_MS),
        );
    }

    fn goal_throughput(&self, out: &mut Vec<String>, mode: Mode) {
        let cell = Cell {
            mode,
            concurrency: 128,
        };
        let name = format!("req/s, 128 clients, {}", mode.label());
        let Some(qcc) = self.row("qcc", cell) else {
            return;
        };
        let direct = self.row("direct", cell).map_or(f64::NAN, |d| d.rps);
        let Some(nginx) = self.row("nginx", cell).filter(|_| self.nginx) else {
            let measured = format!("qcc {:.0} (direct {direct:.0}); no nginx", qcc.rps);
            goal_line(out, &name, "≥ nginx", &measured, None);
            return;
        };
        let ratio = qcc.rps / nginx.rps * 100.0;
        let measured = format!(
            "qcc {:.0} vs nginx {:.0} ({ratio:.0} %; direct {direct:.0})",
            qcc.rps, nginx.rps
        );
        goal_line(out, &name, "≥ nginx", &measured, Some(qcc.rps >= nginx.rps));
    }

    fn goal_first_byte(&self, out: &mut Vec<String>) {
        let cell = Cell {
            mode: Mode::Stream,
            concurrency: 1,
        };
        let (Some(direct), Some(qcc)) = (self.row("direct", cell), self.row("qcc", cell)) else {
            return;
        };
        let added = qcc.first_p50 - direct.first_p50;
        let measured = format!(
            "{added:+.3} ms p50 ({:+.3} ms p99)",
            qcc.first_p99 - direct.first_p99
        );
        goal_line(
            out,
            "first streamed byte added, 1 client",
            &format!("≤ {GOAL_FIRST_BYTE_MS} ms"),
            &measured,
            Some(added <= GOAL_FIRST_BYTE_MS),
        );
    }

    fn goal_memory(&self, out: &mut Vec<String>) {
        let Some(m) = &self.memory else {
            return;
        };
        let idle = m.idle as f64 / MB;
        goal_line(
            out,
            "daemon RSS idle",
            &format!("≤ {GOAL_RSS_IDLE_MB} MB"),
            &format!("{idle:.1} MB"),
            Some(m.idle > 0 && idle <= GOAL_RSS_IDLE_MB),
        );
        let held = m.held.rss as f64 / MB;
        let complete = m.held.open == HELD_STREAMS;
        goal_line(
            out,
            &format!("daemon RSS holding {HELD_STREAMS} open streams"),
            &format!("≤ {GOAL_RSS_STREAMS_MB} MB"),
            &format!("{held:.1} MB ({} streams open)", m.held.open),
            Some(complete && m.held.rss > 0 && held <= GOAL_RSS_STREAMS_MB),
        );
    }

    fn print_memory(&self) {
        let Some(m) = &self.memory else {
            return;
        };
        let mb = |bytes: u64| format!("{:.1}", bytes as f64 / MB);
        let held = |h: &Held| format!("{} | {}", mb(h.rss), h.open);
        println!("### Daemon memory (VmRSS, MB = 10^6 bytes)");
        println!();
        println!("| situation | RSS MB | open streams |");
        println!("|---|---|---|");
        let rows = [
            ("holding streams opened at once, 75 KB requests", m.held),
            (
                "1 s after those closed",
                Held {
                    rss: m.after,
                    open: 0,
                },
            ),
            (
                "holding them again, opened at once (same daemon)",
                m.held_again,
            ),
        ];
        println!("| fresh daemon, idle | {} | 0 |", mb(m.idle));
        for (situation, h) in rows {
            println!("| {situation} | {} |", held(&h));
        }
        let waves = format!(
            "fresh daemon, {WAVE_SIZE} at a time (next wave after their first events), \
             75 KB requests"
        );
        println!("| {waves} | {} |", held(&m.held_waves));
        let small = format!(
            "fresh daemon, opened at once, {} B requests",
            SMALL_BODY.len()
        );
        println!("| {small} | {} |", held(&m.held_small));
        println!();
    }
}

fn goal_line(out: &mut Vec<String>, goal: &str, target: &str, measured: &str, met: Option<bool>) {
    let result = match met {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "n/a",
    };
    out.push(format!("| {goal} | {target} | {measured} | {result} |"));
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}
