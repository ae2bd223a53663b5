//! The projection: DLQ entries and circuit breakers, folded from journal
//! records in sequence order. A pure fold: the same records give the same
//! state, whatever the journal backend or the time of the fold.
//!
//! Each entity's state depends on that entity's events only, so the audit
//! trail of one entry is the fold of its own events again (`trail.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::entry::EntryRef;
use crate::entry::{JournalEntry, Timestamp};
use crate::projection::chain;
use crate::projection::events::{self, BreakerTransition, LifecycleKind};
use crate::projection::status::{self, Status};
use crate::projection::wire::{self, Malformed, Text, non_empty};

/// How a folded DLQ event changed its entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The event took effect.
    Applied,
    /// The fold declined it, for the reason given; the entity is unchanged.
    Refused(&'static str),
}

/// Why the fold declined an event (shown in audit trails).
pub(crate) const REFUSED_ALREADY_STORED: &str = "refused: the entry id is already stored";
/// A snapshot or step for an entry that was purged.
pub(crate) const REFUSED_PURGED: &str = "refused: the entry was purged";
/// A snapshot of an archived entry.
pub(crate) const REFUSED_ARCHIVED: &str = "refused: the entry is archived";
/// A snapshot that would walk a finished entry back.
pub(crate) const REFUSED_REOPEN: &str = "refused: the snapshot would reopen a finished entry";
/// An archive of an archived entry.
pub(crate) const REFUSED_ALREADY_ARCHIVED: &str = "refused: the entry is already archived";
/// A purge of an entry that is not archived.
pub(crate) const REFUSED_NOT_ARCHIVED: &str = "refused: the entry is not archived";

/// Counts of what a fold has read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FoldSummary {
    /// The highest sequence folded (0 before any).
    pub last_sequence: u64,
    /// Records read.
    pub records: u64,
    /// Records of event types the fold does not read (skipped, never an
    /// error).
    pub skipped: u64,
    /// Records of a folded type whose context could not be read (skipped).
    pub malformed: u64,
    /// DLQ events naming an entry id never stored (skipped).
    pub orphaned: u64,
}

/// One DLQ entry as the fold knows it.
#[derive(Clone, Debug)]
pub(crate) struct EntryState {
    pub id: Arc<str>,
    pub domain: Arc<str>,
    pub failure_type: Arc<str>,
    pub status: Status,
    pub entity_type: Option<Arc<str>>,
    pub entity_id: Option<Box<str>>,
    pub user_id: Option<i64>,
    pub retry_count: i64,
    pub max_retries: i64,
    pub error_code: Arc<str>,
    pub error_message: Box<str>,
    /// Raw JSON; `None` is `{}`.
    pub snapshot_data: Option<Box<str>>,
    /// Raw JSON; `None` is `{}`.
    pub metadata: Option<Box<str>>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub last_retry_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// The sequence of the event that created it: the listing's tiebreaker.
    pub first_sequence: u64,
    /// Archived, and `resolved` just before: it still counts as resolved.
    pub resolved_before_archive: bool,
    /// Purged: gone from every statistic, kept for its audit trail.
    pub purged: bool,
    /// Sequences of every event about it, folded or refused.
    pub events: Vec<u64>,
    /// The `hash_chain` of its last chained event (docs/AUDIT.md).
    pub last_hash: Option<Box<str>>,
}

impl EntryState {
    /// Moves to `status` because of an event at `at`.
    fn move_to(&mut self, status: Status, at: Timestamp) {
        if status == Status::Archived {
            if self.status != Status::Archived {
                self.resolved_before_archive = self.status == Status::Resolved;
            }
        } else {
            self.resolved_before_archive = false;
        }
        self.resolved_at = status.resolved_at_after(self.resolved_at, at);
        self.status = status;
    }

    /// Resolved, or archived straight from resolved: the outcome the
    /// resolution rate and "resolved in the window" count.
    pub(crate) fn counts_as_resolved(&self) -> bool {
        self.status == Status::Resolved || self.resolved_before_archive
    }

    /// The status an audit trail shows.
    pub(crate) fn trail_status(&self) -> &str {
        if self.purged {
            "purged"
        } else {
            self.status.as_str()
        }
    }
}

