//! Block summaries (index format version 2): queries and counts skip and
//! count blocks of about 4 KiB by their summaries and answer exactly as a
//! scan of every record does, on sealed and active segments, for a writer
//! and a reader; a time window reads at most two blocks per overlapping
//! segment beyond the blocks holding matches; `verify` names a block whose
//! summary disagrees with its log.

use baldur_test_support::common;

use std::path::Path;

use baldur_journal::disk::SealedIndex;
use baldur_journal::{
    Context, DiskJournal, Durability, EventJournal, JournalEntry, JournalQueryFilter, QueryOptions,
    Timestamp,
};
use common::{record_offsets, segment_files};

/// Event time of record 1; record `i` is `i` ms later.
const EVENT_T0: i64 = 1_700_000_000_000_000_000;
/// Append time of record 1; record `i` is `i` ms later.
const APPEND_T0: i64 = 1_800_000_000_000_000_000;
const RECORDS: u64 = 6000;
/// Log bytes between index entries (docs/FORMAT.md).
const INTERVAL: u64 = 4096;

/// Record `i`: a rare type every 50th, five services in turn, three regions
/// in runs of 40; event times in order unless `shuffled` (then every 97th
/// record is 800 ms early).
fn record(i: u64, shuffled: bool) -> JournalEntry {
    let event_type = if i.is_multiple_of(50) {
        "rare"
    } else {
        ["dlq_store", "dlq_resolve", "circuit_breaker_opened"][(i % 3) as usize]
    };
    let mut ms = i as i64;
    if shuffled && i.is_multiple_of(97) {
        ms -= 800;
    }
    let mut e = JournalEntry::new(
        event_type,
        "test",
        Timestamp::from_unix_nanos(EVENT_T0 + ms * 1_000_000),
        format!("svc-{}", i % 5),
    )
    .with_region(format!("reg-{}", (i / 40) % 3))
    .with_context(Context::from_json(&format!(r#"{{"entry_id":"e-{}"}}"#, i % 700)).unwrap());
    e.appended_at = Some(Timestamp::from_unix_nanos(APPEND_T0 + i as i64 * 1_000_000));
    e
}

/// A journal of `RECORDS` records in 64 KiB segments, append times kept.
fn build(dir: &Path, shuffled: bool) -> DiskJournal {
    let journal = DiskJournal::builder(dir)
        .segment_bytes(64 << 10)
        .durability(Durability::Os)
        .open()
        .unwrap();
    for i in 1..=RECORDS {
        journal.append_at(i, &record(i, shuffled)).unwrap();
    }
    journal
}

fn event_ms(ms: i64) -> Timestamp {
    Timestamp::from_unix_nanos(EVENT_T0 + ms * 1_000_000)
}

fn append_ms(ms: i64) -> Timestamp {
    Timestamp::from_unix_nanos(APPEND_T0 + ms * 1_000_000)
}

/// The filters checked against a scan.
fn cases() -> Vec<(JournalQueryFilter, QueryOptions)> {
    let f = JournalQueryFilter::default;
    let o = QueryOptions::default;
    vec![
        (f(), o()),
        (
            JournalQueryFilter {
                event_types: Some(vec!["rare".into()]),
                ..f()
            },
            o(),
        ),
        (
            JournalQueryFilter {
                event_types: Some(vec!["rare".into(), "dlq_store".into(), "rare".into()]),
                ..f()
            },
            o(),
        ),
        (
            JournalQueryFilter {
                event_types: Some(vec!["absent".into()]),
                ..f()
            },
            o(),
        ),
        (
            JournalQueryFilter {
                service_name: Some("svc-3".into()),
                ..f()
            },
            o(),
        ),
        (
            JournalQueryFilter {
                region: Some("reg-1".into()),
                ..f()
            },
            o(),
        ),
        (
            JournalQueryFilter {
                start_time: Some(event_ms(1000)),
                end_time: Some(event_ms(3000)),
                ..f()
            },
            o(),
        ),
        (
            JournalQueryFilter {
                start_time: Some(event_ms(2500)),
                end_time: Some(event_ms(2502)),
                ..f()
            },
            o(),
        ),
        (
            JournalQueryFilter {
                start_time: Some(event_ms(5990)),
                ..f()
            },
            o(),
        ),
        (
            f(),
            QueryOptions {
                appended_since: Some(append_ms(4000)),
                appended_until: Some(append_ms(4321)),
                ..o()
            },
        ),
        (
            JournalQueryFilter {
                event_types: Some(vec!["rare".into()]),
                start_time: Some(event_ms(700)),
                end_time: Some(event_ms(5000)),
                ..f()
            },
            o(),
        ),
        (
            JournalQueryFilter {
                service_name: Some("svc-0".into()),
                ..f()
            },
            QueryOptions {
                appended_since: Some(append_ms(100)),
                ..o()
            },
        ),
        (
            JournalQueryFilter {
                region: Some("reg-2".into()),
                event_types: Some(vec!["dlq_resolve".into()]),
                ..f()
            },
            o(),
        ),
        (
            JournalQueryFilter {
                event_types: Some(vec!["rare".into()]),
                ..f()
            },
            QueryOptions {
                after_sequence: Some(3333),
                ..o()
            },
        ),
        (
            JournalQueryFilter {
                context_filters: Some([("entry_id".to_string(), "e-17".to_string())].into()),
                start_time: Some(event_ms(1500)),
                ..f()
            },
            o(),
        ),
    ]
}

/// Whether `e` matches, by a plain reading of the filter's rules.
fn matches(filter: &JournalQueryFilter, options: &QueryOptions, e: &JournalEntry) -> bool {
    let appended = e.appended_at.unwrap();
    filter
        .event_types
        .as_ref()
        .is_none_or(|t| t.contains(&e.event_type))
        && filter
            .service_name
            .as_ref()
            .is_none_or(|s| *s == e.service_name)
        && filter.region.as_ref().is_none_or(|r| *r == e.region)
        && filter.start_time.is_none_or(|s| e.timestamp >= s)
        && filter.end_time.is_none_or(|t| e.timestamp < t)
        && filter.context_filters.as_ref().is_none_or(|c| {
            c.iter()
                .all(|(k, v)| e.context.as_str().contains(&format!(r#""{k}":"{v}""#)))
        })
        && options.after_sequence.is_none_or(|a| e.sequence > a)
        && options.appended_since.is_none_or(|s| appended >= s)
        && options.appended_until.is_none_or(|u| appended < u)
}

/// Every case answers as the scan of every stored entry does.
fn check_against_scan(journal: &DiskJournal, how: &str) {
    let all: Vec<JournalEntry> = journal
        .range_iter(0, u64::MAX)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(all.len() as u64, RECORDS, "{how}");
    for (filter, options) in cases() {
        let want: Vec<&JournalEntry> = all
            .iter()
            .filter(|e| matches(&filter, &options, e))
            .collect();
        let count = journal.count_with(&filter, &options).unwrap();
        assert_eq!(
            count,
            want.len() as u64,
            "{how}: count {filter:?} {options:?}"
        );
        for limit in [7, 10_000] {
            let filter = JournalQueryFilter {
                limit,
                ..filter.clone()
            };
            let got = journal.query_with(&filter, &options).unwrap();
            assert_eq!(got.total_count, want.len() as u64, "{how}: {filter:?}");
            let expected: Vec<JournalEntry> =
                want.iter().take(limit).map(|e| (*e).clone()).collect();
            assert_eq!(got.entries, expected, "{how}: {filter:?} {options:?}");
        }
    }
}

#[test]
fn queries_and_counts_through_block_summaries_answer_like_a_scan() {
    for shuffled in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let journal = build(dir.path(), shuffled);
        assert!(segment_files(dir.path()).len() > 10);
        check_against_scan(&journal, &format!("writer, shuffled {shuffled}"));
        assert!(
            journal.read_stats().blocks_passed > 0,
            "no block was skipped or counted: {:?}",
            journal.read_stats()
        );
        journal.close().unwrap();
        // The reader's summaries come from the index files the writer wrote.
        let reader = DiskJournal::open_read_only(dir.path()).unwrap();
        check_against_scan(&reader, &format!("reader, shuffled {shuffled}"));
        let report = baldur_journal::disk::verify(dir.path()).unwrap();
        assert!(report.is_clean(), "{:?}", report.problems);
    }
}

/// Per segment file: the blocks, as `(first sequence, last sequence)`,
/// by the index's rule (an entry at the first record, then at the first
/// record at least 4096 bytes past the previous entry).
fn blocks(log: &Path) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut entry_at = None;
    for (sequence, start, _) in record_offsets(log) {
        if entry_at.is_none_or(|at| start >= at + INTERVAL) {
            entry_at = Some(start);
            out.push((sequence, sequence));
        }
        out.last_mut().unwrap().1 = sequence;
    }
    out
}

#[test]
fn a_time_window_reads_at_most_two_blocks_per_segment_beyond_its_matches() {
    let dir = tempfile::tempdir().unwrap();
    let journal = build(dir.path(), false);
    let logs = segment_files(dir.path());
    // Event time and append time both follow the sequence here: record i
    // at i ms. Windows inside one segment, across several, and in the
    // active segment.
    for (from, to) in [(2000, 2002), (1000, 3000), (5950, 5990), (1, 40)] {
        let in_window = |s: u64| (from..to).contains(&(s as i64));
        let mut holding = 0u64;
        let mut overlapping = 0u64;
        for log in &logs {
            let blocks = blocks(log);
            if blocks.iter().any(|&(a, b)| (a..=b).any(in_window)) {
                overlapping += 1;
            }
            holding += blocks
                .iter()
                .filter(|&&(a, b)| (a..=b).any(in_window))
                .count() as u64;
        }
        let windows = [
            (
                JournalQueryFilter {
                    start_time: Some(event_ms(from)),
                    end_time: Some(event_ms(to)),
                    limit: 10_000,
                    ..Default::default()
                },
                QueryOptions::default(),
            ),
            (
                JournalQueryFilter {
                    limit: 10_000,
                    ..Default::default()
                },
                QueryOptions {
                    appended_since: Some(append_ms(from)),
                    appended_until: Some(append_ms(to)),
                    ..Default::default()
                },
            ),
        ];
        for (filter, options) in &windows {
            let before = journal.read_stats();
            let result = journal.query_with(filter, options).unwrap();
            let after = journal.read_stats();
            assert_eq!(result.total_count, u64::try_from(to - from).unwrap());
            let read = after.blocks_read - before.blocks_read;
            assert!(
                read >= holding && read <= holding + 2 * overlapping,
                "window {from}..{to} ms ({options:?}): {read} blocks read, {holding} hold \
                 matches in {overlapping} segments"
            );
            let before = journal.read_stats();
            assert_eq!(
                journal.count_with(filter, options).unwrap(),
                u64::try_from(to - from).unwrap()
            );
            let read = journal.read_stats().blocks_read - before.blocks_read;
            assert!(
                read <= holding + 2 * overlapping,
                "count over {from}..{to} ms read {read} blocks"
            );
        }
    }
}

#[test]
fn verify_names_the_block_whose_summary_disagrees_with_its_log() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), false).close().unwrap();
    let log = segment_files(dir.path())[2].clone();
    let idx_path = log.with_extension("idx");
    let mut index = SealedIndex::decode(&std::fs::read(&idx_path).unwrap(), &idx_path).unwrap();
    let blocks = blocks(&log);
    assert!(blocks.len() > 3);
    // Block 1 claims to end earlier than it does: a query for its last
    // record's time would skip it. The CRC is right; only the log can tell.
    let mut forged = index.index.blocks().unwrap().clone();
    let block = &mut forged.summaries[1];
    assert!(block.max_timestamp_ns > block.min_timestamp_ns);
    block.max_timestamp_ns = block.min_timestamp_ns;
    index = SealedIndex {
        index: index.index.with_blocks(forged),
        ..index
    };
    std::fs::write(&idx_path, index.encode()).unwrap();
    let report = baldur_journal::disk::verify(dir.path()).unwrap();
    let problem = report
        .problems
        .iter()
        .find(|p| p.path == idx_path)
        .unwrap_or_else(|| panic!("not caught: {:?}", report.problems));
    assert!(
        problem.message.contains(&format!(
            "block summary 1 (records from sequence {}",
            blocks[1].0
        )),
        "{problem}"
    );
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    // The offset is the block summary's, past the fixed part and entries.
    assert!(problem.offset > 160, "{problem}");
}
