//! Retention: whole sealed segments dropped from the front behind a
//! durable, tamper-evident low-water mark (docs/DESIGN.md, "Retention").

use std::time::Duration;

use baldur_test_support::common;

use baldur_journal::disk::{RetentionPolicy, verify};
use baldur_journal::{DiskJournal, Durability, EventJournal, JournalQueryFilter};
use common::{all_sequences, assert_verifies, base_of, copy_dir, entry, os_writer, segment_files};

const SEGMENT: u64 = 64 << 10;

fn journal_with(n: u64) -> (tempfile::TempDir, DiskJournal) {
    let dir = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(dir.path())
        .segment_bytes(SEGMENT)
        .durability(Durability::Os)
        .open()
        .unwrap();
    let all: Vec<_> = (1..=n).map(entry).collect();
    journal.append_batch(&all).unwrap();
    (dir, journal)
}

fn below(sequence: u64) -> RetentionPolicy {
    RetentionPolicy {
        below: Some(sequence),
        ..RetentionPolicy::default()
    }
}

fn count_all(journal: &DiskJournal) -> u64 {
    journal.count(&JournalQueryFilter::default()).unwrap()
}

#[test]
fn a_drop_removes_the_oldest_segments_behind_a_mark_that_survives_reopen() {
    let (dir, journal) = journal_with(3000);
    let before = segment_files(dir.path());
    assert!(before.len() > 4, "the test needs several segments");
    let plan = journal.plan_drop(&below(1500)).unwrap();
    assert!(plan.dry_run && !plan.dropped.is_empty());
    // A read-only handle plans the same from its view.
    let reader_plan = DiskJournal::open_read_only(dir.path())
        .unwrap()
        .plan_drop(&below(1500))
        .unwrap();
    assert_eq!(reader_plan, plan);
    assert_eq!(
        segment_files(dir.path()),
        before,
        "a dry run removes nothing"
    );
    let report = journal.drop_segments(&below(1500)).unwrap();
    assert_eq!(
        report.dropped, plan.dropped,
        "the dry run said what the drop did"
    );
    let mark = report.first_retained;
    let last_dropped = report.dropped.last().unwrap().last_sequence;
    assert!(
        last_dropped < 1500 && mark == last_dropped + 1,
        "{report:?}"
    );
    for gone in &report.dropped {
        assert!(
            !gone.path.exists(),
            "{} was not removed",
            gone.path.display()
        );
        assert!(!gone.path.with_extension("idx").exists());
    }
    assert_eq!(journal.retention_mark().unwrap(), Some(mark));
    let remaining: Vec<u64> = (mark..=3000).collect();
    assert_eq!(all_sequences(&journal), remaining);
    assert_eq!(count_all(&journal), remaining.len() as u64);
    let checked = journal.range_checked(1, 10_000).unwrap();
    assert_eq!(
        checked.below_mark,
        Some(mark),
        "a range below the mark says so"
    );
    assert_eq!(checked.entries.len(), remaining.len());
    assert_eq!(
        journal.range_checked(mark, 10_000).unwrap().below_mark,
        None
    );
    // Appends go on, and everything holds after a reopen (writer and reader).
    journal.append(&entry(3001)).unwrap();
    journal.close().unwrap();
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.retention_mark().unwrap(), Some(mark));
    assert_eq!(all_sequences(&reader), (mark..=3001).collect::<Vec<_>>());
    drop(reader);
    let writer = os_writer(dir.path());
    assert_eq!(writer.first_retained_sequence().unwrap(), mark);
    let more: Vec<_> = (3002..=4500).map(entry).collect();
    writer.append_batch(&more).unwrap();
    writer.close().unwrap();
    assert_verifies(dir.path());
}

#[test]
fn the_active_segment_is_never_dropped_and_the_chain_goes_on_from_the_mark() {
    let (dir, journal) = journal_with(2000);
    let active = segment_files(dir.path()).pop().unwrap();
    let report = journal.drop_segments(&below(u64::MAX)).unwrap();
    assert!(active.exists(), "the active segment was dropped");
    assert_eq!(segment_files(dir.path()), vec![active.clone()]);
    let mark = report.first_retained;
    assert_eq!(all_sequences(&journal), (mark..=2000).collect::<Vec<_>>());
    // The active segment, first of the journal now, is sealed later: its
    // footer must chain to the last dropped segment's digest.
    let more: Vec<_> = (2001..=4000).map(entry).collect();
    journal.append_batch(&more).unwrap();
    journal.close().unwrap();
    assert_verifies(dir.path());
    let journal = os_writer(dir.path());
    assert_eq!(all_sequences(&journal), (mark..=4000).collect::<Vec<_>>());
    // A second drop moves the mark again.
    let second = journal.drop_segments(&below(3000)).unwrap();
    assert!(second.first_retained > mark);
    journal.close().unwrap();
    assert_verifies(dir.path());
}

