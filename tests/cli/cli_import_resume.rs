//! Paging and resuming: `query --after` as a cursor (JSON in the seed's shape), `import --resume`,
//! what an interrupted import says (and that following it loses and
//! duplicates nothing), and imports that would fork an audit chain.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::cli_common::*;
use serde_json::Value;

/// `entry_line(i)` carrying sequence `i` (as `export` writes it).
fn sequenced_line(i: u64) -> String {
    format!("{{\"sequence\":{i},{}", &entry_line(i)[1..])
}

fn lines(range: std::ops::RangeInclusive<u64>, line: fn(u64) -> String) -> String {
    range.map(|i| line(i) + "\n").collect()
}

fn latest(dir: &Path) -> u64 {
    stdout(&run_ok(cli(dir).arg("latest")))
        .trim()
        .parse()
        .unwrap()
}

/// The exported entries without their sequences and append times.
fn contents(dir: &Path) -> Vec<Value> {
    stdout(&run_ok(cli(dir).arg("export")))
        .lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).unwrap();
            let object = value.as_object_mut().unwrap();
            object.remove("sequence");
            object.remove("appended_at");
            value
        })
        .collect()
}

fn expected_contents(range: std::ops::RangeInclusive<u64>) -> Vec<Value> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("expected");
    run_ok(
        cli(&dir)
            .args(["import", "-"])
            .write_stdin(lines(range, entry_line)),
    );
    contents(&dir)
}

#[test]
fn query_after_pages_through_every_match_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    append_via_cli(&dir, 1..=200);
    let all: Vec<u64> = serde_json::from_str::<Value>(&stdout(&run_ok(cli(&dir).args([
        "query",
        "--service",
        "payments",
        "--json",
    ]))))
    .unwrap()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(all.len(), 66);

    let mut seen = Vec::new();
    let mut after: Option<u64> = None;
    for _page in 0..20 {
        let mut cmd = cli(&dir);
        cmd.args(["query", "--service", "payments", "--limit", "10", "--json"]);
        if let Some(after) = after {
            cmd.args(["--after", &after.to_string()]);
        }
        let page: Value = serde_json::from_str(&stdout(&run_ok(&mut cmd))).unwrap();
        let entries = page["entries"].as_array().unwrap();
        // total_count counts the matches after the cursor.
        assert_eq!(
            page["total_count"].as_u64().unwrap(),
            (all.len() - seen.len()) as u64
        );
        seen.extend(entries.iter().map(|e| e["sequence"].as_u64().unwrap()));
        // The next page's cursor is the last sequence shown, while truncated.
        if page["truncated"].as_bool().unwrap() {
            after = seen.last().copied();
        } else {
            assert_eq!(seen.len(), all.len());
            break;
        }
    }
    assert_eq!(seen, all, "every match once, in order");

    // The table says how to get the next page.
    let output = run_ok(cli(&dir).args([
        "query",
        "--service",
        "payments",
        "--limit",
        "10",
        "--after",
        "100",
    ]));
    let text = stdout(&output);
    let last_line = text.lines().last().unwrap();
    let shown_last = all.iter().filter(|&&s| s > 100).nth(9).unwrap();
    assert!(
        last_line.contains(&format!("next page: --after {shown_last}")),
        "{last_line}"
    );
    assert!(last_line.contains("after sequence 100"), "{last_line}");
    // Past the end: nothing, exit 0.
    let page: Value = serde_json::from_str(&stdout(&run_ok(
        cli(&dir).args(["query", "--after", "200", "--json"]),
    )))
    .unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 0);
    assert_eq!(page["total_count"], 0);
}

#[test]
fn import_resume_skips_what_the_journal_already_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("events.jsonl");
    std::fs::write(&file, lines(1..=500, sequenced_line)).unwrap();
    let dir = tmp.path().join("j");
    // An earlier import got as far as line 300.
    run_ok(
        cli(&dir)
            .args(["import", "--keep-sequence", "-"])
            .write_stdin(lines(1..=300, sequenced_line)),
    );
    // Without --resume, the overlap is refused, naming the line.
    let output = cli(&dir)
        .args(["import", "--keep-sequence"])
        .arg(&file)
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains("events.jsonl:1:"), "{err}");
    run_ok(
        cli(&dir)
            .args(["import", "--keep-sequence", "--resume"])
            .arg(&file),
    );
    assert_eq!(latest(&dir), 500);
    assert_eq!(contents(&dir), expected_contents(1..=500));
    // Resuming a finished import adds nothing.
    run_ok(
        cli(&dir)
            .args(["import", "--keep-sequence", "--resume"])
            .arg(&file),
    );
    assert_eq!(latest(&dir), 500);

    // Without --keep-sequence, --resume is refused with the reason, and
    // nothing is created.
    let fresh = tmp.path().join("fresh");
    let output = cli(&fresh)
        .args(["import", "--resume"])
        .arg(&file)
        .output()
        .unwrap();
    let err = assert_one_line_error(&output);
    assert!(err.contains("--resume needs --keep-sequence"), "{err}");
    assert!(err.contains("assigns new sequences"), "{err}");
    assert!(!fresh.exists());
}

