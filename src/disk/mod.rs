//! `DiskJournal`: the durable, segmented, single-writer engine.

mod count;
mod follow;
mod handle_retention;
mod head;
mod index;
mod info;
mod journal;
mod lock;
mod meta;
#[expect(
    unsafe_code,
    reason = "mapping a file is unsafe: the map must not outlive a shortened file (the safety contract in mmap.rs)"
)]
mod mmap;
mod open;
mod options;
mod recovery;
mod retention;
mod salvage;
mod segment;
mod skip;
pub mod verify;
mod writer;

#[doc(hidden)]
pub use crate::storage;
/// The storage seam, which lives below both the engine and the projection.
pub use crate::storage::{JournalFiles, OpenMode, OsStorage, Storage, StorageFile};
pub use count::ReadStats;
pub use handle_retention::CheckedRange;
pub use head::{ActiveHead, JournalHead, SealedHead};
#[doc(hidden)]
pub use index::{
    BlockSummary, Blocks, Field, INDEX_INTERVAL_BYTES, IndexEntry, SUMMARY_EVENT_TYPES_MAX,
    SUMMARY_VALUES_MAX, SealedIndex, SparseIndex, Summary,
};
pub use info::{JournalInfo, SegmentInfo};
pub use journal::{DiskJournal, WriteStats};
pub use lock::{LOCK_FILE, writer_is_live};
#[doc(hidden)]
pub use meta::{HEAD_FILE, Head, META_FILE, Meta};
pub use options::{
    DEFAULT_MAX_RECORD_BYTES, DEFAULT_QUEUE_DEPTH, DEFAULT_SEGMENT_BYTES, DiskJournalBuilder,
    DiskJournalOptions, Durability, RecoveryMode, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN,
};
pub use recovery::{RecoveryReport, TornTail};
pub use retention::{DropReport, DroppedSegment, RetentionPolicy, purge_tier};
pub use salvage::Hole;
#[doc(hidden)]
pub use segment::{RawRange, index_file_name, log_file_name};
pub use verify::{Problem, VerifyOptions, VerifyReport, verify, verify_with};
