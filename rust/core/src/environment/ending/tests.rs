//! Every way an invocation ends, mapped to its answer, lines, metrics label and reset.

use bytes::Bytes;

use super::{conclude, Conclusion, Ending, Facts, Reset};
use crate::aws::ServiceError;
use crate::environment::extensions::ShutdownReason;
use crate::environment::init::InitFailure;
use crate::environment::process::{ExitInfo, Termination};
use crate::invocation::OutcomeKind;

const ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// A warm invocation of 1.5 s, of a function with a 3 s timeout and 128 MB, ended at
/// 2018-11-20T12:00:00.123Z.
fn warm() -> Facts<'static> {
    Facts {
        request_id: ID,
        duration_s: 1.5,
        init_ms: None,
        cold: false,
        timeout_s: 3,
        memory_mb: 128,
        restored: false,
        ended_at_ms: 1_542_715_200_123,
        process_limit_hit: false,
    }
}

/// The closing lines with 42 MB measured.
fn rendered(c: &Conclusion) -> String {
    c.lines.render(42)
}

fn report(tail: &str) -> String {
    format!("END RequestId: {ID}\nREPORT RequestId: {ID}\tDuration: {tail}")
}

#[test]
fn an_answer_is_the_runtimes_bytes_and_keeps_the_environment() {
    let ending = Ending::Answered {
        body: Bytes::from_static(b"{\"ok\":1}"),
        content_type: Some("text/plain".to_owned()),
    };
    let c = conclude(ending, &warm());
    assert_eq!(c.kind, OutcomeKind::Success);
    assert_eq!(c.kind.label(), "success");
    assert_eq!(&c.payload[..], b"{\"ok\":1}");
    assert_eq!(c.content_type, "text/plain");
    assert_eq!(c.error_type, None);
    assert!(!c.cold);
    assert_eq!(c.reset, Reset::Keep);
    assert_eq!(
        rendered(&c),
        report(
            "1500.00 ms\tBilled Duration: 1500 ms\tMemory Size: 128 MB\tMax Memory Used: 42 MB\t\n"
        )
    );
}

#[test]
fn an_answer_without_content_type_is_json() {
    let ending = Ending::Answered {
        body: Bytes::new(),
        content_type: None,
    };
    let c = conclude(ending, &warm());
    assert_eq!(c.content_type, "application/json");
}

#[test]
fn a_cold_answer_reports_its_init_duration() {
    let facts = Facts {
        init_ms: Some(110.1),
        cold: true,
        ..warm()
    };
    let ending = Ending::Answered {
        body: Bytes::new(),
        content_type: None,
    };
    let c = conclude(ending, &facts);
    assert!(c.cold);
    assert_eq!(
        rendered(&c),
        report("1500.00 ms\tBilled Duration: 1611 ms\tMemory Size: 128 MB\tMax Memory Used: 42 MB\tInit Duration: 110.10 ms\t\n")
    );
}

#[test]
fn a_function_error_keeps_the_runtimes_body_and_type_without_report_status() {
    let ending = Ending::FunctionError {
        body: Bytes::from_static(b"{\"errorType\":\"ValueError\"}"),
        error_type: Some("ValueError".to_owned()),
    };
    let c = conclude(ending, &warm());
    assert_eq!(c.kind, OutcomeKind::HandlerError);
    assert_eq!(c.kind.label(), "error");
    assert_eq!(&c.payload[..], b"{\"errorType\":\"ValueError\"}");
    assert_eq!(c.content_type, "application/json");
    assert_eq!(c.error_type.as_deref(), Some("ValueError"));
    assert_eq!(c.lines.error_type, None);
    assert!(!c.lines.timed_out);
    assert_eq!(c.reset, Reset::Keep);
    assert!(rendered(&c).ends_with("Max Memory Used: 42 MB\t\n"));
}

