//! HTTP/1.1 wire format of the Runtime API client: one keep-alive connection, requests out,
//! responses in (Content-Length, chunked or read-to-close bodies), resumable across read timeouts.
//!
//! Buffers are kept across requests: a response body is read into the reused inbox and lent
//! out from there, and a request goes out as one `writev` of its head and the caller's body.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::TcpStream;
use std::ops::Range;
use std::time::Duration;

use super::wire::{dechunk_in_place, invalid, parse_head, BodyLength, Head};

/// How long one blocking read waits before the caller gets a chance to check signals.
// NOTE: 50 ms keeps SIGTERM/SIGINT handling well inside the 100 ms the runtime promises,
// at a cost of 20 wake-ups a second while idle.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Largest response head accepted from the Runtime API (AWS headers are well under 64 KiB).
const MAX_HEAD_BYTES: usize = 1024 * 1024;

/// Free space offered to each read while the body's length is unknown.
const READ_CHUNK: usize = 64 * 1024;

/// Most the inbox grows ahead of the data on the word of a Content-Length.
// NOTE: Lambda payloads are at most 6 MB (20 MB streamed); a larger claim is met as data arrives.
const MAX_PRESIZE: usize = 32 * 1024 * 1024;

/// Inbox capacity kept between requests; a larger one is released once its body is done with.
pub const RETAINED_BYTES: usize = 8 * 1024 * 1024;

/// A parsed HTTP response whose body is lent by the connection (see [`Connection::body`]).
pub struct Response {
    /// Status code, e.g. 200 or 202.
    pub status: u16,
    /// Header names lower-cased, values as sent.
    pub headers: Vec<(String, String)>,
    /// Where the de-chunked body sits in the connection's inbox.
    body: Range<usize>,
}

/// One keep-alive connection to the Runtime API, reconnected on demand.
pub struct Connection {
    address: String,
    stream: Option<TcpStream>,
    /// Received bytes in `inbox[..filled]`; the rest is zeroed space for the next read.
    inbox: Vec<u8>,
    filled: usize,
    /// The head of the response being read, once it has arrived.
    head: Option<Head>,
    /// True when the current request went out on a connection that had served a request before.
    reused: bool,
    /// The head of the request last written, kept so that it can be replayed on a stale connection.
    pending: Vec<u8>,
}

impl Connection {
    /// A connection to `address` (`host:port`); nothing is opened until the first request.
    pub fn new(address: String) -> Self {
        Connection {
            address,
            stream: None,
            inbox: Vec::new(),
            filled: 0,
            head: None,
            reused: false,
            pending: Vec::new(),
        }
    }

    /// The body of `response`, the last response read; valid until the next request.
    pub fn body(&self, response: &Response) -> &[u8] {
        self.inbox.get(response.body.clone()).unwrap_or_default()
    }

    /// Forget the socket and any half-read response: the next request opens a new connection.
    pub fn reset(&mut self) {
        self.stream = None;
        self.filled = 0;
        self.head = None;
        self.pending.clear();
    }

