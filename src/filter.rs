//! Filter semantics shared by every backend, so they cannot drift apart.
//!
//! An entry matches when every condition that is set holds: event type
//! membership (an empty list matches nothing), exact service and region,
//! `start_time <= timestamp < end_time`, and each context filter compares
//! the reference's string form of the value ([`crate::pystr`]).

use crate::entry::EntryRef;
use crate::entry::{JournalEntry, JournalQueryFilter, Timestamp};
use crate::error::{Error, Result};

/// The default cap on a query's limit.
pub const DEFAULT_MAX_QUERY_LIMIT: usize = 10_000;

/// The fields a filter looks at, whether owned or borrowed from disk.
pub trait FilterView {
    /// Event name.
    fn event_type(&self) -> &str;
    /// Service concerned.
    fn service_name(&self) -> &str;
    /// Region label.
    fn region(&self) -> &str;
    /// Event time.
    fn timestamp(&self) -> Timestamp;
    /// Context JSON text.
    fn context(&self) -> &str;
}

impl FilterView for JournalEntry {
    fn event_type(&self) -> &str {
        &self.event_type
    }
    fn service_name(&self) -> &str {
        &self.service_name
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn timestamp(&self) -> Timestamp {
        self.timestamp
    }
    fn context(&self) -> &str {
        self.context.as_str()
    }
}

impl FilterView for EntryRef<'_> {
    fn event_type(&self) -> &str {
        self.event_type
    }
    fn service_name(&self) -> &str {
        self.service_name
    }
    fn region(&self) -> &str {
        self.region
    }
    fn timestamp(&self) -> Timestamp {
        self.timestamp
    }
    fn context(&self) -> &str {
        self.context
    }
}

/// Checks a filter and returns the effective limit: `min(limit, max)`.
pub fn effective_limit(filter: &JournalQueryFilter, max_query_limit: usize) -> Result<usize> {
    if let Some(filters) = &filter.context_filters
        && filters.keys().any(|k| k.is_empty())
    {
        return Err(Error::InvalidFilter("a context filter key is empty".into()));
    }
    Ok(filter.limit.min(max_query_limit))
}

/// True when the filter can match nothing whatever the data (an empty
/// event-type list, or an empty or reversed time window).
pub fn matches_nothing(filter: &JournalQueryFilter) -> bool {
    if filter.event_types.as_ref().is_some_and(Vec::is_empty) {
        return true;
    }
    matches!((filter.start_time, filter.end_time), (Some(s), Some(e)) if e <= s)
}

/// True when the entry satisfies every condition of the filter.
pub fn matches<V: FilterView + ?Sized>(filter: &JournalQueryFilter, entry: &V) -> bool {
    if let Some(types) = &filter.event_types
        && !types.iter().any(|t| t == entry.event_type())
    {
        return false;
    }
    if let Some(service) = &filter.service_name
        && service != entry.service_name()
    {
        return false;
    }
    if let Some(region) = &filter.region
        && region != entry.region()
    {
        return false;
    }
    let ts = entry.timestamp();
    if filter.start_time.is_some_and(|start| ts < start) {
        return false;
    }
    if filter.end_time.is_some_and(|end| ts >= end) {
        return false;
    }
    if let Some(context_filters) = &filter.context_filters {
        let context = entry.context();
        for (key, wanted) in context_filters {
            if !crate::pystr::matches(context, key, wanted) {
                return false;
            }
        }
    }
    true
}

/// True when the filter sets conditions beyond event types (so a
/// per-segment event-type count cannot answer it).
#[must_use]
pub fn needs_scan_beyond_types(filter: &JournalQueryFilter) -> bool {
    filter.service_name.is_some()
        || filter.region.is_some()
        || filter.start_time.is_some()
        || filter.end_time.is_some()
        || filter
            .context_filters
            .as_ref()
            .is_some_and(|c| !c.is_empty())
}

/// Collects a query result from matches in sequence order, stopping the
/// materialisation (not the counting) at the limit.
pub struct ResultBuilder {
    limit: usize,
    entries: Vec<crate::entry::JournalEntry>,
    total: u64,
}

impl ResultBuilder {
    /// A builder that keeps at most `limit` entries.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        ResultBuilder {
            limit,
            entries: Vec::with_capacity(limit.min(1024)),
            total: 0,
        }
    }

    /// Counts a match and keeps it while under the limit.
    pub fn push_with(&mut self, make: impl FnOnce() -> JournalEntry) {
        self.total += 1;
        if self.entries.len() < self.limit {
            self.entries.push(make());
        }
    }

    /// Entries kept so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry was kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The finished result, with the number of matches counted elsewhere
    /// (from summaries) instead of by `push_with`: at least the entries
    /// kept.
    #[must_use]
    pub fn finish_with_total(mut self, total: u64) -> crate::entry::JournalQueryResult {
        self.total = total.max(self.entries.len() as u64);
        self.finish()
    }

    /// The finished result.
    #[must_use]
    pub fn finish(self) -> crate::entry::JournalQueryResult {
        crate::entry::JournalQueryResult {
            truncated: self.total > self.entries.len() as u64,
            entries: self.entries,
            total_count: self.total,
        }
    }
}
