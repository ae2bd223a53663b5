//! What the commands print: JSON lines of entries (the entry's JSON with
//! its append time as a last field), the readable table of `query`, byte
//! and time formatting, and progress bars that appear only on a terminal.

use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};
use std::time::Duration;

use baldur_journal::{EntryRef, JournalEntry, Timestamp};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use unicode_width::UnicodeWidthStr;

/// Buffered standard output; callers flush where a reader must see a line
/// at once.
pub fn stdout() -> BufWriter<StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

fn json_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(io::Error::from)
}

/// One entry as a JSON line: the fields in the order and spelling
/// `JournalEntry` serializes them, then `appended_at`. The context is the
/// stored text itself; line breaks in it (whitespace, as JSON strings
/// cannot hold raw ones) become spaces so that the record stays one line.
pub fn write_entry_line(out: &mut impl Write, e: &EntryRef<'_>) -> io::Result<()> {
    write_line(out, e, Some(e.appended_at))
}

/// An owned entry as [`write_entry_line`] writes it; without `appended_at`
/// when the backend keeps none (the reference's Redis layout).
pub fn write_owned_line(out: &mut impl Write, entry: &JournalEntry) -> io::Result<()> {
    let e = EntryRef {
        sequence: entry.sequence,
        timestamp: entry.timestamp,
        appended_at: entry.appended_at.unwrap_or(entry.timestamp),
        commit_hint: 0,
        event_type: &entry.event_type,
        source: &entry.source,
        service_name: &entry.service_name,
        region: &entry.region,
        tier_id: &entry.tier_id,
        context: entry.context.as_str(),
    };
    write_line(out, &e, entry.appended_at)
}

fn write_line(
    out: &mut impl Write,
    e: &EntryRef<'_>,
    appended_at: Option<baldur_journal::Timestamp>,
) -> io::Result<()> {
    write!(out, "{{\"sequence\":{},\"event_type\":", e.sequence)?;
    json_str(out, e.event_type)?;
    out.write_all(b",\"source\":")?;
    json_str(out, e.source)?;
    write!(out, ",\"timestamp\":\"{}\",\"service_name\":", e.timestamp)?;
    json_str(out, e.service_name)?;
    out.write_all(b",\"context\":")?;
    if e.context.contains(['\n', '\r']) {
        out.write_all(e.context.replace(['\n', '\r'], " ").as_bytes())?;
    } else {
        out.write_all(e.context.as_bytes())?;
    }
    out.write_all(b",\"region\":")?;
    json_str(out, e.region)?;
    out.write_all(b",\"tier_id\":")?;
    json_str(out, e.tier_id)?;
    match appended_at {
        Some(at) => writeln!(out, ",\"appended_at\":\"{at}\"}}"),
        None => writeln!(out, "}}"),
    }
}

/// A table cell: control characters escaped so that a hostile entry cannot
/// drive the terminal.
fn cell(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    } else {
        text.to_string()
    }
}

/// The columns `text` takes on a terminal: wide characters (`支`) take
/// two, combining marks none.
pub fn display_width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` padded with spaces to `width` display columns, on the left
/// (`right` aligned) or on the right.
pub fn pad(text: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(display_width(text)));
    if right {
        fill + text
    } else {
        format!("{text}{fill}")
    }
}

/// The entries as an aligned table; the context (last column) unpadded.
pub fn write_table(out: &mut impl Write, entries: &[JournalEntry]) -> io::Result<()> {
    const HEADERS: [&str; 7] = [
        "SEQUENCE",
        "TIMESTAMP",
        "EVENT TYPE",
        "SERVICE",
        "REGION",
        "SOURCE",
        "CONTEXT",
    ];
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| {
            [
                e.sequence.to_string(),
                e.timestamp.to_string(),
                cell(&e.event_type),
                cell(&e.service_name),
                cell(&e.region),
                cell(&e.source),
                cell(e.context.as_str()),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(display_width);
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(display_width(c));
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; 7]| -> io::Result<()> {
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == cells.len() - 1 {
                text.push_str(c);
            } else {
                text.push_str(&pad(c, widths[i], i == 0));
            }
            if i < cells.len() - 1 {
                text.push_str("  ");
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, HEADERS)?;
    for row in &rows {
        line(out, row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

/// `1.5 MiB` and the like.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A timestamp to the second (`2025-01-01T10:00:00Z`), for tables.
pub fn time_to_second(ts: Timestamp) -> String {
    let text = ts.to_string();
    match text.find('.') {
        Some(dot) => format!("{}Z", &text[..dot]),
        None => text,
    }
}

/// `12.3 ms`, `1.24 s`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1e-3 {
        format!("{:.0} µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// A progress bar on stderr when stderr is a terminal; a hidden one (every
/// call a no-op) otherwise. `len` None gives a spinner.
pub fn progress(len: Option<u64>, message: &str, unit: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(&format!(
                    "{{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{eta}} left)"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A byte-based progress bar (for reading a file).
pub fn progress_bytes(len: u64, message: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// An aligned table: `right[i]` right-aligns column `i`; cells are
/// escaped as in `write_table` and padded to their display width (a
/// two-column character counts two), trailing spaces trimmed.
pub fn write_columns(
    out: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<String>],
    right: &[bool],
) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| cell(c)).collect())
        .collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(display_width(c));
        }
    }
    let mut line = |cells: &[&str]| -> io::Result<()> {
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            text.push_str(&pad(c, w, right.get(i).copied().unwrap_or(false)));
            text.push_str("  ");
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(headers)?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells)?;
    }
    Ok(())
}

/// An optional timestamp to the second, `-` when absent.
pub fn maybe_time(ts: Option<Timestamp>) -> String {
    ts.map_or_else(|| "-".to_string(), time_to_second)
}
