//! The [`DiskJournal`] handle: options, open (writer or read-only), the
//! [`EventJournal`] implementation, and following a live writer from a
//! read-only handle.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{SendTimeoutError, Sender};

use crate::codec::{self, SEGMENT_HEADER_LEN};
use crate::disk::index::SealedIndex;
use crate::disk::lock::{WriterLock, writer_is_live};
use crate::disk::meta::{HEAD_FILE, Head, META_FILE, Meta};
use crate::disk::mmap::{MAP_CACHE_CAPACITY, MapCache};
use crate::disk::recovery::{self, ActiveFound, Loaded, RecoveryReport, TornTail};
use crate::disk::segment::{
    OwnedRange, RawRange, ScanStop, Scanner, Segment, SegmentState, View, check_footer,
    index_file_name,
};
use crate::disk::storage::{OpenMode, OsStorage, Storage};
use crate::disk::writer::{self, Request, Shared, Writer};
use crate::entry::{JournalEntry, JournalQueryFilter, JournalQueryResult};
use crate::error::{Error, Result};
use crate::filter::{self, DEFAULT_MAX_QUERY_LIMIT, ResultBuilder};
use crate::journal::{EntryIter, EventJournal};

/// When an append is acknowledged relative to `fdatasync`.
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
    /// The file-operation seam. Default: the real file system.
    pub storage: Arc<dyn Storage>,
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
            storage: OsStorage::shared(),
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
#[derive(Clone, Debug)]
pub struct DiskJournalBuilder {
    dir: PathBuf,
    options: DiskJournalOptions,
}

impl DiskJournalBuilder {
    /// Segment size for a new journal (ignored when opening an existing one).
    pub fn segment_bytes(mut self, bytes: u64) -> Self {
        self.options.segment_bytes = bytes;
        self
    }
    /// Largest record accepted by appends.
    pub fn max_record_bytes(mut self, bytes: u64) -> Self {
        self.options.max_record_bytes = bytes;
        self
    }
    /// Appends queued before `append` blocks.
    pub fn queue_depth(mut self, depth: usize) -> Self {
        self.options.queue_depth = depth;
        self
    }
    /// The durability policy.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.options.durability = durability;
        self
    }
    /// Whether to create a missing journal.
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.options.create_if_missing = create;
        self
    }
    /// Open read-only.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.options.read_only = read_only;
        self
    }
    /// Cap on a query's limit.
    pub fn max_query_limit(mut self, limit: usize) -> Self {
        self.options.max_query_limit = limit;
        self
    }
    /// Segment maps kept at once.
    pub fn map_cache_capacity(mut self, capacity: usize) -> Self {
        self.options.map_cache_capacity = capacity;
        self
    }
    /// What a writer's open does with damage at the end of the active segment.
    pub fn recovery(mut self, mode: RecoveryMode) -> Self {
        self.options.recovery = mode;
        self
    }
    /// The file-operation seam (for tests that count or inject faults).
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.options.storage = storage;
        self
    }
    /// Replaces every option at once.
    pub fn options(mut self, options: DiskJournalOptions) -> Self {
        self.options = options;
        self
    }
    /// Opens (and recovers) the journal.
    pub fn open(self) -> Result<DiskJournal> {
        DiskJournal::open_with(&self.dir, self.options)
    }
}

/// A read-only handle's state for following a live writer.
struct Follower {
    generation: u64,
    active: Option<(Arc<Segment>, Scanner)>,
    latest: u64,
}

/// A durable journal in a directory of segment files.
///
/// One writer process at a time (an OS lock); any number of read-only
/// handles, in this process or others. Appends from any thread go to one
/// writer thread that batches them (group commit).
pub struct DiskJournal {
    dir: PathBuf,
    options: DiskJournalOptions,
    meta: Meta,
    body_len_max: usize,
    record_bytes_max: u64,
    shared: Arc<Shared>,
    maps: Arc<MapCache>,
    sender: RwLock<Option<Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    report: RecoveryReport,
    follower: Option<Mutex<Follower>>,
    /// The writer lock, released by `close`.
    lock: Mutex<Option<WriterLock>>,
}

