//! Extensions API routes (`/2020-01-01/extension/...`) and the Telemetry and Logs API
//! subscriptions, on the environment's Runtime API listener, with AWS's refusals.

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request};

use super::extensions::{Extension, ExtensionFault, Refusal};
use super::state::RuntimeApiState;
use super::telemetry::{Api, Subscription};
use crate::aws::{extension as answers, runtime};
use crate::http::{self, header, json, Response};

/// Largest register or subscribe body read.
const MAX_BODY: usize = 64 * 1024;

/// Whether `path` belongs to these APIs.
pub fn owns(path: &str) -> bool {
    path.starts_with("/2020-01-01/extension/")
        || path == "/2022-07-01/telemetry"
        || path == "/2020-08-15/logs"
}

/// Dispatch one Extensions, Telemetry or Logs API request.
pub async fn route(state: Arc<RuntimeApiState>, req: Request<Incoming>) -> Response {
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        // POST register: name header, `{"events": [...]}` body.
        (Method::POST, "/2020-01-01/extension/register") => register(&state, req).await,
        // GET event/next: done with the last event, wait for the next.
        (Method::GET, "/2020-01-01/extension/event/next") => next(&state, &req).await,
        // POST init/error: the extension failed to initialise.
        (Method::POST, "/2020-01-01/extension/init/error") => {
            fault(&state, &req, "Extension.InitError")
        }
        // POST exit/error: the extension is exiting because of an error.
        (Method::POST, "/2020-01-01/extension/exit/error") => {
            fault(&state, &req, "Extension.ExitError")
        }
        // PUT telemetry: subscribe to platform, function and extension records.
        (Method::PUT, "/2022-07-01/telemetry") => subscribe(&state, req, Api::Telemetry).await,
        // PUT logs: the legacy Logs API subscription.
        (Method::PUT, "/2020-08-15/logs") => subscribe(&state, req, Api::Logs).await,
        (
            _,
            "/2020-01-01/extension/register"
            | "/2020-01-01/extension/event/next"
            | "/2020-01-01/extension/init/error"
            | "/2020-01-01/extension/exit/error"
            | "/2022-07-01/telemetry"
            | "/2020-08-15/logs",
        ) => json(405, runtime::METHOD_NOT_ALLOWED),
        _ => json(404, runtime::NOT_FOUND),
    }
}

async fn register(state: &RuntimeApiState, req: Request<Incoming>) -> Response {
    let Some(name) = header(&req, "lambda-extension-name").filter(|n| !n.is_empty()) else {
        return json(403, answers::empty_name());
    };
    let name = name.to_owned();
    let account = header(&req, "lambda-extension-accept-feature")
        .is_some_and(|f| f.split(',').any(|f| f.trim() == "accountId"));
    let body = http::read_capped(req.into_body(), MAX_BODY)
        .await
        .unwrap_or_default();
    let events = match parse_events(&body) {
        Ok(events) => events,
        Err(why) => return json(403, answers::invalid_request(&why.to_string())),
    };
    let extension = match state.extensions.register(&name, &events) {
        Ok(e) => e,
        Err((status, body)) => return json(status, body),
    };
    let meta = state.function_meta();
    let mut answer = serde_json::json!({
        "functionName": meta.function_name,
        "functionVersion": crate::aws::LATEST,
        "handler": meta.handler,
    });
    if account {
        answer["accountId"] = serde_json::Value::String(meta.account_id.clone());
    }
    let mut r = json(200, answer.to_string());
    if let Ok(v) = HeaderValue::from_str(&extension.id) {
        r.headers_mut().insert("lambda-extension-identifier", v);
    }
    r
}

/// Why a register body is refused (AWS's `InvalidRequestFormat`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum RegisterError {
    /// The body is no JSON.
    #[error("invalid register body: {0}")]
    NotJson(String),
    /// An event that is not a string.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// `events` is not a list.
    #[error("events must be a list, not {0}")]
    NotAList(String),
}

/// The events of a register body (`{"events": ["INVOKE", "SHUTDOWN"]}`).
fn parse_events(body: &[u8]) -> Result<Vec<String>, RegisterError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| RegisterError::NotJson(e.to_string()))?;
    match v.get("events") {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|e| {
                e.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| RegisterError::InvalidEvent(e.to_string()))
            })
            .collect(),
        Some(other) => Err(RegisterError::NotAList(other.to_string())),
    }
}

/// The extension named by `Lambda-Extension-Identifier`, or AWS's refusal.
fn identified(state: &RuntimeApiState, req: &Request<Incoming>) -> Result<Arc<Extension>, Refusal> {
    let Some(id) = header(req, "lambda-extension-identifier") else {
        return Err((403, answers::missing_identifier()));
    };
    if uuid::Uuid::parse_str(id).is_err() {
        return Err((403, answers::invalid_identifier()));
    }
    state
        .extensions
        .find(id)
        .ok_or_else(|| (403, answers::unknown_identifier(id)))
}

async fn next(state: &RuntimeApiState, req: &Request<Incoming>) -> Response {
    let extension = match identified(state, req) {
        Ok(e) => e,
        Err((status, body)) => return json(status, body),
    };
    let event: Bytes = tokio::select! {
        biased;
        event = state.extensions.next(&extension) => event,
        // NOTE: an extension that left its `event/next` takes no event (it stays queued).
        () = http::client_gone() => return http::response(204, Bytes::new()),
    };
    let mut r = json(200, event);
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        r.headers_mut()
            .insert("lambda-extension-event-identifier", v);
    }
    r
}

fn fault(state: &RuntimeApiState, req: &Request<Incoming>, error_type: &'static str) -> Response {
    let extension = match identified(state, req) {
        Ok(e) => e,
        Err((status, body)) => return json(status, body),
    };
    // NOTE: init/error is for init only: once the extension has called event/next, or init is
    // over, AWS refuses the transition.
    if error_type == "Extension.InitError" && (extension.is_ready() || !state.extensions.is_open())
    {
        return json(
            403,
            answers::invalid_state("Ready", "InitError", &extension.id),
        );
    }
    let reported = header(req, "lambda-extension-function-error-type").unwrap_or(error_type);
    state.extensions.report_fault(ExtensionFault {
        error_type,
        reason: format!("extension {} reported {reported}", extension.name),
    });
    json(202, runtime::ACCEPTED)
}

async fn subscribe(state: &RuntimeApiState, req: Request<Incoming>, api: Api) -> Response {
    if let Err((status, body)) = identified(state, &req) {
        return json(status, body);
    }
    let body = http::read_capped(req.into_body(), MAX_BODY)
        .await
        .unwrap_or_default();
    match Subscription::parse(api, &body) {
        Ok(subscription) => {
            state.telemetry.subscribe(subscription);
            json(200, "\"OK\"")
        }
        Err(why) => json(400, answers::validation(&why.to_string())),
    }
}
