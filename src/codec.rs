//! Byte layouts of the segment file: the header, record frames, record
//! bodies and the sealing footer. Every layout here is specified byte by
//! byte in docs/FORMAT.md; all integers are little-endian with explicit
//! widths.

pub use crate::entry::EntryRef;
use crate::entry::{JournalEntry, Timestamp};
use crate::error::{Error, Result};

/// Magic bytes that open every segment `.log` file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"BJLOG\0\0\x01";
/// The newest format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// Length of the segment header; the first frame starts here.
pub const SEGMENT_HEADER_LEN: usize = 64;
/// Length of the frame header: body length and CRC.
pub const FRAME_HEADER_LEN: usize = 8;
/// Fixed part of a record body, before the variable-length fields.
pub const BODY_FIXED_LEN: usize = 56;
/// Bit of the frame length word that marks the sealing footer.
pub const FOOTER_FLAG: u32 = 0x8000_0000;
/// Length of the footer body.
pub const FOOTER_BODY_LEN: usize = 96;
/// Length of the whole footer frame.
pub const FOOTER_FRAME_LEN: usize = FRAME_HEADER_LEN + FOOTER_BODY_LEN;
/// The largest body a frame may carry (the length word's low 31 bits).
pub const BODY_LEN_MAX: usize = 0x7fff_ffff;

const _: () = assert!(BODY_FIXED_LEN == 32 + 6 * 4);
/// `SEGMENT_HEADER_LEN` as the header's 4-byte length field spells it.
#[expect(
    clippy::cast_possible_truncation,
    reason = "the header is 64 bytes (checked below)"
)]
const SEGMENT_HEADER_LEN_WORD: u32 = SEGMENT_HEADER_LEN as u32;
const _: () = assert!(SEGMENT_HEADER_LEN_WORD as usize == SEGMENT_HEADER_LEN);
/// A footer's length word: the flag and the body length.
#[expect(
    clippy::cast_possible_truncation,
    reason = "the footer body is 96 bytes (checked below)"
)]
const FOOTER_WORD: u32 = FOOTER_FLAG | FOOTER_BODY_LEN as u32;
const _: () = assert!((FOOTER_WORD & !FOOTER_FLAG) as usize == FOOTER_BODY_LEN);
const _: () = assert!(FOOTER_BODY_LEN == 32 + 2 * 32);
/// Length of a retention mark's body (docs/FORMAT.md, "Retention mark").
pub const MARK_BODY_LEN: usize = 80;
/// Length of the whole retention-mark frame.
pub const MARK_FRAME_LEN: usize = FRAME_HEADER_LEN + MARK_BODY_LEN;
/// A retention mark's length word: the flag and the body length.
#[expect(
    clippy::cast_possible_truncation,
    reason = "the mark body is 80 bytes (checked below)"
)]
const MARK_WORD: u32 = FOOTER_FLAG | MARK_BODY_LEN as u32;
const _: () = assert!((MARK_WORD & !FOOTER_FLAG) as usize == MARK_BODY_LEN);
const _: () = assert!(MARK_BODY_LEN == 6 * 8 + 32);
const _: () = assert!(MARK_BODY_LEN != FOOTER_BODY_LEN);

/// The little-endian `u32` at `bytes[at..at + 4]`.
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// The little-endian `u64` at `bytes[at..at + 8]`.
pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The header at the start of every segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Format version the segment was written with.
    pub format_version: u32,
    /// The journal this segment belongs to.
    pub journal_id: [u8; 16],
    /// The first sequence the segment may contain (also its file name).
    pub base_sequence: u64,
}

