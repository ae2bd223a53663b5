//! Fault injection through the storage seam: ENOSPC on write, EIO on
//! write, EIO on fsync and short writes, injected at every write or sync
//! of an append workload that rolls segments. Each time: the failing
//! batch's appends get an `Err`; every later append is refused until
//! reopen; nothing acknowledged before is lost; the journal reopens cleanly
//! and `verify` agrees with it.

use baldur_test_support::common;
use baldur_test_support::seam;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use baldur_journal::disk::{OsStorage, SealedIndex, Storage, StorageFile, verify};
use baldur_journal::{Context, DiskJournal, Error, EventJournal, JournalEntry, Timestamp};
use common::{Rng, strip};
use seam::{Hooks, seam};

const ENOSPC: i32 = 28;
const EIO: i32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    NoSpace,
    WriteError,
    SyncError,
    ShortWrite,
}

/// Fails the `countdown`-th write (or sync, for `SyncError`) and counts them.
#[derive(Clone)]
struct Faulty {
    fault: Fault,
    countdown: Arc<AtomicI64>,
    seen: Arc<AtomicU64>,
}

impl Faulty {
    fn new(fault: Fault, at: i64) -> Self {
        Faulty {
            fault,
            countdown: Arc::new(AtomicI64::new(at)),
            seen: Arc::new(AtomicU64::new(0)),
        }
    }

    /// True when this operation is the one to fail.
    fn fire(&self) -> bool {
        self.seen.fetch_add(1, Ordering::SeqCst);
        self.countdown.fetch_sub(1, Ordering::SeqCst) == 0
    }
}

