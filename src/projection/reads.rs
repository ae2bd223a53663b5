//! Every read of the statistics, answered from a [`Projection`] at a given
//! "now". docs/STATISTICS.md states each rule; the tests state them again.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::projection::clock::{days_before, hours_before};
use crate::projection::dto::{
    CircuitBreakerInfo, CircuitBreakerSummary, CleanupStats, DomainDistribution, EntryDetail,
    EntrySummary, FailureTypeDistribution, PaginatedResult, RecentActivity, StatusCounts,
};
use crate::projection::repository::{
    DEFAULT_SLA_STATUSES, EntryListQuery, PAGE_SIZE_MAX, PurgeSelection,
};
use crate::projection::state::{EntryState, Projection};
use crate::projection::status::Status;

/// The window of status counts, distributions and the average retry count.
pub(crate) const STATISTICS_WINDOW_DAYS: u32 = 30;
/// `resolved_older_than_30_days` of the cleanup stats.
pub(crate) const CLEANUP_RESOLVED_DAYS: u32 = 30;
/// `archived_older_than_90_days` of the cleanup stats.
pub(crate) const CLEANUP_ARCHIVED_DAYS: u32 = 90;

/// Python's `round(x, digits)`: the exact binary value rounded to the
/// nearest decimal, exact ties to even. Formatting with a precision does
/// exactly that; multiplying, rounding and dividing does not.
pub(crate) fn python_round(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}").parse().unwrap_or(x)
}

/// `count / total * 100` rounded to 2 decimals, in Python's order of
/// operations.
fn percentage(count: u64, total: u64) -> f64 {
    python_round(count as f64 / total as f64 * 100.0, 2)
}

/// The sortable columns of `list_entries`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Id,
    Domain,
    FailureType,
    Status,
    EntityType,
    EntityId,
    RetryCount,
    ErrorCode,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
}

/// The sortable columns and their names, in the reference's order.
const COLUMNS: [(&str, Column); 11] = [
    ("id", Column::Id),
    ("domain", Column::Domain),
    ("failure_type", Column::FailureType),
    ("status", Column::Status),
    ("entity_type", Column::EntityType),
    ("entity_id", Column::EntityId),
    ("retry_count", Column::RetryCount),
    ("error_code", Column::ErrorCode),
    ("created_at", Column::CreatedAt),
    ("updated_at", Column::UpdatedAt),
    ("resolved_at", Column::ResolvedAt),
];

/// The columns `order_by` may name, in the reference's order.
pub const ORDER_BY_COLUMNS: [&str; 11] = {
    let mut names = [""; 11];
    let mut at = 0;
    while at < COLUMNS.len() {
        names[at] = COLUMNS[at].0;
        at += 1;
    }
    names
};

/// `column` or `-column`; anything else is an error.
fn parse_order_by(order_by: &str) -> Result<(Column, bool)> {
    let (descending, name) = match order_by.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, order_by),
    };
    COLUMNS
        .iter()
        .find(|(column, _)| *column == name)
        .map(|&(_, column)| (column, descending))
        .ok_or_else(|| {
            Error::InvalidFilter(format!(
                "order_by {order_by:?} names no sortable column; use one of {} \
                 (a leading '-' sorts descending)",
                ORDER_BY_COLUMNS.join(", ")
            ))
        })
}

/// Ascending order on one column; `None` sorts first.
fn compare(a: &EntryState, b: &EntryState, column: Column) -> Ordering {
    match column {
        Column::Id => a.id.cmp(&b.id),
        Column::Domain => a.domain.cmp(&b.domain),
        Column::FailureType => a.failure_type.cmp(&b.failure_type),
        Column::Status => a.status.as_str().cmp(b.status.as_str()),
        Column::EntityType => a.entity_type.cmp(&b.entity_type),
        Column::EntityId => a.entity_id.cmp(&b.entity_id),
        Column::RetryCount => a.retry_count.cmp(&b.retry_count),
        Column::ErrorCode => a.error_code.cmp(&b.error_code),
        Column::CreatedAt => a.created_at.cmp(&b.created_at),
        Column::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        Column::ResolvedAt => a.resolved_at.cmp(&b.resolved_at),
    }
}

fn summary_of(entry: &EntryState) -> EntrySummary {
    EntrySummary {
        id: entry.id.to_string(),
        domain: entry.domain.to_string(),
        failure_type: entry.failure_type.to_string(),
        status: entry.status.as_str().to_string(),
        entity_type: entry.entity_type.as_deref().map(String::from),
        entity_id: entry.entity_id.as_deref().map(String::from),
        retry_count: entry.retry_count,
        error_code: entry.error_code.to_string(),
        created_at: entry.created_at,
        updated_at: entry.updated_at,
        resolved_at: entry.resolved_at,
    }
}