#[test]
fn a_function_error_without_body_gets_the_platforms() {
    let named = Ending::FunctionError {
        body: Bytes::new(),
        error_type: Some("Custom".to_owned()),
    };
    let c = conclude(named, &warm());
    assert_eq!(
        &c.payload[..],
        b"{\"errorType\":\"Custom\",\"errorMessage\":\"\"}"
    );
    let unnamed = Ending::FunctionError {
        body: Bytes::new(),
        error_type: None,
    };
    let c = conclude(unnamed, &warm());
    assert_eq!(
        &c.payload[..],
        b"{\"errorType\":\"Unhandled\",\"errorMessage\":\"\"}"
    );
    assert_eq!(c.error_type, None);
}

#[test]
fn a_response_too_large_is_an_error_with_report_status() {
    let c = conclude(Ending::ResponseTooLarge { limit: 6_291_556 }, &warm());
    assert_eq!(c.kind, OutcomeKind::ResponseTooLarge);
    assert_eq!(c.kind.label(), "error");
    assert_eq!(
        &c.payload[..],
        b"{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size (6291556 bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}"
    );
    assert_eq!(
        c.error_type.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    assert_eq!(c.reset, Reset::Keep);
    assert!(rendered(&c).ends_with("Status: error\tError Type: Function.ResponseSizeTooLarge\t\n"));
}

#[test]
fn a_runtime_exit_is_a_crash_that_resets_the_runtime() {
    let c = conclude(Ending::RuntimeExited(Termination::Exited(1)), &warm());
    assert_eq!(c.kind, OutcomeKind::Crash);
    assert_eq!(c.kind.label(), "crash");
    let message = format!("RequestId: {ID} Error: Runtime exited with error: exit status 1");
    assert_eq!(
        c.payload,
        Bytes::from(format!(
            "{{\"errorType\":\"Runtime.ExitError\",\"errorMessage\":\"{message}\"}}"
        ))
    );
    assert_eq!(c.error_type.as_deref(), Some("Runtime.ExitError"));
    assert_eq!(c.reset, Reset::Runtime);
    assert_eq!(
        rendered(&c),
        format!("{message}\nRuntime.ExitError\n")
            + &report("1500.00 ms\tBilled Duration: 1500 ms\tMemory Size: 128 MB\tMax Memory Used: 42 MB\tStatus: error\tError Type: Runtime.ExitError\t\n")
    );
}

#[test]
fn a_runtime_exit_names_its_signal_or_its_silence() {
    let killed = conclude(
        Ending::RuntimeExited(Termination::Signaled(libc::SIGSEGV)),
        &warm(),
    );
    assert!(killed.lines.before_end.starts_with(&format!(
        "RequestId: {ID} Error: Runtime exited with error: signal: segmentation fault\n"
    )));
    let silent = conclude(Ending::RuntimeExited(Termination::Exited(0)), &warm());
    assert!(silent.lines.before_end.starts_with(&format!(
        "RequestId: {ID} Error: Runtime exited without providing a reason\n"
    )));
}

#[test]
fn out_of_memory_is_a_crash_of_its_own_type() {
    let c = conclude(Ending::OutOfMemory, &warm());
    assert_eq!(c.kind, OutcomeKind::Crash);
    assert_eq!(c.kind.label(), "crash");
    let message = format!("RequestId: {ID} Error: Runtime exited with error: signal: killed");
    assert_eq!(
        c.payload,
        Bytes::from(format!(
            "{{\"errorType\":\"Runtime.OutOfMemory\",\"errorMessage\":\"{message}\"}}"
        ))
    );
    assert_eq!(
        c.lines.before_end,
        format!("{message}\nRuntime.OutOfMemory\n")
    );
    assert_eq!(c.error_type.as_deref(), Some("Runtime.OutOfMemory"));
    assert_eq!(c.reset, Reset::Runtime);
}

#[test]
fn a_timeout_reports_the_configured_timeout_and_resets_the_runtime() {
    let c = conclude(Ending::TimedOut { after_s: 3.004 }, &warm());
    assert_eq!(c.kind, OutcomeKind::Timeout);
    assert_eq!(c.kind.label(), "timeout");
    assert_eq!(
        c.payload,
        Bytes::from(format!(
            "{{\"errorType\":\"Sandbox.Timedout\",\"errorMessage\":\"RequestId: {ID} Error: Task timed out after 3.00 seconds\"}}"
        ))
    );
    assert_eq!(c.error_type.as_deref(), Some("Sandbox.Timedout"));
    assert_eq!(c.reset, Reset::Runtime);
    assert_eq!(
        rendered(&c),
        format!("2018-11-20T12:00:00.123Z {ID} Task timed out after 3.00 seconds\n")
            + &report("3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 42 MB\tStatus: timeout\t\n")
    );
}

/// A suppressed init that failed after 250 ms.
fn suppressed_init() -> Facts<'static> {
    Facts {
        duration_s: 0.25,
        ..warm()
    }
}

