//! One connection to the DLQ tables, on SQLite or PostgreSQL, behind the
//! same few calls: a read transaction (one snapshot), a write transaction
//! (serialized with every other writer of the tables), and inside them
//! `query` and `execute` over SQL written once with `?` placeholders.
//! The statistics ([`super::SqlStatistics`]) and the projector
//! ([`super::projector`]) run on it; what still differs between the two
//! databases (column types, how a time is compared) is asked of
//! [`Dialect`].
//!
//! Values cross it as [`Param`] and come back as [`Cell`]. On PostgreSQL
//! a parameter adapts to the column type the server infers for it (an
//! integer to INT2, INT4 or INT8, a text to JSONB, a time to TIMESTAMPTZ
//! or to text), so one statement serves both databases.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, TransactionBehavior};

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::sql::{Dialect, connect, timestamp_text};

/// The transaction-level advisory lock every write transaction of the DLQ
/// tables takes on PostgreSQL (the key spells `"baldurdq"`), as SQLite's
/// `BEGIN IMMEDIATE` takes the database's write lock: writers of the
/// statistics and the projector run one at a time.
#[cfg(feature = "postgres")]
pub const LOCK_KEY: i64 = 0x6261_6c64_7572_6471;

/// A statement parameter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    /// SQL NULL.
    Null,
    /// An integer (INT2, INT4 or INT8 on PostgreSQL, as the column is).
    Int(i64),
    /// A text (also a JSON or JSONB column's value on PostgreSQL).
    Text(String),
    /// A time as stored: SQLite, the reference's text form; PostgreSQL,
    /// a TIMESTAMPTZ truncated to the microsecond (as Python's `datetime`
    /// truncates).
    Time(Timestamp),
    /// A time a stored TIMESTAMPTZ is compared with: rounded up to the
    /// microsecond, so that `column >= t` and `column < t` hold exactly
    /// when they hold for the stored instant in nanoseconds.
    Bound(Timestamp),
}

impl Param {
    /// A time, or NULL.
    pub(crate) fn time(t: Option<Timestamp>) -> Param {
        t.map_or(Param::Null, Param::Time)
    }

    /// A text, or NULL.
    pub(crate) fn text(t: Option<&str>) -> Param {
        t.map_or(Param::Null, |t| Param::Text(t.to_string()))
    }

    fn sqlite(&self) -> SqlValue {
        match self {
            Param::Null => SqlValue::Null,
            Param::Int(i) => SqlValue::Integer(*i),
            Param::Text(t) => SqlValue::Text(t.clone()),
            Param::Time(t) | Param::Bound(t) => SqlValue::Text(timestamp_text(*t)),
        }
    }
}

/// A value read from a row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    /// SQL NULL.
    Null,
    /// An integer column.
    Int(i64),
    /// A floating-point column.
    Real(f64),
    /// A text column (also JSON and JSONB on PostgreSQL).
    Text(String),
    /// A TIMESTAMPTZ (or TIMESTAMP, taken as UTC) column on PostgreSQL,
    /// in microseconds since the Unix epoch.
    #[cfg_attr(
        not(feature = "postgres"),
        expect(dead_code, reason = "read from PostgreSQL only")
    )]
    Micros(i64),
}

impl Cell {
    /// The integer, `None` for NULL; an error naming the value otherwise.
    pub(crate) fn int(&self) -> std::result::Result<Option<i64>, String> {
        match self {
            Cell::Null => Ok(None),
            Cell::Int(i) => Ok(Some(*i)),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }

    /// The text, `None` for NULL; an error naming the value otherwise.
    pub(crate) fn text(&self) -> std::result::Result<Option<String>, String> {
        match self {
            Cell::Null => Ok(None),
            Cell::Text(t) => Ok(Some(t.clone())),
            other => Err(format!("expected a text, found {other:?}")),
        }
    }

    /// The number as a float (an integer converted), `None` for NULL.
    pub(crate) fn real(&self) -> std::result::Result<Option<f64>, String> {
        match self {
            Cell::Null => Ok(None),
            Cell::Real(r) => Ok(Some(*r)),
            #[expect(
                clippy::cast_precision_loss,
                reason = "an average's value, as Python's float() of it"
            )]
            Cell::Int(i) => Ok(Some(*i as f64)),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }

    /// The instant a time column holds: SQLite's text in any form the
    /// reference writes, PostgreSQL's TIMESTAMPTZ; `None` for NULL.
    pub(crate) fn time(&self) -> std::result::Result<Option<Timestamp>, String> {
        match self {
            Cell::Null => Ok(None),
            Cell::Text(t) => super::parse_timestamp_text(t)
                .map(Some)
                .map_err(|e| e.to_string()),
            Cell::Micros(us) => us
                .checked_mul(1000)
                .map(|ns| Some(Timestamp::from_unix_nanos(ns)))
                .ok_or_else(|| format!("{us} µs is beyond the storable times")),
            other => Err(format!("expected a time, found {other:?}")),
        }
    }
}

