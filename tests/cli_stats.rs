//! `stats`: each subcommand's `--json` is the library's answer on a DLQ
//! journal built with the typed event constructors, now and `--as-of` a
//! sequence or a time; invalid arguments are one clear error line; the
//! directory is never written.

mod cli_common;

use std::path::Path;
use std::sync::Arc;

use baldur_journal::DiskJournal;
use baldur_journal::projection::{EntryListQuery, JournalStatistics, StatisticsRepository};
use cli_common::*;
use serde_json::{Value, json};

fn library(dir: &Path) -> JournalStatistics<DiskJournal> {
    JournalStatistics::new(Arc::new(DiskJournal::open_read_only(dir).unwrap()))
}

fn cli_json(dir: &Path, args: &[&str]) -> Value {
    let text = stdout(&run_ok(cli(dir).arg("stats").args(args).arg("--json")));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap()
}

/// Every read of `repo` with the arguments the CLI calls are given.
fn expected(repo: &dyn StatisticsRepository) -> Vec<(Vec<&'static str>, Value)> {
    let list = |query: EntryListQuery| value(repo.list_entries(&query).unwrap());
    vec![
        (vec!["status"], value(repo.get_status_counts().unwrap())),
        (
            vec!["domains"],
            value(repo.get_domain_distribution(10).unwrap()),
        ),
        (
            vec!["domains", "--limit", "2"],
            value(repo.get_domain_distribution(2).unwrap()),
        ),
        (
            vec!["failure-types"],
            value(repo.get_failure_type_distribution(10).unwrap()),
        ),
        (
            vec!["activity"],
            value(repo.get_recent_activity(24, 7).unwrap()),
        ),
        (
            vec!["activity", "--hours", "48", "--days", "30"],
            value(repo.get_recent_activity(48, 30).unwrap()),
        ),
        (
            vec!["resolution-rate"],
            value(repo.get_resolution_rate(30).unwrap()),
        ),
        (
            vec!["resolution-rate", "--days", "60"],
            value(repo.get_resolution_rate(60).unwrap()),
        ),
        (vec!["retries"], value(repo.get_avg_retry_count().unwrap())),
        (vec!["list"], list(EntryListQuery::default())),
        (
            vec![
                "list",
                "--page",
                "2",
                "--page-size",
                "2",
                "--domain",
                "payments",
                "--order-by",
                "-retry_count",
            ],
            list(EntryListQuery {
                page: 2,
                page_size: 2,
                domain: Some("payments".into()),
                order_by: "-retry_count".into(),
                ..Default::default()
            }),
        ),
        (
            vec![
                "list",
                "--status",
                "resolved",
                "--failure-type",
                "network",
                "--order-by",
                "id",
            ],
            list(EntryListQuery {
                status: Some("resolved".into()),
                failure_type: Some("network".into()),
                order_by: "id".into(),
                ..Default::default()
            }),
        ),
        (
            vec!["entry", "dlq-5"],
            value(repo.get_entry_detail("dlq-5").unwrap()),
        ),
        (vec!["sla"], value(repo.get_sla_breaches(4, None).unwrap())),
        (
            vec![
                "sla",
                "--hours",
                "1",
                "--status",
                "pending",
                "--status",
                "replaying",
            ],
            value(
                repo.get_sla_breaches(1, Some(&["pending", "replaying"]))
                    .unwrap(),
            ),
        ),
        (vec!["cleanup"], value(repo.get_cleanup_stats().unwrap())),
        (
            vec!["circuit-breakers"],
            json!({
                "summary": repo.get_circuit_breaker_summary().unwrap(),
                "breakers": repo.list_circuit_breakers().unwrap(),
            }),
        ),
    ]
}

#[test]
fn every_subcommand_answers_as_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let before = snapshot(tmp.path());
    let lib = library(tmp.path());
    for (args, want) in expected(&lib) {
        assert_eq!(cli_json(tmp.path(), &args), want, "stats {args:?}");
    }
    // The fixture's facts, so the comparison is not of two empty answers.
    let status = cli_json(tmp.path(), &["status"]);
    assert_eq!(status["total"], 6, "{status}"); // dlq-1, dlq-6 and dlq-9 are older
    assert_eq!(status["requires_review"], 1);
    assert_eq!(cli_json(tmp.path(), &["sla"]), json!({"payments": 1}));
    let breakers = cli_json(tmp.path(), &["circuit-breakers"]);
    assert_eq!(
        breakers["summary"],
        json!({"total": 2, "closed": 1, "open": 1, "half_open": 0})
    );
    let page = cli_json(tmp.path(), &["list", "--page-size", "3"]);
    assert_eq!(page["total"], 9);
    assert_eq!(page["total_pages"], 3);
    assert_eq!(page["items"][0]["id"], "dlq-4", "newest first");
    assert_eq!(snapshot(tmp.path()), before, "stats wrote to the directory");
}

