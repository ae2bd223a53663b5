//! The writer lock: an OS file lock on `LOCK` in the journal directory,
//! held for as long as a writer has the journal open. It dies with the
//! process, so a crashed writer never leaves a stale lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::{Error, Result};

/// File name of the lock file.
pub const LOCK_FILE: &str = "LOCK";

/// How long [`WriterLock::acquire`] waits for a lock another writer holds.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// A held writer lock; released on drop.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the exclusive lock, or fails with [`Error::Locked`]. A lock
    /// held a moment longer than its writer (a process forked while the
    /// writer had the lock file open keeps the lock until it execs) is
    /// waited for, up to [`LOCK_WAIT`].
    pub fn acquire(dir: &Path) -> Result<WriterLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(WriterLock { _file: file }),
                Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Locked { path: dir.into() });
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
    }
}

/// Whether a writer process holds the journal's lock right now. Opens the
/// lock file read-only and never creates it.
#[must_use]
pub fn writer_is_live(dir: &Path) -> bool {
    let Ok(file) = File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}
