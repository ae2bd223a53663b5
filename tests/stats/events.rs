//! The event vocabulary (docs/EVENTS.md): the typed constructors write the
//! documented contexts; the fold reads them, lifecycle steps move entries
//! as documented, and unknown, malformed and orphaned events are skipped and
//! counted, never an error. Reads see the writes made just before them.

use crate::common::{Fixture, MINUTE, T0, ts};
use baldur_journal::projection::events::{self, FOLDED_EVENT_TYPES};
use baldur_journal::projection::{
    AuditLink, LifecycleEvent, LifecycleKind, StatisticsRepository, StoreEvent,
};
use baldur_journal::{Context, JournalEntry};
use serde_json::json;

#[test]
fn constructors_write_the_documented_contexts() {
    let at = ts(T0);
    let mut store = StoreEvent::new("dlq-7", "payments", "timeout");
    store.entity_type = Some("order".into());
    store.entity_id = Some("o-1".into());
    store.user_id = Some(42);
    store.expires_at = Some(ts(T0 + 60 * MINUTE));
    store.actor_id = Some("runtime".into());
    let entry = store.to_entry(at);
    assert_eq!(
        (
            entry.event_type.as_str(),
            entry.source.as_str(),
            entry.service_name.as_str()
        ),
        ("dlq_store", "baldur.dlq", "")
    );
    assert_eq!(
        serde_json::to_value(&entry.context).unwrap(),
        json!({
            "entry_id": "dlq-7", "domain": "payments", "failure_type": "timeout", "status": "pending",
            "entity_type": "order", "entity_id": "o-1", "user_id": 42, "retry_count": 0, "max_retries": 2,
            "error_code": "", "error_message": "", "snapshot_data": {}, "metadata": {},
            "expires_at": "2025-01-01T01:00:00Z", "actor_id": "runtime"
        })
    );

    let step = LifecycleEvent::new(LifecycleKind::ReplayFailed, "dlq-7")
        .by("worker-3")
        .to_entry(at);
    assert_eq!(step.event_type, "dlq_replay_failed");
    assert_eq!(
        serde_json::to_value(&step.context).unwrap(),
        json!({"entry_id": "dlq-7", "actor_id": "worker-3"})
    );
    let step = LifecycleEvent::new(LifecycleKind::Escalate, "dlq-7").to_entry(at);
    assert_eq!(
        serde_json::to_value(&step.context).unwrap(),
        json!({"entry_id": "dlq-7", "status": "requires_review"})
    );

    let mut link = AuditLink::new("dlq-7", "replay");
    link.audit_record_hash = Some("ab12".into());
    assert_eq!(
        serde_json::to_value(&link.to_entry(at).context).unwrap(),
        json!({"entry_id": "dlq-7", "entity_type": "dlq_entry", "action": "replay", "audit_record_hash": "ab12"})
    );
    let persist = events::dlq_persist("dlq-7", &serde_json::Map::new(), at);
    assert_eq!(
        serde_json::to_value(&persist.context).unwrap(),
        json!({"entry_id": "dlq-7", "entry": {}})
    );
    let archive = events::dlq_archive("dlq-7", Some("ops"), None, at);
    assert_eq!(
        serde_json::to_value(&archive.context).unwrap(),
        json!({"entry_id": "dlq-7", "actor_id": "ops"})
    );
    assert_eq!(
        events::dlq_purge("dlq-7", None, None, at).event_type,
        "dlq_purge"
    );

    for kind in LifecycleKind::ALL {
        assert_eq!(
            LifecycleKind::from_event_type(kind.event_type()),
            Some(kind)
        );
        assert!(FOLDED_EVENT_TYPES.contains(&kind.event_type()));
        assert_eq!(kind.action(), &kind.event_type()[4..]);
    }
}

#[test]
fn lifecycle_steps_move_an_entry_through_its_life() {
    let fixture = Fixture::new();
    let mut store = StoreEvent::new("e", "payments", "timeout");
    store.max_retries = 2;
    fixture.append(store.to_entry(fixture.clock.now()));
    let status = |expected_status: &str, expected_retries: i64| {
        let detail = fixture.stats.get_entry_detail("e").unwrap().unwrap();
        assert_eq!(
            (detail.status.as_str(), detail.retry_count),
            (expected_status, expected_retries)
        );
        detail
    };
    fixture.shift(MINUTE);
    fixture.step(LifecycleKind::ReplayStart, "e");
    let detail = status("replaying", 1);
    assert_eq!(detail.last_retry_at, Some(fixture.clock.now()));
    fixture.step(LifecycleKind::ReplayFailed, "e");
    status("pending", 1);
    fixture.step(LifecycleKind::ReplayStart, "e");
    fixture.step(LifecycleKind::ReplayFailed, "e");
    status("requires_review", 2); // at the cap
    fixture.step(LifecycleKind::ForceRedrive, "e");
    status("replaying", 1);
    fixture.shift(MINUTE);
    fixture.step(LifecycleKind::ReplaySuccess, "e");
    let detail = status("resolved", 1);
    assert_eq!(detail.resolved_at, Some(fixture.clock.now()));
    assert_eq!(detail.updated_at, fixture.clock.now());
    fixture.step(LifecycleKind::Retry, "e");
    let detail = status("replayed", 2);
    assert_eq!(detail.resolved_at, None, "back in the queue");
    fixture.step(LifecycleKind::Reject, "e");
    status("rejected", 2);
    let mut explicit = LifecycleEvent::new(LifecycleKind::Escalate, "e");
    explicit.status = Some("reviewing".into());
    explicit.retry_count = Some(0);
    fixture.append(explicit.to_entry(fixture.clock.now()));
    status("reviewing", 0);
    fixture.step(LifecycleKind::Expire, "e");
    status("expired", 0);

    let trail = fixture
        .stats
        .get_audit_trail_by_entity("e", "dlq_entry")
        .unwrap();
    let actions: Vec<String> = trail
        .entries
        .iter()
        .map(|e| format!("{}:{}", e.action, e.status.as_deref().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            "store:pending",
            "replay_start:replaying",
            "replay_failed:pending",
            "replay_start:replaying",
            "replay_failed:requires_review",
            "force_redrive:replaying",
            "replay_success:resolved",
            "retry:replayed",
            "reject:rejected",
            "escalate:reviewing",
            "expire:expired"
        ]
    );
    assert_eq!(trail.created_at, Some(ts(T0)));
    assert_eq!(trail.current_status, "expired");
}

