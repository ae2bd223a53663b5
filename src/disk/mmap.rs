//! Every memory map of the crate lives here.
//!
//! # Safety
//!
//! A map of a file is sound to read as long as no byte of the mapped range
//! changes underneath a reference we hand out and the file is never
//! shortened below the mapped length (a read past a file's end raises
//! SIGBUS). This crate guarantees, for journal directories it manages:
//! - Segment files are never truncated or shrunk: a torn tail is zeroed in
//!   place, beyond the published end, which no reader reads.
//! - Bytes below the published end of a segment are never rewritten while
//!   the journal is open (records are append-only; the footer is written
//!   after the last record).
//! - The file length is read before mapping and only that length is mapped,
//!   so a truncated copy yields an error from the length check, never a
//!   SIGBUS.
//!
//! What this crate cannot guarantee: another program truncating or
//! rewriting segment files of a journal while it is open. That is outside
//! the contract (docs/DESIGN.md, "What we assume"). Bytes read through a
//! map are never trusted before their length and CRC have been checked.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};

use memmap2::Mmap;

use crate::error::{Error, Result};
use crate::storage::Storage;

/// A read-only map of a segment file's first `len` bytes.
pub(crate) struct SegmentMap {
    map: Mmap,
}

impl SegmentMap {
    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }
}

fn map_file(storage: &dyn Storage, path: &Path, needed: u64) -> Result<SegmentMap> {
    let file: File = storage.open_read(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len < needed {
        return Err(Error::corruption(
            path,
            len,
            format!(
                "file is {len} bytes, shorter than the {needed} bytes the journal expects (truncated?)"
            ),
        ));
    }
    let map_len = usize::try_from(len).map_err(|_| {
        Error::io(
            path,
            std::io::Error::other(format!(
                "file is {len} bytes, more than this platform can map"
            )),
        )
    })?;
    // SAFETY: see the module's safety contract: we map exactly the length
    // the file has now, and segment files are never shortened while the
    // journal is open. The map is read-only and outlives the File handle.
    let map = unsafe { memmap2::MmapOptions::new().len(map_len).map(&file) }
        .map_err(|e| Error::io(path, e))?;
    Ok(SegmentMap { map })
}

/// A read-only map of the whole file at `path`, as long as it is now: for
/// `verify` and salvage, which read every byte of a segment once, so that
/// their memory is the kernel's page cache, never a heap copy of the
/// segment.
pub(crate) fn map_whole(storage: &dyn Storage, path: &Path) -> Result<SegmentMap> {
    map_file(storage, path, 0)
}

/// A bounded set of segment maps, least recently used evicted first, so
/// many segments never exhaust map or file-descriptor limits (no file
/// descriptor is kept open: a map outlives its file handle).
pub(crate) struct MapCache {
    capacity: usize,
    inner: Mutex<CacheInner>,
    /// The seam files are opened through.
    storage: Arc<dyn Storage>,
}

#[derive(Default)]
struct CacheInner {
    tick: u64,
    maps: HashMap<u64, (Arc<SegmentMap>, u64)>,
}

/// Maps kept at most, by default.
pub(crate) const MAP_CACHE_CAPACITY: usize = 64;

impl MapCache {
    pub(crate) fn new(capacity: usize, storage: Arc<dyn Storage>) -> Self {
        MapCache {
            capacity: capacity.max(1),
            inner: Mutex::default(),
            storage,
        }
    }

    /// The seam the journal reads (and writes) through.
    pub(crate) fn storage(&self) -> &dyn Storage {
        self.storage.as_ref()
    }

    /// A map of segment `key` at `path` covering at least `needed` bytes.
    pub(crate) fn get(&self, key: u64, path: &Path, needed: u64) -> Result<Arc<SegmentMap>> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.tick += 1;
            let tick = inner.tick;
            if let Some((map, used)) = inner.maps.get_mut(&key)
                && map.bytes().len() as u64 >= needed
            {
                *used = tick;
                return Ok(map.clone());
            }
        }
        let map = Arc::new(map_file(self.storage.as_ref(), path, needed)?);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let tick = inner.tick;
        inner.maps.insert(key, (map.clone(), tick));
        while inner.maps.len() > self.capacity {
            let oldest = inner
                .maps
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => inner.maps.remove(&k),
                None => break,
            };
        }
        Ok(map)
    }

    /// Maps held now.
    pub(crate) fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .maps
            .len()
    }

    /// Forgets every map (after a reader notices segments changed).
    pub(crate) fn clear(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .maps
            .clear();
    }
}
