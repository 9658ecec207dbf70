//! `qcc usage`: the day files of a period read and grouped (by day, hour, endpoint, profile
//! or model) into rows with error and cache-hit rates, plus a row per day for the chart.
//! Reads files only: the daemon need not run (its last [`super::FLUSH_EVERY`] may be
//! missing).

use std::path::Path;

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};

use crate::report::usage::{UsageReport, UsageRow};
use crate::state::usage::{Bucket, UsageFileError, read_day};

/// How rows are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Day,
    Hour,
    Endpoint,
    Profile,
    Model,
}

impl By {
    pub fn as_str(self) -> &'static str {
        match self {
            By::Day => "day",
            By::Hour => "hour",
            By::Endpoint => "endpoint",
            By::Profile => "profile",
            By::Model => "model",
        }
    }

    fn key(self, b: &Bucket) -> String {
        match self {
            By::Day => b.hour.format("%Y-%m-%d").to_string(),
            By::Hour => b.hour.format("%Y-%m-%dT%H:00Z").to_string(),
            By::Endpoint => b.endpoint.clone(),
            By::Profile => b.profile.clone(),
            By::Model if b.model == b.upstream_model => b.model.clone(),
            By::Model => format!("{} → {}", b.model, b.upstream_model),
        }
    }
}

/// The buckets of the hours in `[from, to)`.
pub fn read(
    dir: &Path,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Bucket>, UsageFileError> {
    let mut out = Vec::new();
    let mut day = from.date_naive();
    while day <= to.date_naive() {
        if let Some(d) = read_day(dir, day)? {
            out.extend(
                d.buckets
                    .into_iter()
                    .filter(|b| b.hour + Duration::hours(1) > from && b.hour < to),
            );
        }
        day = day.succ_opt().expect("a next day");
    }
    Ok(out)
}

fn add(row: &mut UsageRow, b: &Bucket) {
    row.requests += b.requests;
    row.errors += b.errors;
    row.attempts += b.attempts;
    row.tokens.add(&b.tokens);
    row.cost_usd += b.cost_usd;
    row.unpriced_requests += b.unpriced;
}

fn rates(mut row: UsageRow) -> UsageRow {
    if row.requests > 0 {
        row.error_rate = row.errors as f64 / row.requests as f64;
    }
    let input = row.tokens.all_input();
    if input > 0 {
        row.cache_hit_rate = row.tokens.cache_read as f64 / input as f64;
    }
    row
}

/// The report for `[from, to)` grouped `by`: rows by key (time order for days and hours,
/// most costly first otherwise), the total, and every day.
pub fn report(buckets: &[Bucket], by: By, from: DateTime<Utc>, to: DateTime<Utc>) -> UsageReport {
    let mut rows: Vec<UsageRow> = Vec::new();
    let mut total = UsageRow {
        key: "total".into(),
        ..UsageRow::default()
    };
    for b in buckets {
        let key = by.key(b);
        let row = match rows.iter_mut().position(|r| r.key == key) {
            Some(i) => &mut rows[i],
            None => {
                rows.push(UsageRow {
                    key,
                    ..UsageRow::default()
                });
                rows.last_mut().expect("just pushed")
            }
        };
        add(row, b);
        add(&mut total, b);
    }
    let mut rows: Vec<UsageRow> = rows.into_iter().map(rates).collect();
    match by {
        By::Day | By::Hour => rows.sort_by(|a, b| a.key.cmp(&b.key)),
        _ => rows.sort_by(|a, b| {
            b.cost_usd
                .total_cmp(&a.cost_usd)
                .then(b.requests.cmp(&a.requests))
                .then(a.key.cmp(&b.key))
        }),
    }
    let mut days = Vec::new();
    let mut day: NaiveDate = from.date_naive();
    let last = (to - Duration::seconds(1)).date_naive();
    while day <= last {
        let key = day.format("%Y-%m-%d").to_string();
        let mut row = UsageRow {
            key: key.clone(),
            ..UsageRow::default()
        };
        for b in buckets.iter().filter(|b| b.hour.date_naive() == day) {
            add(&mut row, b);
        }
        days.push(rates(row));
        day = day.succ_opt().expect("a next day");
    }
    UsageReport {
        from,
        to,
        by: by.as_str().into(),
        rows,
        total: rates(total),
        days,
    }
}

/// `24h`, `7d`, `30d`, `90m` as a duration.
pub fn parse_since(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    match unit {
        "m" => Some(Duration::minutes(n)),
        "h" => Some(Duration::hours(n)),
        "d" => Some(Duration::days(n)),
        "w" => Some(Duration::weeks(n)),
        _ => None,
    }
}

/// `2026-12-02` (midnight UTC) or an RFC 3339 time.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The start of the hour `t` is in.
pub fn hour_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::usage::{Day, Tokens, write_day};

    fn bucket(hour: &str, endpoint: &str, model: &str, requests: u64, cost: f64) -> Bucket {
        Bucket {
            hour: hour.parse().unwrap(),
            endpoint: endpoint.into(),
            profile: "work".into(),
            model: model.into(),
            upstream_model: model.into(),
            requests,
            errors: 1,
            attempts: requests + 1,
            tokens: Tokens {
                input: 100,
                cache_read: 300,
                output: 10,
                ..Tokens::default()
            },
            cost_usd: cost,
            unpriced: 0,
        }
    }

    #[test]
    fn a_period_is_read_across_days_and_grouped() {
        let dir = tempfile::tempdir().unwrap();
        let mut d1 = Day::new("2026-12-01".parse().unwrap());
        d1.buckets
            .push(bucket("2026-12-01T22:00:00Z", "a", "m1", 4, 1.0));
        d1.buckets
            .push(bucket("2026-12-01T05:00:00Z", "a", "m1", 9, 9.0));
        let mut d2 = Day::new("2026-12-02".parse().unwrap());
        d2.buckets
            .push(bucket("2026-12-02T01:00:00Z", "b", "m2", 2, 3.0));
        write_day(dir.path(), &d1).unwrap();
        write_day(dir.path(), &d2).unwrap();
        let from = parse_time("2026-12-01T12:00:00Z").unwrap();
        let to = parse_time("2026-12-02T12:00:00Z").unwrap();
        let buckets = read(dir.path(), from, to).unwrap();
        assert_eq!(buckets.len(), 2, "05:00 is before the period");
        let r = report(&buckets, By::Endpoint, from, to);
        assert_eq!(r.rows[0].key, "b", "most costly first");
        assert_eq!(r.total.requests, 6);
        assert!((r.total.cache_hit_rate - 0.75).abs() < 1e-9);
        assert!((r.rows[1].error_rate - 0.25).abs() < 1e-9);
        let days: Vec<&str> = r.days.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(days, ["2026-12-01", "2026-12-02"]);
        let by_hour = report(&buckets, By::Hour, from, to);
        assert_eq!(by_hour.rows[0].key, "2026-12-01T22:00Z");
    }

    #[test]
    fn periods_parse() {
        assert_eq!(parse_since("24h"), Some(Duration::hours(24)));
        assert_eq!(parse_since("7d"), Some(Duration::days(7)));
        assert_eq!(parse_since("0d"), None);
        assert_eq!(parse_since("7x"), None);
        assert_eq!(parse_since("d"), None);
        assert!(parse_time("2026-12-02").is_some());
        assert!(parse_time("2026-12-02T10:00:00+01:00").is_some());
        assert!(parse_time("yesterday").is_none());
    }
}
