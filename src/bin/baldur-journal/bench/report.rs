//! `bench report`: `report --html` over a journal like the demo's (its DLQ
//! and fleet workloads, audit-chained), against a full fold of the
//! statistics (`stats status`) over the same journal in the same run.

use baldur_journal::projection::StatisticsRepository;

use super::*;
use crate::demo::{Fleet, append_merged};
use crate::report;

const DAY_NS: i64 = 86_400_000_000_000;

pub fn bench_report(scratch: &Scratch, bench: &ReportBench) -> Result<Report> {
    let dir = scratch.journal_dir();
    let start = Timestamp::from_unix_nanos(1_735_689_600_000_000_000);
    let end = Timestamp::from_unix_nanos(start.as_unix_nanos() + bench.days as i64 * DAY_NS);
    {
        let journal = Arc::new(
            DiskJournal::builder(&dir)
                .durability(Durability::Os)
                .segment_bytes(16 << 20)
                .open()?,
        );
        let statistics = JournalStatistics::builder(journal.clone())
            .audit_chain(true)
            .build()?;
        let dlq = dlq_events(0x5eed ^ 0xd1c, bench.entries, 1, start, end);
        let fleet = Fleet {
            seed: 0x5eed,
            start,
            end,
            events: bench.events,
        };
        append_merged(&statistics, dlq, &fleet, |_| {})?;
        drop(statistics);
        journal.sync()?;
    }
    let journal = Arc::new(DiskJournal::open_read_only(&dir)?);
    let records = journal.get_latest_sequence()?;
    let bytes: u64 = journal.info()?.segments.iter().map(|s| s.log_bytes).sum();
    let page = scratch.path().join("report.html");
    let mut page_bytes = 0;
    // As the command runs: open read-only, one pass, render, write.
    let seconds = median_time(3, || {
        let journal = Arc::new(DiskJournal::open_read_only(&dir)?);
        let shared: Arc<dyn EventJournal> = journal.clone();
        let settings = report::Settings {
            since: None,
            until: None,
            now: Some(end),
            as_of: None,
            source: dir.display().to_string(),
        };
        let collected = report::collect(shared, Some(&journal), settings)?;
        if collected.timeline.summary.records != records {
            bail!(
                "the report read {} records of {records}",
                collected.timeline.summary.records
            );
        }
        page_bytes = report::write(&page, &collected)?;
        Ok(())
    })?;
    // The peer: `stats status` from a full fold.
    let fold_seconds = median_time(3, || {
        let journal = Arc::new(DiskJournal::open_read_only(&dir)?);
        let statistics = JournalStatistics::new(journal);
        statistics.refresh()?;
        Ok(statistics.get_status_counts()?)
    })?;
    drop(journal);

    let mut report = Report::new("report", records, bytes, seconds);
    report.set("page_bytes", page_bytes);
    report.set("full_fold_seconds", fold_seconds);
    report.set("ratio_to_full_fold", seconds / fold_seconds.max(1e-9));
    report.line(format!(
        "bench report: report --html over a demo journal of {records} events ({} DLQ entries, \
         {} fleet events asked, {} days), from the page cache (median of 3)",
        bench.entries, bench.events, bench.days
    ));
    report.rate_line("report");
    report.line(format!(
        "page: {}; full fold (stats status) of the same journal: {fold_seconds:.3} s; \
         report/fold ratio {:.2}",
        output::human_bytes(page_bytes),
        seconds / fold_seconds.max(1e-9)
    ));
    Ok(report)
}
