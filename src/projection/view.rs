//! `StatisticsView`: the statistics as of a point in the journal's past.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::journal::EventJournal;
use crate::projection::audit::AuditKeyring;
use crate::projection::dto::{
    CircuitBreakerInfo, CircuitBreakerSummary, CleanupStats, DomainDistribution, EntityAuditTrail,
    EntryDetail, EntrySummary, FailureTypeDistribution, PaginatedResult, RecentActivity,
    StatusCounts,
};
use crate::projection::events::AuditLink;
use crate::projection::repository::{EntryListQuery, PurgeSelection, StatisticsRepository};
use crate::projection::state::{FoldSummary, Projection};
use crate::projection::timeline::{self, DomainFailureCount};
use crate::projection::trail;

/// The statistics folded up to a past point (from
/// [`JournalStatistics::as_of_sequence`] or
/// [`JournalStatistics::as_of_time`]), answering at a fixed "now".
///
/// It answers every read of [`StatisticsRepository`]; the past cannot be
/// written, so its writes return [`Error::ReadOnly`].
///
/// [`JournalStatistics::as_of_sequence`]: crate::projection::JournalStatistics::as_of_sequence
/// [`JournalStatistics::as_of_time`]: crate::projection::JournalStatistics::as_of_time
pub struct StatisticsView<J: ?Sized + 'static = dyn EventJournal> {
    journal: Arc<J>,
    projection: Projection,
    now: Timestamp,
    keys: AuditKeyring,
}

impl<J: EventJournal + ?Sized + 'static> StatisticsView<J> {
    pub(crate) fn new(
        journal: Arc<J>,
        projection: Projection,
        now: Timestamp,
        keys: AuditKeyring,
    ) -> Self {
        StatisticsView {
            journal,
            projection,
            now,
            keys,
        }
    }

    /// The "now" its windows are measured from.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The same fold, answering at another "now".
    #[must_use]
    pub fn with_now(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    /// What the fold read.
    #[must_use]
    pub fn summary(&self) -> FoldSummary {
        self.projection.summary
    }

    /// Entries not purged, by domain and failure type, counting those
    /// created in `[since, until]` (an end left open when `None`); one row
    /// per pair present, ordered by domain then failure type.
    #[must_use]
    pub fn failure_types_by_domain(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Vec<DomainFailureCount> {
        timeline::failure_types_by_domain(&self.projection, since, until)
    }
}

impl<J: EventJournal + ?Sized + 'static> StatisticsRepository for StatisticsView<J> {
    fn get_status_counts(&self) -> Result<StatusCounts> {
        Ok(self.projection.status_counts(self.now))
    }

    fn get_status_breakdown(&self) -> Result<BTreeMap<String, u64>> {
        Ok(self.projection.status_breakdown(self.now))
    }

    fn get_domain_distribution(&self, limit: usize) -> Result<Vec<DomainDistribution>> {
        Ok(self.projection.domain_distribution(self.now, limit))
    }

    fn get_failure_type_distribution(&self, limit: usize) -> Result<Vec<FailureTypeDistribution>> {
        Ok(self.projection.failure_type_distribution(self.now, limit))
    }

    fn get_recent_activity(&self, hours: u32, days: u32) -> Result<RecentActivity> {
        Ok(self.projection.recent_activity(self.now, hours, days))
    }

    fn get_resolution_rate(&self, days: u32) -> Result<f64> {
        Ok(self.projection.resolution_rate(self.now, days))
    }

    fn get_avg_retry_count(&self) -> Result<f64> {
        Ok(self.projection.avg_retry_count(self.now))
    }

    fn list_entries(&self, query: &EntryListQuery) -> Result<PaginatedResult<EntrySummary>> {
        self.projection.list_entries(query)
    }

    fn get_entry_detail(&self, entry_id: &str) -> Result<Option<EntryDetail>> {
        let Some((detail, events)) = self.projection.entry_detail_and_events(entry_id) else {
            return Ok(None);
        };
        crate::projection::reads::with_bodies(&*self.journal, detail, &events).map(Some)
    }

    fn get_sla_breaches(
        &self,
        sla_threshold_hours: u32,
        statuses: Option<&[&str]>,
    ) -> Result<BTreeMap<String, u64>> {
        Ok(self
            .projection
            .sla_breaches(self.now, sla_threshold_hours, statuses))
    }

    fn get_cleanup_stats(&self) -> Result<CleanupStats> {
        Ok(self.projection.cleanup_stats(self.now))
    }

    fn archive_old_entries(&self, _older_than_days: u32) -> Result<u64> {
        Err(Error::ReadOnly)
    }

    fn purge_archived(&self, _selection: &PurgeSelection) -> Result<u64> {
        Err(Error::ReadOnly)
    }

    fn get_circuit_breaker_summary(&self) -> Result<CircuitBreakerSummary> {
        Ok(self.projection.circuit_breaker_summary())
    }

    fn list_circuit_breakers(&self) -> Result<Vec<CircuitBreakerInfo>> {
        Ok(self.projection.list_circuit_breakers())
    }

    fn persist_entry(&self, _entry_data: &Map<String, Value>) -> Result<Option<String>> {
        Err(Error::ReadOnly)
    }

    fn sync_from_runtime(&self, _entries: &[Map<String, Value>]) -> Result<u64> {
        Err(Error::ReadOnly)
    }

    fn get_audit_trail_by_entity(
        &self,
        entity_id: &str,
        entity_type: &str,
    ) -> Result<EntityAuditTrail> {
        trail::audit_trail(
            &self.projection,
            &*self.journal,
            entity_id,
            entity_type,
            &self.keys,
        )
    }

    fn link_audit_entry(&self, _link: &AuditLink) -> Result<bool> {
        Err(Error::ReadOnly)
    }

    fn should_persist_async(&self) -> bool {
        false
    }

    fn get_async_persist_task_name(&self) -> Option<String> {
        None
    }
}
