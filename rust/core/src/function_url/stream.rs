//! `RESPONSE_STREAM` function URLs (docs/reference.md §14): the function's chunks go to the
//! HTTP client as they come (chunked transfer), after the status, headers and cookies of the
//! streaming prelude when the function writes one.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use tokio::sync::mpsc;

use super::response::{shaped, UrlResponse};
use super::{apply_head, internal_error, service_error};
use crate::aws::ServiceError;
use crate::config::LogLevel;
use crate::http::{self, Response};
use crate::invocation::{Invocation, Outcome, OutcomeKind};
use crate::logs;
use crate::scheduler::Scheduler;

/// The content type of a stream that starts with a prelude (what Node.js's
/// `awslambda.HttpResponseStream.from` declares).
const HTTP_INTEGRATION_RESPONSE: &str = "application/vnd.awslambda.http-integration-response";
/// The separator between the prelude's JSON and the body: 8 NUL bytes.
const PRELUDE_END: [u8; 8] = [0; 8];
/// The most a prelude may take before its separator.
// NOTE: API Gateway documents 16 KB for the same prelude of its streaming integrations.
const PRELUDE_LIMIT: usize = 16 * 1024;
/// The content type of a streamed body when neither the stream nor its prelude names one.
const OCTET_STREAM: &str = "application/octet-stream";
/// Chunks held between the environment and the HTTP client.
// NOTE: small queues pass a slow client's back-pressure on to the runtime.
const QUEUED: usize = 4;

/// What the invocation produces, in order: its chunks, then how it ended.
enum Piece {
    Chunk(Bytes),
    End(Result<Outcome, ServiceError>),
}

/// Run `inv` on `scheduler` and answer with its stream.
pub(super) async fn answer(scheduler: Arc<Scheduler>, inv: Invocation, function: &str) -> Response {
    let declared = Arc::new(OnceLock::new());
    let mut pieces = relay(scheduler, inv, Arc::clone(&declared));
    let first = match pieces.recv().await {
        Some(Piece::Chunk(chunk)) => chunk,
        Some(Piece::End(ended)) => return whole(ended, function),
        None => return internal_error(),
    };
    let content_type = declared.get().map_or(OCTET_STREAM, String::as_str);
    let (head, rest) = if content_type == HTTP_INTEGRATION_RESPONSE {
        match read_prelude(first, &mut pieces).await {
            Ok(parts) => parts,
            Err(why) => {
                warn(function, &why);
                return internal_error();
            }
        }
    } else {
        (plain_head(content_type), first)
    };
    let (mut response, sink) = http::streaming_response(QUEUED);
    apply_head(&mut response, head.status, head.headers, head.cookies);
    tokio::spawn(forward(rest, pieces, sink, function.to_owned()));
    response
}

/// Start the invocation on its own task, its chunks and then its end sent through the
/// returned receiver.
fn relay(
    scheduler: Arc<Scheduler>,
    mut inv: Invocation,
    declared: Arc<OnceLock<String>>,
) -> mpsc::Receiver<Piece> {
    let (chunk_tx, mut chunks) = mpsc::channel(QUEUED);
    inv.stream_to = Some(chunk_tx);
    inv.stream_content_type = Some(declared);
    let (tx, rx) = mpsc::channel(QUEUED);
    // NOTE: the invocation runs to its end whether or not anyone reads it (a client that hangs
    // up mid-stream): sends to a gone receiver fail at once and the chunks are still drained,
    // so the environment is released when the function is done.
    tokio::spawn(async move {
        let mut run = tokio::spawn(async move { scheduler.invoke(inv).await });
        let joined = loop {
            tokio::select! {
                biased;
                Some(chunk) = chunks.recv() => {
                    let _ = tx.send(Piece::Chunk(chunk)).await;
                }
                joined = &mut run => break joined,
            }
        };
        while let Ok(chunk) = chunks.try_recv() {
            let _ = tx.send(Piece::Chunk(chunk)).await;
        }
        let ended =
            joined.unwrap_or_else(|e| Err(ServiceError::service(&format!("invocation: {e}"))));
        let _ = tx.send(Piece::End(ended)).await;
    });
    rx
}

/// The answer of an invocation that ended before it streamed anything: its whole body (a
/// function that answered without streaming), as it is.
fn whole(ended: Result<Outcome, ServiceError>, function: &str) -> Response {
    let outcome = match ended {
        Ok(outcome) => outcome,
        Err(e) => return service_error(&e),
    };
    if outcome.kind != OutcomeKind::Success {
        return internal_error();
    }
    let (head, body) = if outcome.content_type == HTTP_INTEGRATION_RESPONSE {
        match split_prelude(&outcome.payload) {
            Some(Ok(parts)) => parts,
            Some(Err(why)) => {
                warn(function, &why);
                return internal_error();
            }
            None => {
                warn(function, "the response has no prelude separator");
                return internal_error();
            }
        }
    } else {
        (plain_head(&outcome.content_type), outcome.payload)
    };
    let mut r = http::response(head.status, body);
    apply_head(&mut r, head.status, head.headers, head.cookies);
    r
}

