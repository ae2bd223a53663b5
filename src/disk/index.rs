//! The per-segment index (`.idx`): derived data, rebuildable from the
//! `.log` at any time. A sparse map from sequences to byte offsets (one
//! entry per [`INDEX_INTERVAL_BYTES`] of log, looked up by binary search,
//! never by arithmetic on sequences) and a summary of the sealed segment
//! (sequence and time bounds, event types with counts) so queries and
//! counts skip or answer whole segments.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::codec::{self, FORMAT_VERSION, Footer, SummaryKeys};
use crate::codec::{u32_at, u64_at};
use crate::entry::EntryRef;
use crate::error::{Error, Result};

/// Log bytes between two index entries: each entry starts a block, and
/// each block has its summary.
pub const INDEX_INTERVAL_BYTES: u64 = 4096;
/// Magic of an index file.
pub const INDEX_MAGIC: [u8; 8] = *b"BJIDX\0\0\x01";
/// Length of the fixed part of an index file.
pub const INDEX_FIXED_LEN: usize = 160;
/// The first index version with block summaries and service and region
/// tables.
pub const INDEX_BLOCKS_VERSION: u32 = 2;
/// Most distinct values of one field (event type, service or region) one
/// segment's summary records; past that the field's table is marked
/// incomplete and neither the segment nor its blocks are skipped or
/// counted by that field.
pub const SUMMARY_VALUES_MAX: usize = 4096;
/// The event-type bound, by its older name.
pub const SUMMARY_EVENT_TYPES_MAX: usize = SUMMARY_VALUES_MAX;
/// Length of a block summary's fixed part in an index file.
pub const BLOCK_FIXED_LEN: usize = 4 + 4 * 8 + 3 * 4;

const _: () = assert!(FORMAT_VERSION >= INDEX_BLOCKS_VERSION);

/// The fields summaries count values of, in their order in an index file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `event_type`.
    EventType = 0,
    /// `service_name`.
    ServiceName = 1,
    /// `region`.
    Region = 2,
}

impl Field {
    /// The three fields in file order.
    pub const ALL: [Field; 3] = [Field::EventType, Field::ServiceName, Field::Region];

    /// The field's value in a record.
    #[must_use]
    pub fn of<'a>(self, keys: &SummaryKeys<'a>) -> &'a str {
        match self {
            Field::EventType => keys.event_type,
            Field::ServiceName => keys.service_name,
            Field::Region => keys.region,
        }
    }

    /// The field's name in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Field::EventType => "event type",
            Field::ServiceName => "service",
            Field::Region => "region",
        }
    }
}

/// One sparse index entry: a record's sequence and its frame's offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The record's sequence.
    pub sequence: u64,
    /// Byte offset of its frame in the `.log`.
    pub position: u64,
}

/// Values of one field with their counts; `None` when there are more
/// than [`SUMMARY_VALUES_MAX`] distinct ones.
pub type ValueCounts = Option<BTreeMap<String, u64>>;

/// What is known of a segment's records without reading them.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Earliest append time (`i64::MAX` when empty, `i64::MIN` when
    /// unknown: a version-1 index does not record it).
    pub min_appended_ns: i64,
    /// Latest append time (`i64::MIN` when empty, `i64::MAX` when unknown).
    pub max_appended_ns: i64,
    /// Event types present with their counts; `None` when the segment has
    /// more than [`SUMMARY_VALUES_MAX`] distinct types.
    pub event_types: ValueCounts,
    /// Services present with their counts (`None`: too many, or a
    /// version-1 index, which does not record them).
    pub services: ValueCounts,
    /// Regions present with their counts (as `services`).
    pub regions: ValueCounts,
    /// The last retention mark in the segment, if it holds one
    /// (docs/FORMAT.md, "Retention mark").
    pub mark: Option<crate::codec::RetentionMark>,
}

impl Default for Summary {
    fn default() -> Self {
        Self::empty()
    }
}

/// Counts one value into a field's counts, giving up past the bound.
fn count_value(counts: &mut ValueCounts, value: &str) {
    if let Some(map) = counts {
        if let Some(count) = map.get_mut(value) {
            *count += 1;
        } else if map.len() < SUMMARY_VALUES_MAX {
            map.insert(value.to_string(), 1);
        } else {
            *counts = None;
        }
    }
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
            min_appended_ns: i64::MAX,
            max_appended_ns: i64::MIN,
            event_types: Some(BTreeMap::new()),
            services: Some(BTreeMap::new()),
            regions: Some(BTreeMap::new()),
            mark: None,
        }
    }

    /// Adds one record.
    pub fn add(&mut self, record: &EntryRef<'_>) {
        self.add_keys(&SummaryKeys::from(record));
    }

    /// Adds one record by the fields a summary keeps (the writer has them
    /// from the encoded body, without decoding the record).
    pub fn add_keys(&mut self, keys: &SummaryKeys<'_>) {
        if self.record_count == 0 {
            self.first_sequence = keys.sequence;
        }
        self.record_count += 1;
        self.last_sequence = keys.sequence;
        self.min_timestamp_ns = self.min_timestamp_ns.min(keys.timestamp_ns);
        self.max_timestamp_ns = self.max_timestamp_ns.max(keys.timestamp_ns);
        self.min_appended_ns = self.min_appended_ns.min(keys.appended_ns);
        self.max_appended_ns = self.max_appended_ns.max(keys.appended_ns);
        count_value(&mut self.event_types, keys.event_type);
        count_value(&mut self.services, keys.service_name);
        count_value(&mut self.regions, keys.region);
    }

    /// A field's value counts.
    #[must_use]
    pub fn counts(&self, field: Field) -> &ValueCounts {
        match field {
            Field::EventType => &self.event_types,
            Field::ServiceName => &self.services,
            Field::Region => &self.regions,
        }
    }

    /// What a version-1 index records of this summary: no services,
    /// regions or append times.
    #[must_use]
    pub fn as_version_1(&self) -> Summary {
        Summary {
            min_appended_ns: i64::MIN,
            max_appended_ns: i64::MAX,
            services: None,
            regions: None,
            ..self.clone()
        }
    }
}

