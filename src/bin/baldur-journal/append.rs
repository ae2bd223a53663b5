//! `append` (streaming JSON lines from stdin, one durable sequence printed
//! per line) and `import` (a JSON-lines file, optionally keeping its
//! sequences and append times).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
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
±23:59, a lone surrogate escape such as \\ud800. Creates the journal when it does not exist.",
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
where to resume). Lines are checked as `append` checks them (record size, context depth, UTC \
offset, lone surrogates). Creates the journal when it does not exist.",
    after_help = "Examples:
  baldur-journal --dir restored import --keep-sequence events.jsonl
  baldur-journal export --from 1000 | baldur-journal --dir other import -"
)]
pub struct ImportArgs {
    /// The JSON-lines file, or `-` for stdin
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Keep each line's sequence and append time (gaps preserved)
    #[arg(long)]
    keep_sequence: bool,
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
    let opened = open::open_write(globals, args.durability)?;
    let result = append_stream(
        opened.journal(),
        opened.max_record_bytes(),
        io::stdin().lock(),
    );
    let closed = opened.close();
    result?;
    closed?;
    Ok(Outcome::Success)
}

fn append_stream(journal: &dyn EventJournal, max_line_bytes: u64, input: impl Read) -> Result<()> {
    let mut lines = Lines::new(input, "line ".into(), max_line_bytes);
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
        commit(journal, &lines.place, &numbers, &entries, |sequences| {
            let mut text = String::with_capacity(sequences.len() * 8);
            for sequence in sequences {
                text.push_str(&sequence.to_string());
                text.push('\n');
            }
            out.write_all(text.as_bytes())?;
            out.flush()
        })?;
        if let Some(error) = stop {
            return Err(error);
        }
        if eof {
            return Ok(());
        }
    }
}

pub fn run_import(globals: &Globals, args: &ImportArgs) -> Result<Outcome> {
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
    // Synced once, on close: the exit status tells whether all is durable.
    let opened = open::open_write(globals, Durability::Os)?;
    let journal = opened.journal();
    let bar = match len {
        Some(len) => output::progress_bytes(len, "importing"),
        None => output::progress(None, "importing", "entries"),
    };
    let lines = Lines::new(input, place, opened.max_record_bytes());
    let result = import_lines(journal, lines, args.keep_sequence, &bar);
    bar.finish_and_clear();
    let closed = opened.close();
    result?;
    closed?;
    Ok(Outcome::Success)
}

fn import_lines(
    journal: &dyn EventJournal,
    mut lines: Lines<Box<dyn Read>>,
    keep_sequence: bool,
    bar: &ProgressBar,
) -> Result<()> {
    let mut numbers = Vec::with_capacity(BATCH_MAX);
    let mut entries = Vec::with_capacity(BATCH_MAX);
    loop {
        let mut stop = None;
        let mut eof = false;
        let batch_start = lines.bytes;
        while entries.len() < BATCH_MAX && lines.bytes - batch_start < BATCH_BYTES_MAX {
            match lines.next()? {
                None => eof = true,
                Some(Line::Blank) => continue,
                Some(Line::Entry(number, entry)) => {
                    if keep_sequence && entry.sequence == 0 {
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
        if keep_sequence {
            for (number, entry) in numbers.iter().zip(&entries) {
                journal
                    .append_at(entry.sequence, entry)
                    .map_err(|e| anyhow!("{}{number}: {e}", lines.place))?;
            }
        } else {
            commit(journal, &lines.place, &numbers, &entries, |_| Ok(()))?;
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
