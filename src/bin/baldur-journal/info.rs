//! `info` (what the journal holds, segment by segment) and `verify` (every
//! byte checked; exit 1 with one line per problem).

use std::io::Write;

use anyhow::Result;
use baldur_journal::disk::{JournalHead, JournalInfo, VerifyOptions, verify_with};
use clap::Args;

use crate::Outcome;
use crate::audit::{ChainsReport, KeyArgs, check_all_chains};
use crate::open::{self, Globals};
use crate::output::{self, human_bytes, time_to_second};

#[derive(Args)]
#[command(
    about = "Segments with sizes, sequence and time ranges, gaps, format, id, disk usage",
    after_help = "Examples:
  baldur-journal info
  baldur-journal info --json | jq .latest_sequence"
)]
pub struct InfoArgs {
    /// Print the information as one JSON object
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(
    about = "Check every CRC, footer, digest chain and index; exit 1 naming each problem",
    long_about = "Reads every byte of the journal with plain reads (safe on a damaged or \
truncated copy) and checks every header, every record's length and CRC, that sequences \
strictly increase within and across segments, every sealed segment's footer and digest \
chain, every index against its log, and the active segment against the synced end recorded \
in `head` (a log shorter than it, or zeros or garbage where synced records were, is a problem \
naming how many synced records are missing). Crash states a writer's open repairs (a torn \
tail past the synced end, a missing index) and what cannot be proven without `head` are \
notes on stderr (`verify: note: ...`), not problems. When those are clean, also folds the DLQ statistics \
read-only and verifies the audit chain of every entity with chained events (each hash \
recomputed from the stored content, each link checked: docs/AUDIT.md), HMAC under the keys \
given with --key-file. When the journal is clean, prints its head on one line (`clean: head \
journal_id=... last_sequence=N sealed_segments=S last_sealed_digest=HEX`; a value to record \
elsewhere and compare later, docs/AUDIT.md) and exits 0 (--quiet prints nothing, --head prints \
the head as one JSON line instead); otherwise prints one line per problem, `FILE: offset N: what is wrong`, or `audit chain of dlq_entry \"ID\": \
broken at sequence N (entry I: reason)` for each broken chain, and exits 1. Chains keyed with \
a key not given are not counted as problems: a note on stderr says how many went unverified. \
Exits 2 when the directory is not a journal at all.",
    after_help = "Examples:
  baldur-journal --dir /mnt/copy-of-journal verify
  baldur-journal verify || echo \"damaged: see above\"
  baldur-journal verify --quiet || echo \"damaged\"
  baldur-journal verify --head >> recorded-heads.jsonl"
)]
pub struct VerifyArgs {
    /// Also print a summary line (segments, records, audit chains) on stderr when clean
    #[arg(long, short)]
    verbose: bool,
    /// Print nothing when the journal is clean (problems, and notes on stderr, are still
    /// printed)
    #[arg(long, short, conflicts_with = "head")]
    quiet: bool,
    /// When the journal is clean, print its head (journal id, last sequence, last sealed
    /// segment and its chained digest) as one JSON line instead of the text line
    #[arg(long)]
    head: bool,
    /// A missing or unreadable `head` file is a problem (exit 1) instead of a note: without
    /// it a cut or zeroed end of the active segment cannot be told from a clean end
    #[arg(long)]
    require_head: bool,
    /// Check that the journal extends the heads recorded in FILE (JSON lines written by
    /// `verify --head`): the same journal id, each recorded sealed segment's digest at its
    /// place in the recomputed digest chain, and a last sequence at or above the recorded
    #[arg(long, value_name = "FILE")]
    expect_head: Option<std::path::PathBuf>,
    #[command(flatten)]
    keys: KeyArgs,
}

