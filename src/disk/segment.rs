//! Segments as readers see them, the scanner that walks a segment's frames
//! (recovery, index rebuild, tail following), and [`RawRange`], the
//! borrowed, zero-copy range reader.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use crate::codec::{self, EntryRef, FRAME_HEADER_LEN, Footer, FrameError, SEGMENT_HEADER_LEN};
use crate::disk::index::{IndexEntry, SealedIndex, SparseIndex, Summary};
use crate::disk::mmap::{MapCache, SegmentMap};
use crate::disk::skip::{Conditions, WantedIds};
use crate::error::{Error, Result};

/// Segment file name for a base sequence: 20 zero-padded digits.
#[must_use]
pub fn log_file_name(base: u64) -> String {
    format!("{base:020}.log")
}

/// Index file name for a base sequence.
#[must_use]
pub fn index_file_name(base: u64) -> String {
    format!("{base:020}.idx")
}

/// A segment as readers see it.
pub(crate) struct Segment {
    pub base: u64,
    pub log_path: PathBuf,
    pub state: SegmentState,
}

pub(crate) enum SegmentState {
    /// Immutable, with its index and summary.
    Sealed(Box<SealedIndex>),
    /// Still written; its sparse index grows under the lock.
    Active(Arc<RwLock<SparseIndex>>),
    /// A salvage open's run of records found intact in a segment file
    /// (the whole segment when it is intact, else the parts between
    /// damage): frames back to back from `start` to `end`, indexed and
    /// summarised by the salvage scan.
    Salvaged(Box<SalvagedRun>),
    /// A segment file that is gone (the digest chain, or an index left
    /// behind, proves it existed): a read that needs it fails naming it.
    Missing(Box<MissingSpan>),
}

/// The sequences a missing segment held, and how its loss was found.
pub(crate) struct MissingSpan {
    pub first: u64,
    pub last: u64,
    pub reason: String,
}

impl Segment {
    /// The error of a read that needs a missing segment.
    pub(crate) fn missing_error(&self) -> Option<Error> {
        match &self.state {
            SegmentState::Missing(span) => Some(Error::MissingSegment {
                path: self.log_path.clone(),
                first: span.first,
                last: span.last,
                reason: span.reason.clone(),
            }),
            _ => None,
        }
    }
}

/// A run of intact frames of a segment file, found by a salvage open.
pub(crate) struct SalvagedRun {
    /// Offset of its first frame.
    pub start: u64,
    /// Offset just past its last frame.
    pub end: u64,
    /// Its records' summary.
    pub summary: Summary,
    /// Its sparse index (offsets in the file).
    pub index: SparseIndex,
}

impl Segment {
    pub(crate) fn sealed(&self) -> Option<&SealedIndex> {
        match &self.state {
            SegmentState::Sealed(s) => Some(s),
            _ => None,
        }
    }

    /// The summary of a segment that no longer grows (sealed, or a
    /// salvaged run).
    pub(crate) fn summary(&self) -> Option<&Summary> {
        match &self.state {
            SegmentState::Sealed(s) => Some(&s.summary),
            SegmentState::Salvaged(run) => Some(&run.summary),
            SegmentState::Active(_) | SegmentState::Missing(_) => None,
        }
    }

    /// Where to start reading for the first record with sequence >= target,
    /// and, when a sealed segment's index gave the offset, the entry's
    /// place and the sequence it promises is there.
    fn seek(&self, target: u64) -> (u64, Option<Promise>) {
        match &self.state {
            SegmentState::Sealed(s) => match s.index.seek_entry(target) {
                Some((i, entry)) => (
                    entry.position,
                    Some(Promise {
                        entry: i,
                        sequence: entry.sequence,
                    }),
                ),
                None => (SEGMENT_HEADER_LEN as u64, None),
            },
            SegmentState::Salvaged(run) => (run.index.seek(target).unwrap_or(run.start), None),
            SegmentState::Missing(_) => (SEGMENT_HEADER_LEN as u64, None),
            SegmentState::Active(index) => (
                index
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .seek(target)
                    .unwrap_or(SEGMENT_HEADER_LEN as u64),
                None,
            ),
        }
    }

