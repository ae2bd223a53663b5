//! Memory: the peak heap of `count` and of a streaming replay does not grow
//! with the journal. A counting global allocator measures the peak above
//! the baseline during each operation; 10x more entries must not move it.
//! The 1 M / 10 M case is `#[ignore]`d by default and run in release mode
//! by `.ci/run` (scripts/test.sh); a 20 k / 200 k case always runs.

mod counting_alloc;

use baldur_journal::{
    DiskJournal, Durability, EventJournal, JournalEntry, JournalQueryFilter, Timestamp,
};
use counting_alloc::{peak_during, serial};

/// Builds a journal of `n` small entries and measures (count, replay) peaks.
fn measure(n: u64) -> (usize, usize) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&root).unwrap();
    let dir = tempfile::tempdir_in(&root).unwrap();
    {
        let journal = DiskJournal::builder(dir.path())
            .segment_bytes(16 << 20)
            .durability(Durability::Os)
            .open()
            .unwrap();
        let batch: Vec<JournalEntry> = (0..1024)
            .map(|i| JournalEntry::new("t", "s", Timestamp::from_unix_nanos(i), "svc"))
            .collect();
        let mut written = 0;
        while written < n {
            let take = (n - written).min(1024) as usize;
            journal.append_batch(&batch[..take]).unwrap();
            written += take as u64;
        }
        journal.close().unwrap();
    }
    let journal = DiskJournal::open_read_only(dir.path()).unwrap();
    // Warm the map cache and the lazily built state once.
    let scan = JournalQueryFilter {
        service_name: Some("svc".into()),
        ..Default::default()
    };
    assert_eq!(journal.count(&scan).unwrap(), n);
    let (counted, count_peak) = peak_during(|| journal.count(&scan).unwrap());
    assert_eq!(counted, n);
    let (replayed, replay_peak) = peak_during(|| {
        let mut k = 0u64;
        for e in journal.range_iter(0, u64::MAX).unwrap() {
            k += e.unwrap().sequence.min(1);
        }
        k
    });
    assert_eq!(replayed, n);
    (count_peak, replay_peak)
}

fn assert_flat(small: u64, large: u64) {
    let (count_small, replay_small) = measure(small);
    let (count_large, replay_large) = measure(large);
    println!(
        "peak heap: count {count_small} B at {small}, {count_large} B at {large}; \
         replay {replay_small} B at {small}, {replay_large} B at {large}"
    );
    const SLACK_BYTES: usize = 8 << 10;
    assert!(
        count_large <= count_small + SLACK_BYTES,
        "count: {count_small} -> {count_large}"
    );
    assert!(
        replay_large <= replay_small + SLACK_BYTES,
        "replay: {replay_small} -> {replay_large}"
    );
    assert!(count_large < 64 << 10, "count peak {count_large} B");
    assert!(replay_large < 64 << 10, "replay peak {replay_large} B");
}

#[test]
fn peak_heap_is_flat_from_20k_to_200k_entries() {
    let _serial = serial();
    assert_flat(20_000, 200_000);
}

#[test]
#[ignore = "large: run in release by scripts/test.sh (cargo test --release --test memory_peak -- --ignored)"]
fn peak_heap_is_flat_from_1m_to_10m_entries() {
    let _serial = serial();
    assert_flat(1_000_000, 10_000_000);
}
