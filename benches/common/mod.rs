//! What the benches share: where their files go and the 200-byte record.
#![allow(dead_code, reason = "each bench uses part of this module")]

use std::path::Path;

use baldur_journal::codec::{self, FRAME_HEADER_LEN};
use baldur_journal::{Context, JournalEntry, Timestamp};
use tempfile::TempDir;

/// The size of one encoded record frame, header included.
pub const RECORD_BYTES: usize = 200;

/// A directory for one bench's files, on the crate's own disk (not a tmpfs).
pub fn bench_dir() -> TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-tmp");
    std::fs::create_dir_all(&root).expect("create target/bench-tmp");
    tempfile::tempdir_in(root).expect("create a bench directory")
}

/// The encoded frame length of `entry`.
pub fn frame_len(entry: &JournalEntry) -> usize {
    let mut body = Vec::new();
    codec::encode_body(entry, &mut body).expect("encodable entry");
    FRAME_HEADER_LEN + body.len()
}

/// `base` with the context `context_of(pad)`, padded so the frame is
/// exactly [`RECORD_BYTES`].
pub fn padded_to_record_bytes(
    base: JournalEntry,
    context_of: impl Fn(usize) -> Context,
) -> JournalEntry {
    let unpadded = frame_len(&base.clone().with_context(context_of(0)));
    let entry = base.with_context(context_of(RECORD_BYTES - unpadded));
    assert_eq!(
        frame_len(&entry),
        RECORD_BYTES,
        "the record is not 200 bytes"
    );
    entry
}

/// A realistic entry whose encoded frame is exactly [`RECORD_BYTES`].
pub fn record_of_200_bytes() -> JournalEntry {
    let base = JournalEntry::new(
        "circuit_breaker_opened",
        "breaker",
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000),
        "payments",
    )
    .with_region("eu-west-1")
    .with_tier_id("tier-1");
    padded_to_record_bytes(base, |pad| {
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-000042","attempt":3,"pad":"{}"}}"#,
            "x".repeat(pad)
        ))
        .expect("valid context")
    })
}
