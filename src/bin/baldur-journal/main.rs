//! `baldur-journal`: the command-line tool over the journal library.
//!
//! Append and import JSON lines, export and replay them, query and count,
//! inspect, verify and follow a journal; read the DLQ statistics folded
//! over it (`stats`, `dashboard`, `report`, `audit`), run their cleanup (`archive`,
//! `purge`), and run the demo. A thin layer:
//! every command is a few library calls (see `docs/DESIGN.md`). Commands
//! that only read open the journal read-only and never write to its
//! directory. Exit status: 0 success, 1 problems found (`verify`, `audit`) or
//! no match (`stats entry`), 2 usage,
//! I/O or any other error, reported as one `error: ...` line on stderr.

mod append;
mod audit;
mod bench;
mod copy;
mod dashboard;
mod demo;
mod filter;
mod info;
mod lifecycle;
mod open;
mod output;
mod read;
mod report;
mod segments;
mod stats;
mod tail;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::open::Globals;

const AFTER_HELP: &str = "\
Examples:
  baldur-journal demo                               # the main job: a demo journal in ./baldur-data
  echo '{\"event_type\":\"circuit_breaker_opened\",\"source\":\"breaker\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"service_name\":\"payments\"}' \\
    | baldur-journal append                         # prints the durable sequence
  baldur-journal query --event-type circuit_breaker_opened --service payments --limit 5
  baldur-journal export > events.jsonl && baldur-journal --dir copy import --keep-sequence events.jsonl
  baldur-journal --dir /mnt/copy-of-journal verify
  baldur-journal --dir /mnt/copy-of-journal --salvage export > recovered.jsonl
  baldur-journal tail -f
  baldur-journal dashboard                          # the DLQ statistics at a glance
  baldur-journal report --html report.html          # the DLQ over time, one self-contained page
  baldur-journal stats list --status requires_review --order-by created_at --json
  baldur-journal audit dlq-000042                   # VALID, or BROKEN AT n (exit 1)

The journal directory is --dir, else $BALDUR_JOURNAL_DIR, else ./baldur-data.
Commands that only read (query, count, range, latest, info, verify, export,
tail, stats, dashboard, report, audit) open the journal read-only and never write to
the directory; archive and purge append their events as the writer.

Exit status:
  0  success (verify: the journal is clean)
  1  problems found (verify printed one line per problem, a broken audit chain included;
     audit: the trail is BROKEN, or keyed and its key not given with --key-file),
     or no match (stats entry ID: no entry has that id; `null` with --json),
     or, under --salvage, a hole: records that could not be read (listed on stderr)
  2  usage error, I/O error, or any other failure (one `error: ...` line on stderr)";

#[derive(Parser)]
#[command(
    name = "baldur-journal",
    version,
    about = "A durable, append-only event journal: append, query, replay, verify, follow",
    after_help = AFTER_HELP,
    propagate_version = true
)]
struct Cli {
    /// Journal directory [default: $BALDUR_JOURNAL_DIR, else ./baldur-data]
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        help_heading = "Global options"
    )]
    dir: Option<PathBuf>,
    /// The journal by URL: file:///path or a path (the same as --dir), memory:, or
    /// redis://host:port/db?prefix=NAME[&layout=baldur], or a Redis Cluster
    /// redis+cluster://h1:7000,h2:7001/?prefix=NAME (docs/REDIS.md). Commands that
    /// need the disk format (info, tail, demo, bench, and verify's file checks) take
    /// file journals only
    #[arg(
        long,
        global = true,
        value_name = "URL",
        conflicts_with = "dir",
        help_heading = "Global options"
    )]
    journal: Option<String>,
    /// Segment size when a journal is created (65536 and up; K, M, G suffixes; ignored
    /// for an existing journal) [default: 128M; demo: 16M]
    #[arg(
        long,
        global = true,
        value_name = "BYTES",
        value_parser = open::parse_size,
        help_heading = "Global options"
    )]
    segment_bytes: Option<u64>,
    /// Read a journal with missing, truncated or damaged segments: serve every record that
    /// can be found (intact segments whole; in a damaged one, the records before the damage
    /// and those found again after it), list each hole (file, offset, missing sequences) on
    /// stderr, and exit 1 when there is one. For the commands that only read (export, copy's
    /// source, range, query, count, latest, stats, dashboard, report, audit, info, tail without -f)
    #[arg(long, global = true, help_heading = "Global options")]
    salvage: bool,
    /// Read the journal together with the tier directory its old segments were moved to
    /// (`segments move --to DIR`), as one journal, for forensic work and replay; `verify`
    /// checks the digest chain across both. For the commands that only read
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        help_heading = "Global options"
    )]
    tier_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Append(append::AppendArgs),
    Import(append::ImportArgs),
    Export(read::ExportArgs),
    Query(read::QueryArgs),
    Count(read::CountArgs),
    Range(read::RangeArgs),
    Latest(read::LatestArgs),
    Info(info::InfoArgs),
    Verify(info::VerifyArgs),
    Tail(tail::TailArgs),
    Stats(stats::StatsArgs),
    Dashboard(dashboard::DashboardArgs),
    Report(report::ReportArgs),
    Audit(audit::AuditArgs),
    Archive(lifecycle::ArchiveArgs),
    Purge(lifecycle::PurgeArgs),
    Demo(demo::DemoArgs),
    Bench(bench::BenchArgs),
    Copy(copy::CopyArgs),
    Segments(segments::SegmentsArgs),
}

