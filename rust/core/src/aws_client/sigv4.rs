//! AWS Signature Version 4 for header-signed requests, by AWS's own signer (`aws-sigv4`): the
//! request's signed headers and its `Authorization` header (docs/reference.md §16.6).

use std::fmt::Write as _;
use std::time::SystemTime;

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use sha2::{Digest, Sha256};

use super::credentials::Credentials;

/// The SHA-256 of the empty payload, as lower-case hex.
#[cfg(test)]
pub(crate) const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Headers the signer writes itself (from the clock, the credentials and the payload).
const SIGNER_HEADERS: [&str; 3] = ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];

/// What is signed of one request: everything but the credentials and the clock.
pub(crate) struct SignedRequest<'a> {
    /// `GET`, `POST`, `PUT`.
    pub method: &'a str,
    /// The path as sent, already percent-encoded (`/`, `/bucket/key`).
    pub path: &'a str,
    /// The query string as sent, without `?` (empty for every call this client makes).
    pub query: &'a str,
    /// Every header to sign, as `(name, value)`; `host` and `x-amz-date` must be among them.
    pub headers: &'a [(String, String)],
    /// The payload.
    pub body: &'a [u8],
    /// S3: the path is signed as sent and `x-amz-content-sha256` is signed.
    pub s3: bool,
}

/// The credential scope of a signature: `<yyyymmdd>/<region>/<service>/aws4_request`.
pub(crate) struct Scope<'a> {
    /// When the request is signed (its `X-Amz-Date`, to the second).
    pub time: SystemTime,
    /// The region the request goes to.
    pub region: &'a str,
    /// The signing name (`sqs`, `dynamodb` for DynamoDB Streams).
    pub service: &'a str,
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Lower-case hex SHA-256 of a payload.
pub(crate) fn sha256_hex(payload: &[u8]) -> String {
    hex(&Sha256::digest(payload))
}

/// Percent-encode as SigV4 and the query protocol want: everything but `A-Z a-z 0-9 - _ . ~`
/// (and `/` when `keep_slash`, for S3 object keys in a path).
pub(crate) fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The `Authorization` header value of a request signed with `credentials` in `scope`.
pub(crate) fn authorization(
    credentials: &Credentials,
    scope: &Scope<'_>,
    request: &SignedRequest<'_>,
) -> Result<String, String> {
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        None,
        "lambda-rie",
    )
    .into();
    let mut settings = SigningSettings::default();
    if request.s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params: aws_sigv4::http_request::SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(scope.time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let host = request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map_or("", |(_, v)| v.as_str());
    let query = if request.query.is_empty() {
        String::new()
    } else {
        format!("?{}", request.query)
    };
    let uri = format!("http://{host}{}{query}", request.path);
    let headers = request.headers.iter().filter_map(|(n, v)| {
        let own = SIGNER_HEADERS.iter().any(|h| n.eq_ignore_ascii_case(h));
        (!own).then_some((n.as_str(), v.as_str()))
    });
    let signable = SignableRequest::new(
        request.method,
        uri,
        headers,
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let value = instructions
        .headers()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.to_owned());
    value.ok_or_else(|| "the signer wrote no Authorization header".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's published SigV4 test suite (the "aws-sig-v4-test-suite", 2015-08-30 vectors).
    fn suite_credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    fn suite_scope() -> Scope<'static> {
        Scope {
            // 20150830T123600Z
            time: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160),
            region: "us-east-1",
            service: "service",
        }
    }

    fn suite_headers(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut headers = vec![
            ("Host".to_owned(), "example.amazonaws.com".to_owned()),
            ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        headers.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        headers
    }

    fn sign(method: &str, query: &str, headers: &[(String, String)], body: &[u8]) -> String {
        let request = SignedRequest {
            method,
            path: "/",
            query,
            headers,
            body,
            s3: false,
        };
        authorization(&suite_credentials(), &suite_scope(), &request).expect("signed")
    }

    const PREFIX: &str =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

    #[test]
    fn get_vanilla_matches_the_published_signature() {
        assert_eq!(
            sign("GET", "", &suite_headers(&[]), b""),
            format!("{PREFIX}SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case_sorts_the_query() {
        assert_eq!(
            sign("GET", "Param2=value2&Param1=value1", &suite_headers(&[]), b""),
            format!("{PREFIX}SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
        );
    }

    #[test]
    fn post_vanilla_matches_the_published_signature() {
        assert_eq!(
            sign("POST", "", &suite_headers(&[]), b""),
            format!("{PREFIX}SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
        );
    }

    #[test]
    fn post_x_www_form_urlencoded_signs_the_body_and_content_type() {
        let headers = suite_headers(&[("Content-Type", "application/x-www-form-urlencoded")]);
        assert_eq!(
            sign("POST", "", &headers, b"Param1=value1"),
            format!("{PREFIX}SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")
        );
    }

    #[test]
    fn uri_encoding_keeps_unreserved_characters_only() {
        assert_eq!(uri_encode("a b/c~d+é", false), "a%20b%2Fc~d%2B%C3%A9");
        assert_eq!(
            uri_encode("dir/file name.json", true),
            "dir/file%20name.json"
        );
        assert_eq!(sha256_hex(b""), EMPTY_PAYLOAD_SHA256);
    }
}