/// One circuit breaker.
#[derive(Clone, Debug, Default)]
pub(crate) struct BreakerState {
    pub state: &'static str,
    pub failure_count: i64,
    pub success_count: i64,
    pub last_failure_time: Option<Timestamp>,
    pub last_state_change: Option<Timestamp>,
}

/// A journal record as the fold reads it, owned or borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record<'a> {
    pub sequence: u64,
    pub event_type: &'a str,
    pub timestamp: Timestamp,
    pub service_name: &'a str,
    pub context: &'a str,
}

impl<'a> Record<'a> {
    pub(crate) fn of_ref(entry: &EntryRef<'a>) -> Self {
        Record {
            sequence: entry.sequence,
            event_type: entry.event_type,
            timestamp: entry.timestamp,
            service_name: entry.service_name,
            context: entry.context,
        }
    }

    pub(crate) fn of(entry: &'a JournalEntry) -> Self {
        Record {
            sequence: entry.sequence,
            event_type: &entry.event_type,
            timestamp: entry.timestamp,
            service_name: &entry.service_name,
            context: entry.context.as_str(),
        }
    }
}

/// What kind of event a record is, by its type.
enum Kind {
    Store,
    Lifecycle(LifecycleKind),
    Persist,
    Archive,
    Purge,
    Link,
    Breaker(BreakerTransition),
    Other,
}

fn kind_of(event_type: &str) -> Kind {
    match event_type {
        events::DLQ_STORE => Kind::Store,
        events::DLQ_PERSIST => Kind::Persist,
        events::DLQ_ARCHIVE => Kind::Archive,
        events::DLQ_PURGE => Kind::Purge,
        events::AUDIT_LINK => Kind::Link,
        other => {
            if let Some(kind) = LifecycleKind::from_event_type(other) {
                Kind::Lifecycle(kind)
            } else if let Some(transition) = BreakerTransition::from_event_type(other) {
                Kind::Breaker(transition)
            } else {
                Kind::Other
            }
        }
    }
}

/// The name a missing domain or failure type is shown as, everywhere.
pub(crate) const UNKNOWN: &str = "unknown";

/// Entries per chunk of [`Entries`].
const ENTRIES_CHUNK: usize = 4096;

/// The entries of a projection, in chunks of [`ENTRIES_CHUNK`] allocated
/// once each: a growing `Vec` would hold its old and new buffers at once
/// when it reallocates, up to three times the entries' size at the peak.
#[derive(Clone, Debug, Default)]
pub(crate) struct Entries {
    chunks: Vec<Vec<EntryState>>,
    len: usize,
}

impl Entries {
    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends an entry at index `len()`.
    pub(crate) fn push(&mut self, entry: EntryState) {
        if self.len.is_multiple_of(ENTRIES_CHUNK) {
            self.chunks.push(Vec::with_capacity(ENTRIES_CHUNK));
        }
        self.chunks
            .last_mut()
            .expect("a chunk with room")
            .push(entry);
        self.len += 1;
    }

    /// The entries in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &EntryState> {
        self.chunks.iter().flatten()
    }
}

impl FromIterator<EntryState> for Entries {
    fn from_iter<I: IntoIterator<Item = EntryState>>(items: I) -> Self {
        let mut entries = Entries::default();
        for entry in items {
            entries.push(entry);
        }
        entries
    }
}

impl std::ops::Index<usize> for Entries {
    type Output = EntryState;
    fn index(&self, index: usize) -> &EntryState {
        &self.chunks[index / ENTRIES_CHUNK][index % ENTRIES_CHUNK]
    }
}

impl std::ops::IndexMut<usize> for Entries {
    fn index_mut(&mut self, index: usize) -> &mut EntryState {
        &mut self.chunks[index / ENTRIES_CHUNK][index % ENTRIES_CHUNK]
    }
}

