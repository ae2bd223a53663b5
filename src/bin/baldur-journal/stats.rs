//! `stats`: the DLQ statistics folded over the journal, one subcommand per
//! read method of `StatisticsRepository`, now or `--as-of` a past sequence
//! or time, readable or `--json` (the seed's field names). Read-only.

use std::io::{self, Write};
use std::sync::Arc;

use anyhow::{Result, bail};
use baldur_journal::projection::status::ALL_STATUSES;
use baldur_journal::projection::{
    CircuitBreakerInfo, CircuitBreakerSummary, DEFAULT_DISTRIBUTION_LIMIT, DEFAULT_PAGE_SIZE,
    DEFAULT_RECENT_DAYS, DEFAULT_RECENT_HOURS, DEFAULT_RESOLUTION_DAYS,
    DEFAULT_SLA_THRESHOLD_HOURS, DomainDistribution, EntryListQuery, EntrySummary,
    FailureTypeDistribution, FoldSummary, JournalStatistics, ManualClock, ORDER_BY_COLUMNS,
    PaginatedResult, RecentActivity, SnapshotConfig, StatisticsRepository,
};
use baldur_journal::{EventJournal, Timestamp};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::Outcome;
use crate::open::{self, Globals};
use crate::output::{self, maybe_time, time_to_second, write_columns};

/// A point in the journal's past.
#[derive(Clone, Copy, Debug)]
pub enum AsOf {
    /// The journal as it was when its latest sequence was this one.
    Sequence(u64),
    /// What a dashboard showed at this time (records appended at or before it).
    Time(Timestamp),
}

/// `--as-of`: a sequence number, or an RFC 3339 time.
pub fn parse_as_of(text: &str) -> Result<AsOf, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(AsOf::Sequence)
            .map_err(|_| format!("sequence {text:?} is too large"));
    }
    Timestamp::parse(text).map(AsOf::Time).map_err(|_| {
        format!(
            "expected a sequence number or an RFC 3339 time like 2025-01-01T00:00:00Z, got {text:?}"
        )
    })
}

/// An RFC 3339 time (`--now`).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text)
        .map_err(|_| format!("expected an RFC 3339 time like 2025-01-01T00:00:00Z, got {text:?}"))
}

/// `--now`, for the commands whose answers depend on a time window.
#[derive(Args, Clone, Copy)]
pub struct NowArg {
    /// Measure every window ("the last 30 days", "older than 4 hours") from
    /// TIME (RFC 3339) instead of the wall clock; with --as-of SEQUENCE, the
    /// now of that past view. Not with --as-of TIME, which is its own now
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
}

/// The usage mistake in `--as-of` and `--now` together, if any: a time
/// given to `--as-of` already fixes now.
pub fn now_conflict(as_of: Option<AsOf>, now: Option<Timestamp>) -> Option<String> {
    match (as_of, now) {
        (Some(AsOf::Time(_)), Some(_)) => Some(
            "the argument '--now <TIME>' cannot be used with '--as-of <TIME>': a time given to \
             --as-of is already the now (use --as-of SEQUENCE --now TIME to set the now of a past \
             view)"
                .into(),
        ),
        _ => None,
    }
}

/// The options every statistics command shares.
#[derive(Args, Clone)]
pub struct ViewArgs {
    /// Answer as of a past point: a SEQUENCE (the journal up to it, windows
    /// measured from now, or from --now where the command has it) or a TIME (what a dashboard showed then: records
    /// appended at or before it, windows measured from it)
    #[arg(long, global = true, value_name = "SEQUENCE|TIME", value_parser = parse_as_of)]
    pub as_of: Option<AsOf>,
    /// Print the answer as JSON, with the seed's field names
    #[arg(long, global = true)]
    pub json: bool,
    /// Answer from the reference's SQL tables (baldur_dlq, baldur_cb_state)
    /// at URL (sqlite:///relative.db or sqlite:////absolute.db) instead of
    /// folding the journal; opened read-only. Not with --as-of: a table
    /// keeps no past (docs/SQL.md)
    #[arg(long, global = true, value_name = "URL")]
    pub stats_db: Option<String>,
}