impl SegmentHeader {
    /// Encodes the 64-byte header.
    #[must_use]
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut out = [0u8; SEGMENT_HEADER_LEN];
        out[0..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        out[12..16].copy_from_slice(&SEGMENT_HEADER_LEN_WORD.to_le_bytes());
        out[16..32].copy_from_slice(&self.journal_id);
        out[32..40].copy_from_slice(&self.base_sequence.to_le_bytes());
        let crc = crc32fast::hash(&out[0..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks a header; `path` names the file in errors.
    pub fn decode(bytes: &[u8], path: &std::path::Path) -> Result<Self> {
        if bytes.len() < SEGMENT_HEADER_LEN {
            return Err(Error::corruption(
                path,
                0,
                format!(
                    "segment header is {} bytes, expected {SEGMENT_HEADER_LEN}",
                    bytes.len()
                ),
            ));
        }
        if bytes[0..8] != SEGMENT_MAGIC {
            return Err(Error::corruption(path, 0, "bad segment magic"));
        }
        let format_version = u32_at(bytes, 8);
        let stored = u32_at(bytes, 60);
        let actual = crc32fast::hash(&bytes[0..60]);
        if stored != actual {
            return Err(Error::ChecksumMismatch {
                path: path.into(),
                offset: 0,
                expected: stored,
                actual,
            });
        }
        if format_version > FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.into(),
                found: format_version,
                supported: FORMAT_VERSION,
            });
        }
        if u32_at(bytes, 12) as usize != SEGMENT_HEADER_LEN {
            return Err(Error::corruption(
                path,
                12,
                "unexpected segment header length",
            ));
        }
        let mut journal_id = [0u8; 16];
        journal_id.copy_from_slice(&bytes[16..32]);
        Ok(SegmentHeader {
            format_version,
            journal_id,
            base_sequence: u64_at(bytes, 32),
        })
    }
}

/// Encodes an entry's body with placeholder sequence, append time and
/// commit hint; the writer fills those with [`patch_body`]. Returns an
/// error when a field is longer than a `u32` can say.
pub fn encode_body(entry: &JournalEntry, out: &mut Vec<u8>) -> Result<()> {
    let fields: [&[u8]; 6] = [
        entry.event_type.as_bytes(),
        entry.source.as_bytes(),
        entry.service_name.as_bytes(),
        entry.region.as_bytes(),
        entry.tier_id.as_bytes(),
        entry.context.as_str().as_bytes(),
    ];
    let variable: usize = fields.iter().map(|f| f.len()).sum();
    if variable > BODY_LEN_MAX - BODY_FIXED_LEN {
        return Err(Error::RecordTooLarge {
            size: (BODY_FIXED_LEN + variable) as u64,
            max: BODY_LEN_MAX as u64,
        });
    }
    out.reserve(BODY_FIXED_LEN + variable);
    out.extend_from_slice(&entry.sequence.to_le_bytes());
    out.extend_from_slice(&entry.timestamp.as_unix_nanos().to_le_bytes());
    let appended = entry.appended_at.map_or(0, Timestamp::as_unix_nanos);
    out.extend_from_slice(&appended.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    for field in &fields {
        let len = u32::try_from(field.len()).expect("fields sum to at most BODY_LEN_MAX");
        out.extend_from_slice(&len.to_le_bytes());
    }
    for field in &fields {
        out.extend_from_slice(field);
    }
    Ok(())
}

/// The append time an encoded body carries (the one `append_at` keeps).
#[must_use]
pub fn body_appended_at(body: &[u8]) -> Timestamp {
    Timestamp::from_unix_nanos(u64_at(body, 16) as i64)
}

/// Fills the writer-assigned fields of an encoded body.
pub fn patch_body(body: &mut [u8], sequence: u64, appended_at: Timestamp, commit_hint: u64) {
    body[0..8].copy_from_slice(&sequence.to_le_bytes());
    body[16..24].copy_from_slice(&appended_at.as_unix_nanos().to_le_bytes());
    body[24..32].copy_from_slice(&commit_hint.to_le_bytes());
}

/// Appends a frame (length, CRC, body) around `body` to `out`.
pub fn push_frame(out: &mut Vec<u8>, body: &[u8]) {
    assert!(
        !body.is_empty() && body.len() <= BODY_LEN_MAX,
        "frame body length out of range"
    );
    let len = u32::try_from(body.len())
        .expect("BODY_LEN_MAX fits in 31 bits")
        .to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(body);
    out.extend_from_slice(&len);
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(body);
}

/// Why a frame could not be read at some offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A zero length word: the end of the written data (or zeroed damage).
    End,
    /// Fewer bytes remain than the frame header or its body needs.
    Truncated,
    /// The length word exceeds the limit.
    BadLength(u32),
    /// The CRC does not match.
    BadCrc {
        /// Stored CRC.
        expected: u32,
        /// Computed CRC.
        actual: u32,
    },
    /// The CRC matched but the body is not a well-formed record.
    BadBody(&'static str),
}

impl FrameError {
    /// A human description for error messages.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            FrameError::End => "zero length word".into(),
            FrameError::Truncated => "frame runs past the end of the data".into(),
            FrameError::BadLength(len) => format!("impossible frame length {len:#x}"),
            FrameError::BadCrc { expected, actual } => {
                format!("CRC mismatch: stored {expected:#010x}, computed {actual:#010x}")
            }
            FrameError::BadBody(why) => format!("malformed record body: {why}"),
        }
    }

    /// Turns the problem into an [`Error`] located at `path` and `offset`.
    #[must_use]
    pub fn into_error(self, path: &std::path::Path, offset: u64) -> Error {
        match self {
            FrameError::BadCrc { expected, actual } => Error::ChecksumMismatch {
                path: path.into(),
                offset,
                expected,
                actual,
            },
            other => Error::corruption(path, offset, other.describe()),
        }
    }
}

