//! One conformance suite, generic over `EventJournal`, run against every
//! backend: the in-memory journal, the disk journal with default segments,
//! and the disk journal with 64 KiB segments (so ranges cross many rolls).
//! It includes the reference's own answers to 396 queries and ranges.

use baldur_test_support::common;
#[cfg(feature = "redis")]
use baldur_test_support::redis_common;

use std::collections::BTreeMap;

use baldur_journal::{
    Context, DiskJournal, Error, EventJournal, JournalEntry, JournalQueryFilter, MemoryJournal,
    MemoryJournalOptions, Timestamp,
};
use common::{entry, strip};
use serde::Deserialize;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/vectors/journal"
);

struct Backend {
    journal: Box<dyn EventJournal>,
    _dir: Option<tempfile::TempDir>,
    #[cfg(feature = "redis")]
    _server: Option<redis_common::Server>,
}

fn memory(max_query_limit: usize) -> Backend {
    let options = MemoryJournalOptions {
        max_entries: None,
        max_query_limit,
    };
    Backend {
        journal: Box::new(MemoryJournal::with_options(options).unwrap()),
        _dir: None,
        #[cfg(feature = "redis")]
        _server: None,
    }
}

fn disk(segment_bytes: u64, max_query_limit: usize) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(dir.path())
        .segment_bytes(segment_bytes)
        .max_query_limit(max_query_limit)
        .durability(baldur_journal::Durability::Os)
        .open()
        .unwrap();
    Backend {
        journal: Box::new(journal),
        _dir: Some(dir),
        #[cfg(feature = "redis")]
        _server: None,
    }
}

/// The disk journal as users get it: default segment size and durability.
fn disk_default(max_query_limit: usize) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(dir.path())
        .max_query_limit(max_query_limit)
        .open()
        .unwrap();
    Backend {
        journal: Box::new(journal),
        _dir: Some(dir),
        #[cfg(feature = "redis")]
        _server: None,
    }
}