/// The usage mistakes of [`ViewArgs`] with `--now`: `--now` with `--as-of
/// TIME`, and `--as-of` with `--stats-db`.
pub fn view_conflict(view: &ViewArgs, now: Option<Timestamp>) -> Option<String> {
    if view.stats_db.is_some() && view.as_of.is_some() {
        return Some(
            "the argument '--as-of' cannot be used with '--stats-db <URL>': the SQL tables hold              only the present (fold the journal to look at the past)"
                .into(),
        );
    }
    now_conflict(view.as_of, now)
}

const STATS_HELP: &str = "\
Examples:
  baldur-journal stats status
  baldur-journal stats list --status pending --domain payments --order-by -retry_count
  baldur-journal stats entry dlq-17 --json
  baldur-journal stats sla --hours 8 --status pending --status replaying
  baldur-journal stats sla --no-status --json           # the empty list: {}
  baldur-journal stats domains --as-of 2025-01-01T00:00:00Z
  baldur-journal stats status --as-of 120000 --now 2025-01-01T00:00:00Z --json
  baldur-journal stats activity --now 2025-01-01T00:00:00Z
  baldur-journal stats status --stats-db sqlite:////var/lib/app/dlq.db --json
  baldur-journal stats sync --to sqlite:////var/lib/app/dlq.db   # write the fold into those tables

Windows are measured from now: the wall clock, --now TIME, or the TIME of
--as-of TIME. `entry ID` exits 1 when no entry has that id (unknown or
purged): `null` with --json, else a one-line message on stderr. Exit 2 is
for usage and other errors.

The statistics are a fold over the journal's DLQ and circuit-breaker events
(docs/STATISTICS.md states every rule, docs/EVENTS.md the events). Opens the
journal read-only: nothing in the directory changes. With --stats-db URL the
answers come from the reference's SQL tables instead (docs/SQL.md), in the
same JSON.";

#[derive(Args)]
#[command(
    about = "DLQ statistics folded over the journal: counts, distributions, listings, SLA",
    after_help = STATS_HELP
)]
pub struct StatsArgs {
    #[command(flatten)]
    pub view: ViewArgs,
    #[command(flatten)]
    pub now: NowArg,
    #[command(subcommand)]
    command: StatsCommand,
}

#[derive(Subcommand)]
enum StatsCommand {
    /// Entries created in the last 30 days, by status (every status present has a row)
    Status,
    /// The top domains of the entries created in the last 30 days
    Domains(LimitArgs),
    /// The top failure types of the entries created in the last 30 days
    FailureTypes(LimitArgs),
    /// Entries created and resolved in the last HOURS and DAYS, and the trend
    Activity(ActivityArgs),
    /// The share of the entries created in the last DAYS that ended resolved
    ResolutionRate(DaysArgs),
    /// The mean retry count of the entries created in the last 30 days
    Retries,
    /// One page of entries, filtered and ordered
    List(ListArgs),
    /// Everything known about one entry
    Entry(EntryArgs),
    /// Entries waiting longer than the SLA, by domain
    Sla(SlaArgs),
    /// What the cleanup (`archive`, `purge`) could do now
    Cleanup,
    /// Circuit breakers: a summary by state, then each one
    CircuitBreakers,
    /// Keep the reference's SQL tables (baldur_dlq, baldur_cb_state) at URL
    /// up to date from the fold: incremental and resumable (docs/SQL.md)
    Sync(SyncArgs),
}

#[derive(Args)]
#[cfg_attr(not(feature = "sql"), allow(dead_code))]
struct SyncArgs {
    /// The SQLite database to write (sqlite:///relative.db or
    /// sqlite:////absolute.db); created when missing
    #[arg(long, value_name = "URL")]
    to: String,
    /// Records folded per transaction (each commits its rows with the
    /// high-water mark)
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    batch: u64,
}

#[derive(Args)]
struct LimitArgs {
    /// Groups to show
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DISTRIBUTION_LIMIT)]
    limit: usize,
}

#[derive(Args)]
struct ActivityArgs {
    /// The short window, in hours
    #[arg(long, value_name = "HOURS", default_value_t = DEFAULT_RECENT_HOURS)]
    hours: u32,
    /// The long window (and the trend's), in days
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_RECENT_DAYS)]
    days: u32,
}

