//! API Gateway routes (docs/reference.md §15): the `Api` (REST) and `HttpApi` events of a SAM
//! template become routes on `--http-port`'s listener, as `sam local start-api` serves them,
//! with API Gateway's payloads (2.0, or 1.0) and its answers when there is no route or the
//! function fails.

mod authorizer;
mod binary;
mod header_case;
mod payload_v1;
mod policy;
mod routes;

use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::Request;
use serde_json::Value;

use crate::clock;
use crate::config::{ApiKind, FunctionConfig, LogLevel};
use crate::function_url::{self, forwarded, UrlRequest};
use crate::http::{self, BodyError, Response};
use crate::invocation::{Invocation, OutcomeKind};
use crate::invoke_api::InvokeApi;
use crate::logs;

pub use routes::{Matched, Route, RouteTable};

/// API Gateway's largest request body (10 MB).
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// The API id of every route's events and ARNs.
const API_ID: &str = "lambda-rie";
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
    let body = match http::read_request(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(_)) => {
            return (message(413, "Request Entity Too Large"), Some(request_id))
        }
        Err(BodyError::Broken) => return (message(400, "Bad Request"), Some(request_id)),
        Err(BodyError::Stalled) => return (message(408, "Request Timeout"), Some(request_id)),
    };
    let function = target.scheduler.function();
    let route_key = route.key();
    let mut headers = if route.payload_v1 {
        header_case::headers(&parts).await
    } else {
        function_url::header_list(&parts)
    };
    let front = forwarded::forward(&parts, &mut headers);
    let request = UrlRequest {
        method: parts.method.as_str(),
        path,
        query: parts.uri.query().unwrap_or(""),
        headers,
        source_ip: front.source_ip,
        body: &body,
        url_id: API_ID,
        domain: "localhost",
        account_id: &function.account_id,
        request_id: &request_id,
        route_key: &route_key,
        path_parameters: matched.parameters.clone(),
        stage: &route.settings.stage,
        time_epoch_ms: clock::epoch_ms(),
        authorizer: None,
    };
    let v1 = payload_v1::V1 {
        resource: route.path.as_deref().unwrap_or("$default"),
        stage_variables: route.settings.stage_variables.as_deref(),
        binary_media_types: (route.api == ApiKind::Rest)
            .then_some(route.settings.binary_media_types.as_slice()),
    };
    let mut event = if route.payload_v1 {
        payload_v1::event(&request, &v1)
    } else {
        event_v2(&request, &v1)
    };
    if let Some(authorizer) = &route.authorizer {
        let arn = format!(
            "arn:aws:execute-api:{}:{}:{API_ID}/{}/{}/{}",
            function.region,
            function.account_id,
            route.settings.stage,
            request.method,
            path.trim_start_matches('/')
        );
        if let Err(mut refused) =
            authorize(api, authorizer, route.api, arn, &request, &v1, &mut event).await
        {
            set_request_id(&mut refused, &request_id);
            return (refused, Some(request_id));
        }
    }
    let accept = parts
        .headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let binary_answer = move |content_type: Option<&str>| match v1.binary_media_types {
        None => true,
        Some(types) => {
            binary::matches(types, binary::first_accept(accept.as_deref()))
                || binary::matches(types, content_type)
        }
    };
    let answer = integrate(
        &target,
        event,
        matched,
        &request_id,
        front.trace_id,
        binary_answer,
    )
    .await;
    (answer, Some(request_id))
}

/// Run the route's authorizer: `Ok` with `requestContext.authorizer` set in `event`, or the
/// answer that refuses the request.
async fn authorize(
    api: &InvokeApi,
    authorizer: &crate::config::gateway::Authorizer,
    kind: ApiKind,
    arn: String,
    request: &UrlRequest<'_>,
    v1: &payload_v1::V1<'_>,
    event: &mut Value,
) -> Result<(), Response> {
    let check = authorizer::Check {
        authorizer,
        api: kind,
        arn,
        event_v1: &payload_v1::event(request, v1),
        event_v2: &event_v2(request, v1),
        headers: &request.headers,
        query: request.query,
        stage_variables: v1.stage_variables,
    };
    match authorizer::decide(api, &check).await {
        authorizer::Decision::Allow(context) => {
            if let Some(rc) = event
                .get_mut("requestContext")
                .and_then(Value::as_object_mut)
            {
                rc.insert("authorizer".to_owned(), context);
            }
            Ok(())
        }
        authorizer::Decision::Refuse(answer) => Err(answer),
    }
}

/// A payload 2.0 event, with the stage's variables when it has some.
fn event_v2(request: &UrlRequest<'_>, v1: &payload_v1::V1<'_>) -> Value {
    let mut event = function_url::event(request);
    if let (Some(vars), Some(fields)) = (v1.stage_variables, event.as_object_mut()) {
        let vars = vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        fields.insert("stageVariables".to_owned(), Value::Object(vars));
    }
    event
}

/// Invoke the route's function with `event` and map its result, as API Gateway does; the
/// invocation has the request's id and continues its trace.
async fn integrate(
    target: &crate::registry::Target,
    event: Value,
    matched: &Matched<'_>,
    request_id: &str,
    trace_id: String,
    binary_answer: impl Fn(Option<&str>) -> bool,
) -> Response {
    let route = &matched.route.route;
    let Some(payload) = function_url::invoke_payload(&event) else {
        return message(413, "Request Entity Too Large");
    };
    let inv = Invocation::traced(
        payload,
        target.invoked_arn.clone(),
        request_id.to_owned(),
        trace_id,
    );
    // NOTE: the invocation runs to its end (and is logged) even when API Gateway stops waiting.
    let outcome =
        match tokio::time::timeout(INTEGRATION_TIMEOUT, target.scheduler.invoke(inv)).await {
            Err(_) => return timed_out(route.api),
            Ok(Err(e)) => {
                let status = e.status();
                // NOTE: API Gateway's own words for a throttled integration.
                let text = if status == 429 {
                    "Rate exceeded"
                } else {
                    "Internal Server Error"
                };
                return message(status, text);
            }
            Ok(Ok(o)) => o,
        };
    let mapped = match outcome.kind {
        OutcomeKind::Success if route.payload_v1 => {
            payload_v1::response(&outcome.payload, binary_answer)
        }
        OutcomeKind::Success => function_url::from_result(&outcome.payload),
        OutcomeKind::Timeout => return timed_out(route.api),
        _ => return internal_error(route.api),
    };
    let mut r = match mapped {
        Ok(m) => function_url::http_response(m),
        Err(e) => {
            logs::message(
                LogLevel::Warn,
                &format!(
                    "API route {}: the result of {} is not a response: {e}",
                    route.key(),
                    matched.route.function
                ),
            );
            internal_error(route.api)
        }
    };
    set_request_id(&mut r, request_id);
    r
}

fn set_request_id(r: &mut Response, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("apigw-requestid", v);
    }
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
