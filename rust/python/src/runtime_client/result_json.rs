//! JSON fast path for results: exact plain types only. Anything else (subclasses, named
//! tuples, non-`str` keys, big integers, `NaN`...) is declined, and the Python side encodes it
//! with awslambdaric's exact rules and messages.

use std::ffi::c_char;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::event_json::{next_special, Declined, MAX_DEPTH};

extern "C" {
    // NOTE: exported by every CPython 3.x and in the stable ABI from 3.10; pyo3 hides it under
    // `abi3-py39`. It lends the string's cached UTF-8 form, so no copy per string.
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut ffi::PyObject,
        size: *mut ffi::Py_ssize_t,
    ) -> *const c_char;
}

/// Encode a value made of `dict` (with `str` keys), `list`, `tuple`, `str`, `int`, finite
/// `float`, `bool`, `None` and finite `decimal.Decimal`, all of their exact types.
pub fn dumps(value: &Bound<'_, PyAny>) -> Result<Vec<u8>, Declined> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value, 0)?;
    Ok(out)
}

/// [`dumps`] appending to `out`, whose capacity the caller reuses; on `Declined`, `out` holds
/// a partial document.
pub fn dumps_into(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> Result<(), Declined> {
    write_value(out, value, 0)
}

fn write_value(out: &mut Vec<u8>, value: &Bound<'_, PyAny>, depth: u32) -> Result<(), Declined> {
    if value.is_exact_instance_of::<PyString>() {
        write_str(out, value)
    } else if let Ok(dict) = value.cast_exact::<PyDict>() {
        write_dict(out, dict, depth)
    } else if let Ok(list) = value.cast_exact::<PyList>() {
        write_seq(out, list.iter(), depth)
    } else if value.is_exact_instance_of::<PyInt>() {
        let number: i64 = value.extract().map_err(|_| Declined)?;
        out.extend_from_slice(number.to_string().as_bytes());
        Ok(())
    } else if value.is_none() {
        out.extend_from_slice(b"null");
        Ok(())
    } else if value.is_exact_instance_of::<PyBool>() {
        out.extend_from_slice(if value.is_truthy()? {
            b"true"
        } else {
            b"false"
        });
        Ok(())
    } else if let Ok(float) = value.cast_exact::<PyFloat>() {
        let number = float.value();
        if !number.is_finite() {
            return Err(Declined);
        }
        // Debug formatting is the shortest round-trip form and always reads back as a float.
        out.extend_from_slice(format!("{number:?}").as_bytes());
        Ok(())
    } else if let Ok(tuple) = value.cast_exact::<PyTuple>() {
        write_seq(out, tuple.iter(), depth)
    } else {
        write_decimal(out, value)
    }
}

fn write_dict(out: &mut Vec<u8>, dict: &Bound<'_, PyDict>, depth: u32) -> Result<(), Declined> {
    if depth >= MAX_DEPTH {
        return Err(Declined);
    }
    out.push(b'{');
    let mut first = true;
    for (key, item) in dict.iter() {
        if !key.is_exact_instance_of::<PyString>() {
            return Err(Declined);
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(out, &key)?;
        out.push(b':');
        write_value(out, &item, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_seq<'py>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: u32,
) -> Result<(), Declined> {
    if depth >= MAX_DEPTH {
        return Err(Declined);
    }
    out.push(b'[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_value(out, &item, depth + 1)?;
    }
    out.push(b']');
    Ok(())
}

/// `decimal.Decimal` is written as its own digits, as awslambdaric does; `NaN`, `Infinity`
/// and subclasses are declined.
fn write_decimal(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> Result<(), Declined> {
    let kind = value.get_type();
    if kind.name()?.to_cow()? != "Decimal" || kind.module()?.to_cow()? != "decimal" {
        return Err(Declined);
    }
    let text = value.str()?;
    let text = text.to_cow()?;
    let digits = text.strip_prefix('-').unwrap_or(&text);
    if !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(Declined);
    }
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn write_str(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> Result<(), Declined> {
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `value` is an exact `str`; the returned buffer lives as long as the string, which
    // outlives this call, and is `size` bytes long.
    let bytes = unsafe {
        let data = PyUnicode_AsUTF8AndSize(value.as_ptr(), std::ptr::addr_of_mut!(size));
        if data.is_null() {
            // Lone surrogates: not UTF-8. Clear the error and let Python escape them.
            drop(PyErr::take(value.py()));
            return Err(Declined);
        }
        std::slice::from_raw_parts(data.cast::<u8>(), usize::try_from(size).unwrap_or(0))
    };
    write_escaped(out, bytes);
    Ok(())
}

fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    let mut index = next_special(bytes, 0);
    while index < bytes.len() {
        let byte = bytes[index];
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => &[],
        };
        out.extend_from_slice(&bytes[run..index]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        run = index + 1;
        index = next_special(bytes, run);
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}
