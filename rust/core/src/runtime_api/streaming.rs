//! A streamed `/response` (`Lambda-Runtime-Function-Response-Mode: streaming`): the chunked
//! body is passed on part by part as it arrives, its error trailers end it, and it is cut at
//! 200 MB (docs/reference.md §3).

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::{HeaderMap, Request};
use tokio::sync::mpsc;

use super::routes::{refused, AnswerKind};
use super::state::RuntimeApiState;
use crate::aws::runtime as answers;
use crate::config::MAX_STREAMED_RESPONSE_BYTES;
use crate::http::{json, Response};
use crate::invocation::{ResponseStream, RuntimeReply, StreamPart};

/// Parts held between the runtime's connection and the environment.
// NOTE: a few parts of up to hyper's read size (~400 KB) each: enough to keep the runtime
// writing while the environment forwards, small enough to pass back-pressure on.
const QUEUED_PARTS: usize = 4;

const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// Hand the stream to the waiting invocation, then pass its body on until it ends; 202 once
/// the runtime has ended it.
pub async fn receive(
    state: &RuntimeApiState,
    id: &str,
    content_type: Option<String>,
    req: Request<Incoming>,
) -> Response {
    let (tx, parts) = mpsc::channel(QUEUED_PARTS);
    let stream = ResponseStream {
        content_type,
        parts,
    };
    if let Err(refusal) = state.answer(id, RuntimeReply::Stream(stream)) {
        return refused(refusal, AnswerKind::Response);
    }
    let mut body = req.into_body();
    let mut total = 0usize;
    let mut end = StreamPart::End;
    while let Some(frame) = body.frame().await {
        // NOTE: a broken body drops `tx` without an end: the invocation fails as truncated
        // (docs/reference.md §3), unless the runtime exits at once.
        let Ok(frame) = frame else {
            return json(400, answers::TRUNCATED_BODY);
        };
        match frame.into_data() {
            Ok(data) => {
                total += data.len();
                if total > MAX_STREAMED_RESPONSE_BYTES {
                    let _ = tx.send(StreamPart::TooLarge).await;
                    return json(
                        413,
                        answers::response_too_large(MAX_STREAMED_RESPONSE_BYTES),
                    );
                }
                if tx.send(StreamPart::Chunk(data)).await.is_err() {
                    return ended_early(state, id);
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    end = from_trailers(&trailers);
                }
            }
        }
    }
    if tx.send(end).await.is_err() {
        return ended_early(state, id);
    }
    json(202, answers::ACCEPTED)
}

/// The invocation stopped reading before the body ended: it timed out (410), or its buffered
/// caller refused a body over 6 MB (413).
fn ended_early(state: &RuntimeApiState, id: &str) -> Response {
    if state.timed_out(id) {
        json(410, answers::INVOKE_TIMEOUT)
    } else {
        json(
            413,
            answers::response_too_large(crate::config::MAX_RESPONSE_BYTES),
        )
    }
}

/// The end the trailers say: an error when either error trailer is present.
fn from_trailers(trailers: &HeaderMap) -> StreamPart {
    let text = |name: &str| trailers.get(name).and_then(|v| v.to_str().ok());
    let error_type = text(ERROR_TYPE_TRAILER).map(str::to_owned);
    let body = text(ERROR_BODY_TRAILER);
    if error_type.is_none() && body.is_none() {
        return StreamPart::End;
    }
    // NOTE: AWS documents the body trailer as base64 of the error JSON; one that is not
    // base64 is taken as it is.
    let body = body.map_or_else(Bytes::new, |b| {
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_or_else(|_| Bytes::copy_from_slice(b.as_bytes()), Bytes::from)
    });
    StreamPart::Failed { body, error_type }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(v) = value.parse() {
                map.insert(*name, v);
            }
        }
        map
    }

    #[test]
    fn no_error_trailer_is_a_clean_end() {
        assert!(matches!(from_trailers(&HeaderMap::new()), StreamPart::End));
    }

    #[test]
    fn error_trailers_give_the_type_and_the_decoded_body() {
        let body = base64::engine::general_purpose::STANDARD.encode(br#"{"errorType":"E"}"#);
        let part = from_trailers(&trailers(&[
            (ERROR_TYPE_TRAILER, "E"),
            (ERROR_BODY_TRAILER, &body),
        ]));
        let StreamPart::Failed { body, error_type } = part else {
            panic!("not a failure: {part:?}");
        };
        assert_eq!(error_type.as_deref(), Some("E"));
        assert_eq!(&body[..], br#"{"errorType":"E"}"#);
    }

    #[test]
    fn a_body_trailer_that_is_not_base64_is_kept_as_sent() {
        let part = from_trailers(&trailers(&[(ERROR_BODY_TRAILER, "not base64!")]));
        let StreamPart::Failed { body, error_type } = part else {
            panic!("not a failure: {part:?}");
        };
        assert_eq!(error_type, None);
        assert_eq!(&body[..], b"not base64!");
    }
}
