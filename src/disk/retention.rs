//! Retention: dropping whole sealed segments from the front of the
//! journal, behind a tamper-evident low-water mark (docs/FORMAT.md,
//! "Retention mark"; docs/DESIGN.md, "Retention").
//!
//! A drop writes a [`RetentionMark`] frame into the active segment and
//! syncs it before it unlinks anything, so a crash at any step leaves the
//! old mark with every segment, or the new mark (with, at worst, dropped
//! segments not yet unlinked, which the next open ignores and a writer
//! removes). The active segment is never dropped, and nothing at or above
//! the caller's floor is.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::codec::{FOOTER_FRAME_LEN, MARK_FRAME_LEN, RetentionMark, SEGMENT_HEADER_LEN};
use crate::disk::segment::Segment;
use crate::disk::writer::Writer;
use crate::entry::Timestamp;
use crate::error::{Error, Result};

/// Which sealed segments a drop selects, oldest first. A segment is
/// selected when any set rule selects it; only a run of selected
/// segments from the oldest on is dropped (the journal keeps a contiguous
/// tail), never the active segment, and never a segment holding a
/// sequence at or above the floor ([`crate::EventJournal::set_retention_floor`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Drop a segment whose newest append time is older than this, measured
    /// back from `now`.
    pub older_than: Option<Duration>,
    /// Drop the oldest segments until the segment files' bytes (the active
    /// one's included) are at most this.
    pub max_bytes: Option<u64>,
    /// Drop a segment whose every sequence is below this.
    pub below: Option<u64>,
    /// The time `older_than` is measured from. `None`: the newest append
    /// time in the journal, so a journal imported with its append times
    /// kept (or replayed) ages as it did when it was written, and an idle
    /// journal does not age.
    pub now: Option<Timestamp>,
}

impl RetentionPolicy {
    /// True when no rule is set (nothing would ever be selected).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.older_than.is_none() && self.max_bytes.is_none() && self.below.is_none()
    }
}

/// A segment a drop removed (or, for a dry run, would remove).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedSegment {
    /// The segment's `.log` file.
    pub path: PathBuf,
    /// Its base sequence.
    pub base_sequence: u64,
    /// Its last sequence (0 when it held no record).
    pub last_sequence: u64,
    /// Records it held.
    pub records: u64,
    /// Its file's bytes.
    pub bytes: u64,
    /// Its newest append time (`None` when its index does not record it).
    pub newest_append: Option<Timestamp>,
}

/// What a drop did, or (dry run) would do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DropReport {
    /// The segments removed (or selected), oldest first.
    pub dropped: Vec<DroppedSegment>,
    /// The low-water mark after the drop: the first retained sequence
    /// (0: nothing was ever dropped).
    pub first_retained: u64,
    /// True when nothing was written or removed.
    pub dry_run: bool,
    /// The floor that stopped the drop early, when it did: the first
    /// segment the policy selected but the floor kept holds sequences at
    /// or above it.
    pub held_by_floor: Option<u64>,
    /// Files that could not be removed after the mark was durable (the
    /// drop still holds: the next writer's open removes them).
    pub leftovers: Vec<(PathBuf, String)>,
}

/// The facts about one segment that selection needs.
#[derive(Clone, Debug)]
pub(crate) struct Facts {
    pub base: u64,
    pub last_sequence: u64,
    pub records: u64,
    pub bytes: u64,
    /// Newest append time in ns (`None`: unknown).
    pub newest_append_ns: Option<i64>,
}

/// How many of `sealed` (oldest first) the policy drops, and the floor
/// that stopped it, if one did. `total_bytes` counts every segment file,
/// the active one's included; `newest_ns` is the journal's newest append
/// time (for a policy without `now`).
pub(crate) fn select(
    sealed: &[Facts],
    total_bytes: u64,
    newest_ns: Option<i64>,
    policy: &RetentionPolicy,
    floor: Option<u64>,
) -> (usize, Option<u64>) {
    let now_ns = policy
        .now
        .map(|t| t.as_unix_nanos())
        .or(newest_ns)
        .unwrap_or(i64::MIN);
    let cutoff_ns = policy.older_than.map(|age| {
        let age = i64::try_from(age.as_nanos()).unwrap_or(i64::MAX);
        now_ns.saturating_sub(age)
    });
    let mut remaining = total_bytes;
    let mut count = 0;
    for facts in sealed {
        let by_age = cutoff_ns
            .is_some_and(|cutoff| facts.newest_append_ns.is_some_and(|newest| newest < cutoff));
        let by_size = policy.max_bytes.is_some_and(|max| remaining > max);
        let by_sequence = policy.below.is_some_and(|below| {
            if facts.records == 0 {
                facts.base < below
            } else {
                facts.last_sequence < below
            }
        });
        if !(by_age || by_size || by_sequence) {
            break;
        }
        if let Some(floor) = floor {
            let reaches = if facts.records == 0 {
                facts.base >= floor
            } else {
                facts.last_sequence >= floor
            };
            if reaches {
                return (count, Some(floor));
            }
        }
        remaining = remaining.saturating_sub(facts.bytes);
        count += 1;
    }
    (count, None)
}

