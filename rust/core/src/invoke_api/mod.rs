//! The Invoke API front (docs/reference.md §2): `POST /2015-03-31/functions/{name}/invocations`.

mod describe;
mod event_stream;
mod invoke;
mod response_stream;
pub mod routing;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request};

use crate::async_queue::AsyncInvoker;
use crate::aws::ServiceError;
use crate::function_url;
use crate::http::{self, Response};
use crate::registry::Registry;

/// What the Invoke API serves: the functions, and the queue of `Event` invocations.
pub struct InvokeApi {
    /// Every function.
    pub registry: Arc<Registry>,
    /// The `Event` queue.
    pub events: Arc<AsyncInvoker>,
}

const FUNCTIONS_PREFIX: &str = "/2015-03-31/functions/";
const STREAMING_PREFIX: &str = "/2021-11-15/functions/";
/// The emulator's own metrics endpoint.
pub const METRICS_PATH: &str = "/_lambda-rie/metrics";

/// Dispatch one Invoke API request.
pub async fn route(api: Arc<InvokeApi>, req: Request<Incoming>) -> Response {
    if let Some(function) = function_url::host_function(&req) {
        let function = function.to_owned();
        let path = req.uri().path().to_owned();
        return function_url::serve(&api, &function, &path, req).await;
    }
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let name = path
        .strip_prefix(FUNCTIONS_PREFIX)
        .and_then(|rest| rest.strip_suffix("/invocations"));
    if path == METRICS_PATH {
        // GET /_lambda-rie/metrics: Prometheus text.
        let mut r = http::response(200, api.registry.metrics_text());
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        return r;
    }
    if method == Method::GET {
        if let Some(r) = describe(&api, &path) {
            return r;
        }
    }
    let streaming_name = path
        .strip_prefix(STREAMING_PREFIX)
        .and_then(|rest| rest.strip_suffix("/response-streaming-invocations"));
    if let Some(name) = streaming_name {
        if method != Method::POST {
            return error_response(&ServiceError::method_not_allowed(), None);
        }
        // POST /2021-11-15/functions/{name}/response-streaming-invocations: InvokeWithResponseStream.
        let name = routing::percent_decode(name);
        return response_stream::invoke_with_response_stream(&api, &name, req).await;
    }
    match (method, name) {
        // POST /2015-03-31/functions/{name}/invocations: Invoke.
        (Method::POST, Some(name)) => {
            let name = routing::percent_decode(name);
            invoke::invoke(&api, &name, req).await
        }
        // Any other method on the invoke path.
        (_, Some(_)) => error_response(&ServiceError::method_not_allowed(), None),
        _ => match path.strip_prefix(function_url::PATH_PREFIX) {
            // ANY /lambda-url/{function}/{path}: the function's URL.
            Some(rest) => {
                let (function, under) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
                let function = routing::percent_decode(function);
                function_url::serve(&api, &function, under, req).await
            }
            None => error_response(&ServiceError::UnknownOperation, None),
        },
    }
}

/// A service error as AWS sends it: JSON body, `x-amzn-ErrorType`, request id.
pub fn error_response(err: &ServiceError, request_id: Option<&str>) -> Response {
    let status = err.status();
    let mut r = http::json(status, err.body());
    let h = r.headers_mut();
    h.insert(
        "x-amzn-errortype",
        hyper::header::HeaderValue::from_static(err.code()),
    );
    let id = request_id.map_or_else(crate::invocation::new_request_id, str::to_owned);
    if let Ok(v) = hyper::header::HeaderValue::from_str(&id) {
        h.insert("x-amzn-requestid", v);
    }
    if status == 429 {
        h.insert("retry-after", hyper::header::HeaderValue::from_static("1"));
    }
    r
}

/// `ListFunctions`, `GetFunction` and `GetFunctionConfiguration`.
fn describe(api: &InvokeApi, path: &str) -> Option<Response> {
    let rest = path.strip_prefix("/2015-03-31/functions")?;
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        // GET /2015-03-31/functions/: ListFunctions.
        return Some(http::json(200, describe::list_functions(&api.registry)));
    }
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let name = routing::percent_decode(name);
    let body = match api.registry.resolve(&name, None) {
        Err(e) => return Some(error_response(&e, None)),
        // GET /2015-03-31/functions/{name}: GetFunction.
        Ok(t) if tail.is_empty() => describe::get_function(t.scheduler.function()),
        // GET /2015-03-31/functions/{name}/configuration: GetFunctionConfiguration.
        Ok(t) if tail == "configuration" => describe::get_configuration(t.scheduler.function()),
        Ok(_) => return None,
    };
    Some(http::json(200, body))
}
