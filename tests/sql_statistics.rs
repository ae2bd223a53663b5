//! `SqlStatistics`'s writes and failures: the terminal guard (also for
//! `expired` and `permanently_failed`, unlike the reference), purges that
//! stay purged, audit links that keep `details`, an invalid `order_by`
//! refused, and a database that cannot answer giving an error, never
//! empty data.
//!
//! Each check runs on SQLite and on a throwaway PostgreSQL server
//! (tests/pg_common: skips visibly without Debian's `postgresql`, fails
//! under `CI`, off with `BALDUR_NO_POSTGRES=1`). A generated history
//! written to both databases must read the same through every method.
#![cfg(feature = "sql")]

use std::sync::Arc;

use baldur_journal::projection::{
    AuditLink, EntryListQuery, ManualClock, PurgeSelection, StatisticsRepository,
};
use baldur_journal::{Error, SqlStatistics, SqlStatisticsOptions, Timestamp};
#[cfg(feature = "postgres")]
use baldur_test_support::pg_common;
use serde_json::{Map, Value, json};

const DAY: i64 = 86_400 * 1_000_000_000;

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn snapshot(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn open(dir: &tempfile::TempDir, clock: &ManualClock) -> SqlStatistics {
    open_url(&sqlite_url(dir), clock)
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:///{}/dlq.db", dir.path().display())
}

fn open_url(url: &str, clock: &ManualClock) -> SqlStatistics {
    SqlStatistics::open_url(url)
        .unwrap()
        .with_clock(Arc::new(clock.clone()))
}

/// Runs `check` with the URL of an empty SQLite database, then of an
/// empty PostgreSQL database (unless PostgreSQL is unavailable: skipped,
/// tests/skip).
fn on_both(check: impl Fn(&str)) {
    let dir = tempfile::tempdir().unwrap();
    check(&sqlite_url(&dir));
    #[cfg(feature = "postgres")]
    if let Some(server) = pg_common::Server::start() {
        check(&server.url);
    }
}

fn status_of(stats: &SqlStatistics, id: &str) -> Option<String> {
    stats.get_entry_detail(id).unwrap().map(|d| d.status)
}

#[test]
fn the_terminal_guard_covers_expired_and_permanently_failed() {
    on_both(terminal_guard);
}

fn terminal_guard(url: &str) {
    let clock = ManualClock::new(at("2025-03-01T00:00:00Z"));
    let stats = open_url(url, &clock);
    assert_eq!(
        stats
            .persist_entry(&snapshot(json!({"domain": "x"})))
            .unwrap(),
        None
    );
    let base = json!({"domain": "payments", "failure_type": "timeout", "created_at": "2025-02-28T10:00:00Z"});
    let with = |id: u64, status: &str| {
        let mut s = snapshot(base.clone());
        s.insert("id".into(), id.into());
        s.insert("status".into(), status.into());
        s
    };
    for (id, end) in [
        (1, "resolved"),
        (2, "rejected"),
        (3, "archived"),
        (4, "expired"),
        (5, "permanently_failed"),
    ] {
        assert_eq!(
            stats.persist_entry(&with(id, "pending")).unwrap(),
            Some(id.to_string())
        );
        stats.persist_entry(&with(id, end)).unwrap();
        // A late snapshot from before the end: refused, the id still returned.
        assert_eq!(
            stats.persist_entry(&with(id, "pending")).unwrap(),
            Some(id.to_string())
        );
        assert_eq!(
            status_of(&stats, &id.to_string()).as_deref(),
            Some(end),
            "entry {id}"
        );
    }
    // Terminal to terminal still applies.
    stats.persist_entry(&with(4, "resolved")).unwrap();
    assert_eq!(status_of(&stats, "4").as_deref(), Some("resolved"));
    // Open statuses move freely.
    stats.persist_entry(&with(6, "pending")).unwrap();
    stats.persist_entry(&with(6, "requires_review")).unwrap();
    stats.persist_entry(&with(6, "pending")).unwrap();
    assert_eq!(status_of(&stats, "6").as_deref(), Some("pending"));
    // Keys that are not columns land in data; the detail reads them back.
    let mut rich = with(7, "pending");
    rich.insert("error_message".into(), "boom".into());
    rich.insert("snapshot_data".into(), json!({"order": 42}));
    stats.persist_entry(&rich).unwrap();
    let detail = stats.get_entry_detail("7").unwrap().unwrap();
    assert_eq!(detail.error_message, "boom");
    assert_eq!(detail.snapshot_data, json!({"order": 42}));
    assert_eq!(detail.created_at, at("2025-02-28T10:00:00Z"));
    assert_eq!(detail.updated_at, clock.now());
    assert_eq!(
        stats
            .sync_from_runtime(&[with(8, "pending"), snapshot(json!({}))])
            .unwrap(),
        1
    );
    // An id the table cannot key is an error, not a silent None.
    let mut bad = with(9, "pending");
    bad.insert("id".into(), "node-1:42".into());
    assert!(matches!(
        stats.persist_entry(&bad),
        Err(Error::InvalidEntry(_))
    ));
}

#[test]
fn archives_and_purges_are_final() {
    on_both(archives_and_purges);
}

fn archives_and_purges(url: &str) {
    let clock = ManualClock::new(at("2025-01-01T00:00:00Z"));
    let stats = open_url(url, &clock);
    for id in 1..=4 {
        stats
            .persist_entry(&snapshot(json!({
                "id": id, "domain": "d", "failure_type": "t", "status": "resolved",
                "resolved_at": "2025-01-01T00:00:00Z",
            })))
            .unwrap();
    }
    clock.set(Timestamp::from_unix_nanos(
        at("2025-01-01T00:00:00Z").as_unix_nanos() + 31 * DAY,
    ));
    assert_eq!(stats.archive_old_entries(30).unwrap(), 4);
    assert_eq!(stats.archive_old_entries(30).unwrap(), 0);
    let cleanup = stats.get_cleanup_stats().unwrap();
    assert_eq!(cleanup.by_status.get("archived"), Some(&4));
    assert_eq!(
        stats
            .purge_archived(&PurgeSelection::Ids(vec![
                "1".into(),
                "2".into(),
                "nope".into()
            ]))
            .unwrap(),
        2
    );
    // A late snapshot of a purged entry does not bring it back.
    stats
        .persist_entry(&snapshot(
            json!({"id": 1, "domain": "d", "failure_type": "t", "status": "pending"}),
        ))
        .unwrap();
    assert_eq!(stats.get_entry_detail("1").unwrap(), None);
    // Ids and an age together: both conditions (the reference ignored the age).
    assert_eq!(
        stats
            .purge_archived(&PurgeSelection::IdsOlderThanDays {
                ids: vec!["3".into()],
                older_than_days: 1
            })
            .unwrap(),
        0
    );
    clock.set(Timestamp::from_unix_nanos(
        clock.now().as_unix_nanos() + 2 * DAY,
    ));
    assert_eq!(
        stats
            .purge_archived(&PurgeSelection::OlderThanDays(1))
            .unwrap(),
        2
    );
    assert_eq!(stats.get_cleanup_stats().unwrap().total, 0);
}

#[test]
fn audit_links_keep_details_and_reads_refuse_a_bad_order() {
    on_both(audit_links);
}

fn audit_links(url: &str) {
    let clock = ManualClock::new(at("2025-01-01T00:00:00Z"));
    let stats = open_url(url, &clock);
    stats
        .persist_entry(&snapshot(
            json!({"id": 5, "domain": "d", "failure_type": "t"}),
        ))
        .unwrap();
    let mut link = AuditLink::new("5", "replay");
    link.details = Some("operator asked".into());
    link.audit_record_hash = Some("ab12".into());
    assert!(stats.link_audit_entry(&link).unwrap());
    assert!(
        !stats
            .link_audit_entry(&AuditLink::new("6", "replay"))
            .unwrap()
    );
    let mut other = AuditLink::new("5", "replay");
    other.entity_type = "incident".into();
    assert!(!stats.link_audit_entry(&other).unwrap());
    let trail = stats.get_audit_trail_by_entity("5", "dlq_entry").unwrap();
    assert_eq!(trail.entries.len(), 1);
    assert_eq!(trail.entries[0].details.as_deref(), Some("operator asked"));
    assert_eq!(trail.entries[0].hash_chain.as_deref(), Some("ab12"));
    assert_eq!(trail.domain, "d");
    let bad = EntryListQuery {
        order_by: "-password".into(),
        ..Default::default()
    };
    assert!(matches!(
        stats.list_entries(&bad),
        Err(Error::InvalidFilter(_))
    ));
    let zero = EntryListQuery {
        page: 0,
        ..Default::default()
    };
    assert!(stats.list_entries(&zero).is_err());
    // No baldur_cb_state table: no breakers (the reference never writes one).
    assert_eq!(stats.get_circuit_breaker_summary().unwrap().total, 0);
    assert!(stats.list_circuit_breakers().unwrap().is_empty());
}

#[test]
fn a_database_that_cannot_answer_is_an_error_not_empty_data() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let err = SqlStatistics::open_sqlite(
        &missing,
        SqlStatisticsOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::Sql { .. }), "{err}");
    // A server that does not answer: an error, never the password.
    let err = SqlStatistics::open_url("postgresql://app:s3cret@127.0.0.1:1/dlq").unwrap_err();
    if cfg!(feature = "postgres") {
        assert!(matches!(err, Error::Sql { .. }), "{err}");
    }
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let clock = ManualClock::new(at("2025-01-10T00:00:00Z"));
    let stats = open(&dir, &clock);
    stats
        .persist_entry(&snapshot(
            json!({"id": 1, "domain": "d", "failure_type": "t"}),
        ))
        .unwrap();
    let other = rusqlite::Connection::open(dir.path().join("dlq.db")).unwrap();
    other
        .execute("UPDATE baldur_dlq SET created_at = 'soon' WHERE id = 1", [])
        .unwrap();
    let err = stats.get_status_counts().unwrap_err().to_string();
    assert!(err.contains("soon"), "{err}");
    let err = stats.get_entry_detail("1").unwrap_err().to_string();
    assert!(err.contains("id 1") && err.contains("created_at"), "{err}");
    other
        .execute(
            "UPDATE baldur_dlq SET created_at = '2025-01-09 00:00:00+00:00'",
            [],
        )
        .unwrap();
    let locked = SqlStatistics::open_sqlite(
        &dir.path().join("dlq.db"),
        SqlStatisticsOptions {
            busy_timeout: std::time::Duration::from_millis(50),
            read_only: false,
            ..Default::default()
        },
    )
    .unwrap()
    .with_clock(Arc::new(clock.clone()));
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert!(matches!(locked.get_status_counts(), Err(Error::Sql { .. })));
    assert!(matches!(
        locked.archive_old_entries(1),
        Err(Error::Sql { .. })
    ));
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(locked.get_status_counts().unwrap().total, 1);
}

