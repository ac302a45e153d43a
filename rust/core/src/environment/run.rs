//! Running one invocation in an environment (docs/reference.md §4): a cold start when no runtime
//! is up, delivery to the runtime's `/next` (and INVOKE to the extensions), the wait for its
//! answer, its exit, the memory limit or the timeout, and what [`conclude`] makes of that:
//! the answer, START .. END and REPORT, and the reset.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::ending::{conclude, Conclusion, Ending, Facts};
use super::extensions::ShutdownReason;
use super::init::InitFailed;
use super::process::{ExitInfo, RuntimeProcess};
use super::ExecutionEnvironment;
use crate::invocation::{Delivery, Invocation, Outcome, RuntimeReply};
use crate::logs;
use crate::runtime_api::telemetry;

/// An invocation's answer, and whether the environment still waits for its extensions.
pub struct Invoked {
    /// The answer.
    pub outcome: Outcome,
    /// When set, call [`ExecutionEnvironment::settle`] with it before the environment takes
    /// another invocation.
    pub settle: Option<PostInvoke>,
}

/// The extensions' post-invoke phase of an answered invocation.
#[derive(Debug, Clone, Copy)]
pub struct PostInvoke {
    /// When it ends at the latest.
    pub deadline: Instant,
    /// Why the extensions are shut down instead (the invocation timed out or crashed).
    pub shutdown: Option<ShutdownReason>,
}

/// An invocation's answer, and why its extensions are shut down after it.
struct Concluded {
    outcome: Outcome,
    extensions_shutdown: Option<ShutdownReason>,
}

/// How the runtime that serves an invocation came to be.
pub(super) struct Started {
    pub(super) process: Arc<RuntimeProcess>,
    /// Init duration, when this invocation triggered a successful init phase.
    pub(super) init_ms: Option<f64>,
    /// Set after a suppressed init: the invoke phase began (and START was logged) then.
    pub(super) invoke_phase: Option<Instant>,
}

/// How the wait for an answer ended.
pub(super) enum Ended {
    Reply(RuntimeReply),
    Exited(ExitInfo),
    OutOfMemory,
    Timeout,
}

impl ExecutionEnvironment {
    /// Run one invocation to its outcome; never fails, every invocation gets an answer. When
    /// the answer says `settle`, the environment stays busy until [`Self::settle`] returns.
    pub async fn invoke(&self, invocation: Arc<Invocation>) -> Invoked {
        self.enter_invocation();
        let deadline = Instant::now() + self.function.config.timeout();
        let concluded = self.invoke_inner(invocation).await;
        let settle = self.has_extensions();
        if !settle {
            self.leave_invocation();
        }
        Invoked {
            outcome: concluded.outcome,
            settle: settle.then_some(PostInvoke {
                deadline,
                shutdown: concluded.extensions_shutdown,
            }),
        }
    }

