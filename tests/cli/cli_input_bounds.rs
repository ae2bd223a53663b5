//! Input bounds at the door, through `append` and `import`: a context
//! nested as deep as every reader can parse is accepted and read back by
//! `audit`, `stats`, `export` and `verify`, one level more is refused with
//! its line; UTC offsets beyond ±23:59 and lone surrogate escapes are
//! refused with their line; a line longer than the record limit is refused
//! while it is read, with the peak resident memory of the process measured
//! (docs/RELIABILITY.md gives the figures).

use std::io::Write;
use std::process::Stdio;

use crate::cli_common::*;
use baldur_journal::entry::MAX_CONTEXT_DEPTH;

/// A `dlq_store` line for entry `id` whose context nests `depth` levels
/// (the context object is level 1; `metadata` carries the nesting).
fn deep_store_line(id: &str, depth: usize) -> String {
    // metadata is level 2; each {"a": ...} adds one; the innermost is {}.
    let mut metadata = "{}".to_string();
    for _ in 0..depth.saturating_sub(2) {
        metadata = format!(r#"{{"a":{metadata}}}"#);
    }
    format!(
        r#"{{"event_type":"dlq_store","source":"api","timestamp":"{}","service_name":"payments","context":{{"entry_id":"{id}","domain":"payments","failure_type":"timeout","status":"pending","metadata":{metadata}}}}}"#,
        baldur_journal::Timestamp::now()
    )
}

fn depth_of(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn the_deepest_context_append_accepts_is_read_back_by_every_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let deepest = deep_store_line("dlq-deep", MAX_CONTEXT_DEPTH);
    let too_deep = deep_store_line("dlq-too-deep", MAX_CONTEXT_DEPTH + 1);
    let output = cli(&dir)
        .arg("append")
        .write_stdin(format!("{deepest}\n{too_deep}\n"))
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert_eq!(stdout(&output), "1\n", "the limit is accepted");
    assert!(
        err.contains("line 2") && err.contains("nests deeper than 64 levels"),
        "{err}"
    );

    // export: the line parses as JSON (one level more than its context).
    let exported = stdout(&run_ok(cli(&dir).arg("export")));
    let value: serde_json::Value = serde_json::from_str(exported.trim()).unwrap();
    assert_eq!(depth_of(&value["context"]), MAX_CONTEXT_DEPTH);
    // audit, stats, dashboard and verify read it.
    let text = stdout(&run_ok(cli(&dir).args(["audit", "dlq-deep"])));
    assert!(text.trim_end().contains("VALID (1 actions"), "{text}");
    let text = stdout(&run_ok(
        cli(&dir).args(["stats", "entry", "dlq-deep", "--json"]),
    ));
    let detail: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(detail["status"], "pending", "{text}");
    run_ok(cli(&dir).arg("dashboard"));
    run_ok(cli(&dir).arg("verify"));
    let text = stdout(&run_ok(cli(&dir).args([
        "query",
        "--context",
        "entry_id=dlq-deep",
    ])));
    assert!(text.contains("dlq-deep"), "{text}");

    // import: the export goes back in; the deeper line is refused by line.
    let copy = tmp.path().join("copy");
    run_ok(
        cli(&copy)
            .args(["import", "--keep-sequence", "-"])
            .write_stdin(exported.clone()),
    );
    assert_eq!(stdout(&run_ok(cli(&copy).arg("export"))), exported);
    let file = tmp.path().join("deep.jsonl");
    std::fs::write(&file, format!("{deepest}\n{deepest}\n{too_deep}\n")).unwrap();
    let output = cli(&tmp.path().join("imported"))
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(
        err.contains(&format!("{}:3", file.display())) && err.contains("nests deeper"),
        "{err}"
    );
}

#[test]
fn offsets_beyond_23_59_and_lone_surrogates_are_refused_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let line = |timestamp: &str, context: &str| {
        format!(
            r#"{{"event_type":"e","source":"s","timestamp":"{timestamp}","service_name":"","context":{context}}}"#
        )
    };
    let cases = [
        (
            line("2025-01-01T00:00:00+25:00", "{}"),
            vec!["line 2", "offset +25", "beyond ±23:59"],
        ),
        (
            line("2025-01-01T00:00:00-24:00", "{}"),
            vec!["line 2", "offset -24", "beyond ±23:59"],
        ),
        (
            line("2025-01-01T00:00:00Z", r#"{"k":"\ud800"}"#),
            vec!["line 2", r"lone surrogate escape \ud800", "Unicode"],
        ),
        (
            line("2025-01-01T00:00:00Z", r#"{"k":"\ude00 after"}"#),
            vec!["line 2", r"lone surrogate escape \ude00"],
        ),
    ];
    for (i, (bad, words)) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("j{i}"));
        let good = line("2025-01-01T00:00:00+23:59", r#"{"k":"\ud83d\ude00"}"#);
        let output = cli(&dir)
            .arg("append")
            .write_stdin(format!("{good}\n{bad}\n"))
            .output()
            .unwrap();
        let err = assert_one_line_error(&output);
        assert_eq!(stdout(&output), "1\n", "{bad}");
        for word in words {
            assert!(err.contains(word), "{word:?} in {err}");
        }
        let output = cli(&dir)
            .args(["import", "-"])
            .write_stdin(format!("{good}\n{bad}\n"))
            .output()
            .unwrap();
        let err = assert_one_line_error(&output);
        assert!(err.contains("stdin:2"), "{err}");
    }
}

/// Runs the binary with `args`, writing `total` bytes of one line (an
/// entry whose context string never ends) to its stdin, in 1 MiB chunks,
/// until it stops reading; returns the exit code, stderr and the peak
/// resident memory in bytes (`wait4`'s `ru_maxrss`).
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by `wait4` in `wait_with_peak`, not by `Child::wait`"
)]
fn run_with_long_line(dir: &std::path::Path, args: &[&str], total: usize) -> (i32, String, u64) {
    let mut child = std_cli(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let head = br#"{"event_type":"e","source":"s","timestamp":"2025-01-01T00:00:00Z","service_name":"","context":{"k":""#;
        if stdin.write_all(head).is_err() {
            return;
        }
        let chunk = vec![b'x'; 1 << 20];
        let mut written = head.len();
        while written < total {
            let n = chunk.len().min(total - written);
            if stdin.write_all(&chunk[..n]).is_err() {
                return; // The reader stopped: refused.
            }
            written += n;
        }
        let _ = stdin.write_all(b"\"}}\n");
    });
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let (code, peak) = wait_with_peak(&child);
    writer.join().unwrap();
    (code, reader.join().unwrap(), peak)
}

