//! Audit chain verification on an all-audit journal: every record is a
//! chained DLQ event (per entity, its `dlq_store` and nine `audit_link`s,
//! written through `JournalStatistics` with keyless SHA-256 chaining, the
//! default), and every chain verified in one pass by
//! `projection::chain::verify_chains`, the pass `verify` runs (each record
//! read from the segment maps, its context read, each hash recomputed from
//! the stored content, each link checked). The peer in the same run (goal
//! 8 of docs/PERFORMANCE.md): raw SHA-256 over the same hashed bytes, the
//! canonical content of every record computed beforehand. The ratio of
//! the two rates is printed at the end.
//!
//! Run: `cargo bench --bench audit -- --noplot`
//! (`BALDUR_AUDIT_EVENTS=1000000` for a larger journal; default 100,000.)
//!
//! The journal is built (`Durability::Os`) and folded once before anything
//! is measured, in `target/bench-tmp`, so verification reads it warm and
//! the fold is not part of the timing.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use baldur_journal::projection::audit::canonical_content;
use baldur_journal::projection::chain::{BATCH_RECORDS, verify_chains, verify_chains_in_batches};
use baldur_journal::projection::{AuditKeyring, AuditLink, JournalStatistics, StoreEvent};
use baldur_journal::{DiskJournal, Durability, EventJournal, JournalEntry, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};

use baldur_bench_support as common;
use common::{FIRST_EVENT_NANOS, MILLI, bench_dir, configure, env_u64};

/// Records in the journal, unless `BALDUR_AUDIT_EVENTS` says otherwise.
const DEFAULT_EVENTS: u64 = 100_000;
/// Chained events per entity: its store and nine audit links.
const EVENTS_PER_ENTITY: u64 = 10;
/// Entities written per `record` call.
const ENTITIES_PER_WRITE: u64 = 100;

/// The events of entity `i`, at event times from `i` ms on.
fn entity_events(i: u64) -> Vec<JournalEntry> {
    let id = format!("dlq-{i:08}");
    let at = |k: u64| Timestamp::from_unix_nanos(FIRST_EVENT_NANOS + (i * 16 + k) as i64 * MILLI);
    let mut store = StoreEvent::new(id.clone(), "payments", "timeout");
    store.error_message = "upstream timed out after 30s".into();
    let mut events = vec![store.to_entry(at(0))];
    for k in 1..EVENTS_PER_ENTITY {
        let mut link = AuditLink::new(id.clone(), "review");
        link.audit_record_hash = Some(format!("{:064x}", i * 16 + k));
        events.push(link.to_entry(at(k)));
    }
    events
}

fn verify_all_chains(c: &mut Criterion) {
    let entities = env_u64("BALDUR_AUDIT_EVENTS", DEFAULT_EVENTS).div_ceil(EVENTS_PER_ENTITY);
    let records = entities * EVENTS_PER_ENTITY;
    let dir = bench_dir();
    let started = Instant::now();
    let journal = Arc::new(
        DiskJournal::builder(dir.path())
            .durability(Durability::Os)
            .open()
            .expect("open the journal"),
    );
    let statistics = JournalStatistics::new(journal.clone());
    for first in (0..entities).step_by(usize::try_from(ENTITIES_PER_WRITE).expect("small")) {
        let events = (first..(first + ENTITIES_PER_WRITE).min(entities))
            .flat_map(entity_events)
            .collect();
        statistics.record(events).expect("record");
    }
    journal.sync().expect("sync");
    assert_eq!(journal.get_latest_sequence().expect("latest"), records);
    statistics.refresh().expect("fold");

    // The hashed bytes of every record, for the peer.
    let contents: Vec<String> = journal
        .range_iter(1, u64::MAX)
        .expect("range_iter")
        .map(|entry| canonical_content(&entry.expect("entry")).expect("canonical content"))
        .collect();
    let hashed_bytes: usize = contents.iter().map(String::len).sum();
    eprintln!(
        "built {records} chained events of {entities} entities in {:.1} s; {} hashed bytes \
         ({:.0} per record)",
        started.elapsed().as_secs_f64(),
        hashed_bytes,
        hashed_bytes as f64 / records as f64
    );
    let keys = AuditKeyring::new();
    let one_pass = || {
        let report = verify_chains(&*journal, &keys).expect("verify");
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.chained_records, records);
        assert_eq!(report.chains, entities);
    };
    one_pass();
    let two_threads = || {
        let report = verify_chains_in_batches(&*journal, &keys, BATCH_RECORDS).expect("verify");
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.chained_records, records);
    };
    let raw = || {
        for content in &contents {
            black_box(Sha256::digest(content.as_bytes()));
        }
    };

    let mut group = c.benchmark_group(format!("audit chains of {records} events"));
    configure(&mut group);
    group.throughput(Throughput::Elements(records));
    group.bench_function("verify_chains (one pass, every chain)", |b| {
        b.iter(one_pass)
    });
    group.bench_function("raw SHA-256 over the same hashed bytes", |b| b.iter(raw));
    group.finish();
    // The ratio, from the best of ten passes of each, the two alternating
    // so that both meet the same load (same run).
    let time = |f: &dyn Fn()| {
        let started = Instant::now();
        f();
        started.elapsed().as_secs_f64()
    };
    let (mut verify, mut pair, mut sha) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for _ in 0..10 {
        verify = verify.min(time(&one_pass));
        pair = pair.min(time(&two_threads));
        sha = sha.min(time(&raw));
    }
    eprintln!(
        "best of 10, alternating: verify_chains_in_batches (two threads) {:.0} records/s \
         (ratio {:.3}); raw SHA-256 {:.0} records/s (one thread); verify_chains (one thread) \
         {:.0} records/s: ratio {:.3}",
        records as f64 / pair,
        sha / pair,
        records as f64 / sha,
        records as f64 / verify,
        sha / verify
    );
    drop(statistics);
    journal.close().expect("close");
}

criterion_group!(benches, verify_all_chains);
criterion_main!(benches);
