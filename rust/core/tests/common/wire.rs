//! A minimal blocking HTTP/1.1 client for the property tests: raw requests on fresh
//! connections, and a strict reading of the answers (status line, headers, exact body length).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A liveness bound: every answer here takes milliseconds.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(30);

/// One HTTP answer as read off the socket.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Lowercase names and trimmed values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse the head of an HTTP/1.1 response at the front of `raw`: its status line and headers
/// (with a `Content-Length` and no chunking); returns it, the length it states and where the
/// body starts.
pub fn parse_head(raw: &[u8]) -> Result<(Answer, usize, usize), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of head in {:?}", String::from_utf8_lossy(raw)))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let answer = Answer {
        status,
        headers,
        body: Vec::new(),
    };
    if answer.header("transfer-encoding").is_some() {
        return Err(format!(
            "a chunked answer where a whole one was due: {answer:?}"
        ));
    }
    let length = answer
        .header("content-length")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no Content-Length: {answer:?}"))?;
    Ok((answer, length, split + 4))
}

/// Parse one whole response off the front of `raw`; returns it and the bytes after it.
pub fn parse_one(raw: &[u8]) -> Result<(Answer, &[u8]), String> {
    let (mut answer, length, start) = parse_head(raw)?;
    let rest = &raw[start..];
    if rest.len() < length {
        return Err(format!(
            "body of {} bytes, Content-Length {length}",
            rest.len()
        ));
    }
    answer.body = rest[..length].to_vec();
    Ok((answer, &rest[length..]))
}

/// Parse the one whole answer to a request on a connection the server then closed (a HEAD
/// answer states its body's length and sends none).
pub fn parse(raw: &[u8], head_request: bool) -> Result<Answer, String> {
    let (answer, rest) = if head_request {
        let (answer, _, start) = parse_head(raw)?;
        (answer, &raw[start..])
    } else {
        parse_one(raw)?
    };
    if !rest.is_empty() {
        return Err(format!("{} bytes after the answer", rest.len()));
    }
    Ok(answer)
}

/// Send `request` on a fresh connection and read the whole answer (bounded in time).
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Result<Answer, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(ANSWER_DEADLINE))
        .map_err(|e| e.to_string())?;
    s.write_all(request).map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("no whole answer within {ANSWER_DEADLINE:?}: {e}"))?;
    parse(&raw, request.starts_with(b"HEAD "))
}

/// A request with `Content-Length` and `Connection: close`.
pub fn raw(method: &str, target: &str, headers: &[(String, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    let tail = format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    out.extend_from_slice(tail.as_bytes());
    out.extend_from_slice(body);
    out
}
