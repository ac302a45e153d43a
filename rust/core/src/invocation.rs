//! One invocation on its way from the Invoke API to a runtime, and the outcome it comes back with.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

/// Content type of an event when the caller names none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// An invocation as the Invoke API accepted it.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `x-amzn-RequestId` and `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Invocation-Id`: one per attempt, while retries keep the request id.
    pub invocation_id: String,
    /// The event bytes, untouched.
    pub payload: Bytes,
    /// The invoke request's content type, copied to `/next`.
    pub content_type: String,
    /// The ARN the caller used.
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// Decoded client context JSON.
    pub client_context: Option<String>,
    /// Cognito identity JSON.
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
    /// When the invoke request arrived.
    pub arrived: Instant,
    /// Whether the caller wants this invocation's log back (`X-Amz-Log-Type: Tail`, the
    /// Python API); otherwise the log is written without waiting for it.
    pub want_log: bool,
    /// Where a streamed response's chunks go as they arrive (InvokeWithResponseStream);
    /// without it a streamed response is collected up to the buffered limit.
    pub stream_to: Option<mpsc::Sender<Bytes>>,
    /// Where a streamed response's content type (as the runtime declared it) is put before its
    /// first chunk goes to `stream_to` (function URLs: the streaming prelude).
    pub stream_content_type: Option<Arc<OnceLock<String>>>,
}

impl Invocation {
    /// An invocation of `payload` with a fresh request id and trace id.
    pub fn new(payload: Bytes, invoked_function_arn: String) -> Self {
        Self::traced(
            payload,
            invoked_function_arn,
            new_request_id(),
            new_trace_id(),
        )
    }

    /// An invocation of `payload` that carries a request id and a trace given by its caller (the
    /// front end of a function URL or route, the invoke request's `X-Amzn-Trace-Id`, a queued
    /// event's retry).
    pub fn traced(
        payload: Bytes,
        invoked_function_arn: String,
        request_id: String,
        trace_id: String,
    ) -> Self {
        Self {
            request_id,
            invocation_id: new_request_id(),
            payload,
            content_type: DEFAULT_CONTENT_TYPE.to_owned(),
            invoked_function_arn,
            trace_id,
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            arrived: Instant::now(),
            want_log: false,
            stream_to: None,
            stream_content_type: None,
        }
    }
}

/// A fresh request id (UUID v4, as AWS).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A fresh X-Ray trace header, `Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
pub fn new_trace_id() -> String {
    let secs = crate::clock::epoch_ms() / 1000;
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    )
}

/// What a runtime answered through the Runtime API for one invocation.
#[derive(Debug)]
pub enum RuntimeReply {
    /// `POST /response`.
    Response {
        /// The function's result bytes.
        body: Bytes,
        /// The content type the runtime posted.
        content_type: Option<String>,
    },
    /// `POST /error`.
    Error {
        /// The runtime's error JSON.
        body: Bytes,
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
    },
    /// A response over its limit (`MAX_RESPONSE_BYTES`, or `MAX_STREAMED_RESPONSE_BYTES`).
    ResponseTooLarge {
        /// The limit it exceeded, in bytes.
        limit: usize,
    },
    /// `POST /response` with `Lambda-Runtime-Function-Response-Mode: streaming`: the body
    /// follows as it is written.
    Stream(ResponseStream),
}

/// A streamed response on its way from the Runtime API to the environment.
#[derive(Debug)]
pub struct ResponseStream {
    /// The content type the runtime posted.
    pub content_type: Option<String>,
    /// The body's parts, in order; the last one is `End`, `Failed` or `TooLarge`.
    pub parts: mpsc::Receiver<StreamPart>,
}

/// One part of a streamed response.
#[derive(Debug)]
pub enum StreamPart {
    /// Bytes the runtime wrote.
    Chunk(Bytes),
    /// The runtime ended the body without an error.
    End,
    /// The runtime ended the body with the error trailers.
    Failed {
        /// The error JSON (`Lambda-Runtime-Function-Error-Body`, base64-decoded).
        body: Bytes,
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
    },
    /// The body went past `MAX_STREAMED_RESPONSE_BYTES`; the Runtime API stopped reading it.
    TooLarge,
}

/// An invocation handed to a runtime's `/next`, with the way back.
#[derive(Debug)]
pub struct Delivery {
    /// The invocation.
    pub invocation: std::sync::Arc<Invocation>,
    /// `Lambda-Runtime-Deadline-Ms`.
    pub deadline_ms: u64,
    /// Where `/response` or `/error` sends the answer.
    pub reply: oneshot::Sender<RuntimeReply>,
}

/// How an invocation ended, as counted in metrics and shown in REPORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// The runtime posted a response.
    Success,
    /// The runtime posted an error (handler error); the environment stays warm.
    HandlerError,
    /// The function ran past its timeout.
    Timeout,
    /// The runtime process exited during the invocation.
    Crash,
    /// Init failed twice (init phase and suppressed init).
    InitError,
    /// The response exceeded the payload limit.
    ResponseTooLarge,
}

impl OutcomeKind {
    /// The metrics label (docs/reference.md §12).
    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::HandlerError | Self::InitError | Self::ResponseTooLarge => "error",
            Self::Timeout => "timeout",
            Self::Crash => "crash",
        }
    }

    /// The `status` of the Telemetry API's `platform.runtimeDone` and `platform.report`.
    pub fn telemetry_status(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::HandlerError | Self::InitError | Self::ResponseTooLarge => "error",
            Self::Timeout => "timeout",
            Self::Crash => "failure",
        }
    }
}

