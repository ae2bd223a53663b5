//! Following a live writer from a read-only handle: each call catches up
//! with what the writer published (`head`), scanning new frames of the
//! active segment, or reloading the directory after a roll, a drop or a
//! writer that came or went.

use std::sync::atomic::Ordering;

use crate::disk::DiskJournal;
use crate::disk::lock::writer_is_live;
use crate::disk::meta::Head;
use crate::disk::open::load_for_reading;
use crate::disk::segment::{SegmentState, View};
use crate::error::{Error, Result};

impl DiskJournal {
    /// For a read-only handle: catches up with what a live writer has
    /// published since the last call.
    pub(super) fn refresh(&self) -> Result<()> {
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
        let storage = self.options.storage.as_ref();
        let head = if live {
            Head::read_from(storage, &self.dir)
        } else {
            None
        };
        if live && head.is_none() {
            return Ok(());
        }
        let (base, end) = match head {
            Some(head) => (head.active_base, head.published_end),
            None => {
                let Some(&base) = crate::disk::recovery::list_segments(storage, &self.dir)?.last()
                else {
                    return Ok(());
                };
                let path = self.dir.join(crate::disk::segment::log_file_name(base));
                let len = storage.file_len(&path).map_err(|e| Error::io(&path, e))?;
                (base, len)
            }
        };
        let mut f = follower.lock().unwrap_or_else(|e| e.into_inner());
        if head.is_some_and(|h| h.generation == f.generation) {
            return Ok(());
        }
        let known_mark = self
            .shared
            .view()
            .mark_record
            .map_or(0, |m| m.first_retained);
        let same_segment = f
            .active
            .as_ref()
            // A writer that reopened may have zeroed a torn tail this
            // reader had read (without a live writer): start over then.
            .is_some_and(|(segment, scanner)| segment.base == base && end >= scanner.position)
            // A drop the live writer published moved the mark: the
            // segments below it leave the view.
            && head.is_none_or(|h| h.mark <= known_mark);
        let mut reload = !same_segment;
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
            // A drop by a writer since gone: its mark is in what was just
            // scanned.
            let scanned_mark = scanner.summary.mark.map_or(0, |m| m.first_retained);
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
            reload = scanned_mark > known_mark;
        }
        if reload {
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
}
