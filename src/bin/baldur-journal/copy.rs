//! `copy --from URL --to URL`: a journal from one backend to another,
//! every entry at its own sequence (gaps kept) with its append time.

use std::io::Write;

use anyhow::{Context, Result, bail};
use baldur_journal::url::open_parsed;
use baldur_journal::{DiskJournal, Durability, EntryIter, EventJournal, JournalUrl};
use clap::Args;

use crate::Outcome;
use crate::output;

#[derive(Args)]
#[command(
    about = "Copy a journal between backends (file, Redis, memory), sequences and gaps kept",
    long_about = "Reads every entry of --from in sequence order and appends it to --to at the \
same sequence (gaps stay gaps) with its append time, where the source keeps one. URLs: \
file:///path or a path, redis://host:port/db?prefix=NAME[&layout=baldur], \
redis+cluster://h1:7000,h2:7001/?prefix=NAME, memory:. The \
source is opened read-only. A file destination is created when missing, written without a \
sync per entry and synced once at the end (exit 0 means every copied entry is durable). The \
destination must be empty, unless --resume: then only the source's entries after the \
destination's latest sequence are copied (to finish an interrupted copy). Prints what it \
copied.",
    after_help = "Examples:
  baldur-journal copy --from ./baldur-data --to 'redis://127.0.0.1:6379/0?prefix=orders'
  baldur-journal copy --from 'redis://10.0.0.5/0?layout=baldur' --to file:///srv/forensics/j
  baldur-journal copy --from ./a --to ./b --resume"
)]
pub struct CopyArgs {
    /// The journal to read
    #[arg(long, value_name = "URL")]
    from: String,
    /// The journal to write
    #[arg(long, value_name = "URL")]
    to: String,
    /// Copy only the source's entries after the destination's latest sequence
    #[arg(long)]
    resume: bool,
}

pub fn run_copy(globals: &crate::open::Globals, args: &CopyArgs) -> Result<Outcome> {
    let from = JournalUrl::parse(&args.from).with_context(|| format!("--from {}", args.from))?;
    let to = JournalUrl::parse(&args.to).with_context(|| format!("--to {}", args.to))?;
    if from == to && from != JournalUrl::Memory {
        bail!("--from and --to are the same journal ({from})");
    }
    if let JournalUrl::File(dir) = &from {
        crate::open::require_dir(dir)?;
    }
    let source: Box<dyn EventJournal> = match &from {
        JournalUrl::File(dir) if globals.salvage => Box::new(
            crate::open::open_dir_read_only(dir, true, None)
                .with_context(|| format!("opening {from}"))?,
        ),
        _ if globals.salvage => {
            bail!("--salvage reads file journals (a path or file:///path), not {from}")
        }
        _ => open_parsed(&from, true).with_context(|| format!("opening {from}"))?,
    };
    crate::open::warn_if_memory(&to);
    let destination: Box<dyn EventJournal> = match &to {
        JournalUrl::File(dir) => Box::new({
            crate::open::refuse_non_directory(dir)?;
            DiskJournal::builder(dir)
                .durability(Durability::Os)
                .create_if_missing(true)
                .open()
                .with_context(|| format!("opening {to}"))?
        }),
        other => open_parsed(other, false).with_context(|| format!("opening {to}"))?,
    };
    let after = destination.get_latest_sequence()?;
    if after > 0 && !args.resume {
        bail!(
            "{to} already holds entries (latest sequence {after}): copy into an empty journal, \
             or give --resume to copy only the source's entries after {after}"
        );
    }
    let latest = source.get_latest_sequence()?;
    let bar = output::progress(Some(latest.saturating_sub(after)), "copying", "sequences");
    let (mut copied, mut first, mut last) = (0u64, None, 0u64);
    // After u64::MAX nothing can follow: a destination ending there is
    // complete.
    let entries: EntryIter<'_> = match after.checked_add(1) {
        Some(first) => source.range_iter_from(first)?,
        None => Box::new(std::iter::empty()),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {from}"))?;
        destination
            .append_at(entry.sequence, &entry)
            .with_context(|| format!("writing sequence {} to {to}", entry.sequence))?;
        copied += 1;
        first.get_or_insert(entry.sequence);
        last = entry.sequence;
        if copied.is_multiple_of(1024) {
            bar.set_position(last - after);
        }
    }
    destination
        .sync()
        .with_context(|| format!("syncing {to}"))?;
    drop(destination);
    bar.finish_and_clear();
    let mut out = output::stdout();
    match first {
        Some(first) => writeln!(
            out,
            "copied {copied} entries (sequences {first}..={last}) from {from} to {to}"
        )?,
        None => writeln!(out, "copied 0 entries: nothing in {from} after {after}")?,
    }
    out.flush()?;
    Ok(Outcome::Success)
}
