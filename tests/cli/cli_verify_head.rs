//! `verify --head`: after a clean verify, the journal's head as one JSON
//! line, the library's `DiskJournal::head`; and `verify`'s audit-chain
//! check (every chained entity's trail verified). Read-only.

use crate::cli_common::*;
use baldur_journal::{DiskJournal, EventJournal};
use serde_json::Value;

#[test]
fn verify_head_prints_the_library_head() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 2000);
    let before = snapshot(tmp.path());
    let output = run_ok(cli(tmp.path()).args(["verify", "--head"]));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    let journal = DiskJournal::open_read_only(tmp.path()).unwrap();
    let want = serde_json::to_value(journal.head().unwrap()).unwrap();
    drop(journal);
    assert_eq!(got, want);
    assert_eq!(got["last_sequence"], 3001);
    assert!(got["sealed_segments"].as_u64().unwrap() >= 2, "{got}");
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "verify wrote to the directory"
    );
    // Without --head, a clean verify prints the head as text; --quiet
    // prints nothing.
    let output = run_ok(cli(tmp.path()).arg("verify"));
    assert!(
        stdout(&output).starts_with(&format!(
            "clean: head journal_id={} last_sequence=3001 ",
            got["journal_id"].as_str().unwrap()
        )),
        "{output:?}"
    );
    let output = run_ok(cli(tmp.path()).args(["verify", "-q"]));
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
}

/// `verify` also verifies every audit chain: quiet on a clean chained
/// journal, one problem line per broken chain naming the entity and the
/// first bad entry's sequence (exit 1).
#[test]
fn verify_checks_every_audit_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    make_chained_journal(&dir, None);
    let output = run_ok(cli(&dir).args(["verify", "--quiet"]));
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
    let output = run_ok(cli(&dir).args(["verify", "--verbose"]));
    assert!(stderr(&output).contains(", 2 audit chains"), "{output:?}");

    let copy = tmp.path().join("copy");
    copy_dir(&dir, &copy);
    tamper(&copy, b"needs a human", b"needs a huma!");
    let before = snapshot(&copy);
    let json: Value = serde_json::from_str(&stdout(&run_code(
        cli(&copy).args(["audit", "a", "--json"]),
        1,
    )))
    .unwrap();
    let sequence = json["verification"][3]["sequence"].as_u64().unwrap();
    let output = run_code(cli(&copy).arg("verify"), 1);
    assert_eq!(
        stdout(&output),
        format!(
            "audit chain of dlq_entry \"a\": broken at sequence {sequence} (entry 4: \
             hash_mismatch)\n"
        )
    );
    assert!(
        stderr(&output).contains("verify: 1 problems found"),
        "{output:?}"
    );
    // --head prints nothing when there are problems.
    let output = run_code(cli(&copy).args(["verify", "--head"]), 1);
    assert_eq!(stdout(&output).lines().count(), 1);
    assert_eq!(snapshot(&copy), before, "verify wrote to the directory");
}

/// Keyed chains verify under `--key-file`; without it they are not
/// problems, but a note on stderr says they went unverified.
#[test]
fn verify_keyed_chains_with_and_without_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let key = baldur_journal::projection::AuditKey::new("k1", b"s3cret".to_vec()).unwrap();
    make_chained_journal(&dir, Some(key));
    let key_file = tmp.path().join("k1.key");
    std::fs::write(&key_file, b"s3cret").unwrap();
    let output = run_ok(cli(&dir).args([
        "verify",
        "--quiet",
        "--key-file",
        &format!("k1={}", key_file.display()),
    ]));
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "{output:?}"
    );
    let output = run_ok(cli(&dir).args(["verify", "-q"]));
    assert!(output.stdout.is_empty());
    assert!(
        stderr(&output).contains("verify: 2 audit chains are keyed with keys not given"),
        "{output:?}"
    );
    // The wrong secret: both chains are broken at their first entry.
    std::fs::write(&key_file, b"guess").unwrap();
    let output = run_code(
        cli(&dir).args([
            "verify",
            "--key-file",
            &format!("k1={}", key_file.display()),
        ]),
        1,
    );
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines()
            .all(|l| l.ends_with("(entry 1: hash_mismatch)")),
        "{text}"
    );
}