    /// Calls `read` with the segment's sparse index and block summaries
    /// (sealed or active; `None` for the others).
    fn with_index<R>(&self, read: impl FnOnce(&SparseIndex) -> R) -> Option<R> {
        match &self.state {
            SegmentState::Sealed(s) => Some(read(&s.index)),
            SegmentState::Active(index) => {
                Some(read(&index.read().unwrap_or_else(|e| e.into_inner())))
            }
            SegmentState::Salvaged(_) | SegmentState::Missing(_) => None,
        }
    }

    /// The segment's index file.
    pub(crate) fn index_path(&self) -> PathBuf {
        self.log_path.with_file_name(index_file_name(self.base))
    }
}

/// What an index entry used for a seek promises: the record at its offset
/// has its sequence. Checked on the first frame read from there.
#[derive(Clone, Copy, Debug)]
struct Promise {
    /// The entry's place in the index (its bytes start at 160 + 16·entry).
    entry: usize,
    /// The sequence it names.
    sequence: u64,
}

/// A consistent snapshot of the journal for readers: the segments, the
/// readable end of the active one, and the latest readable sequence.
pub(crate) struct View {
    pub segments: Vec<Arc<Segment>>,
    /// Readable end of the last segment when it is active.
    pub active_end: u64,
    pub latest: u64,
    /// The retention low-water mark (0: nothing was dropped).
    pub first_retained: u64,
    /// The newest retention mark record, when one exists.
    pub mark_record: Option<crate::codec::RetentionMark>,
}

impl View {
    /// The readable end of segment `i`.
    pub(crate) fn readable_end(&self, i: usize) -> u64 {
        match &self.segments[i].state {
            SegmentState::Sealed(s) => s.footer.data_end,
            SegmentState::Salvaged(run) => run.end,
            SegmentState::Missing(_) => 0,
            SegmentState::Active(_) => self.active_end,
        }
    }

    /// Index of the segment that would hold `sequence`.
    pub(crate) fn segment_for(&self, sequence: u64) -> usize {
        self.segments
            .partition_point(|s| s.base <= sequence)
            .saturating_sub(1)
    }
}

/// Why a scan stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanStop {
    /// Zeros from the stop offset to the end of the bytes: a clean end.
    CleanEnd,
    /// The scan reached the limit it was given.
    Limit,
    /// A valid footer frame at the stop offset.
    Footer(Footer),
    /// Something unreadable at the stop offset.
    Damage(FrameError),
}

/// Walks a segment's frames from the header on, building what recovery,
/// index rebuilds and tail following need.
#[derive(Clone)]
pub(crate) struct Scanner {
    pub base: u64,
    pub position: u64,
    pub index: SparseIndex,
    pub summary: Summary,
    pub max_commit_hint: u64,
    pub hasher: Sha256,
    body_len_max: usize,
}

impl Scanner {
    /// A scanner at the first frame; the digest starts with the previous
    /// segment's digest and this segment's header bytes.
    pub(crate) fn new(
        base: u64,
        header: &[u8],
        previous_digest: &[u8; 32],
        body_len_max: usize,
    ) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(previous_digest);
        hasher.update(header);
        Scanner {
            base,
            position: SEGMENT_HEADER_LEN as u64,
            index: SparseIndex::default(),
            summary: Summary::empty(),
            max_commit_hint: 0,
            hasher,
            body_len_max,
        }
    }

    /// Scans `bytes` (the segment from offset 0) up to `limit`, stopping at
    /// the first frame that is not a valid record in sequence.
    pub(crate) fn scan(&mut self, bytes: &[u8], limit: u64) -> ScanStop {
        let limit = usize::try_from(limit).map_or(bytes.len(), |limit| limit.min(bytes.len()));
        loop {
            let at = usize::try_from(self.position).unwrap_or(usize::MAX);
            if at >= limit {
                return ScanStop::Limit;
            }
            match codec::read_frame(&bytes[at..limit], self.body_len_max) {
                Ok((codec::Frame::Record(record), len)) => {
                    let expected_min = if self.summary.record_count == 0 {
                        self.base
                    } else {
                        self.summary.last_sequence.saturating_add(1)
                    };
                    if record.sequence < expected_min {
                        return ScanStop::Damage(FrameError::BadBody("sequence does not increase"));
                    }
                    self.index.note_record(&record, self.position);
                    self.summary.add(&record);
                    self.max_commit_hint = self.max_commit_hint.max(record.commit_hint);
                    self.hasher.update(&bytes[at..at + len]);
                    self.position += len as u64;
                }
                Ok((codec::Frame::Mark(mark), len)) => {
                    self.summary.mark = Some(mark);
                    self.hasher.update(&bytes[at..at + len]);
                    self.position += len as u64;
                }
                Ok((codec::Frame::Footer(footer), _)) => return ScanStop::Footer(footer),
                Err(FrameError::End) => {
                    if bytes[at..].iter().all(|&b| b == 0) {
                        return ScanStop::CleanEnd;
                    }
                    return ScanStop::Damage(FrameError::End);
                }
                Err(FrameError::Truncated) if limit < bytes.len() => return ScanStop::Limit,
                Err(e) => return ScanStop::Damage(e),
            }
        }
    }

    /// The digest of everything scanned so far.
    pub(crate) fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

