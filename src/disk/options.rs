//! Options of a [`DiskJournal`]: the durability policy, the recovery mode,
//! and the builder with every option's default.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::codec;
use crate::disk::DiskJournal;
use crate::disk::mmap::MAP_CACHE_CAPACITY;
use crate::error::{Error, Result};
use crate::filter::DEFAULT_MAX_QUERY_LIMIT;
use crate::storage::{OsStorage, Storage};

/// When an append is acknowledged relative to `fdatasync`. Spelled
/// `always`, `every:N`, `interval:MS` and `os` everywhere (its `Display` and
/// `FromStr`, the CLI, JSON output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Sync before every acknowledgement (group commit: one sync covers
    /// every append of a batch). Nothing acknowledged is lost on a power
    /// cut. The default.
    #[default]
    Always,
    /// Acknowledge once written; sync after every N records.
    EveryRecords(u64),
    /// Acknowledge once written; sync when this much time has passed since
    /// the last sync.
    Interval(Duration),
    /// Acknowledge once written; leave syncing to the OS (and to `sync()`
    /// and close).
    Os,
}

impl std::fmt::Display for Durability {
    /// The one spelling used everywhere (CLI flags, JSON output, docs):
    /// `always`, `every:N`, `interval:MS` or `os`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Durability::Always => f.write_str("always"),
            Durability::EveryRecords(n) => write!(f, "every:{n}"),
            Durability::Interval(d) => write!(f, "interval:{}", d.as_millis()),
            Durability::Os => f.write_str("os"),
        }
    }
}

impl std::str::FromStr for Durability {
    type Err = Error;

    /// Parses `always`, `every:N` (sync every N records), `interval:MS`
    /// (sync at most every MS milliseconds) or `os`; N and MS above 0.
    fn from_str(text: &str) -> Result<Durability> {
        let number = |n: &str, what: &str| {
            n.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                Error::InvalidOption(format!(
                    "durability {what} needs a whole number above 0, got {n:?}"
                ))
            })
        };
        if let Some(n) = text.strip_prefix("every:") {
            return Ok(Durability::EveryRecords(number(n, "every:N")?));
        }
        if let Some(ms) = text.strip_prefix("interval:") {
            return Ok(Durability::Interval(Duration::from_millis(number(
                ms,
                "interval:MS",
            )?)));
        }
        match text {
            "always" => Ok(Durability::Always),
            "os" => Ok(Durability::Os),
            _ => Err(Error::InvalidOption(format!(
                "durability: expected always, every:N (sync every N records), interval:MS \
                 (sync at most every MS ms) or os, got {text:?}"
            ))),
        }
    }
}

/// Options of a [`DiskJournal`]. See [`DiskJournalBuilder`] for each one's
/// default and whether it is fixed at creation.
#[derive(Clone)]
pub struct DiskJournalOptions {
    /// Segment size in bytes (fixed at creation). Default 128 MiB, at least 64 KiB.
    pub segment_bytes: u64,
    /// Largest encoded record (frame) accepted by `append`. Default 1 MiB,
    /// capped to what fits a segment. Per open.
    pub max_record_bytes: u64,
    /// Appends queued for the writer before `append` blocks. Default 1024. Per open.
    pub queue_depth: usize,
    /// The durability policy. Default [`Durability::Always`]. Per open.
    pub durability: Durability,
    /// Create the journal when the directory holds none. Default true. Per open.
    pub create_if_missing: bool,
    /// Open without writing anything to the directory. Default false. Per open.
    pub read_only: bool,
    /// Cap on a query's limit. Default 10,000. Per open.
    pub max_query_limit: usize,
    /// Segment maps kept at once. Default 64. Per open.
    pub map_cache_capacity: usize,
    /// What a writer does with damage found at the end of the active
    /// segment. Default [`RecoveryMode::TolerateTornTail`]. Per open.
    pub recovery: RecoveryMode,
    /// Zero-filled bytes the writer keeps written and synced ahead of the
    /// active segment's end, so that a sync after an append commits data
    /// only, never a file-size change (docs/DESIGN.md, "Preallocation").
    /// Default 4 MiB; 0 turns it off. Not used under [`Durability::Os`],
    /// which never syncs on the write path. Per open.
    pub preallocate_bytes: u64,
    /// Salvage: a read-only open of a journal with missing, truncated or
    /// damaged segments that serves every record it can find and lists
    /// what it could not read ([`crate::disk::DiskJournal::holes`];
    /// docs/FORMAT.md, "Salvage"). Needs `read_only`; never follows a
    /// live writer. Default false. Per open.
    pub salvage: bool,
    /// The file-operation seam. Default: the real file system.
    pub storage: Arc<dyn Storage>,
    /// The retention policy a writer applies after each roll (docs/DESIGN.md,
    /// "Retention"). Default none: the journal only grows. Per open.
    pub retention: Option<crate::disk::RetentionPolicy>,
    /// A writer: where its retention policy moves sealed segments instead
    /// of deleting them. A read-only open: the tier directory whose
    /// segments are read together with the live ones, as one journal
    /// ("Tiered storage" in docs/DESIGN.md). Default none. Per open.
    pub tier_dir: Option<std::path::PathBuf>,
}

