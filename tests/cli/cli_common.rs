//! Helpers shared by the command-line tests (the modules of this binary),
//! which drive the `baldur-journal` binary as a user would.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use baldur_journal::{Context, DiskJournal, EventJournal, JournalEntry, Timestamp};
use sha2::{Digest, Sha256};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_baldur-journal");

/// The golden journal of format v1: gaps, a jump past `u32::MAX`, two
/// sealed segments and an active one, Unicode and raw context text.
pub const GOLDEN_JOURNAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/v1/journal");

/// Long enough for any command here, short enough that a hang fails.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// `baldur-journal --dir DIR`, without the environment's journal directory.
pub fn cli(dir: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.env_remove("BALDUR_JOURNAL_DIR")
        .timeout(TIMEOUT)
        .arg("--dir")
        .arg(dir);
    cmd
}

/// The same, as a `std::process::Command` (for children kept running).
pub fn std_cli(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.env_remove("BALDUR_JOURNAL_DIR").arg("--dir").arg(dir);
    cmd
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// Runs the command and returns its output, checking it exited 0.
pub fn run_ok(cmd: &mut assert_cmd::Command) -> Output {
    let output = cmd.output().expect("the binary runs");
    assert!(
        output.status.success(),
        "expected success, got {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(&output),
        stderr(&output)
    );
    output
}

/// Runs the command and returns its output, checking its exit code.
pub fn run_code(cmd: &mut assert_cmd::Command, code: i32) -> Output {
    let output = cmd.output().expect("the binary runs");
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// A user-facing error: exit 2, one `error: ` line, no panic or backtrace.
pub fn assert_one_line_error(output: &Output) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line, got: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    err
}

/// The JSON line of a varied entry number `i` (as `append` reads it).
pub fn entry_line(i: u64) -> String {
    const TYPES: [&str; 4] = [
        "circuit_breaker_opened",
        "circuit_breaker_closed",
        "error_budget_warning",
        "emergency_level_changed",
    ];
    const SERVICES: [&str; 3] = ["payments", "orders", ""];
    const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
    format!(
        r#"{{"event_type":"{}","source":"test","timestamp":"2025-01-01T00:{:02}:{:02}Z","service_name":"{}","context":{{"n":{i},"attempt":{},"ok":{}}},"region":"{}","tier_id":"tier-{}"}}"#,
        TYPES[(i % 4) as usize],
        (i / 60) % 60,
        i % 60,
        SERVICES[(i % 3) as usize],
        i % 5,
        i.is_multiple_of(2),
        REGIONS[(i % 2) as usize],
        i % 3
    )
}

/// The entry `entry_line(i)` describes.
pub fn entry(i: u64) -> JournalEntry {
    JournalEntry::from_json(&entry_line(i)).expect("valid entry")
}

/// Appends `entry_line(i)` for each `i` through the CLI; returns stdout.
pub fn append_via_cli(dir: &Path, numbers: impl IntoIterator<Item = u64>) -> String {
    let input: String = numbers.into_iter().map(|i| entry_line(i) + "\n").collect();
    stdout(&run_ok(cli(dir).arg("append").write_stdin(input)))
}

/// A journal of 64 KiB segments (several sealed) holding `n` entries
/// appended with the library, then gaps: `append_at` jumps to `n + 10` and
/// `n + 1000`. Returns the sequences stored.
pub fn make_journal(dir: &Path, n: u64) -> Vec<u64> {
    let journal = DiskJournal::builder(dir)
        .segment_bytes(64 << 10)
        .open()
        .unwrap();
    let entries: Vec<JournalEntry> = (1..=n).map(entry).collect();
    let mut sequences = journal.append_batch(&entries).unwrap();
    for gap_to in [n + 10, n + 1000] {
        let mut e = entry(gap_to);
        e.appended_at = Some(Timestamp::parse("2024-06-01T12:00:00.5Z").unwrap());
        journal.append_at(gap_to, &e).unwrap();
        sequences.push(gap_to);
    }
    let e = JournalEntry::new("dlq_store", "test", Timestamp::now(), "payments").with_context(
        Context::from_json(r#"{ "spaced" : [1, 2], "big": 18446744073709551617 }"#).unwrap(),
    );
    sequences.push(journal.append(&e).unwrap());
    journal.close().unwrap();
    sequences
}

/// Copies a directory's files (flat, as a journal is).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        std::fs::copy(item.path(), to.join(item.file_name())).unwrap();
    }
}