/// The Redis journal (native layout) under a prefix of its own, on the
/// shared server (`BALDUR_REDIS_URL`) or one of the test's own; `None`
/// skips (or fails under `CI`, see tests/redis_common).
#[cfg(feature = "redis")]
fn redis(max_query_limit: usize) -> Option<Backend> {
    let server = redis_common::Server::shared_or_own()?;
    let journal = baldur_journal::RedisJournal::builder(server.url.clone())
        .prefix(redis_common::unique_prefix("conformance"))
        .max_query_limit(max_query_limit)
        .open()
        .unwrap();
    Some(Backend {
        journal: Box::new(journal),
        _dir: None,
        _server: Some(server),
    })
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory_backend {
            $(#[test] fn $name() { super::$name(&|limit| super::memory(limit)); })*
        }
        mod disk_backend {
            $(#[test] fn $name() { super::$name(&|limit| super::disk_default(limit)); })*
        }
        mod disk_small_segments {
            $(#[test] fn $name() { super::$name(&|limit| super::disk(64 << 10, limit)); })*
        }
        #[cfg(feature = "redis")]
        mod redis_backend {
            $(#[test] fn $name() {
                if !super::redis_common::available() {
                    return; // skipped, with the reason printed
                }
                super::$name(&|limit| super::redis(limit).unwrap());
            })*
        }
    };
}

conformance!(
    empty_journal_answers_zero_and_nothing,
    sequences_start_at_one_and_increase,
    batches_get_consecutive_sequences,
    append_at_allows_gaps_and_refuses_going_back,
    ranges_are_start_inclusive_end_exclusive,
    streaming_range_equals_materialised_range,
    entries_are_stored_exactly,
    stored_entries_are_immutable,
    limits_truncation_and_counts,
    empty_lists_windows_and_maps,
    results_are_ordered_by_sequence_not_time,
    reference_vectors_agree,
);

type Make = dyn Fn(usize) -> Backend;

fn empty_journal_answers_zero_and_nothing(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    assert_eq!(j.get_latest_sequence().unwrap(), 0);
    assert!(j.get_sequence_range(0, u64::MAX).unwrap().is_empty());
    let result = j.query(&JournalQueryFilter::default()).unwrap();
    assert!(result.entries.is_empty());
    assert!(!result.truncated);
    assert_eq!(result.total_count, 0);
    assert_eq!(j.count(&JournalQueryFilter::default()).unwrap(), 0);
}

fn sequences_start_at_one_and_increase(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    for i in 1..=50 {
        assert_eq!(j.append(&entry(i)).unwrap(), i);
        assert_eq!(j.get_latest_sequence().unwrap(), i);
    }
}

fn batches_get_consecutive_sequences(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    j.append(&entry(0)).unwrap();
    let batch: Vec<_> = (1..=100).map(entry).collect();
    assert_eq!(
        j.append_batch(&batch).unwrap(),
        (2..=101).collect::<Vec<u64>>()
    );
    assert_eq!(j.append_batch(&[]).unwrap(), Vec::<u64>::new());
    let stored = j.get_sequence_range(2, 102).unwrap();
    assert_eq!(stored.len(), 100);
    for (i, e) in stored.into_iter().enumerate() {
        let mut expected = entry(i as u64 + 1);
        expected.sequence = i as u64 + 2;
        assert_eq!(strip(e), expected);
    }
}

fn append_at_allows_gaps_and_refuses_going_back(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    assert_eq!(j.append(&entry(1)).unwrap(), 1);
    j.append_at(5, &entry(5)).unwrap();
    let huge = 5 + u64::from(u32::MAX) + 10;
    j.append_at(huge, &entry(6)).unwrap();
    assert_eq!(j.get_latest_sequence().unwrap(), huge);
    assert_eq!(j.append(&entry(7)).unwrap(), huge + 1);
    match j.append_at(huge, &entry(8)) {
        Err(Error::NonMonotonic { sequence, latest }) => {
            assert_eq!((sequence, latest), (huge, huge + 1));
        }
        other => panic!("expected NonMonotonic, got {other:?}"),
    }
    assert!(matches!(
        j.append_at(3, &entry(8)),
        Err(Error::NonMonotonic { .. })
    ));
    let seqs: Vec<u64> = j
        .get_sequence_range(0, u64::MAX)
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(seqs, vec![1, 5, huge, huge + 1]);
    let seqs: Vec<u64> = j
        .get_sequence_range(2, huge + 1)
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(seqs, vec![5, huge]);
    let mut with_time = entry(9);
    with_time.appended_at = Some(Timestamp::from_unix_nanos(1_234_567_890));
    j.append_at(huge + 100, &with_time).unwrap();
    let back = j.get_sequence_range(huge + 100, huge + 101).unwrap();
    assert_eq!(
        back[0].appended_at,
        Some(Timestamp::from_unix_nanos(1_234_567_890))
    );
}

fn ranges_are_start_inclusive_end_exclusive(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    let batch: Vec<_> = (1..=300).map(entry).collect();
    j.append_batch(&batch).unwrap();
    let seqs = |s, e| -> Vec<u64> {
        j.get_sequence_range(s, e)
            .unwrap()
            .iter()
            .map(|x| x.sequence)
            .collect()
    };
    assert_eq!(seqs(10, 13), vec![10, 11, 12]);
    assert_eq!(seqs(0, 3), vec![1, 2]);
    assert_eq!(seqs(299, 1000), vec![299, 300]);
    assert!(seqs(13, 13).is_empty());
    assert!(seqs(13, 10).is_empty());
    assert!(seqs(301, 400).is_empty());
    assert_eq!(seqs(1, 301).len(), 300);
}

fn streaming_range_equals_materialised_range(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    for chunk in 0..30 {
        let batch: Vec<_> = (chunk * 100..chunk * 100 + 100).map(entry).collect();
        j.append_batch(&batch).unwrap();
    }
    for (s, e) in [(1, 3001), (17, 2999), (1000, 1001), (2500, 9999)] {
        let streamed: Vec<_> = j.range_iter(s, e).unwrap().map(Result::unwrap).collect();
        assert_eq!(streamed, j.get_sequence_range(s, e).unwrap());
        assert_eq!(streamed.len() as u64, e.min(3001) - s);
    }
}

fn entries_are_stored_exactly(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    let context = r#"{ "z": 1, "a": [1.50, 1e400, "東京"], "big": 123456789012345678901234567890, "n": null }"#;
    let original = JournalEntry::new("t", "s", Timestamp::from_unix_nanos(-5), "svc")
        .with_context(Context::from_json(context).unwrap())
        .with_region("r")
        .with_tier_id("tier");
    let seq = j.append(&original).unwrap();
    let back = j.get_sequence_range(seq, seq + 1).unwrap().remove(0);
    assert_eq!(back.context.as_str(), context.trim());
    assert!(back.appended_at.is_some());
    let mut expected = original.clone();
    expected.sequence = seq;
    assert_eq!(strip(back.clone()), expected);
    let json = serde_json::to_string(&back).unwrap();
    assert!(
        json.contains(r#""big": 123456789012345678901234567890"#),
        "{json}"
    );
    assert!(
        json.contains(r#""timestamp":"1969-12-31T23:59:59.999999995Z""#),
        "{json}"
    );
}

fn stored_entries_are_immutable(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    let mut e = entry(1);
    j.append(&e).unwrap();
    e.context = Context::from_json(r#"{"changed":true}"#).unwrap();
    e.event_type = "changed".into();
    let back = j.get_sequence_range(1, 2).unwrap().remove(0);
    let mut expected = entry(1);
    expected.sequence = 1;
    assert_eq!(strip(back), expected);
}

fn limits_truncation_and_counts(make: &Make) {
    let b = make(10);
    let j = b.journal.as_ref();
    let batch: Vec<_> = (0..40).map(entry).collect();
    j.append_batch(&batch).unwrap();
    let all = JournalQueryFilter {
        limit: 1000,
        ..Default::default()
    };
    let r = j.query(&all).unwrap();
    assert_eq!(r.entries.len(), 10, "limit capped by max_query_limit");
    assert!(r.truncated);
    assert_eq!(r.total_count, 40);
    assert_eq!(
        r.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    let zero = JournalQueryFilter {
        limit: 0,
        ..Default::default()
    };
    let r = j.query(&zero).unwrap();
    assert!(r.entries.is_empty());
    assert!(r.truncated);
    assert_eq!(r.total_count, 40);
    let typed = JournalQueryFilter {
        event_types: Some(vec!["dlq_store".into()]),
        limit: 10,
        ..Default::default()
    };
    let r = j.query(&typed).unwrap();
    assert_eq!(r.total_count, 10);
    assert!(!r.truncated);
    assert_eq!(j.count(&typed).unwrap(), 10);
    let exact = JournalQueryFilter {
        limit: 10,
        ..typed.clone()
    };
    assert!(
        !j.query(&exact).unwrap().truncated,
        "limit equal to the count is not truncated"
    );
}

fn empty_lists_windows_and_maps(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    let batch: Vec<_> = (0..20).map(entry).collect();
    j.append_batch(&batch).unwrap();
    let none = JournalQueryFilter {
        event_types: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(j.query(&none).unwrap().total_count, 0);
    assert_eq!(j.count(&none).unwrap(), 0);
    let t = Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + 5_000_000_035);
    let reversed = JournalQueryFilter {
        start_time: Some(t),
        end_time: Some(t),
        ..Default::default()
    };
    assert_eq!(j.query(&reversed).unwrap().total_count, 0);
    let empty_map = JournalQueryFilter {
        context_filters: Some(BTreeMap::new()),
        ..Default::default()
    };
    assert_eq!(j.query(&empty_map).unwrap().total_count, 20);
    assert_eq!(j.count(&empty_map).unwrap(), 20);
    let by_ctx = JournalQueryFilter {
        context_filters: Some(BTreeMap::from([("attempt".to_string(), "3".to_string())])),
        ..Default::default()
    };
    assert_eq!(j.count(&by_ctx).unwrap(), 4);
    let missing = JournalQueryFilter {
        context_filters: Some(BTreeMap::from([("nope".to_string(), "None".to_string())])),
        ..Default::default()
    };
    assert_eq!(j.count(&missing).unwrap(), 20);
    let empty_key = JournalQueryFilter {
        context_filters: Some(BTreeMap::from([(String::new(), "x".to_string())])),
        ..Default::default()
    };
    assert!(matches!(j.query(&empty_key), Err(Error::InvalidFilter(_))));
}

fn results_are_ordered_by_sequence_not_time(make: &Make) {
    let b = make(10_000);
    let j = b.journal.as_ref();
    for ts in [30, 10, 20] {
        j.append(&JournalEntry::new(
            "t",
            "s",
            Timestamp::from_unix_nanos(ts),
            "",
        ))
        .unwrap();
    }
    let r = j.query(&JournalQueryFilter::default()).unwrap();
    let times: Vec<i64> = r
        .entries
        .iter()
        .map(|e| e.timestamp.as_unix_nanos())
        .collect();
    assert_eq!(times, vec![30, 10, 20]);
    let window = JournalQueryFilter {
        start_time: Some(Timestamp::from_unix_nanos(10)),
        end_time: Some(Timestamp::from_unix_nanos(30)),
        ..Default::default()
    };
    let r = j.query(&window).unwrap();
    assert_eq!(
        r.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![2, 3]
    );
}

#[derive(Deserialize)]
struct Case {
    id: String,
    kind: String,
    #[serde(default)]
    filter: Option<serde_json::Value>,
    #[serde(default)]
    start_sequence: i64,
    #[serde(default)]
    end_sequence: i64,
}

#[derive(Deserialize)]
struct Expected {
    id: String,
    sequences: Vec<u64>,
    #[serde(default)]
    truncated: Option<bool>,
    #[serde(default)]
    total_count: Option<u64>,
    #[serde(default)]
    count: Option<u64>,
}

fn load_lines<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
    let text = std::fs::read_to_string(format!("{VECTORS}/{name}"))
        .unwrap_or_else(|e| panic!("cannot read {VECTORS}/{name}: {e}"));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
        .collect()
}

/// Parses a vector's filter: `null` fields mean "no condition".
fn parse_filter(value: &serde_json::Value) -> JournalQueryFilter {
    let mut object = value.as_object().cloned().unwrap_or_default();
    object.retain(|_, v| !v.is_null());
    JournalQueryFilter::from_json(&serde_json::Value::Object(object).to_string()).unwrap()
}

#[must_use]
pub fn load_events() -> Vec<JournalEntry> {
    load_lines::<JournalEntry>("events.jsonl")
}

fn run_vectors(j: &dyn EventJournal, expected_file: &str) -> usize {
    let cases: Vec<Case> = load_lines("queries.jsonl");
    let expected: Vec<Expected> = load_lines(expected_file);
    let mut checked = 0;
    for (case, want) in cases.iter().zip(&expected) {
        assert_eq!(case.id, want.id);
        if case.kind == "range" {
            let start = u64::try_from(case.start_sequence.max(0)).unwrap();
            let end = u64::try_from(case.end_sequence.max(0)).unwrap();
            let got: Vec<u64> = j
                .get_sequence_range(start, end)
                .unwrap()
                .iter()
                .map(|e| e.sequence)
                .collect();
            assert_eq!(got, want.sequences, "range {}", case.id);
        } else {
            let filter = parse_filter(case.filter.as_ref().unwrap());
            let got = j.query(&filter).unwrap();
            let seqs: Vec<u64> = got.entries.iter().map(|e| e.sequence).collect();
            assert_eq!(seqs, want.sequences, "query {} sequences", case.id);
            assert_eq!(
                Some(got.truncated),
                want.truncated,
                "query {} truncated",
                case.id
            );
            assert_eq!(
                Some(got.total_count),
                want.total_count,
                "query {} total_count",
                case.id
            );
            assert_eq!(
                Some(j.count(&filter).unwrap()),
                want.count,
                "query {} count",
                case.id
            );
        }
        checked += 1;
    }
    checked
}

fn reference_vectors_agree(make: &Make) {
    let b = make(1_000_000);
    let j = b.journal.as_ref();
    let events = load_events();
    assert_eq!(events.len(), 3000);
    for chunk in events.chunks(128) {
        j.append_batch(chunk).unwrap();
    }
    assert_eq!(j.get_latest_sequence().unwrap(), 3000);
    assert_eq!(run_vectors(j, "expected.jsonl"), 396);
}

#[test]
fn reference_vectors_agree_with_eviction() {
    let options = MemoryJournalOptions {
        max_entries: Some(1000),
        max_query_limit: 250,
    };
    let j = MemoryJournal::with_options(options).unwrap();
    for e in load_events() {
        j.append(&e).unwrap();
    }
    assert_eq!(j.get_latest_sequence().unwrap(), 3000);
    assert_eq!(run_vectors(&j, "expected_evict.jsonl"), 396);
}
