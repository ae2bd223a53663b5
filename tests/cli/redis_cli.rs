//! The Redis backend through the rest of the crate: `copy` file -> Redis ->
//! file exports byte-identically (sequences, gaps beyond `u32::MAX`,
//! append times), the CLI reads a Redis journal with `--journal URL`, and
//! the statistics fold over Redis answer like over the disk, with audit
//! chains that two handles cannot fork (the conditional append runs in
//! the server's script).
#![cfg(feature = "redis")]

use baldur_test_support::redis_common;

use std::sync::Arc;

use crate::cli_common::*;
use baldur_journal::projection::{
    AuditLink, JournalStatistics, LifecycleEvent, LifecycleKind, StatisticsRepository, StoreEvent,
};
use baldur_journal::{EventJournal, RedisJournal, Timestamp};
use redis_common::Server;

fn bare() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.env_remove("BALDUR_JOURNAL_DIR").timeout(TIMEOUT);
    cmd
}

/// A prefix no other test (or earlier run) uses.
fn prefix(name: &str) -> String {
    let nanos = Timestamp::now().as_unix_nanos();
    format!("t-{name}-{}-{nanos}", std::process::id())
}

fn redis_url(server: &Server, prefix: &str) -> String {
    format!("{}?prefix={prefix}", server.url)
}

#[test]
fn file_to_redis_to_file_exports_byte_identically() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("golden");
    golden_copy(&source);
    let url = redis_url(&server, &prefix("copy"));
    run_ok(bare().args(["copy", "--from", source.to_str().unwrap(), "--to", &url]));
    let back = tmp.path().join("back");
    run_ok(bare().args(["copy", "--from", &url, "--to", back.to_str().unwrap()]));

    let original = stdout(&run_ok(cli(&source).arg("export")));
    let sequences: Vec<u64> = original.lines().map(sequence_of).collect();
    assert!(sequences.iter().any(|&s| s > u64::from(u32::MAX)), "gaps");
    let via_redis = stdout(&run_ok(bare().args(["--journal", &url, "export"])));
    assert_eq!(via_redis, original, "export straight from Redis");
    assert_eq!(stdout(&run_ok(cli(&back).arg("export"))), original);
    run_ok(cli(&back).args(["verify", "-q"]));

    // The read commands answer the same over either backend.
    for args in [
        &["latest"][..],
        &["count", "--event-type", "circuit_breaker_opened"],
        &["query", "--json", "--service", "payments", "--limit", "5"],
        &["range", "1", "40"],
    ] {
        let file = stdout(&run_ok(cli(&source).args(args)));
        let redis = stdout(&run_ok(bare().args(["--journal", &url]).args(args)));
        assert_eq!(redis, file, "{args:?}");
    }
    let text = stdout(&run_ok(bare().args(["--journal", &url, "verify"])));
    assert!(text.starts_with("clean: redis://"), "{text}");
    RedisJournal::open_url(&url).unwrap().destroy().unwrap();
}

fn dlq_life(stats: &JournalStatistics<dyn EventJournal>, id: &str, at: i64) {
    let t = |s: i64| Timestamp::from_unix_nanos(at + s * 1_000_000_000);
    stats
        .record(vec![
            StoreEvent::new(id, "payments", "timeout").to_entry(t(0)),
        ])
        .unwrap();
    stats
        .record(vec![
            LifecycleEvent::new(LifecycleKind::ReplayStart, id).to_entry(t(1)),
            LifecycleEvent::new(LifecycleKind::Resolve, id).to_entry(t(2)),
        ])
        .unwrap();
}

#[test]
fn statistics_over_redis_answer_like_over_the_disk_and_chains_do_not_fork() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let url = redis_url(&server, &prefix("stats"));
    let redis: Arc<dyn EventJournal> = Arc::from(baldur_journal::open(&url).unwrap());
    let disk: Arc<dyn EventJournal> =
        Arc::from(baldur_journal::open(tmp.path().join("d").to_str().unwrap()).unwrap());
    // A day ago: inside the statistics' windows.
    let day_ago = Timestamp::now().as_unix_nanos() - 86_400_000_000_000;
    for journal in [&redis, &disk] {
        let stats = JournalStatistics::new(journal.clone());
        for i in 0..20 {
            dlq_life(&stats, &format!("dlq-{i}"), day_ago + i * 100_000_000_000);
        }
    }
    // Two handles over the Redis journal (two workers) linking one entity
    // at once: the conditional append serializes them.
    let handles: Vec<_> = (0..2)
        .map(|_| Arc::new(JournalStatistics::new(redis.clone())))
        .collect();
    std::thread::scope(|s| {
        for (t, stats) in handles.iter().enumerate() {
            s.spawn(move || {
                for i in 0..25 {
                    let link = AuditLink::new("dlq-3", format!("w{t}-{i}"));
                    assert!(stats.link_audit_entry(&link).unwrap());
                }
            });
        }
    });
    let checked = handles[0].verify_audit_trail("dlq-3", "dlq_entry").unwrap();
    assert_eq!(checked.entries.len(), 3 + 50);
    assert!(checked.is_chain_valid(), "{:?}", checked.first_bad_entry());

    let from_redis = JournalStatistics::new(redis.clone());
    let from_disk = JournalStatistics::new(disk.clone());
    assert_eq!(
        from_redis.get_status_counts().unwrap(),
        from_disk.get_status_counts().unwrap()
    );
    let counts = from_redis.get_status_counts().unwrap();
    assert_eq!(counts.resolved, 20, "{counts:?}");
    assert_eq!(
        from_redis.get_domain_distribution(10).unwrap(),
        from_disk.get_domain_distribution(10).unwrap()
    );
    let trail = from_redis
        .get_audit_trail_by_entity("dlq-7", "dlq_entry")
        .unwrap();
    assert_eq!(
        trail,
        from_disk
            .get_audit_trail_by_entity("dlq-7", "dlq_entry")
            .unwrap()
    );
    assert!(trail.hashes_recomputed && trail.is_chain_valid());
    // And the CLI folds the Redis journal.
    let json = stdout(&run_ok(bare().args([
        "--journal",
        &url,
        "stats",
        "status",
        "--json",
    ])));
    assert!(json.contains("\"resolved\":20"), "{json}");
    let text = stdout(&run_ok(bare().args(["--journal", &url, "audit", "dlq-3"])));
    assert!(text.trim_end().ends_with("hashes recomputed)"), "{text}");
    RedisJournal::open_url(&url).unwrap().destroy().unwrap();
}

