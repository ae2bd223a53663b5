//! `archive` and `purge`: what they did, as the library counts it; purge
//! refuses a selection of nothing; the statistics show the result.

use std::sync::Arc;

use crate::cli_common::*;
use baldur_journal::projection::{JournalStatistics, StatisticsRepository};
use baldur_journal::{DiskJournal, EventJournal};
use serde_json::Value;

fn status_of(dir: &std::path::Path, id: &str) -> Option<String> {
    let lib = JournalStatistics::new(Arc::new(DiskJournal::open_read_only(dir).unwrap()));
    lib.get_entry_detail(id).unwrap().map(|d| d.status)
}

#[test]
fn archive_then_purge_by_age_and_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = make_dlq_journal(tmp.path());
    let latest = fixture.records.len() as u64;

    // dlq-1 (40 days) and dlq-6 (34 days) were resolved more than 30 days ago.
    let text = stdout(&run_ok(cli(tmp.path()).arg("archive")));
    assert_eq!(text, "archived 2 entries resolved more than 30 days ago\n");
    assert_eq!(status_of(tmp.path(), "dlq-1").as_deref(), Some("archived"));
    assert_eq!(status_of(tmp.path(), "dlq-6").as_deref(), Some("archived"));
    assert_eq!(status_of(tmp.path(), "dlq-5").as_deref(), Some("resolved"));
    let journal = DiskJournal::open_read_only(tmp.path()).unwrap();
    assert_eq!(
        journal.get_latest_sequence().unwrap(),
        latest + 2,
        "one event each"
    );
    drop(journal);
    let text = stdout(&run_ok(cli(tmp.path()).arg("archive")));
    assert_eq!(text, "archived 0 entries resolved more than 30 days ago\n");
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "archive",
        "--older-than-days",
        "10",
    ])));
    assert_eq!(text, "archived 1 entry resolved more than 10 days ago\n"); // dlq-5

    // Only dlq-9 was archived more than 90 days ago.
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "purge",
        "--older-than-days",
        "90",
    ])));
    assert_eq!(
        text,
        "purged 1 archived entry archived more than 90 days ago\n"
    );
    assert_eq!(status_of(tmp.path(), "dlq-9"), None);

    // By id: only archived ones; unknown and live ids are skipped.
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "purge",
        "--ids",
        "dlq-1,dlq-2",
        "--ids",
        "dlq-404",
    ])));
    assert_eq!(text, "purged 1 archived entry of the 3 ids given\n");
    assert_eq!(status_of(tmp.path(), "dlq-1"), None);
    assert_eq!(
        status_of(tmp.path(), "dlq-2").as_deref(),
        Some("requires_review")
    );

    // Both conditions: dlq-6 was archived just now, not 1 day ago.
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "purge",
        "--ids",
        "dlq-6",
        "--older-than-days",
        "1",
    ])));
    assert_eq!(
        text,
        "purged 0 archived entries of the 1 ids given, archived more than 1 days ago\n"
    );
    assert_eq!(status_of(tmp.path(), "dlq-6").as_deref(), Some("archived"));

    let cleanup: Value = serde_json::from_str(&stdout(&run_ok(
        cli(tmp.path()).args(["stats", "cleanup", "--json"]),
    )))
    .unwrap();
    assert_eq!(cleanup["by_status"]["archived"], 2, "{cleanup}");
}

#[test]
fn purge_refuses_to_select_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let before = snapshot(tmp.path());
    for args in [
        &["purge"][..],
        &["purge", "--ids", ""],
        &["purge", "--ids", " , "],
    ] {
        let output = cli(tmp.path()).args(args).output().unwrap();
        let err = assert_one_line_error(&output);
        assert!(
            err.contains("purge needs --ids, --older-than (or --older-than-days), or both"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "a refused purge opens nothing"
    );
    // Nor does either command create a journal.
    let missing = tmp.path().join("missing");
    for cmd in ["archive", "purge"] {
        let output = cli(&missing)
            .args([cmd, "--older-than-days", "1"])
            .output()
            .unwrap();
        assert!(assert_one_line_error(&output).contains("no journal at"));
    }
    assert!(!missing.exists());
}

/// Archive and purge chain what they write: keyless by default, under
/// `--sign-key-file` with the runtime's key, so keyed chains stay valid.
#[test]
fn archive_signs_with_the_runtimes_key() {
    use baldur_journal::projection::AuditKey;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    make_chained_journal(&dir, Some(AuditKey::new("k1", b"s3cret".to_vec()).unwrap()));
    let key_file = tmp.path().join("k1.key");
    std::fs::write(&key_file, b"s3cret").unwrap();
    let key = format!("k1={}", key_file.display());

    let signed = tmp.path().join("signed");
    copy_dir(&dir, &signed);
    let text = stdout(&run_ok(cli(&signed).args([
        "archive",
        "--older-than-days",
        "0",
        "--sign-key-file",
        &key,
    ])));
    assert_eq!(text, "archived 2 entries resolved more than 0 days ago\n");
    run_ok(cli(&signed).args(["purge", "--ids", "a", "--sign-key-file", &key]));
    let output = run_ok(cli(&signed).args(["verify", "-q", "--key-file", &key]));
    assert!(output.stdout.is_empty(), "{output:?}");
    let json: Value = serde_json::from_str(&stdout(&run_ok(cli(&signed).args([
        "audit",
        "a",
        "--json",
        "--key-file",
        &key,
    ]))))
    .unwrap();
    let checks: Vec<&str> = json["verification"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v["check"]["check"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
        })
        .collect();
    assert_eq!(
        checks.len(),
        8,
        "store, 3 steps, link, resolve, archive, purge: {json}"
    );
    assert!(checks.iter().all(|c| *c == "valid"), "{checks:?}");

    // Without the key, archive chains keyless: the keyed chains break there.
    let unsigned = tmp.path().join("unsigned");
    copy_dir(&dir, &unsigned);
    run_ok(cli(&unsigned).args(["archive", "--older-than-days", "0"]));
    let output = run_code(cli(&unsigned).args(["verify", "--key-file", &key]), 1);
    assert!(stdout(&output).contains("unkeyed"), "{output:?}");
    // A missing key file is a clear error naming it.
    let output = run_code(
        cli(&unsigned).args(["archive", "--sign-key-file", "k1=/nonexistent/k"]),
        2,
    );
    assert!(stderr(&output).contains("/nonexistent/k"), "{output:?}");
}
