//! What the interoperability tests against the Python reference share
//! (tests/redis_python_interop.rs, tests/sql_python_interop.rs): our answer
//! to one of the reference's vector cases, in the form the Python drivers
//! print, and the drivers' answers normalised to compare with it.

use baldur_journal::{EventJournal, JournalEntry, JournalQueryFilter, Timestamp};
use serde_json::Value;

/// A vector's filter: `null` fields mean "no condition".
#[must_use]
pub fn parse_filter(value: &Value) -> JournalQueryFilter {
    let mut object = value.as_object().cloned().unwrap_or_default();
    object.retain(|_, v| !v.is_null());
    JournalQueryFilter::from_json(&Value::Object(object).to_string()).unwrap()
}

/// Our answer to one case, in the drivers' output form.
pub fn our_answer(j: &dyn EventJournal, case: &Value) -> Value {
    let id = case["id"].clone();
    if case["kind"] == "range" {
        let bound = |key: &str| case[key].as_i64().unwrap().max(0).unsigned_abs();
        let entries = j
            .get_sequence_range(bound("start_sequence"), bound("end_sequence"))
            .unwrap();
        serde_json::json!({
            "id": id,
            "sequences": entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            "entries": entries.iter().map(entry_value).collect::<Vec<_>>(),
        })
    } else {
        let filter = parse_filter(&case["filter"]);
        let result = j.query(&filter).unwrap();
        serde_json::json!({
            "id": id,
            "sequences": result.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            "truncated": result.truncated,
            "total_count": result.total_count,
            "count": j.count(&filter).unwrap(),
        })
    }
}

/// An entry as comparable JSON: the timestamp as an instant, the context
/// parsed.
#[must_use]
pub fn entry_value(e: &JournalEntry) -> Value {
    serde_json::json!({
        "sequence": e.sequence,
        "event_type": e.event_type,
        "source": e.source,
        "timestamp": e.timestamp.as_unix_nanos(),
        "service_name": e.service_name,
        "context": serde_json::from_str::<Value>(e.context.as_str()).unwrap(),
        "region": e.region,
        "tier_id": e.tier_id,
    })
}

/// A driver's answer with its entries' timestamps turned into instants.
#[must_use]
pub fn normalise_python(mut answer: Value) -> Value {
    if let Some(entries) = answer.get_mut("entries").and_then(Value::as_array_mut) {
        for e in entries {
            let ts = Timestamp::parse(e["timestamp"].as_str().unwrap()).unwrap();
            e["timestamp"] = ts.as_unix_nanos().into();
        }
    }
    answer
}
