//! The model's answers to every read, written from the rules, not from the code.

use std::collections::BTreeMap;

use baldur_journal::projection::events::DLQ_ENTRY_ENTITY_TYPE;
use baldur_journal::projection::{
    AuditTrailEntry, CircuitBreakerInfo, CircuitBreakerSummary, CleanupStats, DomainDistribution,
    EntityAuditTrail, EntryDetail, EntryListQuery, EntrySummary, FailureTypeDistribution,
    PaginatedResult, RecentActivity, StatusCounts,
};

use super::{DAY, HOUR, MEntry, Model, ts};

impl Model {
    fn in_30_days(&self, now: i64) -> Vec<&MEntry> {
        self.live()
            .filter(|e| e.created_at >= now - 30 * DAY)
            .collect()
    }

    pub fn status_counts(&self, now: i64) -> StatusCounts {
        let mut c = StatusCounts::default();
        for e in self.in_30_days(now) {
            c.total += 1;
            match e.status.as_str() {
                "pending" => c.pending += 1,
                "resolved" => c.resolved += 1,
                "failed" => c.failed += 1,
                "archived" => c.archived += 1,
                "reviewing" => c.reviewing += 1,
                "replayed" => c.replayed += 1,
                "requires_review" => c.requires_review += 1,
                "rejected" => c.rejected += 1,
                "expired" => c.expired += 1,
                _ => {}
            }
        }
        c
    }

    fn groups(&self, now: i64, limit: usize, domain: bool) -> Vec<(String, u64, f64)> {
        let rows = self.in_30_days(now);
        let total = rows.len() as u64;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for e in &rows {
            let key = if domain { &e.domain } else { &e.failure_type };
            *counts.entry(key.clone()).or_default() += 1;
        }
        let mut list: Vec<(String, u64)> = counts.into_iter().collect();
        // BTreeMap order is by name; a stable sort by count keeps it for ties.
        list.sort_by_key(|entry| std::cmp::Reverse(entry.1));
        list.truncate(limit);
        list.into_iter()
            .map(|(name, count)| {
                let share = count as f64 / total as f64 * 100.0;
                (name, count, py_round(share, 2))
            })
            .collect()
    }

    pub fn domain_distribution(&self, now: i64, limit: usize) -> Vec<DomainDistribution> {
        self.groups(now, limit, true)
            .into_iter()
            .map(|(domain, count, percentage)| DomainDistribution {
                domain,
                count,
                percentage,
            })
            .collect()
    }

    pub fn failure_type_distribution(
        &self,
        now: i64,
        limit: usize,
    ) -> Vec<FailureTypeDistribution> {
        self.groups(now, limit, false)
            .into_iter()
            .map(
                |(failure_type, count, percentage)| FailureTypeDistribution {
                    failure_type,
                    count,
                    percentage,
                },
            )
            .collect()
    }

    pub fn recent_activity(&self, now: i64, hours: u32, days: u32) -> RecentActivity {
        let h = now - i64::from(hours) * HOUR;
        let d = now - i64::from(days) * DAY;
        let d2 = now - 2 * i64::from(days) * DAY;
        let live: Vec<&MEntry> = self.live().collect();
        let count = |f: &dyn Fn(&MEntry) -> bool| live.iter().filter(|e| f(e)).count() as u64;
        let resolved_since =
            |cut: i64, e: &MEntry| e.resolved_outcome() && e.resolved_at.is_some_and(|r| r >= cut);
        let new_in_7d = count(&|e| e.created_at >= d);
        let previous = count(&|e| e.created_at >= d2 && e.created_at < d);
        let trend = if (new_in_7d as f64) > previous as f64 * 1.1 {
            "up"
        } else if (new_in_7d as f64) < previous as f64 * 0.9 {
            "down"
        } else {
            "stable"
        };
        RecentActivity {
            new_in_24h: count(&|e| e.created_at >= h),
            resolved_in_24h: count(&|e| resolved_since(h, e)),
            new_in_7d,
            resolved_in_7d: count(&|e| resolved_since(d, e)),
            trend: trend.into(),
        }
    }

    pub fn resolution_rate(&self, now: i64, days: u32) -> f64 {
        let rows: Vec<&MEntry> = self
            .live()
            .filter(|e| e.created_at >= now - i64::from(days) * DAY)
            .collect();
        if rows.is_empty() {
            return 0.0;
        }
        let resolved = rows.iter().filter(|e| e.resolved_outcome()).count();
        py_round(resolved as f64 / rows.len() as f64, 4)
    }

