//! How an invocation ended, and what follows from it: the answer the caller gets, the platform
//! lines before END and the REPORT fields, the metrics outcome and whether the environment is
//! reset (docs/reference.md §4 Resets, §7 Logs, §12 Metrics). One pure mapping, [`conclude`],
//! for every way an invocation can end.

use std::fmt::Write as _;

use bytes::Bytes;

use super::extensions::ShutdownReason;
use super::init::InitFailure;
use super::process::Termination;
use crate::aws;
use crate::invocation::{OutcomeKind, DEFAULT_CONTENT_TYPE};
use crate::logs::{self, ClosingLines};

/// How an invocation ended.
#[derive(Debug)]
pub(super) enum Ending {
    /// The runtime posted a response (buffered, or streamed to its end).
    Answered {
        /// The response bytes (empty when they were streamed to the caller).
        body: Bytes,
        /// The content type the runtime posted.
        content_type: Option<String>,
    },
    /// The runtime posted `/error`: a function error; the environment stays warm.
    FunctionError {
        /// The runtime's error JSON.
        body: Bytes,
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
    },
    /// The response went past its limit.
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The runtime process exited (or was killed by a signal) during the invocation.
    RuntimeExited(Termination),
    /// The kernel (or the memory check) killed the runtime for memory.
    OutOfMemory,
    /// The function ran past its timeout.
    TimedOut {
        /// Seconds since the invoke phase began.
        after_s: f64,
    },
    /// Init failed twice: in the init phase and in the suppressed init inside the invoke phase.
    InitFailed(InitFailure),
    /// A SnapStart restore failed (its INIT_REPORT is out): the Invoke API refuses the
    /// invocation with a service error; REPORT names the restore's error type.
    RestoreFailed(InitFailure),
    /// The fallback `/tmp` held more than the function's ephemeral storage when the invocation
    /// ended as `after`.
    // NOTE: a wrapper, not a replacement: what `after` logged (a timeout line, REPORT's
    // `Status: timeout`) and a function error's type stay; the answer and REPORT's error type
    // are the platform's.
    EphemeralStorageExceeded {
        /// The function's ephemeral storage, MB.
        storage_mb: u32,
        /// How the invocation had ended.
        after: Box<Ending>,
    },
}

impl Ending {
    /// Whether the invocation failed (everything but an answer).
    pub(super) fn failed(&self) -> bool {
        !matches!(self, Self::Answered { .. })
    }
}

/// What is known of the invocation besides how it ended.
#[derive(Debug, Clone)]
pub(super) struct Facts<'a> {
    /// The request id.
    pub(super) request_id: &'a str,
    /// Seconds since the invoke phase began.
    pub(super) duration_s: f64,
    /// Init duration, when this invocation's cold start ran a successful init phase.
    pub(super) init_ms: Option<f64>,
    /// Whether a new runtime was started for the invocation.
    pub(super) cold: bool,
    /// The function's timeout, s.
    pub(super) timeout_s: u32,
    /// The function's memory size, MB.
    pub(super) memory_mb: u32,
    /// The runtime was restored from a SnapStart template (REPORT's `Restore Duration`).
    pub(super) restored: bool,
    /// Wall-clock time the invocation ended, epoch ms (the timeout line's timestamp).
    pub(super) ended_at_ms: u64,
    /// The environment's processes hit the process limit during a failed invocation.
    pub(super) process_limit_hit: bool,
}

/// How far the environment is reset after an invocation; each level includes the ones before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Reset {
    /// It stays warm (or init's failure already cleared it).
    Keep,
    /// The runtime is killed, and every other process unless external extensions are still to
    /// be told (their reset after SHUTDOWN kills them): the next invocation is a cold start.
    Runtime,
    /// Every process of the environment is killed.
    Processes,
    /// Every process is killed and the fallback `/tmp` emptied.
    ProcessesAndTmp,
}

