//! Blocking Runtime API client of the built-in Python runtime: keep-alive HTTP/1.1 over
//! `std::net` (no tokio in the runtime process), GIL released while waiting, signals honoured.

mod event_json;
mod http;
mod result_json;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyOSError, PyRuntimeError, PySystemExit, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use http::{Connection, Response};

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";
const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";
const XRAY_CAUSE_HEADER: &str = "Lambda-Runtime-Function-XRay-Error-Cause";
const INVOCATION_ID_HEADER: &str = "Lambda-Runtime-Invocation-Id";

/// Set by the SIGTERM handler; the next wait on `/next` ends the process with status 0.
static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_signal: libc::c_int) {
    TERMINATED.store(true, Ordering::SeqCst);
}

/// Install the SIGTERM handler unless someone installed one already.
fn install_sigterm_handler() {
    // SAFETY: plain sigaction calls on a zeroed struct; the handler only stores an atomic,
    // which is async-signal-safe.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(
            libc::SIGTERM,
            std::ptr::null(),
            std::ptr::addr_of_mut!(current),
        ) != 0
            || current.sa_sigaction != libc::SIG_DFL
        {
            return;
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // NOTE: no SA_RESTART, so a blocked read returns EINTR at once (CPython does the same).
        action.sa_flags = 0;
        libc::sigemptyset(std::ptr::addr_of_mut!(action.sa_mask));
        libc::sigaction(
            libc::SIGTERM,
            std::ptr::addr_of!(action),
            std::ptr::null_mut(),
        );
    }
}

fn terminated() -> PyResult<()> {
    if TERMINATED.load(Ordering::SeqCst) {
        return Err(PySystemExit::new_err(0));
    }
    Ok(())
}

/// Keep-alive HTTP/1.1 client of the Lambda Runtime API at `AWS_LAMBDA_RUNTIME_API`.
///
/// Posting methods return the HTTP status; transport failures raise `OSError`.
#[pyclass(frozen, module = "lambda_rie._core")]
pub struct RuntimeClient {
    connection: Mutex<Connection>,
}

impl RuntimeClient {
    fn lock(&self) -> PyResult<MutexGuard<'_, Connection>> {
        match self.connection.try_lock() {
            Ok(guard) => Ok(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(PyRuntimeError::new_err(
                "RuntimeClient is already in use by another call",
            )),
        }
    }

    /// Send one request and wait for its response, releasing the GIL and checking signals
    /// every poll interval.
    fn exchange(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        wait_for_event: bool,
    ) -> PyResult<Response> {
        let mut guard = self.lock()?;
        let connection: &mut Connection = &mut guard;
        py.detach(|| connection.send(method, path, headers, body))
            .map_err(|err| os_error(&err))?;
        loop {
            match py.detach(|| connection.poll_response(body)) {
                Ok(Some(response)) => return Ok(response),
                Ok(None) => {
                    let checked = py.check_signals().and_then(|()| {
                        if wait_for_event {
                            terminated()
                        } else {
                            Ok(())
                        }
                    });
                    if let Err(err) = checked {
                        connection.reset();
                        return Err(err);
                    }
                }
                Err(err) => return Err(os_error(&err)),
            }
        }
    }

    fn post(
        &self,
        py: Python<'_>,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> PyResult<u16> {
        Ok(self
            .exchange(py, "POST", path, headers, body, false)?
            .status)
    }
}

fn os_error(err: &std::io::Error) -> PyErr {
    PyOSError::new_err(format!("Runtime API request failed: {err}"))
}

fn with_invocation_id<'a>(
    mut headers: Vec<(&'a str, &'a str)>,
    invocation_id: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    if let Some(id) = invocation_id.filter(|id| !id.is_empty()) {
        headers.push((INVOCATION_ID_HEADER, id));
    }
    headers
}

#[pymethods]
impl RuntimeClient {
    /// A client of the Runtime API at `address` (`host:port`); connects on first use.
    #[new]
    fn new(address: String) -> Self {
        install_sigterm_handler();
        RuntimeClient {
            connection: Mutex::new(Connection::new(address)),
        }
    }