/// Checks that a footer found by a scan agrees with what was scanned.
pub(crate) fn check_footer(
    scanner: &Scanner,
    footer: &Footer,
    previous_digest: &[u8; 32],
    path: &Path,
) -> Result<()> {
    let s = &scanner.summary;
    let consistent = footer.record_count == s.record_count
        && footer.first_sequence == s.first_sequence
        && footer.last_sequence == s.last_sequence
        && footer.data_end == scanner.position
        && &footer.previous_digest == previous_digest;
    if !consistent {
        return Err(Error::corruption(
            path,
            scanner.position,
            "footer disagrees with the segment's records or the previous segment's digest",
        ));
    }
    if footer.digest != scanner.digest() {
        return Err(Error::corruption(
            path,
            scanner.position,
            "segment digest does not match its records",
        ));
    }
    Ok(())
}

/// What one decision about a block found.
enum BlockStep {
    /// Read the block's records; the next block starts here (or never).
    Read { next: Option<IndexEntry> },
    /// Pass the block by (skipped, or its matches counted from its
    /// summary); the next block, if any.
    Pass {
        counted: Option<u64>,
        next: Option<IndexEntry>,
    },
}

/// A borrowed, zero-copy reader over `start <= sequence < end`. Every
/// frame's length and CRC are checked before its bytes are used. Call
/// [`RawRange::next_entry`] until it returns `None`.
pub struct RawRange {
    view: Arc<View>,
    maps: Arc<MapCache>,
    body_len_max: usize,
    segment: usize,
    last_segment: usize,
    map: Option<Arc<SegmentMap>>,
    position: u64,
    segment_end: u64,
    start: u64,
    /// Exclusive end; `None` reads to the end of the journal.
    end: Option<u64>,
    /// Sequences of the current segment must lie in `[floor, ceiling)` and
    /// strictly increase: a CRC-valid frame out of order is damage too.
    floor: u64,
    ceiling: Option<u64>,
    previous: Option<u64>,
    /// The index entry the current position came from, until the frame
    /// there has been checked against it.
    promise: Option<Promise>,
    /// The query's conditions: segments and blocks they rule out are
    /// skipped (or counted, in counting mode).
    conditions: Option<Arc<Conditions>>,
    /// Counting mode: segments and blocks whose summaries can count their
    /// matches are counted, not read.
    counting: bool,
    /// Matches counted from summaries in counting mode.
    counted: u64,
    /// Block summaries apply to the current segment.
    blocks_on: bool,
    /// The wanted values' ids in the current segment's dictionaries.
    wanted: WantedIds,
    /// The current block and where the next one starts.
    block: usize,
    block_end: u64,
    /// Blocks of the current segment outside `first_block..end_block`
    /// cannot meet the time windows (a sealed segment's running bounds).
    first_block: usize,
    end_block: usize,
    /// Blocks read and passed by (skipped or counted).
    blocks_read: u64,
    blocks_passed: u64,
}