pub fn run_info(globals: &Globals, args: &InfoArgs) -> Result<Outcome> {
    globals.require_file("info")?;
    let journal = open::open_read_only(globals)?;
    let info = journal.info()?;
    let mut out = output::stdout();
    if args.json {
        serde_json::to_writer(&mut out, &info)?;
        writeln!(out)?;
    } else {
        let writer = if open::writer_is_live(&globals.dir) {
            "a writer process has it open"
        } else {
            "none open"
        };
        write_info(&mut out, &info, writer)?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// The readable form of `info` (also printed by the demo).
pub fn write_info(out: &mut impl Write, info: &JournalInfo, writer: &str) -> std::io::Result<()> {
    let min_time = info.segments.iter().filter_map(|s| s.min_timestamp).min();
    let max_time = info.segments.iter().filter_map(|s| s.max_timestamp).max();
    writeln!(out, "journal     {}", info.dir.display())?;
    writeln!(out, "id          {}", info.journal_id)?;
    writeln!(
        out,
        "format      version {}, segments of {}",
        info.format_version,
        human_bytes(info.segment_bytes)
    )?;
    writeln!(out, "created     {}", info.created_at)?;
    writeln!(out, "writer      {writer}")?;
    let sequences = match (info.latest_sequence, info.retention_mark) {
        (0, _) => "none".to_string(),
        (latest, Some(mark)) => format!("{mark}..={latest}"),
        (latest, None) => format!("up to {latest}"),
    };
    writeln!(
        out,
        "entries     {} (sequences {sequences}, {} missing)",
        info.record_count, info.missing_sequences
    )?;
    if let Some(mark) = info.retention_mark {
        writeln!(
            out,
            "retention   sequences below {mark} were dropped (the retention mark)"
        )?;
    }
    if let (Some(min), Some(max)) = (min_time, max_time) {
        writeln!(
            out,
            "event time  {} .. {}",
            time_to_second(min),
            time_to_second(max)
        )?;
    }
    let indexes = info
        .segments
        .iter()
        .filter(|s| s.index_bytes.is_some())
        .count();
    writeln!(
        out,
        "disk        {} ({} segments, {indexes} index files)",
        human_bytes(info.disk_bytes),
        info.segments.len()
    )?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = info
        .segments
        .iter()
        .map(|s| {
            vec![
                s.log_path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                if s.sealed { "sealed" } else { "active" }.to_string(),
                s.record_count.to_string(),
                match (s.first_sequence, s.last_sequence) {
                    (Some(a), Some(b)) => format!("{a}..={b}"),
                    _ => "-".into(),
                },
                s.missing_sequences.to_string(),
                match (s.min_timestamp, s.max_timestamp) {
                    (Some(a), Some(b)) => format!("{} .. {}", time_to_second(a), time_to_second(b)),
                    _ => "-".into(),
                },
                human_bytes(s.log_bytes),
                s.index_bytes.map_or("-".into(), human_bytes),
            ]
        })
        .collect();
    let headers = [
        "SEGMENT",
        "STATE",
        "RECORDS",
        "SEQUENCES",
        "MISSING",
        "EVENT TIME",
        "LOG",
        "INDEX",
    ];
    let right = [false, false, true, false, true, false, true, true];
    output::write_columns(out, &headers, &rows, &right)?;
    Ok(())
}

pub fn run_verify(globals: &Globals, args: &VerifyArgs) -> Result<Outcome> {
    if globals.url.is_some() {
        return verify_other(globals, args);
    }
    open::require_dir(&globals.dir)?;
    let keys = args.keys.keyring()?;
    let expected = args
        .expect_head
        .as_deref()
        .map(read_recorded_heads)
        .transpose()?;
    let bar = output::progress(None, "verifying", "");
    let options = VerifyOptions {
        require_head: args.require_head,
        tier_dir: globals.tier_dir.clone(),
        storage: None,
    };
    let report = verify_with(&globals.dir, &options);
    bar.finish_and_clear();
    let report = report?;
    for note in &report.notes {
        eprintln!("verify: note: {note}");
    }
    let mut problems: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    if let Some((path, heads)) = &expected {
        problems.extend(check_recorded_heads(globals, path, heads));
    }
    let mut summary = format!(
        "{} segments, {} records with valid CRCs",
        report.segments, report.records
    );
    let mut head = None;
    if problems.is_empty() {
        let journal = std::sync::Arc::new(open::open_read_only(globals)?);
        let bar = output::progress(None, "verifying audit chains", "");
        let anchors = crate::audit::anchors_of(&journal)?;
        let checked = check_all_chains(journal.clone(), keys, anchors);
        bar.finish_and_clear();
        let checked = checked?;
        problems.extend(checked.problems.iter().cloned());
        note_chains(&checked, &mut summary);
        head = Some(journal.head()?);
    }
    finish_verify(args, &problems, &summary, |out| {
        let Some(head) = &head else { return Ok(()) };
        if args.head {
            serde_json::to_writer(&mut *out, head)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", head_line(head))?;
        }
        Ok(())
    })
}

/// The heads recorded in `path`, one JSON object a line (as `verify
/// --head` prints them); a line that is not one is an error naming it.
fn read_recorded_heads(path: &std::path::Path) -> Result<(String, Vec<(usize, JournalHead)>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--expect-head {}: {e}", path.display()))?;
    let mut heads = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let head: JournalHead = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!(
                "--expect-head {} line {}: not a head as `verify --head` prints it: {e}",
                path.display(),
                i + 1
            )
        })?;
        heads.push((i + 1, head));
    }
    if heads.is_empty() {
        anyhow::bail!(
            "--expect-head {}: no recorded head in the file",
            path.display()
        );
    }
    Ok((path.display().to_string(), heads))
}

