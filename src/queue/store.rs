//! The queue's files, under `<config dir>/queue/` (dir 0700, files 0600):
//! - `index.json`: the [`QueueIndex`], read and written through the state store (locked,
//!   atomic, versioned; a corrupt index is reported, never reset);
//! - `<id>.request`: a request body; `<id>.response`: a stored response body — each written
//!   atomically *before* the index refers to it, so the index never points at a missing or
//!   torn file;
//! - `claims/<claimer>.lock`: held (flock) by a replayer for its life. An item `retrying`
//!   under a claimer whose lock is free belongs to a replayer that died: it goes back to
//!   `pending`.

use std::fs::{self, File};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use chrono::Utc;

use crate::queue::model::{ItemState, NewItem, Outcome, QUEUE_VERSION, QueueIndex, QueueItem};
use crate::state::model::QueueSettings;
use crate::state::store::{Document, StoreError, write_atomic};
use crate::state::{Paths, Store};

impl Document for QueueIndex {
    const FILE: &'static str = "queue/index.json";
    const VERSION: u32 = QUEUE_VERSION;
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no queued request matches '{0}'")]
    NotFound(String),
    #[error("queue id '{query}' is ambiguous: it matches {}", .matches.join(", "))]
    Ambiguous { query: String, matches: Vec<String> },
    #[error("queued request {0} has no stored response")]
    NoResponse(String),
}

impl QueueError {
    pub fn hint(&self) -> Option<String> {
        match self {
            QueueError::Store(e) => e.hint(),
            QueueError::NotFound(_) => Some("see the ids with `qcc queue list`".into()),
            QueueError::Ambiguous { .. } => Some("type more characters of the id".into()),
            QueueError::NoResponse(_) => {
                Some("only succeeded items have one; see `qcc queue show <id>`".into())
            }
        }
    }
}

