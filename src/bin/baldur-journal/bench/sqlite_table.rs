//! The reference's SQL journal table on SQLite, the peer the benchmarks
//! measure against: its schema and indexes, columns, insert and timestamp
//! text, defined once for `bench query` (`sqlite.rs`) and the criterion
//! benches (`benches/common`). Only text and one function of the library's
//! types, so both can include this file.

use baldur_journal::Timestamp;

/// The reference SQL adapter's table on SQLite, with its three indexes.
pub const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS baldur_event_journal (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type VARCHAR(256) NOT NULL,
    source VARCHAR(256) NOT NULL,
    service_name VARCHAR(256) NOT NULL,
    region VARCHAR(128) NOT NULL DEFAULT '',
    tier_id VARCHAR(128) NOT NULL DEFAULT '',
    timestamp TEXT NOT NULL,
    context TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_baldur_event_journal_event_type ON baldur_event_journal (event_type);
CREATE INDEX IF NOT EXISTS idx_baldur_event_journal_service_name ON baldur_event_journal (service_name);
CREATE INDEX IF NOT EXISTS idx_baldur_event_journal_timestamp ON baldur_event_journal (timestamp);
";

/// An index on `region`, which the reference lacks: `bench query` filters
/// by region and gives its peer the index a user would add.
pub const SQLITE_REGION_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS idx_bench_region ON baldur_event_journal (region);";

/// The adapter's insert.
pub const SQLITE_INSERT: &str = "INSERT INTO baldur_event_journal \
    (event_type, source, service_name, region, tier_id, timestamp, context) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// The adapter's columns, in the order it selects them.
pub const SQLITE_COLUMNS: &str =
    "sequence, event_type, source, service_name, region, tier_id, timestamp, context";

/// The timestamp as the reference's SQLite driver stores it
/// (`2025-01-01 00:00:00+00:00`, microseconds when present).
#[must_use]
pub fn sqlite_timestamp(ts: Timestamp) -> String {
    let nanos = ts.as_unix_nanos();
    let text = Timestamp::from_unix_nanos(nanos - nanos.rem_euclid(1000)).to_string();
    // jiff prints `2025-01-01T00:00:00.5Z`: a space, and an explicit offset.
    format!("{}+00:00", text.trim_end_matches('Z').replacen('T', " ", 1))
}
