//! Usage and cost accounting. The proxy reports every answered request — endpoint,
//! profile, the model asked for and the one sent, status, attempts, tokens by kind — into a
//! channel ([`UsageSink`]: a non-blocking send that wakes nobody, nothing else on the
//! request path). The daemon's recorder task ([`Usage::run`]) takes what arrived every
//! [`DRAIN_EVERY`], prices each one ([`prices`]), adds it to the running account
//! ([`ledger`]) and writes today's file every [`FLUSH_EVERY`] when it changed (on the
//! blocking pool), so a crash loses at most that; at a new UTC day the old
//! file is finished and files older than `usage.keep_days` deleted. [`query`] reads the
//! files for `qcc usage` (the daemon need not run).
//!
//! Not here: reading tokens off streams (`sse`), the files' shape (`state::usage`), the
//! user's price rules (`state::prices`).

pub mod ledger;
pub mod prices;
pub mod query;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::Utc;
use std::sync::mpsc;

use crate::report::usage::UsageSummary;
use crate::state::Config;
use crate::state::usage::{Day, Tokens, prune, read_day, write_day};
pub use ledger::{Answered, Ledger};
pub use prices::PriceBook;

/// How often today's file is written when it changed: the most a crash can lose.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// How often the recorder takes what the proxy reported. The proxy's send wakes no task
/// (a wake per request would cost a thread switch per request); figures lag by this much.
pub const DRAIN_EVERY: Duration = Duration::from_millis(200);

impl From<crate::sse::Usage> for Tokens {
    fn from(u: crate::sse::Usage) -> Self {
        Tokens {
            input: u.input,
            output: u.output,
            cache_write_5m: u.cache_write_5m,
            cache_write_1h: u.cache_write_1h,
            cache_read: u.cache_read,
        }
    }
}

