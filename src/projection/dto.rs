//! The statistics DTOs of the seed, with its serde field names.
//!
//! The seed's computed properties (`PaginatedResult::total_pages`,
//! `EntityAuditTrail::total_entries` and `is_chain_valid`,
//! `CleanupStats::can_archive` and `can_purge`) are methods here
//! and are also written as fields when serialized; deserializing ignores
//! them, since they are derived.

use std::collections::BTreeMap;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::entry::Timestamp;

/// Count of DLQ entries by status. `total` counts every entry looked at;
/// each named field counts the status of exactly that name, so statuses
/// without a field (`replaying`, `permanently_failed`, unknown ones) count
/// in `total` only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusCounts {
    /// Every entry in the window.
    pub total: u64,
    /// Status `pending`.
    pub pending: u64,
    /// Status `resolved`.
    pub resolved: u64,
    /// Status `failed` (no DLQ status has that name; 0 unless written).
    pub failed: u64,
    /// Status `archived`.
    pub archived: u64,
    /// Status `reviewing`.
    pub reviewing: u64,
    /// Status `replayed`.
    pub replayed: u64,
    /// Status `requires_review`.
    pub requires_review: u64,
    /// Status `rejected`.
    pub rejected: u64,
    /// Status `expired`.
    pub expired: u64,
}

/// One domain's share of the DLQ entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainDistribution {
    /// The domain (`unknown` when the entry had none).
    pub domain: String,
    /// Entries of that domain.
    pub count: u64,
    /// `count / total * 100`, rounded to 2 decimals as Python's `round`.
    pub percentage: f64,
}

/// One failure type's share of the DLQ entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureTypeDistribution {
    /// The failure type (`unknown` when the entry had none).
    pub failure_type: String,
    /// Entries of that failure type.
    pub count: u64,
    /// `count / total * 100`, rounded to 2 decimals as Python's `round`.
    pub percentage: f64,
}

/// Recent activity. The field names say 24h and 7d; the windows are the
/// `hours` and `days` arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecentActivity {
    /// Entries created in the last `hours`.
    pub new_in_24h: u64,
    /// Entries resolved in the last `hours`.
    pub resolved_in_24h: u64,
    /// Entries created in the last `days`.
    pub new_in_7d: u64,
    /// Entries resolved in the last `days`.
    pub resolved_in_7d: u64,
    /// `up`, `down` or `stable`: the last `days` against the `days` before.
    pub trend: String,
}

impl Default for RecentActivity {
    fn default() -> Self {
        RecentActivity {
            new_in_24h: 0,
            resolved_in_24h: 0,
            new_in_7d: 0,
            resolved_in_7d: 0,
            trend: "stable".into(),
        }
    }
}

/// What the cleanup could do. Serialized with the seed's fields plus
/// `can_archive` and `can_purge` (the two methods' answers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CleanupStats {
    /// Every entry.
    pub total: u64,
    /// Entries by status; only the statuses present.
    pub by_status: BTreeMap<String, u64>,
    /// Status `resolved` with `resolved_at` more than 30 days ago.
    pub resolved_older_than_30_days: u64,
    /// Status `archived` with `updated_at` more than 90 days ago.
    pub archived_older_than_90_days: u64,
}

impl CleanupStats {
    /// Entries the archiving could take now (`resolved_older_than_30_days`).
    #[must_use]
    pub fn can_archive(&self) -> u64 {
        self.resolved_older_than_30_days
    }

    /// Entries a purge could take now (`archived_older_than_90_days`).
    #[must_use]
    pub fn can_purge(&self) -> u64 {
        self.archived_older_than_90_days
    }
}

