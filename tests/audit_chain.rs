//! Issue 6: tamper-evident audit chains (docs/AUDIT.md), the journal head,
//! and the sealed-segment digest chain as `verify` checks it.

use baldur_test_support::common;

use std::path::Path;
use std::sync::Arc;

use baldur_journal::codec::{BODY_LEN_MAX, SEGMENT_HEADER_LEN, check_frame, push_frame};
use baldur_journal::disk::{DiskJournal, META_FILE, verify};
use baldur_journal::projection::audit::{self, ChainFields};
use baldur_journal::projection::{
    AuditKey, AuditKeyring, AuditLink, EntryCheck, JournalStatistics, LifecycleEvent,
    LifecycleKind, StatisticsRepository, StoreEvent,
};
use baldur_journal::{Context, EventJournal, JournalEntry, MemoryJournal, Timestamp};

const T0: i64 = 1_700_000_000_000_000_000;

fn at(i: i64) -> Timestamp {
    Timestamp::from_unix_nanos(T0 + i * 1_000_000_000)
}

fn disk(dir: &Path) -> Arc<DiskJournal> {
    Arc::new(
        DiskJournal::builder(dir)
            .segment_bytes(64 << 10)
            .open()
            .unwrap(),
    )
}

fn step(kind: LifecycleKind, id: &str, details: &str) -> LifecycleEvent {
    let mut event = LifecycleEvent::new(kind, id).by("ops");
    event.details = Some(details.into());
    event
}

/// The life of entry `id`: store, a failed replay, an escalation, a link
/// and a resolution with `details` "approved by ops".
fn life(stats: &JournalStatistics<impl EventJournal + ?Sized>, id: &str, t: i64) {
    stats
        .record(vec![
            StoreEvent::new(id, "payments", "timeout").to_entry(at(t)),
        ])
        .unwrap();
    stats
        .record(vec![
            step(LifecycleKind::ReplayStart, id, "first try").to_entry(at(t + 1)),
            step(LifecycleKind::ReplayFailed, id, "still down").to_entry(at(t + 2)),
            step(LifecycleKind::Escalate, id, "needs a human").to_entry(at(t + 3)),
        ])
        .unwrap();
    let mut link = AuditLink::new(id, "review");
    link.audit_record_hash = Some("ab12".into());
    link.details = Some("looked at".into());
    assert!(stats.link_audit_entry(&link).unwrap());
    stats
        .record(vec![
            step(LifecycleKind::Resolve, id, "approved by ops").to_entry(at(t + 5)),
        ])
        .unwrap();
}