/// Reaps the child with `wait4`: its exit code and peak resident bytes.
fn wait_with_peak(child: &std::process::Child) -> (i32, u64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    assert!(libc::WIFEXITED(status), "the child did not exit normally");
    (
        libc::WEXITSTATUS(status),
        u64::try_from(usage.ru_maxrss).unwrap() * 1024,
    )
}

#[test]
fn a_line_longer_than_the_record_limit_is_refused_while_it_is_read() {
    const LIMIT: u64 = 1 << 20; // the default record limit
    const LINE: usize = 200_000_000;
    let tmp = tempfile::tempdir().unwrap();
    // The same process with a small valid line: its own peak.
    let baseline_dir = tmp.path().join("baseline");
    let (code, err, baseline) = run_with_long_line(&baseline_dir, &["append"], 1000);
    assert_eq!(code, 0, "{err}");
    for args in [&["append"][..], &["import", "-"]] {
        let dir = tmp.path().join(args[0]);
        let (code, err, peak) = run_with_long_line(&dir, args, LINE);
        assert_eq!(code, 2, "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        let place = if args[0] == "append" {
            "line 1"
        } else {
            "stdin:1"
        };
        assert!(
            err.starts_with(&format!("error: {place}: the line exceeds {LIMIT} bytes")),
            "{err}"
        );
        let extra = peak.saturating_sub(baseline);
        eprintln!(
            "{args:?}: a {LINE}-byte line refused; peak RSS {} KiB, {} KiB above a one-line \
             append ({} KiB)",
            peak / 1024,
            extra / 1024,
            baseline / 1024
        );
        assert!(
            extra <= 2 * LIMIT,
            "{args:?}: peak {peak} bytes is {extra} above the baseline {baseline}: more than \
             twice the record limit"
        );
    }
}

#[test]
fn lines_up_to_the_record_limit_are_read_whole() {
    // 64 KiB segments: a record limit below 64 KiB. A line at the limit is
    // read whole (and refused as a record only if its frame is larger).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let entry = |pad: usize| {
        format!(
            r#"{{"event_type":"e","source":"s","timestamp":"2025-01-01T00:00:00Z","service_name":"","context":{{"k":"{}"}}}}"#,
            "x".repeat(pad)
        )
    };
    let output = run_ok(
        cli(&dir)
            .args(["--segment-bytes", "64K", "append"])
            .write_stdin(format!("{}\n{}\n", entry(10), entry(30_000))),
    );
    assert_eq!(stdout(&output), "1\n2\n");
    let output = cli(&dir)
        .arg("append")
        .write_stdin(format!("{}\n{}\n", entry(10), entry(70_000)))
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(
        err.contains("line 2: the line exceeds") && err.contains("maximum record size"),
        "{err}"
    );
    assert_eq!(stdout(&output), "3\n");
}

