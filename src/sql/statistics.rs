//! `SqlStatistics`: the seed's statistics repository over a DLQ table in
//! SQLite or PostgreSQL, in one of two flavours:
//!
//! - **SQLAlchemy** (the default): the reference's own tables,
//!   `baldur_dlq` and `baldur_cb_state`. Reads give the reference's
//!   `SQLStatisticsRepository` answers on the same rows; writes keep its
//!   terminal guard and close its holes.
//! - **Django** (`?flavor=django&table=NAME`): a Django application's DLQ
//!   table (the reference's `AbstractFailedOperation` columns, each
//!   renamable by a parameter), read with the reference's
//!   `DjangoStatisticsAdapter` windows. Read-only: the application owns
//!   its table.
//!
//! Both databases run the same statements through the connection layer
//! of `db.rs`. docs/SQL.md lists every difference from the reference.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::projection::status::{self, GUARDED_STATUSES};
use crate::projection::{
    AuditLink, AuditTrailEntry, CircuitBreakerInfo, CircuitBreakerSummary, CleanupStats, Clock,
    DomainDistribution, EntityAuditTrail, EntryDetail, EntryListQuery, EntrySummary,
    FailureTypeDistribution, ORDER_BY_COLUMNS, PAGE_SIZE_MAX, PaginatedResult, PurgeSelection,
    RecentActivity, StatisticsRepository, StatusCounts, SystemClock,
};
use crate::sql::db::{Cell, Db, Param, Tx};
use crate::sql::{Dialect, SqlUrl};

/// The reference's DLQ table.
pub const DLQ_TABLE: &str = "baldur_dlq";
/// The circuit-breaker table the reference reads (and never writes).
pub const CB_TABLE: &str = "baldur_cb_state";
/// Our table of purged ids, so that a late snapshot cannot bring a purged
/// entry back (the reference has none).
pub const PURGED_TABLE: &str = "baldur_journal_dlq_purged";

/// The window of status counts, distributions and the average retry
/// count (SQLAlchemy flavour).
const WINDOW_DAYS: u32 = 30;
/// The Django adapter's fixed length of the previous window of recent
/// activity.
const DJANGO_PREVIOUS_DAYS: u32 = 7;
const NANOS_PER_HOUR: i64 = 3_600 * 1_000_000_000;
const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;
/// The margin of SQLite's text pre-filter of a time condition (see
/// `dialect::text_window`).
const TEXT_MARGIN: i64 = 2 * NANOS_PER_DAY;

/// The reference's `baldur_dlq` DDL (`baldur/adapters/sql/failed_operation.py`,
/// with the database's types), and our purged-ids table.
pub(crate) fn create_statements(dialect: Dialect) -> Vec<String> {
    let (key, ts, json, int_key) = match dialect {
        Dialect::Sqlite => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "TEXT",
            "TEXT",
            "INTEGER PRIMARY KEY",
        ),
        Dialect::Postgres => (
            "BIGSERIAL PRIMARY KEY",
            "TIMESTAMPTZ",
            "JSONB",
            "BIGINT PRIMARY KEY",
        ),
    };
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {DLQ_TABLE} (
            id {key},
            domain VARCHAR(128) NOT NULL,
            failure_type VARCHAR(128) NOT NULL,
            status VARCHAR(32) NOT NULL,
            entity_type VARCHAR(128),
            entity_id VARCHAR(256),
            user_id BIGINT,
            retry_count INTEGER NOT NULL DEFAULT 0,
            max_retries INTEGER NOT NULL DEFAULT 2,
            error_code VARCHAR(128) NOT NULL DEFAULT '',
            last_retry_at {ts},
            resolved_at {ts},
            created_at {ts} NOT NULL,
            updated_at {ts} NOT NULL,
            expires_at {ts},
            data {json} NOT NULL
        )"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS idx_{DLQ_TABLE}_status_domain ON {DLQ_TABLE} (status, domain)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS idx_{DLQ_TABLE}_created_at ON {DLQ_TABLE} (created_at)"
        ),
        format!("CREATE TABLE IF NOT EXISTS {PURGED_TABLE} (id {int_key})"),
    ]
}

/// The columns `persist_entry` maps to columns; every other key goes to
/// `data`.
pub(crate) const COLUMN_KEYS: [&str; 15] = [
    "id",
    "domain",
    "failure_type",
    "status",
    "entity_type",
    "entity_id",
    "user_id",
    "retry_count",
    "max_retries",
    "error_code",
    "last_retry_at",
    "resolved_at",
    "created_at",
    "updated_at",
    "expires_at",
];

/// The columns of a Django DLQ table that a URL parameter of the same
/// name renames (`?flavor=django&table=app_failedop&created_at=created`);
/// an empty value (`user_id=`) says the table has no such column.
pub const DJANGO_COLUMNS: [&str; 18] = [
    "id",
    "domain",
    "failure_type",
    "status",
    "entity_type",
    "entity_id",
    "user_id",
    "retry_count",
    "max_retries",
    "error_code",
    "error_message",
    "last_retry_at",
    "resolved_at",
    "created_at",
    "updated_at",
    "expires_at",
    "snapshot_data",
    "metadata",
];

/// Which adapter's table and rules a [`SqlStatistics`] follows.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Flavor {
    /// The reference's `SQLStatisticsRepository`: its `baldur_dlq` and
    /// `baldur_cb_state` tables, the 30-day window of counts,
    /// distributions and the average retry count.
    #[default]
    SqlAlchemy,
    /// The reference's `DjangoStatisticsAdapter` over a Django
    /// application's DLQ table: every row for counts, distributions and
    /// the average, a previous activity window of 7 days. Read-only.
    Django(DjangoTable),
}

/// A Django application's DLQ table: its name, its column names (the
/// model's field names unless renamed), and an optional circuit-breaker
/// table with `baldur_cb_state`'s columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DjangoTable {
    /// The table (`app_label_modelname` as Django names it).
    pub table: String,
    /// Logical column (one of [`DJANGO_COLUMNS`]) to the
    /// table's column; `None` when the table has no such column (read as
    /// NULL).
    pub columns: BTreeMap<String, Option<String>>,
    /// The circuit-breaker table (`cb_table=NAME`), if any.
    pub cb_table: Option<String>,
}

