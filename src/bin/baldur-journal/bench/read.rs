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

pub fn bench_query(scratch: &Scratch, bench: &ReadBench) -> Result<Report> {
    let journal = build_records(scratch, bench)?;
    let filter = JournalQueryFilter {
        event_types: Some(vec![EVENT_TYPES[0].into()]),
        limit: 1000,
        ..Default::default()
    };
    let matches = bench.events.div_ceil(100);
    let count_seconds = median_time(5, || {
        let n = journal.count(&filter)?;
        if n != matches {
            bail!("count gave {n} where {matches} records match");
        }
        Ok(())
    })?;
    let mut returned = 0;
    let seconds = median_time(5, || {
        let result = journal.query(&filter)?;
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
    report.set("record_bytes", bench.record.record_bytes);
    report.set("matches", matches);
    report.set("returned", returned);
    report.set("count_seconds", count_seconds);
    report.line(format!(
        "bench query: event type {:?} in 1% of {} records ({matches} matches), median of 5",
        EVENT_TYPES[0], bench.events
    ));
    report.line(format!(
        "count: {:.3} ms; query, limit 1000, with total_count: {:.3} ms ({returned} returned)",
        count_seconds * 1e3,
        seconds * 1e3
    ));
    report.rate_line("query over the journal");
    Ok(report)
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
