//! The usage accounting on disk: answered requests aggregated per hour × endpoint × model
//! ([`Bucket`]), one file per UTC day (`<usage dir>/YYYY-MM-DD.json`, 0600, written
//! atomically), so that the daemon rewrites only today's small file and old days are
//! dropped by deleting files. Data, file IO and retention only; what is counted and priced
//! is the `usage` module's.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::state::store::{StoreError, write_atomic};

/// The version of the day files this qcc writes.
pub const USAGE_VERSION: u32 = 1;
/// Buckets one day file keeps at most (hours × endpoints × models); past it the smallest
/// of the day are merged into an `other` model bucket of their hour and endpoint.
pub const MAX_BUCKETS_PER_DAY: usize = 5000;

/// Tokens of one or more answers, by kind (never folded together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tokens {
    /// Input tokens neither read from nor written to the cache.
    pub input: u64,
    pub output: u64,
    /// Input tokens written to the cache with the 5-minute lifetime.
    pub cache_write_5m: u64,
    /// Input tokens written to the cache with the 1-hour lifetime.
    pub cache_write_1h: u64,
    /// Input tokens read from the cache.
    pub cache_read: u64,
}

impl Tokens {
    /// Every input token, whatever the cache did with it.
    pub fn all_input(&self) -> u64 {
        self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read
    }

    /// Every token, input and output.
    pub fn total(&self) -> u64 {
        self.all_input() + self.output
    }

    pub fn add(&mut self, o: &Tokens) {
        self.input += o.input;
        self.output += o.output;
        self.cache_write_5m += o.cache_write_5m;
        self.cache_write_1h += o.cache_write_1h;
        self.cache_read += o.cache_read;
    }
}

/// One hour of one endpoint's answers for one (requested, upstream) model pair.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The start of the hour (UTC).
    pub hour: DateTime<Utc>,
    /// The endpoint's id (`-` for requests no endpoint answered).
    pub endpoint: String,
    pub profile: String,
    /// The model the client asked for.
    pub model: String,
    /// The model the endpoint was sent (after its model map).
    pub upstream_model: String,
    pub requests: u64,
    /// Requests answered with an error status, or whose stream failed.
    pub errors: u64,
    /// Upstream attempts, over all the requests.
    pub attempts: u64,
    pub tokens: Tokens,
    /// US dollars, for the requests that had a price.
    pub cost_usd: f64,
    /// Requests with tokens but no price for their model.
    pub unpriced: u64,
}

impl Bucket {
    /// Whether `o` is the same hour, endpoint and models.
    pub fn same_key(&self, o: &Bucket) -> bool {
        self.hour == o.hour
            && self.endpoint == o.endpoint
            && self.model == o.model
            && self.upstream_model == o.upstream_model
            && self.profile == o.profile
    }

    /// Add `o`'s figures (same key).
    pub fn absorb(&mut self, o: &Bucket) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.attempts += o.attempts;
        self.tokens.add(&o.tokens);
        self.cost_usd += o.cost_usd;
        self.unpriced += o.unpriced;
    }
}

/// One UTC day's file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Day {
    pub version: u32,
    pub day: NaiveDate,
    pub buckets: Vec<Bucket>,
}

impl Day {
    pub fn new(day: NaiveDate) -> Self {
        Self {
            version: USAGE_VERSION,
            day,
            buckets: Vec::new(),
        }
    }

    /// Keep at most [`MAX_BUCKETS_PER_DAY`] buckets: the ones with the fewest requests go
    /// into an `other` bucket of their hour and endpoint (the figures stay, the model
    /// names of the rarest go).
    pub fn bound(&mut self) {
        if self.buckets.len() <= MAX_BUCKETS_PER_DAY {
            return;
        }
        self.buckets.sort_by_key(|b| std::cmp::Reverse(b.requests));
        let rest = self.buckets.split_off(MAX_BUCKETS_PER_DAY - 100);
        for mut b in rest {
            b.model = "other".into();
            b.upstream_model = "other".into();
            match self.buckets.iter_mut().find(|x| x.same_key(&b)) {
                Some(x) => x.absorb(&b),
                None => self.buckets.push(b),
            }
        }
    }
}

