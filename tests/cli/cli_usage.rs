//! Conventions: `--help` lists the exit codes and every command's help has
//! examples; usage mistakes exit 2; errors are one `error: ...` line,
//! never a panic; the journal directory comes from `--dir`, else
//! `$BALDUR_JOURNAL_DIR`; a second writer is refused clearly.

use std::io::Write;
use std::process::Stdio;

use crate::cli_common::*;

const COMMANDS: [&str; 11] = [
    "append", "import", "export", "query", "count", "range", "latest", "info", "verify", "tail",
    "demo",
];

#[test]
fn help_lists_exit_codes_and_examples_for_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let help = stdout(&run_ok(cli(tmp.path()).arg("--help")));
    for needle in [
        "Exit status:",
        "  0  ",
        "  1  ",
        "  2  ",
        "Examples:",
        "BALDUR_JOURNAL_DIR",
    ] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
    for command in COMMANDS {
        assert!(help.contains(&format!("  {command}  ")), "{command} listed");
        let text = stdout(&run_ok(cli(tmp.path()).args([command, "--help"])));
        assert!(
            text.contains("Examples:\n  "),
            "{command} --help has examples: {text}"
        );
        assert!(text.contains("baldur-journal"), "{command}");
    }
    assert!(
        !tmp.path().read_dir().unwrap().any(|_| true),
        "help writes nothing"
    );
}

#[test]
fn usage_mistakes_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["no-such-command"][..],
        &[],
        &["query", "--no-such-flag"],
        &["tail", "-n", "many"],
        &["--segment-bytes", "lots", "append"],
    ] {
        let output = cli(tmp.path()).args(args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("panicked"));
    }
}

#[test]
fn errors_are_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    // Not a journal: a directory with other files.
    std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
    for args in [&["latest"][..], &["append"], &["demo", "--events", "10"]] {
        let output = cli(tmp.path()).args(args).write_stdin("").output().unwrap();
        let err = assert_one_line_error(&output);
        assert!(err.contains("not a baldur journal"), "{args:?}: {err}");
    }
    // A segment size below the minimum.
    let fresh = tmp.path().join("fresh");
    let output = cli(&fresh)
        .args(["--segment-bytes", "1K", "append"])
        .write_stdin("")
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains("segment_bytes"), "{err}");
    // A file where the directory should be.
    let file = tmp.path().join("notes.txt");
    let err = assert_one_line_error(&cli(&file).arg("latest").output().unwrap());
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn the_directory_comes_from_the_environment_when_not_given() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("from-env");
    let output = assert_cmd::Command::new(BIN)
        .env("BALDUR_JOURNAL_DIR", &dir)
        .arg("append")
        .write_stdin(entry_line(1) + "\n")
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "1\n");
    assert!(dir.join("journal.meta").exists());
    // --dir wins over the environment; neither: ./baldur-data.
    let other = tmp.path().join("other");
    append_via_cli(&other, [1, 2]);
    let output = assert_cmd::Command::new(BIN)
        .env("BALDUR_JOURNAL_DIR", &dir)
        .args(["--dir"])
        .arg(&other)
        .arg("latest")
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "2\n");
    let output = assert_cmd::Command::new(BIN)
        .env_remove("BALDUR_JOURNAL_DIR")
        .current_dir(tmp.path())
        .args(["append"])
        .write_stdin(entry_line(1) + "\n")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(tmp.path().join("baldur-data").join("journal.meta").exists());
}

#[test]
fn a_second_writer_is_refused_while_readers_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut writer = std_cli(dir)
        .arg("append")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = writer.stdin.take().unwrap();
    let acks = LineReader::new(writer.stdout.take().unwrap());
    writeln!(stdin, "{}", entry_line(1)).unwrap();
    stdin.flush().unwrap();
    assert_eq!(acks.next_line("first ack"), "1");
    let err = assert_one_line_error(
        &cli(dir)
            .arg("append")
            .write_stdin(entry_line(2) + "\n")
            .output()
            .unwrap(),
    );
    assert!(err.contains("locked by another writer"), "{err}");
    assert_eq!(stdout(&run_ok(cli(dir).arg("latest"))), "1\n");
    drop(stdin);
    assert!(writer.wait().unwrap().success());
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 3000);
    let mut child = std_cli(tmp.path())
        .arg("export")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = LineReader::new(child.stdout.take().unwrap());
    lines.next_line("the first exported line");
    drop(lines); // the reading thread stops at its next send: the pipe closes
    let output = child.wait_with_output().unwrap();
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{:?}", output.status);
}
