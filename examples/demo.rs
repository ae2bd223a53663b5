//! The main job on the embedded default: a durable journal in
//! `./baldur-data` (or the directory given as the first argument), fed by
//! several producer threads under the default policy (fdatasync before every
//! acknowledgement), then replayed, queried and counted, and reopened to
//! show that everything acknowledged is there.
//!
//! Run: `cargo run --release --example demo [DIR]`

use std::sync::Arc;
use std::time::Instant;

use baldur_journal::{
    Context, DiskJournal, EventJournal, JournalEntry, JournalQueryFilter, Result, Timestamp,
};

const PRODUCERS: u64 = 8;
const EVENTS_PER_PRODUCER: u64 = 2_000;
const EVENT_TYPES: [&str; 4] = [
    "dlq_store",
    "dlq_resolve",
    "circuit_breaker_opened",
    "circuit_breaker_closed",
];

fn event(producer: u64, n: u64) -> Result<JournalEntry> {
    let context = Context::from_json(&format!(
        r#"{{"entry_id":"dlq-{producer}-{n}","domain":"payment","attempt":{}}}"#,
        n % 5
    ))?;
    Ok(JournalEntry::new(
        EVENT_TYPES[(n % 4) as usize],
        "demo",
        Timestamp::now(),
        format!("service-{}", producer % 3),
    )
    .with_context(context)
    .with_region("eu-west-1"))
}

fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "baldur-data".to_string());
    let journal = Arc::new(DiskJournal::open(&dir)?);
    let before = journal.get_latest_sequence()?;
    println!("journal {dir}: latest sequence {before} on open");
    if let Some(torn) = &journal.recovery_report().torn_tail {
        println!(
            "recovered a torn tail in {} at byte {}",
            torn.path.display(),
            torn.offset
        );
    }

    let started = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let journal = journal.clone();
                s.spawn(move || -> Result<()> {
                    for n in 0..EVENTS_PER_PRODUCER {
                        journal.append(&event(p, n)?)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().expect("producer thread")?;
        }
        Ok(())
    })?;
    let appended = PRODUCERS * EVENTS_PER_PRODUCER;
    let elapsed = started.elapsed();
    println!(
        "appended {appended} events from {PRODUCERS} threads in {:.2?} ({:.0}/s), each durable when acknowledged",
        elapsed,
        appended as f64 / elapsed.as_secs_f64()
    );

    let latest = journal.get_latest_sequence()?;
    let started = Instant::now();
    let mut replayed = 0u64;
    let mut range = journal.range_ref(before + 1, latest + 1)?;
    while let Some(entry) = range.next_entry() {
        entry?;
        replayed += 1;
    }
    println!(
        "replayed [{}, {}) : {replayed} entries in {:.2?}",
        before + 1,
        latest + 1,
        started.elapsed()
    );

    let opened = JournalQueryFilter {
        event_types: Some(vec!["circuit_breaker_opened".into()]),
        limit: 3,
        ..Default::default()
    };
    let result = journal.query(&opened)?;
    println!(
        "query circuit_breaker_opened: {} matches, first {} shown (truncated: {})",
        result.total_count,
        result.entries.len(),
        result.truncated
    );
    for e in &result.entries {
        println!("  {}", serde_json::to_string(e).expect("entries serialize"));
    }
    for t in EVENT_TYPES {
        let filter = JournalQueryFilter {
            event_types: Some(vec![t.into()]),
            ..Default::default()
        };
        println!("count {t}: {}", journal.count(&filter)?);
    }

    journal.close()?;
    let reopened = DiskJournal::open_read_only(&dir)?;
    println!(
        "reopened read-only: latest sequence {}",
        reopened.get_latest_sequence()?
    );
    assert_eq!(reopened.get_latest_sequence()?, latest);
    Ok(())
}