/// `verify --expect-head FILE`: the journal must extend a head recorded
/// earlier with `verify --head`: the same journal id, the recorded sealed
/// segment's digest at its place in the chain, a last sequence at or above
/// the recorded one. Anything else is exit 1 naming what differs.
#[test]
fn verify_expect_head_checks_an_anchored_head() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    make_journal(&dir, 2000);
    let recorded = tmp.path().join("heads.jsonl");
    let output = run_ok(cli(&dir).args(["verify", "--head"]));
    std::fs::write(&recorded, &output.stdout).unwrap();
    let earlier = tmp.path().join("earlier");
    copy_dir(&dir, &earlier);
    let expect = |d: &std::path::Path, file: &std::path::Path, code: i32| {
        run_code(
            cli(d).args(["verify", "--expect-head", file.to_str().unwrap()]),
            code,
        )
    };

    // The same journal, and the journal grown since: both extend it.
    expect(&dir, &recorded, 0);
    let journal = DiskJournal::builder(&dir).open().unwrap();
    let more: Vec<_> = (1..=1500).map(entry).collect();
    journal.append_batch(&more).unwrap();
    journal.close().unwrap();
    expect(&dir, &recorded, 0);

    // A copy from before a later recorded head: gone back.
    let later = tmp.path().join("later.jsonl");
    let output = run_ok(cli(&dir).args(["verify", "--head"]));
    std::fs::write(&later, &output.stdout).unwrap();
    let output = expect(&earlier, &later, 1);
    let text = stdout(&output);
    assert!(
        text.contains(
            "does not extend the recorded head: last sequence 3001 is before the recorded 4501"
        ),
        "{text}"
    );

    // Another journal.
    let other = tmp.path().join("other");
    make_journal(&other, 2000);
    let output = expect(&other, &recorded, 1);
    assert!(
        stdout(&output).contains("another journal: journal id"),
        "{output:?}"
    );

    // The same journal id, rewritten from the start with other records:
    // every digest recomputed, so `verify` alone passes it.
    let rewritten = tmp.path().join("rewritten");
    std::fs::create_dir_all(&rewritten).unwrap();
    std::fs::copy(dir.join("journal.meta"), rewritten.join("journal.meta")).unwrap();
    // As `make_journal` writes it, but entry 1's source changed (same
    // length, so the segments roll at the same places).
    let journal = DiskJournal::builder(&rewritten).open().unwrap();
    let mut forged: Vec<_> = (1..=2000).map(entry).collect();
    forged[0].source = "tesT".into();
    journal.append_batch(&forged).unwrap();
    for gap_to in [2010, 3000, 3001] {
        journal.append_at(gap_to, &entry(gap_to)).unwrap();
    }
    journal.close().unwrap();
    run_ok(cli(&rewritten).arg("verify"));
    let output = expect(&rewritten, &recorded, 1);
    let text = stdout(&output);
    let want: Value = serde_json::from_slice(&std::fs::read(&recorded).unwrap()).unwrap();
    assert!(
        text.contains(&format!(
            "{}: line 1: the journal does not extend the recorded head: sealed segment at base \
             sequence {} has digest ",
            recorded.display(),
            want["last_sealed"]["base_sequence"]
        )) && text.contains(&format!(
            "recorded {}",
            want["last_sealed"]["digest"].as_str().unwrap()
        )),
        "{text}"
    );

    // A file that is not a recorded head is an error naming it.
    let junk = tmp.path().join("junk");
    std::fs::write(&junk, "not json\n").unwrap();
    let err = assert_one_line_error(
        &cli(&dir)
            .args(["verify", "--expect-head", junk.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert!(err.contains("line 1"), "{err}");
}
