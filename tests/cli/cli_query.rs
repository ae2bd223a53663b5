//! `query` and `count`: the filter flags, `--filter-json` (and its clear
//! errors), the readable table, and the `--json` output's shape, each
//! checked against the library's own answer.

use crate::cli_common::*;
use baldur_journal::{DiskJournal, EventJournal, JournalQueryFilter, Timestamp};
use serde_json::Value;

fn journal() -> (tempfile::TempDir, DiskJournal) {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 400);
    let reader = DiskJournal::open_read_only(tmp.path()).unwrap();
    (tmp, reader)
}

fn query_json(dir: &std::path::Path, args: &[&str]) -> Value {
    let output = run_ok(cli(dir).arg("query").args(args).arg("--json"));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "one object on one line");
    serde_json::from_str(&text).unwrap()
}

fn sequences(value: &Value) -> Vec<u64> {
    value["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect()
}

#[test]
fn json_output_has_the_seed_shape() {
    let (tmp, reader) = journal();
    let value = query_json(
        tmp.path(),
        &["--event-type", "circuit_breaker_opened", "--limit", "3"],
    );
    let object = value.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["entries", "total_count", "truncated"]);
    assert_eq!(value["truncated"], Value::Bool(true));
    let filter = JournalQueryFilter {
        event_types: Some(vec!["circuit_breaker_opened".into()]),
        limit: 3,
        ..Default::default()
    };
    let want = reader.query(&filter).unwrap();
    assert_eq!(value["total_count"].as_u64(), Some(want.total_count));
    // Byte for byte what the library's result serializes to.
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "query",
        "--event-type",
        "circuit_breaker_opened",
        "--limit",
        "3",
        "--json",
    ])));
    assert_eq!(text, serde_json::to_string(&want).unwrap() + "\n");
    // Each entry: the seed's fields in the seed's order, no appended_at.
    let first = text.find("{\"sequence\"").unwrap();
    let fields = [
        "\"sequence\"",
        "\"event_type\"",
        "\"source\"",
        "\"timestamp\"",
        "\"service_name\"",
        "\"context\"",
        "\"region\"",
        "\"tier_id\"",
    ];
    let mut at = first;
    for field in fields {
        let found = text[at..]
            .find(field)
            .unwrap_or_else(|| panic!("{field} in order"));
        at += found;
    }
    assert!(!text.contains("appended_at"));
}

