//! The daemon's lifecycle with the real binary: start/status/stop/restart, double and
//! concurrent starts, SIGKILL then start, SIGTERM drains a stream, startup failures, and the
//! protocol-version mismatch message.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::process::Stdio;
use std::time::Duration;

use qcc::fake::{FakeUpstream, Fault};

use crate::harness::TestEnv;
use crate::harness::daemon::{client, kill, runtime, wait_pid_exit};

fn env_with_upstream() -> (TestEnv, FakeUpstream) {
    let env = TestEnv::new();
    let up = FakeUpstream::spawn().unwrap();
    env.endpoint_for("work", &up.url(), "sk-upstream-0000000000000001", "api-key");
    (env, up)
}

#[test]
fn start_status_restart_stop() {
    let (env, _up) = env_with_upstream();
    let proxy = env.start_proxy();
    let s = env.proxy_status();
    assert_eq!(s["running"], true);
    assert_eq!(s["pid"], proxy.pid);
    assert_eq!(s["active_profile"], "work");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        format!("http://{}", s["listen"].as_str().unwrap()),
        proxy.base_url
    );
    let table = env.ok(&["proxy", "status"]);
    assert!(
        table.contains("running") && table.contains("work"),
        "{table}"
    );

    let runtime_dir = env.root().join("run/qcc");
    assert!(runtime_dir.join("qcc.sock").exists() && runtime_dir.join("qcc.pid").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(runtime_dir.join("qcc.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "control socket is private");

    let restarted = env.json(&["proxy", "restart"]);
    let new_pid = restarted["pid"].as_u64().unwrap() as u32;
    assert_ne!(new_pid, proxy.pid);
    assert!(
        wait_pid_exit(proxy.pid, Duration::from_secs(5)),
        "old daemon gone"
    );
    assert_eq!(
        restarted["base_url"].as_str().unwrap(),
        proxy.base_url,
        "same address"
    );

    let out = env.ok(&["proxy", "stop"]);
    assert!(out.contains("stopped"), "{out}");
    assert!(wait_pid_exit(new_pid, Duration::from_secs(5)));
    let out = env.run(&["proxy", "status"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not running"));
    assert!(!runtime_dir.join("qcc.sock").exists() && !runtime_dir.join("qcc.pid").exists());
    // Stopping again is not an error.
    assert!(env.ok(&["proxy", "stop"]).contains("not running"));
}

#[test]
fn second_and_concurrent_starts_make_one_daemon() {
    let (env, _up) = env_with_upstream();
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.cmd()
                .args(["proxy", "start", "--listen", "127.0.0.1:0", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut pids = Vec::new();
    let mut fresh = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if v["already_running"] == false {
            fresh += 1;
        }
        pids.push(v["pid"].as_u64().unwrap());
    }
    assert_eq!(fresh, 1, "exactly one start launched a daemon");
    pids.dedup();
    assert_eq!(
        pids.len(),
        1,
        "every start reports the same daemon: {pids:?}"
    );
    let again = env.ok(&["proxy", "start"]);
    assert!(again.contains("already running"), "{again}");
    let pid = pids[0] as u32;
    env.ok(&["proxy", "stop"]);
    assert!(wait_pid_exit(pid, Duration::from_secs(5)));
}

#[test]
fn a_sigkilled_daemon_is_detected_and_cleaned() {
    let (env, _up) = env_with_upstream();
    let first = env.json(&["proxy", "start", "--listen", "127.0.0.1:0"]);
    let pid = first["pid"].as_u64().unwrap() as u32;
    kill(pid, libc::SIGKILL);
    assert!(wait_pid_exit(pid, Duration::from_secs(5)));
    let sock = env.root().join("run/qcc/qcc.sock");
    assert!(sock.exists(), "a killed daemon leaves its socket behind");
    let out = env.run(&["proxy", "status"]);
    assert_eq!(out.status.code(), Some(3), "stale files are not trusted");
    assert!(!sock.exists(), "status cleaned the stale socket");
    let proxy = env.start_proxy();
    assert_ne!(proxy.pid, pid);
    assert_eq!(env.proxy_status()["pid"], proxy.pid);
}

#[test]
fn sigterm_drains_an_in_flight_stream() {
    let (env, up) = env_with_upstream();
    up.set_default_fault(Fault::SlowStream(Duration::from_millis(60)));
    let proxy = env.start_proxy();
    let rt = runtime();
    let body = rt.block_on(async {
        let mut resp = client()
            .post(format!("{}/v1/messages", proxy.base_url))
            .header("x-api-key", "client")
            .body(r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut got = resp.chunk().await.unwrap().unwrap().to_vec();
        // The stream is under way: ask the daemon to stop.
        kill(proxy.pid, libc::SIGTERM);
        while let Some(c) = resp.chunk().await.unwrap() {
            got.extend_from_slice(&c);
        }
        String::from_utf8(got).unwrap()
    });
    assert!(
        body.contains("event: message_stop"),
        "stream completed:\n{body}"
    );
    assert!(!body.contains("event: error"));
    assert!(
        wait_pid_exit(proxy.pid, Duration::from_secs(10)),
        "daemon exited after draining"
    );
    assert_eq!(env.run(&["proxy", "status"]).status.code(), Some(3));
}

#[test]
fn startup_failures_report_the_daemons_own_error() {
    // No profile at all.
    let env = TestEnv::new();
    let stderr = env.fail_with_hint(1, &["proxy", "start", "--listen", "127.0.0.1:0"]);
    assert!(stderr.contains("no profile"), "{stderr}");

    // Port in use.
    let (env, _up) = env_with_upstream();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let stderr = env.fail_with_hint(1, &["proxy", "start", "--listen", &addr]);
    assert!(
        stderr.contains(&addr) && stderr.contains("in use"),
        "{stderr}"
    );

    // Bad listen address.
    let stderr = env.fail_with_hint(1, &["proxy", "start", "--listen", "nowhere"]);
    assert!(stderr.contains("invalid listen address"), "{stderr}");

    // Off loopback without an access token.
    let stderr = env.fail_with_hint(1, &["proxy", "start", "--listen", "0.0.0.0:0"]);
    assert!(stderr.contains("access token"), "{stderr}");

    // A corrupt config.
    std::fs::write(env.config_file(), "{ \"version\": 1, oops }").unwrap();
    let stderr = env.fail_with_hint(1, &["proxy", "start", "--listen", "127.0.0.1:0"]);
    assert!(
        stderr.contains("config.json") && stderr.contains("line 1"),
        "{stderr}"
    );
    assert_eq!(env.run(&["proxy", "status"]).status.code(), Some(3));
}

#[test]
fn a_daemon_of_another_protocol_version_asks_for_a_restart() {
    let env = TestEnv::new();
    let run = env.root().join("run/qcc");
    std::fs::create_dir_all(&run).unwrap();
    // Pretend to be a running daemon: hold its lock, answer on its socket.
    let lock = std::fs::File::create(run.join("daemon.lock")).unwrap();
    fs4::FileExt::lock(&lock).unwrap();
    let listener = UnixListener::bind(run.join("qcc.sock")).unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(
            line.contains("\"protocol\""),
            "the CLI says hello first: {line}"
        );
        (&stream)
            .write_all(b"{\"protocol\":999,\"version\":\"9.9.9\"}\n")
            .unwrap();
    });
    let stderr = env.fail_with_hint(1, &["proxy", "status"]);
    server.join().unwrap();
    assert!(
        stderr.contains("protocol 999") && stderr.contains("9.9.9"),
        "{stderr}"
    );
    assert!(stderr.contains("qcc proxy restart"), "{stderr}");
}

/// A daemon that answers a status request with something else: the CLI says so (on
/// stderr, with the restart hint) instead of silently taking it for "no daemon".
#[test]
fn an_unexpected_answer_from_the_daemon_is_reported_not_ignored() {
    use std::io::{BufRead, BufReader, Write};
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    let dir = env.root().join("run/qcc");
    std::fs::create_dir_all(&dir).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(dir.join("qcc.sock")).unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut line = String::new();
        reader.read_line(&mut line).unwrap(); // the CLI's hello
        let hello = format!(
            "{{\"protocol\":{},\"version\":\"{}\"}}\n",
            qcc::ipc::protocol::PROTOCOL_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        writer.write_all(hello.as_bytes()).unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap(); // the status request
        writer.write_all(b"{\"response\":\"pong\"}\n").unwrap();
    });
    let out = env.run(&["priority", "list"]);
    server.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("did not report its status") && stderr.contains("qcc proxy restart"),
        "{stderr}"
    );
}