/// The folded state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Projection {
    /// In creation order (so by `first_sequence`).
    pub entries: Entries,
    by_id: HashMap<Arc<str>, usize>,
    pub breakers: BTreeMap<Box<str>, BreakerState>,
    /// Repeated short strings (domains, failure types, codes) kept once.
    strings: HashSet<Arc<str>>,
    pub summary: FoldSummary,
    /// Records whose context carries a chain field but that the fold did
    /// not attach to an entry (an event type it does not read, an entry it
    /// never stored, a context it cannot read), by the context's entry id:
    /// a trail verifies them with the entry's own records.
    pub chain_strays: HashMap<Box<str>, Vec<u64>>,
    /// Keep each entry's error message, snapshot data and metadata. Off
    /// for the statistics' own fold, which keeps per-entry state only (its
    /// memory must not grow with event bodies); an entry's detail folds
    /// that entry's own events again with it on (`reads::entry_detail`).
    keep_bodies: bool,
}

/// The result of folding a DLQ event: the entity it concerned and how.
type EntityOutcome = Option<(usize, Outcome)>;

impl Projection {
    /// A projection restored from a snapshot's parts: the id map and the
    /// interned strings are rebuilt from the entries.
    pub(crate) fn restore(
        entries: Entries,
        breakers: BTreeMap<Box<str>, BreakerState>,
        summary: FoldSummary,
    ) -> Projection {
        let mut projection = Projection {
            entries,
            breakers,
            summary,
            ..Projection::default()
        };
        for (index, entry) in projection.entries.iter().enumerate() {
            projection.by_id.insert(entry.id.clone(), index);
            projection.strings.insert(entry.domain.clone());
            projection.strings.insert(entry.failure_type.clone());
            projection.strings.insert(entry.error_code.clone());
            if let Some(entity_type) = &entry.entity_type {
                projection.strings.insert(entity_type.clone());
            }
        }
        projection
    }

    /// A projection that keeps event bodies (error messages, snapshot
    /// data, metadata): for folding one entry's own events.
    pub(crate) fn with_bodies() -> Projection {
        Projection {
            keep_bodies: true,
            ..Projection::default()
        }
    }

    /// An entry's body fields as this projection keeps them: the given
    /// ones, or empty ones when it keeps no bodies.
    fn bodies(
        &self,
        error_message: Option<&str>,
        snapshot_data: Option<&serde_json::value::RawValue>,
        metadata: Option<&serde_json::value::RawValue>,
    ) -> (Box<str>, Option<Box<str>>, Option<Box<str>>) {
        if !self.keep_bodies {
            return (Box::default(), None, None);
        }
        (
            error_message.unwrap_or("").into(),
            snapshot_data.map(|raw| raw.get().into()),
            metadata.map(|raw| raw.get().into()),
        )
    }

    /// The entry with this id, purged or not.
    pub(crate) fn get(&self, id: &str) -> Option<&EntryState> {
        self.by_id.get(id).map(|&index| &self.entries[index])
    }

    /// Entries not purged: the ones every statistic counts.
    pub(crate) fn live(&self) -> impl Iterator<Item = &EntryState> {
        self.entries.iter().filter(|entry| !entry.purged)
    }