/// The summary of one block: the records from one index entry up to the
/// next (about [`INDEX_INTERVAL_BYTES`] of log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSummary {
    /// Records in the block (at least one).
    pub record_count: u32,
    /// Earliest event time.
    pub min_timestamp_ns: i64,
    /// Latest event time.
    pub max_timestamp_ns: i64,
    /// Earliest append time.
    pub min_appended_ns: i64,
    /// Latest append time.
    pub max_appended_ns: i64,
    /// Per [`Field`]: the values present, as ids into the segment's
    /// dictionary of that field, with their counts, ascending by id.
    /// Empty when the field's dictionary is incomplete.
    pub values: [Vec<(u32, u32)>; 3],
}

impl BlockSummary {
    fn new() -> Self {
        BlockSummary {
            record_count: 0,
            min_timestamp_ns: i64::MAX,
            max_timestamp_ns: i64::MIN,
            min_appended_ns: i64::MAX,
            max_appended_ns: i64::MIN,
            values: [Vec::new(), Vec::new(), Vec::new()],
        }
    }

    /// The count of value `id` of `field` in the block (0 when absent).
    #[must_use]
    pub fn count_of(&self, field: Field, id: u32) -> u32 {
        let values = &self.values[field as usize];
        values
            .binary_search_by_key(&id, |&(v, _)| v)
            .map_or(0, |at| values[at].1)
    }
}

/// The distinct values of one field in a segment, each with its id.
#[derive(Clone, Debug)]
pub struct Dictionary {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    complete: bool,
}

impl Default for Dictionary {
    fn default() -> Self {
        Dictionary {
            names: Vec::new(),
            ids: HashMap::new(),
            complete: true,
        }
    }
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Self) -> bool {
        self.complete == other.complete && self.names == other.names
    }
}

impl Eq for Dictionary {}

impl Dictionary {
    /// The id of `name`, if present.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// Whether every value of the segment has an id.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The names, by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn from_sorted(names: Vec<String>) -> Self {
        let ids = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), u32::try_from(i).expect("at most 4096 values")))
            .collect();
        Dictionary {
            names,
            ids,
            complete: true,
        }
    }

    fn incomplete() -> Self {
        Dictionary {
            complete: false,
            ..Dictionary::default()
        }
    }
}

/// The block summaries of a segment with their dictionaries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blocks {
    /// Per [`Field`], the segment's distinct values.
    pub dictionaries: [Dictionary; 3],
    /// One summary per index entry.
    pub summaries: Vec<BlockSummary>,
    /// Running bounds over the summaries, computed once when first asked
    /// (only for blocks that no longer change: a sealed segment's).
    bounds: BoundsCache,
}

/// Running time bounds over a segment's blocks: block `i`'s latest times
/// are at most the maxima over blocks `..=i`, its earliest at least the
/// minima over blocks `i..`. Both sequences are monotone, so the blocks a
/// time window can touch form one run, found by binary search.
#[derive(Clone, Debug)]
pub struct BlockBounds {
    prefix_max_timestamp_ns: Vec<i64>,
    suffix_min_timestamp_ns: Vec<i64>,
    prefix_max_appended_ns: Vec<i64>,
    suffix_min_appended_ns: Vec<i64>,
}

impl BlockBounds {
    fn of(summaries: &[BlockSummary]) -> Self {
        let prefix = |value: fn(&BlockSummary) -> i64| {
            let mut running = i64::MIN;
            summaries
                .iter()
                .map(|b| {
                    running = running.max(value(b));
                    running
                })
                .collect::<Vec<_>>()
        };
        let suffix = |value: fn(&BlockSummary) -> i64| {
            let mut running = i64::MAX;
            let mut out: Vec<i64> = summaries
                .iter()
                .rev()
                .map(|b| {
                    running = running.min(value(b));
                    running
                })
                .collect();
            out.reverse();
            out
        };
        BlockBounds {
            prefix_max_timestamp_ns: prefix(|b| b.max_timestamp_ns),
            suffix_min_timestamp_ns: suffix(|b| b.min_timestamp_ns),
            prefix_max_appended_ns: prefix(|b| b.max_appended_ns),
            suffix_min_appended_ns: suffix(|b| b.min_appended_ns),
        }
    }

