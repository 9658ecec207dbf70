//! The daemon's running account: every answered request ([`Answered`]) added to today's
//! hourly buckets (hour × endpoint × profile × model pair), a point a minute for the last
//! hour, and the last days' totals — what `/_qcc/usage` and the status page show, and what
//! is written to today's file. Pure: the clock is passed in, files are the recorder's.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};

use crate::report::usage::{EndpointUsage, SeriesPoint, UsageSummary};
use crate::state::usage::{Bucket, Day, Tokens};

/// One answered request, as the proxy reports it (off the request path: through a channel).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answered {
    /// The endpoint that answered (`-` when none did).
    pub endpoint: String,
    pub profile: String,
    /// The model the client asked for.
    pub model: String,
    /// The model the endpoint was sent.
    pub upstream_model: String,
    pub status: u16,
    pub attempts: u32,
    /// An error status, or a stream that failed after it started.
    pub failed: bool,
    /// The answer started (status and headers, or a stream's first event) and then failed.
    pub cut: bool,
    pub tokens: Tokens,
}

/// Minutes the last-hour series keeps.
const MINUTES: usize = 60;
/// Days the last-week series shows (today included).
const WEEK: usize = 7;

/// The running account.
#[derive(Debug)]
pub struct Ledger {
    today: Day,
    /// The index of each hour's first bucket (buckets are added in time order, or come
    /// from today's file).
    hours: HashMap<DateTime<Utc>, usize>,
    minutes: VecDeque<SeriesPoint>,
    /// Totals of the days before today (oldest first), from their files.
    past: Vec<SeriesPoint>,
    dirty: bool,
}

fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// One day's figures as a chart point.
pub fn day_point(day: &Day) -> SeriesPoint {
    let mut p = SeriesPoint {
        at: day_start(day.day),
        ..SeriesPoint::default()
    };
    for b in &day.buckets {
        p.requests += b.requests;
        p.errors += b.errors;
        p.tokens += b.tokens.total();
        p.cost_usd += b.cost_usd;
    }
    p
}

impl Ledger {
    /// Start from today's file (if the daemon ran earlier today) and the last days' files.
    pub fn new(today: Option<Day>, past: Vec<Day>, now: DateTime<Utc>) -> Self {
        let day = now.date_naive();
        let today = today
            .filter(|d| d.day == day)
            .unwrap_or_else(|| Day::new(day));
        let mut hours = HashMap::new();
        for (i, b) in today.buckets.iter().enumerate() {
            hours.entry(b.hour).or_insert(i);
        }
        let mut past: Vec<SeriesPoint> =
            past.iter().filter(|d| d.day < day).map(day_point).collect();
        past.sort_by_key(|p| p.at);
        Self {
            today,
            hours,
            minutes: VecDeque::new(),
            past,
            dirty: false,
        }
    }

    /// Where the buckets of `hour` begin (the end when it has none yet). A file read back
    /// may hold an hour's buckets apart: then from the earliest one.
    fn hour_start(&self, hour: DateTime<Utc>) -> usize {
        self.hours
            .get(&hour)
            .copied()
            .unwrap_or(self.today.buckets.len())
    }

    /// Count one answered request at `now`, costing `cost` (`None`: no price).
    pub fn add(&mut self, a: &Answered, cost: Option<f64>, now: DateTime<Utc>) {
        let hour = hour_of(now);
        // The hour's buckets are few (endpoints × models): a scan from the hour's first,
        // comparing in place, allocates nothing for a known key.
        let from = self.hour_start(hour);
        let found = self.today.buckets[from..].iter().position(|b| {
            b.hour == hour
                && b.endpoint == a.endpoint
                && b.model == a.model
                && b.upstream_model == a.upstream_model
                && b.profile == a.profile
        });
        let i = match found.map(|i| i + from) {
            Some(i) => i,
            None => {
                self.today.buckets.push(Bucket {
                    hour,
                    endpoint: a.endpoint.clone(),
                    profile: a.profile.clone(),
                    model: a.model.clone(),
                    upstream_model: a.upstream_model.clone(),
                    ..Bucket::default()
                });
                let i = self.today.buckets.len() - 1;
                self.hours.entry(hour).or_insert(i);
                i
            }
        };
        let b = &mut self.today.buckets[i];
        b.requests += 1;
        b.errors += u64::from(a.failed);
        b.attempts += u64::from(a.attempts);
        b.tokens.add(&a.tokens);
        match cost {
            Some(c) => b.cost_usd += c,
            None if a.tokens.total() > 0 => b.unpriced += 1,
            None => {}
        }
        let minute = minute_of(now);
        if self.minutes.back().is_none_or(|p| p.at != minute) {
            self.minutes.push_back(SeriesPoint {
                at: minute,
                ..SeriesPoint::default()
            });
        }
        let p = self.minutes.back_mut().expect("just pushed");
        p.requests += 1;
        p.errors += u64::from(a.failed);
        p.tokens += a.tokens.total();
        p.cost_usd += cost.unwrap_or(0.0);
        let oldest = minute - Duration::minutes(MINUTES as i64 - 1);
        while self.minutes.front().is_some_and(|p| p.at < oldest) {
            self.minutes.pop_front();
        }
        self.dirty = true;
    }

    /// A new UTC day began: the finished day (to write one last time) goes to the past.
    pub fn roll(&mut self, now: DateTime<Utc>) -> Option<Day> {
        let day = now.date_naive();
        if self.today.day == day {
            return None;
        }
        let done = std::mem::replace(&mut self.today, Day::new(day));
        self.hours.clear();
        self.past.push(day_point(&done));
        let keep = self.past.len().saturating_sub(WEEK - 1);
        self.past.drain(..keep);
        self.dirty = false;
        Some(done)
    }

