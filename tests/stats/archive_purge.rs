//! Archive then purge: `archive_old_entries` archives resolved entries
//! resolved more than N days ago; `purge_archived` purges only archived
//! entries, by ids, by age, or both, never everything by default. A purged
//! entry leaves every statistic but keeps its audit trail.

use crate::common::{DAY, Fixture};
use baldur_journal::Error;
use baldur_journal::projection::{LifecycleKind, PurgeSelection, StatisticsRepository};
use serde_json::{Map, json};

fn resolved_long_ago(fixture: &Fixture, ids: &[&str]) {
    for id in ids {
        fixture.store(id, "payments", "timeout");
        fixture.step(LifecycleKind::Resolve, id);
    }
}

#[test]
fn archive_then_purge() {
    let fixture = Fixture::new();
    resolved_long_ago(&fixture, &["old1", "old2"]);
    fixture.shift(20 * DAY);
    resolved_long_ago(&fixture, &["recent"]);
    fixture.store("open", "payments", "timeout");
    fixture.shift(11 * DAY);

    assert_eq!(fixture.stats.get_cleanup_stats().unwrap().can_archive(), 2);
    assert_eq!(fixture.stats.archive_old_entries(30).unwrap(), 2);
    assert_eq!(
        fixture.stats.archive_old_entries(30).unwrap(),
        0,
        "nothing left to archive"
    );
    let counts = fixture.stats.get_status_counts().unwrap();
    assert_eq!(
        (counts.archived, counts.resolved, counts.pending),
        (0, 1, 1),
        "old ones are out of the 30-day window"
    );
    let cleanup = fixture.stats.get_cleanup_stats().unwrap();
    assert_eq!(cleanup.by_status.get("archived"), Some(&2));
    assert_eq!(cleanup.can_purge(), 0, "archived just now");

    // The purge clock is the archive time.
    fixture.shift(90 * DAY + 1);
    assert_eq!(fixture.stats.get_cleanup_stats().unwrap().can_purge(), 2);
    assert_eq!(
        fixture
            .stats
            .purge_archived(&PurgeSelection::OlderThanDays(90))
            .unwrap(),
        2
    );
    let cleanup = fixture.stats.get_cleanup_stats().unwrap();
    assert_eq!(cleanup.total, 2);
    assert_eq!(cleanup.by_status.get("archived"), None);
    assert_eq!(fixture.stats.get_entry_detail("old1").unwrap(), None);

    let trail = fixture
        .stats
        .get_audit_trail_by_entity("old1", "dlq_entry")
        .unwrap();
    assert_eq!(trail.current_status, "purged");
    let actions: Vec<&str> = trail.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["store", "resolve", "archive", "purge"]);
    assert_eq!(
        trail.entries[2].details.as_deref(),
        Some("resolved more than 30 days ago")
    );

    // A purged id stays purged: a later snapshot is refused, and shows.
    let mut snapshot = Map::new();
    snapshot.insert("id".into(), json!("old1"));
    snapshot.insert("status".into(), json!("pending"));
    assert_eq!(
        fixture.stats.persist_entry(&snapshot).unwrap().as_deref(),
        Some("old1")
    );
    assert_eq!(fixture.stats.get_entry_detail("old1").unwrap(), None);
    let trail = fixture
        .stats
        .get_audit_trail_by_entity("old1", "dlq_entry")
        .unwrap();
    let last = trail.entries.last().unwrap();
    assert_eq!(last.action, "persist_refused");
    assert_eq!(
        last.details.as_deref(),
        Some("refused: the entry was purged")
    );
}

#[test]
fn purging_a_non_archived_id_has_no_effect() {
    let fixture = Fixture::new();
    fixture.store("pending", "payments", "timeout");
    resolved_long_ago(&fixture, &["resolved"]);
    let before = fixture.latest();
    let selection = PurgeSelection::Ids(vec!["pending".into(), "resolved".into(), "nope".into()]);
    assert_eq!(fixture.stats.purge_archived(&selection).unwrap(), 0);
    assert_eq!(fixture.latest(), before, "nothing appended");
    assert_eq!(fixture.stats.get_cleanup_stats().unwrap().total, 2);
    assert_eq!(
        fixture
            .stats
            .purge_archived(&PurgeSelection::Ids(vec![]))
            .unwrap(),
        0
    );
}

#[test]
fn ids_and_age_both_apply_and_neither_is_refused() {
    let fixture = Fixture::new();
    resolved_long_ago(&fixture, &["a", "b", "c"]);
    assert_eq!(
        fixture.stats.archive_old_entries(0).unwrap(),
        0,
        "resolved_at is not before now"
    );
    fixture.shift(1);
    assert_eq!(fixture.stats.archive_old_entries(0).unwrap(), 3);
    fixture.shift(10 * DAY);
    let both = PurgeSelection::IdsOlderThanDays {
        ids: vec!["a".into(), "b".into()],
        older_than_days: 30,
    };
    assert_eq!(
        fixture.stats.purge_archived(&both).unwrap(),
        0,
        "ids given, but too young"
    );
    let both = PurgeSelection::IdsOlderThanDays {
        ids: vec!["a".into(), "a".into()],
        older_than_days: 5,
    };
    assert_eq!(fixture.stats.purge_archived(&both).unwrap(), 1);
    assert_eq!(
        fixture
            .stats
            .purge_archived(&PurgeSelection::Ids(vec!["b".into()]))
            .unwrap(),
        1
    );
    assert_eq!(
        fixture
            .stats
            .get_cleanup_stats()
            .unwrap()
            .by_status
            .get("archived"),
        Some(&1)
    );
    assert!(matches!(
        PurgeSelection::from_options(None, None),
        Err(Error::InvalidOption(_))
    ));
    assert_eq!(
        PurgeSelection::from_options(None, Some(0)).unwrap(),
        PurgeSelection::OlderThanDays(0)
    );
    assert_eq!(
        fixture
            .stats
            .purge_archived(&PurgeSelection::OlderThanDays(0))
            .unwrap(),
        1
    );
}
