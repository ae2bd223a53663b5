//! Append throughput of `DiskJournal` under each durability policy, from
//! one thread, from 8 threads and from 64 threads (group commit), and in
//! batches; with raw `pwrite` + `fdatasync` of the same 200-byte records
//! as peers in the same run, so the cost of the journal over the disk can
//! be read as a ratio, and a request/reply between two threads as the
//! floor of an append that does not sync.
//!
//! Run: `cargo bench --bench append -- --noplot`
//!
//! Journals and peer files live under `target/bench-tmp`, on the same file
//! system as the crate (not a tmpfs).

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use baldur_journal::codec;
use baldur_journal::{DiskJournal, Durability, EventJournal, JournalEntry};
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group};
use criterion::{criterion_main, measurement::WallTime};

mod common;
use common::{RECORD_BYTES, bench_dir, record_of_200_bytes};

/// Appends each producer thread makes per criterion iteration.
const APPENDS_PER_THREAD: u64 = 16;
/// Size of the pre-written peer file (its writes wrap around).
const PREWRITTEN_FILE_BYTES: u64 = 16 << 20;

fn open_journal(dir: &Path, durability: Durability) -> DiskJournal {
    DiskJournal::builder(dir)
        .durability(durability)
        .open()
        .expect("open the journal")
}

/// Runs `threads` producers, each appending `per_thread` entries, and
/// returns the wall time from their common start to the last ack.
fn appends_from_threads(
    journal: &DiskJournal,
    entry: &JournalEntry,
    threads: usize,
    per_thread: u64,
) -> Duration {
    let start_line = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                start_line.wait();
                for _ in 0..per_thread {
                    black_box(journal.append(entry).expect("append"));
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
    let mut range = journal.range_ref(1, u64::MAX).expect("range_ref");
    let (mut records, mut syncs, mut last_hint) = (0u64, 0u64, None);
    while let Some(record) = range.next_entry() {
        let hint = record.expect("record").commit_hint;
        records += 1;
        if last_hint != Some(hint) {
            syncs += 1;
            last_hint = Some(hint);
        }
    }
    (records > 0).then(|| records as f64 / syncs as f64)
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat);
}

fn policy_name(durability: Durability) -> String {
    match durability {
        Durability::Always => "Always".into(),
        Durability::EveryRecords(n) => format!("EveryRecords({n})"),
        Durability::Interval(d) => format!("Interval({}ms)", d.as_millis()),
        Durability::Os => "Os".into(),
    }
}

fn one_thread_appends_one_entry_per_call_under_each_policy(c: &mut Criterion) {
    let entry = record_of_200_bytes();
    let mut group = c.benchmark_group("append one entry per call from one thread");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));
    for durability in [
        Durability::Always,
        Durability::EveryRecords(64),
        Durability::Interval(Duration::from_millis(10)),
        Durability::Os,
    ] {
        let dir = bench_dir();
        let journal = open_journal(dir.path(), durability);
        group.bench_function(policy_name(durability), |b| {
            b.iter(|| journal.append(black_box(&entry)).expect("append"))
        });
        if durability == Durability::Always
            && let Some(mean) = records_per_sync(&journal)
        {
            eprintln!("one thread, Always: {mean:.1} records per fdatasync on average");
        }
        journal.close().expect("close");
    }
    group.finish();
}

fn many_threads_append_one_entry_per_call(c: &mut Criterion) {
    let entry = record_of_200_bytes();
    let mut group = c.benchmark_group("append one entry per call from many threads");
    configure(&mut group);
    for (threads, durability) in [
        (8, Durability::Always),
        (8, Durability::Os),
        (64, Durability::Always),
    ] {
        let dir = bench_dir();
        let journal = open_journal(dir.path(), durability);
        group.throughput(Throughput::Elements(threads as u64 * APPENDS_PER_THREAD));
        let id = format!("{threads} threads, {}", policy_name(durability));
        group.bench_function(&id, |b| {
            b.iter_custom(|iters| {
                appends_from_threads(&journal, &entry, threads, iters * APPENDS_PER_THREAD)
            })
        });
        if durability == Durability::Always
            && let Some(mean) = records_per_sync(&journal)
        {
            eprintln!("{id}: {mean:.1} records per fdatasync on average (group commit)");
        }
        journal.close().expect("close");
    }
    group.finish();
}

fn one_thread_appends_batches(c: &mut Criterion) {
    let entry = record_of_200_bytes();
    let mut group = c.benchmark_group("append a batch per call from one thread");
    configure(&mut group);
    for (batch_len, durability) in [(64, Durability::Always), (1024, Durability::Os)] {
        let dir = bench_dir();
        let journal = open_journal(dir.path(), durability);
        let batch = vec![entry.clone(); batch_len];
        group.throughput(Throughput::Elements(batch_len as u64));
        let id = format!("batch of {batch_len}, {}", policy_name(durability));
        group.bench_function(id, |b| {
            b.iter(|| {
                journal
                    .append_batch(black_box(&batch))
                    .expect("append_batch")
            })
        });
        journal.close().expect("close");
    }
    group.finish();
}

/// A 200-byte record as raw bytes (the journal's frame of the same entry).
fn raw_record() -> Vec<u8> {
    let mut body = Vec::new();
    codec::encode_body(&record_of_200_bytes(), &mut body).expect("encodable entry");
    let mut frame = Vec::new();
    codec::push_frame(&mut frame, &body);
    assert_eq!(frame.len(), RECORD_BYTES);
    frame
}

fn create_file(path: &PathBuf) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .expect("create the peer file")
}

/// Fills `file` with zeros to `len` bytes and makes it durable, so later
/// overwrites change no block allocation and no file size.
fn prewrite_zeros(file: &File, len: u64) {
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at).expect("pre-write");
        at += n as u64;
    }
    file.sync_all().expect("sync the pre-written file");
}

fn raw_pwrite_and_fdatasync_one_record_per_sync(c: &mut Criterion) {
    let record = raw_record();
    let mut group = c.benchmark_group("raw pwrite + fdatasync, one 200-byte record per sync");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));

    let dir = bench_dir();
    let path = dir.path().join("prewritten.dat");
    let file = create_file(&path);
    prewrite_zeros(&file, PREWRITTEN_FILE_BYTES);
    let mut at = 0u64;
    group.bench_function("into a pre-written file", |b| {
        b.iter(|| {
            file.write_all_at(black_box(&record), at).expect("pwrite");
            file.sync_data().expect("fdatasync");
            at = (at + RECORD_BYTES as u64) % (PREWRITTEN_FILE_BYTES - RECORD_BYTES as u64);
        })
    });

    let path = dir.path().join("growing.dat");
    let file = create_file(&path);
    file.sync_all().expect("sync the empty file");
    let mut end = 0u64;
    group.bench_function("into a growing file", |b| {
        b.iter(|| {
            file.write_all_at(black_box(&record), end).expect("pwrite");
            file.sync_data().expect("fdatasync");
            end += RECORD_BYTES as u64;
        })
    });
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

criterion_group!(
    benches,
    one_thread_appends_one_entry_per_call_under_each_policy,
    raw_pwrite_and_fdatasync_one_record_per_sync,
    one_thread_round_trips_a_request_to_another_thread,
    many_threads_append_one_entry_per_call,
    one_thread_appends_batches,
);
criterion_main!(benches);
