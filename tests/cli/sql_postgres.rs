//! The SQL journal on PostgreSQL beyond the conformance suite: sequences
//! become visible in order across writers (the advisory lock: an append
//! waits while an earlier sequence is uncommitted), writers on separate
//! connections never show a reader a hole, the reference's own rows (no
//! nanoseconds, JSONB context) read back, and the CLI works over
//! `postgres://` and `postgresql://` URLs without ever printing a
//! password. Each test starts a throwaway server (tests/pg_common).

use crate::cli_common;
use baldur_test_support::common;
use baldur_test_support::pg_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use baldur_journal::sql::POSTGRES_LOCK_KEY;
use baldur_journal::{EventJournal, JournalQueryFilter, SqlJournal, Timestamp};
use common::entry;

#[test]
fn an_append_waits_for_an_earlier_uncommitted_sequence() {
    let Some(server) = pg_common::Server::start() else {
        return;
    };
    let journal = Arc::new(SqlJournal::open_url(&server.url).unwrap());
    journal.append(&entry(1)).unwrap();
    // Another writer, in the middle of its transaction: it holds the lock
    // and has taken sequence 2, not yet committed.
    let mut other = postgres::Client::connect(&server.url, postgres::NoTls).unwrap();
    let mut tx = other.transaction().unwrap();
    tx.query_one("SELECT pg_advisory_xact_lock($1)", &[&POSTGRES_LOCK_KEY])
        .unwrap();
    let taken: i64 = tx
        .query_one(
            "INSERT INTO baldur_event_journal (event_type, source, service_name, timestamp, context) \
             VALUES ('t', 'other', '', now(), '{}') RETURNING sequence",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(taken, 2);
    let appender = {
        let journal = journal.clone();
        std::thread::spawn(move || journal.append(&entry(3)).unwrap())
    };
    // Our append must be waiting for the lock, not committing sequence 3
    // while 2 is still open.
    let mut watcher = postgres::Client::connect(&server.url, postgres::NoTls).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting == 1 {
            break;
        }
        assert!(
            !appender.is_finished(),
            "the append committed while sequence 2 was uncommitted: a reader could see 3 before 2"
        );
        assert!(
            Instant::now() < deadline,
            "the append never waited for the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Another handle (the waiting one holds its connection): sequence 2 is
    // not visible, and neither is anything after it.
    let reader = SqlJournal::open_url_with(&server.url, true).unwrap();
    assert_eq!(reader.get_latest_sequence().unwrap(), 1);
    tx.commit().unwrap();
    assert_eq!(appender.join().unwrap(), 3);
    let all = journal.get_sequence_range(1, 10).unwrap();
    assert_eq!(
        all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // The reference's own row: its TIMESTAMPTZ and JSONB, read back.
    assert_eq!(all[1].source, "other");
    assert_eq!(all[1].context.as_str(), "{}");
    assert_eq!(all[1].appended_at, None);
}

/// Four writers, each 30 single appends and 3 batches of 4.
const TOTAL: u64 = 4 * (30 + 3 * 4);

#[test]
fn writers_on_separate_connections_never_show_a_hole() {
    let Some(server) = pg_common::Server::start() else {
        return;
    };
    let reader = Arc::new(SqlJournal::open_url(&server.url).unwrap());
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let url = server.url.clone();
            std::thread::spawn(move || {
                let j = SqlJournal::open_url(&url).unwrap();
                let mut mine = Vec::new();
                for i in 0..33u64 {
                    if i % 11 == 0 {
                        let batch: Vec<_> = (0..4).map(|k| entry(w * 1000 + i * 10 + k)).collect();
                        mine.extend(j.append_batch(&batch).unwrap());
                    } else {
                        mine.push(j.append(&entry(w * 1000 + i)).unwrap());
                    }
                }
                mine
            })
        })
        .collect();
    let mut checks = 0;
    loop {
        assert!(checks < 1_000_000, "the writers never finished");
        let latest = reader.get_latest_sequence().unwrap();
        let seen = reader.get_sequence_range(1, latest + 1).unwrap();
        assert_eq!(seen.len() as u64, latest, "a hole below {latest}");
        checks += 1;
        if latest == TOTAL {
            break;
        }
    }
    let mut all: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=TOTAL).collect::<Vec<_>>());
    let window = JournalQueryFilter {
        start_time: Some(Timestamp::from_unix_nanos(0)),
        ..Default::default()
    };
    assert_eq!(reader.count(&window).unwrap(), TOTAL);
}

#[test]
fn the_cli_copies_through_postgres_and_never_prints_a_password() {
    use cli_common::*;
    let Some(server) = pg_common::Server::start() else {
        return;
    };
    let bare = || {
        let mut cmd = assert_cmd::Command::new(BIN);
        cmd.env_remove("BALDUR_JOURNAL_DIR").timeout(TIMEOUT);
        cmd
    };
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("golden");
    golden_copy(&source);
    let source = source.to_str().unwrap().to_string();
    run_ok(bare().args(["copy", "--from", &source, "--to", &server.url]));
    let original = stdout(&run_ok(bare().args(["--journal", &source, "export"])));
    // SQLAlchemy's spelling of the same server.
    let alchemy = server.url.replace("postgres://", "postgresql://");
    assert_eq!(
        stdout(&run_ok(bare().args(["--journal", &alchemy, "export"]))),
        original,
        "byte-identical export from PostgreSQL"
    );
    let back = tmp.path().join("back");
    run_ok(bare().args(["copy", "--from", &alchemy, "--to", back.to_str().unwrap()]));
    assert_eq!(
        stdout(&run_ok(bare().args([
            "--journal",
            back.to_str().unwrap(),
            "export"
        ]))),
        original
    );
    let with_password = server
        .url
        .replace("postgres@", "postgres:s3cret-pw@")
        .replace("/postgres", "/no_such_db");
    let output = run_code(bare().args(["--journal", &with_password, "count"]), 2);
    let shown = stderr(&output);
    assert!(!shown.contains("s3cret-pw"), "{shown}");
    assert!(shown.contains("no_such_db"), "{shown}");
    let output = run_code(
        bare().args(["copy", "--from", &source, "--to", &with_password]),
        2,
    );
    assert!(!stderr(&output).contains("s3cret-pw") && !stdout(&output).contains("s3cret-pw"));
}
