//! Stored values of both layouts, read as borrowed views: filters look at
//! the borrowed fields, and only entries a caller gets are copied out.
//!
//! Both layouts store one JSON object per entry with the keys `sequence,
//! event_type, source, timestamp, service_name, context, region, tier_id`
//! and, when written by this crate, `appended_at`; `timestamp` is RFC 3339
//! (ours, `Z`) or Python's `isoformat()` (the reference's, any offset or
//! none).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::entry::{Context, JournalEntry, Timestamp};
use crate::filter::FilterView;

#[derive(Deserialize)]
struct Raw<'a> {
    sequence: u64,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    service_name: Cow<'a, str>,
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
    #[serde(borrow, default)]
    region: Cow<'a, str>,
    #[serde(borrow, default)]
    tier_id: Cow<'a, str>,
    #[serde(borrow, default)]
    appended_at: Option<Cow<'a, str>>,
}

/// One stored entry, borrowed from the value's text.
pub(crate) struct View<'a> {
    raw: Raw<'a>,
    timestamp: Timestamp,
    appended_at: Option<Timestamp>,
}

/// Decodes a stored value; the error says what is wrong (the caller adds
/// the server, key and the value's start).
pub(crate) fn decode(text: &str) -> Result<View<'_>, String> {
    let raw: Raw<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if let Some(context) = raw.context
        && !context.get().starts_with('{')
        && context.get() != "null"
    {
        return Err("context is not a JSON object".into());
    }
    let timestamp = Timestamp::parse(&raw.timestamp).map_err(|e| e.to_string())?;
    let appended_at = match &raw.appended_at {
        Some(t) => Some(Timestamp::parse(t).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok(View {
        raw,
        timestamp,
        appended_at,
    })
}

impl View<'_> {
    /// The entry's sequence.
    pub(crate) fn sequence(&self) -> u64 {
        self.raw.sequence
    }

    /// An owned copy.
    pub(crate) fn to_entry(&self) -> JournalEntry {
        JournalEntry {
            sequence: self.raw.sequence,
            event_type: self.raw.event_type.to_string(),
            source: self.raw.source.to_string(),
            timestamp: self.timestamp,
            service_name: self.raw.service_name.to_string(),
            context: self.context_value(),
            region: self.raw.region.to_string(),
            tier_id: self.raw.tier_id.to_string(),
            appended_at: self.appended_at,
        }
    }

    fn context_value(&self) -> Context {
        match self.raw.context {
            Some(c) if c.get() != "null" => Context::from_trusted(c.get()),
            _ => Context::empty(),
        }
    }
}

impl FilterView for View<'_> {
    fn event_type(&self) -> &str {
        &self.raw.event_type
    }
    fn service_name(&self) -> &str {
        &self.raw.service_name
    }
    fn region(&self) -> &str {
        &self.raw.region
    }
    fn timestamp(&self) -> Timestamp {
        self.timestamp
    }
    fn context(&self) -> &str {
        match self.raw.context {
            Some(c) if c.get() != "null" => c.get(),
            _ => "{}",
        }
    }
}
