//! The event vocabulary the statistics fold reads (docs/EVENTS.md), and
//! typed constructors that build each event as a [`JournalEntry`].
//!
//! The seed has no method that records a lifecycle step, so a DLQ runtime
//! that embeds the journal appends these events itself; the statistics
//! writes ([`StatisticsRepository`](crate::projection::StatisticsRepository))
//! append `dlq_persist`, `dlq_archive`, `dlq_purge` and `audit_link`.

use serde_json::{Map, Value};

use crate::entry::{Context, JournalEntry, Timestamp};
use crate::projection::status;

/// A new DLQ entry.
pub const DLQ_STORE: &str = "dlq_store";
/// A replay attempt started (replay acquisition).
pub const DLQ_REPLAY_START: &str = "dlq_replay_start";
/// A replay attempt succeeded.
pub const DLQ_REPLAY_SUCCESS: &str = "dlq_replay_success";
/// A replay attempt failed.
pub const DLQ_REPLAY_FAILED: &str = "dlq_replay_failed";
/// The entry was escalated for review.
pub const DLQ_ESCALATE: &str = "dlq_escalate";
/// The entry was resolved by hand.
pub const DLQ_RESOLVE: &str = "dlq_resolve";
/// The entry was rejected.
pub const DLQ_REJECT: &str = "dlq_reject";
/// A forced redrive started (skips the retry cap).
pub const DLQ_FORCE_REDRIVE: &str = "dlq_force_redrive";
/// A retry was queued (the reference's legacy replay).
pub const DLQ_RETRY: &str = "dlq_retry";
/// The entry expired.
pub const DLQ_EXPIRE: &str = "dlq_expire";
/// A snapshot of the entry from the runtime (`persist_entry`), subject to
/// the terminal-status guard.
pub const DLQ_PERSIST: &str = "dlq_persist";
/// The entry was archived.
pub const DLQ_ARCHIVE: &str = "dlq_archive";
/// The archived entry was purged from the statistics.
pub const DLQ_PURGE: &str = "dlq_purge";
/// An audit record was linked to the entry.
pub const AUDIT_LINK: &str = "audit_link";
/// A circuit breaker opened.
pub const CIRCUIT_BREAKER_OPENED: &str = "circuit_breaker_opened";
/// A circuit breaker closed.
pub const CIRCUIT_BREAKER_CLOSED: &str = "circuit_breaker_closed";
/// A circuit breaker went half-open.
pub const CIRCUIT_BREAKER_HALF_OPENED: &str = "circuit_breaker_half_opened";

/// Every event type the fold reads; it skips all others.
pub const FOLDED_EVENT_TYPES: [&str; 17] = [
    DLQ_STORE,
    DLQ_REPLAY_START,
    DLQ_REPLAY_SUCCESS,
    DLQ_REPLAY_FAILED,
    DLQ_ESCALATE,
    DLQ_RESOLVE,
    DLQ_REJECT,
    DLQ_FORCE_REDRIVE,
    DLQ_RETRY,
    DLQ_EXPIRE,
    DLQ_PERSIST,
    DLQ_ARCHIVE,
    DLQ_PURGE,
    AUDIT_LINK,
    CIRCUIT_BREAKER_OPENED,
    CIRCUIT_BREAKER_CLOSED,
    CIRCUIT_BREAKER_HALF_OPENED,
];

/// The `source` of DLQ events built here.
pub const DLQ_SOURCE: &str = "baldur.dlq";
/// The `source` of the events the statistics writes append.
pub const STATISTICS_SOURCE: &str = "baldur.statistics";
/// The `source` of circuit-breaker events built here.
pub const CIRCUIT_BREAKER_SOURCE: &str = "baldur.circuit_breaker";
/// The entity type of DLQ entries in audit trails.
pub const DLQ_ENTRY_ENTITY_TYPE: &str = "dlq_entry";

