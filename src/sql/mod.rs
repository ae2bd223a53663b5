//! `SqlJournal`: the journal in the reference's SQL table
//! `baldur_event_journal`, so that Rust and Python services running
//! baldur-framework share one journal in one database, on SQLite (the
//! bundled library) or PostgreSQL (feature `postgres`); and
//! `SqlStatistics` and the projector over the reference's DLQ tables on
//! both. Tables, URLs, semantics and every difference from the reference:
//! docs/SQL.md.
//!
//! ```
//! use baldur_journal::{EventJournal, JournalEntry, Timestamp};
//! use baldur_journal::sql::SqlJournal;
//!
//! # fn main() -> baldur_journal::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite:///{}/journal.db", dir.path().display());
//! let journal = SqlJournal::open_url(&url)?;
//! let seq = journal.append(&JournalEntry::new("dlq_store", "api", Timestamp::now(), "payments"))?;
//! assert_eq!(journal.get_latest_sequence()?, seq);
//! # Ok(())
//! # }
//! ```

mod db;
mod dialect;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
pub use db::LOCK_KEY as POSTGRES_STATS_LOCK_KEY;
#[cfg(feature = "postgres")]
pub use pg::LOCK_KEY as POSTGRES_LOCK_KEY;
pub mod projector;
mod statistics;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use dialect::{Dialect, MAX_SEQUENCE, TABLE, parse_timestamp_text, timestamp_text};
pub use projector::{ProjectOptions, ProjectReport, project};
pub use statistics::{
    CB_TABLE, DJANGO_COLUMNS, DLQ_TABLE, DjangoTable, Flavor, PURGED_TABLE, SqlStatistics,
    SqlStatisticsOptions,
};

use crate::entry::{Context, JournalEntry, JournalQueryFilter, JournalQueryResult, Timestamp};
use crate::error::{Error, Result};
use crate::filter::{self, DEFAULT_MAX_QUERY_LIMIT, ResultBuilder};
use crate::journal::{EntryIter, EventJournal};

/// Rows per read of a streamed range.
const READ_CHUNK: usize = 1000;

/// The columns every read selects, in [`SqlJournal::entry_from_row`]'s order.
const COLUMNS: &str =
    "sequence, event_type, source, service_name, region, tier_id, timestamp, context";

/// Options of a [`SqlJournal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlJournalOptions {
    /// Cap on a query's limit (default 10,000).
    pub max_query_limit: usize,
    /// How long a statement waits for another writer's lock before it
    /// fails (default 5 s).
    pub busy_timeout: Duration,
    /// Open without writing anything: the table must exist, and appends
    /// fail with [`Error::ReadOnly`].
    pub read_only: bool,
}

impl Default for SqlJournalOptions {
    fn default() -> Self {
        SqlJournalOptions {
            max_query_limit: DEFAULT_MAX_QUERY_LIMIT,
            busy_timeout: Duration::from_secs(5),
            read_only: false,
        }
    }
}

/// Where a SQL journal lives, parsed from its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlUrl {
    /// The database.
    pub dialect: Dialect,
    /// SQLite: the database file, relative to the working directory or
    /// absolute.
    pub path: PathBuf,
    /// The options the URL's parameters set.
    pub options: SqlJournalOptions,
}

