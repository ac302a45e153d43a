//! A function's result as the HTTP response of its function URL (docs/reference.md §14): a
//! result with `statusCode` says the status, headers, cookies and body; any other result is
//! the body of a 200.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;

/// The HTTP response a result maps to.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlResponse {
    /// The status code.
    pub status: u16,
    /// Headers, names as the function wrote them; `content-type` included.
    pub headers: Vec<(String, String)>,
    /// One `Set-Cookie` each.
    pub cookies: Vec<String>,
    /// The body.
    pub body: Bytes,
}

/// Why a result cannot be an HTTP response (the client then gets a 502).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// `statusCode` is not a status code.
    #[error("statusCode {0} is not an HTTP status code")]
    Status(String),
    /// `body` is said to be base64 and is not.
    #[error("body is not base64 although isBase64Encoded is true")]
    Base64,
    /// A payload 1.0 `body` that is not a string.
    #[error("body is not a string")]
    Body,
    /// A header whose value is a list or an object, not a value.
    #[error("header {0} is not a string, a number, a boolean or null")]
    HeaderValue(String),
}

const JSON: &str = "application/json";

/// Headers that frame the HTTP message or belong to one connection (RFC 9110 §7.6.1, and
/// `Content-Length`): the front end sets them itself from the body it sends, as AWS's does, so
/// a function's own (a wrong `Content-Length`, `Transfer-Encoding: gzip`) never reaches the
/// client, where a too-short length would let the body be read as a second response.
const FRAMING_HEADERS: [&str; 8] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// Whether `name` is one of [`FRAMING_HEADERS`] (in any case).
fn is_framing(name: &str) -> bool {
    FRAMING_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Map a function's result (the bytes it answered) onto an HTTP response.
pub fn from_result(result: &[u8]) -> Result<UrlResponse, MappingError> {
    let Ok(value) = serde_json::from_slice::<Value>(result) else {
        // NOTE: a runtime may answer bytes that are not JSON (a custom runtime's plain text):
        // they are the body, as they are.
        return Ok(inferred(Bytes::copy_from_slice(result)));
    };
    match value {
        Value::Object(fields) if fields.contains_key("statusCode") => shaped(&fields, false),
        // A JSON string is sent without its quotes; anything else re-serialised compactly.
        Value::String(s) => Ok(inferred(Bytes::from(s))),
        other => Ok(inferred(Bytes::from(other.to_string()))),
    }
}

fn inferred(body: Bytes) -> UrlResponse {
    UrlResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), JSON.to_owned())],
        cookies: Vec::new(),
        body,
    }
}

/// A result with `statusCode`; with `multi_value_headers` (API Gateway's payload 1.0) the
/// values of `multiValueHeaders` are headers too. This maps the results of function URLs,
/// of all API Gateway routes and of a stream's prelude: a status outside 200–599 (a 1xx is not
/// a final answer) is refused, and the function's framing headers are dropped.
pub(crate) fn shaped(
    fields: &serde_json::Map<String, Value>,
    multi_value_headers: bool,
) -> Result<UrlResponse, MappingError> {
    let status = match &fields["statusCode"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .filter(|n| (200..=599).contains(n))
    .ok_or_else(|| MappingError::Status(fields["statusCode"].to_string()))?;
    let single = fields.get("headers").and_then(Value::as_object);
    let multi = fields
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .filter(|_| multi_value_headers);
    let values = single
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, std::slice::from_ref(v)))
        .chain(multi.into_iter().flatten().map(|(k, values)| {
            let values = match values {
                Value::Array(values) => values.as_slice(),
                // NOTE: a value that is not a list is taken as a list of one.
                other => std::slice::from_ref(other),
            };
            (k, values)
        }));
    let mut headers = Vec::new();
    // NOTE: a function that names the content type `null` sends none (no JSON by default).
    let mut typed = false;
    for (k, values) in values.filter(|(k, _)| !is_framing(k)) {
        for v in values {
            typed |= k.eq_ignore_ascii_case("content-type");
            if let Some(v) = header_value(k, v)? {
                headers.push((k.clone(), v));
            }
        }
    }
    if !typed {
        headers.push(("content-type".to_owned(), JSON.to_owned()));
    }
    let cookies = fields
        .get("cookies")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(text).collect())
        .unwrap_or_default();
    let body = match fields.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(body) => {
            let body = text(body);
            if fields.get("isBase64Encoded") == Some(&Value::Bool(true)) {
                base64::engine::general_purpose::STANDARD
                    .decode(body.trim())
                    .map(Bytes::from)
                    .map_err(|_| MappingError::Base64)?
            } else {
                Bytes::from(body)
            }
        }
    };
    Ok(UrlResponse {
        status,
        headers,
        cookies,
        body,
    })
}

