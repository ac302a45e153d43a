//! Parsing of Runtime API responses: the status line and headers, and chunked bodies
//! (de-chunked where they lie).

use std::io::{self, ErrorKind};
use std::ops::Range;

/// What the head of a response says about its body.
pub enum BodyLength {
    /// `Content-Length` bytes (or none, for statuses that have no body).
    Fixed(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// The response head parsed out of the buffer.
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Header names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// Length of the head, blank line included: the body starts here.
    pub length: usize,
    /// How the body is delimited.
    pub body: BodyLength,
    /// True when the server closes the connection after this response.
    pub close: bool,
}

/// An `InvalidData` error about what the Runtime API sent.
pub fn invalid(message: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("Runtime API: {message}"))
}

/// Parse the status line and headers, if the whole head has arrived.
pub fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
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

/// Once a chunked body has fully arrived in `buf`, move its data to the front of `buf` and
/// return its length; `None` (and `buf` untouched) while it is incomplete. Trailers are skipped.
pub fn dechunk_in_place(buf: &mut [u8]) -> io::Result<Option<usize>> {
    let Some(chunks) = chunk_ranges(buf)? else {
        return Ok(None);
    };
    let mut length = 0;
    for chunk in chunks {
        let size = chunk.len();
        // Data only ever moves towards the front, over framing already read.
        buf.copy_within(chunk, length);
        length += size;
    }
    Ok(Some(length))
}

/// Where each chunk's data lies in `buf`, if the whole chunked body is there.
fn chunk_ranges(buf: &[u8]) -> io::Result<Option<Vec<Range<usize>>>> {
    let mut chunks = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &buf[pos..];
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&rest[..eol]).map_err(|_| invalid("bad chunk"))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        pos += eol + 2;
        let rest = &buf[pos..];
        if size == 0 {
            // Trailers, if any, end with an empty line.
            let complete = rest.starts_with(b"\r\n") || rest.windows(4).any(|w| w == b"\r\n\r\n");
            return Ok(complete.then_some(chunks));
        }
        if rest.len() < size.saturating_add(2) {
            return Ok(None);
        }
        chunks.push(pos..pos + size);
        pos += size + 2;
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
        assert_eq!(head.length, 44);
        assert!(matches!(head.body, BodyLength::Fixed(2)));
    }

    #[test]
    fn dechunks_body_in_place() {
        let mut complete = *b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(dechunk_in_place(&mut complete).unwrap(), Some(5));
        assert_eq!(&complete[..5], b"abcde");
        let mut partial = *b"3\r\nab";
        assert_eq!(dechunk_in_place(&mut partial).unwrap(), None);
        assert_eq!(&partial, b"3\r\nab");
    }
}
