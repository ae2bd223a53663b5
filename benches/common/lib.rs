//! What the benches share: where their files go, the 200-byte records, the
//! criterion settings, the raw-disk peer's files, and the SQLite peer (the
//! reference's SQL adapter schema, docs/PERFORMANCE.md, in WAL mode).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use baldur_journal::codec::{self, FRAME_HEADER_LEN};
use baldur_journal::{Context, DiskJournal, Durability, EventJournal, JournalEntry, Timestamp};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, SamplingMode};
use rusqlite::{Connection, params};
use tempfile::TempDir;

/// The size of one encoded record frame, header included.
pub const RECORD_BYTES: usize = 200;

/// A directory for one bench's files, on the crate's own disk (not a tmpfs).
#[must_use]
pub fn bench_dir() -> TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-tmp");
    std::fs::create_dir_all(&root).expect("create target/bench-tmp");
    tempfile::tempdir_in(root).expect("create a bench directory")
}

/// The number in environment variable `name`, else `default`; a value that
/// is set but not a number stops the bench with a message saying so.
#[must_use]
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Err(_) => default,
        Ok(text) => text
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")),
    }
}

/// Ten samples, a one-second warm-up, three seconds of measurement, flat
/// sampling: short runs on a shared machine.
pub fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat);
}

/// The encoded frame length of `entry`.
#[must_use]
pub fn frame_len(entry: &JournalEntry) -> usize {
    let mut body = Vec::new();
    codec::encode_body(entry, &mut body).expect("encodable entry");
    FRAME_HEADER_LEN + body.len()
}

/// `base` with the context `context_of(pad)`, padded so the frame is
/// exactly [`RECORD_BYTES`].
pub fn padded_to_record_bytes(
    base: JournalEntry,
    context_of: impl Fn(usize) -> Context,
) -> JournalEntry {
    let unpadded = frame_len(&base.clone().with_context(context_of(0)));
    let entry = base.with_context(context_of(RECORD_BYTES - unpadded));
    assert_eq!(
        frame_len(&entry),
        RECORD_BYTES,
        "the record is not 200 bytes"
    );
    entry
}

/// A realistic entry whose encoded frame is exactly [`RECORD_BYTES`].
#[must_use]
pub fn record_of_200_bytes() -> JournalEntry {
    let base = JournalEntry::new(
        "circuit_breaker_opened",
        "breaker",
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000),
        "payments",
    )
    .with_region("eu-west-1")
    .with_tier_id("tier-1");
    padded_to_record_bytes(base, |pad| {
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-000042","attempt":3,"pad":"{}"}}"#,
            "x".repeat(pad)
        ))
        .expect("valid context")
    })
}

// ---------------------------------------------------------------------
// Numbered records, for the journals the read benches build.

/// Event time of record 0; record `i` happens `i` milliseconds later.
pub const FIRST_EVENT_NANOS: i64 = 1_700_000_000_000_000_000;
/// One millisecond in nanoseconds.
pub const MILLI: i64 = 1_000_000;
/// The event type of every 100th record (1% of them).
pub const RARE_EVENT_TYPE: &str = "emergency_level_changed";
/// The event types of the other records, in turn.
pub const COMMON_EVENT_TYPES: [&str; 4] = [
    "dlq_store",
    "circuit_breaker_opened",
    "dlq_resolve",
    "error_budget_critical",
];
/// Services the records name, in turn (`service-00` ..).
pub const SERVICES: u64 = 10;

/// Records `0..n` hold exactly this many of [`RARE_EVENT_TYPE`].
#[must_use]
pub fn rare_records_below(n: u64) -> u64 {
    n.div_ceil(100)
}

/// Record `i`: [`RARE_EVENT_TYPE`] when `i` is a multiple of 100, else one
/// of [`COMMON_EVENT_TYPES`] in turn; one of [`SERVICES`] services in
/// turn; event time `i` ms after [`FIRST_EVENT_NANOS`]; the context padded
/// so the frame is [`RECORD_BYTES`].
#[must_use]
pub fn numbered_record(i: u64) -> JournalEntry {
    let event_type = if i.is_multiple_of(100) {
        RARE_EVENT_TYPE
    } else {
        let at = i % COMMON_EVENT_TYPES.len() as u64;
        COMMON_EVENT_TYPES[usize::try_from(at).expect("below the length")]
    };
    let base = JournalEntry::new(
        event_type,
        "consumer",
        Timestamp::from_unix_nanos(FIRST_EVENT_NANOS + i as i64 * MILLI),
        format!("service-{:02}", i % SERVICES),
    )
    .with_region("eu-west-1")
    .with_tier_id("tier-1");
    padded_to_record_bytes(base, |pad| {
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-{i:07}","attempt":{},"pad":"{}"}}"#,
            i % 5,
            "x".repeat(pad)
        ))
        .expect("valid context")
    })
}

