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

use baldur_journal::disk::verify;
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
