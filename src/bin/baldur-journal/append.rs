//! `append` (streaming JSON lines from stdin, one durable sequence printed
//! per line) and `import` (a JSON-lines file, optionally keeping its
//! sequences and append times).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, anyhow, bail};
use baldur_journal::projection::chain::{ChainRecord, chain_link};
use baldur_journal::{Durability, Error, EventJournal, JournalEntry};
use clap::Args;
use indicatif::ProgressBar;

use crate::Outcome;
use crate::open::{self, Globals};
use crate::output;

/// Entries appended in one call at most (one sync covers them).
const BATCH_MAX: usize = 4096;

/// Input bytes gathered into one batch at most: with the line cap, what a
/// batch holds stays bounded however large the lines are.
const BATCH_BYTES_MAX: u64 = 8 << 20;

#[derive(Args)]
#[command(
    about = "Append JSON lines from stdin; print each entry's sequence once it is durable",
    long_about = "Append JournalEntry JSON objects, one per line, from stdin as they arrive \
(streaming: a line is appended as soon as it is read). For each entry the assigned sequence \
is printed and flushed as soon as the journal acknowledges it: under the default durability \
every printed sequence is on disk, even if the process is killed a moment later. Input \
`sequence` fields are ignored; blank lines are skipped. A malformed line stops the command \
with an error naming its line number; the lines before it stay committed. Refused at the \
door: a line longer than the maximum record size (1 MiB by default; refused as soon as that \
much is read, never held whole), a context nested deeper than 64 levels, a UTC offset beyond \
±23:59, a lone surrogate escape such as \\ud800. Creates the journal with the first entry it \
writes (a command that writes nothing leaves none behind).",
    after_help = "Examples:
  echo '{\"event_type\":\"circuit_breaker_opened\",\"source\":\"breaker\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"service_name\":\"payments\",\"context\":{\"trigger\":\"failure_rate\"}}' | baldur-journal append
  my-producer | baldur-journal append --durability every:100 > sequences.txt"
)]
pub struct AppendArgs {
    /// When an append is acknowledged: always (fdatasync first), every:N (sync every N
    /// records), interval:MS (sync at most every MS ms) or os (leave it to the OS)
    #[arg(long, value_name = "POLICY", default_value = "always", value_parser = open::parse_durability)]
    durability: Durability,
}

#[derive(Args)]
#[command(
    about = "Append the entries of a JSON-lines file (as written by `export`)",
    long_about = "Append the JournalEntry JSON lines of FILE (`-` for stdin) in order. Without \
--keep-sequence the journal assigns sequences (a new journal's first entry gets 1); with it, \
each line's `sequence` (and `appended_at`, when present) is kept, gaps included, and must \
exceed the journal's latest sequence. Writes go out in large batches and are synced once at \
the end: when the command exits 0 every entry is durable. A malformed line stops the import \
with an error naming FILE and the line; the lines before it stay committed (`latest` tells \
where to resume; with --keep-sequence, `--resume` skips the lines already in). Lines are \
checked as `append` checks them (record size, context depth, UTC offset, lone surrogates). An \
entry that would fork an entity's audit chain (its previous_hash is not the last hash of that \
entity's chain in the journal) is refused the same way, unless --allow-fork. Ctrl-C syncs what \
was written, says how many entries are durable and how to resume, and exits 130. Creates the \
journal with the first entry it writes.",
    after_help = "Examples:
  baldur-journal --dir restored import --keep-sequence events.jsonl
  baldur-journal --dir restored import --keep-sequence --resume events.jsonl   # after an interruption
  baldur-journal export --from 1000 | baldur-journal --dir other import -"
)]
pub struct ImportArgs {
    /// The JSON-lines file, or `-` for stdin
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Keep each line's sequence and append time (gaps preserved)
    #[arg(long)]
    keep_sequence: bool,
    /// With --keep-sequence: skip the lines whose sequence is at or below the
    /// journal's latest (continue an interrupted import)
    #[arg(long)]
    resume: bool,
    /// Import chained entries even when they would fork an entity's audit
    /// chain in the journal (a later `verify` reports the fork)
    #[arg(long)]
    allow_fork: bool,
}