/// On PostgreSQL: a read-only open without the table, a row whose `data`
/// is not an object (naming the row), and a server that went away are
/// errors, never empty data.
#[cfg(feature = "postgres")]
#[test]
fn a_postgres_server_that_cannot_answer_is_an_error_not_empty_data() {
    let Some(server) = pg_common::Server::start() else {
        return;
    };
    let err = SqlStatistics::open_url_with(&server.url, true).unwrap_err();
    assert!(
        matches!(err, Error::Sql { .. }) && err.to_string().contains("baldur_dlq"),
        "{err}"
    );
    let clock = ManualClock::new(at("2025-01-10T00:00:00Z"));
    let stats = open_url(&server.url, &clock);
    stats
        .persist_entry(&snapshot(
            json!({"id": 1, "domain": "d", "failure_type": "t", "created_at": "2025-01-09T00:00:00Z"}),
        ))
        .unwrap();
    assert_eq!(stats.get_status_counts().unwrap().total, 1);
    let mut other = postgres::Client::connect(&server.url, postgres::NoTls).unwrap();
    other
        .execute("UPDATE baldur_dlq SET data = '[1]' WHERE id = 1", &[])
        .unwrap();
    let err = stats.get_entry_detail("1").unwrap_err().to_string();
    assert!(err.contains("id 1") && err.contains("data"), "{err}");
    drop(other);
    drop(server);
    assert!(matches!(stats.get_status_counts(), Err(Error::Sql { .. })));
    assert!(matches!(
        stats.archive_old_entries(1),
        Err(Error::Sql { .. })
    ));
}

