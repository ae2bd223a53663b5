//! `audit ENTITY_ID`: the trail with each link checked, and a verdict:
//! VALID (exit 0), or BROKEN AT the first bad link (exit 1). `--json` is
//! the library's trail. Read-only.
//!
//! The broken trail is one the library's current link check
//! (`EntityAuditTrail::is_chain_valid`) rejects: an audit link carrying an
//! `audit_record_hash` followed by an action that does not name it as its
//! `previous_hash`. Hash chains recomputed from content (issue 6's
//! projection half) are not in the library yet, so a tampered record whose
//! links still match cannot be told apart here.

mod cli_common;

use std::sync::Arc;

use baldur_journal::DiskJournal;
use baldur_journal::projection::{JournalStatistics, StatisticsRepository};
use cli_common::*;
use serde_json::Value;

#[test]
fn a_clean_trail_is_valid_and_a_broken_link_is_named() {
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
    assert!(text.trim_end().ends_with("VALID (3 actions)"), "{text}");
    let json: Value = serde_json::from_str(&stdout(&run_ok(
        cli(tmp.path()).args(["audit", "dlq-8", "--json"]),
    )))
    .unwrap();
    assert_eq!(json, serde_json::to_value(&valid).unwrap());

    let broken = lib.get_audit_trail_by_entity("dlq-7", "dlq_entry").unwrap();
    assert!(!broken.is_chain_valid());
    let output = run_code(cli(tmp.path()).args(["audit", "dlq-7"]), 1);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    let verdict = lines.last().unwrap();
    assert!(verdict.starts_with("BROKEN AT 3 ("), "{text}");
    assert!(verdict.contains("resolve"), "{text}");
    assert!(
        verdict.ends_with("it follows no hash, the action before has \"h-7f3a\""),
        "{text}"
    );
    let rows: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows[2].contains("BROKEN"),
        "the third link is the bad one: {text}"
    );
    assert!(
        rows[1].contains("h-7f3a") && rows[1].contains("alice"),
        "{text}"
    );
    let output = run_code(cli(tmp.path()).args(["audit", "dlq-7", "--json"]), 1);
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json, serde_json::to_value(&broken).unwrap());
    assert_eq!(json["is_chain_valid"], false);

    // As of before the resolve, the link is the last action: valid again.
    let (sequence, _, _) = make_dlq_journal_record(tmp.path(), "audit_link");
    let text = stdout(&run_ok(cli(tmp.path()).args([
        "audit",
        "dlq-7",
        "--as-of",
        &sequence.to_string(),
    ])));
    assert!(text.trim_end().ends_with("VALID (2 actions)"), "{text}");
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
    assert!(text.trim_end().ends_with("VALID (4 actions)"), "{text}");
}