/// A DLQ event with an empty service name and the given context.
fn dlq_event(event_type: &str, at: Timestamp, context: Map<String, Value>) -> JournalEntry {
    JournalEntry::new(event_type, DLQ_SOURCE, at, "").with_context(object(context))
}

fn object(map: Map<String, Value>) -> Context {
    let value = Value::Object(map);
    // A map is always a JSON object; one nested deeper than the journal's
    // readers allow is kept as it is here, and refused where the
    // statistics append it (`Context::check`), never emptied silently.
    Context::from_value(&value).unwrap_or_else(|_| Context::from_trusted(&value.to_string()))
}

/// Inserts `key: value` only when the value is present.
fn put_some(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.into(), value.into());
    }
}

/// A new DLQ entry (`dlq_store`). The event's timestamp is the entry's
/// `created_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreEvent {
    /// The entry's id (opaque; never parsed).
    pub entry_id: String,
    /// Business domain; empty means `unknown`.
    pub domain: String,
    /// Failure type; empty means `unknown`.
    pub failure_type: String,
    /// Initial status (default `pending`).
    pub status: String,
    /// The failed business entity's type.
    pub entity_type: Option<String>,
    /// The failed business entity's id.
    pub entity_id: Option<String>,
    /// The user concerned.
    pub user_id: Option<i64>,
    /// Replay attempts used (default 0).
    pub retry_count: i64,
    /// The cap on replay attempts (default 2).
    pub max_retries: i64,
    /// Error code (default empty).
    pub error_code: String,
    /// Error message (default empty).
    pub error_message: String,
    /// The state needed to replay.
    pub snapshot_data: Map<String, Value>,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// When the entry expires.
    pub expires_at: Option<Timestamp>,
    /// Who stored it.
    pub actor_id: Option<String>,
    /// Free text for the audit trail.
    pub details: Option<String>,
}

impl StoreEvent {
    /// A `pending` entry with the reference's defaults (`max_retries` 2).
    pub fn new(
        entry_id: impl Into<String>,
        domain: impl Into<String>,
        failure_type: impl Into<String>,
    ) -> Self {
        StoreEvent {
            entry_id: entry_id.into(),
            domain: domain.into(),
            failure_type: failure_type.into(),
            status: status::PENDING.into(),
            entity_type: None,
            entity_id: None,
            user_id: None,
            retry_count: 0,
            max_retries: 2,
            error_code: String::new(),
            error_message: String::new(),
            snapshot_data: Map::new(),
            metadata: Map::new(),
            expires_at: None,
            actor_id: None,
            details: None,
        }
    }

    /// The event, happening at `at`.
    #[must_use]
    pub fn to_entry(&self, at: Timestamp) -> JournalEntry {
        let mut context = Map::new();
        context.insert("entry_id".into(), self.entry_id.clone().into());
        context.insert("domain".into(), self.domain.clone().into());
        context.insert("failure_type".into(), self.failure_type.clone().into());
        context.insert("status".into(), self.status.clone().into());
        context.insert("entity_type".into(), self.entity_type.clone().into());
        context.insert("entity_id".into(), self.entity_id.clone().into());
        context.insert("user_id".into(), self.user_id.into());
        context.insert("retry_count".into(), self.retry_count.into());
        context.insert("max_retries".into(), self.max_retries.into());
        context.insert("error_code".into(), self.error_code.clone().into());
        context.insert("error_message".into(), self.error_message.clone().into());
        context.insert("snapshot_data".into(), self.snapshot_data.clone().into());
        context.insert("metadata".into(), self.metadata.clone().into());
        context.insert(
            "expires_at".into(),
            self.expires_at.map(|t| t.to_string()).into(),
        );
        put_some(&mut context, "actor_id", self.actor_id.clone());
        put_some(&mut context, "details", self.details.clone());
        dlq_event(DLQ_STORE, at, context)
    }
}