/// The database behind a [`Db`].
enum Backend {
    Sqlite(Mutex<Connection>),
    #[cfg(feature = "postgres")]
    Postgres(Mutex<postgres::Client>),
}

/// A connection to the DLQ tables (module docs).
pub(crate) struct Db {
    backend: Backend,
    database: String,
    read_only: bool,
}

/// An open transaction of a [`Db`].
pub(crate) enum Tx<'a> {
    /// SQLite.
    Sqlite(rusqlite::Transaction<'a>, &'a str),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(postgres::Transaction<'a>, &'a str),
}

impl Db {
    /// The SQLite database at `path`.
    pub(crate) fn open_sqlite(path: &Path, read_only: bool, busy_timeout: Duration) -> Result<Db> {
        Ok(Db {
            backend: Backend::Sqlite(Mutex::new(connect(path, read_only, busy_timeout)?)),
            database: path.display().to_string(),
            read_only,
        })
    }

    /// The PostgreSQL server a `postgres://` or `postgresql://` URL
    /// names (the driver's parameters; messages name `host:port/db`,
    /// never the credentials).
    #[cfg(feature = "postgres")]
    pub(crate) fn open_postgres(url: &str, read_only: bool) -> Result<Db> {
        let (base, _) = super::pg::split_url(url)?;
        let database = super::pg::label(&base);
        let config: postgres::Config = base.parse().map_err(|e: postgres::Error| {
            Error::InvalidOption(format!("{}: {e}", super::redacted(url)))
        })?;
        let client = config
            .connect(postgres::NoTls)
            .map_err(|e| super::pg::pg_error(&database, "connecting", &e))?;
        Ok(Db {
            backend: Backend::Postgres(Mutex::new(client)),
            database,
            read_only,
        })
    }

    /// Without the `postgres` feature: an error saying so.
    #[cfg(not(feature = "postgres"))]
    pub(crate) fn open_postgres(url: &str, _read_only: bool) -> Result<Db> {
        Err(Error::Unsupported(format!(
            "{}: this build has no `postgres` feature",
            super::redacted(url)
        )))
    }

    /// The database, as messages name it.
    pub(crate) fn database(&self) -> &str {
        &self.database
    }

    /// Whether writes are refused.
    pub(crate) fn read_only(&self) -> bool {
        self.read_only
    }

    /// The database kind.
    pub(crate) fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `read` in one read transaction: one snapshot of the tables
    /// (SQLite's deferred transaction; PostgreSQL's REPEATABLE READ, read
    /// only).
    pub(crate) fn read<T>(&self, read: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.transaction(false, read)
    }

    /// Runs `write` in one write transaction, after the lock every writer
    /// takes (SQLite's `BEGIN IMMEDIATE`; PostgreSQL's advisory
    /// [`LOCK_KEY`]). [`Error::ReadOnly`] on a read-only handle.
    pub(crate) fn write<T>(&self, write: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        self.transaction(true, write)
    }

