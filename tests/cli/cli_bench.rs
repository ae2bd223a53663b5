//! `bench`: each subcommand's `--json` line parses and its fields agree
//! with each other; the scratch directory is removed; bad arguments are a
//! clear error with exit status 2. Small sizes only: speed itself is
//! measured by the benches, never asserted here.

use crate::cli_common::*;
use serde_json::Value;

/// Runs `bench ARGS --json` with its scratch directory inside `dir` and
/// returns the one JSON object it printed.
fn bench_json(dir: &std::path::Path, args: &[&str]) -> serde_json::Map<String, Value> {
    let output = run_ok(cli(dir).arg("bench").args(args).arg("--json"));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "one JSON line, got {text:?}");
    match serde_json::from_str(&text).expect("the line is JSON") {
        Value::Object(fields) => fields,
        other => panic!("expected an object, got {other}"),
    }
}

fn number(fields: &serde_json::Map<String, Value>, key: &str) -> f64 {
    fields
        .get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{key} is not a number in {fields:?}"))
}

/// `a` and `b` agree to a part in a million.
fn assert_close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-6 * a.abs().max(b.abs()),
        "{what}: {a} != {b}"
    );
}

/// The fields every bench reports agree: the rates are the counts over
/// `seconds`.
fn assert_rates(fields: &serde_json::Map<String, Value>, events: u64, bytes: u64) {
    assert_eq!(number(fields, "events"), events as f64);
    let seconds = number(fields, "seconds");
    assert!(seconds > 0.0);
    assert_close(
        number(fields, "events_per_s"),
        events as f64 / seconds,
        "events_per_s",
    );
    assert_close(
        number(fields, "mb_per_s"),
        bytes as f64 / seconds / 1e6,
        "mb_per_s",
    );
}

fn assert_scratch_removed(dir: &std::path::Path) {
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(left.is_empty(), "the bench left {left:?} behind");
}

#[test]
fn append_reports_consistent_rates_latencies_batches_and_the_raw_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let fields = bench_json(
        dir.path(),
        &[
            "append",
            "--events",
            "240",
            "--producers",
            "4",
            "--durability",
            "always",
            "--record-bytes",
            "300",
        ],
    );
    assert_rates(&fields, 240, 240 * 300);
    assert_eq!(fields["bench"], "append");
    assert_eq!(fields["producers"], 4);
    assert_eq!(fields["durability"], "always");
    assert_eq!(fields["record_bytes"], 300);
    let (p50, p99) = (number(&fields, "ack_p50_us"), number(&fields, "ack_p99_us"));
    assert!(0.0 < p50 && p50 <= p99, "p50 {p50} p99 {p99}");
    // Under `always` every record is covered by some fdatasync.
    let syncs = number(&fields, "syncs");
    assert!((1.0..=240.0).contains(&syncs), "syncs {syncs}");
    let mean_batch = number(&fields, "mean_batch");
    assert_close(mean_batch, 240.0 / syncs, "mean_batch");
    assert_eq!(
        number(&fields, "raw_batch"),
        mean_batch.round().max(1.0),
        "the raw peer runs at the batch the journal achieved"
    );
    assert_close(
        number(&fields, "ratio_to_raw"),
        number(&fields, "events_per_s") / number(&fields, "raw_events_per_s"),
        "ratio_to_raw",
    );
    assert_scratch_removed(dir.path());
}

#[test]
fn append_under_each_other_policy_runs_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    // The one durability vocabulary, as `append --durability` takes it.
    for policy in ["every:16", "interval:5", "os"] {
        let fields = bench_json(
            dir.path(),
            &["append", "--events", "100", "--durability", policy],
        );
        assert_rates(&fields, 100, 100 * 200);
        assert_eq!(fields["durability"], policy);
        match &fields["mean_batch"] {
            Value::Null => assert_eq!(fields["syncs"], 0),
            mean => assert_close(
                mean.as_f64().unwrap(),
                100.0 / number(&fields, "syncs"),
                "mean_batch",
            ),
        }
    }
    assert_scratch_removed(dir.path());
}

#[test]
fn read_benches_report_consistent_rates() {
    let dir = tempfile::tempdir().unwrap();
    let replay = bench_json(dir.path(), &["replay", "--events", "3000"]);
    assert_rates(&replay, 3000, 3000 * 200);
    assert_close(
        number(&replay, "owned_events_per_s"),
        3000.0 / number(&replay, "owned_seconds"),
        "owned_events_per_s",
    );

    let query = bench_json(
        dir.path(),
        &["query", "--events", "3050", "--record-bytes", "256"],
    );
    assert_rates(&query, 3050, 3050 * 256);
    assert_eq!(query["matches"], 31, "records 0, 100, ..., 3000");
    assert_eq!(query["returned"], 31);

    let open = bench_json(dir.path(), &["open", "--events", "2000"]);
    assert_rates(&open, 2000, 2000 * 200);
    assert!(number(&open, "read_only_seconds") > 0.0);

    let fold = bench_json(dir.path(), &["fold", "--events", "2000"]);
    assert_eq!(number(&fold, "events"), 2000.0);
    assert_close(
        number(&fold, "ratio_to_decode"),
        number(&fold, "events_per_s") / number(&fold, "decode_events_per_s"),
        "ratio_to_decode",
    );
    assert_scratch_removed(dir.path());
}

