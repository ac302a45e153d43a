//! A started core emulator on its own tokio runtime, and the routing of direct invocations to
//! its schedulers (the same resolution as the Invoke API's path).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lambda_rie_core::aws::ServiceError;
use lambda_rie_core::config::{EmulatorConfig, FunctionConfig};
use lambda_rie_core::emulator::Emulator as CoreEmulator;
use lambda_rie_core::registry::Target;
use lambda_rie_core::CoreError;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// How long closing waits for the runtime's threads once every environment is stopped.
const RUNTIME_STOP: Duration = Duration::from_secs(5);
// NOTE: the emulator only moves bytes between sockets and pipes. Measured with 1/2/4/8 workers
// (benches/test_api_bench.py, 2 CPUs): warm invoke median 0.15/0.13/0.15/0.15 ms, 20 concurrent
// invokes 1.9/1.9/2.0/2.0 ms, start-up 0.12/0.11/0.15/0.22 ms. Two it is; a test session that
// starts many emulators stays light on threads.
const WORKER_THREADS: usize = 2;

/// Direct invocations spawned and not yet answered.
pub type InFlight = Arc<Mutex<Vec<JoinHandle<()>>>>;

/// A running core emulator and the runtime it runs on.
pub struct Running {
    runtime: Runtime,
    emulator: CoreEmulator,
    /// Closing waits for these (their environments are stopped by then, so each ends at once)
    /// before the runtime goes: each is answered, and counted in the final metrics.
    in_flight: InFlight,
}

impl Running {
    /// Build the runtime and start the emulator on it (call with the GIL released).
    pub fn start(
        config: &EmulatorConfig,
        functions: Vec<FunctionConfig>,
    ) -> Result<Self, CoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("lambda-rie")
            .enable_all()
            .build()?;
        let emulator = runtime.block_on(CoreEmulator::start(config, functions))?;
        Ok(Self {
            runtime,
            emulator,
            in_flight: InFlight::default(),
        })
    }

    /// Where to spawn a direct invocation, and the list that closing waits for.
    pub fn spawner(&self) -> (tokio::runtime::Handle, InFlight) {
        (self.runtime.handle().clone(), Arc::clone(&self.in_flight))
    }

    /// Where the Invoke API listens.
    pub fn invoke_address(&self) -> std::net::SocketAddr {
        self.emulator.invoke_address()
    }

    /// The Prometheus text of every function's metrics.
    pub fn metrics_text(&self) -> String {
        self.emulator.metrics_text()
    }

    /// The function a name, `function`, or an ARN (with qualifier) names, or AWS's 404.
    pub fn resolve(&self, name: &str) -> Result<Target, ServiceError> {
        self.emulator.registry().resolve(name, None)
    }

    /// Queue an `Event` invocation of `payload`; returns its request id (429 when full).
    pub fn enqueue(&self, target: Target, payload: bytes::Bytes) -> Result<String, ServiceError> {
        let _entered = self.runtime.enter();
        self.emulator.events().accept(target, payload, None)
    }

    /// Let queued events finish (up to the shutdown timeout), stop every environment and the
    /// runtime's threads; returns the final metrics text. Call with the GIL released.
    pub fn stop(self) -> String {
        let Self {
            runtime,
            emulator,
            in_flight,
        } = self;
        // The core's shutdown drains queued events first (up to the shutdown timeout).
        runtime.block_on(emulator.shutdown());
        let answering = std::mem::take(&mut *lock(&in_flight));
        runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + RUNTIME_STOP;
            for task in answering {
                let _ = tokio::time::timeout_at(deadline, task).await;
            }
        });
        let metrics = emulator.metrics_text();
        drop(emulator);
        runtime.shutdown_timeout(RUNTIME_STOP);
        metrics
    }
}

/// Spawn `task`, a direct invocation, on `handle` and keep it in `in_flight` (finished ones are
/// dropped from it as new ones come).
pub fn spawn_invocation(
    (handle, in_flight): &(tokio::runtime::Handle, InFlight),
    task: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let spawned = handle.spawn(task);
    let mut tasks = lock(in_flight);
    tasks.retain(|t| !t.is_finished());
    tasks.push(spawned);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
