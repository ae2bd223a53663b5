//! A stored context's JSON text as Python objects, parsed in Rust.
//!
//! Builds what `json.loads` builds: `dict` in key order (a repeated key
//! keeps its first position and its last value), `list`, `str`, `int`,
//! `float` (parsed exactly: serde_json's `float_roundtrip`), `bool`,
//! `None`. Integers beyond 64 bits are the one thing serde_json cannot
//! hand over exactly, so a text with a run of 19 or more digits is left to
//! `json.loads` ([`needs_python`]).

use std::cell::RefCell;
use std::fmt;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The shortest digit run that may hold an integer outside `i64`/`u64`
/// (`i64::MAX` has 19 digits).
const LONG_DIGITS_MIN: usize = 19;

/// Whether `text` may hold an integer serde_json would round to a float.
pub fn needs_python(text: &str) -> bool {
    let mut run = 0;
    for byte in text.bytes() {
        if byte.is_ascii_digit() {
            run += 1;
            if run >= LONG_DIGITS_MIN {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Keys longer than this are not kept by a [`KeyCache`].
const CACHED_KEY_BYTES_MAX: usize = 48;
/// The most keys a [`KeyCache`] keeps.
const CACHED_KEYS_MAX: usize = 64;

/// The dict keys met while parsing a batch of contexts, each made a `str`
/// once: the contexts of one journal repeat a few keys, and a shared `str`
/// saves an allocation per key and its hashing (Python caches a `str`'s
/// hash in the object). Short keys only, a bounded number, searched in
/// order (a handful in practice).
#[derive(Default)]
pub struct KeyCache {
    keys: RefCell<Vec<(Box<str>, Py<PyString>)>>,
}

impl KeyCache {
    fn get<'py>(&self, py: Python<'py>, key: &str) -> Bound<'py, PyString> {
        if key.len() > CACHED_KEY_BYTES_MAX {
            return PyString::new(py, key);
        }
        let mut keys = self.keys.borrow_mut();
        if let Some((_, found)) = keys.iter().find(|(k, _)| &**k == key) {
            return found.bind(py).clone();
        }
        let made = PyString::new(py, key);
        if keys.len() < CACHED_KEYS_MAX {
            keys.push((key.into(), made.clone().unbind()));
        }
        made
    }
}

/// Parses `text` into Python objects, taking dict keys from `keys`.
pub fn loads<'py>(py: Python<'py>, text: &str, keys: &KeyCache) -> PyResult<Bound<'py, PyAny>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Seed { py, keys }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("stored context: {e}")))?;
    Ok(value)
}

/// Builds one value.
#[derive(Clone, Copy)]
struct Seed<'a, 'py> {
    py: Python<'py>,
    keys: &'a KeyCache,
}

impl<'de, 'py> DeserializeSeed<'de> for Seed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// A Python error inside serde's error type.
fn py_error<E: serde::de::Error>(error: PyErr) -> E {
    E::custom(error)
}

impl<'de, 'py> Visitor<'de> for Seed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(pyo3::types::PyBool::new(self.py, v).to_owned().into_any())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.py);
        while let Some(item) = seq.next_element_seed(self)? {
            list.append(item).map_err(py_error)?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.py);
        while let Some(key) = map.next_key_seed(Key {
            py: self.py,
            keys: self.keys,
        })? {
            let value = map.next_value_seed(self)?;
            dict.set_item(key, value).map_err(py_error)?;
        }
        Ok(dict.into_any())
    }
}

/// Builds a dict key: a `str` from the cache, or without an intermediate
/// `String`.
#[derive(Clone, Copy)]
struct Key<'a, 'py> {
    py: Python<'py>,
    keys: &'a KeyCache,
}

impl<'de, 'py> DeserializeSeed<'de> for Key<'_, 'py> {
    type Value = Bound<'py, PyString>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'py> Visitor<'de> for Key<'_, 'py> {
    type Value = Bound<'py, PyString>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.keys.get(self.py, v))
    }
}