/// A copy of the golden journal in `to`.
pub fn golden_copy(to: &Path) {
    copy_dir(Path::new(GOLDEN_JOURNAL), to);
}

/// The `.log` files of a journal directory, ascending.
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs
}

/// Every file's size, modification time and SHA-256, by name.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<String, (u64, SystemTime, String)>);

pub fn snapshot(dir: &Path) -> Snapshot {
    let mut files = BTreeMap::new();
    for item in std::fs::read_dir(dir).unwrap() {
        let item = item.unwrap();
        let meta = item.metadata().unwrap();
        let hash = if meta.is_file() {
            let bytes = std::fs::read(item.path()).unwrap();
            Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        } else {
            "(directory)".into()
        };
        files.insert(
            item.file_name().to_string_lossy().into_owned(),
            (meta.len(), meta.modified().unwrap(), hash),
        );
    }
    Snapshot(files)
}

/// Reads a child's stdout line by line on a thread, so a test can wait
/// for lines with a deadline instead of sleeping.
pub struct LineReader {
    lines: mpsc::Receiver<String>,
}

impl LineReader {
    pub fn new(stdout: ChildStdout) -> Self {
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        LineReader { lines }
    }

    /// The next line, failing the test when none comes before the deadline.
    pub fn next_line(&self, what: &str) -> String {
        self.lines
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("no line ({what}) within {TIMEOUT:?}: {e}"))
    }

    /// Lines until `n` have arrived (bounded by the deadline).
    pub fn take(&self, n: usize, what: &str) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => out.push(line),
                Err(e) => panic!(
                    "got {} of {n} lines ({what}): {e}; so far: {out:?}",
                    out.len()
                ),
            }
        }
        out
    }
}

/// Kills a child kept running (tail -f) and reaps it.
pub fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The `sequence` of a JSON line.
pub fn sequence_of(line: &str) -> u64 {
    // Not a `Value`: the golden contexts hold numbers beyond f64 (1e400).
    #[derive(serde::Deserialize)]
    struct Sequence {
        sequence: u64,
    }
    serde_json::from_str::<Sequence>(line)
        .unwrap_or_else(|e| panic!("a JSON line with a sequence: {e}: {line}"))
        .sequence
}

/// A DLQ journal built with the library's typed event constructors, its
/// event times relative to now (the CLI's clock), each record's append
/// time its event time, in time order.
pub struct DlqJournal {
    /// When the fixture was built.
    pub now: Timestamp,
    /// Every record: (sequence, event time, event type).
    pub records: Vec<(u64, Timestamp, String)>,
}

pub const HOUR_NS: i64 = 3_600_000_000_000;
pub const DAY_NS: i64 = 24 * HOUR_NS;

