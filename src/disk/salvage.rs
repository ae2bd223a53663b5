//! The salvage open: a read-only view of a journal with missing,
//! truncated or damaged segments (docs/FORMAT.md, "Salvage").
//!
//! Every segment file is read with plain reads (never trusting its index)
//! and scanned frame by frame. Intact segments are served whole. In a
//! damaged one, the records before the damage are served, then the scan
//! looks for the next frame it can trust again ([`resync`]: a valid length
//! and CRC, a body that decodes, and a sequence above the last one read
//! and inside the segment's range) and serves the records from there.
//! What could not be read is a [`Hole`]: the file, the offset, the missing
//! sequence span. A segment file that is gone is a hole too, found by the
//! digest chain (a footer that does not link to the previous segment's),
//! by an index left behind, or by `head` naming an active segment that is
//! not there.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::codec::{self, SEGMENT_HEADER_LEN};
use crate::disk::index::{SealedIndex, SparseIndex, Summary};
use crate::disk::meta::{Head, Meta};
use crate::disk::recovery::{body_len_max, list_segments, orphan_indexes, read_meta};
use crate::disk::segment::{
    SalvagedRun, Segment, SegmentState, View, index_file_name, log_file_name, resync,
};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// Records a salvage open could not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hole {
    /// The segment file (for a missing segment, the name it would have).
    pub path: PathBuf,
    /// Where in it the unreadable bytes start (0 for a missing file).
    pub offset: u64,
    /// The sequences that could have been there, inclusive, when known
    /// (sequences may have gaps: at most this many records were lost).
    pub sequences: Option<(u64, u64)>,
    /// What was found.
    pub reason: String,
}

impl fmt::Display for Hole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: offset {}: ", self.path.display(), self.offset)?;
        match self.sequences {
            Some((first, last)) => write!(
                f,
                "sequences {first}..={last} missing (up to {} records)",
                (last - first).saturating_add(1)
            )?,
            None => f.write_str("no sequence known missing")?,
        }
        write!(f, ": {}", self.reason)
    }
}

/// What a salvage open found: the readable runs and the holes.
pub(crate) struct Salvaged {
    pub meta: Meta,
    pub view: View,
    pub holes: Vec<Hole>,
}

/// A sequence span `first..=last`, or `None` when it is empty.
fn span(first: u64, last: u64) -> Option<(u64, u64)> {
    (first <= last).then_some((first, last))
}

/// One segment file's scan.
struct Scanned {
    runs: Vec<SalvagedRun>,
    holes: Vec<Hole>,
    /// The last sequence read in the segment.
    last: Option<u64>,
    /// The valid footer at the end, when the scan reached one.
    footer: Option<codec::Footer>,
    /// Where the readable data stopped, and why, when not at a footer or a
    /// clean end.
    stopped: Option<(u64, String)>,
    /// The clean end of the data (no footer, zeros or end of file after).
    end: u64,
    max_commit_hint: u64,
    /// The last retention mark read in the segment.
    mark: Option<codec::RetentionMark>,
}

/// Scans one segment file's bytes, resynchronising after damage.
fn scan(
    bytes: &[u8],
    path: &Path,
    base: u64,
    ceiling: Option<u64>,
    body_len_max: usize,
) -> Scanned {
    let mut out = Scanned {
        runs: Vec::new(),
        holes: Vec::new(),
        last: None,
        footer: None,
        stopped: None,
        mark: None,
        end: SEGMENT_HEADER_LEN as u64,
        max_commit_hint: 0,
    };
    let mut run: Option<SalvagedRun> = None;
    let mut at = SEGMENT_HEADER_LEN;
    let close = |run: &mut Option<SalvagedRun>, runs: &mut Vec<SalvagedRun>| {
        if let Some(run) = run.take() {
            runs.push(run);
        }
    };
    while at < bytes.len() {
        let damage = match codec::read_frame(&bytes[at..], body_len_max) {
            Ok((codec::Frame::Record(record), len)) => {
                let plausible = record.sequence >= base
                    && out.last.is_none_or(|l| record.sequence > l)
                    && ceiling.is_none_or(|c| record.sequence < c);
                if plausible {
                    let current = run.get_or_insert_with(|| SalvagedRun {
                        start: at as u64,
                        end: at as u64,
                        summary: Summary::empty(),
                        index: SparseIndex::default(),
                    });
                    current.index.note_record(&record, at as u64);
                    current.summary.add(&record);
                    current.end = (at + len) as u64;
                    out.last = Some(record.sequence);
                    out.max_commit_hint = out.max_commit_hint.max(record.commit_hint);
                    at += len;
                    out.end = at as u64;
                    continue;
                }
                format!("record sequence {} out of order", record.sequence)
            }
            Ok((codec::Frame::Mark(mark), len)) => {
                out.mark = Some(mark);
                // Not an entry: a run of records goes on past it.
                if let Some(current) = run.as_mut() {
                    current.end = (at + len) as u64;
                }
                at += len;
                out.end = at as u64;
                continue;
            }
            Ok((codec::Frame::Footer(footer), _)) => {
                out.footer = Some(footer);
                out.end = at as u64;
                break;
            }
            Err(codec::FrameError::End) if bytes[at..].iter().all(|&b| b == 0) => {
                out.end = at as u64;
                break;
            }
            Err(problem) => problem.describe(),
        };
        close(&mut run, &mut out.runs);
        let from = out.last.map_or(base, |l| l.saturating_add(1));
        match resync(bytes, at as u64 + 1, out.last, base, ceiling, body_len_max) {
            Some(found) => {
                out.holes.push(Hole {
                    path: path.to_path_buf(),
                    offset: at as u64,
                    sequences: span(from, found.sequence.saturating_sub(1)),
                    reason: format!(
                        "{damage}; records found again at byte {} (sequence {})",
                        found.offset, found.sequence
                    ),
                });
                at = usize::try_from(found.offset).expect("an offset inside the mapped bytes");
            }
            None => {
                out.stopped = Some((at as u64, damage));
                break;
            }
        }
    }
    close(&mut run, &mut out.runs);
    out
}

