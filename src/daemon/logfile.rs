//! The detached daemon's log: its stdout and stderr are the log file (so panics land there
//! too). When the file passes the size cap it is rotated (`daemon.log` → `daemon.log.1` …,
//! keeping [`KEEP`] old files) and fds 1 and 2 are pointed at a fresh file.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Size cap of the live log file (override: `QCC_LOG_MAX_BYTES`).
pub const MAX_BYTES: u64 = 5 * 1024 * 1024;
/// Rotated files kept beside it.
pub const KEEP: usize = 3;

pub fn max_bytes() -> u64 {
    std::env::var("QCC_LOG_MAX_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_BYTES)
}

fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Open the log for appending (0600), creating its dir.
pub fn open(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Rotate if the file is over `cap`; returns the fresh file when it rotated.
pub fn rotate_if_needed(path: &Path, cap: u64) -> std::io::Result<Option<std::fs::File>> {
    if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) <= cap {
        return Ok(None);
    }
    for n in (1..KEEP).rev() {
        let from = rotated(path, n);
        if from.exists() {
            std::fs::rename(&from, rotated(path, n + 1))?;
        }
    }
    std::fs::rename(path, rotated(path, 1))?;
    open(path).map(Some)
}

/// Point stdout and stderr at `file` (after a rotation).
pub fn redirect_std_streams(file: &std::fs::File) {
    // SAFETY: dup2 onto the standard fds; `file` stays valid for the call.
    unsafe {
        libc::dup2(file.as_raw_fd(), 1);
        libc::dup2(file.as_raw_fd(), 2);
    }
}

/// The last `n` lines of the log.
pub fn tail(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    let lines: Vec<&str> = text.lines().collect();
    Ok(lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("daemon.log");
        for round in 0..5 {
            std::fs::write(&log, format!("round {round} {}\n", "x".repeat(100))).unwrap();
            assert!(rotate_if_needed(&log, 1000).unwrap().is_none());
            std::fs::write(&log, "y".repeat(2000)).unwrap();
            assert!(
                rotate_if_needed(&log, 1000).unwrap().is_some(),
                "round {round}"
            );
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["daemon.log", "daemon.log.1", "daemon.log.2", "daemon.log.3"]
        );
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
    }
}
