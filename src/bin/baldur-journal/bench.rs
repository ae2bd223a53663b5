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
use baldur_journal::{JournalQueryFilter, Timestamp};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use crate::Outcome;
use crate::dlq_sim::dlq_events;
use crate::open::{self, Globals};
use crate::output;

#[derive(Args)]
#[command(
    about = "Measure appends, replay, queries, open and fold on this machine",
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
  baldur-journal bench fold --events 500000"
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
    /// `count` and `query` (limit 1000, exact total) for an event type in 1% of N records
    Query(ReadBench),
    /// Opens a journal of N records after a clean close
    Open(ReadBench),
    /// Folds the DLQ statistics over N DLQ events, against decoding them to owned entries
    Fold(FoldBench),
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
struct RecordArgs {
    /// Encoded size of each record, frame header included
    #[arg(long, value_name = "B", default_value_t = 200)]
    record_bytes: u64,
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
        Bench::Query(bench) => bench_query(&scratch, bench)?,
        Bench::Open(bench) => bench_open(&scratch, bench)?,
        Bench::Fold(bench) => bench_fold(&scratch, bench)?,
    };
    let json = match &args.bench {
        Bench::Append(b) => b.record.json,
        Bench::Replay(b) | Bench::Query(b) | Bench::Open(b) => b.record.json,
        Bench::Fold(b) => b.json,
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

/// Record `i`: [`EVENT_TYPES`]`[0]` when `i` is a multiple of 100, else
/// one of the others in turn; ten services in turn; event time `i` ms
/// after a fixed start; its context padded so its frame is `bytes` long.
fn record(i: u64, bytes: u64) -> Result<JournalEntry> {
    let event_type = if i.is_multiple_of(100) {
        EVENT_TYPES[0]
    } else {
        EVENT_TYPES[1 + (i % 4) as usize]
    };
    let base = JournalEntry::new(
        event_type,
        "bench",
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + i as i64 * 1_000_000),
        format!("service-{:02}", i % 10),
    )
    .with_region("eu-west-1");
    let context = |pad: u64| {
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-{i:07}","pad":"{}"}}"#,
            "x".repeat(pad as usize)
        ))
    };
    let smallest = frame_len(&base.clone().with_context(context(0)?))?;
    if bytes < smallest || bytes > DEFAULT_MAX_RECORD_BYTES {
        bail!(
            "--record-bytes {bytes} is outside what this bench can write: {smallest} (its \
             smallest record) to {DEFAULT_MAX_RECORD_BYTES}"
        );
    }
    Ok(base.with_context(context(bytes - smallest)?))
}