#[test]
fn an_init_error_answers_the_runtimes_body() {
    let failure = InitFailure::Error {
        body: Bytes::from_static(b"{\"errorType\":\"Runtime.ImportModuleError\"}"),
        error_type: "Runtime.ImportModuleError".to_owned(),
    };
    let c = conclude(Ending::InitFailed(failure), &suppressed_init());
    assert_eq!(c.kind, OutcomeKind::InitError);
    assert_eq!(c.kind.label(), "error");
    assert_eq!(
        &c.payload[..],
        b"{\"errorType\":\"Runtime.ImportModuleError\"}"
    );
    assert_eq!(c.error_type.as_deref(), Some("Runtime.ImportModuleError"));
    assert!(c.cold);
    assert_eq!(c.reset, Reset::Keep);
    assert_eq!(
        rendered(&c),
        "INIT_REPORT Init Duration: 250.00 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError\n".to_owned()
            + &report("250.00 ms\tBilled Duration: 250 ms\tMemory Size: 128 MB\tMax Memory Used: 42 MB\tStatus: error\tError Type: Runtime.ImportModuleError\t\n")
    );
}

#[test]
fn only_a_failed_hook_or_an_overrun_refuses_a_snapstart_restore() {
    let hook = InitFailure::AfterRestore {
        body: Bytes::from_static(b"{}"),
        error_type: "Runtime.AfterRestoreError".to_owned(),
    };
    assert_eq!(hook.snapstart_refusal(), Some(ServiceError::SnapStart));
    assert_eq!(
        InitFailure::TimedOut.snapstart_refusal(),
        Some(ServiceError::SnapStartTimeout)
    );
    let init = InitFailure::Error {
        body: Bytes::new(),
        error_type: "Runtime.ImportModuleError".to_owned(),
    };
    assert_eq!(init.snapstart_refusal(), None);
    let exit = InitFailure::Exited(ExitInfo {
        termination: Termination::Exited(1),
        max_rss_kb: 0,
    });
    assert_eq!(exit.snapstart_refusal(), None);
}

#[test]
fn a_failed_restore_reports_its_error_type_without_a_second_init() {
    let failure = InitFailure::AfterRestore {
        body: Bytes::from_static(b"{\"errorType\":\"RuntimeError\"}"),
        error_type: "Runtime.AfterRestoreError".to_owned(),
    };
    let facts = Facts {
        duration_s: 0.0,
        cold: true,
        restored: true,
        ..warm()
    };
    let c = conclude(Ending::RestoreFailed(failure), &facts);
    assert_eq!(c.kind, OutcomeKind::InitError);
    assert!(c.cold);
    assert_eq!(c.reset, Reset::Keep);
    assert_eq!(
        rendered(&c),
        report("0.00 ms\tBilled Duration: 0 ms\tMemory Size: 128 MB\tMax Memory Used: 42 MB\tStatus: error\tError Type: Runtime.AfterRestoreError\t\n")
    );
}

