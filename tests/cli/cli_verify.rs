//! `verify`: exit 0 and silence on a clean journal; exit 1 with one line
//! per problem naming the file and byte offset on a copy with a flipped
//! byte; a truncated copy gives problems, never a crash; a directory that
//! is not a journal is an error (exit 2).

use std::path::Path;

use crate::cli_common::*;

use baldur_test_support::common;

fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[usize::try_from(offset).unwrap()] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

fn problem_lines(output: &std::process::Output) -> Vec<String> {
    stdout(output).lines().map(str::to_string).collect()
}

#[test]
fn a_clean_journal_verifies_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 1500);
    // A clean verify prints the head: the library's, field by field.
    let output = run_code(cli(tmp.path()).arg("verify"), 0);
    assert!(output.stderr.is_empty(), "{output:?}");
    let head = baldur_journal::DiskJournal::open_read_only(tmp.path())
        .unwrap()
        .head()
        .unwrap();
    let sealed = head
        .last_sealed
        .as_ref()
        .expect("1500 entries seal segments");
    assert_eq!(
        stdout(&output),
        format!(
            "clean: head journal_id={} last_sequence={} sealed_segments={} \
             last_sealed_base={} last_sealed_sequence={} last_sealed_digest={}\n",
            head.journal_id,
            head.last_sequence,
            head.sealed_segments,
            sealed.base_sequence,
            sealed.last_sequence,
            sealed.digest
        )
    );
    let output = run_code(cli(tmp.path()).args(["verify", "--quiet"]), 0);
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
    let output = run_code(cli(tmp.path()).args(["verify", "--verbose"]), 0);
    assert!(stderr(&output).contains("clean"), "{}", stderr(&output));

    let golden = tmp.path().join("golden");
    golden_copy(&golden);
    run_code(cli(&golden).arg("verify"), 0);
}

#[test]
fn a_flipped_byte_in_a_sealed_segment_is_named_with_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 1500);
    let logs = segment_files(tmp.path());
    assert!(logs.len() >= 3);
    let sealed = &logs[0];
    // The first record's frame starts after the 64-byte header; flip a
    // byte of its body (the event type's text).
    flip(sealed, 64 + 8 + 56 + 2);
    let output = run_code(cli(tmp.path()).arg("verify"), 1);
    let lines = problem_lines(&output);
    assert!(!lines.is_empty());
    let name = sealed.display().to_string();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{name}: offset 64: "))),
        "a line naming {name} at offset 64: {lines:#?}"
    );
    let err = stderr(&output);
    assert!(err.contains("problems found"), "{err}");
    assert!(!err.contains("panicked"));

    // A flip in the middle segment's later record, and one in another
    // segment's index.
    let copy = tmp.path().join("copy");
    make_journal(&copy, 1500);
    let logs = segment_files(&copy);
    let middle = &logs[1];
    let len = std::fs::metadata(middle).unwrap().len();
    flip(middle, len / 2);
    let index = logs[0].with_extension("idx");
    flip(&index, 100);
    let output = run_code(cli(&copy).arg("verify"), 1);
    let lines = problem_lines(&output);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{}: offset ", middle.display()))),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{}: offset ", index.display()))),
        "{lines:#?}"
    );
}

#[test]
fn truncated_copies_give_problems_not_crashes() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    make_journal(&source, 1500);
    let logs = segment_files(&source);
    for (i, log) in logs.iter().enumerate() {
        // Where the data ends: after the last record, and the footer of a
        // sealed segment (preallocated zeros may follow; cutting those
        // loses nothing).
        let sealed = i + 1 < logs.len();
        let last_record_end = common::record_offsets(log).last().map_or(64, |r| r.2);
        let len = last_record_end
            + if sealed {
                baldur_journal::codec::FOOTER_FRAME_LEN as u64
            } else {
                0
            };
        for cut in [0, 10, 64, 100, len / 2, len - 1] {
            let copy = tmp.path().join(format!("copy-{i}-{cut}"));
            copy_dir(&source, &copy);
            let target = copy.join(log.file_name().unwrap());
            std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .unwrap()
                .set_len(cut)
                .unwrap();
            let output = cli(&copy).arg("verify").output().unwrap();
            let err = stderr(&output);
            assert!(!err.contains("panicked"), "segment {i} cut at {cut}: {err}");
            if sealed {
                // A sealed segment cut short is always a problem, named.
                assert_eq!(
                    output.status.code(),
                    Some(1),
                    "segment {i} cut at {cut}: {err}"
                );
                let lines = problem_lines(&output);
                assert!(
                    lines
                        .iter()
                        .any(|l| l.starts_with(&target.display().to_string())),
                    "{lines:#?}"
                );
            } else {
                // The active segment's tail may legitimately end anywhere
                // after its header; either way no crash, and 0 or 1.
                assert!(matches!(output.status.code(), Some(0 | 1)), "{err}");
            }
        }
    }
    // Whole files missing.
    let copy = tmp.path().join("missing-index");
    copy_dir(&source, &copy);
    std::fs::remove_file(copy.join(logs[0].file_name().unwrap())).unwrap();
    let output = cli(&copy).arg("verify").output().unwrap();
    assert!(
        matches!(output.status.code(), Some(1 | 2)),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("panicked"));
}

