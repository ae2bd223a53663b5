//! `verify`: an offline check of a whole journal directory that reads
//! every byte with plain reads (no maps), so a damaged or truncated copy
//! gives a list of problems, never a crash. It checks every header, every
//! frame's length and CRC, that sequences strictly increase within and
//! across segments, every sealed segment's footer and recomputed digest
//! chain, every index against its log, and the active segment against
//! the synced end recorded in `head`.
//!
//! What it reports is split in two (docs/RELIABILITY.md, "Damage or a
//! crash state"): problems are synced data lost or wrong, or derived data
//! that disagrees with the log; notes are crash states a writer's open
//! repairs by design (a torn tail past the synced end, a missing index)
//! and what cannot be proven without `head`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
use crate::disk::index::{INDEX_FIXED_LEN, SealedIndex};
use crate::disk::meta::{HEAD_FILE, Head};
use crate::disk::recovery::{body_len_max, list_segments, read_meta};
use crate::disk::segment::{
    ScanStop, Scanner, commit_hint_after, index_file_name, log_file_name, resync,
};
use crate::error::{Error, Result};

/// One problem found by [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// Byte offset in it.
    pub offset: u64,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: offset {}: {}",
            self.path.display(),
            self.offset,
            self.message
        )
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Segments examined.
    pub segments: usize,
    /// Records whose CRC checked out.
    pub records: u64,
    /// Every problem, in file order; empty when the journal is clean:
    /// synced data lost or wrong, or derived data disagreeing with the log.
    pub problems: Vec<Problem>,
    /// Crash states a writer's open repairs (a torn tail past the synced
    /// end, a missing or never-written index) and what could not be
    /// proven (no `head`): worth saying, not damage.
    pub notes: Vec<Problem>,
}

/// What [`verify_with`] demands beyond the defaults.
#[derive(Clone, Default)]
pub struct VerifyOptions {
    /// A missing or unreadable `head` is a problem, not a note: without it
    /// the end of the active segment cannot be checked against what was
    /// synced.
    pub require_head: bool,
    /// A tier directory whose segments (moved there by retention) are
    /// checked with the live ones, as one digest chain.
    pub tier_dir: Option<PathBuf>,
    /// The storage seam every read goes through (default: the real file
    /// system), so tests can inject read faults.
    pub storage: Option<std::sync::Arc<dyn crate::storage::Storage>>,
}

impl std::fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("require_head", &self.require_head)
            .field("tier_dir", &self.tier_dir)
            .field("storage", &self.storage.as_ref().map(|_| "seam"))
            .finish()
    }
}

impl VerifyReport {
    /// True when no problem was found.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the journal in `dir` without writing anything, with the
/// default [`VerifyOptions`]. Errs only when the directory is not a
/// journal (no readable `journal.meta`).
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    verify_with(dir, &VerifyOptions::default())
}

