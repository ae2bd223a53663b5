//! Queries and counts use the per-segment summaries: a count by event type
//! is answered without reading sealed segments, and queries skip segments
//! outside their time window or without the wanted types. Proven by
//! damaging a sealed segment that the answer must not touch. Also: many
//! segments read through a tiny map cache keep maps and descriptors bounded.

use baldur_test_support::common;

use baldur_journal::{
    DiskJournal, Durability, EventJournal, JournalEntry, JournalQueryFilter, Timestamp,
};
use common::{record_offsets, segment_files};

/// The tests of this file count process-wide descriptors: run them one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn timed(i: u64) -> JournalEntry {
    let kind = if i <= 1000 { "early" } else { "late" };
    JournalEntry::new(
        kind,
        "test",
        Timestamp::from_unix_nanos(i as i64 * 1000),
        "svc",
    )
}

#[test]
fn summaries_answer_without_reading_damaged_segments() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(dir.path())
        .segment_bytes(64 << 10)
        .durability(Durability::Os)
        .open()
        .unwrap();
    let all: Vec<_> = (1..=3000).map(timed).collect();
    journal.append_batch(&all).unwrap();
    journal.close().unwrap();
    // Damage one record in the first sealed segment (only "early" entries).
    let first = segment_files(dir.path())[0].clone();
    let records = record_offsets(&first);
    let (damaged_seq, start, _) = records[records.len() / 2];
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[usize::try_from(start).unwrap() + 30] ^= 0xff;
    std::fs::write(&first, bytes).unwrap();

    let journal = DiskJournal::open_read_only(dir.path()).unwrap();
    let by_type = |t: &str| JournalQueryFilter {
        event_types: Some(vec![t.into()]),
        ..Default::default()
    };
    assert_eq!(
        journal.count(&by_type("early")).unwrap(),
        1000,
        "answered from summaries"
    );
    assert_eq!(journal.count(&by_type("late")).unwrap(), 2000);
    let late = JournalQueryFilter {
        limit: 5000,
        ..by_type("late")
    };
    assert_eq!(
        journal.query(&late).unwrap().total_count,
        2000,
        "the early segment was skipped"
    );
    let window = JournalQueryFilter {
        start_time: Some(Timestamp::from_unix_nanos(2_000_000)),
        end_time: Some(Timestamp::from_unix_nanos(2_500_000)),
        ..Default::default()
    };
    assert_eq!(
        journal.query(&window).unwrap().total_count,
        500,
        "outside the window: skipped"
    );
    // Counts by service answer from the summaries' service tables.
    let by_service = JournalQueryFilter {
        service_name: Some("svc".into()),
        ..Default::default()
    };
    assert_eq!(journal.count(&by_service).unwrap(), 3000);
    // Anything that must read the damaged record says where it is.
    let scan = JournalQueryFilter {
        context_filters: Some([("k".to_string(), "v".to_string())].into()),
        ..Default::default()
    };
    let error = journal.count(&scan).unwrap_err();
    assert!(
        error.to_string().contains(&format!("offset {start}")),
        "{error}"
    );
    assert!(
        journal
            .get_sequence_range(damaged_seq, damaged_seq + 1)
            .is_err()
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn maps_of(dir: &std::path::Path) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|l| l.contains(dir.to_str().unwrap()))
        .count()
}

#[test]
fn many_segments_keep_maps_and_descriptors_bounded() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    {
        let journal = DiskJournal::builder(dir.path())
            .segment_bytes(64 << 10)
            .durability(Durability::Os)
            .open()
            .unwrap();
        let all: Vec<_> = (1..=120_000).map(timed).collect();
        for chunk in all.chunks(8000) {
            journal.append_batch(chunk).unwrap();
        }
    }
    let segments = segment_files(dir.path()).len();
    assert!(segments > 100, "{segments} segments");
    let fds_before = open_fds();
    let journal = DiskJournal::builder(dir.path())
        .read_only(true)
        .map_cache_capacity(4)
        .open()
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            journal.get_sequence_range(0, u64::MAX).unwrap().len(),
            120_000
        );
        let scan = JournalQueryFilter {
            service_name: Some("svc".into()),
            ..Default::default()
        };
        assert_eq!(journal.count(&scan).unwrap(), 120_000);
    }
    assert!(
        maps_of(dir.path()) <= 4,
        "{} maps of journal files",
        maps_of(dir.path())
    );
    assert!(
        open_fds() <= fds_before + 2,
        "descriptors grew from {fds_before} to {}",
        open_fds()
    );
}