#[test]
fn a_directory_that_is_not_a_journal_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "hello").unwrap();
    let err = assert_one_line_error(&cli(tmp.path()).arg("verify").output().unwrap());
    assert!(
        err.contains("not a baldur journal") || err.contains("journal.meta"),
        "{err}"
    );
    let missing = tmp.path().join("nothing-here");
    let err = assert_one_line_error(&cli(&missing).arg("verify").output().unwrap());
    assert!(err.contains("does not exist"), "{err}");
    assert!(!missing.exists());
}

/// A journal of sequential entries (no gaps) whose active segment holds
/// several records, with its `head` as the writer left it.
fn sequential_journal(dir: &Path) -> (std::path::PathBuf, Vec<(u64, u64, u64)>) {
    let journal = baldur_journal::DiskJournal::builder(dir)
        .segment_bytes(64 << 10)
        .preallocate_bytes(0)
        .open()
        .unwrap();
    let entries: Vec<_> = (1..=700).map(common::entry).collect();
    for chunk in entries.chunks(7) {
        baldur_journal::EventJournal::append_batch(&journal, chunk).unwrap();
    }
    journal.close().unwrap();
    let active = segment_files(dir).pop().unwrap();
    let records = common::record_offsets(&active);
    assert!(records.len() > 20, "{}", records.len());
    assert!(dir.join("head").exists());
    (active, records)
}

/// The synced end recorded in `head` is checked: an active segment cut at
/// a record boundary, or with its records zeroed, lost synced records:
/// exit 1 naming the file, the offset and how many are missing.
#[test]
fn synced_records_cut_or_zeroed_in_the_active_segment_are_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    let (active, records) = sequential_journal(&source);
    let last = records.last().unwrap().0;
    let name = active.file_name().unwrap();
    let cut_at = records.len() - 5;
    let (first_lost, cut, _) = records[cut_at];

    // Cut at a record boundary.
    let copy = tmp.path().join("cut");
    copy_dir(&source, &copy);
    let target = copy.join(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&target)
        .unwrap();
    file.set_len(cut).unwrap();
    drop(file);
    let output = run_code(cli(&copy).arg("verify"), 1);
    let lines = problem_lines(&output);
    let want = format!(
        "{}: offset {cut}: the data ends at byte {cut}, but `head` records",
        target.display()
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&want)
            && l.contains(&format!(
                "5 synced records missing (sequences {first_lost}..={last})"
            ))),
        "{lines:#?}"
    );

    // The records zeroed in place.
    let copy = tmp.path().join("zeroed");
    copy_dir(&source, &copy);
    let target = copy.join(name);
    let mut bytes = std::fs::read(&target).unwrap();
    let (first, start, _) = records[0];
    bytes[usize::try_from(start).unwrap()..].fill(0);
    std::fs::write(&target, &bytes).unwrap();
    let output = run_code(cli(&copy).arg("verify"), 1);
    let lines = problem_lines(&output);
    let count = records.len();
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "{}: offset {start}: the data ends",
            target.display()
        )) && l.contains(&format!(
            "{count} synced records missing (sequences {first}..={last})"
        ))),
        "{lines:#?}"
    );

    // Garbage over one synced record in the middle: damage, and the
    // records after it are found again.
    let copy = tmp.path().join("garbage");
    copy_dir(&source, &copy);
    let target = copy.join(name);
    let mut bytes = std::fs::read(&target).unwrap();
    let (lost, start, end) = records[10];
    for b in &mut bytes[usize::try_from(start).unwrap()..usize::try_from(end).unwrap()] {
        *b = 0xA5;
    }
    std::fs::write(&target, &bytes).unwrap();
    let output = run_code(cli(&copy).arg("verify"), 1);
    let lines = problem_lines(&output);
    assert!(
        lines.iter().any(
            |l| l.starts_with(&format!("{}: offset {start}: ", target.display()))
                && l.contains(&format!("1 records missing (sequences {lost}..={lost})"))
                && l.contains(&format!("records resume at byte {end}"))
        ),
        "{lines:#?}"
    );
}

