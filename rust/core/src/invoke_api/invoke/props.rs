//! Property tests of the Invoke API header reader: any header values give either the headers
//! AWS would honour or a 400 in AWS's shape, never a panic.

use base64::Engine as _;
use http_body_util::BodyExt as _;
use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;
use proptest::prelude::*;

use super::{InvocationType, InvokeHeaders, Operation};
use crate::aws::ServiceError;
use crate::config::MAX_CLIENT_CONTEXT_BYTES;
use crate::invocation::DEFAULT_CONTENT_TYPE;
use crate::proptest_cases::{config, service_error_message};

/// Bytes a header value may hold (what `HeaderValue::from_bytes` takes): no controls but TAB.
fn value_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            8 => 0x20u8..0x7f,
            1 => Just(b'\t'),
            1 => 0x80u8..=0xff,
        ],
        0..max,
    )
}

/// A value for a header that takes one of `known`: absent, one of them, a near miss, or noise.
fn choice(known: &'static [&'static str]) -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        4 => prop::sample::select(known).prop_map(|v| Some(v.as_bytes().to_vec())),
        1 => prop::sample::select(known).prop_map(|v| Some(v.to_lowercase().into_bytes())),
        1 => prop::sample::select(known).prop_map(|v| Some(format!(" {v}").into_bytes())),
        2 => value_bytes(40).prop_map(Some),
    ]
}

/// An `X-Amz-Client-Context`: base64 of an object (small or past the limit), of another JSON
/// value, of invalid JSON, bad base64, or noise.
fn client_context() -> impl Strategy<Value = Option<Vec<u8>>> {
    let b64 = |raw: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(raw);
    let object = (0usize..4000, "[a-z]{1,8}")
        .prop_map(|(size, key)| format!("{{\"{key}\": \"{}\"}}", "v".repeat(size)).into_bytes());
    prop_oneof![
        2 => Just(None),
        3 => object.prop_map(move |o| Some(b64(o).into_bytes())),
        1 => prop_oneof![Just("[1, 2]"), Just("\"text\""), Just("12"), Just("null")]
            .prop_map(move |j| Some(b64(j.as_bytes().to_vec()).into_bytes())),
        1 => value_bytes(64).prop_map(move |raw| Some(b64(raw).into_bytes())),
        1 => "[A-Za-z0-9+/=!*-]{0,40}".prop_map(|s| Some(s.into_bytes())),
        1 => value_bytes(5000).prop_map(Some),
    ]
}

/// The six headers the reader looks at, each absent or with a value.
#[derive(Debug, Clone)]
struct Sent {
    invocation_type: Option<Vec<u8>>,
    log_type: Option<Vec<u8>>,
    client_context: Option<Vec<u8>>,
    content_type: Option<Vec<u8>>,
    trace_id: Option<Vec<u8>>,
    tenant_id: Option<Vec<u8>>,
}

fn sent() -> impl Strategy<Value = Sent> {
    (
        choice(&["RequestResponse", "Event", "DryRun"]),
        choice(&["None", "Tail"]),
        client_context(),
        choice(&[
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
        ]),
        prop::option::of(value_bytes(300)),
        prop::option::of(value_bytes(300)),
    )
        .prop_map(
            |(invocation_type, log_type, client_context, content_type, trace_id, tenant_id)| Sent {
                invocation_type,
                log_type,
                client_context,
                content_type,
                trace_id,
                tenant_id,
            },
        )
}

impl Sent {
    fn headers(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in [
            ("x-amz-invocation-type", &self.invocation_type),
            ("x-amz-log-type", &self.log_type),
            ("x-amz-client-context", &self.client_context),
            ("content-type", &self.content_type),
            ("x-amzn-trace-id", &self.trace_id),
            ("x-amz-tenant-id", &self.tenant_id),
        ] {
            if let Some(v) = value {
                let v = HeaderValue::from_bytes(v).expect("the strategy makes valid values");
                map.insert(HeaderName::from_static(name), v);
            }
        }
        map
    }
}

/// A header's text as the reader sees it: present and visible ASCII.
fn text(v: Option<&Vec<u8>>) -> Option<&str> {
    let v = v?;
    v.iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        .then(|| std::str::from_utf8(v).ok())
        .flatten()
}

