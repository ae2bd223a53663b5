//! SLA breaches: entries in the given statuses (default pending, reviewing,
//! requires_review) created strictly more than the threshold ago, counted
//! by domain, a missing domain spelled `unknown`.

use std::collections::BTreeMap;

use crate::common::{Fixture, HOUR};
use baldur_journal::projection::{LifecycleKind, StatisticsRepository};

fn map(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn default_statuses_and_the_threshold_boundary() {
    let fixture = Fixture::new();
    fixture.store("p", "payments", "timeout");
    fixture.store("r", "orders", "timeout");
    fixture.store_as("v", "reviewing");
    fixture.store("q", "", "timeout");
    fixture.step(LifecycleKind::Escalate, "q");
    fixture.store("x", "orders", "timeout");
    fixture.step(LifecycleKind::ReplayStart, "x"); // replaying: not a default breach status
    fixture.store("done", "payments", "timeout");
    fixture.step(LifecycleKind::Resolve, "done");

    fixture.shift(4 * HOUR);
    assert_eq!(
        fixture.stats.get_sla_breaches(4, None).unwrap(),
        map(&[]),
        "exactly 4 h is no breach"
    );
    fixture.shift(1);
    assert_eq!(
        fixture.stats.get_sla_breaches(4, None).unwrap(),
        map(&[("orders", 1), ("payments", 2), ("unknown", 1)])
    );
    assert_eq!(fixture.stats.get_sla_breaches(5, None).unwrap(), map(&[]));
}

#[test]
fn custom_statuses_and_an_empty_list() {
    let fixture = Fixture::new();
    fixture.store("p", "payments", "timeout");
    fixture.store("x", "orders", "timeout");
    fixture.step(LifecycleKind::ReplayStart, "x");
    fixture.store("done", "payments", "timeout");
    fixture.step(LifecycleKind::Resolve, "done");
    fixture.shift(10 * HOUR);
    assert_eq!(
        fixture
            .stats
            .get_sla_breaches(4, Some(&["replaying"]))
            .unwrap(),
        map(&[("orders", 1)])
    );
    assert_eq!(
        fixture
            .stats
            .get_sla_breaches(4, Some(&["resolved", "pending", "no_such"]))
            .unwrap(),
        map(&[("payments", 2)])
    );
    assert_eq!(
        fixture.stats.get_sla_breaches(4, Some(&[])).unwrap(),
        map(&[])
    );
    // The age counts from creation, whatever happened since.
    assert_eq!(
        fixture
            .stats
            .get_sla_breaches(0, Some(&["resolved"]))
            .unwrap(),
        map(&[("payments", 1)])
    );
}
