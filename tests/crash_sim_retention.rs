//! Deterministic crash simulation of retention (issue 18). A writer with a
//! retention policy (the oldest segments go once the journal exceeds a
//! byte budget, applied on each roll) and occasional drops by hand
//! (`drop_segments`) appends durably through a storage seam that records
//! every create, write, sync, directory sync, rename and unlink. For each
//! crash point, and a seeded random choice of what a power cut keeps (the
//! model of `tests/crash_sim.rs`, shared in `tests/crash_common/mod.rs`,
//! unlinks included), the test builds the disk state and checks:
//!
//! - the journal opens, for reading and for writing;
//! - its retention mark is one the live run published (the old mark or
//!   the new one, never one in between), and no segment below it is read;
//! - every acknowledged entry at or above the mark is there, in order, and
//!   nothing below it;
//! - after the writer's open, no segment file below the mark remains, the
//!   first segment starts at the mark, and `verify` is clean.
//!
//! Every prefix of the operation log is a crash point at least once;
//! `BALDUR_CRASH_POINTS` asks for more (CI's release run: 10,000, each
//! prefix again with other random choices); `BALDUR_CRASH_SEED` sets the
//! seed. A failure prints both.

use baldur_test_support::common;
use baldur_test_support::crash_common;
use baldur_test_support::seam;

use std::collections::BTreeSet;
use std::path::Path;

use baldur_journal::disk::{DiskJournal, RetentionPolicy, verify};
use baldur_journal::{Durability, EventJournal};
use common::{Rng, all_sequences, entry, segment_files};
use crash_common::{Op, Recorder, env_u64, for_each_crash_state};

const SEGMENT: u64 = 64 << 10;

/// Entry `i` with about 1 KiB of context, so segments fill in about 50.
fn big(i: u64) -> baldur_journal::JournalEntry {
    let mut e = entry(i);
    e.context =
        baldur_journal::Context::from_json(&format!(r#"{{"i":{i},"pad":"{}"}}"#, "p".repeat(1000)))
            .unwrap();
    e
}

/// Runs the workload once and returns the log and every mark it published.
fn record_workload(seed: u64) -> (Vec<Op>, BTreeSet<u64>) {
    let live = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let journal = DiskJournal::builder(live.path())
        .segment_bytes(SEGMENT)
        .durability(Durability::Always)
        .preallocate_bytes(0)
        .retention(RetentionPolicy {
            max_bytes: Some(4 * SEGMENT),
            ..RetentionPolicy::default()
        })
        .storage(seam::seam(recorder.clone()))
        .open()
        .unwrap();
    let mut rng = Rng(seed | 1);
    let mut marks = BTreeSet::from([0]);
    let mut next = 1u64;
    for round in 0..60 {
        let n = 10 + rng.below(40);
        let batch: Vec<_> = (next..next + n).map(big).collect();
        journal.append_batch(&batch).unwrap();
        next += n;
        // IMPORTANT: recorded only after the append returned.
        recorder.push(Op::Ack {
            sequence: journal.get_latest_sequence().unwrap(),
        });
        marks.insert(journal.retention_mark().unwrap().unwrap_or(0));
        if round % 9 == 8 {
            // A drop by hand of everything sealed below the latest.
            let below = journal.get_latest_sequence().unwrap();
            journal
                .drop_segments(&RetentionPolicy {
                    below: Some(below),
                    ..RetentionPolicy::default()
                })
                .unwrap();
            marks.insert(journal.retention_mark().unwrap().unwrap_or(0));
        }
    }
    journal.close().unwrap();
    let ops = recorder.ops.lock().unwrap().clone();
    (ops, marks)
}

fn check(dir: &Path, acked: u64, marks: &BTreeSet<u64>, why: &str) {
    if !dir.join("journal.meta").exists() {
        // A crash while the journal was being created: nothing acknowledged.
        assert_eq!(acked, 0, "{why}: entries acknowledged without a journal");
        return;
    }
    let reader = DiskJournal::open_read_only(dir)
        .unwrap_or_else(|e| panic!("{why}: the journal does not open for reading: {e}"));
    let mark = reader.retention_mark().unwrap().unwrap_or(0);
    assert!(
        marks.contains(&mark),
        "{why}: mark {mark} was never published (published: {marks:?})"
    );
    let sequences = all_sequences(&reader);
    let first = mark.max(1);
    if let Some(&lowest) = sequences.first() {
        assert!(
            lowest >= first,
            "{why}: sequence {lowest} is below the mark {mark}"
        );
    }
    let expected: Vec<u64> = (first..=acked).collect();
    assert!(
        sequences.len() >= expected.len() && sequences[..expected.len()] == expected[..],
        "{why}: acknowledged entries {first}..={acked} are not all there (mark {mark}; found {} entries from {:?})",
        sequences.len(),
        sequences.first()
    );
    drop(reader);
    let writer = DiskJournal::builder(dir)
        .durability(Durability::Always)
        .open()
        .unwrap_or_else(|e| panic!("{why}: the journal does not open for writing: {e}"));
    assert_eq!(
        writer.retention_mark().unwrap().unwrap_or(0),
        mark,
        "{why}: the writer sees another mark"
    );
    writer.close().unwrap();
    let files = segment_files(dir);
    if mark > 0 {
        let first_base = common::base_of(&files[0]);
        assert_eq!(
            first_base, mark,
            "{why}: the first segment does not start at the mark"
        );
    }
    let report = verify(dir).unwrap();
    assert!(report.is_clean(), "{why}: verify: {:?}", report.problems);
}

#[test]
fn every_crash_point_of_a_drop_leaves_the_old_mark_or_the_new_one() {
    let seed = env_u64("BALDUR_CRASH_SEED", 18);
    let (ops, marks) = record_workload(seed);
    // Every prefix of the log at least once.
    let points = env_u64("BALDUR_CRASH_POINTS", 0).max(ops.len() as u64 + 1);
    let unlinks = ops
        .iter()
        .filter(|op| matches!(op, Op::Remove { .. }))
        .count();
    assert!(
        marks.len() > 3,
        "the workload dropped too little: {marks:?}"
    );
    assert!(unlinks > 10, "the workload unlinked {unlinks} files");
    let checked = for_each_crash_state(&ops, points, seed, |dir, acked, context| {
        check(dir, acked, &marks, context);
    });
    assert_eq!(checked, points);
    println!(
        "retention crash simulation: {checked} crash states of {} operations ({unlinks} unlinks, marks {marks:?})",
        ops.len()
    );
}
