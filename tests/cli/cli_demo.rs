//! `demo`: creates a journal of a DLQ framework's month (DLQ entries with
//! their lifecycles and audit links, interleaved with the seven fleet event
//! kinds with the reference publishers' context keys), its DLQ events
//! audit-chained (keyless) so `audit` recomputes every hash, a projection
//! snapshot kept in the directory; prints the dashboard, writes the HTML
//! report beside the journal directory, and run again
//! appends to the same journal with later event times and new entry ids.

use std::sync::Arc;

use crate::cli_common::*;
use baldur_journal::projection::audit::is_chained_event_type;
use baldur_journal::projection::{EntryCheck, JournalStatistics, StatisticsRepository};
use baldur_journal::{DiskJournal, EventJournal, JournalQueryFilter, Timestamp};

const KINDS: [(&str, &[&str]); 7] = [
    (
        "circuit_breaker_opened",
        &[
            "service_name",
            "previous_state",
            "timestamp",
            "trigger",
            "window_failure_count",
            "window_total_calls",
            "consecutive_failure_count",
        ],
    ),
    (
        "circuit_breaker_closed",
        &["service_name", "new_state", "previous_state"],
    ),
    (
        "circuit_breaker_half_opened",
        &["service_name", "new_state", "previous_state"],
    ),
    ("error_budget_warning", &["budget_percent", "threshold"]),
    ("error_budget_critical", &["budget_percent", "threshold"]),
    ("error_budget_recovered", &["budget_percent", "threshold"]),
    (
        "emergency_level_changed",
        &[
            "namespace",
            "scope",
            "level",
            "previous_level",
            "reason",
            "activated_by",
            "is_active",
            "is_escalation",
        ],
    ),
];

