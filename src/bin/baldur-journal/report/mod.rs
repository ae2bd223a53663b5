//! `report --html FILE`: a picture of the DLQ in one self-contained HTML
//! page (inline SVG charts and tables, no script, nothing loaded from
//! elsewhere), from one pass over the journal
//! (`JournalStatistics::timeline`). Read-only. The demo ends with it.

mod page;
pub mod svg;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use baldur_journal::disk::{DiskJournal, JournalHead, JournalInfo, VerifyOptions, verify_with};
use baldur_journal::projection::audit::AuditKeyring;
use baldur_journal::projection::timeline::{DAY_NS, DayRow};
use baldur_journal::projection::{
    DEFAULT_SLA_THRESHOLD_HOURS, EntityAuditTrail, JournalStatistics, ManualClock,
    StatisticsRepository, Timeline, TimelineOptions,
};
use baldur_journal::{EventJournal, Timestamp};
use clap::Args;

use crate::Outcome;
use crate::audit::check_all_chains;
use crate::open::{self, Globals};
use crate::stats::{AsOf, NowArg, now_conflict, parse_as_of, parse_time};

/// Days the one pass keeps (the latest), before the window is applied.
const PASS_DAYS_MAX: usize = 36_600;
/// Days the charts show at most: the latest of the window.
pub const CHART_DAYS_MAX: usize = 366;
/// Entries in the "waited longest" table, each with its audit trail.
pub const LONGEST_WAITING: usize = 15;
/// Entries of one audit trail shown; a longer trail shows its first and
/// last ones.
pub const TRAIL_ENTRIES_MAX: usize = 40;

#[derive(Args)]
#[command(
    about = "A picture of the DLQ: one self-contained HTML page of charts and tables",
    long_about = "Writes one self-contained HTML file (no script, nothing loaded from the \
network: it opens from an e-mail attachment or an air-gapped laptop) with inline SVG charts, \
from one pass over the journal: DLQ entries created, resolved, rejected and expired per day; the \
backlog and the whole status mix at the end of each day, stacked; failure types by domain as a \
heat map; SLA breaches (waiting longer than 4 hours) by age and domain; each circuit breaker's \
timeline with its states as bands; replay outcomes per day; journal health (segments, bytes, \
the head to record as an anchor, and with --verify the verify result). Beside them, the \
entries that have waited longest, each linked to its audit trail, rendered in the page. \
Days are UTC days of the events' times. --since and --until filter event time as query's do \
(the days charted, the entries counted in the heat map); the breaches and the entries waiting \
are the state at now. Windows are measured from now: the wall clock, --now TIME, or the TIME of \
--as-of TIME (--as-of SEQUENCE --now TIME sets the now of that past view). Opens the journal \
read-only.",
    after_help = "Examples:
  baldur-journal report --html report.html
  baldur-journal --dir /mnt/copy-of-journal report --html report.html --verify
  baldur-journal report --html last-week.html --since 2025-01-01T00:00:00Z --until 2025-01-08T00:00:00Z
  baldur-journal report --html then.html --as-of 2025-01-01T12:00:00Z"
)]
pub struct ReportArgs {
    /// The HTML file to write (replaced if it exists)
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
    /// Events at or after this time (RFC 3339)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<Timestamp>,
    /// Events before this time (exclusive)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<Timestamp>,
    #[command(flatten)]
    pub now: NowArg,
    /// Report as of a past point: a SEQUENCE (the journal up to it) or a TIME (records
    /// appended at or before it; windows measured from it)
    #[arg(long, value_name = "SEQUENCE|TIME", value_parser = parse_as_of)]
    pub as_of: Option<AsOf>,
    /// Also verify the journal (every CRC, footer, digest chain, index and audit chain, as
    /// `verify` does) and show the result; slower: it reads every byte
    #[arg(long)]
    verify: bool,
}

impl ReportArgs {
    /// The usage mistake in the flags, if any.
    pub fn conflict(&self) -> Option<String> {
        if let (Some(since), Some(until)) = (self.since, self.until)
            && until <= since
        {
            return Some(format!(
                "--until {until} is not after --since {since}: the window is empty"
            ));
        }
        now_conflict(self.as_of, self.now.now)
    }
}

/// What a report is of, and how it is drawn.
pub struct Settings {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub now: Option<Timestamp>,
    pub as_of: Option<AsOf>,
    /// Where the journal is, as the page names it.
    pub source: String,
}

/// `verify`'s result, as the page shows it.
pub struct Verified {
    pub problems: Vec<String>,
    pub segments: usize,
    pub records: u64,
    pub chains: u64,
    pub took: Duration,
}

/// The disk journal's health: segments and the head.
pub struct Health {
    pub info: JournalInfo,
    pub head: JournalHead,
}

/// Everything the page shows.
pub struct Report {
    pub settings: Settings,
    pub timeline: Timeline,
    /// The days charted: the window's, at most [`CHART_DAYS_MAX`].
    pub days: Vec<DayRow>,
    pub now: Timestamp,
    pub failure_types_by_domain: Vec<baldur_journal::projection::timeline::DomainFailureCount>,
    /// The longest-waiting entries' trails, in the table's order.
    pub trails: Vec<EntityAuditTrail>,
    pub health: Option<Health>,
    pub verified: Option<Verified>,
    pub collected_in: Duration,
}

