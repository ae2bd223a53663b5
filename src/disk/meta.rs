//! The two small control files of a journal directory: `journal.meta`
//! (identity and options fixed at creation, written once) and `head` (the
//! end the writer published after its last sync, rewritten in place after
//! every batch, read by readers in other processes).

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::codec::FORMAT_VERSION;
use crate::codec::{u32_at, u64_at};
use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::storage::{OpenMode, Storage, StorageFile};

/// File name of the metadata file.
pub const META_FILE: &str = "journal.meta";
/// File name of the published-head file.
pub const HEAD_FILE: &str = "head";
/// Magic of the metadata file.
pub const META_MAGIC: [u8; 8] = *b"BJMETA\0\x01";
/// Magic of the head file.
pub const HEAD_MAGIC: [u8; 8] = *b"BJHEAD\0\x01";
/// Length of the metadata file.
pub const META_LEN: usize = 64;
/// Length of the head file.
pub const HEAD_LEN: usize = 64;

/// What `journal.meta` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Format version the journal was created with.
    pub format_version: u32,
    /// Random identity; every segment header carries it.
    pub journal_id: [u8; 16],
    /// Segment size fixed at creation.
    pub segment_bytes: u64,
    /// Creation time.
    pub created_at: Timestamp,
}

impl Meta {
    /// A new identity for a journal created now in `dir`.
    #[must_use]
    pub fn new(dir: &Path, segment_bytes: u64) -> Meta {
        let created_at = Timestamp::now();
        let mut hasher = Sha256::new();
        hasher.update(created_at.as_unix_nanos().to_le_bytes());
        hasher.update(std::process::id().to_le_bytes());
        hasher.update(dir.as_os_str().as_encoded_bytes());
        let local = 0u8;
        hasher.update((&local as *const u8 as usize).to_le_bytes());
        hasher.update(format!("{:?}", std::thread::current().id()).as_bytes());
        let digest = hasher.finalize();
        let mut journal_id = [0u8; 16];
        journal_id.copy_from_slice(&digest[..16]);
        Meta {
            format_version: FORMAT_VERSION,
            journal_id,
            segment_bytes,
            created_at,
        }
    }

    /// The 64 bytes of the file.
    #[must_use]
    pub fn encode(&self) -> [u8; META_LEN] {
        let mut out = [0u8; META_LEN];
        out[0..8].copy_from_slice(&META_MAGIC);
        out[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        out[16..32].copy_from_slice(&self.journal_id);
        out[32..40].copy_from_slice(&self.segment_bytes.to_le_bytes());
        out[40..48].copy_from_slice(&self.created_at.as_unix_nanos().to_le_bytes());
        let crc = crc32fast::hash(&out[0..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<Meta> {
        Meta::read_from(&crate::storage::OsStorage, path)
    }

    /// [`Meta::read`] through a storage seam.
    pub fn read_from(storage: &dyn Storage, path: &Path) -> Result<Meta> {
        let bytes = storage.read(path).map_err(|e| Error::io(path, e))?;
        if bytes.len() != META_LEN {
            return Err(Error::corruption(
                path,
                0,
                format!(
                    "metadata file is {} bytes, expected {META_LEN}",
                    bytes.len()
                ),
            ));
        }
        if bytes[0..8] != META_MAGIC {
            return Err(Error::NotAJournal {
                path: path.parent().unwrap_or(path).into(),
                reason: format!("{} does not start with the journal magic", path.display()),
            });
        }
        let stored = u32_at(&bytes, 60);
        let actual = crc32fast::hash(&bytes[0..60]);
        if stored != actual {
            return Err(Error::ChecksumMismatch {
                path: path.into(),
                offset: 0,
                expected: stored,
                actual,
            });
        }
        let format_version = u32_at(&bytes, 8);
        if format_version > FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.into(),
                found: format_version,
                supported: FORMAT_VERSION,
            });
        }
        let mut journal_id = [0u8; 16];
        journal_id.copy_from_slice(&bytes[16..32]);
        Ok(Meta {
            format_version,
            journal_id,
            segment_bytes: u64_at(&bytes, 32),
            created_at: Timestamp::from_unix_nanos(u64_at(&bytes, 40) as i64),
        })
    }

    /// Writes the file durably: a temporary file, fsync, rename, fsync of
    /// the directory.
    pub fn write(&self, storage: &dyn Storage, dir: &Path) -> Result<()> {
        let tmp = dir.join(format!("{META_FILE}.tmp"));
        let path = dir.join(META_FILE);
        let file = storage
            .open(&tmp, OpenMode::Truncate)
            .map_err(|e| Error::io(&tmp, e))?;
        file.write_all_at(&self.encode(), 0)
            .map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        drop(file);
        storage
            .rename(&tmp, &path)
            .map_err(|e| Error::io(&path, e))?;
        // IMPORTANT: fsync the directory, or the rename may not survive a power cut.
        storage.sync_dir(dir).map_err(|e| Error::io(dir, e))
    }
}

/// What `head` holds: the writer's published state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// Incremented on every rewrite.
    pub generation: u64,
    /// Base sequence of the active segment.
    pub active_base: u64,
    /// Readable end (byte offset) of the active segment.
    pub published_end: u64,
    /// End of the active segment known durable (synced).
    pub synced_end: u64,
    /// Latest published sequence.
    pub latest: u64,
    /// The retention low-water mark: the first retained sequence once
    /// whole segments were dropped (0: nothing was ever dropped).
    pub mark: u64,
}

