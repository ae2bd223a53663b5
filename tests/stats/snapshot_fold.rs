//! Issue 6: projection snapshots. Snapshot + tail answers like a full fold
//! and like the independent model of tests/stats/common;
//! a reopen with a valid snapshot folds exactly the records after it; a
//! missing, corrupt, foreign or stale snapshot means a full fold; read-only
//! opens never write one.

use std::path::Path;
use std::sync::Arc;

use crate::common::{Ev, Model, check_reads};
use baldur_journal::disk::DiskJournal;
use baldur_journal::projection::{
    AuditLink, BreakerTransition, EntryListQuery, JournalStatistics, LifecycleEvent, LifecycleKind,
    ManualClock, PurgeSelection, SNAPSHOT_FILE, SnapshotConfig, StatisticsRepository, StoreEvent,
};
use baldur_journal::{EventJournal, JournalEntry, Timestamp};

const T0: i64 = 1_700_000_000_000_000_000;
const MINUTE: i64 = 60_000_000_000;

use crate::disk_common::Rng;

/// A random workload event (tests/stats/common) at minute `i`: every
/// DLQ event kind, breakers, noise and malformed records.
fn random_ev(rng: &mut Rng, i: i64) -> (Ev, i64) {
    let at = T0 + i * MINUTE;
    let id = format!("e{}", rng.below(8));
    let statuses = ["pending", "resolved", "archived", "rejected", "weird", ""];
    let status = statuses[rng.index(statuses.len())];
    let ev = match rng.below(14) {
        0..=2 => Ev::Store {
            id,
            domain: ["payments", "orders", ""][rng.index(3)].into(),
            failure_type: ["timeout", "validation"][rng.index(2)].into(),
            status: if rng.below(3) == 0 { status } else { "" }.into(),
            retry_count: rng.below(2) as i64,
            max_retries: 1 + rng.below(3) as i64,
            entity_type: (rng.below(2) == 0).then(|| "order".into()),
            error_code: ["E1", ""][rng.index(2)].into(),
            actor: (rng.below(2) == 0).then(|| "ops".into()),
        },
        3..=6 => {
            let kinds = LifecycleKind::ALL;
            Ev::Life {
                kind: kinds[rng.index(kinds.len())],
                id,
                status: (rng.below(4) == 0).then(|| status.into()),
                retry_count: (rng.below(4) == 0).then(|| rng.below(4) as i64),
                actor: (rng.below(2) == 0).then(|| "ops".into()),
            }
        }
        7 => {
            let mut link = AuditLink::new(&id, "review");
            link.details = Some(format!("note {i}"));
            link.audit_record_hash = (rng.below(2) == 0).then(|| format!("h{i}"));
            Ev::Link(link)
        }
        8 => {
            let mut snapshot =
                crate::common::Snapshot::new(&id, (rng.below(4) > 0).then_some(status));
            snapshot.retry_count = Some(rng.below(3) as i64);
            snapshot.created_minutes_ago = (rng.below(2) == 0).then(|| rng.below(5000) as i64);
            snapshot.resolved_minutes_ago = (rng.below(3) == 0).then(|| rng.below(500) as i64);
            Ev::Persist(snapshot)
        }
        9 => Ev::Archive {
            id,
            details: (rng.below(2) == 0).then(|| "old".into()),
        },
        10 => Ev::Purge { id },
        11 => Ev::Breaker {
            transition: [
                BreakerTransition::Opened,
                BreakerTransition::Closed,
                BreakerTransition::HalfOpened,
            ][rng.index(3)],
            name: ["svc-a", "svc-b"][rng.index(2)].into(),
            window: (rng.below(2) == 0).then(|| rng.below(9) as i64),
            consecutive: None,
        },
        12 => Ev::Noise,
        _ => Ev::Malformed,
    };
    (ev, at)
}

/// A random DLQ and breaker event at minute `i`.
fn random_event(rng: &mut Rng, i: i64) -> JournalEntry {
    crate::disk_common::random_dlq_event(rng, Timestamp::from_unix_nanos(T0 + i * MINUTE), 40, 2, i)
}

