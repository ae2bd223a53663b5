//! A week of DLQ traffic through a journal that keeps two days (issue 18's
//! "done when"). Each simulated day, events written by the statistics
//! (chained) into a reference journal in memory are imported into a disk
//! journal with their append times kept (the event time is the append
//! time). The writer's policy is `older_than: 2 days`, measured from the
//! journal's newest append time (the library's default clock, so the
//! simulated time governs), applied on each roll. After each day the test
//! checks:
//!
//! - how many segments are gone: exactly the sealed segments whose newest
//!   append was more than two days older than the newest append at the
//!   last roll (none in the first two days);
//! - disk use: the segment logs hold at most the last two days' bytes plus
//!   two segments (the one straddling the cutoff and the active one), and
//!   every file of the directory at most 10 % more;
//! - the statistics from the snapshot plus what remains equal a full fold
//!   of the whole week in memory (the snapshot, brought up to date each
//!   evening, sets the retention floor);
//! - every audit chain verifies, those begun below the mark from their
//!   first retained link, anchored by the snapshot;
//! - `verify` is clean.
//!
//! The light run (in `cargo test`): 3,000 events a day, 64 KiB segments.
//! The size, 50,000 events a day and 1 MiB segments, is the
//! ignored test, run in release by `scripts/test.sh`.

use baldur_test_support::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use baldur_journal::disk::{DiskJournal, RetentionPolicy, verify};
use baldur_journal::projection::chain::verify_chains_anchored;
use baldur_journal::projection::{
    AuditKeyring, EntryListQuery, JournalStatistics, ManualClock, SnapshotConfig,
    StatisticsRepository, chain_anchors,
};
use baldur_journal::{EventJournal, JournalEntry, MemoryJournal, Timestamp};
use common::Rng;

const DAY: i64 = 86_400_000_000_000;
const T0: i64 = 1_700_000_000_000_000_000;

/// Entries living their lives side by side: each event moves a random
/// one a step on (stored, a replay that fails, an escalation, a link to
/// an audit record, the resolution), and a resolved one is followed by a
/// new entry. Circuit-breaker events come in between.
struct Lives {
    /// Each slot's entry id and its next step.
    slots: Vec<(u64, usize)>,
    next_id: u64,
}

impl Lives {
    fn new(slots: u64) -> Lives {
        Lives {
            slots: (0..slots).map(|i| (i, 0)).collect(),
            next_id: slots,
        }
    }

    fn next_event(&mut self, rng: &mut Rng, at: Timestamp) -> JournalEntry {
        use baldur_journal::projection::{
            AuditLink, BreakerEvent, BreakerTransition, LifecycleEvent, LifecycleKind, StoreEvent,
        };
        if rng.below(10) == 0 {
            let transition = [BreakerTransition::Opened, BreakerTransition::Closed][rng.index(2)];
            return BreakerEvent::new(transition, ["svc-a", "svc-b"][rng.index(2)]).to_entry(at);
        }
        let slot = rng.index(self.slots.len());
        let (id, step) = self.slots[slot];
        let id = format!("dlq-{id}");
        let event = match step {
            0 => StoreEvent::new(&id, ["payments", "orders"][rng.index(2)], "timeout").to_entry(at),
            1 => LifecycleEvent::new(LifecycleKind::ReplayStart, &id).to_entry(at),
            2 => LifecycleEvent::new(LifecycleKind::ReplayFailed, &id).to_entry(at),
            3 => LifecycleEvent::new(LifecycleKind::Escalate, &id).to_entry(at),
            4 => AuditLink::new(&id, "review").to_entry(at),
            _ => LifecycleEvent::new(LifecycleKind::Resolve, &id).to_entry(at),
        };
        self.slots[slot] = if step >= 5 {
            self.next_id += 1;
            (self.next_id - 1, 0)
        } else {
            (self.slots[slot].0, step + 1)
        };
        event
    }
}

/// The bytes a record takes in a segment (frame header and body).
fn frame_bytes(entry: &JournalEntry) -> u64 {
    let mut body = Vec::new();
    baldur_journal::codec::encode_body(entry, &mut body).unwrap();
    (baldur_journal::codec::FRAME_HEADER_LEN + body.len()) as u64
}

/// Bytes of the files in `dir` whose names end with `suffix`.
fn bytes_of(dir: &Path, suffix: &str) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|item| item.unwrap())
        .filter(|item| item.file_name().to_string_lossy().ends_with(suffix))
        .map(|item| item.metadata().unwrap().len())
        .sum()
}

