//! The top of the sequence space: a journal whose last entry sits at
//! sequence `u64::MAX`. Every command without an END reaches it (`range
//! START`, `export`, `copy`, `tail` with and without `-f`, `query`,
//! `count`, `stats`, `verify`), and so do the library's reads to the end
//! (`range_iter_from`, the statistics fold) over the disk and memory
//! backends. The Redis legs are in tests/cli/redis_cli.rs.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use crate::cli_common::*;
use baldur_journal::projection::{
    JournalStatistics, LifecycleEvent, LifecycleKind, StatisticsRepository, StoreEvent,
};
use baldur_journal::{DiskJournal, EventJournal, JournalEntry, MemoryJournal, Timestamp};

/// The sequences of the top journal: the last six of the space.
fn top_sequences() -> Vec<u64> {
    (u64::MAX - 5..=u64::MAX).collect()
}

/// A journal holding `entry(i)` at each of [`top_sequences`], built through
/// `import --keep-sequence`.
fn make_top_journal(dir: &Path) -> Vec<u64> {
    let sequences = top_sequences();
    let input: String = sequences
        .iter()
        .enumerate()
        .map(|(i, sequence)| {
            let line = entry_line(i as u64 + 1);
            format!("{{\"sequence\":{sequence},{}\n", &line[1..])
        })
        .collect();
    run_ok(
        cli(dir)
            .args(["import", "--keep-sequence", "-"])
            .write_stdin(input),
    );
    sequences
}

fn sequences_of(text: &str) -> Vec<u64> {
    text.lines().map(sequence_of).collect()
}

#[test]
fn range_without_end_reaches_u64_max() {
    let tmp = tempfile::tempdir().unwrap();
    let all = make_top_journal(tmp.path());
    let text = stdout(&run_ok(cli(tmp.path()).args(["range", "0"])));
    assert_eq!(sequences_of(&text), all);
    let from = (u64::MAX - 1).to_string();
    let text = stdout(&run_ok(cli(tmp.path()).args(["range", &from])));
    assert_eq!(sequences_of(&text), vec![u64::MAX - 1, u64::MAX]);
    let max = u64::MAX.to_string();
    let text = stdout(&run_ok(cli(tmp.path()).args(["range", &max])));
    assert_eq!(sequences_of(&text), vec![u64::MAX]);
    // END stays excluded: `range S u64::MAX` stops below it.
    let text = stdout(&run_ok(cli(tmp.path()).args(["range", &from, &max])));
    assert_eq!(sequences_of(&text), vec![u64::MAX - 1]);
    // And the lines are the library's entries.
    let reader = DiskJournal::open_read_only(tmp.path()).unwrap();
    let want: Vec<JournalEntry> = reader
        .range_iter_from(0)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let text = stdout(&run_ok(cli(tmp.path()).args(["range", "1"])));
    let got: Vec<JournalEntry> = text
        .lines()
        .map(|l| JournalEntry::from_json(l).unwrap())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn export_includes_u64_max_and_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("top");
    let all = make_top_journal(&source);
    let text = stdout(&run_ok(cli(&source).arg("export")));
    assert_eq!(sequences_of(&text), all, "every entry, u64::MAX included");
    let from = (u64::MAX - 2).to_string();
    let tail = stdout(&run_ok(cli(&source).args(["export", "--from", &from])));
    assert_eq!(sequences_of(&tail), all[3..].to_vec());
    // With --to the end is excluded, as in `range`.
    let max = u64::MAX.to_string();
    let below = stdout(&run_ok(
        cli(&source).args(["export", "--from", &from, "--to", &max]),
    ));
    assert_eq!(sequences_of(&below), all[3..5].to_vec());
    // An import of the export exports the same bytes.
    let restored = tmp.path().join("restored");
    run_ok(
        cli(&restored)
            .args(["import", "--keep-sequence", "-"])
            .write_stdin(text.clone()),
    );
    assert_eq!(stdout(&run_ok(cli(&restored).arg("export"))), text);
}

