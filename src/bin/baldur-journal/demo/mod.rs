//! `demo`: the main job. Appends a month of a DLQ framework's life: tens
//! of thousands of DLQ entries across domains and failure types with their
//! replays, retries, escalations, operator reviews (audit links),
//! resolutions, rejections, expiries and nightly archiving (`demo/dlq.rs`),
//! interleaved in time with circuit breakers flapping, error budgets and
//! emergency levels (`demo/fleet.rs`), in batches under the default durable
//! policy, appended through the DLQ statistics with audit chaining set on
//! (keyless) and a projection snapshot kept in the directory, so every
//! entry's trail is a real hash chain; then prints the dashboard measured
//! from the latest event's time. Run again, it continues the same journal,
//! with event times after the latest entry's. It ends by writing the
//! HTML report (`report --html`) beside the journal directory.

pub mod dlq;
mod fleet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use baldur_journal::projection::{JournalStatistics, ManualClock, SnapshotConfig};
use baldur_journal::{
    DiskJournal, Durability, EventJournal, JournalEntry, JournalQueryFilter, Timestamp,
};
use clap::Args;

use self::dlq::dlq_events;
use self::fleet::Simulation;
use crate::Outcome;
use crate::dashboard::write_dashboard;
use crate::open::{self, Globals};
use crate::output::{self, human_duration, time_to_second};
use crate::report;
use crate::stats::Statistics;

/// Entries per `append_batch` call: one fdatasync each.
const BATCH: usize = 1000;
const DAY_NS: i64 = 86_400_000_000_000;

#[derive(Args)]
#[command(
    about = "The main job: append a month of DLQ and circuit-breaker events, show the dashboard",
    long_about = "Appends --entries DLQ entries (default 40000) across eight domains and seven \
failure types, with their lives: replays that succeed or fail up to the retry cap, escalations, \
operator reviews recorded as audit links, resolutions, rejections, forced redrives, expiries, \
and a nightly cleanup archiving what was resolved 30 days before; entries still waiting are \
SLA breaches. Interleaved in time with --events events (default 100000) of the seven kinds the \
reference journals (circuit breakers opening, half-opening and closing, error budgets, \
emergency levels). All spread over --days simulated days (default 35) ending about now, \
appended in batches of 1000 under the default durable policy (each batch acknowledged after \
its fdatasync), with a progress bar on a terminal. Every batch is appended through the DLQ \
statistics with audit chaining on (keyless SHA-256, docs/AUDIT.md), so each entry's trail is a \
real hash chain `audit` recomputes, and the statistics fold as they append; they keep a \
snapshot of the projection in the journal directory (projection.snapshot), written when the \
demo ends, so a later writer folds only what came after it. Then prints the dashboard, measured \
from the latest event's time (as `dashboard --now TIME` does), not from the wall clock. A new \
journal is created with 16 MiB segments unless --segment-bytes says otherwise. Run again, it \
appends to the same journal, continuing after the latest entry's event time, and its dashboard \
is measured from the new latest event. Last, it writes the HTML report (as `report --html` does, \
measured from the latest event) to baldur-report.html beside the journal directory, not inside \
it, and prints its path.",
    after_help = "Examples:
  cargo run --release -- demo
  baldur-journal --dir /tmp/demo demo --entries 100000 --events 500000 --days 60
  baldur-journal stats list --status requires_review --order-by created_at
  baldur-journal audit dlq-000042"
)]
pub struct DemoArgs {
    /// DLQ entries to create
    #[arg(long, value_name = "N", default_value_t = 40_000)]
    entries: u64,
    /// Circuit-breaker, error-budget and emergency-level events to append
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    events: u64,
    /// Simulated days the events span
    #[arg(long, value_name = "DAYS", default_value_t = 35)]
    days: u64,
}

