//! `NativeStatistics`: the DLQ statistics folded over a journal, live or
//! as of a past sequence or time, or read from the reference's SQL tables
//! (`SqlStatistics`).
//!
//! One entry point, `call(method, arguments)`: the arguments and the answer
//! are JSON text with the seed's field names (the CLI's `stats --json`
//! writes the same), which the Python layer turns into the seed's DTOs.

use std::sync::Arc;

use baldur_journal::projection::{
    AuditLink, EntryListQuery, ManualClock, PurgeSelection, StatisticsView,
};
use baldur_journal::{
    AuditKey, AuditKeyring, EventJournal, JournalStatistics, SqlStatistics, StatisticsRepository,
    Timestamp,
};
use pyo3::prelude::*;
use serde_json::{Map, Value};

use crate::errors::{IntoPy, Kind, raise};
use crate::journal::NativeJournal;

/// The live fold, a fixed view of the past, or the SQL tables.
enum Repository {
    Live(JournalStatistics<dyn EventJournal>),
    View(Box<StatisticsView<dyn EventJournal>>),
    Sql(SqlStatistics),
}

impl Repository {
    fn get(&self) -> &dyn StatisticsRepository {
        match self {
            Repository::Live(live) => live,
            Repository::View(view) => &**view,
            Repository::Sql(sql) => sql,
        }
    }
}

/// The statistics of one journal.
#[pyclass(frozen, module = "baldur_journal._native")]
pub struct NativeStatistics {
    /// `None` only once dropped in a forked child.
    repository: Option<Repository>,
    /// The process that built it (see `NativeJournal`'s fork rule).
    opened_by: u32,
}

impl Drop for NativeStatistics {
    fn drop(&mut self) {
        if self.opened_by != std::process::id() {
            // IMPORTANT: the parent's journal and threads are not ours to
            // close from a forked child.
            std::mem::forget(self.repository.take());
        }
    }
}

impl NativeStatistics {
    fn new_in_this_process(repository: Repository) -> Self {
        NativeStatistics {
            repository: Some(repository),
            opened_by: std::process::id(),
        }
    }

    fn repository(&self, py: Python<'_>) -> PyResult<&Repository> {
        if self.opened_by != std::process::id() {
            return Err(crate::journal::forked(
                py,
                "statistics repository",
                self.opened_by,
            ));
        }
        self.repository
            .as_ref()
            .ok_or_else(|| raise(py, Kind::Closed, "the statistics are dropped".into()))
    }
}

/// An argument error, raised as `JournalInputError`.
fn bad(message: String) -> baldur_journal::Error {
    baldur_journal::Error::InvalidOption(message)
}

/// Argument `name` of `arguments`, or its default when absent or null.
fn argument<T: serde::de::DeserializeOwned>(
    arguments: &Map<String, Value>,
    name: &str,
    default: T,
) -> baldur_journal::Result<T> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| bad(format!("{name}: {e} (got {value})"))),
    }
}

/// Argument `name`, which must be given.
fn required<T: serde::de::DeserializeOwned>(
    arguments: &Map<String, Value>,
    name: &str,
) -> baldur_journal::Result<T> {
    match arguments.get(name) {
        None | Some(Value::Null) => Err(bad(format!("{name} is required"))),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| bad(format!("{name}: {e} (got {value})"))),
    }
}

/// JSON text of an answer.
fn json(value: &impl serde::Serialize) -> baldur_journal::Result<String> {
    serde_json::to_string(value).map_err(|e| bad(format!("unserializable answer: {e}")))
}