impl RawRange {
    pub(crate) fn new(
        view: Arc<View>,
        maps: Arc<MapCache>,
        body_len_max: usize,
        start: u64,
        end: u64,
    ) -> Self {
        let mut range = Self::all(view, maps, body_len_max);
        range.segment = range.view.segment_for(start);
        range.last_segment = if end <= start || range.view.segments.is_empty() {
            0
        } else {
            (range.view.segment_for(end - 1) + 1).max(range.segment)
        };
        range.start = start;
        range.end = Some(end);
        range
    }

    /// The records from `start` on, `u64::MAX` included.
    pub(crate) fn from_sequence(
        view: Arc<View>,
        maps: Arc<MapCache>,
        body_len_max: usize,
        start: u64,
    ) -> Self {
        let mut range = Self::new(view, maps, body_len_max, start, u64::MAX);
        range.last_segment = range.view.segments.len();
        range.end = None;
        range
    }

    /// Every record of the journal, `u64::MAX` included.
    pub(crate) fn all(view: Arc<View>, maps: Arc<MapCache>, body_len_max: usize) -> Self {
        RawRange {
            segment: 0,
            last_segment: view.segments.len(),
            view,
            maps,
            body_len_max,
            map: None,
            position: 0,
            segment_end: 0,
            start: 0,
            end: None,
            floor: 0,
            ceiling: None,
            previous: None,
            promise: None,
            conditions: None,
            counting: false,
            counted: 0,
            blocks_on: false,
            wanted: Default::default(),
            block: 0,
            block_end: u64::MAX,
            first_block: 0,
            end_block: usize::MAX,
            blocks_read: 0,
            blocks_passed: 0,
        }
    }

    /// Restricts the reader to segments `[first, last)`.
    pub(crate) fn segments(mut self, first: usize, last: usize) -> Self {
        self.segment = self.segment.max(first);
        self.last_segment = self.last_segment.min(last);
        self
    }

    /// Skips segments and blocks whose summaries rule out `conditions`
    /// (the records returned still need the full filter).
    pub(crate) fn filtered(mut self, conditions: Arc<Conditions>) -> Self {
        self.conditions = Some(conditions);
        self
    }

    /// Turns counting mode on: from the next segment or block on, those
    /// whose summaries can count their matches are counted into
    /// [`RawRange::counted`] instead of read. Needs conditions and an
    /// open end.
    pub(crate) fn count_from_summaries(&mut self) {
        self.counting = self.conditions.is_some() && self.end.is_none();
    }

    /// Matches counted from summaries in counting mode.
    pub(crate) fn counted(&self) -> u64 {
        self.counted
    }

    /// The place in the view of the segment the last record came from.
    pub(crate) fn current_segment(&self) -> usize {
        self.segment.saturating_sub(1)
    }

    /// Blocks read and blocks passed by (skipped or counted) so far.
    pub(crate) fn block_counts(&self) -> (u64, u64) {
        (self.blocks_read, self.blocks_passed)
    }

    /// Decides about block `i` of `seg`, whose readable data ends at
    /// `end`.
    fn block_step(&self, seg: &Segment, i: usize, end: u64) -> BlockStep {
        let conditions = self.conditions.as_ref().expect("blocks need conditions");
        let step = seg.with_index(|index| {
            let entries = index.entries();
            let next = entries.get(i + 1).copied();
            let (Some(entry), Some(block)) = (
                entries.get(i),
                index.blocks().and_then(|b| b.summaries.get(i)),
            ) else {
                return BlockStep::Read { next };
            };
            if conditions.skips_block(block, &self.wanted) {
                return BlockStep::Pass {
                    counted: None,
                    next,
                };
            }
            // Counted only when every record of the block is readable (an
            // active segment's last block may summarise records past the
            // view's end) and none is before the range's start.
            let whole = next.is_some_and(|n| n.position <= end)
                || matches!(seg.state, SegmentState::Sealed(_));
            if self.counting
                && whole
                && entry.sequence >= self.start
                && let Some(n) = conditions.block_count(block, &self.wanted)
            {
                return BlockStep::Pass {
                    counted: Some(n),
                    next,
                };
            }
            BlockStep::Read { next }
        });
        step.unwrap_or(BlockStep::Read { next: None })
    }