/// A frame found at some offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A record.
    Record(EntryRef<'a>),
    /// The sealing footer.
    Footer(Footer),
    /// A retention mark: whole segments before it were dropped.
    Mark(RetentionMark),
}

/// Reads the frame starting at `bytes[0]`, checking the length and CRC.
/// Returns the frame and its total length (header plus body).
pub fn read_frame(bytes: &[u8], body_len_max: usize) -> Result<(Frame<'_>, usize), FrameError> {
    let checked = check_frame(bytes, body_len_max)?;
    let body = &bytes[FRAME_HEADER_LEN..checked.total_len];
    let frame = if checked.is_mark {
        Frame::Mark(RetentionMark::decode_body(body))
    } else if checked.is_footer {
        Frame::Footer(Footer::decode_body(body))
    } else {
        Frame::Record(decode_body(body)?)
    };
    Ok((frame, checked.total_len))
}

/// Decodes a record body whose CRC has been checked.
pub fn decode_body(body: &[u8]) -> Result<EntryRef<'_>, FrameError> {
    if body.len() < BODY_FIXED_LEN {
        return Err(FrameError::BadBody("shorter than the fixed fields"));
    }
    let mut lens = [0usize; 6];
    for (i, len) in lens.iter_mut().enumerate() {
        *len = u32_at(body, 32 + 4 * i) as usize;
    }
    let total: usize = lens.iter().sum();
    if total != body.len() - BODY_FIXED_LEN {
        return Err(FrameError::BadBody(
            "field lengths do not add up to the body length",
        ));
    }
    let mut at = BODY_FIXED_LEN;
    let mut fields = [""; 6];
    for (field, len) in fields.iter_mut().zip(lens) {
        *field = std::str::from_utf8(&body[at..at + len])
            .map_err(|_| FrameError::BadBody("a text field is not UTF-8"))?;
        at += len;
    }
    Ok(EntryRef {
        sequence: u64_at(body, 0),
        timestamp: Timestamp::from_unix_nanos(u64_at(body, 8) as i64),
        appended_at: Timestamp::from_unix_nanos(u64_at(body, 16) as i64),
        commit_hint: u64_at(body, 24),
        event_type: fields[0],
        source: fields[1],
        service_name: fields[2],
        region: fields[3],
        tier_id: fields[4],
        context: fields[5],
    })
}

/// The sealing footer of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    /// Records in the segment.
    pub record_count: u64,
    /// First sequence in the segment (0 when empty).
    pub first_sequence: u64,
    /// Last sequence in the segment (0 when empty).
    pub last_sequence: u64,
    /// Byte offset where the footer frame starts (the end of the records).
    pub data_end: u64,
    /// SHA-256 over the previous digest, the header and the record bytes.
    pub digest: [u8; 32],
    /// The previous segment's digest (zeros for the first segment).
    pub previous_digest: [u8; 32],
}