/// A header's value as API Gateway and Lambda read it: a string as it is, a number or a boolean
/// as its JSON text (`3`, `true`), `null` no header; a list or an object is not a value.
fn header_value(name: &str, value: &Value) -> Result<Option<String>, MappingError> {
    match value {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(_) | Value::Bool(_) => Ok(Some(value.to_string())),
        Value::Null => Ok(None),
        Value::Array(_) | Value::Object(_) => Err(MappingError::HeaderValue(name.to_owned())),
    }
}

/// A cookie or body as text: strings as they are, other JSON values written out.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(result: &str) -> String {
        let r = from_result(result.as_bytes()).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.headers,
            vec![("content-type".to_owned(), JSON.to_owned())]
        );
        String::from_utf8(r.body.to_vec()).unwrap()
    }

    #[test]
    fn results_without_status_code_are_the_body_of_a_200() {
        assert_eq!(body_of(r#""hello""#), "hello");
        assert_eq!(body_of(r#"{"hello": "world"}"#), r#"{"hello":"world"}"#);
        assert_eq!(body_of(r#"["hello", 3, true]"#), r#"["hello",3,true]"#);
        assert_eq!(body_of("3"), "3");
        assert_eq!(body_of("3.1"), "3.1");
        assert_eq!(body_of("true"), "true");
        assert_eq!(body_of(r#"{"body": "x"}"#), r#"{"body":"x"}"#);
        assert_eq!(body_of("plain words"), "plain words");
    }

    #[test]
    fn a_status_code_result_says_status_headers_cookies_and_body() {
        let r = from_result(
            br#"{"statusCode": "418", "headers": {"X-Tea": "pot", "N": 1},
                 "cookies": ["a=1", "b=2; Path=/"], "body": "short and stout"}"#,
        )
        .unwrap();
        assert_eq!(r.status, 418);
        assert_eq!(
            r.headers,
            vec![
                ("N".to_owned(), "1".to_owned()),
                ("X-Tea".to_owned(), "pot".to_owned()),
                ("content-type".to_owned(), JSON.to_owned()),
            ]
        );
        assert_eq!(r.cookies, vec!["a=1", "b=2; Path=/"]);
        assert_eq!(&r.body[..], b"short and stout");
    }

    #[test]
    fn numbers_and_booleans_are_header_text_and_null_is_no_header() {
        let r = from_result(
            br#"{"statusCode": 200, "headers": {"X-Count": 3, "X-Ratio": 0.5, "X-On": true,
                 "X-Off": false, "X-Gone": null}, "body": "b"}"#,
        )
        .unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("X-Count".to_owned(), "3".to_owned()),
                ("X-Off".to_owned(), "false".to_owned()),
                ("X-On".to_owned(), "true".to_owned()),
                ("X-Ratio".to_owned(), "0.5".to_owned()),
                ("content-type".to_owned(), JSON.to_owned()),
            ]
        );
        // A content type named null is none at all: not JSON by default.
        let r = from_result(br#"{"statusCode": 204, "headers": {"Content-Type": null}}"#).unwrap();
        assert_eq!(r.headers, Vec::<(String, String)>::new());
    }

    #[test]
    fn a_list_or_object_header_value_is_not_a_response() {
        for value in [r#"["a", "b"]"#, r#"{"a": "b"}"#, "[]"] {
            let result = format!(r#"{{"statusCode": 200, "headers": {{"X-Bad": {value}}}}}"#);
            assert_eq!(
                from_result(result.as_bytes()),
                Err(MappingError::HeaderValue("X-Bad".to_owned())),
                "{value}"
            );
        }
        let fields = serde_json::json!({
            "statusCode": 200,
            "multiValueHeaders": {"X-Many": [1, true, null, "s"], "X-One": 7, "X-None": null},
        });
        let r = shaped(fields.as_object().unwrap(), true).unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("X-Many".to_owned(), "1".to_owned()),
                ("X-Many".to_owned(), "true".to_owned()),
                ("X-Many".to_owned(), "s".to_owned()),
                ("X-One".to_owned(), "7".to_owned()),
                ("content-type".to_owned(), JSON.to_owned()),
            ]
        );
        let nested = serde_json::json!({"statusCode": 200, "multiValueHeaders": {"X": [["a"]]}});
        assert_eq!(
            shaped(nested.as_object().unwrap(), true),
            Err(MappingError::HeaderValue("X".to_owned()))
        );
    }

    #[test]
    fn base64_bodies_are_decoded_and_the_function_content_type_kept() {
        let r = from_result(
            br#"{"statusCode": 200, "headers": {"Content-Type": "image/png"},
                 "body": "AJ+Slg==", "isBase64Encoded": true}"#,
        )
        .unwrap();
        assert_eq!(&r.body[..], &[0, 159, 146, 150]);
        assert_eq!(
            r.headers,
            vec![("Content-Type".to_owned(), "image/png".to_owned())]
        );
        assert_eq!(r.cookies, Vec::<String>::new());
    }

    #[test]
    fn malformed_shapes_are_refused() {
        assert_eq!(
            from_result(br#"{"statusCode": "teapot"}"#),
            Err(MappingError::Status(r#""teapot""#.to_owned()))
        );
        assert!(from_result(br#"{"statusCode": 1000}"#).is_err());
        assert_eq!(
            from_result(br#"{"statusCode": 200, "body": "%%", "isBase64Encoded": true}"#),
            Err(MappingError::Base64)
        );
        let empty = from_result(br#"{"statusCode": 204}"#).unwrap();
        assert_eq!((empty.status, empty.body.len()), (204, 0));
    }

    #[test]
    fn informational_status_codes_are_refused() {
        for status in ["100", "101", "103", "199", "0", "99", "600"] {
            let result = format!(r#"{{"statusCode": {status}, "body": "x"}}"#);
            assert_eq!(
                from_result(result.as_bytes()),
                Err(MappingError::Status(status.to_owned())),
                "{status}"
            );
        }
        assert_eq!(
            from_result(br#"{"statusCode": "101"}"#),
            Err(MappingError::Status(r#""101""#.to_owned()))
        );
        assert_eq!(from_result(br#"{"statusCode": 200}"#).unwrap().status, 200);
        assert_eq!(from_result(br#"{"statusCode": 599}"#).unwrap().status, 599);
    }

    #[test]
    fn the_function_framing_headers_are_dropped() {
        let r = from_result(
            br#"{"statusCode": 200, "headers": {"Content-Length": "0", "TRANSFER-ENCODING": "gzip",
                 "connection": "close", "Keep-Alive": "timeout=5", "Upgrade": "h2c", "TE": "trailers",
                 "Trailer": "X-Sum", "Proxy-Connection": "keep-alive", "X-Kept": "yes",
                 "Content-Type": "text/plain"}, "body": "forged"}"#,
        )
        .unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("Content-Type".to_owned(), "text/plain".to_owned()),
                ("X-Kept".to_owned(), "yes".to_owned()),
            ]
        );
        assert_eq!(&r.body[..], b"forged");
    }

    #[test]
    fn framing_headers_in_multi_value_headers_are_dropped_too() {
        let fields = serde_json::json!({
            "statusCode": 200,
            "headers": {"content-length": "999"},
            "multiValueHeaders": {
                "Content-Length": ["1", "2"],
                "Transfer-Encoding": ["gzip", "chunked"],
                "Connection": ["close"],
                "X-Many": ["a", "b"],
            },
            "body": "abc",
        });
        let r = shaped(fields.as_object().unwrap(), true).unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("X-Many".to_owned(), "a".to_owned()),
                ("X-Many".to_owned(), "b".to_owned()),
                ("content-type".to_owned(), JSON.to_owned()),
            ]
        );
        assert!(FRAMING_HEADERS
            .iter()
            .all(|h| is_framing(&h.to_uppercase())));
        assert!(!is_framing("content-type") && !is_framing("x-content-length"));
    }
}
