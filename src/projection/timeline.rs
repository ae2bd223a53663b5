//! The statistics over time, for a report: what happened each day (entries
//! created, resolved, rejected, expired; replays and their outcomes), the
//! status mix at the end of each day, every circuit breaker's state
//! changes, and, at the end, the entries still waiting and the failure
//! types by domain. Collected in one pass over the journal: the fold runs
//! once, and the status mix at each day boundary is read off it as the
//! pass crosses the boundary (an as-of view per day, without a fold per
//! day).
//!
//! Days are UTC days of the records' event times. A record whose event
//! time is earlier than one already folded (a journal not in time order)
//! counts on its own day, but the status mix of a day already passed is
//! not revised: it is the state after every record up to the first one
//! that crossed the day's end, in sequence order.

use std::collections::{BTreeMap, HashMap};

use crate::entry::{EntryRef, Timestamp};
use crate::error::Result;
use crate::journal::EventJournal;
use crate::projection::events::{BreakerTransition, LifecycleKind};
use crate::projection::repository::DEFAULT_SLA_STATUSES;
use crate::projection::state::{FoldSummary, Outcome, Projection, Record};
use crate::projection::status::{ALL_STATUSES, Status};
use crate::projection::wire::{self, BreakerWire, non_empty};

/// Nanoseconds in a day.
pub const DAY_NS: i64 = 86_400_000_000_000;

/// The most state changes kept for one circuit breaker; later ones are
/// counted in [`BreakerHistory::changes_dropped`], not kept.
pub const BREAKER_CHANGES_MAX: usize = 200_000;

/// The most distinct circuit breakers with a history kept; the changes of
/// others are not kept (their count is in [`Timeline::breakers_dropped`]).
pub const BREAKERS_MAX: usize = 1_000;

/// The status a status mix shows for statuses outside the reference's ten.
pub const OTHER_STATUS: &str = "other";

/// Which records the timeline folds.
#[derive(Clone, Copy, Debug, Default)]
pub struct TimelineOptions {
    /// Only the records up to this sequence (the journal as it was when its
    /// latest sequence was this one).
    pub last_sequence: Option<u64>,
    /// Only the records appended at or before this time (each record's
    /// append time; its event time where the backend keeps none).
    pub appended_until: Option<Timestamp>,
}

/// What happened on one UTC day, and the status mix at its end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayRow {
    /// The day's first nanosecond (midnight UTC).
    pub start: Timestamp,
    /// Entries created (by their creation time).
    pub created: u64,
    /// Entries that moved to `resolved`.
    pub resolved: u64,
    /// Entries that moved to `rejected`.
    pub rejected: u64,
    /// Entries that moved to `expired`.
    pub expired: u64,
    /// Replay attempts started (`dlq_replay_start`, `dlq_force_redrive`).
    pub replays_started: u64,
    /// Replays that succeeded (`dlq_replay_success`).
    pub replays_succeeded: u64,
    /// Replays that failed and left the entry waiting (`dlq_replay_failed`
    /// to `pending`).
    pub replays_failed_retrying: u64,
    /// Replays that failed at the retry cap (`dlq_replay_failed` to
    /// `requires_review`).
    pub replays_failed_at_cap: u64,
    /// Entries not purged at the day's end, by status: one count per
    /// status of [`ALL_STATUSES`], in its order, then [`OTHER_STATUS`].
    pub statuses: [u64; STATUS_SLOTS],
}

/// Slots of a status mix: the ten statuses and `other`.
pub const STATUS_SLOTS: usize = ALL_STATUSES.len() + 1;

/// The name of each slot of [`DayRow::statuses`].
#[must_use]
pub fn status_slot_names() -> [&'static str; STATUS_SLOTS] {
    let mut names = [OTHER_STATUS; STATUS_SLOTS];
    names[..ALL_STATUSES.len()].copy_from_slice(&ALL_STATUSES);
    names
}

