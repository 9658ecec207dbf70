//! The proxy daemon's lifecycle, on both sides of the control socket.
//!
//! - [`liveness`]: is a daemon running? (its lifetime lock, never a pid check) and cleaning
//!   files a killed daemon left behind.
//! - [`spawn`]: `qcc proxy start` — re-execute this binary detached and wait for its
//!   readiness report on a pipe.
//! - [`run`]: the daemon itself — lock, bind, serve, reload, drain, clean up.
//! - [`control`]: one small function per control request.
//! - [`reload`]: re-reading the config on request, on SIGHUP and on file change.
//! - [`logfile`]: the detached daemon's size-capped, rotated log.
//! - [`service`]: starting at login — the systemd user unit, `systemctl --user`.

pub mod control;
pub mod liveness;
pub mod logfile;
pub mod reload;
pub mod run;
pub mod service;
pub mod spawn;

use crate::state::StoreError;

/// Why the daemon could not start or be reached.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("a qcc daemon is already running (pid {0})")]
    AlreadyRunning(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Config(String),
    #[error("invalid listen address '{0}'")]
    BadListen(String),
    #[error("{var}: {source}")]
    BadSharedUrl {
        var: &'static str,
        source: crate::state::shared::BadSharedUrl,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to listen on {0} without an access token")]
    NeedsToken(String),
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon failed to start: {0}")]
    Startup(String),
    /// The daemon's own startup error, reported through the readiness pipe.
    #[error("{message}")]
    Reported {
        message: String,
        hint: Option<String>,
    },
}

impl DaemonError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DaemonError::AlreadyRunning(_) => Some("see `qcc proxy status`".into()),
            DaemonError::Store(e) => e.hint(),
            DaemonError::Config(_) => Some("fix the config with `qcc profile` / `qcc endpoint`".into()),
            DaemonError::BadListen(_) => Some("use HOST:PORT, e.g. 127.0.0.1:7860".into()),
            DaemonError::BadSharedUrl { .. } => {
                Some(crate::state::shared::BadSharedUrl::hint().into())
            }
            DaemonError::Bind { .. } => Some(
                "stop whatever uses that port, or pick another with --listen 127.0.0.1:PORT".into(),
            ),
            DaemonError::NeedsToken(_) => Some(
                "set QCC_ACCESS_TOKEN (or --access-token-env VAR); clients then use it as their API key"
                    .into(),
            ),
            DaemonError::Io { .. } => None,
            DaemonError::Startup(_) => Some("see `qcc proxy logs`".into()),
            DaemonError::Reported { hint, .. } => hint.clone(),
        }
    }
}

pub(crate) fn io_err(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> DaemonError {
    let path = path.to_owned();
    move |source| DaemonError::Io {
        action,
        path,
        source,
    }
}

/// Open (creating with mode 0600) a lock file.
pub(crate) fn open_lock_file(path: &std::path::Path) -> Result<std::fs::File, DaemonError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_err("open", path))
}

/// Create the runtime dir (0700).
pub(crate) fn ensure_private_dir(dir: &std::path::Path) -> Result<(), DaemonError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err("create", dir))
}
