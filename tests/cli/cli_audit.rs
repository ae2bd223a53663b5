//! `audit ENTITY_ID`: the trail with every entry verified by the library's
//! `verify_audit_trail` (hashes recomputed from the stored content, HMAC
//! under `--key-file` keys, links checked), and a verdict: VALID (exit 0),
//! or BROKEN AT the first bad entry (exit 1). `--json` is the library's
//! trail with the verdict and each entry's check. Read-only.
//!
//! The fixture of `make_dlq_journal` is unchained (written straight to the
//! journal): its trails have no hash to recompute and are VALID, even
//! dlq-7's, whose link carries an `audit_record_hash` the next action does
//! not follow (the reference's link check rejects it; a recomputing check
//! has nothing to hold it to). Chained journals are made by
//! `make_chained_journal`, through the statistics with chaining on.

use std::sync::Arc;

use crate::cli_common::*;
use baldur_journal::DiskJournal;
use baldur_journal::projection::{AuditKey, JournalStatistics, StatisticsRepository};
use serde_json::Value;

#[test]
fn unchained_trails_are_valid_with_nothing_to_recompute() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let before = snapshot(tmp.path());
    let lib = JournalStatistics::new(Arc::new(DiskJournal::open_read_only(tmp.path()).unwrap()));

    let valid = lib.get_audit_trail_by_entity("dlq-8", "dlq_entry").unwrap();
    assert!(valid.is_chain_valid());
    let text = stdout(&run_ok(cli(tmp.path()).args(["audit", "dlq-8"])));
    assert!(text.contains("entity      dlq_entry dlq-8"), "{text}");
    assert!(text.contains("domain      payments"), "{text}");
    assert!(text.contains("status      replaying"), "{text}");
    for action in ["store", "review", "replay_start"] {
        assert!(text.contains(action), "{action} in {text}");
    }
    assert!(text.contains("looked at it"), "details shown: {text}");
    assert!(!text.contains("BROKEN"), "{text}");
    assert!(
        text.trim_end()
            .ends_with("VALID (3 actions, none chained: no hash to recompute)"),
        "{text}"
    );
    assert_eq!(text.matches("unchained").count(), 3, "{text}");
    let json: Value = serde_json::from_str(&stdout(&run_ok(
        cli(tmp.path()).args(["audit", "dlq-8", "--json"]),
    )))
    .unwrap();
    let mut want = serde_json::to_value(&valid).unwrap();
    want["verification"] = serde_json::to_value(
        &lib.verify_audit_trail("dlq-8", "dlq_entry")
            .unwrap()
            .entries,
    )
    .unwrap();
    want["first_bad_entry"] = Value::Null;
    assert_eq!(json, want);

    // dlq-7's link names an audit record's hash the resolve does not
    // follow: the reference's link check fails it, but nothing is chained,
    // so there is no hash to recompute and the verdict is VALID - the
    // library's DTO, which recomputed, agrees with the verdict.
    let unlinked = lib.get_audit_trail_by_entity("dlq-7", "dlq_entry").unwrap();
    assert!(!unlinked.links_valid());
    assert!(unlinked.hashes_recomputed && unlinked.is_chain_valid());
    let text = stdout(&run_ok(cli(tmp.path()).args(["audit", "dlq-7"])));
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows[1].contains("h-7f3a") && rows[1].contains("alice"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("VALID (3 actions, none chained: no hash to recompute)")
    );
    let json: Value = serde_json::from_str(&stdout(&run_ok(
        cli(tmp.path()).args(["audit", "dlq-7", "--json"]),
    )))
    .unwrap();
    assert_eq!(
        json["is_chain_valid"], true,
        "the verdict, not the link check"
    );

    // As of before the resolve: two actions.
    let (sequence, _, _) = make_dlq_journal_record(tmp.path(), "audit_link");
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "audit",
        "dlq-7",
        "--as-of",
        &sequence.to_string(),
    ])));
    assert!(
        text.trim_end()
            .ends_with("VALID (2 actions, none chained: no hash to recompute)"),
        "{text}"
    );
    assert_eq!(snapshot(tmp.path()), before, "audit wrote to the directory");
}

/// The record of `event_type` for dlq-7 (the fixture's one hashed link).
fn make_dlq_journal_record(dir: &std::path::Path, event_type: &str) -> (u64, String, String) {
    let journal = DiskJournal::open_read_only(dir).unwrap();
    let latest = baldur_journal::EventJournal::get_latest_sequence(&journal).unwrap();
    let entries =
        baldur_journal::EventJournal::get_sequence_range(&journal, 1, latest + 1).unwrap();
    let e = entries
        .iter()
        .find(|e| e.event_type == event_type && e.context.as_str().contains("h-7f3a"))
        .expect("the hashed link");
    (
        e.sequence,
        e.event_type.clone(),
        e.context.as_str().to_string(),
    )
}