/// Every read the statistics answer, as JSON, at the clock's now.
#[cfg(feature = "postgres")]
fn all_reads(stats: &SqlStatistics, ids: &[u64]) -> Value {
    let mut out = vec![
        serde_json::to_value(stats.get_status_counts().unwrap()).unwrap(),
        serde_json::to_value(stats.get_status_breakdown().unwrap()).unwrap(),
        serde_json::to_value(stats.get_domain_distribution(10).unwrap()).unwrap(),
        serde_json::to_value(stats.get_domain_distribution(2).unwrap()).unwrap(),
        serde_json::to_value(stats.get_failure_type_distribution(10).unwrap()).unwrap(),
        serde_json::to_value(stats.get_recent_activity(24, 7).unwrap()).unwrap(),
        serde_json::to_value(stats.get_recent_activity(72, 30).unwrap()).unwrap(),
        json!(stats.get_resolution_rate(30).unwrap()),
        json!(stats.get_resolution_rate(7).unwrap()),
        json!(stats.get_avg_retry_count().unwrap()),
        serde_json::to_value(stats.get_sla_breaches(4, None).unwrap()).unwrap(),
        serde_json::to_value(
            stats
                .get_sla_breaches(48, Some(&["pending", "replaying"]))
                .unwrap(),
        )
        .unwrap(),
        serde_json::to_value(stats.get_cleanup_stats().unwrap()).unwrap(),
    ];
    // Orders over columns that are never NULL here (NULLs sort first on
    // SQLite and last on PostgreSQL, in each database's own way, as the
    // reference's do).
    for (order_by, status) in [
        ("-created_at", None),
        ("created_at", None),
        ("updated_at", None),
        ("-retry_count", None),
        ("domain", None),
        ("-status", None),
        ("id", Some("pending")),
        ("-resolved_at", Some("resolved")),
        ("entity_type", None),
    ] {
        for page in [1, 2, 7] {
            let query = EntryListQuery {
                page,
                page_size: 25,
                status: status.map(str::to_string),
                order_by: order_by.into(),
                ..Default::default()
            };
            out.push(serde_json::to_value(stats.list_entries(&query).unwrap()).unwrap());
        }
    }
    for id in ids {
        let id = id.to_string();
        out.push(serde_json::to_value(stats.get_entry_detail(&id).unwrap()).unwrap());
        out.push(
            serde_json::to_value(stats.get_audit_trail_by_entity(&id, "dlq_entry").unwrap())
                .unwrap(),
        );
    }
    Value::Array(out)
}