    /// Wait for the next invocation: `(event bytes, headers with lower-case names)`.
    ///
    /// Raises `SystemExit(0)` once SIGTERM has been received.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyDict>)> {
        terminated()?;
        let response = self.exchange(py, "GET", NEXT_PATH, &[], &[], true)?;
        if response.status != 200 {
            return Err(PyRuntimeError::new_err(format!(
                "Failed to get next invocation. Http Response code: {}",
                response.status
            )));
        }
        let headers = PyDict::new(py);
        for (name, value) in &response.headers {
            headers.set_item(name, value)?;
        }
        Ok((PyBytes::new(py, &response.body), headers))
    }

    /// Post a result; returns the HTTP status (202 when accepted).
    #[pyo3(signature = (request_id, body, content_type, invocation_id=None))]
    fn post_response(
        &self,
        py: Python<'_>,
        request_id: &str,
        body: &Bound<'_, PyBytes>,
        content_type: &str,
        invocation_id: Option<&str>,
    ) -> PyResult<u16> {
        let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
        let headers = with_invocation_id(vec![("Content-Type", content_type)], invocation_id);
        self.post(py, &path, &headers, body.as_bytes())
    }

    /// Post a handler error (JSON body); returns the HTTP status.
    #[pyo3(signature = (request_id, body, error_type, xray_cause=None, invocation_id=None))]
    fn post_error(
        &self,
        py: Python<'_>,
        request_id: &str,
        body: &Bound<'_, PyBytes>,
        error_type: &str,
        xray_cause: Option<&str>,
        invocation_id: Option<&str>,
    ) -> PyResult<u16> {
        let path = format!("/2018-06-01/runtime/invocation/{request_id}/error");
        let mut headers = vec![
            ("Content-Type", "application/json"),
            (ERROR_TYPE_HEADER, error_type),
        ];
        if let Some(cause) = xray_cause.filter(|cause| !cause.is_empty()) {
            headers.push((XRAY_CAUSE_HEADER, cause));
        }
        let headers = with_invocation_id(headers, invocation_id);
        self.post(py, &path, &headers, body.as_bytes())
    }

    /// Post an init error (JSON body); returns the HTTP status.
    fn post_init_error(
        &self,
        py: Python<'_>,
        body: &Bound<'_, PyBytes>,
        error_type: &str,
    ) -> PyResult<u16> {
        let headers = [
            ("Content-Type", "application/json"),
            (ERROR_TYPE_HEADER, error_type),
        ];
        self.post(py, INIT_ERROR_PATH, &headers, body.as_bytes())
    }

    /// Any other Runtime API call (e.g. the `SnapStart` restore endpoints):
    /// `(status, body)`.
    #[pyo3(signature = (method, path, body=None, error_type=None))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        path: &str,
        body: Option<&Bound<'_, PyBytes>>,
        error_type: Option<&str>,
    ) -> PyResult<(u16, Bound<'py, PyBytes>)> {
        let mut headers = Vec::new();
        if let Some(error_type) = error_type {
            headers.push((ERROR_TYPE_HEADER, error_type));
        }
        let body = body.map_or(&[][..], |b| b.as_bytes());
        let response = self.exchange(py, method, path, &headers, body, false)?;
        Ok((response.status, PyBytes::new(py, &response.body)))
    }

    /// Decode JSON made of plain JSON values; raises `ValueError` for anything else
    /// (the caller then applies the full rules).
    #[staticmethod]
    fn json_loads<'py>(py: Python<'py>, data: &Bound<'_, PyBytes>) -> PyResult<Bound<'py, PyAny>> {
        event_json::loads(py, data.as_bytes())
            .map_err(|event_json::Declined| PyValueError::new_err("not plain JSON"))
    }

    /// Encode a value made of exact `dict`/`list`/`tuple`/`str`/`int`/finite `float`/`bool`/
    /// `None`/`Decimal`; `None` when it holds anything else (the caller then applies the full
    /// rules).
    #[staticmethod]
    fn json_dumps<'py>(py: Python<'py>, value: &Bound<'py, PyAny>) -> Option<Bound<'py, PyBytes>> {
        result_json::dumps(value)
            .ok()
            .map(|out| PyBytes::new(py, &out))
    }
}
