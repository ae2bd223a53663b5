//! `segments drop`: retention by hand. It drops the oldest sealed segments
//! a selection names (by age, by total size, by sequence) behind a durable
//! retention mark, as a writer configured with a policy does on each roll
//! (docs/DESIGN.md, "Retention").

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use baldur_journal::disk::{DropReport, RetentionPolicy};
use baldur_journal::projection::{JournalStatistics, SnapshotConfig};
use baldur_journal::{DiskJournal, Durability, EventJournal, Timestamp};
use clap::{Args, Subcommand};

use crate::Outcome;
use crate::open::{self, Globals};
use crate::output;

#[derive(Args)]
#[command(
    about = "Drop the oldest sealed segments (retention)",
    long_about = "Work on whole segment files. `drop` removes the oldest sealed segments the \
selection names, behind a durable retention mark: the journal then starts at the mark, which \
`info` and `verify` report, and a range that starts below it says so."
)]
pub struct SegmentsArgs {
    #[command(subcommand)]
    command: SegmentsCommand,
}

#[derive(Subcommand)]
enum SegmentsCommand {
    Drop(DropArgs),
    Move(MoveArgs),
    Purge(PurgeTierArgs),
}

#[derive(Args)]
#[command(
    about = "Delete the oldest segments of a tier directory (moved there by `segments move`)",
    long_about = "Deletes the oldest segments of the tier directory that the selection names \
(--older-than measures from the wall clock, or --now). The live \
journal is not touched and no lock is needed; what remains of the tier still chains to the \
journal's retention mark (`--tier-dir DIR verify`). The reference's \
EventJournalLifecycle.purge_archived maps onto this; `segments move` is its archive_older_than.",
    after_help = "Examples:
  baldur-journal segments purge --tier /mnt/cold/journal --older-than 365d --dry-run"
)]
pub struct PurgeTierArgs {
    /// The tier directory
    #[arg(long, value_name = "DIR")]
    tier: PathBuf,
    #[command(flatten)]
    selection: Selection,
    /// Say what would be deleted; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(
    about = "Move the oldest sealed segments a selection names to a tier directory",
    long_about = "Tiered storage: like `drop` (the same selection, floor, lock and retention \
mark), but each selected segment's log and index are first copied to DIR (another disk, \
another file system, a mounted bucket), synced, and the copy proven (read back, it hashes to \
the segment's digest); only then is the original removed. Read the journal together with its \
tier with the global --tier-dir DIR (any command that only reads; `verify` checks the digest \
chain across both).",
    after_help = "Examples:
  baldur-journal segments move --to /mnt/cold/journal --older-than 30d
  baldur-journal --tier-dir /mnt/cold/journal range 1 100
  baldur-journal --tier-dir /mnt/cold/journal verify"
)]
pub struct MoveArgs {
    /// The tier directory (created if missing; it keeps a copy of journal.meta and belongs to
    /// this journal only)
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    #[command(flatten)]
    retain: RetainArgs,
}

/// Which sealed segments, oldest first: any rule selects a segment.
#[derive(Args, Clone)]
pub struct Selection {
    /// Segments whose newest append is older than this (30d, 12h, 90m, 45s, 2w), measured
    /// from --now
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    older_than: Option<Duration>,
    /// The oldest segments until the segment files take at most this (K, M, G suffixes)
    #[arg(long, value_name = "BYTES", value_parser = open::parse_size)]
    max_bytes: Option<u64>,
    /// Segments whose every sequence is below SEQ
    #[arg(long, value_name = "SEQ")]
    below: Option<u64>,
    /// Measure --older-than from TIME (RFC 3339) [default: the wall clock]; `latest`: from
    /// the journal's newest append time, as a writer's policy does
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    now: Option<Now>,
}