/// What an invocation's ending comes to.
#[derive(Debug)]
pub(super) struct Conclusion {
    /// The outcome's kind: its metrics label (docs/reference.md §12), telemetry status and
    /// `X-Amz-Function-Error`.
    pub(super) kind: OutcomeKind,
    /// The answer's bytes.
    pub(super) payload: Bytes,
    /// The answer's content type.
    pub(super) content_type: String,
    /// Lines before END, END and REPORT's fields (the measured memory is added later).
    pub(super) lines: ClosingLines,
    /// The outcome's error type: the runtime's for a function error, else the platform's.
    pub(super) error_type: Option<String>,
    /// Whether a new runtime was started for the invocation.
    pub(super) cold: bool,
    /// How far the environment is reset.
    pub(super) reset: Reset,
    /// Why its external extensions are shut down (and the environment reset) after the
    /// invocation; without a reason they get the post-invoke phase.
    pub(super) extensions_shutdown: Option<ShutdownReason>,
}

/// What `ending` comes to.
pub(super) fn conclude(ending: Ending, facts: &Facts<'_>) -> Conclusion {
    let mut draft = Draft::of(ending, facts);
    // NOTE: only a failed invocation counts a process-limit hit: a fork that hit it fails.
    if facts.process_limit_hit && draft.failed {
        draft.reset = draft.reset.max(Reset::Processes);
    }
    let error_type = draft
        .function_error_type
        .or_else(|| draft.status.clone())
        .or_else(|| draft.timed_out.then(|| aws::TIMED_OUT.to_owned()));
    Conclusion {
        kind: draft.kind,
        payload: draft.payload,
        content_type: draft
            .content_type
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        lines: ClosingLines {
            before_end: draft.before_end,
            request_id: facts.request_id.to_owned(),
            duration_ms: draft.duration_ms,
            memory_mb: facts.memory_mb,
            init_duration_ms: facts.init_ms,
            restored: facts.restored,
            timed_out: draft.timed_out,
            error_type: draft.status,
        },
        error_type,
        cold: draft.cold,
        reset: draft.reset,
        extensions_shutdown: match draft.kind {
            OutcomeKind::Timeout => Some(ShutdownReason::Timeout),
            OutcomeKind::Crash => Some(ShutdownReason::Failure),
            _ => None,
        },
    }
}

/// A conclusion under construction.
struct Draft {
    kind: OutcomeKind,
    payload: Bytes,
    content_type: Option<String>,
    /// Whether the ending (before any `/tmp` overflow) was a failure.
    failed: bool,
    before_end: String,
    duration_ms: f64,
    cold: bool,
    /// REPORT's `Status: timeout`.
    timed_out: bool,
    /// REPORT's `Status: error` and its error type.
    status: Option<String>,
    /// The runtime's `Lambda-Runtime-Function-Error-Type` of a function error.
    function_error_type: Option<String>,
    reset: Reset,
}

impl Draft {
    fn of(ending: Ending, facts: &Facts<'_>) -> Self {
        let mut draft = Self {
            kind: OutcomeKind::Success,
            payload: Bytes::new(),
            content_type: None,
            failed: ending.failed(),
            before_end: String::new(),
            duration_ms: facts.duration_s * 1000.0,
            cold: facts.cold,
            timed_out: false,
            status: None,
            function_error_type: None,
            reset: Reset::Keep,
        };
        let id = facts.request_id;
        match ending {
            Ending::Answered { body, content_type } => {
                draft.payload = body;
                draft.content_type = content_type;
            }
            Ending::FunctionError { body, error_type } => {
                draft.kind = OutcomeKind::HandlerError;
                draft.payload = if body.is_empty() {
                    let t = error_type.as_deref().unwrap_or("Unhandled");
                    Bytes::from(aws::platform_error(t, ""))
                } else {
                    body
                };
                draft.function_error_type = error_type;
            }
            Ending::ResponseTooLarge { limit } => {
                draft.kind = OutcomeKind::ResponseTooLarge;
                draft.status = Some(aws::RESPONSE_TOO_LARGE.to_owned());
                draft.payload = Bytes::from(aws::response_too_large_payload(limit));
            }
            Ending::RuntimeExited(termination) => {
                draft.crash(id, &exit_reason(termination), "Runtime.ExitError");
                draft.reset = Reset::Runtime;
            }
            Ending::OutOfMemory => {
                let reason = "Runtime exited with error: signal: killed";
                draft.crash(id, reason, "Runtime.OutOfMemory");
                draft.reset = Reset::Runtime;
            }
            Ending::TimedOut { after_s } => {
                draft.timeout(facts, after_s);
                draft.reset = Reset::Runtime;
            }
            // NOTE: the failed init already stopped everything it started: nothing to reset.
            Ending::InitFailed(failure) => draft.init_failed(facts, failure),
            Ending::RestoreFailed(failure) => {
                draft.kind = OutcomeKind::InitError;
                draft.cold = true;
                draft.status = Some(failure.error_type().to_owned());
            }
            Ending::EphemeralStorageExceeded { storage_mb, after } => {
                draft = Self::of(*after, facts);
                let message = format!(
                    "RequestId: {id} Error: /tmp holds more than the function's ephemeral storage ({storage_mb} MB)"
                );
                draft.kind = OutcomeKind::Crash;
                draft.status = Some("Runtime.EphemeralStorageExceeded".to_owned());
                draft.payload = Bytes::from(aws::platform_error(
                    "Runtime.EphemeralStorageExceeded",
                    &message,
                ));
                draft.reset = Reset::ProcessesAndTmp;
            }
        }
        draft
    }

