//! `JournalStatistics`: the statistics repository as a fold over any
//! [`EventJournal`]. Reads fold what is new in the journal, then answer
//! from the in-memory projection; writes append events and fold them
//! before returning, so a read right after a write sees it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::entry::EntryRef;
use crate::entry::{JournalEntry, Timestamp};
use crate::error::{Error, Result};
use crate::journal::EventJournal;
use crate::projection::audit::{self, AuditKey, AuditKeyring, AuditVerification};
use crate::projection::clock::{Clock, SystemClock};
use crate::projection::dto::{
    CircuitBreakerInfo, CircuitBreakerSummary, CleanupStats, DomainDistribution, EntityAuditTrail,
    EntryDetail, EntrySummary, FailureTypeDistribution, PaginatedResult, RecentActivity,
    StatusCounts,
};
use crate::projection::events::{self, AuditLink, STATISTICS_SOURCE};
use crate::projection::persister::{
    ASYNC_PERSIST_TASK_NAME, DEFAULT_PERSIST_QUEUE_DEPTH, PERSIST_QUEUE_DEPTH_MAX, PersistTarget,
    Persister,
};
use crate::projection::repository::{EntryListQuery, PurgeSelection, StatisticsRepository};
use crate::projection::snapshot::{self, SnapshotConfig};
use crate::projection::state::{FoldSummary, Projection, Record};
use crate::projection::timeline::{self, Timeline, TimelineOptions};
use crate::projection::view::StatisticsView;
use crate::projection::{trail, wire};

/// Events appended per `append_batch` by one write, at most.
const APPEND_BATCH_MAX: usize = 1024;

/// How `persist_entry` and `sync_from_runtime` record snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistMode {
    /// Append and fold before returning (the default).
    Sync,
    /// Queue for a background persister and return; `flush` waits until
    /// the queue is folded.
    Async {
        /// Queued calls before the next one blocks (1 to 65,536).
        queue_depth: usize,
    },
}

impl PersistMode {
    /// Asynchronous, with the default queue depth (1024).
    #[must_use]
    pub fn asynchronous() -> Self {
        PersistMode::Async {
            queue_depth: DEFAULT_PERSIST_QUEUE_DEPTH,
        }
    }
}

/// What the persister thread and the handle share.
pub(crate) struct Shared<J: ?Sized> {
    journal: Arc<J>,
    clock: Arc<dyn Clock>,
    projection: Mutex<Projection>,
    /// Audit chaining: `None` off, `Some(None)` keyless, `Some(Some(key))`
    /// keyed.
    chain: Option<Option<AuditKey>>,
    /// The keys trails are verified with (the signing key included).
    keys: AuditKeyring,
    /// Where the projection's snapshot is kept, if anywhere.
    snapshot: Option<SnapshotConfig>,
    /// `summary.records` when a snapshot was last loaded or written.
    snapshot_records: AtomicU64,
    /// Records this handle folded itself (not restored from a snapshot).
    folded: AtomicU64,
    /// Chained writes that found the journal moved and were decided again.
    conflicts: AtomicU64,
}

/// Folds the records with `start <= sequence <= last` into `projection`
/// (`last` may be `u64::MAX`), keeping only the records `keep` accepts.
fn fold_range<J: EventJournal + ?Sized>(
    journal: &J,
    projection: &mut Projection,
    start: u64,
    last: u64,
    keep: impl Fn(&EntryRef<'_>) -> bool,
) -> Result<()> {
    let mut visit = |record: &EntryRef<'_>| {
        if keep(record) {
            projection.apply(&Record::of_ref(record));
        }
        Ok(())
    };
    match last.checked_add(1) {
        Some(end) => journal.for_each_ref(start, end, &mut visit),
        None => journal.for_each_ref_from(start, &mut visit),
    }
}

impl<J: EventJournal + ?Sized + 'static> PersistTarget for Shared<J> {
    fn append_all(&self, events: &[JournalEntry]) -> Result<()> {
        Shared::append_all(self, events)
    }

    fn refresh(&self) -> Result<()> {
        Shared::refresh(self).map(|_| ())
    }
}