    fn connect(&mut self) -> io::Result<&mut TcpStream> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.address.as_str())?;
            // NOTE: without TCP_NODELAY a body written after its head waits for the server's
            // delayed ACK (40 ms on Linux).
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(POLL_INTERVAL))?;
            self.stream = Some(stream);
            self.reused = false;
        }
        match self.stream.as_mut() {
            Some(stream) => Ok(stream),
            None => Err(io::Error::new(ErrorKind::NotConnected, "no connection")),
        }
    }

    /// Write one request. `headers` are extra `(name, value)` pairs.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        self.write_head(method, path, headers, Some(body.len()));
        self.filled = 0;
        self.head = None;
        if self.inbox.capacity() > RETAINED_BYTES {
            self.inbox = Vec::new();
        }
        let was_open = self.stream.is_some();
        match self.write_pending(body) {
            Err(err) if was_open && is_stale(&err) => {
                // NOTE: the server may close an idle keep-alive connection; replay once.
                self.stream = None;
                self.write_pending(body)
            }
            other => {
                self.reused = was_open;
                other
            }
        }
    }

    /// Write the head of a request whose body follows in chunks (`write_chunk`, `end_chunks`).
    /// A stale keep-alive connection is replaced once; after the head nothing is replayed.
    pub fn start_chunks(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<()> {
        self.write_head(method, path, headers, None);
        self.filled = 0;
        self.head = None;
        let was_open = self.stream.is_some();
        let result = match self.write_pending(&[]) {
            Err(err) if was_open && is_stale(&err) => {
                self.stream = None;
                self.write_pending(&[])
            }
            other => other,
        };
        // NOTE: a body already partly sent cannot be replayed.
        self.reused = false;
        result
    }

    /// Write one chunk of the body begun by `start_chunks` (an empty one writes nothing).
    pub fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let size = format!("{:x}\r\n", data.len());
        // NOTE: a failed write keeps the socket: the server may have answered (413, 410)
        // before it stopped reading, and `poll_response` can still read that answer.
        self.connect()
            .and_then(|stream| write_request(stream, size.as_bytes(), data))
            .and_then(|()| self.connect()?.write_all(b"\r\n"))
    }

    /// End the chunked body with `trailers`; then read the response with `poll_response`.
    pub fn end_chunks(&mut self, trailers: &[(&str, &str)]) -> io::Result<()> {
        let mut end = b"0\r\n".to_vec();
        for (name, value) in trailers {
            for part in [*name, ": ", *value, "\r\n"] {
                end.extend_from_slice(part.as_bytes());
            }
        }
        end.extend_from_slice(b"\r\n");
        self.connect().and_then(|stream| stream.write_all(&end))
    }

    fn write_head(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        length: Option<usize>,
    ) {
        let head = &mut self.pending;
        head.clear();
        for part in [
            method,
            " ",
            path,
            " HTTP/1.1\r\nHost: ",
            &self.address,
            "\r\n",
        ] {
            head.extend_from_slice(part.as_bytes());
        }
        head.extend_from_slice(
            concat!(
                "User-Agent: lambda-rie-runtime/",
                env!("CARGO_PKG_VERSION"),
                "\r\n"
            )
            .as_bytes(),
        );
        for (name, value) in headers {
            for part in [*name, ": ", *value, "\r\n"] {
                head.extend_from_slice(part.as_bytes());
            }
        }
        match length {
            None => head.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Some(length) if method != "GET" || length > 0 => {
                head.extend_from_slice(format!("Content-Length: {length}\r\n").as_bytes());
            }
            Some(_) => {}
        }
        head.extend_from_slice(b"\r\n");
    }

    fn write_pending(&mut self, body: &[u8]) -> io::Result<()> {
        let head = std::mem::take(&mut self.pending);
        let result = self
            .connect()
            .and_then(|stream| write_request(stream, &head, body));
        self.pending = head;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    /// Read what has arrived of the response. `Ok(None)` means nothing complete yet after
    /// one poll interval: call again (after checking signals) to resume.
    pub fn poll_response(&mut self, body: &[u8]) -> io::Result<Option<Response>> {
        loop {
            if let Some(response) = self.take_response()? {
                return Ok(Some(response));
            }
            self.connect()?;
            self.make_room();
            let read = match self.stream.as_mut() {
                Some(stream) => stream.read(&mut self.inbox[self.filled..]),
                None => Err(io::Error::new(ErrorKind::NotConnected, "no connection")),
            };
            match read {
                Ok(0) => {
                    if let Some(response) = self.take_until_close() {
                        return Ok(Some(response));
                    }
                    if self.filled == 0 && self.reused {
                        // NOTE: a stale keep-alive connection closed before answering; replay once.
                        self.replay(body)?;
                        continue;
                    }
                    self.reset();
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "Runtime API closed the connection",
                    ));
                }
                Ok(count) => self.filled += count,
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None);
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => return Ok(None),
                Err(err) => {
                    if self.filled == 0 && self.reused && is_stale(&err) {
                        self.replay(body)?;
                        continue;
                    }
                    self.reset();
                    return Err(err);
                }
            }
        }
    }

    fn replay(&mut self, body: &[u8]) -> io::Result<()> {
        self.reused = false;
        self.stream = None;
        self.write_pending(body)
    }

    /// Grow the inbox so that the next read has room: the whole announced body when the head
    /// says how long it is, else a chunk. New space is zeroed once and then reused.
    fn make_room(&mut self) {
        let announced = match &self.head {
            Some(Head {
                length,
                body: BodyLength::Fixed(len),
                ..
            }) => length.saturating_add(*len),
            _ => 0,
        };
        let wanted = (self.filled + READ_CHUNK).max(announced.min(self.filled + MAX_PRESIZE));
        if self.inbox.len() < wanted {
            self.inbox.resize(wanted, 0);
        }
    }

    /// A complete response from the inbox, if there is one.
    fn take_response(&mut self) -> io::Result<Option<Response>> {
        if self.head.is_none() {
            self.head = parse_head(&self.inbox[..self.filled])?;
            if self.head.is_none() {
                if self.filled > MAX_HEAD_BYTES {
                    self.reset();
                    return Err(invalid("response head too large"));
                }
                return Ok(None);
            }
        }
        let Some(head) = self.head.as_ref() else {
            return Ok(None);
        };
        let start = head.length;
        let body = match head.body {
            BodyLength::Fixed(len) if self.filled - start >= len => start..start + len,
            BodyLength::Chunked => match dechunk_in_place(&mut self.inbox[start..self.filled])? {
                Some(len) => start..start + len,
                None => return Ok(None),
            },
            BodyLength::Fixed(_) | BodyLength::UntilClose => return Ok(None),
        };
        Ok(self.head.take().map(|head| self.finish(head, body)))
    }

    /// The response of a server that ends its body by closing the connection.
    fn take_until_close(&mut self) -> Option<Response> {
        if !matches!(self.head.as_ref()?.body, BodyLength::UntilClose) {
            return None;
        }
        let head = self.head.take()?;
        let body = head.length..self.filled;
        self.stream = None;
        Some(self.finish(head, body))
    }

    fn finish(&mut self, head: Head, body: Range<usize>) -> Response {
        self.pending.clear();
        if head.close {
            self.stream = None;
        }
        Response {
            status: head.status,
            headers: head.headers,
            body,
        }
    }
}

/// Write a request's head and body with as few system calls as the socket allows.
fn write_request(stream: &mut TcpStream, mut head: &[u8], mut body: &[u8]) -> io::Result<()> {
    while !head.is_empty() {
        let written = match stream.write_vectored(&[IoSlice::new(head), IoSlice::new(body)]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(written) => written,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if written < head.len() {
            head = &head[written..];
        } else {
            body = &body[written - head.len()..];
            head = &[];
        }
    }
    stream.write_all(body)
}

fn is_stale(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::BrokenPipe
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::UnexpectedEof
    )
}