#[derive(Args)]
struct DaysArgs {
    /// The window, in days
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_RESOLUTION_DAYS)]
    days: u32,
}

#[derive(Args)]
struct ListArgs {
    /// The page, from 1
    #[arg(long, value_name = "N", default_value_t = 1)]
    page: u64,
    /// Entries per page (1 to 10000)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PAGE_SIZE)]
    page_size: u64,
    /// Only entries with this status
    #[arg(long)]
    status: Option<String>,
    /// Only entries of this domain
    #[arg(long)]
    domain: Option<String>,
    /// Only entries of this failure type
    #[arg(long, value_name = "TYPE")]
    failure_type: Option<String>,
    /// A column (id, domain, failure_type, status, entity_type, entity_id,
    /// retry_count, error_code, created_at, updated_at, resolved_at), with a
    /// leading - for descending
    #[arg(
        long,
        value_name = "COLUMN",
        default_value = "-created_at",
        allow_hyphen_values = true
    )]
    order_by: String,
}

impl ListArgs {
    /// The library's query of these flags.
    fn query(&self) -> EntryListQuery {
        EntryListQuery {
            page: self.page,
            page_size: self.page_size,
            status: self.status.clone(),
            domain: self.domain.clone(),
            failure_type: self.failure_type.clone(),
            order_by: self.order_by.clone(),
        }
    }
}

#[derive(Args)]
struct EntryArgs {
    /// The entry's id
    id: String,
}

#[derive(Args)]
struct SlaArgs {
    /// The SLA, in hours since creation
    #[arg(long, value_name = "HOURS", default_value_t = DEFAULT_SLA_THRESHOLD_HOURS)]
    hours: u32,
    /// Statuses to check (repeatable) [default: pending, reviewing, requires_review]
    #[arg(long = "status", value_name = "STATUS")]
    statuses: Vec<String>,
    /// Check the empty list of statuses (the seed's `statuses=[]`): no entry
    /// is a breach, the answer is {}
    #[arg(long, conflicts_with = "statuses")]
    no_status: bool,
}

impl SlaArgs {
    /// The statuses argument of `get_sla_breaches`: `None` for the default.
    fn given(&self) -> Option<Vec<&str>> {
        (self.no_status || !self.statuses.is_empty())
            .then(|| self.statuses.iter().map(String::as_str).collect())
    }
}

/// The statistics to answer from: the live fold, a view of the past, or
/// the reference's SQL tables.
pub struct Statistics {
    pub repository: Box<dyn StatisticsRepository>,
    pub summary: FoldSummary,
    pub now: Timestamp,
    /// The SQL tables answered from (`--stats-db`, credentials redacted),
    /// instead of a fold.
    pub sql_source: Option<String>,
}

/// Opens the journal read-only and folds it, as of `as_of` when given,
/// answering at `now` when given; or, with `--stats-db`, opens the SQL
/// tables read-only instead.
pub fn open_statistics(
    globals: &Globals,
    view: &ViewArgs,
    now: Option<Timestamp>,
) -> Result<Statistics> {
    if let Some(url) = &view.stats_db {
        return open_sql_statistics(url, now);
    }
    let as_of = view.as_of;
    let opened = open::open_read(globals)?;
    // A disk journal's valid snapshot is read (never written: the open is
    // read-only), so only the records after it are folded.
    let snapshot = match &opened {
        open::Opened::Disk(journal) => Some(SnapshotConfig::for_disk(journal)),
        open::Opened::Other(_) => None,
    };
    let bar = output::progress(None, "folding the journal", "");
    let statistics = fold_from(opened.shared(), snapshot, as_of, now);
    bar.finish_and_clear();
    statistics
}

/// The statistics in the reference's SQL tables at `url`, read-only.
#[cfg(feature = "sql")]
fn open_sql_statistics(url: &str, now: Option<Timestamp>) -> Result<Statistics> {
    use anyhow::Context as _;
    use baldur_journal::SqlStatistics;
    let shown = baldur_journal::JournalUrl::parse(url)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| baldur_journal::sql::redacted_url(url));
    let mut stats = SqlStatistics::open_url_with(url, true)
        .with_context(|| format!("opening --stats-db {shown}"))?;
    if let Some(now) = now {
        stats = stats.with_clock(Arc::new(ManualClock::new(now)));
    }
    Ok(Statistics {
        repository: Box::new(stats),
        summary: FoldSummary::default(),
        now: now.unwrap_or_else(Timestamp::now),
        sql_source: Some(shown),
    })
}