impl SqlUrl {
    /// Parses SQLAlchemy's SQLite form: `sqlite:///relative.db` (three
    /// slashes, a path relative to the working directory) or
    /// `sqlite:////absolute.db` (four), with optional parameters
    /// `max_query_limit=N` and `busy_timeout_ms=N`. The path is taken
    /// literally up to `?`.
    pub fn parse(url: &str) -> Result<SqlUrl> {
        let bad = |why: &str| Error::InvalidOption(format!("{url:?}: {why}"));
        let rest = url
            .strip_prefix("sqlite://")
            .ok_or_else(|| bad("not a SQLite URL (sqlite:///relative.db or sqlite:////abs.db)"))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = location.strip_prefix('/').ok_or_else(|| {
            bad("a SQLite URL names no host: sqlite:///relative.db or sqlite:////absolute.db")
        })?;
        if path.is_empty() {
            return Err(bad(
                "names no database file (sqlite:///relative.db or sqlite:////absolute.db)",
            ));
        }
        let mut options = SqlJournalOptions::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad(&format!("{name}={value:?}: expected a number above 0")))
            };
            match name {
                "max_query_limit" => {
                    options.max_query_limit = usize::try_from(number()?).unwrap_or(usize::MAX)
                }
                "busy_timeout_ms" => options.busy_timeout = Duration::from_millis(number()?),
                other => {
                    return Err(bad(&format!(
                        "unknown parameter {other:?} (known: max_query_limit, busy_timeout_ms)"
                    )));
                }
            }
        }
        Ok(SqlUrl {
            dialect: Dialect::Sqlite,
            path: PathBuf::from(path),
            options,
        })
    }
}

/// An [`EventJournal`] in the reference's `baldur_event_journal` table
/// (module docs, docs/SQL.md).
///
/// Safe to share between threads (one connection behind a lock); any
/// number of processes may open the same database and append: every write
/// takes the database's write lock for its transaction, so a reader never
/// sees sequence N+1 while N is still to commit.
pub struct SqlJournal {
    backend: Backend,
    dialect: Dialect,
    database: String,
    options: SqlJournalOptions,
    /// Whether the table has our `appended_at` column (a table the
    /// reference created and only a read-only handle opened lacks it).
    appended_at: bool,
}

/// The connection of a [`SqlJournal`]: the SQLite code below, or the
/// PostgreSQL module.
enum Backend {
    Sqlite(Mutex<Connection>),
    #[cfg(feature = "postgres")]
    Postgres(Box<pg::PgJournal>),
}

/// `url` with any password replaced by `***`, for messages.
#[must_use]
pub fn redacted_url(url: &str) -> String {
    redacted(url)
}

/// `url` with any password replaced by `***`.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

impl std::fmt::Debug for SqlJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlJournal")
            .field("dialect", &self.dialect)
            .field("database", &self.database)
            .finish()
    }
}

impl SqlJournal {
    /// Opens the journal a `sqlite://` URL names ([`SqlUrl::parse`]),
    /// creating the database file and the table when missing.
    pub fn open_url(url: &str) -> Result<SqlJournal> {
        SqlJournal::open_url_with(url, false)
    }

