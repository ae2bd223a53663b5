//! The fold's readers of event contexts: typed, borrowing the context text
//! where it has no escapes. A missing key takes its default; a key of the
//! wrong type makes the event malformed, and the fold skips it.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::entry::Timestamp;

/// Optional text borrowed from the context.
pub(crate) type Text<'a> = Option<Cow<'a, str>>;

/// Why an event could not be read.
#[derive(Debug)]
pub(crate) struct Malformed(pub(crate) String);

/// Parses a context into `T`.
pub(crate) fn parse<'a, T: Deserialize<'a>>(context: &'a str) -> Result<T, Malformed> {
    serde_json::from_str(context).map_err(|e| Malformed(e.to_string()))
}

/// The text when present and not empty: the fold treats `""` as absent.
pub(crate) fn non_empty<'b>(text: &'b Text<'_>) -> Option<&'b str> {
    text.as_deref().filter(|s| !s.is_empty())
}

/// A time given as RFC 3339 text (a space instead of `T`, as Python's
/// `str()` writes, is accepted; no offset means UTC).
pub(crate) fn time(text: &Text<'_>, key: &str) -> Result<Option<Timestamp>, Malformed> {
    match non_empty(text) {
        None => Ok(None),
        Some(text) => Timestamp::parse(text)
            .map(Some)
            .map_err(|e| Malformed(format!("{key}: {e}"))),
    }
}

/// An entry id: required, and never empty.
pub(crate) fn required_id(entry_id: &str) -> Result<&str, Malformed> {
    if entry_id.is_empty() {
        Err(Malformed("entry_id is empty".into()))
    } else {
        Ok(entry_id)
    }
}

/// `dlq_store`.
#[derive(Deserialize)]
pub(crate) struct StoreWire<'a> {
    #[serde(borrow)]
    pub entry_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub domain: Text<'a>,
    #[serde(default, borrow)]
    pub failure_type: Text<'a>,
    #[serde(default, borrow)]
    pub status: Text<'a>,
    #[serde(default, borrow)]
    pub entity_type: Text<'a>,
    #[serde(default, borrow)]
    pub entity_id: Text<'a>,
    #[serde(default)]
    pub user_id: Option<i64>,
    #[serde(default)]
    pub retry_count: Option<i64>,
    #[serde(default)]
    pub max_retries: Option<i64>,
    #[serde(default, borrow)]
    pub error_code: Text<'a>,
    #[serde(default, borrow)]
    pub error_message: Text<'a>,
    #[serde(default, borrow)]
    pub snapshot_data: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub metadata: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub expires_at: Text<'a>,
}

/// A lifecycle event (`dlq_replay_start`, ...).
#[derive(Deserialize)]
pub(crate) struct LifecycleWire<'a> {
    #[serde(borrow)]
    pub entry_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub status: Text<'a>,
    #[serde(default)]
    pub retry_count: Option<i64>,
}

/// `dlq_archive`, `dlq_purge`: the entry id alone matters to the fold.
#[derive(Deserialize)]
pub(crate) struct EntryWire<'a> {
    #[serde(borrow)]
    pub entry_id: Cow<'a, str>,
}

/// `audit_link`.
#[derive(Deserialize)]
pub(crate) struct LinkWire<'a> {
    #[serde(borrow)]
    pub entry_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub entity_type: Text<'a>,
}

/// `dlq_persist`: the runtime's snapshot, kept under `entry`.
#[derive(Deserialize)]
pub(crate) struct PersistWire<'a> {
    #[serde(borrow)]
    pub entry_id: Cow<'a, str>,
    #[serde(borrow)]
    pub entry: SnapshotWire<'a>,
}

/// The fields of a snapshot the fold reads; others are kept in the journal
/// only.
#[derive(Deserialize)]
pub(crate) struct SnapshotWire<'a> {
    #[serde(default, borrow)]
    pub domain: Text<'a>,
    #[serde(default, borrow)]
    pub failure_type: Text<'a>,
    #[serde(default, borrow)]
    pub status: Text<'a>,
    #[serde(default, borrow)]
    pub entity_type: Text<'a>,
    #[serde(default, borrow)]
    pub entity_id: Text<'a>,
    #[serde(default)]
    pub user_id: Option<i64>,
    #[serde(default)]
    pub retry_count: Option<i64>,
    #[serde(default)]
    pub max_retries: Option<i64>,
    #[serde(default, borrow)]
    pub error_code: Text<'a>,
    #[serde(default, borrow)]
    pub error_message: Text<'a>,
    #[serde(default, borrow)]
    pub snapshot_data: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub metadata: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub created_at: Text<'a>,
    #[serde(default, borrow)]
    pub updated_at: Text<'a>,
    #[serde(default, borrow)]
    pub resolved_at: Text<'a>,
    #[serde(default, borrow)]
    pub last_retry_at: Text<'a>,
    #[serde(default, borrow)]
    pub expires_at: Text<'a>,
}

