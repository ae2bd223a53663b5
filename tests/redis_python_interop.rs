//! A journal shared with Python services: the reference's own
//! `RedisEventJournalRepository` (baldur-framework 1.17.1, installed by
//! `.ci/run` into a virtual environment, driven by tests/python/
//! baldur_interop.py) writes the reference's 3,000 vector events, and our
//! backend in the baldur layout gives the reference's answers to its 396
//! queries and ranges (`query`, `count`, `get_sequence_range`, entries
//! field by field); then the other way round, Rust appends and the
//! reference reads back the same answers.
//!
//! The interpreter: `BALDUR_PYTHON` (set by `.ci/run`), else
//! `/tmp/baldur-venv/bin/python`. Without it, or without the package, or
//! with `BALDUR_NO_PYTHON` set, the tests skip (tests/skip: a skip is a
//! failure under `CI` unless turned off on purpose); they also need Redis.
#![cfg(feature = "redis")]

use baldur_test_support::interop_common::{normalise_python, our_answer};
use baldur_test_support::redis_common;
use baldur_test_support::skip;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use baldur_journal::{EventJournal, JournalEntry, RedisJournal, RedisLayout};
use redis_common::{Server, unique_prefix};
use serde_json::Value;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/vectors/journal"
);
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/baldur_interop.py"
);

/// The reference's interpreter, or `None` when the test is to skip.
fn python() -> Option<PathBuf> {
    skip::reference_python("redis, baldur.adapters.redis.event_journal")
}

/// Runs the driver script with `input` on its standard input.
fn drive(python: &PathBuf, url: &str, prefix: &str, command: &str, input: &str) -> String {
    let mut child = Command::new(python)
        .args([SCRIPT, url, prefix, command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap()
}

fn compare(ours: &RedisJournal, python_answers: &str, cases: &str) -> usize {
    let mut lines = python_answers.lines();
    let mut compared = 0;
    for case in cases.lines() {
        let case: Value = serde_json::from_str(case).unwrap();
        let theirs = normalise_python(serde_json::from_str(lines.next().unwrap()).unwrap());
        let mine = our_answer(ours, &case);
        assert_eq!(mine, theirs, "case {}", case["id"]);
        compared += 1;
    }
    let latest: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(latest["latest"], ours.get_latest_sequence().unwrap());
    compared
}

fn baldur(server: &Server, prefix: &str) -> RedisJournal {
    RedisJournal::builder(server.url.clone())
        .layout(RedisLayout::Baldur)
        .prefix(prefix)
        .open()
        .unwrap()
}

#[test]
fn python_writes_and_rust_gives_the_reference_answers() {
    let Some(python) = python() else {
        return;
    };
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("py-writes");
    let events = read("events.jsonl");
    let written = drive(&python, &server.url, &prefix, "write", &events);
    assert_eq!(
        written
            .lines()
            .map(|l| l.parse::<u64>().unwrap())
            .collect::<Vec<_>>(),
        (1..=3000).collect::<Vec<_>>()
    );
    let cases = read("queries.jsonl");
    let answers = drive(&python, &server.url, &prefix, "answer", &cases);
    let j = baldur(&server, &prefix);
    assert_eq!(compare(&j, &answers, &cases), 396);
    cli_reads_a_python_written_journal(&format!("{}?prefix={prefix}&layout=baldur", server.url));
    j.destroy().unwrap();
}

/// The CLI over the journal the Python services wrote (`--journal URL`):
/// count, export, verify, fold the statistics, and copy it to a file
/// journal that answers the same.
fn cli_reads_a_python_written_journal(url: &str) {
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_baldur-journal"))
            .env_remove("BALDUR_JOURNAL_DIR")
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(run(&["--journal", url, "count"]), "3000\n");
    let export = run(&["--journal", url, "export"]);
    assert_eq!(export.lines().count(), 3000);
    assert!(run(&["--journal", url, "verify"]).starts_with("clean: "));
    run(&["--journal", url, "stats", "status", "--json"]);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy");
    run(&["copy", "--from", url, "--to", copy.to_str().unwrap()]);
    assert_eq!(run(&["--dir", copy.to_str().unwrap(), "count"]), "3000\n");
    let filter = ["count", "--event-type", "circuit_breaker_opened"];
    let mut on_redis = vec!["--journal", url];
    on_redis.extend(filter);
    let mut on_file = vec!["--dir", copy.to_str().unwrap()];
    on_file.extend(filter);
    assert_eq!(run(&on_redis), run(&on_file));
}

#[test]
fn rust_writes_and_python_reads_back_the_same_answers() {
    let Some(python) = python() else {
        return;
    };
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("rust-writes");
    let j = baldur(&server, &prefix);
    let events: Vec<JournalEntry> = read("events.jsonl")
        .lines()
        .map(|l| JournalEntry::from_json(l).unwrap())
        .collect();
    for chunk in events.chunks(128) {
        j.append_batch(chunk).unwrap();
    }
    let cases = read("queries.jsonl");
    let answers = drive(&python, &server.url, &prefix, "answer", &cases);
    assert_eq!(compare(&j, &answers, &cases), 396);
    // The reference appends after us, and we read its entry.
    let more = r#"{"event_type":"emergency_level_changed","source":"py","timestamp":"2025-03-01T12:00:00.250000+00:00","service_name":"","context":{"level":"level_1"}}"#;
    assert_eq!(
        drive(&python, &server.url, &prefix, "write", more).trim(),
        "3001"
    );
    let back = j.get_sequence_range(3001, 3002).unwrap();
    assert_eq!(back[0].event_type, "emergency_level_changed");
    assert_eq!(j.append(&events[0]).unwrap(), 3002);
    j.destroy().unwrap();
}

/// The nesting depth of a JSON value (scalars 0, `{}` 1).
fn depth_of(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn the_deepest_context_rust_accepts_is_read_by_python() {
    let Some(python) = python() else {
        return;
    };
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let depth = baldur_journal::entry::MAX_CONTEXT_DEPTH;
    let mut context = "{}".to_string();
    for _ in 1..depth {
        context = format!(r#"{{"a":{context}}}"#);
    }
    let line = format!(
        r#"{{"event_type":"deep","source":"rust","timestamp":"2025-03-01T12:00:00Z","service_name":"","context":{context}}}"#
    );
    let prefix = unique_prefix("deep");
    let j = baldur(&server, &prefix);
    assert_eq!(
        j.append(&JournalEntry::from_json(&line).unwrap()).unwrap(),
        1
    );
    let case = r#"{"id":"deep","kind":"range","start_sequence":1,"end_sequence":2}"#;
    let answers = drive(&python, &server.url, &prefix, "answer", case);
    let answer: Value = serde_json::from_str(answers.lines().next().unwrap()).unwrap();
    assert_eq!(answer["sequences"], serde_json::json!([1]), "{answers}");
    assert_eq!(depth_of(&answer["entries"][0]["context"]), depth);
    j.destroy().unwrap();
}
