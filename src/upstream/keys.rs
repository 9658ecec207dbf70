//! An endpoint's credential at run time: the header it sends and the fingerprint its
//! breaker keys rejections on, held in a [`KeySlot`] that requests read without a lock.
//!
//! A key stored in the config is fixed for the slot's life. A key reference (`env:`,
//! `file:`, `cmd:`; see `state::keyref`) is read by [`resolve`] — off the request path:
//! before the daemon serves, before a reload swaps a config in, and by [`KeyRegistry::run`]
//! when its `proxy.key_ttl_secs` pass or the upstream refused it (401/403). A reference
//! that cannot be read leaves the endpoint `rejected` with the reason (its breaker refuses
//! the slot's fingerprint), never the daemon down; the reason never holds the key.
//!
//! Not here: the reference as data (`state::keyref`), what a 401 means for the breaker
//! (`breaker`), when a request asks for a refresh (`proxy::forward`).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::{HeaderName, HeaderValue};

use crate::state::keyref::KeyRef;
use crate::state::model::{AuthStyle, Endpoint};
use crate::state::secret::Secret;
use crate::upstream::breaker::{Breaker, Failure};

/// A reference is read at most this often (a refused key's, or one that failed).
pub const REREAD_MIN: Duration = Duration::from_secs(2);
/// A routine re-read that failed while the key in use still works is tried again after
/// this long.
pub const ROUTINE_RETRY: Duration = Duration::from_secs(30);

/// Why a key reference gave no key. The messages never contain what a command printed on
/// its standard output (the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("environment variable {0} is not set")]
    EnvUnset(String),
    #[error("environment variable {0} is empty")]
    EnvEmpty(String),
    #[error("no home directory to expand ~ in {0}")]
    NoHome(String),
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0} is empty")]
    FileEmpty(String),
    #[error("cannot run the key command: {0}")]
    Spawn(String),
    #[error("the key command did not finish within {0} s")]
    Timeout(u64),
    #[error("the key command failed ({status}){}", stderr_suffix(.stderr))]
    Failed { status: String, stderr: String },
    #[error("the key command printed nothing")]
    CmdEmpty,
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

impl ResolveError {
    /// A one-line suggestion for the user.
    pub fn hint(&self) -> &'static str {
        match self {
            ResolveError::EnvUnset(_) | ResolveError::EnvEmpty(_) => {
                "set it where the daemon starts (the shell of `qcc proxy start`, or the service's environment)"
            }
            ResolveError::NoHome(_) => "give an absolute path",
            ResolveError::File { .. } | ResolveError::FileEmpty(_) => {
                "write the key into that file (mode 0600), or point --key-ref at another one"
            }
            _ => "run the command yourself to see what it says, or raise proxy.key_timeout_secs",
        }
    }
}

/// Read the key a reference points at. Blocking (a file read, or a command run with
/// `timeout`): callers on a runtime use `spawn_blocking`.
pub fn resolve(r: &KeyRef, timeout: Duration) -> Result<Secret, ResolveError> {
    match r {
        KeyRef::Env(var) => match std::env::var_os(var) {
            None => Err(ResolveError::EnvUnset(var.clone())),
            Some(v) => {
                let v = v.to_string_lossy();
                let v = v.trim();
                if v.is_empty() {
                    Err(ResolveError::EnvEmpty(var.clone()))
                } else {
                    Ok(Secret::new(v))
                }
            }
        },
        KeyRef::File(path) => {
            let full = expand_home(path)?;
            let text = std::fs::read_to_string(&full).map_err(|e| ResolveError::File {
                path: path.clone(),
                reason: io_reason(&e),
            })?;
            let key = text.trim();
            if key.is_empty() {
                return Err(ResolveError::FileEmpty(path.clone()));
            }
            Ok(Secret::new(key))
        }
        KeyRef::Cmd(command) => run_command(command, timeout),
    }
}

