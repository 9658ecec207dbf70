//! Starting the daemon at login: the systemd user unit that runs `qcc proxy run` (Linux),
//! where it lives, and `systemctl --user` to enable or disable it. The unit's text is a pure
//! function of the binary, the config dir, the listen address and the log file, so it can
//! be printed (`qcc proxy install --print`) and checked (`systemd-analyze verify`).
//!
//! The unit logs to the file `qcc proxy logs` reads (the daemon rotates it itself, as when
//! detached), restarts the daemon when it fails, and keeps files private (`UMask=0077`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The unit's file name.
pub const UNIT: &str = "qcc.service";

/// Why installing or removing the unit failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("starting at login is supported with systemd (Linux) only so far")]
    Unsupported,
    #[error("cannot find the user's config dir (no HOME)")]
    NoHome,
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`systemctl --user {args}` failed: {why}")]
    Systemctl { args: String, why: String },
}

impl ServiceError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ServiceError::Unsupported => {
                Some("run `qcc proxy start` from your shell's login file instead".into())
            }
            ServiceError::Systemctl { .. } => Some(format!(
                "the unit is written; enable it once your user's systemd runs: `systemctl --user enable --now {UNIT}`"
            )),
            _ => None,
        }
    }
}

/// Where the user unit goes: `$XDG_CONFIG_HOME/systemd/user/qcc.service`.
pub fn unit_path() -> Result<PathBuf, ServiceError> {
    let base = directories::BaseDirs::new().ok_or(ServiceError::NoHome)?;
    Ok(base.config_dir().join("systemd").join("user").join(UNIT))
}

/// Whether the unit is installed (its file exists).
pub fn installed() -> Option<PathBuf> {
    unit_path().ok().filter(|p| p.exists())
}

/// A path as systemd wants it in a unit: spaces and specifiers escaped.
fn unit_escape(p: &Path) -> String {
    p.to_string_lossy().replace('%', "%%").replace(' ', "\\x20")
}

/// The unit's text.
pub fn systemd_unit(qcc: &Path, config_dir: &Path, listen: &str, log: &Path) -> String {
    let (qcc, dir, log) = (unit_escape(qcc), unit_escape(config_dir), unit_escape(log));
    format!(
        "# Written by `qcc proxy install`; removed by `qcc proxy uninstall`.
[Unit]
Description=qcc: the failover proxy for Claude Code ({listen})

[Service]
Type=simple
ExecStart={qcc} --config-dir {dir} proxy run --listen {listen} --log-file {log}
StandardOutput=append:{log}
StandardError=append:{log}
Restart=on-failure
RestartSec=2
UMask=0077

[Install]
WantedBy=default.target
"
    )
}

/// `systemctl --user ARGS`.
pub fn systemctl(args: &[&str]) -> Result<(), ServiceError> {
    let shown = args.join(" ");
    let out = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .output()
        .map_err(|e| ServiceError::Systemctl {
            args: shown.clone(),
            why: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&out.stderr)
        .lines()
        .next()
        .unwrap_or("no reason given")
        .trim()
        .to_owned();
    Err(ServiceError::Systemctl { args: shown, why })
}

/// Write the unit (atomically, 0600) and enable it now.
pub fn install(text: &str) -> Result<PathBuf, ServiceError> {
    if !cfg!(target_os = "linux") {
        return Err(ServiceError::Unsupported);
    }
    let path = unit_path()?;
    let io = |action, source| ServiceError::Io {
        action,
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("create the folder of", e))?;
    }
    crate::state::store::write_atomic(&path, text.as_bytes(), 0o600)
        .map_err(|e| io("write", std::io::Error::other(e.to_string())))?;
    systemctl(&["daemon-reload"])?;
    systemctl(&["enable", "--now", UNIT])?;
    Ok(path)
}

/// Disable and remove the unit. `Ok(None)`: it was not installed.
pub fn uninstall() -> Result<Option<PathBuf>, ServiceError> {
    let Some(path) = installed() else {
        return Ok(None);
    };
    // Stopping a unit systemd no longer knows is not an error worth failing over.
    let _ = systemctl(&["disable", "--now", UNIT]);
    std::fs::remove_file(&path).map_err(|source| ServiceError::Io {
        action: "remove",
        path: path.clone(),
        source,
    })?;
    let _ = systemctl(&["daemon-reload"]);
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_the_daemon_with_this_config_and_logs_where_logs_reads() {
        let u = systemd_unit(
            Path::new("/usr/local/bin/qcc"),
            Path::new("/home/a b/.config/qcc"),
            "127.0.0.1:7860",
            Path::new("/home/a b/.config/qcc/logs/daemon.log"),
        );
        assert!(u.contains(
            "ExecStart=/usr/local/bin/qcc --config-dir /home/a\\x20b/.config/qcc proxy run --listen 127.0.0.1:7860 --log-file /home/a\\x20b/.config/qcc/logs/daemon.log"
        ));
        assert!(u.contains("Restart=on-failure"));
        assert!(u.contains("StandardError=append:/home/a\\x20b/.config/qcc/logs/daemon.log"));
        assert!(u.contains("WantedBy=default.target"));
        assert_eq!(unit_escape(Path::new("/x/100%")), "/x/100%%");
    }
}