impl Head {
    /// The 64 bytes of the file.
    #[must_use]
    pub fn encode(&self) -> [u8; HEAD_LEN] {
        let mut out = [0u8; HEAD_LEN];
        out[0..8].copy_from_slice(&HEAD_MAGIC);
        out[8..16].copy_from_slice(&self.generation.to_le_bytes());
        out[16..24].copy_from_slice(&self.active_base.to_le_bytes());
        out[24..32].copy_from_slice(&self.published_end.to_le_bytes());
        out[32..40].copy_from_slice(&self.synced_end.to_le_bytes());
        out[40..48].copy_from_slice(&self.latest.to_le_bytes());
        out[48..56].copy_from_slice(&self.mark.to_le_bytes());
        let crc = crc32fast::hash(&out[0..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a head; `None` when it is torn, absent or damaged.
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Head> {
        if bytes.len() < HEAD_LEN || bytes[0..8] != HEAD_MAGIC {
            return None;
        }
        if u32_at(bytes, 60) != crc32fast::hash(&bytes[0..60]) {
            return None;
        }
        Some(Head {
            generation: u64_at(bytes, 8),
            active_base: u64_at(bytes, 16),
            published_end: u64_at(bytes, 24),
            synced_end: u64_at(bytes, 32),
            latest: u64_at(bytes, 40),
            mark: u64_at(bytes, 48),
        })
    }

    /// Reads the head of the journal in `dir`, retrying a torn read a few
    /// times (the writer rewrites it in place).
    #[must_use]
    pub fn read(dir: &Path) -> Option<Head> {
        Head::read_from(&crate::storage::OsStorage, dir)
    }

    /// [`Head::read`] through a storage seam.
    #[must_use]
    pub fn read_from(storage: &dyn Storage, dir: &Path) -> Option<Head> {
        use std::os::unix::fs::FileExt;
        const HEAD_READ_ATTEMPTS_MAX: usize = 8;
        let file = storage.open_read(&dir.join(HEAD_FILE)).ok()?;
        let mut buf = [0u8; HEAD_LEN];
        for _ in 0..HEAD_READ_ATTEMPTS_MAX {
            if file.read_exact_at(&mut buf, 0).is_ok()
                && let Some(head) = Head::decode(&buf)
            {
                return Some(head);
            }
            std::thread::yield_now();
        }
        None
    }

    /// Rewrites the head in place (no sync: it is a hint for readers and
    /// recovery, never the only record of anything durable).
    pub fn write(&self, file: &dyn StorageFile) -> std::io::Result<()> {
        file.write_all_at(&self.encode(), 0)
    }
}
