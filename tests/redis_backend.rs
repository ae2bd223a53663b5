//! The Redis journal against a real server: many processes appending,
//! compare-and-set chains that must not fork, outages that must be clear
//! errors within the timeout (and open the breaker), reads that touch only
//! what they return, the baldur layout's keys, and retention.
//! Servers: tests/redis_common (skips without one, fails under `CI`).
#![cfg(feature = "redis")]

use baldur_test_support::common;
use baldur_test_support::redis_common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use baldur_journal::{
    BreakerOptions, Context, Error, EventJournal, JournalEntry, JournalQueryFilter, RedisJournal,
    RedisLayout, Timestamp,
};
use redis_common::{Server, unique_prefix};
use sha2::{Digest, Sha256};

const WORKERS: usize = 4;

fn open(server: &Server, prefix: &str) -> RedisJournal {
    RedisJournal::builder(server.url.clone())
        .prefix(prefix)
        .open()
        .unwrap()
}

/// Runs this test binary's ignored `child_worker` test in `WORKERS`
/// processes at once, each with its `BALDUR_CHILD_*` settings, and returns
/// each one's standard output.
fn run_children(url: &str, prefix: &str, job: &str, per_worker: usize) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WORKERS)
        .map(|w| {
            Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "child_worker",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("BALDUR_CHILD_URL", url)
                .env("BALDUR_CHILD_PREFIX", prefix)
                .env("BALDUR_CHILD_JOB", job)
                .env("BALDUR_CHILD_WORKER", w.to_string())
                .env("BALDUR_CHILD_COUNT", per_worker.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .enumerate()
        .map(|(w, child)| {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "worker {w} failed: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
        })
        .collect()
}

fn worker_entry(worker: usize, n: usize, extra: &str) -> JournalEntry {
    JournalEntry::new("dlq_store", "worker", Timestamp::now(), "payments").with_context(
        Context::from_json(&format!(r#"{{"worker":{worker},"n":{n}{extra}}}"#)).unwrap(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The chain's hash, computed in the client (no key ever goes to Redis).
fn chain_hash(previous: &str, worker: usize, n: usize) -> String {
    hex(&Sha256::digest(format!("{previous}|{worker}|{n}")))
}

fn context_str(e: &JournalEntry, key: &str) -> String {
    match e.context.to_value().get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => panic!("entry {} has no {key}: {:?}", e.sequence, e.context),
    }
}

/// Not a test of its own: the body of the worker processes that
/// `run_children` starts (it does nothing without their settings).
#[test]
#[ignore = "run by the multi-process tests as a worker process"]
fn child_worker() {
    let Ok(url) = std::env::var("BALDUR_CHILD_URL") else {
        return;
    };
    let prefix = std::env::var("BALDUR_CHILD_PREFIX").unwrap();
    let worker: usize = std::env::var("BALDUR_CHILD_WORKER")
        .unwrap()
        .parse()
        .unwrap();
    let count: usize = std::env::var("BALDUR_CHILD_COUNT")
        .unwrap()
        .parse()
        .unwrap();
    let j = RedisJournal::builder(url).prefix(prefix).open().unwrap();
    match std::env::var("BALDUR_CHILD_JOB").unwrap().as_str() {
        "append" => {
            // Singles and batches of 5, alternating.
            let mut n = 0;
            while n < count {
                if n % 10 < 5 {
                    println!("SEQ {}", j.append(&worker_entry(worker, n, "")).unwrap());
                    n += 1;
                } else {
                    let batch: Vec<_> = (n..n + 5).map(|i| worker_entry(worker, i, "")).collect();
                    for seq in j.append_batch(&batch).unwrap() {
                        println!("SEQ {seq}");
                    }
                    n += 5;
                }
            }
        }
        "chain" => {
            let mut conflicts = 0;
            let mut n = 0;
            while n < count {
                let latest = j.get_latest_sequence().unwrap();
                let previous = if latest == 0 {
                    "GENESIS".to_string()
                } else {
                    let last = j.get_sequence_range(latest, latest + 1).unwrap();
                    context_str(&last[0], "hash")
                };
                let hash = chain_hash(&previous, worker, n);
                let extra = format!(r#","previous_hash":"{previous}","hash":"{hash}""#);
                match j
                    .append_if_latest(latest, &worker_entry(worker, n, &extra))
                    .unwrap()
                {
                    Some(seq) => {
                        // The parent checks the chain (seq must be latest + 1).
                        println!("SEQ {seq}");
                        n += 1;
                    }
                    None => conflicts += 1,
                }
            }
            println!("CONFLICTS {conflicts}");
        }
        other => panic!("unknown job {other}"),
    }
}

fn sequences_of(stdout: &str) -> Vec<u64> {
    stdout
        .lines()
        // libtest prints "test child_worker ... " before the first line.
        .filter_map(|l| l.find("SEQ ").map(|at| &l[at + 4..]))
        .map(|s| s.trim().parse().unwrap())
        .collect()
}

#[test]
fn four_processes_appending_get_unique_strictly_increasing_sequences() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("procs");
    let per_worker = 300;
    let outputs = run_children(&server.url, &prefix, "append", per_worker);
    let mut all = Vec::new();
    let mut owner = BTreeMap::new();
    for (w, out) in outputs.iter().enumerate() {
        let seqs = sequences_of(out);
        assert_eq!(
            seqs.len(),
            per_worker,
            "worker {w} acknowledged every append"
        );
        assert!(
            seqs.windows(2).all(|p| p[0] < p[1]),
            "worker {w} saw its sequences go back: {seqs:?}"
        );
        for s in &seqs {
            assert!(owner.insert(*s, w).is_none(), "sequence {s} given twice");
        }
        all.extend(seqs);
    }
    all.sort_unstable();
    let total = (WORKERS * per_worker) as u64;
    assert_eq!(all, (1..=total).collect::<Vec<_>>(), "no gap, no duplicate");
    let j = open(&server, &prefix);
    assert_eq!(j.get_latest_sequence().unwrap(), total);
    let stored = j.get_sequence_range(1, total + 1).unwrap();
    assert_eq!(stored.len() as u64, total);
    for e in stored {
        let worker: usize = context_str(&e, "worker").parse().unwrap();
        assert_eq!(
            owner[&e.sequence], worker,
            "sequence {} holds another worker's entry",
            e.sequence
        );
    }
}

#[test]
fn concurrent_chain_appends_with_append_if_latest_never_fork() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("chain");
    let per_worker = 40;
    let outputs = run_children(&server.url, &prefix, "chain", per_worker);
    for out in &outputs {
        eprint!(
            "{}",
            out.lines()
                .filter(|l| l.starts_with("CONFLICTS"))
                .collect::<String>()
        );
    }
    let j = open(&server, &prefix);
    let total = (WORKERS * per_worker) as u64;
    let chain = j.get_sequence_range(1, u64::MAX).unwrap();
    assert_eq!(chain.len() as u64, total);
    let mut previous = "GENESIS".to_string();
    for (i, e) in chain.iter().enumerate() {
        assert_eq!(e.sequence, i as u64 + 1);
        assert_eq!(
            context_str(e, "previous_hash"),
            previous,
            "the chain forks at sequence {}",
            e.sequence
        );
        let worker: usize = context_str(e, "worker").parse().unwrap();
        let n: usize = context_str(e, "n").parse().unwrap();
        let hash = chain_hash(&previous, worker, n);
        assert_eq!(context_str(e, "hash"), hash, "hash at {}", e.sequence);
        previous = hash;
    }
    // The losing side of a race gets None, and nothing is written.
    let latest = j.get_latest_sequence().unwrap();
    assert_eq!(
        j.append_if_latest(latest - 1, &worker_entry(9, 0, ""))
            .unwrap(),
        None
    );
    assert_eq!(j.get_latest_sequence().unwrap(), latest);
}

#[test]
fn an_outage_mid_append_is_a_clear_error_within_the_timeout_and_opens_the_breaker() {
    let Some(mut server) = Server::own() else {
        return;
    };
    let timeout = Duration::from_millis(500);
    let j = RedisJournal::builder(server.url.clone())
        .prefix(unique_prefix("outage"))
        .command_timeout(timeout)
        .connect_timeout(timeout)
        .breaker(BreakerOptions {
            failures: 2,
            recovery: Duration::from_secs(3600),
        })
        .open()
        .unwrap();
    let j = std::sync::Arc::new(j);
    // Appenders run while the server is frozen and then killed; every
    // acknowledged sequence must survive the restart.
    let appenders: Vec<_> = (0..2)
        .map(|w| {
            let j = j.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for n in 0.. {
                    match j.append(&worker_entry(w, n, "")) {
                        Ok(seq) => acked.push(seq),
                        Err(e) => return (acked, e),
                    }
                }
                unreachable!()
            })
        })
        .collect();
    // Let them get going: wait until some appends are acknowledged.
    let watcher = RedisJournal::builder(server.url.clone())
        .prefix(j.prefix())
        .open()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while watcher.get_latest_sequence().unwrap() < 50 {
        assert!(Instant::now() < deadline, "appends did not start");
    }
    drop(watcher);
    server.freeze();
    let frozen_at = Instant::now();
    let mut acknowledged = Vec::new();
    for a in appenders {
        let (acked, error) = a.join().unwrap();
        let message = error.to_string();
        assert!(
            matches!(error, Error::Redis { .. } | Error::RedisUnavailable { .. }),
            "{error:?}"
        );
        assert!(message.contains(j.server()), "names the server: {message}");
        acknowledged.extend(acked);
    }
    let waited = frozen_at.elapsed();
    assert!(
        waited < timeout * 10,
        "a frozen server must give an error within the command timeout, took {waited:?}"
    );
    assert!(j.breaker_open(), "two transport failures open the breaker");
    let refused_at = Instant::now();
    match j.append(&worker_entry(0, 0, "")) {
        Err(Error::RedisUnavailable { server: s, .. }) => assert_eq!(s, j.server()),
        other => panic!("expected the breaker to refuse, got {other:?}"),
    }
    assert!(
        refused_at.elapsed() < timeout,
        "the open breaker fails fast"
    );
    server.thaw();
    server.kill();
    // A fresh handle on the dead server: connection refused, named.
    let dead = RedisJournal::builder(server.url.clone())
        .connect_timeout(timeout)
        .open()
        .unwrap_err();
    let message = dead.to_string();
    assert!(
        message.contains("PING") && message.contains("127.0.0.1"),
        "{message}"
    );
    // appendfsync always: every acknowledged append survives the restart,
    // and the sequences stored have neither gap nor duplicate.
    server.restart();
    let reopened = RedisJournal::builder(server.url.clone())
        .prefix(j.prefix())
        .open()
        .unwrap();
    let latest = reopened.get_latest_sequence().unwrap();
    let stored: Vec<u64> = reopened
        .get_sequence_range(1, u64::MAX)
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(stored, (1..=latest).collect::<Vec<_>>());
    acknowledged.sort_unstable();
    assert!(acknowledged.last().is_some_and(|l| *l <= latest));
    assert!(acknowledged.windows(2).all(|p| p[0] < p[1]));
}

#[test]
fn an_unreachable_server_is_a_clear_error_not_a_hang() {
    if !redis_common::available() {
        return;
    }
    // A port nobody listens on (the test's own server, killed).
    let Some(mut server) = Server::own() else {
        return;
    };
    server.kill();
    let started = Instant::now();
    let error =
        RedisJournal::open_url(&format!("{}?connect_timeout_ms=300", server.url)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    let message = error.to_string();
    assert!(message.starts_with("Redis server 127.0.0.1:"), "{message}");
    assert!(message.contains("cannot connect"), "{message}");
    assert!(matches!(
        RedisJournal::open_url("redis://127.0.0.1:1/0?layout=sql"),
        Err(Error::InvalidOption(_))
    ));
}

fn timed_entry(i: u64) -> JournalEntry {
    let mut e = common::entry(i);
    e.timestamp = Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + i as i64 * 1_000_000_000);
    e
}

#[test]
fn native_ranges_and_time_windows_read_only_what_they_return() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let j = open(&server, &unique_prefix("touch"));
    let batch: Vec<_> = (0..3000).map(timed_entry).collect();
    j.append_batch(&batch).unwrap();
    let reads = |f: &dyn Fn()| {
        let before = j.elements_read();
        f();
        j.elements_read() - before
    };
    assert_eq!(
        reads(&|| assert_eq!(j.get_sequence_range(1500, 1510).unwrap().len(), 10)),
        10
    );
    assert_eq!(
        reads(&|| assert_eq!(j.get_sequence_range(2990, 9999).unwrap().len(), 11)),
        11
    );
    // A time window of 50 entries: 50 index members, then 50 entries.
    let window = JournalQueryFilter {
        start_time: Some(timed_entry(1000).timestamp),
        end_time: Some(timed_entry(1050).timestamp),
        ..Default::default()
    };
    let got = std::cell::RefCell::new(None);
    assert_eq!(
        reads(&|| *got.borrow_mut() = Some(j.query(&window).unwrap())),
        100
    );
    let got = got.into_inner().unwrap();
    assert_eq!(got.total_count, 50);
    assert_eq!(got.entries[0].sequence, 1001);
    // With a limit, only the first entries are fetched.
    let limited = JournalQueryFilter {
        limit: 5,
        ..window.clone()
    };
    assert_eq!(
        reads(&|| assert_eq!(j.query(&limited).unwrap().entries.len(), 5)),
        55
    );
    // Counting a window reads no entry at all (ZLEXCOUNT).
    assert_eq!(reads(&|| assert_eq!(j.count(&window).unwrap(), 50)), 0);
    // A window with another condition reads the window's entries only.
    let typed = JournalQueryFilter {
        event_types: Some(vec!["dlq_store".into()]),
        ..window.clone()
    };
    assert_eq!(reads(&|| assert_eq!(j.count(&typed).unwrap(), 13)), 100);
    // An unfiltered query with a limit reads the limit, not the journal.
    let first = JournalQueryFilter {
        limit: 7,
        ..Default::default()
    };
    assert_eq!(
        reads(&|| assert_eq!(j.query(&first).unwrap().total_count, 3000)),
        7
    );
}

#[test]
fn baldur_layout_uses_the_reference_keys_and_members() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("baldur");
    let j =
        RedisJournal::open_url(&format!("{}?layout=baldur&prefix={prefix}", server.url)).unwrap();
    assert_eq!(j.options().layout, RedisLayout::Baldur);
    let jan = JournalEntry::new(
        "circuit_breaker_opened",
        "breaker",
        Timestamp::parse("2025-01-31T23:59:59.123456789Z").unwrap(),
        "payments",
    )
    .with_context(Context::from_json(r#"{"failure_count":5,"東京":true}"#).unwrap());
    let mut feb = jan.clone();
    feb.timestamp = Timestamp::parse("2025-02-01T00:00:00Z").unwrap();
    assert_eq!(
        j.append_batch(&[jan.clone(), feb.clone()]).unwrap(),
        vec![1, 2]
    );
    let client = redis::Client::open(server.url.as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    let counter: String = redis::cmd("GET")
        .arg(format!("{prefix}:sequence"))
        .query(&mut con)
        .unwrap();
    assert_eq!(counter, "2");
    let members: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}:2025-01"))
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut con)
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].1, 1.0);
    let expected_start = r#"{"sequence":1,"event_type":"circuit_breaker_opened","source":"breaker","timestamp":"2025-01-31T23:59:59.123456+00:00","service_name":"payments","context":{"failure_count":5,"東京":true},"region":"","tier_id":"","appended_at":""#;
    assert!(members[0].0.starts_with(expected_start), "{}", members[0].0);
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:2025-02"))
        .query(&mut con)
        .unwrap();
    assert_eq!(ttl, -1, "no expiry by default");
    // A member written the reference's way (INCR, then ZADD) reads back.
    let _: i64 = redis::cmd("INCR")
        .arg(format!("{prefix}:sequence"))
        .query(&mut con)
        .unwrap();
    let python = r#"{"sequence":3,"event_type":"error_budget_warning","source":"budget","timestamp":"2025-02-03T10:00:00.500000+00:00","service_name":"","context":{"budget_percent":12.5},"region":"eu","tier_id":"t1"}"#;
    let _: i64 = redis::cmd("ZADD")
        .arg(format!("{prefix}:2025-02"))
        .arg(3)
        .arg(python)
        .query(&mut con)
        .unwrap();
    let all = j.get_sequence_range(0, 100).unwrap();
    assert_eq!(
        all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        all[0].timestamp,
        Timestamp::parse("2025-01-31T23:59:59.123456Z").unwrap()
    );
    assert_eq!(all[2].context.as_str(), r#"{"budget_percent":12.5}"#);
    assert_eq!(all[2].appended_at, None);
    assert!(all[0].appended_at.is_some());
    assert_eq!(j.get_latest_sequence().unwrap(), 3);
    // Ranges and windows read only the months and members they need.
    let before = j.elements_read();
    assert_eq!(j.get_sequence_range(2, 3).unwrap().len(), 1);
    assert_eq!(j.elements_read() - before, 1);
    let february = JournalQueryFilter {
        start_time: Some(Timestamp::parse("2025-02-02T00:00:00Z").unwrap()),
        ..Default::default()
    };
    assert_eq!(j.query(&february).unwrap().entries[0].sequence, 3);
    assert_eq!(j.count(&JournalQueryFilter::default()).unwrap(), 3);
    // append_at and compare-and-set hold in this layout too.
    assert!(matches!(
        j.append_at(3, &feb),
        Err(Error::NonMonotonic { .. })
    ));
    assert_eq!(j.append_if_latest(2, &feb).unwrap(), None);
    assert_eq!(j.append_if_latest(3, &feb).unwrap(), Some(4));
    j.destroy().unwrap();
    assert_eq!(j.get_latest_sequence().unwrap(), 0);
}

