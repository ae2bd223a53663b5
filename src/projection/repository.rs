//! The seed's `StatisticsRepositoryInterface` as a Rust trait, with the
//! argument types its methods take.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::projection::dto::{
    CircuitBreakerInfo, CircuitBreakerSummary, CleanupStats, DomainDistribution, EntityAuditTrail,
    EntryDetail, EntrySummary, FailureTypeDistribution, PaginatedResult, RecentActivity,
    StatusCounts,
};
use crate::projection::events::AuditLink;
use crate::projection::status;

/// The seed's default `limit` of the distributions.
pub const DEFAULT_DISTRIBUTION_LIMIT: usize = 10;
/// The seed's default `hours` of `get_recent_activity`.
pub const DEFAULT_RECENT_HOURS: u32 = 24;
/// The seed's default `days` of `get_recent_activity`.
pub const DEFAULT_RECENT_DAYS: u32 = 7;
/// The seed's default `days` of `get_resolution_rate`.
pub const DEFAULT_RESOLUTION_DAYS: u32 = 30;
/// The seed's default `sla_threshold_hours`.
pub const DEFAULT_SLA_THRESHOLD_HOURS: u32 = 4;
/// The statuses `get_sla_breaches` checks when given none.
pub const DEFAULT_SLA_STATUSES: [&str; 3] =
    [status::PENDING, status::REVIEWING, status::REQUIRES_REVIEW];
/// The seed's default `older_than_days` of `archive_old_entries`.
pub const DEFAULT_ARCHIVE_DAYS: u32 = 30;
/// The seed's default page size.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page `list_entries` returns.
pub const PAGE_SIZE_MAX: u64 = 10_000;
/// The seed's default `order_by`.
pub const DEFAULT_ORDER_BY: &str = "-created_at";

/// The arguments of `list_entries`, with the seed's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryListQuery {
    /// The page, from 1 (0 is an error).
    pub page: u64,
    /// Items per page, 1 to [`PAGE_SIZE_MAX`] (default 20).
    pub page_size: u64,
    /// Only this status (`Some("")` counts as not given).
    pub status: Option<String>,
    /// Only this domain (`Some("")` counts as not given).
    pub domain: Option<String>,
    /// Only this failure type (`Some("")` counts as not given).
    pub failure_type: Option<String>,
    /// A column of [`ORDER_BY_COLUMNS`](crate::projection::ORDER_BY_COLUMNS),
    /// with a leading `-` for descending (default `-created_at`). Ties are
    /// broken by the sequence that created the entry, in the same
    /// direction. Any other text is an error.
    pub order_by: String,
}

impl Default for EntryListQuery {
    fn default() -> Self {
        EntryListQuery {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            status: None,
            domain: None,
            failure_type: None,
            order_by: DEFAULT_ORDER_BY.into(),
        }
    }
}

/// What `purge_archived` purges. Only `archived` entries are ever purged;
/// other ids are skipped. "Neither ids nor an age" has no variant: the
/// reference purged every archived entry then, and we refuse that default
/// (see [`PurgeSelection::from_options`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurgeSelection {
    /// These archived ids (an empty list purges nothing).
    Ids(Vec<String>),
    /// Archived entries whose `updated_at` is more than this many days ago
    /// (0: archived before now).
    OlderThanDays(u32),
    /// Both conditions: these ids, when archived that long ago.
    IdsOlderThanDays {
        /// The ids.
        ids: Vec<String>,
        /// The age in days.
        older_than_days: u32,
    },
}

impl PurgeSelection {
    /// The selection from the seed's two optional arguments. An empty `ids`
    /// counts as not given, as in the reference; neither given is an
    /// [`Error::InvalidOption`] (the reference purged everything).
    pub fn from_options(ids: Option<Vec<String>>, older_than_days: Option<u32>) -> Result<Self> {
        match (ids.filter(|ids| !ids.is_empty()), older_than_days) {
            (Some(ids), None) => Ok(PurgeSelection::Ids(ids)),
            (None, Some(days)) => Ok(PurgeSelection::OlderThanDays(days)),
            (Some(ids), Some(older_than_days)) => Ok(PurgeSelection::IdsOlderThanDays {
                ids,
                older_than_days,
            }),
            (None, None) => Err(Error::InvalidOption(
                "purge_archived needs ids, an age in days, or both; it never purges \
                 every archived entry by default"
                    .into(),
            )),
        }
    }

    pub(crate) fn parts(&self) -> (Option<&[String]>, Option<u32>) {
        match self {
            PurgeSelection::Ids(ids) => (Some(ids), None),
            PurgeSelection::OlderThanDays(days) => (None, Some(*days)),
            PurgeSelection::IdsOlderThanDays {
                ids,
                older_than_days,
            } => (Some(ids), Some(*older_than_days)),
        }
    }
}

/// The seed's statistics repository: dashboard reads of the DLQ, the
/// cleanup, the statistics mirror's writes, and audit trails.
///
/// Unlike the reference, which answered every failure with empty data,
/// methods return `Err` when they cannot answer. docs/STATISTICS.md states
/// every rule, method by method.
pub trait StatisticsRepository: Send + Sync {
    /// Entries by status, created in the last 30 days.
    fn get_status_counts(&self) -> Result<StatusCounts>;