#[test]
fn the_floor_keeps_what_the_caller_still_needs() {
    let (_dir, journal) = journal_with(3000);
    journal.set_retention_floor(Some(1000));
    let report = journal.drop_segments(&below(2500)).unwrap();
    assert_eq!(report.held_by_floor, Some(1000));
    assert!(report.dropped.iter().all(|d| d.last_sequence < 1000));
    assert!(journal.first_retained_sequence().unwrap() <= 1000);
    assert!(all_sequences(&journal).contains(&1000));
    journal.set_retention_floor(None);
    let report = journal.drop_segments(&below(2500)).unwrap();
    assert_eq!(report.held_by_floor, None);
    assert!(report.first_retained > 1000);
}

#[test]
fn a_policy_on_the_writer_keeps_the_journal_under_its_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 5 * SEGMENT;
    let journal = DiskJournal::builder(dir.path())
        .segment_bytes(SEGMENT)
        .durability(Durability::Os)
        .preallocate_bytes(0)
        .retention(RetentionPolicy {
            max_bytes: Some(budget),
            ..RetentionPolicy::default()
        })
        .open()
        .unwrap();
    for chunk in (1..=20_000u64).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<_> = chunk.iter().map(|&i| entry(i)).collect();
        journal.append_batch(&batch).unwrap();
        let bytes: u64 = segment_files(dir.path())
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        // Applied on roll: one segment's worth of slack at most.
        assert!(bytes <= budget + SEGMENT, "{bytes} bytes on disk");
    }
    let mark = journal.first_retained_sequence().unwrap();
    assert!(mark > 1, "nothing was dropped");
    assert_eq!(all_sequences(&journal), (mark..=20_000).collect::<Vec<_>>());
    journal.close().unwrap();
    assert!(verify(dir.path()).unwrap().is_clean());
}

#[test]
fn age_is_measured_from_the_newest_append_time_unless_now_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(dir.path())
        .segment_bytes(SEGMENT)
        .durability(Durability::Os)
        .open()
        .unwrap();
    // Ten "days" of appends with kept append times, one day apart.
    let day = 86_400_000_000_000i64;
    let start = 1_700_000_000_000_000_000i64;
    let mut sequence = 0;
    for d in 0..10 {
        for k in 0..150 {
            sequence += 1;
            let mut e = entry(sequence);
            e.appended_at = Some(baldur_journal::Timestamp::from_unix_nanos(
                start + d * day + k * 1_000_000,
            ));
            journal.append_at(sequence, &e).unwrap();
        }
    }
    let policy = RetentionPolicy {
        older_than: Some(Duration::from_secs(3 * 86_400)),
        ..RetentionPolicy::default()
    };
    let report = journal.drop_segments(&policy).unwrap();
    let cutoff = start + 9 * day - 3 * day;
    assert!(!report.dropped.is_empty());
    for gone in &report.dropped {
        assert!(gone.newest_append.unwrap().as_unix_nanos() < cutoff);
    }
    // What remains starts no later than the cutoff's day.
    let first = journal
        .range_iter(report.first_retained, u64::MAX)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert!(first.appended_at.unwrap().as_unix_nanos() <= cutoff + day);
    // With `now` far in the future every sealed segment is old.
    let report = journal
        .drop_segments(&RetentionPolicy {
            now: Some(baldur_journal::Timestamp::from_unix_nanos(
                start + 100 * day,
            )),
            ..policy
        })
        .unwrap();
    let files = segment_files(dir.path());
    assert_eq!(
        files.len(),
        1,
        "only the active segment remains: {report:?}"
    );
}

