//! The accept loop shared by the Invoke API and the Runtime API: keep-alive connections with
//! header-read and idle timeouts, graceful shutdown, and a pause when accepting fails (out of
//! file descriptors) instead of a spin.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::timeouts::{ConnectionOptions, ConnectionState, RequestTimer, WatchedStream};
use super::Response;
use crate::config::{LogLevel, HEADER_READ_TIMEOUT, INVOKE_API_IDLE_TIMEOUT};
use crate::logs;

/// How long the accept loop pauses after accepting failed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// A listener that keeps failing to accept is logged at most this often.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// Test knob: the header-read timeout, milliseconds (tests cannot wait 10 s for it).
const HEADER_READ_TIMEOUT_VARIABLE: &str = "LAMBDA_RIE_HEADER_READ_TIMEOUT_MS";

impl ConnectionOptions {
    /// The Invoke API's: connections idle for 350 s are closed, as AWS's front does, and an
    /// invocation received whole runs even if its client closed the connection at once.
    pub fn invoke_api() -> Self {
        Self {
            header_read: header_read_timeout(),
            idle: Some(INVOKE_API_IDLE_TIMEOUT),
            preserve_header_case: false,
            addresses: true,
        }
    }

    /// The Runtime API's: a runtime's connection idles for as long as its handler runs.
    pub fn runtime_api() -> Self {
        Self {
            header_read: header_read_timeout(),
            idle: None,
            preserve_header_case: false,
            addresses: false,
        }
    }
}

/// How long a client may take over a request's headers, or go silent in its body.
pub(crate) fn header_read_timeout() -> Duration {
    static TIMEOUT: OnceLock<Duration> = OnceLock::new();
    *TIMEOUT.get_or_init(|| {
        std::env::var(HEADER_READ_TIMEOUT_VARIABLE)
            .ok()
            .and_then(|ms| ms.trim().parse().ok())
            .map_or(HEADER_READ_TIMEOUT, Duration::from_millis)
    })
}

/// Who may be served: asked once per accepted connection, before its first request.
pub trait Admission: Send + Sync + 'static {
    /// `Ok` to serve the client at `peer` of the listener at `local`; else the body of the 403
    /// that answers each of its requests.
    fn admit(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = Result<(), &'static str>> + Send>>;
}

/// Serve HTTP/1.1 keep-alive connections from `listener` until `shutdown` turns true; then
/// stop accepting, let every connection finish the request it is answering, close the others,
/// and return. `generation` changes end every open connection at once (used when a runtime is
/// replaced).
pub async fn serve_with<S, F>(
    listener: TcpListener,
    service: Arc<S>,
    shutdown: watch::Receiver<bool>,
    generation: Option<watch::Receiver<u64>>,
    options: ConnectionOptions,
) where
    S: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    serve_admitted(listener, service, shutdown, generation, options, None).await;
}

/// [`serve_with`], where `admission` (when given) decides for each new connection whether it is
/// served or refused.
pub async fn serve_admitted<S, F>(
    listener: TcpListener,
    service: Arc<S>,
    mut shutdown: watch::Receiver<bool>,
    generation: Option<watch::Receiver<u64>>,
    options: ConnectionOptions,
    admission: Option<Arc<dyn Admission>>,
) where
    S: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let mut connections = JoinSet::new();
    let for_connections = shutdown.clone();
    let mut failures = AcceptFailures::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let svc = Arc::clone(&service);
                    let stop = for_connections.clone();
                    let generation = generation.clone();
                    let admission = admission.clone();
                    connections.spawn(async move {
                        let refused = match (admission, stream.local_addr()) {
                            (Some(a), Ok(local)) => a.admit(peer, local).await.err(),
                            _ => None,
                        };
                        match refused {
                            Some(body) => {
                                let refuse = Arc::new(move |_: Request<Incoming>| {
                                    std::future::ready(super::json(403, body))
                                });
                                connection(stream, refuse, stop, None, options).await;
                            }
                            None => connection(stream, svc, stop, generation, options).await,
                        }
                    });
                }
                Err(e) => failures.back_off(&listener, &e).await,
            },
            () = requested(&mut shutdown) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}

/// Failed accepts: logged once a minute at most, each followed by a pause.
#[derive(Default)]
struct AcceptFailures {
    logged_at: Option<Instant>,
}

impl AcceptFailures {
    async fn back_off(&mut self, listener: &TcpListener, error: &io::Error) {
        if matches!(
            error.kind(),
            io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
        ) {
            return; // about one connection (gone before it was accepted), not the listener
        }
        if self
            .logged_at
            .is_none_or(|at| at.elapsed() >= ACCEPT_ERROR_LOG_INTERVAL)
        {
            self.logged_at = Some(Instant::now());
            let address = listener
                .local_addr()
                .map_or_else(|_| "?".to_owned(), |a| a.to_string());
            logs::message(
                LogLevel::Error,
                &format!(
                    "cannot accept connections on {address}: {error}; retrying every {} ms",
                    ACCEPT_BACKOFF.as_millis()
                ),
            );
        }
        // NOTE: out of file descriptors (EMFILE, ENFILE) the connection stays in the backlog and
        // accept fails again at once: without this pause the loop spins a whole CPU.
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }
}

async fn connection<S, F>(
    stream: TcpStream,
    service: Arc<S>,
    mut shutdown: watch::Receiver<bool>,
    generation: Option<watch::Receiver<u64>>,
    options: ConnectionOptions,
) where
    S: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let state = Arc::new(ConnectionState::default());
    let (peer, local) = if options.addresses {
        (
            stream.peer_addr().ok().map(Peer),
            stream.local_addr().ok().map(Local),
        )
    } else {
        (None, None)
    };
    let io = TokioIo::new(WatchedStream::new(stream, Arc::clone(&state)));
    let served = Arc::clone(&state);
    let svc = service_fn(move |mut req: Request<Incoming>| {
        if let Some(peer) = peer {
            req.extensions_mut().insert(peer);
        }
        if let Some(local) = local {
            req.extensions_mut().insert(local);
        }
        let fut = CONNECTION.scope(Arc::clone(&served), service(req));
        async move { Ok::<_, Infallible>(fut.await) }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        // NOTE: a request received whole is served even when its client shut its sending side
        // down right after it (HTTP/1 half-close); a long poll sees its client leave through
        // `client_gone` instead.
        .half_close(true)
        .preserve_header_case(options.preserve_header_case)
        .timer(RequestTimer::new(Arc::clone(&state), options))
        .header_read_timeout(options.header_read)
        .serve_connection(io, svc);
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
            // NOTE: hyper would wait for a request whose head it has begun to read, for as long
            // as the client takes to send it; such a request has nothing to answer yet.
            if !state.awaiting_head() {
                let _ = conn.await;
            }
        }
        () = replaced => {}
    }
}

tokio::task_local! {
    /// The connection whose request is being served (for [`client_gone`]).
    static CONNECTION: Arc<ConnectionState>;
}

/// Resolves once the client of the request being served has ended its side of the connection:
/// a long poll (the Runtime API's `/next`) whose client left has nobody to answer. Never
/// resolves outside a served request.
pub async fn client_gone() {
    match CONNECTION.try_with(Arc::clone) {
        Ok(state) => state.read_end().await,
        Err(_) => std::future::pending().await,
    }
}

/// The client's address, in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// The listener's address the client connected to, in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local(pub SocketAddr);

/// Resolves once shutdown is requested (or its sender is gone).
async fn requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|down| *down).await;
}