fn open(dir: &Path) -> Arc<DiskJournal> {
    Arc::new(DiskJournal::open(dir).unwrap())
}

fn clock() -> ManualClock {
    ManualClock::new(Timestamp::from_unix_nanos(T0 + 5_000 * MINUTE))
}

fn with_snapshot(journal: &Arc<DiskJournal>) -> JournalStatistics<DiskJournal> {
    JournalStatistics::builder(journal.clone())
        .clock(clock())
        .snapshot(SnapshotConfig::for_disk(journal))
        .build()
        .unwrap()
}

fn full_fold(journal: &Arc<DiskJournal>) -> JournalStatistics<DiskJournal> {
    JournalStatistics::builder(journal.clone())
        .clock(clock())
        .build()
        .unwrap()
}

/// Every read of `got` equals the same read of `want`.
fn assert_same(got: &impl StatisticsRepository, want: &impl StatisticsRepository, why: &str) {
    assert_eq!(
        got.get_status_counts().unwrap(),
        want.get_status_counts().unwrap(),
        "{why}"
    );
    assert_eq!(
        got.get_domain_distribution(10).unwrap(),
        want.get_domain_distribution(10).unwrap()
    );
    assert_eq!(
        got.get_failure_type_distribution(10).unwrap(),
        want.get_failure_type_distribution(10).unwrap()
    );
    assert_eq!(
        got.get_recent_activity(24, 7).unwrap(),
        want.get_recent_activity(24, 7).unwrap()
    );
    assert_eq!(
        got.get_resolution_rate(30).unwrap().to_bits(),
        want.get_resolution_rate(30).unwrap().to_bits()
    );
    assert_eq!(
        got.get_avg_retry_count().unwrap().to_bits(),
        want.get_avg_retry_count().unwrap().to_bits()
    );
    for order_by in ["-created_at", "retry_count", "domain"] {
        let query = EntryListQuery {
            page_size: 100,
            order_by: order_by.into(),
            ..EntryListQuery::default()
        };
        assert_eq!(
            got.list_entries(&query).unwrap(),
            want.list_entries(&query).unwrap()
        );
    }
    assert_eq!(
        got.get_sla_breaches(4, None).unwrap(),
        want.get_sla_breaches(4, None).unwrap()
    );
    assert_eq!(
        got.get_cleanup_stats().unwrap(),
        want.get_cleanup_stats().unwrap()
    );
    assert_eq!(
        got.list_circuit_breakers().unwrap(),
        want.list_circuit_breakers().unwrap()
    );
    assert_eq!(
        got.get_circuit_breaker_summary().unwrap(),
        want.get_circuit_breaker_summary().unwrap()
    );
    for i in 0..40 {
        let id = format!("e{i}");
        assert_eq!(
            got.get_entry_detail(&id).unwrap(),
            want.get_entry_detail(&id).unwrap()
        );
        assert_eq!(
            got.get_audit_trail_by_entity(&id, "dlq_entry").unwrap(),
            want.get_audit_trail_by_entity(&id, "dlq_entry").unwrap()
        );
    }
}

#[test]
fn snapshot_plus_tail_equals_a_full_fold_at_random_cuts() {
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let dir = tempfile::tempdir().unwrap();
        let total = 300 + rng.below(500) as i64;
        let total_records = u64::try_from(total).unwrap();
        let cut = rng.index(usize::try_from(total).unwrap());
        let journal = open(dir.path());
        let events: Vec<JournalEntry> = (0..total).map(|i| random_event(&mut rng, i)).collect();
        journal.append_batch(&events[..cut]).unwrap();
        {
            let stats = with_snapshot(&journal);
            assert!(stats.snapshot_now().unwrap());
            assert_eq!(stats.folded_records(), cut as u64);
        }
        journal.append_batch(&events[cut..]).unwrap();
        let restored = with_snapshot(&journal);
        let full = full_fold(&journal);
        assert_eq!(restored.refresh().unwrap(), full.refresh().unwrap());
        assert_eq!(
            restored.folded_records(),
            total_records - cut as u64,
            "seed {seed}: only the tail is folded"
        );
        assert_same(
            &restored,
            &full,
            &format!("seed {seed}, cut {cut} of {total}"),
        );
        // Writes after a restore (archive, purge) act like a full fold's.
        restored.archive_old_entries(0).unwrap();
        restored
            .purge_archived(&PurgeSelection::OlderThanDays(0))
            .unwrap();
        assert_same(&restored, &full, &format!("seed {seed} after writes"));
    }
}

