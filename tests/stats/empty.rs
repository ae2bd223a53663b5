//! An empty journal answers every read with zeros and empty lists (never an
//! error), as does `NullStatistics`; the difference is that writes through
//! `NullStatistics` record nothing.

use std::collections::BTreeMap;

use crate::common::Fixture;
use baldur_journal::projection::{
    AuditLink, CircuitBreakerSummary, CleanupStats, EntityAuditTrail, EntryListQuery,
    NullStatistics, PaginatedResult, PurgeSelection, RecentActivity, StatisticsRepository,
    StatusCounts,
};
use serde_json::{Map, json};

fn assert_empty_reads(repo: &dyn StatisticsRepository) {
    assert_eq!(repo.get_status_counts().unwrap(), StatusCounts::default());
    assert_eq!(repo.get_status_counts().unwrap().total, 0);
    assert_eq!(repo.get_domain_distribution(10).unwrap(), vec![]);
    assert_eq!(repo.get_failure_type_distribution(10).unwrap(), vec![]);
    let activity = repo.get_recent_activity(24, 7).unwrap();
    assert_eq!(activity, RecentActivity::default());
    assert_eq!(activity.trend, "stable");
    assert_eq!(repo.get_resolution_rate(30).unwrap(), 0.0);
    assert_eq!(repo.get_avg_retry_count().unwrap(), 0.0);
    let page = repo.list_entries(&EntryListQuery::default()).unwrap();
    assert_eq!(page, PaginatedResult::empty(1, 20));
    assert_eq!(page.total_pages(), 0);
    assert_eq!(repo.get_entry_detail("dlq-1").unwrap(), None);
    assert_eq!(repo.get_sla_breaches(4, None).unwrap(), BTreeMap::new());
    let cleanup = repo.get_cleanup_stats().unwrap();
    assert_eq!(cleanup, CleanupStats::default());
    assert_eq!((cleanup.can_archive(), cleanup.can_purge()), (0, 0));
    assert_eq!(
        repo.get_circuit_breaker_summary().unwrap(),
        CircuitBreakerSummary::default()
    );
    assert_eq!(repo.list_circuit_breakers().unwrap(), vec![]);
    let trail = repo
        .get_audit_trail_by_entity("dlq-1", "dlq_entry")
        .unwrap();
    // Journal-backed repositories recomputed (nothing); NullStatistics did not.
    let unknown = EntityAuditTrail {
        hashes_recomputed: trail.hashes_recomputed,
        ..EntityAuditTrail::unknown("dlq-1", "dlq_entry")
    };
    assert_eq!(trail, unknown);
    assert_eq!(trail.domain, "unknown");
    assert_eq!(trail.current_status, "unknown");
    assert_eq!(trail.total_entries(), 0);
    assert!(trail.is_chain_valid());
}

#[test]
fn an_empty_journal_answers_zeros_and_empty_lists() {
    let fixture = Fixture::new();
    assert_empty_reads(&fixture.stats);
    // Writes on nothing change nothing.
    assert_eq!(fixture.stats.archive_old_entries(30).unwrap(), 0);
    assert_eq!(
        fixture
            .stats
            .purge_archived(&PurgeSelection::OlderThanDays(0))
            .unwrap(),
        0
    );
    assert!(
        !fixture
            .stats
            .link_audit_entry(&AuditLink::new("dlq-1", "replay"))
            .unwrap()
    );
    assert_eq!(fixture.latest(), 0);
    assert_eq!(fixture.stats.refresh().unwrap().records, 0);
}

#[test]
fn null_statistics_answers_the_same_and_records_nothing() {
    let null = NullStatistics;
    assert_empty_reads(&null);
    let query = EntryListQuery {
        page: 0,
        page_size: 0,
        ..Default::default()
    };
    // Echoes the page and page size, even ones a real repository refuses.
    assert_eq!(
        null.list_entries(&query).unwrap(),
        PaginatedResult::empty(0, 0)
    );
    let mut entry = Map::new();
    entry.insert("id".into(), json!("dlq-1"));
    assert_eq!(null.persist_entry(&entry).unwrap(), None);
    assert_eq!(null.sync_from_runtime(&[entry]).unwrap(), 0);
    assert!(
        !null
            .link_audit_entry(&AuditLink::new("dlq-1", "replay"))
            .unwrap()
    );
    assert_eq!(null.archive_old_entries(30).unwrap(), 0);
    assert_eq!(
        null.purge_archived(&PurgeSelection::Ids(vec!["dlq-1".into()]))
            .unwrap(),
        0
    );
    assert!(!null.should_persist_async());
    assert_eq!(null.get_async_persist_task_name(), None);
}
