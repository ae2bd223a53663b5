//! `JournalStatistics` agrees with an independent model (tests/stats/common)
//! on random DLQ workloads, for every read method, live at random "now"s,
//! as of random sequences and as of random times, over `MemoryJournal` and
//! `DiskJournal`.

use std::sync::Arc;

use crate::common::{Ev, IDS, Op, Snapshot, run_workload};
use baldur_journal::projection::events::DLQ_ENTRY_ENTITY_TYPE;
use baldur_journal::projection::{AuditLink, BreakerTransition, LifecycleKind};
use baldur_journal::{DiskJournal, Durability, EventJournal, MemoryJournal};
use proptest::prelude::*;

fn id() -> impl Strategy<Value = String> {
    prop::sample::select(&IDS[..]).prop_map(String::from)
}

fn text(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(options).prop_map(String::from)
}

fn maybe_text(options: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::option::of(text(options))
}

const STATUSES: &[&str] = &[
    "pending",
    "replaying",
    "reviewing",
    "replayed",
    "requires_review",
    "resolved",
    "rejected",
    "archived",
    "expired",
    "permanently_failed",
    "failed",
    "weird",
];

fn snapshot() -> impl Strategy<Value = Snapshot> {
    (
        (
            id(),
            text(&["payments", "orders", ""]),
            text(&["timeout", ""]),
        ),
        (maybe_text(STATUSES), prop::option::of(0i64..4)),
        (
            prop::option::of(0i64..10_000),
            prop::option::of(0i64..10_000),
            prop::option::of(0i64..60_000),
            prop::option::of(0i64..100),
        ),
        (
            any::<bool>(),
            maybe_text(&["boom", ""]),
            prop::option::of(0i64..3),
        ),
    )
        .prop_map(
            |(
                (id, domain, failure_type),
                (status, retry_count),
                times,
                (python, message, metadata),
            )| {
                Snapshot {
                    id,
                    domain,
                    failure_type,
                    status,
                    retry_count,
                    created_minutes_ago: times.0,
                    updated_minutes_ago: times.1,
                    resolved_minutes_ago: times.2,
                    last_retry_minutes_ago: times.3,
                    python_times: python,
                    error_message: message,
                    metadata,
                }
            },
        )
}

fn link() -> impl Strategy<Value = AuditLink> {
    (
        id(),
        prop_oneof![9 => Just(DLQ_ENTRY_ENTITY_TYPE), 1 => Just("order")],
        text(&["replay", "resolve", "review"]),
        maybe_text(&["ops", "bot"]),
        maybe_text(&["resolved", "pending"]),
        maybe_text(&["checked by hand"]),
        maybe_text(&["h1", "h2", "h3"]),
    )
        .prop_map(
            |(id, entity_type, action, actor, status, details, hash)| AuditLink {
                entity_id: id,
                entity_type: entity_type.into(),
                action,
                actor_id: actor,
                status,
                details,
                audit_record_hash: hash,
            },
        )
}

fn event() -> impl Strategy<Value = Ev> {
    let store = (
        (
            id(),
            text(&["payments", "orders", "billing", ""]),
            text(&["timeout", "validation_error", ""]),
        ),
        text(&["pending", "pending", "reviewing", "resolved", "weird"]),
        (0i64..3, 1i64..4),
        (
            maybe_text(&["order"]),
            text(&["", "E1", "E2"]),
            maybe_text(&["runtime"]),
        ),
    )
        .prop_map(
            |(
                (id, domain, failure_type),
                status,
                (retry_count, max_retries),
                (entity_type, error_code, actor),
            )| {
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
                }
            },
        );
    let life = (
        prop::sample::select(&LifecycleKind::ALL[..]),
        id(),
        prop_oneof![4 => Just(None), 1 => maybe_text(STATUSES)],
        prop_oneof![4 => Just(None), 1 => prop::option::of(0i64..5)],
        maybe_text(&["ops"]),
    )
        .prop_map(|(kind, id, status, retry_count, actor)| Ev::Life {
            kind,
            id,
            status,
            retry_count,
            actor,
        });
    // Like the reference's publishers: only `opened` reports failure counts
    // as a rule; closed and half-opened rarely do.
    let counts = |transition: BreakerTransition| {
        let weight = if transition == BreakerTransition::Opened {
            3
        } else {
            1
        };
        (
            prop_oneof![1 => Just(None), weight => prop::option::of(0i64..10)],
            prop_oneof![3 => Just(None), weight => prop::option::of(0i64..10)],
        )
    };
    let breaker = (
        prop::sample::select(
            &[
                BreakerTransition::Opened,
                BreakerTransition::Closed,
                BreakerTransition::HalfOpened,
            ][..],
        ),
        text(&["pay", "ship", ""]),
    )
        .prop_flat_map(move |(transition, name)| {
            counts(transition).prop_map(move |(window, consecutive)| Ev::Breaker {
                transition,
                name: name.clone(),
                window,
                consecutive,
            })
        });
    prop_oneof![
        4 => store,
        8 => life,
        2 => snapshot().prop_map(Ev::Persist),
        1 => (id(), maybe_text(&["by hand"])).prop_map(|(id, details)| Ev::Archive { id, details }),
        1 => id().prop_map(|id| Ev::Purge { id }),
        1 => link().prop_map(Ev::Link),
        2 => breaker,
        1 => Just(Ev::Noise),
        1 => Just(Ev::Malformed),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (event(), prop_oneof![3 => Just(0i64), 1 => 0i64..120], prop_oneof![5 => Just(0u64), 1 => 1u64..4])
            .prop_map(|(ev, skew, gap)| Op::Event { ev, skew, gap }),
        6 => (0i64..3 * 24 * 60).prop_map(Op::Advance),
        1 => (30i64 * 24 * 60..100 * 24 * 60).prop_map(Op::Advance),
        2 => prop::sample::select(&[0u32, 1, 30][..]).prop_map(Op::ArchiveOld),
        2 => (prop::option::of(prop::collection::vec(id(), 0..3)), prop::option::of(prop::sample::select(&[0u32, 1, 90][..])))
            .prop_map(|(ids, days)| Op::Purge { ids, days }),
        1 => snapshot().prop_map(Op::PersistEntry),
        1 => prop::collection::vec(snapshot(), 0..3).prop_map(Op::Sync),
        1 => link().prop_map(Op::LinkAudit),
        1 => Just(Op::Check),
    ]
}

fn workload() -> impl Strategy<Value = (Vec<Op>, u64)> {
    (prop::collection::vec(op(), 1..90), any::<u64>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn memory_journal_agrees_with_the_model((ops, seed) in workload()) {
        run_workload(Arc::new(MemoryJournal::new()), &ops, seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn disk_journal_agrees_with_the_model((ops, seed) in workload()) {
        let dir = tempfile::tempdir().unwrap();
        let journal = DiskJournal::builder(dir.path())
            .durability(Durability::Os)
            .segment_bytes(64 * 1024)
            .open()
            .unwrap();
        let journal: Arc<dyn EventJournal> = Arc::new(journal);
        run_workload(journal, &ops, seed);
    }
}