/// `metadata` nested so that the `dlq_store` context is `depth` levels deep
/// (the context is level 1, `metadata` level 2).
fn nested_metadata(depth: usize) -> serde_json::Map<String, serde_json::Value> {
    let mut value = serde_json::json!({});
    for _ in 0..depth.saturating_sub(3) {
        value = serde_json::json!({ "a": value });
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert("nested".into(), value);
    metadata
}

#[test]
fn a_chained_event_at_the_depth_limit_verifies_and_one_level_more_is_refused() {
    use baldur_journal::projection::{JournalStatistics, StoreEvent};
    let tmp = tempfile::tempdir().unwrap();
    let journal = std::sync::Arc::new(baldur_journal::DiskJournal::open(tmp.path()).unwrap());
    let statistics = JournalStatistics::new(journal.clone());
    let at = baldur_journal::Timestamp::now();
    let mut store = StoreEvent::new("dlq-chained", "payments", "timeout");
    store.metadata = nested_metadata(MAX_CONTEXT_DEPTH);
    assert_eq!(statistics.record(vec![store.to_entry(at)]).unwrap(), 1);
    let mut deeper = StoreEvent::new("dlq-deeper", "payments", "timeout");
    deeper.metadata = nested_metadata(MAX_CONTEXT_DEPTH + 1);
    let err = statistics
        .record(vec![deeper.to_entry(at)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("nests deeper than 64 levels"), "{err}");
    drop(statistics);
    let stored = baldur_journal::EventJournal::get_sequence_range(&*journal, 1, 10).unwrap();
    assert_eq!(stored.len(), 1, "nothing of the refused event was appended");
    let context: serde_json::Value = serde_json::from_str(stored[0].context.as_str()).unwrap();
    assert_eq!(depth_of(&context), MAX_CONTEXT_DEPTH);
    journal.close().unwrap();
    drop(journal);
    // The chain's hash is recomputed from the parsed context.
    let text = stdout(&run_ok(cli(tmp.path()).args(["audit", "dlq-chained"])));
    assert!(
        text.trim_end()
            .ends_with("VALID (1 actions, 1 hashes recomputed)"),
        "{text}"
    );
    let text = stdout(&run_ok(cli(tmp.path()).arg("verify")));
    assert!(text.starts_with("clean"), "{text}");
}

/// The bytes of every file in `dir`.
fn directory_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|item| item.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4 in wait_with_peak"
)]
fn verify_peak_resident_memory_stays_under_the_journal_bytes_plus_64_mib() {
    use baldur_journal::projection::StoreEvent;
    // One segment larger than the allowance, of unchained DLQ events of
    // about 2 KB (the shape that once took 3.4 times the journal's size):
    // a heap copy of the segment alone breaks the bound.
    const SEGMENT: u64 = 160 << 20;
    const EVENTS: u64 = 70_000;
    let tmp = tempfile::tempdir().unwrap();
    let journal = baldur_journal::DiskJournal::builder(tmp.path())
        .segment_bytes(SEGMENT)
        .durability(baldur_journal::Durability::Os)
        .open()
        .unwrap();
    let padding = "x".repeat(1800);
    let at = baldur_journal::Timestamp::now();
    for first in (0..EVENTS).step_by(1000) {
        let batch: Vec<_> = (first..first + 1000)
            .map(|i| {
                let mut store = StoreEvent::new(format!("dlq-{i}"), "payments", "timeout");
                store.error_message = padding.clone();
                store.to_entry(at)
            })
            .collect();
        baldur_journal::EventJournal::append_batch(&journal, &batch).unwrap();
    }
    journal.close().unwrap();
    drop(journal);
    let bytes = directory_bytes(tmp.path());
    assert!(bytes > 100 << 20, "the journal is {bytes} bytes");
    let child = std_cli(tmp.path())
        .arg("verify")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (code, peak) = wait_with_peak(&child);
    assert_eq!(code, 0, "verify failed");
    eprintln!(
        "verify of a {} MiB journal: peak resident {} MiB",
        bytes >> 20,
        peak >> 20
    );
    assert!(
        peak < bytes + (64 << 20),
        "verify's peak resident memory {peak} exceeds the journal's {bytes} bytes plus 64 MiB"
    );
}
