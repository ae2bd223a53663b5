//! `segments drop`: retention by hand, through the binary.

use std::path::Path;
use std::sync::Arc;

use baldur_journal::projection::{
    AuditLink, JournalStatistics, LifecycleEvent, LifecycleKind, StatisticsRepository, StoreEvent,
};
use baldur_journal::{DiskJournal, EventJournal, Timestamp};

use crate::cli_common::*;

const T0: i64 = 1_700_000_000_000_000_000;

/// A chained DLQ journal in 64 KiB segments: 300 entries stored, linked
/// and (two in three) resolved, their steps interleaved so that most
/// chains span segments.
fn chained_journal(dir: &Path) {
    let journal = Arc::new(
        DiskJournal::builder(dir)
            .segment_bytes(64 << 10)
            .open()
            .unwrap(),
    );
    let stats = JournalStatistics::builder(journal.clone())
        .audit_chain(true)
        .build()
        .unwrap();
    let at = |i: i64| Timestamp::from_unix_nanos(T0 + i * 60_000_000_000);
    for i in 0..300 {
        let id = format!("dlq-{i}");
        stats
            .record(vec![
                StoreEvent::new(&id, ["payments", "orders"][i % 2], "timeout")
                    .to_entry(at(i as i64)),
            ])
            .unwrap();
    }
    for i in 0..300 {
        let id = format!("dlq-{i}");
        let mut link = AuditLink::new(&id, "review");
        link.details = Some(format!("looked at {i}"));
        assert!(stats.link_audit_entry(&link).unwrap());
    }
    for i in (0..300).filter(|i| i % 3 != 0) {
        let id = format!("dlq-{i}");
        stats
            .record(vec![
                LifecycleEvent::new(LifecycleKind::Resolve, &id).to_entry(at(400 + i64::from(i))),
            ])
            .unwrap();
    }
    drop(stats);
    Arc::try_unwrap(journal).ok().unwrap().close().unwrap();
}

fn first_base(dir: &Path) -> u64 {
    baldur_test_support::common::base_of(&segment_files(dir)[0])
}

#[test]
fn a_drop_by_hand_keeps_statistics_audit_and_verify_whole() {
    let dir = tempfile::tempdir().unwrap();
    chained_journal(dir.path());
    let files = segment_files(dir.path());
    assert!(files.len() >= 4, "{} segments", files.len());
    let now = ["--now", "2023-11-20T00:00:00Z"];
    let stats_before: Vec<String> = ["status", "domains", "cleanup"]
        .iter()
        .map(|what| {
            stdout(&run_ok(
                cli(dir.path()).args(["stats", what, "--json"]).args(now),
            ))
        })
        .collect();
    let latest: u64 = stdout(&run_ok(cli(dir.path()).arg("latest")))
        .trim()
        .parse()
        .unwrap();
    // A dry run names what would go and removes nothing.
    let below = (latest / 2).to_string();
    let dry = run_ok(cli(dir.path()).args(["segments", "drop", "--below", &below, "--dry-run"]));
    assert!(stdout(&dry).contains("would drop"), "{}", stdout(&dry));
    assert_eq!(segment_files(dir.path()), files);
    let done = run_ok(cli(dir.path()).args(["segments", "drop", "--below", &below]));
    let said = stdout(&done);
    assert!(said.contains("dropped"), "{said}");
    let mark = first_base(dir.path());
    assert!(mark > 1 && mark <= latest / 2 + 1, "mark {mark}");
    assert!(
        said.contains(&format!("the journal starts at sequence {mark}")),
        "{said}"
    );
    assert!(files.len() > segment_files(dir.path()).len());
    // Info and reads say where the journal starts now.
    let info = stdout(&run_ok(cli(dir.path()).arg("info")));
    assert!(
        info.contains(&format!("sequences below {mark} were dropped")),
        "{info}"
    );
    let range = run_ok(cli(dir.path()).args(["range", "1", &(mark + 2).to_string()]));
    assert!(stderr(&range).contains(&format!("sequences below {mark} were dropped")));
    let sequences: Vec<u64> = stdout(&range).lines().map(sequence_of).collect();
    assert_eq!(sequences, vec![mark, mark + 1]);
    // Statistics from the snapshot, audit chains from their first retained
    // link, and the bytes: all as before the drop.
    let stats_after: Vec<String> = ["status", "domains", "cleanup"]
        .iter()
        .map(|what| {
            stdout(&run_ok(
                cli(dir.path()).args(["stats", what, "--json"]).args(now),
            ))
        })
        .collect();
    assert_eq!(stats_after, stats_before);
    let verified = run_ok(cli(dir.path()).args(["verify", "--verbose"]));
    let summary = stderr(&verified) + &stdout(&verified);
    assert!(
        summary.contains("begun below the retention mark"),
        "{summary}"
    );
    // A salvage read knows the mark: what was dropped is no hole.
    let salvaged = run_ok(cli(dir.path()).args(["--salvage", "count"]));
    assert!(stderr(&salvaged).is_empty(), "{}", stderr(&salvaged));
    let count: u64 = stdout(&salvaged).trim().parse().unwrap();
    let live: u64 = stdout(&run_ok(cli(dir.path()).arg("count")))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(count, live);
    // The trail of an entry whose first records were dropped verifies
    // from its first retained link.
    // Stores are sequences 1..=300 and links 301..=600: this entry's store
    // is gone and its link is kept.
    let id = if mark > 301 { mark - 301 } else { mark - 2 };
    let audit = run_ok(cli(dir.path()).args(["audit", &format!("dlq-{id}")]));
    let trail = stdout(&audit);
    assert!(
        trail.contains("dropped by retention") && trail.contains("VALID ("),
        "{trail}"
    );
    // A second drop moves the mark on.
    let more = (latest - 10).to_string();
    run_ok(cli(dir.path()).args(["segments", "drop", "--below", &more]));
    assert!(first_base(dir.path()) > mark);
    run_ok(cli(dir.path()).arg("verify"));
}

