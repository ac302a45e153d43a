//! One batch of records handed to the mapped function: a synchronous invocation that waits for
//! a free environment, and what it answered (docs/reference.md §16).

use bytes::Bytes;

use crate::config::ThrottlePolicy;
use crate::invocation::{Invocation, OutcomeKind};
use crate::registry::Registry;

/// How a batch's invocation ended.
pub enum BatchOutcome {
    /// The function answered without an error: its response and the version that ran.
    Answered {
        /// The response payload.
        payload: Bytes,
        /// `X-Amz-Executed-Version`.
        version: String,
    },
    /// The function failed (error, timeout, crash): the whole batch failed.
    FunctionError {
        /// The version that ran.
        version: String,
    },
    /// No invocation: the function is gone or takes no invocations (throttled).
    NotInvoked(String),
}

/// Invoke the mapping's function `function_arn` with `payload` (`{"Records":[...]}`).
pub async fn batch(registry: &Registry, function_arn: &str, payload: Bytes) -> BatchOutcome {
    let target = match registry.resolve(function_arn, None) {
        Ok(t) => t,
        Err(e) => return BatchOutcome::NotInvoked(e.message()),
    };
    let version = target.version.to_string();
    let invocation = Invocation::new(payload, target.invoked_arn);
    // NOTE: a poller waits for a free environment rather than failing the batch: AWS's
    // pollers scale down on throttles and the records stay in the source meanwhile.
    match target
        .scheduler
        .invoke_with(invocation, ThrottlePolicy::Queue)
        .await
    {
        Err(e) => BatchOutcome::NotInvoked(e.message()),
        Ok(outcome) if outcome.kind == OutcomeKind::Success => BatchOutcome::Answered {
            payload: outcome.payload,
            version,
        },
        Ok(_) => BatchOutcome::FunctionError { version },
    }
}
