//! The [`EventJournal`] trait and the in-memory backend.

mod memory;

pub use memory::{MemoryJournal, MemoryJournalOptions};

use crate::entry::EntryRef;
use crate::entry::{JournalEntry, JournalQueryFilter, JournalQueryResult, QueryOptions};
use crate::error::Result;
use crate::filter::{self, DEFAULT_MAX_QUERY_LIMIT, ResultBuilder};

/// A streaming iterator of owned entries over a sequence range.
pub type EntryIter<'a> = Box<dyn Iterator<Item = Result<JournalEntry>> + Send + 'a>;

/// An append-only journal of events with strictly increasing sequences.
///
/// Object safe, shareable between threads. Sequences start at 1, increase
/// strictly, and may have gaps (from [`EventJournal::append_at`]); readers
/// that have seen sequence N have seen every entry up to N.
pub trait EventJournal: Send + Sync {
    /// Appends one entry (its `sequence` is ignored) and returns the
    /// assigned sequence once the entry is acknowledged under the
    /// backend's durability policy.
    fn append(&self, entry: &JournalEntry) -> Result<u64>;

    /// Appends entries as one batch with consecutive sequences, returned
    /// in order. Either every entry is acknowledged or the call fails.
    fn append_batch(&self, entries: &[JournalEntry]) -> Result<Vec<u64>>;

    /// Appends `entries` as one batch, as [`EventJournal::append_batch`]
    /// does, but only if the journal's latest sequence is still
    /// `expected_latest` when the batch is sequenced; otherwise appends
    /// nothing and returns `Ok(None)`. The check and the append are one
    /// atomic step, so writers that each read the journal, decide, and
    /// append conditionally are serialized (compare-and-set): the audit
    /// chains of the statistics use it so that two handles, or two
    /// processes, cannot fork an entity's chain. Backends without it
    /// return [`crate::Error::Unsupported`].
    fn append_batch_if_latest(
        &self,
        expected_latest: u64,
        entries: &[JournalEntry],
    ) -> Result<Option<Vec<u64>>> {
        let _ = (expected_latest, entries);
        Err(crate::error::Error::Unsupported(
            "conditional append (append_batch_if_latest)".into(),
        ))
    }

    /// Appends an entry at an explicit sequence, which must exceed the
    /// latest one (gaps are legal). The entry's `appended_at`, when set, is
    /// kept as its append time. For import and mirroring.
    fn append_at(&self, sequence: u64, entry: &JournalEntry) -> Result<()>;

    /// Entries matching the filter in ascending sequence order, at most the
    /// effective limit, with exact `truncated` and `total_count`.
    fn query(&self, filter: &JournalQueryFilter) -> Result<JournalQueryResult>;

    /// Entries with `start <= sequence < end`, ascending.
    fn get_sequence_range(&self, start: u64, end: u64) -> Result<Vec<JournalEntry>> {
        self.range_iter(start, end)?.collect()
    }

    /// The latest sequence, 0 when the journal is empty.
    fn get_latest_sequence(&self) -> Result<u64>;

    /// The number of entries matching the filter (its limit is ignored).
    fn count(&self, filter: &JournalQueryFilter) -> Result<u64>;

    /// Streams `start <= sequence < end` without building the range in
    /// memory. The end is exclusive, so no `end` reaches an entry at
    /// `u64::MAX`: read to the end with [`EventJournal::range_iter_from`].
    fn range_iter(&self, start: u64, end: u64) -> Result<EntryIter<'_>>;

    /// Streams every entry with `start <= sequence`, to the end of the
    /// journal, the entry at `u64::MAX` included.
    ///
    /// The default reads [`EventJournal::range_iter`]`(start, u64::MAX)`
    /// and, when the journal's latest sequence is then `u64::MAX`, ends
    /// with [`crate::Error::Unsupported`] rather than leave that entry out
    /// silently. The backends of this crate read it.
    fn range_iter_from(&self, start: u64) -> Result<EntryIter<'_>> {
        let below = self.range_iter(start, u64::MAX)?;
        let mut checked = false;
        let last = std::iter::from_fn(move || {
            if checked {
                return None;
            }
            checked = true;
            match self.get_latest_sequence() {
                Ok(u64::MAX) => Some(Err(crate::error::Error::Unsupported(
                    "reading the entry at sequence u64::MAX (range_iter_from)".into(),
                ))),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        });
        Ok(Box::new(below.chain(last)))
    }