/// A generated history (snapshots with retries and late repeats, every
/// end status, archives, purges, audit links) written through
/// `SqlStatistics` to SQLite and to PostgreSQL reads the same through
/// every method at several "now"s.
#[cfg(feature = "postgres")]
#[test]
fn a_history_reads_the_same_on_sqlite_and_postgres() {
    let Some(server) = pg_common::Server::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let start = at("2025-01-01T00:00:00Z").as_unix_nanos();
    let clock = ManualClock::new(Timestamp::from_unix_nanos(start));
    let both = [
        open_url(&sqlite_url(&dir), &clock),
        open_url(&server.url, &clock),
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let statuses = [
        "pending",
        "requires_review",
        "reviewing",
        "replaying",
        "resolved",
        "rejected",
        "expired",
        "permanently_failed",
    ];
    let domains = ["payments", "orders", "shipping", "billing", ""];
    let failure_types = ["timeout", "conflict", "invalid"];
    let entries: u64 = 400;
    for step in 0..3 * entries {
        let now = start + i64::try_from(step).unwrap() * 40 * 60 * 1_000_000_000;
        clock.set(Timestamp::from_unix_nanos(now));
        let id = next(entries) + 1;
        let created = Timestamp::from_unix_nanos(
            start + i64::try_from(id).unwrap() * 2 * 3_600 * 1_000_000_000 + 123_456_000,
        );
        let status = statuses[usize::try_from(next(8)).unwrap()];
        let resolved = matches!(status, "resolved" | "rejected" | "expired")
            .then(|| Timestamp::from_unix_nanos(now - 1_000_000));
        let entry = snapshot(json!({
            "id": id,
            "domain": domains[usize::try_from(id % 5).unwrap()],
            "failure_type": failure_types[usize::try_from(id % 3).unwrap()],
            "status": status,
            "entity_type": "order",
            "entity_id": format!("o-{id}"),
            "user_id": id * 7,
            "retry_count": next(4),
            "created_at": created.to_string(),
            "resolved_at": resolved.map(|t| t.to_string()),
            "error_message": format!("boom {id}"),
            "snapshot_data": {"order": id, "lines": [1, 2]},
        }));
        for stats in &both {
            stats.persist_entry(&entry).unwrap();
        }
        if step % 97 == 0 {
            let mut link = AuditLink::new(id.to_string(), "replay");
            link.audit_record_hash = Some(format!("h{step}"));
            for stats in &both {
                stats.link_audit_entry(&link).unwrap();
            }
        }
        if step % 150 == 149 {
            let archived: Vec<u64> = both
                .iter()
                .map(|s| s.archive_old_entries(3).unwrap())
                .collect();
            assert_eq!(archived[0], archived[1], "archive at step {step}");
        }
        if step % 300 == 299 {
            let ids: Vec<String> = (0..20).map(|_| (next(entries) + 1).to_string()).collect();
            let purged: Vec<u64> = both
                .iter()
                .map(|s| s.purge_archived(&PurgeSelection::Ids(ids.clone())).unwrap())
                .collect();
            assert_eq!(purged[0], purged[1], "purge at step {step}");
        }
    }
    let ids: Vec<u64> = (1..=entries).step_by(37).collect();
    let last = clock.now().as_unix_nanos();
    for (n, now) in [last, last + 3 * DAY, last + 40 * DAY, start + 20 * DAY]
        .into_iter()
        .enumerate()
    {
        clock.set(Timestamp::from_unix_nanos(now));
        let (lite, pg) = (all_reads(&both[0], &ids), all_reads(&both[1], &ids));
        assert!(
            lite.as_array().unwrap().iter().any(|v| v != &json!(0.0)),
            "the reads have something to compare"
        );
        for (i, (a, b)) in lite
            .as_array()
            .unwrap()
            .iter()
            .zip(pg.as_array().unwrap())
            .enumerate()
        {
            assert_eq!(a, b, "read {i} at now #{n}");
        }
    }
    assert!(both[0].get_cleanup_stats().unwrap().total > 100);
}

/// The projector's library API (`sql::project`): integer ids keep their
/// key, other ids get negative keys from the id map, a late purge deletes
/// the row, a run with nothing new reports nothing, and bad options, a
/// mark beyond the journal and another journal's database are errors.
#[test]
fn the_projector_keys_ids_and_refuses_what_it_cannot_resume() {
    on_both(projector_api);
}

fn projector_api(url: &str) {
    use baldur_journal::projection::events::{dlq_archive, dlq_purge};
    use baldur_journal::projection::{LifecycleEvent, LifecycleKind, StoreEvent};
    use baldur_journal::sql::{ProjectOptions, project};
    use baldur_journal::{EventJournal, MemoryJournal};

    let url = url.to_string();
    let journal = MemoryJournal::new();
    let t = at("2025-02-01T00:00:00Z");
    for id in ["7", "017", "dlq-a", "9"] {
        journal
            .append(&StoreEvent::new(id, "payments", "timeout").to_entry(t))
            .unwrap();
    }
    journal
        .append(&LifecycleEvent::new(LifecycleKind::Resolve, "9").to_entry(t))
        .unwrap();
    let options = ProjectOptions {
        batch_records: 2,
        ..ProjectOptions::new("memory")
    };
    let report = project(&journal, &url, &options).unwrap();
    assert_eq!((report.from_sequence, report.to_sequence), (0, 5));
    assert_eq!((report.records, report.batches), (5, 3));
    assert_eq!(
        report.entries_written, 5,
        "entry 9 twice: stored, then resolved"
    );

    let clock = ManualClock::new(at("2025-02-02T00:00:00Z"));
    let stats = open_url(&url, &clock);
    assert_eq!(status_of(&stats, "7").as_deref(), Some("pending"));
    assert_eq!(status_of(&stats, "9").as_deref(), Some("resolved"));
    assert_eq!(status_of(&stats, "-1").as_deref(), Some("pending"), "017");
    assert_eq!(status_of(&stats, "-2").as_deref(), Some("pending"), "dlq-a");
    assert_eq!(status_of(&stats, "17"), None);

    let again = project(&journal, &url, &options).unwrap();
    assert_eq!((again.records, again.entries_written), (0, 0));

    journal.append(&dlq_archive("9", None, None, t)).unwrap();
    journal.append(&dlq_purge("9", None, None, t)).unwrap();
    let tail = project(&journal, &url, &options).unwrap();
    assert_eq!((tail.from_sequence, tail.records), (5, 2));
    assert_eq!(tail.entries_deleted, 1);
    assert_eq!(status_of(&stats, "9"), None, "purged: the row is gone");

    let zero = ProjectOptions {
        batch_records: 0,
        ..ProjectOptions::new("memory")
    };
    assert!(matches!(
        project(&journal, &url, &zero),
        Err(Error::InvalidOption(_))
    ));
    let other = project(&journal, &url, &ProjectOptions::new("elsewhere")).unwrap_err();
    assert!(other.to_string().contains("\"memory\""), "{other}");
    let shorter = MemoryJournal::new();
    shorter
        .append(&StoreEvent::new("1", "payments", "timeout").to_entry(t))
        .unwrap();
    let beyond = project(&shorter, &url, &options).unwrap_err();
    assert!(
        beyond.to_string().contains("beyond the journal's latest 1"),
        "{beyond}"
    );
    let unreachable = project(&journal, "postgres://u:secret@127.0.0.1:1/db", &options)
        .unwrap_err()
        .to_string();
    assert!(
        unreachable.contains("127.0.0.1:1/db") && !unreachable.contains("secret"),
        "{unreachable}"
    );
}

/// Runs `statements` on the database at `url` (SQLite or PostgreSQL).
fn run_sql(url: &str, statements: &[String]) {
    if let Some(path) = url.strip_prefix("sqlite:///") {
        let conn = rusqlite::Connection::open(path).unwrap();
        for statement in statements {
            conn.execute_batch(statement).unwrap();
        }
    } else {
        #[cfg(feature = "postgres")]
        {
            let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
            for statement in statements {
                client.batch_execute(statement).unwrap();
            }
        }
    }
}

/// The Django flavour (`?flavor=django&table=NAME`, columns renamable):
/// a Django application's DLQ table, as Django's migrations create it,
/// read with the Django adapter's rules: every row for status counts,
/// distributions and the average retry count (not the SQLAlchemy
/// flavour's 30 days), a previous activity window of 7 days whatever
/// `days` is, entry details from the model's own `error_message`,
/// `snapshot_data` and `metadata` columns. Writes are refused (the
/// application owns its table), and so are bad parameters.
#[test]
fn the_django_flavour_reads_a_django_table_with_the_django_windows() {
    on_both(django_flavour);
}

fn django_flavour(url: &str) {
    let postgres = url.starts_with("postgres");
    let (ts, json, key, zone) = if postgres {
        ("timestamp with time zone", "jsonb", "bigint", "+00")
    } else {
        ("datetime", "text", "integer", "")
    };
    // Django's own DDL for AbstractFailedOperation (a subset of its
    // columns, with `created_at` renamed by the model to `created`).
    let mut statements = vec![format!(
        "CREATE TABLE ops_failedop (id {key} NOT NULL PRIMARY KEY, domain varchar(64) NOT NULL, \
         failure_type varchar(64) NOT NULL, status varchar(32) NOT NULL, \
         entity_type varchar(64) NOT NULL, entity_id varchar(128) NOT NULL, \
         snapshot_data {json} NOT NULL, error_code varchar(64) NOT NULL, \
         error_message text NOT NULL, retry_count integer NOT NULL, \
         max_retries integer NOT NULL, last_retry_at {ts} NULL, metadata {json} NOT NULL, \
         resolved_at {ts} NULL, created {ts} NOT NULL, updated_at {ts} NOT NULL, \
         expires_at {ts} NULL)"
    )];
    // now = 2025-03-01: ids 1-3 created 40 days before (outside the
    // SQLAlchemy window), 4-5 two days before, 6 ten days before, 7 twenty
    // days before, 8-10 seven days before.
    let rows = [
        (1, "payments", "pending", 4, "2025-01-20 00:00:00", None),
        (2, "payments", "pending", 2, "2025-01-20 00:00:00", None),
        (
            3,
            "orders",
            "resolved",
            0,
            "2025-01-20 00:00:00",
            Some("2025-01-21 00:00:00"),
        ),
        (
            4,
            "orders",
            "resolved",
            1,
            "2025-02-27 00:00:00",
            Some("2025-02-28 12:00:00"),
        ),
        (5, "", "requires_review", 3, "2025-02-27 00:00:00", None),
        (6, "shipping", "pending", 0, "2025-02-19 00:00:00", None),
        (7, "shipping", "pending", 0, "2025-02-09 00:00:00", None),
        (8, "billing", "pending", 0, "2025-02-22 00:00:00", None),
        (9, "billing", "pending", 0, "2025-02-22 00:00:00", None),
        (10, "billing", "pending", 0, "2025-02-22 00:00:00", None),
    ];
    for (id, domain, status, retries, created, resolved) in rows {
        let resolved = resolved.map_or("NULL".to_string(), |r| format!("'{r}{zone}'"));
        statements.push(format!(
            "INSERT INTO ops_failedop VALUES ({id}, '{domain}', 'timeout', '{status}', 'order', \
             'o-{id}', '{{\"order\": {id}}}', 'E{id}', 'boom {id}', {retries}, 5, NULL, \
             '{{\"team\": \"core\"}}', {resolved}, '{created}.250000{zone}', '{created}{zone}', NULL)"
        ));
    }
    run_sql(url, &statements);
    let clock = ManualClock::new(at("2025-03-01T00:00:00Z"));
    let django_url = |params: &str| {
        let joiner = if url.contains('?') { '&' } else { '?' };
        format!("{url}{joiner}flavor=django&table=ops_failedop&created_at=created{params}")
    };
    let stats = SqlStatistics::open_url(&django_url(""))
        .unwrap()
        .with_clock(Arc::new(clock.clone()));

    let counts = stats.get_status_counts().unwrap();
    assert_eq!(
        (
            counts.total,
            counts.pending,
            counts.resolved,
            counts.requires_review
        ),
        (10, 7, 2, 1),
        "every row, not the last 30 days"
    );
    let domains = stats.get_domain_distribution(10).unwrap();
    let shown: Vec<(&str, u64, f64)> = domains
        .iter()
        .map(|d| (d.domain.as_str(), d.count, d.percentage))
        .collect();
    assert_eq!(
        shown,
        [
            ("billing", 3, 30.0),
            ("orders", 2, 20.0),
            ("payments", 2, 20.0),
            ("shipping", 2, 20.0),
            ("unknown", 1, 10.0)
        ]
    );
    assert_eq!(
        stats.get_avg_retry_count().unwrap(),
        1.0,
        "10 / 10, every row"
    );
    // days = 7: new = 4, 5, 8, 9, 10; previous [now - 14 d, now - 7 d) = 6.
    let week = stats.get_recent_activity(24, 7).unwrap();
    assert_eq!(
        (week.new_in_7d, week.resolved_in_7d, week.trend.as_str()),
        (5, 1, "up")
    );
    assert_eq!((week.new_in_24h, week.resolved_in_24h), (0, 1));
    // days = 2: new = 4, 5; the previous window is [now - 9 d, now - 2 d)
    // (7 days, not 2): 8, 9, 10, so "down". The SQLAlchemy flavour's
    // [now - 4 d, now - 2 d) holds none and would say "up".
    let short = stats.get_recent_activity(24, 2).unwrap();
    assert_eq!((short.new_in_7d, short.trend.as_str()), (2, "down"));
    assert_eq!(
        stats.get_resolution_rate(30).unwrap(),
        0.1429,
        "1 of 7 created in 30 days"
    );
    let sla = stats.get_sla_breaches(4, None).unwrap();
    assert_eq!(sla.get("payments"), Some(&2));
    assert_eq!(sla.get("billing"), Some(&3));
    assert_eq!(sla.get(""), Some(&1));

    let detail = stats.get_entry_detail("4").unwrap().unwrap();
    assert_eq!(detail.error_message, "boom 4");
    assert_eq!(detail.snapshot_data, json!({"order": 4}));
    assert_eq!(detail.metadata, json!({"team": "core"}));
    assert_eq!(detail.created_at, at("2025-02-27T00:00:00.25Z"));
    assert_eq!(detail.user_id, None, "the model has no user_id column");
    let page = stats
        .list_entries(&EntryListQuery {
            order_by: "-created_at".into(),
            page_size: 3,
            ..Default::default()
        })
        .unwrap();
    let ids: Vec<&str> = page.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["5", "4", "10"], "ties broken by id, descending");
    assert_eq!((page.total, page.has_next), (10, true));

    assert!(matches!(
        stats.archive_old_entries(1),
        Err(Error::Unsupported(_))
    ));
    assert_eq!(
        stats.get_entry_detail("3").unwrap().unwrap().status,
        "resolved"
    );
    assert_eq!(stats.get_circuit_breaker_summary().unwrap().total, 0);
    // Circuit breakers from `cb_table` (the columns of baldur_cb_state).
    run_sql(
        url,
        &[
            format!(
                "CREATE TABLE ops_breakers (service_name varchar(64) PRIMARY KEY, \
                 state varchar(16), failure_count integer, success_count integer, \
                 last_failure_at {ts} NULL, updated_at {ts} NULL)"
            ),
            format!(
                "INSERT INTO ops_breakers VALUES ('payments', 'open', 3, NULL, \
                 '2025-02-28 10:00:00{zone}', '2025-02-28 10:00:01{zone}'), \
                 ('orders', 'closed', 0, 9, NULL, NULL)"
            ),
        ],
    );
    let with_breakers = SqlStatistics::open_url(&django_url("&cb_table=ops_breakers")).unwrap();
    let summary = with_breakers.get_circuit_breaker_summary().unwrap();
    assert_eq!((summary.total, summary.open, summary.closed), (2, 1, 1));
    let breakers = with_breakers.list_circuit_breakers().unwrap();
    let shown: Vec<(&str, i64, i64)> = breakers
        .iter()
        .map(|b| (b.service_name.as_str(), b.failure_count, b.success_count))
        .collect();
    assert_eq!(shown, [("orders", 0, 9), ("payments", 3, 0)]);
    assert_eq!(
        breakers[1].last_failure_time,
        Some(at("2025-02-28T10:00:00Z"))
    );

    for (params, names) in [
        ("&created_at=created;drop", "created_at"),
        ("&flavor=odd", "flavor"),
        ("&id=", "id"),
    ] {
        let err = SqlStatistics::open_url(&django_url(params)).unwrap_err();
        assert!(matches!(err, Error::InvalidOption(_)), "{params}: {err}");
        assert!(err.to_string().contains(names), "{params}: {err}");
    }
    let joiner = if url.contains('?') { '&' } else { '?' };
    for params in ["flavor=django", "table=ops_failedop"] {
        let err = SqlStatistics::open_url(&format!("{url}{joiner}{params}")).unwrap_err();
        assert!(matches!(err, Error::InvalidOption(_)), "{params}: {err}");
    }
    // A renamed column that does not exist: an error, not empty data.
    let err = SqlStatistics::open_url(&django_url("&status=state"))
        .unwrap()
        .get_status_counts()
        .unwrap_err();
    assert!(matches!(err, Error::Sql { .. }), "{err}");
}
