//! `dashboard`: every statistic at once; `--json` holds the library's
//! answers under the seed's method names, now and `--as-of`; read-only.

use std::path::Path;
use std::sync::Arc;

use crate::cli_common::*;
use baldur_journal::projection::{
    EntryListQuery, JournalStatistics, ManualClock, StatisticsRepository,
};
use baldur_journal::{DiskJournal, Timestamp};
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

#[test]
fn dashboard_now_sets_the_windows_and_conflicts_with_as_of_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = make_dlq_journal(tmp.path());
    let journal = Arc::new(DiskJournal::open_read_only(tmp.path()).unwrap());
    let then = Timestamp::from_unix_nanos(fixture.now.as_unix_nanos() - 10 * DAY_NS);
    let then_text = then.to_string();
    let at_then = JournalStatistics::builder(journal.clone())
        .clock(ManualClock::new(then))
        .build()
        .unwrap();
    let got = dashboard_json(tmp.path(), &["--now", &then_text]);
    check(&got, &at_then);
    assert_eq!(got["now"], value(then));
    assert_ne!(
        got["status_counts"],
        dashboard_json(tmp.path(), &[])["status_counts"],
        "--now moved the window"
    );

    let lib = JournalStatistics::new(journal);
    let (sequence, _, _) = fixture.records[fixture.records.len() / 3].clone();
    let got = dashboard_json(
        tmp.path(),
        &["--as-of", &sequence.to_string(), "--now", &then_text],
    );
    check(&got, &lib.as_of_sequence(sequence).unwrap().with_now(then));
    assert_eq!(got["now"], value(then));
    assert_eq!(got["as_of_sequence"], sequence);

    let text = stdout(&run_ok(cli(tmp.path()).args([
        "dashboard",
        "--now",
        &then_text,
    ])));
    assert!(
        text.starts_with(&format!("DLQ dashboard at {}Z", &then_text[..19])),
        "{text}"
    );

    let output = cli(tmp.path())
        .args(["dashboard", "--as-of", &then_text, "--now", &then_text])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("'--now <TIME>' cannot be used with '--as-of <TIME>'"),
        "{err}"
    );
    let help = stdout(&run_ok(cli(tmp.path()).args(["dashboard", "--help"])));
    assert!(help.contains("--now <TIME>"), "{help}");
}

#[test]
fn dashboard_tables_align_wide_names_and_count_replaying() {
    let tmp = tempfile::tempdir().unwrap();
    make_wide_name_journal(tmp.path());
    let text = stdout(&run_ok(cli(tmp.path()).arg("dashboard")));
    assert!(text.contains(WIDE_NAME), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    // The domain and failure-type tables, side by side (two rows each).
    let at = lines.iter().position(|l| l.starts_with("DOMAIN ")).unwrap();
    assert_columns_aligned(&lines[at..at + 3], &[false, true, true, false, true, true]);
    // The SLA table beside the breakers: two domains, the total, two breakers.
    let at = lines
        .iter()
        .position(|l| l.starts_with("DOMAIN ") && l.contains("BREAKER"))
        .unwrap();
    assert_columns_aligned(
        &lines[at..at + 3],
        &[false, true, false, false, true, false],
    );
    let at = lines.iter().position(|l| l.starts_with("ID ")).unwrap();
    assert_columns_aligned(
        &lines[at..],
        &[false, false, false, false, true, false, false],
    );

    // The status table: a row for replaying, none for "other".
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let text = stdout(&run_ok(cli(tmp.path()).arg("dashboard")));
    let row = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
    };
    assert_eq!(row("replaying").as_deref(), Some("1"), "{text}");
    assert_eq!(row("other"), None, "{text}");
}
