//! Audit trails. The projection keeps, per entry, the sequences of its
//! events; a trail reads those records back and folds them again on their
//! own (an entry's state depends on its own events only), so each action
//! shows the status it left and, when the fold refused it, why.

use crate::error::Result;
use crate::journal::EventJournal;
use crate::projection::audit::{AuditKeyring, AuditVerification, EntryVerification};
use crate::projection::chain::{ChainRecord, EntityChain};
use crate::projection::dto::{AuditTrailEntry, EntityAuditTrail};
use crate::projection::events::{self, LifecycleKind};
use crate::projection::state::{Outcome, Projection, Record};
use crate::projection::wire::{self, TrailWire, non_empty};

/// The action an event shows in a trail, before any `_refused` suffix.
fn base_action(event_type: &str, link_action: Option<&str>) -> String {
    match event_type {
        events::DLQ_STORE => "store".into(),
        events::DLQ_PERSIST => "persist".into(),
        events::DLQ_ARCHIVE => "archive".into(),
        events::DLQ_PURGE => "purge".into(),
        events::AUDIT_LINK => link_action.unwrap_or("unknown").into(),
        other => LifecycleKind::from_event_type(other)
            .map(LifecycleKind::action)
            .unwrap_or(other)
            .into(),
    }
}

/// The trail of `entity_id`, from the entry's folded events, with every
/// hash recomputed from the stored content (`hashes_recomputed`,
/// `first_bad_entry`), so its `is_chain_valid` detects tampering.
pub(crate) fn audit_trail<J: EventJournal + ?Sized>(
    projection: &Projection,
    journal: &J,
    entity_id: &str,
    entity_type: &str,
    keys: &AuditKeyring,
) -> Result<EntityAuditTrail> {
    verified_trail(projection, journal, entity_id, entity_type, keys).map(|checked| checked.trail)
}

/// The trail of `entity_id` with each entry verified (docs/AUDIT.md).
pub(crate) fn verified_trail<J: EventJournal + ?Sized>(
    projection: &Projection,
    journal: &J,
    entity_id: &str,
    entity_type: &str,
    keys: &AuditKeyring,
) -> Result<AuditVerification> {
    let (mut trail, entries) = build(projection, journal, entity_id, entity_type, keys)?;
    trail.hashes_recomputed = true;
    trail.first_bad_entry = entries.iter().position(|entry| !entry.check.is_ok());
    Ok(AuditVerification { trail, entries })
}

