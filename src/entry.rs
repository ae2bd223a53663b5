//! The data model: [`JournalEntry`], [`Timestamp`], [`Context`], and the
//! query types [`JournalQueryFilter`] and [`JournalQueryResult`], with the
//! seed's serde field names.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::error::{Error, Result};

/// A point in time: UTC nanoseconds since the Unix epoch.
///
/// The stored range is that of an `i64` of nanoseconds, 1677-09-21T00:12:43.145224192Z
/// through 2262-04-11T23:47:16.854775807Z; anything outside is an
/// [`Error::InvalidTimestamp`]. JSON spells it RFC 3339 in UTC with `Z`,
/// with fractional seconds only when they are non-zero.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest storable time.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest storable time.
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// A timestamp from UTC nanoseconds since the Unix epoch.
    #[must_use]
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// UTC nanoseconds since the Unix epoch.
    #[must_use]
    pub const fn as_unix_nanos(self) -> i64 {
        self.0
    }

    /// The current time of the system clock.
    #[must_use]
    pub fn now() -> Self {
        let nanos = jiff::Timestamp::now().as_nanosecond();
        // The clock would have to be past 2262 for this to saturate.
        Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    /// Parses RFC 3339 text. Any UTC offset is accepted and converted to
    /// UTC; a date-time without an offset is taken as UTC.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidTimestamp {
            input: text.to_string(),
            reason,
        };
        let instant = match jiff::Timestamp::from_str(text) {
            Ok(ts) => ts,
            Err(with_offset) => match jiff::civil::DateTime::from_str(text) {
                Ok(civil) => jiff::tz::TimeZone::UTC
                    .to_timestamp(civil)
                    .map_err(|e| bad(e.to_string()))?,
                Err(_) => return Err(bad(with_offset.to_string())),
            },
        };
        check_offset(text).map_err(bad)?;
        let nanos = instant.as_nanosecond();
        i64::try_from(nanos).map(Timestamp).map_err(|_| {
            bad("outside the storable range 1677-09-21T00:12:43.145224192Z ..= 2262-04-11T23:47:16.854775807Z".into())
        })
    }
}

/// The largest UTC offset RFC 3339 allows, in seconds: 23:59.
const MAX_OFFSET_SECONDS: i32 = 23 * 3600 + 59 * 60;