impl DjangoTable {
    /// The table `table` with the model's own column names
    /// (`AbstractFailedOperation`; it has no `user_id`).
    pub fn new(table: impl Into<String>) -> DjangoTable {
        let mut columns: BTreeMap<String, Option<String>> = DJANGO_COLUMNS
            .iter()
            .map(|c| (c.to_string(), Some(c.to_string())))
            .collect();
        columns.insert("user_id".into(), None);
        DjangoTable {
            table: table.into(),
            columns,
            cb_table: None,
        }
    }
}

/// Options of a [`SqlStatistics`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlStatisticsOptions {
    /// How long a statement waits for another writer's lock (default 5 s;
    /// SQLite).
    pub busy_timeout: Duration,
    /// Open without writing anything: the DLQ table must exist, and the
    /// write methods fail with [`Error::ReadOnly`].
    pub read_only: bool,
    /// The table and rules followed (default: the SQLAlchemy flavour).
    pub flavor: Flavor,
}

impl Default for SqlStatisticsOptions {
    fn default() -> Self {
        SqlStatisticsOptions {
            busy_timeout: Duration::from_secs(5),
            read_only: false,
            flavor: Flavor::SqlAlchemy,
        }
    }
}

/// An identifier given on a URL: letters, digits and `_`, not starting
/// with a digit (a table may be `schema.table`).
fn identifier(url: &str, parameter: &str, value: &str, dotted: bool) -> Result<String> {
    let part_ok = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let ok = if dotted {
        let parts: Vec<&str> = value.split('.').collect();
        parts.len() <= 2 && parts.iter().all(|p| part_ok(p))
    } else {
        part_ok(value)
    };
    if ok {
        Ok(value.to_string())
    } else {
        Err(Error::InvalidOption(format!(
            "{}: {parameter}={value:?} is not a plain SQL name (letters, digits, _)",
            crate::sql::redacted(url)
        )))
    }
}

/// Splits the statistics' own parameters (`flavor`, `table`, `cb_table`
/// and the Django column names) off `url`: the flavour they name, and the
/// URL the database is opened with.
fn split_flavor(url: &str) -> Result<(Flavor, String)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let bad = |why: String| Error::InvalidOption(format!("{}: {why}", crate::sql::redacted(url)));
    let mut kept = Vec::new();
    let mut flavor = None;
    let mut table = None;
    let mut cb_table = None;
    let mut renames = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "flavor" => flavor = Some(value.to_string()),
            "table" => table = Some(identifier(url, name, value, true)?),
            "cb_table" => cb_table = Some(identifier(url, name, value, true)?),
            column if DJANGO_COLUMNS.contains(&column) => {
                let renamed = if value.is_empty() {
                    None
                } else {
                    Some(identifier(url, name, value, false)?)
                };
                renames.push((column.to_string(), renamed));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    match flavor.as_deref() {
        None | Some("sqlalchemy") => {
            if table.is_some() || cb_table.is_some() || !renames.is_empty() {
                return Err(bad(
                    "table, cb_table and column names apply to flavor=django only (the \
                     SQLAlchemy flavour reads the reference's baldur_dlq and baldur_cb_state)"
                        .into(),
                ));
            }
            Ok((Flavor::SqlAlchemy, rest))
        }
        Some("django") => {
            let table = table.ok_or_else(|| {
                bad("flavor=django needs table=NAME (the Django model's table)".into())
            })?;
            let mut django = DjangoTable::new(table);
            django.cb_table = cb_table;
            for (column, renamed) in renames {
                if column == "id" && renamed.is_none() {
                    return Err(bad("id= cannot be empty: the table needs its key".into()));
                }
                django.columns.insert(column, renamed);
            }
            Ok((Flavor::Django(django), rest))
        }
        Some(other) => Err(bad(format!(
            "flavor={other:?}: expected sqlalchemy (the default) or django"
        ))),
    }
}

/// A condition with its parameters, in `?` order.
struct Where {
    dialect: Dialect,
    clauses: Vec<String>,
    params: Vec<Param>,
}

impl Where {
    fn new(dialect: Dialect) -> Where {
        Where {
            dialect,
            clauses: Vec::new(),
            params: Vec::new(),
        }
    }
    fn eq(mut self, column: &str, value: &str) -> Self {
        self.clauses.push(format!("{column} = ?"));
        self.params.push(Param::Text(value.into()));
        self
    }
    /// `column >= t` (`at_or_after`) or `column < t`, as instants (NULL
    /// never qualifies). On SQLite, a text pre-filter with margin on the
    /// indexed column, then the instant through `baldur_instant_ns`; on
    /// PostgreSQL, the TIMESTAMPTZ column against the bound.
    fn time(mut self, column: &str, t: Timestamp, at_or_after: bool) -> Self {
        let op = if at_or_after { ">=" } else { "<" };
        if self.dialect == Dialect::Postgres {
            self.clauses.push(format!("{column} {op} ?"));
            self.params.push(Param::Bound(t));
            return self;
        }
        let margin = if at_or_after {
            t.as_unix_nanos().checked_sub(TEXT_MARGIN)
        } else {
            t.as_unix_nanos().checked_add(TEXT_MARGIN)
        };
        match margin {
            Some(text_bound) => {
                self.clauses.push(format!(
                    "{column} {op} ? AND baldur_instant_ns({column}) {op} ?"
                ));
                self.params
                    .push(Param::Time(Timestamp::from_unix_nanos(text_bound)));
            }
            None => self
                .clauses
                .push(format!("baldur_instant_ns({column}) {op} ?")),
        }
        self.params.push(Param::Int(t.as_unix_nanos()));
        self
    }
    fn at_or_after(self, column: &str, t: Timestamp) -> Self {
        self.time(column, t, true)
    }
    fn before(self, column: &str, t: Timestamp) -> Self {
        self.time(column, t, false)
    }
    fn any_of(mut self, column: &str, values: &[&str]) -> Self {
        let marks = vec!["?"; values.len()].join(", ");
        self.clauses.push(format!("{column} IN ({marks})"));
        self.params
            .extend(values.iter().map(|v| Param::Text(v.to_string())));
        self
    }
    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// The table a [`SqlStatistics`] reads, with its column names.
struct Layout {
    table: String,
    cb_table: Option<String>,
    /// Logical column to the table's column (`NULL` when absent).
    columns: BTreeMap<String, String>,
    django: bool,
}

impl Layout {
    fn of(flavor: &Flavor) -> Layout {
        match flavor {
            Flavor::SqlAlchemy => Layout {
                table: DLQ_TABLE.into(),
                cb_table: Some(CB_TABLE.into()),
                columns: COLUMN_KEYS
                    .iter()
                    .chain(&["data"])
                    .map(|c| (c.to_string(), c.to_string()))
                    .collect(),
                django: false,
            },
            Flavor::Django(django) => Layout {
                table: django.table.clone(),
                cb_table: django.cb_table.clone(),
                columns: django
                    .columns
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().unwrap_or_else(|| "NULL".into())))
                    .collect(),
                django: true,
            },
        }
    }

    /// The table's column of logical column `name` (`NULL` when absent).
    fn col(&self, name: &str) -> &str {
        self.columns.get(name).map_or("NULL", String::as_str)
    }
}

