//! Header names as the client spelled them (`X-Custom-Header`, not `x-custom-header`): payload
//! format 1.0 events keep the client's case, as API Gateway's do (docs/reference.md §15).
//!
//! hyper lower-cases header names; with `preserve_header_case` on the connection (the
//! `--http-port` listener with 1.0 routes sets it) it keeps each name's spelling in a map in the
//! request's extensions, a type it does not export. It writes a message's headers with the
//! spellings of that map, so the request's headers and extensions are written as the head of
//! a response to a `HEAD` request, in memory, and the names read back from those bytes.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// The head written back is never larger than this (hyper's own limit on a request's head is
/// smaller).
const MAX_HEAD_BYTES: usize = 512 * 1024;
/// A liveness bound on the in-memory round trip, which takes microseconds.
const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(1);

/// The request's headers in order, each name as the client spelled it when the connection
/// kept spellings; lower-case otherwise (or when a spelling cannot be recovered).
pub async fn headers(parts: &Parts) -> Vec<(String, String)> {
    let mut spellings = tokio::time::timeout(ROUND_TRIP_LIMIT, spellings(parts))
        .await
        .unwrap_or_default();
    parts
        .headers
        .iter()
        .map(|(name, value)| {
            let spelled = spellings
                .get_mut(name.as_str())
                .and_then(VecDeque::pop_front)
                .unwrap_or_else(|| name.as_str().to_owned());
            (
                spelled,
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Every spelling of each (lower-case) name, in the order the values came.
async fn spellings(parts: &Parts) -> HashMap<String, VecDeque<String>> {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let headers = parts.headers.clone();
    let extensions = parts.extensions.clone();
    let service = service_fn(move |_| {
        let mut response = hyper::Response::new(Empty::<Bytes>::new());
        *response.headers_mut() = headers.clone();
        *response.extensions_mut() = extensions.clone();
        std::future::ready(Ok::<_, Infallible>(response))
    });
    // NOTE: a response to HEAD has no body, so that Content-Length and Transfer-Encoding are
    // written as they are without a body to match them.
    let connection = http1::Builder::new()
        .auto_date_header(false)
        .serve_connection(TokioIo::new(server), service);
    let head = async {
        client
            .write_all(b"HEAD / HTTP/1.1\r\nhost: spellings\r\n\r\n")
            .await
            .ok()?;
        read_head(&mut client).await
    };
    tokio::pin!(head, connection);
    // NOTE: with `Connection: close` among the headers the connection ends once the head is
    // written; the head is still in the pipe, to be read.
    let head = tokio::select! {
        head = &mut head => head,
        _ = &mut connection => head.await,
    };
    let mut spellings: HashMap<String, VecDeque<String>> = HashMap::new();
    for line in head.unwrap_or_default().split("\r\n").skip(1) {
        if let Some((name, _)) = line.split_once(':') {
            spellings
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push_back(name.to_owned());
        }
    }
    spellings
}

/// The response's head (up to its blank line), as text.
async fn read_head(stream: &mut DuplexStream) -> Option<String> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
        if buf.len() > MAX_HEAD_BYTES || stream.read_buf(&mut buf).await.ok()? == 0 {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_kept_spellings_names_stay_lower_case() {
        let (parts, ()) = hyper::Request::builder()
            .header("X-Custom-Header", "1")
            .header("content-length", "0")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(
            headers(&parts).await,
            vec![
                ("x-custom-header".to_owned(), "1".to_owned()),
                ("content-length".to_owned(), "0".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn kept_spellings_come_back_in_order() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let tx = tx.lock().unwrap().take();
            async move {
                let (parts, _) = req.into_parts();
                if let Some(tx) = tx {
                    let _ = tx.send(headers(&parts).await);
                }
                Ok::<_, Infallible>(hyper::Response::new(Empty::<Bytes>::new()))
            }
        });
        let connection = http1::Builder::new()
            .preserve_header_case(true)
            .serve_connection(TokioIo::new(server), service);
        tokio::spawn(connection);
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Custom-Header: one\r\nx-CUSTOM-header: two\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        assert_eq!(
            rx.await.unwrap(),
            pairs(&[
                ("Host", "h"),
                ("Connection", "close"),
                ("X-Custom-Header", "one"),
                ("x-CUSTOM-header", "two"),
                ("Content-Length", "0"),
            ])
        );
    }
}