pub fn run_report(globals: &Globals, args: &ReportArgs) -> Result<Outcome> {
    if let Some(message) = args.conflict() {
        bail!(message);
    }
    let opened = open::open_read(globals)?;
    let disk = match &opened {
        open::Opened::Disk(journal) => Some(journal.clone()),
        open::Opened::Other(_) => None,
    };
    let settings = Settings {
        since: args.since,
        until: args.until,
        now: args.now.now,
        as_of: args.as_of,
        source: globals
            .url
            .as_ref()
            .map_or_else(|| globals.dir.display().to_string(), |url| url.to_string()),
    };
    let bar = crate::output::progress(None, "collecting the report", "");
    let report = collect(opened.shared(), disk.as_ref(), settings);
    bar.finish_and_clear();
    let mut report = report?;
    if args.verify {
        report.verified = Some(match &disk {
            Some(journal) => verify(&globals.dir, journal.clone())?,
            None => bail!(
                "--verify checks a file journal's bytes (--dir or --journal file:///path); \
                 run `verify` for other backends"
            ),
        });
    }
    let bytes = write(&args.html, &report)?;
    println!(
        "wrote {} ({}, {} days, {} breakers, {} entries waiting)",
        args.html.display(),
        crate::output::human_bytes(bytes),
        report.days.len(),
        report.timeline.breakers.len(),
        report.timeline.waiting.len()
    );
    Ok(match &report.verified {
        Some(verified) if !verified.problems.is_empty() => Outcome::ProblemsFound,
        _ => Outcome::Success,
    })
}

/// Renders `report` and writes it to `path`; returns its size in bytes.
pub fn write(path: &Path, report: &Report) -> Result<u64> {
    let html = page::render(report);
    std::fs::write(path, &html).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(html.len() as u64)
}

/// Collects everything the page shows, in one pass over `journal` (and,
/// for a disk journal, its segment list and head).
pub fn collect(
    journal: Arc<dyn EventJournal>,
    disk: Option<&Arc<DiskJournal>>,
    settings: Settings,
) -> Result<Report> {
    let started = Instant::now();
    let mut builder = JournalStatistics::builder(journal);
    if let Some(now) = settings.now {
        builder = builder.clock(ManualClock::new(now));
    }
    let statistics = builder.build()?;
    let options = TimelineOptions {
        last_sequence: match settings.as_of {
            Some(AsOf::Sequence(sequence)) => Some(sequence),
            _ => None,
        },
        appended_until: match settings.as_of {
            Some(AsOf::Time(time)) => Some(time),
            _ => None,
        },
    };
    let (timeline, view) = statistics.timeline(&options, PASS_DAYS_MAX)?;
    let now = view.now();
    let days = window(&timeline.days, settings.since, settings.until);
    let failure_types_by_domain = view.failure_types_by_domain(
        settings.since,
        settings
            .until
            .map(|t| Timestamp::from_unix_nanos(t.as_unix_nanos().saturating_sub(1))),
    );
    let mut trails = Vec::new();
    for entry in timeline.waiting.iter().take(LONGEST_WAITING) {
        trails.push(view.get_audit_trail_by_entity(&entry.id, "dlq_entry")?);
    }
    let health = match disk {
        Some(journal) => Some(Health {
            info: journal.info()?,
            head: journal.head()?,
        }),
        None => None,
    };
    Ok(Report {
        settings,
        days,
        now,
        failure_types_by_domain,
        trails,
        health,
        verified: None,
        collected_in: started.elapsed(),
        timeline,
    })
}

/// The days in `[since, until)` (a day counts when any of it is inside),
/// the latest [`CHART_DAYS_MAX`] of them.
fn window(days: &[DayRow], since: Option<Timestamp>, until: Option<Timestamp>) -> Vec<DayRow> {
    let inside: Vec<DayRow> = days
        .iter()
        .filter(|day| {
            let start = day.start.as_unix_nanos();
            since.is_none_or(|t| start.saturating_add(DAY_NS) > t.as_unix_nanos())
                && until.is_none_or(|t| start < t.as_unix_nanos())
        })
        .cloned()
        .collect();
    let skip = inside.len().saturating_sub(CHART_DAYS_MAX);
    inside[skip..].to_vec()
}

/// `verify`'s checks of the directory, then of every audit chain.
fn verify(dir: &Path, journal: Arc<baldur_journal::DiskJournal>) -> Result<Verified> {
    let started = Instant::now();
    let report = verify_with(dir, &VerifyOptions::default())?;
    let mut problems: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    let mut chains = 0;
    if problems.is_empty() {
        let anchors = crate::audit::anchors_of(&journal)?;
        let checked = check_all_chains(journal, AuditKeyring::new(), anchors)?;
        problems.extend(checked.problems);
        chains = checked.chains;
    }
    Ok(Verified {
        problems,
        segments: report.segments,
        records: report.records,
        chains,
        took: started.elapsed(),
    })
}

/// The SLA the page's breaches are measured against, in nanoseconds.
pub const SLA_NS: i64 = DEFAULT_SLA_THRESHOLD_HOURS as i64 * 3_600_000_000_000;
