//! A small fixture for the edge-case tests.

use std::sync::Arc;

use baldur_journal::projection::{
    JournalStatistics, LifecycleEvent, LifecycleKind, ManualClock, StoreEvent,
};
use baldur_journal::{EventJournal, JournalEntry, MemoryJournal};

use super::{T0, ts};

/// Statistics over a `MemoryJournal` with a manual clock at `T0`.
pub struct Fixture {
    pub journal: Arc<MemoryJournal>,
    pub clock: ManualClock,
    pub stats: JournalStatistics<MemoryJournal>,
}

impl Fixture {
    pub fn new() -> Self {
        let journal = Arc::new(MemoryJournal::new());
        let clock = ManualClock::new(ts(T0));
        let stats = JournalStatistics::builder(journal.clone())
            .clock(clock.clone())
            .build()
            .unwrap();
        Fixture {
            journal,
            clock,
            stats,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now().as_unix_nanos()
    }

    /// Moves the clock by `nanos` (may be negative).
    pub fn shift(&self, nanos: i64) {
        self.clock.set(ts(self.now() + nanos));
    }

    /// Appends an event happening now; returns its sequence.
    pub fn append(&self, entry: JournalEntry) -> u64 {
        self.journal.append(&entry).unwrap()
    }

    /// Stores a pending entry now.
    pub fn store(&self, id: &str, domain: &str, failure_type: &str) -> u64 {
        self.append(StoreEvent::new(id, domain, failure_type).to_entry(self.clock.now()))
    }

    /// Stores an entry with this status now.
    pub fn store_as(&self, id: &str, status: &str) -> u64 {
        let mut store = StoreEvent::new(id, "payments", "timeout");
        store.status = status.into();
        self.append(store.to_entry(self.clock.now()))
    }

    /// A lifecycle step now, with the kind's default status.
    pub fn step(&self, kind: LifecycleKind, id: &str) -> u64 {
        self.append(LifecycleEvent::new(kind, id).to_entry(self.clock.now()))
    }

    /// The journal's latest sequence.
    pub fn latest(&self) -> u64 {
        self.journal.get_latest_sequence().unwrap()
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}
