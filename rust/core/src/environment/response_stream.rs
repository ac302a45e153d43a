//! Following a streamed response to its end: chunks go on to the caller as they arrive (or are
//! collected for a buffered caller) while the timeout, a runtime exit and the memory limit
//! still end the invocation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::process::{ExitInfo, RuntimeProcess};
use super::run::Ended;
use super::ExecutionEnvironment;
use crate::config::MAX_RESPONSE_BYTES;
use crate::invocation::{Invocation, ResponseStream, RuntimeReply, StreamPart};

/// A buffered caller's copy of a streamed body, up to the buffered response limit.
#[derive(Default)]
struct Collected {
    parts: Vec<Bytes>,
    size: usize,
}

impl Collected {
    /// Keep `chunk`; false once the body is over the buffered limit.
    fn push(&mut self, chunk: Bytes) -> bool {
        self.size += chunk.len();
        self.parts.push(chunk);
        self.size <= MAX_RESPONSE_BYTES
    }

    fn into_body(mut self) -> Bytes {
        if self.parts.len() == 1 {
            return self.parts.pop().unwrap_or_default();
        }
        let mut body = BytesMut::with_capacity(self.size);
        for part in self.parts {
            body.extend_from_slice(&part);
        }
        body.freeze()
    }
}

/// How long a runtime whose response broke off is given to exit, so that a runtime that
/// crashed mid-body is reported as exited rather than as a truncated response.
const TRUNCATION_GRACE: Duration = Duration::from_millis(100);

impl ExecutionEnvironment {
    /// A streamed response whose body broke off (its first part may have reached the caller
    /// already, so it cannot be answered again): the runtime's exit when it exits at once (a
    /// crash mid-body), else a function error `Runtime.TruncatedResponse` (the runtime lives
    /// on and may take the next invocation).
    async fn truncated(&self, process: &RuntimeProcess) -> Ended {
        tokio::select! {
            biased;
            info = process.wait() => self.exited(info),
            () = tokio::time::sleep(TRUNCATION_GRACE) => Ended::Reply(RuntimeReply::Error {
                body: Bytes::from(crate::aws::truncated_response_payload()),
                error_type: Some(crate::aws::TRUNCATED_RESPONSE.to_owned()),
            }),
        }
    }

    /// How a runtime exit ends the invocation: out of memory, or a plain exit.
    pub(super) fn exited(&self, info: ExitInfo) -> Ended {
        if self.killed_for_memory() {
            Ended::OutOfMemory
        } else {
            Ended::Exited(info)
        }
    }

    /// Read `stream` to its end, forwarding each chunk to the invocation's `stream_to` (or
    /// collecting it), and say how the answer ended as if it had come whole.
    pub(super) async fn follow_stream(
        &self,
        stream: ResponseStream,
        inv: &Invocation,
        process: &Arc<RuntimeProcess>,
        deadline: Instant,
    ) -> Ended {
        let ResponseStream {
            content_type,
            mut parts,
        } = stream;
        let mut collected = inv.stream_to.is_none().then(Collected::default);
        if let (Some(slot), Some(declared)) = (&inv.stream_content_type, &content_type) {
            let _ = slot.set(declared.clone());
        }
        loop {
            let part = tokio::select! {
                biased;
                part = parts.recv() => part,
                info = process.wait() => return self.exited(info),
                () = self.memory_exceeded() => return Ended::OutOfMemory,
                () = tokio::time::sleep_until(deadline.into()) => return Ended::Timeout,
            };
            let chunk = match part {
                Some(StreamPart::Chunk(chunk)) => chunk,
                Some(StreamPart::End) => {
                    let body = collected.map(Collected::into_body).unwrap_or_default();
                    return Ended::Reply(RuntimeReply::Response { body, content_type });
                }
                Some(StreamPart::Failed { body, error_type }) => {
                    return Ended::Reply(RuntimeReply::Error { body, error_type });
                }
                Some(StreamPart::TooLarge) => {
                    let limit = crate::config::MAX_STREAMED_RESPONSE_BYTES;
                    return Ended::Reply(RuntimeReply::ResponseTooLarge { limit });
                }
                // The runtime's connection broke mid-body.
                None => return self.truncated(process).await,
            };
            match (&mut collected, &inv.stream_to) {
                (Some(collected), _) => {
                    // NOTE: a buffered caller gets AWS's 6 MB answer at once; dropping the
                    // stream tells the Runtime API to stop reading the body.
                    if !collected.push(chunk) {
                        let limit = MAX_RESPONSE_BYTES;
                        return Ended::Reply(RuntimeReply::ResponseTooLarge { limit });
                    }
                }
                (None, Some(sink)) => {
                    // NOTE: a caller that went away reads no more (the send fails at once);
                    // the stream still runs to its end, so that its duration and REPORT are
                    // right. A slow caller holds the runtime back, but not past its timeout.
                    tokio::select! {
                        _ = sink.send(chunk) => {}
                        () = tokio::time::sleep_until(deadline.into()) => return Ended::Timeout,
                    }
                }
                (None, None) => {}
            }
        }
    }
}
