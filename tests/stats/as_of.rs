//! "As of": the statistics folded only up to a sequence, or over the
//! records appended at or before a time with now = that time, so a forensic
//! user sees what the dashboard showed before an incident. Views refuse
//! writes.

use std::sync::Arc;

use crate::common::{DAY, HOUR, MINUTE, T0, ts};
use baldur_journal::projection::{
    BreakerEvent, BreakerTransition, JournalStatistics, LifecycleEvent, LifecycleKind,
    PurgeSelection, StatisticsRepository, StoreEvent,
};
use baldur_journal::{Error, EventJournal, JournalEntry, MemoryJournal};

/// Appends `entry` as happening at `at` and appended `delay` later.
fn append(journal: &MemoryJournal, mut entry: JournalEntry, appended: i64) -> u64 {
    let sequence = journal.get_latest_sequence().unwrap() + 1;
    entry.appended_at = Some(ts(appended));
    journal.append_at(sequence, &entry).unwrap();
    sequence
}

#[test]
fn the_dashboard_before_an_incident() {
    let journal = Arc::new(MemoryJournal::new());
    let stats = JournalStatistics::new(journal.clone());
    // A quiet day: two entries, one resolved.
    let t = |minutes: i64| T0 + minutes * MINUTE;
    append(
        &journal,
        StoreEvent::new("a", "payments", "timeout").to_entry(ts(t(0))),
        t(0),
    );
    append(
        &journal,
        StoreEvent::new("b", "payments", "timeout").to_entry(ts(t(10))),
        t(10),
    );
    let quiet = append(
        &journal,
        LifecycleEvent::new(LifecycleKind::Resolve, "a").to_entry(ts(t(20))),
        t(20),
    );
    // The incident at minute 60: a breaker opens and entries pour in; one
    // event happened before it but was appended late.
    let incident = t(60);
    append(
        &journal,
        BreakerEvent::new(BreakerTransition::Opened, "payments").to_entry(ts(incident)),
        incident,
    );
    for i in 0..5 {
        let at = incident + i * MINUTE;
        append(
            &journal,
            StoreEvent::new(format!("x{i}"), "payments", "crash").to_entry(ts(at)),
            at,
        );
    }
    append(
        &journal,
        StoreEvent::new("late", "orders", "timeout").to_entry(ts(t(30))),
        incident + HOUR,
    );

    // Live: everything.
    assert_eq!(stats.get_cleanup_stats().unwrap().total, 8);

    // As of a minute before the incident: the quiet dashboard, now = then.
    let before = stats.as_of_time(ts(incident - MINUTE)).unwrap();
    assert_eq!(before.now(), ts(incident - MINUTE));
    let counts = before.get_status_counts().unwrap();
    assert_eq!((counts.total, counts.pending, counts.resolved), (2, 1, 1));
    assert_eq!(before.get_circuit_breaker_summary().unwrap().open, 0);
    assert_eq!(before.get_resolution_rate(1).unwrap(), 0.5);
    let activity = before.get_recent_activity(1, 1).unwrap();
    assert_eq!((activity.new_in_24h, activity.resolved_in_24h), (2, 1));
    assert!(
        before.get_entry_detail("late").unwrap().is_none(),
        "appended after the point"
    );

    // As of the incident's append time: the breaker and the first entry.
    let during = stats.as_of_time(ts(incident)).unwrap();
    assert_eq!(during.get_circuit_breaker_summary().unwrap().open, 1);
    assert_eq!(during.get_status_counts().unwrap().total, 3);

    // As of a sequence: the same quiet state, at any now.
    let by_sequence = stats
        .as_of_sequence(quiet)
        .unwrap()
        .with_now(ts(incident - MINUTE));
    assert_eq!(by_sequence.get_status_counts().unwrap(), counts);
    assert_eq!(by_sequence.summary().last_sequence, quiet);
    let much_later = stats
        .as_of_sequence(quiet)
        .unwrap()
        .with_now(ts(T0 + 40 * DAY));
    assert_eq!(
        much_later.get_status_counts().unwrap().total,
        0,
        "outside the 30-day window"
    );
    assert_eq!(much_later.get_cleanup_stats().unwrap().total, 2);
    let trail = much_later
        .get_audit_trail_by_entity("a", "dlq_entry")
        .unwrap();
    assert_eq!(trail.total_entries(), 2);
    assert_eq!(
        stats
            .as_of_sequence(0)
            .unwrap()
            .get_cleanup_stats()
            .unwrap()
            .total,
        0
    );

    // The past is read-only.
    assert!(matches!(
        before.archive_old_entries(0),
        Err(Error::ReadOnly)
    ));
    assert!(matches!(
        before.purge_archived(&PurgeSelection::OlderThanDays(0)),
        Err(Error::ReadOnly)
    ));
    assert!(matches!(
        before.persist_entry(&Default::default()),
        Err(Error::ReadOnly)
    ));
}
