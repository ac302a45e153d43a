//! `InvokeResult`: one answered invocation as Python receives it, built here from the core's
//! `Outcome`, so that the class, its stub and what `invoke`/`ainvoke` return are one thing.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use pyo3::{intern, IntoPyObjectExt};

use super::completion::Reply;
use crate::errors::{self, ServiceErr};

/// How many bytes of the payload the repr shows.
const REPR_PAYLOAD_BYTES: usize = 80;

/// The answer to one invocation, with the figures of its REPORT line.
// NOTE: `subclass`: a test suite may derive its own doubles from it (their fields stay
// read-only too); `__getnewargs_ex__` makes it picklable with protocol 2 and later.
#[pyclass(frozen, subclass, module = "lambda_rie._core")]
pub struct InvokeResult {
    /// 200 for a synchronous invocation (also when the function failed).
    #[pyo3(get)]
    status_code: u16,
    /// Exactly the bytes the function returned (or the error JSON when it failed).
    #[pyo3(get)]
    payload: Py<PyBytes>,
    /// `"Unhandled"` when the function failed (error, timeout, crash), else `None`.
    #[pyo3(get)]
    function_error: Option<Py<PyString>>,
    /// This invocation's log lines, START to REPORT (the last 4 KB at most).
    #[pyo3(get)]
    log_tail: Py<PyString>,
    /// The request id (`context.aws_request_id`).
    #[pyo3(get)]
    request_id: Py<PyString>,
    /// Whether a new runtime process was started for this invocation.
    #[pyo3(get)]
    cold_start: bool,
    /// Init duration of a cold start; `None` on a warm start.
    #[pyo3(get)]
    init_duration_ms: Option<f64>,
    /// Invocation duration, as in REPORT.
    #[pyo3(get)]
    duration_ms: f64,
    /// Peak memory of the execution environment, as in REPORT.
    #[pyo3(get)]
    max_memory_used_mb: u64,
}

impl InvokeResult {
    /// The result of an answered synchronous invocation; a service error (or the emulator
    /// closing first) is raised as its exception instead.
    pub fn from_reply(py: Python<'_>, reply: Reply) -> PyResult<Self> {
        let outcome = match reply {
            Reply::Done(Ok(outcome)) => outcome,
            Reply::Done(Err(e)) => return Err(ServiceErr(e).into()),
            Reply::Closed => return Err(errors::closed()),
        };
        Ok(Self {
            status_code: 200,
            payload: PyBytes::new(py, &outcome.payload).unbind(),
            function_error: outcome
                .function_error()
                .map(|error| PyString::intern(py, error).unbind()),
            log_tail: PyString::new(py, &String::from_utf8_lossy(&outcome.log_tail)).unbind(),
            request_id: PyString::new(py, &outcome.request_id).unbind(),
            cold_start: outcome.cold_start,
            init_duration_ms: outcome.init_duration_ms,
            duration_ms: outcome.duration_ms,
            max_memory_used_mb: outcome.max_memory_used_mb,
        })
    }
}

#[pymethods]
impl InvokeResult {
    /// A result built by hand (the emulator builds its own), e.g. for a test double.
    #[new]
    // NOTE: one keyword-only argument per field, so that a caller names every figure it sets.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (*, status_code, payload, function_error=None, log_tail="", request_id="", cold_start=false, init_duration_ms=None, duration_ms=0.0, max_memory_used_mb=0))]
    fn new(
        status_code: u16,
        payload: Bound<'_, PyBytes>,
        function_error: Option<Bound<'_, PyString>>,
        log_tail: &str,
        request_id: &str,
        cold_start: bool,
        init_duration_ms: Option<f64>,
        duration_ms: f64,
        max_memory_used_mb: u64,
    ) -> Self {
        let py = payload.py();
        Self {
            status_code,
            payload: payload.unbind(),
            function_error: function_error.map(Bound::unbind),
            log_tail: PyString::new(py, log_tail).unbind(),
            request_id: PyString::new(py, request_id).unbind(),
            cold_start,
            init_duration_ms,
            duration_ms,
            max_memory_used_mb,
        }
    }

    /// The payload decoded from JSON.
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        LOADS
            .import(py, "orjson", "loads")?
            .call1((self.payload.bind(py),))
    }

    /// The keyword arguments that rebuild this result (for `pickle` and `copy`).
    fn __getnewargs_ex__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let fields = PyDict::new(py);
        fields.set_item(intern!(py, "status_code"), self.status_code)?;
        fields.set_item(intern!(py, "payload"), &self.payload)?;
        fields.set_item(intern!(py, "function_error"), &self.function_error)?;
        fields.set_item(intern!(py, "log_tail"), &self.log_tail)?;
        fields.set_item(intern!(py, "request_id"), &self.request_id)?;
        fields.set_item(intern!(py, "cold_start"), self.cold_start)?;
        fields.set_item(intern!(py, "init_duration_ms"), self.init_duration_ms)?;
        fields.set_item(intern!(py, "duration_ms"), self.duration_ms)?;
        fields.set_item(intern!(py, "max_memory_used_mb"), self.max_memory_used_mb)?;
        Ok((PyTuple::empty(py), fields))
    }

    /// `<InvokeResult 200 request_id='...' cold_start=True duration_ms=1.23 payload=b'...'>`,
    /// with `function_error` after the request id when the function failed.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let payload = self.payload.as_bytes(py);
        let shown = PyBytes::new(py, &payload[..payload.len().min(REPR_PAYLOAD_BYTES)]);
        let error = match &self.function_error {
            Some(error) if error.bind(py).is_truthy()? => {
                format!(", function_error={}", error.bind(py).repr()?)
            }
            _ => String::new(),
        };
        let duration = self.duration_ms.into_bound_py_any(py)?;
        Ok(format!(
            "<InvokeResult {} request_id={}{error} cold_start={} duration_ms={} payload={}>",
            self.status_code,
            self.request_id.bind(py).repr()?,
            if self.cold_start { "True" } else { "False" },
            duration.call_method1(intern!(py, "__format__"), (intern!(py, ".2f"),))?,
            shown.repr()?,
        ))
    }
}
