//! Helpers shared by the integration tests.

use baldur_journal::{Context, JournalEntry, Timestamp};

/// A deterministic entry number `i`, varied in every field.
#[must_use]
pub fn entry(i: u64) -> JournalEntry {
    const TYPES: [&str; 4] = [
        "dlq_store",
        "circuit_breaker_opened",
        "dlq_resolve",
        "error_budget_critical",
    ];
    const SERVICES: [&str; 3] = ["payments", "orders", ""];
    const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", ""];
    JournalEntry::new(
        TYPES[(i % 4) as usize],
        "test",
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + (i as i64 % 97) * 1_000_000_007),
        SERVICES[(i % 3) as usize],
    )
    .with_context(
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-{i}","attempt":{},"big":18446744073709551617,"ok":{}}}"#,
            i % 5,
            i.is_multiple_of(2)
        ))
        .unwrap(),
    )
    .with_region(REGIONS[(i % 3) as usize])
    .with_tier_id(format!("tier-{}", i % 2))
}

/// The entry as the journal stores it: assigned sequence, append time dropped
/// (compare with `strip`).
#[must_use]
pub fn strip(mut e: JournalEntry) -> JournalEntry {
    e.appended_at = None;
    e
}

/// A fixed-seed xorshift generator, so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// An index into a slice of `len` items (the same draw as `below`).
    pub fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap()
    }
}

/// The `.log` files of a journal directory, ascending.
#[must_use]
pub fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs
}

/// `(sequence, start, end)` of every record frame in a segment file.
#[must_use]
pub fn record_offsets(path: &std::path::Path) -> Vec<(u64, u64, u64)> {
    use baldur_journal::codec::{BODY_LEN_MAX, SEGMENT_HEADER_LEN, check_frame};
    let bytes = std::fs::read(path).unwrap();
    let mut at = SEGMENT_HEADER_LEN;
    let mut out = Vec::new();
    while let Ok(frame) = check_frame(&bytes[at..], BODY_LEN_MAX) {
        if frame.is_footer {
            break;
        }
        out.push((frame.sequence, at as u64, (at + frame.total_len) as u64));
        at += frame.total_len;
    }
    out
}

/// Copies a journal directory (files only) into a fresh temporary directory.
#[must_use]
pub fn copy_dir(from: &std::path::Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let path = item.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    to
}

/// The sequence numbers of every entry the journal serves.
pub fn all_sequences(journal: &dyn baldur_journal::EventJournal) -> Vec<u64> {
    journal
        .range_iter(0, u64::MAX)
        .unwrap()
        .map(|e| e.unwrap().sequence)
        .collect()
}

/// Checks that each served entry is exactly `entry(sequence)` as appended
/// (tests append `entry(i)` at sequence `i`).
pub fn assert_entries_intact(journal: &dyn baldur_journal::EventJournal) {
    for e in journal.range_iter(0, u64::MAX).unwrap() {
        let e = e.unwrap();
        let mut expected = entry(e.sequence);
        expected.sequence = e.sequence;
        assert_eq!(strip(e), expected);
    }
}

/// A random event for the statistics' workloads: a store (of `ids`
/// entries, `retry_count` below `retries`), a lifecycle step, an audit
/// link, a persist, an archive or purge, or a breaker transition.
pub fn random_dlq_event(
    rng: &mut Rng,
    at: Timestamp,
    ids: u64,
    retries: u64,
    i: i64,
) -> JournalEntry {
    use baldur_journal::projection::{
        AuditLink, BreakerEvent, BreakerTransition, LifecycleEvent, LifecycleKind, StoreEvent,
        events,
    };
    let id = format!("e{}", rng.below(ids));
    let kinds = LifecycleKind::ALL;
    match rng.below(10) {
        0..=2 => {
            let mut store = StoreEvent::new(
                &id,
                ["payments", "orders", ""][rng.index(3)],
                ["timeout", "validation"][rng.index(2)],
            );
            store.retry_count = rng.below(retries) as i64;
            store.to_entry(at)
        }
        3..=5 => LifecycleEvent::new(kinds[rng.index(kinds.len())], &id).to_entry(at),
        6 => {
            let mut link = AuditLink::new(&id, "review");
            link.details = Some(format!("note {i}"));
            link.to_entry(at)
        }
        7 => {
            let mut data = serde_json::Map::new();
            data.insert("id".into(), id.clone().into());
            data.insert("status".into(), "pending".into());
            data.insert("retry_count".into(), 1.into());
            events::dlq_persist(&id, &data, at)
        }
        8 => match rng.below(2) {
            0 => events::dlq_archive(&id, None, None, at),
            _ => events::dlq_purge(&id, None, None, at),
        },
        _ => {
            let transitions = [
                BreakerTransition::Opened,
                BreakerTransition::Closed,
                BreakerTransition::HalfOpened,
            ];
            BreakerEvent::new(transitions[rng.index(3)], ["svc-a", "svc-b"][rng.index(2)])
                .to_entry(at)
        }
    }
}