/// The lifecycle steps of a DLQ entry, named after the reference's audit
/// actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LifecycleKind {
    /// `dlq_replay_start`: to `replaying`; `retry_count` + 1.
    ReplayStart,
    /// `dlq_replay_success`: to `resolved`.
    ReplaySuccess,
    /// `dlq_replay_failed`: to `requires_review` at the cap, else `pending`.
    ReplayFailed,
    /// `dlq_escalate`: to `requires_review`.
    Escalate,
    /// `dlq_resolve`: to `resolved`.
    Resolve,
    /// `dlq_reject`: to `rejected`.
    Reject,
    /// `dlq_force_redrive`: to `replaying`; `retry_count` becomes 1.
    ForceRedrive,
    /// `dlq_retry`: to `replayed`; `retry_count` + 1.
    Retry,
    /// `dlq_expire`: to `expired`.
    Expire,
}

impl LifecycleKind {
    /// Every kind.
    pub const ALL: [LifecycleKind; 9] = [
        LifecycleKind::ReplayStart,
        LifecycleKind::ReplaySuccess,
        LifecycleKind::ReplayFailed,
        LifecycleKind::Escalate,
        LifecycleKind::Resolve,
        LifecycleKind::Reject,
        LifecycleKind::ForceRedrive,
        LifecycleKind::Retry,
        LifecycleKind::Expire,
    ];

    /// The journal's `event_type`.
    #[must_use]
    pub fn event_type(self) -> &'static str {
        match self {
            LifecycleKind::ReplayStart => DLQ_REPLAY_START,
            LifecycleKind::ReplaySuccess => DLQ_REPLAY_SUCCESS,
            LifecycleKind::ReplayFailed => DLQ_REPLAY_FAILED,
            LifecycleKind::Escalate => DLQ_ESCALATE,
            LifecycleKind::Resolve => DLQ_RESOLVE,
            LifecycleKind::Reject => DLQ_REJECT,
            LifecycleKind::ForceRedrive => DLQ_FORCE_REDRIVE,
            LifecycleKind::Retry => DLQ_RETRY,
            LifecycleKind::Expire => DLQ_EXPIRE,
        }
    }

    /// The kind of an `event_type`, if it is a lifecycle event.
    #[must_use]
    pub fn from_event_type(event_type: &str) -> Option<Self> {
        LifecycleKind::ALL
            .into_iter()
            .find(|kind| kind.event_type() == event_type)
    }

    /// The action's name in audit trails: the event type without `dlq_`.
    #[must_use]
    pub fn action(self) -> &'static str {
        &self.event_type()["dlq_".len()..]
    }

    /// The status the step moves to when the event names none; `None` for
    /// `ReplayFailed`, whose status depends on the retry cap.
    #[must_use]
    pub fn default_status(self) -> Option<&'static str> {
        match self {
            LifecycleKind::ReplayStart | LifecycleKind::ForceRedrive => Some(status::REPLAYING),
            LifecycleKind::ReplaySuccess | LifecycleKind::Resolve => Some(status::RESOLVED),
            LifecycleKind::ReplayFailed => None,
            LifecycleKind::Escalate => Some(status::REQUIRES_REVIEW),
            LifecycleKind::Reject => Some(status::REJECTED),
            LifecycleKind::Retry => Some(status::REPLAYED),
            LifecycleKind::Expire => Some(status::EXPIRED),
        }
    }
}

/// One lifecycle step of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleEvent {
    /// Which step.
    pub kind: LifecycleKind,
    /// The entry's id.
    pub entry_id: String,
    /// The status after the step; `None` takes the kind's default.
    pub status: Option<String>,
    /// Who took the step.
    pub actor_id: Option<String>,
    /// Free text for the audit trail.
    pub details: Option<String>,
    /// The retry count after the step, when the runtime knows it better
    /// than the kind's rule.
    pub retry_count: Option<i64>,
}

impl LifecycleEvent {
    /// A step with the kind's default status and no actor.
    pub fn new(kind: LifecycleKind, entry_id: impl Into<String>) -> Self {
        LifecycleEvent {
            kind,
            entry_id: entry_id.into(),
            status: None,
            actor_id: None,
            details: None,
            retry_count: None,
        }
    }

