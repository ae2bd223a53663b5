//! Tamper-evident audit chains (docs/AUDIT.md): every DLQ event written
//! through [`JournalStatistics`](crate::projection::JournalStatistics) with
//! chaining on carries, in its context, `hash_chain` (SHA-256, or
//! HMAC-SHA256 under a configured key, over the event's canonical content)
//! and `previous_hash` (the entity's previous `hash_chain`; absent for its
//! first chained event), plus `hash_key_id` when keyed.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::entry::{Context, JournalEntry};
use crate::error::{Error, Result};
use crate::projection::dto::EntityAuditTrail;
use crate::projection::events::{self, LifecycleKind};
use crate::projection::hmac::{hex, hmac_sha256, sha256};

/// The context key holding the event's chain hash (outside the content).
pub const HASH_CHAIN: &str = "hash_chain";
/// The context key holding the entity's previous chain hash.
pub const PREVIOUS_HASH: &str = "previous_hash";
/// The context key naming the key of a keyed hash.
pub const HASH_KEY_ID: &str = "hash_key_id";

/// Whether events of this type are chained: every DLQ event about one
/// entry (store, lifecycle steps, persist, archive, purge, audit links).
#[must_use]
pub fn is_chained_event_type(event_type: &str) -> bool {
    matches!(
        event_type,
        events::DLQ_STORE
            | events::DLQ_PERSIST
            | events::DLQ_ARCHIVE
            | events::DLQ_PURGE
            | events::AUDIT_LINK
    ) || LifecycleKind::from_event_type(event_type).is_some()
}

/// A signing key: an id recorded with each hash, and the secret.
#[derive(Clone)]
pub struct AuditKey {
    id: String,
    secret: Vec<u8>,
}

impl AuditKey {
    /// A key; the id and the secret must not be empty.
    pub fn new(id: impl Into<String>, secret: impl Into<Vec<u8>>) -> Result<Self> {
        let (id, secret) = (id.into(), secret.into());
        if id.is_empty() || secret.is_empty() {
            return Err(Error::InvalidOption(
                "an audit key needs a non-empty id and secret".into(),
            ));
        }
        Ok(AuditKey { id, secret })
    }

    /// The key's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret.
    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The keys a verifier knows, by id (old keys stay after a rotation).
#[derive(Clone, Debug, Default)]
pub struct AuditKeyring {
    keys: BTreeMap<String, AuditKey>,
}

impl AuditKeyring {
    /// No keys: only keyless chains verify.
    #[must_use]
    pub fn new() -> Self {
        AuditKeyring::default()
    }

    /// Adds (or replaces) a key.
    pub fn insert(&mut self, key: AuditKey) {
        self.keys.insert(key.id.clone(), key);
    }

    /// With `key` added.
    #[must_use]
    pub fn with(mut self, key: AuditKey) -> Self {
        self.insert(key);
        self
    }

    /// The key with this id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&AuditKey> {
        self.keys.get(id)
    }

    /// No keys.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Writes `value` as canonical JSON: keys sorted by code point at every
/// level, no whitespace, strings escaped as `serde_json` does (`"`, `\`,
/// and controls below U+0020; non-ASCII raw), numbers as `serde_json`
/// writes them.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The context of `event` as an object (an event's context always is one).
fn context_map(event: &JournalEntry) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(event.context.as_str()) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::InvalidEntry("context is not a JSON object".into())),
    }
}

/// The canonical content of an event, the bytes that are hashed: the
/// canonical JSON of `{"context", "event_type", "region",
/// "service_name", "source", "tier_id", "timestamp_ns"}`, where `context`
/// is the event's context without `hash_chain`.
pub fn canonical_content(event: &JournalEntry) -> Result<String> {
    let mut context = context_map(event)?;
    context.remove(HASH_CHAIN);
    Ok(content_of(event, context))
}