#[test]
fn the_entry_at_u64_max_is_read_from_redis_by_every_command_without_an_end() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let url = redis_url(&server, &prefix("top"));
    let journal = RedisJournal::open_url(&url).unwrap();
    let top: Vec<u64> = (u64::MAX - 3..=u64::MAX).collect();
    for (i, &sequence) in top.iter().enumerate() {
        journal.append_at(sequence, &entry(i as u64 + 1)).unwrap();
    }
    let read: Vec<u64> = journal
        .range_iter_from(u64::MAX - 1)
        .unwrap()
        .map(|e| e.unwrap().sequence)
        .collect();
    assert_eq!(read, top[2..].to_vec());
    let on_redis = |args: &[&str]| stdout(&run_ok(bare().args(["--journal", &url]).args(args)));
    let sequences = |text: String| text.lines().map(sequence_of).collect::<Vec<u64>>();
    assert_eq!(sequences(on_redis(&["export"])), top);
    let from = (u64::MAX - 1).to_string();
    assert_eq!(sequences(on_redis(&["range", &from])), top[2..].to_vec());
    assert_eq!(on_redis(&["count"]), "4\n");
    // entry(1) and entry(4) (at u64::MAX) are of `orders`: the scan path,
    // not the index.
    assert_eq!(on_redis(&["count", "--service", "orders"]), "2\n");
    let result: baldur_journal::JournalQueryResult =
        serde_json::from_str(&on_redis(&["query", "--json"])).unwrap();
    assert_eq!(result.entries.last().unwrap().sequence, u64::MAX);
    let result: baldur_journal::JournalQueryResult =
        serde_json::from_str(&on_redis(&["query", "--json", "--region", "us-east-1"])).unwrap();
    assert_eq!(
        result
            .entries
            .iter()
            .map(|e| e.sequence)
            .collect::<Vec<_>>(),
        vec![u64::MAX - 3, u64::MAX - 1]
    );
    let text = on_redis(&["verify"]);
    assert!(text.contains("4 entries"), "{text}");
    // Copied to a file and back, every entry survives.
    let file = tmp.path().join("file");
    run_ok(bare().args(["copy", "--from", &url, "--to", file.to_str().unwrap()]));
    assert_eq!(sequences(stdout(&run_ok(cli(&file).arg("export")))), top);
    let url2 = redis_url(&server, &prefix("top-back"));
    run_ok(bare().args(["copy", "--from", file.to_str().unwrap(), "--to", &url2]));
    assert_eq!(
        stdout(&run_ok(bare().args(["--journal", &url2, "export"]))),
        on_redis(&["export"])
    );
    journal.destroy().unwrap();
    RedisJournal::open_url(&url2).unwrap().destroy().unwrap();
}

#[test]
fn statistics_over_redis_fold_the_entry_at_u64_max() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let url = redis_url(&server, &prefix("top-stats"));
    let journal = RedisJournal::open_url(&url).unwrap();
    let at = Timestamp::now();
    journal
        .append_at(
            u64::MAX - 1,
            &StoreEvent::new("dlq-top", "orders", "timeout").to_entry(at),
        )
        .unwrap();
    journal
        .append_at(
            u64::MAX,
            &LifecycleEvent::new(LifecycleKind::Resolve, "dlq-top").to_entry(at),
        )
        .unwrap();
    let text = stdout(&run_ok(bare().args([
        "--journal",
        &url,
        "stats",
        "entry",
        "dlq-top",
        "--json",
    ])));
    let detail: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(detail["status"], "resolved", "{text}");
    journal.destroy().unwrap();
}
