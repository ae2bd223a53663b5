//! The engine's errors as the Python layer's exception classes
//! (`baldur_journal.errors`), each carrying the engine's message.

use baldur_journal::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::convert::codec;

/// Which Python exception class an engine error becomes.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Anything without a more precise class (`JournalError`).
    Journal,
    /// Another process holds the writer lock (`JournalLockedError`).
    Locked,
    /// Damaged or missing files (`JournalCorruptionError`).
    Corruption,
    /// Bad input: an entry, filter, timestamp or option (`JournalInputError`,
    /// also a `ValueError`).
    Input,
    /// The journal is closed (`JournalClosedError`).
    Closed,
    /// A write to a read-only journal (`JournalReadOnlyError`).
    ReadOnly,
}

/// The class an error maps to.
fn kind(error: &Error) -> Kind {
    match error {
        Error::Locked { .. } => Kind::Locked,
        Error::Corruption { .. }
        | Error::ChecksumMismatch { .. }
        | Error::MissingSegment { .. }
        | Error::NotAJournal { .. }
        | Error::UnsupportedVersion { .. } => Kind::Corruption,
        Error::InvalidEntry(_)
        | Error::InvalidFilter(_)
        | Error::InvalidOption(_)
        | Error::InvalidTimestamp { .. }
        | Error::RecordTooLarge { .. } => Kind::Input,
        Error::Closed => Kind::Closed,
        Error::ReadOnly => Kind::ReadOnly,
        _ => Kind::Journal,
    }
}

/// A Python exception of class `kind` with `message`.
pub fn raise(py: Python<'_>, kind: Kind, message: String) -> PyErr {
    let Some(codec) = codec(py) else {
        return PyRuntimeError::new_err(message);
    };
    let class = match kind {
        Kind::Journal => &codec.errors.journal,
        Kind::Locked => &codec.errors.locked,
        Kind::Corruption => &codec.errors.corruption,
        Kind::Input => &codec.errors.input,
        Kind::Closed => &codec.errors.closed,
        Kind::ReadOnly => &codec.errors.read_only,
    };
    match class.bind(py).call1((message,)) {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}

/// The engine's error as a Python exception with its message.
pub fn to_py(py: Python<'_>, error: Error) -> PyErr {
    raise(py, kind(&error), error.to_string())
}

/// `Result` with the engine's error converted.
pub trait IntoPy<T> {
    /// Converts the error, if any.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for baldur_journal::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