fn content_of(event: &JournalEntry, context: Map<String, Value>) -> String {
    let mut content = Map::new();
    content.insert("context".into(), Value::Object(context));
    content.insert("event_type".into(), event.event_type.clone().into());
    content.insert("region".into(), event.region.clone().into());
    content.insert("service_name".into(), event.service_name.clone().into());
    content.insert("source".into(), event.source.clone().into());
    content.insert("tier_id".into(), event.tier_id.clone().into());
    content.insert(
        "timestamp_ns".into(),
        event.timestamp.as_unix_nanos().into(),
    );
    let mut out = String::new();
    canonical_json(&Value::Object(content), &mut out);
    out
}

/// The hash of canonical content: HMAC-SHA256 under `key`, else SHA-256;
/// 64 lowercase hex digits.
#[must_use]
pub fn compute_hash(content: &[u8], key: Option<&AuditKey>) -> String {
    match key {
        Some(key) => hex(&hmac_sha256(&key.secret, content)),
        None => hex(&sha256(content)),
    }
}

/// Chains `event` after `previous`: sets `previous_hash` (removed when
/// `None`), `hash_key_id` (when keyed) and `hash_chain`. Returns the hash.
pub fn seal(
    event: &mut JournalEntry,
    previous: Option<&str>,
    key: Option<&AuditKey>,
) -> Result<String> {
    let mut context = context_map(event)?;
    context.remove(HASH_CHAIN);
    context.remove(PREVIOUS_HASH);
    context.remove(HASH_KEY_ID);
    if let Some(previous) = previous {
        context.insert(PREVIOUS_HASH.into(), previous.into());
    }
    if let Some(key) = key {
        context.insert(HASH_KEY_ID.into(), key.id.clone().into());
    }
    let hash = compute_hash(content_of(event, context.clone()).as_bytes(), key);
    context.insert(HASH_CHAIN.into(), hash.clone().into());
    event.context = Context::from_value(&Value::Object(context))?;
    Ok(hash)
}

/// The chain fields an event's context carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainFields {
    /// `hash_chain`.
    pub hash_chain: Option<String>,
    /// `previous_hash`.
    pub previous_hash: Option<String>,
    /// `hash_key_id`.
    pub key_id: Option<String>,
}

impl ChainFields {
    /// The fields of `event`; a field of the wrong type is `Err`.
    pub fn of(event: &JournalEntry) -> Result<Self> {
        let context = context_map(event)?;
        let text = |key: &str| match context.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(Error::InvalidEntry(format!("{key} is not a string"))),
        };
        Ok(ChainFields {
            hash_chain: text(HASH_CHAIN)?,
            previous_hash: text(PREVIOUS_HASH)?,
            key_id: text(HASH_KEY_ID)?,
        })
    }

    /// None of the fields: the event was written outside a chain.
    #[must_use]
    pub fn is_unchained(&self) -> bool {
        self.hash_chain.is_none() && self.previous_hash.is_none() && self.key_id.is_none()
    }
}

/// What the verification of one trail entry found, first failure first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "check", content = "detail")]
pub enum EntryCheck {
    /// The hash recomputes and the link matches.
    Valid,
    /// No chain fields, before any chained entry (written outside a chain).
    Unchained,
    /// The context cannot be read, or a chain field is not a string.
    Malformed(String),
    /// A chain field but no `hash_chain`.
    MissingHash,
    /// The recomputed hash differs from the stored one: content changed.
    HashMismatch,
    /// Keyed with a key the verifier does not hold.
    UnknownKey(String),
    /// Keyless while the verifier holds keys: written (or forged) without
    /// the key.
    Unkeyed,
    /// `previous_hash` is not the previous chained entry's `hash_chain`
    /// (or is set on the entity's first chained entry).
    BrokenLink,
    /// No chain fields after a chained entry: its chain was stripped.
    UnchainedAfterChain,
}

impl EntryCheck {
    /// Passes: `Valid` or `Unchained`.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        matches!(self, EntryCheck::Valid | EntryCheck::Unchained)
    }
}