impl Hooks for Faulty {
    fn write(&self, _: &Path, inner: &dyn StorageFile, buf: &[u8], offset: u64) -> io::Result<()> {
        if self.fault != Fault::SyncError && self.fire() {
            return Err(match self.fault {
                Fault::NoSpace => io::Error::from_raw_os_error(ENOSPC),
                Fault::ShortWrite => {
                    inner.write_all_at(&buf[..buf.len() / 2], offset)?;
                    io::Error::new(io::ErrorKind::WriteZero, "injected short write")
                }
                _ => io::Error::from_raw_os_error(EIO),
            });
        }
        inner.write_all_at(buf, offset)
    }
    fn sync_data(&self, _: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        if self.fault == Fault::SyncError && self.fire() {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        inner.sync_data()
    }
    fn sync_all(&self, path: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        self.sync_data(path, inner)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        if self.fault == Fault::SyncError && self.fire() {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        OsStorage.sync_dir(path)
    }
}

/// Entries of about 2 KiB, so a 64 KiB segment rolls every ~30 records.
fn big(i: u64) -> JournalEntry {
    let padding = "x".repeat(2000);
    JournalEntry::new(
        "fault_test",
        "test",
        Timestamp::from_unix_nanos(i as i64),
        "svc",
    )
    .with_context(Context::from_json(&format!(r#"{{"i":{i},"pad":"{padding}"}}"#)).unwrap())
}

/// Runs the workload over `storage`; returns the acknowledged sequences
/// and whether any append failed.
fn workload(dir: &Path, storage: Faulty) -> (Vec<u64>, bool) {
    let journal = match DiskJournal::builder(dir)
        .segment_bytes(64 << 10)
        .storage(seam(storage))
        .open()
    {
        Ok(j) => j,
        Err(_) => return (Vec::new(), true),
    };
    let mut rng = Rng(42);
    let mut acked = Vec::new();
    let mut next = 1;
    let mut failed = false;
    while next <= 120 {
        let n = 1 + rng.below(4);
        let batch: Vec<_> = (next..next + n).map(big).collect();
        match journal.append_batch(&batch) {
            Ok(sequences) => {
                assert!(
                    !failed,
                    "an append was acknowledged after a failure, before reopen"
                );
                assert_eq!(sequences, (next..next + n).collect::<Vec<_>>());
                acked.extend(sequences);
            }
            Err(e) => {
                if failed {
                    assert!(matches!(e, Error::Poisoned(_)), "after a failure: {e}");
                }
                failed = true;
            }
        }
        next += n;
    }
    if failed {
        assert!(journal.sync().is_err(), "sync after a failure must fail");
        assert!(journal.close().is_err(), "close reports the failure");
    } else {
        journal.close().unwrap();
    }
    (acked, failed)
}

fn check_reopen(dir: &Path, acked: &[u64], context: &str) {
    let journal = DiskJournal::open(dir).unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
    let stored: Vec<JournalEntry> = journal.get_sequence_range(0, u64::MAX).unwrap();
    let seqs: Vec<u64> = stored.iter().map(|e| e.sequence).collect();
    assert!(
        seqs.len() >= acked.len(),
        "{context}: lost acknowledged entries: {seqs:?}"
    );
    assert_eq!(&seqs[..acked.len()], acked, "{context}");
    // Beyond the acknowledged prefix, only entries of the failing batch may
    // have reached the disk; every stored entry is intact.
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "{context}"
    );
    for e in stored {
        let mut want = big(e.sequence);
        want.sequence = e.sequence;
        assert_eq!(strip(e), want, "{context}");
    }
    // The reopened journal takes writes again.
    let next = journal.append(&big(seqs.len() as u64 + 1)).unwrap();
    assert_eq!(next, seqs.len() as u64 + 1, "{context}");
    journal.close().unwrap();
    let report = verify(dir).unwrap();
    assert!(report.is_clean(), "{context}: {:?}", report.problems);
}

fn inject_everywhere(fault: Fault) {
    // A clean run counts the operations that can fail.
    let dir = tempfile::tempdir().unwrap();
    let counter = Faulty::new(fault, i64::MAX);
    let (acked, failed) = workload(dir.path(), counter.clone());
    assert!(!failed);
    assert_eq!(acked.len() as u64, acked.last().copied().unwrap_or(0));
    let total = counter.seen.load(Ordering::SeqCst) as i64;
    assert!(total > 20, "{fault:?}: only {total} operations");
    let mut injected = 0;
    for at in 0..total {
        let dir = tempfile::tempdir().unwrap();
        let (acked, failed) = workload(dir.path(), Faulty::new(fault, at));
        assert!(
            failed,
            "{fault:?} at operation {at} of {total} was not reported"
        );
        check_reopen(
            dir.path(),
            &acked,
            &format!("{fault:?} at operation {at} of {total}"),
        );
        injected += 1;
    }
    println!("{fault:?}: injected at each of {injected} operations");
}

#[test]
fn no_space_on_write() {
    inject_everywhere(Fault::NoSpace);
}

#[test]
fn io_error_on_write() {
    inject_everywhere(Fault::WriteError);
}

#[test]
fn io_error_on_sync() {
    inject_everywhere(Fault::SyncError);
}

#[test]
fn short_write() {
    inject_everywhere(Fault::ShortWrite);
}

/// A journal of 120 big entries whose sealed segments' indexes are
/// rewritten as version 1 (as an older build left them).
fn version_1_journal(dir: &Path) {
    let journal = DiskJournal::builder(dir)
        .segment_bytes(64 << 10)
        .open()
        .unwrap();
    let entries: Vec<_> = (1..=120).map(big).collect();
    journal.append_batch(&entries).unwrap();
    journal.close().unwrap();
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        if path.extension().is_some_and(|x| x == "idx") {
            let index = SealedIndex::decode(&std::fs::read(&path).unwrap(), &path).unwrap();
            let old = SealedIndex {
                summary: index.summary.as_version_1(),
                index: index.index.as_version_1(),
                ..index
            };
            std::fs::write(&path, old.encode()).unwrap();
        }
    }
}

/// A writer's open that rewrites version-1 indexes as version 2, with a
/// fault at each of its writes: it opens, or fails with the error; either
/// way the next open finds every entry, and its indexes verify.
fn upgrade_with_fault(fault: Fault) {
    let count = |at: i64| {
        let dir = tempfile::tempdir().unwrap();
        version_1_journal(dir.path());
        let faulty = Faulty::new(fault, at);
        let opened = DiskJournal::builder(dir.path())
            .storage(seam(faulty.clone()))
            .open();
        let upgraded = opened
            .as_ref()
            .ok()
            .map(|j| j.recovery_report().upgraded_indexes.len());
        drop(opened);
        (dir, faulty.seen.load(Ordering::SeqCst) as i64, upgraded)
    };
    let (_, total, upgraded) = count(i64::MAX);
    let upgraded = upgraded.unwrap();
    assert!(upgraded >= 2, "{upgraded} indexes upgraded");
    assert!(total >= upgraded as i64, "{fault:?}: {total} operations");
    for at in 0..total {
        let (dir, _, _) = count(at);
        let context = format!("{fault:?} at operation {at} of {total} of the upgrade");
        let acked: Vec<u64> = (1..=120).collect();
        check_reopen(dir.path(), &acked, &context);
        for item in std::fs::read_dir(dir.path()).unwrap() {
            let path = item.unwrap().path();
            if path.extension().is_some_and(|x| x == "idx") {
                let bytes = std::fs::read(&path).unwrap();
                assert_eq!(bytes[8], 2, "{context}: {} not upgraded", path.display());
            }
        }
    }
}

#[test]
fn faults_while_upgrading_version_1_indexes_lose_nothing() {
    for fault in [Fault::NoSpace, Fault::WriteError, Fault::ShortWrite] {
        upgrade_with_fault(fault);
    }
}

/// Fails the `fail_at`-th read operation (a whole-file read, an open for
/// reading or mapping, a length, a listing) with EIO, and counts them.
#[derive(Clone, Default)]
struct FailingReads {
    fail_at: Option<u64>,
    seen: Arc<AtomicU64>,
    kinds: Arc<std::sync::Mutex<std::collections::BTreeSet<&'static str>>>,
}

impl FailingReads {
    fn step(&self, kind: &'static str) -> io::Result<()> {
        self.kinds.lock().unwrap().insert(kind);
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if self.fail_at == Some(n) {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        Ok(())
    }
}

impl Hooks for FailingReads {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.step("read")?;
        OsStorage.read(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<std::fs::File> {
        self.step("open_read")?;
        OsStorage.open_read(path)
    }
    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.step("file_len")?;
        OsStorage.file_len(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<std::ffi::OsString>> {
        self.step("list_dir")?;
        OsStorage.list_dir(path)
    }
}

/// Recovery's reads go through the seam: an EIO at any of them makes the
/// open fail with an error naming a file of the journal, or (an index it
/// can rebuild, a hint it can do without) open with every entry intact;
/// never a panic, never a wrong entry.
#[test]
fn an_eio_at_any_read_of_an_open_is_an_error_or_a_whole_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(dir.path())
        .segment_bytes(64 << 10)
        .open()
        .unwrap();
    let entries: Vec<JournalEntry> = (1..=1500).map(common::entry).collect();
    journal.append_batch(&entries).unwrap();
    journal.close().unwrap();
    let expected: Vec<JournalEntry> = {
        let reader = DiskJournal::open_read_only(dir.path()).unwrap();
        reader
            .range_iter(0, u64::MAX)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for read_only in [true, false] {
        let open = |hooks: FailingReads| {
            DiskJournal::builder(dir.path())
                .read_only(read_only)
                .create_if_missing(false)
                .storage(seam(hooks))
                .open()
        };
        let counting = FailingReads::default();
        let whole = open(counting.clone()).unwrap();
        let reads = counting.seen.load(Ordering::SeqCst);
        drop(whole);
        let kinds = counting.kinds.lock().unwrap().clone();
        assert!(reads > 5, "only {reads} reads went through the seam");
        for kind in ["read", "open_read", "list_dir"] {
            assert!(
                kinds.contains(kind),
                "no {kind} through the seam: {kinds:?}"
            );
        }
        let (mut failed, mut whole_opens) = (0, 0);
        for fail_at in 0..reads {
            let hooks = FailingReads {
                fail_at: Some(fail_at),
                ..FailingReads::default()
            };
            let why = format!("read_only {read_only}, EIO at read {fail_at} of {reads}");
            match open(hooks) {
                Err(error) => {
                    failed += 1;
                    let text = error.to_string();
                    assert!(
                        text.contains(dir.path().to_str().unwrap()),
                        "{why}: the error names no file of the journal: {text}"
                    );
                }
                Ok(journal) => {
                    whole_opens += 1;
                    // Reads after the open go through the seam too (maps);
                    // the fault is spent, so every entry must be there.
                    let got: Vec<JournalEntry> = journal
                        .range_iter(0, u64::MAX)
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    assert_eq!(got, expected, "{why}: the entries differ");
                    journal.close().unwrap();
                }
            }
        }
        assert!(failed > 0, "no injected read failure failed an open");
        assert!(
            whole_opens > 0,
            "no failure was recovered from (an index rebuilt)"
        );
    }
    assert!(verify(dir.path()).unwrap().is_clean());
}
