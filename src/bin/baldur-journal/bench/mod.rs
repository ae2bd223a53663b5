//! `bench`: measure the journal on this machine, as `pgbench` and
//! `redis-benchmark` do for theirs. Each bench builds what it needs in a
//! scratch directory (inside `--dir` when given, else the system's temp
//! directory), prints a readable summary or, with `--json`, one JSON line,
//! and removes the directory. `bench append` also measures raw `pwrite` +
//! `fdatasync` in the same directory and prints the ratio.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use baldur_journal::codec::{self, FRAME_HEADER_LEN};
use baldur_journal::disk::DEFAULT_MAX_RECORD_BYTES;
use baldur_journal::projection::JournalStatistics;
use baldur_journal::{Context, DiskJournal, Durability, EventJournal, JournalEntry};
use baldur_journal::{JournalQueryFilter, QueryOptions, Timestamp};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use crate::Outcome;

mod append;
mod fold;
mod read;
mod report;
#[cfg(feature = "sqlite-peer")]
mod sqlite;
#[cfg(feature = "sqlite-peer")]
mod sqlite_table;

use self::append::bench_append;
use self::fold::{bench_fold, bench_stats};
use self::read::{bench_open, bench_query, bench_replay};
use self::report::bench_report;
use crate::demo::dlq::dlq_events;
use crate::open::{self, Globals};
use crate::output;

#[derive(Args)]
#[command(
    about = "Measure appends, replay, queries, open, fold, stats and report on this machine",
    long_about = "Measures the journal on this machine. Each bench builds what it needs in a \
scratch directory inside --dir when given (on the disk you want to measure), else in the \
system's temp directory, and removes it afterwards. A readable summary, or with --json one \
JSON line with `events`, `seconds`, `events_per_s` and `mb_per_s` (MB = 10^6 bytes), and for \
appends `ack_p50_us`, `ack_p99_us` and `mean_batch` (records per fdatasync). `bench append` \
also measures raw pwrite + fdatasync into a pre-written file in the same directory, at the \
batch size the journal achieved, and prints the ratio.",
    after_help = "Examples:
  baldur-journal --dir /mnt/ssd bench append --events 20000 --producers 64
  baldur-journal bench append --durability os --events 1000000 --json
  baldur-journal bench replay --events 1000000
  baldur-journal bench query --events 1000000 --json
  baldur-journal bench open --events 5000000
  baldur-journal bench fold --events 500000
  baldur-journal bench stats --events 10000000 --tail 500000
  baldur-journal bench report"
)]
pub struct BenchArgs {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Appends from P producer threads, one entry per call, under a durability policy
    Append(AppendBench),
    /// Replays a journal of N records: borrowed (every CRC checked) and to owned entries
    Replay(ReadBench),
    /// `count` and `query` (limit 1000, exact total) for one filter over N records, against
    /// SQLite with the reference's schema in the same run
    Query(QueryBench),
    /// Opens a journal of N records after a clean close
    Open(ReadBench),
    /// Folds the DLQ statistics over N DLQ events, against decoding them to owned entries
    Fold(FoldBench),
    /// `stats status` on N DLQ events: a full fold against a snapshot plus the events after it
    Stats(StatsBench),
    /// `report --html` over a journal like the demo's, against a full fold of the same journal
    Report(ReportBench),
}

#[derive(Args)]
struct ReportBench {
    /// DLQ entries (as `demo --entries`)
    #[arg(long, value_name = "N", default_value_t = 40_000)]
    entries: u64,
    /// Circuit-breaker, error-budget and emergency events (as `demo --events`)
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    events: u64,
    /// Simulated days (as `demo --days`)
    #[arg(long, value_name = "DAYS", default_value_t = 35, value_parser = clap::value_parser!(u64).range(1..=3650))]
    days: u64,
    /// Print one JSON line
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AppendBench {
    /// Entries appended in all
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Producer threads, each appending its share one entry per call
    #[arg(long, value_name = "P", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=4096))]
    producers: u64,
    /// When an append is acknowledged: always (fdatasync first), every:N (sync every N
    /// records), interval:MS (sync at most every MS ms) or os (leave it to the OS)
    #[arg(long, value_name = "POLICY", default_value = "always", value_parser = open::parse_durability)]
    durability: Durability,
    #[command(flatten)]
    record: RecordArgs,
}

#[derive(Args)]
struct ReadBench {
    /// Records in the journal built for the bench
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    #[command(flatten)]
    record: RecordArgs,
}

#[derive(Args)]
struct QueryBench {
    #[command(flatten)]
    read: ReadBench,
    /// The filter: type (an event type in 1% of the records), service (one of ten
    /// services), region (one of ten regions), window (two seconds of event time),
    /// appended (two seconds of append time), context (a context entry_id held by 1 in
    /// 10,000)
    #[arg(long, value_enum, default_value = "type")]
    filter: QueryKind,
}

/// The filters `bench query` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum QueryKind {
    Type,
    Service,
    Region,
    Window,
    Appended,
    Context,
}

