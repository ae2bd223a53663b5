//! `copy --from URL --to URL` and `--journal URL`: a journal copied between
//! backends keeps its sequences, gaps and append times (the exports are
//! byte-identical), the destination must be empty unless `--resume`, and
//! URLs are checked with clear errors. The Redis legs are in
//! tests/cli/redis_cli.rs.

use std::path::Path;

use crate::cli_common::*;

/// The binary without `--dir`.
fn bare() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.env_remove("BALDUR_JOURNAL_DIR").timeout(TIMEOUT);
    cmd
}

fn export_url(url: &str) -> String {
    stdout(&run_ok(bare().args(["--journal", url, "export"])))
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

#[test]
fn file_to_file_copies_keep_sequences_gaps_and_append_times() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("golden");
    golden_copy(&source);
    let copy = tmp.path().join("copy");
    let text = stdout(&run_ok(bare().args([
        "copy",
        "--from",
        source.to_str().unwrap(),
        "--to",
        &file_url(&copy),
    ])));
    assert!(text.starts_with("copied "), "{text}");
    let original = export_url(source.to_str().unwrap());
    assert!(!original.is_empty());
    assert_eq!(
        export_url(&file_url(&copy)),
        original,
        "byte-identical export"
    );
    // --journal file://... is --dir.
    assert_eq!(stdout(&run_ok(cli(&copy).arg("export"))), original);
    run_ok(cli(&copy).args(["verify", "-q"]));

    // The destination is not empty now: refused, nothing written.
    let output = run_code(
        bare()
            .args(["copy", "--from", source.to_str().unwrap(), "--to"])
            .arg(&copy),
        2,
    );
    assert!(stderr(&output).contains("--resume"), "{output:?}");
    // --resume with nothing new copies nothing.
    let text = stdout(&run_ok(
        bare()
            .args([
                "copy",
                "--resume",
                "--from",
                source.to_str().unwrap(),
                "--to",
            ])
            .arg(&copy),
    ));
    assert!(text.starts_with("copied 0 entries"), "{text}");
}

#[test]
fn resume_copies_only_what_the_destination_lacks() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    make_journal(&source, 300);
    let half = tmp.path().join("half");
    // A first copy of the first 100 entries, then the rest by --resume.
    let all = export_url(source.to_str().unwrap());
    let lines: Vec<&str> = all.lines().collect();
    let first: String = lines[..100].iter().map(|l| format!("{l}\n")).collect();
    let file = tmp.path().join("first.jsonl");
    std::fs::write(&file, first).unwrap();
    run_ok(cli(&half).args(["import", "--keep-sequence"]).arg(&file));
    let text = stdout(&run_ok(
        bare()
            .args([
                "copy",
                "--resume",
                "--from",
                source.to_str().unwrap(),
                "--to",
            ])
            .arg(&half),
    ));
    let want = format!(
        "copied {} entries (sequences {}..={})",
        lines.len() - 100,
        sequence_of(lines[100]),
        sequence_of(lines[lines.len() - 1])
    );
    assert!(text.starts_with(&want), "{text} vs {want}");
    assert_eq!(
        export_url(half.to_str().unwrap()),
        export_url(source.to_str().unwrap())
    );
}

#[test]
fn urls_are_checked_and_disk_only_commands_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    // An unknown scheme is a usage error naming it, and creates nothing.
    let output = run_code(bare().args(["--journal", "s3://bucket/j", "latest"]), 2);
    assert!(stderr(&output).contains("\"s3\""), "{output:?}");
    // memory: is a new empty journal.
    assert_eq!(
        stdout(&run_ok(bare().args(["--journal", "memory:", "latest"]))),
        "0\n"
    );
    for command in ["info", "tail", "archive"] {
        let output = run_code(bare().args(["--journal", "memory:", command]), 2);
        assert!(
            stderr(&output).contains("works on file journals only"),
            "{command}: {output:?}"
        );
    }
    // --dir and --journal together are refused.
    run_code(
        bare()
            .args(["--journal", "memory:", "--dir"])
            .arg(tmp.path())
            .arg("latest"),
        2,
    );
    // A missing source directory is an error, and nothing is created.
    let missing = tmp.path().join("missing");
    let dest = tmp.path().join("dest");
    let output = run_code(
        bare()
            .args(["copy", "--from", missing.to_str().unwrap(), "--to"])
            .arg(&dest),
        2,
    );
    assert!(stderr(&output).contains("does not exist"), "{output:?}");
    assert!(!missing.exists() && !dest.exists());
}
