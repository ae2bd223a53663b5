//! `stats`: each subcommand's `--json` is the library's answer on a DLQ
//! journal built with the typed event constructors, now and `--as-of` a
//! sequence or a time; invalid arguments are one clear error line; the
//! directory is never written.

use std::path::Path;
use std::sync::Arc;

use crate::cli_common::*;
use baldur_journal::projection::{
    EntryListQuery, JournalStatistics, ManualClock, StatisticsRepository,
};
use baldur_journal::{DiskJournal, Timestamp};
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
        (
            vec!["sla", "--no-status"],
            value(repo.get_sla_breaches(4, Some(&[])).unwrap()),
        ),
        (
            vec!["sla", "--hours", "0", "--status", "archived"],
            value(repo.get_sla_breaches(0, Some(&["archived"])).unwrap()),
        ),
        (
            vec!["failure-types", "--limit", "1"],
            value(repo.get_failure_type_distribution(1).unwrap()),
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

#[test]
fn now_sets_the_time_windows_are_measured_from() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = make_dlq_journal(tmp.path());
    let before = snapshot(tmp.path());
    let journal = Arc::new(DiskJournal::open_read_only(tmp.path()).unwrap());
    // Ten days ago: dlq-4 and dlq-7 are not created yet, dlq-1 and dlq-6
    // are inside the 30 days again.
    let then = Timestamp::from_unix_nanos(fixture.now.as_unix_nanos() - 10 * DAY_NS);
    let then_text = then.to_string();
    let at_then = JournalStatistics::builder(journal)
        .clock(ManualClock::new(then))
        .build()
        .unwrap();
    for (args, want) in expected(&at_then) {
        let mut args = args.clone();
        args.extend(["--now", then_text.as_str()]);
        assert_eq!(cli_json(tmp.path(), &args), want, "stats {args:?}");
    }
    let now_total = cli_json(tmp.path(), &["status"])["total"].clone();
    let then_total = cli_json(tmp.path(), &["status", "--now", &then_text])["total"].clone();
    assert_ne!(now_total, then_total, "--now moved the window");

    // With --as-of SEQUENCE, --now is the now of that past view.
    let lib = library(tmp.path());
    let (sequence, _, _) = fixture.records[fixture.records.len() / 2].clone();
    let view = lib.as_of_sequence(sequence).unwrap().with_now(then);
    let as_of = sequence.to_string();
    for (args, want) in expected(&view) {
        let mut args = args.clone();
        args.extend(["--as-of", as_of.as_str(), "--now", then_text.as_str()]);
        assert_eq!(cli_json(tmp.path(), &args), want, "stats {args:?}");
    }
    let text = stdout(&run_ok(
        cli(tmp.path()).args(["stats", "activity", "--now", &then_text]),
    ));
    assert!(
        text.contains(&format!("now = {}", &then_text[..19])),
        "{text}"
    );

    // --as-of TIME is its own now: both is a usage error, before any reading.
    let output = cli(tmp.path())
        .args([
            "stats", "status", "--as-of", &then_text, "--now", &then_text,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("'--now <TIME>' cannot be used with '--as-of <TIME>'"),
        "{err}"
    );
    assert!(
        err.contains("usage: ") && err.lines().count() == 1,
        "a usage error: {err}"
    );
    for bad in ["yesterday", "12345"] {
        let output = cli(tmp.path())
            .args(["stats", "status", "--now", bad])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        assert!(
            stderr(&output).contains("expected an RFC 3339 time"),
            "{bad}"
        );
    }
    let help = stdout(&run_ok(cli(tmp.path()).args(["stats", "--help"])));
    assert!(help.contains("--now <TIME>"), "{help}");
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn a_missing_or_purged_entry_is_no_match() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    // dlq-9 was archived 100 days ago: purge it.
    run_ok(cli(tmp.path()).args(["purge", "--ids", "dlq-9"]));
    for id in ["dlq-404", "dlq-9"] {
        let output = run_code(cli(tmp.path()).args(["stats", "entry", id, "--json"]), 1);
        assert_eq!(stdout(&output), "null\n", "{id}");
        assert_eq!(stderr(&output), "", "{id}");
        let output = run_code(cli(tmp.path()).args(["stats", "entry", id]), 1);
        assert_eq!(stdout(&output), "", "{id}");
        let err = stderr(&output);
        assert_eq!(
            err,
            format!("no DLQ entry with id \"{id}\" (unknown or purged)\n"),
            "{id}"
        );
    }
    // A live entry still answers with exit 0; errors keep exit 2.
    let found = cli_json(tmp.path(), &["entry", "dlq-5"]);
    assert_eq!(found["id"], "dlq-5");
    let output = cli(tmp.path().join("missing").as_path())
        .args(["stats", "entry", "dlq-5", "--json"])
        .output()
        .unwrap();
    assert_one_line_error(&output);
    // audit keeps its codes: an unknown entity is an error.
    let output = cli(tmp.path()).args(["audit", "dlq-404"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let help = stdout(&run_ok(cli(tmp.path()).arg("--help")));
    assert!(help.contains("stats entry ID"), "{help}");
}

#[test]
fn sla_takes_an_empty_list_of_statuses() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    assert_eq!(cli_json(tmp.path(), &["sla"]), json!({"payments": 1}));
    assert_eq!(cli_json(tmp.path(), &["sla", "--no-status"]), json!({}));
    // Not the default list: replaying dlq-8 is a breach when asked for.
    assert_eq!(
        cli_json(tmp.path(), &["sla", "--status", "replaying"]),
        json!({"payments": 1})
    );
    let output = cli(tmp.path())
        .args(["stats", "sla", "--no-status", "--status", "pending"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot be used with"));
    let help = stdout(&run_ok(cli(tmp.path()).args(["stats", "sla", "--help"])));
    assert!(help.contains("--no-status"), "{help}");
}

#[test]
fn cleanup_json_has_can_archive_and_can_purge() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let cleanup = cli_json(tmp.path(), &["cleanup"]);
    // dlq-1 and dlq-6 resolved more than 30 days ago; dlq-9 archived 100 days ago.
    assert_eq!(cleanup["can_archive"], 2, "{cleanup}");
    assert_eq!(
        cleanup["can_archive"],
        cleanup["resolved_older_than_30_days"]
    );
    assert_eq!(cleanup["can_purge"], 1, "{cleanup}");
    assert_eq!(cleanup["can_purge"], cleanup["archived_older_than_90_days"]);
}

#[test]
fn the_status_table_has_a_row_for_every_status() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let text = stdout(&run_ok(cli(tmp.path()).args(["stats", "status"])));
    let rows: Vec<(String, u64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(cells.len(), 2, "{l}");
            (cells[0].to_string(), cells[1].parse().unwrap())
        })
        .collect();
    let count = |name: &str| rows.iter().find(|(n, _)| n == name).map(|r| r.1);
    // dlq-8 is replaying, as the listing shows it.
    assert_eq!(count("replaying"), Some(1), "{text}");
    assert_eq!(count("permanently_failed"), Some(0), "{text}");
    assert_eq!(count("other"), None, "{text}");
    let listed = cli_json(tmp.path(), &["list", "--status", "replaying"]);
    assert_eq!(listed["items"][0]["id"], "dlq-8");
    let total = count("total").unwrap();
    let rest: u64 = rows.iter().filter(|(n, _)| n != "total").map(|r| r.1).sum();
    assert_eq!(rest, total, "the rows add up to the total: {text}");
    assert_columns_aligned(&text.lines().collect::<Vec<_>>(), &[false, true]);
}

#[test]
fn tables_align_wide_names_by_display_width() {
    let tmp = tempfile::tempdir().unwrap();
    make_wide_name_journal(tmp.path());
    let table = |args: &[&str]| stdout(&run_ok(cli(tmp.path()).arg("stats").args(args)));
    let text = table(&["domains"]);
    assert!(text.contains(WIDE_NAME), "{text}");
    assert_columns_aligned(&text.lines().collect::<Vec<_>>(), &[false, true, true]);
    let text = table(&["failure-types"]);
    assert_columns_aligned(&text.lines().collect::<Vec<_>>(), &[false, true, true]);
    let text = table(&["sla", "--hours", "1"]);
    assert!(text.contains(WIDE_NAME), "{text}");
    assert_columns_aligned(&text.lines().collect::<Vec<_>>(), &[false, true]);
    let text = table(&["list"]);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("page ")).collect();
    assert_columns_aligned(&lines, &[false, false, false, false, true, false, false]);
    let text = table(&["circuit-breakers"]);
    let lines: Vec<&str> = text.lines().skip(2).collect();
    assert!(lines[0].starts_with("SERVICE"), "{text}");
    assert!(text.contains(WIDE_NAME), "{text}");
    assert_columns_aligned(&lines, &[false, false, true, false, false]);
    // query's table too (the journal's own entries).
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "query",
        "--event-type",
        "circuit_breaker_opened",
    ])));
    assert!(text.contains(WIDE_NAME), "{text}");
    let starts: Vec<usize> = text
        .lines()
        .map(|l| {
            let at = l
                .find("SOURCE")
                .or_else(|| l.find("baldur."))
                .unwrap_or_else(|| panic!("{l}"));
            display_width(&l[..at])
        })
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] == w[1]),
        "{starts:?} in\n{text}"
    );
}

