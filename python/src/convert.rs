//! Python objects to the engine's types and back.
//!
//! Entries in: every field type-checked, a wrong type a `TypeError` and a
//! naive datetime a `ValueError`, each naming the field. Contexts of plain
//! JSON values (exact `str`, `int` within 64 bits, finite `float`, `bool`,
//! `None`, `list`, `dict` with `str` keys) are written to JSON here; any
//! other context goes through the Python layer's encoder, the standard
//! library's `json.dumps` with the reference SQL adapter's fallbacks.
//!
//! Entries out: the configured entry class, built with an aware UTC
//! `datetime` (microseconds: Python has no finer resolution) and a context
//! parsed by Python's own `json.loads`, so big integers come back exact.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use baldur_journal::{Context, JournalEntry, JournalQueryFilter, Timestamp};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::{Kind, raise};

/// The deepest nesting written here; deeper contexts go to the Python
/// encoder (the engine refuses them anyway, naming the limit).
const FAST_DEPTH_MAX: usize = 64;

/// The Python layer's exception classes (`baldur_journal.errors`).
pub struct ErrorClasses {
    /// `JournalError`.
    pub journal: Py<PyAny>,
    /// `JournalLockedError`.
    pub locked: Py<PyAny>,
    /// `JournalCorruptionError`.
    pub corruption: Py<PyAny>,
    /// `JournalInputError`.
    pub input: Py<PyAny>,
    /// `JournalClosedError`.
    pub closed: Py<PyAny>,
    /// `JournalReadOnlyError`.
    pub read_only: Py<PyAny>,
}

/// What the conversions need from Python, set once by [`configure`].
pub struct Codec {
    /// The class entries are returned as (the reference's `JournalEntry`
    /// when baldur-framework is installed).
    pub entry_class: Py<PyAny>,
    /// `datetime.datetime`.
    pub datetime_type: Py<PyAny>,
    /// `datetime(1970, 1, 1, tzinfo=timezone.utc)`.
    pub epoch: Py<PyAny>,
    /// `json.loads`.
    pub json_loads: Py<PyAny>,
    /// The Python layer's context encoder, for what the fast path leaves.
    pub encode_context: Py<PyAny>,
    /// The exception classes.
    pub errors: ErrorClasses,
    /// Whether entries may be built without calling the class: a plain
    /// dataclass whose instance `__dict__` holds the eight fields (the
    /// reference's `JournalEntry` and ours), filled directly, which skips
    /// a frozen dataclass's eight `object.__setattr__` calls.
    pub fill_entry_dict: bool,
    /// `entry_class.__new__`, looked up once.
    entry_new: Py<PyAny>,
    /// The eight field names, interned once.
    field_names: [Py<PyString>; 8],
    /// `epoch.tzinfo`: `timezone.utc`.
    utc: Py<PyAny>,
    /// `gc.isenabled`, `gc.disable` and `gc.enable`: the cyclic collector
    /// is paused while a batch of entries is built (see [`entries_to_py`]).
    gc: [Py<PyAny>; 3],
}

static CODEC: PyOnceLock<Codec> = PyOnceLock::new();