fn week(events_per_day: u64, segment_bytes: u64) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(
        DiskJournal::builder(dir.path())
            .segment_bytes(segment_bytes)
            .durability(baldur_journal::Durability::Os)
            .retention(RetentionPolicy {
                older_than: Some(Duration::from_secs(2 * 86_400)),
                ..RetentionPolicy::default()
            })
            .open()
            .unwrap(),
    );
    let source = Arc::new(MemoryJournal::new());
    let mut rng = Rng(18);
    let mut lives = Lives::new(events_per_day / 4);
    let mut day_bytes: Vec<u64> = Vec::new();
    // Every sealed segment seen: base -> newest append time.
    let mut newest_of: BTreeMap<u64, i64> = BTreeMap::new();
    let keys = AuditKeyring::new();
    for day in 0..7i64 {
        let clock = ManualClock::new(Timestamp::from_unix_nanos(T0 + (day + 1) * DAY));
        {
            let writer = JournalStatistics::builder(source.clone())
                .audit_chain(true)
                .clock(clock.clone())
                .build()
                .unwrap();
            let step = DAY / events_per_day as i64;
            let mut i = 0;
            while i < events_per_day {
                let n = 100.min(events_per_day - i);
                let batch = (i..i + n)
                    .map(|k| {
                        let at = Timestamp::from_unix_nanos(T0 + day * DAY + k as i64 * step);
                        lives.next_event(&mut rng, at)
                    })
                    .collect();
                writer.record(batch).unwrap();
                i += n;
            }
        }
        // Import the day with the append times kept.
        let first = journal.get_latest_sequence().unwrap() + 1;
        let records: Vec<JournalEntry> = source
            .get_sequence_range(first, u64::MAX)
            .unwrap()
            .into_iter()
            .map(|mut e| {
                e.appended_at = Some(e.timestamp);
                e
            })
            .collect();
        day_bytes.push(records.iter().map(frame_bytes).sum());
        for chunk in records.chunks(1000) {
            journal.append_batch_at(chunk[0].sequence, chunk).unwrap();
        }
        let why = format!("day {day}");
        let at_source = baldur_journal::projection::chain::verify_chains(&*source, &keys).unwrap();
        assert!(
            at_source.is_clean(),
            "{why}: the source's chains: {} failed, first {:?}",
            at_source.failed_chains,
            at_source.failures.first()
        );
        // Segments: what the policy dropped.
        let reader = DiskJournal::open_read_only(dir.path()).unwrap();
        let info = reader.info().unwrap();
        let sealed: Vec<_> = info.segments.iter().filter(|s| s.sealed).collect();
        for segment in &sealed {
            let last = segment.last_sequence.unwrap();
            let newest = reader
                .range_iter(last, last + 1)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .appended_at
                .unwrap()
                .as_unix_nanos();
            newest_of.insert(segment.base_sequence, newest);
        }
        let last_roll_newest = *newest_of.values().max().unwrap();
        let expected: Vec<u64> = newest_of
            .iter()
            .filter(|(_, newest)| **newest < last_roll_newest - 2 * DAY)
            .map(|(base, _)| *base)
            .collect();
        let mark = info.retention_mark.unwrap_or(0);
        let dropped: Vec<u64> = newest_of.keys().copied().filter(|&b| b < mark).collect();
        assert_eq!(dropped, expected, "{why}: the segments dropped");
        if day < 2 {
            assert!(dropped.is_empty(), "{why}: dropped before two days passed");
        } else {
            assert!(!dropped.is_empty(), "{why}: nothing dropped");
        }
        // Disk use.
        let two_days = day_bytes.iter().rev().take(2).sum::<u64>();
        let logs = bytes_of(dir.path(), ".log");
        assert!(
            logs <= two_days + 2 * segment_bytes,
            "{why}: {logs} bytes of segments, more than two days ({two_days}) and two segments"
        );
        let all = bytes_of(dir.path(), "") - bytes_of(dir.path(), ".snapshot");
        assert!(
            all <= (two_days + 2 * segment_bytes) * 11 / 10,
            "{why}: {all} bytes on disk"
        );
        drop(reader);
        // Statistics: snapshot and tail against a full fold of the week.
        let from_disk = JournalStatistics::builder(journal.clone())
            .clock(clock.clone())
            .snapshot(SnapshotConfig::for_disk(&*journal))
            .build()
            .unwrap();
        let full = JournalStatistics::builder(source.clone())
            .clock(clock.clone())
            .build()
            .unwrap();
        // Entry details of the newest entries, whose records all remain
        // (a trail after a drop starts at its first retained record).
        let newest: Vec<String> = full
            .list_entries(&EntryListQuery {
                page_size: 20,
                ..EntryListQuery::default()
            })
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.id)
            .collect();
        common::assert_same_statistics(&from_disk, &full, &newest, &why);
        // The evening snapshot moves the floor.
        assert!(from_disk.snapshot_now().unwrap());
        drop(from_disk);
        // Audit chains and the bytes.
        let anchors = chain_anchors(
            &SnapshotConfig::for_disk(&*journal),
            &*journal,
            journal.retention_mark().unwrap(),
        )
        .unwrap();
        let chains = verify_chains_anchored(&*journal, &keys, anchors).unwrap();
        assert!(
            chains.is_clean(),
            "{why}: {} chains failed, first {:?}",
            chains.failed_chains,
            chains.failures.first()
        );
        if day >= 2 {
            assert!(
                chains.chains_below_mark > 0,
                "{why}: no chain begun below the mark"
            );
        }
        let report = verify(dir.path()).unwrap();
        assert!(report.is_clean(), "{why}: verify: {:?}", report.problems);
    }
}

#[test]
fn a_week_through_a_two_day_policy() {
    week(3_000, 64 << 10);
}

#[test]
#[ignore = "the issue's size; run in release by scripts/test.sh"]
fn a_week_of_50k_events_a_day_in_1_mib_segments() {
    week(50_000, 1 << 20);
}