#[test]
fn copy_includes_u64_max_and_resume_after_it_copies_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("top");
    let all = make_top_journal(&source);
    let copy = tmp.path().join("copy");
    let text = stdout(&run_ok(assert_cmd::Command::new(BIN).args([
        "copy",
        "--from",
        source.to_str().unwrap(),
        "--to",
        copy.to_str().unwrap(),
    ])));
    assert!(
        text.contains(&format!(
            "copied 6 entries (sequences {}..={})",
            all[0],
            u64::MAX
        )),
        "{text}"
    );
    assert_eq!(
        stdout(&run_ok(cli(&copy).arg("export"))),
        stdout(&run_ok(cli(&source).arg("export")))
    );
    // Resuming a destination that ends at u64::MAX: nothing is left.
    let text = stdout(&run_ok(assert_cmd::Command::new(BIN).args([
        "copy",
        "--from",
        source.to_str().unwrap(),
        "--to",
        copy.to_str().unwrap(),
        "--resume",
    ])));
    assert!(text.starts_with("copied 0 entries"), "{text}");
}

#[test]
fn tail_prints_the_entry_at_u64_max() {
    let tmp = tempfile::tempdir().unwrap();
    let all = make_top_journal(tmp.path());
    let tail =
        |args: &[&str]| sequences_of(&stdout(&run_ok(cli(tmp.path()).arg("tail").args(args))));
    assert_eq!(tail(&["-n", "2"]), all[4..].to_vec());
    assert_eq!(tail(&["-n", "1"]), vec![u64::MAX]);
    assert_eq!(tail(&[]), all, "the default 10 holds all six");
    assert_eq!(tail(&["-n", "0"]), Vec::<u64>::new());
}

#[test]
fn tail_follow_prints_an_append_landing_at_u64_max() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Entries up to u64::MAX - 1: the next append gets u64::MAX.
    let input: String = [u64::MAX - 2, u64::MAX - 1]
        .iter()
        .enumerate()
        .map(|(i, sequence)| {
            let line = entry_line(i as u64 + 1);
            format!("{{\"sequence\":{sequence},{}\n", &line[1..])
        })
        .collect();
    run_ok(
        cli(dir)
            .args(["import", "--keep-sequence", "-"])
            .write_stdin(input),
    );
    let mut follower = std_cli(dir)
        .args(["tail", "-f", "-n", "1", "--poll-ms", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = LineReader::new(follower.stdout.take().unwrap());
    assert_eq!(
        sequence_of(&lines.next_line("the last entry")),
        u64::MAX - 1
    );
    let printed = append_via_cli(dir, [7]);
    assert_eq!(printed.trim(), u64::MAX.to_string());
    let line = lines.next_line("the entry appended at u64::MAX");
    assert_eq!(sequence_of(&line), u64::MAX);
    follower.kill().unwrap();
    follower.wait().unwrap();
}

#[test]
fn query_and_count_see_u64_max() {
    let tmp = tempfile::tempdir().unwrap();
    make_top_journal(tmp.path());
    let text = stdout(&run_ok(cli(tmp.path()).args(["query", "--json"])));
    let result: baldur_journal::JournalQueryResult = serde_json::from_str(&text).unwrap();
    assert_eq!(result.total_count, 6);
    assert_eq!(result.entries.last().unwrap().sequence, u64::MAX);
    assert_eq!(stdout(&run_ok(cli(tmp.path()).arg("count"))), "6\n");
    // The cursor of the next page reaches it too.
    let after = (u64::MAX - 2).to_string();
    let text = stdout(&run_ok(
        cli(tmp.path()).args(["query", "--after", &after, "--json"]),
    ));
    let result: baldur_journal::JournalQueryResult = serde_json::from_str(&text).unwrap();
    assert_eq!(
        result
            .entries
            .iter()
            .map(|e| e.sequence)
            .collect::<Vec<_>>(),
        vec![u64::MAX - 1, u64::MAX]
    );
    // entry(6) (at u64::MAX) is an `error_budget_warning` of `orders`.
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "query",
        "--event-type",
        "error_budget_warning",
        "--json",
    ])));
    let result: baldur_journal::JournalQueryResult = serde_json::from_str(&text).unwrap();
    assert_eq!(
        result
            .entries
            .iter()
            .map(|e| e.sequence)
            .collect::<Vec<_>>(),
        vec![u64::MAX - 4, u64::MAX]
    );
}