#[cfg(not(feature = "sql"))]
fn open_sql_statistics(_url: &str, _now: Option<Timestamp>) -> Result<Statistics> {
    bail!("--stats-db: this build has no `sql` feature")
}

/// The statistics of `journal`, now or as of a past point; `now` sets the
/// time windows are measured from (the clock of the live fold, the now of
/// a view as of a sequence). A view as of a time is its own now.
pub fn fold(
    journal: Arc<dyn EventJournal>,
    as_of: Option<AsOf>,
    now: Option<Timestamp>,
) -> Result<Statistics> {
    fold_from(journal, None, as_of, now)
}

/// [`fold`], starting from the snapshot `snapshot` names when it is valid.
pub fn fold_from(
    journal: Arc<dyn EventJournal>,
    snapshot: Option<SnapshotConfig>,
    as_of: Option<AsOf>,
    now: Option<Timestamp>,
) -> Result<Statistics> {
    if let Some(message) = now_conflict(as_of, now) {
        bail!(message);
    }
    let mut builder = JournalStatistics::builder(journal);
    if let Some(now) = now {
        builder = builder.clock(ManualClock::new(now));
    }
    if let Some(config) = snapshot {
        builder = builder.snapshot(config);
    }
    let live = builder.build()?;
    Ok(match as_of {
        None => {
            let summary = live.refresh()?;
            let now = live.now();
            Statistics {
                repository: Box::new(live),
                summary,
                now,
                sql_source: None,
            }
        }
        Some(AsOf::Sequence(sequence)) => {
            let view = live.as_of_sequence(sequence)?;
            Statistics {
                summary: view.summary(),
                now: view.now(),
                repository: Box::new(view),
                sql_source: None,
            }
        }
        Some(AsOf::Time(time)) => {
            let view = live.as_of_time(time)?;
            Statistics {
                summary: view.summary(),
                now: view.now(),
                repository: Box::new(view),
                sql_source: None,
            }
        }
    })
}

/// Prints `value` as JSON, or as text through `text`: the one place a
/// `stats` answer chooses its form.
fn render<T: serde::Serialize + ?Sized, W: Write>(
    out: &mut W,
    json: bool,
    value: &T,
    text: impl FnOnce(&mut W, &T) -> io::Result<()>,
) -> Result<()> {
    if json {
        print_json(out, value)
    } else {
        Ok(text(out, value)?)
    }
}

fn write_domains(out: &mut impl Write, groups: &[DomainDistribution]) -> io::Result<()> {
    let rows = groups
        .iter()
        .map(|g| share_row(&g.domain, g.count, g.percentage))
        .collect::<Vec<_>>();
    write_columns(out, &["DOMAIN", "ENTRIES", "SHARE"], &rows, RIGHT_2)
}

fn write_failure_types(out: &mut impl Write, groups: &[FailureTypeDistribution]) -> io::Result<()> {
    let rows = groups
        .iter()
        .map(|g| share_row(&g.failure_type, g.count, g.percentage))
        .collect::<Vec<_>>();
    write_columns(out, &["FAILURE TYPE", "ENTRIES", "SHARE"], &rows, RIGHT_2)
}

fn write_activity(
    out: &mut impl Write,
    activity: &RecentActivity,
    hours: u32,
    days: u32,
) -> io::Result<()> {
    let rows = vec![
        vec![
            format!("last {hours} h"),
            activity.new_in_24h.to_string(),
            activity.resolved_in_24h.to_string(),
        ],
        vec![
            format!("last {days} d"),
            activity.new_in_7d.to_string(),
            activity.resolved_in_7d.to_string(),
        ],
    ];
    write_columns(out, &["WINDOW", "NEW", "RESOLVED"], &rows, RIGHT_2)?;
    writeln!(
        out,
        "trend: {} (the last {days} days against the {days} before)",
        activity.trend
    )?;
    Ok(())
}

