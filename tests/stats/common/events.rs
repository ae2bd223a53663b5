//! Workload events as the tests describe them, and their journal entries.

use baldur_journal::projection::events;
use baldur_journal::projection::{
    AuditLink, BreakerEvent, BreakerTransition, LifecycleEvent, LifecycleKind, StoreEvent,
};
use baldur_journal::{Context, JournalEntry};
use serde_json::{Map, Value, json};

use super::{MINUTE, ts};

/// A snapshot as `persist_entry` receives it.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub id: String,
    pub domain: String,
    pub failure_type: String,
    pub status: Option<String>,
    pub retry_count: Option<i64>,
    /// Minutes before the event's time.
    pub created_minutes_ago: Option<i64>,
    pub updated_minutes_ago: Option<i64>,
    pub resolved_minutes_ago: Option<i64>,
    pub last_retry_minutes_ago: Option<i64>,
    /// Write the times as Python's `str(datetime)` does.
    pub python_times: bool,
    pub error_message: Option<String>,
    pub metadata: Option<i64>,
}

impl Snapshot {
    pub fn new(id: &str, status: Option<&str>) -> Self {
        Snapshot {
            id: id.into(),
            domain: "payments".into(),
            failure_type: "timeout".into(),
            status: status.map(Into::into),
            retry_count: None,
            created_minutes_ago: None,
            updated_minutes_ago: None,
            resolved_minutes_ago: None,
            last_retry_minutes_ago: None,
            python_times: false,
            error_message: None,
            metadata: None,
        }
    }

    fn time_text(&self, nanos: i64) -> String {
        let text = ts(nanos).to_string();
        if self.python_times {
            text.replace('T', " ").replace('Z', "+00:00")
        } else {
            text
        }
    }

    /// The `entry_data` dict.
    pub fn to_map(&self, at: i64) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("id".into(), self.id.clone().into());
        map.insert("domain".into(), self.domain.clone().into());
        map.insert("failure_type".into(), self.failure_type.clone().into());
        if let Some(status) = &self.status {
            map.insert("status".into(), status.clone().into());
        }
        if let Some(count) = self.retry_count {
            map.insert("retry_count".into(), count.into());
        }
        for (key, ago) in [
            ("created_at", self.created_minutes_ago),
            ("updated_at", self.updated_minutes_ago),
            ("resolved_at", self.resolved_minutes_ago),
            ("last_retry_at", self.last_retry_minutes_ago),
        ] {
            if let Some(ago) = ago {
                map.insert(key.into(), self.time_text(at - ago * MINUTE).into());
            }
        }
        if let Some(message) = &self.error_message {
            map.insert("error_message".into(), message.clone().into());
        }
        if let Some(n) = self.metadata {
            map.insert("metadata".into(), json!({ "n": n }));
        }
        map.insert("request_data".into(), json!({"ignored": true}));
        map
    }
}

/// One journal event of a workload.
#[derive(Clone, Debug)]
pub enum Ev {
    Store {
        id: String,
        domain: String,
        failure_type: String,
        status: String,
        retry_count: i64,
        max_retries: i64,
        entity_type: Option<String>,
        error_code: String,
        actor: Option<String>,
    },
    Life {
        kind: LifecycleKind,
        id: String,
        status: Option<String>,
        retry_count: Option<i64>,
        actor: Option<String>,
    },
    Persist(Snapshot),
    Archive {
        id: String,
        details: Option<String>,
    },
    Purge {
        id: String,
    },
    Link(AuditLink),
    Breaker {
        transition: BreakerTransition,
        name: String,
        window: Option<i64>,
        consecutive: Option<i64>,
    },
    /// An event type the fold does not read.
    Noise,
    /// A lifecycle event whose entry id is a number: skipped.
    Malformed,
}

impl Ev {
    /// The journal entry, built with the crate's typed constructors.
    pub fn to_entry(&self, at: i64) -> JournalEntry {
        let at_ts = ts(at);
        match self {
            Ev::Store {
                id,
                domain,
                failure_type,
                status,
                retry_count,
                max_retries,
                entity_type,
                error_code,
                actor,
            } => {
                let mut store = StoreEvent::new(id.clone(), domain.clone(), failure_type.clone());
                store.status = status.clone();
                store.retry_count = *retry_count;
                store.max_retries = *max_retries;
                store.entity_type = entity_type.clone();
                store.entity_id = entity_type.as_ref().map(|t| format!("{t}-{id}"));
                store.error_code = error_code.clone();
                store.error_message = format!("failed {id}");
                store.actor_id = actor.clone();
                store.metadata.insert("origin".into(), "test".into());
                store.to_entry(at_ts)
            }
            Ev::Life {
                kind,
                id,
                status,
                retry_count,
                actor,
            } => {
                let mut event = LifecycleEvent::new(*kind, id.clone());
                event.status = status.clone();
                event.retry_count = *retry_count;
                event.actor_id = actor.clone();
                event.to_entry(at_ts)
            }
            Ev::Persist(snapshot) => events::dlq_persist(&snapshot.id, &snapshot.to_map(at), at_ts),
            Ev::Archive { id, details } => events::dlq_archive(id, None, details.as_deref(), at_ts),
            Ev::Purge { id } => events::dlq_purge(id, None, None, at_ts),
            Ev::Link(link) => link.to_entry(at_ts),
            Ev::Breaker {
                transition,
                name,
                window,
                consecutive,
            } => {
                let mut event = BreakerEvent::new(*transition, name.clone());
                event.window_failure_count = *window;
                event.consecutive_failure_count = *consecutive;
                event.to_entry(at_ts)
            }
            Ev::Noise => JournalEntry::new("error_budget_critical", "budget", at_ts, "")
                .with_context(Context::from_json(r#"{"budget_percent": 3.5}"#).unwrap()),
            Ev::Malformed => JournalEntry::new(events::DLQ_REPLAY_START, "x", at_ts, "")
                .with_context(Context::from_json(r#"{"entry_id": 7}"#).unwrap()),
        }
    }
}
