//! The report's HTML: the four questions at a glance (the backlog over
//! time, failure types by domain, breaker trips, SLA breach ages), then
//! activity, the status mix, replays and the journal's health, then the
//! entries that waited longest with their audit trails. One file, its
//! style inline, no script.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use baldur_journal::projection::timeline::{DAY_NS, DayRow, status_slot_names};

use super::svg::{
    self, BarChart, Bars, HeatMap, NARROW, Series, State, TimelineRow, Timelines, WIDE, escape,
    number, short_time,
};
use super::{CHART_DAYS_MAX, LONGEST_WAITING, Report, SLA_NS, TRAIL_ENTRIES_MAX};
use crate::output::{human_bytes, human_duration, time_to_second};
use crate::stats::AsOf;

/// Breakers drawn at most: those that tripped most.
const BREAKER_ROWS_MAX: usize = 24;
/// Domains the SLA chart names; the rest are one series.
const SLA_DOMAINS_MAX: usize = 9;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#222;margin:0 auto;max-width:1320px;padding:16px 24px;background:#fff}
h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:0 0 2px}h3{font-size:15px;margin:14px 0 4px}
p.note{margin:0 0 6px;color:#555;font-size:13px}
.meta{color:#444;font-size:13px;margin-bottom:10px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0 14px}
.card{border:1px solid #ccc;border-radius:6px;padding:6px 12px;min-width:130px}
.card b{display:block;font-size:22px}.card span{font-size:12px;color:#555}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px 20px}
section{border-top:1px solid #ddd;padding-top:8px;margin-top:10px;break-inside:avoid}
svg.chart{width:100%;height:auto;display:block}
svg text{font-size:12px;fill:#222}
svg .tick{font-size:11px}svg .axis-title{font-size:12px;font-weight:600}
svg .grid{stroke:#e3e3e3;stroke-width:1}svg .axis{stroke:#444;stroke-width:1}
svg .cell{font-size:11px}svg .cell.dark{fill:#fff}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0 10px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.n{text-align:right}
code{font-size:12px;word-break:break-all}
.bad{color:#b00020;font-weight:600}.good{color:#1a7f37;font-weight:600}
@media (max-width:1100px){.grid2{grid-template-columns:1fr}}
@media print{body{max-width:none;padding:0}.grid2{grid-template-columns:1fr}a{color:inherit}}
";

/// A colour per status slot (the ten statuses, then `other`).
const STATUS_COLORS: [&str; 11] = [
    "#fd8d3c", // pending
    "#fdd0a2", // replaying
    "#9e9ac8", // reviewing
    "#c7e9c0", // replayed
    "#d62728", // requires_review
    "#31a354", // resolved
    "#636363", // rejected
    "#bdbdbd", // archived
    "#8c6d31", // expired
    "#7b4173", // permanently_failed
    "#17becf", // other
];

/// The slots of the open statuses, the backlog, bottom first.
const BACKLOG_SLOTS: [usize; 5] = [4, 0, 2, 1, 3];

/// Colours for domains and the like, told apart in print too.
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// The breakers' states, in rising severity.
const BREAKER_STATES: [State; 3] = [
    State {
        name: "closed",
        color: "#a1d99b",
    },
    State {
        name: "half_open",
        color: "#fdae6b",
    },
    State {
        name: "open",
        color: "#d62728",
    },
];

/// The SLA chart's age buckets: a label and the lower bound in hours.
const AGE_BUCKETS: [(&str, i64); 7] = [
    ("4-8 h", 4),
    ("8-24 h", 8),
    ("1-2 d", 24),
    ("2-7 d", 48),
    ("7-14 d", 168),
    ("14-30 d", 336),
    ("> 30 d", 720),
];

/// `MM-DD` of a day.
fn day_label(day: &DayRow) -> String {
    let text = day.start.to_string();
    text.get(5..10).unwrap_or(&text).to_string()
}

/// An element id for an entry's audit trail: the id's letters, digits,
/// `-` and `_` kept, any other byte as `.XX`.
pub fn trail_anchor(id: &str) -> String {
    let mut anchor = String::from("trail-");
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            anchor.push(byte as char);
        } else {
            let _ = write!(anchor, ".{byte:02x}");
        }
    }
    anchor
}

/// A duration in the largest whole unit that fits: `3 d 4 h`, `5 h 10 min`.
fn age(nanos: i64) -> String {
    let minutes = nanos.max(0) / 60_000_000_000;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else {
        format!("{minutes} min")
    }
}

fn section(out: &mut String, id: &str, title: &str, note: &str, body: &str) {
    let _ = write!(
        out,
        r#"<section id="{id}"><h2>{}</h2><p class="note">{}</p>{body}</section>"#,
        escape(title),
        escape(note)
    );
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(1 << 20);
    let source = escape(&report.settings.source);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>DLQ report: {source}</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(out, "<h1>DLQ report: {source}</h1>");
    write_meta(&mut out, report);
    write_cards(&mut out, report);

    out.push_str(r#"<div class="grid2">"#);
    section(
        &mut out,
        "backlog",
        "Backlog: open entries at each day's end",
        "Entries waiting (pending, replaying, reviewing, replayed, requires_review) at the end of each UTC day, stacked by status.",
        &backlog_chart(report),
    );
    section(
        &mut out,
        "failure-types",
        "Failure type by domain",
        "Entries (not purged) created in the window, by domain and failure type; darker is more.",
        &heat_map(report),
    );
    section(
        &mut out,
        "breakers",
        "Circuit breakers: state over time",
        "Each breaker's state from its events; a red band is a trip (open). Label: trips in the window.",
        &breaker_chart(report),
    );
    section(
        &mut out,
        "sla",
        "SLA breaches by age",
        &format!(
            "Entries still waiting (pending, reviewing, requires_review) longer than the SLA of {} hours at now, by how long, stacked by domain.",
            SLA_NS / 3_600_000_000_000
        ),
        &sla_chart(report),
    );
    out.push_str("</div>");

    section(
        &mut out,
        "activity",
        "DLQ entries per day",
        "Entries created, and entries that moved to resolved, rejected or expired, each UTC day.",
        &activity_chart(report),
    );
    section(
        &mut out,
        "status-mix",
        "Status mix at each day's end",
        "Every entry not purged, by status, at the end of each UTC day (the fold's state as the pass crossed midnight), stacked; open statuses at the bottom.",
        &status_mix_chart(report),
    );
    section(
        &mut out,
        "replays",
        "Replay outcomes per day",
        "Replays that succeeded, failed and went back to pending, or failed at the retry cap (to requires_review).",
        &replay_chart(report),
    );
    let mut health = String::new();
    write_health(&mut health, report);
    section(
        &mut out,
        "health",
        "Journal health",
        "Segments and their bytes; the head is the value to record elsewhere (an anchor) and check later with verify --expect-head.",
        &health,
    );
    let mut waiting = String::new();
    write_waiting(&mut waiting, report);
    section(
        &mut out,
        "longest-waiting",
        "Entries waiting longest",
        "Oldest first; each id links to its audit trail below.",
        &waiting,
    );
    let mut trails = String::new();
    write_trails(&mut trails, report);
    section(
        &mut out,
        "trails",
        "Audit trails",
        "The trail of each entry above, as `audit ID` shows it: every event, hashes recomputed from the journal's stored content.",
        &trails,
    );
    out.push_str("</body></html>\n");
    out
}

fn write_meta(out: &mut String, report: &Report) {
    let summary = report.timeline.summary;
    let settings = &report.settings;
    let mut parts = vec![format!("now {}", time_to_second(report.now))];
    match settings.as_of {
        Some(AsOf::Sequence(sequence)) => parts.push(format!("as of sequence {sequence}")),
        Some(AsOf::Time(time)) => {
            parts.push(format!("as of {} (appended by then)", time_to_second(time)))
        }
        None => {}
    }
    parts.push(format!(
        "folded up to sequence {} ({} records, {} of other kinds)",
        summary.last_sequence, summary.records, summary.skipped
    ));
    if let Some((first, last)) = report.timeline.event_times {
        parts.push(format!(
            "event times {} .. {}",
            time_to_second(first),
            time_to_second(last)
        ));
    }
    let window = match (settings.since, settings.until) {
        (None, None) => "window: everything".to_string(),
        (since, until) => format!(
            "window: {} .. {}",
            since.map_or("start".into(), time_to_second),
            until.map_or("end".into(), time_to_second)
        ),
    };
    parts.push(window);
    parts.push(format!(
        "{} days charted (UTC; at most {CHART_DAYS_MAX})",
        report.days.len()
    ));
    parts.push(format!(
        "collected in {}",
        human_duration(report.collected_in)
    ));
    if summary.malformed + summary.orphaned > 0 {
        parts.push(format!(
            "{} malformed and {} orphaned DLQ events skipped",
            summary.malformed, summary.orphaned
        ));
    }
    let _ = write!(
        out,
        r#"<div class="meta">{}</div>"#,
        escape(&parts.join(" · "))
    );
}

/// Entries waiting past the SLA now.
fn breaches(
    report: &Report,
) -> impl Iterator<Item = &baldur_journal::projection::timeline::WaitingEntry> {
    let now = report.now.as_unix_nanos();
    report
        .timeline
        .waiting
        .iter()
        .filter(move |entry| now.saturating_sub(entry.created_at.as_unix_nanos()) > SLA_NS)
}

fn window_bounds(report: &Report) -> (i64, i64) {
    match (report.days.first(), report.days.last()) {
        (Some(first), Some(last)) => (
            first.start.as_unix_nanos(),
            last.start.as_unix_nanos().saturating_add(DAY_NS),
        ),
        _ => {
            let now = report.now.as_unix_nanos();
            (now.saturating_sub(DAY_NS), now)
        }
    }
}

/// Trips (changes to open) of a breaker inside the charted window.
fn trips(
    history: &baldur_journal::projection::timeline::BreakerHistory,
    window: (i64, i64),
) -> usize {
    history
        .changes
        .iter()
        .filter(|c| c.state == "open")
        .filter(|c| (window.0..window.1).contains(&c.at.as_unix_nanos()))
        .count()
}

fn write_cards(out: &mut String, report: &Report) {
    let window = window_bounds(report);
    let open_now = report
        .timeline
        .breakers
        .iter()
        .filter(|b| b.changes.last().is_some_and(|c| c.state == "open"))
        .count();
    let trips: usize = report
        .timeline
        .breakers
        .iter()
        .map(|b| trips(b, window))
        .sum();
    let created: u64 = report.days.iter().map(|d| d.created).sum();
    let cards = [
        (
            number(report.timeline.waiting.len() as f64),
            "entries waiting now",
        ),
        (
            number(breaches(report).count() as f64),
            "SLA breaches now (> 4 h)",
        ),
        (number(created as f64), "entries created in the window"),
        (number(trips as f64), "breaker trips in the window"),
        (number(open_now as f64), "breakers open now"),
    ];
    out.push_str(r#"<div class="cards">"#);
    for (value, label) in cards {
        let _ = write!(
            out,
            r#"<div class="card"><b>{value}</b><span>{label}</span></div>"#
        );
    }
    out.push_str("</div>");
}

fn day_labels(report: &Report) -> Vec<String> {
    report.days.iter().map(day_label).collect()
}

fn backlog_chart(report: &Report) -> String {
    let names = status_slot_names();
    let mut slots: Vec<usize> = BACKLOG_SLOTS.to_vec();
    // Statuses outside the ten count as open when any entry has one.
    if report.days.iter().any(|d| d.statuses[names.len() - 1] > 0) {
        slots.push(names.len() - 1);
    }
    let series = slots
        .iter()
        .map(|&slot| Series {
            name: names[slot].to_string(),
            color: STATUS_COLORS[slot],
            values: report
                .days
                .iter()
                .map(|d| d.statuses[slot] as f64)
                .collect(),
        })
        .collect();
    svg::bar_chart(&BarChart {
        id: "chart-backlog",
        title: "Open entries at each day's end, by status",
        categories: day_labels(report),
        x_title: "day (UTC)",
        y_title: "entries",
        series,
        bars: Bars::Stacked,
        width: NARROW,
        height: 260.0,
    })
}

fn status_mix_chart(report: &Report) -> String {
    let names = status_slot_names();
    let mut order: Vec<usize> = BACKLOG_SLOTS.to_vec();
    order.extend((0..names.len()).filter(|slot| !BACKLOG_SLOTS.contains(slot)));
    let series = order
        .iter()
        .filter(|&&slot| report.days.iter().any(|d| d.statuses[slot] > 0))
        .map(|&slot| Series {
            name: names[slot].to_string(),
            color: STATUS_COLORS[slot],
            values: report
                .days
                .iter()
                .map(|d| d.statuses[slot] as f64)
                .collect(),
        })
        .collect();
    svg::bar_chart(&BarChart {
        id: "chart-status-mix",
        title: "Every entry by status at each day's end",
        categories: day_labels(report),
        x_title: "day (UTC)",
        y_title: "entries",
        series,
        bars: Bars::Stacked,
        width: WIDE,
        height: 260.0,
    })
}

fn activity_chart(report: &Report) -> String {
    let days = &report.days;
    let series = vec![
        Series {
            name: "created".into(),
            color: "#3182bd",
            values: days.iter().map(|d| d.created as f64).collect(),
        },
        Series {
            name: "resolved".into(),
            color: "#31a354",
            values: days.iter().map(|d| d.resolved as f64).collect(),
        },
        Series {
            name: "rejected".into(),
            color: "#636363",
            values: days.iter().map(|d| d.rejected as f64).collect(),
        },
        Series {
            name: "expired".into(),
            color: "#8c6d31",
            values: days.iter().map(|d| d.expired as f64).collect(),
        },
    ];
    svg::bar_chart(&BarChart {
        id: "chart-activity",
        title: "DLQ entries created, resolved, rejected and expired per day",
        categories: day_labels(report),
        x_title: "day (UTC)",
        y_title: "entries per day",
        series,
        bars: Bars::Grouped,
        width: WIDE,
        height: 240.0,
    })
}

fn replay_chart(report: &Report) -> String {
    let days = &report.days;
    let series = vec![
        Series {
            name: "succeeded".into(),
            color: "#31a354",
            values: days.iter().map(|d| d.replays_succeeded as f64).collect(),
        },
        Series {
            name: "failed, back to pending".into(),
            color: "#fd8d3c",
            values: days
                .iter()
                .map(|d| d.replays_failed_retrying as f64)
                .collect(),
        },
        Series {
            name: "failed at the retry cap".into(),
            color: "#d62728",
            values: days
                .iter()
                .map(|d| d.replays_failed_at_cap as f64)
                .collect(),
        },
    ];
    let started: u64 = days.iter().map(|d| d.replays_started).sum();
    let title = format!(
        "Replay outcomes per day ({} replays started)",
        number(started as f64)
    );
    svg::bar_chart(&BarChart {
        id: "chart-replays",
        title: &title,
        categories: day_labels(report),
        x_title: "day (UTC)",
        y_title: "replays per day",
        series,
        bars: Bars::Stacked,
        width: WIDE,
        height: 220.0,
    })
}

fn heat_map(report: &Report) -> String {
    let mut domains: BTreeMap<&str, u64> = BTreeMap::new();
    let mut types: BTreeMap<&str, u64> = BTreeMap::new();
    for cell in &report.failure_types_by_domain {
        *domains.entry(&cell.domain).or_default() += cell.count;
        *types.entry(&cell.failure_type).or_default() += cell.count;
    }
    // Busiest first; at most 16 of each, the rest left out (named in the title).
    let mut rows: Vec<(&str, u64)> = domains.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut columns: Vec<(&str, u64)> = types.into_iter().collect();
    columns.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let left_out = rows.len().saturating_sub(16) + columns.len().saturating_sub(16);
    rows.truncate(16);
    columns.truncate(16);
    let mut values = vec![vec![0u64; columns.len()]; rows.len()];
    for cell in &report.failure_types_by_domain {
        let row = rows.iter().position(|r| r.0 == cell.domain);
        let column = columns.iter().position(|c| c.0 == cell.failure_type);
        if let (Some(row), Some(column)) = (row, column) {
            values[row][column] = cell.count;
        }
    }
    let title = if left_out > 0 {
        format!("Entries by domain and failure type ({left_out} smaller groups not drawn)")
    } else {
        "Entries by domain and failure type".to_string()
    };
    svg::heat_map(&HeatMap {
        id: "chart-failure-types",
        title: &title,
        rows: rows.iter().map(|r| r.0.to_string()).collect(),
        columns: columns.iter().map(|c| c.0.to_string()).collect(),
        values,
        unit: "entries",
        row_title: "domain",
        column_title: "failure type",
        width: NARROW,
    })
}

fn sla_chart(report: &Report) -> String {
    let now = report.now.as_unix_nanos();
    let mut by_domain: BTreeMap<&str, [u64; AGE_BUCKETS.len()]> = BTreeMap::new();
    for entry in breaches(report) {
        let hours = now.saturating_sub(entry.created_at.as_unix_nanos()) / 3_600_000_000_000;
        let bucket = AGE_BUCKETS
            .iter()
            .rposition(|(_, from)| hours >= *from)
            .unwrap_or(0);
        by_domain.entry(&entry.domain).or_default()[bucket] += 1;
    }
    let mut domains: Vec<(&str, [u64; AGE_BUCKETS.len()])> = by_domain.into_iter().collect();
    domains.sort_by(|a, b| {
        let total = |c: &[u64]| c.iter().sum::<u64>();
        total(&b.1).cmp(&total(&a.1)).then(a.0.cmp(b.0))
    });
    let mut series: Vec<Series> = Vec::new();
    let mut rest = [0u64; AGE_BUCKETS.len()];
    for (i, (domain, counts)) in domains.iter().enumerate() {
        if i < SLA_DOMAINS_MAX {
            series.push(Series {
                name: domain.to_string(),
                color: PALETTE[i % PALETTE.len()],
                values: counts.iter().map(|&c| c as f64).collect(),
            });
        } else {
            for (sum, count) in rest.iter_mut().zip(counts) {
                *sum += count;
            }
        }
    }
    if rest.iter().any(|&c| c > 0) {
        series.push(Series {
            name: "other domains".into(),
            color: PALETTE[PALETTE.len() - 1],
            values: rest.iter().map(|&c| c as f64).collect(),
        });
    }
    svg::bar_chart(&BarChart {
        id: "chart-sla",
        title: "SLA breaches by how long they have waited, by domain",
        categories: AGE_BUCKETS
            .iter()
            .map(|(label, _)| label.to_string())
            .collect(),
        x_title: "waiting since creation",
        y_title: "entries",
        series,
        bars: Bars::Stacked,
        width: NARROW,
        height: 260.0,
    })
}

fn breaker_chart(report: &Report) -> String {
    let window = window_bounds(report);
    let mut breakers: Vec<_> = report
        .timeline
        .breakers
        .iter()
        .map(|b| (b, trips(b, window)))
        .collect();
    breakers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.service_name.cmp(&b.0.service_name)));
    let hidden = breakers.len().saturating_sub(BREAKER_ROWS_MAX);
    breakers.truncate(BREAKER_ROWS_MAX);
    let severity = |state: &str| {
        BREAKER_STATES
            .iter()
            .position(|s| s.name == state)
            .unwrap_or(0)
    };
    let rows = breakers
        .iter()
        .map(|(history, trips)| TimelineRow {
            label: format!("{} ({trips} trips)", svg::clip(&history.service_name, 12)),
            changes: history
                .changes
                .iter()
                .map(|c| (c.at.as_unix_nanos(), severity(c.state)))
                .collect(),
        })
        .collect();
    let labels = day_labels(report);
    let every = labels.len().div_ceil(10).max(1);
    let ticks = report
        .days
        .iter()
        .zip(labels)
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(_, (day, label))| (day.start.as_unix_nanos(), label))
        .collect();
    let title = if hidden > 0 {
        format!("Circuit breaker states over time ({hidden} breakers with fewer trips not drawn)")
    } else {
        "Circuit breaker states over time".to_string()
    };
    svg::timelines(&Timelines {
        id: "chart-breakers",
        title: &title,
        states: &BREAKER_STATES,
        rows,
        start: window.0,
        end: window
            .1
            .min(report.now.as_unix_nanos().max(window.0.saturating_add(1))),
        ticks,
        x_title: "day (UTC)",
        width: NARROW,
    })
}

fn write_health(out: &mut String, report: &Report) {
    let Some(health) = &report.health else {
        out.push_str(
            "<p>Not a file journal: no segments to show. <code>verify</code> reads such a journal back in order.</p>",
        );
        return;
    };
    let info = &health.info;
    let categories: Vec<String> = info
        .segments
        .iter()
        .map(|s| format!("#{}", s.base_sequence))
        .collect();
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let chart = svg::bar_chart(&BarChart {
        id: "chart-health",
        title: "Bytes of each segment (log and index)",
        categories,
        x_title: "segment (first sequence)",
        y_title: "MiB",
        series: vec![
            Series {
                name: "log".into(),
                color: "#3182bd",
                values: info.segments.iter().map(|s| mib(s.log_bytes)).collect(),
            },
            Series {
                name: "index".into(),
                color: "#9ecae1",
                values: info
                    .segments
                    .iter()
                    .map(|s| mib(s.index_bytes.unwrap_or(0)))
                    .collect(),
            },
        ],
        bars: Bars::Stacked,
        width: WIDE,
        height: 160.0,
    });
    let sealed = info.segments.iter().filter(|s| s.sealed).count();
    let head = &health.head;
    let last_sealed = match &head.last_sealed {
        Some(s) => format!(
            "base {} .. sequence {}, digest {}",
            s.base_sequence, s.last_sequence, s.digest
        ),
        None => "none".to_string(),
    };
    let rows = [
        ("journal id", info.journal_id.clone()),
        (
            "segments",
            format!(
                "{} ({sealed} sealed), {} on disk",
                info.segments.len(),
                human_bytes(info.disk_bytes)
            ),
        ),
        (
            "records",
            format!(
                "{} (sequences up to {}, {} missing)",
                number(info.record_count as f64),
                info.latest_sequence,
                info.missing_sequences
            ),
        ),
        (
            "head (the anchor)",
            format!(
                "last_sequence={} sealed_segments={} last_sealed: {last_sealed}",
                head.last_sequence, head.sealed_segments
            ),
        ),
    ];
    out.push_str(&chart);
    out.push_str("<table>");
    for (name, value) in rows {
        let _ = write!(
            out,
            "<tr><th>{}</th><td><code>{}</code></td></tr>",
            escape(name),
            escape(&value)
        );
    }
    match &report.verified {
        None => out.push_str(
            "<tr><th>verify</th><td>not run (report --verify reads every byte and every audit chain)</td></tr>",
        ),
        Some(v) if v.problems.is_empty() => {
            let _ = write!(
                out,
                r#"<tr><th>verify</th><td><span class="good">clean</span>: {} segments, {} records with valid CRCs, {} audit chains verified, in {}</td></tr>"#,
                v.segments,
                number(v.records as f64),
                number(v.chains as f64),
                human_duration(v.took)
            );
        }
        Some(v) => {
            let _ = write!(
                out,
                r#"<tr><th>verify</th><td><span class="bad">problems found: {}</span><ul>"#,
                v.problems.len()
            );
            for problem in &v.problems {
                let _ = write!(out, "<li><code>{}</code></li>", escape(problem));
            }
            out.push_str("</ul></td></tr>");
        }
    }
    out.push_str("</table>");
}

fn write_waiting(out: &mut String, report: &Report) {
    let now = report.now.as_unix_nanos();
    let waiting = &report.timeline.waiting;
    if waiting.is_empty() {
        out.push_str("<p>No entry is waiting.</p>");
        return;
    }
    let _ = write!(
        out,
        "<table><tr><th>id</th><th>domain</th><th>failure type</th><th>status</th><th>retries</th><th>created</th><th>waiting</th></tr>"
    );
    for entry in waiting.iter().take(LONGEST_WAITING) {
        let _ = write!(
            out,
            r##"<tr><td><a href="#{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td><td class="n">{}</td></tr>"##,
            trail_anchor(&entry.id),
            escape(&entry.id),
            escape(&entry.domain),
            escape(&entry.failure_type),
            escape(&entry.status),
            entry.retry_count,
            time_to_second(entry.created_at),
            age(now.saturating_sub(entry.created_at.as_unix_nanos()))
        );
    }
    let _ = write!(
        out,
        "</table><p class=\"note\">{} of {} entries waiting.</p>",
        waiting.len().min(LONGEST_WAITING),
        number(waiting.len() as f64)
    );
}

fn write_trails(out: &mut String, report: &Report) {
    for trail in &report.trails {
        let verdict = match (trail.hashes_recomputed, trail.first_bad_entry) {
            (_, Some(bad)) => format!(r#"<span class="bad">BROKEN at entry {bad}</span>"#),
            (true, None) if trail.entries.iter().any(|e| e.hash_chain.is_some()) => {
                r#"<span class="good">chain VALID</span>"#.to_string()
            }
            _ => "not chained".to_string(),
        };
        let _ = write!(
            out,
            r#"<h3 id="{}">{} <small>({}, {}, {} events; {verdict})</small></h3><table><tr><th>time</th><th>action</th><th>actor</th><th>status</th><th>details</th><th>hash</th></tr>"#,
            trail_anchor(&trail.entity_id),
            escape(&trail.entity_id),
            escape(&trail.domain),
            escape(&trail.current_status),
            trail.entries.len()
        );
        let count = trail.entries.len();
        for (i, entry) in trail.entries.iter().enumerate() {
            // A long trail: its first and last entries, the middle elided.
            if count > TRAIL_ENTRIES_MAX {
                let head = TRAIL_ENTRIES_MAX / 2;
                if i == head {
                    let _ = write!(
                        out,
                        r#"<tr><td colspan="6">... {} entries not shown (audit {} shows all)</td></tr>"#,
                        count - TRAIL_ENTRIES_MAX,
                        escape(&trail.entity_id)
                    );
                }
                if i >= head && i < count - (TRAIL_ENTRIES_MAX - head) {
                    continue;
                }
            }
            let hash = entry
                .hash_chain
                .as_deref()
                .map(|h| h.get(..16).unwrap_or(h).to_string())
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                short_time(entry.timestamp.as_unix_nanos()),
                escape(&entry.action),
                escape(entry.actor_id.as_deref().unwrap_or("")),
                escape(entry.status.as_deref().unwrap_or("")),
                escape(entry.details.as_deref().unwrap_or("")),
                escape(&hash)
            );
        }
        out.push_str("</table>");
    }
    if report.trails.is_empty() {
        out.push_str("<p>No entry is waiting: no trail to show.</p>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_keep_safe_characters_and_encode_the_rest() {
        assert_eq!(trail_anchor("dlq-000042"), "trail-dlq-000042");
        assert_eq!(trail_anchor("a b\"<"), "trail-a.20b.22.3c");
        assert_ne!(trail_anchor("a.b"), trail_anchor("a_b"));
    }

    #[test]
    fn ages_read_in_the_largest_units() {
        let minute = 60_000_000_000;
        assert_eq!(age(5 * minute), "5 min");
        assert_eq!(age(125 * minute), "2 h 5 min");
        assert_eq!(age((3 * 1440 + 4 * 60) * minute), "3 d 4 h");
    }
}
