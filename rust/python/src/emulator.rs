//! The Python API's `Emulator`: a core emulator on its own tokio runtime, invoked straight
//! through its schedulers (no HTTP hop), with the GIL released around every wait.

mod completion;
mod function;
mod metrics;
mod result;
mod running;
mod settings;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use lambda_rie_core::aws::ServiceError;
use lambda_rie_core::config::{FunctionConfig, RunAs};
use lambda_rie_core::invocation::{check_client_context, Invocation};
use lambda_rie_core::CoreError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyDict;

use crate::errors::{self, CoreErr, ServiceErr};
use completion::{Completion, Deliverer};
pub use function::function_defaults;
use function::PyFunction;
pub use result::InvokeResult;
use running::Running;
use settings::{endpoint_url, Settings};

// NOTE: how often a waiting `invoke` takes the GIL back to run Python's signal handlers, so
// Ctrl-C interrupts a long invocation within 50 ms. An answer wakes the waiter at once; only
// idle waits pay these wake-ups.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// A running emulator serving `Function`s, with its Invoke API on `endpoint_url`.
#[pyclass(frozen, module = "lambda_rie._core")]
pub struct Emulator {
    running: Mutex<Option<Running>>,
    /// The metrics at close, so that they can be read after the `with` block.
    final_metrics: Mutex<String>,
    functions: Vec<FunctionConfig>,
    endpoint_url: String,
    region: String,
    account_id: String,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The invoke body as AWS checks it (one source of truth: the core).
fn checked_payload(payload: PyBackedBytes, event: bool) -> Result<Bytes, ServiceError> {
    lambda_rie_core::invocation::check_payload(Bytes::from_owner(payload), event)
}

impl Emulator {
    /// Check the request, hand it to the function's scheduler on the runtime, return at once.
    fn start(
        &self,
        name: &str,
        payload: PyBackedBytes,
        client_context: Option<String>,
        with_fd: bool,
    ) -> PyResult<Arc<Completion>> {
        let payload = checked_payload(payload, false).map_err(ServiceErr)?;
        let client_context = client_context
            .map(|c| check_client_context(c.into_bytes()))
            .transpose()
            .map_err(ServiceErr)?;
        let (spawner, target) = {
            let running = lock(&self.running);
            let running = running.as_ref().ok_or_else(errors::closed)?;
            (
                running.spawner(),
                running.resolve(name).map_err(ServiceErr)?,
            )
        };
        let completion = Completion::new(with_fd).map_err(|e| CoreErr(CoreError::Io(e)))?;
        let mut invocation = Invocation::new(payload, target.invoked_arn);
        invocation.client_context = client_context;
        invocation.want_log = true;
        let deliverer = Deliverer::new(&completion);
        let scheduler = target.scheduler;
        // NOTE: spawned rather than polled here, so that a caller interrupted by Ctrl-C leaves
        // the invocation to finish (or to be answered at shutdown) instead of cancelling it
        // half-way through the scheduler.
        running::spawn_invocation(&spawner, async move {
            deliverer.finish(scheduler.invoke(invocation).await);
        });
        Ok(completion)
    }
}

#[pymethods]
impl Emulator {
    /// Start serving `functions` (objects with the attributes of `lambda_rie.Function`) and
    /// those of the config `file` (`lambda-rie.toml` or a SAM template); the Invoke API
    /// listens on `address`.
    #[new]
    // NOTE: one argument per Python keyword argument, as pyo3 maps them.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (functions, address, *, file=None, max_environments=None, on_throttle=None, region=None, account_id=None, log_level=None, run_as=None, state_dir=None))]
    fn new(
        py: Python<'_>,
        functions: Vec<PyFunction>,
        address: &str,
        file: Option<PathBuf>,
        max_environments: Option<u32>,
        on_throttle: Option<&str>,
        region: Option<String>,
        account_id: Option<String>,
        log_level: Option<&str>,
        run_as: Option<&str>,
        state_dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        let settings = Settings {
            address,
            max_environments,
            on_throttle,
            region,
            account_id,
            log_level,
        };
        let mut config = settings.emulator_config()?;
        config.handler_runtime = Some(function::handler_runtime(py)?);
        let mut functions = function::build(py, functions, file, &config)?;
        if let Some(value) = run_as {
            let run_as = RunAs::parse(value).map_err(|e| errors::config(format!("run_as: {e}")))?;
            for f in &mut functions {
                f.run_as = run_as;
            }
            config.run_as = Some(run_as);
        }
        if functions.is_empty() && state_dir.is_none() {
            return Err(errors::config(
                "functions: give at least one Function, a config file or a state_dir".to_owned(),
            ));
        }
        config.state_dir = state_dir;
        let served = functions.clone();
        let running = py
            .detach(|| Running::start(&config, functions))
            .map_err(CoreErr)?;
        Ok(Self {
            endpoint_url: endpoint_url(running.invoke_address()),
            running: Mutex::new(Some(running)),
            final_metrics: Mutex::new(String::new()),
            functions: served,
            region: config.region,
            account_id: config.account_id,
        })
    }

