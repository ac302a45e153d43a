//! Function URLs (docs/reference.md §14): a function called over plain HTTP. A request becomes
//! a payload 2.0 event, the function runs as a synchronous invocation, and its result becomes
//! the HTTP response (or its chunks are streamed, for a `RESPONSE_STREAM` URL). A URL is
//! reached on the Invoke API's listener under `/lambda-url/<id>/...` or by the host name
//! `<id>.lambda-url.<region>.localhost`, and at the root of `--http-port`'s listener for the
//! function it serves; the id is the function's name (`$LATEST`'s URL) or
//! `<function>--<alias>` (an alias's URL).

mod cors;
pub(crate) mod event;
pub(crate) mod forwarded;
mod iam;
pub(crate) mod response;
mod stream;

use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Request;

use crate::aws::ServiceError;
use crate::clock;
use crate::config::{FunctionUrl, LogLevel, UrlAuthType, UrlInvokeMode, MAX_REQUEST_BYTES};
use crate::http::{self, BodyError, Response};
use crate::invocation::{Invocation, OutcomeKind};
use crate::invoke_api::InvokeApi;
use crate::logs;
use crate::registry::Target;

pub use event::{event, UrlRequest};
pub use response::{from_result, MappingError, UrlResponse};

/// The path prefix of function URLs on the Invoke API's listener.
pub const PATH_PREFIX: &str = "/lambda-url/";
/// The label between a URL's id and its region in its host name.
const HOST_LABEL: &str = ".lambda-url.";
/// Between a function's name and its alias's in the id of an alias's URL.
const ALIAS_SEPARATOR: &str = "--";

/// The URL id a request's `Host` names (`<id>.lambda-url.<region>.localhost`).
pub fn host_function(req: &Request<Incoming>) -> Option<&str> {
    let host = req.headers().get(hyper::header::HOST)?.to_str().ok()?;
    let (id, _) = host.split_once(HOST_LABEL)?;
    Some(id)
}

/// Serve one request to the URL `id`; `path` is the request's path under the URL.
pub async fn serve(api: &InvokeApi, id: &str, path: &str, req: Request<Incoming>) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let (answer, request_id) = answer(api, id, path, req).await;
    let status = answer.status().as_u16();
    logs::message(
        LogLevel::Info,
        &format!(
            "URL {method} {path} {status} {:.2} ms function={id} request_id={}",
            started.elapsed().as_secs_f64() * 1000.0,
            request_id.as_deref().unwrap_or("-"),
        ),
    );
    answer
}

/// The invocation target of URL `id` and the URL's configuration: `$LATEST` of the function
/// named `id`, or the alias of `<function>--<alias>` (a weighted alias picks its version).
fn url_target(api: &InvokeApi, id: &str) -> Option<(Target, FunctionUrl)> {
    // NOTE: an id is a name, never an ARN or a qualified name (AWS's ids are `[0-9a-z]`).
    if id.is_empty() || id.contains(':') {
        return None;
    }
    if let Ok(target) = api.registry.resolve(id, None) {
        if let Some(url) = target.scheduler.function().config.url.clone() {
            return Some((target, url));
        }
    }
    // NOTE: names and aliases may hold `--` themselves: each place it could split is tried.
    id.match_indices(ALIAS_SEPARATOR).find_map(|(at, _)| {
        let (function, alias) = (&id[..at], &id[at + ALIAS_SEPARATOR.len()..]);
        let url = api.control.alias_url(function, alias)?;
        let target = api.registry.resolve(function, Some(alias)).ok()?;
        Some((target, url))
    })
}

async fn answer(
    api: &InvokeApi,
    id: &str,
    path: &str,
    req: Request<Incoming>,
) -> (Response, Option<String>) {
    // NOTE: AWS answers a URL that does not exist as it answers one the caller may not use.
    let Some((target, url)) = url_target(api, id) else {
        return (no_such_url(), None);
    };
    let origin = req
        .headers()
        .get(hyper::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(c) = url.cors.as_ref() {
        // NOTE: a preflight is answered before the auth check: browsers never sign one.
        if cors::is_preflight(req.method(), req.headers()) {
            let mut r = http::response(200, Bytes::new());
            cors::insert(
                r.headers_mut(),
                cors::preflight_headers(c, origin.as_deref()),
            );
            return (r, None);
        }
    }
    if url.auth_type == UrlAuthType::AwsIam && !iam::signed(req.headers()) {
        return (forbidden(), None);
    }
    let request_id = crate::invocation::new_request_id();
    let (parts, body) = req.into_parts();
    let body = match http::read_request(body, MAX_REQUEST_BYTES).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(_)) => {
            return (plain(413, "Request Entity Too Large"), Some(request_id))
        }
        Err(BodyError::Broken) => return (plain(400, "Bad Request"), Some(request_id)),
        Err(BodyError::Stalled) => return (plain(408, "Request Timeout"), Some(request_id)),
    };
    let function = target.scheduler.function();
    let domain = format!("{id}.lambda-url.{}.localhost", function.region);
    let mut headers = header_list(&parts);
    let front = forwarded::forward(&parts, &mut headers);
    let request = UrlRequest {
        method: parts.method.as_str(),
        path,
        query: parts.uri.query().unwrap_or(""),
        headers,
        source_ip: front.source_ip,
        body: &body,
        url_id: id,
        domain: &domain,
        account_id: match url.auth_type {
            UrlAuthType::None => "anonymous",
            UrlAuthType::AwsIam => &function.account_id,
        },
        authorizer: (url.auth_type == UrlAuthType::AwsIam)
            .then(|| iam::authorizer(&parts.headers, &function.account_id)),
        request_id: &request_id,
        route_key: "$default",
        path_parameters: None,
        stage: "$default",
        time_epoch_ms: clock::epoch_ms(),
    };
    let Some(payload) = invoke_payload(&event(&request)) else {
        // NOTE: a body under the cap can still make an event over it (base64 adds a third).
        return (plain(413, "Request Entity Too Large"), Some(request_id));
    };
    let inv = Invocation::traced(
        payload,
        target.invoked_arn,
        request_id.clone(),
        front.trace_id,
    );
    let mut r = match url.invoke_mode {
        UrlInvokeMode::Buffered => buffered(&target.scheduler, inv, id).await,
        UrlInvokeMode::ResponseStream => stream::answer(target.scheduler, inv, id).await,
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    if let Some(c) = url.cors.as_ref() {
        cors::apply(c, origin.as_deref(), r.headers_mut());
    }
    (r, Some(request_id))
}

