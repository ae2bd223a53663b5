//! The one audit-chain verifier (docs/AUDIT.md, "Verification"): `verify`,
//! `audit`, the trail DTO and the statistics all check chained records
//! through [`EntityChain::check`], so they cannot disagree.
//!
//! Membership is structural: a record belongs to a chain because its
//! context, parsed as JSON, carries `hash_chain`, `previous_hash` or
//! `hash_key_id` at the top level, however the keys are spelled (escapes
//! included) and whatever the record's event type. The chain is the one of
//! the context's `entry_id`.
//!
//! [`ChainVerifier`] checks a whole journal in one pass, in sequence order,
//! keeping per chain only its state (the last stored hash, how many records
//! it has checked, whether it has failed), never records.
//!
//! Speed: a context stored in canonical form (what the statistics write:
//! keys sorted, no whitespace, `serde_json`'s escapes, integers) is checked
//! and cut in one scan, and the canonical content is written straight from
//! the stored text into a reused buffer; any other context goes through a
//! full `serde_json` parse and the canonical writer of
//! [`canonical_json`]. Both give the
//! same bytes. The common case, a canonical context without a backslash or
//! control character (checked in one vectorised pass), is read as spans by
//! `scan_plain`: each string ends at the next quote, found a word at a
//! time. Tests compare it with the full parser on adversarial contexts.

use std::borrow::Cow;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::entry::{EntryRef, JournalEntry, Timestamp};
use crate::error::Result;
use crate::journal::EventJournal;
use crate::projection::audit::{
    AuditKey, AuditKeyring, EntryCheck, EntryVerification, HASH_CHAIN, HASH_KEY_ID, PREVIOUS_HASH,
    canonical_json, is_chained_event_type,
};
use crate::projection::events;
use crate::projection::hmac::hmac_sha256_pieces;

/// The fields of a record that chain verification reads, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct ChainRecord<'a> {
    /// The journal sequence.
    pub sequence: u64,
    /// `event_type` (hashed).
    pub event_type: &'a str,
    /// `source` (hashed).
    pub source: &'a str,
    /// `service_name` (hashed).
    pub service_name: &'a str,
    /// `region` (hashed).
    pub region: &'a str,
    /// `tier_id` (hashed).
    pub tier_id: &'a str,
    /// The event time (hashed, as nanoseconds).
    pub timestamp: Timestamp,
    /// The context's JSON text.
    pub context: &'a str,
}

impl<'a> From<&'a JournalEntry> for ChainRecord<'a> {
    fn from(entry: &'a JournalEntry) -> Self {
        ChainRecord {
            sequence: entry.sequence,
            event_type: &entry.event_type,
            source: &entry.source,
            service_name: &entry.service_name,
            region: &entry.region,
            tier_id: &entry.tier_id,
            timestamp: entry.timestamp,
            context: entry.context.as_str(),
        }
    }
}

impl<'a> From<&EntryRef<'a>> for ChainRecord<'a> {
    fn from(entry: &EntryRef<'a>) -> Self {
        ChainRecord {
            sequence: entry.sequence,
            event_type: entry.event_type,
            source: entry.source,
            service_name: entry.service_name,
            region: entry.region,
            tier_id: entry.tier_id,
            timestamp: entry.timestamp,
            context: entry.context,
        }
    }
}

/// A chain field as a context holds it (`null` reads as absent).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Field<'a> {
    Absent,
    Text(Cow<'a, str>),
    NotString,
}

impl Field<'_> {
    fn text(&self) -> Option<&str> {
        self.as_ref().text()
    }

    fn as_ref(&self) -> FieldRef<'_> {
        match self {
            Field::Absent => FieldRef::Absent,
            Field::Text(text) => FieldRef::Text(text),
            Field::NotString => FieldRef::NotString,
        }
    }
}

/// How the canonical context can be written.
enum Form<'a> {
    /// The stored text is canonical: write it without the bytes `cut`
    /// (`hash_chain`'s member and one comma; empty when there is none).
    Canonical { text: &'a str, cut: (usize, usize) },
    /// Parsed: write this object (without `hash_chain`) canonically.
    Parsed(Map<String, Value>),
}

/// What verification needs of a context.
pub(crate) struct ContextFields<'a> {
    hash_chain: Field<'a>,
    previous_hash: Field<'a>,
    key_id: Field<'a>,
    /// The top-level `entry_id`, when it is a string.
    pub(crate) entry_id: Option<Cow<'a, str>>,
    /// The top-level `entity_type`, when it is a string.
    entity_type: Option<Cow<'a, str>>,
    form: Form<'a>,
}

impl ContextFields<'_> {
    /// The `hash_chain` text, when it is a string.
    pub(crate) fn hash_chain_text(&self) -> Option<&str> {
        self.hash_chain.text()
    }

    /// Whether the context carries any chain field: the record is part of
    /// its entry's chain.
    pub(crate) fn is_chained(&self) -> bool {
        self.carries_chain()
    }
}

/// Whether `context` may carry a chain key: every spelling of the three
/// keys contains `hash` or an escape.
pub(crate) fn may_be_chained(context: &str) -> bool {
    static HASH: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"hash"));
    let bytes = context.as_bytes();
    HASH.find(bytes).is_some() || memchr::memchr(b'\\', bytes).is_some()
}

/// A chain field as verification reads it, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldRef<'s> {
    Absent,
    Text(&'s str),
    NotString,
}

impl<'s> FieldRef<'s> {
    fn text(self) -> Option<&'s str> {
        match self {
            FieldRef::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// How the canonical context is written, borrowed (see [`Form`]).
#[derive(Clone, Copy)]
enum FormRef<'s> {
    Canonical { text: &'s str, cut: (usize, usize) },
    Parsed(&'s Map<String, Value>),
}

/// What verification reads of a context, however it was read: by the
/// full reader ([`ContextFields`]) or by the scan of plain canonical text
/// ([`PlainFields`]), which gives the same answers for the contexts it
/// accepts.
trait ReadFields<'a> {
    fn hash_chain(&self) -> FieldRef<'_>;
    fn previous_hash(&self) -> FieldRef<'_>;
    fn key_id(&self) -> FieldRef<'_>;
    /// The top-level `entry_id`, when it is a string.
    fn entry_id(&self) -> Option<Cow<'a, str>>;
    /// The top-level `entity_type`, when it is a string.
    fn entity_type(&self) -> Option<&str>;
    fn form(&self) -> FormRef<'_>;
    /// Whether the context was read as canonical text.
    fn is_canonical(&self) -> bool;

    /// Whether the context carries any chain field: the record is part of
    /// its entry's chain.
    fn carries_chain(&self) -> bool {
        let any = !(self.hash_chain() == FieldRef::Absent
            && self.previous_hash() == FieldRef::Absent
            && self.key_id() == FieldRef::Absent);
        if cfg!(feature = "break-chain-text-search") {
            // The weakness this build exists to show: membership decided by
            // the keys as spelled without escapes (see `read_context`).
            return self.is_canonical() && any;
        }
        any
    }
}

impl<'a> ReadFields<'a> for ContextFields<'a> {
    fn hash_chain(&self) -> FieldRef<'_> {
        self.hash_chain.as_ref()
    }
    fn previous_hash(&self) -> FieldRef<'_> {
        self.previous_hash.as_ref()
    }
    fn key_id(&self) -> FieldRef<'_> {
        self.key_id.as_ref()
    }
    fn entry_id(&self) -> Option<Cow<'a, str>> {
        self.entry_id.clone()
    }
    fn entity_type(&self) -> Option<&str> {
        self.entity_type.as_deref()
    }
    fn form(&self) -> FormRef<'_> {
        match &self.form {
            Form::Canonical { text, cut } => FormRef::Canonical { text, cut: *cut },
            Form::Parsed(map) => FormRef::Parsed(map),
        }
    }
    fn is_canonical(&self) -> bool {
        matches!(self.form, Form::Canonical { .. })
    }
}

/// Where a value lies in a plain canonical context: absent (or `null`, for
/// the chain fields), a string's content, or another value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ValueAt {
    #[default]
    Absent,
    Text(usize, usize),
    NotString,
}

/// The fields of a plain canonical context (no backslash, no control
/// character), as spans of its text: what [`scan_plain`] reads.
#[derive(Clone, Copy, Debug)]
struct PlainFields<'a> {
    text: &'a str,
    hash_chain: ValueAt,
    previous_hash: ValueAt,
    key_id: ValueAt,
    /// Only a string value is kept.
    entry_id: ValueAt,
    /// Only a string value is kept.
    entity_type: ValueAt,
    /// `hash_chain`'s member and one comma (empty when there is none).
    cut: (usize, usize),
}

impl<'a> PlainFields<'a> {
    fn field(&self, slot: ValueAt) -> FieldRef<'a> {
        match slot {
            ValueAt::Absent => FieldRef::Absent,
            ValueAt::Text(start, end) => FieldRef::Text(&self.text[start..end]),
            ValueAt::NotString => FieldRef::NotString,
        }
    }
}

impl<'a> ReadFields<'a> for PlainFields<'a> {
    fn hash_chain(&self) -> FieldRef<'_> {
        self.field(self.hash_chain)
    }
    fn previous_hash(&self) -> FieldRef<'_> {
        self.field(self.previous_hash)
    }
    fn key_id(&self) -> FieldRef<'_> {
        self.field(self.key_id)
    }
    fn entry_id(&self) -> Option<Cow<'a, str>> {
        self.field(self.entry_id).text().map(Cow::Borrowed)
    }
    fn entity_type(&self) -> Option<&str> {
        self.field(self.entity_type).text()
    }
    fn form(&self) -> FormRef<'_> {
        FormRef::Canonical {
            text: self.text,
            cut: self.cut,
        }
    }
    fn is_canonical(&self) -> bool {
        true
    }
}