#[derive(Args)]
#[command(
    about = "Drop the oldest sealed segments a selection names, behind a durable retention mark",
    long_about = "Drops the oldest sealed segments that --older-than, --max-bytes or --below \
select (any of them), never the active segment, and says what it removed. First it brings the \
statistics snapshot up to date, and it never drops the segment holding the snapshot's record, \
so the statistics can always be rebuilt from the snapshot and what remains (the floor); \
--force drops past the floor and says which statistics can then no longer be rebuilt. It takes \
the writer's lock: while a writer runs, it refuses (configure the policy on that writer: \
DiskJournalBuilder::retention). The drop appends a retention mark (the new first sequence and \
the last dropped segment's digest) and syncs it before it unlinks anything, so a crash leaves \
the old mark or the new one.",
    after_help = "Examples:
  baldur-journal segments drop --older-than 30d --dry-run
  baldur-journal segments drop --max-bytes 10G
  baldur-journal segments drop --below 5000000"
)]
pub struct DropArgs {
    #[command(flatten)]
    retain: RetainArgs,
}

/// What a drop and a move share: the selection and how to run it.
#[derive(Args)]
pub struct RetainArgs {
    #[command(flatten)]
    selection: Selection,
    /// Say what would be dropped or moved; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Go past the statistics snapshot's floor (the statistics before the mark can then
    /// no longer be rebuilt)
    #[arg(long)]
    force: bool,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

/// `--now`: a time, or the journal's newest append.
#[derive(Clone, Copy)]
enum Now {
    At(Timestamp),
    Latest,
}

fn parse_now(text: &str) -> Result<Now, String> {
    if text == "latest" {
        return Ok(Now::Latest);
    }
    crate::stats::parse_time(text).map(Now::At)
}

/// An age: a number and a unit, `s`, `m`, `h`, `d` or `w` (`30d`, `12h`).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "expected an age like 30d, 12h, 90m, 45s or 2w, got {text:?}"
            ));
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected an age like 30d, 12h, 90m, 45s or 2w, got {text:?}"))?;
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

impl Selection {
    fn policy(&self) -> Result<RetentionPolicy> {
        if self.older_than.is_none() && self.max_bytes.is_none() && self.below.is_none() {
            bail!("say which segments: give --older-than, --max-bytes or --below");
        }
        Ok(RetentionPolicy {
            older_than: self.older_than,
            max_bytes: self.max_bytes,
            below: self.below,
            now: match self.now {
                None => Some(Timestamp::now()),
                Some(Now::At(t)) => Some(t),
                Some(Now::Latest) => None,
            },
        })
    }
}

pub fn run_segments(globals: &Globals, args: &SegmentsArgs) -> Result<Outcome> {
    match &args.command {
        SegmentsCommand::Drop(args) => run_retain(globals, &args.retain, None),
        SegmentsCommand::Purge(args) => {
            let policy = args.selection.policy()?;
            let report = baldur_journal::disk::purge_tier(&args.tier, &policy, args.dry_run)?;
            print_report(&report, None, None, args.json, None)?;
            Ok(Outcome::Success)
        }
        SegmentsCommand::Move(args) => run_retain(globals, &args.retain, Some(&args.to)),
    }
}

/// A drop, or (with `tier`) a move there.
fn run_retain(globals: &Globals, args: &RetainArgs, tier: Option<&Path>) -> Result<Outcome> {
    if globals.url.is_some() {
        bail!("segments works on a file journal's directory (--dir or --journal file://...)");
    }
    open::require_dir(&globals.dir)?;
    let policy = args.selection.policy()?;
    if baldur_journal::disk::writer_is_live(&globals.dir) {
        bail!(
            "a writer is running on {}: segments drop needs the writer's lock; configure the \
             retention policy on that writer instead (DiskJournalBuilder::retention)",
            globals.dir.display()
        );
    }
    let journal = Arc::new(open::open_writer(globals, Durability::Always, None)?);
    // The floor: the statistics snapshot, brought up to date first, so the
    // statistics stay rebuildable from it and what remains.
    let floor = if args.force {
        None
    } else {
        statistics_floor(&journal)?
    };
    journal.set_retention_floor(floor);
    let report = match (args.dry_run, tier) {
        (true, _) => journal.plan_drop(&policy)?,
        (false, None) => journal.drop_segments(&policy)?,
        (false, Some(tier)) => journal.move_segments(&policy, tier)?,
    };
    let forced_past = if args.force {
        snapshot_sequence(&journal).filter(|&s| report.dropped.iter().any(|d| d.last_sequence >= s))
    } else {
        None
    };
    journal.close()?;
    print_report(&report, floor, forced_past, args.json, tier)?;
    Ok(Outcome::Success)
}