/// The configured codec, if [`configure`] ran.
pub fn codec(py: Python<'_>) -> Option<&'static Codec> {
    CODEC.get(py)
}

/// The codec, or an error saying the module was imported without its
/// Python layer.
fn require(py: Python<'_>) -> PyResult<&'static Codec> {
    codec(py).ok_or_else(|| {
        pyo3::exceptions::PyRuntimeError::new_err(
            "baldur_journal._native is not configured: import baldur_journal, not the native module",
        )
    })
}

/// Sets the classes and functions the conversions use. Called once, by
/// `baldur_journal` on import; later calls are ignored.
#[pyfunction]
#[expect(
    clippy::too_many_arguments,
    reason = "one call from the Python layer, by keyword"
)]
pub fn configure(
    py: Python<'_>,
    entry_class: Py<PyAny>,
    datetime_type: Py<PyAny>,
    epoch: Py<PyAny>,
    json_loads: Py<PyAny>,
    encode_context: Py<PyAny>,
    errors: &Bound<'_, PyDict>,
    fill_entry_dict: bool,
) -> PyResult<()> {
    let class = |name: &str| -> PyResult<Py<PyAny>> {
        errors
            .get_item(name)?
            .map(Bound::unbind)
            .ok_or_else(|| PyValueError::new_err(format!("errors: missing {name:?}")))
    };
    let entry_new = entry_class.bind(py).getattr("__new__")?.unbind();
    let field_names = ENTRY_FIELDS.map(|name| PyString::intern(py, name).unbind());
    let utc = epoch.bind(py).getattr("tzinfo")?.unbind();
    let gc_module = py.import("gc")?;
    let gc = [
        gc_module.getattr("isenabled")?.unbind(),
        gc_module.getattr("disable")?.unbind(),
        gc_module.getattr("enable")?.unbind(),
    ];
    let codec = Codec {
        entry_new,
        field_names,
        utc,
        gc,
        entry_class,
        datetime_type,
        epoch,
        json_loads,
        encode_context,
        fill_entry_dict,
        errors: ErrorClasses {
            journal: class("journal")?,
            locked: class("locked")?,
            corruption: class("corruption")?,
            input: class("input")?,
            closed: class("closed")?,
            read_only: class("read_only")?,
        },
    };
    let _ = CODEC.set(py, codec);
    Ok(())
}

/// The type name of `value`, for messages.
fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A `str` field, or a `TypeError` naming it.
pub fn string_field(value: &Bound<'_, PyAny>, field: &str) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(text) => Ok(text.to_str()?.to_owned()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{field} must be a str, got {}",
            type_name(value)
        ))),
    }
}

/// An aware `datetime` as a [`Timestamp`]; a `TypeError` for anything but
/// a datetime, a `ValueError` for a naive one or one outside the storable
/// range, each naming the field.
pub fn timestamp_from_py(value: &Bound<'_, PyAny>, field: &str) -> PyResult<Timestamp> {
    let py = value.py();
    let codec = require(py)?;
    if !value.is_instance(codec.datetime_type.bind(py))? {
        return Err(PyTypeError::new_err(format!(
            "{field} must be a datetime, got {}",
            type_name(value)
        )));
    }
    if value.call_method0("utcoffset")?.is_none() {
        return Err(PyValueError::new_err(format!(
            "{field} is a naive datetime ({}): give it a UTC offset, e.g. tzinfo=timezone.utc",
            value.str()?
        )));
    }
    let delta = value.sub(codec.epoch.bind(py))?;
    let days: i64 = delta.getattr("days")?.extract()?;
    let seconds: i64 = delta.getattr("seconds")?.extract()?;
    let micros: i64 = delta.getattr("microseconds")?.extract()?;
    days.checked_mul(86_400)
        .and_then(|s| s.checked_add(seconds))
        .and_then(|s| s.checked_mul(1_000_000))
        .and_then(|us| us.checked_add(micros))
        .and_then(|us| us.checked_mul(1_000))
        .map(Timestamp::from_unix_nanos)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "{field} {} is outside the storable range 1677-09-21 ..= 2262-04-11 (UTC)",
                value.str().map(|s| s.to_string()).unwrap_or_default()
            ))
        })
}