/// A chained record's place in its chain, as verification reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainLink<'a> {
    /// The entity whose chain the record belongs to: the context's
    /// `entry_id`.
    pub entity: Cow<'a, str>,
    /// The record's `hash_chain`, when it is a string.
    pub hash_chain: Option<Cow<'a, str>>,
    /// The record's `previous_hash`, when it is a string: the hash of the
    /// entity's chained record before it.
    pub previous_hash: Option<Cow<'a, str>>,
}

/// The entity and link of a record, decided as [`ChainVerifier`] decides
/// them (docs/AUDIT.md, "Verification"): `None` when the record belongs to
/// no chain, that is its context carries no chain field (however spelled),
/// is not a JSON object, or has no non-empty string `entry_id`.
#[must_use]
pub fn chain_link<'a>(record: &ChainRecord<'a>) -> Option<ChainLink<'a>> {
    if !may_be_chained(record.context) {
        return None;
    }
    let fields = read_context(record.context).ok()?;
    if !is_member(record, &fields) {
        return None;
    }
    let entity = fields.entry_id.filter(|id| !id.is_empty())?;
    let text = |field: Field<'a>| match field {
        Field::Text(text) => Some(text),
        Field::Absent | Field::NotString => None,
    };
    Some(ChainLink {
        entity,
        hash_chain: text(fields.hash_chain),
        previous_hash: text(fields.previous_hash),
    })
}

/// Whether `record`, its context read as `fields`, is part of its entry's
/// chain.
fn is_member<'a>(record: &ChainRecord<'_>, fields: &impl ReadFields<'a>) -> bool {
    fields.carries_chain()
        && (!cfg!(feature = "break-chain-text-search") || is_chained_event_type(record.event_type))
}

/// Reads the chain fields, `entry_id` and `entity_type` of a context; `Err`
/// when it is not a JSON object.
pub(crate) fn read_context(context: &str) -> std::result::Result<ContextFields<'_>, String> {
    if let Some(fields) = scan_canonical(context) {
        return Ok(fields);
    }
    if cfg!(feature = "break-chain-text-search") && !context.contains("\"hash_chain\"") {
        // The weakness this build exists to show: a context that does not
        // spell the key plainly is not looked at.
        return Ok(ContextFields {
            hash_chain: Field::Absent,
            previous_hash: Field::Absent,
            key_id: Field::Absent,
            entry_id: None,
            entity_type: None,
            form: Form::Parsed(Map::new()),
        });
    }
    let map = match serde_json::from_str::<Value>(context) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err("context is not a JSON object".into()),
        Err(error) => return Err(format!("context is not a JSON object: {error}")),
    };
    let field = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Field::Absent,
        Some(Value::String(text)) => Field::Text(Cow::Owned(text.clone())),
        Some(_) => Field::NotString,
    };
    let text = |key: &str| match map.get(key) {
        Some(Value::String(text)) => Some(Cow::Owned(text.clone())),
        _ => None,
    };
    Ok(ContextFields {
        hash_chain: field(HASH_CHAIN),
        previous_hash: field(PREVIOUS_HASH),
        key_id: field(HASH_KEY_ID),
        entry_id: text("entry_id"),
        entity_type: text("entity_type"),
        form: Form::Parsed(map),
    })
}