#[test]
fn readable_output_shows_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let text = stdout(&run_ok(cli(tmp.path()).args(["stats", "status"])));
    assert!(text.starts_with("STATUS"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["total", "6"])),
        "{text}"
    );
    let text = stdout(&run_ok(cli(tmp.path()).args(["stats", "domains"])));
    assert!(text.contains("payments"), "{text}");
    assert!(text.contains('%'), "{text}");
    let text = stdout(&run_ok(cli(tmp.path()).args(["stats", "entry", "dlq-5"])));
    assert!(text.contains("retries      2 of 2"), "{text}");
    assert!(text.contains("status       resolved"), "{text}");
    let text = stdout(&run_ok(
        cli(tmp.path()).args(["stats", "list", "--status", "pending"]),
    ));
    assert!(text.contains("dlq-4"), "{text}");
    assert!(text.contains("page 1 of 1 (1 entries match"), "{text}");
    let text = stdout(&run_ok(cli(tmp.path()).args(["stats", "circuit-breakers"])));
    assert!(
        text.contains("circuit breakers: 2 (1 closed, 1 open, 0 half open)"),
        "{text}"
    );
    for sub in [
        "failure-types",
        "activity",
        "resolution-rate",
        "retries",
        "sla",
        "cleanup",
    ] {
        let text = stdout(&run_ok(cli(tmp.path()).args(["stats", sub])));
        assert!(!text.trim().is_empty(), "{sub}");
    }
}

#[test]
fn as_of_a_sequence_and_a_time_are_the_library_views() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = make_dlq_journal(tmp.path());
    let lib = library(tmp.path());
    // Half-way through, and the time of that record (append time = event time).
    let (sequence, time, _) = fixture.records[fixture.records.len() / 2].clone();

    let view = lib.as_of_sequence(sequence).unwrap();
    for (args, want) in expected(&view) {
        let mut args = args.clone();
        let as_of = sequence.to_string();
        args.extend(["--as-of", as_of.as_str()]);
        assert_eq!(cli_json(tmp.path(), &args), want, "stats {args:?}");
    }
    let view = lib.as_of_time(time).unwrap();
    assert_eq!(view.summary().last_sequence, sequence);
    for (args, want) in expected(&view) {
        let mut args = args.clone();
        let as_of = time.to_string();
        args.extend(["--as-of", as_of.as_str()]);
        assert_eq!(cli_json(tmp.path(), &args), want, "stats {args:?}");
    }
    // The past differs from now, and before the first record nothing is known.
    let now = cli_json(tmp.path(), &["list", "--page-size", "100"]);
    let then = cli_json(
        tmp.path(),
        &[
            "list",
            "--page-size",
            "100",
            "--as-of",
            &sequence.to_string(),
        ],
    );
    assert!(
        then["total"].as_u64() < now["total"].as_u64(),
        "{then} {now}"
    );
    let first = fixture.records[0].1.as_unix_nanos() - 1;
    let before = baldur_journal::Timestamp::from_unix_nanos(first).to_string();
    assert_eq!(
        cli_json(tmp.path(), &["status", "--as-of", &before])["total"],
        0
    );
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "stats",
        "status",
        "--as-of",
        &sequence.to_string(),
    ])));
    assert!(
        text.contains(&format!("(as of sequence {sequence}, now = ")),
        "{text}"
    );
}

#[test]
fn invalid_arguments_are_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let before = snapshot(tmp.path());
    for order in ["--created_at", "bogus", "-", "created_at ", ""] {
        let output = cli(tmp.path())
            .args(["stats", "list", "--order-by", order])
            .output()
            .unwrap();
        let err = assert_one_line_error(&output);
        assert!(err.contains("invalid --order-by"), "{order:?}: {err}");
        assert!(err.contains("retry_count"), "names the columns: {err}");
    }
    let output = cli(tmp.path())
        .args(["stats", "list", "--page", "0"])
        .output()
        .unwrap();
    assert!(assert_one_line_error(&output).contains("page"));
    let output = cli(tmp.path())
        .args(["stats", "list", "--page-size", "10001"])
        .output()
        .unwrap();
    assert_one_line_error(&output);
    let output = cli(tmp.path())
        .args(["stats", "entry", "dlq-404"])
        .output()
        .unwrap();
    assert!(assert_one_line_error(&output).contains("no DLQ entry with id \"dlq-404\""));
    let output = cli(tmp.path())
        .args(["stats", "status", "--as-of", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("expected a sequence number or an RFC 3339 time"));
    assert_eq!(snapshot(tmp.path()), before);

    // A read-only command never creates the journal it was asked to read.
    let missing = tmp.path().join("missing");
    let output = cli(&missing).args(["stats", "status"]).output().unwrap();
    assert!(assert_one_line_error(&output).contains("no journal at"));
    assert!(!missing.exists());
}
