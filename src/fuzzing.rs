//! Property checks shared by the fuzz targets in `fuzz/` and by the
//! ordinary tests that replay their corpora (`tests/engine/fuzz_corpora.rs`).
//!
//! Each `check_*` function takes arbitrary bytes and returns `Err` with a
//! description when the library breaks a property; it never panics of its
//! own. A panic inside the library is caught and returned as an `Err` too
//! (under libFuzzer a panic aborts first and is reported as a crash, which
//! is what a fuzz target wants). The properties, per target:
//!
//! - [`check_decode_record`]: a decoded record or footer re-encodes to the
//!   very bytes it came from, and [`codec::check_frame`] agrees with
//!   [`codec::read_frame`].
//! - [`check_decode_index`]: a decoded index re-encodes to the same bytes.
//! - [`check_open_directory`]: a journal directory whose files are built
//!   from the bytes (by default a small valid journal, then damaged as the
//!   bytes say) opens or fails cleanly, read-only and as a writer; what it
//!   serves has strictly increasing sequences, every record is a frame
//!   found verbatim (CRC and all) in a segment file, both opens serve the
//!   same entries, a writer's recovery leaves a journal that reopens with
//!   nothing left to repair, and `verify` never panics.
//! - [`check_import_line`]: an accepted JSON line survives serialising
//!   and parsing again, and the record codec.
//! - [`check_filter_json`]: an accepted filter survives serialising and
//!   parsing again; against a small [`MemoryJournal`], `query`, `count` and
//!   [`filter::matches`] agree.
//! - [`check_journal_ops`]: a sequence of operations applied to a
//!   [`DiskJournal`] and to a [`MemoryJournal`] (the model) gets the same
//!   answers.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::codec::{
    self, BODY_LEN_MAX, EntryRef, FOOTER_BODY_LEN, FOOTER_FLAG, FOOTER_FRAME_LEN, FRAME_HEADER_LEN,
    Footer, Frame, FrameError, MARK_FRAME_LEN, SEGMENT_HEADER_LEN, SegmentHeader,
};
use crate::disk::{Head, Meta, SealedIndex, SparseIndex, Summary};
use crate::entry::{Context, JournalEntry, JournalQueryFilter, JournalQueryResult, Timestamp};
use crate::error::Error;
use crate::filter::{self, DEFAULT_MAX_QUERY_LIMIT};
use crate::{DiskJournal, Durability, EventJournal, MemoryJournal, RecoveryMode};

/// What a check returns: `Err` describes the property the library broke.
pub type CheckResult = Result<(), String>;

/// Runs `check`, turning a panic into an `Err` naming the target.
fn guarded(target: &str, check: impl FnOnce() -> CheckResult) -> CheckResult {
    match catch_unwind(AssertUnwindSafe(check)) {
        Ok(result) => result.map_err(|problem| format!("{target}: {problem}")),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            Err(format!("{target}: the library panicked: {message}"))
        }
    }
}

/// The offset of the first byte where `a` and `b` differ.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// Reads fuzz bytes as a stream of small numbers; past the end, zeros.
struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Input { data, at: 0 }
    }

    fn is_empty(&self) -> bool {
        self.at >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        for b in &mut bytes {
            *b = self.u8();
        }
        u64::from_le_bytes(bytes)
    }

    /// Up to `n` bytes (fewer at the end of the input).
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.at.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.at = end.max(self.at);
        &self.data[start..end]
    }
}

/// Set this environment variable to keep the temporary directories the
/// checks make (for triage of a failing input); they are removed otherwise.
pub const KEEP_DIRS_VAR: &str = "BALDUR_FUZZ_KEEP_DIRS";

/// A directory under [`std::env::temp_dir`] removed on drop (also when a
/// check fails or the library panics), unless [`KEEP_DIRS_VAR`] is set.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<TempDir, String> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut last_error = String::new();
        for _ in 0..16 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "baldur-fuzz-{tag}-{}-{n}-{nanos}",
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir(path)),
                Err(e) => last_error = format!("cannot create {}: {e}", path.display()),
            }
        }
        Err(format!("harness: {last_error}"))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // For triage: keep the directories (and say where they are).
        if std::env::var_os(KEEP_DIRS_VAR).is_some() {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The frame a record would be written as: its body with the writer's
/// fields filled, inside a frame header.
fn record_frame(
    entry: &JournalEntry,
    sequence: u64,
    appended_at: Timestamp,
    commit_hint: u64,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    codec::encode_body(entry, &mut body).map_err(|e| format!("encode_body failed: {e}"))?;
    codec::patch_body(&mut body, sequence, appended_at, commit_hint);
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    codec::push_frame(&mut frame, &body);
    Ok(frame)
}

/// The frame an [`EntryRef`] was read from, rebuilt.
fn reencode(record: &EntryRef<'_>) -> Result<Vec<u8>, String> {
    record_frame(
        &record.to_entry(),
        record.sequence,
        record.appended_at,
        record.commit_hint,
    )
}

// ---------------------------------------------------------------------------
// decode_record

/// Decodes `data` as one frame with [`codec::read_frame`]. A record must
/// re-encode (`to_entry`, `encode_body`, `patch_body`, `push_frame`) to
/// exactly the bytes it was read from, a footer likewise through
/// [`Footer::encode_frame`], and [`codec::check_frame`] must agree with
/// [`codec::read_frame`] on the outcome, the length and the sequence.
///
/// The same properties are then checked on a copy of `data` whose CRC is
/// made right, so the fuzzer reaches the body decoder behind the CRC.
pub fn check_decode_record(data: &[u8]) -> CheckResult {
    guarded("decode_record", || {
        record_properties(data)?;
        match frame_with_good_crc(data) {
            Some(fixed) => {
                record_properties(&fixed).map_err(|e| format!("with the CRC made right: {e}"))
            }
            None => Ok(()),
        }
    })
}

/// `data` with the frame CRC (bytes 4..8) recomputed over the length word
/// and the body the length word claims (or what there is of it).
fn frame_with_good_crc(data: &[u8]) -> Option<Vec<u8>> {
    let word: [u8; 4] = data.get(0..4)?.try_into().ok()?;
    if data.len() < FRAME_HEADER_LEN {
        return None;
    }
    let body_len = (u32::from_le_bytes(word) & !FOOTER_FLAG) as usize;
    let end = FRAME_HEADER_LEN.saturating_add(body_len).min(data.len());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&word);
    hasher.update(&data[FRAME_HEADER_LEN..end]);
    let mut fixed = data.to_vec();
    fixed[4..8].copy_from_slice(&hasher.finalize().to_le_bytes());
    (fixed != data).then_some(fixed)
}

