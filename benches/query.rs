//! `count` and `query` over a journal of N records of 200 bytes
//! (`BALDUR_QUERY_EVENTS`, default 1,000,000; the goal 5 is
//! stated for 10,000,000), with SQLite in WAL mode, the reference's schema
//! and three indexes, over the same rows as the peer in the same run:
//!
//! - an event type present in 1% of the records: `count` against
//!   `SELECT COUNT(*) ... WHERE event_type IN (?)` (on its index), and
//!   `query` with limit 1000 and its exact `total_count` against what the
//!   reference's SQL adapter runs for it, `COUNT(*)` then `SELECT ...
//!   ORDER BY sequence LIMIT 1000`, rows read into owned values;
//! - a service name in 10% of the records: `count` (the journal scans)
//!   against `COUNT(*)` on the service index;
//! - a 2-second time window (2,000 matches): `query` with limit 1000
//!   against the adapter's `COUNT(*)` and `SELECT` on the timestamp index.
//!
//! Run: `cargo bench --bench query -- --noplot`
//! (`BALDUR_QUERY_EVENTS=10000000` for the goal's size;
//! `BALDUR_QUERY_SEGMENT_BYTES` to change the segment size, default the
//! engine's 128 MiB).
//!
//! The journal and the database are built before anything is measured, in
//! `target/bench-tmp`, and read warm from the page cache.

use std::cell::OnceCell;
use std::hint::black_box;

use baldur_journal::disk::DEFAULT_SEGMENT_BYTES;
use baldur_journal::{DiskJournal, EventJournal, JournalQueryFilter, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rusqlite::Connection;
use tempfile::TempDir;

use baldur_bench_support as common;
use common::{
    FIRST_EVENT_NANOS, MILLI, RARE_EVENT_TYPE, SERVICES, SQLITE_COLUMNS, bench_dir, build_journal,
    build_sqlite, configure, env_u64, rare_records_below, segment_count, sqlite_timestamp,
};

/// Records in the journal, unless `BALDUR_QUERY_EVENTS` says otherwise.
const DEFAULT_RECORDS: u64 = 1_000_000;
/// The query limit of goal 5.
const LIMIT: usize = 1000;
/// The time window: 2 seconds, 2,000 records.
const WINDOW_MS: i64 = 2_000;

/// What the reference's SQL adapter runs for a query without context
/// filters: `COUNT(*)` with the WHERE clause, then the page, each row read
/// into owned values. Returns the count and the rows read.
fn sqlite_query(conn: &Connection, condition: &str, args: &[&str]) -> (u64, usize) {
    let count: i64 = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM baldur_event_journal WHERE {condition}"
        ))
        .expect("prepare")
        .query_row(rusqlite::params_from_iter(args), |row| row.get(0))
        .expect("count");
    let mut page = conn
        .prepare_cached(&format!(
            "SELECT {SQLITE_COLUMNS} FROM baldur_event_journal WHERE {condition} \
             ORDER BY sequence LIMIT {LIMIT}"
        ))
        .expect("prepare");
    let mut rows = page.query(rusqlite::params_from_iter(args)).expect("query");
    let mut read = 0;
    while let Some(row) = rows.next().expect("row") {
        let sequence: i64 = row.get(0).expect("sequence");
        let texts: [String; 7] =
            std::array::from_fn(|i| row.get::<_, String>(i + 1).expect("text"));
        black_box((sequence, texts));
        read += 1;
    }
    (u64::try_from(count).expect("a count"), read)
}

/// `COUNT(*)` with the WHERE clause.
fn sqlite_count(conn: &Connection, condition: &str, args: &[&str]) -> u64 {
    let count = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM baldur_event_journal WHERE {condition}"
        ))
        .expect("prepare")
        .query_row(rusqlite::params_from_iter(args), |row| row.get::<_, i64>(0))
        .expect("count");
    u64::try_from(count).expect("a count")
}

