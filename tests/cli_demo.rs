//! `demo`: creates a journal of the seven event kinds with the reference
//! publishers' context keys, prints `info` and example queries, and run
//! again appends to the same journal with later event times.

mod cli_common;

use baldur_journal::{DiskJournal, EventJournal, JournalQueryFilter};
use cli_common::*;

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
fn demo_writes_the_seven_kinds_and_continues_on_a_second_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let first = stdout(&run_ok(
        cli(&dir).args(["demo", "--events", "20000", "--days", "3"]),
    ));
    assert!(first.contains("new journal"), "{first}");
    for section in [
        "info",
        "count --event-type",
        "query --event-type",
        "range 1 20001",
    ] {
        assert!(
            first.contains(&format!(" {section}")),
            "{section} in {first}"
        );
    }
    assert!(
        first.contains("SEGMENT") && first.contains("sealed"),
        "{first}"
    );

    let journal = DiskJournal::open_read_only(&dir).unwrap();
    assert_eq!(journal.get_latest_sequence().unwrap(), 20_000);
    assert!(journal.segment_bytes() == 16 << 20);
    let entries = journal.get_sequence_range(1, 20_001).unwrap();
    // Event times increase with sequences and span about three days.
    assert!(entries.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
    let span =
        entries.last().unwrap().timestamp.as_unix_nanos() - entries[0].timestamp.as_unix_nanos();
    let day = 86_400_000_000_000i64;
    assert!(span > 2 * day && span < 4 * day, "{span}");
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
    assert!(
        entries
            .iter()
            .all(|e| KINDS.iter().any(|(k, _)| *k == e.event_type))
    );
    let last_time = entries.last().unwrap().timestamp;
    drop(journal);

    let second = stdout(&run_ok(
        cli(&dir).args(["demo", "--events", "5000", "--days", "1"]),
    ));
    assert!(second.contains("20000 sequences so far"), "{second}");
    let journal = DiskJournal::open_read_only(&dir).unwrap();
    assert_eq!(journal.get_latest_sequence().unwrap(), 25_000);
    let more = journal.get_sequence_range(20_001, 25_001).unwrap();
    assert!(
        more[0].timestamp > last_time,
        "continues after the latest event time"
    );
    let opened = JournalQueryFilter {
        event_types: Some(vec!["circuit_breaker_opened".into()]),
        ..Default::default()
    };
    assert!(journal.count(&opened).unwrap() > 0);
    drop(journal);
    run_code(cli(&dir).arg("verify"), 0);
}
