//! The daemon outlives its clients: SIGPIPE is ignored, a soak of clients that reset,
//! half-close, stall, send garbage or leave at any byte leaves the same healthy process
//! behind, and an upstream that drops idle keep-alive connections costs no request.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use qcc::fake::{FakeUpstream, Fault};
use rand::RngExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::TestEnv;
use crate::harness::client::{PLAIN, STREAM, send};
use crate::harness::daemon::{alive, client, fd_count, rss_kib, runtime};

/// SIGPIPE's bit in the `SigIgn` mask of /proc/PID/status.
const SIGPIPE_BIT: u64 = 1 << (libc::SIGPIPE - 1);

fn ignored_signals(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .unwrap()
        .trim();
    u64::from_str_radix(hex, 16).unwrap()
}

#[test]
fn the_daemon_ignores_sigpipe() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    env.endpoint_for("work", &up.url(), "sk-pipe-0000000001", "api-key");
    let proxy = env.start_proxy();
    assert_ne!(
        ignored_signals(proxy.pid) & SIGPIPE_BIT,
        0,
        "a write to a reset client would end the daemon"
    );
    // The CLI keeps the default (it dies quietly on a closed pipe, like other tools).
    let mut cli = env.shell_cmd("bash");
    cli.args([
        "-c",
        "qcc proxy status --json | head -c 1 >/dev/null; echo ${PIPESTATUS[0]}",
    ]);
    let out = cli.output().unwrap();
    let code: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(code == 0 || code == 141, "qcc exit {code}");
}

