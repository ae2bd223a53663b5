//! The native core of the `baldur_journal` Python package: the disk
//! journal, any journal `open(url)` takes, and the statistics folded over
//! it, with the conversions between Python objects and the engine's types.
//!
//! The Python layer (`baldur_journal/`) owns the public classes: it
//! subclasses baldur-framework's abstract interfaces, which a `#[pyclass]`
//! cannot, and hands this module the classes and functions the conversions
//! need ([`convert::configure`]). Every call that reads or writes the
//! journal releases the GIL, so Python threads that append durably share
//! the writer's group commits.
#![deny(missing_docs)]

mod convert;
mod errors;
mod journal;
mod json;
mod stats;

use pyo3::prelude::*;

/// The extension module `baldur_journal._native`.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::convert::configure;
    #[pymodule_export]
    use super::journal::NativeCursor;
    #[pymodule_export]
    use super::journal::NativeJournal;
    #[pymodule_export]
    use super::stats::NativeStatistics;
}
