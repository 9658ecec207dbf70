//! `qcc proxy start`: launch the daemon detached and wait until it is ready.
//!
//! The same binary is re-executed as `qcc --config-dir DIR proxy run --ready-fd 3
//! --log-file LOG` in a new session (setsid), stdin from /dev/null, stdout and stderr to the
//! log file — from plain synchronous code, never by forking a running tokio runtime. The
//! child reports `ready` (or its own startup error) as one JSON line on a pipe dup'ed to
//! fd 3; the parent waits on that pipe, so readiness is a signal, not a guess. A start lock
//! makes concurrent starts produce one daemon.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::liveness::{self, Liveness};
use crate::daemon::run::{ACCESS_TOKEN_ENV, ReadyReport};
use crate::daemon::{DaemonError, ensure_private_dir, io_err, logfile, open_lock_file};
use crate::state::Paths;
use crate::state::paths::RUNTIME_DIR_ENV;

/// How long `start` waits for the daemon's readiness report.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Default)]
pub struct StartOptions {
    pub listen: Option<String>,
    /// Access token to hand to the daemon (else it inherits `QCC_ACCESS_TOKEN`).
    pub access_token: Option<String>,
    pub verbose: u8,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    New { pid: u32, listen: String },
    AlreadyRunning { pid: Option<u32> },
}

/// Start a daemon unless one is running.
pub fn start(paths: &Paths, opts: &StartOptions) -> Result<Started, DaemonError> {
    ensure_private_dir(paths.runtime_dir())?;
    let lock_path = paths.start_lock();
    let lock = open_lock_file(&lock_path)?;
    fs4::FileExt::lock(&lock).map_err(io_err("lock", &lock_path))?;
    if let Liveness::Running { pid } = liveness::probe(paths) {
        return Ok(Started::AlreadyRunning { pid });
    }
    let log_path = paths.log_file();
    if let Err(e) = logfile::migrate(paths) {
        tracing::warn!(
            "the logs were not moved to {}: {e}",
            paths.logs_dir().display()
        );
    }
    let log = logfile::open(&log_path).map_err(io_err("open", &log_path))?;
    let log_err = log.try_clone().map_err(io_err("open", &log_path))?;
    let (read_end, write_end) = pipe()?;

    let exe = std::env::current_exe().map_err(|e| DaemonError::Startup(e.to_string()))?;
    let runtime_dir =
        std::path::absolute(paths.runtime_dir()).unwrap_or_else(|_| paths.runtime_dir().into());
    let mut cmd = Command::new(exe);
    cmd.arg("--config-dir")
        .arg(paths.absolute_config_dir())
        .args(["proxy", "run", "--ready-fd", "3", "--log-file"])
        .arg(std::path::absolute(&log_path).unwrap_or(log_path.clone()))
        .env(RUNTIME_DIR_ENV, runtime_dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    for _ in 0..opts.verbose {
        cmd.arg("-v");
    }
    if let Some(listen) = &opts.listen {
        cmd.arg("--listen").arg(listen);
    }
    if let Some(token) = &opts.access_token {
        cmd.env(ACCESS_TOKEN_ENV, token);
    }
    let fd = write_end.as_raw_fd();
    // SAFETY: only async-signal-safe calls (setsid, dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        DaemonError::Startup(format!("cannot run {}: {e}", cmd.get_program().display()))
    })?;
    drop(write_end);

    match read_report(read_end, READY_TIMEOUT)? {
        Some(ReadyReport::Ready { pid, listen }) => Ok(Started::New { pid, listen }),
        Some(ReadyReport::Failed { message, hint }) => {
            let _ = child.wait();
            Err(DaemonError::Reported { message, hint })
        }
        None => {
            // The child died (or hung) without a report: say what its log says.
            let exited = child.try_wait().ok().flatten();
            if exited.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
            let tail = logfile::tail(&log_path, 3).unwrap_or_default().join(" | ");
            let what = match exited {
                Some(status) => format!("the daemon exited ({status}) before it was ready"),
                None => format!(
                    "the daemon did not become ready within {} s",
                    READY_TIMEOUT.as_secs()
                ),
            };
            Err(DaemonError::Startup(if tail.is_empty() {
                what
            } else {
                format!("{what}; log: {tail}")
            }))
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), DaemonError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(DaemonError::Startup(format!(
            "cannot create a pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both fds are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Read one report line, or `None` on EOF or timeout.
fn read_report(fd: OwnedFd, timeout: Duration) -> Result<Option<ReadyReport>, DaemonError> {
    let deadline = Instant::now() + timeout;
    let mut file = File::from(fd);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n == 0 {
            return Ok(None);
        }
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(DaemonError::Startup(e.to_string()));
        }
        let read = file
            .read(&mut chunk)
            .map_err(|e| DaemonError::Startup(e.to_string()))?;
        if read == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..read]);
        if buf.contains(&b'\n') {
            break;
        }
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    Ok(serde_json::from_slice(line).ok())
}