impl std::fmt::Debug for DiskJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskJournal")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn validate(options: &DiskJournalOptions) -> Result<()> {
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
    if let Durability::EveryRecords(0) = options.durability {
        return Err(Error::InvalidOption(
            "Durability::EveryRecords needs at least 1".into(),
        ));
    }
    Ok(())
}

/// How the active segment's scan ended, judged against what was synced.
enum Tail {
    /// The data ends cleanly at this offset.
    Clean(u64),
    /// Damage after the last sync point: a torn write.
    Torn { at: u64, reason: String },
    /// Damage, or missing bytes, inside the region recorded as synced.
    Corrupt { at: u64, error: Error },
}

/// The recovery rule of docs/FORMAT.md: the synced end is the larger of
/// the records' commit hints and the `head` file's synced end (when it
/// names this segment); damage or an end below it is corruption.
fn classify_tail(found: &ActiveFound, old_head: Option<Head>) -> Tail {
    let head_synced = old_head
        .filter(|h| h.active_base == found.base)
        .map_or(0, |h| h.synced_end);
    let synced = found.scanner.max_commit_hint.max(head_synced);
    let at = found.scanner.position;
    match found.stop {
        ScanStop::Damage(problem) if at < synced => Tail::Corrupt {
            at,
            error: problem.into_error(&found.path, at),
        },
        ScanStop::Damage(problem) => Tail::Torn {
            at,
            reason: problem.describe(),
        },
        _ if at < head_synced => Tail::Corrupt {
            at,
            error: Error::corruption(
                &found.path,
                at,
                format!(
                    "the segment's data ends at byte {at}, but {head_synced} bytes had been synced (truncated file?)"
                ),
            ),
        },
        _ => Tail::Clean(at),
    }
}

impl DiskJournal {
    /// A builder for the journal in `dir`.
    pub fn builder(dir: impl AsRef<Path>) -> DiskJournalBuilder {
        DiskJournalBuilder {
            dir: dir.as_ref().to_path_buf(),
            options: DiskJournalOptions::default(),
        }
    }