/// A DLQ journal whose entries `dlq-top` (stored at u64::MAX - 1, resolved
/// at u64::MAX) and `dlq-low` end at the top of the space; the statistics
/// chain each DLQ event, as they do by default.
fn make_top_dlq_journal(journal: Arc<dyn EventJournal>) {
    let at = Timestamp::now();
    journal
        .append_at(
            u64::MAX - 3,
            &StoreEvent::new("dlq-low", "payments", "timeout").to_entry(at),
        )
        .unwrap();
    // Writes through the statistics get latest + 1: u64::MAX - 2 onwards.
    let statistics = JournalStatistics::new(journal.clone());
    statistics
        .record(vec![
            StoreEvent::new("dlq-mid", "orders", "timeout").to_entry(at),
            StoreEvent::new("dlq-top", "orders", "validation").to_entry(at),
            LifecycleEvent::new(LifecycleKind::Resolve, "dlq-top")
                .by("alice")
                .to_entry(at),
        ])
        .unwrap();
    assert_eq!(journal.get_latest_sequence().unwrap(), u64::MAX);
}

#[test]
fn stats_fold_the_entry_at_u64_max() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Arc::new(DiskJournal::open(tmp.path()).unwrap());
    make_top_dlq_journal(journal.clone());
    journal.close().unwrap();
    drop(journal);
    let text = stdout(&run_ok(
        cli(tmp.path()).args(["stats", "entry", "dlq-top", "--json"]),
    ));
    let detail: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(detail["status"], "resolved", "{text}");
    let text = stdout(&run_ok(cli(tmp.path()).args(["stats", "status", "--json"])));
    let counts: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(counts["resolved"], 1, "{text}");
    assert_eq!(counts["pending"], 2, "{text}");
    // As of u64::MAX is everything; as of u64::MAX - 1 is before the resolve.
    let max = u64::MAX.to_string();
    let text =
        stdout(&run_ok(cli(tmp.path()).args([
            "stats", "entry", "dlq-top", "--json", "--as-of", &max,
        ])));
    assert!(text.contains("\"resolved\""), "{text}");
    let before = (u64::MAX - 1).to_string();
    let text =
        stdout(&run_ok(cli(tmp.path()).args([
            "stats", "entry", "dlq-top", "--json", "--as-of", &before,
        ])));
    assert!(text.contains("\"pending\""), "{text}");
    // The audit trail reads the record at u64::MAX.
    let text = stdout(&run_ok(cli(tmp.path()).args(["audit", "dlq-top"])));
    assert!(
        text.trim_end()
            .ends_with("VALID (2 actions, 2 hashes recomputed)"),
        "{text}"
    );
    // The dashboard folds it too.
    let text = stdout(&run_ok(cli(tmp.path()).arg("dashboard")));
    assert!(text.contains("resolved"), "{text}");
}

#[test]
fn verify_checks_the_chained_record_at_u64_max() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    let journal = Arc::new(DiskJournal::open(&good).unwrap());
    make_top_dlq_journal(journal.clone());
    let records: Vec<JournalEntry> = journal
        .range_iter_from(0)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    journal.close().unwrap();
    run_ok(cli(&good).arg("verify"));

    // The same records, the one at u64::MAX changed after it was hashed.
    let forged = tmp.path().join("forged");
    let copy = DiskJournal::open(&forged).unwrap();
    for record in &records {
        let mut record = record.clone();
        if record.sequence == u64::MAX {
            record.region = "forged".into();
        }
        copy.append_at(record.sequence, &record).unwrap();
    }
    copy.close().unwrap();
    let output = run_code(cli(&forged).arg("verify"), 1);
    let text = stdout(&output) + &stderr(&output);
    assert!(text.contains("dlq-top"), "{text}");
}