/// The test in full: on random workloads, snapshot + tail answers
/// equal a full fold's and the independent model's (tests/stats/common,
/// every read method), at random cut points; views as of random sequences
/// too.
#[test]
fn snapshot_plus_tail_equals_a_full_fold_and_the_model_at_random_cuts() {
    for seed in 1..=8u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let dir = tempfile::tempdir().unwrap();
        let total = 200 + rng.below(400) as i64;
        let total_records = u64::try_from(total).unwrap();
        let cut = rng.index(usize::try_from(total).unwrap() + 1);
        let journal = open(dir.path());
        let workload: Vec<(Ev, i64)> = (0..total).map(|i| random_ev(&mut rng, i)).collect();
        let events: Vec<JournalEntry> = workload.iter().map(|(ev, at)| ev.to_entry(*at)).collect();
        journal.append_batch(&events[..cut]).unwrap();
        {
            let stats = with_snapshot(&journal);
            assert!(stats.snapshot_now().unwrap());
            assert_eq!(stats.folded_records(), cut as u64);
        }
        journal.append_batch(&events[cut..]).unwrap();
        let restored = with_snapshot(&journal);
        let full = full_fold(&journal);
        assert_eq!(restored.refresh().unwrap(), full.refresh().unwrap());
        assert_eq!(
            restored.folded_records(),
            total_records - cut as u64,
            "seed {seed}: only the tail is folded"
        );
        let why = format!("seed {seed}, cut {cut} of {total}");
        assert_same(&restored, &full, &why);
        // Appended straight to the journal: sequences 1..=total, unchained.
        let model_upto = |last: u64| {
            let mut model = Model::default();
            for (seq, (ev, at)) in (1u64..).zip(&workload).take_while(|(seq, _)| *seq <= last) {
                model.apply(ev, *at, seq);
            }
            model
        };
        let now = clock().now().as_unix_nanos();
        let model = model_upto(total_records);
        let mut rng = crate::common::Rng(seed);
        check_reads(
            &restored,
            &model,
            now,
            &mut rng,
            &format!("{why}: restored"),
        );
        check_reads(&full, &model, now, &mut rng, &format!("{why}: full fold"));
        for _ in 0..2 {
            let sequence = rng.below(total_records + 2);
            let view = restored.as_of_sequence(sequence).unwrap();
            check_reads(
                &view,
                &model_upto(sequence),
                now,
                &mut rng,
                &format!("{why}: restored, as of sequence {sequence}"),
            );
        }
    }
}

#[test]
fn a_reopen_folds_exactly_the_records_after_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(42);
    {
        let journal = open(dir.path());
        let stats = JournalStatistics::builder(journal.clone())
            .snapshot(SnapshotConfig::for_disk(&journal).interval(100))
            .build()
            .unwrap();
        for i in 0..250 {
            journal.append(&random_event(&mut rng, i)).unwrap();
        }
        // Periodic: the read at 250 folds 250 records, >= the interval.
        stats.get_status_counts().unwrap();
        assert!(dir.path().join(SNAPSHOT_FILE).exists());
        for i in 250..300 {
            journal.append(&random_event(&mut rng, i)).unwrap();
        }
        // Dropped: a snapshot on close at 300.
    }
    let journal = open(dir.path());
    for i in 300..320 {
        journal.append(&random_event(&mut rng, i)).unwrap();
    }
    let stats = with_snapshot(&journal);
    stats.refresh().unwrap();
    assert_eq!(stats.folded_records(), 20);
    assert_eq!(stats.refresh().unwrap().records, 320);
    drop(stats);
    drop(journal);

    // Read-only: uses the snapshot (at 320 now), never writes one.
    let before = std::fs::read(dir.path().join(SNAPSHOT_FILE)).unwrap();
    {
        let journal = Arc::new(DiskJournal::open_read_only(dir.path()).unwrap());
        let config = SnapshotConfig::for_disk(&journal).interval(1);
        assert!(!config.write);
        let stats = JournalStatistics::builder(journal.clone())
            .snapshot(config)
            .build()
            .unwrap();
        assert_eq!(stats.refresh().unwrap().records, 320);
        assert_eq!(stats.folded_records(), 0);
        assert!(!stats.snapshot_now().unwrap());
    }
    assert_eq!(
        std::fs::read(dir.path().join(SNAPSHOT_FILE)).unwrap(),
        before
    );
}

