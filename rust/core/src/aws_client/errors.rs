//! What a failed call to AWS ended with, and how each wire protocol spells a service error:
//! JSON `__type`/`message` (with SQS's `x-amzn-query-error`), XML `<Code>`/`<Message>`
//! (docs/reference.md §16).

use hyper::HeaderMap;

/// What a call to AWS ended with when it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// No answer: connection refused/reset, timeout, bad URL. Retryable.
    #[error("AWS endpoint unreachable: {0}")]
    Transport(String),
    /// The service answered an error: HTTP status, the error code (e.g.
    /// `AWS.SimpleQueueService.NonExistentQueue` when `x-amzn-query-error` is present, else
    /// `__type` cut after '#', e.g. `ResourceNotFoundException`), and its message.
    #[error("{code} (HTTP {status}): {message}")]
    Service {
        /// The HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The service's message (may be empty).
        message: String,
    },
    /// No credentials found in the chain.
    #[error("{0}")]
    Credentials(String),
}

impl AwsError {
    /// The service's error code, for [`AwsError::Service`].
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            Self::Transport(_) | Self::Credentials(_) => None,
        }
    }
}

/// The code of an answer that names none.
const UNKNOWN_CODE: &str = "UnknownError";

/// A short, lossless-enough preview of a body that is not the expected error shape.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(300).collect()
}

/// A JSON-protocol error. Code: `x-amzn-query-error` (before `;`) when present, else
/// `__type` (or `code`) after its last `#`, else `x-amzn-ErrorType` before `:`.
pub(crate) fn json_error(status: u16, headers: &HeaderMap, body: &[u8]) -> AwsError {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |name: &str| {
        parsed
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let query_code = header("x-amzn-query-error")
        .and_then(|v| v.split(';').next().map(str::to_owned))
        .filter(|c| !c.is_empty());
    let type_code = field("__type")
        .or_else(|| field("code"))
        .map(|t| t.rsplit('#').next().unwrap_or_default().to_owned())
        .filter(|c| !c.is_empty());
    let header_code = header("x-amzn-errortype")
        .and_then(|v| v.split(':').next().map(str::to_owned))
        .filter(|c| !c.is_empty());
    let code = query_code
        .or(type_code)
        .or(header_code)
        .unwrap_or_else(|| UNKNOWN_CODE.to_owned());
    let message = field("message")
        .or_else(|| field("Message"))
        .unwrap_or_else(|| {
            if parsed.is_object() {
                String::new()
            } else {
                preview(body)
            }
        });
    AwsError::Service {
        status,
        code,
        message,
    }
}

/// Undo XML's five predefined entities and numeric character references.
fn xml_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';') else { break };
        let entity = &tail[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        if let Some(c) = decoded {
            out.push(c);
            rest = &tail[end + 1..];
        } else {
            out.push('&');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The text of the first `<tag>…</tag>` element of an XML document, unescaped.
pub(crate) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml_unescape(xml[start..end].trim()))
}

/// A query- or REST-XML-protocol error: `<Error><Code>…</Code><Message>…</Message></Error>`.
pub(crate) fn xml_error(status: u16, body: &[u8]) -> AwsError {
    let xml = String::from_utf8_lossy(body);
    let code = xml_text(&xml, "Code").filter(|c| !c.is_empty());
    let message = xml_text(&xml, "Message");
    match (code, message) {
        (Some(code), message) => AwsError::Service {
            status,
            code,
            message: message.unwrap_or_default(),
        },
        (None, message) => AwsError::Service {
            status,
            code: UNKNOWN_CODE.to_owned(),
            message: message.unwrap_or_else(|| preview(body)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, hyper::header::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn sqs_query_error_header_wins_over_the_type() {
        let body = br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#;
        let err = json_error(
            400,
            &headers(&[(
                "x-amzn-query-error",
                "AWS.SimpleQueueService.NonExistentQueue;Sender",
            )]),
            body,
        );
        assert_eq!(
            err,
            AwsError::Service {
                status: 400,
                code: "AWS.SimpleQueueService.NonExistentQueue".into(),
                message: "The specified queue does not exist.".into(),
            }
        );
        assert_eq!(err.code(), Some("AWS.SimpleQueueService.NonExistentQueue"));
        assert_eq!(
            err.to_string(),
            "AWS.SimpleQueueService.NonExistentQueue (HTTP 400): The specified queue does not exist."
        );
    }

    #[test]
    fn json_type_is_cut_after_the_hash_and_message_may_be_capitalised() {
        let body = br#"{"__type":"com.amazonaws.kinesis.v20131202#ExpiredIteratorException","Message":"Iterator expired"}"#;
        let err = json_error(400, &HeaderMap::new(), body);
        assert_eq!(err.code(), Some("ExpiredIteratorException"));
        assert!(
            matches!(err, AwsError::Service { ref message, .. } if message == "Iterator expired")
        );
        let bare = json_error(
            400,
            &HeaderMap::new(),
            br#"{"__type":"ResourceNotFoundException","message":"Stream x not found"}"#,
        );
        assert_eq!(bare.code(), Some("ResourceNotFoundException"));
    }

    #[test]
    fn a_non_json_error_body_keeps_its_text() {
        let err = json_error(
            502,
            &headers(&[("x-amzn-errortype", "InternalFailure:http://internal/")]),
            b"Bad Gateway",
        );
        assert_eq!(
            err,
            AwsError::Service {
                status: 502,
                code: "InternalFailure".into(),
                message: "Bad Gateway".into()
            }
        );
        assert_eq!(
            json_error(500, &HeaderMap::new(), b"").code(),
            Some("UnknownError")
        );
    }

    #[test]
    fn xml_errors_give_code_and_unescaped_message() {
        let body = b"<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code>\
            <Message>Topic does not exist &amp; never did &#x27;x&#39;</Message></Error><RequestId>r</RequestId></ErrorResponse>";
        assert_eq!(
            xml_error(404, body),
            AwsError::Service {
                status: 404,
                code: "NotFound".into(),
                message: "Topic does not exist & never did 'x'".into()
            }
        );
        let s3 = b"<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(xml_error(404, s3).code(), Some("NoSuchBucket"));
        assert_eq!(
            xml_error(503, b"busy"),
            AwsError::Service {
                status: 503,
                code: "UnknownError".into(),
                message: "busy".into()
            }
        );
    }

    #[test]
    fn transport_and_credential_errors_have_no_code() {
        assert_eq!(AwsError::Transport("refused".into()).code(), None);
        assert_eq!(AwsError::Credentials("none".into()).code(), None);
        assert_eq!(
            AwsError::Transport("refused".into()).to_string(),
            "AWS endpoint unreachable: refused"
        );
    }
}
