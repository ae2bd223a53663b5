//! Each statistics read through `SqlStatistics` next to the reference's
//! Python `SQLStatisticsRepository` on the same SQLite file, in one run:
//! the reference writes the generated history of
//! tests/python/baldur_sql_stats.py (3,000 entries, seed 7), then each
//! side times each read at the same "now" (mean of 200 calls, after one
//! warm-up call). Needs the reference in a virtual environment
//! (`BALDUR_PYTHON`, else `/tmp/baldur-venv/bin/python`).
//!
//! With `--postgres`, the same on a throwaway PostgreSQL server
//! (tests/pg_common: Debian's `postgresql`; the reference connects
//! through `psycopg2`, our side through the `postgres` crate).
//!
//! ```sh
//! cargo run --release --example sql_stats_reads
//! cargo run --release --example sql_stats_reads -- --postgres
//! ```

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use baldur_journal::projection::{EntryListQuery, ManualClock, StatisticsRepository};
use baldur_journal::{SqlStatistics, Timestamp};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/baldur_sql_stats.py"
);
const NOW: &str = "2025-04-15T12:00:00+00:00";
const REPS: u32 = 200;

/// A named read to time.
type Read<'a> = (&'static str, Box<dyn Fn() + 'a>);

fn main() {
    let python =
        std::env::var("BALDUR_PYTHON").unwrap_or_else(|_| "/tmp/baldur-venv/bin/python".into());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dlq.db");
    let server = if std::env::args().any(|a| a == "--postgres") {
        Some(baldur_test_support::pg_common::Server::start().expect("PostgreSQL to start"))
    } else {
        None
    };
    // The reference's target (a path or a URL), and ours (a URL).
    let (db_text, url) = match &server {
        Some(server) => (server.url.clone(), server.url.clone()),
        None => (
            db.to_str().unwrap().to_string(),
            format!("sqlite:///{}", db.display()),
        ),
    };
    let db_text = db_text.as_str();
    let run = |args: &[&str]| {
        let out = Command::new(&python)
            .arg(SCRIPT)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&[db_text, "generate", "7", "3000"]);
    let theirs: serde_json::Value =
        serde_json::from_str(run(&[db_text, "time", NOW, &REPS.to_string()]).trim()).unwrap();
    let stats = SqlStatistics::open_url_with(&url, true)
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(Timestamp::parse(NOW).unwrap())));
    let page = EntryListQuery {
        page: 3,
        ..Default::default()
    };
    let reads: Vec<Read<'_>> = vec![
        (
            "get_status_counts",
            Box::new(|| {
                std::hint::black_box(stats.get_status_counts().unwrap());
            }),
        ),
        (
            "get_domain_distribution",
            Box::new(|| {
                std::hint::black_box(stats.get_domain_distribution(10).unwrap());
            }),
        ),
        (
            "get_failure_type_distribution",
            Box::new(|| {
                std::hint::black_box(stats.get_failure_type_distribution(10).unwrap());
            }),
        ),
        (
            "get_recent_activity",
            Box::new(|| {
                std::hint::black_box(stats.get_recent_activity(24, 7).unwrap());
            }),
        ),
        (
            "get_resolution_rate",
            Box::new(|| {
                std::hint::black_box(stats.get_resolution_rate(30).unwrap());
            }),
        ),
        (
            "get_avg_retry_count",
            Box::new(|| {
                std::hint::black_box(stats.get_avg_retry_count().unwrap());
            }),
        ),
        (
            "list_entries",
            Box::new(|| {
                std::hint::black_box(stats.list_entries(&page).unwrap());
            }),
        ),
        (
            "get_entry_detail",
            Box::new(|| {
                std::hint::black_box(stats.get_entry_detail("250").unwrap());
            }),
        ),
        (
            "get_sla_breaches",
            Box::new(|| {
                std::hint::black_box(stats.get_sla_breaches(4, None).unwrap());
            }),
        ),
        (
            "get_cleanup_stats",
            Box::new(|| {
                std::hint::black_box(stats.get_cleanup_stats().unwrap());
            }),
        ),
    ];
    println!(
        "{:<32} {:>12} {:>12} {:>8}",
        "read", "ours µs", "reference µs", "ratio"
    );
    for (name, read) in &reads {
        read();
        let t = Instant::now();
        for _ in 0..REPS {
            read();
        }
        let ours = t.elapsed().as_secs_f64() * 1e6 / f64::from(REPS);
        let reference = theirs[*name].as_f64().unwrap();
        println!(
            "{name:<32} {ours:>12.1} {reference:>12.1} {:>7.2}x",
            reference / ours
        );
    }
}