    /// [`SqlJournal::open_url`], read-only when asked: `sqlite://` (the
    /// table must then exist) or, with the `postgres` feature,
    /// `postgres://` and `postgresql://` (docs/SQL.md).
    pub fn open_url_with(url: &str, read_only: bool) -> Result<SqlJournal> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return SqlJournal::open_postgres(url, read_only);
        }
        let parsed = SqlUrl::parse(url)?;
        let mut options = parsed.options;
        options.read_only |= read_only;
        SqlJournal::open_sqlite(&parsed.path, options)
    }

    /// Connects to the PostgreSQL server a `postgres://` or
    /// `postgresql://` URL names (the driver's parameters, and
    /// `max_query_limit`), creating the table and our columns when
    /// missing unless `read_only`.
    #[cfg(feature = "postgres")]
    pub fn open_postgres(url: &str, read_only: bool) -> Result<SqlJournal> {
        let pg = pg::PgJournal::open(url, read_only)?;
        Ok(SqlJournal {
            database: pg.database().to_string(),
            backend: Backend::Postgres(Box::new(pg)),
            dialect: Dialect::Postgres,
            options: SqlJournalOptions {
                read_only,
                ..Default::default()
            },
            appended_at: true,
        })
    }

    /// Without the `postgres` feature: an error saying so.
    #[cfg(not(feature = "postgres"))]
    pub fn open_postgres(url: &str, _read_only: bool) -> Result<SqlJournal> {
        Err(Error::Unsupported(format!(
            "{}: this build has no `postgres` feature",
            redacted(url)
        )))
    }

    /// Opens the SQLite database at `path` with `options`. Unless
    /// read-only, creates the file, the reference's table and indexes when
    /// missing, and adds our `appended_at` column when the table lacks it.
    pub fn open_sqlite(path: &Path, options: SqlJournalOptions) -> Result<SqlJournal> {
        let database = path.display().to_string();
        let sql_error = |operation: &str, e: rusqlite::Error| Error::Sql {
            database: database.clone(),
            operation: operation.to_string(),
            reason: e.to_string(),
        };
        let mut conn = connect(path, options.read_only, options.busy_timeout)?;
        let dialect = Dialect::Sqlite;
        let appended_at = if options.read_only {
            let columns = table_columns(&conn).map_err(|e| sql_error("reading the table", e))?;
            if columns.is_empty() {
                return Err(Error::Sql {
                    database,
                    operation: "opening read-only".into(),
                    reason: format!("the database has no {TABLE} table"),
                });
            }
            columns.iter().any(|c| c == "appended_at")
        } else {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql_error("creating the table", e))?;
            for statement in dialect.create_statements() {
                tx.execute_batch(&statement)
                    .map_err(|e| sql_error("creating the table", e))?;
            }
            let columns = table_columns(&tx).map_err(|e| sql_error("reading the table", e))?;
            if !columns.iter().any(|c| c == "appended_at") {
                tx.execute_batch(&dialect.add_appended_at())
                    .map_err(|e| sql_error("adding the appended_at column", e))?;
            }
            tx.commit()
                .map_err(|e| sql_error("creating the table", e))?;
            true
        };
        Ok(SqlJournal {
            backend: Backend::Sqlite(Mutex::new(conn)),
            dialect,
            database,
            options,
            appended_at,
        })
    }

    /// The database, as messages name it (a file path; never credentials).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The database kind.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The options in force.
    pub fn options(&self) -> &SqlJournalOptions {
        &self.options
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        match &self.backend {
            // A panic inside a transaction rolled it back when the
            // transaction dropped: the connection is usable.
            Backend::Sqlite(conn) => conn.lock().unwrap_or_else(|e| e.into_inner()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => {
                unreachable!("every method hands PostgreSQL to its module first")
            }
        }
    }

    /// The PostgreSQL journal, when this is one.
    fn postgres(&self) -> Option<&dyn EventJournal> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pg) => Some(pg.as_ref()),
        }
    }

    fn error(&self, operation: &str, e: rusqlite::Error) -> Error {
        if let rusqlite::Error::UserFunctionError(inner) = &e
            && let Some(Error::InvalidTimestamp { input, reason }) = inner.downcast_ref::<Error>()
        {
            return Error::SqlData {
                database: self.database.clone(),
                table: TABLE.into(),
                row: "a row".into(),
                reason: format!("timestamp {input:?}: {reason}"),
            };
        }
        Error::Sql {
            database: self.database.clone(),
            operation: operation.to_string(),
            reason: e.to_string(),
        }
    }

    fn select_columns(&self) -> String {
        if self.appended_at {
            format!("{COLUMNS}, appended_at")
        } else {
            format!("{COLUMNS}, NULL")
        }
    }

    /// One row of [`COLUMNS`] (and `appended_at`) as an entry; a value the
    /// reference does not write is an error naming the row.
    fn entry_from_row(&self, row: &rusqlite::Row<'_>) -> Result<JournalEntry> {
        let sequence: i64 = row
            .get(0)
            .map_err(|e| self.bad_row("?", &format!("sequence: {e}")))?;
        let text = |i: usize, name: &str| -> Result<String> {
            row.get::<_, Option<String>>(i)
                .map(Option::unwrap_or_default)
                .map_err(|e| self.bad_row(&sequence.to_string(), &format!("{name}: {e}")))
        };
        let timestamp_text = text(6, "timestamp")?;
        let timestamp = parse_timestamp_text(&timestamp_text)
            .map_err(|e| self.bad_row(&sequence.to_string(), &format!("timestamp: {e}")))?;
        let context_text = text(7, "context")?;
        let context = match context_text.trim() {
            "" | "null" => Context::empty(),
            json => Context::from_json(json)
                .map_err(|e| self.bad_row(&sequence.to_string(), &format!("context: {e}")))?,
        };
        let appended_at =
            match row
                .get::<_, Option<String>>(8)
                .map_err(|e| self.bad_row(&sequence.to_string(), &format!("appended_at: {e}")))?
            {
                None => None,
                Some(t) => Some(parse_timestamp_text(&t).map_err(|e| {
                    self.bad_row(&sequence.to_string(), &format!("appended_at: {e}"))
                })?),
            };
        let sequence = u64::try_from(sequence)
            .map_err(|_| self.bad_row(&sequence.to_string(), "a negative sequence"))?;
        Ok(JournalEntry {
            sequence,
            event_type: text(1, "event_type")?,
            source: text(2, "source")?,
            service_name: text(3, "service_name")?,
            region: text(4, "region")?,
            tier_id: text(5, "tier_id")?,
            timestamp,
            context,
            appended_at,
        })
    }

    fn bad_row(&self, sequence: &str, reason: &str) -> Error {
        Error::SqlData {
            database: self.database.clone(),
            table: TABLE.into(),
            row: format!("sequence {sequence}"),
            reason: reason.to_string(),
        }
    }

    /// The `WHERE` clause of a filter's database-side conditions, with its
    /// parameters: event types, service, region and the time window (the
    /// context filters are applied to the rows). Timestamps compare as
    /// instants whatever offset a row was written with.
    fn where_clause(&self, filter: &JournalQueryFilter) -> (String, Vec<Value>) {
        let mut params: Vec<Value> = Vec::new();
        let param = |params: &mut Vec<Value>, value: Value| {
            params.push(value);
            format!("?{}", params.len())
        };
        let mut clauses =
            dialect::value_conditions(filter, |text| param(&mut params, Value::Text(text)));
        let (low, high) = dialect::text_window(filter.start_time, filter.end_time);
        if let Some(low) = low {
            let mark = param(&mut params, Value::Text(low));
            clauses.push(format!("timestamp >= {mark}"));
        }
        if let Some(high) = high {
            let mark = param(&mut params, Value::Text(high));
            clauses.push(format!("timestamp < {mark}"));
        }
        if let Some(start) = filter.start_time {
            let mark = param(&mut params, Value::Integer(start.as_unix_nanos()));
            clauses.push(format!("baldur_instant_ns(timestamp) >= {mark}"));
        }
        if let Some(end) = filter.end_time {
            let mark = param(&mut params, Value::Integer(end.as_unix_nanos()));
            clauses.push(format!("baldur_instant_ns(timestamp) < {mark}"));
        }
        (dialect::where_sql(&clauses), params)
    }

    /// Visits every row passing the database-side conditions, in
    /// sequence order, within one read transaction.
    fn scan(
        &self,
        conn: &Connection,
        filter: &JournalQueryFilter,
        visit: &mut dyn FnMut(JournalEntry),
    ) -> Result<()> {
        let (where_sql, params) = self.where_clause(filter);
        let sql = format!(
            "SELECT {} FROM {TABLE}{where_sql} ORDER BY sequence",
            self.select_columns()
        );
        let mut statement = conn.prepare(&sql).map_err(|e| self.error("query", e))?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| self.error("query", e))?;
        while let Some(row) = rows.next().map_err(|e| self.error("query", e))? {
            visit(self.entry_from_row(row)?);
        }
        Ok(())
    }

    fn count_rows(&self, conn: &Connection, filter: &JournalQueryFilter) -> Result<u64> {
        let (where_sql, params) = self.where_clause(filter);
        let count: i64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM {TABLE}{where_sql}"),
                rusqlite::params_from_iter(params.iter()),
                |row| row.get(0),
            )
            .map_err(|e| self.error("count", e))?;
        Ok(unsigned(count))
    }

    fn latest(&self, conn: &Connection) -> Result<u64> {
        let latest: i64 = conn
            .query_row(
                &format!("SELECT COALESCE(MAX(sequence), 0) FROM {TABLE}"),
                [],
                |row| row.get(0),
            )
            .map_err(|e| self.error("reading the latest sequence", e))?;
        Ok(unsigned(latest))
    }

    /// Inserts one entry, at `sequence` or (None) at the table's next key,
    /// and returns its sequence.
    fn insert(
        &self,
        conn: &Connection,
        sequence: Option<u64>,
        entry: &JournalEntry,
        appended_at: Timestamp,
    ) -> Result<u64> {
        let sequence = match sequence {
            Some(s) => Value::Integer(i64::try_from(s).map_err(|_| {
                Error::InvalidEntry(format!(
                    "sequence {s}: a SQL key holds at most {MAX_SEQUENCE}"
                ))
            })?),
            None => Value::Null,
        };
        entry.context.check()?;
        let mut statement = conn
            .prepare_cached(&format!(
                "INSERT INTO {TABLE} (sequence, event_type, source, service_name, region, \
                 tier_id, timestamp, context, appended_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))
            .map_err(|e| self.error("append", e))?;
        statement
            .execute(rusqlite::params![
                sequence,
                entry.event_type,
                entry.source,
                entry.service_name,
                entry.region,
                entry.tier_id,
                timestamp_text(entry.timestamp),
                entry.context.as_str(),
                timestamp_text(appended_at),
            ])
            .map_err(|e| self.error("append", e))?;
        let assigned = conn.last_insert_rowid();
        if assigned <= 0 {
            return Err(Error::SequenceOverflow {
                latest: MAX_SEQUENCE,
            });
        }
        Ok(unsigned(assigned))
    }

    /// Runs `write` in one transaction holding the database's write lock.
    fn write<T>(&self, write: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.options.read_only {
            return Err(Error::ReadOnly);
        }
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error("begin", e))?;
        let out = write(&tx)?;
        tx.commit().map_err(|e| self.error("commit", e))?;
        Ok(out)
    }

    /// Runs `read` in one read transaction (one snapshot).
    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| self.error("begin", e))?;
        let out = read(&tx)?;
        tx.commit().map_err(|e| self.error("commit", e))?;
        Ok(out)
    }

    /// Up to [`READ_CHUNK`] entries with `start <= sequence < end` (no
    /// upper bound when `end` is `None`).
    fn chunk(&self, start: u64, end: Option<u64>) -> Result<Vec<JournalEntry>> {
        let Ok(start) = i64::try_from(start) else {
            return Ok(Vec::new());
        };
        let end = end.map(|e| i64::try_from(e).unwrap_or(i64::MAX));
        self.read(|conn| {
            let (bound, params) = match end {
                Some(end) => (" AND sequence < ?2", vec![start, end]),
                None => ("", vec![start]),
            };
            let sql = format!(
                "SELECT {} FROM {TABLE} WHERE sequence >= ?1{bound} ORDER BY sequence LIMIT {READ_CHUNK}",
                self.select_columns()
            );
            let mut statement = conn
                .prepare_cached(&sql)
                .map_err(|e| self.error("range", e))?;
            let mut rows = statement
                .query(rusqlite::params_from_iter(params.iter()))
                .map_err(|e| self.error("range", e))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(|e| self.error("range", e))? {
                out.push(self.entry_from_row(row)?);
            }
            Ok(out)
        })
    }

    fn range(&self, start: u64, end: Option<u64>) -> EntryIter<'_> {
        let mut next = Some(start);
        let mut buffer: VecDeque<JournalEntry> = VecDeque::new();
        Box::new(std::iter::from_fn(move || {
            if buffer.is_empty() {
                let from = next?;
                if end.is_some_and(|e| from >= e) {
                    return None;
                }
                match self.chunk(from, end) {
                    Ok(rows) => {
                        next = match rows.last() {
                            Some(last) if rows.len() == READ_CHUNK => last.sequence.checked_add(1),
                            _ => None,
                        };
                        buffer.extend(rows);
                    }
                    Err(e) => {
                        next = None;
                        return Some(Err(e));
                    }
                }
            }
            buffer.pop_front().map(Ok)
        }))
    }
}

