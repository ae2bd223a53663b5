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
// The one exception is the module that maps segment files (disk/mmap.rs).
#![deny(unsafe_code)]

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
        feature = "break-ignore-synced-end",
        feature = "break-trust-index-sequence",
        feature = "break-wrong-block-summary",
        feature = "break-chain-text-search",
        feature = "break-redis-skip-cas",
        feature = "break-redis-split-append",
        feature = "break-redis-skip-wait",
        feature = "break-sql-skip-lock",
        feature = "break-projector-mark-outside-transaction",
        feature = "break-retention-unlink-before-mark",
        feature = "break-retention-drop-active",
    )
))]
compile_error!("the break-* features exist to prove the tests bite; never build them in release");

// The modules an embedder uses: the disk engine's options and reports, the
// statistics, the Redis backend. The rest are the crate's insides, public
// only for its own tests, benches, fuzz targets and command line, and
// hidden from the documentation; what an embedder needs of them is
// re-exported below.
#[doc(hidden)]
pub mod codec;
pub mod disk;
#[doc(hidden)]
pub mod entry;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod filter;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hex;
#[doc(hidden)]
pub mod journal;
pub mod projection;
#[doc(hidden)]
pub mod pystr;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sql")]
pub mod sql;
#[doc(hidden)]
pub mod storage;
#[doc(hidden)]
pub mod url;

#[doc(hidden)]
pub use disk::RawRange;
pub use disk::{
    DiskJournal, DiskJournalBuilder, DiskJournalOptions, Durability, JournalHead, JournalInfo,
    Problem, RecoveryMode, RecoveryReport, TornTail, VerifyReport, verify,
};
pub use entry::{
    Context, EntryRef, JournalEntry, JournalQueryFilter, JournalQueryResult, QueryOptions,
    Timestamp,
};
pub use error::{Error, Result};
pub use journal::{EntryIter, EventJournal, MemoryJournal, MemoryJournalOptions};
pub use projection::{
    AuditKey, AuditKeyring, AuditVerification, JournalStatistics, JournalStatisticsBuilder,
    SnapshotConfig, StatisticsRepository,
};
#[cfg(feature = "redis")]
pub use redis::{
    BreakerOptions, RedisJournal, RedisJournalBuilder, RedisJournalOptions, RedisLayout,
};
#[cfg(feature = "sql")]
pub use sql::{SqlJournal, SqlJournalOptions, SqlStatistics, SqlStatisticsOptions};
pub use url::{JournalUrl, open, open_read_only};

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