    /// The blocks `lo..hi` outside which no block can hold an event time
    /// in `[start, end)` and an append time in `[since, until)`.
    pub fn candidates(
        &self,
        start: Option<i64>,
        end: Option<i64>,
        since: Option<i64>,
        until: Option<i64>,
    ) -> (usize, usize) {
        let mut lo = 0;
        let mut hi = self.prefix_max_timestamp_ns.len();
        if let Some(start) = start {
            lo = lo.max(self.prefix_max_timestamp_ns.partition_point(|&m| m < start));
        }
        if let Some(since) = since {
            lo = lo.max(self.prefix_max_appended_ns.partition_point(|&m| m < since));
        }
        if let Some(end) = end {
            hi = hi.min(self.suffix_min_timestamp_ns.partition_point(|&m| m < end));
        }
        if let Some(until) = until {
            hi = hi.min(self.suffix_min_appended_ns.partition_point(|&m| m < until));
        }
        (lo, hi.max(lo))
    }
}

/// [`Blocks`]' cache of its [`BlockBounds`]: derived, so never part of
/// equality.
#[derive(Clone, Debug, Default)]
struct BoundsCache(std::sync::OnceLock<BlockBounds>);

impl PartialEq for BoundsCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for BoundsCache {}

impl Blocks {
    /// The running bounds of the blocks, computed on the first call: only
    /// for blocks that no longer change (a sealed segment's).
    pub fn sealed_bounds(&self) -> &BlockBounds {
        self.bounds
            .0
            .get_or_init(|| BlockBounds::of(&self.summaries))
    }

    fn add(&mut self, keys: &SummaryKeys<'_>) {
        let mut ids = [None; 3];
        for field in Field::ALL {
            let f = field as usize;
            let dictionary = &mut self.dictionaries[f];
            if !dictionary.complete {
                continue;
            }
            let value = field.of(keys);
            let id = match dictionary.ids.get(value) {
                Some(&id) => id,
                None if dictionary.names.len() < SUMMARY_VALUES_MAX => {
                    let id = u32::try_from(dictionary.names.len()).expect("at most 4096 values");
                    dictionary.names.push(value.to_string());
                    dictionary.ids.insert(value.to_string(), id);
                    id
                }
                None => {
                    *dictionary = Dictionary::incomplete();
                    for block in &mut self.summaries {
                        block.values[f] = Vec::new();
                    }
                    continue;
                }
            };
            ids[f] = Some(id);
        }
        let block = self.summaries.last_mut().expect("a block was started");
        block.record_count += 1;
        block.min_timestamp_ns = block.min_timestamp_ns.min(keys.timestamp_ns);
        block.max_timestamp_ns = block.max_timestamp_ns.max(keys.timestamp_ns);
        block.min_appended_ns = block.min_appended_ns.min(keys.appended_ns);
        block.max_appended_ns = block.max_appended_ns.max(keys.appended_ns);
        for (f, id) in ids.iter().enumerate() {
            let Some(id) = *id else { continue };
            let values = &mut block.values[f];
            match values.binary_search_by_key(&id, |&(v, _)| v) {
                Ok(at) => values[at].1 += 1,
                Err(at) => values.insert(at, (id, 1)),
            }
        }
    }

    /// The same blocks with every dictionary sorted by name (ids are then
    /// ranks in name order, as an index file stores them).
    pub fn canonical(&self) -> Blocks {
        let mut dictionaries: [Dictionary; 3] = Default::default();
        let mut remap: [Vec<u32>; 3] = Default::default();
        for f in 0..3 {
            let old = &self.dictionaries[f];
            if !old.complete {
                dictionaries[f] = Dictionary::incomplete();
                continue;
            }
            let mut sorted = old.names.clone();
            sorted.sort_unstable();
            let fresh = Dictionary::from_sorted(sorted);
            remap[f] = old.names.iter().map(|n| fresh.ids[n]).collect();
            dictionaries[f] = fresh;
        }
        let summaries = self
            .summaries
            .iter()
            .map(|block| {
                let mut block = block.clone();
                for (f, values) in block.values.iter_mut().enumerate() {
                    for (id, _) in values.iter_mut() {
                        *id = remap[f][*id as usize];
                    }
                    values.sort_unstable();
                }
                block
            })
            .collect();
        Blocks {
            dictionaries,
            summaries,
            bounds: BoundsCache::default(),
        }
    }
}

/// The sparse index under construction or loaded, with its blocks'
/// summaries (none for a version-1 index).
#[derive(Clone, Debug)]
pub struct SparseIndex {
    entries: Vec<IndexEntry>,
    blocks: Option<BlockSource>,
}

