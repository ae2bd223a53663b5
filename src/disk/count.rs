//! Counting and filtered reads: whole segments and blocks whose summaries
//! rule a query out are passed by, those that can count their matches are
//! counted, and the active segment's summary is kept as a cache.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::disk::DiskJournal;
use crate::disk::segment::{RawRange, SegmentState, View};
use crate::disk::skip::Conditions;
use crate::entry::{JournalQueryFilter, QueryOptions};
use crate::error::Result;
use crate::filter;

/// Counters of a handle's queries and counts, from
/// [`DiskJournal::read_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Blocks whose records were read.
    pub blocks_read: u64,
    /// Blocks passed by: skipped, or counted from their summaries.
    pub blocks_passed: u64,
}

/// [`DiskJournal::with_active_summary`]'s cache.
pub(super) struct ActiveSummary {
    base: u64,
    reloads: u64,
    summary: crate::disk::index::Summary,
}

impl DiskJournal {
    /// The number of records of `view` from sequence `first` on matching
    /// `query` and `options`: whole segments whose summaries (the active
    /// one's kept up to date in memory) can count their matches are
    /// counted; in the others, blocks whose summaries can are counted and
    /// the rest read, skipping what the summaries rule out.
    pub(super) fn count_in(
        &self,
        view: &Arc<View>,
        query: &JournalQueryFilter,
        options: &QueryOptions,
        first: u64,
    ) -> Result<u64> {
        let conditions = Arc::new(Conditions::new(query, options));
        let mut total = 0u64;
        for i in view.segment_for(first)..view.segments.len() {
            let segment = &view.segments[i];
            if segment.base >= first
                && let Some(counted) = self.segment_matches(view, i, &conditions)?
            {
                total += counted;
                continue;
            }
            let mut range =
                RawRange::from_sequence(view.clone(), self.maps.clone(), self.body_len_max, first)
                    .segments(i, i + 1)
                    .filtered(conditions.clone());
            range.count_from_summaries();
            while let Some(record) = range.next_entry() {
                let record = record?;
                if options.admits(record.sequence, record.appended_at)
                    && filter::matches(query, &record)
                {
                    total += 1;
                }
            }
            total += range.counted();
            self.note_reads(&range);
        }
        Ok(total)
    }

    /// Calls `answer` with the summary of segment `i` of `view` (the active
    /// one) up to the view's readable end: the cached summary, extended by
    /// the records appended since it was taken. Reset when the active
    /// segment changed or a follower reloaded.
    pub(super) fn with_active_summary<R>(
        &self,
        view: &Arc<View>,
        i: usize,
        answer: impl FnOnce(&crate::disk::index::Summary) -> R,
    ) -> Result<R> {
        let base = view.segments[i].base;
        let reloads = self.reloads.load(Ordering::Acquire);
        let mut cache = self
            .active_summary
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let stale = cache.as_ref().is_none_or(|c| {
            c.base != base || c.reloads != reloads || c.summary.last_sequence > view.latest
        });
        if stale {
            *cache = Some(ActiveSummary {
                base,
                reloads,
                summary: crate::disk::index::Summary::empty(),
            });
        }
        let cached = cache.as_mut().expect("set above");
        let summary = &mut cached.summary;
        let next = if summary.record_count == 0 {
            Some(0)
        } else {
            summary.last_sequence.checked_add(1)
        };
        if let Some(next) = next {
            let mut range =
                RawRange::from_sequence(view.clone(), self.maps.clone(), self.body_len_max, next)
                    .segments(i, i + 1);
            while let Some(record) = range.next_entry() {
                summary.add(&record?);
            }
        }
        Ok(answer(summary))
    }

    /// The matches of segment `i` of `view` when its summary (the active
    /// one's kept up to date in memory) tells: 0 when it rules the
    /// segment out, else its count when it can count.
    pub(super) fn segment_matches(
        &self,
        view: &Arc<View>,
        i: usize,
        conditions: &Conditions,
    ) -> Result<Option<u64>> {
        let decide = |s: &crate::disk::index::Summary| {
            if conditions.skips_segment(s) {
                Some(0)
            } else {
                conditions.segment_count(s)
            }
        };
        let segment = &view.segments[i];
        Ok(match (segment.summary(), &segment.state) {
            (Some(summary), _) => decide(summary),
            (None, SegmentState::Active(_)) => self.with_active_summary(view, i, decide)?,
            _ => None,
        })
    }

    /// A reader from sequence `first` on that skips the segments and
    /// blocks whose summaries rule out `query` and `options`.
    pub(super) fn filtered_range(
        &self,
        view: &Arc<View>,
        query: &JournalQueryFilter,
        options: &QueryOptions,
        first: u64,
    ) -> RawRange {
        let conditions = Arc::new(Conditions::new(query, options));
        let range = if first == 0 {
            RawRange::all(view.clone(), self.maps.clone(), self.body_len_max)
        } else {
            RawRange::from_sequence(view.clone(), self.maps.clone(), self.body_len_max, first)
        };
        range.filtered(conditions)
    }

    /// Adds a finished read's block counts to [`DiskJournal::read_stats`].
    pub(super) fn note_reads(&self, range: &RawRange) {
        let (read, passed) = range.block_counts();
        self.blocks_read.fetch_add(read, Ordering::Relaxed);
        self.blocks_passed.fetch_add(passed, Ordering::Relaxed);
    }

    /// Blocks (about 4 KiB of records each, docs/FORMAT.md "Index") that
    /// queries and counts on this handle have read, and passed by because
    /// their summaries ruled them out or counted their matches, since the
    /// open. Reads without conditions (ranges, replay) count none.
    pub fn read_stats(&self) -> ReadStats {
        ReadStats {
            blocks_read: self.blocks_read.load(Ordering::Relaxed),
            blocks_passed: self.blocks_passed.load(Ordering::Relaxed),
        }
    }

    /// The first sequence a query with `options` reads from, or `None`
    /// when nothing can match.
    pub(super) fn first_sequence(
        query: &JournalQueryFilter,
        options: &QueryOptions,
    ) -> Option<u64> {
        if filter::matches_nothing(query) {
            return None;
        }
        if let (Some(since), Some(until)) = (options.appended_since, options.appended_until)
            && until <= since
        {
            return None;
        }
        match options.after_sequence {
            None => Some(0),
            Some(after) => after.checked_add(1),
        }
    }
}
