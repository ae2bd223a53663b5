//! `bench fold`: the DLQ statistics folded over the demo's workload,
//! against decoding alone.

use super::*;

pub fn bench_fold(scratch: &Scratch, bench: &FoldBench) -> Result<Report> {
    let start = Timestamp::from_unix_nanos(1_735_689_600_000_000_000);
    let end = Timestamp::from_unix_nanos(start.as_unix_nanos() + 30 * 86_400_000_000_000);
    // About 5 events per DLQ entry; generate enough, keep the first N.
    let mut events = dlq_events(0x5eed, bench.events / 3 + 1, 1, start, end);
    if (events.len() as u64) < bench.events {
        bail!(
            "the DLQ simulation made {} events, fewer than --events",
            events.len()
        );
    }
    events.truncate(bench.events as usize);
    let mut events = events.into_iter();
    let journal = Arc::new(build(&scratch.journal_dir(), bench.events, |_| {
        events.next().context("the simulation ran out of events")
    })?);
    let bytes: u64 = journal.info()?.segments.iter().map(|s| s.log_bytes).sum();

    let seconds = median_time(3, || {
        let statistics = JournalStatistics::new(journal.clone());
        let summary = statistics.refresh()?;
        if summary.records != bench.events {
            bail!(
                "the fold read {} records of {}",
                summary.records,
                bench.events
            );
        }
        Ok(())
    })?;
    let decode_seconds = median_time(3, || {
        let mut seen = 0;
        for entry in journal.range_iter(1, u64::MAX)? {
            entry?;
            seen += 1;
        }
        check_seen(seen, bench.events)
    })?;
    journal.close()?;

    let mut report = Report::new("fold", bench.events, bytes, seconds);
    let decode_rate = bench.events as f64 / decode_seconds.max(1e-9);
    let fold_rate = bench.events as f64 / seconds.max(1e-9);
    report.set("decode_seconds", decode_seconds);
    report.set("decode_events_per_s", decode_rate);
    report.set("ratio_to_decode", fold_rate / decode_rate);
    report.line(format!(
        "bench fold: the DLQ statistics over {} simulated DLQ events, from the page cache (median of 3)",
        bench.events
    ));
    report.rate_line("full fold");
    report.line(format!(
        "decoding the same records to owned entries: {:.3} s = {} events/s; fold/decode ratio {:.2}",
        decode_seconds,
        rate(decode_rate),
        fold_rate / decode_rate
    ));
    Ok(report)
}
