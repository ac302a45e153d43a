//! The init phase (docs/reference.md §4): cold starts (10 s), AWS's suppressed init inside the
//! invoke phase when the first init fails or overruns, and provisioned concurrency's init ahead
//! of any invoke.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::process::{ExitInfo, RuntimeProcess, SpawnSpec};
use super::run::Started;
use super::ExecutionEnvironment;
use crate::aws::ServiceError;
use crate::config::INIT_TIMEOUT;
use crate::invocation::Invocation;
use crate::logs;
use crate::runtime_api::telemetry;
use crate::runtime_api::InitSignal;

/// How an init phase failed.
#[derive(Debug)]
pub(super) enum InitFailure {
    /// The runtime posted `/init/error`.
    Error { body: Bytes, error_type: String },
    /// The runtime posted `/restore/error`: an after-restore hook failed (SnapStart).
    AfterRestore { body: Bytes, error_type: String },
    /// The runtime process exited before its first `/next`.
    Exited(ExitInfo),
    /// The runtime command could not be started.
    Spawn(String),
    /// The limit passed before the runtime was ready.
    TimedOut,
    /// An extension crashed, could not start, or reported an init or exit error.
    Extension {
        /// `Extension.Crash`, `Extension.LaunchError`, `Extension.InitError`, `Extension.ExitError`.
        error_type: &'static str,
        /// What happened.
        reason: String,
    },
}

impl InitFailure {
    /// The `Error Type` of INIT_REPORT and REPORT.
    pub(super) fn error_type(&self) -> &str {
        match self {
            Self::Error { error_type, .. } | Self::AfterRestore { error_type, .. } => error_type,
            Self::Exited(_) => "Runtime.ExitError",
            Self::Spawn(_) => "Runtime.InvalidEntrypoint",
            Self::TimedOut => "Sandbox.Timedout",
            Self::Extension { error_type, .. } => error_type,
        }
    }

    /// INIT_REPORT's `Status`.
    pub(super) fn report_status(&self) -> &'static str {
        match self {
            Self::TimedOut => "timeout",
            _ => "error",
        }
    }

    /// How the Invoke API refuses an invocation whose SnapStart restore failed this way: AWS
    /// answers a failed after-restore hook or a restore past its limit with a service error
    /// rather than running init again.
    pub(super) fn snapstart_refusal(&self) -> Option<ServiceError> {
        match self {
            Self::AfterRestore { .. } => Some(ServiceError::SnapStart),
            Self::TimedOut => Some(ServiceError::SnapStartTimeout),
            _ => None,
        }
    }

    /// INIT_REPORT's `Error Type` (none after a timeout).
    pub(super) fn report_error_type(&self) -> Option<&str> {
        match self {
            Self::TimedOut => None,
            failure => Some(failure.error_type()),
        }
    }
}

/// The suppressed init failed too (or a SnapStart restore failed): the invocation ends with it.
pub(super) struct InitFailed {
    /// How.
    pub(super) failure: InitFailure,
    /// Seconds since the invoke phase began.
    pub(super) duration_s: f64,
    /// The Invoke API's answer instead of the function's (a failed SnapStart restore).
    pub(super) refusal: Option<ServiceError>,
}

/// The error type a runtime gave: the header, else `errorType` in its JSON.
fn init_error_type(body: &[u8], header: Option<String>) -> String {
    header
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(body)
                .ok()?
                .get("errorType")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Runtime.Unknown".to_owned())
}