/// Entries: dlq-1 resolved 40 days ago after a replay; dlq-2 escalated
/// (an SLA breach); dlq-3 rejected; dlq-4 pending for 2 hours; dlq-5
/// resolved after a failed replay; dlq-6 resolved 34 days ago; dlq-7 with
/// an audit link carrying a hash then a resolve (a broken chain under the
/// link check); dlq-8 with a hashless link (a valid chain); dlq-9 archived
/// 100 days ago. Breakers: payments flapped back to closed, orders open.
/// Plus one event of a kind the fold skips.
pub fn make_dlq_journal(dir: &Path) -> DlqJournal {
    use baldur_journal::projection::events::dlq_archive;
    use baldur_journal::projection::{
        AuditLink, BreakerEvent, BreakerTransition, LifecycleEvent, LifecycleKind, StoreEvent,
    };
    let now = Timestamp::now();
    let at = |ns: i64| Timestamp::from_unix_nanos(now.as_unix_nanos() - ns);
    let store = |id: &str, domain: &str, failure: &str, ago: i64| {
        let mut event = StoreEvent::new(id, domain, failure);
        event.error_message = format!("{failure} in {domain}");
        event.actor_id = Some("runtime".into());
        event.to_entry(at(ago))
    };
    let step = |kind: LifecycleKind, id: &str, ago: i64| {
        LifecycleEvent::new(kind, id).by("worker").to_entry(at(ago))
    };
    use LifecycleKind::*;
    let mut events = vec![
        store("dlq-1", "payments", "timeout", 40 * DAY_NS),
        step(ReplayStart, "dlq-1", 40 * DAY_NS - HOUR_NS),
        step(ReplaySuccess, "dlq-1", 40 * DAY_NS - 2 * HOUR_NS),
        store("dlq-2", "payments", "timeout", 10 * DAY_NS),
        step(Escalate, "dlq-2", 9 * DAY_NS),
        store("dlq-3", "orders", "validation", 5 * DAY_NS),
        step(Reject, "dlq-3", 4 * DAY_NS),
        store("dlq-4", "orders", "timeout", 2 * HOUR_NS),
        store("dlq-5", "shipping", "network", 20 * DAY_NS),
        step(ReplayStart, "dlq-5", 20 * DAY_NS - HOUR_NS),
        step(ReplayFailed, "dlq-5", 20 * DAY_NS - 2 * HOUR_NS),
        step(ReplayStart, "dlq-5", 20 * DAY_NS - 3 * HOUR_NS),
        step(ReplaySuccess, "dlq-5", 19 * DAY_NS),
        store("dlq-6", "payments", "network", 35 * DAY_NS),
        step(Resolve, "dlq-6", 34 * DAY_NS),
        store("dlq-7", "shipping", "timeout", DAY_NS),
        {
            let mut link = AuditLink::new("dlq-7", "review");
            link.actor_id = Some("alice".into());
            link.audit_record_hash = Some("h-7f3a".into());
            link.to_entry(at(23 * HOUR_NS))
        },
        step(Resolve, "dlq-7", 22 * HOUR_NS),
        store("dlq-8", "payments", "timeout", 3 * DAY_NS),
        {
            let mut link = AuditLink::new("dlq-8", "review");
            link.details = Some("looked at it".into());
            link.to_entry(at(3 * DAY_NS - HOUR_NS))
        },
        step(ReplayStart, "dlq-8", 3 * DAY_NS - 2 * HOUR_NS),
        store("dlq-9", "orders", "network", 200 * DAY_NS),
        step(Resolve, "dlq-9", 199 * DAY_NS),
        dlq_archive("dlq-9", Some("cleanup"), Some("old"), at(100 * DAY_NS)),
        BreakerEvent::new(BreakerTransition::Opened, "payments").to_entry(at(6 * HOUR_NS)),
        BreakerEvent::new(BreakerTransition::HalfOpened, "payments").to_entry(at(5 * HOUR_NS)),
        BreakerEvent::new(BreakerTransition::Closed, "payments").to_entry(at(3 * HOUR_NS)),
        {
            let mut open = BreakerEvent::new(BreakerTransition::Opened, "orders");
            open.window_failure_count = Some(12);
            open.to_entry(at(HOUR_NS))
        },
        JournalEntry::new(
            "error_budget_warning",
            "budget",
            at(7 * HOUR_NS),
            "payments",
        ),
    ];
    events.sort_by_key(|e| e.timestamp);
    let journal = DiskJournal::builder(dir).open().unwrap();
    let mut records = Vec::new();
    for (i, mut event) in events.into_iter().enumerate() {
        let sequence = i as u64 + 1;
        event.appended_at = Some(event.timestamp);
        journal.append_at(sequence, &event).unwrap();
        records.push((sequence, event.timestamp, event.event_type.clone()));
    }
    journal.close().unwrap();
    DlqJournal { now, records }
}

