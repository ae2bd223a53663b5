//! Damage anywhere else: flipped bits in sealed segments are errors naming
//! file and offset when read (never a wrong entry); damaged or missing
//! indexes are rebuilt with identical answers; a crash in the middle of a
//! roll is completed on open.

use baldur_test_support::common;

use std::collections::BTreeMap;

use baldur_journal::{DiskJournal, EventJournal, JournalQueryFilter};
use common::{
    all_sequences, assert_entries_intact, copy_dir, entry, record_offsets, segment_files,
};

fn build(n: u64) -> tempfile::TempDir {
    common::closed_journal(n, 50)
}

/// Every answer the tests compare: all entries and counts per event type.
fn answers(journal: &DiskJournal) -> (Vec<baldur_journal::JournalEntry>, BTreeMap<String, u64>) {
    let entries = journal.get_sequence_range(0, u64::MAX).unwrap();
    let mut counts = BTreeMap::new();
    for t in [
        "dlq_store",
        "circuit_breaker_opened",
        "dlq_resolve",
        "error_budget_critical",
        "x",
    ] {
        let filter = JournalQueryFilter {
            event_types: Some(vec![t.into()]),
            ..Default::default()
        };
        counts.insert(t.to_string(), journal.count(&filter).unwrap());
        assert_eq!(journal.query(&filter).unwrap().total_count, counts[t]);
    }
    (entries, counts)
}

