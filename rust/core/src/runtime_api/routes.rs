//! Runtime API routes: `/next`, `/response`, `/error`, `/init/error`, with AWS's misuse answers.

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request};

use super::state::{Refusal, RuntimeApiState};
use crate::aws::runtime as answers;
use crate::config::MAX_RESPONSE_BYTES;
use crate::http::{self, header, json, BodyError, Response};
use crate::invocation::{Delivery, RuntimeReply};

use super::streaming;

const PREFIX: &str = "/2018-06-01/runtime/";

/// Which answer a runtime posts for an invocation.
#[derive(Clone, Copy)]
pub(super) enum AnswerKind {
    Response,
    Error,
}

/// Dispatch one request.
pub async fn route(state: Arc<RuntimeApiState>, req: Request<Incoming>) -> Response {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        if super::extension_routes::owns(&path) {
            return super::extension_routes::route(state, req).await;
        }
        return json(404, answers::NOT_FOUND);
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let method = req.method().clone();
    match (method, parts.as_slice()) {
        // GET /runtime/invocation/next: block until an invocation is assigned.
        (Method::GET, ["invocation", "next"]) => next(&state).await,
        // POST /runtime/invocation/{id}/response: the function's result.
        (Method::POST, ["invocation", id, "response"]) => {
            answer(&state, id, AnswerKind::Response, req).await
        }
        // POST /runtime/invocation/{id}/error: the function failed.
        (Method::POST, ["invocation", id, "error"]) => {
            answer(&state, id, AnswerKind::Error, req).await
        }
        // POST /runtime/init/error: init failed before the first /next; and (SnapStart)
        // POST /runtime/restore/error: an after-restore hook failed, which fails init too.
        (Method::POST, [phase @ ("init" | "restore"), "error"]) => {
            init_error(&state, req, *phase == "restore").await
        }
        // GET /runtime/restore/next (SnapStart): the environment is restored, go on at once.
        (Method::GET, ["restore", "next"]) => http::response(200, Bytes::new()),
        // A known path with the wrong method.
        (
            _,
            ["invocation" | "restore", "next"]
            | ["invocation", _, "response" | "error"]
            | ["init" | "restore", "error"],
        ) => json(405, answers::METHOD_NOT_ALLOWED),
        _ => json(404, answers::NOT_FOUND),
    }
}

async fn next(state: &RuntimeApiState) -> Response {
    let delivery = tokio::select! {
        biased;
        delivery = state.next() => delivery,
        // NOTE: a runtime that left its `/next` takes no invocation (it stays queued).
        () = http::client_gone() => return http::response(204, Bytes::new()),
    };
    let Some(delivery) = delivery else {
        return json(404, answers::NOT_FOUND);
    };
    let Delivery {
        invocation: inv,
        deadline_ms,
        reply,
    } = delivery;
    state.hold(inv.request_id.clone(), reply);
    let mut r = http::response(200, inv.payload.clone());
    let h = r.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if !value.is_empty() {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        }
    };
    put("lambda-runtime-aws-request-id", &inv.request_id);
    put("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        &inv.invoked_function_arn,
    );
    put("lambda-runtime-trace-id", &inv.trace_id);
    put("lambda-runtime-invocation-id", &inv.invocation_id);
    if let Some(cc) = &inv.client_context {
        put("lambda-runtime-client-context", cc);
    }
    if let Some(ci) = &inv.cognito_identity {
        put("lambda-runtime-cognito-identity", ci);
    }
    if let Some(t) = &inv.tenant_id {
        put("lambda-runtime-aws-tenant-id", t);
    }
    // NOTE: always set: awslambdaric crashes when Content-Type is missing.
    put("content-type", &inv.content_type);
    r
}

async fn answer(
    state: &RuntimeApiState,
    id: &str,
    kind: AnswerKind,
    req: Request<Incoming>,
) -> Response {
    // NOTE: curl's default content type for `-d` says nothing about the body; drop it.
    let content_type = header(&req, CONTENT_TYPE.as_str())
        .filter(|ct| *ct != "application/x-www-form-urlencoded")
        .map(str::to_owned);
    if let AnswerKind::Response = kind {
        match header(&req, "lambda-runtime-function-response-mode") {
            None | Some("buffered") => {}
            Some("streaming") => return streaming::receive(state, id, content_type, req).await,
            Some(_) => return json(400, answers::INVALID_RESPONSE_MODE),
        }
    }
    let error_type = error_type_header(&req);
    let reply = match http::read_capped(req.into_body(), MAX_RESPONSE_BYTES).await {
        Ok(body) => match kind {
            AnswerKind::Response => RuntimeReply::Response { body, content_type },
            AnswerKind::Error => RuntimeReply::Error { body, error_type },
        },
        Err(BodyError::TooLarge(_)) => RuntimeReply::ResponseTooLarge {
            limit: MAX_RESPONSE_BYTES,
        },
        // NOTE: a body that cannot be read is no answer: the invocation waits for a whole one
        // (the runtime may post it again) or its timeout, as for a runtime that never answers.
        // (`read_capped` sets no stall limit: the function's timeout bounds a slow answer.)
        Err(BodyError::Broken | BodyError::Stalled) => return json(400, answers::TRUNCATED_BODY),
    };
    let too_large = matches!(reply, RuntimeReply::ResponseTooLarge { .. });
    match state.answer(id, reply) {
        Ok(()) if too_large => json(413, answers::response_too_large(MAX_RESPONSE_BYTES)),
        Ok(()) => json(202, answers::ACCEPTED),
        Err(refusal) => refused(refusal, kind),
    }
}

/// The answer to a `/response` or `/error` the state refused.
pub(super) fn refused(refusal: Refusal, kind: AnswerKind) -> Response {
    match refusal {
        Refusal::UnknownId => json(400, answers::INVALID_REQUEST_ID),
        Refusal::AlreadyAnswered => json(
            403,
            answers::already_answered(match kind {
                AnswerKind::Response => "InvocationResponse",
                AnswerKind::Error => "InvocationErrorResponse",
            }),
        ),
        Refusal::TimedOut => json(410, answers::INVOKE_TIMEOUT),
    }
}

async fn init_error(state: &RuntimeApiState, req: Request<Incoming>, restore: bool) -> Response {
    let error_type = error_type_header(&req);
    let body = http::read_capped(req.into_body(), MAX_RESPONSE_BYTES)
        .await
        .unwrap_or_else(|_| Bytes::new());
    if state.init_error(body, error_type, restore) {
        json(202, answers::ACCEPTED)
    } else {
        json(403, answers::init_error_after_next())
    }
}

/// `Lambda-Runtime-Function-Error-Type`; an empty one counts as none (the platform's type then).
fn error_type_header(req: &Request<Incoming>) -> Option<String> {
    header(req, "lambda-runtime-function-error-type")
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
}