    /// Sets the actor.
    pub fn by(mut self, actor_id: impl Into<String>) -> Self {
        self.actor_id = Some(actor_id.into());
        self
    }

    /// The event, happening at `at`. The status is written out (the
    /// kind's default when none was given), except for a `ReplayFailed`
    /// without one, which the fold decides from the retry cap.
    #[must_use]
    pub fn to_entry(&self, at: Timestamp) -> JournalEntry {
        let mut context = Map::new();
        context.insert("entry_id".into(), self.entry_id.clone().into());
        let status = self
            .status
            .clone()
            .or_else(|| self.kind.default_status().map(String::from));
        put_some(&mut context, "status", status);
        put_some(&mut context, "actor_id", self.actor_id.clone());
        put_some(&mut context, "details", self.details.clone());
        put_some(&mut context, "retry_count", self.retry_count);
        dlq_event(self.kind.event_type(), at, context)
    }
}

fn entry_event(
    event_type: &str,
    entry_id: &str,
    actor_id: Option<&str>,
    details: Option<&str>,
    at: Timestamp,
) -> JournalEntry {
    let mut context = Map::new();
    context.insert("entry_id".into(), entry_id.into());
    put_some(&mut context, "actor_id", actor_id);
    put_some(&mut context, "details", details);
    dlq_event(event_type, at, context)
}

/// `dlq_archive`: the entry is archived at `at`.
#[must_use]
pub fn dlq_archive(
    entry_id: &str,
    actor_id: Option<&str>,
    details: Option<&str>,
    at: Timestamp,
) -> JournalEntry {
    entry_event(DLQ_ARCHIVE, entry_id, actor_id, details, at)
}

/// `dlq_purge`: the archived entry is purged from the statistics at `at`.
#[must_use]
pub fn dlq_purge(
    entry_id: &str,
    actor_id: Option<&str>,
    details: Option<&str>,
    at: Timestamp,
) -> JournalEntry {
    entry_event(DLQ_PURGE, entry_id, actor_id, details, at)
}

/// `dlq_persist`: a snapshot of the entry from the runtime repository,
/// kept verbatim under `entry`. `entry_id` is the snapshot's `id` as text.
#[must_use]
pub fn dlq_persist(entry_id: &str, entry_data: &Map<String, Value>, at: Timestamp) -> JournalEntry {
    let mut context = Map::new();
    context.insert("entry_id".into(), entry_id.into());
    context.insert("entry".into(), Value::Object(entry_data.clone()));
    dlq_event(DLQ_PERSIST, at, context)
}

/// An audit record to link to an entity (`link_audit_entry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditLink {
    /// The entity's id.
    pub entity_id: String,
    /// The entity's type; only `dlq_entry` is linked.
    pub entity_type: String,
    /// What was done (store, replay, resolve, ...).
    pub action: String,
    /// Who did it.
    pub actor_id: Option<String>,
    /// The status after the action.
    pub status: Option<String>,
    /// Free text (kept, unlike the reference).
    pub details: Option<String>,
    /// The audit system's hash of the record.
    pub audit_record_hash: Option<String>,
}

impl AuditLink {
    /// A link for a DLQ entry with nothing but the action.
    pub fn new(entity_id: impl Into<String>, action: impl Into<String>) -> Self {
        AuditLink {
            entity_id: entity_id.into(),
            entity_type: DLQ_ENTRY_ENTITY_TYPE.into(),
            action: action.into(),
            actor_id: None,
            status: None,
            details: None,
            audit_record_hash: None,
        }
    }

    /// The `audit_link` event, happening at `at`.
    #[must_use]
    pub fn to_entry(&self, at: Timestamp) -> JournalEntry {
        let mut context = Map::new();
        context.insert("entry_id".into(), self.entity_id.clone().into());
        context.insert("entity_type".into(), self.entity_type.clone().into());
        context.insert("action".into(), self.action.clone().into());
        put_some(&mut context, "actor_id", self.actor_id.clone());
        put_some(&mut context, "status", self.status.clone());
        put_some(&mut context, "details", self.details.clone());
        put_some(
            &mut context,
            "audit_record_hash",
            self.audit_record_hash.clone(),
        );
        dlq_event(AUDIT_LINK, at, context)
    }
}

