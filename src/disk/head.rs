//! The journal's head and anchoring: what `verify --head` records, and
//! how a recorded head is checked against the journal later (the sealed
//! digest chain, the active segment's prefix, the retention mark).

use crate::disk::DiskJournal;
use crate::disk::segment::{SegmentState, View};
use crate::error::{Error, Result};
use crate::hex::hex;

/// Sealed segments of the digest chain before the first one in `view`:
/// those retention dropped, less those a tier directory still serves.
fn chain_offset(view: &View) -> u64 {
    let Some(mark) = view.mark_record else {
        return 0;
    };
    let served_below = view
        .segments
        .iter()
        .filter(|s| s.sealed().is_some() && s.base < mark.first_retained)
        .count() as u64;
    mark.dropped_total.saturating_sub(served_below)
}

/// A journal's head: its last sequence and the digest of its last sealed
/// segment. Each sealed segment's digest covers the previous one's, so a
/// recorded head pins every record up to `last_sealed.last_sequence`: a
/// later copy whose chain (as `verify` recomputes it) does not reach the
/// same digest at that segment changed something before it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalHead {
    /// The journal id, 32 hexadecimal digits.
    pub journal_id: String,
    /// The latest sequence (0 when empty).
    pub last_sequence: u64,
    /// Sealed segments since the journal was created, those dropped by
    /// retention included.
    pub sealed_segments: u64,
    /// The retention mark: the first retained sequence (0: nothing was
    /// dropped). Absent from heads recorded before retention existed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub first_retained: u64,
    /// The last sealed segment, if any.
    pub last_sealed: Option<SealedHead>,
    /// The active segment's readable prefix, when it holds records: so a
    /// recorded head pins the records after the last sealed segment too
    /// (a retention mark among them included). Absent from heads recorded
    /// by older builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<ActiveHead>,
}

