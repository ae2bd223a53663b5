//! Durability through the file-operation seam: a counting storage records
//! every write and every completed sync; each acknowledgement under the
//! default policy must come after a completed sync covering the record.
//! The same checker run under `Durability::Os` must find violations (so it
//! is not vacuous). A failed fsync poisons the journal until reopen.

use baldur_test_support::common;
use baldur_test_support::seam;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use baldur_journal::disk::StorageFile;
use baldur_journal::{DiskJournal, Durability, Error, EventJournal};
use common::{entry, record_offsets, segment_files};
use seam::{Hooks, seam};

#[derive(Default)]
struct Log {
    /// Every write, numbered from 1 in order: (file, offset, end).
    writes: Vec<(PathBuf, u64, u64)>,
    /// Completed syncs: (file, number of the last write before the sync
    /// started). Counting writes, not the furthest byte written, keeps the
    /// check honest when zeros are preallocated ahead of the records.
    syncs: Vec<(PathBuf, usize)>,
}

#[derive(Clone, Default)]
struct CountingStorage {
    log: Arc<Mutex<Log>>,
    fail_next_sync: Arc<AtomicBool>,
}

impl Hooks for CountingStorage {
    fn write(
        &self,
        path: &Path,
        inner: &dyn StorageFile,
        buf: &[u8],
        offset: u64,
    ) -> io::Result<()> {
        inner.write_all_at(buf, offset)?;
        let end = offset + buf.len() as u64;
        self.log
            .lock()
            .unwrap()
            .writes
            .push((path.to_path_buf(), offset, end));
        Ok(())
    }
    fn sync_data(&self, path: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        let upto = self.log.lock().unwrap().writes.len();
        if self.fail_next_sync.swap(false, Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        inner.sync_data()?;
        let synced = (path.to_path_buf(), upto);
        self.log.lock().unwrap().syncs.push(synced);
        Ok(())
    }
    fn sync_all(&self, path: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        self.sync_data(path, inner)
    }
}

/// Appends from `threads` threads; returns each acknowledgement with the
/// number of syncs completed when `append` returned.
fn run(
    durability: Durability,
    threads: u64,
) -> (tempfile::TempDir, Vec<(u64, usize)>, CountingStorage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = CountingStorage::default();
    let journal = Arc::new(
        DiskJournal::builder(dir.path())
            .segment_bytes(64 << 10)
            .durability(durability)
            .storage(seam(storage.clone()))
            .open()
            .unwrap(),
    );
    let acks = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for t in 0..threads {
            let (journal, acks, storage) = (journal.clone(), acks.clone(), storage.clone());
            s.spawn(move || {
                for i in 0..400 {
                    let seq = journal.append(&entry(t * 1000 + i)).unwrap();
                    let syncs_done = storage.log.lock().unwrap().syncs.len();
                    acks.lock().unwrap().push((seq, syncs_done));
                }
            });
        }
    });
    journal.close().unwrap();
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    (dir, acks, storage)
}

/// Acknowledgements not preceded by a completed sync covering the record.
fn violations(dir: &Path, acks: &[(u64, usize)], storage: &CountingStorage) -> Vec<u64> {
    let mut place: HashMap<u64, (PathBuf, u64, u64)> = HashMap::new();
    for log in segment_files(dir) {
        for (seq, start, end) in record_offsets(&log) {
            place.insert(seq, (log.clone(), start, end));
        }
    }
    let log = storage.log.lock().unwrap();
    acks.iter()
        .filter(|(seq, syncs_done)| {
            let (path, start, end) = &place[seq];
            // The last write that put bytes into the record's range (the
            // record's own: preallocated zeros go only past the end).
            let written = log
                .writes
                .iter()
                .rposition(|(p, from, to)| p == path && from < end && to > start)
                .expect("the record was written")
                + 1;
            !log.syncs[..*syncs_done]
                .iter()
                .any(|(p, upto)| p == path && *upto >= written)
        })
        .map(|(seq, _)| *seq)
        .collect()
}

#[test]
fn every_acknowledgement_follows_a_sync_covering_its_record() {
    for threads in [1, 4] {
        let (dir, acks, storage) = run(Durability::Always, threads);
        assert_eq!(acks.len() as u64, 400 * threads);
        assert!(
            segment_files(dir.path()).len() > 1,
            "the run crossed segment rolls"
        );
        let bad = violations(dir.path(), &acks, &storage);
        assert!(
            bad.is_empty(),
            "{threads} threads: acknowledged before durable: {bad:?}"
        );
    }
}

#[test]
fn the_checker_catches_acknowledgements_before_sync() {
    let (dir, acks, storage) = run(Durability::Os, 1);
    let bad = violations(dir.path(), &acks, &storage);
    assert!(
        bad.len() > 100,
        "under Durability::Os most acks precede any sync: {}",
        bad.len()
    );
}

#[test]
fn a_failed_fsync_poisons_the_journal_until_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let storage = CountingStorage::default();
    let journal = DiskJournal::builder(dir.path())
        .storage(seam(storage.clone()))
        .open()
        .unwrap();
    for i in 1..=10 {
        assert_eq!(journal.append(&entry(i)).unwrap(), i);
    }
    storage.fail_next_sync.store(true, Ordering::SeqCst);
    let failed = journal.append(&entry(11));
    assert!(matches!(failed, Err(Error::Io { .. })), "{failed:?}");
    // Later writes are refused, even though the disk would work again.
    for i in 12..15 {
        assert!(matches!(journal.append(&entry(i)), Err(Error::Poisoned(_))));
    }
    assert!(matches!(journal.sync(), Err(Error::Poisoned(_))));
    // Reads still answer what was acknowledged.
    assert_eq!(journal.get_latest_sequence().unwrap(), 10);
    assert!(journal.close().is_err(), "close reports the poisoning");
    let reopened = DiskJournal::open(dir.path()).unwrap();
    let seqs = common::all_sequences(&reopened);
    // The failed record may or may not have reached the disk; nothing
    // acknowledged is missing and nothing else appears.
    assert!(
        seqs == (1..=10).collect::<Vec<_>>() || seqs == (1..=11).collect::<Vec<_>>(),
        "{seqs:?}"
    );
    assert_eq!(reopened.append(&entry(99)).unwrap(), seqs.len() as u64 + 1);
}