    /// The served functions, default first, as `Function` keyword arguments (plus `name`).
    fn functions<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.functions
            .iter()
            .map(|f| function::describe(py, f))
            .collect()
    }

    /// `http://127.0.0.1:PORT`: the Invoke API, for boto3 and the aws CLI.
    #[getter]
    fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// The region of the functions' ARNs.
    #[getter]
    fn region(&self) -> &str {
        &self.region
    }

    /// The account of the functions' ARNs.
    #[getter]
    fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Whether `close()` has run.
    #[getter]
    fn closed(&self) -> bool {
        lock(&self.running).is_none()
    }

    /// Invoke `name` (a name, `function` or an ARN) with the JSON `payload` and wait for the
    /// answer.
    #[pyo3(signature = (name, payload, client_context=None))]
    fn invoke(
        &self,
        py: Python<'_>,
        name: &str,
        payload: PyBackedBytes,
        client_context: Option<String>,
    ) -> PyResult<InvokeResult> {
        let (completion, mut reply) = py.detach(|| {
            let completion = self.start(name, payload, client_context, false)?;
            let reply = completion.wait(SIGNAL_POLL);
            Ok::<_, PyErr>((completion, reply))
        })?;
        loop {
            if let Some(reply) = reply {
                return InvokeResult::from_reply(py, reply);
            }
            py.check_signals()?;
            reply = py.detach(|| completion.wait(SIGNAL_POLL));
        }
    }

    /// Start invoking `name` without waiting: the answer comes through the returned
    /// `PendingInvocation`, whose `fileno()` turns readable once it is in (for asyncio).
    #[pyo3(signature = (name, payload, client_context=None))]
    fn submit(
        &self,
        py: Python<'_>,
        name: &str,
        payload: PyBackedBytes,
        client_context: Option<String>,
    ) -> PyResult<PendingInvocation> {
        let completion = py.detach(|| self.start(name, payload, client_context, true))?;
        Ok(PendingInvocation { completion })
    }

    /// Queue an `Event` invocation of `name` with the JSON `payload`; returns its request id.
    fn invoke_event(&self, py: Python<'_>, name: &str, payload: PyBackedBytes) -> PyResult<String> {
        py.detach(|| {
            let payload = checked_payload(payload, true).map_err(ServiceErr)?;
            let running = lock(&self.running);
            let running = running.as_ref().ok_or_else(errors::closed)?;
            let target = running.resolve(name).map_err(ServiceErr)?;
            Ok(running.enqueue(target, payload).map_err(ServiceErr)?)
        })
    }

    /// Every metric of docs/reference.md §12 as `name:label:...` -> value; after `close()`, the
    /// final values.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let text = match lock(&self.running).as_ref() {
            Some(running) => running.metrics_text(),
            None => lock(&self.final_metrics).clone(),
        };
        let out = PyDict::new(py);
        for (key, value) in metrics::flatten(&text) {
            out.set_item(key, value)?;
        }
        Ok(out)
    }

    /// Stop the Invoke API, let queued events and HTTP invocations finish (up to 10 s), stop
    /// every environment (SIGTERM, SIGKILL after 2 s; direct invocations still running are
    /// answered then) and the runtime's threads. Idempotent.
    fn close(&self, py: Python<'_>) {
        let running = lock(&self.running).take();
        if let Some(running) = running {
            let metrics = py.detach(|| running.stop());
            *lock(&self.final_metrics) = metrics;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(running) = running {
            running.stop();
        }
    }
}

/// An invocation started by `Emulator.submit`.
#[pyclass(frozen, module = "lambda_rie._core")]
pub struct PendingInvocation {
    completion: Arc<Completion>,
}

#[pymethods]
impl PendingInvocation {
    /// A descriptor that turns readable once the answer is in (for `loop.add_reader`).
    fn fileno(&self) -> i32 {
        self.completion.fileno().unwrap_or(-1)
    }

    /// The answer, as `Emulator.invoke` returns it (or raises it); `None` while there is none.
    fn result(&self, py: Python<'_>) -> PyResult<Option<InvokeResult>> {
        self.completion
            .take()
            .map(|reply| InvokeResult::from_reply(py, reply))
            .transpose()
    }
}