/// Non-DLQ filler events, about 2 KiB each, to seal segments.
fn filler(journal: &dyn EventJournal, n: usize) {
    let pad = "x".repeat(2000);
    let events: Vec<JournalEntry> = (0..n)
        .map(|i| {
            JournalEntry::new("noise", "test", at(i as i64), "svc")
                .with_context(Context::from_json(&format!(r#"{{"pad":"{pad}","i":{i}}}"#)).unwrap())
        })
        .collect();
    journal.append_batch(&events).unwrap();
}

#[test]
fn chained_writes_verify_and_link() {
    let journal = Arc::new(MemoryJournal::new());
    let stats = JournalStatistics::builder(journal.clone())
        .audit_chain(true)
        .build()
        .unwrap();
    assert_eq!(stats.audit_chain(), Some(None));
    life(&stats, "a", 0);
    life(&stats, "b", 100);
    let checked = stats.verify_audit_trail("a", "dlq_entry").unwrap();
    assert_eq!(checked.entries.len(), 6);
    assert_eq!(checked.trail.entries.len(), 6);
    assert!(checked.is_chain_valid(), "{checked:#?}");
    assert!(checked.is_chained());
    assert!(checked.entries.iter().all(|e| e.check == EntryCheck::Valid));
    let trail = stats.get_audit_trail_by_entity("a", "dlq_entry").unwrap();
    assert_eq!(trail, checked.trail);
    assert!(trail.is_chain_valid());
    assert!(trail.entries[0].previous_hash.is_none());
    for pair in trail.entries.windows(2) {
        assert_eq!(pair[1].previous_hash, pair[0].hash_chain);
        assert_eq!(pair[1].hash_chain.as_ref().unwrap().len(), 64);
    }
    // Archive and purge writes are chained too.
    let records = journal.get_sequence_range(1, u64::MAX).unwrap();
    for record in &records {
        let fields = ChainFields::of(record).unwrap();
        assert!(fields.hash_chain.is_some(), "{record:?}");
        assert!(fields.key_id.is_none());
    }
    // A trail of an unknown entity is empty and valid.
    assert!(
        stats
            .verify_audit_trail("nope", "dlq_entry")
            .unwrap()
            .is_chain_valid()
    );
}

#[test]
fn unchained_events_are_reported_but_not_bad_until_a_chain_starts() {
    let journal = Arc::new(MemoryJournal::new());
    // A runtime appends straight to the journal: unchained.
    journal
        .append(&StoreEvent::new("a", "payments", "timeout").to_entry(at(0)))
        .unwrap();
    let stats = JournalStatistics::builder(journal.clone())
        .audit_chain(true)
        .build()
        .unwrap();
    stats
        .record(vec![
            LifecycleEvent::new(LifecycleKind::Resolve, "a").to_entry(at(1)),
        ])
        .unwrap();
    let checked = stats.verify_audit_trail("a", "dlq_entry").unwrap();
    let checks: Vec<_> = checked.entries.iter().map(|e| e.check.clone()).collect();
    assert_eq!(checks, [EntryCheck::Unchained, EntryCheck::Valid]);
    assert!(checked.is_chain_valid());
    // The DTO's link check agrees here (docs/AUDIT.md).
    assert!(checked.trail.is_chain_valid());
    // An unchained event after the chain started is bad.
    journal
        .append(&LifecycleEvent::new(LifecycleKind::Expire, "a").to_entry(at(2)))
        .unwrap();
    let checked = stats.verify_audit_trail("a", "dlq_entry").unwrap();
    assert_eq!(checked.first_bad_entry(), Some(2));
    assert_eq!(checked.entries[2].check, EntryCheck::UnchainedAfterChain);
    assert!(!checked.trail.is_chain_valid());
    // Chaining is on by default, keyless.
    assert_eq!(
        JournalStatistics::new(journal.clone()).audit_chain(),
        Some(None)
    );
    assert_eq!(
        JournalStatistics::builder(journal.clone())
            .build()
            .unwrap()
            .audit_chain(),
        Some(None)
    );
    // Statistics with chaining turned off write no chain fields.
    let plain = JournalStatistics::builder(journal.clone())
        .audit_chain(false)
        .build()
        .unwrap();
    assert_eq!(plain.audit_chain(), None);
    assert!(plain.link_audit_entry(&AuditLink::new("a", "x")).unwrap());
    let last = journal.get_sequence_range(4, 5).unwrap();
    assert!(ChainFields::of(&last[0]).unwrap().is_unchained());
}

#[test]
fn two_threads_on_one_entity_do_not_fork_its_chain() {
    links_on_one_entity_do_not_fork_its_chain(Arc::new(MemoryJournal::new()), 1);
}

/// 4 threads on `handles` statistics handles over one journal link one
/// entity 100 times each. Threads of one handle are serialized by its
/// lock; separate handles (two services in one process, or a handle per
/// request) by the conditional append: a write whose fold went stale is
/// folded and decided again. The chain never forks.
fn links_on_one_entity_do_not_fork_its_chain(journal: Arc<dyn EventJournal>, handles: usize) {
    let handle = || {
        Arc::new(
            JournalStatistics::builder(journal.clone())
                .audit_key(AuditKey::new("k1", b"secret one".to_vec()).unwrap())
                .build()
                .unwrap(),
        )
    };
    let handles: Vec<_> = (0..handles).map(|_| handle()).collect();
    handles[0]
        .record(vec![StoreEvent::new("a", "d", "f").to_entry(at(0))])
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let stats = handles[t % handles.len()].clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let mut link = AuditLink::new("a", format!("t{t}-{i}"));
                    link.details = Some(format!("{i}"));
                    assert!(stats.link_audit_entry(&link).unwrap());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    for stats in &handles {
        let checked = stats.verify_audit_trail("a", "dlq_entry").unwrap();
        assert_eq!(checked.entries.len(), 401);
        assert!(checked.is_chain_valid(), "{:?}", checked.first_bad_entry());
        assert!(
            checked
                .entries
                .iter()
                .all(|e| e.key_id.as_deref() == Some("k1"))
        );
    }
    let conflicts: u64 = handles.iter().map(|h| h.write_conflicts()).sum();
    eprintln!("{conflicts} writes were folded and decided again");
}

#[test]
fn two_handles_over_a_memory_journal_do_not_fork_a_chain() {
    links_on_one_entity_do_not_fork_its_chain(Arc::new(MemoryJournal::new()), 2);
}

#[test]
fn two_handles_over_a_disk_journal_do_not_fork_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    links_on_one_entity_do_not_fork_its_chain(disk(dir.path()), 2);
}

#[test]
fn a_conditional_append_appends_only_on_the_expected_latest() {
    let dir = tempfile::tempdir().unwrap();
    let memory: Arc<dyn EventJournal> = Arc::new(MemoryJournal::new());
    for journal in [memory, disk(dir.path()) as Arc<dyn EventJournal>] {
        let event = StoreEvent::new("a", "d", "f").to_entry(at(0));
        let two = [event.clone(), event.clone()];
        assert_eq!(journal.append_batch_if_latest(1, &two).unwrap(), None);
        assert_eq!(
            journal.get_latest_sequence().unwrap(),
            0,
            "nothing appended"
        );
        assert_eq!(
            journal.append_batch_if_latest(0, &two).unwrap(),
            Some(vec![1, 2])
        );
        assert_eq!(journal.append_batch_if_latest(0, &two).unwrap(), None);
        assert_eq!(
            journal.append_batch_if_latest(2, &two[..1]).unwrap(),
            Some(vec![3])
        );
        assert_eq!(journal.get_latest_sequence().unwrap(), 3);
    }
}

/// The first record frame of `path` whose body contains `needle`.
fn find_frame(path: &Path, needle: &[u8]) -> Option<(usize, usize)> {
    let bytes = std::fs::read(path).unwrap();
    let mut offset = SEGMENT_HEADER_LEN;
    while let Ok(frame) = check_frame(&bytes[offset..], BODY_LEN_MAX) {
        if frame.is_footer {
            break;
        }
        let body = &bytes[offset + 8..offset + frame.total_len];
        if body.windows(needle.len()).any(|w| w == needle) {
            return Some((offset, frame.total_len));
        }
        offset += frame.total_len;
    }
    None
}

/// Changes `from` to `to` (same length) inside the first record holding
/// it, and rewrites that record's CRC so only the audit hash can tell.
fn tamper(dir: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    for path in common::segment_files(dir) {
        let Some((offset, len)) = find_frame(&path, from) else {
            continue;
        };
        let mut bytes = std::fs::read(&path).unwrap();
        let mut body = bytes[offset + 8..offset + len].to_vec();
        let at = body.windows(from.len()).position(|w| w == from).unwrap();
        body[at..at + to.len()].copy_from_slice(to);
        let mut frame = Vec::new();
        push_frame(&mut frame, &body);
        bytes[offset..offset + len].copy_from_slice(&frame);
        std::fs::write(&path, bytes).unwrap();
        return;
    }
    panic!("no record holds {:?}", String::from_utf8_lossy(from));
}

#[test]
fn one_changed_byte_in_details_names_the_first_bad_entry() {
    let dir = tempfile::tempdir().unwrap();
    {
        let journal = disk(dir.path());
        let stats = JournalStatistics::builder(journal.clone())
            .audit_chain(true)
            .build()
            .unwrap();
        life(&stats, "a", 0);
        life(&stats, "b", 100);
        journal.close().unwrap();
    }
    let copy = common::copy_dir(dir.path());
    tamper(copy.path(), b"needs a human", b"needs a robot");
    let journal = disk(copy.path());
    let stats = JournalStatistics::builder(journal.clone())
        .audit_chain(true)
        .build()
        .unwrap();
    let checked = stats.verify_audit_trail("a", "dlq_entry").unwrap();
    assert_eq!(
        checked.trail.entries[3].details.as_deref(),
        Some("needs a robot")
    );
    assert_eq!(checked.first_bad_entry(), Some(3), "{checked:#?}");
    assert_eq!(checked.entries[3].check, EntryCheck::HashMismatch);
    assert!(!checked.is_chain_valid());
    // The seed's DTO says so itself: its links still compare (the forger
    // left them alone), but the hashes were recomputed when it was read.
    let trail = stats.get_audit_trail_by_entity("a", "dlq_entry").unwrap();
    assert!(trail.links_valid());
    assert!(trail.hashes_recomputed);
    assert_eq!(trail.first_bad_entry, Some(3));
    assert!(!trail.is_chain_valid());
    let json = serde_json::to_value(&trail).unwrap();
    assert_eq!(json["is_chain_valid"], false);
    assert_eq!(json["first_bad_entry"], 3);
    // The same through an "as of" view.
    let then = stats.as_of_sequence(u64::MAX - 1).unwrap();
    assert!(
        !then
            .get_audit_trail_by_entity("a", "dlq_entry")
            .unwrap()
            .is_chain_valid()
    );
    // Later entries still link to the stored hash: only the changed one fails.
    assert!(checked.entries[4..].iter().all(|e| e.check.is_ok()));
    // The other entity is untouched.
    assert!(
        stats
            .verify_audit_trail("b", "dlq_entry")
            .unwrap()
            .is_chain_valid()
    );
    // The record's CRC was rewritten: the engine's own checks pass.
    assert!(verify(copy.path()).unwrap().is_clean());
}

/// Rebuilds the journal of `from` into `to` the way a forger who can write
/// the files would: every record re-appended at its sequence and append
/// time, `details` changed in entity `a`'s records, and each of `a`'s
/// chained events re-sealed by `reseal` (given the previous hash).
fn forge(
    from: &Path,
    to: &Path,
    change: (&str, &str),
    mut reseal: impl FnMut(&mut JournalEntry, Option<&str>) -> String,
) {
    std::fs::copy(from.join(META_FILE), to.join(META_FILE)).unwrap();
    let original = DiskJournal::open_read_only(from).unwrap();
    let forged = disk(to);
    let mut previous: Option<String> = None;
    for record in original.range_iter(1, u64::MAX).unwrap() {
        let mut record = record.unwrap();
        let context = record.context.as_str().replace(change.0, change.1);
        let is_a = context.contains(r#""entry_id":"a""#);
        record.context = Context::from_json(&context).unwrap();
        if is_a && audit::is_chained_event_type(&record.event_type) {
            previous = Some(reseal(&mut record, previous.as_deref()));
        }
        forged.append_at(record.sequence, &record).unwrap();
    }
    forged.close().unwrap();
}

#[test]
fn a_forgery_without_the_key_fails_under_hmac() {
    let dir = tempfile::tempdir().unwrap();
    let k1 = AuditKey::new("k1", b"first secret".to_vec()).unwrap();
    let k2 = AuditKey::new("k2", b"second secret".to_vec()).unwrap();
    {
        let journal = disk(dir.path());
        let stats = JournalStatistics::builder(journal.clone())
            .audit_key(k1.clone())
            .build()
            .unwrap();
        life(&stats, "a", 0);
        drop(stats);
        // The key rotates: new events use k2, old ones still verify by id.
        let stats = JournalStatistics::builder(journal.clone())
            .audit_key(k2.clone())
            .audit_verification_keys(AuditKeyring::new().with(k1.clone()))
            .build()
            .unwrap();
        stats
            .record(vec![
                LifecycleEvent::new(LifecycleKind::Expire, "a").to_entry(at(50)),
            ])
            .unwrap();
        let checked = stats.verify_audit_trail("a", "dlq_entry").unwrap();
        assert!(checked.is_chain_valid(), "{checked:#?}");
        let ids: Vec<_> = checked.entries.iter().map(|e| e.key_id.clone()).collect();
        assert_eq!(ids[0].as_deref(), Some("k1"));
        assert_eq!(ids[6].as_deref(), Some("k2"));
        journal.close().unwrap();
    }
    let keys = AuditKeyring::new().with(k1.clone()).with(k2.clone());
    let verify_with = |dir: &Path, keys: AuditKeyring| {
        let journal = Arc::new(DiskJournal::open_read_only(dir).unwrap());
        JournalStatistics::builder(journal)
            .audit_verification_keys(keys)
            .build()
            .unwrap()
            .verify_audit_trail("a", "dlq_entry")
            .unwrap()
    };
    assert!(verify_with(dir.path(), keys.clone()).is_chain_valid());
    // A verifier without k1 cannot vouch for the old entries.
    let only_k2 = verify_with(dir.path(), AuditKeyring::new().with(k2.clone()));
    assert_eq!(only_k2.first_bad_entry(), Some(0));
    assert_eq!(
        only_k2.entries[0].check,
        EntryCheck::UnknownKey("k1".into())
    );

    // Forgery 1: keyless hashes recomputed over the whole chain.
    let keyless = tempfile::tempdir().unwrap();
    forge(
        dir.path(),
        keyless.path(),
        ("first try", "third try"),
        |e, p| audit::seal(e, p, None).unwrap(),
    );
    let checked = verify_with(keyless.path(), keys.clone());
    assert_eq!(
        checked.trail.entries[1].details.as_deref(),
        Some("third try")
    );
    assert_eq!(checked.first_bad_entry(), Some(0));
    assert_eq!(checked.entries[0].check, EntryCheck::Unkeyed);
    assert!(
        checked
            .entries
            .iter()
            .all(|e| e.check == EntryCheck::Unkeyed)
    );
    // Keyless, the forgery would pass: that is what the key is for.
    assert!(verify_with(keyless.path(), AuditKeyring::new()).is_chain_valid());

    // Forgery 2: the key ids kept, HMAC under a guessed key.
    let guessed = tempfile::tempdir().unwrap();
    let mut n = 0;
    forge(
        dir.path(),
        guessed.path(),
        ("first try", "third try"),
        |e, p| {
            n += 1;
            let id = if n <= 6 { "k1" } else { "k2" };
            audit::seal(e, p, Some(&AuditKey::new(id, b"guess".to_vec()).unwrap())).unwrap()
        },
    );
    let checked = verify_with(guessed.path(), keys);
    assert_eq!(checked.first_bad_entry(), Some(0));
    assert!(
        checked
            .entries
            .iter()
            .all(|e| e.check == EntryCheck::HashMismatch)
    );
}

#[test]
fn a_keyless_forgery_fails_against_a_recorded_head() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = {
        let journal = disk(dir.path());
        let stats = JournalStatistics::builder(journal.clone())
            .audit_chain(true)
            .build()
            .unwrap();
        life(&stats, "a", 0);
        filler(&*journal, 200);
        let head = journal.head().unwrap();
        assert_eq!(head.last_sequence, 206);
        let sealed = head.last_sealed.clone().expect("segments sealed");
        assert!(head.sealed_segments >= 2);
        assert!(sealed.last_sequence > 6 && sealed.last_sequence < 206);
        assert_eq!(sealed.digest.len(), 64);
        assert_eq!(journal.check_head(&head).unwrap(), None);
        // More appends keep the recorded head valid.
        filler(&*journal, 100);
        assert_eq!(journal.check_head(&head).unwrap(), None);
        assert_ne!(journal.head().unwrap(), head);
        journal.close().unwrap();
        head
    };
    // Same length, so the forged journal seals exactly where the original did.
    let forged = tempfile::tempdir().unwrap();
    forge(
        dir.path(),
        forged.path(),
        ("first try", "third try"),
        |e, p| audit::seal(e, p, None).unwrap(),
    );
    // Everything checks out on its own...
    assert!(verify(forged.path()).unwrap().is_clean());
    let journal = Arc::new(DiskJournal::open_read_only(forged.path()).unwrap());
    let stats = JournalStatistics::new(journal.clone());
    let checked = stats.verify_audit_trail("a", "dlq_entry").unwrap();
    assert_eq!(
        checked.trail.entries[1].details.as_deref(),
        Some("third try")
    );
    assert!(checked.is_chain_valid());
    let now = journal.head().unwrap();
    assert_eq!(now.journal_id, recorded.journal_id);
    assert_eq!(now.last_sequence, 306);
    // ...but not against the head recorded before.
    let why = journal.check_head(&recorded).unwrap().expect("caught");
    assert!(why.contains("digest"), "{why}");
    // The original still matches it.
    let original = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(original.check_head(&recorded).unwrap(), None);
}

/// Sealed segments' log files, ascending, of a journal with many.
fn sealed_journal() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let journal = disk(dir.path());
    filler(&*journal, 300);
    journal.close().unwrap();
    assert!(common::segment_files(dir.path()).len() >= 6);
    assert!(verify(dir.path()).unwrap().is_clean());
    dir
}

fn first_bad(dir: &Path) -> std::path::PathBuf {
    let report = verify(dir).unwrap();
    assert!(!report.is_clean());
    report.problems[0].path.clone()
}

#[test]
fn verify_names_the_first_bad_segment() {
    let original = sealed_journal();
    let logs = common::segment_files(original.path());
    let name = |i: usize| logs[i].file_name().unwrap().to_owned();

    // Deleted with its index: the segment after the gap no longer links.
    let copy = common::copy_dir(original.path());
    std::fs::remove_file(copy.path().join(name(2))).unwrap();
    std::fs::remove_file(copy.path().join(name(2)).with_extension("idx")).unwrap();
    assert_eq!(first_bad(copy.path()).file_name().unwrap(), name(3));
    // Deleted, its index left behind: the deleted segment itself is named.
    let copy = common::copy_dir(original.path());
    std::fs::remove_file(copy.path().join(name(2))).unwrap();
    assert_eq!(first_bad(copy.path()).file_name().unwrap(), name(2));

    // Reordered: two sealed segments swap files.
    let copy = common::copy_dir(original.path());
    std::fs::rename(copy.path().join(name(1)), copy.path().join("tmp")).unwrap();
    std::fs::rename(copy.path().join(name(2)), copy.path().join(name(1))).unwrap();
    std::fs::rename(copy.path().join("tmp"), copy.path().join(name(2))).unwrap();
    assert_eq!(first_bad(copy.path()).file_name().unwrap(), name(1));

    // Replaced by the same segment of another journal.
    let other = sealed_journal();
    let copy = common::copy_dir(original.path());
    std::fs::copy(other.path().join(name(2)), copy.path().join(name(2))).unwrap();
    assert_eq!(first_bad(copy.path()).file_name().unwrap(), name(2));

    // Replaced by a self-consistent forgery with the same journal id.
    let forged = tempfile::tempdir().unwrap();
    std::fs::copy(
        original.path().join(META_FILE),
        forged.path().join(META_FILE),
    )
    .unwrap();
    {
        let source = DiskJournal::open_read_only(original.path()).unwrap();
        let journal = disk(forged.path());
        for record in source.range_iter(1, u64::MAX).unwrap() {
            let mut record = record.unwrap();
            if record.sequence == 100 {
                let context = record.context.as_str().replace(r#""i":99"#, r#""i":98"#);
                record.context = Context::from_json(&context).unwrap();
            }
            journal.append_at(record.sequence, &record).unwrap();
        }
        journal.close().unwrap();
    }
    assert!(verify(forged.path()).unwrap().is_clean());
    let holder = logs
        .iter()
        .position(|p| {
            common::record_offsets(p)
                .iter()
                .any(|&(seq, _, _)| seq == 100)
        })
        .unwrap();
    assert!(
        holder + 1 < logs.len() - 1,
        "the segment and the next are sealed"
    );
    let copy = common::copy_dir(original.path());
    std::fs::copy(
        forged.path().join(name(holder)),
        copy.path().join(name(holder)),
    )
    .unwrap();
    let idx = name(holder).to_string_lossy().replace(".log", ".idx");
    std::fs::copy(forged.path().join(&idx), copy.path().join(&idx)).unwrap();
    // Its own digest recomputes, but it does not link to the original
    // chain (the forger's earlier segments differ in writer-assigned
    // bytes), and the next segment no longer links to it.
    assert_eq!(first_bad(copy.path()).file_name().unwrap(), name(holder));
    let report = verify(copy.path()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.path.file_name().unwrap() == name(holder + 1))
    );
}

#[test]
fn async_persist_snapshots_are_chained_under_the_lock() {
    use baldur_journal::projection::PersistMode;
    let journal = Arc::new(MemoryJournal::new());
    let stats = JournalStatistics::builder(journal.clone())
        .audit_chain(true)
        .persist_mode(PersistMode::asynchronous())
        .build()
        .unwrap();
    stats
        .record(vec![StoreEvent::new("7", "d", "f").to_entry(at(0))])
        .unwrap();
    for i in 0..50 {
        let mut snapshot = serde_json::Map::new();
        snapshot.insert("id".into(), 7.into());
        snapshot.insert("status".into(), "pending".into());
        snapshot.insert("retry_count".into(), (i % 2).into());
        stats.persist_entry(&snapshot).unwrap();
        if i % 10 == 0 {
            assert!(
                stats
                    .link_audit_entry(&AuditLink::new("7", "look"))
                    .unwrap()
            );
        }
    }
    stats.flush().unwrap();
    let checked = stats.verify_audit_trail("7", "dlq_entry").unwrap();
    assert_eq!(checked.entries.len(), 56);
    assert!(checked.is_chain_valid(), "{:?}", checked.first_bad_entry());
}

/// Rewrites `from` into `to` as a forger who knows docs/FORMAT.md can: the
/// metadata copied, every record re-appended through the library at its
/// sequence and append time after `edit` (`None` leaves it out), so every
/// CRC, footer, digest, index and head is consistent.
fn rewrite(from: &Path, to: &Path, mut edit: impl FnMut(JournalEntry) -> Option<JournalEntry>) {
    std::fs::copy(from.join(META_FILE), to.join(META_FILE)).unwrap();
    let original = DiskJournal::open_read_only(from).unwrap();
    let forged = disk(to);
    for record in original.range_iter(1, u64::MAX).unwrap() {
        if let Some(record) = edit(record.unwrap()) {
            forged.append_at(record.sequence, &record).unwrap();
        }
    }
    forged.close().unwrap();
}

fn names(record: &JournalEntry, id: &str) -> bool {
    record
        .context
        .as_str()
        .contains(&format!(r#""entry_id":"{id}""#))
}

fn replaced(mut record: JournalEntry, from: &str, to: &str) -> JournalEntry {
    record.context = Context::from_json(&record.context.as_str().replace(from, to)).unwrap();
    record
}

type Edit = Box<dyn FnMut(JournalEntry) -> Option<JournalEntry>>;

/// A forgery: what it is, the forger's edit, and the first failure it
/// makes (entity, failing sequence, position, check) in the journal of
/// `life` "a" then `life` "b".
type Forgery = (&'static str, Edit, &'static str, u64, u64, EntryCheck);

/// Every kind of keyless forgery `verify` must catch.
fn forgeries() -> Vec<Forgery> {
    vec![
        (
            "an edited event type",
            Box::new(|mut r: JournalEntry| {
                if r.event_type == "dlq_store" && names(&r, "a") {
                    r.event_type = "dlq_stora".into();
                }
                Some(r)
            }),
            "a",
            1,
            1,
            EntryCheck::HashMismatch,
        ),
        (
            "a deleted first link",
            Box::new(|r: JournalEntry| (r.sequence != 1).then_some(r)),
            "a",
            2,
            1,
            EntryCheck::BrokenLink,
        ),
        (
            "a deleted middle link",
            Box::new(|r: JournalEntry| (r.sequence != 10).then_some(r)),
            "b",
            11,
            4,
            EntryCheck::BrokenLink,
        ),
        (
            "an escaped chain key and a one-byte edit",
            Box::new(|r: JournalEntry| {
                if !names(&r, "b") {
                    return Some(r);
                }
                let r = replaced(r, r#""hash_chain""#, r#""hash\u005fchain""#);
                Some(replaced(r, "needs a human", "needs a huma!"))
            }),
            "b",
            10,
            4,
            EntryCheck::HashMismatch,
        ),
        (
            "the chain fields stripped from the last record",
            Box::new(|mut r: JournalEntry| {
                if r.sequence == 6 {
                    let mut context = r.context.to_value();
                    for key in ["hash_chain", "previous_hash", "hash_key_id"] {
                        context.remove(key);
                    }
                    r.context = Context::from_value(&context.into()).unwrap();
                }
                Some(r)
            }),
            "a",
            6,
            6,
            EntryCheck::UnchainedAfterChain,
        ),
    ]
}

#[test]
fn forgeries_fail_the_one_pass_verifier_and_the_trail_alike() {
    use baldur_journal::projection::chain::{ChainFailure, verify_chains};
    let dir = tempfile::tempdir().unwrap();
    {
        let journal = disk(dir.path());
        let stats = JournalStatistics::new(journal.clone());
        life(&stats, "a", 0);
        life(&stats, "b", 100);
        journal.close().unwrap();
    }
    let clean = DiskJournal::open_read_only(dir.path()).unwrap();
    let report = verify_chains(&clean, &AuditKeyring::new()).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!((report.chains, report.chained_records), (2, 12));

    for (what, edit, entity, sequence, position, check) in forgeries() {
        let forged = tempfile::tempdir().unwrap();
        rewrite(dir.path(), forged.path(), edit);
        assert!(verify(forged.path()).unwrap().is_clean(), "{what}");
        let journal = Arc::new(DiskJournal::open_read_only(forged.path()).unwrap());
        let report = verify_chains(&*journal, &AuditKeyring::new()).unwrap();
        assert_eq!(
            report.failures,
            vec![ChainFailure {
                entity: Some(entity.into()),
                sequence,
                position,
                check: check.clone(),
            }],
            "{what}"
        );
        // The statistics' trail checks the same records the same way.
        let stats = JournalStatistics::builder(journal.clone())
            .audit_chain(false)
            .build()
            .unwrap();
        let verified = stats.verify_audit_trail(entity, "dlq_entry").unwrap();
        let bad = verified.first_bad_entry().expect(what);
        assert_eq!(
            (verified.entries[bad].sequence, &verified.entries[bad].check),
            (sequence, &check),
            "{what}: {verified:#?}"
        );
        let trail = stats
            .get_audit_trail_by_entity(entity, "dlq_entry")
            .unwrap();
        assert!(!trail.is_chain_valid(), "{what}");
        assert_eq!(trail.first_bad_entry, Some(bad), "{what}");
        let other = if entity == "a" { "b" } else { "a" };
        assert!(
            stats
                .verify_audit_trail(other, "dlq_entry")
                .unwrap()
                .is_chain_valid(),
            "{what}"
        );
    }
}

/// The two-thread pass gives the sequential verifier's report, record for
/// record, on journals with forgeries of every kind (one at a time and all
/// at once), keyless and keyed, whatever the batch size.
#[test]
fn the_pipelined_pass_agrees_with_the_sequential_verifier() {
    use baldur_journal::projection::chain::{
        verify_chains, verify_chains_in_batches, verify_chains_sequential,
    };
    let key = AuditKey::new("k1", b"first secret".to_vec()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let journal = disk(dir.path());
        let stats = JournalStatistics::new(journal.clone());
        life(&stats, "a", 0);
        life(&stats, "b", 100);
        for (i, id) in ["c", "d", "e"].into_iter().enumerate() {
            life(&stats, id, 200 + 100 * i as i64);
        }
        drop(stats);
        filler(&*journal, 5);
        let keyed = JournalStatistics::builder(journal.clone())
            .audit_key(key.clone())
            .build()
            .unwrap();
        life(&keyed, "f", 600);
        life(&keyed, "g", 700);
        journal.close().unwrap();
    }
    let mut journals: Vec<(String, tempfile::TempDir)> = Vec::new();
    let mut all: Vec<Edit> = Vec::new();
    for (what, edit, ..) in forgeries() {
        let forged = tempfile::tempdir().unwrap();
        rewrite(dir.path(), forged.path(), edit);
        journals.push((what.into(), forged));
    }
    for (_, edit, ..) in forgeries() {
        all.push(edit);
    }
    // Every forgery at once, plus a keyed record edited without the key.
    all.push(Box::new(|r: JournalEntry| {
        Some(if names(&r, "g") {
            replaced(r, "still down", "still d0wn")
        } else {
            r
        })
    }));
    let forged = tempfile::tempdir().unwrap();
    rewrite(dir.path(), forged.path(), |mut r| {
        for edit in &mut all {
            r = edit(r)?;
        }
        Some(r)
    });
    journals.push(("every forgery at once".into(), forged));
    let keyrings = [
        ("no key", AuditKeyring::new()),
        ("the key", AuditKeyring::new().with(key.clone())),
        (
            "another key",
            AuditKeyring::new().with(AuditKey::new("k2", b"other".to_vec()).unwrap()),
        ),
    ];
    for (what, forged) in &journals {
        let journal = DiskJournal::open_read_only(forged.path()).unwrap();
        for (keyring, keys) in &keyrings {
            let sequential = verify_chains_sequential(&journal, keys).unwrap();
            assert!(!sequential.is_clean(), "{what}, {keyring}");
            assert!(sequential.chains >= 7, "{what}, {keyring}: {sequential:?}");
            for batch in [1, 2, 3, 7, 64, 512] {
                assert_eq!(
                    verify_chains_in_batches(&journal, keys, batch).unwrap(),
                    sequential,
                    "{what}, {keyring}, batches of {batch}"
                );
            }
            assert_eq!(
                verify_chains(&journal, keys).unwrap(),
                sequential,
                "{what}, {keyring}"
            );
        }
    }
}

/// The statistics chain every DLQ event they write after the last chained
/// record naming its entry, as the verifier walks the chain: events of an
/// entry never stored (which the fold does not attach to an entry), then a
/// store, then more, still make one valid chain per entry.
#[test]
fn chains_written_for_entries_the_fold_does_not_know_verify() {
    use baldur_journal::projection::chain::verify_chains;
    let journal = Arc::new(MemoryJournal::new());
    let stats = JournalStatistics::builder(journal.clone())
        .audit_chain(true)
        .build()
        .unwrap();
    let mut rng = common::Rng(18);
    for k in 0..600 {
        let event = common::random_dlq_event(&mut rng, at(k), 20, 3, k);
        stats.record(vec![event]).unwrap();
    }
    let report = verify_chains(&*journal, &AuditKeyring::new()).unwrap();
    assert!(report.chains >= 15, "{report:?}");
    assert!(report.is_clean(), "{:?}", report.failures);
    // And the trail of each says the same.
    for i in 0..20 {
        let id = format!("e{i}");
        let trail = stats.verify_audit_trail(&id, "dlq_entry").unwrap();
        assert!(trail.is_chain_valid(), "{id}: {trail:#?}");
    }
}
