//! `tail`: the last N entries (gaps counted as absent, not as entries),
//! and `tail -f` printing what other processes append: a writer that
//! stays open, and writers that come and go between two polls.

use std::io::Write;
use std::process::Stdio;

use crate::cli_common::*;

fn tail(dir: &std::path::Path, args: &[&str]) -> Vec<u64> {
    stdout(&run_ok(cli(dir).arg("tail").args(args)))
        .lines()
        .map(sequence_of)
        .collect()
}

#[test]
fn tail_prints_the_last_n_entries() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 100);
    // 1..=100, then 110, 1100, 1101.
    assert_eq!(
        tail(tmp.path(), &[]),
        (94..=100).chain([110, 1100, 1101]).collect::<Vec<_>>()
    );
    assert_eq!(tail(tmp.path(), &["-n", "2"]), vec![1100, 1101]);
    assert_eq!(tail(tmp.path(), &["-n", "4"]), vec![100, 110, 1100, 1101]);
    assert_eq!(tail(tmp.path(), &["-n", "0"]), Vec::<u64>::new());
    assert_eq!(tail(tmp.path(), &["-n", "1000"]).len(), 103);
    // Lines are the export format.
    let last = stdout(&run_ok(cli(tmp.path()).args(["tail", "-n", "1"])));
    let exported = stdout(&run_ok(cli(tmp.path()).args(["export", "--from", "1101"])));
    assert_eq!(last, exported);
    // An empty journal: nothing.
    let empty = tmp.path().join("empty");
    // (`append` with no input creates none.)
    baldur_journal::DiskJournal::open(&empty)
        .unwrap()
        .close()
        .unwrap();
    assert_eq!(tail(&empty, &[]), Vec::<u64>::new());
}

#[test]
fn tail_follow_sees_entries_appended_by_other_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    append_via_cli(dir, 1..=5);
    let mut follower = std_cli(dir)
        .args(["tail", "-f", "-n", "2", "--poll-ms", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = LineReader::new(follower.stdout.take().unwrap());
    let first: Vec<u64> = lines
        .take(2, "the last two")
        .iter()
        .map(|l| sequence_of(l))
        .collect();
    assert_eq!(first, vec![4, 5]);

    // Writers that each come and go (one process per append).
    for i in 6..=8 {
        assert_eq!(append_via_cli(dir, [i]), format!("{i}\n"));
        assert_eq!(
            sequence_of(&lines.next_line("an entry of a finished writer")),
            i
        );
    }

    // A writer that stays open: each entry shows while it is running.
    let mut writer = std_cli(dir)
        .arg("append")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = writer.stdin.take().unwrap();
    let acks = LineReader::new(writer.stdout.take().unwrap());
    for i in 9..=12 {
        writeln!(stdin, "{}", entry_line(i)).unwrap();
        stdin.flush().unwrap();
        assert_eq!(acks.next_line("the writer's ack"), i.to_string());
        let line = lines.next_line("an entry of a live writer");
        assert_eq!(sequence_of(&line), i);
        assert!(line.contains(&format!("\"n\":{i}")), "{line}");
    }
    drop(stdin);
    assert!(writer.wait().unwrap().success());

    // A burst from a writer that exits before the follower polls again.
    append_via_cli(dir, 13..=40);
    let burst: Vec<u64> = lines
        .take(28, "a burst")
        .iter()
        .map(|l| sequence_of(l))
        .collect();
    assert_eq!(burst, (13..=40).collect::<Vec<_>>());
    kill(follower);
}
