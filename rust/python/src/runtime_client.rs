//! Blocking Runtime API client of the built-in Python runtime: keep-alive HTTP/1.1 over
//! `std::net` (no tokio in the runtime process), GIL released while waiting, signals honoured.

mod event_json;
mod http;
mod result_json;
mod signals;
mod stream;
mod trace_env;
mod wire;

use std::sync::{Mutex, MutexGuard, TryLockError};

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use http::{Connection, Response, RETAINED_BYTES};
use signals::{install_sigterm_handler, terminated};
pub use stream::ResponseStream;
pub use trace_env::put_trace_id;

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";
const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";
const XRAY_CAUSE_HEADER: &str = "Lambda-Runtime-Function-XRay-Error-Cause";
const INVOCATION_ID_HEADER: &str = "Lambda-Runtime-Invocation-Id";
const JSON_CONTENT_TYPE: &str = "application/json";

/// Keep-alive HTTP/1.1 client of the Lambda Runtime API at `AWS_LAMBDA_RUNTIME_API`.
///
/// Posting methods return the HTTP status; transport failures raise `OSError`.
#[pyclass(frozen, module = "lambda_rie._core")]
pub struct RuntimeClient {
    connection: Mutex<Connection>,
    /// The JSON body staged by `stage_json_response`, in a buffer reused across invocations.
    staged: Mutex<Vec<u8>>,
}

fn lock<T>(mutex: &Mutex<T>) -> PyResult<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Ok(guard),
        Err(TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => Err(PyRuntimeError::new_err(
            "RuntimeClient is already in use by another call",
        )),
    }
}

/// Send one request and wait for its response, releasing the GIL and checking signals every
/// poll interval. The response body stays in `connection` (see `Connection::body`).
fn exchange(
    py: Python<'_>,
    connection: &mut Connection,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    wait_for_event: bool,
) -> PyResult<Response> {
    py.detach(|| connection.send(method, path, headers, body))
        .map_err(|err| os_error(&err))?;
    await_response(py, connection, body, wait_for_event)
}

/// Wait for the response to the request just sent (`body` is replayed on a stale connection).
fn await_response(
    py: Python<'_>,
    connection: &mut Connection,
    body: &[u8],
    wait_for_event: bool,
) -> PyResult<Response> {
    loop {
        match py.detach(|| connection.poll_response(body)) {
            Ok(Some(response)) => return Ok(response),
            Ok(None) => {
                let checked =
                    py.check_signals().and_then(
                        |()| {
                            if wait_for_event {
                                terminated()
                            } else {
                                Ok(())
                            }
                        },
                    );
                if let Err(err) = checked {
                    connection.reset();
                    return Err(err);
                }
            }
            Err(err) => return Err(os_error(&err)),
        }
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

fn response_path(request_id: &str) -> String {
    format!("/2018-06-01/runtime/invocation/{request_id}/response")
}

impl RuntimeClient {
    fn post(
        &self,
        py: Python<'_>,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> PyResult<u16> {
        let mut connection = lock(&self.connection)?;
        Ok(exchange(py, &mut connection, "POST", path, headers, body, false)?.status)
    }

    /// Wait on `/next`; the event body is left in `connection`.
    fn next_invocation<'py>(
        py: Python<'py>,
        connection: &mut Connection,
    ) -> PyResult<(Response, Bound<'py, PyDict>)> {
        terminated()?;
        let response = exchange(py, connection, "GET", NEXT_PATH, &[], &[], true)?;
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
        Ok((response, headers))
    }
}

#[pymethods]
impl RuntimeClient {
    /// A client of the Runtime API at `address` (`host:port`); connects on first use.
    #[new]
    fn new(address: String) -> Self {
        install_sigterm_handler();
        RuntimeClient {
            connection: Mutex::new(Connection::new(address)),
            staged: Mutex::new(Vec::new()),
        }
    }

    /// Wait for the next invocation: `(event bytes, headers with lower-case names)`.
    ///
    /// Raises `SystemExit(0)` once SIGTERM has been received.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyDict>)> {
        let mut connection = lock(&self.connection)?;
        let (response, headers) = Self::next_invocation(py, &mut connection)?;
        Ok((PyBytes::new(py, connection.body(&response)), headers))
    }

    /// Wait for the next invocation: `(event, headers with lower-case names, decoded)`.
    ///
    /// An `application/json` event made of plain JSON values is decoded straight from the
    /// receive buffer (`decoded` is true); any other event comes as its raw `bytes`.
    /// Raises `SystemExit(0)` once SIGTERM has been received.
    fn next_event<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>, bool)> {
        let mut connection = lock(&self.connection)?;
        let (response, headers) = Self::next_invocation(py, &mut connection)?;
        let body = connection.body(&response);
        // The last Content-Type wins, as in the headers dict.
        let content_type = response
            .headers
            .iter()
            .rev()
            .find(|h| h.0 == "content-type");
        if content_type.is_some_and(|(_, value)| value == JSON_CONTENT_TYPE) {
            if let Ok(event) = event_json::loads(py, body) {
                return Ok((event, headers, true));
            }
        }
        Ok((PyBytes::new(py, body).into_any(), headers, false))
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
        let headers = with_invocation_id(vec![("Content-Type", content_type)], invocation_id);
        self.post(py, &response_path(request_id), &headers, body.as_bytes())
    }

    /// Encode `value` as the JSON body for `post_staged_response`, into a buffer the client
    /// reuses; `False` (nothing staged) when it holds anything but exact `dict`/`list`/
    /// `tuple`/`str`/`int`/finite `float`/`bool`/`None`/`Decimal` (the caller then applies
    /// the full rules).
    fn stage_json_response(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mut staged = lock(&self.staged)?;
        staged.clear();
        if result_json::dumps_into(&mut staged, value).is_ok() {
            return Ok(true);
        }
        staged.clear();
        Ok(false)
    }

    /// Post the JSON body staged by `stage_json_response` as a result; returns the HTTP status.
    #[pyo3(signature = (request_id, invocation_id=None))]
    fn post_staged_response(
        &self,
        py: Python<'_>,
        request_id: &str,
        invocation_id: Option<&str>,
    ) -> PyResult<u16> {
        let mut staged = lock(&self.staged)?;
        if staged.is_empty() {
            return Err(PyRuntimeError::new_err("no JSON response is staged"));
        }
        let headers = with_invocation_id(vec![("Content-Type", JSON_CONTENT_TYPE)], invocation_id);
        let status = self.post(py, &response_path(request_id), &headers, &staged);
        if staged.capacity() > RETAINED_BYTES {
            *staged = Vec::new();
        }
        staged.clear();
        status
    }

    /// Begin a streamed result (`Lambda-Runtime-Function-Response-Mode: streaming`): write
    /// its chunks with `ResponseStream.write`, end it with `ResponseStream.finish`.
    #[pyo3(signature = (request_id, content_type, invocation_id=None))]
    fn start_stream(
        slf: &Bound<'_, Self>,
        request_id: &str,
        content_type: &str,
        invocation_id: Option<&str>,
    ) -> PyResult<ResponseStream> {
        ResponseStream::start(slf, &response_path(request_id), content_type, invocation_id)
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
            ("Content-Type", JSON_CONTENT_TYPE),
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
            ("Content-Type", JSON_CONTENT_TYPE),
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
        let mut connection = lock(&self.connection)?;
        let response = exchange(py, &mut connection, method, path, &headers, body, false)?;
        Ok((
            response.status,
            PyBytes::new(py, connection.body(&response)),
        ))
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