/// One input line.
enum Line {
    Entry(u64, JournalEntry),
    Blank,
    Bad(anyhow::Error),
}

/// JSON lines with their numbers; knows whether a whole line is already
/// buffered (so `append` never waits for input it does not need). A line
/// longer than `max_line_bytes` is refused as soon as its first
/// `max_line_bytes + 1` bytes are read: it is never held whole.
struct Lines<R> {
    reader: BufReader<R>,
    /// `line ` or `FILE:`: what precedes a line number in errors.
    place: String,
    number: u64,
    bytes: u64,
    buf: Vec<u8>,
    /// The longest line read (without its newline): the record limit.
    max_line_bytes: u64,
}

impl<R: Read> Lines<R> {
    fn new(reader: R, place: String, max_line_bytes: u64) -> Self {
        Lines {
            reader: BufReader::with_capacity(1 << 16, reader),
            place,
            number: 0,
            bytes: 0,
            buf: Vec::new(),
            max_line_bytes,
        }
    }

    fn next(&mut self) -> Result<Option<Line>> {
        self.buf.clear();
        // At most the limit, its newline, and nothing more.
        let n = (&mut self.reader)
            .take(self.max_line_bytes.saturating_add(1))
            .read_until(b'\n', &mut self.buf)
            .context("cannot read the input")?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        self.bytes += n as u64;
        let at = format!("{}{}", self.place, self.number);
        if n as u64 > self.max_line_bytes && self.buf.last() != Some(&b'\n') {
            // The rest of the line is never read: a bad line stops the
            // command.
            return Ok(Some(Line::Bad(anyhow!(
                "{at}: the line exceeds {} bytes, the maximum record size (refused after \
                 reading {n} bytes of it)",
                self.max_line_bytes
            ))));
        }
        let text = match std::str::from_utf8(&self.buf) {
            Ok(text) => text.trim(),
            Err(e) => return Ok(Some(Line::Bad(anyhow!("{at}: not valid UTF-8 ({e})")))),
        };
        if text.is_empty() {
            return Ok(Some(Line::Blank));
        }
        if !text.starts_with('{')
            && let Err(e) = serde_json::from_str::<serde_json::Value>(text)
        {
            let e = within_line(&e.to_string());
            return Ok(Some(Line::Bad(anyhow!("{at}: not a JSON object: {e}"))));
        }
        Ok(Some(match JournalEntry::from_json(text) {
            Ok(entry) => Line::Entry(self.number, entry),
            Err(e) => Line::Bad(anyhow!("{at}: {}", within_line(&e.to_string()))),
        }))
    }

    fn has_whole_line_buffered(&self) -> bool {
        self.reader.buffer().contains(&b'\n')
    }
}

/// serde's "at line 1 column 17" means the column within the input line.
fn within_line(message: &str) -> String {
    match message.rfind(" at line 1 column ") {
        Some(i) => format!("{} at column {}", &message[..i], &message[i + 18..]),
        None => message.to_string(),
    }
}

fn is_entry_error(error: &Error) -> bool {
    matches!(
        error,
        Error::InvalidEntry(_) | Error::InvalidTimestamp { .. } | Error::RecordTooLarge { .. }
    )
}