/// Verifies the journal in `dir` without writing anything. Errs only when
/// the directory is not a journal (no readable `journal.meta`).
pub fn verify_with(dir: &Path, options: &VerifyOptions) -> Result<VerifyReport> {
    let os = crate::storage::OsStorage;
    let storage: &dyn crate::storage::Storage = options.storage.as_deref().unwrap_or(&os);
    let meta = read_meta(storage, dir)?;
    let head = Head::read_from(storage, dir);
    let limit = body_len_max(meta.segment_bytes);
    let live_bases = list_segments(storage, dir)?;
    // A tier's segments below the first live one come first, read there.
    let tier = options.tier_dir.as_deref();
    let tier_bases = crate::disk::recovery::tier_segments(storage, tier, &meta, &live_bases)?;
    let dir_of = |base: u64| -> &Path {
        match tier {
            Some(tier) if tier_bases.binary_search(&base).is_ok() => tier,
            _ => dir,
        }
    };
    let mut bases = tier_bases.clone();
    bases.extend(&live_bases);
    let mut report = VerifyReport {
        segments: bases.len(),
        ..VerifyReport::default()
    };
    let mut notes = Vec::new();
    let mut note = |path: &Path, offset: u64, message: String| {
        notes.push(Problem {
            path: path.to_path_buf(),
            offset,
            message,
        });
    };
    let mut problem = |path: &Path, offset: u64, message: String| {
        report.problems.push(Problem {
            path: path.to_path_buf(),
            offset,
            message,
        });
    };
    check_head_file(dir, head, &bases, options, &mut problem, &mut note);
    for orphan in crate::disk::recovery::orphan_indexes(storage, dir)? {
        problem(
            &dir.join(log_file_name(orphan)),
            0,
            format!(
                "missing: its index {} remains, so the segment existed",
                index_file_name(orphan)
            ),
        );
    }
    // The digest and last sequence of the previous segment that ended
    // with a footer, to name a missing segment between it and the next.
    let mut previous_sealed: Option<(u64, PathBuf)> = None;
    // `None` once a segment could not be read to its footer: the next
    // segment's link is then not checked (the damage is already reported).
    let mut previous_digest: Option<[u8; 32]> = Some([0u8; 32]);
    let mut previous_last: Option<(u64, PathBuf)> = None;
    let mut records = 0u64;
    // Retention: every sealed segment's digest, the newest mark and where
    // it is, and the first segment's claimed link when it is not the
    // start of the journal (judged once the newest mark is known).
    let mut digests: Vec<(u64, [u8; 32])> = Vec::new();
    let mut newest_mark: Option<(crate::codec::RetentionMark, PathBuf)> = None;
    let mut start_link: Option<(PathBuf, u64, [u8; 32])> = None;
    for (i, &base) in bases.iter().enumerate() {
        // `head` naming a later active segment (gone) proves this one was
        // sealed: it is read as one, up to that segment's base.
        let beyond = head
            .map(|h| h.active_base)
            .filter(|&active| i + 1 == bases.len() && active > base);
        let is_last = i + 1 == bases.len() && beyond.is_none();
        let ceiling = bases.get(i + 1).copied().or(beyond);
        let path = dir_of(base).join(log_file_name(base));
        let map = match crate::disk::mmap::map_whole(storage, &path) {
            Ok(map) => map,
            Err(e) => {
                problem(&path, 0, format!("cannot read: {e}"));
                previous_digest = None;
                continue;
            }
        };
        let bytes = map.bytes();
        let header = match SegmentHeader::decode(bytes, &path) {
            Ok(h) => h,
            Err(e) => {
                let empty_tail = is_last
                    && crate::disk::recovery::is_unwritten_header(bytes, meta.journal_id, base);
                let synced = head_naming(head, base)
                    .filter(|h| is_last && h.synced_end > SEGMENT_HEADER_LEN as u64);
                if let Some(head) = synced {
                    // An emptied or cut active segment that had records synced.
                    problem(
                        &path,
                        0,
                        format!(
                            "the file is {} bytes without a readable header, but `head` records \
                             {} bytes as synced: {}",
                            bytes.len(),
                            head.synced_end,
                            missing_span(
                                &Scanner::new(base, &[], &[0u8; 32], limit),
                                base,
                                Some(head.latest)
                            )
                        ),
                    );
                } else if !empty_tail {
                    problem(
                        &path,
                        0,
                        format!("bad segment header: {}", strip_location(&e)),
                    );
                } else if !bytes.is_empty() {
                    note(
                        &path,
                        0,
                        "header not completely written (a crash while creating the segment; \
                         a writer's open rewrites it)"
                            .into(),
                    );
                }
                previous_digest = None;
                continue;
            }
        };
        if header.journal_id != meta.journal_id {
            problem(
                &path,
                16,
                "segment belongs to another journal (journal id differs)".into(),
            );
        }
        if header.base_sequence != base {
            problem(
                &path,
                32,
                format!(
                    "header base sequence {} differs from the file name",
                    header.base_sequence
                ),
            );
        }
        if let Some((last, last_path)) = &previous_last
            && base <= *last
        {
            problem(
                &path,
                32,
                format!(
                    "base sequence {base} does not exceed {last}, the last sequence of {}",
                    last_path.display()
                ),
            );
        }
        let header_bytes = &bytes[..SEGMENT_HEADER_LEN];
        let seed = previous_digest.unwrap_or_default();
        let mut scanner = Scanner::new(base, header_bytes, &seed, limit);
        let stop = scanner.scan(bytes, u64::MAX);
        records += scanner.summary.record_count;
        if let Some(mark) = scanner.summary.mark {
            newest_mark = Some((mark, path.clone()));
        }
        // The first segment present may start after a retention drop: its
        // link is judged against the newest mark at the end.
        if i == 0
            && let ScanStop::Footer(footer) = stop
            && footer.previous_digest != [0u8; 32]
        {
            start_link = Some((path.clone(), scanner.position, footer.previous_digest));
            previous_digest = None;
        }
        if scanner.summary.record_count > 0 {
            previous_last = Some((scanner.summary.last_sequence, path.clone()));
        }
        match stop {
            ScanStop::Footer(footer) => {
                // With the previous segment unreadable, check this segment's
                // own digest from the link it claims.
                let (checked, link) = match previous_digest {
                    Some(digest) => (scanner.clone(), digest),
                    None => {
                        let mut again =
                            Scanner::new(base, header_bytes, &footer.previous_digest, limit);
                        again.scan(bytes, u64::MAX);
                        (again, footer.previous_digest)
                    }
                };
                match crate::disk::segment::check_footer(&checked, &footer, &link, &path) {
                    Err(_)
                        if footer.previous_digest != link
                            && crate::disk::segment::check_footer(
                                &relinked(base, header_bytes, &footer, bytes, limit),
                                &footer,
                                &footer.previous_digest,
                                &path,
                            )
                            .is_ok() =>
                    {
                        // The segment is whole, but chains to a digest no
                        // segment present has: one is missing before it.
                        let first = previous_sealed.as_ref().map_or(1, |(last, _)| last + 1);
                        let last = base.saturating_sub(1);
                        let after = previous_sealed.as_ref().map_or_else(
                            || "the start of the journal".to_string(),
                            |(_, p)| p.display().to_string(),
                        );
                        problem(
                            &path,
                            scanner.position,
                            format!(
                                "footer disagrees with the previous segment's digest: a segment \
                                 is missing between {after} and this one (sequences \
                                 {first}..={last}; its file would be named {})",
                                log_file_name(first)
                            ),
                        );
                    }
                    Err(e) => problem(&path, scanner.position, strip_location(&e)),
                    Ok(()) => {}
                }
                let footer_end = scanner.position + crate::codec::FOOTER_FRAME_LEN as u64;
                let after_footer = usize::try_from(footer_end).expect("the footer is mapped");
                if bytes[after_footer..].iter().any(|&b| b != 0) {
                    problem(&path, footer_end, "bytes after the sealing footer".into());
                }
                check_index(
                    storage,
                    dir_of(base),
                    base,
                    &meta.journal_id,
                    &scanner,
                    &footer,
                    &mut problem,
                    &mut note,
                );
                previous_digest = Some(footer.digest);
                digests.push((base, footer.digest));
                previous_sealed = Some((scanner.summary.last_sequence.max(base), path.clone()));
            }
            ScanStop::Damage(frame_problem) => {
                let later = if is_last {
                    let after =
                        (scanner.summary.record_count > 0).then_some(scanner.summary.last_sequence);
                    commit_hint_after(bytes, scanner.position, after, base, limit)
                } else {
                    0
                };
                let synced = synced_end(&scanner, head, base).max(later);
                if is_last && scanner.position >= synced {
                    note(
                        &path,
                        scanner.position,
                        format!(
                            "torn tail: {} from byte {} to the end of the file, past the synced \
                             end {synced}: never acknowledged as durable (a writer's open zeroes it)",
                            frame_problem.describe(),
                            scanner.position
                        ),
                    );
                } else {
                    let lost =
                        lost_after_damage(bytes, &scanner, base, ceiling, head, is_last, limit);
                    let region = if is_last {
                        format!(" inside the synced region (synced end {synced})")
                    } else {
                        String::new()
                    };
                    problem(
                        &path,
                        scanner.position,
                        format!("{}{region}{lost}", frame_problem.describe()),
                    );
                }
                // The index is not compared with an unreadable log, but its
                // own checksum still is.
                let index_path = dir_of(base).join(index_file_name(base));
                if let Ok(index_bytes) = storage.read(&index_path)
                    && let Err(e) = SealedIndex::decode(&index_bytes, &index_path)
                {
                    problem(&index_path, error_offset(&e), strip_location(&e));
                }
                previous_digest = None;
            }
            ScanStop::CleanEnd | ScanStop::Limit => {
                if !is_last {
                    problem(
                        &path,
                        scanner.position,
                        "a segment that is not the last has no sealing footer".into(),
                    );
                } else if let Some(head) = head_naming(head, base)
                    && scanner.position < head.synced_end
                {
                    problem(
                        &path,
                        scanner.position,
                        format!(
                            "the data ends at byte {}, but `head` records {} bytes as synced \
                             (a truncated or zeroed file): {}",
                            scanner.position,
                            head.synced_end,
                            missing_span(&scanner, base, Some(head.latest))
                        ),
                    );
                }
                previous_digest = None;
            }
        }
    }
    check_retention(
        dir,
        &bases,
        &tier_bases,
        head,
        newest_mark,
        start_link,
        &digests,
        &mut problem,
        &mut note,
    );
    report.records = records;
    report.notes = notes;
    Ok(report)
}

