//! `RedisJournal`: the journal on a Redis server, shared by any number of
//! processes on any number of machines. Layout, scripts, durability and
//! failure behaviour: docs/REDIS.md.
//!
//! Two layouts:
//! - [`RedisLayout::Native`] (the default): entries in a hash keyed by
//!   sequence, a sequence index and a time index, all written with the
//!   sequence assignment in one server-side script, so that a crash can
//!   leave neither a gap nor a duplicate; ranges and time windows read
//!   only what they return.
//! - [`RedisLayout::Baldur`]: the reference implementation's own keys
//!   (`baldur:journal:YYYY-MM` sorted sets of JSON members scored by
//!   sequence, the `baldur:journal:sequence` counter), so that Rust and
//!   Python services share one journal; appends are atomic here too.
//!
//! ```no_run
//! use baldur_journal::{EventJournal, JournalEntry, RedisJournal, Timestamp};
//!
//! # fn main() -> baldur_journal::Result<()> {
//! let journal = RedisJournal::open_url("redis://127.0.0.1:6379/0?prefix=payments&timeout_ms=2000")?;
//! let seq = journal.append(&JournalEntry::new("dlq_store", "api", Timestamp::now(), "payments"))?;
//! assert!(journal.get_latest_sequence()? >= seq);
//! # Ok(())
//! # }
//! ```

mod conn;
mod decode;
mod native;
mod reference;

use std::sync::atomic::Ordering;
use std::time::Duration;

pub use conn::BreakerOptions;

use crate::entry::{JournalEntry, JournalQueryFilter, JournalQueryResult};
use crate::error::{Error, Result};
use crate::filter::DEFAULT_MAX_QUERY_LIMIT;
use crate::journal::{EntryIter, EventJournal};
use conn::Pool;

/// The default key prefix of the native layout.
pub const DEFAULT_NATIVE_PREFIX: &str = "baldur-journal";
/// The reference's key prefix, the default of the baldur layout.
pub const DEFAULT_BALDUR_PREFIX: &str = "baldur:journal";

/// Which keys and values a [`RedisJournal`] reads and writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedisLayout {
    /// This crate's layout (docs/REDIS.md "Native layout").
    #[default]
    Native,
    /// The reference implementation's layout (docs/REDIS.md "Baldur
    /// layout"), shared with Python services running baldur-framework.
    Baldur,
}

/// Options of a [`RedisJournal`]; see [`RedisJournalBuilder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisJournalOptions {
    /// Key prefix; `None` takes the layout's default
    /// ([`DEFAULT_NATIVE_PREFIX`] or [`DEFAULT_BALDUR_PREFIX`]).
    pub prefix: Option<String>,
    /// The layout.
    pub layout: RedisLayout,
    /// How long connecting may take (default 2 s).
    pub connect_timeout: Duration,
    /// How long one command may wait for its reply (default 5 s).
    pub command_timeout: Duration,
    /// Cap on a query's limit (default 10,000).
    pub max_query_limit: usize,
    /// Retention (default `None`: nothing ever expires). Native layout:
    /// each append removes up to 100 entries whose event timestamp is older
    /// than now minus this. Baldur layout: a month's set gets this TTL when
    /// its first entry is written, as the reference does.
    pub retention: Option<Duration>,
    /// The fail-fast breaker (default off).
    pub breaker: Option<BreakerOptions>,
    /// Replicas that must confirm each append (`WAIT`) before it returns
    /// (default 0: no wait). docs/REDIS.md "More than one server".
    pub min_replicas: u32,
    /// How long an append waits for `min_replicas` (default 1 s); must be
    /// below `command_timeout`.
    pub replica_timeout: Duration,
}

impl Default for RedisJournalOptions {
    fn default() -> Self {
        RedisJournalOptions {
            prefix: None,
            layout: RedisLayout::Native,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
            max_query_limit: DEFAULT_MAX_QUERY_LIMIT,
            retention: None,
            breaker: None,
            min_replicas: 0,
            replica_timeout: Duration::from_secs(1),
        }
    }
}

/// Builds a [`RedisJournal`]: `RedisJournal::builder(url)...open()`.
#[derive(Clone, Debug)]
pub struct RedisJournalBuilder {
    url: String,
    options: RedisJournalOptions,
}

