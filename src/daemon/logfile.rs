//! The detached daemon's log: its stdout and stderr are the log file (so panics land there
//! too). When the file passes the size cap it is rotated (`daemon.log` → `daemon.log.1` …,
//! keeping [`KEEP`] old files) and fds 1 and 2 are pointed at a fresh file. The logs folder
//! is 0700; logs left in the old place (`<config dir>/logs`) are moved once to the new one
//! ([`migrate`]).

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

/// Create `dir` (and its parents) if needed, and make it 0700.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Move the logs from where they lived before (`<config dir>/logs`) to `paths`' logs dir,
/// once: only when the new folder does not exist yet and the old one does. One rename (the
/// folder, whole); across file systems, the files are copied and the old ones removed.
/// Returns whether anything moved.
pub fn migrate(paths: &crate::state::Paths) -> std::io::Result<bool> {
    let (old, new) = (paths.legacy_logs_dir(), paths.logs_dir().to_path_buf());
    if old == new || new.exists() || !old.is_dir() {
        return Ok(false);
    }
    if let Some(parent) = new.parent() {
        private_dir(parent)?;
    }
    if std::fs::rename(&old, &new).is_err() {
        // Another file system: copy into a temporary folder, then put it in place.
        let tmp = new.with_extension("moving");
        let _ = std::fs::remove_dir_all(&tmp);
        private_dir(&tmp)?;
        for entry in std::fs::read_dir(&old)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), tmp.join(entry.file_name()))?;
            }
        }
        std::fs::rename(&tmp, &new)?;
        std::fs::remove_dir_all(&old)?;
    }
    private_dir(&new)?;
    Ok(true)
}

/// Open the log for appending (0600), creating its dir (0700).
pub fn open(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
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