/// The retention checks (docs/FORMAT.md, "Retention mark"): a journal
/// whose first segment does not start the chain needs a mark that names
/// the digest it links to; the first segment at or above the mark starts
/// exactly there; segments below it are a drop's unfinished unlinks; and
/// `head` does not claim a later mark than the log records.
#[expect(
    clippy::too_many_arguments,
    reason = "what the segment walk found, each distinct, and the two report sinks"
)]
fn check_retention(
    dir: &Path,
    bases: &[u64],
    tier_bases: &[u64],
    head: Option<Head>,
    newest_mark: Option<(crate::codec::RetentionMark, PathBuf)>,
    start_link: Option<(PathBuf, u64, [u8; 32])>,
    digests: &[(u64, [u8; 32])],
    problem: &mut impl FnMut(&Path, u64, String),
    note: &mut impl FnMut(&Path, u64, String),
) {
    let head_mark = head.map_or(0, |h| h.mark);
    let Some((mark, mark_path)) = newest_mark else {
        if let Some((path, offset, _)) = start_link {
            let first = bases.first().copied().unwrap_or(1);
            problem(
                &path,
                offset,
                format!(
                    "footer disagrees with the previous segment's digest: a segment is missing \
                     between the start of the journal and this one (sequences 1..={}; its file \
                     would be named {}), and no retention mark records a drop",
                    first.saturating_sub(1),
                    log_file_name(1)
                ),
            );
        }
        if head_mark != 0 {
            problem(
                &dir.join(HEAD_FILE),
                48,
                format!(
                    "`head` records retention mark {head_mark}, but no segment holds a \
                     retention mark"
                ),
            );
        }
        return;
    };
    let m = mark.first_retained;
    for &base in bases
        .iter()
        .filter(|&&b| b < m && tier_bases.binary_search(&b).is_err())
    {
        note(
            &dir.join(log_file_name(base)),
            0,
            format!(
                "below the retention mark {m}: a drop was interrupted before removing it \
                 (never read; a writer's open removes it)"
            ),
        );
    }
    match bases.iter().copied().find(|&b| b >= m) {
        Some(first) if first != m => problem(
            &dir.join(log_file_name(m)),
            0,
            format!(
                "missing: the retention mark in {} keeps every sequence from {m} on, but the \
                 first segment at or above it starts at {first}",
                mark_path.display()
            ),
        ),
        _ => {}
    }
    // The digest the first retained segment links to: the last pending
    // segment's, or the link the first segment claims.
    let linked = digests
        .iter()
        .rev()
        .find(|(base, _)| *base < m)
        .map(|(_, d)| *d)
        .or_else(|| {
            start_link
                .as_ref()
                .filter(|_| bases.first() == Some(&m))
                .map(|(_, _, d)| *d)
        });
    if let Some(linked) = linked
        && linked != mark.last_dropped_digest
    {
        problem(
            &mark_path,
            0,
            format!(
                "the retention mark names {} as the last dropped segment's digest, but the \
                 first retained segment {} links to {}",
                crate::hex::hex(&mark.last_dropped_digest),
                log_file_name(m),
                crate::hex::hex(&linked)
            ),
        );
    }
    if head_mark > m {
        problem(
            &dir.join(HEAD_FILE),
            48,
            format!(
                "`head` records retention mark {head_mark}, later than {m}, the newest mark \
                 the segments hold"
            ),
        );
    } else if head.is_some() && head_mark < m {
        note(
            &dir.join(HEAD_FILE),
            48,
            format!(
                "`head` records retention mark {head_mark}, older than {m} in the log (a \
                 crash right after a drop; a writer's open rewrites it)"
            ),
        );
    }
}