/// Read chunks until the prelude's separator: the head it says, and the body's first bytes.
async fn read_prelude(
    first: Bytes,
    pieces: &mut mpsc::Receiver<Piece>,
) -> Result<(UrlResponse, Bytes), String> {
    let mut buffered = BytesMut::from(&first[..]);
    loop {
        if let Some(parts) = split_prelude(&buffered) {
            return parts;
        }
        if buffered.len() > PRELUDE_LIMIT {
            return Err(format!(
                "no prelude separator in the stream's first {PRELUDE_LIMIT} bytes"
            ));
        }
        match pieces.recv().await {
            Some(Piece::Chunk(chunk)) => buffered.extend_from_slice(&chunk),
            Some(Piece::End(Ok(outcome))) if outcome.kind == OutcomeKind::Success => {
                return Err("the stream ended before its prelude's separator".to_owned())
            }
            Some(Piece::End(_)) | None => return Err("the function failed".to_owned()),
        }
    }
}

/// The prelude before the first separator in `bytes` and the bytes after it (`None`: no
/// separator yet).
fn split_prelude(bytes: &[u8]) -> Option<Result<(UrlResponse, Bytes), String>> {
    let at = bytes
        .windows(PRELUDE_END.len())
        .position(|w| w == PRELUDE_END)?;
    let rest = Bytes::copy_from_slice(&bytes[at + PRELUDE_END.len()..]);
    Some(prelude_head(&bytes[..at]).map(|head| (head, rest)))
}

/// A prelude's `statusCode` (200 when absent), `headers`, `multiValueHeaders` and `cookies`.
fn prelude_head(json: &[u8]) -> Result<UrlResponse, String> {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(json) else {
        return Err("the prelude is not a JSON object".to_owned());
    };
    let typed = ["headers", "multiValueHeaders"].iter().any(|key| {
        fields
            .get(*key)
            .and_then(Value::as_object)
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")))
    });
    fields.entry("statusCode").or_insert(Value::from(200));
    fields.remove("body");
    let mut head = shaped(&fields, true).map_err(|e| format!("prelude: {e}"))?;
    if !typed {
        // NOTE: `shaped` names JSON for a buffered result; a stream's body is bytes.
        head.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        head.headers
            .push(("content-type".to_owned(), OCTET_STREAM.to_owned()));
    }
    Ok(head)
}

/// A 200 whose body has the stream's own content type.
fn plain_head(content_type: &str) -> UrlResponse {
    UrlResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), content_type.to_owned())],
        cookies: Vec::new(),
        body: Bytes::new(),
    }
}

/// Send the body on: `first`, then each chunk as it comes, until the invocation ends.
async fn forward(
    first: Bytes,
    mut pieces: mpsc::Receiver<Piece>,
    sink: mpsc::Sender<Bytes>,
    function: String,
) {
    if !first.is_empty() && sink.send(first).await.is_err() {
        return;
    }
    while let Some(piece) = pieces.recv().await {
        match piece {
            Piece::Chunk(chunk) => {
                // NOTE: a client that hung up reads no more; the relay drains the rest.
                if sink.send(chunk).await.is_err() {
                    return;
                }
            }
            Piece::End(Ok(outcome)) if outcome.kind == OutcomeKind::Success => return,
            Piece::End(_) => {
                warn(&function, "the function failed after its stream began");
                return;
            }
        }
    }
}

fn warn(function: &str, why: &str) {
    logs::message(
        LogLevel::Warn,
        &format!("URL of {function}: the streamed response is cut short or refused: {why}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prelude_says_status_headers_and_cookies() {
        let stream = b"{\"statusCode\":201,\"headers\":{\"X-A\":\"1\"},\"cookies\":[\"c=1\"]}\0\0\0\0\0\0\0\0body";
        let (head, rest) = split_prelude(stream).unwrap().unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(
            head.headers,
            vec![
                ("X-A".to_owned(), "1".to_owned()),
                ("content-type".to_owned(), OCTET_STREAM.to_owned())
            ]
        );
        assert_eq!(head.cookies, vec!["c=1".to_owned()]);
        assert_eq!(&rest[..], b"body");
    }

    #[test]
    fn a_prelude_defaults_to_200_and_keeps_its_content_type() {
        let (head, rest) =
            split_prelude(b"{\"headers\":{\"Content-Type\":\"text/plain\"}}\0\0\0\0\0\0\0\0")
                .unwrap()
                .unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(
            head.headers,
            vec![("Content-Type".to_owned(), "text/plain".to_owned())]
        );
        assert!(rest.is_empty());
    }

    #[test]
    fn bad_preludes_are_refused() {
        assert!(split_prelude(b"{\"statusCode\":1}").is_none());
        assert!(split_prelude(b"[1]\0\0\0\0\0\0\0\0").unwrap().is_err());
        assert!(split_prelude(b"{\"statusCode\":99}\0\0\0\0\0\0\0\0")
            .unwrap()
            .is_err());
    }
}
