//! `archive` and `purge`: the statistics cleanup. They open the journal as
//! its writer, append one `dlq_archive` / `dlq_purge` event per entry
//! (durably), and print what they did.

use std::io::Write;
use std::sync::Arc;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use baldur_journal::projection::{
    AuditKey, DEFAULT_ARCHIVE_DAYS, JournalStatistics, PurgeSelection, StatisticsRepository,
};
use baldur_journal::{DiskJournal, Durability};
use clap::Args;

use crate::Outcome;
use crate::audit;
use crate::open::{self, Globals};
use crate::output;

#[derive(Args)]
#[command(
    about = "Archive the resolved DLQ entries resolved more than N days ago",
    long_about = "Appends one dlq_archive event for each entry with status resolved whose \
resolved_at is older than --older-than (default 30d; --older-than-days N is the same), each acknowledged after \
its fdatasync, and prints how many it archived. Archived entries keep counting as resolved \
in the resolution rate; `purge` removes them from the statistics later.",
    after_help = "Examples:
  baldur-journal archive
  baldur-journal archive --older-than 90d
  baldur-journal archive --older-than-days 90"
)]
pub struct ArchiveArgs {
    /// Archive entries resolved longer ago than this, in whole days (30d, 2w; the one age
    /// syntax of `segments drop`) [default: 30d]
    #[arg(long, value_name = "AGE", value_parser = parse_days, conflicts_with = "older_than_days")]
    older_than: Option<u32>,
    /// The same in days (kept as an alias of --older-than Nd)
    #[arg(long, value_name = "N")]
    older_than_days: Option<u32>,
    #[command(flatten)]
    sign: SignArgs,
}

/// How the written events are chained (docs/AUDIT.md).
#[derive(Args)]
pub struct SignArgs {
    /// Chain the written events with HMAC-SHA256 under this key (its id and a file holding
    /// the secret); without it they are chained keyless. Give the key the journal's
    /// runtime signs with, or the entities' keyed chains will verify as `unkeyed`
    #[arg(long = "sign-key-file", value_name = "ID=PATH", value_parser = audit::parse_key_file)]
    sign_key_file: Option<(String, PathBuf)>,
}

impl SignArgs {
    /// The signing key, read from its file.
    fn key(&self) -> Result<Option<AuditKey>> {
        let Some((id, path)) = &self.sign_key_file else {
            return Ok(None);
        };
        let secret = std::fs::read(path)
            .with_context(|| format!("reading key {id:?} from {}", path.display()))?;
        let key = AuditKey::new(id.clone(), secret)
            .with_context(|| format!("key {id:?} from {}", path.display()))?;
        Ok(Some(key))
    }
}

#[derive(Args)]
#[command(
    about = "Purge archived DLQ entries from the statistics, by id, by age, or both",
    long_about = "Appends one dlq_purge event for each archived entry the selection names and \
prints how many it purged. Give --ids (only those that are archived are purged), \
--older-than (archived longer ago than AGE, whole days; 0d: before now; --older-than-days N is the same), or both (both conditions). \
Giving neither is refused: purge never takes every archived entry by default. Purged entries \
leave every statistic but keep their audit trail.",
    after_help = "Examples:
  baldur-journal purge --older-than 90d
  baldur-journal purge --ids dlq-17,dlq-18
  baldur-journal purge --ids dlq-17 --older-than-days 7"
)]
pub struct PurgeArgs {
    /// Archived entries to purge (comma-separated or repeated)
    #[arg(long, value_name = "ID", value_delimiter = ',', num_args = 1..)]
    ids: Vec<String>,
    /// Only entries archived longer ago than this, in whole days (90d, 2w)
    #[arg(long, value_name = "AGE", value_parser = parse_days, conflicts_with = "older_than_days")]
    older_than: Option<u32>,
    /// The same in days (kept as an alias of --older-than Nd)
    #[arg(long, value_name = "N")]
    older_than_days: Option<u32>,
    #[command(flatten)]
    sign: SignArgs,
}

/// An age in whole days, in the one age syntax (`30d`, `2w`, `48h`): the
/// statistics archive and purge by whole days.
fn parse_days(text: &str) -> Result<u32, String> {
    let age = crate::segments::parse_age(text)?;
    let seconds = age.as_secs();
    if seconds % 86_400 != 0 {
        return Err(format!(
            "{text:?} is not a whole number of days: archive and purge count whole days (30d, 2w)"
        ));
    }
    u32::try_from(seconds / 86_400).map_err(|_| format!("{text:?} is too long"))
}

/// The journal as its writer, and statistics that chain every event they
/// write: keyless, or under the signing key.
fn open_statistics(
    globals: &Globals,
    sign: &SignArgs,
) -> Result<(Arc<DiskJournal>, JournalStatistics<DiskJournal>)> {
    open::require_dir(&globals.dir)?;
    let key = sign.key()?;
    let journal = Arc::new(open::open_writer(globals, Durability::Always, None)?);
    let builder = JournalStatistics::builder(journal.clone()).audit_chain(true);
    let statistics = match key {
        Some(key) => builder.audit_key(key),
        None => builder,
    }
    .build()?;
    Ok((journal, statistics))
}

fn close(journal: Arc<DiskJournal>, statistics: JournalStatistics<DiskJournal>) -> Result<()> {
    drop(statistics);
    match Arc::try_unwrap(journal) {
        Ok(journal) => journal.close()?,
        Err(journal) => drop(journal),
    }
    Ok(())
}

pub fn run_archive(globals: &Globals, args: &ArchiveArgs) -> Result<Outcome> {
    globals.require_file("archive")?;
    let (journal, statistics) = open_statistics(globals, &args.sign)?;
    let days = args
        .older_than
        .or(args.older_than_days)
        .unwrap_or(DEFAULT_ARCHIVE_DAYS);
    let archived = statistics.archive_old_entries(days)?;
    close(journal, statistics)?;
    let mut out = output::stdout();
    writeln!(
        out,
        "archived {archived} {} resolved more than {days} days ago",
        entries(archived),
    )?;
    out.flush()?;
    Ok(Outcome::Success)
}

pub fn run_purge(globals: &Globals, args: &PurgeArgs) -> Result<Outcome> {
    globals.require_file("purge")?;
    let ids: Vec<String> = args
        .ids
        .iter()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
        .collect();
    let older_than_days = args.older_than.or(args.older_than_days);
    if ids.is_empty() && older_than_days.is_none() {
        bail!(
            "purge needs --ids, --older-than (or --older-than-days), or both: it never purges \
             every archived entry by default"
        );
    }
    let selection = PurgeSelection::from_options(Some(ids), older_than_days)?;
    let (journal, statistics) = open_statistics(globals, &args.sign)?;
    let purged = statistics.purge_archived(&selection)?;
    close(journal, statistics)?;
    let what = match &selection {
        PurgeSelection::Ids(ids) => format!("of the {} ids given", ids.len()),
        PurgeSelection::OlderThanDays(days) => format!("archived more than {days} days ago"),
        PurgeSelection::IdsOlderThanDays {
            ids,
            older_than_days,
        } => format!(
            "of the {} ids given, archived more than {older_than_days} days ago",
            ids.len()
        ),
    };
    let mut out = output::stdout();
    writeln!(out, "purged {purged} archived {} {what}", entries(purged))?;
    out.flush()?;
    Ok(Outcome::Success)
}

fn entries(n: u64) -> &'static str {
    if n == 1 { "entry" } else { "entries" }
}