/// The synced end of the active segment `base` as recovery computes it:
/// the larger of the records' commit hints and `head`'s synced end when
/// `head` names this segment.
fn synced_end(scanner: &Scanner, head: Option<Head>, base: u64) -> u64 {
    scanner
        .max_commit_hint
        .max(head_naming(head, base).map_or(0, |h| h.synced_end))
}

/// `head` when it names segment `base` as the active one.
fn head_naming(head: Option<Head>, base: u64) -> Option<Head> {
    // Test-only break: ignore `head`'s synced end (docs/RELIABILITY.md).
    if cfg!(feature = "break-ignore-synced-end") {
        return None;
    }
    head.filter(|h| h.active_base == base)
}

/// `head` against the segments: says on stderr (a note) what cannot be
/// proven without it, and reports an active segment it names that is gone.
fn check_head_file(
    dir: &Path,
    head: Option<Head>,
    bases: &[u64],
    options: &VerifyOptions,
    problem: &mut impl FnMut(&Path, u64, String),
    note: &mut impl FnMut(&Path, u64, String),
) {
    let head_path = dir.join(HEAD_FILE);
    let Some(head) = head else {
        let message = "no readable `head`: the end of the active segment cannot be checked \
                       against what was synced (a cut at a record boundary or zeroed records \
                       at the end would look like a clean end)"
            .to_string();
        if options.require_head {
            problem(&head_path, 0, message);
        } else {
            note(&head_path, 0, message);
        }
        return;
    };
    if cfg!(feature = "break-ignore-synced-end") {
        return;
    }
    if bases.last().is_none_or(|&last| head.active_base > last)
        && head.synced_end > SEGMENT_HEADER_LEN as u64
    {
        problem(
            &dir.join(log_file_name(head.active_base)),
            0,
            format!(
                "missing: `head` names it as the active segment, with {} bytes synced and \
                 records up to sequence {} published",
                head.synced_end, head.latest
            ),
        );
    }
}

