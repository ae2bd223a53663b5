//! Shared by the statistics tests (the modules of this binary): an independent model of the statistics
//! (a plain list of entry states, the rules of docs/STATISTICS.md written
//! out a second time), a random-workload driver, and a checker that
//! compares every read method of a `StatisticsRepository` with the model.

mod chain;
mod check;
mod events;
mod fixture;
mod model;
mod model_reads;
mod workload;

pub use chain::Stamp;
pub use check::{IDS, check_reads};
pub use events::{Ev, Snapshot};
pub use fixture::Fixture;
pub use model::{MEntry, Model};
pub use workload::{Op, run_workload};

use baldur_journal::Timestamp;

pub const MINUTE: i64 = 60_000_000_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// 2025-01-01T00:00:00Z.
pub const T0: i64 = 1_735_689_600_000_000_000;

pub fn ts(nanos: i64) -> Timestamp {
    Timestamp::from_unix_nanos(nanos)
}

/// A tiny deterministic generator for check points.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    /// An index into a slice of `len` items (the same draw as `below`).
    pub fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap()
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}
