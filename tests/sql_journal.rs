//! The SQL journal's own behaviour beyond the conformance suite: writers
//! on separate connections (as separate processes are) get unique
//! sequences that become visible in order; a database locked beyond the
//! busy timeout, and a row the reference would not write, are errors
//! naming what and where.
#![cfg(feature = "sql")]

use baldur_test_support::common;

use std::sync::Arc;

use baldur_journal::{Error, EventJournal, JournalQueryFilter, SqlJournal};
use common::entry;

fn url(dir: &tempfile::TempDir, params: &str) -> String {
    format!("sqlite:///{}/j.db{params}", dir.path().display())
}

/// Four writers, each 45 single appends and 5 batches of 5.
const TOTAL: u64 = 4 * (45 + 5 * 5);

#[test]
fn writers_on_separate_connections_get_unique_sequences_in_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir, "?busy_timeout_ms=30000");
    let reader = Arc::new(SqlJournal::open_url(&url).unwrap());
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let j = SqlJournal::open_url(&url).unwrap();
                let mut mine = Vec::new();
                for i in 0..50 {
                    if i % 10 == 0 {
                        let batch: Vec<_> = (0..5).map(|k| entry(w * 1000 + i * 10 + k)).collect();
                        mine.extend(j.append_batch(&batch).unwrap());
                    } else {
                        mine.push(j.append(&entry(w * 1000 + i)).unwrap());
                    }
                }
                mine
            })
        })
        .collect();
    // Whatever the reader sees is a prefix: no N+1 before N.
    let watcher = {
        let reader = reader.clone();
        std::thread::spawn(move || {
            let mut checks = 0;
            loop {
                assert!(checks < 1_000_000, "the writers never finished");
                let latest = reader.get_latest_sequence().unwrap();
                let seen = reader.get_sequence_range(1, latest + 1).unwrap();
                assert_eq!(seen.len() as u64, latest, "a hole below {latest}");
                checks += 1;
                if latest == TOTAL {
                    return checks;
                }
            }
        })
    };
    let mut all: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(watcher.join().unwrap() > 0);
    all.sort_unstable();
    assert_eq!(all, (1..=TOTAL).collect::<Vec<_>>());
    assert_eq!(reader.count(&JournalQueryFilter::default()).unwrap(), TOTAL);
}

#[test]
fn a_locked_database_is_an_error_after_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let j = SqlJournal::open_url(&url(&dir, "?busy_timeout_ms=50")).unwrap();
    j.append(&entry(1)).unwrap();
    let other = rusqlite::Connection::open(dir.path().join("j.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    match j.append(&entry(2)) {
        Err(Error::Sql {
            database,
            operation,
            reason,
        }) => {
            assert!(database.ends_with("j.db"), "{database}");
            assert!(reason.contains("locked"), "{operation}: {reason}");
        }
        other => panic!("expected Error::Sql, got {other:?}"),
    }
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(j.append(&entry(2)).unwrap(), 2);
}

#[test]
fn rows_the_reference_would_not_write_are_errors_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let j = SqlJournal::open_url(&url(&dir, "")).unwrap();
    j.append_batch(&[entry(1), entry(2)]).unwrap();
    let other = rusqlite::Connection::open(dir.path().join("j.db")).unwrap();
    other
        .execute(
            "INSERT INTO baldur_event_journal (event_type, source, service_name, timestamp, context) \
             VALUES ('t', 's', '', 'last tuesday', '{}')",
            [],
        )
        .unwrap();
    let err = j.get_sequence_range(1, 10).unwrap_err().to_string();
    assert!(
        err.contains("sequence 3") && err.contains("last tuesday"),
        "{err}"
    );
    let window = JournalQueryFilter {
        start_time: Some(baldur_journal::Timestamp::from_unix_nanos(0)),
        ..Default::default()
    };
    // The text window cannot exclude it: the instant comparison fails.
    let err = j.count(&window).unwrap_err().to_string();
    assert!(err.contains("last tuesday"), "{err}");
    other
        .execute(
            "UPDATE baldur_event_journal SET timestamp = '2025-01-01 00:00:00+00:00', \
             context = '[1, 2]' WHERE sequence = 3",
            [],
        )
        .unwrap();
    let err = j.get_sequence_range(3, 4).unwrap_err().to_string();
    assert!(
        err.contains("sequence 3") && err.contains("context"),
        "{err}"
    );
}
