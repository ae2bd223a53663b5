//! The demo's DLQ workload: entries stored across domains and failure
//! types, replayed (some succeed, some fail until the retry cap), escalated,
//! reviewed by operators (audit links), resolved, rejected, force-redriven,
//! expired, and archived by a nightly cleanup 30 days after resolution.
//! Entries left waiting become SLA breaches. Built with the library's
//! typed event constructors; deterministic for a given seed.

use baldur_journal::projection::events::dlq_archive;
use baldur_journal::projection::{AuditLink, LifecycleEvent, LifecycleKind, StoreEvent};
use baldur_journal::{JournalEntry, Timestamp};
use serde_json::{Map, Value};

use super::fleet::Rng;

const MINUTE_NS: i64 = 60_000_000_000;
const HOUR_NS: i64 = 60 * MINUTE_NS;
const DAY_NS: i64 = 24 * HOUR_NS;

/// Domain, relative weight, the entity type its entries concern.
const DOMAINS: [(&str, u64, &str); 8] = [
    ("payments", 22, "payment"),
    ("orders", 18, "order"),
    ("checkout", 14, "cart"),
    ("shipping", 12, "shipment"),
    ("inventory", 10, "sku"),
    ("billing", 9, "invoice"),
    ("notifications", 9, "message"),
    ("search", 6, "index_job"),
];

/// Failure type, relative weight, error code, chance one replay succeeds.
const FAILURES: [(&str, u64, &str, f64); 7] = [
    ("timeout", 26, "E_TIMEOUT", 0.75),
    ("connection_error", 18, "E_CONN", 0.7),
    ("downstream_5xx", 16, "E_UPSTREAM_5XX", 0.6),
    ("rate_limited", 12, "E_RATE_LIMIT", 0.8),
    ("validation_error", 12, "E_VALIDATION", 0.1),
    ("deserialization_error", 9, "E_DECODE", 0.05),
    ("auth_expired", 7, "E_AUTH", 0.5),
];

const OPERATORS: [&str; 4] = ["oncall:alice", "oncall:bob", "oncall:chen", "oncall:dana"];
const MAX_RETRIES: i64 = 3;

fn pick<T: Copy>(rng: &mut Rng, items: &[T], weight: impl Fn(&T) -> u64) -> T {
    let total: u64 = items.iter().map(&weight).sum();
    let mut roll = rng.below(total);
    for item in items {
        let w = weight(item);
        if roll < w {
            return *item;
        }
        roll -= w;
    }
    items[items.len() - 1]
}

/// An exponential delay with this mean, at least a second.
#[expect(
    clippy::cast_possible_truncation,
    reason = "nanoseconds of a positive delay; `as` saturates, never wraps"
)]
fn delay(rng: &mut Rng, mean_ns: f64) -> i64 {
    ((-rng.unit().ln() * mean_ns) as i64).max(1_000_000_000)
}

/// The DLQ events of `entries` entries created between `start` and `end`,
/// in time order; only events at or before `end` (later steps have not
/// happened yet). Ids are `dlq-NNNNNN` from `first_id`.
pub fn dlq_events(
    seed: u64,
    entries: u64,
    first_id: u64,
    start: Timestamp,
    end: Timestamp,
) -> Vec<JournalEntry> {
    let mut rng = Rng(seed | 1);
    let (start, end) = (start.as_unix_nanos(), end.as_unix_nanos());
    let span = (end - start).max(1) as f64;
    // A hint: about five events per entry.
    let capacity = usize::try_from(entries).map_or(0, |n| n.saturating_mul(5));
    let mut out: Vec<JournalEntry> = Vec::with_capacity(capacity);
    for n in 0..entries {
        // Arrivals spread over the span, busier towards its end (a growing
        // backlog), with a daily curve.
        let mut created;
        loop {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "a fraction (0, 1] of `span`, itself an i64 difference"
            )]
            let offset = (rng.unit().powf(0.8) * span) as i64;
            created = start + offset;
            let hour = (created.rem_euclid(DAY_NS) / HOUR_NS) as f64;
            let load = 1.0 + 0.6 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos();
            if rng.unit() * 1.6 <= load {
                break;
            }
        }
        let id = format!("dlq-{:06}", first_id + n);
        entry_life(&mut rng, &id, created, end, &mut out);
    }
    out.sort_by_key(|e| e.timestamp);
    out
}