/// One state change of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerChange {
    /// The event time.
    pub at: Timestamp,
    /// The state after it: `open`, `closed` or `half_open`.
    pub state: &'static str,
}

/// A circuit breaker's state changes, in sequence order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BreakerHistory {
    /// The breaker's service name.
    pub service_name: String,
    /// Its changes, at most [`BREAKER_CHANGES_MAX`].
    pub changes: Vec<BreakerChange>,
    /// Changes past [`BREAKER_CHANGES_MAX`], not kept.
    pub changes_dropped: u64,
}

/// An entry in a status the SLA counts (pending, reviewing,
/// requires_review) at the end of the pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingEntry {
    /// Its id.
    pub id: String,
    /// Its domain.
    pub domain: String,
    /// Its failure type.
    pub failure_type: String,
    /// Its status.
    pub status: String,
    /// Replay attempts so far.
    pub retry_count: i64,
    /// When it was created.
    pub created_at: Timestamp,
    /// Its last change.
    pub updated_at: Timestamp,
}

/// Entries of one domain and failure type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainFailureCount {
    /// The domain.
    pub domain: String,
    /// The failure type.
    pub failure_type: String,
    /// Entries not purged of that domain and failure type, created in the
    /// window asked for.
    pub count: u64,
}

/// The statistics over time, from one pass over the journal.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Every UTC day from the first record's to the last record's, in order
    /// (days without records included), at most `days_max` of them: the
    /// latest ones.
    pub days: Vec<DayRow>,
    /// Every circuit breaker with a state change, by service name.
    pub breakers: Vec<BreakerHistory>,
    /// Breakers beyond [`BREAKERS_MAX`], whose changes were not kept.
    pub breakers_dropped: u64,
    /// Entries waiting at the end (statuses the SLA counts), oldest first.
    pub waiting: Vec<WaitingEntry>,
    /// What the fold read.
    pub summary: FoldSummary,
    /// The earliest and latest event time folded.
    pub event_times: Option<(Timestamp, Timestamp)>,
}

