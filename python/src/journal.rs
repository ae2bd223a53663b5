//! `NativeJournal`: one open journal, shared by Python threads.
//!
//! Entries are converted with the GIL held, then the GIL is released for
//! the engine's call (the append and its sync, a query, a range read), and
//! the answer is converted back with the GIL held again.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use baldur_journal::{
    DiskJournal, Durability, EventJournal, JournalEntry, JournalQueryFilter, RawRange,
};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::convert::{entries_to_py, entry_from_py, filter_from_py};
use crate::errors::{IntoPy, Kind, raise};

/// The most entries one range call returns; the Python iterators page.
const CHUNK_ENTRIES_MAX: usize = 1 << 20;

/// What a handle holds: the disk journal itself (for its counters and its
/// close), or any other backend `open(url)` gave.
#[derive(Clone)]
pub enum Backend {
    /// A journal directory.
    Disk(Arc<DiskJournal>),
    /// Memory or Redis.
    Other(Arc<dyn EventJournal>),
}

impl Backend {
    /// The journal behind the trait.
    pub fn journal(&self) -> Arc<dyn EventJournal> {
        match self {
            Backend::Disk(disk) => disk.clone(),
            Backend::Other(other) => other.clone(),
        }
    }
}

/// An open journal. `close` ends it; every call after that raises
/// `JournalClosedError`.
#[pyclass(frozen, module = "baldur_journal._native")]
pub struct NativeJournal {
    backend: RwLock<Option<Backend>>,
    /// The process that opened it. A child forked from it has no writer
    /// thread: its calls are refused and its drop leaves the journal alone.
    opened_by: u32,
}

/// The refusal in a forked child.
pub fn forked(py: Python<'_>, what: &str, opened_by: u32) -> PyErr {
    raise(
        py,
        Kind::Journal,
        format!(
            "this {what} was opened by process {opened_by}, and this process {} is a fork of it: \
             open the journal in this process (a writer's lock and thread stay with the parent)",
            std::process::id()
        ),
    )
}

impl Drop for NativeJournal {
    fn drop(&mut self) {
        if self.opened_by != std::process::id() {
            // IMPORTANT: never close the parent's journal from a child: its
            // writer thread does not exist here, and joining it would hang.
            let backend = self
                .backend
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            std::mem::forget(backend);
        }
    }
}

impl NativeJournal {
    /// The backend, or `JournalClosedError`.
    pub fn backend(&self, py: Python<'_>) -> PyResult<Backend> {
        if self.opened_by != std::process::id() {
            return Err(forked(py, "journal", self.opened_by));
        }
        self.backend
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| raise(py, Kind::Closed, "the journal is closed".into()))
    }

    fn journal(&self, py: Python<'_>) -> PyResult<Arc<dyn EventJournal>> {
        Ok(self.backend(py)?.journal())
    }

    /// The disk journal, or an error naming `what` for other backends.
    fn disk(&self, py: Python<'_>, what: &str) -> PyResult<Arc<DiskJournal>> {
        match self.backend(py)? {
            Backend::Disk(disk) => Ok(disk),
            Backend::Other(_) => Err(raise(
                py,
                Kind::Journal,
                format!("{what} works on a journal directory (segments), not on this backend"),
            )),
        }
    }

    /// Whether `close` ran.
    fn is_closed(&self) -> bool {
        self.backend
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    fn new(backend: Backend) -> Self {
        NativeJournal {
            backend: RwLock::new(Some(backend)),
            opened_by: std::process::id(),
        }
    }
}

/// Every sealed segment whose newest append is before `cutoff`.
fn older_than(cutoff: baldur_journal::Timestamp) -> baldur_journal::disk::RetentionPolicy {
    baldur_journal::disk::RetentionPolicy {
        older_than: Some(Duration::ZERO),
        now: Some(cutoff),
        ..Default::default()
    }
}

/// How often a waiting follower looks at the journal when nothing in this
/// process appended: the latency for a writer in another process (or on a
/// Redis or SQL journal another program writes).
const WAIT_POLL: Duration = Duration::from_millis(10);

/// How long a wait runs without the GIL before it takes the GIL back to let
/// Python handle signals (Ctrl-C ends a wait without a timeout).
const WAIT_SIGNAL_SLICE: Duration = Duration::from_millis(100);

/// Appends made in this process: a generation that every append bumps
/// once it is acknowledged, and the condition waiting followers sleep on.
/// One for the whole process: a follower woken by another journal's append
/// looks at its own journal and sleeps again.
static APPENDED: (Mutex<u64>, Condvar) = (Mutex::new(0), Condvar::new());