/// Entries per `append_batch` (and per SQLite transaction) while building.
pub const BUILD_BATCH: u64 = 1024;

/// Builds a journal of records `numbered_record(0..n)` under
/// `Durability::Os` in batches, syncs it, and returns it open (writer).
pub fn build_journal(dir: &Path, n: u64, segment_bytes: u64) -> DiskJournal {
    let journal = DiskJournal::builder(dir)
        .durability(Durability::Os)
        .segment_bytes(segment_bytes)
        .open()
        .expect("open the journal");
    let mut i = 0;
    while i < n {
        let batch: Vec<JournalEntry> = (i..(i + BUILD_BATCH).min(n)).map(numbered_record).collect();
        journal.append_batch(&batch).expect("append_batch");
        i += batch.len() as u64;
    }
    journal.sync().expect("sync");
    assert_eq!(journal.get_latest_sequence().expect("latest"), n);
    journal
}

/// The number of `.log` segment files in `dir`.
#[must_use]
pub fn segment_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read the journal directory")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension() == Some("log".as_ref()))
        })
        .count()
}

// ---------------------------------------------------------------------
// The raw-disk peer.

/// A 200-byte record as raw bytes (the journal's frame of the same entry).
#[must_use]
pub fn raw_record() -> Vec<u8> {
    let mut body = Vec::new();
    codec::encode_body(&record_of_200_bytes(), &mut body).expect("encodable entry");
    let mut frame = Vec::new();
    codec::push_frame(&mut frame, &body);
    assert_eq!(frame.len(), RECORD_BYTES);
    frame
}

/// Creates a new file for the raw peer (fails if it exists).
#[must_use]
pub fn create_file(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .expect("create the peer file")
}

/// Fills `file` with zeros to `len` bytes and makes it durable, so later
/// overwrites change no block allocation and no file size.
pub fn prewrite_zeros(file: &File, len: u64) {
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = usize::try_from(len - at).map_or(zeros.len(), |n| n.min(zeros.len()));
        file.write_all_at(&zeros[..n], at).expect("pre-write");
        at += n as u64;
    }
    file.sync_all().expect("sync the pre-written file");
}

// ---------------------------------------------------------------------
// The SQLite peer.

// The table, its insert and timestamp text: one definition, shared with
// `bench query` (src/bin/baldur-journal/bench/sqlite_table.rs).
#[path = "../../src/bin/baldur-journal/bench/sqlite_table.rs"]
mod sqlite_table;
pub use sqlite_table::{
    SQLITE_COLUMNS, SQLITE_INSERT, SQLITE_REGION_INDEX, SQLITE_SCHEMA, sqlite_timestamp,
};

/// `synchronous` settings the SQLite peers use.
#[derive(Clone, Copy, Debug)]
pub enum SqliteSync {
    /// `synchronous=FULL`: every commit syncs the WAL.
    Full,
    /// `synchronous=NORMAL`: WAL commits are not synced (checkpoints are).
    Normal,
}

/// Opens (creating) a SQLite database in WAL mode with the reference's
/// schema and indexes.
#[must_use]
pub fn sqlite_open(path: &Path, sync: SqliteSync) -> Connection {
    let conn = Connection::open(path).expect("open SQLite");
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        .expect("WAL mode");
    assert_eq!(mode, "wal");
    let sync = match sync {
        SqliteSync::Full => "FULL",
        SqliteSync::Normal => "NORMAL",
    };
    conn.execute_batch(&format!("PRAGMA synchronous={sync};"))
        .expect("synchronous");
    conn.execute_batch(SQLITE_SCHEMA).expect("schema");
    conn
}

/// Inserts `entries` in one transaction.
pub fn sqlite_insert(conn: &mut Connection, entries: &[JournalEntry]) {
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx.prepare_cached(SQLITE_INSERT).expect("prepare");
        for e in entries {
            insert
                .execute(params![
                    e.event_type,
                    e.source,
                    e.service_name,
                    e.region,
                    e.tier_id,
                    sqlite_timestamp(e.timestamp),
                    e.context.as_str(),
                ])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}

/// Builds a SQLite database (WAL, `synchronous=NORMAL`) of the same
/// records as [`build_journal`], in transactions of [`BUILD_BATCH`] rows,
/// and checkpoints it.
pub fn build_sqlite(path: &Path, n: u64) -> Connection {
    let mut conn = sqlite_open(path, SqliteSync::Normal);
    let mut i = 0;
    while i < n {
        let batch: Vec<JournalEntry> = (i..(i + BUILD_BATCH).min(n)).map(numbered_record).collect();
        sqlite_insert(&mut conn, &batch);
        i += batch.len() as u64;
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")
        .expect("checkpoint");
    conn
}
