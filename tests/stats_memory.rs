//! Memory of `stats` and `dashboard`: the statistics keep per-entry state,
//! not event bodies. A counting global allocator measures the peak heap of
//! a fold plus every read the dashboard makes, over journals of 2 KB DLQ
//! events (`dlq_store` with a 500-byte error message and 1.5 KB of
//! snapshot data; a quarter of the entries also resolved): at most 64 MiB
//! plus 1 KiB per DLQ entry, and at most 1 KiB more per entry from the
//! smaller journal to the larger. docs/RELIABILITY.md gives the figures;
//! `cargo test --test stats_memory -- --ignored --nocapture` runs the
//! 200,000-entry case (460 MB of events, written under target/).

mod counting_alloc;

use std::sync::Arc;

use baldur_journal::projection::{
    EntryListQuery, JournalStatistics, LifecycleEvent, LifecycleKind, StatisticsRepository,
    StoreEvent,
};
use baldur_journal::{DiskJournal, Durability, EventJournal, JournalEntry, Timestamp};
use counting_alloc::{peak_during, serial};
use serde_json::{Map, Value};

/// The `dlq_store` event of entry `i`: about 2 KB of JSON.
fn store_event(i: u64, at: Timestamp) -> JournalEntry {
    let mut event = StoreEvent::new(
        format!("dlq-{i:08}"),
        ["payments", "orders", "shipping"][(i % 3) as usize],
        ["timeout", "validation", "conflict"][(i % 3) as usize],
    );
    event.error_message = format!("upstream refused request {i}: {}", "e".repeat(470));
    let mut data = Map::new();
    data.insert("payload".into(), Value::String("p".repeat(1500)));
    data.insert("attempt".into(), Value::from(i));
    event.snapshot_data = data;
    event.to_entry(at)
}

/// A journal of `n` DLQ entries (a quarter of them resolved), unchained.
fn build(dir: &std::path::Path, n: u64) -> u64 {
    let journal = DiskJournal::builder(dir)
        .segment_bytes(64 << 20)
        .durability(Durability::Os)
        .open()
        .unwrap();
    let at = Timestamp::now();
    let mut bytes = 0u64;
    let mut batch = Vec::with_capacity(1024);
    for i in 0..n {
        let event = store_event(i, at);
        bytes += event.context.as_str().len() as u64;
        batch.push(event);
        if i % 4 == 0 {
            batch.push(
                LifecycleEvent::new(LifecycleKind::Resolve, format!("dlq-{i:08}")).to_entry(at),
            );
        }
        if batch.len() >= 1000 {
            journal.append_batch(&batch).unwrap();
            batch.clear();
        }
    }
    journal.append_batch(&batch).unwrap();
    journal.close().unwrap();
    bytes / n
}

/// Every read the dashboard makes (`dashboard --json`), and one detail.
fn dashboard_reads(statistics: &JournalStatistics<dyn EventJournal>) -> u64 {
    let counts = statistics.get_status_counts().unwrap();
    statistics.get_status_breakdown().unwrap();
    statistics.get_recent_activity(24, 7).unwrap();
    statistics.get_resolution_rate(30).unwrap();
    statistics.get_avg_retry_count().unwrap();
    statistics.get_domain_distribution(10).unwrap();
    statistics.get_failure_type_distribution(10).unwrap();
    statistics.get_sla_breaches(4, None).unwrap();
    statistics.get_cleanup_stats().unwrap();
    statistics.get_circuit_breaker_summary().unwrap();
    statistics.list_circuit_breakers().unwrap();
    let page = statistics
        .list_entries(&EntryListQuery {
            page_size: 10,
            ..EntryListQuery::default()
        })
        .unwrap();
    assert_eq!(page.items.len(), 10);
    let detail = statistics
        .get_entry_detail("dlq-00000001")
        .unwrap()
        .unwrap();
    assert_eq!(
        detail.snapshot_data["payload"].as_str().unwrap().len(),
        1500
    );
    assert!(
        detail
            .error_message
            .starts_with("upstream refused request 1:")
    );
    counts.total
}

/// Peak heap of folding a journal of `n` entries and answering the
/// dashboard, in bytes, and the mean event size.
fn measure(n: u64) -> (usize, u64) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&root).unwrap();
    let dir = tempfile::tempdir_in(&root).unwrap();
    let event_bytes = build(dir.path(), n);
    let journal: Arc<dyn EventJournal> = Arc::new(DiskJournal::open_read_only(dir.path()).unwrap());
    // Warm the journal's own lazily built state.
    journal.get_latest_sequence().unwrap();
    let (total, peak) = peak_during(|| {
        let statistics = JournalStatistics::new(journal.clone());
        dashboard_reads(&statistics)
    });
    assert_eq!(total, n);
    (peak, event_bytes)
}

fn check(small: u64, large: u64) {
    let (peak_small, event_bytes) = measure(small);
    let (peak_large, _) = measure(large);
    let per_entry = (peak_large.saturating_sub(peak_small)) as f64 / (large - small) as f64;
    println!(
        "stats memory: {event_bytes}-byte DLQ events; peak heap {:.1} MiB at {small} entries, \
         {:.1} MiB at {large} entries: {per_entry:.0} bytes per entry",
        peak_small as f64 / f64::from(1 << 20),
        peak_large as f64 / f64::from(1 << 20),
    );
    assert!(event_bytes >= 2000, "events of {event_bytes} bytes");
    for (n, peak) in [(small, peak_small), (large, peak_large)] {
        let bound = (64 << 20) + 1024 * usize::try_from(n).unwrap();
        assert!(
            peak <= bound,
            "{n} entries: peak heap {peak} B above 64 MiB + 1 KiB per entry ({bound} B)"
        );
    }
    assert!(
        per_entry <= 1024.0,
        "{per_entry:.0} bytes per entry: the statistics keep more than per-entry state"
    );
}

#[test]
fn stats_keep_per_entry_state_not_event_bodies() {
    let _serial = serial();
    check(4_000, 20_000);
}

#[test]
#[ignore = "large: cargo test --test stats_memory -- --ignored --nocapture"]
fn stats_keep_per_entry_state_not_event_bodies_at_200k_entries() {
    let _serial = serial();
    check(40_000, 200_000);
}
