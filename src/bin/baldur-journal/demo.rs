//! `demo`: the main job. Appends a few hundred thousand realistic events
//! (see `sim.rs`) in batches under the default durable policy, then shows
//! `info` and a few example queries with their timings. Run again, it
//! continues the same journal, with event times after the latest entry's.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use baldur_journal::{
    DiskJournal, Durability, EventJournal, JournalEntry, JournalQueryFilter, Timestamp,
};
use clap::Args;

use crate::Outcome;
use crate::info::write_info;
use crate::open::{self, Globals};
use crate::output::{self, human_duration, time_to_second};
use crate::sim::{EVENT_TYPES, Simulation};

/// Entries per `append_batch` call: one fdatasync each.
const BATCH: usize = 1000;
const DAY_NS: i64 = 86_400_000_000_000;

#[derive(Args)]
#[command(
    about = "The main job: append a realistic event stream, then show info and queries",
    long_about = "Appends --events events (default 300000) of the seven kinds the reference \
journals (circuit breaker opened/closed/half-opened, error budget warning/critical/recovered, \
emergency level changed), with the context keys their publishers send, spread over --days \
simulated days, in batches of 1000 under the default durable policy (each batch acknowledged \
after its fdatasync). Then prints `info` and a few example queries with their timings. A new \
journal is created with 16 MiB segments unless --segment-bytes says otherwise. Run again, it \
appends to the same journal, continuing after the latest entry's event time.",
    after_help = "Examples:
  cargo run --release -- demo
  baldur-journal --dir /tmp/demo demo --events 1000000 --days 30"
)]
pub struct DemoArgs {
    /// Events to append
    #[arg(long, value_name = "N", default_value_t = 300_000)]
    events: u64,
    /// Simulated days the events span
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    days: u64,
}

pub fn run_demo(globals: &Globals, args: &DemoArgs) -> Result<Outcome> {
    if args.events == 0 || args.days == 0 || args.days > 3650 {
        bail!("--events must be above 0 and --days between 1 and 3650");
    }
    let started = Instant::now();
    let journal = open::open_writer(globals, Durability::Always, Some(16 << 20))?;
    let mut out = output::stdout();
    let before = journal.get_latest_sequence()?;
    let span_ns = args.days as i64 * DAY_NS;
    let start = match last_event_time(&journal, before)? {
        Some(last) => Timestamp::from_unix_nanos(last.as_unix_nanos().saturating_add(1_000_000)),
        None => {
            // A fresh journal: the simulated days end about now, to the minute.
            let now = Timestamp::now().as_unix_nanos();
            Timestamp::from_unix_nanos((now - span_ns) / 60_000_000_000 * 60_000_000_000)
        }
    };
    if before == 0 {
        writeln!(out, "new journal in {}", globals.dir.display())?;
    } else {
        writeln!(
            out,
            "journal in {}: {before} sequences so far; continuing after the latest event time",
            globals.dir.display()
        )?;
    }
    writeln!(
        out,
        "appending {} events over {} simulated days from {}, in batches of {BATCH}, each \
         acknowledged after its fdatasync ...",
        args.events,
        args.days,
        time_to_second(start)
    )?;
    out.flush()?;

    let mean_gap_ns = span_ns as f64 / args.events as f64;
    let mut sim = Simulation::new(
        before.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed,
        start,
        mean_gap_ns,
    );
    let bar = output::progress(Some(args.events), "appending", "events");
    let appending = Instant::now();
    let mut batch: Vec<JournalEntry> = Vec::with_capacity(BATCH);
    let mut first = None;
    let mut last = before;
    let mut remaining = args.events;
    while remaining > 0 {
        batch.clear();
        let n = remaining.min(BATCH as u64);
        batch.extend((0..n).map(|_| sim.next_event()));
        let sequences = journal.append_batch(&batch)?;
        first = first.or(sequences.first().copied());
        last = sequences.last().copied().unwrap_or(last);
        remaining -= n;
        bar.inc(n);
    }
    bar.finish_and_clear();
    let took = appending.elapsed();
    let first = first.unwrap_or(before + 1);
    writeln!(
        out,
        "appended {} events (sequences {first}..={last}, event times up to {}) in {} ({:.0} events/s)",
        args.events,
        time_to_second(sim.now()),
        human_duration(took),
        args.events as f64 / took.as_secs_f64()
    )?;

    let prefix = if globals.dir_given {
        format!("baldur-journal --dir {}", globals.dir.display())
    } else {
        "baldur-journal".to_string()
    };
    writeln!(out, "\n$ {prefix} info")?;
    let info = journal.info()?;
    write_info(&mut out, &info, "this demo (the writer)")?;
    out.flush()?;

    examples(&journal, &mut out, &prefix, sim.now(), first, last)?;
    journal.close()?;
    writeln!(out, "\ndone in {}", human_duration(started.elapsed()))?;
    out.flush()?;
    Ok(Outcome::Success)
}

