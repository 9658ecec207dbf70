//! Tables (comfy-table), one function per view. Plain text cells, so they read the same in
//! a terminal, a pipe or a test.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::report::health::{EndpointHealth, ProbeReport};
use crate::report::status::{EndpointIdentity, EndpointStatus};
use crate::state::health::{ProbeRecord, StateChange};
use crate::ui::views::HealthSettingsView;
use crate::ui::views::QueueItemView;
use crate::ui::views::{EndpointView, PolicyView, ProfileView, RouteView, SwitchView, TierEntry};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    t
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn opt(s: Option<impl ToString>) -> String {
    s.map(|s| s.to_string()).unwrap_or_else(|| "-".into())
}

pub fn profiles(rows: &[ProfileView]) -> Table {
    let mut t = table(&[
        "",
        "PROFILE",
        "TIER",
        "STRATEGY",
        "ENDPOINTS",
        "DESCRIPTION",
    ]);
    for p in rows {
        t.add_row(vec![
            if p.active { "*" } else { "" }.to_owned(),
            p.name.clone(),
            opt(p.tier),
            match (&p.score, p.strategy) {
                (Some(w), crate::state::model::Strategy::Adaptive) => {
                    format!("{} ({w})", p.strategy)
                }
                _ => p.strategy.to_string(),
            },
            format!("{}/{}", p.enabled_endpoints, p.endpoints),
            p.description.clone().unwrap_or_default(),
        ]);
    }
    t
}

pub fn endpoints(rows: &[EndpointView], with_profile: bool) -> Table {
    let mut header = vec!["ID"];
    if with_profile {
        header.push("PROFILE");
    }
    header.extend(["NAME", "URL", "KEY", "AUTH", "WEIGHT", "ENABLED"]);
    // The kind only once some endpoint is not an Anthropic one.
    let with_kind = rows
        .iter()
        .any(|e| e.kind != crate::state::model::EndpointKind::Anthropic);
    if with_kind {
        header.push("KIND");
    }
    let with_models = rows.iter().any(|e| !e.models.is_empty());
    if with_models {
        header.push("MODELS");
    }
    // Limits only once some endpoint has one.
    let with_limits = rows.iter().any(|e| !e.limits.is_empty());
    if with_limits {
        header.push("LIMITS");
    }
    let mut t = table(&header);
    for e in rows {
        let mut row = vec![e.id.clone()];
        if with_profile {
            row.push(e.profile.clone());
        }
        row.extend([
            opt(e.name.as_deref()),
            e.url.clone(),
            e.key.clone(),
            e.auth.to_string(),
            e.weight.to_string(),
            yes_no(e.enabled).to_owned(),
        ]);
        if with_kind {
            row.push(match &e.chat_path {
                Some(path) => format!("{}\n{path}", e.kind),
                None => e.kind.to_string(),
            });
        }
        if with_models {
            row.push(e.models.join("\n"));
        }
        if with_limits {
            row.push(if e.limits.is_empty() {
                "-".to_owned()
            } else {
                e.limits.summary()
            });
        }
        t.add_row(row);
    }
    t
}

pub fn tiers(rows: &[TierEntry]) -> Table {
    let mut t = table(&["", "TIER", "#", "PROFILE", "ENABLED ENDPOINTS"]);
    for r in rows {
        t.add_row(vec![
            if r.active { "*" } else { "" }.to_owned(),
            r.tier
                .map(|t| t.to_string())
                .unwrap_or_else(|| "(none)".into()),
            opt(r.position),
            r.profile.clone(),
            r.enabled_endpoints.to_string(),
        ]);
    }
    t
}

pub fn routes(rows: &[RouteView]) -> Table {
    let mut t = table(&["#", "MODEL", "PROFILE", "ENABLED ENDPOINTS"]);
    for r in rows {
        t.add_row(vec![
            r.position.to_string(),
            r.model.clone(),
            r.profile.clone(),
            r.enabled_endpoints.to_string(),
        ]);
    }
    t
}

pub fn policy(p: &PolicyView) -> Table {
    let mut t = table(&["SETTING", "VALUE"]);
    let on_off = |b: bool| if b { "on" } else { "off" }.to_owned();
    t.add_row(vec!["auto-failover".to_owned(), on_off(p.auto_failover)]);
    t.add_row(vec!["auto-recovery".to_owned(), on_off(p.auto_recovery)]);
    t.add_row(vec![
        "failure-threshold".to_owned(),
        format!("{} consecutive failures", p.failure_threshold),
    ]);
    t.add_row(vec![
        "cooldown".to_owned(),
        format!(
            "{} s (doubles on repeated trips, max 600 s)",
            p.cooldown_secs
        ),
    ]);
    t.add_row(vec![
        "recovery-hold".to_owned(),
        format!("{} s", p.recovery_hold_secs),
    ]);
    t.add_row(vec![
        "billing-hold".to_owned(),
        format!(
            "{} s (unless the answer names its day or month)",
            p.billing_hold_secs
        ),
    ]);
    t
}