/// One trail entry's verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryVerification {
    /// The journal sequence of the entry's event.
    pub sequence: u64,
    /// The key id its hash names, if keyed.
    pub key_id: Option<String>,
    /// The outcome.
    pub check: EntryCheck,
}

/// An entity's audit trail with every entry verified: each hash recomputed
/// from the stored content and each link checked. `entries[i]` verifies
/// `trail.entries[i]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditVerification {
    /// The trail, as `get_audit_trail_by_entity` returns it.
    pub trail: EntityAuditTrail,
    /// One verification per trail entry, in trail order.
    pub entries: Vec<EntryVerification>,
}

impl AuditVerification {
    /// The index of the first entry that fails, if any.
    #[must_use]
    pub fn first_bad_entry(&self) -> Option<usize> {
        self.entries.iter().position(|entry| !entry.check.is_ok())
    }

    /// Every hash recomputes and every link matches.
    #[must_use]
    pub fn is_chain_valid(&self) -> bool {
        self.first_bad_entry().is_none()
    }

    /// At least one entry is chained.
    #[must_use]
    pub fn is_chained(&self) -> bool {
        self.entries
            .iter()
            .any(|entry| entry.check != EntryCheck::Unchained)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Timestamp;
    use crate::projection::chain::{ChainRecord, EntityChain};
    use crate::projection::events::AuditLink;

    #[test]
    fn canonical_json_sorts_and_compacts() {
        let value: Value =
            serde_json::from_str(r#"{"b": [1, {"z": null, "a": "é\n"}], "a": 1.5, "B": true}"#)
                .unwrap();
        let mut out = String::new();
        canonical_json(&value, &mut out);
        assert_eq!(
            out,
            "{\"B\":true,\"a\":1.5,\"b\":[1,{\"a\":\"é\\n\",\"z\":null}]}"
        );
    }

    #[test]
    fn the_docs_example_content() {
        let at = Timestamp::from_unix_nanos(1_700_000_000_000_000_000);
        let event = AuditLink::new("e", "store").to_entry(at);
        assert_eq!(
            canonical_content(&event).unwrap(),
            r#"{"context":{"action":"store","entity_type":"dlq_entry","entry_id":"e"},"event_type":"audit_link","region":"","service_name":"","source":"baldur.dlq","tier_id":"","timestamp_ns":1700000000000000000}"#
        );
    }

    #[test]
    fn seal_then_check() {
        let at = Timestamp::from_unix_nanos(1_700_000_000_000_000_000);
        let mut first = AuditLink::new("e", "store").to_entry(at);
        let h1 = seal(&mut first, None, None).unwrap();
        let mut second = AuditLink::new("e", "resolve").to_entry(at);
        seal(&mut second, Some(&h1), None).unwrap();
        let keys = AuditKeyring::new();
        let mut scratch = crate::projection::chain::ContentScratch::new();
        let mut chain = EntityChain::new();
        let mut check = |chain: &mut EntityChain, keys: &AuditKeyring, event: &JournalEntry| {
            chain
                .check(keys, &ChainRecord::from(event), &mut scratch)
                .check
        };
        assert_eq!(check(&mut chain, &keys, &first), EntryCheck::Valid);
        assert_eq!(check(&mut chain, &keys, &second), EntryCheck::Valid);
        // Keyed, and checked with and without the key.
        let key = AuditKey::new("k1", b"secret".to_vec()).unwrap();
        let mut keyed = AuditLink::new("e", "store").to_entry(at);
        seal(&mut keyed, None, Some(&key)).unwrap();
        let with = AuditKeyring::new().with(key);
        assert_eq!(
            check(&mut EntityChain::new(), &with, &keyed),
            EntryCheck::Valid
        );
        assert_eq!(
            check(&mut EntityChain::new(), &keys, &keyed),
            EntryCheck::UnknownKey("k1".into())
        );
        assert_eq!(
            check(&mut EntityChain::new(), &with, &first),
            EntryCheck::Unkeyed
        );
    }
}