fn last_event_time(journal: &DiskJournal, latest: u64) -> Result<Option<Timestamp>> {
    if latest == 0 {
        return Ok(None);
    }
    let mut range = journal.range_ref(latest, latest + 1)?;
    match range.next_entry() {
        Some(entry) => Ok(Some(entry?.timestamp)),
        None => Ok(None),
    }
}

fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let started = Instant::now();
    let value = f()?;
    Ok((value, started.elapsed()))
}

fn examples(
    journal: &DiskJournal,
    out: &mut impl Write,
    prefix: &str,
    end: Timestamp,
    first: u64,
    last: u64,
) -> Result<()> {
    let day_before = time_to_second(Timestamp::from_unix_nanos(end.as_unix_nanos() - DAY_NS));
    let since = Timestamp::parse(&day_before)?;

    writeln!(
        out,
        "\n$ {prefix} count --event-type TYPE    # for each of the seven types"
    )?;
    for event_type in EVENT_TYPES {
        let filter = JournalQueryFilter {
            event_types: Some(vec![event_type.into()]),
            ..Default::default()
        };
        let (count, took) = timed(|| Ok(journal.count(&filter)?))?;
        writeln!(
            out,
            "{event_type:<28} {count:>9}   ({})",
            human_duration(took)
        )?;
    }

    writeln!(
        out,
        "\n$ {prefix} query --event-type circuit_breaker_opened --service payments \
         --region eu-west-1 --since {day_before} --limit 5"
    )?;
    let filter = JournalQueryFilter {
        event_types: Some(vec!["circuit_breaker_opened".into()]),
        service_name: Some("payments".into()),
        region: Some("eu-west-1".into()),
        start_time: Some(since),
        limit: 5,
        ..Default::default()
    };
    let (result, took) = timed(|| Ok(journal.query(&filter)?))?;
    output::write_table(out, &result.entries)?;
    writeln!(
        out,
        "({} of {} matches shown, {})",
        result.entries.len(),
        result.total_count,
        human_duration(took)
    )?;

    writeln!(
        out,
        "\n$ {prefix} count --event-type emergency_level_changed --context level=level_3 \
         --context is_escalation=True"
    )?;
    let filter = JournalQueryFilter {
        event_types: Some(vec!["emergency_level_changed".into()]),
        context_filters: Some(
            [("level", "level_3"), ("is_escalation", "True")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        ),
        ..Default::default()
    };
    let (count, took) = timed(|| Ok(journal.count(&filter)?))?;
    writeln!(
        out,
        "{count}   ({}, every record scanned)",
        human_duration(took)
    )?;

    writeln!(
        out,
        "\n$ {prefix} count --event-type error_budget_critical --since {day_before}"
    )?;
    let filter = JournalQueryFilter {
        event_types: Some(vec!["error_budget_critical".into()]),
        start_time: Some(since),
        ..Default::default()
    };
    let (count, took) = timed(|| Ok(journal.count(&filter)?))?;
    writeln!(
        out,
        "{count}   ({}, sealed segments outside the window skipped)",
        human_duration(took)
    )?;

    writeln!(out, "\n$ {prefix} range {first} {} > /dev/null", last + 1)?;
    let (replayed, took) = timed(|| {
        let mut range = journal.range_ref(first, last + 1)?;
        let mut n = 0u64;
        while let Some(entry) = range.next_entry() {
            entry?;
            n += 1;
        }
        Ok(n)
    })?;
    writeln!(
        out,
        "replayed {replayed} entries in {} ({:.0} entries/s, every CRC checked, zero-copy)",
        human_duration(took),
        replayed as f64 / took.as_secs_f64()
    )?;
    Ok(())
}