/// The proleptic Gregorian `(year, month, day)` of a day number counted
/// from 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A [`Timestamp`] as an aware UTC `datetime`, to the microsecond below:
/// `datetime(y, m, d, H, M, S, us, timezone.utc)`, one call (about half
/// the cost of `epoch + timedelta(...)` under the limited API, which
/// builds the `timedelta` through Python integers). Every `i64` of
/// nanoseconds lies within 1677..=2262, inside `datetime`'s years.
pub fn timestamp_to_py<'py>(py: Python<'py>, timestamp: Timestamp) -> PyResult<Bound<'py, PyAny>> {
    let codec = require(py)?;
    let micros = timestamp.as_unix_nanos().div_euclid(1_000);
    let (year, month, day) = civil_from_days(micros.div_euclid(86_400_000_000));
    let rest = micros.rem_euclid(86_400_000_000);
    let seconds = rest / 1_000_000;
    codec.datetime_type.bind(py).call1((
        year,
        month,
        day,
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60,
        rest % 1_000_000,
        codec.utc.bind(py),
    ))
}

/// The JSON text of a context dict.
pub fn context_from_py(value: &Bound<'_, PyAny>) -> PyResult<Context> {
    let py = value.py();
    let Ok(dict) = value.cast::<PyDict>() else {
        return Err(PyTypeError::new_err(format!(
            "context must be a dict, got {}",
            type_name(value)
        )));
    };
    let mut text = String::with_capacity(64);
    let text = if write_dict(dict, &mut text, 1)? {
        text
    } else {
        let encoded = require(py)?.encode_context.bind(py).call1((dict,))?;
        string_field(&encoded, "context")?
    };
    Context::from_json(&text).map_err(|e| raise(py, Kind::Input, format!("context: {e}")))
}

/// Writes a dict of plain JSON values; `false` when it holds anything else
/// (the caller then uses the Python encoder for the whole context).
fn write_dict(dict: &Bound<'_, PyDict>, out: &mut String, depth: usize) -> PyResult<bool> {
    if depth > FAST_DEPTH_MAX || !dict.is_exact_instance_of::<PyDict>() {
        return Ok(false);
    }
    out.push('{');
    for (index, (key, value)) in dict.iter().enumerate() {
        if !key.is_exact_instance_of::<PyString>() {
            return Ok(false);
        }
        if index > 0 {
            out.push(',');
        }
        let Ok(key) = key.cast::<PyString>()?.to_str() else {
            return Ok(false);
        };
        write_string(key, out);
        out.push(':');
        if !write_value(&value, out, depth)? {
            return Ok(false);
        }
    }
    out.push('}');
    Ok(true)
}

