//! An HTTP request as the event a function URL hands its function: payload format 2.0
//! (docs/reference.md §14).

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::clock;
use crate::invoke_api::routing::percent_decode;

/// What the event is built from: one HTTP request to a function URL.
pub struct UrlRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path under the URL, from its `/` (`/my/path`).
    pub path: &'a str,
    /// The query string without its `?`; empty when there is none.
    pub query: &'a str,
    /// The request's headers, names as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The client's address.
    pub source_ip: String,
    /// The body as sent.
    pub body: &'a [u8],
    /// The URL's id, the first label of its domain.
    pub url_id: &'a str,
    /// The domain the URL is reached at.
    pub domain: &'a str,
    /// The account id of the request context (`anonymous` for `AuthType` `NONE`).
    pub account_id: &'a str,
    /// The request id: the invocation's.
    pub request_id: &'a str,
    /// `$default` for a function URL; `METHOD /path` for an API Gateway route.
    pub route_key: &'a str,
    /// An API Gateway route's path parameters.
    pub path_parameters: Option<Map<String, Value>>,
    /// The API's stage (`$default` for URLs and HTTP APIs).
    pub stage: &'a str,
    /// When the request arrived, ms since the epoch.
    pub time_epoch_ms: u64,
    /// `requestContext.authorizer` of payload 2.0, when the front end knows the caller (a
    /// signed request to an `AWS_IAM` URL); a route's Lambda authorizer adds its own later.
    pub authorizer: Option<Value>,
}

/// The payload 2.0 event of `request`.
pub fn event(request: &UrlRequest<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_owned())),
            );
            continue;
        }
        join(&mut headers, name, value.clone());
    }
    let user_agent = headers
        .get("user-agent")
        .cloned()
        .unwrap_or_else(|| Value::String(String::new()));
    let mut event = json!({
        "version": "2.0",
        "routeKey": request.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
    });
    let fields = event.as_object_mut().expect("an object literal");
    if !cookies.is_empty() {
        fields.insert("cookies".to_owned(), Value::Array(cookies));
    }
    fields.insert("headers".to_owned(), Value::Object(headers.clone()));
    if let Some(params) = query_parameters(request.query) {
        fields.insert("queryStringParameters".to_owned(), Value::Object(params));
    }
    let mut context = json!({
        "accountId": request.account_id,
        "apiId": request.url_id,
        "domainName": request.domain,
        "domainPrefix": request.url_id,
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": user_agent,
        },
        "requestId": request.request_id,
        "routeKey": request.route_key,
        "stage": request.stage,
        "time": clock::access_log_time(request.time_epoch_ms),
        "timeEpoch": request.time_epoch_ms,
    });
    if let (Some(authorizer), Some(members)) = (&request.authorizer, context.as_object_mut()) {
        members.insert("authorizer".to_owned(), authorizer.clone());
    }
    fields.insert("requestContext".to_owned(), context);
    if let Some(parameters) = &request.path_parameters {
        fields.insert(
            "pathParameters".to_owned(),
            Value::Object(parameters.clone()),
        );
    }
    if request.body.is_empty() {
        fields.insert("isBase64Encoded".to_owned(), Value::Bool(false));
    } else {
        let content_type = headers.get("content-type").and_then(Value::as_str);
        let (body, encoded) = body(request.body, content_type);
        fields.insert("body".to_owned(), Value::String(body));
        fields.insert("isBase64Encoded".to_owned(), Value::Bool(encoded));
    }
    event
}

/// Repeated names (headers, query parameters) are joined by commas, as AWS does.
fn join(into: &mut Map<String, Value>, name: String, value: String) {
    match into.get_mut(&name) {
        Some(Value::String(seen)) => {
            seen.push(',');
            seen.push_str(&value);
        }
        _ => {
            into.insert(name, Value::String(value));
        }
    }
}

/// `queryStringParameters`: decoded, repeats joined; none when the query is empty.
fn query_parameters(query: &str) -> Option<Map<String, Value>> {
    let mut params = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        join(&mut params, percent_decode(key), percent_decode(value));
    }
    (!params.is_empty()).then_some(params)
}