/// Wakes the followers waiting in this process (after an append or a
/// close).
pub fn notify_appended() {
    let (generation, condition) = &APPENDED;
    *generation.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    condition.notify_all();
}

/// Waits, without the GIL, until `journal` holds a sequence above `after`
/// or `until` comes; returns the latest sequence then, or
/// [`Error::Closed`](baldur_journal::Error::Closed) once `handle` is
/// closed. An append (or a close) in this process wakes it at once; other
/// writers are seen within [`WAIT_POLL`].
fn wait_above(
    handle: &NativeJournal,
    journal: &dyn EventJournal,
    after: u64,
    until: Instant,
) -> baldur_journal::Result<u64> {
    let (generation, condition) = &APPENDED;
    loop {
        // The generation first, then the journal: an append acknowledged
        // (or a close) after this read bumps the generation, so the wait
        // below returns.
        let seen = *generation.lock().unwrap_or_else(|e| e.into_inner());
        if handle.is_closed() {
            return Err(baldur_journal::Error::Closed);
        }
        let latest = journal.get_latest_sequence()?;
        let now = Instant::now();
        if latest > after || now >= until {
            return Ok(latest);
        }
        let guard = generation.lock().unwrap_or_else(|e| e.into_inner());
        if *guard == seen {
            let nap = (until - now).min(WAIT_POLL);
            drop(
                condition
                    .wait_timeout(guard, nap)
                    .unwrap_or_else(|e| e.into_inner()),
            );
        }
    }
}

/// Runs an append or a follower's wait without the GIL (with it under the
/// test-only `break-hold-gil`, which tests/test_threads.py and
/// tests/test_tail.py must catch).
fn release_gil<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    #[cfg(feature = "break-hold-gil")]
    {
        let _ = py;
        f()
    }
    #[cfg(not(feature = "break-hold-gil"))]
    {
        py.detach(f)
    }
}

/// Reads up to `max` entries of `[start, end)` (`end` `None`: to the end).
fn read_range(
    journal: &dyn EventJournal,
    start: u64,
    end: Option<u64>,
    max: usize,
) -> baldur_journal::Result<Vec<JournalEntry>> {
    let iter = match end {
        Some(end) => journal.range_iter(start, end)?,
        None => journal.range_iter_from(start)?,
    };
    iter.take(max.min(CHUNK_ENTRIES_MAX)).collect()
}

/// A disk journal's range read in chunks: one zero-copy reader over the
/// journal as it was when the cursor was made (no seek per chunk).
#[pyclass(frozen, module = "baldur_journal._native")]
pub struct NativeCursor {
    range: Mutex<Option<RawRange>>,
}

#[pymethods]
impl NativeCursor {
    /// The next `max` entries at most; an empty list at the end.
    fn next_chunk<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Bound<'py, PyList>> {
        let max = max.min(CHUNK_ENTRIES_MAX);
        let entries = py
            .detach(|| {
                let mut guard = self.range.lock().unwrap_or_else(|e| e.into_inner());
                let mut out = Vec::with_capacity(max.min(4096));
                let mut ended = false;
                if let Some(range) = guard.as_mut() {
                    while out.len() < max {
                        match range.next_entry() {
                            None => {
                                ended = true;
                                break;
                            }
                            Some(Err(e)) => return Err(e),
                            Some(Ok(record)) => out.push(record.to_entry()),
                        }
                    }
                }
                if ended {
                    // Releases the segment maps.
                    *guard = None;
                }
                Ok(out)
            })
            .py_err(py)?;
        entries_to_py(py, &entries)
    }
}

#[pymethods]
impl NativeJournal {
    /// A cursor over `[start, end)` (`end` None: to the end as it is now)
    /// of a disk journal; None for other backends, which page with `range`.
    #[pyo3(signature = (start, end))]
    fn cursor(
        &self,
        py: Python<'_>,
        start: u64,
        end: Option<u64>,
    ) -> PyResult<Option<NativeCursor>> {
        let Backend::Disk(disk) = self.backend(py)? else {
            return Ok(None);
        };
        let range = py
            .detach(|| match end {
                Some(end) => disk.range_ref(start, end),
                None => disk.range_ref_from(start),
            })
            .py_err(py)?;
        Ok(Some(NativeCursor {
            range: Mutex::new(Some(range)),
        }))
    }