/// Writes one plain JSON value; `false` when it is not one.
fn write_value(value: &Bound<'_, PyAny>, out: &mut String, depth: usize) -> PyResult<bool> {
    if value.is_none() {
        out.push_str("null");
    } else if value.is_exact_instance_of::<PyString>() {
        let Ok(text) = value.cast::<PyString>()?.to_str() else {
            return Ok(false);
        };
        write_string(text, out);
    } else if value.is_exact_instance_of::<PyBool>() {
        out.push_str(if value.is_truthy()? { "true" } else { "false" });
    } else if value.is_exact_instance_of::<PyInt>() {
        match value.extract::<i64>() {
            Ok(n) => {
                let _ = write!(out, "{n}");
            }
            Err(_) => return Ok(false),
        }
    } else if value.is_exact_instance_of::<PyFloat>() {
        let x: f64 = value.extract()?;
        if !x.is_finite() {
            return Ok(false);
        }
        // Debug keeps a float a float (`1.0`, `1e16`) and reads back exactly.
        let _ = write!(out, "{x:?}");
    } else if value.is_exact_instance_of::<PyList>() {
        if depth >= FAST_DEPTH_MAX {
            return Ok(false);
        }
        out.push('[');
        for (index, item) in value.cast::<PyList>()?.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            if !write_value(&item, out, depth + 1)? {
                return Ok(false);
            }
        }
        out.push(']');
    } else if value.is_exact_instance_of::<PyDict>() {
        return write_dict(value.cast::<PyDict>()?, out, depth + 1);
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// A JSON string literal.
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An entry object (any object with the seed's fields) as an engine entry.
pub fn entry_from_py(entry: &Bound<'_, PyAny>) -> PyResult<JournalEntry> {
    let field = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        entry.getattr(name).map_err(|_| {
            PyTypeError::new_err(format!(
                "entry must be a JournalEntry (event_type, source, timestamp, service_name, \
                 context, region, tier_id); {} has no {name}",
                type_name(entry)
            ))
        })
    };
    let mut out = JournalEntry::new(
        string_field(&field("event_type")?, "event_type")?,
        string_field(&field("source")?, "source")?,
        timestamp_from_py(&field("timestamp")?, "timestamp")?,
        string_field(&field("service_name")?, "service_name")?,
    );
    out.context = context_from_py(&field("context")?)?;
    out.region = string_field(&field("region")?, "region")?;
    out.tier_id = string_field(&field("tier_id")?, "tier_id")?;
    Ok(out)
}

/// The entry fields, in the seed's order.
const ENTRY_FIELDS: [&str; 8] = [
    "sequence",
    "event_type",
    "source",
    "timestamp",
    "service_name",
    "context",
    "region",
    "tier_id",
];

/// An engine entry as the configured entry class.
pub fn entry_to_py<'py>(
    py: Python<'py>,
    entry: &JournalEntry,
    keys: &crate::json::KeyCache,
) -> PyResult<Bound<'py, PyAny>> {
    let codec = require(py)?;
    let text = entry.context.as_str();
    let context = if crate::json::needs_python(text) {
        codec.json_loads.bind(py).call1((text,))?
    } else {
        crate::json::loads(py, text, keys)?
    };
    let values = [
        entry.sequence.into_pyobject(py)?.into_any(),
        PyString::new(py, &entry.event_type).into_any(),
        PyString::new(py, &entry.source).into_any(),
        timestamp_to_py(py, entry.timestamp)?,
        PyString::new(py, &entry.service_name).into_any(),
        context,
        PyString::new(py, &entry.region).into_any(),
        PyString::new(py, &entry.tier_id).into_any(),
    ];
    let class = codec.entry_class.bind(py);
    if codec.fill_entry_dict {
        let instance = codec.entry_new.bind(py).call1((class,))?;
        let dict = instance.getattr(pyo3::intern!(py, "__dict__"))?;
        let dict = dict.cast::<PyDict>()?;
        for (name, value) in codec.field_names.iter().zip(values) {
            dict.set_item(name.bind(py), value)?;
        }
        Ok(instance)
    } else {
        class.call1(PyTuple::new(py, values)?)
    }
}

/// Pauses Python's cyclic garbage collector while it lives, if it was on.
///
/// Building a batch allocates three tracked objects per entry, none of
/// them garbage; with the collector on, each 700 allocations start a
/// collection, and the growing batch makes the older generations'
/// collections scan every live object of the process (about a quarter of
/// the time of a 10,000-entry range in the profile of docs/PERFORMANCE.md).
/// The GIL is held throughout, so no other thread runs while it is off
/// (unless the entry class's own Python code lets one run).
struct GcPause<'py> {
    py: Python<'py>,
    resume: bool,
}

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>, codec: &Codec) -> PyResult<Self> {
        let [is_enabled, disable, _] = &codec.gc;
        let resume = is_enabled.bind(py).call0()?.is_truthy()?;
        if resume {
            disable.bind(py).call0()?;
        }
        Ok(GcPause { py, resume })
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if self.resume
            && let Some(codec) = codec(self.py)
            && let Err(e) = codec.gc[2].bind(self.py).call0()
        {
            // Cannot happen (gc.enable takes no argument and never fails):
            // reported rather than lost.
            e.write_unraisable(self.py, None);
        }
    }
}

/// Batches smaller than this are built without pausing the collector.
const GC_PAUSE_ENTRIES_MIN: usize = 64;