/// The first byte at or after `i` that is `"`, `\\` or a control (or
/// `b.len()`).
#[inline]
fn find_special(b: &[u8], mut i: usize) -> usize {
    while i + 16 <= b.len() {
        let first = special_mask(b[i..i + 16].try_into().expect("16 bytes"));
        if first != u32::MAX {
            return i + first as usize;
        }
        i += 16;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

/// Whether `b` holds no backslash and no control character (below
/// U+0020), so that each of its strings, if it is JSON, ends at the next
/// quote and has no escape. Two passes that the compiler and `memchr`
/// vectorise, cheaper than looking for three kinds of byte in every string.
fn is_plain(b: &[u8]) -> bool {
    let (lowest, backslashes) = b.iter().fold((u8::MAX, 0u8), |(lowest, backslashes), &c| {
        (lowest.min(c), backslashes | u8::from(c == b'\\'))
    });
    lowest >= 0x20 && backslashes == 0
}

/// The first quote at or after `i` (or `b.len()`), a word at a time.
#[inline]
fn find_quote(b: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let quotes = |at: usize| {
        let w =
            u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes")) ^ (LO * u64::from(b'"'));
        // Nonzero when a byte is a quote; its lowest flag is exact
        // (borrows only flag bytes above it).
        w.wrapping_sub(LO) & !w & HI
    };
    // Two words a step: one branch per 16 bytes.
    while i + 16 <= b.len() {
        let (low, high) = (quotes(i), quotes(i + 8));
        if low != 0 {
            return i + (low.trailing_zeros() / 8) as usize;
        }
        if high != 0 {
            return i + 8 + (high.trailing_zeros() / 8) as usize;
        }
        i += 16;
    }
    while i + 8 <= b.len() {
        let w =
            u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes")) ^ (LO * u64::from(b'"'));
        // The lowest flagged byte is exact (borrows only flag bytes above).
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            return i + (zero.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] != b'"' {
        i += 1;
    }
    i
}

/// The index of the first byte of `block` that is `"`, `\\` or a control
/// (below U+0020), or `u32::MAX`: two words at a time, in safe code.
#[inline]
fn special_mask(block: &[u8; 16]) -> u32 {
    let word = |w: [u8; 8]| -> u64 {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let w = u64::from_le_bytes(w);
        let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
        // The lowest flagged byte is exact (borrows only flag bytes above).
        zero(w ^ (LO * u64::from(b'"')))
            | zero(w ^ (LO * u64::from(b'\\')))
            | (w.wrapping_sub(LO * 0x20) & !w & HI)
    };
    let (low, high) = block.split_at(8);
    let (low, high) = (
        word(low.try_into().expect("8 bytes")),
        word(high.try_into().expect("8 bytes")),
    );
    if low != 0 {
        low.trailing_zeros() / 8
    } else if high != 0 {
        8 + high.trailing_zeros() / 8
    } else {
        u32::MAX
    }
}

/// Whether `key` sorts strictly after `previous` (byte order, which for
/// UTF-8 is code point order); keys are short, so compared inline.
#[inline]
fn ascends(previous: &[u8], key: &[u8]) -> bool {
    for (a, b) in previous.iter().zip(key) {
        if a != b {
            return a < b;
        }
    }
    previous.len() < key.len()
}

/// Deepest nesting the canonical scan follows; deeper contexts are parsed.
const SCAN_DEPTH_MAX: usize = 64;

/// A scanner that accepts only canonical JSON (the form `canonical_json`
/// writes); `None` from any step means "not canonical, parse it instead".
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    /// Whether `b` holds no backslash and no control character: then every
    /// string ends at the next quote.
    plain: bool,
}

impl<'a> Scan<'a> {
    /// A scanner at the start of `b`.
    fn new(b: &'a [u8]) -> Self {
        Scan {
            b,
            i: 0,
            plain: is_plain(b),
        }
    }

    /// A string at `i`; returns its content span and whether it has escapes.
    /// Only the escapes the canonical form writes are accepted.
    #[inline]
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i + 1;
        if self.plain {
            let end = find_quote(self.b, start);
            if end == self.b.len() {
                return None;
            }
            self.i = end + 1;
            return Some((start, end, false));
        }
        let mut i = start;
        let mut escaped = false;
        loop {
            i = find_special(self.b, i);
            match self.b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some((start, i, escaped));
                }
                b'\\' => {
                    escaped = true;
                    match self.b.get(i + 1)? {
                        b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => i += 2,
                        b'u' => {
                            let hex = self.b.get(i + 2..i + 6)?;
                            if &hex[..2] != b"00" {
                                return None;
                            }
                            let lower = |c: u8| matches!(c, b'0'..=b'9' | b'a'..=b'f');
                            if !lower(hex[2]) || !lower(hex[3]) || hex[2] > b'1' {
                                return None;
                            }
                            // The short forms must be used where they exist.
                            if matches!(&hex[2..], b"08" | b"09" | b"0a" | b"0c" | b"0d") {
                                return None;
                            }
                            i += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// An integer in canonical form that `serde_json` keeps as an integer.
    fn number(&mut self) -> Option<()> {
        let b = self.b;
        let mut i = self.i;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = i - start;
        // `-0`, leading zeros, fractions, exponents and integers of 19
        // digits or more (which may become floats) are left to the parser.
        if digits == 0 || digits > 18 || (b[start] == b'0' && (digits > 1 || negative)) {
            return None;
        }
        if matches!(b.get(i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.i = i;
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match *self.b.get(self.i)? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > SCAN_DEPTH_MAX {
            return None;
        }
        self.i += 1;
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Some(());
        }
        loop {
            self.value(depth)?;
            match self.b.get(self.i)? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A nested object: keys without escapes, strictly increasing.
    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > SCAN_DEPTH_MAX {
            return None;
        }
        self.i += 1;
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Some(());
        }
        let mut previous: &[u8] = &[];
        let mut first = true;
        loop {
            let (start, end, escaped) = self.string()?;
            let key = &self.b[start..end];
            if escaped || (!first && !ascends(previous, key)) {
                return None;
            }
            previous = key;
            first = false;
            if self.b.get(self.i) != Some(&b':') {
                return None;
            }
            self.i += 1;
            self.value(depth)?;
            match self.b.get(self.i)? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// The text of a string value at `start..end` (unescaped when it has
/// escapes, which are then only canonical ones and so parse).
fn string_at(text: &str, start: usize, end: usize, escaped: bool) -> Option<Cow<'_, str>> {
    if escaped {
        serde_json::from_str::<String>(&text[start - 1..end + 1])
            .ok()
            .map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(&text[start..end]))
    }
}

/// Reads a context in canonical form in one pass; `None` when it is not
/// canonical (then it is parsed).
fn scan_canonical(text: &str) -> Option<ContextFields<'_>> {
    let mut scan = Scan::new(text.as_bytes());
    if scan.b.first() != Some(&b'{') {
        return None;
    }
    let mut fields = ContextFields {
        hash_chain: Field::Absent,
        previous_hash: Field::Absent,
        key_id: Field::Absent,
        entry_id: None,
        entity_type: None,
        form: Form::Canonical { text, cut: (0, 0) },
    };
    let mut cut = (0, 0);
    scan.i = 1;
    if scan.b.get(1) == Some(&b'}') {
        return (text.len() == 2).then_some(fields);
    }
    let mut previous: &[u8] = &[];
    let mut first = true;
    loop {
        let member = scan.i;
        let (start, end, escaped) = scan.string()?;
        let key = &scan.b[start..end];
        if escaped || (!first && !ascends(previous, key)) {
            return None;
        }
        previous = key;
        first = false;
        if scan.b.get(scan.i) != Some(&b':') {
            return None;
        }
        scan.i += 1;
        let value = scan.i;
        let is_string = scan.b.get(value) == Some(&b'"');
        let (text_start, text_end, text_escaped) = if is_string {
            scan.string()?
        } else {
            scan.value(0)?;
            (0, 0, false)
        };
        let as_field = || {
            if is_string {
                string_at(text, text_start, text_end, text_escaped).map(Field::Text)
            } else if &scan.b[value..scan.i] == b"null" {
                Some(Field::Absent)
            } else {
                Some(Field::NotString)
            }
        };
        match key {
            b"hash_chain" => {
                fields.hash_chain = as_field()?;
                cut = (member, scan.i);
            }
            b"previous_hash" => fields.previous_hash = as_field()?,
            b"hash_key_id" => fields.key_id = as_field()?,
            b"entry_id" if is_string => {
                fields.entry_id = Some(string_at(text, text_start, text_end, text_escaped)?)
            }
            b"entity_type" if is_string => {
                fields.entity_type = Some(string_at(text, text_start, text_end, text_escaped)?)
            }
            _ => {}
        }
        match scan.b.get(scan.i)? {
            b',' => scan.i += 1,
            b'}' => {
                if scan.i + 1 != scan.b.len() {
                    return None;
                }
                break;
            }
            _ => return None,
        }
    }
    if cut != (0, 0) {
        // Take one comma with the member: the one before it, or else the
        // one after it.
        if scan.b[cut.0 - 1] == b',' {
            cut.0 -= 1;
        } else if scan.b[cut.1] == b',' {
            cut.1 += 1;
        }
    }
    fields.form = Form::Canonical { text, cut };
    Some(fields)
}

/// Reads a context that is canonical and plain (no backslash, no control
/// character, so no string has an escape) in one pass; `None` for any other
/// context, which [`read_context`] then reads. For the contexts it accepts
/// it reads what [`scan_canonical`] reads (tested against it and against
/// the full parser), keeping spans rather than strings.
fn scan_plain(text: &str) -> Option<PlainFields<'_>> {
    let b = text.as_bytes();
    if b.first() != Some(&b'{') || !is_plain(b) {
        return None;
    }
    let mut fields = PlainFields {
        text,
        hash_chain: ValueAt::Absent,
        previous_hash: ValueAt::Absent,
        key_id: ValueAt::Absent,
        entry_id: ValueAt::Absent,
        entity_type: ValueAt::Absent,
        cut: (0, 0),
    };
    if b.get(1) == Some(&b'}') {
        return (b.len() == 2).then_some(fields);
    }
    let mut i = 1;
    let mut previous: &[u8] = &[];
    loop {
        let member = i;
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = find_quote(b, i + 1);
        let key = b.get(i + 1..key_end)?;
        if member != 1 && !ascends(previous, key) {
            return None;
        }
        previous = key;
        if b.get(key_end + 1) != Some(&b':') {
            return None;
        }
        let value = key_end + 2;
        let at = if b.get(value) == Some(&b'"') {
            let end = find_quote(b, value + 1);
            if end >= b.len() {
                return None;
            }
            i = end + 1;
            ValueAt::Text(value + 1, end)
        } else {
            let mut scan = Scan {
                b,
                i: value,
                plain: true,
            };
            scan.value(0)?;
            i = scan.i;
            if &b[value..i] == b"null" {
                ValueAt::Absent
            } else {
                ValueAt::NotString
            }
        };
        match key {
            b"hash_chain" => {
                fields.hash_chain = at;
                fields.cut = (member, i);
            }
            b"previous_hash" => fields.previous_hash = at,
            b"hash_key_id" => fields.key_id = at,
            b"entry_id" if matches!(at, ValueAt::Text(..)) => fields.entry_id = at,
            b"entity_type" if matches!(at, ValueAt::Text(..)) => fields.entity_type = at,
            _ => {}
        }
        match b.get(i)? {
            b',' => i += 1,
            b'}' => {
                if i + 1 != b.len() {
                    return None;
                }
                break;
            }
            _ => return None,
        }
    }
    let cut = &mut fields.cut;
    if *cut != (0, 0) {
        // Take one comma with the member: the one before it, or else the
        // one after it.
        if b[cut.0 - 1] == b',' {
            cut.0 -= 1;
        } else if b[cut.1] == b',' {
            cut.1 += 1;
        }
    }
    Some(fields)
}

/// Appends `text` as a JSON string, escaped as the canonical form does.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    let b = text.as_bytes();
    out.push(b'"');
    let mut i = 0;
    loop {
        let next = find_special(b, i);
        out.extend_from_slice(&b[i..next]);
        let Some(&c) = b.get(next) else { break };
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            c => {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(DIGITS[usize::from(c >> 4)]);
                out.push(DIGITS[usize::from(c & 15)]);
            }
        }
        i = next + 1;
    }
    out.push(b'"');
}

/// Where canonical content goes (a reused buffer, hashed in one call).
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Writes the decimal digits of `n` at the end of `out`, leaving its last
/// byte free; returns how many bytes they take.
fn write_integer(out: &mut [u8; 21], n: i64) -> usize {
    /// The two digits of each number below 100.
    const PAIRS: [[u8; 2]; 100] = {
        const DIGITS: &[u8; 10] = b"0123456789";
        let mut table = [[0u8; 2]; 100];
        let mut i = 0;
        while i < 100 {
            table[i] = [DIGITS[i / 10], DIGITS[i % 10]];
            i += 1;
        }
        table
    };
    let mut at = out.len() - 1;
    let mut rest = n.unsigned_abs();
    while rest >= 100 {
        at -= 2;
        out[at..at + 2].copy_from_slice(&PAIRS[(rest % 100) as usize]);
        rest /= 100;
    }
    if rest >= 10 {
        at -= 2;
        out[at..at + 2].copy_from_slice(&PAIRS[(rest % 100) as usize]);
    } else {
        at -= 1;
        out[at] = b'0' + (rest % 10) as u8;
    }
    if n < 0 {
        at -= 1;
        out[at] = b'-';
    }
    out.len() - 1 - at
}

/// Buffers reused from one record's content to the next: the encoded
/// fields after the context, kept with the fields they encode, since
/// consecutive records mostly share their type, source, service, region
/// and tier.
#[derive(Debug, Default)]
pub struct ContentScratch {
    /// The five fields `tail` encodes, one after another.
    fields: Vec<u8>,
    /// Where each of the five ends in `fields`.
    ends: [usize; 5],
    /// `,"event_type":...,"timestamp_ns":` for those fields.
    tail: Vec<u8>,
    /// Whether `tail` has been written at all.
    filled: bool,
    /// The content being hashed.
    content: Vec<u8>,
}

impl ContentScratch {
    /// Empty buffers.
    #[must_use]
    pub fn new() -> Self {
        ContentScratch::default()
    }

    /// Whether `tail` encodes exactly `fields`.
    fn holds(&self, fields: &[&str; 5]) -> bool {
        if !self.filled {
            return false;
        }
        let mut start = 0;
        for (field, &end) in fields.iter().zip(&self.ends) {
            if self.fields.get(start..end) != Some(field.as_bytes()) {
                return false;
            }
            start = end;
        }
        true
    }

    /// The encoded fields after the context, up to the timestamp's digits.
    fn tail_of(&mut self, record: &ChainRecord<'_>) -> &[u8] {
        let fields = [
            record.event_type,
            record.region,
            record.service_name,
            record.source,
            record.tier_id,
        ];
        if !self.holds(&fields) {
            self.fields.clear();
            self.tail.clear();
            for ((name, field), end) in [
                &b",\"event_type\":"[..],
                b",\"region\":",
                b",\"service_name\":",
                b",\"source\":",
                b",\"tier_id\":",
            ]
            .into_iter()
            .zip(fields)
            .zip(&mut self.ends)
            {
                self.fields.extend_from_slice(field.as_bytes());
                *end = self.fields.len();
                self.tail.extend_from_slice(name);
                push_json_string(&mut self.tail, field);
            }
            self.tail.extend_from_slice(b",\"timestamp_ns\":");
            self.filled = true;
        }
        &self.tail
    }
}

/// Writes the canonical content of `record` (docs/AUDIT.md) into `sink`.
fn write_content(
    sink: &mut impl Sink,
    scratch: &mut ContentScratch,
    record: &ChainRecord<'_>,
    form: FormRef<'_>,
) {
    sink.put(b"{\"context\":");
    match form {
        FormRef::Canonical { text, cut } => {
            sink.put(&text.as_bytes()[..cut.0]);
            sink.put(&text.as_bytes()[cut.1..]);
        }
        FormRef::Parsed(map) => {
            let mut context = String::new();
            let mut map = map.clone();
            map.remove(HASH_CHAIN);
            canonical_json(&Value::Object(map), &mut context);
            sink.put(context.as_bytes());
        }
    }
    sink.put(scratch.tail_of(record));
    let mut digits = [0u8; 21];
    let used = write_integer(&mut digits, record.timestamp.as_unix_nanos());
    let end = digits.len();
    digits[end - 1] = b'}';
    sink.put(&digits[end - 1 - used..]);
}

/// The canonical content of a record, the bytes that are hashed (the same
/// bytes `audit::canonical_content` gives); `Err` when its context is not a
/// JSON object.
pub fn canonical_content_of(record: &ChainRecord<'_>) -> std::result::Result<Vec<u8>, String> {
    let fields = read_context(record.context)?;
    let mut out = Vec::new();
    write_content(&mut out, &mut ContentScratch::new(), record, fields.form());
    Ok(out)
}

/// The value of each lowercase hex digit; 0xff for any other byte.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0u8;
    while i < 10 {
        table[(b'0' + i) as usize] = i;
        i += 1;
    }
    let mut i = 0u8;
    while i < 6 {
        table[(b'a' + i) as usize] = 10 + i;
        i += 1;
    }
    table
};

/// Decodes 64 lowercase hex digits.
fn unhex(text: &str) -> Option<[u8; 32]> {
    let b: &[u8; 64] = text.as_bytes().try_into().ok()?;
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (i, byte) in out.iter_mut().enumerate() {
        let (high, low) = (
            HEX_VALUE[usize::from(b[2 * i])],
            HEX_VALUE[usize::from(b[2 * i + 1])],
        );
        bad |= (high | low) & 0xf0;
        *byte = (high << 4) | (low & 15);
    }
    (bad == 0).then_some(out)
}

/// `bytes` as 64 lowercase hex digits.
fn hex64(bytes: &[u8; 32]) -> [u8; 64] {
    /// Each byte's two lowercase hex digits.
    const PAIRS: [[u8; 2]; 256] = {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut table = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
            i += 1;
        }
        table
    };
    let mut out = [0u8; 64];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&PAIRS[usize::from(b)]);
    }
    out
}

