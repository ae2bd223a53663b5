//! The model: a plain list of entry states and the fold's rules written out a second time.

use baldur_journal::projection::BreakerTransition;
use baldur_journal::projection::LifecycleKind;
use baldur_journal::projection::events::DLQ_ENTRY_ENTITY_TYPE;
use serde_json::{Value, json};

use super::chain::{self, Stamp};
use super::{DAY, Ev, MINUTE, Snapshot};

#[derive(Clone, Debug)]
pub struct MTrail {
    pub at: i64,
    pub action: String,
    pub actor: Option<String>,
    pub status: Option<String>,
    pub details: Option<String>,
    /// The trail's `hash_chain`: a chained event's, else a link's
    /// `audit_record_hash`.
    pub hash: Option<String>,
    /// The trail's `previous_hash`: a chained event's.
    pub previous: Option<String>,
    /// The statistics chained the event (it carries chain fields).
    pub chained: bool,
}

#[derive(Clone, Debug)]
pub struct MEntry {
    pub id: String,
    pub domain: String,
    pub failure_type: String,
    pub status: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub user_id: Option<i64>,
    pub retry_count: i64,
    pub max_retries: i64,
    pub error_code: String,
    pub error_message: String,
    pub snapshot_data: Value,
    pub metadata: Value,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    pub last_retry_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub first_seq: u64,
    /// Archived straight from resolved.
    pub archived_resolved: bool,
    pub purged: bool,
    pub trail: Vec<MTrail>,
    /// The `hash_chain` of the last chained event folded into the entry.
    pub last_hash: Option<String>,
}

#[derive(Clone, Debug)]
pub struct MBreaker {
    pub name: String,
    pub state: String,
    pub failures: i64,
    pub successes: i64,
    pub last_failure: Option<i64>,
    pub last_change: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub entries: Vec<MEntry>,
    pub breakers: Vec<MBreaker>,
}

const END_STATUSES: [&str; 4] = ["resolved", "rejected", "expired", "permanently_failed"];
const QUEUE_STATUSES: [&str; 5] = [
    "pending",
    "replaying",
    "reviewing",
    "replayed",
    "requires_review",
];
const GUARDED: [&str; 5] = [
    "resolved",
    "rejected",
    "archived",
    "expired",
    "permanently_failed",
];

fn unknown_if_empty(text: &str) -> String {
    if text.is_empty() {
        "unknown".into()
    } else {
        text.into()
    }
}

fn new_resolved_at(status: &str, before: Option<i64>, at: i64) -> Option<i64> {
    if END_STATUSES.contains(&status) {
        Some(at)
    } else if QUEUE_STATUSES.contains(&status) {
        None
    } else if status == "archived" {
        Some(before.unwrap_or(at))
    } else {
        before
    }
}

fn lifecycle_action(kind: LifecycleKind) -> &'static str {
    match kind {
        LifecycleKind::ReplayStart => "replay_start",
        LifecycleKind::ReplaySuccess => "replay_success",
        LifecycleKind::ReplayFailed => "replay_failed",
        LifecycleKind::Escalate => "escalate",
        LifecycleKind::Resolve => "resolve",
        LifecycleKind::Reject => "reject",
        LifecycleKind::ForceRedrive => "force_redrive",
        LifecycleKind::Retry => "retry",
        LifecycleKind::Expire => "expire",
    }
}

impl MEntry {
    pub fn shown_status(&self) -> String {
        if self.purged {
            "purged".into()
        } else {
            self.status.clone()
        }
    }

    pub fn set_status(&mut self, status: &str, at: i64) {
        if status == "archived" {
            if self.status != "archived" {
                self.archived_resolved = self.status == "resolved";
            }
        } else {
            self.archived_resolved = false;
        }
        self.resolved_at = new_resolved_at(status, self.resolved_at, at);
        self.status = status.into();
    }

    pub fn resolved_outcome(&self) -> bool {
        self.status == "resolved" || self.archived_resolved
    }

