//! The SQLite peer of `bench query`: the same records in the reference's
//! SQL journal table (its schema and three indexes, plus an index on
//! `region`, which the reference lacks), in WAL mode, built in the bench's
//! scratch directory.

use std::path::Path;

use rusqlite::{Connection, params};

use super::read::{CONTEXT_ENTRY, QueryCase, WINDOW_MS, event_time, window_start};
use super::sqlite_table::{
    SQLITE_COLUMNS, SQLITE_INSERT, SQLITE_REGION_INDEX, SQLITE_SCHEMA, sqlite_timestamp,
};
use super::*;

/// A SQLite database holding the bench's records.
pub struct Peer {
    conn: Connection,
}

impl Peer {
    /// Writes the records of `bench` (the journal's, one by one the same)
    /// in transactions of 10,000 rows, then checkpoints and analyses.
    pub fn build(path: &Path, bench: &ReadBench) -> Result<Self> {
        let mut conn = Connection::open(path).context("cannot create the SQLite peer")?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        conn.execute_batch(SQLITE_REGION_INDEX)?;
        let mut i = 0;
        while i < bench.events {
            let end = (i + 10_000).min(bench.events);
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(SQLITE_INSERT)?;
                for n in i..end {
                    let e = record(n, bench.record.record_bytes)?;
                    insert.execute(params![
                        e.event_type,
                        e.source,
                        e.service_name,
                        e.region,
                        e.tier_id,
                        sqlite_timestamp(e.timestamp),
                        e.context.as_str(),
                    ])?;
                }
            }
            tx.commit()?;
            i = end;
        }
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
        Ok(Peer { conn })
    }

    /// The case's WHERE clause and its parameters.
    fn condition(&self, case: &QueryCase, n: u64) -> (&'static str, Vec<String>) {
        match case.kind {
            QueryKind::Type => ("event_type = ?1", vec![EVENT_TYPES[0].into()]),
            QueryKind::Service => ("service_name = ?1", vec!["service-00".into()]),
            QueryKind::Region => ("region = ?1", vec!["region-0".into()]),
            // The reference's table has no append time: the same rows by
            // its timestamp index (the bench's append times follow the
            // event times one for one).
            QueryKind::Window | QueryKind::Appended => (
                "timestamp >= ?1 AND timestamp < ?2",
                vec![
                    sqlite_timestamp(event_time(window_start(n))),
                    sqlite_timestamp(event_time(window_start(n) + WINDOW_MS)),
                ],
            ),
            QueryKind::Context => (
                "json_extract(context, '$.entry_id') = ?1",
                vec![format!("dlq-{CONTEXT_ENTRY:05}")],
            ),
        }
    }

    /// Median seconds of the count, and of the count plus the first 1,000
    /// rows in sequence order (read into owned values), checking both
    /// against `matches`.
    pub fn time(&self, case: &QueryCase, n: u64, matches: u64) -> Result<(f64, f64)> {
        let (condition, values) = self.condition(case, n);
        let params = rusqlite::params_from_iter(values.iter());
        let count_sql = format!("SELECT COUNT(*) FROM baldur_event_journal WHERE {condition}");
        let select_sql = format!(
            "SELECT {SQLITE_COLUMNS} FROM baldur_event_journal WHERE {condition} \
             ORDER BY sequence LIMIT 1000"
        );
        let count = || -> Result<u64> {
            let mut statement = self.conn.prepare_cached(&count_sql)?;
            let count: i64 = statement.query_row(params.clone(), |r| r.get(0))?;
            Ok(u64::try_from(count)?)
        };
        let count_seconds = median_time(5, || {
            let got = count()?;
            if got != matches {
                bail!("SQLite counted {got} where {matches} records match");
            }
            Ok(())
        })?;
        let query_seconds = median_time(5, || {
            let total = count()?;
            let mut statement = self.conn.prepare_cached(&select_sql)?;
            let rows = statement
                .query_map(params.clone(), |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if total != matches || rows.len() as u64 != matches.min(1000) {
                bail!(
                    "SQLite returned {} of {total} where {matches} match",
                    rows.len()
                );
            }
            Ok(())
        })?;
        Ok((count_seconds, query_seconds))
    }
}
