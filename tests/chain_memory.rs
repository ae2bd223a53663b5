//! Memory of the audit-chain checks (docs/RELIABILITY.md, "Memory"): the
//! one-pass verifier `verify` runs keeps per-chain state, never records (at
//! most 64 MiB of heap plus 200 bytes per chained entity, whatever the
//! journal's size), and an entity's trail holds only that entity's records.
//! A counting global allocator measures the peak heap above the level
//! before each operation.
//!
//! The 100,000-entity case is `#[ignore]`d by default; run it in release:
//! `cargo test --release --test chain_memory -- --include-ignored --nocapture`.

mod counting_alloc;

use std::path::Path;
use std::sync::Arc;

use baldur_journal::projection::audit::seal;
use baldur_journal::projection::chain::{BATCH_RECORDS, verify_chains, verify_chains_in_batches};
use baldur_journal::projection::{AuditKeyring, AuditLink, JournalStatistics, StoreEvent};
use baldur_journal::{DiskJournal, Durability, EventJournal, JournalEntry, Timestamp};
use counting_alloc::{peak_during, serial};

/// The verifier's allowance: 64 MiB plus 200 bytes per chained entity.
fn allowance(entities: u64) -> usize {
    (64 << 20) + 200 * usize::try_from(entities).unwrap()
}

/// A closed journal of `entities` chained entities (ids of 12 bytes, as
/// `dlq-00000001`), each a store then `per_entity - 1` audit links, keyless,
/// sealed as the statistics seal them; entities interleaved.
fn chained_journal(dir: &Path, entities: u64, per_entity: u64) {
    let journal = DiskJournal::builder(dir)
        .durability(Durability::Os)
        .segment_bytes(16 << 20)
        .open()
        .unwrap();
    let at = |k: u64| Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + k as i64 * 1_000_000);
    let mut last: Vec<Option<String>> = vec![None; usize::try_from(entities).unwrap()];
    let mut batch: Vec<JournalEntry> = Vec::new();
    for round in 0..per_entity {
        for e in 0..entities {
            let id = format!("dlq-{e:08}");
            let mut event = if round == 0 {
                StoreEvent::new(id, "payments", "timeout").to_entry(at(e))
            } else {
                AuditLink::new(id, "review").to_entry(at(round * entities + e))
            };
            let slot = &mut last[usize::try_from(e).unwrap()];
            *slot = Some(seal(&mut event, slot.as_deref(), None).unwrap());
            batch.push(event);
            if batch.len() == 4096 {
                journal.append_batch(&batch).unwrap();
                batch.clear();
            }
        }
    }
    journal.append_batch(&batch).unwrap();
    journal.close().unwrap();
}

fn tmp() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&root).unwrap();
    tempfile::tempdir_in(&root).unwrap()
}

/// Peak heap of the one-pass verifier over such a journal.
fn verify_peak(entities: u64, per_entity: u64) -> usize {
    let dir = tmp();
    chained_journal(dir.path(), entities, per_entity);
    let journal = DiskJournal::open_read_only(dir.path()).unwrap();
    let keys = AuditKeyring::new();
    // Warm the maps and lazily built state once.
    assert!(verify_chains(&journal, &keys).unwrap().is_clean());
    let (report, peak) = peak_during(|| verify_chains(&journal, &keys).unwrap());
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.chains, entities);
    assert_eq!(report.chained_records, entities * per_entity);
    println!(
        "verify_chains: {entities} entities x {per_entity} records: peak heap {peak} B \
         ({:.1} B per entity)",
        peak as f64 / entities as f64
    );
    assert!(
        peak <= allowance(entities),
        "peak {peak} B over 64 MiB + 200 B x {entities}"
    );
    peak
}

#[test]
fn verify_keeps_per_chain_state_not_records() {
    let _serial = serial();
    let small = verify_peak(1_000, 10);
    let more_records = verify_peak(1_000, 100);
    let more_entities = verify_peak(10_000, 10);
    // Ten times the records of the same chains: no more memory.
    assert!(
        more_records <= small + (64 << 10),
        "records: {small} B -> {more_records} B"
    );
    // Ten times the chains: at most 200 bytes more per chain.
    let per_entity = (more_entities.saturating_sub(small)) / 9_000;
    assert!(per_entity <= 200, "{per_entity} B per chained entity");
}