impl RedisJournalBuilder {
    /// Sets the key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.prefix = Some(prefix.into());
        self
    }
    /// Sets the layout.
    #[must_use]
    pub fn layout(mut self, layout: RedisLayout) -> Self {
        self.options.layout = layout;
        self
    }
    /// Sets the connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }
    /// Sets the command timeout.
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.options.command_timeout = timeout;
        self
    }
    /// Sets the cap on a query's limit.
    #[must_use]
    pub fn max_query_limit(mut self, limit: usize) -> Self {
        self.options.max_query_limit = limit;
        self
    }
    /// Sets the retention (see [`RedisJournalOptions::retention`]).
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.options.retention = Some(retention);
        self
    }
    /// Turns the fail-fast breaker on.
    #[must_use]
    pub fn breaker(mut self, breaker: BreakerOptions) -> Self {
        self.options.breaker = Some(breaker);
        self
    }

    /// Makes every append wait until `replicas` replicas confirm it
    /// (`WAIT replicas timeout`), or fail with
    /// [`Error::ReplicasMissing`] after `timeout`.
    #[must_use]
    pub fn min_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.options.min_replicas = replicas;
        self.options.replica_timeout = timeout;
        self
    }
    /// Replaces every option.
    #[must_use]
    pub fn options(mut self, options: RedisJournalOptions) -> Self {
        self.options = options;
        self
    }
    /// Connects (one `PING`, within the timeouts) and returns the journal.
    pub fn open(self) -> Result<RedisJournal> {
        RedisJournal::with_options(&self.url, self.options)
    }
}

/// An [`EventJournal`] on a Redis server (module docs, docs/REDIS.md).
///
/// Safe to share between threads; any number of processes may open the
/// same server and prefix and append concurrently.
pub struct RedisJournal {
    pool: Pool,
    options: RedisJournalOptions,
    prefix: String,
    /// Native layout: keys are `{prefix}:name` (hash-tagged, one cluster
    /// slot) rather than the untagged `prefix:name` of journals created
    /// before hash tags.
    tagged: bool,
}

impl std::fmt::Debug for RedisJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisJournal")
            .field("server", &self.pool.server)
            .field("prefix", &self.prefix)
            .field("layout", &self.options.layout)
            .finish()
    }
}

fn duration_ms(name: &str, value: &str) -> Result<Duration> {
    value
        .parse::<u64>()
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| Error::InvalidOption(format!("{name}={value:?}: expected milliseconds > 0")))
}

fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        Error::InvalidOption(format!("bad percent escape in {text:?}"))
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::InvalidOption(format!("{text:?} is not UTF-8")))
}

/// Parses `redis://[user:pass@]host[:port][/db][?params]` into the URL
/// the client connects to and the options its parameters set.
fn parse_url(url: &str) -> Result<(String, RedisJournalOptions)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    if !(base.starts_with("redis://")
        || base.starts_with("unix://")
        || base.starts_with(CLUSTER_SCHEME))
    {
        return Err(Error::InvalidOption(format!(
            "{:?} is not a Redis URL (redis://host:port/db?prefix=name or \
             redis+cluster://host:port,host:port/?prefix=name)",
            crate::error::redact(url)
        )));
    }
    let mut options = RedisJournalOptions::default();
    let mut breaker_failures = None;
    let mut breaker_recovery = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value)?;
        match name {
            "prefix" => {
                if value.is_empty() {
                    return Err(Error::InvalidOption("prefix= must not be empty".into()));
                }
                options.prefix = Some(value);
            }
            "layout" => {
                options.layout = match value.as_str() {
                    "native" => RedisLayout::Native,
                    "baldur" => RedisLayout::Baldur,
                    other => {
                        return Err(Error::InvalidOption(format!(
                            "layout={other:?}: expected native or baldur"
                        )));
                    }
                }
            }
            "timeout_ms" => options.command_timeout = duration_ms(name, &value)?,
            "connect_timeout_ms" => options.connect_timeout = duration_ms(name, &value)?,
            "max_query_limit" => {
                options.max_query_limit = value.parse().map_err(|_| {
                    Error::InvalidOption(format!("max_query_limit={value:?}: expected a count"))
                })?
            }
            "retention_s" => {
                let secs: u64 = value.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    Error::InvalidOption(format!("retention_s={value:?}: expected seconds > 0"))
                })?;
                options.retention = Some(Duration::from_secs(secs));
            }
            "breaker_failures" => {
                breaker_failures = Some(value.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(
                    || {
                        Error::InvalidOption(format!(
                            "breaker_failures={value:?}: expected a count > 0"
                        ))
                    },
                )?)
            }
            "breaker_recovery_ms" => breaker_recovery = Some(duration_ms(name, &value)?),
            "min_replicas" => {
                options.min_replicas = value.parse().map_err(|_| {
                    Error::InvalidOption(format!("min_replicas={value:?}: expected a count"))
                })?
            }
            "replica_timeout_ms" => options.replica_timeout = duration_ms(name, &value)?,
            other => {
                return Err(Error::InvalidOption(format!(
                    "unknown Redis URL parameter {other:?} (known: prefix, layout, timeout_ms, connect_timeout_ms, max_query_limit, retention_s, breaker_failures, breaker_recovery_ms, min_replicas, replica_timeout_ms)"
                )));
            }
        }
    }
    if breaker_failures.is_some() || breaker_recovery.is_some() {
        let default = BreakerOptions::default();
        options.breaker = Some(BreakerOptions {
            failures: breaker_failures.unwrap_or(default.failures),
            recovery: breaker_recovery.unwrap_or(default.recovery),
        });
    }
    Ok((base.to_string(), options))
}