    /// Folds one record. Returns the entity a DLQ event concerned and the
    /// outcome; `None` for anything else (breakers, unknown types,
    /// malformed or orphaned events).
    pub(crate) fn apply(&mut self, record: &Record<'_>) -> EntityOutcome {
        self.summary.records += 1;
        self.summary.last_sequence = self.summary.last_sequence.max(record.sequence);
        let result = match kind_of(record.event_type) {
            Kind::Store => wire::parse(record.context).and_then(|w| self.store(record, w)),
            Kind::Lifecycle(kind) => {
                wire::parse(record.context).and_then(|w| self.lifecycle(record, kind, w))
            }
            Kind::Persist => wire::parse(record.context).and_then(|w| self.persist(record, w)),
            Kind::Archive => wire::parse(record.context).and_then(|w| self.archive(record, w)),
            Kind::Purge => wire::parse(record.context).and_then(|w| self.purge(record, w)),
            Kind::Link => wire::parse(record.context).and_then(|w| self.link(record, w)),
            Kind::Breaker(transition) => wire::parse(record.context)
                .map(|w| self.breaker(record, transition, w))
                .map(|()| None),
            Kind::Other => {
                self.summary.skipped += 1;
                Ok(None)
            }
        };
        let outcome = result.unwrap_or_else(|Malformed(_)| {
            self.summary.malformed += 1;
            None
        });
        // Chain membership is the verifier's (docs/AUDIT.md, "Chain
        // membership"): one reading, `chain::chain_link`, for both.
        let link = chain::chain_link(&chain::ChainRecord {
            sequence: record.sequence,
            event_type: record.event_type,
            source: "",
            service_name: record.service_name,
            region: "",
            tier_id: "",
            timestamp: record.timestamp,
            context: record.context,
        });
        if let Some(link) = link {
            match outcome {
                Some((index, _)) if *self.entries[index].id == *link.entity => {
                    if let Some(hash) = link.hash_chain {
                        self.entries[index].last_hash = Some(hash.as_ref().into());
                    }
                }
                _ => match self.chain_strays.get_mut(link.entity.as_ref()) {
                    Some(sequences) => sequences.push(record.sequence),
                    None => {
                        self.chain_strays
                            .insert(link.entity.as_ref().into(), vec![record.sequence]);
                    }
                },
            }
        }
        outcome
    }

    fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(kept) = self.strings.get(text) {
            return kept.clone();
        }
        let kept: Arc<str> = text.into();
        self.strings.insert(kept.clone());
        kept
    }

    /// A domain or failure type: missing or empty is `unknown`.
    fn name(&mut self, text: &Text<'_>) -> Arc<str> {
        self.intern(non_empty(text).unwrap_or(UNKNOWN))
    }

    fn optional(&mut self, text: &Text<'_>) -> Option<Arc<str>> {
        text.as_deref().map(|t| self.intern(t))
    }

    /// Records that the event at `sequence` concerned entry `index`.
    fn note(&mut self, index: usize, sequence: u64, outcome: Outcome) -> EntityOutcome {
        self.entries[index].events.push(sequence);
        Some((index, outcome))
    }

    /// The entry's index, or counts the event as orphaned.
    fn find(&mut self, id: &str) -> Option<usize> {
        let found = self.by_id.get(id).copied();
        if found.is_none() {
            self.summary.orphaned += 1;
        }
        found
    }

    fn insert(&mut self, entry: EntryState) -> EntityOutcome {
        let index = self.entries.len();
        let previous = self.by_id.insert(entry.id.clone(), index);
        assert!(previous.is_none(), "insert is only called for a new id");
        self.entries.push(entry);
        Some((index, Outcome::Applied))
    }

    fn store(
        &mut self,
        record: &Record<'_>,
        w: wire::StoreWire<'_>,
    ) -> Result<EntityOutcome, Malformed> {
        let id = wire::required_id(&w.entry_id)?;
        let expires_at = wire::time(&w.expires_at, "expires_at")?;
        if let Some(&index) = self.by_id.get(id) {
            return Ok(self.note(
                index,
                record.sequence,
                Outcome::Refused(REFUSED_ALREADY_STORED),
            ));
        }
        let at = record.timestamp;
        let status = Status::parse(non_empty(&w.status).unwrap_or(status::PENDING));
        let (error_message, snapshot_data, metadata) =
            self.bodies(w.error_message.as_deref(), w.snapshot_data, w.metadata);
        let entry = EntryState {
            id: id.into(),
            domain: self.name(&w.domain),
            failure_type: self.name(&w.failure_type),
            resolved_at: status.resolved_at_after(None, at),
            status,
            entity_type: self.optional(&w.entity_type),
            entity_id: w.entity_id.as_deref().map(Into::into),
            user_id: w.user_id,
            retry_count: w.retry_count.unwrap_or(0),
            max_retries: w.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            error_code: self.intern(w.error_code.as_deref().unwrap_or("")),
            error_message,
            snapshot_data,
            metadata,
            created_at: at,
            updated_at: at,
            last_retry_at: None,
            expires_at,
            first_sequence: record.sequence,
            resolved_before_archive: false,
            purged: false,
            last_hash: None,
            events: first_event(record.sequence),
        };
        Ok(self.insert(entry))
    }

    fn lifecycle(
        &mut self,
        record: &Record<'_>,
        kind: LifecycleKind,
        w: wire::LifecycleWire<'_>,
    ) -> Result<EntityOutcome, Malformed> {
        let Some(index) = self.find(wire::required_id(&w.entry_id)?) else {
            return Ok(None);
        };
        if self.entries[index].purged {
            return Ok(self.note(index, record.sequence, Outcome::Refused(REFUSED_PURGED)));
        }
        let at = record.timestamp;
        let entry = &mut self.entries[index];
        entry.retry_count = match (w.retry_count, kind) {
            (Some(count), _) => count,
            (None, LifecycleKind::ReplayStart | LifecycleKind::Retry) => {
                entry.retry_count.saturating_add(1)
            }
            (None, LifecycleKind::ForceRedrive) => 1,
            (None, _) => entry.retry_count,
        };
        if matches!(
            kind,
            LifecycleKind::ReplayStart | LifecycleKind::Retry | LifecycleKind::ForceRedrive
        ) {
            entry.last_retry_at = Some(at);
        }
        let status = match non_empty(&w.status).or(kind.default_status()) {
            Some(text) => Status::parse(text),
            None if entry.retry_count >= entry.max_retries => Status::RequiresReview,
            None => Status::Pending,
        };
        entry.move_to(status, at);
        entry.updated_at = at;
        Ok(self.note(index, record.sequence, Outcome::Applied))
    }

    fn persist(
        &mut self,
        record: &Record<'_>,
        w: wire::PersistWire<'_>,
    ) -> Result<EntityOutcome, Malformed> {
        let id = wire::required_id(&w.entry_id)?;
        let times = w.times()?;
        let at = record.timestamp;
        let snapshot = &w.entry;
        let status = Status::parse(non_empty(&snapshot.status).unwrap_or(status::PENDING));
        let (error_message, snapshot_data, metadata) = self.bodies(
            snapshot.error_message.as_deref(),
            snapshot.snapshot_data,
            snapshot.metadata,
        );
        let Some(&index) = self.by_id.get(id) else {
            // A first insert: the snapshot is all there is to know.
            let entry = EntryState {
                id: id.into(),
                domain: self.name(&snapshot.domain),
                failure_type: self.name(&snapshot.failure_type),
                status,
                entity_type: self.optional(&snapshot.entity_type),
                entity_id: snapshot.entity_id.as_deref().map(Into::into),
                user_id: snapshot.user_id,
                retry_count: snapshot.retry_count.unwrap_or(0),
                max_retries: snapshot.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
                error_code: self.intern(snapshot.error_code.as_deref().unwrap_or("")),
                error_message,
                snapshot_data,
                metadata,
                created_at: times.created_at.unwrap_or(at),
                updated_at: times.updated_at.unwrap_or(at),
                resolved_at: times.resolved_at,
                last_retry_at: times.last_retry_at,
                expires_at: times.expires_at,
                first_sequence: record.sequence,
                resolved_before_archive: false,
                purged: false,
                last_hash: None,
                events: first_event(record.sequence),
            };
            return Ok(self.insert(entry));
        };
        let current = &self.entries[index];
        // IMPORTANT: the terminal-status guard (docs/STATISTICS.md, "The terminal-status guard").
        let refusal = if current.purged {
            Some(REFUSED_PURGED)
        } else if current.status == Status::Archived {
            Some(REFUSED_ARCHIVED)
        } else if current.status.is_guarded() && !status.is_guarded() {
            Some(REFUSED_REOPEN)
        } else {
            None
        };
        if let Some(reason) = refusal {
            return Ok(self.note(index, record.sequence, Outcome::Refused(reason)));
        }
        let entry = &mut self.entries[index];
        // What the reference's conflict update writes, plus the two times it
        // dropped; the identity columns stay as created.
        entry.resolved_before_archive =
            status == Status::Archived && entry.status == Status::Resolved;
        entry.status = status;
        entry.retry_count = snapshot.retry_count.unwrap_or(0);
        entry.resolved_at = times.resolved_at;
        entry.updated_at = times.updated_at.unwrap_or(at);
        entry.error_message = error_message;
        entry.snapshot_data = snapshot_data;
        entry.metadata = metadata;
        entry.last_retry_at = times.last_retry_at;
        entry.expires_at = times.expires_at;
        Ok(self.note(index, record.sequence, Outcome::Applied))
    }

    fn archive(
        &mut self,
        record: &Record<'_>,
        w: wire::EntryWire<'_>,
    ) -> Result<EntityOutcome, Malformed> {
        self.finish_step(record, &w, |entry| {
            if entry.status == Status::Archived {
                return Outcome::Refused(REFUSED_ALREADY_ARCHIVED);
            }
            entry.move_to(Status::Archived, record.timestamp);
            entry.updated_at = record.timestamp;
            Outcome::Applied
        })
    }

    fn purge(
        &mut self,
        record: &Record<'_>,
        w: wire::EntryWire<'_>,
    ) -> Result<EntityOutcome, Malformed> {
        self.finish_step(record, &w, |entry| {
            if entry.status != Status::Archived {
                return Outcome::Refused(REFUSED_NOT_ARCHIVED);
            }
            entry.purged = true;
            Outcome::Applied
        })
    }

    /// An archive or purge of the entry `w` names: refused once purged,
    /// otherwise `step` decides and applies.
    fn finish_step(
        &mut self,
        record: &Record<'_>,
        w: &wire::EntryWire<'_>,
        step: impl FnOnce(&mut EntryState) -> Outcome,
    ) -> Result<EntityOutcome, Malformed> {
        let Some(index) = self.find(wire::required_id(&w.entry_id)?) else {
            return Ok(None);
        };
        let entry = &mut self.entries[index];
        let outcome = if entry.purged {
            Outcome::Refused(REFUSED_PURGED)
        } else {
            step(entry)
        };
        Ok(self.note(index, record.sequence, outcome))
    }

    fn link(
        &mut self,
        record: &Record<'_>,
        w: wire::LinkWire<'_>,
    ) -> Result<EntityOutcome, Malformed> {
        let id = wire::required_id(&w.entry_id)?;
        let entity_type = non_empty(&w.entity_type).unwrap_or(events::DLQ_ENTRY_ENTITY_TYPE);
        if entity_type != events::DLQ_ENTRY_ENTITY_TYPE {
            self.summary.orphaned += 1;
            return Ok(None);
        }
        let Some(index) = self.find(id) else {
            return Ok(None);
        };
        let outcome = if self.entries[index].purged {
            Outcome::Refused(REFUSED_PURGED)
        } else {
            Outcome::Applied
        };
        Ok(self.note(index, record.sequence, outcome))
    }

    fn breaker(
        &mut self,
        record: &Record<'_>,
        transition: BreakerTransition,
        w: wire::BreakerWire<'_>,
    ) {
        let name = [
            record.service_name,
            non_empty(&w.service_name).unwrap_or(""),
        ]
        .into_iter()
        .find(|name| !name.is_empty())
        .unwrap_or(UNKNOWN);
        let breaker = match self.breakers.get_mut(name) {
            Some(breaker) => breaker,
            None => self.breakers.entry(name.into()).or_default(),
        };
        let at = record.timestamp;
        breaker.state = transition.state();
        breaker.failure_count = match (w.reported_failures(), transition) {
            (Some(count), _) => count,
            (None, BreakerTransition::Closed) => 0,
            (None, _) => breaker.failure_count,
        };
        if let Some(count) = w.success_count {
            breaker.success_count = count;
        }
        if transition == BreakerTransition::Opened {
            breaker.last_failure_time = Some(at);
        }
        breaker.last_state_change = Some(at);
    }
}

/// The event list of a new entry, with room for a typical life's events.
fn first_event(sequence: u64) -> Vec<u64> {
    let mut events = Vec::with_capacity(ENTRY_EVENTS_TYPICAL);
    events.push(sequence);
    events
}

/// Events most entries collect (store, a replay or two, an outcome).
const ENTRY_EVENTS_TYPICAL: usize = 4;

/// The reference's default `max_retries`.
pub(crate) const DEFAULT_MAX_RETRIES: i64 = 2;
