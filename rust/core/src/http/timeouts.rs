//! What a connection's timeouts watch: whether hyper is waiting for a request's head, whether
//! any byte of it has come, and the timer that turns this into an idle timeout (before the
//! first byte) and a header-read timeout (from the first byte to the end of the headers).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use hyper_util::rt::TokioTimer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How a connection is served: how long it may take over a request's headers and stay idle
/// between requests, and what its requests carry for their handlers.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionOptions {
    /// From the first byte of a request to the end of its headers.
    pub header_read: Duration,
    /// From the end of a response to the first byte of the next request; `None` never ends.
    pub idle: Option<Duration>,
    /// hyper keeps each header name's spelling (in the request's extensions), for API
    /// Gateway's payload 1.0 events (docs/reference.md §15); off where nothing reads them.
    pub preserve_header_case: bool,
    /// Each request carries its client's and its listener's addresses ([`super::Peer`],
    /// [`super::Local`]) in its extensions, for the Invoke API's front-end headers and code
    /// locations; off on the Runtime API, which reads neither.
    pub addresses: bool,
}

/// Shared by a connection's stream and its timer.
#[derive(Debug, Default)]
pub(super) struct ConnectionState {
    /// Reads that brought bytes.
    reads: AtomicU64,
    /// When the latest read brought bytes; `None` before the first and after one that found none.
    latest_bytes: Mutex<Option<tokio::time::Instant>>,
    /// Request heads hyper is waiting for (one at most; a replaced wait overlaps its successor).
    awaiting_head: AtomicUsize,
    /// A read found the end of the client's stream: it sends nothing more (closed, or shut
    /// down its sending side).
    read_ended: AtomicBool,
    /// Woken when `read_ended` is set.
    ended: tokio::sync::Notify,
}

impl ConnectionState {
    /// Whether hyper is waiting for (the rest of) a request's head: nothing to answer yet.
    pub(super) fn awaiting_head(&self) -> bool {
        self.awaiting_head.load(Ordering::Relaxed) > 0
    }

    fn latest_bytes(&self) -> MutexGuard<'_, Option<tokio::time::Instant>> {
        self.latest_bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves once the client's stream has ended.
    pub(super) async fn read_end(&self) {
        loop {
            let woken = self.ended.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.read_ended.load(Ordering::Acquire) {
                return;
            }
            woken.await;
        }
    }
}

/// A TCP stream that counts the reads that brought bytes and notes when the latest did.
pub(super) struct WatchedStream {
    inner: TcpStream,
    state: Arc<ConnectionState>,
}

impl WatchedStream {
    /// Watch `inner` for `state`.
    pub(super) fn new(inner: TcpStream, state: Arc<ConnectionState>) -> Self {
        Self { inner, state }
    }
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let brought = buf.filled().len() > before;
        if room {
            *this.state.latest_bytes() = brought.then(tokio::time::Instant::now);
        }
        if brought {
            this.state.reads.fetch_add(1, Ordering::Relaxed);
        } else if room && matches!(polled, Poll::Ready(Ok(()))) {
            this.state.read_ended.store(true, Ordering::Release);
            this.state.ended.notify_waiters();
        }
        polled
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

// NOTE: hyper's header-read timeout runs from the moment it waits for a request: on a kept-alive
// connection it is also an idle timeout (hyper 1.x, the Go server's ReadHeaderTimeout without
// IdleTimeout). A runtime's connection idles for as long as its handler runs, and a client's
// between invokes, so this timer splits the wait as Envoy does: idle until the first byte
// arrives, then the header-read timeout.
/// hyper's timer for one connection; its header-read sleeps are [`HeadWait`]s.
#[derive(Clone)]
pub(super) struct RequestTimer {
    state: Arc<ConnectionState>,
    options: ConnectionOptions,
}

impl RequestTimer {
    /// The timer of the connection watched through `state`.
    pub(super) fn new(state: Arc<ConnectionState>, options: ConnectionOptions) -> Self {
        Self { state, options }
    }
}

impl Timer for RequestTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        TokioTimer::new().sleep(duration)
    }

    // hyper asks for this sleep only when it starts waiting for a request head.
    fn sleep_until(&self, _deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadWait::new(Arc::clone(&self.state), self.options))
    }
}