/// Engine entries as a Python list.
pub fn entries_to_py<'py>(
    py: Python<'py>,
    entries: &[JournalEntry],
) -> PyResult<Bound<'py, PyList>> {
    let codec = require(py)?;
    let _pause = if entries.len() >= GC_PAUSE_ENTRIES_MIN {
        Some(GcPause::new(py, codec)?)
    } else {
        None
    };
    let keys = crate::json::KeyCache::default();
    let mut built = Vec::with_capacity(entries.len());
    for entry in entries {
        built.push(entry_to_py(py, entry, &keys)?);
    }
    PyList::new(py, built)
}

/// A filter object (any object with the seed's fields) as an engine
/// filter; `None` when it can match nothing for a reason the engine's
/// filter cannot express: a `service_name` or `region` that is not a
/// `str`, or a context filter value that is not one (the reference
/// compares `str(value) == wanted`, never true for a non-`str` wanted).
pub fn filter_from_py(filter: &Bound<'_, PyAny>) -> PyResult<Option<JournalQueryFilter>> {
    let field = |name: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        let value = filter.getattr(name).map_err(|_| {
            PyTypeError::new_err(format!(
                "query_filter must be a JournalQueryFilter; {} has no {name}",
                type_name(filter)
            ))
        })?;
        Ok((!value.is_none()).then_some(value))
    };
    let mut out = JournalQueryFilter::default();
    let mut matches_nothing = false;
    if let Some(types) = field("event_types")? {
        if types.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "event_types must be a list of str, got a str (wrap it in a list)",
            ));
        }
        let mut names = Vec::new();
        for item in types.try_iter().map_err(|_| {
            PyTypeError::new_err(format!(
                "event_types must be a list of str, got {}",
                type_name(&types)
            ))
        })? {
            let item = item?;
            // A non-str member can never equal an entry's event type.
            if let Ok(text) = item.cast::<PyString>() {
                names.push(text.to_str()?.to_owned());
            }
        }
        out.event_types = Some(names);
    }
    for (name, slot) in [
        ("service_name", &mut out.service_name),
        ("region", &mut out.region),
    ] {
        if let Some(value) = field(name)? {
            match value.cast::<PyString>() {
                Ok(text) => *slot = Some(text.to_str()?.to_owned()),
                Err(_) => matches_nothing = true,
            }
        }
    }
    if let Some(start) = field("start_time")? {
        out.start_time = Some(timestamp_from_py(&start, "start_time")?);
    }
    if let Some(end) = field("end_time")? {
        out.end_time = Some(timestamp_from_py(&end, "end_time")?);
    }
    let limit =
        field("limit")?.ok_or_else(|| PyTypeError::new_err("limit must be an int, got None"))?;
    if limit.is_instance_of::<PyBool>() || !limit.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "limit must be an int, got {}",
            type_name(&limit)
        )));
    }
    let limit: i128 = limit.extract()?;
    if limit < 0 {
        return Err(PyValueError::new_err(format!(
            "limit must be 0 or more, got {limit} (the reference slices from the end; this \
             journal refuses a negative limit)"
        )));
    }
    out.limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if let Some(filters) = field("context_filters")? {
        let Ok(filters) = filters.cast::<PyDict>() else {
            return Err(PyTypeError::new_err(format!(
                "context_filters must be a dict of str to str, got {}",
                type_name(&filters)
            )));
        };
        let mut map = BTreeMap::new();
        for (key, wanted) in filters.iter() {
            let Ok(wanted) = wanted.cast::<PyString>() else {
                matches_nothing = true;
                continue;
            };
            let wanted = wanted.to_str()?.to_owned();
            match key.cast::<PyString>() {
                Ok(key) => {
                    map.insert(key.to_str()?.to_owned(), wanted);
                }
                // A context from JSON has only str keys: `context.get(5)`
                // is None, whose str() is "None".
                Err(_) if wanted == "None" => {}
                Err(_) => matches_nothing = true,
            }
        }
        out.context_filters = Some(map);
    }
    Ok((!matches_nothing).then_some(out))
}