/// Opens a SQLite connection the way every SQL handle of this crate does:
/// read-only or created when missing, with the busy timeout, and with the
/// `baldur_instant_ns(text)` function registered (a stored timestamp's
/// instant in nanoseconds, NULL for NULL; an error for text that is not a
/// timestamp), which time conditions use to compare instants.
pub(crate) fn connect(path: &Path, read_only: bool, busy_timeout: Duration) -> Result<Connection> {
    let sql_error = |operation: &str, e: rusqlite::Error| Error::Sql {
        database: path.display().to_string(),
        operation: operation.to_string(),
        reason: e.to_string(),
    };
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error("opening", e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| sql_error("setting the busy timeout", e))?;
    conn.create_scalar_function(
        "baldur_instant_ns",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let raw = ctx.get_raw(0);
            if raw == rusqlite::types::ValueRef::Null {
                return Ok(None);
            }
            let text = raw.as_str().map_err(|e| {
                rusqlite::Error::UserFunctionError(
                    format!("a timestamp that is not text: {e}").into(),
                )
            })?;
            parse_timestamp_text(text)
                .map(|t| Some(t.as_unix_nanos()))
                .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
        },
    )
    .map_err(|e| sql_error("registering baldur_instant_ns", e))?;
    Ok(conn)
}

