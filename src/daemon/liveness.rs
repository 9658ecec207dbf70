//! Is a daemon running? The daemon holds an exclusive lock on `daemon.lock` for its whole
//! life, so "running" means "that lock is held" — a pid file can be stale, a lock cannot.
//! When nobody holds it, files a killed daemon left behind (socket, pid file) are removed
//! while holding the lock shared, so a daemon starting meanwhile cannot lose its new files.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

use crate::state::Paths;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Running { pid: Option<u32> },
    NotRunning,
}

/// Probe the daemon lock; clean stale files when no daemon holds it.
pub fn probe(paths: &Paths) -> Liveness {
    let lock_path = paths.daemon_lock();
    if !paths.runtime_dir().is_dir() {
        return Liveness::NotRunning;
    }
    let Ok(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
    else {
        return Liveness::NotRunning;
    };
    match fs4::FileExt::try_lock_shared(&file) {
        Ok(()) => {
            let _ = std::fs::remove_file(paths.socket());
            let _ = std::fs::remove_file(paths.pid_file());
            Liveness::NotRunning
        }
        Err(_) => Liveness::Running {
            pid: read_pid(paths),
        },
    }
}

pub fn read_pid(paths: &Paths) -> Option<u32> {
    std::fs::read_to_string(paths.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()
}
