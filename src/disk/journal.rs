//! The [`DiskJournal`] handle: the [`EventJournal`] implementation, the
//! writer queue, closing, and following a live writer from a read-only
//! handle. Opening is in `open.rs`, options in `options.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{SendTimeoutError, Sender};

use crate::codec::{self, EntryRef};
use crate::disk::lock::{WriterLock, writer_is_live};
use crate::disk::meta::{Head, Meta};
use crate::disk::mmap::MapCache;
use crate::disk::open::{Follower, load_for_reading};
use crate::disk::options::{DiskJournalBuilder, DiskJournalOptions, validate};
use crate::disk::recovery::RecoveryReport;
use crate::disk::retention::{DropReport, RetentionPolicy};
use crate::disk::segment::{OwnedRange, RawRange, SegmentState, View};
use crate::disk::skip::Conditions;
use crate::disk::writer::{Request, Shared};
use crate::entry::{JournalEntry, JournalQueryFilter, JournalQueryResult, QueryOptions};
use crate::error::{Error, Result};
use crate::filter::{self, ResultBuilder};
use crate::hex::hex;
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
}

/// Sealed segments of the digest chain before the first one in `view`:
/// those retention dropped, less those a tier directory still serves.
fn chain_offset(view: &View) -> u64 {
    let Some(mark) = view.mark_record else {
        return 0;
    };
    let served_below = view
        .segments
        .iter()
        .filter(|s| s.sealed().is_some() && s.base < mark.first_retained)
        .count() as u64;
    mark.dropped_total.saturating_sub(served_below)
}

