//! `disk::verify` finds every kind of damage with file and offset and never
//! crashes on a damaged or truncated copy; `DiskJournal::info` reports
//! segments, sequence and time ranges and gaps.

use baldur_test_support::common;

use baldur_journal::disk::verify;
use baldur_journal::{DiskJournal, Durability, EventJournal};
use common::{Rng, copy_dir, entry, record_offsets, segment_files};

fn build() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let journal = DiskJournal::builder(dir.path())
        .segment_bytes(64 << 10)
        .durability(Durability::Os)
        .open()
        .unwrap();
    let all: Vec<_> = (1..=1200).map(entry).collect();
    journal.append_batch(&all).unwrap();
    journal.append_at(1300, &entry(1300)).unwrap();
    journal.close().unwrap();
    dir
}

#[test]
fn a_clean_journal_verifies_clean() {
    let dir = build();
    let report = verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.records, 1201);
    assert_eq!(report.segments, segment_files(dir.path()).len());
}

#[test]
fn a_flipped_byte_is_named_by_file_and_offset() {
    let template = build();
    let sealed = segment_files(template.path())[1].clone();
    let records = record_offsets(&sealed);
    let (_, start, _) = records[7];
    let copy = copy_dir(template.path());
    let path = copy.path().join(sealed.file_name().unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[usize::try_from(start).unwrap() + 40] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    let report = verify(copy.path()).unwrap();
    assert_eq!(
        report.problems.len(),
        1,
        "one damage, one problem: {:?}",
        report.problems
    );
    let first = report.problems.first().expect("the flip is found");
    assert_eq!(first.path, path);
    assert_eq!(first.offset, start);
    assert!(
        first.to_string().contains(&format!("offset {start}")),
        "{first}"
    );
}

#[test]
fn a_damaged_log_with_a_damaged_index_reports_both() {
    let template = build();
    let copy = copy_dir(template.path());
    let sealed = segment_files(copy.path())[0].clone();
    let (_, start, _) = record_offsets(&sealed)[3];
    let mut bytes = std::fs::read(&sealed).unwrap();
    bytes[usize::try_from(start).unwrap() + 30] ^= 1;
    std::fs::write(&sealed, bytes).unwrap();
    let idx = sealed.with_extension("idx");
    let mut bytes = std::fs::read(&idx).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&idx, bytes).unwrap();
    let report = verify(copy.path()).unwrap();
    let paths: Vec<_> = report.problems.iter().map(|p| p.path.clone()).collect();
    assert_eq!(paths, vec![sealed, idx], "{:?}", report.problems);
}

#[test]
fn a_deleted_middle_segment_breaks_the_chain() {
    let template = build();
    let copy = copy_dir(template.path());
    let logs = segment_files(copy.path());
    assert!(logs.len() >= 4);
    std::fs::remove_file(&logs[1]).unwrap();
    std::fs::remove_file(logs[1].with_extension("idx")).unwrap();
    let report = verify(copy.path()).unwrap();
    assert!(
        report.problems.iter().any(|p| p.path == logs[2]
            && p.message.contains("previous segment's digest")
            && p.message.contains("a segment is missing between")),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_damaged_or_missing_index_is_reported() {
    let template = build();
    let copy = copy_dir(template.path());
    let idx = segment_files(copy.path())[0].with_extension("idx");
    let mut bytes = std::fs::read(&idx).unwrap();
    bytes[170] ^= 1;
    std::fs::write(&idx, bytes).unwrap();
    let report = verify(copy.path()).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].path, idx);
    // A missing index is derived data a writer rebuilds: a note, not a
    // problem.
    std::fs::remove_file(&idx).unwrap();
    let report = verify(copy.path()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.path == idx && n.message.contains("index missing")),
        "{:?}",
        report.notes
    );
}

#[test]
fn random_damage_and_truncation_never_crash_and_are_always_reported() {
    let template = build();
    let mut rng = Rng(0x5eed_cafe);
    let files: Vec<_> = std::fs::read_dir(template.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log" || x == "idx"))
        .collect();
    for round in 0..60 {
        let copy = copy_dir(template.path());
        let victim = copy
            .path()
            .join(files[rng.index(files.len())].file_name().unwrap());
        let mut bytes = std::fs::read(&victim).unwrap();
        if round % 3 == 0 {
            let keep = rng.index(bytes.len());
            bytes.truncate(keep);
        } else {
            let at = rng.index(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
        }
        std::fs::write(&victim, &bytes).unwrap();
        let report = verify(copy.path()).unwrap();
        assert!(
            !report.is_clean(),
            "round {round}: damage to {} went unnoticed",
            victim.display()
        );
        // Opening read-only and reading everything never crashes either.
        if let Ok(journal) = DiskJournal::open_read_only(copy.path()) {
            for e in journal.range_iter(0, u64::MAX).unwrap() {
                if e.is_err() {
                    break;
                }
            }
        }
    }
}

#[test]
fn info_reports_segments_ranges_and_gaps() {
    let dir = build();
    let journal = DiskJournal::open_read_only(dir.path()).unwrap();
    let info = journal.info().unwrap();
    assert_eq!(info.latest_sequence, 1300);
    assert_eq!(info.record_count, 1201);
    assert_eq!(info.missing_sequences, 99);
    assert_eq!(info.format_version, 2);
    assert_eq!(info.journal_id.len(), 32);
    assert_eq!(info.segments.len(), segment_files(dir.path()).len());
    assert!(
        info.segments[..info.segments.len() - 1]
            .iter()
            .all(|s| s.sealed)
    );
    assert!(!info.segments.last().unwrap().sealed);
    assert_eq!(
        info.segments.iter().map(|s| s.record_count).sum::<u64>(),
        1201
    );
    assert_eq!(info.segments.last().unwrap().last_sequence, Some(1300));
    assert_eq!(
        info.segments
            .iter()
            .map(|s| s.missing_sequences)
            .sum::<u64>(),
        99
    );
    let on_disk: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(info.disk_bytes, on_disk);
    let first = &info.segments[0];
    assert_eq!(first.first_sequence, Some(1));
    assert!(first.min_timestamp <= first.max_timestamp);
    assert!(first.index_bytes.is_some());
}
