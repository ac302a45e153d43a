//! One execution environment: a Runtime API listener, a log stream and (while it lives) a
//! runtime process tree. It runs invocations and restarts its runtime after a timeout or a
//! crash, exactly as an AWS Lambda execution environment does.

mod closing;
pub mod extensions;
mod function;
mod init;
mod limits;
mod log_stream;
pub mod process;
mod response_stream;
pub mod sandbox;
pub mod variables;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::aws;
use crate::config::STOP_GRACE;
use crate::invocation::{Delivery, Invocation, Outcome, OutcomeKind, RuntimeReply};
use crate::logs;
use crate::runtime_api::telemetry::{self, Category};
use crate::runtime_api::RuntimeApi;
use crate::CoreError;
use closing::Closing;
pub use function::{FunctionContext, InitializationType};
use log_stream::LogStream;
use process::{ExitInfo, RuntimeProcess};
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
    /// Invocations in flight; freezing and thawing happen under this lock.
    in_flight: Mutex<u32>,
    /// Kernel OOM kills and process-limit hits already accounted for.
    oom_kills_seen: std::sync::atomic::AtomicU64,
    pid_limit_hits_seen: std::sync::atomic::AtomicU64,
}

/// How the runtime that serves an invocation came to be.
struct Started {
    process: Arc<RuntimeProcess>,
    /// Init duration, when this invocation triggered a successful init phase.
    init_ms: Option<f64>,
    /// Set after a suppressed init: the invoke phase began (and START was logged) then.
    invoke_phase: Option<Instant>,
}

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
        let api = RuntimeApi::bind(runtime_api, listener).await?;
        api.state()
            .set_function_meta(crate::runtime_api::FunctionMeta {
                function_name: function.config.name.clone(),
                handler: function.config.handler.clone().unwrap_or_default(),
                account_id: function.account_id.clone(),
            });
        let hub = Arc::clone(&api.state().telemetry);
        let logs = LogStream::start(Arc::clone(&hub), Category::Function)?;
        let extension_logs = LogStream::start(hub, Category::Extension)?;
        let config = function.config.clone();
        let layers = function.layers.as_ref().map(|l| l.dir().to_owned());
        let sandbox =
            tokio::task::spawn_blocking(move || Sandbox::create(id, &config, layers.as_deref()))
                .await
                .map_err(|e| CoreError::Io(std::io::Error::other(e)))??;
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
            in_flight: Mutex::new(0),
            oom_kills_seen: std::sync::atomic::AtomicU64::new(0),
            pid_limit_hits_seen: std::sync::atomic::AtomicU64::new(0),
        })
    }

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

    /// After a timeout, a crash or an out-of-memory kill: kill the runtime and, unless external
    /// extensions are still to be told (the reset after their SHUTDOWN does it then), every
    /// other process of the environment, daemons included; `/tmp` stays.
    async fn discard_runtime(&self, process: &Arc<RuntimeProcess>) {
        if !self.has_extensions() {
            self.sandbox.kill_processes();
        }
        process.kill().await;
        self.forget_process(process);
    }

    /// Run one invocation to its outcome; never fails, every invocation gets an answer. When
    /// the answer says `settle`, the environment stays busy until [`Self::settle`] returns.
    pub async fn invoke(&self, invocation: Arc<Invocation>) -> Invoked {
        self.enter_invocation();
        let deadline = Instant::now() + self.function.config.timeout();
        let outcome = self.invoke_inner(invocation).await;
        let settle = self.has_extensions();
        if !settle {
            self.leave_invocation();
        }
        Invoked {
            outcome,
            settle: settle.then_some(deadline),
        }
    }

    async fn invoke_inner(&self, invocation: Arc<Invocation>) -> Outcome {
        if invocation.want_log {
            self.logs.begin(&invocation.request_id);
        }
        let mut first_try = true;
        loop {
            let started = match self.live_process() {
                Some(process) => Started {
                    process,
                    init_ms: None,
                    invoke_phase: None,
                },
                None => match self.cold_start(&invocation).await {
                    Ok(started) => started,
                    Err(outcome) => return outcome,
                },
            };
            match self.run(started, Arc::clone(&invocation), first_try).await {
                Some(outcome) => return outcome,
                // NOTE: the runtime died between invocations, before it took this one (e.g.
                // a runtime that exits after its previous answer was refused): the
                // invocation never started, so it runs on a fresh runtime instead of failing.
                None => first_try = false,
            }
        }
    }

    /// Start the runtime ahead of any invoke (provisioned concurrency); the init duration, or
    /// the init error type.
    pub async fn prewarm(&self) -> Result<f64, String> {
        let _guard = self.start_lock.lock().await;
        if self.live_process().is_some() {
            return Ok(0.0);
        }
        self.logs.lines(logs::init_start_line(
            &self.function.config.command[0],
            &self.function.region,
        ));
        let limit = Instant::now()
            + crate::config::PROVISIONED_INIT_TIMEOUT.max(self.function.config.timeout());
        match self.start_runtime(limit).await {
            Ok((_, init_ms)) => {
                self.logs
                    .lines(logs::init_report_line(init_ms, "init", "success", None));
                Ok(init_ms)
            }
            Err(f) => Err(f.error_type().to_owned()),
        }
    }

    /// Deliver `inv` and wait for its outcome; `None` when the runtime died before taking it
    /// (only on the first try).
    async fn run(
        &self,
        started: Started,
        inv: Arc<Invocation>,
        first_try: bool,
    ) -> Option<Outcome> {
        let cfg = &self.function.config;
        let phase_start = started.invoke_phase.unwrap_or_else(Instant::now);
        let deadline = phase_start + cfg.timeout();
        if started.invoke_phase.is_none() && first_try {
            self.logs
                .lines(logs::start_line(&inv.request_id, &cfg.version));
        }
        let (tx, rx) = oneshot::channel();
        if self.api.state().telemetry.is_active() {
            let record = telemetry::start(&inv.request_id, &inv.trace_id);
            self.logs.platform("platform.start", record);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let deadline_ms = crate::clock::epoch_ms() + remaining.as_millis() as u64;
        self.api.state().deliver(Delivery {
            invocation: Arc::clone(&inv),
            deadline_ms,
            reply: tx,
        });
        self.dispatch_invoke(&inv, deadline_ms);
        let answer = async move {
            match rx.await {
                Ok(reply) => reply,
                // The runtime dropped the invocation without answering: wait for exit or deadline.
                Err(_) => std::future::pending().await,
            }
        };
        let process = &started.process;
        let mut ended = tokio::select! {
            biased;
            reply = answer => Ended::Reply(reply),
            info = process.wait() => self.exited(info),
            () = self.memory_exceeded() => Ended::OutOfMemory,
            () = tokio::time::sleep_until(deadline.into()) => Ended::Timeout,
        };
        let streamed = matches!(ended, Ended::Reply(RuntimeReply::Stream(_)));
        if let Ended::Reply(RuntimeReply::Stream(stream)) = ended {
            ended = self.follow_stream(stream, &inv, process, deadline).await;
        }
        let duration_ms = phase_start.elapsed().as_secs_f64() * 1000.0;
        let mut closing = Closing::new(duration_ms, started.init_ms);
        let (kind, payload, content_type) = match ended {
            Ended::Reply(RuntimeReply::Response { body, content_type }) => {
                (OutcomeKind::Success, body, content_type)
            }
            Ended::Reply(RuntimeReply::Error { body, error_type }) => {
                let body = if body.is_empty() {
                    let t = error_type.as_deref().unwrap_or("Unhandled");
                    Bytes::from(aws::platform_error(t, ""))
                } else {
                    body
                };
                closing.error_type = error_type;
                (OutcomeKind::HandlerError, body, None)
            }
            Ended::Reply(RuntimeReply::ResponseTooLarge { limit }) => {
                closing.status = Some(aws::RESPONSE_TOO_LARGE.to_owned());
                let body = Bytes::from(aws::response_too_large_payload(limit));
                (OutcomeKind::ResponseTooLarge, body, None)
            }
            // NOTE: `follow_stream` turned the stream into one of the other answers.
            Ended::Reply(RuntimeReply::Stream(_)) => (OutcomeKind::Success, Bytes::new(), None),
            Ended::Exited(info) => {
                let taken = streamed || self.api.state().holds(&inv.request_id);
                self.api.state().abandon(&inv.request_id);
                self.discard_runtime(process).await;
                if !taken && first_try {
                    return None;
                }
                let body = closing.crash(&inv.request_id, info);
                (OutcomeKind::Crash, Bytes::from(body), None)
            }
            Ended::OutOfMemory => {
                self.api.state().abandon(&inv.request_id);
                self.discard_runtime(process).await;
                let body = closing.out_of_memory(&inv.request_id);
                (OutcomeKind::Crash, Bytes::from(body), None)
            }
            Ended::Timeout => {
                self.api.state().abandon(&inv.request_id);
                let elapsed = phase_start.elapsed().as_secs_f64();
                self.discard_runtime(process).await;
                closing.timeout(&inv.request_id, elapsed, cfg.timeout_s);
                let body = aws::timeout_payload(&inv.request_id, elapsed);
                (OutcomeKind::Timeout, Bytes::from(body), None)
            }
        };
        let (kind, payload) = self
            .after_invocation(process, &inv.request_id, &mut closing, kind, payload)
            .await;
        Some(
            self.finish(inv, closing, Some(process), kind, payload, content_type)
                .await,
        )
    }

    /// Write END and REPORT (with the measured peak memory) and build the outcome.
    async fn finish(
        &self,
        inv: Arc<Invocation>,
        closing: Closing,
        process: Option<&Arc<RuntimeProcess>>,
        kind: OutcomeKind,
        payload: Bytes,
        content_type: Option<String>,
    ) -> Outcome {
        let error_type = closing
            .error_type
            .or_else(|| closing.status.clone())
            .or_else(|| closing.timed_out.then(|| aws::TIMED_OUT.to_owned()));
        let lines = logs::ClosingLines {
            before_end: closing.lines,
            request_id: inv.request_id.clone(),
            duration_ms: closing.duration_ms,
            memory_mb: self.function.config.memory_mb,
            init_duration_ms: closing.init_ms,
            restored: self.function.snapstart.is_some(),
            timed_out: closing.timed_out,
            error_type: closing.status,
        };
        let process = process.map(Arc::clone);
        let status = kind.telemetry_status();
        if self.api.state().telemetry.is_active() {
            let record = telemetry::runtime_done(
                &inv.request_id,
                status,
                lines.error_type.as_deref(),
                lines.duration_ms,
                payload.len(),
            );
            self.logs.platform("platform.runtimeDone", record);
        }
        // NOTE: when nobody waits for the log, memory is read and REPORT written after the
        // answer has gone out (the log task keeps AWS's line order).
        let (log_tail, max_memory_used_mb) = if inv.want_log {
            self.logs
                .finish(&inv.request_id, lines, process, status)
                .await
        } else {
            self.logs.finish_detached(lines, process, status);
            (Bytes::new(), 0)
        };
        Outcome {
            kind,
            payload,
            content_type: content_type
                .unwrap_or_else(|| crate::invocation::DEFAULT_CONTENT_TYPE.to_owned()),
            request_id: inv.request_id.clone(),
            cold_start: closing.cold,
            init_duration_ms: closing.init_ms,
            duration_ms: closing.duration_ms,
            max_memory_used_mb,
            log_tail,
            error_type,
        }
    }

    /// Stop the runtime: SIGTERM to its group, SIGKILL after the grace period.
    pub async fn stop(&self) {
        self.thaw();
        let process = self.slot().take();
        let extensions = self.stop_extensions(extensions::ShutdownReason::Spindown);
        if let Some(p) = process {
            tokio::join!(p.stop(STOP_GRACE), extensions);
        } else {
            extensions.await;
        }
    }
}

/// An invocation's answer, and whether the environment still waits for its extensions.
pub struct Invoked {
    /// The answer.
    pub outcome: Outcome,
    /// When set, call [`ExecutionEnvironment::settle`] (bounded by this deadline) before the
    /// environment takes another invocation.
    pub settle: Option<Instant>,
}

/// How the wait for an answer ended.
pub(super) enum Ended {
    Reply(RuntimeReply),
    Exited(ExitInfo),
    OutOfMemory,
    Timeout,
}
