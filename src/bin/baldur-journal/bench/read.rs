//! `bench replay`, `bench query` and `bench open`: the read side over a
//! journal of the asked size.

use super::*;

fn build_records(scratch: &Scratch, bench: &ReadBench) -> Result<DiskJournal> {
    let bytes = bench.record.record_bytes;
    record(0, bytes)?;
    build(&scratch.journal_dir(), bench.events, |i| record(i, bytes))
}

pub fn bench_replay(scratch: &Scratch, bench: &ReadBench) -> Result<Report> {
    let journal = build_records(scratch, bench)?;
    let borrowed = || -> Result<()> {
        let mut range = journal.range_ref(1, u64::MAX)?;
        let mut seen = 0;
        while let Some(record) = range.next_entry() {
            record?;
            seen += 1;
        }
        check_seen(seen, bench.events)
    };
    let owned = || -> Result<()> {
        let mut seen = 0;
        for entry in journal.range_iter(1, u64::MAX)? {
            entry?;
            seen += 1;
        }
        check_seen(seen, bench.events)
    };
    borrowed()?; // warm
    let seconds = median_time(3, borrowed)?;
    let owned_seconds = median_time(3, owned)?;
    journal.close()?;

    let bytes = bench.events * bench.record.record_bytes;
    let mut report = Report::new("replay", bench.events, bytes, seconds);
    report.set("record_bytes", bench.record.record_bytes);
    report.set("owned_seconds", owned_seconds);
    report.set(
        "owned_events_per_s",
        bench.events as f64 / owned_seconds.max(1e-9),
    );
    report.line(format!(
        "bench replay: a journal of {} records of {} bytes, from the page cache (median of 3)",
        bench.events, bench.record.record_bytes
    ));
    report.rate_line("borrowed (range_ref, every CRC checked)");
    report.line(format!(
        "owned (range_iter, JournalEntry): {:.3} s = {} events/s",
        owned_seconds,
        rate(bench.events as f64 / owned_seconds.max(1e-9))
    ));
    Ok(report)
}

/// One `bench query` filter: the journal's filter, what it means, and how
/// many of records `0..n` it matches.
pub struct QueryCase {
    pub kind: QueryKind,
    pub filter: JournalQueryFilter,
    /// Conditions beyond the filter (the append-time window).
    pub options: QueryOptions,
    pub what: String,
    /// Whether record `i` matches.
    pub matches: fn(u64, u64) -> bool,
}

/// The window's first millisecond: the middle of the journal.
pub fn window_start(n: u64) -> u64 {
    n / 2
}

/// The window's length in milliseconds (records).
pub const WINDOW_MS: u64 = 2_000;

/// The context value `bench query --filter context` looks for.
pub const CONTEXT_ENTRY: u64 = 1_700;

impl QueryCase {
    pub fn new(kind: QueryKind, n: u64) -> Self {
        let mut filter = JournalQueryFilter {
            limit: 1000,
            ..Default::default()
        };
        let mut options = QueryOptions::default();
        let (what, matches): (String, fn(u64, u64) -> bool) = match kind {
            QueryKind::Type => {
                filter.event_types = Some(vec![EVENT_TYPES[0].into()]);
                (format!("event type {:?} (1%)", EVENT_TYPES[0]), |i, _| {
                    i.is_multiple_of(100)
                })
            }
            QueryKind::Service => {
                filter.service_name = Some("service-00".into());
                ("service \"service-00\" (10%)".into(), |i, _| {
                    i.is_multiple_of(10)
                })
            }
            QueryKind::Region => {
                filter.region = Some("region-0".into());
                ("region \"region-0\" (10%)".into(), |i, _| {
                    (i / 10).is_multiple_of(10)
                })
            }
            QueryKind::Window => {
                let start = window_start(n);
                filter.start_time = Some(event_time(start));
                filter.end_time = Some(event_time(start + WINDOW_MS));
                (
                    format!("a {} s window of event time", WINDOW_MS / 1000),
                    |i, n| (window_start(n)..window_start(n) + WINDOW_MS).contains(&i),
                )
            }
            QueryKind::Appended => {
                let start = window_start(n);
                options.appended_since = Some(append_time(start));
                options.appended_until = Some(append_time(start + WINDOW_MS));
                (
                    format!("a {} s window of append time", WINDOW_MS / 1000),
                    |i, n| (window_start(n)..window_start(n) + WINDOW_MS).contains(&i),
                )
            }
            QueryKind::Context => {
                filter.context_filters =
                    Some([("entry_id".to_string(), format!("dlq-{CONTEXT_ENTRY:05}"))].into());
                (
                    format!("context entry_id \"dlq-{CONTEXT_ENTRY:05}\" (1 in 10,000)"),
                    |i, _| i % 10_000 == CONTEXT_ENTRY,
                )
            }
        };
        QueryCase {
            kind,
            filter,
            options,
            what,
            matches,
        }
    }

    /// How many of records `0..n` match.
    pub fn expected(&self, n: u64) -> u64 {
        (0..n).filter(|&i| (self.matches)(i, n)).count() as u64
    }
}

