//! API Gateway's payload format 1.0 (REST APIs, and HTTP APIs that ask for it), in and out
//! (docs/reference.md §15).

use serde_json::{json, Map, Value};

use crate::clock;
use crate::function_url::event::{body, UrlRequest};
use crate::function_url::response::shaped;
use crate::function_url::{MappingError, UrlResponse};
use crate::invoke_api::routing::percent_decode;

/// What 1.0 adds to a request: the route's resource path, the stage's variables and, for a
/// REST API, its binary media types.
pub struct V1<'a> {
    /// The route's path pattern (`/items/{id}`), or `$default`.
    pub resource: &'a str,
    /// The stage's variables (`stageVariables`, `null` when none).
    pub stage_variables: Option<&'a [(String, String)]>,
    /// A REST API's `BinaryMediaTypes`, which decide whether the body is base64; `None` for an
    /// HTTP API, whose bodies are base64 unless textual (§14).
    pub binary_media_types: Option<&'a [String]>,
}

/// The payload 1.0 event of `request`.
pub fn event(request: &UrlRequest<'_>, v1: &V1<'_>) -> Value {
    let mut headers = Map::new();
    let mut multi_headers: Map<String, Value> = Map::new();
    for (name, value) in &request.headers {
        headers.insert(name.clone(), Value::String(value.clone()));
        push(&mut multi_headers, name, value);
    }
    let mut query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for pair in request.query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (percent_decode(key), percent_decode(value));
        query.insert(key.clone(), Value::String(value.clone()));
        push(&mut multi_query, &key, &value);
    }
    let or_null = |m: Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    let user_agent = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        .map_or(Value::Null, |(_, v)| v.clone());
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .and_then(|(_, v)| v.as_str());
    let (body, encoded) = if request.body.is_empty() {
        (Value::Null, false)
    } else {
        let (text, encoded) = match v1.binary_media_types {
            Some(types) => super::binary::request_body(types, request.body, content_type),
            None => body(request.body, content_type),
        };
        (Value::String(text), encoded)
    };
    json!({
        "version": "1.0",
        "resource": v1.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": or_null(headers),
        "multiValueHeaders": or_null(multi_headers),
        "queryStringParameters": or_null(query),
        "multiValueQueryStringParameters": or_null(multi_query),
        "requestContext": {
            "accountId": request.account_id,
            "apiId": request.url_id,
            "domainName": request.domain,
            "domainPrefix": request.url_id,
            "extendedRequestId": request.request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": request.source_ip,
                "user": null,
                "userAgent": user_agent,
                "userArn": null,
            },
            "path": request.path,
            "protocol": "HTTP/1.1",
            "requestId": request.request_id,
            "requestTime": clock::access_log_time(request.time_epoch_ms),
            "requestTimeEpoch": request.time_epoch_ms,
            "resourceId": null,
            "resourcePath": v1.resource,
            "stage": request.stage,
        },
        "pathParameters": request.path_parameters.clone().map_or(Value::Null, Value::Object),
        "stageVariables": v1.stage_variables.map_or(Value::Null, |vars| {
            Value::Object(vars.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
        }),
        "body": body,
        "isBase64Encoded": encoded,
    })
}

fn push(into: &mut Map<String, Value>, key: &str, value: &str) {
    let entry = into
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(values) = entry {
        values.push(Value::String(value.to_owned()));
    }
}