    /// Entries created in the last 30 days, by every status name present
    /// (`replaying`, `permanently_failed` and unknown statuses included,
    /// which [`StatusCounts`] has no field for). Not a seed method; by
    /// default the non-zero fields of [`get_status_counts`](Self::get_status_counts).
    fn get_status_breakdown(&self) -> Result<BTreeMap<String, u64>> {
        let c = self.get_status_counts()?;
        let named = [
            (status::PENDING, c.pending),
            (status::REVIEWING, c.reviewing),
            (status::REQUIRES_REVIEW, c.requires_review),
            (status::REPLAYED, c.replayed),
            (status::RESOLVED, c.resolved),
            (status::REJECTED, c.rejected),
            (status::EXPIRED, c.expired),
            (status::ARCHIVED, c.archived),
            ("failed", c.failed),
        ];
        Ok(named
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| (name.to_string(), n))
            .collect())
    }

    /// The top `limit` domains of the entries created in the last 30 days,
    /// by count descending (ties by name).
    fn get_domain_distribution(&self, limit: usize) -> Result<Vec<DomainDistribution>>;

    /// The top `limit` failure types of the entries created in the last 30
    /// days, by count descending (ties by name).
    fn get_failure_type_distribution(&self, limit: usize) -> Result<Vec<FailureTypeDistribution>>;

    /// Entries created and resolved in the last `hours` and `days`, and the
    /// trend of the last `days` against the `days` before.
    fn get_recent_activity(&self, hours: u32, days: u32) -> Result<RecentActivity>;

    /// The share of the entries created in the last `days` that were
    /// resolved, rounded to 4 decimals.
    fn get_resolution_rate(&self, days: u32) -> Result<f64>;

    /// The mean `retry_count` of the entries created in the last 30 days,
    /// rounded to 2 decimals.
    fn get_avg_retry_count(&self) -> Result<f64>;

    /// One page of entries, filtered and ordered.
    fn list_entries(&self, query: &EntryListQuery) -> Result<PaginatedResult<EntrySummary>>;

    /// One entry, or `None` when there is none with that id (or it was
    /// purged).
    fn get_entry_detail(&self, entry_id: &str) -> Result<Option<EntryDetail>>;

    /// Entries in one of `statuses` (default pending, reviewing,
    /// requires_review) created more than `sla_threshold_hours` ago, by
    /// domain.
    fn get_sla_breaches(
        &self,
        sla_threshold_hours: u32,
        statuses: Option<&[&str]>,
    ) -> Result<BTreeMap<String, u64>>;

    /// What the cleanup could do.
    fn get_cleanup_stats(&self) -> Result<CleanupStats>;

    /// Archives the `resolved` entries resolved more than `older_than_days`
    /// ago; returns how many.
    fn archive_old_entries(&self, older_than_days: u32) -> Result<u64>;

    /// Purges the archived entries the selection names; returns how many.
    fn purge_archived(&self, selection: &PurgeSelection) -> Result<u64>;

    /// Circuit breakers by state.
    fn get_circuit_breaker_summary(&self) -> Result<CircuitBreakerSummary>;

    /// Every circuit breaker, by service name.
    fn list_circuit_breakers(&self) -> Result<Vec<CircuitBreakerInfo>>;

    /// Records a snapshot of an entry from the runtime repository. Returns
    /// the entry's id as text, or `None` when `entry_data` has no `id`;
    /// the id also when the terminal-status guard refuses the snapshot (the
    /// refusal shows in the entity's audit trail).
    fn persist_entry(&self, entry_data: &Map<String, Value>) -> Result<Option<String>>;

    /// Persists each entry; returns how many had an id.
    fn sync_from_runtime(&self, entries: &[Map<String, Value>]) -> Result<u64>;

    /// Every action on an entity, oldest first.
    fn get_audit_trail_by_entity(
        &self,
        entity_id: &str,
        entity_type: &str,
    ) -> Result<EntityAuditTrail>;

    /// Links an audit record to a DLQ entry; false when the entity is not a
    /// known, unpurged `dlq_entry`.
    fn link_audit_entry(&self, link: &AuditLink) -> Result<bool>;

    /// True when `persist_entry` only queues the snapshot.
    fn should_persist_async(&self) -> bool;

    /// The name of the asynchronous persister, when there is one.
    fn get_async_persist_task_name(&self) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purging_needs_ids_or_an_age() {
        assert!(PurgeSelection::from_options(None, None).is_err());
        assert!(PurgeSelection::from_options(Some(vec![]), None).is_err());
        assert_eq!(
            PurgeSelection::from_options(Some(vec![]), Some(0)).unwrap(),
            PurgeSelection::OlderThanDays(0)
        );
        assert_eq!(
            PurgeSelection::from_options(Some(vec!["a".into()]), Some(3)).unwrap(),
            PurgeSelection::IdsOlderThanDays {
                ids: vec!["a".into()],
                older_than_days: 3
            }
        );
    }
}
