//! The Redis journal on more than one server (docs/REDIS.md "More than one
//! server"), against real `redis-server`s that each test starts on free
//! loopback ports:
//!
//! - a 3-primary Redis Cluster (`--cluster-enabled yes`, `redis-cli
//!   --cluster create`): 16 journals appended from 4 processes keep unique,
//!   strictly increasing sequences, and moving one journal's slot to
//!   another primary while the appends run loses nothing acknowledged;
//! - a primary and a replica: with `min_replicas=1`, every acknowledged
//!   entry is on the replica promoted after the primary's SIGKILL; without
//!   it, the entries the promoted replica lacks are counted and printed,
//!   not asserted (replication is asynchronous).
//!
//! Skips without `redis-server` and `redis-cli` (fails under `CI`), as the
//! other Redis suites (tests/skip, dependency "redis").
#![cfg(feature = "redis")]

use baldur_test_support::skip;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baldur_journal::{Context, EventJournal, JournalEntry, RedisJournal, Timestamp};

const WORKERS: usize = 4;
const JOURNALS: usize = 16;
/// Rounds a cluster worker runs at most (the test stops it long before).
const ROUNDS_MAX: usize = 100_000;

fn tools_on_path() -> Result<(), String> {
    for tool in ["redis-server", "redis-cli"] {
        let ok = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!(
                "{tool} is not on PATH (install Debian's redis-server)"
            ));
        }
    }
    Ok(())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// A `redis-server` of the test's own, killed on drop.
struct Node {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Node {
    /// Starts a server without persistence (what these tests check is
    /// replication and slot moves, not restarts) plus `extra` settings,
    /// and waits until it answers `PING`.
    fn start(extra: &[String]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            // A replica's first sync starts at once, not after 5 s.
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start redis-server");
        let node = Node {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while node.try_con().is_none() {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} did not answer PING within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn try_con(&self) -> Option<redis::Connection> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut con = client
            .get_connection_with_timeout(Duration::from_secs(1))
            .ok()?;
        redis::cmd("PING").query::<String>(&mut con).ok()?;
        Some(con)
    }

    fn con(&self) -> redis::Connection {
        self.try_con().expect("node does not answer")
    }

    fn info(&self, section: &str) -> String {
        redis::cmd("INFO")
            .arg(section)
            .query(&mut self.con())
            .unwrap()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `done` (each try one round trip to a server) until it holds;
/// panics with `what` after 30 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Three primaries, no replicas, every slot assigned.
struct Cluster {
    nodes: Vec<Node>,
}

impl Cluster {
    fn start() -> Cluster {
        let nodes: Vec<Node> = (0..3).map(|_| Node::start(&cluster_node_args())).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
            .arg("--cluster-yes")
            .output()
            .expect("cannot run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = Cluster { nodes };
        wait_for("cluster_state:ok and all nodes known on every node", || {
            cluster.nodes.iter().all(|n| {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut n.con())
                    .unwrap();
                info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3")
            })
        });
        cluster
    }

    fn url(&self, prefix: &str) -> String {
        format!(
            "redis+cluster://127.0.0.1:{},127.0.0.1:{}/?prefix={prefix}",
            self.nodes[0].port, self.nodes[1].port
        )
    }

    fn id(&self, node: usize) -> String {
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut self.nodes[node].con())
            .unwrap()
    }

    /// The node (index) that owns `slot`, as node 0 sees it.
    fn owner(&self, slot: u16) -> usize {
        let slots: redis::Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut self.nodes[0].con())
            .unwrap();
        let redis::Value::Array(ranges) = slots else {
            panic!("CLUSTER SLOTS: {slots:?}")
        };
        for range in ranges {
            let redis::Value::Array(fields) = range else {
                continue;
            };
            let num = |v: &redis::Value| redis::from_redis_value_ref::<u64>(v).unwrap();
            let (start, end) = (num(&fields[0]), num(&fields[1]));
            if (start..=end).contains(&u64::from(slot)) {
                let redis::Value::Array(primary) = &fields[2] else {
                    panic!("CLUSTER SLOTS primary: {fields:?}")
                };
                let port = u16::try_from(num(&primary[1])).expect("a port");
                return self.nodes.iter().position(|n| n.port == port).unwrap();
            }
        }
        panic!("slot {slot} has no owner")
    }

    fn slot_of(&self, prefix: &str) -> u16 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(format!("{{{prefix}}}:entries"))
            .query(&mut self.nodes[0].con())
            .unwrap()
    }

