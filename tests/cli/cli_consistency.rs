//! One command line, consistent everywhere: usage errors on one line, one
//! durability vocabulary, URLs parsed as URLs, `memory:` writers warned,
//! a file given as the journal directory named the same way by readers
//! and writers, and no journal left behind by a write that never happened.

use crate::cli_common::*;

/// `baldur-journal ARGS` without a `--dir`.
fn bare() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.env_remove("BALDUR_JOURNAL_DIR").timeout(TIMEOUT);
    cmd
}

#[test]
fn usage_errors_are_one_line_with_the_usage() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["range", "--bogus"],
        vec!["range", "5", "1"],
        vec!["append", "--durability", "sometimes"],
        vec!["no-such-command"],
        vec!["query", "--limit", "many"],
    ] {
        let output = cli(tmp.path()).args(&args).output().unwrap();
        let err = assert_one_line_error(&output);
        assert!(err.contains("(see --help)"), "{args:?}: {err}");
    }
    // The usage line names the command's usage.
    let output = cli(tmp.path()).args(["range", "--bogus"]).output().unwrap();
    assert!(
        stderr(&output).contains("usage: baldur-journal range"),
        "{}",
        stderr(&output)
    );
    // Help still prints in full, to stdout, exit 0.
    let output = run_ok(cli(tmp.path()).args(["range", "--help"]));
    assert!(stdout(&output).lines().count() > 5);
}

#[test]
fn an_invalid_entry_says_invalid_entry_once() {
    let tmp = tempfile::tempdir().unwrap();
    let line = r#"{"event_type":"x","source":"s","timestamp":"2025-01-01T00:00:00Z","service_name":"a","context":"a string"}"#;
    let output = cli(tmp.path())
        .arg("append")
        .write_stdin(format!("{line}\n"))
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert_eq!(err.matches("invalid entry").count(), 1, "{err}");
    assert!(err.contains("line 1"), "{err}");
    assert!(err.contains("context must be a JSON object"), "{err}");
}

#[test]
fn one_durability_vocabulary() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, policy) in ["always", "every:3", "interval:5", "os"].iter().enumerate() {
        let dir = tmp.path().join(format!("j{i}"));
        let output = run_ok(
            cli(&dir)
                .args(["append", "--durability", policy])
                .write_stdin(format!("{}\n{}\n", entry_line(1), entry_line(2))),
        );
        assert_eq!(stdout(&output), "1\n2\n", "{policy}");
    }
    // The old words are refused, naming the vocabulary.
    for old in ["every-n", "none", "every:0", "interval:x"] {
        let output = cli(&tmp.path().join("old"))
            .args(["append", "--durability", old])
            .write_stdin(format!("{}\n", entry_line(1)))
            .output()
            .unwrap();
        let err = assert_one_line_error(&output);
        assert!(err.contains(&format!("'{old}'")), "{old}: {err}");
        assert!(
            err.contains("every:N") || err.contains("interval:MS"),
            "{old}: {err}"
        );
    }
    // bench speaks it too, in its JSON.
    let output = run_ok(cli(&tmp.path().join("b")).args([
        "bench",
        "append",
        "--events",
        "50",
        "--durability",
        "every:16",
        "--json",
    ]));
    assert!(
        stdout(&output).contains(r#""durability":"every:16""#),
        "{}",
        stdout(&output)
    );
}

#[test]
fn file_urls_are_percent_decoded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sp ace");
    append_via_cli(&dir, 1..=3);
    let url = format!("file://{}", dir.display().to_string().replace(' ', "%20"));
    let output = run_ok(bare().args(["--journal", &url, "latest"]));
    assert_eq!(stdout(&output), "3\n");
    // `sp%20ace` must not have been created beside it.
    assert!(!tmp.path().join("sp%20ace").exists());
}

#[test]
fn rediss_urls_say_tls_is_not_supported() {
    let output = bare()
        .args(["--journal", "rediss://localhost:6380/0", "latest"])
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains("TLS"), "{err}");
    assert!(!err.contains("is not a Redis URL"), "{err}");
}

#[test]
fn memory_writers_warn_that_the_journal_dies_with_the_process() {
    let output = run_ok(
        bare()
            .args(["--journal", "memory:", "append"])
            .write_stdin(format!("{}\n", entry_line(1))),
    );
    assert_eq!(stdout(&output), "1\n");
    let err = stderr(&output);
    assert!(err.starts_with("warning: "), "{err}");
    assert!(err.contains("memory:"), "{err}");
    // Readers of memory: are not warned (nothing is thrown away).
    let output = run_ok(bare().args(["--journal", "memory:", "latest"]));
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
}

#[test]
fn a_file_as_the_directory_is_named_the_same_by_readers_and_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("afile");
    std::fs::write(&file, "not a journal").unwrap();
    let expected = format!("{} is not a directory", file.display());
    let append = cli(&file)
        .arg("append")
        .write_stdin(format!("{}\n", entry_line(1)))
        .output()
        .unwrap();
    let import_file = tmp.path().join("in.jsonl");
    std::fs::write(&import_file, format!("{}\n", entry_line(1))).unwrap();
    let import = cli(&file).arg("import").arg(&import_file).output().unwrap();
    let latest = cli(&file).arg("latest").output().unwrap();
    for output in [append, import, latest] {
        let err = assert_one_line_error(&output);
        assert!(err.contains(&expected), "{err}");
        assert!(!err.contains("os error"), "{err}");
    }
}

#[test]
fn a_write_that_never_happened_leaves_no_journal() {
    let tmp = tempfile::tempdir().unwrap();
    // A refused first line (too large for a record, but valid JSON).
    let huge = format!(
        r#"{{"event_type":"x","source":"s","timestamp":"2025-01-01T00:00:00Z","service_name":"a","context":{{"blob":"{}"}}}}"#,
        "x".repeat(2 << 20)
    );
    let dir = tmp.path().join("jhuge");
    let output = cli(&dir)
        .arg("append")
        .write_stdin(format!("{huge}\n"))
        .output()
        .unwrap();
    assert_one_line_error(&output);
    assert!(!dir.exists(), "append left {} behind", dir.display());

    let file = tmp.path().join("huge.jsonl");
    std::fs::write(&file, format!("{huge}\n")).unwrap();
    let dir = tmp.path().join("nested/jimport");
    let output = cli(&dir).arg("import").arg(&file).output().unwrap();
    assert_one_line_error(&output);
    assert!(
        !tmp.path().join("nested").exists(),
        "import left the directories it created"
    );

    // A malformed first line, and input with no entries at all.
    let dir = tmp.path().join("jbad");
    let output = cli(&dir)
        .arg("append")
        .write_stdin("{\"event_type\": 1}\n")
        .output()
        .unwrap();
    assert_one_line_error(&output);
    assert!(!dir.exists());
    run_ok(cli(&dir).arg("append").write_stdin("\n\n"));
    assert!(!dir.exists(), "blank input created a journal");

    // A journal that existed before stays, even when nothing was added.
    let dir = tmp.path().join("kept");
    append_via_cli(&dir, [1]);
    let output = cli(&dir)
        .arg("append")
        .write_stdin(format!("{huge}\n"))
        .output()
        .unwrap();
    assert_one_line_error(&output);
    assert_eq!(stdout(&run_ok(cli(&dir).arg("latest"))), "1\n");

    // The first successful write creates it.
    let dir = tmp.path().join("jgood");
    let output = cli(&dir)
        .arg("append")
        .write_stdin(format!("{}\n{huge}\n", entry_line(1)))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "1\n");
    assert_eq!(stdout(&run_ok(cli(&dir).arg("latest"))), "1\n");
}
