//! `append`: JSON lines from stdin, appended as they arrive, one durable
//! sequence printed (and flushed) per line; a malformed line is an error
//! naming its line number, and the lines before it stay committed.

use std::io::Write;
use std::process::Stdio;

use crate::cli_common::*;
use baldur_journal::{DiskJournal, EventJournal};

#[test]
fn prints_one_sequence_per_line_and_stores_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let out = append_via_cli(&journal, 1..=5);
    assert_eq!(out, "1\n2\n3\n4\n5\n");
    // Input sequences are ignored; blank lines skipped.
    let input = format!(
        "{}\n\n   \n{}\n",
        entry_line(6).replace("{\"event_type\"", "{\"sequence\":999,\"event_type\""),
        entry_line(7)
    );
    let output = run_ok(cli(&journal).arg("append").write_stdin(input));
    assert_eq!(stdout(&output), "6\n7\n");
    assert!(output.stderr.is_empty(), "quiet on success");

    let reader = DiskJournal::open_read_only(&journal).unwrap();
    let stored = reader.get_sequence_range(1, 100).unwrap();
    assert_eq!(stored.len(), 7);
    for (i, e) in stored.iter().enumerate() {
        let mut want = entry(i as u64 + 1);
        want.sequence = i as u64 + 1;
        let mut got = e.clone();
        got.appended_at = None;
        assert_eq!(got, want);
    }
}

#[test]
fn streams_each_sequence_before_stdin_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std_cli(dir.path())
        .arg("append")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = LineReader::new(child.stdout.take().unwrap());
    for i in 1..=3u64 {
        writeln!(stdin, "{}", entry_line(i)).unwrap();
        stdin.flush().unwrap();
        // The sequence arrives while stdin is still open.
        assert_eq!(
            lines.next_line("the sequence of an appended line"),
            i.to_string()
        );
        // And it is already in the journal, for another process to read.
        let reader = DiskJournal::open_read_only(dir.path()).unwrap();
        assert_eq!(reader.get_latest_sequence().unwrap(), i);
    }
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
}

#[test]
fn a_malformed_line_is_named_and_earlier_lines_stay_committed() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!(
        "{}\n{}\n{}\n{}\n",
        entry_line(1),
        entry_line(2),
        r#"{"event_type":"circuit_breaker_opened","source":"x","timestamp":"2025-01-01T00:00:00Z"}"#,
        entry_line(4)
    );
    let output = cli(dir.path())
        .arg("append")
        .write_stdin(input)
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains("line 3"), "{err}");
    assert!(
        err.contains("service_name"),
        "names the missing field: {err}"
    );
    assert_eq!(stdout(&output), "1\n2\n");
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.get_latest_sequence().unwrap(), 2);

    // Not JSON at all, a bad timestamp, invalid UTF-8: each named.
    let cases: [(&[u8], &str); 4] = [
        (b"not json\n", "line 1: not a JSON object"),
        (b"[1, 2]\n", "line 1: invalid entry: expected a JSON object, got an array"),
        (b"\xff\xfe\n", "line 1: not valid UTF-8"),
        (
            br#"{"event_type":"a","source":"b","timestamp":"2025-13-01T00:00:00Z","service_name":""}"#,
            "line 1: invalid entry: invalid timestamp",
        ),
    ];
    for (input, want) in cases {
        let output = cli(dir.path())
            .arg("append")
            .write_stdin(input)
            .output()
            .unwrap();
        let err = assert_one_line_error(&output);
        assert!(err.contains(want), "want {want:?} in {err}");
        assert_eq!(stdout(&output), "");
    }
    assert_eq!(reader.get_latest_sequence().unwrap(), 2);
}

#[test]
fn a_refused_record_inside_a_batch_keeps_the_lines_before_it() {
    let dir = tempfile::tempdir().unwrap();
    // 64 KiB segments cap a record below 64 KiB: line 3 is too large. All
    // lines arrive at once, so they reach the journal as one batch.
    let huge = format!(
        r#"{{"event_type":"big","source":"x","timestamp":"2025-01-01T00:00:00Z","service_name":"","context":{{"blob":"{}"}}}}"#,
        "x".repeat(100_000)
    );
    let input = format!(
        "{}\n{}\n{huge}\n{}\n",
        entry_line(1),
        entry_line(2),
        entry_line(4)
    );
    let output = cli(dir.path())
        .args(["--segment-bytes", "64K", "append"])
        .write_stdin(input)
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains("line 3") && err.contains("exceeds"), "{err}");
    assert_eq!(stdout(&output), "1\n2\n");
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.get_latest_sequence().unwrap(), 2);
}

#[test]
fn durability_policies_are_accepted_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    for (i, policy) in ["always", "every:10", "interval:5", "os"]
        .iter()
        .enumerate()
    {
        let output = run_ok(
            cli(dir.path())
                .args(["append", "--durability", policy])
                .write_stdin(entry_line(i as u64) + "\n"),
        );
        assert_eq!(stdout(&output), format!("{}\n", i + 1));
    }
    for bad in ["sometimes", "every:0", "interval:x"] {
        let output = cli(dir.path())
            .args(["append", "--durability", bad])
            .write_stdin("")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&output).contains("--durability"),
            "{}",
            stderr(&output)
        );
    }
}