#[test]
fn baldur_retention_sets_the_reference_ttl_once_per_month() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("baldur-ttl");
    let j = RedisJournal::builder(server.url.clone())
        .layout(RedisLayout::Baldur)
        .prefix(&prefix)
        .retention(Duration::from_secs(2_592_000))
        .open()
        .unwrap();
    j.append(&JournalEntry::new(
        "t",
        "s",
        Timestamp::parse("2025-03-01T00:00:00Z").unwrap(),
        "",
    ))
    .unwrap();
    let client = redis::Client::open(server.url.as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:2025-03"))
        .query(&mut con)
        .unwrap();
    assert!((2_591_000..=2_592_000).contains(&ttl), "{ttl}");
    let counter_ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:sequence"))
        .query(&mut con)
        .unwrap();
    assert_eq!(counter_ttl, -1, "the counter never expires");
}

#[test]
fn native_retention_removes_old_entries_and_keeps_the_latest_sequence() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("retention");
    let j = RedisJournal::builder(server.url.clone())
        .prefix(&prefix)
        .retention(Duration::from_secs(3600))
        .open()
        .unwrap();
    let old = JournalEntry::new(
        "t",
        "s",
        Timestamp::parse("2020-01-01T00:00:00Z").unwrap(),
        "",
    );
    j.append_batch(&[old.clone(), old.clone(), old]).unwrap();
    // The batch's own entries are older than the cutoff: the same script
    // removes them after writing them; a recent entry stays.
    let fresh = JournalEntry::new("t", "s", Timestamp::now(), "");
    assert_eq!(j.append(&fresh).unwrap(), 4);
    let left: Vec<u64> = j
        .get_sequence_range(0, 100)
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(left, vec![4]);
    assert_eq!(j.get_latest_sequence().unwrap(), 4);
    assert_eq!(j.count(&JournalQueryFilter::default()).unwrap(), 1);
    let kept = RedisJournal::builder(server.url.clone())
        .prefix(unique_prefix("no-retention"))
        .open()
        .unwrap();
    kept.append(&JournalEntry::new(
        "t",
        "s",
        Timestamp::parse("2020-01-01T00:00:00Z").unwrap(),
        "",
    ))
    .unwrap();
    kept.append(&fresh).unwrap();
    assert_eq!(
        kept.count(&JournalQueryFilter::default()).unwrap(),
        2,
        "no expiry by default"
    );
}