    /// Opens (creating if missing) with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<DiskJournal> {
        Self::builder(dir).open()
    }

    /// Opens read-only with default options: never writes to the directory.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<DiskJournal> {
        Self::builder(dir).read_only(true).open()
    }

    /// Opens with the given options.
    pub fn open_with(dir: &Path, options: DiskJournalOptions) -> Result<DiskJournal> {
        validate(&options)?;
        if options.read_only {
            Self::open_reader(dir, options)
        } else {
            Self::open_writer(dir, options)
        }
    }

    fn open_writer(dir: &Path, options: DiskJournalOptions) -> Result<DiskJournal> {
        let storage = options.storage.clone();
        if !dir.exists() {
            if !options.create_if_missing {
                return Err(Error::NotAJournal {
                    path: dir.into(),
                    reason: "the directory does not exist".into(),
                });
            }
            storage.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let meta_path = dir.join(META_FILE);
        if !meta_path.exists() {
            let has_other_files = std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .filter_map(|e| e.ok())
                .any(|e| e.file_name() != crate::disk::lock::LOCK_FILE);
            if has_other_files || !options.create_if_missing {
                return Err(Error::NotAJournal {
                    path: dir.into(),
                    reason: format!(
                        "no {META_FILE}, and the directory is not empty (or creation was not asked for)"
                    ),
                });
            }
        }
        let lock = WriterLock::acquire(dir)?;
        if !meta_path.exists() {
            Meta::new(dir, options.segment_bytes).write(storage.as_ref(), dir)?;
        }
        let old_head = Head::read(dir);
        let maps = Arc::new(MapCache::new(options.map_cache_capacity));
        let Loaded {
            meta,
            mut sealed,
            mut previous_digest,
            rebuilt,
            active,
            mut report,
        } = recovery::load(dir, &maps, None)?;
        for (path, index) in &rebuilt {
            writer::write_index(storage.as_ref(), path, index)?;
        }
        let mut latest = sealed
            .iter()
            .filter_map(|s| s.sealed())
            .map(|s| s.summary.last_sequence)
            .max()
            .unwrap_or(0);
        let active = match active {
            None => {
                writer::create_segment(storage.as_ref(), dir, meta.journal_id, 1, &previous_digest)?
            }
            Some(found) => {
                let path = found.path.clone();
                let file = storage
                    .open(&path, OpenMode::ReadWrite)
                    .map_err(|e| Error::io(&path, e))?;
                if found.header_missing {
                    file.write_all_at(&found.header, 0)
                        .map_err(|e| Error::io(&path, e))?;
                    file.sync_all().map_err(|e| Error::io(&path, e))?;
                    report.repaired_header = true;
                }
                latest = latest.max(found.scanner.summary.last_sequence);
                match found.stop {
                    ScanStop::Footer(footer) => {
                        // Sealed, but the next segment was never created.
                        check_footer(&found.scanner, &footer, &previous_digest, &path)?;
                        let index = SealedIndex {
                            journal_id: meta.journal_id,
                            base_sequence: found.base,
                            summary: found.scanner.summary.clone(),
                            index: found.scanner.index.clone(),
                            footer,
                        };
                        writer::write_index(
                            storage.as_ref(),
                            &dir.join(index_file_name(found.base)),
                            &index,
                        )?;
                        sealed.push(Arc::new(Segment {
                            base: found.base,
                            log_path: path,
                            state: SegmentState::Sealed(Box::new(index)),
                        }));
                        previous_digest = footer.digest;
                        report.completed_roll = true;
                        let next = latest.max(found.base) + 1;
                        writer::create_segment(
                            storage.as_ref(),
                            dir,
                            meta.journal_id,
                            next,
                            &previous_digest,
                        )?
                    }
                    _ => {
                        let end = match classify_tail(&found, old_head) {
                            Tail::Clean(end) => end,
                            Tail::Torn { at, reason }
                                if options.recovery != RecoveryMode::Strict =>
                            {
                                zero_range(file.as_ref(), &path, at, found.file_len)?;
                                report.torn_tail = Some(TornTail {
                                    path: path.clone(),
                                    offset: at,
                                    bytes: found.file_len - at,
                                    reason,
                                    zeroed: true,
                                });
                                at
                            }
                            Tail::Corrupt { at, error }
                                if options.recovery == RecoveryMode::Salvage =>
                            {
                                zero_range(file.as_ref(), &path, at, found.file_len)?;
                                report.corruption = Some(error.to_string());
                                report.salvaged_bytes = found.file_len - at;
                                at
                            }
                            Tail::Torn { at, reason } => {
                                return Err(Error::corruption(
                                    &path,
                                    at,
                                    format!("torn tail refused in strict recovery: {reason}"),
                                ));
                            }
                            Tail::Corrupt { error, .. } => return Err(error),
                        };
                        let s = found.scanner;
                        writer::active_from(
                            path, file, found.base, s.hasher, s.index, s.summary, end,
                        )
                    }
                }
            }
        };
        let head_path = dir.join(HEAD_FILE);
        let head_file = storage
            .open(&head_path, OpenMode::Truncate)
            .map_err(|e| Error::io(&head_path, e))?;
        let mut segments = sealed.clone();
        segments.push(active.segment.clone());
        let shared = Arc::new(Shared {
            view: RwLock::new(Arc::new(View {
                segments,
                active_end: active.end,
                latest,
            })),
            poisoned: Mutex::new(None),
            durable_latest: AtomicU64::new(latest),
        });
        let mut writer = Writer {
            storage: storage.clone(),
            dir: dir.to_path_buf(),
            journal_id: meta.journal_id,
            segment_bytes: meta.segment_bytes,
            durability: options.durability,
            shared: shared.clone(),
            sealed,
            active,
            previous_digest,
            latest,
            head_file,
            head: Head {
                generation: old_head.map_or(0, |h| h.generation),
                ..Head::default()
            },
            unsynced_records: 0,
            last_sync: Instant::now(),
            buffer: Vec::with_capacity(1 << 16),
        };
        writer.publish()?;
        let (sender, receiver) = crossbeam_channel::bounded(options.queue_depth);
        let handle = std::thread::Builder::new()
            .name("baldur-journal-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| Error::io(dir, e))?;
        let body_len_max = recovery::body_len_max(meta.segment_bytes);
        Ok(DiskJournal {
            dir: dir.to_path_buf(),
            record_bytes_max: options
                .max_record_bytes
                .min((body_len_max + codec::FRAME_HEADER_LEN) as u64),
            options,
            meta,
            body_len_max,
            shared,
            maps,
            sender: RwLock::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
            report,
            follower: None,
            lock: Mutex::new(Some(lock)),
        })
    }

    fn open_reader(dir: &Path, options: DiskJournalOptions) -> Result<DiskJournal> {
        let maps = Arc::new(MapCache::new(options.map_cache_capacity));
        let head = if writer_is_live(dir) {
            Head::read(dir)
        } else {
            None
        };
        let (loaded_view, follower, report, meta) = load_for_reading(dir, &maps, head)?;
        let body_len_max = recovery::body_len_max(meta.segment_bytes);
        Ok(DiskJournal {
            dir: dir.to_path_buf(),
            record_bytes_max: 0,
            options,
            meta,
            body_len_max,
            shared: Arc::new(Shared {
                durable_latest: AtomicU64::new(loaded_view.latest),
                view: RwLock::new(Arc::new(loaded_view)),
                poisoned: Mutex::new(None),
            }),
            maps,
            sender: RwLock::new(None),
            writer: Mutex::new(None),
            closed: AtomicBool::new(false),
            report,
            follower: Some(Mutex::new(follower)),
            lock: Mutex::new(None),
        })
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What opening the journal found and repaired.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The journal's identity (16 random bytes fixed at creation).
    pub fn journal_id(&self) -> [u8; 16] {
        self.meta.journal_id
    }

    /// The segment size fixed at creation.
    pub fn segment_bytes(&self) -> u64 {
        self.meta.segment_bytes
    }

    /// True for a read-only handle.
    pub fn is_read_only(&self) -> bool {
        self.follower.is_some()
    }

    /// The latest sequence known durable.
    pub fn durable_sequence(&self) -> u64 {
        self.shared.durable_latest.load(Ordering::Acquire)
    }

    /// Segments, sizes, sequence and time ranges, gaps and disk usage.
    pub fn info(&self) -> Result<crate::disk::JournalInfo> {
        self.refresh()?;
        crate::disk::info::collect(
            &self.dir,
            &self.meta,
            self.shared.view(),
            self.maps.clone(),
            self.body_len_max,
        )
    }

    /// Appends waiting in the write queue right now (for monitoring).
    pub fn queue_len(&self) -> usize {
        self.sender
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, Sender::len)
    }

    /// Appends like [`EventJournal::append`], but gives up with
    /// [`Error::QueueTimeout`] when the write queue stays full for `timeout`.
    pub fn append_timeout(&self, entry: &JournalEntry, timeout: Duration) -> Result<u64> {
        let (bodies, count) = self.encode(std::slice::from_ref(entry))?;
        self.submit(
            |ack| Request::Append {
                bodies,
                count,
                at: None,
                ack,
            },
            Some(timeout),
        )
    }

    /// Waits until `sequence` (and everything before it) is durable.
    pub fn wait_durable(&self, sequence: u64) -> Result<()> {
        if self.durable_sequence() >= sequence {
            return Ok(());
        }
        self.submit(|ack| Request::Sync { ack }, None).map(|_| ())
    }

    /// A borrowed, zero-copy reader over `start <= sequence < end`.
    pub fn range_ref(&self, start: u64, end: u64) -> Result<RawRange> {
        self.refresh()?;
        Ok(RawRange::new(
            self.shared.view(),
            self.maps.clone(),
            self.body_len_max,
            start,
            end,
        ))
    }

    /// Drains the queue, syncs, and stops the writer. Appends racing the
    /// close get [`Error::Closed`]. Returns the error that poisoned the
    /// journal, if one did.
    pub fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        // Taking the sender waits for in-flight sends; dropping it lets the
        // writer drain what is queued, sync, and exit.
        drop(
            self.sender
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        // Hold the handle's lock while joining, so a concurrent `close`
        // returns only once the writer has drained, synced and stopped.
        let mut handle = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(thread) = handle.take()
            && thread.join().is_err()
        {
            self.shared.poison("the writer thread panicked".into());
        }
        drop(handle);
        // Only now, with the writer gone, may another process take over.
        drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()).take());
        match self.shared.poison_reason() {
            Some(reason) => Err(Error::Poisoned(reason)),
            None => Ok(()),
        }
    }

    fn encode(&self, entries: &[JournalEntry]) -> Result<(Vec<u8>, usize)> {
        if self.follower.is_some() {
            return Err(Error::ReadOnly);
        }
        let mut bodies = Vec::with_capacity(entries.len() * 256);
        for entry in entries {
            let start = bodies.len();
            codec::encode_body(entry, &mut bodies)?;
            let size = (bodies.len() - start + codec::FRAME_HEADER_LEN) as u64;
            if size > self.record_bytes_max {
                return Err(Error::RecordTooLarge {
                    size,
                    max: self.record_bytes_max,
                });
            }
        }
        Ok((bodies, entries.len()))
    }

    fn writer_gone(&self) -> Error {
        if self.closed.load(Ordering::Acquire) {
            return Error::Closed;
        }
        self.shared
            .poison("the writer thread stopped unexpectedly".into());
        Error::Poisoned(self.shared.poison_reason().unwrap_or_default())
    }

    fn submit(
        &self,
        make: impl FnOnce(Sender<Result<u64>>) -> Request,
        timeout: Option<Duration>,
    ) -> Result<u64> {
        if self.follower.is_some() {
            return Err(Error::ReadOnly);
        }
        if let Some(reason) = self.shared.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        let (ack, reply) = crossbeam_channel::bounded(1);
        let request = make(ack);
        {
            let guard = self.sender.read().unwrap_or_else(|e| e.into_inner());
            let Some(sender) = guard.as_ref() else {
                return Err(Error::Closed);
            };
            match timeout {
                None => sender.send(request).map_err(|_| self.writer_gone())?,
                Some(t) => match sender.send_timeout(request, t) {
                    Ok(()) => {}
                    Err(SendTimeoutError::Timeout(_)) => return Err(Error::QueueTimeout(t)),
                    Err(SendTimeoutError::Disconnected(_)) => return Err(self.writer_gone()),
                },
            }
        }
        reply.recv().map_err(|_| self.writer_gone())?
    }

    /// For a read-only handle: catches up with what a live writer has
    /// published since the last call.
    fn refresh(&self) -> Result<()> {
        let Some(follower) = &self.follower else {
            return Ok(());
        };
        if !writer_is_live(&self.dir) {
            return Ok(());
        }
        let Some(head) = Head::read(&self.dir) else {
            return Ok(());
        };
        let mut f = follower.lock().unwrap_or_else(|e| e.into_inner());
        if head.generation == f.generation {
            return Ok(());
        }
        let same_segment = f
            .active
            .as_ref()
            .is_some_and(|(segment, _)| segment.base == head.active_base);
        if same_segment {
            let (segment, scanner) = f.active.as_mut().expect("checked above");
            if head.published_end > scanner.position {
                let map = self
                    .maps
                    .get(segment.base, &segment.log_path, head.published_end)?;
                scanner.scan(map.bytes(), head.published_end);
                if let SegmentState::Active(index) = &segment.state {
                    *index.write().unwrap_or_else(|e| e.into_inner()) = scanner.index.clone();
                }
            }
            let end = scanner.position;
            let latest = if scanner.summary.record_count > 0 {
                scanner.summary.last_sequence
            } else {
                f.latest
            };
            let segments = self.shared.view().segments.clone();
            self.shared.publish(View {
                segments,
                active_end: end,
                latest,
            });
            f.latest = latest;
        } else {
            self.maps.clear();
            let (view, fresh, _, _) = load_for_reading(&self.dir, &self.maps, Some(head))?;
            self.shared.publish(view);
            *f = fresh;
        }
        f.generation = head.generation;
        Ok(())
    }

    fn skip_for(query: &JournalQueryFilter) -> crate::disk::segment::SegmentSkip {
        let start = query.start_time.map(|t| t.as_unix_nanos());
        let end = query.end_time.map(|t| t.as_unix_nanos());
        let types = query.event_types.clone();
        Box::new(move |summary| {
            if summary.record_count == 0 {
                return true;
            }
            if start.is_some_and(|s| summary.max_timestamp_ns < s)
                || end.is_some_and(|e| summary.min_timestamp_ns >= e)
            {
                return true;
            }
            match (&types, &summary.event_types) {
                (Some(wanted), Some(present)) => !wanted.iter().any(|t| present.contains_key(t)),
                _ => false,
            }
        })
    }
}

