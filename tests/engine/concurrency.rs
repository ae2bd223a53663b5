//! Many threads appending to one `DiskJournal` (default durability, 64 KiB
//! segments so rolls happen under contention), and appends racing `close`.

use baldur_test_support::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use baldur_journal::{
    Context, DiskJournal, Durability, Error, EventJournal, JournalEntry, JournalQueryFilter,
    Timestamp,
};

const THREADS: u64 = 8;
const PER_THREAD: u64 = 500;
const BATCH: u64 = 10;

/// The entry thread `t` appends as its `n`th; the context names both, so
/// every entry is identifiable after reopen.
fn tagged(t: u64, n: u64) -> JournalEntry {
    let base = common::entry(t * 1000 + n);
    JournalEntry::new(
        base.event_type.clone(),
        format!("writer-{t}"),
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + (n as i64) * 1_000 + t as i64),
        base.service_name.clone(),
    )
    .with_context(
        Context::from_json(&format!(
            r#"{{"thread":{t},"n":{n},"note":"t{t}-n{n} {}"}}"#,
            "x".repeat((n % 7) as usize * 20)
        ))
        .unwrap(),
    )
    .with_region(base.region)
    .with_tier_id(base.tier_id)
}

/// `(thread, n)` from an entry's context.
fn tag_of(e: &JournalEntry) -> (u64, u64) {
    let ctx = e.context.to_value();
    (
        ctx["thread"].as_u64().expect("thread"),
        ctx["n"].as_u64().expect("n"),
    )
}

fn open(dir: &Path, durability: Durability) -> DiskJournal {
    DiskJournal::builder(dir)
        .segment_bytes(64 << 10)
        .durability(durability)
        .open()
        .unwrap()
}

#[test]
fn eight_threads_get_unique_increasing_sequences_and_everything_survives_reopen() {
    within(Duration::from_secs(300), || {
        eight_threads(Durability::Always)
    });
}

/// Under `Os` the threads write on their own threads (no hand-off to the
/// writer thread): the same guarantees.
#[test]
fn eight_threads_writing_directly_under_os_get_the_same() {
    within(Duration::from_secs(300), || eight_threads(Durability::Os));
}