/// The body as text when its content type is textual and it is UTF-8, else base64.
// NOTE: AWS documents that text bodies arrive as they are and binary ones base64-encoded, not
// its list of text types: these are the types a browser or an API client sends as text.
pub(crate) fn body(bytes: &[u8], content_type: Option<&str>) -> (String, bool) {
    let textual = content_type.is_none_or(is_text);
    match std::str::from_utf8(bytes) {
        Ok(text) if textual => (text.to_owned(), false),
        _ => (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            true,
        ),
    }
}

/// Whether a content type carries text.
fn is_text(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | "application/yaml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(headers: &[(&str, &str)], query: &'a str, body: &'a [u8]) -> UrlRequest<'a> {
        UrlRequest {
            method: "POST",
            path: "/my/path",
            query,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            source_ip: "127.0.0.1".to_owned(),
            body,
            url_id: "orders",
            domain: "orders.lambda-url.us-east-1.localhost",
            account_id: "anonymous",
            request_id: "id-1",
            route_key: "$default",
            path_parameters: None,
            stage: "$default",
            time_epoch_ms: 1_583_348_638_390,
            authorizer: None,
        }
    }

    #[test]
    fn builds_aws_payload_2_0() {
        let e = event(&request(
            &[
                ("Header2", "value1"),
                ("header2", "value2"),
                ("User-Agent", "agent"),
                ("Cookie", "c1=a; c2=b"),
                ("Content-Type", "text/plain"),
            ],
            "p1=v1&p1=v2&p2=v%20w",
            b"Hello from client!",
        ));
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["routeKey"], "$default");
        assert_eq!(e["rawPath"], "/my/path");
        assert_eq!(e["rawQueryString"], "p1=v1&p1=v2&p2=v%20w");
        assert_eq!(e["cookies"], json!(["c1=a", "c2=b"]));
        assert_eq!(e["headers"]["header2"], "value1,value2");
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(
            e["queryStringParameters"],
            json!({"p1": "v1,v2", "p2": "v w"})
        );
        let ctx = &e["requestContext"];
        assert_eq!(ctx["http"]["method"], "POST");
        assert_eq!(ctx["http"]["userAgent"], "agent");
        assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(ctx["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(ctx["timeEpoch"], 1_583_348_638_390_u64);
        assert_eq!(ctx["domainPrefix"], "orders");
        assert_eq!(e["body"], "Hello from client!");
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn binary_bodies_are_base64_and_no_query_means_no_parameters() {
        let e = event(&request(
            &[("content-type", "application/octet-stream")],
            "",
            &[0, 159, 146, 150],
        ));
        assert_eq!(e["body"], "AJ+Slg==");
        assert_eq!(e["isBase64Encoded"], true);
        assert!(e.get("queryStringParameters").is_none());
        assert!(e.get("cookies").is_none());
        assert_eq!(e["rawQueryString"], "");
        // Not UTF-8 although said to be text: base64 too.
        let e = event(&request(&[("content-type", "text/plain")], "", &[0xff]));
        assert_eq!(e["isBase64Encoded"], true);
    }

    #[test]
    fn a_known_caller_is_the_request_contexts_authorizer_and_no_caller_means_none() {
        let mut signed = request(&[], "", b"");
        signed.authorizer = Some(json!({"iam": {"accessKey": "AKIAEXAMPLE"}}));
        let e = event(&signed);
        assert_eq!(
            e["requestContext"]["authorizer"]["iam"]["accessKey"],
            "AKIAEXAMPLE"
        );
        assert_eq!(e["requestContext"]["requestId"], "id-1");
        let e = event(&request(&[], "", b""));
        assert!(e["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn no_body_means_no_body_field() {
        let e = event(&request(&[], "a", b""));
        assert!(e.get("body").is_none());
        assert_eq!(e["queryStringParameters"], json!({"a": ""}));
    }

    #[test]
    fn json_and_form_bodies_are_text() {
        for ct in [
            "application/json; charset=utf-8",
            "application/vnd.api+json",
            "application/x-www-form-urlencoded",
        ] {
            let e = event(&request(&[("content-type", ct)], "", b"a=1"));
            assert_eq!(e["isBase64Encoded"], false, "{ct}");
        }
    }
}