impl ExecutionEnvironment {
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
            Err((f, _)) => Err(f.error_type().to_owned()),
        }
    }

    /// Start a runtime and wait until it is ready (first `/next`), fails, or `limit` passes;
    /// a failure comes with the moment it happened (before the extensions' shutdown, which
    /// counts in no duration).
    pub(super) async fn start_runtime(
        &self,
        limit: Instant,
    ) -> Result<(Arc<RuntimeProcess>, f64), (InitFailure, Instant)> {
        let began = Instant::now();
        // NOTE: extensions of a runtime that died go with it, and so does whatever it left
        // running (AWS resets the whole sandbox); /tmp stays.
        self.stop_extensions(super::extensions::ShutdownReason::Failure)
            .await;
        // NOTE: a spare runtime waiting in the environment's cgroup is its runtime-to-be.
        if self.lock_spare().is_none() {
            self.sandbox.kill_processes();
        }
        let signal = self.api.state().begin_init();
        let hub = &self.api.state().telemetry;
        hub.begin_init();
        let init_type = self.initialization_type.as_str();
        self.logs.platform(
            "platform.initStart",
            telemetry::init_start(init_type, &self.function.config.name),
        );
        let result = self.init_phase(signal, limit).await;
        let error_type = result.as_ref().err().map(InitFailure::error_type);
        if hub.is_active() {
            let done = telemetry::init_runtime_done(init_type, error_type);
            self.logs.platform("platform.initRuntimeDone", done);
            let ms = began.elapsed().as_secs_f64() * 1000.0;
            let report = telemetry::init_report(init_type, error_type, ms);
            self.logs.platform("platform.initReport", report);
        }
        hub.end_init();
        let failed_at = Instant::now();
        if result.is_err() {
            self.stop_extensions(super::extensions::ShutdownReason::Failure)
                .await;
            self.sandbox.kill_processes();
        }
        result.map_err(|failure| (failure, failed_at))
    }

    /// Hold `process` as the environment's runtime; one started while the environment was
    /// being stopped (whose stop found no process to end) is killed.
    async fn hold(&self, process: &Arc<RuntimeProcess>) {
        *self.slot() = Some(Arc::clone(process));
        if self.stopped.load(std::sync::atomic::Ordering::Acquire) {
            process.kill().await;
        }
    }

    /// Extension init, runtime init and function init, until every party is ready.
    async fn init_phase(
        &self,
        signal: tokio::sync::oneshot::Receiver<InitSignal>,
        limit: Instant,
    ) -> Result<(Arc<RuntimeProcess>, f64), InitFailure> {
        let began = Instant::now();
        let mut steps = super::steps::Steps::start();
        let mut moves = self.launch_extensions(limit).await?;
        steps.mark("extensions started");
        let cfg = &self.function.config;
        let spec = SpawnSpec {
            argv: &cfg.command,
            cwd: &cfg.code_dir,
            env: &self.variables,
            log_pipe: self.logs.write_end(),
            join: self.sandbox.join_spec(),
        };
        let spare = self.lock_spare().take();
        let in_cgroup = spare.is_some();
        let restored = match &self.function.snapstart {
            Some(template) => {
                let forked = match spare {
                    Some(mut spare) => {
                        moves.extend(spare.take_move());
                        spare.restore(&self.variables, &cfg.code_dir, &spec.join, spec.log_pipe)
                    }
                    None => {
                        template
                            .fork(&self.variables, &cfg.code_dir, &spec.join, spec.log_pipe)
                            .await
                    }
                };
                match forked {
                    Ok(pid) => Some(RuntimeProcess::adopt(pid, template.exit_status(pid))),
                    // NOTE: without its template (it died), the runtime runs init itself, hooks
                    // included (it is told `snap-start`), rather than failing every invocation.
                    Err(e) => {
                        crate::logs::message(
                            crate::config::LogLevel::Warn,
                            &format!("SnapStart restore failed ({e}); running init instead"),
                        );
                        None
                    }
                }
            }
            None => None,
        };
        let process = match restored {
            Some(process) => process,
            None => RuntimeProcess::spawn(&spec)
                .map_err(|e| InitFailure::Spawn(format!("fork/exec {}: {e}", cfg.command[0])))?,
        };
        self.hold(&process).await;
        self.sandbox.members.track(process.pid());
        if !in_cgroup {
            moves.extend(self.move_into_cgroup(process.pid()));
        }
        steps.mark(if self.function.snapstart.is_some() {
            "runtime restored"
        } else {
            "runtime spawned"
        });
        let result = tokio::select! {
            biased;
            s = signal => match s {
                Ok(InitSignal::Ready) => Ok(()),
                Ok(InitSignal::Failed { body, error_type, restore }) => {
                    let error_type = init_error_type(&body, error_type);
                    Err(if restore {
                        InitFailure::AfterRestore { body, error_type }
                    } else {
                        InitFailure::Error { body, error_type }
                    })
                }
                Err(_) => Err(InitFailure::Exited(process.wait().await)),
            },
            info = process.wait() => Err(InitFailure::Exited(info)),
            failure = self.extension_failure() => Err(failure),
            () = tokio::time::sleep_until(limit.into()) => Err(InitFailure::TimedOut),
        };
        steps.mark("runtime ready");
        // NOTE: init completes when the runtime and every extension wait for their next event.
        let result = match result {
            Ok(()) => tokio::select! {
                biased;
                ready = self.extensions_ready() => ready,
                info = process.wait() => Err(InitFailure::Exited(info)),
                () = tokio::time::sleep_until(limit.into()) => Err(InitFailure::TimedOut),
            },
            Err(failure) => Err(failure),
        };
        // NOTE: every process is in the environment's cgroup before init counts as complete.
        steps.mark("extensions ready");
        for moving in moves {
            let _ = moving.await;
        }
        steps.mark("cgroup moves");
        steps.log(|| format!("init of environment {} of {}", self.id, cfg.name));
        match result {
            Ok(()) => Ok((process, began.elapsed().as_secs_f64() * 1000.0)),
            Err(failure) => {
                process.kill().await;
                self.forget_process(&process);
                Err(failure)
            }
        }
    }

    /// The spare runtime this environment holds until its first restore.
    fn lock_spare(&self) -> std::sync::MutexGuard<'_, Option<crate::snapstart::SpareRuntime>> {
        self.spare
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A cold start for `inv`: init phase, then (on failure) suppressed init in the invoke phase.
    pub(super) async fn cold_start(&self, inv: &Invocation) -> Result<Started, InitFailed> {
        let _guard = self.start_lock.lock().await;
        if let Some(process) = self.live_process() {
            return Ok(Started {
                process,
                init_ms: None,
                invoke_phase: None,
            });
        }
        let cfg = &self.function.config;
        let restore = self.function.snapstart.is_some();
        let region = &self.function.region;
        self.logs.lines(if restore {
            logs::restore_start_line(&cfg.command[0], region)
        } else {
            logs::init_start_line(&cfg.command[0], region)
        });
        let init_began = Instant::now();
        let (failure, failed_at) = match self.start_runtime(init_began + INIT_TIMEOUT).await {
            Ok((process, init_ms)) => {
                if restore {
                    self.logs.lines(logs::restore_report_line(init_ms));
                }
                return Ok(Started {
                    process,
                    init_ms: Some(init_ms),
                    invoke_phase: None,
                });
            }
            Err(failed) => failed,
        };
        self.logs.lines(logs::init_report_line(
            failed_at.duration_since(init_began).as_secs_f64() * 1000.0,
            "init",
            failure.report_status(),
            failure.report_error_type(),
        ));
        // NOTE: AWS runs init once more inside the invoke phase, against the function timeout;
        // a SnapStart restore is not run again, nor an init the environment's stop cut short.
        let phase = Instant::now();
        self.logs
            .lines(logs::start_line(&inv.request_id, &cfg.version));
        if let Some(refusal) = restore.then(|| failure.snapstart_refusal()).flatten() {
            return Err(InitFailed {
                failure,
                duration_s: 0.0,
                refusal: Some(refusal),
            });
        }
        if self.stopped.load(std::sync::atomic::Ordering::Acquire) {
            return Err(InitFailed {
                failure,
                duration_s: 0.0,
                refusal: None,
            });
        }
        match self.start_runtime(phase + cfg.timeout()).await {
            Ok((process, _)) => Ok(Started {
                process,
                init_ms: None,
                invoke_phase: Some(phase),
            }),
            Err((failure, failed_at)) => Err(InitFailed {
                failure,
                duration_s: failed_at.duration_since(phase).as_secs_f64(),
                refusal: None,
            }),
        }
    }
}