/// Appends a run of entries as one batch and reports the sequences once
/// acknowledged. When one entry is refused, the ones before it are
/// appended (and reported) one by one and the error names the refused
/// entry's line.
fn commit(
    journal: &dyn EventJournal,
    place: &str,
    numbers: &[u64],
    entries: &[JournalEntry],
    mut acknowledged: impl FnMut(&[u64]) -> io::Result<()>,
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    match journal.append_batch(entries) {
        Ok(sequences) => acknowledged(&sequences)?,
        Err(e) if is_entry_error(&e) => {
            for (number, entry) in numbers.iter().zip(entries) {
                let sequence = journal
                    .append(entry)
                    .map_err(|e| anyhow!("{place}{number}: {e}"))?;
                acknowledged(&[sequence])?;
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

pub fn run_append(globals: &Globals, args: &AppendArgs) -> Result<Outcome> {
    let mut writer = open::LazyWriter::new(globals, args.durability)?;
    let result = append_stream(&mut writer, io::stdin().lock());
    let closed = writer.close();
    result?;
    closed?;
    Ok(Outcome::Success)
}

fn append_stream(writer: &mut open::LazyWriter, input: impl Read) -> Result<()> {
    let mut lines = Lines::new(input, "line ".into(), writer.max_record_bytes());
    let mut out = io::stdout().lock();
    let mut numbers = Vec::new();
    let mut entries = Vec::new();
    loop {
        numbers.clear();
        entries.clear();
        let mut stop = None;
        let mut eof = false;
        let batch_start = lines.bytes;
        // At least one line (waiting for it), then only what is already here.
        loop {
            match lines.next()? {
                None => eof = true,
                Some(Line::Blank) => {}
                Some(Line::Entry(number, entry)) => {
                    numbers.push(number);
                    entries.push(entry);
                }
                Some(Line::Bad(error)) => stop = Some(error),
            }
            if eof
                || stop.is_some()
                || entries.len() >= BATCH_MAX
                || lines.bytes - batch_start >= BATCH_BYTES_MAX
            {
                break;
            }
            if !lines.has_whole_line_buffered() {
                break;
            }
        }
        if !entries.is_empty() {
            let opened = writer.open()?;
            lines.max_line_bytes = opened.max_record_bytes();
            let journal = opened.journal();
            commit(journal, &lines.place, &numbers, &entries, |sequences| {
                let mut text = String::with_capacity(sequences.len() * 8);
                for sequence in sequences {
                    text.push_str(&sequence.to_string());
                    text.push('\n');
                }
                out.write_all(text.as_bytes())?;
                out.flush()
            })?;
        }
        if let Some(error) = stop {
            return Err(error);
        }
        if eof {
            return Ok(());
        }
    }
}

/// How far an import has come, shared with its SIGINT handler: the
/// handler takes the lock (so no batch is half counted), syncs the
/// journal and reports.
#[derive(Default)]
struct Progress {
    /// The journal being written, once opened (taken out before close).
    journal: Option<Arc<dyn EventJournal>>,
    /// Input lines handled: every line up to this one is in the journal
    /// (or was skipped by --resume).
    lines: u64,
    /// Entries this import appended.
    entries: u64,
    /// The sequence of the last entry appended.
    last_sequence: u64,
}

/// What an interrupted import says: what is durable, and the command
/// that resumes it.
fn interrupted_message(progress: &Progress, synced: &Result<(), Error>, resume: &Resume) -> String {
    let mut text = match synced {
        Ok(()) if progress.entries == 0 => {
            "interrupted: nothing of this import was written".to_string()
        }
        Ok(()) => format!(
            "interrupted: {} entries of this import are durable (input lines 1 to {}, \
             sequences up to {})",
            progress.entries, progress.lines, progress.last_sequence
        ),
        Err(e) => format!(
            "interrupted, and the final sync failed ({e}): {} entries of this import were \
             written (input lines 1 to {}) but may not all be durable; `latest` tells what is",
            progress.entries, progress.lines
        ),
    };
    text.push('\n');
    text.push_str(&resume.hint(progress.lines));
    text
}

/// How to resume an import, for the interruption message.
struct Resume {
    /// `--dir D` or `--journal URL`, as given.
    target: String,
    /// The input file; `None` for stdin.
    file: Option<PathBuf>,
    keep_sequence: bool,
}

impl Resume {
    fn hint(&self, lines: u64) -> String {
        let target = &self.target;
        match (&self.file, self.keep_sequence) {
            (Some(file), true) => format!(
                "resume with: baldur-journal {target} import --keep-sequence --resume {}",
                shell_word(&file.display().to_string())
            ),
            (Some(file), false) => format!(
                "resume with: tail -n +{} {} | baldur-journal {target} import -",
                lines + 1,
                shell_word(&file.display().to_string())
            ),
            (None, true) => format!(
                "resume by feeding the same input to: baldur-journal {target} import \
                 --keep-sequence --resume -"
            ),
            (None, false) => format!(
                "resume by feeding the input from its line {} on to: baldur-journal {target} \
                 import -",
                lines + 1
            ),
        }
    }
}

/// `word` quoted for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

pub fn run_import(globals: &Globals, args: &ImportArgs) -> Result<Outcome> {
    if args.resume && !args.keep_sequence {
        bail!(
            "--resume needs --keep-sequence: without it the journal assigns new sequences, so \
             nothing tells which input lines are already in (give --keep-sequence, or import \
             only the lines not yet imported)"
        );
    }
    // Open the input first: a missing file must not create a journal.
    let (input, len, place): (Box<dyn Read>, Option<u64>, String) = if args.file.as_os_str() == "-"
    {
        (Box::new(io::stdin().lock()), None, "stdin:".into())
    } else {
        let file = File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        let len = file.metadata().ok().map(|m| m.len());
        (Box::new(file), len, format!("{}:", args.file.display()))
    };
    let resume = Resume {
        target: match &globals.url {
            Some(url) => format!("--journal {}", shell_word(&url.to_string())),
            None => format!("--dir {}", shell_word(&globals.dir.display().to_string())),
        },
        file: (args.file.as_os_str() != "-").then(|| args.file.clone()),
        keep_sequence: args.keep_sequence,
    };
    let progress = Arc::new(Mutex::new(Progress::default()));
    let for_handler = progress.clone();
    ctrlc::set_handler(move || {
        // Held until exit: no further batch starts, none is half counted.
        let progress = for_handler.lock().unwrap_or_else(|p| p.into_inner());
        let synced = match &progress.journal {
            Some(journal) => journal.sync(),
            None => Ok(()),
        };
        eprintln!("{}", interrupted_message(&progress, &synced, &resume));
        std::process::exit(INTERRUPTED);
    })
    .context("cannot install the SIGINT handler")?;
    // Synced once, on close: the exit status tells whether all is durable.
    let mut writer = open::LazyWriter::new(globals, Durability::Os)?;
    let bar = match len {
        Some(len) => output::progress_bytes(len, "importing"),
        None => output::progress(None, "importing", "entries"),
    };
    let options = ImportOptions {
        keep_sequence: args.keep_sequence,
        resume: args.resume,
        allow_fork: args.allow_fork,
    };
    let lines = Lines::new(input, place, writer.max_record_bytes());
    let result = import_lines(&mut writer, lines, options, &progress, &bar);
    bar.finish_and_clear();
    // The lock is kept through close: an interruption now waits for it.
    let mut guard = progress.lock().unwrap_or_else(|p| p.into_inner());
    guard.journal = None;
    let closed = writer.close();
    drop(guard);
    result?;
    closed?;
    Ok(Outcome::Success)
}

/// The exit status of an interrupted import (128 + SIGINT, as shells do).
const INTERRUPTED: i32 = 130;

/// The flags that shape an import.
#[derive(Clone, Copy)]
struct ImportOptions {
    keep_sequence: bool,
    resume: bool,
    allow_fork: bool,
}

fn import_lines(
    writer: &mut open::LazyWriter,
    mut lines: Lines<Box<dyn Read>>,
    options: ImportOptions,
    progress: &Mutex<Progress>,
    bar: &ProgressBar,
) -> Result<()> {
    let mut numbers = Vec::with_capacity(BATCH_MAX);
    let mut entries = Vec::with_capacity(BATCH_MAX);
    // With --resume, lines at or below the journal's latest are skipped.
    let mut floor: Option<u64> = None;
    let mut chains = ChainHeads::default();
    loop {
        let mut stop = None;
        let mut eof = false;
        let batch_start = lines.bytes;
        while entries.len() < BATCH_MAX && lines.bytes - batch_start < BATCH_BYTES_MAX {
            match lines.next()? {
                None => eof = true,
                Some(Line::Blank) => continue,
                Some(Line::Entry(number, entry)) => {
                    if options.keep_sequence && entry.sequence == 0 {
                        stop = Some(anyhow!(
                            "{}{number}: --keep-sequence needs a sequence above 0 on every line",
                            lines.place
                        ));
                    } else {
                        numbers.push(number);
                        entries.push(entry);
                        continue;
                    }
                }
                Some(Line::Bad(error)) => stop = Some(error),
            }
            break;
        }
        if !entries.is_empty() {
            let opened = writer.open()?;
            lines.max_line_bytes = opened.max_record_bytes();
            let journal = opened.journal();
            let mut guard = progress.lock().unwrap_or_else(|p| p.into_inner());
            if guard.journal.is_none() {
                guard.journal = Some(opened.share());
            }
            if options.resume && floor.is_none() {
                floor = Some(journal.get_latest_sequence()?);
            }
            if let Some(floor) = floor {
                let kept = entries.iter().position(|e| e.sequence > floor);
                let skip = kept.unwrap_or(entries.len());
                numbers.drain(..skip);
                entries.drain(..skip);
            }
            // Every line before this one is handled once the batch is in.
            let mut handled_to = lines.number - u64::from(stop.is_some());
            if !options.allow_fork {
                for (at, entry) in entries.iter().enumerate() {
                    if let Err(e) = chains.admit(journal, entry) {
                        // The entries before the refused one still go in.
                        stop = Some(anyhow!("{}{}: {e}", lines.place, numbers[at]));
                        handled_to = numbers[at] - 1;
                        numbers.truncate(at);
                        entries.truncate(at);
                        break;
                    }
                }
            }
            if options.keep_sequence {
                for (number, entry) in numbers.iter().zip(&entries) {
                    journal
                        .append_at(entry.sequence, entry)
                        .map_err(|e| anyhow!("{}{number}: {e}", lines.place))?;
                    guard.entries += 1;
                    guard.last_sequence = entry.sequence;
                    guard.lines = *number;
                }
            } else {
                commit(journal, &lines.place, &numbers, &entries, |sequences| {
                    guard.entries += sequences.len() as u64;
                    if let Some(last) = sequences.last() {
                        guard.last_sequence = *last;
                    }
                    Ok(())
                })?;
            }
            guard.lines = handled_to;
        } else if stop.is_none() {
            progress.lock().unwrap_or_else(|p| p.into_inner()).lines = lines.number;
        }
        bar.set_position(lines.bytes);
        numbers.clear();
        entries.clear();
        if let Some(error) = stop {
            return Err(error);
        }
        if eof {
            return Ok(());
        }
    }
}

/// The destination's audit-chain heads, so that an import cannot fork a
/// chain: read from the journal on the first chained input entry, then
/// advanced by every chained entry admitted.
#[derive(Default)]
struct ChainHeads {
    /// Entity (`entry_id`) → its chain's last `hash_chain`.
    heads: Option<HashMap<String, String>>,
}

impl ChainHeads {
    /// Refuses a chained entry whose `previous_hash` is not the last hash
    /// of its entity's chain in the journal.
    fn admit(&mut self, journal: &dyn EventJournal, entry: &JournalEntry) -> Result<()> {
        let Some(link) = chain_link(&ChainRecord::from(entry)) else {
            return Ok(());
        };
        let entity = link.entity.as_ref();
        if self.heads.is_none() {
            self.heads = Some(read_heads(journal)?);
        }
        let heads = self.heads.as_mut().expect("read above");
        if let Some(last) = heads.get(entity)
            && link.previous_hash.as_deref() != Some(last.as_str())
        {
            let found = match &link.previous_hash {
                Some(previous) => format!("its previous_hash is {previous}"),
                None => "it starts a new chain".to_string(),
            };
            bail!(
                "refused: the entry would fork the audit chain of entity {entity}: {found}, but \
                 the journal's chain for {entity} ends at {last} (nothing after the previous \
                 line was written; give --allow-fork to import it anyway)"
            );
        }
        if let Some(hash) = link.hash_chain {
            heads.insert(entity.to_string(), hash.into_owned());
        }
        Ok(())
    }
}

/// Every chained entity's last `hash_chain` in `journal`.
fn read_heads(journal: &dyn EventJournal) -> Result<HashMap<String, String>> {
    let mut heads = HashMap::new();
    for entry in journal.range_iter_from(1)? {
        let entry = entry?;
        if let Some(link) = chain_link(&ChainRecord::from(&entry))
            && let Some(hash) = link.hash_chain
        {
            heads.insert(link.entity.into_owned(), hash.into_owned());
        }
    }
    Ok(heads)
}
