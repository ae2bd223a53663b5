//! `persist_entry` and the terminal-status guard (docs/STATISTICS.md,
//! "The terminal-status guard"): a snapshot never walks a finished entry (resolved, rejected,
//! expired, permanently_failed) back to an open status, never changes an
//! archived entry, never revives a purged one; the call still returns the
//! id, and the refusal is journaled and shown in the entity's trail.

use crate::common::{Fixture, HOUR};
use baldur_journal::projection::{LifecycleKind, StatisticsRepository, events};
use baldur_journal::{Error, EventJournal};
use serde_json::{Map, Value, json};

fn snapshot(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("a snapshot is an object"),
    }
}

#[test]
fn a_stale_snapshot_cannot_walk_a_resolved_entry_back() {
    let fixture = Fixture::new();
    fixture.store("dlq-1", "payments", "timeout");
    fixture.step(LifecycleKind::Resolve, "dlq-1");
    let before = fixture.latest();
    let stale = snapshot(json!({"id": "dlq-1", "status": "pending", "retry_count": 0}));
    assert_eq!(
        fixture.stats.persist_entry(&stale).unwrap().as_deref(),
        Some("dlq-1")
    );
    assert_eq!(
        fixture.latest(),
        before + 1,
        "the refused snapshot is journaled"
    );
    let record = &fixture
        .journal
        .get_sequence_range(before + 1, before + 2)
        .unwrap()[0];
    assert_eq!(record.event_type, events::DLQ_PERSIST);
    let detail = fixture.stats.get_entry_detail("dlq-1").unwrap().unwrap();
    assert_eq!(detail.status, "resolved");
    assert!(detail.resolved_at.is_some());
    let trail = fixture
        .stats
        .get_audit_trail_by_entity("dlq-1", "dlq_entry")
        .unwrap();
    let last = trail.entries.last().unwrap();
    assert_eq!(last.action, "persist_refused");
    assert_eq!(last.status.as_deref(), Some("resolved"));
    assert_eq!(
        last.details.as_deref(),
        Some("refused: the snapshot would reopen a finished entry")
    );
    fixture.shift(10 * HOUR);
    assert!(fixture.stats.get_sla_breaches(4, None).unwrap().is_empty());
}

#[test]
fn every_finished_status_is_guarded_but_may_change_to_another() {
    for finished in ["resolved", "rejected", "expired", "permanently_failed"] {
        let fixture = Fixture::new();
        fixture.store_as("e", finished);
        let reopen = snapshot(json!({"id": "e", "status": "requires_review"}));
        fixture.stats.persist_entry(&reopen).unwrap();
        assert_eq!(
            fixture.stats.get_entry_detail("e").unwrap().unwrap().status,
            finished
        );
        // Finished to finished is allowed, as in the reference.
        let other = snapshot(
            json!({"id": "e", "status": "rejected", "resolved_at": "2025-01-01T00:00:00Z"}),
        );
        fixture.stats.persist_entry(&other).unwrap();
        assert_eq!(
            fixture.stats.get_entry_detail("e").unwrap().unwrap().status,
            "rejected",
            "{finished}"
        );
    }
    // An open entry takes any snapshot.
    let fixture = Fixture::new();
    fixture.store("open", "payments", "timeout");
    let update = snapshot(
        json!({"id": "open", "status": "reviewing", "retry_count": 3, "metadata": {"k": 1}}),
    );
    fixture.stats.persist_entry(&update).unwrap();
    let detail = fixture.stats.get_entry_detail("open").unwrap().unwrap();
    assert_eq!(
        (detail.status.as_str(), detail.retry_count),
        ("reviewing", 3)
    );
    assert_eq!(detail.metadata, json!({"k": 1}));
}

#[test]
fn an_archived_entry_is_never_changed_by_a_snapshot() {
    let fixture = Fixture::new();
    fixture.store("a", "payments", "timeout");
    fixture.step(LifecycleKind::Resolve, "a");
    fixture.shift(1);
    fixture.stats.archive_old_entries(0).unwrap();
    let archived = fixture.stats.get_entry_detail("a").unwrap().unwrap();
    fixture.shift(HOUR);
    for status in ["resolved", "archived", "pending"] {
        let resync =
            snapshot(json!({"id": "a", "status": status, "updated_at": "2030-01-01T00:00:00Z"}));
        assert_eq!(
            fixture.stats.persist_entry(&resync).unwrap().as_deref(),
            Some("a")
        );
        assert_eq!(
            fixture.stats.get_entry_detail("a").unwrap().unwrap(),
            archived,
            "{status}"
        );
    }
}

#[test]
fn snapshots_without_an_id_or_with_bad_times_record_nothing() {
    let fixture = Fixture::new();
    for no_id in [json!({}), json!({"id": null}), json!({"id": ""})] {
        assert_eq!(fixture.stats.persist_entry(&snapshot(no_id)).unwrap(), None);
    }
    assert_eq!(fixture.latest(), 0);
    let bad = snapshot(json!({"id": "b", "created_at": "last tuesday"}));
    assert!(matches!(
        fixture.stats.persist_entry(&bad),
        Err(Error::InvalidEntry(_))
    ));
    let batch = [snapshot(json!({"id": "ok"})), bad];
    assert!(matches!(
        fixture.stats.sync_from_runtime(&batch),
        Err(Error::InvalidEntry(_))
    ));
    assert_eq!(fixture.latest(), 0, "one bad snapshot fails the whole sync");
    // A number is taken as Python's str() of it.
    assert_eq!(
        fixture
            .stats
            .persist_entry(&snapshot(json!({"id": 42})))
            .unwrap()
            .as_deref(),
        Some("42")
    );
    let batch = [
        snapshot(json!({"id": "x"})),
        snapshot(json!({"domain": "no id"})),
    ];
    assert_eq!(fixture.stats.sync_from_runtime(&batch).unwrap(), 1);
    assert_eq!(fixture.stats.get_cleanup_stats().unwrap().total, 2);
}

#[test]
fn a_first_snapshot_keeps_every_time_it_carries() {
    let fixture = Fixture::new();
    let first = snapshot(json!({
        "id": "s", "domain": "", "status": "replaying", "retry_count": 1,
        "created_at": "2024-12-31 22:00:00+00:00",
        "updated_at": "2024-12-31T23:00:00Z",
        "last_retry_at": "2024-12-31T23:30:00Z",
        "expires_at": "2025-01-08T00:00:00+01:00",
        "error_message": "boom", "snapshot_data": {"order": 7},
    }));
    fixture.stats.persist_entry(&first).unwrap();
    let detail = fixture.stats.get_entry_detail("s").unwrap().unwrap();
    assert_eq!(detail.domain, "unknown");
    assert_eq!(detail.created_at.to_string(), "2024-12-31T22:00:00Z");
    assert_eq!(detail.updated_at.to_string(), "2024-12-31T23:00:00Z");
    assert_eq!(
        detail.last_retry_at.unwrap().to_string(),
        "2024-12-31T23:30:00Z"
    );
    assert_eq!(
        detail.expires_at.unwrap().to_string(),
        "2025-01-07T23:00:00Z"
    );
    assert_eq!(detail.snapshot_data, json!({"order": 7}));
    assert_eq!(
        (detail.max_retries, detail.error_message.as_str()),
        (2, "boom")
    );
}
