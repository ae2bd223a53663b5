//! Opening a journal: the writer's open (lock, recovery, repairs, the
//! writer thread) and the read-only open (never writes; follows a live
//! writer through `head`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use crate::codec::{self, SEGMENT_HEADER_LEN};
use crate::disk::DiskJournal;
use crate::disk::index::SealedIndex;
use crate::disk::lock::{WriterLock, writer_is_live};
use crate::disk::meta::{HEAD_FILE, Head, META_FILE, Meta};
use crate::disk::mmap::MapCache;
use crate::disk::options::{DiskJournalOptions, Durability, RecoveryMode};
use crate::disk::recovery::{self, ActiveFound, Loaded, RecoveryReport, TornTail};
use crate::disk::segment::{
    ScanStop, Scanner, Segment, SegmentState, View, check_footer, index_file_name,
};
use crate::disk::writer::{self, Shared, Writer};
use crate::error::{Error, Result};
use crate::storage::OpenMode;

/// A read-only handle's state for following a live writer.
pub(super) struct Follower {
    pub(super) generation: u64,
    pub(super) active: Option<(Arc<Segment>, Scanner)>,
    pub(super) latest: u64,
}

/// How the active segment's scan ended, judged against what was synced.
enum Tail {
    /// The data ends cleanly at this offset.
    Clean(u64),
    /// Damage after the last sync point: a torn write.
    Torn { at: u64, reason: String },
    /// Damage, or missing bytes, inside the region recorded as synced.
    Corrupt { at: u64, error: Error },
}

/// The recovery rule of docs/FORMAT.md: the synced end is the larger of
/// the records' commit hints and the `head` file's synced end (when it
/// names this segment); damage or an end below it is corruption.
fn classify_tail(found: &ActiveFound, old_head: Option<Head>) -> Tail {
    let head_synced = old_head
        .filter(|h| h.active_base == found.base)
        .map_or(0, |h| h.synced_end);
    // Records found past damage count too: a record written after a sync
    // proves everything below its hint was durable.
    let synced = found
        .scanner
        .max_commit_hint
        .max(head_synced)
        .max(found.later_commit_hint);
    let at = found.scanner.position;
    match found.stop {
        ScanStop::Damage(problem) if at < synced => Tail::Corrupt {
            at,
            error: problem.into_error(&found.path, at),
        },
        ScanStop::Damage(problem) => Tail::Torn {
            at,
            reason: problem.describe(),
        },
        _ if at < head_synced => Tail::Corrupt {
            at,
            error: Error::corruption(
                &found.path,
                at,
                format!(
                    "the segment's data ends at byte {at}, but {head_synced} bytes had been synced (truncated file?)"
                ),
            ),
        },
        _ => Tail::Clean(at),
    }
}

