//! Statistics in a read-only process watching a live journal: each read
//! folds what the writer has acknowledged since the last read, so a read
//! issued after sequence N was acknowledged reflects N. Writes are refused.

use std::sync::Arc;

use baldur_journal::projection::{
    JournalStatistics, LifecycleEvent, LifecycleKind, StatisticsRepository, StoreEvent,
};
use baldur_journal::{DiskJournal, Error, EventJournal, Timestamp};

#[test]
fn a_read_only_watcher_follows_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    // Durability::Always (the default): the writer publishes after the sync.
    let writer = DiskJournal::builder(dir.path())
        .segment_bytes(64 * 1024)
        .open()
        .unwrap();
    let watcher =
        JournalStatistics::new(Arc::new(DiskJournal::open_read_only(dir.path()).unwrap()));
    assert_eq!(watcher.get_status_counts().unwrap().total, 0);

    for i in 0..400 {
        let id = format!("e{i}");
        let stored = writer
            .append(&StoreEvent::new(id.as_str(), "payments", "timeout").to_entry(Timestamp::now()))
            .unwrap();
        let sequence = if i % 2 == 0 {
            writer
                .append(
                    &LifecycleEvent::new(LifecycleKind::Resolve, id.as_str())
                        .to_entry(Timestamp::now()),
                )
                .unwrap()
        } else {
            stored
        };
        if i % 50 == 49 {
            // Read right after the acknowledgement: it reflects `sequence`.
            let counts = watcher.get_status_counts().unwrap();
            assert_eq!(counts.total, i + 1);
            assert_eq!(counts.resolved, i.div_ceil(2));
            assert_eq!(watcher.refresh().unwrap().last_sequence, sequence);
        }
    }
    assert!(
        writer.info().unwrap().segments.len() > 1,
        "the watcher crossed segment rolls"
    );
    assert_eq!(
        watcher.get_entry_detail("e399").unwrap().unwrap().status,
        "pending"
    );
    assert!(matches!(
        watcher.archive_old_entries(0),
        Err(Error::ReadOnly)
    ));
    assert_eq!(
        watcher.archive_old_entries(365).unwrap(),
        0,
        "nothing to append: no error"
    );
}