/// The answer to one invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub kind: OutcomeKind,
    /// Response bytes: the function's result or an error JSON.
    pub payload: Bytes,
    /// The response content type.
    pub content_type: String,
    /// The request id.
    pub request_id: String,
    /// Whether a new runtime process was started for it.
    pub cold_start: bool,
    /// Init duration on a cold start.
    pub init_duration_ms: Option<f64>,
    /// Invocation duration (delivery to answer).
    pub duration_ms: f64,
    /// Peak memory of the environment, MB.
    pub max_memory_used_mb: u64,
    /// This invocation's log: START .. REPORT, the last bytes of it.
    pub log_tail: Bytes,
    /// The function error's type when it failed (`Sandbox.Timedout`, the runtime's
    /// `Lambda-Runtime-Function-Error-Type`, ...).
    pub error_type: Option<String>,
    /// The service error the caller gets instead of an answer (a failed SnapStart restore);
    /// [`crate::scheduler`] hands it out as the invocation's `Err`.
    pub refusal: Option<Box<crate::aws::ServiceError>>,
}

impl Outcome {
    /// `X-Amz-Function-Error` value, when the function failed.
    pub fn function_error(&self) -> Option<&'static str> {
        (self.kind != OutcomeKind::Success).then_some("Unhandled")
    }
}

/// A client context as AWS takes it (decoded): a JSON object of at most 3583 bytes.
pub fn check_client_context(decoded: Vec<u8>) -> Result<String, crate::aws::ServiceError> {
    use crate::aws::ServiceError;
    if decoded.len() > crate::config::MAX_CLIENT_CONTEXT_BYTES {
        return Err(ServiceError::invalid_client_context());
    }
    match serde_json::from_slice::<serde_json::Value>(&decoded) {
        Ok(serde_json::Value::Object(_)) => {
            String::from_utf8(decoded).map_err(|_| ServiceError::invalid_client_context())
        }
        _ => Err(ServiceError::invalid_client_context()),
    }
}

/// Deepest nesting of arrays and objects an invoke body may have.
// NOTE: AWS's front parses bodies with Jackson (its messages say so), whose default maximum
// nesting depth is 1000; its message is reused for the 400.
pub const MAX_PAYLOAD_DEPTH: usize = 1000;

/// The invoke body as AWS checks it: the size limit of its invocation type, UTF-8 JSON nested at
/// most [`MAX_PAYLOAD_DEPTH`] deep, and an empty (or all-whitespace) body meaning `{}`.
pub fn check_payload(payload: Bytes, event: bool) -> Result<Bytes, crate::aws::ServiceError> {
    use crate::aws::ServiceError;
    use crate::config::{MAX_EVENT_BYTES, MAX_REQUEST_BYTES};
    if event && payload.len() > MAX_EVENT_BYTES {
        return Err(ServiceError::event_too_large(
            payload.len(),
            MAX_EVENT_BYTES,
        ));
    }
    if payload.len() > MAX_REQUEST_BYTES {
        return Err(ServiceError::request_too_large());
    }
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    // NOTE: serde_json skips over strings it ignores without checking their UTF-8, and ignores
    // values without a depth limit: both are checked here, before the syntax.
    if let Err(e) = std::str::from_utf8(&payload) {
        return Err(ServiceError::invalid_json(&format!(
            "Invalid UTF-8 byte at offset {}",
            e.valid_up_to()
        )));
    }
    if let Some(depth) = nesting_beyond(&payload, MAX_PAYLOAD_DEPTH) {
        return Err(ServiceError::invalid_json(&format!(
            "Document nesting depth ({depth}) exceeds the maximum allowed ({MAX_PAYLOAD_DEPTH})"
        )));
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return Err(ServiceError::invalid_json(&e.to_string()));
    }
    Ok(payload)
}

/// The first depth past `limit` that the arrays and objects of `json` reach, if any (strings
/// are skipped; the syntax is checked elsewhere).
fn nesting_beyond(json: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(depth);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &[u8]) -> Result<Bytes, crate::aws::ServiceError> {
        check_payload(Bytes::copy_from_slice(body), false)
    }

    #[test]
    fn refuses_invalid_utf8_inside_strings() {
        let e = check(b"{\"a\": \"\xff\xfe\"}").unwrap_err();
        assert_eq!(e.code(), "InvalidRequestContentException");
        assert!(e
            .message()
            .starts_with("Could not parse request body into json: Invalid UTF-8"));
    }

    #[test]
    fn refuses_nesting_past_the_limit_and_takes_it_at_the_limit() {
        let at = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check(at(MAX_PAYLOAD_DEPTH).as_bytes()).is_ok());
        let e = check(at(MAX_PAYLOAD_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e
            .message()
            .contains("nesting depth (1001) exceeds the maximum allowed (1000)"));
        // Brackets inside strings do not count.
        let quoted = format!("[\"{}\"]", "[".repeat(5000));
        assert!(check(quoted.as_bytes()).is_ok());
        let escaped = format!("[\"\\\"{}\"]", "{".repeat(5000));
        assert!(check(escaped.as_bytes()).is_ok());
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        assert_eq!(check(b"  \n").unwrap(), Bytes::from_static(b"{}"));
    }
}