/// The scheme of a Redis Cluster URL.
const CLUSTER_SCHEME: &str = "redis+cluster://";

/// The seed nodes of `redis+cluster://[user:pass@]h1:p1,h2:p2[/[0]]` as
/// `redis://[user:pass@]host:port` URLs, and the label for messages
/// (`cluster h1:p1,h2:p2`, no credentials).
fn cluster_nodes(base: &str) -> Result<(Vec<String>, String)> {
    let rest = &base[CLUSTER_SCHEME.len()..];
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !matches!(path, "" | "/" | "/0") {
        return Err(Error::InvalidOption(format!(
            "{}: a Redis Cluster has only database 0 (redis+cluster://host:port,host:port/?prefix=name)",
            crate::error::redact(base)
        )));
    }
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
        None => (String::new(), authority),
    };
    let mut nodes = Vec::new();
    for host in hosts.split(',') {
        let port_ok = host
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_ok());
        if host.is_empty() || !port_ok {
            return Err(Error::InvalidOption(format!(
                "{}: seed node {host:?} is not host[:port]",
                crate::error::redact(base)
            )));
        }
        nodes.push(format!("redis://{userinfo}{host}"));
    }
    Ok((nodes, format!("cluster {hosts}")))
}

/// `host:port/db` of a URL, without credentials, for messages.
fn server_label(base: &str) -> String {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    if rest.is_empty() {
        "127.0.0.1:6379".into()
    } else {
        rest.to_string()
    }
}

impl RedisJournal {
    /// Opens `redis://host:port/db?prefix=name[&layout=baldur][&timeout_ms=..]`.
    ///
    /// Parameters: `prefix`, `layout` (`native` or `baldur`), `timeout_ms`
    /// (command timeout), `connect_timeout_ms`, `max_query_limit`,
    /// `retention_s`, `breaker_failures` and `breaker_recovery_ms` (either
    /// turns the breaker on). Unknown parameters are an error.
    pub fn open_url(url: &str) -> Result<RedisJournal> {
        let (base, options) = parse_url(url)?;
        RedisJournal::with_options(&base, options)
    }

    /// A builder for the server at `url` (`redis://host:port/db`, no
    /// parameters) with default options.
    pub fn builder(url: impl Into<String>) -> RedisJournalBuilder {
        RedisJournalBuilder {
            url: url.into(),
            options: RedisJournalOptions::default(),
        }
    }