/// "N synced records missing (sequences A..=B)" after the last record
/// read, up to `last_synced` (`head`'s latest sequence).
fn missing_span(scanner: &Scanner, base: u64, last_synced: Option<u64>) -> String {
    let first = if scanner.summary.record_count == 0 {
        base
    } else {
        scanner.summary.last_sequence.saturating_add(1)
    };
    match last_synced {
        Some(last) if last >= first => format!(
            "{} synced records missing (sequences {first}..={last})",
            (last - first).saturating_add(1)
        ),
        _ => "synced bytes missing".to_string(),
    }
}

/// What damage at the scanner's position lost: the sequences up to the
/// next record found again by [`resync`], or up to `head`'s latest (the
/// active segment) or the next segment's base when none is found.
fn lost_after_damage(
    bytes: &[u8],
    scanner: &Scanner,
    base: u64,
    ceiling: Option<u64>,
    head: Option<Head>,
    is_last: bool,
    limit: usize,
) -> String {
    let after = (scanner.summary.record_count > 0).then_some(scanner.summary.last_sequence);
    let found = resync(bytes, scanner.position + 1, after, base, ceiling, limit);
    let last = match found {
        Some(found) => Some(found.sequence.saturating_sub(1)),
        None if is_last => head_naming(head, base).map(|h| h.latest),
        None => ceiling.map(|c| c.saturating_sub(1)),
    };
    let resumed = match found {
        Some(found) => format!(
            "; records resume at byte {} with sequence {}",
            found.offset, found.sequence
        ),
        None => String::new(),
    };
    format!(": {}{resumed}", missing_span(scanner, base, last))
        .replace(" synced records", " records")
}

