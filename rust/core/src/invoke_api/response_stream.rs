//! InvokeWithResponseStream (`POST /2021-11-15/functions/{name}/response-streaming-invocations`):
//! the function's response as `PayloadChunk` events, sent on as the runtime writes them, then
//! an `InvokeComplete` event.

use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::Request;
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinHandle};

use super::error_response;
use super::event_stream::{invoke_complete, payload_chunk};
use super::invoke::{accept, log_result, Accepted, Operation};
use super::InvokeApi;
use crate::aws::ServiceError;
use crate::http::{self, Response};
use crate::invocation::{Outcome, OutcomeKind};
use crate::registry::Version;

/// The content type of an event stream answer.
const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";
/// Chunks held between the environment and this answer, and events between it and the socket.
// NOTE: small queues pass a slow caller's back-pressure on to the runtime.
const QUEUED: usize = 4;

type Run = JoinHandle<Result<Outcome, ServiceError>>;

/// Handle InvokeWithResponseStream.
pub async fn invoke_with_response_stream(
    api: &InvokeApi,
    name: &str,
    req: Request<Incoming>,
) -> Response {
    let (scheduler, version, mut inv) =
        match accept(api, name, req, Operation::InvokeWithResponseStream).await {
            Accepted::Answered(r) => return r,
            Accepted::Run(scheduler, version, inv) => (scheduler, version, inv),
        };
    let (chunk_tx, mut chunks) = mpsc::channel(QUEUED);
    inv.stream_to = Some(chunk_tx);
    let request_id = inv.request_id.clone();
    let tail = inv.want_log;
    // NOTE: the invocation runs on its own task so that a caller who hangs up mid-stream does
    // not cut it short.
    let mut run: Run = tokio::spawn(async move { scheduler.invoke(inv).await });
    // NOTE: the 200 goes out with the first chunk, so that a throttle (or any service error
    // before the function answers) is still an HTTP error with its status.
    let first = tokio::select! {
        biased;
        Some(chunk) = chunks.recv() => chunk,
        joined = &mut run => return whole_answer(joined, &mut chunks, &request_id, version, tail),
    };
    let (mut response, events) = http::streaming_response(QUEUED);
    stream_headers(&mut response, &request_id, version);
    tokio::spawn(forward(first, chunks, run, events, tail));
    response
}

/// The answer of an invocation that ended before streaming began: all its events at once.
fn whole_answer(
    joined: Result<Result<Outcome, ServiceError>, JoinError>,
    chunks: &mut mpsc::Receiver<Bytes>,
    request_id: &str,
    version: Version,
    tail: bool,
) -> Response {
    let outcome = match joined {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => return error_response(&e, Some(request_id)),
        Err(e) => return error_response(&ServiceError::service(&e.to_string()), Some(request_id)),
    };
    let mut body = BytesMut::new();
    while let Ok(chunk) = chunks.try_recv() {
        body.extend_from_slice(&payload_chunk(&chunk));
    }
    for event in closing_events(&outcome, tail) {
        body.extend_from_slice(&event);
    }
    let mut response = http::response(200, body.freeze());
    stream_headers(&mut response, request_id, version);
    response
}

/// Send each chunk on as an event as it comes, then `InvokeComplete`.
async fn forward(
    first: Bytes,
    mut chunks: mpsc::Receiver<Bytes>,
    mut run: Run,
    events: mpsc::Sender<Bytes>,
    tail: bool,
) {
    // NOTE: sends to a caller that hung up fail at once; the chunks are still drained so that
    // the invocation runs to its end.
    let _ = events.send(payload_chunk(&first)).await;
    let joined = loop {
        tokio::select! {
            biased;
            Some(chunk) = chunks.recv() => {
                let _ = events.send(payload_chunk(&chunk)).await;
            }
            joined = &mut run => break joined,
        }
    };
    while let Ok(chunk) = chunks.try_recv() {
        let _ = events.send(payload_chunk(&chunk)).await;
    }
    let outcome = match joined {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => service_failure(&e.body()),
        Err(e) => service_failure(&e.to_string()),
    };
    for event in closing_events(&outcome, tail) {
        let _ = events.send(event).await;
    }
}

/// An outcome standing for a failure of the emulator after streaming began.
fn service_failure(message: &str) -> Outcome {
    Outcome {
        kind: OutcomeKind::Crash,
        payload: Bytes::from(crate::aws::platform_error("ServiceException", message)),
        content_type: crate::invocation::DEFAULT_CONTENT_TYPE.to_owned(),
        request_id: String::new(),
        cold_start: false,
        init_duration_ms: None,
        duration_ms: 0.0,
        max_memory_used_mb: 0,
        log_tail: Bytes::new(),
        error_type: Some("ServiceException".to_owned()),
        refusal: None,
    }
}

/// A buffered answer's body (a function that posted a plain `/response`) as one
/// `PayloadChunk`, then `InvokeComplete`.
fn closing_events(outcome: &Outcome, tail: bool) -> Vec<Bytes> {
    let mut events = Vec::with_capacity(2);
    if outcome.kind == OutcomeKind::Success && !outcome.payload.is_empty() {
        events.push(payload_chunk(&outcome.payload));
    }
    events.push(invoke_complete(&complete_json(outcome, tail)));
    events
}

/// `InvokeComplete`'s payload: `ErrorCode` and `ErrorDetails` when the function failed,
/// `LogResult` with `X-Amz-Log-Type: Tail`.
// NOTE: ErrorCode is the function error's type (the runtime's error type, `Sandbox.Timedout`,
// `Runtime.ExitError`, `Function.ResponseSizeTooLarge`), ErrorDetails the error JSON a
// buffered Invoke would have returned.
fn complete_json(outcome: &Outcome, tail: bool) -> String {
    let mut fields = serde_json::Map::new();
    if outcome.kind != OutcomeKind::Success {
        fields.insert("ErrorCode".to_owned(), error_code(outcome).into());
        let details = String::from_utf8_lossy(&outcome.payload).into_owned();
        fields.insert("ErrorDetails".to_owned(), details.into());
    }
    if tail {
        fields.insert("LogResult".to_owned(), log_result(outcome).into());
    }
    serde_json::Value::Object(fields).to_string()
}

/// The error's type: as the runtime or the platform named it, else the error JSON's
/// `errorType`, else `Unhandled`.
fn error_code(outcome: &Outcome) -> String {
    if let Some(t) = &outcome.error_type {
        return t.clone();
    }
    serde_json::from_slice::<serde_json::Value>(&outcome.payload)
        .ok()
        .and_then(|v| v.get("errorType")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "Unhandled".to_owned())
}

fn stream_headers(response: &mut Response, request_id: &str, version: Version) {
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(EVENT_STREAM));
    if let Ok(v) = HeaderValue::from_str(&version.to_string()) {
        h.insert("x-amz-executed-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
}
