//! Golden files of format version 1: a journal written by this build,
//! committed under `tests/golden/v1/`, must keep opening, read-only and as
//! a writer, with every entry exactly as `entries.jsonl` records it. A
//! format change that still reads its own files but no longer reads old
//! ones fails here.
//!
//! The fixture is made by the ignored test `regenerate_golden_v1`:
//!
//! ```text
//! cargo test --test engine -- --ignored golden::regenerate
//! ```
//!
//! Regenerate only on purpose: the point of the files is that they are old.
//!
//! The fixture is kept under 300 KB, which bounds it: every record costs
//! its bytes twice (once in a segment, once in `entries.jsonl`), and a
//! sealed 64 KiB segment holds nearly 64 KiB. So there are two sealed
//! segments and an active one, filled by two large records, and ~260 small
//! entries carry the variety: single appends, batches, explicit sequences
//! with gaps and kept append times, a jump past `u32::MAX` inside a sealed
//! segment, the timestamp range's edges, Unicode, escapes, raw context text.

use baldur_test_support::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baldur_journal::{
    Context, DiskJournal, Durability, EventJournal, JournalEntry, JournalQueryFilter,
    MemoryJournal, Timestamp,
};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/v1");
const SEGMENT_BYTES: u64 = 64 << 10;
/// Segment header and footer frame lengths (docs/FORMAT.md).
const HEADER_LEN: u64 = 64;
const FOOTER_FRAME_LEN: u64 = 104;
/// Frame header (8) plus the body's fixed fields (56).
const RECORD_OVERHEAD: u64 = 64;
const BIG_TYPE: &str = "golden_filler";

fn golden_journal() -> PathBuf {
    Path::new(GOLDEN).join("journal")
}

fn golden_entries() -> PathBuf {
    Path::new(GOLDEN).join("entries.jsonl")
}

// ---------------------------------------------------------------------------------------------
// Making the fixture

/// The encoded size of an entry's frame.
fn frame_len(e: &JournalEntry) -> u64 {
    RECORD_OVERHEAD
        + [
            e.event_type.len(),
            e.source.len(),
            e.service_name.len(),
            e.region.len(),
            e.tier_id.len(),
            e.context.as_str().len(),
        ]
        .iter()
        .sum::<usize>() as u64
}

