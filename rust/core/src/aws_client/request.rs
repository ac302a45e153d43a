//! One AWS request: the endpoint URL checked, the SigV4 headers added and signed, ready for
//! the pooled client (docs/reference.md §16).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{HeaderMap, Method, Request, Uri};

use super::credentials::Credentials;
use super::{sigv4, AwsError, Service};

/// A signed AWS request about to be sent.
pub(super) struct Call<'a> {
    /// The service called (its signing name goes in the scope).
    pub(super) service: Service,
    /// The region of the credential scope.
    pub(super) region: &'a str,
    /// `POST` or `PUT`.
    pub(super) method: Method,
    /// The path after the endpoint's own path, percent-encoded (`/`, `/bucket/key`).
    pub(super) path: String,
    /// Headers to sign and send besides `host`, `x-amz-date` and the session token.
    pub(super) headers: Vec<(String, String)>,
    /// The payload, hashed into the signature.
    pub(super) body: Bytes,
    /// Send the payload hash as `x-amz-content-sha256` (S3 wants it).
    pub(super) content_sha256: bool,
    /// How long the exchange may take.
    pub(super) timeout: Duration,
}

/// The service's answer, whatever its status.
pub(super) struct Answer {
    /// The HTTP status.
    pub(super) status: u16,
    /// The answer's headers (`x-amzn-query-error`).
    pub(super) headers: HeaderMap,
    /// The whole answer body.
    pub(super) body: Bytes,
}

/// `20150830T123600Z` of an epoch-millisecond instant.
pub(super) fn amz_date(epoch_ms: u64) -> String {
    let iso = crate::clock::iso8601(epoch_ms);
    let basic: String = iso.chars().filter(|c| !matches!(c, '-' | ':')).collect();
    format!("{}Z", basic.get(..15).unwrap_or(&basic))
}

/// The message of an error and each of its sources (hyper's top-level text is terse).
pub(super) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `(scheme, authority, path without trailing slash)` of an `http://` or `https://` endpoint
/// URL.
fn split_endpoint(url: &str) -> Result<(&'static str, String, String), AwsError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| AwsError::Transport(format!("bad endpoint URL {url:?}: {e}")))?;
    let scheme = match uri.scheme_str() {
        Some("http") => "http",
        Some("https") => "https",
        _ => {
            return Err(AwsError::Transport(format!(
                "bad endpoint URL {url:?}: not http:// or https://"
            )))
        }
    };
    let authority = uri
        .authority()
        .map(ToString::to_string)
        .ok_or_else(|| AwsError::Transport(format!("bad endpoint URL {url:?}: no host")))?;
    Ok((
        scheme,
        authority,
        uri.path().trim_end_matches('/').to_owned(),
    ))
}

/// The signed HTTP request of a call to `base` (the endpoint URL).
pub(super) fn signed(
    call: Call<'_>,
    credentials: &Credentials,
    base: &str,
) -> Result<Request<Full<Bytes>>, AwsError> {
    let (scheme, authority, base_path) = split_endpoint(base)?;
    let path = format!("{base_path}{}", call.path);
    // NOTE: one instant, to the second, for the `X-Amz-Date` sent and the one signed.
    let now_s = crate::clock::epoch_ms() / 1000;
    let amz_date = amz_date(now_s * 1000);
    let payload_hash = sigv4::sha256_hex(&call.body);
    let mut headers = vec![
        ("host".to_owned(), authority.clone()),
        ("x-amz-date".to_owned(), amz_date.clone()),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".to_owned(), token.clone()));
    }
    if call.content_sha256 {
        headers.push(("x-amz-content-sha256".to_owned(), payload_hash.clone()));
    }
    headers.extend(call.headers);
    let scope = sigv4::Scope {
        time: std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(now_s),
        region: call.region,
        service: call.service.signing_name(),
    };
    let signed = sigv4::SignedRequest {
        method: call.method.as_str(),
        path: &path,
        query: "",
        headers: &headers,
        body: &call.body,
        s3: call.content_sha256,
    };
    let authorization = sigv4::authorization(credentials, &scope, &signed)
        .map_err(|e| AwsError::Transport(format!("request to {base} not signed: {e}")))?;
    let mut request = Request::builder()
        .method(call.method)
        .uri(format!("{scheme}://{authority}{path}"));
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request
        .header("authorization", authorization)
        .body(Full::new(call.body))
        .map_err(|e| AwsError::Transport(format!("request to {base} not sendable: {e}")))
}
