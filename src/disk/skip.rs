//! What a query's conditions let a read skip or count without reading:
//! whole segments by their summaries, blocks of about 4 KiB by their block
//! summaries (docs/FORMAT.md, "Index"). Summaries are derived data: they
//! may skip and count, and a decision here never changes an answer, only
//! how much is read to give it.

use crate::codec::{BODY_FIXED_LEN, u32_at, u64_at};
use crate::disk::index::{BlockSummary, Blocks, Field, Summary};
use crate::entry::{JournalQueryFilter, QueryOptions};

/// A query's conditions, in the terms summaries speak.
#[derive(Clone, Debug, Default)]
pub(crate) struct Conditions {
    /// Event time window, `start <= t < end`.
    start_ns: Option<i64>,
    end_ns: Option<i64>,
    /// Append time window, `since <= t < until`.
    since_ns: Option<i64>,
    until_ns: Option<i64>,
    /// Per [`Field`], the values wanted (any of them), or no condition.
    values: [Option<Vec<String>>; 3],
    /// Context filters are set: no summary can count.
    context: bool,
}

/// Per [`Field`], the block dictionary ids of the wanted values, or
/// `None` when the field has no condition or its dictionary is incomplete.
pub(crate) type WantedIds = [Option<Vec<u32>>; 3];

impl Conditions {
    /// The conditions of `filter` and `options`.
    pub(crate) fn new(filter: &JournalQueryFilter, options: &QueryOptions) -> Self {
        let mut types = filter.event_types.clone();
        if let Some(types) = &mut types {
            types.sort_unstable();
            types.dedup();
        }
        Conditions {
            start_ns: filter.start_time.map(|t| t.as_unix_nanos()),
            end_ns: filter.end_time.map(|t| t.as_unix_nanos()),
            since_ns: options.appended_since.map(|t| t.as_unix_nanos()),
            until_ns: options.appended_until.map(|t| t.as_unix_nanos()),
            values: [
                types,
                filter.service_name.clone().map(|s| vec![s]),
                filter.region.clone().map(|r| vec![r]),
            ],
            context: filter
                .context_filters
                .as_ref()
                .is_some_and(|c| !c.is_empty()),
        }
    }

    /// The event-time and append-time windows, when any bound is set.
    #[expect(clippy::type_complexity, reason = "four bounds, named at the call")]
    pub(crate) fn windows(&self) -> Option<(Option<i64>, Option<i64>, Option<i64>, Option<i64>)> {
        let bounds = (self.start_ns, self.end_ns, self.since_ns, self.until_ns);
        (bounds != (None, None, None, None)).then_some(bounds)
    }

    /// True when the time ranges `[min, max]` cannot meet the windows.
    fn outside(&self, min_ts: i64, max_ts: i64, min_app: i64, max_app: i64) -> bool {
        self.start_ns.is_some_and(|s| max_ts < s)
            || self.end_ns.is_some_and(|e| min_ts >= e)
            || self.since_ns.is_some_and(|s| max_app < s)
            || self.until_ns.is_some_and(|u| min_app >= u)
    }

    /// True when the time ranges lie wholly inside the windows.
    fn inside(&self, min_ts: i64, max_ts: i64, min_app: i64, max_app: i64) -> bool {
        self.start_ns.is_none_or(|s| min_ts >= s)
            && self.end_ns.is_none_or(|e| max_ts < e)
            && self.since_ns.is_none_or(|s| min_app >= s)
            && self.until_ns.is_none_or(|u| max_app < u)
    }

    /// The one field with a condition, when exactly one has one.
    fn single_field(&self) -> Result<Option<Field>, ()> {
        let mut found = None;
        for field in Field::ALL {
            if self.values[field as usize].is_some() {
                if found.is_some() {
                    return Err(());
                }
                found = Some(field);
            }
        }
        Ok(found)
    }