    /// Opens the journal directory `path` (created when missing, unless
    /// read-only).
    #[staticmethod]
    #[pyo3(signature = (path, durability, segment_bytes, read_only, max_query_limit))]
    fn open_dir(
        py: Python<'_>,
        path: PathBuf,
        durability: &str,
        segment_bytes: Option<u64>,
        read_only: bool,
        max_query_limit: usize,
    ) -> PyResult<Self> {
        let durability: Durability = durability.parse().py_err(py)?;
        let mut builder = DiskJournal::builder(&path)
            .durability(durability)
            .read_only(read_only)
            .create_if_missing(!read_only)
            .max_query_limit(max_query_limit);
        if let Some(bytes) = segment_bytes {
            builder = builder.segment_bytes(bytes);
        }
        let journal = py.detach(|| builder.open()).py_err(py)?;
        Ok(NativeJournal::new(Backend::Disk(Arc::new(journal))))
    }

    /// Opens the journal a URL names: `file:///path` or a bare path,
    /// `memory:`, `redis://host:port/db?prefix=NAME[&layout=baldur]`.
    #[staticmethod]
    fn open_url(py: Python<'_>, url: &str, read_only: bool) -> PyResult<Self> {
        let parsed = baldur_journal::JournalUrl::parse(url).py_err(py)?;
        let backend = match &parsed {
            baldur_journal::JournalUrl::File(dir) => {
                let dir = dir.clone();
                let journal = py
                    .detach(|| {
                        DiskJournal::builder(&dir)
                            .read_only(read_only)
                            .create_if_missing(!read_only)
                            .open()
                    })
                    .py_err(py)?;
                Backend::Disk(Arc::new(journal))
            }
            _ => Backend::Other(Arc::from(
                py.detach(|| baldur_journal::url::open_parsed(&parsed, read_only))
                    .py_err(py)?,
            )),
        };
        Ok(NativeJournal::new(backend))
    }

    /// Appends one entry; returns its sequence once acknowledged.
    fn append(&self, py: Python<'_>, entry: &Bound<'_, PyAny>) -> PyResult<u64> {
        let entry = entry_from_py(entry)?;
        let journal = self.journal(py)?;
        let sequence = release_gil(py, || journal.append(&entry)).py_err(py)?;
        notify_appended();
        Ok(sequence)
    }