/// Builds a journal of `n` records made by `make` (appended in batches
/// under `Durability::Os`, then synced) and returns it open (writer).
fn build(
    dir: &Path,
    n: u64,
    mut make: impl FnMut(u64) -> Result<JournalEntry>,
) -> Result<DiskJournal> {
    let journal = DiskJournal::builder(dir)
        .durability(Durability::Os)
        .open()?;
    let mut batch = Vec::with_capacity(1024);
    for i in 0..n {
        batch.push(make(i)?);
        if batch.len() == batch.capacity() {
            journal.append_batch(&batch)?;
            batch.clear();
        }
    }
    journal.append_batch(&batch)?;
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

fn bench_append(scratch: &Scratch, bench: &AppendBench) -> Result<Report> {
    let bytes = bench.record.record_bytes;
    let entry = record(0, bytes)?;
    let durability = bench.durability;
    let policy = durability.to_string();
    let journal = DiskJournal::builder(scratch.journal_dir())
        .durability(durability)
        .open()?;

    // Producer k appends its share; each append timed from call to ack.
    let producers = bench.producers;
    let share = |k: u64| bench.events / producers + u64::from(k < bench.events % producers);
    let start_line = Barrier::new(producers as usize + 1);
    let before = journal.write_stats();
    let (latencies, seconds) = std::thread::scope(|scope| -> Result<(Vec<u64>, f64)> {
        let workers: Vec<_> = (0..producers)
            .map(|k| {
                let (journal, entry, start_line) = (&journal, &entry, &start_line);
                scope.spawn(move || -> baldur_journal::Result<Vec<u64>> {
                    let mut acks = Vec::with_capacity(share(k) as usize);
                    start_line.wait();
                    for _ in 0..share(k) {
                        let called = Instant::now();
                        journal.append(entry)?;
                        acks.push(called.elapsed().as_nanos() as u64);
                    }
                    Ok(acks)
                })
            })
            .collect();
        start_line.wait();
        let started = Instant::now();
        let mut latencies = Vec::with_capacity(bench.events as usize);
        for worker in workers {
            let acks = worker
                .join()
                .map_err(|_| anyhow::anyhow!("a producer thread panicked"))??;
            latencies.extend(acks);
        }
        Ok((latencies, started.elapsed().as_secs_f64()))
    })?;
    let synced = journal.write_stats().syncs - before.syncs;
    journal.close()?;

    let mut latencies = latencies;
    latencies.sort_unstable();
    let mean_batch = (synced > 0).then(|| bench.events as f64 / synced as f64);
    let mut report = Report::new("append", bench.events, bench.events * bytes, seconds);
    report.set("producers", producers);
    report.set("durability", policy.as_str());
    report.set("record_bytes", bytes);
    report.set("ack_p50_us", percentile(&latencies, 500) as f64 / 1e3);
    report.set("ack_p99_us", percentile(&latencies, 990) as f64 / 1e3);
    report.set("syncs", synced);
    report.set("mean_batch", mean_batch);

    // The raw peer: the same bytes into a pre-written file in the same
    // directory, at the batch size the journal achieved (the whole run in
    // one batch when it did not sync).
    let raw_batch = mean_batch
        .map_or(bench.events, |mean| mean.round().max(1.0) as u64)
        .min(RAW_FILE_BYTES / bytes)
        .max(1);
    let raw_rate = raw_pwrite_fdatasync(scratch.path(), bytes, raw_batch, bench.events)?;
    let events_per_s = report.fields["events_per_s"].as_f64().unwrap_or(0.0);
    report.set("raw_batch", raw_batch);
    report.set("raw_events_per_s", raw_rate);
    report.set("ratio_to_raw", events_per_s / raw_rate);

    report.line(format!(
        "bench append: {} events of {bytes} bytes from {producers} producer{}, durability {policy}, in {}",
        bench.events,
        if producers == 1 { "" } else { "s" },
        scratch.path().display()
    ));
    report.rate_line("appended");
    report.line(format!(
        "ack latency: p50 {:.1} µs, p99 {:.1} µs",
        percentile(&latencies, 500) as f64 / 1e3,
        percentile(&latencies, 990) as f64 / 1e3
    ));
    report.line(match mean_batch {
        Some(mean) => format!("{mean:.1} records per fdatasync ({synced} syncs of segment files)"),
        None => "no fdatasync of a segment file during the run".into(),
    });
    report.line(format!(
        "raw pwrite + fdatasync into a pre-written file in the same directory, {raw_batch} \
         record{} per sync: {} records/s",
        if raw_batch == 1 { "" } else { "s" },
        rate(raw_rate)
    ));
    report.line(format!("ratio: {:.2} of raw", events_per_s / raw_rate));
    Ok(report)
}

/// The largest pre-written file of the raw peer (its writes wrap around).
const RAW_FILE_BYTES: u64 = 64 << 20;

/// Records per second of raw `pwrite` + `fdatasync` of `batch` records of
/// `bytes` bytes at a time into a file written (and synced) beforehand,
/// for about `events` records.
fn raw_pwrite_fdatasync(dir: &Path, bytes: u64, batch: u64, events: u64) -> Result<f64> {
    let path = dir.join("raw-peer.dat");
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let file_bytes = (events * bytes).clamp(1 << 20, RAW_FILE_BYTES);
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < file_bytes {
        let n = (file_bytes - at).min(zeros.len() as u64);
        file.write_all_at(&zeros[..n as usize], at)?;
        at += n;
    }
    file.sync_all()?;
    let buffer = vec![b'r'; (batch * bytes) as usize];
    let rounds = events.div_ceil(batch);
    let wrap = file_bytes - buffer.len() as u64 + 1;
    let mut at = 0u64;
    let started = Instant::now();
    for _ in 0..rounds {
        file.write_all_at(&buffer, at)?;
        file.sync_data()?;
        at = (at + buffer.len() as u64) % wrap;
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    drop(file);
    std::fs::remove_file(&path)?;
    Ok((rounds * batch) as f64 / seconds)
}

// ---------------------------------------------------------------------
// bench replay, query, open.

fn build_records(scratch: &Scratch, bench: &ReadBench) -> Result<DiskJournal> {
    let bytes = bench.record.record_bytes;
    record(0, bytes)?;
    build(&scratch.journal_dir(), bench.events, |i| record(i, bytes))
}

fn bench_replay(scratch: &Scratch, bench: &ReadBench) -> Result<Report> {
    let journal = build_records(scratch, bench)?;
    let borrowed = || -> Result<()> {
        let mut range = journal.range_ref(1, u64::MAX)?;
        let mut seen = 0;
        while let Some(record) = range.next_entry() {
            record?;
            seen += 1;
        }
        check_seen(seen, bench.events)
    };
    let owned = || -> Result<()> {
        let mut seen = 0;
        for entry in journal.range_iter(1, u64::MAX)? {
            entry?;
            seen += 1;
        }
        check_seen(seen, bench.events)
    };
    borrowed()?; // warm
    let seconds = median_time(3, borrowed)?;
    let owned_seconds = median_time(3, owned)?;
    journal.close()?;

    let bytes = bench.events * bench.record.record_bytes;
    let mut report = Report::new("replay", bench.events, bytes, seconds);
    report.set("record_bytes", bench.record.record_bytes);
    report.set("owned_seconds", owned_seconds);
    report.set(
        "owned_events_per_s",
        bench.events as f64 / owned_seconds.max(1e-9),
    );
    report.line(format!(
        "bench replay: a journal of {} records of {} bytes, from the page cache (median of 3)",
        bench.events, bench.record.record_bytes
    ));
    report.rate_line("borrowed (range_ref, every CRC checked)");
    report.line(format!(
        "owned (range_iter, JournalEntry): {:.3} s = {} events/s",
        owned_seconds,
        rate(bench.events as f64 / owned_seconds.max(1e-9))
    ));
    Ok(report)
}

fn check_seen(seen: u64, expected: u64) -> Result<()> {
    if seen != expected {
        bail!("replay read {seen} records where {expected} were appended");
    }
    Ok(())
}

fn bench_query(scratch: &Scratch, bench: &ReadBench) -> Result<Report> {
    let journal = build_records(scratch, bench)?;
    let filter = JournalQueryFilter {
        event_types: Some(vec![EVENT_TYPES[0].into()]),
        limit: 1000,
        ..Default::default()
    };
    let matches = bench.events.div_ceil(100);
    let count_seconds = median_time(5, || {
        let n = journal.count(&filter)?;
        if n != matches {
            bail!("count gave {n} where {matches} records match");
        }
        Ok(())
    })?;
    let mut returned = 0;
    let seconds = median_time(5, || {
        let result = journal.query(&filter)?;
        if result.total_count != matches {
            bail!(
                "query's total_count is {} where {matches} records match",
                result.total_count
            );
        }
        returned = result.entries.len();
        Ok(())
    })?;
    journal.close()?;

    let bytes = bench.events * bench.record.record_bytes;
    let mut report = Report::new("query", bench.events, bytes, seconds);
    report.set("record_bytes", bench.record.record_bytes);
    report.set("matches", matches);
    report.set("returned", returned);
    report.set("count_seconds", count_seconds);
    report.line(format!(
        "bench query: event type {:?} in 1% of {} records ({matches} matches), median of 5",
        EVENT_TYPES[0], bench.events
    ));
    report.line(format!(
        "count: {:.3} ms; query, limit 1000, with total_count: {:.3} ms ({returned} returned)",
        count_seconds * 1e3,
        seconds * 1e3
    ));
    report.rate_line("query over the journal");
    Ok(report)
}

fn bench_open(scratch: &Scratch, bench: &ReadBench) -> Result<Report> {
    let dir = scratch.journal_dir();
    build_records(scratch, bench)?.close()?;
    let open = |read_only: bool| {
        median_time(5, || {
            let journal = DiskJournal::builder(&dir).read_only(read_only).open()?;
            let latest = journal.get_latest_sequence()?;
            if latest != bench.events {
                bail!(
                    "the reopened journal ends at {latest}, not {}",
                    bench.events
                );
            }
            // Closed (dropped) once the time is taken.
            Ok(journal)
        })
    };
    let seconds = open(false)?;
    let read_only_seconds = open(true)?;

    let bytes = bench.events * bench.record.record_bytes;
    let mut report = Report::new("open", bench.events, bytes, seconds);
    report.set("record_bytes", bench.record.record_bytes);
    report.set("read_only_seconds", read_only_seconds);
    report.line(format!(
        "bench open: a journal of {} records ({}) after a clean close, median of 5",
        bench.events,
        output::human_bytes(bytes)
    ));
    report.line(format!(
        "writer open + latest sequence: {:.2} ms; read-only: {:.2} ms",
        seconds * 1e3,
        read_only_seconds * 1e3
    ));
    Ok(report)
}

// ---------------------------------------------------------------------
// bench fold.

fn bench_fold(scratch: &Scratch, bench: &FoldBench) -> Result<Report> {
    let start = Timestamp::from_unix_nanos(1_735_689_600_000_000_000);
    let end = Timestamp::from_unix_nanos(start.as_unix_nanos() + 30 * 86_400_000_000_000);
    // About 5 events per DLQ entry; generate enough, keep the first N.
    let mut events = dlq_events(0x5eed, bench.events / 3 + 1, 1, start, end);
    if (events.len() as u64) < bench.events {
        bail!(
            "the DLQ simulation made {} events, fewer than --events",
            events.len()
        );
    }
    events.truncate(bench.events as usize);
    let mut events = events.into_iter();
    let journal = Arc::new(build(&scratch.journal_dir(), bench.events, |_| {
        events.next().context("the simulation ran out of events")
    })?);
    let bytes: u64 = journal.info()?.segments.iter().map(|s| s.log_bytes).sum();

    let seconds = median_time(3, || {
        let statistics = JournalStatistics::new(journal.clone());
        let summary = statistics.refresh()?;
        if summary.records != bench.events {
            bail!(
                "the fold read {} records of {}",
                summary.records,
                bench.events
            );
        }
        Ok(())
    })?;
    let decode_seconds = median_time(3, || {
        let mut seen = 0;
        for entry in journal.range_iter(1, u64::MAX)? {
            entry?;
            seen += 1;
        }
        check_seen(seen, bench.events)
    })?;
    journal.close()?;

    let mut report = Report::new("fold", bench.events, bytes, seconds);
    let decode_rate = bench.events as f64 / decode_seconds.max(1e-9);
    let fold_rate = bench.events as f64 / seconds.max(1e-9);
    report.set("decode_seconds", decode_seconds);
    report.set("decode_events_per_s", decode_rate);
    report.set("ratio_to_decode", fold_rate / decode_rate);
    report.line(format!(
        "bench fold: the DLQ statistics over {} simulated DLQ events, from the page cache (median of 3)",
        bench.events
    ));
    report.rate_line("full fold");
    report.line(format!(
        "decoding the same records to owned entries: {:.3} s = {} events/s; fold/decode ratio {:.2}",
        decode_seconds,
        rate(decode_rate),
        fold_rate / decode_rate
    ));
    Ok(report)
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