/// A scanner over a whole segment chained from the previous digest its
/// own footer claims (to tell a missing predecessor from damage here).
fn relinked(
    base: u64,
    header: &[u8],
    footer: &crate::codec::Footer,
    bytes: &[u8],
    limit: usize,
) -> Scanner {
    let mut again = Scanner::new(base, header, &footer.previous_digest, limit);
    again.scan(bytes, u64::MAX);
    again
}

#[expect(
    clippy::too_many_arguments,
    reason = "the seam, the segment's place, what its scan found, and the two report sinks"
)]
fn check_index(
    storage: &dyn crate::storage::Storage,
    dir: &Path,
    base: u64,
    journal_id: &[u8; 16],
    scanner: &Scanner,
    footer: &crate::codec::Footer,
    problem: &mut impl FnMut(&Path, u64, String),
    note: &mut impl FnMut(&Path, u64, String),
) {
    let path = dir.join(index_file_name(base));
    let bytes = match storage.read(&path) {
        Ok(bytes) if bytes.iter().all(|&b| b == 0) => {
            // Renamed into place but never synced: what a power cut leaves.
            note(
                &path,
                0,
                "index empty (its bytes never reached the disk; derived data: a writer's \
                 open rebuilds it, readers scan the log meanwhile)"
                    .into(),
            );
            return;
        }
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            note(
                &path,
                0,
                "index missing (derived data: a writer's open rebuilds it, readers scan the \
                 log meanwhile)"
                    .into(),
            );
            return;
        }
        Err(e) => {
            problem(&path, 0, format!("cannot read: {e}"));
            return;
        }
    };
    let (index, block_offsets) = match SealedIndex::decode_with_offsets(&bytes, &path) {
        Ok(decoded) => decoded,
        Err(e) => {
            problem(&path, error_offset(&e), strip_location(&e));
            return;
        }
    };
    let mut expected = SealedIndex {
        journal_id: *journal_id,
        base_sequence: base,
        summary: scanner.summary.clone(),
        index: scanner.index.canonical(),
        footer: *footer,
    };
    if index.index.blocks().is_none() {
        note(
            &path,
            8,
            "a version-1 index (no block summaries): a writer's open rewrites it as the \
             current version"
                .into(),
        );
        expected.summary = expected.summary.as_version_1();
        expected.index = expected.index.as_version_1();
    }
    if index != expected {
        let (offset, what) = if index.footer != expected.footer {
            (40, "footer or digests".to_string())
        } else if index.summary != expected.summary {
            (
                48,
                format!(
                    "summary (records {}, sequences {}..={}; the log has {} records, \
                     sequences {}..={}, or differs in times or event-type counts)",
                    index.summary.record_count,
                    index.summary.first_sequence,
                    index.summary.last_sequence,
                    expected.summary.record_count,
                    expected.summary.first_sequence,
                    expected.summary.last_sequence
                ),
            )
        } else if index.index.entries() != expected.index.entries() {
            let entries = index.index.entries();
            let wanted = expected.index.entries();
            let i = (0..entries.len().max(wanted.len()))
                .find(|&i| entries.get(i) != wanted.get(i))
                .unwrap_or(0);
            let what = match (entries.get(i), wanted.get(i)) {
                (Some(e), Some(w)) => format!(
                    "entry {i} promises sequence {} at byte {}; the log's entry is sequence {} \
                     at byte {}",
                    e.sequence, e.position, w.sequence, w.position
                ),
                (Some(e), None) => format!(
                    "entry {i} (sequence {} at byte {}) is one the log does not have",
                    e.sequence, e.position
                ),
                _ => format!("{} entries, the log needs {}", entries.len(), wanted.len()),
            };
            (
                (INDEX_FIXED_LEN + 16 * i) as u64,
                format!("sparse index {what}"),
            )
        } else if index.index.blocks() != expected.index.blocks()
            && let (Some(found), Some(wanted)) = (index.index.blocks(), expected.index.blocks())
        {
            block_difference(found, wanted, index.index.entries(), &block_offsets)
        } else {
            (16, "identity (journal id or base sequence)".to_string())
        };
        problem(
            &path,
            offset,
            format!("index disagrees with its log: {what}"),
        );
    }
}

