//! The crate's one error type. Every variant carries the evidence a caller
//! needs to act: the file, the byte offset, what was expected and found.

use std::path::PathBuf;

/// Everything that can go wrong in the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error, with the file it happened on.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record, header or index whose checksum or structure does not hold.
    #[error("corrupt data in {path} at byte offset {offset}: {reason}")]
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset in that file where the damage starts.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A segment file is gone: the records of a sequence span that the
    /// digest chain (or an index left behind) proves existed cannot be read.
    #[error(
        "segment {path} is missing: sequences {first}..={last} cannot be read ({reason}); \
         a salvage open (the command line's --salvage) reads the rest"
    )]
    MissingSegment {
        /// The missing `.log` file (its name as the writer would have made it).
        path: PathBuf,
        /// First sequence it could hold.
        first: u64,
        /// Last sequence it could hold.
        last: u64,
        /// How the loss was found.
        reason: String,
    },
    /// A read needed a segment that a retention drop removed while the
    /// read was under way (or after the handle last looked).
    #[error(
        "segment {path} was dropped by retention while this read was under way; \
         the journal now starts at its retention mark: read again from there"
    )]
    DroppedByRetention {
        /// The dropped `.log` file.
        path: PathBuf,
    },
    /// A stored checksum does not match the bytes it covers.
    #[error(
        "checksum mismatch in {path} at byte offset {offset}: stored {expected:#010x}, computed {actual:#010x}"
    )]
    ChecksumMismatch {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the record whose checksum failed.
        offset: u64,
        /// The checksum stored in the file.
        expected: u32,
        /// The checksum computed over the bytes.
        actual: u32,
    },
    /// Another process holds the writer lock of this journal.
    #[error(
        "journal {path} is locked by another writer process (open it read-only, or stop the other writer)"
    )]
    Locked {
        /// The journal directory.
        path: PathBuf,
    },
    /// The directory is not a journal (and creation was not asked for).
    #[error("{path} is not a baldur journal: {reason}")]
    NotAJournal {
        /// The directory.
        path: PathBuf,
        /// What was missing or wrong.
        reason: String,
    },
    /// The files were written by a newer format version than this build reads.
    #[error(
        "{path} has format version {found}, newer than the {supported} this build reads; upgrade baldur-journal"
    )]
    UnsupportedVersion {
        /// The file carrying the version.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A record larger than the configured maximum.
    #[error("record of {size} bytes exceeds the maximum record size of {max} bytes")]
    RecordTooLarge {
        /// Encoded size of the record.
        size: u64,
        /// The configured maximum.
        max: u64,
    },
    /// An explicit sequence that does not exceed the latest one.
    #[error("sequence {sequence} does not exceed the latest sequence {latest}")]
    NonMonotonic {
        /// The sequence asked for.
        sequence: u64,
        /// The journal's latest sequence.
        latest: u64,
    },
    /// Sequences are exhausted: the next one would exceed `u64::MAX`.
    #[error("no sequence is left after {latest} (the largest is u64::MAX)")]
    SequenceOverflow {
        /// The journal's latest sequence.
        latest: u64,
    },
    /// A conditional append found the journal's latest sequence moved: another
    /// writer appended since the caller last looked. Nothing was appended.
    #[error("the latest sequence is {latest}, not the {expected} the conditional append expected")]
    LatestMoved {
        /// The latest sequence the caller expected.
        expected: u64,
        /// The journal's latest sequence.
        latest: u64,
    },
    /// The backend cannot do what was asked (for example a conditional
    /// append on a backend without one).
    #[error("unsupported by this backend: {0}")]
    Unsupported(String),
    /// A timestamp the format cannot store or the input cannot be read as.
    #[error("invalid timestamp {input:?}: {reason}")]
    InvalidTimestamp {
        /// The offending text or value.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// An entry that cannot be stored (bad context JSON, for example).
    #[error("invalid entry: {0}")]
    InvalidEntry(String),
    /// A query filter that is not well formed.
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// An option outside its allowed range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The write queue stayed full for the whole timeout.
    #[error("the write queue stayed full for {0:?}")]
    QueueTimeout(std::time::Duration),
    /// The journal was opened read-only and a write was attempted.
    #[error("the journal is open read-only")]
    ReadOnly,
    /// The journal is closed (or closing) and takes no more writes.
    #[error("the journal is closed")]
    Closed,
    /// An earlier fsync or write failure, or a writer panic, poisoned the
    /// journal: nothing more is acknowledged until it is reopened.
    #[error("the journal refuses writes after an earlier failure ({0}); reopen it to recover")]
    Poisoned(String),
    /// A Redis command failed: the server could not be reached, did not
    /// answer within the timeout, or replied with an error.
    #[error("Redis server {server}: {command} failed: {reason}")]
    Redis {
        /// `host:port/db` of the server.
        server: String,
        /// The command (or script) that failed.
        command: String,
        /// What went wrong.
        reason: String,
    },
    /// An append that had to be confirmed by `min_replicas` Redis replicas
    /// (`WAIT`) was applied on the primary, but fewer replicas confirmed
    /// it within the timeout. The entry may still exist (it is on the
    /// primary, and on the replicas that confirmed it), and a failover may
    /// keep it or lose it.
    #[error(
        "Redis server {server}: {command}: applied on the primary (sequence {first_sequence} \
         onwards) but only {acknowledged} of {required} replicas confirmed it within \
         {timeout:?}; the entry may still exist (read the latest sequence to find out) and a \
         failover may lose it"
    )]
    ReplicasMissing {
        /// `host:port/db` of the server, or `cluster host:port,...`.
        server: String,
        /// The command (or script) that was applied.
        command: String,
        /// The first sequence the append was given.
        first_sequence: u64,
        /// Replicas that confirmed it.
        acknowledged: u64,
        /// Replicas asked for (`min_replicas`).
        required: u32,
        /// How long the append waited (`replica_timeout`).
        timeout: std::time::Duration,
    },
    /// The fail-fast breaker is open after consecutive failures: the call
    /// was not sent to the server.
    #[error(
        "Redis server {server} is treated as down after {failures} consecutive failures: {command} not sent; next trial in {retry_in:?}"
    )]
    RedisUnavailable {
        /// `host:port/db` of the server.
        server: String,
        /// The command that was refused.
        command: String,
        /// Consecutive failures seen.
        failures: u32,
        /// Time left before a trial call is let through.
        retry_in: std::time::Duration,
    },
    /// A SQL statement failed: the database could not be opened, refused
    /// the statement, or stayed locked by another writer beyond the busy
    /// timeout.
    #[error("SQL database {database}: {operation} failed: {reason}")]
    Sql {
        /// The database (a file path, or a server without credentials).
        database: String,
        /// What was being done.
        operation: String,
        /// What went wrong.
        reason: String,
    },
    /// A row in a SQL table that is not what the reference writes there.
    #[error("SQL database {database}: unreadable {row} in {table}: {reason}")]
    SqlData {
        /// The database (a file path, or a server without credentials).
        database: String,
        /// The table holding the row.
        table: String,
        /// Which row (`sequence N`, `id N`).
        row: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A value stored in Redis that is not what this layout writes.
    #[error("Redis server {server}: unreadable value in key {key}: {reason}")]
    RedisData {
        /// `host:port/db` of the server.
        server: String,
        /// The key holding the value.
        key: String,
        /// What was wrong (with the start of the value).
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corruption(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corruption {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// True when the error reports damaged bytes on disk.
    #[must_use]
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::Corruption { .. }
                | Error::ChecksumMismatch { .. }
                | Error::MissingSegment { .. }
        )
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `url` with any password replaced by `***`: how every error and
/// message names a URL (the journal URLs of `url`, Redis, SQL).
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}