impl<J: EventJournal + ?Sized> Shared<J> {
    fn lock(&self) -> MutexGuard<'_, Projection> {
        // Folding one record never panics half-way through our own code,
        // and a journal error leaves the projection at the last whole
        // record, so a poisoned lock still guards a consistent state.
        self.projection.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Folds every record after the last one folded; the writer then
    /// writes a snapshot when `interval` records were folded since the
    /// last one.
    fn catch_up(&self, projection: &mut Projection) -> Result<()> {
        // After the record at u64::MAX nothing can follow.
        let folded_the_last =
            projection.summary.records > 0 && projection.summary.last_sequence == u64::MAX;
        if folded_the_last {
            return Ok(());
        }
        let start = projection.summary.last_sequence.saturating_add(1);
        let before = projection.summary.records;
        let folded = fold_range(&*self.journal, projection, start, u64::MAX, |_| true);
        let after = projection.summary.records;
        self.folded.fetch_add(after - before, Ordering::Relaxed);
        folded?;
        if let Some(config) = &self.snapshot
            && config.write
            && after - self.snapshot_records.load(Ordering::Relaxed) >= config.interval
        {
            // A failed periodic snapshot only costs a longer fold later.
            let _ = self.write_snapshot(projection, config);
        }
        Ok(())
    }

    fn write_snapshot(&self, projection: &Projection, config: &SnapshotConfig) -> Result<()> {
        snapshot::store(config, projection, &*self.journal)?;
        self.snapshot_records
            .store(projection.summary.records, Ordering::Relaxed);
        if config.write {
            self.journal
                .set_retention_floor(Some(projection.summary.last_sequence.max(1)));
        }
        Ok(())
    }

    /// Catches up and writes a snapshot, when configured to write.
    pub(crate) fn snapshot_now(&self) -> Result<bool> {
        let Some(config) = self.snapshot.as_ref().filter(|c| c.write) else {
            return Ok(false);
        };
        let mut projection = self.lock();
        self.catch_up(&mut projection)?;
        self.write_snapshot(&projection, config)?;
        Ok(true)
    }

    pub(crate) fn refresh(&self) -> Result<FoldSummary> {
        let mut projection = self.lock();
        self.catch_up(&mut projection)?;
        Ok(projection.summary)
    }

    /// Answers from the projection caught up with the journal.
    fn read<T>(&self, answer: impl FnOnce(&Projection, Timestamp) -> T) -> Result<T> {
        let mut projection = self.lock();
        self.catch_up(&mut projection)?;
        Ok(answer(&projection, self.clock.now()))
    }

