//! `info`: what a journal directory holds, from the summaries (sealed
//! segments) and one scan of the active segment.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::disk::index::Summary;
use crate::disk::meta::Meta;
use crate::disk::mmap::MapCache;
use crate::disk::segment::{RawRange, View, index_file_name};
use crate::entry::Timestamp;
use crate::error::{Error, Result};

/// A journal at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalInfo {
    /// The directory.
    pub dir: PathBuf,
    /// Format version of the journal.
    pub format_version: u32,
    /// Journal id, 32 hexadecimal digits.
    pub journal_id: String,
    /// Segment size fixed at creation.
    pub segment_bytes: u64,
    /// When the journal was created.
    pub created_at: Timestamp,
    /// The latest sequence (0 when empty).
    pub latest_sequence: u64,
    /// Records stored.
    pub record_count: u64,
    /// Sequences in `first_retained..=latest` that no record has (gaps
    /// from `append_at`).
    pub missing_sequences: u64,
    /// The retention low-water mark: the first retained sequence once
    /// segments were dropped (`None`: nothing was dropped).
    pub retention_mark: Option<u64>,
    /// Bytes of every file in the directory.
    pub disk_bytes: u64,
    /// Every segment, ascending.
    pub segments: Vec<SegmentInfo>,
}

/// One segment at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentInfo {
    /// First sequence the segment may hold (its file name).
    pub base_sequence: u64,
    /// The `.log` file.
    pub log_path: PathBuf,
    /// Size of the `.log` file.
    pub log_bytes: u64,
    /// Size of the `.idx` file, when there is one.
    pub index_bytes: Option<u64>,
    /// Sealed (immutable, with footer and index) or active.
    pub sealed: bool,
    /// Records in the segment.
    pub record_count: u64,
    /// First sequence, when any.
    pub first_sequence: Option<u64>,
    /// Last sequence, when any.
    pub last_sequence: Option<u64>,
    /// Earliest event time, when any.
    pub min_timestamp: Option<Timestamp>,
    /// Latest event time, when any.
    pub max_timestamp: Option<Timestamp>,
    /// Sequences between the first and last that no record has.
    pub missing_sequences: u64,
}

fn segment_info(
    storage: &dyn crate::storage::Storage,
    base: u64,
    log_path: PathBuf,
    sealed: bool,
    summary: &Summary,
) -> Result<SegmentInfo> {
    let some = summary.record_count > 0;
    let index_path = log_path.with_file_name(index_file_name(base));
    Ok(SegmentInfo {
        base_sequence: base,
        log_bytes: storage
            .file_len(&log_path)
            .map_err(|e| Error::io(&log_path, e))?,
        index_bytes: storage.file_len(&index_path).ok(),
        log_path,
        sealed,
        record_count: summary.record_count,
        first_sequence: some.then_some(summary.first_sequence),
        last_sequence: some.then_some(summary.last_sequence),
        min_timestamp: some.then(|| Timestamp::from_unix_nanos(summary.min_timestamp_ns)),
        max_timestamp: some.then(|| Timestamp::from_unix_nanos(summary.max_timestamp_ns)),
        missing_sequences: if some {
            summary.last_sequence - summary.first_sequence + 1 - summary.record_count
        } else {
            0
        },
    })
}

/// Builds the info from a reader's view.
pub(crate) fn collect(
    dir: &std::path::Path,
    meta: &Meta,
    view: Arc<View>,
    maps: Arc<MapCache>,
    body_len_max: usize,
) -> Result<JournalInfo> {
    let mut segments = Vec::with_capacity(view.segments.len());
    for (i, segment) in view.segments.iter().enumerate() {
        let info = match segment.sealed() {
            Some(sealed) => segment_info(
                maps.storage(),
                segment.base,
                segment.log_path.clone(),
                true,
                &sealed.summary,
            )?,
            None => {
                let mut summary = Summary::empty();
                let mut range =
                    RawRange::all(view.clone(), maps.clone(), body_len_max).segments(i, i + 1);
                while let Some(record) = range.next_entry() {
                    summary.add(&record?);
                }
                segment_info(
                    maps.storage(),
                    segment.base,
                    segment.log_path.clone(),
                    false,
                    &summary,
                )?
            }
        };
        segments.push(info);
    }
    let mut disk_bytes = 0;
    let storage = maps.storage();
    for name in storage.list_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = dir.join(name);
        disk_bytes += storage.file_len(&path).map_err(|e| Error::io(&path, e))?;
    }
    let record_count: u64 = segments.iter().map(|s| s.record_count).sum();
    Ok(JournalInfo {
        dir: dir.to_path_buf(),
        format_version: meta.format_version,
        journal_id: crate::hex::hex(&meta.journal_id),
        segment_bytes: meta.segment_bytes,
        created_at: meta.created_at,
        latest_sequence: view.latest,
        record_count,
        missing_sequences: view
            .latest
            .saturating_sub(view.first_retained.saturating_sub(1))
            .saturating_sub(record_count),
        retention_mark: (view.first_retained > 0).then_some(view.first_retained),
        disk_bytes,
        segments,
    })
}
