//! Append throughput of `DiskJournal` under each durability policy from 1,
//! 8 and 64 producer threads, and in batches (`append_batch` of 64 from 1,
//! 8 and 64 producers; of 1024 from one thread without syncing), with
//! their peers in the same run so each goal of issue 8 reads as a ratio:
//!
//! - raw `pwrite` + `fdatasync` of the same 200-byte records, 1, 8, 64 and
//!   512 records per sync, into a file written beforehand and into a
//!   growing file, and at the mean batch the 64-producer `Always` bench
//!   achieved (group commit);
//! - SQLite in WAL mode with the reference's schema and three indexes: one
//!   transaction per row under `synchronous=FULL`, and 10,000-row
//!   transactions under `synchronous=NORMAL`;
//! - a request and reply between two threads (the floor of an append that
//!   does not sync).
//!
//! Run: `cargo bench --bench append -- --noplot`
//! (one group: `cargo bench --bench append -- --noplot 'raw pwrite'`).
//!
//! The `Always` benches print the mean records per `fdatasync` on stderr.
//! Journals and peer files live under `target/bench-tmp`, on the same file
//! system as the crate (not a tmpfs).

use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use baldur_journal::{DiskJournal, Durability, EventJournal};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rusqlite::params;

use baldur_bench_support as common;
use common::{
    SqliteSync, bench_dir, configure, create_file, prewrite_zeros, raw_record, record_of_200_bytes,
    sqlite_insert, sqlite_open, sqlite_timestamp,
};

/// Appends (or batches) each producer thread makes per criterion iteration.
const CALLS_PER_THREAD: u64 = 16;
/// Size of the pre-written peer file (its writes wrap around).
const PREWRITTEN_FILE_BYTES: u64 = 16 << 20;
/// A growing peer file is replaced by a new one past this size (untimed).
const GROWING_FILE_MAX_BYTES: u64 = 64 << 20;
/// Rows per transaction of the SQLite bulk peer.
const SQLITE_BULK_ROWS: usize = 10_000;
/// Records per `fdatasync` of the raw peers.
const RAW_BATCHES: [usize; 4] = [1, 8, 64, 512];

/// The mean records per `fdatasync` the 64-producer `Always` bench reached,
/// for the raw peer at that batch size later in the same run.
static MEAN_BATCH_OF_64_PRODUCERS: Mutex<Option<f64>> = Mutex::new(None);

fn open_journal(dir: &Path, durability: Durability) -> DiskJournal {
    DiskJournal::builder(dir)
        .durability(durability)
        .open()
        .expect("open the journal")
}

/// Runs `threads` producers, each making `calls` calls of `call`, and
/// returns the wall time from their common start to the last return.
fn calls_from_threads(threads: usize, calls: u64, call: impl Fn() + Sync) -> Duration {
    let start_line = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                start_line.wait();
                for _ in 0..calls {
                    call();
                }
            });
        }
        start_line.wait();
        let started = Instant::now();
        // Leaving the scope joins every producer.
        started
    })
    .elapsed()
}

/// The mean number of records each `fdatasync` covered (group commit):
/// records that share a commit hint were written by the same batch. `None`
/// when nothing was appended (the bench was filtered out or only listed).
fn records_per_sync(journal: &DiskJournal) -> Option<f64> {
    journal.write_stats().mean_batch()
}

fn policy_name(durability: Durability) -> String {
    match durability {
        Durability::Always => "Always".into(),
        Durability::EveryRecords(n) => format!("EveryRecords({n})"),
        Durability::Interval(d) => format!("Interval({}ms)", d.as_millis()),
        Durability::Os => "Os".into(),
    }
}

const POLICIES: [Durability; 4] = [
    Durability::Always,
    Durability::EveryRecords(64),
    Durability::Interval(Duration::from_millis(10)),
    Durability::Os,
];