impl DiskJournal {
    pub(super) fn open_writer(dir: &Path, options: DiskJournalOptions) -> Result<DiskJournal> {
        let storage = options.storage.clone();
        if !dir.exists() {
            if !options.create_if_missing {
                return Err(Error::NotAJournal {
                    path: dir.into(),
                    reason: "the directory does not exist".into(),
                });
            }
            storage.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let meta_path = dir.join(META_FILE);
        if !meta_path.exists() {
            // The lock and a half-written metadata file are what an
            // interrupted creation leaves; anything else is not ours.
            let leftover = |name: &std::ffi::OsStr| {
                name == crate::disk::lock::LOCK_FILE || name == format!("{META_FILE}.tmp").as_str()
            };
            let foreign = storage
                .list_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .into_iter()
                .find(|name| !leftover(name));
            if let Some(foreign) = foreign {
                return Err(Error::NotAJournal {
                    path: dir.into(),
                    reason: format!(
                        "no {META_FILE}, and the directory holds other files ({})",
                        foreign.to_string_lossy()
                    ),
                });
            }
            if !options.create_if_missing {
                return Err(Error::NotAJournal {
                    path: dir.into(),
                    reason: format!("no {META_FILE}, and creation was not asked for"),
                });
            }
        }
        let lock = WriterLock::acquire(dir)?;
        let retention_floor = Arc::new(AtomicU64::new(u64::MAX));
        if !meta_path.exists() {
            Meta::new(dir, options.segment_bytes).write(storage.as_ref(), dir)?;
        }
        let old_head = Head::read_from(storage.as_ref(), dir);
        let maps = Arc::new(MapCache::new(
            options.map_cache_capacity,
            options.storage.clone(),
        ));
        let Loaded {
            meta,
            mut sealed,
            mut previous_digest,
            rebuilt,
            active,
            missing_active,
            mut report,
            mark,
            pending,
            tiered: _,
        } = recovery::load(dir, None, &maps, None)?;
        // A writer never appends to a journal with a segment missing.
        if let Some(error) = sealed
            .iter()
            .chain(&missing_active)
            .find_map(|s| s.missing_error())
        {
            return Err(error);
        }
        for (path, index) in &rebuilt {
            writer::write_index(storage.as_ref(), path, index)?;
        }
        // A drop interrupted after its mark was durable: finish its unlinks.
        if !pending.is_empty() {
            let mut leftovers = Vec::new();
            for segment in &pending {
                crate::disk::retention::unlink_segment(storage.as_ref(), segment, &mut leftovers);
            }
            if let Some((path, error)) = leftovers.first() {
                return Err(Error::io(
                    path,
                    std::io::Error::other(format!(
                        "cannot remove a segment below the retention mark: {error}"
                    )),
                ));
            }
            storage.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        }
        // Version-1 indexes become the current version: rebuilt from their
        // logs and written whole (temp file and rename), like any index.
        let body_len_max = recovery::body_len_max(meta.segment_bytes);
        for segment in &mut sealed {
            let Some(old) = segment.sealed() else {
                continue;
            };
            if old.index.has_blocks() {
                continue;
            }
            let fresh = recovery::rebuild_from_log(dir, old, &maps, body_len_max)?;
            let path = segment.index_path();
            writer::write_index(storage.as_ref(), &path, &fresh)?;
            report.upgraded_indexes.push(path);
            *segment = Arc::new(Segment {
                base: segment.base,
                log_path: segment.log_path.clone(),
                state: SegmentState::Sealed(Box::new(fresh)),
            });
        }
        let mut latest = sealed_latest(&sealed);
        let active = match active {
            None => {
                writer::create_segment(storage.as_ref(), dir, meta.journal_id, 1, &previous_digest)?
            }
            Some(found) => {
                let path = found.path.clone();
                let file = storage
                    .open(&path, OpenMode::ReadWrite)
                    .map_err(|e| Error::io(&path, e))?;
                if found.header_missing {
                    file.write_all_at(&found.header, 0)
                        .map_err(|e| Error::io(&path, e))?;
                    file.sync_all().map_err(|e| Error::io(&path, e))?;
                    report.repaired_header = true;
                }
                latest = latest.max(found.scanner.summary.last_sequence);
                match found.stop {
                    ScanStop::Footer(footer) => {
                        // Sealed, but the next segment was never created.
                        check_footer(&found.scanner, &footer, &previous_digest, &path)?;
                        let index = SealedIndex {
                            journal_id: meta.journal_id,
                            base_sequence: found.base,
                            summary: found.scanner.summary.clone(),
                            index: found.scanner.index.clone(),
                            footer,
                        };
                        writer::write_index(
                            storage.as_ref(),
                            &dir.join(index_file_name(found.base)),
                            &index,
                        )?;
                        sealed.push(Arc::new(Segment {
                            base: found.base,
                            log_path: path,
                            state: SegmentState::Sealed(Box::new(index)),
                        }));
                        previous_digest = footer.digest;
                        report.completed_roll = true;
                        let next = latest
                            .max(found.base)
                            .checked_add(1)
                            .ok_or(Error::SequenceOverflow { latest })?;
                        writer::create_segment(
                            storage.as_ref(),
                            dir,
                            meta.journal_id,
                            next,
                            &previous_digest,
                        )?
                    }
                    _ => {
                        let end = match classify_tail(&found, old_head) {
                            Tail::Clean(end) => end,
                            Tail::Torn { at, reason }
                                if options.recovery != RecoveryMode::Strict =>
                            {
                                zero_range(file.as_ref(), &path, cut_from(at), found.file_len)?;
                                report.torn_tail = Some(TornTail {
                                    path: path.clone(),
                                    offset: at,
                                    bytes: found.file_len.saturating_sub(at),
                                    reason,
                                    zeroed: true,
                                });
                                at
                            }
                            Tail::Corrupt { at, error }
                                if options.recovery == RecoveryMode::Salvage =>
                            {
                                zero_range(file.as_ref(), &path, cut_from(at), found.file_len)?;
                                report.corruption = Some(error.to_string());
                                report.salvaged_bytes = found.file_len.saturating_sub(at);
                                at
                            }
                            Tail::Torn { at, reason } => {
                                return Err(Error::corruption(
                                    &path,
                                    at,
                                    format!("torn tail refused in strict recovery: {reason}"),
                                ));
                            }
                            Tail::Corrupt { error, .. } => return Err(error),
                        };
                        let s = found.scanner;
                        let mut active = writer::active_from(
                            path, file, found.base, s.hasher, s.index, s.summary, end,
                        );
                        // Past `end` the file holds only zeros (a clean end,
                        // or a tail zeroed above): earlier preallocation.
                        active.prefilled = found.file_len.max(end);
                        active
                    }
                }
            }
        };
        let head_path = dir.join(HEAD_FILE);
        let head_file = storage
            .open(&head_path, OpenMode::Truncate)
            .map_err(|e| Error::io(&head_path, e))?;
        let mut segments = sealed.clone();
        segments.push(active.segment.clone());
        let shared = Arc::new(Shared {
            view: RwLock::new(Arc::new(View {
                segments,
                active_end: active.end,
                latest,
                first_retained: mark.map_or(0, |m| m.first_retained),
                mark_record: mark,
            })),
            poisoned: Mutex::new(None),
            durable_latest: AtomicU64::new(latest),
            records_written: AtomicU64::new(0),
            record_syncs: AtomicU64::new(0),
        });
        let mut writer = Writer {
            storage: storage.clone(),
            dir: dir.to_path_buf(),
            journal_id: meta.journal_id,
            segment_bytes: meta.segment_bytes,
            durability: options.durability,
            shared: shared.clone(),
            sealed,
            active,
            previous_digest,
            latest,
            head_file,
            head: Head {
                generation: old_head.map_or(0, |h| h.generation),
                ..Head::default()
            },
            unsynced_records: 0,
            last_sync: Instant::now(),
            buffer: Vec::with_capacity(1 << 16),
            preallocate_bytes: options.preallocate_bytes,
            mark_record: mark,
            retention: options.retention.clone().filter(|p| !p.is_empty()),
            retention_tier: options.tier_dir.clone(),
            retention_floor: retention_floor.clone(),
            closed: false,
        };
        writer.publish()?;
        let writer = Arc::new(Mutex::new(writer));
        // Policies that never sync on a timer let appending threads write
        // directly (no hand-off to the writer thread); `Always` keeps one
        // writer thread for group commit, `Interval` for its timer.
        let direct = matches!(
            options.durability,
            Durability::Os | Durability::EveryRecords(_)
        )
        .then(|| writer.clone());
        let (sender, receiver) = crossbeam_channel::bounded(options.queue_depth);
        let handle = std::thread::Builder::new()
            .name("baldur-journal-writer".into())
            .spawn(move || writer::run(writer, receiver))
            .map_err(|e| Error::io(dir, e))?;
        let body_len_max = recovery::body_len_max(meta.segment_bytes);
        Ok(DiskJournal {
            dir: dir.to_path_buf(),
            record_bytes_max: options
                .max_record_bytes
                .min((body_len_max + codec::FRAME_HEADER_LEN) as u64),
            options,
            meta,
            body_len_max,
            shared,
            maps,
            sender: RwLock::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
            report,
            follower: None,
            lock: Mutex::new(Some(lock)),
            active_summary: Mutex::new(None),
            blocks_read: AtomicU64::new(0),
            blocks_passed: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            holes: Vec::new(),
            retention_floor,
            direct,
        })
    }

    pub(super) fn open_reader(dir: &Path, options: DiskJournalOptions) -> Result<DiskJournal> {
        let maps = Arc::new(MapCache::new(
            options.map_cache_capacity,
            options.storage.clone(),
        ));
        let (loaded_view, follower, report, meta, holes) = if options.salvage {
            let salvaged = crate::disk::salvage::load(options.storage.as_ref(), dir)?;
            let follower = Follower {
                generation: 0,
                active: None,
                latest: salvaged.view.latest,
            };
            let report = RecoveryReport {
                segments: crate::disk::recovery::list_segments(options.storage.as_ref(), dir)?
                    .len(),
                ..RecoveryReport::default()
            };
            (
                salvaged.view,
                follower,
                report,
                salvaged.meta,
                salvaged.holes,
            )
        } else {
            let head = if writer_is_live(dir) {
                Head::read_from(options.storage.as_ref(), dir)
            } else {
                None
            };
            let (view, follower, report, meta) =
                load_for_reading(dir, options.tier_dir.as_deref(), &maps, head)?;
            (view, follower, report, meta, Vec::new())
        };
        let body_len_max = recovery::body_len_max(meta.segment_bytes);
        Ok(DiskJournal {
            dir: dir.to_path_buf(),
            record_bytes_max: 0,
            options,
            meta,
            body_len_max,
            shared: Arc::new(Shared {
                durable_latest: AtomicU64::new(loaded_view.latest),
                records_written: AtomicU64::new(0),
                record_syncs: AtomicU64::new(0),
                view: RwLock::new(Arc::new(loaded_view)),
                poisoned: Mutex::new(None),
            }),
            maps,
            sender: RwLock::new(None),
            writer: Mutex::new(None),
            closed: AtomicBool::new(false),
            report,
            follower: Some(Mutex::new(follower)),
            lock: Mutex::new(None),
            active_summary: Mutex::new(None),
            blocks_read: AtomicU64::new(0),
            blocks_passed: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            holes,
            retention_floor: Arc::new(AtomicU64::new(u64::MAX)),
            direct: None,
        })
    }
}

/// Where recovery starts zeroing; the test-only break cuts one byte too far.
fn cut_from(at: u64) -> u64 {
    if cfg!(feature = "break-recovery-cut-too-far") {
        at.saturating_sub(1)
    } else {
        at
    }
}

fn zero_range(
    file: &dyn crate::storage::StorageFile,
    path: &Path,
    from: u64,
    to: u64,
) -> Result<()> {
    const ZERO_CHUNK_BYTES: usize = 64 << 10;
    let zeros = vec![0u8; ZERO_CHUNK_BYTES];
    let mut at = from;
    while at < to {
        let n = usize::try_from(to - at).map_or(ZERO_CHUNK_BYTES, |n| n.min(ZERO_CHUNK_BYTES));
        file.write_all_at(&zeros[..n], at)
            .map_err(|e| Error::io(path, e))?;
        at += n as u64;
    }
    file.sync_data().map_err(|e| Error::io(path, e))
}

/// Loads a directory for a read-only handle: never writes; a damaged tail
/// is reported and the intact prefix served.
pub(super) fn load_for_reading(
    dir: &Path,
    tier: Option<&Path>,
    maps: &MapCache,
    head: Option<Head>,
) -> Result<(View, Follower, RecoveryReport, Meta)> {
    let Loaded {
        meta,
        mut sealed,
        previous_digest,
        rebuilt: _,
        active,
        missing_active,
        mut report,
        mark,
        pending: _,
        tiered,
    } = recovery::load(dir, tier, maps, head)?;
    let mut latest = sealed_latest(&sealed);
    let mut follower = Follower {
        generation: head.map_or(0, |h| h.generation),
        active: None,
        latest: 0,
    };
    let mut active_end = SEGMENT_HEADER_LEN as u64;
    if let Some(found) = active {
        latest = latest.max(found.scanner.summary.last_sequence);
        let mut sealed_now = None;
        match found.stop {
            ScanStop::Footer(footer) => {
                check_footer(&found.scanner, &footer, &previous_digest, &found.path)?;
                sealed_now = Some(SealedIndex {
                    journal_id: meta.journal_id,
                    base_sequence: found.base,
                    summary: found.scanner.summary.clone(),
                    index: found.scanner.index.clone(),
                    footer,
                });
            }
            _ => match classify_tail(
                &found,
                head.or_else(|| Head::read_from(maps.storage(), dir)),
            ) {
                Tail::Clean(_) => {}
                Tail::Corrupt { error, .. } => report.corruption = Some(error.to_string()),
                Tail::Torn { at, reason } => {
                    report.torn_tail = Some(TornTail {
                        path: found.path.clone(),
                        offset: at,
                        bytes: found.file_len.saturating_sub(at),
                        reason,
                        zeroed: false,
                    });
                }
            },
        }
        match sealed_now {
            Some(index) => sealed.push(Arc::new(Segment {
                base: found.base,
                log_path: found.path,
                state: SegmentState::Sealed(Box::new(index)),
            })),
            None => {
                active_end = found.scanner.position;
                let index = Arc::new(RwLock::new(found.scanner.index.clone()));
                let segment = Arc::new(Segment {
                    base: found.base,
                    log_path: found.path,
                    state: SegmentState::Active(index),
                });
                sealed.push(segment.clone());
                follower.active = Some((segment, found.scanner));
            }
        }
    }
    // A read that needs the synced records of an active segment that is
    // gone fails naming it.
    sealed.extend(missing_active);
    follower.latest = latest;
    // Read with its tier, the journal starts where the tier does.
    let first_retained = if tiered {
        tier_start(&sealed)
    } else {
        mark.map_or(0, |m| m.first_retained)
    };
    Ok((
        View {
            segments: sealed,
            active_end,
            latest,
            // Read with its tier, the journal starts where the tier does.
            first_retained,
            mark_record: mark,
        },
        follower,
        report,
        meta,
    ))
}

/// Where a journal read with its tier starts: 0 when its first segment
/// starts the digest chain, else that segment's base (segments were
/// dropped before the oldest one moved to the tier).
fn tier_start(segments: &[Arc<Segment>]) -> u64 {
    match segments.first().and_then(|s| s.sealed()) {
        Some(first) if first.footer.previous_digest != [0; 32] => first.base_sequence,
        _ => 0,
    }
}

/// The latest sequence of the sealed segments (0 when none holds a record).
fn sealed_latest(sealed: &[Arc<Segment>]) -> u64 {
    sealed
        .iter()
        .filter_map(|s| s.sealed())
        .map(|s| s.summary.last_sequence)
        .max()
        .unwrap_or(0)
}