fn write_resolution_rate(out: &mut impl Write, rate: f64, days: u32) -> io::Result<()> {
    writeln!(
        out,
        "{rate} ({}% of the entries created in the last {days} days ended resolved)",
        percent(rate * 100.0)
    )?;
    Ok(())
}

fn write_page(out: &mut impl Write, page: &PaginatedResult<EntrySummary>) -> io::Result<()> {
    write_entry_list(out, &page.items)?;
    writeln!(
        out,
        "page {} of {} ({} entries match, {} per page)",
        page.page,
        page.total_pages(),
        page.total,
        page.page_size
    )?;
    Ok(())
}

/// The breakers' summary and list, as `stats circuit-breakers` shows them.
#[derive(serde::Serialize)]
struct Breakers {
    summary: CircuitBreakerSummary,
    breakers: Vec<CircuitBreakerInfo>,
}

fn breakers(repo: &dyn StatisticsRepository) -> Result<Breakers> {
    Ok(Breakers {
        summary: repo.get_circuit_breaker_summary()?,
        breakers: repo.list_circuit_breakers()?,
    })
}

fn write_breakers_all(out: &mut impl Write, all: &Breakers) -> io::Result<()> {
    write_breaker_summary(out, &all.summary)?;
    writeln!(out)?;
    write_breakers(out, &all.breakers)
}

/// Refuses an `--order-by` the listing does not know, naming the columns.
pub fn check_order_by(order_by: &str) -> Result<()> {
    let column = order_by.strip_prefix('-').unwrap_or(order_by);
    if !ORDER_BY_COLUMNS.contains(&column) {
        bail!(
            "invalid --order-by {order_by:?}: expected one of {}, optionally with one leading - \
             for descending",
            ORDER_BY_COLUMNS.join(", ")
        );
    }
    Ok(())
}

fn print_json(out: &mut impl Write, value: &(impl Serialize + ?Sized)) -> Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