    /// Enters block `i` of the current segment at its start (or wherever a
    /// seek put the position inside it), passing by blocks the conditions
    /// rule out or count.
    fn enter_block(&mut self, mut i: usize) {
        let seg = self.view.segments[self.segment - 1].clone();
        if i >= self.end_block || self.first_block >= self.end_block {
            // No later block meets the windows.
            self.blocks_passed += 1;
            self.position = self.segment_end;
            self.promise = None;
            self.block_end = u64::MAX;
            return;
        }
        if i < self.first_block
            && let Some(sealed) = seg.sealed()
            && let Some(entry) = sealed.index.entries().get(self.first_block)
        {
            // The blocks before the first that can meet the windows.
            self.blocks_passed += (self.first_block - i) as u64;
            i = self.first_block;
            self.position = entry.position;
            self.promise = Some(Promise {
                entry: i,
                sequence: entry.sequence,
            });
        }
        loop {
            match self.block_step(&seg, i, self.segment_end) {
                BlockStep::Read { next } => {
                    self.blocks_read += 1;
                    self.block = i;
                    self.block_end = next.map_or(u64::MAX, |n| n.position);
                    return;
                }
                BlockStep::Pass { counted, next } => {
                    self.blocks_passed += 1;
                    self.counted += counted.unwrap_or(0);
                    match next {
                        Some(n) if n.position < self.segment_end => {
                            self.position = n.position;
                            self.promise = seg.sealed().map(|_| Promise {
                                entry: i + 1,
                                sequence: n.sequence,
                            });
                            i += 1;
                        }
                        _ => {
                            self.position = self.segment_end;
                            self.promise = None;
                            self.block_end = u64::MAX;
                            return;
                        }
                    }
                }
            }
        }
    }