/// A journal whose DLQ events were written through the statistics with
/// audit chaining set on explicitly (HMAC under `key` when given, else
/// keyless SHA-256): entries "a" and "b", each stored, replayed, failed,
/// escalated with `details` "needs a human", linked (an audit link with
/// `audit_record_hash`) and resolved. One segment, closed.
pub fn make_chained_journal(dir: &Path, key: Option<baldur_journal::projection::AuditKey>) {
    use baldur_journal::projection::{
        AuditLink, JournalStatistics, LifecycleEvent, LifecycleKind, StatisticsRepository,
        StoreEvent,
    };
    use std::sync::Arc;
    let journal = Arc::new(DiskJournal::builder(dir).open().unwrap());
    let builder = JournalStatistics::builder(journal.clone());
    let stats = match key {
        Some(key) => builder.audit_chain(true).audit_key(key),
        None => builder.audit_chain(true),
    }
    .build()
    .unwrap();
    let now = Timestamp::now().as_unix_nanos() - DAY_NS;
    let at = |i: i64| Timestamp::from_unix_nanos(now + i * 1_000_000_000);
    let step = |kind: LifecycleKind, id: &str, details: &str, t: i64| {
        let mut event = LifecycleEvent::new(kind, id).by("ops");
        event.details = Some(details.into());
        event.to_entry(at(t))
    };
    for (id, t) in [("a", 0), ("b", 100)] {
        stats
            .record(vec![
                StoreEvent::new(id, "payments", "timeout").to_entry(at(t)),
            ])
            .unwrap();
        stats
            .record(vec![
                step(LifecycleKind::ReplayStart, id, "first try", t + 1),
                step(LifecycleKind::ReplayFailed, id, "still down", t + 2),
                step(LifecycleKind::Escalate, id, "needs a human", t + 3),
            ])
            .unwrap();
        let mut link = AuditLink::new(id, "review");
        link.audit_record_hash = Some("ab12".into());
        link.details = Some("looked at".into());
        assert!(stats.link_audit_entry(&link).unwrap());
        stats
            .record(vec![step(
                LifecycleKind::Resolve,
                id,
                "approved by ops",
                t + 5,
            )])
            .unwrap();
    }
    drop(stats);
    match Arc::try_unwrap(journal) {
        Ok(journal) => journal.close().unwrap(),
        Err(_) => panic!("the journal is still shared"),
    }
}

/// Changes `from` to `to` (same length) inside the first record holding
/// it, and rewrites that record's CRC, so only an audit hash can tell.
pub fn tamper(dir: &Path, from: &[u8], to: &[u8]) {
    use baldur_journal::codec::{BODY_LEN_MAX, SEGMENT_HEADER_LEN, check_frame, push_frame};
    assert_eq!(from.len(), to.len());
    for path in segment_files(dir) {
        let mut bytes = std::fs::read(&path).unwrap();
        let mut offset = SEGMENT_HEADER_LEN;
        while let Ok(frame) = check_frame(&bytes[offset..], BODY_LEN_MAX) {
            if frame.is_footer {
                break;
            }
            let len = frame.total_len;
            let body = &bytes[offset + 8..offset + len];
            if let Some(at) = body.windows(from.len()).position(|w| w == from) {
                let mut body = body.to_vec();
                body[at..at + to.len()].copy_from_slice(to);
                let mut new = Vec::new();
                push_frame(&mut new, &body);
                assert_eq!(new.len(), len);
                bytes[offset..offset + len].copy_from_slice(&new);
                std::fs::write(&path, bytes).unwrap();
                return;
            }
            offset += len;
        }
    }
    panic!("no record holds {:?}", String::from_utf8_lossy(from));
}

/// The service and domain name that takes two terminal columns a
/// character: tables must pad it by display width.
pub const WIDE_NAME: &str = "支付服务";

