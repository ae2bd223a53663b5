//! The single writer: one thread owns the active segment, assigns
//! sequences, writes each batch with one positional write, syncs once per
//! batch as the durability policy says (group commit), publishes the new
//! end, then acknowledges every append of the batch in sequence order.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use sha2::{Digest, Sha256};

use crate::codec::{
    self, FOOTER_FRAME_LEN, FRAME_HEADER_LEN, Footer, SEGMENT_HEADER_LEN, SegmentHeader,
};
use crate::disk::Durability;
use crate::disk::index::{SealedIndex, SparseIndex, Summary};
use crate::disk::meta::Head;
use crate::disk::retention::{DropReport, RetentionPolicy};
use crate::disk::segment::{Segment, SegmentState, View, index_file_name, log_file_name};
use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::storage::{OpenMode, Storage, StorageFile};

/// Requests drained into one batch at most.
pub(crate) const BATCH_REQUESTS_MAX: usize = 4096;
/// Encoded bytes drained into one batch at most (one request may exceed it).
pub(crate) const BATCH_BYTES_MAX: usize = 8 << 20;

/// A message to the writer thread.
pub(crate) enum Request {
    /// Append the encoded bodies (a run of `count` bodies); the reply is
    /// the first assigned sequence.
    Append {
        bodies: Vec<u8>,
        count: usize,
        at: Option<u64>,
        /// Keep the append time encoded in each body (import, mirroring).
        keep_time: bool,
        /// Append only if the latest sequence is this one (compare-and-set);
        /// otherwise reply [`Error::LatestMoved`] and write nothing.
        expect_latest: Option<u64>,
        ack: Sender<Result<u64>>,
    },
    /// Reply once everything before this request is durable.
    Sync { ack: Sender<Result<u64>> },
    /// Drop the oldest sealed segments a policy selects (or, dry run, say
    /// which it would).
    Retain {
        policy: RetentionPolicy,
        dry_run: bool,
        /// Move to this tier directory instead of deleting.
        tier: Option<PathBuf>,
        ack: Sender<Result<DropReport>>,
    },
}

impl Request {
    /// Answers the request with `error` (or, for an append or sync in a
    /// failed batch, `reply`).
    fn refuse(self, error: impl Fn() -> Error) {
        match self {
            Request::Append { ack, .. } | Request::Sync { ack } => {
                let _ = ack.send(Err(error()));
            }
            Request::Retain { ack, .. } => {
                let _ = ack.send(Err(error()));
            }
        }
    }
}

/// State shared by the writer, the journal handle and readers.
pub(crate) struct Shared {
    pub view: RwLock<Arc<View>>,
    pub poisoned: Mutex<Option<String>>,
    /// The latest sequence known durable.
    pub durable_latest: AtomicU64,
    /// Records this writer appended (since the open).
    pub records_written: AtomicU64,
    /// `fdatasync`s of the active segment that made appended records
    /// durable (preallocation and sealing syncs not counted).
    pub record_syncs: AtomicU64,
}