/// Starts `import ARGS` reading from a pipe.
fn spawn_import(dir: &Path, args: &[&str]) -> Child {
    std_cli(dir)
        .arg("import")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until a reader sees `want` entries (the import writes in batches
/// of 4096 and then waits for more input).
fn wait_for_latest(dir: &Path, want: u64) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let output = cli(dir).arg("latest").output().unwrap();
        if output.status.success() && stdout(&output).trim() == want.to_string() {
            return;
        }
        assert!(Instant::now() < deadline, "the import never reached {want}");
        // Polling a condition (not waiting for time to make it true).
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: Child) -> (i32, String) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    (output.status.code().unwrap_or(-1), stderr(&output))
}

#[test]
fn an_interrupted_import_says_what_is_durable_and_how_to_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let total = 2 * 4096 + 100;

    // With --keep-sequence: resume with --resume and the same input.
    let dir = tmp.path().join("kept");
    let mut child = spawn_import(&dir, &["--keep-sequence", "-"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(lines(1..=total, sequenced_line).as_bytes())
        .unwrap();
    wait_for_latest(&dir, 8192);
    let (code, err) = interrupt(child);
    drop(stdin);
    assert_eq!(code, 130, "{err}");
    assert!(
        err.contains("8192 entries of this import are durable")
            && err.contains("sequences up to 8192"),
        "{err}"
    );
    assert!(err.contains("--keep-sequence --resume"), "{err}");
    assert_eq!(latest(&dir), 8192);
    run_ok(
        cli(&dir)
            .args(["import", "--keep-sequence", "--resume", "-"])
            .write_stdin(lines(1..=total, sequenced_line)),
    );
    assert_eq!(contents(&dir), expected_contents(1..=total));

    // Without it: the hint names the first line not imported.
    let dir = tmp.path().join("assigned");
    let mut child = spawn_import(&dir, &["-"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(lines(1..=total, entry_line).as_bytes())
        .unwrap();
    wait_for_latest(&dir, 8192);
    let (code, err) = interrupt(child);
    drop(stdin);
    assert_eq!(code, 130, "{err}");
    assert!(err.contains("input lines 1 to 8192"), "{err}");
    assert!(err.contains("line 8193 on"), "{err}");
    run_ok(
        cli(&dir)
            .args(["import", "-"])
            .write_stdin(lines(8193..=total, entry_line)),
    );
    assert_eq!(contents(&dir), expected_contents(1..=total));
}

#[test]
fn an_import_that_would_fork_an_audit_chain_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chained");
    make_chained_journal(&dir, None);
    let export = stdout(&run_ok(cli(&dir).arg("export")));
    let file = tmp.path().join("chained.jsonl");
    std::fs::write(&file, &export).unwrap();
    let before = latest(&dir);
    run_ok(cli(&dir).arg("verify"));

    // Importing the chains again would start second chains for a and b.
    let output = cli(&dir).arg("import").arg(&file).output().unwrap();
    let err = assert_one_line_error(&output);
    let first_chained = export
        .lines()
        .position(|line| line.contains("hash_chain"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("chained.jsonl:{first_chained}:")),
        "{err}"
    );
    assert!(err.contains("fork the audit chain of entity a"), "{err}");
    assert!(err.contains("--allow-fork"), "{err}");
    // The lines before the refused one are in; the chains still verify.
    assert_eq!(latest(&dir), before + first_chained as u64 - 1);
    run_ok(cli(&dir).arg("verify"));

    // Into an empty journal the same file is a plain copy.
    let copy = tmp.path().join("copy");
    run_ok(cli(&copy).arg("import").arg(&file));
    run_ok(cli(&copy).arg("verify"));

    // A chain continued from its real head is admitted: the second half of
    // an export, imported after the first half.
    let half = export.lines().count() / 2;
    let first: String = export
        .lines()
        .take(half)
        .map(|l| format!("{l}\n"))
        .collect();
    let second: String = export
        .lines()
        .skip(half)
        .map(|l| format!("{l}\n"))
        .collect();
    let halves = tmp.path().join("halves");
    run_ok(cli(&halves).args(["import", "-"]).write_stdin(first));
    run_ok(cli(&halves).args(["import", "-"]).write_stdin(second));
    run_ok(cli(&halves).arg("verify"));

    // --allow-fork imports it anyway; verify then finds the fork.
    run_ok(cli(&copy).args(["import", "--allow-fork"]).arg(&file));
    let output = cli(&copy).arg("verify").output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
}