/// Answers one method of the repository.
fn answer(
    repository: &dyn StatisticsRepository,
    method: &str,
    arguments: &Map<String, Value>,
) -> baldur_journal::Result<String> {
    use baldur_journal::projection as p;
    match method {
        "get_status_counts" => json(&repository.get_status_counts()?),
        "get_status_breakdown" => json(&repository.get_status_breakdown()?),
        "get_domain_distribution" => json(&repository.get_domain_distribution(argument(
            arguments,
            "limit",
            p::DEFAULT_DISTRIBUTION_LIMIT,
        )?)?),
        "get_failure_type_distribution" => json(&repository.get_failure_type_distribution(
            argument(arguments, "limit", p::DEFAULT_DISTRIBUTION_LIMIT)?,
        )?),
        "get_recent_activity" => json(&repository.get_recent_activity(
            argument(arguments, "hours", p::DEFAULT_RECENT_HOURS)?,
            argument(arguments, "days", p::DEFAULT_RECENT_DAYS)?,
        )?),
        "get_resolution_rate" => json(&repository.get_resolution_rate(argument(
            arguments,
            "days",
            p::DEFAULT_RESOLUTION_DAYS,
        )?)?),
        "get_avg_retry_count" => json(&repository.get_avg_retry_count()?),
        "list_entries" => {
            let query = EntryListQuery {
                page: argument(arguments, "page", 1)?,
                page_size: argument(arguments, "page_size", p::DEFAULT_PAGE_SIZE)?,
                status: argument(arguments, "status", None)?,
                domain: argument(arguments, "domain", None)?,
                failure_type: argument(arguments, "failure_type", None)?,
                order_by: argument(arguments, "order_by", p::DEFAULT_ORDER_BY.to_string())?,
            };
            json(&repository.list_entries(&query)?)
        }
        "get_entry_detail" => {
            json(&repository.get_entry_detail(&required::<String>(arguments, "entry_id")?)?)
        }
        "get_sla_breaches" => {
            let statuses: Option<Vec<String>> = argument(arguments, "statuses", None)?;
            let statuses: Option<Vec<&str>> = statuses
                .as_ref()
                .map(|list| list.iter().map(String::as_str).collect());
            json(&repository.get_sla_breaches(
                argument(
                    arguments,
                    "sla_threshold_hours",
                    p::DEFAULT_SLA_THRESHOLD_HOURS,
                )?,
                statuses.as_deref(),
            )?)
        }
        "get_cleanup_stats" => json(&repository.get_cleanup_stats()?),
        "archive_old_entries" => json(&repository.archive_old_entries(argument(
            arguments,
            "older_than_days",
            p::DEFAULT_ARCHIVE_DAYS,
        )?)?),
        "purge_archived" => {
            let selection = PurgeSelection::from_options(
                argument(arguments, "ids", None)?,
                argument(arguments, "older_than_days", None)?,
            )?;
            json(&repository.purge_archived(&selection)?)
        }
        "get_circuit_breaker_summary" => json(&repository.get_circuit_breaker_summary()?),
        "list_circuit_breakers" => json(&repository.list_circuit_breakers()?),
        "persist_entry" => {
            let data: Map<String, Value> = required(arguments, "entry_data")?;
            json(&repository.persist_entry(&data)?)
        }
        "sync_from_runtime" => {
            let entries: Vec<Map<String, Value>> = required(arguments, "entries")?;
            json(&repository.sync_from_runtime(&entries)?)
        }
        "get_audit_trail_by_entity" => json(&repository.get_audit_trail_by_entity(
            &required::<String>(arguments, "entity_id")?,
            &argument(arguments, "entity_type", "dlq_entry".to_string())?,
        )?),
        "link_audit_entry" => {
            let link = AuditLink {
                entity_id: required(arguments, "entity_id")?,
                entity_type: required(arguments, "entity_type")?,
                action: required(arguments, "action")?,
                actor_id: argument(arguments, "actor_id", None)?,
                status: argument(arguments, "status", None)?,
                details: argument(arguments, "details", None)?,
                audit_record_hash: argument(arguments, "audit_record_hash", None)?,
            };
            json(&repository.link_audit_entry(&link)?)
        }
        "should_persist_async" => json(&repository.should_persist_async()),
        "get_async_persist_task_name" => json(&repository.get_async_persist_task_name()),
        other => Err(bad(format!("no statistics method {other:?}"))),
    }
}

#[pymethods]
impl NativeStatistics {
    /// The statistics of `journal`. `keys`: `(id, secret)` pairs that
    /// verify keyed audit chains; `signing_key`: the id among them that
    /// chains what is written through these statistics (default keyless);
    /// `now_ns`: a fixed clock for the time windows, in UTC nanoseconds.
    #[new]
    #[pyo3(signature = (journal, keys, signing_key, now_ns))]
    fn new(
        py: Python<'_>,
        journal: &NativeJournal,
        keys: Vec<(String, Vec<u8>)>,
        signing_key: Option<String>,
        now_ns: Option<i64>,
    ) -> PyResult<Self> {
        let journal: Arc<dyn EventJournal> = journal.backend(py)?.journal();
        let mut keyring = AuditKeyring::new();
        let mut signing = None;
        for (id, secret) in keys {
            let key = AuditKey::new(id.clone(), secret).py_err(py)?;
            if signing_key.as_deref() == Some(id.as_str()) {
                signing = Some(key.clone());
            }
            keyring.insert(key);
        }
        if let Some(id) = &signing_key
            && signing.is_none()
        {
            return Err(raise(
                py,
                Kind::Input,
                format!("signing_key {id:?} is not among the keys"),
            ));
        }
        let mut builder = JournalStatistics::builder(journal);
        if let Some(now) = now_ns {
            builder = builder.clock(ManualClock::new(Timestamp::from_unix_nanos(now)));
        }
        if let Some(key) = signing {
            builder = builder.audit_key(key);
        }
        let live = py
            .detach(|| builder.audit_verification_keys(keyring).build())
            .py_err(py)?;
        Ok(NativeStatistics::new_in_this_process(Repository::Live(
            live,
        )))
    }

