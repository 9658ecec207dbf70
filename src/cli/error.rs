//! The CLI's error type: every failure a command can report, its hint, and its exit code.
//! Only `main` turns these into a process exit.

use crate::daemon::DaemonError;
use crate::ipc::client::IpcError;
use crate::state::{ModelError, StoreError};
use crate::ui::prompt::PromptError;

/// Process exit codes (documented in the README and man page).
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    /// A command needs the proxy daemon and it is not running.
    pub const DAEMON_NOT_RUNNING: u8 = 3;
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error(transparent)]
    Ipc(#[from] IpcError),
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
    #[error(transparent)]
    Service(#[from] crate::daemon::service::ServiceError),
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    #[error("missing {}", .0.join(", "))]
    MissingInput(Vec<String>),
    #[error("{0} needs confirmation")]
    NeedsConfirmation(String),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Prompt(#[from] PromptError),
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error("{message}")]
    Failed {
        message: String,
        hint: Option<String>,
    },
}

impl CliError {
    /// A usage error (exit 2) with a hint.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A plain failure (exit 1) with an optional hint.
    pub fn failed(message: impl Into<String>, hint: Option<String>) -> Self {
        CliError::Failed {
            message: message.into(),
            hint,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Store(e) => e.hint(),
            CliError::Model(e) => e.hint(),
            CliError::Daemon(e) => e.hint(),
            CliError::Ipc(e) => e.hint(),
            CliError::Queue(e) => e.hint(),
            CliError::Service(e) => e.hint(),
            CliError::Import(e) => e.hint(),
            CliError::MissingInput(_) => Some(
                "stdin is not a terminal, so qcc cannot ask: pass them as flags (see --help)"
                    .into(),
            ),
            CliError::NeedsConfirmation(_) => {
                Some("pass --yes to confirm (stdin is not a terminal, so qcc cannot ask)".into())
            }
            CliError::Cancelled => None,
            CliError::Prompt(PromptError::NotInteractive(_)) => {
                Some("pass the value as a flag (see --help)".into())
            }
            CliError::Prompt(PromptError::Failed(_)) => None,
            CliError::Usage { hint, .. } | CliError::Failed { hint, .. } => hint.clone(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Model(
                ModelError::InvalidUrl { .. }
                | ModelError::OpenaiAuth(_)
                | ModelError::InvalidChatPath { .. }
                | ModelError::InvalidWeight(_)
                | ModelError::InvalidProfileName(_)
                | ModelError::EmptyKey
                | ModelError::InvalidRoutePattern(_)
                | ModelError::InvalidRoutePosition { .. },
            ) => exit::USAGE,
            CliError::Ipc(IpcError::NotRunning) => exit::DAEMON_NOT_RUNNING,
            CliError::Import(e) if e.is_usage() => exit::USAGE,
            CliError::MissingInput(_)
            | CliError::NeedsConfirmation(_)
            | CliError::Usage { .. }
            | CliError::Prompt(PromptError::NotInteractive(_)) => exit::USAGE,
            _ => exit::ERROR,
        }
    }
}