fn folded_on_open(dir: &Path) -> u64 {
    let journal = Arc::new(DiskJournal::open_read_only(dir).unwrap());
    let stats = JournalStatistics::builder(journal.clone())
        .snapshot(SnapshotConfig::for_disk(&journal))
        .build()
        .unwrap();
    let summary = stats.refresh().unwrap();
    let full = JournalStatistics::new(journal.clone()).refresh().unwrap();
    assert_eq!(summary, full, "never a wrong answer");
    stats.folded_records()
}

#[test]
fn missing_corrupt_foreign_or_stale_snapshots_mean_a_full_fold() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    {
        let journal = open(dir.path());
        for i in 0..100 {
            journal.append(&random_event(&mut rng, i)).unwrap();
        }
        with_snapshot(&journal).snapshot_now().unwrap();
    }
    assert_eq!(folded_on_open(dir.path()), 0);
    let path = dir.path().join(SNAPSHOT_FILE);
    let good = std::fs::read(&path).unwrap();

    // Corrupt: any flipped byte (header, checksum or payload).
    for at in [0, 9, 20, 60, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(folded_on_open(dir.path()), 100, "byte {at}");
    }
    // Truncated, and missing.
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    assert_eq!(folded_on_open(dir.path()), 100);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(folded_on_open(dir.path()), 100);

    // Foreign: another journal's snapshot.
    let other = tempfile::tempdir().unwrap();
    {
        let journal = open(other.path());
        for i in 0..100 {
            journal.append(&random_event(&mut rng, i)).unwrap();
        }
        with_snapshot(&journal).snapshot_now().unwrap();
    }
    std::fs::copy(other.path().join(SNAPSHOT_FILE), &path).unwrap();
    assert_eq!(folded_on_open(dir.path()), 100);

    // Stale: a copy of this journal that went on differently; its snapshot
    // names a sequence whose record here differs.
    std::fs::remove_file(&path).unwrap();
    let fork = crate::disk_common::copy_dir(dir.path());
    {
        let journal = open(fork.path());
        journal.append(&random_event(&mut rng, 1000)).unwrap();
        with_snapshot(&journal).snapshot_now().unwrap();
    }
    {
        let journal = open(dir.path());
        journal.append(&random_event(&mut rng, 2000)).unwrap();
    }
    std::fs::copy(fork.path().join(SNAPSHOT_FILE), &path).unwrap();
    assert_eq!(folded_on_open(dir.path()), 101);
    // Ahead of the journal (the journal lost its tail): also a full fold.
    let ahead = crate::disk_common::copy_dir(fork.path());
    {
        let journal = open(ahead.path());
        for i in 0..5 {
            journal.append(&random_event(&mut rng, 3000 + i)).unwrap();
        }
        with_snapshot(&journal).snapshot_now().unwrap();
    }
    std::fs::copy(ahead.path().join(SNAPSHOT_FILE), &path).unwrap();
    assert_eq!(folded_on_open(dir.path()), 101);
}