    fn open_next_segment(&mut self) -> Result<bool> {
        while self.segment < self.last_segment {
            let i = self.segment;
            self.segment += 1;
            let seg = self.view.segments[i].clone();
            if let (Some(conditions), Some(summary)) = (&self.conditions, seg.summary()) {
                if conditions.skips_segment(summary) {
                    continue;
                }
                if self.counting
                    && summary.first_sequence >= self.start
                    && let Some(n) = conditions.segment_count(summary)
                {
                    self.counted += n;
                    continue;
                }
            }
            if let Some(error) = seg.missing_error() {
                return Err(error);
            }
            let end = self.view.readable_end(i);
            if end <= SEGMENT_HEADER_LEN as u64 {
                continue;
            }
            let needed = match seg.sealed() {
                Some(_) => end + codec::FOOTER_FRAME_LEN as u64,
                None => end,
            };
            self.map = Some(self.maps.get(seg.base, &seg.log_path, needed).map_err(
                |e| match e {
                    // The file went after this read's view was taken:
                    // a retention drop (the only thing that unlinks).
                    Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                        Error::DroppedByRetention {
                            path: seg.log_path.clone(),
                        }
                    }
                    other => other,
                },
            )?);
            (self.position, self.promise) = seg.seek(self.start);
            self.segment_end = end;
            self.floor = seg.base;
            self.ceiling = self.view.segments.get(i + 1).map(|next| next.base);
            self.previous = None;
            self.blocks_on = false;
            self.block_end = u64::MAX;
            (self.first_block, self.end_block) = (0, usize::MAX);
            if let Some(conditions) = &self.conditions {
                let position = self.position;
                let found = seg.with_index(|index| {
                    let blocks = index.blocks()?;
                    let at = index.entries().partition_point(|e| e.position <= position);
                    Some((conditions.wanted_ids(blocks), at.checked_sub(1)?))
                });
                if let Some(Some((wanted, block))) = found {
                    if let Some(blocks) = seg.sealed().and_then(|s| s.index.blocks())
                        && let Some((start, end, since, until)) = conditions.windows()
                    {
                        (self.first_block, self.end_block) =
                            blocks.sealed_bounds().candidates(start, end, since, until);
                    }
                    self.wanted = wanted;
                    self.blocks_on = true;
                    self.enter_block(block);
                }
            }
            return Ok(true);
        }
        Ok(false)
    }

    fn current_path(&self) -> &Path {
        &self.view.segments[self.segment - 1].log_path
    }

    /// The next record of the range, borrowing the mapped bytes.
    pub fn next_entry(&mut self) -> Option<Result<EntryRef<'_>>> {
        let (at, len) = loop {
            if self.map.is_none() {
                match self.open_next_segment() {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => {
                        self.last_segment = 0;
                        return Some(Err(e));
                    }
                }
            }
            if self.position >= self.segment_end {
                self.map = None;
                continue;
            }
            if self.blocks_on && self.position >= self.block_end {
                self.enter_block(self.block + 1);
                continue;
            }
            let bytes = self.map.as_ref().expect("map is set").bytes();
            let at = usize::try_from(self.position).expect("below the segment end");
            let end = usize::try_from(self.segment_end).expect("the segment end is mapped");
            let window = &bytes[at..end];
            let checked = codec::check_frame(window, self.body_len_max);
            if let Some(promise) = self.promise.take()
                && !cfg!(feature = "break-trust-index-sequence")
            {
                let found = match &checked {
                    Ok(frame)
                        if !frame.is_footer
                            && !frame.is_mark
                            && frame.sequence == promise.sequence =>
                    {
                        None
                    }
                    Ok(frame) if frame.is_footer => Some("the footer".to_string()),
                    Ok(frame) if frame.is_mark => Some("a retention mark".to_string()),
                    Ok(frame) => Some(format!("sequence {}", frame.sequence)),
                    Err(problem) => Some(format!("no valid frame ({})", problem.describe())),
                };
                if let Some(found) = found {
                    let segment = &self.view.segments[self.segment - 1];
                    let error = Error::corruption(
                        segment.index_path(),
                        (crate::disk::index::INDEX_FIXED_LEN + 16 * promise.entry) as u64,
                        format!(
                            "index entry {} promises sequence {} at byte {at} of {}, but {found} \
                             is there (the index disagrees with its log)",
                            promise.entry,
                            promise.sequence,
                            segment.log_path.display()
                        ),
                    );
                    self.map = None;
                    self.last_segment = 0;
                    return Some(Err(error));
                }
            }
            match checked {
                // A retention mark is not an entry: step over it.
                Ok(frame) if frame.is_mark => self.position += frame.total_len as u64,
                Ok(frame) if !frame.is_footer => {
                    let in_order = frame.sequence >= self.floor
                        && self.ceiling.is_none_or(|c| frame.sequence < c)
                        && self.previous.is_none_or(|p| frame.sequence > p);
                    if !in_order {
                        let error = Error::corruption(
                            self.current_path(),
                            at as u64,
                            format!("record sequence {} is out of order", frame.sequence),
                        );
                        self.map = None;
                        self.last_segment = 0;
                        return Some(Err(error));
                    }
                    self.previous = Some(frame.sequence);
                    self.position += frame.total_len as u64;
                    if self.end.is_some_and(|end| frame.sequence >= end) {
                        self.map = None;
                        self.last_segment = 0;
                        return None;
                    }
                    // A record the conditions rule out by its fixed fields
                    // or its raw event type, service or region (its CRC
                    // held) is passed by without decoding it.
                    let passed = self.conditions.as_ref().is_some_and(|c| {
                        !c.may_match_body(&bytes[at + FRAME_HEADER_LEN..at + frame.total_len])
                    });
                    if frame.sequence >= self.start && !passed {
                        break (at, frame.total_len);
                    }
                }
                Ok(_) => {
                    let error = Error::corruption(
                        self.current_path(),
                        at as u64,
                        "footer inside the record area",
                    );
                    self.map = None;
                    self.last_segment = 0;
                    return Some(Err(error));
                }
                Err(problem) => {
                    let error = problem.into_error(self.current_path(), at as u64);
                    self.map = None;
                    self.last_segment = 0;
                    return Some(Err(error));
                }
            }
        };
        let view = &self.view;
        let segment = self.segment - 1;
        let bytes = self.map.as_ref().expect("map is set").bytes();
        Some(
            codec::decode_body(&bytes[at + FRAME_HEADER_LEN..at + len])
                .map_err(|problem| problem.into_error(&view.segments[segment].log_path, at as u64)),
        )
    }
}

