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

use serde_json::value::RawValue;

use crate::entry::{EntryRef, Timestamp};
use crate::error::{Error, Result};
use crate::journal::EventJournal;
use crate::projection::state::{BreakerState, EntryState, Projection, Record};
use crate::sql::Dialect;
use crate::sql::db::{Db, Param, Tx};
use crate::sql::statistics::{self, CB_TABLE, DLQ_TABLE, PURGED_TABLE};

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
/// reference reads one and never creates it): the columns it reads; and
/// our mark and id-map tables.
fn create_statements(dialect: Dialect) -> [String; 3] {
    let ts = match dialect {
        Dialect::Sqlite => "TEXT",
        Dialect::Postgres => "TIMESTAMPTZ",
    };
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {CB_TABLE} (
            service_name VARCHAR(256) PRIMARY KEY,
            state VARCHAR(32) NOT NULL,
            failure_count INTEGER NOT NULL DEFAULT 0,
            success_count INTEGER NOT NULL DEFAULT 0,
            last_failure_at {ts},
            updated_at {ts}
        )"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {MARK_TABLE} (
            journal TEXT PRIMARY KEY,
            last_sequence BIGINT NOT NULL,
            updated_at {ts} NOT NULL
        )"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {IDS_TABLE} (
            entry_id TEXT PRIMARY KEY,
            id BIGINT NOT NULL UNIQUE
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

/// The database written, as messages name it.
struct Target<'a> {
    database: &'a str,
}

