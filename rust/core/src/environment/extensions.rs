//! External extensions of one environment (docs/reference.md §4, as AWS documents them): the
//! executables of the extensions directory start before the runtime and must register; init
//! completes when every extension waits in `event/next`; each invocation sends INVOKE and waits
//! for the subscribers to come back; teardown sends SHUTDOWN and allows 2 s before SIGKILL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use super::init::InitFailure;
use super::process::{ExitInfo, RuntimeProcess, SpawnSpec};
use super::run::PostInvoke;
use super::ExecutionEnvironment;
use crate::invocation::Invocation;
use crate::runtime_api::telemetry;

/// How long SHUTDOWN-subscribed extensions get before SIGKILL (AWS: 2,000 ms with extensions).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// One started extension executable.
#[derive(Debug, Clone)]
pub(super) struct ExternalExtension {
    /// Its file name, which it registers under.
    name: String,
    process: Arc<RuntimeProcess>,
}

/// Why an environment's extensions are being shut down (`shutdownReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    /// Reaped when idle, or the emulator stops.
    Spindown,
    /// The function timed out.
    Timeout,
    /// The runtime or an extension failed.
    Failure,
}

impl ShutdownReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Spindown => "spindown",
            Self::Timeout => "timeout",
            Self::Failure => "failure",
        }
    }
}

impl ExecutionEnvironment {
    /// The extension executables (name, path to run), sorted by name as AWS starts them.
    fn extension_files(&self) -> Vec<(String, PathBuf)> {
        let Some((scan, run)) = self.function.extensions_dirs() else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(&scan) else {
            return Vec::new();
        };
        let mut files: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                use std::os::unix::fs::PermissionsExt;
                e.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                Some((name.clone(), run.join(name)))
            })
            .collect();
        files.sort();
        files
    }

    fn started(&self) -> std::sync::MutexGuard<'_, Vec<ExternalExtension>> {
        self.extensions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Open registration, start the external extensions and wait until each has registered;
    /// what moves them into the environment's cgroup.
    pub(super) async fn launch_extensions(
        &self,
        limit: Instant,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>, InitFailure> {
        let files = self.extension_files();
        let registry = &self.api.state().extensions;
        registry.open(files.iter().map(|(name, _)| name.clone()).collect());
        let mut moves = Vec::new();
        if files.is_empty() {
            return Ok(moves);
        }
        let cfg = &self.function.config;
        for (name, path) in &files {
            let argv = [path.to_string_lossy().into_owned()];
            let spec = SpawnSpec {
                argv: &argv,
                cwd: &cfg.code_dir,
                env: &self.variables,
                log_pipe: self.extension_logs.write_end(),
                join: self.sandbox.join_spec(),
            };
            let process = RuntimeProcess::spawn(&spec).map_err(|e| InitFailure::Extension {
                error_type: "Extension.LaunchError",
                reason: format!("fork/exec {}: {e}", path.display()),
            })?;
            self.sandbox.members.track(process.pid());
            moves.extend(self.move_into_cgroup(process.pid()));
            self.started().push(ExternalExtension {
                name: name.clone(),
                process,
            });
        }
        for (name, _) in &files {
            tokio::select! {
                biased;
                () = registry.registration_of(name) => {}
                failure = self.extension_failure() => return Err(failure),
                () = tokio::time::sleep_until(limit.into()) => return Err(InitFailure::TimedOut),
            }
        }
        match registry.fault() {
            Some(f) => Err(InitFailure::Extension {
                error_type: f.error_type,
                reason: f.reason,
            }),
            None => Ok(moves),
        }
    }

    /// Init completes when every registered extension waits in `event/next`.
    pub(super) async fn extensions_ready(&self) -> Result<(), InitFailure> {
        let registry = &self.api.state().extensions;
        tokio::select! {
            biased;
            failure = self.extension_failure() => Err(failure),
            () = registry.settled(|_| true) => match registry.fault() {
                Some(f) => Err(InitFailure::Extension { error_type: f.error_type, reason: f.reason }),
                None => Ok(()),
            },
        }
    }

    /// Resolves when an extension reports a fault or an external extension exits.
    pub(super) async fn extension_failure(&self) -> InitFailure {
        let registry = &self.api.state().extensions;
        tokio::select! {
            f = registry.faulted() => InitFailure::Extension { error_type: f.error_type, reason: f.reason },
            (name, info) = self.extension_exit() => InitFailure::Extension {
                error_type: "Extension.Crash",
                reason: format!("extension {name} exited: {}", info.termination.describe()),
            },
        }
    }

    /// Resolves when any external extension exits (never, without any).
    async fn extension_exit(&self) -> (String, ExitInfo) {
        let list = self.started().clone();
        let mut exits = tokio::task::JoinSet::new();
        for e in list {
            exits.spawn(async move { (e.name, e.process.wait().await) });
        }
        match exits.join_next().await {
            Some(Ok(exit)) => exit,
            _ => std::future::pending().await,
        }
    }

    /// Send INVOKE to the subscribers, alongside the runtime's `/next`.
    pub(super) fn dispatch_invoke(&self, inv: &Invocation, deadline_ms: u64) {
        let registry = &self.api.state().extensions;
        if !registry.has_invoke_subscribers() {
            return;
        }
        let event = json!({
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": inv.request_id,
            "invokedFunctionArn": inv.invoked_function_arn,
            "tracing": telemetry::tracing(&inv.trace_id),
        });
        registry.dispatch(&Bytes::from(event.to_string()), |e| e.events.invoke);
    }

    /// Whether the environment has extensions to wait for after an invocation.
    pub(super) fn has_extensions(&self) -> bool {
        self.api.state().extensions.has_invoke_subscribers() || !self.started().is_empty()
    }

    /// After an answered invocation: wait (until its deadline) for the INVOKE subscribers to
    /// come back to `event/next`, or reset the environment when the runtime or an extension
    /// failed.
    pub async fn settle(&self, post: PostInvoke) {
        let reason = if post.shutdown.is_some() {
            post.shutdown
        } else {
            let registry = &self.api.state().extensions;
            tokio::select! {
                biased;
                () = registry.settled(|e| e.events.invoke) => {
                    registry.fault().map(|_| ShutdownReason::Failure)
                }
                _ = self.extension_exit() => Some(ShutdownReason::Failure),
                () = tokio::time::sleep_until(post.deadline.into()) => Some(ShutdownReason::Timeout),
            }
        };
        if let Some(reason) = reason {
            self.reset(reason).await;
        }
        self.leave_invocation();
    }

    /// SHUTDOWN to the subscribers, up to 2 s for every extension to exit, then SIGKILL.
    pub(super) async fn stop_extensions(&self, reason: ShutdownReason) {
        let registry = &self.api.state().extensions;
        let list: Vec<ExternalExtension> = std::mem::take(&mut *self.started());
        if list.is_empty() {
            registry.clear();
            return;
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        let remaining = SHUTDOWN_GRACE.as_millis() as u64;
        let event = json!({
            "eventType": "SHUTDOWN",
            "shutdownReason": reason.as_str(),
            "deadlineMs": crate::clock::epoch_ms() + remaining,
        });
        let told = registry.dispatch(&Bytes::from(event.to_string()), |e| e.events.shutdown);
        for e in &list {
            if !told.contains(&e.name) {
                e.process.signal_group(libc::SIGKILL);
            }
        }
        for e in &list {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, e.process.wait()).await.is_err() {
                e.process.kill().await;
            }
            e.process.signal_group(libc::SIGKILL);
        }
        registry.clear();
        self.api.state().telemetry.clear();
    }
}