/// The active segment of a [`JournalHead`]: its first `end` bytes, as
/// the digest chain hashes them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActiveHead {
    /// Its first possible sequence (its file name).
    pub base_sequence: u64,
    /// The readable end recorded (bytes from the start of the file).
    pub end: u64,
    /// SHA-256 of the previous segment's digest and the segment's first
    /// `end` bytes, 64 hex digits.
    pub digest: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The last sealed segment of a [`JournalHead`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealedHead {
    /// Its first possible sequence (its file name).
    pub base_sequence: u64,
    /// Its last sequence (0 when it holds no record).
    pub last_sequence: u64,
    /// Its digest, chained over every earlier segment, 64 hex digits.
    pub digest: String,
}

impl DiskJournal {
    /// The journal's head, to record elsewhere and later compare (see
    /// [`JournalHead`]).
    pub fn head(&self) -> Result<JournalHead> {
        self.refresh()?;
        let view = self.shared.view();
        let sealed = view
            .segments
            .iter()
            .filter_map(|s| s.sealed())
            .collect::<Vec<_>>();
        let dropped = chain_offset(&view);
        let active = match view.segments.last() {
            Some(segment)
                if matches!(segment.state, SegmentState::Active(_))
                    && view.active_end > crate::codec::SEGMENT_HEADER_LEN as u64 =>
            {
                Some(ActiveHead {
                    base_sequence: segment.base,
                    end: view.active_end,
                    digest: hex(&self.prefix_digest(&view, segment.base, view.active_end)?),
                })
            }
            _ => None,
        };
        Ok(JournalHead {
            journal_id: hex(&self.meta.journal_id),
            last_sequence: view.latest,
            sealed_segments: dropped + sealed.len() as u64,
            first_retained: view.first_retained,
            last_sealed: sealed.last().map(|index| SealedHead {
                base_sequence: index.base_sequence,
                last_sequence: index.footer.last_sequence,
                digest: hex(&index.footer.digest),
            }),
            active,
        })
    }

    /// The running digest of segment `base` over its first `end` bytes, as
    /// the segment digest is computed (the previous digest, the header,
    /// the frames): what a recorded head pins of the active segment.
    pub(super) fn prefix_digest(&self, view: &View, base: u64, end: u64) -> Result<[u8; 32]> {
        use sha2::{Digest, Sha256};
        let place = view
            .segments
            .iter()
            .position(|s| s.base == base)
            .ok_or_else(|| Error::corruption(&self.dir, 0, format!("no segment at {base}")))?;
        let previous = match place.checked_sub(1).and_then(|p| view.segments[p].sealed()) {
            Some(sealed) => sealed.footer.digest,
            None => view.mark_record.map_or([0; 32], |m| m.last_dropped_digest),
        };
        let segment = &view.segments[place];
        let map = self.maps.get(segment.base, &segment.log_path, end)?;
        let bytes = map.bytes();
        let end = usize::try_from(end)
            .map_err(|_| Error::corruption(&segment.log_path, end, "too far"))?;
        if bytes.len() < end {
            return Err(Error::corruption(
                &segment.log_path,
                bytes.len() as u64,
                format!("the segment ends before byte {end}"),
            ));
        }
        let mut hasher = Sha256::new();
        hasher.update(previous);
        hasher.update(&bytes[..end]);
        Ok(hasher.finalize().into())
    }

    /// Compares a head recorded earlier with this journal: `None` when
    /// the journal still holds the recorded sealed segment with the same
    /// digest and last sequence and has not gone back before the recorded
    /// last sequence, else what differs. Only a clean [`verify`] proves the
    /// stored digests are the recomputed chain; together they prove nothing
    /// up to the recorded sealed segment changed.
    ///
    /// [`verify`]: crate::disk::verify()
    pub fn check_head(&self, recorded: &JournalHead) -> Result<Option<String>> {
        let now = self.head()?;
        if now.journal_id != recorded.journal_id {
            return Ok(Some(format!(
                "another journal: journal id {} differs from the recorded {}",
                now.journal_id, recorded.journal_id
            )));
        }
        if now.last_sequence < recorded.last_sequence {
            return Ok(Some(format!(
                "last sequence {} is before the recorded {}",
                now.last_sequence, recorded.last_sequence
            )));
        }
        let view = self.shared.view();
        if view.first_retained < recorded.first_retained {
            return Ok(Some(format!(
                "the retention mark {} is before the recorded {}",
                view.first_retained, recorded.first_retained
            )));
        }
        // The sealed chain first (older records), then the active prefix.
        let sealed = self.check_sealed(&view, recorded)?;
        if sealed.is_some() {
            return Ok(sealed);
        }
        match &recorded.active {
            Some(active) => self.check_active(&view, active),
            None => Ok(None),
        }
    }

    /// Compares the recorded last sealed segment with this journal's.
    pub(super) fn check_sealed(
        &self,
        view: &View,
        recorded: &JournalHead,
    ) -> Result<Option<String>> {
        let Some(want) = &recorded.last_sealed else {
            return Ok(None);
        };
        let dropped = chain_offset(view);
        if want.base_sequence < view.first_retained {
            // Dropped since: checkable only when it was the last segment
            // the newest drop removed (the mark names its digest).
            let last_dropped = view.mark_record.map(|m| hex(&m.last_dropped_digest));
            return Ok(
                if last_dropped.as_deref() == Some(want.digest.as_str())
                    && dropped == recorded.sealed_segments
                {
                    None
                } else {
                    Some(format!(
                        "the recorded head's last sealed segment (base sequence {}) was dropped \
                         by retention since it was recorded (the journal now starts at {}): it \
                         can no longer be checked; record a new head with `verify --head` after \
                         each drop",
                        want.base_sequence, view.first_retained
                    ))
                },
            );
        }
        let sealed: Vec<_> = view.segments.iter().filter_map(|s| s.sealed()).collect();
        let Some(place) = sealed
            .iter()
            .position(|index| index.base_sequence == want.base_sequence)
        else {
            return Ok(Some(format!(
                "no sealed segment at base sequence {} (the recorded head's last sealed segment)",
                want.base_sequence
            )));
        };
        let index = sealed[place];
        let digest = hex(&index.footer.digest);
        Ok(if digest != want.digest {
            Some(format!(
                "sealed segment at base sequence {} has digest {digest}, recorded {}",
                want.base_sequence, want.digest
            ))
        } else if index.footer.last_sequence != want.last_sequence {
            Some(format!(
                "sealed segment at base sequence {} ends at sequence {}, recorded {}",
                want.base_sequence, index.footer.last_sequence, want.last_sequence
            ))
        } else if dropped + place as u64 + 1 != recorded.sealed_segments {
            Some(format!(
                "sealed segment at base sequence {} is sealed segment {} of the chain, recorded {}",
                want.base_sequence,
                dropped + place as u64 + 1,
                recorded.sealed_segments
            ))
        } else {
            None
        })
    }

    /// Compares the recorded active segment's prefix with this journal's
    /// bytes of that segment (active still, or sealed since).
    pub(super) fn check_active(&self, view: &View, want: &ActiveHead) -> Result<Option<String>> {
        if want.base_sequence < view.first_retained {
            return Ok(Some(format!(
                "the recorded head's active segment (base sequence {}) was dropped by retention \
                 since it was recorded (the journal now starts at {}): it can no longer be \
                 checked; record a new head with `verify --head` after each drop",
                want.base_sequence, view.first_retained
            )));
        }
        let Some(i) = view
            .segments
            .iter()
            .position(|s| s.base == want.base_sequence)
        else {
            return Ok(Some(format!(
                "no segment at base sequence {} (the recorded head's active segment)",
                want.base_sequence
            )));
        };
        if view.readable_end(i) < want.end {
            return Ok(Some(format!(
                "segment at base sequence {} holds {} bytes, fewer than the recorded {}",
                want.base_sequence,
                view.readable_end(i),
                want.end
            )));
        }
        let digest = hex(&self.prefix_digest(view, want.base_sequence, want.end)?);
        Ok((digest != want.digest).then(|| {
            format!(
                "the first {} bytes of segment at base sequence {} have digest {digest}, \
                 recorded {} (its records up to the recorded head changed)",
                want.end, want.base_sequence, want.digest
            )
        }))
    }
}