/// The owned-entry iterator over a [`RawRange`].
pub(crate) struct OwnedRange(pub RawRange);

impl Iterator for OwnedRange {
    type Item = Result<crate::entry::JournalEntry>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_entry().map(|r| r.map(|e| e.to_entry()))
    }
}

/// A record frame found again after damage by [`resync`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resynced {
    /// Offset of the frame in the segment.
    pub offset: u64,
    /// The record's sequence.
    pub sequence: u64,
}

/// Finds the first record frame at or after byte `from` of a segment's
/// `bytes` that can be trusted again after damage: its length and CRC are
/// valid, its body decodes, and its sequence is plausible, that is above
/// `after` (the last sequence read before the damage, or below the
/// segment's base when none was) and below `ceiling` (the next segment's
/// base, when there is one). Every byte offset is tried, since frames are
/// not aligned; a footer frame ends the search (nothing follows it).
/// docs/FORMAT.md, "Salvage", describes the rule.
pub(crate) fn resync(
    bytes: &[u8],
    from: u64,
    after: Option<u64>,
    base: u64,
    ceiling: Option<u64>,
    body_len_max: usize,
) -> Option<Resynced> {
    let from = usize::try_from(from).ok()?;
    for at in from..bytes.len().saturating_sub(FRAME_HEADER_LEN) {
        // Cheap checks first, so damaged bytes cost no CRC per offset: a
        // record's length word within bounds, its six field lengths adding
        // up to the body, a plausible sequence.
        let word = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        if word & codec::FOOTER_FLAG != 0 {
            // A footer: nothing follows it, but only a valid one ends the search.
            if matches!(
                codec::read_frame(&bytes[at..], body_len_max),
                Ok((codec::Frame::Footer(_), _))
            ) {
                return None;
            }
            continue;
        }
        let len = word as usize;
        let body = at + FRAME_HEADER_LEN;
        if len < codec::BODY_FIXED_LEN || len > body_len_max || body + len > bytes.len() {
            continue;
        }
        let fields: u64 = (0..6)
            .map(|i| u64::from(codec::u32_at(bytes, body + 32 + 4 * i)))
            .sum();
        let sequence = codec::u64_at(bytes, body);
        if fields != (len - codec::BODY_FIXED_LEN) as u64
            || sequence < base
            || after.is_some_and(|a| sequence <= a)
            || ceiling.is_some_and(|c| sequence >= c)
        {
            continue;
        }
        match codec::read_frame(&bytes[at..], body_len_max) {
            Ok((codec::Frame::Record(record), _)) => {
                let plausible = record.sequence >= base
                    && after.is_none_or(|a| record.sequence > a)
                    && ceiling.is_none_or(|c| record.sequence < c);
                if plausible {
                    return Some(Resynced {
                        offset: at as u64,
                        sequence: record.sequence,
                    });
                }
            }
            Ok((codec::Frame::Footer(_), _)) => return None,
            Ok((codec::Frame::Mark(_), _)) | Err(_) => {}
        }
    }
    None
}

/// The largest commit hint of the records found again after damage at
/// `from` ([`resync`], then frame by frame, again after each damage). A
/// record written after a sync proves the bytes below its hint were
/// durable, wherever it lies: damage below that hint is damage to synced
/// data, never a torn write.
pub(crate) fn commit_hint_after(
    bytes: &[u8],
    from: u64,
    after: Option<u64>,
    base: u64,
    body_len_max: usize,
) -> u64 {
    let mut last = after;
    let mut hint = 0;
    let mut at = from.saturating_add(1);
    while let Some(found) = resync(bytes, at, last, base, None, body_len_max) {
        let mut pos = usize::try_from(found.offset).expect("an offset inside `bytes`");
        while let Ok((codec::Frame::Record(record), len)) =
            codec::read_frame(&bytes[pos..], body_len_max)
        {
            if last.is_some_and(|l| record.sequence <= l) {
                break;
            }
            hint = hint.max(record.commit_hint);
            last = Some(record.sequence);
            pos += len;
        }
        at = pos as u64 + 1;
    }
    hint
}