/// The column names of the journal table, empty when it does not exist.
fn table_columns(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(&format!("PRAGMA table_info({TABLE})"))?;
    let names = statement.query_map([], |row| row.get::<_, String>(1))?;
    names.collect()
}

impl EventJournal for SqlJournal {
    fn append(&self, entry: &JournalEntry) -> Result<u64> {
        if let Some(pg) = self.postgres() {
            return pg.append(entry);
        }
        self.write(|conn| self.insert(conn, None, entry, Timestamp::now()))
    }

    fn append_batch(&self, entries: &[JournalEntry]) -> Result<Vec<u64>> {
        if let Some(pg) = self.postgres() {
            return pg.append_batch(entries);
        }
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let now = Timestamp::now();
        self.write(|conn| {
            entries
                .iter()
                .map(|e| self.insert(conn, None, e, now))
                .collect()
        })
    }

    fn append_batch_if_latest(
        &self,
        expected_latest: u64,
        entries: &[JournalEntry],
    ) -> Result<Option<Vec<u64>>> {
        if let Some(pg) = self.postgres() {
            return pg.append_batch_if_latest(expected_latest, entries);
        }
        let now = Timestamp::now();
        self.write(|conn| {
            if self.latest(conn)? != expected_latest {
                return Ok(None);
            }
            entries
                .iter()
                .map(|e| self.insert(conn, None, e, now))
                .collect::<Result<Vec<u64>>>()
                .map(Some)
        })
    }

