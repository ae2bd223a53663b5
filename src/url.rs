//! Opening any backend by URL: `file:///path` or a bare path (the disk
//! journal), `memory:` (an empty in-memory journal), and
//! `redis://host:port/db?prefix=name[&layout=baldur]` (the Redis journal,
//! docs/REDIS.md; with the `redis` feature).
//!
//! ```
//! use baldur_journal::{EventJournal, JournalUrl};
//!
//! # fn main() -> baldur_journal::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("file://{}", dir.path().display());
//! let journal = baldur_journal::open(&url)?;
//! assert_eq!(journal.get_latest_sequence()?, 0);
//! assert!(matches!(JournalUrl::parse("memory:")?, JournalUrl::Memory));
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use crate::disk::DiskJournal;
use crate::error::{Error, Result};
use crate::journal::{EventJournal, MemoryJournal};

/// Where a journal lives, as a URL names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalUrl {
    /// A disk journal's directory: `file:///path`, `file:relative/path`,
    /// or a bare path.
    File(PathBuf),
    /// A new, empty in-memory journal: `memory:`.
    Memory,
    /// A Redis journal: the whole `redis://` (or `rediss://`) URL, with
    /// its `prefix`, `layout` and timeout parameters (docs/REDIS.md).
    Redis(String),
}

impl JournalUrl {
    /// Parses `text`. Anything without a known scheme is a path; an
    /// unknown scheme (`http:`, `s3:` ...) is an error rather than a
    /// directory named after it.
    pub fn parse(text: &str) -> Result<JournalUrl> {
        if text.is_empty() {
            return Err(Error::InvalidOption("an empty journal URL".into()));
        }
        if let Some(path) = text.strip_prefix("file://") {
            if path.is_empty() {
                return Err(Error::InvalidOption(format!(
                    "{text:?} names no directory (file:///absolute/path)"
                )));
            }
            return Ok(JournalUrl::File(PathBuf::from(path)));
        }
        if let Some(path) = text.strip_prefix("file:") {
            return Ok(JournalUrl::File(PathBuf::from(path)));
        }
        if text == "memory:" || text == "memory://" {
            return Ok(JournalUrl::Memory);
        }
        if text.starts_with("redis://") || text.starts_with("rediss://") {
            return Ok(JournalUrl::Redis(text.to_string()));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(Error::InvalidOption(format!(
                "unknown journal URL scheme {scheme:?}: expected file://, memory: or redis://"
            )));
        }
        Ok(JournalUrl::File(PathBuf::from(text)))
    }

    /// The directory, for a disk journal.
    pub fn dir(&self) -> Option<&std::path::Path> {
        match self {
            JournalUrl::File(dir) => Some(dir),
            _ => None,
        }
    }
}

impl std::fmt::Display for JournalUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalUrl::File(dir) => write!(f, "file://{}", dir.display()),
            JournalUrl::Memory => f.write_str("memory:"),
            // Never print a password a URL may carry.
            JournalUrl::Redis(url) => f.write_str(&redact(url)),
        }
    }
}

/// `url` with any password replaced by `***`.
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

/// Opens the journal `url` names, for reading and writing: a disk journal
/// is created when missing and opened as its writer with the default
/// options (the OS lock: one writer process); `memory:` is a new empty
/// journal; a Redis URL connects (docs/REDIS.md).
pub fn open(url: &str) -> Result<Box<dyn EventJournal>> {
    open_parsed(&JournalUrl::parse(url)?, false)
}

/// Opens the journal `url` names without writing to it: a disk journal is
/// opened read-only (it must exist; nothing in its directory changes).
/// Redis has no read-only connection: the journal is opened as [`open`]
/// does, and the caller simply does not append.
pub fn open_read_only(url: &str) -> Result<Box<dyn EventJournal>> {
    open_parsed(&JournalUrl::parse(url)?, true)
}

/// [`open`] or [`open_read_only`] of a parsed URL.
pub fn open_parsed(url: &JournalUrl, read_only: bool) -> Result<Box<dyn EventJournal>> {
    Ok(match url {
        JournalUrl::File(dir) => Box::new(
            DiskJournal::builder(dir)
                .read_only(read_only)
                .create_if_missing(!read_only)
                .open()?,
        ),
        JournalUrl::Memory => Box::new(MemoryJournal::new()),
        #[cfg(feature = "redis")]
        JournalUrl::Redis(text) => Box::new(crate::redis::RedisJournal::open_url(text)?),
        #[cfg(not(feature = "redis"))]
        JournalUrl::Redis(_) => {
            return Err(Error::Unsupported(
                "redis:// URLs: this build has no `redis` feature".into(),
            ));
        }
    })
}

/// [`open_parsed`] as a shared handle, for `JournalStatistics` and threads.
pub fn open_shared(url: &JournalUrl, read_only: bool) -> Result<Arc<dyn EventJournal>> {
    open_parsed(url, read_only).map(Arc::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_to_their_backends() {
        let file = |p: &str| JournalUrl::File(PathBuf::from(p));
        assert_eq!(JournalUrl::parse("file:///var/j").unwrap(), file("/var/j"));
        assert_eq!(JournalUrl::parse("file:rel/j").unwrap(), file("rel/j"));
        assert_eq!(JournalUrl::parse("./data").unwrap(), file("./data"));
        assert_eq!(JournalUrl::parse("/abs").unwrap(), file("/abs"));
        assert_eq!(JournalUrl::parse("memory:").unwrap(), JournalUrl::Memory);
        let redis = "redis://127.0.0.1:6379/0?prefix=a&layout=baldur";
        assert_eq!(
            JournalUrl::parse(redis).unwrap(),
            JournalUrl::Redis(redis.into())
        );
        for bad in ["", "file://", "http://x/y", "s3://bucket/j"] {
            let err = JournalUrl::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("URL") || err.contains("names no"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn passwords_never_print() {
        let url = JournalUrl::parse("redis://user:s3cret@host:6379/0?prefix=p").unwrap();
        let shown = url.to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(shown, "redis://user:***@host:6379/0?prefix=p");
        assert_eq!(redact("redis://host/0"), "redis://host/0");
    }

    #[test]
    fn memory_and_file_urls_open() {
        let journal = open("memory:").unwrap();
        assert_eq!(journal.get_latest_sequence().unwrap(), 0);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("j");
        let err = open_read_only(missing.to_str().unwrap()).err().unwrap();
        assert!(!missing.exists(), "a read-only open created {err}");
        let url = format!("file://{}", missing.display());
        let journal = open(&url).unwrap();
        let entry = crate::JournalEntry::new("t", "s", crate::Timestamp::now(), "svc");
        assert_eq!(journal.append(&entry).unwrap(), 1);
        drop(journal);
        let reader = open_read_only(&url).unwrap();
        assert_eq!(reader.get_latest_sequence().unwrap(), 1);
    }
}
