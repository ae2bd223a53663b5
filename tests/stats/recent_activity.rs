//! Recent activity: new and resolved entries in the last `hours` and
//! `days`, and the trend of the last `days` against the `days` before
//! (up above +10%, down below -10%, with Python's binary64 products).
//! "Resolved" counts entries that ended resolved (also when archived since),
//! not rejected or expired ones, and archiving does not lower the rate.

use crate::common::{DAY, Fixture, HOUR};
use baldur_journal::projection::{LifecycleKind, StatisticsRepository};

/// `previous` entries created 10 days ago and `recent` ones a day ago.
fn trend(previous: usize, recent: usize) -> String {
    let fixture = Fixture::new();
    for i in 0..previous {
        fixture.store(&format!("p{i}"), "payments", "timeout");
    }
    fixture.shift(9 * DAY);
    for i in 0..recent {
        fixture.store(&format!("r{i}"), "payments", "timeout");
    }
    // Just over a day: outside the inclusive 24-hour window.
    fixture.shift(DAY + 1);
    let activity = fixture.stats.get_recent_activity(24, 7).unwrap();
    assert_eq!(
        (activity.new_in_7d, activity.new_in_24h),
        (recent as u64, 0)
    );
    activity.trend
}

#[test]
fn the_trend_thresholds() {
    assert_eq!(trend(10, 11), "stable", "10 * 1.1 is exactly 11.0");
    assert_eq!(trend(10, 12), "up");
    assert_eq!(trend(50, 55), "stable", "50 * 1.1 is 55.00000000000001");
    assert_eq!(trend(50, 56), "up");
    assert_eq!(trend(10, 9), "stable", "10 * 0.9 is exactly 9.0");
    assert_eq!(trend(10, 8), "down");
    assert_eq!(trend(0, 0), "stable");
    assert_eq!(trend(0, 1), "up");
    assert_eq!(trend(3, 0), "down");
}

#[test]
fn the_previous_window_is_the_days_before_the_last_days() {
    let fixture = Fixture::new();
    fixture.store("too_old", "payments", "timeout"); // 6 days ago: outside [now-6d, now-3d)
    fixture.shift(DAY);
    fixture.store("previous", "payments", "timeout"); // 5 days ago: inside it
    fixture.shift(5 * DAY);
    let activity = fixture.stats.get_recent_activity(24, 3).unwrap();
    assert_eq!(activity.new_in_7d, 0);
    assert_eq!(activity.trend, "down");
    let activity = fixture.stats.get_recent_activity(24, 5).unwrap();
    assert_eq!(
        (activity.new_in_7d, activity.trend.as_str()),
        (1, "stable"),
        "1 against 1"
    );
}

#[test]
fn only_resolved_outcomes_count_as_resolved() {
    let fixture = Fixture::new();
    for id in ["ok", "archived_ok", "no", "gone", "open"] {
        fixture.store(id, "payments", "timeout");
    }
    fixture.step(LifecycleKind::ReplayStart, "ok");
    fixture.step(LifecycleKind::ReplaySuccess, "ok");
    fixture.step(LifecycleKind::Resolve, "archived_ok");
    fixture.step(LifecycleKind::Reject, "no");
    fixture.step(LifecycleKind::Expire, "gone");
    fixture.shift(1);
    assert_eq!(fixture.stats.get_resolution_rate(30).unwrap(), 0.4);
    // Archive the resolved ones: they still count as resolved.
    assert_eq!(fixture.stats.archive_old_entries(0).unwrap(), 2);
    assert_eq!(fixture.stats.get_resolution_rate(30).unwrap(), 0.4);
    fixture.shift(2 * HOUR);
    let activity = fixture.stats.get_recent_activity(3, 1).unwrap();
    assert_eq!((activity.new_in_24h, activity.resolved_in_24h), (5, 2));
    assert_eq!(activity.resolved_in_7d, 2);
    let activity = fixture.stats.get_recent_activity(1, 1).unwrap();
    assert_eq!((activity.new_in_24h, activity.resolved_in_24h), (0, 0));
    // Reopened by a forced redrive: no longer resolved.
    fixture.step(LifecycleKind::ForceRedrive, "ok");
    assert_eq!(fixture.stats.get_resolution_rate(30).unwrap(), 0.2);
}
