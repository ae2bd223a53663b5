//! The handle's retention API: the low-water mark, the floor, drops and
//! moves (sent to the writer thread), dry runs, and range reads that say
//! when they start below the mark (docs/DESIGN.md, "Retention").

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crate::disk::DiskJournal;
use crate::disk::retention::{DropReport, RetentionPolicy};
use crate::disk::writer::Request;
use crate::entry::JournalEntry;
use crate::error::{Error, Result};
use crate::journal::EventJournal;

/// The answer of [`DiskJournal::range_checked`].
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedRange {
    /// The entries of the range that remain.
    pub entries: Vec<JournalEntry>,
    /// The retention mark, when the range starts below it: sequences from
    /// the range's start up to the mark were dropped, not absent.
    pub below_mark: Option<u64>,
}

impl DiskJournal {
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
        let active_bytes = view
            .segments
            .last()
            .filter(|s| s.sealed().is_none())
            .and_then(|s| self.options.storage.file_len(&s.log_path).ok())
            .unwrap_or(0);
        let crate::disk::retention::Plan {
            count,
            held_by_floor,
            dropped,
        } = crate::disk::retention::plan(
            self.options.storage.as_ref(),
            &sealed,
            active_bytes,
            self.newest_append_ns()?,
            policy,
            self.retention_floor(),
        );
        // The segment after the last selected one (a stand-in for a
        // missing segment counts: it is not dropped).
        let first_retained = match count {
            0 => view.first_retained,
            n => view
                .segments
                .iter()
                .find(|s| s.base > sealed[n - 1].base)
                .map_or(0, |s| s.base),
        };
        Ok(DropReport {
            dropped,
            first_retained,
            dry_run: true,
            held_by_floor,
            leftovers: Vec::new(),
        })
    }

    /// The newest append time of the journal's last record.
    pub(super) fn newest_append_ns(&self) -> Result<Option<i64>> {
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

    pub(super) fn submit_retain(
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
}