fn record_properties(data: &[u8]) -> CheckResult {
    let read = codec::read_frame(data, BODY_LEN_MAX);
    let checked = codec::check_frame(data, BODY_LEN_MAX);
    match read {
        Ok((Frame::Record(record), len)) => {
            let c = checked.map_err(|e| {
                format!(
                    "read_frame decoded a record, check_frame refused it: {}",
                    e.describe()
                )
            })?;
            if c.is_footer || c.total_len != len || c.sequence != record.sequence {
                return Err(format!(
                    "check_frame says {c:?}, read_frame a record of {len} bytes with sequence {}",
                    record.sequence
                ));
            }
            let frame = reencode(&record)?;
            if frame != data[..len] {
                return Err(format!(
                    "a record of {len} bytes re-encodes to {} bytes, first difference at byte {}",
                    frame.len(),
                    first_difference(&frame, &data[..len])
                ));
            }
            let body = &data[FRAME_HEADER_LEN..len];
            if codec::decode_body(body) != Ok(record) {
                return Err("decode_body disagrees with read_frame".into());
            }
            if codec::body_len(body) != body.len() {
                return Err("body_len disagrees with the frame length".into());
            }
            if codec::body_keys(body) != codec::SummaryKeys::from(&record) {
                return Err("body_keys disagrees with the decoded record".into());
            }
        }
        Ok((Frame::Footer(footer), len)) => {
            let c = checked.map_err(|e| {
                format!(
                    "read_frame decoded a footer, check_frame refused it: {}",
                    e.describe()
                )
            })?;
            if !c.is_footer || c.total_len != len || len != FOOTER_FRAME_LEN || c.sequence != 0 {
                return Err(format!("check_frame says {c:?} of a {len}-byte footer"));
            }
            let frame = footer.encode_frame();
            if frame[..] != data[..len] {
                return Err(format!(
                    "a footer re-encodes differently from byte {}",
                    first_difference(&frame, &data[..len])
                ));
            }
        }
        Ok((Frame::Mark(mark), len)) => {
            let c = checked.map_err(|e| {
                format!(
                    "read_frame decoded a retention mark, check_frame refused it: {}",
                    e.describe()
                )
            })?;
            if !c.is_mark || c.is_footer || c.total_len != len || len != MARK_FRAME_LEN {
                return Err(format!("check_frame says {c:?} of a {len}-byte mark"));
            }
            let frame = mark.encode_frame();
            if frame[..] != data[..len] {
                return Err(format!(
                    "a retention mark re-encodes differently from byte {}",
                    first_difference(&frame, &data[..len])
                ));
            }
        }
        Err(FrameError::BadBody(why)) => match checked {
            Ok(c) if !c.is_footer && !c.is_mark => {}
            other => {
                return Err(format!(
                    "read_frame found a bad body ({why}), check_frame says {other:?}"
                ));
            }
        },
        Err(problem) => {
            if checked != Err(problem) {
                return Err(format!(
                    "read_frame says {problem:?}, check_frame says {checked:?}"
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// decode_index

/// The `.idx` field at byte `offset` (docs/FORMAT.md), for messages.
fn index_field(offset: usize, len: usize) -> &'static str {
    match offset {
        0..8 => "magic",
        8..12 => "format version",
        12..16 => "flags",
        16..32 => "journal id",
        32..40 => "base sequence",
        40..48 => "data end",
        48..56 => "record count",
        56..64 => "first sequence",
        64..72 => "last sequence",
        72..80 => "earliest timestamp",
        80..88 => "latest timestamp",
        88..120 => "segment digest",
        120..152 => "previous digest",
        152..156 => "entry count",
        156..160 => "event type count",
        _ if offset + 4 >= len => "trailing CRC",
        _ => "entries or event type table",
    }
}

/// Decodes `data` as an index file with [`SealedIndex::decode`]; an index
/// that decodes must re-encode ([`SealedIndex::encode`]) to exactly
/// `data`, and decode again to the same value. The same holds for a copy
/// of `data` whose trailing CRC is made right, so the fuzzer reaches the
/// checks behind the CRC.
pub fn check_decode_index(data: &[u8]) -> CheckResult {
    guarded("decode_index", || {
        index_properties(data)?;
        if data.len() >= 4 {
            let mut fixed = data.to_vec();
            fix_checksum(INDEX_FILE, &mut fixed);
            if fixed != data {
                index_properties(&fixed).map_err(|e| format!("with the CRC made right: {e}"))?;
            }
        }
        Ok(())
    })
}

fn index_properties(data: &[u8]) -> CheckResult {
    let path = Path::new("fuzz.idx");
    let Ok(index) = SealedIndex::decode(data, path) else {
        return Ok(());
    };
    let bytes = index.encode();
    if bytes != data {
        let at = first_difference(&bytes, data);
        return Err(format!(
            "an index of {} bytes decodes, but re-encodes to {} bytes that differ from byte {at} ({})",
            data.len(),
            bytes.len(),
            index_field(at, data.len())
        ));
    }
    match SealedIndex::decode(&bytes, path) {
        Ok(again) if again == index => Ok(()),
        other => Err(format!(
            "the re-encoded index decodes differently: {other:?}"
        )),
    }
}

// ---------------------------------------------------------------------------
// import_line

/// Reads `data` as the UTF-8 text of one JSON line and parses it with
/// [`JournalEntry::from_json`]. An accepted entry must serialise
/// (`serde_json::to_string`) and parse back to an equal entry (its
/// context text byte-identical; `appended_at` is never serialised), its
/// context must be a valid JSON object on its own, and it must survive the
/// record codec.
pub fn check_import_line(data: &[u8]) -> CheckResult {
    guarded("import_line", || {
        let Ok(text) = std::str::from_utf8(data) else {
            return Ok(());
        };
        let Ok(entry) = JournalEntry::from_json(text) else {
            return Ok(());
        };
        match Context::from_json(entry.context.as_str()) {
            Ok(c) if c.as_str() == entry.context.as_str() => {}
            other => {
                return Err(format!(
                    "the accepted context {:?} does not validate on its own: {other:?}",
                    entry.context.as_str()
                ));
            }
        }
        let json = serde_json::to_string(&entry)
            .map_err(|e| format!("an accepted entry does not serialise: {e}"))?;
        let back = JournalEntry::from_json(&json)
            .map_err(|e| format!("the serialised entry {json} does not parse: {e}"))?;
        let mut expected = entry.clone();
        expected.appended_at = None;
        if back != expected {
            return Err(format!(
                "the entry changed through JSON: {expected:?} became {back:?}"
            ));
        }
        if back.context.as_str() != entry.context.as_str() {
            return Err("the context text changed through JSON".into());
        }
        let appended_at = entry.appended_at.unwrap_or(Timestamp::from_unix_nanos(1));
        let frame = record_frame(&entry, entry.sequence, appended_at, 64)?;
        match codec::read_frame(&frame, BODY_LEN_MAX) {
            Ok((Frame::Record(record), len)) if len == frame.len() => {
                let mut stored = entry.clone();
                stored.appended_at = Some(appended_at);
                if record.to_entry() != stored {
                    return Err(format!(
                        "the entry changed through the record codec: {stored:?} became {:?}",
                        record.to_entry()
                    ));
                }
            }
            other => return Err(format!("the entry's frame does not decode: {other:?}")),
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Palettes shared by the filter and operation targets.

const T0: i64 = 1_700_000_000_000_000_000;
const STEP: i64 = 1_000_000_007;
const EVENT_TYPES: [&str; 4] = ["dlq_store", "circuit_breaker_opened", "dlq_resolve", "é"];
const SERVICES: [&str; 3] = ["payments", "orders", ""];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", ""];
const CONTEXTS: [&str; 8] = [
    "{}",
    r#"{"attempt":1,"ok":true}"#,
    r#"{"attempt":"1","ok":"True"}"#,
    r#"{"attempt":2.0,"ok":null,"ratio":1e-05}"#,
    r#"{"nested":{"a":[1,2]},"attempt":18446744073709551617}"#,
    r#"{"attempt":-0.0,"city":"東京","note":"say \"hi\""}"#,
    r#"{"attempt":1,"attempt":2}"#,
    r#"{ "ok" : false , "list" : [ ] , "attempt" : 3 }"#,
];
const CONTEXT_KEYS: [&str; 7] = ["attempt", "ok", "city", "nested", "missing", "ratio", ""];
const CONTEXT_VALUES: [&str; 12] = [
    "1",
    "2",
    "True",
    "None",
    "1.0",
    "2.0",
    "-0.0",
    "東京",
    "18446744073709551617",
    "{'a': [1, 2]}",
    "",
    "1e-05",
];

/// Event times: a few close together, the extremes, and just around them.
fn time_at(i: u8) -> Timestamp {
    Timestamp::from_unix_nanos(match i % 8 {
        0 => T0,
        1 => T0 + 1,
        2 => T0 + STEP,
        3 => T0 + 2 * STEP,
        4 => T0 - 1,
        5 => i64::MIN,
        6 => i64::MAX,
        _ => 0,
    })
}

/// An entry from two bytes: type, service and region from `a`; time and
/// context from `b`.
fn palette_entry(a: u8, b: u8) -> JournalEntry {
    JournalEntry::new(
        EVENT_TYPES[usize::from(a % 4)],
        "fuzz",
        time_at(b),
        SERVICES[usize::from((a >> 2) % 3)],
    )
    .with_context(Context::from_trusted(CONTEXTS[usize::from(b >> 3) % 8]))
    .with_region(REGIONS[usize::from((a >> 4) % 3)])
    .with_tier_id(if a & 0x40 != 0 { "tier-1" } else { "" })
}

/// A filter from the input: a flag byte says which conditions are set.
fn palette_filter(input: &mut Input<'_>) -> JournalQueryFilter {
    let flags = input.u8();
    let mut f = JournalQueryFilter::default();
    if flags & 1 != 0 {
        let mask = input.u8();
        f.event_types = Some(
            (0..4)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| EVENT_TYPES[i].to_string())
                .chain((mask & 0x10 != 0).then(|| EVENT_TYPES[0].to_string()))
                .collect(),
        );
    }
    if flags & 2 != 0 {
        f.service_name = Some(SERVICES[usize::from(input.u8() % 3)].to_string());
    }
    if flags & 4 != 0 {
        f.region = Some(REGIONS[usize::from(input.u8() % 3)].to_string());
    }
    if flags & 8 != 0 {
        f.start_time = Some(time_at(input.u8()));
    }
    if flags & 16 != 0 {
        f.end_time = Some(time_at(input.u8()));
    }
    if flags & 32 != 0 {
        let n = input.u8() % 4;
        let mut filters = BTreeMap::new();
        for _ in 0..n {
            let pick = input.u8();
            filters.insert(
                CONTEXT_KEYS[usize::from(pick % 8) % CONTEXT_KEYS.len()].to_string(),
                CONTEXT_VALUES[usize::from(pick >> 3) % CONTEXT_VALUES.len()].to_string(),
            );
        }
        f.context_filters = Some(filters);
    }
    f.limit = match flags >> 6 {
        0 => f.limit,
        1 => usize::from(input.u8()),
        2 => 0,
        _ => usize::MAX,
    };
    f
}

/// The small journal filters are run against: every palette context,
/// type, service, region and time.
fn sample_journal() -> Result<MemoryJournal, String> {
    let journal = MemoryJournal::new();
    for i in 0u8..48 {
        let a = i.wrapping_mul(37) ^ (i >> 2);
        let b = i.wrapping_mul(11).rotate_left(3);
        journal
            .append(&palette_entry(a, b))
            .map_err(|e| format!("harness: the sample journal refused an entry: {e}"))?;
    }
    Ok(journal)
}

// ---------------------------------------------------------------------------
// filter_json

/// Parses `data` (UTF-8) with [`JournalQueryFilter::from_json`]. An
/// accepted filter must serialise and parse back equal; run against a
/// small [`MemoryJournal`], `query` must return exactly the first entries
/// [`filter::matches`] accepts (on owned entries and on records read from
/// frames alike), with exact `total_count` and `truncated`, and `count`
/// must equal the total of a query with the largest limit.
pub fn check_filter_json(data: &[u8]) -> CheckResult {
    guarded("filter_json", || {
        let Ok(text) = std::str::from_utf8(data) else {
            return Ok(());
        };
        let Ok(filter) = JournalQueryFilter::from_json(text) else {
            return Ok(());
        };
        let json = serde_json::to_string(&filter)
            .map_err(|e| format!("an accepted filter does not serialise: {e}"))?;
        let back = JournalQueryFilter::from_json(&json)
            .map_err(|e| format!("the serialised filter {json} does not parse: {e}"))?;
        if back != filter {
            return Err(format!(
                "the filter changed through JSON: {filter:?} became {back:?}"
            ));
        }
        run_filter(&filter)
    })
}

fn run_filter(filter: &JournalQueryFilter) -> CheckResult {
    let journal = sample_journal()?;
    let entries = journal
        .get_sequence_range(0, u64::MAX)
        .map_err(|e| format!("harness: {e}"))?;
    let mut matching = Vec::new();
    for entry in &entries {
        let owned = filter::matches(filter, entry);
        let frame = record_frame(entry, entry.sequence, Timestamp::from_unix_nanos(1), 64)?;
        let borrowed = match codec::read_frame(&frame, BODY_LEN_MAX) {
            Ok((Frame::Record(record), _)) => filter::matches(filter, &record),
            other => {
                return Err(format!(
                    "harness: a sample frame does not decode: {other:?}"
                ));
            }
        };
        if owned != borrowed {
            return Err(format!(
                "matches says {owned} for the entry and {borrowed} for its record: {entry:?}"
            ));
        }
        if owned {
            matching.push(entry.clone());
        }
    }
    let widest = JournalQueryFilter {
        limit: usize::MAX,
        ..filter.clone()
    };
    let limit = filter::effective_limit(filter, DEFAULT_MAX_QUERY_LIMIT);
    let answers = (
        journal.query(filter),
        journal.count(filter),
        journal.query(&widest),
    );
    match (limit, answers) {
        (Err(_), (Err(_), Err(_), Err(_))) => Ok(()),
        (Ok(limit), (Ok(result), Ok(count), Ok(all))) => {
            if filter::matches_nothing(filter) && !matching.is_empty() {
                return Err("matches_nothing, yet some entries match".into());
            }
            let total = matching.len() as u64;
            if count != all.total_count || count != total {
                return Err(format!(
                    "count {count}, total_count of the widest query {}, matching entries {total}",
                    all.total_count
                ));
            }
            let kept = limit.min(matching.len());
            let expected = JournalQueryResult {
                entries: matching[..kept].to_vec(),
                truncated: kept < matching.len(),
                total_count: total,
            };
            if result != expected {
                return Err(format!(
                    "query returned {} entries (total {}, truncated {}), expected {} (total {total}, truncated {})",
                    result.entries.len(),
                    result.total_count,
                    result.truncated,
                    expected.entries.len(),
                    expected.truncated
                ));
            }
            Ok(())
        }
        (limit, (query, count, all)) => Err(format!(
            "effective_limit {limit:?}, query ok {}, count {count:?}, widest query ok {}",
            query.is_ok(),
            all.is_ok()
        )),
    }
}

// ---------------------------------------------------------------------------
// open_directory

/// Segment size of the journals the checks build.
const SEGMENT_BYTES: u64 = 64 << 10;
/// The largest frame such a journal accepts: what fits a segment.
#[expect(clippy::cast_possible_truncation, reason = "SEGMENT_BYTES is 64 KiB")]
const RECORD_FRAME_MAX: usize = SEGMENT_BYTES as usize - SEGMENT_HEADER_LEN - FOOTER_FRAME_LEN;
/// The template journal's identity.
const TEMPLATE_ID: [u8; 16] = *b"baldur-fuzzing!!";
/// The files an `open_directory` input can write, by index.
const DIR_FILES: [&str; 8] = [
    "journal.meta",
    "head",
    "00000000000000000001.log",
    "00000000000000000001.idx",
    "00000000000000000050.log",
    "00000000000000000050.idx",
    "18446744073709551615.log",
    "18446744073709551615.idx",
];
const META: usize = 0;
const HEAD: usize = 1;
/// An index file's name (for [`fix_checksum`]).
const INDEX_FILE: usize = 3;
/// Each segment's base and the indexes of its `.log` and `.idx` names.
const SEGMENTS: [(u64, usize, usize); 3] = [(1, 2, 3), (50, 4, 5), (u64::MAX, 6, 7)];
/// Operations applied to the directory's files at most.
const DIR_OPS_MAX: usize = 32;
/// Largest file an operation may write.
const DIR_FILE_MAX: usize = 1 << 17;

/// The directory's files in memory, by index into [`DIR_FILES`].
type Files = BTreeMap<usize, Vec<u8>>;

/// The `.log` index and base of a file index, if it names a segment.
fn segment_of(file: usize) -> Option<(u64, usize, usize)> {
    SEGMENTS
        .iter()
        .copied()
        .find(|&(_, log, idx)| file == log || file == idx)
}

/// The digest in the footer ending `log`, if it ends with a valid one.
fn trailing_digest(log: &[u8]) -> Option<[u8; 32]> {
    let at = log.len().checked_sub(FOOTER_FRAME_LEN)?;
    match codec::read_frame(&log[at..], BODY_LEN_MAX) {
        Ok((Frame::Footer(footer), _)) => Some(footer.digest),
        _ => None,
    }
}

/// Seals a segment as the writer would: keeps the header and the run of
/// valid record frames after it, appends a footer with the right digest
/// and returns the new log bytes with their index file.
fn seal_segment(log: &[u8], base: u64, previous_digest: [u8; 32]) -> Option<(Vec<u8>, Vec<u8>)> {
    let header = log.get(..SEGMENT_HEADER_LEN)?;
    let mut journal_id = [0u8; 16];
    journal_id.copy_from_slice(&header[16..32]);
    let mut summary = Summary::empty();
    let mut index = SparseIndex::default();
    let mut position = SEGMENT_HEADER_LEN;
    while let Ok((Frame::Record(record), len)) = codec::read_frame(&log[position..], BODY_LEN_MAX) {
        summary.add(&record);
        index.note_record(&record, position as u64);
        position += len;
    }
    let mut hasher = Sha256::new();
    hasher.update(previous_digest);
    hasher.update(&log[..position]);
    let footer = Footer {
        record_count: summary.record_count,
        first_sequence: summary.first_sequence,
        last_sequence: summary.last_sequence,
        data_end: position as u64,
        digest: hasher.finalize().into(),
        previous_digest,
    };
    let mut sealed = log[..position].to_vec();
    sealed.extend_from_slice(&footer.encode_frame());
    let idx = SealedIndex {
        journal_id,
        base_sequence: base,
        summary,
        index,
        footer,
    }
    .encode();
    Some((sealed, idx))
}

/// Seals the segment `file` names, chaining to the nearest lower sealed
/// segment present.
fn seal_in_place(files: &mut Files, file: usize) {
    let Some((base, log, idx)) = segment_of(file) else {
        return;
    };
    let previous = SEGMENTS
        .iter()
        .filter(|(b, _, _)| *b < base)
        .filter_map(|(_, l, _)| files.get(l))
        .next_back()
        .and_then(|bytes| trailing_digest(bytes))
        .unwrap_or([0; 32]);
    if let Some((sealed, index)) = files
        .get(&log)
        .and_then(|b| seal_segment(b, base, previous))
    {
        files.insert(log, sealed);
        files.insert(idx, index);
    }
}

/// A template record: sequence `seq` with a deterministic append time.
fn template_frame(seq: u64, commit_hint: u64) -> Result<Vec<u8>, String> {
    // The low byte: the palette repeats every 256 sequences.
    let i = seq.to_le_bytes()[0];
    let entry = palette_entry(i.wrapping_mul(13), i.wrapping_mul(7) & 0x3b);
    record_frame(
        &entry,
        seq,
        Timestamp::from_unix_nanos(T0 + 1000 * seq as i64),
        commit_hint,
    )
}

/// A small valid journal: segment 1 sealed (sequences 1 to 3, with its
/// index), segment 50 active (50 and 51), `head` saying record 50 was
/// synced and 51 published.
fn template() -> Result<Files, String> {
    let header = |base| {
        SegmentHeader {
            format_version: codec::FORMAT_VERSION,
            journal_id: TEMPLATE_ID,
            base_sequence: base,
        }
        .encode()
        .to_vec()
    };
    let mut files = Files::new();
    let meta = Meta {
        format_version: codec::FORMAT_VERSION,
        journal_id: TEMPLATE_ID,
        segment_bytes: SEGMENT_BYTES,
        created_at: Timestamp::from_unix_nanos(T0),
    };
    files.insert(META, meta.encode().to_vec());
    let mut first = header(1);
    for seq in 1..=3 {
        let hint = first.len() as u64;
        first.extend(template_frame(seq, hint)?);
    }
    let (first, first_idx) =
        seal_segment(&first, 1, [0; 32]).ok_or("harness: cannot seal the template")?;
    let mut active = header(50);
    active.extend(template_frame(50, SEGMENT_HEADER_LEN as u64)?);
    let synced = active.len() as u64;
    active.extend(template_frame(51, synced)?);
    let head = Head {
        generation: 9,
        active_base: 50,
        published_end: active.len() as u64,
        synced_end: synced,
        latest: 51,
        mark: 0,
    };
    files.insert(HEAD, head.encode().to_vec());
    files.insert(2, first);
    files.insert(3, first_idx);
    files.insert(4, active);
    Ok(files)
}

/// Applies one file operation from the input. See `fuzz/README.md` for
/// the layout.
fn apply_file_op(files: &mut Files, input: &mut Input<'_>) {
    let op = input.u8();
    let file = usize::from(op & 7);
    match op >> 4 {
        // Replace the whole file.
        2 => {
            let n = usize::from(input.u16());
            files.insert(file, input.bytes(n).to_vec());
        }
        // Truncate.
        3 => {
            let len = usize::from(input.u16());
            if let Some(content) = files.get_mut(&file) {
                content.truncate(len % (content.len() + 1));
            }
        }
        // Delete.
        4 => {
            files.remove(&file);
        }
        // Flip bits of one byte.
        5 => {
            let at = usize::from(input.u16());
            let mask = input.u8();
            if let Some(content) = files.get_mut(&file)
                && !content.is_empty()
            {
                let at = at % content.len();
                content[at] ^= mask;
            }
        }
        // Write a frame with a correct CRC around the given body.
        6 => {
            let at = usize::from(input.u16());
            let word = input.u16();
            let footer = word & 0x8000 != 0;
            let mut body = input.bytes(usize::from(word & 0x7fff)).to_vec();
            if footer {
                body.resize(FOOTER_BODY_LEN, 0);
            }
            let body_len = u32::try_from(body.len()).expect("at most 0x7fff bytes");
            let len = body_len | if footer { FOOTER_FLAG } else { 0 };
            let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
            frame.extend_from_slice(&len.to_le_bytes());
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(&len.to_le_bytes());
            hasher.update(&body);
            frame.extend_from_slice(&hasher.finalize().to_le_bytes());
            frame.extend_from_slice(&body);
            write_at(files.entry(file).or_default(), at, &frame);
        }
        // Make the file's checksum right again.
        7 => {
            if let Some(content) = files.get_mut(&file) {
                fix_checksum(file, content);
            }
        }
        // Seal the segment (footer and index).
        8 => seal_in_place(files, file),
        // Copy another file over this one.
        9 => {
            let from = usize::from(input.u8() & 7);
            match files.get(&from).cloned() {
                Some(bytes) => {
                    files.insert(file, bytes);
                }
                None => {
                    files.remove(&file);
                }
            }
        }
        // A valid `head` (whatever `file` says).
        10 => {
            let head = Head {
                generation: u64::from(input.u8()),
                active_base: SEGMENTS[usize::from(input.u8() % 3)].0,
                published_end: u64::from(input.u16()),
                synced_end: u64::from(input.u16()),
                latest: input.u64(),
                mark: 0,
            };
            files.insert(HEAD, head.encode().to_vec());
        }
        // A valid `journal.meta` with some segment size and identity.
        11 => {
            let pick = input.u8();
            let segment_bytes = [
                SEGMENT_BYTES,
                SEGMENT_BYTES - 1,
                128 << 20,
                0,
                1,
                u64::MAX,
                1 << 40,
                4096,
            ][usize::from(pick % 8)];
            let mut journal_id = TEMPLATE_ID;
            if pick & 8 != 0 {
                journal_id[0] ^= 1;
            }
            let meta = Meta {
                format_version: u32::from(pick >> 4) % 3,
                journal_id,
                segment_bytes,
                created_at: Timestamp::from_unix_nanos(T0),
            };
            files.insert(META, meta.encode().to_vec());
        }
        // Overwrite bytes at an offset (0, 1 and 12 to 15).
        _ => {
            let at = usize::from(input.u16());
            let n = usize::from(input.u8());
            let bytes = input.bytes(n);
            write_at(files.entry(file).or_default(), at, bytes);
        }
    }
    if let Some(content) = files.get_mut(&file) {
        content.truncate(DIR_FILE_MAX);
    }
}

/// Writes `bytes` at `at` (clamped to the current length: no holes),
/// growing the file.
fn write_at(content: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let at = at.min(content.len());
    let end = at + bytes.len();
    if content.len() < end {
        content.resize(end, 0);
    }
    content[at..end].copy_from_slice(bytes);
}

/// Recomputes the CRC of a header-like file (bytes 60..64 over 0..60) or
/// of an index (the last 4 bytes over the rest).
fn fix_checksum(file: usize, content: &mut [u8]) {
    let is_index = DIR_FILES[file].ends_with(".idx");
    if is_index && content.len() >= 4 {
        let end = content.len() - 4;
        let crc = crc32fast::hash(&content[..end]);
        content[end..].copy_from_slice(&crc.to_le_bytes());
    } else if !is_index && content.len() >= 64 {
        let crc = crc32fast::hash(&content[..60]);
        content[60..64].copy_from_slice(&crc.to_le_bytes());
    }
}

/// What a handle served from `range_iter(0, u64::MAX)`.
struct Served {
    entries: Vec<JournalEntry>,
    /// True when the range ended without an error.
    complete: bool,
}

/// The segment files of `dir`, read now.
fn log_bytes(dir: &Path) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let items = std::fs::read_dir(dir).map_err(|e| format!("harness: read_dir: {e}"))?;
    for item in items.flatten() {
        let path = item.path();
        if path.extension().is_some_and(|x| x == "log") {
            out.push(std::fs::read(&path).map_err(|e| format!("harness: read: {e}"))?);
        }
    }
    Ok(out)
}

/// True when `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    haystack.len() >= needle.len()
        && (0..=haystack.len() - needle.len())
            .any(|i| haystack[i] == first && haystack[i..i + needle.len()] == *needle)
}

/// Reads everything `journal` serves and checks the served-data
/// properties: strictly increasing sequences up to the first error, every
/// record a verbatim frame of a segment file, and `range_ref` agreeing
/// with `range_iter`.
fn check_served(journal: &DiskJournal, dir: &Path, who: &str) -> Result<Served, String> {
    let mut served = Served {
        entries: Vec::new(),
        complete: true,
    };
    let iter = journal
        .range_iter(0, u64::MAX)
        .map_err(|e| format!("{who}: range_iter failed before reading: {e}"))?;
    for item in iter {
        match item {
            Ok(entry) => {
                if let Some(last) = served.entries.last()
                    && entry.sequence <= last.sequence
                {
                    return Err(format!(
                        "{who}: sequence {} served after {}: sequences do not strictly increase",
                        entry.sequence, last.sequence
                    ));
                }
                served.entries.push(entry);
            }
            Err(_) => {
                served.complete = false;
                break;
            }
        }
    }
    let logs = log_bytes(dir)?;
    let mut range = journal
        .range_ref(0, u64::MAX)
        .map_err(|e| format!("{who}: range_ref failed: {e}"))?;
    let mut k = 0;
    while let Some(item) = range.next_entry() {
        let Ok(record) = item else { break };
        let frame = reencode(&record)?;
        if !logs.iter().any(|log| contains(log, &frame)) {
            return Err(format!(
                "{who}: served sequence {} from a frame found in no segment file (CRC not checked?)",
                record.sequence
            ));
        }
        if served.entries.get(k) != Some(&record.to_entry()) {
            return Err(format!(
                "{who}: range_ref's record {k} (sequence {}) differs from range_iter's",
                record.sequence
            ));
        }
        k += 1;
    }
    if k != served.entries.len() {
        return Err(format!(
            "{who}: range_ref served {k} records, range_iter {}",
            served.entries.len()
        ));
    }
    Ok(served)
}

fn open_writer(dir: &Path, recovery: RecoveryMode) -> crate::error::Result<DiskJournal> {
    DiskJournal::builder(dir)
        .segment_bytes(SEGMENT_BYTES)
        .durability(Durability::Os)
        .recovery(recovery)
        .open()
}

/// Interprets `data` as a journal directory and opens it.
///
/// Layout: byte 0 is a mode (bit 0: start from an empty directory instead
/// of the template journal; bits 1-2: the writer's recovery mode; bit 3:
/// append an entry after the writer's open), then up to 32 file
/// operations, each an op byte (low 3 bits: which file of `journal.meta`,
/// `head`, and the `.log` and `.idx` of segments 1, 50 and `u64::MAX`;
/// high 4 bits: overwrite, replace, truncate, delete, flip bits, write a
/// frame with a good CRC, fix the checksum, seal the segment, copy, write
/// a valid `head`, write a valid `journal.meta`) and its arguments.
///
/// Properties: nothing panics (`verify`, the read-only open, the writer's
/// open); whatever a handle serves has strictly increasing sequences up to
/// the first error and every record is a verbatim frame (CRC included) of
/// a segment file; a salvage open's reads never fail, and on a journal
/// `verify` finds clean it serves the same entries with no hole; a clean
/// `verify` means the read-only open serves all
/// its records; when both opens serve everything they serve the same
/// entries; after a writer's open (and an optional append) and a clean
/// close, a second writer's open succeeds with nothing left to repair and
/// serves the same entries.
pub fn check_open_directory(data: &[u8]) -> CheckResult {
    guarded("open_directory", || {
        let mut input = Input::new(data);
        let mode = input.u8();
        let mut files = if mode & 1 == 0 {
            template()?
        } else {
            Files::new()
        };
        for _ in 0..DIR_OPS_MAX {
            if input.is_empty() {
                break;
            }
            apply_file_op(&mut files, &mut input);
        }
        let recovery = match (mode >> 1) & 3 {
            1 => RecoveryMode::Strict,
            2 => RecoveryMode::Salvage,
            _ => RecoveryMode::TolerateTornTail,
        };
        let dir = TempDir::new("open")?;
        for (&file, bytes) in &files {
            std::fs::write(dir.path().join(DIR_FILES[file]), bytes)
                .map_err(|e| format!("harness: write: {e}"))?;
        }
        open_directory(dir.path(), recovery, mode & 8 != 0)
    })
}

fn open_directory(dir: &Path, recovery: RecoveryMode, append: bool) -> CheckResult {
    let verified = crate::disk::verify(dir);
    let read = match DiskJournal::open_read_only(dir) {
        Ok(journal) => Some(check_served(&journal, dir, "read-only open")?),
        Err(_) => None,
    };
    if let Ok(report) = &verified
        && report.is_clean()
    {
        match &read {
            Some(served) if served.complete && served.entries.len() as u64 == report.records => {}
            Some(served) => {
                return Err(format!(
                    "verify is clean with {} records, the read-only open served {} (complete: {})",
                    report.records,
                    served.entries.len(),
                    served.complete
                ));
            }
            None => {
                return Err(format!(
                    "verify is clean, the read-only open fails: {}",
                    DiskJournal::open_read_only(dir)
                        .err()
                        .map_or_else(String::new, |e| e.to_string())
                ));
            }
        }
    }
    // Salvage serves verbatim frames in order, and on a journal `verify`
    // finds clean it serves what the read-only open serves, with no hole.
    if let Ok(salvaged) = DiskJournal::builder(dir)
        .read_only(true)
        .salvage(true)
        .open()
    {
        let served = check_served(&salvaged, dir, "salvage open")?;
        if !served.complete {
            return Err("a salvage open failed a read".into());
        }
        if let Ok(report) = &verified
            && report.is_clean()
        {
            if !salvaged.holes().is_empty() {
                return Err(format!(
                    "verify is clean, a salvage open found holes: {:?}",
                    salvaged.holes()
                ));
            }
            if read.as_ref().is_some_and(|r| r.entries != served.entries) {
                return Err("verify is clean, salvage served other entries than a read".into());
            }
        }
    }
    let Ok(writer) = open_writer(dir, recovery) else {
        return Ok(());
    };
    let written = check_served(&writer, dir, "writer's open")?;
    if let Some(read) = &read
        && read.complete
        && written.complete
        && read.entries != written.entries
    {
        return Err(format!(
            "the read-only open served {} entries, the writer's open {} different ones",
            read.entries.len(),
            written.entries.len()
        ));
    }
    let mut expected = written.entries;
    if append {
        let latest = writer
            .get_latest_sequence()
            .map_err(|e| format!("writer: latest: {e}"))?;
        let entry = palette_entry(0x21, 0x09);
        if let Ok(sequence) = writer.append(&entry) {
            if sequence <= latest {
                return Err(format!(
                    "append returned sequence {sequence}, not above the latest {latest}"
                ));
            }
            let mut stored = entry;
            stored.sequence = sequence;
            expected.push(stored);
        }
    }
    writer
        .close()
        .map_err(|e| format!("closing the writer failed: {e}"))?;
    drop(writer);
    let again = open_writer(dir, recovery)
        .map_err(|e| format!("reopening after a clean close failed: {e}"))?;
    let report = again.recovery_report();
    if report.torn_tail.is_some()
        || report.corruption.is_some()
        || report.salvaged_bytes > 0
        || !report.rebuilt_indexes.is_empty()
        || report.completed_roll
        || report.repaired_header
    {
        return Err(format!(
            "reopening after a clean close found more to repair: {report:?}"
        ));
    }
    let reread = check_served(&again, dir, "second writer's open")?;
    if written.complete {
        let got: Vec<JournalEntry> = reread.entries.into_iter().map(strip).collect();
        let want: Vec<JournalEntry> = expected.into_iter().map(strip).collect();
        if !reread.complete || got != want {
            return Err(format!(
                "the second writer's open served {} entries (complete: {}), expected {}",
                got.len(),
                reread.complete,
                want.len()
            ));
        }
    }
    again
        .close()
        .map_err(|e| format!("closing the second writer failed: {e}"))
}

fn strip(mut entry: JournalEntry) -> JournalEntry {
    entry.appended_at = None;
    entry
}

// ---------------------------------------------------------------------------
// journal_ops

/// Operations per input at most.
const OPS_MAX: usize = 64;
/// Reopens of the writer per input at most.
const REOPENS_MAX: u32 = 2;
/// Read-only opens per input at most.
const READERS_MAX: u32 = 2;

/// The two journals under test and what the model needs to remember.
struct Pair {
    /// Declared before `dir`, so it closes before the directory goes.
    disk: Option<DiskJournal>,
    dir: TempDir,
    memory: MemoryJournal,
    /// Append times given explicitly to `append_at`, which both keep.
    explicit: BTreeMap<u64, Timestamp>,
    reopens: u32,
    readers: u32,
}

/// The frame size of an entry, to know whether the disk journal takes it.
fn frame_len(entry: &JournalEntry) -> Result<usize, String> {
    let mut body = Vec::new();
    codec::encode_body(entry, &mut body).map_err(|e| format!("harness: {e}"))?;
    Ok(body.len() + FRAME_HEADER_LEN)
}

/// An entry from the input; some are large enough to roll segments and
/// some too large for one.
fn op_entry(input: &mut Input<'_>) -> JournalEntry {
    let a = input.u8();
    let b = input.u8();
    let entry = palette_entry(a, b);
    if a & 0x80 == 0 {
        return entry;
    }
    let size = usize::from(input.u8()) * 300;
    let mut text = String::with_capacity(size + 16);
    text.push_str(r#"{"pad":""#);
    text.extend(std::iter::repeat_n('x', size));
    text.push_str(r#"","attempt":1}"#);
    entry.with_context(Context::from_trusted(&text))
}

/// The disk journal's answer compared with the model's.
fn same_result<T: PartialEq + std::fmt::Debug>(
    what: &str,
    disk: &crate::error::Result<T>,
    memory: &crate::error::Result<T>,
) -> CheckResult {
    match (disk, memory) {
        (Ok(d), Ok(m)) if d == m => Ok(()),
        (Err(Error::NonMonotonic { .. }), Err(Error::NonMonotonic { .. }))
        | (Err(Error::SequenceOverflow { .. }), Err(Error::SequenceOverflow { .. }))
        | (Err(Error::InvalidFilter(_)), Err(Error::InvalidFilter(_)))
            if format!("{disk:?}") == format!("{memory:?}") =>
        {
            Ok(())
        }
        _ => Err(format!("{what}: disk {disk:?}, model {memory:?}")),
    }
}

impl Pair {
    fn disk(&self) -> Result<&DiskJournal, String> {
        self.disk
            .as_ref()
            .ok_or_else(|| "harness: no disk journal".to_string())
    }

    fn latest(&self) -> Result<u64, String> {
        self.memory
            .get_latest_sequence()
            .map_err(|e| format!("model: {e}"))
    }

    /// Entries compared without append times, except those given
    /// explicitly, which must be kept.
    fn same_entries(
        &self,
        what: &str,
        disk: &[JournalEntry],
        memory: &[JournalEntry],
    ) -> CheckResult {
        if disk.len() != memory.len() {
            return Err(format!(
                "{what}: disk has {} entries, model {}",
                disk.len(),
                memory.len()
            ));
        }
        for (d, m) in disk.iter().zip(memory) {
            if strip(d.clone()) != strip(m.clone()) {
                return Err(format!("{what}: disk {d:?}, model {m:?}"));
            }
            if d.appended_at.is_none() {
                return Err(format!(
                    "{what}: sequence {} without append time",
                    d.sequence
                ));
            }
            if let Some(&at) = self.explicit.get(&d.sequence)
                && d.appended_at != Some(at)
            {
                return Err(format!(
                    "{what}: sequence {} was appended at {at:?} explicitly, disk says {:?}",
                    d.sequence, d.appended_at
                ));
            }
        }
        Ok(())
    }

    fn everything(&self, what: &str) -> CheckResult {
        let disk = self
            .disk()?
            .range_iter_from(0)
            .and_then(|entries| entries.collect::<crate::error::Result<Vec<_>>>())
            .map_err(|e| format!("{what}: disk range: {e}"))?;
        let memory = self
            .memory
            .range_iter_from(0)
            .and_then(|entries| entries.collect::<crate::error::Result<Vec<_>>>())
            .map_err(|e| format!("{what}: model range: {e}"))?;
        self.same_entries(what, &disk, &memory)
    }

    fn append(&mut self, entry: &JournalEntry) -> CheckResult {
        let latest = self.latest()?;
        let got = self.disk()?.append(entry);
        if frame_len(entry)? > RECORD_FRAME_MAX {
            return match got {
                Err(Error::RecordTooLarge { .. }) => Ok(()),
                other => Err(format!("append of a too large record: {other:?}")),
            };
        }
        let want = self.memory.append(entry);
        same_result("append", &got, &want)?;
        match got {
            Ok(sequence) if sequence <= latest => Err(format!(
                "append returned {sequence}, not above the latest {latest}"
            )),
            _ => Ok(()),
        }
    }

    fn append_batch(&mut self, entries: &[JournalEntry]) -> CheckResult {
        let latest = self.latest()?;
        let got = self.disk()?.append_batch(entries);
        let mut too_large = false;
        for entry in entries {
            too_large |= frame_len(entry)? > RECORD_FRAME_MAX;
        }
        if too_large {
            return match got {
                Err(Error::RecordTooLarge { .. }) => Ok(()),
                other => Err(format!("a batch with a too large record: {other:?}")),
            };
        }
        let want = self.memory.append_batch(entries);
        same_result("append_batch", &got, &want)?;
        if let Ok(sequences) = got
            && sequences.first().is_some_and(|&s| s <= latest)
        {
            return Err(format!(
                "append_batch returned {sequences:?} after the latest {latest}"
            ));
        }
        Ok(())
    }

    fn append_at(&mut self, sequence: u64, entry: &JournalEntry) -> CheckResult {
        let got = self.disk()?.append_at(sequence, entry);
        if frame_len(entry)? > RECORD_FRAME_MAX {
            return match got {
                Err(Error::RecordTooLarge { .. }) => Ok(()),
                other => Err(format!("append_at of a too large record: {other:?}")),
            };
        }
        let want = self.memory.append_at(sequence, entry);
        same_result(&format!("append_at({sequence})"), &got, &want)?;
        if want.is_ok()
            && let Some(at) = entry.appended_at
        {
            self.explicit.insert(sequence, at);
        }
        Ok(())
    }

    fn query(&self, filter: &JournalQueryFilter) -> CheckResult {
        let got = self.disk()?.query(filter);
        let want = self.memory.query(filter);
        match (&got, &want) {
            (Ok(d), Ok(m)) => {
                if d.total_count != m.total_count || d.truncated != m.truncated {
                    return Err(format!(
                        "query {filter:?}: disk total {} truncated {}, model total {} truncated {}",
                        d.total_count, d.truncated, m.total_count, m.truncated
                    ));
                }
                self.same_entries(&format!("query {filter:?}"), &d.entries, &m.entries)
            }
            (Err(Error::InvalidFilter(_)), Err(Error::InvalidFilter(_))) => Ok(()),
            _ => Err(format!(
                "query {filter:?}: disk ok {}, model ok {}: {:?} / {:?}",
                got.is_ok(),
                want.is_ok(),
                got.as_ref().err(),
                want.as_ref().err()
            )),
        }
    }

    fn range(&self, start: u64, end: u64) -> CheckResult {
        let what = format!("range [{start}, {end})");
        let got = self.disk()?.get_sequence_range(start, end);
        let want = self.memory.get_sequence_range(start, end);
        match (got, want) {
            (Ok(d), Ok(m)) => self.same_entries(&what, &d, &m),
            (d, m) => Err(format!("{what}: disk {:?}, model {:?}", d.err(), m.err())),
        }
    }

    fn reopen(&mut self) -> CheckResult {
        let Some(disk) = self.disk.take() else {
            return Ok(());
        };
        let before = disk
            .get_sequence_range(0, u64::MAX)
            .map_err(|e| format!("before reopening: {e}"))?;
        disk.close().map_err(|e| format!("close: {e}"))?;
        drop(disk);
        let disk = open_writer(self.dir.path(), RecoveryMode::TolerateTornTail)
            .map_err(|e| format!("reopen: {e}"))?;
        let report = disk.recovery_report();
        if report.torn_tail.is_some() || report.corruption.is_some() {
            return Err(format!("a clean close left damage: {report:?}"));
        }
        let after = disk
            .get_sequence_range(0, u64::MAX)
            .map_err(|e| format!("after reopening: {e}"))?;
        self.disk = Some(disk);
        if after != before {
            return Err(format!(
                "reopening changed the entries: {} before, {} after",
                before.len(),
                after.len()
            ));
        }
        Ok(())
    }

    fn read_only(&self) -> CheckResult {
        let reader = DiskJournal::open_read_only(self.dir.path())
            .map_err(|e| format!("read-only open beside the writer: {e}"))?;
        let got = reader
            .get_sequence_range(0, u64::MAX)
            .map_err(|e| format!("read-only range: {e}"))?;
        let want = self
            .disk()?
            .get_sequence_range(0, u64::MAX)
            .map_err(|e| format!("writer range: {e}"))?;
        if got != want {
            return Err(format!(
                "the read-only handle serves {} entries, the writer {}",
                got.len(),
                want.len()
            ));
        }
        let latest = reader
            .get_latest_sequence()
            .map_err(|e| format!("read-only latest: {e}"))?;
        if latest != self.latest()? {
            return Err(format!(
                "the read-only handle's latest is {latest}, the model's {}",
                self.latest()?
            ));
        }
        Ok(())
    }

    /// A range bound from one byte (and maybe a u64).
    fn bound(&self, input: &mut Input<'_>) -> Result<u64, String> {
        let b = input.u8();
        let latest = self.latest()?;
        let delta = i128::from(b & 7) - 3;
        let shifted = |x: u64| {
            let clamped = (i128::from(x) + delta).clamp(0, i128::from(u64::MAX));
            u64::try_from(clamped).expect("clamped to u64's range")
        };
        Ok(match b >> 3 {
            0 => 0,
            1 => u64::MAX,
            2..=9 => shifted(latest),
            10 => input.u64(),
            k => shifted(u64::from(k) * 5),
        })
    }

    fn step(&mut self, input: &mut Input<'_>) -> CheckResult {
        let op = input.u8();
        match op % 13 {
            0..=2 => {
                let entry = op_entry(input);
                self.append(&entry)
            }
            3 => {
                let n = input.u8() % 9;
                let entries: Vec<JournalEntry> = (0..n).map(|_| op_entry(input)).collect();
                self.append_batch(&entries)
            }
            4 | 5 => {
                let latest = self.latest()?;
                let kind = input.u8();
                let x = input.u8();
                let sequence = match kind % 8 {
                    0..=3 => latest.saturating_add(1 + u64::from(x)),
                    4 => 0,
                    5 => latest.saturating_sub(u64::from(x)),
                    6 => latest.saturating_add((1 << 32) + u64::from(x)),
                    _ => u64::MAX - u64::from(x % 4),
                };
                let mut entry = op_entry(input);
                entry.appended_at = match kind >> 6 {
                    0 => None,
                    1 => Some(Timestamp::from_unix_nanos(T0 + i64::from(x))),
                    2 => Some(Timestamp::from_unix_nanos(-1 - i64::from(x))),
                    _ => Some(Timestamp::from_unix_nanos(0)),
                };
                self.append_at(sequence, &entry)
            }
            6 | 7 => {
                let filter = palette_filter(input);
                self.query(&filter)
            }
            8 => {
                let filter = palette_filter(input);
                let got = self.disk()?.count(&filter);
                let want = self.memory.count(&filter);
                same_result(&format!("count {filter:?}"), &got, &want)
            }
            9 | 10 => {
                let start = self.bound(input)?;
                let end = self.bound(input)?;
                self.range(start, end)
            }
            11 => {
                if self.reopens < REOPENS_MAX {
                    self.reopens += 1;
                    self.reopen()
                } else {
                    self.disk()?.sync().map_err(|e| format!("sync: {e}"))
                }
            }
            _ => {
                if self.readers < READERS_MAX {
                    self.readers += 1;
                    self.read_only()
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Interprets `data` as up to 64 operations (append, batch, `append_at`
/// with gaps, huge jumps, stale or top-of-range sequences and explicit
/// append times, query, count, range, reopen, a read-only handle beside
/// the writer) applied to a [`DiskJournal`] (64 KiB segments,
/// [`Durability::Os`], in a temporary directory) and to a
/// [`MemoryJournal`], the model. Every answer must agree: sequences,
/// entries (append times aside, except explicit ones), errors, counts,
/// `total_count`, `truncated` and latest sequences; an acknowledged
/// sequence always exceeds the latest before it; records too large for a
/// segment are refused whole; a reopen serves exactly what was there.
pub fn check_journal_ops(data: &[u8]) -> CheckResult {
    guarded("journal_ops", || {
        let dir = TempDir::new("ops")?;
        let disk = open_writer(dir.path(), RecoveryMode::TolerateTornTail)
            .map_err(|e| format!("harness: cannot create the journal: {e}"))?;
        let mut pair = Pair {
            disk: Some(disk),
            dir,
            memory: MemoryJournal::new(),
            explicit: BTreeMap::new(),
            reopens: 0,
            readers: 0,
        };
        let mut input = Input::new(data);
        for step in 0..OPS_MAX {
            if input.is_empty() {
                break;
            }
            let at = input.at;
            pair.step(&mut input)
                .map_err(|e| format!("step {step} (input byte {at}): {e}"))?;
            let disk = pair
                .disk()?
                .get_latest_sequence()
                .map_err(|e| format!("latest: {e}"))?;
            let memory = pair.latest()?;
            if disk != memory {
                return Err(format!(
                    "step {step} (input byte {at}): latest sequence: disk {disk}, model {memory}"
                ));
            }
        }
        pair.everything("at the end")?;
        let disk = pair.disk()?;
        let count = disk
            .count(&JournalQueryFilter::default())
            .map_err(|e| format!("count: {e}"))?;
        let len = pair
            .memory
            .count(&JournalQueryFilter::default())
            .map_err(|e| format!("model count: {e}"))?;
        if count != len {
            return Err(format!("count of everything: disk {count}, model {len}"));
        }
        disk.close().map_err(|e| format!("close: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_a_clean_journal() {
        let files = template().unwrap();
        let dir = TempDir::new("template-test").unwrap();
        for (&file, bytes) in &files {
            std::fs::write(dir.path().join(DIR_FILES[file]), bytes).unwrap();
        }
        let report = crate::disk::verify(dir.path()).unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.records, 5);
        let reader = DiskJournal::open_read_only(dir.path()).unwrap();
        let sequences: Vec<u64> = reader
            .get_sequence_range(0, u64::MAX)
            .unwrap()
            .iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(sequences, [1, 2, 3, 50, 51]);
        let report = reader.recovery_report();
        assert!(report.torn_tail.is_none() && report.corruption.is_none());
        drop(reader);
        let writer = open_writer(dir.path(), RecoveryMode::Strict).unwrap();
        assert!(writer.recovery_report().rebuilt_indexes.is_empty());
        assert_eq!(writer.append(&palette_entry(1, 2)).unwrap(), 52);
        writer.close().unwrap();
    }

    #[test]
    fn empty_inputs_pass_every_check() {
        for check in [
            check_decode_record,
            check_decode_index,
            check_open_directory,
            check_import_line,
            check_filter_json,
            check_journal_ops,
        ] {
            check(&[]).unwrap();
        }
    }

    #[test]
    fn temporary_directories_are_removed() {
        let path = {
            let dir = TempDir::new("removal").unwrap();
            dir.path().to_path_buf()
        };
        assert!(!path.exists());
    }
}
