//! A streamed function result: the body goes to the Runtime API in HTTP chunks as the handler
//! produces them, and an error met midway goes in the trailers AWS documents.

use std::sync::atomic::{AtomicU8, Ordering};

use base64::Engine as _;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::http::Connection;
use super::{await_response, lock, os_error, with_invocation_id, RuntimeClient, ERROR_TYPE_HEADER};

const MODE_HEADER: &str = "Lambda-Runtime-Function-Response-Mode";
const TRAILER_HEADER: &str = "Trailer";
const ERROR_BODY_TRAILER: &str = "Lambda-Runtime-Function-Error-Body";
const TRAILERS: &str = "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body";

/// Writing chunks.
const OPEN: u8 = 0;
/// A write failed: the Runtime API stopped reading (its answer may still be readable).
const BROKEN: u8 = 1;
/// `finish` was called.
const FINISHED: u8 = 2;

/// A streamed result being written to the Runtime API (from `RuntimeClient.start_stream`).
#[pyclass(frozen, module = "lambda_rie._core")]
pub struct ResponseStream {
    client: Py<RuntimeClient>,
    state: AtomicU8,
}

impl ResponseStream {
    /// Write the head of the streamed `/response` at `path`.
    pub fn start(
        client: &Bound<'_, RuntimeClient>,
        path: &str,
        content_type: &str,
        invocation_id: Option<&str>,
    ) -> PyResult<Self> {
        let headers = with_invocation_id(
            vec![
                ("Content-Type", content_type),
                (MODE_HEADER, "streaming"),
                (TRAILER_HEADER, TRAILERS),
            ],
            invocation_id,
        );
        let mut guard = lock(&client.get().connection)?;
        let connection: &mut Connection = &mut guard;
        client
            .py()
            .detach(|| connection.start_chunks("POST", path, &headers))
            .map_err(|err| os_error(&err))?;
        Ok(ResponseStream {
            client: client.clone().unbind(),
            state: AtomicU8::new(OPEN),
        })
    }
}

#[pymethods]
impl ResponseStream {
    /// Send `data` as one chunk now (nothing for empty `data`); raises `OSError` when the
    /// Runtime API no longer reads the stream (call `finish` for its answer).
    fn write(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        if self.state.load(Ordering::Acquire) != OPEN {
            return Err(PyRuntimeError::new_err("the response stream is not open"));
        }
        let mut guard = lock(&self.client.get().connection)?;
        let connection: &mut Connection = &mut guard;
        py.detach(|| connection.write_chunk(data)).map_err(|err| {
            self.state.store(BROKEN, Ordering::Release);
            os_error(&err)
        })
    }

    /// End the stream, with `error` = `(error type, error JSON)` sent as trailers when the
    /// handler failed midway; returns the HTTP status (202 when accepted).
    #[pyo3(signature = (error=None))]
    // NOTE: pyo3 hands a tuple argument over as owned values.
    #[allow(clippy::needless_pass_by_value)]
    fn finish(&self, py: Python<'_>, error: Option<(String, Bound<'_, PyBytes>)>) -> PyResult<u16> {
        let state = self.state.swap(FINISHED, Ordering::AcqRel);
        if state == FINISHED {
            return Err(PyRuntimeError::new_err("the response stream is finished"));
        }
        let mut guard = lock(&self.client.get().connection)?;
        let connection: &mut Connection = &mut guard;
        if state == OPEN {
            let body = error
                .as_ref()
                .map(|(_, json)| base64::engine::general_purpose::STANDARD.encode(json.as_bytes()));
            let mut trailers = Vec::new();
            if let (Some((error_type, _)), Some(body)) = (&error, &body) {
                trailers.push((ERROR_TYPE_HEADER, error_type.as_str()));
                trailers.push((ERROR_BODY_TRAILER, body.as_str()));
            }
            if let Err(err) = py.detach(|| connection.end_chunks(&trailers)) {
                connection.reset();
                return Err(os_error(&err));
            }
        }
        let answer = await_response(py, connection, &[], false);
        if state == BROKEN {
            connection.reset();
        }
        Ok(answer?.status)
    }
}