#[test]
fn flags_build_the_filter_the_library_answers() {
    let (tmp, reader) = journal();
    let cases: Vec<(Vec<&str>, JournalQueryFilter)> = vec![
        (
            vec![
                "--event-type",
                "circuit_breaker_closed",
                "--event-type",
                "emergency_level_changed",
            ],
            JournalQueryFilter {
                event_types: Some(vec![
                    "circuit_breaker_closed".into(),
                    "emergency_level_changed".into(),
                ]),
                ..Default::default()
            },
        ),
        (
            vec!["--service", "payments", "--region", "us-east-1"],
            JournalQueryFilter {
                service_name: Some("payments".into()),
                region: Some("us-east-1".into()),
                ..Default::default()
            },
        ),
        (
            vec!["--service", ""],
            JournalQueryFilter {
                service_name: Some(String::new()),
                ..Default::default()
            },
        ),
        (
            // Offsets are converted; no offset means UTC.
            vec![
                "--since",
                "2025-01-01T02:01:00+02:00",
                "--until",
                "2025-01-01T00:03:00",
            ],
            JournalQueryFilter {
                start_time: Some(Timestamp::parse("2025-01-01T00:01:00Z").unwrap()),
                end_time: Some(Timestamp::parse("2025-01-01T00:03:00Z").unwrap()),
                ..Default::default()
            },
        ),
        (
            vec!["--context", "attempt=3", "--context", "ok=False"],
            JournalQueryFilter {
                context_filters: Some(
                    [
                        ("attempt".to_string(), "3".to_string()),
                        ("ok".into(), "False".into()),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
        ),
    ];
    for (args, filter) in cases {
        let want = reader.query(&filter).unwrap();
        assert!(want.total_count > 0, "{args:?} should match something");
        let value = query_json(tmp.path(), &args);
        assert_eq!(
            value["total_count"].as_u64(),
            Some(want.total_count),
            "{args:?}"
        );
        assert_eq!(
            sequences(&value),
            want.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            "{args:?}"
        );
        let count = stdout(&run_ok(cli(tmp.path()).arg("count").args(&args)));
        assert_eq!(count, format!("{}\n", want.total_count), "count {args:?}");
    }
    assert_eq!(stdout(&run_ok(cli(tmp.path()).arg("count"))), "403\n");
}

#[test]
fn filter_json_equals_the_flags() {
    let (tmp, _reader) = journal();
    let by_flags = query_json(
        tmp.path(),
        &[
            "--event-type",
            "error_budget_warning",
            "--context",
            "attempt=2",
            "--limit",
            "7",
        ],
    );
    let by_json = query_json(
        tmp.path(),
        &[
            "--filter-json",
            r#"{"event_types": ["error_budget_warning"], "context_filters": {"attempt": "2"}, "limit": 7}"#,
        ],
    );
    assert_eq!(by_flags, by_json);
    // --limit replaces the JSON's limit.
    let limited = query_json(
        tmp.path(),
        &["--filter-json", r#"{"limit": 7}"#, "--limit", "2"],
    );
    assert_eq!(sequences(&limited), vec![1, 2]);
    let count = stdout(&run_ok(cli(tmp.path()).args([
        "count",
        "--filter-json",
        r#"{"event_types": ["error_budget_warning"], "context_filters": {"attempt": "2"}}"#,
    ])));
    assert_eq!(count, format!("{}\n", by_flags["total_count"]));
}

#[test]
fn filter_json_errors_are_clear() {
    let (tmp, _reader) = journal();
    let cases = [
        (r#"{"evnt_types": ["a"]}"#, "unknown field `evnt_types`"),
        (
            r#"{"context_filters": {"attempt": 2}}"#,
            "expected a string",
        ),
        (r#"{"limit": -1}"#, "-1"),
        (r#"["event_types"]"#, "expected a JSON object, got an array"),
        (r#"{"event_types": ["a"]"#, "EOF"),
        ("nope", "not JSON"),
        (r#"{"start_time": "yesterday"}"#, "invalid timestamp"),
        (r#"{"context_filters": {"": "x"}}"#, "empty"),
    ];
    for (json, want) in cases {
        for command in ["query", "count"] {
            let output = cli(tmp.path())
                .args([command, "--filter-json", json])
                .output()
                .unwrap();
            let err = assert_one_line_error(&output);
            assert!(err.contains("invalid filter"), "{json}: {err}");
            assert!(err.contains(want), "{json}: want {want:?} in {err}");
        }
    }
    // The JSON replaces the flags: giving both is a usage error.
    let output = cli(tmp.path())
        .args(["query", "--filter-json", "{}", "--service", "payments"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot be used with"),
        "{}",
        stderr(&output)
    );
    // Bad flag values are usage errors naming the value.
    for args in [
        ["query", "--since", "yesterday"],
        ["query", "--context", "no-equals-sign"],
        ["query", "--limit", "-3"],
    ] {
        let output = cli(tmp.path()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(args[2]),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn the_table_is_readable_and_says_when_truncated() {
    let (tmp, reader) = journal();
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "query",
        "--event-type",
        "emergency_level_changed",
        "--limit",
        "2",
    ])));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("SEQUENCE") && lines[0].contains("EVENT TYPE"),
        "{text}"
    );
    assert!(lines[0].trim_end().ends_with("CONTEXT"));
    let filter = JournalQueryFilter {
        event_types: Some(vec!["emergency_level_changed".into()]),
        ..Default::default()
    };
    let want = reader.query(&filter).unwrap();
    for (line, entry) in lines[1..3].iter().zip(&want.entries) {
        assert!(
            line.trim_start().starts_with(&entry.sequence.to_string()),
            "{line}"
        );
        assert!(line.contains(&entry.timestamp.to_string()), "{line}");
        assert!(line.contains("emergency_level_changed"));
        assert!(line.ends_with(entry.context.as_str()), "{line}");
    }
    assert_eq!(
        lines[3],
        format!(
            "(2 of {} matches shown; next page: --after {})",
            want.total_count, want.entries[1].sequence
        )
    );
    // Nothing matched: the header alone.
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "query",
        "--service",
        "nobody",
    ])));
    assert_eq!(text.lines().count(), 1);
}

/// `--appended-since` / `--appended-until` select by the journal's append
/// time (kept by `import --keep-sequence`), not the event time, for
/// `query` and `count`, also next to `--filter-json`.
#[test]
fn appended_time_windows_select_by_append_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    // Event times run backwards; append times forwards, a second apart.
    let lines: String = (1..=50u64)
        .map(|i| {
            format!(
                r#"{{"sequence":{i},"event_type":"x","source":"s","timestamp":"2025-01-01T00:{:02}:00Z","service_name":"a","context":{{}},"appended_at":"2026-03-01T00:00:{:02}Z"}}"#,
                59 - i,
                i
            ) + "\n"
        })
        .collect();
    run_ok(
        cli(&dir)
            .args(["import", "--keep-sequence", "-"])
            .write_stdin(lines),
    );
    let window = [
        "--appended-since",
        "2026-03-01T00:00:10Z",
        "--appended-until",
        "2026-03-01T00:00:20Z",
    ];
    let count = stdout(&run_ok(cli(&dir).arg("count").args(window)));
    assert_eq!(count, "10\n");
    let page: Value = serde_json::from_str(&stdout(&run_ok(
        cli(&dir)
            .arg("query")
            .args(window)
            .args(["--json", "--limit", "3"]),
    )))
    .unwrap();
    assert_eq!(page["total_count"], 10);
    let sequences: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, [10, 11, 12]);
    // With the seed's filter as JSON: event time before 00:45 keeps 15..=19
    // of the window's 10..=19.
    let count =
        stdout(&run_ok(cli(&dir).arg("count").args(window).args([
            "--filter-json",
            r#"{"end_time": "2025-01-01T00:45:00Z"}"#,
        ])));
    assert_eq!(count, "5\n");
}