/// Whether `stored` (a record's `hash_chain`) is `computed` as 64
/// lowercase hex digits, compared in time independent of where they
/// differ (eight words rather than 64 bytes: the same constant-time
/// compare with an eighth of the optimisation barriers).
fn hex_matches(computed: &[u8; 32], stored: &str) -> bool {
    let Ok(stored) = <&[u8; 64]>::try_from(stored.as_bytes()) else {
        // Not 64 digits: no hash this verifier computes.
        return false;
    };
    let words = |b: &[u8; 64]| -> [u64; 8] {
        std::array::from_fn(|i| {
            u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"))
        })
    };
    bool::from(subtle::ConstantTimeEq::ct_eq(
        &words(&hex64(computed))[..],
        &words(stored)[..],
    ))
}

/// An entity's last stored `hash_chain`: kept as 32 bytes when it is 64
/// lowercase hex digits (as written), else as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum LastHash {
    #[default]
    None,
    Hex([u8; 32]),
    Text(Box<str>),
}

impl LastHash {
    fn of(text: &str) -> Self {
        match unhex(text) {
            Some(bytes) => LastHash::Hex(bytes),
            None => LastHash::Text(text.into()),
        }
    }

    /// Whether `previous` (a record's `previous_hash`) names this hash.
    fn is(&self, previous: Option<&str>) -> bool {
        match (self, previous) {
            (LastHash::None, None) => true,
            (LastHash::Hex(bytes), Some(text)) => {
                <&[u8; 64]>::try_from(text.as_bytes()).is_ok_and(|text| {
                    // Word by word, inline: cheaper than a call to compare
                    // 64 bytes.
                    let hex = hex64(bytes);
                    let word = |b: &[u8; 64], i: usize| {
                        u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"))
                    };
                    (0..8).fold(0, |difference, i| {
                        difference | (word(&hex, i) ^ word(text, i))
                    }) == 0
                })
            }
            (LastHash::Text(kept), Some(text)) => **kept == *text,
            _ => false,
        }
    }
}

/// The key a chained record is hashed with: `Ok(None)` for keyless
/// SHA-256, `Err` with the failure when it names no key given, or names
/// none while keys are given.
fn key_of<'k, 'a>(
    keys: &'k AuditKeyring,
    fields: &impl ReadFields<'a>,
) -> std::result::Result<Option<&'k AuditKey>, EntryCheck> {
    match fields.key_id().text() {
        Some(id) => match keys.get(id) {
            Some(key) => Ok(Some(key)),
            None => Err(EntryCheck::UnknownKey(id.to_string())),
        },
        None if !keys.is_empty() => Err(EntryCheck::Unkeyed),
        None => Ok(None),
    }
}

/// The hash of a record's canonical content: HMAC-SHA-256 under `key`, or
/// SHA-256 without one.
fn record_hash(
    key: Option<&AuditKey>,
    record: &ChainRecord<'_>,
    form: FormRef<'_>,
    scratch: &mut ContentScratch,
) -> [u8; 32] {
    // Written out whole and hashed in one call: cheaper than feeding the
    // hash five pieces (0.49 against 0.47 of raw SHA-256, same run).
    let mut content = std::mem::take(&mut scratch.content);
    content.clear();
    write_content(&mut content, scratch, record, form);
    let hash = match key {
        Some(key) => {
            let mut mac = hmac_sha256_pieces(key.secret());
            hmac::Mac::update(&mut mac, &content);
            hmac::Mac::finalize(mac).into_bytes().into()
        }
        None => Sha256::digest(&content).into(),
    };
    scratch.content = content;
    hash
}

/// The hash [`EntityChain`]'s check would compute for `record`, computed
/// ahead of the check: it depends on the record and the keys only, never
/// on chain state. `None` when the check computes none (no chain field,
/// an unreadable context, no stored hash, or no usable key).
fn precompute_hash(
    keys: &AuditKeyring,
    record: &ChainRecord<'_>,
    scratch: &mut ContentScratch,
) -> Option<[u8; 32]> {
    if !may_be_chained(record.context) {
        return None;
    }
    let fields = read_context(record.context).ok()?;
    if !fields.is_chained() || fields.hash_chain.text().is_none() {
        return None;
    }
    let key = key_of(keys, &fields).ok()?;
    Some(record_hash(key, record, fields.form(), scratch))
}

/// One entity's chain as verification walks it: the state carried from one
/// record to the next, and nothing else.
#[derive(Clone, Debug, Default)]
pub struct EntityChain {
    last: LastHash,
    started: bool,
    /// Records of the entity checked so far.
    checked: u64,
    /// Whether a record has failed (its first failure was reported).
    failed: bool,
    /// The chain's first links were dropped by retention: it was taken up
    /// from its first retained link (or the snapshot's head).
    below_mark: bool,
}

impl EntityChain {
    /// A chain with nothing checked yet.
    #[must_use]
    pub fn new() -> Self {
        EntityChain::default()
    }

    /// Whether a chained record has been checked.
    #[must_use]
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Takes the chain up at `record`, its first retained link after a
    /// retention drop: the predecessor it names is accepted (it was
    /// dropped). A record that names none, or is not chained, changes
    /// nothing.
    pub fn take_up(&mut self, record: &ChainRecord<'_>) {
        if let Ok(fields) = read_context(record.context)
            && fields.is_chained()
            && let Some(previous) = fields.previous_hash.text()
        {
            self.last = LastHash::of(previous);
            self.started = true;
            self.below_mark = true;
        }
    }

    /// Checks the entity's next record, `record` with its context already
    /// read as `fields` (or the reason it could not be). `precomputed` is
    /// the record's hash as [`precompute_hash`] gives it, when it was
    /// computed beforehand (on another thread); `scratch` is a buffer
    /// reused between calls.
    fn check_fields<'a>(
        &mut self,
        keys: &AuditKeyring,
        record: &ChainRecord<'_>,
        fields: &impl ReadFields<'a>,
        precomputed: Option<[u8; 32]>,
        scratch: &mut ContentScratch,
    ) -> EntryCheck {
        self.checked += 1;
        for (key, field) in [
            (HASH_CHAIN, fields.hash_chain()),
            (PREVIOUS_HASH, fields.previous_hash()),
            (HASH_KEY_ID, fields.key_id()),
        ] {
            if field == FieldRef::NotString {
                return EntryCheck::Malformed(format!("{key} is not a string"));
            }
        }
        if !fields.carries_chain() {
            return if self.started {
                EntryCheck::UnchainedAfterChain
            } else {
                EntryCheck::Unchained
            };
        }
        let expected_previous = std::mem::take(&mut self.last);
        self.started = true;
        let Some(stored) = fields.hash_chain().text() else {
            return EntryCheck::MissingHash;
        };
        // Later links are checked against the stored hash, so one bad
        // record does not also fail the next.
        let key = match key_of(keys, fields) {
            Ok(key) => key,
            Err(failure) => {
                self.last = LastHash::of(stored);
                return failure;
            }
        };
        let computed = match precomputed {
            Some(hash) => hash,
            None => record_hash(key, record, fields.form(), scratch),
        };
        if !hex_matches(&computed, stored) {
            self.last = LastHash::of(stored);
            return EntryCheck::HashMismatch;
        }
        // The stored hash is the computed one: kept without decoding it.
        self.last = LastHash::Hex(computed);
        if !expected_previous.is(fields.previous_hash().text()) {
            return EntryCheck::BrokenLink;
        }
        EntryCheck::Valid
    }

    /// Checks the entity's next record (the trail's path: every record the
    /// fold attached to the entity, and every chained record naming it).
    pub fn check(
        &mut self,
        keys: &AuditKeyring,
        record: &ChainRecord<'_>,
        scratch: &mut ContentScratch,
    ) -> EntryVerification {
        let fields = read_context(record.context);
        let check = match &fields {
            Err(why) => {
                self.checked += 1;
                EntryCheck::Malformed(why.clone())
            }
            Ok(read) => self.check_fields(keys, record, read, None, scratch),
        };
        let key_id = fields
            .as_ref()
            .ok()
            .and_then(|f| f.key_id.text().map(String::from));
        EntryVerification {
            sequence: record.sequence,
            key_id,
            check,
        }
    }
}