    /// Connects with the given options.
    pub fn with_options(url: &str, options: RedisJournalOptions) -> Result<RedisJournal> {
        if options.breaker.is_some_and(|b| b.failures == 0) {
            return Err(Error::InvalidOption(
                "breaker failures must be at least 1".into(),
            ));
        }
        if options.connect_timeout.is_zero() || options.command_timeout.is_zero() {
            return Err(Error::InvalidOption(
                "Redis timeouts must be above zero".into(),
            ));
        }
        if options.min_replicas > 0
            && (options.replica_timeout.is_zero()
                || options.replica_timeout >= options.command_timeout)
        {
            return Err(Error::InvalidOption(format!(
                "replica_timeout {:?} must be above zero and below the command timeout {:?} \
                 (the reply to WAIT comes after it)",
                options.replica_timeout, options.command_timeout
            )));
        }
        let cluster = url.starts_with(CLUSTER_SCHEME);
        if cluster && options.layout == RedisLayout::Baldur {
            return Err(Error::Unsupported(
                "layout=baldur on a Redis Cluster: the reference's key names (P:sequence, \
                 P:YYYY-MM) are fixed by the Python package and cannot share one hash slot; \
                 use one server (redis://) for the baldur layout, or the native layout on a \
                 cluster"
                    .into(),
            ));
        }
        let prefix = options.prefix.clone().unwrap_or_else(|| {
            match options.layout {
                RedisLayout::Native => DEFAULT_NATIVE_PREFIX,
                RedisLayout::Baldur => DEFAULT_BALDUR_PREFIX,
            }
            .to_string()
        });
        if cluster && prefix.is_empty() {
            return Err(Error::InvalidOption(
                "an empty prefix on a Redis Cluster: the hash tag {} would not keep the \
                 journal's keys in one slot"
                    .into(),
            ));
        }
        let pool = if cluster {
            let (nodes, label) = cluster_nodes(url)?;
            Pool::cluster(
                &nodes,
                label,
                options.connect_timeout,
                options.command_timeout,
                options.breaker,
            )?
        } else {
            Pool::new(
                url,
                server_label(url),
                options.connect_timeout,
                options.command_timeout,
                options.breaker,
            )?
        };
        let mut journal = RedisJournal {
            pool,
            options,
            prefix,
            tagged: true,
        };
        journal
            .pool
            .run("PING", false, |con| redis::cmd("PING").query::<String>(con))?;
        if journal.options.layout == RedisLayout::Native {
            journal.native_detect_keys()?;
        }
        Ok(journal)
    }

    /// The options in force.
    pub fn options(&self) -> &RedisJournalOptions {
        &self.options
    }

    /// The key prefix in force.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `host:port/db` of the server, or `cluster host:port,...` (no
    /// credentials).
    pub fn server(&self) -> &str {
        &self.pool.server
    }

    /// True when the journal is on a Redis Cluster (`redis+cluster://`).
    pub fn is_cluster(&self) -> bool {
        self.pool.is_cluster()
    }

    /// Native layout: true when the keys carry the hash tag
    /// (`{prefix}:entries`), false for a journal created before hash tags
    /// (`prefix:entries`), which is opened under its own names
    /// (docs/REDIS.md "Key names and migration").
    pub fn hash_tagged(&self) -> bool {
        self.tagged
    }