    fn append_at(&self, sequence: u64, entry: &JournalEntry) -> Result<()> {
        if let Some(pg) = self.postgres() {
            return pg.append_at(sequence, entry);
        }
        self.write(|conn| {
            let latest = self.latest(conn)?;
            if sequence <= latest {
                return Err(Error::NonMonotonic { sequence, latest });
            }
            self.insert(
                conn,
                Some(sequence),
                entry,
                entry.appended_at.unwrap_or_else(Timestamp::now),
            )?;
            Ok(())
        })
    }

    /// Exact counts: with context filters, every row passing the
    /// database-side conditions is read and tested (no candidate window).
    fn query(&self, filter: &JournalQueryFilter) -> Result<JournalQueryResult> {
        if let Some(pg) = self.postgres() {
            return pg.query(filter);
        }
        let limit = filter::effective_limit(filter, self.options.max_query_limit)?;
        let mut result = ResultBuilder::new(limit);
        if filter::matches_nothing(filter) {
            return Ok(result.finish());
        }
        let by_context = filter
            .context_filters
            .as_ref()
            .is_some_and(|c| !c.is_empty());
        self.read(|conn| {
            if by_context {
                self.scan(conn, filter, &mut |entry| {
                    if filter::matches(filter, &entry) {
                        result.push_with(|| entry);
                    }
                })?;
                return Ok(result.finish());
            }
            let total = self.count_rows(conn, filter)?;
            let (where_sql, params) = self.where_clause(filter);
            let sql = format!(
                "SELECT {} FROM {TABLE}{where_sql} ORDER BY sequence LIMIT {limit}",
                self.select_columns()
            );
            let mut statement = conn.prepare(&sql).map_err(|e| self.error("query", e))?;
            let mut rows = statement
                .query(rusqlite::params_from_iter(params.iter()))
                .map_err(|e| self.error("query", e))?;
            while let Some(row) = rows.next().map_err(|e| self.error("query", e))? {
                let entry = self.entry_from_row(row)?;
                result.push_with(|| entry);
            }
            Ok(result.finish_with_total(total))
        })
    }