    /// False when a record body (CRC checked, not yet decoded) cannot
    /// match: its event or append time outside the windows, or its raw
    /// event type, service or region none of the wanted ones. True when
    /// it may match, or when its field lengths do not add up (decoding
    /// then reports the damage).
    pub(crate) fn may_match_body(&self, body: &[u8]) -> bool {
        if body.len() < BODY_FIXED_LEN {
            return true;
        }
        let ts = u64_at(body, 8) as i64;
        let appended = u64_at(body, 16) as i64;
        if self.outside(ts, ts, appended, appended) {
            return false;
        }
        if self.values.iter().all(Option::is_none) {
            return true;
        }
        let mut at = BODY_FIXED_LEN;
        let mut fields: [&[u8]; 4] = [&[]; 4];
        for (i, field) in fields.iter_mut().enumerate() {
            let len = u32_at(body, 32 + 4 * i) as usize;
            let Some(bytes) = body.get(at..at.saturating_add(len)) else {
                return true;
            };
            *field = bytes;
            at += len;
        }
        // Body field order: event type, source, service, region.
        let raw = [fields[0], fields[2], fields[3]];
        Field::ALL.into_iter().all(|field| {
            self.values[field as usize]
                .as_ref()
                .is_none_or(|wanted| wanted.iter().any(|w| w.as_bytes() == raw[field as usize]))
        })
    }

    /// Whether no record of a segment with this summary can match.
    pub(crate) fn skips_segment(&self, summary: &Summary) -> bool {
        if summary.record_count == 0 {
            return true;
        }
        if self.outside(
            summary.min_timestamp_ns,
            summary.max_timestamp_ns,
            summary.min_appended_ns,
            summary.max_appended_ns,
        ) {
            return true;
        }
        Field::ALL.into_iter().any(|field| {
            match (&self.values[field as usize], summary.counts(field)) {
                (Some(wanted), Some(present)) => !wanted.iter().any(|v| present.contains_key(v)),
                _ => false,
            }
        })
    }

    /// The matches of a segment with this summary, when the summary alone
    /// can tell: no context filter, the segment wholly inside the time
    /// windows, and at most one field with a condition, counted by the
    /// segment's table.
    pub(crate) fn segment_count(&self, summary: &Summary) -> Option<u64> {
        if self.context {
            return None;
        }
        if !self.inside(
            summary.min_timestamp_ns,
            summary.max_timestamp_ns,
            summary.min_appended_ns,
            summary.max_appended_ns,
        ) {
            return None;
        }
        match self.single_field().ok()? {
            None => Some(summary.record_count),
            Some(field) => {
                let present = summary.counts(field).as_ref()?;
                let wanted = self.values[field as usize].as_ref()?;
                Some(wanted.iter().filter_map(|v| present.get(v)).sum())
            }
        }
    }

    /// The ids of the wanted values in a segment's block dictionaries.
    pub(crate) fn wanted_ids(&self, blocks: &Blocks) -> WantedIds {
        let mut ids: WantedIds = Default::default();
        for field in Field::ALL {
            let f = field as usize;
            let dictionary = &blocks.dictionaries[f];
            if let Some(wanted) = &self.values[f]
                && dictionary.is_complete()
            {
                let mut found: Vec<u32> = wanted.iter().filter_map(|v| dictionary.id(v)).collect();
                found.sort_unstable();
                found.dedup();
                ids[f] = Some(found);
            }
        }
        ids
    }

    /// Whether no record of a block with this summary can match.
    pub(crate) fn skips_block(&self, block: &BlockSummary, ids: &WantedIds) -> bool {
        if self.outside(
            block.min_timestamp_ns,
            block.max_timestamp_ns,
            block.min_appended_ns,
            block.max_appended_ns,
        ) {
            return true;
        }
        Field::ALL.into_iter().any(|field| {
            ids[field as usize]
                .as_ref()
                .is_some_and(|wanted| wanted.iter().all(|&id| block.count_of(field, id) == 0))
        })
    }

