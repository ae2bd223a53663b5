//! Connections to one Redis server or one Redis Cluster: a small pool of
//! synchronous connections (a cluster connection reaches every primary and
//! follows `MOVED`/`ASK` redirections itself) with connect and command
//! timeouts, the optional fail-fast breaker, and the mapping of the
//! client's errors to ours.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Idle connections kept for reuse; more may be open while busy.
const MAX_IDLE: usize = 16;

/// Settings of the fail-fast breaker: after `failures` consecutive failed
/// calls (connection refused, reset, timed out) every call fails at once
/// with [`Error::RedisUnavailable`] for `recovery`; then one trial call
/// goes to the server, and its success closes the breaker while its
/// failure opens it for another `recovery`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerOptions {
    /// Consecutive failures that open the breaker (at least 1).
    pub failures: u32,
    /// How long the breaker stays open before a trial call.
    pub recovery: Duration,
}

impl Default for BreakerOptions {
    /// The reference subscriber's values: 5 failures, 30 seconds.
    fn default() -> Self {
        BreakerOptions {
            failures: 5,
            recovery: Duration::from_secs(30),
        }
    }
}

#[derive(Default)]
struct BreakerState {
    consecutive: u32,
    open_until: Option<Instant>,
    trial_running: bool,
}

/// What a pool connects to.
enum Target {
    /// One server.
    Single(redis::Client),
    /// A Redis Cluster, reached through its seed nodes.
    Cluster(redis::cluster::ClusterClient),
}

/// A connection to one server, or to a cluster (routing each command by
/// its keys' slot).
pub(crate) enum Conn {
    /// One server.
    Single(redis::Connection),
    /// A cluster.
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl redis::ConnectionLike for Conn {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }
    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }
    fn req_command(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<redis::Value> {
        match self {
            Conn::Single(c) => c.req_command(cmd),
            Conn::Cluster(c) => c.req_command(cmd),
        }
    }
    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
    fn supports_pipelining(&self) -> bool {
        match self {
            Conn::Single(c) => c.supports_pipelining(),
            Conn::Cluster(c) => c.supports_pipelining(),
        }
    }
    fn check_connection(&mut self) -> bool {
        match self {
            Conn::Single(c) => c.check_connection(),
            Conn::Cluster(c) => redis::ConnectionLike::check_connection(c.as_mut()),
        }
    }
    fn is_open(&self) -> bool {
        match self {
            Conn::Single(c) => c.is_open(),
            Conn::Cluster(c) => c.is_open(),
        }
    }
}

pub(crate) struct Pool {
    client: Target,
    /// `host:port/db`, for error messages.
    pub(crate) server: String,
    connect_timeout: Duration,
    command_timeout: Duration,
    idle: Mutex<Vec<Conn>>,
    breaker: Option<BreakerOptions>,
    state: Mutex<BreakerState>,
    /// Elements (entries, members) the server returned to reads.
    pub(crate) elements_read: AtomicU64,
}

/// The outcome of a call, told to the breaker.
enum Outcome {
    Success,
    Failure,
}

impl Pool {
    pub(crate) fn new(
        url: &str,
        server: String,
        connect_timeout: Duration,
        command_timeout: Duration,
        breaker: Option<BreakerOptions>,
    ) -> Result<Pool> {
        let client = Target::Single(
            redis::Client::open(url)
                .map_err(|e| Error::InvalidOption(format!("Redis URL for {server}: {e}")))?,
        );
        Ok(Pool::with_target(
            client,
            server,
            connect_timeout,
            command_timeout,
            breaker,
        ))
    }

    /// A pool on the cluster that `nodes` (`redis://[user:pass@]host:port`
    /// URLs of seed nodes) belong to.
    pub(crate) fn cluster(
        nodes: &[String],
        server: String,
        connect_timeout: Duration,
        command_timeout: Duration,
        breaker: Option<BreakerOptions>,
    ) -> Result<Pool> {
        let client = redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(connect_timeout)
            .response_timeout(command_timeout)
            .build()
            .map_err(|e| Error::InvalidOption(format!("Redis Cluster URL for {server}: {e}")))?;
        Ok(Pool::with_target(
            Target::Cluster(client),
            server,
            connect_timeout,
            command_timeout,
            breaker,
        ))
    }

    fn with_target(
        client: Target,
        server: String,
        connect_timeout: Duration,
        command_timeout: Duration,
        breaker: Option<BreakerOptions>,
    ) -> Pool {
        Pool {
            client,
            server,
            connect_timeout,
            command_timeout,
            idle: Mutex::new(Vec::new()),
            breaker,
            state: Mutex::new(BreakerState::default()),
            elements_read: AtomicU64::new(0),
        }
    }

