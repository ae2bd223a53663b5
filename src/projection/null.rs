//! `NullStatistics`: the reference's default repository, empty answers.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::projection::dto::{
    CircuitBreakerInfo, CircuitBreakerSummary, CleanupStats, DomainDistribution, EntityAuditTrail,
    EntryDetail, EntrySummary, FailureTypeDistribution, PaginatedResult, RecentActivity,
    StatusCounts,
};
use crate::projection::events::AuditLink;
use crate::projection::repository::{EntryListQuery, PurgeSelection, StatisticsRepository};

/// A repository with no data: default DTOs, empty lists and maps, zeros,
/// `None` and `false`, and never an error. `list_entries` echoes the page
/// and page size; a trail has domain and status `unknown`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullStatistics;

impl StatisticsRepository for NullStatistics {
    fn get_status_counts(&self) -> Result<StatusCounts> {
        Ok(StatusCounts::default())
    }

    fn get_domain_distribution(&self, _limit: usize) -> Result<Vec<DomainDistribution>> {
        Ok(Vec::new())
    }

    fn get_failure_type_distribution(&self, _limit: usize) -> Result<Vec<FailureTypeDistribution>> {
        Ok(Vec::new())
    }

    fn get_recent_activity(&self, _hours: u32, _days: u32) -> Result<RecentActivity> {
        Ok(RecentActivity::default())
    }

    fn get_resolution_rate(&self, _days: u32) -> Result<f64> {
        Ok(0.0)
    }

    fn get_avg_retry_count(&self) -> Result<f64> {
        Ok(0.0)
    }

    fn list_entries(&self, query: &EntryListQuery) -> Result<PaginatedResult<EntrySummary>> {
        Ok(PaginatedResult::empty(query.page, query.page_size))
    }

    fn get_entry_detail(&self, _entry_id: &str) -> Result<Option<EntryDetail>> {
        Ok(None)
    }

    fn get_sla_breaches(
        &self,
        _sla_threshold_hours: u32,
        _statuses: Option<&[&str]>,
    ) -> Result<BTreeMap<String, u64>> {
        Ok(BTreeMap::new())
    }

    fn get_cleanup_stats(&self) -> Result<CleanupStats> {
        Ok(CleanupStats::default())
    }

    fn archive_old_entries(&self, _older_than_days: u32) -> Result<u64> {
        Ok(0)
    }

    fn purge_archived(&self, _selection: &PurgeSelection) -> Result<u64> {
        Ok(0)
    }

    fn get_circuit_breaker_summary(&self) -> Result<CircuitBreakerSummary> {
        Ok(CircuitBreakerSummary::default())
    }

    fn list_circuit_breakers(&self) -> Result<Vec<CircuitBreakerInfo>> {
        Ok(Vec::new())
    }

    fn persist_entry(&self, _entry_data: &Map<String, Value>) -> Result<Option<String>> {
        Ok(None)
    }

    fn sync_from_runtime(&self, _entries: &[Map<String, Value>]) -> Result<u64> {
        Ok(0)
    }

    fn get_audit_trail_by_entity(
        &self,
        entity_id: &str,
        entity_type: &str,
    ) -> Result<EntityAuditTrail> {
        Ok(EntityAuditTrail::unknown(entity_id, entity_type))
    }

    fn link_audit_entry(&self, _link: &AuditLink) -> Result<bool> {
        Ok(false)
    }

    fn should_persist_async(&self) -> bool {
        false
    }

    fn get_async_persist_task_name(&self) -> Option<String> {
        None
    }
}
