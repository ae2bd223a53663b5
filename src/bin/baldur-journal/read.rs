//! The commands that read entries: `query`, `count`, `range`, `latest` and
//! `export`. All open the journal read-only.

use std::io::Write;

use anyhow::Result;
use clap::Args;

use crate::Outcome;
use crate::filter::FilterArgs;
use crate::open::{self, Globals};
use crate::output;

#[derive(Args)]
#[command(
    about = "Entries matching a filter, as a table or JSON",
    long_about = "Entries matching every given condition, in ascending sequence order, at most \
--limit of them (default 1000; the journal caps it at 10000). Prints a table, and a last line \
saying how many matched when not all are shown and how to get the next page; --json prints one \
object {\"entries\": [...], \"truncated\": bool, \"total_count\": n}. --after SEQ is a cursor: \
only entries with a sequence above SEQ, so `--after` the last sequence shown gives the next page \
(total_count then counts the matches after SEQ). With --json, the next page's SEQ is the last \
entry's sequence while truncated is true.",
    after_help = "Examples:
  baldur-journal query --event-type circuit_breaker_opened --event-type circuit_breaker_half_opened --service payments
  baldur-journal query --since 2025-01-01T00:00:00Z --until 2025-01-02 --region eu-west-1 --limit 20
  baldur-journal query --event-type dlq_store --limit 10000 --after 52311   # the next page
  baldur-journal query --context trigger=failure_rate --context window_failure_count=12 --json
  baldur-journal query --filter-json '{\"event_types\": [\"emergency_level_changed\"], \"context_filters\": {\"level\": \"level_3\"}}'"
)]
pub struct QueryArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// The most entries to show (replaces the limit of --filter-json)
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Print {"entries": [...], "truncated": bool, "total_count": n}
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(
    about = "The number of entries matching a filter (same flags as query)",
    after_help = "Examples:
  baldur-journal count
  baldur-journal count --event-type error_budget_critical --since 2025-01-01T00:00:00Z
  baldur-journal count --filter-json '{\"context_filters\": {\"is_escalation\": \"True\"}}'"
)]
pub struct CountArgs {
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Args)]
#[command(
    about = "Entries with START <= sequence < END (or to the end), as JSON lines (streaming)",
    long_about = "Streams the entries with START <= sequence < END (START included, END \
excluded), one JSON object per line, as `export` writes them (each with its appended_at). \
Without END, every entry from START to the end of the journal, the entry at sequence \
18446744073709551615 (u64::MAX) included. END equal to START is an empty range (exit 0); END \
below START is a usage error (exit 2). Sequences may have gaps: only the entries that exist \
are printed.",
    after_help = "Examples:
  baldur-journal range 1 101              # the first hundred sequences
  baldur-journal range 5000 5001          # one entry
  baldur-journal range 5000               # from 5000 to the end"
)]
pub struct RangeArgs {
    /// First sequence (included)
    #[arg(value_name = "START")]
    start: u64,
    /// End sequence (excluded) [default: to the end of the journal, u64::MAX included]
    #[arg(value_name = "END")]
    end: Option<u64>,
}

impl RangeArgs {
    /// The usage error of an END below START.
    pub fn inverted(&self) -> Option<String> {
        match self.end {
            Some(end) if end < self.start => Some(format!(
                "range END {end} is below START {} (START is included and END excluded: \
                 `range {} {}` is empty, `range {}` reads to the end)",
                self.start, self.start, self.start, self.start
            )),
            _ => None,
        }
    }
}

#[derive(Args)]
#[command(
    about = "The latest sequence (0 when the journal is empty)",
    after_help = "Examples:
  baldur-journal latest
  baldur-journal range $(baldur-journal latest) $(( $(baldur-journal latest) + 1 ))"
)]
pub struct LatestArgs {}

#[derive(Args)]
#[command(
    about = "Every entry (or a sequence range) as JSON lines, for `import`",
    long_about = "Writes the entries with FROM <= sequence < TO to stdout (FROM included, TO \
excluded, as in `range`), one JSON object per line: the entry's fields in the seed's order and \
names, then appended_at (when the journal appended it). Without --to, every entry to the end \
of the journal, the entry at sequence 18446744073709551615 (u64::MAX) included. --to equal to \
--from exports nothing (exit 0); --to below --from is a usage error (exit 2). \
`import --keep-sequence` of this output rebuilds the same entries, sequences, gaps and append \
times, and exporting that gives the same bytes.",
    after_help = "Examples:
  baldur-journal export > events.jsonl
  baldur-journal export --from 1000 --to 2000 > slice.jsonl"
)]
pub struct ExportArgs {
    /// First sequence (included) [default: the first]
    #[arg(long, value_name = "S")]
    from: Option<u64>,
    /// End sequence (excluded, as in `range`) [default: to the end, u64::MAX included]
    #[arg(long, value_name = "E")]
    to: Option<u64>,
}

