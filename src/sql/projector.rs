//! The projector: keeps the reference's `baldur_dlq` and `baldur_cb_state`
//! tables up to date from the journal's fold, so that a dashboard reading
//! those tables (ours, [`super::SqlStatistics`], or the reference's
//! `SQLStatisticsRepository`) sees the fold's answers.
//!
//! Progress is a high-water mark (the journal's name and the last folded
//! sequence) in our table [`MARK_TABLE`], written in the same transaction
//! as the rows of each batch: a run is incremental (it writes only the
//! entries and breakers the new records touched), idempotent (nothing new,
//! nothing written) and resumable (a run killed mid-batch loses that
//! batch's transaction whole, rows and mark together; the next run folds
//! up to the mark in memory and goes on from there). docs/SQL.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde_json::value::RawValue;

use crate::entry::{EntryRef, Timestamp};
use crate::error::{Error, Result};
use crate::journal::EventJournal;
use crate::projection::state::{BreakerState, EntryState, Projection, Record};
use crate::sql::statistics::{CB_TABLE, DLQ_TABLE, PURGED_TABLE};
use crate::sql::{SqlStatistics, SqlStatisticsOptions, connect, timestamp_text};

/// Our table of the projector's high-water mark: one row, the journal
/// projected and the last sequence folded into the tables.
pub const MARK_TABLE: &str = "baldur_journal_projection";
/// Our table mapping entry ids that are not positive integers to the
/// integer keys of `baldur_dlq` (negative keys, allocated from -1 down).
pub const IDS_TABLE: &str = "baldur_journal_dlq_ids";

/// Debug builds only: after this many batches have written their mark and
/// half of their rows, the projector prints a line on stderr and blocks
/// (for a test to kill it mid-batch).
pub const HOLD_ENV: &str = "BALDUR_JOURNAL_PROJECT_HOLD_AT_BATCH";

/// Options of [`project`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectOptions {
    /// The journal's name as the mark records it (its directory or URL): a
    /// database already holding another journal's projection is refused.
    pub journal: String,
    /// Records folded per transaction (at least 1; default 10,000).
    pub batch_records: u64,
    /// How long a statement waits for another writer's lock (default 5 s).
    pub busy_timeout: Duration,
}

impl ProjectOptions {
    /// Defaults for the journal named `journal`.
    pub fn new(journal: impl Into<String>) -> ProjectOptions {
        ProjectOptions {
            journal: journal.into(),
            batch_records: 10_000,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// What a [`project`] run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProjectReport {
    /// The mark the run started from (0: nothing projected before).
    pub from_sequence: u64,
    /// The mark it ended at: the journal's latest sequence when it began.
    pub to_sequence: u64,
    /// Records folded after the starting mark.
    pub records: u64,
    /// Transactions committed (one per batch).
    pub batches: u64,
    /// `baldur_dlq` rows inserted or replaced.
    pub entries_written: u64,
    /// `baldur_dlq` rows deleted (purged entries).
    pub entries_deleted: u64,
    /// `baldur_cb_state` rows inserted or replaced.
    pub breakers_written: u64,
}

/// The `baldur_cb_state` table the projector fills when missing (the
/// reference reads one and never creates it): the columns it reads.
fn create_statements() -> [String; 3] {
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {CB_TABLE} (
            service_name VARCHAR(256) PRIMARY KEY,
            state VARCHAR(32) NOT NULL,
            failure_count INTEGER NOT NULL DEFAULT 0,
            success_count INTEGER NOT NULL DEFAULT 0,
            last_failure_at TEXT,
            updated_at TEXT
        )"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {MARK_TABLE} (
            journal TEXT PRIMARY KEY,
            last_sequence INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        )"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {IDS_TABLE} (
            entry_id TEXT PRIMARY KEY,
            id INTEGER NOT NULL UNIQUE
        )"
        ),
    ]
}

/// The `baldur_dlq` key of an id that is a positive integer written the
/// way Python's `str()` writes it (the reference's own ids); `None` for
/// any other id, which goes through [`IDS_TABLE`].
#[must_use]
pub fn integer_key(id: &str) -> Option<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1 && n.to_string() == id)
}

struct Target {
    conn: Connection,
    database: String,
}

impl Target {
    fn error(&self, operation: &str, e: rusqlite::Error) -> Error {
        Error::Sql {
            database: self.database.clone(),
            operation: operation.to_string(),
            reason: e.to_string(),
        }
    }