/// Refuses a numeric UTC offset beyond ±23:59 (RFC 3339's `time-hour` is
/// 00 to 23; the parser underneath accepts up to ±25:59:59).
fn check_offset(text: &str) -> std::result::Result<(), String> {
    use jiff::fmt::temporal::{Pieces, PiecesOffset};
    let Ok(pieces) = Pieces::parse(text) else {
        return Ok(());
    };
    match pieces.offset() {
        Some(PiecesOffset::Numeric(numeric))
            if numeric.offset().seconds().abs() > MAX_OFFSET_SECONDS =>
        {
            Err(format!(
                "the UTC offset {} is beyond ±23:59",
                numeric.offset()
            ))
        }
        _ => Ok(()),
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every i64 of nanoseconds lies inside jiff's range.
        match jiff::Timestamp::from_nanosecond(i128::from(self.0)) {
            Ok(ts) => write!(f, "{ts}"),
            Err(_) => write!(f, "{}ns", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The deepest nesting a context may have, the context object itself
/// being level 1: `{"a":{"b":[1]}}` nests 3 levels.
///
/// Every reader of the journal parses what `append` accepts: the
/// statistics fold, `audit` and `verify` parse contexts with serde_json,
/// whose recursion limit (128 levels) also has to hold for a whole export
/// line (one level more than its context), and Python's `json` (the Redis
/// interop) allows about 1,000. 64 leaves room under all of them.
pub const MAX_CONTEXT_DEPTH: usize = 64;

/// Checks a context's JSON text (already known to be valid JSON) for what
/// some readers could not read back: nesting deeper than
/// [`MAX_CONTEXT_DEPTH`] and `\u` escapes of lone UTF-16 surrogates (JSON
/// text is Unicode; serde_json refuses them, Python's `json` accepts
/// them). One pass over the bytes, no allocation.
fn check_context_text(text: &str) -> std::result::Result<(), String> {
    check_json_text(text, Some(MAX_CONTEXT_DEPTH), "context")
}

/// What [`check_context_text`] checks, over any JSON text: `max_depth`
/// levels of nesting at most (when given), and no lone surrogate escape.
/// `what` names the text in the message.
fn check_json_text(
    text: &str,
    max_depth: Option<usize>,
    what: &str,
) -> std::result::Result<(), String> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => {
                depth += 1;
                if let Some(max) = max_depth
                    && depth > max
                {
                    return Err(format!(
                        "{what} nests deeper than {max} levels (at byte {i} of the {what}), \
                         the most every reader of the journal can parse"
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        if bytes.get(i + 1) == Some(&b'u') {
                            let unit = hex4(bytes, i + 2);
                            let high = unit.is_some_and(|u| (0xD800..0xDC00).contains(&u));
                            let low = unit.is_some_and(|u| (0xDC00..0xE000).contains(&u));
                            let paired = high
                                && bytes.get(i + 6) == Some(&b'\\')
                                && bytes.get(i + 7) == Some(&b'u')
                                && hex4(bytes, i + 8)
                                    .is_some_and(|u| (0xDC00..0xE000).contains(&u));
                            if (high && !paired) || low {
                                return Err(format!(
                                    "{what} holds a lone surrogate escape {} at byte {i}: JSON text must be \
                                     Unicode",
                                    &text[i..i + 6]
                                ));
                            }
                            i += if paired { 12 } else { 6 };
                            continue;
                        }
                        i += 2;
                        continue;
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The four hex digits at `at`, as a UTF-16 code unit.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

/// An entry's payload: a JSON object kept as the producer's text.
///
/// The text is validated once, on construction, and never re-serialized:
/// key order, spacing and big integers survive a round trip. Nothing parses
/// it on the append or replay path unless a filter or a caller asks. A
/// context nested deeper than [`MAX_CONTEXT_DEPTH`], or holding a `\u`
/// escape of a lone surrogate, is refused.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Context(Box<str>);

impl Context {
    /// The empty object `{}`.
    #[must_use]
    pub fn empty() -> Self {
        Context("{}".into())
    }

    /// Validates `text` as one JSON object (surrounding whitespace is dropped).
    pub fn from_json(text: &str) -> Result<Self> {
        let raw: &RawValue = serde_json::from_str(text)
            .map_err(|e| Error::InvalidEntry(format!("context is not valid JSON: {e}")))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: &RawValue) -> Result<Self> {
        let text = raw.get();
        if !text.starts_with('{') {
            return Err(Error::InvalidEntry(format!(
                "context must be a JSON object, got {}",
                crate::pystr::json_kind(text)
            )));
        }
        check_context_text(text).map_err(Error::InvalidEntry)?;
        Ok(Context(text.into()))
    }

    /// Builds a context from a parsed JSON value, which must be an object
    /// nested at most [`MAX_CONTEXT_DEPTH`] levels deep.
    pub fn from_value(value: &serde_json::Value) -> Result<Self> {
        if !value.is_object() {
            return Err(Error::InvalidEntry("context must be a JSON object".into()));
        }
        let text = value.to_string();
        check_context_text(&text).map_err(Error::InvalidEntry)?;
        Ok(Context(text.into()))
    }

    /// Checks again what construction checks (nesting depth, lone
    /// surrogates), for a context built without those checks.
    pub(crate) fn check(&self) -> Result<()> {
        check_context_text(&self.0).map_err(Error::InvalidEntry)
    }

    /// The JSON text, exactly as stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses the text into a JSON map (the caller asked, so we parse).
    #[must_use]
    pub fn to_value(&self) -> serde_json::Map<String, serde_json::Value> {
        // The text was validated as an object on construction.
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    /// Trusts `text` as an already validated object (from our own records,
    /// whose CRC has been checked).
    pub(crate) fn from_trusted(text: &str) -> Self {
        Context(text.into())
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::empty()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Context {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Context::from_json(s)
    }
}

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Output path only: re-checking the text costs what writing it costs.
        match serde_json::from_str::<&RawValue>(&self.0) {
            Ok(raw) => raw.serialize(serializer),
            Err(_) => Err(serde::ser::Error::custom("stored context is not JSON")),
        }
    }
}

impl<'de> Deserialize<'de> for Context {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Context::from_raw(&raw).map_err(|e| match e {
            // The entry's own error says "invalid entry" once.
            Error::InvalidEntry(message) => serde::de::Error::custom(message),
            other => serde::de::Error::custom(other),
        })
    }
}

/// One event in the journal. Immutable once appended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position in the journal, assigned on append (input values are
    /// ignored except by `append_at`). Strictly increasing; gaps are legal.
    #[serde(default)]
    pub sequence: u64,
    /// Opaque event name, for example `circuit_breaker_opened`.
    pub event_type: String,
    /// The component that emitted the event.
    pub source: String,
    /// When the event happened, as the producer says (UTC).
    pub timestamp: Timestamp,
    /// The service the event concerns; empty when none.
    pub service_name: String,
    /// The JSON object payload, kept as the producer's text.
    #[serde(default)]
    pub context: Context,
    /// Region label.
    #[serde(default)]
    pub region: String,
    /// Tier label: stored and returned, never filterable.
    #[serde(default)]
    pub tier_id: String,
    /// When the journal appended the entry. Filled on read; on write only
    /// `append_at` honours it (to carry an original append time over an
    /// import). Never serialized with the entry: export adds it explicitly.
    #[serde(default, skip_serializing)]
    pub appended_at: Option<Timestamp>,
}

impl JournalEntry {
    /// A new entry with empty context, region and tier; `sequence` is 0
    /// until the journal assigns one.
    pub fn new(
        event_type: impl Into<String>,
        source: impl Into<String>,
        timestamp: Timestamp,
        service_name: impl Into<String>,
    ) -> Self {
        JournalEntry {
            sequence: 0,
            event_type: event_type.into(),
            source: source.into(),
            timestamp,
            service_name: service_name.into(),
            context: Context::empty(),
            region: String::new(),
            tier_id: String::new(),
            appended_at: None,
        }
    }

    /// Parses one entry from a JSON object (seed field names; `sequence`
    /// may be absent). Errors say which field is wrong.
    pub fn from_json(text: &str) -> Result<Self> {
        require_object(text).map_err(Error::InvalidEntry)?;
        serde_json::from_str(text).map_err(|e| {
            // serde_json names a lone surrogate in a string field "end of
            // hex escape": say what it is.
            match check_json_text(text, None, "entry") {
                Err(surrogate) => Error::InvalidEntry(surrogate),
                Ok(()) => Error::InvalidEntry(e.to_string()),
            }
        })
    }

    /// Replaces the context.
    #[must_use]
    pub fn with_context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// Replaces the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Replaces the tier id.
    pub fn with_tier_id(mut self, tier_id: impl Into<String>) -> Self {
        self.tier_id = tier_id.into();
        self
    }
}

/// Serde's derived readers also take a JSON array as a struct's fields in
/// order; the public parsers accept only objects.
fn require_object(text: &str) -> std::result::Result<(), String> {
    match text.trim_start().as_bytes().first() {
        Some(b'{') => Ok(()),
        _ => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => Err(format!(
                "expected a JSON object, got {}",
                crate::pystr::json_kind(text)
            )),
            Err(e) => Err(format!("not JSON: {e}")),
        },
    }
}

/// The default `limit` of a query.
pub const DEFAULT_QUERY_LIMIT: usize = 1000;

fn default_limit() -> usize {
    DEFAULT_QUERY_LIMIT
}

/// Query criteria. A field left `None` sets no condition; every condition
/// that is set must hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalQueryFilter {
    /// The entry's `event_type` must be one of these. An empty list matches
    /// nothing.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Exact match on `service_name` (`""` matches entries without one).
    #[serde(default)]
    pub service_name: Option<String>,
    /// `timestamp >= start_time` (inclusive).
    #[serde(default)]
    pub start_time: Option<Timestamp>,
    /// `timestamp < end_time` (exclusive). A window with `end <= start`
    /// is legal and matches nothing.
    #[serde(default)]
    pub end_time: Option<Timestamp>,
    /// Exact match on `region`.
    #[serde(default)]
    pub region: Option<String>,
    /// The most entries to return (default 1000), capped by the backend's
    /// maximum query limit. `0` returns no entries but still counts.
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// For each key, the reference's string form of `context[key]` must
    /// equal the value (see [`crate::pystr`] and docs/DESIGN.md). `{}` sets
    /// no condition.
    #[serde(default)]
    pub context_filters: Option<BTreeMap<String, String>>,
}

impl Default for JournalQueryFilter {
    fn default() -> Self {
        JournalQueryFilter {
            event_types: None,
            service_name: None,
            start_time: None,
            end_time: None,
            region: None,
            limit: DEFAULT_QUERY_LIMIT,
            context_filters: None,
        }
    }
}

impl JournalQueryFilter {
    /// Parses a filter from its JSON form (seed field names), type-checked:
    /// unknown fields, non-string context values and negative limits are
    /// errors.
    pub fn from_json(text: &str) -> Result<Self> {
        require_object(text).map_err(Error::InvalidFilter)?;
        serde_json::from_str(text).map_err(|e| Error::InvalidFilter(e.to_string()))
    }
}

/// The answer to a query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalQueryResult {
    /// Matches in ascending sequence order, at most the effective limit.
    pub entries: Vec<JournalEntry>,
    /// More entries matched than were returned.
    pub truncated: bool,
    /// The number of all matches, exact.
    pub total_count: u64,
}

/// Conditions of a query beyond the seed's [`JournalQueryFilter`]: a
/// sequence cursor and an append-time window. An empty value (the
/// default) adds no condition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Only entries with a sequence above this one: the cursor of the next
    /// page is the last sequence of the page before.
    pub after_sequence: Option<u64>,
    /// Only entries appended at or after this time.
    pub appended_since: Option<Timestamp>,
    /// Only entries appended before this time (exclusive).
    pub appended_until: Option<Timestamp>,
}

impl QueryOptions {
    /// No condition set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == QueryOptions::default()
    }

    /// The first sequence that can match (`None`: none can).
    #[must_use]
    pub fn first_sequence(&self) -> Option<u64> {
        match self.after_sequence {
            None => Some(1),
            Some(after) => after.checked_add(1),
        }
    }

    /// Whether a record with this sequence and append time passes.
    #[must_use]
    pub fn admits(&self, sequence: u64, appended_at: Timestamp) -> bool {
        self.after_sequence.is_none_or(|after| sequence > after)
            && self.appended_since.is_none_or(|since| appended_at >= since)
            && self.appended_until.is_none_or(|until| appended_at < until)
    }
}

/// A record read straight from the segment bytes, borrowing them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The record's sequence.
    pub sequence: u64,
    /// Event time, UTC.
    pub timestamp: Timestamp,
    /// Append time, UTC.
    pub appended_at: Timestamp,
    /// The segment offset that was durable when the record was written.
    pub commit_hint: u64,
    /// Event name.
    pub event_type: &'a str,
    /// Emitting component.
    pub source: &'a str,
    /// Service concerned.
    pub service_name: &'a str,
    /// Region label.
    pub region: &'a str,
    /// Tier label.
    pub tier_id: &'a str,
    /// Context JSON text.
    pub context: &'a str,
}

impl JournalEntry {
    /// The entry as a borrowed record; `appended_at` is the event time when
    /// the entry has no append time, and `commit_hint` is 0.
    #[must_use]
    pub fn as_entry_ref(&self) -> EntryRef<'_> {
        EntryRef {
            sequence: self.sequence,
            timestamp: self.timestamp,
            appended_at: self.appended_at.unwrap_or(self.timestamp),
            commit_hint: 0,
            event_type: &self.event_type,
            source: &self.source,
            service_name: &self.service_name,
            region: &self.region,
            tier_id: &self.tier_id,
            context: self.context.as_str(),
        }
    }
}

impl EntryRef<'_> {
    /// Copies the record into an owned [`JournalEntry`].
    #[must_use]
    pub fn to_entry(&self) -> JournalEntry {
        JournalEntry {
            sequence: self.sequence,
            event_type: self.event_type.to_string(),
            source: self.source.to_string(),
            timestamp: self.timestamp,
            service_name: self.service_name.to_string(),
            context: Context::from_trusted(self.context),
            region: self.region.to_string(),
            tier_id: self.tier_id.to_string(),
            appended_at: Some(self.appended_at),
        }
    }
}