impl Default for SparseIndex {
    fn default() -> Self {
        SparseIndex {
            entries: Vec::new(),
            blocks: Some(BlockSource::Built(Box::default())),
        }
    }
}

impl PartialEq for SparseIndex {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries && self.blocks() == other.blocks()
    }
}

impl Eq for SparseIndex {}

/// Where a segment's block summaries come from: built in memory (the
/// active segment, a rebuilt index, [`SealedIndex::decode`]) or still the
/// bytes of an index file read by [`SealedIndex::decode_deferred`],
/// decoded and checked on first use.
#[derive(Clone, Debug)]
enum BlockSource {
    Built(Box<Blocks>),
    Stored(Arc<StoredBlocks>),
}

/// The block summaries of an index file, kept as the file's bytes (their
/// CRC already checked) until a query first needs them.
struct StoredBlocks {
    /// The whole index file.
    bytes: Vec<u8>,
    /// Where the first block summary starts.
    at: usize,
    /// Where the last one ends (the CRC, or a retention mark, follows).
    end: usize,
    /// How many there are.
    count: usize,
    /// The segment's summary the blocks must agree with.
    summary: Summary,
    /// The file, for messages.
    path: PathBuf,
    /// The decoded blocks; `None` when they break a rule of the format,
    /// and then no block is skipped or counted.
    decoded: OnceLock<Option<Blocks>>,
}

impl std::fmt::Debug for StoredBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredBlocks")
            .field("path", &self.path)
            .field("count", &self.count)
            .field("decoded", &self.decoded.get().map(Option::is_some))
            .finish_non_exhaustive()
    }
}

impl StoredBlocks {
    /// Decodes and checks the blocks as [`SealedIndex::decode`] does.
    fn decode(&self) -> Result<Blocks> {
        let body = &self.bytes[..self.end];
        let mut reader = Reader {
            body,
            at: self.at,
            path: &self.path,
        };
        let blocks = decode_blocks(&mut reader, &self.summary, self.count, &mut Vec::new())?;
        if reader.at != body.len() {
            return Err(reader.bad(reader.at, "trailing bytes after the index's tables"));
        }
        Ok(blocks)
    }

    fn get(&self) -> Option<&Blocks> {
        self.decoded.get_or_init(|| self.decode().ok()).as_ref()
    }
}

impl BlockSource {
    fn get(&self) -> Option<&Blocks> {
        match self {
            BlockSource::Built(blocks) => Some(blocks.as_ref()),
            BlockSource::Stored(stored) => stored.get(),
        }
    }
}

impl SparseIndex {
    /// Notes a record at `position`: it starts a new entry (and block) when
    /// it is the first record or at least [`INDEX_INTERVAL_BYTES`] past the
    /// last entry; its block's summary counts it.
    pub fn note(&mut self, keys: &SummaryKeys<'_>, position: u64) {
        let due = match self.entries.last() {
            None => true,
            Some(last) => position >= last.position + INDEX_INTERVAL_BYTES,
        };
        if let Some(BlockSource::Stored(stored)) = &self.blocks {
            self.blocks = stored
                .get()
                .cloned()
                .map(|b| BlockSource::Built(Box::new(b)));
        }
        if due {
            self.entries.push(IndexEntry {
                sequence: keys.sequence,
                position,
            });
            if let Some(BlockSource::Built(blocks)) = &mut self.blocks {
                blocks.summaries.push(BlockSummary::new());
            }
        }
        if let Some(BlockSource::Built(blocks)) = &mut self.blocks {
            blocks.add(keys);
        }
    }