    /// Appends `entry` only if the latest stored sequence is still
    /// `expected_latest`, atomically: returns the assigned sequence, or
    /// `None` when another append came first (the caller rereads and
    /// retries). [`EventJournal::append_batch_if_latest`] of one entry.
    fn append_if_latest(&self, expected_latest: u64, entry: &JournalEntry) -> Result<Option<u64>> {
        Ok(self
            .append_batch_if_latest(expected_latest, std::slice::from_ref(entry))?
            .and_then(|sequences| sequences.first().copied()))
    }

    /// Calls `visit` with every entry of `start <= sequence < end`, in
    /// order, borrowed where the backend can: the disk journal lends each
    /// record straight from its segment maps (CRC checked, nothing copied
    /// or allocated per entry). Stops at the first error, from the journal
    /// or from `visit`. The default reads [`EventJournal::range_iter`]; an
    /// entry without an append time lends its event time as `appended_at`.
    fn for_each_ref(
        &self,
        start: u64,
        end: u64,
        visit: &mut dyn FnMut(&EntryRef<'_>) -> Result<()>,
    ) -> Result<()> {
        for entry in self.range_iter(start, end)? {
            visit(&entry?.as_entry_ref())?;
        }
        Ok(())
    }

    /// [`EventJournal::query`] with the further conditions of `options`
    /// (a sequence cursor, an append-time window); with none, the same
    /// answer. `total_count` counts the matches that pass the options. The
    /// default scans from the cursor with [`EventJournal::for_each_ref`]
    /// and caps the limit at the default maximum query limit.
    fn query_with(
        &self,
        filter: &JournalQueryFilter,
        options: &QueryOptions,
    ) -> Result<JournalQueryResult> {
        if options.is_empty() {
            return self.query(filter);
        }
        let mut result =
            ResultBuilder::new(filter::effective_limit(filter, DEFAULT_MAX_QUERY_LIMIT)?);
        if let Some(start) = options.first_sequence()
            && !filter::matches_nothing(filter)
        {
            self.for_each_ref_from(start, &mut |entry| {
                if options.admits(entry.sequence, entry.appended_at)
                    && filter::matches(filter, entry)
                {
                    result.push_with(|| entry.to_entry());
                }
                Ok(())
            })?;
        }
        Ok(result.finish())
    }

    /// [`EventJournal::count`] with the further conditions of `options`.
    fn count_with(&self, filter: &JournalQueryFilter, options: &QueryOptions) -> Result<u64> {
        if options.is_empty() {
            return self.count(filter);
        }
        let mut count = 0;
        if let Some(start) = options.first_sequence()
            && !filter::matches_nothing(filter)
        {
            self.for_each_ref_from(start, &mut |entry| {
                count += u64::from(
                    options.admits(entry.sequence, entry.appended_at)
                        && filter::matches(filter, entry),
                );
                Ok(())
            })?;
        }
        Ok(count)
    }

    /// Calls `visit` with every entry with `start <= sequence`, to the end
    /// of the journal (the entry at `u64::MAX` included), as
    /// [`EventJournal::for_each_ref`] does for a bounded range. The
    /// default reads [`EventJournal::range_iter_from`].
    fn for_each_ref_from(
        &self,
        start: u64,
        visit: &mut dyn FnMut(&EntryRef<'_>) -> Result<()>,
    ) -> Result<()> {
        for entry in self.range_iter_from(start)? {
            visit(&entry?.as_entry_ref())?;
        }
        Ok(())
    }

    /// Waits until everything acknowledged so far is durable (a no-op for
    /// backends without durability).
    fn sync(&self) -> Result<()>;

    /// Sets the retention floor: the journal never drops a record at or
    /// above `floor` (`None`: no floor). A statistics handle sets it to its
    /// newest snapshot's sequence, so its statistics can always be rebuilt
    /// from the snapshot and what remains. A no-op for backends without
    /// retention.
    fn set_retention_floor(&self, floor: Option<u64>) {
        let _ = floor;
    }
}

/// The entry at `sequence`, if the journal holds one (`u64::MAX`
/// included): one bounded range read.
pub(crate) fn entry_at<J: EventJournal + ?Sized>(
    journal: &J,
    sequence: u64,
) -> Result<Option<JournalEntry>> {
    let found = match sequence.checked_add(1) {
        Some(end) => journal
            .get_sequence_range(sequence, end)?
            .into_iter()
            .next(),
        None => journal.range_iter_from(sequence)?.next().transpose()?,
    };
    Ok(found.filter(|e| e.sequence == sequence))
}
