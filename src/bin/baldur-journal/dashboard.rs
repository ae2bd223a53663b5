//! `dashboard`: every statistic at once, in readable tables (or one JSON
//! object of them). Read-only. The demo ends with it.

use std::io::Write;

use anyhow::Result;
use baldur_journal::projection::{
    DEFAULT_DISTRIBUTION_LIMIT, DEFAULT_RECENT_DAYS, DEFAULT_RECENT_HOURS, DEFAULT_RESOLUTION_DAYS,
    DEFAULT_SLA_THRESHOLD_HOURS, EntryListQuery,
};
use clap::Args;

use crate::Outcome;
use crate::open::Globals;
use crate::output::{self, display_width, pad, time_to_second, write_columns};
use crate::stats::{self, NowArg, RIGHT_2, Statistics, ViewArgs, percent, share_row};

/// Entries in the dashboard's "latest entries" table.
const LATEST: u64 = 5;

#[derive(Args)]
#[command(
    about = "The DLQ dashboard: statuses, activity, distributions, SLA, cleanup, breakers",
    long_about = "Everything `stats` answers, at once, in readable tables: entries by status \
(last 30 days), recent activity and trend, resolution rate and mean retries, the top domains \
and failure types, SLA breaches (older than 4 hours, still waiting), what the cleanup could \
do, circuit breakers, and the latest entries. Windows are measured from now: the wall clock, \
--now TIME, or the TIME of --as-of TIME (--as-of SEQUENCE --now TIME sets the now of that past \
view). --json prints one object with the seed's field names. Opens the journal read-only. \
--stats-db URL answers from the reference's SQL tables instead of the journal (as_of_sequence \
is then null).",
    after_help = "Examples:
  baldur-journal dashboard
  baldur-journal dashboard --as-of 2025-01-01T12:00:00Z
  baldur-journal dashboard --now 2025-01-01T12:00:00Z
  baldur-journal dashboard --as-of 120000 --now 2025-01-01T12:00:00Z
  baldur-journal dashboard --json | jq .status_counts
  baldur-journal dashboard --stats-db sqlite:////var/lib/app/dlq.db --now 2025-01-01T12:00:00Z"
)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub view: ViewArgs,
    #[command(flatten)]
    pub now: NowArg,
}

