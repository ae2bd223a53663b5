//! The file-operation seam. Every write, sync, create, rename and unlink of
//! the engine, and of the projection's snapshot, and every read of the
//! disk engine (the metadata, `head`, indexes, directory listings, segment
//! headers and footers, and the files its read-only maps are made of) goes
//! through [`Storage`], so tests can count operations and inject faults (a
//! full disk, EIO on write, fsync or read, short writes). It stands below both the disk engine and the
//! projection; [`JournalFiles`] is how the projection finds a journal's
//! directory and seam without knowing the engine.
//! Reads of segment data go through read-only maps of files opened with
//! [`Storage::open_read`] (see `mmap.rs`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// A journal that keeps its files in a directory: where files derived from
/// it (a projection snapshot) go, and the seam they are written through.
pub trait JournalFiles {
    /// The journal's directory.
    fn dir(&self) -> &Path;
    /// The journal's id (fixed at creation).
    fn journal_id(&self) -> [u8; 16];
    /// True for a read-only handle: derived files are read, never written.
    fn is_read_only(&self) -> bool;
    /// The storage seam the journal writes through.
    fn storage(&self) -> Arc<dyn Storage>;
}

impl<T: JournalFiles + ?Sized> JournalFiles for Arc<T> {
    fn dir(&self) -> &Path {
        (**self).dir()
    }

    fn journal_id(&self) -> [u8; 16] {
        (**self).journal_id()
    }

    fn is_read_only(&self) -> bool {
        (**self).is_read_only()
    }

    fn storage(&self) -> Arc<dyn Storage> {
        (**self).storage()
    }
}

/// A file opened through a [`Storage`].
pub trait StorageFile: Send + Sync {
    /// Writes all of `buf` at `offset` (positional; no shared cursor).
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Makes written data durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
    /// Makes written data and metadata durable (fsync).
    fn sync_all(&self) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// How to open a file through the seam.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Create a new file; fail if it exists (segments are never reused).
    CreateNew,
    /// Open an existing file for reading and writing.
    ReadWrite,
    /// Create or truncate (only for small derived files written whole).
    Truncate,
}

/// File-system operations the engine performs.
pub trait Storage: Send + Sync {
    /// Opens a file for writing.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn StorageFile>>;
    /// fsyncs a directory so entries created or renamed in it are durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Renames a file atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Removes a file (retention's unlink of a dropped segment). A reader
    /// that has the file mapped keeps reading it: Linux frees the blocks
    /// when the last map goes.
    fn remove_file(&self, path: &Path) -> io::Result<()>;

    /// Reads a whole small file (`journal.meta`, `head`, an index).
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    /// Opens a file for reading only: a segment's header and footer, or
    /// the file a read-only map is made of.
    fn open_read(&self, path: &Path) -> io::Result<File> {
        File::open(path)
    }
    /// A file's length in bytes.
    fn file_len(&self, path: &Path) -> io::Result<u64> {
        std::fs::metadata(path).map(|m| m.len())
    }
    /// The names of a directory's entries.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<std::ffi::OsString>> {
        std::fs::read_dir(path)?
            .map(|item| item.map(|item| item.file_name()))
            .collect()
    }
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsStorage;

impl OsStorage {
    /// The shared default storage.
    #[must_use]
    pub fn shared() -> Arc<dyn Storage> {
        Arc::new(OsStorage)
    }
}

struct OsFile(File);

impl StorageFile for OsFile {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(&self.0, buf, offset)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(&self.0, buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl Storage for OsStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn StorageFile>> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        match mode {
            OpenMode::CreateNew => options.create_new(true),
            OpenMode::ReadWrite => &mut options,
            OpenMode::Truncate => options.create(true).truncate(true),
        };
        Ok(Box::new(OsFile(options.open(path)?)))
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
}