/// Fills `detail`'s error message, snapshot data and metadata by folding
/// the entry's own events (`events`, read back from `journal`) into a
/// projection that keeps bodies: the statistics keep per-entry state only,
/// and an entry's state depends on its own events only.
pub(crate) fn with_bodies<J: crate::journal::EventJournal + ?Sized>(
    journal: &J,
    mut detail: EntryDetail,
    events: &[u64],
) -> Result<EntryDetail> {
    let mut own = Projection::with_bodies();
    for &sequence in events {
        // A record the journal no longer holds (a bounded MemoryJournal
        // evicts) is left out, as in the audit trail.
        if let Some(record) = crate::journal::entry_at(journal, sequence)? {
            own.apply(&crate::projection::state::Record::of(&record));
        }
    }
    if let Some(entry) = own.get(&detail.id) {
        detail.error_message = entry.error_message.to_string();
        detail.snapshot_data = json_or_empty_object(entry.snapshot_data.as_deref());
        detail.metadata = json_or_empty_object(entry.metadata.as_deref());
    }
    Ok(detail)
}

fn json_or_empty_object(raw: Option<&str>) -> serde_json::Value {
    raw.and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_else(|| serde_json::Value::Object(Default::default()))
}

/// Treats `Some("")` as not given, as the reference does.
fn given(filter: &Option<String>) -> Option<&str> {
    filter.as_deref().filter(|text| !text.is_empty())
}

impl Projection {
    /// Live entries created at or after `cutoff`.
    fn created_since(&self, cutoff: Timestamp) -> impl Iterator<Item = &EntryState> {
        self.live().filter(move |entry| entry.created_at >= cutoff)
    }