/// Without `head`, a cut at a record boundary cannot be told from a clean
/// end: `verify` says so on stderr and exits 0, or 1 under
/// `--require-head`.
#[test]
fn without_head_verify_says_what_it_cannot_prove() {
    let tmp = tempfile::tempdir().unwrap();
    let (active, records) = sequential_journal(tmp.path());
    std::fs::remove_file(tmp.path().join("head")).unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&active)
        .unwrap();
    file.set_len(records[records.len() - 3].1).unwrap();
    drop(file);
    let output = run_code(cli(tmp.path()).arg("verify"), 0);
    let err = stderr(&output);
    assert!(
        err.contains("verify: note: ") && err.contains("no readable `head`"),
        "{err}"
    );
    assert!(stdout(&output).starts_with("clean: head "), "{output:?}");
    let output = run_code(cli(tmp.path()).args(["verify", "--require-head"]), 1);
    let lines = problem_lines(&output);
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "{}: offset 0: no readable `head`",
            tmp.path().join("head").display()
        ))),
        "{lines:#?}"
    );
}

/// Crash states the writer repairs by design are notes (exit 0): a torn
/// tail past the synced end, and a sealed last segment whose `.idx` was
/// never written (a kill between the footer and the index).
#[test]
fn crash_states_the_writer_repairs_are_notes_not_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    let (active, records) = sequential_journal(&source);
    let name = active.file_name().unwrap();

    // A torn tail: half a frame written after the synced end.
    let copy = tmp.path().join("torn");
    copy_dir(&source, &copy);
    let target = copy.join(name);
    let mut bytes = std::fs::read(&target).unwrap();
    let end = usize::try_from(records.last().unwrap().2).unwrap();
    let (_, start, stop) = records[3];
    let frame = bytes[usize::try_from(start).unwrap()..usize::try_from(stop).unwrap()].to_vec();
    bytes.truncate(end);
    bytes.extend_from_slice(&frame[..frame.len() / 2]);
    std::fs::write(&target, &bytes).unwrap();
    let output = run_code(cli(&copy).arg("verify"), 0);
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "verify: note: {}: offset {end}: torn tail",
            target.display()
        )),
        "{err}"
    );
    // The same bytes inside the synced region are damage.
    let head =
        baldur_journal::disk::Head::decode(&std::fs::read(copy.join("head")).unwrap()).unwrap();
    let moved = baldur_journal::disk::Head {
        synced_end: end as u64 + 40,
        ..head
    };
    std::fs::write(copy.join("head"), moved.encode()).unwrap();
    let output = run_code(cli(&copy).arg("verify"), 1);
    assert!(
        stdout(&output).starts_with(&format!("{}: offset {end}: ", target.display())),
        "{output:?}"
    );

    // Killed between writing the footer and the index: the last segment
    // is sealed, its index missing, `head` still naming it.
    let copy = tmp.path().join("sealed-no-index");
    copy_dir(&source, &copy);
    std::fs::remove_file(copy.join(name)).unwrap();
    let logs = segment_files(&copy);
    let last = logs.last().unwrap();
    let index = last.with_extension("idx");
    std::fs::remove_file(&index).unwrap();
    let offsets = common::record_offsets(last);
    let data_end = offsets.last().unwrap().2;
    let stem = last.file_stem().unwrap().to_str().unwrap();
    let head = baldur_journal::disk::Head {
        generation: 7,
        active_base: stem.parse().unwrap(),
        published_end: data_end,
        synced_end: data_end,
        latest: offsets.last().unwrap().0,
        mark: 0,
    };
    std::fs::write(copy.join("head"), head.encode()).unwrap();
    let output = run_code(cli(&copy).arg("verify"), 0);
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "verify: note: {}: offset 0: index missing",
            index.display()
        )),
        "{err}"
    );
    // Then killed while creating the next segment: its header half
    // written (the first 20 bytes are the same for every segment).
    let next = copy.join(format!("{:020}.log", offsets.last().unwrap().0 + 1));
    let header = std::fs::read(source.join(name)).unwrap();
    std::fs::write(&next, &header[..20]).unwrap();
    let output = run_code(cli(&copy).arg("verify"), 0);
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "verify: note: {}: offset 0: header not completely written",
            next.display()
        )),
        "{err}"
    );
    let sealed: u64 = segment_files(&copy)
        .iter()
        .filter(|log| *log != &next)
        .map(|log| common::record_offsets(log).len() as u64)
        .sum();
    let output = run_code(cli(&copy).args(["--salvage", "count"]), 0);
    assert_eq!(stdout(&output), format!("{sealed}\n"));
}