impl Footer {
    /// Encodes the whole footer frame.
    #[must_use]
    pub fn encode_frame(&self) -> [u8; FOOTER_FRAME_LEN] {
        let mut body = [0u8; FOOTER_BODY_LEN];
        body[0..8].copy_from_slice(&self.record_count.to_le_bytes());
        body[8..16].copy_from_slice(&self.first_sequence.to_le_bytes());
        body[16..24].copy_from_slice(&self.last_sequence.to_le_bytes());
        body[24..32].copy_from_slice(&self.data_end.to_le_bytes());
        body[32..64].copy_from_slice(&self.digest);
        body[64..96].copy_from_slice(&self.previous_digest);
        let word = FOOTER_WORD.to_le_bytes();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&word);
        hasher.update(&body);
        let mut out = [0u8; FOOTER_FRAME_LEN];
        out[0..4].copy_from_slice(&word);
        out[4..8].copy_from_slice(&hasher.finalize().to_le_bytes());
        out[8..].copy_from_slice(&body);
        out
    }

    fn decode_body(body: &[u8]) -> Footer {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&body[32..64]);
        let mut previous_digest = [0u8; 32];
        previous_digest.copy_from_slice(&body[64..96]);
        Footer {
            record_count: u64_at(body, 0),
            first_sequence: u64_at(body, 8),
            last_sequence: u64_at(body, 16),
            data_end: u64_at(body, 24),
            digest,
            previous_digest,
        }
    }
}

/// A retention mark: the record a drop of whole sealed segments appends to
/// the active segment before it unlinks them (docs/FORMAT.md, "Retention
/// mark"). It is part of the segment's bytes, so the digest chain covers
/// it; it is not an entry and has no sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionMark {
    /// The new low-water mark: the base sequence of the first retained
    /// segment. Every sequence below it was dropped.
    pub first_retained: u64,
    /// The last sequence the dropped segments held (0 when they held none).
    pub last_dropped_sequence: u64,
    /// Segments this drop removed.
    pub dropped_segments: u64,
    /// Segments dropped since the journal was created, this drop included.
    pub dropped_total: u64,
    /// Bytes of `.log` files this drop removed.
    pub dropped_bytes: u64,
    /// When the drop happened, UTC nanoseconds since the epoch.
    pub dropped_at_ns: i64,
    /// The digest of the last dropped segment, which the first retained
    /// segment's footer names as its previous digest.
    pub last_dropped_digest: [u8; 32],
}

