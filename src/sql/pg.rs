//! The SQL journal on PostgreSQL (feature `postgres`): the reference's
//! `baldur_event_journal` table with its PostgreSQL types (BIGSERIAL,
//! TIMESTAMPTZ, JSONB), plus our nullable columns that keep what those
//! types cannot: `timestamp_ns` (nanoseconds), `context_text` (the exact
//! JSON text) and `appended_at_ns`. Every write takes a transaction-level
//! advisory lock, so sequences become visible in order across writers.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Row, Transaction};

use crate::entry::{Context, JournalEntry, JournalQueryFilter, JournalQueryResult, Timestamp};
use crate::error::{Error, Result};
use crate::filter::{self, DEFAULT_MAX_QUERY_LIMIT, ResultBuilder};
use crate::journal::{EntryIter, EventJournal};
use crate::sql::dialect::{MAX_SEQUENCE, TABLE};

/// The transaction-level advisory lock every write of the journal takes
/// (`pg_advisory_xact_lock`; the key spells `"baldurjr"`). Another writer
/// of the table that takes it too keeps sequences visible in order.
pub const LOCK_KEY: i64 = 0x6261_6c64_7572_6a72;
/// Rows per read of a streamed range.
const READ_CHUNK: i64 = 1000;

/// A stored row's instant in nanoseconds: ours exact, the reference's
/// from its TIMESTAMPTZ (microseconds).
const NANOS: &str =
    "COALESCE(timestamp_ns, (EXTRACT(EPOCH FROM timestamp) * 1000000)::bigint * 1000)";

fn columns() -> String {
    format!(
        "sequence, event_type, source, service_name, region, tier_id, {NANOS}, \
         COALESCE(context_text, context::text), appended_at_ns"
    )
}

/// A parameter of a statement.
enum Param {
    Int(i64),
    Text(String),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Int(i) => i,
            Param::Text(t) => t,
        }
    }
}

/// The PostgreSQL half of a `SqlJournal`.
pub(crate) struct PgJournal {
    client: Mutex<Client>,
    database: String,
    max_query_limit: usize,
}

/// `url` without our own parameters (which the driver does not know), and
/// the maximum query limit they set.
pub(crate) fn split_url(url: &str) -> Result<(String, usize)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut max_query_limit = DEFAULT_MAX_QUERY_LIMIT;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("max_query_limit", value)) => {
                max_query_limit = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::InvalidOption(format!(
                        "max_query_limit={value:?}: expected a number above 0"
                    ))
                })?;
            }
            _ => kept.push(pair),
        }
    }
    let base = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((base, max_query_limit))
}

/// `host:port/db` of a URL, for messages: never the credentials.
pub(crate) fn label(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    rest.rsplit_once('@').map_or(rest, |(_, r)| r).to_string()
}