/// A DLQ journal whose names are wide: entries in domain `WIDE_NAME`
/// (failure type `超时`) and `orders` (`timeout`), breakers `WIDE_NAME`
/// (open) and `orders` (closed), all within the last day.
pub fn make_wide_name_journal(dir: &Path) {
    use baldur_journal::projection::{BreakerEvent, BreakerTransition, StoreEvent};
    let now = Timestamp::now().as_unix_nanos();
    let at = |hours: i64| Timestamp::from_unix_nanos(now - hours * HOUR_NS);
    let events = vec![
        StoreEvent::new("dlq-1", WIDE_NAME, "超时").to_entry(at(9)),
        StoreEvent::new("dlq-2", WIDE_NAME, "超时").to_entry(at(8)),
        StoreEvent::new("dlq-3", "orders", "timeout").to_entry(at(7)),
        BreakerEvent::new(BreakerTransition::Opened, WIDE_NAME).to_entry(at(6)),
        BreakerEvent::new(BreakerTransition::Opened, "orders").to_entry(at(5)),
        BreakerEvent::new(BreakerTransition::Closed, "orders").to_entry(at(4)),
    ];
    let journal = DiskJournal::builder(dir).open().unwrap();
    journal.append_batch(&events).unwrap();
    journal.close().unwrap();
}

/// Terminal columns of `text`, counted independently of the binary: CJK
/// ideographs take two, everything else here one.
pub fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            if ('\u{4e00}'..='\u{9fff}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

/// The cells of a table line (separated by two or more spaces) as
/// `(start, end)` in terminal columns.
pub fn cell_spans(line: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut column = 0;
    let mut start = None;
    let mut spaces = 0;
    for c in line.chars() {
        if c == ' ' {
            spaces += 1;
        } else {
            if spaces >= 2 || start.is_none() {
                if let Some(s) = start {
                    spans.push((s, column - spaces));
                }
                start = Some(column);
            }
            spaces = 0;
        }
        column += display_width(c.encode_utf8(&mut [0; 4]));
    }
    if let Some(s) = start {
        spans.push((s, column - spaces));
    }
    spans
}

/// Every line of a table has its cells where the first line (the header)
/// has them: left-aligned columns start, right-aligned ones (`right[i]`)
/// end at the same terminal column.
pub fn assert_columns_aligned(lines: &[&str], right: &[bool]) {
    let header = cell_spans(lines[0]);
    assert_eq!(header.len(), right.len(), "header cells: {:?}", lines[0]);
    for line in &lines[1..] {
        let spans = cell_spans(line);
        assert_eq!(
            spans.len(),
            header.len(),
            "cells of {line:?} in\n{}",
            lines.join("\n")
        );
        for (i, (got, want)) in spans.iter().zip(&header).enumerate() {
            if right[i] {
                assert_eq!(
                    got.1,
                    want.1,
                    "column {i} ends in {line:?} in\n{}",
                    lines.join("\n")
                );
            } else {
                assert_eq!(
                    got.0,
                    want.0,
                    "column {i} starts in {line:?} in\n{}",
                    lines.join("\n")
                );
            }
        }
    }
}

/// Rewrites the journal at `from` into a fresh journal at `to` the way a
/// forger who knows docs/FORMAT.md can: its metadata copied (the same
/// journal id), then every record re-appended through the library at its
/// own sequence and append time, after `edit` (which returns the record to
/// write, changed or not, or `None` to leave it out). Every CRC, commit
/// hint, footer, segment digest, `.idx` and `head` of `to` is the engine's
/// own: only the audit chains (or a head recorded earlier) can tell.
pub fn rewrite_journal(
    from: &Path,
    to: &Path,
    mut edit: impl FnMut(JournalEntry) -> Option<JournalEntry>,
) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(
        from.join(baldur_journal::disk::META_FILE),
        to.join(baldur_journal::disk::META_FILE),
    )
    .unwrap();
    let original = DiskJournal::open_read_only(from).unwrap();
    let forged = DiskJournal::builder(to).open().unwrap();
    for record in original.range_iter(1, u64::MAX).unwrap() {
        if let Some(record) = edit(record.unwrap()) {
            forged.append_at(record.sequence, &record).unwrap();
        }
    }
    forged.close().unwrap();
}

/// Whether `record`'s context names entry `id` (as the statistics write it).
pub fn names_entry(record: &JournalEntry, id: &str) -> bool {
    record
        .context
        .as_str()
        .contains(&format!(r#""entry_id":"{id}""#))
}

/// `record` with `from` replaced by `to` in its context text.
pub fn edit_context(mut record: JournalEntry, from: &str, to: &str) -> JournalEntry {
    record.context = Context::from_json(&record.context.as_str().replace(from, to)).unwrap();
    record
}
