//! `--journal sqlite:///…` and `copy` to and from the SQL journal: a
//! journal copied into a SQLite database (SQLAlchemy's relative and
//! absolute URL forms) and back keeps its sequences, gaps, append times,
//! contexts and nanosecond timestamps (the exports are byte-identical),
//! and the commands answer the same on both.
#![cfg(feature = "sql")]

use crate::cli_common::*;

/// The binary without `--dir`.
fn bare() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.env_remove("BALDUR_JOURNAL_DIR").timeout(TIMEOUT);
    cmd
}

#[test]
fn copies_through_sqlite_keep_everything_and_answer_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("golden");
    golden_copy(&source);
    let source = source.to_str().unwrap().to_string();
    let absolute = format!("sqlite:///{}/abs.db", tmp.path().display());
    assert!(absolute.starts_with("sqlite:////"), "{absolute}");
    let text = stdout(&run_ok(
        bare().args(["copy", "--from", &source, "--to", &absolute]),
    ));
    assert!(text.starts_with("copied "), "{text}");
    assert!(text.contains("sqlite:////"), "{text}");
    let original = stdout(&run_ok(bare().args(["--journal", &source, "export"])));
    assert!(!original.is_empty());
    assert_eq!(
        stdout(&run_ok(bare().args(["--journal", &absolute, "export"]))),
        original,
        "byte-identical export from SQLite"
    );
    // A relative URL, from SQLite to SQLite, in the working directory.
    run_ok(bare().current_dir(tmp.path()).args([
        "copy",
        "--from",
        &absolute,
        "--to",
        "sqlite:///rel.db",
    ]));
    assert!(tmp.path().join("rel.db").is_file());
    let back = tmp.path().join("back");
    run_ok(bare().current_dir(tmp.path()).args([
        "copy",
        "--from",
        "sqlite:///rel.db",
        "--to",
        back.to_str().unwrap(),
    ]));
    assert_eq!(
        stdout(&run_ok(bare().args([
            "--journal",
            back.to_str().unwrap(),
            "export"
        ]))),
        original,
        "byte-identical export after file -> SQLite -> SQLite -> file"
    );
    for args in [
        vec!["count"],
        vec!["count", "--event-type", "dlq_store"],
        vec!["stats", "status", "--json"],
    ] {
        let on_file = stdout(&run_ok(bare().args(["--journal", &source]).args(&args)));
        let on_sql = stdout(&run_ok(bare().args(["--journal", &absolute]).args(&args)));
        assert_eq!(on_sql, on_file, "{args:?}");
    }
    // Not empty now: refused.
    let output = run_code(
        bare().args(["copy", "--from", &source, "--to", &absolute]),
        2,
    );
    assert!(stderr(&output).contains("--resume"), "{output:?}");
}

#[test]
fn bad_sqlite_urls_are_refused_with_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    for url in ["sqlite://host/j.db", "sqlite:///j.db?nope=1", "sqlite://"] {
        let output = run_code(
            bare()
                .current_dir(tmp.path())
                .args(["--journal", url, "count"]),
            2,
        );
        assert!(stderr(&output).contains(url), "{url}: {output:?}");
    }
    // Read-only commands do not create a database.
    let output = run_code(
        bare()
            .current_dir(tmp.path())
            .args(["--journal", "sqlite:///missing.db", "count"]),
        2,
    );
    assert!(!tmp.path().join("missing.db").exists(), "{output:?}");
}