/// A usage mistake clap cannot see alone: `--now` with `--as-of TIME`, an
/// END below START.
fn usage_conflict(command: &Command) -> Option<String> {
    match command {
        Command::Range(args) => args.inverted(),
        Command::Export(args) => args.inverted(),
        Command::Stats(args) => stats::view_conflict(&args.view, args.now.now),
        Command::Dashboard(args) => stats::view_conflict(&args.view, args.now.now),
        Command::Report(args) => args.conflict(),
        _ => None,
    }
}

/// `--tier-dir` with a command that writes.
fn tier_conflict(cli: &Cli) -> Option<String> {
    cli.tier_dir.as_ref()?;
    let name = match &cli.command {
        Command::Append(_) => "append",
        Command::Import(_) => "import",
        Command::Archive(_) => "archive",
        Command::Purge(_) => "purge",
        Command::Demo(_) => "demo",
        Command::Bench(_) => "bench",
        Command::Segments(_) => "segments",
        _ => return None,
    };
    Some(format!(
        "--tier-dir reads a journal together with its tier, and `{name}` writes to the journal \
         (segments move takes its tier as --to)"
    ))
}

/// `--salvage` with a command that writes, follows or verifies.
fn salvage_conflict(cli: &Cli) -> Option<String> {
    if !cli.salvage {
        return None;
    }
    let name = match &cli.command {
        Command::Append(_) => "append",
        Command::Import(_) => "import",
        Command::Archive(_) => "archive",
        Command::Segments(_) => "segments",
        Command::Purge(_) => "purge",
        Command::Demo(_) => "demo",
        Command::Bench(_) => "bench",
        Command::Verify(_) => {
            return Some(
                "--salvage cannot be used with verify: verify already reads every byte and \
                 names every problem"
                    .into(),
            );
        }
        Command::Tail(args) if args.follow => {
            return Some(
                "--salvage cannot be used with tail -f: a salvage read is fixed at open and \
                 never follows a writer"
                    .into(),
            );
        }
        _ => return None,
    };
    Some(format!(
        "--salvage is a read-only mode and `{name}` writes to the journal"
    ))
}

/// What a command found, for the exit status.
pub enum Outcome {
    Success,
    ProblemsFound,
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let mut globals = Globals::from_flags(cli.dir, cli.journal.as_deref(), cli.segment_bytes)?;
    globals.salvage = cli.salvage;
    globals.tier_dir = cli.tier_dir.clone();
    let outcome = run_command(&globals, cli.command);
    if !globals.salvage {
        return outcome;
    }
    // One rule for every command under --salvage: it answered from what
    // was recovered; each hole is listed, and any hole means exit 1.
    let holes = open::take_holes();
    for hole in &holes {
        eprintln!("salvage: hole: {hole}");
    }
    if holes.is_empty() {
        return outcome;
    }
    eprintln!(
        "salvage: {} holes: the answer above is from the records that could be read",
        holes.len()
    );
    outcome.map(|_| Outcome::ProblemsFound)
}

fn run_command(globals: &Globals, command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Append(args) => append::run_append(globals, &args),
        Command::Import(args) => append::run_import(globals, &args),
        Command::Export(args) => read::run_export(globals, &args),
        Command::Query(args) => read::run_query(globals, &args),
        Command::Count(args) => read::run_count(globals, &args),
        Command::Range(args) => read::run_range(globals, &args),
        Command::Latest(args) => read::run_latest(globals, &args),
        Command::Info(args) => info::run_info(globals, &args),
        Command::Verify(args) => info::run_verify(globals, &args),
        Command::Tail(args) => tail::run_tail(globals, &args),
        Command::Stats(args) => stats::run_stats(globals, &args),
        Command::Dashboard(args) => dashboard::run_dashboard(globals, &args),
        Command::Report(args) => report::run_report(globals, &args),
        Command::Audit(args) => audit::run_audit(globals, &args),
        Command::Archive(args) => lifecycle::run_archive(globals, &args),
        Command::Segments(args) => segments::run_segments(globals, &args),
        Command::Purge(args) => lifecycle::run_purge(globals, &args),
        Command::Demo(args) => demo::run_demo(globals, &args),
        Command::Bench(args) => bench::run_bench(globals, &args),
        Command::Copy(args) => copy::run_copy(globals, &args),
    }
}

/// The error and its causes on one line, each cause once (the library's
/// I/O errors already print their source).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace(['\n', '\r'], " ")
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// A clap usage error on one line: its message, any tip, and the usage
/// line (help and version requests print as clap prints them).
fn usage_error_line(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    for paragraph in text.split("\n\n") {
        let joined = paragraph
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if joined.is_empty() || joined.starts_with("For more information") {
            continue;
        }
        let joined = joined
            .strip_prefix("error: ")
            .unwrap_or(&joined)
            .to_string();
        parts.push(match joined.strip_prefix("Usage: ") {
            Some(usage) => format!("usage: {usage}"),
            None => joined,
        });
    }
    format!("{} (see --help)", parts.join("; "))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                error.exit();
            }
            eprintln!("error: {}", usage_error_line(&error));
            return ExitCode::from(2);
        }
    };
    if let Some(message) = usage_conflict(&cli.command)
        .or_else(|| salvage_conflict(&cli))
        .or_else(|| tier_conflict(&cli))
    {
        let error = Cli::command().error(ErrorKind::ArgumentConflict, message);
        eprintln!("error: {}", usage_error_line(&error));
        return ExitCode::from(2);
    }
    match run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::ProblemsFound) => ExitCode::from(1),
        // The reader went away (`| head`): stop quietly, as `cat` does.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::from(2)
        }
    }
}
