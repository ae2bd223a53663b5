//! A read-only handle keeps up with writers that come and go: opened on a
//! quiet journal, it sees what later writers appended, also after they
//! exited, and across segment rolls.

use baldur_test_support::common;

use baldur_journal::{DiskJournal, Durability, EventJournal};
use common::{assert_entries_intact, entry};

#[test]
fn a_reader_sees_writers_that_have_come_and_gone() {
    let dir = tempfile::tempdir().unwrap();
    let writer = DiskJournal::builder(dir.path())
        .segment_bytes(64 << 10)
        .open()
        .unwrap();
    writer
        .append_batch(&(1..=10).map(entry).collect::<Vec<_>>())
        .unwrap();
    writer.close().unwrap();
    drop(writer);

    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.get_latest_sequence().unwrap(), 10);
    let mut next = 11;
    for round in 0..4 {
        let writer = DiskJournal::builder(dir.path())
            .durability(if round % 2 == 0 {
                Durability::Always
            } else {
                Durability::Os
            })
            .open()
            .unwrap();
        let batch: Vec<_> = (next..next + 300).map(entry).collect();
        writer.append_batch(&batch).unwrap();
        next += 300;
        if round == 1 {
            // While the writer is live, the reader follows its head.
            assert_eq!(reader.get_latest_sequence().unwrap(), next - 1);
        }
        writer.close().unwrap();
        drop(writer);
        // After the writer exited, the reader still sees everything.
        assert_eq!(
            reader.get_latest_sequence().unwrap(),
            next - 1,
            "round {round}"
        );
        assert_eq!(
            reader.get_sequence_range(0, u64::MAX).unwrap().len() as u64,
            next - 1
        );
    }
    assert!(
        reader.info().unwrap().segments.len() > 3,
        "the rounds crossed rolls"
    );
    assert_entries_intact(&reader);
}