fn io(action: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> QueueError {
    let path = path.to_owned();
    move |source| {
        QueueError::Store(StoreError::Io {
            action,
            path,
            source,
        })
    }
}

/// Access to the queue's files.
#[derive(Clone, Debug)]
pub struct QueueStore {
    store: Store,
    dir: PathBuf,
}

/// A replayer's identity, proven alive by the lock it holds.
pub struct Claimer {
    pub id: String,
    path: PathBuf,
    _lock: File,
}

impl Drop for Claimer {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// A new, random id: `q` + 8 hex digits.
pub fn new_id() -> String {
    format!("q{:08x}", rand::random::<u32>())
}

impl QueueStore {
    pub fn open(paths: &Paths) -> Result<Self, QueueError> {
        let store = Store::open(paths.clone())?;
        let dir = paths.config_dir().join("queue");
        for d in [dir.clone(), dir.join("claims")] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&d)
                .map_err(io("create", &d))?;
        }
        Ok(Self { store, dir })
    }

    fn file(&self, id: &str, kind: &str) -> PathBuf {
        self.dir.join(format!("{id}.{kind}"))
    }

    fn claim_lock(&self, claimer: &str) -> PathBuf {
        self.dir.join("claims").join(format!("{claimer}.lock"))
    }

    /// Is the replayer `claimer` still running (does it hold its lock)?
    fn claimer_alive(&self, claimer: &str) -> bool {
        let path = self.claim_lock(claimer);
        let Ok(f) = File::options().read(true).write(true).open(&path) else {
            return false;
        };
        fs4::FileExt::try_lock_shared(&f).is_err()
    }

    /// Become a replayer.
    pub fn claimer(&self) -> Result<Claimer, QueueError> {
        let id = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        let path = self.claim_lock(&id);
        let lock = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("create", &path))?;
        fs4::FileExt::lock(&lock).map_err(io("lock", &path))?;
        Ok(Claimer {
            id,
            path,
            _lock: lock,
        })
    }

    /// The index as it stands, with items of dead replayers shown as pending (nothing is
    /// written).
    pub fn read(&self) -> Result<QueueIndex, QueueError> {
        let mut index: QueueIndex = self.store.read()?;
        index.release_stale(|c| self.claimer_alive(c), Utc::now());
        Ok(index)
    }

    /// Store a failed request: body file first, then the index entry; then apply the
    /// limits. Returns the new id and the ids evicted to make room.
    pub fn enqueue(
        &self,
        mut new: NewItem,
        body: &[u8],
        settings: &QueueSettings,
    ) -> Result<(String, Vec<String>), QueueError> {
        new.id = new_id();
        new.body_bytes = body.len() as u64;
        write_atomic(&self.file(&new.id, "request"), body, 0o600)?;
        let id = new.id.clone();
        let evicted = self.store.transaction(|tx| {
            let mut index: QueueIndex = tx.load()?;
            let now = Utc::now();
            index.enqueue(new, settings, now, rand::random());
            let evicted = index.evict(settings, now);
            tx.save(&index)?;
            Ok::<_, QueueError>(evicted)
        })?;
        self.remove_files(&evicted);
        Ok((id, evicted))
    }

    fn remove_files(&self, ids: &[String]) {
        for id in ids {
            let _ = fs::remove_file(self.file(id, "request"));
            let _ = fs::remove_file(self.file(id, "response"));
        }
    }

    /// Claim items for `claimer` (see [`QueueIndex::claim`]), releasing those of dead
    /// replayers first.
    pub fn claim(
        &self,
        which: Option<&[String]>,
        due_only: bool,
        claimer: &Claimer,
    ) -> Result<Vec<QueueItem>, QueueError> {
        self.store.transaction(|tx| {
            let mut index: QueueIndex = tx.load()?;
            let now = Utc::now();
            let released = index.release_stale(|c| c == claimer.id || self.claimer_alive(c), now);
            let ids = index.claim(which, due_only, &claimer.id, now, usize::MAX);
            if !ids.is_empty() || released > 0 {
                tx.save(&index)?;
            }
            Ok(ids.iter().filter_map(|id| index.get(id).cloned()).collect())
        })
    }

    /// Record how a replay ended; a success's body is stored first.
    pub fn record(
        &self,
        id: &str,
        outcome: Outcome,
        response_body: Option<&[u8]>,
        settings: &QueueSettings,
    ) -> Result<(), QueueError> {
        if let (Outcome::Succeeded(_), Some(body)) = (&outcome, response_body) {
            write_atomic(&self.file(id, "response"), body, 0o600)?;
        }
        self.store.transaction(|tx| {
            let mut index: QueueIndex = tx.load()?;
            index.record(id, outcome, settings, Utc::now(), rand::random());
            tx.save(&index)?;
            Ok(())
        })
    }

    /// Resolve an id or unique prefix.
    pub fn find(&self, query: &str) -> Result<QueueItem, QueueError> {
        let index = self.read()?;
        match index.find(query) {
            Ok(item) => Ok(item.clone()),
            Err(m) if m.is_empty() => Err(QueueError::NotFound(query.to_owned())),
            Err(matches) => Err(QueueError::Ambiguous {
                query: query.to_owned(),
                matches,
            }),
        }
    }

    pub fn body(&self, id: &str) -> Result<Vec<u8>, QueueError> {
        let path = self.file(id, "request");
        fs::read(&path).map_err(io("read", &path))
    }

    pub fn response(&self, item: &QueueItem) -> Result<Vec<u8>, QueueError> {
        if item.state != ItemState::Succeeded {
            return Err(QueueError::NoResponse(item.id.clone()));
        }
        let path = self.file(&item.id, "response");
        fs::read(&path).map_err(io("read", &path))
    }

    /// Remove items (all, or in one state) and their files.
    pub fn clear(&self, state: Option<ItemState>) -> Result<Vec<String>, QueueError> {
        let gone = self.store.transaction(|tx| {
            let mut index: QueueIndex = tx.load()?;
            let gone = index.clear(state);
            tx.save(&index)?;
            Ok::<_, QueueError>(gone)
        })?;
        self.remove_files(&gone);
        Ok(gone)
    }

    /// Total bytes of stored bodies and responses.
    pub fn bytes(index: &QueueIndex) -> u64 {
        index
            .items
            .iter()
            .map(|i| i.body_bytes + i.response.as_ref().map_or(0, |r| r.bytes))
            .sum()
    }
}