fn expand_home(path: &str) -> Result<std::path::PathBuf, ResolveError> {
    match path.strip_prefix("~/") {
        None if path == "~" => Err(ResolveError::File {
            path: path.to_owned(),
            reason: "is the home directory".into(),
        }),
        None => Ok(path.into()),
        Some(rest) => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| std::path::PathBuf::from(h).join(rest))
            .ok_or_else(|| ResolveError::NoHome(path.to_owned())),
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// `sh -c command` in its own process group, stdin closed; the first non-empty line of its
/// standard output is the key. Past `timeout` the whole group is killed.
fn run_command(command: &str, timeout: Duration) -> Result<Secret, ResolveError> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| ResolveError::Spawn(e.to_string()))?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        // Capped reads: a key is short; a runaway command must not fill memory.
        let mut out = Vec::new();
        let _ = (&mut stdout).take(64 * 1024).read_to_end(&mut out);
        let mut err = Vec::new();
        let _ = (&mut stderr).take(4096).read_to_end(&mut err);
        let status = child.wait();
        let _ = tx.send((out, err, status));
    });
    let outcome = rx.recv_timeout(timeout);
    if outcome.is_err() {
        // SAFETY: signalling the process group the command was started in.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        // Not joined: a process that left the group may hold the output open for ever; the
        // waiter ends (and reaps the child) whenever it does.
        drop(waiter);
        return Err(ResolveError::Timeout(timeout.as_secs().max(1)));
    }
    let _ = waiter.join();
    let (out, err, status) = outcome.expect("checked");
    let status = status.map_err(|e| ResolveError::Spawn(e.to_string()))?;
    if !status.success() {
        let stderr = String::from_utf8_lossy(&err);
        let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
        return Err(ResolveError::Failed {
            status: match status.code() {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".into(),
            },
            stderr: first.unwrap_or("").chars().take(160).collect(),
        });
    }
    let out = String::from_utf8_lossy(&out);
    match out.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(key) => Ok(Secret::new(key)),
        None => Err(ResolveError::CmdEmpty),
    }
}

/// Why a key (stored, or read through a reference) cannot be sent.
#[derive(Debug, thiserror::Error)]
#[error("the key of endpoint {0} has characters not allowed in an HTTP header")]
pub struct KeyError(pub String);