/// The trail, and each entry's verification.
fn build<J: EventJournal + ?Sized>(
    projection: &Projection,
    journal: &J,
    entity_id: &str,
    entity_type: &str,
    keys: &AuditKeyring,
) -> Result<(EntityAuditTrail, Vec<EntryVerification>)> {
    let mut trail = EntityAuditTrail::unknown(entity_id, entity_type);
    let mut checks = Vec::new();
    let mut chain = EntityChain::new();
    let mut scratch = crate::projection::chain::ContentScratch::new();
    if entity_type != events::DLQ_ENTRY_ENTITY_TYPE {
        return Ok((trail, checks));
    }
    let entry = projection.get(entity_id);
    let strays: &[u64] = projection
        .chain_strays
        .get(entity_id)
        .map_or(&[], |sequences| &sequences[..]);
    if let Some(entry) = entry {
        trail.domain = entry.domain.to_string();
        trail.created_at = Some(entry.created_at);
        trail.resolved_at = entry.resolved_at;
        trail.current_status = entry.trail_status().to_string();
    }
    let folded: &[u64] = entry.map_or(&[], |entry| &entry.events[..]);

    // The entry's folded records and the chained records naming it that the
    // fold did not attach, merged in sequence order: the chain is checked
    // over all of them (docs/AUDIT.md, chain membership).
    let (mut f, mut s) = (0, 0);
    let mut own = Projection::default();
    // Records of the entity the journal no longer holds before its first
    // checked one (dropped by retention): the chain is taken up at its
    // first retained link (docs/AUDIT.md, "Retention").
    let mut dropped_before = false;
    let mut check =
        |chain: &mut EntityChain, record: &crate::entry::JournalEntry, dropped: bool| {
            let record = ChainRecord::from(record);
            if dropped && !chain.is_started() {
                chain.take_up(&record);
            }
            chain.check(keys, &record, &mut scratch)
        };
    loop {
        let (sequence, is_folded) = match (folded.get(f), strays.get(s)) {
            (Some(&a), Some(&b)) if a <= b => {
                f += 1;
                (a, true)
            }
            (_, Some(&b)) => {
                s += 1;
                (b, false)
            }
            (Some(&a), None) => {
                f += 1;
                (a, true)
            }
            (None, None) => break,
        };
        // A record the journal no longer holds (a bounded MemoryJournal
        // evicts) is left out of the trail.
        let Some(record) = crate::journal::entry_at(journal, sequence)? else {
            dropped_before |= !chain.is_started();
            continue;
        };
        if !is_folded {
            checks.push(check(&mut chain, &record, dropped_before));
            let shown: TrailWire<'_> = wire::parse(record.context.as_str()).unwrap_or_default();
            trail.entries.push(AuditTrailEntry {
                timestamp: record.timestamp,
                action: record.event_type.clone(),
                actor_id: shown.actor_id.as_deref().map(String::from),
                status: None,
                details: Some(STRAY_DETAILS.into()),
                hash_chain: shown.hash_chain.as_deref().map(String::from),
                previous_hash: shown.previous_hash.as_deref().map(String::from),
            });
            continue;
        }
        let Some((index, outcome)) = own.apply(&Record::of(&record)) else {
            if dropped_before {
                // The entry's first records were dropped, so its own fold
                // cannot place this one: shown and checked, without status.
                checks.push(check(&mut chain, &record, dropped_before));
                let shown: TrailWire<'_> = wire::parse(record.context.as_str()).unwrap_or_default();
                trail.entries.push(AuditTrailEntry {
                    timestamp: record.timestamp,
                    action: base_action(&record.event_type, non_empty(&shown.action)),
                    actor_id: shown.actor_id.as_deref().map(String::from),
                    status: None,
                    details: Some(DROPPED_DETAILS.into()),
                    hash_chain: shown.hash_chain.as_deref().map(String::from),
                    previous_hash: shown.previous_hash.as_deref().map(String::from),
                });
            }
            continue;
        };
        checks.push(check(&mut chain, &record, dropped_before));
        // The fold read this context already, so it parses.
        let shown: TrailWire<'_> = wire::parse(record.context.as_str()).unwrap_or_default();
        let is_link = record.event_type == events::AUDIT_LINK;
        let mut action = base_action(&record.event_type, non_empty(&shown.action));
        let details = match outcome {
            Outcome::Applied => shown.details.as_deref().map(String::from),
            Outcome::Refused(reason) => {
                action.push_str("_refused");
                Some(reason.to_string())
            }
        };
        let status = if is_link {
            shown.status.as_deref().map(String::from)
        } else {
            Some(own.entries[index].trail_status().to_string())
        };
        trail.entries.push(AuditTrailEntry {
            timestamp: record.timestamp,
            action,
            actor_id: shown.actor_id.as_deref().map(String::from),
            status,
            details,
            // A chained event shows its chain; an unchained link shows
            // the audit system's hash, as the seed did.
            hash_chain: match &shown.hash_chain {
                Some(hash) => Some(hash.to_string()),
                None if is_link => shown.audit_record_hash.as_deref().map(String::from),
                None => None,
            },
            previous_hash: shown.previous_hash.as_deref().map(String::from),
        });
    }
    Ok((trail, checks))
}

/// The details a trail shows for a record whose entry's first records were
/// dropped by retention (so the trail's own fold cannot give its status).
pub const DROPPED_DETAILS: &str =
    "the entry's earlier records were dropped by retention (its chain is checked from here)";

/// The details a trail shows for a chained record the fold did not read:
/// its action is its event type as stored.
pub const STRAY_DETAILS: &str =
    "chained record the statistics do not fold (event type, entry or context unknown to them)";