/// The wait for one request head: idle timeout until its first byte, header-read after.
struct HeadWait {
    state: Arc<ConnectionState>,
    options: ConnectionOptions,
    reads_at_start: u64,
    head_started: bool,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl HeadWait {
    // NOTE: hyper reads again only once it has used up what it read (but for the rest of a
    // head), and reads at once when a request ends with nothing left over; so if the latest read
    // brought bytes, hyper still holds some: the start of this head, sent with the previous
    // request (pipelined), which no read to come would reveal.
    fn new(state: Arc<ConnectionState>, options: ConnectionOptions) -> Self {
        state.awaiting_head.fetch_add(1, Ordering::Relaxed);
        let reads_at_start = state.reads.load(Ordering::Relaxed);
        let first_byte = *state.latest_bytes();
        let deadline = match first_byte {
            Some(at) => Some(Box::pin(tokio::time::sleep_until(at + options.header_read))),
            None => options.idle.map(|idle| Box::pin(tokio::time::sleep(idle))),
        };
        Self {
            state,
            options,
            reads_at_start,
            head_started: first_byte.is_some(),
            deadline,
        }
    }
}

impl Drop for HeadWait {
    fn drop(&mut self) {
        self.state.awaiting_head.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Future for HeadWait {
    type Output = ();

    // NOTE: hyper polls this only after a read of the stream returned Pending, so the stream
    // wakes the connection when bytes come; without an idle timeout there is nothing to arm.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if !this.head_started && this.state.reads.load(Ordering::Relaxed) != this.reads_at_start {
            this.head_started = true;
            let limit = this.options.header_read;
            this.deadline = Some(Box::pin(tokio::time::sleep(limit)));
        }
        match this.deadline.as_mut() {
            Some(deadline) => deadline.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

impl Sleep for HeadWait {}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use http_body_util::BodyExt;
    use hyper::body::Incoming;
    use hyper::Request;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::watch;

    use super::*;

    /// Short enough to wait out (real time: the server reads a real socket).
    const HEADER_READ: Duration = Duration::from_millis(200);
    const HEAD: &[u8] = b"POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\n";
    const REST: &[u8] = b"Content-Length: 8\r\n\r\n{\"n\":42}";

    /// The Runtime API's connections (no idle timeout) through the accept loop, echoing bodies;
    /// the server stops when the returned sender is dropped.
    async fn echo_server() -> (SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, shutdown) = watch::channel(false);
        let echo = Arc::new(|request: Request<Incoming>| async move {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            crate::http::response(200, body)
        });
        let options = ConnectionOptions {
            header_read: HEADER_READ,
            idle: None,
            preserve_header_case: false,
            addresses: false,
        };
        tokio::spawn(super::super::serve_with(
            listener, echo, shutdown, None, options,
        ));
        (address, stop)
    }

    /// Reads until the echoed body ends what came.
    async fn read_answer(client: &mut TcpStream) -> Vec<u8> {
        let mut answer = Vec::new();
        while !answer.ends_with(b"{\"n\":42}") {
            let mut chunk = [0; 1024];
            let n = client.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&chunk[..n]);
        }
        answer
    }

    #[tokio::test]
    async fn a_head_begun_with_the_previous_request_must_end_in_time() {
        let (address, _stop) = echo_server().await;
        // The half head comes after a body, or right after a head (a request without a body).
        for previous in [
            [HEAD, REST].concat(),
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ] {
            let mut client = TcpStream::connect(address).await.unwrap();
            client.write_all(&[&previous, HEAD].concat()).await.unwrap();
            let mut answers = Vec::new();
            let closed =
                tokio::time::timeout(Duration::from_secs(30), client.read_to_end(&mut answers))
                    .await;
            assert!(closed.is_ok(), "still open with half a head");
            assert!(answers.starts_with(b"HTTP/1.1 200"), "{answers:?}");
        }
    }

    #[tokio::test]
    async fn an_idle_connection_outlives_the_header_read_timeout() {
        let (address, _stop) = echo_server().await;
        let mut client = TcpStream::connect(address).await.unwrap();
        // One read brings the whole request: nothing is left over for the next head.
        client.write_all(&[HEAD, REST].concat()).await.unwrap();
        assert!(read_answer(&mut client).await.starts_with(b"HTTP/1.1 200"));
        tokio::time::sleep(HEADER_READ * 5).await;
        client.write_all(&[HEAD, REST].concat()).await.unwrap();
        assert!(read_answer(&mut client).await.starts_with(b"HTTP/1.1 200"));
    }
}
