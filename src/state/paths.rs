//! Where qcc's files live.
//!
//! The config dir is, in order: `--config-dir`, `$QCC_CONFIG_DIR`, the XDG config dir for
//! `qcc` (`~/.config/qcc` on Linux). Every file name inside it is defined here and nowhere else.

use std::path::{Path, PathBuf};

use crate::state::store::StoreError;

/// Environment variable that overrides the config dir (every test sets it).
pub const CONFIG_DIR_ENV: &str = "QCC_CONFIG_DIR";

/// The resolved locations of qcc's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    config_dir: PathBuf,
}

impl Paths {
    /// Resolve the config dir from the `--config-dir` flag, then `$QCC_CONFIG_DIR`, then XDG.
    pub fn resolve(flag: Option<&Path>) -> Result<Self, StoreError> {
        if let Some(dir) = flag {
            return Ok(Self::at(dir));
        }
        if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(Self::at(PathBuf::from(dir)));
        }
        let dirs = directories::ProjectDirs::from("", "", "qcc").ok_or(StoreError::NoHome)?;
        Ok(Self::at(dirs.config_dir()))
    }

    /// Paths rooted at an explicit directory.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            config_dir: dir.into(),
        }
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
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