    pub fn push_trail(
        &mut self,
        at: i64,
        action: &str,
        actor: Option<String>,
        details: Option<String>,
    ) {
        let status = Some(self.shown_status());
        self.trail.push(MTrail {
            at,
            action: action.into(),
            actor,
            status,
            details,
            hash: None,
            previous: None,
            chained: false,
        });
    }

    pub fn refuse(&mut self, at: i64, action: &str, actor: Option<String>, reason: &str) {
        self.push_trail(at, &format!("{action}_refused"), actor, Some(reason.into()));
    }
}

const ALREADY_STORED: &str = "refused: the entry id is already stored";
const PURGED: &str = "refused: the entry was purged";
const ARCHIVED: &str = "refused: the entry is archived";
const REOPEN: &str = "refused: the snapshot would reopen a finished entry";
const ALREADY_ARCHIVED: &str = "refused: the entry is already archived";
const NOT_ARCHIVED: &str = "refused: the entry is not archived";

impl Model {
    pub fn find(&self, id: &str) -> Option<&MEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    pub fn find_mut(&mut self, id: &str) -> Option<&mut MEntry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }

    pub fn live(&self) -> impl Iterator<Item = &MEntry> {
        self.entries.iter().filter(|e| !e.purged)
    }

    /// Folds one unchained event at `at`, appended at sequence `seq`.
    pub fn apply(&mut self, ev: &Ev, at: i64, seq: u64) {
        self.apply_chained(ev, at, seq, None);
    }

    /// The chain fields the statistics give `ev`, written at `at` now: it
    /// follows the entity's last chained event (docs/AUDIT.md).
    pub fn chain_stamp(&self, ev: &Ev, at: i64) -> Option<Stamp> {
        let id = chain::entity_of(ev)?;
        let previous = self.find(id).and_then(|e| e.last_hash.clone());
        Some(chain::stamp(ev, at, previous))
    }

    /// Folds one event, chained with `stamp` when the statistics wrote it
    /// with chaining on: the trail entry it adds shows the stamp, and the
    /// entry's chain continues from it.
    pub fn apply_chained(&mut self, ev: &Ev, at: i64, seq: u64, stamp: Option<&Stamp>) {
        let id = chain::entity_of(ev).map(String::from);
        let before = id
            .as_deref()
            .and_then(|id| self.find(id))
            .map_or(0, |e| e.trail.len());
        self.apply_unchained(ev, at, seq);
        let (Some(stamp), Some(id)) = (stamp, id) else {
            return;
        };
        if let Some(entry) = self.find_mut(&id)
            && entry.trail.len() > before
        {
            let shown = entry.trail.last_mut().unwrap();
            shown.hash = Some(stamp.hash.clone());
            shown.previous = stamp.previous.clone();
            shown.chained = true;
            entry.last_hash = Some(stamp.hash.clone());
        }
    }

    fn apply_unchained(&mut self, ev: &Ev, at: i64, seq: u64) {
        match ev {
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
                if let Some(entry) = self.find_mut(id) {
                    entry.refuse(at, "store", actor.clone(), ALREADY_STORED);
                    return;
                }
                let status = if status.is_empty() {
                    "pending".to_string()
                } else {
                    status.clone()
                };
                let mut entry = MEntry {
                    id: id.clone(),
                    domain: unknown_if_empty(domain),
                    failure_type: unknown_if_empty(failure_type),
                    resolved_at: new_resolved_at(&status, None, at),
                    status,
                    entity_type: entity_type.clone(),
                    entity_id: entity_type.as_ref().map(|t| format!("{t}-{id}")),
                    user_id: None,
                    retry_count: *retry_count,
                    max_retries: *max_retries,
                    error_code: error_code.clone(),
                    error_message: format!("failed {id}"),
                    snapshot_data: json!({}),
                    metadata: json!({"origin": "test"}),
                    created_at: at,
                    updated_at: at,
                    last_retry_at: None,
                    expires_at: None,
                    first_seq: seq,
                    archived_resolved: false,
                    purged: false,
                    trail: Vec::new(),
                    last_hash: None,
                };
                entry.push_trail(at, "store", actor.clone(), None);
                self.entries.push(entry);
            }
            Ev::Life {
                kind,
                id,
                status,
                retry_count,
                actor,
            } => {
                let Some(entry) = self.find_mut(id) else {
                    return;
                };
                let action = lifecycle_action(*kind);
                if entry.purged {
                    entry.refuse(at, action, actor.clone(), PURGED);
                    return;
                }
                if let Some(count) = retry_count {
                    entry.retry_count = *count;
                } else if matches!(kind, LifecycleKind::ReplayStart | LifecycleKind::Retry) {
                    entry.retry_count += 1;
                } else if *kind == LifecycleKind::ForceRedrive {
                    entry.retry_count = 1;
                }
                if matches!(
                    kind,
                    LifecycleKind::ReplayStart | LifecycleKind::Retry | LifecycleKind::ForceRedrive
                ) {
                    entry.last_retry_at = Some(at);
                }
                let new_status = match status.as_deref().filter(|s| !s.is_empty()) {
                    Some(s) => s.to_string(),
                    None => match kind {
                        LifecycleKind::ReplayStart | LifecycleKind::ForceRedrive => {
                            "replaying".into()
                        }
                        LifecycleKind::ReplaySuccess | LifecycleKind::Resolve => "resolved".into(),
                        LifecycleKind::Escalate => "requires_review".into(),
                        LifecycleKind::Reject => "rejected".into(),
                        LifecycleKind::Retry => "replayed".into(),
                        LifecycleKind::Expire => "expired".into(),
                        LifecycleKind::ReplayFailed => {
                            if entry.retry_count >= entry.max_retries {
                                "requires_review".into()
                            } else {
                                "pending".into()
                            }
                        }
                    },
                };
                entry.set_status(&new_status, at);
                entry.updated_at = at;
                entry.push_trail(at, action, actor.clone(), None);
            }
            Ev::Persist(snapshot) => self.apply_snapshot(snapshot, at, seq),
            Ev::Archive { id, details } => {
                let Some(entry) = self.find_mut(id) else {
                    return;
                };
                if entry.purged {
                    entry.refuse(at, "archive", None, PURGED);
                } else if entry.status == "archived" {
                    entry.refuse(at, "archive", None, ALREADY_ARCHIVED);
                } else {
                    entry.set_status("archived", at);
                    entry.updated_at = at;
                    entry.push_trail(at, "archive", None, details.clone());
                }
            }
            Ev::Purge { id } => {
                let Some(entry) = self.find_mut(id) else {
                    return;
                };
                if entry.purged {
                    entry.refuse(at, "purge", None, PURGED);
                } else if entry.status != "archived" {
                    entry.refuse(at, "purge", None, NOT_ARCHIVED);
                } else {
                    entry.purged = true;
                    entry.push_trail(at, "purge", None, None);
                }
            }
            Ev::Link(link) => {
                if link.entity_type != DLQ_ENTRY_ENTITY_TYPE {
                    return;
                }
                let Some(entry) = self.find_mut(&link.entity_id) else {
                    return;
                };
                let (action, details) = if entry.purged {
                    (format!("{}_refused", link.action), Some(PURGED.to_string()))
                } else {
                    (link.action.clone(), link.details.clone())
                };
                entry.trail.push(MTrail {
                    at,
                    action,
                    actor: link.actor_id.clone(),
                    status: link.status.clone(),
                    details,
                    hash: link.audit_record_hash.clone(),
                    previous: None,
                    chained: false,
                });
            }
            Ev::Breaker {
                transition,
                name,
                window,
                consecutive,
            } => {
                let name = unknown_if_empty(name);
                let index = match self.breakers.iter().position(|b| b.name == name) {
                    Some(index) => index,
                    None => {
                        self.breakers.push(MBreaker {
                            name: name.clone(),
                            state: String::new(),
                            failures: 0,
                            successes: 0,
                            last_failure: None,
                            last_change: None,
                        });
                        self.breakers.len() - 1
                    }
                };
                let breaker = &mut self.breakers[index];
                let reported = window.or(*consecutive);
                match transition {
                    BreakerTransition::Opened => {
                        breaker.state = "open".into();
                        breaker.failures = reported.unwrap_or(breaker.failures);
                        breaker.last_failure = Some(at);
                    }
                    BreakerTransition::Closed => {
                        breaker.state = "closed".into();
                        breaker.failures = reported.unwrap_or(0);
                    }
                    BreakerTransition::HalfOpened => {
                        breaker.state = "half_open".into();
                        breaker.failures = reported.unwrap_or(breaker.failures);
                    }
                }
                breaker.last_change = Some(at);
            }
            Ev::Noise | Ev::Malformed => {}
        }
    }

    pub fn apply_snapshot(&mut self, s: &Snapshot, at: i64, seq: u64) {
        let status = s
            .status
            .clone()
            .filter(|x| !x.is_empty())
            .unwrap_or("pending".into());
        let time = |ago: Option<i64>| ago.map(|m| at - m * MINUTE);
        let metadata = s.metadata.map(|n| json!({ "n": n })).unwrap_or(json!({}));
        let Some(entry) = self.find_mut(&s.id) else {
            let mut entry = MEntry {
                id: s.id.clone(),
                domain: unknown_if_empty(&s.domain),
                failure_type: unknown_if_empty(&s.failure_type),
                status,
                entity_type: None,
                entity_id: None,
                user_id: None,
                retry_count: s.retry_count.unwrap_or(0),
                max_retries: 2,
                error_code: String::new(),
                error_message: s.error_message.clone().unwrap_or_default(),
                snapshot_data: json!({}),
                metadata,
                created_at: time(s.created_minutes_ago).unwrap_or(at),
                updated_at: time(s.updated_minutes_ago).unwrap_or(at),
                resolved_at: time(s.resolved_minutes_ago),
                last_retry_at: time(s.last_retry_minutes_ago),
                expires_at: None,
                first_seq: seq,
                archived_resolved: false,
                purged: false,
                trail: Vec::new(),
                last_hash: None,
            };
            entry.push_trail(at, "persist", None, None);
            self.entries.push(entry);
            return;
        };
        let refusal = if entry.purged {
            Some(PURGED)
        } else if entry.status == "archived" {
            Some(ARCHIVED)
        } else if GUARDED.contains(&entry.status.as_str()) && !GUARDED.contains(&status.as_str()) {
            Some(REOPEN)
        } else {
            None
        };
        if let Some(reason) = refusal {
            entry.refuse(at, "persist", None, reason);
            return;
        }
        entry.archived_resolved = status == "archived" && entry.status == "resolved";
        entry.status = status;
        entry.retry_count = s.retry_count.unwrap_or(0);
        entry.resolved_at = time(s.resolved_minutes_ago);
        entry.updated_at = time(s.updated_minutes_ago).unwrap_or(at);
        entry.error_message = s.error_message.clone().unwrap_or_default();
        entry.snapshot_data = json!({});
        entry.metadata = metadata;
        entry.last_retry_at = time(s.last_retry_minutes_ago);
        entry.expires_at = None;
        entry.push_trail(at, "persist", None, None);
    }

    // ----- decisions of the writes -----

    pub fn archive_ids(&self, now: i64, days: u32) -> Vec<String> {
        let cutoff = now - i64::from(days) * DAY;
        self.live()
            .filter(|e| e.status == "resolved" && e.resolved_at.is_some_and(|r| r < cutoff))
            .map(|e| e.id.clone())
            .collect()
    }

    pub fn purge_ids(&self, now: i64, ids: Option<&[String]>, days: Option<u32>) -> Vec<String> {
        self.live()
            .filter(|e| e.status == "archived")
            .filter(|e| ids.is_none_or(|ids| ids.contains(&e.id)))
            .filter(|e| days.is_none_or(|d| e.updated_at < now - i64::from(d) * DAY))
            .map(|e| e.id.clone())
            .collect()
    }
}
