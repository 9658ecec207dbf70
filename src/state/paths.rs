//! Where qcc's files live.
//!
//! The config dir is, in order: `--config-dir`, `$QCC_CONFIG_DIR`, the XDG config dir for
//! `qcc` (`~/.config/qcc` on Linux). The runtime dir (control socket, pid file, daemon locks)
//! is `$QCC_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/qcc`, else `<config dir>/run`. Logs live in
//! `$QCC_STATE_DIR/logs`, else — for the default config dir — the XDG state dir
//! (`~/.local/state/qcc/logs`), else (a config dir given by flag or `$QCC_CONFIG_DIR`, so
//! that two config dirs never share a daemon log) `<config dir>/logs`. Every file name is
//! defined here and nowhere else.

use std::path::{Path, PathBuf};

use crate::state::store::StoreError;

/// Environment variable that overrides the config dir (every test sets it).
pub const CONFIG_DIR_ENV: &str = "QCC_CONFIG_DIR";
/// Environment variable that overrides the runtime dir (socket, pid, locks).
pub const RUNTIME_DIR_ENV: &str = "QCC_RUNTIME_DIR";
/// Environment variable that overrides the state dir (logs).
pub const STATE_DIR_ENV: &str = "QCC_STATE_DIR";

/// The resolved locations of qcc's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    config_dir: PathBuf,
    runtime_dir: PathBuf,
    logs_dir: PathBuf,
    usage_dir: PathBuf,
}

impl Paths {
    /// Resolve the config dir from the `--config-dir` flag, then `$QCC_CONFIG_DIR`, then XDG.
    pub fn resolve(flag: Option<&Path>) -> Result<Self, StoreError> {
        if let Some(dir) = flag {
            return Ok(Self::at(dir));
        }
        if let Some(dir) = env_dir(CONFIG_DIR_ENV) {
            return Ok(Self::at(dir));
        }
        let dirs = directories::ProjectDirs::from("", "", "qcc").ok_or(StoreError::NoHome)?;
        let mut paths = Self::at(dirs.config_dir());
        if env_dir(STATE_DIR_ENV).is_none()
            && let Some(state) = dirs.state_dir()
        {
            paths.logs_dir = state.join("logs");
            paths.usage_dir = state.join("usage");
        }
        Ok(paths)
    }

    /// Paths rooted at an explicit config directory; the runtime dir follows the
    /// environment like [`resolve`](Self::resolve).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        let config_dir: PathBuf = dir.into();
        let runtime_dir = env_dir(RUNTIME_DIR_ENV)
            .or_else(|| env_dir("XDG_RUNTIME_DIR").map(|d| d.join("qcc")))
            .unwrap_or_else(|| config_dir.join("run"));
        let state_dir = env_dir(STATE_DIR_ENV).unwrap_or_else(|| config_dir.clone());
        Self {
            logs_dir: state_dir.join("logs"),
            usage_dir: state_dir.join("usage"),
            config_dir,
            runtime_dir,
        }
    }

    /// Paths with both directories given explicitly (tests, `qcc demo`).
    pub fn with_runtime(config_dir: impl Into<PathBuf>, runtime_dir: impl Into<PathBuf>) -> Self {
        let config_dir: PathBuf = config_dir.into();
        Self {
            logs_dir: config_dir.join("logs"),
            usage_dir: config_dir.join("usage"),
            config_dir,
            runtime_dir: runtime_dir.into(),
        }
    }

    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// The daemon's control socket.
    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("qcc.sock")
    }

    /// The daemon's pid (informational: liveness is the daemon lock, never this file).
    pub fn pid_file(&self) -> PathBuf {
        self.runtime_dir.join("qcc.pid")
    }

    /// Held exclusively by the daemon for its whole life.
    pub fn daemon_lock(&self) -> PathBuf {
        self.runtime_dir.join("daemon.lock")
    }

    /// Held by `qcc proxy start` while it launches a daemon, so two starts cannot race.
    pub fn start_lock(&self) -> PathBuf {
        self.runtime_dir.join("start.lock")
    }

    /// The detached daemon's log file (rotated beside itself).
    pub fn log_file(&self) -> PathBuf {
        self.logs_dir.join("daemon.log")
    }

    /// The folder of the logs (0700).
    pub fn logs_dir(&self) -> &Path {
        &self.logs_dir
    }

    /// The usage accounting's files, one per UTC day (0700; beside the logs).
    pub fn usage_dir(&self) -> &Path {
        &self.usage_dir
    }

    /// Where logs lived before they moved to the state dir (`<config dir>/logs`).
    pub fn legacy_logs_dir(&self) -> PathBuf {
        self.config_dir.join("logs")
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// The config dir as an absolute path (for handing to a re-executed daemon).
    pub fn absolute_config_dir(&self) -> PathBuf {
        std::path::absolute(&self.config_dir).unwrap_or_else(|_| self.config_dir.clone())
    }

    /// The lock file every read (shared) and write (exclusive) of any document takes.
    pub fn lock_file(&self) -> PathBuf {
        self.config_dir.join(".lock")
    }

    /// A state document by its file name.
    pub fn document(&self, file: &str) -> PathBuf {
        self.config_dir.join(file)
    }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}
