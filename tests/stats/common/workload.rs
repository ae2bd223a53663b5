//! Random workloads run against the statistics and the model side by side.

use std::sync::Arc;

use baldur_journal::EventJournal;
use baldur_journal::projection::events::DLQ_ENTRY_ENTITY_TYPE;
use baldur_journal::projection::{
    AuditLink, JournalStatistics, ManualClock, PurgeSelection, StatisticsRepository,
};

use super::{DAY, Ev, HOUR, MINUTE, Model, Rng, Snapshot, Stamp, T0, check_reads, ts};

/// One step of a workload.
#[derive(Clone, Debug)]
pub enum Op {
    /// Append an event directly (as a DLQ runtime would), appended
    /// `skew` minutes after its event time, `gap` sequences after the last.
    Event {
        ev: Ev,
        skew: i64,
        gap: u64,
    },
    /// Move the clock forward by this many minutes.
    Advance(i64),
    ArchiveOld(u32),
    Purge {
        ids: Option<Vec<String>>,
        days: Option<u32>,
    },
    PersistEntry(Snapshot),
    Sync(Vec<Snapshot>),
    LinkAudit(AuditLink),
    /// Compare every read with the model, now.
    Check,
}

/// One folded event of the log: its sequence, append time, event time.
#[derive(Clone, Debug)]
pub struct Logged {
    pub seq: u64,
    pub appended: i64,
    pub at: i64,
    pub ev: Ev,
    /// The chain fields of an event the statistics wrote (chaining is on by
    /// default); none for an event appended straight to the journal.
    pub chain: Option<Stamp>,
}

/// The model of the records `keep` accepts.
pub fn model_of(log: &[Logged], keep: impl Fn(&Logged) -> bool) -> Model {
    let mut model = Model::default();
    for logged in log.iter().filter(|l| keep(l)) {
        model.apply_chained(&logged.ev, logged.at, logged.seq, logged.chain.as_ref());
    }
    model
}

