//! The Invoke API front (docs/reference.md §2): `POST /2015-03-31/functions/{name}/invocations`.

pub(crate) mod describe;
mod event_stream;
mod invoke;
mod response_stream;
pub mod routing;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request};

use crate::async_queue::AsyncInvoker;
use crate::aws::ServiceError;
use crate::control_plane::{self, ApiRequest, ControlPlane};
use crate::function_url;
use crate::http::{self, Response};
use crate::registry::Registry;

/// What the Invoke API serves: the functions, and the queue of `Event` invocations.
pub struct InvokeApi {
    /// Every function.
    pub registry: Arc<Registry>,
    /// The `Event` queue.
    pub events: Arc<AsyncInvoker>,
    /// The control plane (CreateFunction and the rest of the Lambda API).
    pub control: Arc<ControlPlane>,
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
        let mut r = http::response(
            200,
            api.registry.metrics_text() + &api.control.event_sources().metrics_text(),
        );
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        return r;
    }
    if control_plane::is_control_path(&path) {
        return control(&api, req).await;
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

/// A control-plane request: its body read whole (up to AWS's CreateFunction limit).
async fn control(api: &InvokeApi, req: Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let body = match http::read_request(body, control_plane::MAX_REQUEST_BYTES).await {
        Ok(b) => b,
        Err(http::BodyError::TooLarge(_)) => {
            return error_response(
                &ServiceError::entity_too_large(format!(
                    "Request must be smaller than {} bytes for the CreateFunction operation",
                    control_plane::MAX_REQUEST_BYTES
                )),
                None,
            )
        }
        Err(http::BodyError::Broken) => return http::response(400, bytes::Bytes::new()),
        Err(http::BodyError::Stalled) => {
            return error_response(&ServiceError::request_timeout(), None)
        }
    };
    let host = parts
        .headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        // NOTE: a request without `Host` (HTTP/1.0) gets the address it came to, so that the
        // addresses the control plane answers with still reach the emulator.
        .or_else(|| {
            parts
                .extensions
                .get::<http::Local>()
                .map(|l| l.0.to_string())
        });
    api.control
        .handle(ApiRequest {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            host,
            body,
        })
        .await
}
