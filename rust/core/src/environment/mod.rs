//! One execution environment (docs/reference.md §4): a Runtime API listener, a log stream and
//! (while it lives) a runtime process tree. Its lifecycle (create, reset, shutdown) is in
//! `lifecycle`, its init phase in `init`, running an invocation in `run`, and how an invocation
//! ended and what that comes to in `ending`.

mod ending;
pub mod extensions;
mod function;
mod init;
mod lifecycle;
mod limits;
mod log_stream;
pub mod process;
mod response_stream;
mod run;
pub mod sandbox;
pub(crate) mod steps;
pub mod variables;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::runtime_api::RuntimeApi;
pub use function::{FunctionContext, InitializationType};
use log_stream::LogStream;
use process::RuntimeProcess;
pub use run::{Invoked, PostInvoke};
use sandbox::Sandbox;

/// An execution environment.
pub struct ExecutionEnvironment {
    id: u64,
    function: Arc<FunctionContext>,
    api: RuntimeApi,
    logs: LogStream,
    /// Output of the external extensions (their own pipe: `extension` telemetry records).
    extension_logs: LogStream,
    /// External extensions started by the last init.
    extensions: Mutex<Vec<extensions::ExternalExtension>>,
    variables: Vec<(String, String)>,
    process: Mutex<Option<Arc<RuntimeProcess>>>,
    start_lock: tokio::sync::Mutex<()>,
    initialization_type: InitializationType,
    sandbox: Sandbox,
    /// SnapStart: the runtime forked ahead for this environment, in its cgroup, until its
    /// first restore takes it.
    spare: Mutex<Option<crate::snapstart::SpareRuntime>>,
    /// Invocations in flight; freezing and thawing happen under this lock.
    in_flight: Mutex<u32>,
    /// Kernel OOM kills and process-limit hits already accounted for.
    /// Set by `stop`: no runtime starts in this environment any more (a cold start cut short
    /// by it is not run again as a suppressed init).
    stopped: std::sync::atomic::AtomicBool,
    oom_kills_seen: std::sync::atomic::AtomicU64,
    pid_limit_hits_seen: std::sync::atomic::AtomicU64,
}

impl ExecutionEnvironment {
    /// The environment's number within the emulator.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The Runtime API address.
    pub fn runtime_api_addr(&self) -> SocketAddr {
        self.api.addr()
    }

    /// How the environment was initialised.
    pub fn initialization_type(&self) -> InitializationType {
        self.initialization_type
    }

    /// The runtime's process id, while one runs.
    pub fn pid(&self) -> Option<i32> {
        self.live_process().map(|p| p.pid())
    }

    fn slot(&self) -> MutexGuard<'_, Option<Arc<RuntimeProcess>>> {
        self.process.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The running runtime process; a dead one is forgotten (the next invoke is a cold start).
    fn live_process(&self) -> Option<Arc<RuntimeProcess>> {
        let mut slot = self.slot();
        if slot.as_ref().is_some_and(|p| p.exited().is_some()) {
            *slot = None;
        }
        slot.clone()
    }

    fn forget_process(&self, process: &Arc<RuntimeProcess>) {
        let mut slot = self.slot();
        if slot.as_ref().is_some_and(|p| Arc::ptr_eq(p, process)) {
            *slot = None;
        }
    }
}