#[test]
fn library_reads_to_the_end_reach_u64_max_on_memory_and_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let disk: Arc<dyn EventJournal> = Arc::new(DiskJournal::open(tmp.path()).unwrap());
    let memory: Arc<dyn EventJournal> = Arc::new(MemoryJournal::new());
    for journal in [disk, memory] {
        for sequence in top_sequences() {
            journal.append_at(sequence, &entry(sequence % 7)).unwrap();
        }
        let read: Vec<u64> = journal
            .range_iter_from(u64::MAX - 3)
            .unwrap()
            .map(|e| e.unwrap().sequence)
            .collect();
        assert_eq!(read, top_sequences()[2..].to_vec());
        let mut visited = Vec::new();
        journal
            .for_each_ref_from(u64::MAX, &mut |record| {
                visited.push(record.sequence);
                Ok(())
            })
            .unwrap();
        assert_eq!(visited, vec![u64::MAX]);
        // The half-open range keeps the seed's meaning.
        assert_eq!(
            journal
                .get_sequence_range(u64::MAX - 1, u64::MAX)
                .unwrap()
                .len(),
            1
        );
        assert!(journal.get_sequence_range(9, 3).unwrap().is_empty());
    }

    // The statistics over a memory journal fold the entry at u64::MAX.
    let memory: Arc<dyn EventJournal> = Arc::new(MemoryJournal::new());
    make_top_dlq_journal(memory.clone());
    let statistics = JournalStatistics::new(memory.clone());
    let detail = statistics.get_entry_detail("dlq-top").unwrap().unwrap();
    assert_eq!(detail.status, "resolved");
    let trail = statistics
        .get_audit_trail_by_entity("dlq-top", "dlq_entry")
        .unwrap();
    assert_eq!(trail.entries.len(), 2, "{trail:?}");
    assert!(trail.is_chain_valid(), "{trail:?}");
}

/// A journal implemented outside the crate, relying on the trait's default
/// `range_iter_from`.
struct Delegate(MemoryJournal);

impl EventJournal for Delegate {
    fn append(&self, entry: &JournalEntry) -> baldur_journal::Result<u64> {
        self.0.append(entry)
    }
    fn append_batch(&self, entries: &[JournalEntry]) -> baldur_journal::Result<Vec<u64>> {
        self.0.append_batch(entries)
    }
    fn append_at(&self, sequence: u64, entry: &JournalEntry) -> baldur_journal::Result<()> {
        self.0.append_at(sequence, entry)
    }
    fn query(
        &self,
        filter: &baldur_journal::JournalQueryFilter,
    ) -> baldur_journal::Result<baldur_journal::JournalQueryResult> {
        self.0.query(filter)
    }
    fn get_latest_sequence(&self) -> baldur_journal::Result<u64> {
        self.0.get_latest_sequence()
    }
    fn count(&self, filter: &baldur_journal::JournalQueryFilter) -> baldur_journal::Result<u64> {
        self.0.count(filter)
    }
    fn range_iter(
        &self,
        start: u64,
        end: u64,
    ) -> baldur_journal::Result<baldur_journal::EntryIter<'_>> {
        self.0.range_iter(start, end)
    }
    fn sync(&self) -> baldur_journal::Result<()> {
        self.0.sync()
    }
}

#[test]
fn the_default_read_to_the_end_refuses_rather_than_drop_u64_max() {
    let journal = Delegate(MemoryJournal::new());
    journal.append_at(u64::MAX - 1, &entry(1)).unwrap();
    let read: Vec<u64> = journal
        .range_iter_from(0)
        .unwrap()
        .map(|e| e.unwrap().sequence)
        .collect();
    assert_eq!(read, vec![u64::MAX - 1], "below u64::MAX: every entry");
    journal.append_at(u64::MAX, &entry(2)).unwrap();
    let read: Vec<_> = journal.range_iter_from(0).unwrap().collect();
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].as_ref().unwrap().sequence, u64::MAX - 1);
    match &read[1] {
        Err(baldur_journal::Error::Unsupported(what)) => {
            assert!(what.contains("u64::MAX"), "{what}")
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
