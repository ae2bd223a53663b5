//! Preallocation (docs/DESIGN.md, "Preallocation"): under a policy that
//! syncs on the write path, the writer keeps zeros written and synced ahead
//! of the active segment's end, so the sync after each append commits data
//! only and never a new file size. Counted through the file-operation seam:
//! the file's length at every `fdatasync` of a segment.

use baldur_test_support::common;
use baldur_test_support::seam;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use baldur_journal::disk::{OpenMode, OsStorage, Storage, StorageFile, verify};
use baldur_journal::{DiskJournal, Durability, EventJournal};
use common::{entry, record_offsets, segment_files, strip};
use seam::{Hooks, seam};

/// Per segment file: its length at each completed `sync_data`.
#[derive(Clone, Default)]
struct SyncLengths(Arc<Mutex<HashMap<PathBuf, Vec<u64>>>>);

impl SyncLengths {
    /// Syncs of `.log` files whose length differs from the same file's
    /// previous sync (or, for its first, from its length when opened).
    fn size_changing(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.extension().is_some_and(|e| e == "log"))
            .map(|(_, lengths)| lengths.windows(2).filter(|w| w[0] != w[1]).count())
            .sum()
    }
    fn syncs(&self) -> usize {
        self.0.lock().unwrap().values().map(|l| l.len() - 1).sum()
    }
}

impl Hooks for SyncLengths {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn StorageFile>> {
        let inner = OsStorage.open(path, mode)?;
        let opened_len = inner.len()?;
        let mut map = self.0.lock().unwrap();
        map.entry(path.to_path_buf()).or_default().push(opened_len);
        Ok(inner)
    }
    fn sync_data(&self, path: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        inner.sync_data()?;
        let len = inner.len()?;
        let mut map = self.0.lock().unwrap();
        map.entry(path.to_path_buf()).or_default().push(len);
        Ok(())
    }
}

fn open(
    dir: &Path,
    lengths: &SyncLengths,
    preallocate: u64,
    durability: Durability,
) -> DiskJournal {
    DiskJournal::builder(dir)
        .durability(durability)
        .preallocate_bytes(preallocate)
        .storage(seam(lengths.clone()))
        .open()
        .unwrap()
}

#[test]
fn syncs_after_appends_commit_no_size_change() {
    let dir = tempfile::tempdir().unwrap();
    let lengths = SyncLengths::default();
    let journal = open(dir.path(), &lengths, 4 << 20, Durability::Always);
    for i in 1..=1000 {
        assert_eq!(journal.append(&entry(i)).unwrap(), i);
    }
    // One size change: the first preallocation (about 200 KiB of records
    // fit in its 4 MiB).
    assert!(
        lengths.syncs() > 1000,
        "a sync per append: {}",
        lengths.syncs()
    );
    assert_eq!(lengths.size_changing(), 1);
    // The writer's own counters: one record per sync from one producer
    // (the preallocation's sync is not a record sync).
    let stats = journal.write_stats();
    assert_eq!((stats.records, stats.syncs), (1000, 1000));
    assert_eq!(stats.mean_batch(), Some(1.0));
    journal.close().unwrap();

    // Reopened, the writer knows the zeros are there: still no size change.
    let lengths = SyncLengths::default();
    let journal = open(dir.path(), &lengths, 4 << 20, Durability::Always);
    for i in 1001..=1100 {
        assert_eq!(journal.append(&entry(i)).unwrap(), i);
    }
    assert_eq!(lengths.size_changing(), 0);
    let stored = journal.get_sequence_range(1, u64::MAX).unwrap();
    assert_eq!(stored.len(), 1100);
    for (i, e) in stored.into_iter().enumerate() {
        let mut want = entry(i as u64 + 1);
        want.sequence = i as u64 + 1;
        assert_eq!(strip(e), want);
    }
    journal.close().unwrap();
    // The zeros past the end are a clean end: verify, and a reader, agree.
    assert!(verify(dir.path()).unwrap().is_clean());
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.get_latest_sequence().unwrap(), 1100);
    assert!(reader.recovery_report().torn_tail.is_none());
}

#[test]
fn without_preallocation_every_sync_commits_a_new_size() {
    let dir = tempfile::tempdir().unwrap();
    let lengths = SyncLengths::default();
    let journal = open(dir.path(), &lengths, 0, Durability::Always);
    for i in 1..=300 {
        journal.append(&entry(i)).unwrap();
    }
    assert!(
        lengths.size_changing() >= 300,
        "{} of {}",
        lengths.size_changing(),
        lengths.syncs()
    );
    journal.close().unwrap();
}

#[test]
fn the_os_policy_writes_no_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let lengths = SyncLengths::default();
    let journal = open(dir.path(), &lengths, 4 << 20, Durability::Os);
    let batch: Vec<_> = (1..=500).map(entry).collect();
    journal.append_batch(&batch).unwrap();
    journal.close().unwrap();
    let log = &segment_files(dir.path())[0];
    let (_, _, end) = *record_offsets(log).last().unwrap();
    assert_eq!(std::fs::metadata(log).unwrap().len(), end);
}

#[test]
fn preallocation_stops_at_the_segment_size() {
    let dir = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(dir.path())
        .segment_bytes(64 << 10)
        .preallocate_bytes(1 << 20)
        .open()
        .unwrap();
    for i in 1..=1000 {
        journal.append(&entry(i)).unwrap();
    }
    journal.close().unwrap();
    let logs = segment_files(dir.path());
    assert!(logs.len() > 2);
    for log in &logs {
        let len = std::fs::metadata(log).unwrap().len();
        let cap = (64 << 10) + baldur_journal::codec::FOOTER_FRAME_LEN as u64;
        assert!(len <= cap, "{}: {len} > {cap}", log.display());
    }
    assert!(verify(dir.path()).unwrap().is_clean());
}

/// Zeros go only past the end: records written but not yet synced (under
/// `EveryRecords`) are never overwritten by a preallocation that starts
/// while they wait for their sync.
#[test]
fn preallocation_never_overwrites_unsynced_records() {
    let dir = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(dir.path())
        .durability(Durability::EveryRecords(1000))
        .preallocate_bytes(4096)
        .open()
        .unwrap();
    for i in 1..=3000 {
        assert_eq!(journal.append(&entry(i)).unwrap(), i);
    }
    let check = |journal: &DiskJournal| {
        let stored = journal.get_sequence_range(1, u64::MAX).unwrap();
        assert_eq!(stored.len(), 3000);
        for (i, e) in stored.into_iter().enumerate() {
            let mut want = entry(i as u64 + 1);
            want.sequence = i as u64 + 1;
            assert_eq!(strip(e), want);
        }
    };
    check(&journal);
    journal.close().unwrap();
    check(&DiskJournal::open(dir.path()).unwrap());
    assert!(verify(dir.path()).unwrap().is_clean());
}
