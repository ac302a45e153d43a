//! The headers AWS's front end adds to a request before it becomes the event of a function URL
//! or of an API Gateway route (docs/reference.md §14, §15): `X-Forwarded-For` (the addresses the
//! request passed through, the client's last), `X-Forwarded-Proto` and `X-Forwarded-Port` (how
//! the client reached the listener) and `X-Amzn-Trace-Id` (the request's trace, which the
//! invocation continues).

use hyper::http::request::Parts;

use crate::http::{Local, Peer};

/// The names as API Gateway's payload 1.0 spells them; payload 2.0 lower-cases every name.
const FOR: &str = "X-Forwarded-For";
const PROTO: &str = "X-Forwarded-Proto";
const PORT: &str = "X-Forwarded-Port";
const TRACE: &str = "X-Amzn-Trace-Id";
/// The scheme of every listener: plain HTTP.
const SCHEME: &str = "http";

/// What the front end knows of one request besides its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The client's address: the event's `sourceIp`, the last entry of `X-Forwarded-For`.
    pub source_ip: String,
    /// The invocation's trace header (`Lambda-Runtime-Trace-Id`, the function's
    /// `_X_AMZN_TRACE_ID`): the client's `X-Amzn-Trace-Id` as it was sent; else a fresh one,
    /// whose `Root` is the event's `X-Amzn-Trace-Id`.
    pub trace_id: String,
}

/// Add the front end's headers to `headers` (the request's, names as sent) for the request of
/// `parts`; the client's own `X-Forwarded-Proto` and `X-Forwarded-Port` are replaced.
pub fn forward(parts: &Parts, headers: &mut Vec<(String, String)>) -> Forwarded {
    let client = parts
        .extensions
        .get::<Peer>()
        .map_or_else(|| "127.0.0.1".to_owned(), |p| p.0.ip().to_string());
    let port = parts.extensions.get::<Local>().map(|l| l.0.port());
    add(headers, client, port)
}

/// [`forward`] of a client at `client` that connected to the listener's `port` (unknown: no
/// `X-Forwarded-Port`).
fn add(headers: &mut Vec<(String, String)>, client: String, port: Option<u16>) -> Forwarded {
    let named = |name: &'static str| move |(n, _): &&(String, String)| n.eq_ignore_ascii_case(name);
    let mut chain: Vec<String> = headers
        .iter()
        .filter(named(FOR))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    chain.push(client.clone());
    let given_trace = headers
        .iter()
        .find(named(TRACE))
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let (trace_header, trace_id) = given_trace.map_or_else(
        || {
            let fresh = crate::invocation::new_trace_id();
            let root = fresh.split(';').next().unwrap_or_default().to_owned();
            (root, fresh)
        },
        |given| (given.clone(), given),
    );
    headers.retain(|(n, _)| {
        ![FOR, PROTO, PORT, TRACE]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(n))
    });
    headers.push((FOR.to_owned(), chain.join(", ")));
    headers.push((PROTO.to_owned(), SCHEME.to_owned()));
    if let Some(port) = port {
        headers.push((PORT.to_owned(), port.to_string()));
    }
    headers.push((TRACE.to_owned(), trace_header));
    Forwarded {
        source_ip: client,
        trace_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn value<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn the_client_address_port_scheme_and_a_fresh_trace_are_added() {
        let mut h = headers(&[("user-agent", "agent")]);
        let f = add(&mut h, "10.0.0.7".to_owned(), Some(8080));
        assert_eq!(f.source_ip, "10.0.0.7");
        assert_eq!(value(&h, "X-Forwarded-For"), ["10.0.0.7"]);
        assert_eq!(value(&h, "X-Forwarded-Proto"), ["http"]);
        assert_eq!(value(&h, "X-Forwarded-Port"), ["8080"]);
        assert_eq!(value(&h, "user-agent"), ["agent"]);
        let [trace] = value(&h, "X-Amzn-Trace-Id")[..] else {
            panic!("one trace header: {h:?}")
        };
        let (_, rest) = trace.split_once("Root=1-").expect("a root");
        let (epoch, random) = rest.split_once('-').expect("two parts");
        assert_eq!((epoch.len(), random.len()), (8, 24), "{trace}");
        assert!(rest.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        // The invocation continues that trace: same root, its own parent.
        assert!(f.trace_id.starts_with(&format!("{trace};Parent=")), "{f:?}");
    }

    #[test]
    fn the_client_address_follows_the_forwarded_chain_the_request_carried() {
        let mut h = headers(&[
            ("x-forwarded-for", "1.2.3.4,  5.6.7.8"),
            ("X-Forwarded-For", "9.9.9.9"),
            ("x-forwarded-proto", "https"),
            ("X-FORWARDED-PORT", "443"),
        ]);
        let f = add(&mut h, "127.0.0.1".to_owned(), None);
        assert_eq!(
            h,
            headers(&[
                ("X-Forwarded-For", "1.2.3.4, 5.6.7.8, 9.9.9.9, 127.0.0.1"),
                ("X-Forwarded-Proto", "http"),
                ("X-Amzn-Trace-Id", h[2].1.as_str()),
            ])
        );
        assert_eq!(f.source_ip, "127.0.0.1");
    }

    #[test]
    fn a_given_trace_is_kept_and_is_the_invocation_trace() {
        let given = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
        let mut h = headers(&[("x-amzn-trace-id", given)]);
        let f = add(&mut h, "::1".to_owned(), Some(9000));
        assert_eq!(value(&h, "X-Amzn-Trace-Id"), [given]);
        assert!(value(&h, "x-amzn-trace-id").is_empty());
        assert_eq!(f.trace_id, given);
        assert_eq!(value(&h, "X-Forwarded-For"), ["::1"]);
    }
}
