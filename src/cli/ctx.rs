//! What every command handler gets: resolved paths, output mode, the prompter, and the
//! state access helpers. All CLI writes to state go through [`Ctx::update`] /
//! [`Ctx::transaction`], which is where a running daemon gets told to reload.

use crate::cli::GlobalArgs;
use crate::cli::error::CliError;
use crate::state::store::Tx;
use crate::state::{Config, Paths, Store};
use crate::ui::prompt::Prompter;

pub struct Ctx {
    pub paths: Paths,
    pub json: bool,
    pub yes: bool,
    pub verbose: u8,
    pub prompt: Prompter,
}

impl Ctx {
    pub fn new(global: &GlobalArgs) -> Result<Self, CliError> {
        Ok(Self {
            paths: Paths::resolve(global.config_dir.as_deref())?,
            json: global.json,
            yes: global.yes,
            verbose: global.verbose,
            prompt: Prompter::detect(),
        })
    }

    pub fn store(&self) -> Result<Store, CliError> {
        Ok(Store::open(self.paths.clone())?)
    }

    /// Read `config.json` under a shared lock.
    pub fn config(&self) -> Result<Config, CliError> {
        Ok(self.store()?.read()?)
    }

    /// Change `config.json` (locked, atomic). Nothing is written if `f` fails.
    pub fn update<T>(
        &self,
        f: impl FnOnce(&mut Config) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        let out = self.store()?.update(f)?;
        self.state_changed();
        Ok(out)
    }

    /// Change several documents under one exclusive lock.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        let out = self.store()?.transaction(f)?;
        self.state_changed();
        Ok(out)
    }

    /// The one place where a CLI change of state reaches a running daemon: every successful
    /// write above ends here and asks the daemon to reload now. Best effort: the daemon also
    /// notices file changes by itself within a second.
    fn state_changed(&self) {
        use crate::ipc::client::{Client, IpcError};
        if !self.paths.socket().exists() {
            return;
        }
        let answer = Client::connect(&self.paths.socket(), std::time::Duration::from_secs(5))
            .and_then(|mut c| c.reload());
        match answer {
            Ok(Some(e)) => crate::ui::style::warn(&format!(
                "the running proxy refused the new config and keeps the old one: {e}"
            )),
            Ok(None) | Err(IpcError::NotRunning) => {}
            Err(e) => crate::ui::style::warn(&format!("could not tell the proxy to reload: {e}")),
        }
    }

    /// The running daemon's status, if it runs and answers (best effort, for display). A
    /// daemon that answers something else is said on stderr, not silently taken as none.
    pub fn daemon_status(&self) -> Option<crate::report::status::StatusReport> {
        use crate::ipc::client::IpcError;
        if !self.paths.socket().exists() {
            return None;
        }
        match self.daemon().and_then(|mut c| Ok(c.status()?)) {
            Ok(s) => Some(s),
            Err(CliError::Ipc(IpcError::NotRunning)) => None,
            Err(e) => {
                let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
                crate::ui::style::warn(&format!(
                    "the running proxy did not report its status: {e}{hint}"
                ));
                None
            }
        }
    }

    /// A connected control client, or exit code 3 when the daemon is not running.
    pub fn daemon(&self) -> Result<crate::ipc::client::Client, CliError> {
        self.daemon_for(std::time::Duration::from_secs(10))
    }

    /// Like [`daemon`](Self::daemon), waiting up to `timeout` for each answer (for requests
    /// the daemon takes long to answer, such as `qcc health check`).
    pub fn daemon_for(
        &self,
        timeout: std::time::Duration,
    ) -> Result<crate::ipc::client::Client, CliError> {
        Ok(crate::ipc::client::Client::connect(
            &self.paths.socket(),
            timeout,
        )?)
    }

    /// Ask before something destructive: `--yes` skips the question; without a terminal
    /// and without `--yes` the command refuses.
    pub fn confirm(&self, question: &str, what: &str) -> Result<(), CliError> {
        if self.yes {
            return Ok(());
        }
        if !self.prompt.is_interactive() {
            return Err(CliError::NeedsConfirmation(what.to_owned()));
        }
        if self.prompt.confirm(question, false)? {
            Ok(())
        } else {
            Err(CliError::Cancelled)
        }
    }
}
