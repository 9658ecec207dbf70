//! The interactive path, driven through a real pseudo-terminal: `qcc endpoint add` with no
//! flags asks for the URL (validated, re-asked when wrong), the key (typed hidden), the auth
//! style (from a list) and a name; destructive commands ask before acting.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::harness::TestEnv;

/// What the child printed so far (ANSI codes removed), and whether its side closed.
#[derive(Default)]
struct Screen {
    text: String,
    closed: bool,
}

/// A child process on a pty.
struct Pty {
    master: std::fs::File,
    screen: Arc<(Mutex<Screen>, Condvar)>,
    child: Child,
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

impl Pty {
    fn spawn(env: &TestEnv, args: &[&str]) -> Pty {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty fills two fds we then own.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = env.cmd();
        cmd.args(args)
            .env("TERM", "xterm")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and TIOCSCTTY between fork and exec make the pty the child's
        // controlling terminal.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(cmd);
        let master = std::fs::File::from(master);
        let screen = Arc::new((Mutex::new(Screen::default()), Condvar::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let (lock, cv) = &*sink;
            // EIO once the child and every copy of the pty's other side are gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = strip_ansi(&String::from_utf8_lossy(&buf[..n]));
                lock.lock().unwrap().text.push_str(&text);
                cv.notify_all();
            }
            lock.lock().unwrap().closed = true;
            cv.notify_all();
        });
        Pty {
            master,
            screen,
            child,
        }
    }

    /// Wait until `done` holds for the screen.
    fn wait(&self, what: &str, done: impl Fn(&Screen) -> bool) {
        let (lock, cv) = &*self.screen;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut screen = lock.lock().unwrap();
        while !done(&screen) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "never saw {what}; screen:\n{}",
                screen.text
            );
            screen = cv.wait_timeout(screen, left).unwrap().0;
        }
    }

    /// Wait until the screen shows `text` and the program reads keys: dialoguer prints its
    /// prompt, then turns echo off (raw mode, or hidden entry) to read. The pty's termios,
    /// read from our side, is that signal.
    fn expect(&self, text: &str) {
        self.wait(&format!("{text:?}"), |s| s.text.contains(text));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // SAFETY: tcgetattr on our master fd into a local struct.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            let rc = unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut t) };
            if rc == 0 && t.c_lflag & libc::ECHO == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} shown but never read keys"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// Wait for the child to exit and its output to be read; (exit code, screen).
    fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        self.wait("the end of output", |s| s.closed);
        let text = self.screen.0.lock().unwrap().text.clone();
        (status.code().unwrap_or(-1), text)
    }
}

#[test]
fn endpoint_add_asks_for_what_is_missing() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "work"]);
    let mut pty = Pty::spawn(&env, &["endpoint", "add", "work"]);
    pty.expect("What does the endpoint speak?");
    pty.send("\r"); // anthropic, the default
    pty.expect("Base URL");
    // A bad URL is refused and asked again.
    pty.send("ftp://nope\r");
    pty.expect("scheme 'ftp' is not http or https");
    pty.send("https://relay.example.com/api\r");
    pty.expect("API key");
    pty.send("sk-typed-hidden-secret-4242\r");
    pty.expect("How is the key sent?");
    pty.send("\x1b[B\r"); // down to "bearer"
    pty.expect("Name (optional)");
    pty.send("my relay\r");
    let (code, screen) = pty.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains("sk-typed-hidden-secret-4242"),
        "the key was echoed:\n{screen}"
    );
    let cfg = env.config();
    let e = &cfg["profiles"][0]["endpoints"][0];
    assert_eq!(e["url"], "https://relay.example.com/api");
    assert_eq!(e["key"], "sk-typed-hidden-secret-4242");
    assert_eq!(e["auth"], "bearer");
    assert_eq!(e["name"], "my relay");
}

#[test]
fn endpoint_add_asks_for_the_kind_and_an_openai_endpoint_needs_no_auth_question() {
    let env = TestEnv::new();
    env.ok(&["profile", "add", "cheap"]);
    let mut pty = Pty::spawn(&env, &["endpoint", "add", "cheap"]);
    pty.expect("What does the endpoint speak?");
    pty.send("\x1b[B\r"); // down to "openai"
    pty.expect("Base URL");
    pty.send("\r"); // the OpenRouter default
    pty.expect("API key");
    pty.send("sk-or-typed-secret-77\r");
    // No auth question: an openai endpoint sends Bearer.
    pty.expect("Name (optional)");
    pty.send("\r");
    let (code, screen) = pty.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("How is the key sent?"), "{screen}");
    let cfg = env.config();
    let e = &cfg["profiles"][0]["endpoints"][0];
    assert_eq!(e["kind"], "openai");
    assert_eq!(e["url"], "https://openrouter.ai/api");
    assert_eq!(e["auth"], "bearer");
}

#[test]
fn destructive_commands_ask_first_and_no_means_no() {
    let env = TestEnv::new();
    let ids = env.profile_with("work", 1);
    let mut pty = Pty::spawn(&env, &["endpoint", "remove", "work", &ids[0]]);
    pty.expect("Remove endpoint");
    pty.send("n");
    let (code, screen) = pty.finish();
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("cancelled"), "{screen}");
    assert_eq!(env.json(&["endpoint", "list"]).as_array().unwrap().len(), 1);

    let mut pty = Pty::spawn(&env, &["endpoint", "remove", "work", &ids[0]]);
    pty.expect("Remove endpoint");
    pty.send("y");
    let (code, screen) = pty.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        env.json(&["endpoint", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn queue_clear_asks_twice_on_a_terminal() {
    let env = TestEnv::new();
    // Put one item in the queue through the library (no upstream needed).
    let queue = qcc::queue::QueueStore::open(&qcc::state::Paths::at(env.config_dir())).unwrap();
    let item = qcc::queue::model::NewItem {
        id: String::new(),
        method: "POST".into(),
        path: "/v1/messages".into(),
        headers: vec![],
        stream: false,
        body_bytes: 0,
        error: "HTTP 529".into(),
    };
    queue.enqueue(item, b"{}", &Default::default()).unwrap();

    // Yes, then no: nothing is removed.
    let mut pty = Pty::spawn(&env, &["queue", "clear"]);
    pty.expect("Remove all 1 queued request(s)?");
    pty.send("y");
    pty.expect("Really remove them?");
    pty.send("n");
    let (code, screen) = pty.finish();
    assert_eq!(code, 1, "{screen}");
    assert_eq!(env.json(&["queue", "list"]).as_array().unwrap().len(), 1);

    // Yes twice: removed.
    let mut pty = Pty::spawn(&env, &["queue", "clear"]);
    pty.expect("Remove all 1 queued request(s)?");
    pty.send("y");
    pty.expect("Really remove them?");
    pty.send("y");
    let (code, screen) = pty.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(env.json(&["queue", "list"]).as_array().unwrap().is_empty());
}