/// The seed's [`StatisticsRepository`] over a DLQ table (module docs,
/// docs/SQL.md).
pub struct SqlStatistics {
    db: Db,
    layout: Layout,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqlStatistics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStatistics")
            .field("database", &self.db.database())
            .field("table", &self.layout.table)
            .finish()
    }
}

/// `now - hours`, saturating.
fn hours_before(now: Timestamp, hours: u32) -> Timestamp {
    Timestamp::from_unix_nanos(
        now.as_unix_nanos()
            .saturating_sub(i64::from(hours).saturating_mul(NANOS_PER_HOUR)),
    )
}

/// `now - days`, saturating.
fn days_before(now: Timestamp, days: u32) -> Timestamp {
    Timestamp::from_unix_nanos(
        now.as_unix_nanos()
            .saturating_sub(i64::from(days).saturating_mul(NANOS_PER_DAY)),
    )
}

/// Python's `round(x, digits)` (exact binary value, ties to even).
fn python_round(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}").parse().unwrap_or(x)
}

#[expect(
    clippy::cast_precision_loss,
    reason = "counts far below 2^53, as Python's int / int"
)]
fn ratio(n: u64, total: u64) -> f64 {
    n as f64 / total as f64
}

impl SqlStatistics {
    /// Opens the tables a URL names (docs/SQL.md): `sqlite:///…` or, with
    /// the `postgres` feature, `postgres://…` and `postgresql://…`,
    /// creating `baldur_dlq` (the reference's DDL) when missing. The
    /// parameters `flavor=django&table=NAME` (and column names) select
    /// the Django flavour, which is opened read-only.
    pub fn open_url(url: &str) -> Result<SqlStatistics> {
        SqlStatistics::open_url_with(url, false)
    }

    /// [`SqlStatistics::open_url`], read-only when asked (the DLQ table
    /// must exist then, and nothing is written).
    pub fn open_url_with(url: &str, read_only: bool) -> Result<SqlStatistics> {
        let (flavor, rest) = split_flavor(url)?;
        let read_only = read_only || matches!(flavor, Flavor::Django(_));
        if rest.starts_with("postgres://") || rest.starts_with("postgresql://") {
            let db = Db::open_postgres(&rest, read_only)?;
            return SqlStatistics::on(db, flavor);
        }
        let parsed = SqlUrl::parse(&rest)?;
        SqlStatistics::open_sqlite(
            &parsed.path,
            SqlStatisticsOptions {
                busy_timeout: parsed.options.busy_timeout,
                read_only: parsed.options.read_only || read_only,
                flavor,
            },
        )
    }

    /// Opens the SQLite database at `path`.
    pub fn open_sqlite(path: &Path, options: SqlStatisticsOptions) -> Result<SqlStatistics> {
        let read_only = options.read_only || matches!(options.flavor, Flavor::Django(_));
        let db = Db::open_sqlite(path, read_only, options.busy_timeout)?;
        SqlStatistics::on(db, options.flavor)
    }

    /// The statistics over `db`: checks (read-only, or the Django flavour)
    /// or creates (SQLAlchemy flavour, writable) the tables.
    pub(crate) fn on(db: Db, flavor: Flavor) -> Result<SqlStatistics> {
        let layout = Layout::of(&flavor);
        if db.read_only() {
            let exists = db.read(|tx| tx.table_exists(&layout.table))?;
            if !exists {
                return Err(Error::Sql {
                    database: db.database().to_string(),
                    operation: "opening read-only".into(),
                    reason: format!("the database has no {} table", layout.table),
                });
            }
        } else {
            let dialect = db.dialect();
            db.write(|tx| {
                for statement in create_statements(dialect) {
                    tx.batch("creating the tables", &statement)?;
                }
                Ok(())
            })?;
        }
        Ok(SqlStatistics {
            db,
            layout,
            clock: Arc::new(SystemClock),
        })
    }

    /// Reads "now" from `clock` instead of the system clock (the CLI's
    /// `--now`, tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The database, as messages name it (never credentials).
    pub fn database(&self) -> &str {
        self.db.database()
    }