fn count_and_query(c: &mut Criterion) {
    let records = env_u64("BALDUR_QUERY_EVENTS", DEFAULT_RECORDS);
    let segment_bytes = env_u64("BALDUR_QUERY_SEGMENT_BYTES", DEFAULT_SEGMENT_BYTES);
    let built: OnceCell<(TempDir, DiskJournal, Connection)> = OnceCell::new();
    let get = || {
        let (_, journal, conn) = built.get_or_init(|| {
            let dir = bench_dir();
            let started = std::time::Instant::now();
            let journal = build_journal(dir.path(), records, segment_bytes);
            let journal_took = started.elapsed().as_secs_f64();
            let conn = build_sqlite(&dir.path().join("peer.db"), records);
            eprintln!(
                "built {records} records in {} segments of {segment_bytes} bytes in {journal_took:.2} s, \
                 and in SQLite in {:.2} s",
                segment_count(dir.path()),
                started.elapsed().as_secs_f64() - journal_took
            );
            (dir, journal, conn)
        });
        (journal, conn)
    };

    let rare = rare_records_below(records);
    let by_type = JournalQueryFilter {
        event_types: Some(vec![RARE_EVENT_TYPE.into()]),
        limit: LIMIT,
        ..Default::default()
    };
    let type_condition = "event_type IN (?1)";
    let mut group = c.benchmark_group(format!(
        "event type in 1% of {records} records ({rare} matches)"
    ));
    configure(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("count", |b| {
        let (journal, _) = get();
        b.iter(|| assert_eq!(journal.count(black_box(&by_type)).expect("count"), rare))
    });
    group.bench_function("SQLite COUNT(*) on the event_type index", |b| {
        let (_, conn) = get();
        b.iter(|| assert_eq!(sqlite_count(conn, type_condition, &[RARE_EVENT_TYPE]), rare))
    });
    group.bench_function("query, limit 1000, total_count", |b| {
        let (journal, _) = get();
        b.iter(|| {
            let result = journal.query(black_box(&by_type)).expect("query");
            assert_eq!(result.total_count, rare);
            assert_eq!(
                result.entries.len(),
                LIMIT.min(usize::try_from(rare).expect("a count"))
            );
            result
        })
    });
    group.bench_function("SQLite COUNT(*) + SELECT LIMIT 1000", |b| {
        let (_, conn) = get();
        b.iter(|| {
            let (count, read) = sqlite_query(conn, type_condition, &[RARE_EVENT_TYPE]);
            assert_eq!(
                (count, read),
                (rare, LIMIT.min(usize::try_from(rare).expect("a count")))
            );
        })
    });
    group.finish();

    let service = "service-03";
    let by_service = JournalQueryFilter {
        service_name: Some(service.into()),
        ..Default::default()
    };
    // Records 3, 13, 23, ... below `records`.
    let expected = records / SERVICES + u64::from(records % SERVICES > 3);
    let mut group = c.benchmark_group(format!(
        "service name in 10% of {records} records ({expected} matches)"
    ));
    configure(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("count", |b| {
        let (journal, _) = get();
        b.iter(|| {
            assert_eq!(
                journal.count(black_box(&by_service)).expect("count"),
                expected
            )
        })
    });
    group.bench_function("SQLite COUNT(*) on the service_name index", |b| {
        let (_, conn) = get();
        b.iter(|| {
            assert_eq!(
                sqlite_count(conn, "service_name = ?1", &[service]),
                expected
            )
        })
    });
    group.finish();

    // A window in the middle: 2,000 matches, the first 1,000 returned.
    let window_start = FIRST_EVENT_NANOS + (records as i64 / 2) * MILLI;
    let window_end = window_start + WINDOW_MS * MILLI;
    let in_window = JournalQueryFilter {
        start_time: Some(Timestamp::from_unix_nanos(window_start)),
        end_time: Some(Timestamp::from_unix_nanos(window_end)),
        limit: LIMIT,
        ..Default::default()
    };
    let (from, to) = (
        sqlite_timestamp(Timestamp::from_unix_nanos(window_start)),
        sqlite_timestamp(Timestamp::from_unix_nanos(window_end)),
    );
    let expected = (WINDOW_MS as u64).min(records / 2);
    let mut group = c.benchmark_group(format!(
        "2 s time window of {records} records ({expected} matches)"
    ));
    configure(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("query, limit 1000, total_count", |b| {
        let (journal, _) = get();
        b.iter(|| {
            let result = journal.query(black_box(&in_window)).expect("query");
            assert_eq!(result.total_count, expected);
            result
        })
    });
    group.bench_function("SQLite COUNT(*) + SELECT LIMIT 1000", |b| {
        let (_, conn) = get();
        b.iter(|| {
            let (count, _) =
                sqlite_query(conn, "timestamp >= ?1 AND timestamp < ?2", &[&from, &to]);
            assert_eq!(count, expected);
        })
    });
    group.finish();

    if let Some((_dir, journal, _)) = built.get() {
        journal.close().expect("close");
    }
}

criterion_group!(benches, count_and_query);
criterion_main!(benches);