    fn get_latest_sequence(&self) -> Result<u64> {
        if let Some(pg) = self.postgres() {
            return pg.get_latest_sequence();
        }
        let conn = self.lock();
        self.latest(&conn)
    }

    fn count(&self, filter: &JournalQueryFilter) -> Result<u64> {
        if let Some(pg) = self.postgres() {
            return pg.count(filter);
        }
        filter::effective_limit(filter, self.options.max_query_limit)?;
        if filter::matches_nothing(filter) {
            return Ok(0);
        }
        if filter
            .context_filters
            .as_ref()
            .is_some_and(|c| !c.is_empty())
        {
            let mut count = 0;
            self.read(|conn| {
                self.scan(conn, filter, &mut |entry| {
                    count += u64::from(filter::matches(filter, &entry));
                })
            })?;
            return Ok(count);
        }
        let conn = self.lock();
        self.count_rows(&conn, filter)
    }

    fn range_iter(&self, start: u64, end: u64) -> Result<EntryIter<'_>> {
        if let Some(pg) = self.postgres() {
            return pg.range_iter(start, end);
        }
        Ok(self.range(start, Some(end)))
    }

    /// Every entry from `start`: a SQL key never exceeds
    /// [`MAX_SEQUENCE`], so nothing lies beyond.
    fn range_iter_from(&self, start: u64) -> Result<EntryIter<'_>> {
        if let Some(pg) = self.postgres() {
            return pg.range_iter_from(start);
        }
        Ok(self.range(start, None))
    }

    /// A no-op: every append commits its transaction before it returns,
    /// as durable as the database makes a commit (docs/SQL.md).
    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

/// A count or sequence that SQL returns as a signed 64-bit integer: never
/// negative in the rows this crate writes or the counts a database gives;
/// a negative one (a table edited by hand) reads as zero.
pub(crate) fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_take_sqlalchemy_forms() {
        let url = SqlUrl::parse("sqlite:///rel/j.db").unwrap();
        assert_eq!(url.path, PathBuf::from("rel/j.db"));
        let url =
            SqlUrl::parse("sqlite:////abs/j.db?max_query_limit=50&busy_timeout_ms=20").unwrap();
        assert_eq!(url.path, PathBuf::from("/abs/j.db"));
        assert_eq!(url.options.max_query_limit, 50);
        assert_eq!(url.options.busy_timeout, Duration::from_millis(20));
        for bad in [
            "sqlite://",
            "sqlite:///",
            "sqlite://host/j.db",
            "sqlite:///j.db?nope=1",
            "sqlite:///j.db?max_query_limit=0",
            "postgres://h/db",
        ] {
            let err = SqlUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }
}