    /// The database kind.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    fn col(&self, name: &str) -> &str {
        self.layout.col(name)
    }

    fn table(&self) -> &str {
        &self.layout.table
    }

    fn cond(&self) -> Where {
        Where::new(self.db.dialect())
    }

    fn bad_row(&self, table: &str, id: &str, reason: String) -> Error {
        Error::SqlData {
            database: self.db.database().to_string(),
            table: table.into(),
            row: format!("id {id}"),
            reason,
        }
    }

    fn count(&self, tx: &mut Tx<'_>, condition: &Where) -> Result<u64> {
        tx.count(
            "count",
            &format!("SELECT COUNT(*) FROM {}{}", self.table(), condition.sql()),
            &condition.params,
        )
    }

    /// `(group value, count)` of logical `column` over the rows of
    /// `condition`, by count descending, ties by value.
    fn group(
        &self,
        tx: &mut Tx<'_>,
        column: &str,
        condition: &Where,
        limit: Option<usize>,
    ) -> Result<Vec<(Option<String>, u64)>> {
        let column = self.col(column);
        let limit = limit.map_or(String::new(), |l| format!(" LIMIT {l}"));
        let sql = format!(
            "SELECT {column}, COUNT(*) AS cnt FROM {}{} GROUP BY {column} \
             ORDER BY cnt DESC, {column} ASC{limit}",
            self.table(),
            condition.sql()
        );
        tx.query("group", &sql, &condition.params)?
            .into_iter()
            .map(|row| {
                let name = row[0].text().map_err(|e| self.group_error(column, e))?;
                let n = row[1].int().map_err(|e| self.group_error(column, e))?;
                Ok((name, super::unsigned(n.unwrap_or(0))))
            })
            .collect()
    }

    fn group_error(&self, column: &str, reason: String) -> Error {
        Error::SqlData {
            database: self.db.database().to_string(),
            table: self.table().into(),
            row: format!("a group of {column}"),
            reason,
        }
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The rows of counts, distributions and the average retry count:
    /// created in the last 30 days (SQLAlchemy), all (Django).
    fn window(&self) -> Where {
        if self.layout.django {
            self.cond()
        } else {
            self.cond()
                .at_or_after(self.col("created_at"), days_before(self.now(), WINDOW_DAYS))
        }
    }

    fn read<T>(&self, read: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.db.read(read)
    }

    fn write<T>(&self, write: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        if self.layout.django {
            return Err(Error::Unsupported(format!(
                "{}: the Django flavour is read-only (the Django application owns table {})",
                self.db.database(),
                self.table()
            )));
        }
        self.db.write(write)
    }

    fn distribution(&self, column: &str, limit: usize) -> Result<Vec<(String, u64, f64)>> {
        let window = self.window();
        self.read(|tx| {
            let total = self.count(tx, &window)?;
            if total == 0 {
                return Ok(Vec::new());
            }
            Ok(self
                .group(tx, column, &window, Some(limit))?
                .into_iter()
                .map(|(name, n)| {
                    let name = name.filter(|n| !n.is_empty()).unwrap_or("unknown".into());
                    (name, n, python_round(ratio(n, total) * 100.0, 2))
                })
                .collect())
        })
    }

    fn timestamp(
        &self,
        table: &str,
        id: &str,
        column: &str,
        cell: &Cell,
    ) -> Result<Option<Timestamp>> {
        cell.time()
            .map_err(|e| self.bad_row(table, id, format!("{column}: {e}")))
    }

    fn required_timestamp(&self, id: &str, column: &str, cell: &Cell) -> Result<Timestamp> {
        self.timestamp(self.table(), id, column, cell)?
            .ok_or_else(|| self.bad_row(self.table(), id, format!("{column} is NULL")))
    }

    fn text(&self, id: &str, column: &str, cell: &Cell) -> Result<Option<String>> {
        cell.text()
            .map_err(|e| self.bad_row(self.table(), id, format!("{column}: {e}")))
    }

    fn integer(&self, id: &str, column: &str, cell: &Cell) -> Result<Option<i64>> {
        cell.int()
            .map_err(|e| self.bad_row(self.table(), id, format!("{column}: {e}")))
    }

    /// A JSON column's value (`None` for NULL or empty text).
    fn json_of(&self, id: &str, column: &str, cell: &Cell) -> Result<Option<Value>> {
        match self.text(id, column, cell)?.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(json) => serde_json::from_str::<Value>(json)
                .map(Some)
                .map_err(|e| self.bad_row(self.table(), id, format!("{column} is not JSON: {e}"))),
        }
    }

    fn data_of(&self, id: &str, cell: &Cell) -> Result<Map<String, Value>> {
        match self.json_of(id, "data", cell)? {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map),
            Some(_) => Err(self.bad_row(self.table(), id, "data is not a JSON object".into())),
        }
    }

    /// The id column's value as text (an integer key, or a text key of a
    /// Django table).
    fn id_of(&self, cell: &Cell) -> Result<String> {
        match cell {
            Cell::Int(n) => Ok(n.to_string()),
            Cell::Text(t) => Ok(t.clone()),
            other => Err(self.bad_row(self.table(), "?", format!("id: {other:?}"))),
        }
    }

    fn cb_table_exists(&self, tx: &mut Tx<'_>) -> Result<bool> {
        match &self.layout.cb_table {
            Some(table) => tx.table_exists(table),
            None => Ok(false),
        }
    }

    fn cb_table(&self) -> &str {
        self.layout.cb_table.as_deref().unwrap_or(CB_TABLE)
    }

    /// The SQL ordering key of a sortable column: instants on SQLite for
    /// time columns (whatever their text's offset).
    fn order_key(&self, logical: &str) -> String {
        let column = self.col(logical);
        match (self.db.dialect(), logical) {
            (Dialect::Sqlite, "created_at" | "updated_at" | "resolved_at") => {
                format!("baldur_instant_ns({column})")
            }
            _ => column.to_string(),
        }
    }
}

/// An integer id as `baldur_dlq` keys it, or `None` for text that is not
/// one (which no row can have).
fn integer_id(id: &str) -> Option<i64> {
    id.trim().parse().ok()
}

/// A JSON value as a column value: strings, integers and null.
fn text_or_null(data: &Map<String, Value>, key: &str, default: Option<&str>) -> Result<Param> {
    match data.get(key) {
        None => Ok(Param::text(default)),
        Some(Value::Null) => Ok(Param::Null),
        Some(Value::String(s)) => Ok(Param::Text(s.clone())),
        Some(other) => Err(Error::InvalidEntry(format!(
            "{key} must be a string, got {other}"
        ))),
    }
}