pub fn history(rows: &[SwitchView]) -> Table {
    let mut t = table(&["TIME (UTC)", "KIND", "FROM", "TO", "REASON"]);
    for r in rows {
        t.add_row(vec![
            r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.kind.to_string(),
            opt(r.from.as_deref()),
            r.to.clone(),
            r.reason.clone(),
        ]);
    }
    t
}

/// `1h 02m`, `3m 05s`, `42s`.
pub fn duration(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

pub fn proxy_endpoints(rows: &[EndpointStatus]) -> Table {
    let mut header = vec![
        "ID",
        "PROFILE",
        "NAME",
        "STATE",
        "WEIGHT",
        "IN-FLIGHT",
        "REQUESTS",
        "ERRORS",
        "P50 MS",
        "P95 MS",
        "1ST TOKEN P50/P95",
        "PINNED",
        "TOKENS IN/OUT",
        "WHY UNAVAILABLE / LAST ERROR",
    ];
    // Models only once some endpoint renamed or translated one.
    let with_models = rows.iter().any(|e| e.model_sent.is_some());
    if with_models {
        header.push("MODEL ASKED → SENT");
    }
    let mut t = table(&header);
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    for e in rows {
        let breaker = breaker_state(&e.endpoint);
        let mut note = e
            .endpoint
            .unavailable
            .clone()
            .or_else(|| e.last_error.clone())
            .unwrap_or_else(|| "-".into());
        if note.chars().count() > 70 {
            note = note.chars().take(69).collect::<String>() + "…";
        }
        let mut row = vec![
            e.endpoint.id.clone(),
            e.endpoint.profile.clone(),
            e.endpoint.name.clone(),
            breaker,
            weight(e.endpoint.weight, e.endpoint.effective_weight),
            e.in_flight.to_string(),
            e.requests.to_string(),
            e.errors.to_string(),
            ms(e.p50_ms),
            ms(e.p95_ms),
            format!("{}/{}", ms(e.first_byte_p50_ms), ms(e.first_byte_p95_ms)),
            e.pinned.to_string(),
            format!("{}/{}", e.input_tokens, e.output_tokens),
            note,
        ];
        if with_models {
            row.push(match (&e.model_asked, &e.model_sent) {
                (Some(a), Some(s)) if e.kind == "openai" => format!("{a} → {s} (openai)"),
                (Some(a), Some(s)) => format!("{a} → {s}"),
                _ => "-".into(),
            });
        }
        t.add_row(row);
    }
    t
}

pub fn queue_items(rows: &[QueueItemView]) -> Table {
    let mut t = table(&[
        "ID",
        "STATE",
        "QUEUED (UTC)",
        "REQUEST",
        "ATTEMPTS",
        "NEXT TRY",
        "LAST ERROR / RESULT",
    ]);
    for i in rows {
        let next = i
            .next_attempt_at
            .map(|n| n.format("%H:%M:%S").to_string())
            .unwrap_or_else(|| "-".into());
        let result = match (i.response_status, &i.last_error) {
            (Some(s), _) => format!("HTTP {s} via {}", i.endpoint.as_deref().unwrap_or("?")),
            (None, Some(e)) => e.chars().take(60).collect(),
            (None, None) => "-".into(),
        };
        t.add_row(vec![
            i.id.clone(),
            i.state.to_string(),
            i.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            format!(
                "{} {}{}",
                i.method,
                i.path,
                if i.stream { " (stream)" } else { "" }
            ),
            i.attempts.to_string(),
            next,
            result,
        ]);
    }
    t
}

/// `100`, or `100→73` when health adjusts it.
fn weight(configured: u32, effective: u32) -> String {
    if effective == configured || effective == 0 {
        configured.to_string()
    } else {
        format!("{configured}→{effective}")
    }
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
}

fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// Cut a note to `max` characters.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        s.chars().take(max - 1).collect::<String>() + "…"
    } else {
        s.to_owned()
    }
}

/// The state cell: `healthy`, `open (12s left)`, `recovering`, `billing (3540s left)`, …
fn breaker_state(e: &EndpointIdentity) -> String {
    use crate::state::health::EndpointState::{Billing, Limited, Open};
    match (e.state, e.cooldown_left_secs) {
        (Open | Billing, Some(left)) => format!("{} ({left}s left)", e.state),
        (Limited, _) => match e.limited_until {
            Some(t) => {
                let left = (t - chrono::Utc::now()).num_seconds().max(1);
                format!("limited ({left}s left)")
            }
            None => "limited".into(),
        },
        _ => e.state.to_string(),
    }
}

