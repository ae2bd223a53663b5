//! `--salvage`: a read-only open of a journal with a missing, truncated or
//! damaged segment. Every read command answers from what was recovered
//! (intact segments whole; in a damaged one, the records before the
//! damage and those found again after it), lists each hole (file, offset,
//! missing sequences) on stderr, and exits 1. Writers refuse the flag.
//! Without it, a read that needs the damaged segment fails naming it.

use baldur_test_support::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cli_common::{cli, run_code, sequence_of, snapshot, stderr, stdout};
use common::{record_offsets, segment_files};

const ENTRIES: u64 = 3000;

/// A closed journal of `entry(1..=3000)` in 64 KiB segments, and a copy
/// of it to damage.
fn journal_and_copy() -> (tempfile::TempDir, tempfile::TempDir) {
    let source = common::closed_journal(ENTRIES, 50);
    let copy = common::copy_dir(source.path());
    (source, copy)
}

fn export_sequences(output: &std::process::Output) -> Vec<u64> {
    stdout(output).lines().map(sequence_of).collect()
}

fn hole_lines(output: &std::process::Output) -> Vec<String> {
    stderr(output)
        .lines()
        .filter_map(|l| l.strip_prefix("salvage: hole: "))
        .map(str::to_string)
        .collect()
}

/// Runs every read command under `--salvage` on `dir`, checking each
/// answers from the recovered records `kept`, lists exactly `holes`
/// (line prefixes) on stderr and exits 1.
fn every_read_command_answers_and_lists_the_holes(dir: &Path, kept: &[u64], holes: &[String]) {
    let check_holes = |output: &std::process::Output, what: &str| {
        let lines = hole_lines(output);
        assert_eq!(lines.len(), holes.len(), "{what}: {lines:#?}");
        for (line, want) in lines.iter().zip(holes) {
            assert!(
                line.starts_with(want),
                "{what}: {line} should start with {want}"
            );
        }
        assert!(!stderr(output).contains("panicked"), "{what}");
    };
    let output = run_code(cli(dir).args(["--salvage", "export"]), 1);
    assert_eq!(export_sequences(&output), kept);
    check_holes(&output, "export");

    let output = run_code(cli(dir).args(["--salvage", "count"]), 1);
    assert_eq!(stdout(&output), format!("{}\n", kept.len()));
    check_holes(&output, "count");

    let output = run_code(
        cli(dir).args(["--salvage", "count", "--event-type", "dlq_store"]),
        1,
    );
    let stores = kept.iter().filter(|&&s| s % 4 == 0).count();
    assert_eq!(stdout(&output), format!("{stores}\n"), "count --event-type");
    check_holes(&output, "count --event-type");

    let output = run_code(cli(dir).args(["--salvage", "range", "1", "100000"]), 1);
    assert_eq!(export_sequences(&output), kept);
    check_holes(&output, "range");

    let output = run_code(
        cli(dir).args(["--salvage", "query", "--limit", "10000", "--json"]),
        1,
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let queried: Vec<u64> = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(queried, kept);
    check_holes(&output, "query");

    let output = run_code(cli(dir).args(["--salvage", "latest"]), 1);
    assert_eq!(stdout(&output), format!("{}\n", kept.last().unwrap()));
    check_holes(&output, "latest");

    let output = run_code(cli(dir).args(["--salvage", "tail", "-n", "3"]), 1);
    assert_eq!(export_sequences(&output), kept[kept.len() - 3..]);
    check_holes(&output, "tail");

    let output = run_code(cli(dir).args(["--salvage", "info", "--json"]), 1);
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["record_count"].as_u64().unwrap(), kept.len() as u64);
    check_holes(&output, "info");

    for command in [
        &["stats", "status"][..],
        &["dashboard"],
        &["audit", "dlq-4"],
    ] {
        let output = cli(dir).arg("--salvage").args(command).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{command:?}: {output:?}");
        check_holes(&output, &format!("{command:?}"));
    }
    // The HTML report (issue 19), written outside the journal directory.
    let page = tempfile::tempdir().unwrap();
    let html = page.path().join("report.html");
    let output = cli(dir)
        .args(["--salvage", "report", "--html"])
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "report: {output:?}");
    check_holes(&output, "report");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("id=\"chart-backlog\""), "report");

    let to = tempfile::tempdir().unwrap();
    let target = to.path().join("copy");
    let output = run_code(
        cli(dir).args([
            "--salvage",
            "copy",
            "--from",
            dir.to_str().unwrap(),
            "--to",
            target.to_str().unwrap(),
        ]),
        1,
    );
    check_holes(&output, "copy");
    let copied = run_code(cli(&target).arg("export"), 0);
    assert_eq!(export_sequences(&copied), kept);
}