#[test]
fn a_drop_refuses_while_a_writer_runs_and_without_a_selection() {
    let dir = tempfile::tempdir().unwrap();
    make_journal(dir.path(), 50);
    let output = run_code(cli(dir.path()).args(["segments", "drop"]), 2);
    assert!(stderr(&output).contains("give --older-than, --max-bytes or --below"));
    let output = run_code(
        cli(dir.path()).args(["segments", "drop", "--older-than", "3x"]),
        2,
    );
    assert!(stderr(&output).contains("expected an age like 30d"));
    let writer = DiskJournal::open(dir.path()).unwrap();
    writer.append(&entry(51)).unwrap();
    let output = run_code(
        cli(dir.path()).args(["segments", "drop", "--below", "10"]),
        2,
    );
    let message = assert_one_line_error(&output);
    assert!(
        message.contains("a writer is running") && message.contains("retention"),
        "{message}"
    );
    writer.close().unwrap();
}

#[test]
fn segments_move_to_a_tier_and_read_both_as_one_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    let tier = tmp.path().join("cold");
    let journal = DiskJournal::builder(&dir)
        .segment_bytes(64 << 10)
        .open()
        .unwrap();
    let all: Vec<_> = (1..=3000).map(entry).collect();
    journal.append_batch(&all).unwrap();
    journal.close().unwrap();
    let tier_arg = tier.to_str().unwrap();
    let moved = run_ok(cli(&dir).args(["segments", "move", "--to", tier_arg, "--below", "2000"]));
    assert!(
        stdout(&moved).contains(&format!("to {tier_arg}")),
        "{}",
        stdout(&moved)
    );
    let mark = first_base(&dir);
    assert!(mark > 1);
    assert!(!segment_files(&tier).is_empty());
    // Alone, the live directory starts at the mark; with its tier, at 1.
    let live: u64 = stdout(&run_ok(cli(&dir).arg("count")))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(live, 3001 - mark);
    let both = run_ok(cli(&dir).args(["--tier-dir", tier_arg, "range", "1"]));
    let sequences: Vec<u64> = stdout(&both).lines().map(sequence_of).collect();
    assert_eq!(sequences, (1..=3000).collect::<Vec<_>>());
    assert!(stderr(&both).is_empty(), "{}", stderr(&both));
    run_ok(cli(&dir).args(["--tier-dir", tier_arg, "verify"]));
    // A writer command refuses the tier.
    let output = run_code(cli(&dir).args(["--tier-dir", tier_arg, "append"]), 2);
    assert!(assert_one_line_error(&output).contains("--tier-dir"));
    // A changed byte in the tier is found by verify across both.
    let first_moved = segment_files(&tier)[1].clone();
    let mut bytes = std::fs::read(&first_moved).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&first_moved, &bytes).unwrap();
    let output = run_code(cli(&dir).args(["--tier-dir", tier_arg, "verify"]), 1);
    assert!(stdout(&output).contains(first_moved.to_str().unwrap()));
    bytes[100] ^= 1;
    std::fs::write(&first_moved, &bytes).unwrap();
    // Purging the tier's oldest keeps the rest chained to the mark.
    let purged = run_ok(cli(&dir).args([
        "segments", "purge", "--tier", tier_arg, "--below", "900", "--now", "latest",
    ]));
    assert!(stdout(&purged).contains("dropped"), "{}", stdout(&purged));
    run_ok(cli(&dir).args(["--tier-dir", tier_arg, "verify"]));
    let first = stdout(&run_ok(cli(&dir).args([
        "--tier-dir",
        tier_arg,
        "range",
        "1",
        "2000",
    ])))
    .lines()
    .map(sequence_of)
    .next()
    .unwrap();
    assert!(first > 1 && first < mark, "{first}");
}