pub fn run_stats(globals: &Globals, args: &StatsArgs) -> Result<Outcome> {
    // Arguments first: a bad one fails before the journal is read.
    if let StatsCommand::List(list) = &args.command {
        check_order_by(&list.order_by)?;
    }
    if let StatsCommand::Sync(sync) = &args.command {
        return run_sync(globals, args, sync);
    }
    let statistics = open_statistics(globals, &args.view, args.now.now)?;
    let repo = &*statistics.repository;
    let json = args.view.json;
    let mut out = output::stdout();
    let o = &mut out;
    match &args.command {
        StatsCommand::Status => render(o, json, &repo.get_status_counts()?, |o, counts| {
            let breakdown = repo.get_status_breakdown().map_err(io::Error::other)?;
            write_status_counts(o, counts, &breakdown)
        })?,
        StatsCommand::Domains(a) => render(
            o,
            json,
            &repo.get_domain_distribution(a.limit)?[..],
            write_domains,
        )?,
        StatsCommand::FailureTypes(a) => render(
            o,
            json,
            &repo.get_failure_type_distribution(a.limit)?[..],
            write_failure_types,
        )?,
        StatsCommand::Activity(a) => render(
            o,
            json,
            &repo.get_recent_activity(a.hours, a.days)?,
            |o, v| write_activity(o, v, a.hours, a.days),
        )?,
        StatsCommand::ResolutionRate(a) => {
            render(o, json, &repo.get_resolution_rate(a.days)?, |o, rate| {
                write_resolution_rate(o, *rate, a.days)
            })?
        }
        StatsCommand::Retries => render(o, json, &repo.get_avg_retry_count()?, |o, mean| {
            writeln!(
                o,
                "{mean} (mean retry count of the entries created in the last 30 days)"
            )
        })?,
        StatsCommand::List(a) => render(o, json, &repo.list_entries(&a.query())?, write_page)?,
        StatsCommand::Entry(a) => match repo.get_entry_detail(&a.id)? {
            Some(detail) => render(o, json, &detail, write_entry_detail)?,
            None => {
                // "No match", as grep says it: exit 1, not an error.
                if json {
                    print_json(o, &serde_json::Value::Null)?;
                    o.flush()?;
                } else {
                    eprintln!("no DLQ entry with id {:?} (unknown or purged)", a.id);
                }
                return Ok(Outcome::ProblemsFound);
            }
        },
        StatsCommand::Sla(a) => render(
            o,
            json,
            &repo.get_sla_breaches(a.hours, a.given().as_deref())?,
            |o, b| write_sla(o, b, a.hours),
        )?,
        StatsCommand::Cleanup => render(o, json, &repo.get_cleanup_stats()?, write_cleanup)?,
        StatsCommand::CircuitBreakers => render(o, json, &breakers(repo)?, write_breakers_all)?,
        // Answered before the statistics are opened (above).
        StatsCommand::Sync(sync) => return run_sync(globals, args, sync),
    }
    if !json && (args.view.as_of.is_some() || args.now.now.is_some()) {
        writeln!(
            out,
            "(as of sequence {}, now = {})",
            statistics.summary.last_sequence,
            time_to_second(statistics.now)
        )?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// `stats sync --to URL`: projects the journal into the SQL tables.
#[cfg(feature = "sql")]
fn run_sync(globals: &Globals, args: &StatsArgs, sync: &SyncArgs) -> Result<Outcome> {
    use anyhow::Context as _;
    use baldur_journal::sql::{ProjectOptions, project};
    if args.view.as_of.is_some() || args.view.stats_db.is_some() || args.now.now.is_some() {
        bail!(
            "`stats sync` projects the whole journal as it is: --as-of, --now and --stats-db do \
             not apply (give the database with --to URL)"
        );
    }
    let shown = baldur_journal::JournalUrl::parse(&sync.to)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| baldur_journal::sql::redacted_url(&sync.to));
    let opened = open::open_read(globals)?;
    let name = match &globals.url {
        Some(url) => url.to_string(),
        None => std::fs::canonicalize(&globals.dir)
            .unwrap_or_else(|_| globals.dir.clone())
            .display()
            .to_string(),
    };
    let mut options = ProjectOptions::new(name);
    options.batch_records = sync.batch;
    let report = project(opened.journal(), &sync.to, &options)
        .with_context(|| format!("stats sync --to {shown}"))?;
    let mut out = output::stdout();
    if args.view.json {
        print_json(&mut out, &report)?;
    } else {
        writeln!(
            out,
            "projected sequences {}..{} into {shown}: {} records in {} batches, {} entries \
             written, {} deleted, {} circuit breakers written",
            report.from_sequence,
            report.to_sequence,
            report.records,
            report.batches,
            report.entries_written,
            report.entries_deleted,
            report.breakers_written
        )?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

#[cfg(not(feature = "sql"))]
fn run_sync(_globals: &Globals, _args: &StatsArgs, _sync: &SyncArgs) -> Result<Outcome> {
    bail!("stats sync: this build has no `sql` feature")
}

pub const RIGHT_2: &[bool] = &[false, true, true];

/// A percentage as the seed rounds it (2 decimals), without trailing zeros.
pub fn percent(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

pub fn share_row(name: &str, count: u64, percentage: f64) -> Vec<String> {
    vec![
        name.to_string(),
        count.to_string(),
        format!("{}%", percent(percentage)),
    ]
}

/// The status table: a row for each of the reference's ten statuses and
/// the seed's `failed` (0 included), then one for every other status
/// present (as a listing shows it), then the total.
pub fn write_status_counts(
    out: &mut impl Write,
    c: &baldur_journal::projection::StatusCounts,
    breakdown: &std::collections::BTreeMap<String, u64>,
) -> std::io::Result<()> {
    let fixed: Vec<&str> = ALL_STATUSES.iter().copied().chain(["failed"]).collect();
    let mut rows: Vec<Vec<String>> = fixed
        .iter()
        .map(|name| {
            let n = breakdown.get(*name).copied().unwrap_or(0);
            vec![name.to_string(), n.to_string()]
        })
        .collect();
    rows.extend(
        breakdown
            .iter()
            .filter(|(name, _)| !fixed.contains(&name.as_str()))
            .map(|(name, n)| vec![name.clone(), n.to_string()]),
    );
    rows.push(vec!["total".into(), c.total.to_string()]);
    write_columns(out, &["STATUS", "ENTRIES"], &rows, &[false, true])
}

pub fn write_entry_list(
    out: &mut impl Write,
    items: &[baldur_journal::projection::EntrySummary],
) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                e.domain.clone(),
                e.failure_type.clone(),
                e.status.clone(),
                e.retry_count.to_string(),
                time_to_second(e.created_at),
                maybe_time(e.resolved_at),
            ]
        })
        .collect();
    write_columns(
        out,
        &[
            "ID",
            "DOMAIN",
            "FAILURE TYPE",
            "STATUS",
            "RETRIES",
            "CREATED",
            "RESOLVED",
        ],
        &rows,
        &[false, false, false, false, true, false, false],
    )
}

