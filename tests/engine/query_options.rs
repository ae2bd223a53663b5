//! `query_with` and `count_with`: the seed's filter plus a sequence cursor
//! and an append-time window, on every backend, equal a brute-force pass
//! over all the entries; with no option they are `query` and `count`.

use baldur_test_support::common;

use baldur_journal::{
    DiskJournal, EventJournal, JournalEntry, JournalQueryFilter, MemoryJournal, QueryOptions,
    Timestamp,
};
use common::entry;

const N: u64 = 600;
const T0: i64 = 1_800_000_000_000_000_000;

/// Entry `i` at sequence `2i + 1` (gaps), appended at `T0 + i` ms.
fn fill(journal: &dyn EventJournal) -> Vec<JournalEntry> {
    let mut all = Vec::new();
    for i in 0..N {
        let mut e = entry(i);
        e.appended_at = Some(Timestamp::from_unix_nanos(T0 + i as i64 * 1_000_000));
        journal.append_at(2 * i + 1, &e).unwrap();
        e.sequence = 2 * i + 1;
        all.push(e);
    }
    all
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_nanos(T0 + ms * 1_000_000)
}

fn cases() -> Vec<QueryOptions> {
    let mut cases = vec![QueryOptions::default()];
    for after in [
        None,
        Some(0),
        Some(1),
        Some(2),
        Some(400),
        Some(2 * N),
        Some(u64::MAX),
    ] {
        for window in [
            (None, None),
            (Some(at(100)), None),
            (None, Some(at(250))),
            (Some(at(100)), Some(at(102))),
            (Some(at(300)), Some(at(300))),
            (Some(at(-5)), Some(at(5))),
        ] {
            cases.push(QueryOptions {
                after_sequence: after,
                appended_since: window.0,
                appended_until: window.1,
            });
        }
    }
    cases
}

fn filters() -> Vec<JournalQueryFilter> {
    let by_type = JournalQueryFilter {
        event_types: Some(vec![entry(1).event_type.clone()]),
        limit: 7,
        ..Default::default()
    };
    vec![
        JournalQueryFilter::default(),
        by_type,
        JournalQueryFilter {
            limit: 0,
            ..Default::default()
        },
        JournalQueryFilter {
            event_types: Some(Vec::new()),
            ..Default::default()
        },
    ]
}

fn check(journal: &dyn EventJournal, all: &[JournalEntry]) {
    for filter in filters() {
        for options in cases() {
            let want: Vec<&JournalEntry> = all
                .iter()
                .filter(|e| {
                    options.admits(e.sequence, e.appended_at.unwrap())
                        && baldur_journal::filter::matches(&filter, *e)
                })
                .collect();
            let got = journal.query_with(&filter, &options).unwrap();
            let what = format!("{filter:?} {options:?}");
            assert_eq!(got.total_count, want.len() as u64, "{what}");
            let shown = want.len().min(filter.limit);
            assert_eq!(got.entries.len(), shown, "{what}");
            assert_eq!(got.truncated, want.len() > shown, "{what}");
            for (g, w) in got.entries.iter().zip(&want) {
                assert_eq!(g.sequence, w.sequence, "{what}");
                assert_eq!(g.appended_at, w.appended_at, "{what}");
            }
            assert_eq!(
                journal.count_with(&filter, &options).unwrap(),
                want.len() as u64,
                "{what}"
            );
            if options.is_empty() {
                assert_eq!(got, journal.query(&filter).unwrap());
            }
        }
    }
}

#[test]
fn memory_answers_like_a_brute_force_pass() {
    let journal = MemoryJournal::new();
    let all = fill(&journal);
    check(&journal, &all);
}

#[test]
fn disk_answers_like_a_brute_force_pass_and_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let all = {
        let journal = DiskJournal::builder(dir.path())
            .segment_bytes(64 << 10)
            .open()
            .unwrap();
        let all = fill(&journal);
        check(&journal, &all);
        journal.close().unwrap();
        all
    };
    let journal = DiskJournal::open_read_only(dir.path()).unwrap();
    check(&journal, &all);
}
