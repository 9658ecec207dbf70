//! The only place that reads, locks and writes qcc's state files.
//!
//! Protocol (docs/behavior.md §3): every read takes a shared `fs4` lock on the sibling `.lock`
//! file; every read-modify-write takes the exclusive lock, reads, lets the caller change the
//! document through pure model methods, writes a temp file in the same dir, fsyncs it,
//! renames it over the old file and fsyncs the dir. A writer killed at any instant leaves the
//! old or the new document, never a torn one. A file that does not parse is never written:
//! the error names the file, line and column.
//!
//! Dir mode 0700, file mode 0600 (they hold keys).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::state::health::{HEALTH_VERSION, HealthDoc};
use crate::state::model::{CONFIG_VERSION, Config, HISTORY_VERSION, History};
use crate::state::paths::Paths;

/// Failures of the state layer. Each knows a hint for the user.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not valid (line {line}, column {column}): {message}", .path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{} was written by a newer qcc (format version {found}; this qcc reads up to {supported})", .path.display())]
    FutureVersion {
        path: PathBuf,
        found: u64,
        supported: u32,
    },
    #[error("the config dir {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot find the home directory to place the config dir in")]
    NoHome,
}

impl StoreError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            StoreError::Io { source, path, .. }
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                format!(
                    "check the permissions of {} (qcc wants it 0700 and owned by you)",
                    path.parent().unwrap_or(path).display()
                )
            }
            StoreError::Io { .. } => "check the config dir, or point --config-dir elsewhere".into(),
            StoreError::Corrupt { path, .. } => format!(
                "qcc left the file untouched: fix it by hand, or move it away to start afresh (mv {0} {0}.broken)",
                path.display()
            ),
            StoreError::FutureVersion { .. } => {
                "upgrade qcc (cargo install --path . in a newer checkout), or use the config dir with that version".into()
            }
            StoreError::NotADirectory(_) => {
                "point --config-dir or QCC_CONFIG_DIR at a directory".into()
            }
            StoreError::NoHome => "set HOME, or QCC_CONFIG_DIR to a directory".into(),
        })
    }
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// A versioned JSON document in the config dir.
pub trait Document: Serialize + DeserializeOwned + Default {
    /// File name inside the config dir.
    const FILE: &'static str;
    /// The newest format version this build understands.
    const VERSION: u32;
}

impl Document for Config {
    const FILE: &'static str = "config.json";
    const VERSION: u32 = CONFIG_VERSION;
}

impl Document for History {
    const FILE: &'static str = "history.json";
    const VERSION: u32 = HISTORY_VERSION;
}

/// Written by the daemon only; the CLI reads it.
impl Document for HealthDoc {
    const FILE: &'static str = "health.json";
    const VERSION: u32 = HEALTH_VERSION;
}

/// Handle on the config dir. Cheap to create; holds no lock between calls.
#[derive(Clone, Debug)]
pub struct Store {
    paths: Paths,
}

/// An exclusive-lock session: load and save any number of documents consistently.
pub struct Tx<'a> {
    store: &'a Store,
    _lock: File,
}

impl Tx<'_> {
    pub fn load<D: Document>(&self) -> Result<D, StoreError> {
        self.store.load_unlocked()
    }

    pub fn save<D: Document>(&self, doc: &D) -> Result<(), StoreError> {
        let path = self.store.paths.document(D::FILE);
        let mut bytes = serde_json::to_vec_pretty(doc).expect("state documents always serialize");
        bytes.push(b'\n');
        sweep_temp_files(&path);
        write_atomic(&path, &bytes, 0o600)
    }
}