pub fn run_dashboard(globals: &Globals, args: &DashboardArgs) -> Result<Outcome> {
    let statistics = stats::open_statistics(globals, &args.view, args.now.now)?;
    let mut out = output::stdout();
    if args.view.json {
        let value = dashboard_json(&statistics)?;
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    } else {
        write_dashboard(&mut out, &statistics, None)?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

fn latest_query() -> EntryListQuery {
    EntryListQuery {
        page_size: LATEST,
        ..Default::default()
    }
}

/// Every read with the default arguments, under the seed's method names.
pub fn dashboard_json(statistics: &Statistics) -> Result<serde_json::Value> {
    let repo = &*statistics.repository;
    Ok(serde_json::json!({
        // No sequence when answering from SQL tables (--stats-db).
        "as_of_sequence": statistics
            .sql_source
            .is_none()
            .then_some(statistics.summary.last_sequence),
        "now": statistics.now,
        "status_counts": repo.get_status_counts()?,
        "recent_activity": repo.get_recent_activity(DEFAULT_RECENT_HOURS, DEFAULT_RECENT_DAYS)?,
        "resolution_rate": repo.get_resolution_rate(DEFAULT_RESOLUTION_DAYS)?,
        "avg_retry_count": repo.get_avg_retry_count()?,
        "domain_distribution": repo.get_domain_distribution(DEFAULT_DISTRIBUTION_LIMIT)?,
        "failure_type_distribution":
            repo.get_failure_type_distribution(DEFAULT_DISTRIBUTION_LIMIT)?,
        "sla_breaches": repo.get_sla_breaches(DEFAULT_SLA_THRESHOLD_HOURS, None)?,
        "cleanup_stats": repo.get_cleanup_stats()?,
        "circuit_breaker_summary": repo.get_circuit_breaker_summary()?,
        "circuit_breakers": repo.list_circuit_breakers()?,
        "latest_entries": repo.list_entries(&latest_query())?,
    }))
}

/// Two tables side by side: `left`'s lines padded to a common width.
fn side_by_side(out: &mut impl Write, left: &[u8], right: &[u8]) -> std::io::Result<()> {
    let left: Vec<&str> = std::str::from_utf8(left).unwrap_or("").lines().collect();
    let right: Vec<&str> = std::str::from_utf8(right).unwrap_or("").lines().collect();
    let width = left.iter().map(|l| display_width(l)).max().unwrap_or(0) + 4;
    for i in 0..left.len().max(right.len()) {
        let l = left.get(i).copied().unwrap_or("");
        let r = right.get(i).copied().unwrap_or("");
        let line = format!("{}{r}", pad(l, width, false));
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The dashboard as readable tables; its header names what now is
/// measured from when `measured_from` says (`the latest event`).
pub fn write_dashboard(
    out: &mut impl Write,
    statistics: &Statistics,
    measured_from: Option<&str>,
) -> Result<()> {
    let repo = &*statistics.repository;
    let summary = statistics.summary;
    let at = match measured_from {
        Some(what) => format!("measured from {what}, {}", statistics.now),
        None => format!("at {}", time_to_second(statistics.now)),
    };
    match &statistics.sql_source {
        Some(url) => writeln!(out, "DLQ dashboard {at} (from the SQL tables of {url})")?,
        None => writeln!(
            out,
            "DLQ dashboard {at} (journal folded up to sequence {}: {} records, {} of other kinds)",
            summary.last_sequence, summary.records, summary.skipped
        )?,
    }
    if summary.malformed + summary.orphaned > 0 {
        writeln!(
            out,
            "note: {} malformed and {} orphaned DLQ events skipped",
            summary.malformed, summary.orphaned
        )?;
    }

    let counts = repo.get_status_counts()?;
    let activity = repo.get_recent_activity(DEFAULT_RECENT_HOURS, DEFAULT_RECENT_DAYS)?;
    let rate = repo.get_resolution_rate(DEFAULT_RESOLUTION_DAYS)?;
    let retries = repo.get_avg_retry_count()?;
    let mut left = Vec::new();
    stats::write_status_counts(&mut left, &counts, &repo.get_status_breakdown()?)?;
    let mut right = Vec::new();
    let rows = vec![
        vec![
            format!("last {DEFAULT_RECENT_HOURS} h"),
            activity.new_in_24h.to_string(),
            activity.resolved_in_24h.to_string(),
        ],
        vec![
            format!("last {DEFAULT_RECENT_DAYS} d"),
            activity.new_in_7d.to_string(),
            activity.resolved_in_7d.to_string(),
        ],
    ];
    write_columns(&mut right, &["ACTIVITY", "NEW", "RESOLVED"], &rows, RIGHT_2)?;
    writeln!(right, "trend                 {}", activity.trend)?;
    writeln!(
        right,
        "resolution rate, {DEFAULT_RESOLUTION_DAYS} d {}%",
        percent(rate * 100.0)
    )?;
    writeln!(right, "mean retries          {retries}")?;
    let cleanup = repo.get_cleanup_stats()?;
    writeln!(right)?;
    writeln!(right, "CLEANUP")?;
    writeln!(right, "entries kept          {}", cleanup.total)?;
    writeln!(
        right,
        "can archive           {} (resolved > 30 d)",
        cleanup.resolved_older_than_30_days
    )?;
    writeln!(
        right,
        "can purge             {} (archived > 90 d)",
        cleanup.archived_older_than_90_days
    )?;
    writeln!(out, "\n(entries created in the last 30 days)")?;
    side_by_side(out, &left, &right)?;

    let domains = repo.get_domain_distribution(DEFAULT_DISTRIBUTION_LIMIT)?;
    let failure_types = repo.get_failure_type_distribution(DEFAULT_DISTRIBUTION_LIMIT)?;
    let mut left = Vec::new();
    let rows: Vec<Vec<String>> = domains
        .iter()
        .map(|g| share_row(&g.domain, g.count, g.percentage))
        .collect();
    write_columns(&mut left, &["DOMAIN", "ENTRIES", "SHARE"], &rows, RIGHT_2)?;
    let mut right = Vec::new();
    let rows: Vec<Vec<String>> = failure_types
        .iter()
        .map(|g| share_row(&g.failure_type, g.count, g.percentage))
        .collect();
    write_columns(
        &mut right,
        &["FAILURE TYPE", "ENTRIES", "SHARE"],
        &rows,
        RIGHT_2,
    )?;
    writeln!(out)?;
    side_by_side(out, &left, &right)?;

    let breaches = repo.get_sla_breaches(DEFAULT_SLA_THRESHOLD_HOURS, None)?;
    let breaker_summary = repo.get_circuit_breaker_summary()?;
    let breakers = repo.list_circuit_breakers()?;
    let mut left = Vec::new();
    stats::write_sla(&mut left, &breaches, DEFAULT_SLA_THRESHOLD_HOURS)?;
    let mut right = Vec::new();
    let rows: Vec<Vec<String>> = breakers
        .iter()
        .map(|b| {
            vec![
                b.service_name.clone(),
                b.state.clone(),
                b.failure_count.to_string(),
                b.last_state_change
                    .map_or_else(|| "-".to_string(), time_to_second),
            ]
        })
        .collect();
    write_columns(
        &mut right,
        &["BREAKER", "STATE", "FAILURES", "LAST CHANGE"],
        &rows,
        &[false, false, true, false],
    )?;
    writeln!(
        out,
        "\n(SLA: still waiting after {DEFAULT_SLA_THRESHOLD_HOURS} hours)"
    )?;
    side_by_side(out, &left, &right)?;
    write!(out, "  ")?;
    stats::write_breaker_summary(out, &breaker_summary)?;

    let latest = repo.list_entries(&latest_query())?;
    writeln!(out, "\nLATEST ENTRIES ({} in all)", latest.total)?;
    stats::write_entry_list(out, &latest.items)?;
    Ok(())
}