/// What goes to the recorder.
#[derive(Debug)]
enum Msg {
    /// An answer as the request path saw it: nothing parsed or copied yet.
    Report(Report),
    /// Write everything counted so far, then say so.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Where the proxy reports answered requests. Cloning is cheap; a send never blocks and
/// wakes no one.
#[derive(Clone, Debug)]
pub struct UsageSink {
    tx: mpsc::Sender<Msg>,
}

/// An answer's tokens as its end knows them: counted already (a stream's), or the whole
/// answer's last chunks, read by the recorder.
#[derive(Clone, Debug)]
pub enum Reported {
    Tokens(Tokens),
    Whole(crate::sse::WholeUsage),
}

impl Reported {
    /// The tokens (a whole answer's read now).
    pub fn tokens(&self) -> Tokens {
        match self {
            Reported::Tokens(t) => *t,
            Reported::Whole(w) => w.usage().into(),
        }
    }
}

/// One answer as the request path reports it: shared names, the model as the body spells
/// it (a slice of the request, no copy), the tokens unread.
#[derive(Debug)]
struct Report {
    endpoint: Arc<str>,
    profile: Arc<str>,
    model: bytes::Bytes,
    upstream_model: Option<String>,
    status: u16,
    attempts: u32,
    cut: bool,
    usage: Reported,
}

impl Report {
    fn answered(self) -> Answered {
        let model = String::from_utf8_lossy(&self.model).into_owned();
        Answered {
            endpoint: self.endpoint.to_string(),
            profile: self.profile.to_string(),
            upstream_model: self.upstream_model.unwrap_or_else(|| model.clone()),
            model,
            status: self.status,
            attempts: self.attempts,
            failed: self.cut || self.status >= 400,
            cut: self.cut,
            tokens: self.usage.tokens(),
        }
    }
}

/// What an answer's end needs to report it: everything but the endpoint (known where the
/// answer ends) and the tokens (read from its body). Nothing in it is copied from the
/// request: the model is a slice of the body, the names are shared.
#[derive(Clone, Debug)]
pub struct Tally {
    pub sink: UsageSink,
    /// The model asked for, as the body spells it.
    pub model: bytes::Bytes,
    /// The model sent, when a model map renamed it.
    pub upstream_model: Option<String>,
    pub status: u16,
    pub attempts: u32,
}

impl Tally {
    /// Report the answer of `endpoint` (in `profile`); `cut`: it failed after it started.
    pub fn close(self, endpoint: &Arc<str>, profile: &Arc<str>, usage: Reported, cut: bool) {
        let _ = self.sink.tx.send(Msg::Report(Report {
            endpoint: endpoint.clone(),
            profile: profile.clone(),
            model: self.model,
            upstream_model: self.upstream_model,
            status: self.status,
            attempts: self.attempts,
            cut,
            usage,
        }));
    }
}

/// The accounting: the sink's other end, the running account and the prices in force.
pub struct Usage {
    sink: UsageSink,
    rx: Mutex<Option<mpsc::Receiver<Msg>>>,
    ledger: Mutex<Ledger>,
    prices: ArcSwap<PriceBook>,
    keep_days: std::sync::atomic::AtomicU32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Usage {
    /// The accounting of `config`, carried on from the files in `dir` (today's figures and
    /// the last week's totals); unreadable files are logged and started afresh.
    pub fn new(config: &Config, dir: Option<&Path>) -> Self {
        let now = Utc::now();
        let (today, past) = match dir {
            Some(dir) => load(dir, now.date_naive()),
            None => (None, Vec::new()),
        };
        let (tx, rx) = mpsc::channel();
        Self {
            sink: UsageSink { tx },
            rx: Mutex::new(Some(rx)),
            ledger: Mutex::new(Ledger::new(today, past, now)),
            prices: ArcSwap::from_pointee(PriceBook::default()),
            keep_days: config.usage.keep_days.into(),
        }
    }

    pub fn sink(&self) -> UsageSink {
        self.sink.clone()
    }

    /// A (re)loaded config: its prices — the routing snapshot's book, shared, for requests
    /// from now on — and its retention.
    pub fn apply(&self, config: &Config, prices: Arc<PriceBook>) {
        self.prices.store(prices);
        self.keep_days
            .store(config.usage.keep_days, std::sync::atomic::Ordering::Relaxed);
    }

    /// Today's figures and the chart series.
    pub fn summary(&self) -> UsageSummary {
        lock(&self.ledger).summary(Utc::now())
    }

    /// Price and count one answered request now.
    pub fn count(&self, a: &Answered) -> Option<f64> {
        let cost = self
            .prices
            .load()
            .cost(&a.endpoint, &a.upstream_model, &a.tokens);
        lock(&self.ledger).add(a, cost, Utc::now());
        cost
    }

    /// The recorder: counts what the proxy reports, writes `dir` every [`FLUSH_EVERY`]
    /// when something changed, rolls over at midnight (UTC). `on_count` sees each request
    /// and its cost (the metrics). Runs until the sink's senders are all gone.
    pub async fn run(
        self: Arc<Self>,
        dir: PathBuf,
        on_count: impl Fn(&Answered, Option<f64>) + Send + 'static,
    ) {
        let Some(rx) = lock(&self.rx).take() else {
            return;
        };
        let mut drain = tokio::time::interval(DRAIN_EVERY);
        drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_flush = tokio::time::Instant::now();
        let mut pruned = None;
        loop {
            drain.tick().await;
            loop {
                match rx.try_recv() {
                    Ok(Msg::Report(r)) => {
                        let a = r.answered();
                        let cost = self.count(&a);
                        on_count(&a, cost);
                    }
                    Ok(Msg::Flush(done)) => {
                        self.flush(&dir).await;
                        let _ = done.send(());
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            }
            if last_flush.elapsed() < FLUSH_EVERY {
                continue;
            }
            last_flush = tokio::time::Instant::now();
            let today = Utc::now().date_naive();
            if pruned != Some(today) {
                pruned = Some(today);
                let keep = self.keep_days.load(std::sync::atomic::Ordering::Relaxed);
                let d = dir.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let gone = prune(&d, today, keep);
                    if !gone.is_empty() {
                        tracing::info!(
                            "usage: removed the figures of {} day(s) past usage.keep_days",
                            gone.len()
                        );
                    }
                })
                .await;
            }
            self.flush(&dir).await;
        }
    }

    /// Write what changed (a finished day first, then today's), on the blocking pool.
    pub async fn flush(&self, dir: &Path) {
        let (done, today) = {
            let mut l = lock(&self.ledger);
            let done = l.roll(Utc::now());
            (done, l.take_changes())
        };
        for day in [done, today].into_iter().flatten() {
            let d = dir.to_owned();
            match tokio::task::spawn_blocking(move || write_day(&d, &day)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("usage figures not written: {e}"),
                Err(e) => tracing::warn!("usage writer failed: {e}"),
            }
        }
    }

    /// At shutdown: everything reported so far counted and written (by the recorder, in
    /// order; directly when no recorder runs), within `limit`.
    pub async fn save(&self, dir: &Path, limit: Duration) {
        let running = lock(&self.rx).is_none();
        if !running {
            self.flush(dir).await;
            return;
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.sink.tx.send(Msg::Flush(done)).is_ok() {
            let _ = tokio::time::timeout(limit, wait).await;
        }
    }
}

/// Each endpoint's spend (USD) today and this month so far, summed from the day files of
/// this UTC month (so that a month's budget survives restarts). Unreadable files count 0.
pub fn spend_by_endpoint(
    dir: &Path,
    today: chrono::NaiveDate,
) -> std::collections::HashMap<String, (f64, f64)> {
    use chrono::Datelike;
    let mut out: std::collections::HashMap<String, (f64, f64)> = Default::default();
    let month = (today.year(), today.month());
    for d in crate::state::usage::days(dir)
        .into_iter()
        .filter(|d| (d.year(), d.month()) == month && *d <= today)
    {
        let Ok(Some(day)) = read_day(dir, d) else {
            continue;
        };
        for b in day.buckets.iter().filter(|b| b.endpoint != "-") {
            let e = out.entry(b.endpoint.clone()).or_default();
            if d == today {
                e.0 += b.cost_usd;
            }
            e.1 += b.cost_usd;
        }
    }
    out
}

/// Today's file and the files of the 6 days before, as far as they read.
fn load(dir: &Path, today: chrono::NaiveDate) -> (Option<Day>, Vec<Day>) {
    let read = |d| match read_day(dir, d) {
        Ok(day) => day,
        Err(e) => {
            tracing::warn!("usage: {e}; that day starts afresh");
            None
        }
    };
    let past = (1..7)
        .filter_map(|back| read(today - chrono::Days::new(back)))
        .collect();
    (read(today), past)
}