/// An event as the payload of its invocation, or `None` when it is over Lambda's limit for a
/// synchronous invoke (6291456 bytes): function URLs and API Gateway routes then answer `413`
/// without invoking.
pub(crate) fn invoke_payload(event: &serde_json::Value) -> Option<Bytes> {
    let payload = Bytes::from(event.to_string());
    (payload.len() <= MAX_REQUEST_BYTES).then_some(payload)
}

/// A `BUFFERED` URL's answer: the function's whole result mapped to a response.
async fn buffered(
    scheduler: &std::sync::Arc<crate::scheduler::Scheduler>,
    inv: Invocation,
    id: &str,
) -> Response {
    let outcome = match scheduler.invoke(inv).await {
        Ok(o) => o,
        Err(e) => return service_error(&e),
    };
    if outcome.kind != OutcomeKind::Success {
        return internal_error();
    }
    match from_result(&outcome.payload) {
        Ok(mapped) => http_response(mapped),
        Err(e) => {
            logs::message(
                LogLevel::Warn,
                &format!("URL {id}: the function's result is not a response: {e}"),
            );
            internal_error()
        }
    }
}

/// A request's headers, names as sent, in order.
pub(crate) fn header_list(parts: &hyper::http::request::Parts) -> Vec<(String, String)> {
    parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// A mapped result as the HTTP response.
pub(crate) fn http_response(mapped: UrlResponse) -> Response {
    let mut r = http::response(mapped.status, mapped.body);
    apply_head(&mut r, mapped.status, mapped.headers, mapped.cookies);
    r
}

/// Set a response's status, headers (names as the function wrote them) and `Set-Cookie`s.
fn apply_head(r: &mut Response, status: u16, headers: Vec<(String, String)>, cookies: Vec<String>) {
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            h.append(n, v);
        }
    }
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.append(hyper::header::SET_COOKIE, v);
        }
    }
}

fn plain(status: u16, text: &'static str) -> Response {
    let mut r = http::response(status, text);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    r
}

/// A failed function (error, timeout, crash) or a result that is not a response: 502.
fn internal_error() -> Response {
    plain(502, "Internal Server Error")
}

/// 403 for a URL that does not exist, as AWS answers it.
fn no_such_url() -> Response {
    let mut r = http::json(403, r#"{"Message":null}"#);
    r.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static("AccessDeniedException"),
    );
    r
}

/// 403 for an `AWS_IAM` URL called without a signature.
fn forbidden() -> Response {
    let mut r = http::json(403, r#"{"Message":"Forbidden"}"#);
    r.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static("AccessDeniedException"),
    );
    r
}

/// A service error (a throttle: 429) with AWS's body.
fn service_error(e: &ServiceError) -> Response {
    crate::invoke_api::error_response(e, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_over_6_mb_is_no_invoke_payload() {
        // `"` + n bytes + `"`: the payload is n + 2 bytes long.
        let sized = |n: usize| serde_json::Value::String("x".repeat(n));
        let at_limit = invoke_payload(&sized(MAX_REQUEST_BYTES - 2)).unwrap();
        assert_eq!(at_limit.len(), 6_291_456);
        assert!(invoke_payload(&sized(MAX_REQUEST_BYTES - 1)).is_none());
        assert_eq!(
            &invoke_payload(&serde_json::json!({"a": 1})).unwrap()[..],
            br#"{"a":1}"#
        );
    }

    #[test]
    fn a_mapped_result_goes_out_without_the_function_framing() {
        let mapped = from_result(
            br#"{"statusCode": 200, "headers": {"Content-Length": "0",
                 "Transfer-Encoding": "gzip", "Connection": "close"}, "body": "whole body"}"#,
        )
        .unwrap();
        let r = http_response(mapped);
        assert_eq!(r.status(), 200);
        for name in ["content-length", "transfer-encoding", "connection"] {
            assert!(!r.headers().contains_key(name), "{name}");
        }
        assert_eq!(
            hyper::body::Body::size_hint(r.body()).exact(),
            Some(b"whole body".len() as u64)
        );
    }
}