impl Serialize for CleanupStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("CleanupStats", 6)?;
        out.serialize_field("total", &self.total)?;
        out.serialize_field("by_status", &self.by_status)?;
        out.serialize_field(
            "resolved_older_than_30_days",
            &self.resolved_older_than_30_days,
        )?;
        out.serialize_field(
            "archived_older_than_90_days",
            &self.archived_older_than_90_days,
        )?;
        out.serialize_field("can_archive", &self.can_archive())?;
        out.serialize_field("can_purge", &self.can_purge())?;
        out.end()
    }
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PaginatedResult<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// Items matching the filters, on every page.
    pub total: u64,
    /// The page number, from 1.
    pub page: u64,
    /// Items per page.
    pub page_size: u64,
    /// A later page has items.
    pub has_next: bool,
    /// The page is not the first.
    pub has_prev: bool,
}

impl<T> PaginatedResult<T> {
    /// An empty page that echoes `page` and `page_size`.
    #[must_use]
    pub fn empty(page: u64, page_size: u64) -> Self {
        PaginatedResult {
            items: Vec::new(),
            total: 0,
            page,
            page_size,
            has_next: false,
            has_prev: false,
        }
    }

    /// Pages in all: 0 when `page_size` is 0, otherwise `total / page_size`
    /// rounded up.
    #[must_use]
    pub fn total_pages(&self) -> u64 {
        if self.page_size == 0 {
            0
        } else {
            self.total.div_ceil(self.page_size)
        }
    }
}

impl<T: Serialize> Serialize for PaginatedResult<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("PaginatedResult", 7)?;
        out.serialize_field("items", &self.items)?;
        out.serialize_field("total", &self.total)?;
        out.serialize_field("page", &self.page)?;
        out.serialize_field("page_size", &self.page_size)?;
        out.serialize_field("has_next", &self.has_next)?;
        out.serialize_field("has_prev", &self.has_prev)?;
        out.serialize_field("total_pages", &self.total_pages())?;
        out.end()
    }
}

/// One DLQ entry in a listing: the columns the reference's SQL listing
/// returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntrySummary {
    /// The entry's id.
    pub id: String,
    /// Its domain.
    pub domain: String,
    /// Its failure type.
    pub failure_type: String,
    /// Its status.
    pub status: String,
    /// The failed business entity's type.
    pub entity_type: Option<String>,
    /// The failed business entity's id.
    pub entity_id: Option<String>,
    /// Replay attempts used.
    pub retry_count: i64,
    /// Error code.
    pub error_code: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it ended (resolved, rejected, expired, archived), if it did.
    pub resolved_at: Option<Timestamp>,
}

/// Everything known about one DLQ entry: the reference's SQL detail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryDetail {
    /// The entry's id.
    pub id: String,
    /// Its domain.
    pub domain: String,
    /// Its failure type.
    pub failure_type: String,
    /// Its status.
    pub status: String,
    /// The failed business entity's type.
    pub entity_type: Option<String>,
    /// The failed business entity's id.
    pub entity_id: Option<String>,
    /// The user concerned.
    pub user_id: Option<i64>,
    /// Replay attempts used.
    pub retry_count: i64,
    /// The cap on replay attempts.
    pub max_retries: i64,
    /// Error code.
    pub error_code: String,
    /// When the last replay attempt started.
    pub last_retry_at: Option<Timestamp>,
    /// When it ended, if it did.
    pub resolved_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it expires.
    pub expires_at: Option<Timestamp>,
    /// Error message.
    pub error_message: String,
    /// The state needed to replay it.
    pub snapshot_data: serde_json::Value,
    /// Free-form metadata, as last stored or persisted.
    pub metadata: serde_json::Value,
}

/// Circuit breakers by state. A state other than the three named ones
/// counts in `total` only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CircuitBreakerSummary {
    /// Every breaker.
    pub total: u64,
    /// State `closed`.
    pub closed: u64,
    /// State `open`.
    pub open: u64,
    /// State `half_open`.
    pub half_open: u64,
}