impl PgJournal {
    /// Connects to `postgres://` or `postgresql://` `url` (the driver's
    /// parameters, and ours: `max_query_limit`), creating the table and our
    /// columns when missing.
    pub(crate) fn open(url: &str, read_only: bool) -> Result<PgJournal> {
        let (base, max_query_limit) = split_url(url)?;
        let database = label(&base);
        let fail = |operation: &str, e: postgres::Error| pg_error(&database, operation, &e);
        let config: postgres::Config = base.parse().map_err(|e: postgres::Error| {
            Error::InvalidOption(format!("{}: {e}", crate::sql::redacted(url)))
        })?;
        let mut client = config.connect(NoTls).map_err(|e| fail("connecting", e))?;
        if read_only {
            let found: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = $1",
                    &[&TABLE],
                )
                .map_err(|e| fail("reading the schema", e))?
                .get(0);
            if found == 0 {
                return Err(Error::Sql {
                    database,
                    operation: "opening read-only".into(),
                    reason: format!("the database has no {TABLE} table"),
                });
            }
        } else {
            let mut tx = client.transaction().map_err(|e| fail("begin", e))?;
            tx.query_one("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
                .map_err(|e| fail("locking", e))?;
            tx.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {TABLE} (
                    sequence BIGSERIAL PRIMARY KEY,
                    event_type VARCHAR(256) NOT NULL,
                    source VARCHAR(256) NOT NULL,
                    service_name VARCHAR(256) NOT NULL,
                    region VARCHAR(128) NOT NULL DEFAULT '',
                    tier_id VARCHAR(128) NOT NULL DEFAULT '',
                    timestamp TIMESTAMPTZ NOT NULL,
                    context JSONB NOT NULL
                );
                CREATE INDEX IF NOT EXISTS idx_{TABLE}_event_type ON {TABLE} (event_type);
                CREATE INDEX IF NOT EXISTS idx_{TABLE}_service_name ON {TABLE} (service_name);
                CREATE INDEX IF NOT EXISTS idx_{TABLE}_timestamp ON {TABLE} (timestamp);
                ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS timestamp_ns BIGINT;
                ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS context_text TEXT;
                ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS appended_at_ns BIGINT;"
            ))
            .map_err(|e| fail("creating the table", e))?;
            tx.commit().map_err(|e| fail("creating the table", e))?;
        }
        Ok(PgJournal {
            client: Mutex::new(client),
            database,
            max_query_limit,
        })
    }

    pub(crate) fn database(&self) -> &str {
        &self.database
    }

    fn lock(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, operation: &str, e: postgres::Error) -> Error {
        pg_error(&self.database, operation, &e)
    }

    fn entry_from_row(&self, row: &Row) -> Result<JournalEntry> {
        let sequence: i64 = row.get(0);
        let bad = |reason: String| Error::SqlData {
            database: self.database.clone(),
            table: TABLE.into(),
            row: format!("sequence {sequence}"),
            reason,
        };
        let text = |i: usize| -> Result<String> {
            row.try_get::<_, Option<String>>(i)
                .map(Option::unwrap_or_default)
                .map_err(|e| bad(e.to_string()))
        };
        let nanos: i64 = row.try_get(6).map_err(|e| bad(format!("timestamp: {e}")))?;
        let context_text = text(7)?;
        let context = match context_text.trim() {
            "" | "null" => Context::empty(),
            json => Context::from_json(json).map_err(|e| bad(format!("context: {e}")))?,
        };
        let appended_at: Option<i64> = row.try_get(8).map_err(|e| bad(e.to_string()))?;
        Ok(JournalEntry {
            sequence: u64::try_from(sequence).map_err(|_| bad("a negative sequence".into()))?,
            event_type: text(1)?,
            source: text(2)?,
            service_name: text(3)?,
            region: text(4)?,
            tier_id: text(5)?,
            timestamp: Timestamp::from_unix_nanos(nanos),
            context,
            appended_at: appended_at.map(Timestamp::from_unix_nanos),
        })
    }

    /// The database-side conditions of a filter, with `$n` parameters.
    fn where_clause(&self, filter: &JournalQueryFilter) -> (String, Vec<Param>) {
        let mut params: Vec<Param> = Vec::new();
        let mark = |params: &mut Vec<Param>, p: Param| {
            params.push(p);
            format!("${}", params.len())
        };
        let mut clauses =
            super::dialect::value_conditions(filter, |text| mark(&mut params, Param::Text(text)));
        if let Some(start) = filter.start_time {
            let nanos = start.as_unix_nanos();
            let micros = mark(&mut params, Param::Int(nanos.div_euclid(1000)));
            let exact = mark(&mut params, Param::Int(nanos));
            clauses.push(format!(
                "timestamp >= TIMESTAMPTZ 'epoch' + {micros}::bigint * INTERVAL '1 microsecond' \
                 AND {NANOS} >= {exact}"
            ));
        }
        if let Some(end) = filter.end_time {
            let nanos = end.as_unix_nanos();
            let ceil = nanos.div_euclid(1000) + i64::from(nanos.rem_euclid(1000) != 0);
            let micros = mark(&mut params, Param::Int(ceil));
            let exact = mark(&mut params, Param::Int(nanos));
            clauses.push(format!(
                "timestamp < TIMESTAMPTZ 'epoch' + {micros}::bigint * INTERVAL '1 microsecond' \
                 AND {NANOS} < {exact}"
            ));
        }
        (super::dialect::where_sql(&clauses), params)
    }

    fn latest(&self, tx: &mut Transaction<'_>) -> Result<u64> {
        let latest: i64 = tx
            .query_one(
                &format!("SELECT COALESCE(MAX(sequence), 0) FROM {TABLE}"),
                &[],
            )
            .map_err(|e| self.error("reading the latest sequence", e))?
            .get(0);
        Ok(super::unsigned(latest))
    }

    fn insert(
        &self,
        tx: &mut Transaction<'_>,
        sequence: Option<u64>,
        entry: &JournalEntry,
        appended_at: Timestamp,
    ) -> Result<u64> {
        entry.context.check()?;
        let nanos = entry.timestamp.as_unix_nanos();
        let micros = nanos.div_euclid(1000);
        let appended = appended_at.as_unix_nanos();
        let context = entry.context.as_str();
        let common: [&(dyn ToSql + Sync); 10] = [
            &entry.event_type,
            &entry.source,
            &entry.service_name,
            &entry.region,
            &entry.tier_id,
            &micros,
            &context,
            &appended,
            &nanos,
            &context,
        ];
        let values = "$1, $2, $3, $4, $5, TIMESTAMPTZ 'epoch' + $6::bigint * INTERVAL '1 microsecond', \
                      $7::text::jsonb, $8, $9, $10";
        let columns = "event_type, source, service_name, region, tier_id, timestamp, context, \
                       appended_at_ns, timestamp_ns, context_text";
        let row = match sequence {
            None => tx.query_one(
                &format!("INSERT INTO {TABLE} ({columns}) VALUES ({values}) RETURNING sequence"),
                &common,
            ),
            Some(s) => {
                let s = i64::try_from(s).map_err(|_| {
                    Error::InvalidEntry(format!(
                        "sequence {s}: a SQL key holds at most {MAX_SEQUENCE}"
                    ))
                })?;
                let mut params: Vec<&(dyn ToSql + Sync)> = common.to_vec();
                params.push(&s);
                tx.query_one(
                    &format!(
                        "INSERT INTO {TABLE} ({columns}, sequence) VALUES ({values}, $11) \
                         RETURNING sequence"
                    ),
                    &params,
                )
            }
        }
        .map_err(|e| self.error("append", e))?;
        let assigned: i64 = row.get(0);
        Ok(super::unsigned(assigned))
    }

    /// Runs `write` in a transaction holding the journal's advisory lock.
    fn write<T>(&self, write: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(|e| self.error("begin", e))?;
        #[cfg(not(feature = "break-sql-skip-lock"))]
        tx.query_one("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .map_err(|e| self.error("locking", e))?;
        let out = write(&mut tx)?;
        tx.commit().map_err(|e| self.error("commit", e))?;
        Ok(out)
    }

    /// Runs `read` in one read-only snapshot.
    fn read<T>(&self, read: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut client = self.lock();
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| self.error("begin", e))?;
        let out = read(&mut tx)?;
        tx.commit().map_err(|e| self.error("commit", e))?;
        Ok(out)
    }

    /// Visits the rows of `sql` (with `params`), streamed.
    fn visit(
        &self,
        tx: &mut Transaction<'_>,
        sql: &str,
        params: &[Param],
        visit: &mut dyn FnMut(JournalEntry),
    ) -> Result<()> {
        let mut rows = tx
            .query_raw(sql, params.iter().map(Param::as_sql))
            .map_err(|e| self.error("query", e))?;
        while let Some(row) = rows.next().map_err(|e| self.error("query", e))? {
            visit(self.entry_from_row(&row)?);
        }
        Ok(())
    }

    fn count_rows(&self, tx: &mut Transaction<'_>, filter: &JournalQueryFilter) -> Result<u64> {
        let (where_sql, params) = self.where_clause(filter);
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
        let n: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {TABLE}{where_sql}"), &refs)
            .map_err(|e| self.error("count", e))?
            .get(0);
        Ok(super::unsigned(n))
    }

    fn chunk(&self, start: u64, end: Option<u64>) -> Result<Vec<JournalEntry>> {
        let Ok(start) = i64::try_from(start) else {
            return Ok(Vec::new());
        };
        let end = end.map(|e| i64::try_from(e).unwrap_or(i64::MAX));
        self.read(|tx| {
            let mut params = vec![Param::Int(start)];
            let bound = match end {
                Some(end) => {
                    params.push(Param::Int(end));
                    " AND sequence < $2"
                }
                None => "",
            };
            let sql = format!(
                "SELECT {} FROM {TABLE} WHERE sequence >= $1{bound} ORDER BY sequence LIMIT {READ_CHUNK}",
                columns()
            );
            let mut out = Vec::new();
            self.visit(tx, &sql, &params, &mut |e| out.push(e))?;
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
                            Some(last) if rows.len() as i64 == READ_CHUNK => {
                                last.sequence.checked_add(1)
                            }
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

    /// Moves the key generator past `sequence` (after an explicit key).
    fn advance_key(&self, tx: &mut Transaction<'_>) -> Result<()> {
        tx.query_one(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{TABLE}', 'sequence'), \
                 (SELECT MAX(sequence) FROM {TABLE}))"
            ),
            &[],
        )
        .map_err(|e| self.error("advancing the key", e))?;
        Ok(())
    }
}

pub(crate) fn pg_error(database: &str, operation: &str, e: &postgres::Error) -> Error {
    let reason = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    Error::Sql {
        database: database.to_string(),
        operation: operation.to_string(),
        reason,
    }
}

impl EventJournal for PgJournal {
    fn append(&self, entry: &JournalEntry) -> Result<u64> {
        self.write(|tx| self.insert(tx, None, entry, Timestamp::now()))
    }

    fn append_batch(&self, entries: &[JournalEntry]) -> Result<Vec<u64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let now = Timestamp::now();
        self.write(|tx| {
            entries
                .iter()
                .map(|e| self.insert(tx, None, e, now))
                .collect()
        })
    }

    fn append_batch_if_latest(
        &self,
        expected_latest: u64,
        entries: &[JournalEntry],
    ) -> Result<Option<Vec<u64>>> {
        let now = Timestamp::now();
        self.write(|tx| {
            if self.latest(tx)? != expected_latest {
                return Ok(None);
            }
            entries
                .iter()
                .map(|e| self.insert(tx, None, e, now))
                .collect::<Result<Vec<u64>>>()
                .map(Some)
        })
    }

    fn append_at(&self, sequence: u64, entry: &JournalEntry) -> Result<()> {
        self.write(|tx| {
            let latest = self.latest(tx)?;
            if sequence <= latest {
                return Err(Error::NonMonotonic { sequence, latest });
            }
            self.insert(
                tx,
                Some(sequence),
                entry,
                entry.appended_at.unwrap_or_else(Timestamp::now),
            )?;
            self.advance_key(tx)
        })
    }

    fn query(&self, filter: &JournalQueryFilter) -> Result<JournalQueryResult> {
        let limit = filter::effective_limit(filter, self.max_query_limit)?;
        let mut result = ResultBuilder::new(limit);
        if filter::matches_nothing(filter) {
            return Ok(result.finish());
        }
        let by_context = filter
            .context_filters
            .as_ref()
            .is_some_and(|c| !c.is_empty());
        let (where_sql, params) = self.where_clause(filter);
        self.read(|tx| {
            if by_context {
                let sql = format!(
                    "SELECT {} FROM {TABLE}{where_sql} ORDER BY sequence",
                    columns()
                );
                self.visit(tx, &sql, &params, &mut |entry| {
                    if filter::matches(filter, &entry) {
                        result.push_with(|| entry);
                    }
                })?;
                return Ok(result.finish());
            }
            let total = self.count_rows(tx, filter)?;
            let sql = format!(
                "SELECT {} FROM {TABLE}{where_sql} ORDER BY sequence LIMIT {limit}",
                columns()
            );
            self.visit(tx, &sql, &params, &mut |entry| result.push_with(|| entry))?;
            Ok(result.finish_with_total(total))
        })
    }

    fn get_latest_sequence(&self) -> Result<u64> {
        self.read(|tx| self.latest(tx))
    }

    fn count(&self, filter: &JournalQueryFilter) -> Result<u64> {
        filter::effective_limit(filter, self.max_query_limit)?;
        if filter::matches_nothing(filter) {
            return Ok(0);
        }
        if filter
            .context_filters
            .as_ref()
            .is_some_and(|c| !c.is_empty())
        {
            let (where_sql, params) = self.where_clause(filter);
            let sql = format!(
                "SELECT {} FROM {TABLE}{where_sql} ORDER BY sequence",
                columns()
            );
            let mut count = 0;
            self.read(|tx| {
                self.visit(tx, &sql, &params, &mut |entry| {
                    count += u64::from(filter::matches(filter, &entry));
                })
            })?;
            return Ok(count);
        }
        self.read(|tx| self.count_rows(tx, filter))
    }

    fn range_iter(&self, start: u64, end: u64) -> Result<EntryIter<'_>> {
        Ok(self.range(start, Some(end)))
    }

    fn range_iter_from(&self, start: u64) -> Result<EntryIter<'_>> {
        Ok(self.range(start, None))
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_parameters_are_taken_out_and_credentials_never_shown() {
        let (base, limit) =
            split_url("postgres://u:pw@h:5433/db?max_query_limit=7&connect_timeout=3").unwrap();
        assert_eq!(base, "postgres://u:pw@h:5433/db?connect_timeout=3");
        assert_eq!(limit, 7);
        assert_eq!(label(&base), "h:5433/db");
        assert!(split_url("postgres://h/db?max_query_limit=0").is_err());
    }
}