impl Store {
    /// Open (creating with mode 0700 if needed) the config dir.
    pub fn open(paths: Paths) -> Result<Self, StoreError> {
        let dir = paths.config_dir();
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(StoreError::NotADirectory(dir.to_owned())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(io_err("create", dir))?;
            }
            Err(e) => return Err(io_err("read", dir)(e)),
        }
        Ok(Self { paths })
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    fn lock(&self, exclusive: bool) -> Result<File, StoreError> {
        let path = self.paths.lock_file();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("open", &path))?;
        // fs4's methods, named explicitly: std's inherent File::lock* shadow them.
        let locked = if exclusive {
            fs4::FileExt::lock(&file)
        } else {
            fs4::FileExt::lock_shared(&file)
        };
        locked.map_err(io_err("lock", &path))?;
        Ok(file)
    }

    /// Read a document under a shared lock; a missing file reads as the default.
    pub fn read<D: Document>(&self) -> Result<D, StoreError> {
        let _lock = self.lock(false)?;
        self.load_unlocked()
    }

    /// Run `f` holding the exclusive lock. The lock is released when `f` returns.
    pub fn transaction<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = Tx {
            store: self,
            _lock: self.lock(true)?,
        };
        f(&tx)
    }

    /// Lock, read, change through `f`, write back atomically. Nothing is written when `f`
    /// fails.
    pub fn update<D: Document, T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut D) -> Result<T, E>,
    ) -> Result<T, E> {
        self.transaction(|tx| {
            let mut doc: D = tx.load()?;
            let out = f(&mut doc)?;
            tx.save(&doc)?;
            Ok(out)
        })
    }

    fn load_unlocked<D: Document>(&self) -> Result<D, StoreError> {
        let path = self.paths.document(D::FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(D::default()),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        parse_document(&path, &bytes)
    }
}

/// Parse a document: syntax first, then the version, then the schema — each failure with
/// the file's line and column.
pub fn parse_document<D: Document>(path: &Path, bytes: &[u8]) -> Result<D, StoreError> {
    #[derive(serde::Deserialize)]
    struct Probe {
        version: Option<serde_json::Value>,
    }
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    };
    let probe: Probe = serde_json::from_slice(bytes).map_err(corrupt)?;
    match probe.version {
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(v) if v > u64::from(D::VERSION) => {
                return Err(StoreError::FutureVersion {
                    path: path.to_owned(),
                    found: v,
                    supported: D::VERSION,
                });
            }
            _ => {}
        },
        _ => {
            // Report a missing or non-numeric version through the schema check below.
        }
    }
    serde_json::from_slice(bytes).map_err(corrupt)
}

/// serde_json appends " at line L column C"; the error already says where.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Remove temp files a killed writer left beside `path`. Only the holder of the exclusive
/// lock writes temp files, so any that exist now are stale.
fn sweep_temp_files(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let n = entry.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(&prefix) && n.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Write `bytes` to `path` atomically: temp file in the same dir, fsync, rename, fsync dir.
/// The file gets `mode`. Used for qcc's documents and for files qcc edits for the user.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        // The mode given to open() is filtered by the umask; set it exactly.
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_err("set permissions on", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("sync", &tmp))?;
        fs::rename(&tmp, path).map_err(io_err("replace", path))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync", dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sets_modes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cfg");
        let store = Store::open(Paths::at(&root)).unwrap();
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let c: Config = store.read().unwrap();
        assert_eq!(c, Config::default());
        store
            .update(|c: &mut Config| {
                c.policy.failure_threshold = 7;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let c: Config = store.read().unwrap();
        assert_eq!(c.policy.failure_threshold, 7);
        let mode = fs::metadata(root.join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_files_report_line_and_column_and_stay_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(Paths::at(dir.path())).unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, "{\n  \"version\": 1,\n  oops\n}\n").unwrap();
        let err = store
            .update(|_: &mut Config| Ok::<_, StoreError>(()))
            .unwrap_err();
        match &err {
            StoreError::Corrupt { line, column, .. } => assert_eq!((*line, *column), (3, 3)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("config.json"));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\n  \"version\": 1,\n  oops\n}\n"
        );
    }

    #[test]
    fn future_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(Paths::at(dir.path())).unwrap();
        fs::write(dir.path().join("config.json"), r#"{"version": 9}"#).unwrap();
        let err = store.read::<Config>().unwrap_err();
        assert!(matches!(err, StoreError::FutureVersion { found: 9, .. }));
    }

    #[test]
    fn stale_temp_files_are_swept_by_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(Paths::at(dir.path())).unwrap();
        let stale = dir.path().join(".config.json.999999.tmp");
        fs::write(&stale, "{").unwrap();
        store
            .update(|_: &mut Config| Ok::<_, StoreError>(()))
            .unwrap();
        assert!(!stale.exists());
    }

    #[test]
    fn a_file_in_place_of_the_dir_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "").unwrap();
        assert!(matches!(
            Store::open(Paths::at(&file)),
            Err(StoreError::NotADirectory(_))
        ));
    }
}