#[test]
fn a_runtime_exit_during_init_is_a_crash() {
    let failure = InitFailure::Exited(ExitInfo {
        termination: Termination::Exited(2),
        max_rss_kb: 0,
    });
    let c = conclude(Ending::InitFailed(failure), &suppressed_init());
    assert_eq!(c.kind, OutcomeKind::Crash);
    assert_eq!(c.kind.label(), "crash");
    assert_eq!(c.error_type.as_deref(), Some("Runtime.ExitError"));
    assert_eq!(
        c.lines.before_end,
        format!(
            "INIT_REPORT Init Duration: 250.00 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ExitError\nRequestId: {ID} Error: Runtime exited with error: exit status 2\nRuntime.ExitError\n"
        )
    );
    assert!(c.cold);
    assert_eq!(c.reset, Reset::Keep);
}

#[test]
fn a_runtime_that_cannot_start_is_an_invalid_entrypoint() {
    let failure = InitFailure::Spawn("fork/exec /var/runtime/bootstrap: no such file".to_owned());
    let c = conclude(Ending::InitFailed(failure), &suppressed_init());
    assert_eq!(c.kind, OutcomeKind::InitError);
    assert_eq!(
        c.payload,
        Bytes::from(format!(
            "{{\"errorType\":\"Runtime.InvalidEntrypoint\",\"errorMessage\":\"RequestId: {ID} Error: fork/exec /var/runtime/bootstrap: no such file\"}}"
        ))
    );
    assert_eq!(c.error_type.as_deref(), Some("Runtime.InvalidEntrypoint"));
    assert_eq!(
        c.lines.before_end,
        "INIT_REPORT Init Duration: 250.00 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.InvalidEntrypoint\n"
    );
}

#[test]
fn an_extension_failure_during_init_names_the_extension_error() {
    let failure = InitFailure::Extension {
        error_type: "Extension.Crash",
        reason: "extension ext exited: exit status 1".to_owned(),
    };
    let c = conclude(Ending::InitFailed(failure), &suppressed_init());
    assert_eq!(c.kind, OutcomeKind::InitError);
    assert_eq!(
        c.payload,
        Bytes::from(format!(
            "{{\"errorType\":\"Extension.Crash\",\"errorMessage\":\"RequestId: {ID} Error: extension ext exited: exit status 1\"}}"
        ))
    );
    assert_eq!(c.error_type.as_deref(), Some("Extension.Crash"));
    assert_eq!(c.lines.error_type.as_deref(), Some("Extension.Crash"));
}

#[test]
fn an_init_past_the_function_timeout_is_a_timeout() {
    let facts = Facts {
        duration_s: 3.001,
        ..warm()
    };
    let c = conclude(Ending::InitFailed(InitFailure::TimedOut), &facts);
    assert_eq!(c.kind, OutcomeKind::Timeout);
    assert_eq!(c.kind.label(), "timeout");
    assert_eq!(c.error_type.as_deref(), Some("Sandbox.Timedout"));
    assert_eq!(
        rendered(&c),
        format!(
            "INIT_REPORT Init Duration: 3001.00 ms\tPhase: invoke\tStatus: timeout\n2018-11-20T12:00:00.123Z {ID} Task timed out after 3.00 seconds\n"
        ) + &report("3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 42 MB\tStatus: timeout\t\n")
    );
    assert!(c.cold);
    assert_eq!(c.reset, Reset::Keep);
}

fn over_tmp(after: Ending) -> Ending {
    Ending::EphemeralStorageExceeded {
        storage_mb: 512,
        after: Box::new(after),
    }
}

