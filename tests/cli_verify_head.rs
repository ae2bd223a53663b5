//! `verify --head`: after a clean verify, the journal's head as one JSON
//! line, the library's `DiskJournal::head`; read-only.

mod cli_common;

use baldur_journal::DiskJournal;
use cli_common::*;
use serde_json::Value;

#[test]
fn verify_head_prints_the_library_head() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 2000);
    let before = snapshot(tmp.path());
    let output = run_ok(cli(tmp.path()).args(["verify", "--head"]));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    let journal = DiskJournal::open_read_only(tmp.path()).unwrap();
    let want = serde_json::to_value(journal.head().unwrap()).unwrap();
    drop(journal);
    assert_eq!(got, want);
    assert_eq!(got["last_sequence"], 3001);
    assert!(got["sealed_segments"].as_u64().unwrap() >= 2, "{got}");
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "verify wrote to the directory"
    );
    // Without --head, a clean verify stays silent.
    let output = run_ok(cli(tmp.path()).arg("verify"));
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
}
