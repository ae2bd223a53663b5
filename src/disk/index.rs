//! The per-segment index (`.idx`): derived data, rebuildable from the
//! `.log` at any time. A sparse map from sequences to byte offsets (one
//! entry per [`INDEX_INTERVAL_BYTES`] of log, looked up by binary search,
//! never by arithmetic on sequences) and a summary of the sealed segment
//! (sequence and time bounds, event types with counts) so queries and
//! counts skip or answer whole segments.

use std::collections::BTreeMap;
use std::path::Path;

use crate::codec::{FORMAT_VERSION, Footer};
use crate::codec::{u32_at, u64_at};
use crate::entry::{EntryRef, Timestamp};
use crate::error::{Error, Result};

/// Log bytes between two index entries.
pub const INDEX_INTERVAL_BYTES: u64 = 4096;
/// Magic of an index file.
pub const INDEX_MAGIC: [u8; 8] = *b"BJIDX\0\0\x01";
/// Length of the fixed part of an index file.
pub const INDEX_FIXED_LEN: usize = 160;
/// Most distinct event types one segment's summary records; past that the
/// summary marks itself incomplete and queries scan the segment.
pub const SUMMARY_EVENT_TYPES_MAX: usize = 4096;

/// One sparse index entry: a record's sequence and its frame's offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The record's sequence.
    pub sequence: u64,
    /// Byte offset of its frame in the `.log`.
    pub position: u64,
}

/// What is known of a segment's records without reading them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Summary {
    /// Records in the segment.
    pub record_count: u64,
    /// First sequence (0 when empty).
    pub first_sequence: u64,
    /// Last sequence (0 when empty).
    pub last_sequence: u64,
    /// Earliest event time (UTC nanoseconds; `i64::MAX` when empty).
    pub min_timestamp_ns: i64,
    /// Latest event time (`i64::MIN` when empty).
    pub max_timestamp_ns: i64,
    /// Event types present with their counts; `None` when the segment has
    /// more than [`SUMMARY_EVENT_TYPES_MAX`] distinct types.
    pub event_types: Option<BTreeMap<String, u64>>,
}

impl Summary {
    /// The summary of no records.
    #[must_use]
    pub fn empty() -> Self {
        Summary {
            record_count: 0,
            first_sequence: 0,
            last_sequence: 0,
            min_timestamp_ns: i64::MAX,
            max_timestamp_ns: i64::MIN,
            event_types: Some(BTreeMap::new()),
        }
    }

    /// Adds one record.
    pub fn add(&mut self, record: &EntryRef<'_>) {
        self.add_parts(record.sequence, record.timestamp, record.event_type);
    }

    /// Adds one record by the fields a summary keeps (the writer has them
    /// from the encoded body, without decoding the record).
    pub fn add_parts(&mut self, sequence: u64, timestamp: Timestamp, event_type: &str) {
        if self.record_count == 0 {
            self.first_sequence = sequence;
        }
        self.record_count += 1;
        self.last_sequence = sequence;
        let ts = timestamp.as_unix_nanos();
        self.min_timestamp_ns = self.min_timestamp_ns.min(ts);
        self.max_timestamp_ns = self.max_timestamp_ns.max(ts);
        if let Some(types) = &mut self.event_types {
            if let Some(count) = types.get_mut(event_type) {
                *count += 1;
            } else if types.len() < SUMMARY_EVENT_TYPES_MAX {
                types.insert(event_type.to_string(), 1);
            } else {
                self.event_types = None;
            }
        }
    }
}

/// The sparse index under construction or loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparseIndex {
    entries: Vec<IndexEntry>,
}

impl SparseIndex {
    /// Notes a record at `position`; keeps it when it starts a new interval.
    pub fn note(&mut self, sequence: u64, position: u64) {
        let due = match self.entries.last() {
            None => true,
            Some(last) => position >= last.position + INDEX_INTERVAL_BYTES,
        };
        if due {
            self.entries.push(IndexEntry { sequence, position });
        }
    }

    /// Where to start scanning for the first record with sequence `>=
    /// target`: the offset of the last indexed record whose sequence is at
    /// most `target`, or `None` to start at the segment's first record.
    #[must_use]
    pub fn seek(&self, target: u64) -> Option<u64> {
        let after = self.entries.partition_point(|e| e.sequence <= target);
        after.checked_sub(1).map(|i| self.entries[i].position)
    }

