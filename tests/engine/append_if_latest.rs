//! `EventJournal::append_if_latest` on the in-memory journal: 4 threads
//! building one hash chain never fork it, and a stale expectation writes
//! nothing. (The Redis version runs across processes in redis_backend.rs.)

use std::sync::Arc;

use baldur_journal::{Context, EventJournal, JournalEntry, MemoryJournal, Timestamp};
use sha2::{Digest, Sha256};

fn link(previous: &str, worker: usize, n: usize) -> String {
    Sha256::digest(format!("{previous}|{worker}|{n}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn field(e: &JournalEntry, key: &str) -> String {
    e.context.to_value()[key].as_str().unwrap().to_string()
}

#[test]
fn four_threads_building_one_chain_never_fork_it() {
    let journal = Arc::new(MemoryJournal::new());
    let per_worker = 200;
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let j = journal.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while n < per_worker {
                    let latest = j.get_latest_sequence().unwrap();
                    let previous = match latest {
                        0 => "GENESIS".to_string(),
                        l => field(&j.get_sequence_range(l, l + 1).unwrap()[0], "hash"),
                    };
                    let hash = link(&previous, w, n);
                    let context = format!(
                        r#"{{"previous_hash":"{previous}","hash":"{hash}","worker":"{w}","n":"{n}"}}"#
                    );
                    let entry = JournalEntry::new("audit", "w", Timestamp::now(), "")
                        .with_context(Context::from_json(&context).unwrap());
                    if let Some(seq) = j.append_if_latest(latest, &entry).unwrap() {
                        assert_eq!(seq, latest + 1);
                        n += 1;
                    }
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    let chain = journal.get_sequence_range(1, u64::MAX).unwrap();
    assert_eq!(chain.len(), 4 * per_worker);
    let mut previous = "GENESIS".to_string();
    for e in &chain {
        assert_eq!(
            field(e, "previous_hash"),
            previous,
            "fork at {}",
            e.sequence
        );
        let (w, n): (usize, usize) = (
            field(e, "worker").parse().unwrap(),
            field(e, "n").parse().unwrap(),
        );
        assert_eq!(field(e, "hash"), link(&previous, w, n));
        previous = field(e, "hash");
    }
    let stale = JournalEntry::new("audit", "w", Timestamp::now(), "");
    assert_eq!(journal.append_if_latest(5, &stale).unwrap(), None);
    assert_eq!(
        journal.get_latest_sequence().unwrap(),
        4 * per_worker as u64
    );
}