    /// Decides on events from the caught-up projection, appends them and
    /// folds them, all under the lock, so two writes through one handle
    /// never decide on the same state.
    ///
    /// With chaining on, the append is conditional on the journal's latest
    /// sequence being the one just folded (`append_batch_if_latest`): if
    /// another handle or process appended in between, nothing is written,
    /// the fold catches up and `decide` runs again, so chains computed from
    /// a stale fold are never appended and cannot fork.
    fn write(
        &self,
        mut decide: impl FnMut(&Projection, Timestamp) -> Vec<JournalEntry>,
    ) -> Result<u64> {
        let mut projection = self.lock();
        loop {
            self.catch_up(&mut projection)?;
            let events = decide(&projection, self.clock.now());
            let count = events.len() as u64;
            let events = self.seal_all(&projection, events)?;
            if self.append_sealed(projection.summary.last_sequence, &events)? {
                self.catch_up(&mut projection)?;
                return Ok(count);
            }
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Appends what `write` decided; false when a conditional append found
    /// the journal moved past `folded` (nothing appended). Chained events
    /// go in one conditional batch; unchained ones, or a backend without
    /// conditional appends, as plain batches.
    fn append_sealed(&self, folded: u64, events: &[JournalEntry]) -> Result<bool> {
        for event in events {
            event.context.check()?;
        }
        // Test-only break: plain appends, no compare-and-set (docs/RELIABILITY.md).
        let skip = cfg!(feature = "break-skip-cas");
        if skip || self.chain.is_none() || events.is_empty() {
            self.append_raw(events)?;
            return Ok(true);
        }
        match self.journal.append_batch_if_latest(folded, events) {
            Ok(appended) => Ok(appended.is_some()),
            Err(Error::Unsupported(_)) => {
                // The backend cannot compare-and-set: the lock still
                // serializes this handle's writes (docs/AUDIT.md).
                self.append_raw(events)?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// Appends events the background persister queued: as they are
    /// without chaining; with chaining, sealed and appended under the lock
    /// like any write.
    pub(crate) fn append_all(&self, events: &[JournalEntry]) -> Result<()> {
        if self.chain.is_none() {
            return self.append_raw(events);
        }
        self.write(|_, _| events.to_vec()).map(|_| ())
    }

    fn append_raw(&self, events: &[JournalEntry]) -> Result<()> {
        for chunk in events.chunks(APPEND_BATCH_MAX) {
            self.journal.append_batch(chunk)?;
        }
        Ok(())
    }

    /// With chaining on, chains every DLQ event after its entry's last
    /// hash (the folded state's, or an earlier event's of this batch).
    /// Called under the lock, on a caught-up projection, right before the
    /// append.
    fn seal_all(
        &self,
        projection: &Projection,
        mut events: Vec<JournalEntry>,
    ) -> Result<Vec<JournalEntry>> {
        let Some(key) = &self.chain else {
            return Ok(events);
        };
        let mut pending: HashMap<String, String> = HashMap::new();
        for event in &mut events {
            if !audit::is_chained_event_type(&event.event_type) {
                continue;
            }
            let Some(id) = wire::parse::<wire::EntryIdWire<'_>>(event.context.as_str())
                .ok()
                .and_then(|w| w.entry_id.map(String::from))
            else {
                continue;
            };
            let previous = match pending.get(&id) {
                Some(hash) => Some(hash.clone()),
                None => self.chain_head(projection, &id)?,
            };
            let hash = audit::seal(event, previous.as_deref(), key.as_ref())?;
            pending.insert(id, hash);
        }
        Ok(events)
    }
}

impl<J: EventJournal + ?Sized> Shared<J> {
    /// The hash of the last chained record naming entry `id`, as the
    /// verifier walks its chain (docs/AUDIT.md, "Chain membership"): the
    /// entry's own last link, or a later chained record the fold did not
    /// attach to it (an event of an entry never stored, say), read back
    /// from the journal.
    fn chain_head(&self, projection: &Projection, id: &str) -> Result<Option<String>> {
        let entry = projection.get(id);
        let folded_last = entry.and_then(|entry| entry.events.last().copied());
        let stray_last = projection
            .chain_strays
            .get(id)
            .and_then(|sequences| sequences.last().copied());
        match stray_last {
            Some(sequence) if folded_last.is_none_or(|folded| sequence > folded) => {
                let Some(record) = crate::journal::entry_at(&*self.journal, sequence)? else {
                    return Ok(None);
                };
                Ok(
                    crate::projection::chain::read_context(record.context.as_str())
                        .ok()
                        .and_then(|fields| fields.hash_chain_text().map(String::from)),
                )
            }
            _ => Ok(entry.and_then(|entry| entry.last_hash.as_deref().map(String::from))),
        }
    }
}

/// Builds a [`JournalStatistics`].
pub struct JournalStatisticsBuilder<J: ?Sized> {
    journal: Arc<J>,
    clock: Arc<dyn Clock>,
    persist_mode: PersistMode,
    chain: Option<Option<AuditKey>>,
    keys: AuditKeyring,
    snapshot: Option<SnapshotConfig>,
}

impl<J: EventJournal + ?Sized + 'static> JournalStatisticsBuilder<J> {
    /// The clock windows read and writes stamp their events with (default:
    /// the system clock).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How snapshots are persisted (default [`PersistMode::Sync`]).
    #[must_use]
    pub fn persist_mode(mut self, mode: PersistMode) -> Self {
        self.persist_mode = mode;
        self
    }

    /// Whether DLQ events written through the statistics are chained
    /// (docs/AUDIT.md). **On by default**, keyless (SHA-256); `false`
    /// turns chaining off (for example to write a journal byte-for-byte
    /// like a reference implementation that does not chain), and `true`
    /// after `audit_key` keeps the key. Keyless chains show tampering only
    /// by someone who cannot recompute them.
    #[must_use]
    pub fn audit_chain(mut self, on: bool) -> Self {
        self.chain = on.then(|| self.chain.take().flatten());
        self
    }

    /// Chains every DLQ event with HMAC-SHA256 under `key`, recording its
    /// id; the key also verifies trails.
    #[must_use]
    pub fn audit_key(mut self, key: AuditKey) -> Self {
        self.keys.insert(key.clone());
        self.chain = Some(Some(key));
        self
    }

    /// Keys trails are verified with, by id (for example the keys rotated
    /// out); the signing key, if any, is always among them. With any key
    /// known, a keyless chained entry fails verification.
    #[must_use]
    pub fn audit_verification_keys(mut self, keys: AuditKeyring) -> Self {
        let signing = self.chain.clone().flatten();
        self.keys = keys;
        if let Some(key) = signing {
            self.keys.insert(key);
        }
        self
    }

    /// Keeps a snapshot of the projection (docs/STATISTICS.md): `build`
    /// starts from it when it is valid for the journal, and, when
    /// `config.write`, a snapshot is written every `config.interval`
    /// folded records and when the statistics are dropped.
    #[must_use]
    pub fn snapshot(mut self, config: SnapshotConfig) -> Self {
        self.snapshot = Some(config);
        self
    }

    /// The statistics; starts the persister thread in async mode.
    pub fn build(self) -> Result<JournalStatistics<J>> {
        let mut projection = Projection::default();
        if let Some(config) = &self.snapshot
            && let Some(restored) = snapshot::load(&config.path, &*self.journal, config.journal_id)?
        {
            projection = restored;
        }
        if self.snapshot.is_some() {
            // The floor: the snapshot's record (1 before any snapshot), so
            // the statistics stay rebuildable from it and what remains.
            let floor = projection.summary.last_sequence.max(1);
            self.journal.set_retention_floor(Some(floor));
        }
        let restored_records = projection.summary.records;
        let snapshot_config = self.snapshot.clone();
        let shared = Arc::new(Shared {
            journal: self.journal,
            clock: self.clock,
            projection: Mutex::new(projection),
            chain: self.chain,
            keys: self.keys,
            snapshot: self.snapshot,
            snapshot_records: AtomicU64::new(restored_records),
            folded: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
        });
        let persister = match self.persist_mode {
            PersistMode::Sync => None,
            PersistMode::Async { queue_depth } => {
                if !(1..=PERSIST_QUEUE_DEPTH_MAX).contains(&queue_depth) {
                    return Err(Error::InvalidOption(format!(
                        "persist queue depth must be 1 to {PERSIST_QUEUE_DEPTH_MAX}, got {queue_depth}"
                    )));
                }
                Some(Persister::start(shared.clone(), queue_depth)?)
            }
        };
        let closer = snapshot_config.filter(|c| c.write).map(|_| {
            let shared = shared.clone();
            Closer(Some(Box::new(move || {
                let _ = shared.snapshot_now();
            })))
        });
        Ok(JournalStatistics {
            shared,
            persister,
            _closer: closer,
        })
    }
}

/// Runs its action when dropped: the snapshot on close, after the
/// persister (declared before it) has drained.
struct Closer(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Drop for Closer {
    fn drop(&mut self) {
        if let Some(close) = self.0.take() {
            close();
        }
    }
}

/// The statistics repository folded over a journal.
///
/// Works over any [`EventJournal`], shared through an `Arc` (`J` may be
/// `dyn EventJournal`), read-only journals included: every read first folds
/// the records appended since the last one (`range_iter(last + 1, ..)`),
/// so a read issued after the writer acknowledged sequence N reflects N.
///
/// ```
/// use std::sync::Arc;
/// use baldur_journal::{EventJournal, MemoryJournal, Timestamp};
/// use baldur_journal::projection::{JournalStatistics, StatisticsRepository, StoreEvent};
///
/// # fn main() -> baldur_journal::Result<()> {
/// let journal = Arc::new(MemoryJournal::new());
/// let statistics = JournalStatistics::new(journal.clone());
/// journal.append(&StoreEvent::new("dlq-1", "payments", "timeout").to_entry(Timestamp::now()))?;
/// assert_eq!(statistics.get_status_counts()?.pending, 1);
/// # Ok(())
/// # }
/// ```
pub struct JournalStatistics<J: ?Sized + 'static = dyn EventJournal> {
    shared: Arc<Shared<J>>,
    persister: Option<Persister>,
    /// Declared last: dropped after the persister drained.
    _closer: Option<Closer>,
}

impl<J: EventJournal + ?Sized + 'static> JournalStatistics<J> {
    /// Statistics over `journal` with the system clock, synchronous
    /// persistence and keyless audit chaining (the builder's defaults).
    /// Nothing is read until the first call.
    pub fn new(journal: Arc<J>) -> Self {
        JournalStatistics {
            shared: Arc::new(Shared {
                journal,
                clock: Arc::new(SystemClock),
                projection: Mutex::new(Projection::default()),
                chain: Some(None),
                keys: AuditKeyring::new(),
                snapshot: None,
                snapshot_records: AtomicU64::new(0),
                folded: AtomicU64::new(0),
                conflicts: AtomicU64::new(0),
            }),
            persister: None,
            _closer: None,
        }
    }

    /// A builder, to set the clock or the persist mode.
    pub fn builder(journal: Arc<J>) -> JournalStatisticsBuilder<J> {
        JournalStatisticsBuilder {
            journal,
            clock: Arc::new(SystemClock),
            persist_mode: PersistMode::Sync,
            chain: Some(None),
            keys: AuditKeyring::new(),
            snapshot: None,
        }
    }

    /// The journal folded.
    #[must_use]
    pub fn journal(&self) -> &Arc<J> {
        &self.shared.journal
    }

    /// The clock's time now.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Folds what is new in the journal; returns what the fold has read.
    pub fn refresh(&self) -> Result<FoldSummary> {
        self.shared.refresh()
    }

    /// In async mode, waits until every snapshot queued so far is appended
    /// and folded, and returns the first background append failure since
    /// the last flush. In sync mode, the same as [`refresh`](Self::refresh).
    pub fn flush(&self) -> Result<()> {
        match &self.persister {
            Some(persister) => persister.flush(),
            None => self.refresh().map(|_| ()),
        }
    }

    /// The statistics as they were when the journal's latest sequence was
    /// `sequence`: a fresh fold of `[1, sequence]`, answering with the
    /// clock's now (change it with [`StatisticsView::with_now`]).
    pub fn as_of_sequence(&self, sequence: u64) -> Result<StatisticsView<J>> {
        let mut projection = Projection::default();
        fold_range(&*self.shared.journal, &mut projection, 1, sequence, |_| {
            true
        })?;
        Ok(StatisticsView::new(
            self.shared.journal.clone(),
            projection,
            self.now(),
            self.shared.keys.clone(),
        ))
    }

    /// The statistics as a dashboard showed them at `time`: a fresh fold of
    /// the records appended at or before `time` (each record's append
    /// time; its event time where the backend keeps none), answering with
    /// now = `time`.
    pub fn as_of_time(&self, time: Timestamp) -> Result<StatisticsView<J>> {
        let mut projection = Projection::default();
        let last = self.shared.journal.get_latest_sequence()?;
        fold_range(&*self.shared.journal, &mut projection, 1, last, |record| {
            record.appended_at <= time
        })?;
        Ok(StatisticsView::new(
            self.shared.journal.clone(),
            projection,
            time,
            self.shared.keys.clone(),
        ))
    }

    /// The statistics over time ([`Timeline`]: each day's counts and
    /// closing status mix, every breaker's changes, the entries waiting),
    /// collected in one fresh pass over the records `options` selects,
    /// keeping the latest `days_max` days; and a view of the same fold,
    /// answering with now = `options.appended_until` when set, else the
    /// clock's now.
    pub fn timeline(
        &self,
        options: &TimelineOptions,
        days_max: usize,
    ) -> Result<(Timeline, StatisticsView<J>)> {
        let (timeline, projection) = timeline::collect(&*self.shared.journal, options, days_max)?;
        let now = options.appended_until.unwrap_or_else(|| self.now());
        let view = StatisticsView::new(
            self.shared.journal.clone(),
            projection,
            now,
            self.shared.keys.clone(),
        );
        Ok((timeline, view))
    }

    /// Appends a runtime's events (a `StoreEvent`, `LifecycleEvent`s, ...)
    /// through the statistics, so that with chaining on each DLQ event is
    /// chained under the same lock as its append, and folds them before
    /// returning. Returns how many were appended.
    pub fn record(&self, events: Vec<JournalEntry>) -> Result<u64> {
        self.shared.write(|_, _| events.clone())
    }

    /// Records this handle folded from the journal itself: with a valid
    /// snapshot, only those after the snapshot's sequence.
    #[must_use]
    pub fn folded_records(&self) -> u64 {
        self.shared.folded.load(Ordering::Relaxed)
    }

    /// Chained writes of this handle that found the journal moved (another
    /// handle or process appended after this one's fold) and were folded
    /// and decided again, so no chain forked.
    #[must_use]
    pub fn write_conflicts(&self) -> u64 {
        self.shared.conflicts.load(Ordering::Relaxed)
    }

    /// Catches up and writes a snapshot now; `false` when the statistics
    /// keep none or only read them.
    pub fn snapshot_now(&self) -> Result<bool> {
        self.flush()?;
        self.shared.snapshot_now()
    }

    /// Whether writes chain DLQ events, and with which key id.
    #[must_use]
    pub fn audit_chain(&self) -> Option<Option<&str>> {
        self.shared
            .chain
            .as_ref()
            .map(|key| key.as_ref().map(AuditKey::id))
    }

    /// The entity's audit trail with every entry verified: each hash is
    /// recomputed from the stored content (HMAC under the key its
    /// `hash_key_id` names) and each link checked; see docs/AUDIT.md.
    pub fn verify_audit_trail(
        &self,
        entity_id: &str,
        entity_type: &str,
    ) -> Result<AuditVerification> {
        let mut projection = self.shared.lock();
        self.shared.catch_up(&mut projection)?;
        trail::verified_trail(
            &projection,
            &*self.shared.journal,
            entity_id,
            entity_type,
            &self.shared.keys,
        )
    }

    /// A write's event, stamped as the statistics' own.
    fn own(mut event: JournalEntry) -> JournalEntry {
        event.source = STATISTICS_SOURCE.into();
        event
    }

    /// The `dlq_persist` event of a snapshot, checked as the fold will read
    /// it; `None` without an id.
    fn snapshot_event(
        &self,
        entry_data: &Map<String, Value>,
    ) -> Result<Option<(String, JournalEntry)>> {
        let Some(id) = snapshot_id(entry_data) else {
            return Ok(None);
        };
        let event = Self::own(events::dlq_persist(&id, entry_data, self.now()));
        wire::check_persist(event.context.as_str()).map_err(|wire::Malformed(reason)| {
            Error::InvalidEntry(format!("snapshot of DLQ entry {id:?}: {reason}"))
        })?;
        Ok(Some((id, event)))
    }

    /// Appends (sync) or queues (async) snapshot events.
    fn record_snapshots(&self, snapshots: Vec<JournalEntry>) -> Result<()> {
        match &self.persister {
            Some(persister) => persister.queue(snapshots),
            None => self.shared.write(|_, _| snapshots.clone()).map(|_| ()),
        }
    }
}

/// The snapshot's `id` as text: a string as is, anything else as Python's
/// `str()` of it. Missing, `null` and `""` mean no id.
fn snapshot_id(entry_data: &Map<String, Value>) -> Option<String> {
    match entry_data.get("id")? {
        Value::Null => None,
        Value::String(id) if id.is_empty() => None,
        Value::String(id) => Some(id.clone()),
        other => Some(crate::pystr::python_str(&other.to_string())),
    }
}

impl<J: EventJournal + ?Sized + 'static> StatisticsRepository for JournalStatistics<J> {
    fn get_status_counts(&self) -> Result<StatusCounts> {
        self.shared.read(|p, now| p.status_counts(now))
    }

    fn get_status_breakdown(&self) -> Result<BTreeMap<String, u64>> {
        self.shared.read(|p, now| p.status_breakdown(now))
    }

    fn get_domain_distribution(&self, limit: usize) -> Result<Vec<DomainDistribution>> {
        self.shared.read(|p, now| p.domain_distribution(now, limit))
    }

    fn get_failure_type_distribution(&self, limit: usize) -> Result<Vec<FailureTypeDistribution>> {
        self.shared
            .read(|p, now| p.failure_type_distribution(now, limit))
    }

    fn get_recent_activity(&self, hours: u32, days: u32) -> Result<RecentActivity> {
        self.shared
            .read(|p, now| p.recent_activity(now, hours, days))
    }

    fn get_resolution_rate(&self, days: u32) -> Result<f64> {
        self.shared.read(|p, now| p.resolution_rate(now, days))
    }

    fn get_avg_retry_count(&self) -> Result<f64> {
        self.shared.read(|p, now| p.avg_retry_count(now))
    }

    fn list_entries(&self, query: &EntryListQuery) -> Result<PaginatedResult<EntrySummary>> {
        self.shared.read(|p, _| p.list_entries(query))?
    }

    fn get_entry_detail(&self, entry_id: &str) -> Result<Option<EntryDetail>> {
        let Some((detail, events)) = self
            .shared
            .read(|p, _| p.entry_detail_and_events(entry_id))?
        else {
            return Ok(None);
        };
        crate::projection::reads::with_bodies(&*self.shared.journal, detail, &events).map(Some)
    }

    fn get_sla_breaches(
        &self,
        sla_threshold_hours: u32,
        statuses: Option<&[&str]>,
    ) -> Result<BTreeMap<String, u64>> {
        self.shared
            .read(|p, now| p.sla_breaches(now, sla_threshold_hours, statuses))
    }

    fn get_cleanup_stats(&self) -> Result<CleanupStats> {
        self.shared.read(|p, now| p.cleanup_stats(now))
    }

    fn archive_old_entries(&self, older_than_days: u32) -> Result<u64> {
        let details = format!("resolved more than {older_than_days} days ago");
        self.shared.write(|p, now| {
            p.archive_candidates(now, older_than_days)
                .iter()
                .map(|id| Self::own(events::dlq_archive(id, None, Some(&details), now)))
                .collect()
        })
    }

    fn purge_archived(&self, selection: &PurgeSelection) -> Result<u64> {
        self.shared.write(|p, now| {
            p.purge_candidates(now, selection)
                .iter()
                .map(|id| Self::own(events::dlq_purge(id, None, None, now)))
                .collect()
        })
    }

    fn get_circuit_breaker_summary(&self) -> Result<CircuitBreakerSummary> {
        self.shared.read(|p, _| p.circuit_breaker_summary())
    }

    fn list_circuit_breakers(&self) -> Result<Vec<CircuitBreakerInfo>> {
        self.shared.read(|p, _| p.list_circuit_breakers())
    }

    fn persist_entry(&self, entry_data: &Map<String, Value>) -> Result<Option<String>> {
        let Some((id, event)) = self.snapshot_event(entry_data)? else {
            return Ok(None);
        };
        self.record_snapshots(vec![event])?;
        Ok(Some(id))
    }

    fn sync_from_runtime(&self, entries: &[Map<String, Value>]) -> Result<u64> {
        // Every snapshot is checked before any is recorded: one bad entry
        // fails the call and records nothing.
        let mut snapshots = Vec::with_capacity(entries.len());
        for entry_data in entries {
            if let Some((_, event)) = self.snapshot_event(entry_data)? {
                snapshots.push(event);
            }
        }
        let count = snapshots.len() as u64;
        self.record_snapshots(snapshots)?;
        Ok(count)
    }

    fn get_audit_trail_by_entity(
        &self,
        entity_id: &str,
        entity_type: &str,
    ) -> Result<EntityAuditTrail> {
        let mut projection = self.shared.lock();
        self.shared.catch_up(&mut projection)?;
        trail::audit_trail(
            &projection,
            &*self.shared.journal,
            entity_id,
            entity_type,
            &self.shared.keys,
        )
    }

    fn link_audit_entry(&self, link: &AuditLink) -> Result<bool> {
        if link.entity_type != events::DLQ_ENTRY_ENTITY_TYPE {
            return Ok(false);
        }
        let linked = self.shared.write(|p, now| match p.get(&link.entity_id) {
            Some(entry) if !entry.purged => vec![Self::own(link.to_entry(now))],
            _ => Vec::new(),
        })?;
        Ok(linked == 1)
    }

    fn should_persist_async(&self) -> bool {
        self.persister.is_some()
    }

    fn get_async_persist_task_name(&self) -> Option<String> {
        self.persister
            .as_ref()
            .map(|_| ASYNC_PERSIST_TASK_NAME.to_string())
    }
}