    /// The last entry whose sequence is at most `target`, with its place.
    #[must_use]
    pub fn seek_entry(&self, target: u64) -> Option<(usize, IndexEntry)> {
        let after = self.entries.partition_point(|e| e.sequence <= target);
        after.checked_sub(1).map(|i| (i, self.entries[i]))
    }

    /// The entries.
    #[must_use]
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }
}

/// A sealed segment's index file contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedIndex {
    /// The journal the segment belongs to.
    pub journal_id: [u8; 16],
    /// The segment's base sequence.
    pub base_sequence: u64,
    /// The summary of its records.
    pub summary: Summary,
    /// The sparse index.
    pub index: SparseIndex,
    /// The segment's footer (data end and digests).
    pub footer: Footer,
}

impl SealedIndex {
    /// The bytes of the `.idx` file.
    pub fn encode(&self) -> Vec<u8> {
        let s = &self.summary;
        let mut out = Vec::with_capacity(INDEX_FIXED_LEN + self.index.entries.len() * 16 + 64);
        out.extend_from_slice(&INDEX_MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let flags: u32 = if s.event_types.is_some() { 0b11 } else { 0b01 };
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&self.journal_id);
        out.extend_from_slice(&self.base_sequence.to_le_bytes());
        out.extend_from_slice(&self.footer.data_end.to_le_bytes());
        out.extend_from_slice(&s.record_count.to_le_bytes());
        out.extend_from_slice(&s.first_sequence.to_le_bytes());
        out.extend_from_slice(&s.last_sequence.to_le_bytes());
        out.extend_from_slice(&s.min_timestamp_ns.to_le_bytes());
        out.extend_from_slice(&s.max_timestamp_ns.to_le_bytes());
        out.extend_from_slice(&self.footer.digest);
        out.extend_from_slice(&self.footer.previous_digest);
        let entry_count =
            u32::try_from(self.index.entries.len()).expect("index entries fit in u32");
        out.extend_from_slice(&entry_count.to_le_bytes());
        let types = s.event_types.as_ref();
        let type_count =
            u32::try_from(types.map_or(0, BTreeMap::len)).expect("event types fit in u32");
        out.extend_from_slice(&type_count.to_le_bytes());
        debug_assert_eq!(out.len(), INDEX_FIXED_LEN);
        for e in &self.index.entries {
            out.extend_from_slice(&e.sequence.to_le_bytes());
            out.extend_from_slice(&e.position.to_le_bytes());
        }
        for (name, count) in types.into_iter().flatten() {
            let name_len = u32::try_from(name.len()).expect("a name is shorter than a body");
            out.extend_from_slice(&name_len.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&count.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and sanity-checks an index file. Any problem is an error
    /// naming the file and offset; the caller rebuilds from the `.log`.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<SealedIndex> {
        let bad = |offset: usize, reason: &str| Error::corruption(path, offset as u64, reason);
        if bytes.len() < INDEX_FIXED_LEN + 4 {
            return Err(bad(0, "index file too short"));
        }
        let body = &bytes[..bytes.len() - 4];
        let stored = u32_at(bytes, bytes.len() - 4);
        let actual = crc32fast::hash(body);
        if stored != actual {
            return Err(Error::ChecksumMismatch {
                path: path.into(),
                offset: body.len() as u64,
                expected: stored,
                actual,
            });
        }
        if body[0..8] != INDEX_MAGIC {
            return Err(bad(0, "bad index magic"));
        }
        let version = u32_at(body, 8);
        if version > FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.into(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if version == 0 {
            return Err(bad(8, "format version 0 does not exist"));
        }
        let flags = u32_at(body, 12);
        if flags & 1 == 0 {
            return Err(bad(12, "index is not of a sealed segment"));
        }
        if flags & !0b11 != 0 {
            return Err(bad(12, "unknown index flags"));
        }
        let mut journal_id = [0u8; 16];
        journal_id.copy_from_slice(&body[16..32]);
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&body[88..120]);
        let mut previous_digest = [0u8; 32];
        previous_digest.copy_from_slice(&body[120..152]);
        let entry_count = u32_at(body, 152) as usize;
        let type_count = u32_at(body, 156) as usize;
        let summary_base = Summary {
            record_count: u64_at(body, 48),
            first_sequence: u64_at(body, 56),
            last_sequence: u64_at(body, 64),
            min_timestamp_ns: u64_at(body, 72) as i64,
            max_timestamp_ns: u64_at(body, 80) as i64,
            event_types: None,
        };
        let data_end = u64_at(body, 40);
        let mut at = INDEX_FIXED_LEN;
        let entries_len = entry_count
            .checked_mul(16)
            .ok_or_else(|| bad(152, "entry count overflows"))?;
        if body.len() < at + entries_len {
            return Err(bad(152, "entry count exceeds the file"));
        }
        let mut entries = Vec::with_capacity(entry_count);
        for _ in 0..entry_count {
            let entry = IndexEntry {
                sequence: u64_at(body, at),
                position: u64_at(body, at + 8),
            };
            if let Some(prev) = entries.last() {
                let prev: &IndexEntry = prev;
                if entry.sequence <= prev.sequence || entry.position <= prev.position {
                    return Err(bad(at, "index entries are not strictly increasing"));
                }
            }
            if entry.position >= data_end {
                return Err(bad(at, "index entry points past the segment's data"));
            }
            entries.push(entry);
            at += 16;
        }
        if flags & 0b10 == 0 && type_count != 0 {
            return Err(bad(156, "event types listed although flagged incomplete"));
        }
        let mut event_types = BTreeMap::new();
        let mut previous_name: Option<&str> = None;
        for _ in 0..type_count {
            if body.len() < at + 4 {
                return Err(bad(at, "event type table runs past the end"));
            }
            let len = u32_at(body, at) as usize;
            at += 4;
            if body.len() < at + len + 8 {
                return Err(bad(at, "event type table runs past the end"));
            }
            let name = std::str::from_utf8(&body[at..at + len])
                .map_err(|_| bad(at, "event type is not UTF-8"))?;
            if previous_name.is_some_and(|p| name <= p) {
                return Err(bad(at, "event types out of order or repeated"));
            }
            previous_name = Some(name);
            at += len;
            event_types.insert(name.to_string(), u64_at(body, at));
            at += 8;
        }
        if at != body.len() {
            return Err(bad(at, "trailing bytes after the event type table"));
        }
        let summary = Summary {
            event_types: if flags & 0b10 != 0 {
                Some(event_types)
            } else {
                None
            },
            ..summary_base
        };
        Ok(SealedIndex {
            journal_id,
            base_sequence: u64_at(body, 32),
            footer: Footer {
                record_count: summary.record_count,
                first_sequence: summary.first_sequence,
                last_sequence: summary.last_sequence,
                data_end,
                digest,
                previous_digest,
            },
            summary,
            index: SparseIndex { entries },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_finds_the_last_entry_at_or_before_the_target() {
        let mut index = SparseIndex::default();
        for (i, seq) in [5u64, 9, 20, 1_000_000_000_000].iter().enumerate() {
            index.note(*seq, 64 + i as u64 * INDEX_INTERVAL_BYTES);
        }
        assert_eq!(index.seek(4), None);
        assert_eq!(index.seek(5), Some(64));
        assert_eq!(index.seek(8), Some(64));
        assert_eq!(index.seek(19), Some(64 + INDEX_INTERVAL_BYTES));
        assert_eq!(index.seek(u64::MAX), Some(64 + 3 * INDEX_INTERVAL_BYTES));
    }

    #[test]
    fn index_round_trips_and_rejects_damage() {
        let mut summary = Summary::empty();
        summary.record_count = 2;
        summary.first_sequence = 1;
        summary.last_sequence = 2;
        summary.event_types.as_mut().unwrap().insert("a".into(), 2);
        let mut index = SparseIndex::default();
        index.note(1, 64);
        let sealed = SealedIndex {
            journal_id: [3; 16],
            base_sequence: 1,
            summary,
            index,
            footer: Footer {
                record_count: 2,
                first_sequence: 1,
                last_sequence: 2,
                data_end: 300,
                digest: [1; 32],
                previous_digest: [0; 32],
            },
        };
        let bytes = sealed.encode();
        let path = Path::new("x.idx");
        assert_eq!(SealedIndex::decode(&bytes, path).unwrap(), sealed);
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            assert!(
                SealedIndex::decode(&damaged, path).is_err(),
                "byte {i} damage not caught"
            );
        }
    }
}