fn pass_fail(passed: bool) -> String {
    if passed { "pass" } else { "FAIL" }.to_owned()
}

/// `qcc health status`: one line per endpoint.
pub fn health_status(rows: &[EndpointHealth]) -> Table {
    let mut t = table(&[
        "ID",
        "PROFILE",
        "NAME",
        "STATE",
        "SUCCESS",
        "P50 MS",
        "FAILS IN A ROW",
        "WEIGHT",
        "LAST PROBE",
    ]);
    for e in rows {
        let success = match e.success_rate {
            Some(r) => format!("{} of {}", percent(Some(r)), e.samples),
            None => "-".into(),
        };
        let probe = e.last_probe.as_ref().map_or_else(
            || "-".to_owned(),
            |p| format!("{} {}", pass_fail(p.passed), p.at.format("%H:%M:%S")),
        );
        t.add_row(vec![
            e.endpoint.id.clone(),
            e.endpoint.profile.clone(),
            e.endpoint.name.clone(),
            breaker_state(&e.endpoint),
            success,
            ms(e.latency_p50_ms),
            e.endpoint.consecutive_failures.to_string(),
            weight(e.endpoint.weight, e.endpoint.effective_weight),
            probe,
        ]);
    }
    t
}

/// `qcc health metrics`: every figure, one line per endpoint.
pub fn health_metrics(rows: &[EndpointHealth]) -> Table {
    let mut t = table(&[
        "ID",
        "NAME",
        "REQUESTS",
        "OK",
        "FAILED",
        "SUCCESS",
        "LATENCY P50/P95 MS",
        "FIRST BYTE P50/P95 MS",
        "STABILITY",
        "LAST ERROR",
    ]);
    for e in rows {
        t.add_row(vec![
            e.endpoint.id.clone(),
            e.endpoint.name.clone(),
            e.requests.to_string(),
            e.successes.to_string(),
            e.failures.to_string(),
            percent(e.success_rate),
            format!("{} / {}", ms(e.latency_p50_ms), ms(e.latency_p95_ms)),
            format!("{} / {}", ms(e.first_byte_p50_ms), ms(e.first_byte_p95_ms)),
            e.stability
                .map_or_else(|| "-".into(), |s| format!("{s:.1}")),
            cut(e.last_error.as_deref().unwrap_or("-"), 50),
        ]);
    }
    t
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(
        || "-".to_owned(),
        |a| a.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// `qcc health metrics <endpoint>`: one endpoint, one figure per line.
pub fn health_metrics_detail(e: &EndpointHealth) -> Table {
    let mut t = table(&["METRIC", "VALUE"]);
    let success = match e.success_rate {
        Some(r) => format!("{} of the last {}", percent(Some(r)), e.samples),
        None => "-".into(),
    };
    let stability = e
        .stability
        .map_or_else(|| "- (too few samples)".into(), |s| format!("{s:.1} / 100"));
    let last_error = match &e.last_error {
        Some(m) => format!("{} ({})", cut(m, 80), when(e.last_error_at)),
        None => "-".into(),
    };
    let last_probe = match &e.last_probe {
        Some(p) => format!(
            "{} — {} ({})",
            pass_fail(p.passed),
            cut(&p.reason, 60),
            when(Some(p.at))
        ),
        None => "-".into(),
    };
    let rows: Vec<(&str, String)> = vec![
        (
            "endpoint",
            format!(
                "{} ({} · {})",
                e.endpoint.id, e.endpoint.profile, e.endpoint.name
            ),
        ),
        ("url", e.endpoint.url.clone()),
        ("state", breaker_state(&e.endpoint)),
        (
            "consecutive failures",
            e.endpoint.consecutive_failures.to_string(),
        ),
        ("requests", e.requests.to_string()),
        (
            "succeeded / failed",
            format!("{} / {}", e.successes, e.failures),
        ),
        ("success rate (recent)", success),
        (
            "latency p50 / p95",
            format!("{} / {} ms", ms(e.latency_p50_ms), ms(e.latency_p95_ms)),
        ),
        (
            "first byte p50 / p95",
            format!(
                "{} / {} ms",
                ms(e.first_byte_p50_ms),
                ms(e.first_byte_p95_ms)
            ),
        ),
        ("stability", stability),
        (
            "weight",
            weight(e.endpoint.weight, e.endpoint.effective_weight),
        ),
        ("last success", when(e.last_success_at)),
        ("last error", last_error),
        ("last probe", last_probe),
        ("probe model", e.probe_model.clone()),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_owned(), v]);
    }
    t
}