    /// Appends entries as one batch (one sync); returns their sequences.
    fn append_batch(&self, py: Python<'_>, entries: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
        let mut batch = Vec::new();
        for (index, entry) in entries.try_iter()?.enumerate() {
            let entry = entry?;
            batch.push(entry_from_py(&entry).map_err(|e| {
                let message = format!("entries[{index}]: {}", e.value(py));
                if e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) {
                    pyo3::exceptions::PyTypeError::new_err(message)
                } else if e.is_instance_of::<pyo3::exceptions::PyValueError>(py) {
                    pyo3::exceptions::PyValueError::new_err(message)
                } else {
                    e
                }
            })?);
        }
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let journal = self.journal(py)?;
        let sequences = release_gil(py, || journal.append_batch(&batch)).py_err(py)?;
        notify_appended();
        Ok(sequences)
    }

    /// `(entries, truncated, total_count)` for a filter object.
    fn query<'py>(
        &self,
        py: Python<'py>,
        query_filter: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let journal = self.journal(py)?;
        let Some(filter) = filter_from_py(query_filter)? else {
            return PyTuple::new(
                py,
                [
                    PyList::empty(py).into_any(),
                    false.into_pyobject(py)?.to_owned().into_any(),
                    0u64.into_pyobject(py)?.into_any(),
                ],
            );
        };
        let result = py.detach(|| journal.query(&filter)).py_err(py)?;
        PyTuple::new(
            py,
            [
                entries_to_py(py, &result.entries)?.into_any(),
                result.truncated.into_pyobject(py)?.to_owned().into_any(),
                result.total_count.into_pyobject(py)?.into_any(),
            ],
        )
    }

    /// The number of entries a filter object matches.
    fn count(&self, py: Python<'_>, query_filter: &Bound<'_, PyAny>) -> PyResult<u64> {
        let journal = self.journal(py)?;
        let Some(filter): Option<JournalQueryFilter> = filter_from_py(query_filter)? else {
            return Ok(0);
        };
        py.detach(|| journal.count(&filter)).py_err(py)
    }

    /// Up to `max` entries of `start <= sequence < end` (`end` None: to
    /// the end of the journal), ascending.
    #[pyo3(signature = (start, end, max))]
    fn range<'py>(
        &self,
        py: Python<'py>,
        start: u64,
        end: Option<u64>,
        max: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let journal = self.journal(py)?;
        let entries = py
            .detach(|| read_range(&*journal, start, end, max))
            .py_err(py)?;
        entries_to_py(py, &entries)
    }

    /// The latest sequence, 0 when empty.
    fn latest(&self, py: Python<'_>) -> PyResult<u64> {
        let journal = self.journal(py)?;
        py.detach(|| journal.get_latest_sequence()).py_err(py)
    }

    /// Waits until the journal holds a sequence above `after`, or
    /// `timeout_s` seconds pass (None: no limit); returns the latest
    /// sequence (`after` or below when the time ran out). The GIL is
    /// released while it waits, and taken back every
    /// [`WAIT_SIGNAL_SLICE`] to let Python raise for a signal.
    #[pyo3(signature = (after, timeout_s))]
    fn wait(&self, py: Python<'_>, after: u64, timeout_s: Option<f64>) -> PyResult<u64> {
        let journal = self.journal(py)?;
        let deadline = match timeout_s {
            None => None,
            Some(t) if t.is_finite() && t >= 0.0 => {
                // A timeout beyond what `Instant` can hold is no limit.
                Instant::now().checked_add(Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX))
            }
            Some(t) => {
                return Err(raise(
                    py,
                    Kind::Input,
                    format!("timeout must be a number of seconds, 0 or more, got {t}"),
                ));
            }
        };
        loop {
            let slice_end = Instant::now() + WAIT_SIGNAL_SLICE;
            let until = deadline.map_or(slice_end, |d| d.min(slice_end));
            let latest =
                release_gil(py, || wait_above(self, &*journal, after, until)).py_err(py)?;
            if latest > after || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(latest);
            }
            py.check_signals()?;
        }
    }

    /// Moves the sealed segments whose every append is older than `cutoff`
    /// to the tier directory `tier` (the engine's `move_segments`: copied,
    /// synced and proven before the originals go). Returns the entries
    /// moved.
    fn archive_older_than(
        &self,
        py: Python<'_>,
        cutoff: &Bound<'_, PyAny>,
        tier: PathBuf,
    ) -> PyResult<u64> {
        let cutoff = crate::convert::timestamp_from_py(cutoff, "cutoff")?;
        let disk = self.disk(py, "archive_older_than")?;
        let policy = older_than(cutoff);
        let report = py
            .detach(|| disk.move_segments(&policy, &tier))
            .py_err(py)?;
        Ok(report.dropped.iter().map(|d| d.records).sum())
    }

    /// Deletes the tier's segments whose every append is older than
    /// `before` (the engine's `purge_tier`; the journal itself is not
    /// needed). Returns the entries deleted.
    fn purge_archived(
        &self,
        py: Python<'_>,
        before: &Bound<'_, PyAny>,
        tier: PathBuf,
    ) -> PyResult<u64> {
        let before = crate::convert::timestamp_from_py(before, "before")?;
        // The tier alone: the journal may be closed (or another process's).
        let policy = older_than(before);
        let report = py
            .detach(|| baldur_journal::disk::purge_tier(&tier, &policy, false))
            .py_err(py)?;
        Ok(report.dropped.iter().map(|d| d.records).sum())
    }

    /// The retention mark (the first retained sequence), None while nothing
    /// was dropped or moved (and for backends without retention).
    fn retention_mark(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        match self.backend(py)? {
            Backend::Disk(disk) => py.detach(|| disk.retention_mark()).py_err(py),
            Backend::Other(_) => Ok(None),
        }
    }

    /// Waits until everything acknowledged is durable.
    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        let journal = self.journal(py)?;
        py.detach(|| journal.sync()).py_err(py)
    }

    /// `(records appended, syncs)` of this handle's writer, None when the
    /// journal is not a disk journal.
    fn write_stats(&self, py: Python<'_>) -> PyResult<Option<(u64, u64)>> {
        Ok(match self.backend(py)? {
            Backend::Disk(disk) => {
                let stats = disk.write_stats();
                Some((stats.records, stats.syncs))
            }
            Backend::Other(_) => None,
        })
    }

    /// Whether `close` ran.
    #[getter]
    fn closed(&self) -> bool {
        self.is_closed()
    }

    /// Drains, syncs and releases the journal (the writer lock of a disk
    /// journal). A second close does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self
            .backend
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if self.opened_by != std::process::id() {
            // A forked child: the parent's journal is not ours to close.
            std::mem::forget(taken);
            return Ok(());
        }
        // Followers waiting on this handle raise `JournalClosedError`.
        notify_appended();
        match taken {
            Some(Backend::Disk(disk)) => py.detach(|| disk.close()).py_err(py),
            Some(Backend::Other(other)) => py.detach(|| other.sync()).py_err(py),
            None => Ok(()),
        }
    }
}
