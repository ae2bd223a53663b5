//! A full rebuild of the statistics projection: `JournalStatistics` folding
//! a journal of 5,000,000 DLQ and circuit-breaker events from sequence 1.
//!
//! The peer in the same run (goal 7 of issue 8): decoding the same
//! records to owned entries through `range_iter`.
//!
//! Run: `cargo bench --bench fold -- --noplot`
//! (`BALDUR_FOLD_EVENTS=500000` for a shorter run.)
//!
//! The journal is built once, before anything is measured, as a
//! `DiskJournal` under `Durability::Os` in `target/bench-tmp`, and folded
//! through the writer's own handle, so its segment files are in the page
//! cache: this measures the CPU side of a rebuild (CRC checks, decoding,
//! JSON parsing of every context, the state machine), not cold disk reads.
//!
//! The workload: entries in blocks of 1024, each block's events interleaved
//! as a live DLQ would write them: every entry stored, 0 to 2 failed replay
//! attempts, then a success, an escalation and manual resolution, a
//! rejection, or nothing (still pending); an audit link for every 5th entry,
//! a runtime snapshot for every 7th, and a circuit-breaker transition every
//! 50 events. About 4.9 events per entry, so about a million entries.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baldur_journal::projection::{
    AuditLink, BreakerEvent, BreakerTransition, JournalStatistics, LifecycleEvent, LifecycleKind,
    StatisticsRepository, StoreEvent, events,
};
use baldur_journal::{DiskJournal, Durability, EventJournal, JournalEntry, Timestamp};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

use baldur_bench_support as common;
use common::bench_dir;

/// Events in the journal, unless `BALDUR_FOLD_EVENTS` says otherwise.
const DEFAULT_EVENTS: u64 = 5_000_000;
/// Entries whose events are interleaved.
const BLOCK_ENTRIES: u64 = 1024;
/// Event time of the first event; each later one 500 microseconds on.
const FIRST_EVENT_NANOS: i64 = 1_735_689_600_000_000_000;
const STEP_NANOS: i64 = 500_000;
const DOMAINS: [&str; 6] = [
    "payments",
    "orders",
    "notification",
    "data_sync",
    "async_task",
    "custom",
];
const FAILURE_TYPES: [&str; 4] = [
    "timeout",
    "validation_error",
    "connection_error",
    "http_503",
];

fn events_wanted() -> u64 {
    common::env_u64("BALDUR_FOLD_EVENTS", DEFAULT_EVENTS)
}

/// The events of entries `first..first + BLOCK_ENTRIES`, in journal order,
/// without timestamps yet.
fn block(first: u64) -> Vec<Box<dyn Fn(Timestamp) -> JournalEntry>> {
    let ids: Vec<String> = (first..first + BLOCK_ENTRIES)
        .map(|i| format!("dlq-{i:08}"))
        .collect();
    let mut out: Vec<Box<dyn Fn(Timestamp) -> JournalEntry>> = Vec::new();
    for (offset, id) in ids.iter().enumerate() {
        let i = first + offset as u64;
        let mut store = StoreEvent::new(
            id.clone(),
            DOMAINS[(i % 6) as usize],
            FAILURE_TYPES[(i % 4) as usize],
        );
        store.entity_type = Some("order".into());
        store.entity_id = Some(format!("order-{i}"));
        store.error_code = format!("E{}", i % 17);
        store.error_message = "upstream timed out after 30s".into();
        store.snapshot_data.insert("order_id".into(), json!(i));
        out.push(Box::new(move |at| store.to_entry(at)));
    }
    let step = |kind: LifecycleKind, id: &str| -> Box<dyn Fn(Timestamp) -> JournalEntry> {
        let event = LifecycleEvent::new(kind, id).by("replay-worker");
        Box::new(move |at| event.to_entry(at))
    };
    for round in 0..2 {
        for (offset, id) in ids.iter().enumerate() {
            if (first + offset as u64) % 3 > round {
                out.push(step(LifecycleKind::ReplayStart, id));
                out.push(step(LifecycleKind::ReplayFailed, id));
            }
        }
    }
    for (offset, id) in ids.iter().enumerate() {
        let i = first + offset as u64;
        match i % 4 {
            0 => {
                out.push(step(LifecycleKind::ReplayStart, id));
                out.push(step(LifecycleKind::ReplaySuccess, id));
            }
            1 => {
                out.push(step(LifecycleKind::Escalate, id));
                out.push(step(LifecycleKind::Resolve, id));
            }
            2 => out.push(step(LifecycleKind::Reject, id)),
            _ => {}
        }
        if i.is_multiple_of(5) {
            let mut link = AuditLink::new(id.clone(), "replay");
            link.audit_record_hash = Some(format!("{:064x}", i));
            out.push(Box::new(move |at| link.to_entry(at)));
        }
        if i.is_multiple_of(7) {
            let snapshot: Map<String, Value> = match json!({
                "id": id, "domain": DOMAINS[(i % 6) as usize], "failure_type": "timeout",
                "status": "resolved", "retry_count": 2, "resolved_at": "2025-01-01T00:00:00Z",
                "metadata": {"source": "sync"},
            }) {
                Value::Object(map) => map,
                _ => unreachable!(),
            };
            let id = id.clone();
            out.push(Box::new(move |at| events::dlq_persist(&id, &snapshot, at)));
        }
    }
    out
}