/// Record `i`'s event time.
pub fn event_time(i: u64) -> Timestamp {
    Timestamp::from_unix_nanos(FIRST_EVENT_NS + i as i64 * 1_000_000)
}

/// Record `i`'s append time.
pub fn append_time(i: u64) -> Timestamp {
    Timestamp::from_unix_nanos(FIRST_APPEND_NS + i as i64 * 1_000_000)
}

pub fn bench_query(scratch: &Scratch, bench: &ReadBench, kind: QueryKind) -> Result<Report> {
    let journal = build_records(scratch, bench)?;
    let case = QueryCase::new(kind, bench.events);
    let filter = &case.filter;
    let options = &case.options;
    let matches = case.expected(bench.events);
    let count_seconds = median_time(5, || {
        let n = journal.count_with(filter, options)?;
        if n != matches {
            bail!("count gave {n} where {matches} records match");
        }
        Ok(())
    })?;
    let mut returned = 0;
    let seconds = median_time(5, || {
        let result = journal.query_with(filter, options)?;
        if result.total_count != matches {
            bail!(
                "query's total_count is {} where {matches} records match",
                result.total_count
            );
        }
        returned = result.entries.len();
        Ok(())
    })?;
    journal.close()?;

    let bytes = bench.events * bench.record.record_bytes;
    let mut report = Report::new("query", bench.events, bytes, seconds);
    report.set("filter", format!("{:?}", case.kind).to_lowercase());
    report.set("record_bytes", bench.record.record_bytes);
    report.set("matches", matches);
    report.set("returned", returned);
    report.set("count_seconds", count_seconds);
    report.line(format!(
        "bench query: {} of {} records ({matches} matches), median of 5",
        case.what, bench.events
    ));
    report.line(format!(
        "ours:   count {:.3} ms; query, limit 1000, with total_count: {:.3} ms ({returned} returned)",
        count_seconds * 1e3,
        seconds * 1e3
    ));
    sqlite_peer(
        scratch,
        bench,
        &case,
        matches,
        (count_seconds, seconds),
        &mut report,
    )?;
    report.rate_line("query over the journal");
    Ok(report)
}

/// The same filter on SQLite with the reference's schema and indexes (and
/// a region index, which the reference lacks), in the same run.
#[cfg(feature = "sqlite-peer")]
fn sqlite_peer(
    scratch: &Scratch,
    bench: &ReadBench,
    case: &QueryCase,
    matches: u64,
    (count_seconds, seconds): (f64, f64),
    report: &mut Report,
) -> Result<()> {
    let peer = super::sqlite::Peer::build(&scratch.0.join("peer.sqlite3"), bench)?;
    let (sqlite_count, sqlite_query) = peer.time(case, bench.events, matches)?;
    report.set("sqlite_count_seconds", sqlite_count);
    report.set("sqlite_query_seconds", sqlite_query);
    report.set("count_ratio", sqlite_count / count_seconds.max(1e-9));
    report.set("query_ratio", sqlite_query / seconds.max(1e-9));
    report.line(format!(
        "SQLite: count {:.3} ms; COUNT(*) + SELECT ... LIMIT 1000: {:.3} ms \
         (WAL, the reference's schema and indexes, plus one on region)",
        sqlite_count * 1e3,
        sqlite_query * 1e3
    ));
    report.line(format!(
        "SQLite time / ours: count {:.2}x, query {:.2}x (above 1: ours is faster)",
        sqlite_count / count_seconds.max(1e-9),
        sqlite_query / seconds.max(1e-9)
    ));
    Ok(())
}

#[cfg(not(feature = "sqlite-peer"))]
fn sqlite_peer(
    _: &Scratch,
    _: &ReadBench,
    _: &QueryCase,
    _: u64,
    _: (f64, f64),
    report: &mut Report,
) -> Result<()> {
    report.line("(no SQLite peer: this build lacks the sqlite-peer feature)".into());
    Ok(())
}

pub fn bench_open(scratch: &Scratch, bench: &ReadBench) -> Result<Report> {
    let dir = scratch.journal_dir();
    build_records(scratch, bench)?.close()?;
    let open = |read_only: bool| {
        median_time(5, || {
            let journal = DiskJournal::builder(&dir).read_only(read_only).open()?;
            let latest = journal.get_latest_sequence()?;
            if latest != bench.events {
                bail!(
                    "the reopened journal ends at {latest}, not {}",
                    bench.events
                );
            }
            // Closed (dropped) once the time is taken.
            Ok(journal)
        })
    };
    let seconds = open(false)?;
    let read_only_seconds = open(true)?;

    let bytes = bench.events * bench.record.record_bytes;
    let mut report = Report::new("open", bench.events, bytes, seconds);
    report.set("record_bytes", bench.record.record_bytes);
    report.set("read_only_seconds", read_only_seconds);
    report.line(format!(
        "bench open: a journal of {} records ({}) after a clean close, median of 5",
        bench.events,
        output::human_bytes(bytes)
    ));
    report.line(format!(
        "writer open + latest sequence: {:.2} ms; read-only: {:.2} ms",
        seconds * 1e3,
        read_only_seconds * 1e3
    ));
    Ok(report)
}

// ---------------------------------------------------------------------
// bench fold.
