//! Statuses without a `StatusCounts` field count in `total` only; a status
//! literally named `failed` fills `failed`, one named `total` does not
//! overwrite the total; unknown statuses are listed, filtered and grouped
//! like any other.

use crate::common::Fixture;
use baldur_journal::projection::{EntryListQuery, StatisticsRepository, StatusCounts};

#[test]
fn statuses_without_a_field_count_in_total_only() {
    let fixture = Fixture::new();
    fixture.store_as("p", "pending");
    fixture.store_as("r", "replaying");
    fixture.store_as("pf", "permanently_failed");
    fixture.store_as("w", "weird");
    fixture.store_as("t", "total");
    fixture.store_as("f", "failed");
    let counts = fixture.stats.get_status_counts().unwrap();
    assert_eq!(
        counts,
        StatusCounts {
            total: 6,
            pending: 1,
            failed: 1,
            ..Default::default()
        }
    );
}

#[test]
fn unknown_statuses_filter_group_and_breach_like_others() {
    let fixture = Fixture::new();
    fixture.store_as("w", "weird");
    fixture.store_as("p", "pending");
    let only = |status: &str| EntryListQuery {
        status: Some(status.into()),
        ..Default::default()
    };
    let weird = fixture.stats.list_entries(&only("weird")).unwrap();
    assert_eq!((weird.total, weird.items[0].id.as_str()), (1, "w"));
    assert_eq!(
        fixture
            .stats
            .list_entries(&only("no_such_status"))
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        fixture.stats.list_entries(&only("")).unwrap().total,
        2,
        "empty means no filter"
    );
    let cleanup = fixture.stats.get_cleanup_stats().unwrap();
    assert_eq!(cleanup.by_status.get("weird"), Some(&1));
    assert_eq!(cleanup.by_status.len(), 2, "only the statuses present");
    fixture.shift(5 * crate::common::HOUR);
    let breaches = fixture.stats.get_sla_breaches(4, Some(&["weird"])).unwrap();
    assert_eq!(breaches.get("payments"), Some(&1));
    assert_eq!(
        fixture.stats.get_entry_detail("w").unwrap().unwrap().status,
        "weird"
    );
}

#[test]
fn the_status_breakdown_names_every_status_in_the_window() {
    let fixture = Fixture::new();
    for (id, status) in [
        ("p", "pending"),
        ("r1", "replaying"),
        ("r2", "replaying"),
        ("pf", "permanently_failed"),
        ("w", "weird"),
    ] {
        fixture.store_as(id, status);
    }
    let want: std::collections::BTreeMap<String, u64> = [
        ("pending", 1),
        ("permanently_failed", 1),
        ("replaying", 2),
        ("weird", 1),
    ]
    .map(|(s, n)| (s.to_string(), n))
    .into();
    assert_eq!(fixture.stats.get_status_breakdown().unwrap(), want);
    let total = fixture.stats.get_status_counts().unwrap().total;
    assert_eq!(want.values().sum::<u64>(), total);
    // A view answers the same, and the 30-day window applies.
    let latest = baldur_journal::EventJournal::get_latest_sequence(&*fixture.journal).unwrap();
    let view = fixture.stats.as_of_sequence(latest).unwrap();
    assert_eq!(view.get_status_breakdown().unwrap(), want);
    fixture.shift(31 * crate::common::DAY);
    assert!(fixture.stats.get_status_breakdown().unwrap().is_empty());
    // NullStatistics (the trait's default, from its zero counts) has none.
    let null = baldur_journal::projection::NullStatistics;
    assert!(null.get_status_breakdown().unwrap().is_empty());
}
