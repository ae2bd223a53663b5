//! # baldur-journal
//!
//! A durable, embeddable, append-only event journal.
//!
//! - [`DiskJournal`]: segmented files, one writer thread with group
//!   commit, `fdatasync` before every acknowledgement by default, crash
//!   recovery that tells a torn tail from corruption, zero-copy reads.
//! - [`MemoryJournal`]: the same contract in memory, for tests.
//! - [`EventJournal`]: the trait both implement (the seed's five methods,
//!   plus batches, explicit sequences and streaming ranges).
//!
//! ```
//! use baldur_journal::{DiskJournal, EventJournal, JournalEntry, JournalQueryFilter, Timestamp};
//!
//! # fn main() -> baldur_journal::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let journal = DiskJournal::open(dir.path())?;
//! let entry = JournalEntry::new("circuit_breaker_opened", "breaker", Timestamp::now(), "payments");
//! let sequence = journal.append(&entry)?; // durable when this returns
//! assert_eq!(sequence, 1);
//! let filter = JournalQueryFilter {
//!     event_types: Some(vec!["circuit_breaker_opened".into()]),
//!     ..Default::default()
//! };
//! assert_eq!(journal.query(&filter)?.total_count, 1);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

#[cfg(all(
    not(debug_assertions),
    any(
        feature = "break-skip-sync",
        feature = "break-skip-crc",
        feature = "break-skip-dir-sync",
        feature = "break-recovery-cut-too-far",
        feature = "break-ack-before-write",
        feature = "break-snapshot-trust",
        feature = "break-skip-cas",
        feature = "break-prealloc-over-unsynced",
        feature = "break-chain-text-search",
        feature = "break-redis-skip-cas",
        feature = "break-redis-split-append",
    )
))]
compile_error!("the break-* features exist to prove the tests bite; never build them in release");

pub mod codec;
pub mod disk;
pub mod entry;
pub mod error;
pub mod filter;
pub mod fuzzing;
pub mod journal;
pub mod projection;
pub mod pystr;
#[cfg(feature = "redis")]
pub mod redis;
pub mod url;

pub use codec::EntryRef;
pub use disk::{
    DiskJournal, DiskJournalBuilder, DiskJournalOptions, Durability, RawRange, RecoveryMode,
    RecoveryReport, TornTail,
};
pub use entry::{Context, JournalEntry, JournalQueryFilter, JournalQueryResult, Timestamp};
pub use error::{Error, Result};
pub use journal::{EntryIter, EventJournal, MemoryJournal, MemoryJournalOptions};
#[cfg(feature = "redis")]
pub use redis::{
    BreakerOptions, RedisJournal, RedisJournalBuilder, RedisJournalOptions, RedisLayout,
};
pub use url::{JournalUrl, open, open_read_only};

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