#[test]
fn unknown_malformed_and_orphaned_events_are_skipped_and_counted() {
    let fixture = Fixture::new();
    let at = fixture.clock.now();
    let raw = |event_type: &str, context: &str| {
        JournalEntry::new(event_type, "test", at, "")
            .with_context(Context::from_json(context).unwrap())
    };
    fixture.append(raw("error_budget_critical", r#"{"budget_percent": 0.5}"#));
    fixture.append(raw("emergency_level_changed", "{}"));
    fixture.append(raw("dlq_store", r#"{"domain": "no id"}"#));
    fixture.append(raw(
        "dlq_store",
        r#"{"entry_id": "x", "retry_count": "three"}"#,
    ));
    fixture.append(raw(
        "dlq_persist",
        r#"{"entry_id": "y", "entry": {"created_at": "never"}}"#,
    ));
    fixture.append(raw("dlq_resolve", r#"{"entry_id": "never-stored"}"#));
    fixture.append(raw(
        "audit_link",
        r#"{"entry_id": "never-stored", "action": "x"}"#,
    ));
    let summary = fixture.stats.refresh().unwrap();
    assert_eq!(
        (
            summary.records,
            summary.skipped,
            summary.malformed,
            summary.orphaned
        ),
        (7, 2, 3, 2)
    );
    assert_eq!(summary.last_sequence, 7);
    assert_eq!(fixture.stats.get_cleanup_stats().unwrap().total, 0);
}

#[test]
fn a_journal_written_by_a_python_service_folds() {
    // As a port of the reference would write them: times as Python's str(),
    // extra keys, nulls for absent values.
    let fixture = Fixture::new();
    for line in [
        r#"{"event_type": "dlq_store", "source": "baldur.dlq", "timestamp": "2025-01-01T00:00:00+00:00", "service_name": "",
            "context": {"entry_id": "17", "domain": "payments", "failure_type": "timeout", "status": "pending",
                        "entity_type": null, "entity_id": null, "user_id": null, "retry_count": 0, "max_retries": 3,
                        "error_code": "", "error_message": "", "snapshot_data": {"k": [1, 2]}, "metadata": {},
                        "expires_at": "2025-01-02 00:00:00+00:00", "entity_refs": {}}}"#,
        r#"{"event_type": "dlq_replay_start", "source": "baldur.dlq", "timestamp": "2025-01-01T00:05:00Z", "service_name": "",
            "context": {"entry_id": "17", "status": "replaying", "actor_id": null}}"#,
        r#"{"event_type": "error_budget_warning", "source": "budget", "timestamp": "2025-01-01T00:06:00Z", "service_name": "",
            "context": {"budget_percent": 12.5, "threshold": 10.0}}"#,
    ] {
        fixture.append(JournalEntry::from_json(line).unwrap());
    }
    let detail = fixture.stats.get_entry_detail("17").unwrap().unwrap();
    assert_eq!(
        (
            detail.status.as_str(),
            detail.retry_count,
            detail.max_retries
        ),
        ("replaying", 1, 3)
    );
    assert_eq!(detail.expires_at, Some(ts(T0 + 24 * 60 * MINUTE)));
    assert_eq!(detail.snapshot_data, json!({"k": [1, 2]}));
    assert_eq!(fixture.stats.refresh().unwrap().skipped, 1);
}

#[test]
fn reads_see_writes_and_appends_made_just_before() {
    let fixture = Fixture::new();
    fixture.store("a", "payments", "timeout");
    assert_eq!(fixture.stats.get_status_counts().unwrap().pending, 1);
    fixture.step(LifecycleKind::Resolve, "a");
    assert_eq!(fixture.stats.get_status_counts().unwrap().resolved, 1);
    assert!(
        fixture
            .stats
            .link_audit_entry(&AuditLink::new("a", "resolve"))
            .unwrap()
    );
    assert_eq!(
        fixture
            .stats
            .get_audit_trail_by_entity("a", "dlq_entry")
            .unwrap()
            .total_entries(),
        3
    );
    let mut other_type = AuditLink::new("a", "resolve");
    other_type.entity_type = "order".into();
    assert!(
        !fixture.stats.link_audit_entry(&other_type).unwrap(),
        "only dlq_entry links"
    );
    assert_eq!(fixture.stats.refresh().unwrap().records, 3);
}
