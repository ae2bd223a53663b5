//! `SqlStatistics`: the seed's statistics repository over the reference's
//! own tables, `baldur_dlq` and `baldur_cb_state` (the SQLAlchemy
//! flavour), on SQLite. Reads give the reference's
//! `SQLStatisticsRepository` answers on the same rows; writes keep its
//! terminal guard and close its holes. docs/SQL.md lists every difference.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, TransactionBehavior};
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
use crate::sql::{SqlUrl, connect, parse_timestamp_text, timestamp_text};

/// The reference's DLQ table.
pub const DLQ_TABLE: &str = "baldur_dlq";
/// The circuit-breaker table the reference reads (and never writes).
pub const CB_TABLE: &str = "baldur_cb_state";
/// Our table of purged ids, so that a late snapshot cannot bring a purged
/// entry back (the reference has none).
pub const PURGED_TABLE: &str = "baldur_journal_dlq_purged";

/// The window of status counts, distributions and the average retry count.
const WINDOW_DAYS: u32 = 30;
const NANOS_PER_HOUR: i64 = 3_600 * 1_000_000_000;
const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;
/// The margin of the text pre-filter of a time condition (see
/// `dialect::text_window`).
const TEXT_MARGIN: i64 = 2 * NANOS_PER_DAY;

/// The reference's `baldur_dlq` DDL (`baldur/adapters/sql/failed_operation.py`,
/// SQLite types), and our purged-ids table.
fn create_statements() -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {DLQ_TABLE} (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            domain VARCHAR(128) NOT NULL,
            failure_type VARCHAR(128) NOT NULL,
            status VARCHAR(32) NOT NULL,
            entity_type VARCHAR(128),
            entity_id VARCHAR(256),
            user_id BIGINT,
            retry_count INTEGER NOT NULL DEFAULT 0,
            max_retries INTEGER NOT NULL DEFAULT 2,
            error_code VARCHAR(128) NOT NULL DEFAULT '',
            last_retry_at TEXT,
            resolved_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            expires_at TEXT,
            data TEXT NOT NULL
        )"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS idx_{DLQ_TABLE}_status_domain ON {DLQ_TABLE} (status, domain)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS idx_{DLQ_TABLE}_created_at ON {DLQ_TABLE} (created_at)"
        ),
        format!("CREATE TABLE IF NOT EXISTS {PURGED_TABLE} (id INTEGER PRIMARY KEY)"),
    ]
}

/// The columns `persist_entry` maps to columns; every other key goes to
/// `data`.
const COLUMN_KEYS: [&str; 15] = [
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

/// Options of a [`SqlStatistics`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlStatisticsOptions {
    /// How long a statement waits for another writer's lock (default 5 s).
    pub busy_timeout: Duration,
    /// Open without writing anything: the DLQ table must exist, and the
    /// write methods fail with [`Error::ReadOnly`].
    pub read_only: bool,
}

impl Default for SqlStatisticsOptions {
    fn default() -> Self {
        SqlStatisticsOptions {
            busy_timeout: Duration::from_secs(5),
            read_only: false,
        }
    }
}

/// A condition with its parameters, in `?` order.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    params: Vec<SqlValue>,
}

