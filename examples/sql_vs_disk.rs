//! The SQL journal's appends and queries next to the disk engine's, in one
//! run on one machine, every side acknowledging only committed (durable)
//! appends: `DiskJournal` with `Durability::Always`, `SqlJournal` on SQLite
//! (its defaults: rollback journal, `synchronous=FULL`) and, when
//! `BALDUR_POSTGRES_URL` names a server, on PostgreSQL (its defaults,
//! `fsync` and `synchronous_commit` on). Also the cost of PostgreSQL's
//! advisory lock alone: the same one-row transaction with and without
//! `pg_advisory_xact_lock`.
//!
//! ```sh
//! cargo run --release --example sql_vs_disk
//! BALDUR_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --release --example sql_vs_disk
//! ```

use std::time::{Duration, Instant};

use baldur_journal::{
    Context, DiskJournal, EventJournal, JournalEntry, JournalQueryFilter, SqlJournal, Timestamp,
};

const SINGLE: usize = 300;
const BATCHES: usize = 200;
const BATCH: usize = 100;
const QUERIES: u32 = 20;

fn entry(i: usize) -> JournalEntry {
    const TYPES: [&str; 4] = [
        "dlq_store",
        "dlq_resolve",
        "circuit_breaker_opened",
        "dlq_replay_start",
    ];
    JournalEntry::new(
        TYPES[i % 4],
        "bench",
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + i as i64 * 1_000_000_000),
        "payments",
    )
    .with_context(
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-{i:08}","failure_type":"timeout","attempt":{},"domain":"payments"}}"#,
            i % 5
        ))
        .unwrap(),
    )
    .with_region("eu-west-1")
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// (single appends/s, batched appends/s, count µs, query ms).
fn measure(j: &dyn EventJournal) -> (f64, f64, f64, f64) {
    let t = Instant::now();
    for i in 0..SINGLE {
        j.append(&entry(i)).unwrap();
    }
    let single = rate(SINGLE, t.elapsed());
    let t = Instant::now();
    for b in 0..BATCHES {
        let batch: Vec<_> = (0..BATCH).map(|i| entry(SINGLE + b * BATCH + i)).collect();
        j.append_batch(&batch).unwrap();
    }
    let batched = rate(BATCHES * BATCH, t.elapsed());
    let by_type = JournalQueryFilter {
        event_types: Some(vec!["dlq_resolve".into()]),
        ..Default::default()
    };
    let t = Instant::now();
    let mut counted = 0;
    for _ in 0..QUERIES {
        counted = j.count(&by_type).unwrap();
    }
    let count = t.elapsed().as_secs_f64() * 1e6 / f64::from(QUERIES);
    let window = JournalQueryFilter {
        event_types: Some(vec!["dlq_store".into()]),
        start_time: Some(Timestamp::from_unix_nanos(
            1_700_000_000_000_000_000 + 2_000_000_000_000,
        )),
        end_time: Some(Timestamp::from_unix_nanos(
            1_700_000_000_000_000_000 + 12_000_000_000_000,
        )),
        limit: 1000,
        ..Default::default()
    };
    let t = Instant::now();
    let mut found = 0;
    for _ in 0..QUERIES {
        found = j.query(&window).unwrap().total_count;
    }
    let query = t.elapsed().as_secs_f64() * 1e3 / f64::from(QUERIES);
    assert_eq!(
        (counted, found),
        ((SINGLE + BATCHES * BATCH) as u64 / 4, 2500)
    );
    (single, batched, count, query)
}

fn row(name: &str, m: (f64, f64, f64, f64), disk: (f64, f64, f64, f64)) {
    println!(
        "{name:<10} append {:>8.0}/s ({:.2}x disk)  batches of {BATCH} {:>9.0}/s ({:.2}x)  count {:>8.0} µs ({:.1}x disk's time)  query {:>6.2} ms ({:.1}x)",
        m.0,
        m.0 / disk.0,
        m.1,
        m.1 / disk.1,
        m.2,
        m.2 / disk.2,
        m.3,
        m.3 / disk.3
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let disk = measure(&DiskJournal::open(dir.path().join("disk")).unwrap());
    row("disk", disk, disk);
    let url = format!("sqlite:///{}/journal.db", dir.path().display());
    row(
        "sqlite",
        measure(&SqlJournal::open_url(&url).unwrap()),
        disk,
    );
    let Ok(url) = std::env::var("BALDUR_POSTGRES_URL") else {
        println!("(no BALDUR_POSTGRES_URL: no PostgreSQL rows)");
        return;
    };
    // A fresh table each run (the server is the caller's).
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute("DROP TABLE IF EXISTS baldur_event_journal")
        .unwrap();
    row(
        "postgres",
        measure(&SqlJournal::open_url(&url).unwrap()),
        disk,
    );
    // The advisory lock alone: one-row transactions with and without it.
    client
        .batch_execute("CREATE TEMP TABLE lock_cost (id BIGSERIAL PRIMARY KEY, v TEXT)")
        .unwrap();
    let mut time = |lock: bool| {
        let t = Instant::now();
        for _ in 0..SINGLE {
            let mut tx = client.transaction().unwrap();
            if lock {
                tx.query_one(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[&baldur_journal::sql::POSTGRES_LOCK_KEY],
                )
                .unwrap();
            }
            tx.execute("INSERT INTO lock_cost (v) VALUES ('x')", &[])
                .unwrap();
            tx.commit().unwrap();
        }
        t.elapsed().as_secs_f64() * 1e6 / SINGLE as f64
    };
    let (without, with) = (time(false), time(true));
    println!(
        "postgres one-row transaction: {without:.0} µs without the advisory lock, {with:.0} µs with it ({:+.0} µs, {:.2}x)",
        with - without,
        with / without
    );
}