/// The selection facts of a segment in a view.
pub(crate) fn facts_of(storage: &dyn crate::storage::Storage, segment: &Segment) -> Option<Facts> {
    let sealed = segment.sealed()?;
    let bytes = storage
        .file_len(&segment.log_path)
        .unwrap_or(sealed.footer.data_end + FOOTER_FRAME_LEN as u64);
    let newest = sealed.summary.max_appended_ns;
    // A version-1 index does not record append times (i64::MAX); an empty
    // segment has none (i64::MIN): neither is aged out.
    let newest_append_ns = (newest != i64::MAX && newest != i64::MIN).then_some(newest);
    Some(Facts {
        base: segment.base,
        last_sequence: sealed.footer.last_sequence,
        records: sealed.footer.record_count,
        bytes,
        newest_append_ns,
    })
}

/// What a policy selects among sealed segments.
pub(crate) struct Plan {
    /// How many, from the oldest.
    pub count: usize,
    /// The floor that stopped the selection early, if one did.
    pub held_by_floor: Option<u64>,
    /// The report entries of the selected segments.
    pub dropped: Vec<DroppedSegment>,
}

/// Applies `policy` to `sealed` (oldest first). `other_bytes` and
/// `other_newest_ns` are what the rest of the journal adds to the total
/// size and to the newest append time (the active segment).
pub(crate) fn plan(
    storage: &dyn crate::storage::Storage,
    sealed: &[std::sync::Arc<Segment>],
    other_bytes: u64,
    other_newest_ns: Option<i64>,
    policy: &RetentionPolicy,
    floor: Option<u64>,
) -> Plan {
    let facts: Vec<Facts> = sealed.iter().filter_map(|s| facts_of(storage, s)).collect();
    let total = facts.iter().map(|f| f.bytes).sum::<u64>() + other_bytes;
    let newest = facts
        .iter()
        .filter_map(|f| f.newest_append_ns)
        .chain(other_newest_ns)
        .max();
    let (count, held_by_floor) = select(&facts, total, newest, policy, floor);
    Plan {
        count,
        held_by_floor,
        dropped: sealed
            .iter()
            .zip(&facts)
            .take(count)
            .map(|(s, f)| dropped_of(s, f))
            .collect(),
    }
}

/// The report entry of a selected segment.
pub(crate) fn dropped_of(segment: &Segment, facts: &Facts) -> DroppedSegment {
    DroppedSegment {
        path: segment.log_path.clone(),
        base_sequence: facts.base,
        last_sequence: facts.last_sequence,
        records: facts.records,
        bytes: facts.bytes,
        newest_append: facts.newest_append_ns.map(Timestamp::from_unix_nanos),
    }
}

/// Removes a dropped segment's index and log, index first (an index left
/// behind by a crash is an orphan the next open ignores below the mark).
pub(crate) fn unlink_segment(
    storage: &dyn crate::storage::Storage,
    segment: &Segment,
    leftovers: &mut Vec<(PathBuf, String)>,
) {
    for path in [segment.index_path(), segment.log_path.clone()] {
        match storage.remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => leftovers.push((path, e.to_string())),
        }
    }
}

