//! The [`DiskJournal`] handle (the facade): opening, the writer queue and
//! appends, closing, and the [`EventJournal`] implementation. Following a
//! live writer is `follow.rs`; counting and filtered reads `count.rs`; the
//! head and anchoring `head.rs`; the retention API `handle_retention.rs`;
//! opening `open.rs`, options `options.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{SendTimeoutError, Sender};

use crate::codec::{self, EntryRef};
use crate::disk::count::ActiveSummary;
use crate::disk::lock::WriterLock;
use crate::disk::meta::Meta;
use crate::disk::mmap::MapCache;
use crate::disk::open::Follower;
use crate::disk::options::{DiskJournalBuilder, DiskJournalOptions, validate};
use crate::disk::recovery::RecoveryReport;
use crate::disk::segment::{OwnedRange, RawRange};
use crate::disk::skip::Conditions;
use crate::disk::writer::{Request, Shared};
use crate::entry::{JournalEntry, JournalQueryFilter, JournalQueryResult, QueryOptions};
use crate::error::{Error, Result};
use crate::filter::{self, ResultBuilder};
use crate::journal::{EntryIter, EventJournal};

/// A durable journal in a directory of segment files.
///
/// One writer process at a time (an OS lock); any number of read-only
/// handles, in this process or others. Appends from any thread go to one
/// writer thread that batches them (group commit).
pub struct DiskJournal {
    pub(super) dir: PathBuf,
    pub(super) options: DiskJournalOptions,
    pub(super) meta: Meta,
    pub(super) body_len_max: usize,
    pub(super) record_bytes_max: u64,
    pub(super) shared: Arc<Shared>,
    pub(super) maps: Arc<MapCache>,
    pub(super) sender: RwLock<Option<Sender<Request>>>,
    pub(super) writer: Mutex<Option<JoinHandle<()>>>,
    pub(super) closed: AtomicBool,
    pub(super) report: RecoveryReport,
    pub(super) follower: Option<Mutex<Follower>>,
    /// The writer lock, released by `close`.
    pub(super) lock: Mutex<Option<WriterLock>>,
    /// The summary of the active segment's readable records, as far as
    /// counts have read them: extended by what was appended since, so a
    /// count answered from summaries reads only new records.
    pub(super) active_summary: Mutex<Option<ActiveSummary>>,
    /// Blocks queries and counts read, and passed by ([`ReadStats`]).
    pub(super) blocks_read: AtomicU64,
    pub(super) blocks_passed: AtomicU64,
    /// Times a follower reloaded the directory (a writer came or went):
    /// what was summarised may have been zeroed and written again.
    pub(super) reloads: AtomicU64,
    /// What a salvage open could not read (empty otherwise).
    pub(super) holes: Vec<crate::disk::Hole>,
    /// The caller's retention floor, shared with the writer (`u64::MAX`:
    /// none).
    pub(super) retention_floor: Arc<AtomicU64>,
    /// The writer itself, for appends written on the calling thread under
    /// `Os` and `EveryRecords` (`None`: every request goes to the writer
    /// thread).
    pub(super) direct: Option<crate::disk::writer::SharedWriter>,
}

/// Counters of a writer, from [`DiskJournal::write_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Records appended.
    pub records: u64,
    /// `fdatasync`s that made appended records durable.
    pub syncs: u64,
}

impl WriteStats {
    /// Records per sync (the mean group-commit batch), if any sync ran.
    #[must_use]
    pub fn mean_batch(&self) -> Option<f64> {
        (self.syncs > 0).then(|| self.records as f64 / self.syncs as f64)
    }
}

