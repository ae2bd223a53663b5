//! `MemoryJournal`: for tests and single-process use. Not persistent.

use std::collections::VecDeque;
use std::sync::RwLock;

use crate::entry::{JournalEntry, JournalQueryFilter, JournalQueryResult, Timestamp};
use crate::error::{Error, Result};
use crate::filter::{self, DEFAULT_MAX_QUERY_LIMIT, ResultBuilder};
use crate::journal::{EntryIter, EventJournal};

/// Entries copied out of the lock per step of a streaming range.
const RANGE_CHUNK_ENTRIES: usize = 1024;

/// Options of a [`MemoryJournal`].
#[derive(Clone, Debug)]
pub struct MemoryJournalOptions {
    /// Keep at most this many entries, evicting the oldest (default: no
    /// bound). Must be at least 1.
    pub max_entries: Option<usize>,
    /// Cap on a query's limit (default 10,000).
    pub max_query_limit: usize,
}

impl Default for MemoryJournalOptions {
    fn default() -> Self {
        MemoryJournalOptions {
            max_entries: None,
            max_query_limit: DEFAULT_MAX_QUERY_LIMIT,
        }
    }
}

#[derive(Default)]
struct State {
    entries: VecDeque<JournalEntry>,
    latest: u64,
}

/// An in-memory journal. Entries are copied on append, so a caller's later
/// changes never rewrite history.
pub struct MemoryJournal {
    options: MemoryJournalOptions,
    state: RwLock<State>,
}

impl Default for MemoryJournal {
    fn default() -> Self {
        MemoryJournal::new()
    }
}

impl MemoryJournal {
    /// An unbounded journal with default options.
    #[must_use]
    pub fn new() -> Self {
        MemoryJournal {
            options: MemoryJournalOptions::default(),
            state: RwLock::default(),
        }
    }

    /// A journal with the given options.
    pub fn with_options(options: MemoryJournalOptions) -> Result<Self> {
        if options.max_entries == Some(0) {
            return Err(Error::InvalidOption(
                "max_entries must be at least 1".into(),
            ));
        }
        Ok(MemoryJournal {
            options,
            state: RwLock::default(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated
        // (every update is a push then a pop), so poisoning is ignored.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `entries` after the latest sequence, under the write lock.
    fn append_locked(&self, state: &mut State, entries: &[JournalEntry]) -> Result<Vec<u64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        next_sequence(state, entries.len())?;
        let now = Timestamp::now();
        let mut sequences = Vec::with_capacity(entries.len());
        for entry in entries {
            let sequence = state.latest + 1;
            self.push(state, sequence, entry, now);
            sequences.push(sequence);
        }
        Ok(sequences)
    }

    fn push(&self, state: &mut State, sequence: u64, entry: &JournalEntry, appended_at: Timestamp) {
        let mut stored = entry.clone();
        stored.sequence = sequence;
        stored.appended_at = Some(appended_at);
        state.entries.push_back(stored);
        state.latest = sequence;
        if let Some(max) = self.options.max_entries {
            while state.entries.len() > max {
                state.entries.pop_front();
            }
        }
    }

    fn start_index(state: &State, start: u64) -> usize {
        state.entries.partition_point(|e| e.sequence < start)
    }

    /// Streams `start <= sequence < end`, or to the end of the journal
    /// (`u64::MAX` included) when `end` is `None`, a chunk of entries
    /// copied out of the lock at a time.
    fn stream(&self, start: u64, end: Option<u64>) -> EntryIter<'_> {
        let mut next = start;
        let mut buffer: VecDeque<JournalEntry> = VecDeque::new();
        let mut done = end.is_some_and(|end| end <= start);
        Box::new(std::iter::from_fn(move || {
            if buffer.is_empty() && !done {
                let state = self.read();
                let from = Self::start_index(&state, next);
                buffer.extend(
                    state
                        .entries
                        .range(from..)
                        .take_while(|e| end.is_none_or(|end| e.sequence < end))
                        .take(RANGE_CHUNK_ENTRIES)
                        .cloned(),
                );
                match buffer.back().and_then(|last| last.sequence.checked_add(1)) {
                    Some(after) if buffer.len() == RANGE_CHUNK_ENTRIES => next = after,
                    _ => done = true,
                }
            }
            buffer.pop_front().map(Ok)
        }))
    }
}

/// The next sequence, when `count` more fit below `u64::MAX`.
fn next_sequence(state: &State, count: usize) -> Result<u64> {
    let overflow = || Error::SequenceOverflow {
        latest: state.latest,
    };
    let first = state.latest.checked_add(1).ok_or_else(overflow)?;
    first.checked_add(count as u64 - 1).ok_or_else(overflow)?;
    Ok(first)
}

impl EventJournal for MemoryJournal {
    fn append(&self, entry: &JournalEntry) -> Result<u64> {
        let mut state = self.write();
        let sequence = next_sequence(&state, 1)?;
        self.push(&mut state, sequence, entry, Timestamp::now());
        Ok(sequence)
    }

    fn append_batch(&self, entries: &[JournalEntry]) -> Result<Vec<u64>> {
        let mut state = self.write();
        self.append_locked(&mut state, entries)
    }

    fn append_batch_if_latest(
        &self,
        expected_latest: u64,
        entries: &[JournalEntry],
    ) -> Result<Option<Vec<u64>>> {
        let mut state = self.write();
        if state.latest != expected_latest {
            return Ok(None);
        }
        self.append_locked(&mut state, entries).map(Some)
    }

    fn append_at(&self, sequence: u64, entry: &JournalEntry) -> Result<()> {
        let mut state = self.write();
        if sequence <= state.latest {
            return Err(Error::NonMonotonic {
                sequence,
                latest: state.latest,
            });
        }
        let appended_at = entry.appended_at.unwrap_or_else(Timestamp::now);
        self.push(&mut state, sequence, entry, appended_at);
        Ok(())
    }

    fn query(&self, query: &JournalQueryFilter) -> Result<JournalQueryResult> {
        let limit = filter::effective_limit(query, self.options.max_query_limit)?;
        let mut result = ResultBuilder::new(limit);
        if !filter::matches_nothing(query) {
            for entry in self
                .read()
                .entries
                .iter()
                .filter(|e| filter::matches(query, *e))
            {
                result.push_with(|| entry.clone());
            }
        }
        Ok(result.finish())
    }

    fn get_latest_sequence(&self) -> Result<u64> {
        Ok(self.read().latest)
    }

    fn count(&self, query: &JournalQueryFilter) -> Result<u64> {
        filter::effective_limit(query, self.options.max_query_limit)?;
        if filter::matches_nothing(query) {
            return Ok(0);
        }
        Ok(self
            .read()
            .entries
            .iter()
            .filter(|e| filter::matches(query, *e))
            .count() as u64)
    }

    fn range_iter(&self, start: u64, end: u64) -> Result<EntryIter<'_>> {
        Ok(self.stream(start, Some(end)))
    }

    fn range_iter_from(&self, start: u64) -> Result<EntryIter<'_>> {
        Ok(self.stream(start, None))
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }
}
