//! Test harness: [`TestEnv`] gives every test its own config dir, HOME and XDG dirs, strips
//! inherited `QCC_*` / `NO_COLOR` / `COLUMNS`, and runs the real `qcc` binary.

pub mod client;
pub mod daemon;
pub mod redis;
pub mod scenarios;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Path of the `qcc` binary under test.
pub fn qcc_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_qcc"))
}

/// Put `dir` first on the command's PATH (the test's own PATH after it).
fn prepend_path(cmd: &mut Command, dir: &Path) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(paths).unwrap());
}

/// A hermetic environment for one test.
pub struct TestEnv {
    root: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("qcc-it-")
            .tempdir()
            .unwrap();
        for d in [
            "home",
            "config",
            "xdg-config",
            "xdg-data",
            "xdg-state",
            "xdg-cache",
            "run",
        ] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        Self { root }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    /// `$QCC_CONFIG_DIR` of this env.
    pub fn config_dir(&self) -> PathBuf {
        self.root().join("config")
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("config.json")
    }

    /// A `qcc` command with the hermetic environment and stdin from /dev/null.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(qcc_bin());
        self.apply_env(&mut cmd);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Any command (bash, …) with the hermetic environment and `qcc` on PATH.
    pub fn shell_cmd(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.apply_env(&mut cmd);
        prepend_path(&mut cmd, qcc_bin().parent().unwrap());
        cmd.stdin(Stdio::null());
        cmd
    }

    /// A `qcc` command (as [`cmd`](Self::cmd)) that finds the programs in `dir` first on
    /// PATH (stand-ins for system tools).
    pub fn cmd_with_path(&self, dir: &Path) -> Command {
        let mut cmd = self.cmd();
        prepend_path(&mut cmd, dir);
        cmd
    }

    fn apply_env(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("QCC_")
                || k.starts_with("XDG_")
                || k.starts_with("CLAUDE_")
                || k.starts_with("ANTHROPIC_")
                || matches!(
                    k.as_ref(),
                    "NO_COLOR"
                        | "COLUMNS"
                        | "CLICOLOR"
                        | "CLICOLOR_FORCE"
                        | "COMPLETE"
                        | "SSL_CERT_FILE"
                        | "SSL_CERT_DIR"
                        | "VISUAL"
                        | "EDITOR"
                )
            {
                cmd.env_remove(k.as_ref());
            }
        }
        let r = self.root();
        cmd.env("HOME", self.home())
            .env("QCC_CONFIG_DIR", self.config_dir())
            .env("XDG_CONFIG_HOME", r.join("xdg-config"))
            .env("XDG_DATA_HOME", r.join("xdg-data"))
            .env("XDG_STATE_HOME", r.join("xdg-state"))
            .env("XDG_CACHE_HOME", r.join("xdg-cache"))
            .env("XDG_RUNTIME_DIR", r.join("run"));
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Run and require success; return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "qcc {args:?} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run with `--json`, require success, parse stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    /// Run and require failure with `code`; return stderr. Checks the error shape: a first
    /// line `error: …` and a `hint:` line, no panic or backtrace.
    pub fn fail(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "qcc {args:?}: expected exit {code}, stderr:\n{stderr}"
        );
        assert!(
            stderr.starts_with("error:"),
            "qcc {args:?} stderr:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    /// Like [`fail`](Self::fail) and also require our own `hint:` line (clap's usage errors
    /// have their own format).
    pub fn fail_with_hint(&self, code: i32, args: &[&str]) -> String {
        let stderr = self.fail(code, args);
        assert!(
            stderr.contains("hint:"),
            "qcc {args:?} gave no hint:\n{stderr}"
        );
        stderr
    }

    /// The parsed config.json.
    pub fn config(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.config_file()).unwrap()).unwrap()
    }

    /// Raw bytes of every file in the config dir (to prove a command changed nothing).
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(self.config_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().unwrap().is_file() && e.file_name() != ".lock")
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    /// A profile with `n` endpoints, added through the CLI.
    pub fn profile_with(&self, name: &str, n: usize) -> Vec<String> {
        self.ok(&["profile", "add", name]);
        (0..n)
            .map(|i| {
                let url = format!("https://{name}-{i}.example.com");
                let key = format!("sk-ant-api03-{name}-{i}-0123456789abcdef");
                let v = self.json(&["endpoint", "add", name, "--url", &url, "--key", &key]);
                v["id"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

impl Drop for TestEnv {
    /// Never leak a daemon: kill whatever still holds this env's daemon lock.
    fn drop(&mut self) {
        let paths = qcc::state::Paths::with_runtime(self.config_dir(), self.root().join("run/qcc"));
        if let qcc::daemon::liveness::Liveness::Running { pid: Some(pid) } =
            qcc::daemon::liveness::probe(&paths)
        {
            daemon::kill(pid, libc::SIGKILL);
        }
    }
}
