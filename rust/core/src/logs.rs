//! Log lines: the platform's INIT_START/START/END/REPORT lines (stdout, as AWS writes them to
//! CloudWatch, through the writer in `output`) and the emulator's own messages (stderr).

mod direct;
mod output;

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::config::LogLevel;

pub use output::{dropped_lines, flush, function_logs_to_stderr, open, write_function_log};

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

/// Set the emulator's own verbosity.
pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether messages of `level` are shown.
pub fn enabled(level: LogLevel) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Write one of the emulator's own messages to stderr, RIE style:
/// `26 Nov 2026 20:30:01,123 [INFO] (lambda-rie) message`.
pub fn message(level: LogLevel, text: &str) {
    if !enabled(level) {
        return;
    }
    let tag = match level {
        LogLevel::Error => "ERROR",
        LogLevel::Warn => "WARNING",
        LogLevel::Info => "INFO",
        LogLevel::Debug => "DEBUG",
    };
    let line = format!(
        "{} [{tag}] (lambda-rie) {text}\n",
        crate::clock::message_time(crate::clock::epoch_ms())
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `INIT_START Runtime Version: ...\tRuntime Version ARN: ...`.
pub fn init_start_line(runtime_version: &str, region: &str) -> String {
    format!(
        "INIT_START Runtime Version: {runtime_version}\tRuntime Version ARN: arn:aws:lambda:{region}::runtime:lambda-rie\n"
    )
}

/// `RESTORE_START Runtime Version: ...`: a SnapStart environment is being restored.
pub fn restore_start_line(runtime_version: &str, region: &str) -> String {
    format!(
        "RESTORE_START Runtime Version: {runtime_version}\tRuntime Version ARN: arn:aws:lambda:{region}::runtime:lambda-rie\n"
    )
}

/// `RESTORE_REPORT Restore Duration: <ms> ms`.
pub fn restore_report_line(restore_ms: f64) -> String {
    format!("RESTORE_REPORT Restore Duration: {restore_ms:.2} ms\n")
}

/// `INIT_REPORT Init Duration: <ms> ms\tPhase: <phase>\tStatus: <status>[\tError Type: <type>]`.
pub fn init_report_line(
    init_ms: f64,
    phase: &str,
    status: &str,
    error_type: Option<&str>,
) -> String {
    let mut line =
        format!("INIT_REPORT Init Duration: {init_ms:.2} ms\tPhase: {phase}\tStatus: {status}");
    if let Some(t) = error_type {
        let _ = write!(line, "\tError Type: {t}");
    }
    line.push('\n');
    line
}

/// `START RequestId: <id> Version: $LATEST`.
pub fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}\n")
}

/// `END RequestId: <id>`.
pub fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}\n")
}

/// How a failed invocation shows in REPORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus<'a> {
    /// `Status: timeout`.
    Timeout,
    /// `Status: error\tError Type: <type>`.
    Error(&'a str),
}

/// The figures of one REPORT line.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// The request id.
    pub request_id: &'a str,
    /// Invocation duration.
    pub duration_ms: f64,
    /// Configured memory size.
    pub memory_mb: u32,
    /// Measured peak memory.
    pub max_memory_used_mb: u64,
    /// Init duration, on a cold start's first invocation only.
    pub init_duration_ms: Option<f64>,
    /// The cold start was a SnapStart restore: `Restore Duration` instead of `Init Duration`.
    pub restored: bool,
    /// Set on failures.
    pub status: Option<ReportStatus<'a>>,
}

impl Report<'_> {
    /// Billed duration: ceil(Duration), plus init on a cold start (AWS bills init since 2025-08).
    pub fn billed_ms(&self) -> u64 {
        let init = if self.restored {
            0.0
        } else {
            self.init_duration_ms.unwrap_or(0.0)
        };
        (self.duration_ms + init).ceil() as u64
    }

    /// The REPORT line, TAB-separated and TAB-terminated, in AWS's field order.
    pub fn line(&self) -> String {
        let mut s = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            self.request_id,
            self.duration_ms,
            self.billed_ms(),
            self.memory_mb,
            self.max_memory_used_mb
        );
        match (self.init_duration_ms, self.restored) {
            (Some(restore), true) => {
                let billed = restore.ceil() as u64;
                let _ = write!(
                    s,
                    "Restore Duration: {restore:.2} ms\tBilled Restore Duration: {billed} ms\t"
                );
            }
            (Some(init), false) => {
                let _ = write!(s, "Init Duration: {init:.2} ms\t");
            }
            (None, _) => {}
        }
        match self.status {
            Some(ReportStatus::Timeout) => s.push_str("Status: timeout\t"),
            Some(ReportStatus::Error(t)) => {
                let _ = write!(s, "Status: error\tError Type: {t}\t");
            }
            None => {}
        }
        s.push('\n');
        s
    }
}

/// Everything written when an invocation ends, but the measured memory (read later, off the
/// answer's path): lines before END, END, and REPORT.
#[derive(Debug, Clone)]
pub struct ClosingLines {
    /// Timeout or crash lines, written before END.
    pub before_end: String,
    /// The request id.
    pub request_id: String,
    /// Invocation duration.
    pub duration_ms: f64,
    /// Configured memory size.
    pub memory_mb: u32,
    /// Init duration, on a cold start.
    pub init_duration_ms: Option<f64>,
    /// The cold start was a SnapStart restore.
    pub restored: bool,
    /// `Some("timeout")` for a timeout, else the error type of a failure.
    pub timed_out: bool,
    /// The error type of a failed invocation.
    pub error_type: Option<String>,
}

impl ClosingLines {
    /// The lines, with the measured peak memory.
    pub fn render(&self, max_memory_used_mb: u64) -> String {
        let report = Report {
            request_id: &self.request_id,
            duration_ms: self.duration_ms,
            memory_mb: self.memory_mb,
            max_memory_used_mb,
            init_duration_ms: self.init_duration_ms,
            restored: self.restored,
            status: if self.timed_out {
                Some(ReportStatus::Timeout)
            } else {
                self.error_type.as_deref().map(ReportStatus::Error)
            },
        };
        let mut s = self.before_end.clone();
        s.push_str(&end_line(&self.request_id));
        s.push_str(&report.line());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_has_aws_field_order() {
        let r = Report {
            request_id: "id",
            duration_ms: 3.011,
            memory_mb: 128,
            max_memory_used_mb: 36,
            init_duration_ms: Some(110.1),
            restored: false,
            status: None,
        };
        assert_eq!(
            r.line(),
            "REPORT RequestId: id\tDuration: 3.01 ms\tBilled Duration: 114 ms\tMemory Size: 128 MB\tMax Memory Used: 36 MB\tInit Duration: 110.10 ms\t\n"
        );
    }

    #[test]
    fn report_line_with_error_status() {
        let r = Report {
            request_id: "id",
            duration_ms: 1000.0,
            memory_mb: 128,
            max_memory_used_mb: 20,
            init_duration_ms: None,
            restored: false,
            status: Some(ReportStatus::Error("Runtime.ExitError")),
        };
        assert!(r
            .line()
            .ends_with("Billed Duration: 1000 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tStatus: error\tError Type: Runtime.ExitError\t\n"));
    }
}
