//! Both persist modes. Sync: `persist_entry` appends and folds before it
//! returns. Async: a background persister fed by a bounded channel appends
//! the snapshots; `persist_entry` returns once queued, `flush` waits until
//! they are folded, and dropping the statistics drains the queue.

use std::sync::Arc;

use baldur_journal::projection::{
    ASYNC_PERSIST_TASK_NAME, JournalStatistics, PersistMode, StatisticsRepository,
};
use baldur_journal::{DiskJournal, Durability, Error, EventJournal, MemoryJournal};
use serde_json::{Map, Value, json};

fn snapshot(id: &str) -> Map<String, Value> {
    match json!({"id": id, "domain": "payments", "failure_type": "timeout"}) {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

#[test]
fn sync_mode_folds_before_returning() {
    let stats = JournalStatistics::new(Arc::new(MemoryJournal::new()));
    assert!(!stats.should_persist_async());
    assert_eq!(stats.get_async_persist_task_name(), None);
    assert_eq!(
        stats.persist_entry(&snapshot("a")).unwrap().as_deref(),
        Some("a")
    );
    assert_eq!(stats.journal().get_latest_sequence().unwrap(), 1);
    assert_eq!(stats.get_status_counts().unwrap().pending, 1);
}

#[test]
fn async_mode_queues_and_flush_waits_until_folded() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(
        DiskJournal::builder(dir.path())
            .durability(Durability::Os)
            .open()
            .unwrap(),
    );
    let stats = JournalStatistics::builder(journal.clone())
        .persist_mode(PersistMode::Async { queue_depth: 4 })
        .build()
        .unwrap();
    assert!(stats.should_persist_async());
    assert_eq!(
        stats.get_async_persist_task_name().as_deref(),
        Some(ASYNC_PERSIST_TASK_NAME)
    );

    // More than the queue holds: the caller waits for room, nothing is lost.
    for i in 0..100 {
        let id = format!("e{i}");
        assert_eq!(stats.persist_entry(&snapshot(&id)).unwrap(), Some(id));
    }
    let batch: Vec<_> = (100..150).map(|i| snapshot(&format!("e{i}"))).collect();
    assert_eq!(stats.sync_from_runtime(&batch).unwrap(), 50);
    stats.flush().unwrap();
    assert_eq!(journal.get_latest_sequence().unwrap(), 150);
    assert_eq!(
        stats.refresh().unwrap().last_sequence,
        150,
        "flush folded everything"
    );
    assert_eq!(stats.get_status_counts().unwrap().pending, 150);

    // Validation still happens on the caller's thread.
    let mut bad = snapshot("bad");
    bad.insert("resolved_at".into(), json!("soon"));
    assert!(matches!(
        stats.persist_entry(&bad),
        Err(Error::InvalidEntry(_))
    ));
    assert_eq!(stats.persist_entry(&Map::new()).unwrap(), None);

    // Dropping the statistics drains what is still queued.
    for i in 150..160 {
        stats.persist_entry(&snapshot(&format!("e{i}"))).unwrap();
    }
    drop(stats);
    assert_eq!(journal.get_latest_sequence().unwrap(), 160);
}

#[test]
fn a_background_failure_is_reported_by_flush() {
    let dir = tempfile::tempdir().unwrap();
    DiskJournal::open(dir.path()).unwrap().close().unwrap();
    let read_only = Arc::new(DiskJournal::open_read_only(dir.path()).unwrap());
    let stats = JournalStatistics::builder(read_only)
        .persist_mode(PersistMode::asynchronous())
        .build()
        .unwrap();
    assert_eq!(
        stats.persist_entry(&snapshot("a")).unwrap().as_deref(),
        Some("a")
    );
    assert!(matches!(stats.flush(), Err(Error::ReadOnly)));
    stats.flush().unwrap();
}

#[test]
fn the_queue_depth_is_bounded() {
    for queue_depth in [0, 65_537] {
        let built = JournalStatistics::builder(Arc::new(MemoryJournal::new()))
            .persist_mode(PersistMode::Async { queue_depth })
            .build();
        assert!(
            matches!(built, Err(Error::InvalidOption(_))),
            "{queue_depth}"
        );
    }
}