#[test]
fn audit_chains_continue_after_a_restored_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    {
        let journal = open(dir.path());
        let stats = JournalStatistics::builder(journal.clone())
            .audit_chain(true)
            .snapshot(SnapshotConfig::for_disk(&journal))
            .build()
            .unwrap();
        stats
            .record(vec![
                StoreEvent::new("a", "d", "f").to_entry(Timestamp::from_unix_nanos(T0)),
            ])
            .unwrap();
        assert!(stats.link_audit_entry(&AuditLink::new("a", "x")).unwrap());
    }
    let journal = open(dir.path());
    let stats = JournalStatistics::builder(journal.clone())
        .audit_chain(true)
        .snapshot(SnapshotConfig::for_disk(&journal))
        .build()
        .unwrap();
    assert!(stats.link_audit_entry(&AuditLink::new("a", "y")).unwrap());
    assert_eq!(stats.folded_records(), 1, "the snapshot held the first two");
    let checked = stats.verify_audit_trail("a", "dlq_entry").unwrap();
    assert_eq!(checked.entries.len(), 3);
    assert!(checked.is_chain_valid(), "{checked:#?}");
    let _ = journal.get_latest_sequence();
}

/// The measurement: reopen time with a snapshot for a journal of
/// 5 million events (1 M entries, 5 events each), next to the full fold.
/// `BALDUR_SNAPSHOT_EVENTS` overrides the count. Run with
/// `cargo test --release --test stats snapshot_fold -- --ignored --nocapture`.
#[test]
#[ignore = "slow: writes millions of events"]
fn reopen_time_with_a_snapshot_for_millions_of_events() {
    use std::time::Instant;
    let total: u64 = std::env::var("BALDUR_SNAPSHOT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    {
        let journal = open(dir.path());
        let kinds = [
            LifecycleKind::ReplayStart,
            LifecycleKind::ReplayFailed,
            LifecycleKind::ReplayStart,
            LifecycleKind::Resolve,
        ];
        let mut batch = Vec::with_capacity(5000);
        for i in 0..total {
            let entry = i / 5;
            let at = Timestamp::from_unix_nanos(T0 + i as i64 * 1_000_000);
            let id = format!("dlq-{entry}");
            let event = match i % 5 {
                0 => StoreEvent::new(
                    &id,
                    ["payments", "orders", "billing"][(entry % 3) as usize],
                    "timeout",
                )
                .to_entry(at),
                step => {
                    LifecycleEvent::new(kinds[usize::try_from(step).unwrap() - 1], &id).to_entry(at)
                }
            };
            batch.push(event);
            if batch.len() == 5000 {
                journal.append_batch(&batch).unwrap();
                batch.clear();
            }
        }
        journal.append_batch(&batch).unwrap();
        journal.close().unwrap();
    }
    eprintln!("wrote {total} events in {:?}", started.elapsed());

    let started = Instant::now();
    {
        let journal = open(dir.path());
        let stats = full_fold(&journal);
        assert_eq!(stats.refresh().unwrap().records, total);
        eprintln!("full fold: {:?}", started.elapsed());
        let written = Instant::now();
        let stats = with_snapshot(&journal);
        stats.snapshot_now().unwrap();
        eprintln!(
            "snapshot written in {:?} (after a fold), {} bytes",
            written.elapsed(),
            std::fs::metadata(dir.path().join(SNAPSHOT_FILE))
                .unwrap()
                .len()
        );
    }
    let started = Instant::now();
    let journal = open(dir.path());
    let opened = started.elapsed();
    let stats = with_snapshot(&journal);
    assert_eq!(stats.refresh().unwrap().records, total);
    assert_eq!(stats.folded_records(), 0);
    eprintln!(
        "reopen with the snapshot: {:?} (journal open {opened:?}, statistics {:?})",
        started.elapsed(),
        started.elapsed() - opened
    );
    let started = Instant::now();
    let full = full_fold(&journal);
    full.refresh().unwrap();
    eprintln!("full fold again (warm cache): {:?}", started.elapsed());
    assert_eq!(
        stats.get_status_counts().unwrap(),
        full.get_status_counts().unwrap()
    );
}
