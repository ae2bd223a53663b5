//! Opening a large journal after a clean close: the writer's open (lock,
//! recovery of the active segment, sealed segments from their headers,
//! footers and indexes) and a read-only open, each followed by
//! `get_latest_sequence`; the peer in the same run is SQLite (WAL, the
//! reference's schema and indexes) holding the same rows: open the
//! connection and ask `MAX(sequence)`, the adapter's latest sequence.
//!
//! Run: `cargo bench --bench open -- --noplot`
//! (`BALDUR_OPEN_BYTES=1G` and `=4G` for the sizes; default 256M.
//! The size is of the journal's records, 200 bytes each.)
//!
//! Everything is built before anything is measured, in `target/bench-tmp`;
//! the files are warm in the page cache, so this is the CPU and system
//! call side of an open, not cold reads. Each close is outside the timing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use baldur_journal::disk::DEFAULT_SEGMENT_BYTES;
use baldur_journal::{DiskJournal, EventJournal};
use criterion::{Criterion, criterion_group, criterion_main};
use rusqlite::Connection;

use baldur_bench_support as common;
use common::{RECORD_BYTES, bench_dir, build_journal, build_sqlite, configure, segment_count};

/// Journal size, unless `BALDUR_OPEN_BYTES` says otherwise.
const DEFAULT_BYTES: u64 = 256 << 20;

/// `BALDUR_OPEN_BYTES`: a number of bytes with an optional K, M or G.
fn bytes_wanted() -> u64 {
    let Ok(text) = std::env::var("BALDUR_OPEN_BYTES") else {
        return DEFAULT_BYTES;
    };
    let (digits, shift) = match text.trim().to_ascii_uppercase() {
        t if t.ends_with('K') => (t[..t.len() - 1].to_string(), 10),
        t if t.ends_with('M') => (t[..t.len() - 1].to_string(), 20),
        t if t.ends_with('G') => (t[..t.len() - 1].to_string(), 30),
        t => (t, 0),
    };
    digits
        .parse::<u64>()
        .map(|n| n << shift)
        .unwrap_or_else(|_| panic!("BALDUR_OPEN_BYTES={text:?} is not a size like 512M or 4G"))
}

/// Times `iters` opens made by `open`; what it returns is dropped (closed)
/// outside the timing.
fn time_opens<T>(iters: u64, mut open: impl FnMut() -> T) -> Duration {
    let mut elapsed = Duration::ZERO;
    for _ in 0..iters {
        let started = Instant::now();
        let opened = black_box(open());
        elapsed += started.elapsed();
        drop(opened);
    }
    elapsed
}

fn open_after_a_clean_close(c: &mut Criterion) {
    let bytes = bytes_wanted();
    let records = bytes / RECORD_BYTES as u64;
    let dir = bench_dir();
    let journal_dir = dir.path().join("journal");
    let db = dir.path().join("peer.db");
    let started = Instant::now();
    build_journal(&journal_dir, records, DEFAULT_SEGMENT_BYTES)
        .close()
        .expect("close");
    let journal_took = started.elapsed().as_secs_f64();
    drop(build_sqlite(&db, records));
    eprintln!(
        "built {records} records ({} MiB) in {} segments in {journal_took:.1} s, and in SQLite in {:.1} s",
        bytes >> 20,
        segment_count(&journal_dir),
        started.elapsed().as_secs_f64() - journal_took
    );

    let mut group = c.benchmark_group(format!("open {} MiB after a clean close", bytes >> 20));
    configure(&mut group);
    group.bench_function("DiskJournal writer open + latest sequence", |b| {
        b.iter_custom(|iters| {
            time_opens(iters, || {
                let journal = DiskJournal::open(&journal_dir).expect("open");
                assert_eq!(journal.get_latest_sequence().expect("latest"), records);
                journal
            })
        })
    });
    group.bench_function("DiskJournal read-only open + latest sequence", |b| {
        b.iter_custom(|iters| {
            time_opens(iters, || {
                let journal = DiskJournal::open_read_only(&journal_dir).expect("open");
                assert_eq!(journal.get_latest_sequence().expect("latest"), records);
                journal
            })
        })
    });
    group.bench_function("SQLite open + MAX(sequence)", |b| {
        b.iter_custom(|iters| {
            time_opens(iters, || {
                let conn = Connection::open(&db).expect("open SQLite");
                let latest: i64 = conn
                    .query_row(
                        "SELECT MAX(sequence) FROM baldur_event_journal",
                        [],
                        |row| row.get(0),
                    )
                    .expect("MAX(sequence)");
                assert_eq!(u64::try_from(latest).expect("a sequence"), records);
                conn
            })
        })
    });
    group.finish();
}

criterion_group!(benches, open_after_a_clean_close);
criterion_main!(benches);