fn entry_life(rng: &mut Rng, id: &str, created: i64, end: i64, out: &mut Vec<JournalEntry>) {
    let (domain, _, entity_type) = pick(rng, &DOMAINS, |d| d.1);
    let (failure, _, code, success) = pick(rng, &FAILURES, |f| f.1);
    let at = |ns: i64| Timestamp::from_unix_nanos(ns / 1000 * 1000);

    let mut store = StoreEvent::new(id, domain, failure);
    store.entity_type = Some(entity_type.into());
    store.entity_id = Some(format!("{entity_type}-{}", rng.below(900_000) + 100_000));
    store.user_id = Some(rng.below(50_000) as i64 + 1);
    store.max_retries = MAX_RETRIES;
    store.error_code = code.into();
    store.error_message = format!("{domain}: {failure} while handling {entity_type}");
    let mut snapshot = Map::new();
    snapshot.insert("attempt".into(), Value::from(1));
    snapshot.insert("queue".into(), Value::from(format!("{domain}.events")));
    store.snapshot_data = snapshot;
    store.expires_at = Some(at(created + 14 * DAY_NS));
    store.actor_id = Some("dlq-runtime".into());
    if !put(out, end, created, store.to_entry(at(created))) {
        return;
    }

    let step = |kind: LifecycleKind, actor: &str| LifecycleEvent::new(kind, id).by(actor);
    let mut now = created;
    // 8% are never replayed automatically (poison messages parked for a human).
    let mut needs_human = rng.chance(0.08);
    let mut retries = 0;
    while !needs_human && retries < MAX_RETRIES {
        now += delay(rng, 25.0 * MINUTE_NS as f64 * (retries + 1) as f64);
        retries += 1;
        if !put(
            out,
            end,
            now,
            step(LifecycleKind::ReplayStart, "replay-worker").to_entry(at(now)),
        ) {
            return;
        }
        now += delay(rng, 2.0 * MINUTE_NS as f64);
        if rng.chance(success) {
            put(
                out,
                end,
                now,
                step(LifecycleKind::ReplaySuccess, "replay-worker").to_entry(at(now)),
            );
            archive_later(rng, id, now, end, out);
            return;
        }
        if !put(
            out,
            end,
            now,
            step(LifecycleKind::ReplayFailed, "replay-worker").to_entry(at(now)),
        ) {
            return;
        }
        needs_human = retries >= MAX_RETRIES;
    }

    // A human's turn: escalate some at once; many wait hours (SLA breaches).
    if rng.chance(0.3) {
        now += delay(rng, 10.0 * MINUTE_NS as f64);
        if !put(
            out,
            end,
            now,
            step(LifecycleKind::Escalate, "sla-monitor").to_entry(at(now)),
        ) {
            return;
        }
    }
    let operator = OPERATORS[rng.index(OPERATORS.len())];
    now += delay(rng, 30.0 * HOUR_NS as f64);
    if rng.chance(0.05) {
        // Nobody got to it in time.
        let expires = created + 14 * DAY_NS;
        let when = now.max(expires);
        put(
            out,
            end,
            when,
            step(LifecycleKind::Expire, "dlq-janitor").to_entry(at(when)),
        );
        return;
    }
    let mut link = AuditLink::new(id, "operator_review");
    link.actor_id = Some(operator.into());
    link.status = Some("reviewing".into());
    link.details = Some(format!("ticket OPS-{}", rng.below(90_000) + 10_000));
    if !put(out, end, now, link.to_entry(at(now))) {
        return;
    }
    now += delay(rng, 40.0 * MINUTE_NS as f64);
    let roll = rng.unit();
    if roll < 0.5 {
        let mut resolve = step(LifecycleKind::Resolve, operator);
        resolve.details = Some("fixed upstream data, replayed by hand".into());
        if put(out, end, now, resolve.to_entry(at(now))) {
            archive_later(rng, id, now, end, out);
        }
    } else if roll < 0.8 {
        let mut reject = step(LifecycleKind::Reject, operator);
        reject.details = Some("duplicate or obsolete message".into());
        put(out, end, now, reject.to_entry(at(now)));
    } else {
        // Force a redrive; it works most of the time.
        if !put(
            out,
            end,
            now,
            step(LifecycleKind::ForceRedrive, operator).to_entry(at(now)),
        ) {
            return;
        }
        now += delay(rng, 3.0 * MINUTE_NS as f64);
        if rng.chance(0.85) {
            if put(
                out,
                end,
                now,
                step(LifecycleKind::ReplaySuccess, "replay-worker").to_entry(at(now)),
            ) {
                archive_later(rng, id, now, end, out);
            }
        } else {
            let mut failed = step(LifecycleKind::ReplayFailed, "replay-worker");
            failed.status = Some("requires_review".into());
            put(out, end, now, failed.to_entry(at(now)));
        }
    }
}

/// Keeps `entry` (happening at `ns`) when it happened by `end`.
fn put(out: &mut Vec<JournalEntry>, end: i64, ns: i64, entry: JournalEntry) -> bool {
    if ns <= end {
        out.push(entry);
        true
    } else {
        false
    }
}

/// The nightly cleanup (03:00) archives what was resolved more than 30
/// days before.
fn archive_later(rng: &mut Rng, id: &str, resolved: i64, end: i64, out: &mut Vec<JournalEntry>) {
    let due = resolved + 30 * DAY_NS;
    let night = due.div_euclid(DAY_NS) * DAY_NS + 3 * HOUR_NS;
    let night = if night < due { night + DAY_NS } else { night };
    let when = night + rng.below(600) as i64 * 1_000_000_000;
    if when <= end {
        out.push(dlq_archive(
            id,
            Some("dlq-cleanup"),
            Some("resolved more than 30 days ago"),
            Timestamp::from_unix_nanos(when),
        ));
    }
}