/// Peak heap of the two-thread pass over such a journal.
fn pipelined_peak(entities: u64, per_entity: u64) -> usize {
    let dir = tmp();
    chained_journal(dir.path(), entities, per_entity);
    let journal = DiskJournal::open_read_only(dir.path()).unwrap();
    let keys = AuditKeyring::new();
    let pass = || verify_chains_in_batches(&journal, &keys, BATCH_RECORDS).unwrap();
    assert!(pass().is_clean());
    let (report, peak) = peak_during(pass);
    assert_eq!(report.chained_records, entities * per_entity);
    println!("two threads: {entities} entities x {per_entity} records: peak heap {peak} B");
    assert!(peak <= allowance(entities), "peak {peak} B");
    peak
}

/// The two-thread pass holds a few batches (about 256 KiB each), not the
/// journal: ten times the records take at most 2 MiB more.
#[test]
fn the_two_thread_pass_holds_batches_not_the_journal() {
    let _serial = serial();
    let small = pipelined_peak(1_000, 10);
    let more_records = pipelined_peak(1_000, 100);
    assert!(
        more_records <= small + (2 << 20),
        "records: {small} B -> {more_records} B"
    );
}

#[test]
#[ignore = "large: run in release (cargo test --release --test chain_memory -- --include-ignored)"]
fn verify_of_100k_chains_and_1m_records_stays_within_its_allowance() {
    let _serial = serial();
    let small = verify_peak(10_000, 10);
    let large = verify_peak(100_000, 10);
    let per_entity = (large.saturating_sub(small)) / 90_000;
    println!("{per_entity} B per chained entity from 10,000 to 100,000 entities");
    assert!(per_entity <= 200, "{per_entity} B per chained entity");
}

/// Peak heap of reading one entity's verified trail once the statistics
/// are folded: the trail holds that entity's records only.
fn trail_peak(entities: u64, per_entity: u64) -> usize {
    let dir = tmp();
    chained_journal(dir.path(), entities, per_entity);
    let journal = Arc::new(DiskJournal::open_read_only(dir.path()).unwrap());
    let stats = JournalStatistics::builder(journal.clone())
        .audit_chain(false)
        .build()
        .unwrap();
    let id = format!("dlq-{:08}", entities / 2);
    assert!(
        stats
            .verify_audit_trail(&id, "dlq_entry")
            .unwrap()
            .is_chain_valid()
    );
    let (verified, peak) = peak_during(|| stats.verify_audit_trail(&id, "dlq_entry").unwrap());
    assert_eq!(verified.entries.len() as u64, per_entity);
    assert!(verified.is_chain_valid());
    println!("trail of one entity of {per_entity} records among {entities}: peak heap {peak} B");
    peak
}

#[test]
fn an_entitys_trail_holds_only_its_records() {
    let _serial = serial();
    let small = trail_peak(1_000, 10);
    let large = trail_peak(10_000, 10);
    assert!(large <= small + (16 << 10), "{small} B -> {large} B");
}

#[test]
fn the_disk_check_of_verify_holds_no_copy_of_a_segment() {
    // One segment of about 80 MiB of 2 KB records: the record, digest and
    // index checks read it through a map, so their heap stays small
    // whatever the segment's size.
    const EVENTS: u64 = 40_000;
    let _serial = serial();
    let dir = tmp();
    let journal = DiskJournal::builder(dir.path())
        .durability(Durability::Os)
        .open()
        .unwrap();
    let padding = "x".repeat(1800);
    let at = Timestamp::from_unix_nanos(1_700_000_000_000_000_000);
    for first in (0..EVENTS).step_by(1000) {
        let batch: Vec<JournalEntry> = (first..first + 1000)
            .map(|i| {
                let mut store = StoreEvent::new(format!("dlq-{i}"), "payments", "timeout");
                store.error_message = padding.clone();
                store.to_entry(at)
            })
            .collect();
        journal.append_batch(&batch).unwrap();
    }
    journal.close().unwrap();
    drop(journal);
    let (report, peak) = peak_during(|| baldur_journal::verify(dir.path()).unwrap());
    assert!(report.problems.is_empty(), "{report:?}");
    assert_eq!(report.records, EVENTS);
    println!("disk verify of {EVENTS} records of 2 KB in one segment: peak heap {peak} B");
    assert!(
        peak < 16 << 20,
        "peak heap {peak} B: a copy of the segment?"
    );
}