#[test]
fn a_flipped_bit_in_a_sealed_segment_is_an_error_when_read_never_a_wrong_entry() {
    let template = build(1200);
    let sealed = segment_files(template.path())[1].clone();
    let records = record_offsets(&sealed);
    let (victim_seq, start, end) = records[records.len() / 2];
    for offset in (start..end).step_by(3) {
        for bit in [0u8, 5] {
            let copy = copy_dir(template.path());
            let path = copy.path().join(sealed.file_name().unwrap());
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[usize::try_from(offset).unwrap()] ^= 1 << bit;
            std::fs::write(&path, &bytes).unwrap();
            // Open never scans sealed segments, so it succeeds...
            let journal = DiskJournal::open(copy.path()).unwrap();
            // ...and the damage is an error when read, naming file and offset.
            let mut served = Vec::new();
            let mut failure = None;
            for e in journal.range_iter(0, u64::MAX).unwrap() {
                match e {
                    Ok(e) => served.push(e),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let failure =
                failure.unwrap_or_else(|| panic!("flip at {offset} bit {bit} went unnoticed"));
            assert!(failure.is_corruption(), "{failure}");
            let text = failure.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(
                text.contains(&format!("offset {start}")),
                "flip at {offset}: {text}"
            );
            assert_eq!(
                served.len() as u64,
                victim_seq - 1,
                "everything before the damage is served"
            );
            for e in served {
                let mut expected = entry(e.sequence);
                expected.sequence = e.sequence;
                assert_eq!(common::strip(e), expected);
            }
            // A query over the damaged segment fails too; one that skips it does not.
            assert!(journal.query(&JournalQueryFilter::default()).is_err());
            assert_eq!(journal.get_sequence_range(1, 10).unwrap().len(), 9);
        }
    }
}

#[test]
fn missing_or_damaged_indexes_are_rebuilt_with_identical_answers() {
    let template = build(1500);
    let original = DiskJournal::open_read_only(template.path()).unwrap();
    let expected = answers(&original);
    drop(original);
    let indexes: Vec<_> = std::fs::read_dir(template.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .collect();
    assert!(indexes.len() >= 3, "several sealed segments");
    type Damage = fn(&std::path::Path);
    let damages: [(&str, Damage); 4] = [
        ("deleted", |p| std::fs::remove_file(p).unwrap()),
        ("emptied", |p| std::fs::write(p, b"").unwrap()),
        ("bit flipped", |p| {
            let mut b = std::fs::read(p).unwrap();
            let mid = b.len() / 2;
            b[mid] ^= 0x10;
            std::fs::write(p, b).unwrap();
        }),
        ("truncated", |p| {
            let b = std::fs::read(p).unwrap();
            std::fs::write(p, &b[..b.len() - 9]).unwrap();
        }),
    ];
    for (what, damage) in damages {
        let copy = copy_dir(template.path());
        for idx in &indexes {
            damage(&copy.path().join(idx.file_name().unwrap()));
        }
        let reader = DiskJournal::open_read_only(copy.path()).unwrap();
        assert_eq!(
            reader.recovery_report().rebuilt_indexes.len(),
            indexes.len(),
            "{what}"
        );
        assert_eq!(answers(&reader), expected, "read-only, index {what}");
        drop(reader);
        let writer = DiskJournal::open(copy.path()).unwrap();
        assert_eq!(
            writer.recovery_report().rebuilt_indexes.len(),
            indexes.len(),
            "{what}"
        );
        assert_eq!(answers(&writer), expected, "writer, index {what}");
        writer.close().unwrap();
        // The writer wrote the indexes back: the next open rebuilds nothing.
        let again = DiskJournal::open_read_only(copy.path()).unwrap();
        assert!(again.recovery_report().rebuilt_indexes.is_empty(), "{what}");
        assert_eq!(answers(&again), expected);
    }
}

#[test]
fn a_crash_between_sealing_and_creating_the_next_segment_is_completed() {
    let template = build(1000);
    let copy = copy_dir(template.path());
    let logs = segment_files(copy.path());
    let last = logs.last().unwrap();
    let lost = record_offsets(last).len() as u64;
    std::fs::remove_file(last).unwrap();
    std::fs::remove_file(copy.path().join("head")).unwrap();
    let journal = DiskJournal::open(copy.path()).unwrap();
    assert!(journal.recovery_report().completed_roll);
    let latest = journal.get_latest_sequence().unwrap();
    assert_eq!(latest, 1000 - lost);
    assert_eq!(journal.append(&entry(latest + 1)).unwrap(), latest + 1);
    journal.close().unwrap();
    let reopened = DiskJournal::open(copy.path()).unwrap();
    assert_eq!(
        all_sequences(&reopened),
        (1..=latest + 1).collect::<Vec<_>>()
    );
    assert_entries_intact(&reopened);
}

#[test]
fn a_crash_while_creating_a_segment_leaves_a_header_to_rewrite() {
    let template = build(1000);
    let copy = copy_dir(template.path());
    let logs = segment_files(copy.path());
    let last = logs.last().unwrap();
    let lost = record_offsets(last).len() as u64;
    std::fs::remove_file(last).unwrap();
    std::fs::remove_file(copy.path().join("head")).unwrap();
    // The sealed segment's successor exists but its header never reached disk.
    let latest = 1000 - lost;
    let next = copy
        .path()
        .join(baldur_journal::disk::log_file_name(latest + 1));
    std::fs::write(&next, [0u8; 20]).unwrap();
    let reader = DiskJournal::open_read_only(copy.path()).unwrap();
    assert_eq!(reader.get_latest_sequence().unwrap(), latest);
    drop(reader);
    let journal = DiskJournal::open(copy.path()).unwrap();
    assert!(journal.recovery_report().repaired_header);
    assert_eq!(journal.append(&entry(latest + 1)).unwrap(), latest + 1);
    journal.close().unwrap();
    let reopened = DiskJournal::open(copy.path()).unwrap();
    assert_eq!(reopened.get_latest_sequence().unwrap(), latest + 1);
    assert_entries_intact(&reopened);
}

#[test]
fn a_truncated_copy_of_a_sealed_segment_is_an_error_not_a_crash() {
    let template = build(1000);
    let copy = copy_dir(template.path());
    let sealed = &segment_files(copy.path())[0];
    let len = std::fs::metadata(sealed).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(sealed)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let result = DiskJournal::open_read_only(copy.path());
    let error = result.expect_err("a truncated sealed segment is refused");
    assert!(error.is_corruption(), "{error}");
    assert!(
        error.to_string().contains(&sealed.display().to_string()),
        "{error}"
    );
}

/// Rewrites an index file's bytes with `edit` and a fresh CRC, as a
/// forger who knows the format would.
fn forge_index(path: &std::path::Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    edit(&mut bytes);
    let n = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, &bytes).unwrap();
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

/// One rule for derived files: an index rewritten with a valid CRC may
/// steer a read, but every record a read returns is checked against what
/// the index promised, or the read fails naming the index file; a summary
/// contradicting the footer is not used to count.
#[test]
fn a_forged_index_never_gives_a_wrong_answer_through_the_binary() {
    use crate::cli_common::{cli, run_code, stderr, stdout};
    let dir = build(3000);
    let logs = segment_files(dir.path());
    let index = logs[0].with_extension("idx");

    // An entry that names the wrong sequence for its offset.
    let copy = copy_dir(dir.path());
    let forged = copy.path().join(index.file_name().unwrap());
    let entry = 2;
    let at = 160 + 16 * entry;
    let promised = u64_at(&std::fs::read(&forged).unwrap(), at);
    forge_index(&forged, |bytes| {
        bytes[at..at + 8].copy_from_slice(&(promised - 3).to_le_bytes())
    });
    let output = run_code(
        cli(copy.path()).args(["range", &(promised - 2).to_string(), &promised.to_string()]),
        2,
    );
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "corrupt data in {} at byte offset {at}: index entry {entry} promises sequence {}",
            forged.display(),
            promised - 3
        )),
        "{err}"
    );
    assert!(stdout(&output).is_empty());

    // A summary whose event-type counts claim 1000 records more than the
    // footer has: not used to count.
    let copy = copy_dir(dir.path());
    let forged = copy.path().join(index.file_name().unwrap());
    let bytes = std::fs::read(&forged).unwrap();
    let entries = u32::from_le_bytes(bytes[152..156].try_into().unwrap()) as usize;
    let table = 160 + 16 * entries;
    let name_len = u32::from_le_bytes(bytes[table..table + 4].try_into().unwrap()) as usize;
    let name = std::str::from_utf8(&bytes[table + 4..table + 4 + name_len])
        .unwrap()
        .to_string();
    let count_at = table + 4 + name_len;
    let want = stdout(&run_code(
        cli(dir.path()).args(["count", "--event-type", &name]),
        0,
    ));
    forge_index(&forged, |bytes| {
        let count = u64_at(bytes, count_at) + 1000;
        bytes[count_at..count_at + 8].copy_from_slice(&count.to_le_bytes());
    });
    let output = run_code(cli(copy.path()).args(["count", "--event-type", &name]), 0);
    assert_eq!(stdout(&output), want);
    let output = run_code(cli(copy.path()).arg("count"), 0);
    assert_eq!(stdout(&output), "3000\n");
    // The version-2 index's own checks see the table disagree with its
    // block summaries; verify names the file.
    let output = run_code(cli(copy.path()).arg("verify"), 1);
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!("{}: offset ", forged.display())),
        "{output:?}"
    );
    assert!(
        text.contains("block value counts disagree with the segment's table"),
        "{output:?}"
    );
}