/// Why the usage files cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum UsageFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usage file qcc reads: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(transparent)]
    Write(#[from] StoreError),
}

fn day_path(dir: &Path, day: NaiveDate) -> PathBuf {
    dir.join(format!("{}.json", day.format("%Y-%m-%d")))
}

/// The day file of `day`, or `None` if there is none.
pub fn read_day(dir: &Path, day: NaiveDate) -> Result<Option<Day>, UsageFileError> {
    let path = day_path(dir, day);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(UsageFileError::Read { path, source }),
    };
    let d: Day = serde_json::from_slice(&bytes).map_err(|e| UsageFileError::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if d.version == 0 || d.version > USAGE_VERSION {
        return Err(UsageFileError::Corrupt {
            path,
            reason: format!("version {} (this qcc reads {USAGE_VERSION})", d.version),
        });
    }
    Ok(Some(d))
}

/// Write `day` atomically (0600), the folder made 0700 if needed.
pub fn write_day(dir: &Path, day: &Day) -> Result<(), UsageFileError> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| UsageFileError::Read {
                path: dir.to_owned(),
                source,
            })?;
    }
    let bytes = serde_json::to_vec(day).expect("json");
    write_atomic(&day_path(dir, day.day), &bytes, 0o600)?;
    Ok(())
}

/// The days that have a file, oldest first.
pub fn days(dir: &Path) -> Vec<NaiveDate> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<NaiveDate> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let stem = name.to_str()?.strip_suffix(".json")?;
            NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()
        })
        .collect();
    out.sort();
    out
}

/// Delete the day files older than `keep_days` before `today`; the days removed.
pub fn prune(dir: &Path, today: NaiveDate, keep_days: u32) -> Vec<NaiveDate> {
    let oldest = today - chrono::Days::new(u64::from(keep_days));
    days(dir)
        .into_iter()
        .filter(|d| *d < oldest)
        .filter(|d| std::fs::remove_file(day_path(dir, *d)).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn bucket(model: &str, requests: u64) -> Bucket {
        Bucket {
            hour: "2026-12-02T10:00:00Z".parse().unwrap(),
            endpoint: "e1".into(),
            profile: "p".into(),
            model: model.into(),
            upstream_model: model.into(),
            requests,
            ..Bucket::default()
        }
    }

    #[test]
    fn days_round_trip_0600_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let usage = dir.path().join("usage");
        let today: NaiveDate = "2026-12-02".parse().unwrap();
        let mut d = Day::new(today);
        d.buckets.push(bucket("m", 3));
        write_day(&usage, &d).unwrap();
        assert_eq!(read_day(&usage, today).unwrap(), Some(d));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&usage), 0o700);
        assert_eq!(mode(&usage.join("2026-12-02.json")), 0o600);
        for old in ["2026-08-01", "2026-11-01"] {
            write_day(&usage, &Day::new(old.parse().unwrap())).unwrap();
        }
        assert_eq!(
            prune(&usage, today, 90),
            ["2026-08-01".parse::<NaiveDate>().unwrap()]
        );
        assert_eq!(days(&usage).len(), 2);
        assert_eq!(
            read_day(&usage, "2026-01-01".parse().unwrap()).unwrap(),
            None
        );
        std::fs::write(usage.join("2026-12-01.json"), b"{not json").unwrap();
        assert!(matches!(
            read_day(&usage, "2026-12-01".parse().unwrap()),
            Err(UsageFileError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_day_is_bounded_without_losing_figures() {
        let mut d = Day::new("2026-12-02".parse().unwrap());
        for i in 0..(MAX_BUCKETS_PER_DAY + 50) {
            d.buckets.push(bucket(&format!("m{i}"), 1 + (i as u64 % 7)));
        }
        let before: u64 = d.buckets.iter().map(|b| b.requests).sum();
        d.bound();
        assert!(d.buckets.len() <= MAX_BUCKETS_PER_DAY);
        assert_eq!(d.buckets.iter().map(|b| b.requests).sum::<u64>(), before);
        assert!(d.buckets.iter().any(|b| b.model == "other"));
    }
}