/// Whether a record whose context carries no chain field still concerns
/// its entry's chain: a DLQ event of the entry (as the fold reads them),
/// which after a chain has started must be chained too.
fn concerns_entry(record: &ChainRecord<'_>, entity_type: Option<&str>) -> bool {
    is_chained_event_type(record.event_type)
        && (record.event_type != events::AUDIT_LINK
            || entity_type.is_none_or(|t| t.is_empty() || t == events::DLQ_ENTRY_ENTITY_TYPE))
}

/// One record's verification as [`ChainVerifier::push`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainStep<'a> {
    /// The entity (the context's `entry_id`); `None` for a chained record
    /// without a string `entry_id`, which belongs to no chain and fails.
    pub entity: Option<Cow<'a, str>>,
    /// The record's sequence.
    pub sequence: u64,
    /// 1-based: how many records of this entity's chain were checked up to
    /// and including this one.
    pub position: u64,
    /// The outcome.
    pub check: EntryCheck,
    /// Whether this is the first failure of the entity's chain.
    pub first_failure: bool,
}

/// Where an entity id lies in [`ChainVerifier`]'s buffer of ids.
#[derive(Clone, Copy, Debug)]
struct IdSpan {
    start: usize,
    end: usize,
}

impl IdSpan {
    /// Appends `id` to `ids`; its span there.
    fn push(ids: &mut String, id: &str) -> IdSpan {
        let start = ids.len();
        ids.push_str(id);
        IdSpan {
            start,
            end: ids.len(),
        }
    }

    /// The id in `ids`.
    fn of(self, ids: &str) -> &str {
        &ids[self.start..self.end]
    }
}

/// Shards of the per-chain map: each grows on its own, so growing never
/// holds two copies of more than a small part of the state.
const SHARDS: usize = 64;

/// Verifies every audit chain of a journal in one pass over its records,
/// in sequence order, keeping per chain only its [`EntityChain`] state.
pub struct ChainVerifier<'k> {
    keys: &'k AuditKeyring,
    /// Per shard, each chain's state and where its entity id lies in
    /// `ids`.
    shards: Vec<HashTable<(IdSpan, EntityChain)>>,
    /// Every entity id, one after another: one growing buffer rather than
    /// an allocation per chain.
    ids: String,
    hasher: hashbrown::DefaultHashBuilder,
    scratch: ContentScratch,
    chains: u64,
    records: u64,
    chained: u64,
    retention: Retention,
}

/// Each entity's chain head (the last link's stored hash), by entity id.
pub type ChainHeads = std::collections::HashMap<Box<str>, Box<str>>;

/// What the chain pass knows of a journal whose oldest segments were
/// dropped (docs/AUDIT.md, "Retention"): the retention mark, and the
/// statistics snapshot's chain heads that anchor the chains begun below
/// it.
#[derive(Clone, Debug, Default)]
pub struct ChainAnchors {
    /// The retention mark (the first retained sequence), if any dropped.
    pub mark: Option<u64>,
    /// The snapshot's sequence and the chain head (the last link's stored
    /// hash) of every entity it records, at that sequence.
    pub snapshot: Option<(u64, ChainHeads)>,
    /// Entities the snapshot knows without a head (chained records of no
    /// entry): their chains may begin below the mark, unanchored.
    pub known: std::collections::HashSet<Box<str>>,
}

/// Whether a chain first met at `record`, whose first link names a
/// predecessor, began below the retention mark.
fn begins_below_mark(retention: &Retention, record: &ChainRecord<'_>, entity: &str) -> bool {
    let anchors = &retention.anchors;
    let Some(mark) = anchors.mark else {
        return false;
    };
    record.sequence >= mark
        && match &anchors.snapshot {
            None => true,
            Some((_, heads)) => heads.contains_key(entity) || anchors.known.contains(entity),
        }
}

/// The verifier's retention state.
#[derive(Debug, Default)]
struct Retention {
    anchors: ChainAnchors,
    /// The snapshot's heads were compared (the pass went past its sequence).
    anchored: bool,
    /// Failures found comparing with the snapshot's heads.
    failures: Vec<ChainStep<'static>>,
    /// Chains taken up below the mark.
    taken_up: u64,
}

impl<'k> ChainVerifier<'k> {
    /// A verifier for a journal whose oldest segments were dropped:
    /// a chain first met at or above the mark whose first link names a
    /// predecessor is taken up from there when the snapshot knows the
    /// entity (or there is no snapshot), and at the snapshot's sequence
    /// every such chain must be at the snapshot's head (a chain with no
    /// link between the mark and the snapshot then goes on from that
    /// head). Anything else is a `broken_link`, as without retention.
    #[must_use]
    pub fn with_anchors(keys: &'k AuditKeyring, anchors: ChainAnchors) -> Self {
        let mut verifier = ChainVerifier::new(keys);
        verifier.retention.anchors = anchors;
        verifier
    }

    /// Chains whose first links were dropped, taken up at the mark.
    #[must_use]
    pub fn chains_below_mark(&self) -> u64 {
        self.retention.taken_up
    }

    /// Compares the chains taken up below the mark with the snapshot's
    /// heads, once, when the pass goes past the snapshot's sequence (or
    /// ends); seeds the chains with no link since.
    fn anchor_at_snapshot(&mut self) {
        if self.retention.anchored {
            return;
        }
        self.retention.anchored = true;
        let Some((at, heads)) = self.retention.anchors.snapshot.take() else {
            return;
        };
        let below = self.retention.anchors.mark.unwrap_or(0);
        for (entity, head) in &heads {
            let (hash, shard) = self.hash_and_shard(entity);
            let hasher = &self.hasher;
            let ids = &mut self.ids;
            let table = &mut self.shards[shard];
            match table
                .find_mut(hash, |(id, _)| id.of(ids) == &**entity)
                .map(|(_, state)| state)
            {
                Some(state) if state.below_mark && !state.last.is(Some(head)) && !state.failed => {
                    state.failed = true;
                    self.retention.failures.push(ChainStep {
                        entity: Some(Cow::Owned(entity.to_string())),
                        sequence: at,
                        position: state.checked,
                        check: EntryCheck::BrokenLink,
                        first_failure: true,
                    });
                }
                Some(_) => {}
                None if below > 0 => {
                    // No link between the mark and the snapshot: the next
                    // one must follow the snapshot's head.
                    self.chains += 1;
                    self.retention.taken_up += 1;
                    let id = IdSpan::push(ids, entity);
                    let state = EntityChain {
                        last: LastHash::of(head),
                        started: true,
                        below_mark: true,
                        ..EntityChain::default()
                    };
                    table.insert_unique(hash, (id, state), |(id, _)| hasher.hash_one(id.of(ids)));
                }
                None => {}
            }
        }
        self.retention.anchors.snapshot = Some((at, heads));
    }

    /// The failures found against the snapshot's heads (after the pass).
    fn finish(&mut self) -> Vec<ChainStep<'static>> {
        self.anchor_at_snapshot();
        std::mem::take(&mut self.retention.failures)
    }

    /// A verifier holding `keys` (none: keyless chains only).
    #[must_use]
    pub fn new(keys: &'k AuditKeyring) -> Self {
        ChainVerifier {
            keys,
            shards: (0..SHARDS).map(|_| HashTable::new()).collect(),
            ids: String::new(),
            hasher: Default::default(),
            scratch: ContentScratch::new(),
            chains: 0,
            records: 0,
            chained: 0,
            retention: Retention::default(),
        }
    }

    /// Entities with a chain seen so far.
    #[must_use]
    pub fn chains(&self) -> u64 {
        self.chains
    }

    /// Records pushed so far.
    #[must_use]
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Chained records (carrying a chain field) pushed so far.
    #[must_use]
    pub fn chained_records(&self) -> u64 {
        self.chained
    }

    /// The hash of `entity`, and its shard: from bits of the hash that the
    /// shard's table does not use for its buckets (the low bits) or its
    /// tags (the top seven), so every shard spreads its entities as well as
    /// one table would.
    fn hash_and_shard(&self, entity: &str) -> (u64, usize) {
        let hash = self.hasher.hash_one(entity);
        (hash, (hash >> 40) as usize % SHARDS)
    }

    /// Checks the next record (records must come in sequence order). `None`
    /// when the record concerns no chain: no chain field, and not a DLQ
    /// event of an entity whose chain has started.
    pub fn push<'r>(&mut self, record: &ChainRecord<'r>) -> Option<ChainStep<'r>> {
        self.push_hashed(record, None)
    }

    /// [`ChainVerifier::push`], with the record's hash computed beforehand
    /// by [`precompute_hash`] (`None`: computed here, if needed).
    fn push_hashed<'r>(
        &mut self,
        record: &ChainRecord<'r>,
        precomputed: Option<[u8; 32]>,
    ) -> Option<ChainStep<'r>> {
        self.records += 1;
        if !self.retention.anchored
            && let Some((at, _)) = &self.retention.anchors.snapshot
            && record.sequence > *at
        {
            self.anchor_at_snapshot();
        }
        // A DLQ event of a chained journal is read whatever it holds; any
        // other record only when it may carry a chain field.
        let read_anyway = self.chains != 0 && concerns_entry(record, None);
        if !read_anyway && !may_be_chained(record.context) {
            return None;
        }
        if let Some(plain) = scan_plain(record.context) {
            return self.push_read(record, &plain, precomputed);
        }
        match read_context(record.context) {
            // Unreadable: it carries no chain it could be checked against,
            // but a DLQ event of a chained entity cannot be read either.
            Err(_) => None,
            Ok(fields) => self.push_read(record, &fields, precomputed),
        }
    }

    /// [`ChainVerifier::push_hashed`] once the record's context is read.
    fn push_read<'r>(
        &mut self,
        record: &ChainRecord<'r>,
        fields: &impl ReadFields<'r>,
        precomputed: Option<[u8; 32]>,
    ) -> Option<ChainStep<'r>> {
        let chained = is_member(record, fields);
        if chained {
            self.chained += 1;
        } else if !concerns_entry(record, fields.entity_type()) {
            return None;
        }
        let entity = fields.entry_id();
        let Some(entity) = entity.filter(|id| !id.is_empty()) else {
            if !chained {
                return None;
            }
            return Some(ChainStep {
                entity: None,
                sequence: record.sequence,
                position: 1,
                check: EntryCheck::Malformed(
                    "a chained record needs a non-empty string entry_id".into(),
                ),
                first_failure: true,
            });
        };
        let (hash, shard) = self.hash_and_shard(&entity);
        let hasher = &self.hasher;
        let ids = &mut self.ids;
        let table = &mut self.shards[shard];
        let state = match table.find_mut(hash, |(id, _)| id.of(ids) == &*entity) {
            Some((_, state)) => state,
            None if !chained => return None,
            None => {
                self.chains += 1;
                // A first link naming a predecessor the retention mark
                // dropped: the chain is taken up from it.
                let taken_up = match fields.previous_hash().text() {
                    Some(previous) if begins_below_mark(&self.retention, record, &entity) => {
                        self.retention.taken_up += 1;
                        EntityChain {
                            last: LastHash::of(previous),
                            started: true,
                            below_mark: true,
                            ..EntityChain::default()
                        }
                    }
                    _ => EntityChain::default(),
                };
                let id = IdSpan::push(ids, &entity);
                let entry = table
                    .insert_unique(hash, (id, taken_up), |(id, _)| hasher.hash_one(id.of(ids)));
                &mut entry.into_mut().1
            }
        };
        let check = state.check_fields(self.keys, record, fields, precomputed, &mut self.scratch);
        let first_failure = !check.is_ok() && !state.failed;
        state.failed |= !check.is_ok();
        Some(ChainStep {
            entity: Some(entity),
            sequence: record.sequence,
            position: state.checked,
            check,
            first_failure,
        })
    }
}