/// A checked header's text as the reader sees it: present, bytes that are not UTF-8 replaced
/// (so that a value that is not ASCII is a bad value, not an absent header).
fn lossy(v: Option<&Vec<u8>>) -> Option<String> {
    v.map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The client context a reader must accept: base64 of a JSON object of at most 3583 bytes.
fn accepted_client_context(v: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .ok()?;
    let object = matches!(
        serde_json::from_slice::<serde_json::Value>(&raw),
        Ok(serde_json::Value::Object(_))
    );
    (object && raw.len() <= MAX_CLIENT_CONTEXT_BYTES)
        .then(|| String::from_utf8(raw).ok())
        .flatten()
}

/// What the reader must answer for `sent`, as AWS checks the headers (in this order).
fn expected(sent: &Sent, operation: Operation) -> Result<InvocationType, ServiceError> {
    let kind = match (lossy(sent.invocation_type.as_ref()).as_deref(), operation) {
        (None | Some("RequestResponse"), _) => InvocationType::RequestResponse,
        (Some("Event"), Operation::Invoke) => InvocationType::Event,
        (Some("DryRun"), _) => InvocationType::DryRun,
        (Some(other), Operation::Invoke) => {
            return Err(ServiceError::invalid_parameter(&format!(
                "Invalid InvocationType: {other}; expected RequestResponse, Event or DryRun"
            )))
        }
        (Some(other), Operation::InvokeWithResponseStream) => {
            return Err(ServiceError::invalid_parameter(&format!(
                "Invalid InvocationType: {other}; expected RequestResponse or DryRun"
            )))
        }
    };
    match lossy(sent.log_type.as_ref()).as_deref() {
        None | Some("None" | "Tail") => {}
        Some(other) => {
            return Err(ServiceError::invalid_parameter(&format!(
                "Invalid LogType: {other}; expected None or Tail"
            )))
        }
    }
    if let Some(cc) = lossy(sent.client_context.as_ref()) {
        if accepted_client_context(&cc).is_none() {
            return Err(ServiceError::invalid_client_context());
        }
    }
    Ok(kind)
}

/// The whole HTTP answer `error_response` makes of `e`: status, `x-amzn-ErrorType`, body.
fn rendered(e: &ServiceError) -> (u16, Option<String>, bytes::Bytes) {
    let r = crate::invoke_api::error_response(e, None);
    let status = r.status().as_u16();
    let code = r
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(r.into_body().collect())
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    (status, code, body)
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        Just(Operation::Invoke),
        Just(Operation::InvokeWithResponseStream)
    ]
}

proptest! {
    #![proptest_config(config(256, 10_000))]

    #[test]
    fn any_headers_are_read_or_refused_in_aws_shape(sent in sent(), operation in operation()) {
        let read = InvokeHeaders::read(&sent.headers(), operation);
        match (read, expected(&sent, operation)) {
            (Ok(h), Ok(kind)) => {
                prop_assert!(h.kind == kind);
                prop_assert_eq!(h.tail, text(sent.log_type.as_ref()) == Some("Tail"));
                prop_assert_eq!(
                    h.client_context,
                    text(sent.client_context.as_ref()).and_then(accepted_client_context)
                );
                let content_type = match text(sent.content_type.as_ref()) {
                    None | Some("application/x-www-form-urlencoded") => DEFAULT_CONTENT_TYPE,
                    Some(ct) => ct,
                };
                prop_assert_eq!(h.content_type, content_type);
                prop_assert_eq!(h.trace_id.as_deref(), text(sent.trace_id.as_ref()));
                prop_assert_eq!(h.tenant_id.as_deref(), text(sent.tenant_id.as_ref()));
            }
            (Err(e), Err(want)) => {
                prop_assert_eq!(&e, &want);
                let (status, code, body) = rendered(&e);
                prop_assert_eq!(status, 400);
                prop_assert_eq!(code.as_deref(), Some(e.code()));
                let message = service_error_message(status, &body).map_err(TestCaseError::fail)?;
                prop_assert_eq!(message, e.message());
            }
            (got, want) => prop_assert!(
                false,
                "read {:?}, expected {:?}",
                got.map(|h| h.content_type),
                want.map(|_| "headers")
            ),
        }
    }
}

#[test]
fn the_client_context_limit_is_3583_decoded_bytes() {
    let object = |size: usize| {
        let text = format!("{{\"k\": \"{}\"}}", "v".repeat(size - 9));
        assert_eq!(text.len(), size);
        base64::engine::general_purpose::STANDARD.encode(text)
    };
    let mut headers = HeaderMap::new();
    let mut read = |size: usize| {
        let v = HeaderValue::from_str(&object(size)).expect("base64 is a valid value");
        headers.insert("x-amz-client-context", v);
        InvokeHeaders::read(&headers, Operation::Invoke).map(|h| h.client_context)
    };
    assert!(matches!(read(MAX_CLIENT_CONTEXT_BYTES), Ok(Some(_))));
    let e = read(MAX_CLIENT_CONTEXT_BYTES + 1).unwrap_err();
    assert_eq!(
        e.body(),
        r#"{"Type": "User", "message": "Client context must be a valid Base64-encoded JSON object."}"#
    );
}

#[test]
fn a_checked_header_that_is_not_ascii_is_a_bad_value_not_an_absent_one() {
    let read = |name: &str, value: &[u8]| {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
        InvokeHeaders::read(&headers, Operation::Invoke).map(|h| h.kind)
    };
    let refused = |name: &str, value: &[u8]| read(name, value).unwrap_err().code();
    assert_eq!(
        refused("x-amz-invocation-type", b"Ev\xe9nt"),
        "InvalidParameterValueException"
    );
    assert_eq!(
        refused("x-amz-log-type", b"T\xe4il"),
        "InvalidParameterValueException"
    );
    assert_eq!(
        refused("x-amz-client-context", b"\xff\xfe"),
        "InvalidRequestContentException"
    );
    assert!(read("x-amz-invocation-type", b"Event").is_ok_and(|k| k == InvocationType::Event));
}