/// One problem line per recorded head the journal does not extend.
fn check_recorded_heads(
    globals: &Globals,
    path: &str,
    heads: &[(usize, JournalHead)],
) -> Vec<String> {
    let journal = match baldur_journal::DiskJournal::builder(&globals.dir)
        .read_only(true)
        .create_if_missing(false)
        .open()
    {
        Ok(journal) => journal,
        Err(e) => {
            return vec![format!(
                "{path}: the recorded head cannot be checked: the journal does not open ({e})"
            )];
        }
    };
    let mut problems = Vec::new();
    for (line, head) in heads {
        match journal.check_head(head) {
            Ok(None) => {}
            Ok(Some(differs)) => problems.push(format!(
                "{path}: line {line}: the journal does not extend the recorded head: {differs}"
            )),
            Err(e) => problems.push(format!(
                "{path}: line {line}: the recorded head cannot be checked: {e}"
            )),
        }
    }
    problems
}

/// Adds the chain count to `summary`, and says on stderr how many chains
/// are keyed with keys not given.
fn note_chains(chains: &ChainsReport, summary: &mut String) {
    summary.push_str(&format!(", {} audit chains", chains.chains));
    if chains.below_mark > 0 {
        summary.push_str(&format!(
            " ({} begun below the retention mark, verified from their first retained link)",
            chains.below_mark
        ));
    }
    if chains.unverifiable > 0 {
        eprintln!(
            "verify: {} audit chains are keyed with keys not given (--key-file ID=PATH): \
             not verified",
            chains.unverifiable
        );
    }
}

/// Prints each problem; when there is none, `clean` (unless `--quiet`) and
/// with `--verbose` the summary. The outcome for the exit status.
fn finish_verify(
    args: &VerifyArgs,
    problems: &[String],
    summary: &str,
    clean: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<Outcome> {
    let mut out = output::stdout();
    for problem in problems {
        writeln!(out, "{problem}")?;
    }
    if !problems.is_empty() {
        out.flush()?;
        eprintln!("verify: {} problems found ({summary})", problems.len());
        return Ok(Outcome::ProblemsFound);
    }
    if !args.quiet {
        clean(&mut out)?;
    }
    out.flush()?;
    if args.verbose {
        eprintln!("verify: clean: {summary}");
    }
    Ok(Outcome::Success)
}

/// A clean `verify`'s line: the head, every field `DiskJournal::check_head`
/// compares.
fn head_line(head: &baldur_journal::disk::JournalHead) -> String {
    let mut line = format!(
        "clean: head journal_id={} last_sequence={} sealed_segments={}",
        head.journal_id, head.last_sequence, head.sealed_segments
    );
    match &head.last_sealed {
        Some(sealed) => line.push_str(&format!(
            " last_sealed_base={} last_sealed_sequence={} last_sealed_digest={}",
            sealed.base_sequence, sealed.last_sequence, sealed.digest
        )),
        None => line.push_str(" last_sealed=none"),
    }
    if head.first_retained > 0 {
        line.push_str(&format!(" first_retained={}", head.first_retained));
    }
    line
}

/// `verify` of a journal that is not a directory (Redis, memory): no files
/// to check, so every entry is read back in order (the backend decodes and
/// checks each; sequences must strictly increase) and every audit chain is
/// verified. There is no head to print.
fn verify_other(globals: &Globals, args: &VerifyArgs) -> Result<Outcome> {
    if args.expect_head.is_some() || args.require_head {
        anyhow::bail!(
            "--expect-head and --require-head check a file journal's head (--dir or --journal \
             file:///path)"
        );
    }
    let journal = open::open_read(globals)?.shared();
    let keys = args.keys.keyring()?;
    let bar = output::progress(None, "verifying", "");
    let mut problems = Vec::new();
    let (mut records, mut previous) = (0u64, 0u64);
    for entry in journal.range_iter_from(1)? {
        let entry = entry?;
        if entry.sequence <= previous {
            problems.push(format!(
                "sequence {} follows {previous}: sequences must strictly increase",
                entry.sequence
            ));
        }
        previous = entry.sequence;
        records += 1;
    }
    let chains = check_all_chains(journal, keys, Default::default());
    bar.finish_and_clear();
    let chains = chains?;
    problems.extend(chains.problems.iter().cloned());
    let mut summary = format!("{records} entries");
    note_chains(&chains, &mut summary);
    let url = globals
        .url
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    finish_verify(args, &problems, &summary, |out| {
        writeln!(out, "clean: {url}: {summary} (no head: not a file journal)")?;
        Ok(())
    })
}