/// What a writer's open does with damage at the end of the active segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// Zero a torn tail (damage after the last sync point) and report it;
    /// refuse to open on damage inside the synced region. The default.
    #[default]
    TolerateTornTail,
    /// Refuse to open on any damage, torn tail included.
    Strict,
    /// Zero from the first damaged byte even inside the synced region, and
    /// report exactly what was dropped: for an operator who has kept a copy
    /// and accepts the loss.
    Salvage,
}

/// Default segment size.
pub const DEFAULT_SEGMENT_BYTES: u64 = 128 << 20;
/// Smallest segment size.
pub const SEGMENT_BYTES_MIN: u64 = 64 << 10;
/// Largest segment size.
pub const SEGMENT_BYTES_MAX: u64 = 1 << 40;
/// Default maximum record size.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 1 << 20;
/// Default write queue depth.
pub const DEFAULT_QUEUE_DEPTH: usize = 1024;
/// Default zero-filled bytes kept ahead of the active segment's end.
pub const DEFAULT_PREALLOCATE_BYTES: u64 = 4 << 20;

impl Default for DiskJournalOptions {
    fn default() -> Self {
        DiskJournalOptions {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            durability: Durability::Always,
            create_if_missing: true,
            read_only: false,
            max_query_limit: DEFAULT_MAX_QUERY_LIMIT,
            map_cache_capacity: MAP_CACHE_CAPACITY,
            recovery: RecoveryMode::TolerateTornTail,
            preallocate_bytes: DEFAULT_PREALLOCATE_BYTES,
            salvage: false,
            storage: OsStorage::shared(),
            retention: None,
            tier_dir: None,
        }
    }
}

impl std::fmt::Debug for DiskJournalOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskJournalOptions")
            .field("segment_bytes", &self.segment_bytes)
            .field("max_record_bytes", &self.max_record_bytes)
            .field("queue_depth", &self.queue_depth)
            .field("durability", &self.durability)
            .field("create_if_missing", &self.create_if_missing)
            .field("read_only", &self.read_only)
            .field("max_query_limit", &self.max_query_limit)
            .field("preallocate_bytes", &self.preallocate_bytes)
            .field("salvage", &self.salvage)
            .field("retention", &self.retention)
            .field("tier_dir", &self.tier_dir)
            .finish_non_exhaustive()
    }
}

/// Builds and opens a [`DiskJournal`].
///
/// | option | default | fixed at creation? |
/// | --- | --- | --- |
/// | `segment_bytes` | 128 MiB (64 KiB ..= 1 TiB) | yes, kept in `journal.meta` |
/// | `max_record_bytes` | 1 MiB, capped to fit a segment | no |
/// | `queue_depth` | 1024 | no |
/// | `durability` | `Always` | no |
/// | `create_if_missing` | true | no |
/// | `read_only` | false | no |
/// | `max_query_limit` | 10,000 | no |
/// | `map_cache_capacity` | 64 | no |
/// | `recovery` | `TolerateTornTail` | no |
/// | `preallocate_bytes` | 4 MiB (0: off; unused under `Os`) | no |
/// | `salvage` | false (needs `read_only`) | no |
/// | `retention` | none (the journal only grows) | no |
/// | `tier_dir` | none (a writer's policy deletes; a reader reads the live directory only) | no |
#[derive(Clone, Debug)]
pub struct DiskJournalBuilder {
    pub(crate) dir: PathBuf,
    pub(crate) options: DiskJournalOptions,
}

