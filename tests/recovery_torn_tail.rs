//! Cutting the active segment at every byte offset of its last records.
//! Without the `head` file the cut lands after the last sync point that the
//! records themselves prove, so it is a torn tail: zeroed and reported,
//! everything before the cut intact. With `head` (which recorded the synced
//! end) the same cut removed synced data: the writer refuses with file and
//! offset, and a read-only open serves the intact prefix and reports it.

use baldur_test_support::common;

use std::fs::OpenOptions;
use std::path::Path;

use baldur_journal::{DiskJournal, Error, EventJournal};
use common::{
    all_sequences, assert_entries_intact, copy_dir, entry, record_offsets, segment_files,
};

/// A closed journal of 64 KiB segments holding `entry(1..=n)`, appended in
/// batches of 10 under the default policy (one sync per batch).
fn build(n: u64) -> tempfile::TempDir {
    common::closed_journal(n, 10)
}

fn cut(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn cut_at_every_offset_without_head_is_a_torn_tail() {
    let template = build(400);
    let last = segment_files(template.path()).pop().unwrap();
    let records = record_offsets(&last);
    assert!(records.len() >= 3, "the active segment should hold records");
    let first_cut = records[records.len() - 3].1;
    let file_end = records.last().unwrap().2;
    for at in first_cut..file_end {
        let copy = copy_dir(template.path());
        std::fs::remove_file(copy.path().join("head")).unwrap();
        let log = copy.path().join(last.file_name().unwrap());
        cut(&log, at);
        let journal = DiskJournal::open(copy.path())
            .unwrap_or_else(|e| panic!("cut at {at}: open failed: {e}"));
        let kept: Vec<u64> = records.iter().filter(|r| r.2 <= at).map(|r| r.0).collect();
        let seqs = all_sequences(&journal);
        assert_eq!(seqs.last(), kept.last(), "cut at {at}");
        assert_eq!(seqs.len() as u64, *kept.last().unwrap(), "cut at {at}");
        let report = journal.recovery_report();
        let boundary = records
            .iter()
            .filter(|r| r.2 <= at)
            .map(|r| r.2)
            .max()
            .unwrap();
        if boundary == at {
            assert_eq!(
                report.torn_tail, None,
                "cut at a frame boundary {at} leaves a clean end"
            );
        } else {
            let torn = report
                .torn_tail
                .as_ref()
                .unwrap_or_else(|| panic!("cut at {at}: no report"));
            assert_eq!(torn.offset, boundary, "cut at {at}");
            assert_eq!(torn.path, log);
            assert!(torn.zeroed);
        }
        // The journal goes on from the cut, and the new record is durable.
        let next = journal.append(&entry(seqs.len() as u64 + 1)).unwrap();
        assert_eq!(next, seqs.len() as u64 + 1);
        journal.close().unwrap();
        let reopened = DiskJournal::open(copy.path()).unwrap();
        assert_eq!(reopened.recovery_report().torn_tail, None);
        assert_eq!(reopened.get_latest_sequence().unwrap(), next);
        assert_entries_intact(&reopened);
    }
}

#[test]
fn cut_inside_synced_data_is_corruption_and_read_only_serves_the_prefix() {
    let template = build(400);
    let last = segment_files(template.path()).pop().unwrap();
    let records = record_offsets(&last);
    let first_cut = records[records.len() - 3].1;
    let file_end = records.last().unwrap().2;
    for at in first_cut..file_end {
        let copy = copy_dir(template.path());
        let log = copy.path().join(last.file_name().unwrap());
        cut(&log, at);
        let boundary = records
            .iter()
            .filter(|r| r.2 <= at)
            .map(|r| r.2)
            .max()
            .unwrap();
        match DiskJournal::open(copy.path()) {
            Err(e) => {
                assert!(e.is_corruption(), "cut at {at}: {e}");
                let text = e.to_string();
                assert!(text.contains(&log.display().to_string()), "{text}");
                assert!(
                    text.contains(&format!("offset {boundary}")),
                    "cut at {at}: {text}"
                );
            }
            Ok(_) => panic!("cut at {at}: a writer opened over lost synced data"),
        }
        let reader = DiskJournal::open_read_only(copy.path()).unwrap();
        let report = reader.recovery_report();
        let corruption = report.corruption.as_ref().expect("reported");
        assert!(
            corruption.contains(&format!("offset {boundary}")),
            "{corruption}"
        );
        let kept = records.iter().filter(|r| r.2 <= at).count() as u64;
        let expected_latest = records[usize::try_from(kept).unwrap() - 1].0;
        assert_eq!(reader.get_latest_sequence().unwrap(), expected_latest);
        assert_entries_intact(&reader);
        // Read-only never wrote: the file is still cut where we cut it.
        assert_eq!(std::fs::metadata(&log).unwrap().len(), at);
    }
}

#[test]
fn salvage_mode_drops_the_damaged_tail_and_says_how_much() {
    let template = build(200);
    let last = segment_files(template.path()).pop().unwrap();
    let records = record_offsets(&last);
    let copy = copy_dir(template.path());
    let log = copy.path().join(last.file_name().unwrap());
    let victim = records[records.len() - 15];
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[usize::try_from(victim.1).unwrap() + 20] ^= 0x01;
    std::fs::write(&log, &bytes).unwrap();
    assert!(
        matches!(DiskJournal::open(copy.path()), Err(Error::ChecksumMismatch { offset, .. }) if offset == victim.1)
    );
    let journal = DiskJournal::builder(copy.path())
        .recovery(baldur_journal::RecoveryMode::Salvage)
        .open()
        .unwrap();
    let report = journal.recovery_report();
    assert!(report.corruption.is_some());
    assert_eq!(report.salvaged_bytes, bytes.len() as u64 - victim.1);
    assert_eq!(journal.get_latest_sequence().unwrap(), victim.0 - 1);
    assert_entries_intact(&journal);
}

#[test]
fn strict_mode_refuses_a_torn_tail() {
    let template = build(50);
    let last = segment_files(template.path()).pop().unwrap();
    let records = record_offsets(&last);
    let copy = copy_dir(template.path());
    std::fs::remove_file(copy.path().join("head")).unwrap();
    let log = copy.path().join(last.file_name().unwrap());
    cut(&log, records.last().unwrap().2 - 3);
    let strict = DiskJournal::builder(copy.path())
        .recovery(baldur_journal::RecoveryMode::Strict)
        .open();
    assert!(matches!(strict, Err(e) if e.is_corruption()));
    assert!(DiskJournal::open(copy.path()).is_ok());
}
