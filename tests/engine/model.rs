//! Model-based test: random sequences of operations applied to a
//! `DiskJournal` with 64 KiB segments (so segments roll, and reopen recovers
//! sealed segments and an active one) and to a `MemoryJournal`, the model.
//! Every answer must be the same: sequences, stored entries (append times
//! aside), `truncated`, `total_count`, counts, latest sequences and errors.

use baldur_test_support::common;

use std::collections::BTreeMap;
use std::path::Path;

use baldur_journal::{
    DiskJournal, Durability, Error, EventJournal, JournalEntry, JournalQueryFilter, MemoryJournal,
    Timestamp,
};
use common::{entry, strip};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The event types `common::entry` uses, plus one it never does.
const TYPES: [&str; 5] = [
    "dlq_store",
    "circuit_breaker_opened",
    "dlq_resolve",
    "error_budget_critical",
    "never_used",
];
/// The services `common::entry` uses, plus one it never does.
const SERVICES: [&str; 4] = ["payments", "orders", "", "inventory"];
/// The regions `common::entry` uses, plus one it never does.
const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "", "ap-south-1"];
/// `common::entry`'s timestamps are `T0 + (i % 97) * STEP`.
const T0: i64 = 1_700_000_000_000_000_000;
const STEP: i64 = 1_000_000_007;
const HUGE_JUMP: u64 = u32::MAX as u64 + 1;

/// A range bound, resolved against the journal's state when it runs.
#[derive(Clone, Debug)]
enum Bound {
    Zero,
    Max,
    /// `latest + offset`.
    Latest(i8),
    /// An existing sequence (picked by index) plus an offset.
    Existing(usize, i8),
    Raw(u64),
}

/// The parts of a filter, resolved when it runs.
#[derive(Clone, Debug)]
struct FilterSpec {
    /// Indexes into `TYPES`; `Some(vec![])` matches nothing.
    types: Option<Vec<usize>>,
    service: Option<usize>,
    region: Option<usize>,
    /// `(k, delta)`: `T0 + k * STEP + delta`.
    start: Option<(i64, i64)>,
    end: Option<(i64, i64)>,
    /// `(key is "ok", value)`.
    context: Option<(bool, usize)>,
    limit: usize,
}

#[derive(Clone, Debug)]
enum AppendAt {
    /// `latest + gap`, gap >= 1.
    Gap(u64),
    /// `latest + u32::MAX + 1 + extra`.
    Huge(u64),
    /// `latest - back % latest` (in `1..=latest`): must fail.
    Back(u64),
    /// Sequence 0: must fail.
    Zero,
}

#[derive(Clone, Debug)]
enum Op {
    Append(u64),
    Batch(Vec<u64>),
    /// A batch of `common::entry(first..first + n)`, to fill segments fast.
    Bulk(u64, u64),
    AppendAt(AppendAt, u64),
    Query(FilterSpec),
    Count(FilterSpec),
    Range(Bound, Bound),
    Stream(Bound, Bound),
    /// Check a long-lived read-only handle, which follows the writer
    /// across its restarts.
    Follow,
    Reopen,
}

fn bound() -> impl Strategy<Value = Bound> {
    prop_oneof![
        1 => Just(Bound::Zero),
        1 => Just(Bound::Max),
        2 => (-3i8..=3).prop_map(Bound::Latest),
        5 => (any::<usize>(), -2i8..=2).prop_map(|(i, d)| Bound::Existing(i, d)),
        1 => any::<u64>().prop_map(Bound::Raw),
    ]
}

fn window_point() -> impl Strategy<Value = (i64, i64)> {
    (-2i64..100, prop_oneof![Just(-1i64), Just(0), Just(1)])
}

