//! `dashboard`: every statistic at once; `--json` holds the library's
//! answers under the seed's method names, now and `--as-of`; read-only.

mod cli_common;

use std::path::Path;
use std::sync::Arc;

use baldur_journal::DiskJournal;
use baldur_journal::projection::{EntryListQuery, JournalStatistics, StatisticsRepository};
use cli_common::*;
use serde_json::Value;

fn value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap()
}

fn check(got: &Value, repo: &dyn StatisticsRepository) {
    let latest = EntryListQuery {
        page_size: 5,
        ..Default::default()
    };
    let want = [
        ("status_counts", value(repo.get_status_counts().unwrap())),
        (
            "recent_activity",
            value(repo.get_recent_activity(24, 7).unwrap()),
        ),
        (
            "resolution_rate",
            value(repo.get_resolution_rate(30).unwrap()),
        ),
        (
            "avg_retry_count",
            value(repo.get_avg_retry_count().unwrap()),
        ),
        (
            "domain_distribution",
            value(repo.get_domain_distribution(10).unwrap()),
        ),
        (
            "failure_type_distribution",
            value(repo.get_failure_type_distribution(10).unwrap()),
        ),
        (
            "sla_breaches",
            value(repo.get_sla_breaches(4, None).unwrap()),
        ),
        ("cleanup_stats", value(repo.get_cleanup_stats().unwrap())),
        (
            "circuit_breaker_summary",
            value(repo.get_circuit_breaker_summary().unwrap()),
        ),
        (
            "circuit_breakers",
            value(repo.list_circuit_breakers().unwrap()),
        ),
        ("latest_entries", value(repo.list_entries(&latest).unwrap())),
    ];
    for (key, want) in want {
        assert_eq!(got[key], want, "{key}");
    }
}

fn dashboard_json(dir: &Path, extra: &[&str]) -> Value {
    let text = stdout(&run_ok(cli(dir).args(["dashboard", "--json"]).args(extra)));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn dashboard_json_is_the_library_now_and_as_of() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = make_dlq_journal(tmp.path());
    let before = snapshot(tmp.path());
    let lib = JournalStatistics::new(Arc::new(DiskJournal::open_read_only(tmp.path()).unwrap()));

    let got = dashboard_json(tmp.path(), &[]);
    check(&got, &lib);
    assert_eq!(got["as_of_sequence"], fixture.records.len() as u64);

    let (sequence, time, _) = fixture.records[fixture.records.len() / 3].clone();
    let got = dashboard_json(tmp.path(), &["--as-of", &sequence.to_string()]);
    check(&got, &lib.as_of_sequence(sequence).unwrap());
    assert_eq!(got["as_of_sequence"], sequence);
    let got = dashboard_json(tmp.path(), &["--as-of", &time.to_string()]);
    check(&got, &lib.as_of_time(time).unwrap());
    assert_eq!(got["now"], value(time));
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "dashboard wrote to the directory"
    );
}

#[test]
fn dashboard_text_has_every_section() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let before = snapshot(tmp.path());
    let text = stdout(&run_ok(cli(tmp.path()).arg("dashboard")));
    for section in [
        "DLQ dashboard at ",
        "STATUS",
        "ACTIVITY",
        "resolution rate",
        "mean retries",
        "CLEANUP",
        "DOMAIN",
        "FAILURE TYPE",
        "WAITING > 4 H",
        "BREAKER",
        "circuit breakers: 2 (1 closed, 1 open, 0 half open)",
        "LATEST ENTRIES (9 in all)",
        "dlq-4",
    ] {
        assert!(text.contains(section), "{section} in:\n{text}");
    }
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn an_empty_journal_gives_an_empty_dashboard() {
    let tmp = tempfile::tempdir().unwrap();
    DiskJournal::builder(tmp.path())
        .open()
        .unwrap()
        .close()
        .unwrap();
    let text = stdout(&run_ok(cli(tmp.path()).arg("dashboard")));
    assert!(text.contains("LATEST ENTRIES (0 in all)"), "{text}");
    let got = dashboard_json(tmp.path(), &[]);
    assert_eq!(got["status_counts"]["total"], 0);
}