impl ExportArgs {
    /// The usage error of a --to below --from.
    pub fn inverted(&self) -> Option<String> {
        match (self.from, self.to) {
            (Some(from), Some(to)) if to < from => Some(format!(
                "export --to {to} is below --from {from} (--from is included and --to \
                 excluded: --to {from} exports nothing; without --to, to the end)"
            )),
            _ => None,
        }
    }
}

pub fn run_query(globals: &Globals, args: &QueryArgs) -> Result<Outcome> {
    let filter = args.filter.to_filter(args.limit)?;
    let opened = open::open_read(globals)?;
    let options = args.filter.to_options();
    let result = opened.journal().query_with(&filter, &options)?;
    // The cursor of the next page: the last sequence shown.
    let next_after = result
        .entries
        .last()
        .filter(|_| result.truncated && !result.entries.is_empty())
        .map(|entry| entry.sequence);
    let mut out = output::stdout();
    if args.json {
        serde_json::to_writer(&mut out, &result)?;
        writeln!(out)?;
    } else {
        output::write_table(&mut out, &result.entries)?;
        if result.truncated {
            let matches = match options.after_sequence {
                Some(after) => format!("matches after sequence {after}"),
                None => "matches".to_string(),
            };
            let hint = match next_after {
                Some(next) => format!("next page: --after {next}"),
                None => "raise --limit to see them".to_string(),
            };
            writeln!(
                out,
                "({} of {} {matches} shown; {hint})",
                result.entries.len(),
                result.total_count
            )?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

pub fn run_count(globals: &Globals, args: &CountArgs) -> Result<Outcome> {
    let filter = args.filter.to_filter(None)?;
    let opened = open::open_read(globals)?;
    let count = opened
        .journal()
        .count_with(&filter, &args.filter.to_options())?;
    let mut out = output::stdout();
    writeln!(out, "{count}")?;
    out.flush()?;
    Ok(Outcome::Success)
}

pub fn run_latest(globals: &Globals, _args: &LatestArgs) -> Result<Outcome> {
    let opened = open::open_read(globals)?;
    let latest = opened.journal().get_latest_sequence()?;
    let mut out = output::stdout();
    writeln!(out, "{latest}")?;
    out.flush()?;
    Ok(Outcome::Success)
}

pub fn run_range(globals: &Globals, args: &RangeArgs) -> Result<Outcome> {
    let opened = open::open_read(globals)?;
    let mut out = output::stdout();
    for_each_line(&opened, args.start, args.end, &mut out, |_| {})?;
    out.flush()?;
    Ok(Outcome::Success)
}

pub fn run_export(globals: &Globals, args: &ExportArgs) -> Result<Outcome> {
    let opened = open::open_read(globals)?;
    let start = args.from.unwrap_or(0);
    let end = args.to;
    let latest = opened.journal().get_latest_sequence()?;
    let last = end.map_or(latest, |end| latest.min(end.saturating_sub(1)));
    let bar = output::progress(
        Some(last.saturating_sub(start.max(1)).saturating_add(1)),
        "exporting",
        "sequences",
    );
    let mut out = output::stdout();
    let mut written = 0u64;
    for_each_line(&opened, start, end, &mut out, |sequence| {
        written += 1;
        if written.is_multiple_of(4096) {
            bar.set_position(sequence.saturating_sub(start.max(1)));
        }
    })?;
    bar.finish_and_clear();
    out.flush()?;
    Ok(Outcome::Success)
}

/// Says on stderr when a read starting at `start` begins below the
/// retention mark: those sequences were dropped, not absent.
pub fn note_below_mark(
    journal: &baldur_journal::DiskJournal,
    start: u64,
    end: Option<u64>,
) -> Result<()> {
    if let Some(mark) = journal.retention_mark()?
        && start < mark
        && end.is_none_or(|end| end > start)
    {
        eprintln!(
            "note: sequences below {mark} were dropped by retention: the journal starts at \
             {mark}, and the entries from there are shown"
        );
    }
    Ok(())
}

/// Writes `start <= sequence < end` (to the end of the journal, `u64::MAX`
/// included, when `end` is `None`) as export lines, calling `progress`
/// with each sequence: borrowed from the disk journal's maps, owned from
/// other backends.
pub fn for_each_line(
    opened: &open::Opened,
    start: u64,
    end: Option<u64>,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<()> {
    match opened {
        open::Opened::Disk(journal) => {
            note_below_mark(journal, start, end)?;
            let mut range = match end {
                Some(end) => journal.range_ref(start, end)?,
                None => journal.range_ref_from(start)?,
            };
            while let Some(entry) = range.next_entry() {
                let entry = entry?;
                output::write_entry_line(out, &entry)?;
                progress(entry.sequence);
            }
        }
        open::Opened::Other(journal) => {
            let entries = match end {
                Some(end) => journal.range_iter(start, end)?,
                None => journal.range_iter_from(start)?,
            };
            for entry in entries {
                let entry = entry?;
                output::write_owned_line(out, &entry)?;
                progress(entry.sequence);
            }
        }
    }
    Ok(())
}