pub fn run_demo(globals: &Globals, args: &DemoArgs) -> Result<Outcome> {
    globals.require_file("demo")?;
    if args.events + args.entries == 0 || args.days == 0 || args.days > 3650 {
        bail!("--entries or --events must be above 0, and --days between 1 and 3650");
    }
    let started = Instant::now();
    let journal = Arc::new(open::open_writer(
        globals,
        Durability::Always,
        Some(16 << 20),
    )?);
    // The writer's statistics: chaining set on explicitly (keyless), and a
    // snapshot of the projection kept in the journal directory. Its clock
    // is set to the latest event's time before the dashboard is printed.
    let clock = ManualClock::new(Timestamp::now());
    let statistics = JournalStatistics::builder(journal.clone())
        .clock(clock.clone())
        .audit_chain(true)
        .snapshot(SnapshotConfig::for_disk(&journal))
        .build()?;
    let mut out = output::stdout();
    let before = journal.get_latest_sequence()?;
    let span_ns = args.days as i64 * DAY_NS;
    let start = match last_event_time(&journal, before)? {
        Some(last) => Timestamp::from_unix_nanos(last.as_unix_nanos().saturating_add(1_000_000)),
        None => {
            // A fresh journal: the simulated days end about now, to the minute.
            let now = Timestamp::now().as_unix_nanos();
            Timestamp::from_unix_nanos((now - span_ns) / 60_000_000_000 * 60_000_000_000)
        }
    };
    let end = Timestamp::from_unix_nanos(start.as_unix_nanos().saturating_add(span_ns));
    if before == 0 {
        writeln!(out, "new journal in {}", globals.dir.display())?;
    } else {
        writeln!(
            out,
            "journal in {}: {before} sequences so far; continuing after the latest event time",
            globals.dir.display()
        )?;
    }
    let stored_before = journal.count(&JournalQueryFilter {
        event_types: Some(vec!["dlq_store".into()]),
        ..Default::default()
    })?;
    let seed = before.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed;
    let dlq = dlq_events(seed ^ 0xd1c, args.entries, stored_before + 1, start, end);
    let total = dlq.len() as u64 + args.events;
    writeln!(
        out,
        "appending {} DLQ entries ({} lifecycle events) and up to {} circuit-breaker, error-budget \
         and emergency events over {} simulated days from {}, in batches of {BATCH}, each \
         acknowledged after its fdatasync ...",
        args.entries,
        dlq.len(),
        args.events,
        args.days,
        time_to_second(start)
    )?;
    out.flush()?;

    let bar = output::progress(Some(total), "appending", "events");
    let appending = Instant::now();
    let folding = statistics.refresh()?;
    let fleet = Fleet {
        seed,
        start,
        end,
        events: args.events,
    };
    append_merged(&statistics, dlq, &fleet, |count| bar.inc(count))?;
    bar.finish_and_clear();
    let took = appending.elapsed();
    let last = journal.get_latest_sequence()?;
    let first = before + 1;
    let appended = last - before;
    writeln!(
        out,
        "appended {appended} events (sequences {first}..={last}, event times up to {}) in {} \
         ({:.0} events/s)",
        time_to_second(end),
        human_duration(took),
        appended as f64 / took.as_secs_f64()
    )?;
    out.flush()?;

    let summary = statistics.refresh()?;
    writeln!(
        out,
        "the statistics hold {} records, folded as they were appended ({} before this run, \
         restored from the snapshot when it is valid); the DLQ events are audit-chained",
        summary.records, folding.records
    )?;
    // The simulated days may end after (a second run: well after) the wall
    // clock; the dashboard is measured from the latest event instead.
    let latest_time = last_event_time(&journal, last)?.unwrap_or_else(Timestamp::now);
    clock.set(latest_time);
    let now = statistics.now();
    let statistics = Statistics {
        repository: Box::new(statistics),
        summary,
        now,
    };
    let prefix = if globals.dir_given {
        format!("baldur-journal --dir {}", globals.dir.display())
    } else {
        "baldur-journal".to_string()
    };
    writeln!(out, "\n$ {prefix} dashboard --now {}", latest_time)?;
    write_dashboard(&mut out, &statistics, Some("the latest event"))?;
    // Dropping the writer's statistics writes the projection's snapshot.
    drop(statistics);
    writeln!(
        out,
        "\nmore: {prefix} stats list --status requires_review | audit dlq-{:06} | info | verify",
        stored_before + 1
    )?;
    let path = report_path(&globals.dir);
    let reporting = Instant::now();
    let settings = report::Settings {
        since: None,
        until: None,
        now: Some(latest_time),
        as_of: None,
        source: globals.dir.display().to_string(),
    };
    let shared: Arc<dyn EventJournal> = journal.clone();
    let collected = report::collect(shared, Some(&journal), settings)?;
    let bytes = report::write(&path, &collected)?;
    drop(collected);
    writeln!(
        out,
        "report: {} ({}, written in {}; open it in a browser)",
        path.display(),
        output::human_bytes(bytes),
        human_duration(reporting.elapsed())
    )?;
    match Arc::try_unwrap(journal) {
        Ok(journal) => journal.close()?,
        Err(journal) => drop(journal),
    }
    writeln!(out, "done in {}", human_duration(started.elapsed()))?;
    out.flush()?;
    Ok(Outcome::Success)
}