/// Entries not purged by domain and failure type, counting only those
/// created in `[since, until]` (either end open when `None`).
pub(crate) fn failure_types_by_domain(
    projection: &Projection,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Vec<DomainFailureCount> {
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for entry in projection.live() {
        if since.is_some_and(|t| entry.created_at < t)
            || until.is_some_and(|t| entry.created_at > t)
        {
            continue;
        }
        *counts
            .entry((&entry.domain, &entry.failure_type))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((domain, failure_type), count)| DomainFailureCount {
            domain: domain.to_string(),
            failure_type: failure_type.to_string(),
            count,
        })
        .collect()
}

/// A status's slot in [`DayRow::statuses`]; `None` for a purged entry.
fn slot(status: &Status, purged: bool) -> Option<usize> {
    if purged {
        return None;
    }
    let index = ALL_STATUSES
        .iter()
        .position(|name| *name == status.as_str())
        .unwrap_or(ALL_STATUSES.len());
    Some(index)
}

/// The day of an event time: days since the Unix epoch, rounded down.
fn day_of(at: Timestamp) -> i64 {
    at.as_unix_nanos().div_euclid(DAY_NS)
}

/// Per-day counts as the pass collects them.
#[derive(Default)]
struct Collector {
    projection: Projection,
    /// Each entry's slot as last seen, by entry index (`u8::MAX` purged).
    slots: Vec<u8>,
    /// The live status mix now.
    mix: [u64; STATUS_SLOTS],
    /// Counts per day, by day number.
    days: BTreeMap<i64, DayRow>,
    /// The status mix at the end of each day the pass crossed.
    mixes: BTreeMap<i64, [u64; STATUS_SLOTS]>,
    /// The day of the latest event time folded so far.
    current_day: Option<i64>,
    breakers: HashMap<Box<str>, BreakerHistory>,
    breakers_dropped: u64,
    event_times: Option<(Timestamp, Timestamp)>,
}

impl Collector {
    fn day(&mut self, day: i64) -> &mut DayRow {
        self.days.entry(day).or_default()
    }

    fn visit(&mut self, record: &Record<'_>) {
        let at = record.timestamp;
        let day = day_of(at);
        self.event_times = Some(match self.event_times {
            None => (at, at),
            Some((first, last)) => (first.min(at), last.max(at)),
        });
        // Crossing into a later day: the days passed end with the mix as
        // it is now, before this record.
        match self.current_day {
            Some(current) if day > current => {
                self.mixes.insert(current, self.mix);
                self.current_day = Some(day);
            }
            None => self.current_day = Some(day),
            Some(_) => {}
        }
        self.day(day);
        let entries_before = self.projection.entries.len();
        let outcome = self.projection.apply(record);
        if let Some(transition) = BreakerTransition::from_event_type(record.event_type) {
            self.breaker(record, transition);
        }
        let Some((index, Outcome::Applied)) = outcome else {
            return;
        };
        let entry = &self.projection.entries[index];
        let new_slot = slot(&entry.status, entry.purged);
        let created_day = day_of(entry.created_at);
        let status = entry.status.clone();
        let created = self.projection.entries.len() > entries_before;
        if created {
            self.slots.push(u8::MAX);
            self.day(created_day).created += 1;
        }
        let old_slot = match self.slots[index] {
            u8::MAX => None,
            old => Some(old as usize),
        };
        if let Some(old) = old_slot {
            self.mix[old] -= 1;
        }
        if let Some(new) = new_slot {
            self.mix[new] += 1;
        }
        self.slots[index] = new_slot.map_or(u8::MAX, |s| {
            u8::try_from(s).expect("a status slot is below STATUS_SLOTS, a handful")
        });
        if old_slot != new_slot && !created {
            let row = self.day(day);
            match status {
                Status::Resolved => row.resolved += 1,
                Status::Rejected => row.rejected += 1,
                Status::Expired => row.expired += 1,
                _ => {}
            }
        }
        if let Some(kind) = LifecycleKind::from_event_type(record.event_type) {
            let row = self.day(day);
            match kind {
                LifecycleKind::ReplayStart | LifecycleKind::ForceRedrive => {
                    row.replays_started += 1
                }
                LifecycleKind::ReplaySuccess => row.replays_succeeded += 1,
                LifecycleKind::ReplayFailed if status == Status::RequiresReview => {
                    row.replays_failed_at_cap += 1
                }
                LifecycleKind::ReplayFailed => row.replays_failed_retrying += 1,
                _ => {}
            }
        }
    }

    /// Notes a breaker's change, under the name the fold gives it.
    fn breaker(&mut self, record: &Record<'_>, transition: BreakerTransition) {
        let parsed: Option<BreakerWire<'_>> = if record.service_name.is_empty() {
            wire::parse(record.context).ok()
        } else {
            None
        };
        let name = if !record.service_name.is_empty() {
            record.service_name
        } else {
            match &parsed {
                Some(w) => non_empty(&w.service_name).unwrap_or(super::state::UNKNOWN),
                // The fold counted it malformed: no state change.
                None => return,
            }
        };
        let change = BreakerChange {
            at: record.timestamp,
            state: transition.state(),
        };
        if let Some(history) = self.breakers.get_mut(name) {
            if history.changes.len() < BREAKER_CHANGES_MAX {
                history.changes.push(change);
            } else {
                history.changes_dropped += 1;
            }
            return;
        }
        if self.breakers.len() >= BREAKERS_MAX {
            self.breakers_dropped += 1;
            return;
        }
        self.breakers.insert(
            name.into(),
            BreakerHistory {
                service_name: name.to_string(),
                changes: vec![change],
                changes_dropped: 0,
            },
        );
    }

    fn finish(mut self, days_max: usize) -> (Timeline, Projection) {
        if let Some(current) = self.current_day {
            self.mixes.insert(current, self.mix);
        }
        // Every day from the first to the last, the empty ones carrying
        // the mix of the day before.
        let mut days = Vec::new();
        if let (Some((&first, _)), Some((&last, _))) =
            (self.days.first_key_value(), self.days.last_key_value())
        {
            let first = first.max(last.saturating_sub(days_max as i64 - 1));
            let mut carried = self
                .mixes
                .range(..first)
                .next_back()
                .map(|(_, mix)| *mix)
                .unwrap_or_default();
            for day in first..=last {
                let mut row = self.days.remove(&day).unwrap_or_default();
                row.statuses = self.mixes.get(&day).copied().unwrap_or(carried);
                carried = row.statuses;
                row.start = Timestamp::from_unix_nanos(day.saturating_mul(DAY_NS));
                days.push(row);
            }
        }
        let mut breakers: Vec<BreakerHistory> = self.breakers.into_values().collect();
        breakers.sort_by(|a, b| a.service_name.cmp(&b.service_name));
        let mut waiting: Vec<WaitingEntry> = self
            .projection
            .live()
            .filter(|entry| DEFAULT_SLA_STATUSES.contains(&entry.status.as_str()))
            .map(|entry| WaitingEntry {
                id: entry.id.to_string(),
                domain: entry.domain.to_string(),
                failure_type: entry.failure_type.to_string(),
                status: entry.status.as_str().to_string(),
                retry_count: entry.retry_count,
                created_at: entry.created_at,
                updated_at: entry.updated_at,
            })
            .collect();
        waiting.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let timeline = Timeline {
            days,
            breakers,
            breakers_dropped: self.breakers_dropped,
            waiting,
            summary: self.projection.summary,
            event_times: self.event_times,
        };
        (timeline, self.projection)
    }
}