/// The credential header of a key in an auth style, marked sensitive.
pub fn credential_header(
    id: &str,
    auth: AuthStyle,
    key: &Secret,
) -> Result<(HeaderName, HeaderValue), KeyError> {
    let (name, raw) = match auth {
        AuthStyle::ApiKey => (
            HeaderName::from_static("x-api-key"),
            key.expose().to_owned(),
        ),
        AuthStyle::Bearer => (
            http::header::AUTHORIZATION,
            format!("Bearer {}", key.expose()),
        ),
    };
    let mut value = HeaderValue::from_str(&raw).map_err(|_| KeyError(id.to_owned()))?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// An endpoint's credential header now, reading its reference if it has one (blocking: the
/// CLI's checks use it; the daemon reads through its [`KeyRegistry`]).
pub fn read_credential(
    e: &Endpoint,
    timeout: Duration,
) -> Result<(HeaderName, HeaderValue), String> {
    let key = match &e.key_ref {
        None => e.key.clone(),
        Some(r) => resolve(r, timeout).map_err(|err| format!("{r}: {err}"))?,
    };
    credential_header(&e.id, e.auth, &key).map_err(|err| err.to_string())
}

fn fingerprint(tag: &str, text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    tag.hash(&mut h);
    text.hash(&mut h);
    h.finish()
}

/// What a slot holds now.
#[derive(Debug)]
pub struct KeyState {
    /// The header to send; `None` while the reference cannot be read.
    pub credential: Option<(HeaderName, HeaderValue)>,
    /// Fingerprint of the key (or of the failure): a refused key is skipped until it
    /// changes.
    pub fp: u64,
    /// Why there is no key.
    pub error: Option<String>,
    /// When it was read (a stored key: when the slot was made).
    pub read_at: Instant,
}

/// One endpoint's credential, shared by every snapshot that has the same key source.
pub struct KeySlot {
    id: String,
    auth: AuthStyle,
    /// `None`: the key is stored in the config and never read again.
    reference: Option<KeyRef>,
    state: ArcSwap<KeyState>,
    breaker: Arc<Breaker>,
    /// Read it again soon (the upstream refused it, or it was never read).
    wanted: AtomicBool,
    /// When it was last read (successfully or not), for [`REREAD_MIN`].
    last_try: Mutex<Option<Instant>>,
    /// Its registry's refresh task, woken when a read is wanted.
    wake: Arc<tokio::sync::Notify>,
}

impl KeySlot {
    /// A stored key.
    pub fn fixed(
        e: &Endpoint,
        breaker: Arc<Breaker>,
        wake: Arc<tokio::sync::Notify>,
    ) -> Result<Self, KeyError> {
        let credential = credential_header(&e.id, e.auth, &e.key)?;
        Ok(Self {
            id: e.id.clone(),
            auth: e.auth,
            reference: None,
            state: ArcSwap::from_pointee(KeyState {
                credential: Some(credential),
                fp: fingerprint("key", e.key.expose()),
                error: None,
                read_at: Instant::now(),
            }),
            breaker,
            wanted: AtomicBool::new(false),
            last_try: Mutex::new(None),
            wake,
        })
    }

    /// A reference not read yet: refused until it is.
    fn pending(
        e: &Endpoint,
        r: KeyRef,
        breaker: Arc<Breaker>,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        let slot = Self {
            id: e.id.clone(),
            auth: e.auth,
            reference: Some(r),
            state: ArcSwap::from_pointee(KeyState {
                credential: None,
                fp: 0,
                error: None,
                read_at: Instant::now(),
            }),
            breaker,
            wanted: AtomicBool::new(true),
            last_try: Mutex::new(None),
            wake,
        };
        slot.wake.notify_one();
        slot.store(Err("not read yet".into()));
        slot
    }

    /// What it holds now, to keep across an attempt or a probe (awaits included: an
    /// `Arc`, not a short-lived guard).
    pub fn current(&self) -> Arc<KeyState> {
        self.state.load_full()
    }

    pub fn fp(&self) -> u64 {
        self.state.load().fp
    }

    pub fn reference(&self) -> Option<&KeyRef> {
        self.reference.as_ref()
    }

    /// The upstream refused the key: read the reference again soon (a stored key cannot
    /// change by itself), waking the refresh task. Returns whether a read was asked for.
    pub fn refused(&self) -> bool {
        if self.reference.is_none() || self.wanted.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.wake.notify_one();
        true
    }

    /// What an attempt or probe with this key heard: a refusal (401/403) asks for a read.
    pub fn heard(&self, failure: &Failure) {
        if matches!(failure, Failure::Credential(_)) {
            self.refused();
        }
    }

    /// Is a read due: never read, asked for, failed last time, or older than `ttl` — and
    /// in any case not within [`REREAD_MIN`] of the last read.
    /// Claims the read when it is due (the last-read time is set under the same lock), so
    /// that a reload and the refresh task never run one command twice at once.
    fn due(&self, ttl: Duration, now: Instant) -> bool {
        if self.reference.is_none() {
            return false;
        }
        let mut last = self
            .last_try
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.wait_after(*last, ttl, now).is_zero() {
            return false;
        }
        *last = Some(now);
        true
    }

    /// How long until [`due`](Self::due) may say yes (a minute at most).
    fn wait_left(&self, ttl: Duration, now: Instant) -> Duration {
        if self.reference.is_none() {
            return Duration::from_secs(60);
        }
        let last = *self
            .last_try
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.wait_after(last, ttl, now)
    }

    /// [`wait_left`](Self::wait_left) given the last read's time.
    fn wait_after(&self, last: Option<Instant>, ttl: Duration, now: Instant) -> Duration {
        let cap = Duration::from_secs(60);
        let Some(last) = last else {
            return Duration::ZERO;
        };
        let spacing = REREAD_MIN.saturating_sub(now.saturating_duration_since(last));
        let st = self.state.load();
        if self.wanted.load(Ordering::Acquire) || st.credential.is_none() {
            return spacing;
        }
        if ttl.is_zero() {
            return cap;
        }
        let age = ttl.saturating_sub(now.saturating_duration_since(st.read_at));
        spacing.max(age).min(cap)
    }

    /// Read the reference now (blocking) and keep the result.
    pub fn read(&self, ttl: Duration, timeout: Duration) {
        let Some(r) = &self.reference else {
            return;
        };
        *self
            .last_try
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        let refused = self.wanted.swap(false, Ordering::AcqRel);
        let result = resolve(r, timeout).map_err(|e| format!("{r}: {e}"));
        if let Err(reason) = &result
            && !refused
            && self.state.load().credential.is_some()
        {
            // A routine re-read failed (a locked password manager, say) while the key in
            // use was not refused: keep using it, and try again soon.
            tracing::warn!(endpoint = %self.id, "key not read again, the previous one stays in use: {reason}");
            let st = self.state.load();
            // Due again in ROUTINE_RETRY, not at every REREAD_MIN (one warning per try).
            let read_at = Instant::now()
                .checked_sub(ttl.saturating_sub(ROUTINE_RETRY))
                .unwrap_or(st.read_at);
            self.state.store(Arc::new(KeyState {
                credential: st.credential.clone(),
                fp: st.fp,
                error: None,
                read_at,
            }));
            return;
        }
        self.store(result);
    }

    fn store(&self, result: Result<Secret, String>) {
        let result = result.and_then(|key| {
            credential_header(&self.id, self.auth, &key)
                .map(|c| (c, fingerprint("key", key.expose())))
                .map_err(|_| {
                    let r = self.reference.as_ref().map(ToString::to_string);
                    format!(
                        "{}: the key has characters not allowed in an HTTP header",
                        r.unwrap_or_default()
                    )
                })
        });
        let before = self.state.load();
        let state = match result {
            Ok((credential, fp)) => {
                if before.error.is_some() {
                    tracing::info!(endpoint = %self.id, "key read");
                }
                KeyState {
                    credential: Some(credential),
                    fp,
                    error: None,
                    read_at: Instant::now(),
                }
            }
            Err(reason) => {
                if before.error.as_deref() != Some(reason.as_str()) && reason != "not read yet" {
                    tracing::warn!(endpoint = %self.id, "key not available: {reason}");
                }
                let fp = fingerprint("unavailable", &reason);
                self.breaker.key_unavailable(fp, reason.clone());
                KeyState {
                    credential: None,
                    fp,
                    error: Some(reason),
                    read_at: before.read_at,
                }
            }
        };
        self.state.store(Arc::new(state));
    }
}

/// The slots of referenced keys by endpoint id, kept across reloads (a reference read once
/// is not read again because an unrelated setting changed).
#[derive(Default)]
pub struct KeyRegistry {
    slots: Mutex<HashMap<String, Arc<KeySlot>>>,
    /// Woken when a slot wants a read.
    wake: Arc<tokio::sync::Notify>,
}

impl KeyRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<KeySlot>>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The slot for an endpoint: a fresh one for a stored key; for a reference, the one it
    /// had if the reference and auth style are the same, else a new one not read yet.
    pub fn slot(&self, e: &Endpoint, breaker: Arc<Breaker>) -> Result<Arc<KeySlot>, KeyError> {
        let Some(r) = &e.key_ref else {
            self.lock().remove(&e.id);
            return KeySlot::fixed(e, breaker, self.wake.clone()).map(Arc::new);
        };
        let mut slots = self.lock();
        if let Some(s) = slots.get(&e.id)
            && s.reference.as_ref() == Some(r)
            && s.auth == e.auth
        {
            return Ok(s.clone());
        }
        let s = Arc::new(KeySlot::pending(e, r.clone(), breaker, self.wake.clone()));
        slots.insert(e.id.clone(), s.clone());
        Ok(s)
    }

    /// Put back the slots a snapshot serves with (after a refused reload made others).
    pub fn adopt<'a>(&self, slots: impl IntoIterator<Item = (&'a str, &'a Arc<KeySlot>)>) {
        let mut map = self.lock();
        for (id, slot) in slots {
            if slot.reference.is_some() {
                map.insert(id.to_owned(), slot.clone());
            }
        }
    }

    /// Forget the slots of endpoints no longer configured.
    pub fn retain(&self, ids: &[&str]) {
        self.lock().retain(|id, _| ids.contains(&id.as_str()));
    }

    fn due(&self, ttl: Duration) -> Vec<Arc<KeySlot>> {
        let now = Instant::now();
        self.lock()
            .values()
            .filter(|s| s.due(ttl, now))
            .cloned()
            .collect()
    }

    /// How long until a slot may be due (at most a minute).
    fn next_check(&self, ttl: Duration) -> Duration {
        let now = Instant::now();
        let cap = Duration::from_secs(60);
        self.lock()
            .values()
            .map(|s| s.wait_left(ttl, now))
            .min()
            .unwrap_or(cap)
            .min(cap)
    }

    /// Read every due reference now, in parallel, blocking until all are done (each within
    /// `timeout`). Returns how many were read.
    pub fn read_due(&self, ttl: Duration, timeout: Duration) -> usize {
        let due = self.due(ttl);
        std::thread::scope(|scope| {
            for s in &due {
                scope.spawn(|| s.read(ttl, timeout));
            }
        });
        due.len()
    }

    /// Keep references fresh for the daemon's life: read the due ones when woken (a refused
    /// key, a new slot) or when the next one may be due. `settings` gives the TTL and the
    /// command timeout in force.
    pub async fn run(self: Arc<Self>, settings: impl Fn() -> (Duration, Duration)) {
        loop {
            let (ttl, timeout) = settings();
            let this = self.clone();
            let _ = tokio::task::spawn_blocking(move || this.read_due(ttl, timeout)).await;
            let wait = self.next_check(ttl).max(Duration::from_millis(10));
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn a_command_gives_its_first_line() {
        let k = resolve(&KeyRef::Cmd("printf '\\n  sk-abc  \\nrest\\n'".into()), T).unwrap();
        assert_eq!(k.expose(), "sk-abc");
    }

    #[test]
    fn a_failing_command_says_why_without_its_output() {
        let e = resolve(
            &KeyRef::Cmd("echo sk-secret; echo 'no such entry' >&2; exit 3".into()),
            T,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("exit status 3") && text.contains("no such entry"),
            "{text}"
        );
        assert!(!text.contains("sk-secret"));
        assert_eq!(
            resolve(&KeyRef::Cmd("true".into()), T).unwrap_err(),
            ResolveError::CmdEmpty
        );
    }

    #[test]
    fn a_slow_command_is_killed_at_the_timeout() {
        let started = Instant::now();
        let e = resolve(
            &KeyRef::Cmd("sleep 30; echo late".into()),
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(e, ResolveError::Timeout(1));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn files_are_trimmed_and_missing_ones_named() {
        let dir = std::env::temp_dir().join(format!("qcc-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("k");
        std::fs::write(&f, "  sk-file\n").unwrap();
        let p = f.to_string_lossy().into_owned();
        assert_eq!(
            resolve(&KeyRef::File(p.clone()), T).unwrap().expose(),
            "sk-file"
        );
        std::fs::write(&f, "\n").unwrap();
        assert!(matches!(
            resolve(&KeyRef::File(p), T),
            Err(ResolveError::FileEmpty(_))
        ));
        let gone = dir.join("gone").to_string_lossy().into_owned();
        let e = resolve(&KeyRef::File(gone), T).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn endpoint(key_ref: &str) -> Endpoint {
        let mut c = crate::state::Config::default();
        c.add_profile("p", None, Default::default(), chrono::Utc::now())
            .unwrap();
        let new = crate::state::model::NewEndpoint {
            name: None,
            url: "http://127.0.0.1:9".into(),
            key: crate::state::model::Credential::Ref(KeyRef::parse(key_ref).unwrap()),
            auth: AuthStyle::ApiKey,
            weight: 100,
            models: Vec::new(),
            kind: Default::default(),
            chat_path: None,
        };
        c.add_endpoint("p", new, || "abc123".into())
            .unwrap()
            .clone()
    }

    #[test]
    fn a_slot_follows_its_file_refuses_what_it_cannot_read_and_keeps_a_working_key() {
        let dir = std::env::temp_dir().join(format!("qcc-slot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("k");
        let e = endpoint(&format!("file:{}", f.display()));
        let registry = crate::upstream::stats::StatsRegistry::default();
        let (_, breaker) = registry.get(&e.id);
        let keys = KeyRegistry::default();
        let slot = keys.slot(&e, breaker.clone()).unwrap();
        let ttl = Duration::from_secs(300);
        // Not read yet: refused. Unreadable: refused with the reason.
        assert!(breaker.key_rejected(slot.fp()));
        slot.read(ttl, T);
        let st = slot.current();
        assert!(st.credential.is_none() && breaker.key_rejected(st.fp));
        assert!(
            st.error.as_deref().unwrap().contains("no such file"),
            "{st:?}"
        );
        assert!(
            breaker
                .view(st.fp, Instant::now())
                .unavailable
                .unwrap()
                .starts_with("key not available")
        );
        // Readable: a key, no longer refused; the same slot for the same reference.
        std::fs::write(&f, "sk-one").unwrap();
        slot.read(ttl, T);
        let one = slot.fp();
        assert!(slot.current().credential.is_some() && !breaker.key_rejected(one));
        assert!(Arc::ptr_eq(&slot, &keys.slot(&e, breaker.clone()).unwrap()));
        // A routine re-read that fails keeps the working key.
        std::fs::remove_file(&f).unwrap();
        slot.read(ttl, T);
        assert_eq!(slot.fp(), one);
        assert!(slot.current().credential.is_some());
        // Refused by the upstream: the next read is asked for, and gives the new key.
        breaker.failure(
            &crate::upstream::breaker::Failure::Credential("HTTP 401".into()),
            crate::upstream::breaker::BreakerPolicy {
                threshold: 3,
                cooldown: T,
                billing_hold: T,
            },
            one,
            Instant::now(),
        );
        assert!(slot.refused());
        assert!(!slot.refused(), "asked once");
        std::fs::write(&f, "sk-two").unwrap();
        slot.read(ttl, T);
        assert_ne!(slot.fp(), one);
        assert!(!breaker.key_rejected(slot.fp()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unset_variable_is_named() {
        let e = resolve(&KeyRef::Env("QCC_TEST_SURELY_UNSET_VAR".into()), T).unwrap_err();
        assert_eq!(
            e,
            ResolveError::EnvUnset("QCC_TEST_SURELY_UNSET_VAR".into())
        );
    }
}
