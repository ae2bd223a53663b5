//! Comparing every read method of a repository with the model.

use baldur_journal::projection::events::DLQ_ENTRY_ENTITY_TYPE;
use baldur_journal::projection::{EntryListQuery, StatisticsRepository};

use super::{Model, Rng, ts};

/// Every id a workload uses, and one it never uses.
pub const IDS: [&str; 6] = ["e0", "e1", "e2", "e3", "e4", "e5"];

/// Compares every read method of `repo` with the model at `now`.
pub fn check_reads(
    repo: &dyn StatisticsRepository,
    model: &Model,
    now: i64,
    rng: &mut Rng,
    what: &str,
) {
    let ctx = |method: &str| format!("{what}: {method} at now = {}", ts(now));
    assert_eq!(
        repo.get_status_counts().unwrap(),
        model.status_counts(now),
        "{}",
        ctx("status counts")
    );
    for limit in [0, 1, 2, 10] {
        assert_eq!(
            repo.get_domain_distribution(limit).unwrap(),
            model.domain_distribution(now, limit),
            "{}",
            ctx(&format!("domain distribution limit {limit}"))
        );
        assert_eq!(
            repo.get_failure_type_distribution(limit).unwrap(),
            model.failure_type_distribution(now, limit),
            "{}",
            ctx(&format!("failure type distribution limit {limit}"))
        );
    }
    let random_hours = u32::try_from(rng.below(200)).unwrap();
    let random_days = u32::try_from(rng.below(60)).unwrap();
    for (hours, days) in [
        (24, 7),
        (1, 1),
        (72, 30),
        (0, 0),
        (random_hours, random_days),
    ] {
        assert_eq!(
            repo.get_recent_activity(hours, days).unwrap(),
            model.recent_activity(now, hours, days),
            "{}",
            ctx(&format!("recent activity {hours} h {days} d"))
        );
    }
    for days in [30, 1, 7, 365, 0, random_days] {
        assert_eq!(
            repo.get_resolution_rate(days).unwrap(),
            model.resolution_rate(now, days),
            "{}",
            ctx(&format!("resolution rate {days} d"))
        );
    }
    assert_eq!(
        repo.get_avg_retry_count().unwrap(),
        model.avg_retry_count(now),
        "{}",
        ctx("avg retry")
    );

    for column in baldur_journal::projection::ORDER_BY_COLUMNS {
        for order_by in [column.to_string(), format!("-{column}")] {
            let query = EntryListQuery {
                page_size: 1000,
                order_by,
                ..Default::default()
            };
            assert_eq!(
                repo.list_entries(&query).unwrap(),
                model.list(&query),
                "{}",
                ctx(&format!("list {query:?}"))
            );
        }
    }
    let statuses = [
        "pending",
        "resolved",
        "archived",
        "requires_review",
        "weird",
        "",
    ];
    let domains = ["payments", "orders", "unknown", "billing", ""];
    let types = ["timeout", "validation_error", "unknown", ""];
    for _ in 0..6 {
        let maybe = |rng: &mut Rng, options: &[&str]| {
            if rng.below(2) == 0 {
                None
            } else {
                Some(rng.pick(options).to_string())
            }
        };
        let query = EntryListQuery {
            page: 1 + rng.below(4),
            page_size: 1 + rng.below(4),
            status: maybe(rng, &statuses),
            domain: maybe(rng, &domains),
            failure_type: maybe(rng, &types),
            order_by: format!(
                "{}{}",
                if rng.below(2) == 0 { "-" } else { "" },
                rng.pick(&baldur_journal::projection::ORDER_BY_COLUMNS)
            ),
        };
        assert_eq!(
            repo.list_entries(&query).unwrap(),
            model.list(&query),
            "{}",
            ctx(&format!("list {query:?}"))
        );
    }
    for id in IDS.iter().chain(&["nope"]) {
        assert_eq!(
            repo.get_entry_detail(id).unwrap(),
            model.detail(id),
            "{}",
            ctx(&format!("detail {id}"))
        );
        for entity_type in [DLQ_ENTRY_ENTITY_TYPE, "order"] {
            let got = repo.get_audit_trail_by_entity(id, entity_type).unwrap();
            let want = model.trail(id, entity_type);
            assert_eq!(got, want, "{}", ctx(&format!("trail {id} {entity_type}")));
            assert_eq!(got.is_chain_valid(), want.is_chain_valid());
        }
    }
    let random_threshold = u32::try_from(rng.below(24 * 20)).unwrap();
    let custom: [&[&str]; 3] = [
        &["replaying", "pending"],
        &[],
        &["resolved", "weird", "archived"],
    ];
    assert_eq!(
        repo.get_sla_breaches(4, None).unwrap(),
        model.sla(now, 4, None),
        "{}",
        ctx("sla default")
    );
    assert_eq!(
        repo.get_sla_breaches(random_threshold, None).unwrap(),
        model.sla(now, random_threshold, None),
        "{}",
        ctx("sla random")
    );
    for statuses in custom {
        assert_eq!(
            repo.get_sla_breaches(random_threshold, Some(statuses))
                .unwrap(),
            model.sla(now, random_threshold, Some(statuses)),
            "{}",
            ctx(&format!("sla {statuses:?}"))
        );
    }
    assert_eq!(
        repo.get_cleanup_stats().unwrap(),
        model.cleanup(now),
        "{}",
        ctx("cleanup")
    );
    assert_eq!(
        repo.get_circuit_breaker_summary().unwrap(),
        model.breaker_summary(),
        "{}",
        ctx("breaker summary")
    );
    assert_eq!(
        repo.list_circuit_breakers().unwrap(),
        model.breakers(),
        "{}",
        ctx("breakers")
    );
}