/// Close with a RST instead of a FIN (what a killed client or a NAT timeout looks like).
fn arm_rst(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a live socket and a live `linger` of the right size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// How a soak client behaves.
#[derive(Clone, Copy, Debug)]
enum Client {
    /// Sends the whole request and reads the whole answer.
    Polite { stream: bool },
    /// Leaves after the headers, before any body byte.
    BeforeBody,
    /// Leaves half-way through the body.
    MidBody,
    /// Half-closes its side after half the body and waits for the end.
    HalfClose,
    /// Leaves once the response headers have arrived.
    AfterHeaders { stream: bool },
    /// Leaves between two SSE events.
    BetweenEvents,
    /// Sends bytes that are not HTTP.
    Garbage,
    /// Sends part of the request line and stalls, then leaves.
    Stall,
}

fn request(path_body: &str) -> Vec<u8> {
    format!(
        "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         x-api-key: sk-client\r\nanthropic-version: 2023-06-01\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{path_body}",
        path_body.len()
    )
    .into_bytes()
}

/// Read until `needle` appears, the peer closes, or 10 s pass; returns what was read.
async fn read_until(s: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if !needle.is_empty() && got.windows(needle.len()).any(|w| w == needle) {
                        break;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    got
}

/// One soak client against `addr`; returns whether a polite client got a clean answer
/// (`None` for the ones that leave).
async fn behave(addr: &str, how: Client, rst: bool) -> Option<bool> {
    let mut s = TcpStream::connect(addr)
        .await
        .expect("the daemon stopped accepting connections");
    if rst {
        arm_rst(&s);
    }
    let full = |stream| request(if stream { STREAM } else { PLAIN });
    match how {
        Client::Polite { stream } => {
            s.write_all(&full(stream)).await.ok()?;
            let got = read_until(&mut s, b"").await;
            let text = String::from_utf8_lossy(&got);
            let ok = text.starts_with("HTTP/1.1 200")
                && if stream {
                    text.contains("event: message_stop")
                } else {
                    text.contains("\"type\":\"message\"")
                };
            return Some(ok);
        }
        Client::BeforeBody => {
            let r = full(true);
            let head = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let _ = s.write_all(&r[..head]).await;
        }
        Client::MidBody => {
            let r = full(true);
            let _ = s.write_all(&r[..r.len() - STREAM.len() / 2]).await;
        }
        Client::HalfClose => {
            let r = full(false);
            let _ = s.write_all(&r[..r.len() - PLAIN.len() / 2]).await;
            let _ = s.shutdown().await;
            let _ = read_until(&mut s, b"").await;
        }
        Client::AfterHeaders { stream } => {
            let _ = s.write_all(&full(stream)).await;
            let _ = read_until(&mut s, b"\r\n\r\n").await;
        }
        Client::BetweenEvents => {
            let _ = s.write_all(&full(true)).await;
            let _ = read_until(&mut s, b"event: content_block_delta").await;
        }
        Client::Garbage => {
            let _ = s
                .write_all(b"\x16\x03\x01\x02\x00GARBAGE \xff\xfe\r\n\r\n")
                .await;
            let _ = read_until(&mut s, b"").await;
        }
        Client::Stall => {
            let _ = s.write_all(b"POST /v1/mess").await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    None
}

fn pick(rng: &mut impl rand::Rng) -> Client {
    match rng.random_range(0..12) {
        0..=2 => Client::Polite { stream: true },
        3..=4 => Client::Polite { stream: false },
        5 => Client::BeforeBody,
        6 => Client::MidBody,
        7 => Client::HalfClose,
        8 => Client::AfterHeaders { stream: true },
        9 => Client::AfterHeaders { stream: false },
        10 => Client::BetweenEvents,
        _ => {
            if rng.random_bool(0.5) {
                Client::Garbage
            } else {
                Client::Stall
            }
        }
    }
}

#[test]
fn clients_that_leave_at_any_byte_never_take_the_daemon_down() {
    const CLIENTS: usize = 48;
    const EACH: usize = 100;
    let env = TestEnv::new();
    let quick = FakeUpstream::spawn_named("quick").unwrap();
    // Events 1 ms apart: clients can leave between them, mid-stream.
    let paced = FakeUpstream::spawn_named("paced").unwrap();
    paced.set_default_fault(Fault::SlowStream(Duration::from_millis(1)));
    env.endpoint_for("work", &quick.url(), "sk-soak-0000000001", "api-key");
    env.endpoint_for("work", &paced.url(), "sk-soak-0000000002", "api-key");
    env.ok(&["queue", "config", "--mode", "none"]);
    let proxy = env.start_proxy();
    let addr = proxy.base_url.trim_start_matches("http://").to_owned();
    let rt = runtime();
    // Warm up (pools, buffers), then note the idle figures.
    let http = client();
    for r in rt.block_on(join_all(
        (0..CLIENTS).map(|_| send(&http, &proxy.base_url, STREAM, None)),
    )) {
        assert!(r.unwrap().is_clean_stream());
    }
    env.wait_status(Duration::from_secs(10), "idle", |s| s["in_flight"] == 0);
    let (fds_idle, rss_idle) = (fd_count(proxy.pid), rss_kib(proxy.pid));

    let polite = Arc::new(AtomicUsize::new(0));
    let clean = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    rt.block_on(join_all((0..CLIENTS).map(|c| {
        let addr = addr.clone();
        let (polite, clean) = (polite.clone(), clean.clone());
        async move {
            let mut rng = rand::rng();
            let plan: Vec<(Client, bool)> = (0..EACH)
                .map(|_| (pick(&mut rng), rng.random_bool(0.5)))
                .collect();
            for (how, rst) in plan {
                if let Some(ok) = behave(&addr, how, rst).await {
                    polite.fetch_add(1, Ordering::Relaxed);
                    if ok {
                        clean.fetch_add(1, Ordering::Relaxed);
                    } else {
                        eprintln!("client {c}: a polite {how:?} got no clean answer");
                    }
                }
            }
        }
    })));
    let took = started.elapsed();
    let (polite, clean) = (
        polite.load(Ordering::Relaxed),
        clean.load(Ordering::Relaxed),
    );
    eprintln!(
        "soak: {} connections in {took:?}; {clean}/{polite} polite requests clean; \
         upstream disconnects seen: quick {}, paced {}",
        CLIENTS * EACH,
        quick.disconnects(),
        paced.disconnects()
    );
    assert!(alive(proxy.pid), "the daemon died");
    assert_eq!(clean, polite, "every polite client got its answer");
    assert!(
        paced.disconnects() > 0,
        "clients that left mid-stream cancelled their upstream requests"
    );

    // Afterwards: the same process, answering normally, nothing left in flight, its file
    // descriptors back near the idle count once the upstream pool lets go, memory bounded.
    env.wait_status(Duration::from_secs(15), "in flight drained", |s| {
        s["in_flight"] == 0
    });
    let pid_now = env.proxy_status()["pid"].as_u64().unwrap() as u32;
    assert_eq!(pid_now, proxy.pid);
    for body in [STREAM, PLAIN] {
        let r = rt
            .block_on(send(&http, &proxy.base_url, body, None))
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut fds = fd_count(proxy.pid);
    while fds > fds_idle + 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        fds = fd_count(proxy.pid);
    }
    assert!(
        fds <= fds_idle + 4,
        "fds: {fds_idle} idle, {fds} after the soak"
    );
    let rss = rss_kib(proxy.pid);
    assert!(
        rss < rss_idle + 40 * 1024,
        "RSS grew from {rss_idle} KiB to {rss} KiB"
    );
    let log = env.ok(&["proxy", "logs", "-n", "100000"]);
    for alarming in ["panicked", "ERROR", "a serving thread is gone"] {
        assert!(!log.contains(alarming), "the log says {alarming:?}:\n{log}");
    }
}

#[test]
fn a_stale_pooled_connection_is_resent_not_failed() {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    // The upstream drops keep-alive connections idle for 150 ms (the proxy's pool keeps
    // them 4 s): every request after a pause lands on a connection it has just closed.
    up.set_idle_close(Some(Duration::from_millis(150)));
    let id = env.endpoint_for("work", &up.url(), "sk-stale-000000001", "api-key");
    env.ok(&["priority", "policy", "--failure-threshold", "1"]);
    let proxy = env.start_proxy();
    let rt = runtime();
    let http = client();
    const N: usize = 8;
    for i in 0..N {
        let body = if i % 2 == 0 { STREAM } else { PLAIN };
        let r = rt
            .block_on(send(&http, &proxy.base_url, body, None))
            .unwrap();
        assert_eq!(r.status, 200, "request {i}: {r:?}");
        assert_eq!(r.attempts, Some(1), "not a failover: {r:?}");
        // Idle past the upstream's keep-alive (this pause is the thing under test).
        std::thread::sleep(Duration::from_millis(200));
    }
    // A resend's connection is not pooled, so the next request opens a new one: every other
    // request lands on a stale pooled connection.
    let stale = up.stats().idle_closed;
    assert!(
        stale >= N / 2 - 1,
        "{stale} requests hit a closed connection"
    );
    assert_eq!(up.request_count(), N);
    let e = env.endpoint_status(&id);
    assert_eq!(e["errors"], 0, "not counted against the endpoint: {e}");
    assert_eq!(e["consecutive_failures"], 0, "{e}");
    assert_eq!(e["state"], "healthy", "{e}");
}