/// An index rewritten with a valid CRC but entries or a summary that
/// disagree with the log: exit 1 naming the index file.
#[test]
fn an_index_that_disagrees_with_its_log_is_damage() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 1500);
    let logs = segment_files(tmp.path());
    let index = logs[0].with_extension("idx");
    let mut bytes = std::fs::read(&index).unwrap();
    // The second entry's sequence (fixed part 160 bytes, 16 per entry).
    let at = 160 + 16;
    let sequence = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    bytes[at..at + 8].copy_from_slice(&(sequence + 1).to_le_bytes());
    let n = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&index, &bytes).unwrap();
    let output = run_code(cli(tmp.path()).arg("verify"), 1);
    let lines = problem_lines(&output);
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "{}: offset 176: index disagrees with its log: sparse index entry 1 promises \
             sequence {}",
            index.display(),
            sequence + 1
        ))),
        "{lines:#?}"
    );
}

/// Without `head`, damage followed by records written after a sync that
/// covered it (their commit hints reach past it) is damage to synced data,
/// not a torn tail: `verify` exits 1, and a writer refuses to open rather
/// than zero acknowledged records.
#[test]
fn damage_below_a_later_records_commit_hint_is_damage_without_head() {
    let tmp = tempfile::tempdir().unwrap();
    let (active, records) = sequential_journal(tmp.path());
    std::fs::remove_file(tmp.path().join("head")).unwrap();
    let (lost, start, end) = records[2];
    let mut bytes = std::fs::read(&active).unwrap();
    bytes[usize::try_from(start).unwrap()..usize::try_from(end).unwrap()].fill(0x77);
    std::fs::write(&active, &bytes).unwrap();
    let output = run_code(cli(tmp.path()).arg("verify"), 1);
    let lines = problem_lines(&output);
    assert!(
        lines.iter().any(
            |l| l.starts_with(&format!("{}: offset {start}: ", active.display()))
                && l.contains("inside the synced region")
                && l.contains(&format!("1 records missing (sequences {lost}..={lost})"))
        ),
        "{lines:#?}"
    );
    let before = std::fs::read(&active).unwrap();
    let output = run_code(
        cli(tmp.path())
            .arg("append")
            .write_stdin(entry_line(1) + "\n"),
        2,
    );
    assert!(
        stderr(&output).contains(&format!("{} at byte offset {start}", active.display())),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::read(&active).unwrap(),
        before,
        "acknowledged records zeroed"
    );
}
/// Chained journal `make_chained_journal` (entries "a", sequences 1 to 6,
/// and "b", 7 to 12; keyless), rewritten into `forged` with `edit` by a
/// forger who fixes everything but the audit hashes (`rewrite_journal`).
fn forged_chained_journal(
    tmp: &Path,
    edit: impl FnMut(baldur_journal::JournalEntry) -> Option<baldur_journal::JournalEntry>,
) -> std::path::PathBuf {
    let dir = tmp.join("journal");
    make_chained_journal(&dir, None);
    run_code(cli(&dir).arg("verify"), 0);
    let forged = tmp.join("forged");
    rewrite_journal(&dir, &forged, edit);
    // The engine's own checks pass: only the chains can tell.
    assert!(
        baldur_journal::disk::verify(&forged).unwrap().is_clean(),
        "the forgery left the files consistent"
    );
    forged
}

