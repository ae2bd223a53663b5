//! `verify`: an offline check of a whole journal directory that reads
//! every byte with plain reads (no maps), so a damaged or truncated copy
//! gives a list of problems, never a crash. It checks every header, every
//! frame's length and CRC, that sequences strictly increase within and
//! across segments, every sealed segment's footer and recomputed digest
//! chain, and every index against its log.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
use crate::disk::index::SealedIndex;
use crate::disk::recovery::{body_len_max, list_segments, read_meta};
use crate::disk::segment::{ScanStop, Scanner, index_file_name, log_file_name};
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
    /// Every problem, in file order; empty when the journal is clean.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the journal in `dir` without writing anything. Errs only when
/// the directory is not a journal (no readable `journal.meta`).
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    let meta = read_meta(dir)?;
    let limit = body_len_max(meta.segment_bytes);
    let bases = list_segments(dir)?;
    let mut report = VerifyReport {
        segments: bases.len(),
        ..VerifyReport::default()
    };
    let mut problem = |path: &Path, offset: u64, message: String| {
        report.problems.push(Problem {
            path: path.to_path_buf(),
            offset,
            message,
        });
    };
    // `None` once a segment could not be read to its footer: the next
    // segment's link is then not checked (the damage is already reported).
    let mut previous_digest: Option<[u8; 32]> = Some([0u8; 32]);
    let mut previous_last: Option<(u64, PathBuf)> = None;
    let mut records = 0u64;
    for (i, &base) in bases.iter().enumerate() {
        let is_last = i + 1 == bases.len();
        let path = dir.join(log_file_name(base));
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                problem(&path, 0, format!("cannot read: {e}"));
                previous_digest = None;
                continue;
            }
        };
        let header = match SegmentHeader::decode(&bytes, &path) {
            Ok(h) => h,
            Err(e) => {
                let empty_tail =
                    is_last && bytes.len() <= SEGMENT_HEADER_LEN && bytes.iter().all(|&b| b == 0);
                if !empty_tail {
                    problem(
                        &path,
                        0,
                        format!("bad segment header: {}", strip_location(&e)),
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
        let stop = scanner.scan(&bytes, u64::MAX);
        records += scanner.summary.record_count;
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
                        again.scan(&bytes, u64::MAX);
                        (again, footer.previous_digest)
                    }
                };
                if let Err(e) = crate::disk::segment::check_footer(&checked, &footer, &link, &path)
                {
                    problem(&path, scanner.position, strip_location(&e));
                }
                let footer_end = scanner.position + crate::codec::FOOTER_FRAME_LEN as u64;
                if bytes[footer_end as usize..].iter().any(|&b| b != 0) {
                    problem(&path, footer_end, "bytes after the sealing footer".into());
                }
                check_index(dir, base, &meta.journal_id, &scanner, &footer, &mut problem);
                previous_digest = Some(footer.digest);
            }
            ScanStop::Damage(frame_problem) => {
                problem(&path, scanner.position, frame_problem.describe());
                // The index is not compared with an unreadable log, but its
                // own checksum still is.
                let index_path = dir.join(index_file_name(base));
                if let Ok(index_bytes) = std::fs::read(&index_path)
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
                }
                previous_digest = None;
            }
        }
    }
    report.records = records;
    Ok(report)
}

fn check_index(
    dir: &Path,
    base: u64,
    journal_id: &[u8; 16],
    scanner: &Scanner,
    footer: &crate::codec::Footer,
    problem: &mut impl FnMut(&Path, u64, String),
) {
    let path = dir.join(index_file_name(base));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problem(
                &path,
                0,
                "index missing (derived data: a writer's open rebuilds it)".into(),
            );
            return;
        }
        Err(e) => {
            problem(&path, 0, format!("cannot read: {e}"));
            return;
        }
    };
    let index = match SealedIndex::decode(&bytes, &path) {
        Ok(index) => index,
        Err(e) => {
            problem(&path, error_offset(&e), strip_location(&e));
            return;
        }
    };
    let expected = SealedIndex {
        journal_id: *journal_id,
        base_sequence: base,
        summary: scanner.summary.clone(),
        index: scanner.index.clone(),
        footer: *footer,
    };
    if index != expected {
        let what = if index.footer != expected.footer {
            "footer or digests"
        } else if index.summary != expected.summary {
            "summary (sequence bounds, times or event-type counts)"
        } else if index.index != expected.index {
            "sparse index entries"
        } else {
            "identity (journal id or base sequence)"
        };
        problem(&path, 0, format!("index disagrees with its log: {what}"));
    }
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
