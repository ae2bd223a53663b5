//! Real processes: a writer child killed with SIGKILL while appending from
//! several threads loses nothing it acknowledged; a reader in another
//! process follows a live writer across segment rolls and only ever sees
//! complete, correct entries in non-decreasing order.
//!
//! The children are this same test binary, re-run with an environment
//! variable that selects `child_process`.

use baldur_test_support::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use baldur_journal::{Context, DiskJournal, EventJournal, JournalEntry, Timestamp};
use common::{entry, segment_files, strip};

const CHILD_DIR: &str = "BALDUR_TEST_CHILD_DIR";
const CHILD_MODE: &str = "BALDUR_TEST_CHILD_MODE";
const KILL_THREADS: u64 = 4;
const FOLLOW_ENTRIES: u64 = 6000;

fn tagged(thread: u64, n: u64) -> JournalEntry {
    JournalEntry::new(
        "kill_test",
        "child",
        Timestamp::from_unix_nanos(n as i64),
        "svc",
    )
    .with_context(Context::from_json(&format!(r#"{{"thread":{thread},"n":{n}}}"#)).unwrap())
}

/// Runs only inside a child process started by the tests below.
#[test]
#[ignore = "run as a child process by the other tests in this file"]
fn child_process() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let journal = Arc::new(
        DiskJournal::builder(&dir)
            .segment_bytes(64 << 10)
            .open()
            .expect("child open"),
    );
    let mut out = std::io::stdout();
    // libtest has printed "test child_process ... " without a newline.
    writeln!(out, "\nready").unwrap();
    out.flush().unwrap();
    match std::env::var(CHILD_MODE).as_deref() {
        Ok("kill") => {
            let threads: Vec<_> = (0..KILL_THREADS)
                .map(|t| {
                    let journal = journal.clone();
                    std::thread::spawn(move || {
                        for n in 0.. {
                            let seq = journal.append(&tagged(t, n)).expect("append");
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "ack {seq} {t} {n}").unwrap();
                            out.flush().unwrap();
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        Ok("follow") => {
            let mut go = String::new();
            std::io::stdin().read_line(&mut go).unwrap();
            let all: Vec<_> = (1..=FOLLOW_ENTRIES).map(entry).collect();
            for batch in all.chunks(3) {
                journal.append_batch(batch).unwrap();
            }
            journal.close().unwrap();
            writeln!(out, "done").unwrap();
        }
        other => panic!("unknown child mode {other:?}"),
    }
}

fn child(dir: &std::path::Path, mode: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            // This module's test, by its name in the engine binary.
            "crash_kill::child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_MODE, mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_while_appending_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for round in 0..4u64 {
        let mut process = child(dir.path(), "kill");
        let stdout = process.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let target = 400 + round * 700;
        let mut this_round = 0;
        for line in lines.by_ref() {
            let line = line.unwrap();
            let Some(rest) = line.strip_prefix("ack ") else {
                continue;
            };
            let v: Vec<u64> = rest.split(' ').map(|x| x.parse().unwrap()).collect();
            assert!(
                acked.insert(v[0], (v[1], v[2])).is_none(),
                "sequence {} acknowledged twice",
                v[0]
            );
            this_round += 1;
            if this_round == target {
                process.kill().unwrap();
            }
        }
        process.wait().unwrap();
        assert!(
            this_round >= target,
            "round {round}: the child stopped early"
        );
        // Everything the child printed was acknowledged before it died.
        let journal = DiskJournal::open(dir.path()).unwrap();
        let stored: BTreeMap<u64, JournalEntry> = journal
            .range_iter(0, u64::MAX)
            .unwrap()
            .map(|e| e.map(|e| (e.sequence, e)))
            .collect::<Result<_, _>>()
            .unwrap();
        for (seq, (thread, n)) in &acked {
            let e = stored
                .get(seq)
                .unwrap_or_else(|| panic!("round {round}: acknowledged {seq} lost"));
            let mut expected = tagged(*thread, *n);
            expected.sequence = *seq;
            assert_eq!(strip(e.clone()), expected, "round {round}");
        }
        // Sequences stay strictly increasing and gap-free across kills.
        let seqs: Vec<u64> = stored.keys().copied().collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
        journal.close().unwrap();
    }
    assert!(
        segment_files(dir.path()).len() >= 3,
        "the kills crossed segment rolls"
    );
}

#[test]
fn a_reader_in_another_process_follows_a_live_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut process = child(dir.path(), "follow");
    let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("child said ready").unwrap();
        if line == "ready" {
            break;
        }
    }
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    let mut stdin = process.stdin.take().unwrap();
    writeln!(stdin, "go").unwrap();
    drop(stdin);
    let mut seen = BTreeSet::new();
    let mut last = 0;
    let mut child_done = false;
    while last < FOLLOW_ENTRIES {
        let latest = reader.get_latest_sequence().unwrap();
        assert!(latest >= last, "latest went back from {last} to {latest}");
        if latest > last {
            let fresh = reader.get_sequence_range(last + 1, latest + 1).unwrap();
            assert_eq!(
                fresh.len() as u64,
                latest - last,
                "a complete run of entries"
            );
            for e in fresh {
                let mut expected = entry(e.sequence);
                expected.sequence = e.sequence;
                assert_eq!(strip(e), expected);
            }
            seen.insert(latest);
            last = latest;
        } else if child_done {
            panic!("the writer finished but the reader is stuck at {last}");
        } else if let Some(status) = process.try_wait().unwrap() {
            assert!(status.success(), "writer child failed");
            child_done = true;
        }
    }
    process.wait().unwrap();
    assert!(
        seen.len() >= 100,
        "only {} distinct latest sequences observed",
        seen.len()
    );
    let bases: Vec<u64> = segment_files(dir.path())
        .iter()
        .map(|p| p.file_stem().unwrap().to_str().unwrap().parse().unwrap())
        .collect();
    let segments_seen: BTreeSet<usize> = seen
        .iter()
        .map(|s| bases.partition_point(|b| b <= s) - 1)
        .collect();
    assert!(
        segments_seen.len() >= 4,
        "observed across {} segments only",
        segments_seen.len()
    );
}