/// The answer of [`DiskJournal::range_checked`].
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedRange {
    /// The entries of the range that remain.
    pub entries: Vec<JournalEntry>,
    /// The retention mark, when the range starts below it: sequences from
    /// the range's start up to the mark were dropped, not absent.
    pub below_mark: Option<u64>,
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

/// [`DiskJournal::with_active_summary`]'s cache.
pub(super) struct ActiveSummary {
    base: u64,
    reloads: u64,
    summary: crate::disk::index::Summary,
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

    /// The retention low-water mark: the first retained sequence once
    /// whole segments were dropped, `None` while nothing was. Every
    /// sequence below it is gone; a range that starts below it returns
    /// what remains ([`DiskJournal::range_checked`] says so).
    pub fn retention_mark(&self) -> Result<Option<u64>> {
        self.refresh()?;
        Ok(match self.shared.view().first_retained {
            0 => None,
            mark => Some(mark),
        })
    }

    /// The first sequence the journal can still hold: the retention mark,
    /// or 1 when nothing was dropped.
    pub fn first_retained_sequence(&self) -> Result<u64> {
        Ok(self.retention_mark()?.unwrap_or(1))
    }

    /// The retention floor set by [`DiskJournal::set_retention_floor`].
    pub fn retention_floor(&self) -> Option<u64> {
        match self.retention_floor.load(Ordering::Acquire) {
            u64::MAX => None,
            floor => Some(floor),
        }
    }

    /// Drops the oldest sealed segments `policy` selects, behind a durable
    /// retention mark (docs/DESIGN.md, "Retention"): the writer appends a
    /// mark record naming the new low-water mark and the last dropped
    /// segment's digest, syncs it, publishes it, then unlinks the files.
    /// Never the active segment, never past the floor. Writers only.
    pub fn drop_segments(&self, policy: &RetentionPolicy) -> Result<DropReport> {
        self.submit_retain(policy, false, None)
    }

    /// Moves the oldest sealed segments `policy` selects to the tier
    /// directory `tier` instead of deleting them: each segment's log and
    /// index are copied there, synced, and the copy proven (read back, it
    /// hashes to the segment's digest) before the drop writes its mark and
    /// unlinks the originals. A read-only open with
    /// [`DiskJournalBuilder::tier_dir`] reads both as one journal. Writers
    /// only.
    ///
    /// [`DiskJournalBuilder::tier_dir`]: crate::disk::DiskJournalBuilder::tier_dir
    pub fn move_segments(&self, policy: &RetentionPolicy, tier: &Path) -> Result<DropReport> {
        self.submit_retain(policy, false, Some(tier.to_path_buf()))
    }

    /// What [`DiskJournal::drop_segments`] would drop, without writing or
    /// removing anything. A read-only handle answers from its view (with
    /// no floor).
    pub fn plan_drop(&self, policy: &RetentionPolicy) -> Result<DropReport> {
        if self.follower.is_none() {
            return self.submit_retain(policy, true, None);
        }
        self.refresh()?;
        let view = self.shared.view();
        let sealed: Vec<_> = view
            .segments
            .iter()
            .filter(|s| s.sealed().is_some())
            .cloned()
            .collect();
        let facts: Vec<_> = sealed
            .iter()
            .filter_map(|s| crate::disk::retention::facts_of(s))
            .collect();
        let active_bytes = view
            .segments
            .last()
            .filter(|s| s.sealed().is_none())
            .and_then(|s| std::fs::metadata(&s.log_path).ok())
            .map_or(0, |m| m.len());
        let total = facts.iter().map(|f| f.bytes).sum::<u64>() + active_bytes;
        let newest = self.newest_append_ns()?;
        let (count, held_by_floor) =
            crate::disk::retention::select(&facts, total, newest, policy, self.retention_floor());
        let first_retained = match count {
            0 => view.first_retained,
            n => view.segments.get(n).map_or(0, |s| s.base),
        };
        Ok(DropReport {
            dropped: sealed[..count]
                .iter()
                .zip(&facts)
                .map(|(s, f)| crate::disk::retention::dropped_of(s, f))
                .collect(),
            first_retained,
            dry_run: true,
            held_by_floor,
            leftovers: Vec::new(),
        })
    }

    /// The newest append time of the journal's last record.
    fn newest_append_ns(&self) -> Result<Option<i64>> {
        let latest = self.shared.view().latest;
        if latest == 0 {
            return Ok(None);
        }
        let mut range = self.range_ref(latest, latest.saturating_add(1))?;
        Ok(match range.next_entry() {
            Some(entry) => Some(entry?.appended_at.as_unix_nanos()),
            None => None,
        })
    }

    fn submit_retain(
        &self,
        policy: &RetentionPolicy,
        dry_run: bool,
        tier: Option<PathBuf>,
    ) -> Result<DropReport> {
        if self.follower.is_some() {
            return Err(Error::ReadOnly);
        }
        if let Some(reason) = self.shared.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        let (ack, reply) = crossbeam_channel::bounded(1);
        {
            let guard = self.sender.read().unwrap_or_else(|e| e.into_inner());
            let Some(sender) = guard.as_ref() else {
                return Err(Error::Closed);
            };
            sender
                .send(Request::Retain {
                    policy: policy.clone(),
                    dry_run,
                    tier,
                    ack,
                })
                .map_err(|_| self.writer_gone())?;
        }
        reply.recv().map_err(|_| self.writer_gone())?
    }

    /// A range read that says when it starts below the retention mark:
    /// the entries `start <= sequence < end` that remain, and the mark
    /// when `start` is below it (those sequences were dropped).
    pub fn range_checked(&self, start: u64, end: u64) -> Result<CheckedRange> {
        let below_mark = self
            .retention_mark()?
            .filter(|&mark| start < mark && end > start);
        let entries = self.range_iter(start, end)?.collect::<Result<Vec<_>>>()?;
        Ok(CheckedRange {
            entries,
            below_mark,
        })
    }

    /// The journal's head, to record elsewhere and later compare (see
    /// [`JournalHead`]).
    pub fn head(&self) -> Result<JournalHead> {
        self.refresh()?;
        let view = self.shared.view();
        let sealed = view
            .segments
            .iter()
            .filter_map(|s| s.sealed())
            .collect::<Vec<_>>();
        let dropped = chain_offset(&view);
        let active = match view.segments.last() {
            Some(segment)
                if matches!(segment.state, SegmentState::Active(_))
                    && view.active_end > crate::codec::SEGMENT_HEADER_LEN as u64 =>
            {
                Some(ActiveHead {
                    base_sequence: segment.base,
                    end: view.active_end,
                    digest: hex(&self.prefix_digest(&view, segment.base, view.active_end)?),
                })
            }
            _ => None,
        };
        Ok(JournalHead {
            journal_id: hex(&self.meta.journal_id),
            last_sequence: view.latest,
            sealed_segments: dropped + sealed.len() as u64,
            first_retained: view.first_retained,
            last_sealed: sealed.last().map(|index| SealedHead {
                base_sequence: index.base_sequence,
                last_sequence: index.footer.last_sequence,
                digest: hex(&index.footer.digest),
            }),
            active,
        })
    }

    /// The running digest of segment `base` over its first `end` bytes, as
    /// the segment digest is computed (the previous digest, the header,
    /// the frames): what a recorded head pins of the active segment.
    fn prefix_digest(&self, view: &View, base: u64, end: u64) -> Result<[u8; 32]> {
        use sha2::{Digest, Sha256};
        let place = view
            .segments
            .iter()
            .position(|s| s.base == base)
            .ok_or_else(|| Error::corruption(&self.dir, 0, format!("no segment at {base}")))?;
        let previous = match place.checked_sub(1).and_then(|p| view.segments[p].sealed()) {
            Some(sealed) => sealed.footer.digest,
            None => view.mark_record.map_or([0; 32], |m| m.last_dropped_digest),
        };
        let segment = &view.segments[place];
        let map = self.maps.get(segment.base, &segment.log_path, end)?;
        let bytes = map.bytes();
        let end = usize::try_from(end)
            .map_err(|_| Error::corruption(&segment.log_path, end, "too far"))?;
        if bytes.len() < end {
            return Err(Error::corruption(
                &segment.log_path,
                bytes.len() as u64,
                format!("the segment ends before byte {end}"),
            ));
        }
        let mut hasher = Sha256::new();
        hasher.update(previous);
        hasher.update(&bytes[..end]);
        Ok(hasher.finalize().into())
    }

    /// Compares a head recorded earlier with this journal: `None` when
    /// the journal still holds the recorded sealed segment with the same
    /// digest and last sequence and has not gone back before the recorded
    /// last sequence, else what differs. Only a clean [`verify`] proves the
    /// stored digests are the recomputed chain; together they prove nothing
    /// up to the recorded sealed segment changed.
    ///
    /// [`verify`]: crate::disk::verify()
    pub fn check_head(&self, recorded: &JournalHead) -> Result<Option<String>> {
        let now = self.head()?;
        if now.journal_id != recorded.journal_id {
            return Ok(Some(format!(
                "another journal: journal id {} differs from the recorded {}",
                now.journal_id, recorded.journal_id
            )));
        }
        if now.last_sequence < recorded.last_sequence {
            return Ok(Some(format!(
                "last sequence {} is before the recorded {}",
                now.last_sequence, recorded.last_sequence
            )));
        }
        let view = self.shared.view();
        if view.first_retained < recorded.first_retained {
            return Ok(Some(format!(
                "the retention mark {} is before the recorded {}",
                view.first_retained, recorded.first_retained
            )));
        }
        // The sealed chain first (older records), then the active prefix.
        let sealed = self.check_sealed(&view, recorded)?;
        if sealed.is_some() {
            return Ok(sealed);
        }
        match &recorded.active {
            Some(active) => self.check_active(&view, active),
            None => Ok(None),
        }
    }

    /// Compares the recorded last sealed segment with this journal's.
    fn check_sealed(&self, view: &View, recorded: &JournalHead) -> Result<Option<String>> {
        let Some(want) = &recorded.last_sealed else {
            return Ok(None);
        };
        let dropped = chain_offset(view);
        if want.base_sequence < view.first_retained {
            // Dropped since: checkable only when it was the last segment
            // the newest drop removed (the mark names its digest).
            let last_dropped = view.mark_record.map(|m| hex(&m.last_dropped_digest));
            return Ok(
                if last_dropped.as_deref() == Some(want.digest.as_str())
                    && dropped == recorded.sealed_segments
                {
                    None
                } else {
                    Some(format!(
                        "the recorded head's last sealed segment (base sequence {}) was dropped \
                         by retention since it was recorded (the journal now starts at {}): it \
                         can no longer be checked; record a new head with `verify --head` after \
                         each drop",
                        want.base_sequence, view.first_retained
                    ))
                },
            );
        }
        let sealed: Vec<_> = view.segments.iter().filter_map(|s| s.sealed()).collect();
        let Some(place) = sealed
            .iter()
            .position(|index| index.base_sequence == want.base_sequence)
        else {
            return Ok(Some(format!(
                "no sealed segment at base sequence {} (the recorded head's last sealed segment)",
                want.base_sequence
            )));
        };
        let index = sealed[place];
        let digest = hex(&index.footer.digest);
        Ok(if digest != want.digest {
            Some(format!(
                "sealed segment at base sequence {} has digest {digest}, recorded {}",
                want.base_sequence, want.digest
            ))
        } else if index.footer.last_sequence != want.last_sequence {
            Some(format!(
                "sealed segment at base sequence {} ends at sequence {}, recorded {}",
                want.base_sequence, index.footer.last_sequence, want.last_sequence
            ))
        } else if dropped + place as u64 + 1 != recorded.sealed_segments {
            Some(format!(
                "sealed segment at base sequence {} is sealed segment {} of the chain, recorded {}",
                want.base_sequence,
                dropped + place as u64 + 1,
                recorded.sealed_segments
            ))
        } else {
            None
        })
    }

    /// Compares the recorded active segment's prefix with this journal's
    /// bytes of that segment (active still, or sealed since).
    fn check_active(&self, view: &View, want: &ActiveHead) -> Result<Option<String>> {
        if want.base_sequence < view.first_retained {
            return Ok(Some(format!(
                "the recorded head's active segment (base sequence {}) was dropped by retention \
                 since it was recorded (the journal now starts at {}): it can no longer be \
                 checked; record a new head with `verify --head` after each drop",
                want.base_sequence, view.first_retained
            )));
        }
        let Some(i) = view
            .segments
            .iter()
            .position(|s| s.base == want.base_sequence)
        else {
            return Ok(Some(format!(
                "no segment at base sequence {} (the recorded head's active segment)",
                want.base_sequence
            )));
        };
        if view.readable_end(i) < want.end {
            return Ok(Some(format!(
                "segment at base sequence {} holds {} bytes, fewer than the recorded {}",
                want.base_sequence,
                view.readable_end(i),
                want.end
            )));
        }
        let digest = hex(&self.prefix_digest(view, want.base_sequence, want.end)?);
        Ok((digest != want.digest).then(|| {
            format!(
                "the first {} bytes of segment at base sequence {} have digest {digest}, \
                 recorded {} (its records up to the recorded head changed)",
                want.end, want.base_sequence, want.digest
            )
        }))
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
    fn append_entries(
        &self,
        entries: &[JournalEntry],
        at: Option<u64>,
        timeout: Option<Duration>,
    ) -> Result<u64> {
        self.append_request(entries, at, None, timeout)
    }

    fn append_request(
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
        if self.options.salvage {
            // A salvage view is fixed at open: it never follows a writer.
            return Ok(());
        }
        // With a live writer, follow what it published after its syncs;
        // without one, what is on disk (the writer may have exited since).
        let live = writer_is_live(&self.dir);
        let head = if live { Head::read(&self.dir) } else { None };
        if live && head.is_none() {
            return Ok(());
        }
        let (base, end) = match head {
            Some(head) => (head.active_base, head.published_end),
            None => {
                let Some(&base) = crate::disk::recovery::list_segments(&self.dir)?.last() else {
                    return Ok(());
                };
                let path = self.dir.join(crate::disk::segment::log_file_name(base));
                let len = std::fs::metadata(&path)
                    .map_err(|e| Error::io(&path, e))?
                    .len();
                (base, len)
            }
        };
        let mut f = follower.lock().unwrap_or_else(|e| e.into_inner());
        if head.is_some_and(|h| h.generation == f.generation) {
            return Ok(());
        }
        let same_segment = f
            .active
            .as_ref()
            // A writer that reopened may have zeroed a torn tail this
            // reader had read (without a live writer): start over then.
            .is_some_and(|(segment, scanner)| segment.base == base && end >= scanner.position)
            // A drop moved the mark: the segments below it leave the view.
            && head
                .or_else(|| Head::read(&self.dir))
                .is_none_or(|h| h.mark <= self.shared.view().first_retained);
        if same_segment {
            let (segment, scanner) = f.active.as_mut().expect("checked above");
            if end > scanner.position {
                let map = self.maps.get(segment.base, &segment.log_path, end)?;
                scanner.scan(map.bytes(), end);
                if let SegmentState::Active(index) = &segment.state {
                    *index.write().unwrap_or_else(|e| e.into_inner()) = scanner.index.clone();
                }
            }
            let active_end = scanner.position;
            let latest = if scanner.summary.record_count > 0 {
                scanner.summary.last_sequence
            } else {
                f.latest
            };
            if active_end != self.shared.view().active_end || latest != f.latest {
                let old = self.shared.view();
                self.shared.publish(View {
                    segments: old.segments.clone(),
                    active_end,
                    latest,
                    first_retained: old.first_retained,
                    mark_record: old.mark_record,
                });
            }
            f.latest = latest;
        } else {
            self.maps.clear();
            self.reloads.fetch_add(1, Ordering::AcqRel);
            let (view, fresh, _, _) = load_for_reading(
                &self.dir,
                self.options.tier_dir.as_deref(),
                &self.maps,
                head,
            )?;
            self.shared.publish(view);
            *f = fresh;
        }
        if let Some(head) = head {
            f.generation = head.generation;
        }
        Ok(())
    }

    /// The number of records of `view` from sequence `first` on matching
    /// `query` and `options`: whole segments whose summaries (the active
    /// one's kept up to date in memory) can count their matches are
    /// counted; in the others, blocks whose summaries can are counted and
    /// the rest read, skipping what the summaries rule out.
    fn count_in(
        &self,
        view: &Arc<View>,
        query: &JournalQueryFilter,
        options: &QueryOptions,
        first: u64,
    ) -> Result<u64> {
        let conditions = Arc::new(Conditions::new(query, options));
        let mut total = 0u64;
        for i in view.segment_for(first)..view.segments.len() {
            let segment = &view.segments[i];
            if segment.base >= first
                && let Some(counted) = self.segment_matches(view, i, &conditions)?
            {
                total += counted;
                continue;
            }
            let mut range =
                RawRange::from_sequence(view.clone(), self.maps.clone(), self.body_len_max, first)
                    .segments(i, i + 1)
                    .filtered(conditions.clone());
            range.count_from_summaries();
            while let Some(record) = range.next_entry() {
                let record = record?;
                if options.admits(record.sequence, record.appended_at)
                    && filter::matches(query, &record)
                {
                    total += 1;
                }
            }
            total += range.counted();
            self.note_reads(&range);
        }
        Ok(total)
    }

    /// Calls `answer` with the summary of segment `i` of `view` (the active
    /// one) up to the view's readable end: the cached summary, extended by
    /// the records appended since it was taken. Reset when the active
    /// segment changed or a follower reloaded.
    fn with_active_summary<R>(
        &self,
        view: &Arc<View>,
        i: usize,
        answer: impl FnOnce(&crate::disk::index::Summary) -> R,
    ) -> Result<R> {
        let base = view.segments[i].base;
        let reloads = self.reloads.load(Ordering::Acquire);
        let mut cache = self
            .active_summary
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let stale = cache.as_ref().is_none_or(|c| {
            c.base != base || c.reloads != reloads || c.summary.last_sequence > view.latest
        });
        if stale {
            *cache = Some(ActiveSummary {
                base,
                reloads,
                summary: crate::disk::index::Summary::empty(),
            });
        }
        let cached = cache.as_mut().expect("set above");
        let summary = &mut cached.summary;
        let next = if summary.record_count == 0 {
            Some(0)
        } else {
            summary.last_sequence.checked_add(1)
        };
        if let Some(next) = next {
            let mut range =
                RawRange::from_sequence(view.clone(), self.maps.clone(), self.body_len_max, next)
                    .segments(i, i + 1);
            while let Some(record) = range.next_entry() {
                summary.add(&record?);
            }
        }
        Ok(answer(summary))
    }

    /// The matches of segment `i` of `view` when its summary (the active
    /// one's kept up to date in memory) tells: 0 when it rules the
    /// segment out, else its count when it can count.
    fn segment_matches(
        &self,
        view: &Arc<View>,
        i: usize,
        conditions: &Conditions,
    ) -> Result<Option<u64>> {
        let decide = |s: &crate::disk::index::Summary| {
            if conditions.skips_segment(s) {
                Some(0)
            } else {
                conditions.segment_count(s)
            }
        };
        let segment = &view.segments[i];
        Ok(match (segment.summary(), &segment.state) {
            (Some(summary), _) => decide(summary),
            (None, SegmentState::Active(_)) => self.with_active_summary(view, i, decide)?,
            _ => None,
        })
    }

    /// A reader from sequence `first` on that skips the segments and
    /// blocks whose summaries rule out `query` and `options`.
    fn filtered_range(
        &self,
        view: &Arc<View>,
        query: &JournalQueryFilter,
        options: &QueryOptions,
        first: u64,
    ) -> RawRange {
        let conditions = Arc::new(Conditions::new(query, options));
        let range = if first == 0 {
            RawRange::all(view.clone(), self.maps.clone(), self.body_len_max)
        } else {
            RawRange::from_sequence(view.clone(), self.maps.clone(), self.body_len_max, first)
        };
        range.filtered(conditions)
    }

    /// Adds a finished read's block counts to [`DiskJournal::read_stats`].
    fn note_reads(&self, range: &RawRange) {
        let (read, passed) = range.block_counts();
        self.blocks_read.fetch_add(read, Ordering::Relaxed);
        self.blocks_passed.fetch_add(passed, Ordering::Relaxed);
    }

    /// Blocks (about 4 KiB of records each, docs/FORMAT.md "Index") that
    /// queries and counts on this handle have read, and passed by because
    /// their summaries ruled them out or counted their matches, since the
    /// open. Reads without conditions (ranges, replay) count none.
    pub fn read_stats(&self) -> ReadStats {
        ReadStats {
            blocks_read: self.blocks_read.load(Ordering::Relaxed),
            blocks_passed: self.blocks_passed.load(Ordering::Relaxed),
        }
    }

    /// The first sequence a query with `options` reads from, or `None`
    /// when nothing can match.
    fn first_sequence(query: &JournalQueryFilter, options: &QueryOptions) -> Option<u64> {
        if filter::matches_nothing(query) {
            return None;
        }
        if let (Some(since), Some(until)) = (options.appended_since, options.appended_until)
            && until <= since
        {
            return None;
        }
        match options.after_sequence {
            None => Some(0),
            Some(after) => after.checked_add(1),
        }
    }
}

/// Counters of a handle's queries and counts, from
/// [`DiskJournal::read_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Blocks whose records were read.
    pub blocks_read: u64,
    /// Blocks passed by: skipped, or counted from their summaries.
    pub blocks_passed: u64,
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

/// A journal's head: its last sequence and the digest of its last sealed
/// segment. Each sealed segment's digest covers the previous one's, so a
/// recorded head pins every record up to `last_sealed.last_sequence`: a
/// later copy whose chain (as `verify` recomputes it) does not reach the
/// same digest at that segment changed something before it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalHead {
    /// The journal id, 32 hexadecimal digits.
    pub journal_id: String,
    /// The latest sequence (0 when empty).
    pub last_sequence: u64,
    /// Sealed segments since the journal was created, those dropped by
    /// retention included.
    pub sealed_segments: u64,
    /// The retention mark: the first retained sequence (0: nothing was
    /// dropped). Absent from heads recorded before retention existed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub first_retained: u64,
    /// The last sealed segment, if any.
    pub last_sealed: Option<SealedHead>,
    /// The active segment's readable prefix, when it holds records: so a
    /// recorded head pins the records after the last sealed segment too
    /// (a retention mark among them included). Absent from heads recorded
    /// by older builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<ActiveHead>,
}

/// The active segment of a [`JournalHead`]: its first `end` bytes, as
/// the digest chain hashes them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActiveHead {
    /// Its first possible sequence (its file name).
    pub base_sequence: u64,
    /// The readable end recorded (bytes from the start of the file).
    pub end: u64,
    /// SHA-256 of the previous segment's digest and the segment's first
    /// `end` bytes, 64 hex digits.
    pub digest: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The last sealed segment of a [`JournalHead`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealedHead {
    /// Its first possible sequence (its file name).
    pub base_sequence: u64,
    /// Its last sequence (0 when it holds no record).
    pub last_sequence: u64,
    /// Its digest, chained over every earlier segment, 64 hex digits.
    pub digest: String,
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