impl RetentionMark {
    /// Encodes the whole mark frame.
    #[must_use]
    pub fn encode_frame(&self) -> [u8; MARK_FRAME_LEN] {
        let mut body = [0u8; MARK_BODY_LEN];
        body[0..8].copy_from_slice(&self.first_retained.to_le_bytes());
        body[8..16].copy_from_slice(&self.last_dropped_sequence.to_le_bytes());
        body[16..24].copy_from_slice(&self.dropped_segments.to_le_bytes());
        body[24..32].copy_from_slice(&self.dropped_total.to_le_bytes());
        body[32..40].copy_from_slice(&self.dropped_bytes.to_le_bytes());
        body[40..48].copy_from_slice(&self.dropped_at_ns.to_le_bytes());
        body[48..80].copy_from_slice(&self.last_dropped_digest);
        let word = MARK_WORD.to_le_bytes();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&word);
        hasher.update(&body);
        let mut out = [0u8; MARK_FRAME_LEN];
        out[0..4].copy_from_slice(&word);
        out[4..8].copy_from_slice(&hasher.finalize().to_le_bytes());
        out[8..].copy_from_slice(&body);
        out
    }

    /// The body's 80 bytes (as the index file keeps them).
    #[must_use]
    pub fn encode_body(&self) -> [u8; MARK_BODY_LEN] {
        let frame = self.encode_frame();
        let mut body = [0u8; MARK_BODY_LEN];
        body.copy_from_slice(&frame[FRAME_HEADER_LEN..]);
        body
    }

    /// Decodes a mark body (80 bytes, checked by the caller).
    #[must_use]
    pub fn decode_body(body: &[u8]) -> RetentionMark {
        let mut last_dropped_digest = [0u8; 32];
        last_dropped_digest.copy_from_slice(&body[48..80]);
        RetentionMark {
            first_retained: u64_at(body, 0),
            last_dropped_sequence: u64_at(body, 8),
            dropped_segments: u64_at(body, 16),
            dropped_total: u64_at(body, 24),
            dropped_bytes: u64_at(body, 32),
            dropped_at_ns: u64_at(body, 40).cast_signed(),
            last_dropped_digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Context;

    fn sample() -> JournalEntry {
        JournalEntry::new(
            "dlq_store",
            "consumer",
            Timestamp::from_unix_nanos(1_700_000_000_123),
            "svc",
        )
        .with_context(Context::from_json(r#"{"b":1,"a":[2]}"#).unwrap())
        .with_region("eu")
        .with_tier_id("t1")
    }

    #[test]
    fn record_round_trips_through_a_frame() {
        let mut body = Vec::new();
        encode_body(&sample(), &mut body).unwrap();
        patch_body(&mut body, 42, Timestamp::from_unix_nanos(7), 64);
        let mut frame = Vec::new();
        push_frame(&mut frame, &body);
        let (decoded, len) = read_frame(&frame, BODY_LEN_MAX).unwrap();
        assert_eq!(len, frame.len());
        let Frame::Record(record) = decoded else {
            panic!("expected a record")
        };
        let mut expected = sample();
        expected.sequence = 42;
        expected.appended_at = Some(Timestamp::from_unix_nanos(7));
        assert_eq!(record.to_entry(), expected);
        assert_eq!(record.commit_hint, 64);
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let mut body = Vec::new();
        encode_body(&sample(), &mut body).unwrap();
        let mut frame = Vec::new();
        push_frame(&mut frame, &body);
        for bit in 0..frame.len() * 8 {
            let mut damaged = frame.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(
                read_frame(&damaged, BODY_LEN_MAX).is_err(),
                "bit {bit} flip not caught"
            );
        }
    }

    #[test]
    fn footer_round_trips() {
        let footer = Footer {
            record_count: 3,
            first_sequence: 1,
            last_sequence: 9,
            data_end: 4096,
            digest: [7; 32],
            previous_digest: [9; 32],
        };
        let frame = footer.encode_frame();
        assert_eq!(
            read_frame(&frame, BODY_LEN_MAX).unwrap(),
            (Frame::Footer(footer), FOOTER_FRAME_LEN)
        );
    }

    #[test]
    fn retention_mark_round_trips_and_is_told_from_a_footer() {
        let mark = RetentionMark {
            first_retained: 5001,
            last_dropped_sequence: 4990,
            dropped_segments: 3,
            dropped_total: 7,
            dropped_bytes: 3 << 20,
            dropped_at_ns: -5,
            last_dropped_digest: [9; 32],
        };
        let frame = mark.encode_frame();
        assert_eq!(
            read_frame(&frame, BODY_LEN_MAX).unwrap(),
            (Frame::Mark(mark), MARK_FRAME_LEN)
        );
        let checked = check_frame(&frame, BODY_LEN_MAX).unwrap();
        assert!(checked.is_mark && !checked.is_footer);
        let mut bad = frame;
        bad[20] ^= 1;
        assert!(matches!(
            check_frame(&bad, BODY_LEN_MAX),
            Err(FrameError::BadCrc { .. })
        ));
        // A flagged length that is neither a footer's nor a mark's.
        let mut odd = frame;
        odd[0] = 81;
        assert_eq!(
            check_frame(&odd, BODY_LEN_MAX),
            Err(FrameError::BadLength(FOOTER_FLAG | 81))
        );
    }
}

/// What [`check_frame`] found: the frame's kind, total length and (for a
/// record) its sequence, after the length and CRC checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckedFrame {
    /// True for the sealing footer.
    pub is_footer: bool,
    /// True for a retention mark (then `is_footer` is false).
    pub is_mark: bool,
    /// Header plus body length.
    pub total_len: usize,
    /// The record's sequence (0 for a footer).
    pub sequence: u64,
}

/// Checks the frame at `bytes[0]` (length and CRC) without decoding the
/// body's text fields; [`decode_body`] does that for frames that are used.
pub fn check_frame(bytes: &[u8], body_len_max: usize) -> Result<CheckedFrame, FrameError> {
    if bytes.len() < FRAME_HEADER_LEN {
        return Err(if bytes.iter().all(|&b| b == 0) {
            FrameError::End
        } else {
            FrameError::Truncated
        });
    }
    let word = u32_at(bytes, 0);
    if word == 0 {
        return Err(FrameError::End);
    }
    let flagged = word & FOOTER_FLAG != 0;
    let body_len = (word & !FOOTER_FLAG) as usize;
    let is_mark = flagged && body_len == MARK_BODY_LEN;
    let is_footer = flagged && !is_mark;
    let length_ok = if is_footer {
        body_len == FOOTER_BODY_LEN
    } else if is_mark {
        true
    } else {
        (BODY_FIXED_LEN..=body_len_max).contains(&body_len)
    };
    if !length_ok {
        return Err(FrameError::BadLength(word));
    }
    let total_len = FRAME_HEADER_LEN + body_len;
    if bytes.len() < total_len {
        return Err(FrameError::Truncated);
    }
    let expected = u32_at(bytes, 4);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[0..4]);
    hasher.update(&bytes[FRAME_HEADER_LEN..total_len]);
    let actual = hasher.finalize();
    // Test-only break: accept any CRC (docs/RELIABILITY.md).
    if expected != actual && !cfg!(feature = "break-skip-crc") {
        return Err(FrameError::BadCrc { expected, actual });
    }
    let sequence = if flagged {
        0
    } else {
        u64_at(bytes, FRAME_HEADER_LEN)
    };
    Ok(CheckedFrame {
        is_footer,
        is_mark,
        total_len,
        sequence,
    })
}

/// The length of the encoded body at the start of `bodies` (a run of
/// bodies made by [`encode_body`]), read from its field lengths.
#[must_use]
pub fn body_len(bodies: &[u8]) -> usize {
    BODY_FIXED_LEN
        + (0..6)
            .map(|i| u32_at(bodies, 32 + 4 * i) as usize)
            .sum::<usize>()
}

/// The fields of a record that index summaries keep (docs/FORMAT.md,
/// "Index"): the sequence, both times, and the three fields queries test
/// for equality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryKeys<'a> {
    /// The record's sequence.
    pub sequence: u64,
    /// Event time, UTC nanoseconds.
    pub timestamp_ns: i64,
    /// Append time, UTC nanoseconds.
    pub appended_ns: i64,
    /// Event name.
    pub event_type: &'a str,
    /// Service concerned.
    pub service_name: &'a str,
    /// Region label.
    pub region: &'a str,
}