    /// Today's file as it stands, if anything changed since the last call.
    pub fn take_changes(&mut self) -> Option<Day> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        let mut day = self.today.clone();
        day.bound();
        Some(day)
    }

    /// Today's figures per endpoint, the last hour a minute at a time (empty minutes
    /// included) and the last 7 days.
    pub fn summary(&self, now: DateTime<Utc>) -> UsageSummary {
        let mut today: Vec<EndpointUsage> = Vec::new();
        for b in &self.today.buckets {
            let e = match today.iter_mut().find(|e| e.endpoint == b.endpoint) {
                Some(e) => e,
                None => {
                    today.push(EndpointUsage {
                        endpoint: b.endpoint.clone(),
                        ..EndpointUsage::default()
                    });
                    today.last_mut().expect("just pushed")
                }
            };
            e.requests += b.requests;
            e.errors += b.errors;
            e.tokens.add(&b.tokens);
            e.cost_usd += b.cost_usd;
            e.unpriced_requests += b.unpriced;
        }
        let this_minute = minute_of(now);
        let last_hour = (0..MINUTES)
            .rev()
            .map(|back| {
                let at = this_minute - Duration::minutes(back as i64);
                self.minutes
                    .iter()
                    .find(|p| p.at == at)
                    .cloned()
                    .unwrap_or(SeriesPoint {
                        at,
                        ..SeriesPoint::default()
                    })
            })
            .collect();
        let today_day = now.date_naive();
        let last_week = (0..WEEK)
            .rev()
            .map(|back| {
                let d = today_day - chrono::Days::new(back as u64);
                if d == self.today.day {
                    return day_point(&self.today);
                }
                self.past
                    .iter()
                    .find(|p| p.at == day_start(d))
                    .cloned()
                    .unwrap_or(SeriesPoint {
                        at: day_start(d),
                        ..SeriesPoint::default()
                    })
            })
            .collect();
        UsageSummary {
            today,
            last_hour,
            last_week,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn answered(endpoint: &str, model: &str, failed: bool, output: u64) -> Answered {
        Answered {
            endpoint: endpoint.into(),
            profile: "work".into(),
            model: model.into(),
            upstream_model: model.into(),
            status: if failed { 529 } else { 200 },
            attempts: 1,
            failed,
            cut: false,
            tokens: Tokens {
                input: 10,
                output,
                cache_read: 5,
                ..Tokens::default()
            },
        }
    }

    #[test]
    fn requests_are_bucketed_by_hour_endpoint_and_model() {
        let mut l = Ledger::new(None, Vec::new(), at("2026-12-02T10:00:00Z"));
        l.add(
            &answered("a", "m1", false, 7),
            Some(0.5),
            at("2026-12-02T10:05:00Z"),
        );
        l.add(
            &answered("a", "m1", true, 0),
            None,
            at("2026-12-02T10:06:00Z"),
        );
        l.add(
            &answered("a", "m2", false, 3),
            None,
            at("2026-12-02T10:07:00Z"),
        );
        l.add(
            &answered("b", "m1", false, 1),
            Some(0.25),
            at("2026-12-02T11:01:00Z"),
        );
        let day = l.take_changes().unwrap();
        assert_eq!(day.buckets.len(), 3);
        let first = &day.buckets[0];
        assert_eq!(
            (first.requests, first.errors, first.tokens.output),
            (2, 1, 7)
        );
        assert_eq!(first.tokens.cache_read, 10, "the kinds stay apart");
        assert_eq!(
            day.buckets[1].unpriced, 1,
            "tokens without a price are said so"
        );
        assert!(l.take_changes().is_none(), "nothing new");
        let s = l.summary(at("2026-12-02T11:02:00Z"));
        let a = s.today.iter().find(|e| e.endpoint == "a").unwrap();
        assert_eq!((a.requests, a.errors, a.unpriced_requests), (3, 1, 2));
        assert!((a.cost_usd - 0.5).abs() < 1e-9);
        assert_eq!(s.last_hour.len(), 60);
        assert_eq!(s.last_hour.last().unwrap().requests, 0);
        assert_eq!(s.last_hour[58].requests, 1, "11:01");
        assert_eq!(s.last_week.len(), 7);
        assert_eq!(s.last_week[6].requests, 4);
    }

    #[test]
    fn a_new_day_rolls_over_and_yesterday_stays_in_the_week() {
        let mut yesterday = Day::new("2026-12-01".parse().unwrap());
        yesterday.buckets.push(Bucket {
            requests: 9,
            cost_usd: 1.5,
            ..Bucket::default()
        });
        let mut l = Ledger::new(None, vec![yesterday], at("2026-12-02T23:59:00Z"));
        l.add(
            &answered("a", "m", false, 1),
            Some(0.1),
            at("2026-12-02T23:59:30Z"),
        );
        assert!(l.roll(at("2026-12-02T23:59:59Z")).is_none());
        let done = l.roll(at("2026-12-03T00:00:01Z")).unwrap();
        assert_eq!(done.day, "2026-12-02".parse::<NaiveDate>().unwrap());
        let s = l.summary(at("2026-12-03T00:00:02Z"));
        let week: Vec<u64> = s.last_week.iter().map(|p| p.requests).collect();
        assert_eq!(week, [0, 0, 0, 0, 9, 1, 0]);
        // Today's file, continued after a restart.
        let again = Ledger::new(Some(done.clone()), Vec::new(), at("2026-12-02T23:59:50Z"));
        assert_eq!(
            again.summary(at("2026-12-02T23:59:50Z")).today[0].requests,
            1
        );
    }
}
