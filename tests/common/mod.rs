//! Helpers shared by the integration tests.
#![allow(dead_code)]

use baldur_journal::{Context, JournalEntry, Timestamp};

/// A deterministic entry number `i`, varied in every field.
pub fn entry(i: u64) -> JournalEntry {
    const TYPES: [&str; 4] = [
        "dlq_store",
        "circuit_breaker_opened",
        "dlq_resolve",
        "error_budget_critical",
    ];
    const SERVICES: [&str; 3] = ["payments", "orders", ""];
    const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", ""];
    JournalEntry::new(
        TYPES[(i % 4) as usize],
        "test",
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + (i as i64 % 97) * 1_000_000_007),
        SERVICES[(i % 3) as usize],
    )
    .with_context(
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-{i}","attempt":{},"big":18446744073709551617,"ok":{}}}"#,
            i % 5,
            i % 2 == 0
        ))
        .unwrap(),
    )
    .with_region(REGIONS[(i % 3) as usize])
    .with_tier_id(format!("tier-{}", i % 2))
}

/// The entry as the journal stores it: assigned sequence, append time dropped
/// (compare with `strip`).
pub fn strip(mut e: JournalEntry) -> JournalEntry {
    e.appended_at = None;
    e
}

/// A fixed-seed xorshift generator, so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
