//! What an invocation leaves behind for its log and REPORT line: duration, status, the lines
//! written before END, and the platform's payloads for crashes and timeouts.

use std::fmt::Write as _;

use super::process::{self, ExitInfo};
use crate::aws;

/// What goes into the log and the REPORT line after an invocation.
pub(super) struct Closing {
    /// REPORT's Duration.
    pub(super) duration_ms: f64,
    /// REPORT's Init Duration, after a cold start.
    pub(super) init_ms: Option<f64>,
    /// Whether a new runtime process was started for the invocation.
    pub(super) cold: bool,
    /// REPORT's `Status: timeout`.
    pub(super) timed_out: bool,
    /// REPORT's `Status: error` and its error type.
    pub(super) status: Option<String>,
    /// The runtime's `Lambda-Runtime-Function-Error-Type` of a handler error.
    pub(super) error_type: Option<String>,
    /// Lines written before END.
    pub(super) lines: String,
}

impl Closing {
    pub(super) fn new(duration_ms: f64, init_ms: Option<f64>) -> Self {
        Self {
            duration_ms,
            init_ms,
            cold: init_ms.is_some(),
            timed_out: false,
            status: None,
            error_type: None,
            lines: String::new(),
        }
    }

    /// A crash: the log lines, the REPORT status and the payload.
    pub(super) fn crash(&mut self, request_id: &str, info: ExitInfo) -> String {
        let message = format!(
            "RequestId: {request_id} Error: {}",
            exit_reason(info.termination)
        );
        self.lines.push_str(&message);
        self.lines.push_str("\nRuntime.ExitError\n");
        self.status = Some("Runtime.ExitError".to_owned());
        aws::platform_error("Runtime.ExitError", &message)
    }

    /// An out-of-memory kill: the log lines, the REPORT status and the payload.
    pub(super) fn out_of_memory(&mut self, request_id: &str) -> String {
        let message =
            format!("RequestId: {request_id} Error: Runtime exited with error: signal: killed");
        self.lines.push_str(&message);
        self.lines.push_str("\nRuntime.OutOfMemory\n");
        self.status = Some("Runtime.OutOfMemory".to_owned());
        aws::platform_error("Runtime.OutOfMemory", &message)
    }

    /// A timeout: the log line; Duration is the configured timeout.
    pub(super) fn timeout(&mut self, request_id: &str, elapsed_s: f64, timeout_s: u32) {
        let _ = writeln!(
            self.lines,
            "{} {request_id} Task timed out after {elapsed_s:.2} seconds",
            crate::clock::iso8601(crate::clock::epoch_ms())
        );
        self.timed_out = true;
        self.duration_ms = f64::from(timeout_s) * 1000.0;
    }
}

/// `Runtime exited with error: exit status 1`, or `Runtime exited without providing a reason`.
fn exit_reason(termination: process::Termination) -> String {
    match termination {
        process::Termination::Exited(0) => "Runtime exited without providing a reason".to_owned(),
        t => format!("Runtime exited with error: {}", t.describe()),
    }
}