/// What checking every audit chain of a journal found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainsReport {
    /// Records read.
    pub records: u64,
    /// Records carrying a chain field.
    pub chained_records: u64,
    /// Entities with a chain.
    pub chains: u64,
    /// The first failure of each failing chain, in sequence order (at most
    /// [`FAILURES_KEPT`]; `failed_chains` counts them all).
    pub failures: Vec<ChainFailure>,
    /// Chains that fail.
    pub failed_chains: u64,
    /// With no key given, chains whose first failure is a keyed hash
    /// (`unknown_key`): not verified, not counted as failed. With keys
    /// given, an unknown key id is a failure.
    pub unverifiable: u64,
    /// Chains whose first links were dropped by retention, verified from
    /// their first retained link (and against the snapshot's heads).
    pub chains_below_mark: u64,
}

impl ChainsReport {
    /// No chain fails.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.failed_chains == 0
    }
}

/// The first failure of one chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainFailure {
    /// The entity (`None`: a chained record without an entry id).
    pub entity: Option<String>,
    /// The failing record's sequence.
    pub sequence: u64,
    /// Its 1-based position among the entity's checked records.
    pub position: u64,
    /// Why it fails.
    pub check: EntryCheck,
}

/// Failures [`verify_chains`] keeps in its report; the rest are counted.
pub const FAILURES_KEPT: usize = 10_000;

/// Records per batch of the two-thread pass.
pub const BATCH_RECORDS: usize = 512;

/// Text bytes after which a batch is sent even when it holds fewer than
/// its records: a batch stays near 256 KiB whatever the record sizes.
const BATCH_BYTES: usize = 256 << 10;

/// Batches in flight between the two threads at most (sent, not yet
/// applied): with the one being filled, the pass holds at most this many
/// plus one.
const IN_FLIGHT: usize = 3;

/// Adds one record's step to the report.
fn note(report: &mut ChainsReport, keys: &AuditKeyring, step: Option<ChainStep<'_>>) {
    let Some(step) = step.filter(|step| step.first_failure) else {
        return;
    };
    if matches!(step.check, EntryCheck::UnknownKey(_)) && keys.is_empty() {
        // Given no key, a keyed chain cannot be vouched for; given keys, a
        // key id outside them fails like any forgery.
        report.unverifiable += 1;
    } else {
        report.failed_chains += 1;
        if report.failures.len() < FAILURES_KEPT {
            report.failures.push(ChainFailure {
                entity: step.entity.map(Cow::into_owned),
                sequence: step.sequence,
                position: step.position,
                check: step.check,
            });
        }
    }
}

/// Verifies every audit chain of `journal` in one pass (see
/// [`ChainVerifier`]), on the calling thread:
/// [`verify_chains_sequential`]. The two-thread pass,
/// [`verify_chains_in_batches`], gives the same report but measured slower
/// on 2 vCPUs shared with other work (docs/PERFORMANCE.md, goal 8), so it
/// is not the default.
pub fn verify_chains<J: EventJournal + ?Sized>(
    journal: &J,
    keys: &AuditKeyring,
) -> Result<ChainsReport> {
    verify_chains_sequential(journal, keys)
}

/// Verifies every audit chain of `journal` in one pass on the calling
/// thread, each record pushed to one [`ChainVerifier`].
pub fn verify_chains_sequential<J: EventJournal + ?Sized>(
    journal: &J,
    keys: &AuditKeyring,
) -> Result<ChainsReport> {
    verify_chains_anchored(journal, keys, ChainAnchors::default())
}

/// [`verify_chains_sequential`] of a journal whose oldest segments were
/// dropped, with the retention mark and the snapshot's chain heads
/// ([`ChainAnchors`]): chains begun below the mark are taken up at their
/// first retained link and checked against the snapshot's heads.
pub fn verify_chains_anchored<J: EventJournal + ?Sized>(
    journal: &J,
    keys: &AuditKeyring,
    anchors: ChainAnchors,
) -> Result<ChainsReport> {
    let mut verifier = ChainVerifier::with_anchors(keys, anchors);
    let mut report = ChainsReport::default();
    journal.for_each_ref_from(0, &mut |entry| {
        note(&mut report, keys, verifier.push(&ChainRecord::from(entry)));
        Ok(())
    })?;
    finish_report(&mut report, keys, &mut verifier);
    Ok(report)
}

/// The verifier's counts, and the failures against the snapshot's heads.
fn finish_report(report: &mut ChainsReport, keys: &AuditKeyring, verifier: &mut ChainVerifier<'_>) {
    for step in verifier.finish() {
        note(report, keys, Some(step));
    }
    report.records = verifier.records();
    report.chained_records = verifier.chained_records();
    report.chains = verifier.chains();
    report.chains_below_mark = verifier.chains_below_mark();
}

/// Where one record's fields lie in a [`Batch`]'s text.
struct Slot {
    sequence: u64,
    timestamp: Timestamp,
    /// The ends of `event_type`, `source`, `service_name`, `region`,
    /// `tier_id` and `context`, written one after another from `start`.
    start: usize,
    ends: [usize; 6],
}

/// Records copied out of the journal, and their hashes once computed.
#[derive(Default)]
struct Batch {
    text: String,
    slots: Vec<Slot>,
    hashes: Vec<Option<[u8; 32]>>,
}

impl Batch {
    fn push(&mut self, entry: &EntryRef<'_>) {
        let start = self.text.len();
        let mut ends = [0; 6];
        for (end, field) in ends.iter_mut().zip([
            entry.event_type,
            entry.source,
            entry.service_name,
            entry.region,
            entry.tier_id,
            entry.context,
        ]) {
            self.text.push_str(field);
            *end = self.text.len();
        }
        self.slots.push(Slot {
            sequence: entry.sequence,
            timestamp: entry.timestamp,
            start,
            ends,
        });
    }

    fn record(&self, slot: &Slot) -> ChainRecord<'_> {
        let field = |i: usize| {
            let from = if i == 0 { slot.start } else { slot.ends[i - 1] };
            &self.text[from..slot.ends[i]]
        };
        ChainRecord {
            sequence: slot.sequence,
            event_type: field(0),
            source: field(1),
            service_name: field(2),
            region: field(3),
            tier_id: field(4),
            timestamp: slot.timestamp,
            context: field(5),
        }
    }

    fn is_full(&self, records: usize) -> bool {
        self.slots.len() >= records || self.text.len() >= BATCH_BYTES
    }

    fn clear(&mut self) {
        self.text.clear();
        self.slots.clear();
        self.hashes.clear();
    }
}

/// The hash of each record of `batch`, as [`precompute_hash`] gives it.
fn hash_batch(
    keys: &AuditKeyring,
    batch: &Batch,
    scratch: &mut ContentScratch,
) -> Vec<Option<[u8; 32]>> {
    batch
        .slots
        .iter()
        .map(|slot| precompute_hash(keys, &batch.record(slot), scratch))
        .collect()
}

