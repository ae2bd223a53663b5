//! `list_entries` orders by each allowed column, ascending or (with a
//! leading `-`) descending, `None` first when ascending, ties broken by the
//! sequence that created the entry in the same direction; any other
//! `order_by` is an error.

use crate::common::{Fixture, HOUR, ts};
use baldur_journal::Error;
use baldur_journal::projection::{
    EntryListQuery, LifecycleEvent, LifecycleKind, ORDER_BY_COLUMNS, StatisticsRepository,
    StoreEvent,
};

/// Four entries with known values in every column:
///
/// | id | domain | failure_type | status | entity_type | entity_id | retry | error_code | created | updated | resolved |
/// | b  | orders   | timeout | resolved | order | order-2 | 1 | E2 | 0h | 3h | 3h |
/// | a  | payments | timeout | pending  | -     | -       | 0 | E1 | 1h | 1h | -  |
/// | d  | orders   | crash   | pending  | order | order-1 | 2 | E1 | 1h | 1h | -  |
/// | c  | billing  | timeout | rejected | user  | user-9  | 1 | E2 | 2h | 4h | 4h |
fn fixture() -> Fixture {
    let fixture = Fixture::new();
    let at = |hours: i64| ts(crate::common::T0 + hours * HOUR);
    let store = |id: &str,
                 domain: &str,
                 failure_type: &str,
                 entity: Option<(&str, &str)>,
                 retry_count: i64,
                 code: &str,
                 hours: i64| {
        let mut event = StoreEvent::new(id, domain, failure_type);
        event.entity_type = entity.map(|e| e.0.to_string());
        event.entity_id = entity.map(|e| e.1.to_string());
        event.retry_count = retry_count;
        event.error_code = code.into();
        fixture.append(event.to_entry(at(hours)));
    };
    store(
        "b",
        "orders",
        "timeout",
        Some(("order", "order-2")),
        1,
        "E2",
        0,
    );
    store("a", "payments", "timeout", None, 0, "E1", 1);
    store(
        "d",
        "orders",
        "crash",
        Some(("order", "order-1")),
        2,
        "E1",
        1,
    );
    store(
        "c",
        "billing",
        "timeout",
        Some(("user", "user-9")),
        1,
        "E2",
        2,
    );
    fixture.append(LifecycleEvent::new(LifecycleKind::Resolve, "b").to_entry(at(3)));
    fixture.append(LifecycleEvent::new(LifecycleKind::Reject, "c").to_entry(at(4)));
    fixture
}

fn ids(fixture: &Fixture, order_by: &str) -> Result<String, Error> {
    let query = EntryListQuery {
        order_by: order_by.into(),
        ..Default::default()
    };
    let page = fixture.stats.list_entries(&query)?;
    Ok(page.items.iter().map(|e| e.id.as_str()).collect())
}

#[test]
fn every_allowed_column_sorts_both_ways_with_ties_by_sequence() {
    let fixture = fixture();
    let expected = [
        ("id", "abcd"),
        ("domain", "cbda"),
        ("failure_type", "dbac"),
        ("status", "adcb"),
        ("entity_type", "abdc"),
        ("entity_id", "adbc"),
        ("retry_count", "abcd"),
        ("error_code", "adbc"),
        ("created_at", "badc"),
        ("updated_at", "adbc"),
        ("resolved_at", "adbc"),
    ];
    assert_eq!(expected.map(|(column, _)| column), ORDER_BY_COLUMNS);
    for (column, ascending) in expected {
        assert_eq!(ids(&fixture, column).unwrap(), ascending, "{column}");
        let descending: String = ascending.chars().rev().collect();
        assert_eq!(
            ids(&fixture, &format!("-{column}")).unwrap(),
            descending,
            "-{column}"
        );
    }
    // The seed's default is newest first.
    assert_eq!(ids(&fixture, "-created_at").unwrap(), "cdab");
}

#[test]
fn any_other_order_by_is_an_error() {
    let fixture = fixture();
    for bad in [
        "--updated_at",
        "",
        "-",
        "bogus",
        "data",
        "Created_at",
        "created_at ",
        "+id",
    ] {
        match ids(&fixture, bad) {
            Err(Error::InvalidFilter(message)) => {
                assert!(message.contains("order_by"), "{message}")
            }
            other => panic!("order_by {bad:?} gave {other:?}"),
        }
    }
}