    pub fn avg_retry_count(&self, now: i64) -> f64 {
        let rows = self.in_30_days(now);
        if rows.is_empty() {
            return 0.0;
        }
        let sum: i64 = rows.iter().map(|e| e.retry_count).sum();
        py_round(sum as f64 / rows.len() as f64, 2)
    }

    pub fn list(&self, q: &EntryListQuery) -> PaginatedResult<EntrySummary> {
        let wanted = |f: &Option<String>, v: &str| match f.as_deref() {
            None | Some("") => true,
            Some(x) => x == v,
        };
        let mut rows: Vec<&MEntry> = self
            .live()
            .filter(|e| wanted(&q.status, &e.status))
            .filter(|e| wanted(&q.domain, &e.domain))
            .filter(|e| wanted(&q.failure_type, &e.failure_type))
            .collect();
        let desc = q.order_by.starts_with('-');
        let column = q.order_by.trim_start_matches('-');
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        enum Key {
            Text(Option<String>),
            Number(Option<i64>),
        }
        let key = |e: &MEntry| match column {
            "id" => Key::Text(Some(e.id.clone())),
            "domain" => Key::Text(Some(e.domain.clone())),
            "failure_type" => Key::Text(Some(e.failure_type.clone())),
            "status" => Key::Text(Some(e.status.clone())),
            "entity_type" => Key::Text(e.entity_type.clone()),
            "entity_id" => Key::Text(e.entity_id.clone()),
            "error_code" => Key::Text(Some(e.error_code.clone())),
            "retry_count" => Key::Number(Some(e.retry_count)),
            "created_at" => Key::Number(Some(e.created_at)),
            "updated_at" => Key::Number(Some(e.updated_at)),
            "resolved_at" => Key::Number(e.resolved_at),
            other => panic!("the model lists only by known columns, not {other:?}"),
        };
        rows.sort_by_key(|e| (key(e), e.first_seq));
        if desc {
            rows.reverse();
        }
        let total = rows.len() as u64;
        let start = (q.page - 1) * q.page_size;
        let items = rows
            .iter()
            .skip(usize::try_from(start).unwrap())
            .take(usize::try_from(q.page_size).unwrap())
            .map(|e| EntrySummary {
                id: e.id.clone(),
                domain: e.domain.clone(),
                failure_type: e.failure_type.clone(),
                status: e.status.clone(),
                entity_type: e.entity_type.clone(),
                entity_id: e.entity_id.clone(),
                retry_count: e.retry_count,
                error_code: e.error_code.clone(),
                created_at: ts(e.created_at),
                updated_at: ts(e.updated_at),
                resolved_at: e.resolved_at.map(ts),
            })
            .collect();
        PaginatedResult {
            items,
            total,
            page: q.page,
            page_size: q.page_size,
            has_next: start + q.page_size < total,
            has_prev: q.page > 1,
        }
    }

    pub fn detail(&self, id: &str) -> Option<EntryDetail> {
        let e = self.find(id).filter(|e| !e.purged)?;
        Some(EntryDetail {
            id: e.id.clone(),
            domain: e.domain.clone(),
            failure_type: e.failure_type.clone(),
            status: e.status.clone(),
            entity_type: e.entity_type.clone(),
            entity_id: e.entity_id.clone(),
            user_id: e.user_id,
            retry_count: e.retry_count,
            max_retries: e.max_retries,
            error_code: e.error_code.clone(),
            last_retry_at: e.last_retry_at.map(ts),
            resolved_at: e.resolved_at.map(ts),
            created_at: ts(e.created_at),
            updated_at: ts(e.updated_at),
            expires_at: e.expires_at.map(ts),
            error_message: e.error_message.clone(),
            snapshot_data: e.snapshot_data.clone(),
            metadata: e.metadata.clone(),
        })
    }

    pub fn sla(&self, now: i64, hours: u32, statuses: Option<&[&str]>) -> BTreeMap<String, u64> {
        let statuses = statuses.unwrap_or(&["pending", "reviewing", "requires_review"]);
        let mut out = BTreeMap::new();
        for e in self.live() {
            if statuses.contains(&e.status.as_str()) && e.created_at < now - i64::from(hours) * HOUR
            {
                *out.entry(e.domain.clone()).or_default() += 1;
            }
        }
        out
    }