    /// Runs an append script (`EVALSHA`, loading it on `NOSCRIPT`) and,
    /// with `min_replicas`, `WAIT min_replicas replica_timeout` on the
    /// same connection in the same round trip (a pipeline, which a cluster
    /// connection sends to the node that owns the script's keys). Returns
    /// the script's reply; a write that fewer replicas confirmed is
    /// [`Error::ReplicasMissing`].
    pub(crate) fn write_script(
        &self,
        label: String,
        script: &redis::Script,
        keys: &[String],
        args: &[String],
    ) -> Result<Vec<String>> {
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha
            .arg(script.get_hash())
            .arg(keys.len())
            .arg(keys)
            .arg(args);
        #[cfg(not(feature = "break-redis-skip-wait"))]
        let replicas = self.options.min_replicas;
        #[cfg(feature = "break-redis-skip-wait")]
        let replicas = 0;
        let wait_ms = u64::try_from(self.options.replica_timeout.as_millis()).unwrap_or(u64::MAX);
        let mut packed = evalsha.get_packed_command();
        if replicas > 0 {
            packed.extend(
                redis::cmd("WAIT")
                    .arg(replicas)
                    .arg(wait_ms)
                    .get_packed_command(),
            );
        }
        let run = |con: &mut conn::Conn| -> redis::RedisResult<(Vec<String>, Option<u64>)> {
            use redis::ConnectionLike;
            if replicas == 0 {
                return Ok((evalsha.query(con)?, None));
            }
            let mut values = con.req_packed_commands(&packed, 0, 2)?.into_iter();
            let mut next = || {
                values.next().ok_or_else(|| {
                    redis::RedisError::from((redis::ErrorKind::Client, "missing pipeline reply"))
                })
            };
            let reply = next()?.extract_error()?;
            let acknowledged = next()?.extract_error()?;
            Ok((
                redis::from_redis_value(reply)?,
                Some(redis::from_redis_value(acknowledged)?),
            ))
        };
        let (reply, acknowledged) = self.pool.run(&label, true, |con| match run(con) {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                script.load(con)?;
                run(con)
            }
            other => other,
        })?;
        if let Some(acknowledged) = acknowledged
            && acknowledged < u64::from(replicas)
            && reply.first().map(String::as_str) == Some("ok")
        {
            return Err(Error::ReplicasMissing {
                server: self.pool.server.clone(),
                command: label,
                first_sequence: reply.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
                acknowledged,
                required: replicas,
                timeout: self.options.replica_timeout,
            });
        }
        Ok(reply)
    }

    /// Elements the server has returned to this handle's reads so far:
    /// entries (hash values or sorted-set members) and index members. Tests
    /// use it to show that a range or a time window reads only what it
    /// needs.
    pub fn elements_read(&self) -> u64 {
        self.pool.elements_read.load(Ordering::Relaxed)
    }

    /// True while the fail-fast breaker refuses calls.
    pub fn breaker_open(&self) -> bool {
        self.pool.breaker_open()
    }

    /// Deletes every key of this journal (its prefix and layout): for
    /// tests and for tearing down. Not part of [`EventJournal`], which is
    /// append-only.
    pub fn destroy(&self) -> Result<()> {
        match self.options.layout {
            RedisLayout::Native => self.native_destroy(),
            RedisLayout::Baldur => self.baldur_destroy(),
        }
    }
}

impl EventJournal for RedisJournal {
    fn append(&self, entry: &JournalEntry) -> Result<u64> {
        let first = self.append_many(native::Mode::Next, std::slice::from_ref(entry))?;
        first.ok_or_else(|| Error::Unsupported("unexpected conflict".into()))
    }

    fn append_batch(&self, entries: &[JournalEntry]) -> Result<Vec<u64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut sequences = Vec::with_capacity(entries.len());
        // One script call per chunk keeps each call's arguments bounded;
        // every chunk is atomic, and chunks follow each other.
        for chunk in entries.chunks(native::BATCH_CHUNK) {
            let first = self
                .append_many(native::Mode::Next, chunk)?
                .ok_or_else(|| Error::Unsupported("unexpected conflict".into()))?;
            sequences.extend((0..chunk.len() as u64).map(|i| first + i));
        }
        Ok(sequences)
    }

    fn append_at(&self, sequence: u64, entry: &JournalEntry) -> Result<()> {
        self.append_many(native::Mode::At(sequence), std::slice::from_ref(entry))?;
        Ok(())
    }

    fn append_batch_if_latest(
        &self,
        expected_latest: u64,
        entries: &[JournalEntry],
    ) -> Result<Option<Vec<u64>>> {
        if entries.is_empty() {
            return Ok((self.get_latest_sequence()? == expected_latest).then(Vec::new));
        }
        // One script call is atomic; several would not be.
        if entries.len() > native::BATCH_CHUNK {
            return Err(Error::InvalidOption(format!(
                "a conditional batch of {} entries: Redis takes at most {} in one atomic call",
                entries.len(),
                native::BATCH_CHUNK
            )));
        }
        let first = self.append_many(native::Mode::IfLatest(expected_latest), entries)?;
        Ok(first.map(|first| (0..entries.len() as u64).map(|i| first + i).collect()))
    }

    fn query(&self, filter: &JournalQueryFilter) -> Result<JournalQueryResult> {
        match self.options.layout {
            RedisLayout::Native => self.native_query(filter),
            RedisLayout::Baldur => self.baldur_query(filter),
        }
    }

    fn get_latest_sequence(&self) -> Result<u64> {
        match self.options.layout {
            RedisLayout::Native => self.native_latest(),
            RedisLayout::Baldur => self.baldur_latest(),
        }
    }

    fn count(&self, filter: &JournalQueryFilter) -> Result<u64> {
        match self.options.layout {
            RedisLayout::Native => self.native_count(filter),
            RedisLayout::Baldur => self.baldur_count(filter),
        }
    }

    fn range_iter(&self, start: u64, end: u64) -> Result<EntryIter<'_>> {
        match self.options.layout {
            RedisLayout::Native => self.native_range_iter(start, Some(end)),
            RedisLayout::Baldur => self.baldur_range_iter(start, end),
        }
    }

    /// The native layout reads to the end of its index, `u64::MAX`
    /// included; the baldur layout keeps no sequence above 2^53, so its
    /// half-open range to `u64::MAX` is every entry.
    fn range_iter_from(&self, start: u64) -> Result<EntryIter<'_>> {
        match self.options.layout {
            RedisLayout::Native => self.native_range_iter(start, None),
            RedisLayout::Baldur => self.baldur_range_iter(start, u64::MAX),
        }
    }

    /// A no-op: an acknowledged append is as durable as the server's
    /// `appendfsync` makes it (docs/REDIS.md), and there is nothing to wait
    /// for on this side.
    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

