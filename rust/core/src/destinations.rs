//! Async invocation records (AWS's destination format) and their delivery to `file:`, `http://`
//! and `function:` targets; AWS services named by ARN are in [`service`].

pub mod service;

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::aws::json_escape;
use crate::invocation::Outcome;

/// Why a record is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The function succeeded.
    Success,
    /// Every attempt failed.
    RetriesExhausted,
    /// The event grew older than the maximum event age.
    EventAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::RetriesExhausted => "RetriesExhausted",
            Self::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// JSON bytes as they are when valid, else as a JSON string.
fn json_or_string(bytes: &[u8]) -> String {
    if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        format!("\"{}\"", json_escape(&String::from_utf8_lossy(bytes)))
    }
}

/// The invocation record AWS sends to destinations, of an event run by `version` (`$LATEST` or
/// a number) of the function `function_arn` (unqualified): `functionArn` is qualified by that
/// version, and it is the `executedVersion`.
pub fn record(
    function_arn: &str,
    version: &str,
    request_id: &str,
    condition: Condition,
    attempts: u32,
    request_payload: &[u8],
    last: Option<&Outcome>,
) -> Bytes {
    let mut s = format!(
        "{{\"version\":\"1.0\",\"timestamp\":\"{}\",\"requestContext\":{{\"requestId\":\"{}\",\"functionArn\":\"{}:{}\",\"condition\":\"{}\",\"approximateInvokeCount\":{attempts}}},\"requestPayload\":{}",
        crate::clock::iso8601(crate::clock::epoch_ms()),
        json_escape(request_id),
        json_escape(function_arn),
        json_escape(version),
        condition.as_str(),
        json_or_string(request_payload),
    );
    if let Some(o) = last {
        let _ = write!(
            s,
            ",\"responseContext\":{{\"statusCode\":200,\"executedVersion\":\"{}\"",
            json_escape(version)
        );
        if let Some(e) = o.function_error() {
            let _ = write!(s, ",\"functionError\":\"{e}\"");
        }
        let _ = write!(s, "}},\"responsePayload\":{}", json_or_string(&o.payload));
    }
    s.push('}');
    Bytes::from(s)
}

/// Serialises appends from every task, so that JSON lines never interleave.
static FILE_LOCK: Mutex<()> = Mutex::new(());

/// Append one JSON line to `path`.
pub async fn append_line(path: std::path::PathBuf, line: Bytes) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || {
        let _guard = FILE_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let mut buf = line.to_vec();
        buf.push(b'\n');
        f.write_all(&buf)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// POST `body` as JSON to an `http://host[:port]/path` URL; the status code.
pub async fn post(url: &str, body: &[u8]) -> std::io::Result<u16> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| std::io::Error::other("not an http:// URL"))?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let target = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&target).await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        let status = std::str::from_utf8(answer.get(9..12).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no HTTP status in the answer"))?;
        Ok::<u16, std::io::Error>(status)
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| std::io::Error::other("timed out"))?
}