fn eight_threads(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(open(dir.path(), durability));
    let barrier = Arc::new(Barrier::new(usize::try_from(THREADS).unwrap()));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let journal = journal.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                // (n, sequence) in the order the calls returned.
                let mut got: Vec<(u64, u64)> = Vec::new();
                let mut n = 0;
                // Interleave: a batch of 10, then 10 single appends, and so on.
                while n < PER_THREAD {
                    let batch: Vec<JournalEntry> = (n..n + BATCH).map(|k| tagged(t, k)).collect();
                    let sequences = journal.append_batch(&batch).unwrap();
                    assert_eq!(sequences.len() as u64, BATCH);
                    got.extend((n..n + BATCH).zip(sequences));
                    n += BATCH;
                    for k in n..n + BATCH {
                        got.push((k, journal.append(&tagged(t, k)).unwrap()));
                    }
                    n += BATCH;
                }
                got
            })
        })
        .collect();
    let per_thread: Vec<Vec<(u64, u64)>> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    // sequence -> (thread, n)
    let mut owner: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (t, got) in per_thread.iter().enumerate() {
        assert_eq!(got.len() as u64, PER_THREAD);
        for pair in got.windows(2) {
            assert!(
                pair[1].1 > pair[0].1,
                "thread {t}: sequence {} came after {}",
                pair[1].1,
                pair[0].1
            );
        }
        for chunk in got.chunks(usize::try_from(BATCH).unwrap()).step_by(2) {
            let first = chunk[0].1;
            let seqs: Vec<u64> = chunk.iter().map(|&(_, s)| s).collect();
            assert_eq!(
                seqs,
                (first..first + BATCH).collect::<Vec<_>>(),
                "thread {t}: a batch's sequences are not consecutive"
            );
        }
        for &(n, seq) in got {
            if let Some(previous) = owner.insert(seq, (t as u64, n)) {
                panic!("sequence {seq} given to both {previous:?} and {:?}", (t, n));
            }
        }
    }
    let total = THREADS * PER_THREAD;
    assert_eq!(
        owner.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    assert_eq!(journal.get_latest_sequence().unwrap(), total);
    // Under `Always` everything acknowledged is durable; under `Os`, after
    // `sync`.
    if durability != Durability::Always {
        journal.sync().unwrap();
    }
    assert_eq!(journal.durable_sequence(), total);
    let live: Vec<JournalEntry> = journal.get_sequence_range(1, total + 1).unwrap();

    journal.close().unwrap();
    drop(journal);
    let journal = open(dir.path(), durability);
    let report = journal.recovery_report();
    assert!(
        report.segments > 2,
        "64 KiB segments must have rolled: {report:?}"
    );
    assert!(
        report.torn_tail.is_none() && report.corruption.is_none(),
        "{report:?}"
    );
    assert!(report.rebuilt_indexes.is_empty(), "{report:?}");
    assert_eq!(journal.get_latest_sequence().unwrap(), total);
    let stored = journal.get_sequence_range(0, u64::MAX).unwrap();
    assert_eq!(stored.len() as u64, total);
    for e in &stored {
        let (t, n) = owner[&e.sequence];
        assert_eq!(tag_of(e), (t, n), "sequence {}", e.sequence);
        let mut expected = tagged(t, n);
        expected.sequence = e.sequence;
        assert_eq!(common::strip(e.clone()), expected);
    }
    assert_eq!(stored, live, "reopen changed what was read before it");
    let per_writer = JournalQueryFilter {
        context_filters: Some(BTreeMap::from([("thread".to_string(), "3".to_string())])),
        ..Default::default()
    };
    assert_eq!(journal.count(&per_writer).unwrap(), PER_THREAD);
}