impl RedisJournal {
    fn append_many(&self, mode: native::Mode, entries: &[JournalEntry]) -> Result<Option<u64>> {
        match self.options.layout {
            RedisLayout::Native => self.native_append(mode, entries),
            RedisLayout::Baldur => self.baldur_append(mode, entries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_options() {
        let (base, o) = parse_url(
            "redis://u:secret@10.0.0.1:6380/3?prefix=a%3Ab&layout=baldur&timeout_ms=250&breaker_failures=3",
        )
        .unwrap();
        assert_eq!(base, "redis://u:secret@10.0.0.1:6380/3");
        assert_eq!(server_label(&base), "10.0.0.1:6380/3");
        assert_eq!(o.prefix.as_deref(), Some("a:b"));
        assert_eq!(o.layout, RedisLayout::Baldur);
        assert_eq!(o.command_timeout, Duration::from_millis(250));
        assert_eq!(
            o.breaker,
            Some(BreakerOptions {
                failures: 3,
                recovery: Duration::from_secs(30)
            })
        );
        assert!(parse_url("redis://h/0?layout=nope").is_err());
        assert!(parse_url("redis://h/0?prefx=a").is_err());
        assert!(parse_url("http://h/0").is_err());
        assert!(parse_url("redis://h/0?timeout_ms=0").is_err());
        let (_, o) = parse_url("redis://h/0?min_replicas=2&replica_timeout_ms=300").unwrap();
        assert_eq!(
            (o.min_replicas, o.replica_timeout),
            (2, Duration::from_millis(300))
        );
        assert!(parse_url("redis://h/0?min_replicas=x").is_err());
    }

    #[test]
    fn cluster_urls_name_their_seed_nodes() {
        let (base, o) =
            parse_url("redis+cluster://u:pw@10.0.0.1:7000,10.0.0.2:7001/?prefix=t1").unwrap();
        assert_eq!(o.prefix.as_deref(), Some("t1"));
        let (nodes, label) = cluster_nodes(&base).unwrap();
        assert_eq!(
            nodes,
            ["redis://u:pw@10.0.0.1:7000", "redis://u:pw@10.0.0.2:7001"]
        );
        assert_eq!(label, "cluster 10.0.0.1:7000,10.0.0.2:7001");
        assert_eq!(
            cluster_nodes("redis+cluster://h1:7000").unwrap().0,
            ["redis://h1:7000"]
        );
        for bad in [
            "redis+cluster://h1:7000/3",
            "redis+cluster://h1:7000,,h2:7001/",
            "redis+cluster://h1:x/",
        ] {
            let err = cluster_nodes(bad).unwrap_err().to_string();
            assert!(
                err.contains("database 0") || err.contains("seed node"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_cluster_refuses_the_baldur_layout_and_bad_replica_timeouts_before_connecting() {
        // Port 1 has no server: these fail on the options, not on connecting.
        let err = RedisJournal::open_url("redis+cluster://127.0.0.1:1/?layout=baldur")
            .unwrap_err()
            .to_string();
        assert!(err.contains("layout=baldur on a Redis Cluster"), "{err}");
        let err = RedisJournal::open_url(
            "redis://127.0.0.1:1/0?min_replicas=1&replica_timeout_ms=5000&timeout_ms=5000",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("replica_timeout"), "{err}");
    }
}
