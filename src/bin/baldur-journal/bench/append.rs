//! `bench append`: producers appending one entry per call under a
//! durability policy, acknowledgement latencies, and the raw disk's
//! `pwrite` + `fdatasync` in the same directory as the peer.

use super::*;

pub fn bench_append(scratch: &Scratch, bench: &AppendBench) -> Result<Report> {
    let bytes = bench.record.record_bytes;
    let entry = record(0, bytes)?;
    let durability = bench.durability;
    let policy = durability.to_string();
    let journal = DiskJournal::builder(scratch.journal_dir())
        .durability(durability)
        .open()?;

    // Producer k appends its share; each append timed from call to ack.
    let producers = bench.producers;
    let share = |k: u64| bench.events / producers + u64::from(k < bench.events % producers);
    let threads = usize::try_from(producers).context("--producers")?;
    let start_line = Barrier::new(threads + 1);
    let events = usize::try_from(bench.events).context("--events")?;
    let before = journal.write_stats();
    let (latencies, seconds) = std::thread::scope(|scope| -> Result<(Vec<u64>, f64)> {
        let workers: Vec<_> = (0..producers)
            .map(|k| {
                let (journal, entry, start_line) = (&journal, &entry, &start_line);
                scope.spawn(move || -> baldur_journal::Result<Vec<u64>> {
                    let mut acks = Vec::with_capacity(
                        usize::try_from(share(k)).expect("a share of --events, which fits"),
                    );
                    start_line.wait();
                    for _ in 0..share(k) {
                        let called = Instant::now();
                        journal.append(entry)?;
                        let nanos = called.elapsed().as_nanos();
                        acks.push(u64::try_from(nanos).unwrap_or(u64::MAX));
                    }
                    Ok(acks)
                })
            })
            .collect();
        start_line.wait();
        let started = Instant::now();
        let mut latencies = Vec::with_capacity(events);
        for worker in workers {
            let acks = worker
                .join()
                .map_err(|_| anyhow::anyhow!("a producer thread panicked"))??;
            latencies.extend(acks);
        }
        Ok((latencies, started.elapsed().as_secs_f64()))
    })?;
    let synced = journal.write_stats().syncs - before.syncs;
    journal.close()?;

    let mut latencies = latencies;
    latencies.sort_unstable();
    let mean_batch = (synced > 0).then(|| bench.events as f64 / synced as f64);
    let mut report = Report::new("append", bench.events, bench.events * bytes, seconds);
    report.set("producers", producers);
    report.set("durability", policy.as_str());
    report.set("record_bytes", bytes);
    report.set("ack_p50_us", percentile(&latencies, 500) as f64 / 1e3);
    report.set("ack_p99_us", percentile(&latencies, 990) as f64 / 1e3);
    report.set("syncs", synced);
    report.set("mean_batch", mean_batch);

    // The raw peer: the same bytes into a pre-written file in the same
    // directory, at the batch size the journal achieved (the whole run in
    // one batch when it did not sync).
    let raw_batch = mean_batch
        .map_or(bench.events, whole_batch)
        .min(RAW_FILE_BYTES / bytes)
        .max(1);
    let raw_rate = raw_pwrite_fdatasync(scratch.path(), bytes, raw_batch, bench.events)?;
    let events_per_s = report.fields["events_per_s"].as_f64().unwrap_or(0.0);
    report.set("raw_batch", raw_batch);
    report.set("raw_events_per_s", raw_rate);
    report.set("ratio_to_raw", events_per_s / raw_rate);

    report.line(format!(
        "bench append: {} events of {bytes} bytes from {producers} producer{}, durability {policy}, in {}",
        bench.events,
        if producers == 1 { "" } else { "s" },
        scratch.path().display()
    ));
    report.rate_line("appended");
    report.line(format!(
        "ack latency: p50 {:.1} µs, p99 {:.1} µs",
        percentile(&latencies, 500) as f64 / 1e3,
        percentile(&latencies, 990) as f64 / 1e3
    ));
    report.line(match mean_batch {
        Some(mean) => format!("{mean:.1} records per fdatasync ({synced} syncs of segment files)"),
        None => "no fdatasync of a segment file during the run".into(),
    });
    report.line(format!(
        "raw pwrite + fdatasync into a pre-written file in the same directory, {raw_batch} \
         record{} per sync: {} records/s",
        if raw_batch == 1 { "" } else { "s" },
        rate(raw_rate)
    ));
    report.line(format!("ratio: {:.2} of raw", events_per_s / raw_rate));
    Ok(report)
}

/// A mean batch size as a whole number of records, at least one.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "rounded and at least 1; `as` saturates at u64::MAX"
)]
fn whole_batch(mean: f64) -> u64 {
    mean.round().max(1.0) as u64
}

/// The largest pre-written file of the raw peer (its writes wrap around).
const RAW_FILE_BYTES: u64 = 64 << 20;

/// Records per second of raw `pwrite` + `fdatasync` of `batch` records of
/// `bytes` bytes at a time into a file written (and synced) beforehand,
/// for about `events` records.
fn raw_pwrite_fdatasync(dir: &Path, bytes: u64, batch: u64, events: u64) -> Result<f64> {
    let path = dir.join("raw-peer.dat");
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let file_bytes = (events * bytes).clamp(1 << 20, RAW_FILE_BYTES);
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < file_bytes {
        let n = usize::try_from(file_bytes - at).map_or(zeros.len(), |n| n.min(zeros.len()));
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_all()?;
    let buffer = vec![b'r'; usize::try_from(batch * bytes)?];
    let rounds = events.div_ceil(batch);
    let wrap = file_bytes - buffer.len() as u64 + 1;
    let mut at = 0u64;
    let started = Instant::now();
    for _ in 0..rounds {
        file.write_all_at(&buffer, at)?;
        file.sync_data()?;
        at = (at + buffer.len() as u64) % wrap;
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    drop(file);
    std::fs::remove_file(&path)?;
    Ok((rounds * batch) as f64 / seconds)
}

// ---------------------------------------------------------------------
// bench replay, query, open.
