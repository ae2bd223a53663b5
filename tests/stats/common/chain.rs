//! The model's audit chains (docs/AUDIT.md), computed independently of the
//! crate's hashing code: the canonical content is built and written here
//! from the documented rules, and hashed with `sha2` directly.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Ev;

/// What statistics writes stamp as an event's `source`.
pub const STATISTICS_SOURCE: &str = "baldur.statistics";

/// The chain fields a chained event carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// `previous_hash`: none on the entity's first chained event.
    pub previous: Option<String>,
    /// `hash_chain`.
    pub hash: String,
}

/// Canonical JSON: keys sorted by code point at every level, no
/// whitespace, strings escaped like Python's `json.dumps(...,
/// ensure_ascii=False)`, integers in decimal.
pub fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => escape(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            // Code point order is UTF-8 byte order.
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                escape(key, out);
                out.push(':');
                canonical(&map[key.as_str()], out);
            }
            out.push('}');
        }
    }
}

fn escape(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The id of the entity a DLQ event of the workload chains on.
pub fn entity_of(ev: &Ev) -> Option<&str> {
    match ev {
        Ev::Store { id, .. } | Ev::Life { id, .. } | Ev::Archive { id, .. } | Ev::Purge { id } => {
            Some(id)
        }
        Ev::Persist(snapshot) => Some(&snapshot.id),
        Ev::Link(link) => Some(&link.entity_id),
        Ev::Breaker { .. } | Ev::Noise | Ev::Malformed => None,
    }
}

/// The stamp of `ev`, written by the statistics at `at` after `previous`:
/// SHA-256 over the canonical JSON of `{"context", "event_type", "region",
/// "service_name", "source", "tier_id", "timestamp_ns"}`, where `context`
/// is the event's context with `previous_hash` added (when any).
pub fn stamp(ev: &Ev, at: i64, previous: Option<String>) -> Stamp {
    let entry = ev.to_entry(at);
    let mut context: Map<String, Value> = serde_json::from_str(entry.context.as_str()).unwrap();
    if let Some(previous) = &previous {
        context.insert("previous_hash".into(), previous.clone().into());
    }
    let mut content = Map::new();
    content.insert("context".into(), Value::Object(context));
    content.insert("event_type".into(), entry.event_type.into());
    content.insert("region".into(), entry.region.into());
    content.insert("service_name".into(), entry.service_name.into());
    content.insert("source".into(), STATISTICS_SOURCE.into());
    content.insert("tier_id".into(), entry.tier_id.into());
    content.insert("timestamp_ns".into(), at.into());
    let mut bytes = String::new();
    canonical(&Value::Object(content), &mut bytes);
    let digest = Sha256::digest(bytes.as_bytes());
    let hash = digest.iter().map(|b| format!("{b:02x}")).collect();
    Stamp { previous, hash }
}

#[test]
fn the_docs_example_content() {
    let mut out = String::new();
    let value: Value = serde_json::from_str(
        r#"{"timestamp_ns": 1700000000000000000, "tier_id": "", "source": "baldur.dlq",
            "service_name": "", "region": "", "event_type": "audit_link",
            "context": {"entry_id": "e", "entity_type": "dlq_entry", "action": "store"}}"#,
    )
    .unwrap();
    canonical(&value, &mut out);
    assert_eq!(
        out,
        r#"{"context":{"action":"store","entity_type":"dlq_entry","entry_id":"e"},"event_type":"audit_link","region":"","service_name":"","source":"baldur.dlq","tier_id":"","timestamp_ns":1700000000000000000}"#
    );
    let mut out = String::new();
    canonical(&Value::String("a\"\\\u{1}\u{8}é\u{7f}".into()), &mut out);
    assert_eq!(out, "\"a\\\"\\\\\\u0001\\bé\u{7f}\"");
}
