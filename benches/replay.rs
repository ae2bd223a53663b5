//! Replaying a journal of 1,000,000 records of 200 bytes, every record
//! read once: through the borrowed reader (`range_ref`, CRC checked) and
//! to owned entries (`range_iter`); the peer in the same run is SQLite's
//! range scan (`WHERE sequence >= ? AND sequence < ? ORDER BY sequence`,
//! the reference adapter's `get_sequence_range`) over the same rows, each
//! column read borrowed and, as the second peer, copied to owned values.
//!
//! Run: `cargo bench --bench replay -- --noplot`
//! (`BALDUR_REPLAY_EVENTS=10000000` for the larger size).
//!
//! The journal (under `Durability::Os`, in batches) and the database are
//! built before anything is measured, in `target/bench-tmp`, and read
//! back warm: these are figures for the CPU side of reading from the page
//! cache, not for cold disk reads.

use std::cell::OnceCell;
use std::hint::black_box;

use baldur_journal::{DiskJournal, EventJournal};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use tempfile::TempDir;

use baldur_bench_support as common;
use common::{
    SQLITE_COLUMNS, bench_dir, build_journal, build_sqlite, configure, env_u64, segment_count,
};

/// Records in the journal, unless `BALDUR_REPLAY_EVENTS` says otherwise.
const DEFAULT_RECORDS: u64 = 1_000_000;
/// Segment size: 16 MiB, so the journal spans a dozen segments.
const SEGMENT_BYTES: u64 = 16 << 20;

/// The length of a text column, read without copying.
fn text_len(value: ValueRef<'_>) -> usize {
    value.as_str().expect("a text column").len()
}

/// Replays `[1, n]` from SQLite; with `owned`, each row becomes a tuple of
/// owned values (as a `JournalEntry` would), else its columns are read
/// borrowed. Returns the sum of the sequences and of the text lengths.
fn sqlite_scan(conn: &Connection, n: u64, owned: bool) -> (u64, usize) {
    let mut scan = conn
        .prepare_cached(&format!(
            "SELECT {SQLITE_COLUMNS} FROM baldur_event_journal \
             WHERE sequence >= ?1 AND sequence < ?2 ORDER BY sequence"
        ))
        .expect("prepare");
    let mut rows = scan.query([1, n as i64 + 1]).expect("query");
    let (mut sum, mut bytes) = (0u64, 0usize);
    while let Some(row) = rows.next().expect("row") {
        sum += u64::try_from(row.get::<_, i64>(0).expect("sequence")).expect("a sequence");
        if owned {
            let texts: [String; 7] =
                std::array::from_fn(|i| row.get::<_, String>(i + 1).expect("text"));
            bytes += black_box(texts).iter().map(String::len).sum::<usize>();
        } else {
            for i in 1..8 {
                bytes += text_len(row.get_ref(i).expect("column"));
            }
        }
    }
    (sum, bytes)
}

fn replay(c: &mut Criterion) {
    let records = env_u64("BALDUR_REPLAY_EVENTS", DEFAULT_RECORDS);
    // Built on first use, so listing or filtering the benches costs nothing.
    let built: OnceCell<(TempDir, DiskJournal, Connection)> = OnceCell::new();
    let get = || {
        let (_, journal, conn) = built.get_or_init(|| {
            let dir = bench_dir();
            let started = std::time::Instant::now();
            let journal = build_journal(dir.path(), records, SEGMENT_BYTES);
            let journal_took = started.elapsed().as_secs_f64();
            let conn = build_sqlite(&dir.path().join("peer.db"), records);
            eprintln!(
                "built {records} records in {} segments in {journal_took:.2} s, and in SQLite in {:.2} s",
                segment_count(dir.path()),
                started.elapsed().as_secs_f64() - journal_took
            );
            (dir, journal, conn)
        });
        (journal, conn)
    };
    let expected_sum = records * (records + 1) / 2;

    let mut group = c.benchmark_group(format!("replay {records} records"));
    configure(&mut group);
    group.throughput(Throughput::Elements(records));

    group.bench_function("range_ref (borrowed, CRC checked)", |b| {
        let (journal, _) = get();
        b.iter(|| {
            let mut range = journal.range_ref(1, u64::MAX).expect("range_ref");
            let mut sum = 0u64;
            while let Some(record) = range.next_entry() {
                sum += record.expect("record").sequence;
            }
            assert_eq!(sum, expected_sum);
            black_box(sum)
        })
    });

    group.bench_function("range_iter (owned JournalEntry)", |b| {
        let (journal, _) = get();
        b.iter(|| {
            let mut sum = 0u64;
            for entry in journal.range_iter(1, u64::MAX).expect("range_iter") {
                sum += black_box(entry.expect("entry")).sequence;
            }
            assert_eq!(sum, expected_sum);
            black_box(sum)
        })
    });

    for (owned, name) in [
        (false, "SQLite range scan (columns borrowed)"),
        (true, "SQLite range scan (owned values)"),
    ] {
        group.bench_function(name, |b| {
            let (_, conn) = get();
            b.iter(|| {
                let (sum, bytes) = sqlite_scan(conn, records, owned);
                assert_eq!(sum, expected_sum);
                black_box(bytes)
            })
        });
    }
    group.finish();

    if let Some((_dir, journal, _)) = built.get() {
        journal.close().expect("close");
    }
}

criterion_group!(benches, replay);
criterion_main!(benches);