/// Collects the timeline of `journal` in one pass over the records
/// `options` selects, keeping at most `days_max` days (the latest).
pub(crate) fn collect<J: EventJournal + ?Sized>(
    journal: &J,
    options: &TimelineOptions,
    days_max: usize,
) -> Result<(Timeline, Projection)> {
    assert!(days_max > 0, "a timeline keeps at least one day");
    let mut collector = Collector::default();
    let keep = |record: &EntryRef<'_>| {
        options
            .appended_until
            .is_none_or(|time| record.appended_at <= time)
    };
    let mut visit = |record: &EntryRef<'_>| {
        if keep(record) {
            collector.visit(&Record::of_ref(record));
        }
        Ok(())
    };
    match options.last_sequence {
        Some(last) => match last.checked_add(1) {
            Some(end) => journal.for_each_ref(1, end, &mut visit)?,
            None => journal.for_each_ref_from(1, &mut visit)?,
        },
        None => journal.for_each_ref_from(1, &mut visit)?,
    }
    Ok(collector.finish(days_max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::MemoryJournal;
    use crate::projection::events::{BreakerEvent, LifecycleEvent, StoreEvent};

    fn at(day: i64, hour: i64) -> Timestamp {
        Timestamp::from_unix_nanos(20_000 * DAY_NS + day * DAY_NS + hour * 3_600_000_000_000)
    }

    #[test]
    fn days_count_what_happened_and_end_with_the_status_mix() {
        let journal = MemoryJournal::new();
        let events = vec![
            StoreEvent::new("a", "payments", "timeout").to_entry(at(0, 1)),
            StoreEvent::new("b", "orders", "timeout").to_entry(at(0, 2)),
            LifecycleEvent::new(LifecycleKind::ReplayStart, "a").to_entry(at(0, 3)),
            LifecycleEvent::new(LifecycleKind::ReplaySuccess, "a").to_entry(at(0, 4)),
            // Day 1: nothing. Day 2: b rejected, c stored.
            LifecycleEvent::new(LifecycleKind::Reject, "b").to_entry(at(2, 1)),
            StoreEvent::new("c", "orders", "auth_expired").to_entry(at(2, 5)),
            BreakerEvent::new(BreakerTransition::Opened, "payments").to_entry(at(2, 6)),
            BreakerEvent::new(BreakerTransition::Closed, "payments").to_entry(at(2, 7)),
        ];
        journal.append_batch(&events).unwrap();
        let (timeline, fold) = collect(&journal, &TimelineOptions::default(), 100).unwrap();
        assert_eq!(timeline.days.len(), 3);
        let [d0, d1, d2] = [&timeline.days[0], &timeline.days[1], &timeline.days[2]];
        assert_eq!(d0.start, at(0, 0));
        assert_eq!((d0.created, d0.resolved, d0.rejected), (2, 1, 0));
        assert_eq!((d0.replays_started, d0.replays_succeeded), (1, 1));
        let names = status_slot_names();
        let count = |row: &DayRow, status: &str| {
            row.statuses[names.iter().position(|n| *n == status).unwrap()]
        };
        assert_eq!(count(d0, "pending"), 1);
        assert_eq!(count(d0, "resolved"), 1);
        assert_eq!(d1.statuses, d0.statuses, "an empty day carries the mix");
        assert_eq!((d2.created, d2.rejected), (1, 1));
        assert_eq!(count(d2, "pending"), 1);
        assert_eq!(count(d2, "rejected"), 1);
        assert_eq!(timeline.breakers.len(), 1);
        let states: Vec<&str> = timeline.breakers[0]
            .changes
            .iter()
            .map(|c| c.state)
            .collect();
        assert_eq!(states, ["open", "closed"]);
        assert_eq!(timeline.waiting.len(), 1);
        assert_eq!(timeline.waiting[0].id, "c");
        let matrix = failure_types_by_domain(&fold, None, None);
        assert_eq!(matrix.len(), 3);
        let since = failure_types_by_domain(&fold, Some(at(1, 0)), None);
        assert_eq!(since.len(), 1);
        assert_eq!(since[0].failure_type, "auth_expired");
    }

    #[test]
    fn the_mix_of_each_day_is_the_mix_an_as_of_fold_gives() {
        let journal = MemoryJournal::new();
        let mut events = Vec::new();
        for n in 0..40 {
            let id = format!("e{n}");
            events.push(StoreEvent::new(&id, "d", "t").to_entry(at(n / 10, n % 10)));
            if n % 3 == 0 {
                events.push(
                    LifecycleEvent::new(LifecycleKind::Resolve, &id).to_entry(at(n / 10, 11)),
                );
            }
        }
        events.sort_by_key(|e| e.timestamp);
        let sequences = journal.append_batch(&events).unwrap();
        let (timeline, _) = collect(&journal, &TimelineOptions::default(), 100).unwrap();
        assert_eq!(timeline.days.len(), 4);
        for (day, row) in timeline.days.iter().enumerate() {
            // The last record of the day, by event time.
            let end = at(day as i64 + 1, 0);
            let last = events
                .iter()
                .zip(&sequences)
                .filter(|(e, _)| e.timestamp < end)
                .map(|(_, s)| *s)
                .max()
                .unwrap();
            let options = TimelineOptions {
                last_sequence: Some(last),
                ..Default::default()
            };
            let (as_of, _) = collect(&journal, &options, 100).unwrap();
            assert_eq!(
                row.statuses,
                as_of.days.last().unwrap().statuses,
                "day {day}"
            );
        }
    }

    #[test]
    fn only_the_latest_days_max_days_are_kept() {
        let journal = MemoryJournal::new();
        let events: Vec<_> = (0..10)
            .map(|n| StoreEvent::new(format!("e{n}"), "d", "t").to_entry(at(n, 0)))
            .collect();
        journal.append_batch(&events).unwrap();
        let (timeline, _) = collect(&journal, &TimelineOptions::default(), 4).unwrap();
        assert_eq!(timeline.days.len(), 4);
        assert_eq!(timeline.days[0].start, at(6, 0));
        let total: u64 = timeline.days[0].statuses.iter().sum();
        assert_eq!(total, 7, "the first day kept carries the entries before it");
    }
}
