//! What waiting for replicas costs an append (docs/REDIS.md "More than one
//! server"): appends to the Redis journal (native layout) on `redis-server`s
//! of its own on loopback, in four deployments measured in the same run:
//!
//! - `plain`: one server, no persistence (`appendonly no`, `save ""`): the
//!   append returns once the script ran in memory;
//! - `appendfsync always`: one server that writes and `fsync`s its AOF
//!   before replying;
//! - `min_replicas=1`: a primary and a replica (no persistence), every
//!   append followed by `WAIT 1 1000` in the same round trip;
//! - `min_replicas=1 + always`: the same with `appendfsync always` on both.
//!
//! Each runs 200 appends to warm up, 2,000 appends from one thread, then
//! 2,000 from 8 threads; the four deployments take turns for 3 rounds and
//! the table shows each one's median.
//!
//! ```sh
//! cargo run --release --example redis_replicas      # needs redis-server on PATH
//! ```

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baldur_journal::{Context, EventJournal, JournalEntry, RedisJournal, Timestamp};

const SINGLE: usize = 2_000;
const THREADS: usize = 8;
const ROUNDS: usize = 3;

fn entry(i: usize) -> JournalEntry {
    JournalEntry::new(
        "dlq_store",
        "bench",
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + i as i64),
        "payments",
    )
    .with_context(
        Context::from_json(&format!(
            r#"{{"entry_id":"dlq-{i:08}","failure_type":"timeout","attempt":3,"domain":"payments","payload":"{}"}}"#,
            "x".repeat(60)
        ))
        .unwrap(),
    )
    .with_region("eu-west-1")
}

/// A server of our own, killed on drop.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[String]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--daemonize", "no", "--dir"])
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start redis-server (is it on PATH?)");
        let server = Server {
            child,
            port,
            _dir: dir,
        };
        server.wait_until(|info| info.contains("loading:0"));
        server
    }

    fn info(&self) -> Option<String> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.port)).ok()?;
        let mut con = client
            .get_connection_with_timeout(Duration::from_secs(1))
            .ok()?;
        redis::cmd("INFO").query(&mut con).ok()
    }

    fn wait_until(&self, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.info().is_some_and(|i| done(&i)) {
            assert!(Instant::now() < deadline, "server {} not ready", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aof(always: bool) -> Vec<String> {
    if always {
        ["--appendonly", "yes", "--appendfsync", "always"]
    } else {
        ["--appendonly", "no", "--appendfsync", "no"]
    }
    .map(String::from)
    .to_vec()
}

/// Appends per second from one thread and from `THREADS`.
fn measure(url: &str) -> (f64, f64) {
    let j = Arc::new(RedisJournal::open_url(url).unwrap());
    for i in 0..200 {
        j.append(&entry(i)).unwrap();
    }
    let t = Instant::now();
    for i in 0..SINGLE {
        j.append(&entry(i)).unwrap();
    }
    let single = SINGLE as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|w| {
            let j = j.clone();
            std::thread::spawn(move || {
                for i in 0..SINGLE / THREADS {
                    j.append(&entry(w * SINGLE + i)).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let concurrent = SINGLE as f64 / t.elapsed().as_secs_f64();
    (single, concurrent)
}

fn run(replica: bool, always: bool) -> (f64, f64) {
    let primary = Server::start(&aof(always));
    let _replica = replica.then(|| {
        let mut extra = aof(always);
        extra.extend([
            "--replicaof".into(),
            "127.0.0.1".into(),
            primary.port.to_string(),
        ]);
        let r = Server::start(&extra);
        r.wait_until(|i| i.contains("master_link_status:up"));
        r
    });
    let wait = if replica {
        "&min_replicas=1&replica_timeout_ms=1000"
    } else {
        ""
    };
    measure(&format!(
        "redis://127.0.0.1:{}/0?prefix=bench{wait}",
        primary.port
    ))
}

fn main() {
    let rows = [
        ("plain (no persistence)", false, false),
        ("appendfsync always", false, true),
        ("min_replicas=1", true, false),
        ("min_replicas=1 + always", true, true),
    ];
    let mut samples = vec![Vec::new(); rows.len()];
    for _ in 0..ROUNDS {
        for (i, &(_, replica, always)) in rows.iter().enumerate() {
            samples[i].push(run(replica, always));
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let results: Vec<(f64, f64)> = samples
        .into_iter()
        .map(|s| {
            (
                median(s.iter().map(|r| r.0).collect()),
                median(s.iter().map(|r| r.1).collect()),
            )
        })
        .collect();
    let (base1, base8) = results[0];
    println!("| deployment | append, 1 thread | append, {THREADS} threads |");
    println!("| --- | --- | --- |");
    for ((name, _, _), (one, many)) in rows.iter().zip(&results) {
        println!(
            "| {name} | {one:.0}/s ({:.2}x) | {many:.0}/s ({:.2}x) |",
            one / base1,
            many / base8
        );
    }
}