/// Verifies every audit chain of `journal` in one pass on two threads: the
/// calling thread reads the records and copies them into batches of
/// `batch_records` (or about 256 KiB); a second thread computes each
/// record's hash (which depends on the record and the keys only); the
/// calling thread then pushes the records, in sequence order, with their
/// hashes, to one [`ChainVerifier`], which makes every check. A batch
/// the second thread has not started on when its turn comes is hashed by
/// the calling thread itself, so neither waits for a thread that has no
/// core. At most a few batches are in flight, so memory stays bounded. The report is the
/// one [`verify_chains_sequential`] gives.
pub fn verify_chains_in_batches<J: EventJournal + ?Sized>(
    journal: &J,
    keys: &AuditKeyring,
    batch_records: usize,
) -> Result<ChainsReport> {
    use std::collections::VecDeque;
    use std::sync::mpsc::channel;
    use std::sync::{Arc, Condvar, Mutex};
    let batch_records = batch_records.max(1);
    let mut verifier = ChainVerifier::new(keys);
    let mut report = ChainsReport::default();
    let (to_hasher, hasher_in) = channel::<Arc<Job>>();
    let outcome = std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut scratch = ContentScratch::new();
            for job in hasher_in {
                job.hash_unless_claimed(keys, &mut scratch);
            }
        });
        let mut scratch = ContentScratch::new();
        // Sent, in sequence order, not yet applied.
        let mut pending: VecDeque<Arc<Job>> = VecDeque::with_capacity(IN_FLIGHT);
        let mut spare: Option<Batch> = None;
        let mut filling = Batch::default();
        let mut apply = |job: Arc<Job>, scratch: &mut ContentScratch, spare: &mut Option<Batch>| {
            let hashes = job.hashes(keys, scratch);
            for (slot, &hash) in job.batch.slots.iter().zip(&hashes) {
                let step = verifier.push_hashed(&job.batch.record(slot), hash);
                note(&mut report, keys, step);
            }
            if let Ok(job) = Arc::try_unwrap(job) {
                let mut batch = job.batch;
                batch.clear();
                *spare = Some(batch);
            }
        };
        let send = move |batch: Batch, pending: &mut VecDeque<Arc<Job>>| {
            let job = Arc::new(Job {
                batch,
                hashes: Mutex::new(None),
                done: Condvar::new(),
            });
            pending.push_back(job.clone());
            // The hasher stops only when the sender is dropped; were it
            // gone, the calling thread hashes every batch itself.
            let _ = to_hasher.send(job);
        };
        let mut read = |entry: &EntryRef<'_>| -> Result<()> {
            filling.push(entry);
            if filling.is_full(batch_records) {
                if pending.len() == IN_FLIGHT {
                    let oldest = pending.pop_front().expect("in flight");
                    apply(oldest, &mut scratch, &mut spare);
                }
                let next = spare.take().unwrap_or_default();
                send(std::mem::replace(&mut filling, next), &mut pending);
            }
            Ok(())
        };
        let outcome = journal.for_each_ref_from(0, &mut read);
        if outcome.is_ok() {
            if !filling.slots.is_empty() {
                send(filling, &mut pending);
            }
            while let Some(job) = pending.pop_front() {
                apply(job, &mut scratch, &mut spare);
            }
        }
        drop(send);
        outcome
    });
    outcome?;
    finish_report(&mut report, keys, &mut verifier);
    Ok(report)
}

/// The hashes of a batch's records, one per record.
type Hashes = Vec<Option<[u8; 32]>>;

/// One batch between the two threads: whichever claims it first hashes it.
struct Job {
    batch: Batch,
    /// `None` until claimed; `Some(None)` while being hashed, then the
    /// hashes.
    hashes: std::sync::Mutex<Option<Option<Hashes>>>,
    done: std::sync::Condvar,
}

impl Job {
    /// Claims the batch, or `false` when the other thread has.
    fn claim(&self) -> bool {
        let mut state = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        if state.is_some() {
            return false;
        }
        *state = Some(None);
        true
    }

    /// The hasher's side: hashes the batch unless the calling thread has
    /// claimed it.
    fn hash_unless_claimed(&self, keys: &AuditKeyring, scratch: &mut ContentScratch) {
        if self.claim() {
            let hashes = hash_batch(keys, &self.batch, scratch);
            *self.hashes.lock().unwrap_or_else(|e| e.into_inner()) = Some(Some(hashes));
            self.done.notify_all();
        }
    }