/// `qcc health history`: probe results, newest first.
/// One row of `qcc health history`: a probe result or a state change.
#[derive(serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HistoryRow<'a> {
    Probe(&'a ProbeRecord),
    State(&'a StateChange),
}

impl HistoryRow<'_> {
    pub fn at(&self) -> chrono::DateTime<chrono::Utc> {
        match self {
            HistoryRow::Probe(p) => p.at,
            HistoryRow::State(s) => s.at,
        }
    }
}

pub fn health_history(rows: &[HistoryRow]) -> Table {
    let mut t = table(&[
        "TIME (UTC)",
        "EVENT",
        "RESULT",
        "LATENCY MS",
        "FIRST BYTE MS",
        "MODEL",
        "DETAIL",
    ]);
    for row in rows {
        let at = row.at().format("%Y-%m-%d %H:%M:%S").to_string();
        t.add_row(match row {
            HistoryRow::Probe(r) => vec![
                at,
                format!("{} probe", r.source),
                pass_fail(r.passed),
                format!("{:.1}", r.latency_ms),
                ms(r.first_byte_ms),
                r.model.clone().unwrap_or_else(|| "-".into()),
                cut(&r.reason, 70),
            ],
            HistoryRow::State(c) => vec![
                at,
                "state".into(),
                format!("{} → {}", c.from, c.to),
                "-".into(),
                "-".into(),
                "-".into(),
                cut(&c.reason, 70),
            ],
        });
    }
    t
}

/// `qcc health test` / `qcc health check`: one line per probed endpoint.
pub fn probe_results(rows: &[ProbeReport]) -> Table {
    let with_breaker = rows.iter().any(|r| r.breaker.is_some());
    let mut header = vec![
        "ID",
        "PROFILE",
        "NAME",
        "RESULT",
        "LATENCY MS",
        "FIRST BYTE MS",
        "MODEL",
    ];
    if with_breaker {
        header.push("BREAKER");
    }
    header.push("WHY");
    let mut t = table(&header);
    for r in rows {
        let mut row = vec![
            r.id.clone(),
            r.profile.clone(),
            r.name.clone(),
            pass_fail(r.passed),
            format!("{:.1}", r.latency_ms),
            ms(r.first_byte_ms),
            r.model.clone().unwrap_or_else(|| "-".into()),
        ];
        if with_breaker {
            row.push(r.breaker.map_or_else(|| "-".into(), |b| b.to_string()));
        }
        row.push(cut(&r.reason, 70));
        t.add_row(row);
    }
    t
}

/// `qcc health config`.
pub fn health_settings(v: &HealthSettingsView) -> Table {
    let mut t = table(&["SETTING", "VALUE"]);
    let on_off = |b: bool| if b { "on" } else { "off" }.to_owned();
    t.add_row(vec![
        "interval".to_owned(),
        format!(
            "{} s (probes of open / half-open endpoints)",
            v.interval_secs
        ),
    ]);
    t.add_row(vec![
        "probe-all-interval".to_owned(),
        if v.probe_all_interval_secs == 0 {
            "off (healthy endpoints are not probed)".to_owned()
        } else {
            format!("{} s (every endpoint)", v.probe_all_interval_secs)
        },
    ]);
    t.add_row(vec![
        "timeout".to_owned(),
        format!("{} s", v.probe_timeout_secs),
    ]);
    t.add_row(vec!["probe-model".to_owned(), v.probe_model.clone()]);
    for (id, m) in &v.endpoint_probe_models {
        t.add_row(vec![format!("probe-model ({id})"), m.clone()]);
    }
    t.add_row(vec!["weight-adjust".to_owned(), on_off(v.weight_adjust)]);
    t.add_row(vec![
        "min-checks".to_owned(),
        format!("{} samples", v.min_checks),
    ]);
    t.add_row(vec![
        "max-concurrency".to_owned(),
        format!("{} probes at once", v.max_concurrency),
    ]);
    t.add_row(vec![
        "degraded-below".to_owned(),
        if v.degraded_success_rate > 0.0 {
            format!(
                "{:.0}% success (half share below it)",
                v.degraded_success_rate * 100.0
            )
        } else {
            "off".to_owned()
        },
    ]);
    t.add_row(vec![
        "degraded-first-byte".to_owned(),
        if v.degraded_first_byte_ms > 0 {
            format!("{} ms p95 (half share above it)", v.degraded_first_byte_ms)
        } else {
            "off".to_owned()
        },
    ]);
    t
}
