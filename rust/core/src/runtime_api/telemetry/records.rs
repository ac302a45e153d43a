//! The `platform.*` records of the Telemetry API (schema 2022-12-13), built from what the
//! environment logs anyway.

use serde_json::{json, Value};

use crate::logs::ClosingLines;

/// `platform.initStart`.
pub fn init_start(initialization_type: &str, function_name: &str) -> Value {
    json!({
        "initializationType": initialization_type,
        "phase": "init",
        "functionName": function_name,
        "functionVersion": crate::aws::LATEST,
    })
}

/// `platform.initRuntimeDone`.
pub fn init_runtime_done(initialization_type: &str, error_type: Option<&str>) -> Value {
    let mut r = json!({
        "initializationType": initialization_type,
        "phase": "init",
        "status": if error_type.is_some() { "error" } else { "success" },
    });
    if let Some(t) = error_type {
        r["errorType"] = Value::String(t.to_owned());
    }
    r
}

/// `platform.initReport`.
pub fn init_report(initialization_type: &str, error_type: Option<&str>, duration_ms: f64) -> Value {
    let mut r = init_runtime_done(initialization_type, error_type);
    r["metrics"] = json!({ "durationMs": round2(duration_ms) });
    r
}

/// `platform.start`.
pub fn start(request_id: &str, trace_id: &str) -> Value {
    json!({
        "requestId": request_id,
        "version": crate::aws::LATEST,
        "tracing": super::tracing(trace_id),
    })
}

/// `platform.runtimeDone`.
pub fn runtime_done(
    request_id: &str,
    status: &str,
    error_type: Option<&str>,
    duration_ms: f64,
    produced_bytes: usize,
) -> Value {
    let mut r = json!({
        "requestId": request_id,
        "status": status,
        "metrics": { "durationMs": round2(duration_ms), "producedBytes": produced_bytes },
    });
    if let Some(t) = error_type {
        r["errorType"] = Value::String(t.to_owned());
    }
    r
}

/// `platform.report`, with the measured peak memory.
pub fn report(lines: &ClosingLines, max_memory_used_mb: u64, status: &str) -> Value {
    let mut metrics = json!({
        "durationMs": round2(lines.duration_ms),
        "billedDurationMs": (lines.duration_ms + lines.init_duration_ms.unwrap_or(0.0)).ceil() as u64,
        "memorySizeMB": lines.memory_mb,
        "maxMemoryUsedMB": max_memory_used_mb,
    });
    if let Some(init) = lines.init_duration_ms {
        metrics["initDurationMs"] = json!(round2(init));
    }
    let mut r = json!({
        "requestId": lines.request_id,
        "status": status,
        "metrics": metrics,
    });
    if let Some(t) = &lines.error_type {
        r["errorType"] = Value::String(t.clone());
    }
    r
}

fn round2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}
