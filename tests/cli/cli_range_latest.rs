//! `range START [END]` (half-open, JSON lines, gaps skipped, the library's
//! entries exactly; END below START a usage error, END equal to START
//! empty) and `latest` (the number; 0 for an empty journal).

use crate::cli_common::*;
use baldur_journal::{DiskJournal, EventJournal, JournalEntry};

#[test]
fn range_prints_the_half_open_window_as_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 200);
    let reader = DiskJournal::open_read_only(tmp.path()).unwrap();
    for (start, end) in [(1, 11), (195, 1100), (201, 210), (0, u64::MAX), (7, 7)] {
        let text = stdout(&run_ok(cli(tmp.path()).args([
            "range",
            &start.to_string(),
            &end.to_string(),
        ])));
        let got: Vec<JournalEntry> = text
            .lines()
            .map(|line| JournalEntry::from_json(line).unwrap())
            .collect();
        let want = reader.get_sequence_range(start, end).unwrap();
        assert_eq!(got, want, "range {start} {end}");
    }
    // The window across the gaps: 200, then 210 and 1200, then 1201.
    let text = stdout(&run_ok(cli(tmp.path()).args(["range", "199", "2000"])));
    let sequences: Vec<u64> = text.lines().map(sequence_of).collect();
    assert_eq!(sequences, vec![199, 200, 210, 1200, 1201]);
}

#[test]
fn range_end_below_start_is_a_usage_error_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 20);
    for (start, end) in [("10", "5"), ("9", "3"), ("1", "0")] {
        let output = cli(tmp.path())
            .args(["range", start, end])
            .output()
            .unwrap();
        let err = assert_one_line_error(&output);
        assert!(output.stdout.is_empty(), "range {start} {end}");
        assert!(
            err.contains(&format!("END {end} is below START {start}")),
            "{err}"
        );
    }
    // END equal to START is an empty range.
    let output = run_ok(cli(tmp.path()).args(["range", "10", "10"]));
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
    // Without END: from START to the end.
    let text = stdout(&run_ok(cli(tmp.path()).args(["range", "20"])));
    let sequences: Vec<u64> = text.lines().map(sequence_of).collect();
    assert_eq!(sequences, vec![20, 30, 1020, 1021]);
    // The help says which end is included.
    let help = stdout(&run_ok(cli(tmp.path()).args(["range", "--help"])));
    assert!(help.contains("START included, END"), "{help}");
    assert!(help.contains("END below START is a usage error"), "{help}");
}

#[test]
fn range_needs_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 5);
    for args in [
        &["range"][..],
        &["range", "a", "5"],
        &["range", "-1", "5"],
        &["range", "1", "x"],
    ] {
        let output = cli(tmp.path()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn latest_prints_the_latest_sequence() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = tmp.path().join("j");
    // An empty journal (`append` with no input creates none).
    DiskJournal::open(&journal).unwrap().close().unwrap();
    assert_eq!(stdout(&run_ok(cli(&journal).arg("latest"))), "0\n");
    append_via_cli(&journal, 1..=3);
    assert_eq!(stdout(&run_ok(cli(&journal).arg("latest"))), "3\n");

    let gaps = tmp.path().join("gaps");
    let stored = make_journal(&gaps, 20);
    assert_eq!(
        stdout(&run_ok(cli(&gaps).arg("latest"))),
        format!("{}\n", stored.last().unwrap())
    );
}