    /// The matches of a block, when its summary alone can tell (as
    /// [`Conditions::segment_count`]).
    pub(crate) fn block_count(&self, block: &BlockSummary, ids: &WantedIds) -> Option<u64> {
        if self.context {
            return None;
        }
        if !self.inside(
            block.min_timestamp_ns,
            block.max_timestamp_ns,
            block.min_appended_ns,
            block.max_appended_ns,
        ) {
            return None;
        }
        match self.single_field().ok()? {
            None => Some(u64::from(block.record_count)),
            Some(field) => {
                let wanted = ids[field as usize].as_ref()?;
                Some(
                    wanted
                        .iter()
                        .map(|&id| u64::from(block.count_of(field, id)))
                        .sum(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::SummaryKeys;
    use crate::disk::index::SparseIndex;
    use crate::entry::Timestamp;

    fn keys(sequence: u64, event_type: &'static str) -> SummaryKeys<'static> {
        SummaryKeys {
            sequence,
            timestamp_ns: sequence as i64 * 100,
            appended_ns: sequence as i64 * 1000,
            event_type,
            service_name: if sequence.is_multiple_of(2) {
                "even"
            } else {
                "odd"
            },
            region: "r",
        }
    }

    #[test]
    fn blocks_are_skipped_or_counted_only_when_their_summary_decides() {
        let mut index = SparseIndex::default();
        let mut summary = Summary::empty();
        // Two blocks: sequences 1..=10 and 11..=20.
        for s in 1..=20u64 {
            let k = keys(s, if s <= 10 { "early" } else { "late" });
            index.note(&k, 64 + (s - 1) / 10 * 4096 + (s - 1) % 10);
            summary.add_keys(&k);
        }
        let blocks = index.blocks().unwrap();
        assert_eq!(blocks.summaries.len(), 2);
        let filter = JournalQueryFilter {
            event_types: Some(vec!["late".into()]),
            ..Default::default()
        };
        let c = Conditions::new(&filter, &QueryOptions::default());
        let ids = c.wanted_ids(blocks);
        assert!(c.skips_block(&blocks.summaries[0], &ids));
        assert!(!c.skips_block(&blocks.summaries[1], &ids));
        assert_eq!(c.block_count(&blocks.summaries[1], &ids), Some(10));
        assert_eq!(c.segment_count(&summary), Some(10));
        // An append-time window over sequences 5..=14: no block is wholly
        // inside, none outside.
        let options = QueryOptions {
            appended_since: Some(Timestamp::from_unix_nanos(5000)),
            appended_until: Some(Timestamp::from_unix_nanos(15_000)),
            ..Default::default()
        };
        let c = Conditions::new(&JournalQueryFilter::default(), &options);
        let ids = c.wanted_ids(blocks);
        assert!(!c.skips_block(&blocks.summaries[0], &ids));
        assert_eq!(c.block_count(&blocks.summaries[0], &ids), None);
        assert_eq!(c.segment_count(&summary), None);
        // Two fields: counted by reading, skipped by either.
        let filter = JournalQueryFilter {
            event_types: Some(vec!["early".into()]),
            service_name: Some("even".into()),
            ..Default::default()
        };
        let c = Conditions::new(&filter, &QueryOptions::default());
        let ids = c.wanted_ids(blocks);
        assert_eq!(c.block_count(&blocks.summaries[0], &ids), None);
        assert!(c.skips_block(&blocks.summaries[1], &ids));
        // Running bounds: event times 100..=1000 and 1100..=2000 ns.
        let bounds = blocks.sealed_bounds();
        assert_eq!(bounds.candidates(Some(1050), None, None, None), (1, 2));
        assert_eq!(bounds.candidates(None, Some(1050), None, None), (0, 1));
        assert_eq!(bounds.candidates(Some(900), Some(1200), None, None), (0, 2));
        assert_eq!(bounds.candidates(Some(5000), None, None, None), (2, 2));
        assert_eq!(bounds.candidates(None, None, Some(12_000), None), (1, 2));
    }
}
