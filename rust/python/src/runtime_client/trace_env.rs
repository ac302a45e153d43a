//! The `_X_AMZN_TRACE_ID` entry of the runtime process's C environment, rewritten in place for
//! each invocation: glibc's `setenv` (behind `os.environ[...] = ...`) keeps a copy of every
//! distinct value it is given for the life of the process, about 150 bytes per invocation.

use std::ffi::c_char;
use std::sync::{Mutex, PoisonError};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// `NAME=` as the environment entry starts.
const PREFIX: &[u8] = b"_X_AMZN_TRACE_ID=";
/// The variable's name, NUL-terminated, for `getenv`.
const NAME: &[u8] = b"_X_AMZN_TRACE_ID\0";
/// Room for a value in a new entry (X-Ray trace headers are about 100 bytes).
const VALUE_ROOM: usize = 256;

/// The `NAME=value\0` entry handed to `putenv`. Never freed: the environment may point at it.
static ENTRY: Mutex<Option<&'static mut [u8]>> = Mutex::new(None);

/// Set `_X_AMZN_TRACE_ID` in the C environment (child processes, `getenv`) to `value`, reusing
/// one entry; `os.environ`'s own mapping is the caller's to update.
#[pyfunction]
pub fn put_trace_id(value: &str) -> PyResult<()> {
    let value = value.as_bytes();
    if value.contains(&0) {
        return Err(PyValueError::new_err("embedded null byte"));
    }
    let mut entry = ENTRY.lock().unwrap_or_else(PoisonError::into_inner);
    let needed = PREFIX.len() + value.len() + 1;
    let buf: &'static mut [u8] = match entry.take() {
        Some(buf) if buf.len() >= needed => buf,
        // NOTE: a value longer than the entry gets a new one; the old stays allocated.
        _ => Box::leak(vec![0u8; needed.max(PREFIX.len() + VALUE_ROOM + 1)].into_boxed_slice()),
    };
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    buf[PREFIX.len()..needed - 1].copy_from_slice(value);
    buf[needed - 1] = 0;
    let ours = buf[PREFIX.len()..].as_ptr().cast::<c_char>();
    // SAFETY: NAME is NUL-terminated; getenv only reads the environment.
    let current = unsafe { libc::getenv(NAME.as_ptr().cast()) };
    if current.cast_const() != ours {
        // NOTE: the entry is not in the environment yet, or someone's setenv/unsetenv replaced
        // it: hand it (back) to the environment, which keeps the pointer, not a copy.
        // SAFETY: `buf` is NUL-terminated `NAME=value` and lives for the rest of the process.
        unsafe {
            libc::putenv(buf.as_mut_ptr().cast());
        }
    }
    *entry = Some(buf);
    Ok(())
}