impl DiskJournalBuilder {
    /// Segment size for a new journal (ignored when opening an existing one).
    #[must_use]
    pub fn segment_bytes(mut self, bytes: u64) -> Self {
        self.options.segment_bytes = bytes;
        self
    }
    /// Largest record accepted by appends.
    #[must_use]
    pub fn max_record_bytes(mut self, bytes: u64) -> Self {
        self.options.max_record_bytes = bytes;
        self
    }
    /// Appends queued before `append` blocks.
    #[must_use]
    pub fn queue_depth(mut self, depth: usize) -> Self {
        self.options.queue_depth = depth;
        self
    }
    /// The durability policy.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.options.durability = durability;
        self
    }
    /// Whether to create a missing journal.
    #[must_use]
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.options.create_if_missing = create;
        self
    }
    /// Open read-only.
    #[must_use]
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.options.read_only = read_only;
        self
    }
    /// Cap on a query's limit.
    #[must_use]
    pub fn max_query_limit(mut self, limit: usize) -> Self {
        self.options.max_query_limit = limit;
        self
    }
    /// Segment maps kept at once.
    #[must_use]
    pub fn map_cache_capacity(mut self, capacity: usize) -> Self {
        self.options.map_cache_capacity = capacity;
        self
    }
    /// What a writer's open does with damage at the end of the active segment.
    #[must_use]
    pub fn recovery(mut self, mode: RecoveryMode) -> Self {
        self.options.recovery = mode;
        self
    }
    /// Zero-filled bytes kept written and synced ahead of the active
    /// segment's end (0: off), so syncs never commit a size change.
    #[must_use]
    pub fn preallocate_bytes(mut self, bytes: u64) -> Self {
        self.options.preallocate_bytes = bytes;
        self
    }
    /// Salvage: read what can be read of a damaged journal, listing the
    /// holes (read-only opens only).
    #[must_use]
    pub fn salvage(mut self, salvage: bool) -> Self {
        self.options.salvage = salvage;
        self
    }
    /// The retention policy the writer applies after each roll: the oldest
    /// sealed segments it selects are dropped (docs/DESIGN.md, "Retention").
    #[must_use]
    pub fn retention(mut self, policy: crate::disk::RetentionPolicy) -> Self {
        self.options.retention = Some(policy);
        self
    }
    /// The tier directory: a writer's retention policy moves sealed
    /// segments there instead of deleting them; a read-only open reads its
    /// segments together with the live ones, as one journal.
    #[must_use]
    pub fn tier_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.options.tier_dir = Some(dir.into());
        self
    }
    /// The file-operation seam (for tests that count or inject faults).
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.options.storage = storage;
        self
    }
    /// Replaces every option at once.
    #[must_use]
    pub fn options(mut self, options: DiskJournalOptions) -> Self {
        self.options = options;
        self
    }
    /// Checks the options as [`DiskJournalBuilder::open`] would, without
    /// touching the disk.
    pub fn validate(&self) -> Result<()> {
        validate(&self.options)
    }
    /// Opens (and recovers) the journal.
    pub fn open(self) -> Result<DiskJournal> {
        DiskJournal::open_with(&self.dir, self.options)
    }
}

/// Checks options before anything touches the disk.
pub(crate) fn validate(options: &DiskJournalOptions) -> Result<()> {
    if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&options.segment_bytes) {
        return Err(Error::InvalidOption(format!(
            "segment_bytes {} is outside {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX}",
            options.segment_bytes
        )));
    }
    if options.queue_depth == 0 {
        return Err(Error::InvalidOption(
            "queue_depth must be at least 1".into(),
        ));
    }
    if options.max_record_bytes < (codec::FRAME_HEADER_LEN + codec::BODY_FIXED_LEN) as u64 {
        return Err(Error::InvalidOption(
            "max_record_bytes is smaller than an empty record".into(),
        ));
    }
    if options.salvage && options.tier_dir.is_some() {
        return Err(Error::InvalidOption(
            "salvage reads the live directory only: give no tier directory".into(),
        ));
    }
    if options.salvage && !options.read_only {
        return Err(crate::disk::salvage::refuse_writer());
    }
    if let Durability::EveryRecords(0) = options.durability {
        return Err(Error::InvalidOption(
            "Durability::EveryRecords needs at least 1".into(),
        ));
    }
    Ok(())
}