/// Where and how an index's block summaries differ from the log's: the
/// first differing block, named by its place, first record and offset.
fn block_difference(
    found: &crate::disk::index::Blocks,
    wanted: &crate::disk::index::Blocks,
    entries: &[crate::disk::index::IndexEntry],
    offsets: &[u64],
) -> (u64, String) {
    use crate::disk::index::Field;
    if let Some(field) = Field::ALL
        .into_iter()
        .find(|&f| found.dictionaries[f as usize] != wanted.dictionaries[f as usize])
    {
        return (
            offsets.first().copied().unwrap_or(INDEX_FIXED_LEN as u64),
            format!("the {} table differs from the log's values", field.name()),
        );
    }
    let i = (0..found.summaries.len())
        .find(|&i| found.summaries.get(i) != wanted.summaries.get(i))
        .unwrap_or(0);
    let (f, w) = (&found.summaries[i], &wanted.summaries[i]);
    let what =
        if (f.min_timestamp_ns, f.max_timestamp_ns) != (w.min_timestamp_ns, w.max_timestamp_ns) {
            format!(
                "event times {}..={} recorded, the log's are {}..={}",
                f.min_timestamp_ns, f.max_timestamp_ns, w.min_timestamp_ns, w.max_timestamp_ns
            )
        } else if (f.min_appended_ns, f.max_appended_ns) != (w.min_appended_ns, w.max_appended_ns) {
            format!(
                "append times {}..={} recorded, the log's are {}..={}",
                f.min_appended_ns, f.max_appended_ns, w.min_appended_ns, w.max_appended_ns
            )
        } else if f.record_count != w.record_count {
            format!(
                "{} records recorded, the log has {}",
                f.record_count, w.record_count
            )
        } else {
            "the values counted differ from the log's".to_string()
        };
    let entry = entries
        .get(i)
        .copied()
        .unwrap_or(crate::disk::index::IndexEntry {
            sequence: 0,
            position: 0,
        });
    (
        offsets.get(i).copied().unwrap_or(0),
        format!(
            "block summary {i} (records from sequence {} at byte {} of the log): {what}",
            entry.sequence, entry.position
        ),
    )
}

fn error_offset(e: &Error) -> u64 {
    match e {
        Error::Corruption { offset, .. } | Error::ChecksumMismatch { offset, .. } => *offset,
        _ => 0,
    }
}

/// The error's message without the "in PATH at byte offset N" part that
/// [`Problem`] already carries.
fn strip_location(e: &Error) -> String {
    match e {
        Error::Corruption { reason, .. } => reason.clone(),
        Error::ChecksumMismatch {
            expected, actual, ..
        } => {
            format!("checksum mismatch: stored {expected:#010x}, computed {actual:#010x}")
        }
        other => other.to_string(),
    }
}