impl Target<'_> {
    /// The mark of `journal`, refusing a database that holds another's.
    fn mark(&self, tx: &mut Tx<'_>, journal: &str) -> Result<u64> {
        let rows = tx.query(
            "reading the mark",
            &format!("SELECT journal, last_sequence FROM {MARK_TABLE}"),
            &[],
        )?;
        let bad = |reason: String| Error::Sql {
            database: self.database.to_string(),
            operation: "reading the mark".into(),
            reason,
        };
        let mut marks = Vec::new();
        for row in rows {
            let name = row[0].text().map_err(bad)?.unwrap_or_default();
            let sequence = row[1].int().map_err(bad)?.unwrap_or(0);
            marks.push((name, sequence));
        }
        match marks.as_slice() {
            [] => Ok(0),
            [(name, sequence)] if name == journal => Ok(super::unsigned(*sequence)),
            [(name, _), ..] => Err(Error::Sql {
                database: self.database.to_string(),
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
    fn key(&self, tx: &mut Tx<'_>, id: &str) -> Result<i64> {
        if let Some(key) = integer_key(id) {
            return Ok(key);
        }
        let bad = |reason: String| Error::Sql {
            database: self.database.to_string(),
            operation: "reading the id map".into(),
            reason,
        };
        let known = tx.query_value(
            "reading the id map",
            &format!("SELECT id FROM {IDS_TABLE} WHERE entry_id = ?"),
            &[Param::Text(id.to_string())],
        )?;
        if let Some(key) = known.map(|k| k.int()).transpose().map_err(bad)?.flatten() {
            return Ok(key);
        }
        let lowest = tx
            .query_value(
                "allocating a key",
                &format!("SELECT COALESCE(MIN(id), 0) FROM {IDS_TABLE}"),
                &[],
            )?
            .map(|k| k.int())
            .transpose()
            .map_err(bad)?
            .flatten()
            .unwrap_or(0);
        let key = lowest.min(0) - 1;
        tx.execute(
            "writing the id map",
            &format!("INSERT INTO {IDS_TABLE} (entry_id, id) VALUES (?, ?)"),
            &[Param::Text(id.to_string()), Param::Int(key)],
        )?;
        Ok(key)
    }

    fn write_mark(&self, tx: &mut Tx<'_>, journal: &str, sequence: u64) -> Result<()> {
        let sequence = i64::try_from(sequence).map_err(|_| {
            Error::Unsupported(format!(
                "{}: sequence {sequence} is beyond SQL's 64-bit integers",
                self.database
            ))
        })?;
        tx.execute(
            "writing the mark",
            &format!(
                "INSERT INTO {MARK_TABLE} (journal, last_sequence, updated_at) \
                 VALUES (?, ?, ?) ON CONFLICT(journal) DO UPDATE SET \
                 last_sequence = excluded.last_sequence, updated_at = excluded.updated_at"
            ),
            &[
                Param::Text(journal.to_string()),
                Param::Int(sequence),
                Param::Time(Timestamp::now()),
            ],
        )?;
        Ok(())
    }

    /// Writes one entry's row, or deletes it when purged.
    fn write_entry(
        &self,
        tx: &mut Tx<'_>,
        entry: &EntryState,
        report: &mut ProjectReport,
    ) -> Result<()> {
        let key = self.key(tx, &entry.id)?;
        if entry.purged {
            let deleted = tx.execute(
                "deleting a purged entry",
                &format!("DELETE FROM {DLQ_TABLE} WHERE id = ?"),
                &[Param::Int(key)],
            )?;
            tx.execute(
                "deleting a purged entry",
                &format!("INSERT INTO {PURGED_TABLE} (id) VALUES (?) ON CONFLICT DO NOTHING"),
                &[Param::Int(key)],
            )?;
            report.entries_deleted += deleted;
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
        let values = vec![
            Param::Int(key),
            Param::Text(entry.domain.to_string()),
            Param::Text(entry.failure_type.to_string()),
            Param::Text(entry.status.as_str().to_string()),
            Param::text(entry.entity_type.as_deref()),
            Param::text(entry.entity_id.as_deref()),
            entry.user_id.map_or(Param::Null, Param::Int),
            Param::Int(entry.retry_count),
            Param::Int(entry.max_retries),
            Param::Text(entry.error_code.to_string()),
            Param::time(entry.last_retry_at),
            Param::time(entry.resolved_at),
            Param::Time(entry.created_at),
            Param::Time(entry.updated_at),
            Param::time(entry.expires_at),
            Param::Text(data),
        ];
        let columns: Vec<&str> = crate::sql::statistics::COLUMN_KEYS
            .iter()
            .copied()
            .chain(["data"])
            .collect();
        let updates = columns[1..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        tx.execute(
            "writing an entry",
            &format!(
                "INSERT INTO {DLQ_TABLE} ({}) VALUES ({}) ON CONFLICT(id) DO UPDATE SET {updates}",
                columns.join(", "),
                vec!["?"; columns.len()].join(", ")
            ),
            &values,
        )?;
        report.entries_written += 1;
        Ok(())
    }

    fn write_breaker(&self, tx: &mut Tx<'_>, name: &str, breaker: &BreakerState) -> Result<()> {
        tx.execute(
            "writing a breaker",
            &format!("DELETE FROM {CB_TABLE} WHERE service_name = ?"),
            &[Param::Text(name.to_string())],
        )?;
        tx.execute(
            "writing a breaker",
            &format!(
                "INSERT INTO {CB_TABLE} (service_name, state, failure_count, success_count, \
                 last_failure_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
            ),
            &[
                Param::Text(name.to_string()),
                Param::Text(breaker.state.to_string()),
                Param::Int(breaker.failure_count),
                Param::Int(breaker.success_count),
                Param::time(breaker.last_failure_time),
                Param::time(breaker.last_state_change),
            ],
        )?;
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
    db: &'a Db,
    target: Target<'a>,
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
        let changed: Vec<(Box<str>, BreakerState)> = self
            .projection
            .breakers
            .iter()
            .filter(|(name, now)| {
                batch
                    .breakers_before
                    .get(*name)
                    .is_none_or(|before| !same_breaker(before, now))
            })
            .map(|(name, state)| (name.clone(), state.clone()))
            .collect();
        let journal = self.options.journal.as_str();
        // The deliberately broken build commits the mark on its own first,
        // so a kill before the rows' commit loses them for good.
        #[cfg(feature = "break-projector-mark-outside-transaction")]
        self.db.write(|tx| {
            check_mark(&self.target, tx, journal, self.mark)?;
            self.target.write_mark(tx, journal, batch.last_sequence)
        })?;
        let mut report = std::mem::take(&mut self.report);
        let outcome = self.db.write(|tx| {
            #[cfg(not(feature = "break-projector-mark-outside-transaction"))]
            {
                check_mark(&self.target, tx, journal, self.mark)?;
                self.target.write_mark(tx, journal, batch.last_sequence)?;
            }
            let half = batch.entries.len() / 2;
            for (n, &index) in batch.entries.iter().enumerate() {
                if n == half {
                    self.maybe_hold(&report);
                }
                self.target
                    .write_entry(tx, &self.projection.entries[index], &mut report)?;
            }
            if batch.entries.is_empty() {
                self.maybe_hold(&report);
            }
            for (name, breaker) in &changed {
                self.target.write_breaker(tx, name, breaker)?;
                report.breakers_written += 1;
            }
            Ok(())
        });
        self.report = report;
        outcome?;
        self.mark = batch.last_sequence;
        self.report.records += batch.records;
        self.report.batches += 1;
        Ok(())
    }

    /// The test hook of [`HOLD_ENV`] (debug builds only).
    fn maybe_hold(&self, report: &ProjectReport) {
        if self.hold_at == Some(report.batches + 1) {
            eprintln!("projector: holding in batch {}", report.batches + 1);
            loop {
                std::thread::park();
            }
        }
    }
}

/// The mark must still be where this run left it (another projector on
/// the same database moved it otherwise).
fn check_mark(target: &Target<'_>, tx: &mut Tx<'_>, journal: &str, expected: u64) -> Result<()> {
    let found = target.mark(tx, journal)?;
    if found != expected {
        return Err(Error::Sql {
            database: target.database.to_string(),
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

/// Projects `journal` into the database at `url`: SQLite
/// (`sqlite:///relative.db`, `sqlite:////absolute.db`) or, with the
/// `postgres` feature, PostgreSQL (`postgres://…`, `postgresql://…`).
/// Creates the tables when missing, folds the journal up to the stored
/// mark in memory, then folds the rest in batches of
/// `options.batch_records` records, each batch's touched entries and
/// breakers written with the new mark in one transaction. The Django
/// flavour's parameters are refused: the projector writes the reference's
/// own tables.
pub fn project(
    journal: &dyn EventJournal,
    url: &str,
    options: &ProjectOptions,
) -> Result<ProjectReport> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        if url.contains("flavor=") {
            return Err(Error::Unsupported(format!(
                "{}: the projector writes the reference's baldur_dlq and baldur_cb_state only \
                 (no flavor parameter)",
                super::redacted(url)
            )));
        }
        let db = Db::open_postgres(url, false)?;
        return project_into(journal, &db, options);
    }
    let parsed = super::SqlUrl::parse(url)?;
    let db = Db::open_sqlite(&parsed.path, false, options.busy_timeout)?;
    project_into(journal, &db, options)
}

/// [`project`] into the SQLite file at `path`.
pub fn project_sqlite(
    journal: &dyn EventJournal,
    path: &Path,
    options: &ProjectOptions,
) -> Result<ProjectReport> {
    let db = Db::open_sqlite(path, false, options.busy_timeout)?;
    project_into(journal, &db, options)
}

fn project_into(
    journal: &dyn EventJournal,
    db: &Db,
    options: &ProjectOptions,
) -> Result<ProjectReport> {
    if options.batch_records == 0 {
        return Err(Error::InvalidOption(
            "the projector's batch size must be at least 1 record".into(),
        ));
    }
    let target = Target {
        database: db.database(),
    };
    let dialect = db.dialect();
    let mark = db.write(|tx| {
        // The reference's baldur_dlq and our purged-ids table, then ours.
        for statement in statistics::create_statements(dialect)
            .into_iter()
            .chain(create_statements(dialect))
        {
            tx.batch("creating the tables", &statement)?;
        }
        target.mark(tx, &options.journal)
    })?;
    let latest = journal.get_latest_sequence()?;
    if mark > latest {
        return Err(Error::Sql {
            database: db.database().to_string(),
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
        db,
        target,
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