    async fn invoke_inner(&self, invocation: Arc<Invocation>) -> Concluded {
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
                    Err(failed) => return self.init_failed(&invocation, failed).await,
                },
            };
            match self.run(started, Arc::clone(&invocation), first_try).await {
                Some(concluded) => return concluded,
                // NOTE: the runtime died between invocations, before it took this one (e.g.
                // a runtime that exits after its previous answer was refused): the
                // invocation never started, so it runs on a fresh runtime instead of failing.
                None => first_try = false,
            }
        }
    }

    /// Deliver `inv` and wait for its outcome; `None` when the runtime died before taking it
    /// (only on the first try).
    async fn run(
        &self,
        started: Started,
        inv: Arc<Invocation>,
        first_try: bool,
    ) -> Option<Concluded> {
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
        let duration_s = phase_start.elapsed().as_secs_f64();
        let ending = match ended {
            Ended::Reply(RuntimeReply::Response { body, content_type }) => {
                Ending::Answered { body, content_type }
            }
            Ended::Reply(RuntimeReply::Error { body, error_type }) => {
                Ending::FunctionError { body, error_type }
            }
            Ended::Reply(RuntimeReply::ResponseTooLarge { limit }) => {
                Ending::ResponseTooLarge { limit }
            }
            // NOTE: `follow_stream` turned the stream into one of the other answers.
            Ended::Reply(RuntimeReply::Stream(_)) => Ending::Answered {
                body: Bytes::new(),
                content_type: None,
            },
            Ended::Exited(info) => {
                let taken = streamed || self.api.state().holds(&inv.request_id);
                self.api.state().abandon(&inv.request_id);
                if !taken && first_try {
                    self.discard_runtime(process).await;
                    return None;
                }
                Ending::RuntimeExited(info.termination)
            }
            Ended::OutOfMemory => {
                self.api.state().abandon(&inv.request_id);
                Ending::OutOfMemory
            }
            Ended::Timeout => {
                self.api.state().abandon(&inv.request_id);
                let after_s = phase_start.elapsed().as_secs_f64();
                Ending::TimedOut { after_s }
            }
        };
        // NOTE: only a failed invocation is checked: a fork that hit the process limit fails.
        let process_limit_hit = ending.failed() && self.process_limit_hit();
        let ending = match self.ephemeral_storage_exceeded() {
            Some(storage_mb) => Ending::EphemeralStorageExceeded {
                storage_mb,
                after: Box::new(ending),
            },
            None => ending,
        };
        let facts = Facts {
            init_ms: started.init_ms,
            cold: started.init_ms.is_some(),
            process_limit_hit,
            ..self.facts(&inv.request_id, duration_s)
        };
        let conclusion = conclude(ending, &facts);
        self.reset_after(conclusion.reset, process).await;
        Some(self.finish(&inv, conclusion, Some(process)).await)
    }

    /// The answer when the suppressed init fails too (init already stopped what it started).
    async fn init_failed(&self, inv: &Invocation, failed: InitFailed) -> Concluded {
        let facts = Facts {
            cold: true,
            ..self.facts(&inv.request_id, failed.duration_s)
        };
        let ending = if failed.refusal.is_some() {
            Ending::RestoreFailed(failed.failure)
        } else {
            Ending::InitFailed(failed.failure)
        };
        let mut concluded = self.finish(inv, conclude(ending, &facts), None).await;
        concluded.outcome.refusal = failed.refusal.map(Box::new);
        concluded
    }

    /// What is known of an invocation of this environment that ends now.
    fn facts<'a>(&self, request_id: &'a str, duration_s: f64) -> Facts<'a> {
        let cfg = &self.function.config;
        Facts {
            request_id,
            duration_s,
            init_ms: None,
            cold: false,
            timeout_s: cfg.timeout_s,
            memory_mb: cfg.memory_mb,
            restored: self.function.snapstart.is_some(),
            ended_at_ms: crate::clock::epoch_ms(),
            process_limit_hit: false,
        }
    }

    /// Write END and REPORT (with the measured peak memory) and hand out the outcome.
    async fn finish(
        &self,
        inv: &Invocation,
        conclusion: Conclusion,
        process: Option<&Arc<RuntimeProcess>>,
    ) -> Concluded {
        let Conclusion {
            kind,
            payload,
            content_type,
            lines,
            error_type,
            cold,
            reset: _,
            extensions_shutdown,
        } = conclusion;
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
        let (duration_ms, init_duration_ms) = (lines.duration_ms, lines.init_duration_ms);
        let process = process.map(Arc::clone);
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
        let outcome = Outcome {
            kind,
            payload,
            content_type,
            request_id: inv.request_id.clone(),
            cold_start: cold,
            init_duration_ms,
            duration_ms,
            max_memory_used_mb,
            log_tail,
            error_type,
            refusal: None,
        };
        Concluded {
            outcome,
            extensions_shutdown,
        }
    }
}
