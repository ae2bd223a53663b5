//! Bad input gets the right error, with a message that says what and
//! where, and leaves the journal working: oversized records, a second
//! writer, directories that are not journals, files from a newer format,
//! timestamps outside the storable range, contexts that are not objects,
//! malformed filters and writes to a read-only handle.

use baldur_test_support::common;

use std::path::{Path, PathBuf};

use baldur_journal::{
    Context, DiskJournal, Durability, Error, EventJournal, JournalEntry, JournalQueryFilter,
    Timestamp,
};
use common::{entry, strip};

fn sequences(j: &dyn EventJournal) -> Vec<u64> {
    j.get_sequence_range(0, u64::MAX)
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect()
}

fn with_context_bytes(i: u64, bytes: usize) -> JournalEntry {
    entry(i)
        .with_context(Context::from_json(&format!(r#"{{"pad":"{}"}}"#, "p".repeat(bytes))).unwrap())
}

#[test]
fn an_oversized_record_is_refused_and_the_journal_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let j = DiskJournal::builder(dir.path())
        .max_record_bytes(4096)
        .open()
        .unwrap();
    assert_eq!(j.append(&entry(1)).unwrap(), 1);
    let big = with_context_bytes(2, 10_000);
    match j.append(&big) {
        Err(Error::RecordTooLarge { size, max }) => {
            assert_eq!(max, 4096);
            assert!(size > 10_000, "size {size}");
            let message = Error::RecordTooLarge { size, max }.to_string();
            assert!(message.contains(&size.to_string()), "{message}");
            assert!(message.contains("4096"), "{message}");
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    // A batch with one oversized entry is refused whole.
    let batch = [entry(3), big.clone(), entry(4)];
    assert!(matches!(
        j.append_batch(&batch),
        Err(Error::RecordTooLarge { max: 4096, .. })
    ));
    assert!(matches!(
        j.append_at(100, &big),
        Err(Error::RecordTooLarge { max: 4096, .. })
    ));
    // Nothing was taken, no sequence was used up.
    assert_eq!(j.get_latest_sequence().unwrap(), 1);
    assert_eq!(j.append(&entry(5)).unwrap(), 2);
    assert_eq!(j.append_batch(&[entry(6), entry(7)]).unwrap(), vec![3, 4]);
    // Just under the limit is fine.
    let fits = with_context_bytes(8, 3_700);
    assert_eq!(j.append(&fits).unwrap(), 5);
    j.close().unwrap();
    drop(j);
    let j = DiskJournal::open(dir.path()).unwrap();
    assert_eq!(sequences(&j), vec![1, 2, 3, 4, 5]);
    let mut expected = fits;
    expected.sequence = 5;
    assert_eq!(
        strip(j.get_sequence_range(5, 6).unwrap().remove(0)),
        expected
    );
}

#[test]
fn a_second_writer_is_locked_out_and_a_reader_works_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let writer = DiskJournal::builder(dir.path())
        .segment_bytes(64 << 10)
        .open()
        .unwrap();
    writer
        .append_batch(&(0..10).map(entry).collect::<Vec<_>>())
        .unwrap();
    match DiskJournal::open(dir.path()) {
        Err(e @ Error::Locked { .. }) => {
            let message = e.to_string();
            assert!(message.contains("locked"), "{message}");
            assert!(
                message.contains(&dir.path().display().to_string()),
                "{message}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    // The refused open did not disturb the writer.
    assert_eq!(writer.append(&entry(10)).unwrap(), 11);

    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert!(reader.is_read_only());
    assert_eq!(reader.get_latest_sequence().unwrap(), 11);
    assert_eq!(sequences(&reader), (1..=11).collect::<Vec<_>>());
    // The reader follows the live writer, across segment rolls too.
    let more: Vec<_> = (11..700).map(entry).collect();
    writer.append_batch(&more).unwrap();
    assert_eq!(reader.get_latest_sequence().unwrap(), 700);
    assert_eq!(sequences(&reader), (1..=700).collect::<Vec<_>>());
    assert_eq!(reader.count(&JournalQueryFilter::default()).unwrap(), 700);
    let stored = reader.get_sequence_range(650, 651).unwrap().remove(0);
    let mut expected = entry(649);
    expected.sequence = 650;
    assert_eq!(strip(stored), expected);
    // Still only one writer after all that.
    assert!(matches!(
        DiskJournal::open(dir.path()),
        Err(Error::Locked { .. })
    ));
    writer.close().unwrap();
    drop(writer);
    // Once the writer is gone, a new one may open.
    let again = DiskJournal::open(dir.path()).unwrap();
    assert_eq!(again.get_latest_sequence().unwrap(), 700);
}

#[test]
fn writes_to_a_read_only_handle_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let j = DiskJournal::open(dir.path()).unwrap();
        j.append(&entry(1)).unwrap();
    }
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert!(matches!(reader.append(&entry(2)), Err(Error::ReadOnly)));
    assert!(matches!(
        reader.append_batch(&[entry(2), entry(3)]),
        Err(Error::ReadOnly)
    ));
    assert!(matches!(
        reader.append_at(10, &entry(2)),
        Err(Error::ReadOnly)
    ));
    assert!(
        Error::ReadOnly.to_string().contains("read-only"),
        "{}",
        Error::ReadOnly
    );
    assert_eq!(reader.get_latest_sequence().unwrap(), 1);
    drop(reader);
    let j = DiskJournal::open(dir.path()).unwrap();
    assert_eq!(sequences(&j), vec![1]);
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_directory_of_other_files_is_not_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    for (how, result) in [
        ("writer", DiskJournal::open(dir.path())),
        ("reader", DiskJournal::open_read_only(dir.path())),
    ] {
        match result {
            Err(e @ Error::NotAJournal { .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains(&dir.path().display().to_string()),
                    "{how}: {message}"
                );
                assert!(message.contains("journal.meta"), "{how}: {message}");
            }
            other => panic!("{how}: expected NotAJournal, got {other:?}"),
        }
    }
    // Nothing was written there.
    assert_eq!(files_in(dir.path()), vec!["notes.txt"]);
    assert_eq!(
        std::fs::read(dir.path().join("notes.txt")).unwrap(),
        b"hello"
    );
}

#[test]
fn a_missing_directory_opened_read_only_is_not_a_journal() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("no").join("such");
    match DiskJournal::open_read_only(&missing) {
        Err(e @ Error::NotAJournal { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(&missing.display().to_string()),
                "{message}"
            );
            assert!(message.contains("does not exist"), "{message}");
        }
        other => panic!("expected NotAJournal, got {other:?}"),
    }
    assert!(
        !parent.path().join("no").exists(),
        "a read-only open created directories"
    );
    // Nor does a writer create it when told not to.
    assert!(matches!(
        DiskJournal::builder(&missing)
            .create_if_missing(false)
            .open(),
        Err(Error::NotAJournal { .. })
    ));
    assert!(!parent.path().join("no").exists());
}

/// Writes `version` at bytes 8..12 and recomputes the CRC-32 of bytes
/// 0..60 at 60..64, as a newer build would write the header.
fn set_header_version(path: &Path, version: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[8..12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&bytes[0..60]);
    bytes[60..64].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

fn segment_logs(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs
}

/// A closed journal with `n` entries in 64 KiB segments.
fn closed_journal(n: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let j = DiskJournal::builder(dir.path())
        .segment_bytes(64 << 10)
        .durability(Durability::Os)
        .open()
        .unwrap();
    j.append_batch(&(0..n).map(entry).collect::<Vec<_>>())
        .unwrap();
    j.close().unwrap();
    dir
}

fn expect_unsupported(dir: &Path, file: &Path) {
    for (how, result) in [
        ("writer", DiskJournal::open(dir)),
        ("reader", DiskJournal::open_read_only(dir)),
    ] {
        match result {
            Err(e @ Error::UnsupportedVersion { .. }) => {
                let Error::UnsupportedVersion {
                    path,
                    found,
                    supported,
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!(
                    (*found, *supported),
                    (99, baldur_journal::codec::FORMAT_VERSION),
                    "{how}"
                );
                assert_eq!(path, file, "{how}");
                let message = e.to_string();
                assert!(
                    message.contains(&file.display().to_string()),
                    "{how}: {message}"
                );
                assert!(message.contains("99"), "{how}: {message}");
                assert!(message.contains("version"), "{how}: {message}");
                let supported = format!(" {} ", baldur_journal::codec::FORMAT_VERSION);
                assert!(message.contains(&supported), "{how}: {message}");
            }
            other => panic!("{how}: expected UnsupportedVersion, got {other:?}"),
        }
    }
}

#[test]
fn a_newer_meta_version_is_unsupported() {
    let dir = closed_journal(10);
    let meta = dir.path().join("journal.meta");
    set_header_version(&meta, 99);
    let before = std::fs::read(&meta).unwrap();
    expect_unsupported(dir.path(), &meta);
    // The refused opens changed nothing.
    assert_eq!(std::fs::read(&meta).unwrap(), before);
}

#[test]
fn a_newer_version_of_the_only_segment_is_unsupported() {
    let dir = closed_journal(10);
    let logs = segment_logs(dir.path());
    assert_eq!(logs.len(), 1);
    set_header_version(&logs[0], 99);
    let before = std::fs::read(&logs[0]).unwrap();
    expect_unsupported(dir.path(), &logs[0]);
    assert_eq!(
        std::fs::read(&logs[0]).unwrap(),
        before,
        "the header was 'repaired'"
    );
}

#[test]
fn a_newer_version_of_an_empty_active_segment_is_unsupported() {
    // A journal with no entries: the active segment is a bare header.
    let dir = closed_journal(0);
    let logs = segment_logs(dir.path());
    assert_eq!(logs.len(), 1);
    assert_eq!(std::fs::metadata(&logs[0]).unwrap().len(), 64);
    set_header_version(&logs[0], 99);
    let before = std::fs::read(&logs[0]).unwrap();
    expect_unsupported(dir.path(), &logs[0]);
    assert_eq!(
        std::fs::read(&logs[0]).unwrap(),
        before,
        "the header was overwritten"
    );
}

#[test]
fn a_newer_version_of_a_sealed_segment_is_unsupported() {
    let dir = closed_journal(1000);
    let logs = segment_logs(dir.path());
    assert!(logs.len() >= 3, "{logs:?}");
    set_header_version(&logs[1], 99);
    expect_unsupported(dir.path(), &logs[1]);
}

const OUT_OF_RANGE: [&str; 4] = [
    "2300-01-01T00:00:00Z",
    "1600-06-15T12:00:00Z",
    "2262-04-11T23:47:16.854775808Z",
    "1677-09-21T00:12:43.145224191Z",
];

#[test]
fn timestamps_outside_the_storable_range_are_refused() {
    for text in OUT_OF_RANGE {
        match Timestamp::parse(text) {
            Err(e @ Error::InvalidTimestamp { .. }) => {
                let message = e.to_string();
                assert!(message.contains(text), "{message}");
                assert!(message.contains("outside the storable range"), "{message}");
            }
            other => panic!("{text}: expected InvalidTimestamp, got {other:?}"),
        }
        let json =
            format!(r#"{{"event_type":"t","source":"s","timestamp":"{text}","service_name":"x"}}"#);
        let message = serde_json::from_str::<JournalEntry>(&json)
            .unwrap_err()
            .to_string();
        assert!(message.contains(text), "{message}");
        assert!(message.contains("outside the storable range"), "{message}");
    }
    // The edges themselves are storable and print back the same.
    for (text, ts) in [
        ("2262-04-11T23:47:16.854775807Z", Timestamp::MAX),
        ("1677-09-21T00:12:43.145224192Z", Timestamp::MIN),
    ] {
        assert_eq!(Timestamp::parse(text).unwrap(), ts);
        assert_eq!(ts.to_string(), text);
    }
    // Text that is no time at all says so, naming the input.
    let message = Timestamp::parse("yesterday").unwrap_err().to_string();
    assert!(message.contains("yesterday"), "{message}");
}

#[test]
fn a_context_that_is_not_an_object_is_refused() {
    for text in ["[1]", r#""x""#, "{bad", "1", "null", "", "{} {}"] {
        match Context::from_json(text) {
            Err(Error::InvalidEntry(reason)) => assert!(!reason.is_empty(), "{text}"),
            other => panic!("{text:?}: expected InvalidEntry, got {other:?}"),
        }
        let json = format!(
            r#"{{"event_type":"t","source":"s","timestamp":"2024-01-01T00:00:00Z","service_name":"x","context":{text}}}"#
        );
        assert!(
            serde_json::from_str::<JournalEntry>(&json).is_err(),
            "entry with context {text:?} was accepted"
        );
    }
    let message = Context::from_json("[1]").unwrap_err().to_string();
    assert!(message.contains("object"), "{message}");
    // The good cases beside them.
    assert_eq!(
        Context::from_json(r#" {"a":1} "#).unwrap().as_str(),
        r#"{"a":1}"#
    );
    let e: JournalEntry = serde_json::from_str(
        r#"{"event_type":"t","source":"s","timestamp":"2024-01-01T00:00:00Z","service_name":"x","context":{"k":[1]}}"#,
    )
    .unwrap();
    assert_eq!(e.context.as_str(), r#"{"k":[1]}"#);
}

#[test]
fn malformed_filters_are_invalid() {
    for (text, needle) in [
        (r#"{"event_typez":["a"]}"#, "event_typez"),
        (r#"{"context_filters":{"attempt":1}}"#, "1"),
        (r#"{"context_filters":{"ok":true}}"#, "true"),
        (r#"{"limit":-1}"#, "-1"),
        (r#"{"limit":"ten"}"#, "ten"),
        (
            r#"{"start_time":"2300-01-01T00:00:00Z"}"#,
            "2300-01-01T00:00:00Z",
        ),
    ] {
        match JournalQueryFilter::from_json(text) {
            Err(e @ Error::InvalidFilter(_)) => {
                let message = e.to_string();
                assert!(message.contains(needle), "{text}: {message}");
                assert!(message.starts_with("invalid filter"), "{text}: {message}");
            }
            other => panic!("{text}: expected InvalidFilter, got {other:?}"),
        }
    }
    let ok =
        JournalQueryFilter::from_json(r#"{"limit":0,"context_filters":{"ok":"True"}}"#).unwrap();
    assert_eq!(ok.limit, 0);
    assert_eq!(
        JournalQueryFilter::from_json("{}").unwrap(),
        JournalQueryFilter::default()
    );
}

/// A filter's JSON form is an object; an array must not be read as the
/// fields in declaration order.
#[test]
fn a_filter_must_be_a_json_object() {
    for text in ["[]", r#"[["dlq_store"], "payments"]"#, "null", "7"] {
        assert!(
            matches!(
                JournalQueryFilter::from_json(text),
                Err(Error::InvalidFilter(_))
            ),
            "{text} was accepted as {:?}",
            JournalQueryFilter::from_json(text)
        );
    }
}

/// Damaged bytes are reported with the file and the byte offset where the
/// damage is, and both checksums.
#[test]
fn damage_is_reported_with_its_path_and_offset() {
    // A header whose version changed without its CRC: a checksum error at 0.
    let dir = closed_journal(10);
    let log = segment_logs(dir.path()).remove(0);
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[8] ^= 0x40;
    std::fs::write(&log, &bytes).unwrap();
    match DiskJournal::open_read_only(dir.path()) {
        Err(e @ Error::ChecksumMismatch { offset: 0, .. }) => {
            let message = e.to_string();
            assert!(message.contains(&log.display().to_string()), "{message}");
            assert!(message.contains("offset 0"), "{message}");
        }
        other => panic!("expected ChecksumMismatch at 0, got {other:?}"),
    }

    // A flipped byte inside the 100th record of a sealed segment.
    let dir = closed_journal(1000);
    let log = segment_logs(dir.path()).remove(0);
    let mut bytes = std::fs::read(&log).unwrap();
    let mut at = 64usize;
    for _ in 0..99 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        at += 8 + len as usize;
    }
    let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    bytes[at + 8 + len / 2] ^= 0x20;
    std::fs::write(&log, &bytes).unwrap();
    let j = DiskJournal::open_read_only(dir.path()).unwrap();
    // Records before the damage read fine (reading up to the damaged record
    // itself needs its sequence, which its checksum no longer vouches for).
    assert_eq!(j.get_sequence_range(1, 99).unwrap().len(), 98);
    match j.get_sequence_range(1, 200) {
        Err(e @ Error::ChecksumMismatch { .. }) => {
            let Error::ChecksumMismatch {
                offset,
                expected,
                actual,
                ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(*offset, at as u64);
            assert_ne!(expected, actual);
            let message = e.to_string();
            assert!(message.contains(&log.display().to_string()), "{message}");
            assert!(message.contains(&format!("offset {at}")), "{message}");
            assert!(message.contains(&format!("{expected:#010x}")), "{message}");
        }
        other => panic!(
            "expected ChecksumMismatch, got {:?}",
            other.map(|v| v.len())
        ),
    }
    assert!(
        j.query(&JournalQueryFilter::default())
            .unwrap_err()
            .is_corruption()
    );
}

/// A context object nested `depth` levels deep (the context itself is
/// level 1).
fn nested_context(depth: usize) -> String {
    let mut text = r#"{"leaf":[]}"#.to_string();
    // The array is a level too.
    for _ in 0..depth.saturating_sub(2) {
        text = format!(r#"{{"a":{text}}}"#);
    }
    text
}

#[test]
fn contexts_nested_beyond_the_readers_limit_are_refused() {
    use baldur_journal::entry::MAX_CONTEXT_DEPTH;
    assert_eq!(MAX_CONTEXT_DEPTH, 64);
    let deepest = nested_context(MAX_CONTEXT_DEPTH);
    let context = Context::from_json(&deepest).expect("the limit is accepted");
    // Every reader parses it: as a value, as a map, and inside an entry line.
    serde_json::from_str::<serde_json::Value>(context.as_str()).unwrap();
    assert!(!context.to_value().is_empty());
    let line = serde_json::to_string(&entry(1).with_context(context)).unwrap();
    serde_json::from_str::<serde_json::Value>(&line).unwrap();
    JournalEntry::from_json(&line).unwrap();

    for depth in [MAX_CONTEXT_DEPTH + 1, 200] {
        let text = nested_context(depth);
        let message = match Context::from_json(&text) {
            Err(Error::InvalidEntry(message)) => message,
            other => panic!("depth {depth}: expected InvalidEntry, got {other:?}"),
        };
        assert!(message.contains("nests deeper than 64 levels"), "{message}");
        // The same through an entry's JSON and through a parsed value.
        let line = format!(
            r#"{{"event_type":"e","source":"s","timestamp":"2025-01-01T00:00:00Z","service_name":"","context":{text}}}"#
        );
        let message = JournalEntry::from_json(&line).unwrap_err().to_string();
        assert!(message.contains("nests deeper than 64 levels"), "{message}");
        let value: serde_json::Value = serde_json::from_str(&nested_context(100)).unwrap();
        assert!(Context::from_value(&value).is_err());
    }
    // Brackets inside strings are not nesting.
    let brackets = format!(r#"{{"s":"{}"}}"#, "[{".repeat(500));
    Context::from_json(&brackets).unwrap();
}

#[test]
fn offsets_beyond_23_59_are_refused() {
    for text in [
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00+23:59",
        "2025-01-01T00:00:00-23:59",
        "2025-01-01T00:00:00+00:00",
        "2025-01-01T00:00:00",
    ] {
        Timestamp::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    assert_eq!(
        Timestamp::parse("2025-01-01T23:59:00+23:59").unwrap(),
        Timestamp::parse("2025-01-01T00:00:00Z").unwrap()
    );
    for (text, offset) in [
        ("2025-01-01T00:00:00+25:00", "+25"),
        ("2025-01-01T00:00:00+24:00", "+24"),
        ("2025-01-01T00:00:00-24:30", "-24:30"),
        ("2025-01-01T00:00:00-23:59:01", "-23:59:01"),
    ] {
        match Timestamp::parse(text) {
            Err(e @ Error::InvalidTimestamp { .. }) => {
                let message = e.to_string();
                assert!(message.contains(text), "{message}");
                assert!(
                    message.contains(&format!("offset {offset}")) && message.contains("23:59"),
                    "{message}"
                );
            }
            other => panic!("{text}: expected InvalidTimestamp, got {other:?}"),
        }
        let line =
            format!(r#"{{"event_type":"e","source":"s","timestamp":"{text}","service_name":""}}"#);
        assert!(JournalEntry::from_json(&line).is_err(), "{text}");
    }
}

#[test]
fn lone_surrogates_are_refused() {
    for (context, escape) in [
        (r#"{"k":"\ud800"}"#, r"\ud800"),
        (r#"{"k":"\udfff x"}"#, r"\udfff"),
        (r#"{"\ud83dk":1}"#, r"\ud83d"),
        (r#"{"k":["ok \ud83d\ude00", "\ud800\u0041"]}"#, r"\ud800"),
    ] {
        let message = match Context::from_json(context) {
            Err(Error::InvalidEntry(message)) => message,
            other => panic!("{context}: expected InvalidEntry, got {other:?}"),
        };
        assert!(
            message.contains(&format!("lone surrogate escape {escape}")),
            "{message}"
        );
    }
    // A pair is one character; escaped backslashes are not escapes.
    Context::from_json(r#"{"k":"\ud83d\ude00","b":"\\ud800"}"#).unwrap();
    // In a string field of the entry, the message says the same.
    let line = r#"{"event_type":"\ud800","source":"s","timestamp":"2025-01-01T00:00:00Z","service_name":""}"#;
    let message = JournalEntry::from_json(line).unwrap_err().to_string();
    assert!(
        message.contains("lone surrogate escape \\ud800"),
        "{message}"
    );
}
