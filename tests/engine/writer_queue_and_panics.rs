//! The write queue and the writer thread under stress: a full queue blocks
//! `append` and makes `append_timeout` give up; a writer that panics
//! poisons the journal and every caller gets an error instead of hanging;
//! `wait_durable` under a lazy policy really syncs.

use baldur_test_support::common;
use baldur_test_support::seam;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baldur_journal::disk::StorageFile;
use baldur_journal::{DiskJournal, Durability, Error, EventJournal};
use common::entry;
use crossbeam_channel::{Receiver, Sender};
use seam::{Hooks, seam};

/// A storage whose segment syncs can be held (the writer blocks in
/// `sync_data` until released), can panic, and are counted.
#[derive(Clone)]
struct Gate {
    entered: Sender<()>,
    release: Receiver<()>,
    hold: Arc<AtomicBool>,
    panic_on_write: Arc<AtomicBool>,
    syncs: Arc<AtomicUsize>,
}

impl Hooks for Gate {
    fn write(
        &self,
        path: &Path,
        inner: &dyn StorageFile,
        buf: &[u8],
        offset: u64,
    ) -> io::Result<()> {
        if is_log(path) && self.panic_on_write.load(Ordering::SeqCst) {
            panic!("injected writer panic");
        }
        inner.write_all_at(buf, offset)
    }
    fn sync_data(&self, path: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        if is_log(path) && self.hold.load(Ordering::SeqCst) {
            self.entered.send(()).unwrap();
            self.release.recv().unwrap();
        }
        self.syncs.fetch_add(1, Ordering::SeqCst);
        inner.sync_data()
    }
}

fn is_log(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "log")
}

fn gate() -> (Gate, Receiver<()>, Sender<()>) {
    let (entered_tx, entered_rx) = crossbeam_channel::unbounded();
    let (release_tx, release_rx) = crossbeam_channel::unbounded();
    let gate = Gate {
        entered: entered_tx,
        release: release_rx,
        hold: Arc::new(AtomicBool::new(false)),
        panic_on_write: Arc::new(AtomicBool::new(false)),
        syncs: Arc::new(AtomicUsize::new(0)),
    };
    (gate, entered_rx, release_tx)
}

#[test]
fn a_full_queue_blocks_appends_and_times_out_append_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (gate, entered, release) = gate();
    let journal = Arc::new(
        DiskJournal::builder(dir.path())
            .queue_depth(2)
            .storage(seam(gate.clone()))
            .open()
            .unwrap(),
    );
    gate.hold.store(true, Ordering::SeqCst);
    let acked = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        // The first append reaches the writer, which now waits in sync.
        let (j, a) = (journal.clone(), acked.clone());
        s.spawn(move || {
            let seq = j.append(&entry(1)).unwrap();
            a.lock().unwrap().push(seq);
        });
        entered.recv().unwrap();
        // Two more fill the queue (depth 2) behind the held sync.
        for i in 2..=3 {
            let (j, a) = (journal.clone(), acked.clone());
            s.spawn(move || {
                let seq = j.append(&entry(i)).unwrap();
                a.lock().unwrap().push(seq);
            });
        }
        // Wait (without sleeping) until both are queued.
        while journal.queue_len() < 2 {
            std::thread::yield_now();
        }
        let timeout = match journal.append_timeout(&entry(99), Duration::from_millis(1)) {
            Err(Error::QueueTimeout(t)) => t,
            other => panic!("expected QueueTimeout while the queue is full, got {other:?}"),
        };
        assert_eq!(timeout, Duration::from_millis(1));
        assert!(
            acked.lock().unwrap().is_empty(),
            "nothing acknowledged before its sync"
        );
        gate.hold.store(false, Ordering::SeqCst);
        release.send(()).unwrap();
    });
    let mut got = acked.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(got, vec![1, 2, 3]);
    assert_eq!(journal.get_latest_sequence().unwrap(), 3);
}

#[test]
fn a_writer_panic_poisons_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let (gate, _entered, _release) = gate();
    let journal = DiskJournal::builder(dir.path())
        .storage(seam(gate.clone()))
        .open()
        .unwrap();
    assert_eq!(journal.append(&entry(1)).unwrap(), 1);
    gate.panic_on_write.store(true, Ordering::SeqCst);
    let failed = journal.append(&entry(2));
    assert!(matches!(failed, Err(Error::Poisoned(_))), "{failed:?}");
    assert!(matches!(journal.append(&entry(3)), Err(Error::Poisoned(_))));
    assert!(matches!(journal.sync(), Err(Error::Poisoned(_))));
    assert!(journal.close().is_err());
    drop(journal);
    let reopened = DiskJournal::open(dir.path()).unwrap();
    assert_eq!(reopened.get_latest_sequence().unwrap(), 1);
    assert_eq!(reopened.append(&entry(2)).unwrap(), 2);
}

#[test]
fn wait_durable_syncs_under_a_lazy_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (gate, _entered, _release) = gate();
    let journal = DiskJournal::builder(dir.path())
        .durability(Durability::Os)
        .storage(seam(gate.clone()))
        .open()
        .unwrap();
    let before = gate.syncs.load(Ordering::SeqCst);
    let seq = journal.append(&entry(1)).unwrap();
    assert_eq!(
        gate.syncs.load(Ordering::SeqCst),
        before,
        "Os policy: no sync per append"
    );
    assert!(journal.durable_sequence() < seq);
    journal.wait_durable(seq).unwrap();
    assert_eq!(gate.syncs.load(Ordering::SeqCst), before + 1);
    assert!(journal.durable_sequence() >= seq);
    // Already durable: no further sync.
    journal.wait_durable(seq).unwrap();
    assert_eq!(gate.syncs.load(Ordering::SeqCst), before + 1);
}
