//! Opening any backend by URL: `file:///path` or a bare path (the disk
//! journal), `memory:` (an empty in-memory journal), and
//! `redis://host:port/db?prefix=name[&layout=baldur]` or
//! `redis+cluster://h1:p1,h2:p2/?prefix=name` (the Redis journal on one
//! server or a Redis Cluster, docs/REDIS.md; with the `redis` feature).
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
use crate::error::redact;
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
    /// A Redis journal: the whole `redis://` URL, or `redis+cluster://`
    /// with several seed nodes, with its `prefix`, `layout` and timeout
    /// parameters (docs/REDIS.md).
    Redis(String),
}

impl JournalUrl {
    /// Parses `text` with a URL parser: `file:///abs/path` (percent-decoded;
    /// a host other than `localhost` is refused), `file:rel/path`,
    /// `memory:`, `redis://…`, or a bare path (anything without a
    /// scheme). An unknown scheme (`http://`, `s3://` ...) is an error
    /// rather than a directory named after it, and `rediss://` says that
    /// this build has no TLS.
    pub fn parse(text: &str) -> Result<JournalUrl> {
        if text.is_empty() {
            return Err(Error::InvalidOption("an empty journal URL".into()));
        }
        // Several seed nodes in the authority: not a URL the parser takes.
        if text.starts_with("redis+cluster://") {
            return Ok(JournalUrl::Redis(text.to_string()));
        }
        let parsed = match url::Url::parse(text) {
            Ok(parsed) => parsed,
            // No scheme at all: a path.
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                return Ok(JournalUrl::File(PathBuf::from(text)));
            }
            Err(e) if text.contains("://") => {
                return Err(Error::InvalidOption(format!(
                    "{:?} is not a valid journal URL: {e}",
                    redact(text)
                )));
            }
            Err(_) => return Ok(JournalUrl::File(PathBuf::from(text))),
        };
        match parsed.scheme() {
            "file" => file_path(text, &parsed).map(JournalUrl::File),
            "memory" if matches!(text, "memory:" | "memory://") => Ok(JournalUrl::Memory),
            "memory" => Err(Error::InvalidOption(format!(
                "{text:?}: a memory journal takes no path or parameters (memory:)"
            ))),
            "redis" => Ok(JournalUrl::Redis(text.to_string())),
            "rediss" => Err(Error::Unsupported(format!(
                "{}: TLS (rediss://) is not supported by this build; use redis:// on a \
                 trusted network or through a TLS tunnel (docs/REDIS.md)",
                redact(text)
            ))),
            scheme if text.contains("://") => Err(Error::InvalidOption(format!(
                "unknown journal URL scheme {scheme:?}: expected file://, memory:, redis:// or redis+cluster://"
            ))),
            // `name:thing` without `//` is a directory name with a colon.
            _ => Ok(JournalUrl::File(PathBuf::from(text))),
        }
    }

    /// The directory, for a disk journal.
    #[must_use]
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

/// The directory a `file:` URL names: `file:///abs` through the URL
/// parser (percent-decoded, local host only), `file:rel` relative to the
/// working directory (percent-decoded).
fn file_path(text: &str, parsed: &url::Url) -> Result<PathBuf> {
    let Some(rest) = text.strip_prefix("file://") else {
        let relative = &text["file:".len()..];
        let decoded = percent_encoding::percent_decode_str(relative)
            .decode_utf8()
            .map_err(|e| Error::InvalidOption(format!("{text:?}: {e}")))?;
        return Ok(PathBuf::from(decoded.as_ref()));
    };
    if rest.is_empty() {
        return Err(Error::InvalidOption(format!(
            "{text:?} names no directory (file:///absolute/path)"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::InvalidOption(format!(
            "{text:?}: a file URL takes no query or fragment (percent-encode ? as %3F and # as %23)"
        )));
    }
    parsed.to_file_path().map_err(|()| {
        Error::InvalidOption(format!(
            "{text:?} names a directory on another host {:?}: only local directories \
             (file:///absolute/path) can be opened",
            parsed.host_str().unwrap_or("")
        ))
    })
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
        let cluster = "redis+cluster://u:pw@h1:7000,h2:7001/?prefix=a";
        assert_eq!(
            JournalUrl::parse(cluster).unwrap(),
            JournalUrl::Redis(cluster.into())
        );
        assert_eq!(
            JournalUrl::parse(cluster).unwrap().to_string(),
            "redis+cluster://u:***@h1:7000,h2:7001/?prefix=a"
        );
        assert_eq!(
            JournalUrl::parse("file:///srv/j/sp%20ace").unwrap(),
            file("/srv/j/sp ace")
        );
        assert_eq!(
            JournalUrl::parse("file://localhost/srv/j").unwrap(),
            file("/srv/j")
        );
        assert_eq!(JournalUrl::parse("file:a%20b").unwrap(), file("a b"));
        assert_eq!(
            JournalUrl::parse("dir:with-colon").unwrap(),
            file("dir:with-colon")
        );
        let tls = JournalUrl::parse("rediss://user:pw@h:6380/0?prefix=p")
            .unwrap_err()
            .to_string();
        assert!(tls.contains("TLS") && !tls.contains("pw@"), "{tls}");
        for bad in [
            "",
            "file://",
            "http://x/y",
            "s3://bucket/j",
            "file://otherhost/j",
            "memory:/x",
        ] {
            let err = JournalUrl::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("URL") || err.contains("names ") || err.contains("memory"),
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
        let entry =
            crate::entry::JournalEntry::new("t", "s", crate::entry::Timestamp::now(), "svc");
        assert_eq!(journal.append(&entry).unwrap(), 1);
        drop(journal);
        let reader = open_read_only(&url).unwrap();
        assert_eq!(reader.get_latest_sequence().unwrap(), 1);
    }
}
