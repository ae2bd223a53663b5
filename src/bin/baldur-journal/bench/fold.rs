//! `bench fold`: the DLQ statistics folded over the demo's workload,
//! against decoding alone; `bench stats`: `stats status` from a full fold
//! against a snapshot plus the events after it.

use baldur_journal::SnapshotConfig;
use baldur_journal::projection::StatisticsRepository;

use super::*;

/// The first `n` events of the demo's DLQ workload over 30 days.
fn dlq_workload(n: u64) -> Result<Vec<JournalEntry>> {
    let start = Timestamp::from_unix_nanos(1_735_689_600_000_000_000);
    let end = Timestamp::from_unix_nanos(start.as_unix_nanos() + 30 * 86_400_000_000_000);
    // About 5 events per DLQ entry; generate enough, keep the first N.
    let mut events = dlq_events(0x5eed, n / 3 + 1, 1, start, end);
    if (events.len() as u64) < n {
        bail!(
            "the DLQ simulation made {} events, fewer than --events",
            events.len()
        );
    }
    events.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    Ok(events)
}

pub fn bench_fold(scratch: &Scratch, bench: &FoldBench) -> Result<Report> {
    let mut events = dlq_workload(bench.events)?.into_iter();
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

pub fn bench_stats(scratch: &Scratch, bench: &StatsBench) -> Result<Report> {
    if bench.tail > bench.events {
        bail!("--tail {} exceeds --events {}", bench.tail, bench.events);
    }
    let dir = scratch.journal_dir();
    let head = bench.events - bench.tail;
    let mut events = dlq_workload(bench.events)?.into_iter();
    // The journal up to the snapshot, the snapshot written by a writable
    // statistics handle, then the tail appended after it.
    let journal = Arc::new(build(&dir, head, |_| {
        events.next().context("the simulation ran out of events")
    })?);
    {
        let writer = JournalStatistics::builder(journal.clone())
            .snapshot(SnapshotConfig::for_disk(&journal))
            .build()?;
        writer.refresh()?;
        if !writer.snapshot_now()? {
            bail!("no snapshot was written");
        }
    }
    let tail: Vec<JournalEntry> = events.collect();
    for batch in tail.chunks(1024) {
        journal.append_batch(batch)?;
    }
    journal.sync()?;
    let bytes: u64 = journal.info()?.segments.iter().map(|s| s.log_bytes).sum();
    drop(journal);

    // `stats status` as the command runs it: open read-only, fold, count.
    let status = |snapshot: bool| -> Result<(String, u64)> {
        let journal = Arc::new(DiskJournal::open_read_only(&dir)?);
        let mut builder = JournalStatistics::builder(journal.clone());
        if snapshot {
            builder = builder.snapshot(SnapshotConfig::for_disk(&journal));
        }
        let statistics = builder.build()?;
        let summary = statistics.refresh()?;
        if summary.records != bench.events {
            bail!(
                "the fold saw {} records of {}",
                summary.records,
                bench.events
            );
        }
        let counts = serde_json::to_string(&statistics.get_status_counts()?)?;
        Ok((counts, statistics.folded_records()))
    };
    let (full_counts, full_folded) = status(false)?;
    let (snap_counts, snap_folded) = status(true)?;
    if full_counts != snap_counts {
        bail!("the snapshot's answer differs from a full fold's: {snap_counts} != {full_counts}");
    }
    if snap_folded != bench.tail || full_folded != bench.events {
        bail!(
            "the snapshot was not used: {snap_folded} records folded after it (tail {})",
            bench.tail
        );
    }
    let full_seconds = median_time(3, || status(false))?;
    let seconds = median_time(3, || status(true))?;

    let mut report = Report::new("stats", bench.events, bytes, seconds);
    report.set("tail", bench.tail);
    report.set("full_fold_seconds", full_seconds);
    report.set("ratio_to_full_fold", seconds / full_seconds.max(1e-9));
    report.line(format!(
        "bench stats: `stats status` over {} simulated DLQ events, a snapshot {} events \
         before the end, from the page cache (median of 3)",
        bench.events, bench.tail
    ));
    report.line(format!(
        "full fold: {full_seconds:.3} s; snapshot plus tail: {seconds:.3} s ({:.1}% of the full fold)",
        100.0 * seconds / full_seconds.max(1e-9)
    ));
    Ok(report)
}
