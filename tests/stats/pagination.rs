//! `list_entries` pages: page 0 and page size 0 are errors (the reference's
//! database answered them with odd pages), a page past the end is empty,
//! and the flags and `total_pages` follow the reference's formulas.

use crate::common::{Fixture, MINUTE};
use baldur_journal::Error;
use baldur_journal::projection::{EntryListQuery, PAGE_SIZE_MAX, StatisticsRepository};

fn fixture_of_five() -> Fixture {
    let fixture = Fixture::new();
    for i in 1..=5 {
        fixture.store(&format!("e{i}"), "payments", "timeout");
        fixture.shift(MINUTE);
    }
    fixture
}

fn page(fixture: &Fixture, page: u64, page_size: u64) -> Result<Vec<String>, Error> {
    let query = EntryListQuery {
        page,
        page_size,
        order_by: "created_at".into(),
        ..Default::default()
    };
    let result = fixture.stats.list_entries(&query)?;
    assert_eq!(result.total, 5);
    assert_eq!(result.page, page);
    assert_eq!(result.page_size, page_size);
    assert_eq!(result.has_prev, page > 1);
    assert_eq!(result.total_pages(), 5u64.div_ceil(page_size));
    Ok(result.items.into_iter().map(|e| e.id).collect())
}

#[test]
fn pages_split_the_listing() {
    let fixture = fixture_of_five();
    assert_eq!(page(&fixture, 1, 2).unwrap(), ["e1", "e2"]);
    assert_eq!(page(&fixture, 2, 2).unwrap(), ["e3", "e4"]);
    assert_eq!(page(&fixture, 3, 2).unwrap(), ["e5"]);
    assert_eq!(
        page(&fixture, 1, 5).unwrap(),
        ["e1", "e2", "e3", "e4", "e5"]
    );
    let query = |page| EntryListQuery {
        page,
        page_size: 2,
        ..Default::default()
    };
    assert!(fixture.stats.list_entries(&query(2)).unwrap().has_next);
    assert!(!fixture.stats.list_entries(&query(3)).unwrap().has_next);
    let whole = EntryListQuery {
        page_size: 5,
        ..Default::default()
    };
    assert!(
        !fixture.stats.list_entries(&whole).unwrap().has_next,
        "exactly one full page"
    );
}

#[test]
fn a_page_past_the_end_is_empty() {
    let fixture = fixture_of_five();
    assert_eq!(page(&fixture, 4, 2).unwrap(), Vec::<String>::new());
    let result = fixture
        .stats
        .list_entries(&EntryListQuery {
            page: u64::MAX,
            page_size: PAGE_SIZE_MAX,
            ..Default::default()
        })
        .unwrap();
    assert!(result.items.is_empty());
    assert!(!result.has_next);
    assert!(result.has_prev);
    assert_eq!(result.total_pages(), 1);
}

#[test]
fn page_zero_and_page_size_zero_are_errors() {
    let fixture = fixture_of_five();
    assert!(matches!(page(&fixture, 0, 2), Err(Error::InvalidOption(_))));
    assert!(matches!(page(&fixture, 1, 0), Err(Error::InvalidOption(_))));
    assert!(matches!(
        page(&fixture, 1, PAGE_SIZE_MAX + 1),
        Err(Error::InvalidOption(_))
    ));
    assert_eq!(page(&fixture, 1, PAGE_SIZE_MAX).unwrap().len(), 5);
}
