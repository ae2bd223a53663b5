//! `info`: the readable summary (identity, format, entries, gaps, disk
//! use, one row per segment) and `--json`, both from the library's
//! `DiskJournal::info`.

use crate::cli_common::*;
use baldur_journal::DiskJournal;
use serde_json::Value;

#[test]
fn info_json_is_the_library_info() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 2000);
    let text = stdout(&run_ok(cli(tmp.path()).args(["info", "--json"])));
    let got: Value = serde_json::from_str(&text).unwrap();
    let journal = DiskJournal::open_read_only(tmp.path()).unwrap();
    let want = serde_json::to_value(journal.info().unwrap()).unwrap();
    assert_eq!(got, want);
    assert_eq!(got["latest_sequence"], 3001);
    assert_eq!(got["record_count"], 2003);
    assert_eq!(got["missing_sequences"], 998);
    assert_eq!(got["format_version"], 2);
    assert_eq!(got["segment_bytes"], 65536);
    assert!(
        got["segments"].as_array().unwrap().len() >= 3,
        "several 64 KiB segments"
    );
}

#[test]
fn info_text_shows_identity_entries_and_every_segment() {
    let tmp = tempfile::tempdir().unwrap();
    make_journal(tmp.path(), 2000);
    let journal = DiskJournal::open_read_only(tmp.path()).unwrap();
    let info = journal.info().unwrap();
    drop(journal);
    let text = stdout(&run_ok(cli(tmp.path()).arg("info")));
    assert!(text.contains(&info.journal_id), "{text}");
    assert!(text.contains("version 2, segments of 64.0 KiB"), "{text}");
    assert!(
        text.contains("entries     2003 (sequences up to 3001, 998 missing)"),
        "{text}"
    );
    assert!(text.contains("writer      none open"), "{text}");
    let header = text
        .lines()
        .position(|l| l.starts_with("SEGMENT"))
        .expect("a segment table");
    let rows: Vec<&str> = text.lines().skip(header + 1).collect();
    assert_eq!(rows.len(), info.segments.len(), "{text}");
    for (row, segment) in rows.iter().zip(&info.segments) {
        let name = segment.log_path.file_name().unwrap().to_string_lossy();
        assert!(row.starts_with(name.as_ref()), "{row}");
        assert!(
            row.contains(if segment.sealed { "sealed" } else { "active" }),
            "{row}"
        );
        assert!(row.contains(&segment.record_count.to_string()), "{row}");
    }
}

#[test]
fn info_on_the_golden_journal_reads_sealed_and_active_segments() {
    let tmp = tempfile::tempdir().unwrap();
    golden_copy(tmp.path());
    let got: Value =
        serde_json::from_str(&stdout(&run_ok(cli(tmp.path()).args(["info", "--json"])))).unwrap();
    let segments = got["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[0]["sealed"], true);
    assert_eq!(segments[2]["sealed"], false);
    assert!(got["latest_sequence"].as_u64().unwrap() > u64::from(u32::MAX));
}