/// Loads `dir` for salvage reading.
pub(crate) fn load(storage: &dyn Storage, dir: &Path) -> Result<Salvaged> {
    let meta = read_meta(storage, dir)?;
    let body_len_max = body_len_max(meta.segment_bytes);
    let bases = list_segments(storage, dir)?;
    let orphans = orphan_indexes(storage, dir)?;
    let head = Head::read_from(storage, dir);
    let mut holes = Vec::new();
    // The newest retention mark read: what lies wholly below it was
    // dropped by retention, not lost.
    let mut newest_mark: Option<codec::RetentionMark> = None;
    let mut segments: Vec<Arc<Segment>> = Vec::new();
    // The last sequence served (or known to end the previous segment),
    // and the digest the previous segment's footer records.
    let mut previous_last: Option<u64> = None;
    let mut previous_digest: Option<[u8; 32]> = Some([0u8; 32]);
    let mut orphan_at = 0;
    let mut latest = 0u64;
    for (i, &base) in bases.iter().enumerate() {
        // `head` naming a later active segment (gone) proves this one was
        // sealed: it is read as one, up to that segment's base.
        let beyond = head
            .map(|h| h.active_base)
            .filter(|&active| i + 1 == bases.len() && active > base);
        let is_last = i + 1 == bases.len() && beyond.is_none();
        let ceiling = bases.get(i + 1).copied().or(beyond);
        let path = dir.join(log_file_name(base));
        while orphan_at < orphans.len() && orphans[orphan_at] < base {
            let orphan = orphans[orphan_at];
            orphan_at += 1;
            let (hole, index) = orphan_hole(storage, dir, orphan, base);
            // The index left behind carries the footer: its link to the
            // segment before it is checked like a footer's.
            let gap = span(
                previous_last.map_or(1, |l| l.saturating_add(1)),
                orphan.saturating_sub(1),
            );
            if let Some(gap) = gap {
                let unlinked = match (&index, previous_digest) {
                    (Some(index), Some(digest)) => index.footer.previous_digest != digest,
                    (Some(_), None) => false,
                    (None, _) => true,
                };
                if unlinked {
                    holes.push(Hole {
                        path: dir.join(log_file_name(gap.0)),
                        offset: 0,
                        sequences: Some(gap),
                        reason: format!(
                            "segment missing: not found before {}, whose index does not link \
                             to the segment before it",
                            log_file_name(orphan)
                        ),
                    });
                }
            }
            previous_last = hole.sequences.map(|(_, last)| last).or(previous_last);
            previous_digest = index.map(|index| index.footer.digest);
            holes.push(hole);
        }
        let map = match crate::disk::mmap::map_whole(storage, &path) {
            Ok(map) => map,
            Err(e) => {
                holes.push(Hole {
                    path: path.clone(),
                    offset: 0,
                    sequences: span(base, ceiling.map_or(u64::MAX, |c| c - 1)),
                    reason: format!("cannot read: {e}"),
                });
                previous_digest = None;
                continue;
            }
        };
        let bytes = map.bytes();
        let header = codec::SegmentHeader::decode(bytes, &path);
        let header_ok = header
            .as_ref()
            .is_ok_and(|h| h.journal_id == meta.journal_id && h.base_sequence == base);
        if let Ok(h) = &header
            && !header_ok
        {
            // An intact header of another journal, or of another segment:
            // its records are not this segment's, so none is served.
            let what = if h.journal_id != meta.journal_id {
                "the segment belongs to another journal (its header's journal id differs)"
                    .to_string()
            } else {
                format!(
                    "the file's header says base sequence {}, its name {base}: not this segment",
                    h.base_sequence
                )
            };
            holes.push(Hole {
                path: path.clone(),
                offset: 0,
                sequences: match ceiling {
                    Some(c) => span(
                        previous_last.map_or(base, |l| l.saturating_add(1).max(base)),
                        c - 1,
                    ),
                    None => head
                        .filter(|h| h.active_base == base)
                        .and_then(|h| span(base, h.latest)),
                },
                reason: format!("{what}; none of its records is served"),
            });
            previous_digest = None;
            continue;
        }
        let empty_tail =
            is_last && crate::disk::recovery::is_unwritten_header(bytes, meta.journal_id, base);
        if !header_ok && !empty_tail {
            holes.push(Hole {
                path: path.clone(),
                offset: 0,
                sequences: None,
                reason: "damaged segment header (the records after it are read if their \
                         frames are intact)"
                    .into(),
            });
        }
        let scanned = scan(bytes, &path, base, ceiling, body_len_max);
        if scanned.mark.is_some() {
            newest_mark = scanned.mark;
        }
        // In the active segment, damage at or after the synced end is a
        // torn tail (never acknowledged), not a hole.
        // Test-only break: ignore `head`'s synced end (docs/RELIABILITY.md).
        let named = head.filter(|h| {
            is_last && h.active_base == base && !cfg!(feature = "break-ignore-synced-end")
        });
        let synced = scanned
            .max_commit_hint
            .max(named.map_or(0, |h| h.synced_end));
        holes.extend(
            scanned
                .holes
                .iter()
                .filter(|h| !is_last || h.offset < synced)
                .cloned(),
        );
        // The sequences before this segment that no hole covers yet and
        // no segment served.
        let uncovered = |holes: &[Hole]| {
            let covered = holes
                .iter()
                .filter_map(|h| h.sequences.map(|(_, last)| last))
                .filter(|&last| last < base)
                .chain(previous_last)
                .max();
            span(
                covered.map_or(1, |c| c.saturating_add(1)),
                base.saturating_sub(1),
            )
        };
        // A footer that does not link to the digest the previous footer
        // records: a segment is missing between them.
        if let (Some(footer), Some(digest)) = (&scanned.footer, previous_digest)
            && footer.previous_digest != digest
            && let Some((first, last)) = uncovered(&holes)
        {
            holes.push(Hole {
                path: dir.join(log_file_name(first)),
                offset: 0,
                sequences: Some((first, last)),
                reason: format!(
                    "segment missing: the digest chain of {} does not link to the segment \
                     before it",
                    log_file_name(base)
                ),
            });
        }
        // A segment that is not the last but has no footer cannot show
        // whether its predecessor is whole: the sequences between the two
        // that no hole covers yet are listed as unverifiable.
        if !is_last
            && scanned.footer.is_none()
            && let Some(sequences) = uncovered(&holes)
        {
            holes.push(Hole {
                path: path.clone(),
                offset: 0,
                sequences: Some(sequences),
                reason: format!(
                    "not found before {}, whose missing footer cannot link it to the \
                     segment before it: a segment may be missing (sequences may also \
                     have a gap here)",
                    log_file_name(base)
                ),
            });
        }
        let from = scanned.last.map_or(base, |l| l.saturating_add(1));
        if !is_last {
            if let Some((offset, why)) = &scanned.stopped {
                holes.push(Hole {
                    path: path.clone(),
                    offset: *offset,
                    sequences: span(from, ceiling.map_or(u64::MAX, |c| c - 1)),
                    reason: format!("{why}; no record found after it"),
                });
            } else if scanned.footer.is_none() {
                holes.push(Hole {
                    path: path.clone(),
                    offset: scanned.end,
                    sequences: span(from, ceiling.map_or(u64::MAX, |c| c - 1)),
                    reason: "a segment that is not the last ends without its sealing footer \
                             (truncated)"
                        .into(),
                });
            }
        } else {
            let head_last = named.map(|h| h.latest);
            match &scanned.stopped {
                // Past the synced end: a torn tail, never acknowledged.
                Some((offset, _)) if *offset >= synced => {}
                Some((offset, why)) => holes.push(Hole {
                    path: path.clone(),
                    offset: *offset,
                    sequences: head_last.and_then(|l| span(from, l)),
                    reason: format!("{why}, inside the synced region (synced end {synced})"),
                }),
                // A clean end is checked against `head` (the records
                // before it cannot prove more than they reach).
                None if scanned.footer.is_none()
                    && named.is_some_and(|h| scanned.end < h.synced_end) =>
                {
                    holes.push(Hole {
                        path: path.clone(),
                        offset: scanned.end,
                        sequences: head_last.and_then(|l| span(from, l)),
                        reason: format!(
                            "the data ends at byte {}, but `head` records {} bytes as synced \
                             (truncated or zeroed)",
                            scanned.end,
                            named.map_or(0, |h| h.synced_end)
                        ),
                    })
                }
                None => {}
            }
        }
        // The digest the next segment must link to: the one this
        // segment's footer records, even when records inside are damaged.
        // Without a footer there is no link to check, and the hole that
        // ends this segment runs to the next one's base anyway.
        previous_digest = scanned.footer.as_ref().map(|footer| footer.digest);
        // In the active segment, the first damage at or after the synced
        // end is where the data ends (a torn tail): nothing past it was
        // acknowledged, and a writer's open zeroes it, so nothing past it
        // is served either.
        let torn_at = if is_last {
            scanned
                .holes
                .iter()
                .map(|h| h.offset)
                .chain(scanned.stopped.as_ref().map(|(offset, _)| *offset))
                .find(|&offset| offset >= synced)
        } else {
            None
        };
        let runs: Vec<SalvagedRun> = scanned
            .runs
            .into_iter()
            .filter(|run| torn_at.is_none_or(|t| run.start < t))
            .collect();
        if let Some(last) = runs.last().map(|r| r.summary.last_sequence) {
            previous_last = Some(last);
            latest = latest.max(last);
        } else if scanned.footer.is_some() {
            previous_last = Some(previous_last.unwrap_or(0).max(base));
        }
        for (n, run) in runs.into_iter().enumerate() {
            let run_base = if n == 0 {
                base
            } else {
                run.summary.first_sequence
            };
            segments.push(Arc::new(Segment {
                base: run_base,
                log_path: path.clone(),
                state: SegmentState::Salvaged(Box::new(run)),
            }));
        }
    }
    let last_base = bases.last().copied();
    for &orphan in &orphans[orphan_at..] {
        holes.push(orphan_hole(storage, dir, orphan, u64::MAX).0);
    }
    if let Some(head) = head
        && last_base.is_none_or(|b| head.active_base > b)
        && head.synced_end > SEGMENT_HEADER_LEN as u64
        && !orphans.contains(&head.active_base)
    {
        holes.push(Hole {
            path: dir.join(log_file_name(head.active_base)),
            offset: 0,
            sequences: span(head.active_base, head.latest),
            reason: format!(
                "segment missing: `head` names it as the active segment, with {} bytes synced",
                head.synced_end
            ),
        });
    }
    let first_retained = newest_mark.map_or(0, |m| m.first_retained);
    if first_retained > 0 {
        holes.retain(|hole| {
            hole.sequences
                .is_none_or(|(_, last)| last >= first_retained)
        });
        segments.retain(|segment| {
            segment.base >= first_retained
                || segment
                    .summary()
                    .is_some_and(|s| s.record_count > 0 && s.last_sequence >= first_retained)
        });
    }
    Ok(Salvaged {
        meta,
        view: View {
            segments,
            active_end: 0,
            latest,
            first_retained,
            mark_record: newest_mark,
        },
        holes,
    })
}

/// The hole of a segment whose `.log` is gone but whose index remains.
fn orphan_hole(
    storage: &dyn Storage,
    dir: &Path,
    base: u64,
    next: u64,
) -> (Hole, Option<SealedIndex>) {
    let idx_path = dir.join(index_file_name(base));
    let index = storage
        .read(&idx_path)
        .ok()
        .and_then(|b| SealedIndex::decode(&b, &idx_path).ok())
        .filter(|idx| idx.base_sequence == base);
    let last = index
        .as_ref()
        .filter(|idx| idx.summary.record_count > 0)
        .map_or(next.saturating_sub(1), |idx| idx.summary.last_sequence);
    let hole = Hole {
        path: dir.join(log_file_name(base)),
        offset: 0,
        sequences: span(base, last),
        reason: format!(
            "segment missing (its index {} remains)",
            index_file_name(base)
        ),
    };
    (hole, index)
}

/// The error a salvage open gives for options it cannot honour.
pub(crate) fn refuse_writer() -> Error {
    Error::InvalidOption(
        "salvage is a read-only open mode: it serves what can be read of a damaged journal \
         and never writes"
            .into(),
    )
}