/// Brings the statistics snapshot up to date and returns its sequence (the
/// floor): `None` for an empty journal.
fn statistics_floor(journal: &Arc<DiskJournal>) -> Result<Option<u64>> {
    let statistics = JournalStatistics::builder(journal.clone())
        .snapshot(SnapshotConfig::for_disk(&**journal))
        .build()?;
    statistics.snapshot_now()?;
    Ok(snapshot_sequence(journal).or(Some(journal.get_latest_sequence()?.max(1))))
}

/// The sequence of the journal's valid statistics snapshot, if any.
fn snapshot_sequence(journal: &DiskJournal) -> Option<u64> {
    baldur_journal::projection::snapshot_sequence(&SnapshotConfig::for_disk(journal), journal)
        .ok()
        .flatten()
}

fn print_report(
    report: &DropReport,
    floor: Option<u64>,
    forced_past: Option<u64>,
    json: bool,
    tier: Option<&Path>,
) -> Result<()> {
    let mut out = output::stdout();
    let verb = match (report.dry_run, tier) {
        (true, None) => "would drop",
        (false, None) => "dropped",
        (true, Some(_)) => "would move",
        (false, Some(_)) => "moved",
    };
    let whither = tier.map_or_else(String::new, |t| format!(" to {}", t.display()));
    if json {
        let dropped: Vec<_> = report
            .dropped
            .iter()
            .map(|d| {
                serde_json::json!({
                    "file": d.path.display().to_string(),
                    "base_sequence": d.base_sequence,
                    "last_sequence": d.last_sequence,
                    "records": d.records,
                    "bytes": d.bytes,
                    "newest_append": d.newest_append.map(|t| t.to_string()),
                })
            })
            .collect();
        let value = serde_json::json!({
            "dry_run": report.dry_run,
            "dropped": dropped,
            "first_retained_sequence": report.first_retained,
            "floor": floor,
            "held_by_floor": report.held_by_floor,
            "tier": tier.map(|t| t.display().to_string()),
        });
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    } else {
        for d in &report.dropped {
            writeln!(
                out,
                "{verb} {}{whither} (sequences {}..={}, {} records, {} bytes)",
                d.path.display(),
                d.base_sequence,
                d.last_sequence,
                d.records,
                d.bytes
            )?;
        }
        let bytes: u64 = report.dropped.iter().map(|d| d.bytes).sum();
        writeln!(
            out,
            "{verb} {} segments, {bytes} bytes{whither}; the journal starts at sequence {}",
            report.dropped.len(),
            report.first_retained.max(1)
        )?;
    }
    out.flush()?;
    if let Some(floor) = report.held_by_floor {
        eprintln!(
            "note: stopped at the statistics floor, sequence {floor} (the snapshot's record): \
             --force drops past it"
        );
    }
    if let Some(sequence) = forced_past {
        eprintln!(
            "warning: --force dropped the statistics snapshot's record (sequence {sequence}): \
             the statistics of the dropped records can no longer be rebuilt; `stats` now folds \
             from sequence {} on",
            report.first_retained
        );
    }
    for (path, error) in &report.leftovers {
        eprintln!(
            "warning: could not remove {} ({error}); the next writer's open removes it",
            path.display()
        );
    }
    Ok(())
}