impl<'a> From<&EntryRef<'a>> for SummaryKeys<'a> {
    fn from(record: &EntryRef<'a>) -> Self {
        SummaryKeys {
            sequence: record.sequence,
            timestamp_ns: record.timestamp.as_unix_nanos(),
            appended_ns: record.appended_at.as_unix_nanos(),
            event_type: record.event_type,
            service_name: record.service_name,
            region: record.region,
        }
    }
}

/// The summary keys of an encoded body (made by [`encode_body`] from valid
/// strings, then patched).
#[must_use]
pub fn body_keys(body: &[u8]) -> SummaryKeys<'_> {
    let type_len = u32_at(body, 32) as usize;
    let source_len = u32_at(body, 36) as usize;
    let service_len = u32_at(body, 40) as usize;
    let region_len = u32_at(body, 44) as usize;
    // The bytes came from `String`s a moment ago; a failure is our bug.
    let text = |from: usize, len: usize| {
        std::str::from_utf8(&body[from..from + len]).expect("encoded field is UTF-8")
    };
    let service_at = BODY_FIXED_LEN + type_len + source_len;
    SummaryKeys {
        sequence: u64_at(body, 0),
        timestamp_ns: u64_at(body, 8) as i64,
        appended_ns: u64_at(body, 16) as i64,
        event_type: text(BODY_FIXED_LEN, type_len),
        service_name: text(service_at, service_len),
        region: text(service_at + service_len, region_len),
    }
}
