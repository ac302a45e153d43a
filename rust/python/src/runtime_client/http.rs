//! HTTP/1.1 wire format of the Runtime API client: one keep-alive connection, requests out,
//! responses in (Content-Length, chunked or read-to-close bodies), resumable across read timeouts.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long one blocking read waits before the caller gets a chance to check signals.
// NOTE: 50 ms keeps SIGTERM/SIGINT handling well inside the 100 ms the runtime promises,
// at a cost of 20 wake-ups a second while idle.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Largest response head accepted from the Runtime API (AWS headers are well under 64 KiB).
const MAX_HEAD_BYTES: usize = 1024 * 1024;

/// A parsed HTTP response.
pub struct Response {
    /// Status code, e.g. 200 or 202.
    pub status: u16,
    /// Header names lower-cased, values as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// What the head of a response says about its body.
enum BodyLength {
    Fixed(usize),
    Chunked,
    UntilClose,
}

/// The response head parsed out of the buffer.
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    length: usize,
    body: BodyLength,
    close: bool,
}

/// One keep-alive connection to the Runtime API, reconnected on demand.
pub struct Connection {
    address: String,
    stream: Option<TcpStream>,
    inbox: Vec<u8>,
    /// True when the current request went out on a connection that had served a request before.
    reused: bool,
    /// The request last written, kept so that it can be replayed once on a stale connection.
    pending: Vec<u8>,
}

impl Connection {
    /// A connection to `address` (`host:port`); nothing is opened until the first request.
    pub fn new(address: String) -> Self {
        Connection {
            address,
            stream: None,
            inbox: Vec::new(),
            reused: false,
            pending: Vec::new(),
        }
    }

    /// Forget the socket and any half-read response: the next request opens a new connection.
    pub fn reset(&mut self) {
        self.stream = None;
        self.inbox.clear();
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
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        head.push_str(concat!(
            "User-Agent: lambda-rie-runtime/",
            env!("CARGO_PKG_VERSION"),
            "\r\n"
        ));
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        if method != "GET" || !body.is_empty() {
            head.push_str("Content-Length: ");
            head.push_str(&body.len().to_string());
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        self.pending.clear();
        self.pending.extend_from_slice(head.as_bytes());
        self.inbox.clear();
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

    fn write_pending(&mut self, body: &[u8]) -> io::Result<()> {
        let head = std::mem::take(&mut self.pending);
        let result = (|| {
            let stream = self.connect()?;
            // NOTE: small bodies go out in the same segment as the head; large ones are not
            // copied just to save one syscall.
            if body.len() <= 16 * 1024 {
                let mut whole = Vec::with_capacity(head.len() + body.len());
                whole.extend_from_slice(&head);
                whole.extend_from_slice(body);
                stream.write_all(&whole)
            } else {
                stream.write_all(&head)?;
                stream.write_all(body)
            }
        })();
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
            let filled = self.inbox.len();
            // NOTE: read straight into the inbox; 64 KiB at a time keeps 1 MB events to a few reads.
            self.inbox.resize(filled + 64 * 1024, 0);
            let read = match self.stream.as_mut() {
                Some(stream) => stream.read(&mut self.inbox[filled..]),
                None => Err(io::Error::new(ErrorKind::NotConnected, "no connection")),
            };
            self.inbox.truncate(filled + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => {
                    if let Some(response) = self.take_until_close()? {
                        return Ok(Some(response));
                    }
                    if self.inbox.is_empty() && self.reused {
                        // NOTE: a stale keep-alive connection closed before answering; replay once.
                        self.reused = false;
                        self.stream = None;
                        self.write_pending(body)?;
                        continue;
                    }
                    self.reset();
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "Runtime API closed the connection",
                    ));
                }
                Ok(_) => {}
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None);
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => return Ok(None),
                Err(err) => {
                    if self.inbox.is_empty() && self.reused && is_stale(&err) {
                        self.reused = false;
                        self.stream = None;
                        self.write_pending(body)?;
                        continue;
                    }
                    self.reset();
                    return Err(err);
                }
            }
        }
    }

    /// A complete response from the inbox, if there is one.
    fn take_response(&mut self) -> io::Result<Option<Response>> {
        let Some(head) = parse_head(&self.inbox)? else {
            if self.inbox.len() > MAX_HEAD_BYTES {
                self.reset();
                return Err(invalid("response head too large"));
            }
            return Ok(None);
        };
        let rest = &self.inbox[head.length..];
        let body = match head.body {
            BodyLength::Fixed(len) if rest.len() >= len => rest[..len].to_vec(),
            BodyLength::Chunked => match dechunk(rest)? {
                Some(body) => body,
                None => return Ok(None),
            },
            BodyLength::Fixed(_) | BodyLength::UntilClose => return Ok(None),
        };
        self.finish(&head);
        Ok(Some(Response {
            status: head.status,
            headers: head.headers,
            body,
        }))
    }

    /// The response of a server that ends its body by closing the connection.
    fn take_until_close(&mut self) -> io::Result<Option<Response>> {
        let Some(head) = parse_head(&self.inbox)? else {
            return Ok(None);
        };
        if !matches!(head.body, BodyLength::UntilClose) {
            return Ok(None);
        }
        let body = self.inbox[head.length..].to_vec();
        self.reset();
        Ok(Some(Response {
            status: head.status,
            headers: head.headers,
            body,
        }))
    }

    fn finish(&mut self, head: &Head) {
        self.inbox.clear();
        self.pending.clear();
        if head.close {
            self.stream = None;
        }
    }
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

fn invalid(message: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("Runtime API: {message}"))
}

/// Parse the status line and headers, if the whole head has arrived.
fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| invalid("head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(invalid("not an HTTP/1 response"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut headers = Vec::new();
    let mut body = if status == 204 || status == 304 || (100..200).contains(&status) {
        BodyLength::Fixed(0)
    } else {
        BodyLength::UntilClose
    };
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        match name.as_str() {
            "content-length" if !matches!(body, BodyLength::Chunked) => {
                let len = value.parse().map_err(|_| invalid("bad Content-Length"))?;
                body = BodyLength::Fixed(len);
            }
            "transfer-encoding" if value.to_ascii_lowercase().contains("chunked") => {
                body = BodyLength::Chunked;
            }
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
        headers.push((name, value));
    }
    if matches!(body, BodyLength::UntilClose) {
        close = true;
    }
    Ok(Some(Head {
        status,
        headers,
        length: end + 4,
        body,
        close,
    }))
}

/// Decode a chunked body, if it has fully arrived (trailers are skipped).
fn dechunk(mut rest: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&rest[..eol]).map_err(|_| invalid("bad chunk"))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            // Trailers, if any, end with an empty line.
            let complete = rest.starts_with(b"\r\n") || rest.windows(4).any(|w| w == b"\r\n\r\n");
            return Ok(complete.then_some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_head() {
        let head = parse_head(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok").unwrap();
        let head = head.unwrap();
        assert_eq!(head.status, 202);
        assert!(matches!(head.body, BodyLength::Fixed(2)));
    }

    #[test]
    fn dechunks_body() {
        let body = dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(body.as_deref(), Some(&b"abcde"[..]));
        assert_eq!(dechunk(b"3\r\nab").unwrap(), None);
    }
}
