//! Deterministic crash simulation. A recording storage seam logs every
//! create, write, sync, directory sync and rename the engine issues (and
//! every acknowledgement the appender receives). For each crash point (a
//! prefix of that log) and a seeded random choice of what a power cut keeps,
//! the test builds the disk state on real files, opens the journal, and
//! checks: every acknowledged entry is present and intact, nothing that was
//! never appended appears, sequences strictly increase, and `verify` finds
//! the log and its indexes in agreement.
//!
//! The power-cut model (conservative POSIX): file contents written before a
//! completed `fsync`/`fdatasync` of that file survive; later writes are each
//! kept, dropped, or torn at a 512-byte sector boundary, independently (so
//! also reordered). Creations and renames survive once a later directory
//! sync completed; unsynced ones survive in order up to a random point
//! (metadata is journaled in order). Reads through memory maps need no
//! model: the engine reads the files this test builds. The recorder and the
//! model live in `tests/crash_common/mod.rs`.
//!
//! `BALDUR_CRASH_POINTS` sets how many crash states to check (default
//! 1,500; CI runs 10,000 in release). A failure prints the seed.

use baldur_test_support::common;
use baldur_test_support::crash_common;
use baldur_test_support::seam;

use std::path::Path;

use baldur_journal::disk::{SealedIndex, verify};
use baldur_journal::{DiskJournal, EventJournal};
use common::{Rng, entry, strip};
use crash_common::{Op, Recorder, env_u64, for_each_crash_state};

/// Runs the workload once and returns its operation log.
fn record_workload(seed: u64) -> Vec<Op> {
    let live = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let journal = DiskJournal::builder(live.path())
        .segment_bytes(64 << 10)
        .storage(seam::seam(recorder.clone()))
        .open()
        .unwrap();
    let mut rng = Rng(seed);
    let mut next = 1u64;
    while next <= 1200 {
        let n = 1 + rng.below(12);
        let batch: Vec<_> = (next..next + n).map(entry).collect();
        let sequences = journal.append_batch(&batch).unwrap();
        assert_eq!(sequences.first(), Some(&next));
        // IMPORTANT: recorded only after the append returned.
        for sequence in sequences {
            recorder.push(Op::Ack { sequence });
        }
        next += n;
    }
    journal.close().unwrap();
    recorder.ops.lock().unwrap().clone()
}

fn check_state(dir: &Path, acked: u64, context: &str) {
    let journal = DiskJournal::open(dir).unwrap_or_else(|e| panic!("{context}: open failed: {e}"));
    let mut expected_next = 1;
    for e in journal.range_iter(0, u64::MAX).unwrap() {
        let e = e.unwrap_or_else(|e| panic!("{context}: read failed: {e}"));
        assert_eq!(
            e.sequence, expected_next,
            "{context}: sequences must increase without holes"
        );
        let mut want = entry(e.sequence);
        want.sequence = e.sequence;
        assert_eq!(
            strip(e),
            want,
            "{context}: an entry that was never appended"
        );
        expected_next += 1;
    }
    let latest = expected_next - 1;
    assert!(
        latest >= acked,
        "{context}: acknowledged up to {acked}, only {latest} survived"
    );
    journal.close().unwrap();
    let report = verify(dir).unwrap();
    assert!(
        report.is_clean(),
        "{context}: verify after recovery: {:?}",
        report.problems
    );
}

#[test]
fn every_crash_point_keeps_every_acknowledged_entry() {
    let points = env_u64("BALDUR_CRASH_POINTS", 1500);
    let base_seed = env_u64("BALDUR_CRASH_SEED", 0x0c0ffee);
    let ops = record_workload(base_seed);
    let segments = ops
        .iter()
        .filter(|op| matches!(op, Op::Create { name } if name.ends_with(".log")))
        .count();
    assert!(
        segments >= 3,
        "the workload rolls segments: {segments} segments in {} ops",
        ops.len()
    );
    let checked = for_each_crash_state(&ops, points, base_seed, check_state);
    println!(
        "crash points checked: {checked} over {} recorded operations",
        ops.len()
    );
}

/// A journal whose sealed segments have version-1 indexes (as an older
/// build left them, all durable), then a writer's open that rewrites them
/// as version 2 and appends: every crash point, during the rewrite too,
/// opens with every acknowledged entry, and `verify` agrees with whichever
/// indexes it finds. Only the second open is recorded; the starting state
/// enters the log as durable files.
fn record_upgrade_workload() -> Vec<Op> {
    let live = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(live.path())
        .segment_bytes(64 << 10)
        .open()
        .unwrap();
    let first: Vec<_> = (1..=1500).map(entry).collect();
    journal.append_batch(&first).unwrap();
    journal.close().unwrap();
    let recorder = Recorder::default();
    let mut files: Vec<_> = std::fs::read_dir(live.path())
        .unwrap()
        .map(|item| item.unwrap().path())
        .collect();
    files.sort();
    let mut rewritten = 0;
    for path in files {
        let mut bytes = std::fs::read(&path).unwrap();
        if path.extension().is_some_and(|x| x == "idx") {
            let index = SealedIndex::decode(&bytes, &path).unwrap();
            let old = SealedIndex {
                summary: index.summary.as_version_1(),
                index: index.index.as_version_1(),
                ..index
            };
            bytes = old.encode();
            std::fs::write(&path, &bytes).unwrap();
            rewritten += 1;
        }
        let name = crash_common::name_of(&path);
        recorder.push(Op::Create { name: name.clone() });
        recorder.push(Op::Write {
            name: name.clone(),
            offset: 0,
            data: bytes,
        });
        recorder.push(Op::SyncFile { name });
    }
    recorder.push(Op::SyncDir);
    recorder.push(Op::Ack { sequence: 1500 });
    assert!(rewritten >= 2, "{rewritten} sealed segments");
    let journal = DiskJournal::builder(live.path())
        .storage(seam::seam(recorder.clone()))
        .open()
        .unwrap();
    assert_eq!(journal.recovery_report().upgraded_indexes.len(), rewritten);
    let more: Vec<_> = (1501..=1600).map(entry).collect();
    for sequence in journal.append_batch(&more).unwrap() {
        recorder.push(Op::Ack { sequence });
    }
    journal.close().unwrap();
    recorder.ops.lock().unwrap().clone()
}

#[test]
fn crash_points_while_upgrading_version_1_indexes_keep_every_entry() {
    let points = env_u64("BALDUR_CRASH_POINTS", 1500) / 5;
    let base_seed = env_u64("BALDUR_CRASH_SEED", 0x0c0ffee);
    let ops = record_upgrade_workload();
    let renames = ops
        .iter()
        .filter(|op| matches!(op, Op::Rename { to, .. } if to.ends_with(".idx")))
        .count();
    assert!(renames >= 2, "{renames} index renames");
    assert!(
        ops.len() as u64 <= points,
        "every prefix of the {} operations is a crash point",
        ops.len()
    );
    // Prefixes that end before the starting state is whole (its files
    // and then the acknowledgement of its 1,500 entries) are not states
    // the upgrade can leave: only the rest are checked.
    let mut upgrade_states = 0;
    let checked = for_each_crash_state(&ops, points, base_seed, |dir, acked, context| {
        if acked >= 1500 {
            upgrade_states += 1;
            check_state(dir, acked, context);
        }
    });
    assert!(upgrade_states > 0);
    println!(
        "crash points checked: {upgrade_states} of {checked} after the starting state, over {} \
         recorded operations",
        ops.len()
    );
}