/// One circuit breaker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreakerInfo {
    /// The service it protects.
    pub service_name: String,
    /// `closed`, `open` or `half_open`.
    pub state: String,
    /// Failures in the window that opened it (0 after it closed).
    #[serde(default)]
    pub failure_count: i64,
    /// Successes, when an event reported them.
    #[serde(default)]
    pub success_count: i64,
    /// When it last opened.
    #[serde(default)]
    pub last_failure_time: Option<Timestamp>,
    /// When it last changed state.
    #[serde(default)]
    pub last_state_change: Option<Timestamp>,
}

/// One action in an entity's audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTrailEntry {
    /// When the action happened (the event's timestamp).
    pub timestamp: Timestamp,
    /// What happened: `store`, `replay_start`, `persist_refused`, ...
    pub action: String,
    /// Who did it.
    #[serde(default)]
    pub actor_id: Option<String>,
    /// The entity's status after the action.
    #[serde(default)]
    pub status: Option<String>,
    /// Free text; for a refused event, why it was refused.
    #[serde(default)]
    pub details: Option<String>,
    /// The entry's own hash.
    #[serde(default)]
    pub hash_chain: Option<String>,
    /// The hash it claims to follow.
    #[serde(default)]
    pub previous_hash: Option<String>,
}

/// An entity's audit trail, from creation to resolution.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct EntityAuditTrail {
    /// The entity's id.
    pub entity_id: String,
    /// The entity's type, for example `dlq_entry`.
    pub entity_type: String,
    /// Its domain (`unknown` when not known).
    pub domain: String,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it ended, if it did.
    #[serde(default)]
    pub resolved_at: Option<Timestamp>,
    /// Its status now (`unknown` when not known, `purged` once purged).
    pub current_status: String,
    /// Its actions, oldest first.
    #[serde(default)]
    pub entries: Vec<AuditTrailEntry>,
    /// Whether every hash was recomputed from the journal's stored content
    /// when this trail was read. Always true for trails returned by
    /// `get_audit_trail_by_entity` of the journal-backed repositories;
    /// false for a trail built by hand or deserialized, for which
    /// [`EntityAuditTrail::is_chain_valid`] can only compare links.
    #[serde(default)]
    pub hashes_recomputed: bool,
    /// With `hashes_recomputed`, the index in `entries` of the first entry
    /// whose recomputed hash or link failed (docs/AUDIT.md), if any.
    #[serde(default)]
    pub first_bad_entry: Option<usize>,
}

impl EntityAuditTrail {
    /// The trail of an entity nothing is known about.
    #[must_use]
    pub fn unknown(entity_id: &str, entity_type: &str) -> Self {
        EntityAuditTrail {
            entity_id: entity_id.into(),
            entity_type: entity_type.into(),
            domain: "unknown".into(),
            created_at: None,
            resolved_at: None,
            current_status: "unknown".into(),
            entries: Vec::new(),
            hashes_recomputed: false,
            first_bad_entry: None,
        }
    }

    /// The number of actions.
    #[must_use]
    pub fn total_entries(&self) -> usize {
        self.entries.len()
    }

    /// Whether the chain is intact. For a trail read from its journal
    /// (`hashes_recomputed`), this is the recomputation done then: every
    /// hash recomputed from the stored content (keyed ones with the
    /// repository's keys) and every link checked against the previous
    /// chained entry's stored hash, exactly as
    /// `JournalStatistics::verify_audit_trail` (docs/AUDIT.md); true when
    /// no entry failed. For a trail built by hand or deserialized, only the
    /// shown links can be compared ([`EntityAuditTrail::links_valid`]),
    /// which proves nothing about tampering.
    #[must_use]
    pub fn is_chain_valid(&self) -> bool {
        if self.hashes_recomputed {
            self.first_bad_entry.is_none()
        } else {
            self.links_valid()
        }
    }