    pub fn cleanup(&self, now: i64) -> CleanupStats {
        let mut c = CleanupStats::default();
        for e in self.live() {
            c.total += 1;
            *c.by_status.entry(e.status.clone()).or_default() += 1;
            if e.status == "resolved" && e.resolved_at.is_some_and(|r| r < now - 30 * DAY) {
                c.resolved_older_than_30_days += 1;
            }
            if e.status == "archived" && e.updated_at < now - 90 * DAY {
                c.archived_older_than_90_days += 1;
            }
        }
        c
    }

    pub fn breaker_summary(&self) -> CircuitBreakerSummary {
        let mut s = CircuitBreakerSummary::default();
        for b in &self.breakers {
            s.total += 1;
            match b.state.as_str() {
                "closed" => s.closed += 1,
                "open" => s.open += 1,
                "half_open" => s.half_open += 1,
                _ => {}
            }
        }
        s
    }

    pub fn breakers(&self) -> Vec<CircuitBreakerInfo> {
        let mut list: Vec<CircuitBreakerInfo> = self
            .breakers
            .iter()
            .map(|b| CircuitBreakerInfo {
                service_name: b.name.clone(),
                state: b.state.clone(),
                failure_count: b.failures,
                success_count: b.successes,
                last_failure_time: b.last_failure.map(ts),
                last_state_change: b.last_change.map(ts),
            })
            .collect();
        list.sort_by(|a, b| a.service_name.cmp(&b.service_name));
        list
    }

    pub fn trail(&self, id: &str, entity_type: &str) -> EntityAuditTrail {
        let mut trail = EntityAuditTrail {
            entity_id: id.into(),
            entity_type: entity_type.into(),
            domain: "unknown".into(),
            created_at: None,
            resolved_at: None,
            current_status: "unknown".into(),
            entries: Vec::new(),
            // The model's journals are never tampered with: every hash
            // recomputes (the model computed them itself), so an entry
            // fails only by the chain's shape (docs/AUDIT.md).
            hashes_recomputed: true,
            first_bad_entry: None,
        };
        if entity_type != DLQ_ENTRY_ENTITY_TYPE {
            return trail;
        }
        let Some(e) = self.find(id) else { return trail };
        trail.domain = e.domain.clone();
        trail.created_at = Some(ts(e.created_at));
        trail.resolved_at = e.resolved_at.map(ts);
        trail.current_status = e.shown_status();
        trail.entries = e
            .trail
            .iter()
            .map(|t| AuditTrailEntry {
                timestamp: ts(t.at),
                action: t.action.clone(),
                actor_id: t.actor.clone(),
                status: t.status.clone(),
                details: t.details.clone(),
                hash_chain: t.hash.clone(),
                previous_hash: t.previous.clone(),
            })
            .collect();
        trail.first_bad_entry = first_bad_entry(&e.trail);
        trail
    }
}

/// Python's `round(x, digits)` for `x >= 0`, computed from the exact binary
/// value of `x` with integer arithmetic (ties to even).
pub fn py_round(x: f64, digits: u32) -> f64 {
    assert!(x >= 0.0 && x.is_finite());
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exp2) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), exponent - 1075)
    };
    if exp2 >= 0 {
        return x;
    }
    let shift = u32::try_from(-exp2).unwrap();
    if shift >= 100 {
        return 0.0;
    }
    let scale = 10u128.pow(digits);
    let scaled = u128::from(mantissa) * scale;
    let mut quotient = scaled >> shift;
    let remainder = scaled & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if remainder > half || (remainder == half && quotient % 2 == 1) {
        quotient += 1;
    }
    quotient as f64 / scale as f64
}

/// The first trail entry verification fails, by docs/AUDIT.md's rules for
/// an untampered journal: an unchained event after a chained one
/// (`unchained_after_chain`), or a chained one whose `previous_hash` is not
/// the previous chained event's hash (`broken_link`).
fn first_bad_entry(trail: &[super::model::MTrail]) -> Option<usize> {
    let mut last: Option<&String> = None;
    let mut started = false;
    for (i, t) in trail.iter().enumerate() {
        if !t.chained {
            if started {
                return Some(i);
            }
            continue;
        }
        if t.previous.as_ref() != last {
            return Some(i);
        }
        last = t.hash.as_ref();
        started = true;
    }
    None
}