    /// Notes a record read from the log (see [`SparseIndex::note`]).
    pub fn note_record(&mut self, record: &EntryRef<'_>, position: u64) {
        self.note(&SummaryKeys::from(record), position);
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

    /// The block summaries: `None` for a version-1 index, or for stored
    /// summaries that break a rule of the format when first decoded here
    /// (then no block is skipped or counted: queries read the records).
    pub fn blocks(&self) -> Option<&Blocks> {
        self.blocks.as_ref().and_then(BlockSource::get)
    }

    /// Whether the index has block summaries (a version-2 index), without
    /// decoding stored ones.
    #[must_use]
    pub fn has_blocks(&self) -> bool {
        self.blocks.is_some()
    }

    /// Whether stored block summaries have been decoded yet (always true
    /// for summaries built in memory or without any).
    #[must_use]
    pub fn blocks_decoded(&self) -> bool {
        match &self.blocks {
            Some(BlockSource::Stored(stored)) => stored.decoded.get().is_some(),
            _ => true,
        }
    }

    /// The same index with canonical block dictionaries.
    #[must_use]
    pub fn canonical(&self) -> SparseIndex {
        SparseIndex {
            entries: self.entries.clone(),
            blocks: self
                .blocks()
                .map(|b| BlockSource::Built(Box::new(Blocks::canonical(b)))),
        }
    }

    /// The same entries with other block summaries (for tests that forge
    /// an index).
    pub fn with_blocks(&self, blocks: Blocks) -> SparseIndex {
        SparseIndex {
            entries: self.entries.clone(),
            blocks: Some(BlockSource::Built(Box::new(blocks))),
        }
    }

    /// What a version-1 index records of this one: no blocks.
    #[must_use]
    pub fn as_version_1(&self) -> SparseIndex {
        SparseIndex {
            entries: self.entries.clone(),
            blocks: None,
        }
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

/// A decoded index file, its block summaries' offsets, and (when they
/// are left undecoded) where they start and how many there are.
type DecodedParts = (SealedIndex, Vec<u64>, Option<(usize, usize, usize)>);

/// Writes a field's value table: count, then (length, name, count) each.
fn put_table(out: &mut Vec<u8>, counts: &ValueCounts) {
    let map = counts.as_ref();
    let len =
        u32::try_from(map.map_or(0, BTreeMap::len)).expect("a table holds at most 4096 values");
    out.extend_from_slice(&len.to_le_bytes());
    for (name, count) in map.into_iter().flatten() {
        let name_len = u32::try_from(name.len()).expect("a name is shorter than a body");
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&count.to_le_bytes());
    }
}

/// Reads an index file's bytes in order, every read bounds-checked.
struct Reader<'a> {
    body: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl Reader<'_> {
    fn bad(&self, offset: usize, reason: &str) -> Error {
        Error::corruption(self.path, offset as u64, reason)
    }

    fn need(&self, len: usize, what: &str) -> Result<()> {
        if self.body.len() - self.at < len {
            return Err(self.bad(self.at, &format!("{what} runs past the end")));
        }
        Ok(())
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.need(4, what)?;
        let value = u32_at(self.body, self.at);
        self.at += 4;
        Ok(value)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.need(8, what)?;
        let value = u64_at(self.body, self.at);
        self.at += 8;
        Ok(value)
    }

    /// A table of `count` (name, count) pairs, names strictly ascending.
    fn table(&mut self, count: usize, field: Field) -> Result<BTreeMap<String, u64>> {
        let what = format!("{} table", field.name());
        let mut map = BTreeMap::new();
        let mut previous: Option<&str> = None;
        for _ in 0..count {
            let len = self.u32(&what)? as usize;
            self.need(len, &what)?;
            let name = std::str::from_utf8(&self.body[self.at..self.at + len])
                .map_err(|_| self.bad(self.at, &format!("{} is not UTF-8", field.name())))?;
            if previous.is_some_and(|p| name <= p) {
                return Err(self.bad(
                    self.at,
                    &format!("{} table out of order or repeated", field.name()),
                ));
            }
            previous = Some(name);
            self.at += len;
            let value = self.u64(&what)?;
            if value == 0 {
                return Err(self.bad(self.at - 8, &format!("{} counted 0 times", field.name())));
            }
            map.insert(name.to_string(), value);
        }
        Ok(map)
    }
}

/// The flag bit saying a field's table is complete.
/// Index flag bit 4: the file ends (before its CRC) with the segment's
/// last retention mark.
const MARK_FLAG: u32 = 0b1_0000;

fn complete_flag(field: Field) -> u32 {
    0b10 << (field as u32)
}

impl SealedIndex {
    /// The bytes of the `.idx` file (version [`FORMAT_VERSION`], or 1 when
    /// the index has no block summaries).
    pub fn encode(&self) -> Vec<u8> {
        let s = &self.summary;
        let blocks = self.index.blocks().map(Blocks::canonical);
        let version: u32 = if blocks.is_some() { FORMAT_VERSION } else { 1 };
        let mut out = Vec::with_capacity(INDEX_FIXED_LEN + self.index.entries.len() * 160 + 64);
        out.extend_from_slice(&INDEX_MAGIC);
        out.extend_from_slice(&version.to_le_bytes());
        let mut flags: u32 = 1;
        let fields: &[Field] = if blocks.is_some() {
            &Field::ALL
        } else {
            &[Field::EventType]
        };
        for &field in fields {
            if s.counts(field).is_some() {
                flags |= complete_flag(field);
            }
        }
        if s.mark.is_some() && blocks.is_some() {
            flags |= MARK_FLAG;
        }
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
        if let Some(blocks) = blocks {
            put_table(&mut out, &s.services);
            put_table(&mut out, &s.regions);
            out.extend_from_slice(&s.min_appended_ns.to_le_bytes());
            out.extend_from_slice(&s.max_appended_ns.to_le_bytes());
            let block_count =
                u32::try_from(blocks.summaries.len()).expect("blocks are index entries");
            out.extend_from_slice(&block_count.to_le_bytes());
            let count = blocks.summaries.len();
            for (i, block) in blocks.summaries.iter().enumerate() {
                let mut block = block.clone();
                // Test-only break: a block claims a narrower event-time
                // range than its records have (docs/RELIABILITY.md).
                if cfg!(feature = "break-wrong-block-summary") && i > 0 && i + 1 < count {
                    block.max_timestamp_ns = block.min_timestamp_ns;
                }
                out.extend_from_slice(&block.record_count.to_le_bytes());
                out.extend_from_slice(&block.min_timestamp_ns.to_le_bytes());
                out.extend_from_slice(&block.max_timestamp_ns.to_le_bytes());
                out.extend_from_slice(&block.min_appended_ns.to_le_bytes());
                out.extend_from_slice(&block.max_appended_ns.to_le_bytes());
                for values in &block.values {
                    let len =
                        u32::try_from(values.len()).expect("a block holds at most 4096 values");
                    out.extend_from_slice(&len.to_le_bytes());
                }
                for values in &block.values {
                    for (id, n) in values {
                        out.extend_from_slice(&id.to_le_bytes());
                        out.extend_from_slice(&n.to_le_bytes());
                    }
                }
            }
        }
        if let Some(mark) = s.mark.filter(|_| version >= INDEX_BLOCKS_VERSION) {
            out.extend_from_slice(&mark.encode_body());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and sanity-checks an index file. Any problem is an error
    /// naming the file and offset; the caller rebuilds from the `.log`.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<SealedIndex> {
        Self::decode_with_offsets(bytes, path).map(|(index, _)| index)
    }

    /// [`SealedIndex::decode`], also giving each block summary's offset in
    /// the file (empty for a version-1 index).
    pub fn decode_with_offsets(bytes: &[u8], path: &Path) -> Result<(SealedIndex, Vec<u64>)> {
        let (index, offsets, _) = Self::decode_parts(bytes, path, true)?;
        Ok((index, offsets))
    }

    /// [`SealedIndex::decode`] for opening a journal: every check of the
    /// file's CRC, fixed part, entries and value tables is made now, but
    /// the block summaries are kept as the file's bytes and decoded and
    /// checked when a query first needs them ([`SparseIndex::blocks`]), so
    /// opening costs no more than with a version-1 index.
    pub fn decode_deferred(bytes: Vec<u8>, path: &Path) -> Result<SealedIndex> {
        let (mut index, _, blocks) = Self::decode_parts(&bytes, path, false)?;
        if let Some((at, count, end)) = blocks {
            index.index.blocks = Some(BlockSource::Stored(Arc::new(StoredBlocks {
                bytes,
                at,
                end,
                count,
                summary: index.summary.clone(),
                path: path.to_path_buf(),
                decoded: OnceLock::new(),
            })));
        }
        Ok(index)
    }

    /// Decodes an index file; with `eager` false, the block summaries
    /// are left out, and their start and count returned instead.
    fn decode_parts(bytes: &[u8], path: &Path, eager: bool) -> Result<DecodedParts> {
        let bad = |offset: usize, reason: &str| Error::corruption(path, offset as u64, reason);
        if bytes.len() < INDEX_FIXED_LEN + 4 {
            return Err(bad(0, "index file too short"));
        }
        let mut body = &bytes[..bytes.len() - 4];
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
        let with_blocks = version >= INDEX_BLOCKS_VERSION;
        let flags = u32_at(body, 12);
        if flags & 1 == 0 {
            return Err(bad(12, "index is not of a sealed segment"));
        }
        let known_flags = if with_blocks { 0b1_1111 } else { 0b11 };
        if flags & !known_flags != 0 {
            return Err(bad(12, "unknown index flags"));
        }
        // The retention mark, when flagged, is the last 80 bytes before
        // the CRC; the tables end where it starts.
        let mut mark = None;
        if flags & MARK_FLAG != 0 {
            let Some(start) = body.len().checked_sub(codec::MARK_BODY_LEN) else {
                return Err(bad(12, "retention mark flagged but the file is too short"));
            };
            if start < INDEX_FIXED_LEN {
                return Err(bad(12, "retention mark flagged but the file is too short"));
            }
            mark = Some(codec::RetentionMark::decode_body(&body[start..]));
            body = &body[..start];
        }
        let tables_end = body.len();
        let complete = |field: Field| flags & complete_flag(field) != 0;
        let mut journal_id = [0u8; 16];
        journal_id.copy_from_slice(&body[16..32]);
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&body[88..120]);
        let mut previous_digest = [0u8; 32];
        previous_digest.copy_from_slice(&body[120..152]);
        let entry_count = u32_at(body, 152) as usize;
        let type_count = u32_at(body, 156) as usize;
        let record_count = u64_at(body, 48);
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
        if !complete(Field::EventType) && type_count != 0 {
            return Err(bad(156, "event types listed although flagged incomplete"));
        }
        let mut reader = Reader { body, at, path };
        let event_types = reader.table(type_count, Field::EventType)?;
        let mut summary = Summary {
            record_count,
            first_sequence: u64_at(body, 56),
            last_sequence: u64_at(body, 64),
            min_timestamp_ns: u64_at(body, 72) as i64,
            max_timestamp_ns: u64_at(body, 80) as i64,
            event_types: complete(Field::EventType).then_some(event_types),
            mark,
            ..Summary::empty().as_version_1()
        };
        let mut offsets = Vec::new();
        let mut blocks = None;
        let mut deferred = None;
        if with_blocks {
            let mut tables = Vec::new();
            for field in [Field::ServiceName, Field::Region] {
                let count_at = reader.at;
                let count = reader.u32(&format!("{} table", field.name()))? as usize;
                if !complete(field) && count != 0 {
                    return Err(bad(
                        count_at,
                        &format!("{}s listed although flagged incomplete", field.name()),
                    ));
                }
                tables.push(complete(field).then_some(reader.table(count, field)?));
            }
            summary.regions = tables.pop().expect("two tables");
            summary.services = tables.pop().expect("two tables");
            summary.min_appended_ns = reader.u64("append time bounds")? as i64;
            summary.max_appended_ns = reader.u64("append time bounds")? as i64;
            let count_at = reader.at;
            let block_count = reader.u32("block count")? as usize;
            if block_count != entry_count {
                return Err(bad(count_at, "block count differs from the entry count"));
            }
            if eager {
                let decoded = decode_blocks(&mut reader, &summary, block_count, &mut offsets)?;
                blocks = Some(BlockSource::Built(Box::new(decoded)));
            } else {
                deferred = Some((reader.at, block_count, tables_end));
            }
        }
        if eager && reader.at != body.len() {
            return Err(bad(reader.at, "trailing bytes after the index's tables"));
        }
        Ok((
            SealedIndex {
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
                index: SparseIndex { entries, blocks },
            },
            offsets,
            deferred,
        ))
    }
}

/// Reads `count` block summaries and checks them against each other and
/// the segment's summary: counts add up, per value and in all, ids name
/// values of the tables, and the time bounds agree.
fn decode_blocks(
    reader: &mut Reader<'_>,
    summary: &Summary,
    count: usize,
    offsets: &mut Vec<u64>,
) -> Result<Blocks> {
    let tables: [&ValueCounts; 3] = [&summary.event_types, &summary.services, &summary.regions];
    let mut dictionaries: [Dictionary; 3] = Default::default();
    let mut sums: [Vec<u64>; 3] = Default::default();
    for f in 0..3 {
        dictionaries[f] = match tables[f] {
            Some(map) => Dictionary::from_sorted(map.keys().cloned().collect()),
            None => Dictionary::incomplete(),
        };
        sums[f] = vec![0; dictionaries[f].names.len()];
    }
    let mut summaries = Vec::with_capacity(count);
    let mut records = 0u64;
    let (mut min_ts, mut max_ts) = (i64::MAX, i64::MIN);
    let (mut min_app, mut max_app) = (i64::MAX, i64::MIN);
    for _ in 0..count {
        let start = reader.at;
        offsets.push(start as u64);
        reader.need(BLOCK_FIXED_LEN, "block summary")?;
        let mut block = BlockSummary::new();
        block.record_count = reader.u32("block summary")?;
        block.min_timestamp_ns = reader.u64("block summary")? as i64;
        block.max_timestamp_ns = reader.u64("block summary")? as i64;
        block.min_appended_ns = reader.u64("block summary")? as i64;
        block.max_appended_ns = reader.u64("block summary")? as i64;
        if block.record_count == 0
            || block.min_timestamp_ns > block.max_timestamp_ns
            || block.min_appended_ns > block.max_appended_ns
        {
            return Err(reader.bad(start, "block summary with no records or reversed times"));
        }
        let lens = [
            reader.u32("block summary")? as usize,
            reader.u32("block summary")? as usize,
            reader.u32("block summary")? as usize,
        ];
        for f in 0..3 {
            let complete = dictionaries[f].complete;
            if !complete && lens[f] != 0 {
                return Err(reader.bad(start, "block lists values of an incomplete table"));
            }
            let mut values = Vec::with_capacity(lens[f].min(SUMMARY_VALUES_MAX));
            let mut total = 0u64;
            for _ in 0..lens[f] {
                let value_at = reader.at;
                let id = reader.u32("block summary")?;
                let n = reader.u32("block summary")?;
                let in_order = values.last().is_none_or(|&(previous, _)| id > previous);
                if n == 0 || !in_order || id as usize >= sums[f].len() {
                    return Err(reader.bad(value_at, "block value out of order or unknown"));
                }
                sums[f][id as usize] += u64::from(n);
                total += u64::from(n);
                values.push((id, n));
            }
            if complete && total != u64::from(block.record_count) {
                return Err(reader.bad(start, "block value counts do not add up to its records"));
            }
            block.values[f] = values;
        }
        records += u64::from(block.record_count);
        min_ts = min_ts.min(block.min_timestamp_ns);
        max_ts = max_ts.max(block.max_timestamp_ns);
        min_app = min_app.min(block.min_appended_ns);
        max_app = max_app.max(block.max_appended_ns);
        summaries.push(block);
    }
    let end = reader.at;
    if records != summary.record_count {
        return Err(reader.bad(end, "block record counts do not add up to the segment's"));
    }
    if (min_ts, max_ts) != (summary.min_timestamp_ns, summary.max_timestamp_ns)
        || (min_app, max_app) != (summary.min_appended_ns, summary.max_appended_ns)
    {
        return Err(reader.bad(end, "block time bounds disagree with the segment's"));
    }
    for f in 0..3 {
        if let Some(table) = tables[f]
            && !table.values().zip(&sums[f]).all(|(a, b)| a == b)
        {
            return Err(reader.bad(end, "block value counts disagree with the segment's table"));
        }
    }
    Ok(Blocks {
        dictionaries,
        summaries,
        bounds: BoundsCache::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(
        sequence: u64,
        event_type: &'static str,
        service: &'static str,
        region: &'static str,
    ) -> SummaryKeys<'static> {
        SummaryKeys {
            sequence,
            timestamp_ns: sequence as i64 * 10,
            appended_ns: sequence as i64 * 20,
            event_type,
            service_name: service,
            region,
        }
    }

    #[test]
    fn seek_finds_the_last_entry_at_or_before_the_target() {
        let mut index = SparseIndex::default();
        for (i, seq) in [5u64, 9, 20, 1_000_000_000_000].iter().enumerate() {
            index.note(
                &keys(*seq, "a", "s", "r"),
                64 + i as u64 * INDEX_INTERVAL_BYTES,
            );
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
        let mut index = SparseIndex::default();
        let records = [
            keys(1, "b", "s1", "r"),
            keys(2, "a", "s2", "r"),
            keys(3, "b", "s1", ""),
            keys(4, "c", "s1", "r"),
        ];
        for (i, record) in records.iter().enumerate() {
            summary.add_keys(record);
            index.note(record, 64 + i as u64 * 3000);
        }
        assert_eq!(index.entries().len(), 2);
        let sealed = SealedIndex {
            journal_id: [3; 16],
            base_sequence: 1,
            summary,
            index,
            footer: Footer {
                record_count: 4,
                first_sequence: 1,
                last_sequence: 4,
                data_end: 12_000,
                digest: [1; 32],
                previous_digest: [0; 32],
            },
        };
        let bytes = sealed.encode();
        let path = Path::new("x.idx");
        let decoded = SealedIndex::decode(&bytes, path).unwrap();
        assert_eq!(decoded.index, sealed.index.canonical());
        assert_eq!(decoded.summary, sealed.summary);
        assert_eq!(decoded.encode(), bytes);
        // The canonical dictionaries are sorted: "b" was seen first.
        let blocks = decoded.index.blocks().unwrap();
        assert_eq!(blocks.dictionaries[0].names(), ["a", "b", "c"]);
        assert_eq!(blocks.summaries[0].count_of(Field::EventType, 1), 1);
        assert_eq!(blocks.summaries[1].count_of(Field::EventType, 1), 1);
        assert_eq!(blocks.summaries[1].count_of(Field::EventType, 0), 0);
        assert_eq!(blocks.summaries[1].count_of(Field::EventType, 2), 1);
        // Without blocks it is a version-1 index, read back as one.
        let old = SealedIndex {
            summary: sealed.summary.as_version_1(),
            index: sealed.index.as_version_1(),
            ..sealed.clone()
        };
        let old_bytes = old.encode();
        assert_eq!(u32_at(&old_bytes, 8), 1);
        assert_eq!(SealedIndex::decode(&old_bytes, path).unwrap(), old);
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            assert!(
                SealedIndex::decode(&damaged, path).is_err(),
                "byte {i} damage not caught"
            );
            assert!(
                SealedIndex::decode_deferred(damaged, path).is_err(),
                "byte {i} damage not caught before the blocks are decoded"
            );
        }
        // Deferred: the blocks stay bytes until first asked for, then
        // decode to the same.
        let deferred = SealedIndex::decode_deferred(bytes.clone(), path).unwrap();
        assert!(deferred.index.has_blocks());
        assert!(!deferred.index.blocks_decoded());
        assert_eq!(deferred.summary, decoded.summary);
        assert_eq!(deferred.index.blocks(), decoded.index.blocks());
        assert!(deferred.index.blocks_decoded());
        assert_eq!(deferred, decoded);
        assert_eq!(deferred.encode(), bytes);
        // A block summary that breaks a rule, its CRC made right: the eager
        // decode refuses the file; the deferred one opens it and then
        // skips and counts by no block.
        let first_block = INDEX_FIXED_LEN + 2 * 16;
        let (_, offsets) = SealedIndex::decode_with_offsets(&bytes, path).unwrap();
        assert!(usize::try_from(offsets[0]).unwrap() > first_block);
        let mut forged = bytes.clone();
        let count_at = usize::try_from(offsets[1]).unwrap();
        forged[count_at] += 1;
        let body_len = forged.len() - 4;
        let crc = crc32fast::hash(&forged[..body_len]);
        forged[body_len..].copy_from_slice(&crc.to_le_bytes());
        assert!(SealedIndex::decode(&forged, path).is_err());
        let deferred = SealedIndex::decode_deferred(forged, path).unwrap();
        assert!(deferred.index.has_blocks());
        assert_eq!(deferred.index.blocks(), None);
        assert!(deferred.index.blocks_decoded());
        assert_eq!(deferred.index.entries(), decoded.index.entries());
    }
}
