//! HTTP plumbing shared by the Invoke API and the Runtime API: the accept loop with graceful
//! shutdown, capped body reads and response builders.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body as _, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

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
}

/// A body over its cap is still read (and dropped) up to this size, so that the client can
/// finish sending and read the 413 instead of seeing its connection reset.
const DRAIN_LIMIT: u64 = 64 << 20;

/// Read a whole body of at most `cap` bytes. A larger one is read to its end and dropped
/// (up to 64 MiB), and its size reported.
pub async fn read_capped(mut body: Incoming, cap: usize) -> Result<Bytes, BodyError> {
    if let Some(n) = body.size_hint().exact() {
        if n > DRAIN_LIMIT {
            return Err(BodyError::TooLarge(Some(n)));
        }
    }
    let cap = cap as u64;
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| BodyError::Broken)?.into_data() else {
            continue; // trailers
        };
        total += data.len() as u64;
        if total > DRAIN_LIMIT {
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
                let mut buf = BytesMut::with_capacity((f.len() + data.len()).max(64 * 1024));
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

/// Serve HTTP/1.1 keep-alive connections from `listener` until `shutdown` turns true; then
/// stop accepting, let every connection finish the request it is answering, and return.
/// `generation` changes end every open connection at once (used when a runtime is replaced).
pub async fn serve<S, F>(
    listener: TcpListener,
    service: Arc<S>,
    mut shutdown: watch::Receiver<bool>,
    generation: Option<watch::Receiver<u64>>,
) where
    S: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let mut connections = JoinSet::new();
    let for_connections = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let svc = Arc::clone(&service);
                let generation = generation.clone();
                connections.spawn(connection(stream, svc, for_connections.clone(), generation));
            }
            () = requested(&mut shutdown) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}

/// Serve one accepted connection until it closes, `shutdown` turns true (after the request in
/// progress) or `generation` changes.
pub(crate) async fn connection<S, F>(
    stream: tokio::net::TcpStream,
    service: Arc<S>,
    mut shutdown: watch::Receiver<bool>,
    generation: Option<watch::Receiver<u64>>,
) where
    S: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let svc = service_fn(move |req| {
        let fut = service(req);
        async move { Ok::<_, Infallible>(fut.await) }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let replaced = async move {
        match generation {
            Some(mut g) => {
                // Only a change after this connection was accepted ends it.
                g.borrow_and_update();
                let _ = g.changed().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = conn.as_mut() => {}
        () = requested(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
        () = replaced => {}
    }
}

/// Resolves once shutdown is requested (or its sender is gone).
async fn requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|down| *down).await;
}