    /// The mark of `journal`, refusing a database that holds another's.
    fn mark(&self, journal: &str) -> Result<u64> {
        let rows: Vec<(String, i64)> = {
            let mut statement = self
                .conn
                .prepare(&format!("SELECT journal, last_sequence FROM {MARK_TABLE}"))
                .map_err(|e| self.error("reading the mark", e))?;
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .and_then(|rows| rows.collect())
                .map_err(|e| self.error("reading the mark", e))?
        };
        match rows.as_slice() {
            [] => Ok(0),
            [(name, sequence)] if name == journal => Ok(super::unsigned(*sequence)),
            [(name, _), ..] => Err(Error::Sql {
                database: self.database.clone(),
                operation: "projecting".into(),
                reason: format!(
                    "its tables hold the projection of journal {name:?}, not of {journal:?} \
                     (project each journal into its own database)"
                ),
            }),
        }
    }

    /// The `baldur_dlq` key of `id`, allocating one in [`IDS_TABLE`] when
    /// it is not an integer.
    fn key(&self, id: &str) -> Result<i64> {
        if let Some(key) = integer_key(id) {
            return Ok(key);
        }
        let known: Option<i64> = self
            .conn
            .query_row(
                &format!("SELECT id FROM {IDS_TABLE} WHERE entry_id = ?1"),
                [id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.error("reading the id map", e))?;
        if let Some(key) = known {
            return Ok(key);
        }
        let key: i64 = self
            .conn
            .query_row(
                &format!("SELECT MIN(0, COALESCE(MIN(id), 0)) - 1 FROM {IDS_TABLE}"),
                [],
                |row| row.get(0),
            )
            .map_err(|e| self.error("allocating a key", e))?;
        self.conn
            .execute(
                &format!("INSERT INTO {IDS_TABLE} (entry_id, id) VALUES (?1, ?2)"),
                rusqlite::params![id, key],
            )
            .map_err(|e| self.error("writing the id map", e))?;
        Ok(key)
    }

    fn write_mark(&self, journal: &str, sequence: u64) -> Result<()> {
        let sequence = i64::try_from(sequence).map_err(|_| {
            Error::Unsupported(format!(
                "{}: sequence {sequence} is beyond SQLite's integers",
                self.database
            ))
        })?;
        self.conn
            .execute(
                &format!(
                    "INSERT INTO {MARK_TABLE} (journal, last_sequence, updated_at) \
                     VALUES (?1, ?2, ?3) ON CONFLICT(journal) DO UPDATE SET \
                     last_sequence = excluded.last_sequence, updated_at = excluded.updated_at"
                ),
                rusqlite::params![journal, sequence, timestamp_text(Timestamp::now())],
            )
            .map_err(|e| self.error("writing the mark", e))?;
        Ok(())
    }

    /// Writes one entry's row, or deletes it when purged.
    fn write_entry(&self, entry: &EntryState, report: &mut ProjectReport) -> Result<()> {
        let key = self.key(&entry.id)?;
        if entry.purged {
            let deleted = self
                .conn
                .execute(&format!("DELETE FROM {DLQ_TABLE} WHERE id = ?1"), [key])
                .map_err(|e| self.error("deleting a purged entry", e))?;
            self.conn
                .execute(
                    &format!("INSERT OR IGNORE INTO {PURGED_TABLE} (id) VALUES (?1)"),
                    [key],
                )
                .map_err(|e| self.error("deleting a purged entry", e))?;
            report.entries_deleted += deleted as u64;
            return Ok(());
        }
        let raw_or_empty = |raw: &Option<Box<str>>| -> String {
            raw.as_deref()
                .and_then(|text| RawValue::from_string(text.to_string()).ok())
                .map_or_else(|| "{}".to_string(), |raw| raw.get().to_string())
        };
        let data = format!(
            "{{\"error_message\":{},\"snapshot_data\":{},\"metadata\":{}}}",
            serde_json::Value::String(entry.error_message.to_string()),
            raw_or_empty(&entry.snapshot_data),
            raw_or_empty(&entry.metadata),
        );
        let time =
            |t: Option<Timestamp>| t.map_or(SqlValue::Null, |t| SqlValue::Text(timestamp_text(t)));
        let values = vec![
            SqlValue::Integer(key),
            SqlValue::Text(entry.domain.to_string()),
            SqlValue::Text(entry.failure_type.to_string()),
            SqlValue::Text(entry.status.as_str().to_string()),
            entry
                .entity_type
                .as_ref()
                .map_or(SqlValue::Null, |t| SqlValue::Text(t.to_string())),
            entry
                .entity_id
                .as_ref()
                .map_or(SqlValue::Null, |t| SqlValue::Text(t.to_string())),
            entry.user_id.map_or(SqlValue::Null, SqlValue::Integer),
            SqlValue::Integer(entry.retry_count),
            SqlValue::Integer(entry.max_retries),
            SqlValue::Text(entry.error_code.to_string()),
            time(entry.last_retry_at),
            time(entry.resolved_at),
            SqlValue::Text(timestamp_text(entry.created_at)),
            SqlValue::Text(timestamp_text(entry.updated_at)),
            time(entry.expires_at),
            SqlValue::Text(data),
        ];
        self.conn
            .execute(
                &format!(
                    "INSERT OR REPLACE INTO {DLQ_TABLE} (id, domain, failure_type, status, \
                     entity_type, entity_id, user_id, retry_count, max_retries, error_code, \
                     last_retry_at, resolved_at, created_at, updated_at, expires_at, data) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                rusqlite::params_from_iter(values.iter()),
            )
            .map_err(|e| self.error("writing an entry", e))?;
        report.entries_written += 1;
        Ok(())
    }

    fn write_breaker(&self, name: &str, breaker: &BreakerState) -> Result<()> {
        let time =
            |t: Option<Timestamp>| t.map_or(SqlValue::Null, |t| SqlValue::Text(timestamp_text(t)));
        self.conn
            .execute(
                &format!("DELETE FROM {CB_TABLE} WHERE service_name = ?1"),
                [name],
            )
            .map_err(|e| self.error("writing a breaker", e))?;
        self.conn
            .execute(
                &format!(
                    "INSERT INTO {CB_TABLE} (service_name, state, failure_count, success_count, \
                     last_failure_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                ),
                rusqlite::params_from_iter([
                    SqlValue::Text(name.to_string()),
                    SqlValue::Text(breaker.state.to_string()),
                    SqlValue::Integer(breaker.failure_count),
                    SqlValue::Integer(breaker.success_count),
                    time(breaker.last_failure_time),
                    time(breaker.last_state_change),
                ]),
            )
            .map_err(|e| self.error("writing a breaker", e))?;
        Ok(())
    }
}

/// The work of one batch: what its records touched.
#[derive(Default)]
struct Batch {
    records: u64,
    last_sequence: u64,
    entries: BTreeSet<usize>,
    breakers_before: BTreeMap<Box<str>, BreakerState>,
}

/// The projector's state during a run.
struct Run<'a> {
    target: &'a Target,
    options: &'a ProjectOptions,
    projection: Projection,
    mark: u64,
    batch: Batch,
    report: ProjectReport,
    hold_at: Option<u64>,
}

impl Run<'_> {
    fn fold(&mut self, record: &EntryRef<'_>) -> Result<()> {
        if self.batch.records == 0 {
            self.batch.breakers_before = self.projection.breakers.clone();
        }
        if let Some((index, _)) = self.projection.apply(&Record::of_ref(record)) {
            self.batch.entries.insert(index);
        }
        self.batch.records += 1;
        self.batch.last_sequence = record.sequence;
        if self.batch.records >= self.options.batch_records {
            self.commit()?;
        }
        Ok(())
    }

    /// Writes the batch's rows and its mark in one transaction.
    fn commit(&mut self) -> Result<()> {
        if self.batch.records == 0 {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let target = self.target;
        let conn = &target.conn;
        let changed: Vec<(&Box<str>, &BreakerState)> = self
            .projection
            .breakers
            .iter()
            .filter(|(name, now)| {
                batch
                    .breakers_before
                    .get(*name)
                    .is_none_or(|before| !same_breaker(before, now))
            })
            .collect();
        // The deliberately broken build commits the mark on its own first,
        // so a kill before the rows' commit loses them for good.
        #[cfg(feature = "break-projector-mark-outside-transaction")]
        {
            check_mark(target, &self.options.journal, self.mark)?;
            target.write_mark(&self.options.journal, batch.last_sequence)?;
        }
        let transaction =
            rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
                .map_err(|e| target.error("beginning a batch", e))?;
        #[cfg(not(feature = "break-projector-mark-outside-transaction"))]
        {
            check_mark(target, &self.options.journal, self.mark)?;
            target.write_mark(&self.options.journal, batch.last_sequence)?;
        }
        let half = batch.entries.len() / 2;
        for (n, &index) in batch.entries.iter().enumerate() {
            if n == half {
                self.maybe_hold();
            }
            target.write_entry(&self.projection.entries[index], &mut self.report)?;
        }
        if batch.entries.is_empty() {
            self.maybe_hold();
        }
        for (name, breaker) in &changed {
            target.write_breaker(name, breaker)?;
            self.report.breakers_written += 1;
        }
        transaction
            .commit()
            .map_err(|e| target.error("committing a batch", e))?;
        self.mark = batch.last_sequence;
        self.report.records += batch.records;
        self.report.batches += 1;
        Ok(())
    }

    /// The test hook of [`HOLD_ENV`] (debug builds only).
    fn maybe_hold(&self) {
        if self.hold_at == Some(self.report.batches + 1) {
            eprintln!("projector: holding in batch {}", self.report.batches + 1);
            loop {
                std::thread::park();
            }
        }
    }
}

/// The mark must still be where this run left it (another projector on
/// the same database moved it otherwise).
fn check_mark(target: &Target, journal: &str, expected: u64) -> Result<()> {
    let found = target.mark(journal)?;
    if found != expected {
        return Err(Error::Sql {
            database: target.database.clone(),
            operation: "projecting".into(),
            reason: format!(
                "the projection's mark moved from {expected} to {found} during this run \
                 (another projector is writing the same tables)"
            ),
        });
    }
    Ok(())
}

fn same_breaker(a: &BreakerState, b: &BreakerState) -> bool {
    a.state == b.state
        && a.failure_count == b.failure_count
        && a.success_count == b.success_count
        && a.last_failure_time == b.last_failure_time
        && a.last_state_change == b.last_state_change
}

/// Projects `journal` into the SQLite database at `url`
/// (`sqlite:///relative.db`, `sqlite:////absolute.db`): creates the tables
/// when missing, folds the journal up to the stored mark in memory, then
/// folds the rest in batches of `options.batch_records` records, each
/// batch's touched entries and breakers written with the new mark in one
/// transaction. PostgreSQL is refused, as by [`SqlStatistics`].
pub fn project(
    journal: &dyn EventJournal,
    url: &str,
    options: &ProjectOptions,
) -> Result<ProjectReport> {
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if postgres {
        return Err(Error::Unsupported(format!(
            "{}: the projector writes SQLite only in this release (docs/SQL.md)",
            super::redacted(url)
        )));
    }
    let parsed = super::SqlUrl::parse(url)?;
    if parsed.dialect != super::Dialect::Sqlite {
        return Err(Error::Unsupported(format!(
            "{}: the projector writes SQLite only in this release (docs/SQL.md)",
            super::redacted(url)
        )));
    }
    project_sqlite(journal, &parsed.path, options)
}

/// [`project`] into the SQLite file at `path`.
pub fn project_sqlite(
    journal: &dyn EventJournal,
    path: &Path,
    options: &ProjectOptions,
) -> Result<ProjectReport> {
    if options.batch_records == 0 {
        return Err(Error::InvalidOption(
            "the projector's batch size must be at least 1 record".into(),
        ));
    }
    // The reference's baldur_dlq and our purged-ids table.
    drop(SqlStatistics::open_sqlite(
        path,
        SqlStatisticsOptions {
            busy_timeout: options.busy_timeout,
            read_only: false,
            ..SqlStatisticsOptions::default()
        },
    )?);
    let target = Target {
        conn: connect(path, false, options.busy_timeout)?,
        database: path.display().to_string(),
    };
    for statement in create_statements() {
        target
            .conn
            .execute(&statement, [])
            .map_err(|e| target.error("creating the tables", e))?;
    }
    let mark = target.mark(&options.journal)?;
    let latest = journal.get_latest_sequence()?;
    if mark > latest {
        return Err(Error::Sql {
            database: target.database.clone(),
            operation: "projecting".into(),
            reason: format!(
                "the projection's mark is sequence {mark}, beyond the journal's latest {latest} \
                 (a different or truncated journal)"
            ),
        });
    }
    let hold_at = if cfg!(debug_assertions) {
        std::env::var(HOLD_ENV).ok().and_then(|v| v.parse().ok())
    } else {
        None
    };
    let mut run = Run {
        target: &target,
        options,
        projection: Projection::with_bodies(),
        mark,
        batch: Batch::default(),
        report: ProjectReport {
            from_sequence: mark,
            to_sequence: mark,
            ..ProjectReport::default()
        },
        hold_at,
    };
    if mark == latest {
        // Nothing new: nothing to fold or write.
        return Ok(run.report);
    }
    if mark > 0 {
        let projection = &mut run.projection;
        journal.for_each_ref(1, mark + 1, &mut |record| {
            projection.apply(&Record::of_ref(record));
            Ok(())
        })?;
    }
    if latest > mark {
        let end = latest.checked_add(1).ok_or_else(|| {
            Error::Unsupported("projecting a journal whose latest sequence is u64::MAX".into())
        })?;
        journal.for_each_ref(mark + 1, end, &mut |record| run.fold(record))?;
        run.commit()?;
    }
    run.report.to_sequence = run.mark;
    Ok(run.report)
}