fn producers_append_one_entry_per_call_under_each_policy(c: &mut Criterion) {
    let entry = record_of_200_bytes();
    let mut group = c.benchmark_group("append one entry per call");
    configure(&mut group);
    for threads in [1usize, 8, 64] {
        for durability in POLICIES {
            let dir = bench_dir();
            let journal = open_journal(dir.path(), durability);
            let id = format!("{threads} producers, {}", policy_name(durability));
            if threads == 1 {
                group.throughput(Throughput::Elements(1));
                group.bench_function(&id, |b| {
                    b.iter(|| journal.append(black_box(&entry)).expect("append"))
                });
            } else {
                group.throughput(Throughput::Elements(threads as u64 * CALLS_PER_THREAD));
                group.bench_function(&id, |b| {
                    b.iter_custom(|iters| {
                        calls_from_threads(threads, iters * CALLS_PER_THREAD, || {
                            black_box(journal.append(&entry).expect("append"));
                        })
                    })
                });
            }
            if durability == Durability::Always
                && let Some(mean) = records_per_sync(&journal)
            {
                eprintln!("{id}: {mean:.1} records per fdatasync on average");
                if threads == 64 {
                    *MEAN_BATCH_OF_64_PRODUCERS.lock().expect("lock") = Some(mean);
                }
            }
            journal.close().expect("close");
        }
    }
    group.finish();
}

fn producers_append_batches(c: &mut Criterion) {
    let entry = record_of_200_bytes();
    let mut group = c.benchmark_group("append_batch per call");
    configure(&mut group);
    for (threads, batch_len, durability) in [
        (1usize, 64usize, Durability::Always),
        (8, 64, Durability::Always),
        (64, 64, Durability::Always),
        (1, 1024, Durability::Os),
    ] {
        let dir = bench_dir();
        let journal = open_journal(dir.path(), durability);
        let batch = vec![entry.clone(); batch_len];
        let id = format!(
            "{threads} producers, batch of {batch_len}, {}",
            policy_name(durability)
        );
        group.throughput(Throughput::Elements(
            (threads * batch_len) as u64 * CALLS_PER_THREAD,
        ));
        group.bench_function(&id, |b| {
            b.iter_custom(|iters| {
                calls_from_threads(threads, iters * CALLS_PER_THREAD, || {
                    black_box(journal.append_batch(&batch).expect("append_batch"));
                })
            })
        });
        if durability == Durability::Always
            && let Some(mean) = records_per_sync(&journal)
        {
            eprintln!("{id}: {mean:.1} records per fdatasync on average");
        }
        journal.close().expect("close");
    }
    group.finish();
}

/// `iters` pwrites of `batch` records, each followed by `fdatasync`, into
/// a file written beforehand (writes wrap around).
fn raw_into_prewritten(file: &File, batch: &[u8], iters: u64) -> Duration {
    let wrap = PREWRITTEN_FILE_BYTES - batch.len() as u64;
    let mut at = 0u64;
    let started = Instant::now();
    for _ in 0..iters {
        file.write_all_at(black_box(batch), at).expect("pwrite");
        file.sync_data().expect("fdatasync");
        at = (at + batch.len() as u64) % wrap;
    }
    started.elapsed()
}

/// `iters` pwrites of `batch` at the end of a growing file, each followed
/// by `fdatasync`; past [`GROWING_FILE_MAX_BYTES`] a new file is started
/// (outside the timing).
fn raw_into_growing(dir: &Path, batch: &[u8], iters: u64) -> Duration {
    let path = dir.join("growing.dat");
    let new_file = || {
        let _ = std::fs::remove_file(&path);
        let file = create_file(&path);
        file.sync_all().expect("sync the empty file");
        file
    };
    let mut file = new_file();
    let (mut end, mut elapsed) = (0u64, Duration::ZERO);
    for _ in 0..iters {
        if end + batch.len() as u64 > GROWING_FILE_MAX_BYTES {
            file = new_file();
            end = 0;
        }
        let started = Instant::now();
        file.write_all_at(black_box(batch), end).expect("pwrite");
        file.sync_data().expect("fdatasync");
        elapsed += started.elapsed();
        end += batch.len() as u64;
    }
    elapsed
}

