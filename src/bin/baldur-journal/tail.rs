//! `tail`: the last N entries, and with `-f` every entry committed after
//! them by a writer in another process, as JSON lines.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use baldur_journal::{DiskJournal, EventJournal};
use clap::Args;

use crate::Outcome;
use crate::open::{self, Globals};
use crate::output;

#[derive(Args)]
#[command(
    about = "The last N entries as JSON lines; with -f, then every new one as it is committed",
    long_about = "Prints the last N entries (by sequence) as JSON lines, as `range` does. With \
-f it then keeps polling the journal read-only and prints each entry a writer (in any process) \
commits, flushing every line, until interrupted. Under the default durability a writer \
publishes an entry only once it is synced, so every line printed is durable.",
    after_help = "Examples:
  baldur-journal tail -n 20
  baldur-journal tail -f -n 0 | grep circuit_breaker_opened"
)]
pub struct TailArgs {
    /// How many of the latest entries to print first
    #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 10)]
    lines: u64,
    /// Keep printing new entries as they are committed
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// With -f: how often to look for new entries, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 100)]
    poll_ms: u64,
}

pub fn run_tail(globals: &Globals, args: &TailArgs) -> Result<Outcome> {
    globals.require_file("tail")?;
    open::require_dir(&globals.dir)?;
    let mut seen = Fingerprint::of(&globals.dir);
    let mut journal = open::open_read_only(globals)?;
    let mut out = output::stdout();
    let latest = journal.get_latest_sequence()?;
    if let Some(start) = first_of_last(&journal, latest, args.lines)? {
        let mut range = journal.range_ref_from(start)?;
        while let Some(entry) = range.next_entry() {
            let entry = entry?;
            if entry.sequence > latest {
                break;
            }
            output::write_entry_line(&mut out, &entry)?;
        }
    }
    // The next sequence to print; `None` once u64::MAX was reached, after
    // which nothing can be appended.
    let mut next = latest.checked_add(1);
    out.flush()?;
    if !args.follow {
        return Ok(Outcome::Success);
    }
    let pause = Duration::from_millis(args.poll_ms.max(1));
    loop {
        let mut progressed = false;
        if let Some(from) = next {
            // A drop moved the mark past what this follower had read: the
            // entries between were never shown. Say so; never skip them.
            if let Some(mark) = journal.retention_mark()?
                && mark > from
            {
                anyhow::bail!(
                    "tail -f fell behind retention: sequences {from}..={} were dropped before \
                     they were shown (the journal now starts at {mark}; `tail -f` again to \
                     follow from there)",
                    mark - 1
                );
            }
            let mut range = journal.range_ref_from(from)?;
            while let Some(entry) = range.next_entry() {
                let entry = entry?;
                output::write_entry_line(&mut out, &entry)?;
                next = entry.sequence.checked_add(1);
                progressed = true;
            }
        }
        out.flush()?;
        if progressed {
            continue;
        }
        // A read-only handle follows a writer only while the writer is
        // live; what a writer committed just before it exited, or a writer
        // that came and went between two polls, is found by reopening
        // when the directory changed.
        if !open::writer_is_live(&globals.dir) {
            let now = Fingerprint::of(&globals.dir);
            if now != seen {
                seen = now;
                journal = open::open_read_only(globals)?;
                continue;
            }
        }
        std::thread::sleep(pause);
    }
}

/// The first sequence of the last `n` entries up to `latest` (inclusive,
/// `u64::MAX` included), `None` when there are none: windows doubling
/// backwards from the end, so large gaps cost few steps.
fn first_of_last(journal: &DiskJournal, latest: u64, n: u64) -> Result<Option<u64>> {
    if n == 0 || latest == 0 {
        return Ok(None);
    }
    let mut window = n;
    loop {
        // `start..=latest` spans `window` sequences.
        let start = latest.saturating_sub(window - 1).max(1);
        let mut sequences = Vec::new();
        let mut range = journal.range_ref_from(start)?;
        while let Some(entry) = range.next_entry() {
            let sequence = entry?.sequence;
            if sequence > latest {
                break;
            }
            sequences.push(sequence);
        }
        if sequences.len() as u64 >= n || start == 1 {
            let skip = usize::try_from(n).map_or(0, |n| sequences.len().saturating_sub(n));
            return Ok(sequences.get(skip).copied());
        }
        window = window.saturating_mul(2);
    }
}

/// Names, sizes and modification times of the directory's files.
#[derive(PartialEq, Eq)]
struct Fingerprint(Vec<(std::ffi::OsString, u64, Option<SystemTime>)>);

impl Fingerprint {
    fn of(dir: &Path) -> Fingerprint {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|item| item.ok())
            .filter_map(|item| {
                let meta = item.metadata().ok()?;
                Some((item.file_name(), meta.len(), meta.modified().ok()))
            })
            .collect();
        files.sort();
        Fingerprint(files)
    }
}
