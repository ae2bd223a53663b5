//! Opening a journal directory: reading the metadata, checking sealed
//! segments through their indexes (never scanning them unless an index is
//! missing or damaged), scanning the active segment's frames, and telling
//! a torn tail from corruption.
//!
//! The rule (docs/FORMAT.md, "Recovery"): every record carries the segment
//! offset that was durable when it was written (its commit hint), and the
//! `head` file carries the synced end the writer last published. The synced
//! end is the larger of the two. Damage that starts below it is
//! corruption; damage at or after it is a torn tail.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codec::{self, RetentionMark, SEGMENT_HEADER_LEN, SegmentHeader};
use crate::disk::index::SealedIndex;
use crate::disk::meta::{Head, META_FILE, Meta};
use crate::disk::mmap::MapCache;
use crate::disk::segment::{
    MissingSpan, ScanStop, Scanner, Segment, SegmentState, check_footer, commit_hint_after,
    index_file_name, log_file_name,
};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// What opening a journal found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments found.
    pub segments: usize,
    /// A torn tail found in the active segment: damage after the last sync
    /// point. A writer zeroes it in place; a read-only open leaves it.
    pub torn_tail: Option<TornTail>,
    /// Damage inside the region that had been synced. A writer refuses to
    /// open; a read-only open serves the intact prefix and reports it here.
    pub corruption: Option<String>,
    /// Bytes a [`crate::disk::RecoveryMode::Salvage`] open zeroed inside
    /// the synced region (0 otherwise).
    pub salvaged_bytes: u64,
    /// Index files found missing, stale or damaged and rebuilt from logs.
    pub rebuilt_indexes: Vec<PathBuf>,
    /// Records scanned in the active segment.
    pub active_records_scanned: u64,
    /// True when the last segment had been sealed but its successor not
    /// created (a crash during a roll); the writer completed the roll.
    pub completed_roll: bool,
    /// True when the last segment's header had not been written (a crash
    /// while creating it); a writer rewrote it.
    pub repaired_header: bool,
    /// Bytes read from sealed segments' `.log` files to open: their
    /// headers and footers only, when their indexes are sound (the records
    /// are checked when read). A rebuilt index adds its segment's bytes.
    pub sealed_log_bytes_read: u64,
    /// Version-1 index files (no block summaries) that a writer rewrote as
    /// the current version, from their logs (docs/FORMAT.md, "Index").
    pub upgraded_indexes: Vec<PathBuf>,
    /// Segment files below the retention mark that a drop had not yet
    /// unlinked when it was interrupted: never read; a writer removes
    /// them.
    pub pending_drops: Vec<PathBuf>,
}

/// A torn tail: where it starts and how many bytes it spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub path: PathBuf,
    /// Offset of the first byte not part of a valid record.
    pub offset: u64,
    /// Bytes from there to the end of the file.
    pub bytes: u64,
    /// What was found there.
    pub reason: String,
    /// Whether the bytes were zeroed (writer) or left alone (read-only).
    pub zeroed: bool,
}

/// The active segment as found on disk.
pub(crate) struct ActiveFound {
    pub base: u64,
    pub path: PathBuf,
    pub header: [u8; SEGMENT_HEADER_LEN],
    pub header_missing: bool,
    pub scanner: Scanner,
    pub stop: ScanStop,
    pub file_len: u64,
    /// After damage: the largest commit hint of the records found again
    /// past it (0 otherwise).
    pub later_commit_hint: u64,
}

/// Everything `open` learned from the directory.
pub(crate) struct Loaded {
    pub meta: Meta,
    pub sealed: Vec<Arc<Segment>>,
    /// Digest of the last sealed segment (zeros when none).
    pub previous_digest: [u8; 32],
    /// Indexes rebuilt in memory that a writer should write out.
    pub rebuilt: Vec<(PathBuf, SealedIndex)>,
    pub active: Option<ActiveFound>,
    /// The stand-in for the active segment `head` names when its file is
    /// gone (records were synced to it).
    pub missing_active: Option<Arc<Segment>>,
    pub report: RecoveryReport,
    /// The newest retention mark found (in a sealed index or the active
    /// scan).
    pub mark: Option<RetentionMark>,
    /// Segments below the mark still on disk (a drop interrupted before
    /// its unlinks finished); not in `sealed`.
    pub pending: Vec<Arc<Segment>>,
    /// Segments of a tier directory were read with the live ones.
    pub tiered: bool,
}