/// A filler entry whose frame is exactly `frame` bytes.
fn filler(n: u64, frame: u64) -> JournalEntry {
    let mut e = JournalEntry::new(
        BIG_TYPE,
        "golden",
        Timestamp::from_unix_nanos(1_650_000_000_000_000_000 + n as i64),
        "bulk",
    )
    .with_region("eu-west-1");
    e.context = Context::from_json(&format!(r#"{{"n":{n},"blob":""}}"#)).unwrap();
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let blob: String = (0..frame - frame_len(&e))
        .map(|k| alphabet[((k * 7 + n) % 36) as usize] as char)
        .collect();
    e.context = Context::from_json(&format!(r#"{{"n":{n},"blob":"{blob}"}}"#)).unwrap();
    assert_eq!(frame_len(&e), frame);
    e
}

/// Small entries varied in every field.
fn small(i: u64) -> JournalEntry {
    let mut e = common::entry(i);
    match i % 9 {
        0 => {
            e.event_type = "ünïcode_事件".into();
            e.service_name = "東京-svc".into();
            e.region = "ap-northeast-1".into();
        }
        1 => {
            e.context = Context::from_json(
                r#"{ "z": 1, "a": [1.50, 1e400, "\u00e9\n\"q\""], "n": null, "neg": -0 }"#,
            )
            .unwrap();
        }
        2 => {
            e.context = Context::empty();
            e.region = String::new();
            e.tier_id = String::new();
            e.service_name = String::new();
        }
        3 => e.source = "quote\"back\\slash\ttab".into(),
        4 => e.timestamp = Timestamp::from_unix_nanos(-(i as i64) * 1_000_000_001),
        _ => {}
    }
    e
}

/// The active segment's length (the writer writes each batch before it
/// acknowledges it, so this is its end).
fn active_len(dir: &Path) -> u64 {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    std::fs::metadata(logs.last().unwrap()).unwrap().len()
}

/// Appends a filler just too large for the active segment, so it rolls and
/// the filler opens the next one.
fn force_roll(j: &DiskJournal, dir: &Path, n: u64) {
    let end = active_len(dir);
    let frame = SEGMENT_BYTES - FOOTER_FRAME_LEN - end + 1;
    assert!(HEADER_LEN + frame + FOOTER_FRAME_LEN <= SEGMENT_BYTES);
    j.append(&filler(n, frame)).unwrap();
}

/// Small entries through every write path: single appends, batches, and
/// explicit sequences with gaps and kept append times.
fn write_smalls(j: &DiskJournal, from: u64, to: u64) {
    let mut i = from;
    let mut step = 0;
    while i < to {
        step += 1;
        match step % 7 {
            0 | 1 => {
                j.append(&small(i)).unwrap();
                i += 1;
            }
            2 => {
                let end = (i + 5).min(to);
                j.append_batch(&(i..end).map(small).collect::<Vec<_>>())
                    .unwrap();
                i = end;
            }
            3 => {
                let latest = j.get_latest_sequence().unwrap();
                let mut e = small(i);
                e.appended_at = Some(Timestamp::from_unix_nanos(
                    1_600_000_000_000_000_000 + i as i64 * 1_000_003,
                ));
                j.append_at(latest + 1 + i % 50, &e).unwrap();
                i += 1;
            }
            _ => {
                j.append(&small(i)).unwrap();
                i += 1;
            }
        }
    }
}

fn count_logs(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count()
}

#[test]
#[ignore = "rewrites the committed golden files; run on purpose only"]
fn regenerate_golden_v1() {
    let dir = golden_journal();
    if Path::new(GOLDEN).exists() {
        std::fs::remove_dir_all(GOLDEN).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let j = DiskJournal::builder(&dir)
        .segment_bytes(SEGMENT_BYTES)
        .durability(Durability::Os)
        .open()
        .unwrap();
    // Segment 1: small entries with the timestamp range's edges and a jump
    // past u32::MAX among them, then a filler that does not fit.
    write_smalls(&j, 0, 60);
    let mut edge = small(60);
    edge.timestamp = Timestamp::MIN;
    j.append(&edge).unwrap();
    let mut edge = small(61);
    edge.timestamp = Timestamp::MAX;
    edge.appended_at = Some(Timestamp::from_unix_nanos(-1));
    let latest = j.get_latest_sequence().unwrap();
    j.append_at(latest + u64::from(u32::MAX) + 17, &edge)
        .unwrap();
    write_smalls(&j, 62, 110);
    force_roll(&j, &dir, 1);
    assert_eq!(count_logs(&dir), 2);
    // Segment 2: that filler alone; the next filler does not fit.
    force_roll(&j, &dir, 2);
    assert_eq!(count_logs(&dir), 3);
    // Segment 3, the active one: that filler and small entries.
    write_smalls(&j, 110, 260);
    assert_eq!(count_logs(&dir), 3);
    j.close().unwrap();
    drop(j);
    std::fs::remove_file(dir.join("LOCK")).unwrap();
    std::fs::remove_file(dir.join("head")).unwrap();

    let j = DiskJournal::open_read_only(&dir).unwrap();
    let mut lines = String::new();
    for e in j.get_sequence_range(0, u64::MAX).unwrap() {
        // Through text, not `serde_json::Value`: contexts keep their raw
        // text (a `Value` cannot even hold `1e400`).
        let json = serde_json::to_string(&e).unwrap();
        let appended_at = serde_json::to_string(&e.appended_at.unwrap()).unwrap();
        let json = json.strip_suffix('}').unwrap();
        lines.push_str(&format!(r#"{json},"appended_at":{appended_at}}}"#));
        lines.push('\n');
    }
    std::fs::write(golden_entries(), lines).unwrap();
    let total: u64 = walk(Path::new(GOLDEN))
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(total < 290_000, "the golden files take {total} bytes");
}

// ---------------------------------------------------------------------------------------------
// Checking it

/// Every file under `dir`, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let path = f.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn copy_journal(to: &Path) {
    for file in walk(&golden_journal()) {
        std::fs::copy(&file, to.join(file.file_name().unwrap())).unwrap();
    }
}

fn load_expected() -> Vec<JournalEntry> {
    let path = golden_entries();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (the fixture is made by \
             `cargo test --test engine -- --ignored golden::regenerate`)",
            path.display()
        )
    });
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The segment file names in `dir`, ascending.
fn log_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    names
}

/// Checks the raw bytes of the version 1 layouts.
fn check_raw_layout(dir: &Path) {
    let logs = log_names(dir);
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert_eq!(logs[0], "00000000000000000001.log");
    let header = std::fs::read(dir.join(&logs[0])).unwrap();
    assert_eq!(&header[0..8], b"BJLOG\0\0\x01", "segment magic");
    assert_eq!(u32_at(&header, 8), 1, "segment format version");
    assert_eq!(u32_at(&header, 12), 64, "segment header length");
    assert_eq!(
        u32_at(&header, 60),
        crc32fast::hash(&header[0..60]),
        "header CRC"
    );
    let meta = std::fs::read(dir.join("journal.meta")).unwrap();
    assert_eq!(meta.len(), 64);
    assert_eq!(&meta[0..8], b"BJMETA\0\x01", "meta magic");
    assert_eq!(u32_at(&meta, 8), 1, "meta format version");
    assert_eq!(&meta[32..40], &SEGMENT_BYTES.to_le_bytes(), "segment size");
    assert_eq!(&header[16..32], &meta[16..32], "journal id");
    for log in &logs[..2] {
        let idx = dir.join(log.replace(".log", ".idx"));
        let bytes = std::fs::read(&idx).unwrap_or_else(|e| panic!("{}: {e}", idx.display()));
        assert_eq!(&bytes[0..8], b"BJIDX\0\0\x01", "index magic");
        assert_eq!(u32_at(&bytes, 8), 1, "index format version");
    }
    let base: u64 = logs[1].trim_end_matches(".log").parse().unwrap();
    assert!(
        base > u64::from(u32::MAX),
        "the second segment's base is {base}"
    );
}

/// Checks one open handle against the expected entries.
fn check_handle(j: &DiskJournal, expected: &[JournalEntry], how: &str) {
    let report = j.recovery_report();
    assert_eq!(report.segments, 3, "{how}: {report:?}");
    assert!(report.torn_tail.is_none(), "{how}: {report:?}");
    assert!(report.corruption.is_none(), "{how}: {report:?}");
    assert!(
        report.rebuilt_indexes.is_empty(),
        "{how}: the version 1 indexes were not read: {report:?}"
    );
    assert_eq!(j.segment_bytes(), SEGMENT_BYTES, "{how}");
    let latest = expected.last().unwrap().sequence;
    assert_eq!(j.get_latest_sequence().unwrap(), latest, "{how}");
    let stored = j.get_sequence_range(0, u64::MAX).unwrap();
    assert_eq!(stored.len(), expected.len(), "{how}");
    for (got, want) in stored.iter().zip(expected) {
        assert_eq!(got, want, "{how}: sequence {}", want.sequence);
    }
    // The same through the streaming reader and the query path.
    let streamed: Vec<JournalEntry> = j
        .range_iter(1, latest + 1)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(streamed, expected, "{how}: streamed");
    let everything = JournalQueryFilter {
        limit: 10_000,
        ..Default::default()
    };
    assert_eq!(
        j.query(&everything).unwrap().entries,
        expected,
        "{how}: query"
    );

    // Counts per event type (sealed segments answer from their summaries).
    let mut per_type: BTreeMap<&str, u64> = BTreeMap::new();
    for e in expected {
        *per_type.entry(&e.event_type).or_default() += 1;
    }
    assert!(per_type.len() >= 5, "{per_type:?}");
    for (t, n) in &per_type {
        let filter = JournalQueryFilter {
            event_types: Some(vec![t.to_string()]),
            ..Default::default()
        };
        assert_eq!(j.count(&filter).unwrap(), *n, "{how}: count of {t}");
        assert_eq!(
            j.query(&filter).unwrap().total_count,
            *n,
            "{how}: total of {t}"
        );
    }
    assert_eq!(
        j.count(&JournalQueryFilter::default()).unwrap(),
        expected.len() as u64,
        "{how}"
    );

    // Queries and ranges agree with the entries loaded into memory.
    let model = MemoryJournal::new();
    for e in expected {
        model.append_at(e.sequence, e).unwrap();
    }
    let at = |k: usize| expected[k.min(expected.len() - 1)].sequence;
    for (start, end) in [
        (0, 2),
        (at(50), at(60)),
        (at(60), at(100) + 1),
        (at(100), u64::MAX),
        (u64::from(u32::MAX), latest),
        (latest, latest + 1),
    ] {
        assert_eq!(
            j.get_sequence_range(start, end).unwrap(),
            model.get_sequence_range(start, end).unwrap(),
            "{how}: [{start}, {end})"
        );
    }
    let t = |ns: i64| Some(Timestamp::from_unix_nanos(ns));
    let filters = [
        JournalQueryFilter {
            service_name: Some("東京-svc".into()),
            ..Default::default()
        },
        JournalQueryFilter {
            region: Some("eu-west-1".into()),
            limit: 7,
            ..Default::default()
        },
        JournalQueryFilter {
            event_types: Some(vec![BIG_TYPE.into(), "dlq_store".into()]),
            ..Default::default()
        },
        JournalQueryFilter {
            start_time: t(1_700_000_010_000_000_000),
            end_time: t(1_700_000_050_000_000_000),
            ..Default::default()
        },
        JournalQueryFilter {
            end_time: t(0),
            ..Default::default()
        },
        JournalQueryFilter {
            context_filters: Some(BTreeMap::from([("ok".into(), "True".into())])),
            ..Default::default()
        },
        JournalQueryFilter {
            context_filters: Some(BTreeMap::from([(
                "a".into(),
                "[1.5, inf, 'é\\n\"q\"']".into(),
            )])),
            ..Default::default()
        },
    ];
    for filter in &filters {
        let got = j.query(filter).unwrap();
        let want = model.query(filter).unwrap();
        assert!(want.total_count > 0, "{how}: nothing matches {filter:?}");
        assert_eq!(got, want, "{how}: {filter:?}");
        assert_eq!(
            j.count(filter).unwrap(),
            want.total_count,
            "{how}: {filter:?}"
        );
    }
}

/// After the upgrade: counts by service, region, and type in a time window
/// agree with the stored entries (now answered from version-2 summaries).
fn check_counts(j: &DiskJournal, expected: &[JournalEntry]) {
    let model = MemoryJournal::new();
    for e in expected {
        model.append_at(e.sequence, e).unwrap();
    }
    let first_filler = expected
        .iter()
        .filter(|e| e.event_type == BIG_TYPE)
        .map(|e| e.timestamp)
        .min()
        .unwrap();
    let filters = [
        JournalQueryFilter {
            service_name: Some(expected[3].service_name.clone()),
            ..Default::default()
        },
        JournalQueryFilter {
            region: Some(expected[5].region.clone()),
            ..Default::default()
        },
        JournalQueryFilter {
            event_types: Some(vec![BIG_TYPE.into()]),
            start_time: Some(Timestamp::from_unix_nanos(first_filler.as_unix_nanos() + 1)),
            ..Default::default()
        },
    ];
    for filter in &filters {
        let want = model.query(filter).unwrap().total_count;
        assert!(want > 0, "nothing matches {filter:?}");
        assert_eq!(j.count(filter).unwrap(), want, "{filter:?}");
        assert_eq!(j.query(filter).unwrap().total_count, want, "{filter:?}");
    }
}

#[test]
fn golden_v1_opens_read_only_and_as_a_writer() {
    let originals = snapshot(Path::new(GOLDEN));
    assert!(
        golden_entries().exists(),
        "no golden files under {GOLDEN} (made by \
         `cargo test --test engine -- --ignored golden::regenerate`)"
    );
    // Exactly the files of a closed journal: no LOCK or head left behind,
    // an index for each sealed segment.
    let names: Vec<String> = originals
        .keys()
        .map(|p| p.strip_prefix(GOLDEN).unwrap().display().to_string())
        .collect();
    let kinds = |ext: &str| names.iter().filter(|n| n.ends_with(ext)).count();
    assert_eq!((kinds(".log"), kinds(".idx")), (3, 2), "{names:?}");
    assert!(
        names.contains(&"journal/journal.meta".to_string()),
        "{names:?}"
    );
    assert_eq!(names.len(), 7, "{names:?}");
    let total: usize = originals.values().map(Vec::len).sum();
    assert!(total < 300_000, "the golden files take {total} bytes");
    let expected = load_expected();
    assert!(expected.len() > 250, "{} entries", expected.len());
    assert!(
        expected.iter().all(|e| e.appended_at.is_some()),
        "entries.jsonl lost its appended_at fields"
    );
    // The fixture holds what it is meant to: a jump past u32::MAX, the
    // timestamp edges and explicit append times.
    assert!(
        expected
            .windows(2)
            .any(|w| w[1].sequence - w[0].sequence > u64::from(u32::MAX))
    );
    assert!(expected.iter().any(|e| e.timestamp == Timestamp::MIN));
    assert!(expected.iter().any(|e| e.timestamp == Timestamp::MAX));
    assert!(
        expected
            .iter()
            .any(|e| e.appended_at == Some(Timestamp::from_unix_nanos(-1)))
    );

    let dir = tempfile::tempdir().unwrap();
    copy_journal(dir.path());
    check_raw_layout(dir.path());

    // Read-only: writes nothing.
    let before = snapshot(dir.path());
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    check_handle(&reader, &expected, "read-only");
    drop(reader);
    assert!(
        snapshot(dir.path()) == before,
        "a read-only open changed the files"
    );

    // `verify` reads the version-1 indexes as they are and says a writer
    // rewrites them.
    let report = baldur_journal::disk::verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    let old_notes = report
        .notes
        .iter()
        .filter(|n| n.message.contains("version-1 index"))
        .count();
    assert_eq!(old_notes, 2, "{:?}", report.notes);

    // As a writer: recovers without repairs and appends after the latest.
    let sealed: Vec<(PathBuf, Vec<u8>)> = log_names(dir.path())[..2]
        .iter()
        .map(|n| {
            (
                dir.path().join(n),
                std::fs::read(dir.path().join(n)).unwrap(),
            )
        })
        .collect();
    let writer = DiskJournal::builder(dir.path())
        .segment_bytes(1 << 20)
        .open()
        .unwrap();
    check_handle(&writer, &expected, "writer");
    // The writer rewrote both version-1 indexes as version 2 (with block
    // summaries), from their logs.
    assert_eq!(
        writer.recovery_report().upgraded_indexes.len(),
        2,
        "{:?}",
        writer.recovery_report()
    );
    for log in &log_names(dir.path())[..2] {
        let idx = std::fs::read(dir.path().join(log.replace(".log", ".idx"))).unwrap();
        assert_eq!(
            u32_at(&idx, 8),
            2,
            "{log}'s index version after a writer's open"
        );
    }
    let latest = expected.last().unwrap().sequence;
    let mut next = common::entry(7);
    assert_eq!(writer.append(&next).unwrap(), latest + 1);
    writer.close().unwrap();
    drop(writer);
    for (path, bytes) in &sealed {
        assert!(
            &std::fs::read(path).unwrap() == bytes,
            "{} changed",
            path.display()
        );
    }
    let report = baldur_journal::disk::verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert!(
        !report.notes.iter().any(|n| n.message.contains("version-1")),
        "{:?}",
        report.notes
    );
    let reader = DiskJournal::open_read_only(dir.path()).unwrap();
    assert!(reader.recovery_report().upgraded_indexes.is_empty());
    let stored = reader.get_sequence_range(0, u64::MAX).unwrap();
    check_counts(&reader, &stored);
    assert_eq!(stored.len(), expected.len() + 1);
    assert_eq!(&stored[..expected.len()], expected);
    next.sequence = latest + 1;
    assert_eq!(common::strip(stored.last().unwrap().clone()), next);
    drop(reader);

    assert!(
        snapshot(Path::new(GOLDEN)) == originals,
        "the committed golden files were modified"
    );
}