#[test]
fn an_interrupted_drop_keeps_the_new_mark_and_the_next_writer_finishes_it() {
    let (dir, journal) = journal_with(3000);
    let before = copy_dir(dir.path());
    let report = journal.drop_segments(&below(2000)).unwrap();
    journal.close().unwrap();
    // Put the dropped segments back, as a crash before the unlinks leaves them.
    for gone in &report.dropped {
        let name = gone.path.file_name().unwrap();
        std::fs::copy(before.path().join(name), &gone.path).unwrap();
    }
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(
        reader.retention_mark().unwrap(),
        Some(report.first_retained)
    );
    assert_eq!(
        reader.recovery_report().pending_drops.len(),
        report.dropped.len()
    );
    assert_eq!(
        all_sequences(&reader),
        (report.first_retained..=3000).collect::<Vec<_>>()
    );
    drop(reader);
    let writer = DiskJournal::open(dir.path()).unwrap();
    assert_eq!(
        writer.recovery_report().pending_drops.len(),
        report.dropped.len()
    );
    for gone in &report.dropped {
        assert!(
            !gone.path.exists(),
            "the writer's open did not finish the drop"
        );
    }
    writer.close().unwrap();
    assert!(verify(dir.path()).unwrap().is_clean());
}

#[test]
fn a_reader_that_mapped_a_segment_keeps_reading_it_after_the_drop() {
    let (dir, journal) = journal_with(3000);
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    let mut range = reader.range_ref(1, 3001).unwrap();
    let first = range.next_entry().unwrap().unwrap().sequence;
    assert_eq!(first, 1);
    let report = journal.drop_segments(&below(2000)).unwrap();
    assert!(!report.dropped[0].path.exists());
    // The range holds the first segment's map: it reads on through it,
    // and a segment it had not mapped yet is a clear error, never a
    // silent gap.
    let mut seen = vec![first];
    let mut error = None;
    while let Some(entry) = range.next_entry() {
        match entry {
            Ok(entry) => seen.push(entry.sequence),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert_eq!(seen, (1..=seen.len() as u64).collect::<Vec<_>>());
    let first_segment_last = report.dropped[0].last_sequence;
    assert!(seen.len() as u64 >= first_segment_last);
    match error {
        None => assert_eq!(seen.len(), 3000),
        Some(e) => assert!(
            matches!(e, baldur_journal::Error::DroppedByRetention { .. }),
            "{e}"
        ),
    }
    // A new read sees the mark.
    assert_eq!(
        reader.retention_mark().unwrap(),
        Some(report.first_retained)
    );
    let checked = reader.range_checked(1, 3001).unwrap();
    assert_eq!(checked.below_mark, Some(report.first_retained));
    assert_eq!(checked.entries[0].sequence, report.first_retained);
    drop(dir);
}

/// Rewrites the retention mark frame in `path` (the last one), setting its
/// first retained sequence, and fixes its CRC: what a forger who knows
/// docs/FORMAT.md does.
fn forge_mark(path: &std::path::Path, first_retained: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let word = (0x8000_0000u32 | 80).to_le_bytes();
    let at = bytes
        .windows(4)
        .rposition(|w| w == word)
        .expect("a mark frame");
    bytes[at + 8..at + 16].copy_from_slice(&first_retained.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[at..at + 4]);
    hasher.update(&bytes[at + 8..at + 88]);
    bytes[at + 4..at + 8].copy_from_slice(&hasher.finalize().to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

fn dropped_journal() -> (tempfile::TempDir, u64) {
    let (dir, journal) = journal_with(4000);
    let report = journal.drop_segments(&below(1500)).unwrap();
    journal.close().unwrap();
    assert!(verify(dir.path()).unwrap().is_clean());
    (dir, report.first_retained)
}

#[test]
fn verify_catches_segments_deleted_past_the_mark() {
    let (dir, mark) = dropped_journal();
    let first = segment_files(dir.path())[0].clone();
    assert!(first.ends_with(format!("{mark:020}.log")));
    std::fs::remove_file(&first).unwrap();
    let _ = std::fs::remove_file(first.with_extension("idx"));
    let report = verify(dir.path()).unwrap();
    assert!(
        report.problems.iter().any(|p| p
            .message
            .contains(&format!("keeps every sequence from {mark} on"))),
        "{:?}",
        report.problems
    );
}

#[test]
fn verify_catches_a_moved_mark_in_the_log_or_in_head() {
    let (dir, mark) = dropped_journal();
    let files = segment_files(dir.path());
    let second_base = base_of(&files[1]);
    // The mark record moved one segment on, hiding segment `mark`.
    let forged = copy_dir(dir.path());
    forge_mark(&segment_files(forged.path()).pop().unwrap(), second_base);
    let report = verify(forged.path()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.message.contains("last dropped segment's digest")),
        "{:?}",
        report.problems
    );
    // `head` claiming a later mark than the log.
    let forged = copy_dir(dir.path());
    let head_path = forged.path().join("head");
    let mut head = std::fs::read(&head_path).unwrap();
    assert_eq!(u64::from_le_bytes(head[48..56].try_into().unwrap()), mark);
    head[48..56].copy_from_slice(&second_base.to_le_bytes());
    let crc = crc32fast::hash(&head[0..60]);
    head[60..64].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&head_path, head).unwrap();
    let report = verify(forged.path()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.message.contains("`head` records retention mark")),
        "{:?}",
        report.problems
    );
}

mod chains {
    //! Audit chains begun below the mark: verified from their first
    //! retained link, anchored by the snapshot's chain heads.

    use std::sync::Arc;

    use baldur_journal::projection::chain::{
        ChainAnchors, ChainsReport, verify_chains, verify_chains_anchored,
    };
    use baldur_journal::projection::{
        AuditKeyring, AuditLink, JournalStatistics, SnapshotConfig, StatisticsRepository,
        StoreEvent, chain_anchors,
    };
    use baldur_journal::{
        Context, DiskJournal, EventJournal, JournalEntry, MemoryJournal, Timestamp,
    };

    use super::below;

    fn at(i: i64) -> Timestamp {
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + i * 1_000_000_000)
    }

    fn filler(journal: &dyn EventJournal, n: usize) {
        let pad = "x".repeat(2000);
        let events: Vec<JournalEntry> = (0..n)
            .map(|i| {
                JournalEntry::new("noise", "test", at(i as i64), "svc").with_context(
                    Context::from_json(&format!(r#"{{"pad":"{pad}","i":{i}}}"#)).unwrap(),
                )
            })
            .collect();
        journal.append_batch(&events).unwrap();
    }

    fn link(stats: &JournalStatistics<DiskJournal>, id: &str, what: &str) {
        let mut link = AuditLink::new(id, what);
        link.audit_record_hash = Some("ab12".into());
        assert!(stats.link_audit_entry(&link).unwrap());
    }

    /// A journal of chained entities whose first links were dropped:
    /// `e0..e9` have links between the mark and the snapshot, `e10..e19`
    /// only before the mark and after the snapshot, and `late` begins after
    /// the snapshot.
    struct Dropped {
        _dir: tempfile::TempDir,
        journal: Arc<DiskJournal>,
        anchors: ChainAnchors,
        snapshot: u64,
    }

    fn dropped() -> Dropped {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(
            DiskJournal::builder(dir.path())
                .segment_bytes(64 << 10)
                .open()
                .unwrap(),
        );
        let stats = JournalStatistics::builder(journal.clone())
            .audit_chain(true)
            .snapshot(SnapshotConfig::for_disk(&*journal))
            .build()
            .unwrap();
        for i in 0..20 {
            stats
                .record(vec![
                    StoreEvent::new(format!("e{i}"), "payments", "timeout").to_entry(at(i)),
                ])
                .unwrap();
            link(&stats, &format!("e{i}"), "first look");
        }
        filler(&*journal, 120);
        let kept_from = journal.get_latest_sequence().unwrap() + 1;
        for i in 0..10 {
            link(
                &stats,
                &format!("e{i}"),
                "between the mark and the snapshot",
            );
        }
        assert!(stats.snapshot_now().unwrap());
        let snapshot = journal.get_latest_sequence().unwrap();
        stats
            .record(vec![
                StoreEvent::new("late", "payments", "timeout").to_entry(at(500)),
            ])
            .unwrap();
        link(&stats, "late", "after the snapshot");
        for i in 0..20 {
            link(&stats, &format!("e{i}"), "after the snapshot");
        }
        let report = journal.drop_segments(&below(kept_from)).unwrap();
        assert!(!report.dropped.is_empty());
        let mark = journal.retention_mark().unwrap();
        assert!(mark.is_some_and(|m| m <= kept_from));
        let anchors = chain_anchors(&SnapshotConfig::for_disk(&*journal), &*journal, mark).unwrap();
        assert_eq!(anchors.snapshot.as_ref().map(|s| s.0), Some(snapshot));
        drop(stats);
        Dropped {
            _dir: dir,
            journal,
            anchors,
            snapshot,
        }
    }

    fn failing(report: &ChainsReport) -> Vec<String> {
        report
            .failures
            .iter()
            .map(|f| f.entity.clone().unwrap_or_default())
            .collect()
    }

    /// The retained records in a memory journal, without those `skip` names.
    fn copy_without(journal: &DiskJournal, skip: impl Fn(&JournalEntry) -> bool) -> MemoryJournal {
        let copy = MemoryJournal::new();
        for record in journal.range_iter(0, u64::MAX).unwrap() {
            let record = record.unwrap();
            if !skip(&record) {
                copy.append_at(record.sequence, &record).unwrap();
            }
        }
        copy
    }

    #[test]
    fn chains_begun_below_the_mark_verify_from_their_first_retained_link() {
        let d = dropped();
        let keys = AuditKeyring::new();
        let report = verify_chains_anchored(&*d.journal, &keys, d.anchors.clone()).unwrap();
        assert!(report.is_clean(), "{:?}", report.failures);
        assert_eq!(report.chains_below_mark, 20, "{report:?}");
        // Without the mark, every one of them is a broken first link.
        let plain = verify_chains(&*d.journal, &keys).unwrap();
        assert_eq!(plain.failed_chains, 20, "{:?}", plain.failures);
    }

    #[test]
    fn a_deleted_first_link_after_the_mark_is_still_a_broken_link() {
        let d = dropped();
        let late_store = d
            .journal
            .range_iter(0, u64::MAX)
            .unwrap()
            .map(Result::unwrap)
            .find(|r| r.context.as_str().contains(r#""entry_id":"late""#))
            .unwrap()
            .sequence;
        assert!(late_store > d.snapshot);
        let forged = copy_without(&d.journal, |r| r.sequence == late_store);
        let report =
            verify_chains_anchored(&forged, &AuditKeyring::new(), d.anchors.clone()).unwrap();
        assert_eq!(failing(&report), vec!["late".to_string()]);
    }

    #[test]
    fn a_chain_that_disagrees_with_the_snapshots_head_fails() {
        let d = dropped();
        for entity in ["e3", "e15"] {
            let mut anchors = d.anchors.clone();
            let heads = &mut anchors.snapshot.as_mut().unwrap().1;
            *heads.get_mut(entity).unwrap() = "0".repeat(64).into();
            let report =
                verify_chains_anchored(&*d.journal, &AuditKeyring::new(), anchors).unwrap();
            assert_eq!(failing(&report), vec![entity.to_string()], "{entity}");
        }
    }
}

/// What a forger who knows docs/FORMAT.md does to hide the oldest retained
/// segment: deletes it, rewrites the mark record (the next base, the
/// deleted segment's digest, one more segment dropped, its CRC) and
/// `head`'s mark. Only an anchored head can tell.
fn hide_first_retained_segment(dir: &std::path::Path) {
    let files = segment_files(dir);
    let (hidden, next) = (&files[0], &files[1]);
    let bytes = std::fs::read(hidden).unwrap();
    let index = baldur_journal::disk::SealedIndex::decode(
        &std::fs::read(hidden.with_extension("idx")).unwrap(),
        &hidden.with_extension("idx"),
    )
    .unwrap();
    let digest = index.footer.digest;
    assert!(bytes.len() as u64 >= index.footer.data_end);
    let next_base = base_of(next);
    std::fs::remove_file(hidden).unwrap();
    std::fs::remove_file(hidden.with_extension("idx")).unwrap();
    let active = files.last().unwrap();
    let mut log = std::fs::read(active).unwrap();
    let word = (0x8000_0000u32 | 80).to_le_bytes();
    let at = log
        .windows(4)
        .rposition(|w| w == word)
        .expect("a mark frame");
    let body = at + 8;
    log[body..body + 8].copy_from_slice(&next_base.to_le_bytes());
    let total = u64::from_le_bytes(log[body + 24..body + 32].try_into().unwrap()) + 1;
    log[body + 24..body + 32].copy_from_slice(&total.to_le_bytes());
    log[body + 48..body + 80].copy_from_slice(&digest);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&log[at..at + 4]);
    hasher.update(&log[body..body + 80]);
    log[at + 4..at + 8].copy_from_slice(&hasher.finalize().to_le_bytes());
    std::fs::write(active, log).unwrap();
    let head_path = dir.join("head");
    let mut head = std::fs::read(&head_path).unwrap();
    head[48..56].copy_from_slice(&next_base.to_le_bytes());
    let crc = crc32fast::hash(&head[0..60]);
    head[60..64].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&head_path, head).unwrap();
}

#[test]
fn a_consistently_forged_mark_passes_verify_but_not_an_anchored_head() {
    let (dir, mark) = dropped_journal();
    let anchored = DiskJournal::open_read_only(dir.path())
        .unwrap()
        .head()
        .unwrap();
    assert_eq!(anchored.first_retained, mark);
    assert!(
        anchored.active.is_some(),
        "the head pins the active segment"
    );
    // The head, as `verify --head` prints it, reads back.
    let text = serde_json::to_string(&anchored).unwrap();
    let anchored: baldur_journal::disk::JournalHead = serde_json::from_str(&text).unwrap();
    let honest = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(honest.check_head(&anchored).unwrap(), None);
    drop(honest);
    let forged = copy_dir(dir.path());
    hide_first_retained_segment(forged.path());
    // Without a key and without the anchor, nothing tells.
    let report = verify(forged.path()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    let journal = DiskJournal::open_read_only(forged.path()).unwrap();
    assert!(journal.retention_mark().unwrap().unwrap() > mark);
    let differs = journal.check_head(&anchored).unwrap();
    assert!(
        differs
            .as_deref()
            .is_some_and(|d| d.contains("bytes of segment")),
        "{differs:?}"
    );
    // A later genuine drop is not a forgery: the anchor still holds.
    let (dir, _) = dropped_journal();
    let anchored = DiskJournal::open_read_only(dir.path())
        .unwrap()
        .head()
        .unwrap();
    let writer = DiskJournal::open(dir.path()).unwrap();
    let more: Vec<_> = (4001..=4400).map(entry).collect();
    writer.append_batch(&more).unwrap();
    let keep = anchored.last_sealed.as_ref().unwrap().base_sequence;
    let report = writer.drop_segments(&below(keep)).unwrap();
    assert!(!report.dropped.is_empty());
    writer.close().unwrap();
    let journal = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(journal.check_head(&anchored).unwrap(), None);
}

mod tier {
    //! Tiered storage: moving sealed segments to another directory, and
    //! reading both as one journal.

    use std::path::Path;

    use baldur_journal::EventJournal;
    use baldur_journal::disk::{DiskJournal, RetentionPolicy, StorageFile, VerifyOptions};
    use baldur_test_support::common::{all_sequences, entry, segment_files};
    use baldur_test_support::seam::{Hooks, seam};

    use super::{below, journal_with};

    fn tiered(live: &Path, tier: &Path) -> DiskJournal {
        DiskJournal::builder(live)
            .read_only(true)
            .tier_dir(tier)
            .open()
            .unwrap()
    }

    fn verify_tiered(live: &Path, tier: &Path) -> baldur_journal::disk::VerifyReport {
        baldur_journal::disk::verify_with(
            live,
            &VerifyOptions {
                tier_dir: Some(tier.to_path_buf()),
                ..VerifyOptions::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn moved_segments_read_with_the_live_ones_as_one_journal() {
        let (dir, journal) = journal_with(3000);
        let tier = tempfile::tempdir().unwrap();
        let report = journal.move_segments(&below(2000), tier.path()).unwrap();
        assert!(!report.dropped.is_empty());
        for moved in &report.dropped {
            assert!(!moved.path.exists());
            assert!(tier.path().join(moved.path.file_name().unwrap()).exists());
        }
        journal.close().unwrap();
        // Live alone starts at the mark; with the tier, at 1.
        let live = DiskJournal::open_read_only(dir.path()).unwrap();
        assert_eq!(
            live.first_retained_sequence().unwrap(),
            report.first_retained
        );
        let both = tiered(dir.path(), tier.path());
        assert_eq!(both.retention_mark().unwrap(), None);
        assert_eq!(all_sequences(&both), (1..=3000).collect::<Vec<_>>());
        assert!(verify_tiered(dir.path(), tier.path()).is_clean());
        assert!(baldur_journal::disk::verify(dir.path()).unwrap().is_clean());
        // A moved segment changed in the tier breaks the chain across both.
        let moved = tier
            .path()
            .join(report.dropped[1].path.file_name().unwrap());
        let mut bytes = std::fs::read(&moved).unwrap();
        bytes[200] ^= 1;
        std::fs::write(&moved, bytes).unwrap();
        let checked = verify_tiered(dir.path(), tier.path());
        assert!(!checked.is_clean());
        assert!(
            checked.problems.iter().any(|p| p.path == moved),
            "{:?}",
            checked.problems
        );
    }

    #[test]
    fn a_writer_policy_moves_instead_of_deleting() {
        let dir = tempfile::tempdir().unwrap();
        let tier = tempfile::tempdir().unwrap();
        let journal = DiskJournal::builder(dir.path())
            .segment_bytes(64 << 10)
            .durability(baldur_journal::Durability::Os)
            .tier_dir(tier.path())
            .retention(RetentionPolicy {
                max_bytes: Some(3 * (64 << 10)),
                ..RetentionPolicy::default()
            })
            .open()
            .unwrap();
        let all: Vec<_> = (1..=6000).map(entry).collect();
        for chunk in all.chunks(300) {
            journal.append_batch(chunk).unwrap();
        }
        journal.close().unwrap();
        assert!(segment_files(tier.path()).len() >= 3);
        let both = tiered(dir.path(), tier.path());
        assert_eq!(all_sequences(&both), (1..=6000).collect::<Vec<_>>());
        assert!(verify_tiered(dir.path(), tier.path()).is_clean());
    }

    /// Flips a byte of every write into the tier directory.
    struct CorruptTier(std::path::PathBuf);

    impl Hooks for CorruptTier {
        fn write(
            &self,
            path: &Path,
            inner: &dyn StorageFile,
            buf: &[u8],
            offset: u64,
        ) -> std::io::Result<()> {
            if path.starts_with(&self.0) && path.to_string_lossy().contains(".log") {
                let mut bad = buf.to_vec();
                let last = bad.len() - 1;
                bad[last / 2] ^= 0x40;
                return inner.write_all_at(&bad, offset);
            }
            inner.write_all_at(buf, offset)
        }
    }

    #[test]
    fn a_copy_that_does_not_hash_to_the_segment_removes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tier = tempfile::tempdir().unwrap();
        let journal = DiskJournal::builder(dir.path())
            .segment_bytes(64 << 10)
            .storage(seam(CorruptTier(tier.path().to_path_buf())))
            .open()
            .unwrap();
        let all: Vec<_> = (1..=3000).map(entry).collect();
        journal.append_batch(&all).unwrap();
        let before = segment_files(dir.path());
        let error = journal
            .move_segments(&below(2000), tier.path())
            .unwrap_err();
        assert!(error.to_string().contains("does not hash"), "{error}");
        assert_eq!(segment_files(dir.path()), before, "something was removed");
        assert_eq!(journal.retention_mark().unwrap(), None);
        // The journal goes on.
        journal.append(&entry(3001)).unwrap();
        journal.close().unwrap();
        assert!(baldur_journal::disk::verify(dir.path()).unwrap().is_clean());
    }

    #[test]
    fn a_tier_of_another_journal_is_refused() {
        let (dir, journal) = journal_with(3000);
        let tier = tempfile::tempdir().unwrap();
        journal.move_segments(&below(1000), tier.path()).unwrap();
        journal.close().unwrap();
        let (other, other_journal) = journal_with(3000);
        let error = other_journal
            .move_segments(&below(1000), tier.path())
            .unwrap_err();
        assert!(error.to_string().contains("another journal"), "{error}");
        other_journal.close().unwrap();
        let error = DiskJournal::builder(other.path())
            .read_only(true)
            .tier_dir(tier.path())
            .open()
            .err()
            .unwrap();
        assert!(error.to_string().contains("another journal"), "{error}");
        drop(dir);
    }
}

#[test]
fn a_reader_sees_a_drop_made_by_a_writer_that_has_gone() {
    let (dir, journal) = journal_with(3000);
    journal.close().unwrap();
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.retention_mark().unwrap(), None);
    let writer = os_writer(dir.path());
    let report = writer.drop_segments(&below(2000)).unwrap();
    writer.close().unwrap();
    drop(writer);
    assert_eq!(
        reader.retention_mark().unwrap(),
        Some(report.first_retained)
    );
    let checked = reader.range_checked(1, 3001).unwrap();
    assert_eq!(checked.below_mark, Some(report.first_retained));
    assert_eq!(checked.entries[0].sequence, report.first_retained);
}