#[test]
fn the_summary_is_readable_text_with_the_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_ok(cli(dir.path()).args(["bench", "append", "--events", "50"]));
    let text = stdout(&output);
    assert!(
        text.starts_with("bench append: 50 events of 200 bytes from 1 producer,"),
        "{text}"
    );
    assert!(text.contains("events/s"), "{text}");
    assert!(text.contains("ack latency: p50"), "{text}");
    assert!(text.contains("\nratio: "), "{text}");
    assert!(serde_json::from_str::<Value>(text.lines().next().unwrap()).is_err());
}

#[test]
fn bad_arguments_are_a_clear_error_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            &["append", "--durability", "sometimes"][..],
            "expected always, every:N (sync every N records), interval:MS",
        ),
        (
            &["append", "--durability", "every-n"][..],
            "expected always, every:N (sync every N records), interval:MS",
        ),
        (&["append", "--events", "0"][..], "--events"),
        (&["append", "--producers", "zero"][..], "--producers"),
        (
            &["replay", "--events", "10", "--record-bytes", "10"][..],
            "--record-bytes 10 is outside what this bench can write",
        ),
        (&["compress"][..], "unrecognized subcommand 'compress'"),
    ] {
        let output = cli(dir.path()).arg("bench").args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(says),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    assert_scratch_removed(dir.path());
}

/// `bench query --filter F`: both sides find the same number of matches
/// (the bench fails otherwise), and the SQLite peer's times and ratios are
/// in the line, consistent with ours.
#[test]
fn query_bench_measures_every_filter_against_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    // 12,000 records: 1% of types, 10% of services and regions, a window
    // of 2,000 from record 6,000, and entry_id dlq-01700 at 1,700 and 11,700.
    for (filter, matches, returned) in [
        ("type", 120, 120),
        ("service", 1200, 1000),
        ("region", 1200, 1000),
        ("window", 2000, 1000),
        ("context", 2, 2),
    ] {
        let query = bench_json(
            dir.path(),
            &["query", "--events", "12000", "--filter", filter],
        );
        assert_eq!(query["filter"], filter);
        assert_eq!(query["matches"], matches, "{filter}");
        assert_eq!(query["returned"], returned, "{filter}");
        for key in ["sqlite_count_seconds", "sqlite_query_seconds"] {
            assert!(number(&query, key) > 0.0, "{filter}: {key}");
        }
        assert_close(
            number(&query, "query_ratio"),
            number(&query, "sqlite_query_seconds") / number(&query, "seconds"),
            "query_ratio",
        );
        assert_close(
            number(&query, "count_ratio"),
            number(&query, "sqlite_count_seconds") / number(&query, "count_seconds"),
            "count_ratio",
        );
    }
    let output = cli(dir.path())
        .args(["bench", "query", "--filter", "colour"])
        .output()
        .unwrap();
    assert_one_line_error(&output);
}

/// `bench stats`: the snapshot plus tail answers like the full fold (the
/// bench checks both the answer and that only the tail was folded), and
/// the ratio is the two times'.
#[test]
fn stats_bench_compares_a_snapshot_and_its_tail_with_a_full_fold() {
    let dir = tempfile::tempdir().unwrap();
    let stats = bench_json(dir.path(), &["stats", "--events", "3000", "--tail", "300"]);
    assert_eq!(stats["bench"], "stats");
    assert_eq!(stats["tail"], 300);
    assert_close(
        number(&stats, "ratio_to_full_fold"),
        number(&stats, "seconds") / number(&stats, "full_fold_seconds"),
        "ratio_to_full_fold",
    );
    let output = cli(dir.path())
        .args(["bench", "stats", "--events", "10", "--tail", "11"])
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains("--tail 11 exceeds --events 10"), "{err}");
}

#[test]
fn report_bench_times_the_html_report_against_a_full_fold() {
    let dir = tempfile::tempdir().unwrap();
    let report = bench_json(
        dir.path(),
        &[
            "report",
            "--entries",
            "300",
            "--events",
            "500",
            "--days",
            "5",
        ],
    );
    assert_eq!(report["bench"], "report");
    assert!(number(&report, "events") > 300.0 + 500.0 * 0.5);
    assert!(number(&report, "page_bytes") > 10_000.0);
    assert_close(
        number(&report, "ratio_to_full_fold"),
        number(&report, "seconds") / number(&report, "full_fold_seconds"),
        "ratio_to_full_fold",
    );
    assert_scratch_removed(dir.path());
}