#[test]
fn demo_writes_a_dlq_month_shows_the_dashboard_and_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let first = stdout(&run_ok(cli(&dir).args([
        "demo",
        "--entries",
        "3000",
        "--events",
        "5000",
        "--days",
        "33",
    ])));
    for part in [
        "new journal",
        "appending 3000 DLQ entries",
        " dashboard --now ",
        "DLQ dashboard measured from the latest event, ",
        "WAITING > 4 H",
        "circuit breakers: ",
        "LATEST ENTRIES (3000 in all)",
        "audit dlq-000001",
    ] {
        assert!(first.contains(part), "{part} in {first}");
    }

    let journal = DiskJournal::open_read_only(&dir).unwrap();
    assert!(journal.segment_bytes() == 16 << 20);
    let latest = journal.get_latest_sequence().unwrap();
    assert!(latest > 3000 + 5000, "{latest}");
    let entries = journal.get_sequence_range(1, latest + 1).unwrap();
    // Event times never decrease with sequences and span about 33 days.
    assert!(entries.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    let span =
        entries.last().unwrap().timestamp.as_unix_nanos() - entries[0].timestamp.as_unix_nanos();
    let day = 86_400_000_000_000i64;
    assert!(span > 32 * day && span <= 33 * day, "{span}");
    let end = entries.last().unwrap().timestamp;
    for (kind, keys) in KINDS {
        let of_kind: Vec<_> = entries.iter().filter(|e| e.event_type == kind).collect();
        assert!(!of_kind.is_empty(), "no {kind}");
        for e in of_kind {
            let context = e.context.to_value();
            for key in keys {
                assert!(
                    context.contains_key(*key),
                    "{kind} lacks {key}: {:?}",
                    e.context
                );
            }
            let service_less = kind.starts_with("error_budget") || kind.starts_with("emergency");
            assert_eq!(e.service_name.is_empty(), service_less, "{e:?}");
        }
    }
    for kind in [
        "dlq_store",
        "dlq_replay_start",
        "dlq_replay_success",
        "dlq_replay_failed",
        "dlq_escalate",
        "dlq_resolve",
        "dlq_reject",
        "dlq_force_redrive",
        "dlq_expire",
        "dlq_archive",
        "audit_link",
    ] {
        assert!(
            entries.iter().any(|e| e.event_type == kind),
            "no {kind} in the demo"
        );
    }
    // Every DLQ event is chained (keyless), nothing else is.
    for e in &entries {
        let context = e.context.to_value();
        let chained = is_chained_event_type(&e.event_type);
        assert_eq!(context.contains_key("hash_chain"), chained, "{e:?}");
        assert!(!context.contains_key("hash_key_id"), "{e:?}");
    }
    assert!(
        dir.join("projection.snapshot").is_file(),
        "the demo's writer keeps a snapshot"
    );
    // The HTML report beside the journal directory, never inside it.
    let report = tmp.path().join("baldur-report.html");
    assert!(
        first.contains(&format!("report: {}", report.display())),
        "{first}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "no script in the report");
    assert!(!dir.join("baldur-report.html").exists());
    drop(journal);

    // The statistics see every entry, nothing malformed or orphaned.
    let journal = Arc::new(DiskJournal::open_read_only(&dir).unwrap());
    let statistics = JournalStatistics::new(journal.clone());
    let summary = statistics.refresh().unwrap();
    assert_eq!((summary.malformed, summary.orphaned), (0, 0), "{summary:?}");
    assert_eq!(statistics.get_cleanup_stats().unwrap().total, 3000);
    assert!(!statistics.get_sla_breaches(4, None).unwrap().is_empty());
    assert!(statistics.list_circuit_breakers().unwrap().len() > 3);
    let trail = statistics
        .get_audit_trail_by_entity("dlq-000001", "dlq_entry")
        .unwrap();
    assert!(!trail.entries.is_empty());
    let verified = statistics
        .verify_audit_trail("dlq-000001", "dlq_entry")
        .unwrap();
    assert!(verified.is_chained() && verified.is_chain_valid());
    assert!(
        verified
            .entries
            .iter()
            .all(|e| e.check == EntryCheck::Valid)
    );
    drop(statistics);
    drop(journal);
    let text = stdout(&run_ok(cli(&dir).args(["audit", "dlq-000001"])));
    let n = trail.entries.len();
    assert!(
        text.trim_end()
            .ends_with(&format!("VALID ({n} actions, {n} hashes recomputed)")),
        "{text}"
    );
    assert!(!text.contains("unchained"), "{text}");

    let second = stdout(&run_ok(cli(&dir).args([
        "demo",
        "--entries",
        "200",
        "--events",
        "500",
        "--days",
        "3",
    ])));
    assert!(
        second.contains(&format!("{latest} sequences so far")),
        "{second}"
    );
    let journal = DiskJournal::open_read_only(&dir).unwrap();
    let now_latest = journal.get_latest_sequence().unwrap();
    assert!(now_latest > latest + 700, "{now_latest}");
    let more = journal.get_sequence_range(latest + 1, latest + 2).unwrap();
    assert!(
        more[0].timestamp > end,
        "continues after the latest event time"
    );
    let opened = JournalQueryFilter {
        event_types: Some(vec!["dlq_store".into()]),
        context_filters: Some([("entry_id".to_string(), "dlq-003200".to_string())].into()),
        ..Default::default()
    };
    assert_eq!(journal.count(&opened).unwrap(), 1, "new ids follow the old");

    // The second dashboard is measured from the latest event (three days
    // after the first run's end, so after the wall clock), not from now.
    let last = journal
        .get_sequence_range(now_latest, now_latest + 1)
        .unwrap()
        .remove(0)
        .timestamp;
    assert!(last > Timestamp::now(), "the second run ends in the future");
    let header = format!("DLQ dashboard measured from the latest event, {last} (");
    assert!(second.contains(&header), "{header} in {second}");
    assert!(
        second.contains(&format!(" dashboard --now {last}\n")),
        "{second}"
    );
    let new_in_24h = |text: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.contains("last 24 h"))
            .unwrap_or_else(|| panic!("no last 24 h in {text}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words
            .windows(3)
            .position(|w| w == ["last", "24", "h"])
            .unwrap();
        words[at + 3].parse().unwrap()
    };
    let shown = new_in_24h(&second);
    // Counted here: entries stored in the 24 hours up to the latest event.
    let cutoff = Timestamp::from_unix_nanos(last.as_unix_nanos() - day);
    let stored = journal
        .get_sequence_range(1, now_latest + 1)
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "dlq_store" && e.timestamp >= cutoff)
        .count() as u64;
    assert!(
        stored > 0 && stored < 200,
        "{stored}: the window cuts the run"
    );
    assert_eq!(shown, stored, "{second}");
    let activity: serde_json::Value = serde_json::from_str(&stdout(&run_ok(cli(&dir).args([
        "stats",
        "activity",
        "--json",
        "--now",
        &last.to_string(),
    ]))))
    .unwrap();
    assert_eq!(activity["new_in_24h"], shown);
    // From the wall clock, every entry of the second run is new.
    let wall: serde_json::Value = serde_json::from_str(&stdout(&run_ok(
        cli(&dir).args(["stats", "activity", "--json"]),
    )))
    .unwrap();
    assert!(wall["new_in_24h"].as_u64().unwrap() >= 200, "{wall}");
    drop(journal);
    run_code(cli(&dir).arg("verify"), 0);
}