impl Where {
    fn eq(mut self, column: &str, value: &str) -> Self {
        self.clauses.push(format!("{column} = ?"));
        self.params.push(SqlValue::Text(value.into()));
        self
    }
    /// `column >= t`, as instants (NULL never qualifies).
    fn at_or_after(mut self, column: &str, t: Timestamp) -> Self {
        match t.as_unix_nanos().checked_sub(TEXT_MARGIN) {
            Some(low) => {
                self.clauses.push(format!(
                    "{column} >= ? AND baldur_instant_ns({column}) >= ?"
                ));
                self.params
                    .push(SqlValue::Text(timestamp_text(Timestamp::from_unix_nanos(
                        low,
                    ))));
            }
            None => self
                .clauses
                .push(format!("baldur_instant_ns({column}) >= ?")),
        }
        self.params.push(SqlValue::Integer(t.as_unix_nanos()));
        self
    }
    /// `column < t`, as instants (NULL never qualifies).
    fn before(mut self, column: &str, t: Timestamp) -> Self {
        match t.as_unix_nanos().checked_add(TEXT_MARGIN) {
            Some(high) => {
                self.clauses
                    .push(format!("{column} < ? AND baldur_instant_ns({column}) < ?"));
                self.params
                    .push(SqlValue::Text(timestamp_text(Timestamp::from_unix_nanos(
                        high,
                    ))));
            }
            None => self
                .clauses
                .push(format!("baldur_instant_ns({column}) < ?")),
        }
        self.params.push(SqlValue::Integer(t.as_unix_nanos()));
        self
    }
    fn any_of(mut self, column: &str, values: &[&str]) -> Self {
        let marks = vec!["?"; values.len()].join(", ");
        self.clauses.push(format!("{column} IN ({marks})"));
        self.params
            .extend(values.iter().map(|v| SqlValue::Text(v.to_string())));
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

/// The seed's [`StatisticsRepository`] over the reference's `baldur_dlq`
/// and `baldur_cb_state` tables (module docs, docs/SQL.md).
pub struct SqlStatistics {
    conn: Mutex<Connection>,
    database: String,
    read_only: bool,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqlStatistics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStatistics")
            .field("database", &self.database)
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

impl SqlStatistics {
    /// Opens the tables a `sqlite://` URL names (docs/SQL.md), creating
    /// `baldur_dlq` (the reference's DDL) when missing.
    pub fn open_url(url: &str) -> Result<SqlStatistics> {
        SqlStatistics::open_url_with(url, false)
    }

    /// [`SqlStatistics::open_url`], read-only when asked (the DLQ table
    /// must exist then, and nothing is written).
    pub fn open_url_with(url: &str, read_only: bool) -> Result<SqlStatistics> {
        refuse_postgres(url)?;
        let parsed = SqlUrl::parse(url)?;
        SqlStatistics::open_sqlite(
            &parsed.path,
            SqlStatisticsOptions {
                busy_timeout: parsed.options.busy_timeout,
                read_only: parsed.options.read_only || read_only,
            },
        )
    }

    /// Opens the SQLite database at `path`.
    pub fn open_sqlite(path: &Path, options: SqlStatisticsOptions) -> Result<SqlStatistics> {
        let mut conn = connect(path, options.read_only, options.busy_timeout)?;
        let database = path.display().to_string();
        let error = |operation: &str, e: rusqlite::Error| Error::Sql {
            database: database.clone(),
            operation: operation.into(),
            reason: e.to_string(),
        };
        if options.read_only {
            if !table_exists(&conn, DLQ_TABLE).map_err(|e| error("reading the schema", e))? {
                return Err(Error::Sql {
                    database,
                    operation: "opening read-only".into(),
                    reason: format!("the database has no {DLQ_TABLE} table"),
                });
            }
        } else {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| error("creating the tables", e))?;
            for statement in create_statements() {
                tx.execute_batch(&statement)
                    .map_err(|e| error("creating the tables", e))?;
            }
            tx.commit().map_err(|e| error("creating the tables", e))?;
        }
        Ok(SqlStatistics {
            conn: Mutex::new(conn),
            database,
            read_only: options.read_only,
            clock: Arc::new(SystemClock),
        })
    }

    /// Reads "now" from `clock` instead of the system clock (the CLI's
    /// `--now`, tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The database, as messages name it.
    pub fn database(&self) -> &str {
        &self.database
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, operation: &str, e: rusqlite::Error) -> Error {
        if let rusqlite::Error::UserFunctionError(inner) = &e
            && let Some(Error::InvalidTimestamp { input, reason }) = inner.downcast_ref::<Error>()
        {
            return Error::SqlData {
                database: self.database.clone(),
                table: DLQ_TABLE.into(),
                row: "a row".into(),
                reason: format!("timestamp {input:?}: {reason}"),
            };
        }
        Error::Sql {
            database: self.database.clone(),
            operation: operation.into(),
            reason: e.to_string(),
        }
    }

    fn bad_row(&self, table: &str, id: &str, reason: String) -> Error {
        Error::SqlData {
            database: self.database.clone(),
            table: table.into(),
            row: format!("id {id}"),
            reason,
        }
    }

    fn count(&self, conn: &Connection, condition: &Where) -> Result<u64> {
        let n: i64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM {DLQ_TABLE}{}", condition.sql()),
                rusqlite::params_from_iter(condition.params.iter()),
                |row| row.get(0),
            )
            .map_err(|e| self.error("count", e))?;
        Ok(super::unsigned(n))
    }

    /// `(group value, count)` of `column` over the rows of `condition`,
    /// by count descending, ties by value.
    fn group(
        &self,
        conn: &Connection,
        column: &str,
        condition: &Where,
        limit: Option<usize>,
    ) -> Result<Vec<(Option<String>, u64)>> {
        let limit = limit.map_or(String::new(), |l| format!(" LIMIT {l}"));
        let sql = format!(
            "SELECT {column}, COUNT(*) AS cnt FROM {DLQ_TABLE}{} GROUP BY {column} \
             ORDER BY cnt DESC, {column} ASC{limit}",
            condition.sql()
        );
        let mut statement = conn.prepare(&sql).map_err(|e| self.error("group", e))?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(condition.params.iter()), |row| {
                Ok((row.get::<_, Option<String>>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(|e| self.error("group", e))?;
        rows.map(|r| {
            r.map(|(name, n)| (name, super::unsigned(n)))
                .map_err(|e| self.error("group", e))
        })
        .collect()
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn window(&self) -> Where {
        Where::default().at_or_after("created_at", days_before(self.now(), WINDOW_DAYS))
    }

    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| self.error("begin", e))?;
        let out = read(&tx)?;
        tx.commit().map_err(|e| self.error("commit", e))?;
        Ok(out)
    }

    fn write<T>(&self, write: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.read_only {
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

    fn distribution(&self, column: &str, limit: usize) -> Result<Vec<(String, u64, f64)>> {
        let window = self.window();
        self.read(|conn| {
            let total = self.count(conn, &window)?;
            if total == 0 {
                return Ok(Vec::new());
            }
            Ok(self
                .group(conn, column, &window, Some(limit))?
                .into_iter()
                .map(|(name, n)| {
                    let name = name.filter(|n| !n.is_empty()).unwrap_or("unknown".into());
                    (name, n, python_round(n as f64 / total as f64 * 100.0, 2))
                })
                .collect())
        })
    }

    fn timestamp(
        &self,
        table: &str,
        id: &str,
        column: &str,
        text: Option<String>,
    ) -> Result<Option<Timestamp>> {
        text.map(|t| {
            parse_timestamp_text(&t).map_err(|e| self.bad_row(table, id, format!("{column}: {e}")))
        })
        .transpose()
    }

    fn required_timestamp(
        &self,
        id: &str,
        column: &str,
        text: Option<String>,
    ) -> Result<Timestamp> {
        self.timestamp(DLQ_TABLE, id, column, text)?
            .ok_or_else(|| self.bad_row(DLQ_TABLE, id, format!("{column} is NULL")))
    }

    fn data_of(&self, id: &str, text: Option<String>) -> Result<Map<String, Value>> {
        match text.as_deref().map(str::trim) {
            None | Some("") | Some("null") => Ok(Map::new()),
            Some(json) => match serde_json::from_str::<Value>(json) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err(self.bad_row(DLQ_TABLE, id, "data is not a JSON object".into())),
                Err(e) => Err(self.bad_row(DLQ_TABLE, id, format!("data is not JSON: {e}"))),
            },
        }
    }

    fn cb_table_exists(&self, conn: &Connection) -> Result<bool> {
        table_exists(conn, CB_TABLE).map_err(|e| self.error("reading the schema", e))
    }
}

/// A PostgreSQL URL, which the statistics do not read yet: an error
/// saying so (the password redacted).
fn refuse_postgres(url: &str) -> Result<()> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(Error::Unsupported(format!(
            "{}: SqlStatistics reads SQLite only in this release (docs/SQL.md); the journal \
             (SqlJournal) runs on PostgreSQL",
            crate::sql::redacted(url)
        )));
    }
    Ok(())
}

fn table_exists(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// An integer id as `baldur_dlq` keys it, or `None` for text that is not
/// one (which no row can have).
fn integer_id(id: &str) -> Option<i64> {
    id.trim().parse().ok()
}

/// A JSON value as a column value: strings, integers and null.
fn text_or_null(data: &Map<String, Value>, key: &str, default: Option<&str>) -> Result<SqlValue> {
    match data.get(key) {
        None => Ok(default.map_or(SqlValue::Null, |d| SqlValue::Text(d.into()))),
        Some(Value::Null) => Ok(SqlValue::Null),
        Some(Value::String(s)) => Ok(SqlValue::Text(s.clone())),
        Some(other) => Err(Error::InvalidEntry(format!(
            "{key} must be a string, got {other}"
        ))),
    }
}

fn integer_or_null(data: &Map<String, Value>, key: &str, default: Option<i64>) -> Result<SqlValue> {
    match data.get(key) {
        None => Ok(default.map_or(SqlValue::Null, SqlValue::Integer)),
        Some(Value::Null) => Ok(SqlValue::Null),
        Some(Value::Number(n)) if n.as_i64().is_some() => {
            Ok(SqlValue::Integer(n.as_i64().unwrap_or(0)))
        }
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
        let groups = self.read(|conn| self.group(conn, "status", &window, None))?;
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
        let groups = self.read(|conn| self.group(conn, "status", &window, None))?;
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
        let previous_start = days_before(days_ago, days);
        self.read(|conn| {
            let new_in_24h =
                self.count(conn, &Where::default().at_or_after("created_at", hours_ago))?;
            let resolved_in_24h = self.count(
                conn,
                &Where::default().at_or_after("resolved_at", hours_ago),
            )?;
            let new_in_7d =
                self.count(conn, &Where::default().at_or_after("created_at", days_ago))?;
            let resolved_in_7d =
                self.count(conn, &Where::default().at_or_after("resolved_at", days_ago))?;
            let previous = self.count(
                conn,
                &Where::default()
                    .at_or_after("created_at", previous_start)
                    .before("created_at", days_ago),
            )?;
            let recent = new_in_7d as f64;
            let trend = if recent > previous as f64 * 1.1 {
                "up"
            } else if recent < previous as f64 * 0.9 {
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
        self.read(|conn| {
            let total = self.count(conn, &Where::default().at_or_after("created_at", since))?;
            if total == 0 {
                return Ok(0.0);
            }
            let resolved = self.count(
                conn,
                &Where::default()
                    .at_or_after("created_at", since)
                    .eq("status", status::RESOLVED),
            )?;
            Ok(python_round(resolved as f64 / total as f64, 4))
        })
    }

    fn get_avg_retry_count(&self) -> Result<f64> {
        let window = self.window();
        self.read(|conn| {
            let avg: Option<f64> = conn
                .query_row(
                    &format!("SELECT AVG(retry_count) FROM {DLQ_TABLE}{}", window.sql()),
                    rusqlite::params_from_iter(window.params.iter()),
                    |row| row.get(0),
                )
                .map_err(|e| self.error("average", e))?;
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
        let key = match column {
            "created_at" | "updated_at" | "resolved_at" => format!("baldur_instant_ns({column})"),
            other => other.to_string(),
        };
        let direction = if descending { "DESC" } else { "ASC" };
        let mut condition = Where::default();
        for (column, value) in [
            ("status", &query.status),
            ("domain", &query.domain),
            ("failure_type", &query.failure_type),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                condition = condition.eq(column, value);
            }
        }
        let offset = (query.page - 1).saturating_mul(query.page_size);
        self.read(|conn| {
            let total = self.count(conn, &condition)?;
            let sql = format!(
                "SELECT id, domain, failure_type, status, entity_type, entity_id, retry_count, \
                 error_code, created_at, updated_at, resolved_at FROM {DLQ_TABLE}{} \
                 ORDER BY {key} {direction}, id {direction} LIMIT {} OFFSET {}",
                condition.sql(),
                query.page_size,
                offset.min(i64::MAX as u64)
            );
            let mut statement = conn.prepare(&sql).map_err(|e| self.error("list", e))?;
            let mut rows = statement
                .query(rusqlite::params_from_iter(condition.params.iter()))
                .map_err(|e| self.error("list", e))?;
            let mut items = Vec::new();
            while let Some(row) = rows.next().map_err(|e| self.error("list", e))? {
                let id: i64 = row.get(0).map_err(|e| self.error("list", e))?;
                let id = id.to_string();
                let text = |i: usize| -> Result<Option<String>> {
                    row.get::<_, Option<String>>(i)
                        .map_err(|e| self.bad_row(DLQ_TABLE, &id, e.to_string()))
                };
                items.push(EntrySummary {
                    domain: text(1)?.unwrap_or_default(),
                    failure_type: text(2)?.unwrap_or_default(),
                    status: text(3)?.unwrap_or_default(),
                    entity_type: text(4)?,
                    entity_id: text(5)?,
                    retry_count: row
                        .get::<_, Option<i64>>(6)
                        .map_err(|e| self.bad_row(DLQ_TABLE, &id, e.to_string()))?
                        .unwrap_or(0),
                    error_code: text(7)?.unwrap_or_default(),
                    created_at: self.required_timestamp(&id, "created_at", text(8)?)?,
                    updated_at: self.required_timestamp(&id, "updated_at", text(9)?)?,
                    resolved_at: self.timestamp(DLQ_TABLE, &id, "resolved_at", text(10)?)?,
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
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT id, domain, failure_type, status, entity_type, entity_id, user_id, \
                     retry_count, max_retries, error_code, last_retry_at, resolved_at, \
                     created_at, updated_at, expires_at, data FROM {DLQ_TABLE} WHERE id = ?1"
                ))
                .map_err(|e| self.error("detail", e))?;
            let mut rows = statement
                .query([key])
                .map_err(|e| self.error("detail", e))?;
            let Some(row) = rows.next().map_err(|e| self.error("detail", e))? else {
                return Ok(None);
            };
            let id = key.to_string();
            let text = |i: usize| -> Result<Option<String>> {
                row.get::<_, Option<String>>(i)
                    .map_err(|e| self.bad_row(DLQ_TABLE, &id, e.to_string()))
            };
            let integer = |i: usize| -> Result<Option<i64>> {
                row.get::<_, Option<i64>>(i)
                    .map_err(|e| self.bad_row(DLQ_TABLE, &id, e.to_string()))
            };
            let data = self.data_of(&id, text(15)?)?;
            Ok(Some(EntryDetail {
                domain: text(1)?.unwrap_or_default(),
                failure_type: text(2)?.unwrap_or_default(),
                status: text(3)?.unwrap_or_default(),
                entity_type: text(4)?,
                entity_id: text(5)?,
                user_id: integer(6)?,
                retry_count: integer(7)?.unwrap_or(0),
                max_retries: integer(8)?.unwrap_or(2),
                error_code: text(9)?.unwrap_or_default(),
                last_retry_at: self.timestamp(DLQ_TABLE, &id, "last_retry_at", text(10)?)?,
                resolved_at: self.timestamp(DLQ_TABLE, &id, "resolved_at", text(11)?)?,
                created_at: self.required_timestamp(&id, "created_at", text(12)?)?,
                updated_at: self.required_timestamp(&id, "updated_at", text(13)?)?,
                expires_at: self.timestamp(DLQ_TABLE, &id, "expires_at", text(14)?)?,
                error_message: match data.get("error_message") {
                    Some(Value::String(s)) => s.clone(),
                    None => String::new(),
                    Some(other) => other.to_string(),
                },
                snapshot_data: data
                    .get("snapshot_data")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
                metadata: data
                    .get("metadata")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
                id,
            }))
        })
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
        let condition = Where::default()
            .any_of("status", statuses)
            .before("created_at", hours_before(self.now(), sla_threshold_hours));
        let groups = self.read(|conn| self.group(conn, "domain", &condition, None))?;
        Ok(groups
            .into_iter()
            .map(|(domain, n)| (domain.unwrap_or_default(), n))
            .collect())
    }

    fn get_cleanup_stats(&self) -> Result<CleanupStats> {
        let now = self.now();
        self.read(|conn| {
            let total = self.count(conn, &Where::default())?;
            let by_status = self
                .group(conn, "status", &Where::default(), None)?
                .into_iter()
                .map(|(name, n)| (name.unwrap_or_default(), n))
                .collect();
            let resolved_old = self.count(
                conn,
                &Where::default()
                    .eq("status", status::RESOLVED)
                    .before("resolved_at", days_before(now, 30)),
            )?;
            let archived_old = self.count(
                conn,
                &Where::default()
                    .eq("status", status::ARCHIVED)
                    .before("updated_at", days_before(now, 90)),
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
        let condition = Where::default()
            .eq("status", status::RESOLVED)
            .before("resolved_at", days_before(now, older_than_days));
        self.write(|conn| {
            let mut params = vec![
                SqlValue::Text(status::ARCHIVED.into()),
                SqlValue::Text(timestamp_text(now)),
            ];
            params.extend(condition.params.iter().cloned());
            let changed = conn
                .execute(
                    &format!(
                        "UPDATE {DLQ_TABLE} SET status = ?, updated_at = ?{}",
                        condition.sql()
                    ),
                    rusqlite::params_from_iter(params.iter()),
                )
                .map_err(|e| self.error("archive", e))?;
            Ok(changed as u64)
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
        let mut condition = Where::default().eq("status", status::ARCHIVED);
        if let Some(ids) = ids {
            let keys: Vec<i64> = ids.iter().filter_map(|id| integer_id(id)).collect();
            if keys.is_empty() {
                return Ok(0);
            }
            condition
                .clauses
                .push(format!("id IN ({})", vec!["?"; keys.len()].join(", ")));
            condition
                .params
                .extend(keys.into_iter().map(SqlValue::Integer));
        }
        if let Some(days) = days {
            condition = condition.before("updated_at", days_before(now, days));
        }
        self.write(|conn| {
            conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO {PURGED_TABLE} (id) SELECT id FROM {DLQ_TABLE}{}",
                    condition.sql()
                ),
                rusqlite::params_from_iter(condition.params.iter()),
            )
            .map_err(|e| self.error("purge", e))?;
            let purged = conn
                .execute(
                    &format!("DELETE FROM {DLQ_TABLE}{}", condition.sql()),
                    rusqlite::params_from_iter(condition.params.iter()),
                )
                .map_err(|e| self.error("purge", e))?;
            Ok(purged as u64)
        })
    }

    fn get_circuit_breaker_summary(&self) -> Result<CircuitBreakerSummary> {
        self.read(|conn| {
            let mut summary = CircuitBreakerSummary::default();
            if !self.cb_table_exists(conn)? {
                return Ok(summary);
            }
            let mut statement = conn
                .prepare(&format!(
                    "SELECT state, COUNT(*) FROM {CB_TABLE} GROUP BY state"
                ))
                .map_err(|e| self.error("circuit breakers", e))?;
            let rows = statement
                .query_map([], |row| {
                    Ok((row.get::<_, Option<String>>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(|e| self.error("circuit breakers", e))?;
            for row in rows {
                let (state, n) = row.map_err(|e| self.error("circuit breakers", e))?;
                let n = super::unsigned(n);
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
        self.read(|conn| {
            if !self.cb_table_exists(conn)? {
                return Ok(Vec::new());
            }
            let mut statement = conn
                .prepare(&format!(
                    "SELECT service_name, state, failure_count, success_count, last_failure_at, \
                     updated_at FROM {CB_TABLE} ORDER BY service_name"
                ))
                .map_err(|e| self.error("circuit breakers", e))?;
            let mut rows = statement
                .query([])
                .map_err(|e| self.error("circuit breakers", e))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(|e| self.error("circuit breakers", e))? {
                let name: String = row
                    .get::<_, Option<String>>(0)
                    .map_err(|e| self.error("circuit breakers", e))?
                    .unwrap_or_default();
                let get_text = |i: usize| {
                    row.get::<_, Option<String>>(i)
                        .map_err(|e| self.bad_row(CB_TABLE, &name, e.to_string()))
                };
                let get_int = |i: usize| {
                    row.get::<_, Option<i64>>(i)
                        .map_err(|e| self.bad_row(CB_TABLE, &name, e.to_string()))
                };
                out.push(CircuitBreakerInfo {
                    state: get_text(1)?.unwrap_or_default(),
                    failure_count: get_int(2)?.unwrap_or(0),
                    success_count: get_int(3)?.unwrap_or(0),
                    last_failure_time: self.timestamp(
                        CB_TABLE,
                        &name,
                        "last_failure_at",
                        get_text(4)?,
                    )?,
                    last_state_change: self.timestamp(
                        CB_TABLE,
                        &name,
                        "updated_at",
                        get_text(5)?,
                    )?,
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
            SqlValue::Integer(id),
            text_or_null(entry_data, "domain", Some(""))?,
            text_or_null(entry_data, "failure_type", Some(""))?,
            text_or_null(entry_data, "status", Some(status::PENDING))?,
            text_or_null(entry_data, "entity_type", None)?,
            text_or_null(entry_data, "entity_id", None)?,
            integer_or_null(entry_data, "user_id", None)?,
            integer_or_null(entry_data, "retry_count", Some(0))?,
            integer_or_null(entry_data, "max_retries", Some(2))?,
            text_or_null(entry_data, "error_code", Some(""))?,
            resolved_at.map_or(SqlValue::Null, |t| SqlValue::Text(timestamp_text(t))),
            SqlValue::Text(timestamp_text(created_at)),
            SqlValue::Text(timestamp_text(now)),
            SqlValue::Text(Value::Object(data).to_string()),
        ];
        let guarded = GUARDED_STATUSES
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        self.write(|conn| {
            let purged: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM {PURGED_TABLE} WHERE id = ?1"),
                    [id],
                    |row| row.get(0),
                )
                .map_err(|e| self.error("persist", e))?;
            if purged > 0 {
                return Ok(());
            }
            conn.execute(
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
                rusqlite::params_from_iter(values.iter()),
            )
            .map_err(|e| self.error("persist", e))?;
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
        let row = self.read(|conn| {
            conn.query_row(
                &format!(
                    "SELECT domain, status, created_at, resolved_at, data FROM {DLQ_TABLE} WHERE id = ?1"
                ),
                [key],
                |row| {
                    Ok((
                        row.get::<_, Option<String>>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        row.get::<_, Option<String>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(self.error("audit trail", e)),
            })
        })?;
        let Some((domain, current, created, resolved, data)) = row else {
            return Ok(trail);
        };
        let id = key.to_string();
        trail.domain = domain.filter(|d| !d.is_empty()).unwrap_or("unknown".into());
        trail.current_status = current
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown".into());
        trail.created_at = self.timestamp(DLQ_TABLE, &id, "created_at", created)?;
        trail.resolved_at = self.timestamp(DLQ_TABLE, &id, "resolved_at", resolved)?;
        let data = self.data_of(&id, data)?;
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
        self.write(|conn| {
            let data: Option<Option<String>> = conn
                .query_row(
                    &format!("SELECT data FROM {DLQ_TABLE} WHERE id = ?1"),
                    [key],
                    |row| row.get(0),
                )
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(self.error("link audit entry", e)),
                })?;
            let Some(data) = data else {
                return Ok(false);
            };
            let mut data = self.data_of(&key.to_string(), data)?;
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
            conn.execute(
                &format!("UPDATE {DLQ_TABLE} SET data = ?1, updated_at = ?2 WHERE id = ?3"),
                rusqlite::params![Value::Object(data).to_string(), timestamp_text(now), key],
            )
            .map_err(|e| self.error("link audit entry", e))?;
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