impl std::fmt::Debug for DiskJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskJournal")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
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

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What this handle's writer has done since the open: records
    /// appended and the `fdatasync`s that made appended records durable,
    /// so `records / syncs` is the mean group-commit batch. Zeros for a
    /// read-only handle.
    pub fn write_stats(&self) -> WriteStats {
        WriteStats {
            records: self.shared.records_written.load(Ordering::Relaxed),
            syncs: self.shared.record_syncs.load(Ordering::Relaxed),
        }
    }

    /// Segment files this handle has mapped now (reads map segments
    /// lazily and keep at most `map_cache_capacity`); opening maps none of
    /// the sealed ones.
    pub fn mapped_segments(&self) -> usize {
        self.maps.len()
    }

    /// What opening the journal found and repaired.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// What a salvage open ([`DiskJournalBuilder::salvage`]) could not
    /// read, in file order: reads skip these holes. Empty for any other
    /// open, and for a salvage open of an intact journal.
    pub fn holes(&self) -> &[crate::disk::Hole] {
        &self.holes
    }

    /// The journal's identity (16 random bytes fixed at creation).
    pub fn journal_id(&self) -> [u8; 16] {
        self.meta.journal_id
    }

    /// The segment size fixed at creation.
    pub fn segment_bytes(&self) -> u64 {
        self.meta.segment_bytes
    }

    /// The largest record (frame) `append` accepts: the `max_record_bytes`
    /// option, capped to fit a segment.
    pub fn max_record_bytes(&self) -> u64 {
        self.record_bytes_max
    }

    /// The storage seam this journal writes through (its options').
    pub fn storage(&self) -> Arc<dyn crate::storage::Storage> {
        self.options.storage.clone()
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
        self.append_entries(std::slice::from_ref(entry), None, Some(timeout))
    }

    /// Appends `entries` at sequences `first`, `first + 1`, ... in one
    /// request, like that many [`EventJournal::append_at`] calls: when
    /// every entry has an append time, the times are kept (an import, or
    /// a bench with synthetic append times); otherwise all are stamped
    /// now. `first` must be above the latest sequence.
    pub fn append_batch_at(&self, first: u64, entries: &[JournalEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.append_entries(entries, Some(first), None).map(|_| ())
    }

    /// Waits until `sequence` (and everything before it) is durable.
    pub fn wait_durable(&self, sequence: u64) -> Result<()> {
        if self.durable_sequence() >= sequence {
            return Ok(());
        }
        self.submit(|ack| Request::Sync { ack }, None).map(|_| ())
    }

    /// A borrowed, zero-copy reader over every record with `start <=
    /// sequence`, to the end of the journal (`u64::MAX` included).
    pub fn range_ref_from(&self, start: u64) -> Result<RawRange> {
        self.refresh()?;
        Ok(RawRange::from_sequence(
            self.shared.view(),
            self.maps.clone(),
            self.body_len_max,
            start,
        ))
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

    /// Encodes `entries` on the caller's thread and hands them to the
    /// writer as one request; returns the first assigned sequence.
    pub(super) fn append_entries(
        &self,
        entries: &[JournalEntry],
        at: Option<u64>,
        timeout: Option<Duration>,
    ) -> Result<u64> {
        self.append_request(entries, at, None, timeout)
    }

    pub(super) fn append_request(
        &self,
        entries: &[JournalEntry],
        at: Option<u64>,
        expect_latest: Option<u64>,
        timeout: Option<Duration>,
    ) -> Result<u64> {
        let (bodies, count) = self.encode(entries)?;
        // `append_at` carries one entry, whose append time it keeps if given.
        let keep_time = at.is_some() && entries.iter().all(|e| e.appended_at.is_some());
        self.submit(
            |ack| Request::Append {
                bodies,
                count,
                at,
                keep_time,
                expect_latest,
                ack,
            },
            timeout,
        )
    }

    pub(super) fn encode(&self, entries: &[JournalEntry]) -> Result<(Vec<u8>, usize)> {
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

    pub(super) fn writer_gone(&self) -> Error {
        if self.closed.load(Ordering::Acquire) {
            return Error::Closed;
        }
        self.shared
            .poison("the writer thread stopped unexpectedly".into());
        Error::Poisoned(self.shared.poison_reason().unwrap_or_default())
    }

    pub(super) fn submit(
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
        if let Some(writer) = &self.direct {
            if self.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            // Written on this thread: the reply is sent before `direct`
            // returns. A panic poisons the journal, as the writer thread's
            // would.
            let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                crate::disk::writer::lock_writer(writer).direct(request);
            }));
            if written.is_err() {
                self.shared
                    .poison("the writer panicked during an append".into());
                return Err(Error::Poisoned(
                    self.shared.poison_reason().unwrap_or_default(),
                ));
            }
            return reply.recv().map_err(|_| self.writer_gone())?;
        }
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
}

impl Drop for DiskJournal {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl EventJournal for DiskJournal {
    fn append(&self, entry: &JournalEntry) -> Result<u64> {
        self.append_entries(std::slice::from_ref(entry), None, None)
    }

    fn append_batch(&self, entries: &[JournalEntry]) -> Result<Vec<u64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.append_entries(entries, None, None)?;
        // The writer checked that `first + count - 1` fits.
        Ok((first..=first + (entries.len() as u64 - 1)).collect())
    }

