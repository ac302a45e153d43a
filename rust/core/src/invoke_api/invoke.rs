//! The Invoke operation: headers and body checks, then the scheduler, then AWS's response.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Request};

use super::error_response;
use super::routing::query_param;
use super::InvokeApi;
use crate::aws::ServiceError;
use crate::config::{LOG_TAIL_BYTES, MAX_EVENT_BYTES, MAX_REQUEST_BYTES};
use crate::http::{self, BodyError, Response};
use crate::invocation::{self, Invocation, Outcome, DEFAULT_CONTENT_TYPE};
use crate::registry::Version;
use crate::scheduler::Scheduler;

/// `X-Amz-Invocation-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// Which operation a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    /// `Invoke`: all three invocation types.
    Invoke,
    /// `InvokeWithResponseStream`: `RequestResponse` and `DryRun`.
    InvokeWithResponseStream,
}

/// A checked invoke request: answered already (`DryRun`, `Event`, an error), or to be run.
pub(super) enum Accepted {
    /// The whole answer.
    Answered(Response),
    /// A synchronous invocation of the function behind the scheduler.
    Run(Arc<Scheduler>, Version, Invocation),
}

/// Handle `POST /2015-03-31/functions/{name}/invocations`.
pub async fn invoke(api: &InvokeApi, name: &str, req: Request<Incoming>) -> Response {
    let (scheduler, version, inv) = match accept(api, name, req, Operation::Invoke).await {
        Accepted::Answered(r) => return r,
        Accepted::Run(scheduler, version, inv) => (scheduler, version, inv),
    };
    let tail = inv.want_log;
    let request_id = inv.request_id.clone();
    match scheduler.invoke(inv).await {
        Ok(outcome) => outcome_response(&outcome, version, tail),
        Err(e) => error_response(&e, Some(&request_id)),
    }
}

/// The invoke request headers AWS honours (docs/reference.md §2), checked.
struct InvokeHeaders {
    kind: InvocationType,
    tail: bool,
    client_context: Option<String>,
    content_type: String,
    trace_id: Option<String>,
    tenant_id: Option<String>,
}

impl InvokeHeaders {
    fn read(headers: &HeaderMap, operation: Operation) -> Result<Self, ServiceError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        // NOTE: a value of the checked headers that is not ASCII is a bad value (400), not
        // an absent header.
        let checked = |name: &str| {
            headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
        };
        let kind = match (checked("x-amz-invocation-type").as_deref(), operation) {
            (None | Some("RequestResponse"), _) => InvocationType::RequestResponse,
            (Some("Event"), Operation::Invoke) => InvocationType::Event,
            (Some("DryRun"), _) => InvocationType::DryRun,
            (Some(other), Operation::Invoke) => {
                return Err(ServiceError::invalid_parameter(&format!(
                    "Invalid InvocationType: {other}; expected RequestResponse, Event or DryRun"
                )))
            }
            (Some(other), Operation::InvokeWithResponseStream) => {
                return Err(ServiceError::invalid_parameter(&format!(
                    "Invalid InvocationType: {other}; expected RequestResponse or DryRun"
                )))
            }
        };
        let tail = match checked("x-amz-log-type").as_deref() {
            None | Some("None") => false,
            Some("Tail") => true,
            Some(other) => {
                return Err(ServiceError::invalid_parameter(&format!(
                    "Invalid LogType: {other}; expected None or Tail"
                )))
            }
        };
        let client_context = checked("x-amz-client-context")
            .as_deref()
            .map(decode_client_context)
            .transpose()?;
        let content_type = match header(CONTENT_TYPE.as_str()) {
            // NOTE: curl's default for `-d`; the body is JSON whatever the header says, so the
            // runtime is told so (as the RIE does), keeping `curl -d '{...}'` working.
            None | Some("application/x-www-form-urlencoded") => DEFAULT_CONTENT_TYPE.to_owned(),
            Some(ct) => ct.to_owned(),
        };
        Ok(Self {
            kind,
            tail,
            client_context,
            content_type,
            trace_id: header("x-amzn-trace-id").map(str::to_owned),
            tenant_id: header("x-amz-tenant-id").map(str::to_owned),
        })
    }
}

