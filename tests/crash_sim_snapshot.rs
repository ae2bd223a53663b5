//! Deterministic crash simulation of projection snapshot writing (issue 6).
//! A `JournalStatistics` with snapshots on (a small interval, so several
//! periodic snapshots are written, and one on close) records a workload of
//! DLQ statistics writes over a `DiskJournal` whose storage seam records
//! every create, write, sync, directory sync and rename, the snapshot's
//! temporary file, rename and directory sync included. For each crash point
//! and a seeded random choice of what a power cut keeps (the model of
//! `tests/crash_sim.rs`, shared in `tests/crash_common/mod.rs`), the test
//! builds the disk state, opens the journal, and checks that statistics
//! restored from whatever snapshot survived (torn, missing, stale or
//! current) answer exactly like a full fold of the same state: status
//! counts, distributions, activity, rates, `list_entries`, entry details,
//! audit trails, SLA, cleanup and circuit breakers. It also checks that
//! nothing acknowledged was lost and that the snapshot was really used in
//! many states (so the comparison is not vacuous).
//!
//! `BALDUR_CRASH_POINTS` sets how many crash states to check (default
//! 400 in the debug run; CI adds 10,000 in release); `BALDUR_CRASH_SEED` the seed. A failure prints both.

use baldur_test_support::common;
use baldur_test_support::crash_common;
use baldur_test_support::seam;

use std::path::Path;
use std::sync::Arc;

use baldur_journal::disk::DiskJournal;
use baldur_journal::projection::{
    JournalStatistics, ManualClock, PurgeSelection, SNAPSHOT_FILE, SnapshotConfig,
    StatisticsRepository,
};
use baldur_journal::{EventJournal, JournalEntry, Timestamp};
use common::Rng;
use crash_common::{Op, Recorder, env_u64, for_each_crash_state};

const T0: i64 = 1_700_000_000_000_000_000;
const MINUTE: i64 = 60_000_000_000;
const IDS: u64 = 30;
/// Records folded between periodic snapshots during the workload.
const INTERVAL: u64 = 40;

/// A random DLQ, audit or breaker event at minute `i`.
fn random_event(rng: &mut Rng, i: i64) -> JournalEntry {
    common::random_dlq_event(rng, Timestamp::from_unix_nanos(T0 + i * MINUTE), IDS, 3, i)
}

fn clock() -> ManualClock {
    ManualClock::new(Timestamp::from_unix_nanos(T0 + 5_000 * MINUTE))
}

/// Runs the workload once through the statistics and returns the log.
fn record_workload(seed: u64) -> Vec<Op> {
    let live = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let journal = Arc::new(
        DiskJournal::builder(live.path())
            .segment_bytes(64 << 10)
            .storage(seam::seam(recorder.clone()))
            .open()
            .unwrap(),
    );
    let mut rng = Rng(seed | 1);
    {
        let stats = JournalStatistics::builder(journal.clone())
            .clock(clock())
            .snapshot(SnapshotConfig::for_disk(&journal).interval(INTERVAL))
            .build()
            .unwrap();
        let mut minute = 0i64;
        while minute < 420 {
            if rng.below(25) == 0 {
                stats.archive_old_entries(0).unwrap();
            } else if rng.below(40) == 0 {
                stats
                    .purge_archived(&PurgeSelection::OlderThanDays(0))
                    .unwrap();
            } else {
                let n = 1 + rng.below(3) as i64;
                let batch = (minute..minute + n)
                    .map(|i| random_event(&mut rng, i))
                    .collect();
                stats.record(batch).unwrap();
                minute += n;
            }
            // IMPORTANT: recorded only after the writes returned.
            recorder.push(Op::Ack {
                sequence: journal.get_latest_sequence().unwrap(),
            });
        }
        // Dropping the statistics writes the snapshot on close.
    }
    journal.close().unwrap();
    recorder.ops.lock().unwrap().clone()
}

/// What one crash state showed.
struct Outcome {
    snapshot_file: bool,
    restored: bool,
}

fn check_state(dir: &Path, acked: u64, context: &str) -> Outcome {
    let snapshot_file = dir.join(SNAPSHOT_FILE).exists();
    let journal =
        Arc::new(DiskJournal::open(dir).unwrap_or_else(|e| panic!("{context}: open failed: {e}")));
    let latest = journal.get_latest_sequence().unwrap();
    assert!(
        latest >= acked,
        "{context}: acknowledged up to {acked}, only {latest} survived"
    );
    // Read the snapshot without writing one (the check must not change the
    // state it compares).
    let config = SnapshotConfig {
        write: false,
        ..SnapshotConfig::for_disk(&journal)
    };
    let restored = JournalStatistics::builder(journal.clone())
        .clock(clock())
        .snapshot(config)
        .build()
        .unwrap_or_else(|e| panic!("{context}: build with the snapshot failed: {e}"));
    let full = JournalStatistics::builder(journal.clone())
        .clock(clock())
        .build()
        .unwrap();
    let full_summary = full.refresh().unwrap();
    assert_eq!(
        restored.refresh().unwrap(),
        full_summary,
        "{context}: fold summary"
    );
    let ids: Vec<String> = (0..IDS).map(|i| format!("e{i}")).collect();
    common::assert_same_statistics(&restored, &full, &ids, context);
    let used = restored.folded_records() < full.folded_records();
    drop(restored);
    drop(full);
    journal.close().unwrap();
    Outcome {
        snapshot_file,
        restored: used,
    }
}

#[test]
fn every_crash_point_of_snapshot_writing_answers_like_a_full_fold() {
    let points = env_u64("BALDUR_CRASH_POINTS", 400);
    let base_seed = env_u64("BALDUR_CRASH_SEED", 0x5eed_5a95);
    let ops = record_workload(base_seed);
    let snapshot_renames = ops
        .iter()
        .filter(|op| matches!(op, Op::Rename { to, .. } if to == SNAPSHOT_FILE))
        .count();
    assert!(
        snapshot_renames >= 5,
        "the workload writes several snapshots through the seam: {snapshot_renames} in {} ops",
        ops.len()
    );
    let mut with_file = 0u64;
    let mut restored = 0u64;
    let checked = for_each_crash_state(&ops, points, base_seed, |dir, acked, context| {
        let outcome = check_state(dir, acked, context);
        with_file += u64::from(outcome.snapshot_file);
        restored += u64::from(outcome.restored);
    });
    println!(
        "snapshot crash points checked: {checked} over {} recorded operations \
         ({snapshot_renames} snapshots written); a snapshot file in {with_file}, \
         restored from in {restored}",
        ops.len()
    );
    assert!(
        restored * 4 >= checked,
        "the snapshot was used in only {restored} of {checked} crash states"
    );
}
