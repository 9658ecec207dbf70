//! Daemon helpers: start the real daemon (`qcc proxy start`) on a free port, stop it on
//! drop, wait for a process to exit (pidfd + poll, no sleeps), and an async HTTP client.

use std::time::Duration;

use serde_json::Value;

use crate::harness::TestEnv;

/// A daemon started by a test; stopped (or killed) when dropped.
pub struct RunningProxy<'a> {
    env: &'a TestEnv,
    pub pid: u32,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
}

impl TestEnv {
    /// `qcc proxy start --listen 127.0.0.1:0`, with extra args.
    pub fn start_proxy_with(&self, extra: &[&str]) -> RunningProxy<'_> {
        self.start_proxy_env(extra, &[])
    }

    /// `qcc proxy start --listen 127.0.0.1:0` with extra args and environment variables
    /// (the daemon inherits them).
    pub fn start_proxy_env(
        &self,
        extra: &[&str],
        vars: &[(&str, &std::ffi::OsStr)],
    ) -> RunningProxy<'_> {
        let mut cmd = self.cmd();
        cmd.args(["proxy", "start", "--listen", "127.0.0.1:0", "--json"])
            .args(extra);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "qcc proxy start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["already_running"], false, "{v}");
        RunningProxy {
            env: self,
            pid: v["pid"].as_u64().unwrap() as u32,
            base_url: v["base_url"].as_str().unwrap().to_owned(),
        }
    }

    pub fn start_proxy(&self) -> RunningProxy<'_> {
        self.start_proxy_with(&[])
    }

    /// `qcc proxy status --json`.
    pub fn proxy_status(&self) -> Value {
        self.json(&["proxy", "status"])
    }

    /// `n` fake upstreams named `{name}0`, `{name}1`, … answering with `fault` by default,
    /// each an endpoint of `profile` (keys `sk-{name}-…`).
    pub fn failing_endpoints(
        &self,
        profile: &str,
        name: &str,
        n: usize,
        fault: qcc::fake::Fault,
    ) -> Vec<qcc::fake::FakeUpstream> {
        let ups: Vec<qcc::fake::FakeUpstream> = (0..n)
            .map(|i| qcc::fake::FakeUpstream::spawn_named(&format!("{name}{i}")).unwrap())
            .collect();
        for (i, up) in ups.iter().enumerate() {
            up.set_default_fault(fault.clone());
            self.endpoint_for(
                profile,
                &up.url(),
                &format!("sk-{name}-00000000{i}"),
                "api-key",
            );
        }
        ups
    }

    /// Every endpoint's `state` word in `proxy status`, in config order.
    pub fn endpoint_states(&self) -> Vec<String> {
        self.proxy_status()["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["state"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Breakers that open at the first failure and stay open for a minute: without the last
    /// resort, the proxy would answer its own 503 all that time.
    pub fn breakers_open_at_once(&self) {
        self.ok(&[
            "priority",
            "policy",
            "--failure-threshold",
            "1",
            "--cooldown",
            "60",
        ]);
    }

    /// One endpoint's entry in `proxy status`.
    pub fn endpoint_status(&self, id: &str) -> Value {
        let s = self.proxy_status();
        s["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in status: {s}"))
            .clone()
    }

    /// Wait (re-reading `proxy status`) until `pred` holds; panics after `timeout`. For
    /// conditions only time brings (a cooldown ending), or the daemon's own background work.
    pub fn wait_status(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let s = self.proxy_status();
            if pred(&s) {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {s}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Change config.json through the library (locked, atomic), e.g. short timeouts.
    pub fn edit_config(&self, f: impl FnOnce(&mut qcc::state::Config)) {
        let store = qcc::state::Store::open(qcc::state::Paths::at(self.config_dir())).unwrap();
        store
            .update(|c: &mut qcc::state::Config| {
                f(c);
                Ok::<_, qcc::state::StoreError>(())
            })
            .unwrap();
    }

    /// Add an endpoint pointing at `url` to `profile` (created if needed); returns its id.
    pub fn endpoint_for(&self, profile: &str, url: &str, key: &str, auth: &str) -> String {
        if !self
            .json(&["profile", "list"])
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == profile)
        {
            self.ok(&["profile", "add", profile]);
        }
        let v = self.json(&[
            "endpoint", "add", profile, "--url", url, "--key", key, "--auth", auth,
        ]);
        v["id"].as_str().unwrap().to_owned()
    }
}

impl Drop for RunningProxy<'_> {
    fn drop(&mut self) {
        let _ = self.env.run(&["proxy", "stop", "--timeout", "2"]);
        if !wait_pid_exit(self.pid, Duration::from_secs(5)) {
            kill(self.pid, libc::SIGKILL);
        }
    }
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Open file descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Whether process `pid` exists.
pub fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

pub fn kill(pid: u32, signal: i32) {
    // SAFETY: plain kill(2).
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

/// Wait until process `pid` (not necessarily our child) has exited, without polling:
/// pidfd_open + poll. Returns false on timeout.
pub fn wait_pid_exit(pid: u32, timeout: Duration) -> bool {
    // SAFETY: pidfd_open returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as i32;
    if fd < 0 {
        return true; // no such process
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; the fd is closed after.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
    unsafe {
        libc::close(fd);
    }
    n > 0
}

/// A multi-thread tokio runtime for a test's async client side.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An HTTP client (the proxy's own builder, so the TLS provider is installed).
pub fn client() -> reqwest::Client {
    qcc::proxy::upstream::client(Duration::from_secs(5)).unwrap()
}

/// The request Claude Code sends, from the repository's `tests/fixtures/`: (body, headers).
pub fn claude_code_request() -> (Vec<u8>, Vec<(String, String)>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let body = std::fs::read(format!("{dir}/claude_code_like_request.json")).unwrap();
    let headers: serde_json::Map<String, Value> = serde_json::from_slice(
        &std::fs::read(format!("{dir}/claude_code_like_request.headers.json")).unwrap(),
    )
    .unwrap();
    let headers = headers
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
        .collect();
    (body, headers)
}