    fn transaction<T>(&self, write: bool, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let database = self.database.as_str();
        let error = |operation: &str, reason: String| Error::Sql {
            database: database.to_string(),
            operation: operation.to_string(),
            reason,
        };
        match &self.backend {
            Backend::Sqlite(conn) => {
                let mut conn = lock(conn);
                let behavior = if write {
                    TransactionBehavior::Immediate
                } else {
                    TransactionBehavior::Deferred
                };
                let tx = conn
                    .transaction_with_behavior(behavior)
                    .map_err(|e| error("begin", e.to_string()))?;
                let mut tx = Tx::Sqlite(tx, database);
                let out = f(&mut tx)?;
                #[allow(
                    irrefutable_let_patterns,
                    reason = "refutable with the postgres feature"
                )]
                let Tx::Sqlite(tx, _) = tx else {
                    unreachable!("a SQLite transaction stays one")
                };
                tx.commit().map_err(|e| error("commit", e.to_string()))?;
                Ok(out)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(client) => {
                let mut client = lock(client);
                let pg = |operation: &str, e: postgres::Error| {
                    super::pg::pg_error(database, operation, &e)
                };
                let tx = if write {
                    let mut tx = client.transaction().map_err(|e| pg("begin", e))?;
                    tx.query_one("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
                        .map_err(|e| pg("locking", e))?;
                    tx
                } else {
                    client
                        .build_transaction()
                        .isolation_level(postgres::IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()
                        .map_err(|e| pg("begin", e))?
                };
                let mut tx = Tx::Postgres(tx, database);
                let out = f(&mut tx)?;
                let Tx::Postgres(tx, _) = tx else {
                    unreachable!("a PostgreSQL transaction stays one")
                };
                tx.commit().map_err(|e| pg("commit", e))?;
                Ok(out)
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside a transaction rolled it back when the transaction
    // dropped: the connection is usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Tx<'_> {
    /// The database kind.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(..) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Tx::Postgres(..) => Dialect::Postgres,
        }
    }

    /// The rows of `sql` (`?` placeholders) with `params`; `operation`
    /// names the step in an error.
    pub(crate) fn query(
        &mut self,
        operation: &str,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<Vec<Cell>>> {
        match self {
            Tx::Sqlite(tx, database) => {
                let error = |e: rusqlite::Error| sqlite_error(database, operation, e);
                let mut statement = tx.prepare(sql).map_err(error)?;
                let width = statement.column_count();
                let values: Vec<SqlValue> = params.iter().map(Param::sqlite).collect();
                let mut rows = statement
                    .query(rusqlite::params_from_iter(values.iter()))
                    .map_err(error)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(error)? {
                    let mut cells = Vec::with_capacity(width);
                    for i in 0..width {
                        cells.push(match row.get::<_, SqlValue>(i).map_err(error)? {
                            SqlValue::Null => Cell::Null,
                            SqlValue::Integer(n) => Cell::Int(n),
                            SqlValue::Real(r) => Cell::Real(r),
                            SqlValue::Text(t) => Cell::Text(t),
                            SqlValue::Blob(b) => Cell::Text(String::from_utf8_lossy(&b).into()),
                        });
                    }
                    out.push(cells);
                }
                Ok(out)
            }
            #[cfg(feature = "postgres")]
            Tx::Postgres(tx, database) => {
                let sql = numbered(sql);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p as _).collect();
                let rows = tx
                    .query(&sql, &refs)
                    .map_err(|e| super::pg::pg_error(database, operation, &e))?;
                rows.iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| {
                                row.try_get::<_, Cell>(i)
                                    .map_err(|e| super::pg::pg_error(database, operation, &e))
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }

    /// The first column of the first row of `sql`, or `None` without
    /// rows.
    pub(crate) fn query_value(
        &mut self,
        operation: &str,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<Cell>> {
        Ok(self
            .query(operation, sql, params)?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next()))
    }

    /// A `COUNT(*)`-like integer of `sql` (0 without rows or for NULL).
    pub(crate) fn count(&mut self, operation: &str, sql: &str, params: &[Param]) -> Result<u64> {
        let database = self.database().to_string();
        match self.query_value(operation, sql, params)? {
            None | Some(Cell::Null) => Ok(0),
            Some(Cell::Int(n)) => Ok(super::unsigned(n)),
            Some(other) => Err(Error::Sql {
                database,
                operation: operation.to_string(),
                reason: format!("expected a count, found {other:?}"),
            }),
        }
    }

    /// Runs `sql` (`?` placeholders) with `params`: the rows it changed.
    pub(crate) fn execute(&mut self, operation: &str, sql: &str, params: &[Param]) -> Result<u64> {
        match self {
            Tx::Sqlite(tx, database) => {
                let values: Vec<SqlValue> = params.iter().map(Param::sqlite).collect();
                tx.execute(sql, rusqlite::params_from_iter(values.iter()))
                    .map(|n| n as u64)
                    .map_err(|e| sqlite_error(database, operation, e))
            }
            #[cfg(feature = "postgres")]
            Tx::Postgres(tx, database) => {
                let sql = numbered(sql);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|p| p as _).collect();
                tx.execute(&sql, &refs)
                    .map_err(|e| super::pg::pg_error(database, operation, &e))
            }
        }
    }

    /// Runs statements without parameters, separated by `;`.
    pub(crate) fn batch(&mut self, operation: &str, sql: &str) -> Result<()> {
        match self {
            Tx::Sqlite(tx, database) => tx
                .execute_batch(sql)
                .map_err(|e| sqlite_error(database, operation, e)),
            #[cfg(feature = "postgres")]
            Tx::Postgres(tx, database) => tx
                .batch_execute(sql)
                .map_err(|e| super::pg::pg_error(database, operation, &e)),
        }
    }

    /// Whether the table `name` exists (in the search path on
    /// PostgreSQL).
    pub(crate) fn table_exists(&mut self, name: &str) -> Result<bool> {
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
            }
            Dialect::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ? \
                 AND table_schema = ANY (current_schemas(false))"
            }
        };
        Ok(self.count("reading the schema", sql, &[Param::Text(name.to_string())])? > 0)
    }

    /// The database, as messages name it.
    pub(crate) fn database(&self) -> &str {
        match self {
            Tx::Sqlite(_, database) => database,
            #[cfg(feature = "postgres")]
            Tx::Postgres(_, database) => database,
        }
    }
}

/// A SQLite error as [`Error::Sql`]; an unreadable stored time (raised by
/// the `baldur_instant_ns` function) as [`Error::SqlData`].
fn sqlite_error(database: &str, operation: &str, e: rusqlite::Error) -> Error {
    if let rusqlite::Error::UserFunctionError(inner) = &e
        && let Some(Error::InvalidTimestamp { input, reason }) = inner.downcast_ref::<Error>()
    {
        return Error::SqlData {
            database: database.to_string(),
            table: "a DLQ table".into(),
            row: "a row".into(),
            reason: format!("timestamp {input:?}: {reason}"),
        };
    }
    Error::Sql {
        database: database.to_string(),
        operation: operation.to_string(),
        reason: e.to_string(),
    }
}

/// `sql` with its `?` placeholders numbered `$1`, `$2`, … as PostgreSQL
/// wants them (outside quoted literals and identifiers).
#[cfg(any(feature = "postgres", test))]
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(feature = "postgres")]
mod postgres_values {
    use bytes::BytesMut;
    use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

