//! One pass-through storage seam for the tests that watch or break the
//! engine's file operations: [`Seam`] performs every operation on the real
//! file system and lets a [`Hooks`] implementation act around each one.
//! Every hook defaults to passing the operation through, so a test writes
//! only the hooks it needs.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baldur_journal::disk::{OpenMode, OsStorage, Storage, StorageFile};

/// What a test does around the engine's file operations. Each method
/// performs the operation (through `inner` or [`OsStorage`]) by default.
pub trait Hooks: Send + Sync + 'static {
    /// Opens `path` (the real open by default).
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn StorageFile>> {
        OsStorage.open(path, mode)
    }
    /// Writes `buf` at `offset` of the file at `path`.
    fn write(
        &self,
        path: &Path,
        inner: &dyn StorageFile,
        buf: &[u8],
        offset: u64,
    ) -> io::Result<()> {
        let _ = path;
        inner.write_all_at(buf, offset)
    }
    /// `fdatasync` of the file at `path`.
    fn sync_data(&self, path: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        let _ = path;
        inner.sync_data()
    }
    /// `fsync` of the file at `path`.
    fn sync_all(&self, path: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        let _ = path;
        inner.sync_all()
    }
    /// `fsync` of a directory.
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        OsStorage.sync_dir(path)
    }
    /// An atomic rename.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        OsStorage.rename(from, to)
    }
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        OsStorage.create_dir_all(path)
    }
    /// Removes a file (retention's unlink).
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        OsStorage.remove_file(path)
    }
    /// Reads a whole small file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        OsStorage.read(path)
    }
    /// Opens a file for reading (and mapping).
    fn open_read(&self, path: &Path) -> io::Result<std::fs::File> {
        OsStorage.open_read(path)
    }
    /// A file's length.
    fn file_len(&self, path: &Path) -> io::Result<u64> {
        OsStorage.file_len(path)
    }
    /// A directory's entry names.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<std::ffi::OsString>> {
        OsStorage.list_dir(path)
    }
}

/// A [`Storage`] that runs every operation through `H`'s hooks.
pub struct Seam<H: Hooks>(pub Arc<H>);

/// A seam over `hooks`, ready for `DiskJournalBuilder::storage` (hooks
/// that share their state through `Arc`s are cloned into it).
pub fn seam<H: Hooks>(hooks: H) -> Arc<dyn Storage> {
    Arc::new(Seam(Arc::new(hooks)))
}

struct SeamFile<H: Hooks> {
    path: PathBuf,
    inner: Box<dyn StorageFile>,
    hooks: Arc<H>,
}

impl<H: Hooks> StorageFile for SeamFile<H> {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.hooks.write(&self.path, &*self.inner, buf, offset)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.hooks.sync_data(&self.path, &*self.inner)
    }
    fn sync_all(&self) -> io::Result<()> {
        self.hooks.sync_all(&self.path, &*self.inner)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

impl<H: Hooks> Storage for Seam<H> {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn StorageFile>> {
        Ok(Box::new(SeamFile {
            path: path.to_path_buf(),
            inner: self.0.open(path, mode)?,
            hooks: self.0.clone(),
        }))
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.0.sync_dir(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.rename(from, to)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.0.create_dir_all(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.0.remove_file(path)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.0.read(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<std::fs::File> {
        self.0.open_read(path)
    }
    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.0.file_len(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<std::ffi::OsString>> {
        self.0.list_dir(path)
    }
}
