//! `qcc usage` on a terminal: the table of rows (requests, error rate, each token kind,
//! cache hit rate, cost) and a bar chart of cost or tokens per day — plain text, aligned,
//! the same in a pipe.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::report::usage::{UsageReport, UsageRow};

/// Thousands apart: `1 234 567`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Dollars with cents, or more digits under a cent.
pub fn dollars(usd: f64) -> String {
    if usd > 0.0 && usd < 0.01 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

fn percent(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

fn cost_cell(r: &UsageRow) -> String {
    match (r.cost_usd, r.unpriced_requests) {
        (c, 0) => dollars(c),
        (0.0, n) => format!("no price ({n})"),
        (c, n) => format!("{} + {n} no price", dollars(c)),
    }
}

/// The rows and the total.
pub fn rows(report: &UsageReport) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header([
            report.by.to_uppercase().as_str(),
            "REQUESTS",
            "ERRORS",
            "INPUT",
            "OUTPUT",
            "CACHE WRITE",
            "CACHE READ",
            "CACHE HIT",
            "COST",
        ]);
    for r in report.rows.iter().chain(std::iter::once(&report.total)) {
        let key = match &r.name {
            Some(n) => format!("{} ({n})", r.key),
            None => r.key.clone(),
        };
        t.add_row([
            key,
            count(r.requests),
            format!("{} ({})", count(r.errors), percent(r.error_rate)),
            count(r.tokens.input),
            count(r.tokens.output),
            count(r.tokens.cache_write_5m + r.tokens.cache_write_1h),
            count(r.tokens.cache_read),
            percent(r.cache_hit_rate),
            cost_cell(r),
        ]);
    }
    for i in 1..9 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// What the chart shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Chart {
    Cost,
    Tokens,
}

/// One line per day: `2026-12-02 │████████▌     $1.23`, the longest bar `width` wide.
pub fn chart(days: &[UsageRow], what: Chart, width: usize) -> String {
    let value = |r: &UsageRow| match what {
        Chart::Cost => r.cost_usd,
        Chart::Tokens => r.tokens.total() as f64,
    };
    let label = |r: &UsageRow| match what {
        Chart::Cost => dollars(r.cost_usd),
        Chart::Tokens => count(r.tokens.total()),
    };
    let max = days.iter().map(value).fold(0.0_f64, f64::max);
    let labels: Vec<String> = days.iter().map(label).collect();
    let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (r, l) in days.iter().zip(&labels) {
        let eighths = if max > 0.0 {
            (value(r) / max * (width * 8) as f64).round() as usize
        } else {
            0
        };
        let mut bar = "█".repeat(eighths / 8);
        const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
        bar.push_str(PARTS[eighths % 8]);
        let pad = width + 1 - bar.chars().count();
        out.push_str(&format!(
            "{} │{bar}{} {l:>label_width$}\n",
            r.key,
            " ".repeat(pad)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1 234 567");
        assert_eq!(dollars(1.5), "$1.50");
        assert_eq!(dollars(0.0042), "$0.0042");
    }

    #[test]
    fn bars_scale_to_the_largest_day_and_align() {
        let day = |key: &str, cost: f64| UsageRow {
            key: key.into(),
            cost_usd: cost,
            ..UsageRow::default()
        };
        let c = chart(
            &[
                day("2026-12-01", 2.0),
                day("2026-12-02", 1.0),
                day("2026-12-03", 0.0),
            ],
            Chart::Cost,
            10,
        );
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines[0], "2026-12-01 │██████████  $2.00");
        assert_eq!(lines[1], "2026-12-02 │█████       $1.00");
        assert_eq!(lines[2], "2026-12-03 │            $0.00");
    }
}