    use super::{Cell, Param};
    use crate::sql::timestamp_text;

    type BoxError = Box<dyn std::error::Error + Sync + Send>;

    /// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
    const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

    impl ToSql for Param {
        fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
            match self {
                Param::Null => Ok(IsNull::Yes),
                Param::Int(i) => match *ty {
                    Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                    Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                    Type::INT8 => i.to_sql(ty, out),
                    Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                        i.to_string().as_str().to_sql(ty, out)
                    }
                    _ => Err(format!("an integer cannot be written as {ty}").into()),
                },
                Param::Text(t) => match *ty {
                    Type::JSONB => {
                        out.extend_from_slice(&[1]);
                        out.extend_from_slice(t.as_bytes());
                        Ok(IsNull::No)
                    }
                    Type::JSON => {
                        out.extend_from_slice(t.as_bytes());
                        Ok(IsNull::No)
                    }
                    _ => t.as_str().to_sql(&Type::TEXT, out),
                },
                Param::Time(t) | Param::Bound(t) => match *ty {
                    Type::TIMESTAMPTZ | Type::TIMESTAMP => {
                        let nanos = t.as_unix_nanos();
                        let micros = match self {
                            Param::Bound(_) => {
                                nanos.div_euclid(1000) + i64::from(nanos.rem_euclid(1000) != 0)
                            }
                            _ => nanos.div_euclid(1000),
                        };
                        (micros - PG_EPOCH_MICROS).to_sql(&Type::INT8, out)
                    }
                    _ => timestamp_text(*t).as_str().to_sql(&Type::TEXT, out),
                },
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    impl<'a> FromSql<'a> for Cell {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, BoxError> {
            Ok(match *ty {
                Type::INT2 => Cell::Int(i64::from(i16::from_sql(ty, raw)?)),
                Type::INT4 => Cell::Int(i64::from(i32::from_sql(ty, raw)?)),
                Type::INT8 => Cell::Int(i64::from_sql(ty, raw)?),
                Type::FLOAT4 => Cell::Real(f64::from(f32::from_sql(ty, raw)?)),
                Type::FLOAT8 => Cell::Real(f64::from_sql(ty, raw)?),
                Type::BOOL => Cell::Int(i64::from(bool::from_sql(ty, raw)?)),
                Type::TIMESTAMPTZ | Type::TIMESTAMP => {
                    let micros = i64::from_sql(&Type::INT8, raw)?;
                    Cell::Micros(
                        micros
                            .checked_add(PG_EPOCH_MICROS)
                            .ok_or("an infinite timestamp")?,
                    )
                }
                Type::JSONB => match raw.split_first() {
                    Some((1, text)) => Cell::Text(std::str::from_utf8(text)?.to_string()),
                    _ => return Err("a JSONB value of an unknown version".into()),
                },
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON => {
                    Cell::Text(std::str::from_utf8(raw)?.to_string())
                }
                _ => {
                    return Err(
                        format!("a column of type {ty}, which the DLQ tables do not have").into(),
                    );
                }
            })
        }

        fn from_sql_null(_: &Type) -> Result<Cell, BoxError> {
            Ok(Cell::Null)
        }

        fn accepts(_: &Type) -> bool {
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c IN ('?', ?) AND \"d?\" = ?"),
            "SELECT a FROM t WHERE b = $1 AND c IN ('?', $2) AND \"d?\" = $3"
        );
    }
}
