//! A REST API's `BinaryMediaTypes` (docs/reference.md §15), as API Gateway applies them to a
//! Lambda proxy integration
//! (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html,
//! .../lambda-proxy-binary-media.html): a request body whose `Content-Type` matches reaches the
//! function base64-encoded (`isBase64Encoded: true`), any other as text; a result with
//! `isBase64Encoded: true` is decoded when the request's first `Accept` type, or the result's
//! `Content-Type`, matches, and is otherwise sent as the base64 text it is.

use base64::Engine as _;

/// Whether `content_type` (parameters ignored) matches one of `types` (`image/png`,
/// `image/*`, `*/*`), case aside.
pub fn matches(types: &[String], content_type: Option<&str>) -> bool {
    let Some(essence) = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
    else {
        return false;
    };
    let (kind, subtype) = essence.split_once('/').unwrap_or((&essence, ""));
    types.iter().any(|t| {
        let t = t.trim().to_ascii_lowercase();
        let (t_kind, t_subtype) = t.split_once('/').unwrap_or((&t, ""));
        (t_kind == "*" || t_kind == kind) && (t_subtype == "*" || t_subtype == subtype)
    })
}

/// The first media type of an `Accept` header (API Gateway reads only that one).
pub fn first_accept(accept: Option<&str>) -> Option<&str> {
    accept.and_then(|a| a.split(',').next()).map(str::trim)
}

/// A REST API request body in a 1.0 event: base64 when its content type is binary, else the
/// body as text (bytes that are not UTF-8 replaced, as a text payload is UTF-8).
pub fn request_body(types: &[String], body: &[u8], content_type: Option<&str>) -> (String, bool) {
    if matches(types, content_type) {
        (base64::engine::general_purpose::STANDARD.encode(body), true)
    } else {
        (String::from_utf8_lossy(body).into_owned(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn media_types_match_with_wildcards_and_without_parameters() {
        let png = types(&["image/png"]);
        assert!(matches(&png, Some("image/png")));
        assert!(matches(&png, Some("IMAGE/PNG; q=1")));
        assert!(!matches(&png, Some("image/jpeg")));
        assert!(!matches(&png, None));
        assert!(matches(&types(&["image/*"]), Some("image/jpeg")));
        assert!(!matches(&types(&["image/*"]), Some("text/plain")));
        assert!(matches(&types(&["*/*"]), Some("text/plain")));
        assert!(!matches(&[], Some("image/png")));
    }

    #[test]
    fn only_the_first_accept_type_counts() {
        assert_eq!(
            first_accept(Some("image/png, text/html")),
            Some("image/png")
        );
        assert_eq!(first_accept(None), None);
    }

    #[test]
    fn binary_request_bodies_are_base64_and_others_text() {
        let png = types(&["application/octet-stream"]);
        let bytes = [0xff, 0x00, 0xfe];
        assert_eq!(
            request_body(&png, &bytes, Some("application/octet-stream")),
            ("/wD+".to_owned(), true)
        );
        assert_eq!(
            request_body(&png, b"caf\xc3\xa9", Some("text/plain")),
            ("café".to_owned(), false)
        );
    }
}
