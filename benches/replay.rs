//! Reading a journal of 1,000,000 records of 200 bytes back: borrowed
//! replay (`range_ref`), owned replay (`range_iter`), counts that scan and
//! counts answered from segment summaries, and a narrow time-window query.
//!
//! Run: `cargo bench --bench replay -- --noplot`
//!
//! The journal is built once (under `Durability::Os`, in batches) before
//! anything is measured, in `target/bench-tmp`, and read back through the
//! writer's own handle, so the segment files are in the page cache: these
//! are figures for the CPU side of reading, not for cold disk reads.

use std::cell::OnceCell;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use baldur_journal::{
    Context, DiskJournal, Durability, EventJournal, JournalEntry, JournalQueryFilter, Timestamp,
};
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group};
use criterion::{criterion_main, measurement::WallTime};
use tempfile::TempDir;

mod common;
use common::bench_dir;

/// Records in the journal.
const RECORDS: u64 = 1_000_000;
/// Segment size: 16 MiB, so the journal spans a dozen segments and the
/// summaries of the sealed ones have something to answer.
const SEGMENT_BYTES: u64 = 16 << 20;
/// Entries per `append_batch` while building.
const BUILD_BATCH: u64 = 1024;
/// Event time of record 0; record `i` happens `i` milliseconds later.
const FIRST_EVENT_NANOS: i64 = 1_700_000_000_000_000_000;
const MILLI: i64 = 1_000_000;

const EVENT_TYPES: [&str; 4] = [
    "dlq_store",
    "circuit_breaker_opened",
    "dlq_resolve",
    "error_budget_critical",
];
const SERVICES: u64 = 10;

/// Record `i`: one of 4 event types and 10 services in turn, event time
/// `i` ms after the first, the context padded so the frame is 200 bytes.
fn record_of_200_bytes(i: u64) -> JournalEntry {
    let base = JournalEntry::new(
        EVENT_TYPES[(i % EVENT_TYPES.len() as u64) as usize],
        "consumer",
        Timestamp::from_unix_nanos(FIRST_EVENT_NANOS + i as i64 * MILLI),
        format!("service-{:02}", i % SERVICES),
    )
    .with_region("eu-west-1")
    .with_tier_id("tier-1");
    common::padded_to_record_bytes(base, |pad| {
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-{i:07}","attempt":{},"pad":"{}"}}"#,
            i % 5,
            "x".repeat(pad)
        ))
        .expect("valid context")
    })
}

/// Builds the journal of [`RECORDS`] records; returns it open (writer).
fn journal_of_a_million_records(dir: &Path) -> DiskJournal {
    let journal = DiskJournal::builder(dir)
        .durability(Durability::Os)
        .segment_bytes(SEGMENT_BYTES)
        .open()
        .expect("open the journal");
    let mut i = 0;
    while i < RECORDS {
        let batch: Vec<JournalEntry> = (i..(i + BUILD_BATCH).min(RECORDS))
            .map(record_of_200_bytes)
            .collect();
        journal.append_batch(&batch).expect("append_batch");
        i += batch.len() as u64;
    }
    journal.sync().expect("sync");
    assert_eq!(journal.get_latest_sequence().expect("latest"), RECORDS);
    journal
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat);
}

fn replay_and_count_a_million_records(c: &mut Criterion) {
    // Built on first use, so listing or filtering the benches costs nothing.
    let built: OnceCell<(TempDir, DiskJournal)> = OnceCell::new();
    // The closures below get it before `b.iter`, outside the timing.
    let journal = || {
        &built
            .get_or_init(|| {
                let dir = bench_dir();
                let started = std::time::Instant::now();
                let journal = journal_of_a_million_records(dir.path());
                let segments = std::fs::read_dir(dir.path())
                    .expect("read the journal directory")
                    .filter(|e| {
                        e.as_ref()
                            .is_ok_and(|e| e.path().extension() == Some("log".as_ref()))
                    })
                    .count();
                eprintln!(
                    "built {RECORDS} records in {segments} segments in {:.2} s",
                    started.elapsed().as_secs_f64()
                );
                (dir, journal)
            })
            .1
    };
    let expected_sum = RECORDS * (RECORDS + 1) / 2;

    let mut group = c.benchmark_group("replay a journal of 1,000,000 records");
    configure(&mut group);
    group.throughput(Throughput::Elements(RECORDS));

    group.bench_function("range_ref (borrowed, CRC checked)", |b| {
        let journal = journal();
        b.iter(|| {
            let mut range = journal.range_ref(1, u64::MAX).expect("range_ref");
            let mut sum = 0u64;
            while let Some(record) = range.next_entry() {
                sum += record.expect("record").sequence;
            }
            assert_eq!(sum, expected_sum);
            black_box(sum)
        })
    });

    group.bench_function("range_iter (owned JournalEntry)", |b| {
        let journal = journal();
        b.iter(|| {
            let mut sum = 0u64;
            for entry in journal.range_iter(1, u64::MAX).expect("range_iter") {
                sum += black_box(entry.expect("entry")).sequence;
            }
            assert_eq!(sum, expected_sum);
            black_box(sum)
        })
    });

    let by_service = JournalQueryFilter {
        service_name: Some("service-03".into()),
        ..Default::default()
    };
    group.bench_function("count by service_name (scans)", |b| {
        let journal = journal();
        b.iter(|| {
            let n = journal.count(black_box(&by_service)).expect("count");
            assert_eq!(n, RECORDS / SERVICES);
            n
        })
    });

    let by_type = JournalQueryFilter {
        event_types: Some(vec!["dlq_store".into()]),
        ..Default::default()
    };
    group.bench_function("count by event type (segment summaries)", |b| {
        let journal = journal();
        b.iter(|| {
            let n = journal.count(black_box(&by_type)).expect("count");
            assert_eq!(n, RECORDS / EVENT_TYPES.len() as u64);
            n
        })
    });
    group.finish();

    // A 2-second window in the middle: 2,000 matches, the first 1,000 returned.
    let window_start = FIRST_EVENT_NANOS + (RECORDS as i64 / 2) * MILLI;
    let in_window = JournalQueryFilter {
        start_time: Some(Timestamp::from_unix_nanos(window_start)),
        end_time: Some(Timestamp::from_unix_nanos(window_start + 2_000 * MILLI)),
        limit: 1000,
        ..Default::default()
    };
    let mut group = c.benchmark_group("query a journal of 1,000,000 records");
    configure(&mut group);
    group.throughput(Throughput::Elements(1000));
    group.bench_function(
        "2 s window, limit 1000 (elements = entries returned)",
        |b| {
            let journal = journal();
            b.iter(|| {
                let result = journal.query(black_box(&in_window)).expect("query");
                assert_eq!(result.entries.len(), 1000);
                assert_eq!(result.total_count, 2000);
                result
            })
        },
    );
    group.finish();

    if let Some((_dir, journal)) = built.get() {
        journal.close().expect("close");
    }
}

criterion_group!(benches, replay_and_count_a_million_records);
criterion_main!(benches);
