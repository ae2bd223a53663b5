//! Opening after a clean close reads only the headers and footers of sealed
//! segments (their indexes say the rest) and maps none of them: the cost
//! of an open does not grow with what the segments hold. Records are
//! checked when read.

use baldur_test_support::common;

use baldur_journal::codec::{FOOTER_FRAME_LEN, SEGMENT_HEADER_LEN};
use baldur_journal::{DiskJournal, EventJournal};
use common::{entry, segment_files};

fn build(dir: &std::path::Path) -> usize {
    let journal = DiskJournal::builder(dir)
        .segment_bytes(64 << 10)
        .durability(baldur_journal::Durability::Os)
        .open()
        .unwrap();
    let batch: Vec<_> = (1..=3000).map(entry).collect();
    journal.append_batch(&batch).unwrap();
    journal.close().unwrap();
    segment_files(dir).len() - 1
}

#[test]
fn open_reads_only_headers_and_footers_of_sealed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let sealed = build(dir.path());
    assert!(sealed >= 5, "{sealed} sealed segments");
    let per_segment = (SEGMENT_HEADER_LEN + FOOTER_FRAME_LEN) as u64;
    for read_only in [false, true] {
        let journal = DiskJournal::builder(dir.path())
            .read_only(read_only)
            .open()
            .unwrap();
        let report = journal.recovery_report();
        assert_eq!(
            report.sealed_log_bytes_read,
            sealed as u64 * per_segment,
            "read_only {read_only}"
        );
        assert!(report.rebuilt_indexes.is_empty());
        // Only the active segment (scanned to find its end) is mapped.
        assert!(journal.mapped_segments() <= 1, "read_only {read_only}");
        // Reading maps what it reads.
        assert_eq!(journal.get_sequence_range(1, 3001).unwrap().len(), 3000);
        assert!(journal.mapped_segments() > sealed.min(64));
    }
}

#[test]
fn a_missing_index_costs_its_segment_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let sealed = build(dir.path());
    let first_index = segment_files(dir.path())[0].with_extension("idx");
    std::fs::remove_file(&first_index).unwrap();
    let journal = DiskJournal::open_read_only(dir.path()).unwrap();
    let report = journal.recovery_report();
    assert_eq!(report.rebuilt_indexes.len(), 1);
    let per_segment = (SEGMENT_HEADER_LEN + FOOTER_FRAME_LEN) as u64;
    let log_len = std::fs::metadata(&segment_files(dir.path())[0])
        .unwrap()
        .len();
    assert_eq!(
        report.sealed_log_bytes_read,
        (sealed as u64 - 1) * per_segment + log_len
    );
}

/// A time-window query maps only the segments whose summaries overlap the
/// window (plus the active segment, mapped since the open).
#[test]
fn a_time_window_maps_only_the_segments_it_overlaps() {
    use baldur_journal::{JournalQueryFilter, Timestamp};
    let dir = tempfile::tempdir().unwrap();
    let at =
        |i: u64| Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + i as i64 * 1_000_000_000);
    {
        let journal = DiskJournal::builder(dir.path())
            .segment_bytes(64 << 10)
            .durability(baldur_journal::Durability::Os)
            .open()
            .unwrap();
        let batch: Vec<_> = (1..=3000)
            .map(|i| {
                let mut e = entry(i);
                e.timestamp = at(i);
                e
            })
            .collect();
        journal.append_batch(&batch).unwrap();
        journal.close().unwrap();
    }
    let journal = DiskJournal::open_read_only(dir.path()).unwrap();
    let before = journal.mapped_segments();
    let filter = JournalQueryFilter {
        start_time: Some(at(1500)),
        end_time: Some(at(1510)),
        ..Default::default()
    };
    let result = journal.query(&filter).unwrap();
    assert_eq!(result.total_count, 10);
    let sealed = segment_files(dir.path()).len() - 1;
    assert!(sealed >= 5);
    let mapped = journal.mapped_segments() - before;
    assert!(
        mapped <= 2,
        "{mapped} segments mapped for a 10-second window"
    );
    assert_eq!(journal.count(&filter).unwrap(), 10);
    assert!(journal.mapped_segments() - before <= 2);
}