/// One run of appenders racing one or more closers.
fn appends_race_close(closers: usize, seed: u64, durability: Durability) {
    const APPENDERS: u64 = 6;
    const APPENDS: u64 = 150;
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(open(dir.path(), durability));
    let barrier = Arc::new(Barrier::new(usize::try_from(APPENDERS).unwrap() + closers));
    let finished = Arc::new(AtomicU64::new(0));
    // Close at different points of the run: right away, or once this many
    // appends are visible (waiting on the journal's state, not on time).
    let close_after = (seed % 5) * APPENDS;
    let appenders: Vec<_> = (0..APPENDERS)
        .map(|t| {
            let journal = journal.clone();
            let barrier = barrier.clone();
            let finished = finished.clone();
            thread::spawn(move || {
                barrier.wait();
                let mut rng = common::Rng(seed * 31 + t + 1);
                // (n, sequence) per entry; `None` when refused as closed.
                let mut outcomes: Vec<(u64, Option<u64>)> = Vec::new();
                let mut n = 0;
                while n < APPENDS {
                    let size = if rng.below(3) == 0 {
                        1 + rng.below(5)
                    } else {
                        1
                    };
                    let size = size.min(APPENDS - n);
                    let result = if size == 1 {
                        journal.append(&tagged(t, n)).map(|seq| vec![seq])
                    } else {
                        let batch: Vec<_> = (n..n + size).map(|k| tagged(t, k)).collect();
                        journal.append_batch(&batch)
                    };
                    match result {
                        Ok(seqs) => {
                            assert_eq!(seqs.len() as u64, size, "thread {t}: batch at {n}");
                            outcomes.extend((n..).zip(seqs.into_iter().map(Some)));
                        }
                        Err(Error::Closed) => outcomes.extend((n..n + size).map(|k| (k, None))),
                        Err(other) => panic!("thread {t}: append at {n}: unexpected error {other}"),
                    }
                    n += size;
                }
                finished.fetch_add(1, Ordering::Release);
                outcomes
            })
        })
        .collect();
    let closer_handles: Vec<_> = (0..closers)
        .map(|_| {
            let journal = journal.clone();
            let barrier = barrier.clone();
            let finished = finished.clone();
            thread::spawn(move || {
                barrier.wait();
                while journal.get_latest_sequence().unwrap() < close_after
                    && finished.load(Ordering::Acquire) < APPENDERS
                {
                    std::hint::spin_loop();
                }
                journal.close().unwrap();
                // Once close has returned the writer is stopped: nothing
                // more can be acknowledged.
                journal.get_latest_sequence().unwrap()
            })
        })
        .collect();
    let outcomes: Vec<Vec<(u64, Option<u64>)>> =
        appenders.into_iter().map(|h| h.join().unwrap()).collect();
    let latest_after_close: Vec<u64> = closer_handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();

    // Writes after close fail, and the handle says closed from then on.
    assert!(matches!(journal.append(&tagged(99, 0)), Err(Error::Closed)));
    assert!(matches!(
        journal.append_batch(&[tagged(99, 1)]),
        Err(Error::Closed)
    ));
    assert!(matches!(
        journal.append_at(1 << 40, &tagged(99, 2)),
        Err(Error::Closed)
    ));
    journal.close().unwrap();

    let mut acked: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (t, list) in outcomes.iter().enumerate() {
        assert_eq!(list.len() as u64, APPENDS);
        let mut closed_seen = false;
        let mut last = 0;
        for (n, outcome) in list {
            match outcome {
                Some(seq) => {
                    assert!(
                        !closed_seen,
                        "thread {t}: append {n} succeeded after Closed"
                    );
                    assert!(*seq > last, "thread {t}: sequences do not increase");
                    last = *seq;
                    assert!(
                        acked.insert(*seq, (t as u64, *n)).is_none(),
                        "duplicate {seq}"
                    );
                }
                None => closed_seen = true,
            }
        }
    }
    let acked_count = acked.len() as u64;
    assert_eq!(
        acked.keys().copied().collect::<Vec<_>>(),
        (1..=acked_count).collect::<Vec<_>>(),
        "acknowledged sequences have holes"
    );
    for (i, latest) in latest_after_close.iter().enumerate() {
        assert_eq!(
            *latest, acked_count,
            "closer {i}: close returned while appends were still being acknowledged"
        );
    }
    drop(journal);

    let reopened = open(dir.path(), durability);
    let report = reopened.recovery_report();
    assert!(
        report.torn_tail.is_none() && report.corruption.is_none(),
        "{report:?}"
    );
    let stored = reopened.get_sequence_range(0, u64::MAX).unwrap();
    assert_eq!(
        stored.len() as u64,
        acked_count,
        "the journal holds entries nobody was told were appended, or lost some"
    );
    for e in &stored {
        let (t, n) = acked[&e.sequence];
        let mut expected = tagged(t, n);
        expected.sequence = e.sequence;
        assert_eq!(common::strip(e.clone()), expected);
    }
}

/// Runs `f` on its own thread and fails the test if it has not finished
/// within `limit` (a hang), propagating its panic otherwise.
fn within(limit: Duration, f: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().unwrap(),
        Err(RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(RecvTimeoutError::Timeout) => panic!("still running after {limit:?}: hung"),
    }
}

#[test]
fn appends_racing_close_are_acknowledged_and_kept_or_refused_as_closed() {
    within(Duration::from_secs(120), || {
        for seed in 0..10 {
            appends_race_close(1, seed, Durability::Always);
            appends_race_close(1, seed, Durability::Os);
        }
    });
}

#[test]
fn appends_racing_several_concurrent_closes() {
    within(Duration::from_secs(120), || {
        for seed in 0..10 {
            appends_race_close(3, seed, Durability::Always);
            appends_race_close(3, seed, Durability::EveryRecords(7));
        }
    });
}