/// Runs `ops` against statistics over `journal` and the model, checking
/// every write's answer, then every read now, as of random sequences and as
/// of random times.
pub fn run_workload(journal: Arc<dyn EventJournal>, ops: &[Op], seed: u64) {
    let mut rng = Rng(seed);
    let clock = ManualClock::new(ts(T0));
    let stats = JournalStatistics::builder(journal.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut log: Vec<Logged> = Vec::new();
    let now = || clock.now().as_unix_nanos();

    // Appends the events a write is expected to append and logs them with
    // their read-back append times and the chain fields the model expects
    // (each after the entity's last chained event, earlier ones of the
    // same write included), checked against the records.
    let expect_appended = |log: &mut Vec<Logged>, before: u64, expected: Vec<Ev>, at: i64| {
        let mut running = model_of(log, |_| true);
        let records = journal.get_sequence_range(before + 1, u64::MAX).unwrap();
        assert_eq!(
            records.len(),
            expected.len(),
            "events appended by the write: {records:?} vs {expected:?}"
        );
        for (record, ev) in records.into_iter().zip(expected) {
            assert_eq!(record.event_type, ev.to_entry(at).event_type);
            assert_eq!(record.timestamp, ts(at));
            assert_eq!(record.source, baldur_journal::projection::STATISTICS_SOURCE);
            let chain = running.chain_stamp(&ev, at);
            let context: serde_json::Value = serde_json::from_str(record.context.as_str()).unwrap();
            let field = |key: &str| context.get(key).and_then(|v| v.as_str()).map(String::from);
            assert_eq!(
                (field("previous_hash"), field("hash_chain")),
                (
                    chain.as_ref().and_then(|c| c.previous.clone()),
                    chain.as_ref().map(|c| c.hash.clone())
                ),
                "the chain fields of {record:?}"
            );
            assert_eq!(field("hash_key_id"), None);
            running.apply_chained(&ev, at, record.sequence, chain.as_ref());
            log.push(Logged {
                seq: record.sequence,
                appended: record.appended_at.unwrap().as_unix_nanos(),
                at,
                ev,
                chain,
            });
        }
    };

    for op in ops {
        let model = model_of(&log, |_| true);
        let before = journal.get_latest_sequence().unwrap();
        let at = now();
        match op {
            Op::Event { ev, skew, gap } => {
                let mut entry = ev.to_entry(at);
                let appended = at + skew * MINUTE;
                entry.appended_at = Some(ts(appended));
                let seq = before + 1 + gap;
                journal.append_at(seq, &entry).unwrap();
                log.push(Logged {
                    seq,
                    appended,
                    at,
                    ev: ev.clone(),
                    chain: None,
                });
            }
            Op::Advance(minutes) => clock.advance(std::time::Duration::from_secs(
                u64::try_from(*minutes).unwrap() * 60,
            )),
            Op::ArchiveOld(days) => {
                let ids = model.archive_ids(at, *days);
                assert_eq!(
                    stats.archive_old_entries(*days).unwrap(),
                    ids.len() as u64,
                    "archive_old_entries({days})"
                );
                let details = Some(format!("resolved more than {days} days ago"));
                let expected = ids
                    .into_iter()
                    .map(|id| Ev::Archive {
                        id,
                        details: details.clone(),
                    })
                    .collect();
                expect_appended(&mut log, before, expected, at);
            }
            Op::Purge { ids, days } => {
                let selection = match PurgeSelection::from_options(ids.clone(), *days) {
                    Ok(selection) => selection,
                    Err(_) => {
                        assert!(ids.as_ref().is_none_or(|i| i.is_empty()) && days.is_none());
                        continue;
                    }
                };
                let ids = ids.as_deref().filter(|i| !i.is_empty());
                let purged = model.purge_ids(at, ids, *days);
                assert_eq!(
                    stats.purge_archived(&selection).unwrap(),
                    purged.len() as u64,
                    "purge {selection:?}"
                );
                expect_appended(
                    &mut log,
                    before,
                    purged.into_iter().map(|id| Ev::Purge { id }).collect(),
                    at,
                );
            }
            Op::PersistEntry(snapshot) => {
                let id = stats.persist_entry(&snapshot.to_map(at)).unwrap();
                assert_eq!(id.as_deref(), Some(snapshot.id.as_str()));
                expect_appended(&mut log, before, vec![Ev::Persist(snapshot.clone())], at);
            }
            Op::Sync(snapshots) => {
                let maps: Vec<_> = snapshots.iter().map(|s| s.to_map(at)).collect();
                assert_eq!(
                    stats.sync_from_runtime(&maps).unwrap(),
                    snapshots.len() as u64
                );
                expect_appended(
                    &mut log,
                    before,
                    snapshots.iter().cloned().map(Ev::Persist).collect(),
                    at,
                );
            }
            Op::LinkAudit(link) => {
                let linkable = link.entity_type == DLQ_ENTRY_ENTITY_TYPE
                    && model.find(&link.entity_id).is_some_and(|e| !e.purged);
                assert_eq!(
                    stats.link_audit_entry(link).unwrap(),
                    linkable,
                    "link {link:?}"
                );
                let expected = if linkable {
                    vec![Ev::Link(link.clone())]
                } else {
                    vec![]
                };
                expect_appended(&mut log, before, expected, at);
            }
            Op::Check => check_reads(&stats, &model, at, &mut rng, "live, during the workload"),
        }
    }

    // Reads now, at random "now"s (the clock is only read from here on):
    // anywhere, and exactly one window after a logged event time, where a
    // `<` against a `<=` shows.
    let end = now();
    let full = model_of(&log, |_| true);
    let windows = [
        0,
        HOUR,
        4 * HOUR,
        24 * HOUR,
        7 * DAY,
        14 * DAY,
        30 * DAY,
        90 * DAY,
    ];
    for round in 0..4 {
        let when = if round == 0 || log.is_empty() {
            T0 - DAY
                + rng.below(u64::try_from((end - T0) / MINUTE + 130 * 24 * 60).unwrap()) as i64
                    * MINUTE
        } else {
            rng.pick(&log).at + rng.pick(&windows)
        };
        clock.set(ts(when));
        check_reads(&stats, &full, when, &mut rng, "live");
    }

    // As of random sequences, at random "now"s.
    let latest = journal.get_latest_sequence().unwrap();
    for _ in 0..3 {
        let sequence = rng.below(latest + 2);
        let minutes = u64::try_from((end - T0) / MINUTE + 100 * 24 * 60).unwrap();
        let when = T0 + rng.below(minutes) as i64 * MINUTE;
        let view = stats.as_of_sequence(sequence).unwrap().with_now(ts(when));
        let model = model_of(&log, |l| l.seq <= sequence);
        check_reads(
            &view,
            &model,
            when,
            &mut rng,
            &format!("as of sequence {sequence}"),
        );
    }

    // As of random times: the append times of the log, and just before them.
    if !log.is_empty() {
        for _ in 0..3 {
            let logged = rng.pick(&log).clone();
            let time = logged.appended - i64::from(rng.below(2) == 0);
            let view = stats.as_of_time(ts(time)).unwrap();
            assert_eq!(view.now(), ts(time));
            let model = model_of(&log, |l| l.appended <= time);
            check_reads(
                &view,
                &model,
                time,
                &mut rng,
                &format!("as of time {}", ts(time)),
            );
        }
    }
}
