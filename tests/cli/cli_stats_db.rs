//! `stats --stats-db URL` and `dashboard --stats-db URL`: the answers of
//! the reference's SQL tables, in the fold's JSON, measured from `--now`;
//! `--as-of` refused with it; a missing database an error that changes
//! nothing.
#![cfg(feature = "sql")]

use std::sync::Arc;

use crate::cli_common::*;
use baldur_journal::projection::{ManualClock, StatisticsRepository};
use baldur_journal::{SqlStatistics, Timestamp};
use serde_json::{Value, json};

fn bare() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.env_remove("BALDUR_JOURNAL_DIR").timeout(TIMEOUT);
    cmd
}

const NOW: &str = "2025-03-01T12:00:00Z";

/// A DLQ table with a few entries, written through the library.
fn table(dir: &tempfile::TempDir) -> (String, SqlStatistics) {
    let url = format!("sqlite:///{}/dlq.db", dir.path().display());
    let clock = ManualClock::new(Timestamp::parse(NOW).unwrap());
    let stats = SqlStatistics::open_url(&url)
        .unwrap()
        .with_clock(Arc::new(clock));
    for (id, domain, status, created) in [
        (1, "payments", "pending", "2025-03-01T01:00:00Z"),
        (2, "payments", "resolved", "2025-02-27T00:00:00Z"),
        (3, "orders", "requires_review", "2025-02-20T00:00:00Z"),
        (4, "orders", "pending", "2024-12-01T00:00:00Z"),
    ] {
        let snapshot = json!({"id": id, "domain": domain, "failure_type": "timeout",
            "status": status, "created_at": created});
        stats.persist_entry(snapshot.as_object().unwrap()).unwrap();
    }
    (url, stats)
}

fn json_of(args: &[&str]) -> Value {
    serde_json::from_str(&stdout(&run_ok(bare().args(args)))).unwrap()
}

#[test]
fn stats_and_dashboard_answer_from_the_tables_at_now() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stats) = table(&dir);
    let status = json_of(&[
        "stats",
        "status",
        "--stats-db",
        &url,
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(
        status,
        serde_json::to_value(stats.get_status_counts().unwrap()).unwrap()
    );
    assert_eq!(status["total"], 3, "the 30-day window from --now");
    let sla = json_of(&["stats", "sla", "--stats-db", &url, "--now", NOW, "--json"]);
    assert_eq!(sla, json!({"orders": 2, "payments": 1}));
    let list = json_of(&[
        "stats",
        "list",
        "--stats-db",
        &url,
        "--now",
        NOW,
        "--order-by",
        "id",
        "--json",
    ]);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    // The dashboard: the fold's keys, every answer the library's.
    let dashboard = json_of(&["dashboard", "--stats-db", &url, "--now", NOW, "--json"]);
    let folded = json_of(&["--journal", "memory:", "dashboard", "--now", NOW, "--json"]);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&dashboard), keys(&folded));
    assert_eq!(dashboard["as_of_sequence"], Value::Null);
    assert_eq!(dashboard["status_counts"], status);
    assert_eq!(
        dashboard["cleanup_stats"],
        serde_json::to_value(stats.get_cleanup_stats().unwrap()).unwrap()
    );
    let text = stdout(&run_ok(bare().args([
        "dashboard",
        "--stats-db",
        &url,
        "--now",
        NOW,
    ])));
    assert!(text.contains("from the SQL tables of sqlite:///"), "{text}");
    // A missing entry exits 1, as with the fold.
    run_code(
        bare().args(["stats", "entry", "99", "--stats-db", &url, "--json"]),
        1,
    );
}

#[test]
fn as_of_is_refused_and_a_missing_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = table(&dir);
    for args in [
        vec!["stats", "status", "--stats-db", &url, "--as-of", "5"],
        vec!["dashboard", "--stats-db", &url, "--as-of", NOW],
    ] {
        let output = run_code(bare().args(&args), 2);
        assert!(
            stderr(&output).contains("--stats-db"),
            "{args:?}: {output:?}"
        );
    }
    let missing = format!("sqlite:///{}/missing.db", dir.path().display());
    let output = run_code(bare().args(["stats", "status", "--stats-db", &missing]), 2);
    assert!(stderr(&output).contains("missing.db"), "{output:?}");
    assert!(!dir.path().join("missing.db").exists());
    let output = run_code(
        bare().args([
            "stats",
            "status",
            "--stats-db",
            "postgres://app:s3cret@127.0.0.1:1/dlq",
        ]),
        2,
    );
    let shown = stderr(&output);
    assert!(
        shown.contains("127.0.0.1:1/dlq") && !shown.contains("s3cret"),
        "{shown}"
    );
}