    /// True when the pool reaches a cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.client, Target::Cluster(_))
    }

    pub(crate) fn count_read(&self, elements: usize) {
        self.elements_read
            .fetch_add(elements as u64, Ordering::Relaxed);
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses the call while the breaker is open; lets one trial through
    /// once the recovery period has passed.
    fn admit(&self, command: &str) -> Result<()> {
        let Some(options) = self.breaker else {
            return Ok(());
        };
        let mut state = self.lock_state();
        let Some(until) = state.open_until else {
            return Ok(());
        };
        let now = Instant::now();
        if now < until || state.trial_running {
            return Err(Error::RedisUnavailable {
                server: self.server.clone(),
                command: command.to_string(),
                failures: state.consecutive.max(options.failures),
                retry_in: until.saturating_duration_since(now),
            });
        }
        state.trial_running = true;
        Ok(())
    }

    fn record(&self, outcome: Outcome) {
        let Some(options) = self.breaker else {
            return;
        };
        let mut state = self.lock_state();
        let was_trial = std::mem::take(&mut state.trial_running);
        match outcome {
            Outcome::Success => *state = BreakerState::default(),
            Outcome::Failure => {
                state.consecutive = state.consecutive.saturating_add(1);
                if was_trial || state.consecutive >= options.failures {
                    state.open_until = Some(Instant::now() + options.recovery);
                }
            }
        }
    }

    /// True while the breaker refuses calls (open and not yet due for a
    /// trial).
    pub(crate) fn breaker_open(&self) -> bool {
        self.lock_state()
            .open_until
            .is_some_and(|until| Instant::now() < until)
    }

    fn connect(&self) -> redis::RedisResult<Conn> {
        if let Some(con) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(con);
        }
        match &self.client {
            Target::Single(client) => {
                let con = client.get_connection_with_timeout(self.connect_timeout)?;
                con.set_read_timeout(Some(self.command_timeout))?;
                con.set_write_timeout(Some(self.command_timeout))?;
                Ok(Conn::Single(con))
            }
            Target::Cluster(client) => {
                let con = client.get_connection()?;
                con.set_read_timeout(Some(self.command_timeout))?;
                con.set_write_timeout(Some(self.command_timeout))?;
                Ok(Conn::Cluster(Box::new(con)))
            }
        }
    }

    /// Runs `f` on a pooled connection. Transport failures (refused,
    /// reset, timed out) count towards the breaker and drop the
    /// connection; a server's error reply counts as a success of the
    /// transport. `command` names what was sent, for the error message;
    /// `writes` adds that the outcome of a write that timed out is unknown.
    pub(crate) fn run<T>(
        &self,
        command: &str,
        writes: bool,
        f: impl FnOnce(&mut Conn) -> redis::RedisResult<T>,
    ) -> Result<T> {
        self.admit(command)?;
        let mut con = match self.connect() {
            Ok(con) => con,
            Err(e) => {
                self.record(Outcome::Failure);
                return Err(self.error(command, false, &e, true));
            }
        };
        match f(&mut con) {
            Ok(value) => {
                self.record(Outcome::Success);
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(con);
                }
                Ok(value)
            }
            Err(e) => {
                let transport = is_transport(&e);
                if transport {
                    self.record(Outcome::Failure);
                } else {
                    self.record(Outcome::Success);
                    let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                    if idle.len() < MAX_IDLE {
                        idle.push(con);
                    }
                }
                Err(self.error(command, writes && transport, &e, false))
            }
        }
    }

    fn error(
        &self,
        command: &str,
        unknown: bool,
        e: &redis::RedisError,
        connecting: bool,
    ) -> Error {
        let mut reason = if e.is_timeout() {
            if connecting {
                format!(
                    "no connection within the connect timeout {:?}",
                    self.connect_timeout
                )
            } else {
                format!(
                    "no reply within the command timeout {:?}",
                    self.command_timeout
                )
            }
        } else if connecting {
            format!("cannot connect: {e}")
        } else {
            e.to_string()
        };
        if unknown {
            reason.push_str(
                "; the write may or may not have been applied (read the latest sequence to find out)",
            );
        }
        Error::Redis {
            server: self.server.clone(),
            command: command.to_string(),
            reason,
        }
    }
}

/// Failures of the connection rather than replies of the server.
fn is_transport(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
}