    /// The statistics in the reference's DLQ tables (`baldur_dlq`,
    /// `baldur_cb_state`) of the SQLite database a `sqlite://` URL names,
    /// creating `baldur_dlq` when missing unless `read_only`; `now_ns`: a
    /// fixed clock for the time windows, in UTC nanoseconds.
    #[staticmethod]
    #[pyo3(signature = (url, read_only, now_ns))]
    fn open_sql(py: Python<'_>, url: &str, read_only: bool, now_ns: Option<i64>) -> PyResult<Self> {
        let mut sql = py
            .detach(|| SqlStatistics::open_url_with(url, read_only))
            .py_err(py)?;
        if let Some(now) = now_ns {
            sql = sql.with_clock(Arc::new(ManualClock::new(Timestamp::from_unix_nanos(now))));
        }
        Ok(NativeStatistics::new_in_this_process(Repository::Sql(sql)))
    }

    /// The statistics as of a sequence (`sequence`) or an append time
    /// (`time_ns`, UTC nanoseconds), read-only; `now_ns` sets the view's
    /// clock (by default the live clock for a sequence, the time itself
    /// for a time).
    #[pyo3(signature = (sequence, time_ns, now_ns))]
    fn as_of(
        &self,
        py: Python<'_>,
        sequence: Option<u64>,
        time_ns: Option<i64>,
        now_ns: Option<i64>,
    ) -> PyResult<Self> {
        let live = match self.repository(py)? {
            Repository::Live(live) => live,
            Repository::View(_) => {
                return Err(raise(
                    py,
                    Kind::Input,
                    "as_of of a view: take it from the live statistics".into(),
                ));
            }
            Repository::Sql(_) => {
                return Err(raise(
                    py,
                    Kind::Input,
                    "as_of of SQL statistics: the tables hold only the present; fold a journal \
                     (JournalStatisticsRepository) for the past"
                        .into(),
                ));
            }
        };
        let view = py
            .detach(|| match (sequence, time_ns) {
                (Some(sequence), None) => live.as_of_sequence(sequence),
                (None, Some(time)) => live.as_of_time(Timestamp::from_unix_nanos(time)),
                _ => Err(bad("as_of takes a sequence or a time, exactly one".into())),
            })
            .py_err(py)?;
        let view = match now_ns {
            Some(now) => view.with_now(Timestamp::from_unix_nanos(now)),
            None => view,
        };
        Ok(NativeStatistics::new_in_this_process(Repository::View(
            Box::new(view),
        )))
    }

    /// Calls `method` with JSON `arguments`; returns the answer as JSON.
    fn call(&self, py: Python<'_>, method: &str, arguments: &str) -> PyResult<String> {
        let arguments: Map<String, Value> = serde_json::from_str(arguments)
            .map_err(|e| raise(py, Kind::Input, format!("{method}: arguments: {e}")))?;
        let repository = self.repository(py)?;
        let answered = py
            .detach(|| answer(repository.get(), method, &arguments))
            .map_err(|e| raise(py, error_kind(&e), format!("{method}: {e}")))?;
        if matches!(repository, Repository::Live(_)) && WRITES.contains(&method) {
            // The write appended to the journal: wake its followers.
            crate::journal::notify_appended();
        }
        Ok(answered)
    }
}

/// The methods that append to a folded journal.
const WRITES: [&str; 5] = [
    "archive_old_entries",
    "purge_archived",
    "persist_entry",
    "sync_from_runtime",
    "link_audit_entry",
];

/// Input errors stay input errors; the rest keep their class.
fn error_kind(error: &baldur_journal::Error) -> Kind {
    match error {
        baldur_journal::Error::InvalidOption(_)
        | baldur_journal::Error::InvalidEntry(_)
        | baldur_journal::Error::InvalidFilter(_)
        | baldur_journal::Error::InvalidTimestamp { .. } => Kind::Input,
        baldur_journal::Error::ReadOnly => Kind::ReadOnly,
        baldur_journal::Error::Closed => Kind::Closed,
        baldur_journal::Error::Locked { .. } => Kind::Locked,
        _ => Kind::Journal,
    }
}