#[derive(Args)]
struct RecordArgs {
    /// Encoded size of each record, frame header included
    #[arg(long, value_name = "B", default_value_t = 200)]
    record_bytes: u64,
    /// Print one JSON line instead of the summary
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct StatsBench {
    /// DLQ events in the journal built for the bench (about 5 per DLQ entry)
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Events appended after the snapshot (the tail a reopen folds)
    #[arg(long, value_name = "T", default_value_t = 100_000)]
    tail: u64,
    /// Print one JSON line instead of the summary
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct FoldBench {
    /// DLQ events in the journal built for the bench (about 5 per DLQ entry)
    #[arg(long, value_name = "N", default_value_t = 500_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Print one JSON line instead of the summary
    #[arg(long)]
    json: bool,
}

pub fn run_bench(globals: &Globals, args: &BenchArgs) -> Result<Outcome> {
    globals.require_file("bench")?;
    let scratch = Scratch::new(globals.dir_given.then_some(globals.dir.as_path()))?;
    let report = match &args.bench {
        Bench::Append(bench) => bench_append(&scratch, bench)?,
        Bench::Replay(bench) => bench_replay(&scratch, bench)?,
        Bench::Query(bench) => bench_query(&scratch, &bench.read, bench.filter)?,
        Bench::Open(bench) => bench_open(&scratch, bench)?,
        Bench::Fold(bench) => bench_fold(&scratch, bench)?,
        Bench::Stats(bench) => bench_stats(&scratch, bench)?,
        Bench::Report(bench) => bench_report(&scratch, bench)?,
    };
    let json = match &args.bench {
        Bench::Append(b) => b.record.json,
        Bench::Replay(b) | Bench::Open(b) => b.record.json,
        Bench::Query(b) => b.read.record.json,
        Bench::Fold(b) => b.json,
        Bench::Stats(b) => b.json,
        Bench::Report(b) => b.json,
    };
    let mut out = output::stdout();
    if json {
        writeln!(out, "{}", Value::Object(report.fields))?;
    } else {
        for line in &report.summary {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// What a bench found: its JSON fields and its readable lines.
struct Report {
    fields: Map<String, Value>,
    summary: Vec<String>,
}

impl Report {
    /// The fields every bench reports, from `events` of `bytes` bytes in
    /// all done in `seconds`.
    fn new(bench: &str, events: u64, bytes: u64, seconds: f64) -> Self {
        let seconds = seconds.max(1e-9);
        let mut fields = Map::new();
        fields.insert("bench".into(), bench.into());
        fields.insert("events".into(), events.into());
        fields.insert("seconds".into(), seconds.into());
        fields.insert("events_per_s".into(), (events as f64 / seconds).into());
        fields.insert("mb_per_s".into(), (bytes as f64 / seconds / 1e6).into());
        Report {
            fields,
            summary: Vec::new(),
        }
    }

    fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.into(), value.into());
    }

    fn line(&mut self, line: String) {
        self.summary.push(line);
    }

    /// The throughput line of the summary.
    fn rate_line(&mut self, what: &str) {
        let (events, seconds) = (&self.fields["events"], &self.fields["seconds"]);
        let line = format!(
            "{what}: {events} events in {:.3} s = {} events/s, {:.1} MB/s",
            seconds.as_f64().unwrap_or(0.0),
            rate(self.fields["events_per_s"].as_f64().unwrap_or(0.0)),
            self.fields["mb_per_s"].as_f64().unwrap_or(0.0),
        );
        self.line(line);
    }
}

/// A rate with a k or M suffix.
fn rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k", per_s / 1e3)
    } else {
        format!("{per_s:.0}")
    }
}

// ---------------------------------------------------------------------
// The scratch directory.

/// A directory of its own for one bench run, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(parent: Option<&Path>) -> Result<Self> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let nanos = Timestamp::now().as_unix_nanos();
        let dir = parent.join(format!("baldur-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the bench directory {}", dir.display()))?;
        Ok(Scratch(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn journal_dir(&self) -> PathBuf {
        self.0.join("journal")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------
// Records of a given size.

/// Event types of the bench records: the first in 1% of them.
const EVENT_TYPES: [&str; 5] = [
    "emergency_level_changed",
    "dlq_store",
    "circuit_breaker_opened",
    "dlq_resolve",
    "error_budget_critical",
];

fn frame_len(entry: &JournalEntry) -> Result<u64> {
    let mut body = Vec::new();
    codec::encode_body(entry, &mut body)?;
    Ok((FRAME_HEADER_LEN + body.len()) as u64)
}

/// The event time of record 0; record `i`'s is `i` ms later.
const FIRST_EVENT_NS: i64 = 1_700_000_000_000_000_000;
/// The append time of record 0; record `i`'s is `i` ms later (kept by
/// [`build`], as an import keeps them).
const FIRST_APPEND_NS: i64 = 1_800_000_000_000_000_000;

/// Record `i`: [`EVENT_TYPES`]`[0]` when `i` is a multiple of 100, else
/// one of the others in turn; ten services in turn (`service-0N`, N = i
/// mod 10); ten regions in runs of ten (`region-N`, N = i / 10 mod 10);
/// event time `i` ms after [`FIRST_EVENT_NS`]; a context `entry_id` of
/// `dlq-NNNNN` (N = i mod 10,000), padded so the frame is `bytes` long.
fn record(i: u64, bytes: u64) -> Result<JournalEntry> {
    let event_type = if i.is_multiple_of(100) {
        EVENT_TYPES[0]
    } else {
        EVENT_TYPES[1 + (i % 4) as usize]
    };
    let base = JournalEntry::new(
        event_type,
        "bench",
        Timestamp::from_unix_nanos(FIRST_EVENT_NS + i as i64 * 1_000_000),
        format!("service-{:02}", i % 10),
    )
    .with_region(format!("region-{}", (i / 10) % 10));
    let context = |pad: usize| {
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-{:05}","pad":"{}"}}"#,
            i % 10_000,
            "x".repeat(pad)
        ))
    };
    let smallest = frame_len(&base.clone().with_context(context(0)?))?;
    if bytes < smallest || bytes > DEFAULT_MAX_RECORD_BYTES {
        bail!(
            "--record-bytes {bytes} is outside what this bench can write: {smallest} (its \
             smallest record) to {DEFAULT_MAX_RECORD_BYTES}"
        );
    }
    let pad = usize::try_from(bytes - smallest)?;
    let mut entry = base.with_context(context(pad)?);
    entry.appended_at = Some(Timestamp::from_unix_nanos(
        FIRST_APPEND_NS + i as i64 * 1_000_000,
    ));
    Ok(entry)
}

/// Builds a journal of `n` records made by `make` (appended in batches
/// under `Durability::Os` at sequences 1..=n, keeping the records' append
/// times when they all have one, then synced) and returns it open
/// (writer).
fn build(
    dir: &Path,
    n: u64,
    mut make: impl FnMut(u64) -> Result<JournalEntry>,
) -> Result<DiskJournal> {
    let journal = DiskJournal::builder(dir)
        .durability(Durability::Os)
        .open()?;
    let mut batch = Vec::with_capacity(1024);
    let mut next = 1;
    for i in 0..n {
        batch.push(make(i)?);
        if batch.len() == batch.capacity() {
            journal.append_batch_at(next, &batch)?;
            next += batch.len() as u64;
            batch.clear();
        }
    }
    journal.append_batch_at(next, &batch)?;
    journal.sync()?;
    Ok(journal)
}

/// The median time of `runs` calls of `run`; what a call returns is
/// dropped after its time is taken.
fn median_time<T>(runs: usize, mut run: impl FnMut() -> Result<T>) -> Result<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let done = run()?;
        times.push(started.elapsed().as_secs_f64());
        drop(done);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

// ---------------------------------------------------------------------
// bench append.

/// The value at `per_mille` of sorted `values`.
fn percentile(sorted: &[u64], per_mille: usize) -> u64 {
    sorted[(sorted.len() * per_mille / 1000).min(sorted.len() - 1)]
}

fn check_seen(seen: u64, expected: u64) -> Result<()> {
    if seen != expected {
        bail!("replay read {seen} records where {expected} were appended");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_asked_size_and_one_in_a_hundred_is_rare() {
        for bytes in [160, 200, 4096] {
            for i in [0, 1, 99, 100, 12345] {
                let entry = record(i, bytes).unwrap();
                assert_eq!(frame_len(&entry).unwrap(), bytes, "record {i}");
                assert_eq!(entry.event_type == EVENT_TYPES[0], i % 100 == 0);
            }
        }
        assert!(record(0, 10).is_err());
    }

    #[test]
    fn percentiles_pick_from_the_sorted_values() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 500), 51);
        assert_eq!(percentile(&values, 990), 100);
        assert_eq!(percentile(&[7], 990), 7);
    }
}