/// `verify`'s one chain problem: the line naming `entity`.
fn chain_problem(dir: &Path, entity: &str) -> String {
    let output = run_code(cli(dir).arg("verify"), 1);
    let lines = problem_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "audit chain of dlq_entry {entity:?}: broken at sequence "
        )),
        "{lines:?}"
    );
    lines[0].clone()
}

/// `audit ENTITY`'s verdict line (exit 1).
fn audit_verdict(dir: &Path, entity: &str) -> String {
    let output = run_code(cli(dir).args(["audit", entity]), 1);
    stdout(&output).lines().last().unwrap().to_string()
}

#[test]
fn an_edited_event_type_fails_verify_and_audit() {
    // One byte of "a"'s `dlq_store` event type: the fold no longer reads
    // the record (nor, so, the entry), but its context still carries the
    // chain fields, so its chain is checked.
    let tmp = tempfile::tempdir().unwrap();
    let forged = forged_chained_journal(tmp.path(), |mut record| {
        if record.event_type == "dlq_store" && names_entry(&record, "a") {
            record.event_type = "dlq_stora".into();
        }
        Some(record)
    });
    let problem = chain_problem(&forged, "a");
    assert!(
        problem.ends_with("broken at sequence 1 (entry 1: hash_mismatch)"),
        "{problem}"
    );
    let verdict = audit_verdict(&forged, "a");
    assert!(
        verdict.starts_with("BROKEN AT 1 (hash_mismatch at sequence 1, dlq_stora "),
        "{verdict}"
    );
    run_ok(cli(&forged).args(["audit", "b"]));
}

#[test]
fn a_deleted_first_link_fails_verify_and_audit() {
    // "a"'s first chained record removed: the rest name a predecessor that
    // is not there, although the entry was never stored.
    let tmp = tempfile::tempdir().unwrap();
    let forged = forged_chained_journal(tmp.path(), |record| {
        (record.sequence != 1).then_some(record)
    });
    let problem = chain_problem(&forged, "a");
    assert!(
        problem.ends_with("broken at sequence 2 (entry 1: broken_link)"),
        "{problem}"
    );
    let verdict = audit_verdict(&forged, "a");
    assert!(
        verdict.starts_with("BROKEN AT 1 (broken_link at sequence 2, "),
        "{verdict}"
    );
}

#[test]
fn a_deleted_middle_link_fails_verify_and_audit() {
    // "b"'s escalation (sequence 10) removed.
    let tmp = tempfile::tempdir().unwrap();
    let forged = forged_chained_journal(tmp.path(), |record| {
        (record.sequence != 10).then_some(record)
    });
    let problem = chain_problem(&forged, "b");
    assert!(
        problem.ends_with("broken at sequence 11 (entry 4: broken_link)"),
        "{problem}"
    );
    let verdict = audit_verdict(&forged, "b");
    assert!(
        verdict.starts_with("BROKEN AT 4 (broken_link at sequence 11, "),
        "{verdict}"
    );
}

#[test]
fn an_escaped_chain_key_and_a_one_byte_edit_fail_verify_and_audit_alike() {
    // In "b"'s records the key is spelled `"hash\u005fchain"` (the same
    // key to any JSON reader), and one byte of its escalation's details
    // changed.
    let tmp = tempfile::tempdir().unwrap();
    let forged = forged_chained_journal(tmp.path(), |record| {
        if !names_entry(&record, "b") {
            return Some(record);
        }
        let record = edit_context(record, r#""hash_chain""#, r#""hash\u005fchain""#);
        Some(edit_context(record, "needs a human", "needs a huma!"))
    });
    let problem = chain_problem(&forged, "b");
    assert!(
        problem.ends_with("broken at sequence 10 (entry 4: hash_mismatch)"),
        "{problem}"
    );
    let verdict = audit_verdict(&forged, "b");
    assert!(
        verdict.starts_with("BROKEN AT 4 (hash_mismatch at sequence 10, escalate "),
        "{verdict}"
    );
    // Without the edit, the escaped spelling verifies: it is the same key.
    let plain = tmp.path().join("plain");
    rewrite_journal(&tmp.path().join("journal"), &plain, |record| {
        Some(if names_entry(&record, "b") {
            edit_context(record, r#""hash_chain""#, r#""hash\u005fchain""#)
        } else {
            record
        })
    });
    run_code(cli(&plain).arg("verify"), 0);
    run_ok(cli(&plain).args(["audit", "b"]));
}
