//! AWS Signature Version 4 for header-signed requests: the canonical request, the string to
//! sign, the derived signing key and the `Authorization` header (docs/reference.md §16).

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::credentials::Credentials;

/// The SHA-256 of the empty payload, as lower-case hex.
#[cfg(test)]
pub(crate) const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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
    /// Lower-case hex SHA-256 of the payload.
    pub payload_hash: &'a str,
}

/// The credential scope of a signature: `<yyyymmdd>/<region>/<service>/aws4_request`.
pub(crate) struct Scope<'a> {
    /// `X-Amz-Date`, `yyyymmddThhmmssZ`.
    pub amz_date: &'a str,
    /// The region the request goes to.
    pub region: &'a str,
    /// The signing name (`sqs`, `dynamodb` for DynamoDB Streams).
    pub service: &'a str,
}

impl Scope<'_> {
    fn date(&self) -> &str {
        self.amz_date.get(..8).unwrap_or(self.amz_date)
    }

    fn text(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date(),
            self.region,
            self.service
        )
    }
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
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

/// HMAC-SHA256 (RFC 2104) over SHA-256's 64-byte block.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // NOTE: written out rather than taken from a crate: it is eight lines over the sha2 the
    // crate already has, and spares a dependency pinned to sha2's digest version.
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
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

/// The canonical query: `name=value` pairs sorted by name, then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical headers block and the `SignedHeaders` list: names lower-cased and sorted,
/// values trimmed with inner runs of spaces collapsed, repeated names joined with commas.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut named: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            (name.to_ascii_lowercase(), value)
        })
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut block = String::new();
    let mut names: Vec<&str> = Vec::new();
    for (name, value) in &named {
        if names.last() == Some(&name.as_str()) {
            block.pop();
            let _ = writeln!(block, ",{value}");
        } else {
            let _ = writeln!(block, "{name}:{value}");
            names.push(name);
        }
    }
    (block, names.join(";"))
}

/// The canonical request and its `SignedHeaders` list.
fn canonical_request(request: &SignedRequest<'_>) -> (String, String) {
    let (headers, signed) = canonical_headers(request.headers);
    let text = format!(
        "{}\n{}\n{}\n{headers}\n{signed}\n{}",
        request.method,
        request.path,
        canonical_query(request.query),
        request.payload_hash
    );
    (text, signed)
}

/// The signature of a request, and its `SignedHeaders` list.
fn signature(secret: &str, scope: &Scope<'_>, request: &SignedRequest<'_>) -> (String, String) {
    let (canonical, signed) = canonical_request(request);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        scope.amz_date,
        scope.text(),
        sha256_hex(canonical.as_bytes())
    );
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), scope.date().as_bytes());
    for part in [scope.region, scope.service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    (hex(&hmac_sha256(&key, string_to_sign.as_bytes())), signed)
}

/// The `Authorization` header value of a request signed with `credentials` in `scope`.
pub(crate) fn authorization(
    credentials: &Credentials,
    scope: &Scope<'_>,
    request: &SignedRequest<'_>,
) -> String {
    let (signature, signed) = signature(&credentials.secret_access_key, scope, request);
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed}, Signature={signature}",
        credentials.access_key_id,
        scope.text()
    )
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

    const SUITE_SCOPE: Scope<'static> = Scope {
        amz_date: "20150830T123600Z",
        region: "us-east-1",
        service: "service",
    };

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
        let payload_hash = sha256_hex(body);
        let request = SignedRequest {
            method,
            path: "/",
            query,
            headers,
            payload_hash: &payload_hash,
        };
        authorization(&suite_credentials(), &SUITE_SCOPE, &request)
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
        let payload_hash = sha256_hex(b"Param1=value1");
        let request = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload_hash: &payload_hash,
        };
        assert_eq!(
            canonical_request(&request).0,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n\
             x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n\
             9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_repeated_names_joined() {
        let headers = vec![
            ("My-Header1".to_owned(), "  a   b  c ".to_owned()),
            ("host".to_owned(), "h".to_owned()),
            ("my-header1".to_owned(), "d".to_owned()),
        ];
        assert_eq!(
            canonical_headers(&headers),
            (
                "host:h\nmy-header1:a b c,d\n".to_owned(),
                "host;my-header1".to_owned()
            )
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
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