fn write_entry_detail(
    out: &mut impl Write,
    d: &baldur_journal::projection::EntryDetail,
) -> std::io::Result<()> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let lines = [
        ("id", d.id.clone()),
        ("domain", d.domain.clone()),
        ("failure type", d.failure_type.clone()),
        ("status", d.status.clone()),
        (
            "entity",
            format!("{} {}", opt(&d.entity_type), opt(&d.entity_id)),
        ),
        ("user", d.user_id.map_or("-".into(), |u| u.to_string())),
        ("retries", format!("{} of {}", d.retry_count, d.max_retries)),
        ("error", format!("{} {}", d.error_code, d.error_message)),
        ("created", time_to_second(d.created_at)),
        ("updated", time_to_second(d.updated_at)),
        ("last retry", maybe_time(d.last_retry_at)),
        ("resolved", maybe_time(d.resolved_at)),
        ("expires", maybe_time(d.expires_at)),
        ("snapshot", d.snapshot_data.to_string()),
        ("metadata", d.metadata.to_string()),
    ];
    for (name, value) in lines {
        let value = value.trim().replace(['\n', '\r'], " ");
        writeln!(out, "{name:<13}{value}")?;
    }
    Ok(())
}

pub fn write_sla(
    out: &mut impl Write,
    breaches: &std::collections::BTreeMap<String, u64>,
    hours: u32,
) -> std::io::Result<()> {
    let mut by_count: Vec<(&String, &u64)> = breaches.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut rows: Vec<Vec<String>> = by_count
        .iter()
        .map(|(domain, n)| vec![domain.to_string(), n.to_string()])
        .collect();
    rows.push(vec![
        "total".into(),
        breaches.values().sum::<u64>().to_string(),
    ]);
    let header = format!("WAITING > {hours} H");
    write_columns(out, &["DOMAIN", &header], &rows, &[false, true])
}

pub fn write_cleanup(
    out: &mut impl Write,
    c: &baldur_journal::projection::CleanupStats,
) -> std::io::Result<()> {
    let by_status: Vec<String> = c
        .by_status
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    let lines = [
        ("entries", c.total.to_string()),
        ("by status", by_status.join(", ")),
        (
            "can archive (resolved > 30 d)",
            c.resolved_older_than_30_days.to_string(),
        ),
        (
            "can purge (archived > 90 d)",
            c.archived_older_than_90_days.to_string(),
        ),
    ];
    for (name, value) in lines {
        writeln!(out, "{name:<31}{value}")?;
    }
    Ok(())
}

pub fn write_breaker_summary(
    out: &mut impl Write,
    s: &baldur_journal::projection::CircuitBreakerSummary,
) -> std::io::Result<()> {
    writeln!(
        out,
        "circuit breakers: {} ({} closed, {} open, {} half open)",
        s.total, s.closed, s.open, s.half_open
    )
}

pub fn write_breakers(
    out: &mut impl Write,
    breakers: &[baldur_journal::projection::CircuitBreakerInfo],
) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = breakers
        .iter()
        .map(|b| {
            vec![
                b.service_name.clone(),
                b.state.clone(),
                b.failure_count.to_string(),
                maybe_time(b.last_failure_time),
                maybe_time(b.last_state_change),
            ]
        })
        .collect();
    write_columns(
        out,
        &[
            "SERVICE",
            "STATE",
            "FAILURES",
            "LAST FAILURE",
            "LAST CHANGE",
        ],
        &rows,
        &[false, false, true, false, false],
    )
}