/// A circuit breaker's state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerTransition {
    /// `circuit_breaker_opened`: to `open`.
    Opened,
    /// `circuit_breaker_closed`: to `closed`.
    Closed,
    /// `circuit_breaker_half_opened`: to `half_open`.
    HalfOpened,
}

impl BreakerTransition {
    /// The journal's `event_type`.
    #[must_use]
    pub fn event_type(self) -> &'static str {
        match self {
            BreakerTransition::Opened => CIRCUIT_BREAKER_OPENED,
            BreakerTransition::Closed => CIRCUIT_BREAKER_CLOSED,
            BreakerTransition::HalfOpened => CIRCUIT_BREAKER_HALF_OPENED,
        }
    }

    /// The transition of an `event_type`, if it is a breaker event.
    #[must_use]
    pub fn from_event_type(event_type: &str) -> Option<Self> {
        match event_type {
            CIRCUIT_BREAKER_OPENED => Some(BreakerTransition::Opened),
            CIRCUIT_BREAKER_CLOSED => Some(BreakerTransition::Closed),
            CIRCUIT_BREAKER_HALF_OPENED => Some(BreakerTransition::HalfOpened),
            _ => None,
        }
    }

    /// The state after the transition: `open`, `closed` or `half_open`.
    #[must_use]
    pub fn state(self) -> &'static str {
        match self {
            BreakerTransition::Opened => "open",
            BreakerTransition::Closed => "closed",
            BreakerTransition::HalfOpened => "half_open",
        }
    }
}

/// A circuit-breaker event with the context keys the reference's
/// publishers write (docs/EVENTS.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerEvent {
    /// Which change.
    pub transition: BreakerTransition,
    /// The service the breaker protects.
    pub service_name: String,
    /// The state before.
    pub previous_state: Option<String>,
    /// Failures in the window (written by the opened publisher).
    pub window_failure_count: Option<i64>,
    /// Calls in the window (written by the opened publisher).
    pub window_total_calls: Option<i64>,
    /// Consecutive failures (written by the opened publisher).
    pub consecutive_failure_count: Option<i64>,
    /// What tripped it.
    pub trigger: Option<String>,
}

impl BreakerEvent {
    /// A transition with nothing but the service name.
    pub fn new(transition: BreakerTransition, service_name: impl Into<String>) -> Self {
        BreakerEvent {
            transition,
            service_name: service_name.into(),
            previous_state: None,
            window_failure_count: None,
            window_total_calls: None,
            consecutive_failure_count: None,
            trigger: None,
        }
    }

    /// The event, happening at `at`: `service_name` both as the entry's
    /// field and in the context, as the reference's subscriber writes it;
    /// `new_state` for closed and half-opened, as the convenience emitter
    /// writes it.
    #[must_use]
    pub fn to_entry(&self, at: Timestamp) -> JournalEntry {
        let mut context = Map::new();
        context.insert("service_name".into(), self.service_name.clone().into());
        put_some(&mut context, "previous_state", self.previous_state.clone());
        if self.transition != BreakerTransition::Opened {
            context.insert("new_state".into(), self.transition.state().into());
        }
        context.insert("timestamp".into(), at.to_string().into());
        put_some(&mut context, "trigger", self.trigger.clone());
        put_some(
            &mut context,
            "window_failure_count",
            self.window_failure_count,
        );
        put_some(&mut context, "window_total_calls", self.window_total_calls);
        put_some(
            &mut context,
            "consecutive_failure_count",
            self.consecutive_failure_count,
        );
        JournalEntry::new(
            self.transition.event_type(),
            CIRCUIT_BREAKER_SOURCE,
            at,
            self.service_name.clone(),
        )
        .with_context(object(context))
    }
}