fn filter_spec() -> impl Strategy<Value = FilterSpec> {
    (
        proptest::option::weighted(0.5, proptest::collection::vec(0usize..TYPES.len(), 0..4)),
        proptest::option::weighted(0.3, 0usize..SERVICES.len()),
        proptest::option::weighted(0.3, 0usize..REGIONS.len()),
        proptest::option::weighted(0.3, window_point()),
        proptest::option::weighted(0.3, window_point()),
        proptest::option::weighted(0.3, (any::<bool>(), 0usize..7)),
        0usize..50,
    )
        .prop_map(
            |(types, service, region, start, end, context, limit)| FilterSpec {
                types,
                service,
                region,
                start,
                end,
                context,
                limit,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    let index = 0u64..10_000;
    prop_oneof![
        20 => index.clone().prop_map(Op::Append),
        8 => proptest::collection::vec(index.clone(), 1..20).prop_map(Op::Batch),
        2 => (index.clone(), 50u64..400).prop_map(|(first, n)| Op::Bulk(first, n)),
        6 => (1u64..1000, index.clone()).prop_map(|(g, i)| Op::AppendAt(AppendAt::Gap(g), i)),
        1 => (0u64..1000, index.clone()).prop_map(|(x, i)| Op::AppendAt(AppendAt::Huge(x), i)),
        2 => (any::<u64>(), index.clone()).prop_map(|(b, i)| Op::AppendAt(AppendAt::Back(b), i)),
        1 => index.prop_map(|i| Op::AppendAt(AppendAt::Zero, i)),
        12 => filter_spec().prop_map(Op::Query),
        6 => filter_spec().prop_map(Op::Count),
        8 => (bound(), bound()).prop_map(|(s, e)| Op::Range(s, e)),
        2 => (bound(), bound()).prop_map(|(s, e)| Op::Stream(s, e)),
        2 => Just(Op::Follow),
        3 => Just(Op::Reopen),
    ]
}

fn time_point((k, delta): (i64, i64)) -> Timestamp {
    Timestamp::from_unix_nanos(T0 + k * STEP + delta)
}

fn resolve_filter(spec: &FilterSpec) -> JournalQueryFilter {
    let context = spec.context.map(|(is_ok, v)| {
        let (key, value) = if is_ok {
            ("ok", ["True", "False", "true", "None"][v % 4])
        } else {
            ("attempt", ["0", "1", "2", "3", "4", "5", "None"][v])
        };
        BTreeMap::from([(key.to_string(), value.to_string())])
    });
    JournalQueryFilter {
        event_types: spec
            .types
            .as_ref()
            .map(|t| t.iter().map(|&i| TYPES[i].to_string()).collect()),
        service_name: spec.service.map(|i| SERVICES[i].to_string()),
        start_time: spec.start.map(time_point),
        end_time: spec.end.map(time_point),
        region: spec.region.map(|i| REGIONS[i].to_string()),
        limit: spec.limit,
        context_filters: context,
    }
}

fn offset(base: u64, delta: i8) -> u64 {
    u64::try_from((i128::from(base) + i128::from(delta)).clamp(0, i128::from(u64::MAX))).unwrap()
}

fn resolve_bound(b: &Bound, latest: u64, sequences: &[u64]) -> u64 {
    match *b {
        Bound::Zero => 0,
        Bound::Max => u64::MAX,
        Bound::Latest(d) => offset(latest, d),
        Bound::Existing(i, d) if !sequences.is_empty() => offset(sequences[i % sequences.len()], d),
        Bound::Existing(_, d) => offset(1, d),
        Bound::Raw(x) => x,
    }
}

fn open_disk(dir: &Path) -> DiskJournal {
    DiskJournal::builder(dir)
        .segment_bytes(64 << 10)
        .durability(Durability::Os)
        .open()
        .expect("open the disk journal")
}

fn stripped(entries: Vec<JournalEntry>) -> Vec<JournalEntry> {
    entries.into_iter().map(strip).collect()
}

/// Runs `ops` against both journals, panicking on the first difference.
/// Returns how many segment files the disk journal ended with.
fn run(ops: &[Op]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut disk = open_disk(dir.path());
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    let memory = MemoryJournal::new();
    // The model's sequences, ascending.
    let mut sequences: Vec<u64> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let latest = memory.get_latest_sequence().unwrap();
        let at = || format!("step {step}: {op:?}");
        match op {
            Op::Append(i) => {
                let want = memory.append(&entry(*i)).unwrap();
                let got = disk
                    .append(&entry(*i))
                    .unwrap_or_else(|e| panic!("{}: {e}", at()));
                assert_eq!(got, want, "{}", at());
                sequences.push(want);
            }
            Op::Batch(_) | Op::Bulk(..) => {
                let batch: Vec<JournalEntry> = match op {
                    Op::Batch(indexes) => indexes.iter().map(|&i| entry(i)).collect(),
                    Op::Bulk(first, n) => (*first..first + n).map(entry).collect(),
                    _ => unreachable!(),
                };
                let want = memory.append_batch(&batch).unwrap();
                let got = disk
                    .append_batch(&batch)
                    .unwrap_or_else(|e| panic!("{}: {e}", at()));
                assert_eq!(got, want, "{}", at());
                sequences.extend(want);
            }
            Op::AppendAt(kind, i) => {
                let sequence = match *kind {
                    AppendAt::Gap(g) => latest + g,
                    AppendAt::Huge(x) => latest + HUGE_JUMP + x,
                    AppendAt::Back(b) if latest > 0 => latest - b % latest,
                    AppendAt::Back(_) | AppendAt::Zero => 0,
                };
                let want = memory.append_at(sequence, &entry(*i));
                let got = disk.append_at(sequence, &entry(*i));
                match (&want, &got) {
                    (Ok(()), Ok(())) => sequences.push(sequence),
                    // Sequence 0 is checked separately (see
                    // `append_at_zero_reports_the_real_latest`).
                    (Err(Error::NonMonotonic { .. }), Err(Error::NonMonotonic { .. }))
                        if sequence == 0 => {}
                    (
                        Err(Error::NonMonotonic {
                            sequence: ws,
                            latest: wl,
                        }),
                        Err(Error::NonMonotonic {
                            sequence: gs,
                            latest: gl,
                        }),
                    ) => {
                        assert_eq!((gs, gl), (ws, wl), "{}", at());
                        assert_eq!((*ws, *wl), (sequence, latest), "{}", at());
                    }
                    _ => panic!("{}: memory {want:?}, disk {got:?}", at()),
                }
                if sequence <= latest {
                    assert!(
                        want.is_err(),
                        "{}: a non-increasing sequence was taken",
                        at()
                    );
                }
            }
            Op::Query(spec) => {
                let filter = resolve_filter(spec);
                let want = memory.query(&filter).unwrap();
                let got = disk
                    .query(&filter)
                    .unwrap_or_else(|e| panic!("{}: {e}", at()));
                assert!(
                    got.entries.iter().all(|e| e.appended_at.is_some()),
                    "{}: an entry read back without its append time",
                    at()
                );
                assert_eq!(got.total_count, want.total_count, "{}", at());
                assert_eq!(got.truncated, want.truncated, "{}", at());
                assert_eq!(stripped(got.entries), stripped(want.entries), "{}", at());
            }
            Op::Count(spec) => {
                let filter = resolve_filter(spec);
                let want = memory.count(&filter).unwrap();
                let got = disk
                    .count(&filter)
                    .unwrap_or_else(|e| panic!("{}: {e}", at()));
                assert_eq!(got, want, "{}: count of {filter:?}", at());
            }
            Op::Range(s, e) | Op::Stream(s, e) => {
                let start = resolve_bound(s, latest, &sequences);
                let end = resolve_bound(e, latest, &sequences);
                let want = memory.get_sequence_range(start, end).unwrap();
                let got = match op {
                    Op::Range(..) => disk.get_sequence_range(start, end),
                    _ => disk.range_iter(start, end).and_then(|it| it.collect()),
                }
                .unwrap_or_else(|err| panic!("{}: [{start}, {end}): {err}", at()));
                assert_eq!(stripped(got), stripped(want), "{}: [{start}, {end})", at());
            }
            Op::Follow => {
                let want = stripped(memory.get_sequence_range(0, u64::MAX).unwrap());
                assert_eq!(
                    reader.get_latest_sequence().unwrap(),
                    latest,
                    "{}: the reader's latest",
                    at()
                );
                let got = reader
                    .get_sequence_range(0, u64::MAX)
                    .unwrap_or_else(|e| panic!("{}: reader: {e}", at()));
                assert_eq!(stripped(got), want, "{}: the reader's entries", at());
                assert_eq!(
                    reader.count(&JournalQueryFilter::default()).unwrap(),
                    want.len() as u64,
                    "{}: the reader's count",
                    at()
                );
            }
            Op::Reopen => {
                let before = disk.get_sequence_range(0, u64::MAX).unwrap();
                disk.close()
                    .unwrap_or_else(|e| panic!("{}: close: {e}", at()));
                drop(disk);
                disk = open_disk(dir.path());
                let report = disk.recovery_report();
                assert!(
                    report.torn_tail.is_none() && report.corruption.is_none(),
                    "{}: a clean close left damage: {report:?}",
                    at()
                );
                // Exactly what was there, append times included.
                let after = disk.get_sequence_range(0, u64::MAX).unwrap();
                assert_eq!(after, before, "{}: reopen changed the entries", at());
            }
        }
        assert_eq!(
            disk.get_latest_sequence().unwrap(),
            memory.get_latest_sequence().unwrap(),
            "{}: latest",
            at()
        );
    }
    let everything = disk.get_sequence_range(0, u64::MAX).unwrap();
    assert_eq!(
        everything.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        sequences,
        "final sequences"
    );
    assert_eq!(
        stripped(everything),
        stripped(memory.get_sequence_range(0, u64::MAX).unwrap()),
        "final entries"
    );
    assert_eq!(
        disk.count(&JournalQueryFilter::default()).unwrap(),
        sequences.len() as u64
    );
    disk.close().unwrap();
    std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count()
}

fn config() -> Config {
    Config {
        cases: 24,
        // Failures are reported by the panic; nothing is written next to
        // the sources.
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    }
}

#[test]
fn disk_journal_agrees_with_the_memory_model() {
    let mut runner = TestRunner::new(config());
    let rolled = AtomicUsize::new(0);
    let result = runner.run(&proptest::collection::vec(op(), 1..120), |ops| {
        if run(&ops) > 1 {
            rolled.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator must keep producing cases that roll segments, or the
    // comparison says nothing about sealed segments.
    let rolled = rolled.into_inner();
    assert!(rolled >= 3, "only {rolled} of 24 cases rolled a segment");
}

/// A fixed scenario through the same runner, so the interesting paths
/// (rolls, a jump past u32::MAX, reopen after both) run on every build
/// whatever the random cases pick.
#[test]
fn fixed_scenario_with_rolls_jumps_and_reopens() {
    let mut ops = Vec::new();
    for chunk in 0..40u64 {
        ops.push(Op::Batch((chunk * 19..chunk * 19 + 19).collect()));
    }
    ops.push(Op::Follow);
    ops.push(Op::Reopen);
    ops.push(Op::Follow);
    ops.push(Op::AppendAt(AppendAt::Huge(7), 1));
    ops.push(Op::Append(2));
    ops.push(Op::AppendAt(AppendAt::Back(0), 3));
    for i in 0..400 {
        ops.push(Op::Append(i));
    }
    ops.push(Op::Range(Bound::Existing(700, 0), Bound::Latest(-5)));
    ops.push(Op::Reopen);
    ops.push(Op::AppendAt(AppendAt::Gap(3), 4));
    let all = FilterSpec {
        types: None,
        service: None,
        region: None,
        start: None,
        end: None,
        context: None,
        limit: 49,
    };
    ops.push(Op::Query(all.clone()));
    ops.push(Op::Count(FilterSpec {
        types: Some(vec![0, 2]),
        ..all.clone()
    }));
    ops.push(Op::Count(FilterSpec {
        context: Some((true, 0)),
        start: Some((10, 0)),
        end: Some((60, 0)),
        ..all.clone()
    }));
    ops.push(Op::Query(FilterSpec {
        service: Some(1),
        region: Some(1),
        context: Some((false, 3)),
        ..all
    }));
    ops.push(Op::Stream(Bound::Zero, Bound::Max));
    ops.push(Op::Follow);
    assert!(run(&ops) > 2, "the fixed scenario must roll segments");
}

/// `append_at(0, ..)` must fail with the journal's real latest sequence,
/// as every other non-increasing sequence does.
#[test]
fn append_at_zero_reports_the_real_latest() {
    let dir = tempfile::tempdir().unwrap();
    let disk = open_disk(dir.path());
    let memory = MemoryJournal::new();
    let journals: [(&str, &dyn EventJournal); 2] = [("memory", &memory), ("disk", &disk)];
    for (name, j) in journals {
        j.append_batch(&[entry(1), entry(2), entry(3)]).unwrap();
        match j.append_at(0, &entry(4)) {
            Err(Error::NonMonotonic { sequence, latest }) => {
                assert_eq!((sequence, latest), (0, 3), "{name}");
            }
            other => panic!("{name}: expected NonMonotonic, got {other:?}"),
        }
        let message = j.append_at(0, &entry(4)).unwrap_err().to_string();
        assert!(message.contains("latest sequence 3"), "{name}: {message}");
        assert_eq!(j.get_latest_sequence().unwrap(), 3, "{name}");
    }
}