    fn append_batch_if_latest(
        &self,
        expected_latest: u64,
        entries: &[JournalEntry],
    ) -> Result<Option<Vec<u64>>> {
        if entries.is_empty() {
            return Ok((self.get_latest_sequence()? == expected_latest).then(Vec::new));
        }
        match self.append_request(entries, None, Some(expected_latest), None) {
            Ok(first) => Ok(Some((first..=first + (entries.len() as u64 - 1)).collect())),
            Err(Error::LatestMoved { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn append_at(&self, sequence: u64, entry: &JournalEntry) -> Result<()> {
        self.append_entries(std::slice::from_ref(entry), Some(sequence), None)
            .map(|_| ())
    }

    fn query(&self, query: &JournalQueryFilter) -> Result<JournalQueryResult> {
        self.query_with(query, &QueryOptions::default())
    }

    fn query_with(
        &self,
        query: &JournalQueryFilter,
        options: &QueryOptions,
    ) -> Result<JournalQueryResult> {
        let limit = filter::effective_limit(query, self.options.max_query_limit)?;
        let mut result = ResultBuilder::new(limit);
        let Some(first) = Self::first_sequence(query, options) else {
            return Ok(result.finish());
        };
        self.refresh()?;
        let view = self.shared.view();
        let mut range = self.filtered_range(&view, query, options, first);
        let mut total = 0u64;
        // The segment of the last match, and the matches read in it.
        let mut current = (usize::MAX, 0u64);
        let mut full_at = None;
        while let Some(record) = range.next_entry() {
            let record = record?;
            if options.admits(record.sequence, record.appended_at)
                && filter::matches(query, &record)
            {
                total += 1;
                let sequence = record.sequence;
                result.push_with(|| record.to_entry());
                let segment = range.current_segment();
                if segment != current.0 {
                    current = (segment, 0);
                }
                current.1 += 1;
                if result.len() == limit {
                    full_at = Some(sequence);
                    break;
                }
            }
        }
        self.note_reads(&range);
        if let Some(last) = full_at {
            // The page is full: the rest is only counted, from the
            // summaries where they can tell. The segment being read counts
            // whole by its summary when it can (its matches read so far
            // are among them), else from the next record on.
            let (segment, read_in_it) = current;
            let conditions = Conditions::new(query, options);
            let whole = if first <= view.segments[segment].base {
                self.segment_matches(&view, segment, &conditions)?
            } else {
                None
            };
            match (whole, view.segments.get(segment + 1)) {
                (Some(n), next) => {
                    total = total - read_in_it + n;
                    if let Some(next) = next {
                        total += self.count_in(&view, query, options, next.base)?;
                    }
                }
                (None, _) => {
                    if let Some(next) = last.checked_add(1) {
                        total += self.count_in(&view, query, options, next)?;
                    }
                }
            }
        }
        Ok(result.finish_with_total(total))
    }

    fn get_latest_sequence(&self) -> Result<u64> {
        self.refresh()?;
        Ok(self.shared.view().latest)
    }

    fn count(&self, query: &JournalQueryFilter) -> Result<u64> {
        self.count_with(query, &QueryOptions::default())
    }

    fn count_with(&self, query: &JournalQueryFilter, options: &QueryOptions) -> Result<u64> {
        filter::effective_limit(query, self.options.max_query_limit)?;
        let Some(first) = Self::first_sequence(query, options) else {
            return Ok(0);
        };
        self.refresh()?;
        self.count_in(&self.shared.view(), query, options, first)
    }

    fn range_iter(&self, start: u64, end: u64) -> Result<EntryIter<'_>> {
        Ok(Box::new(OwnedRange(self.range_ref(start, end)?)))
    }

    fn range_iter_from(&self, start: u64) -> Result<EntryIter<'_>> {
        Ok(Box::new(OwnedRange(self.range_ref_from(start)?)))
    }

    fn for_each_ref_from(
        &self,
        start: u64,
        visit: &mut dyn FnMut(&EntryRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut range = self.range_ref_from(start)?;
        while let Some(record) = range.next_entry() {
            visit(&record?)?;
        }
        Ok(())
    }

    fn for_each_ref(
        &self,
        start: u64,
        end: u64,
        visit: &mut dyn FnMut(&EntryRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut range = self.range_ref(start, end)?;
        while let Some(record) = range.next_entry() {
            visit(&record?)?;
        }
        Ok(())
    }

    /// No drop (by policy or by hand) removes a segment holding a sequence
    /// at or above `floor` (`None`: no floor).
    fn set_retention_floor(&self, floor: Option<u64>) {
        self.retention_floor
            .store(floor.unwrap_or(u64::MAX), Ordering::Release);
    }

    fn sync(&self) -> Result<()> {
        if self.follower.is_some() {
            return Ok(());
        }
        self.submit(|ack| Request::Sync { ack }, None).map(|_| ())
    }
}

impl crate::storage::JournalFiles for DiskJournal {
    fn dir(&self) -> &Path {
        DiskJournal::dir(self)
    }

    fn journal_id(&self) -> [u8; 16] {
        DiskJournal::journal_id(self)
    }

    fn is_read_only(&self) -> bool {
        DiskJournal::is_read_only(self)
    }

    fn storage(&self) -> Arc<dyn crate::storage::Storage> {
        DiskJournal::storage(self)
    }
}
