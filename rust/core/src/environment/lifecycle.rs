//! An execution environment's lifecycle (docs/reference.md §4): its creation (Runtime API
//! listener, log streams, sandbox, variables), the resets after a failed invocation, and its
//! shutdown. The init phase is in `init`; running an invocation in `run`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::ending::Reset;
use super::extensions::ShutdownReason;
use super::function::{FunctionContext, InitializationType};
use super::log_stream::LogStream;
use super::process::RuntimeProcess;
use super::sandbox::{self, Sandbox};
use super::{variables, ExecutionEnvironment};
use crate::config::STOP_GRACE;
use crate::runtime_api::telemetry::Category;
use crate::runtime_api::RuntimeApi;
use crate::snapstart::SpareRuntime;
use crate::CoreError;

impl ExecutionEnvironment {
    /// Create an environment listening on `runtime_api` (or on `listener`, bound earlier to
    /// that address); no runtime process yet.
    pub async fn create(
        id: u64,
        function: Arc<FunctionContext>,
        runtime_api: SocketAddr,
        listener: Option<std::net::TcpListener>,
        initialization_type: InitializationType,
    ) -> Result<Self, CoreError> {
        let mut steps = super::steps::Steps::start();
        let api = RuntimeApi::bind(runtime_api, listener).await?;
        steps.mark("Runtime API");
        api.state()
            .set_function_meta(crate::runtime_api::FunctionMeta {
                function_name: function.config.name.clone(),
                handler: function.config.handler.clone().unwrap_or_default(),
                account_id: function.account_id.clone(),
            });
        let hub = Arc::clone(&api.state().telemetry);
        let logs = LogStream::start(Arc::clone(&hub), Category::Function)?;
        let extension_logs = LogStream::start(hub, Category::Extension)?;
        steps.mark("log streams");
        let config = function.config.clone();
        let layers = function.layers.as_ref().map(|l| l.dir().to_owned());
        let mut spare = function
            .snapstart
            .as_ref()
            .and_then(|template| template.take_spare());
        let adopted = spare.as_mut().and_then(SpareRuntime::take_cgroup);
        let sandbox = tokio::task::spawn_blocking(move || {
            Sandbox::create_with(id, &config, layers.as_deref(), adopted)
        })
        .await
        .map_err(|e| CoreError::Io(std::io::Error::other(e)))??;
        if let Some(template) = &function.snapstart {
            template.prepare_spare(function.config.clone());
        }
        steps.mark("sandbox");
        steps.log(|| format!("environment {id} of {} created", function.config.name));
        if sandbox::Capabilities::get().runtime_api_check() {
            api.admit_only(Arc::clone(&sandbox.members) as Arc<dyn crate::runtime_api::Membership>);
        }
        let log_stream_name = variables::new_log_stream_name(&function.config.version);
        // NOTE: the scheduler keeps its own notion (on-demand or provisioned); the runtime is
        // told `snap-start` when it is restored from a template.
        let seen_type = if function.snapstart.is_some() {
            InitializationType::SnapStart
        } else {
            initialization_type
        };
        let mut variables = variables::runtime_environment(&variables::EnvironmentFacts {
            function: &function.config,
            region: &function.region,
            runtime_api: api.addr(),
            log_stream_name: &log_stream_name,
            initialization_type: seen_type.as_str(),
        });
        if let Some(dir) = sandbox.tmpdir() {
            variables.push(("TMPDIR".to_owned(), dir.to_string_lossy().into_owned()));
        }
        if let Some(layers) = &function.layers {
            variables::add_python_path(&mut variables, &layers.python_path());
        }
        Ok(Self {
            id,
            function,
            api,
            logs,
            extension_logs,
            extensions: Mutex::new(Vec::new()),
            variables,
            process: Mutex::new(None),
            start_lock: tokio::sync::Mutex::new(()),
            initialization_type,
            sandbox,
            spare: Mutex::new(spare),
            in_flight: Mutex::new(0),
            stopped: std::sync::atomic::AtomicBool::new(false),
            oom_kills_seen: std::sync::atomic::AtomicU64::new(0),
            pid_limit_hits_seen: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Reset the environment as far as an invocation's ending asks.
    pub(super) async fn reset_after(&self, reset: Reset, process: &Arc<RuntimeProcess>) {
        match reset {
            Reset::Keep => {}
            Reset::Runtime => self.discard_runtime(process).await,
            Reset::Processes => self.kill_processes(process).await,
            Reset::ProcessesAndTmp => {
                self.kill_processes(process).await;
                self.sandbox.tmp.clear();
            }
        }
    }

    /// After a timeout, a crash or an out-of-memory kill: kill the runtime and, unless external
    /// extensions are still to be told (the reset after their SHUTDOWN does it then), every
    /// other process of the environment, daemons included; `/tmp` stays.
    pub(super) async fn discard_runtime(&self, process: &Arc<RuntimeProcess>) {
        if !self.has_extensions() {
            self.sandbox.kill_processes();
        }
        process.kill().await;
        self.forget_process(process);
    }

    /// Kill every process of the environment, the runtime included.
    async fn kill_processes(&self, process: &Arc<RuntimeProcess>) {
        self.sandbox.kill_processes();
        process.kill().await;
        self.forget_process(process);
    }

    /// Discard the runtime and the extensions (telling them why): the next invocation is a
    /// cold start.
    pub(super) async fn reset(&self, reason: ShutdownReason) {
        self.thaw();
        let process = self.slot().take();
        let stopping = self.stop_extensions(reason);
        if let Some(p) = process {
            tokio::join!(p.kill(), stopping);
        } else {
            stopping.await;
        }
        self.sandbox.kill_processes();
    }

    /// Shut down: SIGTERM to the runtime's group, SIGKILL after the grace period; SHUTDOWN to
    /// the extensions.
    pub async fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Release);
        self.thaw();
        let process = self.slot().take();
        let extensions = self.stop_extensions(ShutdownReason::Spindown);
        if let Some(p) = process {
            tokio::join!(p.stop(STOP_GRACE), extensions);
        } else {
            extensions.await;
        }
    }
}