#[test]
fn the_breaker_lets_one_trial_through_after_its_recovery_period() {
    let Some(mut server) = Server::own() else {
        return;
    };
    let recovery = Duration::from_millis(300);
    let j = RedisJournal::builder(server.url.clone())
        .prefix(unique_prefix("breaker"))
        .connect_timeout(Duration::from_millis(300))
        .command_timeout(Duration::from_millis(300))
        .breaker(BreakerOptions {
            failures: 3,
            recovery,
        })
        .open()
        .unwrap();
    assert_eq!(j.append(&worker_entry(0, 0, "")).unwrap(), 1);
    server.kill();
    for attempt in 1..=3 {
        assert!(!j.breaker_open(), "open before failure {attempt}");
        assert!(matches!(j.get_latest_sequence(), Err(Error::Redis { .. })));
    }
    assert!(j.breaker_open(), "3 consecutive failures open it");
    assert!(matches!(
        j.get_latest_sequence(),
        Err(Error::RedisUnavailable { failures: 3, .. })
    ));
    // After the recovery period one trial goes to the (still dead) server;
    // its failure opens the breaker again at once.
    let wait_closed = |j: &RedisJournal| {
        let deadline = Instant::now() + recovery * 20;
        while j.breaker_open() {
            assert!(
                Instant::now() < deadline,
                "the breaker never let a trial through"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_closed(&j);
    assert!(matches!(j.get_latest_sequence(), Err(Error::Redis { .. })));
    assert!(j.breaker_open(), "a failed trial reopens it");
    // With the server back, the next trial succeeds and closes it.
    server.restart();
    wait_closed(&j);
    assert_eq!(j.get_latest_sequence().unwrap(), 1);
    assert!(!j.breaker_open());
    assert_eq!(j.append(&worker_entry(0, 1, "")).unwrap(), 2);
}

/// The documented migration (docs/REDIS.md "Key names and migration"):
/// one atomic script renaming `P:*` to `{P}:*`, run with writers stopped.
const MIGRATE_KEY_NAMES: &str = "for _,k in ipairs({'entries','seq','time','latest','format'}) do \
    local old = ARGV[1]..':'..k \
    if redis.call('EXISTS', old) == 1 then redis.call('RENAME', old, '{'..ARGV[1]..'}:'..k) end end";

fn raw(server: &Server) -> redis::Connection {
    redis::Client::open(server.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn key_exists(con: &mut redis::Connection, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query::<u64>(con).unwrap() == 1
}

#[test]
fn journals_with_the_untagged_key_names_keep_opening_and_the_documented_rename_migrates_them() {
    let Some(server) = Server::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("legacy");
    let names = ["entries", "seq", "time", "latest", "format"];
    let j = open(&server, &prefix);
    assert!(j.hash_tagged(), "a new journal takes the hash-tagged names");
    for i in 1..=3 {
        assert_eq!(j.append(&timed_entry(i)).unwrap(), i);
    }
    drop(j);
    // What a build before hash tags wrote: the same keys and values under
    // `P:name` (the values did not change).
    let mut con = raw(&server);
    for name in names {
        let tagged = format!("{{{prefix}}}:{name}");
        assert!(key_exists(&mut con, &tagged), "{tagged} was not written");
        redis::cmd("RENAME")
            .arg(&tagged)
            .arg(format!("{prefix}:{name}"))
            .query::<()>(&mut con)
            .unwrap();
    }
    let old = open(&server, &prefix);
    assert!(!old.hash_tagged(), "the untagged journal was not detected");
    assert_eq!(old.get_latest_sequence().unwrap(), 3);
    assert_eq!(old.append(&timed_entry(4)).unwrap(), 4);
    let all = old.get_sequence_range(1, 100).unwrap();
    assert_eq!(
        all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    for name in names {
        let tagged = format!("{{{prefix}}}:{name}");
        assert!(
            !key_exists(&mut con, &tagged),
            "{tagged} written beside the untagged journal"
        );
    }
    drop(old);
    redis::cmd("EVAL")
        .arg(MIGRATE_KEY_NAMES)
        .arg(0)
        .arg(&prefix)
        .query::<()>(&mut con)
        .unwrap();
    let migrated = open(&server, &prefix);
    assert!(migrated.hash_tagged());
    assert_eq!(migrated.append(&timed_entry(5)).unwrap(), 5);
    assert_eq!(migrated.get_sequence_range(1, 100).unwrap().len(), 5);
    for name in names {
        assert!(!key_exists(&mut con, &format!("{prefix}:{name}")));
    }
    migrated.destroy().unwrap();
}

#[test]
fn min_replicas_that_do_not_confirm_is_an_error_saying_the_entry_may_still_exist() {
    // A server of our own: it has no replica, so WAIT 1 times out.
    let Some(server) = Server::own() else {
        return;
    };
    let prefix = unique_prefix("wait");
    let url = format!(
        "{}?prefix={}&min_replicas=1&replica_timeout_ms=100",
        server.url, prefix
    );
    let j = RedisJournal::open_url(&url).unwrap();
    let started = Instant::now();
    let err = j.append(&timed_entry(1)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(100));
    match &err {
        Error::ReplicasMissing {
            first_sequence,
            acknowledged,
            required,
            ..
        } => assert_eq!((*first_sequence, *acknowledged, *required), (1, 0, 1)),
        other => panic!("not ReplicasMissing: {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("may still exist"), "{text}");
    // It does exist on the primary.
    assert_eq!(j.get_latest_sequence().unwrap(), 1);
    // A refused conditional append wrote nothing, so nothing is missing.
    assert_eq!(j.append_if_latest(0, &timed_entry(2)).unwrap(), None);
    // min_replicas=0 is the plain append.
    let plain = RedisJournal::open_url(&format!("{}?prefix={}", server.url, prefix)).unwrap();
    assert_eq!(plain.append(&timed_entry(2)).unwrap(), 2);
}
