//! `export` and `import`: JSON lines that round-trip byte-identically
//! through `import --keep-sequence` (gaps and append times kept), imports
//! that number a new journal from 1, sequence windows, and import errors
//! that name the file and line and keep the lines before.

use crate::cli_common::*;
use baldur_journal::{DiskJournal, EventJournal, JournalEntry};

fn export(dir: &std::path::Path, extra: &[&str]) -> String {
    stdout(&run_ok(cli(dir).arg("export").args(extra)))
}

#[test]
fn export_import_keep_sequence_export_is_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("golden");
    golden_copy(&source);
    let first = export(&source, &[]);
    let file = tmp.path().join("events.jsonl");
    std::fs::write(&file, &first).unwrap();

    let restored = tmp.path().join("restored");
    let output = run_ok(
        cli(&restored)
            .args(["--segment-bytes", "64K", "import", "--keep-sequence"])
            .arg(&file),
    );
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "quiet"
    );
    let second = export(&restored, &[]);
    assert_eq!(first.len(), second.len());
    assert!(
        first == second,
        "export of the import differs from the original export"
    );

    // The golden journal has gaps (one beyond u32::MAX): they survived.
    let sequences: Vec<u64> = first.lines().map(sequence_of).collect();
    assert!(
        sequences.windows(2).any(|w| w[1] > w[0] + 1),
        "the fixture has gaps"
    );
    assert!(sequences.iter().any(|&s| s > u64::from(u32::MAX)));
    let original = DiskJournal::open_read_only(&source).unwrap();
    let copy = DiskJournal::open_read_only(&restored).unwrap();
    assert_eq!(
        original.get_latest_sequence().unwrap(),
        copy.get_latest_sequence().unwrap()
    );
    assert_eq!(
        original.get_sequence_range(0, u64::MAX).unwrap(),
        copy.get_sequence_range(0, u64::MAX).unwrap(),
        "same entries, sequences and append times"
    );
    // And the copy is a sound journal.
    run_ok(cli(&restored).arg("verify"));
}

#[test]
fn export_lines_are_the_entry_json_plus_appended_at() {
    let tmp = tempfile::tempdir().unwrap();
    golden_copy(tmp.path());
    let lines = export(tmp.path(), &[]);
    let journal = DiskJournal::open_read_only(tmp.path()).unwrap();
    let entries = journal.get_sequence_range(0, u64::MAX).unwrap();
    assert_eq!(lines.lines().count(), entries.len());
    for (line, entry) in lines.lines().zip(&entries) {
        let json = serde_json::to_string(entry).unwrap();
        let appended_at = entry.appended_at.unwrap();
        let want = format!(
            "{},\"appended_at\":\"{appended_at}\"}}",
            &json[..json.len() - 1]
        );
        assert_eq!(line, want);
        // Each line parses back as the same entry.
        assert_eq!(&JournalEntry::from_json(line).unwrap(), entry);
    }
}

#[test]
fn import_without_keep_sequence_numbers_from_one() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    let stored = make_journal(&source, 300);
    let lines = export(&source, &[]);
    let file = tmp.path().join("events.jsonl");
    std::fs::write(&file, &lines).unwrap();

    let target = tmp.path().join("target");
    run_ok(cli(&target).arg("import").arg(&file));
    let copy = DiskJournal::open_read_only(&target).unwrap();
    let got = copy.get_sequence_range(0, u64::MAX).unwrap();
    assert_eq!(got.len(), stored.len());
    let original = DiskJournal::open_read_only(&source)
        .unwrap()
        .get_sequence_range(0, u64::MAX)
        .unwrap();
    for (i, (got, want)) in got.iter().zip(&original).enumerate() {
        assert_eq!(got.sequence, i as u64 + 1, "dense, from 1");
        let (mut got, mut want) = (got.clone(), want.clone());
        got.sequence = 0;
        want.sequence = 0;
        got.appended_at = None;
        want.appended_at = None;
        assert_eq!(got, want);
    }
    // From stdin, appended after what is there (a read-only handle opened
    // while no writer was live does not see later writers: reopen).
    drop(copy);
    run_ok(cli(&target).args(["import", "-"]).write_stdin(lines));
    let copy = DiskJournal::open_read_only(&target).unwrap();
    assert_eq!(copy.get_latest_sequence().unwrap(), 2 * stored.len() as u64);
}

#[test]
fn export_from_and_to_select_a_half_open_window() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 50);
    let window = export(tmp.path(), &["--from", "10", "--to", "20"]);
    let sequences: Vec<u64> = window.lines().map(sequence_of).collect();
    assert_eq!(sequences, (10..20).collect::<Vec<_>>());
    // Across a gap: 50 exists, 51..59 do not, 60 and 1050 do.
    let tail = export(tmp.path(), &["--from", "50"]);
    let sequences: Vec<u64> = tail.lines().map(sequence_of).collect();
    assert_eq!(sequences, vec![50, 60, 1050, 1051]);
    assert_eq!(export(tmp.path(), &["--from", "51", "--to", "60"]), "");
}

#[test]
fn import_errors_name_file_and_line_and_keep_earlier_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("events.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n{{\"event_type\": oops}}\n{}\n",
            entry_line(1),
            entry_line(2),
            entry_line(3)
        ),
    )
    .unwrap();
    let target = tmp.path().join("j");
    let output = cli(&target).arg("import").arg(&file).output().unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains(&format!("{}:3:", file.display())), "{err}");
    let journal = DiskJournal::open_read_only(&target).unwrap();
    assert_eq!(journal.get_latest_sequence().unwrap(), 2);
    drop(journal);

    // --keep-sequence: a line without a sequence, and one going backwards.
    std::fs::write(&file, entry_line(9) + "\n").unwrap();
    let output = cli(&target)
        .args(["import", "--keep-sequence"])
        .arg(&file)
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains(":1:") && err.contains("sequence"), "{err}");
    let numbered =
        |seq: u64, i: u64| entry_line(i).replacen('{', &format!("{{\"sequence\":{seq},"), 1) + "\n";
    std::fs::write(&file, numbered(10, 1) + &numbered(20, 2) + &numbered(15, 3)).unwrap();
    let output = cli(&target)
        .args(["import", "--keep-sequence"])
        .arg(&file)
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(
        err.contains(":3:") && err.contains("does not exceed"),
        "{err}"
    );
    let journal = DiskJournal::open_read_only(&target).unwrap();
    assert_eq!(journal.get_latest_sequence().unwrap(), 20);
    let kept: Vec<u64> = journal
        .get_sequence_range(0, u64::MAX)
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(kept, vec![1, 2, 10, 20]);
}

#[test]
fn importing_a_missing_file_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("j");
    let output = cli(&target)
        .args(["import", "no-such-file.jsonl"])
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains("no-such-file.jsonl"), "{err}");
    assert!(!target.exists());
}

#[test]
fn export_to_below_from_is_a_usage_error_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 20);
    let output = cli(tmp.path())
        .args(["export", "--from", "5", "--to", "3"])
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(output.stdout.is_empty());
    assert!(err.contains("--to 3 is below --from 5"), "{err}");
    // --to equal to --from exports nothing, exit 0.
    let output = run_ok(cli(tmp.path()).args(["export", "--from", "5", "--to", "5"]));
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
    assert_eq!(
        export(tmp.path(), &["--from", "5", "--to", "6"])
            .lines()
            .count(),
        1
    );
    let help = stdout(&run_ok(cli(tmp.path()).args(["export", "--help"])));
    assert!(
        help.contains("--to below --from is a usage error"),
        "{help}"
    );
}