#[test]
fn unknown_entities_are_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    let output = cli(tmp.path()).args(["audit", "dlq-404"]).output().unwrap();
    assert!(assert_one_line_error(&output).contains("no audit trail for dlq_entry \"dlq-404\""));
    let output = cli(tmp.path())
        .args(["audit", "dlq-8", "--entity-type", "order"])
        .output()
        .unwrap();
    assert!(assert_one_line_error(&output).contains("no audit trail for order \"dlq-8\""));
}

#[test]
fn a_purged_entry_keeps_its_trail() {
    let tmp = tempfile::tempdir().unwrap();
    make_dlq_journal(tmp.path());
    run_ok(cli(tmp.path()).args(["purge", "--ids", "dlq-9"]));
    let text = stdout(&run_ok(cli(tmp.path()).args(["audit", "dlq-9"])));
    assert!(text.contains("status      purged"), "{text}");
    assert!(text.contains("archive") && text.contains("purge"), "{text}");
    assert!(text.trim_end().contains("VALID (4 actions"), "{text}");
}

/// The trail rows (lines starting with the action's number).
fn rows(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .collect()
}

#[test]
fn a_changed_byte_in_a_chained_trail_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    make_chained_journal(&dir, None);
    let text = stdout(&run_ok(cli(&dir).args(["audit", "a"])));
    let lines = rows(&text);
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines.iter().all(|l| l.contains("VALID")), "{text}");
    assert!(
        text.trim_end()
            .ends_with("VALID (6 actions, 6 hashes recomputed)"),
        "{text}"
    );

    // One byte of an audited `details`, the record's CRC rewritten.
    let copy = tmp.path().join("copy");
    copy_dir(&dir, &copy);
    tamper(&copy, b"needs a human", b"needs a huma!");
    let before = snapshot(&copy);
    let output = run_code(cli(&copy).args(["audit", "a"]), 1);
    let text = stdout(&output);
    let lines = rows(&text);
    assert!(
        lines[3].contains("escalate") && lines[3].contains("hash_mismatch"),
        "{text}"
    );
    assert!(lines[3].contains("needs a huma!"), "{text}");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            line.contains("VALID"),
            i != 3,
            "only the changed one fails: {text}"
        );
    }
    let verdict = text.lines().last().unwrap();
    assert!(
        verdict.starts_with("BROKEN AT 4 (hash_mismatch at sequence "),
        "{text}"
    );
    assert!(verdict.contains("escalate"), "{text}");
    let json: Value = serde_json::from_str(&stdout(&run_code(
        cli(&copy).args(["audit", "a", "--json"]),
        1,
    )))
    .unwrap();
    assert_eq!(json["is_chain_valid"], false);
    assert_eq!(json["first_bad_entry"], 4);
    assert_eq!(json["verification"][3]["check"]["check"], "hash_mismatch");
    // The other entity is untouched; the copy's CRCs all hold.
    run_ok(cli(&copy).args(["audit", "b"]));
    assert_eq!(snapshot(&copy), before, "audit wrote to the directory");
}

#[test]
fn keyed_trails_verify_with_their_key_file_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    make_chained_journal(
        &dir,
        Some(AuditKey::new("k1", b"the secret".to_vec()).unwrap()),
    );
    let key = tmp.path().join("k1.key");
    std::fs::write(&key, b"the secret").unwrap();
    let wrong = tmp.path().join("wrong.key");
    std::fs::write(&wrong, b"the secret\n").unwrap();
    let with_key = format!("k1={}", key.display());

    let text = stdout(&run_ok(cli(&dir).args([
        "audit",
        "a",
        "--key-file",
        &with_key,
    ])));
    assert!(
        text.trim_end()
            .ends_with("VALID (6 actions, 6 hashes recomputed)"),
        "{text}"
    );

    // Without the key: every keyed entry is unverifiable, exit 1.
    let text = stdout(&run_code(cli(&dir).args(["audit", "a"]), 1));
    assert_eq!(
        text.matches("unknown_key k1").count(),
        7,
        "6 rows and the verdict: {text}"
    );
    let verdict = text.lines().last().unwrap();
    assert!(
        verdict.starts_with("BROKEN AT 1 (unknown_key k1 at sequence "),
        "{text}"
    );
    assert!(
        verdict.ends_with("pass --key-file k1=PATH to verify it)"),
        "{text}"
    );

    // A different secret under the same id: every hash mismatches.
    let text = stdout(&run_code(
        cli(&dir).args([
            "audit",
            "a",
            "--key-file",
            &format!("k1={}", wrong.display()),
        ]),
        1,
    ));
    assert!(
        text.trim_end().contains("BROKEN AT 1 (hash_mismatch"),
        "{text}"
    );

    // A bad --key-file is a usage error; a missing file an error.
    run_code(cli(&dir).args(["audit", "a", "--key-file", "k1"]), 2);
    let output = cli(&dir)
        .args(["audit", "a", "--key-file", "k1=/nonexistent/key"])
        .output()
        .unwrap();
    assert!(assert_one_line_error(&output).contains("reading key \"k1\""));
}
