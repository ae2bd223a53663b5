//! A real full disk: a 1 MiB tmpfs filled by a journal. The append that
//! finds no space gets a clear error, every later append is refused, and
//! after space is freed the journal reopens with everything acknowledged.
//! Needs root (for `mount`); without it, or with `BALDUR_NO_TMPFS` set, it
//! skips (tests/skip: a skip is a failure under `CI` unless turned off on
//! purpose).

use baldur_test_support::common;
use baldur_test_support::skip;

use std::path::{Path, PathBuf};
use std::process::Command;

use baldur_journal::{Context, DiskJournal, Error, EventJournal, JournalEntry, Timestamp};
use common::strip;

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if status.success() {
        Ok(Mount(dir.to_path_buf()))
    } else {
        Err(format!("mount failed: {status}"))
    }
}

fn event(i: u64) -> JournalEntry {
    let padding = "p".repeat(500);
    JournalEntry::new(
        "disk_full",
        "test",
        Timestamp::from_unix_nanos(i as i64),
        "svc",
    )
    .with_context(Context::from_json(&format!(r#"{{"i":{i},"pad":"{padding}"}}"#)).unwrap())
}

#[test]
fn a_full_disk_is_a_clear_error_and_loses_nothing_acknowledged() {
    let base = tempfile::tempdir().unwrap();
    let Some(mount) = skip::needs("tmpfs", || {
        mount_tmpfs(base.path(), "1m")
            .map_err(|e| format!("a real full disk needs root to mount a tmpfs ({e})"))
    }) else {
        return;
    };
    let filler = base.path().join("filler");
    std::fs::write(&filler, vec![1u8; 256 << 10]).unwrap();
    let dir = base.path().join("journal");
    let journal = DiskJournal::builder(&dir)
        .segment_bytes(64 << 10)
        .open()
        .unwrap();
    let mut acked = Vec::new();
    let mut next = 1u64;
    let failure = loop {
        let batch: Vec<_> = (next..next + 4).map(event).collect();
        match journal.append_batch(&batch) {
            Ok(sequences) => acked.extend(sequences),
            Err(e) => break e,
        }
        next += 4;
        assert!(next < 100_000, "a 1 MiB disk never filled up");
    };
    let text = failure.to_string();
    assert!(matches!(failure, Error::Io { .. }), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(
        text.contains(&dir.display().to_string()),
        "the error names the file: {text}"
    );
    assert!(acked.len() > 100, "only {} entries fit", acked.len());
    assert!(matches!(journal.append(&event(0)), Err(Error::Poisoned(_))));
    assert!(journal.close().is_err());
    drop(journal);

    // Read-only, on the still-full disk: everything acknowledged is there.
    let reader = DiskJournal::open_read_only(&dir).unwrap();
    let stored = reader.get_sequence_range(0, u64::MAX).unwrap();
    assert!(stored.len() >= acked.len());
    for e in &stored[..acked.len()] {
        let mut want = event(e.sequence);
        want.sequence = e.sequence;
        assert_eq!(strip(e.clone()), want);
    }
    drop(reader);

    // Free space; the writer reopens and goes on.
    std::fs::remove_file(&filler).unwrap();
    let journal = DiskJournal::open(&dir).unwrap();
    let latest = journal.get_latest_sequence().unwrap();
    assert!(latest >= *acked.last().unwrap());
    assert_eq!(journal.append(&event(latest + 1)).unwrap(), latest + 1);
    journal.close().unwrap();
    drop(journal);
    drop(mount);
}