/// A 1.0 result as the HTTP response: it must be an object with `statusCode` and a string
/// `body` (or none); `headers` and `multiValueHeaders` both apply, `cookies` does not; `body` is base64-decoded when `isBase64Encoded` and
/// `binary(content type of the result)` says the answer is binary (else sent as it is).
pub fn response(
    result: &[u8],
    binary: impl Fn(Option<&str>) -> bool,
) -> Result<UrlResponse, MappingError> {
    let value: Value = serde_json::from_slice(result)
        .map_err(|_| MappingError::Status("(the result is not JSON)".to_owned()))?;
    let fields = value
        .as_object()
        .filter(|f| f.contains_key("statusCode"))
        .ok_or_else(|| MappingError::Status("(no statusCode)".to_owned()))?;
    if fields
        .get("body")
        .is_some_and(|b| !b.is_string() && !b.is_null())
    {
        return Err(MappingError::Body);
    }
    // NOTE: `cookies` is a member of the 2.0 format only; a 1.0 result sets `Set-Cookie`.
    let without_cookies;
    let fields = if fields.contains_key("cookies") {
        let mut f = fields.clone();
        f.remove("cookies");
        without_cookies = f;
        &without_cookies
    } else {
        fields
    };
    if fields.get("isBase64Encoded") == Some(&Value::Bool(true)) {
        let content_type = ["headers", "multiValueHeaders"].iter().find_map(|key| {
            let headers = fields.get(*key)?.as_object()?;
            let (_, v) = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))?;
            v.as_str().or_else(|| v.get(0)?.as_str())
        });
        if !binary(content_type) {
            let mut as_text = fields.clone();
            as_text.insert("isBase64Encoded".to_owned(), Value::Bool(false));
            return shaped(&as_text, true);
        }
    }
    shaped(fields, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_payload_1_0_with_multi_values() {
        let mut parameters = Map::new();
        parameters.insert("id".to_owned(), Value::String("42".to_owned()));
        let request = UrlRequest {
            method: "GET",
            path: "/items/42",
            query: "p=v1&p=v2",
            headers: vec![
                ("Header1".to_owned(), "a".to_owned()),
                ("Header1".to_owned(), "b".to_owned()),
            ],
            source_ip: "127.0.0.1".to_owned(),
            body: b"",
            url_id: "api",
            domain: "localhost",
            account_id: "012345678912",
            request_id: "id-1",
            route_key: "GET /items/{id}",
            path_parameters: Some(parameters),
            stage: "Prod",
            time_epoch_ms: 1_583_349_317_135,
            authorizer: None,
        };
        let e = event(
            &request,
            &V1 {
                resource: "/items/{id}",
                stage_variables: None,
                binary_media_types: None,
            },
        );
        assert_eq!(e["version"], "1.0");
        assert_eq!(e["resource"], "/items/{id}");
        assert_eq!(e["path"], "/items/42");
        assert_eq!(e["httpMethod"], "GET");
        assert_eq!(e["headers"], json!({"Header1": "b"}));
        assert_eq!(e["multiValueHeaders"], json!({"Header1": ["a", "b"]}));
        assert_eq!(e["queryStringParameters"], json!({"p": "v2"}));
        assert_eq!(
            e["multiValueQueryStringParameters"],
            json!({"p": ["v1", "v2"]})
        );
        assert_eq!(e["pathParameters"], json!({"id": "42"}));
        assert_eq!(e["body"], Value::Null);
        assert_eq!(e["requestContext"]["stage"], "Prod");
        assert_eq!(e["requestContext"]["resourcePath"], "/items/{id}");
        assert_eq!(
            e["requestContext"]["requestTime"],
            "04/Mar/2020:19:15:17 +0000"
        );
    }

    #[test]
    fn a_1_0_result_needs_a_status_code() {
        assert!(response(br#"{"hello": "world"}"#, |_| true).is_err());
        assert!(response(b"\"text\"", |_| true).is_err());
        let r = response(
            br#"{"statusCode": 201, "headers": {"A": "1"}, "multiValueHeaders": {"B": ["2", "3"]},
                 "body": "done"}"#,
            |_| true,
        )
        .unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(
            r.headers,
            vec![
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "2".to_owned()),
                ("B".to_owned(), "3".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
        assert_eq!(&r.body[..], b"done");
    }

    #[test]
    fn a_base64_result_is_decoded_only_when_the_answer_is_binary() {
        let result = br#"{"statusCode": 200, "headers": {"Content-Type": "image/png"},
                          "body": "/wD+", "isBase64Encoded": true}"#;
        let decoded = response(result, |t| t == Some("image/png")).unwrap();
        assert_eq!(&decoded.body[..], &[0xff, 0x00, 0xfe]);
        let as_text = response(result, |_| false).unwrap();
        assert_eq!(&as_text.body[..], b"/wD+");
    }

    #[test]
    fn a_1_0_result_loses_its_framing_headers_and_1xx_is_refused() {
        let r = response(
            br#"{"statusCode": 200, "headers": {"Content-Length": "0", "X-A": "1"},
                 "multiValueHeaders": {"transfer-encoding": ["gzip"], "X-B": ["2"]},
                 "body": "the real body"}"#,
            |_| true,
        )
        .unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("X-A".to_owned(), "1".to_owned()),
                ("X-B".to_owned(), "2".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
        assert_eq!(&r.body[..], b"the real body");
        assert!(response(br#"{"statusCode": 101, "body": "x"}"#, |_| true).is_err());
    }

    #[test]
    fn a_1_0_result_needs_a_string_body_and_has_no_cookies() {
        for body in [r#"{"a": 1}"#, "[1]", "3", "true"] {
            let result = format!(r#"{{"statusCode": 200, "body": {body}}}"#);
            assert!(matches!(
                response(result.as_bytes(), |_| true),
                Err(MappingError::Body)
            ));
        }
        let r = response(
            br#"{"statusCode": 204, "body": null, "cookies": ["a=b"]}"#,
            |_| true,
        )
        .unwrap();
        assert!(r.cookies.is_empty(), "cookies is a 2.0 member");
        assert!(r.body.is_empty());
    }
}
