//! HTTP plumbing shared by the Invoke API and the Runtime API: the accept loop (in `server`),
//! capped body reads and response builders.

mod server;
mod timeouts;

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body as _, Frame, Incoming};
use hyper::{Request, StatusCode};
use tokio::sync::mpsc;

pub use server::{client_gone, serve_admitted, serve_with, Admission, Local, Peer};
pub use timeouts::ConnectionOptions;

/// Response body type of both servers: whole bytes, or bytes sent as they are produced.
pub type Body = Either<Full<Bytes>, ChannelBody>;
/// Response type of both servers.
pub type Response = hyper::Response<Body>;

/// A response with a status and a body.
pub fn response(status: u16, body: impl Into<Bytes>) -> Response {
    let mut r = hyper::Response::new(Either::Left(Full::new(body.into())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// A 200 response whose body is whatever is sent through the returned sender, in order,
/// ending when the sender is dropped.
pub fn streaming_response(queued: usize) -> (Response, mpsc::Sender<Bytes>) {
    let (tx, rx) = mpsc::channel(queued);
    (hyper::Response::new(Either::Right(ChannelBody(rx))), tx)
}

/// A response body fed through a channel (chunked transfer encoding on the wire).
#[derive(Debug)]
pub struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|data| data.map(|d| Ok(Frame::data(d))))
    }
}

/// A JSON response.
pub fn json(status: u16, body: impl Into<Bytes>) -> Response {
    let mut r = response(status, body);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// More than the cap; the size is known when Content-Length said so.
    TooLarge(Option<u64>),
    /// The connection failed mid-body.
    Broken,
    /// Nothing of the body arrived for the header-read timeout.
    Stalled,
}

/// A body over its cap is still read (and dropped) up to this size, so that the client can
/// finish sending and read the 413 instead of seeing its connection reset.
const DRAIN_LIMIT: u64 = 64 << 20;

/// Read a whole body of at most `cap` bytes. A larger one is read to its end and dropped
/// (up to 64 MiB, or `cap` when that is larger), and its size reported.
pub async fn read_capped(body: Incoming, cap: usize) -> Result<Bytes, BodyError> {
    read_body(body, cap, None).await
}

/// [`read_capped`] for a client's request: a body of which nothing arrives for the
/// header-read timeout (10 s) is [`BodyError::Stalled`], so that a client that stops sending
/// holds no connection for good (as one that stops in its headers does not).
pub async fn read_request(body: Incoming, cap: usize) -> Result<Bytes, BodyError> {
    read_body(body, cap, Some(server::header_read_timeout())).await
}

async fn read_body(
    mut body: Incoming,
    cap: usize,
    stall: Option<std::time::Duration>,
) -> Result<Bytes, BodyError> {
    let cap = cap as u64;
    // NOTE: a body within the cap is never refused for being over the drain limit (the
    // control plane takes up to 70 MB).
    let drain_limit = DRAIN_LIMIT.max(cap);
    let exact = body.size_hint().exact();
    if let Some(n) = exact {
        if n > drain_limit {
            return Err(BodyError::TooLarge(Some(n)));
        }
    }
    // NOTE: a body of known length is gathered in one allocation, without regrowth copies.
    let capacity = exact.filter(|n| *n <= cap).unwrap_or(0) as usize;
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total: u64 = 0;
    loop {
        // NOTE: a frame already buffered is taken without arming the timer.
        let frame = match stall {
            Some(limit) => tokio::time::timeout(limit, body.frame())
                .await
                .map_err(|_| BodyError::Stalled)?,
            None => body.frame().await,
        };
        let Some(frame) = frame else { break };
        let Ok(data) = frame.map_err(|_| BodyError::Broken)?.into_data() else {
            continue; // trailers
        };
        total += data.len() as u64;
        if total > drain_limit {
            return Err(BodyError::TooLarge(Some(total)));
        }
        if total > cap {
            first = None;
            rest = None;
            continue;
        }
        match (&mut first, &mut rest) {
            (None, None) => first = Some(data),
            (Some(f), None) => {
                let mut buf =
                    BytesMut::with_capacity((f.len() + data.len()).max(64 * 1024).max(capacity));
                buf.extend_from_slice(f);
                buf.extend_from_slice(&data);
                first = None;
                rest = Some(buf);
            }
            (_, Some(buf)) => buf.extend_from_slice(&data),
        }
    }
    if total > cap {
        return Err(BodyError::TooLarge(Some(total)));
    }
    Ok(match (first, rest) {
        (_, Some(buf)) => buf.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    })
}

/// A header's value as text, when present and valid.
pub fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}