/// Builds the journal; returns it open (writer) with its event count.
fn build(dir: &Path, wanted: u64) -> DiskJournal {
    let journal = DiskJournal::builder(dir)
        .durability(Durability::Os)
        .open()
        .expect("open the journal");
    let mut batch: Vec<JournalEntry> = Vec::with_capacity(1024);
    let mut written = 0u64;
    let mut push = |make: &dyn Fn(Timestamp) -> JournalEntry| {
        let at = Timestamp::from_unix_nanos(FIRST_EVENT_NANOS + written as i64 * STEP_NANOS);
        batch.push(make(at));
        written += 1;
        if batch.len() == batch.capacity() {
            journal.append_batch(&batch).expect("append_batch");
            batch.clear();
        }
        written
    };
    const TRANSITIONS: [BreakerTransition; 3] = [
        BreakerTransition::Opened,
        BreakerTransition::HalfOpened,
        BreakerTransition::Closed,
    ];
    let mut next_entry = 0u64;
    let mut done = 0u64;
    'outer: loop {
        for make in block(next_entry) {
            if done == wanted {
                break 'outer;
            }
            done = push(&*make);
            if done % 50 == 49 && done < wanted {
                let transition = TRANSITIONS[((done / 50) % 3) as usize];
                let mut event =
                    BreakerEvent::new(transition, format!("service-{}", (done / 150) % 20));
                event.window_failure_count = Some(5);
                done = push(&move |at| event.to_entry(at));
            }
        }
        next_entry += BLOCK_ENTRIES;
    }
    journal.append_batch(&batch).expect("append_batch");
    journal.sync().expect("sync");
    assert_eq!(journal.get_latest_sequence().expect("latest"), wanted);
    journal
}

fn full_rebuild(c: &mut Criterion) {
    let wanted = events_wanted();
    let dir = bench_dir();
    let started = Instant::now();
    let journal = Arc::new(build(dir.path(), wanted));
    let info = journal.info().expect("info");
    eprintln!(
        "built {wanted} events in {} segments ({:.0} MiB) in {:.1} s",
        info.segments.len(),
        info.segments.iter().map(|s| s.log_bytes).sum::<u64>() as f64 / f64::from(1 << 20),
        started.elapsed().as_secs_f64()
    );

    // One rebuild outside criterion, to show what was folded.
    let started = Instant::now();
    let statistics = JournalStatistics::new(journal.clone());
    let summary = statistics.refresh().expect("fold");
    let elapsed = started.elapsed().as_secs_f64();
    let cleanup = statistics.get_cleanup_stats().expect("cleanup");
    eprintln!(
        "one rebuild: {} records ({} skipped, {} malformed, {} orphaned) into {} entries {:?} in {elapsed:.2} s = {:.0} events/s",
        summary.records,
        summary.skipped,
        summary.malformed,
        summary.orphaned,
        cleanup.total,
        cleanup.by_status,
        wanted as f64 / elapsed
    );
    assert_eq!(summary.records, wanted);
    drop(statistics);

    let mut group = c.benchmark_group("fold");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(wanted));
    group.bench_function(
        format!("a full rebuild of {wanted} events from a DiskJournal"),
        |b| {
            b.iter_with_large_drop(|| {
                let statistics = JournalStatistics::new(journal.clone());
                let summary = statistics.refresh().expect("fold");
                assert_eq!(summary.records, wanted);
                black_box(statistics)
            })
        },
    );
    // Goal 7's peer, in the same run: decoding the same records to owned
    // entries, the least a fold must do.
    group.bench_function(
        format!("decode the same {wanted} records to owned entries (range_iter)"),
        |b| {
            b.iter(|| {
                let mut decoded = 0u64;
                for entry in journal.range_iter(1, u64::MAX).expect("range_iter") {
                    black_box(entry.expect("entry"));
                    decoded += 1;
                }
                assert_eq!(decoded, wanted);
                decoded
            })
        },
    );
    group.finish();
}

criterion_group!(benches, full_rebuild);
criterion_main!(benches);
