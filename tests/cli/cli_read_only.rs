//! The commands that only read (query, count, range, latest, info, verify,
//! export, tail, tail -f) leave the directory exactly as it was: the same
//! files, sizes, modification times and SHA-256 hashes; also on a copy
//! with an unsynced torn tail (which a writer would zero). Pointed at a
//! directory that does not exist, they fail and create nothing.

use std::path::Path;
use std::process::Stdio;

use crate::cli_common::*;

const READ_ONLY: [&[&str]; 14] = [
    &["query"],
    &["query", "--json", "--event-type", "circuit_breaker_opened"],
    &[
        "query",
        "--context",
        "attempt=1",
        "--since",
        "2025-01-01T00:00:00Z",
    ],
    &["count"],
    &["count", "--service", "payments"],
    &["range", "1", "100"],
    &["range", "0", "18446744073709551615"],
    &["latest"],
    &["info"],
    &["info", "--json"],
    &["verify"],
    &["export"],
    &["tail"],
    &["tail", "-n", "1000"],
];

fn run_every_read_only_command(dir: &Path) {
    for args in READ_ONLY {
        let output = cli(dir).args(args).output().unwrap();
        let code = output.status.code();
        // verify finds problems in a damaged copy (exit 1); all else succeeds.
        let allowed: &[i32] = if args[0] == "verify" { &[0, 1] } else { &[0] };
        assert!(
            code.is_some_and(|c| allowed.contains(&c)),
            "{args:?}: {code:?} {}",
            stderr(&output)
        );
    }
    // tail -f: running, printing, then killed.
    let mut child = std_cli(dir)
        .args(["tail", "-f", "-n", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = LineReader::new(child.stdout.take().unwrap());
    lines.take(3, "tail -f's first lines");
    kill(child);
}

#[test]
fn read_only_commands_leave_a_journal_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 1500);
    let before = snapshot(tmp.path());
    run_every_read_only_command(tmp.path());
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn read_only_commands_leave_a_golden_copy_untouched() {
    // A copy without LOCK or head files, as from another machine.
    let tmp = tempfile::tempdir().unwrap();
    golden_copy(tmp.path());
    let before = snapshot(tmp.path());
    run_every_read_only_command(tmp.path());
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn read_only_commands_do_not_repair_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 300);
    // Garbage after the last record of the active segment: a torn write.
    let active = segment_files(tmp.path()).pop().unwrap();
    let mut bytes = std::fs::read(&active).unwrap();
    bytes.extend_from_slice(&[0x55; 40]);
    std::fs::write(&active, bytes).unwrap();
    std::fs::remove_file(tmp.path().join("head")).ok();
    let before = snapshot(tmp.path());
    run_every_read_only_command(tmp.path());
    assert_eq!(snapshot(tmp.path()), before);
    // They say what they saw, and still serve every record.
    let output = run_ok(cli(tmp.path()).arg("latest"));
    assert_eq!(stdout(&output), "1301\n");
    assert!(
        stderr(&output).starts_with("warning: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_directory_is_an_error_and_is_not_created() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-journal-here");
    for args in READ_ONLY.iter().copied().chain([&["tail", "-f"][..]]) {
        let output = cli(&missing).args(args).output().unwrap();
        let err = assert_one_line_error(&output);
        assert!(err.contains("does not exist"), "{args:?}: {err}");
        assert!(!missing.exists(), "{args:?} created the directory");
    }
    // An empty directory is not a journal either, and stays empty.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for args in READ_ONLY {
        let output = cli(&empty).args(args).output().unwrap();
        assert_one_line_error(&output);
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "{args:?}");
    }
}