/// The base sequences of the segments in `dir`, ascending.
pub(crate) fn list_segments(storage: &dyn Storage, dir: &Path) -> Result<Vec<u64>> {
    let mut bases = Vec::new();
    for name in storage.list_dir(dir).map_err(|e| Error::io(dir, e))? {
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".log")
            && stem.len() == 20
            && stem.bytes().all(|b| b.is_ascii_digit())
            && let Ok(base) = stem.parse::<u64>()
        {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// The segments of the tier directory `tier` read with the live ones:
/// those below the first live segment (a copy left in both by an
/// interrupted move is read live). A tier of another journal is refused.
pub(crate) fn tier_segments(
    storage: &dyn Storage,
    tier: Option<&Path>,
    meta: &Meta,
    live_bases: &[u64],
) -> Result<Vec<u64>> {
    let Some(tier) = tier else {
        return Ok(Vec::new());
    };
    let tier_meta = read_meta(storage, tier)?;
    if tier_meta.journal_id != meta.journal_id {
        return Err(Error::corruption(
            tier.join(META_FILE),
            16,
            "the tier directory belongs to another journal (journal id differs)",
        ));
    }
    let first_live = live_bases.first().copied().unwrap_or(u64::MAX);
    Ok(list_segments(storage, tier)?
        .into_iter()
        .filter(|&b| b < first_live)
        .collect())
}

/// The base sequences of the `.idx` files in `dir` whose `.log` is gone:
/// a segment deleted, its index left behind.
pub(crate) fn orphan_indexes(storage: &dyn Storage, dir: &Path) -> Result<Vec<u64>> {
    let mut bases = Vec::new();
    for name in storage.list_dir(dir).map_err(|e| Error::io(dir, e))? {
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".idx")
            && stem.len() == 20
            && stem.bytes().all(|b| b.is_ascii_digit())
            && let Ok(base) = stem.parse::<u64>()
            && storage.file_len(&dir.join(log_file_name(base))).is_err()
        {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// The error for a segment gone from before `next` (`None`: the end),
/// after the segment ending at `previous_last` (0: the start).
pub(crate) fn missing_segment(
    storage: &dyn Storage,
    dir: &Path,
    previous: Option<(u64, u64)>,
    next: Option<u64>,
    orphan: Option<u64>,
    how: String,
) -> Error {
    let first = orphan.unwrap_or_else(|| previous.map_or(1, |(_, last)| last.saturating_add(1)));
    let mut last = next.map_or(u64::MAX, |n| n.saturating_sub(1));
    if let Some(base) = orphan {
        let idx_path = dir.join(index_file_name(base));
        if let Some(idx) = storage
            .read(&idx_path)
            .ok()
            .and_then(|b| SealedIndex::decode(&b, &idx_path).ok())
            && idx.summary.record_count > 0
        {
            last = last.min(idx.summary.last_sequence);
        }
    }
    Error::MissingSegment {
        path: dir.join(log_file_name(first)),
        first,
        last,
        reason: how,
    }
}

/// The stand-in for a missing segment in a reader's view: a read that
/// needs its sequences fails with `error` (an [`Error::MissingSegment`]);
/// reads that do not, succeed. When the span is empty (no sequence fits
/// between its neighbours), there is nothing to stand in for: the error
/// is returned instead.
fn missing_placeholder(error: Error) -> Result<Arc<Segment>> {
    match error {
        Error::MissingSegment {
            path,
            first,
            last,
            reason,
        } if first <= last => Ok(Arc::new(Segment {
            base: first,
            log_path: path,
            state: SegmentState::Missing(Box::new(MissingSpan {
                first,
                last,
                reason,
            })),
        })),
        other => Err(other),
    }
}

/// True when `bytes`, the whole of the last segment file, is what a crash
/// while creating the segment leaves: at most a header's length of zeros
/// or of a prefix of the header the writer would write. A writer's open
/// rewrites it ("repaired header"); nothing was lost.
pub(crate) fn is_unwritten_header(bytes: &[u8], journal_id: [u8; 16], base: u64) -> bool {
    let fresh = codec::SegmentHeader {
        format_version: codec::FORMAT_VERSION,
        journal_id,
        base_sequence: base,
    }
    .encode();
    bytes.len() <= SEGMENT_HEADER_LEN && (bytes.iter().all(|&b| b == 0) || fresh.starts_with(bytes))
}

/// Reads the metadata, with clear errors for a directory that is not a
/// journal.
pub(crate) fn read_meta(storage: &dyn Storage, dir: &Path) -> Result<Meta> {
    let path = dir.join(META_FILE);
    if !path.exists() {
        let reason = if dir.exists() {
            format!("no {META_FILE} in the directory")
        } else {
            "the directory does not exist".to_string()
        };
        return Err(Error::NotAJournal {
            path: dir.into(),
            reason,
        });
    }
    Meta::read_from(storage, &path)
}

/// The largest body this journal's segments can hold.
pub(crate) fn body_len_max(segment_bytes: u64) -> usize {
    let room = segment_bytes
        .saturating_sub(SEGMENT_HEADER_LEN as u64)
        .saturating_sub(codec::FOOTER_FRAME_LEN as u64)
        .saturating_sub(codec::FRAME_HEADER_LEN as u64);
    usize::try_from(room).map_or(codec::BODY_LEN_MAX, |room| room.min(codec::BODY_LEN_MAX))
}

fn read_header(
    bytes: &[u8],
    path: &Path,
    meta: &Meta,
    base: u64,
) -> Result<[u8; SEGMENT_HEADER_LEN]> {
    let header = SegmentHeader::decode(bytes, path)?;
    if header.journal_id != meta.journal_id {
        return Err(Error::corruption(
            path,
            16,
            "segment belongs to another journal (journal id differs)",
        ));
    }
    if header.base_sequence != base {
        return Err(Error::corruption(
            path,
            32,
            format!(
                "header says base sequence {}, file name says {base}",
                header.base_sequence
            ),
        ));
    }
    let mut out = [0u8; SEGMENT_HEADER_LEN];
    out.copy_from_slice(&bytes[..SEGMENT_HEADER_LEN]);
    Ok(out)
}

/// Loads a sealed segment through its index, or by scanning its log when
/// the index is missing, stale or damaged.
#[expect(
    clippy::too_many_arguments,
    reason = "the segment, its neighbour's evidence and the shared read state, each distinct"
)]
fn load_sealed(
    dir: &Path,
    meta: &Meta,
    base: u64,
    previous: Option<(u64, u64)>,
    previous_digest: Option<&[u8; 32]>,
    maps: &MapCache,
    body_len_max: usize,
    bytes_read: &mut u64,
) -> Result<(SealedIndex, bool)> {
    let log_path = dir.join(log_file_name(base));
    let idx_path = dir.join(index_file_name(base));
    let storage = maps.storage();
    let from_index = storage
        .read(&idx_path)
        .ok()
        .and_then(|bytes| SealedIndex::decode_deferred(bytes, &idx_path).ok())
        .filter(|idx| {
            idx.journal_id == meta.journal_id
                && idx.base_sequence == base
                && summary_agrees_with_footer(idx)
        });
    if let Some(idx) = from_index {
        // Cheap checks only: the footer in the log agrees with the index
        // and chains to the previous segment. Records are checked on read.
        // Two positional reads, no map: opening costs the same whatever
        // the segments hold.
        use std::os::unix::fs::FileExt;
        let file = storage
            .open_read(&log_path)
            .map_err(|e| Error::io(&log_path, e))?;
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        let mut footer = [0u8; codec::FOOTER_FRAME_LEN];
        let read = file
            .read_exact_at(&mut header, 0)
            .and_then(|()| file.read_exact_at(&mut footer, idx.footer.data_end));
        *bytes_read += (SEGMENT_HEADER_LEN + codec::FOOTER_FRAME_LEN) as u64;
        let footer_ok = read.is_ok()
            && matches!(
                codec::read_frame(&footer, body_len_max),
                Ok((codec::Frame::Footer(f), _)) if f == idx.footer
            );
        if footer_ok && previous_digest.is_none_or(|d| &idx.footer.previous_digest == d) {
            read_header(&header, &log_path, meta, base)?;
            return Ok((idx, false));
        }
    }
    let unlinked = |footer: &codec::Footer| {
        let from = previous.map_or_else(
            || "the start of the journal".to_string(),
            |(previous_base, _)| log_file_name(previous_base),
        );
        missing_segment(
            storage,
            dir,
            previous,
            Some(base),
            None,
            format!(
                "the digest chain of {} does not link to {from}, though its own records \
                 match its digest{}",
                log_file_name(base),
                if footer.previous_digest == [0u8; 32] {
                    " (and it claims to be the first segment)"
                } else {
                    ""
                }
            ),
        )
    };
    let map = maps.get(base, &log_path, SEGMENT_HEADER_LEN as u64)?;
    *bytes_read += map.bytes().len() as u64;
    let bytes = map.bytes();
    let header = read_header(bytes, &log_path, meta, base)?;
    let seed = previous_digest.copied().unwrap_or_default();
    let mut scanner = Scanner::new(base, &header, &seed, body_len_max);
    match scanner.scan(bytes, u64::MAX) {
        ScanStop::Footer(footer) => {
            if previous_digest != Some(&footer.previous_digest) {
                // Chained from the digest its footer claims: whole, so the
                // link is what is wrong (a segment missing before it).
                let mut relinked =
                    Scanner::new(base, &header, &footer.previous_digest, body_len_max);
                relinked.scan(bytes, u64::MAX);
                let whole =
                    check_footer(&relinked, &footer, &footer.previous_digest, &log_path).is_ok();
                match previous_digest {
                    Some(_) if whole => return Err(unlinked(&footer)),
                    // The link is already known broken: the segment stands
                    // on its own digest.
                    None => scanner = relinked,
                    Some(_) => {}
                }
            }
            check_footer(
                &scanner,
                &footer,
                previous_digest.unwrap_or(&footer.previous_digest),
                &log_path,
            )?;
            let idx = SealedIndex {
                journal_id: meta.journal_id,
                base_sequence: base,
                summary: scanner.summary,
                index: scanner.index,
                footer,
            };
            Ok((idx, true))
        }
        ScanStop::Damage(problem) => Err(problem.into_error(&log_path, scanner.position)),
        ScanStop::CleanEnd | ScanStop::Limit => Err(Error::corruption(
            &log_path,
            scanner.position,
            "a segment that is not the last has no sealing footer",
        )),
    }
}

/// A sealed segment's index rebuilt from its log, for a version-1 index
/// that lacks block summaries. The log must agree with the index's footer
/// (every CRC and the digest are checked by the scan).
pub(crate) fn rebuild_from_log(
    dir: &Path,
    idx: &SealedIndex,
    maps: &MapCache,
    body_len_max: usize,
) -> Result<SealedIndex> {
    let base = idx.base_sequence;
    let log_path = dir.join(log_file_name(base));
    let map = maps.get(
        base,
        &log_path,
        idx.footer.data_end + codec::FOOTER_FRAME_LEN as u64,
    )?;
    let bytes = map.bytes();
    let mut scanner = Scanner::new(
        base,
        &bytes[..SEGMENT_HEADER_LEN],
        &idx.footer.previous_digest,
        body_len_max,
    );
    match scanner.scan(bytes, u64::MAX) {
        ScanStop::Footer(footer) if footer == idx.footer => {
            check_footer(&scanner, &footer, &idx.footer.previous_digest, &log_path)?;
            Ok(SealedIndex {
                journal_id: idx.journal_id,
                base_sequence: base,
                summary: scanner.summary,
                index: scanner.index.canonical(),
                footer,
            })
        }
        ScanStop::Damage(problem) => Err(problem.into_error(&log_path, scanner.position)),
        _ => Err(Error::corruption(
            &log_path,
            scanner.position,
            "the segment's records do not end at its index's footer",
        )),
    }
}

/// The cheap checks of an index's summary against its own copy of the
/// footer (which open compares with the log's): the record count and the
/// sequence bounds, and the event-type counts adding up to the records.
/// An index failing them is rebuilt from the log, so a count or a skip
/// never rests on a summary that contradicts the footer.
fn summary_agrees_with_footer(idx: &SealedIndex) -> bool {
    let s = &idx.summary;
    let f = &idx.footer;
    let types_add_up = [&s.event_types, &s.services, &s.regions]
        .iter()
        .all(|counts| {
            counts
                .as_ref()
                .is_none_or(|map| map.values().sum::<u64>() == s.record_count)
        });
    let entries_inside = idx.index.entries().iter().all(|e| {
        e.position >= SEGMENT_HEADER_LEN as u64
            && e.position < f.data_end
            && (s.record_count == 0 || (s.first_sequence..=s.last_sequence).contains(&e.sequence))
    });
    s.record_count == f.record_count
        && s.first_sequence == f.first_sequence
        && s.last_sequence == f.last_sequence
        && types_add_up
        && entries_inside
}

/// Loads the directory. `limit` bounds the active segment's scan for a
/// read-only open while a writer is live (the published end).
pub(crate) fn load(
    dir: &Path,
    tier: Option<&Path>,
    maps: &MapCache,
    limit: Option<Head>,
) -> Result<Loaded> {
    let storage = maps.storage();
    let meta = read_meta(storage, dir)?;
    let body_len_max = body_len_max(meta.segment_bytes);
    // Read before listing: a segment `head` names was created before it.
    let head_now = Head::read_from(storage, dir);
    let live_bases = list_segments(storage, dir)?;
    let tier_bases = tier_segments(storage, tier, &meta, &live_bases)?;
    let tiered = |base: u64| tier_bases.binary_search(&base).is_ok();
    let dir_of = |base: u64| -> &Path {
        match tier {
            Some(tier) if tiered(base) => tier,
            _ => dir,
        }
    };
    let mut bases = tier_bases.clone();
    bases.extend(&live_bases);
    let missing_active = match head_now {
        Some(head)
            if bases.last().is_none_or(|&last| head.active_base > last)
                && head.synced_end > SEGMENT_HEADER_LEN as u64 =>
        {
            Some(missing_placeholder(Error::MissingSegment {
                path: dir.join(log_file_name(head.active_base)),
                first: head.active_base,
                last: head.latest.max(head.active_base),
                reason: format!(
                    "`head` names it as the active segment, with {} bytes synced",
                    head.synced_end
                ),
            })?)
        }
        _ => None,
    };
    let mut report = RecoveryReport {
        segments: bases.len(),
        ..RecoveryReport::default()
    };
    let mut sealed: Vec<Arc<Segment>> = Vec::new();
    let mut rebuilt = Vec::new();
    let mut previous_digest = [0u8; 32];
    let mut previous_last = 0u64;
    let mut previous: Option<(u64, u64)> = None;
    let orphans = orphan_indexes(storage, dir)?;
    let orphan_before = |previous: Option<(u64, u64)>, base: u64| {
        orphans
            .iter()
            .copied()
            .find(|&o| o < base && previous.is_none_or(|(p, _)| o > p))
    };
    let Some((&last_base, sealed_bases)) = bases.split_last() else {
        return Ok(Loaded {
            meta,
            sealed,
            previous_digest,
            rebuilt,
            active: None,
            missing_active,
            report,
            mark: None,
            pending: Vec::new(),
            tiered: !tier_bases.is_empty(),
        });
    };
    // False right after a missing segment: the next one's link to the
    // segment before the gap cannot hold.
    let mut link_known = true;
    for &base in sealed_bases {
        if let Some(orphan) = orphan_before(previous, base) {
            let error = missing_segment(
                storage,
                dir,
                previous,
                Some(base),
                Some(orphan),
                format!("its index {} remains", index_file_name(orphan)),
            );
            sealed.push(missing_placeholder(error)?);
            link_known = false;
        }
        let mut load = |link: Option<&[u8; 32]>| {
            load_sealed(
                dir_of(base),
                &meta,
                base,
                previous,
                link,
                maps,
                body_len_max,
                &mut report.sealed_log_bytes_read,
            )
        };
        let (idx, was_rebuilt) = match load(link_known.then_some(&previous_digest)) {
            Err(error @ Error::MissingSegment { .. }) => {
                sealed.push(missing_placeholder(error)?);
                load(None)?
            }
            other => other?,
        };
        link_known = true;
        let log_path = dir_of(base).join(log_file_name(base));
        check_order(
            &log_path,
            base,
            previous_last,
            idx.summary.first_sequence,
            idx.summary.record_count,
        )?;
        if idx.summary.record_count > 0 {
            previous_last = idx.summary.last_sequence;
        }
        previous = Some((base, previous_last.max(base)));
        previous_digest = idx.footer.digest;
        if was_rebuilt {
            report
                .rebuilt_indexes
                .push(dir_of(base).join(index_file_name(base)));
            if !tiered(base) {
                rebuilt.push((dir.join(index_file_name(base)), idx.clone()));
            }
        }
        sealed.push(Arc::new(Segment {
            base,
            log_path,
            state: SegmentState::Sealed(Box::new(idx)),
        }));
    }
    if let Some(orphan) = orphan_before(previous, last_base) {
        let error = missing_segment(
            storage,
            dir,
            previous,
            Some(last_base),
            Some(orphan),
            format!("its index {} remains", index_file_name(orphan)),
        );
        sealed.push(missing_placeholder(error)?);
    }
    // The last segment: scanned frame by frame.
    let path = dir.join(log_file_name(last_base));
    let file_len = storage.file_len(&path).map_err(|e| Error::io(&path, e))?;
    if previous_last >= last_base && previous_last > 0 {
        return Err(Error::corruption(
            &path,
            32,
            "base sequence does not exceed the previous segment's last",
        ));
    }
    let header_bytes = if file_len >= SEGMENT_HEADER_LEN as u64 {
        maps.get(last_base, &path, SEGMENT_HEADER_LEN as u64)?
            .bytes()[..SEGMENT_HEADER_LEN]
            .to_vec()
    } else {
        storage.read(&path).map_err(|e| Error::io(&path, e))?
    };
    let (header, header_missing) = match read_header(&header_bytes, &path, &meta, last_base) {
        Ok(h) => (h, false),
        Err(e) => {
            // A crash while creating the segment leaves a short or zeroed
            // header and nothing after it: an incomplete roll, not damage.
            let fresh = codec::SegmentHeader {
                format_version: codec::FORMAT_VERSION,
                journal_id: meta.journal_id,
                base_sequence: last_base,
            }
            .encode();
            let rest_is_zero = file_len <= SEGMENT_HEADER_LEN as u64
                && (header_bytes.iter().all(|&b| b == 0) || fresh.starts_with(&header_bytes));
            if !rest_is_zero {
                return Err(e);
            }
            (fresh, true)
        }
    };
    let scan_active = |seed: &[u8; 32]| -> Result<(Scanner, ScanStop, u64)> {
        let mut scanner = Scanner::new(last_base, &header, seed, body_len_max);
        let mut later_commit_hint = 0;
        if header_missing {
            return Ok((scanner, ScanStop::CleanEnd, 0));
        }
        let scan_limit = match limit {
            Some(head) if head.active_base == last_base => head.published_end,
            // The writer rolled after publishing `head`: nothing of the
            // newer segment is published yet (it may hold unsynced records).
            Some(head) if head.active_base < last_base => SEGMENT_HEADER_LEN as u64,
            _ => u64::MAX,
        };
        let map = maps.get(last_base, &path, file_len)?;
        let stop = scanner.scan(map.bytes(), scan_limit);
        if let ScanStop::Damage(_) = stop {
            let readable_len =
                usize::try_from(scan_limit.min(file_len)).expect("the file is mapped whole");
            let readable = &map.bytes()[..readable_len];
            let after = (scanner.summary.record_count > 0).then_some(scanner.summary.last_sequence);
            later_commit_hint =
                commit_hint_after(readable, scanner.position, after, last_base, body_len_max);
        }
        Ok((scanner, stop, later_commit_hint))
    };
    let (mut scanner, mut stop, mut later_commit_hint) = scan_active(&previous_digest)?;
    let mark = sealed
        .iter()
        .filter_map(|s| s.sealed().and_then(|s| s.summary.mark))
        .chain(scanner.summary.mark)
        .next_back();
    let mut pending = Vec::new();
    if let Some(mark) = &mark {
        pending = apply_mark(dir, &mut sealed, last_base, mark, &tiered);
        rebuilt.retain(|(path, _)| pending.iter().all(|p| p.index_path() != *path));
        report.pending_drops = pending.iter().map(|p| p.log_path.clone()).collect();
        if !sealed.iter().any(|s| s.sealed().is_some()) {
            // No sealed segment is retained: the active one chains to
            // the last dropped segment, whose digest the mark names.
            if previous_digest != mark.last_dropped_digest {
                previous_digest = mark.last_dropped_digest;
                (scanner, stop, later_commit_hint) = scan_active(&previous_digest)?;
            }
        }
    }
    report.active_records_scanned = scanner.summary.record_count;
    if scanner.summary.record_count > 0 && scanner.summary.first_sequence <= previous_last {
        return Err(Error::corruption(
            &path,
            SEGMENT_HEADER_LEN as u64,
            "sequences do not increase across segments",
        ));
    }
    Ok(Loaded {
        meta,
        sealed,
        previous_digest,
        rebuilt,
        missing_active,
        mark,
        pending,
        tiered: !tier_bases.is_empty(),
        active: Some(ActiveFound {
            base: last_base,
            path,
            header,
            header_missing,
            scanner,
            stop,
            file_len,
            later_commit_hint,
        }),
        report,
    })
}

/// Applies the newest retention mark to the loaded segments: segments
/// wholly below it (a drop interrupted before its unlinks finished) leave
/// `sealed` and are returned; stand-ins for missing segments below it go
/// (what the mark dropped is not missing); and when the first retained
/// segment starts above the mark, a stand-in covers the sequences between,
/// since the mark says they were kept.
fn apply_mark(
    dir: &Path,
    sealed: &mut Vec<Arc<Segment>>,
    active_base: u64,
    mark: &RetentionMark,
    tiered: &dyn Fn(u64) -> bool,
) -> Vec<Arc<Segment>> {
    let first_retained = mark.first_retained;
    let mut pending = Vec::new();
    let mut kept = Vec::with_capacity(sealed.len());
    for segment in sealed.drain(..) {
        match &segment.state {
            SegmentState::Missing(span) if span.first < first_retained => {
                if span.last >= first_retained
                    && let Ok(placeholder) = missing_placeholder(Error::MissingSegment {
                        path: dir.join(log_file_name(first_retained)),
                        first: first_retained,
                        last: span.last,
                        reason: span.reason.clone(),
                    })
                {
                    kept.push(placeholder);
                }
            }
            // Moved to the tier, read from there.
            _ if tiered(segment.base) => kept.push(segment),
            _ if segment.base < first_retained => pending.push(segment),
            _ => kept.push(segment),
        }
    }
    let first_base = kept
        .iter()
        .find(|s| !tiered(s.base))
        .map_or(active_base, |s| s.base);
    let tier_reaches = kept
        .iter()
        .rev()
        .find(|s| tiered(s.base))
        .and_then(|s| s.sealed())
        .is_some_and(|s| s.footer.last_sequence.saturating_add(1) >= first_retained);
    if first_base > first_retained
        && !tier_reaches
        && let Ok(placeholder) = missing_placeholder(Error::MissingSegment {
            path: dir.join(log_file_name(first_retained)),
            first: first_retained,
            last: first_base - 1,
            reason: format!(
                "the retention mark keeps every sequence from {first_retained} on, \
                 but the first segment starts at {first_base}"
            ),
        })
    {
        kept.insert(0, placeholder);
    }
    *sealed = kept;
    pending
}

fn check_order(path: &Path, base: u64, previous_last: u64, first: u64, count: u64) -> Result<()> {
    if previous_last > 0 && base <= previous_last {
        return Err(Error::corruption(
            path,
            32,
            "base sequence does not exceed the previous segment's last",
        ));
    }
    if count > 0 && first < base {
        return Err(Error::corruption(
            path,
            SEGMENT_HEADER_LEN as u64,
            "first sequence is below the segment's base",
        ));
    }
    Ok(())
}