impl Drop for DiskJournal {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn zero_range(
    file: &dyn crate::disk::storage::StorageFile,
    path: &Path,
    from: u64,
    to: u64,
) -> Result<()> {
    const ZERO_CHUNK_BYTES: usize = 64 << 10;
    let zeros = vec![0u8; ZERO_CHUNK_BYTES];
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(ZERO_CHUNK_BYTES);
        file.write_all_at(&zeros[..n], at)
            .map_err(|e| Error::io(path, e))?;
        at += n as u64;
    }
    file.sync_data().map_err(|e| Error::io(path, e))
}

/// Loads a directory for a read-only handle: never writes; a damaged tail
/// is reported and the intact prefix served.
fn load_for_reading(
    dir: &Path,
    maps: &MapCache,
    head: Option<Head>,
) -> Result<(View, Follower, RecoveryReport, Meta)> {
    let Loaded {
        meta,
        mut sealed,
        previous_digest,
        rebuilt: _,
        active,
        mut report,
    } = recovery::load(dir, maps, head)?;
    let mut latest = sealed
        .iter()
        .filter_map(|s| s.sealed())
        .map(|s| s.summary.last_sequence)
        .max()
        .unwrap_or(0);
    let mut follower = Follower {
        generation: head.map_or(0, |h| h.generation),
        active: None,
        latest: 0,
    };
    let mut active_end = SEGMENT_HEADER_LEN as u64;
    if let Some(found) = active {
        latest = latest.max(found.scanner.summary.last_sequence);
        let mut sealed_now = None;
        match found.stop {
            ScanStop::Footer(footer) => {
                check_footer(&found.scanner, &footer, &previous_digest, &found.path)?;
                sealed_now = Some(SealedIndex {
                    journal_id: meta.journal_id,
                    base_sequence: found.base,
                    summary: found.scanner.summary.clone(),
                    index: found.scanner.index.clone(),
                    footer,
                });
            }
            _ => match classify_tail(&found, head.or_else(|| Head::read(dir))) {
                Tail::Clean(_) => {}
                Tail::Corrupt { error, .. } => report.corruption = Some(error.to_string()),
                Tail::Torn { at, reason } => {
                    report.torn_tail = Some(TornTail {
                        path: found.path.clone(),
                        offset: at,
                        bytes: found.file_len.saturating_sub(at),
                        reason,
                        zeroed: false,
                    });
                }
            },
        }
        match sealed_now {
            Some(index) => sealed.push(Arc::new(Segment {
                base: found.base,
                log_path: found.path,
                state: SegmentState::Sealed(Box::new(index)),
            })),
            None => {
                active_end = found.scanner.position;
                let index = Arc::new(RwLock::new(found.scanner.index.clone()));
                let segment = Arc::new(Segment {
                    base: found.base,
                    log_path: found.path,
                    state: SegmentState::Active(index),
                });
                sealed.push(segment.clone());
                follower.active = Some((segment, found.scanner));
            }
        }
    }
    follower.latest = latest;
    Ok((
        View {
            segments: sealed,
            active_end,
            latest,
        },
        follower,
        report,
        meta,
    ))
}