fn integer_or_null(data: &Map<String, Value>, key: &str, default: Option<i64>) -> Result<Param> {
    match data.get(key) {
        None => Ok(default.map_or(Param::Null, Param::Int)),
        Some(Value::Null) => Ok(Param::Null),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(Param::Int(n.as_i64().unwrap_or(0))),
        Some(other) => Err(Error::InvalidEntry(format!(
            "{key} must be an integer, got {other}"
        ))),
    }
}

fn time_or_null(data: &Map<String, Value>, key: &str) -> Result<Option<Timestamp>> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Timestamp::parse(s)
            .map(Some)
            .map_err(|e| Error::InvalidEntry(format!("{key}: {e}"))),
        Some(other) => Err(Error::InvalidEntry(format!(
            "{key} must be a timestamp string, got {other}"
        ))),
    }
}

impl StatisticsRepository for SqlStatistics {
    fn get_status_counts(&self) -> Result<StatusCounts> {
        let window = self.window();
        let groups = self.read(|tx| self.group(tx, "status", &window, None))?;
        let mut counts = StatusCounts::default();
        for (name, n) in groups {
            counts.total += n;
            let field = match name.as_deref().unwrap_or("") {
                status::PENDING => &mut counts.pending,
                status::RESOLVED => &mut counts.resolved,
                "failed" => &mut counts.failed,
                status::ARCHIVED => &mut counts.archived,
                status::REVIEWING => &mut counts.reviewing,
                status::REPLAYED => &mut counts.replayed,
                status::REQUIRES_REVIEW => &mut counts.requires_review,
                status::REJECTED => &mut counts.rejected,
                status::EXPIRED => &mut counts.expired,
                _ => continue,
            };
            *field = n;
        }
        Ok(counts)
    }

    fn get_status_breakdown(&self) -> Result<BTreeMap<String, u64>> {
        let window = self.window();
        let groups = self.read(|tx| self.group(tx, "status", &window, None))?;
        Ok(groups
            .into_iter()
            .map(|(name, n)| (name.unwrap_or_default(), n))
            .collect())
    }

    fn get_domain_distribution(&self, limit: usize) -> Result<Vec<DomainDistribution>> {
        Ok(self
            .distribution("domain", limit)?
            .into_iter()
            .map(|(domain, count, percentage)| DomainDistribution {
                domain,
                count,
                percentage,
            })
            .collect())
    }

    fn get_failure_type_distribution(&self, limit: usize) -> Result<Vec<FailureTypeDistribution>> {
        Ok(self
            .distribution("failure_type", limit)?
            .into_iter()
            .map(
                |(failure_type, count, percentage)| FailureTypeDistribution {
                    failure_type,
                    count,
                    percentage,
                },
            )
            .collect())
    }