#[test]
fn an_overfull_tmp_fails_an_answered_invocation_and_empties_tmp() {
    let answered = Ending::Answered {
        body: Bytes::from_static(b"{}"),
        content_type: Some("text/plain".to_owned()),
    };
    let c = conclude(over_tmp(answered), &warm());
    assert_eq!(c.kind, OutcomeKind::Crash);
    assert_eq!(c.kind.label(), "crash");
    assert_eq!(
        c.payload,
        Bytes::from(format!(
            "{{\"errorType\":\"Runtime.EphemeralStorageExceeded\",\"errorMessage\":\"RequestId: {ID} Error: /tmp holds more than the function's ephemeral storage (512 MB)\"}}"
        ))
    );
    // NOTE: the answer's content type stays, as it always has.
    assert_eq!(c.content_type, "text/plain");
    assert_eq!(
        c.error_type.as_deref(),
        Some("Runtime.EphemeralStorageExceeded")
    );
    assert_eq!(c.reset, Reset::ProcessesAndTmp);
    assert!(
        rendered(&c).ends_with("Status: error\tError Type: Runtime.EphemeralStorageExceeded\t\n")
    );
}

#[test]
fn an_overfull_tmp_keeps_what_the_ending_logged() {
    let c = conclude(over_tmp(Ending::TimedOut { after_s: 3.0 }), &warm());
    assert_eq!(c.kind, OutcomeKind::Crash);
    assert!(c.lines.timed_out);
    assert!(c
        .lines
        .before_end
        .contains("Task timed out after 3.00 seconds"));
    assert_eq!(
        c.error_type.as_deref(),
        Some("Runtime.EphemeralStorageExceeded")
    );
    let function_error = Ending::FunctionError {
        body: Bytes::from_static(b"{}"),
        error_type: Some("ValueError".to_owned()),
    };
    let c = conclude(over_tmp(function_error), &warm());
    assert_eq!(c.error_type.as_deref(), Some("ValueError"));
    assert_eq!(
        c.lines.error_type.as_deref(),
        Some("Runtime.EphemeralStorageExceeded")
    );
}

#[test]
fn a_process_limit_hit_resets_the_processes_after_a_failure_only() {
    let facts = Facts {
        process_limit_hit: true,
        ..warm()
    };
    let answered = Ending::Answered {
        body: Bytes::new(),
        content_type: None,
    };
    assert_eq!(conclude(answered, &facts).reset, Reset::Keep);
    let function_error = Ending::FunctionError {
        body: Bytes::new(),
        error_type: None,
    };
    let c = conclude(function_error, &facts);
    assert_eq!(c.kind, OutcomeKind::HandlerError);
    assert_eq!(c.reset, Reset::Processes);
    assert_eq!(
        conclude(Ending::OutOfMemory, &facts).reset,
        Reset::Processes
    );
}

#[test]
fn a_snapstart_restore_reports_its_restore_duration() {
    let facts = Facts {
        init_ms: Some(20.5),
        cold: true,
        restored: true,
        ..warm()
    };
    let ending = Ending::Answered {
        body: Bytes::new(),
        content_type: None,
    };
    assert!(rendered(&conclude(ending, &facts))
        .ends_with("Restore Duration: 20.50 ms\tBilled Restore Duration: 21 ms\t\n"));
}

#[test]
fn extensions_are_shut_down_after_timeouts_and_crashes_only() {
    let answered = || Ending::Answered {
        body: Bytes::new(),
        content_type: None,
    };
    let cases = [
        (answered(), None),
        (
            Ending::FunctionError {
                body: Bytes::new(),
                error_type: None,
            },
            None,
        ),
        (Ending::ResponseTooLarge { limit: 1 }, None),
        (
            Ending::RuntimeExited(Termination::Exited(1)),
            Some(ShutdownReason::Failure),
        ),
        (Ending::OutOfMemory, Some(ShutdownReason::Failure)),
        (
            Ending::TimedOut { after_s: 3.0 },
            Some(ShutdownReason::Timeout),
        ),
        (
            Ending::InitFailed(InitFailure::Spawn("no".to_owned())),
            None,
        ),
        (
            Ending::InitFailed(InitFailure::TimedOut),
            Some(ShutdownReason::Timeout),
        ),
        (over_tmp(answered()), Some(ShutdownReason::Failure)),
    ];
    for (ending, shutdown) in cases {
        let described = format!("{ending:?}");
        assert_eq!(
            conclude(ending, &warm()).extensions_shutdown,
            shutdown,
            "{described}"
        );
    }
}