    /// Moves `slot` from its owner to another primary the way `redis-cli
    /// --cluster reshard` does: IMPORTING on the target, MIGRATING on the
    /// source, MIGRATE of its keys, then SETSLOT NODE everywhere. Returns
    /// the target.
    fn migrate(&self, slot: u16) -> usize {
        let source = self.owner(slot);
        let target = (source + 1) % self.nodes.len();
        let (source_id, target_id) = (self.id(source), self.id(target));
        let setslot = |node: usize, how: &str, id: &str| {
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(how)
                .arg(id)
                .query::<()>(&mut self.nodes[node].con())
                .unwrap();
        };
        setslot(target, "IMPORTING", &source_id);
        setslot(source, "MIGRATING", &target_id);
        let mut src = self.nodes[source].con();
        loop {
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query(&mut src)
                .unwrap();
            if keys.is_empty() {
                break;
            }
            redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(self.nodes[target].port)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys)
                .query::<()>(&mut src)
                .unwrap();
        }
        setslot(target, "NODE", &target_id);
        setslot(source, "NODE", &target_id);
        let other = 3 - source - target;
        setslot(other, "NODE", &target_id);
        target
    }
}

fn entry(worker: usize, n: usize) -> JournalEntry {
    JournalEntry::new("dlq_store", "worker", Timestamp::now(), "payments")
        .with_context(Context::from_json(&format!(r#"{{"worker":{worker},"n":{n}}}"#)).unwrap())
}

fn context_number(e: &JournalEntry, key: &str) -> usize {
    match e.context.to_value().get(key) {
        Some(serde_json::Value::Number(n)) => usize::try_from(n.as_u64().unwrap()).unwrap(),
        other => panic!("entry {} has {key} = {other:?}", e.sequence),
    }
}

/// Not a test of its own: the body of the worker processes that the
/// cluster test starts (it does nothing without their settings). Appends
/// round after round to every journal (singles, and a batch of 3 every
/// fourth round) until the stop file exists, printing `SEQ journal
/// sequence worker n` for each acknowledged entry.
#[test]
#[ignore = "run by the cluster test as a worker process"]
fn cluster_worker() {
    let Ok(base) = std::env::var("BALDUR_CLUSTER_URL") else {
        return;
    };
    let worker: usize = std::env::var("BALDUR_CLUSTER_WORKER")
        .unwrap()
        .parse()
        .unwrap();
    let stop = std::path::PathBuf::from(std::env::var("BALDUR_CLUSTER_STOP").unwrap());
    let journals: Vec<RedisJournal> = (0..JOURNALS)
        .map(|j| RedisJournal::open_url(&format!("{base}-{j}")).unwrap())
        .collect();
    let mut n = 0;
    let mut round = 0;
    while !stop.exists() {
        assert!(round < ROUNDS_MAX, "no stop file after {ROUNDS_MAX} rounds");
        for (j, journal) in journals.iter().enumerate() {
            if round % 4 == 3 {
                let batch: Vec<_> = (n..n + 3).map(|i| entry(worker, i)).collect();
                for (i, seq) in journal
                    .append_batch(&batch)
                    .unwrap()
                    .into_iter()
                    .enumerate()
                {
                    println!("SEQ {j} {seq} {worker} {}", n + i);
                }
                n += 3;
            } else {
                let seq = journal.append(&entry(worker, n)).unwrap();
                println!("SEQ {j} {seq} {worker} {n}");
                n += 1;
            }
        }
        round += 1;
    }
}

#[test]
fn sixteen_journals_from_four_processes_on_a_cluster_survive_a_slot_migration() {
    if skip::needs("redis", tools_on_path).is_none() {
        return;
    }
    let cluster = Cluster::start();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("cluster-test-{}-{stamp}", std::process::id());
    let base = cluster.url(&prefix);
    let stop_dir = tempfile::tempdir().unwrap();
    let stop = stop_dir.path().join("stop");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<Child> = (0..WORKERS)
        .map(|w| {
            Command::new(&exe)
                .args(["--ignored", "--exact", "cluster_worker", "--nocapture"])
                .args(["--test-threads=1"])
                .env("BALDUR_CLUSTER_URL", &base)
                .env("BALDUR_CLUSTER_WORKER", w.to_string())
                .env("BALDUR_CLUSTER_STOP", &stop)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();

    // Journal 0's slot moves to another primary while the workers append:
    // before the move starts, and until well after it ends, appends run.
    let moved = format!("{prefix}-0");
    let watcher = RedisJournal::open_url(&format!("{base}-0")).unwrap();
    wait_for("100 appends to journal 0", || {
        watcher.get_latest_sequence().unwrap() >= 100
    });
    let slot = cluster.slot_of(&moved);
    let source = cluster.owner(slot);
    let before = watcher.get_latest_sequence().unwrap();
    let target = cluster.migrate(slot);
    let after = watcher.get_latest_sequence().unwrap();
    assert_eq!(cluster.owner(slot), target, "the slot did not move");
    assert_ne!(source, target);
    wait_for("200 more appends to journal 0 after the move", || {
        watcher.get_latest_sequence().unwrap() >= after + 200
    });
    std::fs::write(&stop, b"").unwrap();

    let mut acknowledged: Vec<BTreeMap<u64, (usize, usize)>> = vec![BTreeMap::new(); JOURNALS];
    for (w, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "worker {w} failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut last = [0u64; JOURNALS];
        // The harness prints `test cluster_worker ... ` before the first
        // line of output, on the same line.
        for line in stdout
            .lines()
            .filter_map(|l| l.split_once("SEQ ").map(|(_, rest)| rest))
        {
            let f: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
            let index = |v: u64| usize::try_from(v).expect("an index");
            let (j, seq, worker, n) = (index(f[0]), f[1], index(f[2]), index(f[3]));
            assert!(
                seq > last[j],
                "journal {j}: worker {w} got {seq} after {}",
                last[j]
            );
            last[j] = seq;
            assert!(
                acknowledged[j].insert(seq, (worker, n)).is_none(),
                "journal {j}: sequence {seq} given twice"
            );
        }
    }
    // Every acknowledged entry is stored, under its sequence, and nothing
    // else is: the journals hold 1..=latest without a gap.
    let mut owners = BTreeSet::new();
    for (j, acked) in acknowledged.iter().enumerate() {
        let journal = RedisJournal::open_url(&format!("{base}-{j}")).unwrap();
        assert!(journal.is_cluster());
        assert!(journal.hash_tagged());
        let stored = journal.get_sequence_range(1, u64::MAX).unwrap();
        let latest = journal.get_latest_sequence().unwrap();
        assert_eq!(stored.len() as u64, latest, "journal {j} has a gap");
        let unacknowledged: Vec<(u64, usize, usize)> = stored
            .iter()
            .filter(|e| !acked.contains_key(&e.sequence))
            .map(|e| {
                (
                    e.sequence,
                    context_number(e, "worker"),
                    context_number(e, "n"),
                )
            })
            .collect();
        assert!(
            unacknowledged.is_empty() && stored.len() == acked.len(),
            "journal {j}: {} stored, {} acknowledged; stored but not acknowledged \
             (sequence, worker, n): {unacknowledged:?}",
            stored.len(),
            acked.len()
        );
        for e in &stored {
            let (worker, n) = acked[&e.sequence];
            assert_eq!(
                (context_number(e, "worker"), context_number(e, "n")),
                (worker, n),
                "journal {j}, sequence {}",
                e.sequence
            );
        }
        owners.insert(cluster.owner(cluster.slot_of(&format!("{prefix}-{j}"))));
    }
    assert!(
        owners.len() > 1,
        "16 journals all on one primary: {owners:?}"
    );
    // The moved journal's keys are all on the target now.
    let mut target_con = cluster.nodes[target].con();
    for name in ["entries", "seq", "time", "latest", "format"] {
        let key = format!("{{{moved}}}:{name}");
        let n: u64 = redis::cmd("EXISTS")
            .arg(&key)
            .query(&mut target_con)
            .unwrap();
        assert_eq!(n, 1, "{key} is not on the target node");
    }
    // min_replicas on a cluster: the script and WAIT go to the slot's
    // primary in one pipeline; these primaries have no replica, so the
    // append is applied there and reported unconfirmed.
    let waiting =
        RedisJournal::open_url(&format!("{base}-1&min_replicas=1&replica_timeout_ms=100")).unwrap();
    let before_wait = waiting.get_latest_sequence().unwrap();
    match waiting.append(&entry(9, 0)) {
        Err(baldur_journal::Error::ReplicasMissing {
            first_sequence,
            acknowledged: 0,
            ..
        }) => assert_eq!(first_sequence, before_wait + 1),
        other => panic!("expected ReplicasMissing, got {other:?}"),
    }
    assert_eq!(waiting.get_latest_sequence().unwrap(), before_wait + 1);
    every_operation_works_on_the_cluster(&format!("{base}-ops"));
    // A journal under the untagged names of before the hash tag cannot
    // run on a cluster: refused at open, naming the key and the remedy.
    let legacy = format!("{prefix}-legacy");
    let mut con = redis::cluster::ClusterClient::new(vec![cluster.nodes[0].url()])
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("SET")
        .arg(format!("{legacy}:format"))
        .arg("1")
        .query::<()>(&mut con)
        .unwrap();
    let err = RedisJournal::open_url(&cluster.url(&legacy))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("{legacy}:format")), "{err}");
    assert!(err.contains("Key names and migration"), "{err}");
    #[cfg(feature = "cli")]
    the_cli_opens_the_cluster(&format!("{base}-0"), acknowledged[0].len() as u64);
    eprintln!(
        "cluster: {} entries in {JOURNALS} journals on {} primaries; journal 0's slot {slot} \
         moved from node {source} to {target} at sequences {before}..{after}",
        acknowledged.iter().map(BTreeMap::len).sum::<usize>(),
        owners.len()
    );
}

#[test]
fn min_replicas_on_a_cluster_waits_for_the_replicas_of_the_journal_s_own_primary() {
    if skip::needs("redis", tools_on_path).is_none() {
        return;
    }
    let cluster = Cluster::start();
    // Node 0 gets a replica; nodes 1 and 2 have none.
    let replica = Node::start(&cluster_node_args());
    let primary_id = cluster.id(0);
    let out = Command::new("redis-cli")
        .args(["--cluster", "add-node"])
        .arg(format!("127.0.0.1:{}", replica.port))
        .arg(format!("127.0.0.1:{}", cluster.nodes[0].port))
        .args(["--cluster-slave", "--cluster-master-id", &primary_id])
        .output()
        .expect("cannot run redis-cli --cluster add-node");
    assert!(out.status.success(), "add-node failed: {out:?}");
    wait_for("the replica of node 0 in sync", || {
        replica
            .info("replication")
            .contains("master_link_status:up")
            && cluster.nodes[0]
                .info("replication")
                .contains("connected_slaves:1")
    });
    wait_for("every node to know the replica", || {
        cluster.nodes.iter().all(|n| {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut n.con())
                .unwrap();
            info.contains("cluster_known_nodes:4")
        })
    });
    // One journal on node 0's slots, one elsewhere.
    let stamp = std::process::id();
    let on = |want_zero: bool| {
        (0..1000)
            .map(|i| format!("wait-{stamp}-{i}"))
            .find(|p| (cluster.owner(cluster.slot_of(p)) == 0) == want_zero)
            .unwrap()
    };
    let (replicated, alone) = (on(true), on(false));
    // As for a primary and replica: wait until a write to node 0 is
    // confirmed by its replica.
    let mut con = cluster.nodes[0].con();
    wait_for("a write to node 0 confirmed by its replica", || {
        redis::cmd("SET")
            .arg(format!("{{{replicated}}}:probe"))
            .arg(1)
            .query::<()>(&mut con)
            .unwrap();
        redis::cmd("WAIT")
            .arg(1)
            .arg(100)
            .query::<u64>(&mut con)
            .unwrap()
            == 1
    });
    let waiting = |prefix: &str, ms: u64| {
        RedisJournal::open_url(&format!(
            "{}&min_replicas=1&replica_timeout_ms={ms}",
            cluster.url(prefix)
        ))
        .unwrap()
    };
    let j = waiting(&replicated, 1000);
    for i in 1..=20u64 {
        assert_eq!(j.append(&entry(0, usize::try_from(i).unwrap())).unwrap(), i);
    }
    assert_eq!(
        j.append_batch(&[entry(0, 21), entry(0, 22)]).unwrap(),
        [21, 22]
    );
    let k = waiting(&alone, 100);
    match k.append(&entry(0, 0)) {
        Err(baldur_journal::Error::ReplicasMissing {
            first_sequence: 1,
            acknowledged: 0,
            required: 1,
            ..
        }) => {}
        other => panic!("expected ReplicasMissing for the journal without replica: {other:?}"),
    }
    // What the primary acknowledged is on its replica.
    let mut replica_con = replica.con();
    redis::cmd("READONLY")
        .query::<()>(&mut replica_con)
        .unwrap();
    let on_replica: u64 = redis::cmd("HLEN")
        .arg(format!("{{{replicated}}}:entries"))
        .query(&mut replica_con)
        .unwrap();
    assert_eq!(on_replica, 22);
}

/// Settings of a cluster node.
fn cluster_node_args() -> Vec<String> {
    vec![
        "--cluster-enabled".into(),
        "yes".into(),
        "--cluster-config-file".into(),
        "nodes.conf".into(),
        "--cluster-port".into(),
        free_port().to_string(),
        "--cluster-node-timeout".into(),
        "5000".into(),
    ]
}

/// The journal's operations on a cluster, each against a known answer:
/// batches over several script calls, `append_at`, the conditional
/// append, ranges, time windows and filtered queries.
fn every_operation_works_on_the_cluster(url: &str) {
    use baldur_journal::{Error, JournalQueryFilter};
    let j = RedisJournal::open_url(url).unwrap();
    let at = |i: u64| Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + i as i64 * 1_000);
    let batch: Vec<JournalEntry> = (1..=1500u64)
        .map(|i| {
            let kind = if i % 3 == 0 {
                "dlq_resolve"
            } else {
                "dlq_store"
            };
            let mut e = JournalEntry::new(kind, "ops", at(i), "payments");
            e.context = Context::from_json(&format!(r#"{{"i":{i}}}"#)).unwrap();
            e
        })
        .collect();
    let seqs = j.append_batch(&batch).unwrap();
    assert_eq!(seqs, (1..=1500).collect::<Vec<u64>>());
    j.append_at(2000, &entry(0, 2000)).unwrap();
    assert!(matches!(
        j.append_at(1999, &entry(0, 1999)),
        Err(Error::NonMonotonic { .. })
    ));
    assert_eq!(
        j.append_if_latest(2000, &entry(0, 2001)).unwrap(),
        Some(2001)
    );
    assert_eq!(j.append_if_latest(5, &entry(0, 0)).unwrap(), None);
    assert_eq!(j.get_latest_sequence().unwrap(), 2001);
    let range: Vec<u64> = j
        .get_sequence_range(1490, 1510)
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(range, (1490..=1500).collect::<Vec<u64>>());
    let tail: Vec<u64> = j
        .range_iter_from(1995)
        .unwrap()
        .map(|e| e.unwrap().sequence)
        .collect();
    assert_eq!(tail, [2000, 2001]);
    // Entries 101..=200 by time; a third of them resolved.
    let window = JournalQueryFilter {
        start_time: Some(at(101)),
        end_time: Some(at(201)),
        limit: 10,
        ..JournalQueryFilter::default()
    };
    let found = j.query(&window).unwrap();
    assert_eq!(found.total_count, 100);
    assert_eq!(
        found.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (101..=110).collect::<Vec<u64>>()
    );
    assert_eq!(j.count(&window).unwrap(), 100);
    let resolved = JournalQueryFilter {
        event_types: Some(vec!["dlq_resolve".into()]),
        ..window
    };
    assert_eq!(j.count(&resolved).unwrap(), 33);
    j.destroy().unwrap();
    assert_eq!(j.get_latest_sequence().unwrap(), 0);
}

/// The CLI's `--journal` takes the cluster URL, and refuses it with the
/// baldur layout.
#[cfg(feature = "cli")]
fn the_cli_opens_the_cluster(url: &str, latest: u64) {
    let cli = || Command::new(env!("CARGO_BIN_EXE_baldur-journal"));
    let out = cli().args(["--journal", url, "latest"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        latest.to_string()
    );
    // `copy` into a new journal on the cluster keeps every sequence.
    let copy = url.replacen("?prefix=", "?prefix=copy-", 1);
    let out = cli()
        .args(["copy", "--from", url, "--to", &copy])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let export = |url: &str| {
        let out = cli().args(["--journal", url, "export"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        out.stdout
    };
    let exported = export(url);
    assert_eq!(
        exported.iter().filter(|b| **b == b'\n').count() as u64,
        latest
    );
    assert!(exported == export(&copy), "the copy exports differently");
    let out = cli()
        .args(["--journal", &format!("{url}&layout=baldur"), "latest"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(err.contains("layout=baldur on a Redis Cluster"), "{err}");
}

/// A primary and its replica, in sync.
fn primary_and_replica() -> (Node, Node) {
    let primary = Node::start(&[]);
    let replica = Node::start(&[
        "--replicaof".into(),
        "127.0.0.1".into(),
        primary.port.to_string(),
    ]);
    // A link that is up is not yet proof of replication (writes right
    // after it were seen missing on the replica): wait until a write is
    // confirmed by WAIT.
    let mut con = primary.con();
    wait_for("a write confirmed by the replica", || {
        redis::cmd("SET")
            .arg("replication-probe")
            .arg(1)
            .query::<()>(&mut con)
            .unwrap();
        redis::cmd("WAIT")
            .arg(1)
            .arg(100)
            .query::<u64>(&mut con)
            .unwrap()
            == 1
    });
    (primary, replica)
}

/// What a failover run saw.
struct Failover {
    /// Sequences whose append returned `Ok`.
    acknowledged: Vec<u64>,
    /// Sequences stored on the promoted replica.
    stored: BTreeSet<u64>,
    /// The error that stopped the appender.
    stopped_by: String,
}

impl Failover {
    fn missing(&self) -> Vec<u64> {
        self.acknowledged
            .iter()
            .filter(|s| !self.stored.contains(s))
            .copied()
            .collect()
    }
}

/// Appends from a thread; after `before_kill` acknowledged appends the
/// primary is killed (SIGKILL), the replica promoted (`REPLICAOF NO ONE`),
/// and the promoted replica's entries read. With `cut_off`, the replica is
/// first cut off from its primary (pointed at a port where nothing
/// listens: a replica that misses writes, as in a partition), and the
/// primary is killed once the appender has stopped or 100 more appends
/// were acknowledged.
fn kill_primary_mid_appends(params: &str, before_kill: u64, cut_off: bool) -> Failover {
    let (mut primary, replica) = primary_and_replica();
    let prefix = format!("failover-{}", std::process::id());
    let url = format!(
        "{}/0?prefix={prefix}&timeout_ms=6000{params}",
        primary.url()
    );
    let journal = RedisJournal::open_url(&url).unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let appender = {
        let (count, running) = (count.clone(), running.clone());
        std::thread::spawn(move || {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            // Stops at the first error.
            let stopped_by = loop {
                match journal.append(&entry(0, n)) {
                    Ok(seq) => {
                        acknowledged.push(seq);
                        count.fetch_add(1, Ordering::SeqCst);
                        n += 1;
                    }
                    Err(e) => break e.to_string(),
                }
            };
            running.store(false, Ordering::SeqCst);
            (acknowledged, stopped_by)
        })
    };
    wait_for("acknowledged appends before the kill", || {
        count.load(Ordering::SeqCst) >= before_kill || !running.load(Ordering::SeqCst)
    });
    assert!(
        running.load(Ordering::SeqCst),
        "the appender stopped early: {:?}",
        appender.join().unwrap().1
    );
    if cut_off {
        redis::cmd("REPLICAOF")
            .arg("127.0.0.1")
            .arg(free_port())
            .query::<()>(&mut replica.con())
            .unwrap();
        let at_cut = count.load(Ordering::SeqCst);
        wait_for("the appender to stop or 100 more appends", || {
            !running.load(Ordering::SeqCst) || count.load(Ordering::SeqCst) >= at_cut + 100
        });
    }
    primary.kill();
    let (acknowledged, stopped_by) = appender.join().unwrap();
    redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query::<()>(&mut replica.con())
        .unwrap();
    let promoted = RedisJournal::open_url(&format!("{}/0?prefix={prefix}", replica.url())).unwrap();
    let stored = promoted
        .get_sequence_range(1, u64::MAX)
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    Failover {
        acknowledged,
        stored,
        stopped_by,
    }
}

/// One replica must confirm each append, within a timeout generous enough
/// for a machine busy with other test binaries (a timeout is an error, not
/// a pass, so a longer one only slows the cut-off run's last append).
const WAIT_ONE: &str = "&min_replicas=1&replica_timeout_ms=3000";

#[test]
fn with_min_replicas_every_acknowledged_append_survives_the_primary_s_sigkill() {
    if skip::needs("redis", tools_on_path).is_none() {
        return;
    }
    let run = kill_primary_mid_appends(WAIT_ONE, 300, false);
    assert!(run.acknowledged.len() >= 300);
    let missing = run.missing();
    assert!(
        missing.is_empty(),
        "the promoted replica lacks {} of {} acknowledged appends, from {:?}",
        missing.len(),
        run.acknowledged.len(),
        &missing[..missing.len().min(10)]
    );
    eprintln!(
        "min_replicas=1, SIGKILL: {} acknowledged, all on the promoted replica ({} stored)",
        run.acknowledged.len(),
        run.stored.len()
    );
}

#[test]
fn with_min_replicas_a_replica_cut_off_before_the_kill_lacks_nothing_acknowledged() {
    if skip::needs("redis", tools_on_path).is_none() {
        return;
    }
    let run = kill_primary_mid_appends(WAIT_ONE, 200, true);
    let missing = run.missing();
    assert!(
        missing.is_empty(),
        "the promoted replica lacks {} of {} acknowledged appends, from {:?}",
        missing.len(),
        run.acknowledged.len(),
        &missing[..missing.len().min(10)]
    );
    // The append after the cut was applied on the primary but not
    // confirmed: an error that says so, not an acknowledgement.
    assert!(
        run.stopped_by.contains("may still exist"),
        "{}",
        run.stopped_by
    );
    eprintln!(
        "min_replicas=1, replica cut off, SIGKILL: {} acknowledged, all on the promoted \
         replica; the next append failed: {}",
        run.acknowledged.len(),
        run.stopped_by
    );
}

#[test]
fn without_min_replicas_the_appends_a_promoted_replica_lacks_are_reported() {
    if skip::needs("redis", tools_on_path).is_none() {
        return;
    }
    // Reported, not asserted: replication is asynchronous, and whether the
    // last acknowledged appends reached the replica before the kill is a
    // race (docs/REDIS.md records what was seen).
    for cut_off in [false, true] {
        let run = kill_primary_mid_appends("", 300, cut_off);
        assert!(run.acknowledged.len() >= 300);
        eprintln!(
            "without min_replicas, {}: {} acknowledged, {} missing on the promoted replica",
            if cut_off {
                "replica cut off, SIGKILL"
            } else {
                "SIGKILL"
            },
            run.acknowledged.len(),
            run.missing().len()
        );
    }
}