/// `stats` and `dashboard` start from the journal's snapshot when it is
/// valid (folding only the records after it) and never write one: a
/// snapshot edited where only its own checksum can tell (re-checksummed)
/// shows through, and the directory is left as it was.
#[test]
fn stats_start_from_a_valid_snapshot_and_never_write_one() {
    use baldur_journal::projection::{SNAPSHOT_FILE, SnapshotConfig, StoreEvent};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    {
        let journal = Arc::new(DiskJournal::builder(&dir).open().unwrap());
        let stats = JournalStatistics::builder(journal.clone())
            .snapshot(SnapshotConfig::for_disk(&journal))
            .build()
            .unwrap();
        let at = Timestamp::now();
        for i in 0..20 {
            stats
                .record(vec![
                    StoreEvent::new(format!("e{i}"), "payments", "timeout").to_entry(at),
                ])
                .unwrap();
        }
        assert!(stats.snapshot_now().unwrap());
        // One more after the snapshot: folded from the log.
        stats
            .record(vec![
                StoreEvent::new("tail", "orders", "timeout").to_entry(at),
            ])
            .unwrap();
    }
    let domains = |dir: &Path| -> Vec<(String, u64)> {
        cli_json(dir, &["domains"])
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["domain"].as_str().unwrap().to_string(),
                    d["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let before = domains(&dir);
    assert_eq!(
        before,
        [("payments".to_string(), 20), ("orders".to_string(), 1)]
    );

    // Rename the domain inside the snapshot (same length) and fix the
    // payload checksum: layout magic(8) version(4) crc(4) len(8) payload.
    let path = dir.join(SNAPSHOT_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let payload_at = 24;
    let mut renamed = 0;
    for at in payload_at..bytes.len() - 8 {
        if &bytes[at..at + 8] == b"payments" {
            bytes[at..at + 8].copy_from_slice(b"paymentz");
            renamed += 1;
        }
    }
    assert!(renamed > 0, "the domain is in the snapshot");
    let crc = crc32fast::hash(&bytes[payload_at..]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();

    let files = snapshot(&dir);
    let after = domains(&dir);
    assert_eq!(
        after,
        [("paymentz".to_string(), 20), ("orders".to_string(), 1)],
        "the snapshot was used, and the tail after it folded"
    );
    let dashboard = stdout(&run_ok(cli(&dir).args(["dashboard", "--json"])));
    assert!(dashboard.contains("paymentz"), "{dashboard}");
    assert!(files == snapshot(&dir), "a read-only command wrote");
}