impl EventJournal for DiskJournal {
    fn append(&self, entry: &JournalEntry) -> Result<u64> {
        let (bodies, count) = self.encode(std::slice::from_ref(entry))?;
        self.submit(
            |ack| Request::Append {
                bodies,
                count,
                at: None,
                ack,
            },
            None,
        )
    }

    fn append_batch(&self, entries: &[JournalEntry]) -> Result<Vec<u64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (bodies, count) = self.encode(entries)?;
        let first = self.submit(
            |ack| Request::Append {
                bodies,
                count,
                at: None,
                ack,
            },
            None,
        )?;
        Ok((first..first + count as u64).collect())
    }

    fn append_at(&self, sequence: u64, entry: &JournalEntry) -> Result<()> {
        let (bodies, count) = self.encode(std::slice::from_ref(entry))?;
        self.submit(
            |ack| Request::Append {
                bodies,
                count,
                at: Some(sequence),
                ack,
            },
            None,
        )
        .map(|_| ())
    }

    fn query(&self, query: &JournalQueryFilter) -> Result<JournalQueryResult> {
        let limit = filter::effective_limit(query, self.options.max_query_limit)?;
        let mut result = ResultBuilder::new(limit);
        if filter::matches_nothing(query) {
            return Ok(result.finish());
        }
        let mut range = self
            .range_ref(0, u64::MAX)?
            .skip_sealed(Self::skip_for(query));
        while let Some(record) = range.next_entry() {
            let record = record?;
            if filter::matches(query, &record) {
                result.push_with(|| record.to_entry());
            }
        }
        Ok(result.finish())
    }

    fn get_latest_sequence(&self) -> Result<u64> {
        self.refresh()?;
        Ok(self.shared.view().latest)
    }

    fn count(&self, query: &JournalQueryFilter) -> Result<u64> {
        filter::effective_limit(query, self.options.max_query_limit)?;
        if filter::matches_nothing(query) {
            return Ok(0);
        }
        self.refresh()?;
        let view = self.shared.view();
        let summary_answers = !filter::needs_scan_beyond_types(query);
        let mut total = 0u64;
        for (i, segment) in view.segments.iter().enumerate() {
            if let (true, Some(sealed)) = (summary_answers, segment.sealed()) {
                let summary = &sealed.summary;
                match (&query.event_types, &summary.event_types) {
                    (None, _) => {
                        total += summary.record_count;
                        continue;
                    }
                    (Some(wanted), Some(present)) => {
                        let mut unique: Vec<&String> = wanted.iter().collect();
                        unique.sort_unstable();
                        unique.dedup();
                        total += unique.iter().filter_map(|t| present.get(*t)).sum::<u64>();
                        continue;
                    }
                    (Some(_), None) => {}
                }
            }
            let mut range = RawRange::new(
                view.clone(),
                self.maps.clone(),
                self.body_len_max,
                0,
                u64::MAX,
            )
            .segments(i, i + 1)
            .skip_sealed(Self::skip_for(query));
            while let Some(record) = range.next_entry() {
                if filter::matches(query, &record?) {
                    total += 1;
                }
            }
        }
        Ok(total)
    }

    fn range_iter(&self, start: u64, end: u64) -> Result<EntryIter<'_>> {
        Ok(Box::new(OwnedRange(self.range_ref(start, end)?)))
    }

    fn sync(&self) -> Result<()> {
        if self.follower.is_some() {
            return Ok(());
        }
        self.submit(|ack| Request::Sync { ack }, None).map(|_| ())
    }
}