/// A closed journal of 64 KiB segments holding `entry(1..=n)`, appended in
/// batches of `batch` under the default policy (one sync per batch).
pub fn closed_journal(n: u64, batch: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let journal = baldur_journal::DiskJournal::builder(dir.path())
        .segment_bytes(64 << 10)
        .open()
        .unwrap();
    let all: Vec<_> = (1..=n).map(entry).collect();
    for chunk in all.chunks(batch) {
        baldur_journal::EventJournal::append_batch(&journal, chunk).unwrap();
    }
    journal.close().unwrap();
    dir
}

/// Every read of `got` equals the same read of `want`.
pub fn assert_same_statistics(
    got: &impl baldur_journal::projection::StatisticsRepository,
    want: &impl baldur_journal::projection::StatisticsRepository,
    ids: &[String],
    why: &str,
) {
    assert_eq!(
        got.get_status_counts().unwrap(),
        want.get_status_counts().unwrap(),
        "{why}: status counts"
    );
    assert_eq!(
        got.get_domain_distribution(10).unwrap(),
        want.get_domain_distribution(10).unwrap(),
        "{why}: domains"
    );
    assert_eq!(
        got.get_failure_type_distribution(10).unwrap(),
        want.get_failure_type_distribution(10).unwrap(),
        "{why}: failure types"
    );
    assert_eq!(
        got.get_recent_activity(24, 7).unwrap(),
        want.get_recent_activity(24, 7).unwrap(),
        "{why}: activity"
    );
    assert_eq!(
        got.get_resolution_rate(30).unwrap().to_bits(),
        want.get_resolution_rate(30).unwrap().to_bits(),
        "{why}: resolution rate"
    );
    assert_eq!(
        got.get_avg_retry_count().unwrap().to_bits(),
        want.get_avg_retry_count().unwrap().to_bits(),
        "{why}: retries"
    );
    for order_by in ["-created_at", "retry_count", "domain"] {
        let query = baldur_journal::projection::EntryListQuery {
            page_size: 100,
            order_by: order_by.into(),
            ..baldur_journal::projection::EntryListQuery::default()
        };
        assert_eq!(
            got.list_entries(&query).unwrap(),
            want.list_entries(&query).unwrap(),
            "{why}: list_entries by {order_by}"
        );
    }
    assert_eq!(
        got.get_sla_breaches(4, None).unwrap(),
        want.get_sla_breaches(4, None).unwrap(),
        "{why}: SLA"
    );
    assert_eq!(
        got.get_cleanup_stats().unwrap(),
        want.get_cleanup_stats().unwrap(),
        "{why}: cleanup"
    );
    assert_eq!(
        got.list_circuit_breakers().unwrap(),
        want.list_circuit_breakers().unwrap(),
        "{why}: circuit breakers"
    );
    assert_eq!(
        got.get_circuit_breaker_summary().unwrap(),
        want.get_circuit_breaker_summary().unwrap(),
        "{why}: breaker summary"
    );
    for id in ids {
        assert_eq!(
            got.get_entry_detail(id).unwrap(),
            want.get_entry_detail(id).unwrap(),
            "{why}: entry {id}"
        );
        assert_eq!(
            got.get_audit_trail_by_entity(id, "dlq_entry").unwrap(),
            want.get_audit_trail_by_entity(id, "dlq_entry").unwrap(),
            "{why}: audit trail of {id}"
        );
    }
}

/// The base sequence a segment file's name spells.
#[must_use]
pub fn base_of(path: &std::path::Path) -> u64 {
    path.file_stem()
        .and_then(|stem| stem.to_str())
        .and_then(|stem| stem.parse().ok())
        .unwrap_or_else(|| panic!("{} is not a segment file", path.display()))
}

/// Opens `dir` as a writer under `Durability::Os`.
#[must_use]
pub fn os_writer(dir: &std::path::Path) -> baldur_journal::DiskJournal {
    baldur_journal::DiskJournal::builder(dir)
        .durability(baldur_journal::Durability::Os)
        .open()
        .unwrap()
}

/// Asserts `verify` finds nothing wrong with `dir`.
pub fn assert_verifies(dir: &std::path::Path) {
    let report = baldur_journal::disk::verify(dir).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}