    /// The hashes of the batch: computed here when the hasher has not
    /// started on it, else waited for.
    fn hashes(&self, keys: &AuditKeyring, scratch: &mut ContentScratch) -> Hashes {
        if self.claim() {
            return hash_batch(keys, &self.batch, scratch);
        }
        let mut state = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(Some(hashes)) = state.as_mut() {
                return std::mem::take(hashes);
            }
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::audit::canonical_content;

    fn entry(context: &str) -> JournalEntry {
        let mut entry = JournalEntry::new(
            "audit_link",
            "src \"q\"\n",
            Timestamp::from_unix_nanos(-5),
            "svc\u{1}é",
        );
        entry.context = crate::entry::Context::from_json(context).unwrap();
        entry
    }

    #[test]
    fn both_paths_write_the_same_content() {
        for context in [
            r#"{}"#,
            r#"{"hash_chain":"x"}"#,
            r#"{"a":1,"hash_chain":"x"}"#,
            r#"{"hash_chain":"x","z":[1,2,{"b":null,"c":true}]}"#,
            r#"{"a":"q\"\\\n\u001f\u007f é","hash_chain":"x","z":-12}"#,
            r#"{"hash\u005fchain":"x","a":1}"#,
            r#"{ "a": 1, "hash_chain": "x" }"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":1.5,"b":1e3,"c":-0,"d":123456789012345678901234}"#,
            r#"{"a":"\/","b":"\u00e9","c":"\u000a"}"#,
            r#"{"a":{"y":1,"x":2},"hash_chain":null}"#,
            r#"{"a":1,"a":2}"#,
        ] {
            let entry = entry(context);
            let expected = canonical_content(&entry).unwrap();
            let got = canonical_content_of(&ChainRecord::from(&entry)).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), expected, "{context}");
        }
    }

    #[test]
    fn find_special_finds_the_first_quote_backslash_or_control() {
        let naive = |b: &[u8], i: usize| {
            (i..b.len())
                .find(|&k| matches!(b[k], b'"' | b'\\' | 0..=0x1f))
                .unwrap_or(b.len())
        };
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 70] {
            for at in 0..=len {
                for special in [b'"', b'\\', 0, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes.extend_from_slice("é\u{7f} ".as_bytes());
                    if at < len {
                        bytes[at] = special;
                    }
                    for start in [0, 1.min(bytes.len())] {
                        assert_eq!(
                            find_special(&bytes, start),
                            naive(&bytes, start),
                            "{bytes:?} from {start}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_record_at_the_top_of_the_sequence_space_is_checked() {
        use crate::journal::{EventJournal, MemoryJournal};
        use crate::projection::audit::seal;
        use crate::projection::events::AuditLink;
        let journal = MemoryJournal::new();
        let at = Timestamp::from_unix_nanos(1);
        let mut first = AuditLink::new("e", "store").to_entry(at);
        let hash = seal(&mut first, None, None).unwrap();
        let mut last = AuditLink::new("e", "review").to_entry(at);
        seal(&mut last, Some(&hash), None).unwrap();
        last.region = "edited".into();
        journal.append_at(u64::MAX - 1, &first).unwrap();
        journal.append_at(u64::MAX, &last).unwrap();
        let report = verify_chains(&journal, &AuditKeyring::new()).unwrap();
        assert_eq!(
            report.failures,
            vec![ChainFailure {
                entity: Some("e".into()),
                sequence: u64::MAX,
                position: 2,
                check: EntryCheck::HashMismatch,
            }]
        );
    }

    #[test]
    fn the_link_of_a_record_is_its_entity_and_hashes_as_verification_reads_them() {
        let entry = |context: &str| {
            JournalEntry::new("dlq_store", "s", Timestamp::from_unix_nanos(0), "svc")
                .with_context(crate::entry::Context::from_json(context).unwrap())
        };
        let link = |context: &str| {
            let entry = entry(context);
            chain_link(&ChainRecord::from(&entry)).map(|l| {
                (
                    l.entity.into_owned(),
                    l.hash_chain.map(Cow::into_owned),
                    l.previous_hash.map(Cow::into_owned),
                )
            })
        };
        let some = |e: &str, h: Option<&str>, p: Option<&str>| {
            Some((e.to_string(), h.map(String::from), p.map(String::from)))
        };
        // Canonical text and any other spelling give the same link.
        assert_eq!(
            link(r#"{"entry_id":"e","hash_chain":"h2","previous_hash":"h1"}"#),
            some("e", Some("h2"), Some("h1"))
        );
        assert_eq!(
            link(r#"{ "previous\u005fhash": "h1", "hash\u005fchain": "h2", "entry_id": "e" }"#),
            some("e", Some("h2"), Some("h1"))
        );
        // Any chain field makes a member, with or without the hashes.
        assert_eq!(
            link(r#"{"entry_id":"e","hash_key_id":"k"}"#),
            some("e", None, None)
        );
        assert_eq!(
            link(r#"{"entry_id":"e","hash_chain":7}"#),
            some("e", None, None)
        );
        // No chain field, or no entity: no chain.
        assert_eq!(link(r#"{"entry_id":"e","hash":"x"}"#), None);
        assert_eq!(link(r#"{"hash_chain":"h"}"#), None);
        assert_eq!(link(r#"{"entry_id":"","hash_chain":"h"}"#), None);
    }

    /// A chain field as the full parser reads it, owned.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Owned {
        Absent,
        Text(String),
        NotString,
    }

    fn owned(field: FieldRef<'_>) -> Owned {
        match field {
            FieldRef::Absent => Owned::Absent,
            FieldRef::Text(text) => Owned::Text(text.to_string()),
            FieldRef::NotString => Owned::NotString,
        }
    }

    /// What verification must read of `text`, by the full parser
    /// (`serde_json` and the canonical writer): the three chain fields,
    /// `entry_id`, `entity_type`, the canonical context without
    /// `hash_chain`, and the whole context written canonically. `None`
    /// when it is not a JSON object.
    #[expect(clippy::type_complexity, reason = "a test's tuple of answers")]
    fn full_reading(
        text: &str,
    ) -> Option<([Owned; 3], Option<String>, Option<String>, String, String)> {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        let field = |key: &str| match map.get(key) {
            None | Some(Value::Null) => Owned::Absent,
            Some(Value::String(text)) => Owned::Text(text.clone()),
            Some(_) => Owned::NotString,
        };
        let string = |key: &str| match map.get(key) {
            Some(Value::String(text)) => Some(text.clone()),
            _ => None,
        };
        let mut whole = String::new();
        canonical_json(&Value::Object(map.clone()), &mut whole);
        let mut without = map.clone();
        without.remove(HASH_CHAIN);
        let mut context = String::new();
        canonical_json(&Value::Object(without), &mut context);
        Some((
            [field(HASH_CHAIN), field(PREVIOUS_HASH), field(HASH_KEY_ID)],
            string("entry_id"),
            string("entity_type"),
            context,
            whole,
        ))
    }

    /// The same answers from a fast reading.
    fn reading<'a>(
        fields: &impl ReadFields<'a>,
    ) -> ([Owned; 3], Option<String>, Option<String>, String) {
        let context = match fields.form() {
            FormRef::Canonical { text, cut } => format!("{}{}", &text[..cut.0], &text[cut.1..]),
            FormRef::Parsed(map) => {
                let mut map = map.clone();
                map.remove(HASH_CHAIN);
                let mut out = String::new();
                canonical_json(&Value::Object(map), &mut out);
                out
            }
        };
        (
            [
                owned(fields.hash_chain()),
                owned(fields.previous_hash()),
                owned(fields.key_id()),
            ],
            fields.entry_id().map(Cow::into_owned),
            fields.entity_type().map(String::from),
            context,
        )
    }

    /// Adversarial contexts: the chain keys and look-alikes (escaped
    /// spellings included) in any order, duplicated, with strings that
    /// need escapes, numbers the canonical form writes differently, nested
    /// values, whitespace, and a third of them then damaged by one byte.
    fn adversarial_contexts(seed: u64, count: usize) -> Vec<String> {
        let mut state = seed | 1;
        let mut next = move |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % below as u64).expect("below a usize")
        };
        let keys = [
            "entry_id",
            "hash_chain",
            "previous_hash",
            "hash_key_id",
            "entity_type",
            "a",
            "zz",
            "hash",
            "hash_chain2",
            "entry_i",
            "hash\\u005fchain",
            "entry\\u005fid",
            "\\u0068ash_key_id",
            "\u{e9}",
            "A",
        ];
        let hex = format!("\"{}\"", "0123456789abcdef".repeat(4));
        let values = [
            "\"e1\"",
            "\"\"",
            "\"h\\\"q\"",
            "\"tab\\t\"",
            "\"\\u00e9\"",
            "\"\\/\"",
            "\"\u{e9}\u{2028}\u{7f}\"",
            "\"\\u001f\"",
            "\"\\u000a\"",
            "null",
            "true",
            "false",
            "0",
            "-0",
            "12",
            "-7",
            "1.5",
            "1e3",
            "123456789012345678",
            "1234567890123456789",
            "12345678901234567890123",
            "{}",
            "[]",
            "{\"b\":1,\"a\":2}",
            "{\"a\":{\"b\":[1,\"x\",null]}}",
            "[1,[2,[3]],{\"a\":\"\"}]",
            &hex,
        ];
        let damage = ["\"", "\\", "\n", " ", ",", "}", "{", ":", "\u{1}", "]"];
        (0..count)
            .map(|_| {
                let mut members: Vec<(String, String)> = (0..next(7))
                    .map(|_| {
                        (
                            keys[next(keys.len())].to_string(),
                            values[next(values.len())].to_string(),
                        )
                    })
                    .collect();
                if next(10) < 7 {
                    members.sort();
                }
                let (comma, colon) = match next(8) {
                    0 => (", ", ":"),
                    1 => (",", " : "),
                    _ => (",", ":"),
                };
                let body: Vec<String> = members
                    .iter()
                    .map(|(key, value)| format!("\"{key}\"{colon}{value}"))
                    .collect();
                let mut text = format!("{{{}}}", body.join(comma));
                if next(20) == 0 {
                    text = format!(" {text}\n");
                }
                if next(3) == 0 {
                    let boundaries: Vec<usize> = (0..=text.len())
                        .filter(|&i| text.is_char_boundary(i))
                        .collect();
                    let at = boundaries[next(boundaries.len())];
                    match next(3) {
                        0 => text.insert_str(at, damage[next(damage.len())]),
                        1 if at < text.len() => {
                            text.remove(at);
                        }
                        _ => text.truncate(at),
                    }
                }
                text
            })
            .collect()
    }

    #[test]
    fn the_plain_scan_reads_what_the_full_parser_reads() {
        let seed = 0x5eed_c0de_2026_1206;
        let (mut plain, mut other, mut invalid) = (0, 0, 0);
        for text in adversarial_contexts(seed, 20_000) {
            let full = full_reading(&text);
            let fast = scan_plain(&text);
            if let Some(fields) = &fast {
                plain += 1;
                let (chain, entry_id, entity_type, context, whole) = full
                    .as_ref()
                    .unwrap_or_else(|| panic!("seed {seed:#x}: plain but not JSON: {text}"));
                // Accepted only when the text is already canonical.
                assert_eq!(&text, whole, "seed {seed:#x}: not canonical");
                assert_eq!(
                    reading(fields),
                    (
                        chain.clone(),
                        entry_id.clone(),
                        entity_type.clone(),
                        context.clone()
                    ),
                    "seed {seed:#x}: {text}"
                );
            }
            // The reader the verifier falls back to agrees too.
            match (read_context(&text), full) {
                (Ok(fields), Some((chain, entry_id, entity_type, context, _))) => {
                    if fast.is_none() {
                        other += 1;
                    }
                    assert_eq!(
                        reading(&fields),
                        (chain, entry_id, entity_type, context),
                        "seed {seed:#x}: {text}"
                    );
                }
                (Err(_), None) => invalid += 1,
                (read, full) => panic!(
                    "seed {seed:#x}: {text}: read {:?}, full parser {}",
                    read.err(),
                    full.is_some()
                ),
            }
        }
        // The generator reaches all three kinds of context.
        assert!(plain > 2_000, "{plain} plain");
        assert!(other > 2_000, "{other} JSON but not plain");
        assert!(invalid > 1_000, "{invalid} not JSON objects");
    }

    /// A journal of 30 chained entities (four links each), a fifth of them
    /// left alone and the rest forged in four ways; `respell` rewrites each
    /// stored context before it is appended.
    fn forged_journal(
        key: Option<&AuditKey>,
        respell: impl Fn(&str) -> String,
    ) -> crate::journal::MemoryJournal {
        use crate::journal::{EventJournal, MemoryJournal};
        use crate::projection::audit::seal;
        use crate::projection::events::AuditLink;
        let journal = MemoryJournal::new();
        for entity in 0..30u64 {
            let id = format!("e{entity}");
            let mut previous: Option<String> = None;
            for link in 0..4i64 {
                let mut event = AuditLink::new(id.clone(), format!("step {link}"))
                    .to_entry(Timestamp::from_unix_nanos(link));
                previous = Some(seal(&mut event, previous.as_deref(), key).unwrap());
                match (entity % 5, link) {
                    // An edited field, the hashes left alone.
                    (1, 1) => event.region = "edited".into(),
                    // A deleted first link.
                    (2, 0) => continue,
                    // The chain fields stripped.
                    (3, 2) => {
                        event.context =
                            crate::entry::Context::from_json(&format!(r#"{{"entry_id":"{id}"}}"#))
                                .unwrap()
                    }
                    // An edited event type.
                    (4, 3) => event.event_type = "dlq_stora".into(),
                    _ => {}
                }
                event.context =
                    crate::entry::Context::from_json(&respell(event.context.as_str())).unwrap();
                journal.append(&event).unwrap();
            }
        }
        journal
    }

    #[test]
    fn plain_and_other_spellings_of_the_same_contexts_give_the_same_report() {
        let key = AuditKey::new("k1", b"secret".to_vec()).unwrap();
        for (key, keys) in [
            (None, AuditKeyring::new()),
            (Some(&key), AuditKeyring::new().with(key.clone())),
        ] {
            let plain = forged_journal(key, str::to_string);
            let report = verify_chains(&plain, &keys).unwrap();
            assert_eq!(report.chains, 30);
            assert_eq!(report.failed_chains, 24, "{report:?}");
            // The same objects spelled with a space (not canonical: read by
            // the full parser), and with an escape (not plain).
            let spaced = forged_journal(key, |text| format!("{{ {}", &text[1..]));
            let escaped = forged_journal(key, |text| text.replace("\"step", "\"\\u0073tep"));
            assert_eq!(verify_chains(&spaced, &keys).unwrap(), report);
            assert_eq!(verify_chains(&escaped, &keys).unwrap(), report);
        }
    }

    #[test]
    fn timestamps_are_written_as_their_decimal_digits() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            1_700_000_000_000_000_000,
            -5,
            -10,
            i64::MIN,
            i64::MAX,
        ] {
            let mut digits = [0u8; 21];
            let used = write_integer(&mut digits, n);
            assert_eq!(&digits[20 - used..20], n.to_string().as_bytes(), "{n}");
        }
    }

    #[test]
    fn quotes_are_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                if at < len {
                    bytes[at] = b'"';
                }
                for start in 0..=len {
                    let expected = (start..len).find(|&k| bytes[k] == b'"').unwrap_or(len);
                    assert_eq!(find_quote(&bytes, start), expected, "{len} {at} {start}");
                }
            }
        }
    }

    #[test]
    fn escaped_chain_keys_are_chain_fields() {
        let fields = read_context(r#"{"entry\u005fid":"e","hash\u005fchain":"h"}"#).unwrap();
        assert!(fields.is_chained());
        assert_eq!(fields.entry_id.as_deref(), Some("e"));
        assert!(may_be_chained(r#"{"\u0068ash_chain":"h"}"#));
    }
}
