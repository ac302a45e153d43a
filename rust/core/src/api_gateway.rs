//! API Gateway routes (docs/reference.md §15): the `Api` (REST) and `HttpApi` events of a SAM
//! template become routes on `--http-port`'s listener, as `sam local start-api` serves them,
//! with API Gateway's payloads (2.0, or 1.0) and its answers when there is no route or the
//! function fails.

mod payload_v1;
mod routes;

use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::Request;

use crate::clock;
use crate::config::{ApiKind, FunctionConfig, LogLevel};
use crate::function_url::{self, UrlRequest};
use crate::http::{self, BodyError, Response};
use crate::invocation::{Invocation, OutcomeKind};
use crate::invoke_api::InvokeApi;
use crate::logs;

pub use routes::{Matched, Route, RouteTable};

/// API Gateway's largest request body (10 MB).
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// API Gateway's integration timeout: 29 s, whatever the function's timeout.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// The routes of every function.
pub fn route_table(functions: &[FunctionConfig]) -> RouteTable {
    RouteTable::new(
        functions
            .iter()
            .flat_map(|f| {
                f.http_routes.iter().map(|r| Route {
                    function: f.name.clone(),
                    route: r.clone(),
                })
            })
            .collect(),
    )
}

/// Serve one request by the routes of `table`.
pub async fn serve(api: &InvokeApi, table: &RouteTable, req: Request<Incoming>) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let (answer, function, request_id) = match table.find(&method, &path) {
        None => (message(404, "Not Found"), None, None),
        Some(matched) => {
            let function = matched.route.function.clone();
            let (answer, id) = invoke(api, &matched, &path, req).await;
            (answer, Some(function), id)
        }
    };
    logs::message(
        LogLevel::Info,
        &format!(
            "API {method} {path} {} {:.2} ms function={} request_id={}",
            answer.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0,
            function.as_deref().unwrap_or("-"),
            request_id.as_deref().unwrap_or("-"),
        ),
    );
    answer
}

async fn invoke(
    api: &InvokeApi,
    matched: &Matched<'_>,
    path: &str,
    req: Request<Incoming>,
) -> (Response, Option<String>) {
    let route = &matched.route.route;
    let Ok(target) = api.registry.resolve(&matched.route.function, None) else {
        return (message(500, "Internal Server Error"), None);
    };
    let request_id = crate::invocation::new_request_id();
    let (parts, body) = req.into_parts();
    let body = match http::read_capped(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(_)) => {
            return (message(413, "Request Entity Too Large"), Some(request_id))
        }
        Err(BodyError::Broken) => return (message(400, "Bad Request"), Some(request_id)),
    };
    let function = target.scheduler.function();
    let route_key = route.key();
    let stage = if route.api == ApiKind::Rest {
        "Prod"
    } else {
        "$default"
    };
    let request = UrlRequest {
        method: parts.method.as_str(),
        path,
        query: parts.uri.query().unwrap_or(""),
        headers: function_url::header_list(&parts),
        source_ip: function_url::source_ip(&parts),
        body: &body,
        url_id: "lambda-rie",
        domain: "localhost",
        account_id: &function.account_id,
        request_id: &request_id,
        route_key: &route_key,
        path_parameters: matched.parameters.clone(),
        stage,
        time_epoch_ms: clock::epoch_ms(),
    };
    let event = if route.payload_v1 {
        let resource = route.path.as_deref().unwrap_or("$default");
        payload_v1::event(&request, &payload_v1::V1 { resource })
    } else {
        function_url::event(&request)
    };
    let payload = Bytes::from(event.to_string());
    if payload.len() > crate::config::MAX_REQUEST_BYTES {
        return (message(413, "Request Entity Too Large"), Some(request_id));
    }
    let mut inv = Invocation::new(payload, target.invoked_arn);
    inv.request_id.clone_from(&request_id);
    // NOTE: the invocation runs to its end (and is logged) even when API Gateway stops waiting.
    let outcome =
        match tokio::time::timeout(INTEGRATION_TIMEOUT, target.scheduler.invoke(inv)).await {
            Err(_) => return (timed_out(route.api), Some(request_id)),
            Ok(Err(e)) => {
                let status = e.status();
                // NOTE: API Gateway's own words for a throttled integration.
                let text = if status == 429 {
                    "Rate exceeded"
                } else {
                    "Internal Server Error"
                };
                return (message(status, text), Some(request_id));
            }
            Ok(Ok(o)) => o,
        };
    let mapped = match outcome.kind {
        OutcomeKind::Success if route.payload_v1 => payload_v1::response(&outcome.payload),
        OutcomeKind::Success => function_url::from_result(&outcome.payload),
        OutcomeKind::Timeout => return (timed_out(route.api), Some(request_id)),
        _ => return (internal_error(route.api), Some(request_id)),
    };
    let mut r = match mapped {
        Ok(m) => function_url::http_response(m),
        Err(e) => {
            logs::message(
                LogLevel::Warn,
                &format!(
                    "API route {route_key}: the result of {} is not a response: {e}",
                    matched.route.function
                ),
            );
            internal_error(route.api)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        r.headers_mut().insert("apigw-requestid", v);
    }
    (r, Some(request_id))
}

/// API Gateway's JSON answers: `{"message":"..."}`.
fn message(status: u16, text: &str) -> Response {
    http::json(status, serde_json::json!({ "message": text }).to_string())
}

fn internal_error(api: ApiKind) -> Response {
    match api {
        ApiKind::Http => message(502, "Internal Server Error"),
        ApiKind::Rest => message(502, "Internal server error"),
    }
}

fn timed_out(api: ApiKind) -> Response {
    match api {
        ApiKind::Http => message(504, "Service Unavailable"),
        ApiKind::Rest => message(504, "Endpoint request timed out"),
    }
}