    pub(crate) fn status_counts(&self, now: Timestamp) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for entry in self.created_since(days_before(now, STATISTICS_WINDOW_DAYS)) {
            counts.total += 1;
            let field = match entry.status {
                Status::Pending => &mut counts.pending,
                Status::Resolved => &mut counts.resolved,
                Status::Archived => &mut counts.archived,
                Status::Reviewing => &mut counts.reviewing,
                Status::Replayed => &mut counts.replayed,
                Status::RequiresReview => &mut counts.requires_review,
                Status::Rejected => &mut counts.rejected,
                Status::Expired => &mut counts.expired,
                Status::Other(ref text) if &**text == "failed" => &mut counts.failed,
                Status::Replaying | Status::PermanentlyFailed | Status::Other(_) => continue,
            };
            *field += 1;
        }
        counts
    }

    /// Entries created in the 30-day window, by every status name present.
    pub(crate) fn status_breakdown(&self, now: Timestamp) -> BTreeMap<String, u64> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for entry in self.created_since(days_before(now, STATISTICS_WINDOW_DAYS)) {
            *counts.entry(entry.status.as_str().to_string()).or_default() += 1;
        }
        counts
    }

    /// `(name, count, percentage)` of the top `limit` groups in the 30-day
    /// window, by count descending then name ascending.
    fn distribution(
        &self,
        now: Timestamp,
        limit: usize,
        key: impl Fn(&EntryState) -> &Arc<str>,
    ) -> Vec<(String, u64, f64)> {
        let mut counts: HashMap<&Arc<str>, u64> = HashMap::new();
        let mut total = 0u64;
        for entry in self.created_since(days_before(now, STATISTICS_WINDOW_DAYS)) {
            total += 1;
            *counts.entry(key(entry)).or_default() += 1;
        }
        let mut groups: Vec<(&Arc<str>, u64)> = counts.into_iter().collect();
        groups.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        groups
            .into_iter()
            .take(limit)
            .map(|(name, count)| (name.to_string(), count, percentage(count, total)))
            .collect()
    }

    pub(crate) fn domain_distribution(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Vec<DomainDistribution> {
        self.distribution(now, limit, |entry| &entry.domain)
            .into_iter()
            .map(|(domain, count, percentage)| DomainDistribution {
                domain,
                count,
                percentage,
            })
            .collect()
    }

    pub(crate) fn failure_type_distribution(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Vec<FailureTypeDistribution> {
        self.distribution(now, limit, |entry| &entry.failure_type)
            .into_iter()
            .map(
                |(failure_type, count, percentage)| FailureTypeDistribution {
                    failure_type,
                    count,
                    percentage,
                },
            )
            .collect()
    }

    pub(crate) fn recent_activity(&self, now: Timestamp, hours: u32, days: u32) -> RecentActivity {
        let hours_cutoff = hours_before(now, hours);
        let days_cutoff = days_before(now, days);
        let previous_cutoff = days_before(days_cutoff, days);
        let mut activity = RecentActivity::default();
        let mut previous = 0u64;
        for entry in self.live() {
            let created = entry.created_at;
            activity.new_in_24h += u64::from(created >= hours_cutoff);
            activity.new_in_7d += u64::from(created >= days_cutoff);
            previous += u64::from(created >= previous_cutoff && created < days_cutoff);
            if let Some(resolved) = entry.resolved_at.filter(|_| entry.counts_as_resolved()) {
                activity.resolved_in_24h += u64::from(resolved >= hours_cutoff);
                activity.resolved_in_7d += u64::from(resolved >= days_cutoff);
            }
        }
        // Binary64 products, as Python computes them.
        let recent = activity.new_in_7d as f64;
        activity.trend = if recent > previous as f64 * 1.1 {
            "up"
        } else if recent < previous as f64 * 0.9 {
            "down"
        } else {
            "stable"
        }
        .into();
        activity
    }

    pub(crate) fn resolution_rate(&self, now: Timestamp, days: u32) -> f64 {
        let (mut total, mut resolved) = (0u64, 0u64);
        for entry in self.created_since(days_before(now, days)) {
            total += 1;
            resolved += u64::from(entry.counts_as_resolved());
        }
        if total == 0 {
            return 0.0;
        }
        python_round(resolved as f64 / total as f64, 4)
    }

    pub(crate) fn avg_retry_count(&self, now: Timestamp) -> f64 {
        let (mut count, mut sum) = (0u64, 0i128);
        for entry in self.created_since(days_before(now, STATISTICS_WINDOW_DAYS)) {
            count += 1;
            sum += i128::from(entry.retry_count);
        }
        if count == 0 {
            return 0.0;
        }
        python_round(sum as f64 / count as f64, 2)
    }

    pub(crate) fn list_entries(
        &self,
        query: &EntryListQuery,
    ) -> Result<PaginatedResult<EntrySummary>> {
        if query.page == 0 {
            return Err(Error::InvalidOption(
                "page counts from 1; page 0 does not exist".into(),
            ));
        }
        if query.page_size == 0 || query.page_size > PAGE_SIZE_MAX {
            return Err(Error::InvalidOption(format!(
                "page_size must be 1 to {PAGE_SIZE_MAX}, got {}",
                query.page_size
            )));
        }
        let (column, descending) = parse_order_by(&query.order_by)?;
        let (status, domain, failure_type) = (
            given(&query.status),
            given(&query.domain),
            given(&query.failure_type),
        );
        let mut matches: Vec<&EntryState> = self
            .live()
            .filter(|e| status.is_none_or(|s| e.status.as_str() == s))
            .filter(|e| domain.is_none_or(|d| &*e.domain == d))
            .filter(|e| failure_type.is_none_or(|f| &*e.failure_type == f))
            .collect();
        matches.sort_unstable_by(|a, b| {
            let ascending = compare(a, b, column).then(a.first_sequence.cmp(&b.first_sequence));
            if descending {
                ascending.reverse()
            } else {
                ascending
            }
        });
        let total = matches.len() as u64;
        let offset = (query.page - 1).saturating_mul(query.page_size);
        let items = matches
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.page_size).unwrap_or(usize::MAX))
            .map(summary_of)
            .collect();
        Ok(PaginatedResult {
            items,
            total,
            page: query.page,
            page_size: query.page_size,
            has_next: offset.saturating_add(query.page_size) < total,
            has_prev: query.page > 1,
        })
    }

    /// The detail of an entry from this projection's state, with the
    /// sequences of its events (to read its bodies back with
    /// [`with_bodies`]: the statistics' own fold keeps none).
    pub(crate) fn entry_detail_and_events(
        &self,
        entry_id: &str,
    ) -> Option<(EntryDetail, Vec<u64>)> {
        let detail = self.entry_detail(entry_id)?;
        let events = self.get(entry_id).map(|entry| entry.events.clone());
        Some((detail, events.unwrap_or_default()))
    }

    pub(crate) fn entry_detail(&self, entry_id: &str) -> Option<EntryDetail> {
        let entry = self.get(entry_id).filter(|entry| !entry.purged)?;
        Some(EntryDetail {
            id: entry.id.to_string(),
            domain: entry.domain.to_string(),
            failure_type: entry.failure_type.to_string(),
            status: entry.status.as_str().to_string(),
            entity_type: entry.entity_type.as_deref().map(String::from),
            entity_id: entry.entity_id.as_deref().map(String::from),
            user_id: entry.user_id,
            retry_count: entry.retry_count,
            max_retries: entry.max_retries,
            error_code: entry.error_code.to_string(),
            last_retry_at: entry.last_retry_at,
            resolved_at: entry.resolved_at,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
            expires_at: entry.expires_at,
            error_message: entry.error_message.to_string(),
            snapshot_data: json_or_empty_object(entry.snapshot_data.as_deref()),
            metadata: json_or_empty_object(entry.metadata.as_deref()),
        })
    }

    pub(crate) fn sla_breaches(
        &self,
        now: Timestamp,
        threshold_hours: u32,
        statuses: Option<&[&str]>,
    ) -> BTreeMap<String, u64> {
        let statuses = statuses.unwrap_or(&DEFAULT_SLA_STATUSES);
        let cutoff = hours_before(now, threshold_hours);
        let mut breaches = BTreeMap::new();
        for entry in self.live() {
            if entry.created_at < cutoff && statuses.contains(&entry.status.as_str()) {
                *breaches.entry(entry.domain.to_string()).or_default() += 1;
            }
        }
        breaches
    }

    pub(crate) fn cleanup_stats(&self, now: Timestamp) -> CleanupStats {
        let resolved_cutoff = days_before(now, CLEANUP_RESOLVED_DAYS);
        let archived_cutoff = days_before(now, CLEANUP_ARCHIVED_DAYS);
        let mut stats = CleanupStats::default();
        for entry in self.live() {
            stats.total += 1;
            *stats
                .by_status
                .entry(entry.status.as_str().to_string())
                .or_default() += 1;
            match entry.status {
                Status::Resolved if entry.resolved_at.is_some_and(|at| at < resolved_cutoff) => {
                    stats.resolved_older_than_30_days += 1;
                }
                Status::Archived if entry.updated_at < archived_cutoff => {
                    stats.archived_older_than_90_days += 1;
                }
                _ => {}
            }
        }
        stats
    }

    /// Ids `archive_old_entries(days)` archives: `resolved` with
    /// `resolved_at` before `now - days`, in creation order.
    pub(crate) fn archive_candidates(&self, now: Timestamp, days: u32) -> Vec<Arc<str>> {
        let cutoff = days_before(now, days);
        self.live()
            .filter(|e| e.status == Status::Resolved && e.resolved_at.is_some_and(|at| at < cutoff))
            .map(|e| e.id.clone())
            .collect()
    }

    /// Ids `purge_archived(selection)` purges, in creation order.
    pub(crate) fn purge_candidates(
        &self,
        now: Timestamp,
        selection: &PurgeSelection,
    ) -> Vec<Arc<str>> {
        let (ids, older_than_days) = selection.parts();
        let cutoff = older_than_days.map(|days| days_before(now, days));
        let is_selected = |entry: &&EntryState| {
            entry.status == Status::Archived
                && cutoff.is_none_or(|cutoff| entry.updated_at < cutoff)
        };
        match ids {
            None => self
                .live()
                .filter(is_selected)
                .map(|e| e.id.clone())
                .collect(),
            Some(ids) => {
                let mut chosen: Vec<&EntryState> = ids
                    .iter()
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .filter_map(|id| self.get(id))
                    .filter(|e| !e.purged)
                    .filter(is_selected)
                    .collect();
                chosen.sort_unstable_by_key(|e| e.first_sequence);
                chosen.into_iter().map(|e| e.id.clone()).collect()
            }
        }
    }

    pub(crate) fn circuit_breaker_summary(&self) -> CircuitBreakerSummary {
        let mut summary = CircuitBreakerSummary::default();
        for breaker in self.breakers.values() {
            summary.total += 1;
            match breaker.state {
                "closed" => summary.closed += 1,
                "open" => summary.open += 1,
                "half_open" => summary.half_open += 1,
                _ => {}
            }
        }
        summary
    }

    pub(crate) fn list_circuit_breakers(&self) -> Vec<CircuitBreakerInfo> {
        self.breakers
            .iter()
            .map(|(name, breaker)| CircuitBreakerInfo {
                service_name: name.to_string(),
                state: breaker.state.to_string(),
                failure_count: breaker.failure_count,
                success_count: breaker.success_count,
                last_failure_time: breaker.last_failure_time,
                last_state_change: breaker.last_state_change,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_pythons() {
        assert_eq!(python_round(3.125, 2), 3.12);
        assert_eq!(python_round(2.675, 2), 2.67);
        assert_eq!(python_round(0.375, 2), 0.38);
        assert_eq!(python_round(1.0 / 3.0 * 100.0, 2), 33.33);
        assert_eq!(python_round(2.0 / 3.0, 4), 0.6667);
        assert_eq!(python_round(1.0 / 32.0, 4), 0.0312);
        assert_eq!(percentage(1, 32), 3.12);
    }

    #[test]
    fn order_by_takes_a_column_and_one_optional_minus() {
        assert_eq!(
            parse_order_by("-created_at").unwrap(),
            (Column::CreatedAt, true)
        );
        assert_eq!(parse_order_by("id").unwrap(), (Column::Id, false));
        for bad in ["--updated_at", "", "-", "bogus", "created_at ", "data"] {
            assert!(parse_order_by(bad).is_err(), "{bad:?}");
        }
    }
}
