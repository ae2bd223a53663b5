//! Percentages and rates are rounded exactly as Python's `round` does: the
//! exact binary value to the nearest decimal, exact ties to even. Each
//! expected value is written out.

use crate::common::Fixture;
use baldur_journal::projection::{LifecycleKind, StatisticsRepository, StoreEvent};

#[test]
fn distribution_percentages_round_as_python() {
    let fixture = Fixture::new();
    fixture.store("a", "billing", "timeout");
    fixture.store("b", "orders", "timeout");
    fixture.store("c", "orders", "");
    let domains = fixture.stats.get_domain_distribution(10).unwrap();
    let shown: Vec<(&str, u64, f64)> = domains
        .iter()
        .map(|d| (d.domain.as_str(), d.count, d.percentage))
        .collect();
    // 2/3*100 = 66.66666666666667 and 1/3*100 = 33.333333333333336.
    assert_eq!(shown, [("orders", 2, 66.67), ("billing", 1, 33.33)]);
    let types = fixture.stats.get_failure_type_distribution(1).unwrap();
    assert_eq!(types.len(), 1, "limit 1 keeps the top one");
    assert_eq!(
        (types[0].failure_type.as_str(), types[0].percentage),
        ("timeout", 66.67)
    );
    let all = fixture.stats.get_failure_type_distribution(10).unwrap();
    assert_eq!(
        (all[1].failure_type.as_str(), all[1].percentage),
        ("unknown", 33.33)
    );
}

#[test]
fn an_exact_tie_rounds_to_even() {
    let fixture = Fixture::new();
    fixture.store("rare", "rare", "timeout");
    for i in 0..31 {
        fixture.store(&format!("c{i}"), "common", "timeout");
    }
    let domains = fixture.stats.get_domain_distribution(10).unwrap();
    // 31/32*100 = 96.875 and 1/32*100 = 3.125 exactly: ties, to even. A
    // multiply-round-divide would give 96.88 and 3.13.
    assert_eq!(
        (domains[0].domain.as_str(), domains[0].percentage),
        ("common", 96.88)
    );
    assert_eq!(
        (domains[1].domain.as_str(), domains[1].percentage),
        ("rare", 3.12)
    );

    // One resolved of 32: 0.03125, a tie at 4 decimals, to even.
    fixture.step(LifecycleKind::Resolve, "rare");
    assert_eq!(fixture.stats.get_resolution_rate(30).unwrap(), 0.0312);
}

#[test]
fn rates_round_to_four_decimals() {
    let fixture = Fixture::new();
    for id in ["a", "b", "c"] {
        fixture.store(id, "payments", "timeout");
    }
    fixture.step(LifecycleKind::Resolve, "a");
    assert_eq!(fixture.stats.get_resolution_rate(30).unwrap(), 0.3333);
    fixture.step(LifecycleKind::Resolve, "b");
    assert_eq!(fixture.stats.get_resolution_rate(30).unwrap(), 0.6667);
}

#[test]
fn the_average_retry_count_rounds_to_two_decimals() {
    let fixture = Fixture::new();
    let store = |id: &str, retry_count: i64| {
        let mut event = StoreEvent::new(id, "payments", "timeout");
        event.retry_count = retry_count;
        fixture.append(event.to_entry(fixture.clock.now()));
    };
    store("one", 1);
    for i in 0..7 {
        store(&format!("zero{i}"), 0);
    }
    // 1/8 = 0.125: a tie, to even.
    assert_eq!(fixture.stats.get_avg_retry_count().unwrap(), 0.12);
    store("two", 2);
    // 3/9 = 0.333...
    assert_eq!(fixture.stats.get_avg_retry_count().unwrap(), 0.33);
}