impl Shared {
    pub(crate) fn view(&self) -> Arc<View> {
        self.view.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn publish(&self, view: View) {
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(view);
    }

    pub(crate) fn poison_reason(&self) -> Option<String> {
        self.poisoned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn poison(&self, reason: String) {
        let mut slot = self.poisoned.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
    }
}

/// The segment being written.
pub(crate) struct Active {
    pub segment: Arc<Segment>,
    pub file: Box<dyn StorageFile>,
    pub index: Arc<RwLock<SparseIndex>>,
    pub summary: Summary,
    pub hasher: Sha256,
    /// Bytes written.
    pub end: u64,
    /// Bytes known durable.
    pub synced_end: u64,
    /// The file's length: zeros from `end` up to it were written by the
    /// preallocation (or are a zeroed torn tail).
    pub prefilled: u64,
}

/// The writer thread's state.
pub(crate) struct Writer {
    pub storage: Arc<dyn Storage>,
    pub dir: PathBuf,
    pub journal_id: [u8; 16],
    pub segment_bytes: u64,
    pub durability: Durability,
    pub shared: Arc<Shared>,
    pub sealed: Vec<Arc<Segment>>,
    pub active: Active,
    pub previous_digest: [u8; 32],
    pub latest: u64,
    pub head_file: Box<dyn StorageFile>,
    pub head: Head,
    pub unsynced_records: u64,
    pub last_sync: Instant,
    pub buffer: Vec<u8>,
    /// Zero-filled bytes to keep ahead of the end (0: off).
    pub preallocate_bytes: u64,
    /// The newest retention mark record (`None`: nothing dropped yet).
    pub mark_record: Option<crate::codec::RetentionMark>,
    /// The policy applied after each roll, if any.
    pub retention: Option<RetentionPolicy>,
    /// Where the policy moves segments (`None`: it deletes them).
    pub retention_tier: Option<PathBuf>,
    /// The writer thread has ended (the journal closed): direct appends
    /// are refused.
    pub closed: bool,
    /// The caller's floor: nothing at or above it is dropped (`u64::MAX`:
    /// no floor).
    pub retention_floor: Arc<AtomicU64>,
}

/// A reply owed to a caller once the batch is settled.
struct Pending {
    ack: Sender<Result<u64>>,
    reply: Result<u64>,
}

/// The writer, shared by its thread and, under a policy that never syncs
/// on a timer, by appending threads that write directly.
pub(crate) type SharedWriter = Arc<Mutex<Writer>>;

/// Locks the writer (a panic while it was held left it as it was: the
/// journal was poisoned then, and every later write is refused).
pub(crate) fn lock_writer(writer: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    writer.lock().unwrap_or_else(|e| e.into_inner())
}

/// The writer thread: runs until every sender is gone, then syncs and
/// returns. It takes the writer's lock only to process what it received
/// (or to sync when an interval elapses), never while it waits.
pub(crate) fn run(writer: SharedWriter, requests: Receiver<Request>) {
    let mut batch: Vec<Request> = Vec::with_capacity(64);
    loop {
        let first = match wait_for_request(&writer, &requests) {
            Some(request) => request,
            None => break,
        };
        let mut retain = None;
        match first {
            Request::Retain { .. } => retain = Some(first),
            other => batch.push(other),
        }
        let mut bytes = 0;
        while retain.is_none() && batch.len() < BATCH_REQUESTS_MAX && bytes < BATCH_BYTES_MAX {
            match requests.try_recv() {
                Ok(request @ Request::Retain { .. }) => retain = Some(request),
                Ok(request) => {
                    if let Request::Append { bodies, .. } = &request {
                        bytes += bodies.len();
                    }
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
        let mut w = lock_writer(&writer);
        if !batch.is_empty() {
            w.process(&mut batch);
        }
        if let Some(Request::Retain {
            policy,
            dry_run,
            tier,
            ack,
        }) = retain
        {
            let reply = match w.shared.poison_reason() {
                Some(reason) => Err(Error::Poisoned(reason)),
                // A failed copy to the tier removed nothing: the journal
                // goes on; a failure from the mark on poisons it.
                None => w.retain(&policy, dry_run, tier.as_deref()),
            };
            let _ = ack.send(reply);
        }
    }
    let mut w = lock_writer(&writer);
    // No direct append after this: they get `Closed`.
    w.closed = true;
    // IMPORTANT: closing syncs, so a clean close loses nothing under any policy.
    if w.shared.poison_reason().is_none()
        && let Err(e) = w.sync_and_publish()
    {
        w.shared.poison(e.to_string());
    }
}

/// The next request; under an interval policy, syncs when the interval
/// elapses while waiting. `None` once every sender is gone.
fn wait_for_request(writer: &Mutex<Writer>, requests: &Receiver<Request>) -> Option<Request> {
    loop {
        let due = {
            let w = lock_writer(writer);
            match w.durability {
                Durability::Interval(every) if w.unsynced_records > 0 => Some(w.last_sync + every),
                _ => None,
            }
        };
        let Some(due) = due else {
            return requests.recv().ok();
        };
        let wait = due.saturating_duration_since(Instant::now());
        match requests.recv_timeout(wait) {
            Ok(request) => return Some(request),
            Err(RecvTimeoutError::Timeout) => {
                let mut w = lock_writer(writer);
                if w.shared.poison_reason().is_none()
                    && let Err(e) = w.sync_and_publish()
                {
                    w.shared.poison(e.to_string());
                }
            }
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

impl Writer {
    /// The retention low-water mark (0: nothing dropped yet).
    pub(crate) fn mark(&self) -> u64 {
        self.mark_record.map_or(0, |m| m.first_retained)
    }

    /// Processes one request on the calling thread (a direct append under
    /// a policy that never syncs on a timer: no hand-off to the writer
    /// thread). After the writer thread ended, the request gets `Closed`.
    pub(crate) fn direct(&mut self, request: Request) {
        if self.closed {
            request.refuse(|| Error::Closed);
            return;
        }
        let mut batch = vec![request];
        self.process(&mut batch);
    }

    fn process(&mut self, batch: &mut Vec<Request>) {
        let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());
        if let Some(reason) = self.shared.poison_reason() {
            for request in batch.drain(..) {
                request.refuse(|| Error::Poisoned(reason.clone()));
            }
            return;
        }
        let outcome = self.write_batch(batch, &mut pending);
        let outcome = outcome.and_then(|sync_asked| {
            if self.sync_due(sync_asked) {
                self.sync_and_publish()
            } else {
                self.publish()
            }
        });
        match outcome {
            Ok(()) => {
                for p in pending {
                    let _ = p.ack.send(p.reply);
                }
            }
            Err(e) => {
                let reason = e.to_string();
                self.shared.poison(reason.clone());
                let mut first = Some(e);
                for p in pending {
                    // The first caller gets the real error, the rest its text.
                    let reply = match first.take() {
                        Some(e) => Err(e),
                        None => Err(Error::Poisoned(reason.clone())),
                    };
                    let _ = p.ack.send(reply);
                }
            }
        }
    }

    /// Encodes and writes the batch. Returns whether a sync was asked for.
    fn write_batch(
        &mut self,
        batch: &mut Vec<Request>,
        pending: &mut Vec<Pending>,
    ) -> Result<bool> {
        let mut sync_asked = false;
        let now = Timestamp::now();
        self.buffer.clear();
        let mut failure = None;
        for request in batch.drain(..) {
            if failure.is_some() {
                // Keep collecting acks so every caller gets an answer.
                match request {
                    Request::Append { ack, .. } | Request::Sync { ack } => {
                        pending.push(Pending { ack, reply: Ok(0) });
                    }
                    retain @ Request::Retain { .. } => {
                        retain.refuse(|| Error::Poisoned("the batch failed".into()));
                    }
                }
                continue;
            }
            match request {
                Request::Sync { ack } => {
                    sync_asked = true;
                    pending.push(Pending { ack, reply: Ok(0) });
                }
                retain @ Request::Retain { .. } => {
                    // `run` takes these out of batches.
                    retain.refuse(|| Error::Poisoned("a drop inside a batch".into()));
                }
                Request::Append {
                    mut bodies,
                    count,
                    at,
                    keep_time,
                    expect_latest,
                    ack,
                } => {
                    if let Some(expected) = expect_latest
                        && expected != self.latest
                    {
                        let latest = self.latest;
                        let reply = Err(Error::LatestMoved { expected, latest });
                        pending.push(Pending { ack, reply });
                        continue;
                    }
                    let first = match self.first_sequence(at, count) {
                        Ok(first) => first,
                        Err(e) => {
                            pending.push(Pending { ack, reply: Err(e) });
                            continue;
                        }
                    };
                    // Test-only break: acknowledge before writing (docs/RELIABILITY.md).
                    #[cfg(feature = "break-ack-before-write")]
                    let ack = {
                        let _ = ack.send(Ok(first));
                        crossbeam_channel::bounded(1).0
                    };
                    match self.append_bodies(&mut bodies, count, first, keep_time, now) {
                        Ok(()) => {
                            self.shared
                                .records_written
                                .fetch_add(count as u64, Ordering::Relaxed);
                            pending.push(Pending {
                                ack,
                                reply: Ok(first),
                            });
                        }
                        Err(e) => {
                            pending.push(Pending { ack, reply: Ok(0) });
                            failure = Some(e);
                        }
                    }
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        self.flush_buffer()?;
        Ok(sync_asked)
    }

    /// The first sequence of a request of `count` entries, or why it cannot
    /// be written. Refusals do not poison the journal.
    fn first_sequence(&self, at: Option<u64>, count: usize) -> Result<u64> {
        // An interrupted roll can leave an empty active segment whose base
        // exceeds latest + 1: its records must not go below that base.
        let floor = self.active.segment.base;
        let first = match at {
            Some(sequence) if sequence <= self.latest || sequence < floor => {
                let latest = self.latest.max(floor - 1);
                return Err(Error::NonMonotonic { sequence, latest });
            }
            Some(sequence) => sequence,
            None => self
                .latest
                .checked_add(1)
                .ok_or(Error::SequenceOverflow {
                    latest: self.latest,
                })?
                .max(floor),
        };
        first
            .checked_add(count as u64 - 1)
            .ok_or(Error::SequenceOverflow {
                latest: self.latest,
            })?;
        Ok(first)
    }

    fn append_bodies(
        &mut self,
        bodies: &mut [u8],
        count: usize,
        first: u64,
        keep_time: bool,
        now: Timestamp,
    ) -> Result<()> {
        let mut at = 0;
        for k in 0..count {
            let len = codec::body_len(&bodies[at..]);
            let body = &mut bodies[at..at + len];
            at += len;
            let sequence = first + k as u64;
            let frame_len = (FRAME_HEADER_LEN + len) as u64;
            let position = self.active.end + self.buffer.len() as u64;
            let has_records = position > SEGMENT_HEADER_LEN as u64;
            if has_records && position + frame_len + FOOTER_FRAME_LEN as u64 > self.segment_bytes {
                self.flush_buffer()?;
                self.roll(sequence)?;
                if let Some(policy) = self.retention.clone() {
                    let tier = self.retention_tier.clone();
                    self.retain(&policy, false, tier.as_deref())?;
                }
            }
            let position = self.active.end + self.buffer.len() as u64;
            let appended_at = if keep_time {
                codec::body_appended_at(body)
            } else {
                now
            };
            codec::patch_body(body, sequence, appended_at, self.active.synced_end);
            let keys = codec::body_keys(body);
            self.active.summary.add_keys(&keys);
            self.active
                .index
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .note(&keys, position);
            assert!(
                sequence > self.latest,
                "writer: sequence {sequence} does not follow {}",
                self.latest
            );
            let before = self.buffer.len();
            codec::push_frame(&mut self.buffer, body);
            assert_eq!(
                (self.buffer.len() - before) as u64,
                frame_len,
                "writer: frame of sequence {sequence} has the wrong length"
            );
            self.latest = sequence;
            self.unsynced_records += 1;
        }
        Ok(())
    }

    /// Writes the buffered frames at the end of the active segment.
    pub(crate) fn flush_buffer(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.preallocate(self.active.end + self.buffer.len() as u64)?;
        assert!(
            self.active.end >= self.active.synced_end
                && self.active.end >= SEGMENT_HEADER_LEN as u64
                && self.active.end + self.buffer.len() as u64
                    <= self.segment_bytes + FOOTER_FRAME_LEN as u64,
            "writer: frames of {} bytes at {} do not fit the segment (synced end {})",
            self.buffer.len(),
            self.active.end,
            self.active.synced_end
        );
        let path = &self.active.segment.log_path;
        self.active
            .file
            .write_all_at(&self.buffer, self.active.end)
            .map_err(|e| Error::io(path, e))?;
        self.active.hasher.update(&self.buffer);
        self.active.end += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Keeps zeros written and synced past `needed` (the end after the
    /// next write), so the write lands inside the file and the sync after
    /// it commits data only: on ext4 a sync that also commits a new file
    /// size costs about half as much again. Only under policies that sync
    /// on the write path. Extends by `preallocate_bytes` at a time, never
    /// past the segment's size plus a footer, and never over data: zeros go
    /// only beyond `end`. A failed zero write only stops preallocation for
    /// A failed zero write or sync is an error like any other write's
    /// (the journal refuses writes until reopened): a sync failure may have
    /// dropped unsynced records, and a disk that cannot take the zeros is
    /// about to refuse the records too; it then refuses up to
    /// `preallocate_bytes` early, before any record is torn.
    fn preallocate(&mut self, needed: u64) -> Result<()> {
        if self.preallocate_bytes == 0
            || self.durability == Durability::Os
            || needed <= self.active.prefilled
        {
            return Ok(());
        }
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        let cap = self.segment_bytes + FOOTER_FRAME_LEN as u64;
        let target = needed
            .saturating_add(self.preallocate_bytes)
            .min(cap)
            .max(needed);
        let path = &self.active.segment.log_path;
        let mut at = self.active.prefilled.max(self.active.end);
        // Test-only break: zeros from the synced end, over written but
        // unsynced records (docs/RELIABILITY.md).
        if cfg!(feature = "break-prealloc-over-unsynced") {
            at = self.active.synced_end;
        }
        if !cfg!(feature = "break-prealloc-over-unsynced") {
            assert!(
                at >= self.active.end && at >= self.active.synced_end,
                "writer: preallocation at {at} would zero data below the end {}",
                self.active.end
            );
        }
        while at < target {
            let len = usize::try_from(target - at).map_or(ZEROS.len(), |n| n.min(ZEROS.len()));
            self.active
                .file
                .write_all_at(&ZEROS[..len], at)
                .map_err(|e| Error::io(path, e))?;
            at += len as u64;
        }
        self.active
            .file
            .sync_data()
            .map_err(|e| Error::io(path, e))?;
        self.active.prefilled = target;
        Ok(())
    }

    fn sync_due(&self, sync_asked: bool) -> bool {
        if sync_asked {
            return true;
        }
        match self.durability {
            Durability::Always => self.unsynced_records > 0,
            Durability::EveryRecords(n) => self.unsynced_records >= n,
            Durability::Interval(every) => {
                self.unsynced_records > 0 && self.last_sync.elapsed() >= every
            }
            Durability::Os => false,
        }
    }

    pub(crate) fn sync_and_publish(&mut self) -> Result<()> {
        if self.active.synced_end < self.active.end {
            let path = &self.active.segment.log_path;
            // Test-only break: acknowledge without the sync (docs/RELIABILITY.md).
            if !cfg!(feature = "break-skip-sync") {
                self.active
                    .file
                    .sync_data()
                    .map_err(|e| Error::io(path, e))?;
            }
            self.shared.record_syncs.fetch_add(1, Ordering::Relaxed);
            assert!(
                self.active.end > self.active.synced_end,
                "writer: the synced end would move back from {} to {}",
                self.active.synced_end,
                self.active.end
            );
            self.active.synced_end = self.active.end;
        }
        self.unsynced_records = 0;
        self.last_sync = Instant::now();
        self.shared
            .durable_latest
            .store(self.latest, Ordering::Release);
        self.publish()
    }

    /// Makes the written (or, under `Always`, the synced) end visible to
    /// readers in this process and, through `head`, in others.
    pub(crate) fn publish(&mut self) -> Result<()> {
        let readable_end = match self.durability {
            Durability::Always => self.active.synced_end,
            _ => self.active.end,
        };
        let head = Head {
            generation: self.head.generation + 1,
            active_base: self.active.segment.base,
            published_end: readable_end,
            synced_end: self.active.synced_end,
            latest: self.latest,
            mark: self.mark(),
        };
        if head.published_end != self.head.published_end
            || head.active_base != self.head.active_base
            || head.synced_end != self.head.synced_end
            || head.mark != self.head.mark
        {
            let mut segments = self.sealed.clone();
            segments.push(self.active.segment.clone());
            self.shared.publish(View {
                segments,
                active_end: readable_end,
                latest: self.latest,
                first_retained: self.mark(),
                mark_record: self.mark_record,
            });
            head.write(self.head_file.as_ref())
                .map_err(|e| Error::io(self.dir.join("head"), e))?;
            self.head = head;
        }
        Ok(())
    }

    /// Seals the active segment and starts a new one at `next_sequence`.
    /// Order (docs/FORMAT.md, "Sealing"): sync the records, write and sync
    /// the footer, write the index, create the next segment with its
    /// header, sync it, sync the directory.
    pub(crate) fn roll(&mut self, next_sequence: u64) -> Result<()> {
        let path = self.active.segment.log_path.clone();
        let io = |e| Error::io(&path, e);
        self.active.file.sync_data().map_err(io)?;
        let summary = std::mem::take(&mut self.active.summary);
        let footer = Footer {
            record_count: summary.record_count,
            first_sequence: summary.first_sequence,
            last_sequence: summary.last_sequence,
            data_end: self.active.end,
            digest: self.active.hasher.clone().finalize().into(),
            previous_digest: self.previous_digest,
        };
        self.active
            .file
            .write_all_at(&footer.encode_frame(), self.active.end)
            .map_err(io)?;
        self.active.file.sync_data().map_err(io)?;
        let index = self
            .active
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let sealed = SealedIndex {
            journal_id: self.journal_id,
            base_sequence: self.active.segment.base,
            summary,
            index,
            footer,
        };
        write_index(
            self.storage.as_ref(),
            &self.dir.join(index_file_name(sealed.base_sequence)),
            &sealed,
        )?;
        let base = self.active.segment.base;
        self.sealed.push(Arc::new(Segment {
            base,
            log_path: path.clone(),
            state: SegmentState::Sealed(Box::new(sealed)),
        }));
        self.previous_digest = footer.digest;
        self.active = create_segment(
            self.storage.as_ref(),
            &self.dir,
            self.journal_id,
            next_sequence,
            &self.previous_digest,
        )?;
        Ok(())
    }
}

/// Writes an index file whole: a temporary file renamed over the old one.
/// No sync: an index is derived data, checked and rebuilt on open.
pub(crate) fn write_index(
    storage: &dyn Storage,
    path: &std::path::Path,
    index: &SealedIndex,
) -> Result<()> {
    let tmp = path.with_extension("idx.tmp");
    let file = storage
        .open(&tmp, OpenMode::Truncate)
        .map_err(|e| Error::io(&tmp, e))?;
    file.write_all_at(&index.encode(), 0)
        .map_err(|e| Error::io(&tmp, e))?;
    drop(file);
    storage.rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Creates a new segment file with its header, durably.
pub(crate) fn create_segment(
    storage: &dyn Storage,
    dir: &std::path::Path,
    journal_id: [u8; 16],
    base: u64,
    previous_digest: &[u8; 32],
) -> Result<Active> {
    let path = dir.join(log_file_name(base));
    let io = |e| Error::io(&path, e);
    let header = SegmentHeader {
        format_version: codec::FORMAT_VERSION,
        journal_id,
        base_sequence: base,
    }
    .encode();
    // IMPORTANT: create_new, never truncate: a segment id is never reused.
    let file = storage.open(&path, OpenMode::CreateNew).map_err(io)?;
    file.write_all_at(&header, 0).map_err(io)?;
    file.sync_all().map_err(io)?;
    // IMPORTANT: fsync the directory so the new segment's name survives a power cut.
    if !cfg!(feature = "break-skip-dir-sync") {
        storage.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut hasher = Sha256::new();
    hasher.update(previous_digest);
    hasher.update(header);
    Ok(active_from(
        path,
        file,
        base,
        hasher,
        SparseIndex::default(),
        Summary::empty(),
        SEGMENT_HEADER_LEN as u64,
    ))
}

/// Builds the writer's view of an active segment; `hasher` has taken in
/// the previous digest, the header and every record so far.
pub(crate) fn active_from(
    path: PathBuf,
    file: Box<dyn StorageFile>,
    base: u64,
    hasher: Sha256,
    index: SparseIndex,
    summary: Summary,
    end: u64,
) -> Active {
    let index = Arc::new(RwLock::new(index));
    Active {
        segment: Arc::new(Segment {
            base,
            log_path: path,
            state: SegmentState::Active(index.clone()),
        }),
        file,
        index,
        summary,
        hasher,
        end,
        synced_end: end,
        prefilled: end,
    }
}