/// A deleted middle segment: every read that needs it fails naming the
/// missing segment (its file and sequence span), not the next one; reads
/// that do not need it answer.
#[test]
fn a_deleted_segment_is_named_not_the_next_intact_one() {
    use crate::cli_common::{cli, run_code, stderr, stdout};
    let dir = build(3000);
    let logs = segment_files(dir.path());
    assert!(logs.len() >= 4);
    let first = record_offsets(&logs[1]).first().unwrap().0;
    let last = record_offsets(&logs[1]).last().unwrap().0;
    let next_base = record_offsets(&logs[2]).first().unwrap().0;
    for keep_index in [false, true] {
        let copy = copy_dir(dir.path());
        let missing = copy.path().join(logs[1].file_name().unwrap());
        std::fs::remove_file(&missing).unwrap();
        if !keep_index {
            std::fs::remove_file(missing.with_extension("idx")).unwrap();
        }
        // Without its index, the span runs to the next segment's base.
        let span_last = if keep_index { last } else { next_base - 1 };
        let want = format!(
            "error: segment {} is missing: sequences {first}..={span_last} ",
            missing.display()
        );
        let inside = (first + 3).to_string();
        for command in [
            &["count"][..],
            &["export"],
            &["range", "1", &inside],
            &["query", "--event-type", "dlq_store"],
            &["info"],
        ] {
            let output = run_code(cli(copy.path()).args(command), 2);
            let err = stderr(&output);
            assert!(err.starts_with(&want), "{command:?}: {err}");
        }
        // Reads that do not need it answer.
        let output = run_code(cli(copy.path()).args(["range", "1", "4"]), 0);
        assert_eq!(stdout(&output).lines().count(), 3);
        let output = run_code(cli(copy.path()).arg("latest"), 0);
        assert_eq!(stdout(&output), "3000\n");
        let output = run_code(cli(copy.path()).args(["tail", "-n", "2"]), 0);
        assert_eq!(stdout(&output).lines().count(), 2);
        // A writer refuses to append to it.
        let output = run_code(
            cli(copy.path())
                .arg("append")
                .write_stdin(crate::cli_common::entry_line(1) + "\n"),
            2,
        );
        assert!(stderr(&output).starts_with(&want), "{}", stderr(&output));
    }
    // The active segment, which `head` names (with synced records).
    let copy = copy_dir(dir.path());
    let n = logs.len();
    let active = copy.path().join(logs[n - 1].file_name().unwrap());
    let active_first = record_offsets(&logs[n - 1]).first().unwrap().0;
    std::fs::remove_file(&active).unwrap();
    let want = format!(
        "error: segment {} is missing: sequences {active_first}..=3000 ",
        active.display()
    );
    for command in [&["export"][..], &["count"], &["append"]] {
        let output = run_code(
            cli(copy.path())
                .args(command)
                .write_stdin(crate::cli_common::entry_line(1) + "\n"),
            2,
        );
        assert!(
            stderr(&output).starts_with(&want),
            "{command:?}: {}",
            stderr(&output)
        );
    }
    let output = run_code(cli(copy.path()).args(["range", "1", "4"]), 0);
    assert_eq!(stdout(&output).lines().count(), 3);
    assert!(
        !copy.path().join(logs[n - 1].file_name().unwrap()).exists(),
        "a writer recreated the missing active segment"
    );

    // The last sealed segment, before the active one: its index left.
    let copy = copy_dir(dir.path());
    let n = logs.len();
    let missing = copy.path().join(logs[n - 2].file_name().unwrap());
    std::fs::remove_file(&missing).unwrap();
    let output = run_code(cli(copy.path()).arg("count"), 2);
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!(
            "error: segment {} is missing: ",
            missing.display()
        )),
        "{err}"
    );
}