    fn get_recent_activity(&self, hours: u32, days: u32) -> Result<RecentActivity> {
        let now = self.now();
        let hours_ago = hours_before(now, hours);
        let days_ago = days_before(now, days);
        let previous_start = if self.layout.django {
            days_before(days_ago, DJANGO_PREVIOUS_DAYS)
        } else {
            days_before(days_ago, days)
        };
        let (created, resolved) = (self.col("created_at"), self.col("resolved_at"));
        self.read(|tx| {
            let new_in_24h = self.count(tx, &self.cond().at_or_after(created, hours_ago))?;
            let resolved_in_24h = self.count(tx, &self.cond().at_or_after(resolved, hours_ago))?;
            let new_in_7d = self.count(tx, &self.cond().at_or_after(created, days_ago))?;
            let resolved_in_7d = self.count(tx, &self.cond().at_or_after(resolved, days_ago))?;
            let previous = self.count(
                tx,
                &self
                    .cond()
                    .at_or_after(created, previous_start)
                    .before(created, days_ago),
            )?;
            #[expect(
                clippy::cast_precision_loss,
                reason = "counts far below 2^53, compared as Python compares int and float"
            )]
            let (recent, previous) = (new_in_7d as f64, previous as f64);
            let trend = if recent > previous * 1.1 {
                "up"
            } else if recent < previous * 0.9 {
                "down"
            } else {
                "stable"
            };
            Ok(RecentActivity {
                new_in_24h,
                resolved_in_24h,
                new_in_7d,
                resolved_in_7d,
                trend: trend.into(),
            })
        })
    }

    fn get_resolution_rate(&self, days: u32) -> Result<f64> {
        let since = days_before(self.now(), days);
        let created = self.col("created_at");
        self.read(|tx| {
            let total = self.count(tx, &self.cond().at_or_after(created, since))?;
            if total == 0 {
                return Ok(0.0);
            }
            let resolved = self.count(
                tx,
                &self
                    .cond()
                    .at_or_after(created, since)
                    .eq(self.col("status"), status::RESOLVED),
            )?;
            Ok(python_round(ratio(resolved, total), 4))
        })
    }

    fn get_avg_retry_count(&self) -> Result<f64> {
        let window = self.window();
        self.read(|tx| {
            let sql = format!(
                "SELECT CAST(AVG({}) AS DOUBLE PRECISION) FROM {}{}",
                self.col("retry_count"),
                self.table(),
                window.sql()
            );
            let avg = tx
                .query_value("average", &sql, &window.params)?
                .unwrap_or(Cell::Null)
                .real()
                .map_err(|e| self.group_error("retry_count", e))?;
            Ok(python_round(avg.unwrap_or(0.0), 2))
        })
    }

    fn list_entries(&self, query: &EntryListQuery) -> Result<PaginatedResult<EntrySummary>> {
        if query.page == 0 {
            return Err(Error::InvalidOption(
                "page counts from 1; page 0 does not exist".into(),
            ));
        }
        if query.page_size == 0 || query.page_size > PAGE_SIZE_MAX {
            return Err(Error::InvalidOption(format!(
                "page_size must be 1 to {PAGE_SIZE_MAX}, got {}",
                query.page_size
            )));
        }
        let (descending, column) = match query.order_by.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, query.order_by.as_str()),
        };
        if !ORDER_BY_COLUMNS.contains(&column) {
            return Err(Error::InvalidFilter(format!(
                "order_by {:?} names no sortable column; use one of {} \
                 (a leading '-' sorts descending)",
                query.order_by,
                ORDER_BY_COLUMNS.join(", ")
            )));
        }
        let key = self.order_key(column);
        let direction = if descending { "DESC" } else { "ASC" };
        let mut condition = self.cond();
        for (column, value) in [
            ("status", &query.status),
            ("domain", &query.domain),
            ("failure_type", &query.failure_type),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                condition = condition.eq(self.col(column), value);
            }
        }
        let offset = (query.page - 1).saturating_mul(query.page_size);
        let selected = [
            "id",
            "domain",
            "failure_type",
            "status",
            "entity_type",
            "entity_id",
            "retry_count",
            "error_code",
            "created_at",
            "updated_at",
            "resolved_at",
        ]
        .map(|c| self.col(c))
        .join(", ");
        self.read(|tx| {
            let total = self.count(tx, &condition)?;
            let sql = format!(
                "SELECT {selected} FROM {}{} ORDER BY {key} {direction}, {} {direction} \
                 LIMIT {} OFFSET {}",
                self.table(),
                condition.sql(),
                self.col("id"),
                query.page_size,
                offset.min(i64::MAX as u64)
            );
            let mut items = Vec::new();
            for row in tx.query("list", &sql, &condition.params)? {
                let id = self.id_of(&row[0])?;
                items.push(EntrySummary {
                    domain: self.text(&id, "domain", &row[1])?.unwrap_or_default(),
                    failure_type: self.text(&id, "failure_type", &row[2])?.unwrap_or_default(),
                    status: self.text(&id, "status", &row[3])?.unwrap_or_default(),
                    entity_type: self.text(&id, "entity_type", &row[4])?,
                    entity_id: self.text(&id, "entity_id", &row[5])?,
                    retry_count: self.integer(&id, "retry_count", &row[6])?.unwrap_or(0),
                    error_code: self.text(&id, "error_code", &row[7])?.unwrap_or_default(),
                    created_at: self.required_timestamp(&id, "created_at", &row[8])?,
                    updated_at: self.required_timestamp(&id, "updated_at", &row[9])?,
                    resolved_at: self.timestamp(self.table(), &id, "resolved_at", &row[10])?,
                    id,
                });
            }
            Ok(PaginatedResult {
                items,
                total,
                page: query.page,
                page_size: query.page_size,
                has_next: offset.saturating_add(query.page_size) < total,
                has_prev: query.page > 1,
            })
        })
    }

    fn get_entry_detail(&self, entry_id: &str) -> Result<Option<EntryDetail>> {
        let Some(key) = integer_id(entry_id) else {
            return Ok(None);
        };
        let django = self.layout.django;
        let mut names = COLUMN_KEYS.to_vec();
        if django {
            names.extend(["error_message", "snapshot_data", "metadata"]);
        } else {
            names.push("data");
        }
        let selected = names
            .iter()
            .map(|c| self.col(c))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = self.read(|tx| {
            tx.query(
                "detail",
                &format!(
                    "SELECT {selected} FROM {} WHERE {} = ?",
                    self.table(),
                    self.col("id")
                ),
                &[Param::Int(key)],
            )
        })?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let id = self.id_of(&row[0])?;
        let (error_message, snapshot_data, metadata) = if django {
            (
                self.text(&id, "error_message", &row[15])?
                    .map(Value::String),
                self.json_of(&id, "snapshot_data", &row[16])?,
                self.json_of(&id, "metadata", &row[17])?,
            )
        } else {
            let data = self.data_of(&id, &row[15])?;
            (
                data.get("error_message").cloned(),
                data.get("snapshot_data").cloned(),
                data.get("metadata").cloned(),
            )
        };
        let table = self.table();
        Ok(Some(EntryDetail {
            domain: self.text(&id, "domain", &row[1])?.unwrap_or_default(),
            failure_type: self.text(&id, "failure_type", &row[2])?.unwrap_or_default(),
            status: self.text(&id, "status", &row[3])?.unwrap_or_default(),
            entity_type: self.text(&id, "entity_type", &row[4])?,
            entity_id: self.text(&id, "entity_id", &row[5])?,
            user_id: self.integer(&id, "user_id", &row[6])?,
            retry_count: self.integer(&id, "retry_count", &row[7])?.unwrap_or(0),
            max_retries: self.integer(&id, "max_retries", &row[8])?.unwrap_or(2),
            error_code: self.text(&id, "error_code", &row[9])?.unwrap_or_default(),
            last_retry_at: self.timestamp(table, &id, "last_retry_at", &row[10])?,
            resolved_at: self.timestamp(table, &id, "resolved_at", &row[11])?,
            created_at: self.required_timestamp(&id, "created_at", &row[12])?,
            updated_at: self.required_timestamp(&id, "updated_at", &row[13])?,
            expires_at: self.timestamp(table, &id, "expires_at", &row[14])?,
            error_message: match error_message {
                Some(Value::String(s)) => s,
                None | Some(Value::Null) if django => String::new(),
                None => String::new(),
                Some(other) => other.to_string(),
            },
            snapshot_data: snapshot_data
                .filter(|v| !v.is_null())
                .unwrap_or_else(|| Value::Object(Map::new())),
            metadata: metadata
                .filter(|v| !v.is_null())
                .unwrap_or_else(|| Value::Object(Map::new())),
            id,
        }))
    }

    fn get_sla_breaches(
        &self,
        sla_threshold_hours: u32,
        statuses: Option<&[&str]>,
    ) -> Result<BTreeMap<String, u64>> {
        let statuses = statuses.unwrap_or(&crate::projection::DEFAULT_SLA_STATUSES);
        if statuses.is_empty() {
            return Ok(BTreeMap::new());
        }
        let condition = self.cond().any_of(self.col("status"), statuses).before(
            self.col("created_at"),
            hours_before(self.now(), sla_threshold_hours),
        );
        let groups = self.read(|tx| self.group(tx, "domain", &condition, None))?;
        Ok(groups
            .into_iter()
            .map(|(domain, n)| (domain.unwrap_or_default(), n))
            .collect())
    }

    fn get_cleanup_stats(&self) -> Result<CleanupStats> {
        let now = self.now();
        let status = self.col("status");
        self.read(|tx| {
            let total = self.count(tx, &self.cond())?;
            let by_status = self
                .group(tx, "status", &self.cond(), None)?
                .into_iter()
                .map(|(name, n)| (name.unwrap_or_default(), n))
                .collect();
            let resolved_old = self.count(
                tx,
                &self
                    .cond()
                    .eq(status, status::RESOLVED)
                    .before(self.col("resolved_at"), days_before(now, 30)),
            )?;
            let archived_old = self.count(
                tx,
                &self
                    .cond()
                    .eq(status, status::ARCHIVED)
                    .before(self.col("updated_at"), days_before(now, 90)),
            )?;
            Ok(CleanupStats {
                total,
                by_status,
                resolved_older_than_30_days: resolved_old,
                archived_older_than_90_days: archived_old,
            })
        })
    }

    fn archive_old_entries(&self, older_than_days: u32) -> Result<u64> {
        let now = self.now();
        let condition = self
            .cond()
            .eq("status", status::RESOLVED)
            .before("resolved_at", days_before(now, older_than_days));
        self.write(|tx| {
            let mut params = vec![Param::Text(status::ARCHIVED.into()), Param::Time(now)];
            params.extend(condition.params.iter().cloned());
            tx.execute(
                "archive",
                &format!(
                    "UPDATE {DLQ_TABLE} SET status = ?, updated_at = ?{}",
                    condition.sql()
                ),
                &params,
            )
        })
    }

    fn purge_archived(&self, selection: &PurgeSelection) -> Result<u64> {
        let now = self.now();
        let (ids, days) = match selection {
            PurgeSelection::Ids(ids) => (Some(ids.as_slice()), None),
            PurgeSelection::OlderThanDays(days) => (None, Some(*days)),
            PurgeSelection::IdsOlderThanDays {
                ids,
                older_than_days,
            } => (Some(ids.as_slice()), Some(*older_than_days)),
        };
        let mut condition = self.cond().eq("status", status::ARCHIVED);
        if let Some(ids) = ids {
            let keys: Vec<i64> = ids.iter().filter_map(|id| integer_id(id)).collect();
            if keys.is_empty() {
                return Ok(0);
            }
            condition
                .clauses
                .push(format!("id IN ({})", vec!["?"; keys.len()].join(", ")));
            condition.params.extend(keys.into_iter().map(Param::Int));
        }
        if let Some(days) = days {
            condition = condition.before("updated_at", days_before(now, days));
        }
        self.write(|tx| {
            tx.execute(
                "purge",
                &format!(
                    "INSERT INTO {PURGED_TABLE} (id) SELECT id FROM {DLQ_TABLE}{} \
                     ON CONFLICT DO NOTHING",
                    condition.sql()
                ),
                &condition.params,
            )?;
            tx.execute(
                "purge",
                &format!("DELETE FROM {DLQ_TABLE}{}", condition.sql()),
                &condition.params,
            )
        })
    }

    fn get_circuit_breaker_summary(&self) -> Result<CircuitBreakerSummary> {
        self.read(|tx| {
            let mut summary = CircuitBreakerSummary::default();
            if !self.cb_table_exists(tx)? {
                return Ok(summary);
            }
            let rows = tx.query(
                "circuit breakers",
                &format!(
                    "SELECT state, COUNT(*) FROM {} GROUP BY state",
                    self.cb_table()
                ),
                &[],
            )?;
            for row in rows {
                let state = row[0]
                    .text()
                    .map_err(|e| self.bad_row(self.cb_table(), "?", format!("state: {e}")))?;
                let n = super::unsigned(row[1].int().ok().flatten().unwrap_or(0));
                summary.total += n;
                match state.as_deref() {
                    Some("closed") => summary.closed = n,
                    Some("open") => summary.open = n,
                    Some("half_open") => summary.half_open = n,
                    _ => {}
                }
            }
            Ok(summary)
        })
    }

    fn list_circuit_breakers(&self) -> Result<Vec<CircuitBreakerInfo>> {
        self.read(|tx| {
            if !self.cb_table_exists(tx)? {
                return Ok(Vec::new());
            }
            let table = self.cb_table();
            let rows = tx.query(
                "circuit breakers",
                &format!(
                    "SELECT service_name, state, failure_count, success_count, last_failure_at, \
                     updated_at FROM {table} ORDER BY service_name"
                ),
                &[],
            )?;
            let mut out = Vec::new();
            for row in rows {
                let name = row[0]
                    .text()
                    .map_err(|e| self.bad_row(table, "?", format!("service_name: {e}")))?
                    .unwrap_or_default();
                let bad =
                    |column: &str, e: String| self.bad_row(table, &name, format!("{column}: {e}"));
                out.push(CircuitBreakerInfo {
                    state: row[1]
                        .text()
                        .map_err(|e| bad("state", e))?
                        .unwrap_or_default(),
                    failure_count: row[2]
                        .int()
                        .map_err(|e| bad("failure_count", e))?
                        .unwrap_or(0),
                    success_count: row[3]
                        .int()
                        .map_err(|e| bad("success_count", e))?
                        .unwrap_or(0),
                    last_failure_time: self.timestamp(table, &name, "last_failure_at", &row[4])?,
                    last_state_change: self.timestamp(table, &name, "updated_at", &row[5])?,
                    service_name: name.clone(),
                });
            }
            Ok(out)
        })
    }

    fn persist_entry(&self, entry_data: &Map<String, Value>) -> Result<Option<String>> {
        let id = match entry_data.get("id") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or(0),
            Some(Value::String(s)) if integer_id(s).is_some() => integer_id(s).unwrap_or(0),
            Some(other) => {
                return Err(Error::InvalidEntry(format!(
                    "id {other}: {DLQ_TABLE} keys entries by integer"
                )));
            }
        };
        let now = self.now();
        let data: Map<String, Value> = entry_data
            .iter()
            .filter(|(k, _)| !COLUMN_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let created_at = time_or_null(entry_data, "created_at")?.unwrap_or(now);
        let resolved_at = time_or_null(entry_data, "resolved_at")?;
        let values = vec![
            Param::Int(id),
            text_or_null(entry_data, "domain", Some(""))?,
            text_or_null(entry_data, "failure_type", Some(""))?,
            text_or_null(entry_data, "status", Some(status::PENDING))?,
            text_or_null(entry_data, "entity_type", None)?,
            text_or_null(entry_data, "entity_id", None)?,
            integer_or_null(entry_data, "user_id", None)?,
            integer_or_null(entry_data, "retry_count", Some(0))?,
            integer_or_null(entry_data, "max_retries", Some(2))?,
            text_or_null(entry_data, "error_code", Some(""))?,
            Param::time(resolved_at),
            Param::Time(created_at),
            Param::Time(now),
            Param::Text(Value::Object(data).to_string()),
        ];
        let guarded = GUARDED_STATUSES
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        self.write(|tx| {
            let purged = tx.count(
                "persist",
                &format!("SELECT COUNT(*) FROM {PURGED_TABLE} WHERE id = ?"),
                &[Param::Int(id)],
            )?;
            if purged > 0 {
                return Ok(());
            }
            tx.execute(
                "persist",
                &format!(
                    "INSERT INTO {DLQ_TABLE} (id, domain, failure_type, status, entity_type, \
                     entity_id, user_id, retry_count, max_retries, error_code, resolved_at, \
                     created_at, updated_at, data) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT(id) DO UPDATE SET retry_count = excluded.retry_count, \
                     resolved_at = excluded.resolved_at, updated_at = excluded.updated_at, \
                     data = excluded.data, status = excluded.status \
                     WHERE {DLQ_TABLE}.status NOT IN ({guarded}) OR excluded.status IN ({guarded})"
                ),
                &values,
            )?;
            Ok(())
        })?;
        Ok(Some(id.to_string()))
    }

    fn sync_from_runtime(&self, entries: &[Map<String, Value>]) -> Result<u64> {
        let mut synced = 0;
        for entry in entries {
            synced += u64::from(self.persist_entry(entry)?.is_some());
        }
        Ok(synced)
    }

    fn get_audit_trail_by_entity(
        &self,
        entity_id: &str,
        entity_type: &str,
    ) -> Result<EntityAuditTrail> {
        let mut trail = EntityAuditTrail::unknown(entity_id, entity_type);
        let Some(key) = integer_id(entity_id).filter(|_| entity_type == "dlq_entry") else {
            return Ok(trail);
        };
        // The Django adapter never reads the stored references.
        let data = if self.layout.django {
            "NULL"
        } else {
            self.col("data")
        };
        let rows = self.read(|tx| {
            tx.query(
                "audit trail",
                &format!(
                    "SELECT {}, {}, {}, {}, {data} FROM {} WHERE {} = ?",
                    self.col("domain"),
                    self.col("status"),
                    self.col("created_at"),
                    self.col("resolved_at"),
                    self.table(),
                    self.col("id"),
                ),
                &[Param::Int(key)],
            )
        })?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(trail);
        };
        let id = key.to_string();
        trail.domain = self
            .text(&id, "domain", &row[0])?
            .filter(|d| !d.is_empty())
            .unwrap_or("unknown".into());
        trail.current_status = self
            .text(&id, "status", &row[1])?
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown".into());
        trail.created_at = self.timestamp(self.table(), &id, "created_at", &row[2])?;
        trail.resolved_at = self.timestamp(self.table(), &id, "resolved_at", &row[3])?;
        let data = self.data_of(&id, &row[4])?;
        let references = data
            .get("metadata")
            .and_then(|m| m.get("audit_references"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        for reference in &references {
            trail.entries.push(AuditTrailEntry {
                timestamp: trail.created_at.unwrap_or_else(|| self.now()),
                action: text(reference, "action").unwrap_or("unknown".into()),
                actor_id: text(reference, "actor_id"),
                status: text(reference, "status"),
                details: text(reference, "details"),
                hash_chain: text(reference, "hash"),
                previous_hash: None,
            });
        }
        Ok(trail)
    }

    fn link_audit_entry(&self, link: &AuditLink) -> Result<bool> {
        if link.entity_type != "dlq_entry" {
            return Ok(false);
        }
        let Some(key) = integer_id(&link.entity_id) else {
            return Ok(false);
        };
        let now = self.now();
        self.write(|tx| {
            let rows = tx.query(
                "link audit entry",
                &format!("SELECT data FROM {DLQ_TABLE} WHERE id = ?"),
                &[Param::Int(key)],
            )?;
            let Some(row) = rows.into_iter().next() else {
                return Ok(false);
            };
            let mut data = self.data_of(&key.to_string(), &row[0])?;
            let metadata = data
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if !metadata.is_object() {
                *metadata = Value::Object(Map::new());
            }
            let references = metadata.as_object_mut().map(|m| {
                m.entry("audit_references")
                    .or_insert_with(|| Value::Array(Vec::new()))
            });
            if let Some(references) = references {
                if !references.is_array() {
                    *references = Value::Array(Vec::new());
                }
                if let Some(list) = references.as_array_mut() {
                    list.push(serde_json::json!({
                        "action": link.action,
                        "actor_id": link.actor_id,
                        "status": link.status,
                        "hash": link.audit_record_hash,
                        "details": link.details,
                    }));
                }
            }
            tx.execute(
                "link audit entry",
                &format!("UPDATE {DLQ_TABLE} SET data = ?, updated_at = ? WHERE id = ?"),
                &[
                    Param::Text(Value::Object(data).to_string()),
                    Param::Time(now),
                    Param::Int(key),
                ],
            )?;
            Ok(true)
        })
    }

    fn should_persist_async(&self) -> bool {
        false
    }

    fn get_async_persist_task_name(&self) -> Option<String> {
        None
    }
}