/// Copies a sealed segment's log (and index, when there is one) into the
/// tier directory `tier`, through the storage seam (a temporary name,
/// fsync, rename, then the directory's fsync), and proves the copy: its
/// bytes, read back, hash to the segment's digest and end with its footer.
/// Only then may the original go. The tier holds a copy of `journal.meta`
/// (written the first time), so it belongs to one journal.
pub(crate) fn copy_to_tier(
    storage: &dyn crate::storage::Storage,
    live_dir: &Path,
    segment: &Segment,
    tier: &Path,
) -> Result<()> {
    use crate::storage::OpenMode;
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::FileExt;
    const CHUNK: usize = 1 << 20;
    let sealed = segment
        .sealed()
        .ok_or_else(|| Error::corruption(&segment.log_path, 0, "only sealed segments move"))?;
    storage
        .create_dir_all(tier)
        .map_err(|e| Error::io(tier, e))?;
    let live_meta =
        crate::disk::meta::Meta::read_from(storage, &live_dir.join(crate::disk::META_FILE))?;
    let tier_meta_path = tier.join(crate::disk::META_FILE);
    if tier_meta_path.exists() {
        let tier_meta = crate::disk::meta::Meta::read_from(storage, &tier_meta_path)?;
        if tier_meta.journal_id != live_meta.journal_id {
            return Err(Error::corruption(
                &tier_meta_path,
                16,
                "the tier directory belongs to another journal (journal id differs)",
            ));
        }
    } else {
        live_meta.write(storage, tier)?;
    }
    let copy = |from: &Path, to: &Path, len: u64| -> Result<()> {
        let source = storage.open_read(from).map_err(|e| Error::io(from, e))?;
        let tmp = to.with_extension(format!(
            "{}.tmp",
            to.extension().and_then(|x| x.to_str()).unwrap_or("")
        ));
        let file = storage
            .open(&tmp, OpenMode::Truncate)
            .map_err(|e| Error::io(&tmp, e))?;
        let mut buf = vec![0u8; CHUNK];
        let mut at = 0u64;
        while at < len {
            let n = usize::try_from(len - at).map_or(CHUNK, |n| n.min(CHUNK));
            source
                .read_exact_at(&mut buf[..n], at)
                .map_err(|e| Error::io(from, e))?;
            file.write_all_at(&buf[..n], at)
                .map_err(|e| Error::io(&tmp, e))?;
            at += n as u64;
        }
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        drop(file);
        storage.rename(&tmp, to).map_err(|e| Error::io(to, e))
    };
    let log_len = sealed.footer.data_end + FOOTER_FRAME_LEN as u64;
    let tier_log = tier.join(crate::disk::segment::log_file_name(segment.base));
    copy(&segment.log_path, &tier_log, log_len)?;
    let index = segment.index_path();
    if let Ok(len) = storage.file_len(&index) {
        let tier_index = tier.join(crate::disk::segment::index_file_name(segment.base));
        copy(&index, &tier_index, len)?;
    }
    storage.sync_dir(tier).map_err(|e| Error::io(tier, e))?;
    // The proof: the copy, read back, is the segment.
    let copied = storage
        .open_read(&tier_log)
        .map_err(|e| Error::io(&tier_log, e))?;
    let mut hasher = Sha256::new();
    hasher.update(sealed.footer.previous_digest);
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0u64;
    while at < sealed.footer.data_end {
        let n = usize::try_from(sealed.footer.data_end - at).map_or(CHUNK, |n| n.min(CHUNK));
        copied
            .read_exact_at(&mut buf[..n], at)
            .map_err(|e| Error::io(&tier_log, e))?;
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    let mut footer = [0u8; FOOTER_FRAME_LEN];
    copied
        .read_exact_at(&mut footer, sealed.footer.data_end)
        .map_err(|e| Error::io(&tier_log, e))?;
    let digest: [u8; 32] = hasher.finalize().into();
    if digest != sealed.footer.digest || footer != sealed.footer.encode_frame() {
        return Err(Error::corruption(
            &tier_log,
            0,
            "the copy in the tier does not hash to the segment's digest: nothing was removed",
        ));
    }
    Ok(())
}

/// Deletes the oldest segments of a tier directory that `policy` selects
/// (by age: their newest append older than `now` minus the age, which
/// defaults to the tier's newest append; by size; by sequence): the
/// reference's `purge_archived`. The live journal is not touched and needs
/// no lock; a tier's segments are all below its journal's retention mark,
/// so what remains still chains to it (`verify --tier-dir`). Unlike a drop
/// from the live directory this leaves no mark in the tier: the tier is
/// cold storage, and its first segment simply starts later.
pub fn purge_tier(tier: &Path, policy: &RetentionPolicy, dry_run: bool) -> Result<DropReport> {
    let storage = crate::storage::OsStorage;
    crate::disk::recovery::read_meta(&storage, tier)?;
    let mut segments = Vec::new();
    for base in crate::disk::recovery::list_segments(&storage, tier)? {
        let log_path = tier.join(crate::disk::segment::log_file_name(base));
        let index_path = tier.join(crate::disk::segment::index_file_name(base));
        let Ok(bytes) = crate::storage::Storage::read(&storage, &index_path) else {
            break;
        };
        let index = crate::disk::index::SealedIndex::decode(&bytes, &index_path)?;
        segments.push(std::sync::Arc::new(Segment {
            base,
            log_path,
            state: crate::disk::segment::SegmentState::Sealed(Box::new(index)),
        }));
    }
    let Plan { count, dropped, .. } = plan(&storage, &segments, 0, None, policy, None);
    let mut report = DropReport {
        dropped,
        first_retained: segments.get(count).map_or(0, |s| s.base),
        dry_run,
        held_by_floor: None,
        leftovers: Vec::new(),
    };
    if dry_run || count == 0 {
        return Ok(report);
    }
    for segment in &segments[..count] {
        unlink_segment(&storage, segment, &mut report.leftovers);
    }
    crate::storage::Storage::sync_dir(&storage, tier).map_err(|e| Error::io(tier, e))?;
    Ok(report)
}

impl Writer {
    /// Applies `policy`: selects the oldest sealed segments, writes and
    /// syncs the retention mark, publishes it, then unlinks them.
    pub(crate) fn retain(
        &mut self,
        policy: &RetentionPolicy,
        dry_run: bool,
        tier: Option<&Path>,
    ) -> Result<DropReport> {
        let floor = match self.retention_floor.load(Ordering::Acquire) {
            u64::MAX => None,
            floor => Some(floor),
        };
        let active_newest =
            (self.active.summary.record_count > 0).then_some(self.active.summary.max_appended_ns);
        let Plan {
            count,
            held_by_floor,
            dropped,
        } = plan(
            self.storage.as_ref(),
            &self.sealed,
            self.active.prefilled.max(self.active.end),
            active_newest,
            policy,
            floor,
        );
        let mut report = DropReport {
            dropped,
            first_retained: self.mark(),
            dry_run,
            held_by_floor,
            leftovers: Vec::new(),
        };
        if count == 0 || dry_run {
            if dry_run && count > 0 {
                report.first_retained = self.first_base_after(count);
            }
            return Ok(report);
        }
        let victims: Vec<_> = self.sealed[..count].to_vec();
        // Moving: every victim copied to the tier and proven first.
        if let Some(tier) = tier {
            for segment in &victims {
                copy_to_tier(self.storage.as_ref(), &self.dir, segment, tier)?;
            }
        }
        let last = victims
            .last()
            .and_then(|s| s.sealed())
            .expect("the victims are sealed");
        let first_retained = self.first_base_after(count);
        let mark = RetentionMark {
            first_retained,
            last_dropped_sequence: victims
                .iter()
                .filter_map(|s| s.sealed())
                .filter(|s| s.footer.record_count > 0)
                .map(|s| s.footer.last_sequence)
                .max()
                .unwrap_or(0),
            dropped_segments: count as u64,
            dropped_total: self.mark_record.map_or(0, |m| m.dropped_total) + count as u64,
            dropped_bytes: report.dropped.iter().map(|d| d.bytes).sum(),
            dropped_at_ns: Timestamp::now().as_unix_nanos(),
            last_dropped_digest: last.footer.digest,
        };
        // Test-only break: unlink before the mark is durable
        // (docs/RELIABILITY.md).
        if cfg!(feature = "break-retention-unlink-before-mark") {
            for segment in &victims {
                unlink_segment(self.storage.as_ref(), segment, &mut report.leftovers);
            }
        }
        // From the mark on, a failure poisons the journal (as a failed
        // append does): the mark may or may not be durable.
        if let Err(e) = self.write_mark(&mark) {
            self.shared.poison(e.to_string());
            return Err(e);
        }
        // Test-only break: the active segment goes too (docs/RELIABILITY.md).
        if cfg!(feature = "break-retention-drop-active") {
            let _ = self.storage.remove_file(&self.active.segment.log_path);
        }
        self.sealed.drain(..count);
        self.mark_record = Some(mark);
        if let Err(e) = self.publish() {
            self.shared.poison(e.to_string());
            return Err(e);
        }
        if !cfg!(feature = "break-retention-unlink-before-mark") {
            for segment in &victims {
                unlink_segment(self.storage.as_ref(), segment, &mut report.leftovers);
            }
        }
        if let Err(e) = self.storage.sync_dir(&self.dir) {
            report.leftovers.push((self.dir.clone(), e.to_string()));
        }
        report.first_retained = first_retained;
        Ok(report)
    }

    /// The base of the segment that follows the first `count` sealed ones.
    fn first_base_after(&self, count: usize) -> u64 {
        self.sealed
            .get(count)
            .map_or(self.active.segment.base, |s| s.base)
    }

    /// Appends the mark frame to the active segment and syncs it (whatever
    /// the durability policy: nothing is unlinked before the mark is
    /// durable). Rolls first when the frame would not fit.
    fn write_mark(&mut self, mark: &RetentionMark) -> Result<()> {
        self.flush_buffer()?;
        let needed = self.active.end + (MARK_FRAME_LEN + FOOTER_FRAME_LEN) as u64;
        if needed > self.segment_bytes && self.active.end > SEGMENT_HEADER_LEN as u64 {
            let next = self
                .latest
                .checked_add(1)
                .ok_or(Error::SequenceOverflow {
                    latest: self.latest,
                })?
                .max(self.active.segment.base + 1);
            self.roll(next)?;
        }
        self.buffer.extend_from_slice(&mark.encode_frame());
        self.flush_buffer()?;
        self.active.summary.mark = Some(*mark);
        self.sync_and_publish()
    }
}
