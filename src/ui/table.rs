//! Tables (comfy-table), one function per view. Plain text cells, so they read the same in
//! a terminal, a pipe or a test.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::ipc::protocol::EndpointStatus;
use crate::ui::views::QueueItemView;
use crate::ui::views::{EndpointView, PolicyView, ProfileView, SwitchView, TierEntry};

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
            p.strategy.to_string(),
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
    let mut t = table(&[
        "ID",
        "PROFILE",
        "NAME",
        "BREAKER",
        "IN-FLIGHT",
        "REQUESTS",
        "ERRORS",
        "P50 MS",
        "P95 MS",
        "PINNED",
        "TOKENS IN/OUT",
        "WHY UNAVAILABLE / LAST ERROR",
    ]);
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    for e in rows {
        let breaker = match (e.enabled, e.cooldown_left_secs) {
            (false, _) => "disabled".to_owned(),
            (true, Some(s)) => format!("{} ({s}s left)", e.breaker),
            (true, None) => e.breaker.clone(),
        };
        let mut note = e
            .unavailable
            .clone()
            .or_else(|| e.last_error.clone())
            .unwrap_or_else(|| "-".into());
        if note.chars().count() > 70 {
            note = note.chars().take(69).collect::<String>() + "…";
        }
        t.add_row(vec![
            e.id.clone(),
            e.profile.clone(),
            e.name.clone(),
            breaker,
            e.in_flight.to_string(),
            e.requests.to_string(),
            e.errors.to_string(),
            ms(e.p50_ms),
            ms(e.p95_ms),
            e.pinned.to_string(),
            format!("{}/{}", e.input_tokens, e.output_tokens),
            note,
        ]);
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