/// The fleet's simulated events: circuit breakers, error budgets,
/// emergency levels.
pub struct Fleet {
    pub seed: u64,
    pub start: Timestamp,
    /// No fleet event is later than this.
    pub end: Timestamp,
    /// Events to make, at most.
    pub events: u64,
}

/// Appends the DLQ events `dlq` (in time order) interleaved in time with
/// the fleet's, through `statistics` (so DLQ events are chained as they
/// are appended), in batches of [`BATCH`]; `progress` gets each batch's
/// size.
pub fn append_merged<J: EventJournal + ?Sized>(
    statistics: &JournalStatistics<J>,
    dlq: Vec<JournalEntry>,
    fleet: &Fleet,
    mut progress: impl FnMut(u64),
) -> Result<()> {
    let span_ns = fleet.end.as_unix_nanos() - fleet.start.as_unix_nanos();
    let mean_gap_ns = span_ns as f64 / fleet.events.max(1) as f64;
    let mut sim = Simulation::new(fleet.seed, fleet.start, mean_gap_ns);
    let mut fleet_left = fleet.events;
    let end = fleet.end;
    // The fleet's stream ends at `end` too, even with fewer events than asked.
    let mut next_fleet = (fleet_left > 0)
        .then(|| sim.next_event())
        .filter(|e| e.timestamp <= end);
    let mut dlq = dlq.into_iter().peekable();
    loop {
        let mut batch: Vec<JournalEntry> = Vec::with_capacity(BATCH);
        while batch.len() < BATCH {
            // The earlier of the two streams' next events.
            let take_fleet = match (&next_fleet, dlq.peek()) {
                (Some(f), Some(d)) => f.timestamp <= d.timestamp,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_fleet {
                batch.extend(next_fleet.take());
                fleet_left -= 1;
                next_fleet = (fleet_left > 0)
                    .then(|| sim.next_event())
                    .filter(|e| e.timestamp <= end);
            } else {
                batch.extend(dlq.next());
            }
        }
        if batch.is_empty() {
            break;
        }
        let count = batch.len() as u64;
        // Chained (DLQ events) and appended under the statistics' lock,
        // one append_batch and fdatasync, then folded.
        statistics.record(batch)?;
        progress(count);
    }
    Ok(())
}

/// The report's path: `baldur-report.html` beside the journal directory
/// (in its parent), never inside it.
fn report_path(dir: &Path) -> PathBuf {
    let parent = match dir.parent() {
        Some(parent) => parent,
        // The root, or a bare `..`: the working directory.
        None => Path::new(""),
    };
    parent.join(REPORT_FILE)
}

/// The file name of the report the demo writes.
pub const REPORT_FILE: &str = "baldur-report.html";

fn last_event_time(journal: &DiskJournal, latest: u64) -> Result<Option<Timestamp>> {
    if latest == 0 {
        return Ok(None);
    }
    let mut range = journal.range_ref_from(latest)?;
    match range.next_entry() {
        Some(entry) => Ok(Some(entry?.timestamp)),
        None => Ok(None),
    }
}