/// A snapshot's times, parsed.
pub(crate) struct SnapshotTimes {
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub last_retry_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

impl PersistWire<'_> {
    pub(crate) fn times(&self) -> Result<SnapshotTimes, Malformed> {
        let entry = &self.entry;
        Ok(SnapshotTimes {
            created_at: time(&entry.created_at, "created_at")?,
            updated_at: time(&entry.updated_at, "updated_at")?,
            resolved_at: time(&entry.resolved_at, "resolved_at")?,
            last_retry_at: time(&entry.last_retry_at, "last_retry_at")?,
            expires_at: time(&entry.expires_at, "expires_at")?,
        })
    }
}

/// Reads a `dlq_persist` context as the fold will: the check
/// `persist_entry` makes before journaling a snapshot.
pub(crate) fn check_persist(context: &str) -> Result<(), Malformed> {
    let wire: PersistWire<'_> = parse(context)?;
    required_id(&wire.entry_id)?;
    wire.times().map(|_| ())
}

/// A circuit-breaker event, with the keys the reference's publishers write.
#[derive(Deserialize)]
pub(crate) struct BreakerWire<'a> {
    #[serde(default, borrow)]
    pub service_name: Text<'a>,
    #[serde(default)]
    pub window_failure_count: Option<i64>,
    #[serde(default)]
    pub consecutive_failure_count: Option<i64>,
    #[serde(default)]
    pub failure_count: Option<i64>,
    #[serde(default)]
    pub success_count: Option<i64>,
}

impl BreakerWire<'_> {
    /// The failure count the event reports, if any.
    pub(crate) fn reported_failures(&self) -> Option<i64> {
        self.window_failure_count
            .or(self.consecutive_failure_count)
            .or(self.failure_count)
    }
}

/// The fields an audit trail shows of any DLQ event.
#[derive(Default, Deserialize)]
pub(crate) struct TrailWire<'a> {
    #[serde(default, borrow)]
    pub action: Text<'a>,
    #[serde(default, borrow)]
    pub actor_id: Text<'a>,
    #[serde(default, borrow)]
    pub status: Text<'a>,
    #[serde(default, borrow)]
    pub details: Text<'a>,
    #[serde(default, borrow)]
    pub audit_record_hash: Text<'a>,
    #[serde(default, borrow)]
    pub hash_chain: Text<'a>,
    #[serde(default, borrow)]
    pub previous_hash: Text<'a>,
}

/// Just the entry id of a DLQ event.
#[derive(Default, Deserialize)]
pub(crate) struct EntryIdWire<'a> {
    #[serde(default, borrow)]
    pub entry_id: Text<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_datetime_text_is_read() {
        let text: Text<'_> = Some("2025-01-01 00:00:00+00:00".into());
        let parsed = time(&text, "t").unwrap().unwrap();
        assert_eq!(parsed.to_string(), "2025-01-01T00:00:00Z");
        let naive: Text<'_> = Some("2025-01-01T02:00:00".into());
        assert_eq!(
            time(&naive, "t").unwrap().unwrap().to_string(),
            "2025-01-01T02:00:00Z"
        );
        assert!(time(&Some("yesterday".into()), "t").is_err());
        assert!(time(&Some("".into()), "t").unwrap().is_none());
    }

    #[test]
    fn wrong_types_are_malformed_and_missing_keys_default() {
        assert!(parse::<LifecycleWire<'_>>(r#"{"entry_id": 5}"#).is_err());
        assert!(parse::<LifecycleWire<'_>>(r#"{"status": "pending"}"#).is_err());
        let wire: LifecycleWire<'_> =
            parse(r#"{"entry_id": "a", "status": null, "extra": [1]}"#).unwrap();
        assert_eq!(required_id(&wire.entry_id).unwrap(), "a");
        assert!(wire.status.is_none());
        let empty: EntryWire<'_> = parse(r#"{"entry_id": ""}"#).unwrap();
        assert!(required_id(&empty.entry_id).is_err());
    }
}