/// Check an invoke request's target, headers and body as AWS does (docs/reference.md §2); answer
/// `DryRun` and `Event` invocations, and build the synchronous invocation.
pub(super) async fn accept(
    api: &InvokeApi,
    name: &str,
    req: Request<Incoming>,
    operation: Operation,
) -> Accepted {
    let fail = |e: &ServiceError| Accepted::Answered(error_response(e, None));
    let (parts, body) = req.into_parts();
    let qualifier = query_param(parts.uri.query(), "Qualifier");
    let checked = api
        .registry
        .resolve(name, qualifier.as_deref())
        .and_then(|target| Ok((target, InvokeHeaders::read(&parts.headers, operation)?)));
    let (target, headers) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            // NOTE: the body is read (and dropped) before the error is answered: one left
            // unread would close the connection the client means to send its next request on.
            let _ = http::read_request(body, 0).await;
            return fail(&e);
        }
    };
    let kind = headers.kind;
    let payload = match read_payload(body, kind).await {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    match kind {
        InvocationType::DryRun => {
            let mut r = http::response(204, Bytes::new());
            if let Ok(v) = HeaderValue::from_str(&crate::invocation::new_request_id()) {
                r.headers_mut().insert("x-amzn-requestid", v);
            }
            return Accepted::Answered(r);
        }
        InvocationType::Event => {
            let id = match api.events.accept(target, payload, headers.trace_id) {
                Ok(id) => id,
                Err(e) => return fail(&e),
            };
            let mut r = http::response(202, Bytes::new());
            if let Ok(v) = HeaderValue::from_str(&id) {
                r.headers_mut().insert("x-amzn-requestid", v);
            }
            return Accepted::Answered(r);
        }
        InvocationType::RequestResponse => {}
    }
    let version = target.version;
    let trace_id = headers.trace_id.unwrap_or_else(invocation::new_trace_id);
    let mut inv = Invocation::traced(
        payload,
        target.invoked_arn,
        invocation::new_request_id(),
        trace_id,
    );
    inv.content_type = headers.content_type;
    inv.client_context = headers.client_context;
    inv.tenant_id = headers.tenant_id;
    inv.want_log = headers.tail;
    Accepted::Run(target.scheduler, version, inv)
}

/// Read and check the body: size limit by invocation type, JSON, empty means `{}`.
async fn read_payload(body: Incoming, kind: InvocationType) -> Result<Bytes, ServiceError> {
    let payload = match http::read_request(body, MAX_REQUEST_BYTES).await {
        Ok(p) => p,
        Err(BodyError::TooLarge(size)) => {
            return Err(match (kind, size) {
                (InvocationType::Event, Some(n)) => {
                    ServiceError::event_too_large(n as usize, MAX_EVENT_BYTES)
                }
                _ => ServiceError::request_too_large(),
            })
        }
        Err(BodyError::Broken) => return Err(ServiceError::invalid_json("the body ended early")),
        Err(BodyError::Stalled) => return Err(ServiceError::request_timeout()),
    };
    let event = kind == InvocationType::Event;
    if payload.len() < LARGE_PAYLOAD {
        return crate::invocation::check_payload(payload, event);
    }
    // NOTE: validating megabytes of JSON takes milliseconds: off the event loop.
    tokio::task::spawn_blocking(move || crate::invocation::check_payload(payload, event))
        .await
        .unwrap_or_else(|e| Err(ServiceError::service(&e.to_string())))
}

/// Payloads at least this large are validated on the blocking pool.
const LARGE_PAYLOAD: usize = 256 * 1024;

#[cfg(test)]
mod props;

/// Base64 of a JSON object, at most 3583 bytes decoded.
fn decode_client_context(value: &str) -> Result<String, ServiceError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| ServiceError::invalid_client_context())?;
    crate::invocation::check_client_context(decoded)
}

/// 200 with the function's bytes and AWS's headers.
fn outcome_response(outcome: &Outcome, version: Version, tail: bool) -> Response {
    let mut r = http::response(200, outcome.payload.clone());
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&outcome.content_type) {
        h.insert(CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&version.to_string()) {
        h.insert("x-amz-executed-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&outcome.request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(e) = outcome.function_error() {
        h.insert("x-amz-function-error", HeaderValue::from_static(e));
    }
    if tail {
        if let Ok(v) = HeaderValue::from_str(&log_result(outcome)) {
            h.insert("x-amz-log-result", v);
        }
    }
    r
}

/// `LogResult`: base64 of the last 4 KB of the invocation's log.
pub(super) fn log_result(outcome: &Outcome) -> String {
    let log = &outcome.log_tail;
    let last = &log[log.len().saturating_sub(LOG_TAIL_BYTES)..];
    base64::engine::general_purpose::STANDARD.encode(last)
}
