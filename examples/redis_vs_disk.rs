//! Append and range-read throughput of the Redis journal (native layout)
//! next to the disk engine's, on the same machine, both acknowledging only
//! durable appends: a `redis-server` of its own with `appendonly yes`,
//! `appendfsync always`, and `DiskJournal` with `Durability::Always`, both
//! in temporary directories on the same file system.
//!
//! ```sh
//! cargo run --release --example redis_vs_disk            # needs redis-server on PATH
//! BALDUR_REDIS_URL=redis://host:6379/0 cargo run --release --example redis_vs_disk
//! ```

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baldur_journal::{Context, DiskJournal, EventJournal, JournalEntry, RedisJournal, Timestamp};

const SINGLE: usize = 2_000;
const THREADS: usize = 8;
const BATCHES: usize = 500;
const BATCH: usize = 100;

fn entry(i: usize) -> JournalEntry {
    JournalEntry::new("dlq_store", "bench", Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + i as i64), "payments")
        .with_context(
            Context::from_json(&format!(
                r#"{{"entry_id":"dlq-{i:08}","failure_type":"timeout","attempt":3,"domain":"payments","payload":"{}"}}"#,
                "x".repeat(60)
            ))
            .unwrap(),
        )
        .with_region("eu-west-1")
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:>10.0}/s", n as f64 / d.as_secs_f64())
}

fn measure(name: &str, j: Arc<dyn EventJournal>) {
    let t = Instant::now();
    for i in 0..SINGLE {
        j.append(&entry(i)).unwrap();
    }
    let single = t.elapsed();
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
    let concurrent = t.elapsed();
    let batch: Vec<_> = (0..BATCH).map(entry).collect();
    let t = Instant::now();
    for _ in 0..BATCHES {
        j.append_batch(&batch).unwrap();
    }
    let batched = t.elapsed();
    let latest = j.get_latest_sequence().unwrap();
    let t = Instant::now();
    let mut read = 0usize;
    for e in j.range_iter(1, latest + 1).unwrap() {
        read += e.unwrap().context.as_str().len().min(1);
    }
    let ranged = t.elapsed();
    println!(
        "{name:<8} append 1 thread {}   append {THREADS} threads {}   batches of {BATCH} {}   range read {} ({read} entries)",
        rate(SINGLE, single),
        rate(SINGLE / THREADS * THREADS, concurrent),
        rate(BATCHES * BATCH, batched),
        rate(read, ranged),
    );
}

struct Own(Child);

impl Drop for Own {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _server) = match std::env::var("BALDUR_REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--appendonly",
                    "yes",
                ])
                .args(["--appendfsync", "always", "--save", "", "--dir"])
                .arg(dir.path())
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server is not on PATH (or set BALDUR_REDIS_URL)");
            let own = Own(child);
            let url = format!("redis://127.0.0.1:{port}/0");
            let deadline = Instant::now() + Duration::from_secs(20);
            while RedisJournal::open_url(&url).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            (url, Some(own))
        }
    };
    let prefix = format!("bench-{}", std::process::id());
    let redis = RedisJournal::builder(url).prefix(prefix).open().unwrap();
    measure("redis", Arc::new(redis));
    let disk = DiskJournal::open(dir.path().join("disk")).unwrap();
    measure("disk", Arc::new(disk));
}
