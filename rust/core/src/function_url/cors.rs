//! CORS of a function URL (docs/reference.md §14): the answer to a browser's preflight, given
//! by the URL layer without invoking the function, and the configured headers that replace
//! the function's on ordinary responses.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::cors::Cors;

const ALLOW_ORIGIN: &str = "access-control-allow-origin";
const ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
const EXPOSE_HEADERS: &str = "access-control-expose-headers";
const ALLOW_METHODS: &str = "access-control-allow-methods";
const ALLOW_HEADERS: &str = "access-control-allow-headers";
const MAX_AGE: &str = "access-control-max-age";

/// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub fn is_preflight(method: &hyper::Method, headers: &HeaderMap) -> bool {
    method == hyper::Method::OPTIONS
        && headers.contains_key(hyper::header::ORIGIN)
        && headers.contains_key(hyper::header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The `Access-Control-Allow-Origin` an `origin` gets: itself when listed, `*` when `*` is
/// listed, nothing otherwise.
pub fn allowed_origin(cors: &Cors, origin: Option<&str>) -> Option<String> {
    let origin = origin?;
    if cors.allow_origins.iter().any(|o| o == origin) {
        Some(origin.to_owned())
    } else if cors.allow_origins.iter().any(|o| o == "*") {
        Some("*".to_owned())
    } else {
        None
    }
}

/// The headers of the answer to a preflight from `origin`; none when the origin is not
/// allowed.
pub fn preflight_headers(cors: &Cors, origin: Option<&str>) -> Vec<(&'static str, String)> {
    let Some(allowed) = allowed_origin(cors, origin) else {
        return Vec::new();
    };
    let mut out = vec![(ALLOW_ORIGIN, allowed)];
    if !cors.allow_methods.is_empty() {
        out.push((ALLOW_METHODS, cors.allow_methods.join(",")));
    }
    if !cors.allow_headers.is_empty() {
        out.push((ALLOW_HEADERS, cors.allow_headers.join(",")));
    }
    if cors.max_age > 0 {
        out.push((MAX_AGE, cors.max_age.to_string()));
    }
    if cors.allow_credentials {
        out.push((ALLOW_CREDENTIALS, "true".to_owned()));
    }
    out
}

/// The configured CORS headers of an ordinary response to a request from `origin`.
pub fn response_headers(cors: &Cors, origin: Option<&str>) -> Vec<(&'static str, String)> {
    let Some(allowed) = allowed_origin(cors, origin) else {
        return Vec::new();
    };
    let mut out = vec![(ALLOW_ORIGIN, allowed)];
    if cors.allow_credentials {
        out.push((ALLOW_CREDENTIALS, "true".to_owned()));
    }
    if !cors.expose_headers.is_empty() {
        out.push((EXPOSE_HEADERS, cors.expose_headers.join(",")));
    }
    out
}

/// Replace the function's `Access-Control-Allow-Origin`, `-Allow-Credentials` and
/// `-Expose-Headers` with the configured ones.
pub fn apply(cors: &Cors, origin: Option<&str>, headers: &mut HeaderMap) {
    // NOTE: with CORS configured the URL owns these three headers: the function's are dropped
    // even where the configuration sends none (an origin it does not allow).
    for name in [ALLOW_ORIGIN, ALLOW_CREDENTIALS, EXPOSE_HEADERS] {
        headers.remove(name);
    }
    insert(headers, response_headers(cors, origin));
}

/// Add `pairs` to `headers`.
pub fn insert(headers: &mut HeaderMap, pairs: Vec<(&'static str, String)>) {
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors {
            allow_credentials: true,
            allow_headers: vec!["content-type".into(), "x-custom".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_origins: vec!["https://app.example".into()],
            expose_headers: vec!["x-request-id".into()],
            max_age: 600,
        }
    }

    #[test]
    fn preflight_of_a_listed_origin_gets_every_configured_header() {
        assert_eq!(
            preflight_headers(&cors(), Some("https://app.example")),
            vec![
                (ALLOW_ORIGIN, "https://app.example".to_owned()),
                (ALLOW_METHODS, "GET,POST".to_owned()),
                (ALLOW_HEADERS, "content-type,x-custom".to_owned()),
                (MAX_AGE, "600".to_owned()),
                (ALLOW_CREDENTIALS, "true".to_owned()),
            ]
        );
    }

    #[test]
    fn unlisted_or_missing_origins_get_nothing() {
        assert!(preflight_headers(&cors(), Some("https://evil.example")).is_empty());
        assert!(preflight_headers(&cors(), None).is_empty());
        assert!(response_headers(&cors(), Some("https://evil.example")).is_empty());
    }

    #[test]
    fn a_star_origin_answers_star_and_zero_max_age_is_not_sent() {
        let c = Cors {
            allow_origins: vec!["*".into()],
            allow_methods: vec!["*".into()],
            ..Cors::default()
        };
        assert_eq!(
            preflight_headers(&c, Some("https://any.example")),
            vec![
                (ALLOW_ORIGIN, "*".to_owned()),
                (ALLOW_METHODS, "*".to_owned()),
            ]
        );
    }

    #[test]
    fn configured_headers_replace_the_functions() {
        let mut h = HeaderMap::new();
        h.insert(
            ALLOW_ORIGIN,
            HeaderValue::from_static("https://other.example"),
        );
        h.insert(EXPOSE_HEADERS, HeaderValue::from_static("x-other"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        apply(&cors(), Some("https://app.example"), &mut h);
        assert_eq!(h[ALLOW_ORIGIN], "https://app.example");
        assert_eq!(h[ALLOW_CREDENTIALS], "true");
        assert_eq!(h[EXPOSE_HEADERS], "x-request-id");
        assert_eq!(h["x-kept"], "1");
        apply(&cors(), Some("https://evil.example"), &mut h);
        assert!(!h.contains_key(ALLOW_ORIGIN));
        assert!(!h.contains_key(EXPOSE_HEADERS));
    }

    #[test]
    fn preflights_are_options_with_origin_and_request_method() {
        let mut h = HeaderMap::new();
        h.insert("origin", HeaderValue::from_static("https://app.example"));
        assert!(!is_preflight(&hyper::Method::OPTIONS, &h));
        h.insert(
            "access-control-request-method",
            HeaderValue::from_static("POST"),
        );
        assert!(is_preflight(&hyper::Method::OPTIONS, &h));
        assert!(!is_preflight(&hyper::Method::POST, &h));
    }
}
