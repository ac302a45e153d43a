//! One accepted `Event` invocation, as the queue holds it and as a line of the state file.

use std::time::Duration;

use bytes::Bytes;

use crate::invocation::Invocation;

/// An accepted event, as kept in the queue and in the state file.
#[derive(Debug, Clone)]
pub struct QueuedEvent {
    /// The function it is for.
    pub function: String,
    /// Its request id, the same for every attempt.
    pub request_id: String,
    /// The event bytes (JSON).
    pub payload: Bytes,
    /// The ARN the caller used.
    pub invoked_arn: String,
    /// Trace header.
    pub trace_id: String,
    /// When it was accepted, epoch ms.
    pub accepted_ms: u64,
    /// Attempts made so far.
    pub attempts: u32,
}

impl QueuedEvent {
    pub(super) fn invocation(&self) -> Invocation {
        Invocation::traced(
            self.payload.clone(),
            self.invoked_arn.clone(),
            self.request_id.clone(),
            self.trace_id.clone(),
        )
    }

    pub(super) fn age(&self) -> Duration {
        Duration::from_millis(crate::clock::epoch_ms().saturating_sub(self.accepted_ms))
    }

    /// One line of the state file.
    pub fn to_json_line(&self) -> String {
        serde_json::json!({
            "function": self.function,
            "requestId": self.request_id,
            "payload": String::from_utf8_lossy(&self.payload),
            "invokedArn": self.invoked_arn,
            "traceId": self.trace_id,
            "acceptedMs": self.accepted_ms,
            "attempts": self.attempts,
        })
        .to_string()
    }

    /// Read one line of the state file.
    pub fn from_json_line(line: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(Self {
            function: v.get("function")?.as_str()?.to_owned(),
            request_id: v.get("requestId")?.as_str()?.to_owned(),
            payload: Bytes::from(v.get("payload")?.as_str()?.to_owned()),
            invoked_arn: v.get("invokedArn")?.as_str()?.to_owned(),
            trace_id: v.get("traceId")?.as_str()?.to_owned(),
            accepted_ms: v.get("acceptedMs")?.as_u64()?,
            attempts: u32::try_from(v.get("attempts")?.as_u64()?).ok()?,
        })
    }
}