    /// The reference's link check (docs/AUDIT.md, the link check): true when the
    /// first entry's `previous_hash` is `None` and each later entry's
    /// `previous_hash` equals the entry before's `hash_chain`. It
    /// recomputes no hash.
    #[must_use]
    pub fn links_valid(&self) -> bool {
        let Some(first) = self.entries.first() else {
            return true;
        };
        first.previous_hash.is_none()
            && self
                .entries
                .windows(2)
                .all(|pair| pair[1].previous_hash == pair[0].hash_chain)
    }
}

impl Serialize for EntityAuditTrail {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("EntityAuditTrail", 11)?;
        out.serialize_field("entity_id", &self.entity_id)?;
        out.serialize_field("entity_type", &self.entity_type)?;
        out.serialize_field("domain", &self.domain)?;
        out.serialize_field("created_at", &self.created_at)?;
        out.serialize_field("resolved_at", &self.resolved_at)?;
        out.serialize_field("current_status", &self.current_status)?;
        out.serialize_field("entries", &self.entries)?;
        out.serialize_field("total_entries", &self.total_entries())?;
        out.serialize_field("is_chain_valid", &self.is_chain_valid())?;
        out.serialize_field("hashes_recomputed", &self.hashes_recomputed)?;
        out.serialize_field("first_bad_entry", &self.first_bad_entry)?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_properties_are_serialized_and_ignored_on_input() {
        let page: PaginatedResult<u8> = PaginatedResult {
            items: vec![1, 2],
            total: 41,
            page: 1,
            page_size: 20,
            has_next: true,
            has_prev: false,
        };
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["total_pages"], 3);
        let back: PaginatedResult<u8> = serde_json::from_value(json).unwrap();
        assert_eq!(back, page);
        assert_eq!(PaginatedResult::<u8>::empty(1, 0).total_pages(), 0);

        let trail = EntityAuditTrail::unknown("dlq-1", "dlq_entry");
        let json = serde_json::to_value(&trail).unwrap();
        assert_eq!(json["total_entries"], 0);
        assert_eq!(json["is_chain_valid"], true);
        assert_eq!(json["domain"], "unknown");

        let cleanup = CleanupStats {
            total: 9,
            by_status: [("resolved".to_string(), 4)].into(),
            resolved_older_than_30_days: 3,
            archived_older_than_90_days: 2,
        };
        let json = serde_json::to_value(&cleanup).unwrap();
        assert_eq!(
            (json["can_archive"].clone(), json["can_purge"].clone()),
            (3.into(), 2.into())
        );
        let back: CleanupStats = serde_json::from_value(json).unwrap();
        assert_eq!(back, cleanup);
    }

    #[test]
    fn the_link_check_is_the_references() {
        let at = Timestamp::from_unix_nanos(0);
        let link = |hash: Option<&str>, previous: Option<&str>| AuditTrailEntry {
            timestamp: at,
            action: "link".into(),
            actor_id: None,
            status: None,
            details: None,
            hash_chain: hash.map(Into::into),
            previous_hash: previous.map(Into::into),
        };
        let mut trail = EntityAuditTrail::unknown("e", "dlq_entry");
        trail.entries = vec![link(Some("a"), None), link(Some("b"), Some("a"))];
        assert!(trail.is_chain_valid());
        trail.entries = vec![link(Some("a"), None), link(Some("b"), None)];
        assert!(!trail.is_chain_valid());
        trail.entries = vec![link(None, Some("GENESIS"))];
        assert!(!trail.is_chain_valid());
        trail.entries = vec![link(None, None), link(None, None)];
        assert!(trail.is_chain_valid());
        // A trail read from its journal answers with the recomputation,
        // whatever its shown links say.
        trail.entries = vec![link(Some("a"), None), link(Some("b"), Some("a"))];
        trail.hashes_recomputed = true;
        trail.first_bad_entry = Some(1);
        assert!(trail.links_valid() && !trail.is_chain_valid());
        trail.first_bad_entry = None;
        trail.entries = vec![link(Some("a"), None), link(Some("b"), None)];
        assert!(!trail.links_valid() && trail.is_chain_valid());
    }
}