fn without(range: std::ops::RangeInclusive<u64>) -> Vec<u64> {
    (1..=ENTRIES).filter(|s| !range.contains(s)).collect()
}

fn log_name(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

#[test]
fn a_deleted_middle_segment_is_a_hole_and_the_rest_is_served() {
    let (source, copy) = journal_and_copy();
    let logs = segment_files(source.path());
    assert!(logs.len() >= 5, "{}", logs.len());
    let records = record_offsets(&logs[2]);
    let (first, last) = (records[0].0, records.last().unwrap().0);
    let missing = copy.path().join(logs[2].file_name().unwrap());
    std::fs::remove_file(&missing).unwrap();
    std::fs::remove_file(missing.with_extension("idx")).unwrap();
    let before = snapshot(copy.path());
    every_read_command_answers_and_lists_the_holes(
        copy.path(),
        &without(first..=last),
        &[format!(
            "{}: offset 0: sequences {first}..={last} missing (up to {} records)",
            log_name(copy.path(), first).display(),
            last - first + 1
        )],
    );
    assert_eq!(
        snapshot(copy.path()),
        before,
        "salvage wrote to the directory"
    );
    // Without --salvage, the read fails naming the missing segment.
    let output = run_code(cli(copy.path()).arg("export"), 2);
    assert!(
        stderr(&output).contains(&format!("segment {} is missing", missing.display())),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_truncated_sealed_segment_serves_its_prefix() {
    let (source, copy) = journal_and_copy();
    let logs = segment_files(source.path());
    let records = record_offsets(&logs[1]);
    let next_base = record_offsets(&logs[2])[0].0;
    let cut = records.len() / 2;
    let (lost, at, _) = records[cut];
    let target = copy.path().join(logs[1].file_name().unwrap());
    // Mid-frame: the frame at `at` is cut short.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&target)
        .unwrap();
    file.set_len(at + 20).unwrap();
    drop(file);
    every_read_command_answers_and_lists_the_holes(
        copy.path(),
        &without(lost..=next_base - 1),
        &[format!(
            "{}: offset {at}: sequences {lost}..={} missing",
            target.display(),
            next_base - 1
        )],
    );
    // Without --salvage, a read of that segment fails naming it.
    let output = run_code(cli(copy.path()).arg("export"), 2);
    assert!(
        stderr(&output).contains(&target.display().to_string()),
        "{}",
        stderr(&output)
    );
}

#[test]
fn records_after_damage_are_found_again_by_their_frames() {
    let (source, copy) = journal_and_copy();
    let logs = segment_files(source.path());
    // Garbage over two records of a sealed segment, zeros over one of the
    // active segment (inside what `head` records as synced).
    let sealed = record_offsets(&logs[1]);
    let (a, start, _) = sealed[10];
    let (b, _, end) = sealed[11];
    let sealed_path = copy.path().join(logs[1].file_name().unwrap());
    let mut bytes = std::fs::read(&sealed_path).unwrap();
    for (i, byte) in bytes[usize::try_from(start).unwrap()..usize::try_from(end).unwrap()]
        .iter_mut()
        .enumerate()
    {
        *byte = i.to_le_bytes()[0].wrapping_mul(31) ^ 0x5A;
    }
    std::fs::write(&sealed_path, &bytes).unwrap();
    let n = logs.len();
    let active = record_offsets(&logs[n - 1]);
    assert!(active.len() > 5);
    let (z, zstart, zend) = active[2];
    let active_path = copy.path().join(logs[n - 1].file_name().unwrap());
    let mut bytes = std::fs::read(&active_path).unwrap();
    bytes[usize::try_from(zstart).unwrap()..usize::try_from(zend).unwrap()].fill(0);
    std::fs::write(&active_path, &bytes).unwrap();
    let kept: Vec<u64> = (1..=ENTRIES)
        .filter(|&s| s != a && s != b && s != z)
        .collect();
    every_read_command_answers_and_lists_the_holes(
        copy.path(),
        &kept,
        &[
            format!(
                "{}: offset {start}: sequences {a}..={b} missing",
                sealed_path.display()
            ),
            format!(
                "{}: offset {zstart}: sequences {z}..={z} missing",
                active_path.display()
            ),
        ],
    );
}

#[test]
fn synced_records_cut_from_the_active_segment_are_a_hole() {
    let (source, copy) = journal_and_copy();
    let logs = segment_files(source.path());
    let n = logs.len();
    let active = record_offsets(&logs[n - 1]);
    let (first_lost, at, _) = active[active.len() - 4];
    let target = copy.path().join(logs[n - 1].file_name().unwrap());
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&target)
        .unwrap();
    file.set_len(at).unwrap();
    drop(file);
    every_read_command_answers_and_lists_the_holes(
        copy.path(),
        &without(first_lost..=ENTRIES),
        &[format!(
            "{}: offset {at}: sequences {first_lost}..={ENTRIES} missing",
            target.display()
        )],
    );
}

#[test]
fn an_intact_journal_under_salvage_answers_the_same_and_exits_0() {
    let (source, _) = journal_and_copy();
    let plain = run_code(cli(source.path()).arg("export"), 0);
    let salvaged = run_code(cli(source.path()).args(["--salvage", "export"]), 0);
    assert_eq!(plain.stdout, salvaged.stdout);
    assert!(salvaged.stderr.is_empty(), "{}", stderr(&salvaged));
    let got: BTreeSet<u64> = export_sequences(&salvaged).into_iter().collect();
    assert_eq!(got.len() as u64, ENTRIES);
}

#[test]
fn writers_and_followers_refuse_salvage() {
    let (source, _) = journal_and_copy();
    let before = snapshot(source.path());
    for command in [
        &["append"][..],
        &["import", "/dev/null"],
        &["tail", "-f"],
        &["verify"],
        &["archive"],
    ] {
        let output = cli(source.path())
            .arg("--salvage")
            .args(command)
            .write_stdin("")
            .output()
            .unwrap();
        let err = crate::cli_common::assert_one_line_error(&output);
        assert!(
            err.contains("--salvage is a read-only mode")
                || err.contains("--salvage cannot be used with"),
            "{command:?}: {err}"
        );
    }
    assert_eq!(snapshot(source.path()), before);
}

/// The library's salvage open: read-only only; an intact journal has no
/// hole; a damaged one lists them, and its reads skip them.
#[test]
fn the_library_salvage_open_is_read_only_and_lists_holes() {
    use baldur_journal::{DiskJournal, EventJournal, JournalQueryFilter};
    let (source, copy) = journal_and_copy();
    let err = DiskJournal::builder(source.path())
        .salvage(true)
        .open()
        .unwrap_err();
    assert!(
        err.to_string().contains("salvage is a read-only open mode"),
        "{err}"
    );
    let intact = DiskJournal::builder(source.path())
        .read_only(true)
        .salvage(true)
        .open()
        .unwrap();
    assert!(intact.holes().is_empty());
    assert_eq!(common::all_sequences(&intact).len() as u64, ENTRIES);

    let logs = segment_files(copy.path());
    let records = record_offsets(&logs[3]);
    let (first, last) = (records[0].0, records.last().unwrap().0);
    std::fs::remove_file(copy.path().join(logs[3].file_name().unwrap())).unwrap();
    let journal = DiskJournal::builder(copy.path())
        .read_only(true)
        .salvage(true)
        .open()
        .unwrap();
    let holes = journal.holes();
    assert_eq!(holes.len(), 1, "{holes:?}");
    assert_eq!(holes[0].sequences, Some((first, last)));
    assert_eq!(common::all_sequences(&journal), without(first..=last));
    let all = JournalQueryFilter::default();
    assert_eq!(journal.count(&all).unwrap(), ENTRIES - (last - first + 1));
    common::assert_entries_intact(&journal);
}

/// A segment file from another journal in place of one of ours: none of
/// its records is served (their CRCs are valid, but they are not this
/// journal's); its span is a hole. Without salvage, a read names it.
#[test]
fn a_segment_of_another_journal_is_a_hole_not_served() {
    let (source, copy) = journal_and_copy();
    let other = common::closed_journal(ENTRIES, 50);
    let logs = segment_files(source.path());
    let name = logs[2].file_name().unwrap();
    std::fs::copy(other.path().join(name), copy.path().join(name)).unwrap();
    let records = record_offsets(&logs[2]);
    let first = records[0].0;
    let next_base = record_offsets(&logs[3])[0].0;
    let target = copy.path().join(name);
    every_read_command_answers_and_lists_the_holes(
        copy.path(),
        &without(first..=next_base - 1),
        &[format!(
            "{}: offset 0: sequences {first}..={} missing",
            target.display(),
            next_base - 1
        )],
    );
    let output = run_code(cli(copy.path()).arg("export"), 2);
    assert!(
        stderr(&output).contains(&format!(
            "{} at byte offset 16: segment belongs to another journal",
            target.display()
        )),
        "{}",
        stderr(&output)
    );
}

/// Random damage (garbage, zeros, cuts, deleted segments, several at
/// once) to copies of one journal: a salvage open never fails a read,
/// serves only intact entries in order, and every sequence it does not
/// serve lies in a hole it lists; and `verify` is never clean then.
#[test]
fn random_damage_every_sequence_not_served_is_in_a_listed_hole() {
    use baldur_journal::DiskJournal;
    let source = common::closed_journal(ENTRIES, 50);
    let logs = segment_files(source.path());
    let n = logs.len();
    let mut rng = common::Rng(0x5EED_0014);
    for round in 0..150 {
        let copy = common::copy_dir(source.path());
        let mut what = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let i = rng.index(n);
            let path = copy.path().join(logs[i].file_name().unwrap());
            let Ok(mut bytes) = std::fs::read(&path) else {
                continue;
            };
            if bytes.is_empty() {
                continue;
            }
            let at = rng.index(bytes.len());
            let len = (1 + rng.index(3000)).min(bytes.len() - at);
            match rng.below(4) {
                0 => {
                    for b in &mut bytes[at..at + len] {
                        *b = rng.next_u64().to_le_bytes()[0];
                    }
                    what.push(format!("garbage {i}@{at}+{len}"));
                }
                1 => {
                    bytes[at..at + len].fill(0);
                    what.push(format!("zeros {i}@{at}+{len}"));
                }
                2 => {
                    bytes.truncate(at);
                    what.push(format!("cut {i}@{at}"));
                }
                _ => {
                    std::fs::remove_file(&path).unwrap();
                    // A deleted last sealed segment before the active one
                    // is found by its index only (docs/RELIABILITY.md).
                    if i != n - 2 && rng.below(2) == 0 {
                        let _ = std::fs::remove_file(path.with_extension("idx"));
                    }
                    what.push(format!("deleted {i}"));
                    continue;
                }
            }
            std::fs::write(&path, &bytes).unwrap();
        }
        let journal = DiskJournal::builder(copy.path())
            .read_only(true)
            .salvage(true)
            .open()
            .unwrap_or_else(|e| panic!("round {round} {what:?}: {e}"));
        let served = common::all_sequences(&journal);
        assert!(served.windows(2).all(|w| w[0] < w[1]), "round {round}");
        common::assert_entries_intact(&journal);
        let holes = journal.holes();
        let served: BTreeSet<u64> = served.into_iter().collect();
        if !holes.is_empty() || (served.len() as u64) < ENTRIES {
            let report = baldur_journal::disk::verify(copy.path()).unwrap();
            assert!(
                !report.is_clean(),
                "round {round} {what:?}: records lost, verify clean: {holes:#?}"
            );
        }
        for sequence in 1..=ENTRIES {
            if served.contains(&sequence) {
                continue;
            }
            assert!(
                holes.iter().any(|h| h
                    .sequences
                    .is_some_and(|(a, b)| (a..=b).contains(&sequence))),
                "round {round} {what:?}: sequence {sequence} neither served nor in a hole: \
                 {holes:#?}"
            );
        }
    }
}