fn raw_pwrite_and_fdatasync(c: &mut Criterion) {
    let record = raw_record();
    let dir = bench_dir();
    let prewritten = create_file(&dir.path().join("prewritten.dat"));
    prewrite_zeros(&prewritten, PREWRITTEN_FILE_BYTES);
    let mut group = c.benchmark_group("raw pwrite + fdatasync of 200-byte records");
    configure(&mut group);
    let mut batches: Vec<(usize, String)> = RAW_BATCHES
        .iter()
        .map(|&n| (n, format!("{n} per sync")))
        .collect();
    if let Some(mean) = *MEAN_BATCH_OF_64_PRODUCERS.lock().expect("lock") {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a rounded mean batch size; `as` saturates, and 0 becomes 1 below"
        )]
        let n = (mean.round() as usize).max(1);
        batches.push((n, format!("{n} per sync (the 64-producer Always mean)")));
    }
    for (n, label) in batches {
        let batch = record.repeat(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("into a pre-written file, {label}"), |b| {
            b.iter_custom(|iters| raw_into_prewritten(&prewritten, &batch, iters))
        });
        group.bench_function(format!("into a growing file, {label}"), |b| {
            b.iter_custom(|iters| raw_into_growing(dir.path(), &batch, iters))
        });
    }
    group.finish();
}

fn sqlite_inserts(c: &mut Criterion) {
    let entry = record_of_200_bytes();
    let mut group = c.benchmark_group("SQLite WAL, the reference's schema and indexes");
    configure(&mut group);

    let dir = bench_dir();
    let conn = sqlite_open(&dir.path().join("per-row.db"), SqliteSync::Full);
    let timestamp = sqlite_timestamp(entry.timestamp);
    let mut insert = conn.prepare(common::SQLITE_INSERT).expect("prepare");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one transaction per row, synchronous=FULL", |b| {
        b.iter(|| {
            insert
                .execute(params![
                    entry.event_type,
                    entry.source,
                    entry.service_name,
                    entry.region,
                    entry.tier_id,
                    timestamp,
                    entry.context.as_str(),
                ])
                .expect("insert")
        })
    });
    drop(insert);
    drop(conn);

    let mut conn = sqlite_open(&dir.path().join("bulk.db"), SqliteSync::Normal);
    let rows = vec![entry.clone(); SQLITE_BULK_ROWS];
    group.throughput(Throughput::Elements(SQLITE_BULK_ROWS as u64));
    group.bench_function(
        format!("{SQLITE_BULK_ROWS}-row transactions, synchronous=NORMAL"),
        |b| b.iter(|| sqlite_insert(&mut conn, black_box(&rows))),
    );
    group.finish();
}

/// The floor under every single-thread `append` that does not sync: a
/// request to another thread and its reply (as the journal's writer
/// thread does it: a bounded request channel, a fresh one-slot reply
/// channel per request).
fn one_thread_round_trips_a_request_to_another_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("peer: request and reply between two threads");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));
    let (requests, inbox) = crossbeam_channel::bounded::<crossbeam_channel::Sender<u64>>(1024);
    let server = std::thread::spawn(move || {
        for reply in inbox {
            let _ = reply.send(1);
        }
    });
    group.bench_function("crossbeam-channel round trip", |b| {
        b.iter(|| {
            let (reply, answer) = crossbeam_channel::bounded(1);
            requests.send(reply).expect("send");
            answer.recv().expect("recv")
        })
    });
    drop(requests);
    server.join().expect("server thread");
    group.finish();
}

fn benches(c: &mut Criterion) {
    producers_append_one_entry_per_call_under_each_policy(c);
    producers_append_batches(c);
    // After the 64-producer bench, so its mean batch has a raw peer.
    raw_pwrite_and_fdatasync(c);
    sqlite_inserts(c);
    one_thread_round_trips_a_request_to_another_thread(c);
}

criterion_group!(all, benches);
criterion_main!(all);