    /// The runtime died: `RequestId: <id> Error: <reason>` and the error type before END.
    fn crash(&mut self, request_id: &str, reason: &str, error_type: &str) {
        let message = format!("RequestId: {request_id} Error: {reason}");
        self.before_end.push_str(&message);
        self.before_end.push('\n');
        self.before_end.push_str(error_type);
        self.before_end.push('\n');
        self.kind = OutcomeKind::Crash;
        self.status = Some(error_type.to_owned());
        self.payload = Bytes::from(aws::platform_error(error_type, &message));
    }

    /// A timeout after `after_s`: the `Task timed out` line; Duration is the configured timeout.
    fn timeout(&mut self, facts: &Facts<'_>, after_s: f64) {
        let _ = writeln!(
            self.before_end,
            "{} {} Task timed out after {after_s:.2} seconds",
            crate::clock::iso8601(facts.ended_at_ms),
            facts.request_id
        );
        self.kind = OutcomeKind::Timeout;
        self.timed_out = true;
        self.duration_ms = f64::from(facts.timeout_s) * 1000.0;
        self.payload = Bytes::from(aws::timeout_payload(facts.request_id, after_s));
    }

    /// The suppressed init failed too: its INIT_REPORT, then the failure's own answer.
    fn init_failed(&mut self, facts: &Facts<'_>, failure: InitFailure) {
        let id = facts.request_id;
        self.cold = true;
        self.before_end.push_str(&logs::init_report_line(
            self.duration_ms,
            "invoke",
            failure.report_status(),
            failure.report_error_type(),
        ));
        self.kind = OutcomeKind::InitError;
        match failure {
            InitFailure::Error { body, error_type }
            | InitFailure::AfterRestore { body, error_type } => {
                self.status = Some(error_type);
                self.payload = body;
            }
            InitFailure::Exited(info) => {
                self.crash(id, &exit_reason(info.termination), "Runtime.ExitError");
            }
            InitFailure::Spawn(message) => {
                let error_type = "Runtime.InvalidEntrypoint";
                let message = format!("RequestId: {id} Error: {message}");
                self.status = Some(error_type.to_owned());
                self.payload = Bytes::from(aws::platform_error(error_type, &message));
            }
            InitFailure::Extension { error_type, reason } => {
                self.status = Some(error_type.to_owned());
                self.payload = Bytes::from(aws::extension::init_failure(error_type, id, &reason));
            }
            InitFailure::TimedOut => self.timeout(facts, facts.duration_s),
        }
    }
}

/// `Runtime exited with error: exit status 1`, or `Runtime exited without providing a reason`.
fn exit_reason(termination: Termination) -> String {
    match termination {
        Termination::Exited(0) => "Runtime exited without providing a reason".to_owned(),
        t => format!("Runtime exited with error: {}", t.describe()),
    }
}

#[cfg(test)]
mod tests;
